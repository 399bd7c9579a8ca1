//! The layouts real courses hand in, and the students found in them.
//!
//! - **folders**: `submissions/<student>/…`, also what cloning a GitHub
//!   Classroom assignment gives;
//! - **archives**: `submissions/<student>.zip` (or `.tar`, `.tar.gz`, `.tgz`);
//! - **gradescope**: an export, `submission_metadata.yml` beside
//!   `submission_<id>/` folders, students named from the metadata (every
//!   member of a group submission gets the group's result).
//!
//! The layout is detected (a Gradescope export by its metadata file; else
//! folders or archives, whichever the folder holds) or named. Hidden entries
//! and `__MACOSX` are not students; anything else that does not fit is a
//! warning, never a crash. Names are kept as they are, bytes that are not
//! UTF-8 included (shown lossily, kept apart by a hash).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use yaml_rust2::{Yaml, YamlLoader};

use super::student::{Student, short_hash};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Layout {
    Folders,
    Archives,
    Gradescope,
}

/// Where a student's files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    Folder(PathBuf),
    Archive(PathBuf),
    /// Nothing can be graded, and why (e.g. two archives for one student).
    Refused(String),
}

/// One student's submission, as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Submission {
    pub student: Student,
    pub source: Source,
}

/// What a submissions folder holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Discovery {
    pub submissions: Vec<Submission>,
    pub warnings: Vec<String>,
}

/// The extensions of archives a student may hand in.
const ARCHIVES: [&str; 4] = [".tar.gz", ".tgz", ".tar", ".zip"];

/// The largest Gradescope metadata file read.
const MAX_METADATA: u64 = 16 << 20;

/// Finds every submission in `dir`, in the named layout or the one it holds.
pub(crate) fn discover(dir: &Path, layout: Option<Layout>) -> Result<(Layout, Discovery), String> {
    let entries = entries(dir)?;
    let layout = match layout {
        Some(l) => l,
        None => detect(dir, &entries)?,
    };
    let found = match layout {
        Layout::Folders => folders(&entries),
        Layout::Archives => archives(&entries),
        Layout::Gradescope => gradescope(dir, &entries)?,
    };
    Ok((layout, found))
}

