//! The tar of a collected build context, as the engine streams it to the
//! daemon. A file that cannot be read when it is archived (removed, made
//! unreadable, or shrunk since the walk) fails with its name in the message.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;

use super::{BuildContext, ContextEntry, EntryKind};

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
            append(&mut builder, entry)?;
        }
        builder.finish()?;
    }
    counter.flush()?;
    Ok(counter.count)
}

/// Archives one entry. Errors reading it name it; errors writing (the
/// daemon went away) are passed on as they are.
fn append<W: Write>(builder: &mut tar::Builder<W>, entry: &ContextEntry) -> io::Result<()> {
    let unreadable = |e: io::Error| cannot_read(entry, e);
    let meta = fs::symlink_metadata(&entry.source).map_err(unreadable)?;
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
    header.set_uid(0);
    header.set_gid(0);
    header.set_username("")?;
    header.set_groupname("")?;
    let name = OsStr::from_bytes(&entry.name);
    match entry.kind {
        EntryKind::File => {
            let file = fs::File::open(&entry.source).map_err(unreadable)?;
            header.set_size(meta.len());
            builder.append_data(&mut header, name, Content::new(file, meta.len(), entry))
        }
        EntryKind::Dir => {
            header.set_size(0);
            builder.append_data(&mut header, name, io::empty())
        }
        EntryKind::Symlink => {
            let target = fs::read_link(&entry.source).map_err(unreadable)?;
            header.set_size(0);
            builder.append_link(&mut header, name, target)
        }
    }
}

fn cannot_read(entry: &ContextEntry, e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!(
            "cannot read `{}`: {e}",
            String::from_utf8_lossy(&entry.name)
        ),
    )
}

/// A file's content, exactly as long as its header says: the tar crate
/// would otherwise write a short entry for a file that shrank, and the
/// daemon would misread the rest of the archive.
pub(super) struct Content<'a> {
    file: io::Take<fs::File>,
    left: u64,
    entry: &'a ContextEntry,
}

impl<'a> Content<'a> {
    /// The first `len` bytes of `file`, the content of `entry`.
    pub(super) fn new(file: fs::File, len: u64, entry: &'a ContextEntry) -> Content<'a> {
        Content {
            file: file.take(len),
            left: len,
            entry,
        }
    }
}

impl Read for Content<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self
            .file
            .read(buf)
            .map_err(|e| cannot_read(self.entry, e))?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            let shrank = io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "it is {} bytes shorter than when the context was collected",
                    self.left
                ),
            );
            return Err(cannot_read(self.entry, shrank));
        }
        self.left -= n as u64;
        Ok(n)
    }
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
