//! Tests of the `.dockerignore` rules, of the index, and of its equivalence
//! with moby's algorithm as it was first written here: one loop over every
//! pattern per path (kept below as [`Reference`], the oracle of the property
//! tests).

use proptest::prelude::*;
use regex::Regex;

use super::compile::{Kind, compile, validate_syntax};
use super::*;

fn ignored(patterns: &[&str], path: &str) -> bool {
    Matcher::new(patterns)
        .expect("patterns compile")
        .matches_or_parent_matches(path)
        .expect("within the work limit")
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

/// The straightforward algorithm: each path runs every pattern, and a
/// folder hands down one flag per pattern (moby's `MatchesUsingParentResults`).
struct Reference {
    patterns: Vec<(String, bool, RefKind)>,
}

enum RefKind {
    Exact,
    Prefix(String),
    Suffix(String),
    Regex(Regex),
}

impl Reference {
    fn new(patterns: &[String]) -> Result<Reference, String> {
        let mut out = Vec::new();
        for p in patterns {
            let p = p.trim();
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
            }
            validate_syntax(&p)?;
            let kind = match compile(&p) {
                (Kind::Exact, _) => RefKind::Exact,
                (Kind::Prefix(s), _) => RefKind::Prefix(s),
                (Kind::Suffix(s), _) => RefKind::Suffix(s),
                (Kind::Glob(_) | Kind::Regex(..), re) => RefKind::Regex(
                    Regex::new(&re).map_err(|e| format!("invalid pattern {p:?}: {e}"))?,
                ),
            };
            out.push((p, exclusion, kind));
        }
        Ok(Reference { patterns: out })
    }

    fn matches(&self, i: usize, path: &str) -> bool {
        let (text, _, kind) = &self.patterns[i];
        match kind {
            RefKind::Exact => path == text,
            RefKind::Prefix(p) => path.starts_with(p.as_str()),
            RefKind::Suffix(s) => {
                path.ends_with(s.as_str()) || (s.starts_with('/') && path == &s[1..])
            }
            RefKind::Regex(re) => re.is_match(path),
        }
    }

    /// `None` as `parent` is moby's zero value.
    fn matches_using_parent(&self, path: &str, parent: Option<&[bool]>) -> (bool, Vec<bool>) {
        let mut matched = false;
        let mut info = vec![false; self.patterns.len()];
        for (i, (_, exclusion, _)) in self.patterns.iter().enumerate() {
            let mut hit = parent.is_some_and(|p| p[i]);
            if !hit {
                if *exclusion != matched {
                    continue;
                }
                hit = self.matches(i, path);
                if !hit && parent.is_none() {
                    let dir = parent_of(path);
                    if dir != "." {
                        let dirs: Vec<&str> = dir.split('/').collect();
                        hit = (0..dirs.len()).any(|k| self.matches(i, &dirs[..=k].join("/")));
                    }
                }
            }
            info[i] = hit;
            if hit {
                matched = !exclusion;
            }
        }
        (matched, info)
    }

    fn may_reinclude_under(&self, dir: &str) -> bool {
        let dir_slash = format!("{dir}/");
        self.patterns
            .iter()
            .any(|(text, exclusion, _)| *exclusion && format!("{text}/").starts_with(&dir_slash))
    }
}

/// Pattern lines made of the characters the rules care about.
fn pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[ab/*?.]{0,7}",
        2 => "!?(\\*\\*/)?[ab*?]{0,3}(/\\*\\*)?",
        1 => "[ab/*?.!\\\\\\[\\]^é\n-]{0,6}",
        1 => r"(\\[xuUdpwsb][0-9a-fA-F]{0,8}|\[\^?[ab-]{1,3}\]|[ab*?/]){1,4}",
    ]
}

/// Paths like a walk sees (no leading `/`, no empty component), and a few
/// that are not.
fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::collection::vec("[ab.*?é\n]{1,3}", 1..5).prop_map(|c| c.join("/")),
        1 => "[ab/.é]{0,8}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_index_decides_like_the_reference(
        patterns in prop::collection::vec(pattern(), 0..8),
        paths in prop::collection::vec(path(), 1..6),
    ) {
        let reference = Reference::new(&patterns);
        let matcher = Matcher::new(&patterns);
        let (reference, matcher) = match (reference, matcher) {
            (Ok(r), Ok(m)) => (r, m),
            (Err(r), Err(PatternError::Invalid(m))) => {
                prop_assert_eq!(r, m);
                return Ok(());
            }
            (r, m) => {
                prop_assert!(false, "reference {:?} but matcher {:?}", r.err(), m.err());
                unreachable!()
            }
        };
        for path in &paths {
            // Without parent results: each parent folder is matched too.
            let (want, _) = reference.matches_using_parent(path, None);
            prop_assert_eq!(matcher.matches_or_parent_matches(path).unwrap(), want, "{}", path);
            // As the walk does it: each folder hands its results down.
            let (mut r_info, mut m_info) = (None, ParentMatches::default());
            let mut prefix = String::new();
            for component in path.split('/') {
                if !prefix.is_empty() {
                    prefix.push('/');
                }
                prefix.push_str(component);
                let (want, info) = reference.matches_using_parent(&prefix, r_info.as_deref());
                let (got, next) = matcher.matches_using_parent(&prefix, &m_info).unwrap();
                prop_assert_eq!(got, want, "{} in {}", prefix, path);
                r_info = Some(info);
                m_info = next;
            }
            prop_assert_eq!(
                matcher.may_reinclude_under(path),
                reference.may_reinclude_under(path)
            );
        }
    }

    #[test]
    fn globs_match_like_their_regex(text in "[ab/*?.é\n]{0,8}", path in "[ab/.é\n]{0,8}") {
        if let (Kind::Glob(glob), re) = compile(&text) {
            let want = Regex::new(&re).expect("a glob's regex compiles").is_match(&path);
            prop_assert_eq!(glob.is_match(&path, &mut 0), want, "{} on {:?}", re, path);
        }
    }
}

