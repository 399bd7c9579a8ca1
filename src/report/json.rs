//! The JSON report: `dockgrade.report/1`, documented in docs/report.md.
//!
//! The schema name is versioned; a field is only ever added within a
//! version. Everything here comes from events via [`Collector`].

use std::io::{self, Write};

use serde::Serialize;

use super::{Collector, Reporter, Totals};
use crate::check::Outcome;
use crate::event::{Event, ExerciseResult, StepSummary};

pub const SCHEMA: &str = "dockgrade.report/1";

#[derive(Debug, Serialize)]
struct Report<'a> {
    schema: &'static str,
    run_id: &'a str,
    interrupted: Option<&'static str>,
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

#[derive(Debug)]
pub struct JsonReporter<W: Write + Send> {
    out: Option<W>,
    collector: Collector,
}

impl<W: Write + Send> JsonReporter<W> {
    pub fn new(out: W) -> Self {
        JsonReporter {
            out: Some(out),
            collector: Collector::default(),
        }
    }
}

fn secs(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// Renders the report for a finished collector.
pub fn render(collector: &Collector) -> String {
    let results: Vec<ExerciseResult> = collector.results();
    let report = Report {
        schema: SCHEMA,
        run_id: &collector.run_id,
        interrupted: collector.interrupted,
        duration_seconds: secs(collector.duration),
        exercises: results
            .iter()
            .map(|r| ExerciseJson {
                id: &r.id,
                title: &r.title,
                section: r.section.as_deref(),
                points: r.points,
                max_points: r.max_points,
                duration_seconds: secs(r.duration),
                steps: &r.steps,
                checks: &r.outcomes,
            })
            .collect(),
        totals: Totals::of(&results),
    };
    serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

impl<W: Write + Send> Reporter for JsonReporter<W> {
    fn report(&mut self, event: &Event) -> io::Result<()> {
        if self.collector.observe(event)
            && let Some(mut out) = self.out.take()
        {
            writeln!(out, "{}", render(&self.collector))?;
            out.flush()?;
        }
        Ok(())
    }
}
