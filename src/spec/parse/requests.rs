//! The assertions that ask a service: `http` (a request from the grader and
//! what its answer must be) and `disk` (bytes under a path of a service's
//! container). Both are made when the check's step has finished; the
//! placeholders they use (`{push-v1.digest}`) name earlier push steps.

use std::collections::BTreeMap;

use toml::de::DeValue;

use super::reader::{Diagnostics, Entry, Table};
use crate::spec::{
    Assertion, DiskExpectation, DiskProbe, HttpExpectation, HttpRequest, JsonExpectation,
    Placeholder, Step, StepType, TextMatcher,
};

/// The HTTP methods a check may use: reading ones, and DELETE for the
/// exercises that are about it.
const METHODS: [&str; 3] = ["GET", "HEAD", "DELETE"];

/// `http = { service, method, path, headers, status, header, json, body }`.
pub(super) fn http(
    diag: &mut Diagnostics,
    f: &Entry,
    step: &Step,
    steps: &[Step],
) -> Option<Assertion> {
    let t = f.table(diag)?;
    t.only(
        diag,
        &[
            "service", "port", "method", "path", "headers", "status", "header", "json", "body",
        ],
    );
    let before = diag.count();
    let request = request(diag, &t, step, steps);
    let status = t
        .entry("status")
        .map(|s| statuses(diag, &s))
        .unwrap_or_default();
    let mut header = BTreeMap::new();
    if let Some(h) = t.entry("header").and_then(|h| h.table(diag)) {
        for (name, _) in h.table.iter() {
            let name: &str = name.get_ref().as_ref();
            let Some(m) = h.entry(name) else { continue };
            if let Some(matcher) = matcher(diag, &m, step, steps) {
                header.insert(name.to_ascii_lowercase(), matcher);
            }
        }
    }
    let json = t.entry("json").and_then(|j| json(diag, &j, step, steps));
    let body = t.entry("body").and_then(|b| matcher(diag, &b, step, steps));
    if !["status", "header", "json", "body"]
        .iter()
        .any(|k| t.has(k))
    {
        f.invalid(
            diag,
            "`http` needs at least one of status, header, json, body",
        );
        return None;
    }
    if diag.count() != before {
        return None;
    }
    Some(Assertion::Http(Box::new(HttpExpectation {
        request: Some(request?),
        status,
        header,
        json,
        body,
    })))
}

/// The request of an `http` check: `service`, `port`, `method`, `path`,
/// `headers`.
fn request(diag: &mut Diagnostics, t: &Table, step: &Step, steps: &[Step]) -> Option<HttpRequest> {
    let service = service(diag, t, step, steps, true);
    let port = t
        .entry("port")
        .and_then(|p| super::services::port(diag, &p));
    let asks_a_container = service.as_ref().is_some_and(|name| {
        steps
            .iter()
            .any(|s| &s.name == name && s.kind.step_type() == StepType::Container)
    });
    if asks_a_container && port.is_none() {
        t.missing(diag, "port");
    }
    let method = match t.entry("method") {
        None => Some("GET".to_string()),
        Some(m) => m.string(diag).and_then(|s| {
            let upper = s.to_ascii_uppercase();
            if METHODS.contains(&upper.as_str()) {
                Some(upper)
            } else {
                m.invalid(
                    diag,
                    format!("method {s:?}: expected one of {}", METHODS.join(", ")),
                );
                None
            }
        }),
    };
    let path = match t.entry("path") {
        None => {
            t.missing(diag, "path");
            None
        }
        Some(p) => p.string(diag).and_then(|s| {
            if !s.starts_with('/') || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
                p.invalid(diag, "a request path starts with `/` and has no spaces");
                return None;
            }
            placeholders(diag, &p, &s, step, steps).then_some(s)
        }),
    };
    let headers = t
        .entry("headers")
        .and_then(|h| {
            let map = h.string_map(diag)?;
            let ok = map.values().all(|v| placeholders(diag, &h, v, step, steps));
            ok.then_some(map)
        })
        .unwrap_or_default();
    Some(HttpRequest {
        service: service?,
        port,
        method: method?,
        path: path?,
        headers,
    })
}

