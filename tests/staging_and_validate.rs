//! Staging (exercise files and fixtures layered over a submission that is
//! never written), reference builds from the exercise's own files, and
//! `dockgrade validate` catching a course defect.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Workspace, check_named};

/// Every file under `dir` with its bytes and modification time.
fn snapshot(dir: &Path) -> BTreeMap<String, (Vec<u8>, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            let meta = std::fs::symlink_metadata(&p).expect("meta");
            if meta.is_dir() {
                stack.push(p.clone());
            }
            let bytes = if meta.is_file() {
                std::fs::read(&p).expect("read")
            } else {
                Vec::new()
            };
            out.insert(
                p.display().to_string(),
                (bytes, meta.modified().expect("mtime")),
            );
        }
    }
    out
}

const STAGED: &str = r#"
id = "staged"
title = "Exercise files and fixtures"

[[fixtures]]
path = "data/test_data.dat"
size = "3 MB"

[[fixtures]]
path = "notes.txt"
text = "generated\n"

[[steps]]
name = "reference"
build = { from = "exercise", dockerfile = "Dockerfile.ref" }

[[steps]]
name = "image"
build = { dockerfile = "Dockerfile" }

[[checks]]
name = "the exercise's script and the fixtures are in the image"
step = "image"
files = { present = ["/app/provided.sh", { path = "/app/data/test_data.dat", type = "file" }] }
file = { path = "/app/notes.txt", equals = "generated" }

[[checks]]
name = "the data file made the image grow"
step = "image"
size = { larger_than = "reference" }

[[checks]]
name = "the context held the fixture"
step = "image"
context = { max = "2 MB" }
"#;

#[test]
fn exercise_files_and_fixtures_are_layered_and_the_student_folder_is_untouched() {
    let ws = Workspace::new();
    ws.write("exercises/staged.toml", STAGED);
    ws.write("exercises/staged/provided.sh", "echo provided\n");
    ws.write(
        "exercises/staged/Dockerfile.ref",
        "FROM busybox:1.35\nCOPY provided.sh /app/provided.sh\n",
    );
    ws.write("sub/Dockerfile", "FROM busybox:1.35\nCOPY . /app\n");
    ws.write("sub/mine.txt", "the student's own file\n");
    let before = snapshot(&ws.path("sub"));
    let (code, stdout, report) = ws.check(&["--submission", "sub"]);
    assert_eq!(
        snapshot(&ws.path("sub")),
        before,
        "the submission folder changed"
    );
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(
        check_named(
            &report,
            "the exercise's script and the fixtures are in the image"
        )["status"],
        "passed",
        "{stdout}"
    );
    assert_eq!(
        check_named(&report, "the data file made the image grow")["status"],
        "passed",
        "{stdout}"
    );
    // 3 MB of generated data went into the context: the context check fails.
    let ctx = check_named(&report, "the context held the fixture");
    assert!(
        ctx["actual"].as_str().expect("actual").starts_with("3.0"),
        "{ctx:#}"
    );

    // A .dockerignore in the student's folder applies to the fixtures too.
    ws.write("sub/.dockerignore", "data\n");
    let (_, stdout, report) = ws.check(&["--submission", "sub"]);
    assert_eq!(
        check_named(&report, "the context held the fixture")["status"],
        "passed",
        "{stdout}"
    );
    let files = check_named(
        &report,
        "the exercise's script and the fixtures are in the image",
    );
    assert_eq!(
        files["actual"], "/app/data/test_data.dat is missing",
        "{stdout}"
    );
}

#[test]
fn a_reference_build_needs_the_exercises_own_files() {
    let ws = Workspace::new();
    ws.write("exercises/staged.toml", STAGED);
    ws.write("sub/Dockerfile", "FROM busybox:1.35\n");
    let (code, _, report) = ws.check(&["--submission", "sub"]);
    assert_eq!(
        code, 3,
        "no exercises/staged/ folder is the course's fault, not the student's"
    );
    let c = check_named(&report, "the data file made the image grow");
    assert_eq!(c["status"], "error");
    assert!(
        c["message"]
            .as_str()
            .expect("message")
            .contains("exercises/staged/"),
        "{c:#}"
    );
}

