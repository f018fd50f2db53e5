//! Which bytes of each file Splunk has accepted, and the checkpoint file that remembers it.
//!
//! The reader registers, for every sealed batch, how far into each file that batch reaches; the sink
//! reports batches as done once HEC accepted them (acknowledged, with ack on) or they were
//! dead-lettered. A file's committed offset moves past a batch only when that batch *and every earlier
//! batch holding lines of the file* are done, so a restart from the committed offset never skips a
//! line the rules kept: at-least-once. Dropped and shed lines need no batch; they are committed with
//! the kept lines around them.
//!
//! The checkpoint file is rewritten whole, to a temporary file that is synced and renamed over the
//! old one, so a crash leaves the old or the new version, never a torn one.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Identifies one reading of one file (a new id after rotation or truncation).
pub type TrackId = u64;

/// A batch's sequence number.
pub type Seq = u64;

/// Checkpoint I/O errors (the I/O cause is part of the message, as in [`crate::RunError`]).
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading, writing or renaming failed.
    #[error("{what} {path}: {error}")]
    Io {
        /// The operation.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// The file is not a checkpoint file.
    #[error("{path}: not a checkpoint file: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
}

/// One file's persisted position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The path the glob matched (often a symlink).
    pub path: PathBuf,
    /// The file it resolved to when opened (for finding it again after a rename).
    pub target: PathBuf,
    /// Device of the file.
    pub dev: u64,
    /// Inode of the file.
    pub ino: u64,
    /// Every line before this byte offset was delivered (or dropped by the rules).
    pub offset: u64,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    version: u32,
    files: Vec<Entry>,
}

/// Reads the checkpoint file; a missing file is an empty list.
pub fn load(path: &Path) -> Result<Option<Vec<Entry>>, CheckpointError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(CheckpointError::Io { what: "read", path: path.into(), error }),
    };
    let s: Stored =
        serde_json::from_str(&text).map_err(|e| CheckpointError::Corrupt { path: path.into(), message: e.to_string() })?;
    Ok(Some(s.files))
}

fn io(what: &'static str, p: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError {
    let path = p.to_path_buf();
    move |error| CheckpointError::Io { what, path, error }
}

/// Checks that [`store`] can write next to `path` (its temporary file is created, synced and removed):
/// a state directory that cannot take checkpoints is found at start, not after a restart that sends
/// every file again.
pub fn check_writable(path: &Path) -> Result<(), CheckpointError> {
    let tmp = path.with_extension("json.tmp");
    let f = File::create(&tmp).map_err(io("create", &tmp))?;
    f.sync_all().map_err(io("write", &tmp))?;
    fs::remove_file(&tmp).map_err(io("remove", &tmp))
}

