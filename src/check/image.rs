//! Assertions about a build and the image it made (or an image step's):
//! build result, context, size, layers, files, file content, config.

use super::run::text_match;
use super::{Assessed, Finding, Status, other_image, quote, unavailable};
use crate::observation::{
    FileFacts, FileProbe, FileType, ImageFacts, Observations, StepObservation, StepStatus,
};
use crate::spec::{BuildExpectation, ConfigExpectation, FileExpectation, SizeBounds, TextMatcher};
use crate::units::format_size;

/// `build`: the build succeeded or failed, as expected.
pub(super) fn build(expect: BuildExpectation, step: &StepObservation) -> Assessed {
    let Some(build) = &step.build else {
        return Err(unavailable(step));
    };
    if let StepStatus::Error(why) = &step.status {
        return Err((Status::Error, why.clone()));
    }
    let actual = match (&build.error, build.succeeded) {
        (_, true) => "the build succeeded".to_string(),
        (Some(e), false) => format!("the build failed: {e}"),
        (None, false) => "the build failed".to_string(),
    };
    let want = expect == BuildExpectation::Succeeds;
    let expected = if want {
        "the build to succeed"
    } else {
        "the build to fail"
    };
    Ok(Finding::new(
        build.succeeded == want,
        "build",
        expected,
        actual,
    ))
}

/// `context`: the build context sent was at most `max` bytes.
pub(super) fn context(max: u64, step: &StepObservation) -> Assessed {
    let sent = step
        .build
        .as_ref()
        .and_then(|b| b.context_bytes)
        .ok_or_else(|| unavailable(step))?;
    Ok(Finding::new(
        sent <= max,
        "build context",
        format!("at most {}", format_size(max)),
        format!("{} sent", format_size(sent)),
    ))
}

/// `layers`: how many, or more than another image.
pub(super) fn layers(
    min: Option<u64>,
    max: Option<u64>,
    more_than: Option<&str>,
    image: &ImageFacts,
    obs: &Observations,
) -> Assessed {
    let n = image.layers;
    let mut ok = min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m);
    let mut expected = match (min, max) {
        (Some(a), Some(b)) if a == b => vec![format!("exactly {a} layers")],
        (Some(a), Some(b)) => vec![format!("between {a} and {b} layers")],
        (Some(a), None) => vec![format!("at least {a} layers")],
        (None, Some(b)) => vec![format!("at most {b} layers")],
        (None, None) => vec![],
    };
    let mut actual = format!("{n} layers");
    if let Some(other) = more_than {
        let m = other_image(obs, other)?.layers;
        ok &= n > m;
        expected.push(format!("more layers than `{other}` ({m})"));
        actual.push_str(&format!(" ({:+} vs `{other}`)", n as i64 - m as i64));
    }
    Ok(Finding::new(ok, "layers", expected.join(" and "), actual))
}

/// `file`: the content of one file matches.
pub(super) fn file(path: &str, matcher: &TextMatcher, image: &ImageFacts) -> Assessed {
    match image.files.get(path) {
        Some(FileProbe::Found(f)) => match &f.content {
            Some(bytes) => {
                let text = String::from_utf8_lossy(bytes);
                let (ok, expected, actual) = text_match(matcher, &text);
                Ok(Finding::new(
                    ok,
                    format!("content of {path}"),
                    expected,
                    actual,
                ))
            }
            None => Ok(Finding::new(
                false,
                path,
                "a readable regular file",
                "not a regular file",
            )),
        },
        Some(FileProbe::Missing) => Ok(Finding::new(
            false,
            path,
            "the file to exist",
            "no such file",
        )),
        Some(FileProbe::Error(e)) => Err((Status::Error, format!("could not read {path}: {e}"))),
        None => Err((Status::Error, format!("{path} was not probed"))),
    }
}

pub(super) fn size(bounds: &SizeBounds, image: &ImageFacts, obs: &Observations) -> Assessed {
    let n = image.size;
    let mut ok = true;
    let mut expected = Vec::new();
    if let Some(max) = bounds.max {
        ok &= n <= max;
        expected.push(format!("at most {}", format_size(max)));
    }
    if let Some(min) = bounds.min {
        ok &= n >= min;
        expected.push(format!("at least {}", format_size(min)));
    }
    let mut relative = Vec::new();
    if let Some((base, by)) = &bounds.max_over {
        let b = other_image(obs, base)?.size;
        ok &= n <= b.saturating_add(*by);
        expected.push(format!(
            "at most {} over `{base}` ({})",
            format_size(*by),
            format_size(b)
        ));
        relative.push(format!(
            "{} over `{base}`",
            signed_size(n as i128 - b as i128)
        ));
    }
    if let Some((base, by)) = &bounds.min_over {
        let b = other_image(obs, base)?.size;
        ok &= n >= b.saturating_add(*by);
        expected.push(format!(
            "at least {} over `{base}` ({})",
            format_size(*by),
            format_size(b)
        ));
        relative.push(format!(
            "{} over `{base}`",
            signed_size(n as i128 - b as i128)
        ));
    }
    if let Some(other) = &bounds.smaller_than {
        let b = other_image(obs, other)?.size;
        ok &= n < b;
        expected.push(format!("smaller than `{other}` ({})", format_size(b)));
        relative.push(format!(
            "{} vs `{other}`",
            signed_size(n as i128 - b as i128)
        ));
    }
    if let Some(other) = &bounds.larger_than {
        let b = other_image(obs, other)?.size;
        ok &= n > b;
        expected.push(format!("larger than `{other}` ({})", format_size(b)));
        relative.push(format!(
            "{} vs `{other}`",
            signed_size(n as i128 - b as i128)
        ));
    }
    let mut actual = format!("{} ({n} bytes)", format_size(n));
    if !relative.is_empty() {
        actual = format!("{actual}, {}", relative.join(", "));
    }
    Ok(Finding::new(
        ok,
        "image size",
        expected.join(" and "),
        actual,
    ))
}

