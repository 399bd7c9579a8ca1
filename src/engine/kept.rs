//! The build cache a command that grades many submissions keeps between
//! its runs: [`KeptLayers`], the journal that lets `dockgrade clean` find
//! them after a crash, and their removal.
//!
//! The legacy builder's cache is nothing but the layer images earlier builds
//! left on the daemon, and a run that ends removes what it built: without
//! this, every student's `RUN apt-get install git` downloads and unpacks git
//! again, as the first student's did. `batch` and `validate` therefore hand
//! each finished run's layers to a [`KeptLayers`] of their daemon instead of
//! removing them, and remove them all when they end ([`Engine::release_kept`]).
//! Runs share nothing else: the builder reuses a layer only for the same
//! instruction on the same parent (for `COPY` and `ADD`, the same content),
//! so a student's image is what their own build would have made.
//!
//! Those layers are untagged, and the builder labels only the last ones of
//! the final stage, so no label finds them if the command dies. Every id is
//! therefore written to a journal (`kept-layers/` in dockgrade's cache
//! folder, naming the daemon and the owner process) before the run that
//! built it lets go of it; the journal goes once its layers are gone, and
//! `dockgrade clean` removes the layers of journals whose process is gone
//! (and keeps away from those of running ones). The cache is bounded: past
//! [`BUDGET`] bytes or [`MOST_LAYERS`] layers, all of them are removed and
//! it fills again, but for those a running run still stands on: the images
//! its builds ended their steps on are pinned ([`KeptLayers::pin`]) until
//! it ends, because its later builds of a Dockerfile are built again from
//! them when another run's layers came in between (see `stages`).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bollard::query_parameters::RemoveImageOptionsBuilder;

use super::Engine;
use super::cleanup::{CleanupReport, Removal};
use crate::owner::Owner;

/// Most bytes of layers kept at once on one daemon (each layer counted by
/// what it adds to its parent). The course's largest layer, git installed
/// with apt, is about 70 MB.
pub(crate) const BUDGET: u64 = 4 << 30;

/// Most layers kept at once on one daemon: a class of busybox images adds
/// a few empty layers per student, which cost no disk but slow every cache
/// lookup on their parent, and the removal at the end.
pub(crate) const MOST_LAYERS: usize = 2_000;

/// The layers a command keeps on one daemon for its later builds.
#[derive(Debug)]
pub(crate) struct KeptLayers {
    host: String,
    journal: PathBuf,
    state: Mutex<State>,
    /// By run: the images (short ids) its builds stand on, while it runs.
    pinned: Mutex<HashMap<String, HashSet<String>>>,
}

#[derive(Debug, Default)]
struct State {
    /// In the order their runs ended, each run's parents before children.
    ids: Vec<String>,
    known: HashSet<String>,
    bytes: u64,
    /// The journal holds its header.
    started: bool,
}

impl KeptLayers {
    /// A cache for the daemon at `host`, journalled under dockgrade's cache
    /// folder as `kept-layers/<run_id>`.
    pub fn new(host: &str, run_id: &str) -> KeptLayers {
        KeptLayers::in_folder(&journal_folder(), host, run_id)
    }

    fn in_folder(folder: &Path, host: &str, run_id: &str) -> KeptLayers {
        KeptLayers {
            host: host.to_string(),
            journal: folder.join(run_id),
            state: Mutex::new(State::default()),
            pinned: Mutex::new(HashMap::new()),
        }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// Keeps `images` (short ids) of `run` from a removal of the whole cache
    /// until [`KeptLayers::unpin`].
    pub fn pin<'a>(&self, run: &str, images: impl IntoIterator<Item = &'a str>) {
        if let Ok(mut pinned) = self.pinned.lock() {
            pinned
                .entry(run.to_string())
                .or_default()
                .extend(images.into_iter().map(str::to_string));
        }
    }

    /// `run` has ended: its images may go with the rest.
    pub fn unpin(&self, run: &str) {
        if let Ok(mut pinned) = self.pinned.lock() {
            pinned.remove(run);
        }
    }

    /// Every run has ended.
    fn unpin_all(&self) {
        if let Ok(mut pinned) = self.pinned.lock() {
            pinned.clear();
        }
    }

