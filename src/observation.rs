//! What dockgrade saw: facts about steps, gathered by the engine.
//!
//! Observations are plain data with no handles to the daemon, so checks are
//! pure functions over them and are tested without Docker. A step that could
//! not produce its facts says why in [`StepStatus`], distinguishing the
//! student's failure (`Failed`) from the grader's or daemon's (`Error`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// Everything observed in one exercise run, by step name.
#[derive(Debug, Clone, Default)]
pub struct Observations {
    pub steps: BTreeMap<String, StepObservation>,
    /// The daemon the exercise ran on, when a check asks about it.
    pub daemon: Option<DaemonFacts>,
}

/// What the daemon says about itself (`docker info`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonFacts {
    pub rootless: bool,
    pub storage_driver: String,
    /// `name=seccomp,profile=default` → `seccomp`, `name=rootless` → `rootless`.
    pub security_options: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct StepObservation {
    pub step: String,
    pub duration: Duration,
    pub status: StepStatus,
    pub build: Option<BuildFacts>,
    pub image: Option<ImageFacts>,
    pub run: Option<RunFacts>,
    pub container: Option<ContainerFacts>,
    /// A service the step started.
    pub service: Option<ServiceFacts>,
    /// What a push step pushed.
    pub push: Option<PushFacts>,
    /// The answers to the requests the step's checks make, by request
    /// (as written, placeholders and all).
    pub http: BTreeMap<crate::spec::HttpRequest, Result<HttpAnswer, Unanswered>>,
    /// Bytes under a service's path when the step had finished.
    pub disk: BTreeMap<crate::spec::DiskProbe, Result<u64, String>>,
    /// For a step not attempted: the step whose failure stopped it, followed
    /// back to the first (the build that failed, not the run after it).
    pub blocked_by: Option<String>,
}

impl StepObservation {
    pub fn new(step: &str, status: StepStatus) -> Self {
        StepObservation {
            step: step.to_string(),
            duration: Duration::ZERO,
            status,
            build: None,
            image: None,
            run: None,
            container: None,
            service: None,
            push: None,
            http: BTreeMap::new(),
            disk: BTreeMap::new(),
            blocked_by: None,
        }
    }
}

/// A running service: where the grader and the exercise's steps reach it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceFacts {
    pub container: String,
    /// Its port as published on the daemon's 127.0.0.1 (for pushes).
    pub host_port: Option<u16>,
    /// Its port inside the exercise's network.
    pub port: Option<u16>,
    /// The exercise's network, and the name it answers to there: where
    /// the grader's requests reach it.
    pub network: String,
    pub alias: String,
}

/// What a push left in the registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushFacts {
    /// The manifest's digest (`sha256:…`), as the registry stores it.
    pub digest: String,
    /// The digests of the manifest's layer blobs, bottom first.
    pub layers: Vec<String>,
    /// The references pushed (`127.0.0.1:PORT/course/app:1.0`).
    pub references: Vec<String>,
}

/// A service's answer to a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpAnswer {
    /// The request line as sent, placeholders filled in.
    pub request: String,
    pub status: u16,
    /// Header names lowercase; repeated headers joined with `, `.
    pub headers: BTreeMap<String, String>,
    /// The body (at most the capture limit), as text.
    pub body: String,
}

/// A request that got no answer, and whose doing that is: the student's
/// own container (live) not answering fails the check; a service the
/// grader started not answering is the grader's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unanswered {
    pub why: String,
    pub students: bool,
}

/// Fills the placeholders of `text` from what earlier steps recorded.
pub fn expand(text: &str, obs: &Observations) -> Result<String, String> {
    use crate::spec::Placeholder;
    let found = Placeholder::scan(text)?;
    let mut out = String::new();
    let mut at = 0;
    for (range, p) in found {
        out.push_str(&text[at..range.start]);
        if let Placeholder::Id { step } = &p {
            let image = obs
                .steps
                .get(step)
                .and_then(|s| s.image.as_ref())
                .ok_or_else(|| format!("step `{step}` has no image"))?;
            out.push_str(&image.id);
            at = range.end;
            continue;
        }
        let push = obs
            .steps
            .get(p.step())
            .and_then(|s| s.push.as_ref())
            .ok_or_else(|| format!("step `{}` pushed nothing", p.step()))?;
        match p {
            Placeholder::Digest { .. } => out.push_str(&push.digest),
            Placeholder::Id { .. } => {}
            Placeholder::Layer { step, index } => {
                let n = push.layers.len() as i64;
                let i = if index < 0 { n + index } else { index };
                let layer = usize::try_from(i)
                    .ok()
                    .and_then(|i| push.layers.get(i))
                    .ok_or_else(|| {
                        format!("step `{step}` pushed {n} layer(s): there is no layer {index}")
                    })?;
                out.push_str(layer);
            }
        }
        at = range.end;
    }
    out.push_str(&text[at..]);
    Ok(out)
}

