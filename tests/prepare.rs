//! `dockgrade prepare` against the real daemon: an image saved, removed and
//! loaded back from the archive; an image pulled from a registry (a small
//! one served by the test), a line per layer's progress; an image no
//! registry has, reported with
//! what to do; a pull that hangs, given up after `--pull-timeout`, and
//! stopped by Ctrl-C with nothing left behind; `--from` refusing what is not
//! a file before the daemon is used; a course exercise whose images are all
//! here.
//!
//! The images these tests create are busybox:1.35 with dockgrade's labels
//! (and this test process as their owner, so that a `dockgrade clean` of
//! another test leaves them alone), under a tag of their own: removing and
//! restoring them never touches the course's base images. They are removed
//! at the end, whatever happened.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Workspace, docker, fixture_dir};

/// A labelled image of this test, removed when dropped (even on a panic).
struct TestImage {
    tag: String,
}

impl TestImage {
    /// busybox:1.35 with dockgrade's labels, tagged `dockgrade-prepare-test:<name>-<pid>`.
    fn build(ws: &Workspace, name: &str) -> TestImage {
        let pid = std::process::id().to_string();
        let tag = format!("dockgrade-prepare-test:{name}-{pid}");
        let dir = format!("image-{name}");
        ws.write(
            &format!("{dir}/Dockerfile"),
            format!("FROM busybox:1.35\nLABEL io.dockgrade.test=\"{tag}\"\n"),
        );
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let labels = [
            "io.dockgrade=1".to_string(),
            format!("io.dockgrade.run=prepare-test-{pid}"),
            format!("io.dockgrade.host={}", host.trim()),
            format!("io.dockgrade.process={}", process_key(&pid)),
            format!("io.dockgrade.started={now}"),
        ];
        let mut args = vec!["build", "-q", "-t", &tag];
        for label in &labels {
            args.extend(["--label", label]);
        }
        args.push(".");
        let image = TestImage { tag: tag.clone() };
        let built = std::process::Command::new("docker")
            .args(&args)
            .env("DOCKER_BUILDKIT", "0")
            .current_dir(ws.path(&dir))
            .output()
            .expect("docker build");
        assert!(
            built.status.success(),
            "{}",
            String::from_utf8_lossy(&built.stderr)
        );
        image
    }

    fn exists(&self) -> bool {
        docker(&["image", "inspect", &self.tag]).status.success()
    }

