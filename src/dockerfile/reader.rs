//! Physical lines to logical instructions, as BuildKit's `parser.Parse`
//! (vendored by moby 20.10) reads them: a byte-order mark on the first line,
//! parser directives at the top, comment lines (also between continuation
//! lines), blank continuation lines, the escape character as line
//! continuation, and the line where each instruction starts.

use super::{DEFAULT_ESCAPE, MAX_LINE_BYTES, ParseError, ParseErrorKind};

/// One instruction's text, its continuation lines joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Logical {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) text: String,
}

/// What the reader found: the escape character, the ignored `syntax`
/// directive, and the instructions' text.
#[derive(Debug)]
pub(super) struct Read {
    pub(super) escape: char,
    pub(super) syntax: Option<String>,
    pub(super) lines: Vec<Logical>,
}

/// Parser directives: looked for until the first line that is not one.
#[derive(Debug)]
struct Directives {
    escape: char,
    done: bool,
    seen_escape: bool,
    syntax: Option<String>,
}

/// Reads `text` into logical lines.
pub(super) fn read(text: &str) -> Result<Read, ParseError> {
    let mut lines = PhysicalLines::new(text);
    let mut directives = Directives {
        escape: DEFAULT_ESCAPE,
        done: false,
        seen_escape: false,
        syntax: None,
    };
    let mut out = Vec::new();
    while let Some((number, raw)) = lines.next_line()? {
        let raw = if number == 1 {
            raw.strip_prefix('\u{feff}').unwrap_or(raw)
        } else {
            raw
        };
        let token = raw.trim_start();
        directives.consider(number, token)?;
        let token = if token.starts_with('#') { "" } else { token };
        let (mut joined, mut complete) = trim_continuation(token, directives.escape);
        if complete && joined.is_empty() {
            continue;
        }
        let mut end = number;
        while !complete {
            let Some((next_number, next_raw)) = lines.next_line()? else {
                break;
            };
            end = next_number;
            // Directives are over: the line that began this instruction was
            // not one. Comment lines and blank lines are skipped (Docker
            // warns about the blank ones); others keep their indentation.
            let trimmed = next_raw.trim_start();
            if trimmed.starts_with('#') || trimmed.is_empty() {
                continue;
            }
            let (part, done) = trim_continuation(next_raw, directives.escape);
            joined.push_str(&part);
            complete = done;
        }
        out.push(Logical {
            start: number,
            end,
            text: joined,
        });
    }
    Ok(Read {
        escape: directives.escape,
        syntax: directives.syntax,
        lines: out,
    })
}

/// The physical lines of a text as Go's `bufio.Scanner` splits them: on
/// `\n`, one trailing `\r` dropped, no empty last line after a final `\n`.
#[derive(Debug)]
struct PhysicalLines<'a> {
    rest: Option<&'a str>,
    number: usize,
}

impl<'a> PhysicalLines<'a> {
    fn new(text: &'a str) -> Self {
        PhysicalLines {
            rest: (!text.is_empty()).then_some(text),
            number: 0,
        }
    }

    fn next_line(&mut self) -> Result<Option<(usize, &'a str)>, ParseError> {
        let Some(rest) = self.rest else {
            return Ok(None);
        };
        let (line, after) = match rest.split_once('\n') {
            Some((line, after)) => (line, (!after.is_empty()).then_some(after)),
            None => (rest, None),
        };
        self.rest = after;
        self.number += 1;
        if line.len() > MAX_LINE_BYTES {
            return Err(ParseError {
                line: self.number,
                kind: ParseErrorKind::LineTooLong,
            });
        }
        Ok(Some((self.number, line.strip_suffix('\r').unwrap_or(line))))
    }
}

/// Removes a line-continuation escape at the end of `line`: Docker's
/// `([^E])E[ \t]*$|^E[ \t]*$`, so an escaped escape (`\\`) does not
/// continue. Returns the text and whether the instruction ends here.
fn trim_continuation(line: &str, escape: char) -> (String, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    if let Some(before) = trimmed.strip_suffix(escape)
        && !before.ends_with(escape)
    {
        return (before.to_string(), false);
    }
    (line.to_string(), true)
}

impl Directives {
    /// Docker's `possibleParserDirective`: `# name=value` lines at the very
    /// top; the first other line (a comment, a blank line, an instruction)
    /// ends them. Only `escape` and `syntax` are directives; a repeated one
    /// is an error.
    fn consider(&mut self, line: usize, token: &str) -> Result<(), ParseError> {
        if self.done {
            return Ok(());
        }
        let Some((name, value)) = directive(token) else {
            self.done = true;
            return Ok(());
        };
        let error = |kind| Err(ParseError { line, kind });
        match name.to_ascii_lowercase().as_str() {
            "escape" => {
                if self.seen_escape {
                    return error(ParseErrorKind::DuplicateDirective("escape".into()));
                }
                self.seen_escape = true;
                self.escape = match value {
                    "`" => '`',
                    "\\" => '\\',
                    _ => return error(ParseErrorKind::InvalidEscape(value.to_string())),
                };
            }
            "syntax" => {
                if self.syntax.is_some() {
                    return error(ParseErrorKind::DuplicateDirective("syntax".into()));
                }
                self.syntax = Some(value.to_string());
            }
            _ => self.done = true,
        }
        Ok(())
    }
}

/// Go's `\s`: ASCII whitespace without `\v`.
fn is_re2_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ')
}

/// Matches `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$` on `token`.
fn directive(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix('#')?.trim_start_matches(is_re2_space);
    let name_len = rest
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(rest.len(), |(i, _)| i);
    if name_len == 0 {
        return None;
    }
    let (name, rest) = rest.split_at(name_len);
    let rest = rest.trim_start_matches(is_re2_space).strip_prefix('=')?;
    if rest.is_empty() {
        return None;
    }
    let value = rest.trim_matches(is_re2_space);
    if value.is_empty() {
        // `.+?` needs one character: with only spaces left, the regex
        // takes the last of them as the value.
        let last = rest.char_indices().last().map_or(0, |(i, _)| i);
        return Some((name, &rest[last..]));
    }
    Some((name, value))
}
