//! The terminal report: what a student reads.
//!
//! One line per check (✓ passed, ✗ failed, - skipped, ! error) with points;
//! under a failure, expected vs actual and the hint; under a failed build, the
//! end of its log. Colour only when writing to a terminal and `NO_COLOR` is
//! unset. While steps run, a spinner on stderr says what is happening.

use std::io::{self, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Reporter, Totals, tail};
use crate::check::{Outcome, Status};
use crate::event::{Event, ExerciseResult};
use crate::spec::units::{format_duration, format_size};

#[derive(Debug)]
pub struct HumanReporter<W: Write + Send> {
    out: W,
    color: bool,
    spinner: Option<ProgressBar>,
    results: Vec<ExerciseResult>,
}

impl<W: Write + Send> HumanReporter<W> {
    /// `color` decides ANSI colour; `progress` whether to show a spinner.
    pub fn new(out: W, color: bool, progress: bool) -> Self {
        let spinner = progress.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} {elapsed:.dim}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar
        });
        HumanReporter {
            out,
            color,
            spinner,
            results: Vec::new(),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\u{1b}[{code}m{text}\u{1b}[0m")
        } else {
            text.to_string()
        }
    }

    fn say(&mut self, text: &str) -> io::Result<()> {
        match &self.spinner {
            Some(s) => {
                // Printing through the bar keeps the spinner below the text.
                let out = &mut self.out;
                let mut r = Ok(());
                s.suspend(|| r = writeln!(out, "{text}"));
                r
            }
            None => writeln!(self.out, "{text}"),
        }
    }

    fn spin(&self, message: String) {
        if let Some(s) = &self.spinner {
            s.set_message(message);
            s.enable_steady_tick(Duration::from_millis(100));
        }
    }

    fn check_line(&self, o: &Outcome) -> String {
        let (mark, code) = match o.status {
            Status::Passed => ("✓", "32"),
            Status::Failed => ("✗", "31"),
            Status::Skipped => ("-", "33"),
            Status::Error => ("!", "35"),
        };
        let points = if o.max_points > 0 {
            format!("  {}/{}", o.points, o.max_points)
        } else {
            String::new()
        };
        let mut line = format!(
            "  {} {}{}",
            self.paint(code, mark),
            o.name,
            self.paint("2", &points)
        );
        match o.status {
            Status::Passed => {}
            Status::Failed => {
                if let (Some(e), Some(a)) = (&o.expected, &o.actual) {
                    line.push_str(&format!("\n      expected: {e}\n      actual:   {a}"));
                } else {
                    line.push_str(&format!("\n      {}", o.message));
                }
            }
            Status::Skipped => line.push_str(&format!("\n      {}", o.message)),
            Status::Error => line.push_str(&format!("\n      error: {}", o.message)),
        }
        if o.status != Status::Passed
            && let Some(h) = &o.hint
        {
            line.push_str(&format!("\n      {} {h}", self.paint("36", "hint:")));
        }
        line
    }
}

impl<W: Write + Send> Reporter for HumanReporter<W> {
    fn report(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::RunStarted { .. } => {}
            Event::ExerciseStarted { id, title } => {
                let head = self.paint("1", &format!("{id}  {title}"));
                self.say(&head)?;
            }
            Event::StepStarted { step, kind, .. } => {
                let verb = match *kind {
                    "build" => "building",
                    "run" => "running",
                    _ => "preparing",
                };
                self.spin(format!("{verb} {step}…"));
            }
            Event::StepProgress { step, line, .. } => self.spin(format!("building {step}: {line}")),
            Event::StepFinished { step, .. } => {
                let facts = [
                    step.size.map(format_size),
                    step.exit_code.map(|c| format!("exit {c}")),
                    step.context_bytes
                        .map(|b| format!("context {}", format_size(b))),
                ];
                let facts: Vec<String> = facts.into_iter().flatten().collect();
                let mut line = format!(
                    "  · {} {}  {}",
                    step.kind,
                    step.name,
                    format_duration(step.duration)
                );
                if !facts.is_empty() {
                    line.push_str(&format!("  ({})", facts.join(", ")));
                }
                let mut text = self.paint("2", &line);
                if let (Some(m), "failed" | "error") = (&step.message, step.status) {
                    text.push_str(&format!(
                        "\n    {} {m}",
                        self.paint("31", &format!("{}:", step.status))
                    ));
                    if step.kind == "build" && !step.log.trim().is_empty() {
                        let log = tail(step.log.trim_end(), 2000);
                        let lines: Vec<&str> = log.lines().collect();
                        let shown = &lines[lines.len().saturating_sub(12)..];
                        text.push_str(&format!(
                            "\n    {}",
                            self.paint("2", "end of the build log:")
                        ));
                        for l in shown {
                            text.push_str(&format!("\n      │ {l}"));
                        }
                    }
                }
                self.say(&text)?;
            }
            Event::CheckFinished { outcome, .. } => {
                let line = self.check_line(outcome);
                self.say(&line)?;
            }
            Event::ExerciseFinished { result } => {
                if let Some(s) = &self.spinner {
                    s.finish_and_clear();
                }
                let passed = result.count(Status::Passed);
                let line = format!(
                    "  score {}/{} points ({passed}/{} checks passed)\n",
                    result.points,
                    result.max_points,
                    result.outcomes.len()
                );
                let painted = self.paint("1", &line);
                self.say(&painted)?;
                self.results.push(result.clone());
            }
            Event::RunFinished {
                duration,
                interrupted,
            } => {
                if let Some(s) = &self.spinner {
                    s.finish_and_clear();
                }
                let t = Totals::of(&self.results);
                let mut parts = vec![format!("{} passed", t.passed)];
                if t.failed > 0 {
                    parts.push(format!("{} failed", t.failed));
                }
                if t.skipped > 0 {
                    parts.push(format!("{} skipped", t.skipped));
                }
                if t.error > 0 {
                    parts.push(format!("{} errors", t.error));
                }
                let noun = if t.exercises == 1 {
                    "exercise"
                } else {
                    "exercises"
                };
                let mut line = format!(
                    "{} {noun}, {} checks: {}; {}/{} points in {}",
                    t.exercises,
                    t.checks,
                    parts.join(", "),
                    t.points,
                    t.max_points,
                    format_duration(*duration)
                );
                if let Some(signal) = interrupted {
                    line.push_str(&format!(" (interrupted by {signal})"));
                }
                let code = if t.failed + t.error + t.skipped == 0 && interrupted.is_none() {
                    "32"
                } else {
                    "31"
                };
                let painted = self.paint(code, &line);
                self.say(&painted)?;
                self.out.flush()?;
            }
        }
        Ok(())
    }
}
