//! PrairieLearn's external-grader `results.json`: `gradable`, a `score`
//! from 0 to 1, a `message`, and a test per check with its `points`,
//! `max_points`, `message` and `output`. A submission missing a required
//! file is not gradable (`gradable: false` with `format_errors`), which
//! costs the student no attempt. PrairieLearn refuses results over 1 MB:
//! outputs are cut, with a note, until the file fits. Hidden checks are
//! shown as their result only (PrairieLearn has no visibility of its own).

use std::io;

use serde::Serialize;

use super::{Collector, Export, Totals, for_students, outcome_text};
use crate::check::Status;
use crate::runner::REQUIRED_FILES;

/// PrairieLearn's limit on the results file.
pub(crate) const MAX_BYTES: usize = 1_000_000;

#[derive(Debug, Serialize)]
struct Results {
    gradable: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    format_errors: Vec<String>,
    score: f64,
    message: String,
    output: String,
    tests: Vec<Test>,
}

#[derive(Debug, Serialize)]
struct Test {
    name: String,
    description: String,
    points: u32,
    max_points: u32,
    message: String,
    output: String,
}

/// PrairieLearn's `results.json`.
#[derive(Debug, Default)]
pub(crate) struct PrairieLearn;

impl Export<Collector> for PrairieLearn {
    fn render(&self, collector: &Collector) -> io::Result<Vec<u8>> {
        let results = collector.results();
        let totals = Totals::of(&results);
        let format_errors: Vec<String> = results
            .iter()
            .flat_map(|r| &r.outcomes)
            .filter(|o| o.name == REQUIRED_FILES && o.status == Status::Failed)
            .map(|o| o.message.clone())
            .collect();
        let mut tests = Vec::new();
        for r in &results {
            let mut hidden = 0;
            for o in &r.outcomes {
                if !o.visibility.shown_to_students() {
                    hidden += 1;
                }
                let o = for_students(o, hidden);
                tests.push(Test {
                    name: format!("{}: {}", r.id, o.name),
                    description: r.title.clone(),
                    points: o.points,
                    max_points: o.max_points,
                    message: o.status.as_str().to_string(),
                    output: outcome_text(&o),
                });
            }
        }
        let mut report = Results {
            gradable: format_errors.is_empty(),
            score: match totals.max_points {
                0 => 0.0,
                max => f64::from(totals.points) / f64::from(max),
            },
            message: format!(
                "{}/{} points, {} of {} checks passed",
                totals.points, totals.max_points, totals.passed, totals.checks
            ),
            output: String::new(),
            format_errors,
            tests,
        };
        if !report.gradable {
            report.score = 0.0;
            report.message = "not gradable: the submission is incomplete".to_string();
        }
        fit(report)
    }
}

/// The report as JSON under [`MAX_BYTES`], cutting the longest outputs.
fn fit(mut report: Results) -> io::Result<Vec<u8>> {
    let mut limit = 64 * 1024;
    loop {
        let bytes = super::json::pretty(&report)?;
        if bytes.len() <= MAX_BYTES || limit < 64 {
            return Ok(bytes);
        }
        limit /= 2;
        for t in &mut report.tests {
            if t.output.len() > limit {
                let cut: String = t.output.chars().take(limit).collect();
                t.output = format!("{cut}\n… (cut to keep the results under 1 MB)");
            }
        }
    }
}
