//! The engine: the only module that talks to the Docker daemon.
//!
//! Every bollard call in dockgrade is in this file. The engine turns planned
//! steps into [`observation`](crate::observation) facts: it pulls or finds
//! images, streams build contexts, inspects each image once, probes files
//! through a created-but-never-started container (so shell-less images work),
//! and runs containers with captured, capped output. Everything it creates
//! carries dockgrade's labels and is recorded, so [`Engine::cleanup`] removes
//! exactly this run's resources and [`Engine::clean_all`] everything of ours.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::models::{
    ContainerCreateBody, HostConfig, HostConfigLogConfig, ImageInspect, Mount as DockerMount,
    MountType, VolumeCreateRequest,
};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, BuildImageOptionsBuilder, ContainerArchiveInfoOptionsBuilder,
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, DownloadFromContainerOptionsBuilder,
    KillContainerOptionsBuilder, ListContainersOptionsBuilder, ListImagesOptionsBuilder,
    ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
    RemoveVolumeOptions,
};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use tokio::io::AsyncWriteExt;

use crate::context::{self, BuildContext};
use crate::observation::{
    BuildFacts, ContainerFacts, FileFacts, FileProbe, ImageConfig, ImageFacts, MountFacts, RunFacts,
};
use crate::plan::{FileNeed, Probe};
use crate::spec::units::format_duration;
use crate::spec::{FileType, Limits, Mount, Network, PullPolicy, RunStep};

/// Label on everything dockgrade creates.
pub const LABEL: &str = "io.dockgrade";
/// Label holding the id of the run that created a resource.
pub const RUN_LABEL: &str = "io.dockgrade.run";

/// Capabilities a run keeps; every other one is dropped. These are what a
/// root process needs to manage its own files and switch users (su, gosu),
/// and nothing that reaches the host (no NET_ADMIN, SYS_ADMIN, MKNOD…).
pub const CAPABILITIES: [&str; 6] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "KILL",
    "SETGID",
    "SETUID",
];

/// Most bytes kept of a file's content or of each output stream.
pub const CAPTURE_LIMIT: usize = 1 << 20;
/// How many lines of build output a failure report keeps.
const BUILD_LOG_LINES: usize = 40;

/// The daemon could not be used at all: nothing can be graded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    #[error("cannot reach the Docker daemon at {host}: {message}")]
    Unreachable { host: String, message: String },
    #[error("the Docker daemon failed: {0}")]
    Daemon(String),
}

/// Why a step did not produce its facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepError {
    /// Caused by the submission (a failed build, a missing image…).
    Submission(String),
    /// Caused by the daemon or dockgrade.
    Infrastructure(String),
}

impl StepError {
    fn daemon(what: &str, e: DockerError) -> StepError {
        StepError::Infrastructure(format!("{what}: {}", describe(&e)))
    }
}

/// A short, human description of a bollard error.
fn describe(e: &DockerError) -> String {
    match e {
        DockerError::DockerResponseServerError { message, .. } => message.trim().to_string(),
        DockerError::DockerStreamError { error } => error.trim().to_string(),
        other => other.to_string(),
    }
}

fn is_not_found(e: &DockerError) -> bool {
    matches!(
        e,
        DockerError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// What to build, in the daemon's terms.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    pub tag: String,
    pub target: Option<String>,
    pub args: std::collections::BTreeMap<String, String>,
    pub no_cache: bool,
    pub network: Network,
    pub timeout: Duration,
    pub limits: Limits,
}

/// The result of a build: facts, and the image when it succeeded.
#[derive(Debug, Clone)]
pub struct BuildOutcome {
    pub facts: BuildFacts,
    pub image_id: Option<String>,
    /// Set when the failure was the daemon's, not the Dockerfile's.
    pub infrastructure_error: Option<String>,
}

/// A bind mount whose source has been checked to lie inside the submission.
#[derive(Debug, Clone)]
pub struct ResolvedMount {
    pub mount: Mount,
    pub host_source: Option<std::path::PathBuf>,
}

#[derive(Debug, Default)]
struct Created {
    containers: Vec<String>,
    images: Vec<String>,
    volumes: Vec<String>,
    /// Every layer image a build reported, in order. The legacy builder
    /// leaves the images of a multi-stage build's other stages, and a failed
    /// build's last step, as untagged images outside the tagged image's
    /// parent chain; cleanup removes those that end up untagged.
    layers: Vec<String>,
}

/// The daemon's own description of itself.
#[derive(Debug, Clone, Default)]
pub struct DaemonInfo {
    pub version: String,
    pub api_version: String,
    pub storage_driver: String,
    pub root_dir: String,
    pub rootless: bool,
    pub operating_system: String,
}

/// Container and image ids present at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    containers: std::collections::HashSet<String>,
    images: std::collections::HashSet<String>,
}

/// How one removal went.
#[derive(Debug)]
enum Removal {
    Removed,
    /// Already gone.
    Absent,
    Failed(String),
}

impl Removal {
    fn of(result: Result<(), DockerError>) -> Removal {
        match result {
            Ok(()) => Removal::Removed,
            Err(e) if is_not_found(&e) => Removal::Absent,
            Err(e) => Removal::Failed(describe(&e)),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Container,
    Image,
    Volume,
}

/// What a cleanup removed, and what it could not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanupReport {
    pub containers: usize,
    pub images: usize,
    pub volumes: usize,
    pub failures: Vec<String>,
}

impl CleanupReport {
    fn tally(&mut self, kind: Kind, what: &str, removal: Removal) {
        let (count, noun) = match kind {
            Kind::Container => (&mut self.containers, "container"),
            Kind::Image => (&mut self.images, "image"),
            Kind::Volume => (&mut self.volumes, "volume"),
        };
        match removal {
            Removal::Removed => *count += 1,
            Removal::Absent => {}
            Removal::Failed(e) => self.failures.push(format!("{noun} {what}: {e}")),
        }
    }

