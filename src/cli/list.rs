//! `dockgrade list`: the exercises by section, with their points; with
//! `--status`, where a submission folder stands (what `check` last found
//! there, from the user's cache: nothing is graded again).

use std::path::PathBuf;

use clap::Args;

use super::Course;
use crate::catalog;
use crate::error::Error;
use crate::exit;
use crate::last_results::{self, LastResult};
use crate::spec::Exercise;

#[derive(Debug, Args)]
pub(super) struct ListArgs {
    #[command(flatten)]
    course: Course,
    /// Also show what `dockgrade check` last found for each exercise in the
    /// submission folder.
    #[arg(long)]
    status: bool,
    /// The submission folder whose status is shown.
    #[arg(long, default_value = ".", requires = "status")]
    submission: PathBuf,
}

pub(super) fn run(args: ListArgs) -> Result<i32, Error> {
    let dir = args.course.dir()?;
    let exercises = catalog::in_course_order(catalog::load_dir(&dir)?);
    let last = if args.status {
        Some(last_results::of(&args.submission))
    } else {
        None
    };
    say_raw!("{}", table(&exercises, last.as_ref()));
    Ok(exit::SUCCESS)
}

/// The listing; with `last`, a STATUS column.
fn table(
    exercises: &[Exercise],
    last: Option<&std::collections::BTreeMap<String, LastResult>>,
) -> String {
    let width = exercises.iter().map(|e| e.id.len()).max().unwrap_or(2);
    let mut out = format!("{:<8} {:<width$}  {:>6}", "SECTION", "ID", "POINTS");
    if last.is_some() {
        out.push_str(&format!("  {:<13}", "STATUS"));
    }
    out.push_str("  TITLE\n");
    for e in exercises {
        out.push_str(&format!(
            "{:<8} {:<width$}  {:>6}",
            e.section.as_deref().unwrap_or("-"),
            e.id,
            e.max_points()
        ));
        if let Some(last) = last {
            let status = match last.get(&e.id) {
                Some(r) if r.passed => "passed".to_string(),
                Some(r) => format!("{}/{} points", r.points, r.max_points),
                None => "not graded".to_string(),
            };
            out.push_str(&format!("  {status:<13}"));
        }
        out.push_str(&format!("  {}\n", e.title));
    }
    if let Some(last) = last {
        let passed = exercises
            .iter()
            .filter(|e| last.get(&e.id).is_some_and(|r| r.passed))
            .count();
        out.push_str(&format!(
            "\n{passed} of {} exercises passed here (as `dockgrade check` last found)\n",
            exercises.len()
        ));
    }
    out
}
