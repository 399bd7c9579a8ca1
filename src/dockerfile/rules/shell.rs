//! The commands a RUN runs, split the way a POSIX shell splits them, far
//! enough for the rules to see which programs run and with which words.
//!
//! Handled: `&&`, `||`, `;`, `|`, `&` and newlines between commands, `( )`
//! subshells, `{ }` groups and the reserved words that start a command
//! (`if`, `then`, `do`, …), single and double quotes, backslash escapes,
//! comments, redirections (their target is not an argument), variable
//! assignments before a command, and the wrappers `sudo`, `env`, `exec`,
//! `command`, `nohup` and `nice`, which run the command after their options.
//! Not handled, on purpose: what runs inside `$( )` or backticks (kept as a
//! word), aliases, functions and `eval`. Variables are not substituted: the
//! shell does that when the RUN runs, not Docker.
//!
//! The exec form `["sh", "-c", "script"]` (any shell, `-c` in any option
//! cluster such as `-ec`) is read as its script; any other exec form as one
//! command, since Docker runs it without a shell.
//!
//! Work is linear in the text and charged to the Dockerfile's budget.

use crate::dockerfile::lex::{Budget, Exhausted};
use crate::dockerfile::{Arguments, Instruction};

/// One simple command: the program as written and its arguments, quotes
/// removed, wrappers and assignments before it dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Command {
    pub(super) words: Vec<String>,
}

impl Command {
    /// The program's file name: `apt-get` for `/usr/bin/apt-get`.
    pub(super) fn program(&self) -> &str {
        self.words.first().map_or("", |w| file_name(w))
    }

    pub(super) fn args(&self) -> &[String] {
        self.words.get(1..).unwrap_or(&[])
    }
}

fn file_name(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// The commands of a RUN instruction (shell or exec form), in order.
pub(super) fn run_commands(
    instruction: &Instruction,
    budget: &mut Budget,
) -> Result<Vec<Command>, Exhausted> {
    match &instruction.arguments {
        Arguments::Text(text) => split(text, budget),
        Arguments::Json(argv) => {
            budget.spend(argv.iter().map(|a| a.len() + 1).sum())?;
            match shell_script(argv) {
                Some(script) => split(script, budget),
                None => Ok(command(argv.clone()).into_iter().collect()),
            }
        }
        _ => Ok(Vec::new()),
    }
}

const SHELLS: [&str; 6] = ["sh", "bash", "dash", "ash", "ksh", "zsh"];

/// The script of an exec form that runs a shell with `-c`.
fn shell_script(argv: &[String]) -> Option<&str> {
    let (program, options) = argv.split_first()?;
    if !SHELLS.contains(&file_name(program)) {
        return None;
    }
    let (mut has_c, mut skip) = (false, false);
    for arg in options {
        if skip {
            skip = false;
        } else if arg == "-o" || arg == "+o" {
            skip = true;
        } else if arg == "--" {
            continue;
        } else if let Some(letters) = arg.strip_prefix('-').or_else(|| arg.strip_prefix('+')) {
            has_c |= !letters.starts_with('-') && letters.contains('c');
        } else {
            return has_c.then_some(arg.as_str());
        }
    }
    None
}

/// The commands of a shell script.
pub(super) fn split(script: &str, budget: &mut Budget) -> Result<Vec<Command>, Exhausted> {
    budget.spend(script.len())?;
    let mut out = Vec::new();
    let mut words = Vec::new();
    let mut redirect_target = false;
    for token in tokens(script) {
        match token {
            Token::Word(_) if redirect_target => redirect_target = false,
            Token::Word(word) => words.push(word),
            Token::Redirect => redirect_target = true,
            Token::Separator => {
                redirect_target = false;
                out.extend(command(std::mem::take(&mut words)));
            }
        }
    }
    out.extend(command(words));
    Ok(out)
}

/// Words that start a compound command or negate one: not programs.
const RESERVED: [&str; 13] = [
    "{", "}", "!", "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "time",
];

/// The command that `words` run: reserved words, assignments and wrappers
/// before the program are dropped. `None` when nothing is left.
fn command(words: Vec<String>) -> Option<Command> {
    let mut start = 0;
    while let Some(word) = words.get(start) {
        if RESERVED.contains(&word.as_str()) || is_assignment(word) {
            start += 1;
        } else if let Some(after) = after_wrapper(&words[start..]) {
            start += after;
        } else {
            break;
        }
    }
    let words: Vec<String> = words.into_iter().skip(start).collect();
    (!words.is_empty()).then_some(Command { words })
}

/// `NAME=value`: a variable for the command that follows.
fn is_assignment(word: &str) -> bool {
    let Some((name, _)) = word.split_once('=') else {
        return false;
    };
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// When `words` starts with a wrapper that runs the command after its
/// options (`sudo -u x`, `env -i A=b`, `nice -n 5`), how many words to skip.
fn after_wrapper(words: &[String]) -> Option<usize> {
    let program = file_name(words.first()?);
    let with_value: &[&str] = match program {
        "sudo" => &["-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U"],
        "env" => &["-u", "-C", "-S"],
        "nice" => &["-n"],
        "exec" => &["-a"],
        "command" | "nohup" => &[],
        _ => return None,
    };
    let mut i = 1;
    while let Some(word) = words.get(i) {
        if word == "--" {
            return Some(i + 1);
        }
        if !(word.starts_with('-') || (program == "env" && is_assignment(word))) {
            break;
        }
        i += if with_value.contains(&word.as_str()) {
            2
        } else {
            1
        };
    }
    Some(i.min(words.len()))
}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    /// `<`, `>`, `>>`, `2>&1`, …: the next word is its target.
    Redirect,
    /// Between two commands.
    Separator,
}

/// The word being read: its text, and whether it has begun (an empty
/// quoted word `''` is a word) or holds quotes (`"2">x` is no file number).
#[derive(Debug, Default)]
struct Word {
    text: String,
    started: bool,
    quoted: bool,
}

impl Word {
    fn push(&mut self, c: char) {
        self.text.push(c);
        self.started = true;
    }

    fn finish(&mut self, out: &mut Vec<Token>) {
        if self.started {
            out.push(Token::Word(std::mem::take(&mut self.text)));
        }
        *self = Word::default();
    }
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

fn tokens(script: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut word = Word::default();
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\n') | None => {}
                Some(next) => word.push(next),
            },
            '\'' => {
                (word.started, word.quoted) = (true, true);
                word.text.extend(chars.by_ref().take_while(|&n| n != '\''));
            }
            '"' => {
                (word.started, word.quoted) = (true, true);
                double_quoted(&mut chars, &mut word.text);
            }
            '`' => {
                word.push('`');
                backticks(&mut chars, &mut word.text);
            }
            '$' if chars.peek() == Some(&'(') => {
                word.push('$');
                balanced(&mut chars, &mut word.text);
            }
            '#' if !word.started => while chars.next_if(|&n| n != '\n').is_some() {},
            ' ' | '\t' | '\r' => word.finish(&mut out),
            '&' if chars.peek() == Some(&'>') => {
                word.finish(&mut out);
                redirect(&mut chars, &mut out);
            }
            '\n' | ';' | '&' | '|' | '(' | ')' => {
                word.finish(&mut out);
                out.push(Token::Separator);
            }
            '<' | '>' => {
                let file_number = !word.quoted && word.text.chars().all(|d| d.is_ascii_digit());
                if file_number {
                    word = Word::default();
                } else {
                    word.finish(&mut out);
                }
                redirect(&mut chars, &mut out);
            }
            _ => word.push(c),
        }
    }
    word.finish(&mut out);
    out
}

