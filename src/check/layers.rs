//! Assertions about what an image's layers hold, not only its final file
//! system: paths in no layer (`layers.absent`), bytes wasted by later layers
//! (`wasted`) and the efficiency score (`efficiency`), both as dive defines
//! them; and the explanation a failed size check gives (which layers made
//! the image big).
//!
//! dive (`filetree/efficiency.go`, v0.13.1) walks the leaves of every
//! layer's tree, bottom first. Each visit adds the entry's size to its path's
//! total; a whiteout of a file adds nothing (the file's copy already
//! counted), a whiteout of a folder adds the size of everything under it as
//! stacked below; opaque markers are ignored. A path seen in two layers or
//! more is an inefficiency; the wasted bytes are the totals of those paths
//! (every copy, the first one included); the score is the sum over all paths
//! of their smallest size over the sum of their totals (1 when that is 0).
//! Computed the same way, so a course can quote dive. Where dive's own code
//! goes astray we do not follow it: a whiteout of a path that is not there
//! does not stop the layer's walk, and a layer `docker save` stores as a
//! link to an identical one is read, not taken as empty (docs/spec.md).

use std::collections::{BTreeMap, HashSet};

use super::{Assessed, Finding, Status};
use crate::dockerignore::Matcher;
use crate::observation::{EntryKind, HistoryEntry, ImageFacts, LayerContents};
use crate::units::format_size;

/// Offending paths named in a message; the rest are counted.
const SHOWN: usize = 5;

pub(super) fn contents(image: &ImageFacts) -> Result<&LayerContents, (Status, String)> {
    image.contents.as_ref().ok_or((
        Status::Error,
        "the image's layers were not read (a planning error in dockgrade)".to_string(),
    ))
}

/// The instruction that made layer `index` (0-based, bottom first), as a
/// student wrote it, when the history says.
fn instruction(contents: &LayerContents, index: usize) -> Option<String> {
    let made: Vec<&HistoryEntry> = contents
        .history
        .iter()
        .filter(|h| h.empty_layer != Some(true))
        .collect();
    // A history that does not account for every layer (an imported base,
    // an edited config) cannot say which instruction made which: say none
    // rather than a wrong one.
    if made.len() != contents.layers.len() {
        return None;
    }
    made.get(index).map(|h| readable(&h.created_by))
}

/// `layer 4 · COPY token /secret/token · 41 B`.
pub(super) fn describe_layer(contents: &LayerContents, index: usize) -> String {
    let size = contents.layers.get(index).map_or(0, |l| l.size);
    match instruction(contents, index) {
        Some(i) => format!("layer {} · {i} · {}", index + 1, format_size(size)),
        None => format!("layer {} · {}", index + 1, format_size(size)),
    }
}

/// A history entry's `created_by` as the Dockerfile said it: without the
/// legacy builder's `/bin/sh -c #(nop) ` and without the build arguments it
/// prefixes (`|1 TOKEN=… /bin/sh -c …`: values never reach a report).
pub(super) fn readable(created_by: &str) -> String {
    let mut text = created_by.trim();
    if text.starts_with('|') {
        // `|N k=v k=v … /bin/sh -c command`: a value may hold spaces (or
        // anything), so the assignments cannot be counted off. The command
        // starts at the *last* `/bin/sh -c `: everything before it may be a
        // value, and is never shown. An exec-form RUN has no such marker:
        // nothing of it is shown then.
        match text.rfind("/bin/sh -c ") {
            Some(at) => text = &text[at..],
            None => return "(an instruction run with build arguments)".to_string(),
        }
    }
    let text = if let Some(nop) = text.strip_prefix("/bin/sh -c #(nop) ") {
        nop.trim().to_string()
    } else if let Some(run) = text.strip_prefix("/bin/sh -c ") {
        format!("RUN {run}")
    } else {
        text.to_string()
    };
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    // `COPY file:<64 hex digits> in /x`: the digest of what was copied says
    // nothing to a student; its first characters tell copies apart.
    static DIGEST: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\b(file|dir|multi):([0-9a-f]{8})[0-9a-f]{56}\b")
            .expect("a valid pattern")
    });
    let text = DIGEST.replace_all(&text, "$1:$2").into_owned();
    // A token typed into an instruction is shown by its first characters.
    let text = crate::secrets::redact(&text);
    let mut shown: String = text.chars().take(80).collect();
    if text.chars().count() > 80 {
        shown.push('…');
    }
    shown
}

