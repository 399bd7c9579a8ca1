//! The runner: drives plans through the engine and announces what happens.
//!
//! For each exercise it checks the submission's required files, stages the
//! exercise's own files over the submission, plans, runs each wave of steps
//! concurrently (bounded by `jobs`), turns the engine's results into
//! observations, evaluates every check, and sends [`Event`]s. Each kind of
//! step has its room: [`image`], [`build`], [`run`] and [`live`]. The runner
//! holds no output logic: reporters do.

mod build;
mod image;
mod live;
mod remote;
mod run;
mod service;

use std::path::PathBuf;
use std::time::Instant;

use futures_util::StreamExt;
use tokio::sync::mpsc::UnboundedSender;

use crate::build_context;
use crate::check::{self, Outcome, Status};
use crate::engine::{Engine, StepError};
use crate::event::{Event, ExerciseResult, StepSummary};
use crate::observation::{Observations, StepObservation, StepStatus};
use crate::plan::{Plan, PlannedStep, plan};
use crate::sandbox::Sandbox;
use crate::spec::{Exercise, StepKind};
use crate::stage::Stage;
use crate::units::format_duration;

/// Where the files are and how hard to push the daemon.
#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
    /// The student's folder.
    pub submission: PathBuf,
    /// Steps run at the same time, at most.
    pub jobs: usize,
}

/// Grades every exercise in turn; events go to `events`. When the engine
/// is cancelled, the exercise under way stops without a result (its checks
/// were not decided) and the others are not started.
pub(crate) async fn run(
    engine: &Engine,
    exercises: &[Exercise],
    options: &RunOptions,
    events: &UnboundedSender<Event>,
) -> Vec<ExerciseResult> {
    let mut results = Vec::new();
    for ex in exercises {
        match run_exercise(engine, ex, options, events).await {
            Some(result) => results.push(result),
            None => break,
        }
    }
    results
}

async fn run_exercise(
    engine: &Engine,
    ex: &Exercise,
    options: &RunOptions,
    events: &UnboundedSender<Event>,
) -> Option<ExerciseResult> {
    if engine.is_cancelled() {
        return None;
    }
    let started = Instant::now();
    let _ = events.send(Event::ExerciseStarted {
        id: ex.id.clone(),
        title: ex.title.clone(),
    });
    let missing = missing_files(ex, options);
    let mut ledger = Ledger::default();
    let outcomes = if !missing.is_empty() {
        incomplete(ex, missing)
    } else {
        let prepared = {
            let (ex, submission) = (ex.clone(), options.submission.clone());
            tokio::task::spawn_blocking(move || Stage::prepare(&ex, &submission)).await
        };
        let stage = match prepared {
            Ok(Ok(stage)) => stage,
            Ok(Err(e)) => return Some(unstaged(ex, &e.to_string(), events, started)),
            Err(e) => return Some(unstaged(ex, &e.to_string(), events, started)),
        };
        let plan = plan(ex, engine.run_id());
        let network = if plan.network {
            let name = crate::names::exercise_network(engine.run_id(), &ex.id);
            engine.create_network(&name).await.err()
        } else {
            None
        };
        let asks_the_daemon = ex.checks.iter().any(|c| {
            c.assertions
                .iter()
                .any(|a| matches!(a, crate::spec::Assertion::Daemon(_)))
        });
        if asks_the_daemon && let Ok(info) = engine.describe_daemon().await {
            ledger.observations.daemon = Some(crate::observation::DaemonFacts {
                rootless: info.rootless,
                storage_driver: info.storage_driver,
                security_options: info.security_options,
            });
        }
        match network {
            None => {
                run_steps(engine, ex, &plan, &stage, options.jobs, &mut ledger, events).await;
                check::evaluate_all(&ex.checks, &ledger.observations)
            }
            Some(e) => {
                let _ = engine.cleanup().await;
                return Some(unstaged(ex, &e.to_string(), events, started));
            }
        }
    };
    // Free the daemon before the next exercise: its images and containers
    // are not needed once the checks are decided.
    let cleanup = engine.cleanup().await;
    cleanup.warn();
    if engine.is_cancelled() {
        return None;
    }
    Some(conclude(ex, outcomes, ledger.summaries, started, events))
}

/// The name of the outcome that says a required file is missing: the
/// submission cannot be graded (PrairieLearn then charges no attempt).
pub(crate) const REQUIRED_FILES: &str = "required files are present";

