//! Hostile submissions against the grader's host and grade: an image's own
//! healthcheck, disk filled by a run or a build, an ENTRYPOINT that answers
//! in place of the command a check asks for, a command that cannot start.

mod common;

use std::time::{Duration, Instant};

use common::{Workspace, check_named, fixture_dir};

/// One build and one run of the student's image, with what `run` says.
fn spec(build: &str, run: &str, stdout: &str) -> String {
    format!(
        r#"
id = "hostile"
title = "Hostile"

[[steps]]
name = "image"
build = {{ dockerfile = "Dockerfile", timeout = "60s"{build} }}

[[steps]]
name = "run"
run = {{ image = "image", timeout = "20s"{run} }}

[[checks]]
name = "builds"
step = "image"
build = "succeeds"

[[checks]]
name = "prints"
step = "run"
stdout = {{ equals = "{stdout}" }}
"#
    )
}

#[test]
fn an_images_healthcheck_does_not_run_during_grading() {
    let ws = Workspace::new();
    ws.write(
        "exercises/hostile.toml",
        spec(
            "",
            r#", cmd = ["sh", "-c", "sleep 4; if [ -e /tmp/healthcheck-ran ]; then echo ran; else echo never; fi"]"#,
            "never",
        ),
    );
    ws.write(
        "Dockerfile",
        "FROM busybox:1.35\nHEALTHCHECK --interval=1s --timeout=1s CMD touch /tmp/healthcheck-ran\n",
    );
    let (code, stdout, report) = ws.check(&[]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(check_named(&report, "prints")["status"], "passed");
}

#[test]
fn a_run_that_fills_its_disk_is_killed_at_its_budget() {
    let ws = Workspace::new();
    ws.write(
        "exercises/hostile.toml",
        spec(
            "",
            r#", cmd = ["sh", "-c", "while true; do dd if=/dev/zero bs=1M count=10 >> /big 2>/dev/null; sleep 0.1; done"], limits = { disk = "50 MB" }"#,
            "never",
        ),
    );
    ws.write("Dockerfile", "FROM busybox:1.35\n");
    let started = Instant::now();
    let (code, stdout, report) = ws.check(&[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "stopped by its disk budget, not its 20 s timeout: {:?}",
        started.elapsed()
    );
    let message = check_named(&report, "prints")["message"]
        .as_str()
        .expect("message");
    assert!(
        message.starts_with("killed: wrote ")
            && message.ends_with("to its disk, more than the 50.0 MB limit"),
        "{message}"
    );
}

#[test]
fn a_build_that_fills_its_disk_is_stopped_at_its_budget() {
    let ws = Workspace::new();
    ws.write(
        "exercises/hostile.toml",
        spec(r#", limits = { disk = "50 MB" }"#, "", "x"),
    );
    ws.write(
        "Dockerfile",
        "FROM busybox:1.35\nRUN i=0; while [ $i -lt 200 ]; do dd if=/dev/zero bs=1M count=10 >> /big 2>/dev/null; sleep 0.1; i=$((i+1)); done\n",
    );
    let started = Instant::now();
    let (code, stdout, report) = ws.check(&[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let message = check_named(&report, "builds")["message"]
        .as_str()
        .expect("message");
    assert!(
        message.contains("more than the 50.0 MB limit, and was stopped at `Step 2/"),
        "{message}"
    );
}

#[test]
fn an_entrypoint_that_fakes_the_graders_commands_fails_04_non_root() {
    let wrong = fixture_dir().join("solutions/04-non-root/wrong/faking-entrypoint");
    let ws = Workspace::new();
    let (code, stdout, report) = ws.check(&[
        "04-non-root",
        "--exercises-dir",
        fixture_dir().join("exercises").to_str().expect("utf-8"),
        "--submission",
        wrong.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(report["totals"]["points"], 1, "only the build: {stdout}");
    let uid = check_named(&report, "id -u prints a non-zero uid");
    assert_eq!(uid["status"], "failed");
    assert!(
        uid["actual"].as_str().is_some_and(|a| a.contains("\"0\"")),
        "id -u ran, and said 0: {uid}"
    );
}

#[test]
fn a_command_that_cannot_start_says_why() {
    let ws = Workspace::new();
    ws.write(
        "exercises/hostile.toml",
        spec("", r#", cmd = ["no-such-program"]"#, "x"),
    );
    ws.write("Dockerfile", "FROM busybox:1.35\n");
    let (code, stdout, report) = ws.check(&[]);
    assert_eq!(code, 1, "{stdout}");
    let actual = check_named(&report, "prints")["actual"]
        .as_str()
        .expect("actual");
    // The check says the command never ran; the reason is said once, under
    // the step, not repeated under every check of its output.
    assert!(actual.contains("the command never started"), "{actual}");
    assert!(
        stdout.contains("the command could not start") && stdout.contains("no-such-program"),
        "{stdout}"
    );
}
