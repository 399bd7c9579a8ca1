//! The command line: arguments (clap), and one module per subcommand.
//!
//! `main` only calls [`main`] here and exits with what it returns; every exit
//! code comes from [`crate::exit`]. Arguments shared by several subcommands
//! are declared once, as flattened groups.

/// `println!` for what a command prints on standard output, except that a
/// closed pipe (`dockgrade list | head -1`) is not an error: the reader has
/// what it wanted, and the command goes on to its end (and its cleanup).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// [`say!`] without the newline.
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

mod batch;
mod check;
mod clean;
mod completions;
mod doctor;
mod export;
mod init;
mod lint;
mod list;
mod man;
mod merge;
mod prepare;
mod show;
mod validate;
mod watch;

use std::io;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::Error;
use crate::exit;
use crate::report::ReportFile;

/// `--version`: dockgrade's, and the versions of the files it writes
/// (tested against the schema constants).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (reports dockgrade.report/1, batches dockgrade.batch/1)"
);

#[derive(Debug, Parser)]
#[command(
    name = "dockgrade",
    version = VERSION,
    about = "Grade Docker exercises against a real Docker daemon",
    after_help = exit::help::CHECK
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build, run and check a submission against exercises.
    #[command(after_help = exit::help::CHECK)]
    Check(check::CheckArgs),
    /// Show an exercise's task: what to do, what to submit, its checks.
    #[command(after_help = exit::help::PLAIN)]
    Show(show::ShowArgs),
    /// Start an exercise: write its starter files, the course files it gives
    /// and its data into a folder (existing files are kept).
    #[command(after_help = exit::help::PLAIN)]
    Init(init::InitArgs),
    /// List the exercises with their sections and points (and, with
    /// --status, which ones this folder passes).
    #[command(after_help = exit::help::PLAIN)]
    List(list::ListArgs),
    /// Check exercise specs for errors (no daemon needed).
    #[command(after_help = exit::help::PLAIN)]
    Lint {
        /// Spec files (default: every *.toml in --exercises-dir).
        files: Vec<PathBuf>,
        #[command(flatten)]
        course: Course,
    },
    /// Course CI: every solution passes, every known-wrong submission fails
    /// exactly the checks its expect.toml lists, and every check can fail.
    #[command(after_help = exit::help::VALIDATE)]
    Validate(validate::ValidateArgs),
    /// Grade a folder of submissions (a class) into a gradebook: in
    /// parallel, resumable, sharded if asked.
    #[command(after_help = exit::help::BATCH)]
    Batch(batch::BatchArgs),
    /// Combine the outputs of `batch --shard K/N` into one gradebook.
    #[command(after_help = exit::help::PLAIN)]
    Merge(merge::MergeArgs),
    /// A batch's grades as an LMS gradebook import (Canvas, Moodle).
    #[command(after_help = exit::help::PLAIN)]
    Export(export::ExportArgs),
    /// Check that this machine can take the course (daemon, images, --user).
    #[command(after_help = exit::help::DOCTOR)]
    Doctor {
        #[command(flatten)]
        course: Course,
    },
    /// Make every image the exercises need present: pull what is missing,
    /// or load it from an archive (--from) that --save wrote elsewhere.
    #[command(after_help = exit::help::PREPARE)]
    Prepare(prepare::PrepareArgs),
    /// Remove what finished runs left on the daemon (runs still in
    /// progress, here or elsewhere, are kept unless asked).
    #[command(after_help = exit::help::PLAIN)]
    Clean(clean::CleanArgs),
    /// Print the completion script for a shell.
    Completions(completions::CompletionsArgs),
    /// Print the manual page (or write every page into a folder).
    Man(man::ManArgs),
}

/// Where the course's exercise specs are.
#[derive(Debug, Args)]
struct Course {
    /// Folder holding the exercise specs (default: $DOCKGRADE_EXERCISES, else
    /// an exercises/ folder here or in a parent folder, else the course
    /// installed with dockgrade).
    #[arg(long, value_name = "DIR")]
    exercises_dir: Option<PathBuf>,
}

impl Course {
    /// The exercises folder, found as `catalog::locate` finds it.
    fn locate(&self) -> Result<crate::catalog::CourseDir, Error> {
        crate::catalog::locate(self.exercises_dir.as_deref())
    }

    /// The exercises folder's path.
    fn dir(&self) -> Result<PathBuf, Error> {
        self.locate().map(|c| c.exercises)
    }
}

/// Report files written besides what is printed.
#[derive(Debug, Args)]
struct ReportFiles {
    /// Also write a JUnit XML report to this file.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Also write a JSON report to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

impl ReportFiles {
    /// Opens both files now, so a path that cannot be written is a usage
    /// error before anything is graded.
    fn open(&self) -> Result<(Option<ReportFile>, Option<ReportFile>), Error> {
        let junit = self.junit.as_deref().map(ReportFile::create).transpose()?;
        let json = self.json.as_deref().map(ReportFile::create).transpose()?;
        Ok((junit, json))
    }
}

/// How many things run at once.
#[derive(Debug, Args)]
struct Jobs {
    /// Steps run at the same time, at most.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
    Junit,
    /// A summary for students, as on GitHub's job summary page.
    Markdown,
    /// GitHub Classroom's `result=` line (to `$GITHUB_OUTPUT` when set).
    Classroom,
    /// Gradescope's results.json.
    Gradescope,
    /// PrairieLearn's results.json.
    Prairielearn,
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
    let result = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Show(args) => show::run(args),
        Command::Init(args) => init::run(args),
        Command::List(args) => list::run(args),
        Command::Lint { files, course } => lint::run(&files, &course),
        Command::Validate(args) => validate::run(args),
        Command::Batch(args) => batch::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Export(args) => export::run(args),
        Command::Doctor { course } => doctor::run(course.locate()),
        Command::Prepare(args) => prepare::run(args),
        Command::Clean(args) => clean::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
    };
    match result {
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

/// The async runtime long commands run on.
fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(runtime_failed)
}

/// A runtime that cannot start is this machine's problem, not the user's.
fn runtime_failed(e: io::Error) -> Error {
    Error::Infrastructure(format!("cannot start the async runtime: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runtime_that_cannot_start_is_an_infrastructure_error() {
        let e = runtime_failed(io::Error::other("out of threads"));
        assert_eq!(e.exit_code(), exit::INFRASTRUCTURE);
        assert!(e.to_string().contains("out of threads"));
    }

    #[test]
    fn the_version_names_the_schemas_written() {
        assert!(VERSION.contains(crate::report::json::SCHEMA));
        assert!(VERSION.contains(crate::batch::gradebook::SCHEMA));
    }

    #[test]
    fn every_subcommand_lists_its_exit_codes() {
        use clap::CommandFactory;
        let mut cli = Cli::command();
        for sub in cli.get_subcommands_mut() {
            if sub.get_name() == "help" {
                continue;
            }
            let help = sub.render_long_help().to_string();
            assert!(help.contains("Exit codes:"), "{}: {help}", sub.get_name());
        }
    }

    #[test]
    fn every_subcommand_documents_its_options() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let mut cli = Cli::command();
        let check = cli.find_subcommand_mut("check").expect("check");
        let help = check.render_help().to_string();
        assert!(help.contains("default: all in --exercises-dir"), "{help}");
    }
}
