//! What looks like a credential: in a file's name and content, in an
//! environment variable, in a history entry. Pure; the layer scanner calls
//! [`in_file`] on every small file of every layer, and the `secrets` check
//! calls [`in_env`] and [`in_history`] on the image's config and history.
//!
//! Patterns are the documented formats of each issuer (AWS access key ids,
//! GitHub, GitLab and Slack tokens, Google API keys, PEM private keys), and
//! the files tools keep credentials in (`.netrc`, `.git-credentials`,
//! `.docker/config.json` with `auths`, SSH private keys). A finding never
//! carries the secret itself: only what it is and its first characters.

use std::sync::LazyLock;

use regex::bytes::Regex;

/// Largest file whose content is read for credentials; bigger files are
/// judged by their name only (keys and tokens are small files).
pub(crate) const MAX_SNIFFED_BYTES: u64 = 64 * 1024;

/// Characters of a secret a report may show (and never more than a third
/// of it).
const PREVIEW_CHARS: usize = 4;

/// Build arguments read from one history entry, at most.
const MAX_BUILD_ARGS: usize = 256;

/// A credential found somewhere, described without its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspect {
    /// What it looks like: `a GitHub token`, `an SSH private key`.
    pub what: &'static str,
    /// The first characters of the value, then `…`.
    pub preview: String,
}