/// Where each path matching `patterns` was added, and deleted if it was:
/// path → (layer that added it, layer that deleted it). Folders matched (a
/// glob's parents, an empty folder) are kept only when nothing else is,
/// since every layer that touches a file lists its folders.
type Located<'a> = BTreeMap<&'a str, (usize, Option<usize>)>;

fn locate<'a>(
    patterns: &[String],
    contents: &'a LayerContents,
) -> Result<Located<'a>, (Status, String)> {
    let relative: Vec<&str> = patterns.iter().map(|p| p.trim_start_matches('/')).collect();
    let matcher = Matcher::new(&relative).map_err(|e| (Status::Error, e.to_string()))?;
    let mut found: Located = BTreeMap::new();
    let mut folders: Vec<&str> = Vec::new();
    for (index, layer) in contents.layers.iter().enumerate() {
        for entry in &layer.entries {
            match entry.kind {
                EntryKind::Whiteout | EntryKind::Opaque => {
                    // What it deletes: the path itself (a whiteout) and
                    // everything under it.
                    let prefix = below(&entry.path);
                    let itself = (entry.kind == EntryKind::Whiteout)
                        .then_some(entry.path.as_str())
                        .and_then(|p| found.get_mut(p));
                    if let Some((_, deleted)) = itself {
                        deleted.get_or_insert(index);
                    }
                    let from = std::ops::Bound::Included(prefix.as_str());
                    for (_, (_, deleted)) in found
                        .range_mut::<str, _>((from, std::ops::Bound::Unbounded))
                        .take_while(|(p, _)| p.starts_with(&prefix))
                    {
                        deleted.get_or_insert(index);
                    }
                }
                _ => {
                    let matched = matcher
                        .matches_or_parent_matches(entry.path.trim_start_matches('/'))
                        .map_err(|e| (Status::Error, e.to_string()))?;
                    if matched && !found.contains_key(entry.path.as_str()) {
                        found.insert(&entry.path, (index, None));
                        if entry.kind == EntryKind::Dir {
                            folders.push(&entry.path);
                        }
                    }
                }
            }
        }
    }
    if found.len() > folders.len() {
        for folder in folders {
            found.remove(folder);
        }
    }
    Ok(found)
}

/// `path added by layer 2 · … , deleted by layer 3 · … (still in the image)`,
/// for the first few located paths.
fn attributed(contents: &LayerContents, found: &Located) -> String {
    let mut lines: Vec<String> = found
        .iter()
        .take(SHOWN)
        .map(|(path, (added, deleted))| {
            let mut line = format!("{path} added by {}", describe_layer(contents, *added));
            if let Some(d) = deleted {
                line.push_str(&format!(
                    ", deleted by {} (still in the image)",
                    describe_layer(contents, *d)
                ));
            }
            line
        })
        .collect();
    if found.len() > SHOWN {
        lines.push(format!("and {} more paths", found.len() - SHOWN));
    }
    lines.join("; ")
}

/// `layers.absent`: no layer adds any of `patterns` (a whiteout in a later
/// layer hides a path from the final file system, not from the image).
pub(super) fn absent(patterns: &[String], image: &ImageFacts) -> Assessed {
    let contents = contents(image)?;
    let found = locate(patterns, contents)?;
    let expected = format!("in no layer: {}", patterns.join(", "));
    if found.is_empty() {
        let actual = format!("in none of the {} layers", contents.layers.len());
        return Ok(Finding::new(true, "layers", expected, actual));
    }
    Ok(Finding::new(
        false,
        "layers",
        expected,
        attributed(contents, &found),
    ))
}

/// `layers.present`: each of `patterns` is added by some layer, even if a
/// later one deletes it (the 02c lesson: what a later RUN removes stays).
pub(super) fn present(patterns: &[String], image: &ImageFacts) -> Assessed {
    let contents = contents(image)?;
    let mut ok = true;
    let mut said = Vec::new();
    for pattern in patterns {
        let found = locate(std::slice::from_ref(pattern), contents)?;
        if found.is_empty() {
            ok = false;
            said.push(format!("{pattern} in no layer"));
        } else {
            said.push(attributed(contents, &found));
        }
    }
    let expected = format!("in some layer: {}", patterns.join(", "));
    Ok(Finding::new(ok, "layers", expected, said.join("; ")))
}

