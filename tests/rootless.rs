//! The rootless exercise against a real rootless daemon (started by
//! `ci/rootless-up.sh`, which needs root: elsewhere these tests say they
//! were skipped), and the safety rule behind it: a privileged probe runs on
//! a rootless daemon only, never on one that runs as root.

mod common;

use std::process::Command;

use common::{Workspace, check_named, fixture_dir};

/// The rootless daemon's address, started if need be; `None` when this
/// machine cannot run one (not root).
fn rootless_host() -> Option<String> {
    if let Ok(host) = std::env::var("DOCKGRADE_ROOTLESS_HOST") {
        return Some(host);
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !is_root {
        eprintln!("skipped: a rootless daemon needs ci/rootless-up.sh, which runs as root");
        return None;
    }
    let up = Command::new(fixture_dir().join("ci/rootless-up.sh"))
        .output()
        .expect("ci/rootless-up.sh runs");
    assert!(
        up.status.success(),
        "ci/rootless-up.sh failed: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    let host = String::from_utf8_lossy(&up.stdout).trim().to_string();
    assert!(host.starts_with("unix://"), "{host}");
    Some(host)
}

/// The daemon that runs as root with `--userns-remap` (04-rootless's wrong
/// case), started if need be; `None` when this machine cannot (not root).
fn userns_host() -> Option<String> {
    if let Ok(host) = std::env::var("DOCKGRADE_USERNS_HOST") {
        return Some(host);
    }
    rootless_host()?;
    let dir = "/tmp/dockgrade-userns";
    let up = Command::new(fixture_dir().join("ci/second-daemon.sh"))
        .args(["start", dir])
        .env("DOCKGRADE_DAEMON_ARGS", "--userns-remap=default")
        .output()
        .expect("ci/second-daemon.sh runs");
    assert!(
        up.status.success(),
        "ci/second-daemon.sh failed: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    Some(format!("unix://{dir}/docker.sock"))
}

/// The exercise's web server is a container named `web` with host port
/// 8080: one test at a time may have it on a daemon.
static WEB: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn course() -> String {
    fixture_dir().join("exercises").display().to_string()
}

/// `dockgrade validate 04-rootless` over the course's own solutions.
fn validate_04_rootless(ws: &Workspace) -> assert_cmd::Command {
    let mut validate = ws.dockgrade();
    validate
        .args([
            "validate",
            "04-rootless",
            "--exercises-dir",
            &course(),
            "--solutions-dir",
        ])
        .arg(fixture_dir().join("solutions"));
    validate
}

#[test]
fn the_rootless_exercise_passes_on_a_rootless_daemon() {
    let Some(host) = rootless_host() else { return };
    let _web = WEB.lock().unwrap_or_else(|e| e.into_inner());
    // What the student leaves running: a web server on an unprivileged port.
    let docker = |args: &[&str]| {
        Command::new("docker")
            .args(["-H", &host])
            .args(args)
            .output()
            .expect("docker runs")
    };
    docker(&["rm", "-f", "web"]);
    let web = docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        "8080:80",
        "busybox:1.35",
        "httpd",
        "-f",
        "-p",
        "80",
    ]);
    assert!(
        web.status.success(),
        "{}",
        String::from_utf8_lossy(&web.stderr)
    );
    let ws = Workspace::new();
    let report = ws.path("report.json");
    let out = ws
        .dockgrade()
        .env("DOCKER_HOST", &host)
        .args([
            "check",
            "04-rootless",
            "--exercises-dir",
            &course(),
            "--json",
        ])
        .arg(&report)
        .output()
        .expect("runs");
    docker(&["rm", "-f", "web"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("JSON");
    assert_eq!(
        json["exercises"][0]["points"],
        json["exercises"][0]["max_points"]
    );
    let left = Command::new("docker")
        .args(["-H", &host, "ps", "-aq", "--filter", "label=io.dockgrade"])
        .output()
        .expect("docker ps");
    assert!(
        String::from_utf8_lossy(&left.stdout).trim().is_empty(),
        "the probes were left on the rootless daemon"
    );
}

#[test]
fn a_privileged_probe_is_refused_on_a_daemon_that_runs_as_root() {
    let ws = Workspace::new();
    let (code, stdout, report) = ws.check(&["04-rootless", "--exercises-dir", &course()]);
    assert_eq!(code, 1, "{stdout}");
    let privileged = check_named(
        &report,
        "--privileged does not make a container root on the host",
    );
    assert_eq!(privileged["status"], "failed");
    let message = privileged["message"].as_str().unwrap();
    assert!(
        message.contains("refused to run a privileged container"),
        "{message}"
    );
    let daemon = check_named(&report, "your daemon runs in rootless mode");
    assert_eq!(daemon["status"], "failed");
    assert!(
        daemon["actual"]
            .as_str()
            .unwrap()
            .contains("running as root"),
        "{daemon:#}"
    );
    let uid_map = check_named(
        &report,
        "root in a container is an unprivileged user on the host",
    );
    assert_eq!(uid_map["status"], "failed", "{uid_map:#}");
}

#[test]
fn validate_grades_the_rootless_cases_on_the_rootless_daemon_and_says_when_there_is_none() {
    let Some(host) = rootless_host() else { return };
    let Some(userns) = userns_host() else { return };
    let _web = WEB.lock().unwrap_or_else(|e| e.into_inner());
    let ws = Workspace::new();
    let out = validate_04_rootless(&ws)
        .env("DOCKGRADE_ROOTLESS_HOST", &host)
        .env("DOCKGRADE_USERNS_HOST", &userns)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("4 case(s): 4 as expected"), "{stdout}");

    let out = validate_04_rootless(&ws)
        .env_remove("DOCKGRADE_ROOTLESS_HOST")
        .env("DOCKGRADE_USERNS_HOST", &userns)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ci/rootless-up.sh") && stderr.contains("DOCKGRADE_ROOTLESS_HOST"),
        "{stderr}"
    );
}