/// Writes the checkpoint file atomically (temp file, fsync, rename, fsync of the directory).
pub fn store(path: &Path, files: &[Entry]) -> Result<(), CheckpointError> {
    let tmp = path.with_extension("json.tmp");
    let body = serde_json::to_vec(&Stored { version: 1, files: files.to_vec() }).unwrap_or_default();
    let mut f = File::create(&tmp).map_err(io("create", &tmp))?;
    f.write_all(&body).and_then(|_| f.sync_all()).map_err(io("write", &tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(io("rename", &tmp))?;
    if let Some(dir) = path.parent()
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

#[derive(Debug)]
struct Track {
    entry: Entry,
    /// (batch, offset the batch reaches in this file), in batch order.
    pending: VecDeque<(Seq, u64)>,
    /// Where the reader is, less any partial message still waiting: committed once nothing is pending.
    processed: u64,
    /// Bytes read from the file (for the lag metric).
    read: u64,
    /// The reader is done with this track; it is forgotten once nothing is pending.
    closed: bool,
    /// A newer track reads the same file (it was truncated): this one is never persisted.
    superseded: bool,
}

/// Committed offsets of every file being read.
#[derive(Debug, Default)]
pub struct Tracker {
    tracks: HashMap<TrackId, Track>,
    /// Completed batches some track still waits behind.
    done: BTreeSet<Seq>,
    /// Something changed since the last [`Tracker::snapshot`].
    dirty: bool,
}

impl Tracker {
    /// An empty tracker.
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// Starts tracking a file read from `entry.offset`.
    pub fn open(&mut self, id: TrackId, entry: Entry) {
        let off = entry.offset;
        self.tracks.insert(id, Track { entry, pending: VecDeque::new(), processed: off, read: off, closed: false, superseded: false });
        self.dirty = true;
    }

    /// Marks `old` superseded by a newer reading of the same file (after a truncation).
    pub fn supersede(&mut self, old: TrackId) {
        if let Some(t) = self.tracks.get_mut(&old) {
            t.superseded = true;
            t.closed = true;
        }
        self.forget_finished();
    }

    /// The reader is done with a track (rotated away and drained, or deleted).
    pub fn close(&mut self, id: TrackId) {
        if let Some(t) = self.tracks.get_mut(&id) {
            t.closed = true;
        }
        self.forget_finished();
        self.dirty = true;
    }

    /// Registers a sealed batch (`sealed`: its sequence number and how far it reaches in each file it
    /// holds lines of) and the reader's progress in every file, `(id, processed, read)`. Call only when
    /// no lines are waiting in an unsealed batch, since `processed` commits everything before it.
    pub fn sync(&mut self, sealed: Option<(Seq, &[(TrackId, u64)])>, progress: &[(TrackId, u64, u64)]) {
        if let Some((seq, reach)) = sealed {
            for &(id, off) in reach {
                if let Some(t) = self.tracks.get_mut(&id) {
                    t.pending.push_back((seq, off));
                }
            }
        }
        for &(id, processed, read) in progress {
            if let Some(t) = self.tracks.get_mut(&id) {
                t.processed = t.processed.max(processed);
                t.read = read;
            }
        }
        self.advance();
    }

    /// A batch was delivered (or dead-lettered).
    pub fn complete(&mut self, seq: Seq) {
        self.done.insert(seq);
        self.advance();
    }

    fn advance(&mut self) {
        let mut min_front = None::<Seq>;
        for t in self.tracks.values_mut() {
            while let Some(&(seq, off)) = t.pending.front() {
                if !self.done.contains(&seq) {
                    break;
                }
                t.pending.pop_front();
                if off > t.entry.offset {
                    t.entry.offset = off;
                    self.dirty = true;
                }
            }
            match t.pending.front() {
                Some(&(seq, _)) => min_front = Some(min_front.map_or(seq, |m| m.min(seq))),
                None if t.processed > t.entry.offset => {
                    t.entry.offset = t.processed;
                    self.dirty = true;
                }
                None => {}
            }
        }
        match min_front {
            Some(m) => self.done.retain(|&s| s >= m),
            None => self.done.clear(),
        }
        self.forget_finished();
    }

    fn forget_finished(&mut self) {
        let before = self.tracks.len();
        self.tracks.retain(|_, t| !(t.closed && t.pending.is_empty()));
        self.dirty |= self.tracks.len() != before;
    }

    /// The committed offset of a track.
    pub fn committed(&self, id: TrackId) -> Option<u64> {
        self.tracks.get(&id).map(|t| t.entry.offset)
    }

    /// Bytes read but not yet committed, over all files.
    pub fn lag_bytes(&self) -> u64 {
        self.tracks.values().filter(|t| !t.superseded).map(|t| t.read.saturating_sub(t.entry.offset)).sum()
    }

    /// The entries to persist, when anything changed since the last call.
    pub fn snapshot(&mut self) -> Option<Vec<Entry>> {
        if !std::mem::take(&mut self.dirty) {
            return None;
        }
        let mut v: Vec<Entry> = self.tracks.values().filter(|t| !t.superseded).map(|t| t.entry.clone()).collect();
        v.sort_by(|a, b| a.path.cmp(&b.path).then(a.ino.cmp(&b.ino)));
        Some(v)
    }

    /// Entries to persist, unconditionally.
    pub fn entries(&mut self) -> Vec<Entry> {
        self.dirty = true;
        self.snapshot().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ino: u64, offset: u64) -> Entry {
        Entry { path: format!("/f{ino}").into(), target: format!("/t{ino}").into(), dev: 1, ino, offset }
    }

    #[test]
    fn commits_only_past_contiguously_done_batches() {
        let mut t = Tracker::new();
        t.open(1, entry(1, 0));
        t.open(2, entry(2, 0));
        t.sync(Some((10, &[(1, 100), (2, 50)])), &[(1, 100, 100), (2, 50, 50)]);
        t.sync(Some((11, &[(1, 200)])), &[(1, 200, 200), (2, 80, 80)]);
        t.complete(11);
        // Batch 10 still holds lines of both files.
        assert_eq!((t.committed(1), t.committed(2)), (Some(0), Some(0)));
        t.complete(10);
        // File 2's lines after 50 were dropped: committed up to where the reader is.
        assert_eq!((t.committed(1), t.committed(2)), (Some(200), Some(80)));
        assert!(t.done.is_empty());
        assert_eq!(t.lag_bytes(), 0);
        let snap = t.snapshot().unwrap();
        assert_eq!(snap.iter().map(|e| e.offset).collect::<Vec<_>>(), [200, 80]);
        assert!(t.snapshot().is_none());
        // A closed track lingers until its batches are done, then is forgotten.
        t.sync(Some((12, &[(2, 90)])), &[(2, 90, 90)]);
        t.close(2);
        assert_eq!(t.committed(2), Some(80));
        t.complete(12);
        assert_eq!(t.committed(2), None);
    }

    #[test]
    fn stores_atomically() {
        let dir = std::env::temp_dir().join(format!("logtrim-ckpt-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("checkpoints.json");
        assert_eq!(load(&p).unwrap(), None);
        store(&p, &[entry(1, 5)]).unwrap();
        assert_eq!(load(&p).unwrap(), Some(vec![entry(1, 5)]));
        assert!(!dir.join("checkpoints.json.tmp").exists());
        fs::write(&p, "{").unwrap();
        assert!(matches!(load(&p), Err(CheckpointError::Corrupt { .. })));
        fs::remove_dir_all(&dir).ok();
    }
}
