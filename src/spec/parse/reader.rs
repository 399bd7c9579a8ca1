//! A TOML reader that collects errors instead of stopping at the first.
//!
//! [`Diagnostics`] records every problem with the line and column of the
//! offending key; [`Table`] and [`Entry`] walk toml's spanned document tree
//! and read typed values (strings, sizes, durations, paths, choices), each
//! reporting a wrong type or value where it is, so one pass over a spec finds
//! all of its mistakes. Nothing here knows what an exercise is.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::spec::{RelPath, SpecError};
use crate::units::{parse_duration, parse_size};

/// The errors found so far in one file, and the text they point into.
pub(super) struct Diagnostics<'s> {
    pub(super) file: &'s str,
    text: &'s str,
    pub(super) errors: Vec<SpecError>,
    /// What is allowed but likely a mistake; `lint` shows these.
    pub(super) warnings: Vec<SpecError>,
}

impl<'s> Diagnostics<'s> {
    pub(super) fn new(file: &'s str, text: &'s str) -> Self {
        Diagnostics {
            file,
            text,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// How many errors have been found: compare before and after reading a
    /// part to know whether that part was clean.
    pub(super) fn count(&self) -> usize {
        self.errors.len()
    }

    /// Records a warning at the start of `span`, for the key at `key`.
    pub(super) fn warn(&mut self, span: Range<usize>, key: &str, message: impl Into<String>) {
        let warning = self.locate(span, key, message.into());
        self.warnings.push(warning);
    }

    /// Records `message` at the start of `span`, for the key at `key`.
    pub(super) fn error(&mut self, span: Range<usize>, key: &str, message: impl Into<String>) {
        let error = self.locate(span, key, message.into());
        self.errors.push(error);
    }

    /// `message` about the key at `key`, placed at the start of `span`.
    fn locate(&self, span: Range<usize>, key: &str, message: String) -> SpecError {
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
        SpecError {
            file: self.file.to_string(),
            line,
            column,
            key: key.to_string(),
            message,
            source_line,
        }
    }
}

/// A table being read, with its dotted path for messages.
pub(super) struct Table<'a, 'i> {
    pub(super) table: &'a DeTable<'i>,
    pub(super) path: String,
    pub(super) span: Range<usize>,
}

/// A value found under a key: where the key is, and the value.
pub(super) struct Entry<'a, 'i> {
    pub(super) key_span: Range<usize>,
    pub(super) path: String,
    pub(super) value: &'a Spanned<DeValue<'i>>,
}

impl<'a, 'i> Table<'a, 'i> {
    pub(super) fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub(super) fn entry(&self, key: &str) -> Option<Entry<'a, 'i>> {
        self.table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(k, v)| Entry {
                key_span: k.span(),
                path: self.child_path(key),
                value: v,
            })
    }

    pub(super) fn has(&self, key: &str) -> bool {
        self.entry(key).is_some()
    }

    /// Reports every key not in `allowed`, suggesting the closest allowed one.
    pub(super) fn only(&self, diag: &mut Diagnostics, allowed: &[&str]) {
        for (k, _) in self.table.iter() {
            let name: &str = k.get_ref().as_ref();
            if !allowed.contains(&name) {
                let mut msg = format!("unknown key `{name}`");
                if let Some(best) = closest(name, allowed) {
                    msg.push_str(&format!("; did you mean `{best}`?"));
                } else {
                    msg.push_str(&format!("; expected one of: {}", allowed.join(", ")));
                }
                diag.error(k.span(), &self.child_path(name), msg);
            }
        }
    }

    pub(super) fn missing(&self, diag: &mut Diagnostics, key: &str) {
        let where_ = if self.path.is_empty() {
            "the exercise".to_string()
        } else {
            format!("`{}`", self.path)
        };
        diag.error(
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

impl<'a, 'i> Entry<'a, 'i> {
    pub(super) fn wrong_type(&self, diag: &mut Diagnostics, expected: &str) {
        let found = type_name(self.value.get_ref());
        diag.error(
            self.key_span.clone(),
            &self.path,
            format!("expected {expected}, found {found}"),
        );
    }

    pub(super) fn invalid(&self, diag: &mut Diagnostics, message: impl Into<String>) {
        diag.error(self.key_span.clone(), &self.path, message);
    }

    pub(super) fn string(&self, diag: &mut Diagnostics) -> Option<String> {
        match self.value.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                self.wrong_type(diag, "a string");
                None
            }
        }
    }

    pub(super) fn integer(&self, diag: &mut Diagnostics) -> Option<i64> {
        match self.value.get_ref() {
            DeValue::Integer(i) => {
                match i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
                    Ok(n) => Some(n),
                    Err(_) => {
                        self.invalid(diag, format!("integer {} is out of range", i.as_str()));
                        None
                    }
                }
            }
            _ => {
                self.wrong_type(diag, "an integer");
                None
            }
        }
    }

    pub(super) fn unsigned(&self, diag: &mut Diagnostics) -> Option<u64> {
        let n = self.integer(diag)?;
        match u64::try_from(n) {
            Ok(n) => Some(n),
            Err(_) => {
                self.invalid(diag, format!("expected a number ≥ 0, found {n}"));
                None
            }
        }
    }

    pub(super) fn boolean(&self, diag: &mut Diagnostics) -> Option<bool> {
        match self.value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(diag, "true or false");
                None
            }
        }
    }

    pub(super) fn table(&self, diag: &mut Diagnostics) -> Option<Table<'a, 'i>> {
        match self.value.get_ref() {
            DeValue::Table(t) => Some(Table {
                table: t,
                path: self.path.clone(),
                span: self.value.span(),
            }),
            _ => {
                self.wrong_type(diag, "a table");
                None
            }
        }
    }

    pub(super) fn array(&self, diag: &mut Diagnostics) -> Option<Vec<Entry<'a, 'i>>> {
        match self.value.get_ref() {
            DeValue::Array(items) => Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Entry {
                        key_span: v.span(),
                        path: format!("{}[{i}]", self.path),
                        value: v,
                    })
                    .collect(),
            ),
            _ => {
                self.wrong_type(diag, "an array");
                None
            }
        }
    }

    pub(super) fn string_array(&self, diag: &mut Diagnostics) -> Option<Vec<String>> {
        let items = self.array(diag)?;
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            match item.string(diag) {
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// A string, or an array of strings: one or several names.
    pub(super) fn string_or_strings(&self, diag: &mut Diagnostics) -> Option<Vec<String>> {
        match self.value.get_ref() {
            DeValue::String(_) => self.string(diag).map(|s| vec![s]),
            _ => self.string_array(diag),
        }
    }

    pub(super) fn string_map(&self, diag: &mut Diagnostics) -> Option<BTreeMap<String, String>> {
        let obj = self.table(diag)?;
        let mut out = BTreeMap::new();
        for (k, v) in obj.table.iter() {
            let name: &str = k.get_ref().as_ref();
            let f = Entry {
                key_span: k.span(),
                path: obj.child_path(name),
                value: v,
            };
            let value = match v.get_ref() {
                DeValue::String(s) => Some(s.to_string()),
                DeValue::Integer(i) => Some(i.as_str().to_string()),
                DeValue::Boolean(b) => Some(b.to_string()),
                _ => {
                    f.wrong_type(diag, "a string");
                    None
                }
            };
            if let Some(value) = value {
                out.insert(name.to_string(), value);
            }
        }
        Some(out)
    }

    pub(super) fn size(&self, diag: &mut Diagnostics) -> Option<u64> {
        match self.value.get_ref() {
            DeValue::Integer(_) => self.unsigned(diag),
            DeValue::String(s) => match parse_size(s) {
                Ok(n) => Some(n),
                Err(e) => {
                    self.invalid(diag, e);
                    None
                }
            },
            _ => {
                self.wrong_type(diag, "a size (bytes, or a string such as \"10 MB\")");
                None
            }
        }
    }

    pub(super) fn duration(&self, diag: &mut Diagnostics) -> Option<Duration> {
        let text = self.string(diag)?;
        match parse_duration(&text) {
            Ok(d) if d.is_zero() => {
                self.invalid(diag, "a timeout must be longer than zero");
                None
            }
            Ok(d) if d > Duration::from_secs(24 * 3600) => {
                self.invalid(diag, "a timeout must be at most 24h");
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.invalid(diag, e);
                None
            }
        }
    }

    /// A path inside the submission or exercise folder.
    pub(super) fn rel_path(&self, diag: &mut Diagnostics) -> Option<RelPath> {
        let raw = self.string(diag)?;
        match RelPath::new(&raw) {
            Some(p) => Some(p),
            None => {
                self.invalid(
                    diag,
                    format!("path {raw:?} must stay inside its folder: no absolute path, no `..`"),
                );
                None
            }
        }
    }

    /// An absolute path inside a container, cleaned: `/software/`,
    /// `/software/.` and `//software` all mean `/software`.
    pub(super) fn container_path(&self, diag: &mut Diagnostics) -> Option<String> {
        let raw = self.string(diag)?;
        if raw.starts_with('/') {
            Some(crate::dockerignore::clean(&raw))
        } else {
            self.invalid(
                diag,
                format!("container path {raw:?} must be absolute (start with `/`)"),
            );
            None
        }
    }

    pub(super) fn one_of<T: Copy>(
        &self,
        diag: &mut Diagnostics,
        choices: &[(&str, T)],
    ) -> Option<T> {
        let s = self.string(diag)?;
        match choices.iter().find(|(name, _)| *name == s) {
            Some((_, v)) => Some(*v),
            None => {
                let names: Vec<String> = choices.iter().map(|(n, _)| format!("\"{n}\"")).collect();
                self.invalid(
                    diag,
                    format!("invalid value {s:?}; expected {}", names.join(" or ")),
                );
                None
            }
        }
    }
}

pub(super) fn required_string(diag: &mut Diagnostics, obj: &Table, key: &str) -> Option<String> {
    match obj.entry(key) {
        Some(f) => f.string(diag),
        None => {
            obj.missing(diag, key);
            None
        }
    }
}

/// Reads `[[key]]`: an array of tables.
pub(super) fn table_array<'a, 'i>(
    diag: &mut Diagnostics,
    root: &Table<'a, 'i>,
    key: &str,
) -> Option<Vec<Table<'a, 'i>>> {
    let Some(field) = root.entry(key) else {
        root.missing(diag, key);
        return None;
    };
    let items = field.array(diag)?;
    if items.is_empty() {
        field.invalid(diag, format!("`{key}` must not be empty"));
        return None;
    }
    Some(items.iter().filter_map(|f| f.table(diag)).collect())
}
