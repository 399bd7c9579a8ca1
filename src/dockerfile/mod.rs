//! A Dockerfile read as Docker 20.10's legacy builder reads it, and what it
//! would make the daemon fetch from elsewhere (no I/O).
//!
//! `ADD http://127.0.0.1:PORT/x /x` makes the *daemon* fetch a URL from the
//! grading host's own network namespace, and `FROM`/`COPY --from=` naming an
//! image the daemon lacks makes it pull from any registry. [`remote_sources`]
//! lists those fetches so dockgrade can refuse the Dockerfile before building.
//!
//! The reader is ours, not a crate's. `parse-dockerfile` parses heredocs the
//! BuildKit way, which would hide the lines of a heredoc body that the legacy
//! builder reads as instructions, and it rejects unknown instructions;
//! `dockerfile-parser` knows no `# escape=` directive and substitutes
//! variables recursively, without `${VAR:-default}`; `dockerfile-parser-rs`
//! keeps no line numbers and reads only upper-case keywords. None does
//! Docker's variable substitution. Every rule here is ported from moby
//! v20.10.24 and the BuildKit parser it vendors (`parser/parser.go`,
//! `parser/line_parsers.go`, `parser/split_command.go`, `shell/lex.go`,
//! `builder/dockerfile/{buildargs,dispatchers,evaluator}.go`,
//! `pkg/urlutil`), down to its corners where a student could hide a URL:
//! a byte-order mark before `http://` (Go's scanner drops it), quotes and
//! escapes inside a source, a JSON array with trailing text, an `ONBUILD`
//! trigger run by a later `FROM` of its stage.
//!
//! - `reader`: physical lines to instructions (directives, comments,
//!   continuations, line numbers); `split`: keyword, flags and arguments;
//!   `json`: the exec form as Go's `encoding/json` decodes it.
//! - `lex`: variable substitution (`shell/lex.go`), bounded by a work budget.
//! - `scope`: which ARG, ENV and build argument a name means where.
//! - `eval`: the stages walked in order, and the remote sources they name.
//! - `rules`: the course's advice about Dockerfiles (untagged images, apt
//!   use, layers, WORKDIR, USER, `.dockerignore`), checked on the text.
//!
//! Hostile input: nothing here panics or recurses without a bound, and work is
//! linear in the text: the evaluation has a budget proportional to the text's
//! length and stops with [`TooMuchWork`] past it.

mod eval;
mod json;
mod lex;
mod reader;
pub mod rules;
mod scope;
mod split;

use std::fmt;

pub(crate) use eval::{RemoteKind, remote_sources};

/// Docker's default escape character, used until `# escape=` says otherwise.
pub(crate) const DEFAULT_ESCAPE: char = '\\';

/// Docker reads lines with Go's `bufio.Scanner`, whose buffer is 64 KiB: a
/// longer physical line fails the build before anything runs.
pub(crate) const MAX_LINE_BYTES: usize = 64 * 1024 - 1;

/// How many characters of an instruction a message quotes.
const EXCERPT_CHARS: usize = 120;

/// A parsed Dockerfile: its instructions in order, as the legacy builder
/// reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dockerfile {
    /// The escape character (`\` or, after `# escape=\``, a backtick).
    pub(crate) escape: char,
    /// The `# syntax=` directive, which the legacy builder ignores.
    pub(crate) syntax: Option<String>,
    pub(crate) instructions: Vec<Instruction>,
}

/// One instruction, continuation lines joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Instruction {
    /// 1-based line where the instruction starts.
    pub(crate) line: usize,
    /// 1-based line where it ends (the last continuation line).
    pub(crate) end_line: usize,
    pub(crate) keyword: Keyword,
    /// The instruction as Docker prints it in `Step n/m : ...`: its lines
    /// joined without their continuation characters, comments dropped.
    pub(crate) text: String,
    /// `--name=value` flags before the arguments, in order.
    pub(crate) flags: Vec<Flag>,
    pub(crate) arguments: Arguments,
    /// The delimiter of a `<<EOF` heredoc in a RUN, COPY or ADD. The legacy
    /// builder does not know heredocs: it reads `<<EOF` as plain text and
    /// the body's lines as instructions of their own.
    pub(crate) heredoc: Option<String>,
}