/// The rest of a redirection operator (`>>`, `>&`, `<<-`, `<>`).
fn redirect(chars: &mut Chars<'_>, out: &mut Vec<Token>) {
    while chars
        .next_if(|&n| matches!(n, '<' | '>' | '&' | '-'))
        .is_some()
    {}
    out.push(Token::Redirect);
}

/// Inside `"…"`: `\` escapes `$`, `` ` ``, `"`, `\` and a newline only.
fn double_quoted(chars: &mut Chars<'_>, text: &mut String) {
    while let Some(c) = chars.next() {
        match c {
            '"' => return,
            '\\' => match chars.next() {
                Some('\n') | None => {}
                Some(n @ ('$' | '`' | '"' | '\\')) => text.push(n),
                Some(n) => {
                    text.push('\\');
                    text.push(n);
                }
            },
            '$' if chars.peek() == Some(&'(') => {
                text.push('$');
                balanced(chars, text);
            }
            '`' => {
                text.push('`');
                backticks(chars, text);
            }
            _ => text.push(c),
        }
    }
}

/// `` `…` ``, kept as written.
fn backticks(chars: &mut Chars<'_>, text: &mut String) {
    while let Some(c) = chars.next() {
        text.push(c);
        match c {
            '`' => return,
            '\\' => text.extend(chars.next()),
            _ => {}
        }
    }
}

/// `(…)` after a `$`, nested parentheses and quotes included, kept as
/// written. A double-quoted string inside is copied to its closing quote
/// (a `$(` in it is not followed), so nothing here recurses.
fn balanced(chars: &mut Chars<'_>, text: &mut String) {
    let mut depth = 0usize;
    while let Some(c) = chars.next() {
        text.push(c);
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return;
                }
            }
            '\\' => text.extend(chars.next()),
            '\'' | '"' => {
                while let Some(n) = chars.next() {
                    text.push(n);
                    if n == '\\' && c == '"' {
                        text.extend(chars.next());
                    } else if n == c {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
}
