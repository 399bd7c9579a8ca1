//! Shared helpers for tests that run dockgrade against the real daemon.
#![allow(dead_code)]

pub mod fake_daemon;

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output};

use assert_cmd::Command;
use serde_json::Value;

/// A temporary folder with exercises and submissions written by a test.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Workspace {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> &Self {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, content).expect("write");
        self
    }

    pub fn executable(&self, rel: &str, content: &str) -> &Self {
        use std::os::unix::fs::PermissionsExt;
        self.write(rel, content);
        std::fs::set_permissions(self.path(rel), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        self
    }

    /// `dockgrade` run in this folder, without colour.
    pub fn dockgrade(&self) -> Command {
        let mut cmd = Command::cargo_bin("dockgrade").expect("binary");
        // A CI runner's own GitHub Actions files are not the tests' to write.
        cmd.current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env_remove("DOCKGRADE_LOG")
            .env_remove("GITHUB_OUTPUT")
            .env_remove("GITHUB_STEP_SUMMARY");
        cmd
    }

    /// Runs `dockgrade check` with a JSON report; returns (exit code, stdout, report).
    pub fn check(&self, args: &[&str]) -> (i32, String, Value) {
        let report = self.path("report.json");
        let out = self
            .dockgrade()
            .arg("check")
            .args(args)
            .arg("--json")
            .arg(&report)
            .output()
            .expect("runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let code = out.status.code().expect("exit code");
        let text = std::fs::read_to_string(&report).unwrap_or_else(|_| {
            panic!(
                "no JSON report; stdout:\n{stdout}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let json: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_nothing_left(json["run_id"].as_str().expect("run id"));
        (code, stdout, json)
    }
}

/// The named check of the first exercise in a JSON report.
pub fn check_named<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["exercises"][0]["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check named {name:?} in {report:#}"))
}

pub fn docker(args: &[&str]) -> Output {
    StdCommand::new("docker")
        .args(args)
        .output()
        .expect("docker CLI runs")
}

/// Nothing carrying this run's label is left on the daemon.
pub fn assert_nothing_left(run_id: &str) {
    let filter = format!("label=io.dockgrade.run={run_id}");
    for args in [
        vec!["ps", "-aq", "--filter", &filter],
        vec!["image", "ls", "-aq", "--filter", &filter],
        vec!["volume", "ls", "-q", "--filter", &filter],
        vec!["network", "ls", "-q", "--filter", &filter],
    ] {
        let out = docker(&args);
        assert!(
            out.status.success(),
            "docker {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let left = String::from_utf8_lossy(&out.stdout);
        assert!(
            left.trim().is_empty(),
            "run {run_id} left resources behind (docker {args:?}): {left}"
        );
    }
    let out = docker(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
    let tags = String::from_utf8_lossy(&out.stdout);
    assert!(
        !tags
            .lines()
            .any(|t| t.starts_with("dockgrade:") && t.contains(run_id)),
        "run {run_id} left a tag: {tags}"
    );
}

pub fn fixture_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