/// An existing container, as `docker container inspect` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerFacts {
    pub name: String,
    pub state: String,
    pub exit_code: Option<i64>,
    /// The image as it was named when the container was created.
    pub image: String,
    /// The id of the image it was created from.
    pub image_id: String,
    /// The ids of the image references its checks name, for those the
    /// daemon has.
    pub image_ids: BTreeMap<String, String>,
    pub user: String,
    pub mounts: Vec<MountFacts>,
    /// Published ports as requested: (container port, host IP, host port).
    pub ports: Vec<(String, String, Option<u16>)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountFacts {
    pub kind: String,
    pub source: String,
    pub target: String,
    pub readonly: bool,
}

/// Whether a step produced what its checks look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepStatus {
    Done,
    /// The submission made the step impossible (build failed, timed out,
    /// image missing, a file refused). Checks on it fail with this reason.
    Failed(String),
    /// The grader or the daemon failed; not the student's doing.
    Error(String),
    /// Not attempted because a step it needs did not complete.
    Skipped(String),
}

/// A [`StepStatus`] without its reason, as reports name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepState {
    Done,
    Failed,
    Error,
    Skipped,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Done => "done",
            StepState::Failed => "failed",
            StepState::Error => "error",
            StepState::Skipped => "skipped",
        }
    }
}

impl StepStatus {
    pub fn state(&self) -> StepState {
        match self {
            StepStatus::Done => StepState::Done,
            StepStatus::Failed(_) => StepState::Failed,
            StepStatus::Error(_) => StepState::Error,
            StepStatus::Skipped(_) => StepState::Skipped,
        }
    }

    /// Why the step did not complete; `None` when it did.
    pub fn reason(&self) -> Option<&str> {
        match self {
            StepStatus::Done => None,
            StepStatus::Failed(m) | StepStatus::Error(m) | StepStatus::Skipped(m) => Some(m),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct BuildFacts {
    pub succeeded: bool,
    /// Bytes of build context sent to the daemon (tar stream size).
    pub context_bytes: Option<u64>,
    /// The end of the build output, for failure reports.
    pub log_tail: String,
    pub error: Option<String>,
    /// The Dockerfile's text, as the build sent it (when it could be read).
    pub dockerfile: Option<String>,
    /// The build context has a `.dockerignore`.
    pub dockerignore: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ImageFacts {
    pub id: String,
    pub size: u64,
    /// The image's file system layers, bottom first (RootFS.Layers: the
    /// digests of their content).
    pub layers: Vec<String>,
    pub config: ImageConfig,
    /// Per probed path: what the archive API said.
    pub files: BTreeMap<String, FileProbe>,
    /// The image's /etc/passwd, when asked for and present.
    pub passwd: Option<String>,
    /// The image's history (oldest first), when a check explains sizes.
    pub history: Option<Vec<HistoryEntry>>,
    /// What every layer holds, when a check looks into the layers.
    pub contents: Option<LayerContents>,
    /// Set when this build of a Dockerfile stands on other stages than the
    /// run's first build of it (another grading built them at the same
    /// moment, and building again did not help): comparing the two images'
    /// layers would say nothing true.
    pub stages_differ: Option<String>,
}

/// One entry of an image's history: the instruction that made it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The instruction, as the builder recorded it
    /// (`/bin/sh -c apt-get install -y git`, `/bin/sh -c #(nop) COPY …`).
    pub created_by: String,
    /// The bytes its layer added (the history API says; the config does not).
    pub size: Option<u64>,
    /// Whether it made no layer (the config says; the history API does not).
    pub empty_layer: Option<bool>,
}

/// What each layer of an image holds, bottom first, from its export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerContents {
    pub layers: Vec<LayerFiles>,
    /// The config's history, oldest first; its entries that are not
    /// `empty_layer` are the layers, in order.
    pub history: Vec<HistoryEntry>,
}

/// One layer: its entries sorted by path, the bytes of its files, and the
/// files that look like credentials (path, what; never the value).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerFiles {
    pub size: u64,
    pub entries: Vec<LayerEntry>,
    pub suspects: Vec<(String, crate::secrets::Suspect)>,
}

/// A path a layer adds, changes or deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerEntry {
    /// Absolute (`/usr/bin/git`); for a whiteout, the path it deletes; for
    /// an opaque marker, the folder whose earlier contents it hides.
    pub path: String,
    pub kind: EntryKind,
    /// Bytes of a regular file; 0 for everything else.
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    HardLink,
    /// Devices, fifos.
    Other,
    /// `.wh.<name>`: deletes `path` and everything under it.
    Whiteout,
    /// `.wh..wh..opq`: hides what earlier layers had under `path`.
    Opaque,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    pub user: String,
    pub workdir: String,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub exposed_ports: Vec<String>,
}

