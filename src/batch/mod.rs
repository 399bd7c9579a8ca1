//! `dockgrade batch`: a class's submissions graded safely and in parallel,
//! resumable, with a gradebook; and `merge` of shards graded apart.
//!
//! The rooms: [`layout`] finds the students in the layouts courses hand in,
//! [`archive`] unpacks an archive without letting it out of its folder,
//! [`roster`] reads the class list, [`shard`] takes a deterministic share of
//! the class, [`digest`] hashes what a result depends on, [`grade`] grades
//! one submission alone (its own run, engine and resources, the same runner
//! as `check`), [`store`] writes each student's files as they finish and
//! reads them back, [`gradebook`] makes the class's files, [`progress`]
//! shows what runs. Here: the queue, worked by `--jobs` workers per daemon;
//! a daemon that stops answering hands its submissions back to the queue.
//! There is no scheduler beyond that: scale-out is `--shard` under the
//! engines courses already run (CI matrices, Kubernetes, Swarm).

pub(crate) mod archive;
pub(crate) mod digest;
pub(crate) mod export;
pub(crate) mod grade;
pub(crate) mod gradebook;
pub(crate) mod html;
pub(crate) mod layout;
pub(crate) mod progress;
pub(crate) mod roster;
pub(crate) mod shard;
pub(crate) mod store;
pub(crate) mod student;

