//! Build contexts and submission files on the host: what gets sent, safely.
//!
//! This module owns reading the submission folder: it decides which files a
//! build context holds (applying `.dockerignore` with [`crate::dockerignore`]
//! and Docker's walk rules), refuses what must not leave the folder (symlinks
//! that point outside it, device files, FIFOs, sockets), and writes the tar
//! that the engine streams to the daemon. It never talks to the daemon.
//!
//! Everything in the folder is the student's, so what it may cost is
//! bounded before it is spent: the `.dockerignore` is read only up to its
//! cap, and the walk (`walk.rs`) stops as soon as the context is over the
//! build's `max_context`. The tar is written by `tarball.rs`.

mod tarball;
mod walk;

use std::fs;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use crate::dockerignore::{
    MAX_IGNORE_FILE_BYTES, MAX_IGNORE_PATTERNS, Matcher, ParentMatches, read_patterns,
};
use crate::spec::RelPath;
use crate::units::format_size;
use walk::{Layer, Sink, refused_ignore_file, walk};

pub use tarball::write_tar;

/// A problem with the student's files: grading fails, the grader does not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmissionError {
    #[error("required file `{0}` is missing from the submission")]
    Missing(String),
    #[error("`{path}` is a symlink that leads outside the submission (to {target})")]
    EscapingSymlink { path: String, target: String },
    #[error("`{path}` is a {kind}; only regular files, folders and symlinks can be graded")]
    SpecialFile { path: String, kind: &'static str },
    #[error("`{0}` is not a regular file")]
    NotAFile(String),
    #[error("invalid .dockerignore: {0}")]
    BadIgnoreFile(String),
    #[error("cannot read `{path}`: {message}")]
    Unreadable { path: String, message: String },
    #[error("`{file}` is {}, more than the {} allowed", format_size(*.size), format_size(*.max))]
    IgnoreFileTooLarge { file: String, size: u64, max: u64 },
    #[error("`{file}` has {count} patterns, more than the {max} allowed")]
    TooManyIgnorePatterns {
        file: String,
        count: usize,
        max: usize,
    },
    #[error("`{file}` is too complex to apply: {why}; list fewer, simpler patterns")]
    IgnoreTooComplex { file: String, why: String },
    #[error(
        "the build context is at least {}, over the {} limit; the biggest files are {}. \
         List what the image does not need in .dockerignore, or build from a folder without it",
        format_size(*.at_least),
        format_size(*.max),
        sizes(.biggest)
    )]
    ContextTooLarge {
        /// Content bytes walked when the walk stopped.
        at_least: u64,
        max: u64,
        /// The largest files walked by then, biggest first, at most three.
        biggest: Vec<(String, u64)>,
    },
}

/// `big.img (1.07 GB), data.bin (52.4 MB)`.
fn sizes(files: &[(String, u64)]) -> String {
    let shown: Vec<String> = files
        .iter()
        .map(|(name, size)| format!("{name} ({})", format_size(*size)))
        .collect();
    shown.join(", ")
}

