//! The labelling proxy a live case's replay talks to, so that `validate`
//! removes exactly what the replay created, whoever else uses the daemon.
//!
//! [`Proxy::start`] listens on a Unix socket in a private temporary folder;
//! the replayed `commands.sh` gets it as `DOCKER_HOST`. Each connection
//! carries one request (the proxy sends `Connection: close`), so the proxy
//! sees every request's head: [`rewrite`] adds the run's labels to what the
//! docker CLI creates (containers, builds, volumes, networks, commits) and
//! notes the references `docker tag` adds to images that are not ours;
//! [`build`] reads a build's output for the layers and step containers that
//! cannot carry a label. Everything else, attach and exec streams included,
//! is copied as bytes to the daemon dockgrade uses and back. Dropping the
//! proxy ends its tasks and removes its folder.

mod build;
mod http;
mod rewrite;

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UnixListener, UnixStream};
use tokio::task::{JoinHandle, JoinSet};

use http::{HttpError, MAX_HEADERS, answer, framing, read_body, read_head};
use rewrite::{MAX_BODY, Route};

/// What a replay made that its labels cannot show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Recorded {
    /// `repo:tag` references `docker tag` added to images.
    pub references: Vec<String>,
    /// The containers of build steps (a failed step's stays behind).
    pub build_containers: Vec<String>,
    /// The layers builds committed, in the order they were reported.
    pub layers: Vec<String>,
}

impl Recorded {
    fn extend(&mut self, other: Recorded) {
        self.references.extend(other.references);
        self.build_containers.extend(other.build_containers);
        self.layers.extend(other.layers);
    }
}

/// Where the daemon is: where dockgrade's own engine connects.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Upstream {
    Unix(PathBuf),
    Tcp(String),
}

impl Upstream {
    /// `unix:///path` or `tcp://host[:port]` (`DOCKER_HOST`'s forms the proxy
    /// can speak: no TLS, no ssh).
    fn parse(host: &str) -> Result<Upstream, String> {
        if let Some(path) = host.strip_prefix("unix://") {
            Ok(Upstream::Unix(PathBuf::from(path)))
        } else if let Some(address) = host.strip_prefix("tcp://") {
            let address = address.trim_end_matches('/');
            Ok(Upstream::Tcp(if address.contains(':') {
                address.to_string()
            } else {
                format!("{address}:2375")
            }))
        } else {
            Err(format!(
                "a replay can only reach a daemon at unix:// or tcp://, not {host}"
            ))
        }
    }

    async fn connect(&self) -> io::Result<Box<dyn Duplex>> {
        Ok(match self {
            Upstream::Unix(path) => Box::new(UnixStream::connect(path).await?),
            Upstream::Tcp(address) => Box::new(TcpStream::connect(address).await?),
        })
    }
}

/// A connection to the daemon, whichever transport.
trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}

/// What every connection of one proxy shares.
#[derive(Debug)]
struct Shared {
    labels: HashMap<String, String>,
    upstream: Upstream,
    recorded: Mutex<Recorded>,
}

