//! Staging: the view of a submission that grading reads, without touching it.
//!
//! dockgrade never writes into a student's folder. When an exercise adds
//! files of its own (`exercises/<id>/`) or generates fixtures (a 64 MB data
//! file, say), they go into a private temporary folder layered over the
//! submission: builds and bind mounts see the submission with those files
//! added ([`crate::context::collect_layered`]). Nothing of the student's is
//! copied, so a huge file in their folder costs nothing until (and unless)
//! it would be sent. The private folder is removed when the `Stage` is
//! dropped, whether grading finished or was cut short.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::spec::{Exercise, FixtureContent};

#[derive(Debug)]
pub struct Stage {
    submission: PathBuf,
    overlay: Option<tempfile::TempDir>,
    /// A private copy of the exercise's files, links followed, for
    /// reference builds (which read nothing of the student's).
    exercise_files: Option<tempfile::TempDir>,
}

impl Stage {
    /// Lays the exercise's files and fixtures over `submission`.
    pub fn prepare(exercise: &Exercise, submission: &Path) -> io::Result<Stage> {
        let source = exercise.files.clone().filter(|d| d.is_dir());
        let exercise_files = match &source {
            Some(files) => {
                let copy = tempfile::Builder::new()
                    .prefix("dockgrade-exercise-")
                    .tempdir()?;
                copy_tree(files, copy.path())?;
                Some(copy)
            }
            None => None,
        };
        let overlay = if source.is_some() || !exercise.fixtures.is_empty() {
            let dir = tempfile::Builder::new()
                .prefix("dockgrade-stage-")
                .tempdir()?;
            if let Some(files) = &source {
                copy_tree(files, dir.path())?;
            }
            for fixture in &exercise.fixtures {
                let path = dir.path().join(fixture.path.as_str());
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent)?;
                }
                write_fixture(&path, fixture.path.as_str(), &fixture.content)?;
            }
            Some(dir)
        } else {
            None
        };
        Ok(Stage {
            submission: submission.to_path_buf(),
            overlay,
            exercise_files,
        })
    }

    /// The layers a submission build or mount reads, lowest first.
    pub fn roots(&self) -> Vec<&Path> {
        let mut roots = vec![self.submission.as_path()];
        roots.extend(self.overlay.as_ref().map(|d| d.path()));
        roots
    }

    /// The exercise's own files, for reference builds.
    pub fn exercise_files(&self) -> Option<&Path> {
        self.exercise_files.as_ref().map(|d| d.path())
    }
}

/// Copies the exercise's (trusted) files, following links within them.
fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let meta = fs::metadata(entry.path())?;
        if meta.is_dir() {
            fs::create_dir_all(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else if meta.is_file() {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Writes a fixture. Random content is a fixed pseudo-random sequence seeded
/// by the path: incompressible like real data, and the same on every run so
/// builds stay cacheable.
fn write_fixture(path: &Path, name: &str, content: &FixtureContent) -> io::Result<()> {
    write_fixture_to(fs::File::create(path)?, name, content)
}

/// Writes a fixture's content into `file` (see [`write_fixture`]); `init`
/// gives it a file it created new, so nothing is ever overwritten.
pub(crate) fn write_fixture_to(
    mut file: fs::File,
    name: &str,
    content: &FixtureContent,
) -> io::Result<()> {
    match content {
        FixtureContent::Text(text) => file.write_all(text.as_bytes()),
        FixtureContent::Zeros(n) => file.set_len(*n),
        FixtureContent::Random(n) => {
            let mut state = name.bytes().fold(0x9e37_79b9_7f4a_7c15_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
            let mut out = io::BufWriter::with_capacity(1 << 20, file);
            let mut left = *n;
            let mut chunk = vec![0u8; 1 << 16];
            while left > 0 {
                for word in chunk.chunks_mut(8) {
                    // xorshift64*
                    state ^= state >> 12;
                    state ^= state << 25;
                    state ^= state >> 27;
                    let v = state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
                    word.copy_from_slice(&v[..word.len()]);
                }
                let take = left.min(chunk.len() as u64) as usize;
                out.write_all(&chunk[..take])?;
                left -= take as u64;
            }
            out.flush()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Fixture, RelPath};

    fn exercise(files: Option<PathBuf>, fixtures: Vec<Fixture>) -> Exercise {
        let mut ex = crate::spec::parse_exercise(
            "x.toml",
            "id = \"x\"\ntitle = \"x\"\n[[steps]]\nname = \"i\"\nimage = \"a:1\"\n[[checks]]\nname = \"c\"\nstep = \"i\"\nlayers = { max = 1 }\n",
        )
        .expect("parses");
        ex.files = files;
        ex.fixtures = fixtures;
        ex
    }

    #[test]
    fn nothing_to_add_means_no_private_folder() {
        let sub = tempfile::tempdir().expect("tempdir");
        let stage = Stage::prepare(&exercise(None, vec![]), sub.path()).expect("prepares");
        assert_eq!(stage.roots(), vec![sub.path()]);
    }

    #[test]
    fn fixtures_and_exercise_files_are_layered_and_removed_afterwards() {
        let sub = tempfile::tempdir().expect("tempdir");
        let files = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(files.path().join("course")).expect("mkdir");
        fs::write(files.path().join("course/hello.sh"), "echo hi").expect("write");
        let fixtures = vec![
            Fixture {
                path: RelPath::new("data/test.dat").expect("path"),
                content: FixtureContent::Random(100_003),
            },
            Fixture {
                path: RelPath::new("note.txt").expect("path"),
                content: FixtureContent::Text("hi".into()),
            },
        ];
        let stage = Stage::prepare(
            &exercise(Some(files.path().to_path_buf()), fixtures),
            sub.path(),
        )
        .expect("prepares");
        let roots = stage.roots();
        assert_eq!(roots.len(), 2);
        let overlay = roots[1].to_path_buf();
        let data = fs::read(overlay.join("data/test.dat")).expect("fixture");
        assert_eq!(data.len(), 100_003);
        assert!(
            data.iter().filter(|b| **b == 0).count() < 2_000,
            "random, not zeros"
        );
        assert_eq!(
            fs::read_to_string(overlay.join("course/hello.sh")).expect("copied"),
            "echo hi"
        );
        assert_eq!(
            fs::read_dir(sub.path()).expect("read").count(),
            0,
            "the submission is untouched"
        );
        drop(stage);
        assert!(!overlay.exists(), "the private folder is removed");
    }
}
