//! One logical line to an [`Instruction`]: the keyword, the flags before the
//! arguments (`splitCommand`, `extractBuilderFlags`), and the arguments as
//! each instruction's line parser in `line_parsers.go` splits them.
//!
//! Go's flag extraction and HEALTHCHECK split walk bytes, not characters: a
//! byte 0x85 or 0xA0 inside a multi-byte character counts as a space there,
//! and each byte of a flag becomes one Latin-1 character. This is ported as
//! is, since it decides where the flags end and the arguments begin.

use super::json::{JsonArray, parse_json_array};
use super::reader::Logical;
use super::{Arguments, Flag, Instruction, Keyword, ParseError, ParseErrorKind, go_lowercase};

/// Builds the instruction of one logical line. `allow_trigger` is false
/// inside ONBUILD: Docker rejects `ONBUILD ONBUILD`, so the inner one's
/// arguments stay text rather than nesting without a bound.
pub(super) fn instruction(
    logical: &Logical,
    escape: char,
    allow_trigger: bool,
) -> Result<Instruction, ParseError> {
    let line = logical.start;
    let (command, rest) = split_command(&logical.text);
    let keyword = Keyword::from_lowercase(&go_lowercase(command), command);
    let (args, flag_words) = match rest {
        Some(rest) => extract_flags(rest),
        None => (String::new(), Vec::new()),
    };
    let args = args.trim();
    let flags = flag_words.into_iter().map(flag).collect();
    let arguments = match &keyword {
        Keyword::Add | Keyword::Copy | Keyword::Volume => json_or_words(args, line)?,
        Keyword::Run | Keyword::Cmd | Keyword::Entrypoint | Keyword::Shell => {
            json_or_text(args, line)?
        }
        Keyword::From | Keyword::Expose => whitespace_words(args),
        Keyword::Arg => match parse_words(args, escape) {
            words if words.is_empty() => Arguments::None,
            words => Arguments::Words(words),
        },
        Keyword::Env | Keyword::Label => name_values(args, escape, &keyword, line)?,
        Keyword::Maintainer | Keyword::User | Keyword::Workdir | Keyword::Stopsignal => text(args),
        Keyword::Healthcheck => healthcheck(args, line)?,
        Keyword::Onbuild => trigger(args, logical, escape, allow_trigger)?,
        Keyword::Unknown(_) => Arguments::None,
    };
    let heredoc = match (&keyword, &arguments) {
        (Keyword::Run | Keyword::Copy | Keyword::Add, Arguments::Text(_) | Arguments::Words(_)) => {
            heredoc_delimiter(args)
        }
        _ => None,
    };
    Ok(Instruction {
        line,
        end_line: logical.end,
        keyword,
        text: logical.text.clone(),
        flags,
        arguments,
        heredoc,
    })
}

/// Docker's `reWhitespace`: `[\t\v\f\r ]`.
fn is_ascii_separator(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

/// Go's `unicode.IsSpace` applied to a single byte taken as a character.
fn is_space_byte(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0x85 | 0xa0)
}

/// The command word and the rest: `reWhitespace.Split(TrimSpace(line), 2)`.
fn split_command(line: &str) -> (&str, Option<&str>) {
    let line = line.trim();
    match line.find(is_ascii_separator) {
        Some(i) => (
            &line[..i],
            Some(line[i..].trim_start_matches(is_ascii_separator)),
        ),
        None => (line, None),
    }
}

/// `rest[pos..]`, where `pos` may fall inside a character (see the module
/// comment): the broken character's bytes become U+FFFD as Go would read them.
fn tail(rest: &str, pos: usize) -> String {
    match rest.get(pos..) {
        Some(tail) => tail.to_string(),
        None => String::from_utf8_lossy(&rest.as_bytes()[pos..]).into_owned(),
    }
}

