//! The `[[steps]]` of an exercise: images, builds, runs and live containers.

use std::collections::BTreeSet;

use toml::de::DeValue;

use super::reader::{Diagnostics, Entry, Table, required_string, table_array};
use super::{is_name, services};
use crate::sandbox::{
    DEFAULT_BUILD_TIMEOUT, DEFAULT_MAX_CONTEXT, DEFAULT_RUN_TIMEOUT, Limits, Network,
};
use crate::spec::{
    BuildSource, BuildStep, ImageSource, Mode, Mount, PullPolicy, RelPath, RunStep, Step, StepKind,
    StepType,
};

/// The steps that parsed, every step name declared, and whether all parsed.
pub(super) fn steps(
    diag: &mut Diagnostics,
    root: &Table,
    mode: Mode,
) -> (Vec<Step>, BTreeSet<String>, bool) {
    let Some(tables) = table_array(diag, root, "steps") else {
        return (Vec::new(), BTreeSet::new(), false);
    };
    let before = diag.count();
    let mut steps: Vec<Step> = Vec::new();
    let mut seen = BTreeSet::new();
    for t in &tables {
        t.only(
            diag,
            &[
                "name",
                "image",
                "pull",
                "build",
                "run",
                "container",
                "service",
                "push",
                "exec",
                "after",
            ],
        );
        let name = step_name(diag, t, &mut seen);
        let Some(step_type) = step_type(diag, t, mode) else {
            continue;
        };
        let kind = match step_type {
            StepType::Image => image_step(diag, t),
            StepType::Container => container_step(diag, t),
            StepType::Build => t
                .entry("build")
                .and_then(|f| f.table(diag))
                .and_then(|b| build_step(diag, &b)),
            StepType::Run => t
                .entry("run")
                .and_then(|f| f.table(diag))
                .and_then(|r| run_step(diag, &r, &steps, mode)),
            StepType::Service => t
                .entry("service")
                .and_then(|f| f.table(diag))
                .and_then(|r| services::service_step(diag, &r, &steps)),
            StepType::Push => t
                .entry("push")
                .and_then(|f| f.table(diag))
                .and_then(|r| services::push_step(diag, &r, &steps)),
            StepType::Exec => t
                .entry("exec")
                .and_then(|f| f.table(diag))
                .and_then(|r| services::exec_step(diag, &r, &steps)),
        };
        let after = services::after(diag, t, &steps);
        if let (Some(name), Some(kind)) = (name, kind) {
            steps.push(Step { name, kind, after });
        }
    }
    let ok = diag.count() == before;
    (steps, seen, ok)
}

/// `name`: a valid name, not used by an earlier step.
fn step_name(diag: &mut Diagnostics, t: &Table, seen: &mut BTreeSet<String>) -> Option<String> {
    let name = required_string(diag, t, "name");
    if let (Some(n), Some(f)) = (&name, t.entry("name")) {
        if !is_name(n) {
            f.invalid(
                diag,
                format!("step name {n:?} must be lowercase letters, digits, `-`, `_` or `.`"),
            );
        } else if !seen.insert(n.clone()) {
            f.invalid(diag, format!("a step named {n:?} already exists"));
        }
    }
    name
}

/// Which kind of step a table is: exactly one kind key, allowed in `mode`.
fn step_type(diag: &mut Diagnostics, t: &Table, mode: Mode) -> Option<StepType> {
    let kinds: Vec<StepType> = [
        StepType::Image,
        StepType::Build,
        StepType::Run,
        StepType::Container,
        StepType::Service,
        StepType::Push,
        StepType::Exec,
    ]
    .into_iter()
    .filter(|k| t.has(k.as_str()))
    .collect();
    let [kind] = kinds[..] else {
        let found: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        let mut msg =
            "a step needs exactly one of `image`, `build`, `run`, `container`, `service`, `push` or `exec`"
                .to_string();
        if !found.is_empty() {
            msg.push_str(&format!(", found {}", found.join(" and ")));
        }
        diag.error(t.span.clone(), &t.path, msg);
        return None;
    };
    if kind != StepType::Image
        && let Some(f) = t.entry("pull")
    {
        f.invalid(diag, "`pull` applies to `image` steps only");
    }
    // Live exercises look at the student's daemon; they build and run nothing.
    let misplaced = match (mode, kind) {
        (Mode::Live, StepType::Build | StepType::Service | StepType::Push | StepType::Exec) => {
            Some(
                "a live exercise can only have `image`, `container` and `run` steps (runs probe the student's daemon)",
            )
        }
        (Mode::Check, StepType::Container) => {
            Some("`container` steps look at the student's own daemon: they need `mode = \"live\"`")
        }
        _ => None,
    };
    if let (Some(why), Some(f)) = (misplaced, t.entry(kind.as_str())) {
        f.invalid(diag, why);
        return None;
    }
    Some(kind)
}

