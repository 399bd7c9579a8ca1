//! The compiled patterns, indexed so that finding the ones a path matches
//! costs about the path's length, not the number of patterns.
//!
//! Each distinct pattern text is a *rule*. Exact texts are a hash lookup;
//! `prefix**` and `**suffix` texts live in tries walked along the path (the
//! suffix trie over reversed bytes); a wildcard pattern is filed under the
//! rarest run of literal characters it contains, found in the path by
//! Aho-Corasick, and only the patterns whose literal occurs are tried.
//! Everything a hostile file could still make expensive (many patterns
//! filed under the same literal, wildcard-only patterns) is counted as
//! work, which the matcher bounds.
//!
//! The few patterns with classes or escapes are regexes, each tried only
//! when its literal occurs, like the others. One `RegexSet` for all of them
//! was tried first: it runs every pattern on every path, and with a
//! thousand `**/*a[bc]*`-like lines it took over a second per thousand
//! paths once its lazy DFA gave up.

use std::collections::HashMap;

use regex::Regex;

use super::compile::{Glob, Kind};
use super::trie::Trie;
use super::{MAX_REGEX_PATTERNS, PatternError};

/// Where each rule is filed; see the module documentation.
#[derive(Debug)]
pub(super) struct Index {
    exact: HashMap<String, u32>,
    prefixes: Trie,
    suffixes: Trie,
    /// The literal each glob is filed under (ids index `filed`).
    literals: Trie,
    /// Per literal: the globs filed under it.
    filed: Vec<Vec<u32>>,
    /// Wildcard rules without a literal character: tried on every path.
    unfiled: Vec<u32>,
    /// Per wildcard rule: how it matches.
    wild: HashMap<u32, Wild>,
}

/// How a rule that is not a plain string matches.
#[derive(Debug)]
enum Wild {
    Glob(Glob),
    /// The regex, and the length of its source (its cost grows with it).
    Regex(Regex, u64),
}

impl Index {
    /// Indexes `rules` (text and kind), rule `i` being the i-th.
    pub(super) fn build(rules: Vec<(String, Kind)>) -> Result<Index, PatternError> {
        let mut index = Index {
            exact: HashMap::new(),
            prefixes: Trie::new(),
            suffixes: Trie::new(),
            literals: Trie::new(),
            filed: Vec::new(),
            unfiled: Vec::new(),
            wild: HashMap::new(),
        };
        let mut runs = Vec::new();
        let mut regexes = 0;
        for (rule, (text, kind)) in rules.into_iter().enumerate() {
            let rule = rule as u32;
            match kind {
                Kind::Exact => {
                    index.exact.insert(text, rule);
                }
                Kind::Prefix(p) => {
                    index.prefixes.insert(p.bytes(), rule);
                }
                Kind::Suffix(s) => {
                    index.suffixes.insert(s.bytes().rev(), rule);
                }
                Kind::Glob(g) => {
                    runs.push((rule, g.literal_runs()));
                    index.wild.insert(rule, Wild::Glob(g));
                }
                Kind::Regex(re, literal_runs) => {
                    regexes += 1;
                    if regexes > MAX_REGEX_PATTERNS {
                        return Err(PatternError::TooComplex(format!(
                            "it has more than {MAX_REGEX_PATTERNS} patterns with character classes or backslash escapes"
                        )));
                    }
                    let compiled = Regex::new(&re).map_err(|e| {
                        PatternError::Invalid(format!("invalid pattern {text:?}: {e}"))
                    })?;
                    runs.push((rule, literal_runs));
                    index
                        .wild
                        .insert(rule, Wild::Regex(compiled, re.len() as u64));
                }
            }
        }
        index.file_wild(runs);
        Ok(index)
    }

    /// Files each wildcard rule under its literal run shared by the fewest
    /// rules (the longest among equals), so a path tries as few as possible.
    fn file_wild(&mut self, runs: Vec<(u32, Vec<String>)>) {
        let mut shared: HashMap<&str, u32> = HashMap::new();
        for (_, rs) in &runs {
            let mut distinct: Vec<&str> = rs.iter().map(String::as_str).collect();
            distinct.sort_unstable();
            distinct.dedup();
            for r in distinct {
                *shared.entry(r).or_default() += 1;
            }
        }
        for (rule, rs) in &runs {
            let Some(best) = rs
                .iter()
                .min_by_key(|r| (shared[r.as_str()], std::cmp::Reverse(r.len())))
            else {
                self.unfiled.push(*rule);
                continue;
            };
            let key = self.literals.insert(best.bytes(), self.filed.len() as u32);
            if key as usize == self.filed.len() {
                self.filed.push(Vec::new());
            }
            self.filed[key as usize].push(*rule);
        }
        self.literals.link();
    }

    /// Adds to `out` every rule that matches `text` (each once), and the
    /// work it took beyond the path's length to `work`.
    pub(super) fn hits(&self, text: &str, work: &mut u64, out: &mut Vec<u32>) {
        if let Some(rule) = self.exact.get(text) {
            out.push(*rule);
        }
        let mut push = |rule| out.push(rule);
        self.prefixes.prefixes_of(text.bytes(), &mut push);
        let end = self.suffixes.prefixes_of(text.bytes().rev(), &mut push);
        // `**/a` also matches `a` itself (moby: suffix `/a`, path `a`).
        if let Some(rule) = end.and_then(|node| self.suffixes.end_below(node, b'/')) {
            out.push(rule);
        }
        self.wild_hits(text, work, out);
    }

    fn wild_hits(&self, text: &str, work: &mut u64, out: &mut Vec<u32>) {
        let mut keys = Vec::new();
        self.literals
            .occurrences(text.as_bytes(), &mut |key| keys.push(key));
        *work += keys.len() as u64;
        keys.sort_unstable();
        keys.dedup();
        let candidates = keys
            .iter()
            .flat_map(|k| &self.filed[*k as usize])
            .chain(&self.unfiled);
        for rule in candidates {
            let hit = match &self.wild[rule] {
                Wild::Glob(g) => g.is_match(text, work),
                Wild::Regex(re, size) => {
                    // What a backtracking-free regex engine may take at worst.
                    *work += (text.len() as u64 + 1) * (size + 1);
                    re.is_match(text)
                }
            };
            if hit {
                out.push(*rule);
            }
        }
    }
}
