//! The class's files, made from the students' rows: `grades.csv` (for a
//! spreadsheet or an LMS import), `summary.md` (the class at a glance, on
//! GitHub or in a CI step summary) and `batch.json` (the same as data,
//! `dockgrade.batch/1`, which `merge` reads).
//!
//! Every value that comes from a submission or a roster (ids, names,
//! messages) is escaped for each format: a formula-looking CSV cell is made
//! text, Markdown's markup and line breaks are escaped, JSON is serialised.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::layout::Layout;
use super::shard::Shard;
use super::store::{Row, RowStatus};
use super::student::csv_cell;
use crate::spec::Exercise;
use crate::units::{format_duration, seconds};

pub(crate) const SCHEMA: &str = "dockgrade.batch/1";

/// An exercise as the gradebook names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ExerciseColumn {
    pub id: String,
    pub title: String,
    pub max_points: u32,
    pub checks: Vec<String>,
}

impl ExerciseColumn {
    pub fn of(ex: &Exercise) -> ExerciseColumn {
        ExerciseColumn {
            id: ex.id.clone(),
            title: ex.title.clone(),
            max_points: ex.max_points(),
            checks: ex.checks.iter().map(|c| c.name.clone()).collect(),
        }
    }
}

/// `batch.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Batch {
    pub schema: String,
    pub version: String,
    /// What the grades were computed with (see `digest::course`).
    pub course: String,
    pub exercises: Vec<ExerciseColumn>,
    pub shard: Shard,
    pub layout: Option<Layout>,
    pub duration_seconds: f64,
    pub warnings: Vec<String>,
    pub students: Vec<Row>,
}

impl Batch {
    pub fn new(
        course: String,
        exercises: Vec<ExerciseColumn>,
        shard: Shard,
        layout: Option<Layout>,
        duration: Duration,
        warnings: Vec<String>,
        mut students: Vec<Row>,
    ) -> Batch {
        students.sort_by(|a, b| a.student.id.cmp(&b.student.id));
        Batch {
            schema: SCHEMA.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            course,
            exercises,
            shard,
            layout,
            duration_seconds: seconds(duration),
            warnings,
            students,
        }
    }
}

/// The `batch.json` of a batch's `--out` folder `dir`.
pub(crate) fn read_batch(dir: &std::path::Path) -> Result<Batch, crate::error::Error> {
    use crate::error::Error;
    let path = dir.join("batch.json");
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
        path: path.clone(),
        source,
    })?;
    let batch: Batch = serde_json::from_str(&text)
        .map_err(|e| Error::Usage(format!("{}: not a batch's results: {e}", path.display())))?;
    if batch.schema != SCHEMA {
        return Err(Error::Usage(format!(
            "{}: schema {:?}, expected {SCHEMA}",
            path.display(),
            batch.schema
        )));
    }
    Ok(batch)
}

/// `grades.csv`: a row per student, sorted by student.
pub(crate) fn grades_csv(batch: &Batch) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["student".to_string()];
    header.extend(
        batch
            .exercises
            .iter()
            .map(|e| format!("{} ({})", e.id, e.max_points)),
    );
    header.extend(["total", "max", "percent", "status", "message"].map(String::from));
    w.write_record(&header)?;
    for row in &batch.students {
        let mut record = vec![csv_cell(&row.student.id)];
        for e in &batch.exercises {
            record.push(row.points.get(&e.id).copied().unwrap_or(0).to_string());
        }
        record.push(row.total.to_string());
        record.push(row.max.to_string());
        record.push(format!("{:.1}", percent(row.total, row.max)));
        record.push(row.status.as_str().to_string());
        record.push(csv_cell(&row.message));
        w.write_record(&record)?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

fn percent(points: u32, max: u32) -> f64 {
    if max == 0 {
        0.0
    } else {
        f64::from(points) * 100.0 / f64::from(max)
    }
}

/// Text from a submission or roster, safe in Markdown: no markup, no line
/// breaks, no HTML.
pub(crate) fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~' | '!' | '&' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out
}

/// The rows whose points can be trusted for class statistics.
fn scored(batch: &Batch) -> Vec<&Row> {
    batch
        .students
        .iter()
        .filter(|r| matches!(r.status, RowStatus::Graded | RowStatus::Timeout))
        .collect()
}

/// `summary.md`: the class at a glance.
pub(crate) fn summary_md(batch: &Batch) -> String {
    let mut out = String::new();
    let count = |s: RowStatus| batch.students.iter().filter(|r| r.status == s).count();
    let scored = scored(batch);
    out.push_str(&format!(
        "# Batch: {} students\n\n| graded | timeout | error | invalid | missing |\n|---:|---:|---:|---:|---:|\n| {} | {} | {} | {} | {} |\n\n",
        batch.students.len(),
        count(RowStatus::Graded),
        count(RowStatus::Timeout),
        count(RowStatus::Error),
        count(RowStatus::Invalid),
        count(RowStatus::Missing),
    ));
    out.push_str(&format!(
        "## Per exercise ({} graded submissions)\n\n| exercise | max | mean | median | full marks |\n|---|---:|---:|---:|---:|\n",
        scored.len()
    ));
    for e in &batch.exercises {
        let mut points: Vec<u32> = scored
            .iter()
            .map(|r| r.points.get(&e.id).copied().unwrap_or(0))
            .collect();
        points.sort_unstable();
        let mean = if points.is_empty() {
            0.0
        } else {
            f64::from(points.iter().sum::<u32>()) / points.len() as f64
        };
        let full = points.iter().filter(|&&p| p == e.max_points).count();
        out.push_str(&format!(
            "| {} | {} | {mean:.1} | {} | {full} |\n",
            md(&e.id),
            e.max_points,
            median(&points)
        ));
    }
    out.push_str(&checks_section(batch, &scored));
    out.push_str(&trouble_section(batch));
    out.push_str(&format!(
        "\nShard {}; this run took {}.\n",
        batch.shard,
        format_duration(Duration::from_secs_f64(batch.duration_seconds.max(0.0)))
    ));
    out
}

