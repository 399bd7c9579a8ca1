//! SIGINT and SIGTERM for every long command: one place that listens, and
//! one meaning for each (the exit code, the name reports show).
//!
//! A long command races its work against [`Signals::recv`]; whichever comes
//! first wins, and on a signal the command removes what it created, writes
//! what it has, and exits with [`Signal::exit_code`].

use std::fmt;
use std::io;

use tokio::signal::unix::{SignalKind, signal};

use crate::exit;

/// A signal that ends a run early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Ctrl-C.
    Interrupt,
    /// `kill`, a CI runner's timeout, a container stopping.
    Terminate,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    pub fn exit_code(self) -> i32 {
        match self {
            Signal::Interrupt => exit::INTERRUPTED,
            Signal::Terminate => exit::TERMINATED,
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Signal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// How long a long command waits, after a signal, for the work in flight
/// to stop by itself (containers killed, builds' last layers reported)
/// before it cleans up; a second signal stops waiting.
pub(crate) const WIND_DOWN: std::time::Duration = std::time::Duration::from_secs(150);

/// Both signals, listened to from the moment this is created.
#[derive(Debug)]
pub(crate) struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Starts listening; needs a Tokio runtime.
    pub fn install() -> io::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// The next signal to arrive.
    pub async fn recv(&mut self) -> Signal {
        tokio::select! {
            _ = self.interrupt.recv() => Signal::Interrupt,
            _ = self.terminate.recv() => Signal::Terminate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_signal_has_its_exit_code_and_name() {
        assert_eq!(Signal::Interrupt.exit_code(), 130);
        assert_eq!(Signal::Terminate.exit_code(), 143);
        assert_eq!(Signal::Terminate.to_string(), "SIGTERM");
        assert_eq!(
            serde_json::to_string(&Signal::Interrupt).expect("serializes"),
            "\"SIGINT\""
        );
    }
}
