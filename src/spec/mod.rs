//! The exercise spec: what an exercise asks for, as plain data.
//!
//! This module owns the *model* of an exercise (`Exercise`, `Step`, `Check`,
//! `Assertion`) and the entry point that turns TOML text into it
//! ([`parse_exercise`]). Parsing does no I/O: the caller reads the file and
//! hands over its text and a display name, so the same code serves `lint`,
//! `check` and the unit tests. Every problem in a file is collected and
//! reported with the line and column of the offending key ([`SpecError`]);
//! nothing here panics on bad input.

mod kinds;
mod live;
mod parse;
mod services;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

pub use kinds::AssertionKind;
pub use live::{ContainerExpectation, DaemonExpectation, MountExpectation, PortExpectation};
pub use parse::parse_exercise;
use regex::Regex;
pub use services::{
    DiskExpectation, DiskProbe, ExecStep, HttpExpectation, HttpRequest, JsonExpectation,
    Placeholder, PushStep, Readiness, ServiceStep,
};

use crate::observation::FileType;
use crate::sandbox::{Limits, Network, Sandbox};

/// One graded exercise, as written in `exercises/<id>.toml`.
#[derive(Debug, Clone)]
pub struct Exercise {
    pub id: String,
    pub title: String,
    pub section: Option<String>,
    pub description: String,
    /// Files the submission must contain, relative to the submission folder.
    pub required: Vec<RelPath>,
    pub steps: Vec<Step>,
    pub checks: Vec<Check>,
    /// Wall-clock limit for the whole exercise; steps not done by then fail.
    pub timeout: Duration,
    /// Files generated for the submission before grading.
    pub fixtures: Vec<Fixture>,
    /// The exercise's own files (`exercises/<id>/`), when it has any. Set by
    /// whoever loads the spec from disk: parsing does no I/O.
    pub files: Option<std::path::PathBuf>,
    pub mode: Mode,
    /// What the spec allows but is likely a mistake (`lint` shows these).
    pub warnings: Vec<SpecError>,
}

/// What an exercise grades.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Builds and runs the submission's files.
    Check,
    /// Looks at what the student did on their own daemon: images by tag and
    /// containers by name. Nothing is built or run.
    Live,
}

/// A file generated into the grading view of the submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixture {
    pub path: RelPath,
    pub content: FixtureContent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FixtureContent {
    /// Pseudo-random bytes (incompressible, like real data), the same every run.
    Random(u64),
    Zeros(u64),
    Text(String),
}

impl Exercise {
    /// The most points a student can earn on this exercise.
    pub fn max_points(&self) -> u32 {
        self.checks.iter().map(|c| c.points).sum()
    }
}

/// A path inside a folder (the submission or the exercise's own files).
///
/// Guaranteed relative, `/`-separated, with no `..` and no empty or `.`
/// components, so joining it onto its folder can never leave that folder
/// lexically. Symlinks are checked where the file system is read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RelPath(String);

impl RelPath {
    /// Normalises and validates `raw`; `None` when it is absolute or escapes.
    pub fn new(raw: &str) -> Option<RelPath> {
        if raw.starts_with('/') || raw.starts_with('\\') || raw.contains('\0') {
            return None;
        }
        let mut parts = Vec::new();
        for part in raw.split('/') {
            match part {
                "" | "." => {}
                ".." => return None,
                other => parts.push(other),
            }
        }
        Some(RelPath(parts.join("/")))
    }

    /// The folder itself.
    pub fn root() -> RelPath {
        RelPath(String::new())
    }

