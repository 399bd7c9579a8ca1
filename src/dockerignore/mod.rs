//! `.dockerignore` exactly as Docker applies it to a build context.
//!
//! Docker's rules (moby's `ignorefile` reader and `patternmatcher`) have
//! corners that a generic glob crate gets wrong: `**` may match nothing, a
//! pattern also matches everything under a matched folder, the last matching
//! line wins, `!` exceptions re-include, a leading `/` is dropped, and an
//! excluded folder is still walked when an exception might reach inside it.
//! This module reimplements those rules (no I/O); [`crate::build_context`]
//! walks the folder with them. A conformance test builds the same contexts
//! with `docker build` and compares the file lists.
//!
//! The file comes from the student, so its cost is bounded: the caller caps
//! its size and pattern count ([`MAX_IGNORE_FILE_BYTES`],
//! [`MAX_IGNORE_PATTERNS`]); patterns are compiled once into an index
//! (`index.rs`) so a path costs about its own length rather than the number
//! of lines; and the matcher refuses to go on past [`MAX_MATCH_WORK`] steps.

mod compile;
mod index;
mod trie;

use std::cell::Cell;
use std::collections::HashMap;

use compile::{Kind, compile, validate_syntax};
use index::Index;

/// The most bytes of a `.dockerignore` that are read (2 MB: a
/// hand-written one is a few hundred bytes).
pub const MAX_IGNORE_FILE_BYTES: u64 = 2_000_000;

/// The most patterns a `.dockerignore` may have.
pub const MAX_IGNORE_PATTERNS: usize = 50_000;

/// The most patterns with character classes or backslash escapes: each is
/// a compiled regex, of some kilobytes.
pub const MAX_REGEX_PATTERNS: usize = 1_000;

/// The most matching steps over a whole build context (a step is about a
/// nanosecond). An honest file with 200,000 files needs well under a tenth
/// of it; a file crafted so that every path must try thousands of wildcard
/// patterns is refused after a second or two instead of running for hours.
pub const MAX_MATCH_WORK: u64 = 1_000_000_000;

/// Why patterns cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    /// A line is not a valid pattern (what `docker build` also refuses).
    Invalid(String),
    /// Valid, but too costly to apply (a limit of ours, not Docker's).
    TooComplex(String),
}

impl std::fmt::Display for PatternError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PatternError::Invalid(why) | PatternError::TooComplex(why) => f.write_str(why),
        }
    }
}

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

/// An ordered list of patterns; the last one that matches decides.
#[derive(Debug)]
pub struct Matcher {
    /// Per pattern line, in order: whether it is an exclusion (`!`).
    exclusion: Vec<bool>,
    /// Per rule (distinct pattern text): its lines without `!`, then its
    /// lines with `!`, each in increasing order.
    lines: Vec<[Vec<u32>; 2]>,
    index: Index,
    /// The exclusion texts, each followed by `/`, sorted.
    reinclude: Vec<String>,
    /// Matching steps taken so far, and how many are allowed (always
    /// [`MAX_MATCH_WORK`] but in tests).
    work: Cell<u64>,
    work_limit: u64,
}

/// What a folder's matching tells its entries: the last pattern line that
/// "hit" the folder or one of its parents, in moby's sense.
///
/// Moby hands down one flag per pattern line; only the last one that is set
/// matters (see [`Matcher::decide`]), so that is all that is kept. The
/// default is moby's zero value: nothing is known, and the parent folders of
/// the path are matched one by one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParentMatches(Option<Option<u32>>);

impl Matcher {
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Matcher, PatternError> {
        let mut exclusion = Vec::new();
        let mut lines: Vec<[Vec<u32>; 2]> = Vec::new();
        let mut rules: Vec<(String, Kind)> = Vec::new();
        let mut rule_of: HashMap<String, usize> = HashMap::new();
        let mut reinclude = Vec::new();
        for p in patterns {
            let p = p.as_ref().trim();
            if p.is_empty() {
                continue;
            }
            let mut p = clean(p);
            let excluded = p.starts_with('!');
            if excluded && p.len() == 1 {
                first_bad_regex(&rules)?;
                return Err(PatternError::Invalid(
                    "illegal exclusion pattern: \"!\"".to_string(),
                ));
            }
            if excluded {
                p.remove(0);
                reinclude.push(format!("{p}/"));
            }
            if let Err(e) = validate_syntax(&p) {
                first_bad_regex(&rules)?;
                return Err(PatternError::Invalid(e));
            }
            let rule = *rule_of.entry(p).or_insert_with_key(|text| {
                rules.push((text.clone(), compile(text).0));
                lines.push([Vec::new(), Vec::new()]);
                rules.len() - 1
            });
            lines[rule][usize::from(excluded)].push(exclusion.len() as u32);
            exclusion.push(excluded);
        }
        reinclude.sort_unstable();
        Ok(Matcher {
            exclusion,
            lines,
            index: Index::build(rules)?,
            reinclude,
            work: Cell::new(0),
            work_limit: MAX_MATCH_WORK,
        })
    }

