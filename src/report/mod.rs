//! Reporters: turn the runner's events into output, one file per format.
//!
//! Every reporter implements [`Reporter`] and sees only [`Event`]s. The
//! terminal reporter ([`human`]) prints as events arrive. The file formats
//! ([`json`], [`junit`], and the platforms' [`markdown`], [`classroom`],
//! [`gradescope`], [`prairielearn`]) are [`Export`]s, as in hyperfine's
//! `export/`: each
//! renders a finished run to bytes, and one [`FileReporter`] collects the
//! events and writes those bytes once, when the run finishes (a run cut short
//! by a signal included: the checks never reached are listed as not run).
//! [`validate`] renders the course validation the same way. Every report
//! file is written whole or not at all ([`ReportFile`]); colour follows one
//! rule ([`Style`]). What a student may see of a hidden check is decided in
//! one place ([`for_students`]).

pub(crate) mod classroom;
pub(crate) mod gradescope;
pub(crate) mod heartbeat;
pub(crate) mod human;
pub(crate) mod json;
pub(crate) mod junit;
pub(crate) mod markdown;
pub(crate) mod prairielearn;
pub(crate) mod validate;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::check::{Outcome, Status};
use crate::error::Error;
use crate::event::{Event, ExercisePreview, ExerciseResult};
use crate::signal::Signal;

pub(crate) trait Reporter: Send {
    fn report(&mut self, event: &Event) -> io::Result<()>;
}

/// A format rendered in one piece from a finished report of type `R`.
pub(crate) trait Export<R: ?Sized>: Send {
    fn render(&self, report: &R) -> io::Result<Vec<u8>>;
}

/// Where a report's bytes go.
#[derive(Debug)]
pub(crate) enum Destination {
    Stdout,
    File(ReportFile),
    /// Appended to, never replaced: a file other steps write too
    /// (`$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY`).
    Append(PathBuf),
}

impl Destination {
    pub fn write(self, bytes: &[u8]) -> Result<(), Error> {
        match self {
            Destination::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(bytes)
                    .and_then(|_| out.flush())
                    .map_err(|source| Error::Write {
                        path: PathBuf::from("standard output"),
                        source,
                    })
            }
            Destination::File(file) => file.write(bytes),
            Destination::Append(path) => {
                // What we append starts on a line of its own, whatever
                // the file's last writer left.
                let ends_open = last_byte(&path).is_some_and(|b| b != b'\n');
                std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(&path)
                    .and_then(|mut f| {
                        if ends_open {
                            f.write_all(b"\n")?;
                        }
                        f.write_all(bytes)
                    })
                    .map_err(|source| Error::Write { path, source })
            }
        }
    }
}

/// The last byte of the file at `path`, if it has one.
fn last_byte(path: &Path) -> Option<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).ok()?;
    file.seek(SeekFrom::End(-1)).ok()?;
    let mut byte = [0u8; 1];
    file.read_exact(&mut byte).ok()?;
    Some(byte[0])
}

/// A report file, written whole or not at all: the bytes go to a temporary
/// file beside it, renamed over it when complete. It is created when the
/// command starts, so a path that cannot be written is a usage error before
/// anything is graded.
#[derive(Debug)]
pub(crate) struct ReportFile {
    path: PathBuf,
    temp: tempfile::NamedTempFile,
}

/// How a report file being written is named, beside where it goes.
pub(crate) const TEMP_PREFIX: &str = ".dockgrade-report-";

impl ReportFile {
    pub fn create(path: &Path) -> Result<ReportFile, Error> {
        let failed = |source| Error::Write {
            path: path.to_path_buf(),
            source,
        };
        if path.is_dir() {
            return Err(failed(io::Error::other("it is a folder")));
        }
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(dir)
            .map_err(failed)?;
        Ok(ReportFile {
            path: path.to_path_buf(),
            temp,
        })
    }

