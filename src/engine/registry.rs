//! Requests over HTTP, and pushes to a registry service: the references a
//! push adds are recorded and removed at cleanup; the manifest's digest and
//! layers are read back from the registry for later checks.
//!
//! A request goes where its [`Endpoint`] says: an exercise's service through
//! the Engine API ([`super::tunnel`]), a student's own container (a live
//! exercise, on their machine) at the port it publishes on 127.0.0.1. Either
//! way the same HTTP/1 client speaks over the connection ([`exchange`]).

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::errors::Error as DockerError;
use bollard::query_parameters::{PushImageOptionsBuilder, TagImageOptionsBuilder};
use futures_util::StreamExt;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};

use super::tunnel::ServiceAddress;
use super::{CAPTURE_LIMIT, Engine, StepError};
use crate::observation::{HttpAnswer, PushFacts};

/// How long one request to a service may take.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// A port published on this machine's 127.0.0.1: a student's own
    /// container in a live exercise, where dockgrade runs beside the
    /// student's daemon.
    Loopback(u16),
    /// An exercise's service on its network, through the Engine API: it
    /// answers wherever the daemon is.
    Service(ServiceAddress),
}

impl Engine {
    /// One request; the body is kept up to the capture limit. Gives up
    /// after [`REQUEST_TIMEOUT`], or at Ctrl-C.
    pub async fn http(
        &self,
        endpoint: &Endpoint,
        method: &str,
        path: &str,
        headers: &BTreeMap<String, String>,
    ) -> Result<HttpAnswer, String> {
        if let Endpoint::Service(address) = endpoint {
            self.prepare_tunnel(&address.network).await?;
        }
        let asked = async {
            match endpoint {
                Endpoint::Loopback(port) => {
                    let stream = tokio::net::TcpStream::connect(("127.0.0.1", *port))
                        .await
                        .map_err(|e| format!("connecting to 127.0.0.1:{port}: {e}"))?;
                    exchange(stream, &format!("127.0.0.1:{port}"), method, path, headers).await
                }
                Endpoint::Service(address) => {
                    // `nc` outlives the request by a second at most.
                    let lifetime = REQUEST_TIMEOUT + Duration::from_secs(1);
                    let tunnel = self.open_tunnel(address, lifetime).await?;
                    let complaints = tunnel.complaints.clone();
                    exchange(tunnel.stream, &address.authority(), method, path, headers)
                        .await
                        // Why `nc` could not connect explains the closed
                        // connection the client saw.
                        .map_err(|e| match complaints.text() {
                            Some(why) => format!("{e} ({why})"),
                            None => e,
                        })
                }
            }
        };
        // Giving up drops the connection: the exec's streams close, and
        // `nc` ends (its input closed, or its lifetime over).
        tokio::select! {
            answer = tokio::time::timeout(REQUEST_TIMEOUT, asked) => match answer {
                Ok(answer) => answer,
                // Whoever reports it names the request.
                Err(_) => Err(format!("no answer within {}s", REQUEST_TIMEOUT.as_secs())),
            },
            _ = self.cancel.cancelled() => Err("interrupted".to_string()),
        }
    }

    /// Pushes `image` to the registry on 127.0.0.1:`port` as each of `tags`
    /// (`repository:tag`); the references it added are removed at cleanup.
    /// The daemon pushes, so 127.0.0.1 is the daemon's own loopback, where
    /// the service's port is published, wherever the daemon is; what the
    /// push stored is read back from `registry` (the same service, as the
    /// grader reaches it).
    pub async fn push(
        &self,
        image: &str,
        port: u16,
        registry: &Endpoint,
        tags: &[String],
        timeout: Duration,
    ) -> Result<PushFacts, StepError> {
        let mut facts = PushFacts::default();
        for repository_tag in tags {
            let Some((repository, tag)) = repository_tag.rsplit_once(':') else {
                continue;
            };
            let repo = format!("127.0.0.1:{port}/{repository}");
            let reference = format!("{repo}:{tag}");
            let options = TagImageOptionsBuilder::default()
                .repo(&repo)
                .tag(tag)
                .build();
            // Recorded first: a run stopped while the tag is being made
            // still removes it (removing one that is not there is fine).
            self.record(|c| c.references.push(reference.clone()));
            self.docker
                .tag_image(image, Some(options))
                .await
                .map_err(|e| StepError::daemon("tagging the image for the registry", e))?;
            facts.references.push(reference.clone());
            let options = PushImageOptionsBuilder::default().tag(tag).build();
            let mut stream = self.docker.push_image(&repo, Some(options), None);
            let pushed = async {
                let mut digest = None;
                while let Some(item) = stream.next().await {
                    match item {
                        Ok(info) => {
                            if let Some(error) = info.error_detail.and_then(|d| d.message) {
                                return Err(StepError::Infrastructure(format!(
                                    "the push failed: {error}"
                                )));
                            }
                            if let Some(d) = info.status.as_deref().and_then(digest_of) {
                                digest = Some(d);
                            }
                        }
                        Err(DockerError::DockerStreamError { error }) => {
                            return Err(StepError::Infrastructure(format!(
                                "the push failed: {}",
                                error.trim()
                            )));
                        }
                        Err(e) => return Err(StepError::daemon("pushing", e)),
                    }
                }
                digest.ok_or_else(|| {
                    StepError::Infrastructure("the registry reported no digest".into())
                })
            };
            let digest = tokio::select! {
                pushed = tokio::time::timeout(timeout, pushed) => match pushed {
                    Ok(result) => result?,
                    Err(_) => return Err(StepError::Infrastructure(format!(
                        "the push timed out after {}",
                        crate::units::format_duration(timeout)
                    ))),
                },
                _ = self.cancel.cancelled() => return Err(StepError::Infrastructure("interrupted".into())),
            };
            facts.digest = digest.clone();
            facts.layers = self.pushed_layers(registry, repository, &digest).await?;
        }
        Ok(facts)
    }

