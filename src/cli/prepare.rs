//! `dockgrade prepare [EXERCISE...]`: make every image the exercises need
//! present on the daemon, for classrooms with little or no registry access.
//!
//! Which images: [`crate::prepare::needed_images`]. Those present are
//! reported as such; when some are missing and `--from FILE` names an
//! archive (written by `prepare --save` on a machine that has them), it is
//! loaded once, through the daemon's load API only; what is still missing
//! is pulled, one image at a time, each bounded by `--pull-timeout`, with a
//! progress bar per layer on a terminal (a line per layer's change of
//! status otherwise, on standard error). The end says what is still
//! missing and how to get it. `--save FILE` then writes every needed image
//! the daemon has into one archive, complete or not at all. Ctrl-C stops at
//! once: a pull in flight is dropped (the daemon stops it), and a
//! half-written archive is removed.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Course, runtime};
use crate::catalog;
use crate::engine::{Engine, ImageArchive, PullProgress, TransferError};
use crate::error::Error;
use crate::exit;
use crate::names;
use crate::prepare::{needed_images, read_dockerfiles};
use crate::report::visible;
use crate::signal::Signals;
use crate::units::{format_duration, format_size, parse_duration};

#[derive(Debug, Args)]
pub(super) struct PrepareArgs {
    /// Exercises whose images to prepare (default: all in --exercises-dir).
    exercises: Vec<String>,
    #[command(flatten)]
    course: Course,
    /// Load the images from this archive (written by `dockgrade prepare
    /// --save` on a machine that has them) before pulling what is still
    /// missing.
    #[arg(long, value_name = "FILE")]
    from: Option<PathBuf>,
    /// Then write every needed image this daemon has into this archive,
    /// for machines without a registry.
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    /// Give up on pulling an image after this long, e.g. "30s".
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
    pull_timeout: Duration,
    /// Never ask a registry: only what is here or in --from.
    #[arg(long)]
    no_pull: bool,
}

pub(super) fn run(args: PrepareArgs) -> Result<i32, Error> {
    let course = args.course.locate()?;
    let all = catalog::load_dir(&course.exercises)?;
    let selected = catalog::select(all, &args.exercises, &course.exercises)?;
    let dockerfiles = read_dockerfiles(&selected, &course.starters());
    let needed = needed_images(&selected, &dockerfiles);
    // Bad files are the command line's fault: said before the daemon is used.
    let archive = args
        .from
        .as_deref()
        .map(ImageArchive::open)
        .transpose()
        .map_err(|e| Error::Usage(format!("--from: {e}")))?;
    if let Some(save) = &args.save {
        writable(save)?;
    }
    runtime()?.block_on(async {
        let mut signals = Signals::install()
            .map_err(|e| Error::Infrastructure(format!("cannot watch for signals: {e}")))?;
        let engine = Engine::connect(&names::new_run_id()).await?;
        // On a signal the work is dropped where it stands: the pull's
        // request closes (the daemon stops it) and a partial archive's
        // temporary file is removed.
        tokio::select! {
            code = prepare(&engine, &needed, archive, &args) => code,
            signal = signals.recv() => {
                engine.cancel();
                let archive = if args.save.is_some() { "; no partial archive is left" } else { "" };
                eprintln!("\n{signal}: stopped{archive}");
                Ok(signal.exit_code())
            }
        }
    })
}

/// A path `--save` can write to: not a folder, in a folder that exists.
fn writable(path: &Path) -> Result<(), Error> {
    let refuse = |why: &str| {
        Err(Error::Write {
            path: path.to_path_buf(),
            source: std::io::Error::other(why.to_string()),
        })
    };
    if path.is_dir() {
        return refuse("it is a folder");
    }
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => {
            refuse("its folder does not exist")
        }
        _ => Ok(()),
    }
}

/// An image not on the daemon yet, with why each attempt to get it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Missing {
    image: String,
    why: Vec<String>,
}

/// Where the needed images stand.
#[derive(Debug, Default)]
struct Tally {
    missing: Vec<Missing>,
}

impl Tally {
    fn images(&self) -> Vec<String> {
        self.missing.iter().map(|m| m.image.clone()).collect()
    }
}

