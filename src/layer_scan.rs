//! What each layer of an image holds, read from the image's export stream
//! (`docker save`), once, as it arrives: nothing is written to disk and no
//! file's content is kept, only its path, kind and size.
//!
//! Both layouts a daemon writes are read: the legacy one (`<id>/layer.tar`,
//! `<config>.json`, `manifest.json`; Docker before 25) and the OCI one
//! (`index.json`, `blobs/sha256/<digest>`; newer daemons also write a
//! `manifest.json` pointing into the blobs). The order of the entries in the
//! stream says nothing about the order of the layers (the manifest comes
//! last), so every layer is scanned as it comes, keyed by its path in the
//! archive, and put in order at the end. A layer is recognised by its first
//! block (a tar header, or gzip), not by its name, since OCI blobs are named
//! by digest only.
//!
//! The image is the submission's: it may hold millions of files or paths of
//! any length. The scan stops with an error past [`MAX_ENTRIES`] entries, and
//! the JSON files kept to find the order are bounded by [`MAX_JSON_BYTES`].

use std::collections::HashMap;
use std::io::{Cursor, Read};

use crate::observation::{EntryKind, HistoryEntry, LayerContents, LayerEntry, LayerFiles};
use crate::secrets::{self, MAX_SNIFFED_BYTES};

/// Most file entries read over all layers of one image.
pub(crate) const MAX_ENTRIES: usize = 1_000_000;

/// Most bytes of one JSON file (manifest, index, config) kept from the
/// export; anything bigger is not one the order depends on.
pub(crate) const MAX_JSON_BYTES: u64 = 8 << 20;

/// Longest path kept, in bytes (Linux's PATH_MAX).
const MAX_PATH_BYTES: usize = 4096;

/// Most bytes of paths kept over all layers of one image: what the scan's
/// memory is made of.
pub(crate) const MAX_PATH_TOTAL: usize = 256 << 20;

/// What one scan may still keep.
struct Budget {
    entries: usize,
    path_bytes: usize,
}

impl Budget {
    /// Takes one entry of `path_len` bytes, or says the image is too big.
    fn take(&mut self, path_len: usize) -> Result<(), ScanError> {
        self.entries = self
            .entries
            .checked_sub(1)
            .ok_or(ScanError::TooManyEntries)?;
        self.path_bytes = self
            .path_bytes
            .checked_sub(path_len)
            .ok_or(ScanError::TooManyEntries)?;
        Ok(())
    }
}

/// Why an export could not be read as an image.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ScanError {
    #[error("reading the image export: {0}")]
    Io(#[from] std::io::Error),
    #[error("the image export is not as expected: {0}")]
    Layout(String),
    #[error(
        "the image has more than {MAX_ENTRIES} files in its layers, or paths longer than {MAX_PATH_TOTAL} bytes in all; not scanned"
    )]
    TooManyEntries,
    #[error("the image's config is larger than {MAX_JSON_BYTES} bytes; not scanned")]
    ConfigTooLarge,
}

/// Reads an image export (a tar stream) into the files of each layer,
/// bottom first, with the config's history.
pub(crate) fn read_export(export: impl Read) -> Result<LayerContents, ScanError> {
    let mut archive = tar::Archive::new(export);
    let mut scanned: HashMap<String, LayerFiles> = HashMap::new();
    let mut links: HashMap<String, String> = HashMap::new();
    let mut json: HashMap<String, Vec<u8>> = HashMap::new();
    // JSON files too big to keep: if one is the config, the scan says so.
    let mut too_big: Vec<String> = Vec::new();
    let mut budget = Budget {
        entries: MAX_ENTRIES,
        path_bytes: MAX_PATH_TOTAL,
    };
    for entry in archive.entries()? {
        let entry = entry?;
        let path = clean(&entry.path()?.to_string_lossy());
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            // `docker save` links a layer that appears twice to its first copy.
            if let Some(target) = entry.link_name()? {
                let target = target.to_string_lossy();
                let resolved = if kind.is_symlink() {
                    resolve(&path, &target)
                } else {
                    clean(&target)
                };
                links.insert(path, resolved);
            }
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let size = entry.header().size()?;
        let mut head = Vec::with_capacity(512);
        let mut entry = entry;
        (&mut entry).take(512).read_to_end(&mut head)?;
        let whole = Cursor::new(head.clone()).chain(entry);
        if looks_like_tar(&head) {
            scanned.insert(path, scan_layer(whole, &mut budget)?);
        } else if head.starts_with(&[0x1f, 0x8b]) {
            let gunzipped = flate2::read::GzDecoder::new(whole);
            scanned.insert(path, scan_layer(gunzipped, &mut budget)?);
        } else if matches!(first_non_blank(&head), Some(b'{' | b'[')) {
            if size > MAX_JSON_BYTES {
                too_big.push(path);
                continue;
            }
            let mut bytes = Vec::new();
            whole.take(MAX_JSON_BYTES).read_to_end(&mut bytes)?;
            json.insert(path, bytes);
        }
    }
    let (config, layers) = image_order(&json)?;
    if let Some(c) = &config
        && too_big.contains(&clean(c))
    {
        return Err(ScanError::ConfigTooLarge);
    }
    let ordered = in_order(&layers, scanned, &links)?;
    let history = config
        .as_deref()
        .and_then(|c| json.get(&clean(c)))
        .map(|bytes| history_of(bytes))
        .unwrap_or_default();
    Ok(LayerContents {
        layers: ordered,
        history,
    })
}

