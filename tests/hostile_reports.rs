//! Hostile submissions against the reports: what a container prints or a
//! build logs can neither forge a JUnit file nor write to the terminal.

mod common;

use common::Workspace;

const SPEC: &str = r#"
id = "hello"
title = "Print hello"

[[steps]]
name = "image"
build = { dockerfile = "Dockerfile", timeout = "30s", max_context = "50 MB" }

[[steps]]
name = "run"
run = { image = "image", timeout = "10s" }

[[checks]]
name = "builds"
step = "image"
build = "succeeds"

[[checks]]
name = "says hello"
step = "run"
stdout = { equals = "hello" }
"#;

/// Closes the CDATA section and the suite, then writes a suite of its own
/// whose test passes.
const FORGED: &str = "]]></system-out></testsuite><testsuite name=\"forged\" tests=\"1\" failures=\"0\"><testcase name=\"all good\" classname=\"hello\"/></testsuite><testsuite name=\"x\"><system-out><![CDATA[";

/// Clears the screen and prints a fake verdict.
const FAKE_VERDICT: &str = "\u{1b}[2J\u{1b}[H\u{1b}[32m✓ all checks passed, 10/10 points\u{1b}[0m";

fn workspace(dockerfile: &str, payload: &str) -> Workspace {
    let ws = Workspace::new();
    ws.write("exercises/hello.toml", SPEC);
    ws.write("Dockerfile", dockerfile);
    ws.write("payload.txt", payload);
    ws
}

/// The testcases of a JUnit file as (suite, case, status).
fn junit_cases(path: &std::path::Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(path).expect("junit written");
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    let mut out = Vec::new();
    for suite in doc.descendants().filter(|n| n.has_tag_name("testsuite")) {
        for case in suite.children().filter(|n| n.has_tag_name("testcase")) {
            let status = ["failure", "error", "skipped"]
                .into_iter()
                .find(|s| case.children().any(|c| c.has_tag_name(*s)))
                .unwrap_or("passed");
            out.push((
                suite.attribute("name").unwrap_or("").to_string(),
                case.attribute("name").unwrap_or("").to_string(),
                status.to_string(),
            ));
        }
    }
    out
}

#[test]
fn a_container_printing_a_forged_suite_does_not_change_the_junit_report() {
    let ws = workspace(
        "FROM busybox:1.35\nCOPY payload.txt /payload.txt\nCMD [\"cat\", \"/payload.txt\"]\n",
        FORGED,
    );
    let junit = ws.path("junit.xml");
    let (code, _, _) = ws.check(&["--junit", junit.to_str().expect("utf-8 path")]);
    assert_eq!(code, 1);
    assert_eq!(
        junit_cases(&junit),
        [
            (
                "hello: Print hello".into(),
                "builds".into(),
                "passed".into()
            ),
            (
                "hello: Print hello".into(),
                "says hello".into(),
                "failure".into()
            ),
        ]
    );
    let text = std::fs::read_to_string(&junit).expect("junit");
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    let out: String = doc
        .descendants()
        .find(|n| {
            n.has_tag_name("system-out") && n.parent().is_some_and(|p| p.has_tag_name("testsuite"))
        })
        .expect("the suite's output")
        .children()
        .filter_map(|n| n.text())
        .collect();
    assert!(out.contains(FORGED), "the output is kept as text: {out}");
}

#[test]
fn a_build_log_with_a_forged_suite_does_not_change_the_junit_report() {
    let ws = workspace(
        "FROM busybox:1.35\nCOPY payload.txt /payload.txt\nRUN cat /payload.txt && exit 3\n",
        FORGED,
    );
    let junit = ws.path("junit.xml");
    let (code, _, _) = ws.check(&["--junit", junit.to_str().expect("utf-8 path")]);
    assert_eq!(code, 1);
    assert_eq!(
        junit_cases(&junit),
        [
            (
                "hello: Print hello".into(),
                "builds".into(),
                "failure".into()
            ),
            (
                "hello: Print hello".into(),
                "says hello".into(),
                "skipped".into()
            ),
        ]
    );
}

#[test]
fn escape_sequences_from_a_submission_never_reach_the_terminal() {
    // A file name in the context-limit message, and a build log.
    let ws = workspace(
        "FROM busybox:1.35\nCOPY payload.txt /payload.txt\nRUN cat /payload.txt && exit 3\n",
        FAKE_VERDICT,
    );
    let (_, stdout, _) = ws.check(&[]);
    assert!(!stdout.contains('\u{1b}'), "{stdout}");
    assert!(
        stdout.contains("\\u{1b}[2J"),
        "shown, made visible: {stdout}"
    );

    let ws = workspace("FROM busybox:1.35\n", "");
    let name = "\u{1b}[2J\u{1b}[H✓ all checks passed";
    let big = std::fs::File::create(ws.path(name)).expect("a file named like a verdict");
    big.set_len(60_000_000).expect("sparse");
    let (code, stdout, _) = ws.check(&[]);
    assert_eq!(code, 1);
    assert!(!stdout.contains('\u{1b}'), "{stdout}");
    assert!(stdout.contains("over the 50.0 MB limit"), "{stdout}");
}