    /// The layer digests of the manifest a push stored, read back from the
    /// registry (a push's own output names layers by their local ids).
    async fn pushed_layers(
        &self,
        registry: &Endpoint,
        repository: &str,
        digest: &str,
    ) -> Result<Vec<String>, StepError> {
        let accept = BTreeMap::from([(
            "accept".to_string(),
            "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json".to_string(),
        )]);
        let path = format!("/v2/{repository}/manifests/{digest}");
        let manifest = self
            .http(registry, "GET", &path, &accept)
            .await
            .map_err(|e| StepError::Infrastructure(format!("reading the pushed manifest: {e}")))?;
        layer_digests(&manifest.body).ok_or_else(|| {
            StepError::Infrastructure(format!(
                "the pushed manifest lists no layers (status {})",
                manifest.status
            ))
        })
    }
}

/// One HTTP/1 request over `io`, which `Connection: close` ends; the answer
/// with its body kept up to the capture limit. `authority` is the Host
/// header. The connection is driven here, beside the request, not in a task
/// of its own: when the answer is read, or the request given up, it is
/// dropped with `io`.
async fn exchange<T>(
    io: T,
    authority: &str,
    method: &str,
    path: &str,
    headers: &BTreeMap<String, String>,
) -> Result<HttpAnswer, String>
where
    T: AsyncRead + AsyncWrite + Send + Unpin,
{
    let io = hyper_util::rt::TokioIo::new(io);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    let ask = async {
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, authority);
        for (k, v) in headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let mut request = builder
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        // Whatever the request's own headers say: the connection ends with
        // the answer, on the service's side too (so does `nc`).
        request.headers_mut().insert(
            hyper::header::CONNECTION,
            hyper::header::HeaderValue::from_static("close"),
        );
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let mut answer_headers: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in response.headers() {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            answer_headers
                .entry(name.as_str().to_ascii_lowercase())
                .and_modify(|v| {
                    v.push_str(", ");
                    v.push_str(&value)
                })
                .or_insert(value);
        }
        let mut body = response.into_body();
        let mut kept = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| e.to_string())?;
            if let Some(data) = frame.data_ref() {
                let room = CAPTURE_LIMIT.saturating_sub(kept.len()).min(data.len());
                kept.extend_from_slice(&data[..room]);
                if room < data.len() {
                    break;
                }
            }
        }
        Ok(HttpAnswer {
            request: format!("{method} {path}"),
            status,
            headers: answer_headers,
            body: String::from_utf8_lossy(&kept).into_owned(),
        })
    };
    // The connection's end (or failure) reaches the request as an error:
    // only the request decides when this ends.
    let drive = async {
        let _ = connection.await;
        std::future::pending::<()>().await
    };
    tokio::select! {
        answer = ask => answer,
        () = drive => unreachable!("the connection's driver never ends"),
    }
}

/// The digest in a push's last status line: `1.0: digest: sha256:… size: 527`.
fn digest_of(status: &str) -> Option<String> {
    let rest = status.split("digest: ").nth(1)?;
    let digest = rest.split_whitespace().next()?;
    digest.starts_with("sha256:").then(|| digest.to_string())
}

