//! End-to-end grading against the real daemon, with busybox-based fixtures.

mod common;

use common::{Workspace, check_named};

const SPEC: &str = r#"
id = "fixture"
title = "Every check kind"
section = "1.1"

[submission]
required = ["Dockerfile"]

[[steps]]
name = "base"
image = "busybox:1.35"
pull = "never"

[[steps]]
name = "image"
build = { dockerfile = "Dockerfile", args = { GREETING = "hello" } }

[[steps]]
name = "greet"
run = { image = "image", timeout = "20s" }

[[steps]]
name = "stdin"
run = { image = "image", cmd = ["cat"], stdin = "ping\n", user = "0" }

[[steps]]
name = "mounts"
run = { image = "image", user = "0", env = { WHO = "mounts" }, cmd = ["sh", "-c", "cat /data/in.txt; touch /scratch/x /tmp/y && echo wrote; touch /data/in.txt 2>/dev/null || echo read-only; echo $WHO"], mounts = [
  { type = "bind", source = "data/in.txt", target = "/data/in.txt", readonly = true },
  { type = "tmpfs", target = "/tmp" },
  { type = "scratch", target = "/scratch" },
] }

[[checks]]
name = "build"
step = "image"
build = "succeeds"

[[checks]]
name = "config"
step = "image"
config = { workdir = "/app", user = "app", cmd = ["/app/greet.sh"], env = { MODE = "prod" }, labels = { course = "docker" }, exposed_ports = ["8080"] }

[[checks]]
name = "files"
step = "image"
files = { present = ["/app", { path = "/app/greet.sh", type = "file", mode = "0755", uid = 0 }, { path = "/bin/sh", type = "symlink" }], absent = ["/usr/bin/git"] }

[[checks]]
name = "file content"
step = "image"
file = { path = "/app/greet.sh", contains = "echo" }

[[checks]]
name = "image user"
step = "image"
user = { uid = 1000 }

[[checks]]
name = "layers"
step = "image"
layers = { min = 2, max = 8 }

[[checks]]
name = "size"
step = "image"
size = { max_over = "base", by = "100 kB", larger_than = "base" }

[[checks]]
name = "context"
step = "image"
context = { max = "100 kB" }

[[checks]]
name = "exit code"
step = "greet"
exit_code = 0

[[checks]]
name = "stdout"
step = "greet"
stdout = { equals = "hello from 1000" }

[[checks]]
name = "stderr"
step = "greet"
stderr = { contains = "a warning" }

[[checks]]
name = "run user"
step = "greet"
user = { not_root = true }

[[checks]]
name = "stdin"
step = "stdin"
stdout = { equals = "ping" }

[[checks]]
name = "mounts"
step = "mounts"
stdout = { matches = "(?s)^data-in\nwrote\nread-only\nmounts" }
"#;

const GOOD_DOCKERFILE: &str = r#"FROM busybox:1.35
ARG GREETING
WORKDIR /app
COPY greet.sh /app/greet.sh
RUN chmod 755 /app/greet.sh && sed -i "s/GREETING/$GREETING/" /app/greet.sh \
    && echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd
ENV MODE=prod
LABEL course=docker
EXPOSE 8080
USER app
CMD ["/app/greet.sh"]
"#;

const GREET: &str = "#!/bin/sh\necho \"GREETING from $(id -u)\"\necho 'a warning' >&2\n";

fn workspace(dockerfile: &str) -> Workspace {
    let ws = Workspace::new();
    ws.write("exercises/fixture.toml", SPEC)
        .write("sub/Dockerfile", dockerfile)
        .executable("sub/greet.sh", GREET)
        .write("sub/data/in.txt", "data-in\n");
    ws
}

#[test]
fn a_correct_submission_passes_every_check() {
    let ws = workspace(GOOD_DOCKERFILE);
    let (code, stdout, report) = ws.check(&["--submission", "sub"]);
    assert_eq!(code, 0, "{stdout}");
    let totals = &report["totals"];
    assert_eq!(totals["checks"], 14, "{report:#}");
    assert_eq!(totals["passed"], 14, "{stdout}");
    assert_eq!(totals["points"], totals["max_points"]);
    assert!(stdout.contains("✓ mounts"), "{stdout}");
    assert!(stdout.contains("14 passed"), "{stdout}");
}

const BAD_DOCKERFILE: &str = r#"FROM busybox:1.35
COPY greet.sh /greet.sh
COPY big.bin /big.bin
RUN mkdir -p /usr/bin && touch /usr/bin/git && sed -i 's/GREETING/bye/' /greet.sh && chmod 700 /greet.sh
RUN touch /1
RUN touch /2
RUN touch /3
RUN touch /4
RUN touch /5
CMD ["sh", "-c", "/greet.sh 2>/dev/null; exit 3"]
"#;

