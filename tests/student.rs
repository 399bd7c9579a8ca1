//! A student's first ten minutes, as the CLI meets them: finding the course
//! from wherever they stand, `--submission` pointing at a file.

mod common;

use common::Workspace;

const SPEC: &str = r#"
id = "hello"
title = "Say hello"
[[steps]]
name = "base"
image = "busybox:1.35"
[[checks]]
name = "small"
step = "base"
size = { max = "100 MB" }
"#;

/// `dockgrade list` run in `dir` of `ws`, with the cache in the workspace.
fn list_in(ws: &Workspace, dir: &str, env: &[(&str, &str)]) -> (i32, String, String) {
    std::fs::create_dir_all(ws.path(dir)).expect("mkdir");
    let mut cmd = ws.dockgrade();
    cmd.current_dir(ws.path(dir))
        .env_remove("DOCKGRADE_EXERCISES")
        .env("DOCKGRADE_CACHE", ws.path("cache"))
        .arg("list");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("runs");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_course_is_found_from_a_nested_folder() {
    let ws = Workspace::new();
    ws.write("course/exercises/hello.toml", SPEC);
    let (code, stdout, stderr) = list_in(&ws, "course/students/me/work", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("hello"), "{stdout}");
    assert!(!stdout.contains("02-first-image"), "not the installed one");
}

#[test]
fn the_course_is_found_from_the_environment() {
    let ws = Workspace::new();
    ws.write("elsewhere/specs/hello.toml", SPEC);
    let dir = ws.path("elsewhere/specs");
    let (code, stdout, stderr) = list_in(
        &ws,
        "student",
        &[("DOCKGRADE_EXERCISES", dir.to_str().expect("utf-8"))],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("hello"), "{stdout}");
}

#[test]
fn the_installed_course_is_used_when_nothing_is_nearby() {
    let ws = Workspace::new();
    let (code, stdout, stderr) = list_in(&ws, "student", &[]);
    assert_eq!(code, 0, "{stderr}");
    for id in ["02-first-image", "03-multistage", "04-non-root"] {
        assert!(stdout.contains(id), "{stdout}");
    }
    // Unpacked into the cache, with the greeting script still executable.
    let unpacked: Vec<_> = std::fs::read_dir(ws.path("cache"))
        .expect("the cache")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(unpacked.len(), 1, "{unpacked:?}");
    let script = unpacked[0]
        .join("exercises/_course/docker_tutorial/02_docker_intro/scripts/hello_docker.sh");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&script)
            .expect("the script")
            .permissions(),
    );
    assert_eq!(mode & 0o111, 0o111, "{script:?} is not executable");
    assert!(
        !unpacked[0].join("solutions").exists(),
        "no answers installed"
    );
    // A second command finds it unpacked.
    let (code, again, _) = list_in(&ws, "student", &[]);
    assert_eq!((code, again), (0, stdout));
}

#[test]
fn when_no_course_is_found_the_error_names_every_place_looked() {
    let ws = Workspace::new();
    ws.write("not-a-folder", "");
    let cache = ws.path("not-a-folder/cache");
    let (code, _, stderr) = list_in(
        &ws,
        "a/b",
        &[("DOCKGRADE_CACHE", cache.to_str().expect("utf-8"))],
    );
    assert_eq!(code, 2, "{stderr}");
    for said in [
        "--exercises-dir: not given",
        "DOCKGRADE_EXERCISES: not set",
        "a/b/exercises",
        "the course installed with dockgrade",
        "--exercises-dir DIR",
    ] {
        assert!(stderr.contains(said), "{said:?} not in {stderr}");
    }
}