    pub fn has_exclusions(&self) -> bool {
        !self.reinclude.is_empty()
    }

    /// Whether `path` is ignored, checking each parent folder too.
    pub fn matches_or_parent_matches(&self, path: &str) -> Result<bool, PatternError> {
        Ok(self
            .matches_using_parent(path, &ParentMatches::default())?
            .0)
    }

    /// Whether `path` is ignored, reusing its folder's results (the walk's
    /// variant: this is what `docker build` uses while it tars the context).
    pub fn matches_using_parent(
        &self,
        path: &str,
        parent: &ParentMatches,
    ) -> Result<(bool, ParentMatches), PatternError> {
        let mut work = self.work.get() + path.len() as u64 + 1;
        let mut hits = Vec::new();
        self.index.hits(path, &mut work, &mut hits);
        let last = match parent.0 {
            Some(last) => last,
            None => {
                // Moby's zero value: a pattern also hits when it matches
                // one of the parent folders.
                let dir = parent_of(path);
                if dir != "." {
                    let ends = dir.match_indices('/').map(|(i, _)| i);
                    for end in ends.chain([dir.len()]) {
                        work += end as u64 + 1;
                        self.index.hits(&dir[..end], &mut work, &mut hits);
                    }
                    hits.sort_unstable();
                    hits.dedup();
                }
                None
            }
        };
        work += hits.len() as u64;
        self.work.set(work);
        if work > self.work_limit {
            return Err(PatternError::TooComplex(format!(
                "matching it against the build context took more than {} steps",
                self.work_limit
            )));
        }
        let (ignored, last) = self.decide(last, &hits);
        Ok((ignored, ParentMatches(Some(last))))
    }

    /// Moby's loop over the lines, given the last line that hit the parent
    /// (`last`) and the rules that match the path (`hits`); returns whether
    /// the path is ignored and the last line that hits it, for its entries.
    ///
    /// Moby walks every line: a line that hit the parent hits; another
    /// line is skipped when its `!` agrees with the verdict so far (an
    /// inclusion once ignored, an exclusion while not ignored), else hits if
    /// it matches; a hit sets the verdict to "ignored unless `!`". So the
    /// verdict after any line that hits *or matches* is that line's, and
    /// lines that neither hit the parent nor match change nothing: the
    /// verdict is that of the greatest of `last` and the matching lines.
    /// Lines below `last` no longer matter, for this path or below it.
    /// Above it, a matching line hits exactly when its `!` differs from the
    /// previous such line's (or, first, when it has none); so the last
    /// line that hits is the first line after the last change of `!`.
    fn decide(&self, last: Option<u32>, hits: &[u32]) -> (bool, Option<u32>) {
        // The greatest matching line without and with `!`, above `last`.
        let mut greatest = [None, None];
        if let Some(l) = last {
            greatest[usize::from(self.exclusion[l as usize])] = Some(l);
        }
        for rule in hits {
            for (bang, lines) in self.lines[*rule as usize].iter().enumerate() {
                let high = lines.last().copied().filter(|h| Some(*h) > last);
                greatest[bang] = greatest[bang].max(high);
            }
        }
        let Some(top) = greatest[0].max(greatest[1]) else {
            return (false, None);
        };
        let bang = usize::from(self.exclusion[top as usize]);
        // The first line of the final run of equal `!`s; `last` is a hit
        // whatever its `!`, and before any line the verdict is "kept",
        // which an exclusion does not change.
        let run_start = match greatest[1 - bang] {
            Some(change) => Some(change),
            None if last.is_some() => return (bang == 0, last),
            None if bang == 1 => return (false, None),
            None => None,
        };
        let first_after = hits
            .iter()
            .filter_map(|rule| {
                let lines = &self.lines[*rule as usize][bang];
                let from = run_start.map_or(0, |c| lines.partition_point(|i| *i <= c));
                lines.get(from).copied()
            })
            .min();
        (bang == 0, first_after)
    }

    /// Whether an excluded folder must still be walked because an exception
    /// pattern could re-include something inside it.
    pub fn may_reinclude_under(&self, dir: &str) -> bool {
        let dir_slash = format!("{dir}/");
        let at = self
            .reinclude
            .partition_point(|t| t.as_str() < dir_slash.as_str());
        self.reinclude
            .get(at)
            .is_some_and(|t| t.starts_with(&dir_slash))
    }
}

/// The error moby would give for the first of `rules` whose regex does not
/// compile, if any: moby stops at the first bad line, and regexes are only
/// compiled together at the end here, so a line found bad earlier must not
/// hide an earlier line that only the regex compiler refuses.
fn first_bad_regex(rules: &[(String, Kind)]) -> Result<(), PatternError> {
    for (text, kind) in rules {
        if let Kind::Regex(re, _) = kind
            && let Err(e) = regex::Regex::new(re)
        {
            return Err(PatternError::Invalid(format!(
                "invalid pattern {text:?}: {e}"
            )));
        }
    }
    Ok(())
}

fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => ".",
    }
}

#[cfg(test)]
mod tests;