#[test]
fn each_check_kind_reports_what_was_expected_and_what_was_seen() {
    let ws = workspace(BAD_DOCKERFILE);
    ws.write("sub/big.bin", vec![7u8; 300_000]);
    let (code, stdout, report) = ws.check(&["--submission", "sub"]);
    assert_eq!(code, 1, "{stdout}");
    let failed = |name: &str| {
        let c = check_named(&report, name);
        assert_eq!(c["status"], "failed", "{name}: {c:#}");
        assert_eq!(c["points"], 0);
        (
            c["expected"].as_str().unwrap_or("").to_string(),
            c["actual"].as_str().unwrap_or("").to_string(),
        )
    };
    assert_eq!(
        failed("config"),
        (
            r#"USER "app", WORKDIR "/app", CMD ["/app/greet.sh"], ENV MODE "prod", LABEL course "docker", EXPOSE 8080/tcp exposed"#.into(),
            r#"USER "", WORKDIR "", CMD ["sh","-c","/greet.sh 2>/dev/null; exit 3"], ENV MODE unset, LABEL course unset, EXPOSE 8080/tcp not exposed"#.into()
        )
    );
    let (_, files) = failed("files");
    assert_eq!(
        files,
        "/app is missing, /app/greet.sh is missing, /usr/bin/git is present (file)"
    );
    assert_eq!(failed("file content").1, "no such file");
    assert_eq!(
        failed("image user").1,
        "the image runs as root (no USER set), uid 0"
    );
    let (expected, actual) = failed("size");
    assert!(
        expected.starts_with("at most 100 kB over `base`"),
        "{expected}"
    );
    assert!(actual.contains("+30"), "300 kB over the base: {actual}");
    let (expected, actual) = failed("context");
    assert_eq!(expected, "at most 100 kB");
    assert!(
        actual.ends_with("kB sent") && actual.starts_with("30"),
        "{actual}"
    );
    assert_eq!(
        failed("exit code"),
        ("exit code 0".into(), "exit code 3".into())
    );
    assert_eq!(
        failed("stdout"),
        (
            "exactly \"hello from 1000\"".into(),
            "\"bye from 0\"".into()
        )
    );
    assert_eq!(
        failed("run user").1,
        "the process ran as root (no USER set), uid 0"
    );
    assert_eq!(
        failed("layers"),
        ("between 2 and 8 layers".into(), "9 layers".into())
    );
    assert_eq!(
        failed("stderr"),
        ("to contain \"a warning\"".into(), "nothing".into())
    );
    // What the submission got right still passes.
    assert_eq!(check_named(&report, "build")["status"], "passed");
    assert_eq!(check_named(&report, "stdin")["status"], "passed");
    // The terminal shows expected vs actual and the failing check's hint line.
    assert!(
        stdout
            .contains("✗ exit code  0/1\n      expected: exit code 0\n      actual:   exit code 3"),
        "{stdout}"
    );
}

#[test]
fn a_build_failure_fails_its_checks_shows_the_log_and_skips_dependent_runs() {
    let ws = workspace("FROM busybox:1.35\nRUN echo about to fail && exit 7\n");
    let (code, stdout, report) = ws.check(&["--submission", "sub"]);
    assert_eq!(code, 1, "{stdout}");
    let build = check_named(&report, "build");
    assert_eq!(build["status"], "failed");
    assert!(
        build["actual"]
            .as_str()
            .expect("actual")
            .contains("returned a non-zero code: 7"),
        "{build:#}"
    );
    // The build's error is said once, by the check on the build; the
    // checks that needed its image point there.
    let greet = check_named(&report, "exit code");
    assert_eq!(greet["status"], "skipped");
    assert_eq!(greet["message"], "not run: the build failed; see `build`");
    assert_eq!(
        stdout.matches("returned a non-zero code: 7").count(),
        2,
        "once with the step, once under the build check: {stdout}"
    );
    assert!(
        stdout.contains("13 not passed (1 failed, 12 not run)"),
        "{stdout}"
    );
    assert!(stdout.contains("end of the build log:"), "{stdout}");
    assert!(stdout.contains("│ about to fail"), "{stdout}");
}

