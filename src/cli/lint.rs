//! `dockgrade lint`: every error of every spec, without a daemon.

use std::path::{Path, PathBuf};

use crate::catalog;
use crate::error::Error;
use crate::exit;

pub(super) fn run(files: &[PathBuf], dir: &Path) -> Result<i32, Error> {
    let exercises = if files.is_empty() {
        catalog::load_dir(dir)?
    } else {
        catalog::load_files(files)?
    };
    println!("{} exercise spec(s) OK", exercises.len());
    Ok(exit::SUCCESS)
}
