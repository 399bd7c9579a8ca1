//! The terminal report: what a student reads.
//!
//! One line per check (✓ passed, ✗ failed, - skipped, ! error) with points;
//! under a failure, expected vs actual and the hint; under a failed build, the
//! end of its log. Colour as [`Style`] says. While steps run, a spinner on
//! stderr says what is happening; off a terminal, a [`Heartbeat`] line does,
//! now and then.

use std::io::{self, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::heartbeat::Heartbeat;
use super::{Reporter, Style, Totals, tail, visible};
use crate::check::{Outcome, Status};
use crate::event::{Event, ExerciseResult, StepSummary};
use crate::observation::StepState;
use crate::signal::Signal;
use crate::spec::StepType;
use crate::units::{format_duration, format_size};

#[derive(Debug)]
pub(crate) struct HumanReporter<W: Write + Send> {
    out: W,
    style: Style,
    spinner: Option<ProgressBar>,
    heartbeat: Option<Heartbeat>,
    results: Vec<ExerciseResult>,
    /// Hidden checks seen in the exercise being reported, to number them.
    hidden: usize,
}

impl<W: Write + Send> HumanReporter<W> {
    /// `style` decides ANSI colour; `progress` whether to show a spinner.
    pub fn new(out: W, style: Style, progress: bool) -> Self {
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
            style,
            spinner,
            heartbeat: None,
            results: Vec::new(),
            hidden: 0,
        }
    }

    /// Says every `every`, on standard error, what has been running that
    /// long (for logs, where there is no spinner).
    pub fn with_heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = Some(Heartbeat::start(every, io::stderr()));
        self
    }

    fn paint(&self, code: &str, text: &str) -> String {
        self.style.paint(code, text)
    }

    /// What the report was written to.
    pub fn into_output(self) -> W {
        self.out
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
        // Expected, actual and messages can quote the submission: shown
        // with their control characters visible.
        match o.status {
            Status::Passed => {}
            Status::Failed => {
                if let (Some(e), Some(a)) = (&o.expected, &o.actual) {
                    let (e, a) = (visible(e), visible(a));
                    line.push_str(&format!("\n      expected: {e}\n      actual:   {a}"));
                } else {
                    line.push_str(&format!("\n      {}", visible(&o.message)));
                }
            }
            Status::Skipped => line.push_str(&format!("\n      {}", visible(&o.message))),
            Status::Error => line.push_str(&format!("\n      error: {}", visible(&o.message))),
        }
        // A hint says what to change; it only helps when the submission failed.
        if o.status == Status::Failed
            && let Some(h) = &o.hint
        {
            line.push_str(&format!("\n      {} {h}", self.paint("36", "hint:")));
        }
        line
    }
}

impl<W: Write + Send> HumanReporter<W> {
    /// A finished step: kind, name, time, facts; why it failed, and the end
    /// of a failed build's log.
    fn step_line(&self, step: &StepSummary) -> String {
        let facts = [
            step.size.map(format_size),
            step.exit_code.map(|c| format!("exit {c}")),
            step.context_bytes
                .map(|b| format!("context {}", format_size(b))),
        ];
        let facts: Vec<String> = facts.into_iter().flatten().collect();
        let when = if step.status == StepState::Skipped {
            // Why is said by the step it waited for, and by the checks.
            "not run".to_string()
        } else {
            format_duration(step.duration)
        };
        let mut line = format!("  · {} {}  {when}", step.kind, step.name);
        if !facts.is_empty() {
            line.push_str(&format!("  ({})", facts.join(", ")));
        }
        let mut text = self.paint("2", &line);
        // A skipped step's reason is said by the step it waited for, and by
        // the checks.
        let (Some(m), false) = (&step.message, step.status == StepState::Skipped) else {
            return text;
        };
        if step.status == StepState::Done {
            // A step that finished and still has something to say (a
            // command that could not start): said as a note, not a failure.
            text.push_str(&format!("\n    {}", visible(m)));
            return text;
        }
        text.push_str(&format!(
            "\n    {} {}",
            self.paint("31", &format!("{}:", step.status.as_str())),
            visible(m)
        ));
        if step.kind == StepType::Build && !step.log.trim().is_empty() {
            let log = tail(step.log.trim_end(), 2000);
            let lines: Vec<&str> = log.lines().collect();
            let shown = &lines[lines.len().saturating_sub(12)..];
            text.push_str(&format!(
                "\n    {}",
                self.paint("2", "end of the build log:")
            ));
            for l in shown {
                text.push_str(&format!("\n      │ {}", visible(l)));
            }
        }
        text
    }

