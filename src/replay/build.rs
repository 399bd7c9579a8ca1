//! A replayed `docker build`'s answer: the legacy builder labels only the
//! last stage's image, so the proxy reads the build's output for what else
//! it committed (other stages' images, a failed step's container and last
//! layer) to be removed afterwards. The daemon only says so in its full
//! output, so a quiet build (`-q`) is asked for that output and the client
//! is given what the daemon would have sent it: only the image id on
//! success; the held-back output and the error on failure.

use tokio::io::{AsyncBufRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::Recorded;
use super::http::{Chunked, Framing, HttpError, MAX_HEADERS, framing, read_head, write_chunk};
use crate::build_output::{BuilderLines, Said};

/// Most bytes of one message of the build's output read for ids; a longer
/// one is passed on unread.
const MAX_MESSAGE: usize = 1 << 20;
/// Most bytes of a quiet build's output held back for a failure.
const MAX_HELD: usize = 4 << 20;

/// Reads a build's output as it passes: what the build committed, and
/// what the client is to see.
#[derive(Debug, Default)]
pub(super) struct BuildWatch {
    quiet: bool,
    /// A message not yet ended by its newline.
    pending: Vec<u8>,
    /// A quiet build's output so far, sent only if it fails.
    held: Vec<u8>,
    /// The text of `stream` messages not yet ended by a newline.
    text: String,
    /// The builder's lines, read in order.
    lines: BuilderLines,
    /// The last image the daemon announced (`aux.ID`): the build's result.
    image: Option<String>,
    failed: bool,
    recorded: Recorded,
}

impl BuildWatch {
    pub fn new(quiet: bool) -> BuildWatch {
        BuildWatch {
            quiet,
            ..BuildWatch::default()
        }
    }

    /// Takes a piece of the daemon's output; returns what the client gets
    /// now.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.quiet {
            out.extend_from_slice(bytes);
        }
        self.pending.extend_from_slice(bytes);
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let message: Vec<u8> = self.pending.drain(..=end).collect();
            self.message(&message, &mut out);
        }
        if self.pending.len() > MAX_MESSAGE {
            let unread = std::mem::take(&mut self.pending);
            self.pass(&unread, &mut out);
        }
        out
    }

    /// The end of the daemon's output; returns what the client gets last.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.pending.is_empty() {
            let message = std::mem::take(&mut self.pending);
            self.message(&message, &mut out);
        }
        if self.quiet && !self.failed {
            match &self.image {
                Some(id) => {
                    let message = serde_json::json!({ "stream": format!("{id}\n") });
                    out.extend_from_slice(format!("{message}\r\n").as_bytes());
                }
                None => out.append(&mut self.held),
            }
        }
        out
    }

    /// What the build committed since the last call.
    pub fn take_recorded(&mut self) -> Recorded {
        std::mem::take(&mut self.recorded)
    }

    /// One message of the daemon's JSON stream.
    fn message(&mut self, message: &[u8], out: &mut Vec<u8>) {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(message) {
            if let Some(stream) = value["stream"].as_str() {
                self.observe(stream);
            }
            if let Some(id) = value["aux"]["ID"].as_str() {
                self.image = Some(id.to_string());
            }
            if value.get("error").is_some_and(|e| !e.is_null()) && self.quiet && !self.failed {
                // The daemon's own answer to a failed quiet build: the
                // output so far, then the error.
                out.append(&mut self.held);
                self.failed = true;
            }
        }
        self.pass(message, out);
    }

    /// A quiet build holds its output back (within a bound) until it fails;
    /// after a failure it passes everything on.
    fn pass(&mut self, message: &[u8], out: &mut Vec<u8>) {
        if !self.quiet {
            return;
        }
        if self.failed {
            out.extend_from_slice(message);
        } else if self.held.len() + message.len() <= MAX_HELD {
            self.held.extend_from_slice(message);
        }
    }

    /// The build's text output, line by line.
    fn observe(&mut self, stream: &str) {
        self.text.push_str(stream);
        while let Some(end) = self.text.find('\n') {
            let line: String = self.text.drain(..=end).collect();
            self.line(line.trim());
        }
        if self.text.len() > MAX_MESSAGE {
            // A program's long line: never one of the builder's.
            self.text.clear();
        }
    }

    /// One line of the builder's account: what the build created.
    fn line(&mut self, line: &str) {
        match self.lines.read(line) {
            Some(Said::RunningIn(id)) => self.recorded.build_containers.push(id),
            Some(Said::Created(id)) => self.recorded.layers.push(id),
            Some(Said::Step(..) | Said::Reused(_) | Said::Base(_)) | None => {}
        }
    }
}