/// Present, then loaded, then pulled; then what is missing, then saved.
async fn prepare(
    engine: &Engine,
    needed: &[String],
    archive: Option<ImageArchive>,
    args: &PrepareArgs,
) -> Result<i32, Error> {
    if needed.is_empty() {
        say!("The selected exercises need no image.");
        return Ok(exit::SUCCESS);
    }
    say!("{} image(s) needed: {}", needed.len(), needed.join(", "));
    let present = engine.present_images(needed).await?;
    let mut tally = Tally::default();
    for image in needed {
        if present.contains(image) {
            say!("✓ {image}: present");
        } else {
            tally.missing.push(Missing {
                image: image.clone(),
                why: Vec::new(),
            });
        }
    }
    if let Some(archive) = archive {
        load(engine, archive, needed, &mut tally).await?;
    }
    if args.no_pull {
        for m in &mut tally.missing {
            m.why.push("not pulled (--no-pull)".into());
        }
    } else {
        pull_missing(engine, args.pull_timeout, &mut tally).await?;
    }
    for m in &tally.missing {
        say!("✗ {}: missing ({})", m.image, m.why.join("; "));
    }
    if !tally.missing.is_empty() {
        say_raw!(
            "{}",
            advice(
                &tally.missing,
                &args.exercises,
                args.from.as_deref().or(args.save.as_deref())
            )
        );
    }
    let saved = match &args.save {
        Some(path) => save(engine, needed, path).await?,
        None => true,
    };
    Ok(if tally.missing.is_empty() && saved {
        say!("Every image the exercises need is here.");
        exit::SUCCESS
    } else {
        exit::CHECK_FAILED
    })
}

/// Loads `archive` when an image is missing, and notes what it brought.
async fn load(
    engine: &Engine,
    archive: ImageArchive,
    needed: &[String],
    tally: &mut Tally,
) -> Result<(), Error> {
    let shown = archive.path().display().to_string();
    if tally.missing.is_empty() {
        say!("{shown} not loaded: every image is already here");
        return Ok(());
    }
    say!("loading {shown} ({})…", format_size(archive.size()));
    let loaded = engine
        .load_images(archive, |line| {
            let other = line
                .strip_prefix("Loaded image: ")
                .is_some_and(|image| !needed.iter().any(|n| n == image));
            let note = if other { "  (not needed here)" } else { "" };
            say!("  {}{note}", visible(line));
        })
        .await;
    let note = match loaded {
        Ok(()) => format!("not in {shown}"),
        Err(e) => {
            say!("✗ {shown} could not be loaded: {}", visible(&e.to_string()));
            format!("{shown} could not be loaded")
        }
    };
    let now = engine.present_images(&tally.images()).await?;
    tally.missing.retain_mut(|m| {
        if now.contains(&m.image) {
            say!("✓ {}: loaded from {shown}", m.image);
            false
        } else {
            m.why.push(note.clone());
            true
        }
    });
    Ok(())
}

/// Pulls every missing image, one at a time, each within `timeout`.
async fn pull_missing(engine: &Engine, timeout: Duration, tally: &mut Tally) -> Result<(), Error> {
    let mut still = Vec::new();
    for mut m in std::mem::take(&mut tally.missing) {
        let mut display = PullDisplay::new(&m.image);
        let pulled = engine
            .pull_with_progress(&m.image, timeout, |p| display.show(&p))
            .await;
        display.finish();
        let failed = match pulled {
            Ok(()) => {
                let here = engine
                    .present_images(std::slice::from_ref(&m.image))
                    .await?;
                if here.contains(&m.image) {
                    say!("✓ {}: pulled", m.image);
                    continue;
                }
                "the pull ended without the image".to_string()
            }
            Err(TransferError::TimedOut(t)) => format!(
                "no registry answered within {} (--pull-timeout)",
                format_duration(t)
            ),
            Err(e) => format!("pull failed: {}", visible(&e.to_string())),
        };
        m.why.push(failed);
        still.push(m);
    }
    tally.missing = still;
    Ok(())
}