    fn label(&self) -> String {
        let out = docker(&[
            "image",
            "inspect",
            "--format",
            "{{index .Config.Labels \"io.dockgrade\"}}",
            &self.tag,
        ]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for TestImage {
    fn drop(&mut self) {
        let _ = docker(&["image", "rm", "-f", &self.tag]);
    }
}

/// `pid:boot-id:start-ticks` of a process, as dockgrade labels its owner.
fn process_key(pid: &str) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after = &stat[stat.rfind(')').expect(")") + 1..];
    let start = after.split_whitespace().nth(19).expect("start time");
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").expect("boot id");
    format!("{pid}:{}:{start}", boot.trim())
}

/// An exercise `e` whose `image` steps name `images`.
fn exercise_needing(ws: &Workspace, images: &[&str]) {
    let mut spec = String::from("id = \"e\"\ntitle = \"E\"\n");
    for (i, image) in images.iter().enumerate() {
        spec.push_str(&format!(
            "[[steps]]\nname = \"i{i}\"\nimage = \"{image}\"\n"
        ));
    }
    spec.push_str("[[checks]]\nname = \"c\"\nstep = \"i0\"\nlayers = { max = 99 }\n");
    ws.write("exercises/e.toml", spec);
}

/// `dockgrade prepare ARGS` in `ws`: (exit code, stdout, stderr).
fn prepare(ws: &Workspace, args: &[&str]) -> (i32, String, String) {
    let out = ws
        .dockgrade()
        .arg("prepare")
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The names in a folder.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("readable")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn an_image_saved_removed_and_loaded_back_is_there_again() {
    let ws = Workspace::new();
    let image = TestImage::build(&ws, "roundtrip");
    exercise_needing(&ws, &["busybox:1.35", &image.tag]);
    std::fs::create_dir_all(ws.path("usb")).expect("mkdir");

    let (code, stdout, stderr) = prepare(&ws, &["--save", "usb/images.tar"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("saved 2 image(s) to usb/images.tar"),
        "{stdout}"
    );
    // Only the archive: no temporary file beside it.
    assert_eq!(listing(&ws.path("usb")), ["images.tar"]);

    let removed = docker(&["image", "rm", &image.tag]);
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    assert!(!image.exists());

    let (code, stdout, stderr) = prepare(&ws, &["--from", "usb/images.tar", "--no-pull"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("✓ busybox:1.35: present"), "{stdout}");
    assert!(
        stdout.contains(&format!("Loaded image: {}", image.tag)),
        "the load's own messages are shown: {stdout}"
    );
    assert!(
        stdout.contains(&format!("✓ {}: loaded from usb/images.tar", image.tag)),
        "{stdout}"
    );
    assert!(image.exists(), "the image is back");
    assert_eq!(image.label(), "1", "with its labels");

    // Everything is here now: the archive is not loaded again.
    let (code, stdout, _) = prepare(&ws, &["--from", "usb/images.tar"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("usb/images.tar not loaded: every image is already here"),
        "{stdout}"
    );
}

#[test]
fn an_image_no_registry_has_is_reported_missing_with_what_to_do() {
    let ws = Workspace::new();
    // Nothing listens on port 9 (discard): the pull is refused at once.
    let missing = format!(
        "127.0.0.1:9/dockgrade-prepare-missing:{}",
        std::process::id()
    );
    exercise_needing(&ws, &["busybox:1.35", &missing]);
    std::fs::create_dir_all(ws.path("out")).expect("mkdir");

    let (code, stdout, stderr) = prepare(&ws, &["e", "--save", "out/images.tar"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("✓ busybox:1.35: present"), "{stdout}");
    assert!(
        stdout.contains(&format!("✗ {missing}: missing (pull failed: ")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("1 image(s) still missing: {missing}")),
        "{stdout}"
    );
    assert!(
        stdout.contains("`dockgrade prepare e --save out/images.tar`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("then: `dockgrade prepare e --from out/images.tar`"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("`docker pull {missing}`")),
        "{stdout}"
    );
    // What is here is still saved, and what is not is named.
    assert!(
        stdout.contains("saved 1 image(s) to out/images.tar"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "✗ not in out/images.tar, as they are not here: {missing}"
        )),
        "{stdout}"
    );
    assert_eq!(listing(&ws.path("out")), ["images.tar"]);

    let (code, stdout, _) = prepare(&ws, &["--no-pull"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(&format!("✗ {missing}: missing (not pulled (--no-pull))")),
        "{stdout}"
    );
}

/// A "registry" that accepts connections and never answers; counts them.
fn silent_registry() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    (port, accepted)
}

#[test]
fn a_pull_no_registry_answers_is_given_up_after_the_pull_timeout() {
    let ws = Workspace::new();
    let (port, accepted) = silent_registry();
    let hanging = format!("127.0.0.1:{port}/dockgrade-prepare-hang:1");
    exercise_needing(&ws, &[&hanging]);

    let started = Instant::now();
    let (code, stdout, stderr) = prepare(&ws, &["--pull-timeout", "2s"]);
    let took = started.elapsed();
    assert_eq!(code, 1, "{stdout}{stderr}");
    if accepted.load(Ordering::SeqCst) == 0 {
        // A daemon with a network of its own (rootless, a VM) cannot reach
        // this host's loopback: its pull is refused instead.
        assert!(
            stdout.contains(&format!("✗ {hanging}: missing (pull failed: ")),
            "{stdout}"
        );
        return;
    }
    assert!(
        stdout.contains(&format!(
            "✗ {hanging}: missing (no registry answered within 2s (--pull-timeout))"
        )),
        "{stdout}"
    );
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[test]
fn ctrl_c_during_a_pull_stops_at_once_and_leaves_no_archive() {
    let ws = Workspace::new();
    let (port, accepted) = silent_registry();
    let hanging = format!("127.0.0.1:{port}/dockgrade-prepare-hang:2");
    exercise_needing(&ws, &["busybox:1.35", &hanging]);
    std::fs::create_dir_all(ws.path("out")).expect("mkdir");

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dockgrade"))
        .args([
            "prepare",
            "--save",
            "out/images.tar",
            "--pull-timeout",
            "5m",
        ])
        .current_dir(ws.dir.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    // Wait for the pull to start, and reach the registry.
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let first = lines.next().expect("a line").expect("text");
    assert!(first.starts_with("pulling 127.0.0.1:"), "{first}");
    let waiting = Instant::now();
    while accepted.load(Ordering::SeqCst) == 0 && waiting.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    if accepted.load(Ordering::SeqCst) == 0 {
        // A daemon with a network of its own (rootless, a VM) cannot reach
        // this host's loopback: its pull is refused, and nothing hangs.
        let status = child.wait().expect("exits");
        assert_eq!(status.code(), Some(1));
        return;
    }

    let interrupted = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let status = child.wait().expect("exits");
    let took = interrupted.elapsed();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(status.code(), Some(130), "{rest:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(
        rest.iter().any(|l| l.contains("SIGINT: stopped")),
        "{rest:?}"
    );
    assert!(
        listing(&ws.path("out")).is_empty(),
        "nothing written: {:?}",
        listing(&ws.path("out"))
    );
}

/// The labels of an image these tests make: dockgrade's, and this process
/// as the owner of run `prepare-test-<pid>`.
fn owner_labels() -> Vec<(String, String)> {
    let pid = std::process::id().to_string();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    vec![
        ("io.dockgrade".into(), "1".into()),
        ("io.dockgrade.run".into(), format!("prepare-test-{pid}")),
        ("io.dockgrade.host".into(), host.trim().to_string()),
        ("io.dockgrade.process".into(), process_key(&pid)),
        ("io.dockgrade.started".into(), now.to_string()),
    ]
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// A registry serving one image of one layer (a file), over plain HTTP on
/// 127.0.0.1 (the daemon trusts loopback registries without TLS).
struct TinyRegistry {
    port: u16,
    /// The short id a pull shows for the layer.
    layer_id: String,
}

impl TinyRegistry {
    fn start(repository: &str, tag: &str) -> TinyRegistry {
        let mut tar = tar::Builder::new(Vec::new());
        let data = b"served by the test's registry\n";
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "hello.txt", &data[..])
            .expect("tar");
        let layer_tar = tar.into_inner().expect("tar");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&layer_tar).expect("gzip");
        let layer = gz.finish().expect("gzip");
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        let labels: serde_json::Map<String, serde_json::Value> = owner_labels()
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect();
        let config = serde_json::json!({
            "architecture": arch,
            "os": "linux",
            "config": { "Labels": labels, "Cmd": ["/hello.txt"] },
            "rootfs": { "type": "layers", "diff_ids": [sha256(&layer_tar)] },
            "history": [{ "created_by": "dockgrade's tests" }],
        })
        .to_string()
        .into_bytes();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": config.len(),
                "digest": sha256(&config),
            },
            "layers": [{
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": layer.len(),
                "digest": sha256(&layer),
            }],
        })
        .to_string()
        .into_bytes();
        let layer_id = sha256(&layer)["sha256:".len()..][..12].to_string();
        let routes = Arc::new(vec![
            ("/v2/".to_string(), ("application/json", b"{}".to_vec())),
            (
                format!("/v2/{repository}/manifests/{tag}"),
                (
                    "application/vnd.docker.distribution.manifest.v2+json",
                    manifest.clone(),
                ),
            ),
            (
                format!("/v2/{repository}/manifests/{}", sha256(&manifest)),
                (
                    "application/vnd.docker.distribution.manifest.v2+json",
                    manifest,
                ),
            ),
            (
                format!("/v2/{repository}/blobs/{}", sha256(&config)),
                ("application/octet-stream", config),
            ),
            (
                format!("/v2/{repository}/blobs/{}", sha256(&layer)),
                ("application/octet-stream", layer),
            ),
        ]);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let routes = routes.clone();
                std::thread::spawn(move || serve(stream, &routes));
            }
        });
        TinyRegistry { port, layer_id }
    }
}

type Routes = Vec<(String, (&'static str, Vec<u8>))>;

/// Answers one connection's requests (GET and HEAD) until it closes.
fn serve(stream: TcpStream, routes: &Routes) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut out = stream;
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end().to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            if let Some(v) = header.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let mut parts = request.split_whitespace();
        let method = parts.next().unwrap_or("");
        let path = parts.next().unwrap_or("").split('?').next().unwrap_or("");
        let found = routes.iter().find(|(p, _)| p == path).map(|(_, r)| r);
        let (status, kind, content, digest) = match found {
            Some((kind, content)) => ("200 OK", *kind, content.as_slice(), sha256(content)),
            None => (
                "404 Not Found",
                "application/json",
                &b"{}"[..],
                String::new(),
            ),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
             Docker-Distribution-API-Version: registry/2.0\r\nDocker-Content-Digest: {digest}\r\n\r\n",
            content.len()
        );
        let mut response = head.into_bytes();
        if method != "HEAD" {
            response.extend_from_slice(content);
        }
        if out.write_all(&response).is_err() {
            return;
        }
    }
}

/// An image reference this test pulls, removed when dropped.
struct Pulled(String);

impl Drop for Pulled {
    fn drop(&mut self) {
        let _ = docker(&["image", "rm", "-f", &self.0]);
    }
}

#[test]
fn a_missing_image_a_registry_has_is_pulled_with_a_line_per_layer() {
    let ws = Workspace::new();
    let tag = format!("pulled-{}", std::process::id());
    let registry = TinyRegistry::start("dockgrade-prepare-test", &tag);
    let reference = format!("127.0.0.1:{}/dockgrade-prepare-test:{tag}", registry.port);
    let pulled = Pulled(reference.clone());
    exercise_needing(&ws, &["busybox:1.35", &reference]);

    let (code, stdout, stderr) = prepare(&ws, &["--pull-timeout", "1m"]);
    if code == 1 && stdout.contains("connect: connection refused") {
        // A daemon with a network of its own (rootless, a VM) cannot reach
        // this host's loopback: the refusal is what is reported.
        assert!(stdout.contains(&format!("✗ {reference}: missing (pull failed: ")));
        return;
    }
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("✓ {reference}: pulled")),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!("pulling {reference}…")),
        "{stderr}"
    );
    // Off a terminal: a line per change of the layer's status.
    let layer = format!("{reference}: {} ", registry.layer_id);
    assert!(
        stderr.contains(&format!("{layer}Pull complete")),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches(&format!("{layer}Pull complete")).count(),
        1,
        "{stderr}"
    );
    let label = docker(&[
        "image",
        "inspect",
        "--format",
        "{{index .Config.Labels \"io.dockgrade\"}}",
        &pulled.0,
    ]);
    assert_eq!(String::from_utf8_lossy(&label.stdout).trim(), "1");
}