use std::collections::{BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use self::grade::{Context, Outcome};
use self::gradebook::{Batch, ExerciseColumn};
use self::layout::{Layout, Submission};
use self::progress::Progress;
use self::shard::Shard;
use self::store::{Row, RowStatus, Store};
use self::student::{Student, folder_name};
use crate::engine::{CleanupReport, Engine, KeptLayers};
use crate::error::Error;
use crate::names;

/// What `dockgrade batch` was asked.
#[derive(Debug)]
pub(crate) struct Request {
    pub submissions: PathBuf,
    pub layout: Option<Layout>,
    pub roster: Option<Vec<Student>>,
    pub only: Vec<String>,
    pub force: bool,
    pub shard: Shard,
    pub hosts: Vec<String>,
    /// Submissions graded at once per daemon.
    pub jobs: usize,
    pub quiet: bool,
}

/// How a batch ended.
#[derive(Debug)]
pub(crate) struct Ended {
    pub batch: Batch,
    /// Submissions left ungraded because no daemon answered any more.
    pub stranded: usize,
    pub interrupted: bool,
}

/// A submission to grade, with the folder its results go to.
#[derive(Debug, Clone)]
struct Task {
    submission: Submission,
    folder: String,
}

/// A daemon the workers grade on, while it answers.
#[derive(Debug)]
struct Daemon {
    host: String,
    alive: AtomicBool,
    /// The build cache its runs share, removed when the batch ends.
    kept: Arc<KeptLayers>,
}

/// Grades the class; writes every student's files and the gradebook.
pub(crate) async fn run(ctx: Arc<Context>, req: Request) -> Result<Ended, Error> {
    let started = Instant::now();
    let (layout, found) = layout::discover(&req.submissions, req.layout).map_err(Error::Usage)?;
    let mut warnings = found.warnings;
    let (tasks, missing) = plan(&ctx, &req, found.submissions, &mut warnings);
    for w in &warnings {
        if !req.quiet {
            eprintln!("warning: {}", crate::report::visible(w));
        }
    }
    for row in &missing {
        ctx.store.write(row, &[])?;
    }
    let mut queue = VecDeque::new();
    let progress = Arc::new(Progress::new(tasks.len() as u64, req.quiet));
    for task in tasks {
        match kept(&ctx, &req, &task).await {
            Some(row) => progress.finished(&row, true),
            None => queue.push_back(task),
        }
    }
    let queue = Arc::new(Queue::new(queue));
    let daemons: Vec<Arc<Daemon>> = req
        .hosts
        .iter()
        .map(|h| {
            Arc::new(Daemon {
                host: h.clone(),
                alive: AtomicBool::new(true),
                kept: Arc::new(KeptLayers::new(h, &names::new_run_id())),
            })
        })
        .collect();
    // The workers take turns on this task: their work is the daemon's, and
    // what would block (unpacking, hashing, walking a context) runs on
    // blocking threads of its own.
    let mut workers = Vec::new();
    for daemon in &daemons {
        for _ in 0..req.jobs.max(1) {
            workers.push(work(
                ctx.clone(),
                daemon.clone(),
                queue.clone(),
                progress.clone(),
            ));
        }
    }
    futures_util::future::join_all(workers).await;
    progress.done();
    for daemon in &daemons {
        release_cache(daemon, req.quiet).await;
    }
    let stranded = queue.waiting();
    for d in daemons.iter().filter(|d| !d.alive.load(Ordering::Relaxed)) {
        eprintln!(
            "the daemon at {} stopped answering during the batch",
            d.host
        );
    }
    let batch = Batch::new(
        ctx.course.clone(),
        ctx.exercises.iter().map(ExerciseColumn::of).collect(),
        req.shard,
        Some(layout),
        started.elapsed(),
        warnings,
        ctx.store.rows(),
    );
    write_gradebook(&ctx.store, &batch)?;
    Ok(Ended {
        batch,
        stranded,
        interrupted: ctx.cancel.is_cancelled(),
    })
}

/// The submissions of this shard to grade, and the roster's students who
/// submitted nothing, as rows.
fn plan(
    ctx: &Context,
    req: &Request,
    found: Vec<Submission>,
    warnings: &mut Vec<String>,
) -> (Vec<Task>, Vec<Row>) {
    let mut seen = BTreeSet::new();
    let mut tasks = Vec::new();
    let roster_ids: Option<BTreeSet<&str>> = req
        .roster
        .as_ref()
        .map(|r| r.iter().map(|s| s.id.as_str()).collect());
    for mut submission in found {
        let id = submission.student.id.clone();
        if !seen.insert(id.clone()) {
            warnings.push(format!(
                "{id:?} has more than one submission: the first is graded"
            ));
            continue;
        }
        match (&roster_ids, &req.roster) {
            (Some(ids), Some(roster)) if ids.contains(id.as_str()) => {
                if let Some(known) = roster.iter().find(|s| s.id == id) {
                    submission.student = merged(known, &submission.student);
                }
            }
            (Some(_), _) => warnings.push(format!("{id:?} is not on the roster")),
            _ => {}
        }
        if req.shard.contains(&id) && (req.only.is_empty() || req.only.contains(&id)) {
            tasks.push(Task {
                folder: folder_name(&id),
                submission,
            });
        }
    }
    let mut missing = Vec::new();
    for student in req.roster.iter().flatten() {
        if !seen.contains(&student.id) && req.shard.contains(&student.id) {
            let sub = Submission {
                student: student.clone(),
                source: layout::Source::Refused(String::new()),
            };
            let folder = folder_name(&student.id);
            missing.push(grade::plain_row(
                ctx,
                &sub,
                &folder,
                RowStatus::Missing,
                "nothing was submitted".into(),
            ));
        }
    }
    (tasks, missing)
}

/// What a roster says of a student, with what the submission adds.
fn merged(roster: &Student, found: &Student) -> Student {
    Student {
        id: roster.id.clone(),
        name: roster.name.clone().or_else(|| found.name.clone()),
        email: roster.email.clone().or_else(|| found.email.clone()),
        section: roster.section.clone(),
    }
}

/// The row a previous run wrote for `task`, when it still holds: same
/// submission, course and version, and not an error or a timeout (those are
/// tried again). `--force` and `--only` grade again.
async fn kept(ctx: &Context, req: &Request, task: &Task) -> Option<Row> {
    if req.force || !req.only.is_empty() {
        return None;
    }
    let row = ctx.store.row(&task.folder)?;
    if matches!(row.status, RowStatus::Error | RowStatus::Timeout)
        || row.student.id != task.submission.student.id
    {
        return None;
    }
    let path = match &task.submission.source {
        layout::Source::Folder(p) | layout::Source::Archive(p) => p.clone(),
        layout::Source::Refused(_) => return (row.status == RowStatus::Invalid).then_some(row),
    };
    let course = ctx.course.clone();
    let hash = tokio::task::spawn_blocking(move || digest::submission(&path, &course))
        .await
        .ok()?;
    (row.hash.as_deref() == Some(hash.as_str())).then_some(row)
}

/// The submissions waiting, and how many are being graded: a worker whose
/// queue is empty still waits while others grade, since a daemon lost under
/// one of them hands its submission back.
#[derive(Debug, Default)]
struct Queue {
    state: Mutex<(VecDeque<Task>, usize)>,
    changed: tokio::sync::Notify,
}

impl Queue {
    fn new(tasks: VecDeque<Task>) -> Queue {
        Queue {
            state: Mutex::new((tasks, 0)),
            changed: tokio::sync::Notify::new(),
        }
    }

    /// The next submission; `None` once there is none left and none being
    /// graded.
    async fn take(&self) -> Option<Task> {
        loop {
            let changed = self.changed.notified();
            {
                let mut state = self.state.lock().ok()?;
                if let Some(task) = state.0.pop_front() {
                    state.1 += 1;
                    return Some(task);
                }
                if state.1 == 0 {
                    return None;
                }
            }
            changed.await;
        }
    }

    /// A submission taken is finished, or handed back to be graded again.
    fn finished(&self, back: Option<Task>) {
        if let Ok(mut state) = self.state.lock() {
            state.1 -= 1;
            if let Some(task) = back {
                state.0.push_front(task);
            }
        }
        self.changed.notify_waiters();
    }

    fn waiting(&self) -> usize {
        self.state.lock().map_or(0, |s| s.0.len())
    }
}

/// One worker: grades submissions on `daemon` until the queue is done, the
/// daemon is lost or the batch is stopped.
async fn work(ctx: Arc<Context>, daemon: Arc<Daemon>, queue: Arc<Queue>, progress: Arc<Progress>) {
    loop {
        if ctx.cancel.is_cancelled() || !daemon.alive.load(Ordering::Relaxed) {
            return;
        }
        let Some(task) = queue.take().await else {
            return;
        };
        if ctx.cancel.is_cancelled() || !daemon.alive.load(Ordering::Relaxed) {
            // Stopped or lost while this worker waited: not ours to grade.
            queue.finished(Some(task));
            return;
        }
        let graded = grade::grade(
            &ctx,
            &daemon.kept,
            &task.submission,
            &task.folder,
            &progress,
        )
        .await;
        match graded {
            Outcome::Done(row) => {
                progress.finished(&row, false);
                queue.finished(None);
            }
            Outcome::DaemonLost(why) => {
                tracing::warn!(
                    "{why}: {} goes back to the queue",
                    task.submission.student.id
                );
                daemon.alive.store(false, Ordering::Relaxed);
                queue.finished(Some(task));
                return;
            }
            Outcome::Interrupted => {
                queue.finished(None);
                return;
            }
        }
    }
}

/// Removes the build cache the batch kept on `daemon` (also after Ctrl-C).
/// A daemon that stopped answering keeps it, journalled, for `dockgrade
/// clean --docker-host` once it is back.
async fn release_cache(daemon: &Daemon, quiet: bool) {
    if daemon.kept.len() == 0 {
        return;
    }
    if !quiet {
        eprintln!(
            "removing the {} cached layer(s) the batch kept on {}…",
            daemon.kept.len(),
            daemon.host
        );
    }
    let report = match Engine::connect_to(&daemon.host, &names::new_run_id()).await {
        Ok(engine) => engine.release_kept(&daemon.kept).await,
        Err(_) => CleanupReport {
            daemon_gone: true,
            ..Default::default()
        },
    };
    if report.daemon_gone {
        eprintln!(
            "the layers the batch cached on {} are left: `dockgrade clean --docker-host {}` \
             removes them once the daemon answers",
            daemon.host, daemon.host
        );
    } else {
        report.warn();
    }
}

/// `grades.csv`, `summary.md`, `report.html` and `batch.json`.
pub(crate) fn write_gradebook(store: &Store, batch: &Batch) -> Result<(), Error> {
    let path = |name: &str| store.root().join(name);
    let failed = |name: &str| {
        let p = path(name);
        move |e: std::io::Error| Error::Write { path: p, source: e }
    };
    let csv = gradebook::grades_csv(batch)
        .map_err(|e| failed("grades.csv")(std::io::Error::other(e.to_string())))?;
    crate::report::ReportFile::create(&path("grades.csv"))?.write(&csv)?;
    crate::report::ReportFile::create(&path("summary.md"))?
        .write(gradebook::summary_md(batch).as_bytes())?;
    let reports = student_reports(store, batch);
    crate::report::ReportFile::create(&path("report.html"))?
        .write(html::report_html(batch, &reports).as_bytes())?;
    let json = crate::report::json::pretty(batch).map_err(failed("batch.json"))?;
    crate::report::ReportFile::create(&path("batch.json"))?.write(&json)
}

/// Each student's `report.txt` (its first 64 KiB), by folder, for the page.
fn student_reports(store: &Store, batch: &Batch) -> std::collections::BTreeMap<String, String> {
    use std::io::Read;
    batch
        .students
        .iter()
        .filter_map(|row| {
            let path = store
                .root()
                .join("students")
                .join(&row.folder)
                .join("report.txt");
            let mut text = Vec::new();
            std::fs::File::open(path)
                .and_then(|f| f.take(64 * 1024).read_to_end(&mut text))
                .ok()?;
            Some((
                row.folder.clone(),
                String::from_utf8_lossy(&text).into_owned(),
            ))
        })
        .collect()
}

/// The default number of submissions graded at once on one daemon.
pub(crate) fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8)
}
