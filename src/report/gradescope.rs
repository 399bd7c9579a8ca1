//! Gradescope's autograder `results.json`: a test per check with its
//! `score`, `max_score`, `status` (`passed`/`failed`), `output` and
//! `visibility`, so Gradescope itself hides a hidden check from students
//! (or shows it after the due date). Written whole or not at all
//! ([`super::ReportFile`]): a half-written file fails the submission.

use std::io;

use serde::Serialize;

use super::{Collector, Export, Totals, outcome_text};
use crate::check::Status;
use crate::spec::Visibility;
use crate::units::seconds;

#[derive(Debug, Serialize)]
struct Results {
    score: f64,
    /// Whole seconds, as Gradescope documents it.
    execution_time: u64,
    output: String,
    tests: Vec<Test>,
}

#[derive(Debug, Serialize)]
struct Test {
    name: String,
    /// `exercise.check`, 1-based: Gradescope sorts tests by it.
    number: String,
    score: f64,
    max_score: f64,
    status: &'static str,
    output: String,
    visibility: Visibility,
}

/// Gradescope's `results.json`.
#[derive(Debug, Default)]
pub(crate) struct Gradescope;

impl Export<Collector> for Gradescope {
    fn render(&self, collector: &Collector) -> io::Result<Vec<u8>> {
        let results = collector.results();
        let totals = Totals::of(&results);
        let mut tests = Vec::new();
        for (e, r) in results.iter().enumerate() {
            for (c, o) in r.outcomes.iter().enumerate() {
                tests.push(Test {
                    name: format!("{}: {}", r.id, o.name),
                    number: format!("{}.{}", e + 1, c + 1),
                    score: f64::from(o.points),
                    max_score: f64::from(o.max_points),
                    status: if o.status == Status::Passed {
                        "passed"
                    } else {
                        "failed"
                    },
                    output: outcome_text(o),
                    visibility: o.visibility,
                });
            }
        }
        let report = Results {
            score: f64::from(totals.points),
            execution_time: seconds(collector.duration).round() as u64,
            output: format!(
                "dockgrade: {}/{} points, {} of {} checks passed{}",
                totals.points,
                totals.max_points,
                totals.passed,
                totals.checks,
                match collector.interrupted {
                    Some(signal) => format!(" (interrupted by {signal})"),
                    None => String::new(),
                }
            ),
            tests,
        };
        super::json::pretty(&report)
    }
}