/// A path seen in several layers, as dive counts it.
#[derive(Debug, Default)]
struct PathUse {
    cumulative: u64,
    smallest: Option<u64>,
    layers: Vec<usize>,
}

/// dive's efficiency analysis: every path with its uses, bottom first.
fn analyse(contents: &LayerContents) -> BTreeMap<String, PathUse> {
    let mut uses: BTreeMap<String, PathUse> = BTreeMap::new();
    // The file system as stacked so far: path → (size, is a folder).
    let mut stacked: BTreeMap<String, (u64, bool)> = BTreeMap::new();
    for (index, layer) in contents.layers.iter().enumerate() {
        // dive drops opaque markers altogether: they neither count nor
        // hide anything, and they make no folder a parent.
        let entries = || layer.entries.iter().filter(|e| e.kind != EntryKind::Opaque);
        let parents: HashSet<&str> = entries().flat_map(|e| ancestors(&e.path)).collect();
        for entry in entries() {
            if parents.contains(entry.path.as_str()) {
                continue;
            }
            // A whiteout costs what it deletes when that is a folder (all of
            // it, as stacked below), and nothing when it is a file: the
            // file's own copy already counted.
            let size = match (entry.kind, stacked.get(&entry.path)) {
                (EntryKind::Whiteout, Some((_, true))) => size_under(&stacked, &entry.path),
                (EntryKind::Whiteout, _) => 0,
                _ => entry.size,
            };
            let u = uses.entry(entry.path.clone()).or_default();
            u.cumulative += size;
            u.smallest = Some(u.smallest.map_or(size, |s| s.min(size)));
            u.layers.push(index);
        }
        for entry in entries() {
            if entry.kind == EntryKind::Whiteout {
                remove_under(&mut stacked, &entry.path);
            } else {
                let folder = entry.kind == EntryKind::Dir;
                stacked.insert(entry.path.clone(), (entry.size, folder));
            }
        }
    }
    uses
}

/// Every proper ancestor of an absolute path (`/a/b/c` → `/a/b`, `/a`).
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.char_indices()
        .filter(|&(i, c)| c == '/' && i > 0)
        .map(move |(i, _)| &path[..i])
}

/// The prefix every path under `dir` starts with.
fn below(dir: &str) -> String {
    if dir == "/" {
        "/".to_string()
    } else {
        format!("{dir}/")
    }
}

/// The size of a folder in the stacked file system: its own and that of
/// everything under it.
fn size_under(stacked: &BTreeMap<String, (u64, bool)>, path: &str) -> u64 {
    let own = stacked.get(path).map_or(0, |(size, _)| *size);
    let prefix = below(path);
    own + stacked
        .range(prefix.clone()..)
        .take_while(|(p, _)| p.starts_with(&prefix))
        .map(|(_, (size, _))| size)
        .sum::<u64>()
}

/// Deletes `path` and everything under it from the stacked file system.
fn remove_under(stacked: &mut BTreeMap<String, (u64, bool)>, path: &str) {
    stacked.remove(path);
    let prefix = below(path);
    let gone: Vec<String> = stacked
        .range(prefix.clone()..)
        .take_while(|(p, _)| p.starts_with(&prefix))
        .map(|(p, _)| p.clone())
        .collect();
    for p in gone {
        stacked.remove(&p);
    }
}

/// A path in several layers: its total size and the layers that hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Inefficiency {
    pub path: String,
    pub size: u64,
    pub layers: Vec<usize>,
}

/// dive's numbers for an image.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Efficiency {
    pub wasted: u64,
    pub score: f64,
    /// Largest first.
    pub inefficient: Vec<Inefficiency>,
}

