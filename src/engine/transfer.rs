//! Moving images onto a daemon that lacks them, for `dockgrade prepare`:
//! pulls with per-layer progress, and saving/loading image archives.
//!
//! - [`Engine::present_images`]: which of a set of references the daemon has.
//! - [`Engine::pull_with_progress`]: a pull (the daemon's create-image API)
//!   whose every progress message, per layer, goes to a callback as a plain
//!   [`PullProgress`]; drawing it is the caller's business. It is bounded by
//!   a timeout (a registry that never answers, a DNS lookup that hangs) and
//!   by the run's cancellation; dropping the request makes the daemon stop.
//! - [`Engine::save_images`]: the daemon's export of several images, streamed
//!   into a temporary file beside the destination and renamed over it only
//!   once complete and synced, so there is never a half-written archive
//!   under the name asked for (on an error or Ctrl-C the temporary file is
//!   removed).
//! - [`Engine::load_images`]: an archive streamed from disk (never read whole
//!   into memory) into the daemon's load API, the only thing that reads it;
//!   the daemon's messages ("Loaded image: …") go to a callback. The archive
//!   is an [`ImageArchive`], which can only be made from a regular file.

use std::collections::BTreeSet;
use std::fs::{File, Metadata};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::errors::Error as DockerError;
use bollard::models::CreateImageInfo;
use bollard::query_parameters::{CreateImageOptionsBuilder, ImportImageOptionsBuilder};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::{Engine, EngineError, describe};
use crate::units::format_duration;

/// How an archive being written is named, beside where it goes.
pub(crate) const SAVE_TEMP_PREFIX: &str = ".dockgrade-prepare-";

/// One progress message of a pull, as the daemon sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PullProgress {
    /// A layer's short id for a layer's message; the tag, or nothing, for
    /// the image's ("Pulling from library/busybox", "Digest: …").
    pub id: Option<String>,
    /// "Pulling fs layer", "Downloading", "Extracting", "Pull complete"…
    pub status: String,
    /// Bytes done and in all, while downloading or extracting.
    pub current: Option<u64>,
    pub total: Option<u64>,
}

impl From<CreateImageInfo> for PullProgress {
    fn from(info: CreateImageInfo) -> PullProgress {
        let bytes = |v: Option<i64>| v.filter(|v| *v > 0).map(|v| v as u64);
        let detail = info.progress_detail.unwrap_or_default();
        PullProgress {
            id: info.id.filter(|id| !id.is_empty()),
            status: info.status.unwrap_or_default(),
            current: bytes(detail.current),
            total: bytes(detail.total),
        }
    }
}

/// Why an image could not be moved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TransferError {
    /// The daemon (or the registry behind it) refused or failed; its words.
    #[error("{0}")]
    Failed(String),
    #[error("no answer within {}", format_duration(*.0))]
    TimedOut(Duration),
    #[error("stopped before the end")]
    Cancelled,
    /// The archive could not be written.
    #[error("cannot write {}: {message}", path.display())]
    Write { path: PathBuf, message: String },
}

/// An image archive to load: a regular file, opened.
#[derive(Debug)]
pub(crate) struct ImageArchive {
    path: PathBuf,
    file: File,
    size: u64,
}

