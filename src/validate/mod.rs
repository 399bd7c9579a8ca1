//! `dockgrade validate`: course CI. The course itself is what is tested.
//!
//! For every exercise, the reference solution (`solutions/<id>/`) must pass
//! every check, and every known-wrong submission (`solutions/<id>/wrong/<case>/`)
//! must fail exactly the checks its `expect.toml` lists and pass the rest. A
//! check that no wrong case makes fail is reported too: a check that cannot
//! fail is a defect of the course. Grading goes through the same runner as
//! `check`; this module only compares outcomes with expectations and reports,
//! and replays a live case's commands through the labelling proxy of
//! [`crate::replay`], so that only what they created is removed afterwards.
//! [`order`] takes the cases of the exercises in turn, for the build cache.

mod order;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::check::Status;
use std::sync::Arc;

use crate::engine::{Engine, EngineError, KeptLayers};
use crate::event::ExerciseResult;
use crate::exit;
use crate::names;
use crate::replay::{Proxy, Recorded};
use crate::runner::{self, RunOptions};
use crate::signal::Signal;
use crate::spec::{Exercise, Mode};

/// Why the course could not be validated at all.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ValidateError {
    /// The course's own files: a missing solution, a bad `expect.toml`, a
    /// live case without its commands.
    #[error("{0}")]
    Course(String),
    /// The daemon cannot be reached as a live case's replay must reach it,
    /// or cannot list what a replay left.
    #[error(transparent)]
    Daemon(#[from] EngineError),
    /// A live case's commands could not be run to their end.
    #[error("{0}")]
    Replay(String),
    /// A case needs a daemon that is not there (a rootless one).
    #[error("{0}")]
    MissingDaemon(String),
}

/// `solutions/<id>/wrong/<case>/expect.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Expectation {
    /// The beginner mistake this case makes, in a sentence.
    pub mistake: String,
    /// Names of the checks this submission must not pass.
    pub fails: Vec<String>,
}

/// One graded submission compared with what it should do.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CaseResult {
    pub exercise: String,
    /// `solution` or `wrong/<case>`.
    pub case: String,
    pub mistake: Option<String>,
    /// What a correct variant does differently (`ok/` cases).
    pub approach: Option<String>,
    pub ok: bool,
    pub expected_failures: Vec<String>,
    pub actual_failures: Vec<String>,
    /// What does not match, in words; empty when `ok`.
    pub problems: Vec<String>,
    pub duration_seconds: f64,
}

/// A check that no wrong case makes fail.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Uncovered {
    pub exercise: String,
    pub check: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ValidateReport {
    pub schema: &'static str,
    /// The run id its resources were labelled with.
    pub run_id: String,
    pub cases: Vec<CaseResult>,
    pub uncovered: Vec<Uncovered>,
    pub infrastructure_errors: usize,
    /// Set when a signal cut the validation short; the cases not reached
    /// are not listed.
    pub interrupted: Option<Signal>,
}

impl ValidateReport {
    pub fn new(run_id: &str) -> Self {
        ValidateReport {
            schema: "dockgrade.validate/1",
            run_id: run_id.to_string(),
            cases: Vec::new(),
            uncovered: Vec::new(),
            infrastructure_errors: 0,
            interrupted: None,
        }
    }

    /// Cases in the course's order (exercises as given, then solution, ok
    /// and wrong cases by name), however they finished.
    pub fn sort(&mut self, exercises: &[Exercise]) {
        let rank = |id: &str| {
            exercises
                .iter()
                .position(|e| e.id == id)
                .unwrap_or(usize::MAX)
        };
        let kind = |case: &str| match case.split('/').next() {
            Some("solution") => 0,
            Some("ok") => 1,
            _ => 2,
        };
        self.cases.sort_by(|a, b| {
            (rank(&a.exercise), kind(&a.case), &a.case).cmp(&(
                rank(&b.exercise),
                kind(&b.case),
                &b.case,
            ))
        });
    }

    pub fn exit_code(&self) -> i32 {
        if let Some(signal) = self.interrupted {
            signal.exit_code()
        } else if self.infrastructure_errors > 0 {
            exit::INFRASTRUCTURE
        } else if self.cases.iter().any(|c| !c.ok) || !self.uncovered.is_empty() {
            exit::CHECK_FAILED
        } else {
            exit::SUCCESS
        }
    }
}

/// One submission of the course, and what it must fail.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    /// `solution`, `ok/<case>` or `wrong/<case>`.
    pub label: String,
    pub dir: PathBuf,
    /// `None` for the reference solution and the other correct ones, which
    /// fail nothing.
    pub expect: Option<Expectation>,
    /// What a correct variant does differently (`ok/<case>/about.toml`).
    pub approach: Option<String>,
    /// The daemon a live case is graded on, when not the one validate was
    /// given (`<case>/daemon.toml`: `host = "rootless"`).
    pub daemon: Option<CaseDaemon>,
}

