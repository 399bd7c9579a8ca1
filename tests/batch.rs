//! `dockgrade batch` and `merge` against the real daemon: each layout, a
//! roster, hostile student ids, a hanging submission, resume after Ctrl-C,
//! `--force` and `--only`, shards merged equal to one run, and merges that
//! must be refused.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Workspace, assert_nothing_left};

/// A quick exercise: build the student's busybox image, run it, hear hello.
const HELLO: &str = r#"
id = "hello"
title = "Say hello"
[submission]
required = ["Dockerfile"]
[[steps]]
name = "image"
build = { dockerfile = "Dockerfile", timeout = "60s" }
[[steps]]
name = "run"
run = { image = "image", timeout = "40s" }
[[checks]]
name = "builds"
step = "image"
build = "succeeds"
[[checks]]
name = "says hello"
step = "run"
stdout = { equals = "hello" }
points = 2
"#;

fn dockerfile(says: &str) -> String {
    format!("FROM busybox:1.35\nCMD [\"sh\", \"-c\", \"{says}\"]\n")
}

const GOOD: &str = "echo hello";
const WRONG: &str = "echo bye";

/// A workspace with the exercise and `subs/<student>/Dockerfile` for each.
fn class(students: &[(&str, &str)]) -> Workspace {
    let ws = Workspace::new();
    ws.write("exercises/hello.toml", HELLO);
    std::fs::create_dir_all(ws.path("subs")).expect("mkdir");
    for (id, says) in students {
        let dir = ws.path("subs").join(id);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("Dockerfile"), dockerfile(says)).expect("write");
    }
    ws
}

/// `dockgrade batch subs --out <out> ARGS`: (exit code, stdout, stderr).
fn batch(ws: &Workspace, out: &str, args: &[&str]) -> (i32, String, String) {
    let o = ws
        .dockgrade()
        .args(["batch", "subs", "--out", out])
        .args(args)
        .output()
        .expect("runs");
    (
        o.status.code().expect("code"),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Student → (status, total) from grades.csv, and the CSV's text.
fn grades(ws: &Workspace, out: &str) -> (BTreeMap<String, (String, u32)>, String) {
    let text = std::fs::read_to_string(ws.path(out).join("grades.csv")).expect("grades.csv");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().expect("header").clone();
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let (student, total, status) = (col("student"), col("total"), col("status"));
    let rows = reader
        .records()
        .map(|r| {
            let r = r.expect("row");
            (
                r[student].to_string(),
                (r[status].to_string(), r[total].parse().expect("total")),
            )
        })
        .collect();
    (rows, text)
}

fn batch_json(ws: &Workspace, out: &str) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(ws.path(out).join("batch.json")).expect("batch.json"),
    )
    .expect("JSON")
}

/// Every graded student's run left nothing on the daemon.
fn nothing_left(ws: &Workspace, out: &str) {
    for entry in std::fs::read_dir(ws.path(out).join("students"))
        .expect("students")
        .flatten()
    {
        if let Ok(text) = std::fs::read_to_string(entry.path().join("report.json")) {
            let report: serde_json::Value = serde_json::from_str(&text).expect("report");
            assert_nothing_left(report["run_id"].as_str().expect("run id"));
        }
    }
}

