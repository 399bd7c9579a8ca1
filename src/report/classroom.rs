//! GitHub Classroom: the result that `classroom-resources/
//! autograding-grading-reporter` reads from a runner step's `result`
//! output, the base64 of `{"version":1,"status":…,"max_score":…,"tests":
//! […]}`. The reporter sums the tests' own `score`s, so each test carries
//! its points. `check` appends `result=<base64>` to `$GITHUB_OUTPUT` when
//! that variable is set and prints it otherwise. Hidden checks are shown as
//! their result only: the reporter prints every test to the student.

use std::io;

use base64::Engine as _;
use serde::Serialize;

use super::{Collector, Export, Totals, for_students, outcome_text};
use crate::check::Status;
use crate::units::seconds;

#[derive(Debug, Serialize)]
pub(crate) struct Payload {
    version: u32,
    status: &'static str,
    max_score: u32,
    tests: Vec<Test>,
}

#[derive(Debug, Serialize)]
struct Test {
    name: String,
    status: &'static str,
    score: u32,
    message: String,
    line_no: u32,
    execution_time: String,
}

/// The payload, decoded.
pub(crate) fn payload(collector: &Collector) -> Payload {
    let results = collector.results();
    let totals = Totals::of(&results);
    let mut tests = Vec::new();
    for r in &results {
        let mut hidden = 0;
        for o in &r.outcomes {
            if !o.visibility.shown_to_students() {
                hidden += 1;
            }
            let o = for_students(o, hidden);
            // A hidden check has no step here: its timing says nothing.
            let time = r
                .steps
                .iter()
                .find(|s| s.name == o.step)
                .map_or(0.0, |s| seconds(s.duration));
            tests.push(Test {
                name: format!("{}: {}", r.id, o.name),
                status: match o.status {
                    Status::Passed => "pass",
                    Status::Failed | Status::Skipped => "fail",
                    Status::Error => "error",
                },
                score: o.points,
                message: outcome_text(&o),
                line_no: 0,
                execution_time: format!("{time:.2}s"),
            });
        }
    }
    // An error is the grader's, not the student's: the run is then "error".
    let status = if totals.error > 0 || collector.interrupted.is_some() {
        "error"
    } else if totals.passed == totals.checks {
        "pass"
    } else {
        "fail"
    };
    Payload {
        version: 1,
        status,
        max_score: totals.max_points,
        tests,
    }
}

/// `result=<base64 of the payload>` and a newline, the line GitHub Actions
/// reads from `$GITHUB_OUTPUT`.
#[derive(Debug, Default)]
pub(crate) struct Classroom;

impl Export<Collector> for Classroom {
    fn render(&self, collector: &Collector) -> io::Result<Vec<u8>> {
        let json = serde_json::to_vec(&payload(collector)).map_err(io::Error::other)?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(json);
        Ok(format!("result={encoded}\n").into_bytes())
    }
}