    pub fn write(mut self, bytes: &[u8]) -> Result<(), Error> {
        let path = self.path;
        let failed = |source| Error::Write {
            path: path.clone(),
            source,
        };
        self.temp.write_all(bytes).map_err(failed)?;
        self.temp.as_file().sync_all().map_err(failed)?;
        self.temp
            .persist(&path)
            .map(|_| ())
            .map_err(|e| failed(e.error))
    }
}

/// Collects a run's events and writes one [`Export`] when the run is over.
pub(crate) struct FileReporter {
    collector: Collector,
    export: Box<dyn Export<Collector>>,
    destination: Option<Destination>,
}

impl FileReporter {
    pub fn new(export: Box<dyn Export<Collector>>, destination: Destination) -> Self {
        FileReporter {
            collector: Collector::default(),
            export,
            destination: Some(destination),
        }
    }
}

impl Reporter for FileReporter {
    fn report(&mut self, event: &Event) -> io::Result<()> {
        if self.collector.observe(event)
            && let Some(destination) = self.destination.take()
        {
            let bytes = self.export.render(&self.collector)?;
            destination.write(&bytes).map_err(io::Error::other)?;
        }
        Ok(())
    }
}

/// Whether and how to colour text for a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Style {
    color: bool,
}

impl Style {
    /// Colour only on a terminal, and never when `NO_COLOR` is set
    /// (<https://no-color.org>).
    pub fn for_terminal(is_terminal: bool) -> Style {
        Style {
            color: is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    pub fn new(color: bool) -> Style {
        Style { color }
    }

    pub fn is_colored(&self) -> bool {
        self.color
    }

    /// `text` in the SGR colour or weight `code` (`"31"` red, `"1"` bold…).
    pub fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\u{1b}[{code}m{text}\u{1b}[0m")
        } else {
            text.to_string()
        }
    }
}

/// Gathers results for reports written at the end of a run.
#[derive(Debug, Default)]
pub(crate) struct Collector {
    pub run_id: String,
    planned: Vec<ExercisePreview>,
    finished: Vec<ExerciseResult>,
    pub duration: Duration,
    pub interrupted: Option<Signal>,
}

impl Collector {
    /// Takes in an event; returns true when the run is over.
    pub fn observe(&mut self, event: &Event) -> bool {
        match event {
            Event::RunStarted { run_id, exercises } => {
                self.run_id = run_id.clone();
                self.planned = exercises.clone();
            }
            Event::ExerciseFinished { result } => self.finished.push(result.clone()),
            Event::RunFinished {
                duration,
                interrupted,
            } => {
                self.duration = *duration;
                self.interrupted = *interrupted;
                return true;
            }
            _ => {}
        }
        false
    }

    /// Every planned exercise: the graded ones, then the ones never reached.
    pub fn results(&self) -> Vec<ExerciseResult> {
        let mut out = self.finished.clone();
        for p in &self.planned {
            if out.iter().any(|r| r.id == p.id) {
                continue;
            }
            let why = match self.interrupted {
                Some(signal) => format!("not run: interrupted by {signal}"),
                None => "not run".to_string(),
            };
            out.push(ExerciseResult {
                id: p.id.clone(),
                title: p.title.clone(),
                section: p.section.clone(),
                points: 0,
                max_points: p.max_points,
                duration: Duration::ZERO,
                steps: Vec::new(),
                outcomes: p
                    .checks
                    .iter()
                    .map(|(name, visibility)| Outcome {
                        name: name.clone(),
                        step: String::new(),
                        status: Status::Skipped,
                        points: 0,
                        max_points: 0,
                        message: why.clone(),
                        expected: None,
                        actual: None,
                        hint: None,
                        visibility: *visibility,
                    })
                    .collect(),
            });
        }
        out
    }
}

/// `outcome` as a student may see it: a hidden check (or one hidden until
/// the due date) keeps its status and points, but its name, message,
/// expected, actual and hint are replaced. `number` tells hidden checks
/// apart (1-based, within the exercise).
pub(crate) fn for_students(outcome: &Outcome, number: usize) -> std::borrow::Cow<'_, Outcome> {
    if outcome.visibility.shown_to_students() {
        return std::borrow::Cow::Borrowed(outcome);
    }
    std::borrow::Cow::Owned(Outcome {
        name: format!("hidden check {number}"),
        step: String::new(),
        message: "hidden: its result counts in the score".to_string(),
        expected: None,
        actual: None,
        hint: None,
        ..outcome.clone()
    })
}

/// One outcome as lines of text: why, expected vs actual, the hint.
pub(crate) fn outcome_text(o: &Outcome) -> String {
    let mut lines = Vec::new();
    if !o.message.is_empty() && o.expected.is_none() {
        lines.push(o.message.clone());
    }
    if let Some(e) = &o.expected {
        lines.push(format!("expected: {e}"));
    }
    if let Some(a) = &o.actual {
        lines.push(format!("actual:   {a}"));
    }
    if o.status != Status::Passed
        && let Some(h) = &o.hint
    {
        lines.push(format!("hint:     {h}"));
    }
    printable(&lines.join("\n"))
}

/// Totals over a set of results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Totals {
    pub exercises: usize,
    pub checks: usize,
    pub passed: usize,
    pub failed: usize,
    pub error: usize,
    pub skipped: usize,
    pub points: u32,
    pub max_points: u32,
}

