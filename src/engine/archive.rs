//! Reading files out of an image through the archive API.
//!
//! A container is created from the image and never started (so images
//! without a shell work); each probed path costs one HEAD request (type,
//! mode, size, link), and only paths whose owner or content a check needs
//! are downloaded, and then only their first tar entry, capped. The Go
//! file-mode bits the API reports are turned into Unix ones here.

use std::io::Read;
use std::sync::atomic::Ordering;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    ContainerArchiveInfoOptionsBuilder, CreateContainerOptionsBuilder,
    DownloadFromContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::{CAPTURE_LIMIT, Engine, StepError, describe, is_not_found, sandbox};
use crate::names;
use crate::observation::{FileFacts, FileProbe, FileType, ImageFacts};
use crate::plan::{FileNeed, Probe};

impl Engine {
    /// Probes every file `probe` names in the image of `facts`, through one
    /// created container that is removed afterwards.
    pub(super) async fn probe_image_files(
        &self,
        probe: &Probe,
        facts: &mut ImageFacts,
    ) -> Result<(), StepError> {
        let container = self.create_probe_container(&facts.id).await?;
        let result = self.probe_files(&container, probe, facts).await;
        self.dispose_container(&container).await;
        result
    }

    async fn create_probe_container(&self, image_id: &str) -> Result<String, StepError> {
        let n = self.probe_counter.fetch_add(1, Ordering::Relaxed);
        let name = names::probe_container(&self.run_id, n);
        let body = ContainerCreateBody {
            image: Some(image_id.to_string()),
            // Never started: the command only has to satisfy the API.
            cmd: Some(vec!["/dockgrade-probe".to_string()]),
            entrypoint: Some(vec![]),
            labels: Some(self.labels()),
            network_disabled: Some(true),
            host_config: Some(sandbox::never_started()),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        let created = self
            .docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| StepError::daemon("creating a container to read files", e))?;
        self.record(|c| c.containers.push(created.id.clone()));
        Ok(created.id)
    }

    async fn probe_files(
        &self,
        container: &str,
        probe: &Probe,
        facts: &mut ImageFacts,
    ) -> Result<(), StepError> {
        let results: Vec<(String, FileProbe)> = futures_util::stream::iter(probe.files.iter())
            .map(|(path, need)| async move {
                (path.clone(), self.probe_path(container, path, *need).await)
            })
            .buffer_unordered(8)
            .collect()
            .await;
        facts.files = results.into_iter().collect();
        if probe.passwd {
            facts.passwd = self.read_text(container, "/etc/passwd").await?;
        }
        Ok(())
    }

    /// Stats one path (a HEAD request) and reads it only when needed.
    async fn probe_path(&self, container: &str, path: &str, need: FileNeed) -> FileProbe {
        let options = ContainerArchiveInfoOptionsBuilder::default()
            .path(path)
            .build();
        let stat = match self
            .docker
            .get_container_archive_info(container, Some(options))
            .await
        {
            Ok(s) => s,
            Err(e) if is_not_found(&e) => return FileProbe::Missing,
            Err(e) => return FileProbe::Error(describe(&e)),
        };
        let mut facts = FileFacts {
            file_type: go_file_type(stat.file_mode),
            mode: go_mode_to_unix(stat.file_mode),
            size: stat.size.max(0) as u64,
            link_target: (!stat.link_target.is_empty()).then(|| stat.link_target.clone()),
            ..Default::default()
        };
        if need.owner || need.content {
            match self.read_entry(container, path, need.content).await {
                Ok(Some(entry)) => {
                    facts.uid = Some(entry.uid);
                    facts.gid = Some(entry.gid);
                    facts.content = entry.content;
                }
                Ok(None) => return FileProbe::Missing,
                Err(e) => return FileProbe::Error(e),
            }
            // A symlink's content is its target's: follow it inside the image.
            if need.content && facts.file_type == Some(FileType::Symlink) {
                let link = facts.link_target.as_deref().unwrap_or("");
                match self.read_link_target(container, path, link).await {
                    Ok(Some(content)) => facts.content = Some(content),
                    Ok(None) => {}
                    Err(e) => return FileProbe::Error(e),
                }
            }
        }
        FileProbe::Found(facts)
    }

    /// The content a symlink at `path` leads to, following at most 8 links.
    async fn read_link_target(
        &self,
        container: &str,
        path: &str,
        link: &str,
    ) -> Result<Option<Vec<u8>>, String> {
        let mut target = resolve_link(path, link);
        for _ in 0..8 {
            match self.read_entry(container, &target, true).await? {
                Some(entry) if entry.link.is_some() => {
                    target = resolve_link(&target, entry.link.as_deref().unwrap_or(""));
                }
                Some(entry) => return Ok(entry.content),
                None => return Ok(None),
            }
        }
        Ok(None)
    }