    fn add(&mut self, other: CleanupReport) {
        self.containers += other.containers;
        self.images += other.images;
        self.volumes += other.volumes;
        self.failures.extend(other.failures);
    }
}

/// A connection to the daemon for one grading run.
#[derive(Debug)]
pub struct Engine {
    docker: Docker,
    run_id: String,
    created: Mutex<Created>,
    probe_counter: AtomicU64,
}

/// The daemon address as the user configured it (for messages).
pub fn docker_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_string())
}

impl Engine {
    /// Connects (honouring `DOCKER_HOST`), agrees on an API version, pings.
    pub async fn connect(run_id: &str) -> Result<Engine, EngineError> {
        let host = docker_host();
        let unreachable = |e: DockerError| EngineError::Unreachable {
            host: host.clone(),
            message: describe(&e),
        };
        // Builds and runs have their own limits; the client must not cut a
        // long apt-get install short.
        let docker = Docker::connect_with_defaults()
            .map_err(unreachable)?
            .with_timeout(Duration::from_secs(3600));
        let ping = tokio::time::timeout(Duration::from_secs(10), docker.ping()).await;
        match ping {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(unreachable(e)),
            Err(_) => {
                return Err(EngineError::Unreachable {
                    host,
                    message: "no answer within 10 s".to_string(),
                });
            }
        }
        let docker = docker.negotiate_version().await.map_err(unreachable)?;
        Ok(Engine {
            docker,
            run_id: run_id.to_string(),
            created: Mutex::new(Created::default()),
            probe_counter: AtomicU64::new(0),
        })
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    fn labels(&self) -> HashMap<String, String> {
        HashMap::from([
            (LABEL.to_string(), "1".to_string()),
            (RUN_LABEL.to_string(), self.run_id.clone()),
        ])
    }

    fn record(&self, f: impl FnOnce(&mut Created)) {
        if let Ok(mut c) = self.created.lock() {
            f(&mut c);
        }
    }

    /// Finds (pulling as `pull` says) and inspects a named image, then
    /// probes what its checks need. The image is inspected once.
    pub async fn image(
        &self,
        reference: &str,
        pull: PullPolicy,
        probe: &Probe,
    ) -> Result<ImageFacts, StepError> {
        let found = self.inspect(reference).await?;
        let must_pull = match pull {
            PullPolicy::Always => true,
            PullPolicy::Missing => found.is_none(),
            PullPolicy::Never => false,
        };
        let inspect = match (found, must_pull) {
            (Some(inspect), false) => inspect,
            (None, false) => {
                return Err(StepError::Submission(format!(
                    "image `{reference}` is not present (pull = \"never\")"
                )));
            }
            (found, true) => {
                let options = CreateImageOptionsBuilder::default()
                    .from_image(reference)
                    .build();
                let pulled: Result<Vec<_>, _> = self
                    .docker
                    .create_image(Some(options), None, None)
                    .try_collect()
                    .await;
                match (pulled, found) {
                    (Ok(_), _) => self.inspect(reference).await?.ok_or_else(|| {
                        StepError::Infrastructure(format!(
                            "image `{reference}` vanished right after its pull"
                        ))
                    })?,
                    // "always", but the registry is away: the local copy serves.
                    (Err(_), Some(inspect)) => inspect,
                    (Err(e), None) => {
                        return Err(StepError::Submission(format!(
                            "image `{reference}` is not present and could not be pulled: {}",
                            describe(&e)
                        )));
                    }
                }
            }
        };
        self.facts(inspect, probe).await
    }

    async fn inspect(&self, reference: &str) -> Result<Option<ImageInspect>, StepError> {
        match self.docker.inspect_image(reference).await {
            Ok(i) => Ok(Some(i)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(StepError::daemon("inspecting the image", e)),
        }
    }

    /// Builds `ctx` with the legacy builder, streaming the context as a tar.
    ///
    /// `on_line` receives each line of build output as it arrives.
    pub async fn build(
        &self,
        ctx: BuildContext,
        req: &BuildRequest,
        on_line: &(dyn Fn(&str) + Send + Sync),
    ) -> BuildOutcome {
        let labels = self.labels();
        let mut options = BuildImageOptionsBuilder::default()
            .dockerfile(&ctx.dockerfile)
            .t(&req.tag)
            .rm(true)
            .forcerm(true)
            .nocache(req.no_cache)
            .labels(&labels)
            // Each RUN instruction's container gets the same memory and CPU
            // as a run step; the legacy builder takes 32-bit byte counts.
            .memory(i32::try_from(req.limits.memory).unwrap_or(i32::MAX))
            .memswap(i32::try_from(req.limits.memory).unwrap_or(i32::MAX))
            .cpuperiod(100_000)
            .cpuquota((req.limits.cpus * 100_000.0) as i32)
            .networkmode(match req.network {
                Network::None => "none",
                Network::Bridge => "default",
            });
        if let Some(target) = &req.target {
            options = options.target(target);
        }
        if !req.args.is_empty() {
            let args: HashMap<&String, &String> = req.args.iter().collect();
            options = options.buildargs(&args);
        }
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, io::Error>>(8);
        let sent = std::sync::Arc::new(AtomicU64::new(0));
        let writer_sent = sent.clone();
        let writer = tokio::task::spawn_blocking(move || {
            let n = context::write_tar(
                &ctx,
                ChannelWriter {
                    tx,
                    buf: Vec::with_capacity(64 << 10),
                },
            )?;
            writer_sent.store(n, Ordering::Relaxed);
            Ok::<u64, io::Error>(n)
        });
        let body = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });

        let mut log = LogTail::new(BUILD_LOG_LINES);
        let mut image_id = None;
        let mut stream =
            self.docker
                .build_image(options.build(), None, Some(bollard::body_try_stream(body)));
        // (is infrastructure, message) of a failure.
        let consume = async {
            while let Some(item) = stream.next().await {
                match item {
                    Ok(info) => {
                        if let Some(text) = info.stream {
                            for line in text.lines() {
                                if let Some(id) = line.trim().strip_prefix("---> ")
                                    && id.len() == 12
                                    && id.chars().all(|c| c.is_ascii_hexdigit())
                                {
                                    let id = id.to_string();
                                    self.record(|c| c.layers.push(id));
                                }
                                if !line.trim().is_empty() {
                                    on_line(line);
                                }
                            }
                            log.push(&text);
                        }
                        if let Some(id) = info.aux.and_then(|aux| aux.id) {
                            image_id = Some(id);
                        }
                    }
                    Err(DockerError::DockerStreamError { error }) => {
                        return Some((false, error.trim().to_string()));
                    }
                    // The daemon refuses a Dockerfile it cannot parse or find
                    // before streaming anything: that is the submission's fault.
                    Err(DockerError::DockerResponseServerError {
                        status_code,
                        message,
                    }) if status_code <= 500 => {
                        return Some((false, message.trim().to_string()));
                    }
                    Err(e) => {
                        return Some((true, describe(&e)));
                    }
                }
            }
            None
        };
        // Dropping the stream on a timeout closes the connection, which makes
        // the daemon cancel the build and remove its RUN container.
        let mut failure = match tokio::time::timeout(req.timeout, consume).await {
            Ok(failure) => failure,
            Err(_) => Some((
                false,
                format!("the build timed out after {}", format_duration(req.timeout)),
            )),
        };
        drop(stream);
        let written = writer.await;
        let context_bytes = match written {
            Ok(Ok(n)) => Some(n),
            _ => Some(sent.load(Ordering::Relaxed)).filter(|n| *n > 0),
        };
        if failure.is_none()
            && let Ok(Err(e)) = &written
        {
            failure = Some((false, format!("the build context could not be read: {e}")));
        }
        let mut facts = BuildFacts {
            succeeded: failure.is_none(),
            context_bytes,
            log_tail: log.text(),
            error: None,
        };
        match failure {
            None => {
                self.record(|c| c.images.push(req.tag.clone()));
                if image_id.is_none() {
                    image_id = self
                        .docker
                        .inspect_image(&req.tag)
                        .await
                        .ok()
                        .and_then(|i| i.id);
                }
                BuildOutcome {
                    facts,
                    image_id,
                    infrastructure_error: None,
                }
            }
            Some((infra, message)) => {
                facts.error = Some(message.clone());
                BuildOutcome {
                    facts,
                    image_id: None,
                    infrastructure_error: infra.then_some(message),
                }
            }
        }
    }

