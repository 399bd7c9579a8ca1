//! `dockgrade validate` replays a live case's `commands.sh` through its
//! labelling proxy: afterwards everything the replay created is gone (its
//! container, built and tagged images, a failed build's leftovers, volumes,
//! networks), and what someone else created on the daemon meanwhile is not.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Workspace, assert_nothing_left, docker};

/// Names unique to this test process.
struct Names {
    container: String,
    image: String,
    tag: String,
    volumes: [String; 2],
    network: String,
    /// Written by the replay's build steps: finds what they committed.
    marker: String,
    /// The test's own container, created while the replay runs.
    other: String,
}

impl Names {
    fn new() -> Names {
        let id = std::process::id();
        Names {
            container: format!("dockgrade-replay-test-{id}"),
            image: format!("dockgrade-replay-test-{id}:built"),
            tag: format!("dockgrade-replay-test-{id}:tagged"),
            volumes: [
                format!("dockgrade-replay-test-{id}-a"),
                format!("dockgrade-replay-test-{id}-b"),
            ],
            network: format!("dockgrade-replay-test-{id}"),
            marker: format!("replay-marker-{id}"),
            other: format!("other-{id}"),
        }
    }
}

fn spec(n: &Names) -> String {
    format!(
        "id = \"replay\"\ntitle = \"Replay\"\nmode = \"live\"\n\
         [[steps]]\nname = \"ran\"\ncontainer = \"{}\"\n\
         [[steps]]\nname = \"built\"\nimage = \"{}\"\npull = \"never\"\n\
         [[checks]]\nname = \"the container ran busybox and exited 0\"\nstep = \"ran\"\n\
         container = {{ image = \"busybox:1.35\", state = \"exited\", exit_code = 0 }}\n\
         [[checks]]\nname = \"the image holds the first stage's file\"\nstep = \"built\"\n\
         files = {{ present = [\"/from-stage\"] }}\n",
        n.container, n.image
    )
}

/// The replay: a container, a quiet two-stage build, a failing build, a
/// volume, a network, a tag; then it waits for the test's go before one
/// more command.
fn commands(n: &Names, ws: &Path) -> String {
    let ws = ws.display();
    format!(
        r#"#!/usr/bin/env bash
set -u
docker run --name {container} busybox:1.35 true
ctx=$(mktemp -d)
printf 'FROM busybox:1.35 AS stage\nRUN echo {marker} > /made\nFROM busybox:1.35\nCOPY --from=stage /made /from-stage\n' > "$ctx/Dockerfile"
docker build -q -t {image} "$ctx" > {ws}/built-id
printf 'FROM busybox:1.35\nRUN echo {marker} > /first\nRUN echo {marker} && false\n' > "$ctx/Dockerfile.fails"
docker build -f "$ctx/Dockerfile.fails" "$ctx" > {ws}/failed-build.log 2>&1
docker volume create {volume_a}
docker network create {network}
docker tag busybox:1.35 {tag}
rm -rf "$ctx"
touch {ws}/ready
for _ in $(seq 600); do [ -e {ws}/go ] && break; sleep 0.1; done
docker volume create {volume_b}
"#,
        container = n.container,
        marker = n.marker,
        image = n.image,
        volume_a = n.volumes[0],
        volume_b = n.volumes[1],
        network = n.network,
        tag = n.tag,
    )
}

fn exists(args: &[&str]) -> bool {
    docker(args).status.success()
}

