//! The exec form `["a", "b"]` as Docker decodes it with Go's
//! `encoding/json`: the first JSON value is read and anything after it is
//! ignored (`ADD ["http://h/x", "/x"] junk` fetches the URL); a lone
//! surrogate escape becomes U+FFFD; a valid array with a non-string element
//! is an error; anything Go fails to decode (bad syntax, nesting deeper than
//! 10000, a number out of `f64` range) falls back to the shell form.
//! Iterative, so nesting costs no stack.

/// How the arguments of a JSON-capable instruction read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum JsonArray {
    Strings(Vec<String>),
    /// Valid JSON, but an element is not a string: a parse error in Docker.
    NotStrings,
    /// Not JSON as Go decodes it: the shell form applies.
    NotJson,
}

/// Go's `maxNestingDepth`.
const MAX_DEPTH: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Value,
    ValueOrClose,
    CommaOrClose,
    Key,
    KeyOrClose,
    Colon,
}

/// Reads `text` (after leading whitespace) as a JSON array of strings.
pub(super) fn parse_json_array(text: &str) -> JsonArray {
    let bytes = text.trim_start().as_bytes();
    if bytes.first() != Some(&b'[') {
        return JsonArray::NotJson;
    }
    let mut reader = Reader {
        bytes,
        pos: 1,
        stack: vec![b'['],
        strings: Some(Vec::new()),
        out_of_range: false,
    };
    match reader.run() {
        Some(()) if !reader.out_of_range => match reader.strings {
            Some(strings) => JsonArray::Strings(strings),
            None => JsonArray::NotStrings,
        },
        _ => JsonArray::NotJson,
    }
}

#[derive(Debug)]
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Open containers, `[` or `{`.
    stack: Vec<u8>,
    /// The top-level array's strings, until an element is not one.
    strings: Option<Vec<String>>,
    /// A number Go's `ParseFloat` rejects: decoding fails after the syntax
    /// check passes.
    out_of_range: bool,
}

impl Reader<'_> {
    /// Reads up to the end of the top-level array; `None` on bad syntax.
    fn run(&mut self) -> Option<()> {
        let mut want = Want::ValueOrClose;
        loop {
            while matches!(self.bytes.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                self.pos += 1;
            }
            let byte = *self.bytes.get(self.pos)?;
            let top = *self.stack.last()?;
            let closes = (top == b'[' && byte == b']') || (top == b'{' && byte == b'}');
            want = match want {
                Want::ValueOrClose | Want::KeyOrClose | Want::CommaOrClose if closes => {
                    self.pos += 1;
                    self.stack.pop();
                    if self.stack.is_empty() {
                        return Some(());
                    }
                    Want::CommaOrClose
                }
                Want::Value | Want::ValueOrClose => self.value(byte)?,
                Want::Key | Want::KeyOrClose if byte == b'"' => {
                    self.string()?;
                    Want::Colon
                }
                Want::Colon if byte == b':' => {
                    self.pos += 1;
                    Want::Value
                }
                Want::CommaOrClose if byte == b',' => {
                    self.pos += 1;
                    if top == b'[' { Want::Value } else { Want::Key }
                }
                _ => return None,
            };
        }
    }

    /// Reads one value starting with `byte`; returns what comes next.
    fn value(&mut self, byte: u8) -> Option<Want> {
        let top_level = self.stack.len() == 1;
        if byte == b'"' {
            let s = self.string()?;
            if let (true, Some(strings)) = (top_level, self.strings.as_mut()) {
                strings.push(s);
            }
            return Some(Want::CommaOrClose);
        }
        if top_level {
            self.strings = None;
        }
        match byte {
            b'[' | b'{' => {
                self.pos += 1;
                self.stack.push(byte);
                if self.stack.len() > MAX_DEPTH {
                    return None;
                }
                Some(if byte == b'[' {
                    Want::ValueOrClose
                } else {
                    Want::KeyOrClose
                })
            }
            b'-' | b'0'..=b'9' => {
                self.number()?;
                Some(Want::CommaOrClose)
            }
            _ => {
                let rest = &self.bytes[self.pos..];
                let literal = [&b"true"[..], b"false", b"null"]
                    .into_iter()
                    .find(|l| rest.starts_with(l))?;
                self.pos += literal.len();
                Some(Want::CommaOrClose)
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Option<()> {
        let start = self.pos;
        if self.bytes[self.pos] == b'-' {
            self.pos += 1;
        }
        match self.bytes.get(self.pos)? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            (self.digits() > 0).then_some(())?;
        }
        if matches!(self.bytes.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.bytes.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            (self.digits() > 0).then_some(())?;
        }
        let text = std::str::from_utf8(&self.bytes[start..self.pos]).ok()?;
        if text.parse::<f64>().map_or(true, f64::is_infinite) {
            self.out_of_range = true;
        }
        Some(())
    }

    /// Reads a string at `"`, decoding its escapes as Go does.
    fn string(&mut self) -> Option<String> {
        self.pos += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let byte = *self.bytes.get(self.pos)?;
            self.pos += 1;
            match byte {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => self.escape(&mut out)?,
                0..=0x1f => return None,
                _ => out.push(byte),
            }
        }
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let byte = *self.bytes.get(self.pos)?;
        self.pos += 1;
        let c = match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => self.unicode_escape()?,
            _ => return None,
        };
        let mut buf = [0; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        Some(())
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.bytes.get(at..at + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(text, 16).ok()
    }

    /// `\uXXXX` after the `u`: a surrogate pair makes one character; a lone
    /// surrogate becomes U+FFFD and the next escape is read on its own.
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4(self.pos)?;
        self.pos += 4;
        if !(0xd800..0xe000).contains(&first) {
            return char::from_u32(first);
        }
        let low = (self.bytes.get(self.pos..self.pos + 2) == Some(b"\\u"))
            .then(|| self.hex4(self.pos + 2))
            .flatten();
        if let (true, Some(low)) = (first < 0xdc00, low)
            && (0xdc00..0xe000).contains(&low)
        {
            self.pos += 6;
            return char::from_u32(0x10000 + ((first - 0xd800) << 10) + (low - 0xdc00));
        }
        Some('\u{fffd}')
    }
}
