//! Reporters: turn the runner's events into output, one file per format.
//!
//! Every reporter implements [`Reporter`] and sees only [`Event`]s. The
//! terminal reporter prints as events arrive; the file formats (JSON, JUnit)
//! use a [`Collector`] and write once, when the run finishes, including a
//! run cut short by a signal, where the checks never reached are listed as
//! not run.

pub mod human;
pub mod json;
pub mod junit;

use std::io;
use std::time::Duration;

use crate::check::{Outcome, Status};
use crate::event::{Event, ExercisePreview, ExerciseResult};

pub trait Reporter: Send {
    fn report(&mut self, event: &Event) -> io::Result<()>;
}

/// Gathers results for reports written at the end of a run.
#[derive(Debug, Default)]
pub struct Collector {
    pub run_id: String,
    planned: Vec<ExercisePreview>,
    finished: Vec<ExerciseResult>,
    pub duration: Duration,
    pub interrupted: Option<&'static str>,
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
                    .map(|name| Outcome {
                        name: name.clone(),
                        step: String::new(),
                        status: Status::Skipped,
                        points: 0,
                        max_points: 0,
                        message: why.clone(),
                        expected: None,
                        actual: None,
                        hint: None,
                    })
                    .collect(),
            });
        }
        out
    }
}

/// Totals over a set of results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
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
pub fn printable(text: &str) -> String {
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

/// The last `max` bytes of `text`, on a character boundary.
pub fn tail(text: &str, max: usize) -> &str {
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
    fn tail_cuts_on_a_char_boundary() {
        assert_eq!(tail("héllo", 4), "llo");
        assert_eq!(tail("abc", 10), "abc");
    }
}
