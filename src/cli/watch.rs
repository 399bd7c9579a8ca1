//! `dockgrade check --watch`: grade, then grade again whenever a file of the
//! submission changes, until Ctrl-C.
//!
//! Changes are debounced (an editor saving writes several times; a burst
//! becomes one run) and only writes count: grading reads the submission,
//! and reading it must not start another run. The report files `check`
//! writes, if they are inside the folder, and `.git/` are not watched. A
//! Ctrl-C while grading ends that run as `check` ends one (everything
//! created is removed); between runs it simply ends.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecursiveMode, Watcher};

use super::check::{CheckArgs, check, reporters, selected};
use crate::error::Error;
use crate::exit;
use crate::runner::RunOptions;
use crate::signal::Signals;

/// How long the folder must stay quiet before a burst of writes is graded.
const QUIET: Duration = Duration::from_millis(300);

pub(super) async fn watch(args: &CheckArgs, dir: &Path) -> Result<i32, Error> {
    let mut signals = Signals::install()
        .map_err(|e| Error::Infrastructure(format!("cannot watch for signals: {e}")))?;
    let ignored = ignored_paths(args);
    let (tx, mut changes) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && is_write(&event.kind)
            && event.paths.iter().any(|p| !is_ignored(p, &ignored))
        {
            let _ = tx.send(());
        }
    })
    .map_err(|e| Error::Infrastructure(format!("cannot watch the submission: {e}")))?;
    watcher
        .watch(&args.submission, RecursiveMode::Recursive)
        .map_err(|e| {
            Error::Infrastructure(format!("cannot watch {}: {e}", args.submission.display()))
        })?;
    let clear = io::stdout().is_terminal();
    loop {
        if clear {
            // Each run on a clean screen, from the top.
            let _ = write!(io::stdout(), "\u{1b}[2J\u{1b}[H");
        }
        // The specs are read again too: a course author can watch as well.
        match selected(args, dir).and_then(|ex| Ok((ex, reporters(args)?))) {
            Ok((exercises, reporters)) => {
                let options = RunOptions {
                    submission: args.submission.clone(),
                    jobs: usize::from(args.jobs.jobs),
                };
                let code = check(exercises, options, reporters, &mut signals).await?;
                if code == exit::INTERRUPTED || code == exit::TERMINATED {
                    return Ok(code);
                }
            }
            Err(e) => eprint!("{}", e.render()),
        }
        eprintln!(
            "\nwatching {} for changes; Ctrl-C to stop",
            args.submission.display()
        );
        tokio::select! {
            changed = changes.recv() => {
                if changed.is_none() {
                    return Ok(exit::SUCCESS);
                }
                settle(&mut changes).await;
            }
            signal = signals.recv() => return Ok(signal.exit_code()),
        }
    }
}

/// Waits until no change has come for [`QUIET`].
async fn settle(changes: &mut tokio::sync::mpsc::UnboundedReceiver<()>) {
    while let Ok(Some(())) = tokio::time::timeout(QUIET, changes.recv()).await {}
}

/// Writes, creations, removals, renames and mode changes; not reads.
fn is_write(kind: &EventKind) -> bool {
    match kind {
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => true,
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Any | EventKind::Other => false,
    }
}

/// The report files `check` writes and `.git/`, as absolute paths.
fn ignored_paths(args: &CheckArgs) -> Vec<PathBuf> {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut ignored: Vec<PathBuf> = args.report_paths().iter().map(|p| absolute(p)).collect();
    ignored.push(absolute(&args.submission.join(".git")));
    ignored
}

/// A report file, one being written (its temporary file), or under `.git/`.
fn is_ignored(path: &Path, ignored: &[PathBuf]) -> bool {
    let temporary = path
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with(crate::report::TEMP_PREFIX));
    temporary || ignored.iter().any(|i| path.starts_with(i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, ModifyKind};

    #[test]
    fn only_writes_start_a_run() {
        assert!(is_write(&EventKind::Modify(ModifyKind::Any)));
        assert!(is_write(&EventKind::Create(CreateKind::File)));
        assert!(is_write(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(!is_write(&EventKind::Access(AccessKind::Open(
            AccessMode::Read
        ))));
        assert!(!is_write(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
    }

    #[test]
    fn reports_and_git_are_not_watched() {
        let ignored = vec![PathBuf::from("/w/report.json"), PathBuf::from("/w/.git")];
        assert!(is_ignored(Path::new("/w/report.json"), &ignored));
        assert!(is_ignored(Path::new("/w/.git/index"), &ignored));
        assert!(!is_ignored(Path::new("/w/Dockerfile"), &ignored));
        assert!(is_ignored(Path::new("/w/.dockgrade-report-x1y2"), &ignored));
    }
}
