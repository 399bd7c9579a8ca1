//! A [`Sandbox`] in the daemon's terms: a run's host configuration and a
//! build's resource options.
//!
//! The same `Sandbox` value is what the report shows, so the two cannot
//! disagree. The legacy builder only takes memory, CPU and network for its
//! RUN containers; everything else applies to runs.

use bollard::models::{HostConfig, HostConfigLogConfig, Mount as DockerMount};
use bollard::query_parameters::BuildImageOptionsBuilder;

use crate::sandbox::{Network, Sandbox};

/// The host configuration every run gets: limits, no privileges, few
/// capabilities, no devices, the network the step asks for.
pub(super) fn host_config(sandbox: &Sandbox, mounts: Vec<DockerMount>) -> HostConfig {
    let memory = i64::try_from(sandbox.limits.memory).unwrap_or(i64::MAX);
    HostConfig {
        network_mode: Some(sandbox.network.as_str().to_string()),
        mounts: (!mounts.is_empty()).then_some(mounts),
        memory: Some(memory),
        // A swap limit equal to the memory limit: no swap on top of it.
        memory_swap: Some(memory),
        pids_limit: sandbox.pids().map(i64::from),
        nano_cpus: Some((sandbox.limits.cpus * 1e9) as i64),
        // Privileged only for a probe of a rootless daemon: `engine::run`
        // refuses it on any other.
        privileged: Some(sandbox.privileged),
        security_opt: Some(vec!["no-new-privileges".to_string()]),
        cap_drop: (!sandbox.privileged).then(|| vec!["ALL".to_string()]),
        cap_add: (!sandbox.privileged).then(|| {
            sandbox
                .capabilities()
                .iter()
                .map(|c| c.to_string())
                .collect()
        }),
        devices: (!sandbox.privileged).then(Vec::new),
        ipc_mode: Some("private".to_string()),
        // Output is captured (and capped) through the attach stream. The
        // daemon's own log copy would write every line to its disk as JSON:
        // slow, and a flood of output would fill the daemon's disk.
        log_config: Some(HostConfigLogConfig {
            typ: Some("none".to_string()),
            config: None,
        }),
        ..Default::default()
    }
}

/// The build options that confine each RUN instruction's container.
pub(super) fn build_options(
    sandbox: &Sandbox,
    options: BuildImageOptionsBuilder,
) -> BuildImageOptionsBuilder {
    // The legacy builder takes 32-bit byte counts.
    let memory = i32::try_from(sandbox.limits.memory).unwrap_or(i32::MAX);
    options
        .memory(memory)
        .memswap(memory)
        .cpuperiod(100_000)
        .cpuquota((sandbox.limits.cpus * 100_000.0) as i32)
        .networkmode(match sandbox.network {
            // Builds never join an exercise's network (the spec allows
            // none or bridge only).
            Network::None | Network::Exercise => "none",
            Network::Bridge => "default",
        })
}

/// The host configuration of a container that is created to read an
/// image's files and never started.
pub(super) fn never_started() -> HostConfig {
    HostConfig {
        network_mode: Some("none".into()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::{DEFAULT_RUN_TIMEOUT, Limits};

    #[test]
    fn a_run_keeps_only_the_listed_capabilities_and_no_swap() {
        let sandbox = Sandbox::run(Limits::default(), Network::None, DEFAULT_RUN_TIMEOUT);
        let hc = host_config(&sandbox, Vec::new());
        assert_eq!(hc.memory, hc.memory_swap);
        assert_eq!(hc.pids_limit, Some(256));
        assert_eq!(hc.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(hc.cap_add.map(|c| c.len()), Some(6));
        assert_eq!(hc.network_mode.as_deref(), Some("none"));
        assert_eq!(hc.privileged, Some(false));
    }

    #[test]
    fn a_privileged_probe_is_privileged_and_the_report_says_so() {
        let sandbox =
            Sandbox::run(Limits::default(), Network::None, DEFAULT_RUN_TIMEOUT).privileged();
        let hc = host_config(&sandbox, Vec::new());
        assert_eq!(hc.privileged, Some(true));
        assert_eq!(hc.cap_drop, None);
        let json = serde_json::to_value(sandbox).expect("serializes");
        assert_eq!(json["privileged"], true);
        assert_eq!(json["capabilities"], serde_json::json!(["ALL"]));
    }
}