    async fn remove_untagged(&self, id: &str) {
        if let Ok(image) = self.docker.inspect_image(id).await
            && image.repo_tags.unwrap_or_default().is_empty()
        {
            let _ = self
                .docker
                .remove_image(id, Some(RemoveImageOptionsBuilder::default().build()), None)
                .await;
        }
    }

    /// Looks at an existing container by name (live exercises): read only.
    pub async fn container(&self, name: &str) -> Result<ContainerFacts, StepError> {
        let inspect = match self.docker.inspect_container(name, None).await {
            Ok(i) => i,
            Err(e) if is_not_found(&e) => {
                return Err(StepError::Submission(format!(
                    "there is no container named `{name}`: start it with `--name {name}`, and without `--rm`"
                )));
            }
            Err(e) => return Err(StepError::daemon("inspecting the container", e)),
        };
        let state = inspect.state.unwrap_or_default();
        let config = inspect.config.unwrap_or_default();
        let mut ports = Vec::new();
        for (port, bindings) in inspect
            .host_config
            .and_then(|h| h.port_bindings)
            .unwrap_or_default()
        {
            for b in bindings.unwrap_or_default() {
                ports.push((
                    port.clone(),
                    b.host_ip.unwrap_or_default(),
                    b.host_port.and_then(|p| p.parse().ok()),
                ));
            }
        }
        ports.sort();
        Ok(ContainerFacts {
            name: name.to_string(),
            state: state.status.map(|s| s.to_string()).unwrap_or_default(),
            exit_code: state.exit_code,
            image: config.image.unwrap_or_default(),
            user: config.user.unwrap_or_default(),
            mounts: inspect
                .mounts
                .unwrap_or_default()
                .into_iter()
                .map(|m| MountFacts {
                    kind: m.typ.map(|t| t.to_string()).unwrap_or_default(),
                    source: m.source.unwrap_or_default(),
                    target: m.destination.unwrap_or_default(),
                    readonly: !m.rw.unwrap_or(true),
                })
                .collect(),
            ports,
        })
    }

    /// Inspects an image dockgrade built (by id) and probes what its checks need.
    pub async fn built_image(&self, id: &str, probe: &Probe) -> Result<ImageFacts, StepError> {
        match self.inspect(id).await? {
            Some(inspect) => self.facts(inspect, probe).await,
            None => Err(StepError::Infrastructure(format!(
                "the image just built ({id}) is gone"
            ))),
        }
    }

