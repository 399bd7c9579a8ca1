//! Services: an exercise's own network, long-running containers on it (a
//! registry) with a port published on the daemon's 127.0.0.1 (for the
//! daemon's pushes), commands run inside them (`exec`) and their disk use
//! (through the archive API). Requests to them, readiness probes included,
//! go through [`super::tunnel`] (see [`super::registry`] for pushes).
//!
//! Everything created here carries the run's labels and is recorded, so
//! [`Engine::cleanup`] removes it: containers first, then the references a
//! push added, then the network.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfigLogConfig, Mount, MountType,
    NetworkConnectRequest, NetworkCreateRequest, PortBinding, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder, LogsOptionsBuilder,
};
use futures_util::StreamExt;

use super::registry::{Endpoint, REQUEST_TIMEOUT};
use super::run::Capture;
use super::tunnel::ServiceAddress;
use super::{Engine, StepError, describe, sandbox};
use crate::observation::{RunFacts, ServiceFacts};
use crate::sandbox::Sandbox;

/// A service to start.
#[derive(Debug, Clone)]
pub(crate) struct ServiceRequest {
    pub name: String,
    pub image: String,
    pub cmd: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    pub port: Option<u16>,
    /// The exercise's network, and the name the service answers to on it.
    pub network: String,
    pub alias: String,
    pub ready: Ready,
    /// Limits; its timeout is how long the service may take to be ready.
    pub sandbox: Sandbox,
    /// In-memory folders (no host path ever reaches a service).
    pub mounts: Vec<super::RunMount>,
}

/// When a service counts as started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ready {
    Running,
    Port,
    Http(String),
}

/// Lines of a service's log shown when it never became ready.
const LOG_LINES: &str = "20";
/// Bytes of those lines kept, at most (the end of them).
const LOG_BYTES: usize = 2048;
/// How long measuring a service's disk use may take.
const DISK_TIMEOUT: Duration = Duration::from_secs(120);