/// Containers and images whose command carries `marker`: what the replay's
/// builds committed or left behind.
fn marked(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    let containers = docker(&["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Command}}"]);
    found.extend(
        String::from_utf8_lossy(&containers.stdout)
            .lines()
            .filter(|l| l.contains(marker))
            .filter_map(|l| l.split(' ').next())
            .map(str::to_string),
    );
    let ids = docker(&["image", "ls", "-aq", "--no-trunc"]);
    let ids: Vec<String> = String::from_utf8_lossy(&ids.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    if !ids.is_empty() {
        let mut args = vec!["image", "inspect", "--format", "{{.Id}} {{json .}}"];
        args.extend(ids.iter().map(String::as_str));
        let inspected = docker(&args);
        found.extend(
            String::from_utf8_lossy(&inspected.stdout)
                .lines()
                .filter(|l| l.contains(marker))
                .filter_map(|l| l.split(' ').next())
                .map(str::to_string),
        );
    }
    found
}

#[test]
fn validate_removes_what_the_replay_created_and_nothing_else() {
    let n = Names::new();
    let ws = Workspace::new();
    ws.write("exercises/replay.toml", spec(&n));
    ws.executable("solutions/replay/commands.sh", &commands(&n, ws.dir.path()));
    // A wrong case that types nothing: it fails both checks, which also
    // shows the solution's container and image were gone by then.
    ws.executable(
        "solutions/replay/wrong/nothing/commands.sh",
        "#!/usr/bin/env bash\ntrue\n",
    );
    ws.write(
        "solutions/replay/wrong/nothing/expect.toml",
        "mistake = \"nothing was typed\"\nfails = [\"the container ran busybox and exited 0\", \
         \"the image holds the first stage's file\"]\n",
    );
    let json = ws.path("validate.json");
    let child = Command::new(assert_cmd::cargo::cargo_bin("dockgrade"))
        .current_dir(ws.dir.path())
        .env("NO_COLOR", "1")
        .args(["validate", "--json"])
        .arg(&json)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");

    let result = std::panic::catch_unwind(|| {
        // Someone else creates a container while the replay runs.
        let deadline = Instant::now() + Duration::from_secs(120);
        while !ws.path("ready").exists() {
            assert!(
                Instant::now() < deadline,
                "the replay never got to its window"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // What the builds committed (the first stage's image, the failed
        // step's container and the layer before it) is there to be found.
        assert_eq!(marked(&n.marker).len(), 3, "{:?}", marked(&n.marker));
        let other = docker(&[
            "create",
            "--name",
            &n.other,
            "--label",
            "io.dockgrade.test=replay",
            "busybox:1.35",
            "true",
        ]);
        assert!(
            other.status.success(),
            "{}",
            String::from_utf8_lossy(&other.stderr)
        );
        ws.write("go", "");

        let out = child.wait_with_output().expect("validate ends");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("2 case(s): 2 as expected, 0 not; 0 check(s) no wrong case fails"),
            "{stdout}"
        );
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).expect("report")).expect("JSON");

        // The CLI got what it asked for through the proxy.
        let built = std::fs::read_to_string(ws.path("built-id")).expect("built-id");
        let built = built.trim();
        assert!(
            built.len() == 71 && built.starts_with("sha256:"),
            "a quiet build prints only its id: {built:?}"
        );
        let log = std::fs::read_to_string(ws.path("failed-build.log")).expect("log");
        assert!(log.contains("returned a non-zero code"), "{log}");

        // Everything the replay created is gone…
        assert!(!exists(&["container", "inspect", &n.container]));
        assert!(!exists(&["image", "inspect", &n.image]));
        assert!(!exists(&["image", "inspect", built]));
        assert!(!exists(&["image", "inspect", &n.tag]));
        assert!(
            exists(&["image", "inspect", "busybox:1.35"]),
            "a base stays"
        );
        for v in &n.volumes {
            assert!(!exists(&["volume", "inspect", v]), "volume {v} is left");
        }
        assert!(!exists(&["network", "inspect", &n.network]));
        assert_eq!(
            marked(&n.marker),
            Vec::<String>::new(),
            "the builds left these"
        );
        assert_nothing_left(report["run_id"].as_str().expect("run id"));
        // …and what someone else created meanwhile is still there.
        assert!(exists(&["container", "inspect", &n.other]));
    });
    let _ = docker(&["rm", "-f", &n.other]);
    if let Err(panic) = result {
        // Let a replay still waiting finish.
        ws.write("go", "");
        // Whatever the replay left, for the next run's sake.
        let _ = docker(&["rm", "-f", &n.container]);
        let _ = docker(&["rmi", &n.image, &n.tag]);
        let _ = docker(&["volume", "rm", &n.volumes[0], &n.volumes[1]]);
        let _ = docker(&["network", "rm", &n.network]);
        std::panic::resume_unwind(panic);
    }
}
