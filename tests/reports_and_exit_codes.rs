//! JUnit and JSON reports parse and agree with the outcome; exit codes 0–3.

mod common;

use common::{Workspace, check_named};
use predicates::prelude::*;

const SPEC: &str = r#"
id = "noisy"
title = "Output with escapes"

[[steps]]
name = "noise"
run = { image = "busybox:1.35", cmd = ["sh", "-c", "printf '\\033[31mred\\033[0m \\001\\002 <tag> & done\\n'; exit 4"] }

[[checks]]
name = "exits cleanly"
step = "noise"
exit_code = 0
points = 2
hint = "Exit with <0> & smile"

[[checks]]
name = "says done"
step = "noise"
stdout = { contains = "done" }
"#;

#[test]
fn junit_and_json_are_well_formed_and_match_the_outcome() {
    let ws = Workspace::new();
    ws.write("exercises/noisy.toml", SPEC);
    let junit_path = ws.path("junit.xml");
    let (code, _, json) = ws.check(&["--junit", junit_path.to_str().expect("utf-8 path")]);
    assert_eq!(code, 1);

    assert_eq!(json["schema"], "dockgrade.report/1");
    let totals = &json["totals"];
    assert_eq!(
        (
            totals["checks"].as_u64(),
            totals["passed"].as_u64(),
            totals["failed"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(
        (totals["points"].as_u64(), totals["max_points"].as_u64()),
        (Some(1), Some(3))
    );
    let failed = check_named(&json, "exits cleanly");
    assert_eq!(failed["expected"], "exit code 0");
    assert_eq!(failed["actual"], "exit code 4");
    assert_eq!(failed["hint"], "Exit with <0> & smile");
    let step = &json["exercises"][0]["steps"][0];
    assert_eq!(
        (step["name"].as_str(), step["exit_code"].as_i64()),
        (Some("noise"), Some(4))
    );

    let xml = std::fs::read_to_string(&junit_path).expect("junit written");
    let doc = roxmltree::Document::parse(&xml)
        .unwrap_or_else(|e| panic!("JUnit is not well-formed XML: {e}\n{xml}"));
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 1);
    assert_eq!(suites[0].attribute("tests"), Some("2"));
    assert_eq!(suites[0].attribute("failures"), Some("1"));
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .expect("a failure element");
    let text = failure.attribute("message").unwrap_or_default().to_string()
        + failure.text().unwrap_or_default();
    assert!(
        text.contains("expected: exit code 0") && text.contains("actual: exit code 4"),
        "{text}"
    );
    let out = doc
        .descendants()
        .filter(|n| n.has_tag_name("system-out"))
        .filter_map(|n| n.text())
        .collect::<String>();
    assert!(
        out.contains("red \\x01\\x02 <tag> & done"),
        "step output kept, escapes made printable: {out}"
    );
    assert!(!xml.contains('\u{1b}'));
}

#[test]
fn format_json_and_junit_print_to_stdout() {
    let ws = Workspace::new();
    ws.write("exercises/noisy.toml", SPEC);
    let out = ws
        .dockgrade()
        .args(["check", "--format", "json"])
        .output()
        .expect("runs");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(json["totals"]["failed"], 1);
    common::assert_nothing_left(json["run_id"].as_str().expect("run id"));
    let out = ws
        .dockgrade()
        .args(["check", "--format", "junit"])
        .output()
        .expect("runs");
    let xml = String::from_utf8(out.stdout).expect("utf-8");
    roxmltree::Document::parse(&xml).expect("stdout is XML");
}

#[test]
fn exit_code_0_when_every_check_passes() {
    let ws = Workspace::new();
    ws.write(
        "exercises/ok.toml",
        "id = \"ok\"\ntitle = \"ok\"\n[[steps]]\nname = \"r\"\nrun = { image = \"busybox:1.35\", cmd = [\"true\"] }\n\
         [[checks]]\nname = \"zero\"\nstep = \"r\"\nexit_code = 0\n",
    );
    let (code, stdout, _) = ws.check(&[]);
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn exit_code_2_for_spec_errors_before_any_daemon_is_contacted() {
    let ws = Workspace::new();
    ws.write("exercises/bad.toml", "id = \"bad\"\ntitle = \"x\"\n[[steps]]\nname = \"r\"\nrun = { image = \"busybox\", timout = \"5s\" }\n");
    ws.dockgrade()
        .args(["check"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("exercises/bad.toml:5:28: steps[0].run.timout: unknown key `timout`; did you mean `timeout`?"))
        .stderr(predicate::str::contains("exercises/bad.toml:1:1: checks: missing key `checks` in the exercise"))
        .stderr(predicate::str::contains("2 error(s) in exercise specs"));
    ws.dockgrade().args(["lint"]).assert().code(2);
    ws.dockgrade().args(["check", "nope"]).assert().code(2);
    ws.dockgrade()
        .args(["check", "--jobs", "0"])
        .assert()
        .code(2);
}

#[test]
fn exit_code_2_for_an_unknown_exercise_or_missing_submission() {
    let ws = Workspace::new();
    ws.write("exercises/ok.toml", "id = \"ok\"\ntitle = \"ok\"\n[[steps]]\nname = \"r\"\nimage = \"busybox:1.35\"\n[[checks]]\nname = \"c\"\nstep = \"r\"\nlayers = { max = 9 }\n");
    ws.dockgrade()
        .args(["check", "other"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no exercise `other` in exercises (known: ok)",
        ));
    ws.dockgrade()
        .args(["check", "--submission", "missing"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("does not exist"));
}

#[test]
fn exit_code_3_when_the_daemon_cannot_be_reached() {
    let ws = Workspace::new();
    ws.write("exercises/ok.toml", "id = \"ok\"\ntitle = \"ok\"\n[[steps]]\nname = \"r\"\nimage = \"busybox:1.35\"\n[[checks]]\nname = \"c\"\nstep = \"r\"\nlayers = { max = 9 }\n");
    ws.dockgrade()
        .args(["check"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "cannot reach the Docker daemon at unix:///nonexistent/docker.sock",
        ));
    ws.dockgrade()
        .arg("clean")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .assert()
        .code(3);
}

#[test]
fn list_shows_sections_and_points_and_lint_accepts_good_specs() {
    let ws = Workspace::new();
    ws.write("exercises/b.toml", "id = \"b\"\ntitle = \"Second\"\nsection = \"10.1\"\n[[steps]]\nname = \"r\"\nimage = \"x:1\"\n[[checks]]\nname = \"c\"\nstep = \"r\"\npoints = 4\nlayers = { max = 9 }\n");
    ws.write("exercises/a.toml", "id = \"a\"\ntitle = \"First\"\nsection = \"2.2\"\n[[steps]]\nname = \"r\"\nimage = \"x:1\"\n[[checks]]\nname = \"c\"\nstep = \"r\"\nlayers = { max = 9 }\n");
    let out = ws.dockgrade().arg("list").output().expect("runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "SECTION  ID  POINTS  TITLE\n2.2      a       1  First\n10.1     b       4  Second\n"
    );
    ws.dockgrade()
        .arg("lint")
        .assert()
        .code(0)
        .stdout("2 exercise spec(s) OK, 0 warning(s)\n");
}
