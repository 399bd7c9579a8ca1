//! The proxy end to end, between a client and a stand-in daemon on Unix
//! sockets: what reaches the daemon, what the client gets back, what is
//! recorded, and that nothing is left once the proxy is gone.

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

use super::http::{framing, read_body, read_head};
use super::*;

/// A request as the stand-in daemon received it.
#[derive(Debug)]
struct Received {
    head: String,
    body: Vec<u8>,
}

/// A stand-in daemon that answers every request with `answer`, and echoes
/// what an upgraded connection carries.
struct FakeDaemon {
    _dir: tempfile::TempDir,
    host: String,
    received: mpsc::UnboundedReceiver<Received>,
}

fn fake_daemon(answer: impl Into<Vec<u8>>) -> FakeDaemon {
    let answer: &'static [u8] = answer.into().leak();
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("daemon.sock");
    let listener = UnixListener::bind(&socket).expect("bind");
    let (tx, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = conn.into_split();
                let mut read = BufReader::new(read);
                let Ok(Some(head)) = read_head(&mut read).await else {
                    return;
                };
                let mut headers = [httparse::EMPTY_HEADER; 32];
                let mut request = httparse::Request::new(&mut headers);
                request.parse(&head).expect("the proxy sends a valid head");
                let framing = framing(request.headers).expect("framing");
                let body = read_body(&mut read, framing, usize::MAX)
                    .await
                    .expect("body");
                let head = String::from_utf8_lossy(&head).into_owned();
                let _ = tx.send(Received { head, body });
                write.write_all(answer).await.expect("answer");
                // As the daemon does: close after an answer to
                // `Connection: close`, carry bytes after an upgrade.
                if answer.starts_with(b"HTTP/1.1 101") {
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                }
            });
        }
    });
    FakeDaemon {
        _dir: dir,
        host: format!("unix://{}", socket.display()),
        received,
    }
}

/// Sends `request` through the proxy; returns everything the client got.
async fn exchange(proxy: &Proxy, request: &[u8]) -> String {
    let mut conn = UnixStream::connect(&proxy.socket).await.expect("connect");
    // The proxy may answer and close before an oversized request is sent.
    let _ = conn.write_all(request).await;
    let mut got = Vec::new();
    conn.read_to_end(&mut got).await.expect("read");
    String::from_utf8_lossy(&got).into_owned()
}

const CREATED: &[u8] = b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}";

