//! `dockgrade merge`: shards graded apart (`batch --shard K/N`) made into
//! one gradebook, refused when they were not graded alike.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::batch::gradebook::{Batch, read_batch};
use crate::batch::roster;
use crate::batch::shard::Shard;
use crate::batch::store::Store;
use crate::batch::write_gradebook;
use crate::error::Error;
use crate::exit;

#[derive(Debug, Args)]
pub(super) struct MergeArgs {
    /// The `--out` folders of the shards.
    #[arg(required = true)]
    shards: Vec<PathBuf>,
    /// Where the merged gradebook goes.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The class list: students no shard graded are named.
    #[arg(long, value_name = "CSV")]
    roster: Option<PathBuf>,
}

pub(super) fn run(args: MergeArgs) -> Result<i32, Error> {
    let shards: Vec<(PathBuf, Batch)> = args
        .shards
        .iter()
        .map(|dir| read_batch(dir).map(|b| (dir.clone(), b)))
        .collect::<Result<_, _>>()?;
    let (first_dir, first) = &shards[0];
    let mut graded_by: BTreeMap<String, &Path> = BTreeMap::new();
    let mut students = Vec::new();
    let mut warnings = Vec::new();
    let mut slowest = 0.0f64;
    for (dir, b) in &shards {
        if b.version != first.version || b.course != first.course {
            return Err(Error::Usage(format!(
                "{} was graded with {} (course {}), {} with {} (course {}): merge only shards of one batch",
                dir.display(),
                b.version,
                short(&b.course),
                first_dir.display(),
                first.version,
                short(&first.course)
            )));
        }
        for row in &b.students {
            if let Some(other) = graded_by.insert(row.student.id.clone(), dir) {
                return Err(Error::Usage(format!(
                    "student {:?} is in both {} and {}: shards must not overlap",
                    row.student.id,
                    other.display(),
                    dir.display()
                )));
            }
            students.push(row.clone());
        }
        warnings.extend(b.warnings.iter().cloned());
        slowest = slowest.max(b.duration_seconds);
    }
    if let Some(path) = &args.roster {
        warnings.extend(unmatched(path, &graded_by)?);
    }
    let store = Store::create(&args.out)?;
    for (dir, b) in &shards {
        for row in &b.students {
            copy_student(
                &dir.join("students").join(&row.folder),
                &args.out.join("students").join(&row.folder),
            )?;
        }
    }
    let merged = Batch::new(
        first.course.clone(),
        first.exercises.clone(),
        Shard::ALL,
        first.layout,
        std::time::Duration::from_secs_f64(slowest.max(0.0)),
        warnings,
        students,
    );
    write_gradebook(&store, &merged)?;
    say!(
        "merged {} shard(s): {} students into {}",
        shards.len(),
        merged.students.len(),
        args.out.display()
    );
    Ok(exit::SUCCESS)
}

/// A warning naming the roster's students that no shard graded.
fn unmatched(roster: &Path, graded: &BTreeMap<String, &Path>) -> Result<Option<String>, Error> {
    let absent: Vec<String> = roster::read(roster)
        .map_err(Error::Usage)?
        .into_iter()
        .filter(|s| !graded.contains_key(&s.id))
        .map(|s| s.id)
        .collect();
    if absent.is_empty() {
        return Ok(None);
    }
    let w = format!(
        "{} roster student(s) are in no shard (was a shard not run?): {}",
        absent.len(),
        absent.join(", ")
    );
    eprintln!("warning: {}", crate::report::visible(&w));
    Ok(Some(w))
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

/// Copies a student's files (plain files, one level) into the merged output.
fn copy_student(from: &Path, to: &Path) -> Result<(), Error> {
    let failed = |source| Error::Write {
        path: to.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(to).map_err(failed)?;
    let entries = match std::fs::read_dir(from) {
        Ok(e) => e,
        Err(_) => return Ok(()),
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            std::fs::copy(entry.path(), to.join(entry.file_name())).map_err(failed)?;
        }
    }
    Ok(())
}
