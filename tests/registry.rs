//! Services, pushes, execs and the checks that ask services, against the
//! real daemon and a real registry (`registry:2`, the distribution registry;
//! `ci/seed-images.sh` builds a stand-in from Debian's package where none
//! can be pulled): readiness and its timeout, a push a registry refuses, an
//! http check whose failure shows the body, the garbage-collection exercise
//! end to end, and nothing left behind, Ctrl-C included.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Workspace, check_named, docker};

/// An exercise in `ws` made of `body` (steps and checks).
fn exercise(ws: &Workspace, id: &str, body: &str) {
    ws.write(
        &format!("exercises/{id}.toml"),
        format!("id = \"{id}\"\ntitle = \"Services\"\n{body}"),
    );
}

/// No registry reference any run pushed is left (the pushes tag images
/// `127.0.0.1:PORT/…`, and only these tests and the course push).
fn assert_no_pushed_references(run_id: &str, report: &serde_json::Value) {
    let out = docker(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
    let tags = String::from_utf8_lossy(&out.stdout);
    for step in report["exercises"][0]["steps"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if step["kind"] == "push" {
            assert!(
                !tags
                    .lines()
                    .any(|t| t.starts_with("127.0.0.1:") && t.contains("dockgrade-test")),
                "run {run_id} left a pushed reference: {tags}"
            );
        }
    }
}

#[test]
fn a_service_that_never_answers_is_the_graders_error_at_the_timeout_and_nothing_is_left() {
    let ws = Workspace::new();
    exercise(
        &ws,
        "silent",
        r#"
[[steps]]
name = "web"
service = { image = "busybox:1.35", cmd = ["sleep", "600"], port = 8080, ready = { http = "/" }, timeout = "2s" }

[[checks]]
name = "the service answers"
step = "web"
http = { service = "web", path = "/", status = 200 }
"#,
    );
    ws.write("submission/.keep", "");
    let started = Instant::now();
    let (code, _, report) = ws.check(&["silent", "--submission", "submission"]);
    // The exercise's own service: not the student's doing, so no grade.
    assert_eq!(code, 3, "{report:#}");
    let check = check_named(&report, "the service answers");
    assert_eq!(check["status"], "error", "{check:#}");
    let message = check["message"].as_str().unwrap();
    assert!(message.contains("was not ready after 2s"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn a_service_that_stops_says_so_with_its_log() {
    let ws = Workspace::new();
    exercise(
        &ws,
        "stops",
        r#"
[[steps]]
name = "web"
service = { image = "busybox:1.35", cmd = ["sh", "-c", "echo cannot bind the port >&2; exit 3"], port = 8080 }

[[checks]]
name = "the service answers"
step = "web"
http = { service = "web", path = "/", status = 200 }
"#,
    );
    ws.write("submission/.keep", "");
    let (code, _, report) = ws.check(&["stops", "--submission", "submission"]);
    assert_eq!(code, 3);
    assert_eq!(
        check_named(&report, "the service answers")["status"],
        "error"
    );
    let message = check_named(&report, "the service answers")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("stopped before it was ready"), "{message}");
    assert!(message.contains("cannot bind the port"), "{message}");
}

/// A web server whose answers the checks read: busybox httpd serving a
/// folder the exercise writes.
const WEB: &str = r#"
[[steps]]
name = "web"
service = { image = "busybox:1.35", cmd = ["sh", "-c", "mkdir -p /www/v2 && echo '{\"tags\":[\"2.0\",\"latest\"]}' > /www/v2/tags.json && echo hello > /www/index.html && httpd -f -p 8080 -h /www"], port = 8080, ready = { http = "/index.html" } }
"#;

#[test]
fn http_checks_read_status_headers_json_and_body_and_a_failure_shows_the_body() {
    let ws = Workspace::new();
    exercise(
        &ws,
        "web",
        &format!(
            r#"{WEB}
[[checks]]
name = "the tags are listed"
step = "web"
http = {{ service = "web", path = "/v2/tags.json", status = 200, json = {{ pointer = "/tags", contains = "2.0" }}, header = {{ Content-Length = {{ matches = "^[0-9]+$" }} }} }}

[[checks]]
name = "the page is gone"
step = "web"
http = {{ service = "web", path = "/index.html", status = 404 }}

[[checks]]
name = "HEAD answers without a body"
step = "web"
http = {{ service = "web", method = "HEAD", path = "/index.html", status = [200, 204], body = {{ equals = "" }} }}
"#
        ),
    );
    ws.write("submission/.keep", "");
    let (code, _, report) = ws.check(&["web", "--submission", "submission"]);
    assert_eq!(code, 1, "{report:#}");
    let listed = check_named(&report, "the tags are listed");
    assert_eq!(listed["status"], "passed", "{listed:#}");
    let gone = check_named(&report, "the page is gone");
    assert_eq!(gone["status"], "failed");
    let actual = gone["actual"].as_str().unwrap();
    assert!(actual.contains("GET /index.html answered 200"), "{actual}");
    assert!(actual.contains("hello"), "the body explains: {actual}");
    assert_eq!(
        check_named(&report, "HEAD answers without a body")["status"],
        "passed"
    );
}

#[test]
fn a_push_to_a_server_that_is_no_registry_is_the_graders_error() {
    let ws = Workspace::new();
    exercise(
        &ws,
        "refused",
        &format!(
            r#"{WEB}
[[steps]]
name = "app"
image = "busybox:1.35"

[[steps]]
name = "push"
push = {{ image = "app", to = "web", as = "dockgrade-test/app:1.0", timeout = "60s" }}

[[checks]]
name = "pushed"
step = "push"
http = {{ service = "web", path = "/index.html", status = 200 }}
"#
        ),
    );
    ws.write("submission/.keep", "");
    let (code, _, report) = ws.check(&["refused", "--submission", "submission"]);
    // The grader's push: a registry that refuses it is not the student's
    // doing, so the check cannot be decided.
    assert_eq!(code, 3, "{report:#}");
    let pushed = check_named(&report, "pushed");
    assert_eq!(pushed["status"], "error", "{pushed:#}");
    let message = pushed["message"].as_str().unwrap();
    assert!(message.contains("push failed"), "{message}");
    assert_no_pushed_references(report["run_id"].as_str().unwrap(), &report);
}

/// A run on the exercise's network reaches the service by its step name,
/// an exec runs inside it, and the disk check sees what the exec wrote.
#[test]
fn runs_reach_services_by_name_and_execs_change_what_the_disk_check_measures() {
    let ws = Workspace::new();
    exercise(
        &ws,
        "network",
        &format!(
            r#"{WEB}
[[steps]]
name = "client"
run = {{ image = "busybox:1.35", cmd = ["wget", "-qO-", "http://web:8080/index.html"], network = "exercise" }}
after = "web"

[[steps]]
name = "outside"
run = {{ image = "busybox:1.35", cmd = ["wget", "-qO-", "http://web:8080/index.html"] }}
after = "web"

[[steps]]
name = "grow"
exec = {{ service = "web", cmd = ["sh", "-c", "head -c 3000000 /dev/zero > /www/big && echo grown"] }}
after = ["client", "outside"]

[[checks]]
name = "the client reads the page"
step = "client"
stdout = {{ equals = "hello" }}

[[checks]]
name = "a run off the network does not"
step = "outside"
exit_code = 1
stderr = {{ contains = "bad address 'web:8080'" }}

[[checks]]
name = "the exec ran in the service"
step = "grow"
exit_code = 0
stdout = {{ contains = "grown" }}

[[checks]]
name = "the folder grew"
step = "grow"
disk = {{ service = "web", path = "/www", grew_since = "client", by = "2 MB" }}
"#
        ),
    );
    ws.write("submission/.keep", "");
    let (code, stdout, report) = ws.check(&["network", "--submission", "submission"]);
    assert_eq!(code, 0, "{stdout}\n{report:#}");
}

#[test]
fn the_garbage_collection_exercise_grades_its_reference_solution_in_full() {
    let ws = Workspace::new();
    let course = common::fixture_dir().join("exercises");
    let solution = common::fixture_dir().join("solutions/04-registry-gc");
    let (code, stdout, report) = ws.check(&[
        "04-registry-gc",
        "--exercises-dir",
        course.to_str().unwrap(),
        "--submission",
        solution.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(
        report["exercises"][0]["points"], report["exercises"][0]["max_points"],
        "{report:#}"
    );
}

#[test]
fn ctrl_c_while_a_service_runs_leaves_nothing() {
    let ws = Workspace::new();
    exercise(
        &ws,
        "interrupted",
        &format!(
            r#"{WEB}
[[steps]]
name = "wait"
run = {{ image = "busybox:1.35", cmd = ["sleep", "300"], network = "exercise", timeout = "200s" }}
after = "web"

[[checks]]
name = "waited"
step = "wait"
exit_code = 0
"#
        ),
    );
    ws.write("submission/.keep", "");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("dockgrade"))
        .current_dir(ws.path("."))
        .args([
            "check",
            "interrupted",
            "--submission",
            "submission",
            "--json",
        ])
        .arg(ws.path("report.json"))
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    // Wait until the run step's container is up: the service is by then.
    let deadline = Instant::now() + Duration::from_secs(120);
    let run_container = loop {
        let out = docker(&[
            "ps",
            "--format",
            "{{.Names}}",
            "--filter",
            "name=-interrupted-wait",
        ]);
        let names = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !names.is_empty() {
            break names;
        }
        assert!(Instant::now() < deadline, "the run never started");
        std::thread::sleep(Duration::from_millis(200));
    };
    let run_id = run_container
        .trim_start_matches("dockgrade-")
        .split('-')
        .next()
        .unwrap()
        .to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert!(!status.success());
    common::assert_nothing_left(&run_id);
}

/// The exercise's network leads to its services and nowhere else: not to
/// the grading machine's own services through the network's gateway.
#[test]
fn a_run_on_the_exercise_network_cannot_reach_the_host() {
    let listener = std::net::TcpListener::bind("0.0.0.0:0").expect("binds");
    listener.set_nonblocking(true).expect("non-blocking");
    let port = listener.local_addr().unwrap().port();
    let ws = Workspace::new();
    exercise(
        &ws,
        "no-host",
        &format!(
            r#"{WEB}
[[steps]]
name = "probe"
run = {{ image = "busybox:1.35", cmd = ["sh", "-c", "wget -qO- http://web:8080/index.html; gw=$(ip route | awk '/default/ {{print $3}}'); timeout 3 nc $gw {port} </dev/null && echo REACHED-THE-HOST; true"], network = "exercise" }}
after = "web"

[[checks]]
name = "the service answers, the host does not"
step = "probe"
stdout = {{ contains = "hello", not_contains = "REACHED-THE-HOST" }}
"#
        ),
    );
    ws.write("submission/.keep", "");
    let (code, stdout, report) = ws.check(&["no-host", "--submission", "submission"]);
    assert_eq!(code, 0, "{stdout}\n{report:#}");
    assert!(
        listener.accept().is_err(),
        "a container on the exercise's network connected to the host"
    );
}

#[test]
fn a_services_scratch_volume_is_bounded_by_its_disk_limit_and_measured_by_disk_checks() {
    let ws = Workspace::new();
    exercise(
        &ws,
        "bounded",
        r#"
[[steps]]
name = "store"
service = { image = "busybox:1.35", cmd = ["sleep", "300"], ready = "running", mounts = [{ type = "scratch", target = "/data" }], limits = { disk = "8 MiB" } }

[[steps]]
name = "small"
exec = { service = "store", cmd = ["sh", "-c", "head -c 3000000 /dev/zero > /data/small && echo stored"] }

[[steps]]
name = "flood"
exec = { service = "store", cmd = ["dd", "if=/dev/zero", "of=/data/flood", "bs=1M", "count=50"] }
after = "small"

[[checks]]
name = "three megabytes fit"
step = "small"
exit_code = 0
stdout = { contains = "stored" }
disk = { service = "store", path = "/data", grew_since = "store", by = "2 MB" }

[[checks]]
name = "fifty do not"
step = "flood"
exit_code = { not = 0 }
stderr = { contains = "No space left on device" }

[[checks]]
name = "the volume holds no more than its limit"
step = "flood"
disk = { service = "store", path = "/data", max = "8.5 MB" }
"#,
    );
    ws.write("submission/.keep", "");
    let (code, stdout, report) = ws.check(&["bounded", "--submission", "submission"]);
    assert_eq!(code, 0, "{stdout}\n{report:#}");
    let run_id = report["run_id"].as_str().expect("run id");
    let volumes = docker(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("label=io.dockgrade.run={run_id}"),
    ]);
    assert!(String::from_utf8_lossy(&volumes.stdout).trim().is_empty());
}

#[test]
fn an_exec_that_times_out_stops_its_service_and_nothing_it_started_goes_on() {
    let ws = Workspace::new();
    exercise(
        &ws,
        "slow",
        r#"
[[steps]]
name = "box"
service = { image = "busybox:1.35", cmd = ["sleep", "300"], ready = "running" }

[[steps]]
name = "slow"
exec = { service = "box", cmd = ["sh", "-c", "sleep 3; touch /tmp/late"], timeout = "1s" }

[[steps]]
name = "later"
exec = { service = "box", cmd = ["sh", "-c", "sleep 4; ls /tmp/late"] }

[[checks]]
name = "the slow exec ends in time"
step = "slow"
exit_code = 0

[[checks]]
name = "what it started is still at work"
step = "later"
exit_code = 0
"#,
    );
    ws.write("submission/.keep", "");
    let (code, stdout, report) = ws.check(&["slow", "--submission", "submission"]);
    assert_ne!(code, 0, "{stdout}\n{report:#}");
    let slow = check_named(&report, "the slow exec ends in time");
    assert_eq!(slow["status"], "failed", "{slow:#}");
    assert!(
        slow["message"]
            .as_str()
            .unwrap_or_default()
            .contains("timed out"),
        "{slow:#}"
    );
    // `later` runs beside `slow`: had the timed-out exec gone on, its file
    // would be there at 4 s.
    let later = check_named(&report, "what it started is still at work");
    assert_ne!(later["status"], "passed", "{stdout}");
}

/// A TCP address for the daemon's unix socket: a thread accepting on a free
/// port of 127.0.0.1 that copies each connection's bytes both ways (each
/// direction's end is passed on as a half-close, as an exec's closed input
/// must be). It runs until the test process ends.
fn daemon_over_tcp() -> String {
    use std::net::{Shutdown, TcpListener};
    use std::os::unix::net::UnixStream;
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let Ok(daemon) = UnixStream::connect("/var/run/docker.sock") else {
                continue;
            };
            let (mut from_client, mut to_daemon) =
                (client.try_clone().unwrap(), daemon.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut from_client, &mut to_daemon);
                let _ = to_daemon.shutdown(Shutdown::Write);
            });
            let (mut from_daemon, mut to_client) = (daemon, client);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut from_daemon, &mut to_client);
                let _ = to_client.shutdown(Shutdown::Write);
            });
        }
    });
    format!("tcp://127.0.0.1:{port}")
}