/// Wasted bytes and efficiency score, as dive computes them.
pub(crate) fn efficiency(contents: &LayerContents) -> Efficiency {
    let uses = analyse(contents);
    let (mut smallest, mut cumulative) = (0u64, 0u64);
    let mut wasted = 0u64;
    let mut inefficient = Vec::new();
    for (path, u) in uses {
        smallest += u.smallest.unwrap_or(0);
        cumulative += u.cumulative;
        if u.layers.len() >= 2 {
            wasted += u.cumulative;
            inefficient.push(Inefficiency {
                path,
                size: u.cumulative,
                layers: u.layers,
            });
        }
    }
    inefficient.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.path.cmp(&b.path)));
    let score = if cumulative == 0 {
        1.0
    } else {
        smallest as f64 / cumulative as f64
    };
    Efficiency {
        wasted,
        score,
        inefficient,
    }
}

/// The largest inefficiencies, with the layers that hold each copy.
fn worst(contents: &LayerContents, inefficient: &[Inefficiency]) -> String {
    let mut shown: Vec<String> = inefficient
        .iter()
        .take(SHOWN)
        .map(|i| {
            let layers: Vec<String> = i
                .layers
                .iter()
                .map(|&l| match instruction(contents, l) {
                    Some(what) => format!("layer {} ({what})", l + 1),
                    None => format!("layer {}", l + 1),
                })
                .collect();
            format!(
                "{} {} in {}",
                i.path,
                format_size(i.size),
                layers.join(", ")
            )
        })
        .collect();
    if inefficient.len() > SHOWN {
        shown.push(format!("and {} more paths", inefficient.len() - SHOWN));
    }
    shown.join("; ")
}

/// `wasted = { max }`: bytes that later layers overwrite or delete.
pub(super) fn wasted(max: u64, image: &ImageFacts) -> Assessed {
    let contents = contents(image)?;
    let Efficiency {
        wasted,
        inefficient,
        ..
    } = efficiency(contents);
    let mut actual = format!("{} wasted", format_size(wasted));
    if !inefficient.is_empty() && wasted > max {
        actual.push_str(&format!(": {}", worst(contents, &inefficient)));
    }
    Ok(Finding::new(
        wasted <= max,
        "wasted bytes",
        format!("at most {} wasted (as dive counts them)", format_size(max)),
        actual,
    ))
}

/// `efficiency = { min }`: dive's efficiency score.
pub(super) fn score(min: f64, image: &ImageFacts) -> Assessed {
    let contents = contents(image)?;
    let Efficiency {
        wasted,
        score,
        inefficient,
    } = efficiency(contents);
    let mut actual = format!("{} ({} wasted)", percent(score), format_size(wasted));
    if score < min && !inefficient.is_empty() {
        actual.push_str(&format!(": {}", worst(contents, &inefficient)));
    }
    Ok(Finding::new(
        score >= min,
        "efficiency",
        format!("at least {} (as dive scores it)", percent(min)),
        actual,
    ))
}

/// A score as dive prints it: `97.1234 %`, to four decimals.
fn percent(score: f64) -> String {
    format!("{:.4} %", score * 100.0)
}

