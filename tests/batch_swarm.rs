//! dockgrade's own image, run as a Docker Swarm `replicated-job`: three
//! tasks, each grading the shard its task slot names, merged into one
//! gradebook equal to an unsharded batch. The daemon is left as it was
//! found: no swarm (unless it was in one), no `docker_gwbridge`, no image.
//!
//! Alone in its test binary: it makes the daemon a swarm manager for a
//! minute, which no other test should see.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Workspace, assert_nothing_left, docker, fixture_dir};

const EXERCISE: &str = r#"
id = "hello"
title = "Say hello"
[[steps]]
name = "image"
build = { dockerfile = "Dockerfile", network = "none" }
[[steps]]
name = "run"
run = { image = "image", timeout = "30s" }
[[checks]]
name = "says hello"
step = "run"
points = 2
stdout = { equals = "hello" }
[[checks]]
name = "builds"
step = "image"
build = "succeeds"
"#;

/// What the test changed on the daemon, undone when dropped.
struct SwarmGuard {
    image: String,
    service: String,
    /// The daemon was not in a swarm: leave the one the test made.
    leave: bool,
    /// `docker_gwbridge` did not exist: remove the one the swarm made.
    remove_gwbridge: bool,
}

impl Drop for SwarmGuard {
    fn drop(&mut self) {
        let _ = docker(&["service", "rm", &self.service]);
        if self.leave {
            let _ = docker(&["swarm", "leave", "--force"]);
        }
        if self.remove_gwbridge {
            // The task containers' endpoints go a moment after the service.
            for _ in 0..20 {
                let out = docker(&["network", "rm", "docker_gwbridge"]);
                if out.status.success() || !network_exists("docker_gwbridge") {
                    break;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        let _ = docker(&["image", "rm", "--force", &self.image]);
    }
}

fn network_exists(name: &str) -> bool {
    docker(&["network", "inspect", name]).status.success()
}

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn swarm_state() -> String {
    text(&docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]))
}

#[test]
fn shards_run_as_a_swarm_replicated_job_merge_into_the_unsharded_gradebook() {
    let ws = Workspace::new();
    ws.write("exercises/hello.toml", EXERCISE);
    let cases = [
        ("alice", "CMD [\"echo\", \"hello\"]"),
        ("bob", "CMD [\"echo\", \"goodbye\"]"),
        ("carol", "CMD [\"echo\", \"hello\"]"),
        ("dave", "RUN false"),
        ("erin", "CMD [\"echo\", \"hello\"]"),
        ("frank", "CMD [\"echo\", \"hi\"]"),
        ("grace", "CMD [\"echo\", \"hello\"]"),
    ];
    for (student, line) in cases {
        ws.write(
            &format!("subs/{student}/Dockerfile"),
            format!("FROM busybox:1.35\n{line}\n"),
        );
    }
    // The task containers reach the workspace at the path it has here.
    let root = ws.path(".").canonicalize().expect("workspace path");
    let root = root.to_str().expect("a UTF-8 temporary path");

    let was_inactive = swarm_state() == "inactive";
    let guard = SwarmGuard {
        image: format!("dockgrade-swarm-test:{}", std::process::id()),
        service: format!("dockgrade-swarm-test-{}", std::process::id()),
        leave: was_inactive,
        remove_gwbridge: !network_exists("docker_gwbridge"),
    };
    let built = std::process::Command::new(fixture_dir().join("ci/build-image.sh"))
        .arg(&guard.image)
        .arg("--binary")
        .arg(assert_cmd::cargo::cargo_bin("dockgrade"))
        .args(["--label", "io.dockgrade=test"])
        .output()
        .expect("ci/build-image.sh runs");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    if was_inactive {
        let init = docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
        assert!(
            init.status.success(),
            "{}",
            String::from_utf8_lossy(&init.stderr)
        );
    }

    // Swarm expands templates in --env, not in the command; a replicated
    // job's slots count from 0, and Docker 20.10 renders slot 0 as the
    // task's id: anything but a number is slot 0.
    let script = "s=$SLOT; case $s in ''|*[!0-9]*) s=0;; esac; \
                  exec dockgrade batch subs --out out-$((s + 1)) --shard $((s + 1))/3 --jobs 2";
    let mount = format!("type=bind,src={root},dst={root}");
    let created = docker(&[
        "service",
        "create",
        "--detach",
        "--name",
        &guard.service,
        "--mode",
        "replicated-job",
        "--replicas",
        "3",
        "--max-concurrent",
        "3",
        "--restart-condition",
        "none",
        "--label",
        "io.dockgrade=test",
        "--container-label",
        "io.dockgrade=test",
        "--env",
        "SLOT={{.Task.Slot}}",
        "--env",
        "NO_COLOR=1",
        "--env",
        &format!("TMPDIR={root}"),
        "--mount",
        "type=bind,src=/var/run/docker.sock,dst=/var/run/docker.sock",
        "--mount",
        &mount,
        "--workdir",
        root,
        "--entrypoint",
        "sh",
        &guard.image,
        "-c",
        script,
    ]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    wait_for_tasks(&guard.service);

    // Each shard graded its share, and nothing of theirs is left.
    let mut graded = 0;
    for k in 1..=3 {
        let batch = read_json(&ws.path(&format!("out-{k}/batch.json")));
        assert_eq!(batch["shard"]["index"], k, "{batch:#}");
        graded += batch["students"].as_array().expect("students").len();
        for student in batch["students"].as_array().expect("students") {
            let folder = student["folder"].as_str().expect("folder");
            let report = read_json(&ws.path(&format!("out-{k}/students/{folder}/report.json")));
            assert_nothing_left(report["run_id"].as_str().expect("run id"));
        }
    }
    assert_eq!(graded, cases.len(), "every student in exactly one shard");

    let merged = ws
        .dockgrade()
        .args(["merge", "out-1", "out-2", "out-3", "--out", "merged"])
        .output()
        .expect("merge runs");
    assert_eq!(
        merged.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let whole = ws
        .dockgrade()
        .args(["batch", "subs", "--out", "whole", "--quiet"])
        .output()
        .expect("batch runs");
    assert_eq!(
        whole.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&whole.stderr)
    );
    let sharded = std::fs::read_to_string(ws.path("merged/grades.csv")).expect("merged grades");
    let unsharded = std::fs::read_to_string(ws.path("whole/grades.csv")).expect("whole grades");
    assert_eq!(sharded, unsharded);
    assert!(sharded.contains("\nalice,3,3,3,100.0,graded,"), "{sharded}");
    assert!(sharded.contains("\nbob,1,1,3,33.3,graded,"), "{sharded}");
    assert!(sharded.contains("\ndave,0,0,3,0.0,graded,"), "{sharded}");

    drop(guard);
    if was_inactive {
        assert_eq!(swarm_state(), "inactive", "the swarm was left");
    }
    assert!(
        !network_exists("ingress"),
        "the swarm's ingress network was left"
    );
}

/// Waits until every task of the job has completed; fails with their
/// states and logs if one fails or they take too long.
fn wait_for_tasks(service: &str) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let states = text(&docker(&[
            "service",
            "ps",
            service,
            "--format",
            "{{.CurrentState}} {{.Error}}",
        ]));
        let tasks: Vec<&str> = states.lines().collect();
        let done = tasks.len() == 3 && tasks.iter().all(|t| t.starts_with("Complete"));
        if done {
            return;
        }
        let failed = tasks
            .iter()
            .any(|t| t.starts_with("Failed") || t.starts_with("Rejected"));
        if failed || Instant::now() > deadline {
            let logs = docker(&["service", "logs", "--raw", service]);
            panic!(
                "the job's tasks did not complete:\n{states}\nlogs:\n{}{}",
                String::from_utf8_lossy(&logs.stdout),
                String::from_utf8_lossy(&logs.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} could not be read: {e}", path.display()));
    serde_json::from_str(&text).expect("valid JSON")
}
