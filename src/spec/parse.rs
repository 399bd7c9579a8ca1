//! TOML text → [`Exercise`], collecting every error with its location.
//!
//! We walk toml's spanned document tree ourselves instead of deriving
//! `Deserialize`: serde stops at the first error, and a student or instructor
//! fixing a spec wants all of a file's mistakes at once, each pointing at the
//! key that is wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::time::Duration;

use regex::Regex;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::units::{parse_duration, parse_size};
use super::*;

/// The default wall-clock limit of a run step.
pub const DEFAULT_RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// The default wall-clock limit of a build (an apt-get install fits easily).
pub const DEFAULT_BUILD_TIMEOUT: Duration = Duration::from_secs(600);
/// The default wall-clock limit of a whole exercise.
pub const DEFAULT_EXERCISE_TIMEOUT: Duration = Duration::from_secs(1800);
/// The default cap on the build context, checked before anything is sent.
pub const DEFAULT_MAX_CONTEXT: u64 = 512_000_000;

/// Parses one exercise file. `file` is the name shown in errors.
pub fn parse_exercise(file: &str, text: &str) -> Result<Exercise, Vec<SpecError>> {
    let mut cx = Cx {
        file,
        text,
        errors: Vec::new(),
    };
    let (doc, syntax_errors) = DeTable::parse_recoverable(text);
    for e in &syntax_errors {
        let span = e.span().unwrap_or(0..0);
        cx.error(span, "", e.message().trim().to_string());
    }
    let exercise = if syntax_errors.is_empty() {
        let root = Obj {
            table: doc.get_ref(),
            path: String::new(),
            span: doc.span(),
        };
        exercise(&mut cx, &root)
    } else {
        None
    };
    let mut errors = cx.errors;
    match exercise {
        Some(ex) if errors.is_empty() => Ok(ex),
        _ => {
            errors.sort_by_key(|e| (e.line, e.column));
            errors.dedup();
            Err(errors)
        }
    }
}

struct Cx<'s> {
    file: &'s str,
    text: &'s str,
    errors: Vec<SpecError>,
}

impl Cx<'_> {
    fn error(&mut self, span: Range<usize>, key: &str, message: impl Into<String>) {
        let offset = span.start.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = self.text[line_start..offset].chars().count() + 1;
        let source_line = self.text[line_start..]
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        self.errors.push(SpecError {
            file: self.file.to_string(),
            line,
            column,
            key: key.to_string(),
            message: message.into(),
            source_line,
        });
    }
}

/// A table being read, with its dotted path for messages.
struct Obj<'a, 'i> {
    table: &'a DeTable<'i>,
    path: String,
    span: Range<usize>,
}

/// A value found under a key: where the key is, and the value.
struct Field<'a, 'i> {
    key_span: Range<usize>,
    path: String,
    value: &'a Spanned<DeValue<'i>>,
}

impl<'a, 'i> Obj<'a, 'i> {
    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn field(&self, key: &str) -> Option<Field<'a, 'i>> {
        self.table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(k, v)| Field {
                key_span: k.span(),
                path: self.child_path(key),
                value: v,
            })
    }

    fn has(&self, key: &str) -> bool {
        self.field(key).is_some()
    }

    /// Reports every key not in `allowed`, suggesting the closest allowed one.
    fn only(&self, cx: &mut Cx, allowed: &[&str]) {
        for (k, _) in self.table.iter() {
            let name: &str = k.get_ref().as_ref();
            if !allowed.contains(&name) {
                let mut msg = format!("unknown key `{name}`");
                if let Some(best) = closest(name, allowed) {
                    msg.push_str(&format!("; did you mean `{best}`?"));
                } else {
                    msg.push_str(&format!("; expected one of: {}", allowed.join(", ")));
                }
                cx.error(k.span(), &self.child_path(name), msg);
            }
        }
    }

    fn missing(&self, cx: &mut Cx, key: &str) {
        let where_ = if self.path.is_empty() {
            "the exercise".to_string()
        } else {
            format!("`{}`", self.path)
        };
        cx.error(
            self.span.clone(),
            &self.child_path(key),
            format!("missing key `{key}` in {where_}"),
        );
    }
}

fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(name, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn type_name(v: &DeValue) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

impl<'a, 'i> Field<'a, 'i> {
    fn wrong_type(&self, cx: &mut Cx, expected: &str) {
        let found = type_name(self.value.get_ref());
        cx.error(
            self.key_span.clone(),
            &self.path,
            format!("expected {expected}, found {found}"),
        );
    }

    fn invalid(&self, cx: &mut Cx, message: impl Into<String>) {
        cx.error(self.key_span.clone(), &self.path, message);
    }

    fn string(&self, cx: &mut Cx) -> Option<String> {
        match self.value.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                self.wrong_type(cx, "a string");
                None
            }
        }
    }

    fn integer(&self, cx: &mut Cx) -> Option<i64> {
        match self.value.get_ref() {
            DeValue::Integer(i) => {
                match i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
                    Ok(n) => Some(n),
                    Err(_) => {
                        self.invalid(cx, format!("integer {} is out of range", i.as_str()));
                        None
                    }
                }
            }
            _ => {
                self.wrong_type(cx, "an integer");
                None
            }
        }
    }

    fn unsigned(&self, cx: &mut Cx) -> Option<u64> {
        let n = self.integer(cx)?;
        match u64::try_from(n) {
            Ok(n) => Some(n),
            Err(_) => {
                self.invalid(cx, format!("expected a number ≥ 0, found {n}"));
                None
            }
        }
    }

    fn boolean(&self, cx: &mut Cx) -> Option<bool> {
        match self.value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(cx, "true or false");
                None
            }
        }
    }

    fn table(&self, cx: &mut Cx) -> Option<Obj<'a, 'i>> {
        match self.value.get_ref() {
            DeValue::Table(t) => Some(Obj {
                table: t,
                path: self.path.clone(),
                span: self.value.span(),
            }),
            _ => {
                self.wrong_type(cx, "a table");
                None
            }
        }
    }

    fn array(&self, cx: &mut Cx) -> Option<Vec<Field<'a, 'i>>> {
        match self.value.get_ref() {
            DeValue::Array(items) => Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Field {
                        key_span: v.span(),
                        path: format!("{}[{i}]", self.path),
                        value: v,
                    })
                    .collect(),
            ),
            _ => {
                self.wrong_type(cx, "an array");
                None
            }
        }
    }

    fn string_array(&self, cx: &mut Cx) -> Option<Vec<String>> {
        let items = self.array(cx)?;
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            match item.string(cx) {
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn string_map(&self, cx: &mut Cx) -> Option<BTreeMap<String, String>> {
        let obj = self.table(cx)?;
        let mut out = BTreeMap::new();
        for (k, v) in obj.table.iter() {
            let name: &str = k.get_ref().as_ref();
            let f = Field {
                key_span: k.span(),
                path: obj.child_path(name),
                value: v,
            };
            let value = match v.get_ref() {
                DeValue::String(s) => Some(s.to_string()),
                DeValue::Integer(i) => Some(i.as_str().to_string()),
                DeValue::Boolean(b) => Some(b.to_string()),
                _ => {
                    f.wrong_type(cx, "a string");
                    None
                }
            };
            if let Some(value) = value {
                out.insert(name.to_string(), value);
            }
        }
        Some(out)
    }

    fn size(&self, cx: &mut Cx) -> Option<u64> {
        match self.value.get_ref() {
            DeValue::Integer(_) => self.unsigned(cx),
            DeValue::String(s) => match parse_size(s) {
                Ok(n) => Some(n),
                Err(e) => {
                    self.invalid(cx, e);
                    None
                }
            },
            _ => {
                self.wrong_type(cx, "a size (bytes, or a string such as \"10 MB\")");
                None
            }
        }
    }

    fn duration(&self, cx: &mut Cx) -> Option<Duration> {
        let text = self.string(cx)?;
        match parse_duration(&text) {
            Ok(d) if d.is_zero() => {
                self.invalid(cx, "a timeout must be longer than zero");
                None
            }
            Ok(d) if d > Duration::from_secs(24 * 3600) => {
                self.invalid(cx, "a timeout must be at most 24h");
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.invalid(cx, e);
                None
            }
        }
    }

    /// A path inside the submission or exercise folder.
    fn rel_path(&self, cx: &mut Cx) -> Option<RelPath> {
        let raw = self.string(cx)?;
        match RelPath::new(&raw) {
            Some(p) => Some(p),
            None => {
                self.invalid(
                    cx,
                    format!("path {raw:?} must stay inside its folder: no absolute path, no `..`"),
                );
                None
            }
        }
    }

    /// An absolute path inside a container.
    fn container_path(&self, cx: &mut Cx) -> Option<String> {
        let raw = self.string(cx)?;
        if raw.starts_with('/') {
            Some(raw)
        } else {
            self.invalid(
                cx,
                format!("container path {raw:?} must be absolute (start with `/`)"),
            );
            None
        }
    }

    fn one_of<T: Copy>(&self, cx: &mut Cx, choices: &[(&str, T)]) -> Option<T> {
        let s = self.string(cx)?;
        match choices.iter().find(|(name, _)| *name == s) {
            Some((_, v)) => Some(*v),
            None => {
                let names: Vec<String> = choices.iter().map(|(n, _)| format!("\"{n}\"")).collect();
                self.invalid(
                    cx,
                    format!("invalid value {s:?}; expected {}", names.join(" or ")),
                );
                None
            }
        }
    }
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
        && s.len() <= 64
}

fn exercise(cx: &mut Cx, root: &Obj) -> Option<Exercise> {
    root.only(
        cx,
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
    let id = required_string(cx, root, "id");
    if let (Some(id), Some(f)) = (&id, root.field("id")) {
        if !is_name(id) {
            f.invalid(
                cx,
                format!("id {id:?} must be lowercase letters, digits, `-`, `_` or `.`"),
            );
        } else if let Some(stem) = file_stem(cx.file)
            && stem != id
        {
            f.invalid(
                cx,
                format!("id {id:?} does not match the file name `{stem}.toml`"),
            );
        }
    }
    let title = required_string(cx, root, "title");
    let section = root.field("section").and_then(|f| match f.value.get_ref() {
        DeValue::Float(x) => Some(x.as_str().to_string()),
        DeValue::Integer(x) => Some(x.as_str().to_string()),
        _ => f.string(cx),
    });
    let description = root
        .field("description")
        .and_then(|f| f.string(cx))
        .unwrap_or_default();
    let timeout = match root.field("timeout") {
        Some(f) => f.duration(cx),
        None => Some(DEFAULT_EXERCISE_TIMEOUT),
    };

    let mut required = Vec::new();
    if let Some(sub) = root.field("submission").and_then(|f| f.table(cx)) {
        sub.only(cx, &["required"]);
        if let Some(items) = sub.field("required").and_then(|f| f.array(cx)) {
            required = items.iter().filter_map(|f| f.rel_path(cx)).collect();
        }
    }

    // Checks are validated against the steps that parsed, so a broken step
    // does not hide the mistakes in the checks below it.
    let mode = match root.field("mode") {
        Some(f) => f.one_of(cx, &[("check", Mode::Check), ("live", Mode::Live)]),
        None => Some(Mode::Check),
    };
    let (steps, declared, steps_ok) = steps(cx, root, mode.unwrap_or(Mode::Check));
    let checks = checks(cx, root, &steps, &declared);
    Some(Exercise {
        id: id?,
        title: title?,
        section,
        description,
        required,
        steps: steps_ok.then_some(steps)?,
        checks: checks?,
        timeout: timeout?,
        fixtures: fixtures(cx, root)?,
        files: None,
        mode: mode?,
    })
}

/// `[[fixtures]]`: files generated before grading.
fn fixtures(cx: &mut Cx, root: &Obj) -> Option<Vec<Fixture>> {
    let Some(field) = root.field("fixtures") else {
        return Some(Vec::new());
    };
    let before = cx.errors.len();
    let mut out = Vec::new();
    let tables: Vec<Obj> = field
        .array(cx)?
        .iter()
        .filter_map(|f| f.table(cx))
        .collect();
    for t in tables {
        t.only(cx, &["path", "size", "content", "text"]);
        let path = match t.field("path") {
            Some(p) => p.rel_path(cx),
            None => {
                t.missing(cx, "path");
                None
            }
        };
        let content = match (t.field("text"), t.field("size")) {
            (Some(text), None) => {
                if let Some(c) = t.field("content") {
                    c.invalid(cx, "`content` goes with `size`, not with `text`");
                }
                text.string(cx).map(FixtureContent::Text)
            }
            (None, Some(size)) => {
                let n = size.size(cx);
                let kind = match t.field("content") {
                    Some(c) => c.one_of(cx, &[("random", true), ("zeros", false)]),
                    None => Some(true),
                };
                match (n, kind) {
                    (Some(n), Some(true)) => Some(FixtureContent::Random(n)),
                    (Some(n), Some(false)) => Some(FixtureContent::Zeros(n)),
                    _ => None,
                }
            }
            _ => {
                cx.error(
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
    (cx.errors.len() == before).then_some(out)
}

/// `limits = { memory = "512 MiB", pids = 256, cpus = 1.5 }`; `pids` only
/// where the daemon can enforce it (runs).
fn limits(cx: &mut Cx, f: Option<Field>, with_pids: bool) -> Option<Limits> {
    let mut limits = Limits::default();
    let Some(f) = f else { return Some(limits) };
    let t = f.table(cx)?;
    t.only(
        cx,
        if with_pids {
            &["memory", "pids", "cpus"]
        } else {
            &["memory", "cpus"]
        },
    );
    let before = cx.errors.len();
    if let Some(m) = t.field("memory").and_then(|m| {
        let bytes = m.size(cx)?;
        // Docker refuses less than 6 MB; the builder's field is 32-bit.
        if !(6_000_000..=(i32::MAX as u64)).contains(&bytes) {
            m.invalid(cx, "memory must be between 6 MB and 2 GiB");
            return None;
        }
        Some(bytes)
    }) {
        limits.memory = m;
    }
    if let Some(p) = t.field("pids").and_then(|p| {
        let n = p.unsigned(cx)?;
        match u32::try_from(n) {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                p.invalid(cx, "pids must be at least 1");
                None
            }
        }
    }) {
        limits.pids = p;
    }
    if let Some(c) = t.field("cpus") {
        let value = match c.value.get_ref() {
            DeValue::Float(x) => x.as_str().parse::<f64>().ok(),
            DeValue::Integer(_) => c.unsigned(cx).map(|n| n as f64),
            _ => {
                c.wrong_type(cx, "a number of CPUs");
                None
            }
        };
        match value {
            Some(v) if v > 0.0 && v <= 64.0 => limits.cpus = v,
            Some(_) => c.invalid(cx, "cpus must be more than 0 and at most 64"),
            None => {}
        }
    }
    (cx.errors.len() == before).then_some(limits)
}

fn file_stem(file: &str) -> Option<&str> {
    let base = file.rsplit(['/', '\\']).next()?;
    base.strip_suffix(".toml")
}

fn required_string(cx: &mut Cx, obj: &Obj, key: &str) -> Option<String> {
    match obj.field(key) {
        Some(f) => f.string(cx),
        None => {
            obj.missing(cx, key);
            None
        }
    }
}

/// Reads `[[key]]`: an array of tables.
fn table_array<'a, 'i>(cx: &mut Cx, root: &Obj<'a, 'i>, key: &str) -> Option<Vec<Obj<'a, 'i>>> {
    let Some(field) = root.field(key) else {
        root.missing(cx, key);
        return None;
    };
    let items = field.array(cx)?;
    if items.is_empty() {
        field.invalid(cx, format!("`{key}` must not be empty"));
        return None;
    }
    Some(items.iter().filter_map(|f| f.table(cx)).collect())
}

/// The steps that parsed, every step name declared, and whether all parsed.
fn steps(cx: &mut Cx, root: &Obj, mode: Mode) -> (Vec<Step>, BTreeSet<String>, bool) {
    let Some(tables) = table_array(cx, root, "steps") else {
        return (Vec::new(), BTreeSet::new(), false);
    };
    let before = cx.errors.len();
    let mut steps: Vec<Step> = Vec::new();
    let mut seen = BTreeSet::new();
    for t in &tables {
        t.only(cx, &["name", "image", "pull", "build", "run", "container"]);
        let name = required_string(cx, t, "name");
        if let (Some(n), Some(f)) = (&name, t.field("name")) {
            if !is_name(n) {
                f.invalid(
                    cx,
                    format!("step name {n:?} must be lowercase letters, digits, `-`, `_` or `.`"),
                );
            } else if !seen.insert(n.clone()) {
                f.invalid(cx, format!("a step named {n:?} already exists"));
            }
        }
        let kinds: Vec<&str> = ["image", "build", "run", "container"]
            .into_iter()
            .filter(|k| t.has(k))
            .collect();
        if kinds.len() != 1 {
            let msg = if kinds.is_empty() {
                "a step needs exactly one of `image`, `build`, `run` or `container`".to_string()
            } else {
                format!(
                    "a step needs exactly one of `image`, `build`, `run` or `container`, found {}",
                    kinds.join(" and ")
                )
            };
            cx.error(t.span.clone(), &t.path, msg);
            continue;
        }
        if kinds[0] != "image"
            && let Some(f) = t.field("pull")
        {
            f.invalid(cx, "`pull` applies to `image` steps only");
        }
        // Live exercises look at the student's daemon; they build and run nothing.
        let misplaced = match (mode, kinds[0]) {
            (Mode::Live, "build" | "run") => {
                Some("a live exercise can only have `image` and `container` steps")
            }
            (Mode::Check, "container") => Some(
                "`container` steps look at the student's own daemon: they need `mode = \"live\"`",
            ),
            _ => None,
        };
        if let (Some(why), Some(f)) = (misplaced, t.field(kinds[0])) {
            f.invalid(cx, why);
            continue;
        }
        let kind = match kinds[0] {
            "image" => image_step(cx, t),
            "container" => t.field("container").and_then(|f| {
                let name = f.string(cx)?;
                if name.is_empty() || name.contains(char::is_whitespace) {
                    f.invalid(cx, format!("invalid container name {name:?}"));
                    return None;
                }
                Some(StepKind::Container { name })
            }),
            "build" => t
                .field("build")
                .and_then(|f| f.table(cx))
                .and_then(|b| build_step(cx, &b)),
            _ => t
                .field("run")
                .and_then(|f| f.table(cx))
                .and_then(|r| run_step(cx, &r, &steps)),
        };
        if let (Some(name), Some(kind)) = (name, kind) {
            steps.push(Step { name, kind });
        }
    }
    let ok = cx.errors.len() == before;
    (steps, seen, ok)
}

fn image_step(cx: &mut Cx, t: &Obj) -> Option<StepKind> {
    let f = t.field("image")?;
    let reference = f.string(cx)?;
    if reference.trim().is_empty() || reference.chars().any(char::is_whitespace) {
        f.invalid(cx, format!("invalid image reference {reference:?}"));
        return None;
    }
    let pull = match t.field("pull") {
        Some(p) => p.one_of(
            cx,
            &[
                ("missing", PullPolicy::Missing),
                ("never", PullPolicy::Never),
                ("always", PullPolicy::Always),
            ],
        )?,
        None => PullPolicy::Missing,
    };
    Some(StepKind::Image { reference, pull })
}

fn build_step(cx: &mut Cx, b: &Obj) -> Option<StepKind> {
    b.only(
        cx,
        &[
            "from",
            "dockerfile",
            "context",
            "target",
            "args",
            "no_cache",
            "network",
            "timeout",
            "limits",
            "max_context",
        ],
    );
    let dockerfile = match b.field("dockerfile") {
        Some(f) => f.rel_path(cx),
        None => RelPath::new("Dockerfile"),
    };
    let context = match b.field("context") {
        Some(f) => f.rel_path(cx),
        None => RelPath::new("."),
    };
    let target = b.field("target").and_then(|f| f.string(cx));
    let args = b
        .field("args")
        .and_then(|f| f.string_map(cx))
        .unwrap_or_default();
    let no_cache = b
        .field("no_cache")
        .and_then(|f| f.boolean(cx))
        .unwrap_or(false);
    let network = match b.field("network") {
        Some(f) => f.one_of(cx, &[("bridge", Network::Bridge), ("none", Network::None)]),
        None => Some(Network::Bridge),
    };
    let timeout = match b.field("timeout") {
        Some(f) => f.duration(cx),
        None => Some(DEFAULT_BUILD_TIMEOUT),
    };
    let limits = limits(cx, b.field("limits"), false);
    let max_context = match b.field("max_context") {
        Some(f) => f.size(cx),
        None => Some(DEFAULT_MAX_CONTEXT),
    };
    let from = match b.field("from") {
        Some(f) => f.one_of(
            cx,
            &[
                ("submission", BuildSource::Submission),
                ("exercise", BuildSource::Exercise),
            ],
        ),
        None => Some(BuildSource::Submission),
    };
    Some(StepKind::Build(BuildStep {
        from: from?,
        dockerfile: dockerfile?,
        context: context?,
        target,
        args,
        no_cache,
        network: network?,
        timeout: timeout?,
        limits: limits?,
        max_context: max_context?,
    }))
}

fn run_step(cx: &mut Cx, r: &Obj, earlier: &[Step]) -> Option<StepKind> {
    r.only(
        cx,
        &[
            "image",
            "cmd",
            "entrypoint",
            "user",
            "env",
            "workdir",
            "network",
            "stdin",
            "mounts",
            "timeout",
            "limits",
        ],
    );
    let image = match r.field("image") {
        None => {
            r.missing(cx, "image");
            None
        }
        Some(f) => f.string(cx).and_then(|name| match earlier.iter().find(|s| s.name == name) {
            Some(s) if !s.kind.yields_image() => {
                f.invalid(cx, format!("step `{name}` is a run step; a run needs an image or a step that makes one"));
                None
            }
            Some(_) => Some(ImageSource::Step(name)),
            None => Some(ImageSource::Reference(name)),
        }),
    };
    let cmd = r.field("cmd").and_then(|f| f.string_array(cx));
    let entrypoint = r.field("entrypoint").and_then(|f| f.string_array(cx));
    let user = r.field("user").and_then(|f| match f.value.get_ref() {
        DeValue::Integer(_) => f.unsigned(cx).map(|n| n.to_string()),
        _ => f.string(cx),
    });
    let env = r
        .field("env")
        .and_then(|f| f.string_map(cx))
        .unwrap_or_default();
    let workdir = r.field("workdir").and_then(|f| f.container_path(cx));
    let network = match r.field("network") {
        Some(f) => f.one_of(cx, &[("none", Network::None), ("bridge", Network::Bridge)]),
        None => Some(Network::None),
    };
    let stdin = r.field("stdin").and_then(|f| f.string(cx));
    let mut mounts = Vec::new();
    if let Some(items) = r.field("mounts").and_then(|f| f.array(cx)) {
        for item in items {
            if let Some(m) = item.table(cx).and_then(|t| mount(cx, &t)) {
                mounts.push(m);
            }
        }
    }
    let timeout = match r.field("timeout") {
        Some(f) => f.duration(cx),
        None => Some(DEFAULT_RUN_TIMEOUT),
    };
    let limits = limits(cx, r.field("limits"), true);
    Some(StepKind::Run(RunStep {
        image: image?,
        cmd,
        entrypoint,
        user,
        env,
        workdir,
        network: network?,
        stdin,
        mounts,
        timeout: timeout?,
        limits: limits?,
    }))
}

fn mount(cx: &mut Cx, t: &Obj) -> Option<Mount> {
    let Some(kind_field) = t.field("type") else {
        t.missing(cx, "type");
        return None;
    };
    #[derive(Clone, Copy)]
    enum K {
        Bind,
        Tmpfs,
        Scratch,
    }
    let kind = kind_field.one_of(
        cx,
        &[
            ("bind", K::Bind),
            ("tmpfs", K::Tmpfs),
            ("scratch", K::Scratch),
        ],
    )?;
    let target = match t.field("target") {
        Some(f) => f.container_path(cx),
        None => {
            t.missing(cx, "target");
            None
        }
    };
    match kind {
        K::Bind => {
            t.only(cx, &["type", "source", "target", "readonly"]);
            let source = match t.field("source") {
                Some(f) => f.rel_path(cx),
                None => {
                    t.missing(cx, "source");
                    None
                }
            };
            let readonly = t
                .field("readonly")
                .and_then(|f| f.boolean(cx))
                .unwrap_or(false);
            Some(Mount::Bind {
                source: source?,
                target: target?,
                readonly,
            })
        }
        K::Tmpfs => {
            t.only(cx, &["type", "target"]);
            Some(Mount::Tmpfs { target: target? })
        }
        K::Scratch => {
            t.only(cx, &["type", "target"]);
            Some(Mount::Scratch { target: target? })
        }
    }
}

const ASSERTIONS: [&str; 12] = [
    "container",
    "build",
    "size",
    "layers",
    "files",
    "file",
    "config",
    "user",
    "context",
    "exit_code",
    "stdout",
    "stderr",
];

fn checks(
    cx: &mut Cx,
    root: &Obj,
    steps: &[Step],
    declared: &BTreeSet<String>,
) -> Option<Vec<Check>> {
    let tables = table_array(cx, root, "checks")?;
    let before = cx.errors.len();
    let mut out = Vec::new();
    for t in &tables {
        let mut allowed = vec!["name", "step", "points", "hint"];
        allowed.extend(ASSERTIONS);
        t.only(cx, &allowed);
        let name = required_string(cx, t, "name");
        let step = match t.field("step") {
            None => {
                t.missing(cx, "step");
                None
            }
            Some(f) => f
                .string(cx)
                .and_then(|s| match steps.iter().find(|st| st.name == s) {
                    Some(st) => Some(st),
                    None => {
                        // A step with errors of its own is missing from `steps`
                        // and has been reported already.
                        if !declared.contains(&s) {
                            f.invalid(cx, format!("no step named {s:?}"));
                        }
                        None
                    }
                }),
        };
        let points = match t.field("points") {
            Some(f) => f.unsigned(cx).and_then(|p| match u32::try_from(p) {
                Ok(p) => Some(p),
                Err(_) => {
                    f.invalid(cx, "too many points");
                    None
                }
            }),
            None => Some(1),
        };
        let hint = t.field("hint").and_then(|f| f.string(cx));
        let mut assertions = Vec::new();
        for key in ASSERTIONS {
            let Some(f) = t.field(key) else { continue };
            let Some(step) = step else { continue };
            if let Some(a) = assertion(cx, &f, key, step, steps) {
                assertions.push(a);
            }
        }
        if !ASSERTIONS.iter().any(|k| t.has(k)) {
            cx.error(
                t.span.clone(),
                &t.path,
                format!(
                    "a check needs at least one assertion: {}",
                    ASSERTIONS.join(", ")
                ),
            );
        }
        if let (Some(name), Some(step), Some(points)) = (name, step, points) {
            out.push(Check {
                name,
                step: step.name.clone(),
                points,
                hint,
                assertions,
            });
        }
    }
    (cx.errors.len() == before).then_some(out)
}

/// Which step kinds an assertion makes sense on, and what to say otherwise.
fn applies(key: &str, kind: &StepKind) -> Result<(), &'static str> {
    match (key, kind) {
        ("container", StepKind::Container { .. }) => Ok(()),
        ("container", _) => Err("applies to container steps only"),
        (_, StepKind::Container { .. }) => {
            Err("does not apply to container steps; use `container = { … }`")
        }
        ("build" | "context", StepKind::Build(_)) => Ok(()),
        ("build" | "context", _) => Err("applies to build steps only"),
        ("exit_code" | "stdout" | "stderr", StepKind::Run(_)) => Ok(()),
        ("exit_code" | "stdout" | "stderr", _) => Err("applies to run steps only"),
        ("user", _) => Ok(()),
        (_, StepKind::Run(_)) => {
            Err("checks an image; it applies to build and image steps, not run steps")
        }
        _ => Ok(()),
    }
}

fn assertion(cx: &mut Cx, f: &Field, key: &str, step: &Step, steps: &[Step]) -> Option<Assertion> {
    if let Err(why) = applies(key, &step.kind) {
        f.invalid(
            cx,
            format!(
                "`{key}` {why}; step `{}` is {} {} step",
                step.name,
                if matches!(step.kind, StepKind::Image { .. }) {
                    "an"
                } else {
                    "a"
                },
                step.kind.label()
            ),
        );
        return None;
    }
    match key {
        "build" => f
            .one_of(
                cx,
                &[
                    ("succeeds", BuildExpectation::Succeeds),
                    ("fails", BuildExpectation::Fails),
                ],
            )
            .map(Assertion::Build),
        "size" => size_bounds(cx, f, steps).map(Assertion::Size),
        "layers" => {
            let t = f.table(cx)?;
            t.only(cx, &["min", "max", "more_than"]);
            let min = t.field("min").and_then(|f| f.unsigned(cx));
            let max = t.field("max").and_then(|f| f.unsigned(cx));
            let more_than = match t.field("more_than") {
                None => None,
                Some(m) => {
                    let name = m.string(cx)?;
                    match steps.iter().find(|s| s.name == name) {
                        Some(s) if s.kind.yields_image() => Some(name),
                        _ => {
                            m.invalid(cx, format!("no build or image step named {name:?}"));
                            return None;
                        }
                    }
                }
            };
            if min.is_none() && max.is_none() && more_than.is_none() {
                f.invalid(cx, "`layers` needs `min`, `max` or `more_than`");
                return None;
            }
            Some(Assertion::Layers {
                min,
                max,
                more_than,
            })
        }
        "files" => files(cx, f),
        "file" => {
            let t = f.table(cx)?;
            t.only(
                cx,
                &["path", "equals", "contains", "not_contains", "matches"],
            );
            let path = match t.field("path") {
                Some(p) => p.container_path(cx),
                None => {
                    t.missing(cx, "path");
                    None
                }
            };
            let matcher = text_matcher(cx, f, &t)?;
            Some(Assertion::File {
                path: path?,
                matcher,
            })
        }
        "config" => config(cx, f).map(Assertion::Config),
        "user" => {
            let t = f.table(cx)?;
            t.only(cx, &["uid", "not_root"]);
            match (t.field("uid"), t.field("not_root")) {
                (Some(uid), None) => uid
                    .unsigned(cx)
                    .and_then(|u| u32::try_from(u).ok())
                    .map(|u| Assertion::User(UserExpectation::Uid(u))),
                (None, Some(nr)) => match nr.boolean(cx)? {
                    true => Some(Assertion::User(UserExpectation::NotRoot)),
                    false => {
                        nr.invalid(
                            cx,
                            "`not_root = false` asserts nothing; use `uid = 0` to require root",
                        );
                        None
                    }
                },
                _ => {
                    f.invalid(cx, "`user` needs exactly one of `uid` or `not_root`");
                    None
                }
            }
        }
        "context" => {
            let t = f.table(cx)?;
            t.only(cx, &["max"]);
            match t.field("max") {
                Some(m) => m.size(cx).map(|max| Assertion::Context { max }),
                None => {
                    t.missing(cx, "max");
                    None
                }
            }
        }
        "exit_code" => exit_code(cx, f).map(Assertion::ExitCode),
        "container" => container(cx, f).map(Assertion::Container),
        "stdout" | "stderr" => {
            let t = f.table(cx)?;
            t.only(cx, &["equals", "contains", "not_contains", "matches"]);
            let m = text_matcher(cx, f, &t)?;
            Some(if key == "stdout" {
                Assertion::Stdout(m)
            } else {
                Assertion::Stderr(m)
            })
        }
        _ => None,
    }
}

fn size_bounds(cx: &mut Cx, f: &Field, steps: &[Step]) -> Option<SizeBounds> {
    let t = f.table(cx)?;
    t.only(
        cx,
        &[
            "max",
            "min",
            "max_over",
            "min_over",
            "by",
            "smaller_than",
            "larger_than",
        ],
    );
    let mut ok = true;
    let mut image_step = |key: &str, cx: &mut Cx| -> Option<String> {
        let field = t.field(key)?;
        let name = field.string(cx)?;
        match steps.iter().find(|s| s.name == name) {
            Some(s) if s.kind.yields_image() => Some(name),
            Some(_) => {
                field.invalid(
                    cx,
                    format!("step `{name}` is a run step; sizes compare images"),
                );
                ok = false;
                None
            }
            None => {
                field.invalid(cx, format!("no step named {name:?}"));
                ok = false;
                None
            }
        }
    };
    let max_over_step = image_step("max_over", cx);
    let min_over_step = image_step("min_over", cx);
    let smaller_than = image_step("smaller_than", cx);
    let larger_than = image_step("larger_than", cx);
    let by = t.field("by").and_then(|b| b.size(cx));
    if let (Some(b), false) = (t.field("by"), t.has("max_over") || t.has("min_over")) {
        b.invalid(cx, "`by` goes with `max_over` or `min_over`");
        ok = false;
    }
    let bounds = SizeBounds {
        max: t.field("max").and_then(|m| m.size(cx)),
        min: t.field("min").and_then(|m| m.size(cx)),
        max_over: max_over_step.map(|s| (s, by.unwrap_or(0))),
        min_over: min_over_step.map(|s| (s, by.unwrap_or(0))),
        smaller_than,
        larger_than,
    };
    if let (Some(f), true) = (t.field("min_over"), t.has("max_over")) {
        f.invalid(cx, "`max_over` and `min_over` share `by`: write two checks");
        ok = false;
    }
    if ![
        "max",
        "min",
        "max_over",
        "min_over",
        "smaller_than",
        "larger_than",
    ]
    .iter()
    .any(|k| t.has(k))
    {
        f.invalid(
            cx,
            "`size` needs at least one of max, min, max_over, smaller_than, larger_than",
        );
        return None;
    }
    ok.then_some(bounds)
}

fn files(cx: &mut Cx, f: &Field) -> Option<Assertion> {
    let t = f.table(cx)?;
    t.only(cx, &["present", "absent"]);
    let mut present = Vec::new();
    if let Some(items) = t.field("present").and_then(|p| p.array(cx)) {
        for item in items {
            match item.value.get_ref() {
                DeValue::String(_) => {
                    if let Some(path) = item.container_path(cx) {
                        present.push(FileExpectation {
                            path,
                            file_type: None,
                            mode: None,
                            uid: None,
                            gid: None,
                        });
                    }
                }
                DeValue::Table(_) => {
                    let Some(e) = item.table(cx) else { continue };
                    e.only(cx, &["path", "type", "mode", "uid", "gid"]);
                    let path = match e.field("path") {
                        Some(p) => p.container_path(cx),
                        None => {
                            e.missing(cx, "path");
                            None
                        }
                    };
                    let file_type = e.field("type").and_then(|ty| {
                        ty.one_of(
                            cx,
                            &[
                                ("file", FileType::File),
                                ("dir", FileType::Dir),
                                ("symlink", FileType::Symlink),
                            ],
                        )
                    });
                    let mode = e.field("mode").and_then(|m| {
                        let s = m.string(cx)?;
                        match u32::from_str_radix(s.trim_start_matches("0o"), 8) {
                            Ok(v) if v <= 0o7777 => Some(v),
                            _ => {
                                m.invalid(cx, format!("mode {s:?} must be octal, e.g. \"0755\""));
                                None
                            }
                        }
                    });
                    let uid = e.field("uid").and_then(|u| u.unsigned(cx));
                    let gid = e.field("gid").and_then(|g| g.unsigned(cx));
                    if let Some(path) = path {
                        present.push(FileExpectation {
                            path,
                            file_type,
                            mode,
                            uid,
                            gid,
                        });
                    }
                }
                _ => item.wrong_type(cx, "a path or a table { path, type, mode, uid, gid }"),
            }
        }
    }
    let absent = match t.field("absent") {
        Some(a) => a
            .array(cx)?
            .iter()
            .filter_map(|i| i.container_path(cx))
            .collect(),
        None => Vec::new(),
    };
    if present.is_empty() && absent.is_empty() {
        f.invalid(cx, "`files` needs `present` or `absent` paths");
        return None;
    }
    Some(Assertion::Files { present, absent })
}

fn text_matcher(cx: &mut Cx, f: &Field, t: &Obj) -> Option<TextMatcher> {
    let matches = match t.field("matches") {
        Some(m) => {
            let pattern = m.string(cx)?;
            match Regex::new(&pattern) {
                Ok(re) => Some(re),
                Err(e) => {
                    m.invalid(cx, format!("invalid regular expression: {e}"));
                    return None;
                }
            }
        }
        None => None,
    };
    let m = TextMatcher {
        equals: t.field("equals").and_then(|x| x.string(cx)),
        contains: t.field("contains").and_then(|x| x.string(cx)),
        not_contains: t.field("not_contains").and_then(|x| x.string(cx)),
        matches,
    };
    if m.equals.is_none() && m.contains.is_none() && m.not_contains.is_none() && m.matches.is_none()
    {
        f.invalid(
            cx,
            "needs one of `equals`, `contains`, `not_contains`, `matches`",
        );
        return None;
    }
    Some(m)
}

fn config(cx: &mut Cx, f: &Field) -> Option<ConfigExpectation> {
    let t = f.table(cx)?;
    t.only(
        cx,
        &[
            "user",
            "workdir",
            "cmd",
            "entrypoint",
            "env",
            "labels",
            "exposed_ports",
        ],
    );
    let c = ConfigExpectation {
        user: t.field("user").and_then(|x| match x.value.get_ref() {
            DeValue::Integer(_) => x.unsigned(cx).map(|n| n.to_string()),
            _ => x.string(cx),
        }),
        workdir: t.field("workdir").and_then(|x| x.string(cx)),
        cmd: t.field("cmd").and_then(|x| x.string_array(cx)),
        entrypoint: t.field("entrypoint").and_then(|x| x.string_array(cx)),
        env: t
            .field("env")
            .and_then(|x| x.string_map(cx))
            .unwrap_or_default(),
        labels: t
            .field("labels")
            .and_then(|x| x.string_map(cx))
            .unwrap_or_default(),
        exposed_ports: t
            .field("exposed_ports")
            .and_then(|x| x.string_array(cx))
            .unwrap_or_default(),
    };
    if t.table.is_empty() {
        f.invalid(cx, "`config` needs at least one field to compare");
        return None;
    }
    Some(c)
}

fn container(cx: &mut Cx, f: &Field) -> Option<ContainerExpectation> {
    let t = f.table(cx)?;
    t.only(
        cx,
        &["state", "exit_code", "image", "user", "mounts", "ports"],
    );
    let before = cx.errors.len();
    let mut c = ContainerExpectation {
        state: t.field("state").and_then(|x| {
            x.one_of(
                cx,
                &[
                    ("created", "created"),
                    ("running", "running"),
                    ("paused", "paused"),
                    ("restarting", "restarting"),
                    ("exited", "exited"),
                    ("dead", "dead"),
                ],
            )
            .map(str::to_string)
        }),
        exit_code: t.field("exit_code").and_then(|x| x.integer(cx)),
        image: t.field("image").and_then(|x| x.string(cx)),
        user: t.field("user").and_then(|x| x.string(cx)),
        ..Default::default()
    };
    if let Some(items) = t.field("mounts").and_then(|m| m.array(cx)) {
        for item in items {
            let Some(m) = item.table(cx) else { continue };
            m.only(cx, &["target", "type", "source_name", "readonly"]);
            let Some(target) = (match m.field("target") {
                Some(x) => x.container_path(cx),
                None => {
                    m.missing(cx, "target");
                    None
                }
            }) else {
                continue;
            };
            c.mounts.push(MountExpectation {
                target,
                kind: m.field("type").and_then(|x| {
                    x.one_of(
                        cx,
                        &[("bind", "bind"), ("volume", "volume"), ("tmpfs", "tmpfs")],
                    )
                    .map(str::to_string)
                }),
                source_name: m.field("source_name").and_then(|x| x.string(cx)),
                readonly: m.field("readonly").and_then(|x| x.boolean(cx)),
            });
        }
    }
    if let Some(items) = t.field("ports").and_then(|p| p.array(cx)) {
        for item in items {
            let Some(p) = item.table(cx) else { continue };
            p.only(cx, &["container", "host_ip", "host_port"]);
            let Some(container) = (match p.field("container") {
                Some(x) => x.string(cx).map(|s| {
                    if s.contains('/') {
                        s
                    } else {
                        format!("{s}/tcp")
                    }
                }),
                None => {
                    p.missing(cx, "container");
                    None
                }
            }) else {
                continue;
            };
            let host_port = p
                .field("host_port")
                .and_then(|x| x.unsigned(cx))
                .and_then(|n| u16::try_from(n).ok());
            c.ports.push(PortExpectation {
                container,
                host_ip: p.field("host_ip").and_then(|x| x.string(cx)),
                host_port,
            });
        }
    }
    if t.table.is_empty() {
        f.invalid(cx, "`container` needs at least one field to compare");
        return None;
    }
    (cx.errors.len() == before).then_some(c)
}

fn exit_code(cx: &mut Cx, f: &Field) -> Option<ExitExpectation> {
    match f.value.get_ref() {
        DeValue::Integer(_) => f.integer(cx).map(ExitExpectation::Is),
        DeValue::Table(_) => {
            let t = f.table(cx)?;
            t.only(cx, &["not", "in"]);
            match (t.field("not"), t.field("in")) {
                (Some(n), None) => n.integer(cx).map(ExitExpectation::Not),
                (None, Some(i)) => {
                    let items = i.array(cx)?;
                    let codes: Vec<i64> = items.iter().filter_map(|x| x.integer(cx)).collect();
                    if codes.is_empty() {
                        i.invalid(cx, "`in` needs at least one exit code");
                        return None;
                    }
                    (codes.len() == items.len()).then_some(ExitExpectation::In(codes))
                }
                _ => {
                    f.invalid(cx, "`exit_code` table needs exactly one of `not` or `in`");
                    None
                }
            }
        }
        _ => {
            f.wrong_type(cx, "an exit code, { not = N } or { in = [...] }");
            None
        }
    }
}
