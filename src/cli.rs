//! The command line: parse arguments, load specs, wire runner to reporters.
//!
//! `main` only calls [`main`] here and exits with what it returns; every exit
//! code comes from [`crate::exit`].

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};

use crate::check::Status;
use crate::engine::Engine;
use crate::error::Error;
use crate::event::{Event, ExerciseResult};
use crate::exit;
use crate::report::Reporter;
use crate::report::human::HumanReporter;
use crate::report::json::JsonReporter;
use crate::report::junit::JunitReporter;
use crate::runner::{self, RunOptions};
use crate::spec::{Exercise, SpecError, parse_exercise};

#[derive(Debug, Parser)]
#[command(
    name = "dockgrade",
    version,
    about = "Grade Docker exercises against a real Docker daemon"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build, run and check a submission against exercises.
    Check {
        /// Exercise ids to grade (default: all in --exercises).
        exercises: Vec<String>,
        /// Folder holding the exercise specs.
        #[arg(long, default_value = "exercises")]
        exercises_dir: PathBuf,
        /// The submission folder (it is only read).
        #[arg(long, default_value = ".")]
        submission: PathBuf,
        /// What to print on standard output.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Also write a JUnit XML report to this file.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Also write a JSON report to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Steps run at the same time, at most.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
        jobs: u16,
    },
    /// List the exercises with their sections and points.
    List {
        #[arg(long, default_value = "exercises")]
        exercises_dir: PathBuf,
    },
    /// Check exercise specs for errors (no daemon needed).
    Lint {
        /// Spec files (default: every exercises/*.toml).
        files: Vec<PathBuf>,
        #[arg(long, default_value = "exercises")]
        exercises_dir: PathBuf,
    },
    /// Course CI: every solution passes, every known-wrong submission fails
    /// exactly the checks its expect.toml lists, and every check can fail.
    Validate {
        /// Exercise ids (default: all).
        exercises: Vec<String>,
        #[arg(long, default_value = "exercises")]
        exercises_dir: PathBuf,
        /// Folder with solutions/<id>/ and solutions/<id>/wrong/<case>/.
        #[arg(long, default_value = "solutions")]
        solutions_dir: PathBuf,
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
        jobs: u16,
    },
    /// Check that this machine can take the course (daemon, images, --user).
    Doctor {
        #[arg(long, default_value = "exercises")]
        exercises_dir: PathBuf,
    },
    /// Remove every container, image and volume dockgrade left behind.
    Clean,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
    Junit,
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    init_logging();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::USAGE_OR_SPEC
            } else {
                exit::SUCCESS
            };
        }
    };
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprint!("{}", e.render());
            e.exit_code()
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DOCKGRADE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .without_time()
        .try_init();
}

fn dispatch(cli: Cli) -> Result<i32, Error> {
    match cli.command {
        Command::Lint {
            files,
            exercises_dir,
        } => lint(files, &exercises_dir),
        Command::List { exercises_dir } => list(&exercises_dir),
        Command::Clean => runtime()?.block_on(clean()),
        Command::Doctor { exercises_dir } => {
            // The course's exercises name more base images; without them the
            // standard ones are still checked.
            let exercises = if exercises_dir.is_dir() {
                load_dir(&exercises_dir).unwrap_or_default()
            } else {
                Vec::new()
            };
            let items = runtime()?.block_on(crate::doctor::diagnose(&exercises));
            let color = io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            print!("{}", crate::doctor::render(&items, color));
            Ok(if items.iter().all(|i| i.ok) {
                exit::SUCCESS
            } else {
                exit::CHECK_FAILED
            })
        }
        Command::Validate {
            exercises,
            exercises_dir,
            solutions_dir,
            junit,
            json,
            jobs,
        } => {
            let selected = select(load_dir(&exercises_dir)?, &exercises, &exercises_dir)?;
            if !solutions_dir.is_dir() {
                return Err(Error::Usage(format!(
                    "solutions folder {} does not exist",
                    solutions_dir.display()
                )));
            }
            let junit = junit.map(|p| create(&p).map(|w| (p, w))).transpose()?;
            let json = json.map(|p| create(&p).map(|w| (p, w))).transpose()?;
            runtime()?.block_on(validate(
                selected,
                solutions_dir,
                usize::from(jobs),
                junit,
                json,
            ))
        }
        Command::Check {
            exercises,
            exercises_dir,
            submission,
            format,
            junit,
            json,
            jobs,
        } => {
            let all = load_dir(&exercises_dir)?;
            let selected = select(all, &exercises, &exercises_dir)?;
            if !submission.is_dir() {
                return Err(Error::Usage(format!(
                    "submission folder {} does not exist",
                    submission.display()
                )));
            }
            let mut reporters: Vec<Box<dyn Reporter>> = Vec::new();
            let stdout = io::stdout();
            match format {
                Format::Human => {
                    let color = stdout.is_terminal()
                        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
                    reporters.push(Box::new(HumanReporter::new(
                        stdout,
                        color,
                        io::stderr().is_terminal(),
                    )));
                }
                Format::Json => reporters.push(Box::new(JsonReporter::new(stdout))),
                Format::Junit => reporters.push(Box::new(JunitReporter::new(stdout))),
            }
            if let Some(path) = &junit {
                reporters.push(Box::new(JunitReporter::new(create(path)?)));
            }
            if let Some(path) = &json {
                reporters.push(Box::new(JsonReporter::new(create(path)?)));
            }
            let options = RunOptions {
                submission,
                jobs: usize::from(jobs),
            };
            runtime()?.block_on(check(selected, options, reporters))
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the async runtime: {e}")))
}

fn create(path: &Path) -> Result<io::BufWriter<fs::File>, Error> {
    fs::File::create(path)
        .map(io::BufWriter::new)
        .map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        })
}

