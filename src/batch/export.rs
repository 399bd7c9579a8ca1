//! A batch's grades in the import formats of the LMSs courses keep their
//! gradebook in (no I/O: the caller reads `batch.json` and the roster).
//!
//! - Canvas: the gradebook import, the same columns as the CSV Canvas
//!   exports (`Student, ID, SIS User ID, SIS Login ID, Section,
//!   <Assignment>`) with a `Points Possible` row. Students are matched to
//!   Canvas's own export (the roster) by their id against the SIS Login ID
//!   (or its part before `@`) or the SIS User ID, when exactly one Canvas
//!   student has it (never Canvas's numeric ID); a Canvas
//!   student with no row is left blank (Canvas then changes nothing).
//! - Moodle: a CSV for "Import grades from CSV", mapped in Moodle by an
//!   identity column (`email`, `idnumber` or `username`), with the grade and
//!   a feedback text (points per exercise: never check names, which may be
//!   hidden ones).
//!
//! Every cell that comes from a submission or a roster is made text when it
//! looks like a spreadsheet formula.

use super::gradebook::Batch;
use super::store::Row;
use super::student::csv_cell;

/// A student of Canvas's own gradebook export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CanvasStudent {
    pub name: String,
    pub id: String,
    pub sis_user_id: String,
    pub sis_login_id: String,
    pub section: String,
}

/// The students of Canvas's gradebook export (its `Points Possible` row
/// and the test student skipped).
pub(crate) fn canvas_roster(input: impl std::io::Read) -> Result<Vec<CanvasStudent>, String> {
    let (mut reader, headers) = super::roster::csv_with_headers(input)?;
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (Some(name), Some(id)) = (column("student"), column("id")) else {
        return Err("not a Canvas gradebook export: no `Student` and `ID` columns".into());
    };
    let (sis_user, sis_login, section) = (
        column("sis user id"),
        column("sis login id"),
        column("section"),
    );
    let mut students = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("row {}: {e}", i + 2))?;
        let get = |c: Option<usize>| {
            c.and_then(|c| record.get(c))
                .unwrap_or_default()
                .to_string()
        };
        let student = CanvasStudent {
            name: get(Some(name)),
            id: get(Some(id)),
            sis_user_id: get(sis_user),
            sis_login_id: get(sis_login),
            section: get(section),
        };
        if student.name.eq_ignore_ascii_case("points possible")
            || student.name.eq_ignore_ascii_case("student, test")
            || student.id.is_empty()
        {
            continue;
        }
        students.push(student);
    }
    Ok(students)
}

/// Whether the batch's `row` names Canvas's `student`: by SIS Login ID,
/// SIS User ID, or the login's part before `@`. Canvas's own numeric ID is
/// not used (a student number could equal another student's).
fn names(row: &Row, student: &CanvasStudent) -> bool {
    let id = row.student.id.to_lowercase();
    let login = student.sis_login_id.to_lowercase();
    [
        login.as_str(),
        login.split('@').next().unwrap_or_default(),
        &student.sis_user_id.to_lowercase(),
    ]
    .iter()
    .any(|candidate| !candidate.is_empty() && *candidate == id)
}

/// Whether `row` is `student`, and no other Canvas student: an id that
/// names two (`jdoe` at two domains) matches nobody, and is reported.
fn same_student(row: &Row, student: &CanvasStudent, roster: &[CanvasStudent]) -> bool {
    names(row, student) && roster.iter().filter(|s| names(row, s)).count() == 1
}

/// The Canvas import, and the batch's students Canvas does not know.
pub(crate) fn canvas(
    batch: &Batch,
    roster: &[CanvasStudent],
    assignment: &str,
) -> Result<(Vec<u8>, Vec<String>), csv::Error> {
    let max: u32 = batch.exercises.iter().map(|e| e.max_points).sum();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        &csv_cell(assignment),
    ])?;
    w.write_record(["    Points Possible", "", "", "", "", &max.to_string()])?;
    for student in roster {
        let score = batch
            .students
            .iter()
            .find(|row| same_student(row, student, roster))
            .map(|row| row.total.to_string())
            .unwrap_or_default();
        w.write_record([
            csv_cell(&student.name),
            csv_cell(&student.id),
            csv_cell(&student.sis_user_id),
            csv_cell(&student.sis_login_id),
            csv_cell(&student.section),
            score,
        ])?;
    }
    let unknown = batch
        .students
        .iter()
        .filter(|row| !roster.iter().any(|s| same_student(row, s, roster)))
        .map(|row| row.student.id.clone())
        .collect();
    let bytes = w
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok((bytes, unknown))
}

/// How Moodle maps a row to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Identity {
    Email,
    Idnumber,
    Username,
}

/// The Moodle import, and the students with no value for the identity.
pub(crate) fn moodle(
    batch: &Batch,
    identity: Identity,
) -> Result<(Vec<u8>, Vec<String>), csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let column = match identity {
        Identity::Email => "email",
        Identity::Idnumber => "idnumber",
        Identity::Username => "username",
    };
    w.write_record([column, "grade", "feedback"])?;
    let mut unmatched = Vec::new();
    for row in &batch.students {
        let who = match identity {
            Identity::Email => row
                .student
                .email
                .clone()
                .or_else(|| row.student.id.contains('@').then(|| row.student.id.clone())),
            Identity::Idnumber | Identity::Username => Some(row.student.id.clone()),
        };
        let Some(who) = who else {
            unmatched.push(row.student.id.clone());
            continue;
        };
        let per_exercise: Vec<String> = batch
            .exercises
            .iter()
            .map(|e| {
                let got = row.points.get(&e.id).copied().unwrap_or(0);
                format!("{} {got}/{}", e.id, e.max_points)
            })
            .collect();
        let feedback = format!(
            "{}/{} points ({}): {}",
            row.total,
            row.max,
            row.status.as_str(),
            per_exercise.join(", ")
        );
        w.write_record([csv_cell(&who), row.total.to_string(), csv_cell(&feedback)])?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok((bytes, unmatched))
}

#[cfg(test)]
#[path = "export_tests.rs"]
mod tests;