/// What grew an image: the layers of `image` beyond those of `reference`
/// (all of them without one), largest first, with their instructions.
/// `None` when the history was not read or nothing added bytes.
pub(super) fn grew(image: &ImageFacts, reference: Option<&ImageFacts>) -> Option<String> {
    let history = image.history.as_ref()?;
    let base: &[HistoryEntry] = reference
        .and_then(|r| r.history.as_deref())
        .filter(|base| {
            base.len() <= history.len()
                && base
                    .iter()
                    .zip(history)
                    .all(|(a, b)| a.created_by == b.created_by && a.size == b.size)
        })
        .unwrap_or(&[]);
    let mut added: Vec<&HistoryEntry> = history[base.len()..]
        .iter()
        .filter(|h| h.size.unwrap_or(0) > 0)
        .collect();
    if added.is_empty() {
        return None;
    }
    added.sort_by_key(|h| std::cmp::Reverse(h.size));
    let mut shown: Vec<String> = added
        .iter()
        .take(SHOWN)
        .map(|h| {
            format!(
                "{} ({})",
                readable(&h.created_by),
                format_size(h.size.unwrap_or(0))
            )
        })
        .collect();
    if added.len() > SHOWN {
        shown.push(format!("and {} more", added.len() - SHOWN));
    }
    let whose = if base.is_empty() {
        "largest layers"
    } else {
        "layers added"
    };
    Some(format!("{whose}: {}", shown.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::{LayerEntry, LayerFiles};

    fn entry(path: &str, kind: EntryKind, size: u64) -> LayerEntry {
        LayerEntry {
            path: path.into(),
            kind,
            size,
        }
    }

    fn files(entries: Vec<LayerEntry>) -> LayerFiles {
        let mut entries = entries;
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        LayerFiles {
            size: entries.iter().map(|e| e.size).sum(),
            entries,
            suspects: Vec::new(),
        }
    }

    fn history(made: &[(&str, bool)]) -> Vec<HistoryEntry> {
        made.iter()
            .map(|(by, empty)| HistoryEntry {
                created_by: (*by).into(),
                size: None,
                empty_layer: Some(*empty),
            })
            .collect()
    }

    /// The course's 02c mistake: git installed, then purged in a later RUN.
    fn purged_later() -> ImageFacts {
        use EntryKind::*;
        ImageFacts {
            contents: Some(LayerContents {
                layers: vec![
                    files(vec![
                        entry("/bin/sh", File, 100),
                        entry("/etc/passwd", File, 10),
                    ]),
                    files(vec![
                        entry("/usr", Dir, 0),
                        entry("/usr/bin", Dir, 0),
                        entry("/usr/bin/git", File, 1000),
                        entry("/usr/share", Dir, 0),
                        entry("/usr/share/doc", Dir, 0),
                        entry("/usr/share/doc/git", Dir, 0),
                        entry("/usr/share/doc/git/copyright", File, 50),
                    ]),
                    files(vec![
                        entry("/usr/bin/git", Whiteout, 0),
                        entry("/usr/share/doc/git", Whiteout, 0),
                    ]),
                ],
                history: history(&[
                    ("/bin/sh -c #(nop) ADD file:abc in / ", false),
                    ("/bin/sh -c #(nop)  CMD [\"sh\"]", true),
                    ("/bin/sh -c apt-get update && apt-get install -y git", false),
                    ("/bin/sh -c apt-get purge -y git", false),
                ]),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_path_deleted_by_a_later_layer_is_still_in_the_image() {
        let f = absent(&["/usr/bin/git".into()], &purged_later()).expect("decided");
        assert!(!f.ok);
        assert_eq!(
            f.actual,
            "/usr/bin/git added by layer 2 · RUN apt-get update && apt-get install -y git · 1.05 kB, \
             deleted by layer 3 · RUN apt-get purge -y git · 0 B (still in the image)"
        );
        let f = absent(&["/usr/share/doc/**".into()], &purged_later()).expect("decided");
        assert!(!f.ok);
        assert!(
            f.actual
                .starts_with("/usr/share/doc/git/copyright added by layer 2"),
            "{}",
            f.actual
        );
        let f = present(&["/usr/bin/git".into()], &purged_later()).expect("decided");
        assert!(f.ok, "{}", f.actual);
        assert!(f.actual.contains("deleted by layer 3"), "{}", f.actual);
        let f = present(
            &["/usr/bin/git".into(), "/usr/bin/svn".into()],
            &purged_later(),
        )
        .expect("decided");
        assert!(!f.ok);
        assert!(
            f.actual.ends_with("; /usr/bin/svn in no layer"),
            "{}",
            f.actual
        );
        let f =
            absent(&["/usr/bin/svn".into(), "/opt/**".into()], &purged_later()).expect("decided");
        assert!(f.ok, "{}", f.actual);
        assert_eq!(f.actual, "in none of the 3 layers");
    }

    #[test]
    fn wasted_bytes_and_the_score_are_dives() {
        let image = purged_later();
        let Efficiency {
            wasted,
            score,
            inefficient,
        } = efficiency(image.contents.as_ref().expect("scanned"));
        // git: 1000 B when added; its whiteout adds nothing, but makes it a
        // path used twice, so its 1000 B are wasted. The deleted folder's
        // whiteout counts what was under it (50 B), once: not waste.
        assert_eq!(wasted, 1000);
        assert_eq!(inefficient.len(), 1);
        assert_eq!(inefficient[0].path, "/usr/bin/git");
        assert_eq!(inefficient[0].layers, vec![1, 2]);
        let expected = (100.0 + 10.0 + 0.0 + 50.0 + 50.0) / (100.0 + 10.0 + 1000.0 + 50.0 + 50.0);
        assert!((score - expected).abs() < 1e-12, "{score} vs {expected}");
        let f = wasted_check(999, &image);
        assert!(!f.ok);
        assert!(
            f.actual
                .starts_with("1.00 kB wasted: /usr/bin/git 1.00 kB in layer 2 (RUN apt-get update"),
            "{}",
            f.actual
        );
        assert!(wasted_check(1000, &image).ok);
        let f = super::score(0.17, &image).expect("decided");
        assert!(f.ok, "{}", f.actual);
        assert_eq!(f.expected, "at least 17.0000 % (as dive scores it)");
        assert!(!super::score(0.18, &image).expect("decided").ok);
    }

    fn wasted_check(max: u64, image: &ImageFacts) -> Finding {
        wasted(max, image).expect("decided")
    }

    #[test]
    fn an_image_with_nothing_repeated_wastes_nothing() {
        use EntryKind::*;
        let image = ImageFacts {
            contents: Some(LayerContents {
                layers: vec![
                    files(vec![entry("/a", File, 5)]),
                    files(vec![entry("/b", File, 7)]),
                ],
                history: vec![],
            }),
            ..Default::default()
        };
        let e = efficiency(image.contents.as_ref().expect("scanned"));
        assert_eq!((e.wasted, e.score), (0, 1.0));
        assert_eq!(efficiency(&LayerContents::default()).score, 1.0);
    }

    #[test]
    fn instructions_read_as_written_and_build_arguments_never_show() {
        assert_eq!(
            readable("/bin/sh -c #(nop) WORKDIR /software"),
            "WORKDIR /software"
        );
        assert_eq!(
            readable("/bin/sh -c apt-get install -y git"),
            "RUN apt-get install -y git"
        );
        assert_eq!(
            readable("|1 TOKEN=hunter2 /bin/sh -c curl -H \"$TOKEN\" x"),
            "RUN curl -H \"$TOKEN\" x"
        );
        assert!(!readable("|2 A=1 TOKEN=hunter2").contains("hunter2"));
        // A value with spaces: nothing before the command is shown.
        assert_eq!(
            readable("|1 PASSWORD=correct horse battery /bin/sh -c echo hi"),
            "RUN echo hi"
        );
        // A count the submission wrote (an exec-form RUN is recorded as
        // typed) is not a loop bound.
        assert_eq!(
            readable("|18446744073709551615 x"),
            "(an instruction run with build arguments)"
        );
        assert_eq!(
            readable("RUN /bin/sh -c make # buildkit"),
            "RUN /bin/sh -c make # buildkit"
        );
        assert_eq!(readable(&"x".repeat(200)).chars().count(), 81);
        let digest = "d30305d2d787bb14175aeac8df9e8116dd19966fcb0f083479d5d840e22473d7";
        assert_eq!(
            readable(&format!("/bin/sh -c #(nop) COPY multi:{digest} in /tmp/ ")),
            "COPY multi:d30305d2 in /tmp/"
        );
    }

    #[test]
    fn a_size_failure_names_the_layers_beyond_its_reference() {
        let entry = |by: &str, size: u64| HistoryEntry {
            created_by: by.into(),
            size: Some(size),
            empty_layer: None,
        };
        let base = ImageFacts {
            history: Some(vec![entry(
                "/bin/sh -c #(nop) ADD file:abc in / ",
                80_000_000,
            )]),
            ..Default::default()
        };
        let mut history = base.history.clone().expect("history");
        history.push(entry("/bin/sh -c apt-get install -y git", 212_000_000));
        history.push(entry("/bin/sh -c #(nop) WORKDIR /software", 0));
        history.push(entry("/bin/sh -c #(nop) COPY dir:x in /software ", 4_100));
        let image = ImageFacts {
            history: Some(history),
            ..Default::default()
        };
        assert_eq!(
            grew(&image, Some(&base)).as_deref(),
            Some(
                "layers added: RUN apt-get install -y git (212 MB), COPY dir:x in /software (4.10 kB)"
            )
        );
        assert_eq!(
            grew(&image, None).as_deref(),
            Some(
                "largest layers: RUN apt-get install -y git (212 MB), ADD file:abc in / (80.0 MB), \
                 COPY dir:x in /software (4.10 kB)"
            )
        );
        assert_eq!(grew(&base, Some(&base)), None);
    }
}
