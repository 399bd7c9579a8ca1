//! What a long batch tells the instructor while it runs: on a terminal an
//! overall bar (count, ETA, pass rate) and a line per running submission
//! with its current step; off a terminal (CI) a line per finished
//! submission; with `--quiet`, nothing. Student ids are shown with their
//! control characters made visible.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::store::{Row, RowStatus};
use crate::event::Event;
use crate::report::visible;

#[derive(Debug)]
enum Mode {
    Quiet,
    /// A line per finished submission on standard error.
    Lines,
    Bars {
        multi: MultiProgress,
        main: ProgressBar,
        running: Mutex<HashMap<String, ProgressBar>>,
    },
}

#[derive(Debug)]
pub(crate) struct Progress {
    mode: Mode,
    total: u64,
    finished: AtomicU64,
    /// Finished submissions that earned every point.
    full_marks: AtomicU64,
}

impl Progress {
    pub fn new(total: u64, quiet: bool) -> Progress {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let main = multi.add(ProgressBar::new(total));
            main.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} graded, {msg} · {elapsed} (ETA {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            main.enable_steady_tick(Duration::from_millis(200));
            Mode::Bars {
                multi,
                main,
                running: Mutex::new(HashMap::new()),
            }
        } else {
            Mode::Lines
        };
        Progress {
            mode,
            total,
            finished: AtomicU64::new(0),
            full_marks: AtomicU64::new(0),
        }
    }

    /// A submission started.
    pub fn started(&self, student: &str) {
        if let Mode::Bars { multi, running, .. } = &self.mode {
            let line = multi.add(ProgressBar::new_spinner());
            line.set_style(
                ProgressStyle::with_template("  {spinner} {prefix}: {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            line.set_prefix(visible(student));
            line.set_message("starting");
            line.enable_steady_tick(Duration::from_millis(150));
            if let Ok(mut r) = running.lock() {
                r.insert(student.to_string(), line);
            }
        }
    }

    /// Something happened in a running submission.
    pub fn event(&self, student: &str, event: &Event) {
        let Mode::Bars { running, .. } = &self.mode else {
            return;
        };
        let Event::StepStarted {
            exercise,
            step,
            kind,
        } = event
        else {
            return;
        };
        if let Ok(r) = running.lock()
            && let Some(line) = r.get(student)
        {
            line.set_message(format!("{exercise}: {kind} {step}"));
        }
    }

    /// A submission's row is written (graded now, or kept from before).
    pub fn finished(&self, row: &Row, kept: bool) {
        let n = self.finished.fetch_add(1, Ordering::Relaxed) + 1;
        if row.status == RowStatus::Graded && row.total == row.max {
            self.full_marks.fetch_add(1, Ordering::Relaxed);
        }
        let full = self.full_marks.load(Ordering::Relaxed);
        match &self.mode {
            Mode::Quiet => {}
            Mode::Lines => {
                let how = if kept { "kept" } else { row.status.as_str() };
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "[{n}/{}] {} {how}: {}/{} points",
                    self.total,
                    visible(&row.student.id),
                    row.total,
                    row.max
                );
            }
            Mode::Bars { main, running, .. } => {
                if let Ok(mut r) = running.lock()
                    && let Some(line) = r.remove(&row.student.id)
                {
                    line.finish_and_clear();
                }
                main.set_position(n);
                main.set_message(format!("{full} with full marks"));
            }
        }
    }

    /// The batch is over: the bars go.
    pub fn done(&self) {
        if let Mode::Bars { main, running, .. } = &self.mode {
            if let Ok(mut r) = running.lock() {
                for (_, line) in r.drain() {
                    line.finish_and_clear();
                }
            }
            main.finish_and_clear();
        }
    }
}
