//! The course's own exercises, graded with their reference solutions.

mod common;

use assert_cmd::Command;
use common::{assert_nothing_left, fixture_dir};

fn check(exercise: &str, submission: &std::path::Path) -> (i32, serde_json::Value, String) {
    let report = tempfile::NamedTempFile::new().expect("temp file");
    let out = Command::cargo_bin("dockgrade")
        .expect("binary")
        .current_dir(fixture_dir())
        .env("NO_COLOR", "1")
        .args(["check", exercise, "--submission"])
        .arg(submission)
        .arg("--json")
        .arg(report.path())
        .output()
        .expect("runs");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.path()).expect("report")).expect("JSON");
    assert_nothing_left(json["run_id"].as_str().expect("run id"));
    (
        out.status.code().expect("code"),
        json,
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn the_reference_solution_of_02_first_image_passes() {
    let (code, json, stdout) = check(
        "02-first-image",
        &fixture_dir().join("solutions/02-first-image"),
    );
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(json["totals"]["points"], json["totals"]["max_points"]);
}

#[test]
fn a_wrong_workdir_fails_02_first_image_with_a_hint() {
    let wrong = fixture_dir().join("solutions/02-first-image/wrong/workdir-app");
    let (code, json, stdout) = check("02-first-image", &wrong);
    assert_eq!(code, 1, "{stdout}");
    let checks = json["exercises"][0]["checks"].as_array().expect("checks");
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        failed,
        vec![
            "the working directory is /software",
            "the course files are in the image"
        ]
    );
    assert!(stdout.contains("hint: Add `WORKDIR /software`"), "{stdout}");
}

/// Each exercise and the starter Dockerfiles a student gets for it.
const STARTERS: &[(&str, &[&str])] = &[
    ("02-first-image", &["Dockerfile.02"]),
    ("03-build-context", &["Dockerfile.02"]),
    (
        "02-layers",
        &["Dockerfile.02a", "Dockerfile.02b", "Dockerfile.02c"],
    ),
    ("03-same-layer", &["Dockerfile.03"]),
    ("03-multistage", &["Dockerfile.03multi"]),
    ("03-extra-stage", &["Dockerfile.03extra"]),
    ("04-data-in-image", &["Dockerfile.04"]),
    ("04-non-root", &["Dockerfile.04user"]),
    ("04-registry-gc", &["cleanup.sh"]),
];

#[test]
fn no_starter_dockerfile_passes_its_exercise_as_it_is() {
    for (exercise, starters) in STARTERS {
        let dir = tempfile::tempdir().expect("temp dir");
        for starter in *starters {
            std::fs::copy(
                fixture_dir().join("Dockerfiles").join(starter),
                dir.path().join(starter),
            )
            .expect("copy starter");
        }
        let (code, json, stdout) = check(exercise, dir.path());
        assert_eq!(code, 1, "{exercise}: {stdout}");
        assert!(
            json["totals"]["failed"].as_u64().expect("failed") >= 1,
            "{exercise}: {stdout}"
        );
    }
}
