//! Variable substitution in one word, as `shell/lex.go`'s `ProcessWord`
//! (BuildKit vendored by moby 20.10) does it: quotes removed, `'...'`
//! literal, `"..."` with `$` expanded and `\"`, `\$`, `\\` escaped, the
//! escape character taking the next character literally, `$VAR`, `${VAR}`,
//! `${VAR:-word}`, `${VAR:+word}`, `${VAR?word}`, `${VAR:?word}` (any other
//! form is an error, `${VAR-word}` included), special parameters `$@` `$*`
//! `$#` `$?` `$-` `$$` `$!` and digits as names, unknown variables empty,
//! and a leading byte-order mark dropped as Go's `text/scanner` drops it.
//!
//! Nested `${...}` words and quotes are kept on an explicit stack, so depth
//! costs no recursion; every character read and written is charged to a
//! [`Budget`], so a value referenced many times cannot blow up.

use std::sync::LazyLock;

use regex::Regex;

/// The names a word can refer to.
pub(super) trait Vars {
    fn var(&self, name: &str) -> Option<&str>;
}

/// Work left for the whole evaluation of a Dockerfile, in characters read
/// and written.
#[derive(Debug)]
pub(super) struct Budget {
    left: usize,
}

/// The budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Exhausted;

impl Budget {
    pub(super) fn new(units: usize) -> Budget {
        Budget { left: units }
    }

    pub(super) fn spend(&mut self, units: usize) -> Result<(), Exhausted> {
        self.left = self.left.checked_sub(units).ok_or(Exhausted)?;
        Ok(())
    }
}

/// Why a word does not expand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LexError {
    /// Docker fails the instruction with this message.
    Syntax(&'static str),
    /// The budget ran out.
    Exhausted,
}

impl From<Exhausted> for LexError {
    fn from(_: Exhausted) -> LexError {
        LexError::Exhausted
    }
}

/// What a `${name<op>word}` does once its word is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `?`: the value, an error when unset.
    Required,
    /// `:+`: the word when the value is not empty.
    Alternative,
    /// `:-`: the word when the value is empty.
    Default,
    /// `:?`: the value, an error when unset or empty.
    RequiredNonEmpty,
    /// Anything else after `:`: an error once the word is read.
    Unsupported,
}

#[derive(Debug)]
enum Context {
    Top,
    Braced { name: String, op: Op },
    DoubleQuoted,
}

#[derive(Debug)]
struct Frame {
    context: Context,
    out: String,
}

/// Expands `word` with `vars`, `escape` being the Dockerfile's escape
/// character.
pub(super) fn expand(
    word: &str,
    escape: char,
    vars: &dyn Vars,
    budget: &mut Budget,
) -> Result<String, LexError> {
    budget.spend(word.len())?;
    let word = word.strip_prefix('\u{feff}').unwrap_or(word);
    let mut lexer = Lexer {
        chars: word.chars().peekable(),
        escape,
        vars,
        budget,
        stack: vec![Frame {
            context: Context::Top,
            out: String::new(),
        }],
    };
    lexer.run()
}

struct Lexer<'a, 'b> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    escape: char,
    vars: &'b dyn Vars,
    budget: &'b mut Budget,
    stack: Vec<Frame>,
}

impl Lexer<'_, '_> {
    fn run(&mut self) -> Result<String, LexError> {
        loop {
            let Some(frame) = self.stack.last() else {
                return Err(LexError::Syntax("internal: empty stack"));
            };
            let step = match frame.context {
                Context::DoubleQuoted => self.double_quoted_step()?,
                Context::Top | Context::Braced { .. } => self.plain_step()?,
            };
            if let Some(result) = step {
                return Ok(result);
            }
        }
    }

    fn push_str(&mut self, s: &str) -> Result<(), LexError> {
        self.budget.spend(s.len())?;
        if let Some(frame) = self.stack.last_mut() {
            frame.out.push_str(s);
        }
        Ok(())
    }

    fn push_char(&mut self, c: char) {
        if let Some(frame) = self.stack.last_mut() {
            frame.out.push(c);
        }
    }

    fn open(&mut self, context: Context) {
        self.stack.push(Frame {
            context,
            out: String::new(),
        });
    }

    /// One step outside double quotes (`processStopOn`); `Some` with the
    /// result once the whole word is read.
    fn plain_step(&mut self) -> Result<Option<String>, LexError> {
        let braced = matches!(
            self.stack.last(),
            Some(Frame {
                context: Context::Braced { .. },
                ..
            })
        );
        let Some(&ch) = self.chars.peek() else {
            return self.end_of_word(braced);
        };
        if braced && ch == '}' {
            self.chars.next();
            self.close_braced()?;
            return Ok(None);
        }
        match ch {
            '\'' => {
                self.chars.next();
                let mut literal = String::new();
                loop {
                    match self.chars.next() {
                        None => return Err(LexError::Syntax("missing closing single quote")),
                        Some('\'') => break,
                        Some(c) => literal.push(c),
                    }
                }
                self.push_literal(&literal);
            }
            '"' => {
                self.chars.next();
                self.open(Context::DoubleQuoted);
            }
            '$' => self.dollar()?,
            _ => {
                self.chars.next();
                if ch == self.escape {
                    match self.chars.next() {
                        // Go stops reading the word at an escape that ends it.
                        None => return self.end_of_word(braced),
                        Some(c) => self.push_char(c),
                    }
                } else {
                    self.push_char(ch);
                }
            }
        }
        Ok(None)
    }

