//! SIGTERM mid-run, and two runs on one daemon that never touch each other.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Workspace;

fn long_exercise(ws: &Workspace, id: &str) {
    ws.write(
        &format!("exercises/{id}.toml"),
        format!(
            "id = \"{id}\"\ntitle = \"Long\"\n[[steps]]\nname = \"long\"\n\
             run = {{ image = \"busybox:1.35\", cmd = [\"sleep\", \"300\"], timeout = \"200s\" }}\n\
             [[checks]]\nname = \"finishes\"\nstep = \"long\"\nexit_code = 0\n"
        ),
    );
}

fn spawn_check(ws: &Workspace) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("dockgrade"))
        .current_dir(ws.path("."))
        .args(["check", "--json"])
        .arg(ws.path("report.json"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns")
}

fn wait_for_container(name_part: &str) {
    let filter = format!("name={name_part}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while common::docker(&["ps", "-q", "--filter", &filter])
        .stdout
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the container {name_part} never started"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn signal(child: &Child, sig: &str) {
    assert!(
        Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .expect("kill")
            .success()
    );
}

/// Sends SIGTERM and waits: the process must be gone within 5 seconds.
fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let sent = Instant::now();
    signal(child, "-TERM");
    let status = child.wait().expect("waits");
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "took {:?}",
        sent.elapsed()
    );
    status
}

fn report(ws: &Workspace) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(ws.path("report.json")).expect("report"))
        .expect("JSON")
}

#[test]
fn sigterm_stops_within_seconds_cleans_up_and_exits_143() {
    let ws = Workspace::new();
    let id = format!("term-{}", std::process::id());
    long_exercise(&ws, &id);
    let mut child = spawn_check(&ws);
    wait_for_container(&id);
    assert_eq!(terminate(&mut child).code(), Some(143));
    let json = report(&ws);
    assert_eq!(json["interrupted"], "SIGTERM");
    assert_eq!(
        common::check_named(&json, "finishes")["message"],
        "not run: interrupted by SIGTERM"
    );
    common::assert_nothing_left(json["run_id"].as_str().expect("run id"));
}

#[test]
fn an_interrupted_run_does_not_disturb_another_run_on_the_same_daemon() {
    let first = Workspace::new();
    let id = format!("first-{}", std::process::id());
    long_exercise(&first, &id);
    let mut interrupted = spawn_check(&first);
    wait_for_container(&id);

    let second = Workspace::new();
    second.write(
        "exercises/second.toml",
        "id = \"second\"\ntitle = \"Second\"\n[[steps]]\nname = \"img\"\nbuild = { dockerfile = \"Dockerfile\" }\n\
         [[steps]]\nname = \"r\"\nrun = { image = \"img\", cmd = [\"sh\", \"-c\", \"sleep 2; cat /x\"] }\n\
         [[checks]]\nname = \"reads its file\"\nstep = \"r\"\nstdout = { equals = \"second\" }\n",
    );
    second.write("Dockerfile", "FROM busybox:1.35\nRUN echo second > /x\n");
    let running = spawn_check(&second);
    // Interrupt the first run while the second is building or running.
    std::thread::sleep(Duration::from_millis(700));
    signal(&interrupted, "-INT");
    assert_eq!(interrupted.wait().expect("waits").code(), Some(130));
    let out = running.wait_with_output().expect("waits");
    assert_eq!(out.status.code(), Some(0), "the second run was disturbed");
    let (a, b) = (report(&first), report(&second));
    assert_ne!(a["run_id"], b["run_id"]);
    assert_eq!(b["totals"]["passed"], 1);
    common::assert_nothing_left(a["run_id"].as_str().expect("run id"));
    common::assert_nothing_left(b["run_id"].as_str().expect("run id"));
}

#[test]
fn validate_stops_on_sigterm_reports_what_it_graded_and_exits_143() {
    let ws = Workspace::new();
    let long = format!("validate-term-{}", std::process::id());
    ws.write(
        "exercises/a-quick.toml",
        "id = \"a-quick\"\ntitle = \"Quick\"\n[[steps]]\nname = \"r\"\n\
         run = { image = \"busybox:1.35\", cmd = [\"true\"] }\n\
         [[checks]]\nname = \"exits 0\"\nstep = \"r\"\nexit_code = 0\n",
    );
    ws.write("solutions/a-quick/.keep", "");
    long_exercise(&ws, &long);
    ws.write(&format!("solutions/{long}/.keep"), "");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("dockgrade"))
        .current_dir(ws.path("."))
        .args(["validate", "--jobs", "1", "--json"])
        .arg(ws.path("validate.json"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    wait_for_container(&long);
    assert_eq!(terminate(&mut child).code(), Some(143));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path("validate.json")).expect("report"))
            .expect("JSON");
    assert_eq!(json["interrupted"], "SIGTERM");
    let cases: Vec<&str> = json["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| c["exercise"].as_str().expect("exercise"))
        .collect();
    assert_eq!(cases, ["a-quick"], "only the case graded before the signal");
    common::assert_nothing_left(json["run_id"].as_str().expect("run id"));
}
