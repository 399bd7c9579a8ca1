//! `.dockerignore` exactly as Docker applies it to a build context.
//!
//! Docker's rules (moby's `ignorefile` reader and `patternmatcher`) have
//! corners that a generic glob crate gets wrong: `**` may match nothing, a
//! pattern also matches everything under a matched folder, the last matching
//! line wins, `!` exceptions re-include, a leading `/` is dropped, and an
//! excluded folder is still walked when an exception might reach inside it.
//! This module reimplements those rules (no I/O); [`crate::context`] walks the
//! folder with them. A conformance test builds the same contexts with
//! `docker build` and compares the file lists.

use regex::Regex;

/// Reads an ignore file's text into patterns, as `docker build` does.
///
/// A UTF-8 BOM is dropped; lines starting with `#` are comments; whitespace is
/// trimmed; each pattern is cleaned like Go's `filepath.Clean`; a leading `/`
/// is removed so `/a` and `a` mean the same.
pub fn read_patterns(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut cleaned = String::new();
        if !pattern.is_empty() {
            cleaned = clean(pattern);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
        }
        out.push(if invert {
            format!("!{cleaned}")
        } else {
            cleaned
        });
    }
    out
}

/// Go's `filepath.Clean` for `/`-separated paths.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if matches!(parts.last(), Some(p) if *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[derive(Debug, Clone)]
enum Kind {
    Exact,
    /// `prefix**`: anything starting with the prefix.
    Prefix(String),
    /// `**suffix`: anything ending with the suffix.
    Suffix(String),
    Regex(Regex),
}

/// One compiled pattern line.
#[derive(Debug, Clone)]
pub struct Pattern {
    text: String,
    exclusion: bool,
    kind: Kind,
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact => path == self.text,
            Kind::Prefix(p) => path.starts_with(p.as_str()),
            Kind::Suffix(s) => {
                path.ends_with(s.as_str()) || (s.starts_with('/') && path == &s[1..])
            }
            Kind::Regex(re) => re.is_match(path),
        }
    }
}

/// Characters that are special in a regex but plain in a path pattern.
fn needs_escape(c: char) -> bool {
    matches!(c, '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$')
}

fn compile(text: &str) -> Result<Kind, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut re = String::from("^");
    let mut exact = true;
    let mut kind_hint: Option<&str> = None; // "prefix" | "suffix"
    let mut i = 0;
    let mut first = true;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c == '*' {
            if chars.get(i) == Some(&'*') {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i >= chars.len() {
                    if exact && kind_hint.is_none() {
                        kind_hint = Some("prefix");
                    } else {
                        re.push_str(".*");
                        exact = false;
                        kind_hint = None;
                    }
                } else {
                    re.push_str("(.*/)?");
                    exact = false;
                    kind_hint = None;
                }
                if first {
                    kind_hint = Some("suffix");
                }
            } else {
                re.push_str("[^/]*");
                exact = false;
                kind_hint = None;
            }
        } else if c == '?' {
            re.push_str("[^/]");
            exact = false;
            kind_hint = None;
        } else if needs_escape(c) {
            re.push('\\');
            re.push(c);
        } else if c == '\\' {
            if i < chars.len() {
                re.push('\\');
                re.push(chars[i]);
                i += 1;
                exact = false;
                kind_hint = None;
            } else {
                re.push_str("\\\\");
            }
        } else if c == '[' || c == ']' {
            re.push(c);
            exact = false;
            kind_hint = None;
        } else {
            re.push(c);
        }
        first = false;
    }
    // Mirror Go's detected match type: the last classification wins, except
    // that a leading `**` always makes a suffix match.
    match kind_hint {
        Some("suffix") => return Ok(Kind::Suffix(text[2..].to_string())),
        Some("prefix") => return Ok(Kind::Prefix(text[..text.len() - 2].to_string())),
        _ => {}
    }
    if exact {
        return Ok(Kind::Exact);
    }
    re.push('$');
    Regex::new(&re)
        .map(Kind::Regex)
        .map_err(|e| format!("invalid pattern {text:?}: {e}"))
}

/// An ordered list of patterns; the last one that matches decides.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    patterns: Vec<Pattern>,
    exclusions: bool,
}

/// Per-pattern results for a folder, handed down to its entries.
#[derive(Debug, Clone, Default)]
pub struct ParentMatches(Vec<bool>);

impl Matcher {
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Matcher, String> {
        let mut m = Matcher::default();
        for p in patterns {
            let p = p.as_ref().trim();
            if p.is_empty() {
                continue;
            }
            let mut p = clean(p);
            let exclusion = p.starts_with('!');
            if exclusion {
                if p.len() == 1 {
                    return Err("illegal exclusion pattern: \"!\"".to_string());
                }
                p.remove(0);
                m.exclusions = true;
            }
            validate_syntax(&p)?;
            let kind = compile(&p)?;
            m.patterns.push(Pattern {
                text: p,
                exclusion,
                kind,
            });
        }
        Ok(m)
    }

    pub fn has_exclusions(&self) -> bool {
        self.exclusions
    }

