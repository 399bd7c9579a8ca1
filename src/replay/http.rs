//! The little HTTP/1.1 the replay proxy needs to read: a head up to its
//! blank line, a body framed by `Content-Length` or chunked, each within a
//! bound, and the answers the proxy gives itself. Everything else on a
//! connection is copied as bytes.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Most bytes of a request or response head.
pub(super) const MAX_HEAD: usize = 64 << 10;
/// Most bytes of a chunk-size or trailer line.
const MAX_LINE: u64 = 4 << 10;
/// Most headers in a head.
pub(super) const MAX_HEADERS: usize = 128;

/// Why a message could not be read.
#[derive(Debug, thiserror::Error)]
pub(super) enum HttpError {
    /// Malformed or over a bound: answered `400`.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl From<super::rewrite::Refusal> for HttpError {
    fn from(r: super::rewrite::Refusal) -> Self {
        HttpError::Refused(r.0)
    }
}

/// Reads a head up to and including its blank line; `None` if the peer
/// closed before sending a byte. What follows stays in `reader`.
pub(super) async fn read_head<R: AsyncBufRead + Unpin>(
    reader: &mut R,
) -> Result<Option<Vec<u8>>, HttpError> {
    let mut head = Vec::new();
    loop {
        let room = (MAX_HEAD + 1).saturating_sub(head.len()) as u64;
        let start = head.len();
        let n = (&mut *reader)
            .take(room)
            .read_until(b'\n', &mut head)
            .await?;
        if n == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(HttpError::Refused(
                    "the head ends before its blank line".into(),
                ))
            };
        }
        if head.len() > MAX_HEAD {
            return Err(HttpError::Refused(format!(
                "the head is over {} KiB",
                MAX_HEAD >> 10
            )));
        }
        let line = &head[start..];
        // A blank line ends the head, unless it comes before any other.
        if (line == b"\r\n" || line == b"\n") && start > 0 {
            return Ok(Some(head));
        }
    }
}

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    Length(u64),
    Chunked,
    /// No body (a request), or until the connection closes (a response).
    Unframed,
}

/// The framing the headers declare. Both, a repeated length that differs,
/// or a transfer coding other than `chunked` are refused: the proxy must
/// see the body exactly where the daemon does.
pub(super) fn framing(headers: &[httparse::Header<'_>]) -> Result<Framing, HttpError> {
    let refused = |why: &str| Err(HttpError::Refused(why.to_string()));
    let value = |h: &httparse::Header<'_>| String::from_utf8_lossy(h.value).trim().to_string();
    let mut length: Option<u64> = None;
    let mut chunked = false;
    for h in headers {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if !value(h).eq_ignore_ascii_case("chunked") || chunked {
                return refused("only one `Transfer-Encoding: chunked` is supported");
            }
            chunked = true;
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let Ok(n) = value(h).parse::<u64>() else {
                return refused("malformed Content-Length");
            };
            if length.is_some_and(|l| l != n) {
                return refused("conflicting Content-Length headers");
            }
            length = Some(n);
        }
    }
    match (chunked, length) {
        (true, Some(_)) => refused("both Content-Length and Transfer-Encoding"),
        (true, None) => Ok(Framing::Chunked),
        (false, Some(n)) => Ok(Framing::Length(n)),
        (false, None) => Ok(Framing::Unframed),
    }
}

/// Reads a request body whole, refusing one over `limit` bytes.
pub(super) async fn read_body<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    framing: Framing,
    limit: usize,
) -> Result<Vec<u8>, HttpError> {
    let too_large = || HttpError::Refused(format!("the body is over {} MiB", limit >> 20));
    match framing {
        Framing::Unframed => Ok(Vec::new()),
        Framing::Length(n) => {
            let n = usize::try_from(n)
                .ok()
                .filter(|&n| n <= limit)
                .ok_or_else(too_large)?;
            let mut body = vec![0; n];
            reader.read_exact(&mut body).await?;
            Ok(body)
        }
        Framing::Chunked => {
            let mut chunks = Chunked::default();
            let mut body = Vec::new();
            while let Some(piece) = chunks.next(reader).await? {
                if body.len() + piece.len() > limit {
                    return Err(too_large());
                }
                body.extend_from_slice(&piece);
            }
            Ok(body)
        }
    }
}

/// Decodes a chunked body piece by piece.
#[derive(Debug, Default)]
pub(super) struct Chunked {
    /// Bytes left in the current chunk.
    left: u64,
    done: bool,
}

impl Chunked {
    /// The next piece of data (at most 64 KiB), `None` after the last chunk
    /// and its trailers.
    pub async fn next<R: AsyncBufRead + Unpin>(
        &mut self,
        reader: &mut R,
    ) -> Result<Option<Vec<u8>>, HttpError> {
        if self.done {
            return Ok(None);
        }
        if self.left == 0 {
            let line = read_line(reader).await?;
            let size = line.split(';').next().unwrap_or("").trim();
            self.left = u64::from_str_radix(size, 16)
                .map_err(|_| HttpError::Refused(format!("malformed chunk size {size:?}")))?;
            if self.left == 0 {
                // Trailers, up to the blank line.
                while !read_line(reader).await?.is_empty() {}
                self.done = true;
                return Ok(None);
            }
        }
        let want = self.left.min(64 << 10) as usize;
        let mut piece = vec![0; want];
        reader.read_exact(&mut piece).await?;
        self.left -= want as u64;
        if self.left == 0 && !read_line(reader).await?.is_empty() {
            return Err(HttpError::Refused("a chunk is longer than its size".into()));
        }
        Ok(Some(piece))
    }
}