impl Totals {
    pub fn of(results: &[ExerciseResult]) -> Totals {
        let mut t = Totals {
            exercises: results.len(),
            ..Default::default()
        };
        for r in results {
            t.points += r.points;
            t.max_points += r.max_points;
            for o in &r.outcomes {
                t.checks += 1;
                match o.status {
                    Status::Passed => t.passed += 1,
                    Status::Failed => t.failed += 1,
                    Status::Error => t.error += 1,
                    Status::Skipped => t.skipped += 1,
                }
            }
        }
        t
    }
}

/// Removes what XML 1.0 cannot carry (ANSI escapes and other control
/// characters) so reports stay well-formed whatever a container printed.
pub(crate) fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Drop a CSI sequence whole: ESC [ params final-byte.
            if chars.peek() == Some(&'[') {
                chars.next();
                while let Some(&n) = chars.peek() {
                    chars.next();
                    if ('@'..='~').contains(&n) {
                        break;
                    }
                }
            }
            continue;
        }
        match c {
            '\t' | '\n' => out.push(c),
            '\r' => {}
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{fffe}' || c == '\u{ffff}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// `text` for a terminal, on one line: every control character (ANSI
/// escapes, carriage returns, newlines, C1 controls) and every character
/// that reorders text (bidirectional overrides) is shown as its escape
/// (`\u{1b}`), so text from a submission can neither move the cursor,
/// clear the screen, colour itself nor pose as the report's own lines.
pub(crate) fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\t' {
            out.push(c);
        } else if c.is_control() || is_reordering(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// Characters that change the order text is displayed in ("Trojan Source").
fn is_reordering(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The last `max` bytes of `text`, on a character boundary.
pub(crate) fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_strips_ansi_and_escapes_controls() {
        assert_eq!(
            printable("\u{1b}[31mred\u{1b}[0m ok\r\n\u{0}\u{7}"),
            "red ok\n\\x00\\x07"
        );
    }

    #[test]
    fn visible_shows_every_control_and_reordering_character() {
        assert_eq!(
            visible("\u{1b}[2J\u{1b}[H✓ all\r\npassed\t\u{202e}x\u{85}"),
            "\\u{1b}[2J\\u{1b}[H✓ all\\u{d}\\u{a}passed\t\\u{202e}x\\u{85}"
        );
        assert_eq!(visible("plain text, ünïcödé"), "plain text, ünïcödé");
    }

    #[test]
    fn tail_cuts_on_a_char_boundary() {
        assert_eq!(tail("héllo", 4), "llo");
        assert_eq!(tail("abc", 10), "abc");
    }
}

#[cfg(test)]
#[path = "platform_tests.rs"]
mod platform_tests;
