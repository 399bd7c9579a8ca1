//! Events: the one channel from the runner to the reporters.
//!
//! The runner never prints. It sends [`Event`]s in order; each reporter
//! (terminal, JSON, JUnit) builds its output from them alone. Anything a
//! report shows must therefore be carried by an event.

use std::time::Duration;

use serde::Serialize;

use crate::check::{Outcome, Status};
use crate::observation::StepState;
use crate::sandbox::Sandbox;
use crate::signal::Signal;
use crate::spec::{Exercise, StepType};

/// What a run is about to grade.
#[derive(Debug, Clone, Serialize)]
pub struct ExercisePreview {
    pub id: String,
    pub title: String,
    pub section: Option<String>,
    pub max_points: u32,
    /// Check names in spec order, with who may see them, so a cut-short run
    /// can list what it never reached.
    pub checks: Vec<(String, crate::spec::Visibility)>,
}

impl ExercisePreview {
    /// What a run is about to grade of `ex`.
    pub fn of(ex: &Exercise) -> ExercisePreview {
        ExercisePreview {
            id: ex.id.clone(),
            title: ex.title.clone(),
            section: ex.section.clone(),
            max_points: ex.max_points(),
            checks: ex
                .checks
                .iter()
                .map(|c| (c.name.clone(), c.visibility))
                .collect(),
        }
    }
}

/// How a step went, in the terms reports use.
#[derive(Debug, Clone, Serialize)]
pub struct StepSummary {
    pub name: String,
    pub kind: StepType,
    #[serde(rename = "duration_seconds", serialize_with = "seconds")]
    pub duration: Duration,
    pub status: StepState,
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
    s.serialize_f64(crate::units::seconds(*d))
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
        kind: StepType,
    },
    /// A line of build output, for progress displays.
    StepProgress {
        exercise: String,
        step: String,
        line: String,
    },
    StepFinished {
        step: StepSummary,
    },
    CheckFinished {
        outcome: Outcome,
    },
    ExerciseFinished {
        result: ExerciseResult,
    },
    /// The last event. `interrupted` is set when a signal cut the run short.
    RunFinished {
        duration: Duration,
        interrupted: Option<Signal>,
    },
}
