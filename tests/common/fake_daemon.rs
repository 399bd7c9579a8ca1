//! A stand-in Docker daemon that answers the handshake and then fails.
//!
//! It speaks just enough of the Engine API over a Unix socket for a client
//! to connect (`/_ping`, `/version`, `/info`) and answers every other request
//! with a 500: the daemon that "fails mid-run", on demand, without stopping
//! the real one that other tests use.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;

pub struct FakeDaemon {
    _dir: tempfile::TempDir,
    socket: PathBuf,
}

impl FakeDaemon {
    pub fn start() -> FakeDaemon {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("docker.sock");
        let listener = UnixListener::bind(&socket).expect("bind the fake socket");
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || serve(stream));
            }
        });
        FakeDaemon { _dir: dir, socket }
    }

    /// The value for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

/// Answers requests on one connection until the client closes it.
fn serve(stream: UnixStream) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut out = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        let mut chunked = false;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let lower = header.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        if chunked {
            skip_chunks(&mut reader);
        } else {
            let mut body = vec![0u8; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("");
        let path = parts.next().unwrap_or("").split('?').next().unwrap_or("");
        let (status, body) = answer(path);
        let body = if method == "HEAD" { "" } else { body };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if out.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn skip_chunks(reader: &mut impl BufRead) {
    loop {
        let mut size = String::new();
        if reader.read_line(&mut size).unwrap_or(0) == 0 {
            return;
        }
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        let mut chunk = vec![0u8; n + 2];
        if reader.read_exact(&mut chunk).is_err() || n == 0 {
            return;
        }
    }
}

fn answer(path: &str) -> (&'static str, &'static str) {
    if path.ends_with("/_ping") {
        ("200 OK", "OK")
    } else if path.ends_with("/version") {
        (
            "200 OK",
            r#"{"Version":"20.10.0-fake","ApiVersion":"1.41","MinAPIVersion":"1.12","Os":"linux","Arch":"amd64"}"#,
        )
    } else if path.ends_with("/info") {
        (
            "200 OK",
            r#"{"ServerVersion":"20.10.0-fake","Driver":"overlay2","DockerRootDir":"/nonexistent-fake-root","OperatingSystem":"a fake daemon","SecurityOptions":[]}"#,
        )
    } else {
        (
            "500 Internal Server Error",
            r#"{"message":"the fake daemon fails every request"}"#,
        )
    }
}