/// A daemon other than validate's own that a live case needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum CaseDaemon {
    /// A rootless daemon on this machine, at `$DOCKGRADE_ROOTLESS_HOST`
    /// (what `ci/rootless-up.sh` prints).
    Rootless,
    /// A daemon that runs as root with `--userns-remap`, at
    /// `$DOCKGRADE_USERNS_HOST` (`ci/second-daemon.sh` with
    /// `DOCKGRADE_DAEMON_ARGS=--userns-remap=default`).
    Userns,
}

/// `<case>/daemon.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DaemonFile {
    host: CaseDaemon,
}

/// The variable naming the rootless daemon that cases may need.
pub(crate) const ROOTLESS_HOST_VAR: &str = "DOCKGRADE_ROOTLESS_HOST";
/// The variable naming the user-namespace-remapping daemon cases may need.
pub(crate) const USERNS_HOST_VAR: &str = "DOCKGRADE_USERNS_HOST";

/// The daemon a case folder asks for, if any.
fn case_daemon(dir: &Path) -> Result<Option<CaseDaemon>, ValidateError> {
    let file = dir.join("daemon.toml");
    if !file.is_file() {
        return Ok(None);
    }
    let chosen: DaemonFile = read_toml(&file)?;
    Ok(Some(chosen.host))
}

/// Where a case's daemon answers: validate's own, or the one it names.
fn case_host(case: &Case, default: &str) -> Result<String, ValidateError> {
    match case.daemon {
        None => Ok(default.to_string()),
        Some(daemon) => {
            let (var, what, how) = match daemon {
                CaseDaemon::Rootless => (
                    ROOTLESS_HOST_VAR,
                    "a rootless daemon",
                    "as root, `ci/rootless-up.sh` starts one and prints its address",
                ),
                CaseDaemon::Userns => (
                    USERNS_HOST_VAR,
                    "a daemon with --userns-remap",
                    "as root, `DOCKGRADE_DAEMON_ARGS=--userns-remap=default ci/second-daemon.sh start DIR` starts one at unix://DIR/docker.sock",
                ),
            };
            match std::env::var(var) {
                Ok(host) if !host.trim().is_empty() => Ok(host.trim().to_string()),
                _ => Err(ValidateError::MissingDaemon(format!(
                    "case {} is graded on {what}: start one ({how}) and set {var} to its address",
                    case.dir.display()
                ))),
            }
        }
    }
}

/// `solutions/<id>/ok/<case>/about.toml`: a correct solution that is not
/// the reference, written as another student would.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct About {
    /// How it differs from the reference, in a sentence.
    approach: String,
}

/// The submissions to grade for one exercise, with what each must fail.
pub(crate) fn cases(exercise: &Exercise, solutions: &Path) -> Result<Vec<Case>, ValidateError> {
    let course = ValidateError::Course;
    let dir = solutions.join(&exercise.id);
    if !dir.is_dir() {
        return Err(course(format!(
            "no reference solution: {} does not exist",
            dir.display()
        )));
    }
    let mut out = vec![Case {
        label: "solution".to_string(),
        dir: dir.clone(),
        expect: None,
        approach: None,
        daemon: case_daemon(&dir)?,
    }];
    for (label, case) in folders(&dir, "ok") {
        let about: About = read_toml(&case.join("about.toml"))?;
        out.push(Case {
            label,
            daemon: case_daemon(&case)?,
            dir: case,
            expect: None,
            approach: Some(about.approach),
        });
    }
    for (label, case) in folders(&dir, "wrong") {
        let file = case.join("expect.toml");
        let expect: Expectation = read_toml(&file)?;
        for name in &expect.fails {
            if !exercise.checks.iter().any(|c| &c.name == name) {
                return Err(course(format!(
                    "{}: no check named {name:?} in exercise {}",
                    file.display(),
                    exercise.id
                )));
            }
        }
        out.push(Case {
            label,
            daemon: case_daemon(&case)?,
            dir: case,
            expect: Some(expect),
            approach: None,
        });
    }
    Ok(out)
}

/// The case folders under `<dir>/<kind>/`, sorted, labelled `<kind>/<name>`.
fn folders(dir: &Path, kind: &str) -> Vec<(String, PathBuf)> {
    let mut found: Vec<PathBuf> = match fs::read_dir(dir.join(kind)) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect(),
        Err(_) => Vec::new(),
    };
    found.sort();
    found
        .into_iter()
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (format!("{kind}/{name}"), p)
        })
        .collect()
}

/// A case's TOML file, or a course error naming it.
fn read_toml<T: serde::de::DeserializeOwned>(file: &Path) -> Result<T, ValidateError> {
    let text = fs::read_to_string(file)
        .map_err(|e| ValidateError::Course(format!("{}: {e}", file.display())))?;
    toml::from_str(&text).map_err(|e| ValidateError::Course(format!("{}: {e}", file.display())))
}

