//! The daemon dies mid-run: the grade is an infrastructure error (exit 3, not
//! a student's failure), the report is still written, and after a restart
//! `dockgrade clean` removes what was left.
//!
//! It stops and restarts the daemon (with `ci/docker-up.sh`), so it is
//! ignored by default and run on its own by `.ci/run`:
//! `cargo test --test daemon_fault -- --ignored`.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Workspace, fixture_dir};

/// The system daemon's process (a rootless daemon, ci/rootless-up.sh's,
/// may run beside it under the same name: it is left alone).
fn dockerd_pid() -> Option<String> {
    std::fs::read_to_string("/var/run/docker.pid")
        .ok()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
}

fn dockerd_running(pid: &str) -> bool {
    Command::new("kill")
        .args(["-0", pid])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
#[ignore = "stops the Docker daemon; .ci/run runs it with --ignored"]
fn a_daemon_that_dies_mid_run_is_an_infrastructure_error_and_clean_recovers() {
    let ws = Workspace::new();
    ws.write(
        "exercises/fault.toml",
        "id = \"fault\"\ntitle = \"Fault\"\n[[steps]]\nname = \"long\"\n\
         run = { image = \"busybox:1.35\", cmd = [\"sleep\", \"300\"], timeout = \"200s\" }\n\
         [[checks]]\nname = \"finishes\"\nstep = \"long\"\nexit_code = 0\n",
    );
    let report = ws.path("report.json");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("dockgrade"))
        .current_dir(ws.path("."))
        .args(["check", "--json"])
        .arg(&report)
        .stdout(Stdio::null())
        .spawn()
        .expect("spawns");
    let deadline = Instant::now() + Duration::from_secs(60);
    while common::docker(&["ps", "-q", "--filter", "name=fault-long"])
        .stdout
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the container never started");
        std::thread::sleep(Duration::from_millis(200));
    }

    let pid = dockerd_pid().expect("the system daemon's pid file");
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let status = child.wait().expect("waits");
    // Bring the daemon back before asserting, so a failure leaves it running.
    let deadline = Instant::now() + Duration::from_secs(60);
    while dockerd_running(&pid) {
        assert!(Instant::now() < deadline, "dockerd did not stop");
        std::thread::sleep(Duration::from_millis(200));
    }
    let up = Command::new(fixture_dir().join("ci/docker-up.sh"))
        .status()
        .expect("docker-up runs");
    assert!(up.success(), "the daemon did not come back");

    assert_eq!(
        status.code(),
        Some(3),
        "a dead daemon is an infrastructure error"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report written"))
            .expect("JSON");
    let check = common::check_named(&json, "finishes");
    assert_eq!(check["status"], "error", "{check:#}");
    assert_eq!(json["totals"]["error"], 1);

    let clean = ws.dockgrade().arg("clean").output().expect("clean runs");
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    common::assert_nothing_left(json["run_id"].as_str().expect("run id"));
}
