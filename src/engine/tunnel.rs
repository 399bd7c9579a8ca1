//! The way the grader reaches an exercise's services: through the Engine
//! API, never through a connection of its own. A small helper container on
//! the exercise's network (busybox running `sleep`) is created the first time
//! a request needs it, once per network, and each request is an `exec` of
//! `nc NAME PORT` in it, whose standard input and output carry the
//! connection's bytes ([`ExecStream`]). So a request reaches the service by
//! its step name wherever the daemon is: on this machine, at `tcp://…`, or
//! outside the container dockgrade itself runs in (whose 127.0.0.1 is its
//! own, not the daemon's). The helper carries the run's labels and is
//! recorded, so [`Engine::cleanup`] removes it with the exercise's other
//! containers, after a failure or Ctrl-C too.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::errors::Error as DockerError;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::CreateContainerOptionsBuilder;
use futures_util::Stream;
use hyper::body::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

use super::{Engine, describe, sandbox};
use crate::names;
use crate::sandbox::{Limits, Network, Sandbox};

/// The image of the helper containers: its `nc` and `timeout` applets are
/// all a tunnel needs. `dockgrade prepare` fetches it for exercises with
/// services ([`crate::prepare`]).
pub(crate) const TUNNEL_IMAGE: &str = "busybox:1.35";

/// How long a helper container lives at most: `sleep` ends it if dockgrade
/// is killed before its cleanup (`dockgrade clean` removes what is left).
const HELPER_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Most bytes kept of what `nc` says on its standard error.
const COMPLAINTS_LIMIT: usize = 512;

/// How long a tunnel must stay open, once `nc` runs, for the port to count
/// as listening: `nc` connects as soon as it starts, and a refused
/// connection ends it at once.
const PORT_SETTLE: Duration = Duration::from_millis(200);

/// An exercise's service, as the helper container reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceAddress {
    /// The exercise's network.
    pub network: String,
    /// The name the service answers to there (its step name).
    pub name: String,
    /// Its port inside the network.
    pub port: u16,
}

impl ServiceAddress {
    /// `name:port`, as a request's Host header names it.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.name, self.port)
    }
}

/// One connection to a service: an exec of `nc` in the helper container.
pub(super) struct Tunnel {
    /// The exec's id, to read its exit code once it ended.
    exec: String,
    pub stream: ExecStream,
    /// What `nc` said on its standard error (why it could not connect).
    pub complaints: Complaints,
}

impl Engine {
    /// Opens a connection to `address`. `lifetime` bounds the exec's
    /// process inside the helper (`timeout -s KILL`): the Engine API cannot
    /// kill an exec, and a service that never closes the connection must
    /// not keep an `nc` running after the request was given up.
    pub(super) async fn open_tunnel(
        &self,
        address: &ServiceAddress,
        lifetime: Duration,
    ) -> Result<Tunnel, String> {
        let options = CreateExecOptions {
            cmd: Some(tunnel_command(address, lifetime)),
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(false),
            ..Default::default()
        };
        // A helper that has gone (killed from outside) is replaced once.
        let mut replaced = false;
        let exec = loop {
            let helper = self.tunnel_helper(&address.network).await?;
            match self.docker.create_exec(&helper, options.clone()).await {
                Ok(exec) => break exec,
                Err(e) if !replaced => {
                    tracing::debug!("the tunnel helper {helper} took no exec: {}", describe(&e));
                    self.forget_helper(&address.network, &helper).await;
                    replaced = true;
                }
                Err(e) => return Err(format!("the tunnel's exec: {}", describe(&e))),
            }
        };
        let started = self
            .docker
            .start_exec(&exec.id, None)
            .await
            .map_err(|e| format!("starting the tunnel's exec: {}", describe(&e)))?;
        let StartExecResults::Attached { output, input } = started else {
            return Err("the tunnel's exec did not attach".into());
        };
        let complaints = Complaints::default();
        Ok(Tunnel {
            exec: exec.id,
            stream: ExecStream::new(output, input, complaints.clone()),
            complaints,
        })
    }

