//! `dockgrade validate`: the course's own CI, with the reports of `check`'s
//! kind and its handling of signals (the cases graded so far are reported,
//! everything created is removed, the exit code names the signal).

use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;

use super::{Course, ReportFiles, runtime};
use crate::catalog;
use crate::engine::{Engine, KeptLayers};
use crate::error::Error;
use crate::names;
use crate::report::validate::{ValidateJson, ValidateJunit, render_human};
use crate::report::{Export, Style};
use crate::signal::{Signals, WIND_DOWN};
use crate::spec::Exercise;
use crate::units::format_duration;
use crate::validate::{self, ValidateReport};

#[derive(Debug, Args)]
pub(super) struct ValidateArgs {
    /// Exercise ids (default: all).
    exercises: Vec<String>,
    #[command(flatten)]
    course: Course,
    /// Folder with solutions/<id>/ and solutions/<id>/wrong/<case>/.
    #[arg(long, default_value = "solutions")]
    solutions_dir: PathBuf,
    #[command(flatten)]
    reports: ReportFiles,
    /// Cases graded at the same time, each on its own (the cases of live
    /// exercises are always replayed one by one).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: u16,
}

pub(super) fn run(args: ValidateArgs) -> Result<i32, Error> {
    let dir = &args.course.dir()?;
    let selected = catalog::select(catalog::load_dir(dir)?, &args.exercises, dir)?;
    if !args.solutions_dir.is_dir() {
        return Err(Error::Usage(format!(
            "solutions folder {} does not exist",
            args.solutions_dir.display()
        )));
    }
    let (junit, json) = args.reports.open()?;
    let report = runtime()?.block_on(validate_course(
        &selected,
        &args.solutions_dir,
        usize::from(args.jobs),
    ))?;
    if let Some(file) = junit {
        file.write(&render(&ValidateJunit, &report)?)?;
    }
    if let Some(file) = json {
        file.write(&render(&ValidateJson, &report)?)?;
    }
    Ok(report.exit_code())
}

fn render(export: &dyn Export<ValidateReport>, report: &ValidateReport) -> Result<Vec<u8>, Error> {
    export.render(report).map_err(|source| Error::Write {
        path: PathBuf::from("report"),
        source,
    })
}

/// Grades every case, or as many as a signal allows, and prints the table.
async fn validate_course(
    exercises: &[Exercise],
    solutions: &std::path::Path,
    jobs: usize,
) -> Result<ValidateReport, Error> {
    let engine = Engine::connect(&names::new_run_id()).await?;
    let mut signals = Signals::install()
        .map_err(|e| Error::Infrastructure(format!("cannot watch for signals: {e}")))?;
    let started = Instant::now();
    let progress = |done: usize, total: usize| {
        if io::stderr().is_terminal() {
            eprint!("\r\x1b[2Kvalidated {done} of {total} cases…");
        }
    };
    let mut report = ValidateReport::new(engine.run_id());
    let host = crate::engine::docker_host();
    let kept = Arc::new(KeptLayers::new(&host, engine.run_id()));
    let mut run = Box::pin(validate::validate(
        &engine,
        &host,
        &kept,
        exercises,
        solutions,
        jobs,
        &progress,
        &mut report,
    ));
    let outcome: Result<_, Error> = tokio::select! {
        r = &mut run => r.map(|()| None).map_err(Error::from),
        signal = signals.recv() => {
            // Stop the case under way; the cases graded so far are kept.
            engine.cancel();
            tokio::select! {
                _ = tokio::time::timeout(WIND_DOWN, &mut run) => {}
                _ = signals.recv() => {}
            }
            Ok(Some(signal))
        }
    };
    drop(run);
    // Whatever was still in flight is recorded and labelled: cleanup finds it.
    let cleanup = engine.cleanup().await;
    cleanup.warn();
    engine.release_kept(&kept).await.warn();
    if io::stderr().is_terminal() {
        eprint!("\r\x1b[2K");
    }
    report.interrupted = outcome?;
    say_raw!(
        "{}",
        render_human(&report, Style::for_terminal(io::stdout().is_terminal()))
    );
    say!("validated in {}", format_duration(started.elapsed()));
    Ok(report)
}
