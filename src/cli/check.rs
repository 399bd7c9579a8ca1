//! `dockgrade check`: grade one submission folder against exercises.
//!
//! The runner sends events down one channel; a blocking task hands each to
//! every reporter (terminal, JSON, JUnit), so slow output never stalls the
//! daemon work. A signal ends the run early: everything created is removed
//! and the reports say what was not reached.

use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::{Course, Format, Jobs, ReportFiles, runtime};
use crate::catalog;
use crate::check::Status;
use crate::engine::Engine;
use crate::error::Error;
use crate::event::{Event, ExercisePreview, ExerciseResult};
use crate::exit;
use crate::names;
use crate::report::classroom::Classroom;
use crate::report::gradescope::Gradescope;
use crate::report::heartbeat;
use crate::report::human::HumanReporter;
use crate::report::json::Json;
use crate::report::junit::Junit;
use crate::report::markdown::Markdown;
use crate::report::prairielearn::PrairieLearn;
use crate::report::{Collector, Destination, Export, FileReporter, ReportFile, Reporter, Style};
use crate::runner::{self, RunOptions};
use crate::signal::{Signal, Signals, WIND_DOWN};
use crate::spec::Exercise;

#[derive(Debug, Args)]
pub(super) struct CheckArgs {
    /// Exercise ids to grade (default: all in --exercises-dir).
    pub(super) exercises: Vec<String>,
    #[command(flatten)]
    pub(super) course: Course,
    /// The submission folder (it is only read).
    #[arg(long, default_value = ".")]
    pub(super) submission: PathBuf,
    /// What to print on standard output.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(super) format: Format,
    #[command(flatten)]
    pub(super) reports: ReportFiles,
    #[command(flatten)]
    pub(super) platforms: PlatformFiles,
    #[command(flatten)]
    pub(super) jobs: Jobs,
    /// Grade again whenever a file of the submission changes, until Ctrl-C.
    #[arg(long)]
    pub(super) watch: bool,
}

/// The reporter of what `--format` prints on standard output.
fn printed(format: Format) -> Vec<Box<dyn Reporter>> {
    match format {
        Format::Human => {
            let on_terminal = io::stderr().is_terminal();
            let human = HumanReporter::new(
                io::stdout(),
                Style::for_terminal(io::stdout().is_terminal()),
                on_terminal,
            );
            // In a log, a line every so often shows a long build is alive.
            let human = if on_terminal {
                human
            } else {
                human.with_heartbeat(heartbeat::EVERY)
            };
            vec![Box::new(human)]
        }
        Format::Json => vec![Box::new(FileReporter::new(
            Box::new(Json::default()),
            Destination::Stdout,
        ))],
        Format::Junit => vec![Box::new(FileReporter::new(
            Box::new(Junit),
            Destination::Stdout,
        ))],
        Format::Markdown => vec![Box::new(FileReporter::new(
            Box::new(Markdown),
            Destination::Stdout,
        ))],
        Format::Gradescope => vec![Box::new(FileReporter::new(
            Box::new(Gradescope),
            Destination::Stdout,
        ))],
        Format::Prairielearn => vec![Box::new(FileReporter::new(
            Box::new(PrairieLearn),
            Destination::Stdout,
        ))],
        // GitHub Actions reads a step's outputs from the file it names.
        Format::Classroom => {
            let to = match std::env::var_os("GITHUB_OUTPUT") {
                Some(path) => Destination::Append(PathBuf::from(path)),
                None => Destination::Stdout,
            };
            vec![Box::new(FileReporter::new(Box::new(Classroom), to))]
        }
    }
}

/// Makes one of the file formats.
type MakeExport = fn() -> Box<dyn Export<Collector>>;

/// The results files of the platforms courses run on (docs/platforms.md).
#[derive(Debug, Args)]
pub(super) struct PlatformFiles {
    /// Also write a Markdown summary for students to this file.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// Also write Gradescope's results.json to this file.
    #[arg(long, value_name = "FILE")]
    gradescope: Option<PathBuf>,
    /// Also write PrairieLearn's results.json to this file.
    #[arg(long, value_name = "FILE")]
    prairielearn: Option<PathBuf>,
}