    /// Whether `path` is ignored, checking each parent folder too.
    pub fn matches_or_parent_matches(&self, path: &str) -> bool {
        let parent = parent_of(path);
        let parent_dirs: Vec<&str> = parent.split('/').collect();
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            let mut hit = p.matches(path);
            if !hit && parent != "." {
                hit = (0..parent_dirs.len()).any(|i| p.matches(&parent_dirs[..=i].join("/")));
            }
            if hit {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// Whether `path` is ignored, reusing its folder's results (the walk's
    /// variant: this is what `docker build` uses while it tars the context).
    pub fn matches_using_parent(
        &self,
        path: &str,
        parent: &ParentMatches,
    ) -> (bool, ParentMatches) {
        let mut matched = false;
        let mut info = vec![false; self.patterns.len()];
        for (i, p) in self.patterns.iter().enumerate() {
            let mut hit = parent.0.get(i).copied().unwrap_or(false);
            if !hit {
                if p.exclusion != matched {
                    continue;
                }
                hit = p.matches(path);
                if !hit && parent.0.is_empty() {
                    let dir = parent_of(path);
                    if dir != "." {
                        let dirs: Vec<&str> = dir.split('/').collect();
                        hit = (0..dirs.len()).any(|k| p.matches(&dirs[..=k].join("/")));
                    }
                }
            }
            info[i] = hit;
            if hit {
                matched = !p.exclusion;
            }
        }
        (matched, ParentMatches(info))
    }

    /// Whether an excluded folder must still be walked because an exception
    /// pattern could re-include something inside it.
    pub fn may_reinclude_under(&self, dir: &str) -> bool {
        let dir_slash = format!("{dir}/");
        self.patterns
            .iter()
            .any(|p| p.exclusion && format!("{}/", p.text).starts_with(&dir_slash))
    }
}

fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => ".",
    }
}

/// The syntax errors Go's `filepath.Match` reports: unclosed or empty
/// character classes and a trailing backslash inside a class.
fn validate_syntax(p: &str) -> Result<(), String> {
    let chars: Vec<char> = p.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '[' => {
                i += 1;
                if chars.get(i) == Some(&'^') {
                    i += 1;
                }
                let start = i;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("syntax error in pattern {p:?}: unclosed `[`")),
                        Some(']') if i > start => break,
                        Some(']') => {
                            return Err(format!("syntax error in pattern {p:?}: empty `[]`"));
                        }
                        Some('\\') => i += 2,
                        Some(_) => i += 1,
                    }
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignored(patterns: &[&str], path: &str) -> bool {
        Matcher::new(patterns)
            .expect("patterns compile")
            .matches_or_parent_matches(path)
    }

    #[test]
    fn reading_strips_comments_bom_whitespace_and_leading_slash() {
        let text = "\u{feff}# comment\n  /data/  \n\n!  keep.txt\r\n a/../b \n #not-comment\n";
        assert_eq!(
            read_patterns(text),
            vec!["data", "!keep.txt", "b", "#not-comment"]
        );
    }

    #[test]
    fn clean_matches_go() {
        assert_eq!(clean("a//b/./c/"), "a/b/c");
        assert_eq!(clean("../a/.."), "..");
        assert_eq!(clean("/../a"), "/a");
        assert_eq!(clean("./"), ".");
    }

    #[test]
    fn star_does_not_cross_folders_but_double_star_does() {
        assert!(ignored(&["*.dat"], "x.dat"));
        assert!(!ignored(&["*.dat"], "sub/x.dat"));
        assert!(ignored(&["**/*.dat"], "sub/deep/x.dat"));
        assert!(ignored(&["**/*.dat"], "x.dat"));
        assert!(ignored(&["data/**"], "data/a/b"));
        assert!(ignored(&["a/**/b"], "a/b"));
        assert!(ignored(&["a/**/b"], "a/x/y/b"));
    }

    #[test]
    fn a_matched_folder_ignores_everything_inside() {
        assert!(ignored(&["data"], "data/big/file.bin"));
        assert!(!ignored(&["data"], "other/data.txt"));
    }

    #[test]
    fn last_match_wins_and_exceptions_reinclude() {
        assert!(!ignored(&["*.md", "!README.md"], "README.md"));
        assert!(ignored(&["*.md", "!README.md"], "NOTES.md"));
        assert!(ignored(&["*.md", "!README.md", "README*"], "README.md"));
        assert!(!ignored(&["data", "!data/keep"], "data/keep"));
    }

    #[test]
    fn question_mark_and_classes() {
        assert!(ignored(&["file?.txt"], "file1.txt"));
        assert!(!ignored(&["file?.txt"], "file10.txt"));
        assert!(ignored(&["[ab].txt"], "a.txt"));
        assert!(!ignored(&["[ab].txt"], "c.txt"));
        assert!(ignored(&["[^ab].txt"], "c.txt"));
    }

    #[test]
    fn regex_metacharacters_are_literal() {
        assert!(ignored(&["a+b(c).txt"], "a+b(c).txt"));
        assert!(!ignored(&["a.txt"], "abtxt"));
    }

    #[test]
    fn bad_patterns_are_errors() {
        assert!(Matcher::new(&["!"]).is_err());
        assert!(Matcher::new(&["[abc"]).is_err());
    }

    #[test]
    fn excluded_folders_are_walked_only_when_an_exception_reaches_inside() {
        let m = Matcher::new(&["data", "!data/keep"]).expect("compiles");
        assert!(m.may_reinclude_under("data"));
        assert!(!m.may_reinclude_under("other"));
    }
}