const VALIDATED: &str = r#"
id = "v"
title = "Validated"
[[steps]]
name = "r"
run = { image = "busybox:1.35", cmd = ["cat", "/data/answer.txt"], mounts = [{ type = "bind", source = "answer.txt", target = "/data/answer.txt", readonly = true }] }
[[checks]]
name = "answers 42"
step = "r"
stdout = { equals = "42" }
[[checks]]
name = "exits cleanly"
step = "r"
exit_code = 0
"#;

fn validate(ws: &Workspace) -> (i32, String, serde_json::Value) {
    let json = ws.path("validate.json");
    let out = ws
        .dockgrade()
        .arg("validate")
        .arg("--json")
        .arg(&json)
        .output()
        .expect("runs");
    let report =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("report")).expect("JSON");
    (
        out.status.code().expect("code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        report,
    )
}

#[test]
fn validate_passes_a_sound_course_and_catches_a_wrong_case_that_passes() {
    let ws = Workspace::new();
    ws.write("exercises/v.toml", VALIDATED);
    ws.write("solutions/v/answer.txt", "42\n");
    ws.write("solutions/v/wrong/forty-one/answer.txt", "41\n");
    ws.write(
        "solutions/v/wrong/forty-one/expect.toml",
        "mistake = \"off by one\"\nfails = [\"answers 42\"]\n",
    );
    ws.write(
        "solutions/v/wrong/missing/expect.toml",
        "mistake = \"no answer file\"\nfails = [\"answers 42\", \"exits cleanly\"]\n",
    );
    let (code, stdout, report) = validate(&ws);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(report["schema"], "dockgrade.validate/1");
    assert!(
        stdout.contains("3 case(s): 3 as expected, 0 not; 0 check(s) no wrong case fails"),
        "{stdout}"
    );

    // A "wrong" case that is in fact right: validate must say so and fail.
    ws.write("solutions/v/wrong/forty-one/answer.txt", "42\n");
    let (code, stdout, report) = validate(&ws);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("wrong/forty-one  ✗ \"answers 42\" passed but should fail"),
        "{stdout}"
    );
    let bad: Vec<&serde_json::Value> = report["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter(|c| c["ok"] == false)
        .collect();
    assert_eq!(bad.len(), 1);

    // A check no wrong case fails is a defect of the course.
    std::fs::remove_dir_all(ws.path("solutions/v/wrong/missing")).expect("rm");
    let (code, stdout, _) = validate(&ws);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("no wrong case fails \"exits cleanly\""),
        "{stdout}"
    );
}

#[test]
fn validate_refuses_an_expectation_naming_an_unknown_check() {
    let ws = Workspace::new();
    ws.write("exercises/v.toml", VALIDATED);
    ws.write("solutions/v/answer.txt", "42\n");
    ws.write(
        "solutions/v/wrong/typo/expect.toml",
        "mistake = \"x\"\nfails = [\"answers 24\"]\n",
    );
    let out = ws.dockgrade().arg("validate").output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no check named \"answers 24\""));
}

#[test]
fn validate_grades_other_correct_solutions_and_catches_a_false_negative() {
    let ws = Workspace::new();
    ws.write("exercises/v.toml", VALIDATED);
    ws.write("solutions/v/answer.txt", "42\n");
    ws.write(
        "solutions/v/wrong/forty-one/expect.toml",
        "mistake = \"no answer file\"\nfails = [\"answers 42\", \"exits cleanly\"]\n",
    );
    // The same answer written another way: a trailing blank line.
    ws.write("solutions/v/ok/blank-line/answer.txt", "42\n\n");
    ws.write(
        "solutions/v/ok/blank-line/about.toml",
        "approach = \"ends the file with a blank line\"\n",
    );
    let (code, stdout, report) = validate(&ws);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("ok/blank-line    ✓ passes every check"),
        "{stdout}"
    );
    let case = report["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["case"] == "ok/blank-line")
        .expect("the ok case is graded");
    assert_eq!(case["approach"], "ends the file with a blank line");

    // A correct variant the checks fail: validate says so and fails.
    ws.write("solutions/v/ok/spaces/answer.txt", " 42\n");
    ws.write(
        "solutions/v/ok/spaces/about.toml",
        "approach = \"a space before the answer\"\n",
    );
    let (code, stdout, _) = validate(&ws);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("ok/spaces") && stdout.contains("\"answers 42\" failed but should pass"),
        "{stdout}"
    );
}
