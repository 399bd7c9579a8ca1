//! One student's submission, graded alone: its own run id, engine, staging
//! and resources, with the same runner as `check`, under a timeout; its
//! reports written to its folder; nothing of it left on the daemon.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::archive;
use super::layout::{Source, Submission};
use super::progress::Progress;
use super::store::{CheckMark, Row, RowStatus, Store};
use crate::check::Status;
use crate::engine::{Engine, KeptLayers};
use crate::event::{Event, ExercisePreview, ExerciseResult};
use crate::names;
use crate::report::human::HumanReporter;
use crate::report::json::{Json, Submitted};
use crate::report::junit::Junit;
use crate::report::{Collector, Export, Reporter, Style};
use crate::runner::{self, RunOptions};
use crate::signal::WIND_DOWN;
use crate::spec::Exercise;
use crate::units::{format_duration, seconds};

/// What every submission of a batch is graded with.
#[derive(Debug)]
pub(crate) struct Context {
    pub exercises: Vec<Exercise>,
    /// The hash of the course (see `digest::course`).
    pub course: String,
    pub timeout: Duration,
    /// Steps of one submission run at once, at most.
    pub step_jobs: usize,
    pub store: Store,
    /// Set on Ctrl-C or SIGTERM: running submissions stop, no row is written
    /// for them, nothing new starts.
    pub cancel: CancellationToken,
}

impl Context {
    pub fn max_points(&self) -> u32 {
        self.exercises.iter().map(Exercise::max_points).sum()
    }
}

/// How grading one submission ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Its row is written.
    Done(Box<Row>),
    /// The daemon stopped answering: grade it again elsewhere.
    DaemonLost(String),
    /// The batch is being stopped: nothing was written.
    Interrupted,
}

/// A row without reports (`missing`, `invalid`), for `folder`.
pub(crate) fn plain_row(
    ctx: &Context,
    sub: &Submission,
    folder: &str,
    status: RowStatus,
    message: String,
) -> Row {
    Row {
        student: sub.student.clone(),
        folder: folder.to_string(),
        status,
        message,
        points: ctx.exercises.iter().map(|e| (e.id.clone(), 0)).collect(),
        total: 0,
        max: ctx.max_points(),
        checks: Vec::new(),
        hash: None,
        duration_seconds: 0.0,
    }
}

/// Grades `sub` on the daemon whose build cache is `kept`.
pub(crate) async fn grade(
    ctx: &Context,
    kept: &Arc<KeptLayers>,
    sub: &Submission,
    folder: &str,
    progress: &Progress,
) -> Outcome {
    let started = Instant::now();
    let host = kept.host();
    // An archive is unpacked into a private folder, removed when this ends.
    let unpacked;
    let path: PathBuf = match &sub.source {
        Source::Folder(p) => p.clone(),
        Source::Refused(why) => {
            return done(
                ctx,
                plain_row(ctx, sub, folder, RowStatus::Invalid, why.clone()),
                &[],
            );
        }
        Source::Archive(a) => match unpack(a).await {
            Ok(dir) => {
                unpacked = dir;
                unpacked.path().to_path_buf()
            }
            Err(why) => {
                return done(
                    ctx,
                    plain_row(ctx, sub, folder, RowStatus::Invalid, why),
                    &[],
                );
            }
        },
    };
    if is_empty(&path) {
        let why = "the submission is empty: nothing to grade".to_string();
        return done(
            ctx,
            plain_row(ctx, sub, folder, RowStatus::Invalid, why),
            &[],
        );
    }
    let hash = hash_of(&sub.source, &path, &ctx.course).await;
    let engine = match Engine::connect_to(host, &names::new_run_id()).await {
        Ok(e) => Arc::new(e.keeping_layers(kept.clone())),
        Err(e) => return Outcome::DaemonLost(e.to_string()),
    };
    progress.started(&sub.student.id);
    let run = run(ctx, &engine, &path, &sub.student.id, progress).await;
    let cleanup = engine.cleanup().await;
    if !cleanup.daemon_gone {
        // A lost daemon is said once, as the submission goes back.
        cleanup.warn();
    }
    let Some((events, timed_out)) = run else {
        return Outcome::Interrupted;
    };
    let results = finished(&events);
    let errored = results
        .iter()
        .flat_map(|r| &r.outcomes)
        .find(|o| o.status == Status::Error);
    if errored.is_some() && !engine.answers().await {
        return Outcome::DaemonLost(format!("the daemon at {host} stopped answering"));
    }
    let row = graded_row(
        ctx, sub, folder, &results, timed_out, errored, &hash, started,
    );
    let reports = reports(&events, &sub.student.id, &hash);
    done(ctx, row, &reports)
}

/// A submission with nothing in it but, perhaps, a Git repository with no
/// files checked out (an assignment accepted and never pushed to).
fn is_empty(path: &Path) -> bool {
    std::fs::read_dir(path).is_ok_and(|entries| entries.flatten().all(|e| e.file_name() == ".git"))
}

