//! What a result was computed from, as a hash: the submission's content,
//! the exercise specs and their files, and dockgrade's version. A batch run
//! again skips a student whose recorded hash is the same.

use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::spec::Exercise;

/// The most bytes of a submission hashed; past it, the hash says so and a
/// rerun grades the submission again.
const MAX_HASHED: u64 = 4 << 30;

/// The hash of what grading depends on besides the submission: dockgrade's
/// version and the selected exercises, as parsed (their whole model, so a
/// change of any check, step or fixture counts; comments and key order do
/// not) and with their own files.
pub(crate) fn course(exercises: &[Exercise]) -> String {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    for ex in exercises {
        // Where the course was read from is not what it says.
        let mut model = ex.clone();
        model.files = None;
        model.warnings.clear();
        h.update(format!("{model:?}").as_bytes());
        h.update([0]);
    }
    for ex in exercises {
        if let Some(dir) = &ex.files {
            let _ = tree(&mut h, dir, dir, &mut 0);
        }
    }
    hex(&h.finalize())
}

/// The hash of a submission (a folder, or the archive it came in) together
/// with `course`.
pub(crate) fn submission(path: &Path, course: &str) -> String {
    let mut h = Sha256::new();
    h.update(course.as_bytes());
    let mut hashed = 0;
    let complete = if path.is_dir() {
        tree(&mut h, path, path, &mut hashed)
    } else {
        file(&mut h, path, &mut hashed)
    };
    if complete.is_err() {
        // Unreadable or too large: a hash that never matches again.
        h.update(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
                .to_le_bytes(),
        );
    }
    hex(&h.finalize())
}

/// Hashes every entry under `dir`, in name order: relative name, kind,
/// content (files) or target (links).
fn tree(h: &mut Sha256, root: &Path, dir: &Path, hashed: &mut u64) -> io::Result<()> {
    let mut entries: Vec<fs::DirEntry> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let rel = path.strip_prefix(root).unwrap_or(&path);
        h.update(rel.as_os_str().as_bytes());
        h.update([0]);
        let kind = entry.file_type()?;
        if kind.is_dir() {
            h.update(b"d");
            tree(h, root, &path, hashed)?;
        } else if kind.is_symlink() {
            h.update(b"l");
            h.update(fs::read_link(&path)?.as_os_str().as_bytes());
        } else if kind.is_file() {
            h.update(b"f");
            file(h, &path, hashed)?;
        } else {
            h.update(b"?");
        }
        h.update([0]);
    }
    Ok(())
}

fn file(h: &mut Sha256, path: &Path, hashed: &mut u64) -> io::Result<()> {
    let mut f = fs::File::open(path)?;
    let mut chunk = vec![0u8; 256 << 10];
    loop {
        let n = f.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        *hashed += n as u64;
        if *hashed > MAX_HASHED {
            return Err(io::Error::other("too large to hash"));
        }
        h.update(&chunk[..n]);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_content_hashes_the_same_and_any_change_differs() {
        let a = tempfile::tempdir().expect("tempdir");
        let b = tempfile::tempdir().expect("tempdir");
        for d in [a.path(), b.path()] {
            std::fs::create_dir(d.join("sub")).expect("mkdir");
            std::fs::write(d.join("Dockerfile"), "FROM x\n").expect("write");
            std::fs::write(d.join("sub/f"), "1").expect("write");
        }
        assert_eq!(submission(a.path(), "c"), submission(b.path(), "c"));
        assert_ne!(
            submission(a.path(), "c"),
            submission(a.path(), "d"),
            "the course counts"
        );
        std::fs::write(b.path().join("sub/f"), "2").expect("write");
        assert_ne!(submission(a.path(), "c"), submission(b.path(), "c"));
        std::fs::write(b.path().join("sub/f"), "1").expect("write");
        std::fs::rename(b.path().join("sub/f"), b.path().join("sub/g")).expect("rename");
        assert_ne!(
            submission(a.path(), "c"),
            submission(b.path(), "c"),
            "names count"
        );
    }
}