/// Writes every needed image the daemon has into `path`; whether all were.
async fn save(engine: &Engine, needed: &[String], path: &Path) -> Result<bool, Error> {
    let present = engine.present_images(needed).await?;
    let missing: Vec<&String> = needed.iter().filter(|i| !present.contains(*i)).collect();
    let shown = path.display();
    if present.is_empty() {
        say!("✗ nothing saved to {shown}: none of the images is here");
        return Ok(false);
    }
    let images: Vec<String> = present.into_iter().collect();
    match engine.save_images(&images, path).await {
        Ok(size) => say!(
            "saved {} image(s) to {shown} ({}): {}",
            images.len(),
            format_size(size),
            images.join(", ")
        ),
        Err(TransferError::Write { path, message }) => {
            return Err(Error::Write {
                path,
                source: std::io::Error::other(message),
            });
        }
        Err(e) => {
            return Err(Error::Infrastructure(format!(
                "the daemon could not save the images: {e}"
            )));
        }
    }
    if !missing.is_empty() {
        let list: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        say!(
            "✗ not in {shown}, as they are not here: {}",
            list.join(", ")
        );
    }
    Ok(missing.is_empty())
}

/// What to do about the images still missing; `archive` is the one named
/// on the command line, if any.
fn advice(missing: &[Missing], exercises: &[String], archive: Option<&Path>) -> String {
    let selection: String = exercises.iter().map(|e| format!(" {e}")).collect();
    let archive = archive
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "images.tar".to_string());
    let images: Vec<&str> = missing.iter().map(|m| m.image.as_str()).collect();
    let mut out = format!(
        "\n{} image(s) still missing: {}\nHow to get them:\n",
        missing.len(),
        images.join(", ")
    );
    out.push_str(&format!(
        "  - on a machine that has them (or can pull them): `dockgrade prepare{selection} --save {archive}`,\n    \
         bring {archive} here, then: `dockgrade prepare{selection} --from {archive}`\n"
    ));
    out.push_str(&format!(
        "  - or, where a registry answers: {}\n",
        images
            .iter()
            .map(|i| format!("`docker pull {i}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out
}

/// A layer's id, as pulls name layers (12 hex digits), not a tag.
fn is_layer(id: &str) -> bool {
    id.len() >= 12 && id.chars().all(|c| c.is_ascii_hexdigit())
}

/// How one pull's progress is shown, on standard error.
#[derive(Debug)]
enum PullDisplay {
    /// A bar per layer.
    Bars {
        multi: MultiProgress,
        /// Each layer's line, and whether it shows a bar now.
        layers: HashMap<String, (ProgressBar, bool)>,
        image: String,
    },
    /// A line whenever a layer's status changes.
    Lines {
        image: String,
        last: HashMap<String, String>,
    },
}

impl PullDisplay {
    fn new(image: &str) -> PullDisplay {
        if std::io::stderr().is_terminal() {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let _ = multi.println(format!("pulling {image}…"));
            PullDisplay::Bars {
                multi,
                layers: HashMap::new(),
                image: image.to_string(),
            }
        } else {
            eprintln!("pulling {image}…");
            PullDisplay::Lines {
                image: image.to_string(),
                last: HashMap::new(),
            }
        }
    }

    fn show(&mut self, p: &PullProgress) {
        match self {
            PullDisplay::Bars { multi, layers, .. } => {
                let Some(id) = p.id.as_deref().filter(|id| is_layer(id)) else {
                    let _ = multi.println(format!("  {}", visible(&p.status)));
                    return;
                };
                let (bar, counting) = layers.entry(id.to_string()).or_insert_with(|| {
                    let bar = multi.add(ProgressBar::no_length());
                    bar.set_style(style(PLAIN));
                    bar.set_prefix(visible(id));
                    (bar, false)
                });
                // A bar only while there are bytes to count.
                if p.total.is_some() != *counting {
                    *counting = p.total.is_some();
                    bar.set_style(style(if *counting { COUNTING } else { PLAIN }));
                }
                bar.set_message(visible(&p.status));
                if let Some(total) = p.total {
                    bar.set_length(total);
                }
                if let Some(current) = p.current {
                    bar.set_position(current);
                }
            }
            PullDisplay::Lines { image, last } => {
                if let Some(line) = status_line(last, p) {
                    eprintln!("  {image}: {line}");
                }
            }
        }
    }

    fn finish(self) {
        if let PullDisplay::Bars {
            multi,
            layers,
            image,
        } = self
        {
            for (bar, _) in layers.values() {
                bar.finish_and_clear();
            }
            let _ = multi.clear();
            tracing::debug!("pull of {image} over");
        }
    }
}

/// A layer's line while no bytes are counted, and while they are.
const PLAIN: &str = "  {prefix} {msg}";
const COUNTING: &str = "  {prefix} {msg:20} {bar:30} {bytes}/{total_bytes}";

/// A progress bar's look from its template.
fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// The line to print for a progress message off a terminal: a layer's
/// status when it changes (with its size when known), every message about
/// the image as a whole; `None` for a repeat ("Downloading" again).
fn status_line(last: &mut HashMap<String, String>, p: &PullProgress) -> Option<String> {
    let status = visible(&p.status);
    let Some(id) = p.id.as_deref().filter(|id| is_layer(id)) else {
        return (!status.is_empty()).then_some(status);
    };
    if last.get(id) == Some(&status) {
        return None;
    }
    last.insert(id.to_string(), status.clone());
    let size = p
        .total
        .map(|t| format!(" ({})", format_size(t)))
        .unwrap_or_default();
    Some(format!("{} {status}{size}", visible(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(id: Option<&str>, status: &str, total: Option<u64>) -> PullProgress {
        PullProgress {
            id: id.map(str::to_string),
            status: status.into(),
            current: total.map(|t| t / 2),
            total,
        }
    }

    #[test]
    fn off_a_terminal_a_layer_is_a_line_per_change_of_status() {
        let mut last = HashMap::new();
        let layer = Some("3f4d90098f5b");
        let lines: Vec<Option<String>> = [
            progress(Some("1.35"), "Pulling from library/busybox", None),
            progress(layer, "Pulling fs layer", None),
            progress(layer, "Downloading", Some(2_000_000)),
            progress(layer, "Downloading", Some(2_000_000)),
            progress(layer, "Pull complete", None),
            progress(None, "Digest: sha256:abc", None),
        ]
        .iter()
        .map(|p| status_line(&mut last, p))
        .collect();
        assert_eq!(
            lines,
            [
                Some("Pulling from library/busybox".to_string()),
                Some("3f4d90098f5b Pulling fs layer".to_string()),
                Some(format!(
                    "3f4d90098f5b Downloading ({})",
                    format_size(2_000_000)
                )),
                None,
                Some("3f4d90098f5b Pull complete".to_string()),
                Some("Digest: sha256:abc".to_string()),
            ]
        );
    }

    #[test]
    fn a_registrys_words_cannot_drive_the_terminal() {
        let mut last = HashMap::new();
        let line = status_line(&mut last, &progress(None, "ok\u{1b}[2Jgone", None));
        assert!(!line.expect("a line").contains('\u{1b}'));
    }

    #[test]
    fn the_advice_names_the_archive_the_exercises_and_docker_pull() {
        let missing = [Missing {
            image: "localhost:9/x:1".into(),
            why: vec!["pull failed".into()],
        }];
        let text = advice(
            &missing,
            &["02-first-image".into()],
            Some(Path::new("/media/usb/course.tar")),
        );
        assert!(
            text.contains("1 image(s) still missing: localhost:9/x:1"),
            "{text}"
        );
        assert!(
            text.contains("`dockgrade prepare 02-first-image --save /media/usb/course.tar`"),
            "{text}"
        );
        assert!(
            text.contains("then: `dockgrade prepare 02-first-image --from /media/usb/course.tar`"),
            "{text}"
        );
        assert!(text.contains("`docker pull localhost:9/x:1`"), "{text}");
        let default = advice(&missing, &[], None);
        assert!(
            default.contains("`dockgrade prepare --save images.tar`"),
            "{default}"
        );
    }

    #[test]
    fn layers_are_told_from_tags() {
        assert!(is_layer("3f4d90098f5b"));
        assert!(!is_layer("1.35"));
        assert!(!is_layer("latest"));
        assert!(!is_layer("bookworm-slim"));
    }

    #[test]
    fn save_refuses_a_folder_or_a_missing_folder_before_anything_runs() {
        let dir = tempfile::tempdir().expect("temp dir");
        let e = writable(dir.path()).expect_err("a folder");
        assert!(e.to_string().contains("it is a folder"), "{e}");
        let e = writable(&dir.path().join("no/such/images.tar")).expect_err("no folder");
        assert!(e.to_string().contains("its folder does not exist"), "{e}");
        assert_eq!(e.exit_code(), exit::USAGE_OR_SPEC);
        writable(&dir.path().join("images.tar")).expect("writable");
        writable(Path::new("images.tar")).expect("here");
    }
}
