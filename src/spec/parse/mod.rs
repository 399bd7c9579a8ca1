//! TOML text → [`Exercise`], collecting every error with its location.
//!
//! We walk toml's spanned document tree ourselves instead of deriving
//! `Deserialize`: serde stops at the first error, and a student or instructor
//! fixing a spec wants all of a file's mistakes at once, each pointing at the
//! key that is wrong. The rooms: [`reader`] is the error-collecting TOML
//! reader and knows nothing of exercises; [`exercise`] reads the top level
//! and fixtures; [`steps`] the steps; [`checks`] the `[[checks]]` tables and
//! which assertion fits which step; [`assertions`] each assertion's grammar.

mod assertions;
mod checks;
mod exercise;
mod forensics;
mod reader;
mod requests;
mod services;
mod steps;

use toml::de::DeTable;

use self::reader::{Diagnostics, Table};
use super::{Exercise, SpecError};

/// Parses one exercise file. `file` is the name shown in errors.
pub fn parse_exercise(file: &str, text: &str) -> Result<Exercise, Vec<SpecError>> {
    let mut diag = Diagnostics::new(file, text);
    let (doc, syntax_errors) = DeTable::parse_recoverable(text);
    for e in &syntax_errors {
        let span = e.span().unwrap_or(0..0);
        diag.error(span, "", e.message().trim().to_string());
    }
    let exercise = if syntax_errors.is_empty() {
        let root = Table {
            table: doc.get_ref(),
            path: String::new(),
            span: doc.span(),
        };
        exercise::exercise(&mut diag, &root)
    } else {
        None
    };
    let mut errors = diag.errors;
    match exercise {
        Some(mut ex) if errors.is_empty() => {
            ex.warnings = diag.warnings;
            Ok(ex)
        }
        _ => {
            errors.sort_by_key(|e| (e.line, e.column));
            errors.dedup();
            Err(errors)
        }
    }
}

pub(super) fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
        && s.len() <= 64
}
