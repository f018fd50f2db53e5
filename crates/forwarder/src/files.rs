//! Opening the files the forwarder reads (container logs, the rule file, the configuration, the
//! token): only regular files, and never in a way that can block.
//!
//! `open(2)` on a FIFO waits for a writer, so a FIFO matching `inputs.paths` (or given as the rule
//! file) would stop the thread opening it for good; a device node could do anything on open. The
//! type is checked before opening (so a FIFO or device is never opened at all), and the open itself
//! is non-blocking in case the path was swapped in between; `O_NONBLOCK` changes nothing for reads
//! of regular files.

use std::fmt;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// What a path is when it is not a regular file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotRegular {
    /// A named pipe.
    Fifo,
    /// A Unix socket.
    Socket,
    /// A character or block device.
    Device,
    /// A directory.
    Directory,
}

impl NotRegular {
    /// Every kind, in the order of [`NotRegular::index`].
    pub const ALL: [NotRegular; 4] = [NotRegular::Fifo, NotRegular::Socket, NotRegular::Device, NotRegular::Directory];

    fn of(md: &Metadata) -> Option<NotRegular> {
        let t = md.file_type();
        if t.is_file() {
            None
        } else if t.is_fifo() {
            Some(NotRegular::Fifo)
        } else if t.is_socket() {
            Some(NotRegular::Socket)
        } else if t.is_char_device() || t.is_block_device() {
            Some(NotRegular::Device)
        } else {
            Some(NotRegular::Directory)
        }
    }

    /// The metric label: `fifo`, `socket`, `device`, `directory`.
    pub fn name(self) -> &'static str {
        match self {
            NotRegular::Fifo => "fifo",
            NotRegular::Socket => "socket",
            NotRegular::Device => "device",
            NotRegular::Directory => "directory",
        }
    }

    /// Position in [`NotRegular::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for NotRegular {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotRegular::Fifo => "a FIFO",
            NotRegular::Socket => "a socket",
            NotRegular::Device => "a device",
            NotRegular::Directory => "a directory",
        })
    }
}

/// What [`open_regular`] found.
#[derive(Debug)]
pub enum Opened {
    /// A regular file, open for reading, and its metadata.
    File(File, Metadata),
    /// Something else, not opened (or closed again).
    Not(NotRegular),
}

/// Opens `path` (following symbolic links) for reading if it is a regular file, without blocking.
pub fn open_regular(path: &Path) -> io::Result<Opened> {
    if let Some(kind) = NotRegular::of(&fs::metadata(path)?) {
        return Ok(Opened::Not(kind));
    }
    let file = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY).open(path)?;
    let md = file.metadata()?;
    Ok(match NotRegular::of(&md) {
        None => Opened::File(file, md),
        Some(kind) => Opened::Not(kind),
    })
}

/// Reads a whole regular file; anything else is an error that says what the path is.
pub fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    match open_regular(path)? {
        Opened::File(mut f, md) => {
            let mut buf = Vec::with_capacity(md.len() as usize);
            f.read_to_end(&mut buf)?;
            Ok(buf)
        }
        Opened::Not(kind) => Err(io::Error::new(io::ErrorKind::InvalidInput, format!("not a regular file but {kind}"))),
    }
}

/// [`read_regular`] as UTF-8 text.
pub fn read_regular_string(path: &Path) -> io::Result<String> {
    String::from_utf8(read_regular(path)?).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("not UTF-8 text: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A FIFO is reported, not opened: opening it would wait for a writer that never comes.
    #[test]
    fn a_fifo_is_not_opened() {
        let dir = std::env::temp_dir().join(format!("logtrim-files-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("pipe");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert!(matches!(open_regular(&fifo), Ok(Opened::Not(NotRegular::Fifo))));
        let e = read_regular_string(&fifo).unwrap_err();
        assert_eq!(e.to_string(), "not a regular file but a FIFO");
        assert!(matches!(open_regular(&dir), Ok(Opened::Not(NotRegular::Directory))));
        fs::write(dir.join("f"), "x").unwrap();
        assert_eq!(read_regular_string(&dir.join("f")).unwrap(), "x");
        fs::remove_dir_all(&dir).ok();
    }
}