    /// Reads the first archive entry at `path`: owner, link, and content if asked.
    async fn read_entry(
        &self,
        container: &str,
        path: &str,
        want_content: bool,
    ) -> Result<Option<ArchiveEntry>, String> {
        let options = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let mut stream = self
            .docker
            .download_from_container(container, Some(options));
        let mut buf = Vec::new();
        // The first header and up to the capture limit of content is all we
        // keep; a folder's whole tree is never downloaded.
        let limit = if want_content {
            CAPTURE_LIMIT + 64 * 1024
        } else {
            64 * 1024
        };
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => buf.extend_from_slice(&bytes),
                Err(e) if is_not_found(&e) => return Ok(None),
                Err(e) => return Err(describe(&e)),
            }
            if buf.len() >= limit {
                break;
            }
        }
        drop(stream);
        Ok(parse_first_entry(&buf, want_content))
    }

    pub(super) async fn read_text(
        &self,
        container: &str,
        path: &str,
    ) -> Result<Option<String>, StepError> {
        match self.read_entry(container, path, true).await {
            Ok(entry) => Ok(entry
                .and_then(|e| e.content)
                .map(|c| String::from_utf8_lossy(&c).into_owned())),
            Err(e) => Err(StepError::Infrastructure(format!("reading {path}: {e}"))),
        }
    }
}

#[derive(Debug)]
struct ArchiveEntry {
    uid: u64,
    gid: u64,
    link: Option<String>,
    content: Option<Vec<u8>>,
}

/// Reads the first entry of a (possibly truncated) tar.
fn parse_first_entry(buf: &[u8], want_content: bool) -> Option<ArchiveEntry> {
    let mut archive = tar::Archive::new(buf);
    let mut entries = archive.entries().ok()?;
    let mut entry = entries.next()?.ok()?;
    let header = entry.header();
    let uid = header.uid().unwrap_or(0);
    let gid = header.gid().unwrap_or(0);
    let kind = header.entry_type();
    let link = entry
        .link_name()
        .ok()
        .flatten()
        .map(|l| l.to_string_lossy().into_owned());
    let content = if want_content && kind.is_file() {
        let mut data = Vec::new();
        let mut limited = (&mut entry).take(CAPTURE_LIMIT as u64);
        let mut chunk = [0u8; 8192];
        loop {
            match limited.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => data.extend_from_slice(&chunk[..n]),
            }
        }
        Some(data)
    } else {
        None
    };
    Some(ArchiveEntry {
        uid,
        gid,
        link: if kind.is_symlink() { link } else { None },
        content,
    })
}

fn resolve_link(path: &str, target: &str) -> String {
    if target.starts_with('/') {
        return target.to_string();
    }
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    crate::dockerignore::clean(&format!("{dir}/{target}"))
}

// Go's os.FileMode bits, as the archive API reports them.
const GO_DIR: u32 = 1 << 31;
const GO_SYMLINK: u32 = 1 << 27;
const GO_DEVICE: u32 = 1 << 26;
const GO_PIPE: u32 = 1 << 25;
const GO_SOCKET: u32 = 1 << 24;
const GO_SETUID: u32 = 1 << 23;
const GO_SETGID: u32 = 1 << 22;
const GO_CHARDEV: u32 = 1 << 21;
const GO_STICKY: u32 = 1 << 20;
const GO_IRREGULAR: u32 = 1 << 19;

fn go_file_type(mode: u32) -> Option<FileType> {
    if mode & GO_DIR != 0 {
        Some(FileType::Dir)
    } else if mode & GO_SYMLINK != 0 {
        Some(FileType::Symlink)
    } else if mode & (GO_DEVICE | GO_PIPE | GO_SOCKET | GO_CHARDEV | GO_IRREGULAR) != 0 {
        None
    } else {
        Some(FileType::File)
    }
}

fn go_mode_to_unix(mode: u32) -> u32 {
    let mut unix = mode & 0o777;
    if mode & GO_SETUID != 0 {
        unix |= 0o4000;
    }
    if mode & GO_SETGID != 0 {
        unix |= 0o2000;
    }
    if mode & GO_STICKY != 0 {
        unix |= 0o1000;
    }
    unix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_modes_become_unix_modes() {
        assert_eq!(go_file_type(GO_DIR | 0o755), Some(FileType::Dir));
        assert_eq!(go_file_type(GO_SYMLINK | 0o777), Some(FileType::Symlink));
        assert_eq!(go_file_type(0o644), Some(FileType::File));
        assert_eq!(go_file_type(GO_PIPE | 0o644), None);
        assert_eq!(go_mode_to_unix(GO_DIR | GO_STICKY | 0o777), 0o1777);
        assert_eq!(go_mode_to_unix(GO_SETUID | 0o755), 0o4755);
    }

    #[test]
    fn links_resolve_relative_to_their_folder() {
        assert_eq!(
            resolve_link("/usr/bin/python", "python3"),
            "/usr/bin/python3"
        );
        assert_eq!(resolve_link("/a/b", "../c"), "/c");
        assert_eq!(resolve_link("/a/b", "/etc/x"), "/etc/x");
    }

    #[test]
    fn the_first_entry_of_a_truncated_tar_is_read() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_uid(1000);
        h.set_gid(100);
        h.set_mode(0o644);
        b.append_data(&mut h, "hello.txt", &b"hello"[..])
            .expect("append");
        let data = b.into_inner().expect("finish");
        let e = parse_first_entry(&data[..1024], true).expect("entry");
        assert_eq!((e.uid, e.gid), (1000, 100));
        assert_eq!(e.content.as_deref(), Some(&b"hello"[..]));
    }
}