/// The scanned layers in the manifest's order, links followed.
fn in_order(
    layers: &[String],
    mut scanned: HashMap<String, LayerFiles>,
    links: &HashMap<String, String>,
) -> Result<Vec<LayerFiles>, ScanError> {
    let mut ordered: Vec<LayerFiles> = Vec::with_capacity(layers.len());
    // Where each layer went in `ordered`: a layer named twice is copied
    // from there, every other one moved, never held twice.
    let mut placed: HashMap<String, usize> = HashMap::new();
    for layer in layers {
        let mut at = clean(layer);
        for _ in 0..8 {
            match links.get(&at) {
                Some(next) => at = next.clone(),
                None => break,
            }
        }
        let files = match (scanned.remove(&at), placed.get(&at)) {
            (Some(files), _) => files,
            (None, Some(&i)) => ordered[i].clone(),
            (None, None) => {
                return Err(ScanError::Layout(format!(
                    "layer {layer} is named by the manifest but not in the export"
                )));
            }
        };
        placed.insert(at, ordered.len());
        ordered.push(files);
    }
    Ok(ordered)
}

/// A tar header block (`ustar` magic and a checksum that adds up: a JSON
/// config whose text puts `ustar` at byte 257 is still JSON), or the zero
/// blocks of an empty tar.
fn looks_like_tar(head: &[u8]) -> bool {
    if head.len() != 512 {
        return false;
    }
    if head.iter().all(|&b| b == 0) {
        return true;
    }
    if &head[257..262] != b"ustar" {
        return false;
    }
    // The checksum: the sum of the header's bytes, its own field counted as
    // spaces, written in octal at 148..156.
    let field = String::from_utf8_lossy(&head[148..156]);
    let Ok(recorded) = u32::from_str_radix(field.trim_matches(|c: char| c == '\0' || c == ' '), 8)
    else {
        return false;
    };
    let sum: u32 = head
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    sum == recorded
}

fn first_non_blank(bytes: &[u8]) -> Option<u8> {
    bytes.iter().copied().find(|b| !b.is_ascii_whitespace())
}

/// A path in an archive without `./` and trailing slashes.
fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// A symlink's target, relative to the link's folder, as an archive path.
fn resolve(link: &str, target: &str) -> String {
    if target.starts_with('/') {
        return clean(target);
    }
    match link.rsplit_once('/') {
        Some((dir, _)) => clean(&format!("{dir}/{target}")),
        None => clean(target),
    }
}

/// The config's path and the layers' paths, bottom first: from
/// `manifest.json` (both layouts of `docker save`), else from the OCI index.
fn image_order(
    json: &HashMap<String, Vec<u8>>,
) -> Result<(Option<String>, Vec<String>), ScanError> {
    #[derive(serde::Deserialize)]
    struct SaveManifest {
        #[serde(rename = "Config")]
        config: Option<String>,
        #[serde(rename = "Layers", default)]
        layers: Vec<String>,
    }
    if let Some(bytes) = json.get("manifest.json") {
        let manifests: Vec<SaveManifest> = serde_json::from_slice(bytes)
            .map_err(|e| ScanError::Layout(format!("manifest.json: {e}")))?;
        let first = manifests
            .into_iter()
            .next()
            .ok_or_else(|| ScanError::Layout("manifest.json names no image".into()))?;
        return Ok((first.config, first.layers));
    }
    #[derive(serde::Deserialize)]
    struct Descriptor {
        digest: String,
    }
    #[derive(serde::Deserialize)]
    struct Index {
        manifests: Vec<Descriptor>,
    }
    #[derive(serde::Deserialize)]
    struct OciManifest {
        config: Descriptor,
        layers: Vec<Descriptor>,
    }
    let blob = |digest: &str| -> Result<&Vec<u8>, ScanError> {
        let path = format!("blobs/{}", digest.replacen(':', "/", 1));
        json.get(&path)
            .ok_or_else(|| ScanError::Layout(format!("{path} is named but not in the export")))
    };
    let index = json
        .get("index.json")
        .ok_or_else(|| ScanError::Layout("neither manifest.json nor index.json".into()))?;
    let mut digest = serde_json::from_slice::<Index>(index)
        .map_err(|e| ScanError::Layout(format!("index.json: {e}")))?
        .manifests
        .into_iter()
        .next()
        .ok_or_else(|| ScanError::Layout("index.json names no manifest".into()))?
        .digest;
    // An index may point at a nested index (one per platform) before the
    // image manifest.
    for _ in 0..4 {
        let bytes = blob(&digest)?;
        if let Ok(m) = serde_json::from_slice::<OciManifest>(bytes) {
            let path = |d: &Descriptor| format!("blobs/{}", d.digest.replacen(':', "/", 1));
            return Ok((Some(path(&m.config)), m.layers.iter().map(path).collect()));
        }
        let nested: Index = serde_json::from_slice(bytes)
            .map_err(|e| ScanError::Layout(format!("manifest {digest}: {e}")))?;
        digest = nested
            .manifests
            .into_iter()
            .next()
            .ok_or_else(|| ScanError::Layout(format!("index {digest} names no manifest")))?
            .digest;
    }
    Err(ScanError::Layout("indexes nested too deep".into()))
}

