//! Hostile submissions: each must end as a failed grade with a clear reason,
//! exit code 1, no crash, nothing left behind, and the grader's memory flat.
//!
//! Every case grades the same small exercise ("print hello"); the submission
//! is what misbehaves. Run with `--nocapture` to see the time each took and
//! the grader's peak memory (the figures in docs/safety.md).

mod common;

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::Workspace;

const SPEC: &str = r#"
id = "hello"
title = "Print hello"
timeout = "2m"

[submission]
required = ["Dockerfile"]

[[steps]]
name = "image"
build = { dockerfile = "Dockerfile", timeout = "20s", max_context = "50 MB", limits = { memory = "256 MiB" } }

[[steps]]
name = "run"
run = { image = "image", timeout = "10s", limits = { memory = "64 MiB", pids = 64 } }

[[checks]]
name = "builds"
step = "image"
build = "succeeds"

[[checks]]
name = "says hello"
step = "run"
exit_code = 0
stdout = { equals = "hello" }
"#;

struct Graded {
    code: i32,
    report: serde_json::Value,
    elapsed: Duration,
    peak_rss_kib: u64,
}

/// Grades `sub/` and watches the grader's resident memory while it runs.
fn grade(ws: &Workspace, case: &str) -> Graded {
    grade_with(ws, case, SPEC)
}

fn grade_with(ws: &Workspace, case: &str, spec: &str) -> Graded {
    ws.write("exercises/hello.toml", spec);
    let report = ws.path("report.json");
    let started = Instant::now();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("dockgrade"))
        .current_dir(ws.path("."))
        .args(["check", "--submission", "sub", "--json"])
        .arg(&report)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawns");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waits") {
            break status;
        }
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kib);
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "{case}: the grader hung"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("a report is written"))
            .expect("JSON");
    common::assert_nothing_left(json["run_id"].as_str().expect("run id"));
    println!(
        "| {case} | {:.1} s | {} MiB |",
        elapsed.as_secs_f64(),
        peak.div_ceil(1024)
    );
    Graded {
        code: status.code().expect("exit code"),
        report: json,
        elapsed,
        peak_rss_kib: peak,
    }
}

fn message<'a>(g: &'a Graded, check: &str) -> &'a str {
    let c = common::check_named(&g.report, check);
    assert_eq!(c["status"], "failed", "{check}: {c:#}");
    c["message"].as_str().expect("message")
}

fn submission(dockerfile: &str) -> Workspace {
    let ws = Workspace::new();
    ws.write("sub/Dockerfile", dockerfile);
    ws
}

#[test]
fn fork_bomb_is_held_by_the_pids_limit() {
    let ws = submission(
        "FROM busybox:1.35\nCMD [\"sh\", \"-c\", \"bomb() { bomb | bomb & }; bomb; sleep 60\"]\n",
    );
    let g = grade(&ws, "fork bomb");
    assert_eq!(g.code, 1, "{:#}", g.report);
    assert_eq!(message(&g, "says hello"), "timed out after 10s");
}

#[test]
fn memory_hog_is_killed_and_named() {
    let ws = submission(
        "FROM busybox:1.35\nCMD [\"awk\", \"BEGIN { s = \\\"x\\\"; while (1) s = s s }\"]\n",
    );
    let g = grade(&ws, "memory hog");
    assert_eq!(g.code, 1);
    assert_eq!(
        message(&g, "says hello"),
        "killed: out of memory (limit 64 MiB)"
    );
}

#[test]
fn a_loop_that_ignores_sigterm_is_killed_at_the_timeout() {
    let ws = submission(
        "FROM busybox:1.35\nCMD [\"sh\", \"-c\", \"trap '' TERM; while :; do :; done\"]\n",
    );
    let g = grade(&ws, "busy loop ignoring SIGTERM");
    assert_eq!(g.code, 1);
    assert_eq!(message(&g, "says hello"), "timed out after 10s");
    assert!(g.elapsed < Duration::from_secs(60), "{:?}", g.elapsed);
}

#[test]
fn two_hundred_megabytes_of_output_are_capped_and_the_grader_stays_small() {
    let ws =
        submission("FROM busybox:1.35\nCMD [\"sh\", \"-c\", \"yes hello | head -c 200000000\"]\n");
    // Moving 200 MB through the daemon takes a while on a loaded machine;
    // this case is about the cap and the grader's memory, not the timeout.
    let g = grade_with(
        &ws,
        "200 MB of output",
        &SPEC.replace("timeout = \"10s\"", "timeout = \"120s\""),
    );
    assert_eq!(g.code, 1);
    let m = message(&g, "says hello");
    assert!(m.contains("more not kept"), "{m}");
    let step = &g.report["exercises"][0]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["name"] == "run")
        .cloned()
        .expect("run step");
    assert_eq!(
        step["stdout_dropped"].as_u64(),
        Some(200_000_000 - (1 << 20))
    );
    assert!(
        g.peak_rss_kib < 64 * 1024,
        "grader peak RSS {} KiB",
        g.peak_rss_kib
    );
}

