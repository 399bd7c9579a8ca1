//! `dockgrade list`: the exercises by section, with their points.

use std::io::{self, Write};
use std::path::Path;

use crate::catalog;
use crate::error::Error;
use crate::exit;

pub(super) fn run(dir: &Path) -> Result<i32, Error> {
    let exercises = catalog::in_course_order(catalog::load_dir(dir)?);
    let width = exercises.iter().map(|e| e.id.len()).max().unwrap_or(2);
    let mut out = io::stdout().lock();
    let _ = writeln!(
        out,
        "{:<8} {:<width$}  {:>6}  TITLE",
        "SECTION", "ID", "POINTS"
    );
    for e in &exercises {
        let _ = writeln!(
            out,
            "{:<8} {:<width$}  {:>6}  {}",
            e.section.as_deref().unwrap_or("-"),
            e.id,
            e.max_points(),
            e.title
        );
    }
    Ok(exit::SUCCESS)
}
