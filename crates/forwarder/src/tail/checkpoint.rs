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
//!
//! An offset alone does not say the file still holds what was committed: a file truncated and written
//! past the offset while the forwarder was down looks the same by device, inode and size. So each entry
//! also carries [`Mark`]s: a hash of the file's first bytes, and of the bytes just before the offset
//! (read from the open file when the checkpoint is written). A restart resumes at the offset only if
//! both still match.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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
    /// The file's first bytes (as many as were read, at most [`MAX_MARK`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<Mark>,
    /// The bytes just before `offset` (at most [`BEFORE_MARK`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Mark>,
}

impl Entry {
    /// Whether `file` still holds what this entry was written for: the same first bytes and the same
    /// bytes before the offset. A file truncated and written again fails one or both.
    pub fn still_in(&self, file: &File) -> bool {
        let head = self.head.is_none_or(|m| m.found(file, 0));
        let before = self.before.is_none_or(|m| self.offset.checked_sub(u64::from(m.len)).is_some_and(|at| m.found(file, at)));
        head && before
    }
}

/// The longest run of bytes a [`Mark`] is taken of.
pub const MAX_MARK: usize = 256;

/// How many bytes before a checkpoint's offset its [`Entry::before`] mark covers.
pub const BEFORE_MARK: usize = 64;

/// A run of `len` bytes of a file, as their XXH3 hash: enough to tell whether the file still holds them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// How many bytes (at most [`MAX_MARK`]).
    pub len: u32,
    /// Their XXH3-64 hash.
    pub hash: u64,
}

impl Mark {
    /// The mark of `bytes` (the first [`MAX_MARK`] of them).
    pub fn of(bytes: &[u8]) -> Mark {
        let b = &bytes[..bytes.len().min(MAX_MARK)];
        Mark { len: b.len() as u32, hash: xxhash_rust::xxh3::xxh3_64(b) }
    }

    /// Reads the `len` bytes before `end` in `file` (fewer at the file's start), if it has them.
    pub fn before(file: &File, end: u64, len: usize) -> Option<Mark> {
        let mut buf = [0u8; MAX_MARK];
        let n = (len.min(MAX_MARK) as u64).min(end) as usize;
        file.read_exact_at(&mut buf[..n], end - n as u64).ok()?;
        (n > 0).then(|| Mark::of(&buf[..n]))
    }

    /// Whether `file` holds the marked bytes at `offset`.
    pub fn found(&self, file: &File, offset: u64) -> bool {
        let mut buf = [0u8; MAX_MARK];
        let Some(b) = buf.get_mut(..self.len as usize) else { return false };
        file.read_exact_at(b, offset).is_ok() && Mark::of(b) == *self
    }
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

/// The checkpoint file's one writer. Stores run one at a time, and a snapshot older than the last one
/// stored is not written: the periodic writer's store (on the blocking pool) may still be running, or
/// not have started yet, when shutdown stores the last snapshot, and both use the same temporary file.
pub struct Writer {
    path: PathBuf,
    /// The generation of the last snapshot stored.
    stored: Mutex<u64>,
}

impl Writer {
    /// A writer of the checkpoint file at `path`.
    pub fn new(path: PathBuf) -> Writer {
        Writer { path, stored: Mutex::new(0) }
    }

    /// The checkpoint file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Marks and stores `snapshot` (blocking I/O). `Ok(false)`: a newer one was stored already.
    pub fn store(&self, snapshot: Snapshot) -> Result<bool, CheckpointError> {
        let mut stored = self.stored.lock().unwrap_or_else(|e| e.into_inner());
        if snapshot.generation <= *stored {
            return Ok(false);
        }
        let generation = snapshot.generation;
        store(&self.path, &snapshot.marked())?;
        *stored = generation;
        Ok(true)
    }
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
    /// The file, to mark the bytes before the offset with when the checkpoint is written.
    file: Option<Arc<File>>,
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
    /// The archive holds lines from this offset on that are not durable yet: nothing commits past it.
    hold: Option<u64>,
}

/// Committed offsets of every file being read.
#[derive(Debug, Default)]
pub struct Tracker {
    tracks: HashMap<TrackId, Track>,
    /// Completed batches some track still waits behind.
    done: BTreeSet<Seq>,
    /// Something changed since the last [`Tracker::snapshot`].
    dirty: bool,
    /// Snapshots taken so far (each one's generation: the [`Writer`] stores none older than the last).
    generation: u64,
}

impl Tracker {
    /// An empty tracker.
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// Starts tracking a file read from `entry.offset`; `file` is it, open.
    pub fn open(&mut self, id: TrackId, entry: Entry, file: Option<Arc<File>>) {
        let off = entry.offset;
        self.tracks.insert(id, Track { entry, file, pending: VecDeque::new(), processed: off, read: off, closed: false, superseded: false, hold: None });
        self.dirty = true;
    }