/// `service`: a service step that is up when the check's step has finished
/// (declared before it, or the step itself); for `http`, a live exercise's
/// container step too (the student's own service).
fn service(
    diag: &mut Diagnostics,
    t: &Table,
    step: &Step,
    steps: &[Step],
    containers_too: bool,
) -> Option<String> {
    let Some(f) = t.entry("service") else {
        t.missing(diag, "service");
        return None;
    };
    let name = f.string(diag)?;
    let position = |n: &str| steps.iter().position(|s| s.name == n);
    let fits = |kind: StepType| {
        kind == StepType::Service || (containers_too && kind == StepType::Container)
    };
    match (position(&name), position(&step.name)) {
        (Some(i), Some(j)) if fits(steps[i].kind.step_type()) && i <= j => Some(name),
        (Some(i), _) if fits(steps[i].kind.step_type()) => {
            f.invalid(
                diag,
                format!("service `{name}` is declared after step `{}`", step.name),
            );
            None
        }
        _ => {
            f.invalid(diag, format!("no service step named {name:?}"));
            None
        }
    }
}

/// Whether every placeholder in `text` names a push step declared no later
/// than the check's step; says what is wrong otherwise.
fn placeholders(
    diag: &mut Diagnostics,
    f: &Entry,
    text: &str,
    step: &Step,
    steps: &[Step],
) -> bool {
    let found = match Placeholder::scan(text) {
        Ok(found) => found,
        Err(why) => {
            f.invalid(diag, why);
            return false;
        }
    };
    let limit = steps
        .iter()
        .position(|s| s.name == step.name)
        .unwrap_or(steps.len());
    for (_, p) in found {
        let named = steps.iter().take(limit).find(|s| s.name == p.step());
        let (fits, what) = match p {
            Placeholder::Id { .. } => (
                named.is_some_and(|s| s.kind.yields_image()),
                "an image or build step",
            ),
            _ => (
                named.is_some_and(|s| s.kind.step_type() == StepType::Push),
                "a push step",
            ),
        };
        if !fits {
            f.invalid(
                diag,
                format!(
                    "`{{{}.…}}` must name {what} declared before step `{}`",
                    p.step(),
                    step.name
                ),
            );
            return false;
        }
    }
    true
}

/// `status = 200` or `status = [200, 202]`.
fn statuses(diag: &mut Diagnostics, f: &Entry) -> Vec<u16> {
    let items = match f.value.get_ref() {
        DeValue::Array(_) => f.array(diag).unwrap_or_default(),
        _ => Vec::new(),
    };
    let single = (!matches!(f.value.get_ref(), DeValue::Array(_))).then_some(f);
    items
        .iter()
        .chain(single)
        .filter_map(|i| {
            let n = i.unsigned(diag)?;
            match u16::try_from(n) {
                Ok(code) if (100..=599).contains(&code) => Some(code),
                _ => {
                    i.invalid(diag, "an HTTP status is from 100 to 599");
                    None
                }
            }
        })
        .collect()
}

/// A text matcher, or a plain string meaning `equals`; placeholders allowed
/// in `equals` and `contains`.
fn matcher(diag: &mut Diagnostics, f: &Entry, step: &Step, steps: &[Step]) -> Option<TextMatcher> {
    let m = match f.value.get_ref() {
        DeValue::String(_) => TextMatcher {
            equals: Some(f.string(diag)?),
            ..Default::default()
        },
        _ => super::assertions::stream(diag, f)?,
    };
    let ok = [&m.equals, &m.contains]
        .into_iter()
        .flatten()
        .all(|text| placeholders(diag, f, text, step, steps));
    ok.then_some(m)
}

