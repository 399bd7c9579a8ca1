//! Checks: pure functions from observations to outcomes.
//!
//! [`evaluate`] decides one [`Check`] against the [`Observations`] of its
//! exercise. Nothing here touches the daemon or the file system, so every
//! assertion kind is unit-tested with hand-made observations. Each failure
//! says what was expected and what was seen, in words a student can act on.
//! Assertions about images (and builds) are in [`image`], about what their
//! layers hold in [`layers`] and [`secrets`], about runs in [`run`], about a live container
//! in [`live`], about the Dockerfile's text in [`dockerfile`], about
//! services (requests, disk use) in [`service`].

mod dockerfile;
mod image;
mod layers;
mod live;
mod run;
mod secrets;
mod service;

use serde::Serialize;

use crate::observation::{
    ImageFacts, Observations, RunFacts, StepObservation, StepStatus, resolve_uid,
};
use crate::spec::{Assertion, Check, UserExpectation, Visibility};
use crate::units::format_duration;

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    /// The submission does not do what the check asks.
    Failed,
    /// The grader or daemon failed; the check could not be decided.
    Error,
    /// Not decided because a step it needs did not run.
    Skipped,
}

impl Status {
    /// The word reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Error => "error",
            Status::Skipped => "not run",
        }
    }
}

/// The result of one check, ready for reporters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub name: String,
    pub step: String,
    pub status: Status,
    /// Points earned: all of `max_points` when passed, else 0.
    pub points: u32,
    pub max_points: u32,
    /// One line: why it failed, or what was confirmed.
    pub message: String,
    pub expected: Option<String>,
    pub actual: Option<String>,
    pub hint: Option<String>,
    /// Who may see the check's name, message and hint (instructor reports
    /// show everything; student-facing ones redact, see
    /// `report::for_students`).
    pub visibility: Visibility,
}

impl Outcome {
    /// An outcome not tied to a spec check (e.g. a missing required file).
    pub fn synthetic(name: &str, status: Status, message: String, hint: Option<String>) -> Outcome {
        Outcome {
            name: name.to_string(),
            step: String::new(),
            status,
            points: 0,
            max_points: 0,
            message,
            expected: None,
            actual: None,
            hint,
            visibility: Visibility::Visible,
        }
    }
}

/// One assertion's finding.
#[derive(Debug, Clone)]
struct Finding {
    ok: bool,
    what: String,
    expected: String,
    actual: String,
}

