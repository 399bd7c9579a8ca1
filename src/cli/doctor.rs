//! `dockgrade doctor`: can this machine take the course?

use std::io::{self, IsTerminal};
use std::path::Path;

use super::runtime;
use crate::catalog;
use crate::doctor;
use crate::error::Error;
use crate::exit;
use crate::report::Style;

pub(super) fn run(dir: &Path) -> Result<i32, Error> {
    // The course's exercises name more base images; without them the
    // standard ones are still checked.
    let exercises = if dir.is_dir() {
        catalog::load_dir(dir).unwrap_or_default()
    } else {
        Vec::new()
    };
    let items = runtime()?.block_on(doctor::diagnose(&exercises));
    let style = Style::for_terminal(io::stdout().is_terminal());
    print!("{}", doctor::render(&items, style));
    Ok(if items.iter().all(|i| i.ok) {
        exit::SUCCESS
    } else {
        exit::CHECK_FAILED
    })
}