fn container_step(diag: &mut Diagnostics, t: &Table) -> Option<StepKind> {
    let f = t.entry("container")?;
    let name = f.string(diag)?;
    if name.is_empty() || name.contains(char::is_whitespace) {
        f.invalid(diag, format!("invalid container name {name:?}"));
        return None;
    }
    Some(StepKind::Container { name })
}

fn image_step(diag: &mut Diagnostics, t: &Table) -> Option<StepKind> {
    let f = t.entry("image")?;
    let reference = f.string(diag)?;
    if reference.trim().is_empty() || reference.chars().any(char::is_whitespace) {
        f.invalid(diag, format!("invalid image reference {reference:?}"));
        return None;
    }
    let pull = match t.entry("pull") {
        Some(p) => p.one_of(
            diag,
            &[
                ("missing", PullPolicy::Missing),
                ("never", PullPolicy::Never),
                ("always", PullPolicy::Always),
            ],
        )?,
        None => PullPolicy::Missing,
    };
    Some(StepKind::Image { reference, pull })
}

fn build_step(diag: &mut Diagnostics, b: &Table) -> Option<StepKind> {
    b.only(
        diag,
        &[
            "from",
            "dockerfile",
            "context",
            "target",
            "args",
            "no_cache",
            "network",
            "timeout",
            "limits",
            "max_context",
            "allow_urls",
            "allow_images",
        ],
    );
    let (allow_urls, allow_images) = remote_allowed(diag, b);
    let dockerfile = match b.entry("dockerfile") {
        Some(f) => f.rel_path(diag),
        None => RelPath::new("Dockerfile"),
    };
    let context = match b.entry("context") {
        Some(f) => f.rel_path(diag),
        None => RelPath::new("."),
    };
    let target = b.entry("target").and_then(|f| f.string(diag));
    let args = b
        .entry("args")
        .and_then(|f| f.string_map(diag))
        .unwrap_or_default();
    let no_cache = b
        .entry("no_cache")
        .and_then(|f| f.boolean(diag))
        .unwrap_or(false);
    let network = match b.entry("network") {
        Some(f) => f.one_of(
            diag,
            &[("bridge", Network::Bridge), ("none", Network::None)],
        ),
        None => Some(Network::Bridge),
    };
    let timeout = match b.entry("timeout") {
        Some(f) => f.duration(diag),
        None => Some(DEFAULT_BUILD_TIMEOUT),
    };
    let limits = limits(diag, b.entry("limits"), false);
    let max_context = match b.entry("max_context") {
        Some(f) => f.size(diag),
        None => Some(DEFAULT_MAX_CONTEXT),
    };
    let from = match b.entry("from") {
        Some(f) => f.one_of(
            diag,
            &[
                ("submission", BuildSource::Submission),
                ("exercise", BuildSource::Exercise),
            ],
        ),
        None => Some(BuildSource::Submission),
    };
    Some(StepKind::Build(BuildStep {
        from: from?,
        dockerfile: dockerfile?,
        context: context?,
        target,
        args,
        no_cache,
        network: network?,
        timeout: timeout?,
        limits: limits?,
        max_context: max_context?,
        allow_urls,
        allow_images,
    }))
}

