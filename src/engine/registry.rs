//! Talking to services over HTTP from the grading machine, and pushing
//! images to a registry service: the references a push adds are recorded
//! and removed at cleanup; the manifest's digest and layers are read back
//! from the registry for later checks.

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::errors::Error as DockerError;
use bollard::query_parameters::{PushImageOptionsBuilder, TagImageOptionsBuilder};
use futures_util::StreamExt;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;

use super::{CAPTURE_LIMIT, Engine, StepError};
use crate::observation::{HttpAnswer, PushFacts};

/// How long one request to a service may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl Engine {
    /// One request to a service's published port on 127.0.0.1; the body is
    /// kept up to the capture limit.
    pub async fn http(
        &self,
        port: u16,
        method: &str,
        path: &str,
        headers: &BTreeMap<String, String>,
    ) -> Result<HttpAnswer, String> {
        let request_line = format!("{method} {path}");
        let exchange = async {
            let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .map_err(|e| format!("connecting to 127.0.0.1:{port}: {e}"))?;
            let io = hyper_util::rt::TokioIo::new(stream);
            let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
                .await
                .map_err(|e| e.to_string())?;
            let driver = tokio::spawn(connection);
            let mut builder = hyper::Request::builder()
                .method(method)
                .uri(path)
                .header(hyper::header::HOST, format!("127.0.0.1:{port}"));
            for (k, v) in headers {
                builder = builder.header(k.as_str(), v.as_str());
            }
            let request = builder
                .body(Empty::<Bytes>::new())
                .map_err(|e| e.to_string())?;
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
            driver.abort();
            Ok(HttpAnswer {
                request: request_line.clone(),
                status,
                headers: answer_headers,
                body: String::from_utf8_lossy(&kept).into_owned(),
            })
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(answer) => answer,
            Err(_) => Err(format!(
                "{request_line}: no answer within {}s",
                REQUEST_TIMEOUT.as_secs()
            )),
        }
    }

    /// Pushes `image` to the registry on 127.0.0.1:`port` as each of `tags`
    /// (`repository:tag`); the references it added are removed at cleanup.
    pub async fn push(
        &self,
        image: &str,
        port: u16,
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
            facts.layers = self.pushed_layers(port, repository, &digest).await?;
        }
        Ok(facts)
    }

    /// The layer digests of the manifest a push stored, read back from the
    /// registry (a push's own output names layers by their local ids).
    async fn pushed_layers(
        &self,
        port: u16,
        repository: &str,
        digest: &str,
    ) -> Result<Vec<String>, StepError> {
        let accept = BTreeMap::from([(
            "accept".to_string(),
            "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json".to_string(),
        )]);
        let path = format!("/v2/{repository}/manifests/{digest}");
        let manifest = self
            .http(port, "GET", &path, &accept)
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
