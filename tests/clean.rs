//! `dockgrade clean` removes what finished runs left, and only that: never
//! a resource without dockgrade's label, never a run still in progress
//! (unless `--all`).
//!
//! A test binary of its own: it sweeps dockgrade resources on the daemon.

mod common;

use common::{Workspace, docker};

/// `clean` acts on the whole daemon: the tests here take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn exists(kind: &str, name: &str) -> bool {
    docker(&[kind, "inspect", name]).status.success()
}

#[test]
fn clean_removes_labelled_resources_only_and_is_idempotent() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let tag = format!("dockgrade-clean-test:{}", std::process::id());
    let ours = format!("dockgrade-clean-ours-{}", std::process::id());
    let theirs = format!("clean-test-not-ours-{}", std::process::id());
    let volume = format!("dockgrade-clean-vol-{}", std::process::id());
    // An image built with the label, a labelled container and volume, and a
    // container without the label that must survive.
    let ws = Workspace::new();
    ws.write(
        "ctx/Dockerfile",
        "FROM busybox:1.35\nRUN echo leftover > /leftover\n",
    );
    let build = std::process::Command::new("docker")
        .args(["build", "-q", "--label", "io.dockgrade=1", "-t", &tag, "."])
        .env("DOCKER_BUILDKIT", "0")
        .current_dir(ws.path("ctx"))
        .output()
        .expect("docker build");
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    assert!(
        docker(&[
            "create",
            "--label",
            "io.dockgrade=1",
            "--name",
            &ours,
            "busybox:1.35",
            "true"
        ])
        .status
        .success()
    );
    assert!(
        docker(&["create", "--name", &theirs, "busybox:1.35", "true"])
            .status
            .success()
    );
    assert!(
        docker(&["volume", "create", "--label", "io.dockgrade=1", &volume])
            .status
            .success()
    );

    let out = ws.dockgrade().arg("clean").output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let removed_theirs = !exists("container", &theirs);
    let _ = docker(&["rm", "-f", &theirs]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !removed_theirs,
        "clean removed a container without dockgrade's label"
    );
    assert!(!exists("container", &ours), "labelled container left");
    assert!(!exists("image", &tag), "labelled image left");
    assert!(!exists("volume", &volume), "labelled volume left");
    assert!(
        stdout.contains(
            "removed 1 container(s), 1 image(s), 1 volume(s), 0 network(s) labelled io.dockgrade"
        ),
        "{stdout}"
    );

    let again = ws.dockgrade().arg("clean").output().expect("runs");
    assert_eq!(again.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(
        stdout.contains(
            "removed 0 container(s), 0 image(s), 0 volume(s), 0 network(s) labelled io.dockgrade"
        ),
        "{stdout}"
    );
}

/// `pid:boot-id:start-ticks` of a process, as dockgrade labels its owner.
fn process_key(pid: &str) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after = &stat[stat.rfind(')').expect(")") + 1..];
    let start = after.split_whitespace().nth(19).expect("start time");
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").expect("boot id");
    format!("{pid}:{}:{start}", boot.trim())
}

/// A labelled container of run `run`, owned by `process` on this host.
fn container_of(run: &str, process: &str) -> String {
    let name = format!("dockgrade-clean-{run}");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    let out = docker(&[
        "create",
        "--label",
        "io.dockgrade=1",
        "--label",
        &format!("io.dockgrade.run={run}"),
        "--label",
        &format!("io.dockgrade.host={}", host.trim()),
        "--label",
        &format!("io.dockgrade.process={process}"),
        "--label",
        "io.dockgrade.started=1700000000",
        "--name",
        &name,
        "busybox:1.35",
        "true",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    name
}

#[test]
fn clean_keeps_runs_in_progress_removes_finished_ones_and_says_what_it_would_do() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let me = std::process::id().to_string();
    let live_run = format!("live{me}");
    let dead_run = format!("dead{me}");
    // This test process is alive; a pid past the kernel's maximum is not.
    let live = container_of(&live_run, &process_key(&me));
    let dead_key = process_key(&me).replacen(&format!("{me}:"), "4194304:", 1);
    let dead = container_of(&dead_run, &dead_key);
    let ws = Workspace::new();

    let dry = ws
        .dockgrade()
        .args(["clean", "--dry-run"])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&dry.stdout);
    assert_eq!(dry.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains(&format!("kept run {live_run}")), "{stdout}");
    assert!(
        stdout.contains(&format!("would remove run {dead_run}")),
        "{stdout}"
    );
    assert!(
        exists("container", &live) && exists("container", &dead),
        "a dry run removed something"
    );

    let out = ws.dockgrade().arg("clean").output().expect("runs");
    assert_eq!(out.status.code(), Some(0));
    assert!(exists("container", &live), "a run in progress was removed");
    assert!(!exists("container", &dead), "a finished run was kept");

    let all = ws
        .dockgrade()
        .args(["clean", "--all"])
        .output()
        .expect("runs");
    assert_eq!(all.status.code(), Some(0));
    assert!(!exists("container", &live), "--all keeps nothing");
}
