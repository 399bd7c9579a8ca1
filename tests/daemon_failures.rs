//! A daemon that answers the handshake and then fails every request: the
//! exit code says "infrastructure" (3) for every command, and what the user
//! reads are sentences, never Rust debug output.

mod common;

use common::Workspace;
use common::fake_daemon::FakeDaemon;

/// `dockgrade ARGS` in `ws`, talking to `daemon`: (exit code, stdout, stderr).
fn run(ws: &Workspace, daemon: &FakeDaemon, args: &[&str]) -> (Option<i32>, String, String) {
    let out = ws
        .dockgrade()
        .env("DOCKER_HOST", daemon.host())
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn validate_exits_3_when_the_daemon_fails_while_replaying_a_live_case() {
    let daemon = FakeDaemon::start();
    let ws = Workspace::new();
    ws.write(
        "exercises/l.toml",
        "id = \"l\"\ntitle = \"Live\"\nmode = \"live\"\n[[steps]]\nname = \"c\"\ncontainer = \"x\"\n\
         [[checks]]\nname = \"ran\"\nstep = \"c\"\ncontainer = { exit_code = 0 }\n",
    );
    ws.write("solutions/l/commands.sh", "true\n");
    let (code, _, stderr) = run(&ws, &daemon, &["validate"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("the Docker daemon failed: the fake daemon fails every request"),
        "{stderr}"
    );
}

#[test]
fn validate_exits_3_when_grading_meets_a_failing_daemon() {
    let daemon = FakeDaemon::start();
    let ws = Workspace::new();
    ws.write(
        "exercises/v.toml",
        "id = \"v\"\ntitle = \"V\"\n[[steps]]\nname = \"r\"\nrun = { image = \"busybox:1.35\", cmd = [\"true\"] }\n\
         [[checks]]\nname = \"exits 0\"\nstep = \"r\"\nexit_code = 0\n",
    );
    ws.write("solutions/v/.keep", "");
    let (code, stdout, _) = run(&ws, &daemon, &["validate"]);
    assert_eq!(code, Some(3), "{stdout}");
    assert!(stdout.contains("could not be decided"), "{stdout}");
}

#[test]
fn doctor_tells_a_failing_daemon_in_sentences() {
    let daemon = FakeDaemon::start();
    let ws = Workspace::new();
    let (code, stdout, _) = run(&ws, &daemon, &["doctor"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "✗ a test container does not run: creating the container: the fake daemon fails every request"
        ),
        "{stdout}"
    );
    for debug in ["Infrastructure(", "Submission(", "Some(", "\\\""] {
        assert!(
            !stdout.contains(debug),
            "debug output {debug:?} in:\n{stdout}"
        );
    }
}

#[test]
fn a_check_on_a_step_after_a_failed_build_request_is_an_error_not_a_skip() {
    // The daemon fails the build (a 500 that is not about the Dockerfile):
    // the run after it never happened, and its check was never decided.
    // Reported as a skip, the student would get 0 and exit 1; it is 3.
    let daemon = FakeDaemon::start();
    let ws = Workspace::new();
    ws.write(
        "exercises/b.toml",
        "id = \"b\"\ntitle = \"B\"\n[[steps]]\nname = \"image\"\nbuild = { dockerfile = \"Dockerfile\" }\n\
         [[steps]]\nname = \"run\"\nrun = { image = \"image\" }\n\
         [[checks]]\nname = \"says hello\"\nstep = \"run\"\nstdout = { equals = \"hello\" }\n",
    );
    ws.write(
        "Dockerfile",
        "FROM busybox:1.35\nCMD [\"echo\", \"hello\"]\n",
    );
    let (code, stdout, stderr) = run(&ws, &daemon, &["check"]);
    assert_eq!(code, Some(3), "{stdout}{stderr}");
    assert!(
        stdout.contains("not run: step `image` could not be graded"),
        "{stdout}"
    );
    assert!(!stdout.contains("build failed"), "{stdout}");
}