/// The row of a submission that was graded (to its end or its timeout).
#[allow(clippy::too_many_arguments)]
fn graded_row(
    ctx: &Context,
    sub: &Submission,
    folder: &str,
    results: &[&ExerciseResult],
    timed_out: bool,
    errored: Option<&crate::check::Outcome>,
    hash: &str,
    started: Instant,
) -> Row {
    let (status, message) = match (timed_out, errored) {
        (true, _) => (
            RowStatus::Timeout,
            format!(
                "stopped after {}: {} of {} exercises graded",
                format_duration(ctx.timeout),
                results.len(),
                ctx.exercises.len()
            ),
        ),
        (false, Some(o)) => (RowStatus::Error, format!("{}: {}", o.name, o.message)),
        (false, None) => (RowStatus::Graded, String::new()),
    };
    Row {
        student: sub.student.clone(),
        folder: folder.to_string(),
        status,
        message,
        points: ctx
            .exercises
            .iter()
            .map(|e| {
                let points = results
                    .iter()
                    .find(|r| r.id == e.id)
                    .map_or(0, |r| r.points);
                (e.id.clone(), points)
            })
            .collect(),
        total: results.iter().map(|r| r.points).sum(),
        max: ctx.max_points(),
        checks: marks(results),
        hash: Some(hash.to_string()),
        duration_seconds: seconds(started.elapsed()),
    }
}

/// Writes the row (and reports) and says it is done.
fn done(ctx: &Context, row: Row, reports: &[(&str, Vec<u8>)]) -> Outcome {
    match ctx.store.write(&row, reports) {
        Ok(()) => Outcome::Done(Box::new(row)),
        Err(e) => {
            let mut row = row;
            row.status = RowStatus::Error;
            row.message = format!("could not write the results: {e}");
            Outcome::Done(Box::new(row))
        }
    }
}

async fn unpack(archive: &Path) -> Result<tempfile::TempDir, String> {
    let archive = archive.to_path_buf();
    let job = tokio::task::spawn_blocking(move || {
        let dir = tempfile::Builder::new()
            .prefix("dockgrade-submission-")
            .tempdir()
            .map_err(|e| format!("cannot make a folder to unpack into: {e}"))?;
        archive::unpack(&archive, dir.path(), archive::Limits::default())?;
        Ok::<_, String>(dir)
    });
    job.await.map_err(|e| format!("unpacking failed: {e}"))?
}

async fn hash_of(source: &Source, unpacked: &Path, course: &str) -> String {
    let what = match source {
        Source::Archive(a) => a.clone(),
        _ => unpacked.to_path_buf(),
    };
    let course = course.to_string();
    tokio::task::spawn_blocking(move || super::digest::submission(&what, &course))
        .await
        .unwrap_or_default()
}

/// Runs the exercises, within the timeout and until the batch is stopped:
/// every event, and whether the timeout struck; `None` when stopped.
async fn run(
    ctx: &Context,
    engine: &Engine,
    path: &Path,
    student: &str,
    progress: &Progress,
) -> Option<(Vec<Event>, bool)> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let started = Instant::now();
    let _ = tx.send(Event::RunStarted {
        run_id: engine.run_id().to_string(),
        exercises: ctx.exercises.iter().map(ExercisePreview::of).collect(),
    });
    let options = RunOptions {
        submission: path.to_path_buf(),
        jobs: ctx.step_jobs,
    };
    // The runner's own sender: dropping its future closes it.
    let runner_tx = tx.clone();
    let mut graded =
        Box::pin(async move { runner::run(engine, &ctx.exercises, &options, &runner_tx).await });
    let collect = async {
        let mut events = Vec::new();
        while let Some(e) = rx.recv().await {
            progress.event(student, &e);
            events.push(e);
        }
        events
    };
    let outcome = async {
        let stopped = tokio::select! {
            _ = &mut graded => None,
            _ = tokio::time::sleep(ctx.timeout) => Some(false),
            _ = ctx.cancel.cancelled() => Some(true),
        };
        if stopped.is_some() {
            engine.cancel();
            let _ = tokio::time::timeout(WIND_DOWN, &mut graded).await;
        }
        drop(graded);
        let _ = tx.send(Event::RunFinished {
            duration: started.elapsed(),
            interrupted: None,
        });
        drop(tx);
        stopped
    };
    let (stopped, events) = tokio::join!(outcome, collect);
    match stopped {
        Some(true) => None,
        Some(false) => Some((events, true)),
        None => Some((events, false)),
    }
}

fn finished(events: &[Event]) -> Vec<&ExerciseResult> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ExerciseFinished { result } => Some(result),
            _ => None,
        })
        .collect()
}

fn marks(results: &[&ExerciseResult]) -> Vec<CheckMark> {
    results
        .iter()
        .flat_map(|r| {
            r.outcomes.iter().map(|o| CheckMark {
                exercise: r.id.clone(),
                check: o.name.clone(),
                passed: o.status == Status::Passed,
            })
        })
        .collect()
}

/// `report.json`, `report.txt` and `junit.xml`, from the events.
fn reports(events: &[Event], student: &str, hash: &str) -> Vec<(&'static str, Vec<u8>)> {
    let mut human = HumanReporter::new(Vec::new(), Style::new(false), false);
    let mut collector = Collector::default();
    for e in events {
        let _ = human.report(e);
        collector.observe(e);
    }
    let json = Json {
        submission: Some(Submitted {
            student: student.to_string(),
            hash: hash.to_string(),
        }),
    };
    let mut out = vec![("report.txt", human.into_output())];
    if let Ok(bytes) = json.render(&collector) {
        out.push(("report.json", bytes));
    }
    if let Ok(bytes) = Junit.render(&collector) {
        out.push(("junit.xml", bytes));
    }
    out
}
