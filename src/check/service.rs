//! Assertions that ask a service: what a request answered (`http`) and
//! how much a path of the service holds (`disk`), compared with what was
//! measured when an earlier step had finished.

use super::run::text_match;
use super::{Assessed, Finding, Status, excerpt};
use crate::observation::{HttpAnswer, Observations, StepObservation, expand};
use crate::spec::{DiskExpectation, HttpExpectation, JsonExpectation, TextMatcher};
use crate::units::format_size;

/// `http`: the status, headers, JSON and body of the answer.
pub(super) fn http(want: &HttpExpectation, step: &StepObservation, obs: &Observations) -> Assessed {
    let Some(request) = &want.request else {
        return Err((Status::Error, "the check names no request".into()));
    };
    let answer: &HttpAnswer = match step.http.get(request) {
        Some(Ok(answer)) => answer,
        Some(Err(failure)) => {
            let status = if failure.students {
                Status::Failed
            } else {
                Status::Error
            };
            return Err((
                status,
                format!("{} {}: {}", request.method, request.path, failure.why),
            ));
        }
        None => return Err(super::unavailable(step)),
    };
    let mut ok = true;
    let mut expected = Vec::new();
    let mut actual = vec![format!("{} answered {}", answer.request, answer.status)];
    if !want.status.is_empty() {
        ok &= want.status.contains(&answer.status);
        let codes: Vec<String> = want.status.iter().map(u16::to_string).collect();
        expected.push(format!("status {}", codes.join(" or ")));
    }
    for (name, matcher) in &want.header {
        let matcher = resolved(matcher, obs)?;
        let value = answer.headers.get(name);
        let (good, wanted, _) = text_match(&matcher, value.map_or("", String::as_str));
        ok &= good && value.is_some();
        expected.push(format!("header {name} {wanted}"));
        actual.push(match value {
            Some(v) => format!("{name}: {}", excerpt(v)),
            None => format!("no {name} header"),
        });
    }
    if let Some(j) = &want.json {
        let fill =
            |v: &Option<serde_json::Value>| -> Result<Option<serde_json::Value>, (Status, String)> {
                Ok(match v {
                    Some(serde_json::Value::String(t)) => Some(serde_json::Value::String(
                        expand(t, obs)
                            .map_err(|why| (Status::Skipped, format!("not run: {why}")))?,
                    )),
                    other => other.clone(),
                })
            };
        let j = JsonExpectation {
            pointer: j.pointer.clone(),
            equals: fill(&j.equals)?,
            contains: fill(&j.contains)?,
        };
        let (good, wanted, seen) = json(&j, &answer.body);
        ok &= good;
        expected.push(wanted);
        actual.push(seen);
    }
    if let Some(m) = &want.body {
        let matcher = resolved(m, obs)?;
        let (good, wanted, _) = text_match(&matcher, &answer.body);
        ok &= good;
        expected.push(format!("a body {wanted}"));
    }
    // A failure shows what the service said: its body is the explanation.
    if !ok {
        actual.push(format!("body {}", excerpt(&answer.body)));
    }
    Ok(Finding::new(
        ok,
        "http",
        expected.join(", "),
        actual.join("; "),
    ))
}

/// A matcher with its placeholders filled in from earlier steps.
fn resolved(m: &TextMatcher, obs: &Observations) -> Result<TextMatcher, (Status, String)> {
    let fill = |t: &Option<String>| -> Result<Option<String>, (Status, String)> {
        t.as_deref()
            .map(|t| expand(t, obs).map_err(|why| (Status::Skipped, format!("not run: {why}"))))
            .transpose()
    };
    Ok(TextMatcher {
        equals: fill(&m.equals)?,
        contains: fill(&m.contains)?,
        ..m.clone()
    })
}

