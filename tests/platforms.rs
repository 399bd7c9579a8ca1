//! The platforms' results from a real `dockgrade check`: GitHub Actions'
//! files (`$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY`) appended to, Gradescope's
//! and PrairieLearn's files written, and a hidden check's name in none of
//! what a student sees.

mod common;

use base64::Engine as _;
use common::Workspace;

const SPEC: &str = r#"
id = "hello"
title = "Say hello"
[[steps]]
name = "image"
build = { dockerfile = "Dockerfile", network = "none", timeout = "60s" }
[[steps]]
name = "run"
run = { image = "image", timeout = "20s" }
[[checks]]
name = "it builds"
step = "image"
build = "succeeds"
points = 2
[[checks]]
name = "it says hello"
step = "run"
stdout = { contains = "hello" }
points = 3
[[checks]]
name = "the secret rubric item"
step = "run"
stdout = { contains = "the grader's answer" }
points = 5
visibility = "hidden"
"#;

#[test]
fn every_platform_gets_its_file_and_no_student_sees_a_hidden_check() {
    let ws = Workspace::new();
    ws.write("exercises/hello.toml", SPEC);
    ws.write(
        "Dockerfile",
        "FROM busybox:1.35\nCMD [\"echo\", \"hello <script>\"]\n",
    );
    // The last writer left no newline: ours still starts on its own line.
    ws.write("gh-output", "earlier=kept");
    ws.write("gh-summary", "# earlier step\n");
    let out = ws
        .dockgrade()
        .args(["check", "--format", "classroom"])
        .arg("--gradescope")
        .arg(ws.path("gradescope.json"))
        .arg("--prairielearn")
        .arg(ws.path("prairielearn.json"))
        .arg("--markdown")
        .arg(ws.path("summary.md"))
        .env("GITHUB_OUTPUT", ws.path("gh-output"))
        .env("GITHUB_STEP_SUMMARY", ws.path("gh-summary"))
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // $GITHUB_OUTPUT: appended, one result= line that decodes.
    let output = std::fs::read_to_string(ws.path("gh-output")).expect("output");
    let mut lines = output.lines();
    assert_eq!(lines.next(), Some("earlier=kept"));
    let encoded = lines
        .next()
        .and_then(|l| l.strip_prefix("result="))
        .expect("result=");
    let payload: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("base64"),
    )
    .expect("JSON");
    assert_eq!(payload["max_score"], 10);
    assert_eq!(payload["status"], "fail");
    let scores: u64 = payload["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .map(|t| t["score"].as_u64().expect("score"))
        .sum();
    assert_eq!(scores, 5);
    // $GITHUB_STEP_SUMMARY: appended Markdown, the same as --markdown.
    let summary = std::fs::read_to_string(ws.path("gh-summary")).expect("summary");
    let markdown = std::fs::read_to_string(ws.path("summary.md")).expect("markdown");
    assert_eq!(summary, format!("# earlier step\n{markdown}"));
    assert!(
        markdown.contains("| ✓ | it says hello | 3/3 |"),
        "{markdown}"
    );
    let gradescope: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("gradescope.json")).expect("file"))
            .expect("JSON");
    assert_eq!(gradescope["score"], 5.0);
    assert_eq!(gradescope["tests"][2]["visibility"], "hidden");
    let prairielearn: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("prairielearn.json")).expect("file"))
            .expect("JSON");
    assert_eq!(prairielearn["gradable"], true);
    assert_eq!(prairielearn["score"], 0.5);
    // What students see: the terminal-free formats above and the payload.
    for (what, text) in [
        ("payload", payload.to_string()),
        ("summary", summary),
        ("prairielearn", prairielearn.to_string()),
    ] {
        assert!(
            !text.contains("secret rubric") && !text.contains("the grader's answer"),
            "{what}: {text}"
        );
    }
    assert!(!markdown.contains("<script>"), "{markdown}");
}