fn signed_size(delta: i128) -> String {
    let sign = if delta < 0 { "-" } else { "+" };
    format!("{sign}{}", format_size(delta.unsigned_abs() as u64))
}

pub(super) fn files(
    present: &[FileExpectation],
    absent: &[String],
    image: &ImageFacts,
) -> Assessed {
    let mut problems = Vec::new();
    for want in present {
        match image.files.get(&want.path) {
            Some(FileProbe::Found(f)) => problems.extend(differences(want, f)),
            Some(FileProbe::Missing) => problems.push(format!("{} is missing", want.path)),
            Some(FileProbe::Error(e)) => {
                return Err((Status::Error, format!("could not probe {}: {e}", want.path)));
            }
            None => return Err((Status::Error, format!("{} was not probed", want.path))),
        }
    }
    for path in absent {
        match image.files.get(path) {
            Some(FileProbe::Missing) => {}
            Some(FileProbe::Found(f)) => {
                let kind = f.file_type.map_or("special file", FileType::as_str);
                problems.push(format!("{path} is present ({kind})"));
            }
            Some(FileProbe::Error(e)) => {
                return Err((Status::Error, format!("could not probe {path}: {e}")));
            }
            None => return Err((Status::Error, format!("{path} was not probed"))),
        }
    }
    let mut expected = Vec::new();
    if !present.is_empty() {
        expected.push(format!(
            "present: {}",
            present
                .iter()
                .map(|p| p.path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !absent.is_empty() {
        expected.push(format!("absent: {}", absent.join(", ")));
    }
    let actual = if problems.is_empty() {
        "all as expected".to_string()
    } else {
        problems.join(", ")
    };
    Ok(Finding::new(
        problems.is_empty(),
        "files",
        expected.join("; "),
        actual,
    ))
}

/// How a present file differs from what is expected of it.
fn differences(want: &FileExpectation, f: &FileFacts) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(t) = want.file_type
        && f.file_type != Some(t)
    {
        let seen = f.file_type.map_or("special file", FileType::as_str);
        problems.push(format!("{} is a {seen}, not a {}", want.path, t.as_str()));
    }
    if let Some(m) = want.mode
        && f.mode & 0o7777 != m
    {
        problems.push(format!(
            "{} has mode {:04o}, not {m:04o}",
            want.path,
            f.mode & 0o7777
        ));
    }
    if let Some(u) = want.uid
        && f.uid != Some(u)
    {
        problems.push(format!(
            "{} is owned by uid {}, not {u}",
            want.path,
            show_id(f.uid)
        ));
    }
    if let Some(g) = want.gid
        && f.gid != Some(g)
    {
        problems.push(format!("{} has gid {}, not {g}", want.path, show_id(f.gid)));
    }
    problems
}

fn show_id(id: Option<u64>) -> String {
    id.map_or("unknown".to_string(), |i| i.to_string())
}

pub(super) fn config(want: &ConfigExpectation, image: &ImageFacts) -> Assessed {
    let have = &image.config;
    let mut expected = Vec::new();
    let mut actual = Vec::new();
    let mut ok = true;
    let mut compare = |field: &str, e: String, a: String| {
        if e != a {
            ok = false;
        }
        expected.push(format!("{field} {e}"));
        actual.push(format!("{field} {a}"));
    };
    if let Some(u) = &want.user {
        compare("USER", quote(u), quote(&have.user));
    }
    if let Some(w) = &want.workdir {
        compare("WORKDIR", quote(w), quote(&have.workdir));
    }
    if let Some(c) = &want.cmd {
        compare("CMD", json_list(Some(c)), json_list(have.cmd.as_ref()));
    }
    if let Some(e) = &want.entrypoint {
        compare(
            "ENTRYPOINT",
            json_list(Some(e)),
            json_list(have.entrypoint.as_ref()),
        );
    }
    for (k, v) in &want.env {
        let seen = have
            .env
            .iter()
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")).map(str::to_string));
        compare(
            &format!("ENV {k}"),
            quote(v),
            seen.as_deref().map_or("unset".into(), quote),
        );
    }
    for (k, v) in &want.labels {
        compare(
            &format!("LABEL {k}"),
            quote(v),
            have.labels.get(k).map_or("unset".into(), |s| quote(s)),
        );
    }
    for port in &want.exposed_ports {
        let norm = if port.contains('/') {
            port.clone()
        } else {
            format!("{port}/tcp")
        };
        let seen = have.exposed_ports.contains(&norm);
        compare(
            &format!("EXPOSE {norm}"),
            "exposed".into(),
            if seen { "exposed" } else { "not exposed" }.into(),
        );
    }
    Ok(Finding::new(
        ok,
        "image config",
        expected.join(", "),
        actual.join(", "),
    ))
}

fn json_list(v: Option<&Vec<String>>) -> String {
    match v {
        Some(items) => serde_json::to_string(items).unwrap_or_default(),
        None => "unset".into(),
    }
}