/// The layer digests of an image manifest (Docker v2 or OCI), bottom first.
fn layer_digests(manifest: &str) -> Option<Vec<String>> {
    let value: serde_json::Value = serde_json::from_str(manifest).ok()?;
    value
        .get("layers")?
        .as_array()?
        .iter()
        .map(|l| l.get("digest")?.as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_read_from_the_push_status() {
        assert_eq!(
            digest_of("1.0: digest: sha256:abc123 size: 527").as_deref(),
            Some("sha256:abc123")
        );
        assert_eq!(digest_of("Pushed"), None);
        assert_eq!(digest_of("x: digest: md5:1 size: 2"), None);
    }

    #[test]
    fn layers_are_read_bottom_first_from_a_manifest() {
        let m = r#"{"schemaVersion":2,"layers":[{"digest":"sha256:a"},{"digest":"sha256:b"}]}"#;
        assert_eq!(
            layer_digests(m),
            Some(vec!["sha256:a".to_string(), "sha256:b".to_string()])
        );
        assert_eq!(layer_digests("{}"), None);
        assert_eq!(layer_digests("not json"), None);
    }
}

/// The HTTP client over an exec's frames, without a daemon: what a tunnel
/// carries, both ways.
#[cfg(test)]
mod over_an_exec {
    use super::*;
    use crate::engine::tunnel::{Complaints, ExecStream};
    use bollard::container::LogOutput;
    use futures_util::stream;
    use tokio::io::AsyncReadExt;

    /// The request `exchange` wrote to the exec's input, and its answer
    /// when the exec's output frames are `answer` (sent once the request
    /// has been written, as a server answers).
    async fn ask(
        answer: Vec<LogOutput>,
        headers: &[(&str, &str)],
        method: &str,
    ) -> (String, Result<HttpAnswer, String>) {
        let (input, mut exec_side) = tokio::io::duplex(1 << 16);
        let (written, request) = tokio::sync::oneshot::channel::<Vec<u8>>();
        let (heard_tx, heard) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut byte = [0u8; 1];
            while !seen.ends_with(b"\r\n\r\n") && exec_side.read(&mut byte).await.unwrap_or(0) == 1
            {
                seen.push(byte[0]);
            }
            let _ = heard_tx.send(());
            let _ = written.send(seen);
        });
        let output = stream::once(async move {
            let _ = heard.await;
            stream::iter(answer.into_iter().map(Ok))
        })
        .flatten();
        let stream = ExecStream::new(Box::pin(output), Box::pin(input), Complaints::default());
        let headers = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let answer = exchange(stream, "web:8080", method, "/v2/tags.json", &headers).await;
        let request = request.await.unwrap_or_default();
        (String::from_utf8_lossy(&request).into_owned(), answer)
    }

    fn stdout(text: &str) -> LogOutput {
        LogOutput::StdOut {
            message: Bytes::from(text.to_string()),
        }
    }

    #[tokio::test]
    async fn a_request_goes_out_as_written_and_the_answer_comes_back_from_frames() {
        let (request, answer) = ask(
            vec![
                stdout("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Twice: a\r\n"),
                LogOutput::StdErr {
                    message: Bytes::from_static(b"nc: noise on stderr\n"),
                },
                stdout("X-Twice: b\r\nContent-Length: 16\r\n\r\n{\"tags\":"),
                stdout("[\"2.0\"]}"),
            ],
            &[("accept", "application/json"), ("connection", "keep-alive")],
            "GET",
        )
        .await;
        let answer = answer.expect("answered");
        assert_eq!(answer.status, 200);
        assert_eq!(answer.request, "GET /v2/tags.json");
        assert_eq!(answer.body, "{\"tags\":[\"2.0\"]}");
        assert_eq!(answer.headers["x-twice"], "a, b");
        let lower = request.to_ascii_lowercase();
        assert!(
            lower.starts_with("get /v2/tags.json http/1.1\r\n"),
            "{request}"
        );
        assert!(lower.contains("host: web:8080\r\n"), "{request}");
        assert!(lower.contains("accept: application/json\r\n"), "{request}");
        // The connection ends with the answer, whatever the check asked.
        assert!(lower.contains("connection: close\r\n"), "{request}");
        assert!(!lower.contains("keep-alive"), "{request}");
    }

    #[tokio::test]
    async fn a_body_is_kept_up_to_the_capture_limit() {
        let (_, answer) = ask(
            vec![
                stdout(&format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                    CAPTURE_LIMIT + 10
                )),
                stdout(&"x".repeat(CAPTURE_LIMIT + 10)),
            ],
            &[],
            "GET",
        )
        .await;
        assert_eq!(answer.expect("answered").body.len(), CAPTURE_LIMIT);
    }

    #[tokio::test]
    async fn an_exec_that_ends_without_answering_is_an_error_not_a_hang() {
        let (_, answer) = ask(Vec::new(), &[], "GET").await;
        assert!(answer.is_err(), "{answer:?}");
    }
}