/// One failed outcome per required file that is missing or refused.
fn missing_files(ex: &Exercise, options: &RunOptions) -> Vec<Outcome> {
    let hint = format!(
        "The submission must contain: {}.",
        ex.required
            .iter()
            .map(|r| format!("`{r}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    ex.required
        .iter()
        .filter_map(|rel| build_context::require_file(&options.submission, rel).err())
        .map(|e| {
            Outcome::synthetic(
                REQUIRED_FILES,
                Status::Failed,
                e.to_string(),
                Some(hint.clone()),
            )
        })
        .collect()
}

/// The outcomes of an incomplete submission: nothing is built from it.
fn incomplete(ex: &Exercise, missing: Vec<Outcome>) -> Vec<Outcome> {
    let reason = "not run: the submission is incomplete";
    missing
        .into_iter()
        .chain(ex.checks.iter().map(|c| Outcome {
            name: c.name.clone(),
            step: c.step.clone(),
            status: Status::Skipped,
            points: 0,
            max_points: c.points,
            message: reason.to_string(),
            expected: None,
            actual: None,
            hint: c.hint.clone(),
            visibility: c.visibility,
        }))
        .collect()
}

/// What has been observed of an exercise's steps so far.
#[derive(Debug, Default)]
struct Ledger {
    observations: Observations,
    summaries: Vec<StepSummary>,
}

impl Ledger {
    /// Announces a finished step and keeps its observation and summary.
    fn record(
        &mut self,
        planned: &PlannedStep,
        o: StepObservation,
        events: &UnboundedSender<Event>,
    ) {
        let summary = summarize(&o, planned);
        let _ = events.send(Event::StepFinished {
            step: summary.clone(),
        });
        self.summaries.push(summary);
        self.observations.steps.insert(o.step.clone(), o);
    }
}

/// Runs the plan's waves within the exercise's own clock: whatever has not
/// finished by then fails. Dropping the waves abandons the steps in flight;
/// their containers are recorded and go in the exercise's cleanup.
async fn run_steps(
    engine: &Engine,
    ex: &Exercise,
    plan: &Plan,
    stage: &Stage,
    jobs: usize,
    ledger: &mut Ledger,
    events: &UnboundedSender<Event>,
) {
    let waves = async {
        for wave in plan.waves() {
            let done = &ledger.observations;
            let finished: Vec<(usize, StepObservation)> = futures_util::stream::iter(wave)
                .map(|i| async move {
                    let o = run_step(engine, ex, plan, &plan.steps[i], done, stage, events).await;
                    (i, o)
                })
                .buffer_unordered(jobs.max(1))
                .collect()
                .await;
            for (i, o) in finished {
                ledger.record(&plan.steps[i], o, events);
            }
        }
    };
    if tokio::time::timeout(ex.timeout, waves).await.is_err() {
        let why = format!(
            "not finished: the exercise timed out after {}",
            format_duration(ex.timeout)
        );
        for planned in &plan.steps {
            if !ledger.observations.steps.contains_key(&planned.step.name) {
                let o = StepObservation::new(&planned.step.name, StepStatus::Failed(why.clone()));
                ledger.record(planned, o, events);
            }
        }
    }
}

/// Runs one step, unless a step it needs did not complete.
async fn run_step(
    engine: &Engine,
    ex: &Exercise,
    plan: &Plan,
    planned: &PlannedStep,
    done: &Observations,
    stage: &Stage,
    events: &UnboundedSender<Event>,
) -> StepObservation {
    // A step that needs one the grader failed on is an error too, not a
    // skip: its checks were never decided, and the grade must say so.
    let status_of = |n: usize| {
        let name = &plan.steps[n].step.name;
        (name, done.steps.get(name).map(|o| &o.status))
    };
    let errored = planned.needs.iter().find_map(|&n| match status_of(n) {
        (name, Some(StepStatus::Error(why))) => Some(format!(
            "not run: step `{name}` could not be graded ({why})"
        )),
        _ => None,
    });
    if let Some(reason) = errored {
        return StepObservation::new(&planned.step.name, StepStatus::Error(reason));
    }
    let blocked = planned.needs.iter().find_map(|&n| match status_of(n) {
        (_, Some(StepStatus::Done)) => None,
        (name, _) => Some(name),
    });
    if let Some(name) = blocked {
        let reason = format!("not run: step `{name}` did not complete");
        let mut o = StepObservation::new(&planned.step.name, StepStatus::Skipped(reason));
        let root = done.steps.get(name).and_then(|s| s.blocked_by.clone());
        o.blocked_by = Some(root.unwrap_or_else(|| name.clone()));
        return o;
    }
    if engine.is_cancelled() {
        let reason = "not run: interrupted".to_string();
        return StepObservation::new(&planned.step.name, StepStatus::Skipped(reason));
    }
    let _ = events.send(Event::StepStarted {
        exercise: ex.id.clone(),
        step: planned.step.name.clone(),
        kind: planned.step.kind.step_type(),
    });
    let started = Instant::now();
    let mut o = StepObservation::new(&planned.step.name, StepStatus::Done);
    match &planned.step.kind {
        StepKind::Container { name } => {
            live::container_step(engine, name, &planned.probe, &mut o).await
        }
        StepKind::Image { reference, pull } => {
            image::image_step(engine, reference, *pull, &planned.probe, &mut o).await
        }
        StepKind::Build(build) => {
            build::build_step(engine, ex, planned, build, stage, events, &mut o).await
        }
        StepKind::Run(run) => run::run_step(engine, ex, planned, run, done, stage, &mut o).await,
        StepKind::Service(service) => {
            service::service_step(engine, ex, planned, service, done, &mut o).await
        }
        StepKind::Push(push) => service::push_step(engine, push, done, &mut o).await,
        StepKind::Exec(exec) => service::exec_step(engine, exec, done, &mut o).await,
    }
    if o.status == StepStatus::Done
        && (!planned.probe.http.is_empty() || !planned.probe.disk.is_empty())
    {
        service::ask_services(engine, &planned.probe, done, &mut o).await;
    }
    o.duration = started.elapsed();
    o
}

/// Ends an exercise that could not be staged: every check is an error.
fn unstaged(
    ex: &Exercise,
    why: &str,
    events: &UnboundedSender<Event>,
    started: Instant,
) -> ExerciseResult {
    let message = format!("could not prepare the exercise's files: {why}");
    let outcomes: Vec<Outcome> = ex
        .checks
        .iter()
        .map(|c| Outcome {
            name: c.name.clone(),
            step: c.step.clone(),
            status: Status::Error,
            points: 0,
            max_points: c.points,
            message: message.clone(),
            expected: None,
            actual: None,
            hint: None,
            visibility: c.visibility,
        })
        .collect();
    conclude(ex, outcomes, Vec::new(), started, events)
}

/// Announces the outcomes and the exercise's result, and returns it.
fn conclude(
    ex: &Exercise,
    outcomes: Vec<Outcome>,
    steps: Vec<StepSummary>,
    started: Instant,
    events: &UnboundedSender<Event>,
) -> ExerciseResult {
    for o in &outcomes {
        let _ = events.send(Event::CheckFinished { outcome: o.clone() });
    }
    let result = ExerciseResult {
        id: ex.id.clone(),
        title: ex.title.clone(),
        section: ex.section.clone(),
        points: outcomes.iter().map(|o| o.points).sum(),
        max_points: ex.max_points(),
        duration: started.elapsed(),
        steps,
        outcomes,
    };
    let _ = events.send(Event::ExerciseFinished {
        result: result.clone(),
    });
    result
}

/// The status of a step whose engine call failed.
fn status_of(e: StepError) -> StepStatus {
    match e {
        StepError::Submission(m) => StepStatus::Failed(m),
        StepError::Infrastructure(m) => StepStatus::Error(m),
    }
}

/// The confinement a step's containers get: what the engine is told and
/// what the report shows.
fn sandbox_of(kind: &StepKind) -> Option<Sandbox> {
    match kind {
        StepKind::Run(run) => Some(run.sandbox()),
        StepKind::Build(build) => Some(build.sandbox()),
        StepKind::Service(service) => Some(Sandbox::run(
            service.limits,
            crate::sandbox::Network::Exercise,
            service.timeout,
        )),
        StepKind::Image { .. }
        | StepKind::Container { .. }
        | StepKind::Push(_)
        | StepKind::Exec(_) => None,
    }
}

/// How a step went, in the terms reports use.
fn summarize(o: &StepObservation, planned: &PlannedStep) -> StepSummary {
    let log = match (&o.build, &o.run) {
        (Some(b), _) => b.log_tail.clone(),
        (_, Some(r)) => {
            let mut log = String::new();
            if let Some(why) = &r.start_error {
                log.push_str(&format!("--- the command could not start ---\n{why}\n"));
            }
            if !r.stdout.is_empty() {
                log.push_str(&format!("--- stdout ---\n{}\n", r.stdout));
            }
            if !r.stderr.is_empty() {
                log.push_str(&format!("--- stderr ---\n{}\n", r.stderr));
            }
            log
        }
        _ => String::new(),
    };
    StepSummary {
        name: o.step.clone(),
        kind: planned.step.kind.step_type(),
        duration: o.duration,
        status: o.status.state(),
        // A command that could not start still "ran" (the runtime gave an
        // exit code), but why it did not start is the first thing to read.
        message: o.status.reason().map(str::to_string).or_else(|| {
            o.run
                .as_ref()
                .and_then(|r| r.start_error.as_ref())
                .map(|why| format!("the command could not start: {why}"))
        }),
        image_id: o.image.as_ref().map(|i| i.id.clone()),
        size: o.image.as_ref().map(|i| i.size),
        layers: o.image.as_ref().map(|i| i.layers.len() as u64),
        exit_code: o.run.as_ref().and_then(|r| r.exit_code),
        context_bytes: o.build.as_ref().and_then(|b| b.context_bytes),
        stdout_dropped: o.run.as_ref().map(|r| r.stdout_dropped),
        stderr_dropped: o.run.as_ref().map(|r| r.stderr_dropped),
        sandbox: sandbox_of(&planned.step.kind),
        log,
    }
}
