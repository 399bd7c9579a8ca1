//! Fuzzing the spec parser: no input may make it panic, and every error it
//! reports points inside the text it was given.
//!
//! Three generators: arbitrary bytes; TOML assembled from the spec's own keys
//! and hostile values; and random edits of real specs. `PROPTEST_CASES` sets
//! how many cases each runs (CI runs more than the default); a failing input
//! is saved under `proptest-regressions/` and replayed first ever after. The
//! files in `tests/fuzz_corpus/` are inputs that once broke a parser like
//! this one; each is replayed on every run.

use dockgrade::spec::{AssertionKind, parse_exercise};
use proptest::prelude::*;

fn assert_sane(text: &str) {
    let lines = text.split('\n').count();
    if let Err(errors) = parse_exercise("exercises/fuzz.toml", text) {
        assert!(!errors.is_empty(), "an Err must carry at least one error");
        for e in errors {
            assert!(
                e.line >= 1 && e.line <= lines,
                "line {} outside 1..={lines}: {e}",
                e.line
            );
            assert!(e.column >= 1, "column 0: {e}");
            let rendered = e.render();
            assert!(rendered.contains("exercises/fuzz.toml:"), "{rendered}");
        }
    }
}

/// Every key a spec may hold but the assertions', which come from the
/// parser's own list ([`AssertionKind::ALL`]), so a new assertion is fuzzed
/// as soon as it exists.
const OTHER_KEYS: &[&str] = &[
    "id",
    "title",
    "section",
    "description",
    "timeout",
    "name",
    "image",
    "pull",
    "run",
    "step",
    "points",
    "hint",
    "dockerfile",
    "target",
    "args",
    "no_cache",
    "network",
    "limits",
    "max_context",
    "cmd",
    "entrypoint",
    "env",
    "workdir",
    "stdin",
    "mounts",
    "type",
    "source",
    "readonly",
    "max",
    "min",
    "max_over",
    "by",
    "smaller_than",
    "larger_than",
    "present",
    "absent",
    "path",
    "mode",
    "uid",
    "gid",
    "contains",
    "not_contains",
    "matches",
    "not_matches",
    "equals",
    "not",
    "in",
    "not_root",
    "memory",
    "pids",
    "cpus",
    "required",
    "service",
    "push",
    "exec",
    "after",
    "port",
    "ready",
    "to",
    "as",
    "method",
    "path",
    "headers",
    "status",
    "header",
    "json",
    "pointer",
    "grew_since",
    "shrank_since",
];

fn keys() -> Vec<&'static str> {
    let mut keys = OTHER_KEYS.to_vec();
    keys.extend(AssertionKind::ALL.map(AssertionKind::key));
    keys
}
const VALUES: &[&str] = &[
    "\"x\"",
    "\"\"",
    "0",
    "-1",
    "9223372036854775807",
    "1.5",
    "true",
    "[]",
    "[\"a\", 1]",
    "{}",
    "{ x = 1 }",
    "\"../x\"",
    "\"/abs\"",
    "\"10 MB\"",
    "\"10 XB\"",
    "\"1.5GiB\"",
    "\"20s\"",
    "\"forever\"",
    "\"(\"",
    "\"[a-\"",
    "\"\\u00e9\"",
    "\"0755\"",
    "\"9999\"",
    "1979-05-27T07:32:00Z",
    "inf",
    "nan",
    "0x10",
    "\"é\u{0}\"",
    "{ type = \"bind\" }",
    "[{ type = \"scratch\", target = \"/o\" }]",
    "{ not = 0 }",
    "{ in = [] }",
    "\"/v2/{a.digest}\"",
    "\"/v2/{a.layers[-9223372036854775808]}\"",
    "\"{\"",
    "{ http = \"/v2/\" }",
    "{ image = \"a\", to = \"a\", as = \"x:1\" }",
];

const HEADERS: &[&str] = &[
    "[[steps]]",
    "[[checks]]",
    "[submission]",
    "[steps]",
    "[[steps.run]]",
    "[x.y]",
    "[[checks]]",
];

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (prop::sample::select(keys()), prop::sample::select(VALUES)).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => (prop::sample::select(keys()), prop::sample::select(keys()), prop::sample::select(VALUES))
            .prop_map(|(k, j, v)| format!("{k} = {{ {j} = {v} }}")),
        1 => prop::sample::select(HEADERS).prop_map(str::to_string),
        1 => "[ -~]{0,30}",
    ]
}

fn seeds() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["exercises", "tests/fuzz_corpus", "bench/structure-test"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            if e.path().extension().is_some_and(|x| x == "toml") {
                out.push(std::fs::read_to_string(e.path()).expect("seed reads"));
            }
        }
    }
    assert!(!out.is_empty(), "no seed specs found");
    out
}

#[test]
fn the_corpus_and_the_course_specs_parse_without_panicking() {
    for seed in seeds() {
        assert_sane(&seed);
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        assert_sane(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn toml_built_from_spec_keys(lines in prop::collection::vec(line(), 0..40)) {
        assert_sane(&lines.join("\n"));
    }

    #[test]
    fn edits_of_real_specs(pick in any::<prop::sample::Index>(), edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..40, "[ -~\n]{0,12}"), 1..6)) {
        let seeds = seeds();
        let mut text = pick.get(&seeds).clone();
        for (at, cut, insert) in edits {
            if text.is_empty() {
                text.push_str(&insert);
                continue;
            }
            let mut start = at.index(text.len());
            while !text.is_char_boundary(start) {
                start -= 1;
            }
            let mut end = (start + cut).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            text.replace_range(start..end, &insert);
        }
        assert_sane(&text);
    }
}