    /// The last line: totals over every exercise.
    fn run_line(&self, duration: Duration, interrupted: Option<Signal>) -> String {
        let t = Totals::of(&self.results);
        // A check not run is not passed: say so, so that "4 passed" and a
        // failing exit code never stand side by side unexplained.
        let mut why = Vec::new();
        if t.failed > 0 {
            why.push(format!("{} failed", t.failed));
        }
        if t.skipped > 0 {
            why.push(format!("{} not run", t.skipped));
        }
        if t.error > 0 {
            why.push(format!("{} could not be decided", t.error));
        }
        let mut parts = vec![format!("{} passed", t.passed)];
        let not_passed = t.failed + t.skipped + t.error;
        if not_passed > 0 {
            parts.push(format!("{not_passed} not passed ({})", why.join(", ")));
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
            format_duration(duration)
        );
        if let Some(signal) = interrupted {
            line.push_str(&format!(" (interrupted by {signal})"));
        }
        let code = if t.failed + t.error + t.skipped == 0 && interrupted.is_none() {
            "32"
        } else {
            "31"
        };
        self.paint(code, &line)
    }

    fn clear_spinner(&self) {
        if let Some(s) = &self.spinner {
            s.finish_and_clear();
        }
    }
}

impl<W: Write + Send> Reporter for HumanReporter<W> {
    fn report(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::RunStarted { .. } => {}
            Event::ExerciseStarted { id, title } => {
                self.hidden = 0;
                let head = self.paint("1", &format!("{id}  {title}"));
                self.say(&head)?;
            }
            Event::StepStarted {
                exercise,
                step,
                kind,
            } => {
                let verb = match kind {
                    StepType::Build => "building",
                    StepType::Run => "running",
                    StepType::Image | StepType::Container => "preparing",
                    StepType::Service => "starting",
                    StepType::Push => "pushing",
                    StepType::Exec => "running in service",
                };
                if let Some(h) = &self.heartbeat {
                    h.started(exercise, step, verb);
                }
                self.spin(format!("{exercise}: {verb} {step}…"));
            }
            Event::StepProgress {
                exercise,
                step,
                line,
            } => {
                if let Some(h) = &self.heartbeat {
                    h.progress(exercise, step, line);
                }
                self.spin(format!("{exercise}: building {step}: {}", visible(line)))
            }
            Event::StepFinished { step, .. } => {
                if let Some(h) = &self.heartbeat {
                    h.finished(&step.name);
                }
                let text = self.step_line(step);
                self.say(&text)?;
            }
            Event::CheckFinished { outcome, .. } => {
                // Students see a hidden check's result, not what it checks.
                if !outcome.visibility.shown_to_students() {
                    self.hidden += 1;
                }
                let line = self.check_line(&super::for_students(outcome, self.hidden));
                self.say(&line)?;
            }
            Event::ExerciseFinished { result } => {
                self.clear_spinner();
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
                self.clear_spinner();
                let line = self.run_line(*duration, *interrupted);
                self.say(&line)?;
                self.out.flush()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(name: &str, status: Status, points: u32) -> Outcome {
        let failed = status == Status::Failed;
        Outcome {
            name: name.into(),
            step: "image".into(),
            status,
            points: if status == Status::Passed { points } else { 0 },
            max_points: points,
            message: match status {
                Status::Skipped => "not run: step `image` did not complete".into(),
                Status::Error => "inspecting the image: connection refused".into(),
                _ => String::new(),
            },
            expected: failed.then(|| "WORKDIR \"/software\"".into()),
            actual: failed.then(|| "WORKDIR \"/app\"".into()),
            hint: Some("Add `WORKDIR /software`.".into()),
            visibility: crate::spec::Visibility::Visible,
        }
    }

    fn render(events: &[Event], color: bool) -> String {
        let mut buf = Vec::new();
        {
            let mut r = HumanReporter::new(&mut buf, Style::new(color), false);
            for e in events {
                r.report(e).expect("writes");
            }
        }
        String::from_utf8(buf).expect("utf-8")
    }

    fn events() -> Vec<Event> {
        let outcomes = vec![
            outcome("Dockerfile.02 builds", Status::Passed, 2),
            outcome("the working directory is /software", Status::Failed, 2),
            outcome("the container greets you", Status::Skipped, 3),
            outcome("the image is small", Status::Error, 1),
        ];
        let step = StepSummary {
            name: "image".into(),
            kind: StepType::Build,
            duration: Duration::from_millis(1500),
            status: StepState::Failed,
            message: Some(
                "build failed: The command '/bin/sh -c exit 7' returned a non-zero code: 7".into(),
            ),
            image_id: None,
            size: None,
            layers: None,
            exit_code: None,
            context_bytes: Some(4608),
            stdout_dropped: None,
            stderr_dropped: None,
            sandbox: None,
            log: "Step 1/2 : FROM busybox:1.35\n ---> abcdef123456\nStep 2/2 : RUN exit 7".into(),
        };
        let result = ExerciseResult {
            id: "02-first-image".into(),
            title: "Build your first image".into(),
            section: Some("2.2".into()),
            points: 2,
            max_points: 8,
            duration: Duration::from_secs(2),
            steps: vec![step.clone()],
            outcomes: outcomes.clone(),
        };
        let mut events = vec![
            Event::ExerciseStarted {
                id: result.id.clone(),
                title: result.title.clone(),
            },
            Event::StepStarted {
                exercise: result.id.clone(),
                step: "image".into(),
                kind: StepType::Build,
            },
            Event::StepFinished { step },
        ];
        events.extend(
            outcomes
                .into_iter()
                .map(|o| Event::CheckFinished { outcome: o }),
        );
        events.push(Event::ExerciseFinished { result });
        events.push(Event::RunFinished {
            duration: Duration::from_secs(2),
            interrupted: None,
        });
        events
    }

    #[test]
    fn the_terminal_report_reads_well() {
        insta::assert_snapshot!(render(&events(), false));
    }

    #[test]
    fn colour_only_when_asked() {
        assert!(!render(&events(), false).contains('\u{1b}'));
        let coloured = render(&events(), true);
        assert!(
            coloured.contains("\u{1b}[31m✗\u{1b}[0m the working directory is /software"),
            "{coloured}"
        );
    }

    /// What a hostile submission controls: a file name in a refused
    /// context, its build log, its program's output quoted in a check.
    fn hostile_events() -> Vec<Event> {
        let fake = "\u{1b}[2J\u{1b}[H\u{1b}[32m✓ all checks passed\u{1b}[0m";
        let step = StepSummary {
            name: "image".into(),
            kind: StepType::Build,
            duration: Duration::from_millis(40),
            status: StepState::Failed,
            message: Some(format!(
                "build not attempted: the build context is at least 1.07 GB, over the 50.0 MB limit; the biggest files are {fake} (1.07 GB)"
            )),
            image_id: None,
            size: None,
            layers: None,
            exit_code: None,
            context_bytes: None,
            stdout_dropped: None,
            stderr_dropped: None,
            sandbox: None,
            log: format!("Step 2/2 : RUN echo '{fake}'\n{fake}\r\u{1b}[1A\u{202e}gnissap"),
        };
        let mut failed = outcome("says hello", Status::Failed, 2);
        failed.actual = Some(format!("exit code 0; stdout {fake}"));
        let mut errored = outcome("the image is small", Status::Error, 1);
        errored.message = format!("inspecting the image: {fake}");
        let result = ExerciseResult {
            id: "hello".into(),
            title: "Print hello".into(),
            section: None,
            points: 0,
            max_points: 3,
            duration: Duration::from_secs(1),
            steps: vec![step.clone()],
            outcomes: vec![failed.clone(), errored.clone()],
        };
        vec![
            Event::StepFinished { step },
            Event::CheckFinished { outcome: failed },
            Event::CheckFinished { outcome: errored },
            Event::ExerciseFinished { result },
            Event::RunFinished {
                duration: Duration::from_secs(1),
                interrupted: None,
            },
        ]
    }

    #[test]
    fn a_submission_cannot_write_to_the_terminal_through_the_report() {
        let text = render(&hostile_events(), false);
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(!text.contains('\r'), "{text}");
        assert!(!text.contains('\u{202e}'), "{text}");
        insta::assert_snapshot!(text);
    }
}