/// Docker's `extractBuilderFlags`: leading words that start with `--`, with
/// quotes and `\` escapes removed, until a word that does not or a lone `--`.
fn extract_flags(rest: &str) -> (String, Vec<String>) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote(u8),
    }
    let bytes = rest.as_bytes();
    let (mut words, mut word, mut phase, mut blank_ok) =
        (Vec::new(), String::new(), Phase::Spaces, false);
    let mut pos = 0;
    while pos <= bytes.len() {
        let at_end = pos == bytes.len();
        let mut ch = bytes.get(pos).copied().unwrap_or(0);
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if is_space_byte(ch) {
                pos += 1;
                continue;
            }
            if ch != b'-' || bytes.get(pos + 1) != Some(&b'-') {
                return (tail(rest, pos), words);
            }
            phase = Phase::Word;
        }
        if at_end {
            if word != "--" && (blank_ok || !word.is_empty()) {
                words.push(word);
            }
            break;
        }
        match phase {
            Phase::Word if is_space_byte(ch) => {
                phase = Phase::Spaces;
                if word == "--" {
                    return (tail(rest, pos), words);
                }
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                blank_ok = false;
            }
            Phase::Word if ch == b'\'' || ch == b'"' => {
                phase = Phase::Quote(ch);
                blank_ok = true;
            }
            Phase::Quote(quote) if ch == quote => phase = Phase::Word,
            _ => {
                if ch == b'\\' {
                    if pos + 1 == bytes.len() {
                        if phase != Phase::Word {
                            phase = Phase::Word;
                        }
                        pos += 1;
                        continue;
                    }
                    pos += 1;
                    ch = bytes[pos];
                }
                word.push(char::from(ch));
            }
        }
        pos += 1;
    }
    (String::new(), words)
}

/// `--name=value` → name and value; `--name` → no value.
fn flag(word: String) -> Flag {
    let word = word.strip_prefix("--").unwrap_or(&word);
    match word.split_once('=') {
        Some((name, value)) => Flag {
            name: name.to_string(),
            value: Some(value.to_string()),
        },
        None => Flag {
            name: word.to_string(),
            value: None,
        },
    }
}

/// `parseMaybeJSONToList`: JSON, else whitespace-separated words.
fn json_or_words(args: &str, line: usize) -> Result<Arguments, ParseError> {
    match parse_json_array(args) {
        JsonArray::Strings(words) => Ok(Arguments::Json(words)),
        JsonArray::NotStrings => Err(not_strings(line)),
        JsonArray::NotJson => Ok(whitespace_words(args)),
    }
}

/// `parseMaybeJSON`: JSON, else the text as it is.
fn json_or_text(args: &str, line: usize) -> Result<Arguments, ParseError> {
    if args.is_empty() {
        return Ok(Arguments::None);
    }
    match parse_json_array(args) {
        JsonArray::Strings(words) => Ok(Arguments::Json(words)),
        JsonArray::NotStrings => Err(not_strings(line)),
        JsonArray::NotJson => Ok(Arguments::Text(args.to_string())),
    }
}

fn not_strings(line: usize) -> ParseError {
    ParseError {
        line,
        kind: ParseErrorKind::NotStringArray,
    }
}

fn text(args: &str) -> Arguments {
    if args.is_empty() {
        Arguments::None
    } else {
        Arguments::Text(args.to_string())
    }
}