/// A running proxy. Dropping it stops it and removes its socket.
#[derive(Debug)]
pub(crate) struct Proxy {
    /// Holds the socket; removed when the proxy is dropped.
    dir: tempfile::TempDir,
    socket: PathBuf,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy to the daemon `docker_host` names (`DOCKER_HOST`'s
    /// form) that labels what it creates with run `run_id`'s labels.
    pub fn start(run_id: &str, docker_host: &str) -> Result<Proxy, String> {
        let upstream = Upstream::parse(docker_host)?;
        let failed = |e: io::Error| format!("cannot start the replay's proxy: {e}");
        // Only its owner may enter the folder: nobody else reaches the
        // daemon through the socket.
        let dir = tempfile::Builder::new()
            .prefix("dockgrade-replay-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .map_err(failed)?;
        let socket = dir.path().join("docker.sock");
        let listener = UnixListener::bind(&socket).map_err(failed)?;
        let shared = Arc::new(Shared {
            labels: crate::names::labels(run_id),
            upstream,
            recorded: Mutex::new(Recorded::default()),
        });
        let server = tokio::spawn(accept(listener, shared.clone()));
        Ok(Proxy {
            dir,
            socket,
            shared,
            server,
        })
    }

    /// The `DOCKER_HOST` for the replay.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Stops the proxy, removes its folder, and says what it recorded.
    pub fn finish(self) -> Recorded {
        self.server.abort();
        let recorded = self
            .shared
            .recorded
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default();
        tracing::debug!(
            "replay proxy in {} recorded {recorded:?}",
            self.dir.path().display()
        );
        recorded
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Aborting the server drops its set of connections, which aborts
        // them; the folder goes with `dir`.
        self.server.abort();
    }
}

/// Accepts connections until aborted; each is served on its own task.
async fn accept(listener: UnixListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((conn, _)) => {
                    connections.spawn(serve(conn, shared.clone()));
                }
                Err(e) => {
                    // Out of descriptors, say: wait rather than spin.
                    tracing::warn!("replay proxy: cannot accept a connection: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve(conn: UnixStream, shared: Arc<Shared>) {
    if let Err(e) = relay(conn, &shared).await {
        tracing::debug!("replay proxy: {e}");
    }
}

/// How the daemon's answer goes back to the client.
#[derive(Debug)]
enum Answer {
    Bytes,
    Build { quiet: bool },
    Tag(String),
}

/// A request as it goes to the daemon.
#[derive(Debug)]
struct Forward {
    head: Vec<u8>,
    /// A body the proxy rewrote; otherwise the body follows as bytes.
    body: Option<Vec<u8>>,
    answer: Answer,
}

/// Serves one connection: one request to the daemon, its answer back.
async fn relay(conn: UnixStream, shared: &Shared) -> Result<(), HttpError> {
    let (client_read, mut client_write) = conn.into_split();
    let mut client = BufReader::new(client_read);
    let forward = match read_request(&mut client, &shared.labels).await {
        Ok(Some(forward)) => forward,
        Ok(None) => return Ok(()),
        Err(HttpError::Refused(why)) => {
            return Ok(answer(&mut client_write, "400 Bad Request", &why).await?);
        }
        Err(e) => return Err(e),
    };
    let daemon = match shared.upstream.connect().await {
        Ok(daemon) => daemon,
        Err(e) => {
            let why = format!("cannot reach the daemon: {e}");
            return Ok(answer(&mut client_write, "502 Bad Gateway", &why).await?);
        }
    };
    let (daemon_read, mut daemon_write) = tokio::io::split(daemon);
    let mut daemon_read = BufReader::new(daemon_read);
    daemon_write.write_all(&forward.head).await?;
    if let Some(body) = &forward.body {
        daemon_write.write_all(body).await?;
    }
    // The rest of the request (a body, an attached stdin) goes on as bytes.
    let upload = async {
        tokio::io::copy(&mut client, &mut daemon_write).await?;
        daemon_write.shutdown().await
    };
    let download = async {
        match forward.answer {
            Answer::Bytes => {
                tokio::io::copy(&mut daemon_read, &mut client_write).await?;
                client_write.shutdown().await?;
                Ok(())
            }
            Answer::Build { quiet } => {
                build::relay(&mut daemon_read, &mut client_write, quiet, &shared.recorded).await
            }
            Answer::Tag(reference) => {
                tag_answer(&mut daemon_read, &mut client_write, reference, shared).await
            }
        }
    };
    tokio::pin!(download);
    tokio::select! {
        // The answer is complete: whatever the client still sends would go
        // to a connection the daemon has closed.
        done = &mut download => done,
        // The client has sent everything; the answer goes on.
        _ = upload => download.await,
    }
}

/// Reads a request's head (and a body to label) and decides how it goes.
async fn read_request<R: AsyncBufRead + Unpin>(
    client: &mut R,
    labels: &HashMap<String, String>,
) -> Result<Option<Forward>, HttpError> {
    let Some(raw) = read_head(client).await? else {
        return Ok(None);
    };
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(&raw) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(HttpError::Refused("a cut request head".into()));
        }
        Err(e) => return Err(HttpError::Refused(format!("a malformed request head: {e}"))),
    }
    let target = request.path.unwrap_or("/");
    let forward = match rewrite::route(request.method.unwrap_or(""), target)? {
        Route::LabelBody => {
            let body = read_body(client, framing(request.headers)?, MAX_BODY).await?;
            let body = rewrite::label_body(&body, labels)?;
            Forward {
                head: rewrite::forward_head(&request, target, Some(body.len())),
                body: Some(body),
                answer: Answer::Bytes,
            }
        }
        Route::Build => {
            rewrite::require_query_parameters(&request)?;
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            let rewritten = rewrite::label_build_query(query, labels)?;
            let target = format!("{path}?{}", rewritten.query);
            Forward {
                head: rewrite::forward_head(&request, &target, None),
                body: None,
                answer: Answer::Build {
                    quiet: rewritten.quiet,
                },
            }
        }
        Route::Tag(reference) => {
            rewrite::require_query_parameters(&request)?;
            Forward {
                head: rewrite::forward_head(&request, target, None),
                body: None,
                answer: Answer::Tag(reference),
            }
        }
        Route::Other => Forward {
            head: rewrite::forward_head(&request, target, None),
            body: None,
            answer: Answer::Bytes,
        },
    };
    Ok(Some(forward))
}

/// Passes a tag's answer on, recording the reference once the daemon says
/// it was added (a refused tag added nothing to remove).
async fn tag_answer<R, W>(
    daemon: &mut R,
    client: &mut W,
    reference: String,
    shared: &Shared,
) -> Result<(), HttpError>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let Some(head) = read_head(daemon).await? else {
        return Ok(());
    };
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    if let Ok(httparse::Status::Complete(_)) = response.parse(&head)
        && response.code.is_some_and(|c| (200..300).contains(&c))
        && let Ok(mut recorded) = shared.recorded.lock()
    {
        recorded.references.push(reference);
    }
    client.write_all(&head).await?;
    tokio::io::copy(daemon, client).await?;
    client.shutdown().await?;
    Ok(())
}

#[cfg(test)]
mod tests;
