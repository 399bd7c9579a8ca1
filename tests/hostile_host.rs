//! Hostile submissions against the grading host itself: a Dockerfile whose
//! `ADD` or `FROM` makes the daemon fetch from the host's own network.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Workspace, check_named};

/// What only the host can read: it must never reach an image or a report.
const SECRET: &str = "host-only-secret-5f2c9a";

/// A real HTTP server on the host's loopback; counts the requests it gets.
fn host_only_service() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            counted.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let body = SECRET;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, hits)
}

const SPEC: &str = r#"
id = "fetch"
title = "Fetch"
[[steps]]
name = "image"
build = { dockerfile = "Dockerfile", args = { WHERE = "127.0.0.1" } }
[[steps]]
name = "run"
run = { image = "image", cmd = ["cat", "/secret"] }
[[checks]]
name = "builds"
step = "image"
build = "succeeds"
[[checks]]
name = "prints"
step = "run"
stdout = { contains = "x" }
"#;

fn refused(dockerfile: &str, expected: &str) {
    let (port, hits) = host_only_service();
    let ws = Workspace::new();
    ws.write("exercises/fetch.toml", SPEC);
    ws.write("Dockerfile", dockerfile.replace("PORT", &port.to_string()));
    let junit = ws.path("junit.xml");
    let (code, stdout, report) = ws.check(&["--junit", junit.to_str().expect("utf-8")]);
    assert_eq!(code, 1, "{stdout}");
    let builds = check_named(&report, "builds");
    let message = builds["message"].as_str().expect("message");
    let expected = expected.replace("PORT", &port.to_string());
    assert!(message.contains(&expected), "{message}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the host's service was asked"
    );
    let junit = std::fs::read_to_string(&junit).expect("junit");
    for output in [stdout.as_str(), &report.to_string(), &junit] {
        assert!(
            !output.contains(SECRET),
            "the host's secret leaked: {output}"
        );
    }
}

#[test]
fn add_of_a_host_url_is_refused_before_the_build_naming_the_line() {
    refused(
        "FROM busybox:1.35\nADD http://127.0.0.1:PORT/secret /secret\n",
        "line 2: `ADD http://127.0.0.1:PORT/secret /secret` fetches http://127.0.0.1:",
    );
}

#[test]
fn add_of_a_url_built_from_build_arguments_is_refused_too() {
    refused(
        "FROM busybox:1.35\nARG WHERE=example.org\nADD http://${WHERE}:PORT/secret /secret\n",
        "fetches http://127.0.0.1:",
    );
}

#[test]
fn an_image_the_daemon_would_pull_from_the_hosts_registry_is_refused() {
    refused(
        "FROM busybox:1.35\nCOPY --from=127.0.0.1:PORT/evil:1 /x /secret\n",
        "line 2: `COPY --from=127.0.0.1:PORT/evil:1 /x /secret` needs the image 127.0.0.1:",
    );
}
