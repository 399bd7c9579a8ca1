//! Runs: create a container in its sandbox, attach before starting it so no
//! output is missed, feed stdin, wait (killing it at the timeout), and keep
//! the capped output, the exit code and whether memory ran out.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bollard::container::LogOutput;
use bollard::errors::Error as DockerError;
use bollard::models::{
    ContainerCreateBody, HealthConfig, Mount as DockerMount, MountTmpfsOptions, MountType,
};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, InspectContainerOptionsBuilder,
};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::{CAPTURE_LIMIT, Engine, StepError, sandbox};
use crate::observation::RunFacts;
use crate::sandbox::Sandbox;

/// A container to run, in the daemon's terms.
#[derive(Debug, Clone)]
pub(crate) struct RunRequest {
    /// The container's name (see [`crate::names::run_container`]).
    pub name: String,
    pub image: String,
    /// Replaces the image's CMD when set.
    pub cmd: Option<Vec<String>>,
    /// Replaces the image's ENTRYPOINT when set (an empty list removes it).
    pub entrypoint: Option<Vec<String>>,
    /// Replaces the image's USER when set.
    pub user: Option<String>,
    pub env: BTreeMap<String, String>,
    pub workdir: Option<String>,
    pub stdin: Option<String>,
    pub mounts: Vec<RunMount>,
    pub sandbox: Sandbox,
    /// Read the container's /etc/passwd afterwards (to resolve a user name).
    pub read_passwd: bool,
    /// Keep the image's HEALTHCHECK; otherwise it never runs.
    pub healthcheck: bool,
    /// The exercise's network, for a sandbox on `Network::Exercise`.
    pub network: Option<String>,
}

/// How often a running container's disk use is looked at.
const DISK_POLL: Duration = Duration::from_millis(500);

/// A mount whose host side, if any, has been checked already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RunMount {
    /// A host path (inside the submission) bound into the container.
    Bind {
        source: PathBuf,
        target: String,
        readonly: bool,
    },
    Tmpfs {
        target: String,
    },
    /// A fresh, empty folder owned by root (mode 755) in memory: bounded by
    /// the run's memory, gone with the container.
    Scratch {
        target: String,
    },
}

/// Keeps the first `CAPTURE_LIMIT` bytes of a stream and counts the rest.
#[derive(Debug, Default)]
pub(super) struct Capture {
    pub(super) kept: Vec<u8>,
    pub(super) dropped: u64,
}

impl Capture {
    pub(super) fn push(&mut self, data: &[u8]) {
        let room = CAPTURE_LIMIT.saturating_sub(self.kept.len());
        let take = room.min(data.len());
        self.kept.extend_from_slice(&data[..take]);
        self.dropped += (data.len() - take) as u64;
    }
}

/// How a started container ended.
enum Ending {
    Exited,
    /// Killed at the timeout.
    TimedOut,
    /// Killed for writing this many bytes, more than its disk budget.
    DiskExceeded(u64),
    /// Killed because the run was cancelled.
    Cancelled,
}

impl Engine {
    /// Runs a container to completion (or its timeout); it is removed after.
    pub async fn run(&self, req: &RunRequest) -> Result<RunFacts, StepError> {
        // `--privileged` only where it cannot grant the host's root.
        if req.sandbox.privileged {
            let daemon = self
                .describe_daemon()
                .await
                .map_err(|e| StepError::Infrastructure(e.to_string()))?;
            if !daemon.rootless {
                return Err(StepError::Submission(
                    "refused to run a privileged container: the daemon runs as root (not in rootless mode), where --privileged would give the container the host".into(),
                ));
            }
        }
        let mounts = req
            .mounts
            .iter()
            .map(|m| docker_mount(m, &req.sandbox))
            .collect();
        self.run_container(req, mounts).await
    }