impl CheckArgs {
    /// The report files asked for, which `--watch` must not watch.
    pub(super) fn report_paths(&self) -> Vec<PathBuf> {
        [
            &self.reports.junit,
            &self.reports.json,
            &self.platforms.markdown,
            &self.platforms.gradescope,
            &self.platforms.prairielearn,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect()
    }
}

pub(super) fn run(args: CheckArgs) -> Result<i32, Error> {
    let dir = args.course.dir()?;
    if args.submission.exists() && !args.submission.is_dir() {
        return Err(Error::Usage(format!(
            "--submission {} is not a folder: name the folder that holds your files",
            args.submission.display()
        )));
    }
    if !args.submission.is_dir() {
        return Err(Error::Usage(format!(
            "submission folder {} does not exist",
            args.submission.display()
        )));
    }
    if args.watch {
        return runtime()?.block_on(super::watch::watch(&args, &dir));
    }
    let selected = selected(&args, &dir)?;
    let reporters = reporters(&args)?;
    let options = RunOptions {
        submission: args.submission,
        jobs: usize::from(args.jobs.jobs),
    };
    runtime()?.block_on(async {
        let mut signals = Signals::install()
            .map_err(|e| Error::Infrastructure(format!("cannot watch for signals: {e}")))?;
        check(selected, options, reporters, &mut signals).await
    })
}

/// The exercises asked for, read from the course.
pub(super) fn selected(args: &CheckArgs, dir: &std::path::Path) -> Result<Vec<Exercise>, Error> {
    catalog::select(catalog::load_dir(dir)?, &args.exercises, dir)
}

/// What is printed (`--format`) and the report files asked for.
pub(super) fn reporters(args: &CheckArgs) -> Result<Vec<Box<dyn Reporter>>, Error> {
    let (junit, json) = args.reports.open()?;
    let mut reporters = printed(args.format);
    let files: [(&Option<PathBuf>, MakeExport); 3] = [
        (&args.platforms.markdown, || Box::new(Markdown)),
        (&args.platforms.gradescope, || Box::new(Gradescope)),
        (&args.platforms.prairielearn, || Box::new(PrairieLearn)),
    ];
    for (path, export) in files {
        if let Some(path) = path {
            let file = ReportFile::create(path)?;
            reporters.push(Box::new(FileReporter::new(
                export(),
                Destination::File(file),
            )));
        }
    }
    // On GitHub Actions, the job's summary page shows the Markdown too.
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        reporters.push(Box::new(FileReporter::new(
            Box::new(Markdown),
            Destination::Append(PathBuf::from(summary)),
        )));
    }
    if let Some(file) = junit {
        reporters.push(Box::new(FileReporter::new(
            Box::new(Junit),
            Destination::File(file),
        )));
    }
    if let Some(file) = json {
        reporters.push(Box::new(FileReporter::new(
            Box::new(Json::default()),
            Destination::File(file),
        )));
    }
    Ok(reporters)
}

pub(super) async fn check(
    exercises: Vec<Exercise>,
    options: RunOptions,
    mut reporters: Vec<Box<dyn Reporter>>,
    signals: &mut Signals,
) -> Result<i32, Error> {
    let started = Instant::now();
    let run_id = names::new_run_id();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    // Reporters write to files and terminals: keep that off the async workers.
    let sink = tokio::task::spawn_blocking(move || {
        let mut failed = None;
        while let Some(event) = rx.blocking_recv() {
            for r in reporters.iter_mut() {
                match r.report(&event) {
                    // A reader that closed the pipe (`| head`) has what it
                    // wanted: grading goes on to its end and its cleanup.
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
                    Err(e) => {
                        failed.get_or_insert(e);
                    }
                    Ok(()) => {}
                }
            }
        }
        failed
    });
    let _ = tx.send(Event::RunStarted {
        run_id: run_id.clone(),
        exercises: exercises.iter().map(ExercisePreview::of).collect(),
    });
    let engine = match Engine::connect(&run_id).await {
        Ok(engine) => engine,
        Err(e) => {
            drop(tx);
            let _ = sink.await;
            return Err(e.into());
        }
    };
    let mut run = Box::pin(runner::run(&engine, &exercises, &options, &tx));
    let (results, interrupted): (Vec<ExerciseResult>, Option<Signal>) = tokio::select! {
        results = &mut run => (results, None),
        signal = signals.recv() => {
            // Stop what runs and let it say what it created; the exercise
            // under way gets no result.
            engine.cancel();
            let results = tokio::select! {
                r = tokio::time::timeout(WIND_DOWN, &mut run) => r.unwrap_or_default(),
                _ = signals.recv() => Vec::new(),
            };
            (results, Some(signal))
        }
    };
    drop(run);
    // Whatever was still in flight is recorded and labelled: cleanup finds it.
    let cleanup = engine.cleanup().await;
    cleanup.warn();
    let _ = tx.send(Event::RunFinished {
        duration: started.elapsed(),
        interrupted,
    });
    drop(tx);
    if let Ok(Some(e)) = sink.await {
        return Err(Error::Write {
            path: PathBuf::from("report"),
            source: e,
        });
    }
    if interrupted.is_none() {
        crate::last_results::remember(&options.submission, &results);
    }
    Ok(match interrupted {
        Some(signal) => signal.exit_code(),
        None => exit_code_for(&results),
    })
}

/// 3 when any check errored (the grade cannot be trusted), else 1 when any
/// check did not pass, else 0.
fn exit_code_for(results: &[ExerciseResult]) -> i32 {
    let statuses = || {
        results
            .iter()
            .flat_map(|r| r.outcomes.iter().map(|o| o.status))
    };
    if statuses().any(|s| s == Status::Error) {
        exit::INFRASTRUCTURE
    } else if statuses().any(|s| s != Status::Passed) {
        exit::CHECK_FAILED
    } else {
        exit::SUCCESS
    }
}