    /// Whether a running run stands on the layer `id` (a full id).
    fn is_pinned(&self, id: &str) -> bool {
        let hex = id.strip_prefix("sha256:").unwrap_or(id);
        let short = hex.get(..12).unwrap_or(hex);
        self.pinned
            .lock()
            .is_ok_and(|p| p.values().any(|images| images.contains(short)))
    }

    /// How many layers are kept now.
    pub fn len(&self) -> usize {
        self.state.lock().map_or(0, |s| s.ids.len())
    }

    /// Takes `layers` (of `bytes` in all) in: journalled first, so that a
    /// crash right after leaves them findable. Whether the cache is now
    /// over its budget.
    fn keep(&self, layers: &[String], bytes: u64) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        let new: Vec<&String> = layers
            .iter()
            .filter(|id| !state.known.contains(*id))
            .collect();
        if new.is_empty() {
            return state.bytes > BUDGET || state.ids.len() > MOST_LAYERS;
        }
        let mut text = String::new();
        if !state.started {
            text.push_str(&header(&self.host, Owner::current()));
        }
        for id in &new {
            text.push_str(id);
            text.push('\n');
        }
        match append(&self.journal, &text) {
            Ok(()) => state.started = true,
            Err(e) => tracing::warn!(
                "cannot write the journal of kept layers {}: {e}; if dockgrade is killed, \
                 `dockgrade clean` will not find them",
                self.journal.display()
            ),
        }
        for id in new {
            state.known.insert(id.clone());
            state.ids.push(id.clone());
        }
        state.bytes += bytes;
        state.bytes > BUDGET || state.ids.len() > MOST_LAYERS
    }

    /// Everything kept, emptied out of the cache (not yet from the journal).
    fn take(&self) -> Vec<String> {
        self.state.lock().map_or_else(
            |_| Vec::new(),
            |mut s| {
                s.known.clear();
                s.bytes = 0;
                std::mem::take(&mut s.ids)
            },
        )
    }

    /// After a release: the journal names only what is still left (or goes).
    fn settle(&self, left: &[String]) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let mut all: Vec<String> = left.to_vec();
        all.extend(state.ids.iter().cloned());
        let written = if all.is_empty() {
            state.started = false;
            match fs::remove_file(&self.journal) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        } else {
            // What is left is older than anything kept since: it goes first.
            let mut ids: Vec<String> = left
                .iter()
                .filter(|id| state.known.insert((*id).clone()))
                .cloned()
                .collect();
            ids.append(&mut state.ids);
            state.ids = ids;
            state.started = true;
            replace(
                &self.journal,
                &journal_text(&self.host, Owner::current(), &all),
            )
        };
        if let Err(e) = written {
            tracing::warn!(
                "cannot update the journal of kept layers {}: {e}",
                self.journal.display()
            );
        }
    }
}

/// A journal of kept layers, as `dockgrade clean` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Journal {
    pub path: PathBuf,
    pub host: String,
    pub owner: Owner,
    pub layers: Vec<String>,
}

/// `kept-layers/` in dockgrade's cache folder.
fn journal_folder() -> PathBuf {
    crate::installed::cache_dir().join("kept-layers")
}

fn header(host: &str, owner: &Owner) -> String {
    format!(
        "host\t{host}\nowner\t{}\t{}\t{}\n",
        owner.host, owner.process, owner.started
    )
}

/// A whole journal: its header, then one layer id a line.
fn journal_text(host: &str, owner: &Owner, layers: &[String]) -> String {
    let mut text = header(host, owner);
    for id in layers {
        text.push_str(id);
        text.push('\n');
    }
    text
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_data()
}

fn replace(path: &Path, text: &str) -> std::io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent)?;
    let mut temp = tempfile::NamedTempFile::new_in(parent)?;
    temp.write_all(text.as_bytes())?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Reads one journal; `None` for a file that is not one.
fn parse(path: &Path, text: &str) -> Option<Journal> {
    let mut lines = text.lines();
    let host = lines.next()?.strip_prefix("host\t")?.to_string();
    let mut owner = lines.next()?.strip_prefix("owner\t")?.split('\t');
    let owner = Owner {
        host: owner.next()?.to_string(),
        process: owner.next()?.to_string(),
        started: owner.next()?.parse().ok()?,
    };
    let layers = lines
        .filter(|l| is_image_id(l))
        .map(str::to_string)
        .collect();
    Some(Journal {
        path: path.to_path_buf(),
        host,
        owner,
        layers,
    })
}