/// The issuers' documented formats, each with what to call it.
static PATTERNS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        ("a private key", r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"),
        ("an AWS access key id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
        ("a GitHub token", r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b"),
        ("a GitHub token", r"\bgithub_pat_[A-Za-z0-9_]{82}\b"),
        ("a GitLab token", r"\bglpat-[A-Za-z0-9_-]{20}\b"),
        ("a Slack token", r"\bxox[baprs]-[A-Za-z0-9-]{10,}\b"),
        ("a Google API key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    ]
    .into_iter()
    .map(|(what, re)| (what, Regex::new(re).expect("a valid pattern")))
    .collect()
});

/// `auths` entries holding an `auth` value in a Docker client config.
static DOCKER_AUTH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""auth"\s*:\s*"([^"]+)""#).expect("a valid pattern"));

fn preview(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    let visible: Vec<char> = text.chars().filter(|c| !c.is_control()).collect();
    let shown: String = visible
        .iter()
        .take(PREVIEW_CHARS.min(visible.len() / 3))
        .collect();
    format!("{shown}…")
}

/// The first credential-looking value in `bytes`.
pub fn in_text(bytes: &[u8]) -> Option<Suspect> {
    PATTERNS.iter().find_map(|(what, re)| {
        re.find(bytes).map(|m| Suspect {
            what,
            preview: preview(m.as_bytes()),
        })
    })
}

/// `text` with every credential-looking value cut to its first characters.
pub fn redact(text: &str) -> String {
    let mut text = text.to_string();
    for (_, re) in PATTERNS.iter() {
        let replaced = re.replace_all(text.as_bytes(), |c: &regex::bytes::Captures| {
            preview(&c[0]).into_bytes()
        });
        text = String::from_utf8_lossy(&replaced).into_owned();
    }
    text
}

/// A file that holds a credential, by its path (absolute, as in the image)
/// and, when it was read, its content.
pub fn in_file(path: &str, content: Option<&[u8]>) -> Option<Suspect> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let non_empty = content.is_none_or(|c| c.iter().any(|b| !b.is_ascii_whitespace()));
    let by_name = match name {
        ".netrc" | "_netrc" => Some("a .netrc with login details"),
        ".git-credentials" => Some("a .git-credentials file"),
        "id_rsa" | "id_dsa" | "id_ecdsa" | "id_ed25519" => Some("an SSH private key"),
        _ => None,
    };
    if let (Some(what), true) = (by_name, non_empty) {
        return Some(Suspect {
            what,
            preview: content.map_or_else(|| "…".to_string(), preview),
        });
    }
    let content = content?;
    if path.ends_with("/.docker/config.json")
        && let Some(auth) = DOCKER_AUTH.captures(content).and_then(|c| c.get(1))
    {
        return Some(Suspect {
            what: "a Docker login (.docker/config.json with auths)",
            preview: preview(auth.as_bytes()),
        });
    }
    in_text(content)
}

/// Whether an environment variable's or build argument's name says it
/// holds a secret (`DB_PASSWORD`, `GITHUB_TOKEN`, `AWS_SECRET_ACCESS_KEY`).
pub fn secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "PASSWORD",
        "PASSWD",
        "TOKEN",
        "SECRET",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "CREDENTIAL",
    ]
    .iter()
    .any(|word| upper.contains(word))
}

/// A credential in one `NAME=value` of the config's `Env`.
pub fn in_env(assignment: &str) -> Option<Suspect> {
    let (name, value) = assignment.split_once('=')?;
    if value.is_empty() {
        return None;
    }
    in_text(value.as_bytes()).or_else(|| {
        secret_name(name).then(|| Suspect {
            what: "a value under a secret's name",
            preview: preview(value.as_bytes()),
        })
    })
}

/// Credentials a history entry keeps: build arguments the legacy builder
/// recorded (`|2 TOKEN=… MODE=… /bin/sh -c …`), and any value in the
/// instruction itself. Returns the argument's name with each.
pub fn in_history(created_by: &str) -> Vec<(String, Suspect)> {
    let mut found = Vec::new();
    let mut rest = created_by.trim();
    if let Some(after) = rest.strip_prefix('|')
        && let Some((count, args)) = after.split_once(' ')
        && let Ok(n) = count.parse::<usize>()
    {
        rest = args;
        // As many assignments as there are words, at most: `N` is text the
        // submission can write (an exec-form RUN is recorded as typed).
        for _ in 0..n.min(MAX_BUILD_ARGS) {
            let Some((assignment, after)) = rest.split_once(' ') else {
                break;
            };
            rest = after;
            if !assignment.contains('=') {
                break;
            }
            if let Some(s) = in_env(assignment) {
                let name = assignment.split('=').next().unwrap_or_default();
                found.push((format!("build argument {name}"), s));
            }
        }
    }
    if let Some(s) = in_text(rest.as_bytes()) {
        found.push(("the instruction".to_string(), s));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const GITHUB: &str = "ghp_0123456789abcdefghijABCDEFGHIJ012345";

    #[test]
    fn documented_formats_are_found_and_never_shown_whole() {
        let key = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n";
        let s = in_text(key).expect("a key");
        assert_eq!(s.what, "a private key");
        assert_eq!(s.preview, "----…");
        let s = in_text(format!("token: {GITHUB}\n").as_bytes()).expect("a token");
        assert_eq!((s.what, s.preview.as_str()), ("a GitHub token", "ghp_…"));
        assert_eq!(
            in_text(b"aws_access_key_id = AKIAIOSFODNN7EXAMPLE").map(|s| s.what),
            Some("an AWS access key id")
        );
        assert!(in_text(b"nothing to see here: ghp_short").is_none());
        assert!(
            in_text(b"AKIAIOSFODNN7EXAMPLEX1").is_none(),
            "not a whole word"
        );
    }

    #[test]
    fn credential_files_are_known_by_name_and_content() {
        assert_eq!(
            in_file("/root/.netrc", Some(b"machine x login a password b")).map(|s| s.what),
            Some("a .netrc with login details")
        );
        assert!(
            in_file("/root/.netrc", Some(b"\n")).is_none(),
            "an empty .netrc holds nothing"
        );
        assert!(
            in_file("/home/u/.ssh/id_ed25519", None).is_some(),
            "too big to read, known by name"
        );
        let config = br#"{"auths":{"registry:5000":{"auth":"dXNlcjpwYXNz"}}}"#;
        assert_eq!(
            in_file("/root/.docker/config.json", Some(config)).map(|s| s.what),
            Some("a Docker login (.docker/config.json with auths)")
        );
        assert!(in_file("/root/.docker/config.json", Some(br#"{"auths":{}}"#)).is_none());
        assert!(in_file("/etc/passwd", Some(b"root:x:0:0:root:/root:/bin/sh")).is_none());
    }

    #[test]
    fn secret_named_variables_and_build_arguments() {
        assert!(in_env("DB_PASSWORD=hunter2").is_some());
        assert!(in_env("GITHUB_TOKEN=").is_none(), "empty");
        assert!(in_env("PATH=/usr/bin:/bin").is_none());
        assert!(
            in_env(&format!("X={GITHUB}")).is_some(),
            "a token under any name"
        );
        let found = in_history(&format!(
            "|2 MODE=fast TOKEN={GITHUB} /bin/sh -c ./fetch.sh"
        ));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "build argument TOKEN");
        assert_eq!(found[0].1.preview, "ghp_…");
        assert!(in_history("/bin/sh -c #(nop) WORKDIR /software").is_empty());
        // The count is the submission's text: it bounds nothing.
        assert!(in_history("|18446744073709551615 x").is_empty());
        let found = in_history("|1 PASSWORD=correct horse /bin/sh -c true");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1.preview, "co…");
        let found = in_history(&format!("/bin/sh -c echo {GITHUB} > /t"));
        assert_eq!(found[0].0, "the instruction");
        assert_eq!(redact(&format!("echo {GITHUB} > /t")), "echo ghp_… > /t");
    }
}
