//! Build contexts and submission files on the host: what gets sent, safely.
//!
//! This module owns reading the submission folder: it decides which files a
//! build context holds (applying `.dockerignore` with [`crate::dockerignore`]
//! and Docker's walk rules), refuses what must not leave the folder (symlinks
//! that point outside it, device files, FIFOs, sockets), and writes the tar
//! that the engine streams to the daemon. It never talks to the daemon.

use std::fs;
use std::io::{self, Read as _, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use crate::dockerignore::{Matcher, ParentMatches, read_patterns};
use crate::spec::RelPath;

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
    /// The largest files, biggest first, for a message about a heavy context.
    pub fn largest(&self, n: usize) -> Vec<&ContextEntry> {
        let mut files: Vec<&ContextEntry> = self
            .entries
            .iter()
            .filter(|e| e.kind == EntryKind::File)
            .collect();
        files.sort_by_key(|e| std::cmp::Reverse(e.size));
        files.truncate(n);
        files
    }

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
/// context is added under a name of its own.
pub fn collect(
    root: &Path,
    context: &RelPath,
    dockerfile: &RelPath,
) -> Result<BuildContext, SubmissionError> {
    collect_layered(&[root], context, dockerfile)
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
) -> Result<BuildContext, SubmissionError> {
    let layers = context_layers(roots, context)?;
    let dockerfile_path = find_dockerfile(roots, dockerfile)?;
    let inside = layers
        .iter()
        .find_map(|(_, ctx_dir)| dockerfile_path.strip_prefix(ctx_dir).ok())
        .map(|p| p.to_string_lossy().replace('\\', "/"));
    let matcher = ignore_matcher(&layers, inside.as_deref())?;
    let mut walked = Vec::with_capacity(layers.len());
    for (root, ctx_dir) in &layers {
        let mut layer = BuildContext::default();
        let top = ParentMatches::default();
        walk(root, ctx_dir, ctx_dir, &matcher, &top, &mut layer)?;
        walked.push(layer);
    }
    let mut out = if walked.len() == 1 {
        walked.remove(0)
    } else {
        merge(walked, inside.as_deref(), &dockerfile_path)
    };
    out.dockerfile = match inside {
        Some(name) => name,
        None => {
            let size = fs::metadata(&dockerfile_path).map(|m| m.len()).unwrap_or(0);
            out.entries.push(ContextEntry {
                source: dockerfile_path,
                name: OUTSIDE_DOCKERFILE.as_bytes().to_vec(),
                kind: EntryKind::File,
                size,
            });
            out.content_bytes += size;
            OUTSIDE_DOCKERFILE.to_string()
        }
    };
    Ok(out)
}

/// Layers merged by name, a later layer's entry replacing an earlier one's,
/// except that the Dockerfile (named `dockerfile` in the context) is always
/// the one at `dockerfile_path`.
fn merge(
    layers: Vec<BuildContext>,
    dockerfile: Option<&str>,
    dockerfile_path: &Path,
) -> BuildContext {
    let mut merged = std::collections::BTreeMap::new();
    for e in layers.into_iter().flat_map(|l| l.entries) {
        let is_dockerfile = dockerfile.is_some_and(|n| n.as_bytes() == e.name.as_slice());
        if is_dockerfile && e.source != dockerfile_path {
            continue;
        }
        merged.insert(e.name.clone(), e);
    }
    let entries: Vec<ContextEntry> = merged.into_values().collect();
    BuildContext {
        content_bytes: entries.iter().map(|e| e.size).sum(),
        entries,
        dockerfile: String::new(),
    }
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
/// inside the context, when it is inside.
fn ignore_matcher(
    layers: &[(PathBuf, PathBuf)],
    dockerfile: Option<&str>,
) -> Result<Matcher, SubmissionError> {
    let mut patterns = Vec::new();
    for (_, ctx_dir) in layers.iter().rev() {
        match fs::read(ctx_dir.join(".dockerignore")) {
            Ok(bytes) => {
                patterns = read_patterns(&String::from_utf8_lossy(&bytes));
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(SubmissionError::Unreadable {
                    path: ".dockerignore".into(),
                    message: e.to_string(),
                });
            }
        }
    }
    let probe = Matcher::new(&patterns).map_err(SubmissionError::BadIgnoreFile)?;
    if probe.matches_or_parent_matches(".dockerignore") {
        patterns.push("!.dockerignore".into());
    }
    if let Some(name) = dockerfile
        && probe.matches_or_parent_matches(name)
    {
        patterns.push(format!("!{name}"));
    }
    Matcher::new(&patterns).map_err(SubmissionError::BadIgnoreFile)
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

fn walk(
    root: &Path,
    ctx_dir: &Path,
    dir: &Path,
    matcher: &Matcher,
    parent: &ParentMatches,
    out: &mut BuildContext,
) -> Result<(), SubmissionError> {
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
            .strip_prefix(ctx_dir)
            .unwrap_or(&path)
            .as_os_str()
            .as_bytes()
            .to_vec();
        let rel = String::from_utf8_lossy(&rel_bytes).into_owned();
        let meta = fs::symlink_metadata(&path).map_err(|e| unreadable(&path, e))?;
        let ft = meta.file_type();
        let (ignored, info) = matcher.matches_using_parent(&rel, parent);
        if ignored {
            if !ft.is_dir() || !matcher.has_exclusions() || !matcher.may_reinclude_under(&rel) {
                continue;
            }
            // Walk inside for the exceptions, without sending the folder itself.
            walk(root, ctx_dir, &path, matcher, &info, out)?;
            continue;
        }
        let kind = entry_kind(root, dir, &path, ft)?;
        let size = if kind == EntryKind::File {
            meta.len()
        } else {
            0
        };
        out.content_bytes += size;
        out.entries.push(ContextEntry {
            source: path.clone(),
            name: rel_bytes,
            kind,
            size,
        });
        if kind == EntryKind::Dir {
            walk(root, ctx_dir, &path, matcher, &info, out)?;
        }
    }
    Ok(())
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

/// Writes the context as an uncompressed tar, owned by root like Docker's.
///
/// Returns the number of bytes written: the context size actually sent.
pub fn write_tar<W: Write>(ctx: &BuildContext, writer: W) -> io::Result<u64> {
    let mut counter = CountingWriter {
        inner: writer,
        count: 0,
    };
    {
        let mut builder = tar::Builder::new(&mut counter);
        builder.follow_symlinks(false);
        for entry in &ctx.entries {
            let meta = fs::symlink_metadata(&entry.source)?;
            let mut header = tar::Header::new_gnu();
            header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
            header.set_uid(0);
            header.set_gid(0);
            header.set_username("")?;
            header.set_groupname("")?;
            let name = std::ffi::OsStr::from_bytes(&entry.name);
            match entry.kind {
                EntryKind::File => {
                    let file = fs::File::open(&entry.source)?;
                    header.set_size(meta.len());
                    builder.append_data(&mut header, name, file.take(meta.len()))?;
                }
                EntryKind::Dir => {
                    header.set_size(0);
                    builder.append_data(&mut header, name, io::empty())?;
                }
                EntryKind::Symlink => {
                    let target = fs::read_link(&entry.source)?;
                    header.set_size(0);
                    builder.append_link(&mut header, name, target)?;
                }
            }
        }
        builder.finish()?;
    }
    counter.flush()?;
    Ok(counter.count)
}

struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(s: &str) -> RelPath {
        RelPath::new(s).expect("valid relative path")
    }

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, body) in files {
            let p = dir.path().join(name);
            fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            fs::write(p, body).expect("write");
        }
        dir
    }

    #[test]
    fn ignored_files_are_not_sent_but_build_files_always_are() {
        let d = tree(&[
            ("Dockerfile", "FROM x"),
            (".dockerignore", "*\n!src\n"),
            ("big.dat", "xxxx"),
            ("src/main.sh", "echo"),
        ]);
        let ctx = collect(d.path(), &rel("."), &rel("Dockerfile")).expect("collects");
        assert_eq!(
            ctx.names(),
            vec![".dockerignore", "Dockerfile", "src", "src/main.sh"]
        );
        assert_eq!(ctx.dockerfile, "Dockerfile");
    }

    #[test]
    fn a_dockerfile_outside_the_context_is_added_under_its_own_name() {
        let d = tree(&[("Dockerfile.x", "FROM x"), ("app/a.txt", "a")]);
        let ctx = collect(d.path(), &rel("app"), &rel("Dockerfile.x")).expect("collects");
        assert_eq!(ctx.names(), vec!["a.txt", OUTSIDE_DOCKERFILE]);
        assert_eq!(ctx.dockerfile, OUTSIDE_DOCKERFILE);
    }

    #[test]
    fn layers_merge_but_never_replace_the_submissions_dockerfile() {
        let sub = tree(&[
            ("Dockerfile", "FROM student"),
            ("mine.txt", "m"),
            (".dockerignore", "*.dat\n"),
        ]);
        let extra = tree(&[
            ("Dockerfile", "FROM reference"),
            ("course/hello.sh", "echo"),
            ("big.dat", "x"),
        ]);
        let ctx = collect_layered(&[sub.path(), extra.path()], &rel("."), &rel("Dockerfile"))
            .expect("collects");
        assert_eq!(
            ctx.names(),
            vec![
                ".dockerignore",
                "Dockerfile",
                "course",
                "course/hello.sh",
                "mine.txt"
            ]
        );
        let dockerfile = ctx
            .entries
            .iter()
            .find(|e| e.name == b"Dockerfile")
            .expect("Dockerfile");
        assert_eq!(
            fs::read_to_string(&dockerfile.source).expect("read"),
            "FROM student"
        );
    }

    #[test]
    fn symlinks_out_of_the_submission_are_refused() {
        let d = tree(&[("Dockerfile", "FROM x")]);
        std::os::unix::fs::symlink("/etc/passwd", d.path().join("leak")).expect("symlink");
        let err = collect(d.path(), &rel("."), &rel("Dockerfile")).expect_err("must refuse");
        assert!(
            matches!(err, SubmissionError::EscapingSymlink { .. }),
            "{err}"
        );
        std::os::unix::fs::symlink("../../", d.path().join("up")).expect("symlink");
        fs::remove_file(d.path().join("leak")).expect("rm");
        let err = collect(d.path(), &rel("."), &rel("Dockerfile")).expect_err("must refuse");
        assert!(err.to_string().contains("`up` is a symlink"), "{err}");
    }

    #[test]
    fn symlinks_inside_the_submission_are_kept_as_links() {
        let d = tree(&[("Dockerfile", "FROM x"), ("real.txt", "r")]);
        std::os::unix::fs::symlink("real.txt", d.path().join("link.txt")).expect("symlink");
        let ctx = collect(d.path(), &rel("."), &rel("Dockerfile")).expect("collects");
        let link = ctx
            .entries
            .iter()
            .find(|e| e.name == b"link.txt")
            .expect("link entry");
        assert_eq!(link.kind, EntryKind::Symlink);
    }

    #[test]
    fn a_required_file_that_is_a_link_outside_is_refused() {
        let d = tree(&[]);
        std::os::unix::fs::symlink("/etc/hostname", d.path().join("Dockerfile")).expect("symlink");
        let err = require_file(d.path(), &rel("Dockerfile")).expect_err("must refuse");
        assert!(matches!(err, SubmissionError::EscapingSymlink { .. }));
        let err = require_file(d.path(), &rel("nope")).expect_err("missing");
        assert_eq!(err, SubmissionError::Missing("nope".into()));
    }

    #[test]
    fn the_tar_round_trips_and_its_size_is_counted() {
        let d = tree(&[("Dockerfile", "FROM x"), ("a/b.txt", "hello")]);
        let ctx = collect(d.path(), &rel("."), &rel("Dockerfile")).expect("collects");
        let mut buf = Vec::new();
        let n = write_tar(&ctx, &mut buf).expect("writes");
        assert_eq!(n as usize, buf.len());
        let mut archive = tar::Archive::new(&buf[..]);
        let names: Vec<String> = archive
            .entries()
            .expect("entries")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .expect("path")
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(names, vec!["Dockerfile", "a", "a/b.txt"]);
    }
}
