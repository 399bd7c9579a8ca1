//! The course on disk: finding it, loading its exercise specs and selecting
//! among them.
//!
//! The course is found the way tools find their configuration:
//! `--exercises-dir`, else `DOCKGRADE_EXERCISES`, else an `exercises/`
//! folder (holding specs) in the current directory or any parent, else the
//! course installed with the binary ([`crate::installed`]). Every `*.toml`
//! in the exercises folder is parsed, and every error of every file is
//! collected before anything is reported. An exercise's own files live
//! beside its spec, in `<id>/`; this is where that is looked up, since
//! parsing does no I/O.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::spec::{Exercise, SpecError, parse_exercise};

/// The environment variable naming the exercises folder.
pub(crate) const EXERCISES_ENV: &str = "DOCKGRADE_EXERCISES";

/// How the exercises folder was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    Flag,
    Env,
    /// `exercises/` in the current directory or a parent.
    Nearby,
    /// The course that comes with the binary.
    Installed,
}

/// The course's exercises folder, and how it was found.
#[derive(Debug, Clone)]
pub(crate) struct CourseDir {
    pub exercises: PathBuf,
    pub found: Found,
}

impl CourseDir {
    /// The starter files handed to students: `Dockerfiles/` beside the
    /// exercises folder.
    pub fn starters(&self) -> PathBuf {
        self.exercises
            .parent()
            .unwrap_or(Path::new("."))
            .join("Dockerfiles")
    }
}

/// Finds the exercises folder; `flag` is `--exercises-dir`.
pub(crate) fn locate(flag: Option<&Path>) -> Result<CourseDir, Error> {
    if let Some(dir) = flag {
        return Ok(CourseDir {
            exercises: dir.to_path_buf(),
            found: Found::Flag,
        });
    }
    let env = std::env::var_os(EXERCISES_ENV).filter(|v| !v.is_empty());
    if let Some(dir) = &env {
        return Ok(CourseDir {
            exercises: PathBuf::from(dir),
            found: Found::Env,
        });
    }
    let cwd = std::env::current_dir().ok();
    let nearby = cwd.iter().flat_map(|d| d.ancestors()).find_map(|d| {
        let dir = d.join("exercises");
        holds_specs(&dir).then_some(dir)
    });
    if let Some(dir) = nearby {
        return Ok(CourseDir {
            exercises: relative_to(&dir, cwd.as_deref()),
            found: Found::Nearby,
        });
    }
    let installed = if crate::installed::has_course() {
        match crate::installed::course_root() {
            Ok(root) => {
                return Ok(CourseDir {
                    exercises: root.join("exercises"),
                    found: Found::Installed,
                });
            }
            Err(e) => format!(
                "could not be unpacked into {}: {e}",
                crate::installed::cache_dir().display()
            ),
        }
    } else {
        "is not part of this build".to_string()
    };
    let looked: Vec<String> = cwd
        .iter()
        .flat_map(|d| d.ancestors())
        .map(|d| d.join("exercises").display().to_string())
        .collect();
    Err(Error::Usage(format!(
        "no course found. Looked at:\n  --exercises-dir: not given\n  {EXERCISES_ENV}: not set\n  \
         an exercises/ folder with specs: none of {}\n  the course installed with dockgrade: it {installed}\n\
         Name the folder of exercise specs with --exercises-dir DIR (or {EXERCISES_ENV}=DIR).",
        if looked.is_empty() {
            "(the current directory cannot be read)".to_string()
        } else {
            looked.join(", ")
        }
    )))
}

/// A folder holding at least one `*.toml`.
fn holds_specs(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "toml"))
    })
}

/// `dir` as the user would write it from `cwd` (`exercises`, `../exercises`),
/// for messages; absolute when that is shorter to say.
fn relative_to(dir: &Path, cwd: Option<&Path>) -> PathBuf {
    let Some(cwd) = cwd else {
        return dir.to_path_buf();
    };
    let mut up = PathBuf::new();
    for ancestor in cwd.ancestors() {
        if let Ok(rest) = dir.strip_prefix(ancestor) {
            let rel = up.join(rest);
            return if up.components().count() <= 3 {
                rel
            } else {
                dir.to_path_buf()
            };
        }
        up.push("..");
    }
    dir.to_path_buf()
}

/// Reads and parses every `*.toml` in `dir`, collecting all errors.
pub(crate) fn load_dir(dir: &Path) -> Result<Vec<Exercise>, Error> {
    let entries = fs::read_dir(dir).map_err(|source| Error::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    load_files(&files)
}

/// Reads and parses the given spec files, collecting all errors.
pub(crate) fn load_files(files: &[PathBuf]) -> Result<Vec<Exercise>, Error> {
    let mut exercises = Vec::new();
    let mut errors: Vec<SpecError> = Vec::new();
    for path in files {
        let text = fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        match parse_exercise(&path.display().to_string(), &text) {
            Ok(mut ex) => {
                let files = path.parent().unwrap_or(Path::new(".")).join(&ex.id);
                ex.files = files.is_dir().then_some(files);
                exercises.push(ex)
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(exercises)
    } else {
        Err(Error::Spec(errors))
    }
}

/// The exercises named in `wanted`, in that order; all of them when none
/// is named. `dir` is only for messages.
pub(crate) fn select(
    all: Vec<Exercise>,
    wanted: &[String],
    dir: &Path,
) -> Result<Vec<Exercise>, Error> {
    if wanted.is_empty() {
        if all.is_empty() {
            return Err(Error::Usage(format!(
                "no exercise specs in {}",
                dir.display()
            )));
        }
        return Ok(all);
    }
    let mut out = Vec::new();
    for id in wanted {
        match all.iter().find(|e| &e.id == id) {
            Some(e) => out.push(e.clone()),
            None => {
                let known: Vec<&str> = all.iter().map(|e| e.id.as_str()).collect();
                return Err(Error::Usage(format!(
                    "no exercise `{id}` in {} (known: {})",
                    dir.display(),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )));
            }
        }
    }
    Ok(out)
}

/// The exercises in course order: "2.2" before "10.1", then by id.
pub(crate) fn in_course_order(mut exercises: Vec<Exercise>) -> Vec<Exercise> {
    exercises.sort_by(|a, b| {
        section_key(a)
            .cmp(&section_key(b))
            .then_with(|| a.id.cmp(&b.id))
    });
    exercises
}

/// Numeric parts of the section, compared as numbers.
fn section_key(e: &Exercise) -> Vec<u32> {
    e.section
        .as_deref()
        .unwrap_or("")
        .split('.')
        .map(|p| p.parse().unwrap_or(u32::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(id: &str, section: &str) -> Exercise {
        let text = format!(
            "id = \"{id}\"\ntitle = \"t\"\nsection = \"{section}\"\n[[steps]]\nname = \"i\"\nimage = \"a:1\"\n[[checks]]\nname = \"c\"\nstep = \"i\"\nlayers = {{ max = 1 }}\n"
        );
        parse_exercise(&format!("{id}.toml"), &text).expect("parses")
    }

    #[test]
    fn sections_sort_as_numbers() {
        let sorted = in_course_order(vec![
            exercise("c", "10.1"),
            exercise("b", "2.2"),
            exercise("a", "2.2"),
        ]);
        let ids: Vec<&str> = sorted.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    #[test]
    fn an_unknown_exercise_names_the_known_ones() {
        let err =
            select(vec![exercise("a", "1")], &["b".into()], Path::new("ex")).expect_err("unknown");
        assert_eq!(err.to_string(), "no exercise `b` in ex (known: a)");
    }
}