/// Compares a graded submission with its expectation.
pub(crate) fn compare(exercise: &Exercise, case: &Case, result: &ExerciseResult) -> CaseResult {
    let expect = case.expect.as_ref();
    let actual: BTreeSet<String> = result
        .outcomes
        .iter()
        .filter(|o| o.status != Status::Passed)
        .map(|o| o.name.clone())
        .collect();
    let expected: BTreeSet<String> = expect
        .map(|e| e.fails.iter().cloned().collect())
        .unwrap_or_default();
    let mut problems = Vec::new();
    for o in result.outcomes.iter().filter(|o| o.status == Status::Error) {
        problems.push(format!("{:?} could not be decided: {}", o.name, o.message));
    }
    for name in expected.difference(&actual) {
        problems.push(format!("{name:?} passed but should fail"));
    }
    for name in actual.difference(&expected) {
        let why = result
            .outcomes
            .iter()
            .find(|o| &o.name == name)
            .map(|o| o.message.clone())
            .unwrap_or_default();
        problems.push(format!("{name:?} failed but should pass: {why}"));
    }
    CaseResult {
        exercise: exercise.id.clone(),
        case: case.label.clone(),
        mistake: expect.map(|e| e.mistake.clone()),
        approach: case.approach.clone(),
        ok: problems.is_empty(),
        expected_failures: expected.into_iter().collect(),
        actual_failures: actual.into_iter().collect(),
        problems,
        duration_seconds: result.duration.as_secs_f64(),
    }
}

/// Checks of `exercise` that no wrong case expects to fail.
pub(crate) fn uncovered(exercise: &Exercise, cases: &[CaseResult]) -> Vec<Uncovered> {
    let failed: BTreeSet<&String> = cases
        .iter()
        .filter(|c| c.case.starts_with("wrong/"))
        .flat_map(|c| c.expected_failures.iter())
        .collect();
    exercise
        .checks
        .iter()
        .filter(|c| !failed.contains(&c.name))
        .map(|c| Uncovered {
            exercise: exercise.id.clone(),
            check: c.name.clone(),
        })
        .collect()
}

/// Grades every case of every exercise into `report`, which holds every
/// case graded so far when this future is dropped (on a signal).
///
/// Cases of `check` exercises are graded `jobs` at a time, each on an
/// engine of its own (its own run id and resources, as `batch` grades
/// students), started from `host` and stopped with `cancel`. Cases of live
/// exercises replay a student's commands, whose containers have fixed
/// names: they are graded one after the other, on `engine`. The engines of
/// `check` cases leave their layers to `kept`, the build cache the caller
/// removes when validation ends.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn validate(
    engine: &Engine,
    host: &str,
    kept: &Arc<KeptLayers>,
    exercises: &[Exercise],
    solutions: &Path,
    jobs: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
    report: &mut ValidateReport,
) -> Result<(), ValidateError> {
    let mut all: Vec<(&Exercise, Case)> = Vec::new();
    for ex in exercises {
        all.extend(cases(ex, solutions)?.into_iter().map(|c| (ex, c)));
    }
    let total = all.len();
    // A case that needs a daemon which is not there fails now, not after
    // the rest of the course has been graded.
    for (_, case) in &all {
        case_host(case, host)?;
    }
    let (live, check): (Vec<_>, Vec<_>) =
        all.into_iter().partition(|(ex, _)| ex.mode == Mode::Live);
    let check = order::round_robin(check, |(ex, _)| ex.id.as_str());
    let mut graded = futures_util::stream::iter(check)
        .map(|(ex, case)| async move {
            let engine = Engine::connect_to(host, &names::new_run_id())
                .await?
                .stopped_with(engine)
                .keeping_layers(kept.clone());
            let result = grade_case(&engine, host, ex, &case, solutions, STEP_JOBS).await?;
            Ok::<_, ValidateError>((ex, case, result))
        })
        .buffer_unordered(jobs.max(1));
    while let Some(done) = graded.next().await {
        let (ex, case, result) = done?;
        record(report, ex, &case, result);
        progress(report.cases.len(), total);
    }
    drop(graded);
    for (ex, case) in live {
        if engine.is_cancelled() {
            break;
        }
        let result = match case.daemon {
            None => grade_case(engine, host, ex, &case, solutions, STEP_JOBS).await?,
            Some(_) => {
                let other = case_host(&case, host)?;
                let elsewhere = Engine::connect_to(&other, &names::new_run_id())
                    .await?
                    .stopped_with(engine);
                grade_case(&elsewhere, &other, ex, &case, solutions, STEP_JOBS).await?
            }
        };
        record(report, ex, &case, result);
        progress(report.cases.len(), total);
    }
    if !engine.is_cancelled() {
        for ex in exercises {
            let results: Vec<CaseResult> = report
                .cases
                .iter()
                .filter(|c| c.exercise == ex.id)
                .cloned()
                .collect();
            report.uncovered.extend(uncovered(ex, &results));
        }
    }
    report.sort(exercises);
    Ok(())
}

