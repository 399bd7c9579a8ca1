//! The grammar of the assertions about layers and the Dockerfile's text:
//! `layers.absent`, `wasted`, `efficiency` and `dockerfile` rules.

use toml::de::DeValue;

use super::reader::{Diagnostics, Entry};
use crate::spec::Assertion;

/// `layers.absent`: absolute paths, `.dockerignore` globs allowed.
pub(super) fn layer_globs(diag: &mut Diagnostics, a: &Entry) -> Vec<String> {
    let Some(items) = a.array(diag) else {
        return Vec::new();
    };
    if items.is_empty() {
        a.invalid(diag, "`absent` needs at least one path");
    }
    let mut globs = Vec::new();
    for item in items {
        let Some(path) = item.container_path(diag) else {
            continue;
        };
        let relative = path.trim_start_matches('/');
        if relative.is_empty() {
            item.invalid(diag, "`/` is in every image; name what must be absent");
        } else if let Err(e) = crate::dockerignore::Matcher::new(&[relative]) {
            item.invalid(diag, format!("not a valid pattern: {e}"));
        } else {
            globs.push(path);
        }
    }
    globs
}

/// `dockerfile = { rules = ["untagged-from", …] | "course", non_root = true }`.
pub(super) fn dockerfile_rules(diag: &mut Diagnostics, f: &Entry) -> Option<Assertion> {
    use crate::dockerfile_rules::Rule;
    let t = f.table(diag)?;
    t.only(diag, &["rules", "non_root"]);
    let non_root = match t.entry("non_root") {
        Some(n) => n.boolean(diag)?,
        None => false,
    };
    let Some(r) = t.entry("rules") else {
        t.missing(diag, "rules");
        return None;
    };
    let ids: Vec<String> = match r.value.get_ref() {
        DeValue::String(s) if s.as_ref() == "course" => {
            Rule::course().iter().map(|r| r.id().to_string()).collect()
        }
        DeValue::String(_) => {
            r.invalid(diag, "`rules` is \"course\" or a list of rule ids");
            return None;
        }
        _ => r.string_array(diag)?,
    };
    let mut rules = Vec::new();
    for id in &ids {
        match Rule::from_id(id) {
            Some(rule) => rules.push(rule),
            None => {
                let known: Vec<&str> = Rule::ALL.iter().map(|r| r.id()).collect();
                r.invalid(
                    diag,
                    format!("no rule {id:?}; the rules are {}", known.join(", ")),
                );
                return None;
            }
        }
    }
    if rules.is_empty() {
        r.invalid(diag, "`rules` needs at least one rule");
        return None;
    }
    Some(Assertion::Dockerfile { rules, non_root })
}

/// `wasted = { max = SIZE }`.
pub(super) fn wasted(diag: &mut Diagnostics, f: &Entry) -> Option<Assertion> {
    let t = f.table(diag)?;
    t.only(diag, &["max"]);
    match t.entry("max") {
        Some(m) => m.size(diag).map(|max| Assertion::Wasted { max }),
        None => {
            t.missing(diag, "max");
            None
        }
    }
}

/// `efficiency = { min = 0.95 }`: a fraction, as dive's score.
pub(super) fn efficiency(diag: &mut Diagnostics, f: &Entry) -> Option<Assertion> {
    let t = f.table(diag)?;
    t.only(diag, &["min"]);
    let Some(m) = t.entry("min") else {
        t.missing(diag, "min");
        return None;
    };
    let min = match m.value.get_ref() {
        DeValue::Float(x) => x.as_str().replace('_', "").parse::<f64>().ok(),
        DeValue::Integer(i) => i.as_str().replace('_', "").parse::<f64>().ok(),
        _ => {
            m.wrong_type(diag, "a number from 0 to 1");
            return None;
        }
    };
    match min {
        Some(min) if (0.0..=1.0).contains(&min) => Some(Assertion::Efficiency { min }),
        _ => {
            m.invalid(
                diag,
                "the efficiency is a fraction from 0 to 1 (dive prints it as a percentage: 95 % is 0.95)",
            );
            None
        }
    }
}