/// An instruction keyword, matched case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Keyword {
    Add,
    Arg,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    Label,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    Stopsignal,
    User,
    Volume,
    Workdir,
    /// Kept as written; the daemon fails the build on it.
    Unknown(String),
}

/// A flag such as `--from=builder` (`name` "from") or `--link` (no value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Flag {
    pub(crate) name: String,
    pub(crate) value: Option<String>,
}

/// The arguments after the keyword and flags, as the instruction's own
/// parser in Docker splits them. Quotes and escapes stay in the words: they
/// are removed when the words are expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arguments {
    /// Nothing after the keyword (and flags).
    None,
    /// The exec form `["a", "b"]` of RUN, CMD, ENTRYPOINT, SHELL, ADD, COPY
    /// and VOLUME, decoded as JSON.
    Json(Vec<String>),
    /// One string: the shell form of RUN, CMD, ENTRYPOINT and SHELL, and
    /// MAINTAINER, USER, WORKDIR, STOPSIGNAL.
    Text(String),
    /// Whitespace-separated words (FROM, EXPOSE, and ADD, COPY, VOLUME in
    /// shell form), or ARG's `name` and `name=value` words.
    Words(Vec<String>),
    /// ENV and LABEL: `name=value ...`, or the old `name value` form.
    Pairs(Vec<(String, String)>),
    /// HEALTHCHECK: its type (`CMD`, `NONE`) and the command after it.
    Healthcheck {
        kind: String,
        command: Box<Arguments>,
    },
    /// ONBUILD: the instruction it registers as a trigger.
    Trigger(Box<Instruction>),
}

/// Why a Dockerfile cannot be read. Each is an error of Docker's own parser
/// too (the build fails before any step runs), except [`ParseErrorKind::NotUtf8`].
/// Errors of single instructions (an unknown one, a missing argument, a bad
/// flag) are left to the daemon, which reports them as well as we would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    /// 1-based line of the problem.
    pub(crate) line: usize,
    pub(crate) kind: ParseErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseErrorKind {
    /// `# escape=` with something else than a backslash or a backtick.
    InvalidEscape(String),
    /// A parser directive given twice.
    DuplicateDirective(String),
    /// A physical line longer than [`MAX_LINE_BYTES`].
    LineTooLong,
    /// A JSON array holding something else than strings.
    NotStringArray,
    /// ENV or LABEL without a value, or a word without `=`.
    NameValue {
        keyword: &'static str,
        detail: String,
    },
    /// Not UTF-8. Docker reads bytes and the reader strings: rather than
    /// guess how Docker's byte-level rules would split it, it is refused.
    NotUtf8,
}

impl Keyword {
    /// The keyword for a command word already lower-cased as Go does.
    fn from_lowercase(word: &str, written: &str) -> Keyword {
        match word {
            "add" => Keyword::Add,
            "arg" => Keyword::Arg,
            "cmd" => Keyword::Cmd,
            "copy" => Keyword::Copy,
            "entrypoint" => Keyword::Entrypoint,
            "env" => Keyword::Env,
            "expose" => Keyword::Expose,
            "from" => Keyword::From,
            "healthcheck" => Keyword::Healthcheck,
            "label" => Keyword::Label,
            "maintainer" => Keyword::Maintainer,
            "onbuild" => Keyword::Onbuild,
            "run" => Keyword::Run,
            "shell" => Keyword::Shell,
            "stopsignal" => Keyword::Stopsignal,
            "user" => Keyword::User,
            "volume" => Keyword::Volume,
            "workdir" => Keyword::Workdir,
            _ => Keyword::Unknown(written.to_string()),
        }
    }

    /// The keyword in upper case, as Docker names it in messages.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Keyword::Add => "ADD",
            Keyword::Arg => "ARG",
            Keyword::Cmd => "CMD",
            Keyword::Copy => "COPY",
            Keyword::Entrypoint => "ENTRYPOINT",
            Keyword::Env => "ENV",
            Keyword::Expose => "EXPOSE",
            Keyword::From => "FROM",
            Keyword::Healthcheck => "HEALTHCHECK",
            Keyword::Label => "LABEL",
            Keyword::Maintainer => "MAINTAINER",
            Keyword::Onbuild => "ONBUILD",
            Keyword::Run => "RUN",
            Keyword::Shell => "SHELL",
            Keyword::Stopsignal => "STOPSIGNAL",
            Keyword::User => "USER",
            Keyword::Volume => "VOLUME",
            Keyword::Workdir => "WORKDIR",
            Keyword::Unknown(written) => written,
        }
    }
}