/// Relays the daemon's answer to a build to the client, recording what the
/// build commits as it goes. An answer other than `200` passes untouched.
pub(super) async fn relay<R, W>(
    daemon: &mut R,
    client: &mut W,
    quiet: bool,
    recorded: &std::sync::Mutex<Recorded>,
) -> Result<(), HttpError>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let Some(head) = read_head(daemon).await? else {
        return Ok(());
    };
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    response
        .parse(&head)
        .map_err(|e| HttpError::Refused(format!("the daemon's answer: {e}")))?;
    if response.code != Some(200) {
        client.write_all(&head).await?;
        tokio::io::copy(daemon, client).await?;
        return Ok(());
    }
    let incoming = framing(response.headers)?;
    // The client gets the body chunked: its length changes when quiet.
    let mut out = b"HTTP/1.1 200 OK\r\n".to_vec();
    for h in response.headers.iter().filter(|h| {
        !["content-length", "transfer-encoding", "connection"]
            .iter()
            .any(|n| h.name.eq_ignore_ascii_case(n))
    }) {
        out.extend_from_slice(format!("{}: ", h.name).as_bytes());
        out.extend_from_slice(h.value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    client.write_all(&out).await?;

    let mut watch = BuildWatch::new(quiet);
    let mut chunks = Chunked::default();
    let mut left = match incoming {
        Framing::Length(n) => n,
        _ => u64::MAX,
    };
    loop {
        let piece = if incoming == Framing::Chunked {
            chunks.next(daemon).await?
        } else {
            let mut buf = vec![0; (64 << 10).min(left) as usize];
            let n = daemon.read(&mut buf).await?;
            left -= n as u64;
            buf.truncate(n);
            (n > 0).then_some(buf)
        };
        let Some(piece) = piece else { break };
        let now = watch.feed(&piece);
        write_chunk(client, &now).await?;
        if let Ok(mut r) = recorded.lock() {
            r.extend(watch.take_recorded());
        }
    }
    let last = watch.finish();
    if let Ok(mut r) = recorded.lock() {
        r.extend(watch.take_recorded());
    }
    write_chunk(client, &last).await?;
    client.write_all(b"0\r\n\r\n").await?;
    client.shutdown().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The daemon's full output for a two-stage build whose first stage
    /// runs a command and whose second copies from it (Docker 20.10).
    const TWO_STAGES: &str = concat!(
        r#"{"stream":"Step 1/5 : FROM busybox:1.35 AS a"}"#,
        "\r\n",
        r#"{"stream":"\n"}"#,
        "\r\n",
        r#"{"stream":" ---\u003e c946ec559d45\n"}"#,
        "\r\n",
        r#"{"stream":"Step 2/5 : RUN echo hi \u003e /x"}"#,
        "\r\n",
        r#"{"stream":"\n"}"#,
        "\r\n",
        r#"{"stream":" ---\u003e Running in 22907aa8cbb0\n"}"#,
        "\r\n",
        r#"{"stream":"Removing intermediate container 22907aa8cbb0\n"}"#,
        "\r\n",
        r#"{"stream":" ---\u003e bee5acf33e34\n"}"#,
        "\r\n",
        r#"{"aux":{"ID":"sha256:bee5acf33e34f43ccc92776a75be7872de073b7a848dab0c784a07e0ebfaa584"}}"#,
        "\r\n",
        r#"{"stream":"Step 3/5 : from busybox:1.35"}"#,
        "\r\n",
        r#"{"stream":"\n"}"#,
        "\r\n",
        r#"{"stream":" ---\u003e c946ec559d45\n"}"#,
        "\r\n",
        r#"{"stream":"Step 4/5 : COPY --from=a /x /x"}"#,
        "\r\n",
        r#"{"stream":"\n"}"#,
        "\r\n",
        r#"{"stream":" ---\u003e Using cache\n"}"#,
        "\r\n",
        r#"{"stream":" ---\u003e 50bc858936ab\n"}"#,
        "\r\n",
        r#"{"stream":"Step 5/5 : LABEL a=b"}"#,
        "\r\n",
        r#"{"stream":"\n"}"#,
        "\r\n",
        r#"{"stream":" ---\u003e Running in 70f1a8420725\n"}"#,
        "\r\n",
        r#"{"stream":"Removing intermediate container 70f1a8420725\n"}"#,
        "\r\n",
        r#"{"stream":" ---\u003e 0080810ae45e\n"}"#,
        "\r\n",
        r#"{"aux":{"ID":"sha256:0080810ae45e6ce1643d0c9f11deb9b88a72600c5fd5ab0730aff9f2f3893982"}}"#,
        "\r\n",
        r#"{"stream":"Successfully built 0080810ae45e\n"}"#,
        "\r\n",
        r#"{"stream":"Successfully tagged mstest:1\n"}"#,
        "\r\n",
    );

    const FAILED: &str = concat!(
        r#"{"stream":"Step 1/2 : FROM busybox:1.35\n"}"#,
        "\r\n",
        r#"{"stream":" ---\u003e c946ec559d45\n"}"#,
        "\r\n",
        r#"{"stream":"Step 2/2 : RUN false\n ---\u003e Running in 87db341d76de\n"}"#,
        "\r\n",
        r#"{"errorDetail":{"code":1,"message":"returned 1"},"error":"returned 1"}"#,
        "\r\n",
    );

    /// Feeds `output` in pieces of `size` bytes; returns what the client saw.
    fn run(watch: &mut BuildWatch, output: &str, size: usize) -> String {
        let mut seen = Vec::new();
        for piece in output.as_bytes().chunks(size) {
            seen.extend(watch.feed(piece));
        }
        seen.extend(watch.finish());
        String::from_utf8(seen).expect("text")
    }

    #[test]
    fn new_layers_and_step_containers_are_recorded_not_bases_or_cache() {
        for size in [1, 7, 4096] {
            let mut watch = BuildWatch::new(false);
            assert_eq!(
                run(&mut watch, TWO_STAGES, size),
                TWO_STAGES,
                "passed untouched"
            );
            let recorded = watch.take_recorded();
            assert_eq!(recorded.layers, ["bee5acf33e34", "0080810ae45e"]);
            assert_eq!(recorded.build_containers, ["22907aa8cbb0", "70f1a8420725"]);
        }
    }

    #[test]
    fn a_quiet_build_gets_only_its_image_id() {
        let mut watch = BuildWatch::new(true);
        assert_eq!(
            run(&mut watch, TWO_STAGES, 5),
            "{\"stream\":\"sha256:0080810ae45e6ce1643d0c9f11deb9b88a72600c5fd5ab0730aff9f2f3893982\\n\"}\r\n"
        );
        assert_eq!(watch.take_recorded().layers.len(), 2);
    }

    #[test]
    fn a_failed_quiet_build_gets_its_output_and_the_error() {
        let mut watch = BuildWatch::new(true);
        assert_eq!(run(&mut watch, FAILED, 3), FAILED);
        let recorded = watch.take_recorded();
        assert_eq!(recorded.build_containers, ["87db341d76de"]);
        assert!(recorded.layers.is_empty(), "the base is not ours");
        let mut watch = BuildWatch::new(false);
        assert_eq!(run(&mut watch, FAILED, 64), FAILED);
    }

    #[test]
    fn output_that_is_not_the_builders_is_bounded_and_passed_on() {
        let mut watch = BuildWatch::new(false);
        let long = "x".repeat(MAX_MESSAGE + 10);
        assert_eq!(watch.feed(long.as_bytes()).len(), long.len());
        assert!(watch.pending.is_empty());
        let line = format!("{}\r\n", serde_json::json!({ "stream": long }));
        watch.feed(line.as_bytes());
        assert!(watch.text.is_empty());
        assert_eq!(watch.take_recorded(), Recorded::default());

        let mut quiet = BuildWatch::new(true);
        for _ in 0..(MAX_HELD / line.len() + 2) {
            assert!(quiet.feed(line.as_bytes()).is_empty());
        }
        assert!(quiet.held.len() <= MAX_HELD);
    }
}
