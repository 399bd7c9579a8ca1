//! The course that comes with the binary, and the user's cache it lives in.
//!
//! `build.rs` packs `exercises/` and `Dockerfiles/` into the binary, so
//! that `cargo install` alone gives a student a working course. On first
//! use the pack is unpacked into the user's cache directory, in a folder
//! named after dockgrade's version and the pack's hash: a new course never
//! mixes with an old one, and unpacking is atomic (a temporary folder
//! renamed into place), so two commands started at once both find it whole.
//! Other small state (the results `list --status` shows) lives in the same
//! cache, never in a submission.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The packed course (see `build.rs`).
static COURSE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/course.tar"));

/// dockgrade's cache: `DOCKGRADE_CACHE`, else the platform's cache directory
/// (`$XDG_CACHE_HOME/dockgrade`, `~/.cache/dockgrade`,
/// `~/Library/Caches/dockgrade`), else a folder in the temporary directory.
pub(crate) fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DOCKGRADE_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("dockgrade")
}

/// The folder of the installed course, unpacked if it is not yet: it holds
/// `exercises/` and `Dockerfiles/`.
pub(crate) fn course_root() -> io::Result<PathBuf> {
    let hash = Sha256::digest(COURSE);
    let short: String = hash[..6].iter().map(|b| format!("{b:02x}")).collect();
    let root = cache_dir().join(format!("course-{}-{short}", env!("CARGO_PKG_VERSION")));
    if root.join("exercises").is_dir() {
        return Ok(root);
    }
    let parent = root.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent)?;
    let staging = tempfile::Builder::new()
        .prefix(".course-")
        .tempdir_in(parent)?;
    tar::Archive::new(COURSE).unpack(staging.path())?;
    match fs::rename(staging.path(), &root) {
        Ok(()) => {
            // Renamed: nothing is left for the TempDir to remove.
            let _ = staging.keep();
            Ok(root)
        }
        // Another dockgrade unpacked it meanwhile.
        Err(_) if root.join("exercises").is_dir() => Ok(root),
        Err(e) => Err(e),
    }
}

/// Whether the binary carries a course at all (a build from a checkout
/// without `exercises/` does not).
pub(crate) fn has_course() -> bool {
    env!("DOCKGRADE_COURSE_FILES") != "0"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packed_course_has_specs_and_starters_and_no_solutions() {
        let mut archive = tar::Archive::new(COURSE);
        let names: Vec<String> = archive
            .entries()
            .expect("entries")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .expect("path")
                    .display()
                    .to_string()
            })
            .collect();
        assert!(names.iter().any(|n| n == "exercises/02-first-image.toml"));
        assert!(names.iter().any(|n| n == "Dockerfiles/Dockerfile.02"));
        assert!(names.iter().any(|n| n.ends_with("scripts/hello_docker.sh")));
        assert!(!names.iter().any(|n| n.starts_with("solutions")));
        assert!(has_course());
    }

    #[test]
    fn modes_survive_the_pack() {
        let mut archive = tar::Archive::new(COURSE);
        let script = archive
            .entries()
            .expect("entries")
            .map(|e| e.expect("entry"))
            .find(|e| {
                e.path()
                    .is_ok_and(|p| p.ends_with("02_docker_intro/scripts/hello_docker.sh"))
            })
            .expect("the greeting script");
        assert_eq!(script.header().mode().expect("mode") & 0o111, 0o111);
    }
}