#[test]
fn from_refuses_what_is_not_a_regular_file_before_using_the_daemon() {
    let ws = Workspace::new();
    exercise_needing(&ws, &["busybox:1.35"]);
    std::fs::create_dir_all(ws.path("folder.tar")).expect("mkdir");
    for (from, says) in [
        (
            "folder.tar",
            "--from: folder.tar is a folder, not an image archive",
        ),
        (
            "/dev/null",
            "--from: /dev/null is a device, not an image archive",
        ),
        ("nowhere.tar", "--from: cannot read nowhere.tar"),
    ] {
        let out = ws
            .dockgrade()
            .args(["prepare", "--from", from])
            // No daemon there: the file is refused before one is needed.
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{from}: {stderr}");
        assert!(stderr.contains(says), "{from}: {stderr}");
    }
}

#[test]
fn a_course_exercise_whose_images_are_here_is_ready() {
    let ws = Workspace::new();
    let exercises = fixture_dir().join("exercises");
    let (code, stdout, stderr) = prepare(
        &ws,
        &[
            "02-first-image",
            "--exercises-dir",
            &exercises.display().to_string(),
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("1 image(s) needed: debian:bookworm-slim\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("✓ debian:bookworm-slim: present"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("Every image the exercises need is here.\n"),
        "{stdout}"
    );
    assert!(!stderr.contains("pulling"), "nothing pulled: {stderr}");
}
