//! Hostile build contexts, end to end: a `.dockerignore` over its caps, and
//! a context over `max_context`, are refused while the context is collected,
//! quickly, with a message that names the limit, and exit code 1.

mod common;

use std::time::{Duration, Instant};

use common::{Workspace, check_named};

const SPEC: &str = r#"
id = "hello"
title = "Print hello"
timeout = "2m"

[[steps]]
name = "image"
build = { dockerfile = "Dockerfile", timeout = "20s", max_context = "1 MB" }

[[checks]]
name = "builds"
step = "image"
build = "succeeds"
"#;

/// Grades `sub/`; returns the exit code, the "builds" check's message, and
/// how long grading took.
fn grade(ws: &Workspace) -> (i32, String, Duration) {
    ws.write("exercises/hello.toml", SPEC);
    ws.write(
        "sub/Dockerfile",
        "FROM busybox:1.35\nCOPY . /app\nCMD [\"echo\", \"hello\"]\n",
    );
    let started = Instant::now();
    let (code, _, report) = ws.check(&["--submission", "sub"]);
    let elapsed = started.elapsed();
    let check = check_named(&report, "builds");
    assert_eq!(check["status"], "failed", "{check:#}");
    let message = check["message"].as_str().expect("a message").to_string();
    (code, message, elapsed)
}

#[test]
fn a_dockerignore_over_the_size_cap_is_refused() {
    let ws = Workspace::new();
    // 9.9 MB of `**/…` lines, like the submission that took minutes.
    let line = "**/generated/by/a/script/to/slow/the/grader/down/file.bin\n";
    ws.write("sub/.dockerignore", line.repeat(9_900_000 / line.len()));
    let (code, message, elapsed) = grade(&ws);
    assert_eq!(code, 1);
    assert!(
        message.contains("`.dockerignore` is 9.90 MB, more than the 2.00 MB allowed"),
        "{message}"
    );
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
}

#[test]
fn a_dockerignore_with_too_many_patterns_is_refused() {
    let ws = Workspace::new();
    let lines: String = (0..120_000).map(|i| format!("**/f{i}\n")).collect();
    assert!(
        lines.len() < 2_000_000,
        "under the size cap: only the count is over"
    );
    ws.write("sub/.dockerignore", lines);
    let (code, message, elapsed) = grade(&ws);
    assert_eq!(code, 1);
    assert!(
        message.contains("`.dockerignore` has 120000 patterns, more than the 50000 allowed"),
        "{message}"
    );
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
}

#[test]
fn a_context_over_max_context_is_refused_while_it_is_walked() {
    let ws = Workspace::new();
    // 30 files of 300 kB: the fourth takes the context over 1 MB.
    for i in 0..30 {
        ws.write(&format!("sub/f{i:02}.bin"), vec![b'x'; 300_000]);
    }
    // Walked last: had the walk gone on past the cap, this link out of the
    // submission would be the error reported.
    std::os::unix::fs::symlink("/etc/passwd", ws.path("sub/z-leak")).expect("symlink");
    let (code, message, elapsed) = grade(&ws);
    assert_eq!(code, 1);
    assert!(
        message.contains(
            "the build context is at least 1.20 MB, over the 1.00 MB limit; the biggest files are \
             f00.bin (300 kB), f01.bin (300 kB), f02.bin (300 kB). List what the image does not \
             need in .dockerignore, or build from a folder without it"
        ),
        "{message}"
    );
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
}