/// One line without its line ending, within [`MAX_LINE`].
async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R) -> Result<String, HttpError> {
    let mut line = Vec::new();
    (&mut *reader)
        .take(MAX_LINE)
        .read_until(b'\n', &mut line)
        .await?;
    if line.last() != Some(&b'\n') {
        return Err(HttpError::Refused("a chunk line is too long or cut".into()));
    }
    Ok(String::from_utf8_lossy(&line).trim_end().to_string())
}

/// Writes `data` as one chunk; nothing for no data (an empty chunk would
/// end the body).
pub(super) async fn write_chunk<W: AsyncWrite + Unpin>(
    writer: &mut W,
    data: &[u8],
) -> std::io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    writer
        .write_all(format!("{:x}\r\n", data.len()).as_bytes())
        .await?;
    writer.write_all(data).await?;
    writer.write_all(b"\r\n").await
}

/// Answers the client itself, with the daemon's JSON error shape (the
/// docker CLI prints its `message`), and closes.
pub(super) async fn answer<W: AsyncWrite + Unpin>(
    writer: &mut W,
    status: &str,
    message: &str,
) -> std::io::Result<()> {
    let body = serde_json::json!({ "message": format!("dockgrade's replay proxy: {message}") })
        .to_string();
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    writer.write_all(head.as_bytes()).await?;
    writer.write_all(body.as_bytes()).await?;
    writer.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(raw: &[u8], framing: Framing, limit: usize) -> Result<Vec<u8>, HttpError> {
        let mut reader = tokio::io::BufReader::new(raw);
        read_body(&mut reader, framing, limit).await
    }

    #[tokio::test]
    async fn heads_are_read_to_their_blank_line_within_the_bound() {
        let mut reader = tokio::io::BufReader::new(&b"GET / HTTP/1.1\r\nA: b\r\n\r\nrest"[..]);
        let head = read_head(&mut reader)
            .await
            .expect("reads")
            .expect("a head");
        assert_eq!(head, b"GET / HTTP/1.1\r\nA: b\r\n\r\n");
        let mut rest = String::new();
        reader.read_to_string(&mut rest).await.expect("rest");
        assert_eq!(rest, "rest");

        let mut empty = tokio::io::BufReader::new(&b""[..]);
        assert!(read_head(&mut empty).await.expect("reads").is_none());
        let mut cut = tokio::io::BufReader::new(&b"GET / HTTP/1.1\r\nA: b\r\n"[..]);
        assert!(matches!(
            read_head(&mut cut).await,
            Err(HttpError::Refused(_))
        ));

        let big = format!("GET / HTTP/1.1\r\nA: {}\r\n\r\n", "x".repeat(MAX_HEAD));
        let mut reader = tokio::io::BufReader::new(big.as_bytes());
        assert!(
            matches!(read_head(&mut reader).await, Err(HttpError::Refused(m)) if m.contains("64 KiB"))
        );
    }

    #[tokio::test]
    async fn bodies_are_read_whole_or_refused_past_the_bound() {
        let chunked = b"4\r\nWiki\r\n6;ext=1\r\npedia \r\n0\r\nTrailer: x\r\n\r\n";
        assert_eq!(
            body(chunked, Framing::Chunked, 100).await.expect("body"),
            b"Wikipedia "
        );
        assert!(matches!(
            body(chunked, Framing::Chunked, 5).await,
            Err(HttpError::Refused(_))
        ));
        assert_eq!(
            body(b"abcdef", Framing::Length(3), 3).await.expect("body"),
            b"abc"
        );
        assert!(matches!(
            body(b"abcdef", Framing::Length(6), 3).await,
            Err(HttpError::Refused(_))
        ));
        assert!(matches!(
            body(b"zz\r\n", Framing::Chunked, 9).await,
            Err(HttpError::Refused(_))
        ));
        assert!(matches!(
            body(b"2\r\nabc\r\n", Framing::Chunked, 9).await,
            Err(HttpError::Refused(_))
        ));
        assert_eq!(
            body(b"ignored", Framing::Unframed, 0).await.expect("body"),
            b""
        );
    }

    #[test]
    fn ambiguous_framing_is_refused() {
        let h = |name: &'static str, value: &'static [u8]| httparse::Header { name, value };
        assert_eq!(
            framing(&[h("Content-Length", b" 12 ")]).ok(),
            Some(Framing::Length(12))
        );
        assert_eq!(
            framing(&[h("transfer-encoding", b"chunked")]).ok(),
            Some(Framing::Chunked)
        );
        assert_eq!(framing(&[]).ok(), Some(Framing::Unframed));
        for bad in [
            vec![
                h("Content-Length", b"1"),
                h("Transfer-Encoding", b"chunked"),
            ],
            vec![h("Content-Length", b"1"), h("Content-Length", b"2")],
            vec![h("Transfer-Encoding", b"gzip, chunked")],
            vec![h("Content-Length", b"-1")],
        ] {
            assert!(framing(&bad).is_err());
        }
    }
}