    /// Pushes text read from the word itself (already charged).
    fn push_literal(&mut self, s: &str) {
        if let Some(frame) = self.stack.last_mut() {
            frame.out.push_str(s);
        }
    }

    fn end_of_word(&mut self, braced: bool) -> Result<Option<String>, LexError> {
        if braced {
            return Err(LexError::Syntax("missing '}'"));
        }
        Ok(self.stack.pop().map(|f| f.out))
    }

    /// One step inside double quotes (`processDoubleQuote`).
    fn double_quoted_step(&mut self) -> Result<Option<String>, LexError> {
        match self.chars.peek().copied() {
            None => Err(LexError::Syntax("missing closing double quote")),
            Some('"') => {
                self.chars.next();
                let Some(frame) = self.stack.pop() else {
                    return Err(LexError::Syntax("internal: empty stack"));
                };
                self.push_str(&frame.out)?;
                Ok(None)
            }
            Some('$') => {
                self.dollar()?;
                Ok(None)
            }
            Some(mut ch) => {
                self.chars.next();
                if ch == self.escape {
                    match self.chars.peek().copied() {
                        None => return Ok(None),
                        Some(next) if next == '"' || next == '$' || next == self.escape => {
                            ch = next;
                            self.chars.next();
                        }
                        Some(_) => {}
                    }
                }
                self.push_char(ch);
                Ok(None)
            }
        }
    }

    /// At `$` (`processDollar`): a name, `${name}`, or the start of a
    /// `${name<op>word}` whose word the next steps read.
    fn dollar(&mut self) -> Result<(), LexError> {
        self.chars.next();
        if self.chars.peek() != Some(&'{') {
            let name = self.name();
            if name.is_empty() {
                self.push_char('$');
                return Ok(());
            }
            let value = self.vars.var(&name).unwrap_or("");
            return self.push_str(value);
        }
        self.chars.next();
        match self.chars.peek() {
            None => return Err(LexError::Syntax("missing '}'")),
            Some('{' | '}' | ':') => return Err(LexError::Syntax("bad substitution")),
            Some(_) => {}
        }
        let name = self.name();
        match self.chars.next() {
            Some('}') => {
                let value = self.vars.var(&name).unwrap_or("");
                self.push_str(value)
            }
            Some('?') => {
                self.open(Context::Braced {
                    name,
                    op: Op::Required,
                });
                Ok(())
            }
            Some(':') => {
                let op = match self.chars.next() {
                    Some('+') => Op::Alternative,
                    Some('-') => Op::Default,
                    Some('?') => Op::RequiredNonEmpty,
                    _ => Op::Unsupported,
                };
                self.open(Context::Braced { name, op });
                Ok(())
            }
            _ => Err(LexError::Syntax("missing ':' in substitution")),
        }
    }

    /// The `}` of a `${name<op>word}`: applies the operator.
    fn close_braced(&mut self) -> Result<(), LexError> {
        let Some(Frame {
            context: Context::Braced { name, op },
            out: word,
        }) = self.stack.pop()
        else {
            return Err(LexError::Syntax("internal: not in ${...}"));
        };
        let value = self.vars.var(&name);
        let result = match op {
            Op::Required => value.ok_or(LexError::Syntax("variable is not allowed to be unset"))?,
            Op::Alternative => match value {
                Some(v) if !v.is_empty() => &word,
                _ => "",
            },
            Op::Default => match value {
                Some(v) if !v.is_empty() => v,
                _ => &word,
            },
            Op::RequiredNonEmpty => match value {
                Some(v) if !v.is_empty() => v,
                _ => return Err(LexError::Syntax("variable is not allowed to be empty")),
            },
            Op::Unsupported => {
                return Err(LexError::Syntax("unsupported modifier in substitution"));
            }
        };
        let result = result.to_string();
        self.push_str(&result)
    }

    /// `processName`: digits, or one special parameter, or letters, digits
    /// and `_` (Unicode letters and digits, as Go's `unicode` package).
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(&ch) = self.chars.peek() {
            if name.is_empty() && is_go_digit(ch) {
                while let Some(&d) = self.chars.peek().filter(|&&d| is_go_digit(d)) {
                    name.push(d);
                    self.chars.next();
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.chars.next();
                name.push(ch);
                return name;
            }
            if !(is_go_letter(ch) || is_go_digit(ch) || ch == '_') {
                break;
            }
            name.push(ch);
            self.chars.next();
        }
        name
    }
}

/// Go's `unicode.IsLetter`: general category L.
fn is_go_letter(c: char) -> bool {
    static LETTER: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\p{L}$").expect("a constant, valid pattern"));
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    LETTER.is_match(c.encode_utf8(&mut [0; 4]))
}

/// Go's `unicode.IsDigit`: general category Nd.
fn is_go_digit(c: char) -> bool {
    static DIGIT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\p{Nd}$").expect("a constant, valid pattern"));
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    DIGIT.is_match(c.encode_utf8(&mut [0; 4]))
}