#[test]
fn a_run_that_outlives_its_timeout_is_killed_and_reported() {
    let ws = Workspace::new();
    ws.write(
        "exercises/slow.toml",
        r#"
id = "slow"
title = "Slow"
[[steps]]
name = "sleep"
run = { image = "busybox:1.35", cmd = ["sh", "-c", "trap '' TERM; sleep 300"], timeout = "2s" }
[[checks]]
name = "finishes"
step = "sleep"
exit_code = 0
"#,
    );
    let started = std::time::Instant::now();
    let (code, stdout, report) = ws.check(&["--submission", "."]);
    assert_eq!(code, 1, "{stdout}");
    let c = check_named(&report, "finishes");
    assert_eq!(
        (c["status"].as_str(), c["message"].as_str()),
        (Some("failed"), Some("timed out after 2s"))
    );
    assert!(
        started.elapsed().as_secs() < 30,
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_missing_required_file_fails_once_and_builds_nothing() {
    let ws = workspace(GOOD_DOCKERFILE);
    std::fs::remove_file(ws.path("sub/Dockerfile")).expect("rm");
    let (code, stdout, report) = ws.check(&["--submission", "sub"]);
    assert_eq!(code, 1, "{stdout}");
    let ex = &report["exercises"][0];
    assert_eq!(
        ex["steps"].as_array().expect("steps").len(),
        0,
        "no step may run: {ex:#}"
    );
    let first = &ex["checks"][0];
    assert_eq!(first["status"], "failed");
    assert_eq!(
        first["message"],
        "required file `Dockerfile` is missing from the submission"
    );
    assert!(
        ex["checks"].as_array().expect("checks")[1..]
            .iter()
            .all(|c| c["status"] == "skipped")
    );
}

#[test]
fn a_symlink_leading_out_of_the_submission_fails_the_build() {
    let ws = workspace(GOOD_DOCKERFILE);
    std::os::unix::fs::symlink("/etc/shadow", ws.path("sub/shadow")).expect("symlink");
    let (code, stdout, report) = ws.check(&["--submission", "sub"]);
    assert_eq!(code, 1, "{stdout}");
    let build = check_named(&report, "build");
    assert_eq!(build["status"], "failed");
    let actual = build["actual"].as_str().expect("actual");
    assert!(
        actual.contains("`shadow` is a symlink that leads outside the submission"),
        "{actual}"
    );
}

#[test]
fn a_check_on_a_clean_submission_leaves_the_folder_untouched() {
    let ws = workspace(GOOD_DOCKERFILE);
    let before = listing(&ws.path("sub"));
    let (code, _, _) = ws.check(&["--submission", "sub"]);
    assert_eq!(code, 0);
    assert_eq!(listing(&ws.path("sub")), before);
}

fn listing(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let p = entry.expect("entry").path();
        if p.is_dir() {
            out.extend(listing(&p));
        } else {
            out.push((p.display().to_string(), std::fs::read(&p).expect("read")));
        }
    }
    out.sort();
    out
}

#[test]
fn ctrl_c_stops_the_run_removes_everything_and_writes_a_partial_report() {
    let ws = Workspace::new();
    let id = format!("interrupt-{}", std::process::id());
    ws.write(
        &format!("exercises/{id}.toml"),
        format!(
            "id = \"{id}\"\ntitle = \"Interrupted\"\n[[steps]]\nname = \"long\"\n\
             run = {{ image = \"busybox:1.35\", cmd = [\"sleep\", \"300\"], timeout = \"200s\" }}\n\
             [[checks]]\nname = \"finishes\"\nstep = \"long\"\nexit_code = 0\n"
        ),
    );
    let report = ws.path("report.json");
    let bin = assert_cmd::cargo::cargo_bin("dockgrade");
    let mut child = std::process::Command::new(bin)
        .current_dir(ws.path("."))
        .args(["check", "--json"])
        .arg(&report)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawns");
    // Wait until the container runs, then press Ctrl-C.
    let filter = format!("name={id}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while common::docker(&["ps", "-q", "--filter", &filter])
        .stdout
        .is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the container never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let signalled = std::time::Instant::now();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill")
            .success()
    );
    let status = child.wait().expect("waits");
    assert!(
        signalled.elapsed().as_secs() < 10,
        "took {:?} to stop",
        signalled.elapsed()
    );
    assert_eq!(status.code(), Some(130));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("JSON");
    assert_eq!(json["interrupted"], "SIGINT");
    let c = check_named(&json, "finishes");
    assert_eq!(
        (c["status"].as_str(), c["message"].as_str()),
        (Some("skipped"), Some("not run: interrupted by SIGINT"))
    );
    common::assert_nothing_left(json["run_id"].as_str().expect("run id"));
    assert!(
        common::docker(&["ps", "-aq", "--filter", &filter])
            .stdout
            .is_empty(),
        "container left"
    );
}