fn median(sorted: &[u32]) -> String {
    match sorted.len() {
        0 => "0".to_string(),
        n if n % 2 == 1 => sorted[n / 2].to_string(),
        n => format!("{:.1}", f64::from(sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The pass rate of every check, worst first: what the class did not get.
fn checks_section(batch: &Batch, scored: &[&Row]) -> String {
    let mut rates: Vec<(f64, usize, &str, &str)> = Vec::new();
    for e in &batch.exercises {
        for check in &e.checks {
            let passed = scored
                .iter()
                .filter(|r| {
                    r.checks
                        .iter()
                        .any(|m| m.exercise == e.id && &m.check == check && m.passed)
                })
                .count();
            let rate = if scored.is_empty() {
                0.0
            } else {
                passed as f64 / scored.len() as f64
            };
            rates.push((rate, passed, &e.id, check));
        }
    }
    rates.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.2.cmp(b.2)));
    let mut out = String::from(
        "\n## Checks, worst first\n\n| check | exercise | passed | rate |\n|---|---|---:|---:|\n",
    );
    for (rate, passed, ex, check) in rates {
        out.push_str(&format!(
            "| {} | {} | {passed}/{} | {:.0}% |\n",
            md(check),
            md(ex),
            scored.len(),
            rate * 100.0
        ));
    }
    out
}

/// The students whose grade is not a plain one.
fn trouble_section(batch: &Batch) -> String {
    let troubled: Vec<&Row> = batch
        .students
        .iter()
        .filter(|r| {
            matches!(
                r.status,
                RowStatus::Error | RowStatus::Timeout | RowStatus::Invalid
            )
        })
        .collect();
    if troubled.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n## Errors, timeouts and refused submissions\n\n");
    for r in troubled {
        out.push_str(&format!(
            "- {} ({}): {}\n",
            md(&r.student.id),
            r.status.as_str(),
            md(&r.message)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use crate::batch::store::CheckMark;
    use crate::batch::student::Student;

    fn row(id: &str, status: RowStatus, points: u32, passed: bool) -> Row {
        Row {
            student: Student::new(id),
            folder: id.into(),
            status,
            message: if status == RowStatus::Graded {
                String::new()
            } else {
                "=cmd|' /C calc'!A0\nsecond line".into()
            },
            points: BTreeMap::from([("ex".into(), points)]),
            total: points,
            max: 4,
            checks: vec![CheckMark {
                exercise: "ex".into(),
                check: "builds".into(),
                passed,
            }],
            hash: None,
            duration_seconds: 1.0,
        }
    }

    fn batch() -> Batch {
        Batch::new(
            "c".into(),
            vec![ExerciseColumn {
                id: "ex".into(),
                title: "Ex".into(),
                max_points: 4,
                checks: vec!["builds".into()],
            }],
            Shard::ALL,
            Some(Layout::Folders),
            Duration::from_secs(90),
            Vec::new(),
            vec![
                row("zoe", RowStatus::Graded, 4, true),
                row("=1+1", RowStatus::Graded, 0, false),
                row("ann", RowStatus::Missing, 0, false),
                row("bo|b", RowStatus::Timeout, 2, true),
            ],
        )
    }

    #[test]
    fn the_csv_is_sorted_and_no_cell_is_a_formula() {
        let csv = String::from_utf8(grades_csv(&batch()).expect("writes")).expect("utf-8");
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "student,ex (4),total,max,percent,status,message");
        assert!(lines[1].starts_with("'=1+1,0,0,4,0.0,graded,"), "{csv}");
        assert!(
            lines[2].starts_with("ann,0,0,4,0.0,missing,\"'=cmd"),
            "{csv}"
        );
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        assert_eq!(
            reader.records().count(),
            4,
            "the newline stays inside its cell"
        );
    }

    #[test]
    fn the_summary_shows_the_class_and_escapes_what_it_quotes() {
        let md_text = summary_md(&batch());
        assert!(md_text.contains("| 2 | 1 | 0 | 0 | 1 |"), "{md_text}");
        assert!(md_text.contains("| ex | 4 | 2.0 | 2 | 1 |"), "{md_text}");
        assert!(md_text.contains("| builds | ex | 2/3 | 67% |"), "{md_text}");
        assert!(
            md_text.contains("- bo\\|b (timeout): =cmd\\|' /C calc'\\!A0 second line"),
            "{md_text}"
        );
        assert!(md_text.contains("this run took 1m 30s"), "{md_text}");
    }
}
