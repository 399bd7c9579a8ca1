//! The model of services: the `service`, `push` and `exec` steps, the
//! requests and disk measurements checks make of services, and the
//! placeholders that name what earlier steps recorded.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{ImageSource, TextMatcher};
use crate::sandbox::Limits;

/// A long-running container: on the exercise's network under its step
/// name, where the grader's requests reach its `port` too (through the
/// engine's tunnel); that port is also published on the daemon's
/// 127.0.0.1 (a free host port), for the daemon's pushes.
#[derive(Debug, Clone)]
pub struct ServiceStep {
    pub image: ImageSource,
    pub cmd: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    /// The container port that answers (TCP).
    pub port: Option<u16>,
    pub ready: Readiness,
    /// How long it may take to become ready.
    pub timeout: Duration,
    pub limits: Limits,
    /// In-memory folders only (`tmpfs`, `scratch`): a registry's storage
    /// bounded by the service's `disk` limit and memory, gone with it.
    pub mounts: Vec<super::Mount>,
}

/// When a service counts as started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Its container is running.
    Running,
    /// Its port accepts a TCP connection.
    Port,
    /// `GET` of this path on its port answers 2xx.
    Http(String),
}

/// Push a step's image to a registry service under each of `tags`.
#[derive(Debug, Clone)]
pub struct PushStep {
    /// The build or image step whose image is pushed.
    pub image: String,
    /// The service step of the registry.
    pub registry: String,
    /// `repository:tag` in that registry (`course/app:1.0`).
    pub tags: Vec<String>,
    pub timeout: Duration,
}

/// A command run inside a service's container (`docker exec`).
#[derive(Debug, Clone)]
pub struct ExecStep {
    pub service: String,
    pub cmd: Vec<String>,
    pub user: Option<String>,
    pub timeout: Duration,
}

/// A request to a service, as the spec writes it. `path` and header
/// values may name what earlier steps recorded: `{push-v1.digest}`,
/// `{push-v1.layers[-1]}` (see [`Placeholder`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HttpRequest {
    /// A service step, or (live exercises) a container step.
    pub service: String,
    /// The container port asked (a container step's, published on the
    /// host); a service's own `port` when not given.
    pub port: Option<u16>,
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
}

/// What an answer must be; every part given must hold.
#[derive(Debug, Clone, Default)]
pub struct HttpExpectation {
    pub request: Option<HttpRequest>,
    /// One of these status codes.
    pub status: Vec<u16>,
    /// Response headers (names case-insensitive) and what they must say.
    pub header: BTreeMap<String, TextMatcher>,
    /// A value inside a JSON body, by JSON pointer (RFC 6901).
    pub json: Option<JsonExpectation>,
    pub body: Option<TextMatcher>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JsonExpectation {
    pub pointer: String,
    /// The value there equals this.
    pub equals: Option<serde_json::Value>,
    /// The array there has this element, or the string there contains it.
    pub contains: Option<serde_json::Value>,
}

/// Where disk use is measured: a path in a service's container.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DiskProbe {
    pub service: String,
    pub path: String,
}

/// Bounds on the bytes under a service's path; every bound given holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskExpectation {
    pub probe: DiskProbe,
    pub max: Option<u64>,
    /// At least `by` bytes more than when that step finished.
    pub grew_since: Option<(String, u64)>,
    /// At least `by` bytes fewer than when that step finished.
    pub shrank_since: Option<(String, u64)>,
}

/// A value an earlier step recorded, named in a request: `{STEP.digest}`
/// (a push's manifest digest), `{STEP.layers[i]}` (the digest of its
/// manifest's layer `i`; negative counts from the top) or `{STEP.id}` (the
/// id of an image or build step's image: a registry's manifest names it as
/// its config's digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placeholder {
    Digest { step: String },
    Layer { step: String, index: i64 },
    Id { step: String },
}

impl Placeholder {
    pub fn step(&self) -> &str {
        match self {
            Placeholder::Digest { step }
            | Placeholder::Layer { step, .. }
            | Placeholder::Id { step } => step,
        }
    }

    /// The placeholders of `text`, in order, or what is wrong with one.
    pub fn scan(text: &str) -> Result<Vec<(std::ops::Range<usize>, Placeholder)>, String> {
        let mut found = Vec::new();
        let mut rest = 0;
        while let Some(open) = text[rest..].find('{').map(|i| rest + i) {
            let Some(close) = text[open..].find('}').map(|i| open + i) else {
                return Err(format!("`{{` at {} is not closed", open + 1));
            };
            let inner = &text[open + 1..close];
            let (step, field) = inner.split_once('.').ok_or_else(|| {
                format!(
                    "`{{{inner}}}` must be `{{STEP.digest}}`, `{{STEP.layers[N]}}` or `{{STEP.id}}`"
                )
            })?;
            let placeholder = if field == "id" {
                Placeholder::Id {
                    step: step.to_string(),
                }
            } else if field == "digest" {
                Placeholder::Digest {
                    step: step.to_string(),
                }
            } else if let Some(n) = field
                .strip_prefix("layers[")
                .and_then(|f| f.strip_suffix(']'))
            {
                let index = n.parse::<i64>().map_err(|_| {
                    format!("`{{{inner}}}`: the layer index must be a whole number")
                })?;
                Placeholder::Layer {
                    step: step.to_string(),
                    index,
                }
            } else {
                return Err(format!(
                    "`{{{inner}}}` must be `{{STEP.digest}}`, `{{STEP.layers[N]}}` or `{{STEP.id}}`"
                ));
            };
            found.push((open..close + 1, placeholder));
            rest = close + 1;
        }
        Ok(found)
    }
}
