//! `dockgrade export canvas|moodle GRADES`: a batch's grades (its
//! `batch.json`) as the LMS's gradebook import. The formats are
//! `batch::export`'s; here the files are read and written.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::batch::export::{self, Identity};
use crate::batch::gradebook::read_batch;
use crate::error::Error;
use crate::exit;
use crate::report::{Destination, ReportFile};

#[derive(Debug, Args)]
pub(super) struct ExportArgs {
    #[command(subcommand)]
    to: Lms,
}

#[derive(Debug, Subcommand)]
enum Lms {
    /// Canvas's gradebook import, matched through Canvas's own export.
    Canvas {
        /// The `--out` folder of a batch (or of `merge`).
        grades: PathBuf,
        /// The gradebook CSV Canvas exports (Grades → Export): its students
        /// are matched to the batch's by SIS Login ID, SIS User ID or ID.
        #[arg(long, value_name = "CSV")]
        roster: PathBuf,
        /// The assignment's column, as Canvas names it.
        #[arg(long)]
        assignment: String,
        /// Write here instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// A CSV for Moodle's "Import grades from CSV".
    Moodle {
        /// The `--out` folder of a batch (or of `merge`).
        grades: PathBuf,
        /// The column Moodle maps users by.
        #[arg(long, value_enum)]
        identity: Identity,
        /// Write here instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

pub(super) fn run(args: ExportArgs) -> Result<i32, Error> {
    let (bytes, left_out, out, why) = match args.to {
        Lms::Canvas {
            grades,
            roster,
            assignment,
            out,
        } => {
            let batch = read_batch(&grades)?;
            let file = std::fs::File::open(&roster).map_err(|source| Error::Read {
                path: roster.clone(),
                source,
            })?;
            let students = export::canvas_roster(file)
                .map_err(|e| Error::Usage(format!("{}: {e}", roster.display())))?;
            let (bytes, unknown) = export::canvas(&batch, &students, &assignment)
                .map_err(|e| Error::Usage(format!("writing the Canvas import: {e}")))?;
            (bytes, unknown, out, "not in Canvas's export")
        }
        Lms::Moodle {
            grades,
            identity,
            out,
        } => {
            let batch = read_batch(&grades)?;
            let (bytes, unmatched) = export::moodle(&batch, identity)
                .map_err(|e| Error::Usage(format!("writing the Moodle import: {e}")))?;
            (
                bytes,
                unmatched,
                out,
                "no value for that identity (left out)",
            )
        }
    };
    for student in &left_out {
        eprintln!("warning: student {student:?}: {why}");
    }
    let destination = match out {
        Some(path) => Destination::File(ReportFile::create(&path)?),
        None => Destination::Stdout,
    };
    destination.write(&bytes)?;
    Ok(exit::SUCCESS)
}