/// The config's history, oldest first.
fn history_of(config: &[u8]) -> Vec<HistoryEntry> {
    #[derive(serde::Deserialize)]
    struct Config {
        #[serde(default)]
        history: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        created_by: String,
        #[serde(default)]
        empty_layer: bool,
    }
    serde_json::from_slice::<Config>(config)
        .map(|c| {
            c.history
                .into_iter()
                .map(|e| HistoryEntry {
                    created_by: e.created_by,
                    size: None,
                    empty_layer: Some(e.empty_layer),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One layer's tar: every entry's path (absolute, as in the image), kind
/// and size, whiteouts turned into the paths they delete.
fn scan_layer(layer: impl Read, budget: &mut Budget) -> Result<LayerFiles, ScanError> {
    let mut archive = tar::Archive::new(layer);
    let mut files = LayerFiles::default();
    let mut content = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let raw = entry.path_bytes();
        budget.take(raw.len())?;
        if raw.len() > MAX_PATH_BYTES {
            continue;
        }
        let path = clean(&String::from_utf8_lossy(&raw));
        if path.is_empty() {
            continue;
        }
        // The entry's size honours a PAX `size` record (files over 8 GiB).
        let size = entry.size();
        let header = entry.header();
        let is_file = header.entry_type().is_file();
        let Some((path, kind)) = entry_kind(&path, header.entry_type()) else {
            continue;
        };
        let size = if kind == EntryKind::File { size } else { 0 };
        if is_file
            && kind == EntryKind::File
            && let Some(suspect) = sniff(&path, size, &mut entry, &mut content)?
        {
            files.suspects.push((path.clone(), suspect));
        }
        files.size += size;
        files.entries.push(LayerEntry { path, kind, size });
    }
    // A path written twice in one tar: the later entry is the one extracted.
    // An opaque marker shares its folder's path but is not the folder.
    files.entries.sort_by(|a, b| {
        (&a.path, a.kind == EntryKind::Opaque).cmp(&(&b.path, b.kind == EntryKind::Opaque))
    });
    files.entries.dedup_by(|later, earlier| {
        let same = later.path == earlier.path
            && (later.kind == EntryKind::Opaque) == (earlier.kind == EntryKind::Opaque);
        if same {
            std::mem::swap(later, earlier);
        }
        same
    });
    Ok(files)
}

/// The absolute path an entry of a layer tar stands for, and what it is:
/// whiteouts (`.wh.<name>`) name the path they delete, an opaque marker its
/// folder; aufs' own bookkeeping (`.wh..wh.plnk`) is no file of the image.
fn entry_kind(path: &str, kind: tar::EntryType) -> Option<(String, EntryKind)> {
    let (dir, name) = match path.rsplit_once('/') {
        Some((dir, name)) => (format!("/{dir}"), name),
        None => (String::new(), path),
    };
    if name == ".wh..wh..opq" {
        let folder = if dir.is_empty() { "/".to_string() } else { dir };
        return Some((folder, EntryKind::Opaque));
    }
    if name.starts_with(".wh..wh.") {
        return None;
    }
    if let Some(deleted) = name.strip_prefix(".wh.") {
        return Some((format!("{dir}/{deleted}"), EntryKind::Whiteout));
    }
    let kind = if kind.is_file() {
        EntryKind::File
    } else if kind.is_dir() {
        EntryKind::Dir
    } else if kind.is_symlink() {
        EntryKind::Symlink
    } else if kind.is_hard_link() {
        EntryKind::HardLink
    } else {
        EntryKind::Other
    };
    Some((format!("/{path}"), kind))
}

/// A credential in a regular file of a layer. Keys and tokens are small
/// files: those are read whole and looked into; bigger ones are known by
/// their name only.
fn sniff(
    path: &str,
    size: u64,
    entry: &mut impl Read,
    content: &mut Vec<u8>,
) -> Result<Option<secrets::Suspect>, ScanError> {
    if size > MAX_SNIFFED_BYTES {
        return Ok(secrets::in_file(path, None));
    }
    content.clear();
    entry.take(MAX_SNIFFED_BYTES).read_to_end(content)?;
    Ok(secrets::in_file(path, Some(content)))
}

#[cfg(test)]
#[path = "layer_scan_tests.rs"]
mod tests;
