//! The LMS imports from a batch: Canvas matched through its own export,
//! Moodle by the identity asked for, formula-looking cells made text.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::batch::gradebook::ExerciseColumn;
use crate::batch::shard::Shard;
use crate::batch::store::RowStatus;
use crate::batch::student::Student;

fn row(id: &str, email: Option<&str>, points: u32, status: RowStatus) -> Row {
    Row {
        student: Student {
            email: email.map(str::to_string),
            ..Student::new(id)
        },
        folder: id.to_string(),
        status,
        message: String::new(),
        points: BTreeMap::from([("02-first-image".to_string(), points)]),
        total: points,
        max: 10,
        checks: Vec::new(),
        hash: None,
        duration_seconds: 1.0,
    }
}

fn batch() -> Batch {
    Batch::new(
        "course".into(),
        vec![ExerciseColumn {
            id: "02-first-image".into(),
            title: "Build your first image".into(),
            max_points: 10,
            checks: vec!["a secret check".into()],
        }],
        Shard::ALL,
        None,
        Duration::from_secs(3),
        Vec::new(),
        vec![
            row("alice", Some("alice@uni.example"), 10, RowStatus::Graded),
            row("bob", None, 4, RowStatus::Graded),
            row("=cmd|' /C calc'!A0", None, 0, RowStatus::Missing),
        ],
    )
}

/// Canvas's gradebook export, as it downloads it.
const CANVAS: &str = "\u{feff}Student,ID,SIS User ID,SIS Login ID,Section,Docker lab 1 (123)\n\
    Points Possible,,,,,10\n\
    \"Liddell, Alice\",1001,S-17,alice@uni.example,Lab A,\n\
    \"Builder, Bob\",1002,bob,bob@uni.example,Lab B,\n\
    \"Nobody, Carol\",1003,S-19,carol@uni.example,Lab A,\n\
    \"Student, Test\",1004,,,,\n";

#[test]
fn canvas_import_matches_students_through_canvas_s_export() {
    let roster = canvas_roster(CANVAS.as_bytes()).expect("roster");
    assert_eq!(roster.len(), 3, "{roster:?}");
    let (bytes, unknown) = canvas(&batch(), &roster, "Docker lab 1").expect("csv");
    let text = String::from_utf8(bytes).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "Student,ID,SIS User ID,SIS Login ID,Section,Docker lab 1"
    );
    assert_eq!(lines[1], "    Points Possible,,,,,10");
    assert_eq!(
        lines[2],
        "\"Liddell, Alice\",1001,S-17,alice@uni.example,Lab A,10"
    );
    assert_eq!(
        lines[3],
        "\"Builder, Bob\",1002,bob,bob@uni.example,Lab B,4"
    );
    assert_eq!(
        lines[4],
        "\"Nobody, Carol\",1003,S-19,carol@uni.example,Lab A,"
    );
    assert_eq!(unknown, vec!["=cmd|' /C calc'!A0".to_string()]);
}

#[test]
fn a_file_that_is_not_canvas_s_export_is_refused() {
    let err = canvas_roster("id,name\n1,a\n".as_bytes()).expect_err("not Canvas");
    assert!(err.contains("Canvas"), "{err}");
}

#[test]
fn moodle_import_by_each_identity() {
    let (bytes, unmatched) = moodle(&batch(), Identity::Email).expect("csv");
    let text = String::from_utf8(bytes).expect("utf-8");
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            "email,grade,feedback",
            "alice@uni.example,10,10/10 points (graded): 02-first-image 10/10",
        ]
    );
    assert_eq!(
        unmatched,
        vec!["=cmd|' /C calc'!A0".to_string(), "bob".to_string()]
    );
    let (bytes, unmatched) = moodle(&batch(), Identity::Username).expect("csv");
    let text = String::from_utf8(bytes).expect("utf-8");
    assert!(text.starts_with("username,grade,feedback\n"), "{text}");
    assert!(
        text.contains("'=cmd|' /C calc'!A0,0,0/10 points (missing)"),
        "{text}"
    );
    assert!(!text.contains("secret"), "no check names: {text}");
    assert!(unmatched.is_empty());
}
