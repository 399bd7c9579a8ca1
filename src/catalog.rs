//! The course on disk: loading exercise specs and selecting among them.
//!
//! Every `*.toml` in the exercises folder is parsed, and every error of
//! every file is collected before anything is reported. An exercise's own
//! files live beside its spec, in `<id>/`; this is where that is looked up,
//! since parsing does no I/O.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::spec::{Exercise, SpecError, parse_exercise};

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