    /// Whether something listens at `address`. With `nc` on the exercise's
    /// network nothing stands between it and the service (no port proxy
    /// that accepts every connection itself): a refused connection ends
    /// `nc` at once with an error; an accepted one keeps it running, waiting
    /// for either side to speak, or ends it without error when the service
    /// closes it (it listened). Nothing is sent to the service.
    pub(super) async fn port_listens(
        &self,
        address: &ServiceAddress,
        within: Duration,
    ) -> Result<(), String> {
        let mut tunnel = self.open_tunnel(address, within).await?;
        let decided = async {
            let mut buffer = [0u8; 512];
            let mut seen_running = false;
            loop {
                match tokio::time::timeout(PORT_SETTLE, tunnel.stream.read(&mut buffer)).await {
                    Ok(Ok(0)) => break,
                    // The service spoke first (a greeting): it listens.
                    Ok(Ok(_)) => return Ok(()),
                    Ok(Err(e)) => return Err(e.to_string()),
                    // Open for a while after `nc` was seen running: connected.
                    Err(_) if seen_running => return Ok(()),
                    // The exec may not have started yet on a busy daemon.
                    Err(_) => seen_running = self.exec_running(&tunnel.exec).await,
                }
            }
            // `nc` ended. The daemon records the exit code before it
            // closes the exec's streams.
            let code = self
                .docker
                .inspect_exec(&tunnel.exec)
                .await
                .ok()
                .and_then(|i| i.exit_code);
            match code {
                Some(0) => Ok(()),
                code => Err(tunnel.complaints.text().unwrap_or_else(|| {
                    format!(
                        "{}: nothing listens (nc ended with {})",
                        address.authority(),
                        code.map_or("no exit code".to_string(), |c| format!("exit code {c}"))
                    )
                })),
            }
        };
        match tokio::time::timeout(within, decided).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "{}: no answer within {} s",
                address.authority(),
                within.as_secs()
            )),
        }
    }

    async fn exec_running(&self, exec: &str) -> bool {
        self.docker
            .inspect_exec(exec)
            .await
            .ok()
            .and_then(|i| i.running)
            .unwrap_or(false)
    }

    /// Makes the helper container on `network` now if there is none yet
    /// (pulling its image if need be): called before a request's time
    /// starts, which is for the service to answer. Ctrl-C stops it.
    pub(super) async fn prepare_tunnel(&self, network: &str) -> Result<(), String> {
        tokio::select! {
            made = self.tunnel_helper(network) => made.map(|_| ()),
            _ = self.cancel.cancelled() => Err("interrupted".into()),
        }
    }

    /// The helper container on `network`: the one made for it before, or
    /// a new one. Made once: concurrent requests wait for the first.
    async fn tunnel_helper(&self, network: &str) -> Result<String, String> {
        let _once = self.tunnel_lock.lock().await;
        let known = self
            .created
            .lock()
            .ok()
            .and_then(|c| c.tunnels.get(network).cloned());
        if let Some(id) = known {
            return Ok(id);
        }
        if self.is_cancelled() {
            return Err("interrupted".into());
        }
        self.tunnel_image().await?;
        let n = self
            .probe_counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let body = ContainerCreateBody {
            image: Some(TUNNEL_IMAGE.to_string()),
            cmd: Some(vec![
                "sleep".to_string(),
                HELPER_LIFETIME.as_secs().to_string(),
            ]),
            // No one's: `nc` needs no privilege to connect.
            user: Some("65534:65534".to_string()),
            labels: Some(self.labels()),
            host_config: Some(helper_host_config(network)),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default()
            .name(&names::tunnel_container(&self.run_id, n))
            .build();
        let id = self
            .docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| format!("creating the tunnel's helper container: {}", describe(&e)))?
            .id;
        self.record(|c| c.containers.push(id.clone()));
        if let Err(e) = self.docker.start_container(&id, None).await {
            self.dispose_container(&id).await;
            return Err(format!(
                "starting the tunnel's helper container: {}",
                describe(&e)
            ));
        }
        self.record(|c| {
            c.tunnels.insert(network.to_string(), id.clone());
        });
        Ok(id)
    }

    /// Removes a helper that took no exec, so that the next request makes
    /// a new one.
    async fn forget_helper(&self, network: &str, id: &str) {
        self.record(|c| {
            if c.tunnels.get(network).is_some_and(|known| known == id) {
                c.tunnels.remove(network);
            }
        });
        self.dispose_container(id).await;
    }

    /// Makes sure the daemon has the helper's image, pulling it if not.
    async fn tunnel_image(&self) -> Result<(), String> {
        let present = self
            .image_id(TUNNEL_IMAGE)
            .await
            .map_err(|e| e.to_string())?
            .is_some();
        if present {
            return Ok(());
        }
        self.pull_image(TUNNEL_IMAGE).await.map_err(|e| {
            format!(
                "the image {TUNNEL_IMAGE}, which dockgrade asks services through, is not present \
                 and could not be pulled ({e}); `dockgrade prepare` fetches it"
            )
        })
    }
}

