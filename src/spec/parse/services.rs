//! The steps around services: `service` (a long-running container such as
//! a registry), `push` (an image into a registry service) and `exec` (a
//! command inside a service), and the step-level `after`.

use super::reader::{Diagnostics, Entry, Table};
use crate::sandbox::DEFAULT_RUN_TIMEOUT;
use crate::spec::{
    BuildSource, ExecStep, ImageSource, Mount, PushStep, Readiness, ServiceStep, Step, StepKind,
    StepType,
};

/// How long a service may take to become ready, unless the spec says.
const DEFAULT_READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// How long a push may take, unless the spec says.
const DEFAULT_PUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// `service = { image, cmd, env, port, ready, timeout, limits, mounts }`.
pub(super) fn service_step(
    diag: &mut Diagnostics,
    t: &Table,
    earlier: &[Step],
) -> Option<StepKind> {
    t.only(
        diag,
        &[
            "image", "cmd", "env", "port", "ready", "timeout", "limits", "mounts",
        ],
    );
    let image = service_image(diag, t, earlier);
    let cmd = t.entry("cmd").and_then(|f| f.string_array(diag));
    let env = t
        .entry("env")
        .and_then(|f| f.string_map(diag))
        .unwrap_or_default();
    let port = t.entry("port").and_then(|f| port(diag, &f));
    let ready = match t.entry("ready") {
        None if port.is_some() => Some(Readiness::Port),
        None => Some(Readiness::Running),
        Some(f) => readiness(diag, &f, port.is_some()),
    };
    let timeout = match t.entry("timeout") {
        Some(f) => f.duration(diag),
        None => Some(DEFAULT_READY_TIMEOUT),
    };
    let limits = super::steps::limits(diag, t.entry("limits"), true);
    let mounts = service_mounts(diag, t);
    Some(StepKind::Service(ServiceStep {
        image: image?,
        cmd,
        env,
        port,
        ready: ready?,
        timeout: timeout?,
        limits: limits?,
        mounts,
    }))
}

/// A service's `image`: a reference, or an earlier image step or build of
/// the exercise's own files.
fn service_image(diag: &mut Diagnostics, t: &Table, earlier: &[Step]) -> Option<ImageSource> {
    match t.entry("image") {
        None => {
            t.missing(diag, "image");
            None
        }
        Some(f) => f
            .string(diag)
            .and_then(|name| match earlier.iter().find(|s| s.name == name) {
                // A service runs on the default bridge, beside the grader:
                // never the student's own image.
                Some(Step {
                    kind: StepKind::Build(b),
                    ..
                }) if b.from == BuildSource::Submission => {
                    f.invalid(
                        diag,
                        format!("step `{name}` builds the submission; a service runs the exercise's own images only"),
                    );
                    None
                }
                Some(s) if s.kind.yields_image() => Some(ImageSource::Step(name)),
                Some(_) => {
                    f.invalid(diag, format!("step `{name}` makes no image"));
                    None
                }
                None if name.trim().is_empty() || name.chars().any(char::is_whitespace) => {
                    f.invalid(diag, format!("invalid image reference {name:?}"));
                    None
                }
                None => Some(ImageSource::Reference(name)),
            }),
    }
}

/// A service's `mounts`: in-memory folders only.
fn service_mounts(diag: &mut Diagnostics, t: &Table) -> Vec<Mount> {
    match t.entry("mounts").and_then(|f| f.array(diag)) {
        Some(items) => items
            .iter()
            .filter_map(|item| {
                let table = item.table(diag)?;
                match super::steps::mount(diag, &table)? {
                    Mount::Bind { .. } => {
                        item.invalid(
                            diag,
                            "a service mounts in-memory folders only (`tmpfs`, `scratch`)",
                        );
                        None
                    }
                    m => Some(m),
                }
            })
            .collect(),
        None => Vec::new(),
    }
}

pub(super) fn port(diag: &mut Diagnostics, f: &Entry) -> Option<u16> {
    let n = f.unsigned(diag)?;
    match u16::try_from(n) {
        Ok(p) if p > 0 => Some(p),
        _ => {
            f.invalid(diag, "a port is a number from 1 to 65535");
            None
        }
    }
}

/// `ready = "port"`, `"running"` or `{ http = "/v2/" }`.
fn readiness(diag: &mut Diagnostics, f: &Entry, has_port: bool) -> Option<Readiness> {
    let ready = match f.value.get_ref() {
        toml::de::DeValue::String(_) => {
            f.one_of(diag, &[("port", true), ("running", false)])
                .map(|port| {
                    if port {
                        Readiness::Port
                    } else {
                        Readiness::Running
                    }
                })?
        }
        _ => {
            let t = f.table(diag)?;
            t.only(diag, &["http"]);
            let Some(h) = t.entry("http") else {
                t.missing(diag, "http");
                return None;
            };
            let path = h.string(diag)?;
            if !path.starts_with('/') {
                h.invalid(diag, "the path of a readiness request starts with `/`");
                return None;
            }
            Readiness::Http(path)
        }
    };
    if ready != Readiness::Running && !has_port {
        f.invalid(diag, "waiting for a port needs the service's `port`");
        return None;
    }
    Some(ready)
}