    /// The mark of a track's file's first bytes (taken again as more of them are read).
    pub fn set_head(&mut self, id: TrackId, head: Mark) {
        if let Some(t) = self.tracks.get_mut(&id)
            && t.entry.head != Some(head)
        {
            t.entry.head = Some(head);
            self.dirty = true;
        }
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

    /// Sets the offset of a track's first line the archive has not made durable yet (`None`: none):
    /// its checkpoint does not pass it, whatever HEC delivered, until the line is spooled.
    pub fn hold(&mut self, id: TrackId, at: Option<u64>) {
        if let Some(t) = self.tracks.get_mut(&id)
            && t.hold != at
        {
            t.hold = at;
            self.advance();
        }
    }

    /// A batch was delivered (or dead-lettered).
    pub fn complete(&mut self, seq: Seq) {
        self.done.insert(seq);
        self.advance();
    }

    fn advance(&mut self) {
        let mut min_front = None::<Seq>;
        for t in self.tracks.values_mut() {
            let ceiling = t.hold.unwrap_or(u64::MAX);
            while let Some(&(seq, off)) = t.pending.front() {
                if !self.done.contains(&seq) {
                    break;
                }
                t.pending.pop_front();
                let off = off.min(ceiling);
                if off > t.entry.offset {
                    t.entry.offset = off;
                    self.dirty = true;
                }
            }
            match t.pending.front() {
                Some(&(seq, _)) => min_front = Some(min_front.map_or(seq, |m| m.min(seq))),
                None if t.processed.min(ceiling) > t.entry.offset => {
                    t.entry.offset = t.processed.min(ceiling);
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
        // A track the archive still holds lines of stays: forgetting it would lose its checkpoint.
        self.tracks.retain(|_, t| !(t.closed && t.pending.is_empty() && t.hold.is_none()));
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

    /// What to persist, when anything changed since the last call.
    pub fn snapshot(&mut self) -> Option<Snapshot> {
        if !std::mem::take(&mut self.dirty) {
            return None;
        }
        let mut v: Vec<(Entry, Option<Arc<File>>)> =
            self.tracks.values().filter(|t| !t.superseded).map(|t| (t.entry.clone(), t.file.clone())).collect();
        v.sort_by(|(a, _), (b, _)| a.path.cmp(&b.path).then(a.ino.cmp(&b.ino)));
        self.generation += 1;
        Some(Snapshot { generation: self.generation, items: v })
    }

    /// What to persist, unconditionally.
    pub fn entries(&mut self) -> Snapshot {
        self.dirty = true;
        self.snapshot().unwrap_or_else(|| Snapshot { generation: 0, items: Vec::new() })
    }
}

/// The entries to persist, with the files they describe: marking them reads each file, which is done
/// off the tracker's lock.
pub struct Snapshot {
    /// Taken after every snapshot of a smaller generation.
    generation: u64,
    items: Vec<(Entry, Option<Arc<File>>)>,
}

impl Snapshot {
    /// How many files.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there is no file.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The entries, each with the mark of the bytes just before its offset, read from its file now.
    pub fn marked(self) -> Vec<Entry> {
        self.items
            .into_iter()
            .map(|(mut e, file)| {
                if let Some(f) = file {
                    e.before = Mark::before(&f, e.offset, BEFORE_MARK);
                }
                e
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ino: u64, offset: u64) -> Entry {
        Entry { path: format!("/f{ino}").into(), target: format!("/t{ino}").into(), dev: 1, ino, offset, head: None, before: None }
    }

    #[test]
    fn nothing_commits_past_lines_the_archive_holds() {
        let mut t = Tracker::new();
        t.open(1, entry(1, 0), None);
        // Lines from 40 on are in an archive object not spooled yet; HEC delivered up to 100.
        t.hold(1, Some(40));
        t.sync(Some((1, &[(1, 100)])), &[(1, 120, 120)]);
        t.complete(1);
        assert_eq!(t.committed(1), Some(40));
        // Closed while held: the track (and its checkpoint) stays.
        t.close(1);
        assert_eq!(t.committed(1), Some(40));
        // Spooled: the rest commits, and the closed track goes.
        t.hold(1, None);
        assert_eq!(t.committed(1), None);
        let mut t = Tracker::new();
        t.open(1, entry(1, 0), None);
        t.hold(1, Some(40));
        t.sync(None, &[(1, 120, 120)]);
        assert_eq!(t.committed(1), Some(40));
        t.hold(1, None);
        assert_eq!(t.committed(1), Some(120));
    }

    #[test]
    fn commits_only_past_contiguously_done_batches() {
        let mut t = Tracker::new();
        t.open(1, entry(1, 0), None);
        t.open(2, entry(2, 0), None);
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
        let snap = t.snapshot().unwrap().marked();
        assert_eq!(snap.iter().map(|e| e.offset).collect::<Vec<_>>(), [200, 80]);
        assert!(t.snapshot().is_none());
        // A closed track lingers until its batches are done, then is forgotten.
        t.sync(Some((12, &[(2, 90)])), &[(2, 90, 90)]);
        t.close(2);
        assert_eq!(t.committed(2), Some(80));
        t.complete(12);
        assert_eq!(t.committed(2), None);
    }

    /// An entry's marks tell a file that still holds what was committed (appended to since) from one
    /// truncated and written again, even to the same length with the same bytes before the offset.
    #[test]
    fn marks_tell_a_rewritten_file() {
        let dir = std::env::temp_dir().join(format!("logtrim-ckpt-marks-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("f.log");
        fs::write(&p, "first line\nsecond line\n").unwrap();
        let file = Arc::new(File::open(&p).unwrap());
        let mut t = Tracker::new();
        t.open(1, Entry { offset: 11, ..entry(1, 0) }, Some(Arc::clone(&file)));
        t.set_head(1, Mark::of(b"first line\nsecond line\n"));
        let e = t.snapshot().unwrap().marked().remove(0);
        assert_eq!(e.before, Some(Mark::of(b"first line\n")));
        assert!(e.still_in(&file));
        fs::OpenOptions::new().append(true).open(&p).unwrap().write_all(b"third\n").unwrap();
        assert!(e.still_in(&File::open(&p).unwrap()), "appending changes nothing marked");
        fs::write(&p, "fresh line\nsecond line\nmore\n").unwrap();
        assert!(!e.still_in(&File::open(&p).unwrap()), "other first bytes");
        // The same bytes before the offset, by chance: the first bytes tell.
        fs::write(&p, "first line\nother stuff!\n").unwrap();
        assert!(!e.still_in(&File::open(&p).unwrap()));
        let only_before = Entry { head: None, ..e.clone() };
        assert!(only_before.still_in(&File::open(&p).unwrap()));
        fs::write(&p, "other text\n").unwrap();
        assert!(!only_before.still_in(&File::open(&p).unwrap()), "other bytes before the offset");
        fs::write(&p, "first").unwrap();
        assert!(!e.still_in(&File::open(&p).unwrap()), "shorter than the marks");
        fs::remove_dir_all(&dir).ok();
    }

    /// Checkpoint files written before entries had marks still load: such entries resume as before.
    #[test]
    fn entries_without_marks_load() {
        let old = r#"{"version":1,"files":[{"path":"/f1","target":"/t1","dev":1,"ino":1,"offset":5}]}"#;
        let s: Stored = serde_json::from_str(old).unwrap();
        assert_eq!(s.files, vec![entry(1, 5)]);
        assert!(s.files[0].still_in(&File::open("/dev/null").unwrap()));
        let e = Entry { head: Some(Mark { len: 3, hash: 7 }), ..entry(1, 5) };
        let text = serde_json::to_string(&e).unwrap();
        assert!(text.ends_with(r#""offset":5,"head":{"len":3,"hash":7}}"#), "{text}");
    }

    /// The shutdown's snapshot is not overwritten by an older one the periodic writer stores late.
    #[test]
    fn the_writer_stores_no_older_snapshot() {
        let dir = std::env::temp_dir().join(format!("logtrim-ckpt-writer-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let w = Writer::new(dir.join("checkpoints.json"));
        let mut t = Tracker::new();
        t.open(1, entry(1, 10), None);
        let older = t.entries();
        t.sync(None, &[(1, 20, 20)]);
        let newer = t.entries();
        assert!(w.store(newer).unwrap());
        assert!(!w.store(older).unwrap(), "older than what is stored");
        assert_eq!(load(w.path()).unwrap().unwrap()[0].offset, 20);
        fs::remove_dir_all(&dir).ok();
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
