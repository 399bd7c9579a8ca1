//! One pattern line compiled the way moby's `patternmatcher` compiles it.
//!
//! Moby turns a pattern into a regular expression, but first detects the
//! cheap shapes (an exact path, `prefix**`, `**suffix`); this module keeps
//! that classification byte for byte, since the conformance with `docker
//! build` rests on it. What is left is matched natively when it only uses
//! `*`, `?` and `**` ([`Glob`], linear in the path), and by the `regex` crate
//! otherwise (character classes, backslash escapes): those are rare, and the
//! index caps how many there may be. Both come with the runs of literal
//! characters that any match must contain, which the index files them under.

/// What a compiled pattern is, which decides how it is indexed.
#[derive(Debug, Clone)]
pub(super) enum Kind {
    /// The path equals the pattern text.
    Exact,
    /// `prefix**`: anything starting with the prefix.
    Prefix(String),
    /// `**suffix`: anything ending with the suffix.
    Suffix(String),
    /// Only literals, `*`, `?` and `**`: matched by [`Glob`].
    Glob(Glob),
    /// The anchored regular expression of anything else, and runs of
    /// characters that any match contains (fewer than there may be: what
    /// follows a `[` or a `\\` is left out, a class or an escape like
    /// `\\x41` not being what it reads).
    Regex(String, Vec<String>),
}

/// One step of a [`Glob`]; each is what moby's regex has in its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    /// A character standing for itself.
    Lit(char),
    /// `?`, regex `[^/]`.
    One,
    /// `*`, regex `[^/]*`.
    Star,
    /// `**` (with the `/` after it) not at the end, regex `(.*/)?`.
    DirStar,
    /// `**` at the end, regex `.*`.
    AnyTail,
}

/// A pattern of literals and wildcards, matched like its regex would be.
///
/// As in the `regex` crate, `.` does not match a newline (so neither `**`
/// form crosses one) while `[^/]` does; matching is on characters.
#[derive(Debug, Clone)]
pub(super) struct Glob {
    toks: Vec<Tok>,
}

/// Characters that are special in a regex but plain in a path pattern.
fn needs_escape(c: char) -> bool {
    matches!(c, '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$')
}

/// The regex and the tokens being built for one pattern, and what is known
/// of its kind so far.
struct Build {
    re: String,
    toks: Vec<Tok>,
    /// Whether the regex only has what `Tok` can say (no class, no escape,
    /// no raw `^`, which a regex reads as an anchor).
    native: bool,
    exact: bool,
    /// Go's detected match type so far: "prefix" or "suffix".
    hint: Option<&'static str>,
    /// Literal runs for [`Kind::Regex`]: those done, the current one, and
    /// up to which character index nothing counts as literal.
    runs: Vec<String>,
    run: String,
    opaque_until: Option<usize>,
}

impl Build {
    /// Something that is not a plain character: not an exact pattern, nor
    /// (for now) a prefix or suffix one.
    fn wild(&mut self, re: &str, tok: Option<Tok>) {
        self.end_run();
        self.re.push_str(re);
        self.toks.extend(tok);
        self.native &= tok.is_some();
        self.exact = false;
        self.hint = None;
    }

    /// The character at index `at`, which stands for itself in the pattern.
    fn literal(&mut self, c: char, at: usize) {
        if needs_escape(c) {
            self.re.push('\\');
        }
        self.re.push(c);
        self.toks.push(Tok::Lit(c));
        self.native &= c != '^';
        if c == '^' || self.opaque_until.is_some_and(|end| at <= end) {
            self.end_run();
        } else {
            self.run.push(c);
        }
    }

    fn end_run(&mut self) {
        if !self.run.is_empty() {
            self.runs.push(std::mem::take(&mut self.run));
        }
    }

    /// Nothing up to index `end` is taken as literal.
    fn opaque(&mut self, end: usize) {
        self.opaque_until = self.opaque_until.max(Some(end));
    }
}

