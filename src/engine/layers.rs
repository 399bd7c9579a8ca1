//! Layers: an image's history (the history API, cheap) and what each of its
//! layers holds (the export stream, read once by [`crate::layer_scan`]).
//!
//! The export is streamed from the daemon into the scanner on a blocking
//! thread through a small buffer: an image of any size costs the memory of
//! its file list, never of its bytes, and nothing touches the disk.

use futures_util::TryStreamExt;

use super::{Engine, StepError, describe};
use crate::layer_scan::{self, ScanError};
use crate::observation::{HistoryEntry, LayerContents};

impl Engine {
    /// The history of image `id`, oldest first, with the bytes each entry's
    /// layer added.
    pub async fn image_history(&self, id: &str) -> Result<Vec<HistoryEntry>, StepError> {
        let mut history = self
            .docker
            .image_history(id)
            .await
            .map_err(|e| StepError::daemon("reading the image's history", e))?;
        // The API answers newest first.
        history.reverse();
        Ok(history
            .into_iter()
            .map(|h| HistoryEntry {
                created_by: h.created_by,
                size: Some(h.size.max(0) as u64),
                empty_layer: None,
            })
            .collect())
    }

    /// What every layer of image `id` holds, from one export of it.
    pub async fn layer_contents(&self, id: &str) -> Result<LayerContents, StepError> {
        let stream = self
            .docker
            .export_image(id)
            .map_err(|e| std::io::Error::other(describe(&e)));
        let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
        let scan = tokio::task::spawn_blocking(move || layer_scan::read_export(reader));
        let cancelled = self.cancel.cancelled();
        let scanned = tokio::select! {
            scanned = scan => scanned,
            () = cancelled => {
                return Err(StepError::Infrastructure("stopped while reading the image's layers".into()));
            }
        };
        match scanned {
            Ok(Ok(contents)) => Ok(contents),
            // The image is the submission's: too many files is its doing.
            Ok(Err(e @ (ScanError::TooManyEntries | ScanError::ConfigTooLarge))) => {
                Err(StepError::Submission(e.to_string()))
            }
            Ok(Err(e)) => Err(StepError::Infrastructure(e.to_string())),
            Err(e) => Err(StepError::Infrastructure(format!(
                "reading the image's layers: {e}"
            ))),
        }
    }
}
