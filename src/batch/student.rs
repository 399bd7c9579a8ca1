//! Who a submission is from, and the names that identity takes on disk and
//! in a spreadsheet.
//!
//! A student id comes from a folder or archive name, a roster or a
//! Gradescope export: any text at all (`..`, a slash, a newline, a leading
//! dash, a formula). It is kept as it is in the reports (each output escapes
//! it), and given a folder name of its own that is safe on every file system
//! and unique.

use sha2::{Digest, Sha256};

/// A student: an id, and what a roster or an export says of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Student {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
}

impl Student {
    pub fn new(id: impl Into<String>) -> Student {
        Student {
            id: id.into(),
            ..Student::default()
        }
    }
}

/// Longest folder name kept from an id (before the distinguishing hash).
const MAX_FOLDER: usize = 64;

/// A folder name for `id` under `students/`: the id itself when it is
/// plainly safe (letters, digits, `.`, `_`, `-`, not starting with `.` or
/// `-`, not too long), else the safe characters of it followed by a short
/// hash of the whole id, so two ids never share a folder.
pub(crate) fn folder_name(id: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let safe = !id.is_empty()
        && id.len() <= MAX_FOLDER
        && id.chars().all(plain)
        && !id.starts_with(['.', '-']);
    if safe {
        return id.to_string();
    }
    let kept: String = id
        .chars()
        .map(|c| if plain(c) { c } else { '_' })
        .take(MAX_FOLDER)
        .collect();
    let kept = kept.trim_start_matches(['.', '-']);
    let stem = if kept.is_empty() { "student" } else { kept };
    format!("{stem}-{}", short_hash(id.as_bytes()))
}

/// The first 8 hex digits of the SHA-256 of `bytes`.
pub(crate) fn short_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// A cell for a spreadsheet: text a spreadsheet would run as a formula
/// (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) is made
/// plain text with a leading apostrophe, as OWASP advises for CSV exports.
pub(crate) fn csv_cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids_are_their_own_folders_and_others_get_a_safe_unique_one() {
        assert_eq!(folder_name("alice"), "alice");
        assert_eq!(folder_name("bob.smith-2"), "bob.smith-2");
        for hostile in [
            "..",
            ".",
            "a/b",
            "../../etc",
            "-rf",
            "a\nb",
            "",
            "é",
            "x".repeat(200).as_str(),
        ] {
            let folder = folder_name(hostile);
            assert!(
                !folder.is_empty() && folder.len() <= MAX_FOLDER + 9,
                "{hostile:?}: {folder}"
            );
            assert!(
                folder
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')),
                "{hostile:?}: {folder}"
            );
            assert!(!folder.starts_with(['.', '-']), "{hostile:?}: {folder}");
            assert_ne!(folder, "..");
        }
        assert_ne!(
            folder_name("a/b"),
            folder_name("a_b"),
            "ids that look alike stay apart"
        );
        assert_ne!(folder_name("a\nb"), folder_name("a\rb"));
    }

    #[test]
    fn formulas_are_made_plain_text() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-2"), "'-2");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("alice"), "alice");
    }
}