    /// The folder itself (`.`, or an empty path).
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_str(&self) -> &str {
        if self.0.is_empty() { "." } else { &self.0 }
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing dockgrade does against the daemon.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub kind: StepKind,
    /// Earlier steps that must complete first, beyond those the step's
    /// own fields name (`after = ["push-v1"]`): a registry's history is
    /// made in order.
    pub after: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum StepKind {
    /// Use an image that exists (or can be pulled).
    Image { reference: String, pull: PullPolicy },
    /// Build an image from the submission.
    Build(BuildStep),
    /// Run a container and record what it did.
    Run(RunStep),
    /// Look at an existing container, by name (live exercises).
    Container { name: String },
    /// Start a long-running container the exercise needs (a registry),
    /// ready before the steps that use it; removed when the exercise ends.
    Service(ServiceStep),
    /// Push a built image to a registry service.
    Push(PushStep),
    /// Run a command inside a running service.
    Exec(ExecStep),
}

/// The kind of a step without its data: what reports and messages call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepType {
    Image,
    Build,
    Run,
    Container,
    Service,
    Push,
    Exec,
}

impl StepType {
    pub fn as_str(self) -> &'static str {
        match self {
            StepType::Image => "image",
            StepType::Build => "build",
            StepType::Run => "run",
            StepType::Container => "container",
            StepType::Service => "service",
            StepType::Push => "push",
            StepType::Exec => "exec",
        }
    }
}

impl fmt::Display for StepType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl StepKind {
    pub fn step_type(&self) -> StepType {
        match self {
            StepKind::Image { .. } => StepType::Image,
            StepKind::Build(_) => StepType::Build,
            StepKind::Run(_) => StepType::Run,
            StepKind::Container { .. } => StepType::Container,
            StepKind::Service(_) => StepType::Service,
            StepKind::Push(_) => StepType::Push,
            StepKind::Exec(_) => StepType::Exec,
        }
    }