impl Finding {
    fn new(
        ok: bool,
        what: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> Finding {
        Finding {
            ok,
            what: what.into(),
            expected: expected.into(),
            actual: actual.into(),
        }
    }
}

/// Decides `check` against the observations of its exercise.
pub fn evaluate(check: &Check, obs: &Observations) -> Outcome {
    let mut outcome = Outcome {
        name: check.name.clone(),
        step: check.step.clone(),
        status: Status::Passed,
        points: 0,
        max_points: check.points,
        message: String::new(),
        expected: None,
        actual: None,
        hint: check.hint.clone(),
        visibility: check.visibility,
    };
    let Some(step) = obs.steps.get(&check.step) else {
        outcome.status = Status::Skipped;
        outcome.message = format!("step `{}` was not run", check.step);
        return outcome;
    };
    let mut findings = Vec::new();
    for a in &check.assertions {
        match assess(a, step, obs) {
            Ok(f) => findings.push(f),
            Err((status, why)) => {
                outcome.status = status;
                outcome.message = why;
                return outcome;
            }
        }
    }
    let failed: Vec<&Finding> = findings.iter().filter(|f| !f.ok).collect();
    if failed.is_empty() {
        outcome.points = check.points;
        outcome.message = findings
            .iter()
            .map(|f| format!("{}: {}", f.what, f.actual))
            .collect::<Vec<_>>()
            .join("; ");
    } else {
        outcome.status = Status::Failed;
        outcome.message = failed
            .iter()
            .map(|f| format!("{}: expected {}, got {}", f.what, f.expected, f.actual))
            .collect::<Vec<_>>()
            .join("; ");
        outcome.expected = Some(
            failed
                .iter()
                .map(|f| f.expected.clone())
                .collect::<Vec<_>>()
                .join("; "),
        );
        outcome.actual = Some(
            failed
                .iter()
                .map(|f| f.actual.clone())
                .collect::<Vec<_>>()
                .join("; "),
        );
    }
    outcome
}

/// Decides every check of an exercise. A check that could not be decided
/// because a build failed (on its own step, or on a step its step needed)
/// is not run, and says which check tells why, rather than repeating the
/// build's error under every check that needed the image.
pub fn evaluate_all(checks: &[Check], obs: &Observations) -> Vec<Outcome> {
    checks
        .iter()
        .map(|c| {
            let mut outcome = evaluate(c, obs);
            if matches!(outcome.status, Status::Failed | Status::Skipped)
                && let Some(why) = not_run_because_of_a_build(c, checks, obs)
            {
                outcome.status = Status::Skipped;
                outcome.message = why;
                outcome.expected = None;
                outcome.actual = None;
            }
            outcome
        })
        .collect()
}

/// Why `check` could not run when a build it depends on failed; `None`
/// when that is not what happened (or `check` is the one that says so).
fn not_run_because_of_a_build(
    check: &Check,
    checks: &[Check],
    obs: &Observations,
) -> Option<String> {
    let step = obs.steps.get(&check.step)?;
    let root = match &step.status {
        StepStatus::Failed(_) => step,
        StepStatus::Skipped(_) => obs.steps.get(step.blocked_by.as_deref()?)?,
        _ => return None,
    };
    let failed_build = matches!(root.status, StepStatus::Failed(_))
        && root.build.as_ref().is_some_and(|b| !b.succeeded);
    let about_the_build = check.assertions.iter().any(|a| {
        matches!(
            a,
            Assertion::Build(_) | Assertion::Context { .. } | Assertion::Dockerfile { .. }
        )
    });
    if !failed_build || (about_the_build && check.step == root.step) {
        return None;
    }
    let teller = checks.iter().find(|c| {
        c.step == root.step
            && c.visibility.shown_to_students()
            && c.assertions
                .iter()
                .any(|a| matches!(a, Assertion::Build(_)))
    });
    Some(match teller {
        Some(t) => format!("not run: the build failed; see `{}`", t.name),
        None => format!(
            "not run: the build of step `{}` failed (its log is shown with the step)",
            root.step
        ),
    })
}

type Assessed = Result<Finding, (Status, String)>;

/// The status a check gets when its step did not complete.
fn unavailable(step: &StepObservation) -> (Status, String) {
    match &step.status {
        StepStatus::Done => (
            Status::Error,
            format!("step `{}` produced nothing to check", step.step),
        ),
        StepStatus::Failed(why) => (Status::Failed, why.clone()),
        StepStatus::Error(why) => (Status::Error, why.clone()),
        StepStatus::Skipped(why) => (Status::Skipped, why.clone()),
    }
}

fn image_of(step: &StepObservation) -> Result<&ImageFacts, (Status, String)> {
    step.image.as_ref().ok_or_else(|| unavailable(step))
}

fn run_of(step: &StepObservation) -> Result<&RunFacts, (Status, String)> {
    match (&step.run, &step.status) {
        (Some(run), StepStatus::Done) => Ok(run),
        _ => Err(unavailable(step)),
    }
}

fn other_image<'a>(obs: &'a Observations, name: &str) -> Result<&'a ImageFacts, (Status, String)> {
    let step = obs
        .steps
        .get(name)
        .ok_or((Status::Skipped, format!("step `{name}` was not run")))?;
    image_of(step)
        .map_err(|(status, why)| (status, format!("cannot compare with step `{name}`: {why}")))
}

