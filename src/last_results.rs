//! What `check` last found for each submission folder, kept in the user's
//! cache (never in the submission) so that `list --status` can show a
//! student where they stand without grading again.
//!
//! One small JSON file, `last-results.json` in [`crate::installed::cache_dir`]:
//! folder (canonical path) → exercise → points, maximum, passed, when. It is
//! rewritten whole (a temporary file renamed over it), keeps the most
//! recently graded folders only, and a file that cannot be read is simply
//! started afresh: it is a convenience, never a record.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::check::Status;
use crate::event::ExerciseResult;

/// Folders remembered, most recent first.
const MAX_FOLDERS: usize = 200;

/// One exercise's last grade in one folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LastResult {
    pub points: u32,
    pub max_points: u32,
    /// Every check passed.
    pub passed: bool,
    /// Seconds since the Unix epoch.
    pub when: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Folder {
    graded: u64,
    exercises: BTreeMap<String, LastResult>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Store {
    folders: BTreeMap<String, Folder>,
}

fn file() -> PathBuf {
    crate::installed::cache_dir().join("last-results.json")
}

fn key(folder: &Path) -> String {
    folder
        .canonicalize()
        .unwrap_or_else(|_| folder.to_path_buf())
        .display()
        .to_string()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn load(path: &Path) -> Store {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Remembers what a `check` of `folder` found. Failing to is not an error
/// of the grading: it is said in the log and forgotten.
pub(crate) fn remember(folder: &Path, results: &[ExerciseResult]) {
    if results.is_empty() {
        return;
    }
    if let Err(e) = remember_in(&file(), folder, results, now()) {
        tracing::debug!("could not remember the results: {e}");
    }
}

fn remember_in(
    path: &Path,
    folder: &Path,
    results: &[ExerciseResult],
    when: u64,
) -> std::io::Result<()> {
    let mut store = load(path);
    let entry = store.folders.entry(key(folder)).or_default();
    entry.graded = when;
    for r in results {
        entry.exercises.insert(
            r.id.clone(),
            LastResult {
                points: r.points,
                max_points: r.max_points,
                passed: r.outcomes.iter().all(|o| o.status == Status::Passed),
                when,
            },
        );
    }
    if store.folders.len() > MAX_FOLDERS {
        let mut by_age: Vec<(u64, String)> = store
            .folders
            .iter()
            .map(|(k, f)| (f.graded, k.clone()))
            .collect();
        by_age.sort();
        for (_, k) in by_age.iter().take(store.folders.len() - MAX_FOLDERS) {
            store.folders.remove(k);
        }
    }
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let mut temp = tempfile::NamedTempFile::new_in(parent)?;
    serde_json::to_writer(&mut temp, &store)?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The last results of `folder`, by exercise.
pub(crate) fn of(folder: &Path) -> BTreeMap<String, LastResult> {
    of_in(&file(), folder)
}

fn of_in(path: &Path, folder: &Path) -> BTreeMap<String, LastResult> {
    load(path)
        .folders
        .remove(&key(folder))
        .map(|f| f.exercises)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::check::Outcome;

    fn result(id: &str, points: u32, statuses: &[Status]) -> ExerciseResult {
        ExerciseResult {
            id: id.into(),
            title: id.into(),
            section: None,
            points,
            max_points: 10,
            duration: Duration::ZERO,
            steps: Vec::new(),
            outcomes: statuses
                .iter()
                .map(|s| Outcome::synthetic("c", *s, String::new(), None))
                .collect(),
        }
    }

    #[test]
    fn results_are_remembered_per_folder_and_exercise() {
        let cache = tempfile::tempdir().expect("tempdir");
        let file = cache.path().join("last-results.json");
        let (a, b) = (
            tempfile::tempdir().expect("a"),
            tempfile::tempdir().expect("b"),
        );
        remember_in(&file, a.path(), &[result("02", 10, &[Status::Passed])], 1).expect("saved");
        remember_in(
            &file,
            a.path(),
            &[result("03", 4, &[Status::Passed, Status::Failed])],
            2,
        )
        .expect("saved");
        let seen = of_in(&file, a.path());
        assert!(seen["02"].passed && seen["02"].points == 10);
        assert!(!seen["03"].passed && seen["03"].points == 4);
        assert!(of_in(&file, b.path()).is_empty(), "another folder");
    }

    #[test]
    fn an_unreadable_file_starts_afresh_and_old_folders_go() {
        let cache = tempfile::tempdir().expect("tempdir");
        let file = cache.path().join("last-results.json");
        std::fs::write(&file, "not json").expect("write");
        let dirs: Vec<_> = (0..MAX_FOLDERS + 2)
            .map(|_| tempfile::tempdir().expect("dir"))
            .collect();
        for (i, d) in dirs.iter().enumerate() {
            remember_in(
                &file,
                d.path(),
                &[result("x", 1, &[Status::Passed])],
                i as u64,
            )
            .expect("saved");
        }
        assert!(
            of_in(&file, dirs[0].path()).is_empty(),
            "the oldest is gone"
        );
        assert!(!of_in(&file, dirs[MAX_FOLDERS + 1].path()).is_empty());
        assert_eq!(load(&file).folders.len(), MAX_FOLDERS);
    }
}
