//! Events: the one channel from the runner to the reporters.
//!
//! The runner never prints. It sends [`Event`]s in order; each reporter
//! (terminal, JSON, JUnit) builds its output from them alone. Anything a
//! report shows must therefore be carried by an event.

use std::time::Duration;

use serde::Serialize;

use crate::check::{Outcome, Status};

/// What a run is about to grade.
#[derive(Debug, Clone, Serialize)]
pub struct ExercisePreview {
    pub id: String,
    pub title: String,
    pub section: Option<String>,
    pub max_points: u32,
    /// Check names in spec order, so a cut-short run can list what it never reached.
    pub checks: Vec<String>,
}

/// How a step went, in the terms reports use.
#[derive(Debug, Clone, Serialize)]
pub struct StepSummary {
    pub name: String,
    pub kind: &'static str,
    #[serde(rename = "duration_seconds", serialize_with = "seconds")]
    pub duration: Duration,
    /// `done`, `failed`, `error` or `skipped`.
    pub status: &'static str,
    pub message: Option<String>,
    pub image_id: Option<String>,
    pub size: Option<u64>,
    pub layers: Option<u64>,
    pub exit_code: Option<i64>,
    pub context_bytes: Option<u64>,
    /// Output bytes past the capture limit, counted and not kept (runs).
    pub stdout_dropped: Option<u64>,
    pub stderr_dropped: Option<u64>,
    /// The limits the step ran under (builds and runs).
    pub sandbox: Option<Sandbox>,
    /// The end of the build output (builds) or the captured output (runs).
    #[serde(skip)]
    pub log: String,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

/// The confinement of a build's or a run's containers, as reported.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Sandbox {
    pub memory_bytes: u64,
    /// Swap on top of memory: always 0.
    pub swap_bytes: u64,
    /// Process limit (runs; the legacy builder cannot set one).
    pub pids: Option<u32>,
    pub cpus: f64,
    pub network: &'static str,
    /// Capabilities kept; all others are dropped (runs).
    pub capabilities: Vec<&'static str>,
    pub no_new_privileges: bool,
    pub privileged: bool,
    pub timeout_seconds: f64,
    /// Largest build context accepted (builds).
    pub max_context_bytes: Option<u64>,
}

/// One exercise, graded.
#[derive(Debug, Clone, Serialize)]
pub struct ExerciseResult {
    pub id: String,
    pub title: String,
    pub section: Option<String>,
    pub points: u32,
    pub max_points: u32,
    pub duration: Duration,
    pub steps: Vec<StepSummary>,
    pub outcomes: Vec<Outcome>,
}

impl ExerciseResult {
    pub fn count(&self, status: Status) -> usize {
        self.outcomes.iter().filter(|o| o.status == status).count()
    }
}

#[derive(Debug, Clone)]
pub enum Event {
    RunStarted {
        run_id: String,
        exercises: Vec<ExercisePreview>,
    },
    ExerciseStarted {
        id: String,
        title: String,
    },
    StepStarted {
        exercise: String,
        step: String,
        kind: &'static str,
    },
    /// A line of build output, for progress displays.
    StepProgress {
        exercise: String,
        step: String,
        line: String,
    },
    StepFinished {
        exercise: String,
        step: StepSummary,
    },
    CheckFinished {
        exercise: String,
        outcome: Outcome,
    },
    ExerciseFinished {
        result: ExerciseResult,
    },
    /// The last event. `interrupted` is set when a signal cut the run short.
    RunFinished {
        duration: Duration,
        interrupted: Option<&'static str>,
    },
}
