//! `dockgrade lint`: every error of every spec, without a daemon.

use std::path::PathBuf;

use super::Course;

use crate::catalog;
use crate::error::Error;
use crate::exit;

pub(super) fn run(files: &[PathBuf], course: &Course) -> Result<i32, Error> {
    let exercises = if files.is_empty() {
        catalog::load_dir(&course.dir()?)?
    } else {
        catalog::load_files(files)?
    };
    let warnings: Vec<_> = exercises.iter().flat_map(|e| &e.warnings).collect();
    for w in &warnings {
        eprint!("{}", w.render_as("warning"));
    }
    say!(
        "{} exercise spec(s) OK, {} warning(s)",
        exercises.len(),
        warnings.len()
    );
    Ok(exit::SUCCESS)
}