/// `nc NAME PORT`, killed after `lifetime` (rounded up to seconds).
fn tunnel_command(address: &ServiceAddress, lifetime: Duration) -> Vec<String> {
    let seconds = lifetime.as_secs() + u64::from(lifetime.subsec_nanos() > 0);
    [
        "timeout",
        "-s",
        "KILL",
        &seconds.max(1).to_string(),
        "nc",
        &address.name,
        &address.port.to_string(),
    ]
    .map(str::to_string)
    .to_vec()
}

/// The helper's host configuration: the run sandbox on the exercise's
/// network only, with small limits, no capability at all, a read-only
/// root. It needs the network and nothing else.
fn helper_host_config(network: &str) -> bollard::models::HostConfig {
    let limits = Limits {
        memory: 32 << 20,
        pids: 64,
        cpus: 0.5,
        ..Limits::default()
    };
    let confined = Sandbox::run(limits, Network::Exercise, HELPER_LIFETIME);
    let mut host_config = sandbox::host_config(&confined, Vec::new());
    host_config.network_mode = Some(network.to_string());
    host_config.cap_add = None;
    host_config.readonly_rootfs = Some(true);
    host_config
}

/// What an exec said on its standard error, kept apart from the stream
/// (capped), to explain a connection that failed.
#[derive(Debug, Clone, Default)]
pub(super) struct Complaints(Arc<Mutex<Vec<u8>>>);

impl Complaints {
    fn push(&self, bytes: &[u8]) {
        if let Ok(mut kept) = self.0.lock() {
            let room = COMPLAINTS_LIMIT.saturating_sub(kept.len()).min(bytes.len());
            kept.extend_from_slice(&bytes[..room]);
        }
    }

    /// The first line said, as printable text; `None` when nothing was.
    pub fn text(&self) -> Option<String> {
        let kept = self.0.lock().ok()?;
        let text = String::from_utf8_lossy(&kept);
        let line: String = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())?
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        Some(line)
    }
}

type ExecOutput = Pin<Box<dyn Stream<Item = Result<LogOutput, DockerError>> + Send>>;
type ExecInput = Pin<Box<dyn AsyncWrite + Send>>;

/// An attached exec as one byte stream: reads give its standard output
/// (the frames the daemon multiplexes it in, unwrapped), writes go to its
/// standard input, shutting down closes that. Its standard error goes to
/// [`Complaints`], never into the stream.
pub(super) struct ExecStream {
    output: ExecOutput,
    input: ExecInput,
    /// The rest of a frame a read had no room for.
    unread: Bytes,
    ended: bool,
    complaints: Complaints,
}

impl ExecStream {
    pub(super) fn new(output: ExecOutput, input: ExecInput, complaints: Complaints) -> ExecStream {
        ExecStream {
            output,
            input,
            unread: Bytes::new(),
            ended: false,
            complaints,
        }
    }
}

impl AsyncRead for ExecStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            if !this.unread.is_empty() {
                let n = this.unread.len().min(buf.remaining());
                buf.put_slice(&this.unread.split_to(n));
                return Poll::Ready(Ok(()));
            }
            if this.ended {
                return Poll::Ready(Ok(()));
            }
            match ready!(this.output.as_mut().poll_next(cx)) {
                Some(Ok(LogOutput::StdOut { message } | LogOutput::Console { message })) => {
                    this.unread = message;
                }
                Some(Ok(LogOutput::StdErr { message })) => this.complaints.push(&message),
                Some(Ok(LogOutput::StdIn { .. })) => {}
                Some(Err(e)) => {
                    this.ended = true;
                    return Poll::Ready(Err(io::Error::other(describe(&e))));
                }
                None => this.ended = true,
            }
        }
    }
}