/// `sha256:` and 64 hexadecimal digits: an image's full id.
fn is_image_id(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Every journal of kept layers on this machine.
pub(crate) fn journals() -> Vec<Journal> {
    journals_in(&journal_folder())
}

fn journals_in(folder: &Path) -> Vec<Journal> {
    let Ok(entries) = fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut found: Vec<Journal> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let text = fs::read_to_string(e.path()).ok()?;
            parse(&e.path(), &text)
        })
        .collect();
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}

impl Engine {
    /// Hands a finished run's layers to the cache (the caller holds
    /// `CACHE_GUARD` alone); past the budget, removes every kept layer.
    pub(super) async fn keep_layers(&self, kept: &KeptLayers, layers: &[String]) {
        // The build names layers by short ids; the journal keeps full ones,
        // which no later image can share. A layer already gone is not kept.
        let mut full = Vec::new();
        let mut bytes = 0;
        for id in layers {
            if let Ok(image) = self.docker.inspect_image(id).await
                && let Some(id) = image.id
            {
                bytes += self.own_bytes(&id).await;
                full.push(id);
            }
        }
        if kept.keep(&full, bytes) {
            tracing::info!(
                "the kept build cache passed {BUDGET} bytes or {MOST_LAYERS} layers: removing it"
            );
            let report = self.remove_kept(kept).await;
            report.warn();
        }
    }

    /// What a layer image adds to its parent, in bytes (0 when unknown):
    /// the first entry of its history is its own layer.
    async fn own_bytes(&self, id: &str) -> u64 {
        match self.docker.image_history(id).await {
            Ok(history) => history.first().map_or(0, |h| h.size.max(0) as u64),
            Err(_) => 0,
        }
    }

    /// Removes every layer the cache kept, children first; what cannot go
    /// stays in the journal for `dockgrade clean`.
    pub async fn release_kept(&self, kept: &KeptLayers) -> CleanupReport {
        let _removing = super::CACHE_GUARD.write().await;
        // The command is over: no run stands on anything any more.
        kept.unpin_all();
        self.remove_kept(kept).await
    }

    async fn remove_kept(&self, kept: &KeptLayers) -> CleanupReport {
        let (held, layers): (Vec<String>, Vec<String>) =
            kept.take().into_iter().partition(|id| kept.is_pinned(id));
        let (report, mut left) = self.remove_layers(&layers).await;
        left.extend(held);
        kept.settle(&left);
        report
    }

    /// Removes the layers of a journal whose command is over, and the
    /// journal when they are all gone. What it removed, and the report.
    pub async fn remove_journal(&self, journal: &Journal) -> CleanupReport {
        let _removing = super::CACHE_GUARD.write().await;
        let (report, left) = self.remove_layers(&journal.layers).await;
        let written = if left.is_empty() {
            fs::remove_file(&journal.path)
        } else {
            replace(
                &journal.path,
                &journal_text(&journal.host, &journal.owner, &left),
            )
        };
        if let Err(e) = written {
            tracing::warn!("cannot update {}: {e}", journal.path.display());
        }
        report
    }

    /// Removes untagged layer images, in passes from the last one (children
    /// before their parents) while some go. Returns what is left: images
    /// refused for another reason than being gone or tagged since.
    async fn remove_layers(&self, layers: &[String]) -> (CleanupReport, Vec<String>) {
        let mut report = CleanupReport::default();
        let mut pending: Vec<String> = layers.iter().rev().cloned().collect();
        loop {
            let tried = pending.len();
            let mut refused = Vec::new();
            for id in pending {
                match self.remove_layer(&id).await {
                    Removal::Removed => report.images += 1,
                    Removal::Absent => {}
                    removal => refused.push((id, removal)),
                }
            }
            if refused.is_empty() || refused.len() == tried {
                let left = refused.iter().map(|(id, _)| id.clone()).rev().collect();
                for (id, removal) in refused {
                    if let Removal::Failed(e) = removal {
                        report.failures.push(format!("kept layer {id}: {e}"));
                    } else {
                        report.in_use += 1;
                    }
                }
                if !report.failures.is_empty() {
                    report.daemon_gone = !self.answers().await;
                }
                return (report, left);
            }
            pending = refused.into_iter().map(|(id, _)| id).collect();
        }
    }