    async fn facts(&self, inspect: ImageInspect, probe: &Probe) -> Result<ImageFacts, StepError> {
        let config = inspect.config.unwrap_or_default();
        let mut exposed = config.exposed_ports.unwrap_or_default();
        exposed.sort();
        let mut facts = ImageFacts {
            id: inspect.id.unwrap_or_default(),
            size: inspect.size.unwrap_or(0).max(0) as u64,
            layers: inspect
                .root_fs
                .and_then(|r| r.layers)
                .map_or(0, |l| l.len() as u64),
            config: ImageConfig {
                user: config.user.unwrap_or_default(),
                workdir: config.working_dir.unwrap_or_default(),
                cmd: config.cmd,
                entrypoint: config.entrypoint,
                env: config.env.unwrap_or_default(),
                labels: config.labels.unwrap_or_default().into_iter().collect(),
                exposed_ports: exposed,
            },
            files: Default::default(),
            passwd: None,
        };
        if probe.is_empty() {
            return Ok(facts);
        }
        let container = self.create_probe_container(&facts.id).await?;
        let result = self.probe_files(&container, probe, &mut facts).await;
        self.remove_container(&container).await;
        result.map(|_| facts)
    }

    async fn create_probe_container(&self, image_id: &str) -> Result<String, StepError> {
        let n = self.probe_counter.fetch_add(1, Ordering::Relaxed);
        let name = format!("dockgrade-{}-probe-{n}", self.run_id);
        let body = ContainerCreateBody {
            image: Some(image_id.to_string()),
            // Never started: the command only has to satisfy the API.
            cmd: Some(vec!["/dockgrade-probe".to_string()]),
            entrypoint: Some(vec![]),
            labels: Some(self.labels()),
            network_disabled: Some(true),
            host_config: Some(HostConfig {
                network_mode: Some("none".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        let created = self
            .docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| StepError::daemon("creating a container to read files", e))?;
        self.record(|c| c.containers.push(created.id.clone()));
        Ok(created.id)
    }

    async fn probe_files(
        &self,
        container: &str,
        probe: &Probe,
        facts: &mut ImageFacts,
    ) -> Result<(), StepError> {
        let results: Vec<(String, FileProbe)> = futures_util::stream::iter(probe.files.iter())
            .map(|(path, need)| async move {
                (path.clone(), self.probe_path(container, path, *need).await)
            })
            .buffer_unordered(8)
            .collect()
            .await;
        facts.files = results.into_iter().collect();
        if probe.passwd {
            facts.passwd = self.read_text(container, "/etc/passwd").await?;
        }
        Ok(())
    }

    /// Stats one path (a HEAD request) and reads it only when needed.
    async fn probe_path(&self, container: &str, path: &str, need: FileNeed) -> FileProbe {
        let options = ContainerArchiveInfoOptionsBuilder::default()
            .path(path)
            .build();
        let stat = match self
            .docker
            .get_container_archive_info(container, Some(options))
            .await
        {
            Ok(s) => s,
            Err(e) if is_not_found(&e) => return FileProbe::Missing,
            Err(e) => return FileProbe::Error(describe(&e)),
        };
        let mut facts = FileFacts {
            file_type: go_file_type(stat.file_mode),
            mode: go_mode_to_unix(stat.file_mode),
            size: stat.size.max(0) as u64,
            link_target: (!stat.link_target.is_empty()).then(|| stat.link_target.clone()),
            ..Default::default()
        };
        if need.owner || need.content {
            match self.read_entry(container, path, need.content).await {
                Ok(Some(entry)) => {
                    facts.uid = Some(entry.uid);
                    facts.gid = Some(entry.gid);
                    facts.content = entry.content;
                }
                Ok(None) => return FileProbe::Missing,
                Err(e) => return FileProbe::Error(e),
            }
            // A symlink's content is its target's: follow it inside the image.
            if need.content && facts.file_type == Some(FileType::Symlink) {
                let mut target = resolve_link(path, facts.link_target.as_deref().unwrap_or(""));
                for _ in 0..8 {
                    match self.read_entry(container, &target, true).await {
                        Ok(Some(entry)) if entry.link.is_some() => {
                            target = resolve_link(&target, entry.link.as_deref().unwrap_or(""));
                        }
                        Ok(Some(entry)) => {
                            facts.content = entry.content;
                            break;
                        }
                        Ok(None) => break,
                        Err(e) => return FileProbe::Error(e),
                    }
                }
            }
        }
        FileProbe::Found(facts)
    }

    /// Reads the first archive entry at `path`: owner, link, and content if asked.
    async fn read_entry(
        &self,
        container: &str,
        path: &str,
        want_content: bool,
    ) -> Result<Option<ArchiveEntry>, String> {
        let options = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let mut stream = self
            .docker
            .download_from_container(container, Some(options));
        let mut buf = Vec::new();
        // The first header and up to the capture limit of content is all we
        // keep; a folder's whole tree is never downloaded.
        let limit = if want_content {
            CAPTURE_LIMIT + 64 * 1024
        } else {
            64 * 1024
        };
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => buf.extend_from_slice(&bytes),
                Err(e) if is_not_found(&e) => return Ok(None),
                Err(e) => return Err(describe(&e)),
            }
            if buf.len() >= limit {
                break;
            }
        }
        drop(stream);
        Ok(parse_first_entry(&buf, want_content))
    }

    async fn read_text(&self, container: &str, path: &str) -> Result<Option<String>, StepError> {
        match self.read_entry(container, path, true).await {
            Ok(entry) => Ok(entry
                .and_then(|e| e.content)
                .map(|c| String::from_utf8_lossy(&c).into_owned())),
            Err(e) => Err(StepError::Infrastructure(format!("reading {path}: {e}"))),
        }
    }

    /// Runs a container to completion (or its timeout) and records it.
    pub async fn run(
        &self,
        container_name: &str,
        image_id: &str,
        image_user: &str,
        step: &RunStep,
        mounts: &[ResolvedMount],
        probe: &Probe,
    ) -> Result<RunFacts, StepError> {
        let mut docker_mounts = Vec::new();
        let mut volumes = Vec::new();
        for m in mounts {
            match (&m.mount, &m.host_source) {
                (
                    Mount::Bind {
                        target, readonly, ..
                    },
                    Some(src),
                ) => docker_mounts.push(DockerMount {
                    target: Some(target.clone()),
                    source: Some(src.display().to_string()),
                    typ: Some(MountType::BIND),
                    read_only: Some(*readonly),
                    ..Default::default()
                }),
                (Mount::Tmpfs { target }, _) => docker_mounts.push(DockerMount {
                    target: Some(target.clone()),
                    typ: Some(MountType::TMPFS),
                    ..Default::default()
                }),
                (Mount::Scratch { target }, _) => {
                    let name = format!("{container_name}-v{}", volumes.len());
                    let request = VolumeCreateRequest {
                        name: Some(name.clone()),
                        labels: Some(self.labels()),
                        ..Default::default()
                    };
                    self.docker
                        .create_volume(request)
                        .await
                        .map_err(|e| StepError::daemon("creating a scratch volume", e))?;
                    self.record(|c| c.volumes.push(name.clone()));
                    volumes.push(name.clone());
                    docker_mounts.push(DockerMount {
                        target: Some(target.clone()),
                        source: Some(name),
                        typ: Some(MountType::VOLUME),
                        ..Default::default()
                    });
                }
                (Mount::Bind { .. }, None) => {
                    return Err(StepError::Infrastructure(
                        "bind mount without a checked source".into(),
                    ));
                }
            }
        }
        let result = self
            .run_container(
                container_name,
                image_id,
                image_user,
                step,
                docker_mounts,
                probe,
            )
            .await;
        for v in volumes {
            self.remove_volume(&v).await;
        }
        result
    }

    async fn run_container(
        &self,
        name: &str,
        image_id: &str,
        image_user: &str,
        step: &RunStep,
        mounts: Vec<DockerMount>,
        probe: &Probe,
    ) -> Result<RunFacts, StepError> {
        let body = ContainerCreateBody {
            image: Some(image_id.to_string()),
            cmd: step.cmd.clone(),
            entrypoint: step.entrypoint.clone(),
            user: step.user.clone(),
            env: Some(step.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            working_dir: step.workdir.clone(),
            labels: Some(self.labels()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            attach_stdin: Some(step.stdin.is_some()),
            open_stdin: Some(step.stdin.is_some()),
            stdin_once: Some(step.stdin.is_some()),
            tty: Some(false),
            host_config: Some(sandbox(step, mounts)),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(name).build();
        let created = match self.docker.create_container(Some(options), body).await {
            Ok(c) => c,
            // The daemon refuses a bad command or user before anything runs.
            Err(DockerError::DockerResponseServerError {
                status_code: 400,
                message,
            }) => {
                return Err(StepError::Submission(format!(
                    "the container could not be created: {}",
                    message.trim()
                )));
            }
            Err(e) => return Err(StepError::daemon("creating the container", e)),
        };
        let id = created.id;
        self.record(|c| c.containers.push(id.clone()));
        let result = self.drive(&id, step, image_user, probe).await;
        self.remove_container(&id).await;
        result
    }

    async fn drive(
        &self,
        id: &str,
        step: &RunStep,
        image_user: &str,
        probe: &Probe,
    ) -> Result<RunFacts, StepError> {
        let attach = AttachContainerOptionsBuilder::default()
            .stream(true)
            // Attached before start, so nothing is missed; and with no log
            // driver there are no logs to replay.
            .logs(false)
            .stdout(true)
            .stderr(true)
            .stdin(step.stdin.is_some())
            .build();
        let attached = self
            .docker
            .attach_container(id, Some(attach))
            .await
            .map_err(|e| StepError::daemon("attaching", e))?;
        let mut output = attached.output;
        let mut input = attached.input;
        let collector = tokio::spawn(async move {
            let mut out = Capture::default();
            let mut err = Capture::default();
            while let Some(Ok(frame)) = output.next().await {
                match frame {
                    bollard::container::LogOutput::StdOut { message }
                    | bollard::container::LogOutput::Console { message } => out.push(&message),
                    bollard::container::LogOutput::StdErr { message } => err.push(&message),
                    bollard::container::LogOutput::StdIn { .. } => {}
                }
            }
            (out, err)
        });
        let started = Instant::now();
        if let Err(e) = self.docker.start_container(id, None).await {
            collector.abort();
            // A command that cannot be found or executed is an exit code, as
            // `docker run` reports it: 127 not found, 126 not executable.
            if let DockerError::DockerResponseServerError { message, .. } = &e {
                let lower = message.to_lowercase();
                let code = if lower.contains("executable file not found")
                    || lower.contains("no such file or directory")
                {
                    Some(127)
                } else if lower.contains("permission denied") {
                    Some(126)
                } else {
                    None
                };
                if let Some(code) = code {
                    return Ok(RunFacts {
                        exit_code: Some(code),
                        stderr: format!("{}\n", message.trim()),
                        user: step.user.clone().unwrap_or_else(|| image_user.to_string()),
                        ..Default::default()
                    });
                }
            }
            return match e {
                DockerError::DockerResponseServerError {
                    status_code: 400 | 404 | 500,
                    message,
                } => Err(StepError::Submission(format!(
                    "the container could not start: {}",
                    message.trim()
                ))),
                e => Err(StepError::daemon("starting the container", e)),
            };
        }
        if let Some(stdin) = &step.stdin {
            // A process that never reads stdin must not block the grader.
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                let _ = input.write_all(stdin.as_bytes()).await;
                let _ = input.shutdown().await;
            })
            .await;
        }
        drop(input);
        let mut wait = self.docker.wait_container(id, None);
        let timed_out = match tokio::time::timeout(step.timeout, wait.next()).await {
            Ok(Some(Ok(_))) | Ok(Some(Err(DockerError::DockerContainerWaitError { .. }))) => None,
            Ok(Some(Err(e))) => return Err(StepError::daemon("waiting for the container", e)),
            Ok(None) => None,
            Err(_) => {
                let kill = KillContainerOptionsBuilder::default()
                    .signal("SIGKILL")
                    .build();
                let _ = self.docker.kill_container(id, Some(kill)).await;
                Some(started.elapsed().max(step.timeout))
            }
        };
        drop(wait);
        // Output ends when the process does; a grandchild holding the pipes
        // open must not hold the grader, so the wait is bounded.
        let (out, err) = match tokio::time::timeout(Duration::from_secs(5), collector).await {
            Ok(Ok(pair)) => pair,
            _ => (Capture::default(), Capture::default()),
        };
        let state = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(|e| StepError::daemon("inspecting the container", e))?
            .state
            .unwrap_or_default();
        let passwd = if probe.passwd {
            self.read_text(id, "/etc/passwd").await?
        } else {
            None
        };
        Ok(RunFacts {
            exit_code: if timed_out.is_some() {
                None
            } else {
                state.exit_code
            },
            timed_out: timed_out.map(|_| step.timeout),
            oom_killed: state.oom_killed.unwrap_or(false),
            stdout: String::from_utf8_lossy(&out.kept).into_owned(),
            stderr: String::from_utf8_lossy(&err.kept).into_owned(),
            stdout_dropped: out.dropped,
            stderr_dropped: err.dropped,
            user: step.user.clone().unwrap_or_else(|| image_user.to_string()),
            passwd,
        })
    }

    /// Removes a container (forced, with its anonymous volumes).
    async fn rm_container(&self, id: &str) -> Removal {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        Removal::of(self.docker.remove_container(id, Some(options)).await)
    }

    /// Removes an image by tag or id (forced: its containers are gone first).
    async fn rm_image(&self, id: &str) -> Removal {
        let options = RemoveImageOptionsBuilder::default().force(true).build();
        Removal::of(
            self.docker
                .remove_image(id, Some(options), None)
                .await
                .map(|_| ()),
        )
    }

    async fn rm_volume(&self, name: &str) -> Removal {
        Removal::of(
            self.docker
                .remove_volume(name, Some(RemoveVolumeOptions { force: true }))
                .await,
        )
    }

    /// Removes a container this run created and forgets it.
    async fn remove_container(&self, id: &str) {
        if let Removal::Failed(e) = self.rm_container(id).await {
            tracing::warn!("could not remove container {id}: {e}");
        } else {
            self.record(|c| c.containers.retain(|x| x != id));
        }
    }

    async fn remove_volume(&self, name: &str) {
        if let Removal::Failed(e) = self.rm_volume(name).await {
            tracing::warn!("could not remove volume {name}: {e}");
        } else {
            self.record(|c| c.volumes.retain(|x| x != name));
        }
    }

    /// Removes everything this run created: what it recorded, then anything
    /// else carrying this run's label (a create whose answer was lost).
    pub async fn cleanup(&self) -> CleanupReport {
        let created = self
            .created
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default();
        let mut report = CleanupReport::default();
        for id in &created.containers {
            report.tally(Kind::Container, id, self.rm_container(id).await);
        }
        for name in &created.volumes {
            report.tally(Kind::Volume, name, self.rm_volume(name).await);
        }
        for tag in &created.images {
            report.tally(Kind::Image, tag, self.rm_image(tag).await);
        }
        // Children first: a stage's layers were reported after its parents'.
        for id in created.layers.iter().rev() {
            self.remove_untagged(id).await;
        }
        report.add(self.sweep(&format!("{RUN_LABEL}={}", self.run_id)).await);
        report
    }

    /// What the daemon says about itself, for `doctor`.
    pub async fn describe_daemon(&self) -> Result<DaemonInfo, EngineError> {
        let daemon = |e: DockerError| EngineError::Daemon(describe(&e));
        let info = self.docker.info().await.map_err(daemon)?;
        let version = self.docker.version().await.map_err(daemon)?;
        Ok(DaemonInfo {
            version: info.server_version.unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            storage_driver: info.driver.unwrap_or_default(),
            root_dir: info.docker_root_dir.unwrap_or_default(),
            rootless: info
                .security_options
                .unwrap_or_default()
                .iter()
                .any(|o| o.contains("name=rootless")),
            operating_system: info.operating_system.unwrap_or_default(),
        })
    }

    /// The ids of every container and image on the daemon now.
    pub async fn snapshot(&self) -> Result<Snapshot, EngineError> {
        let daemon = |e: DockerError| EngineError::Daemon(describe(&e));
        let containers = self.list_containers(None).await.map_err(daemon)?;
        let images = self.list_images(None, false).await.map_err(daemon)?;
        Ok(Snapshot {
            containers: containers.into_iter().map(|(id, _)| id).collect(),
            images: images.into_iter().map(|(id, _)| id).collect(),
        })
    }

    async fn list_containers(
        &self,
        label: Option<&str>,
    ) -> Result<Vec<(String, bool)>, DockerError> {
        let mut options = ListContainersOptionsBuilder::default().all(true);
        let filters = label.map(|l| HashMap::from([("label", vec![l])]));
        if let Some(f) = &filters {
            options = options.filters(f);
        }
        let list = self.docker.list_containers(Some(options.build())).await?;
        Ok(list
            .into_iter()
            .filter_map(|c| {
                let ours = c.labels.as_ref().is_some_and(|l| l.contains_key(LABEL));
                c.id.map(|id| (id, ours))
            })
            .collect())
    }

    /// Images as (id, carries dockgrade's label); `all` includes layers.
    async fn list_images(
        &self,
        label: Option<&str>,
        all: bool,
    ) -> Result<Vec<(String, bool)>, DockerError> {
        let mut options = ListImagesOptionsBuilder::default().all(all);
        let filters = label.map(|l| HashMap::from([("label", vec![l])]));
        if let Some(f) = &filters {
            options = options.filters(f);
        }
        let list = self.docker.list_images(Some(options.build())).await?;
        Ok(list
            .into_iter()
            .map(|i| (i.id, i.labels.contains_key(LABEL)))
            .collect())
    }

    /// Removes the containers and images created since `before` that do not
    /// carry dockgrade's label (those belong to runs that clean up after
    /// themselves): what a replayed `commands.sh` made.
    pub async fn remove_since(&self, before: &Snapshot) -> CleanupReport {
        let mut report = CleanupReport::default();
        match self.list_containers(None).await {
            Ok(list) => {
                for (id, ours) in list {
                    if !ours && !before.containers.contains(&id) {
                        report.tally(Kind::Container, &id, self.rm_container(&id).await);
                    }
                }
            }
            Err(e) => report
                .failures
                .push(format!("listing containers: {}", describe(&e))),
        }
        match self.list_images(None, false).await {
            Ok(list) => {
                for (id, ours) in list {
                    if !ours && !before.images.contains(&id) {
                        report.tally(Kind::Image, &id, self.rm_image(&id).await);
                    }
                }
            }
            Err(e) => report
                .failures
                .push(format!("listing images: {}", describe(&e))),
        }
        report
    }

    /// Removes every container, volume and image that carries dockgrade's label.
    pub async fn clean_all(&self) -> Result<CleanupReport, EngineError> {
        Ok(self.sweep(LABEL).await)
    }

    /// Removes whatever carries `label`: containers, then volumes, then images.
    async fn sweep(&self, label: &str) -> CleanupReport {
        let mut report = CleanupReport::default();
        match self.list_containers(Some(label)).await {
            Ok(list) => {
                for (id, _) in list {
                    report.tally(Kind::Container, &id, self.rm_container(&id).await);
                }
            }
            Err(e) => report
                .failures
                .push(format!("listing containers: {}", describe(&e))),
        }
        let filters = HashMap::from([("label", vec![label])]);
        match self
            .docker
            .list_volumes(Some(
                ListVolumesOptionsBuilder::default()
                    .filters(&filters)
                    .build(),
            ))
            .await
        {
            Ok(list) => {
                for v in list.volumes.unwrap_or_default() {
                    report.tally(Kind::Volume, &v.name, self.rm_volume(&v.name).await);
                }
            }
            Err(e) => report
                .failures
                .push(format!("listing volumes: {}", describe(&e))),
        }
        match self.list_images(Some(label), true).await {
            Ok(list) => {
                for (id, _) in list {
                    report.tally(Kind::Image, &id, self.rm_image(&id).await);
                }
            }
            Err(e) => report
                .failures
                .push(format!("listing images: {}", describe(&e))),
        }
        report
    }
}

/// The host configuration every run gets: limits, no privileges, few
/// capabilities, no devices, the network the step asks for.
fn sandbox(step: &RunStep, mounts: Vec<DockerMount>) -> HostConfig {
    let memory = i64::try_from(step.limits.memory).unwrap_or(i64::MAX);
    HostConfig {
        network_mode: Some(step.network.as_str().to_string()),
        mounts: (!mounts.is_empty()).then_some(mounts),
        memory: Some(memory),
        // A swap limit equal to the memory limit: no swap on top of it.
        memory_swap: Some(memory),
        pids_limit: Some(i64::from(step.limits.pids)),
        nano_cpus: Some((step.limits.cpus * 1e9) as i64),
        privileged: Some(false),
        security_opt: Some(vec!["no-new-privileges".to_string()]),
        cap_drop: Some(vec!["ALL".to_string()]),
        cap_add: Some(CAPABILITIES.iter().map(|c| c.to_string()).collect()),
        devices: Some(Vec::new()),
        ipc_mode: Some("private".to_string()),
        // Output is captured (and capped) through the attach stream. The
        // daemon's own log copy would write every line to its disk as JSON:
        // slow, and a flood of output would fill the daemon's disk.
        log_config: Some(HostConfigLogConfig {
            typ: Some("none".to_string()),
            config: None,
        }),
        ..Default::default()
    }
}

/// Sends the tar to the daemon in 64 KiB chunks from a blocking thread.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, io::Error>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(64 << 10),
        ));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the daemon stopped reading the build context",
            )
        })
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 64 << 10 {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// Keeps the first `CAPTURE_LIMIT` bytes of a stream and counts the rest.
#[derive(Debug, Default)]
struct Capture {
    kept: Vec<u8>,
    dropped: u64,
}

impl Capture {
    fn push(&mut self, data: &[u8]) {
        let room = CAPTURE_LIMIT.saturating_sub(self.kept.len());
        let take = room.min(data.len());
        self.kept.extend_from_slice(&data[..take]);
        self.dropped += (data.len() - take) as u64;
    }
}

/// The last lines of build output.
struct LogTail {
    lines: std::collections::VecDeque<String>,
    max: usize,
}

impl LogTail {
    fn new(max: usize) -> Self {
        LogTail {
            lines: Default::default(),
            max,
        }
    }

    fn push(&mut self, text: &str) {
        for line in text.lines() {
            if self.lines.len() == self.max {
                self.lines.pop_front();
            }
            let mut line = line.to_string();
            line.truncate(line.floor_char_boundary(500));
            self.lines.push_back(line);
        }
    }

    fn text(&self) -> String {
        self.lines
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[derive(Debug)]
struct ArchiveEntry {
    uid: u64,
    gid: u64,
    link: Option<String>,
    content: Option<Vec<u8>>,
}

/// Reads the first entry of a (possibly truncated) tar.
fn parse_first_entry(buf: &[u8], want_content: bool) -> Option<ArchiveEntry> {
    let mut archive = tar::Archive::new(buf);
    let mut entries = archive.entries().ok()?;
    let mut entry = entries.next()?.ok()?;
    let header = entry.header();
    let uid = header.uid().unwrap_or(0);
    let gid = header.gid().unwrap_or(0);
    let kind = header.entry_type();
    let link = entry
        .link_name()
        .ok()
        .flatten()
        .map(|l| l.to_string_lossy().into_owned());
    let content = if want_content && kind.is_file() {
        let mut data = Vec::new();
        let mut limited = (&mut entry).take(CAPTURE_LIMIT as u64);
        let mut chunk = [0u8; 8192];
        loop {
            match limited.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => data.extend_from_slice(&chunk[..n]),
            }
        }
        Some(data)
    } else {
        None
    };
    Some(ArchiveEntry {
        uid,
        gid,
        link: if kind.is_symlink() { link } else { None },
        content,
    })
}

fn resolve_link(path: &str, target: &str) -> String {
    if target.starts_with('/') {
        return target.to_string();
    }
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    crate::dockerignore::clean(&format!("{dir}/{target}"))
}

// Go's os.FileMode bits, as the archive API reports them.
const GO_DIR: u32 = 1 << 31;
const GO_SYMLINK: u32 = 1 << 27;
const GO_DEVICE: u32 = 1 << 26;
const GO_PIPE: u32 = 1 << 25;
const GO_SOCKET: u32 = 1 << 24;
const GO_SETUID: u32 = 1 << 23;
const GO_SETGID: u32 = 1 << 22;
const GO_CHARDEV: u32 = 1 << 21;
const GO_STICKY: u32 = 1 << 20;
const GO_IRREGULAR: u32 = 1 << 19;

fn go_file_type(mode: u32) -> Option<FileType> {
    if mode & GO_DIR != 0 {
        Some(FileType::Dir)
    } else if mode & GO_SYMLINK != 0 {
        Some(FileType::Symlink)
    } else if mode & (GO_DEVICE | GO_PIPE | GO_SOCKET | GO_CHARDEV | GO_IRREGULAR) != 0 {
        None
    } else {
        Some(FileType::File)
    }
}

fn go_mode_to_unix(mode: u32) -> u32 {
    let mut unix = mode & 0o777;
    if mode & GO_SETUID != 0 {
        unix |= 0o4000;
    }
    if mode & GO_SETGID != 0 {
        unix |= 0o2000;
    }
    if mode & GO_STICKY != 0 {
        unix |= 0o1000;
    }
    unix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_modes_become_unix_modes() {
        assert_eq!(go_file_type(GO_DIR | 0o755), Some(FileType::Dir));
        assert_eq!(go_file_type(GO_SYMLINK | 0o777), Some(FileType::Symlink));
        assert_eq!(go_file_type(0o644), Some(FileType::File));
        assert_eq!(go_file_type(GO_PIPE | 0o644), None);
        assert_eq!(go_mode_to_unix(GO_DIR | GO_STICKY | 0o777), 0o1777);
        assert_eq!(go_mode_to_unix(GO_SETUID | 0o755), 0o4755);
    }

    #[test]
    fn capture_keeps_the_limit_and_counts_the_rest() {
        let mut c = Capture::default();
        c.push(&vec![b'x'; CAPTURE_LIMIT - 10]);
        c.push(&[b'y'; 30]);
        assert_eq!(c.kept.len(), CAPTURE_LIMIT);
        assert_eq!(c.dropped, 20);
    }

    #[test]
    fn links_resolve_relative_to_their_folder() {
        assert_eq!(
            resolve_link("/usr/bin/python", "python3"),
            "/usr/bin/python3"
        );
        assert_eq!(resolve_link("/a/b", "../c"), "/c");
        assert_eq!(resolve_link("/a/b", "/etc/x"), "/etc/x");
    }

    #[test]
    fn the_first_entry_of_a_truncated_tar_is_read() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_uid(1000);
        h.set_gid(100);
        h.set_mode(0o644);
        b.append_data(&mut h, "hello.txt", &b"hello"[..])
            .expect("append");
        let data = b.into_inner().expect("finish");
        let e = parse_first_entry(&data[..1024], true).expect("entry");
        assert_eq!((e.uid, e.gid), (1000, 100));
        assert_eq!(e.content.as_deref(), Some(&b"hello"[..]));
    }

    #[test]
    fn build_log_keeps_the_tail() {
        let mut t = LogTail::new(2);
        t.push("a\nb\nc\n");
        assert_eq!(t.text(), "b\nc");
    }
}