/// Steps of one case run at once, at most.
const STEP_JOBS: usize = 4;

/// Compares a graded case with what it must do, into the report.
fn record(report: &mut ValidateReport, ex: &Exercise, case: &Case, result: Option<ExerciseResult>) {
    // A case the cancelled engine did not finish has no result.
    let Some(result) = result else { return };
    report.infrastructure_errors += result.count(Status::Error);
    report.cases.push(compare(ex, case, &result));
}

/// Grades one case with the same runner as `check`. A live exercise grades
/// what the student typed: its commands are replayed first, and what they
/// created is removed afterwards, also when they could not be run to their
/// end.
async fn grade_case(
    engine: &Engine,
    host: &str,
    ex: &Exercise,
    case: &Case,
    solutions: &Path,
    jobs: usize,
) -> Result<Option<ExerciseResult>, ValidateError> {
    let replayed = match ex.mode {
        Mode::Live => {
            let (recorded, outcome) = replay(engine.run_id(), host, &case.dir, solutions).await;
            if let Err(e) = outcome {
                // The replay's own failure is the one to report.
                let _ = tidy(engine, &recorded).await;
                return Err(e);
            }
            Some(recorded)
        }
        Mode::Check => None,
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let options = RunOptions {
        submission: case.dir.clone(),
        jobs,
    };
    let graded = runner::run(engine, std::slice::from_ref(ex), &options, &tx).await;
    drop(tx);
    let _ = drain.await;
    if let Some(recorded) = &replayed {
        tidy(engine, recorded).await?;
    }
    Ok(graded.into_iter().next())
}

/// Removes what a replay created: everything the proxy labelled with the
/// run's id (the runner's own cleanup after grading removed most of it
/// already), then the tags it added to images that are not ours, and what
/// its builds left that could carry no label. A daemon that cannot list
/// what carries the run's label stops the validation: what the replay left
/// is unknown, and the next case would be graded beside it.
async fn tidy(engine: &Engine, recorded: &Recorded) -> Result<(), ValidateError> {
    let reports = [
        engine.cleanup().await,
        engine.remove_references(&recorded.references).await,
        engine
            .remove_build_debris(&recorded.build_containers, &recorded.layers)
            .await,
    ];
    for f in reports.iter().flat_map(|r| &r.failures) {
        tracing::warn!("could not remove what commands.sh created: {f}");
    }
    match reports.into_iter().find_map(|r| r.listing_failure) {
        Some(message) => Err(EngineError::Daemon(message).into()),
        None => Ok(()),
    }
}

/// Runs `<dir>/commands.sh` with bash (the docker commands a student would
/// type, for a live exercise), its docker CLI talking to the daemon through
/// a labelling proxy; returns what the proxy recorded, and how the run
/// ended. Dropping this future (on a signal) stops the script and the proxy.
async fn replay(
    run_id: &str,
    host: &str,
    dir: &Path,
    solutions: &Path,
) -> (Recorded, Result<(), ValidateError>) {
    let script = dir.join("commands.sh");
    if !script.is_file() {
        let why = format!(
            "{} is missing: a live exercise's cases are the commands a student types",
            script.display()
        );
        return (Recorded::default(), Err(ValidateError::Course(why)));
    }
    let host = host.to_string();
    let proxy = match Proxy::start(run_id, &host) {
        Ok(proxy) => proxy,
        Err(message) => {
            let unreachable = EngineError::Unreachable { host, message };
            return (Recorded::default(), Err(unreachable.into()));
        }
    };
    let root = fs::canonicalize(solutions)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let run = tokio::process::Command::new("bash")
        .arg("commands.sh")
        .current_dir(dir)
        .env("COURSE_ROOT", &root)
        .env("DOCKER_BUILDKIT", "0")
        .env("DOCKER_HOST", proxy.docker_host())
        // The proxy speaks plain HTTP on its socket, whatever the daemon's
        // own address needs.
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let outcome = match tokio::time::timeout(std::time::Duration::from_secs(600), run).await {
        Ok(Ok(out)) => {
            tracing::debug!(
                "{} exited {:?}\n{}{}",
                script.display(),
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            Ok(())
        }
        Ok(Err(e)) => Err(ValidateError::Replay(format!(
            "cannot run {}: {e}",
            script.display()
        ))),
        Err(_) => Err(ValidateError::Replay(format!(
            "{} did not finish within 10 minutes",
            script.display()
        ))),
    };
    (proxy.finish(), outcome)
}