impl AsyncWrite for ExecStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().input.as_mut().poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().input.as_mut().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().input.as_mut().poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;
    use tokio::io::AsyncWriteExt;

    fn out(text: &str) -> Result<LogOutput, DockerError> {
        Ok(LogOutput::StdOut {
            message: Bytes::from(text.to_string()),
        })
    }

    fn err(text: &str) -> Result<LogOutput, DockerError> {
        Ok(LogOutput::StdErr {
            message: Bytes::from(text.to_string()),
        })
    }

    fn exec_stream(frames: Vec<Result<LogOutput, DockerError>>) -> (ExecStream, Complaints) {
        let complaints = Complaints::default();
        let stream = ExecStream::new(
            Box::pin(stream::iter(frames)),
            Box::pin(tokio::io::sink()),
            complaints.clone(),
        );
        (stream, complaints)
    }

    #[tokio::test]
    async fn standard_output_frames_are_the_bytes_read_and_standard_error_is_kept_apart() {
        let (mut stream, complaints) = exec_stream(vec![
            out("HTTP/1.1 "),
            err("nc: a warning\n"),
            out("200 OK\r\n"),
            Ok(LogOutput::StdIn {
                message: Bytes::from_static(b"echo"),
            }),
            out(""),
            out("\r\n"),
        ]);
        let mut read = Vec::new();
        stream.read_to_end(&mut read).await.expect("reads");
        assert_eq!(read, b"HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(complaints.text().as_deref(), Some("nc: a warning"));
    }

    #[tokio::test]
    async fn a_frame_larger_than_a_read_is_read_in_parts_and_the_end_is_eof() {
        let (mut stream, _) = exec_stream(vec![out("abcdefgh")]);
        let mut part = [0u8; 3];
        let mut parts = Vec::new();
        loop {
            let n = stream.read(&mut part).await.expect("reads");
            if n == 0 {
                break;
            }
            parts.push(String::from_utf8_lossy(&part[..n]).into_owned());
        }
        assert_eq!(parts, ["abc", "def", "gh"]);
        // After the end, still the end.
        assert_eq!(stream.read(&mut part).await.expect("reads"), 0);
    }

    #[tokio::test]
    async fn a_broken_exec_stream_is_a_read_error() {
        let (mut stream, _) = exec_stream(vec![
            out("partial"),
            Err(DockerError::DockerStreamError {
                error: "connection reset".into(),
            }),
        ]);
        let mut read = Vec::new();
        let e = stream.read_to_end(&mut read).await.unwrap_err();
        assert!(e.to_string().contains("connection reset"), "{e}");
        assert_eq!(read, b"partial");
    }

    #[tokio::test]
    async fn writes_reach_the_execs_standard_input_and_shutdown_closes_it() {
        let (input, mut exec_side) = tokio::io::duplex(64);
        let mut stream = ExecStream::new(
            Box::pin(stream::empty()),
            Box::pin(input),
            Complaints::default(),
        );
        stream
            .write_all(b"GET / HTTP/1.1\r\n")
            .await
            .expect("writes");
        stream.shutdown().await.expect("shuts down");
        let mut received = Vec::new();
        exec_side.read_to_end(&mut received).await.expect("reads");
        assert_eq!(received, b"GET / HTTP/1.1\r\n");
    }

    #[test]
    fn complaints_are_one_printable_line_capped() {
        let complaints = Complaints::default();
        assert_eq!(complaints.text(), None);
        complaints
            .push(b"\n  nc: can't connect to remote host: Connection refused\x1b[31m\nmore\n");
        assert_eq!(
            complaints.text().as_deref(),
            Some("nc: can't connect to remote host: Connection refused?[31m")
        );
        complaints.push(&[b'x'; 2 * COMPLAINTS_LIMIT]);
        assert_eq!(complaints.0.lock().unwrap().len(), COMPLAINTS_LIMIT);
    }

    #[test]
    fn the_tunnel_is_nc_to_the_services_name_and_port_killed_after_its_lifetime() {
        let address = ServiceAddress {
            network: "dockgrade-r-ex".into(),
            name: "registry".into(),
            port: 5000,
        };
        assert_eq!(
            tunnel_command(&address, Duration::from_millis(30_500)),
            ["timeout", "-s", "KILL", "31", "nc", "registry", "5000"]
        );
        assert_eq!(address.authority(), "registry:5000");
    }

    #[test]
    fn the_helper_is_confined_to_the_exercises_network_without_capabilities() {
        let hc = helper_host_config("dockgrade-r-ex");
        assert_eq!(hc.network_mode.as_deref(), Some("dockgrade-r-ex"));
        assert_eq!(hc.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(hc.cap_add, None);
        assert_eq!(hc.privileged, Some(false));
        assert_eq!(hc.readonly_rootfs, Some(true));
        assert_eq!(hc.pids_limit, Some(64));
        assert_eq!(hc.memory, Some(32 << 20));
        assert_eq!(hc.security_opt, Some(vec!["no-new-privileges".to_string()]));
    }
}