    /// Whether the step leaves an image behind that image checks can look at.
    pub fn yields_image(&self) -> bool {
        matches!(self, StepKind::Image { .. } | StepKind::Build(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    Missing,
    Never,
    Always,
}

#[derive(Debug, Clone)]
pub struct BuildStep {
    /// Where the Dockerfile and context come from.
    pub from: BuildSource,
    pub dockerfile: RelPath,
    pub context: RelPath,
    pub target: Option<String>,
    pub args: BTreeMap<String, String>,
    pub no_cache: bool,
    /// Network of the build's RUN instructions (the course needs apt).
    pub network: Network,
    /// Wall-clock limit of the build.
    pub timeout: Duration,
    /// Memory and CPU of each RUN instruction's container (pids do not apply).
    pub limits: Limits,
    /// Largest build context sent; checked before anything is sent.
    pub max_context: u64,
    /// URLs (by prefix) that the Dockerfile's `ADD` may fetch: the daemon
    /// fetches them from the grading machine's own network.
    pub allow_urls: Vec<String>,
    /// Images the Dockerfile may name that the daemon does not have (and
    /// would pull); the exercise's `image` steps are allowed too.
    pub allow_images: Vec<String>,
}

impl BuildStep {
    /// What each of the build's RUN containers is confined by.
    pub fn sandbox(&self) -> Sandbox {
        Sandbox::build(self.limits, self.network, self.timeout, self.max_context)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildSource {
    /// The student's files (with the exercise's files and fixtures added).
    Submission,
    /// The exercise's own files only: a reference build.
    Exercise,
}

#[derive(Debug, Clone)]
pub struct RunStep {
    pub image: ImageSource,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub user: Option<String>,
    pub env: BTreeMap<String, String>,
    pub workdir: Option<String>,
    pub network: Network,
    pub stdin: Option<String>,
    pub mounts: Vec<Mount>,
    pub timeout: Duration,
    pub limits: Limits,
    /// Run `cmd` as arguments of the image's ENTRYPOINT, as `docker run
    /// IMAGE CMD` does. Off by default: a step that names a command runs
    /// that command, so an ENTRYPOINT cannot answer in its place.
    pub keep_entrypoint: bool,
    /// Let the image's HEALTHCHECK run during the step (off by default: a
    /// healthcheck is the image's own process, spawned outside the command).
    pub healthcheck: bool,
    /// Run with `--privileged` (live exercises only, and only ever on a
    /// rootless daemon: the engine refuses it on any other).
    pub privileged: bool,
}

impl RunStep {
    /// What the run's container is confined by.
    pub fn sandbox(&self) -> Sandbox {
        let sandbox = Sandbox::run(self.limits, self.network, self.timeout);
        if self.privileged {
            sandbox.privileged()
        } else {
            sandbox
        }
    }

    /// The ENTRYPOINT the container gets: the step's own; none when the
    /// step names a command (unless it keeps the image's); else the image's.
    pub fn entrypoint(&self) -> Option<Vec<String>> {
        match (&self.entrypoint, &self.cmd, self.keep_entrypoint) {
            (Some(e), _, _) => Some(e.clone()),
            (None, Some(_), false) => Some(Vec::new()),
            _ => None,
        }
    }
}

/// Where a run step's image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// The image another step produced (built or named).
    Step(String),
    /// An image reference used as it is.
    Reference(String),
}

#[derive(Debug, Clone)]
pub enum Mount {
    /// A file or folder of the submission, bound into the container.
    Bind {
        source: RelPath,
        target: String,
        readonly: bool,
    },
    /// An in-memory file system.
    Tmpfs { target: String },
    /// A fresh, empty, root-owned volume that is removed after the run.
    Scratch { target: String },
}

/// A graded statement about one step: passes when all its assertions hold.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub step: String,
    pub points: u32,
    pub hint: Option<String>,
    pub assertions: Vec<Assertion>,
    pub visibility: Visibility,
}

/// Who may see a check's name, message and hint. Every check counts in the
/// score; a hidden one is shown to instructors (batch files, JSON) only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    #[default]
    Visible,
    Hidden,
    /// Hidden until the due date (platforms that know it, such as
    /// Gradescope, show it then).
    AfterDueDate,
}

impl Visibility {
    pub fn key(self) -> &'static str {
        match self {
            Visibility::Visible => "visible",
            Visibility::Hidden => "hidden",
            Visibility::AfterDueDate => "after_due_date",
        }
    }

    /// Whether a student may see the check now.
    pub fn shown_to_students(self) -> bool {
        self == Visibility::Visible
    }
}

#[derive(Debug, Clone)]
pub enum Assertion {
    Build(BuildExpectation),
    Size(SizeBounds),
    Layers(LayerExpectation),
    Files {
        present: Vec<FileExpectation>,
        absent: Vec<String>,
    },
    File {
        path: String,
        matcher: TextMatcher,
    },
    Config(ConfigExpectation),
    User(UserExpectation),
    Context {
        max: u64,
    },
    /// At most `max` bytes that later layers overwrite or delete (dive's
    /// wasted bytes).
    Wasted {
        max: u64,
    },
    /// dive's efficiency score is at least `min` (0 to 1).
    Efficiency {
        min: f64,
    },
    /// No credential in any layer, the config or the history
    /// (`secrets = "none"`).
    Secrets,
    /// The Dockerfile breaks none of `rules` (read, not built); `non_root`:
    /// the exercise wants the image to run as a user other than root.
    Dockerfile {
        rules: Vec<crate::dockerfile_rules::Rule>,
        non_root: bool,
    },
    ExitCode(ExitExpectation),
    Stdout(TextMatcher),
    Stderr(TextMatcher),
    Container(ContainerExpectation),
    /// A request from the grader to a service, made when the check's step
    /// has finished, and what its answer must be.
    Http(Box<HttpExpectation>),
    /// Bytes under a path of a service's container, measured when the
    /// check's step has finished.
    Disk(DiskExpectation),
    /// Facts about the daemon the exercise runs on (live exercises: the
    /// student's own).
    Daemon(DaemonExpectation),
}

impl Assertion {
    pub fn kind(&self) -> AssertionKind {
        match self {
            Assertion::Build(_) => AssertionKind::Build,
            Assertion::Size(_) => AssertionKind::Size,
            Assertion::Layers(_) => AssertionKind::Layers,
            Assertion::Files { .. } => AssertionKind::Files,
            Assertion::File { .. } => AssertionKind::File,
            Assertion::Config(_) => AssertionKind::Config,
            Assertion::User(_) => AssertionKind::User,
            Assertion::Context { .. } => AssertionKind::Context,
            Assertion::Wasted { .. } => AssertionKind::Wasted,
            Assertion::Efficiency { .. } => AssertionKind::Efficiency,
            Assertion::Secrets => AssertionKind::Secrets,
            Assertion::Dockerfile { .. } => AssertionKind::Dockerfile,
            Assertion::ExitCode(_) => AssertionKind::ExitCode,
            Assertion::Stdout(_) => AssertionKind::Stdout,
            Assertion::Stderr(_) => AssertionKind::Stderr,
            Assertion::Container(_) => AssertionKind::Container,
            Assertion::Http(_) => AssertionKind::Http,
            Assertion::Disk(_) => AssertionKind::Disk,
            Assertion::Daemon(_) => AssertionKind::Daemon,
        }
    }
}

/// What an image's layers must be; every bound given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerExpectation {
    pub min: Option<u64>,
    pub max: Option<u64>,
    /// Strictly more layers than the image of that step.
    pub more_than: Option<String>,
    /// The image is built on the image of that step: its layers come first.
    pub based_on: Option<String>,
    /// The image is not built on the image of that step.
    pub not_based_on: Option<String>,
    /// Absolute paths (`.dockerignore` globs) that no layer may add, even
    /// one a later layer deletes.
    pub absent: Vec<String>,
    /// Paths some layer must add, even one a later layer deletes.
    pub present: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildExpectation {
    Succeeds,
    Fails,
}

/// Size bounds; every bound given must hold.
#[derive(Debug, Clone, Default)]
pub struct SizeBounds {
    pub max: Option<u64>,
    pub min: Option<u64>,
    /// At most `by` bytes larger than the image of the named step.
    pub max_over: Option<(String, u64)>,
    /// At least `by` bytes larger than the image of the named step.
    pub min_over: Option<(String, u64)>,
    pub smaller_than: Option<String>,
    pub larger_than: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileExpectation {
    pub path: String,
    pub file_type: Option<FileType>,
    /// Permission bits, e.g. 0o755.
    pub mode: Option<u32>,
    pub uid: Option<u64>,
    pub gid: Option<u64>,
}

/// Text assertions; every one given must hold.
#[derive(Debug, Clone, Default)]
pub struct TextMatcher {
    pub equals: Option<String>,
    pub contains: Option<String>,
    pub not_contains: Option<String>,
    pub matches: Option<Regex>,
    pub not_matches: Option<Regex>,
}

/// Image metadata to compare; only the listed fields are compared.
#[derive(Debug, Clone, Default)]
pub struct ConfigExpectation {
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub exposed_ports: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserExpectation {
    Uid(u32),
    NotRoot,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitExpectation {
    Is(i64),
    Not(i64),
    In(Vec<i64>),
}

/// A problem in a spec file, with the place of the offending key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The file as the user named it.
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The dotted path of the key, e.g. `checks[2].size.by`.
    pub key: String,
    pub message: String,
    /// The text of the offending line, for a caret under the column.
    pub source_line: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

impl SpecError {
    /// The error with the offending line and a caret under the column.
    pub fn render(&self) -> String {
        self.render_as("error")
    }

    /// Like [`SpecError::render`], introduced as `kind` (`warning`…).
    pub fn render_as(&self, kind: &str) -> String {
        let mut out = format!("{kind}: {self}\n");
        if !self.source_line.is_empty() {
            let gutter = self.line.to_string().len();
            out.push_str(&format!("{:gutter$} |\n", ""));
            out.push_str(&format!("{} | {}\n", self.line, self.source_line));
            let pad: String = self
                .source_line
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            out.push_str(&format!("{:gutter$} | {pad}^\n", ""));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cmd: Option<&[&str]>, entrypoint: Option<&[&str]>, keep: bool) -> RunStep {
        let list = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        RunStep {
            image: ImageSource::Reference("x".into()),
            cmd: cmd.map(list),
            entrypoint: entrypoint.map(list),
            user: None,
            env: BTreeMap::new(),
            workdir: None,
            network: Network::None,
            stdin: None,
            mounts: Vec::new(),
            timeout: Duration::from_secs(1),
            limits: Limits::default(),
            keep_entrypoint: keep,
            healthcheck: false,
            privileged: false,
        }
    }

    #[test]
    fn a_named_command_replaces_the_images_entrypoint_unless_kept() {
        assert_eq!(
            run(Some(&["id", "-u"]), None, false).entrypoint(),
            Some(vec![])
        );
        assert_eq!(run(Some(&["id", "-u"]), None, true).entrypoint(), None);
        assert_eq!(run(None, None, false).entrypoint(), None);
        assert_eq!(
            run(Some(&["-c", "x"]), Some(&["sh"]), false).entrypoint(),
            Some(vec!["sh".to_string()])
        );
    }
}
