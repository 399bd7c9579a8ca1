//! Checks: pure functions from observations to outcomes.
//!
//! [`evaluate`] decides one [`Check`] against the [`Observations`] of its
//! exercise. Nothing here touches the daemon or the file system, so every
//! assertion kind is unit-tested with hand-made observations. Each failure
//! says what was expected and what was seen, in words a student can act on.

use serde::Serialize;

use crate::observation::FileType;
use crate::observation::{
    ContainerFacts, FileProbe, ImageFacts, Observations, RunFacts, StepObservation, StepStatus,
    resolve_uid,
};
use crate::spec::*;
use crate::units::{format_duration, format_size};

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
        }
    }
}

/// One assertion's finding.
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
        Assertion::Build(expect) => {
            let Some(build) = &step.build else {
                return Err(unavailable(step));
            };
            if let StepStatus::Error(why) = &step.status {
                return Err((Status::Error, why.clone()));
            }
            let actual = match (&build.error, build.succeeded) {
                (_, true) => "the build succeeded".to_string(),
                (Some(e), false) => format!("the build failed: {e}"),
                (None, false) => "the build failed".to_string(),
            };
            let want = *expect == BuildExpectation::Succeeds;
            let expected = if want {
                "the build to succeed"
            } else {
                "the build to fail"
            };
            Ok(Finding::new(
                build.succeeded == want,
                "build",
                expected,
                actual,
            ))
        }
        Assertion::Context { max } => {
            let sent = step
                .build
                .as_ref()
                .and_then(|b| b.context_bytes)
                .ok_or_else(|| unavailable(step))?;
            Ok(Finding::new(
                sent <= *max,
                "build context",
                format!("at most {}", format_size(*max)),
                format!("{} sent", format_size(sent)),
            ))
        }
        Assertion::Size(bounds) => size(bounds, image_of(step)?, obs),
        Assertion::Layers {
            min,
            max,
            more_than,
        } => {
            let n = image_of(step)?.layers;
            let mut ok = min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m);
            let mut expected = match (min, max) {
                (Some(a), Some(b)) if a == b => vec![format!("exactly {a} layers")],
                (Some(a), Some(b)) => vec![format!("between {a} and {b} layers")],
                (Some(a), None) => vec![format!("at least {a} layers")],
                (None, Some(b)) => vec![format!("at most {b} layers")],
                (None, None) => vec![],
            };
            let mut actual = format!("{n} layers");
            if let Some(other) = more_than {
                let m = other_image(obs, other)?.layers;
                ok &= n > m;
                expected.push(format!("more layers than `{other}` ({m})"));
                actual.push_str(&format!(" ({:+} vs `{other}`)", n as i64 - m as i64));
            }
            Ok(Finding::new(ok, "layers", expected.join(" and "), actual))
        }
        Assertion::Files { present, absent } => files(present, absent, image_of(step)?),
        Assertion::File { path, matcher } => {
            let image = image_of(step)?;
            match image.files.get(path) {
                Some(FileProbe::Found(f)) => match &f.content {
                    Some(bytes) => {
                        let text = String::from_utf8_lossy(bytes);
                        let (ok, expected, actual) = text_match(matcher, &text);
                        Ok(Finding::new(
                            ok,
                            format!("content of {path}"),
                            expected,
                            actual,
                        ))
                    }
                    None => Ok(Finding::new(
                        false,
                        path.clone(),
                        "a readable regular file",
                        "not a regular file",
                    )),
                },
                Some(FileProbe::Missing) => Ok(Finding::new(
                    false,
                    path.clone(),
                    "the file to exist",
                    "no such file",
                )),
                Some(FileProbe::Error(e)) => {
                    Err((Status::Error, format!("could not read {path}: {e}")))
                }
                None => Err((Status::Error, format!("{path} was not probed"))),
            }
        }
        Assertion::Config(want) => config(want, image_of(step)?),
        Assertion::User(want) => {
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
                        UserExpectation::Uid(n) => (uid == *n, format!("uid {n}")),
                        UserExpectation::NotRoot => {
                            (uid != 0, "a non-root user (uid ≠ 0)".to_string())
                        }
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
        Assertion::ExitCode(want) => {
            let run = run_of(step)?;
            let Some(code) = run.exit_code else {
                return Err((Status::Error, "the container's exit code is unknown".into()));
            };
            let (ok, expected) = match want {
                ExitExpectation::Is(n) => (code == *n, format!("exit code {n}")),
                ExitExpectation::Not(n) => (code != *n, format!("an exit code other than {n}")),
                ExitExpectation::In(list) => (
                    list.contains(&code),
                    format!(
                        "an exit code in [{}]",
                        list.iter()
                            .map(i64::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
            };
            let mut actual = format!("exit code {code}");
            if run.oom_killed {
                actual.push_str(" (killed: out of memory)");
            }
            Ok(Finding::new(ok, "exit code", expected, actual))
        }
        Assertion::Container(want) => {
            let have = match (&step.container, &step.status) {
                (Some(c), StepStatus::Done) => c,
                _ => return Err(unavailable(step)),
            };
            Ok(container(want, have))
        }
        Assertion::Stdout(m) => stream(
            m,
            "stdout",
            run_of(step)?.stdout.as_str(),
            run_of(step)?.stdout_dropped,
        ),
        Assertion::Stderr(m) => stream(
            m,
            "stderr",
            run_of(step)?.stderr.as_str(),
            run_of(step)?.stderr_dropped,
        ),
    }
}

fn size(bounds: &SizeBounds, image: &ImageFacts, obs: &Observations) -> Assessed {
    let n = image.size;
    let mut ok = true;
    let mut expected = Vec::new();
    if let Some(max) = bounds.max {
        ok &= n <= max;
        expected.push(format!("at most {}", format_size(max)));
    }
    if let Some(min) = bounds.min {
        ok &= n >= min;
        expected.push(format!("at least {}", format_size(min)));
    }
    let mut relative = Vec::new();
    if let Some((base, by)) = &bounds.max_over {
        let b = other_image(obs, base)?.size;
        ok &= n <= b.saturating_add(*by);
        expected.push(format!(
            "at most {} over `{base}` ({})",
            format_size(*by),
            format_size(b)
        ));
        relative.push(format!(
            "{} over `{base}`",
            signed_size(n as i128 - b as i128)
        ));
    }
    if let Some((base, by)) = &bounds.min_over {
        let b = other_image(obs, base)?.size;
        ok &= n >= b.saturating_add(*by);
        expected.push(format!(
            "at least {} over `{base}` ({})",
            format_size(*by),
            format_size(b)
        ));
        relative.push(format!(
            "{} over `{base}`",
            signed_size(n as i128 - b as i128)
        ));
    }
    if let Some(other) = &bounds.smaller_than {
        let b = other_image(obs, other)?.size;
        ok &= n < b;
        expected.push(format!("smaller than `{other}` ({})", format_size(b)));
        relative.push(format!(
            "{} vs `{other}`",
            signed_size(n as i128 - b as i128)
        ));
    }
    if let Some(other) = &bounds.larger_than {
        let b = other_image(obs, other)?.size;
        ok &= n > b;
        expected.push(format!("larger than `{other}` ({})", format_size(b)));
        relative.push(format!(
            "{} vs `{other}`",
            signed_size(n as i128 - b as i128)
        ));
    }
    let mut actual = format!("{} ({n} bytes)", format_size(n));
    if !relative.is_empty() {
        actual = format!("{actual}, {}", relative.join(", "));
    }
    Ok(Finding::new(
        ok,
        "image size",
        expected.join(" and "),
        actual,
    ))
}

fn signed_size(delta: i128) -> String {
    let sign = if delta < 0 { "-" } else { "+" };
    format!("{sign}{}", format_size(delta.unsigned_abs() as u64))
}

fn files(present: &[FileExpectation], absent: &[String], image: &ImageFacts) -> Assessed {
    let mut problems = Vec::new();
    for want in present {
        match image.files.get(&want.path) {
            Some(FileProbe::Found(f)) => {
                if let Some(t) = want.file_type
                    && f.file_type != Some(t)
                {
                    let seen = f.file_type.map_or("special file", FileType::as_str);
                    problems.push(format!("{} is a {seen}, not a {}", want.path, t.as_str()));
                }
                if let Some(m) = want.mode
                    && f.mode & 0o7777 != m
                {
                    problems.push(format!(
                        "{} has mode {:04o}, not {m:04o}",
                        want.path,
                        f.mode & 0o7777
                    ));
                }
                if let Some(u) = want.uid
                    && f.uid != Some(u)
                {
                    problems.push(format!(
                        "{} is owned by uid {}, not {u}",
                        want.path,
                        show_id(f.uid)
                    ));
                }
                if let Some(g) = want.gid
                    && f.gid != Some(g)
                {
                    problems.push(format!("{} has gid {}, not {g}", want.path, show_id(f.gid)));
                }
            }
            Some(FileProbe::Missing) => problems.push(format!("{} is missing", want.path)),
            Some(FileProbe::Error(e)) => {
                return Err((Status::Error, format!("could not probe {}: {e}", want.path)));
            }
            None => return Err((Status::Error, format!("{} was not probed", want.path))),
        }
    }
    for path in absent {
        match image.files.get(path) {
            Some(FileProbe::Missing) => {}
            Some(FileProbe::Found(f)) => {
                let kind = f.file_type.map_or("special file", FileType::as_str);
                problems.push(format!("{path} is present ({kind})"));
            }
            Some(FileProbe::Error(e)) => {
                return Err((Status::Error, format!("could not probe {path}: {e}")));
            }
            None => return Err((Status::Error, format!("{path} was not probed"))),
        }
    }
    let mut expected = Vec::new();
    if !present.is_empty() {
        expected.push(format!(
            "present: {}",
            present
                .iter()
                .map(|p| p.path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !absent.is_empty() {
        expected.push(format!("absent: {}", absent.join(", ")));
    }
    let actual = if problems.is_empty() {
        "all as expected".to_string()
    } else {
        problems.join(", ")
    };
    Ok(Finding::new(
        problems.is_empty(),
        "files",
        expected.join("; "),
        actual,
    ))
}

fn show_id(id: Option<u64>) -> String {
    id.map_or("unknown".to_string(), |i| i.to_string())
}

fn config(want: &ConfigExpectation, image: &ImageFacts) -> Assessed {
    let have = &image.config;
    let mut expected = Vec::new();
    let mut actual = Vec::new();
    let mut ok = true;
    let mut compare = |field: &str, e: String, a: String| {
        if e != a {
            ok = false;
        }
        expected.push(format!("{field} {e}"));
        actual.push(format!("{field} {a}"));
    };
    if let Some(u) = &want.user {
        compare("USER", quote(u), quote(&have.user));
    }
    if let Some(w) = &want.workdir {
        compare("WORKDIR", quote(w), quote(&have.workdir));
    }
    if let Some(c) = &want.cmd {
        compare("CMD", json_list(Some(c)), json_list(have.cmd.as_ref()));
    }
    if let Some(e) = &want.entrypoint {
        compare(
            "ENTRYPOINT",
            json_list(Some(e)),
            json_list(have.entrypoint.as_ref()),
        );
    }
    for (k, v) in &want.env {
        let seen = have
            .env
            .iter()
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")).map(str::to_string));
        compare(
            &format!("ENV {k}"),
            quote(v),
            seen.as_deref().map_or("unset".into(), quote),
        );
    }
    for (k, v) in &want.labels {
        compare(
            &format!("LABEL {k}"),
            quote(v),
            have.labels.get(k).map_or("unset".into(), |s| quote(s)),
        );
    }
    for port in &want.exposed_ports {
        let norm = if port.contains('/') {
            port.clone()
        } else {
            format!("{port}/tcp")
        };
        let seen = have.exposed_ports.contains(&norm);
        compare(
            &format!("EXPOSE {norm}"),
            "exposed".into(),
            if seen { "exposed" } else { "not exposed" }.into(),
        );
    }
    Ok(Finding::new(
        ok,
        "image config",
        expected.join(", "),
        actual.join(", "),
    ))
}

fn container(want: &ContainerExpectation, have: &ContainerFacts) -> Finding {
    let mut expected = Vec::new();
    let mut actual = Vec::new();
    let mut ok = true;
    let mut compare = |field: &str, e: String, a: String| {
        ok &= e == a;
        expected.push(format!("{field} {e}"));
        actual.push(format!("{field} {a}"));
    };
    if let Some(s) = &want.state {
        compare("state", s.clone(), have.state.clone());
    }
    if let Some(code) = want.exit_code {
        compare(
            "exit code",
            code.to_string(),
            have.exit_code.map_or("unknown".into(), |c| c.to_string()),
        );
    }
    if let Some(i) = &want.image {
        // `hello-world` and `docker.io/library/hello-world:latest` name the
        // same image; compare the short form.
        let short = |s: &str| {
            let s = s.strip_prefix("docker.io/").unwrap_or(s);
            let s = s.strip_prefix("library/").unwrap_or(s);
            s.strip_suffix(":latest").unwrap_or(s).to_string()
        };
        compare("image", quote(&short(i)), quote(&short(&have.image)));
    }
    if let Some(u) = &want.user {
        let shown = if have.user.is_empty() {
            "none (root)".to_string()
        } else {
            quote(&have.user)
        };
        compare("user", quote(u), shown);
    }
    for m in &want.mounts {
        let describe = |kind: &str, source: &str, readonly: bool| {
            let mut d = format!("{kind} mount at {}", m.target);
            if !source.is_empty() {
                d.push_str(&format!(" from {source}"));
            }
            d.push_str(if readonly {
                ", read-only"
            } else {
                ", writable"
            });
            d
        };
        let want_text = describe(
            m.kind.as_deref().unwrap_or("a"),
            m.source_name.as_deref().unwrap_or(""),
            m.readonly.unwrap_or(false),
        );
        let seen = have.mounts.iter().find(|h| h.target == m.target);
        let matches = seen.is_some_and(|h| {
            m.kind.as_ref().is_none_or(|k| &h.kind == k)
                && m.source_name
                    .as_ref()
                    .is_none_or(|n| h.source.rsplit('/').next() == Some(n.as_str()))
                && m.readonly.is_none_or(|r| h.readonly == r)
        });
        let seen_text = match seen {
            Some(h) => describe(
                &h.kind,
                h.source.rsplit('/').next().unwrap_or(""),
                h.readonly,
            ),
            None if have.mounts.is_empty() => "no mounts".to_string(),
            None => format!("nothing at {}", m.target),
        };
        ok &= matches;
        expected.push(if m.readonly.is_some() {
            want_text
        } else {
            want_text.replace(", writable", "")
        });
        actual.push(seen_text);
    }
    for p in &want.ports {
        let seen: Vec<&(String, String, Option<u16>)> = have
            .ports
            .iter()
            .filter(|(c, _, _)| c == &p.container)
            .collect();
        let hit = seen.iter().any(|(_, ip, port)| {
            p.host_ip.as_ref().is_none_or(|w| w == ip)
                && p.host_port.is_none_or(|w| Some(w) == *port)
        });
        ok &= hit;
        expected.push(format!(
            "{} published on {}:{}",
            p.container,
            p.host_ip.as_deref().unwrap_or("any address"),
            p.host_port.map_or("any port".into(), |n| n.to_string())
        ));
        actual.push(if seen.is_empty() {
            format!("{} not published", p.container)
        } else {
            seen.iter()
                .map(|(c, ip, port)| {
                    format!(
                        "{c} on {}:{}",
                        if ip.is_empty() { "0.0.0.0" } else { ip },
                        port.map_or("?".into(), |n| n.to_string())
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        });
    }
    Finding::new(
        ok,
        format!("container {}", have.name),
        expected.join(", "),
        actual.join(", "),
    )
}

fn quote(s: &str) -> String {
    format!("{s:?}")
}

fn json_list(v: Option<&Vec<String>>) -> String {
    match v {
        Some(items) => serde_json::to_string(items).unwrap_or_default(),
        None => "unset".into(),
    }
}

/// Applies a text matcher; returns (ok, expected, actual).
fn text_match(m: &TextMatcher, text: &str) -> (bool, String, String) {
    let mut ok = true;
    let mut expected = Vec::new();
    if let Some(e) = &m.equals {
        ok &= text.trim_end() == e.trim_end();
        expected.push(format!("exactly {:?}", e.trim_end()));
    }
    if let Some(c) = &m.contains {
        ok &= text.contains(c.as_str());
        expected.push(format!("to contain {c:?}"));
    }
    if let Some(c) = &m.not_contains {
        ok &= !text.contains(c.as_str());
        expected.push(format!("not to contain {c:?}"));
    }
    if let Some(re) = &m.matches {
        ok &= re.is_match(text);
        expected.push(format!("to match /{}/", re.as_str()));
    }
    (ok, expected.join(" and "), excerpt(text))
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

fn stream(m: &TextMatcher, name: &str, text: &str, dropped: u64) -> Assessed {
    let (ok, expected, mut actual) = text_match(m, text);
    if dropped > 0 {
        actual.push_str(&format!(" ({} more not kept)", format_size(dropped)));
    }
    Ok(Finding::new(ok, name, expected, actual))
}

/// Describes a run that timed out, for step status messages.
pub fn timed_out_message(after: std::time::Duration) -> String {
    format!("timed out after {}", format_duration(after))
}

#[cfg(test)]
mod tests;