/// `dockgrade check EXERCISE` in `ws` through `command` (dockgrade itself,
/// or a wrapper that runs it): exit code and report, after checking that
/// the run left nothing, no container of its own included.
fn check_through(
    ws: &Workspace,
    mut command: Command,
    exercise: &str,
) -> (Option<i32>, serde_json::Value, String) {
    let report_path = ws.path("report.json");
    let out = command
        .current_dir(ws.path("."))
        .args(["check", exercise, "--submission", "submission", "--json"])
        .arg(&report_path)
        .env("NO_COLOR", "1")
        .env_remove("DOCKGRADE_LOG")
        .output()
        .expect("runs");
    let said = format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&report_path).unwrap_or_else(|_| panic!("no report; {said}")),
    )
    .expect("valid JSON");
    let run_id = report["run_id"].as_str().expect("run id");
    common::assert_nothing_left(run_id);
    let all = docker(&["ps", "-a", "--format", "{{.Names}}"]);
    let names = String::from_utf8_lossy(&all.stdout);
    assert!(
        !names.lines().any(|n| n.contains(run_id)),
        "run {run_id} left containers: {names}"
    );
    (out.status.code(), report, said)
}

/// Services answering at once (`web`) and after a second (`plain`, ready
/// when its port is), and checks that ask both.
fn tunnelled(ws: &Workspace) {
    exercise(
        ws,
        "tunnelled",
        &format!(
            r#"{WEB}
[[steps]]
name = "plain"
service = {{ image = "busybox:1.35", cmd = ["sh", "-c", "sleep 1; mkdir /w && echo plain > /w/index.html && httpd -f -p 9090 -h /w"], port = 9090, ready = "port" }}

[[checks]]
name = "the tags are listed"
step = "web"
http = {{ service = "web", path = "/v2/tags.json", status = 200, json = {{ pointer = "/tags", contains = "2.0" }} }}

[[checks]]
name = "a missing page is a 404"
step = "web"
http = {{ service = "web", path = "/nothing-here", status = 404 }}

[[checks]]
name = "the port-ready service answers"
step = "plain"
http = {{ service = "plain", path = "/index.html", status = 200, body = {{ equals = "plain" }} }}
"#
        ),
    );
    ws.write("submission/.keep", "");
}