/// Compiles one (cleaned, `!`-less) pattern: its kind, and the regex moby
/// would have built for it (meaningful for [`Kind::Glob`] and [`Kind::Regex`]).
pub(super) fn compile(text: &str) -> (Kind, String) {
    let chars: Vec<char> = text.chars().collect();
    let mut b = Build {
        re: String::from("^"),
        toks: Vec::new(),
        native: true,
        exact: true,
        hint: None,
        runs: Vec::new(),
        run: String::new(),
        opaque_until: None,
    };
    // A class runs to a `]`, but classes nest in the regex crate's syntax:
    // to the last `]` is safe.
    let last_close = chars.iter().rposition(|c| *c == ']');
    let mut i = 0;
    while i < chars.len() {
        let first = i == 0;
        let c = chars[i];
        i += 1;
        match c {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i < chars.len() {
                    b.wild("(.*/)?", Some(Tok::DirStar));
                } else if b.exact && b.hint.is_none() {
                    b.hint = Some("prefix");
                } else {
                    b.wild(".*", Some(Tok::AnyTail));
                }
                if first {
                    b.hint = Some("suffix");
                }
            }
            '*' => b.wild("[^/]*", Some(Tok::Star)),
            '?' => b.wild("[^/]", Some(Tok::One)),
            '\\' if i < chars.len() => {
                b.wild(&format!("\\{}", chars[i]), None);
                // `\\U0010FFFF` is the longest escape.
                b.opaque(i + 8);
                i += 1;
            }
            '\\' => {
                // A trailing backslash is a literal one, in a regex only.
                b.re.push_str("\\\\");
                b.native = false;
            }
            '[' => {
                b.wild("[", None);
                b.opaque(last_close.unwrap_or(chars.len()));
            }
            ']' => b.wild("]", None),
            c => b.literal(c, i - 1),
        }
    }
    b.re.push('$');
    b.end_run();
    // Mirror Go's detected match type: the last classification wins, except
    // that a leading `**` always makes a suffix match.
    let kind = match b.hint {
        Some("suffix") => Kind::Suffix(text[2..].to_string()),
        Some("prefix") => Kind::Prefix(text[..text.len() - 2].to_string()),
        _ if b.exact => Kind::Exact,
        _ if b.native => Kind::Glob(Glob { toks: b.toks }),
        _ => Kind::Regex(b.re.clone(), b.runs),
    };
    (kind, b.re)
}

impl Glob {
    /// The runs of literal characters, each of which any match contains.
    pub(super) fn literal_runs(&self) -> Vec<String> {
        let mut runs = Vec::new();
        let mut run = String::new();
        for t in &self.toks {
            match t {
                Tok::Lit(c) => run.push(*c),
                _ if run.is_empty() => {}
                _ => runs.push(std::mem::take(&mut run)),
            }
        }
        if !run.is_empty() {
            runs.push(run);
        }
        runs
    }

    /// Whether the whole of `text` matches; adds the steps taken to `work`.
    ///
    /// A breadth-first walk of the pattern's automaton: at most (tokens + 1)
    /// × (characters + 1) steps, never the exponential backtracking that
    /// `*a*a*a…` patterns would cost a naive matcher.
    pub(super) fn is_match(&self, text: &str, work: &mut u64) -> bool {
        let n = self.toks.len();
        // States 0..=n are "before token i"; n+1+i is "inside the `.*/` of
        // the DirStar at i", which unlike state i cannot skip the token.
        let mut seen = vec![usize::MAX; 2 * n + 2];
        let mut current = Vec::new();
        let mut next = Vec::new();
        self.add(0, 0, &mut seen, &mut current);
        *work += seen.len() as u64;
        for (step, c) in text.chars().enumerate() {
            *work += current.len() as u64 + 1;
            for &s in &current {
                self.advance(s, c, step + 1, &mut seen, &mut next);
            }
            std::mem::swap(&mut current, &mut next);
            next.clear();
            if current.is_empty() {
                return false;
            }
        }
        current.contains(&n)
    }

    /// Where state `s` goes on character `c`, added to `next` at `step`.
    fn advance(&self, s: usize, c: char, step: usize, seen: &mut [usize], next: &mut Vec<usize>) {
        let n = self.toks.len();
        if s > n {
            // Inside a DirStar's `.*/`.
            let at = s - n - 1;
            if c != '\n' {
                self.add(s, step, seen, next);
                if c == '/' {
                    self.add(at + 1, step, seen, next);
                }
            }
            return;
        }
        match self.toks.get(s) {
            None => {}
            Some(Tok::Lit(l)) if *l == c => self.add(s + 1, step, seen, next),
            Some(Tok::Lit(_)) => {}
            Some(Tok::One) if c != '/' => self.add(s + 1, step, seen, next),
            Some(Tok::One) => {}
            Some(Tok::Star) if c != '/' => self.add(s, step, seen, next),
            Some(Tok::Star) => {}
            Some(Tok::AnyTail) if c != '\n' => self.add(s, step, seen, next),
            Some(Tok::AnyTail) => {}
            Some(Tok::DirStar) => self.advance(n + 1 + s, c, step, seen, next),
        }
    }

    /// Adds state `s` and what it reaches without a character (a loop, not
    /// recursion: a hostile pattern may chain thousands of `*`).
    fn add(&self, mut s: usize, step: usize, seen: &mut [usize], out: &mut Vec<usize>) {
        while seen[s] != step {
            seen[s] = step;
            out.push(s);
            if !matches!(
                self.toks.get(s),
                Some(Tok::Star | Tok::DirStar | Tok::AnyTail)
            ) {
                break;
            }
            s += 1;
        }
    }
}

/// The syntax errors Go's `filepath.Match` reports: unclosed or empty
/// character classes and a trailing backslash inside a class.
pub(super) fn validate_syntax(p: &str) -> Result<(), String> {
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
