//! Who created a resource: the identity of this process as labels, and
//! whether the process that labelled a resource is still running.
//!
//! `dockgrade clean` must not remove what another run still uses: two
//! students on a lab server, a batch and a check, two CI jobs on one daemon.
//! Every resource therefore names its owner (host, process, start), and a
//! run counts as finished only when that process is gone from this host.
//! On Linux a process is recognised by its pid *and* its start time since
//! boot (and the boot's id), so a pid reused by another program does not
//! keep a dead run's resources alive.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The host that created a resource.
pub(crate) const HOST_LABEL: &str = "io.dockgrade.host";
/// The process that created it: `pid` or `pid:boot-id:start-ticks`.
pub(crate) const PROCESS_LABEL: &str = "io.dockgrade.process";
/// When its run started, in seconds since the Unix epoch.
pub(crate) const STARTED_LABEL: &str = "io.dockgrade.started";

/// This process, as labels say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    pub host: String,
    pub process: String,
    pub started: u64,
}

/// What is known of the process behind a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Liveness {
    Running,
    Gone,
    /// Another host's, or a system without /proc: nobody can tell.
    Unknown,
}

impl Owner {
    /// This process (computed once).
    pub fn current() -> &'static Owner {
        static CURRENT: OnceLock<Owner> = OnceLock::new();
        CURRENT.get_or_init(|| Owner {
            host: hostname(),
            process: process_key(std::process::id())
                .unwrap_or_else(|| std::process::id().to_string()),
            started: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        })
    }

    pub fn labels(&self) -> [(&'static str, String); 3] {
        [
            (HOST_LABEL, self.host.clone()),
            (PROCESS_LABEL, self.process.clone()),
            (STARTED_LABEL, self.started.to_string()),
        ]
    }

    /// The owner a resource's labels name, if they name one.
    pub fn from_labels(labels: &HashMap<String, String>) -> Option<Owner> {
        Some(Owner {
            host: labels.get(HOST_LABEL)?.clone(),
            process: labels.get(PROCESS_LABEL)?.clone(),
            started: labels.get(STARTED_LABEL)?.parse().ok()?,
        })
    }

    /// Whether this owner's process still runs, as far as this host knows.
    pub fn liveness(&self) -> Liveness {
        if self.host != Owner::current().host {
            return Liveness::Unknown;
        }
        let pid = self
            .process
            .split(':')
            .next()
            .and_then(|p| p.parse::<u32>().ok());
        match (pid, self.process.contains(':')) {
            // Recorded with its start: the same pid must have the same start.
            (Some(pid), true) => match process_key(pid) {
                Some(key) if key == self.process => Liveness::Running,
                Some(_) => Liveness::Gone,
                None if std::path::Path::new("/proc/self").exists() => Liveness::Gone,
                None => Liveness::Unknown,
            },
            _ => Liveness::Unknown,
        }
    }
}

/// `pid:boot-id:start-ticks` of a running process, on Linux.
fn process_key(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: the
    // fields after it start past the last `)`. Start time is field 22.
    let after = &stat[stat.rfind(')')? + 1..];
    let start = after.split_whitespace().nth(19)?;
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(format!("{pid}:{}:{start}", boot.trim()))
}

fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_running_and_a_reused_or_dead_pid_is_not() {
        let me = Owner::current().clone();
        assert_eq!(me.liveness(), Liveness::Running);
        let labels: HashMap<String, String> = me
            .labels()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(Owner::from_labels(&labels), Some(me.clone()));

        let pid = std::process::id();
        let reused = Owner {
            process: me
                .process
                .replacen(&format!("{pid}:"), &format!("{pid}:x"), 1),
            ..me.clone()
        };
        assert_eq!(reused.liveness(), Liveness::Gone);
        let dead = Owner {
            process: format!("4194304:{}", me.process.split_once(':').map_or("", |x| x.1)),
            ..me.clone()
        };
        assert_eq!(dead.liveness(), Liveness::Gone);
        let elsewhere = Owner {
            host: "another-machine".into(),
            ..me
        };
        assert_eq!(elsewhere.liveness(), Liveness::Unknown);
    }
}
