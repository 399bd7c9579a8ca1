//! Ctrl-C in the middle of a build leaves nothing behind: not the legacy
//! builder's RUN containers, nor the layers it committed, nor a layer it
//! was still committing. These carry no label, so they are checked by id:
//! every container and every dangling image on the daemon, before and after.
//!
//! Alone in its test binary, so no other test creates containers meanwhile.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Workspace, docker};

fn ids(args: &[&str]) -> BTreeSet<String> {
    String::from_utf8_lossy(&docker(args).stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn containers() -> BTreeSet<String> {
    ids(&["ps", "-aq", "--no-trunc"])
}

fn dangling_images() -> BTreeSet<String> {
    ids(&[
        "image",
        "ls",
        "-aq",
        "--no-trunc",
        "--filter",
        "dangling=true",
    ])
}

/// A build of several layers, some large: interrupted after `after`.
fn interrupt_build_after(after: Duration, unique: &str) {
    let ws = Workspace::new();
    ws.write(
        "exercises/big.toml",
        "id = \"big\"\ntitle = \"Big\"\n[[steps]]\nname = \"image\"\n\
         build = { dockerfile = \"Dockerfile\", timeout = \"5m\" }\n\
         [[checks]]\nname = \"builds\"\nstep = \"image\"\nbuild = \"succeeds\"\n",
    );
    // The first RUN is unique to this build, so nothing comes from the cache.
    ws.write(
        "Dockerfile",
        format!(
            "FROM busybox:1.35\nRUN echo {unique} > /id\nRUN dd if=/dev/zero of=/a bs=1M count=100\n\
             RUN sleep 1\nRUN dd if=/dev/zero of=/b bs=1M count=400\nRUN sleep 30\n"
        ),
    );
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("dockgrade"))
        .current_dir(ws.path("."))
        .args(["check", "--json"])
        .arg(ws.path("report.json"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    std::thread::sleep(after);
    assert!(
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill")
            .success()
    );
    let status = child.wait().expect("waits");
    assert_eq!(status.code(), Some(130), "interrupted after {after:?}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("report.json")).expect("report"))
            .expect("JSON");
    common::assert_nothing_left(report["run_id"].as_str().expect("run id"));
}

#[test]
fn interrupting_a_build_at_any_point_leaves_no_container_and_no_image() {
    let before = (containers(), dangling_images());
    for (i, ms) in [300, 1200, 2500, 4000, 6000].into_iter().enumerate() {
        let unique = format!("{}-{i}-{ms}", std::process::id());
        interrupt_build_after(Duration::from_millis(ms), &unique);
        let after = (containers(), dangling_images());
        let new_containers: Vec<_> = after.0.difference(&before.0).collect();
        let new_images: Vec<_> = after.1.difference(&before.1).collect();
        assert!(
            new_containers.is_empty() && new_images.is_empty(),
            "interrupted after {ms} ms, left containers {new_containers:?} and images {new_images:?}"
        );
    }
}
