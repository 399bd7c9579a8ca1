//! A batch spread over two daemons, one of them killed mid-batch: its
//! submissions go back to the queue and are graded on the other, the batch
//! ends with every row, and once the killed daemon is back `dockgrade clean`
//! removes what the batch left on it.
//!
//! Alone in its test binary: it starts a second `dockerd` (its own socket,
//! data root, containerd and bridge) with `ci/second-daemon.sh`, as root.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Workspace, fixture_dir};

const SLOW: &str = r#"
id = "slow"
title = "Say hello slowly"
[[steps]]
name = "image"
build = { dockerfile = "Dockerfile", network = "none" }
[[steps]]
name = "run"
run = { image = "image", timeout = "60s" }
[[checks]]
name = "says hello"
step = "run"
stdout = { equals = "hello" }
"#;

/// The second daemon; stopped and removed when dropped.
struct SecondDaemon {
    dir: PathBuf,
}

impl SecondDaemon {
    fn script(&self, what: &str) {
        let status = Command::new(fixture_dir().join("ci/second-daemon.sh"))
            .arg(what)
            .arg(&self.dir)
            .status()
            .expect("ci/second-daemon.sh runs");
        assert!(status.success(), "second-daemon.sh {what} failed");
    }

    fn host(&self) -> String {
        format!("unix://{}/docker.sock", self.dir.display())
    }

    fn docker(&self, args: &[&str]) -> String {
        let out = Command::new("docker")
            .arg("-H")
            .arg(self.host())
            .args(args)
            .output()
            .expect("docker runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for SecondDaemon {
    fn drop(&mut self) {
        let _ = Command::new(fixture_dir().join("ci/second-daemon.sh"))
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}

#[test]
fn a_daemon_killed_mid_batch_hands_its_submissions_to_the_other() {
    // Unix socket paths are short: keep the folder near the root.
    let second = SecondDaemon {
        dir: PathBuf::from(format!("/tmp/dg2-{}", std::process::id())),
    };
    second.script("start");
    let ws = Workspace::new();
    ws.write("exercises/slow.toml", SLOW);
    for i in 0..6 {
        ws.write(
            &format!("subs/s{i}/Dockerfile"),
            format!("FROM busybox:1.35\nRUN echo {i} > /id\nCMD [\"sh\", \"-c\", \"sleep 4; echo hello\"]\n"),
        );
    }
    let first =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let batch = Command::new(assert_cmd::cargo::cargo_bin("dockgrade"))
        .current_dir(ws.path("."))
        .args([
            "batch",
            "subs",
            "--out",
            "out",
            "--jobs",
            "1",
            "--docker-host",
            &first,
            "--docker-host",
        ])
        .arg(second.host())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let deadline = Instant::now() + Duration::from_secs(90);
    while second
        .docker(&["ps", "-q", "--filter", "label=io.dockgrade"])
        .trim()
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "nothing ever ran on the second daemon"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    second.script("kill");
    let out = batch.wait_with_output().expect("waits");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stopped answering"), "{stderr}");
    let grades = std::fs::read_to_string(ws.path("out/grades.csv")).expect("grades.csv");
    let graded = grades
        .lines()
        .filter(|l| l.contains(",1,1,100.0,graded,"))
        .count();
    assert_eq!(
        graded, 6,
        "every submission graded, on the daemon left:\n{grades}"
    );

    // Back again, the killed daemon still holds what the batch started there.
    second.script("start");
    assert!(
        !second
            .docker(&["ps", "-aq", "--filter", "label=io.dockgrade"])
            .trim()
            .is_empty()
    );
    let clean = ws
        .dockgrade()
        .args(["clean", "--docker-host"])
        .arg(second.host())
        .output()
        .expect("cleans");
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    for what in [
        &["ps", "-aq"][..],
        &["image", "ls", "-aq"],
        &["volume", "ls", "-q"],
    ] {
        let mut args = what.to_vec();
        args.extend(["--filter", "label=io.dockgrade"]);
        assert_eq!(
            second.docker(&args).trim(),
            "",
            "left on the second daemon: {what:?}"
        );
    }
}
