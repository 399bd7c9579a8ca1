//! The course's own Dockerfiles against the course's rules. Every reference
//! solution under `solutions/` is clean, except 02-layers' `Dockerfile.02c`:
//! that exercise *is* the mistake (remove git in a later RUN, then compare
//! the image sizes). The accepted (`ok/`) and known-wrong (`wrong/`) cases
//! give exactly the findings listed in [`CASES`].

use std::path::{Path, PathBuf};

use super::*;

fn solutions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("solutions")
}

/// Every `Dockerfile*` under `dir`, recursively.
fn dockerfiles(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).expect("solutions/ is readable");
    for path in entries.flatten().map(|e| e.path()) {
        if path.is_dir() {
            dockerfiles(&path, out);
        } else if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("Dockerfile"))
        {
            out.push(path);
        }
    }
}

/// The context the exercise gives: 04-non-root wants a user; a
/// `.dockerignore` next to the Dockerfile is the build context's.
fn context_for(relative: &Path) -> RuleContext {
    let exercise = relative.components().next().map(|c| c.as_os_str());
    RuleContext {
        wants_non_root: exercise.is_some_and(|e| e == "04-non-root"),
        has_dockerignore: solutions()
            .join(relative)
            .with_file_name(".dockerignore")
            .exists(),
    }
}

/// `rule@line` for each course finding, with the path under solutions/.
fn all_findings() -> Vec<(String, Vec<String>)> {
    let root = solutions();
    let mut files = Vec::new();
    dockerfiles(&root, &mut files);
    files.sort();
    files
        .iter()
        .map(|path| {
            let relative = path.strip_prefix(&root).expect("under solutions/");
            let text = std::fs::read_to_string(path).expect("readable");
            let findings = check_rules(&text, Rule::course(), &context_for(relative))
                .unwrap_or_else(|e| panic!("{}: {e}", relative.display()));
            let found = findings
                .iter()
                .map(|f| format!("{}@{}", f.rule, f.line))
                .collect();
            (relative.display().to_string(), found)
        })
        .collect()
}

/// The reference solutions: the Dockerfiles directly in an exercise's folder.
fn is_reference(relative: &str) -> bool {
    relative.matches('/').count() == 1
}

#[test]
fn reference_solutions_break_no_course_rule_but_the_02c_mistake() {
    let references: Vec<_> = all_findings()
        .into_iter()
        .filter(|(path, _)| is_reference(path))
        .collect();
    assert!(references.len() >= 10, "{references:?}");
    for (path, found) in references {
        let expected: &[&str] = if path == "02-layers/Dockerfile.02c" {
            &["remove-in-later-run@3"]
        } else {
            &[]
        };
        assert_eq!(found, expected, "{path}");
    }
}

/// Each case with course findings, and what they are. A case not listed
/// has none.
const CASES: &[(&str, &[&str])] = &[
    (
        "02-layers/ok/apt-like-the-tutorial/Dockerfile.02c",
        &["remove-in-later-run@3"],
    ),
    (
        "02-layers/ok/no-recommends-continuations/Dockerfile.02c",
        &["remove-in-later-run@9"],
    ),
    (
        "02-layers/ok/split-runs-remove/Dockerfile.02b",
        &["install-without-update@3"],
    ),
    (
        "02-layers/ok/split-runs-remove/Dockerfile.02c",
        &["install-without-update@3", "remove-in-later-run@5"],
    ),
    (
        "02-layers/wrong/a-not-plain/Dockerfile.02c",
        &["remove-in-later-run@3"],
    ),
    (
        "02-layers/wrong/a-other-base/Dockerfile.02c",
        &["remove-in-later-run@3"],
    ),
    (
        "02-layers/wrong/b-without-git/Dockerfile.02c",
        &["remove-in-later-run@3"],
    ),
    (
        "02-layers/wrong/c-install-differs-from-b/Dockerfile.02c",
        &["remove-in-later-run@5"],
    ),
    (
        "03-build-context/wrong/copy-everything/Dockerfile.02",
        &["copy-all-without-dockerignore@3"],
    ),
    (
        "03-build-context/wrong/data-under-another-name/Dockerfile.02",
        &["copy-all-without-dockerignore@5"],
    ),
    (
        "03-build-context/wrong/removes-after-copy/Dockerfile.02",
        &["copy-all-without-dockerignore@5"],
    ),
    (
        "03-multistage/wrong/final-from-downloader/Dockerfile.03multi",
        &["remove-in-later-run@10"],
    ),
    (
        "03-same-layer/wrong/purge-in-a-later-layer/Dockerfile.03",
        &["remove-in-later-run@5"],
    ),
    (
        "03-secrets/ok/token-copied-into-first-stage/Dockerfile.03secret",
        &["copy-all-without-dockerignore@3"],
    ),
    (
        "04-data-in-image/ok/copy-everything/Dockerfile.04",
        &["copy-all-without-dockerignore@4"],
    ),
    (
        "04-non-root/wrong/faking-entrypoint/Dockerfile.04user",
        &["root-user@3"],
    ),
    (
        "04-non-root/wrong/forgot-user/Dockerfile.04user",
        &["root-user@2"],
    ),
    (
        "04-non-root/wrong/user-root/Dockerfile.04user",
        &["root-user@6"],
    ),
];

#[test]
fn accepted_and_known_wrong_cases_give_the_listed_findings() {
    let actual: Vec<(String, Vec<String>)> = all_findings()
        .into_iter()
        .filter(|(path, found)| !is_reference(path) && !found.is_empty())
        .collect();
    let expected: Vec<(String, Vec<String>)> = CASES
        .iter()
        .map(|(path, found)| {
            let found = found.iter().map(|s| s.to_string()).collect();
            (path.to_string(), found)
        })
        .collect();
    let listing: String = actual
        .iter()
        .map(|(path, found)| format!("    ({path:?}, &{found:?}),\n"))
        .collect();
    assert_eq!(actual, expected, "the cases now give:\n{listing}");
}
