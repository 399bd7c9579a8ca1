//! Assertions about a build and the image it made (or an image step's):
//! build result, context, size, layers, files, file content, config.

use super::run::text_match;
use super::{Assessed, Finding, Status, other_image, quote, unavailable};
use crate::observation::{
    FileFacts, FileProbe, FileType, ImageFacts, Observations, StepObservation, StepStatus,
};
use crate::spec::{
    BuildExpectation, ConfigExpectation, FileExpectation, LayerExpectation, SizeBounds, TextMatcher,
};
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

/// `layers`: how many, more than another image, built on another or not.
pub(super) fn layers(want: &LayerExpectation, image: &ImageFacts, obs: &Observations) -> Assessed {
    let mut contents = Vec::new();
    if !want.absent.is_empty() {
        contents.push(super::layers::absent(&want.absent, image)?);
    }
    if !want.present.is_empty() {
        contents.push(super::layers::present(&want.present, image)?);
    }
    let counted = want.min.is_some()
        || want.max.is_some()
        || want.more_than.is_some()
        || want.based_on.is_some()
        || want.not_based_on.is_some();
    if let ([only], false) = (contents.as_slice(), counted) {
        return Ok(only.clone());
    }
    let n = image.layers.len() as u64;
    let mut ok = want.min.is_none_or(|m| n >= m) && want.max.is_none_or(|m| n <= m);
    let mut expected = match (want.min, want.max) {
        (Some(a), Some(b)) if a == b => vec![format!("exactly {a} layers")],
        (Some(a), Some(b)) => vec![format!("between {a} and {b} layers")],
        (Some(a), None) => vec![format!("at least {a} layers")],
        (None, Some(b)) => vec![format!("at most {b} layers")],
        (None, None) => vec![],
    };
    let mut actual = vec![format!("{n} layers")];
    if let Some(other) = &want.more_than {
        let m = other_image(obs, other)?.layers.len() as u64;
        ok &= n > m;
        expected.push(format!("more layers than `{other}` ({m})"));
        actual[0].push_str(&format!(" ({:+} vs `{other}`)", n as i64 - m as i64));
    }
    for (other, wanted) in [(&want.based_on, true), (&want.not_based_on, false)] {
        let Some(other) = other else { continue };
        let base = other_image(obs, other);
        if let Ok(base) = base
            && let Some(why) = image.stages_differ.as_ref().or(base.stages_differ.as_ref())
        {
            return Err((
                Status::Error,
                format!(
                    "cannot compare with `{other}`: the two builds of the Dockerfile stand on \
                     different stages ({why}); another grading built them at the same moment: \
                     grade again"
                ),
            ));
        }
        let on = match &base {
            // Built on an image = that image's layers, in order, come first.
            Ok(base) => image.layers.starts_with(&base.layers),
            // An image that could not be made is one nothing is built on.
            Err((Status::Failed | Status::Skipped, _)) if !wanted => false,
            Err(e) => return Err(e.clone()),
        };
        let count = base.map_or(0, |b| b.layers.len());
        ok &= on == wanted;
        expected.push(if wanted {
            format!("built on `{other}` (its {count} layers first)")
        } else {
            format!("not built on `{other}`")
        });
        actual.push(if on {
            format!("built on `{other}`")
        } else {
            format!("not built on `{other}` (its first layers differ)")
        });
    }
    for a in contents {
        ok &= a.ok;
        expected.push(a.expected);
        actual.push(a.actual);
    }
    Ok(Finding::new(
        ok,
        "layers",
        expected.join(" and "),
        actual.join(", "),
    ))
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
    if !ok && let Some(why) = where_the_bytes_are(bounds, image, obs) {
        actual = format!("{actual}; {why}");
    }
    Ok(Finding::new(
        ok,
        "image size",
        expected.join(" and "),
        actual,
    ))
}

/// A failed size check says where the bytes are: the layers beyond the
/// image it was compared with, largest first.
fn where_the_bytes_are(
    bounds: &SizeBounds,
    image: &ImageFacts,
    obs: &Observations,
) -> Option<String> {
    let reference = [&bounds.max_over, &bounds.min_over]
        .into_iter()
        .flatten()
        .map(|(name, _)| name)
        .chain(bounds.smaller_than.iter())
        .chain(bounds.larger_than.iter())
        .find_map(|name| other_image(obs, name).ok());
    super::layers::grew(image, reference)
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
    // `same` says whether the values mean the same; the texts are shown.
    let mut compare_as = |field: &str, same: bool, e: String, a: String| {
        ok &= same;
        expected.push(format!("{field} {e}"));
        actual.push(format!("{field} {a}"));
    };
    if let Some(u) = &want.user {
        compare_as("USER", u == &have.user, quote(u), quote(&have.user));
    }
    if let Some(w) = &want.workdir {
        let same = directory(w) == directory(&have.workdir);
        compare_as("WORKDIR", same, quote(w), quote(&have.workdir));
    }
    for (field, want, have) in [
        ("CMD", &want.cmd, &have.cmd),
        ("ENTRYPOINT", &want.entrypoint, &have.entrypoint),
    ] {
        if let Some(w) = want {
            let same = have
                .as_ref()
                .is_some_and(|h| command_meaning(w) == command_meaning(h));
            compare_as(field, same, json_list(Some(w)), json_list(have.as_ref()));
        }
    }
    let mut compare = |field: &str, e: String, a: String| {
        let same = e == a;
        compare_as(field, same, e, a)
    };
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

/// A WORKDIR as the folder it names: cleaned, and `/` when unset.
fn directory(path: &str) -> String {
    if path.is_empty() {
        "/".to_string()
    } else {
        crate::dockerignore::clean(path)
    }
}

/// What a CMD or ENTRYPOINT runs. The shell form of a plain command
/// (`CMD ./run.sh --fast`, stored as `["/bin/sh", "-c", "./run.sh --fast"]`)
/// runs the same program with the same arguments as the exec form
/// `["./run.sh", "--fast"]`; anything with shell syntax (quotes, `$`, `;`,
/// `|`, globs, redirections, `VAR=value`) is compared as written.
fn command_meaning(list: &[String]) -> Vec<String> {
    if let [sh, c, script] = list
        && (sh == "/bin/sh" || sh == "sh")
        && c == "-c"
        && !script.trim().is_empty()
        && script
            .chars()
            .all(|ch| ch.is_alphanumeric() || ch == ' ' || "-_./:,+@%".contains(ch))
    {
        return script.split_whitespace().map(str::to_string).collect();
    }
    list.to_vec()
}

fn json_list(v: Option<&Vec<String>>) -> String {
    match v {
        Some(items) => serde_json::to_string(items).unwrap_or_default(),
        None => "unset".into(),
    }
}