fn assess(a: &Assertion, step: &StepObservation, obs: &Observations) -> Assessed {
    match a {
        Assertion::Build(expect) => image::build(*expect, step),
        Assertion::Context { max } => image::context(*max, step),
        Assertion::Size(bounds) => image::size(bounds, image_of(step)?, obs),
        Assertion::Layers(want) => image::layers(want, image_of(step)?, obs),
        Assertion::Wasted { max } => layers::wasted(*max, image_of(step)?),
        Assertion::Efficiency { min } => layers::score(*min, image_of(step)?),
        Assertion::Secrets => secrets::none(image_of(step)?),
        Assertion::Dockerfile { rules, non_root } => dockerfile::rules(rules, *non_root, step),
        Assertion::Files { present, absent } => image::files(present, absent, image_of(step)?),
        Assertion::File { path, matcher } => image::file(path, matcher, image_of(step)?),
        Assertion::Config(want) => image::config(want, image_of(step)?),
        Assertion::User(want) => user(*want, step),
        Assertion::ExitCode(want) => run::exit_code(want, run_of(step)?),
        Assertion::Container(want) => match (&step.container, &step.status) {
            (Some(have), StepStatus::Done) => Ok(live::container(want, have)),
            _ => Err(unavailable(step)),
        },
        Assertion::Stdout(m) => {
            let run = run_of(step)?;
            run::stream(m, "stdout", &run.stdout, run)
        }
        Assertion::Stderr(m) => {
            let run = run_of(step)?;
            run::stream(m, "stderr", &run.stderr, run)
        }
        Assertion::Http(want) => match &step.status {
            StepStatus::Done => service::http(want, step, obs),
            _ => Err(unavailable(step)),
        },
        Assertion::Daemon(want) => live::daemon(want, obs.daemon.as_ref()),
        Assertion::Disk(want) => match &step.status {
            StepStatus::Done => service::disk(want, step, obs),
            _ => Err(unavailable(step)),
        },
    }
}

/// `user`: the uid a run's process had, or an image's USER resolves to.
fn user(want: UserExpectation, step: &StepObservation) -> Assessed {
    let (user, passwd, whose) = match &step.run {
        Some(_) => {
            let run = run_of(step)?;
            (
                run.user.as_str(),
                run.passwd.as_deref(),
                "the process ran as",
            )
        }
        None => {
            let image = image_of(step)?;
            (
                image.config.user.as_str(),
                image.passwd.as_deref(),
                "the image runs as",
            )
        }
    };
    let shown = if user.is_empty() {
        "root (no USER set)".to_string()
    } else {
        format!("`{user}`")
    };
    match resolve_uid(user, passwd) {
        Ok(uid) => {
            let (ok, expected) = match want {
                UserExpectation::Uid(n) => (uid == n, format!("uid {n}")),
                UserExpectation::NotRoot => (uid != 0, "a non-root user (uid ≠ 0)".to_string()),
            };
            Ok(Finding::new(
                ok,
                "user",
                expected,
                format!("{whose} {shown}, uid {uid}"),
            ))
        }
        Err(why) => Ok(Finding::new(
            false,
            "user",
            "a user that resolves to a uid",
            why,
        )),
    }
}

fn quote(s: &str) -> String {
    format!("{s:?}")
}

/// A short, single-line rendering of text for messages.
pub fn excerpt(text: &str) -> String {
    const LIMIT: usize = 200;
    let trimmed = text.trim_end();
    if trimmed.is_empty() {
        return "nothing".into();
    }
    let mut shown: String = trimmed.chars().take(LIMIT).collect();
    if trimmed.chars().count() > LIMIT {
        shown.push('…');
    }
    format!("{shown:?}")
}

/// Describes a run that timed out, for step status messages.
pub fn timed_out_message(after: std::time::Duration) -> String {
    format!("timed out after {}", format_duration(after))
}

#[cfg(test)]
mod tests;