/// `push = { image, to, as, timeout }`: `as` is one `repository:tag` or a list.
pub(super) fn push_step(diag: &mut Diagnostics, t: &Table, earlier: &[Step]) -> Option<StepKind> {
    t.only(diag, &["image", "to", "as", "timeout"]);
    let image = earlier_step(
        diag,
        t,
        "image",
        earlier,
        |k| k.yields_image(),
        "a build or image step",
    );
    let registry = earlier_step(
        diag,
        t,
        "to",
        earlier,
        |k| k.step_type() == StepType::Service,
        "a service step",
    );
    let tags = match t.entry("as") {
        None => {
            t.missing(diag, "as");
            None
        }
        Some(f) => {
            let list = f.string_or_strings(diag)?;
            let bad: Vec<&String> = list.iter().filter(|r| !is_repository_tag(r)).collect();
            if list.is_empty() || !bad.is_empty() {
                f.invalid(
                    diag,
                    format!(
                        "`as` names `repository:tag` in the registry (lowercase, e.g. \"course/app:1.0\"); not {}",
                        bad.iter().map(|b| format!("{b:?}")).collect::<Vec<_>>().join(", ")
                    ),
                );
                return None;
            }
            Some(list)
        }
    };
    let timeout = match t.entry("timeout") {
        Some(f) => f.duration(diag),
        None => Some(DEFAULT_PUSH_TIMEOUT),
    };
    Some(StepKind::Push(PushStep {
        image: image?,
        registry: registry?,
        tags: tags?,
        timeout: timeout?,
    }))
}

/// `repository:tag` as a registry accepts it: lowercase path components of
/// letters, digits and separators, then a tag.
fn is_repository_tag(s: &str) -> bool {
    let Some((repo, tag)) = s.rsplit_once(':') else {
        return false;
    };
    let component = |c: &str| {
        !c.is_empty()
            && c.chars()
                .next()
                .is_some_and(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            && c.chars().all(|ch| {
                ch.is_ascii_lowercase() || ch.is_ascii_digit() || matches!(ch, '.' | '_' | '-')
            })
    };
    repo.split('/').all(component)
        && !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-'))
}

/// `exec = { service, cmd, user, timeout }`.
pub(super) fn exec_step(diag: &mut Diagnostics, t: &Table, earlier: &[Step]) -> Option<StepKind> {
    t.only(diag, &["service", "cmd", "user", "timeout"]);
    let service = earlier_step(
        diag,
        t,
        "service",
        earlier,
        |k| k.step_type() == StepType::Service,
        "a service step",
    );
    let cmd = match t.entry("cmd") {
        None => {
            t.missing(diag, "cmd");
            None
        }
        Some(f) => f.string_array(diag).and_then(|c| {
            if c.is_empty() {
                f.invalid(diag, "`cmd` names the command to run");
                None
            } else {
                Some(c)
            }
        }),
    };
    let user = t.entry("user").and_then(|f| f.string(diag));
    let timeout = match t.entry("timeout") {
        Some(f) => f.duration(diag),
        None => Some(DEFAULT_RUN_TIMEOUT),
    };
    Some(StepKind::Exec(ExecStep {
        service: service?,
        cmd: cmd?,
        user,
        timeout: timeout?,
    }))
}

/// A key naming an earlier step of the right kind.
fn earlier_step(
    diag: &mut Diagnostics,
    t: &Table,
    key: &str,
    earlier: &[Step],
    fits: impl Fn(&StepKind) -> bool,
    what: &str,
) -> Option<String> {
    let Some(f) = t.entry(key) else {
        t.missing(diag, key);
        return None;
    };
    let name = f.string(diag)?;
    match earlier.iter().find(|s| s.name == name) {
        Some(s) if fits(&s.kind) => Some(name),
        Some(s) => {
            let kind = s.kind.step_type();
            let article = if kind == StepType::Image || kind == StepType::Exec {
                "an"
            } else {
                "a"
            };
            f.invalid(
                diag,
                format!("step `{name}` is {article} {kind} step; `{key}` names {what}"),
            );
            None
        }
        None => {
            f.invalid(
                diag,
                format!("no earlier step named {name:?}; `{key}` names {what}"),
            );
            None
        }
    }
}

/// `after = "step"` or `after = ["a", "b"]`: earlier steps only.
pub(super) fn after(diag: &mut Diagnostics, t: &Table, earlier: &[Step]) -> Vec<String> {
    let Some(f) = t.entry("after") else {
        return Vec::new();
    };
    let names = f.string_or_strings(diag).unwrap_or_default();
    names
        .into_iter()
        .filter(|name| {
            let known = earlier.iter().any(|s| &s.name == name);
            if !known {
                f.invalid(diag, format!("no earlier step named {name:?}"));
            }
            known
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::is_repository_tag;

    #[test]
    fn registry_references_are_lowercase_repository_and_tag() {
        assert!(is_repository_tag("course/app:1.0"));
        assert!(is_repository_tag("app:latest"));
        assert!(!is_repository_tag("course/app"));
        assert!(!is_repository_tag("Course/app:1"));
        assert!(!is_repository_tag("course//app:1"));
        assert!(!is_repository_tag("course/app:"));
        assert!(!is_repository_tag("course/app:1 0"));
    }
}