#[test]
fn the_first_bad_line_is_the_one_reported() {
    let err = Matcher::new(&["\\é", "!"]).expect_err("both lines are bad");
    assert!(
        matches!(&err, PatternError::Invalid(m) if m.starts_with("invalid pattern \"\\\\é\"")),
        "{err}"
    );
    let err = Matcher::new(&["[ab]", "!"]).expect_err("the second line is bad");
    assert_eq!(err.to_string(), "illegal exclusion pattern: \"!\"");
}

#[test]
fn what_follows_a_class_or_an_escape_is_not_taken_as_literal() {
    let runs = |text: &str| match compile(text).0 {
        Kind::Regex(_, runs) => runs,
        other => panic!("{text} compiled to {other:?}"),
    };
    assert_eq!(runs("**/[Bb]uild*.log"), vec!["uild", ".log"]);
    assert_eq!(runs("src/*.py[cod]"), vec!["src/", ".py"]);
    assert_eq!(runs("a^b*"), vec!["a", "b"]);
    assert_eq!(runs(r"ab\x41cdefghij"), vec!["ab", "ij"]);
    let m = Matcher::new(&[r"ab\x41cd", "[xy]z.txt"]).expect("compiles");
    assert!(m.matches_or_parent_matches("abAcd").unwrap());
    assert!(m.matches_or_parent_matches("yz.txt").unwrap());
}

#[test]
fn each_kind_of_pattern_is_indexed_where_it_belongs() {
    let m = Matcher::new(&["exact", "pre/**", "**/suf", "**/*.log", "[ab].txt", "?"])
        .expect("compiles");
    let hits = |path: &str| {
        let mut out = Vec::new();
        m.index.hits(path, &mut 0, &mut out);
        out.sort_unstable();
        out
    };
    assert_eq!(hits("exact"), vec![0]);
    assert_eq!(hits("pre/x/y"), vec![1]);
    assert_eq!(hits("a/suf"), vec![2]);
    assert_eq!(hits("suf"), vec![2], "`**/suf` matches `suf` itself");
    assert_eq!(hits("x/y.log"), vec![3]);
    assert_eq!(hits("b.txt"), vec![4]);
    assert_eq!(hits("z"), vec![5]);
    assert_eq!(hits("zz"), Vec::<u32>::new());
}

#[test]
fn repeated_lines_cost_one_rule_and_keep_their_order() {
    let mut lines = Vec::new();
    for _ in 0..25_000 {
        lines.push("data/**".to_string());
        lines.push("!data/**".to_string());
    }
    lines.push("data/keep".to_string());
    let m = Matcher::new(&lines).expect("compiles");
    assert_eq!(m.lines.len(), 2);
    let reference = Reference::new(&lines).expect("compiles");
    for path in ["data/x", "data/keep", "data/keep/y", "other"] {
        assert_eq!(
            m.matches_or_parent_matches(path).unwrap(),
            reference.matches_using_parent(path, None).0,
            "{path}"
        );
    }
}

#[test]
fn a_chain_of_stars_does_not_overflow_the_stack() {
    let text = format!("x/{}", "*".repeat(200_001));
    let m = Matcher::new(&[text]).expect("compiles");
    assert!(m.matches_or_parent_matches("x/a/b").unwrap());
    assert!(!m.matches_or_parent_matches("y/a").unwrap());
}

#[test]
fn too_many_patterns_with_classes_are_too_complex() {
    let lines: Vec<String> = (0..=MAX_REGEX_PATTERNS)
        .map(|i| format!("[ab]{i}"))
        .collect();
    let err = Matcher::new(&lines).expect_err("too many");
    assert_eq!(
        err,
        PatternError::TooComplex(format!(
            "it has more than {MAX_REGEX_PATTERNS} patterns with character classes or backslash escapes"
        ))
    );
}

#[test]
fn matching_stops_once_it_costs_more_than_the_work_limit() {
    // Every path must try every one of these: they share their literal.
    let lines: Vec<String> = (0..2_000)
        .map(|i| format!("**/*a{}", "?".repeat(i % 50)))
        .collect();
    let mut m = Matcher::new(&lines).expect("compiles");
    m.work_limit = 50_000_000;
    let mut paths = 0;
    let err = loop {
        match m.matches_using_parent(&format!("dir/a{paths}"), &ParentMatches(Some(None))) {
            Ok(_) => paths += 1,
            Err(e) => break e,
        }
        assert!(paths < 100_000, "the work limit was never reached");
    };
    assert!(matches!(err, PatternError::TooComplex(_)), "{err}");
    assert!(paths > 10, "an honest number of paths must pass: {paths}");
}

#[test]
fn the_trie_finds_prefixes_and_every_occurrence() {
    let mut t = trie::Trie::new();
    for (i, s) in ["a", "ab", "bab", "b"].iter().enumerate() {
        assert_eq!(t.insert(s.bytes(), i as u32), i as u32);
    }
    assert_eq!(
        t.insert("ab".bytes(), 9),
        1,
        "an existing string keeps its id"
    );
    let mut found = Vec::new();
    t.prefixes_of("abx".bytes(), &mut |id| found.push(id));
    assert_eq!(found, vec![0, 1]);
    t.link();
    found.clear();
    t.occurrences(b"xabab", &mut |id| found.push(id));
    found.sort_unstable();
    assert_eq!(found, vec![0, 0, 1, 1, 2, 3, 3]);
}