/// `allow_urls` (prefixes of URLs `ADD` may fetch) and `allow_images`
/// (images the Dockerfile may name that the daemon may have to pull).
fn remote_allowed(diag: &mut Diagnostics, b: &Table) -> (Vec<String>, Vec<String>) {
    let mut urls = Vec::new();
    if let Some(items) = b.entry("allow_urls").and_then(|f| f.array(diag)) {
        for item in items {
            let Some(url) = item.string(diag) else {
                continue;
            };
            if url.starts_with("https://") || url.starts_with("http://") {
                urls.push(url);
            } else {
                item.invalid(diag, format!("{url:?} is not an http:// or https:// URL"));
            }
        }
    }
    let images = b
        .entry("allow_images")
        .and_then(|f| f.string_array(diag))
        .unwrap_or_default();
    (urls, images)
}

fn run_step(diag: &mut Diagnostics, r: &Table, earlier: &[Step], mode: Mode) -> Option<StepKind> {
    r.only(
        diag,
        &[
            "image",
            "cmd",
            "entrypoint",
            "user",
            "env",
            "workdir",
            "network",
            "stdin",
            "mounts",
            "timeout",
            "limits",
            "keep_entrypoint",
            "healthcheck",
            "privileged",
        ],
    );
    let image = run_image(diag, r, earlier);
    let privileged = privileged(diag, r, mode);
    let cmd = r.entry("cmd").and_then(|f| f.string_array(diag));
    let entrypoint = r.entry("entrypoint").and_then(|f| f.string_array(diag));
    let user = r.entry("user").and_then(|f| match f.value.get_ref() {
        DeValue::Integer(_) => f.unsigned(diag).map(|n| n.to_string()),
        _ => f.string(diag),
    });
    let env = r
        .entry("env")
        .and_then(|f| f.string_map(diag))
        .unwrap_or_default();
    let workdir = r.entry("workdir").and_then(|f| f.container_path(diag));
    let network = match r.entry("network") {
        Some(f) => f.one_of(
            diag,
            &[
                ("none", Network::None),
                ("bridge", Network::Bridge),
                ("exercise", Network::Exercise),
            ],
        ),
        None => Some(Network::None),
    };
    let stdin = r.entry("stdin").and_then(|f| f.string(diag));
    let (keep_entrypoint, healthcheck) = image_process_flags(diag, r);
    let mounts = match r.entry("mounts").and_then(|f| f.array(diag)) {
        Some(items) => items
            .iter()
            .filter_map(|item| item.table(diag).and_then(|t| mount(diag, &t)))
            .collect(),
        None => Vec::new(),
    };
    let timeout = match r.entry("timeout") {
        Some(f) => f.duration(diag),
        None => Some(DEFAULT_RUN_TIMEOUT),
    };
    let limits = limits(diag, r.entry("limits"), true);
    Some(StepKind::Run(RunStep {
        image: image?,
        cmd,
        entrypoint,
        user,
        env,
        workdir,
        network: network?,
        stdin,
        mounts,
        timeout: timeout?,
        limits: limits?,
        keep_entrypoint,
        healthcheck,
        privileged,
    }))
}

/// `privileged`: a probe of a student's rootless daemon, so live exercises
/// only (and the engine never runs it on a daemon that runs as root).
fn privileged(diag: &mut Diagnostics, r: &Table, mode: Mode) -> bool {
    let Some(f) = r.entry("privileged") else {
        return false;
    };
    match f.boolean(diag) {
        Some(true) if mode == Mode::Check => {
            f.invalid(
                diag,
                "`privileged` probes a student's rootless daemon: live exercises only (and never on a daemon that runs as root)",
            );
            false
        }
        Some(p) => p,
        None => false,
    }
}

/// `keep_entrypoint` and `healthcheck`: what of the image's own processes
/// a run keeps (neither, unless asked).
fn image_process_flags(diag: &mut Diagnostics, r: &Table) -> (bool, bool) {
    let keep_entrypoint = r
        .entry("keep_entrypoint")
        .and_then(|f| f.boolean(diag))
        .unwrap_or(false);
    if keep_entrypoint && let Some(f) = r.entry("entrypoint") {
        f.invalid(
            diag,
            "`entrypoint` replaces the image's ENTRYPOINT; `keep_entrypoint` keeps it: choose one",
        );
    }
    let healthcheck = r
        .entry("healthcheck")
        .and_then(|f| f.boolean(diag))
        .unwrap_or(false);
    (keep_entrypoint, healthcheck)
}