    /// Removes one layer image unless something tagged it since (then it is
    /// not ours to remove: `Absent` for the cache).
    async fn remove_layer(&self, id: &str) -> Removal {
        match self.docker.inspect_image(id).await {
            Ok(image) if image.repo_tags.as_ref().is_some_and(|t| !t.is_empty()) => Removal::Absent,
            Ok(_) => {
                let options = RemoveImageOptionsBuilder::default().noprune(true).build();
                Removal::of(
                    self.docker
                        .remove_image(id, Some(options), None)
                        .await
                        .map(|_| ()),
                )
            }
            Err(e) => Removal::of(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("sha256:{i:064x}")).collect()
    }

    #[test]
    fn kept_layers_are_journalled_once_each_and_the_journal_reads_back() {
        let dir = tempfile::tempdir().expect("dir");
        let kept = KeptLayers::in_folder(dir.path(), "unix:///var/run/docker.sock", "run1");
        let layers = ids(3);
        assert!(!kept.keep(&layers[..2], 10));
        assert!(!kept.keep(&layers[1..], 10));
        assert_eq!(kept.len(), 3);
        let found = journals_in(dir.path());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].host, "unix:///var/run/docker.sock");
        assert_eq!(&found[0].owner, Owner::current());
        assert_eq!(found[0].layers, layers);
    }

    #[test]
    fn a_running_runs_images_are_pinned_until_it_ends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let kept = KeptLayers::in_folder(dir.path(), "unix:///x", "r");
        let full = format!("sha256:{}", "ab".repeat(32));
        assert!(!kept.is_pinned(&full));
        kept.pin("run-1", ["abababababab", "cdcdcdcdcdcd"]);
        kept.pin("run-2", ["abababababab"]);
        assert!(kept.is_pinned(&full), "by its short id");
        kept.unpin("run-1");
        assert!(kept.is_pinned(&full), "run-2 still stands on it");
        kept.unpin("run-2");
        assert!(!kept.is_pinned(&full));
        assert!(!kept.is_pinned("sha256:"), "a malformed id is no one's");
    }

    #[test]
    fn the_budget_is_said_when_passed() {
        let dir = tempfile::tempdir().expect("dir");
        let kept = KeptLayers::in_folder(dir.path(), "unix:///x", "run2");
        assert!(!kept.keep(&ids(1), BUDGET));
        assert!(kept.keep(&ids(2)[1..], 1));
        let many = KeptLayers::in_folder(dir.path(), "unix:///x", "run4");
        let layers = ids(MOST_LAYERS + 1);
        assert!(!many.keep(&layers[..MOST_LAYERS], 0));
        assert!(many.keep(&layers[MOST_LAYERS..], 0));
    }

    #[test]
    fn a_settled_journal_names_what_is_left_or_goes() {
        let dir = tempfile::tempdir().expect("dir");
        let kept = KeptLayers::in_folder(dir.path(), "unix:///x", "run3");
        let layers = ids(4);
        kept.keep(&layers, 1);
        let taken = kept.take();
        assert_eq!(taken, layers);
        assert_eq!(kept.len(), 0);
        kept.settle(&layers[..2]);
        assert_eq!(journals_in(dir.path())[0].layers, layers[..2].to_vec());
        assert_eq!(kept.len(), 2);
        assert_eq!(kept.take(), layers[..2].to_vec());
        kept.settle(&layers[..1]);
        kept.take();
        kept.settle(&[]);
        assert!(journals_in(dir.path()).is_empty());
        assert!(!dir.path().join("run3").exists());
    }

    #[test]
    fn files_that_are_not_journals_are_passed_over() {
        let dir = tempfile::tempdir().expect("dir");
        fs::write(dir.path().join("stray"), "hello\n").expect("write");
        fs::write(
            dir.path().join("bad-owner"),
            "host\tunix:///x\nowner\th\t1\tnot-a-number\nsha256:00\n",
        )
        .expect("write");
        fs::write(
            dir.path().join("good"),
            format!(
                "host\tunix:///x\nowner\th\t1:b:2\t5\n{}\nsha256:00\n../../etc/passwd\n",
                ids(1)[0]
            ),
        )
        .expect("write");
        let found = journals_in(dir.path());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].layers, ids(1));
        assert_eq!(found[0].owner.started, 5);
    }
}
