//! The names and labels dockgrade gives what it creates on the daemon.
//!
//! Every container, image tag and volume of a run is named here, and only
//! here, from the run id: so a run's resources are recognisable by name and
//! label, never collide with another run's, and never take a user's tag.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::owner::Owner;

/// Label on everything dockgrade creates.
pub const LABEL: &str = "io.dockgrade";
/// Label holding the id of the run that created a resource.
pub const RUN_LABEL: &str = "io.dockgrade.run";
/// The repository all of dockgrade's images are tagged in.
pub const IMAGE_REPOSITORY: &str = "dockgrade";

/// A unique id for one run's resources: time, process, and a count of the
/// runs this process started (a batch starts several in one millisecond).
pub fn new_run_id() -> String {
    static STARTED: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{:x}{:04x}{:x}",
        (nanos / 1_000_000) & 0xff_ffff_ffff,
        std::process::id() & 0xffff,
        STARTED.fetch_add(1, Ordering::Relaxed)
    )
}

/// The labels every resource of run `run_id` carries: ours, the run's, and
/// this process's (see [`crate::owner`]).
pub fn labels(run_id: &str) -> HashMap<String, String> {
    let mut labels = HashMap::from([
        (LABEL.to_string(), "1".to_string()),
        (RUN_LABEL.to_string(), run_id.to_string()),
    ]);
    labels.extend(
        Owner::current()
            .labels()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v)),
    );
    labels
}

/// The label filter that selects run `run_id`'s resources.
pub fn run_filter(run_id: &str) -> String {
    format!("{RUN_LABEL}={run_id}")
}

/// `dockgrade:<run>-<exercise>-<step>`, cut to Docker's 128-character limit.
pub fn image_tag(run_id: &str, exercise: &str, step: &str) -> String {
    let tag: String = format!("{run_id}-{exercise}-{step}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(128)
        .collect();
    format!("{IMAGE_REPOSITORY}:{tag}")
}

/// The container of a run step: `dockgrade-<run>-<exercise>-<step>`.
pub fn run_container(run_id: &str, exercise: &str, step: &str) -> String {
    format!("dockgrade-{run_id}-{exercise}-{step}")
}

/// The `n`th created-never-started container that reads an image's files.
pub fn probe_container(run_id: &str, n: u64) -> String {
    format!("dockgrade-{run_id}-probe-{n}")
}

/// The `n`th helper container that carries requests to an exercise's
/// services: `dockgrade-<run>--tunnel-<n>`. No run or probe container has
/// that name: exercise ids and step names never start with `-`.
pub fn tunnel_container(run_id: &str, n: u64) -> String {
    format!("dockgrade-{run_id}--tunnel-{n}")
}

/// The network of one exercise's run: `dockgrade-<run>-<exercise>`.
pub fn exercise_network(run_id: &str, exercise: &str) -> String {
    format!("dockgrade-{run_id}-{exercise}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_tagged_in_dockgrades_namespace() {
        assert_eq!(image_tag("r1", "demo", "final"), "dockgrade:r1-demo-final");
        assert_eq!(image_tag("r", "x y", "s"), "dockgrade:r-x_y-s");
        assert_eq!(image_tag("r", &"x".repeat(300), "s").len(), 128 + 10);
    }

    #[test]
    fn every_name_carries_the_run_id() {
        let run = new_run_id();
        for name in [
            run_container(&run, "ex", "step"),
            probe_container(&run, 3),
            tunnel_container(&run, 4),
        ] {
            assert!(name.starts_with(&format!("dockgrade-{run}-")), "{name}");
        }
        assert_eq!(labels(&run)[RUN_LABEL], run);
        assert_ne!(
            new_run_id(),
            new_run_id(),
            "two runs started at once differ"
        );
        assert_eq!(run_filter("x"), "io.dockgrade.run=x");
    }
}