impl fmt::Display for Keyword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Instruction {
    /// The values of every `--name=...` flag, in order. Docker rejects a
    /// repeated flag; listing them all lets a caller be stricter than that.
    pub(crate) fn flag_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.flags
            .iter()
            .filter(move |f| f.name == name)
            .filter_map(|f| f.value.as_deref())
    }

    /// The argument words of a list form (JSON or whitespace-separated):
    /// ADD and COPY sources and destination, FROM's image and stage name.
    pub(crate) fn words(&self) -> &[String] {
        match &self.arguments {
            Arguments::Json(words) | Arguments::Words(words) => words,
            _ => &[],
        }
    }

    /// The instruction's text for a message: trimmed, control characters
    /// (a terminal's escape sequences among them) shown as `?`, at most
    /// [`EXCERPT_CHARS`] characters.
    pub(crate) fn excerpt(&self) -> String {
        excerpt(&self.text)
    }
}

/// `text` trimmed, made safe to print and cut to [`EXCERPT_CHARS`].
fn excerpt(text: &str) -> String {
    let text = text.trim();
    let mut out: String = text
        .chars()
        .take(EXCERPT_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().nth(EXCERPT_CHARS).is_some() {
        out.push('…');
    }
    out
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: ", self.line)?;
        match &self.kind {
            ParseErrorKind::InvalidEscape(value) => write!(
                f,
                "invalid escape token {:?} (only ` or \\ are allowed)",
                excerpt(value)
            ),
            ParseErrorKind::DuplicateDirective(name) => {
                write!(f, "only one {name} parser directive can be used")
            }
            ParseErrorKind::LineTooLong => write!(
                f,
                "line longer than Docker's limit of {MAX_LINE_BYTES} bytes"
            ),
            ParseErrorKind::NotStringArray => f.write_str(
                "when using JSON array syntax, arrays must be comprised of strings only",
            ),
            ParseErrorKind::NameValue { keyword, detail } => write!(f, "{keyword}: {detail}"),
            ParseErrorKind::NotUtf8 => f.write_str("the Dockerfile is not UTF-8 text"),
        }
    }
}

impl std::error::Error for ParseError {}

impl Dockerfile {
    /// Reads a Dockerfile's text as the legacy builder does. A text of
    /// comments and blank lines reads as no instructions (the course's
    /// starters are such), which Docker refuses to build.
    pub(crate) fn parse(text: &str) -> Result<Dockerfile, ParseError> {
        let read = reader::read(text)?;
        let mut instructions = Vec::with_capacity(read.lines.len());
        for logical in read.lines {
            instructions.push(split::instruction(&logical, read.escape, true)?);
        }
        Ok(Dockerfile {
            escape: read.escape,
            syntax: read.syntax,
            instructions,
        })
    }

    /// Reads a Dockerfile's bytes: refused unless UTF-8 (see
    /// [`ParseErrorKind::NotUtf8`]); a UTF-8 byte-order mark is allowed.
    pub(crate) fn parse_bytes(bytes: &[u8]) -> Result<Dockerfile, ParseError> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Dockerfile::parse(text),
            Err(e) => {
                let before = &bytes[..e.valid_up_to()];
                Err(ParseError {
                    line: before.iter().filter(|&&b| b == b'\n').count() + 1,
                    kind: ParseErrorKind::NotUtf8,
                })
            }
        }
    }
}

/// Go's `strings.ToLower`: simple case mapping, one character for one
/// (Rust maps `İ` to two characters; Go to `i`).
fn go_lowercase(word: &str) -> String {
    word.chars()
        .map(|c| match c {
            '\u{130}' => 'i',
            c => c.to_lowercase().next().unwrap_or(c),
        })
        .collect()
}

#[cfg(test)]
mod tests;
