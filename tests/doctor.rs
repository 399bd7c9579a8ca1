//! `dockgrade doctor` on a machine that can take the course, and on one whose
//! daemon cannot be reached.

mod common;

use common::Workspace;
use predicates::prelude::*;

#[test]
fn doctor_says_this_machine_is_ready() {
    let ws = Workspace::new();
    ws.dockgrade()
        .arg("doctor")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("✓ the Docker daemon answers at"))
        .stdout(predicate::str::contains(
            "✓ image debian:bookworm-slim is present",
        ))
        .stdout(predicate::str::contains(
            "✓ --user works (id -u printed 1000)",
        ))
        .stdout(predicate::str::ends_with(
            "This machine is ready for the course.\n",
        ));
}

#[test]
fn doctor_explains_an_unreachable_daemon() {
    let ws = Workspace::new();
    ws.dockgrade()
        .arg("doctor")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "✗ the Docker daemon at unix:///nonexistent/docker.sock cannot be reached",
        ))
        .stdout(predicate::str::contains("start the daemon"))
        .stdout(predicate::str::contains(
            "DOCKER_HOST=unix:///nonexistent/docker.sock is set",
        ));
}