#[tokio::test]
async fn a_chunked_create_reaches_the_daemon_labelled_with_a_length() {
    let mut daemon = fake_daemon(CREATED);
    let proxy = Proxy::start("run7", &daemon.host).expect("starts");
    let body = r#"{"Image":"busybox:1.35","Labels":{"mine":"yes"}}"#;
    let request = format!(
        "POST /v1.41/containers/create?name=c HTTP/1.1\r\nHost: docker\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    let got = exchange(&proxy, request.as_bytes()).await;
    assert!(got.starts_with("HTTP/1.1 201 Created"), "{got}");
    let received = daemon.received.recv().await.expect("a request");
    let sent: serde_json::Value = serde_json::from_slice(&received.body).expect("JSON");
    assert_eq!(sent["Labels"]["mine"], "yes");
    assert_eq!(sent["Labels"]["io.dockgrade.run"], "run7");
    assert!(
        received
            .head
            .starts_with("POST /v1.41/containers/create?name=c HTTP/1.1\r\n"),
        "{}",
        received.head
    );
    assert!(
        received
            .head
            .contains(&format!("Content-Length: {}\r\n", received.body.len())),
        "{}",
        received.head
    );
    assert!(received.head.contains("Connection: close\r\n"));
    assert!(!received.head.contains("chunked"));
}

#[tokio::test]
async fn oversized_or_malformed_requests_are_answered_400_and_not_forwarded() {
    let mut daemon = fake_daemon(CREATED);
    let proxy = Proxy::start("run7", &daemon.host).expect("starts");
    let huge_head = format!(
        "GET /v1.41/info HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "x".repeat(65 << 10)
    );
    let huge_body = format!(
        "POST /v1.41/volumes/create HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
        MAX_BODY + 1
    );
    for request in [
        huge_head.as_str(),
        huge_body.as_str(),
        "POST /v1.41/networks/create HTTP/1.1\r\nContent-Length: 5\r\n\r\n[1,2]",
        "POST /build?labels=%5B%5D HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
        "POST /containers/create HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "NOT HTTP\r\n\r\n",
    ] {
        let got = exchange(&proxy, request.as_bytes()).await;
        assert!(got.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{got}");
        assert!(got.contains("dockgrade's replay proxy"), "{got}");
    }
    drop(proxy);
    assert!(daemon.received.try_recv().is_err(), "nothing was forwarded");
}

#[tokio::test]
async fn a_tag_is_recorded_only_when_the_daemon_adds_it() {
    let added = fake_daemon(CREATED);
    let proxy = Proxy::start("run7", &added.host).expect("starts");
    let tag = b"POST /v1.41/images/busybox:1.35/tag?repo=mine&tag=v1 HTTP/1.1\r\n\r\n";
    assert!(exchange(&proxy, tag).await.starts_with("HTTP/1.1 201"));
    assert_eq!(proxy.finish().references, ["mine:v1"]);

    let refused = fake_daemon(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    let proxy = Proxy::start("run7", &refused.host).expect("starts");
    assert!(exchange(&proxy, tag).await.starts_with("HTTP/1.1 404"));
    assert_eq!(proxy.finish(), Recorded::default());
}

#[tokio::test]
async fn a_build_is_labelled_asked_for_its_output_and_answered_quietly() {
    let chunk = |s: &str| format!("{:x}\r\n{s}\r\n\r\n", s.len() + 2);
    let mut daemon = fake_daemon(format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
         {}{}0\r\n\r\n",
        chunk(r#"{"stream":" ---\u003e 0123456789ab\n"}"#),
        chunk(r#"{"aux":{"ID":"sha256:0"}}"#),
    ));
    let proxy = Proxy::start("run7", &daemon.host).expect("starts");
    let got = exchange(
        &proxy,
        b"POST /v1.41/build?t=app&q=1 HTTP/1.1\r\nContent-Type: application/x-tar\r\n\
          Content-Length: 3\r\n\r\ntar",
    )
    .await;
    assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
    assert!(got.contains("Content-Type: application/json\r\n"), "{got}");
    assert!(
        got.ends_with("\r\n\r\n19\r\n{\"stream\":\"sha256:0\\n\"}\r\n\r\n0\r\n\r\n"),
        "{got:?}"
    );
    let received = daemon.received.recv().await.expect("a request");
    assert_eq!(received.body, b"tar");
    assert!(
        received
            .head
            .starts_with("POST /v1.41/build?t=app&labels=%7B"),
        "{}",
        received.head
    );
    assert!(!received.head.contains("q=1"), "{}", received.head);
    assert_eq!(proxy.finish().layers, ["0123456789ab"]);
}

#[tokio::test]
async fn an_upgraded_connection_carries_bytes_both_ways() {
    let daemon =
        fake_daemon(b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
    let proxy = Proxy::start("run7", &daemon.host).expect("starts");
    let mut conn = UnixStream::connect(&proxy.socket).await.expect("connect");
    conn.write_all(
        b"POST /v1.41/containers/c/attach?stream=1&stdin=1 HTTP/1.1\r\n\
          Connection: Upgrade\r\nUpgrade: tcp\r\n\r\nstdin bytes",
    )
    .await
    .expect("send");
    conn.shutdown()
        .await
        .expect("half-close, as the CLI does at stdin's end");
    let mut got = String::new();
    conn.read_to_string(&mut got).await.expect("read");
    assert!(got.starts_with("HTTP/1.1 101 UPGRADED\r\n"), "{got}");
    assert!(got.ends_with("\r\n\r\nstdin bytes"), "{got}");
}

#[tokio::test]
async fn the_proxy_leaves_nothing_once_finished_or_dropped() {
    let daemon = fake_daemon(CREATED);
    let proxy = Proxy::start("run7", &daemon.host).expect("starts");
    let dir = proxy.dir.path().to_path_buf();
    let mode = std::fs::metadata(&dir).expect("folder").permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o077,
        0,
        "private"
    );
    assert!(proxy.docker_host().starts_with("unix://"));
    // A client that connects and never sends keeps a connection task open.
    let mut idle = UnixStream::connect(&proxy.socket).await.expect("connect");
    let server = proxy.server.abort_handle();
    drop(proxy);
    assert!(!dir.exists(), "the socket's folder is removed");
    let mut byte = [0; 1];
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), idle.read(&mut byte))
        .await
        .expect("the connection's task ends and closes it");
    assert!(matches!(read, Ok(0) | Err(_)), "closed: {read:?}");
    assert!(server.is_finished());
}

#[test]
fn the_daemon_is_reached_as_dockgrade_reaches_it() {
    assert_eq!(
        Upstream::parse("unix:///var/run/docker.sock"),
        Ok(Upstream::Unix("/var/run/docker.sock".into()))
    );
    assert_eq!(
        Upstream::parse("tcp://10.0.0.2:2376"),
        Ok(Upstream::Tcp("10.0.0.2:2376".into()))
    );
    assert_eq!(
        Upstream::parse("tcp://docker/"),
        Ok(Upstream::Tcp("docker:2375".into()))
    );
    assert!(Upstream::parse("ssh://me@host").is_err());
}