#[test]
fn a_class_with_a_roster_hostile_ids_and_a_hanging_submission() {
    let ws = class(&[
        ("alice", GOOD),
        ("bob", WRONG),
        ("=HYPERLINK(\"x\")", GOOD),
        ("-rf", GOOD),
        ("new\nline", GOOD),
        ("hang", "sleep 300"),
    ]);
    ws.write("notes.txt", "");
    std::fs::write(ws.path("subs/stray.txt"), "not a student").expect("write");
    ws.write(
        "roster.csv",
        "login,name\nalice,Alice\nbob,Bob\ncarol,Carol\n",
    );
    let started = Instant::now();
    let (code, stdout, stderr) = batch(&ws, "out", &["--roster", "roster.csv", "--timeout", "6s"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "the hanging one did not hold the batch"
    );
    assert!(stderr.contains("\"stray.txt\" is a file"), "{stderr}");
    assert!(stderr.contains("\"-rf\" is not on the roster"), "{stderr}");
    let (rows, csv) = grades(&ws, "out");
    assert_eq!(rows["alice"], ("graded".into(), 3));
    assert_eq!(rows["bob"], ("graded".into(), 1));
    assert_eq!(rows["carol"], ("missing".into(), 0));
    assert_eq!(rows["hang"].0, "timeout");
    assert_eq!(
        rows["'=HYPERLINK(\"x\")"],
        ("graded".into(), 3),
        "the formula is made text"
    );
    assert_eq!(rows["'-rf"].0, "graded");
    assert_eq!(rows["new\nline"].0, "graded");
    assert!(
        !csv.lines()
            .any(|l| l.starts_with('=') || l.starts_with('-')),
        "{csv}"
    );
    // Every student has a folder of safe name, and batch.json maps ids to them.
    let json = batch_json(&ws, "out");
    for s in json["students"].as_array().expect("students") {
        let folder = s["folder"].as_str().expect("folder");
        assert!(
            !folder.starts_with(['.', '-']) && !folder.contains(['/', '\n']),
            "{folder}"
        );
        assert!(
            ws.path("out/students")
                .join(folder)
                .join("result.json")
                .is_file(),
            "{folder}"
        );
    }
    let summary = std::fs::read_to_string(ws.path("out/summary.md")).expect("summary");
    assert!(summary.contains("hang (timeout)"), "{summary}");
    assert!(
        std::fs::read_to_string(ws.path("out/students/bob/report.txt"))
            .expect("feedback")
            .contains("✗ says hello")
    );
    nothing_left(&ws, "out");
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        w.start_file(*name, options).expect("start");
        w.write_all(data).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

#[test]
fn archives_are_unpacked_and_hostile_ones_refused_per_student() {
    let ws = class(&[]);
    let good = dockerfile(GOOD);
    let subs = ws.path("subs");
    std::fs::write(
        subs.join("alice.zip"),
        zip_of(&[("Dockerfile", good.as_bytes())]),
    )
    .expect("zip");
    std::fs::write(subs.join("slip.zip"), zip_of(&[("../../escaped", b"x")])).expect("zip");
    std::fs::write(
        subs.join("bomb.zip"),
        zip_of(&[("zeros", &vec![0u8; 40_000_000])]),
    )
    .expect("zip");
    std::fs::write(
        subs.join("dave.zip"),
        zip_of(&[("Dockerfile", good.as_bytes())]),
    )
    .expect("zip");
    std::fs::write(subs.join("dave.tar"), b"").expect("tar");
    std::fs::write(subs.join("broken.tar.gz"), b"\x1f\x8b not gzip").expect("gz");
    let (code, stdout, stderr) = batch(&ws, "out", &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (rows, _) = grades(&ws, "out");
    assert_eq!(rows["alice"], ("graded".into(), 3));
    for refused in ["slip", "bomb", "dave", "broken"] {
        assert_eq!(rows[refused].0, "invalid", "{refused}");
    }
    let json = batch_json(&ws, "out");
    let message = |id: &str| {
        json["students"]
            .as_array()
            .expect("students")
            .iter()
            .find(|s| s["student"]["id"] == id)
            .expect(id)["message"]
            .as_str()
            .expect("message")
            .to_string()
    };
    assert!(
        message("slip").contains("leads out of its folder"),
        "{}",
        message("slip")
    );
    assert!(
        message("bomb").contains("decompression bomb"),
        "{}",
        message("bomb")
    );
    assert!(
        message("dave").contains("dave.tar, dave.zip"),
        "{}",
        message("dave")
    );
    assert!(!ws.path("escaped").exists() && !Path::new("/tmp/escaped").exists());
    nothing_left(&ws, "out");
}

#[test]
fn a_gradescope_export_is_graded_per_submitter() {
    let ws = class(&[("submission_11", GOOD), ("submission_12", WRONG)]);
    ws.write(
        "subs/submission_metadata.yml",
        "submission_11:\n  :submitters:\n  - :name: Ann\n    :sid: '101'\n\
         submission_12:\n  :submitters:\n  - :name: Ben\n    :sid: '102'\n  - :name: Cy\n    :sid: '103'\n",
    );
    let (code, stdout, stderr) = batch(&ws, "out", &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (rows, _) = grades(&ws, "out");
    assert_eq!(rows["101"], ("graded".into(), 3));
    assert_eq!(rows["102"], ("graded".into(), 1));
    assert_eq!(rows["103"], ("graded".into(), 1), "each member of a group");
    nothing_left(&ws, "out");
}

#[test]
fn an_interrupted_batch_keeps_what_was_graded_and_resumes_the_rest() {
    let ws = class(&[
        ("a", GOOD),
        ("b", GOOD),
        ("c", "sleep 30; echo hello"),
        ("d", GOOD),
    ]);
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("dockgrade"))
        .current_dir(ws.path("."))
        .args(["batch", "subs", "--out", "out", "--jobs", "1", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    let deadline = Instant::now() + Duration::from_secs(90);
    while !ws.path("out/students/b/result.json").exists() {
        assert!(Instant::now() < deadline, "a and b were never graded");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill")
            .success()
    );
    assert_eq!(child.wait().expect("waits").code(), Some(130));
    assert!(ws.path("out/students/a/result.json").exists());
    assert!(
        !ws.path("out/students/c/result.json").exists(),
        "c was running: no row"
    );
    assert!(!ws.path("out/students/d/result.json").exists());
    let (code, stdout, stderr) = batch(&ws, "out", &["--jobs", "1"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains("a kept") && stderr.contains("b kept"),
        "{stderr}"
    );
    assert!(
        stderr.contains("c graded") && stderr.contains("d graded"),
        "{stderr}"
    );
    let (rows, _) = grades(&ws, "out");
    assert_eq!(
        rows.values()
            .filter(|(s, t)| s == "graded" && *t == 3)
            .count(),
        4
    );
    nothing_left(&ws, "out");
}

#[test]
fn force_and_only_grade_again() {
    let ws = class(&[("a", GOOD), ("b", WRONG)]);
    let (code, _, _) = batch(&ws, "out", &[]);
    assert_eq!(code, 0);
    std::fs::write(ws.path("subs/b/Dockerfile"), dockerfile(GOOD)).expect("fix b");
    std::fs::write(ws.path("subs/a/Dockerfile"), dockerfile(WRONG)).expect("break a");
    let (code, _, stderr) = batch(&ws, "out", &["--only", "b"]);
    assert_eq!(code, 0, "{stderr}");
    let (rows, _) = grades(&ws, "out");
    assert_eq!(rows["b"].1, 3, "b is graded again");
    assert_eq!(rows["a"].1, 3, "a keeps its result: only b was asked for");
    let (code, _, stderr) = batch(&ws, "out", &["--force"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("a graded") && stderr.contains("b graded"),
        "{stderr}"
    );
    assert_eq!(grades(&ws, "out").0["a"].1, 1);
    nothing_left(&ws, "out");
}

#[test]
fn three_shards_merged_equal_one_run_and_mismatched_shards_are_refused() {
    let students: Vec<(String, &str)> = (0..7)
        .map(|i| (format!("s{i}"), if i % 3 == 0 { WRONG } else { GOOD }))
        .collect();
    let refs: Vec<(&str, &str)> = students.iter().map(|(s, d)| (s.as_str(), *d)).collect();
    let ws = class(&refs);
    ws.write("roster.csv", "id\ns0\ns1\ns2\ns3\ns4\ns5\ns6\nzed\n");
    let (code, _, stderr) = batch(&ws, "whole", &["--roster", "roster.csv"]);
    assert_eq!(code, 0, "{stderr}");
    let mut shards = Vec::new();
    for k in 1..=3 {
        let out = format!("shard{k}");
        let (code, _, stderr) = batch(
            &ws,
            &out,
            &["--roster", "roster.csv", "--shard", &format!("{k}/3")],
        );
        assert_eq!(code, 0, "{stderr}");
        shards.push(out);
    }
    let merge = |shards: &[&str], out: &str| {
        ws.dockgrade()
            .arg("merge")
            .args(shards)
            .args(["--out", out, "--roster", "roster.csv"])
            .output()
            .expect("merges")
    };
    let names: Vec<&str> = shards.iter().map(String::as_str).collect();
    let merged = merge(&names, "merged");
    assert_eq!(
        merged.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    assert_eq!(
        grades(&ws, "merged").1,
        grades(&ws, "whole").1,
        "the same grades.csv"
    );
    assert!(ws.path("merged/students/s0/report.txt").is_file());

    let twice = merge(&[names[0], names[0]], "twice");
    assert_eq!(twice.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&twice.stderr).contains("shards must not overlap"));

    let missing_shard = merge(&names[..2], "partial");
    assert_eq!(missing_shard.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&missing_shard.stderr)
            .contains("roster student(s) are in no shard")
    );

    // A shard graded with another course is refused.
    ws.write(
        "exercises/hello.toml",
        HELLO.replace("points = 2", "points = 3"),
    );
    let (code, _, stderr) = batch(&ws, "other", &["--shard", "1/3"]);
    assert_eq!(code, 0, "{stderr}");
    let mixed = merge(&[names[1], names[2], "other"], "mixed");
    assert_eq!(mixed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&mixed.stderr).contains("merge only shards of one batch"));
}

#[test]
fn every_row_says_what_happened_to_the_submission() {
    let ws = class(&[("alice", GOOD), ("fifo", GOOD), ("outside", GOOD)]);
    std::fs::create_dir_all(ws.path("subs/empty")).expect("mkdir");
    let fifo = ws.path("subs/fifo/pipe");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo")
            .success()
    );
    std::os::unix::fs::symlink("/etc/shadow", ws.path("subs/outside/shadow")).expect("link");
    let (code, stdout, stderr) = batch(&ws, "out", &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (rows, csv) = grades(&ws, "out");
    assert_eq!(rows["alice"], ("graded".into(), 3));
    assert_eq!(rows["empty"].0, "invalid", "{csv}");
    assert!(csv.contains("the submission is empty"), "{csv}");
    // Unreadable kinds of file are the submission's: graded, and said.
    for (student, why) in [
        ("fifo", "`pipe` is a FIFO"),
        (
            "outside",
            "`shadow` is a symlink that leads outside the submission",
        ),
    ] {
        assert_eq!(rows[student], ("graded".into(), 0), "{csv}");
        let feedback =
            std::fs::read_to_string(ws.path(&format!("out/students/{student}/report.txt")))
                .expect("feedback");
        assert!(feedback.contains(why), "{feedback}");
    }
    nothing_left(&ws, "out");

    // A daemon that fails the build: the row is an error, never `graded`.
    let daemon = common::fake_daemon::FakeDaemon::start();
    let (code, stdout, stderr) = batch(
        &ws,
        "failing",
        &["--docker-host", &daemon.host(), "--only", "alice"],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (rows, csv) = grades(&ws, "failing");
    assert_eq!(rows["alice"].0, "error", "{csv}");
    assert!(csv.contains("the fake daemon fails every request"), "{csv}");
}

#[test]
fn a_batch_exports_to_canvas_and_moodle() {
    let ws = class(&[("alice", GOOD), ("bob", WRONG)]);
    let (code, _, stderr) = batch(&ws, "out", &[]);
    assert_eq!(code, 0, "{stderr}");
    ws.write(
        "canvas.csv",
        "Student,ID,SIS User ID,SIS Login ID,Section,Docker lab 1\n\
         Points Possible,,,,,3\n\
         \"A, Alice\",11,,alice@uni.example,L1,\n\
         \"C, Carol\",13,,carol@uni.example,L1,\n",
    );
    let canvas = ws
        .dockgrade()
        .args(["export", "canvas", "out", "--roster", "canvas.csv"])
        .args(["--assignment", "Docker lab 1"])
        .output()
        .expect("runs");
    assert_eq!(canvas.status.code(), Some(0));
    let text = String::from_utf8_lossy(&canvas.stdout);
    assert!(
        text.contains("\"A, Alice\",11,,alice@uni.example,L1,3\n"),
        "{text}"
    );
    assert!(
        text.contains("\"C, Carol\",13,,carol@uni.example,L1,\n"),
        "{text}"
    );
    assert!(
        String::from_utf8_lossy(&canvas.stderr).contains("\"bob\": not in Canvas's export"),
        "bob is named"
    );
    let moodle = ws
        .dockgrade()
        .args([
            "export",
            "moodle",
            "out",
            "--identity",
            "username",
            "--out",
            "moodle.csv",
        ])
        .output()
        .expect("runs");
    assert_eq!(moodle.status.code(), Some(0));
    let text = std::fs::read_to_string(ws.path("moodle.csv")).expect("written");
    assert!(
        text.starts_with("username,grade,feedback\nalice,3,"),
        "{text}"
    );
    assert!(text.contains("\nbob,1,"), "{text}");
    let missing = ws
        .dockgrade()
        .args(["export", "moodle", "nowhere", "--identity", "email"])
        .output()
        .expect("runs");
    assert_eq!(missing.status.code(), Some(2));
}

/// Builds whose `RUN` writes a time stamp: an image rebuilt has a new one.
/// The stamp is made in a stage of its own, whose layers no label finds.
const STAMP: &str = r#"
id = "stamp"
title = "Stamp"
[submission]
required = ["Dockerfile"]
[[steps]]
name = "image"
build = { dockerfile = "Dockerfile", timeout = "60s" }
[[steps]]
name = "run"
run = { image = "image", timeout = "90s" }
[[checks]]
name = "stamps"
step = "run"
stdout = { contains = "stamp" }
"#;

/// A class of the stamp exercise, each student's `CMD` given, and
/// dockgrade's cache (where the build cache's journals go) in `cache/`.
fn stamp_class(nonce: &str, students: &[(&str, &str)]) -> Workspace {
    let ws = Workspace::new();
    ws.write("exercises/stamp.toml", STAMP);
    for (id, cmd) in students {
        ws.write(
            &format!("subs/{id}/Dockerfile"),
            format!(
                "FROM busybox:1.35 AS stamp\nRUN echo stamp-{nonce} $(date +%s%N) > /stamp\n\
                 FROM busybox:1.35\nCOPY --from=stamp /stamp /stamp\nCMD {cmd}\n"
            ),
        );
    }
    ws
}

/// Every image on the daemon, and the ids of those whose own instruction
/// mentions `nonce`.
fn images_of(nonce: &str) -> Vec<String> {
    let out = common::docker(&["image", "ls", "-aq", "--no-trunc"]);
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if ids.is_empty() {
        return ids;
    }
    let mut args = vec![
        "image",
        "inspect",
        "--format",
        "{{.Id}} {{json .ContainerConfig.Cmd}}",
    ];
    args.extend(ids.iter().map(String::as_str));
    let out = common::docker(&args);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(nonce))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

fn unique(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_nanos();
    format!("{what}{nanos:x}{}", std::process::id())
}

#[test]
fn students_share_the_build_cache_and_it_is_gone_when_the_batch_ends() {
    let nonce = unique("share");
    let cat = r#"["cat", "/stamp"]"#;
    let ws = stamp_class(&nonce, &[("a", cat), ("b", cat), ("c", cat)]);
    let o = ws
        .dockgrade()
        .env("DOCKGRADE_CACHE", ws.path("cache"))
        .args(["batch", "subs", "--out", "out", "--jobs", "1"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    // One after the other, the second and third students' builds reused the
    // first one's RUN layer: the same stamp.
    let stamps: BTreeSet<String> = ["a", "b", "c"]
        .iter()
        .map(|s| {
            let text = std::fs::read_to_string(ws.path(&format!("out/students/{s}/report.json")))
                .expect("report.json");
            let at = text
                .find(&format!("stamp-{nonce} "))
                .expect("the stamp is reported");
            text[at..]
                .split_whitespace()
                .nth(1)
                .expect("stamp")
                .to_string()
        })
        .collect();
    assert_eq!(stamps.len(), 1, "{stamps:?}");
    assert!(
        stderr.contains("cached layer(s) the batch kept"),
        "{stderr}"
    );
    assert!(images_of(&nonce).is_empty(), "the cached layers are left");
    let journals = std::fs::read_dir(ws.path("cache/kept-layers")).expect("journal folder");
    assert_eq!(
        journals.count(),
        0,
        "the journal is removed with its layers"
    );
    nothing_left(&ws, "out");
}

#[test]
fn a_killed_batch_leaves_its_build_cache_to_clean() {
    let nonce = unique("killed");
    let ws = stamp_class(
        &nonce,
        &[("a", r#"["cat", "/stamp"]"#), ("b", r#"["sleep", "80"]"#)],
    );
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("dockgrade"))
        .current_dir(ws.path("."))
        .env("DOCKGRADE_CACHE", ws.path("cache"))
        .args(["batch", "subs", "--out", "out", "--jobs", "1", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ws.path("out/students/a/result.json").exists() {
        assert!(Instant::now() < deadline, "a was never graded");
        std::thread::sleep(Duration::from_millis(200));
    }
    // b is running: its sleep is a container of a run this kill strands.
    std::thread::sleep(Duration::from_secs(2));
    child.kill().expect("SIGKILL");
    child.wait().expect("waits");
    let cached = images_of(&nonce);
    assert!(!cached.is_empty(), "a's layers were kept for b");
    let journal = std::fs::read_dir(ws.path("cache/kept-layers"))
        .expect("journal folder")
        .flatten()
        .next()
        .expect("a journal");
    let text = std::fs::read_to_string(journal.path()).expect("journal");
    assert!(cached.iter().all(|id| text.contains(id.as_str())), "{text}");
    let o = ws
        .dockgrade()
        .env("DOCKGRADE_CACHE", ws.path("cache"))
        .arg("clean")
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains("cached layer(s) that a batch kept"),
        "{stdout}"
    );
    assert!(images_of(&nonce).is_empty(), "clean left the cached layers");
    assert!(!journal.path().exists(), "clean left the journal");
    nothing_left(&ws, "out");
}

/// Where the submission's `dir/file` lands: in `/software/dir`, or not.
const WHERE: &str = r#"
id = "where"
title = "Where the files land"
[submission]
required = ["Dockerfile"]
[[steps]]
name = "image"
build = { dockerfile = "Dockerfile", network = "none" }
[[checks]]
name = "the folder is copied, not its contents"
step = "image"
files = { present = [{ path = "/software/dir/file", type = "file" }] }
"#;

#[test]
fn a_copy_of_a_folder_is_never_taken_for_a_copy_of_the_context() {
    // The legacy builder gives `COPY . .` from a context that holds only
    // `dir/` and `COPY dir .` the same cache key: a shared cache would hand
    // b the layer a made, with the folder where b copies its contents.
    let nonce = unique("where");
    let ws = Workspace::new();
    ws.write("exercises/where.toml", WHERE);
    let base = format!("FROM busybox:1.35\nLABEL nonce={nonce}\nWORKDIR /software\n");
    ws.write("subs/a/Dockerfile", format!("{base}COPY . .\n"));
    ws.write("subs/a/.dockerignore", "*\n!dir\n");
    ws.write("subs/a/dir/file", "data\n");
    ws.write("subs/b/Dockerfile", format!("{base}COPY dir .\n"));
    ws.write("subs/b/dir/file", "data\n");
    let (code, stdout, stderr) = batch(&ws, "out", &["--jobs", "1"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (rows, text) = grades(&ws, "out");
    assert_eq!(rows["a"], ("graded".to_string(), 1), "{text}");
    assert_eq!(rows["b"], ("graded".to_string(), 0), "{text}");
    nothing_left(&ws, "out");
}

/// A Dockerfile built twice by each run: whole, then `--target downloader`.
const STAGES: &str = r#"
id = "stages"
title = "The last stage starts afresh"
[submission]
required = ["Dockerfile"]
[[steps]]
name = "final"
build = { dockerfile = "Dockerfile", timeout = "60s" }
[[steps]]
name = "downloader"
build = { dockerfile = "Dockerfile", target = "downloader", timeout = "60s" }
[[checks]]
name = "the last stage does not start from downloader"
step = "final"
layers = { not_based_on = "downloader" }
"#;

#[test]
fn identical_submissions_graded_side_by_side_each_see_their_own_stages() {
    // Both runs build the downloader stage at the same moment and leave two
    // equal layers; the builder's cache hands a later build the newest. One
    // run's `--target downloader` would then be the other run's, and its
    // final image, built FROM its own downloader, would seem not to be.
    let nonce = unique("stages");
    let ws = Workspace::new();
    ws.write("exercises/stages.toml", STAGES);
    for student in ["a", "b"] {
        ws.write(
            &format!("subs/{student}/Dockerfile"),
            format!(
                "FROM busybox:1.35 AS downloader\nRUN sleep 2 && echo {nonce} $(cat /proc/sys/kernel/random/uuid) > /stamp\n\
                 FROM downloader\nCMD [\"cat\", \"/stamp\"]\n"
            ),
        );
    }
    let (code, stdout, stderr) = batch(&ws, "out", &["--jobs", "2"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (rows, text) = grades(&ws, "out");
    assert_eq!(rows["a"], ("graded".to_string(), 0), "{text}");
    assert_eq!(rows["b"], ("graded".to_string(), 0), "{text}");
    assert!(images_of(&nonce).is_empty(), "layers are left");
    nothing_left(&ws, "out");
}
