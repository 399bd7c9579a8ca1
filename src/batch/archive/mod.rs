//! A student's archive (`.zip`, `.tar`, `.tar.gz`), unpacked into a private
//! folder, refusing whatever could reach outside it or exhaust the grader.
//!
//! Refused, with a message that becomes the student's `invalid` status:
//! absolute names and names with `..` (zip-slip), links whose target leads
//! out of the folder, hard links, device files and FIFOs, more than
//! [`Limits::files`] entries, more than [`Limits::bytes`] unpacked, and a
//! ratio of unpacked to packed size past [`Limits::ratio`] (a "zip bomb"):
//! sizes are counted as bytes are written, never trusted from headers.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

/// What an archive may unpack to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub bytes: u64,
    pub files: u64,
    /// Unpacked bytes per packed byte, checked once past 10 MB.
    pub ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            bytes: 1 << 30,
            files: 20_000,
            ratio: 200,
        }
    }
}

/// The ratio check starts past this many unpacked bytes: small archives of
/// text compress very well and are no threat.
const RATIO_FLOOR: u64 = 10_000_000;

/// Unpacks `archive` into `into` (an empty folder).
pub(crate) fn unpack(archive: &Path, into: &Path, limits: Limits) -> Result<(), String> {
    let packed = fs::metadata(archive)
        .map_err(|e| format!("cannot read the archive: {e}"))?
        .len();
    let mut budget = Budget {
        limits,
        packed: packed.max(1),
        bytes: 0,
        files: 0,
    };
    let name = archive
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let file = fs::File::open(archive).map_err(|e| format!("cannot read the archive: {e}"))?;
    if name.ends_with(".zip") {
        unzip(file, into, &mut budget)
    } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        untar(flate2::read::GzDecoder::new(file), into, &mut budget)
    } else {
        untar(file, into, &mut budget)
    }
}

/// What has been unpacked so far, against the limits.
struct Budget {
    limits: Limits,
    packed: u64,
    bytes: u64,
    files: u64,
}

impl Budget {
    fn entry(&mut self) -> Result<(), String> {
        self.files += 1;
        if self.files > self.limits.files {
            return Err(format!(
                "the archive holds more than {} files",
                self.limits.files
            ));
        }
        Ok(())
    }

    fn wrote(&mut self, n: u64) -> Result<(), String> {
        self.bytes += n;
        if self.bytes > self.limits.bytes {
            return Err(format!(
                "the archive unpacks to more than {}",
                crate::units::format_size(self.limits.bytes)
            ));
        }
        if self.bytes > RATIO_FLOOR && self.bytes / self.packed > self.limits.ratio {
            return Err(format!(
                "the archive unpacks to more than {} times its size: a decompression bomb",
                self.limits.ratio
            ));
        }
        Ok(())
    }
}

/// The path an archive entry named `name` unpacks to, or why not.
fn inside(into: &Path, name: &Path) -> Result<PathBuf, String> {
    let mut out = into.to_path_buf();
    for c in name.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "the archive holds {:?}, a name that leads out of its folder",
                    name.display()
                ));
            }
        }
    }
    if out == into {
        return Err("the archive holds an entry with an empty name".to_string());
    }
    Ok(out)
}

/// Refuses a link at `path` to `target` unless the target stays inside.
fn check_link(into: &Path, path: &Path, target: &Path) -> Result<(), String> {
    let dir = path.parent().unwrap_or(into);
    let mut resolved: Vec<Component> = dir.components().collect();
    if target.is_absolute() {
        return Err(format!(
            "the archive holds a link to {}, outside its folder",
            target.display()
        ));
    }
    for c in target.components() {
        match c {
            Component::ParentDir => {
                resolved.pop();
            }
            Component::Normal(_) => resolved.push(c),
            _ => {}
        }
    }
    if !resolved.iter().collect::<PathBuf>().starts_with(into) {
        return Err(format!(
            "the archive holds a link to {}, outside its folder",
            target.display()
        ));
    }
    Ok(())
}

