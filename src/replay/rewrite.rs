//! What the replay proxy changes in a request, as pure functions: which
//! requests create something (by path, whatever API version prefixes it),
//! the run's labels merged into a JSON body or into a build's `labels`
//! query, the reference a tag request adds, and the head sent on with one
//! request per connection. Anything it cannot read with certainty is
//! refused rather than forwarded unlabelled.

use std::collections::HashMap;

use serde_json::{Map, Value};

/// Most bytes of a JSON body the proxy reads to label it.
pub(super) const MAX_BODY: usize = 4 << 20;

/// Why a request is answered `400` instead of being forwarded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(super) struct Refusal(pub String);

fn refuse<T>(why: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal(why.into()))
}

/// What a request is, for the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Route {
    /// Creates a container, volume, network or (`/commit`) image from a
    /// JSON body that takes `Labels`.
    LabelBody,
    /// `POST /build`: labels go in the query; what it commits is watched.
    Build,
    /// `POST /images/{name}/tag`: adds this `repo:tag` to an image.
    Tag(String),
    /// Forwarded untouched.
    Other,
}

/// Classifies a request by method and target (`/v1.41/containers/create?…`).
/// The path is matched decoded, as the daemon's router matches it.
pub(super) fn route(method: &str, target: &str) -> Result<Route, Refusal> {
    if method != "POST" {
        return Ok(Route::Other);
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let path = decode(path, false)?;
    Ok(match strip_version(&path) {
        "/containers/create" | "/volumes/create" | "/networks/create" | "/commit" => {
            Route::LabelBody
        }
        "/build" => Route::Build,
        p if p.starts_with("/images/") && p.ends_with("/tag") => match tag_reference(query)? {
            Some(reference) => Route::Tag(reference),
            None => Route::Other,
        },
        _ => Route::Other,
    })
}

/// `/v1.41/build` → `/build`: the daemon serves every path with and
/// without a version.
fn strip_version(path: &str) -> &str {
    let Some(rest) = path.strip_prefix("/v") else {
        return path;
    };
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    if end > 0 && rest[end..].starts_with('/') {
        &rest[end..]
    } else {
        path
    }
}

/// The reference `POST /images/{name}/tag?repo=R&tag=T` adds: `R:T`, the
/// tag `latest` when not given; `None` without a repository (the daemon
/// refuses that).
fn tag_reference(query: &str) -> Result<Option<String>, Refusal> {
    let (mut repo, mut tag) = (None, None);
    for (key, value) in pairs(query)? {
        match key.as_str() {
            "repo" if repo.is_none() => repo = Some(value),
            "tag" if tag.is_none() => tag = Some(value),
            _ => {}
        }
    }
    Ok(repo.filter(|r| !r.is_empty()).map(|repo| {
        let tag = tag.filter(|t| !t.is_empty());
        format!("{repo}:{}", tag.as_deref().unwrap_or("latest"))
    }))
}

/// Merges `labels` into a JSON body's `Labels` (ours win over the client's),
/// whatever the case of the key the client used (the daemon's decoder
/// ignores case). An empty or `null` body (`docker commit`) becomes an
/// object with only the labels.
pub(super) fn label_body(
    body: &[u8],
    labels: &HashMap<String, String>,
) -> Result<Vec<u8>, Refusal> {
    let mut value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(body)
            .or_else(|e| refuse(format!("the request body is not JSON: {e}")))?
    };
    if value.is_null() {
        value = Value::Object(Map::new());
    }
    let Value::Object(object) = &mut value else {
        return refuse("the request body is not a JSON object");
    };
    let keys: Vec<String> = object
        .keys()
        .filter(|k| k.eq_ignore_ascii_case("labels"))
        .cloned()
        .collect();
    let mut merged = Map::new();
    for key in keys {
        match object.remove(&key) {
            Some(Value::Object(theirs)) => merged.extend(theirs),
            Some(Value::Null) | None => {}
            Some(_) => return refuse("`Labels` is not a JSON object"),
        }
    }
    for (k, v) in labels {
        merged.insert(k.clone(), Value::String(v.clone()));
    }
    object.insert("Labels".to_string(), Value::Object(merged));
    serde_json::to_vec(&value).or_else(|e| refuse(format!("cannot encode the body: {e}")))
}

/// A build's query with the labels merged in, and whether the client asked
/// for quiet output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BuildQuery {
    /// Sent to the daemon instead of the client's: every `labels` and `q`
    /// removed, the merged `labels` appended. The daemon is always asked for
    /// its full output, whose layer lines the proxy reads.
    pub query: String,
    pub quiet: bool,
}

