//! Off a terminal (a CI log), no spinner shows that a long build is still
//! alive: a line every so often does. [`Heartbeat`] keeps the step under
//! way and its latest `Step n/m` line; a thread of its own writes, every
//! interval, what has been running for at least that long.

use std::io::Write;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::visible;
use crate::units::format_duration;

/// The interval off a terminal.
pub(crate) const EVERY: Duration = Duration::from_secs(10);

/// A step under way.
#[derive(Debug, Clone)]
struct Running {
    exercise: String,
    step: String,
    verb: &'static str,
    since: Instant,
    /// The builder's latest `Step n/m : …` line.
    line: Option<String>,
}

/// Writes a line every interval while a step runs; stops when dropped.
#[derive(Debug)]
pub(crate) struct Heartbeat {
    running: Arc<Mutex<Vec<Running>>>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Heartbeat {
    /// Beats every `every` into `out` (standard error, in use).
    pub fn start(every: Duration, mut out: impl Write + Send + 'static) -> Heartbeat {
        let running: Arc<Mutex<Vec<Running>>> = Arc::default();
        let (stop, stopped) = mpsc::channel::<()>();
        let shared = running.clone();
        let thread = std::thread::spawn(move || {
            loop {
                match stopped.recv_timeout(every) {
                    Err(RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                let now = Instant::now();
                let lines: Vec<String> = shared
                    .lock()
                    .map(|r| {
                        r.iter()
                            .filter(|s| now.duration_since(s.since) >= every)
                            .map(|s| beat(s, now))
                            .collect()
                    })
                    .unwrap_or_default();
                for line in lines {
                    if writeln!(out, "{line}").is_err() {
                        return;
                    }
                }
            }
        });
        Heartbeat {
            running,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn started(&self, exercise: &str, step: &str, verb: &'static str) {
        if let Ok(mut r) = self.running.lock() {
            r.push(Running {
                exercise: exercise.to_string(),
                step: step.to_string(),
                verb,
                since: Instant::now(),
                line: None,
            });
        }
    }

    pub fn progress(&self, exercise: &str, step: &str, line: &str) {
        if let Ok(mut r) = self.running.lock()
            && let Some(s) = r
                .iter_mut()
                .find(|s| s.exercise == exercise && s.step == step)
        {
            s.line = Some(line.chars().take(120).collect());
        }
    }

    pub fn finished(&self, step: &str) {
        if let Ok(mut r) = self.running.lock() {
            r.retain(|s| s.step != step);
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `  … still building image of 02-layers (40s): Step 2/3 : RUN apt-get …`
fn beat(s: &Running, now: Instant) -> String {
    let mut line = format!(
        "  … still {} {} of {} ({})",
        s.verb,
        s.step,
        s.exercise,
        format_duration(now.duration_since(s.since))
    );
    if let Some(l) = &s.line {
        line.push_str(&format!(": {}", visible(l)));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_long_step_beats_until_it_finishes() {
        let out = Shared::default();
        let heart = Heartbeat::start(Duration::from_millis(40), out.clone());
        heart.started("02-layers", "b", "building");
        heart.progress("02-layers", "b", "Step 2/3 : RUN apt-get install -y git");
        std::thread::sleep(Duration::from_millis(150));
        heart.finished("b");
        let seen = out.0.lock().expect("lock").len();
        std::thread::sleep(Duration::from_millis(120));
        drop(heart);
        let text = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf-8");
        assert!(
            text.contains("  … still building b of 02-layers ("),
            "{text}"
        );
        assert!(
            text.contains("): Step 2/3 : RUN apt-get install -y git\n"),
            "{text}"
        );
        assert_eq!(text.len(), seen, "no beat after the step finished: {text}");
    }
}
