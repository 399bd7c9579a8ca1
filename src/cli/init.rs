//! `dockgrade init ID [DIR]`: a folder to start an exercise in: the starter
//! of each file to submit (from the course's `Dockerfiles/`), the files the
//! exercise gives (the course files, a git bundle, a reference Dockerfile)
//! and its generated data files, so that the tutorial's own `docker build`
//! commands work there as they are. An existing file is never overwritten:
//! running `init` again only adds what is missing.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use clap::Args;

use super::Course;
use crate::catalog;
use crate::error::Error;
use crate::exit;
use crate::spec::{Exercise, Mode};

#[derive(Debug, Args)]
pub(super) struct InitArgs {
    /// The exercise's id (see `dockgrade list`).
    id: String,
    /// The folder to write into (default: a new folder named after the
    /// exercise); files already there are kept.
    dir: Option<PathBuf>,
    #[command(flatten)]
    course: Course,
}

/// What `init` did with each file.
#[derive(Debug, Default, PartialEq, Eq)]
struct Written {
    new: Vec<String>,
    kept: Vec<String>,
}

pub(super) fn run(args: InitArgs) -> Result<i32, Error> {
    let course = args.course.locate()?;
    let all = catalog::load_dir(&course.exercises)?;
    let ex = catalog::select(all, std::slice::from_ref(&args.id), &course.exercises)?.remove(0);
    if ex.mode == Mode::Live {
        say!(
            "{} has no files to start from: it grades what you run on your own Docker.\n\
             Read the task with `dockgrade show {id}`, run its commands, then `dockgrade check {id}`.",
            ex.id,
            id = ex.id
        );
        return Ok(exit::SUCCESS);
    }
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(&ex.id));
    let failed = |source: io::Error| Error::Write {
        path: dir.clone(),
        source,
    };
    fs::create_dir_all(&dir).map_err(failed)?;
    let written = write_all(&ex, &course.starters(), &dir).map_err(failed)?;
    for f in &written.new {
        say!("  wrote {}", Path::new(&dir).join(f).display());
    }
    for f in &written.kept {
        say!(
            "  kept  {} (already there)",
            Path::new(&dir).join(f).display()
        );
    }
    let cd = if dir == Path::new(".") {
        String::new()
    } else {
        format!("cd {} && ", shell_word(&dir.display().to_string()))
    };
    say!(
        "\nThe task: dockgrade show {id}\nWhen you have edited {files}, grade it:\n  {cd}dockgrade check {id}",
        id = ex.id,
        files = ex
            .required
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(exit::SUCCESS)
}

/// Writes the starters, the exercise's files and its fixtures into `dir`.
fn write_all(ex: &Exercise, starters: &Path, dir: &Path) -> io::Result<Written> {
    let mut written = Written::default();
    for required in &ex.required {
        let starter = starters.join(required.as_str());
        if starter.is_file() {
            copy_new(
                &starter,
                &dir.join(required.as_str()),
                required.as_str(),
                &mut written,
            )?;
        }
    }
    if let Some(files) = &ex.files {
        copy_tree_new(files, dir, Path::new(""), &mut written)?;
    }
    for fixture in &ex.fixtures {
        let name = fixture.path.as_str();
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => {
                crate::stage::write_fixture_to(file, name, &fixture.content)?;
                written.new.push(name.to_string());
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                written.kept.push(name.to_string())
            }
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}

/// Copies the course's (trusted) files, links followed, adding only files
/// that are not there yet.
fn copy_tree_new(from: &Path, to: &Path, rel: &Path, written: &mut Written) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(from)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = rel.join(entry.file_name());
        let target = to.join(entry.file_name());
        let meta = fs::metadata(entry.path())?;
        if meta.is_dir() {
            fs::create_dir_all(&target)?;
            copy_tree_new(&entry.path(), &target, &name, written)?;
        } else if meta.is_file() {
            copy_new(&entry.path(), &target, &name.display().to_string(), written)?;
        }
    }
    Ok(())
}

/// Copies `from` to `to` (permissions included) unless `to` exists.
fn copy_new(from: &Path, to: &Path, name: &str, written: &mut Written) -> io::Result<()> {
    let mut target = match fs::OpenOptions::new().write(true).create_new(true).open(to) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            written.kept.push(name.to_string());
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    io::copy(&mut fs::File::open(from)?, &mut target)?;
    target.set_permissions(fs::metadata(from)?.permissions())?;
    written.new.push(name.to_string());
    Ok(())
}

/// `word` quoted for a POSIX shell when it needs to be.
fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(id: &str) -> Exercise {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("exercises");
        catalog::select(
            catalog::load_dir(&dir).expect("the course loads"),
            &[id.to_string()],
            &dir,
        )
        .expect("known")
        .remove(0)
    }

    fn starters() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfiles")
    }

    #[test]
    fn init_writes_the_starter_the_course_files_and_the_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        let written =
            write_all(&exercise("03-build-context"), &starters(), dir.path()).expect("written");
        assert!(written.kept.is_empty(), "{written:?}");
        for f in [
            "Dockerfile.02",
            "docker_tutorial/02_docker_intro/scripts/hello_docker.sh",
            "test.dat",
        ] {
            assert!(written.new.iter().any(|w| w == f), "{f} not in {written:?}");
        }
        let script = dir
            .path()
            .join("docker_tutorial/02_docker_intro/scripts/hello_docker.sh");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &fs::metadata(script).expect("script").permissions(),
        );
        assert_eq!(mode & 0o111, 0o111);
        assert_eq!(
            fs::metadata(dir.path().join("test.dat"))
                .expect("data")
                .len(),
            64_000_000
        );
    }

    #[test]
    fn init_never_overwrites() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("Dockerfile.02"), "FROM mine\n").expect("write");
        let first = write_all(&exercise("02-first-image"), &starters(), dir.path()).expect("first");
        assert_eq!(first.kept, vec!["Dockerfile.02".to_string()]);
        assert_eq!(
            fs::read_to_string(dir.path().join("Dockerfile.02")).expect("read"),
            "FROM mine\n"
        );
        let again = write_all(&exercise("02-first-image"), &starters(), dir.path()).expect("again");
        assert!(again.new.is_empty(), "{again:?}");
        assert_eq!(again.kept.len(), first.kept.len() + first.new.len());
    }

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(shell_word("02-first-image"), "02-first-image");
        assert_eq!(shell_word("my work"), "'my work'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }
}