/// `json`: the value at a pointer equals, or contains, the one given.
fn json(want: &JsonExpectation, body: &str) -> (bool, String, String) {
    let mut expected = Vec::new();
    if let Some(e) = &want.equals {
        expected.push(format!("{} = {e}", want.pointer));
    }
    if let Some(c) = &want.contains {
        expected.push(format!("{} containing {c}", want.pointer));
    }
    let expected = format!("JSON with {}", expected.join(" and "));
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(body) else {
        return (false, expected, "a body that is not JSON".into());
    };
    let Some(found) = doc.pointer(&want.pointer) else {
        return (false, expected, format!("nothing at {}", want.pointer));
    };
    let mut ok = true;
    if let Some(e) = &want.equals {
        ok &= found == e;
    }
    if let Some(c) = &want.contains {
        ok &= match (found, c) {
            (serde_json::Value::Array(items), c) => items.contains(c),
            (serde_json::Value::String(s), serde_json::Value::String(c)) => s.contains(c.as_str()),
            _ => false,
        };
    }
    let shown: String = found.to_string().chars().take(200).collect();
    (ok, expected, format!("{} = {shown}", want.pointer))
}

/// `disk`: bytes under a service's path, against a bound or against what
/// was measured when another step had finished.
pub(super) fn disk(want: &DiskExpectation, step: &StepObservation, obs: &Observations) -> Assessed {
    let measured = |s: &StepObservation| -> Result<u64, (Status, String)> {
        match s.disk.get(&want.probe) {
            Some(Ok(bytes)) => Ok(*bytes),
            Some(Err(why)) => Err((
                Status::Error,
                format!(
                    "measuring {} of service `{}`: {why}",
                    want.probe.path, want.probe.service
                ),
            )),
            None => Err(super::unavailable(s)),
        }
    };
    let now = measured(step)?;
    let what = format!("bytes under {}", want.probe.path);
    let mut ok = true;
    let mut expected = Vec::new();
    let mut actual = format!("{} now", format_size(now));
    if let Some(max) = want.max {
        ok &= now <= max;
        expected.push(format!("at most {}", format_size(max)));
    }
    for (since, by, grew) in [
        want.grew_since.as_ref().map(|(s, b)| (s, *b, true)),
        want.shrank_since.as_ref().map(|(s, b)| (s, *b, false)),
    ]
    .into_iter()
    .flatten()
    {
        let Some(then_step) = obs.steps.get(since) else {
            return Err((Status::Skipped, format!("step `{since}` was not run")));
        };
        let then = measured(then_step).map_err(|(status, why)| {
            (status, format!("cannot compare with step `{since}`: {why}"))
        })?;
        let change = now as i128 - then as i128;
        if grew {
            ok &= change >= by as i128;
            expected.push(format!(
                "at least {} more than after `{since}`",
                format_size(by)
            ));
        } else {
            ok &= -change >= by as i128;
            expected.push(format!(
                "at least {} less than after `{since}`",
                format_size(by)
            ));
        }
        let moved = format_size(change.unsigned_abs() as u64);
        actual.push_str(&format!(
            ", {} after `{since}` ({})",
            format_size(then),
            match change.cmp(&0) {
                std::cmp::Ordering::Greater => format!("{moved} more"),
                std::cmp::Ordering::Less => format!("{moved} less"),
                std::cmp::Ordering::Equal => "unchanged".to_string(),
            }
        ));
    }
    Ok(Finding::new(ok, what, expected.join(" and "), actual))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::{PushFacts, StepStatus};
    use crate::spec::{DiskProbe, HttpRequest};
    use std::collections::BTreeMap;

    fn request(path: &str) -> HttpRequest {
        HttpRequest {
            service: "registry".into(),
            port: None,
            method: "HEAD".into(),
            path: path.into(),
            headers: BTreeMap::new(),
        }
    }

    fn answered(
        path: &str,
        status: u16,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (StepObservation, Observations) {
        let mut step = StepObservation::new("gc", StepStatus::Done);
        step.http.insert(
            request(path),
            Ok(HttpAnswer {
                request: format!("HEAD {path}"),
                status,
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                body: body.into(),
            }),
        );
        let mut obs = Observations::default();
        let mut push = StepObservation::new("push-v2", StepStatus::Done);
        push.push = Some(PushFacts {
            digest: "sha256:v2".into(),
            layers: vec!["sha256:base".into(), "sha256:top2".into()],
            references: Vec::new(),
        });
        obs.steps.insert("push-v2".into(), push);
        (step, obs)
    }

    #[test]
    fn a_status_other_than_the_one_wanted_fails_and_shows_the_body() {
        let path = "/v2/course/app/blobs/{push-v2.layers[-1]}";
        let (step, obs) = answered(path, 200, &[], "still here");
        let want = HttpExpectation {
            request: Some(request(path)),
            status: vec![404],
            ..Default::default()
        };
        let f = http(&want, &step, &obs).unwrap();
        assert!(!f.ok);
        assert_eq!(f.expected, "status 404");
        assert!(f.actual.contains("answered 200"), "{}", f.actual);
        assert!(f.actual.contains("still here"), "{}", f.actual);
    }

    #[test]
    fn a_header_is_compared_with_a_digest_an_earlier_push_recorded() {
        let path = "/v2/course/app/manifests/latest";
        let (step, obs) = answered(path, 200, &[("docker-content-digest", "sha256:v2")], "");
        let mut header = BTreeMap::new();
        header.insert(
            "docker-content-digest".to_string(),
            TextMatcher {
                equals: Some("{push-v2.digest}".into()),
                ..Default::default()
            },
        );
        let want = HttpExpectation {
            request: Some(request(path)),
            status: vec![200],
            header,
            ..Default::default()
        };
        assert!(http(&want, &step, &obs).unwrap().ok);
        let (step, obs) = answered(path, 200, &[("docker-content-digest", "sha256:v1")], "");
        let f = http(&want, &step, &obs).unwrap();
        assert!(!f.ok);
        assert!(f.expected.contains("sha256:v2"), "{}", f.expected);
    }

    #[test]
    fn json_pointers_find_array_elements_and_values() {
        let want = JsonExpectation {
            pointer: "/tags".into(),
            equals: None,
            contains: Some(serde_json::json!("2.0")),
        };
        assert!(json(&want, r#"{"name":"course/app","tags":["2.0","latest"]}"#).0);
        assert!(!json(&want, r#"{"tags":["1.0"]}"#).0);
        assert!(!json(&want, "not json").0);
        assert_eq!(json(&want, "{}").2, "nothing at /tags");
    }

    fn measured(step: &str, bytes: u64) -> StepObservation {
        let mut o = StepObservation::new(step, StepStatus::Done);
        o.disk.insert(probe(), Ok(bytes));
        o
    }

    fn probe() -> DiskProbe {
        DiskProbe {
            service: "registry".into(),
            path: "/var/lib/registry".into(),
        }
    }

    #[test]
    fn disk_shrinkage_is_measured_against_an_earlier_step() {
        let mut obs = Observations::default();
        obs.steps
            .insert("push-v2".into(), measured("push-v2", 5_000_000));
        let want = DiskExpectation {
            probe: probe(),
            max: None,
            grew_since: None,
            shrank_since: Some(("push-v2".into(), 1_000_000)),
        };
        let f = disk(&want, &measured("gc", 2_900_000), &obs).unwrap();
        assert!(f.ok, "{}", f.actual);
        let f = disk(&want, &measured("gc", 4_500_000), &obs).unwrap();
        assert!(!f.ok);
        assert!(f.actual.contains("less"), "{}", f.actual);
        let f = disk(&want, &measured("gc", 5_000_000), &obs).unwrap();
        assert!(f.actual.contains("unchanged"), "{}", f.actual);
    }

    #[test]
    fn a_failed_measurement_is_the_graders_error() {
        let obs = Observations::default();
        let mut step = StepObservation::new("gc", StepStatus::Done);
        step.disk.insert(probe(), Err("no such container".into()));
        let want = DiskExpectation {
            probe: probe(),
            max: Some(1),
            grew_since: None,
            shrank_since: None,
        };
        assert_eq!(disk(&want, &step, &obs).unwrap_err().0, Status::Error);
    }
}