/// The visible entries of `dir`: (name, path, is a folder).
fn entries(dir: &Path) -> Result<Vec<(String, PathBuf, bool)>, String> {
    let read = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read the submissions folder {}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for entry in read.flatten() {
        let raw = entry.file_name();
        if raw.as_bytes().starts_with(b".") || raw == "__MACOSX" {
            continue;
        }
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        out.push((display_name(&raw), entry.path(), is_dir));
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

/// A file name as text: itself when it is UTF-8; else its lossy reading
/// and a hash of its bytes, so two such names stay apart.
fn display_name(raw: &OsStr) -> String {
    match raw.to_str() {
        Some(s) => s.to_string(),
        None => format!("{}~{}", raw.to_string_lossy(), short_hash(raw.as_bytes())),
    }
}

fn detect(dir: &Path, entries: &[(String, PathBuf, bool)]) -> Result<Layout, String> {
    if dir.join("submission_metadata.yml").is_file() {
        return Ok(Layout::Gradescope);
    }
    let folders = entries.iter().filter(|e| e.2).count();
    let archives = entries
        .iter()
        .filter(|e| !e.2 && archive_stem(&e.0).is_some())
        .count();
    match (folders, archives) {
        (0, 0) => Err(format!(
            "{} holds no submission: neither folders nor archives (.zip, .tar, .tar.gz)",
            dir.display()
        )),
        (_, 0) => Ok(Layout::Folders),
        (0, _) => Ok(Layout::Archives),
        _ => Err(format!(
            "{} holds both folders ({folders}) and archives ({archives}): say which with --layout folders or --layout archives",
            dir.display()
        )),
    }
}

/// The student a file name is an archive of, by its extension.
fn archive_stem(name: &str) -> Option<&str> {
    let lower = name.to_ascii_lowercase();
    ARCHIVES
        .iter()
        .find(|ext| lower.ends_with(*ext) && lower.len() > ext.len())
        .map(|ext| &name[..name.len() - ext.len()])
}

fn folders(entries: &[(String, PathBuf, bool)]) -> Discovery {
    let mut found = Discovery::default();
    for (name, path, is_dir) in entries {
        if *is_dir {
            found.submissions.push(Submission {
                student: Student::new(name.clone()),
                source: Source::Folder(path.clone()),
            });
        } else {
            found.warnings.push(format!(
                "{name:?} is a file, not a student's folder: skipped"
            ));
        }
    }
    found
}

fn archives(entries: &[(String, PathBuf, bool)]) -> Discovery {
    let mut found = Discovery::default();
    let mut by_student: BTreeMap<String, Vec<(String, PathBuf)>> = BTreeMap::new();
    for (name, path, is_dir) in entries {
        match (is_dir, archive_stem(name)) {
            (false, Some(stem)) => by_student
                .entry(stem.to_string())
                .or_default()
                .push((name.clone(), path.clone())),
            _ => found.warnings.push(format!(
                "{name:?} is not an archive (.zip, .tar, .tar.gz, .tgz): skipped"
            )),
        }
    }
    for (student, mut files) in by_student {
        let source = if files.len() == 1 {
            Source::Archive(files.remove(0).1)
        } else {
            let names: Vec<String> = files.into_iter().map(|(n, _)| n).collect();
            Source::Refused(format!(
                "more than one archive for this student: {}",
                names.join(", ")
            ))
        };
        found.submissions.push(Submission {
            student: Student::new(student),
            source,
        });
    }
    found
}

fn gradescope(dir: &Path, entries: &[(String, PathBuf, bool)]) -> Result<Discovery, String> {
    let file = dir.join("submission_metadata.yml");
    let text = read_bounded(&file)?;
    let docs = YamlLoader::load_from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let Some(Yaml::Hash(map)) = docs.into_iter().next() else {
        return Err(format!("{}: expected a map of submissions", file.display()));
    };
    let mut found = Discovery::default();
    let mut named = std::collections::BTreeSet::new();
    for (key, value) in &map {
        let Some(folder) = key.as_str() else { continue };
        named.insert(folder.to_string());
        let path = dir.join(folder);
        let source = if path.is_dir() && !folder.contains('/') && folder != ".." {
            Source::Folder(path)
        } else {
            Source::Refused(format!("the export has no folder {folder:?}"))
        };
        for student in submitters(value, folder) {
            found.submissions.push(Submission {
                student,
                source: source.clone(),
            });
        }
    }
    for (name, _, is_dir) in entries {
        if *is_dir && !named.contains(name) {
            found.warnings.push(format!(
                "{name:?} is not in submission_metadata.yml: skipped"
            ));
        }
    }
    Ok(found)
}

/// The students of one submission in a Gradescope export: `:submitters:`,
/// each named by `:sid:`, else `:email:`, else `:name:`, else the folder.
fn submitters(value: &Yaml, folder: &str) -> Vec<Student> {
    let field = |y: &Yaml, key: &str| -> Option<String> {
        let v = &y[key];
        v.as_str()
            .map(str::to_string)
            .or_else(|| v.as_i64().map(|n| n.to_string()))
            .filter(|s| !s.is_empty())
    };
    let list = value[":submitters"].as_vec().cloned().unwrap_or_default();
    let students: Vec<Student> = list
        .iter()
        .map(|s| {
            let name = field(s, ":name");
            let email = field(s, ":email");
            let sid = field(s, ":sid");
            Student {
                id: sid
                    .or_else(|| email.clone())
                    .or_else(|| name.clone())
                    .unwrap_or_else(|| folder.to_string()),
                name,
                email,
                section: None,
            }
        })
        .collect();
    if students.is_empty() {
        vec![Student::new(folder)]
    } else {
        students
    }
}

fn read_bounded(file: &Path) -> Result<String, String> {
    use std::io::Read;
    let f = std::fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut text = String::new();
    f.take(MAX_METADATA + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("{}: {e}", file.display()))?;
    if text.len() as u64 > MAX_METADATA {
        return Err(format!("{} is larger than 16 MiB", file.display()));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    //! Layout detection and discovery on folders made by the tests.

    use std::os::unix::ffi::OsStrExt;

    use super::*;

    fn tree(entries: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for e in entries {
            let p = dir.path().join(e);
            if e.ends_with('/') {
                std::fs::create_dir_all(&p).expect("mkdir");
            } else {
                std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
                std::fs::write(&p, "x").expect("write");
            }
        }
        dir
    }

    fn ids(found: &Discovery) -> Vec<&str> {
        found
            .submissions
            .iter()
            .map(|s| s.student.id.as_str())
            .collect()
    }

    #[test]
    fn folders_are_students_and_stray_files_are_warnings() {
        let dir = tree(&[
            "alice/Dockerfile",
            "bob/",
            ".git/",
            "__MACOSX/",
            "notes.txt",
        ]);
        let (layout, found) = discover(dir.path(), None).expect("discovers");
        assert_eq!(layout, Layout::Folders);
        assert_eq!(ids(&found), ["alice", "bob"]);
        assert_eq!(found.warnings.len(), 1, "{:?}", found.warnings);
        assert!(found.warnings[0].contains("notes.txt"));
    }

    #[test]
    fn archives_are_students_and_two_archives_of_one_student_are_refused() {
        let dir = tree(&[
            "carol.zip",
            "dave.tar.gz",
            "dave.zip",
            "erin.TGZ",
            "readme.md",
        ]);
        let (layout, found) = discover(dir.path(), None).expect("discovers");
        assert_eq!(layout, Layout::Archives);
        assert_eq!(ids(&found), ["carol", "dave", "erin"]);
        match &found.submissions[1].source {
            Source::Refused(why) => assert!(why.contains("dave.tar.gz, dave.zip"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(found.warnings.iter().any(|w| w.contains("readme.md")));
    }

    #[test]
    fn folders_and_archives_together_must_be_named() {
        let dir = tree(&["alice/", "bob.zip"]);
        let err = discover(dir.path(), None).expect_err("ambiguous");
        assert!(err.contains("--layout"), "{err}");
        let (_, found) = discover(dir.path(), Some(Layout::Archives)).expect("named");
        assert_eq!(ids(&found), ["bob"]);
    }

    #[test]
    fn a_gradescope_export_names_students_from_its_metadata() {
        let dir = tree(&[
            "submission_1/Dockerfile",
            "submission_2/Dockerfile",
            "submission_9/",
        ]);
        std::fs::write(
            dir.path().join("submission_metadata.yml"),
            "submission_1:\n  :submitters:\n  - :name: Solo Student\n    :sid: '100'\n    :email: solo@x.edu\n\
             submission_2:\n  :submitters:\n  - :name: Pair One\n    :sid: 200\n  - :name: Pair Two\n    :email: two@x.edu\n\
             submission_3:\n  :submitters:\n  - :name: Gone\n",
        )
        .expect("write");
        let (layout, found) = discover(dir.path(), None).expect("discovers");
        assert_eq!(layout, Layout::Gradescope);
        assert_eq!(ids(&found), ["100", "200", "two@x.edu", "Gone"]);
        assert_eq!(
            found.submissions[0].student.name.as_deref(),
            Some("Solo Student")
        );
        assert_eq!(
            found.submissions[1].source, found.submissions[2].source,
            "a group shares one folder"
        );
        assert!(matches!(found.submissions[3].source, Source::Refused(_)));
        assert!(found.warnings.iter().any(|w| w.contains("submission_9")));
    }

    #[test]
    fn names_that_are_not_utf8_or_hold_newlines_are_kept_apart() {
        let dir = tempfile::tempdir().expect("tempdir");
        for raw in [&b"caf\xe9"[..], b"caf\xe8", b"new\nline"] {
            std::fs::create_dir(dir.path().join(std::ffi::OsStr::from_bytes(raw))).expect("mkdir");
        }
        let (_, found) = discover(dir.path(), None).expect("discovers");
        let ids = ids(&found);
        assert_eq!(ids.len(), 3);
        assert!(ids.contains(&"new\nline"));
        assert_ne!(ids[0], ids[1], "two lossy names stay apart");
    }
}