/// Writes a file's content, counting every byte against the budget.
fn write_file(
    path: &Path,
    content: &mut impl Read,
    mode: u32,
    budget: &mut Budget,
) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("cannot unpack: {e}"))?;
    }
    // Never through a link or over something that is already there.
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if mode & 0o111 != 0 { 0o755 } else { 0o644 })
        .open(path)
        .map_err(|e| format!("cannot unpack {}: {e}", path.display()))?;
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = content
            .read(&mut chunk)
            .map_err(|e| format!("the archive is damaged: {e}"))?;
        if n == 0 {
            return Ok(());
        }
        budget.wrote(n as u64)?;
        file.write_all(&chunk[..n])
            .map_err(|e| format!("cannot unpack: {e}"))?;
    }
}

fn unzip(file: fs::File, into: &Path, budget: &mut Budget) -> Result<(), String> {
    let mut zip = zip::ZipArchive::new(io::BufReader::new(file))
        .map_err(|e| format!("not a readable zip archive: {e}"))?;
    for i in 0..zip.len() {
        budget.entry()?;
        let mut entry = zip
            .by_index(i)
            .map_err(|e| format!("the archive is damaged: {e}"))?;
        let name = PathBuf::from(
            entry
                .name()
                .map_err(|e| format!("the archive is damaged: {e}"))?
                .into_owned(),
        );
        let path = inside(into, &name)?;
        let mode = entry.unix_mode().unwrap_or(0o644);
        if entry.is_dir() {
            fs::create_dir_all(&path).map_err(|e| format!("cannot unpack: {e}"))?;
        } else if mode & 0o170000 == 0o120000 {
            let mut target = String::new();
            (&mut entry)
                .take(4096)
                .read_to_string(&mut target)
                .map_err(|e| format!("the archive is damaged: {e}"))?;
            link(into, &path, Path::new(&target))?;
        } else if mode & 0o170000 == 0o100000 || mode & 0o170000 == 0 {
            write_file(&path, &mut entry, mode, budget)?;
        } else {
            return Err(format!(
                "the archive holds {:?}, which is neither a file, a folder nor a link",
                name.display()
            ));
        }
    }
    Ok(())
}

fn untar(input: impl Read, into: &Path, budget: &mut Budget) -> Result<(), String> {
    let mut archive = tar::Archive::new(input);
    let entries = archive
        .entries()
        .map_err(|e| format!("not a readable tar archive: {e}"))?;
    for entry in entries {
        budget.entry()?;
        let mut entry = entry.map_err(|e| format!("the archive is damaged: {e}"))?;
        let name = entry
            .path()
            .map_err(|e| format!("the archive is damaged: {e}"))?
            .into_owned();
        let path = inside(into, &name)?;
        let kind = entry.header().entry_type();
        let mode = entry.header().mode().unwrap_or(0o644);
        if kind.is_dir() {
            fs::create_dir_all(&path).map_err(|e| format!("cannot unpack: {e}"))?;
        } else if kind.is_symlink() {
            let target = entry
                .link_name()
                .map_err(|e| format!("the archive is damaged: {e}"))?
                .ok_or("the archive holds a link without a target")?
                .into_owned();
            link(into, &path, &target)?;
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            write_file(&path, &mut entry, mode, budget)?;
        } else if kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
        {
            continue;
        } else {
            return Err(format!(
                "the archive holds {:?}, which is neither a file, a folder nor a link (hard links, devices and FIFOs are refused)",
                name.display()
            ));
        }
    }
    Ok(())
}

/// Makes a symlink at `path`, if its target stays inside `into`.
fn link(into: &Path, path: &Path, target: &Path) -> Result<(), String> {
    check_link(into, path, target)?;
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("cannot unpack: {e}"))?;
    }
    std::os::unix::fs::symlink(target, path).map_err(|e| format!("cannot unpack: {e}"))
}

#[cfg(test)]
mod tests;