/// `parseStringsWhitespaceDelimited`.
fn whitespace_words(args: &str) -> Arguments {
    if args.is_empty() {
        return Arguments::None;
    }
    Arguments::Words(
        args.split(is_ascii_separator)
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

/// Docker's `parseWords`: words split on whitespace outside quotes, quotes
/// and escapes kept in the words (they go when the words are expanded).
pub(super) fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let chars: Vec<char> = rest.chars().collect();
    let (mut words, mut word) = (Vec::new(), String::new());
    let (mut quote, mut in_word, mut blank_ok) = (None::<char>, false, false);
    let mut pos = 0;
    while pos < chars.len() {
        let mut ch = chars[pos];
        if !in_word && quote.is_none() {
            if ch.is_whitespace() {
                pos += 1;
                continue;
            }
            in_word = true;
        }
        match quote {
            None if ch.is_whitespace() => {
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                (in_word, blank_ok) = (false, false);
                pos += 1;
                continue;
            }
            None => {
                if ch == '\'' || ch == '"' {
                    (quote, blank_ok) = (Some(ch), true);
                }
                if ch == escape {
                    if pos + 1 == chars.len() {
                        break;
                    }
                    word.push(ch);
                    pos += 1;
                    ch = chars[pos];
                }
            }
            Some(q) => {
                if ch == q {
                    quote = None;
                }
                if ch == escape && q != '\'' {
                    if pos + 1 == chars.len() {
                        break;
                    }
                    word.push(ch);
                    pos += 1;
                    ch = chars[pos];
                }
            }
        }
        word.push(ch);
        pos += 1;
    }
    if (in_word || quote.is_some()) && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// `parseNameVal` for ENV and LABEL: `name=value ...`, or the old
/// `name value` form when the first word has no `=`.
fn name_values(
    args: &str,
    escape: char,
    keyword: &Keyword,
    line: usize,
) -> Result<Arguments, ParseError> {
    let words = parse_words(args, escape);
    let Some(first) = words.first() else {
        return Ok(Arguments::None);
    };
    let keyword_name = if *keyword == Keyword::Env {
        "ENV"
    } else {
        "LABEL"
    };
    let error = |detail: String| ParseError {
        line,
        kind: ParseErrorKind::NameValue {
            keyword: keyword_name,
            detail,
        },
    };
    if !first.contains('=') {
        let Some((name, value)) = args.split_once(is_ascii_separator) else {
            return Err(error("must have two arguments".into()));
        };
        let value = value.trim_start_matches(is_ascii_separator);
        return Ok(Arguments::Pairs(vec![(
            name.to_string(),
            value.to_string(),
        )]));
    }
    let mut pairs = Vec::with_capacity(words.len());
    for word in &words {
        let Some((name, value)) = word.split_once('=') else {
            return Err(error(format!(
                "can't find = in {:?}; must be of the form name=value",
                super::excerpt(word)
            )));
        };
        pairs.push((name.to_string(), value.to_string()));
    }
    Ok(Arguments::Pairs(pairs))
}

/// `parseHealthConfig`: the type up to the first space byte, then the
/// command in JSON or shell form.
fn healthcheck(args: &str, line: usize) -> Result<Arguments, ParseError> {
    let bytes = args.as_bytes();
    let sep = bytes
        .iter()
        .position(|&b| is_space_byte(b))
        .unwrap_or(bytes.len());
    if sep == 0 {
        return Ok(Arguments::None);
    }
    let next = bytes[sep..]
        .iter()
        .position(|&b| !is_space_byte(b))
        .map_or(bytes.len(), |i| sep + i);
    let kind = String::from_utf8_lossy(&bytes[..sep]).into_owned();
    let command = json_or_text(&tail(args, next), line)?;
    Ok(Arguments::Healthcheck {
        kind,
        command: Box::new(command),
    })
}

/// `parseSubCommand`: ONBUILD's instruction, read from the same line.
fn trigger(
    args: &str,
    logical: &Logical,
    escape: char,
    allow_trigger: bool,
) -> Result<Arguments, ParseError> {
    if args.is_empty() {
        return Ok(Arguments::None);
    }
    if !allow_trigger {
        return Ok(Arguments::Text(args.to_string()));
    }
    let inner = Logical {
        start: logical.start,
        end: logical.end,
        text: args.to_string(),
    };
    Ok(Arguments::Trigger(Box::new(instruction(
        &inner, escape, false,
    )?)))
}

/// A BuildKit heredoc word (`<<EOF`, `<<-"EOF"`, `2<<EOF`) among the
/// arguments: its delimiter, unquoted.
fn heredoc_delimiter(args: &str) -> Option<String> {
    args.split(char::is_whitespace).find_map(|word| {
        let word = word.trim_start_matches(|c: char| c.is_ascii_digit());
        let rest = word.strip_prefix("<<")?;
        let rest = rest.strip_prefix('-').unwrap_or(rest);
        if rest.is_empty() || rest.contains('<') {
            return None;
        }
        let unquoted = rest.trim_matches(|c| c == '"' || c == '\'');
        (!unquoted.is_empty()).then(|| unquoted.to_string())
    })
}