#[test]
fn a_sparse_gigabyte_in_the_context_is_refused_before_sending() {
    let ws = submission("FROM busybox:1.35\nCOPY . /app\nCMD [\"echo\", \"hello\"]\n");
    let f = std::fs::File::create(ws.path("sub/big.img")).expect("create");
    f.set_len(1 << 30).expect("sparse file");
    let g = grade(&ws, "1 GB sparse file in the context");
    assert_eq!(g.code, 1);
    let m = message(&g, "builds");
    assert!(m.contains("the build context is at least 1.07 GB, over the 50.0 MB limit; the biggest files are big.img (1.07 GB)"), "{m}");
    assert!(m.contains(".dockerignore"), "{m}");
    assert!(g.elapsed < Duration::from_secs(30), "{:?}", g.elapsed);
}

#[test]
fn symlinks_to_etc_shadow_and_out_of_the_folder_are_refused() {
    for (name, target) in [("shadow", "/etc/shadow"), ("up", "../../")] {
        let ws = submission("FROM busybox:1.35\nCOPY . /app\nCMD [\"echo\", \"hello\"]\n");
        std::os::unix::fs::symlink(target, ws.path(&format!("sub/{name}"))).expect("symlink");
        let g = grade(&ws, &format!("symlink to {target}"));
        assert_eq!(g.code, 1);
        let m = message(&g, "builds");
        assert!(
            m.contains(&format!(
                "`{name}` is a symlink that leads outside the submission"
            )),
            "{m}"
        );
    }
}

#[test]
fn a_fifo_in_the_context_is_refused() {
    let ws = submission("FROM busybox:1.35\nCOPY . /app\nCMD [\"echo\", \"hello\"]\n");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(ws.path("sub/pipe"))
            .status()
            .expect("mkfifo")
            .success()
    );
    let g = grade(&ws, "FIFO in the context");
    assert_eq!(g.code, 1);
    assert!(
        message(&g, "builds").contains("`pipe` is a FIFO"),
        "{}",
        message(&g, "builds")
    );
}

#[test]
fn the_daemon_socket_is_not_reachable_from_a_build_or_a_run() {
    let ws = submission(
        "FROM busybox:1.35\nRUN ls -l /var/run/docker.sock && echo 'the socket is reachable' && exit 1 || true\n\
         CMD [\"sh\", \"-c\", \"ls /var/run/docker.sock 2>&1; exit 0\"]\n",
    );
    let g = grade(&ws, "reaching for docker.sock");
    assert_eq!(g.code, 1);
    assert_eq!(
        common::check_named(&g.report, "builds")["status"],
        "passed",
        "the build cannot see the socket"
    );
    let c = common::check_named(&g.report, "says hello");
    assert!(
        c["actual"]
            .as_str()
            .expect("actual")
            .contains("No such file or directory"),
        "{c:#}"
    );
}

#[test]
fn a_build_that_sleeps_forever_times_out_and_leaves_no_container() {
    let marker = format!("sleep {}", 100_000 + std::process::id() % 1000);
    let ws = submission(&format!(
        "FROM busybox:1.35\nRUN {marker}\nCMD [\"echo\", \"hello\"]\n"
    ));
    let g = grade(&ws, "RUN that sleeps forever");
    assert_eq!(g.code, 1);
    let m = message(&g, "builds");
    assert!(
        m.ends_with("the build failed: the build timed out after 20s"),
        "{m}"
    );
    // The builder's own RUN container carries no label: look for it by command.
    std::thread::sleep(Duration::from_secs(2));
    let left = common::docker(&["ps", "-a", "--no-trunc", "--format", "{{.Command}}"]);
    assert!(
        !String::from_utf8_lossy(&left.stdout).contains(&marker),
        "the build's container is still there"
    );
}

#[test]
fn a_container_that_forks_a_daemon_and_exits_does_not_hold_the_grader() {
    let ws =
        submission("FROM busybox:1.35\nCMD [\"sh\", \"-c\", \"(sleep 300 &) ; echo started\"]\n");
    let g = grade(&ws, "forks a daemon and exits");
    assert_eq!(g.code, 1);
    let c = common::check_named(&g.report, "says hello");
    assert_eq!(c["actual"], "\"started\"", "{c:#}");
    assert!(g.elapsed < Duration::from_secs(60), "{:?}", g.elapsed);
}

#[test]
fn a_file_name_that_is_not_utf8_is_sent_as_it_is() {
    let ws = submission("FROM busybox:1.35\nCOPY . /ctx\nCMD [\"ls\", \"/ctx\"]\n");
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
    std::fs::write(Path::new(&ws.path("sub")).join(name), "x").expect("write");
    let g = grade(&ws, "file name that is not UTF-8");
    assert_eq!(g.code, 1);
    assert_eq!(common::check_named(&g.report, "builds")["status"], "passed");
    let c = common::check_named(&g.report, "says hello");
    assert!(
        c["actual"].as_str().expect("actual").contains("caf"),
        "{c:#}"
    );
}