/// The kinds of file a check can ask about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    File,
    Dir,
    Symlink,
}

impl FileType {
    pub fn as_str(self) -> &'static str {
        match self {
            FileType::File => "file",
            FileType::Dir => "dir",
            FileType::Symlink => "symlink",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileProbe {
    Missing,
    Found(FileFacts),
    /// The probe itself failed (not the same as a missing file).
    Error(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileFacts {
    /// `None` for kinds a check cannot ask about (devices, sockets…).
    pub file_type: Option<FileType>,
    /// Unix permission bits including setuid/setgid/sticky (e.g. 0o4755).
    pub mode: u32,
    pub size: u64,
    pub link_target: Option<String>,
    pub uid: Option<u64>,
    pub gid: Option<u64>,
    /// Content, for `file` checks (capped by the engine).
    pub content: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Default)]
pub struct RunFacts {
    pub exit_code: Option<i64>,
    pub timed_out: Option<Duration>,
    pub oom_killed: bool,
    /// Killed for writing more than its disk budget: the bytes it had
    /// written to its own layer when it was stopped.
    pub disk_exceeded: Option<u64>,
    /// Why the command could not start at all (exit code 126 or 127), as
    /// the runtime said it.
    pub start_error: Option<String>,
    pub stdout: String,
    pub stderr: String,
    /// Bytes past the capture cap, counted and dropped.
    pub stdout_dropped: u64,
    pub stderr_dropped: u64,
    /// The user the process ran as: the run's `user`, else the image's.
    pub user: String,
    /// The container's /etc/passwd, when a user check needs it.
    pub passwd: Option<String>,
}

/// Resolves a Docker `USER` value (`""`, `"1000"`, `"app"`, `"app:staff"`,
/// `"1000:1000"`) to a uid, through `passwd` for names. Empty means root.
pub fn resolve_uid(user: &str, passwd: Option<&str>) -> Result<u32, String> {
    let name = user.split(':').next().unwrap_or("");
    if name.is_empty() {
        return Ok(0);
    }
    if let Ok(uid) = name.parse::<u32>() {
        return Ok(uid);
    }
    let Some(passwd) = passwd else {
        return Err(format!(
            "user `{name}` cannot be resolved: the image has no /etc/passwd"
        ));
    };
    passwd
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let mut fields = l.split(':');
            (fields.next() == Some(name))
                .then(|| fields.nth(1).and_then(|uid| uid.parse::<u32>().ok()))?
        })
        .ok_or_else(|| format!("user `{name}` is not in the image's /etc/passwd"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1000:1000::/home/app:/bin/sh\n";

    #[test]
    fn users_resolve_through_passwd() {
        assert_eq!(resolve_uid("", None), Ok(0));
        assert_eq!(resolve_uid("1000", None), Ok(1000));
        assert_eq!(resolve_uid("1000:1000", None), Ok(1000));
        assert_eq!(resolve_uid("app", Some(PASSWD)), Ok(1000));
        assert_eq!(resolve_uid("app:staff", Some(PASSWD)), Ok(1000));
        assert_eq!(resolve_uid("root", Some(PASSWD)), Ok(0));
        assert!(
            resolve_uid("ghost", Some(PASSWD))
                .expect_err("unknown")
                .contains("not in")
        );
        assert!(
            resolve_uid("app", None)
                .expect_err("no passwd")
                .contains("no /etc/passwd")
        );
    }
}
