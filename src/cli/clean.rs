//! `dockgrade clean`: remove what runs that are over left on the daemon.
//!
//! A run is over when the process that labelled its resources is gone from
//! this host; a run of another host (or a system where that cannot be told)
//! is removed only once older than `--older-than`, and `--all` removes
//! every run, in progress or not. `--dry-run` says what would go.

use std::time::Duration;

use clap::Args;

use super::runtime;
use crate::engine::{self, Engine, Journal, RunOnDaemon};
use crate::error::Error;
use crate::exit;
use crate::names::{self, LABEL};
use crate::owner::{Liveness, Owner};
use crate::units::{format_duration, parse_duration};

#[derive(Debug, Args)]
pub(super) struct CleanArgs {
    /// Also remove runs whose process cannot be told gone (another host's)
    /// once they are older than this, e.g. "2h".
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    older_than: Option<Duration>,
    /// Remove every run's resources, including runs still in progress.
    #[arg(long)]
    all: bool,
    /// Say what would be removed, and remove nothing.
    #[arg(long)]
    dry_run: bool,
    /// The daemon to clean (repeat for several; default: DOCKER_HOST, else
    /// the local socket).
    #[arg(long = "docker-host", value_name = "URL")]
    docker_hosts: Vec<String>,
}

/// Why a run's resources go or stay.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Remove(&'static str),
    Keep(&'static str),
}

fn verdict(run: &RunOnDaemon, args: &CleanArgs, now: u64) -> Verdict {
    if args.all {
        return Verdict::Remove("--all");
    }
    // Versions before owners were labelled ran one at a time.
    let Some(owner) = Owner::from_labels(&run.labels) else {
        return Verdict::Remove("left by an earlier version");
    };
    owner_verdict(&owner, args, now)
}

/// Whether what `owner`'s process made goes or stays.
fn owner_verdict(owner: &Owner, args: &CleanArgs, now: u64) -> Verdict {
    if args.all {
        return Verdict::Remove("--all");
    }
    let old_enough = args
        .older_than
        .is_some_and(|age| now.saturating_sub(owner.started) > age.as_secs());
    match owner.liveness() {
        Liveness::Gone => Verdict::Remove("its process is gone"),
        Liveness::Running => Verdict::Keep("still running"),
        Liveness::Unknown if old_enough => Verdict::Remove("older than --older-than"),
        Liveness::Unknown => Verdict::Keep("another host's; use --older-than or --all"),
    }
}

pub(super) fn run(args: CleanArgs) -> Result<i32, Error> {
    let hosts = if args.docker_hosts.is_empty() {
        vec![crate::engine::docker_host()]
    } else {
        args.docker_hosts.clone()
    };
    runtime()?.block_on(async {
        let mut failures = Vec::new();
        for host in &hosts {
            let engine = Engine::connect_to(host, &names::new_run_id()).await?;
            failures.extend(clean(&engine, &args).await?);
        }
        for f in &failures {
            eprintln!("could not remove {f}");
        }
        Ok(if failures.is_empty() {
            exit::SUCCESS
        } else {
            exit::INFRASTRUCTURE
        })
    })
}

/// Cleans one daemon; what could not be removed.
async fn clean(engine: &Engine, args: &CleanArgs) -> Result<Vec<String>, Error> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut removed = (0, 0, 0, 0);
    let (mut kept, mut in_use) = (0, 0);
    let mut failures = Vec::new();
    // The build cache of a batch or validate (see `engine::kept`): its
    // layers carry no run label, only the journal names them.
    let journals: Vec<Journal> = engine::journals()
        .into_iter()
        .filter(|j| j.host == engine.host())
        .collect();
    for run in engine.runs_on_daemon(args.all).await? {
        let (c, i, v, n) = run.counts();
        let name = if run.run.is_empty() {
            "(no run id)"
        } else {
            run.run.as_str()
        };
        let since = Owner::from_labels(&run.labels)
            .map(|o| {
                let age = Duration::from_secs(now.saturating_sub(o.started));
                format!(", started {} ago", format_duration(age))
            })
            .unwrap_or_default();
        match verdict(&run, args, now) {
            Verdict::Keep(why) => {
                kept += 1;
                say!("kept run {name}{since}: {why}");
            }
            Verdict::Remove(why) if args.dry_run => say!(
                "would remove run {name}{since} ({why}): {c} container(s), {i} image(s), {v} volume(s), {n} network(s)"
            ),
            Verdict::Remove(_) => {
                let report = engine.remove_run(&run).await;
                removed.0 += report.containers;
                removed.1 += report.images;
                removed.2 += report.volumes;
                removed.3 += report.networks;
                in_use += report.in_use;
                failures.extend(report.failures);
            }
        }
    }
    let mut cached = 0;
    for journal in &journals {
        let layers = journal.layers.len();
        match owner_verdict(&journal.owner, args, now) {
            Verdict::Keep(why) => {
                say!("kept the build cache of a batch ({layers} layer(s)): {why}");
            }
            Verdict::Remove(why) if args.dry_run => {
                say!("would remove the build cache of a batch ({why}): {layers} layer(s)");
            }
            Verdict::Remove(_) => {
                let report = engine.remove_journal(journal).await;
                cached += report.images;
                in_use += report.in_use;
                failures.extend(report.failures);
            }
        }
    }
    if cached > 0 {
        say!("removed {cached} cached layer(s) that a batch kept");
    }
    if !args.dry_run {
        say!(
            "removed {} container(s), {} image(s), {} volume(s), {} network(s) labelled {LABEL}; kept {kept} run(s)",
            removed.0,
            removed.1,
            removed.2,
            removed.3
        );
        if in_use > 0 {
            say!("kept {in_use} image(s) that other images are built on");
        }
    }
    Ok(failures)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn run_of(owner: &Owner) -> RunOnDaemon {
        RunOnDaemon {
            run: "r".into(),
            labels: owner
                .labels()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            ..Default::default()
        }
    }

    fn args(older_than: Option<u64>, all: bool) -> CleanArgs {
        CleanArgs {
            older_than: older_than.map(Duration::from_secs),
            all,
            dry_run: false,
            docker_hosts: Vec::new(),
        }
    }

    #[test]
    fn only_finished_runs_are_removed_unless_asked() {
        let me = Owner::current().clone();
        let now = me.started + 7200;
        let live = run_of(&me);
        assert_eq!(
            verdict(&live, &args(None, false), now),
            Verdict::Keep("still running")
        );
        assert_eq!(
            verdict(&live, &args(Some(60), false), now),
            Verdict::Keep("still running")
        );
        assert_eq!(
            verdict(&live, &args(None, true), now),
            Verdict::Remove("--all")
        );

        let other_host = run_of(&Owner {
            host: "elsewhere".into(),
            ..me.clone()
        });
        assert!(matches!(
            verdict(&other_host, &args(None, false), now),
            Verdict::Keep(_)
        ));
        assert!(matches!(
            verdict(&other_host, &args(Some(3600), false), now),
            Verdict::Remove(_)
        ));
        assert!(matches!(
            verdict(&other_host, &args(Some(10_000), false), now),
            Verdict::Keep(_)
        ));

        let legacy = RunOnDaemon {
            labels: HashMap::from([(LABEL.to_string(), "1".to_string())]),
            ..Default::default()
        };
        assert!(matches!(
            verdict(&legacy, &args(None, false), now),
            Verdict::Remove(_)
        ));
    }
}