    async fn run_container(
        &self,
        req: &RunRequest,
        mounts: Vec<DockerMount>,
    ) -> Result<RunFacts, StepError> {
        let stdin = req.stdin.is_some();
        let body = ContainerCreateBody {
            image: Some(req.image.clone()),
            cmd: req.cmd.clone(),
            entrypoint: req.entrypoint.clone(),
            user: req.user.clone(),
            env: Some(req.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            working_dir: req.workdir.clone(),
            labels: Some(self.labels()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            attach_stdin: Some(stdin),
            open_stdin: Some(stdin),
            stdin_once: Some(stdin),
            tty: Some(false),
            // The image's healthcheck is a process of its own, spawned by the
            // daemon as often as the image says (`--interval=1ms` loads the
            // host): off unless the step asks for it.
            healthcheck: (!req.healthcheck).then(|| HealthConfig {
                test: Some(vec!["NONE".to_string()]),
                ..Default::default()
            }),
            host_config: Some({
                let mut host = sandbox::host_config(&req.sandbox, mounts);
                if let Some(network) = &req.network {
                    host.network_mode = Some(network.clone());
                }
                host
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default()
            .name(&req.name)
            .build();
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
        let result = self.attend(&id, req).await;
        self.dispose_container(&id).await;
        result
    }

    /// Starts a created container and stays with it until it ends.
    async fn attend(&self, id: &str, req: &RunRequest) -> Result<RunFacts, StepError> {
        let attach = AttachContainerOptionsBuilder::default()
            .stream(true)
            // Attached before start, so nothing is missed; and with no log
            // driver there are no logs to replay.
            .logs(false)
            .stdout(true)
            .stderr(true)
            .stdin(req.stdin.is_some())
            .build();
        let attached = self
            .docker
            .attach_container(id, Some(attach))
            .await
            .map_err(|e| StepError::daemon("attaching", e))?;
        let mut output = attached.output;
        let mut input = attached.input;
        let collector = tokio::spawn(async move {
            let (mut out, mut err) = (Capture::default(), Capture::default());
            while let Some(Ok(frame)) = output.next().await {
                match frame {
                    LogOutput::StdOut { message } | LogOutput::Console { message } => {
                        out.push(&message)
                    }
                    LogOutput::StdErr { message } => err.push(&message),
                    LogOutput::StdIn { .. } => {}
                }
            }
            (out, err)
        });
        if let Err(e) = self.docker.start_container(id, None).await {
            collector.abort();
            return unstartable(e);
        }
        if let Some(stdin) = &req.stdin {
            // A process that never reads stdin must not block the grader.
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                let _ = input.write_all(stdin.as_bytes()).await;
                let _ = input.shutdown().await;
            })
            .await;
        }
        drop(input);
        let ending = self.wait(id, &req.sandbox).await?;
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
        let passwd = if req.read_passwd {
            self.read_text(id, "/etc/passwd").await?
        } else {
            None
        };
        let exited = matches!(ending, Ending::Exited);
        Ok(RunFacts {
            exit_code: if exited { state.exit_code } else { None },
            timed_out: matches!(ending, Ending::TimedOut).then_some(req.sandbox.timeout),
            oom_killed: state.oom_killed.unwrap_or(false),
            disk_exceeded: match ending {
                Ending::DiskExceeded(bytes) => Some(bytes),
                _ => None,
            },
            start_error: None,
            stdout: String::from_utf8_lossy(&out.kept).into_owned(),
            stderr: String::from_utf8_lossy(&err.kept).into_owned(),
            stdout_dropped: out.dropped,
            stderr_dropped: err.dropped,
            user: req.user.clone().unwrap_or_default(),
            passwd,
        })
    }

    /// Waits for the container to exit, killing it at the sandbox's timeout
    /// or as soon as it has written more than its disk budget.
    async fn wait(&self, id: &str, sandbox: &Sandbox) -> Result<Ending, StepError> {
        let started = Instant::now();
        let mut wait = self.docker.wait_container(id, None);
        let watch = async {
            loop {
                tokio::time::sleep(DISK_POLL).await;
                match self.written(id).await {
                    Some(written) if written > sandbox.limits.disk => return Some(written),
                    Some(_) => {}
                    None if !self.answers().await => return None,
                    None => {}
                }
            }
        };
        // bollard reports a non-zero exit as an error: it is an exit code.
        let ending = tokio::select! {
            waited = tokio::time::timeout(sandbox.timeout, wait.next()) => match waited {
                Ok(Some(Ok(_))) | Ok(Some(Err(DockerError::DockerContainerWaitError { .. }))) | Ok(None) => {
                    return Ok(Ending::Exited);
                }
                Ok(Some(Err(e))) => return Err(StepError::daemon("waiting for the container", e)),
                Err(_) => Ending::TimedOut,
            },
            written = watch => match written {
                Some(written) => Ending::DiskExceeded(written),
                None => return Err(StepError::Infrastructure(super::build::DAEMON_GONE.to_string())),
            },
            _ = self.cancel.cancelled() => Ending::Cancelled,
        };
        self.kill(id).await;
        tracing::debug!("killed {id} after {:?}", started.elapsed());
        Ok(ending)
    }

    /// Bytes the container has written to its own layer, if the daemon says.
    pub(super) async fn written(&self, id: &str) -> Option<u64> {
        let options = InspectContainerOptionsBuilder::default().size(true).build();
        let inspect = self
            .docker
            .inspect_container(id, Some(options))
            .await
            .ok()?;
        inspect.size_rw.and_then(|n| u64::try_from(n).ok())
    }
}

/// A mount in the daemon's terms.
pub(super) fn docker_mount(mount: &RunMount, sandbox: &Sandbox) -> DockerMount {
    match mount {
        RunMount::Bind {
            source,
            target,
            readonly,
        } => DockerMount {
            target: Some(target.clone()),
            source: Some(source.display().to_string()),
            typ: Some(MountType::BIND),
            read_only: Some(*readonly),
            ..Default::default()
        },
        RunMount::Tmpfs { target } => DockerMount {
            target: Some(target.clone()),
            typ: Some(MountType::TMPFS),
            ..Default::default()
        },
        // In memory, so what is written there counts against the run's
        // memory limit and never reaches the daemon's disk; root-owned and
        // not writable by others, like a fresh volume.
        RunMount::Scratch { target } => DockerMount {
            target: Some(target.clone()),
            typ: Some(MountType::TMPFS),
            tmpfs_options: Some(MountTmpfsOptions {
                size_bytes: i64::try_from(sandbox.limits.disk).ok(),
                mode: Some(0o755),
                ..Default::default()
            }),
            ..Default::default()
        },
    }
}

/// What the runtime said, without the layers that passed it on: from
/// "failed to create shim task: OCI runtime create failed: runc create
/// failed: unable to start container process: exec: \"x\": executable file
/// not found in $PATH: unknown", the part after the last layer.
fn runtime_said(message: &str) -> String {
    let message = message.trim();
    let said = [
        "unable to start container process: ",
        "error during container init: ",
    ]
    .iter()
    .find_map(|layer| message.rsplit_once(layer).map(|(_, rest)| rest))
    .unwrap_or(message);
    said.strip_suffix(": unknown").unwrap_or(said).to_string()
}

/// A container that would not start. A command that cannot be found or
/// executed is an exit code, as `docker run` reports it: 127 not found, 126
/// not executable; anything else is the submission's or the daemon's error.
fn unstartable(e: DockerError) -> Result<RunFacts, StepError> {
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
                start_error: Some(runtime_said(message)),
                ..Default::default()
            });
        }
    }
    match e {
        DockerError::DockerResponseServerError {
            status_code: 400 | 404 | 500,
            message,
        } => Err(StepError::Submission(format!(
            "the container could not start: {}",
            message.trim()
        ))),
        e => Err(StepError::daemon("starting the container", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keeps_the_limit_and_counts_the_rest() {
        let mut c = Capture::default();
        c.push(&vec![b'x'; CAPTURE_LIMIT - 10]);
        c.push(&[b'y'; 30]);
        assert_eq!(c.kept.len(), CAPTURE_LIMIT);
        assert_eq!(c.dropped, 20);
    }

    #[test]
    fn a_missing_command_is_exit_127_and_a_forbidden_one_126() {
        let err = |message: &str| DockerError::DockerResponseServerError {
            status_code: 400,
            message: message.into(),
        };
        let facts = unstartable(err("exec: \"nope\": executable file not found in $PATH"))
            .expect("an exit code");
        assert_eq!(facts.exit_code, Some(127));
        assert!(
            facts
                .start_error
                .is_some_and(|e| e.contains("executable file not found"))
        );
        let facts = unstartable(err("exec /x: permission denied")).expect("an exit code");
        assert_eq!(facts.exit_code, Some(126));
        assert!(matches!(
            unstartable(err("invalid mount config")),
            Err(StepError::Submission(_))
        ));
    }

    #[test]
    fn the_runtime_is_heard_without_its_layers() {
        assert_eq!(
            runtime_said(
                "failed to create shim task: OCI runtime create failed: runc create failed: \
                 unable to start container process: exec: \"nonexistent-tool\": executable \
                 file not found in $PATH: unknown"
            ),
            "exec: \"nonexistent-tool\": executable file not found in $PATH"
        );
        assert_eq!(
            runtime_said("exec /x: permission denied"),
            "exec /x: permission denied"
        );
    }
}
