//! The engine: the only module that talks to the Docker daemon.
//!
//! Every bollard call in dockgrade is under `engine/`, one `impl Engine`
//! block per room: [`image`] finds, pulls and inspects images; [`build`]
//! streams build contexts to the legacy builder, [`copies`] keeps it from
//! taking one folder's copy for another's; [`archive`] reads files out
//! of an image through the archive API; [`layers`] reads an image's history
//! and streams its export into the layer scanner; [`run`] runs containers with the
//! sandbox that [`sandbox`] turns into daemon settings; [`live`] inspects a
//! student's own containers; [`service`] runs an exercise's services on
//! its own network and execs in them; [`registry`] makes HTTP requests and
//! pushes to a registry service; [`tunnel`] carries the requests to an
//! exercise's services through the Engine API (an `nc` exec in a helper
//! container on the exercise's network), so they never depend on the
//! grading machine's loopback; [`cleanup`] removes what a run created, and
//! what a replay for `validate` recorded; [`transfer`] pulls images with
//! per-layer progress, and saves and loads image archives (`prepare`); [`kept`]
//! keeps a batch's build cache between its runs; [`stages`] keeps one
//! run's builds of a Dockerfile on the same stages when other runs build
//! them at the same moment. The engine takes its own request
//! types and returns [`observation`](crate::observation) facts: it knows
//! nothing of exercise specs. Everything it creates carries dockgrade's
//! labels ([`crate::names`]) and is recorded, so [`Engine::cleanup`] removes
//! exactly this run's resources.

mod archive;
mod build;
mod cleanup;
mod copies;
mod image;
mod kept;
mod layers;
mod live;
mod registry;
mod run;
mod sandbox;
mod service;
mod stages;
mod transfer;
mod tunnel;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error as DockerError;

pub(crate) use build::{BuildOutcome, BuildRequest};
pub(crate) use cleanup::{CleanupReport, RunOnDaemon};
pub(crate) use kept::{Journal, KeptLayers, journals};
pub(crate) use registry::Endpoint;
pub(crate) use run::{RunMount, RunRequest};
pub(crate) use service::{Ready, ServiceRequest};
pub(crate) use transfer::{ImageArchive, PullProgress, TransferError};
pub(crate) use tunnel::{ServiceAddress, TUNNEL_IMAGE};

use crate::names;

/// Builds and image removals of this process, kept apart. The legacy
/// builder reuses any cached layer on the daemon, another run's included;
/// a run that ends removes its layers. Removing a layer while a build of
/// another run (of the same `batch` or `validate`) is reusing it fails that
/// build ("failed to get digest", "unknown parent image ID") and can leave
/// the half-committed image behind, untagged and unlabelled. So builds hold
/// this lock shared, and a cleanup's image removals hold it alone: they wait
/// for the builds in flight, and builds wait for them.
pub(crate) static CACHE_GUARD: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// Most bytes kept of a file's content or of each output stream.
const CAPTURE_LIMIT: usize = 1 << 20;

/// The daemon could not be used at all: nothing can be graded.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum EngineError {
    #[error("cannot reach the Docker daemon at {host}: {message}")]
    Unreachable { host: String, message: String },
    #[error("the Docker daemon failed: {0}")]
    Daemon(String),
}

/// Why a step did not produce its facts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StepError {
    /// Caused by the submission (a failed build, a missing image…).
    #[error("{0}")]
    Submission(String),
    /// Caused by the daemon or dockgrade.
    #[error("{0}")]
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

/// What this run created and has not removed yet.
#[derive(Debug, Default)]
struct Created {
    containers: Vec<String>,
    images: Vec<String>,
    /// Every layer image a build reported, in order. The legacy builder
    /// leaves the images of a multi-stage build's other stages, and a failed
    /// build's last step, as untagged images outside the tagged image's
    /// parent chain; cleanup removes those that end up untagged.
    layers: Vec<String>,
    /// The containers the legacy builder ran RUN instructions in (short
    /// ids, as its output names them). It removes them itself, except when
    /// a build is cut short; cleanup makes sure, and removes any image that
    /// was still being committed from one of them.
    build_containers: Vec<String>,
    /// References (`127.0.0.1:PORT/course/app:1.0`) a push added to images.
    references: Vec<String>,
    /// Networks created for exercises.
    networks: Vec<String>,
    /// The tunnel's helper container on each network (by name), also in
    /// `containers`: made once, forgotten with the rest at cleanup.
    tunnels: HashMap<String, String>,
}

/// The daemon's own description of itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct DaemonInfo {
    pub version: String,
    pub api_version: String,
    pub storage_driver: String,
    pub root_dir: String,
    pub rootless: bool,
    pub operating_system: String,
    /// By name: `name=seccomp,profile=default` → `seccomp`.
    pub security_options: Vec<String>,
}

