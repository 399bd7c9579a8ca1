//! The walk of one context folder: Docker's order and ignore rules, the
//! refusal of what must not leave the submission, and the running count of
//! content bytes that stops the walk as soon as the context is over its cap.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use super::{ContextEntry, EntryKind, SubmissionError, lexically_inside};
use crate::dockerignore::{Matcher, ParentMatches, PatternError};

/// One layer's context folder, and the rules that apply to it.
pub(super) struct Layer<'a> {
    pub root: &'a Path,
    pub ctx_dir: &'a Path,
    pub matcher: &'a Matcher,
    /// The ignore file's name, for messages.
    pub ignore_file: &'a str,
}

/// Where walked entries go, counted against the cap as they arrive.
#[derive(Debug)]
pub(super) struct Sink<'a> {
    max: u64,
    pub total: u64,
    /// The largest files kept so far, biggest first, at most three.
    biggest: Vec<(Vec<u8>, u64)>,
    pub entries: Vec<ContextEntry>,
    /// When layers are merged: what a later layer already provides.
    taken: Option<Taken<'a>>,
}

/// The names a later layer already provides, and the Dockerfile's name and
/// place (only that file may use the name).
#[derive(Debug)]
struct Taken<'a> {
    names: HashSet<Vec<u8>>,
    dockerfile: Option<(&'a str, &'a Path)>,
}

impl<'a> Sink<'a> {
    pub(super) fn new(max: u64) -> Sink<'a> {
        Sink {
            max,
            total: 0,
            biggest: Vec::new(),
            entries: Vec::new(),
            taken: None,
        }
    }

    /// A sink for layers walked from the last to the first: an entry whose
    /// name a later layer has is dropped (not counted), as the merge would.
    pub(super) fn layered(max: u64, dockerfile: Option<(&'a str, &'a Path)>) -> Sink<'a> {
        Sink {
            taken: Some(Taken {
                names: HashSet::new(),
                dockerfile,
            }),
            ..Sink::new(max)
        }
    }

    /// Keeps `entry` unless a later layer has its name; refuses it when it
    /// takes the context over the cap.
    pub(super) fn offer(&mut self, entry: ContextEntry) -> Result<(), SubmissionError> {
        if let Some(Taken { names, dockerfile }) = &mut self.taken {
            let foreign_dockerfile = dockerfile
                .is_some_and(|(name, path)| name.as_bytes() == entry.name && entry.source != path);
            if foreign_dockerfile || !names.insert(entry.name.clone()) {
                return Ok(());
            }
        }
        self.keep(entry)
    }

    /// Keeps `entry`, or refuses it when it takes the context over the cap.
    pub(super) fn keep(&mut self, entry: ContextEntry) -> Result<(), SubmissionError> {
        self.total += entry.size;
        let among_biggest =
            self.biggest.len() < 3 || self.biggest.last().is_some_and(|(_, s)| entry.size > *s);
        if entry.kind == EntryKind::File && among_biggest {
            self.biggest.push((entry.name.clone(), entry.size));
            self.biggest.sort_by_key(|(_, s)| std::cmp::Reverse(*s));
            self.biggest.truncate(3);
        }
        if self.total > self.max {
            return Err(SubmissionError::ContextTooLarge {
                at_least: self.total,
                max: self.max,
                biggest: self
                    .biggest
                    .iter()
                    .map(|(n, s)| (String::from_utf8_lossy(n).into_owned(), *s))
                    .collect(),
            });
        }
        self.entries.push(entry);
        Ok(())
    }
}

/// Walks `dir` (inside `layer.ctx_dir`) in Docker's order, offering what
/// the context holds to `sink`.
pub(super) fn walk(
    layer: &Layer,
    dir: &Path,
    parent: &ParentMatches,
    sink: &mut Sink,
) -> Result<(), SubmissionError> {
    let root = layer.root;
    let unreadable = |p: &Path, e: io::Error| SubmissionError::Unreadable {
        path: p.strip_prefix(root).unwrap_or(p).display().to_string(),
        message: e.to_string(),
    };
    let mut children: Vec<fs::DirEntry> = fs::read_dir(dir)
        .map_err(|e| unreadable(dir, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| unreadable(dir, e))?;
    // Go's WalkDir visits names in byte order.
    children.sort_by_key(|e| e.file_name());
    for child in children {
        let path = child.path();
        let rel_bytes = path
            .strip_prefix(layer.ctx_dir)
            .unwrap_or(&path)
            .as_os_str()
            .as_bytes()
            .to_vec();
        let rel = String::from_utf8_lossy(&rel_bytes).into_owned();
        let meta = fs::symlink_metadata(&path).map_err(|e| unreadable(&path, e))?;
        let ft = meta.file_type();
        let (ignored, info) = layer
            .matcher
            .matches_using_parent(&rel, parent)
            .map_err(|e| refused_ignore_file(layer.ignore_file, e))?;
        if ignored {
            let matcher = layer.matcher;
            if !ft.is_dir() || !matcher.has_exclusions() || !matcher.may_reinclude_under(&rel) {
                continue;
            }
            // Walk inside for the exceptions, without sending the folder itself.
            walk(layer, &path, &info, sink)?;
            continue;
        }
        let kind = entry_kind(root, dir, &path, ft)?;
        let size = if kind == EntryKind::File {
            meta.len()
        } else {
            0
        };
        sink.offer(ContextEntry {
            source: path.clone(),
            name: rel_bytes,
            kind,
            size,
        })?;
        if kind == EntryKind::Dir {
            walk(layer, &path, &info, sink)?;
        }
    }
    Ok(())
}

/// The error for an ignore file that is refused, named `file`.
pub(super) fn refused_ignore_file(file: &str, e: PatternError) -> SubmissionError {
    match e {
        PatternError::Invalid(why) => SubmissionError::BadIgnoreFile(why),
        PatternError::TooComplex(why) => SubmissionError::IgnoreTooComplex {
            file: file.to_string(),
            why,
        },
    }
}

/// What a walked entry is; a link out of the submission or a special file
/// is refused.
fn entry_kind(
    root: &Path,
    dir: &Path,
    path: &Path,
    ft: fs::FileType,
) -> Result<EntryKind, SubmissionError> {
    let shown = || {
        path.strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string()
    };
    if ft.is_dir() {
        Ok(EntryKind::Dir)
    } else if ft.is_file() {
        Ok(EntryKind::File)
    } else if ft.is_symlink() {
        let target = fs::read_link(path).map_err(|e| SubmissionError::Unreadable {
            path: shown(),
            message: e.to_string(),
        })?;
        if !lexically_inside(root, dir, &target) {
            return Err(SubmissionError::EscapingSymlink {
                path: shown(),
                target: target.display().to_string(),
            });
        }
        Ok(EntryKind::Symlink)
    } else {
        let kind = if ft.is_fifo() {
            "FIFO"
        } else if ft.is_socket() {
            "socket"
        } else if ft.is_block_device() {
            "block device"
        } else {
            "character device"
        };
        Err(SubmissionError::SpecialFile {
            path: shown(),
            kind,
        })
    }
}
