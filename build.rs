//! Packs the course a student gets with the binary: `exercises/` (specs and
//! the files they add) and `Dockerfiles/` (the starters), never
//! `solutions/`. A tar, so that file modes survive (the course's greeting
//! script must stay executable); links are followed, entries sorted and
//! timestamps zeroed, so the same course packs to the same bytes. The
//! binary unpacks it on first use (`src/installed.rs`).

use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("out dir")).join("course.tar");
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(true);
    let mut files = 0;
    for top in ["exercises", "Dockerfiles"] {
        println!("cargo:rerun-if-changed={top}");
        let dir = root.join(top);
        if dir.is_dir() {
            files += add(&mut tar, &dir, Path::new(top));
        }
    }
    let bytes = tar.into_inner().expect("course tar");
    fs::write(&out, bytes).expect("write course.tar");
    println!("cargo:rustc-env=DOCKGRADE_COURSE_FILES={files}");
}

/// Packs `dir` as `name`; returns how many files it packed.
fn add(tar: &mut tar::Builder<Vec<u8>>, dir: &Path, name: &Path) -> usize {
    let mut files = 0;
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("read course folder")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let rel = name.join(path.file_name().expect("file name"));
        // Links are followed: the course shares files between exercises.
        let meta = fs::metadata(&path).expect("course file");
        if meta.is_dir() {
            files += add(tar, &path, &rel);
        } else if meta.is_file() {
            let mut header = tar::Header::new_gnu();
            header.set_size(meta.len());
            header.set_mode(if is_executable(&meta) { 0o755 } else { 0o644 });
            header.set_mtime(0);
            header.set_entry_type(tar::EntryType::Regular);
            let file = fs::File::open(&path).expect("open course file");
            tar.append_data(&mut header, &rel, file)
                .expect("pack course file");
            files += 1;
        }
    }
    files
}

#[cfg(unix)]
fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &fs::Metadata) -> bool {
    false
}
