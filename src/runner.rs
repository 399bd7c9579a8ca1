//! The runner: drives plans through the engine and announces what happens.
//!
//! For each exercise it checks the submission's required files, plans, runs
//! each wave of steps concurrently (bounded by `jobs`), turns the engine's
//! results into observations, evaluates every check, and sends [`Event`]s.
//! It holds no output logic: reporters do.

use std::path::{Path, PathBuf};
use std::time::Instant;

use futures_util::StreamExt;
use tokio::sync::mpsc::UnboundedSender;

use crate::check::{self, Outcome, Status};
use crate::context;
use crate::engine::{BuildRequest, CAPABILITIES, Engine, ResolvedMount, StepError};
use crate::event::{Event, ExercisePreview, ExerciseResult, Sandbox, StepSummary};
use crate::observation::{BuildFacts, Observations, StepObservation, StepStatus};
use crate::plan::{PlannedStep, plan};
use crate::spec::units::{format_duration, format_limit, format_size};
use crate::spec::{BuildSource, Exercise, ImageSource, Mount, PullPolicy, StepKind};
use crate::stage::Stage;

/// Where the files are and how hard to push the daemon.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The student's folder.
    pub submission: PathBuf,
    /// Steps run at the same time, at most.
    pub jobs: usize,
}

/// A unique enough id for this run's resources: time and process.
pub fn new_run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{:x}{:04x}",
        (nanos / 1_000_000) & 0xff_ffff_ffff,
        std::process::id() & 0xffff
    )
}

pub fn preview(ex: &Exercise) -> ExercisePreview {
    ExercisePreview {
        id: ex.id.clone(),
        title: ex.title.clone(),
        section: ex.section.clone(),
        max_points: ex.max_points(),
        checks: ex.checks.iter().map(|c| c.name.clone()).collect(),
    }
}

/// Grades every exercise in turn; events go to `events`.
pub async fn run(
    engine: &Engine,
    exercises: &[Exercise],
    options: &RunOptions,
    events: &UnboundedSender<Event>,
) -> Vec<ExerciseResult> {
    let mut results = Vec::new();
    for ex in exercises {
        results.push(run_exercise(engine, ex, options, events).await);
    }
    results
}