impl ImageArchive {
    /// Opens `path`, which must be a regular file (or a link to one): a
    /// folder, a device, a pipe or a socket is refused, saying which.
    pub fn open(path: &Path) -> Result<ImageArchive, String> {
        let shown = path.display();
        // Looked at before opening: opening a pipe would wait for a writer.
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
        not_regular(&meta).map_or(Ok(()), |what| {
            Err(format!(
                "{shown} is {what}, not an image archive: give the file `dockgrade prepare --save` wrote"
            ))
        })?;
        let file = File::open(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
        // What was opened, in case the path changed in between.
        let meta = file
            .metadata()
            .map_err(|e| format!("cannot read {shown}: {e}"))?;
        if let Some(what) = not_regular(&meta) {
            return Err(format!("{shown} is {what}, not an image archive"));
        }
        Ok(ImageArchive {
            path: path.to_path_buf(),
            file,
            size: meta.len(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its size in bytes, when it was opened.
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// What a file that is not a regular one is, for a message.
fn not_regular(meta: &Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some("a folder")
    } else if t.is_fifo() {
        Some("a pipe")
    } else if t.is_socket() {
        Some("a socket")
    } else if t.is_char_device() || t.is_block_device() {
        Some("a device")
    } else {
        Some("not a regular file")
    }
}

impl Engine {
    /// Which of `references` the daemon has (by name, tag or digest). A
    /// reference the daemon finds malformed is not there (and its pull
    /// will say why).
    pub async fn present_images(
        &self,
        references: &[String],
    ) -> Result<BTreeSet<String>, EngineError> {
        let mut present = BTreeSet::new();
        for reference in references {
            match self.docker.inspect_image(reference).await {
                Ok(_) => {
                    present.insert(reference.clone());
                }
                Err(DockerError::DockerResponseServerError {
                    status_code: 400 | 404,
                    ..
                }) => {}
                Err(e) => {
                    return Err(EngineError::Daemon(format!(
                        "inspecting {reference}: {}",
                        describe(&e)
                    )));
                }
            }
        }
        Ok(present)
    }

    /// Pulls `reference`, handing every progress message to `progress`;
    /// gives up after `timeout`, or when the run is cancelled.
    pub async fn pull_with_progress(
        &self,
        reference: &str,
        timeout: Duration,
        mut progress: impl FnMut(PullProgress),
    ) -> Result<(), TransferError> {
        let options = CreateImageOptionsBuilder::default()
            .from_image(reference)
            .build();
        let mut stream = self.docker.create_image(Some(options), None, None);
        let pull = async {
            while let Some(message) = stream.next().await {
                match message {
                    Ok(info) => progress(PullProgress::from(info)),
                    Err(e) => return Err(TransferError::Failed(describe(&e))),
                }
            }
            Ok(())
        };
        if self.cancel.is_cancelled() {
            return Err(TransferError::Cancelled);
        }
        tokio::select! {
            pulled = tokio::time::timeout(timeout, pull) => {
                pulled.unwrap_or(Err(TransferError::TimedOut(timeout)))
            }
            () = self.cancel.cancelled() => Err(TransferError::Cancelled),
        }
    }

    /// Writes `references` (images the daemon has) into one archive at
    /// `path`, as `docker save` does; returns its size. The archive appears
    /// at `path` complete, or not at all.
    pub async fn save_images(
        &self,
        references: &[String],
        path: &Path,
    ) -> Result<u64, TransferError> {
        if references.is_empty() {
            return Err(TransferError::Failed("no image to save".into()));
        }
        let failed = |e: std::io::Error| TransferError::Write {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        // Readable as `docker save -o` leaves it (the umask applies): the
        // archive is meant to be carried to other machines and users.
        let temp = tempfile::Builder::new()
            .prefix(SAVE_TEMP_PREFIX)
            .suffix(".tar")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
            .tempfile_in(dir)
            .map_err(failed)?;
        // The temporary file is removed when `temp_path` is dropped: on an
        // error, or when this future is dropped (Ctrl-C).
        let (file, temp_path) = temp.into_parts();
        let mut file = tokio::fs::File::from_std(file);
        let names: Vec<&str> = references.iter().map(String::as_str).collect();
        let mut stream = self.docker.export_images(&names);
        let write = async {
            let mut written = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| TransferError::Failed(describe(&e)))?;
                file.write_all(&chunk).await.map_err(failed)?;
                written += chunk.len() as u64;
            }
            file.flush().await.map_err(failed)?;
            file.sync_all().await.map_err(failed)?;
            Ok::<u64, TransferError>(written)
        };
        let written = tokio::select! {
            written = write => written?,
            () = self.cancel.cancelled() => return Err(TransferError::Cancelled),
        };
        temp_path.persist(path).map_err(|e| failed(e.error))?;
        Ok(written)
    }

    /// Loads every image in `archive` through the daemon's load API, the
    /// file streamed from disk; `message` gets each line the daemon says
    /// ("Loaded image: busybox:1.35"), as it says it.
    pub async fn load_images(
        &self,
        archive: ImageArchive,
        mut message: impl FnMut(&str),
    ) -> Result<(), TransferError> {
        let body = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(archive.file));
        let options = ImportImageOptionsBuilder::default().quiet(true).build();
        let mut stream = self.docker.import_image_stream(options, body, None);
        let load = async {
            while let Some(said) = stream.next().await {
                let info = said.map_err(|e| TransferError::Failed(describe(&e)))?;
                for text in [info.stream, info.status].into_iter().flatten() {
                    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                        message(line);
                    }
                }
            }
            Ok(())
        };
        if self.cancel.is_cancelled() {
            return Err(TransferError::Cancelled);
        }
        tokio::select! {
            loaded = load => loaded,
            () = self.cancel.cancelled() => Err(TransferError::Cancelled),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::ProgressDetail;

    #[test]
    fn a_progress_message_keeps_its_layer_status_and_bytes() {
        let info = CreateImageInfo {
            id: Some("3f4d90098f5b".into()),
            status: Some("Downloading".into()),
            progress_detail: Some(ProgressDetail {
                current: Some(1024),
                total: Some(4096),
            }),
            ..Default::default()
        };
        assert_eq!(
            PullProgress::from(info),
            PullProgress {
                id: Some("3f4d90098f5b".into()),
                status: "Downloading".into(),
                current: Some(1024),
                total: Some(4096),
            }
        );
        let image = CreateImageInfo {
            status: Some("Digest: sha256:abc".into()),
            id: Some(String::new()),
            progress_detail: Some(ProgressDetail {
                current: Some(-1),
                total: None,
            }),
            ..Default::default()
        };
        assert_eq!(
            PullProgress::from(image),
            PullProgress {
                status: "Digest: sha256:abc".into(),
                ..Default::default()
            }
        );
    }

    #[test]
    fn only_a_regular_file_is_an_archive() {
        let dir = tempfile::tempdir().expect("temp dir");
        let folder = ImageArchive::open(dir.path()).expect_err("a folder");
        assert!(
            folder.contains("is a folder, not an image archive"),
            "{folder}"
        );
        let device = ImageArchive::open(Path::new("/dev/null")).expect_err("a device");
        assert!(device.contains("/dev/null is a device"), "{device}");
        let missing = ImageArchive::open(&dir.path().join("nope.tar")).expect_err("missing");
        assert!(missing.starts_with("cannot read "), "{missing}");
        let file = dir.path().join("images.tar");
        std::fs::write(&file, b"tar").expect("write");
        let link = dir.path().join("link.tar");
        std::os::unix::fs::symlink(&file, &link).expect("symlink");
        let archive = ImageArchive::open(&link).expect("a link to a file");
        assert_eq!((archive.path(), archive.size()), (link.as_path(), 3));
    }

    #[test]
    fn transfer_errors_read_as_sentences() {
        assert_eq!(
            TransferError::TimedOut(Duration::from_secs(120)).to_string(),
            format!(
                "no answer within {}",
                format_duration(Duration::from_secs(120))
            )
        );
        let e = TransferError::Write {
            path: PathBuf::from("/x/images.tar"),
            message: "No space left on device".into(),
        };
        assert_eq!(
            e.to_string(),
            "cannot write /x/images.tar: No space left on device"
        );
    }
}
