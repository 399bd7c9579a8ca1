//! `dockgrade clean`: remove everything of dockgrade's a killed run left.

use super::runtime;
use crate::engine::Engine;
use crate::error::Error;
use crate::exit;
use crate::names::{self, LABEL};

pub(super) fn run() -> Result<i32, Error> {
    runtime()?.block_on(async {
        let engine = Engine::connect(&names::new_run_id()).await?;
        let report = engine.clean_all().await;
        println!(
            "removed {} container(s), {} image(s), {} volume(s) labelled {LABEL}",
            report.containers, report.images, report.volumes,
        );
        for f in &report.failures {
            eprintln!("could not remove {f}");
        }
        Ok(if report.failures.is_empty() {
            exit::SUCCESS
        } else {
            exit::INFRASTRUCTURE
        })
    })
}