fn assert_all_passed(code: Option<i32>, report: &serde_json::Value, said: &str) {
    assert_eq!(code, Some(0), "{said}\n{report:#}");
    for name in [
        "the tags are listed",
        "a missing page is a 404",
        "the port-ready service answers",
    ] {
        assert_eq!(check_named(report, name)["status"], "passed", "{report:#}");
    }
}

/// Through a `tcp://` address (as `batch --docker-host tcp://…` uses) an
/// exercise's services are asked, their readiness both ways, and nothing is
/// left, not even the helper container the requests went through.
#[test]
fn services_are_asked_through_a_tcp_daemon() {
    let ws = Workspace::new();
    tunnelled(&ws);
    let mut dockgrade = Command::new(assert_cmd::cargo::cargo_bin("dockgrade"));
    dockgrade.env("DOCKER_HOST", daemon_over_tcp());
    let (code, report, said) = check_through(&ws, dockgrade, "tunnelled");
    assert_all_passed(code, &report, &said);
}

/// The grader asks services through the Engine API, never over its own
/// network: run in a network namespace of its own (its 127.0.0.1 is not
/// the daemon's, as in a container with the host's socket mounted), it
/// still asks them. Needs `unshare --net` (root); says so and passes
/// without it.
#[test]
fn services_are_asked_without_the_graders_own_network() {
    let can_unshare = Command::new("unshare")
        .args(["--net", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !can_unshare {
        eprintln!("skipped: `unshare --net` is not permitted here");
        return;
    }
    let ws = Workspace::new();
    tunnelled(&ws);
    let mut alone = Command::new("unshare");
    alone
        .args(["--net", "--"])
        .arg(assert_cmd::cargo::cargo_bin("dockgrade"))
        .env("DOCKER_HOST", "unix:///var/run/docker.sock");
    let (code, report, said) = check_through(&ws, alone, "tunnelled");
    assert_all_passed(code, &report, &said);
}