async fn run_exercise(
    engine: &Engine,
    ex: &Exercise,
    options: &RunOptions,
    events: &UnboundedSender<Event>,
) -> ExerciseResult {
    let started = Instant::now();
    let send = |e: Event| {
        let _ = events.send(e);
    };
    send(Event::ExerciseStarted {
        id: ex.id.clone(),
        title: ex.title.clone(),
    });

    let missing: Vec<Outcome> = ex
        .required
        .iter()
        .filter_map(|rel| context::require_file(&options.submission, rel).err())
        .map(|e| {
            Outcome::synthetic(
                "required files are present",
                Status::Failed,
                e.to_string(),
                Some(format!(
                    "The submission must contain: {}.",
                    ex.required
                        .iter()
                        .map(|r| format!("`{r}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            )
        })
        .collect();
    let outcomes: Vec<Outcome>;
    let mut summaries = Vec::new();
    if !missing.is_empty() {
        // Nothing is built from an incomplete submission.
        let reason = "not run: the submission is incomplete".to_string();
        outcomes = missing
            .into_iter()
            .chain(ex.checks.iter().map(|c| Outcome {
                name: c.name.clone(),
                step: c.step.clone(),
                status: Status::Skipped,
                points: 0,
                max_points: c.points,
                message: reason.clone(),
                expected: None,
                actual: None,
                hint: c.hint.clone(),
            }))
            .collect();
    } else {
        let prepared = {
            let (ex, submission) = (ex.clone(), options.submission.clone());
            tokio::task::spawn_blocking(move || Stage::prepare(&ex, &submission)).await
        };
        let stage = match prepared {
            Ok(Ok(stage)) => stage,
            Ok(Err(e)) => {
                return finish_unstaged(
                    ex,
                    &format!("could not prepare the exercise's files: {e}"),
                    events,
                    started,
                );
            }
            Err(e) => {
                return finish_unstaged(
                    ex,
                    &format!("could not prepare the exercise's files: {e}"),
                    events,
                    started,
                );
            }
        };
        let stage = &stage;
        let plan = plan(ex, engine.run_id());
        let mut obs = Observations::default();
        let waves = async {
            for wave in plan.waves() {
                let done = &obs;
                let finished: Vec<StepObservation> = futures_util::stream::iter(wave)
                    .map(|i| {
                        let planned = &plan.steps[i];
                        let blocked = planned.needs.iter().find_map(|&n| {
                            let name = &plan.steps[n].step.name;
                            match done.steps.get(name).map(|o| &o.status) {
                                Some(StepStatus::Done) => None,
                                _ => Some(format!("not run: step `{name}` did not complete")),
                            }
                        });
                        async move {
                            if let Some(reason) = blocked {
                                return StepObservation::new(
                                    &planned.step.name,
                                    StepStatus::Skipped(reason),
                                );
                            }
                            send(Event::StepStarted {
                                exercise: ex.id.clone(),
                                step: planned.step.name.clone(),
                                kind: planned.step.kind.label(),
                            });
                            let t = Instant::now();
                            let mut o = execute(engine, ex, planned, done, stage, events).await;
                            o.duration = t.elapsed();
                            o
                        }
                    })
                    .buffer_unordered(options.jobs.max(1))
                    .collect()
                    .await;
                for o in finished {
                    file_step(ex, o, &plan.steps, &mut obs, &mut summaries, events);
                }
            }
        };
        // The exercise's own clock: whatever has not finished by then fails.
        // Dropping `waves` abandons the steps in flight; their containers
        // are recorded and go in the cleanup below.
        if tokio::time::timeout(ex.timeout, waves).await.is_err() {
            for planned in &plan.steps {
                if obs.steps.contains_key(&planned.step.name) {
                    continue;
                }
                let why = format!(
                    "not finished: the exercise timed out after {}",
                    format_duration(ex.timeout)
                );
                let o = StepObservation::new(&planned.step.name, StepStatus::Failed(why));
                file_step(ex, o, &plan.steps, &mut obs, &mut summaries, events);
            }
        }

        outcomes = ex.checks.iter().map(|c| check::evaluate(c, &obs)).collect();
    }
    // Free the daemon before the next exercise: its images and containers
    // are not needed once the checks are decided.
    let cleanup = engine.cleanup().await;
    for f in &cleanup.failures {
        tracing::warn!("cleanup: could not remove {f}");
    }
    conclude(ex, outcomes, summaries, started, events)
}

/// Announces a finished step and keeps its summary and observation.
fn file_step(
    ex: &Exercise,
    o: StepObservation,
    steps: &[PlannedStep],
    obs: &mut Observations,
    summaries: &mut Vec<StepSummary>,
    events: &UnboundedSender<Event>,
) {
    let summary = summarize(&o, steps);
    let _ = events.send(Event::StepFinished {
        exercise: ex.id.clone(),
        step: summary.clone(),
    });
    summaries.push(summary);
    obs.steps.insert(o.step.clone(), o);
}

/// Ends an exercise that could not be staged: every check is an error.
fn finish_unstaged(
    ex: &Exercise,
    why: &str,
    events: &UnboundedSender<Event>,
    started: Instant,
) -> ExerciseResult {
    let outcomes: Vec<Outcome> = ex
        .checks
        .iter()
        .map(|c| Outcome {
            name: c.name.clone(),
            step: c.step.clone(),
            status: Status::Error,
            points: 0,
            max_points: c.points,
            message: why.to_string(),
            expected: None,
            actual: None,
            hint: None,
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
        let _ = events.send(Event::CheckFinished {
            exercise: ex.id.clone(),
            outcome: o.clone(),
        });
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

fn status_of(e: StepError) -> StepStatus {
    match e {
        StepError::Submission(m) => StepStatus::Failed(m),
        StepError::Infrastructure(m) => StepStatus::Error(m),
    }
}

async fn execute(
    engine: &Engine,
    ex: &Exercise,
    planned: &PlannedStep,
    done: &Observations,
    stage: &Stage,
    events: &UnboundedSender<Event>,
) -> StepObservation {
    let name = planned.step.name.as_str();
    let mut o = StepObservation::new(name, StepStatus::Done);
    match &planned.step.kind {
        StepKind::Container { name } => match engine.container(name).await {
            Ok(facts) => o.container = Some(facts),
            Err(e) => o.status = status_of(e),
        },
        StepKind::Image { reference, pull } => {
            match engine.image(reference, *pull, &planned.probe).await {
                Ok(facts) => o.image = Some(facts),
                Err(e) => o.status = status_of(e),
            }
        }
        StepKind::Build(build) => {
            let roots: Vec<PathBuf> = match build.from {
                BuildSource::Submission => {
                    stage.roots().into_iter().map(Path::to_path_buf).collect()
                }
                BuildSource::Exercise => match stage.exercise_files() {
                    Some(dir) => vec![dir.to_path_buf()],
                    None => {
                        o.status = StepStatus::Error(format!(
                            "the exercise has no files of its own (exercises/{}/)",
                            ex.id
                        ));
                        return o;
                    }
                },
            };
            let (ctx_rel, file_rel) = (build.context.clone(), build.dockerfile.clone());
            let collected = tokio::task::spawn_blocking(move || {
                let roots: Vec<&Path> = roots.iter().map(PathBuf::as_path).collect();
                context::collect_layered(&roots, &ctx_rel, &file_rel)
            })
            .await;
            let ctx = match collected {
                Ok(Ok(ctx)) => ctx,
                Ok(Err(e)) => {
                    o.build = Some(BuildFacts {
                        succeeded: false,
                        error: Some(e.to_string()),
                        ..Default::default()
                    });
                    o.status = StepStatus::Failed(format!("build not attempted: {e}"));
                    return o;
                }
                Err(e) => {
                    o.status = StepStatus::Error(format!("reading the build context: {e}"));
                    return o;
                }
            };
            // The cap is checked before a byte is sent: a 1 GB file in the
            // folder must not reach the daemon, nor cost the time to send it.
            if ctx.content_bytes > build.max_context {
                let biggest: Vec<String> = ctx
                    .largest(3)
                    .iter()
                    .map(|e| {
                        format!(
                            "{} ({})",
                            String::from_utf8_lossy(&e.name),
                            format_size(e.size)
                        )
                    })
                    .collect();
                let message = format!(
                    "the build context is {}, over the {} limit; the biggest files are {}. \
                     List what the image does not need in .dockerignore, or build from a folder without it",
                    format_size(ctx.content_bytes),
                    format_size(build.max_context),
                    biggest.join(", ")
                );
                o.build = Some(BuildFacts {
                    succeeded: false,
                    error: Some(message.clone()),
                    ..Default::default()
                });
                o.status = StepStatus::Failed(format!("build not attempted: {message}"));
                return o;
            }
            let request = BuildRequest {
                tag: planned.tag.clone().unwrap_or_default(),
                target: build.target.clone(),
                args: build.args.clone(),
                no_cache: build.no_cache,
                network: build.network,
                timeout: build.timeout,
                limits: build.limits,
            };
            let progress = |line: &str| {
                if line.starts_with("Step ") {
                    let _ = events.send(Event::StepProgress {
                        exercise: ex.id.clone(),
                        step: name.to_string(),
                        line: line.to_string(),
                    });
                }
            };
            let outcome = engine.build(ctx, &request, &progress).await;
            o.build = Some(outcome.facts.clone());
            match (outcome.image_id, outcome.infrastructure_error) {
                (_, Some(infra)) => {
                    o.status =
                        StepStatus::Error(format!("the daemon failed during the build: {infra}"))
                }
                (Some(id), None) => match engine.built_image(&id, &planned.probe).await {
                    Ok(facts) => o.image = Some(facts),
                    Err(e) => o.status = status_of(e),
                },
                (None, None) => {
                    let why = outcome
                        .facts
                        .error
                        .unwrap_or_else(|| "no image was produced".into());
                    o.status = StepStatus::Failed(format!("build failed: {why}"));
                }
            }
        }
        StepKind::Run(run) => {
            let (image_id, image_user) = match &run.image {
                ImageSource::Step(step) => {
                    match done.steps.get(step).and_then(|s| s.image.as_ref()) {
                        Some(img) => (img.id.clone(), img.config.user.clone()),
                        None => {
                            o.status =
                                StepStatus::Skipped(format!("not run: step `{step}` has no image"));
                            return o;
                        }
                    }
                }
                ImageSource::Reference(reference) => {
                    match engine
                        .image(reference, PullPolicy::Missing, &Default::default())
                        .await
                    {
                        Ok(img) => (img.id, img.config.user),
                        Err(e) => {
                            o.status = status_of(e);
                            return o;
                        }
                    }
                }
            };
            let mut mounts = Vec::new();
            for m in &run.mounts {
                let host_source = match m {
                    Mount::Bind { source, .. } => {
                        match context::resolve_layered(&stage.roots(), source) {
                            Ok(p) => Some(p),
                            Err(e) => {
                                o.status =
                                    StepStatus::Failed(format!("cannot mount `{source}`: {e}"));
                                return o;
                            }
                        }
                    }
                    _ => None,
                };
                mounts.push(ResolvedMount {
                    mount: m.clone(),
                    host_source,
                });
            }
            let container = format!("dockgrade-{}-{}-{}", engine.run_id(), ex.id, name);
            match engine
                .run(
                    &container,
                    &image_id,
                    &image_user,
                    run,
                    &mounts,
                    &planned.probe,
                )
                .await
            {
                Ok(facts) => {
                    if let Some(after) = facts.timed_out {
                        o.status = StepStatus::Failed(check::timed_out_message(after));
                    } else if facts.oom_killed {
                        o.status = StepStatus::Failed(format!(
                            "killed: out of memory (limit {})",
                            format_limit(run.limits.memory)
                        ));
                    }
                    o.run = Some(facts);
                }
                Err(e) => o.status = status_of(e),
            }
        }
    }
    o
}

fn summarize(o: &StepObservation, steps: &[PlannedStep]) -> StepSummary {
    let planned = steps.iter().find(|p| p.step.name == o.step);
    let kind = planned.map_or("step", |p| p.step.kind.label());
    let (status, message) = match &o.status {
        StepStatus::Done => ("done", None),
        StepStatus::Failed(m) => ("failed", Some(m.clone())),
        StepStatus::Error(m) => ("error", Some(m.clone())),
        StepStatus::Skipped(m) => ("skipped", Some(m.clone())),
    };
    let log = match (&o.build, &o.run) {
        (Some(b), _) => b.log_tail.clone(),
        (_, Some(r)) => {
            let mut log = String::new();
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
    let sandbox = planned.and_then(|p| match &p.step.kind {
        StepKind::Run(run) => Some(Sandbox {
            memory_bytes: run.limits.memory,
            swap_bytes: 0,
            pids: Some(run.limits.pids),
            cpus: run.limits.cpus,
            network: run.network.as_str(),
            capabilities: CAPABILITIES.to_vec(),
            no_new_privileges: true,
            privileged: false,
            timeout_seconds: run.timeout.as_secs_f64(),
            max_context_bytes: None,
        }),
        StepKind::Build(build) => Some(Sandbox {
            memory_bytes: build.limits.memory,
            swap_bytes: 0,
            pids: None,
            cpus: build.limits.cpus,
            network: build.network.as_str(),
            capabilities: Vec::new(),
            no_new_privileges: false,
            privileged: false,
            timeout_seconds: build.timeout.as_secs_f64(),
            max_context_bytes: Some(build.max_context),
        }),
        StepKind::Image { .. } | StepKind::Container { .. } => None,
    });
    StepSummary {
        name: o.step.clone(),
        kind,
        duration: o.duration,
        status,
        message,
        image_id: o.image.as_ref().map(|i| i.id.clone()),
        size: o.image.as_ref().map(|i| i.size),
        layers: o.image.as_ref().map(|i| i.layers),
        exit_code: o.run.as_ref().and_then(|r| r.exit_code),
        context_bytes: o.build.as_ref().and_then(|b| b.context_bytes),
        stdout_dropped: o.run.as_ref().map(|r| r.stdout_dropped),
        stderr_dropped: o.run.as_ref().map(|r| r.stderr_dropped),
        sandbox,
        log,
    }
}
