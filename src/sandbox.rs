//! The confinement of builds and runs, as plain data: limits, network, time.
//!
//! This module owns the *description* of a sandbox and its defaults. The spec
//! parses [`Limits`] and [`Network`] into steps; the runner turns a step into
//! a [`Sandbox`]; the engine (`engine/sandbox.rs`) turns that same value into
//! the daemon's host configuration or build options; and the report shows
//! it. One value, so what the report says is what the daemon was told.

use std::time::Duration;

use serde::Serialize;

/// The default wall-clock limit of a run step.
pub const DEFAULT_RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// The default wall-clock limit of a build (an apt-get install fits easily).
pub const DEFAULT_BUILD_TIMEOUT: Duration = Duration::from_secs(600);
/// The default wall-clock limit of a whole exercise.
pub const DEFAULT_EXERCISE_TIMEOUT: Duration = Duration::from_secs(1800);
/// The default cap on the build context, checked before anything is sent.
pub const DEFAULT_MAX_CONTEXT: u64 = 512_000_000;

/// Capabilities a run keeps; every other one is dropped. These are what a
/// root process needs to manage its own files and switch users (su, gosu),
/// and nothing that reaches the host (no NET_ADMIN, SYS_ADMIN, MKNOD…).
pub const CAPABILITIES: [&str; 6] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "KILL",
    "SETGID",
    "SETUID",
];

/// Resource limits of a container.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Bytes of memory; swap is limited to the same amount (none extra).
    pub memory: u64,
    /// Most processes and threads at once.
    pub pids: u32,
    /// CPUs' worth of time.
    pub cpus: f64,
    /// Bytes a run may write to its container's own layer, or a build to
    /// the layers of its RUN instructions; the step is killed past it.
    pub disk: u64,
}

/// The default disk budget of a build or a run.
pub const DEFAULT_DISK: u64 = 2_000_000_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: 512 << 20,
            pids: 256,
            cpus: 1.0,
            disk: DEFAULT_DISK,
        }
    }
}

/// The network a build's or a run's containers get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    None,
    Bridge,
    /// The exercise's own network, where its services answer by step name.
    Exercise,
}

impl Network {
    pub fn as_str(self) -> &'static str {
        match self {
            Network::None => "none",
            Network::Bridge => "bridge",
            Network::Exercise => "exercise",
        }
    }
}

/// What is being confined: a run's container, or a build's RUN containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confined {
    Run,
    /// The legacy builder sets memory, CPU and network per RUN instruction,
    /// but no process limit, capabilities or `no-new-privileges`.
    Build {
        max_context: u64,
    },
}

/// The whole confinement of one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sandbox {
    pub confined: Confined,
    pub limits: Limits,
    pub network: Network,
    pub timeout: Duration,
    /// `--privileged`: only a live exercise's probe of a rootless daemon
    /// (the engine refuses it on any other daemon).
    pub privileged: bool,
}

impl Sandbox {
    pub fn run(limits: Limits, network: Network, timeout: Duration) -> Sandbox {
        Sandbox {
            confined: Confined::Run,
            limits,
            network,
            timeout,
            privileged: false,
        }
    }

    pub fn build(limits: Limits, network: Network, timeout: Duration, max_context: u64) -> Sandbox {
        Sandbox {
            confined: Confined::Build { max_context },
            limits,
            network,
            timeout,
            privileged: false,
        }
    }

    /// This sandbox, privileged (see [`Sandbox::privileged`]).
    pub fn privileged(self) -> Sandbox {
        Sandbox {
            privileged: true,
            ..self
        }
    }

    /// The capabilities a container keeps (none are added to builds; a
    /// privileged container keeps the daemon's whole set).
    pub fn capabilities(&self) -> &'static [&'static str] {
        match self.confined {
            Confined::Run if self.privileged => &["ALL"],
            Confined::Run => &CAPABILITIES,
            Confined::Build { .. } => &[],
        }
    }

    /// The process limit, where the daemon can enforce one.
    pub fn pids(&self) -> Option<u32> {
        match self.confined {
            Confined::Run => Some(self.limits.pids),
            Confined::Build { .. } => None,
        }
    }
}

/// The report's view (`steps[].sandbox` in `dockgrade.report/1`).
#[derive(Serialize)]
struct Reported {
    memory_bytes: u64,
    /// Swap on top of memory: always 0.
    swap_bytes: u64,
    pids: Option<u32>,
    cpus: f64,
    network: Network,
    disk_bytes: u64,
    capabilities: &'static [&'static str],
    no_new_privileges: bool,
    privileged: bool,
    timeout_seconds: f64,
    max_context_bytes: Option<u64>,
}

impl Serialize for Sandbox {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Reported {
            memory_bytes: self.limits.memory,
            swap_bytes: 0,
            pids: self.pids(),
            cpus: self.limits.cpus,
            network: self.network,
            disk_bytes: self.limits.disk,
            capabilities: self.capabilities(),
            no_new_privileges: self.confined == Confined::Run,
            privileged: self.privileged,
            timeout_seconds: self.timeout.as_secs_f64(),
            max_context_bytes: match self.confined {
                Confined::Build { max_context } => Some(max_context),
                Confined::Run => None,
            },
        }
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_shows_what_a_run_and_a_build_are_confined_by() {
        let run = Sandbox::run(Limits::default(), Network::None, DEFAULT_RUN_TIMEOUT);
        let json = serde_json::to_value(run).expect("serializes");
        assert_eq!(json["memory_bytes"], 512 << 20);
        assert_eq!(json["swap_bytes"], 0);
        assert_eq!(json["pids"], 256);
        assert_eq!(json["network"], "none");
        assert_eq!(json["capabilities"].as_array().map(Vec::len), Some(6));
        assert_eq!(json["no_new_privileges"], true);
        assert_eq!(json["timeout_seconds"], 60.0);
        assert!(json["max_context_bytes"].is_null());

        let build = Sandbox::build(
            Limits::default(),
            Network::Bridge,
            DEFAULT_BUILD_TIMEOUT,
            DEFAULT_MAX_CONTEXT,
        );
        let json = serde_json::to_value(build).expect("serializes");
        assert!(json["pids"].is_null());
        assert_eq!(json["network"], "bridge");
        assert_eq!(json["capabilities"].as_array().map(Vec::len), Some(0));
        assert_eq!(json["no_new_privileges"], false);
        assert_eq!(json["max_context_bytes"], DEFAULT_MAX_CONTEXT);
    }
}
