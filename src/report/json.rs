//! The JSON report: `dockgrade.report/1`, documented in docs/report.md.
//!
//! The schema name is versioned; a field is only ever added within a
//! version. Everything here comes from events via [`Collector`].

use std::io;

use serde::Serialize;

use super::{Collector, Export, Totals};
use crate::check::Outcome;
use crate::event::{ExerciseResult, StepSummary};
use crate::signal::Signal;
use crate::units::seconds;

pub(crate) const SCHEMA: &str = "dockgrade.report/1";

#[derive(Debug, Serialize)]
struct Report<'a> {
    schema: &'static str,
    run_id: &'a str,
    /// Whose submission, and the hash of what it was graded from (batch).
    #[serde(skip_serializing_if = "Option::is_none")]
    submission: Option<&'a Submitted>,
    interrupted: Option<Signal>,
    duration_seconds: f64,
    exercises: Vec<ExerciseJson<'a>>,
    totals: Totals,
}

#[derive(Debug, Serialize)]
struct ExerciseJson<'a> {
    id: &'a str,
    title: &'a str,
    section: Option<&'a str>,
    points: u32,
    max_points: u32,
    duration_seconds: f64,
    steps: &'a [StepSummary],
    checks: &'a [Outcome],
}

/// `dockgrade.report/1`, pretty-printed, with a final newline.
#[derive(Debug, Default)]
pub(crate) struct Json {
    pub submission: Option<Submitted>,
}

/// A batch's submission, as its report names it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Submitted {
    pub student: String,
    pub hash: String,
}

impl Export<Collector> for Json {
    fn render(&self, collector: &Collector) -> io::Result<Vec<u8>> {
        let results: Vec<ExerciseResult> = collector.results();
        let report = Report {
            schema: SCHEMA,
            run_id: &collector.run_id,
            submission: self.submission.as_ref(),
            interrupted: collector.interrupted,
            duration_seconds: seconds(collector.duration),
            exercises: results
                .iter()
                .map(|r| ExerciseJson {
                    id: &r.id,
                    title: &r.title,
                    section: r.section.as_deref(),
                    points: r.points,
                    max_points: r.max_points,
                    duration_seconds: seconds(r.duration),
                    steps: &r.steps,
                    checks: &r.outcomes,
                })
                .collect(),
            totals: Totals::of(&results),
        };
        pretty(&report)
    }
}

/// Any report as pretty JSON with a final newline.
pub(crate) fn pretty<T: Serialize + ?Sized>(value: &T) -> io::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    bytes.push(b'\n');
    Ok(bytes)
}