/// The resolved, checked location of a path inside `root`.
///
/// Every component is looked at with `lstat`; a symlink is followed only when
/// its target stays inside `root` (so `a -> ../outside` is refused while
/// `a -> b` is fine).
pub fn resolve_inside(root: &Path, rel: &RelPath) -> Result<PathBuf, SubmissionError> {
    let root = fs::canonicalize(root).map_err(|e| SubmissionError::Unreadable {
        path: root.display().to_string(),
        message: e.to_string(),
    })?;
    if rel.is_root() {
        return Ok(root);
    }
    let full = root.join(rel.as_str());
    match fs::canonicalize(&full) {
        Ok(real) if real.starts_with(&root) => Ok(real),
        Ok(real) => Err(SubmissionError::EscapingSymlink {
            path: rel.to_string(),
            target: real.display().to_string(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // A dangling link that points outside is still an escape attempt.
            if let Ok(target) = fs::read_link(&full)
                && !lexically_inside(&root, full.parent().unwrap_or(&root), &target)
            {
                return Err(SubmissionError::EscapingSymlink {
                    path: rel.to_string(),
                    target: target.display().to_string(),
                });
            }
            Err(SubmissionError::Missing(rel.to_string()))
        }
        Err(e) => Err(SubmissionError::Unreadable {
            path: rel.to_string(),
            message: e.to_string(),
        }),
    }
}

/// Checks that `rel` names a regular file inside `root`.
pub fn require_file(root: &Path, rel: &RelPath) -> Result<PathBuf, SubmissionError> {
    let path = resolve_inside(root, rel)?;
    match fs::metadata(&path) {
        Ok(m) if m.is_file() => Ok(path),
        Ok(_) => Err(SubmissionError::NotAFile(rel.to_string())),
        Err(e) => Err(SubmissionError::Unreadable {
            path: rel.to_string(),
            message: e.to_string(),
        }),
    }
}

/// Whether a symlink at `dir/<name>` with `target` stays under `root`.
fn lexically_inside(root: &Path, dir: &Path, target: &Path) -> bool {
    let joined = if target.is_absolute() {
        target.to_path_buf()
    } else {
        dir.join(target)
    };
    let mut parts: Vec<std::path::Component> = Vec::new();
    for c in joined.components() {
        match c {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::CurDir => {}
            other => parts.push(other),
        }
    }
    parts.iter().collect::<PathBuf>().starts_with(root)
}

/// One entry of a build context, in the order Docker would send it.
#[derive(Debug, Clone)]
pub struct ContextEntry {
    /// Where it is on the host.
    pub source: PathBuf,
    /// Its name inside the tar, `/`-separated, possibly not UTF-8.
    pub name: Vec<u8>,
    pub kind: EntryKind,
    /// Bytes of content (0 for folders and links).
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
}

/// What a build will send: the entries and where the Dockerfile is in them.
#[derive(Debug, Clone, Default)]
pub struct BuildContext {
    pub entries: Vec<ContextEntry>,
    /// The Dockerfile's name inside the context, as the daemon is told.
    pub dockerfile: String,
    /// Sum of content bytes: what the context weighs before tar framing.
    pub content_bytes: u64,
}

impl BuildContext {
    /// The names of the entries, for tests and conformance checks.
    pub fn names(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
            .collect()
    }
}

/// The name under which a Dockerfile from outside the context is added.
const OUTSIDE_DOCKERFILE: &str = ".dockgrade.Dockerfile";

/// Decides what `docker build -f <dockerfile> <context>` would send.
///
/// `root` is the submission folder; `context` and `dockerfile` are relative
/// to it. Follows Docker's CLI: `.dockerignore` at the context root, the
/// Dockerfile and `.dockerignore` are always sent, a Dockerfile outside the
/// context is added under a name of its own. The walk stops, with
/// [`SubmissionError::ContextTooLarge`], once the content is over
/// `max_context` bytes.
pub fn collect(
    root: &Path,
    context: &RelPath,
    dockerfile: &RelPath,
    max_context: u64,
) -> Result<BuildContext, SubmissionError> {
    collect_layered(&[root], context, dockerfile, max_context)
}

/// Like [`collect`], over folders layered in increasing precedence: the
/// submission, then the files an exercise adds (its own files, fixtures).
/// A path present in several layers is taken from the last; the
/// `.dockerignore` in effect is the last layer's that has one, and it applies
/// to every layer, so a generated data file can be ignored by the student.
pub fn collect_layered(
    roots: &[&Path],
    context: &RelPath,
    dockerfile: &RelPath,
    max_context: u64,
) -> Result<BuildContext, SubmissionError> {
    let layers = context_layers(roots, context)?;
    let dockerfile_path = find_dockerfile(roots, dockerfile)?;
    let inside = layers
        .iter()
        .find_map(|(_, ctx_dir)| dockerfile_path.strip_prefix(ctx_dir).ok())
        .map(|p| p.to_string_lossy().replace('\\', "/"));
    let ignore_file = match context.is_root() {
        true => ".dockerignore".to_string(),
        false => format!("{}/.dockerignore", context.as_str()),
    };
    let matcher = ignore_matcher(&layers, &ignore_file, inside.as_deref())?;
    // Layers are walked from the last: an entry a later layer replaces is
    // never counted, so the running total is the merged context's.
    let mut sink = match layers.len() {
        1 => Sink::new(max_context),
        _ => Sink::layered(
            max_context,
            inside.as_deref().map(|n| (n, dockerfile_path.as_path())),
        ),
    };
    for (root, ctx_dir) in layers.iter().rev() {
        let layer = Layer {
            root,
            ctx_dir,
            matcher: &matcher,
            ignore_file: &ignore_file,
        };
        walk(&layer, ctx_dir, &ParentMatches::default(), &mut sink)?;
    }
    if layers.len() > 1 {
        // Merged layers are listed by name, as the merge always did.
        sink.entries.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    }
    if inside.is_none() {
        let size = fs::metadata(&dockerfile_path).map(|m| m.len()).unwrap_or(0);
        sink.keep(ContextEntry {
            source: dockerfile_path.clone(),
            name: OUTSIDE_DOCKERFILE.as_bytes().to_vec(),
            kind: EntryKind::File,
            size,
        })?;
    }
    Ok(BuildContext {
        entries: sink.entries,
        dockerfile: inside
            .clone()
            .unwrap_or_else(|| OUTSIDE_DOCKERFILE.to_string()),
        content_bytes: sink.total,
    })
}

/// (root, context folder) of every layer that has the context folder.
fn context_layers(
    roots: &[&Path],
    context: &RelPath,
) -> Result<Vec<(PathBuf, PathBuf)>, SubmissionError> {
    let mut layers = Vec::new();
    for root in roots {
        let root = resolve_inside(root, &RelPath::root())?;
        match resolve_inside(&root, context) {
            Ok(dir) if dir.is_dir() => layers.push((root, dir)),
            Ok(_) | Err(SubmissionError::Missing(_)) => {}
            Err(e) => return Err(e),
        }
    }
    if layers.is_empty() {
        return Err(SubmissionError::Unreadable {
            path: context.to_string(),
            message: "not a folder".into(),
        });
    }
    Ok(layers)
}

/// The Dockerfile is the submission's own: an exercise's files never
/// replace it, so the first layer that has one provides it.
fn find_dockerfile(roots: &[&Path], dockerfile: &RelPath) -> Result<PathBuf, SubmissionError> {
    for root in roots {
        match require_file(root, dockerfile) {
            Ok(path) => return Ok(path),
            Err(SubmissionError::Missing(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Err(SubmissionError::Missing(dockerfile.to_string()))
}

/// The `.dockerignore` in effect (the last layer's that has one), with the
/// build files re-included as Docker does: the daemon needs them (and drops
/// them again from what COPY sees). `dockerfile` is the Dockerfile's name
/// inside the context, when it is inside; `file` names the ignore file in
/// messages.
fn ignore_matcher(
    layers: &[(PathBuf, PathBuf)],
    file: &str,
    dockerfile: Option<&str>,
) -> Result<Matcher, SubmissionError> {
    let mut patterns = Vec::new();
    for (root, _) in layers.iter().rev() {
        if let Some(text) = read_ignore_file(root, file)? {
            patterns = read_patterns(&text);
            break;
        }
    }
    if patterns.len() > MAX_IGNORE_PATTERNS {
        return Err(SubmissionError::TooManyIgnorePatterns {
            file: file.to_string(),
            count: patterns.len(),
            max: MAX_IGNORE_PATTERNS,
        });
    }
    let refused = |e| refused_ignore_file(file, e);
    let probe = Matcher::new(&patterns).map_err(refused)?;
    let reinclude_ignore_file = probe
        .matches_or_parent_matches(".dockerignore")
        .map_err(refused)?;
    let reinclude_dockerfile = match dockerfile {
        Some(name) => probe.matches_or_parent_matches(name).map_err(refused)?,
        None => false,
    };
    // Two compiled sets of 50,000 patterns need not live at once.
    drop(probe);
    if reinclude_ignore_file {
        patterns.push("!.dockerignore".into());
    }
    if let Some(name) = dockerfile.filter(|_| reinclude_dockerfile) {
        patterns.push(format!("!{name}"));
    }
    Matcher::new(&patterns).map_err(refused)
}

/// The text of `file` (the context's `.dockerignore`) in `root`, if there is one, read
/// only up to [`MAX_IGNORE_FILE_BYTES`]; it must be a regular file inside
/// the submission (a FIFO would block the read, a link could read the
/// grader's own files).
fn read_ignore_file(root: &Path, file: &str) -> Result<Option<String>, SubmissionError> {
    let Some(rel) = RelPath::new(file) else {
        return Err(SubmissionError::Unreadable {
            path: file.to_string(),
            message: "not a path inside the submission".into(),
        });
    };
    let path = match resolve_inside(root, &rel) {
        Ok(path) => path,
        Err(SubmissionError::Missing(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let unreadable = |e: io::Error| SubmissionError::Unreadable {
        path: file.to_string(),
        message: e.to_string(),
    };
    let meta = fs::metadata(&path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(SubmissionError::NotAFile(file.to_string()));
    }
    let mut bytes = Vec::new();
    fs::File::open(&path)
        .map_err(unreadable)?
        .take(MAX_IGNORE_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_IGNORE_FILE_BYTES {
        return Err(SubmissionError::IgnoreFileTooLarge {
            file: file.to_string(),
            size: meta.len().max(bytes.len() as u64),
            max: MAX_IGNORE_FILE_BYTES,
        });
    }
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Resolves `rel` in the last of `roots` that has it (see [`collect_layered`]).
pub fn resolve_layered(roots: &[&Path], rel: &RelPath) -> Result<PathBuf, SubmissionError> {
    for root in roots.iter().rev() {
        match resolve_inside(root, rel) {
            Err(SubmissionError::Missing(_)) => {}
            other => return other,
        }
    }
    Err(SubmissionError::Missing(rel.to_string()))
}

#[cfg(test)]
mod tests;
