//! The top level of an exercise spec: identity, submission, mode, fixtures.

use toml::de::DeValue;

use super::checks::checks;
use super::is_name;
use super::reader::{Diagnostics, Table, required_string};
use super::steps::steps;
use crate::sandbox::DEFAULT_EXERCISE_TIMEOUT;
use crate::spec::{Exercise, Fixture, FixtureContent, Mode};

/// Reads a whole exercise; `None` when any part of it has an error.
pub(super) fn exercise(diag: &mut Diagnostics, root: &Table) -> Option<Exercise> {
    root.only(
        diag,
        &[
            "id",
            "title",
            "section",
            "description",
            "submission",
            "steps",
            "checks",
            "timeout",
            "fixtures",
            "mode",
        ],
    );
    let id = exercise_id(diag, root);
    let title = required_string(diag, root, "title");
    let section = root.entry("section").and_then(|f| match f.value.get_ref() {
        DeValue::Float(x) => Some(x.as_str().to_string()),
        DeValue::Integer(x) => Some(x.as_str().to_string()),
        _ => f.string(diag),
    });
    let description = root
        .entry("description")
        .and_then(|f| f.string(diag))
        .unwrap_or_default();
    let timeout = match root.entry("timeout") {
        Some(f) => f.duration(diag),
        None => Some(DEFAULT_EXERCISE_TIMEOUT),
    };

    let required = required_files(diag, root);

    // Checks are validated against the steps that parsed, so a broken step
    // does not hide the mistakes in the checks below it.
    let mode = match root.entry("mode") {
        Some(f) => f.one_of(diag, &[("check", Mode::Check), ("live", Mode::Live)]),
        None => Some(Mode::Check),
    };
    let (steps, declared, steps_ok) = steps(diag, root, mode.unwrap_or(Mode::Check));
    let checks = checks(diag, root, &steps, &declared);
    Some(Exercise {
        id: id?,
        title: title?,
        section,
        description,
        required,
        steps: steps_ok.then_some(steps)?,
        checks: checks?,
        timeout: timeout?,
        fixtures: fixtures(diag, root)?,
        files: None,
        mode: mode?,
        warnings: Vec::new(),
    })
}

/// `id`: a valid name, and the name of the file it is in.
fn exercise_id(diag: &mut Diagnostics, root: &Table) -> Option<String> {
    let id = required_string(diag, root, "id");
    if let (Some(id), Some(f)) = (&id, root.entry("id")) {
        if !is_name(id) {
            f.invalid(
                diag,
                format!("id {id:?} must be lowercase letters, digits, `-`, `_` or `.`"),
            );
        } else if let Some(stem) = file_stem(diag.file)
            && stem != id
        {
            f.invalid(
                diag,
                format!("id {id:?} does not match the file name `{stem}.toml`"),
            );
        }
    }
    id
}

/// `[submission] required = [...]`: files the submission must contain.
fn required_files(diag: &mut Diagnostics, root: &Table) -> Vec<crate::spec::RelPath> {
    let mut required = Vec::new();
    if let Some(sub) = root.entry("submission").and_then(|f| f.table(diag)) {
        sub.only(diag, &["required"]);
        if let Some(items) = sub.entry("required").and_then(|f| f.array(diag)) {
            required = items.iter().filter_map(|f| f.rel_path(diag)).collect();
        }
    }

    required
}

/// `[[fixtures]]`: files generated before grading.
fn fixtures(diag: &mut Diagnostics, root: &Table) -> Option<Vec<Fixture>> {
    let Some(field) = root.entry("fixtures") else {
        return Some(Vec::new());
    };
    let before = diag.count();
    let mut out = Vec::new();
    let tables: Vec<Table> = field
        .array(diag)?
        .iter()
        .filter_map(|f| f.table(diag))
        .collect();
    for t in tables {
        t.only(diag, &["path", "size", "content", "text"]);
        let path = match t.entry("path") {
            Some(p) => p.rel_path(diag),
            None => {
                t.missing(diag, "path");
                None
            }
        };
        let content = match (t.entry("text"), t.entry("size")) {
            (Some(text), None) => {
                if let Some(c) = t.entry("content") {
                    c.invalid(diag, "`content` goes with `size`, not with `text`");
                }
                text.string(diag).map(FixtureContent::Text)
            }
            (None, Some(size)) => {
                let n = size.size(diag);
                let kind = match t.entry("content") {
                    Some(c) => c.one_of(diag, &[("random", true), ("zeros", false)]),
                    None => Some(true),
                };
                match (n, kind) {
                    (Some(n), Some(true)) => Some(FixtureContent::Random(n)),
                    (Some(n), Some(false)) => Some(FixtureContent::Zeros(n)),
                    _ => None,
                }
            }
            _ => {
                diag.error(
                    t.span.clone(),
                    &t.path,
                    "a fixture needs exactly one of `size` or `text`",
                );
                None
            }
        };
        if let (Some(path), Some(content)) = (path, content) {
            out.push(Fixture { path, content });
        }
    }
    (diag.count() == before).then_some(out)
}

fn file_stem(file: &str) -> Option<&str> {
    let base = file.rsplit(['/', '\\']).next()?;
    base.strip_suffix(".toml")
}
