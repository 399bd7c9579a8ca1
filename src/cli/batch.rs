//! `dockgrade batch`: grade a folder of submissions into a gradebook.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::{Course, runtime};
use crate::batch::grade::Context;
use crate::batch::layout::Layout;
use crate::batch::shard::Shard;
use crate::batch::store::{RowStatus, Store};
use crate::batch::{self, Request, digest, roster};
use crate::catalog;
use crate::engine::docker_host;
use crate::error::Error;
use crate::exit;
use crate::signal::Signals;
use crate::units::{format_duration, parse_duration};

#[derive(Debug, Args)]
pub(super) struct BatchArgs {
    /// The folder of submissions: one folder or archive per student, or a
    /// Gradescope export.
    submissions: PathBuf,
    /// Exercise ids to grade (default: all in --exercises-dir).
    exercises: Vec<String>,
    /// Where the gradebook and each student's reports are written.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    #[command(flatten)]
    course: Course,
    /// Submissions graded at the same time on each daemon (default: the
    /// number of CPUs, at most 8).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: Option<u16>,
    /// The class list (CSV with a header row): students who submitted
    /// nothing get a `missing` row.
    #[arg(long, value_name = "CSV")]
    roster: Option<PathBuf>,
    /// Longest a submission may take; past it, what was graded counts and
    /// its status is `timeout`.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_duration)]
    timeout: Duration,
    /// Grade only these students again (the others keep their results).
    #[arg(long, value_name = "STUDENT")]
    only: Vec<String>,
    /// Grade every student again, even those whose result still holds.
    #[arg(long)]
    force: bool,
    /// Grade only shard K of N (by a hash of the student id, stable as the
    /// class grows); combine the shards with `dockgrade merge`.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// A daemon to grade on (repeat for several; default: DOCKER_HOST, else
    /// the local socket). Each gets --jobs submissions at once.
    #[arg(long = "docker-host", value_name = "URL")]
    docker_hosts: Vec<String>,
    /// How the submissions folder is laid out, when it is not clear.
    #[arg(long, value_enum)]
    layout: Option<Layout>,
    /// No progress and no warnings on standard error.
    #[arg(long)]
    quiet: bool,
}

pub(super) fn run(args: BatchArgs) -> Result<i32, Error> {
    let dir = &args.course.dir()?;
    let exercises = catalog::select(catalog::load_dir(dir)?, &args.exercises, dir)?;
    if !args.submissions.is_dir() {
        return Err(Error::Usage(format!(
            "{} is not a folder of submissions",
            args.submissions.display()
        )));
    }
    let roster = args
        .roster
        .as_deref()
        .map(roster::read)
        .transpose()
        .map_err(Error::Usage)?;
    let store = Store::create(&args.out)?;
    let hosts = if args.docker_hosts.is_empty() {
        vec![docker_host()]
    } else {
        args.docker_hosts.clone()
    };
    let ctx = Arc::new(Context {
        course: digest::course(&exercises),
        exercises,
        timeout: args.timeout,
        step_jobs: 4,
        store,
        cancel: tokio_util::sync::CancellationToken::new(),
    });
    let req = Request {
        submissions: args.submissions,
        layout: args.layout,
        roster,
        only: args.only,
        force: args.force,
        shard: args.shard.unwrap_or(Shard::ALL),
        hosts,
        jobs: args.jobs.map_or_else(batch::default_jobs, usize::from),
        quiet: args.quiet,
    };
    runtime()?.block_on(async {
        let mut signals = Signals::install()
            .map_err(|e| Error::Infrastructure(format!("cannot watch for signals: {e}")))?;
        let cancel = ctx.cancel.clone();
        let watcher = tokio::spawn(async move {
            let signal = signals.recv().await;
            cancel.cancel();
            signal
        });
        let ended = batch::run(ctx.clone(), req).await;
        let signal = if ctx.cancel.is_cancelled() {
            watcher.await.ok()
        } else {
            watcher.abort();
            None
        };
        let ended = ended?;
        print_summary(&ended, &args.out);
        Ok(match signal {
            Some(s) => s.exit_code(),
            None if ended.stranded > 0 => {
                eprintln!(
                    "no daemon is left: {} submission(s) were not graded; run the same command again to finish",
                    ended.stranded
                );
                exit::INFRASTRUCTURE
            }
            None => exit::SUCCESS,
        })
    })
}

fn print_summary(ended: &batch::Ended, out: &std::path::Path) {
    let count = |s: RowStatus| {
        ended
            .batch
            .students
            .iter()
            .filter(|r| r.status == s)
            .count()
    };
    say!(
        "{} students in {}: {} graded, {} timeout, {} error, {} invalid, {} missing{}",
        ended.batch.students.len(),
        format_duration(Duration::from_secs_f64(
            ended.batch.duration_seconds.max(0.0)
        )),
        count(RowStatus::Graded),
        count(RowStatus::Timeout),
        count(RowStatus::Error),
        count(RowStatus::Invalid),
        count(RowStatus::Missing),
        if ended.interrupted {
            " (interrupted: run the same command again to finish)"
        } else {
            ""
        }
    );
    say!(
        "gradebook: {}, {}, {}",
        out.join("grades.csv").display(),
        out.join("summary.md").display(),
        out.join("batch.json").display()
    );
}