impl Engine {
    /// Creates the exercise's network (labelled, recorded); its name.
    pub async fn create_network(&self, name: &str) -> Result<String, StepError> {
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".to_string()),
            labels: Some(self.labels()),
            // Containers on it reach each other and nothing else: internal
            // (no route out), and the host takes no address on its bridge,
            // so the gateway address leads nowhere (an internal network
            // otherwise still reaches every host service listening on
            // 0.0.0.0 through it).
            internal: Some(true),
            options: Some(HashMap::from([(
                "com.docker.network.bridge.inhibit_ipv4".to_string(),
                "true".to_string(),
            )])),
            ..Default::default()
        };
        match self.docker.create_network(request).await {
            Ok(created) => {
                self.record(|c| c.networks.push(created.id.clone()));
                Ok(name.to_string())
            }
            Err(e) => Err(StepError::daemon("creating the exercise's network", e)),
        }
    }

    /// Starts a service and waits until it is ready (or its timeout).
    pub async fn start_service(&self, req: &ServiceRequest) -> Result<ServiceFacts, StepError> {
        let exposed = req.port.map(|p| format!("{p}/tcp"));
        let mounts = self.service_mounts(req).await?;
        let host_config = service_host_config(req, mounts, exposed.as_deref());
        let body = ContainerCreateBody {
            image: Some(req.image.clone()),
            cmd: req.cmd.clone(),
            env: Some(req.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(self.labels()),
            exposed_ports: exposed.clone().map(|p| vec![p]),
            host_config: Some(host_config),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default()
            .name(&req.name)
            .build();
        let created = match self.docker.create_container(Some(options), body).await {
            Ok(c) => c,
            Err(e) => return Err(StepError::daemon("creating the service's container", e)),
        };
        let id = created.id;
        self.record(|c| c.containers.push(id.clone()));
        let join = NetworkConnectRequest {
            container: id.clone(),
            endpoint_config: Some(EndpointSettings {
                aliases: Some(vec![req.alias.clone()]),
                ..Default::default()
            }),
        };
        self.docker
            .connect_network(&req.network, join)
            .await
            .map_err(|e| StepError::daemon("joining the exercise's network", e))?;
        self.docker
            .start_container(&id, None)
            .await
            .map_err(|e| StepError::daemon("starting the service", e))?;
        let host_port = match &exposed {
            Some(port) => match self.published_port(&id, port).await {
                Ok(p) => Some(p),
                // A container that has stopped already has no ports.
                Err(_) if !self.is_running(&id).await => return Err(self.stopped(&id).await),
                Err(e) => return Err(e),
            },
            None => None,
        };
        let address = req.port.map(|port| ServiceAddress {
            network: req.network.clone(),
            name: req.alias.clone(),
            port,
        });
        self.until_ready(&id, address.as_ref(), &req.ready, req.sandbox.timeout)
            .await?;
        Ok(ServiceFacts {
            container: id,
            host_port,
            port: req.port,
            network: req.network.clone(),
            alias: req.alias.clone(),
        })
    }

    /// The host port the daemon chose for `port`.
    async fn published_port(&self, id: &str, port: &str) -> Result<u16, StepError> {
        let inspect = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(|e| StepError::daemon("inspecting the service", e))?;
        inspect
            .network_settings
            .and_then(|n| n.ports)
            .and_then(|ports| ports.get(port).cloned().flatten())
            .and_then(|bindings| bindings.into_iter().find_map(|b| b.host_port))
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| {
                StepError::Infrastructure(format!("the daemon published no host port for {port}"))
            })
    }

    /// Polls until the service is ready, asking it at `address` (its port
    /// on the exercise's network); fails (with its log) if it stops or the
    /// timeout passes.
    async fn until_ready(
        &self,
        id: &str,
        address: Option<&ServiceAddress>,
        ready: &Ready,
        timeout: Duration,
    ) -> Result<(), StepError> {
        // The helper the probes go through is made before the service's
        // time starts (its image may have to be pulled first).
        if let (Ready::Port | Ready::Http(_), Some(address)) = (ready, address) {
            self.prepare_tunnel(&address.network)
                .await
                .map_err(StepError::Infrastructure)?;
        }
        let started = Instant::now();
        loop {
            if self.is_cancelled() {
                return Err(StepError::Infrastructure("interrupted".into()));
            }
            if !self.is_running(id).await {
                return Err(self.stopped(id).await);
            }
            let answered = match (ready, address) {
                (Ready::Running, _) => Ok(()),
                (Ready::Port, Some(address)) => self.port_listens(address, REQUEST_TIMEOUT).await,
                (Ready::Http(path), Some(address)) => {
                    let endpoint = Endpoint::Service(address.clone());
                    match self.http(&endpoint, "GET", path, &BTreeMap::new()).await {
                        Ok(a) if (200..300).contains(&a.status) => Ok(()),
                        Ok(a) => Err(format!("{} answered {}", a.request, a.status)),
                        Err(e) => Err(format!("GET {path}: {e}")),
                    }
                }
                (_, None) => Ok(()),
            };
            let last = match answered {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if started.elapsed() >= timeout {
                return Err(StepError::Infrastructure(format!(
                    "the service was not ready after {} ({last}){}",
                    crate::units::format_duration(timeout),
                    self.log_tail(id).await
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn is_running(&self, id: &str) -> bool {
        self.docker
            .inspect_container(id, None)
            .await
            .ok()
            .and_then(|i| i.state)
            .and_then(|s| s.running)
            .unwrap_or(false)
    }

    /// A service that stopped before it was ready, with its log's end.
    async fn stopped(&self, id: &str) -> StepError {
        StepError::Infrastructure(format!(
            "the service stopped before it was ready{}",
            self.log_tail(id).await
        ))
    }

    /// The end of a service's log, as a suffix for messages.
    async fn log_tail(&self, id: &str) -> String {
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(LOG_LINES)
            .build();
        let mut logs = self.docker.logs(id, Some(options));
        let mut text = String::new();
        while let Some(Ok(frame)) = logs.next().await {
            text.push_str(&String::from_utf8_lossy(&frame.into_bytes()));
            if text.len() > 16 * 1024 {
                break;
            }
        }
        let text = text.trim();
        // The end is what explains a failed start; a message keeps 2 kB.
        let start = text
            .char_indices()
            .map(|(i, _)| i)
            .find(|&i| text.len() - i <= LOG_BYTES)
            .unwrap_or(text.len());
        let text = &text[start..];
        if text.is_empty() {
            String::new()
        } else {
            format!("; its log ends:\n{text}")
        }
    }

    /// Runs `cmd` inside a running container; its output (capped) and exit
    /// code, like a run's. The Engine API cannot kill an exec's process on
    /// its own: at the timeout the container is killed, so that nothing the
    /// exec started keeps running (the service's later checks then say it
    /// stopped).
    pub async fn exec(
        &self,
        container: &str,
        cmd: &[String],
        user: Option<&str>,
        timeout: Duration,
    ) -> Result<RunFacts, StepError> {
        let options = CreateExecOptions {
            cmd: Some(cmd.to_vec()),
            user: user.map(str::to_string),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let exec = self
            .docker
            .create_exec(container, options)
            .await
            .map_err(|e| StepError::daemon("creating the exec", e))?;
        let started = self
            .docker
            .start_exec(&exec.id, None)
            .await
            .map_err(|e| StepError::daemon("starting the exec", e))?;
        let StartExecResults::Attached { mut output, .. } = started else {
            return Err(StepError::Infrastructure("the exec did not attach".into()));
        };
        let (mut out, mut err) = (Capture::default(), Capture::default());
        let collect = async {
            while let Some(Ok(frame)) = output.next().await {
                match frame {
                    LogOutput::StdErr { message } => err.push(&message),
                    LogOutput::StdOut { message } | LogOutput::Console { message } => {
                        out.push(&message)
                    }
                    LogOutput::StdIn { .. } => {}
                }
            }
        };
        let timed_out = tokio::select! {
            _ = collect => false,
            _ = tokio::time::sleep(timeout) => true,
            _ = self.cancel.cancelled() => return Err(StepError::Infrastructure("interrupted".into())),
        };
        let exit_code = if timed_out {
            self.kill(container).await;
            None
        } else {
            self.docker
                .inspect_exec(&exec.id)
                .await
                .map_err(|e| StepError::daemon("inspecting the exec", e))?
                .exit_code
        };
        Ok(RunFacts {
            exit_code,
            timed_out: timed_out.then_some(timeout),
            stdout: String::from_utf8_lossy(&out.kept).into_owned(),
            stderr: String::from_utf8_lossy(&err.kept).into_owned(),
            stdout_dropped: out.dropped,
            stderr_dropped: err.dropped,
            user: user.unwrap_or_default().to_string(),
            ..Default::default()
        })
    }

    /// Bytes of the regular files under `path` in a container, read from
    /// the archive API's headers (what `du -sb` counts, without relying on
    /// the image having `du`).
    pub async fn disk_usage(&self, container: &str, path: &str) -> Result<u64, String> {
        let options = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let stream = self
            .docker
            .download_from_container(container, Some(options))
            .map(|chunk| chunk.map_err(|e| std::io::Error::other(describe(&e))));
        let reader = tokio_util::io::StreamReader::new(stream);
        let bridge = tokio_util::io::SyncIoBridge::new(reader);
        let counted = tokio::task::spawn_blocking(move || {
            let mut archive = tar::Archive::new(bridge);
            let mut total = 0u64;
            for entry in archive.entries().map_err(|e| e.to_string())? {
                let entry = entry.map_err(|e| e.to_string())?;
                if entry.header().entry_type().is_file() {
                    // `size()` reads a PAX size too (files of 8 GiB and more).
                    total = total.saturating_add(entry.size());
                }
            }
            Ok(total)
        });
        // A timeout or Ctrl-C abandons the count; the blocking reader ends
        // with the archive stream, when the container goes at cleanup.
        tokio::select! {
            counted = tokio::time::timeout(DISK_TIMEOUT, counted) => match counted {
                Ok(joined) => joined.map_err(|e| e.to_string())?,
                Err(_) => Err(format!(
                    "no answer within {} s",
                    DISK_TIMEOUT.as_secs()
                )),
            },
            _ = self.cancel.cancelled() => Err("interrupted".to_string()),
        }
    }
}

impl Engine {
    /// A service's mounts. A `scratch` folder is a volume of its own in
    /// memory (tmpfs), at most the service's disk limit: what a student's
    /// program stores in the service (a registry's blobs) cannot fill the
    /// daemon's disk, and unlike a tmpfs mount, the archive API that `disk`
    /// checks read through sees it. The volume carries the run's labels
    /// and goes with the run's other resources.
    async fn service_mounts(&self, req: &ServiceRequest) -> Result<Vec<Mount>, StepError> {
        let mut mounts = Vec::new();
        for (i, mount) in req.mounts.iter().enumerate() {
            match mount {
                super::RunMount::Bind { .. } => {}
                super::RunMount::Scratch { target } => {
                    let name = format!("{}-{i}", req.name);
                    let options = HashMap::from([
                        ("type".to_string(), "tmpfs".to_string()),
                        ("device".to_string(), "tmpfs".to_string()),
                        (
                            "o".to_string(),
                            format!("size={},mode=755", req.sandbox.limits.disk),
                        ),
                    ]);
                    let volume = VolumeCreateRequest {
                        name: Some(name.clone()),
                        driver: Some("local".to_string()),
                        driver_opts: Some(options),
                        labels: Some(self.labels()),
                        ..Default::default()
                    };
                    self.docker
                        .create_volume(volume)
                        .await
                        .map_err(|e| StepError::daemon("creating the service's volume", e))?;
                    mounts.push(Mount {
                        target: Some(target.clone()),
                        source: Some(name),
                        typ: Some(MountType::VOLUME),
                        ..Default::default()
                    });
                }
                other => mounts.push(super::run::docker_mount(other, &req.sandbox)),
            }
        }
        Ok(mounts)
    }
}

/// A service's host configuration: the run sandbox's with `mounts`, on the
/// default bridge with `exposed` published on a free port of 127.0.0.1, and
/// a small log.
fn service_host_config(
    req: &ServiceRequest,
    mounts: Vec<Mount>,
    exposed: Option<&str>,
) -> bollard::models::HostConfig {
    let mut host_config = sandbox::host_config(&req.sandbox, mounts);
    // The exercise's network is internal (the student's containers on
    // it reach nothing else), and an internal network publishes no
    // ports: the service starts on the default bridge, for the port the
    // daemon's pushes use, and joins the exercise's network under its step
    // name before it starts (where the grader's requests reach it).
    host_config.network_mode = Some("bridge".to_string());
    // A service is the exercise's own program, not the student's: its
    // log is kept (small) to say why it did not become ready.
    host_config.log_config = Some(HostConfigLogConfig {
        typ: Some("json-file".to_string()),
        config: Some(HashMap::from([
            ("max-size".to_string(), "1m".to_string()),
            ("max-file".to_string(), "1".to_string()),
        ])),
    });
    if let Some(port) = exposed {
        // A free port of the daemon host's loopback: never reachable from
        // elsewhere, never two runs on the same one.
        host_config.port_bindings = Some(HashMap::from([(
            port.to_string(),
            Some(vec![PortBinding {
                host_ip: Some("127.0.0.1".to_string()),
                host_port: Some(String::new()),
            }]),
        )]));
    }
    host_config
}