/// `json = { pointer = "/tags", equals = […] }` or `contains = "2.0"`.
fn json(diag: &mut Diagnostics, f: &Entry, step: &Step, steps: &[Step]) -> Option<JsonExpectation> {
    let t = f.table(diag)?;
    t.only(diag, &["pointer", "equals", "contains"]);
    let pointer = match t.entry("pointer") {
        None => {
            t.missing(diag, "pointer");
            None
        }
        Some(p) => p.string(diag).and_then(|s| {
            if s.is_empty() || s.starts_with('/') {
                Some(s)
            } else {
                p.invalid(
                    diag,
                    "a JSON pointer is empty (the whole body) or starts with `/`",
                );
                None
            }
        }),
    };
    let value = |key: &str, diag: &mut Diagnostics| {
        t.entry(key).and_then(|e| match to_json(e.value.get_ref()) {
            Some(v) => Some(v),
            None => {
                e.invalid(
                    diag,
                    "a JSON value: a string, number, boolean, array or table",
                );
                None
            }
        })
    };
    let equals = value("equals", diag);
    let contains = value("contains", diag);
    for (key, v) in [("equals", &equals), ("contains", &contains)] {
        if let (Some(serde_json::Value::String(text)), Some(e)) = (v, t.entry(key))
            && !placeholders(diag, &e, text, step, steps)
        {
            return None;
        }
    }
    if equals.is_none() && contains.is_none() {
        f.invalid(diag, "`json` needs `equals` or `contains`");
        return None;
    }
    Some(JsonExpectation {
        pointer: pointer?,
        equals,
        contains,
    })
}

/// A TOML value as the JSON value it spells.
fn to_json(v: &DeValue) -> Option<serde_json::Value> {
    use serde_json::Value;
    Some(match v {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => Value::from(i.as_str().parse::<i64>().ok()?),
        DeValue::Float(x) => Value::from(x.as_str().parse::<f64>().ok()?),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| to_json(i.get_ref()))
                .collect::<Option<_>>()?,
        ),
        DeValue::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| Some((k.get_ref().to_string(), to_json(v.get_ref())?)))
                .collect::<Option<_>>()?,
        ),
        _ => return None,
    })
}

/// `disk = { service, path, max, grew_since, shrank_since, by }`.
pub(super) fn disk(
    diag: &mut Diagnostics,
    f: &Entry,
    step: &Step,
    steps: &[Step],
) -> Option<Assertion> {
    let t = f.table(diag)?;
    t.only(
        diag,
        &["service", "path", "max", "grew_since", "shrank_since", "by"],
    );
    let before = diag.count();
    let service = service(diag, &t, step, steps, false);
    let path = match t.entry("path") {
        Some(p) => p.container_path(diag),
        None => {
            t.missing(diag, "path");
            None
        }
    };
    let limit = steps.iter().position(|s| s.name == step.name).unwrap_or(0);
    let since = |key: &str, diag: &mut Diagnostics| -> Option<String> {
        let e = t.entry(key)?;
        let name = e.string(diag)?;
        if steps.iter().take(limit).any(|s| s.name == name) {
            Some(name)
        } else {
            e.invalid(
                diag,
                format!("`{key}` names a step declared before step `{}`", step.name),
            );
            None
        }
    };
    let grew = since("grew_since", diag);
    let shrank = since("shrank_since", diag);
    let by = t.entry("by").and_then(|b| b.size(diag)).unwrap_or(0);
    if t.has("grew_since") && t.has("shrank_since") {
        f.invalid(
            diag,
            "`grew_since` and `shrank_since` share `by`: write two checks",
        );
    }
    if let (Some(b), false) = (t.entry("by"), t.has("grew_since") || t.has("shrank_since")) {
        b.invalid(diag, "`by` goes with `grew_since` or `shrank_since`");
    }
    let max = t.entry("max").and_then(|m| m.size(diag));
    if !["max", "grew_since", "shrank_since"]
        .iter()
        .any(|k| t.has(k))
    {
        f.invalid(diag, "`disk` needs `max`, `grew_since` or `shrank_since`");
    }
    if diag.count() != before {
        return None;
    }
    Some(Assertion::Disk(DiskExpectation {
        probe: DiskProbe {
            service: service?,
            path: path?,
        },
        max,
        grew_since: grew.map(|s| (s, by)),
        shrank_since: shrank.map(|s| (s, by)),
    }))
}