/// Rewrites a build's query (the part after `?`). The daemon reads the
/// first `labels` and the first `q`; every other parameter is kept as sent.
pub(super) fn label_build_query(
    query: &str,
    labels: &HashMap<String, String>,
) -> Result<BuildQuery, Refusal> {
    let mut kept = Vec::new();
    let mut theirs: Option<String> = None;
    let mut quiet: Option<bool> = None;
    for raw in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = raw.split_once('=').unwrap_or((raw, ""));
        match decode(key, true)?.as_str() {
            "labels" => {
                let value = decode(value, true)?;
                theirs.get_or_insert(value);
            }
            "q" => {
                let value = decode(value, true)?;
                quiet.get_or_insert(truthy(&value));
            }
            _ => kept.push(raw),
        }
    }
    let mut merged: HashMap<String, String> = match theirs.as_deref().map(str::trim) {
        None | Some("" | "null") => HashMap::new(),
        Some(json) => serde_json::from_str(json)
            .or_else(|e| refuse(format!("the build's labels are not a JSON map: {e}")))?,
    };
    merged.extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    let json =
        serde_json::to_string(&merged).or_else(|e| refuse(format!("cannot encode labels: {e}")))?;
    let labels = format!("labels={}", encode(&json));
    kept.push(&labels);
    Ok(BuildQuery {
        query: kept.join("&"),
        quiet: quiet.unwrap_or(false),
    })
}

/// The daemon's reading of a boolean query parameter.
fn truthy(value: &str) -> bool {
    let v = value.trim().to_ascii_lowercase();
    !matches!(v.as_str(), "" | "0" | "no" | "false" | "none")
}

/// Decoded `key=value` pairs of a query.
fn pairs(query: &str) -> Result<Vec<(String, String)>, Refusal> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Ok((decode(k, true)?, decode(v, true)?))
        })
        .collect()
}

/// Percent-decodes (and, in a query, `+` to space). A malformed escape is
/// refused: the daemon would skip that parameter, and the proxy must read
/// the request exactly as the daemon does.
fn decode(s: &str, query: bool) -> Result<String, Refusal> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                let Some(b) = hex else {
                    return refuse(format!("malformed percent escape in {s:?}"));
                };
                out.push(b);
                i += 3;
            }
            b'+' if query => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).or_else(|_| refuse(format!("{s:?} does not decode to UTF-8")))
}

/// Percent-encodes a query value as Go's `url.QueryEscape` does.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The head sent to the daemon: the client's, with `target`, and
/// `Connection: close` so that each connection carries one request (every
/// request is seen by the proxy; an `Upgrade` header is kept, and the daemon
/// hijacks on it alone). With `body_length` the body was rewritten: its
/// framing becomes that `Content-Length`.
pub(super) fn forward_head(
    request: &httparse::Request<'_, '_>,
    target: &str,
    body_length: Option<usize>,
) -> Vec<u8> {
    let method = request.method.unwrap_or("GET");
    let version = request.version.unwrap_or(1);
    let mut head = format!("{method} {target} HTTP/1.{version}\r\n").into_bytes();
    for h in request.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        let hop = matches!(
            name.as_str(),
            "connection" | "keep-alive" | "proxy-connection"
        );
        let framing = matches!(name.as_str(), "content-length" | "transfer-encoding");
        if hop || (framing && body_length.is_some()) {
            continue;
        }
        head.extend_from_slice(h.name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(h.value);
        head.extend_from_slice(b"\r\n");
    }
    if let Some(n) = body_length {
        head.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes());
    }
    head.extend_from_slice(b"Connection: close\r\n\r\n");
    head
}