/// Reads and parses every `*.toml` in `dir`, collecting all errors.
pub fn load_dir(dir: &Path) -> Result<Vec<Exercise>, Error> {
    let entries = fs::read_dir(dir).map_err(|source| Error::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    load_files(&files)
}

fn load_files(files: &[PathBuf]) -> Result<Vec<Exercise>, Error> {
    let mut exercises = Vec::new();
    let mut errors: Vec<SpecError> = Vec::new();
    for path in files {
        let text = fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        match parse_exercise(&path.display().to_string(), &text) {
            Ok(mut ex) => {
                // An exercise's own files live beside its spec, in <id>/.
                let files = path.parent().unwrap_or(Path::new(".")).join(&ex.id);
                ex.files = files.is_dir().then_some(files);
                exercises.push(ex)
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(exercises)
    } else {
        Err(Error::Spec(errors))
    }
}

fn select(all: Vec<Exercise>, wanted: &[String], dir: &Path) -> Result<Vec<Exercise>, Error> {
    if wanted.is_empty() {
        if all.is_empty() {
            return Err(Error::Usage(format!(
                "no exercise specs in {}",
                dir.display()
            )));
        }
        return Ok(all);
    }
    let mut out = Vec::new();
    for id in wanted {
        match all.iter().find(|e| &e.id == id) {
            Some(e) => out.push(e.clone()),
            None => {
                let known: Vec<&str> = all.iter().map(|e| e.id.as_str()).collect();
                return Err(Error::Usage(format!(
                    "no exercise `{id}` in {} (known: {})",
                    dir.display(),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )));
            }
        }
    }
    Ok(out)
}

fn lint(files: Vec<PathBuf>, dir: &Path) -> Result<i32, Error> {
    let exercises = if files.is_empty() {
        load_dir(dir)?
    } else {
        load_files(&files)?
    };
    println!("{} exercise spec(s) OK", exercises.len());
    Ok(exit::SUCCESS)
}

fn list(dir: &Path) -> Result<i32, Error> {
    let mut exercises = load_dir(dir)?;
    exercises.sort_by(|a, b| {
        section_key(a)
            .cmp(&section_key(b))
            .then_with(|| a.id.cmp(&b.id))
    });
    let width = exercises.iter().map(|e| e.id.len()).max().unwrap_or(2);
    let mut out = io::stdout().lock();
    let _ = writeln!(
        out,
        "{:<8} {:<width$}  {:>6}  TITLE",
        "SECTION", "ID", "POINTS"
    );
    for e in &exercises {
        let _ = writeln!(
            out,
            "{:<8} {:<width$}  {:>6}  {}",
            e.section.as_deref().unwrap_or("-"),
            e.id,
            e.max_points(),
            e.title
        );
    }
    Ok(exit::SUCCESS)
}

/// Orders "2.2" before "10.1": numeric parts compared as numbers.
fn section_key(e: &Exercise) -> Vec<u32> {
    e.section
        .as_deref()
        .unwrap_or("")
        .split('.')
        .map(|p| p.parse().unwrap_or(u32::MAX))
        .collect()
}

async fn clean() -> Result<i32, Error> {
    let engine = Engine::connect("clean").await?;
    let report = engine.clean_all().await?;
    println!(
        "removed {} container(s), {} image(s), {} volume(s) labelled {}",
        report.containers,
        report.images,
        report.volumes,
        crate::engine::LABEL
    );
    for f in &report.failures {
        eprintln!("could not remove {f}");
    }
    Ok(if report.failures.is_empty() {
        exit::SUCCESS
    } else {
        exit::INFRASTRUCTURE
    })
}

type ReportFile = (PathBuf, io::BufWriter<fs::File>);

async fn validate(
    exercises: Vec<Exercise>,
    solutions: PathBuf,
    jobs: usize,
    junit: Option<ReportFile>,
    json: Option<ReportFile>,
) -> Result<i32, Error> {
    let engine = Engine::connect(&runner::new_run_id()).await?;
    let started = Instant::now();
    let progress = |what: &str| {
        if io::stderr().is_terminal() {
            eprint!("\r\x1b[2Kvalidating {what}…");
        }
    };
    let run = crate::validate::validate(&engine, &exercises, &solutions, jobs, &progress);
    let report = tokio::select! {
        r = run => r,
        _ = tokio::signal::ctrl_c() => {
            engine.cleanup().await;
            return Ok(exit::INTERRUPTED);
        }
    };
    engine.cleanup().await;
    if io::stderr().is_terminal() {
        eprint!("\r\x1b[2K");
    }
    let report = report.map_err(Error::Usage)?;
    let color =
        io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    print!("{}", crate::validate::render_human(&report, color));
    println!(
        "validated in {}",
        crate::spec::units::format_duration(started.elapsed())
    );
    if let Some((path, mut w)) = junit {
        let xml = crate::validate::render_junit(&report).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        w.write_all(&xml)
            .and_then(|_| w.flush())
            .map_err(|source| Error::Write { path, source })?;
    }
    if let Some((path, mut w)) = json {
        let text = serde_json::to_string_pretty(&report).unwrap_or_default();
        writeln!(w, "{text}")
            .and_then(|_| w.flush())
            .map_err(|source| Error::Write { path, source })?;
    }
    Ok(report.exit_code())
}

async fn check(
    exercises: Vec<Exercise>,
    options: RunOptions,
    mut reporters: Vec<Box<dyn Reporter>>,
) -> Result<i32, Error> {
    let started = Instant::now();
    let run_id = runner::new_run_id();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    // Reporters write to files and terminals: keep that off the async workers.
    let sink = tokio::task::spawn_blocking(move || {
        let mut failed = None;
        while let Some(event) = rx.blocking_recv() {
            for r in reporters.iter_mut() {
                if let Err(e) = r.report(&event) {
                    failed.get_or_insert(e);
                }
            }
        }
        failed
    });
    let _ = tx.send(Event::RunStarted {
        run_id: run_id.clone(),
        exercises: exercises.iter().map(runner::preview).collect(),
    });
    let engine = match Engine::connect(&run_id).await {
        Ok(engine) => engine,
        Err(e) => {
            drop(tx);
            let _ = sink.await;
            return Err(e.into());
        }
    };

    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Error::Usage(format!("cannot watch for SIGTERM: {e}")))?;
    let run = runner::run(&engine, &exercises, &options, &tx);
    let (results, interrupted): (Vec<ExerciseResult>, Option<&'static str>) = tokio::select! {
        results = run => (results, None),
        _ = tokio::signal::ctrl_c() => (Vec::new(), Some("SIGINT")),
        _ = sigterm.recv() => (Vec::new(), Some("SIGTERM")),
    };
    // The run future is dropped on a signal, which abandons in-flight daemon
    // calls; everything created so far is recorded and labelled, so cleanup
    // finds it.
    let cleanup = engine.cleanup().await;
    for f in &cleanup.failures {
        tracing::warn!("cleanup: could not remove {f}");
    }
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
    Ok(match interrupted {
        Some("SIGINT") => exit::INTERRUPTED,
        Some(_) => exit::TERMINATED,
        None => exit_code_for(&results),
    })
}

/// 3 when any check errored (the grade cannot be trusted), else 1 when any
/// check did not pass, else 0.
pub fn exit_code_for(results: &[ExerciseResult]) -> i32 {
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
