//! What a batch writes for each student, as each finishes, and reads back.
//!
//! `students/<folder>/` holds `report.json` (`dockgrade.report/1` with the
//! submission's hash), `report.txt` (the terminal report without colour: the
//! feedback to hand back), `junit.xml`, and `result.json`: the student's
//! row of the gradebook. Every file is written whole or not at all, and
//! `result.json` last: a student whose `result.json` is there is done, and
//! a batch run again skips them when the hash still matches. Nothing of a
//! student is kept in memory once it is written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::student::Student;
use crate::error::Error;
use crate::report::ReportFile;

/// How a student's row came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RowStatus {
    /// Every exercise was graded (whatever the score).
    Graded,
    /// Stopped at `--timeout`; what was graded by then counts.
    Timeout,
    /// The grader or the daemon failed on it: the grade cannot be trusted.
    Error,
    /// On the roster, but nothing was submitted.
    Missing,
    /// Submitted, but nothing can be graded (a refused archive…).
    Invalid,
}

impl RowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RowStatus::Graded => "graded",
            RowStatus::Timeout => "timeout",
            RowStatus::Error => "error",
            RowStatus::Missing => "missing",
            RowStatus::Invalid => "invalid",
        }
    }
}

/// One check of one exercise, passed or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CheckMark {
    pub exercise: String,
    pub check: String,
    pub passed: bool,
}

/// A student's row: `result.json`, and a line of `grades.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Row {
    pub student: Student,
    /// The folder under `students/` (ids need not be safe file names).
    pub folder: String,
    pub status: RowStatus,
    pub message: String,
    /// Points per exercise id.
    pub points: BTreeMap<String, u32>,
    pub total: u32,
    pub max: u32,
    pub checks: Vec<CheckMark>,
    /// What the result was computed from (see `digest`); none when nothing
    /// was graded.
    pub hash: Option<String>,
    pub duration_seconds: f64,
}

/// A batch's `--out` folder.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    root: PathBuf,
}

impl Store {
    pub fn create(root: &Path) -> Result<Store, Error> {
        std::fs::create_dir_all(root.join("students")).map_err(|source| Error::Write {
            path: root.to_path_buf(),
            source,
        })?;
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn student_dir(&self, folder: &str) -> PathBuf {
        self.root.join("students").join(folder)
    }

    /// The row recorded for `folder`, if a result was written.
    pub fn row(&self, folder: &str) -> Option<Row> {
        let text = std::fs::read_to_string(self.student_dir(folder).join("result.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Writes a student's reports, then their row.
    pub fn write(&self, row: &Row, reports: &[(&str, Vec<u8>)]) -> Result<(), Error> {
        let dir = self.student_dir(&row.folder);
        std::fs::create_dir_all(&dir).map_err(|source| Error::Write {
            path: dir.clone(),
            source,
        })?;
        for (name, bytes) in reports {
            ReportFile::create(&dir.join(name))?.write(bytes)?;
        }
        let json = crate::report::json::pretty(row).map_err(|source| Error::Write {
            path: dir.join("result.json"),
            source,
        })?;
        ReportFile::create(&dir.join("result.json"))?.write(&json)
    }

    /// Every row written so far, in folder order.
    pub fn rows(&self) -> Vec<Row> {
        let Ok(entries) = std::fs::read_dir(self.root.join("students")) else {
            return Vec::new();
        };
        let mut folders: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        folders.sort();
        folders.iter().filter_map(|f| self.row(f)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_read_back_as_written_and_only_once_complete() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::create(dir.path()).expect("creates");
        let row = Row {
            student: Student::new("a/b"),
            folder: "a_b-1234".into(),
            status: RowStatus::Graded,
            message: String::new(),
            points: BTreeMap::from([("ex".into(), 3)]),
            total: 3,
            max: 5,
            checks: vec![CheckMark {
                exercise: "ex".into(),
                check: "c".into(),
                passed: true,
            }],
            hash: Some("h".into()),
            duration_seconds: 1.5,
        };
        assert_eq!(store.row(&row.folder), None);
        store
            .write(&row, &[("report.txt", b"text".to_vec())])
            .expect("writes");
        assert_eq!(store.row(&row.folder), Some(row.clone()));
        assert_eq!(store.rows(), vec![row]);
        assert_eq!(
            std::fs::read(dir.path().join("students/a_b-1234/report.txt")).expect("report"),
            b"text"
        );
    }
}
