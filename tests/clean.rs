//! `dockgrade clean` removes exactly what carries dockgrade's label.
//!
//! A test binary of its own: it sweeps every dockgrade resource on the
//! daemon, so it must not run while other grading tests are running.

mod common;

use common::{Workspace, docker};

fn exists(kind: &str, name: &str) -> bool {
    docker(&[kind, "inspect", name]).status.success()
}

#[test]
fn clean_removes_labelled_resources_only_and_is_idempotent() {
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
        stdout.contains("removed 1 container(s), 1 image(s), 1 volume(s)"),
        "{stdout}"
    );

    let again = ws.dockgrade().arg("clean").output().expect("runs");
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        "removed 0 container(s), 0 image(s), 0 volume(s) labelled io.dockgrade\n"
    );
}