/// A connection to the daemon for one grading run.
#[derive(Debug)]
pub(crate) struct Engine {
    docker: Docker,
    /// Where the daemon was reached (`unix://…`, `tcp://…`).
    host: String,
    run_id: String,
    created: Mutex<Created>,
    probe_counter: AtomicU64,
    /// Held while a tunnel's helper container is made: one per network,
    /// however many requests want it at once.
    tunnel_lock: tokio::sync::Mutex<()>,
    /// Set when the run must stop (Ctrl-C, SIGTERM): running builds and
    /// containers are stopped, nothing new starts.
    cancel: tokio_util::sync::CancellationToken,
    /// The build cache of the command this run belongs to: its layers go
    /// there at cleanup rather than away ([`kept`]).
    kept: Option<std::sync::Arc<KeptLayers>>,
    /// What each of this run's successful builds did, by tag ([`stages`]).
    traces: Mutex<HashMap<String, stages::Trace>>,
}

/// The daemon address as the user configured it (for messages).
pub(crate) fn docker_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_string())
}

impl Engine {
    /// Connects to the daemon `DOCKER_HOST` names (else the local socket).
    pub async fn connect(run_id: &str) -> Result<Engine, EngineError> {
        Engine::connect_to(&docker_host(), run_id).await
    }

    /// Connects to the daemon at `host` (`unix://…`, `tcp://…`), agrees on
    /// an API version, pings.
    pub async fn connect_to(host: &str, run_id: &str) -> Result<Engine, EngineError> {
        let host = host.to_string();
        let unreachable = |e: DockerError| EngineError::Unreachable {
            host: host.clone(),
            message: describe(&e),
        };
        // Builds and runs have their own limits; the client must not cut a
        // long apt-get install short.
        let docker = Docker::connect_with_host(&host)
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
            host: host.clone(),
            run_id: run_id.to_string(),
            created: Mutex::new(Created::default()),
            probe_counter: AtomicU64::new(0),
            tunnel_lock: tokio::sync::Mutex::new(()),
            cancel: tokio_util::sync::CancellationToken::new(),
            kept: None,
            traces: Mutex::new(HashMap::new()),
        })
    }

    /// Where the daemon was reached (`unix://…`, `tcp://…`).
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Whether the daemon still answers (within 5 s).
    pub async fn answers(&self) -> bool {
        matches!(
            tokio::time::timeout(Duration::from_secs(5), self.docker.ping()).await,
            Ok(Ok(_))
        )
    }

    /// Stops the run: running builds and containers are stopped (and what
    /// they were doing is still recorded for cleanup), nothing new starts.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// This engine, stopped whenever `other` is (its own cancellation
    /// stays its own): engines of one command share one Ctrl-C.
    pub fn stopped_with(mut self, other: &Engine) -> Engine {
        self.cancel = other.cancel.child_token();
        self
    }

    /// This engine, leaving its layers to `kept` at cleanup: a later run
    /// of the same command on the same daemon builds on them.
    pub fn keeping_layers(mut self, kept: std::sync::Arc<KeptLayers>) -> Engine {
        debug_assert_eq!(kept.host(), self.host);
        self.kept = Some(kept);
        self
    }

    /// Kills a container now, if it is still running.
    async fn kill(&self, id: &str) {
        let kill = bollard::query_parameters::KillContainerOptionsBuilder::default()
            .signal("SIGKILL")
            .build();
        let _ = self.docker.kill_container(id, Some(kill)).await;
    }

    fn labels(&self) -> HashMap<String, String> {
        names::labels(&self.run_id)
    }

    fn record(&self, f: impl FnOnce(&mut Created)) {
        if let Ok(mut c) = self.created.lock() {
            f(&mut c);
        }
    }

    /// What the daemon says about itself, for `doctor`.
    pub async fn describe_daemon(&self) -> Result<DaemonInfo, EngineError> {
        let daemon = |e: DockerError| EngineError::Daemon(describe(&e));
        let info = self.docker.info().await.map_err(daemon)?;
        let version = self.docker.version().await.map_err(daemon)?;
        let security_options: Vec<String> = info
            .security_options
            .unwrap_or_default()
            .iter()
            .filter_map(|o| {
                o.split(',')
                    .find_map(|part| part.strip_prefix("name="))
                    .map(str::to_string)
            })
            .collect();
        Ok(DaemonInfo {
            version: info.server_version.unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            storage_driver: info.driver.unwrap_or_default(),
            root_dir: info.docker_root_dir.unwrap_or_default(),
            rootless: security_options.iter().any(|o| o == "rootless"),
            operating_system: info.operating_system.unwrap_or_default(),
            security_options,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_errors_read_as_sentences() {
        let e = StepError::Submission("image `x` is not present".into());
        assert_eq!(e.to_string(), "image `x` is not present");
        let e = StepError::Infrastructure("creating the container: refused".into());
        assert_eq!(e.to_string(), "creating the container: refused");
    }
}