/// A run's `image`: another step's (which must make one), or a reference.
fn run_image(diag: &mut Diagnostics, r: &Table, earlier: &[Step]) -> Option<ImageSource> {
    match r.entry("image") {
        None => {
            r.missing(diag, "image");
            None
        }
        Some(f) => f.string(diag).and_then(|name| match earlier.iter().find(|s| s.name == name) {
            Some(s) if !s.kind.yields_image() => {
                f.invalid(diag, format!("step `{name}` is a run step; a run needs an image or a step that makes one"));
                None
            }
            Some(_) => Some(ImageSource::Step(name)),
            None => Some(ImageSource::Reference(name)),
        }),
    }
}

pub(super) fn mount(diag: &mut Diagnostics, t: &Table) -> Option<Mount> {
    let Some(kind_field) = t.entry("type") else {
        t.missing(diag, "type");
        return None;
    };
    #[derive(Clone, Copy)]
    enum MountType {
        Bind,
        Tmpfs,
        Scratch,
    }
    let kind = kind_field.one_of(
        diag,
        &[
            ("bind", MountType::Bind),
            ("tmpfs", MountType::Tmpfs),
            ("scratch", MountType::Scratch),
        ],
    )?;
    let target = match t.entry("target") {
        Some(f) => f.container_path(diag),
        None => {
            t.missing(diag, "target");
            None
        }
    };
    match kind {
        MountType::Bind => {
            t.only(diag, &["type", "source", "target", "readonly"]);
            let source = match t.entry("source") {
                Some(f) => f.rel_path(diag),
                None => {
                    t.missing(diag, "source");
                    None
                }
            };
            let readonly = t
                .entry("readonly")
                .and_then(|f| f.boolean(diag))
                .unwrap_or(false);
            Some(Mount::Bind {
                source: source?,
                target: target?,
                readonly,
            })
        }
        MountType::Tmpfs => {
            t.only(diag, &["type", "target"]);
            Some(Mount::Tmpfs { target: target? })
        }
        MountType::Scratch => {
            t.only(diag, &["type", "target"]);
            Some(Mount::Scratch { target: target? })
        }
    }
}

/// `limits = { memory = "512 MiB", pids = 256, cpus = 1.5 }`; `pids` only
/// where the daemon can enforce it (runs).
pub(super) fn limits(diag: &mut Diagnostics, f: Option<Entry>, with_pids: bool) -> Option<Limits> {
    let mut limits = Limits::default();
    let Some(f) = f else { return Some(limits) };
    let t = f.table(diag)?;
    t.only(
        diag,
        if with_pids {
            &["memory", "pids", "cpus", "disk"]
        } else {
            &["memory", "cpus", "disk"]
        },
    );
    let before = diag.count();
    if let Some(m) = t.entry("memory").and_then(|m| {
        let bytes = m.size(diag)?;
        // Docker refuses less than 6 MB; the builder's field is 32-bit.
        if !(6_000_000..=(i32::MAX as u64)).contains(&bytes) {
            m.invalid(diag, "memory must be between 6 MB and 2 GiB");
            return None;
        }
        Some(bytes)
    }) {
        limits.memory = m;
    }
    if let Some(p) = t.entry("pids").and_then(|p| {
        let n = p.unsigned(diag)?;
        match u32::try_from(n) {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                p.invalid(diag, "pids must be at least 1");
                None
            }
        }
    }) {
        limits.pids = p;
    }
    if let Some(d) = t.entry("disk").and_then(|d| {
        let bytes = d.size(diag)?;
        if bytes < 1_000_000 {
            d.invalid(diag, "disk must be at least 1 MB");
            return None;
        }
        Some(bytes)
    }) {
        limits.disk = d;
    }
    if let Some(c) = t.entry("cpus") {
        let value = match c.value.get_ref() {
            DeValue::Float(x) => x.as_str().parse::<f64>().ok(),
            DeValue::Integer(_) => c.unsigned(diag).map(|n| n as f64),
            _ => {
                c.wrong_type(diag, "a number of CPUs");
                None
            }
        };
        match value {
            Some(v) if v > 0.0 && v <= 64.0 => limits.cpus = v,
            Some(_) => c.invalid(diag, "cpus must be more than 0 and at most 64"),
            None => {}
        }
    }
    (diag.count() == before).then_some(limits)
}