#[test]
fn a_submission_that_is_a_file_is_not_a_folder() {
    let ws = Workspace::new();
    ws.write("exercises/hello.toml", SPEC);
    ws.write("Dockerfile", "FROM busybox:1.35\n");
    let out = ws
        .dockgrade()
        .args(["check", "--submission", "Dockerfile"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is not a folder"), "{stderr}");
}

/// `dockgrade ARGS` in `dir` of `ws`, with the installed course only.
fn student_runs(ws: &Workspace, dir: &str, args: &[&str]) -> (i32, String, String) {
    std::fs::create_dir_all(ws.path(dir)).expect("mkdir");
    let out = ws
        .dockgrade()
        .current_dir(ws.path(dir))
        .env_remove("DOCKGRADE_EXERCISES")
        .env("DOCKGRADE_CACHE", ws.path("cache"))
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn show_prints_the_task_as_written_when_piped() {
    let ws = Workspace::new();
    let (code, stdout, stderr) = student_runs(&ws, "me", &["show", "03-multistage"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stdout.contains('\u{1b}'),
        "no colour when piped: {stdout:?}"
    );
    for said in [
        "03-multistage  Multi-stage builds",
        "`COPY --from=downloader`",
        "What to submit\n  Dockerfile.03multi  (starter: dockgrade init 03-multistage)",
        "docker_tutorial.bundle",
        "git is not in the final image",
        "cd 03-multistage && dockgrade check 03-multistage",
    ] {
        assert!(stdout.contains(said), "{said:?} not in {stdout}");
    }
    let (code, _, stderr) = student_runs(&ws, "me", &["show", "99-nope"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no exercise `99-nope`"), "{stderr}");
}

#[test]
fn init_then_check_grades_the_starter_and_init_again_keeps_the_work() {
    let ws = Workspace::new();
    let (code, stdout, stderr) = student_runs(&ws, "me", &["init", "02-first-image"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("cd 02-first-image && dockgrade check 02-first-image"),
        "{stdout}"
    );
    let dockerfile = ws.path("me/02-first-image/Dockerfile.02");
    assert!(dockerfile.is_file());
    assert!(
        ws.path("me/02-first-image/docker_tutorial/02_docker_intro/scripts/hello_docker.sh")
            .is_file()
    );
    // The student edits, then runs init again: their work stays.
    std::fs::write(
        &dockerfile,
        "FROM debian:bookworm-slim\nWORKDIR /software\n",
    )
    .expect("edit");
    let (code, stdout, _) = student_runs(&ws, "me", &["init", "02-first-image"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("kept  02-first-image/Dockerfile.02 (already there)"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(&dockerfile).expect("read"),
        "FROM debian:bookworm-slim\nWORKDIR /software\n"
    );
    // Graded from the folder init made, with the installed course.
    let (code, stdout, stderr) =
        student_runs(&ws, "me/02-first-image", &["check", "02-first-image"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("✓ Dockerfile.02 builds"), "{stdout}");
    assert!(
        stdout.contains("✓ the working directory is /software"),
        "{stdout}"
    );
    assert!(stdout.contains("✗ the container greets you"), "{stdout}");
    // Where the folder stands, from what check last found (nothing graded).
    let (code, stdout, stderr) = student_runs(&ws, "me/02-first-image", &["list", "--status"]);
    assert_eq!(code, 0, "{stderr}");
    let row = stdout
        .lines()
        .find(|l| l.contains(" 02-first-image "))
        .unwrap_or_else(|| panic!("no row for 02-first-image: {stdout}"));
    assert!(row.contains(" points ") && !row.contains("passed"), "{row}");
    assert!(
        stdout.lines().filter(|l| l.contains("not graded")).count() >= 10,
        "the other exercises were not graded here: {stdout}"
    );
    assert!(stdout.contains("\n0 of "), "{stdout}");
    assert!(
        !ws.path("me/02-first-image/last-results.json").exists(),
        "nothing is written into the submission"
    );
}

#[test]
fn show_works_for_every_exercise_of_the_course() {
    let ws = Workspace::new();
    let (code, stdout, stderr) = student_runs(&ws, "me", &["list"]);
    assert_eq!(code, 0, "{stderr}");
    let ids: Vec<String> = stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect();
    assert!(ids.len() >= 11, "{stdout}");
    for id in ids {
        let (code, shown, stderr) = student_runs(&ws, "me", &["show", &id]);
        assert_eq!(code, 0, "show {id}: {stderr}");
        assert!(shown.starts_with(&format!("{id}  ")), "{shown}");
        assert!(shown.contains("Checks"), "show {id}: {shown}");
        assert!(
            shown.contains(&format!("dockgrade check {id}")),
            "show {id} says how to grade it: {shown}"
        );
    }
}

/// A report with the parts of a real one that change from run to run
/// (durations, sizes, image ids) replaced by placeholders.
fn stable(report: &str) -> String {
    let durations = regex::Regex::new(r"\b\d+(\.\d+)?(ms|s)\b").expect("regex");
    let sizes = regex::Regex::new(r"\b\d+(\.\d+)? ?(B|kB|MB|GB)\b").expect("regex");
    let ids = regex::Regex::new(r"\b[0-9a-f]{12}\b").expect("regex");
    let report = durations.replace_all(report, "[time]");
    let report = sizes.replace_all(&report, "[size]");
    ids.replace_all(&report, "[id]").into_owned()
}

#[test]
fn a_report_with_a_failed_build_says_why_once() {
    let ws = Workspace::new();
    let (code, _, stderr) = student_runs(&ws, "me", &["init", "02-first-image"]);
    assert_eq!(code, 0, "{stderr}");
    // A folder no other test's image makes: the WORKDIR step is never
    // taken from the cache of a test running beside this one.
    std::fs::write(
        ws.path("me/02-first-image/Dockerfile.02"),
        "FROM debian:bookworm-slim\nWORKDIR /about-to-fail\nRUN echo about to fail && exit 7\n",
    )
    .expect("edit");
    let (code, stdout, stderr) =
        student_runs(&ws, "me/02-first-image", &["check", "02-first-image"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    insta::assert_snapshot!(stable(&stdout));
}

#[test]
fn init_of_a_live_exercise_writes_nothing_and_says_what_to_do() {
    let ws = Workspace::new();
    let (code, stdout, _) = student_runs(&ws, "me", &["init", "02-hello"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("dockgrade show 02-hello"), "{stdout}");
    assert!(!ws.path("me/02-hello").exists());
}

const CANNOT_START: &str = r#"
id = "n"
title = "N"
[[steps]]
name = "direct"
run = { image = "busybox:1.35", cmd = ["nonexistent-tool", "x"] }
[[steps]]
name = "shell"
run = { image = "busybox:1.35", cmd = ["sh", "-c", "nonexistent-tool"] }
[[checks]]
name = "runs"
step = "direct"
exit_code = 0
stdout = { contains = "hi" }
[[checks]]
name = "shell runs"
step = "shell"
exit_code = 0
"#;

#[test]
fn a_command_that_cannot_start_says_what_the_runtime_said() {
    let ws = Workspace::new();
    ws.write("exercises/n.toml", CANNOT_START);
    let (code, stdout, _) = ws.check(&[]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains(
            "actual:   exit code 127 (the command could not start: exec: \"nonexistent-tool\": \
             executable file not found in $PATH); nothing (the command never started)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("actual:   exit code 127 (\"sh: nonexistent-tool: not found\")"),
        "{stdout}"
    );
}

#[test]
fn piping_the_report_into_head_ends_quietly() {
    use std::process::Stdio;
    let ws = Workspace::new();
    ws.write("exercises/n.toml", CANNOT_START);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("dockgrade"))
        .current_dir(ws.path("."))
        .args(["check"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    // The reader goes away before the report is written: `| head -0`.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("waits");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("cannot write"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.trim().is_empty(), "{stderr}");
    for args in [&["list"][..], &["show", "n"]] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("dockgrade"))
            .current_dir(ws.path("."))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawns");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("waits");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Reads `child`'s stdout on a thread; the text so far is in the mutex.
fn collect(child: &mut std::process::Child) -> std::sync::Arc<std::sync::Mutex<String>> {
    use std::io::Read;
    let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut stdout = child.stdout.take().expect("stdout");
    let shared = text.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            shared
                .lock()
                .expect("lock")
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    text
}

/// Waits until `text` holds `wanted` `times` times.
fn wait_for(text: &std::sync::Mutex<String>, wanted: &str, times: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while text.lock().expect("lock").matches(wanted).count() < times {
        assert!(
            std::time::Instant::now() < deadline,
            "{wanted:?} x{times} never came:\n{}",
            text.lock().expect("lock")
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn watch_grades_again_after_a_change_and_ctrl_c_leaves_nothing() {
    use std::process::Stdio;
    let ws = Workspace::new();
    ws.write(
        "exercises/hello.toml",
        r#"
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
stdout = { equals = "hello" }
"#,
    );
    ws.write(
        "sub/Dockerfile",
        "FROM busybox:1.35\nCMD [\"echo\", \"bye\"]\n",
    );
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("dockgrade"))
        .current_dir(ws.path("."))
        .args([
            "check",
            "--submission",
            "sub",
            "--watch",
            "--json",
            "sub/report.json",
        ])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    let out = collect(&mut child);
    // The run id in the JSON report, once it is there and not `other`'s.
    let run_id = |other: &str| -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let id = std::fs::read(ws.path("sub/report.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|r| r["run_id"].as_str().map(str::to_string));
            match id {
                Some(id) if id != other => return id,
                _ if std::time::Instant::now() > deadline => panic!("no new report"),
                _ => std::thread::sleep(std::time::Duration::from_millis(100)),
            }
        }
    };
    wait_for(&out, "✗ says hello", 1);
    wait_for(&out, "points in", 1);
    // The report written into the folder does not start another run.
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(out.lock().expect("lock").matches("points in").count(), 1);
    let first = run_id("");
    ws.write(
        "sub/Dockerfile",
        "FROM busybox:1.35\nCMD [\"echo\", \"hello\"]\n",
    );
    wait_for(&out, "✓ says hello", 1);
    wait_for(&out, "points in", 2);
    let second = run_id(&first);
    assert_ne!(first, second);
    // Ctrl-C while it waits: it ends, and nothing of either run is left.
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let status = child.wait().expect("waits");
    assert_eq!(status.code(), Some(130));
    common::assert_nothing_left(&first);
    common::assert_nothing_left(&second);
}