/// A `POST /build` or tag request whose parameters the daemon would read
/// from a form body rather than from the query is refused: the proxy reads
/// the query only.
pub(super) fn require_query_parameters(request: &httparse::Request<'_, '_>) -> Result<(), Refusal> {
    let form = request.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("content-type") && {
            let v = String::from_utf8_lossy(h.value).to_ascii_lowercase();
            v.starts_with("application/x-www-form-urlencoded")
                || v.starts_with("multipart/form-data")
        }
    });
    if form {
        refuse("form-encoded parameters are not supported by the replay proxy")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours() -> HashMap<String, String> {
        crate::names::labels("run1")
    }

    fn json(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).expect("JSON")
    }

    #[test]
    fn creating_paths_are_recognised_with_or_without_a_version() {
        for target in [
            "/containers/create",
            "/v1.41/containers/create?name=hello",
            "/v1.24/volumes/create",
            "/v1.41/networks/create",
            "/v1.41/commit?container=abc&repo=x",
            "/v1.41/containers%2Fcreate",
        ] {
            assert_eq!(route("POST", target), Ok(Route::LabelBody), "{target}");
        }
        assert_eq!(route("POST", "/v1.41/build?t=x"), Ok(Route::Build));
        assert_eq!(route("POST", "/build"), Ok(Route::Build));
        assert_eq!(route("GET", "/v1.41/containers/create"), Ok(Route::Other));
        assert_eq!(
            route("POST", "/v1.41/containers/abc/start"),
            Ok(Route::Other)
        );
        assert_eq!(
            route("POST", "/v1.41/images/create?fromImage=busybox"),
            Ok(Route::Other)
        );
        assert_eq!(route("POST", "/vx/containers/create"), Ok(Route::Other));
        assert_eq!(route("POST", "/v1.41containers/create"), Ok(Route::Other));
        assert!(route("POST", "/v1.41/containers%zzcreate").is_err());
    }

    #[test]
    fn tags_are_recorded_as_references() {
        let tag = |t: &str| route("POST", t).expect("route");
        assert_eq!(
            tag("/v1.41/images/busybox:1.35/tag?repo=mine&tag=v1"),
            Route::Tag("mine:v1".into())
        );
        assert_eq!(
            tag("/images/sha256:abc/tag?repo=localhost%3A5000%2Fteam%2Fapp"),
            Route::Tag("localhost:5000/team/app:latest".into())
        );
        assert_eq!(
            tag("/v1.41/images/a/b/tag?tag=&repo=x"),
            Route::Tag("x:latest".into())
        );
        assert_eq!(tag("/v1.41/images/busybox/tag?tag=v1"), Route::Other);
    }

    #[test]
    fn body_labels_are_merged_and_ours_win() {
        let body = br#"{"Image":"busybox:1.35","Labels":{"mine":"1","io.dockgrade.run":"forged"},"HostConfig":{"Memory":1073741824}}"#;
        let out = json(&label_body(body, &ours()).expect("labelled"));
        assert_eq!(out["Labels"]["mine"], "1");
        assert_eq!(out["Labels"]["io.dockgrade"], "1");
        assert_eq!(out["Labels"]["io.dockgrade.run"], "run1");
        assert_eq!(out["Image"], "busybox:1.35");
        assert_eq!(out["HostConfig"]["Memory"], 1_073_741_824_u64);

        // Missing, null, or in another case: one `Labels` with ours.
        for body in [
            &br#"{"Name":"v"}"#[..],
            br#"{"Name":"v","Labels":null}"#,
            br#"{"Name":"v","labels":{"a":"b"}}"#,
        ] {
            let out = json(&label_body(body, &ours()).expect("labelled"));
            assert_eq!(out["Labels"]["io.dockgrade.run"], "run1");
            assert!(out.get("labels").is_none(), "{out}");
        }
        // `docker commit` without a config sends `null`.
        let out = json(&label_body(b"null\n", &ours()).expect("labelled"));
        assert_eq!(out, serde_json::json!({ "Labels": ours() }));
        assert_eq!(json(&label_body(b"", &ours()).expect("labelled")), out);
    }

    #[test]
    fn bodies_that_cannot_be_labelled_are_refused() {
        assert!(label_body(b"[1,2]", &ours()).is_err());
        assert!(label_body(b"{not json", &ours()).is_err());
        assert!(label_body(br#"{"Labels":["a"]}"#, &ours()).is_err());
    }

    #[test]
    fn build_labels_are_merged_into_the_query_and_quiet_is_noted() {
        let mine = encode(r#"{"mine":"1"}"#);
        let q = label_build_query(&format!("t=app%3Av1&q=1&labels={mine}&rm=1"), &ours())
            .expect("rewritten");
        assert!(q.quiet);
        assert!(
            q.query.starts_with("t=app%3Av1&rm=1&labels="),
            "{}",
            q.query
        );
        let labels = pairs(&q.query).expect("pairs");
        assert_eq!(labels.iter().filter(|(k, _)| k == "labels").count(), 1);
        assert!(!labels.iter().any(|(k, _)| k == "q"));
        let merged: HashMap<String, String> =
            serde_json::from_str(&labels.last().expect("labels").1).expect("map");
        assert_eq!(merged["mine"], "1");
        assert_eq!(merged["io.dockgrade.run"], "run1");

        let q = label_build_query("t=x&labels=null&q=false", &ours()).expect("rewritten");
        assert!(!q.quiet);
        let q = label_build_query("", &ours()).expect("rewritten");
        assert!(!q.quiet);
        assert!(q.query.starts_with("labels=%7B"), "{}", q.query);
        assert!(label_build_query("labels=%5B1%5D", &ours()).is_err());
        assert!(label_build_query("labels=%zz", &ours()).is_err());
    }

    #[test]
    fn the_forwarded_head_closes_the_connection_and_reframes_a_rewritten_body() {
        let raw = b"POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\n\
            Connection: keep-alive\r\nTransfer-Encoding: chunked\r\nUpgrade: tcp\r\n\r\n";
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut request = httparse::Request::new(&mut headers);
        request.parse(raw).expect("parses");
        let head = String::from_utf8(forward_head(&request, "/v1.41/containers/create", Some(42)))
            .expect("text");
        assert_eq!(
            head,
            "POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nUpgrade: tcp\r\n\
             Content-Length: 42\r\nConnection: close\r\n\r\n"
        );
        let head = String::from_utf8(forward_head(&request, "/x", None)).expect("text");
        assert!(head.contains("Transfer-Encoding: chunked\r\n"), "{head}");
        assert!(!head.contains("keep-alive"), "{head}");
    }

    #[test]
    fn query_values_round_trip_through_the_encoding() {
        let s = r#"{"a b":"c&d=e/f+%"}"#;
        assert_eq!(decode(&encode(s), true).expect("decodes"), s);
        assert_eq!(decode("a+b", false).expect("decodes"), "a+b");
    }
}
