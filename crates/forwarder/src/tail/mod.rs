//! Following container log files: discovery by glob, reading, rotation, truncation, checkpoints.
//!
//! Files are polled, not watched with inotify: a `stat` per file per poll interval costs nothing at a
//! few hundred containers per node, behaves the same on every filesystem and container runtime, and
//! keeps the reader a plain loop that stops reading when the sink pushes back.
//!
//! - **Symlinks**: `/var/log/containers/*.log` are links into `/var/log/pods`; a file is identified by
//!   the device and inode the link resolves to.
//! - **Rename + create** (kubelet, Docker): the path resolves to a new inode. The old file stays open
//!   and is read to its end until it has been quiet for `rotate_wait`; the new one is read from the
//!   start.
//! - **Truncation** (copytruncate, or a program truncating its own log): the file is shorter than what
//!   was read, or it was written past that point again before the next look and its bytes changed: the
//!   bytes just before the read position are read again with every chunk (one `pread` covers both) and
//!   must not have changed, and the file's first bytes are compared at each poll when it was written
//!   since. A pause in reading (backpressure) therefore widens nothing: the next read checks first. The
//!   rest of the old content is looked for in the copy next to the file (`<name>.1`, `<name>-<date>`,
//!   same first bytes) and read from there; the file itself is read again from the start. Checkpoints
//!   carry the same two marks ([`checkpoint::Mark`]), so a truncation while the forwarder was down is
//!   found at the next start.
//! - **Lines** are cut at `max_line_bytes` (plus room for the CRI or Docker framing); the rest of an
//!   over-long line is skipped without being buffered. A message joined from partial lines (CRI `P`,
//!   Docker's 16 KiB parts) is cut at `max_line_bytes` too, however many parts come before its last.

pub mod checkpoint;

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, Metadata};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use logtrim_formats::container::{self, ContainerFormat, Joiner, Message};

use crate::config::{InputFormatSetting, Inputs, StartAt};
use crate::files::{NotRegular, Opened, open_regular};
use crate::meta::{FileMeta, Templates};
use checkpoint::{BEFORE_MARK, Entry, Mark, TrackId, Tracker};

/// Bytes read from a file per call.
pub const CHUNK: usize = 128 * 1024;
/// First bytes of a file kept to notice it was truncated and written again, and to recognise its copy.
const HEAD: usize = checkpoint::MAX_MARK;
/// Room for the framing around a message (CRI prefix, Docker JSON envelope and escapes).
const FRAMING: usize = 16 * 1024;

/// Receives what the files hold, line by line.
pub trait LineSink {
    /// One physical line of file `id` was consumed; `msg` is the container log line it completed, if
    /// any; `resume` is where a restart would have to read again from (before any partial message).
    fn line(&mut self, id: TrackId, meta: &FileMeta, msg: Option<Message<'_>>, resume: u64);
}

/// What happened while reading, for metrics.
#[derive(Clone, Debug, Default)]
pub struct TailStats {
    /// Bytes read.
    pub bytes: u64,
    /// Physical lines cut at the cap.
    pub cut_lines: u64,
    /// Rename rotations seen.
    pub rotations: u64,
    /// Truncations seen (copytruncate).
    pub truncations: u64,
    /// Truncations whose copy was found and read.
    pub truncation_copies: u64,
    /// Partial messages dropped by a truncation.
    pub partials_lost: u64,
    /// Files opened.
    pub opened: u64,
    /// Files closed (drained after rotation or deletion).
    pub closed: u64,
    /// Errors opening or reading files.
    pub errors: u64,
    /// Paths matching the globs that are not regular files, by [`NotRegular::index`]: each counted
    /// once when first seen.
    pub skipped: [u64; NotRegular::ALL.len()],
}

struct Follow {
    id: TrackId,
    path: PathBuf,
    /// Shared with the tracker, which marks the bytes before the checkpoint's offset from it.
    file: Arc<File>,
    dev: u64,
    ino: u64,
    /// Offset of the next byte to read.
    pos: u64,
    /// Offset just after the last complete line handed out (`pos` minus the carried partial line).
    consumed: u64,
    /// The start of a line whose newline has not been read yet.
    carry: Vec<u8>,
    /// The rest of an over-long line is being skipped.
    skipping: bool,
    joiner: Option<Joiner>,
    meta: FileMeta,
    /// Rotated away or deleted: when data was last seen.
    draining: Option<Instant>,
    /// The file's first bytes (up to [`HEAD`]).
    head: Vec<u8>,
    /// Size and modification time when `head` was last compared: while they stay, the file was not
    /// written and need not be read to tell.
    stamp: (u64, i64, i64),
    /// The last bytes read, those just before `pos` (`before_len` of them).
    before: [u8; BEFORE_MARK],
    before_len: usize,
    /// The bytes before `pos` changed: the file was truncated under the reader; `check` starts it again.
    rewritten: bool,
    /// Where a restart resumes: before the oldest partial message, else `consumed`.
    resume: u64,
    /// `path` was a symbolic link when the file was opened (kubelet's `/var/log/containers` entries).
    via_link: bool,
}

/// Every followed file.
pub struct Tail {
    cfg: Inputs,
    node: String,
    templates: Templates,
    files: Vec<Follow>,
    /// Path → id of the file currently read for it (not the draining ones).
    active: HashMap<PathBuf, TrackId>,
    next_id: TrackId,
    /// Checkpoints from the last run not yet matched to a file.
    startup: Vec<Entry>,
    first_start: bool,
    buf: Vec<u8>,
    /// Tracks the reader finished with, for the pipeline to close once their lines are registered.
    finished: Vec<TrackId>,
    /// Matching paths that are not regular files, already logged and counted (only those the globs
    /// still match are kept, so the set is bounded by them).
    skipped: HashSet<PathBuf>,
    /// A read found a file truncated: [`Tail::check`] is due now rather than at the next poll.
    rewrites: bool,
    /// Counters since the last [`Tail::take_stats`].
    pub stats: TailStats,
}

fn matches(pat: &[u8], name: &[u8]) -> bool {
    match (pat.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => matches(&pat[1..], name) || (!name.is_empty() && matches(pat, &name[1..])),
        (Some(b'?'), Some(_)) => matches(&pat[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => matches(&pat[1..], &name[1..]),
        _ => false,
    }
}

impl Tail {
    /// A tail over `cfg.paths`; `startup` are the checkpoints of the last run (`None`: first start).
    pub fn new(cfg: Inputs, node: String, templates: Templates, startup: Option<Vec<Entry>>) -> Tail {
        Tail {
            cfg,
            node,
            templates,
            files: Vec::new(),
            active: HashMap::new(),
            next_id: 1,
            first_start: startup.is_none(),
            startup: startup.unwrap_or_default(),
            buf: Vec::with_capacity(BEFORE_MARK + CHUNK + FRAMING),
            finished: Vec::new(),
            skipped: HashSet::new(),
            rewrites: false,
            stats: TailStats::default(),
        }
    }

    fn phys_cap(&self) -> usize {
        self.msg_cap() + FRAMING
    }

    /// The longest message passed on: joined partial lines are cut here too, so a chain of parts
    /// without its last one holds at most this much.
    fn msg_cap(&self) -> usize {
        self.cfg.max_line_bytes.0 as usize
    }

    /// Number of files being read.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file is being read.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// `(id, resume, read position)` of every file.
    pub fn progress(&self) -> impl Iterator<Item = (TrackId, u64, u64)> + '_ {
        self.files.iter().map(|f| (f.id, f.resume, f.pos))
    }

    /// Bytes written to the files but not read yet (the backlog).
    pub fn unread_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.file.metadata().map(|m| m.len().saturating_sub(f.pos)).unwrap_or(0)).sum()
    }

    /// Tracks finished since the last call.
    pub fn take_finished(&mut self) -> Vec<TrackId> {
        std::mem::take(&mut self.finished)
    }

    /// A read found a truncated file: [`Tail::check`] should run now.
    pub fn needs_check(&self) -> bool {
        self.rewrites
    }

    /// Evaluates the globs and opens files not followed yet. On the first call, checkpoints of files
    /// that were renamed while the forwarder was down are looked for next to their old name.
    pub fn discover(&mut self, tracker: &mut Tracker) {
        let mut found = Vec::new();
        for pattern in &self.cfg.paths {
            let p = Path::new(pattern);
            let (Some(dir), Some(pat)) = (p.parent(), p.file_name()) else { continue };
            let Ok(rd) = fs::read_dir(dir) else { continue };
            for e in rd.flatten() {
                let name = e.file_name();
                let n = name.as_encoded_bytes();
                if matches(pat.as_encoded_bytes(), n) && !self.cfg.exclude.iter().any(|x| matches(x.as_bytes(), n)) {
                    found.push(dir.join(&name));
                }
            }
        }
        found.sort();
        let mut skipped = HashSet::new();
        for path in found {
            if self.active.contains_key(&path) {
                continue;
            }
            match self.open_new(&path, tracker) {
                Ok(None) => {}
                Ok(Some(kind)) => {
                    if !self.skipped.contains(&path) {
                        self.stats.skipped[kind.index()] += 1;
                        tracing::warn!(file = %path.display(), kind = kind.name(), "Not a regular file; skipping it (only regular files are read).");
                    }
                    skipped.insert(path);
                }
                Err(e) => {
                    self.stats.errors += 1;
                    tracing::warn!(file = %path.display(), error = %e, "Cannot open a log file; will retry.");
                }
            }
        }
        self.skipped = skipped;
        for entry in std::mem::take(&mut self.startup) {
            self.resume_renamed(entry, tracker);
        }
        self.first_start = false;
    }

    /// Follows the file at `path`; what it is instead when it is not a regular file.
    fn open_new(&mut self, path: &Path, tracker: &mut Tracker) -> std::io::Result<Option<NotRegular>> {
        let (file, md) = match open_regular(path)? {
            Opened::File(f, md) => (Arc::new(f), md),
            Opened::Not(kind) => return Ok(Some(kind)),
        };
        let (dev, ino, size) = (md.dev(), md.ino(), md.len());
        let known = self.startup.iter().position(|e| e.dev == dev && e.ino == ino);
        // A checkpointed file that no longer holds what was read up to its offset was truncated (and
        // perhaps written past the offset) while the forwarder was down: the head it had then finds its
        // copy, and the file is read again from its start.
        let mut truncated_while_stopped = None;
        let offset = match known {
            Some(i) => {
                let e = self.startup.swap_remove(i);
                if e.offset > size || !e.still_in(&file) {
                    truncated_while_stopped = Some(e.head);
                }
                e.offset
            }
            None if self.first_start && self.cfg.start_at == StartAt::End => size,
            None => 0,
        };
        let target = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let id = self.next_id;
        self.next_id += 1;
        let entry = Entry { path: path.to_path_buf(), target, dev, ino, offset, head: None, before: None };
        tracker.open(id, entry, Some(Arc::clone(&file)));
        let meta = FileMeta::new(path, &self.node, &self.templates);
        let mut f = follow(id, path.to_path_buf(), file, (dev, ino), offset, meta, self.joiner());
        f.via_link = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        if truncated_while_stopped.is_none() && check_head(&mut f, &md) == Head::Grew {
            tracker.set_head(id, Mark::of(&f.head));
        }
        self.files.push(f);
        self.active.insert(path.to_path_buf(), id);
        self.stats.opened += 1;
        tracing::debug!(file = %path.display(), offset, "Following a log file.");
        if let Some(head) = truncated_while_stopped {
            self.stats.truncations += 1;
            tracing::warn!(file = %path.display(), checkpoint = offset, "Truncated while stopped: the file no longer holds what was read up to its checkpoint.");
            self.truncated(id, tracker, head);
        }
        Ok(None)
    }

    /// A joiner for a file of the configured format (`None`: detected from its first line).
    fn joiner(&self) -> Option<Joiner> {
        match self.cfg.format {
            InputFormatSetting::Auto => None,
            InputFormatSetting::Cri => Some(Joiner::new(ContainerFormat::Cri, self.msg_cap())),
            InputFormatSetting::Docker => Some(Joiner::new(ContainerFormat::Docker, self.msg_cap())),
        }
    }

    /// A checkpointed file no glob matched: if it was renamed (rotated while we were down), read the
    /// rest of it under its new name.
    fn resume_renamed(&mut self, e: Entry, tracker: &mut Tracker) {
        let Some(dir) = e.target.parent() else { return };
        let Ok(rd) = fs::read_dir(dir) else { return };
        for d in rd.flatten() {
            let Ok(md) = d.metadata() else { continue };
            if md.dev() == e.dev && md.ino() == e.ino && md.is_file() && md.len() > e.offset {
                let path = d.path();
                let Ok(Opened::File(file, _)) = open_regular(&path) else { return };
                let file = Arc::new(file);
                let id = self.next_id;
                self.next_id += 1;
                tracker.open(id, Entry { path: path.clone(), target: path.clone(), ..e.clone() }, Some(Arc::clone(&file)));
                let meta = FileMeta::new(&e.path, &self.node, &self.templates);
                let mut f = follow(id, path.clone(), file, (e.dev, e.ino), e.offset, meta, self.joiner());
                f.draining = Some(Instant::now());
                self.files.push(f);
                tracing::info!(file = %path.display(), was = %e.path.display(), offset = e.offset, "Reading the rest of a file rotated while stopped.");
                return;
            }
        }
    }

    /// Reads up to `max_chunks` chunks from every file, handing lines to `sink`. Returns the bytes read.
    pub fn read(&mut self, sink: &mut impl LineSink, max_chunks: usize) -> u64 {
        let caps = (self.phys_cap(), self.msg_cap());
        let mut total = 0;
        for f in &mut self.files {
            if f.rewritten {
                continue;
            }
            for _ in 0..max_chunks {
                match read_chunk(f, &mut self.buf, caps, sink, &mut self.stats) {
                    Ok(0) => {
                        self.rewrites |= f.rewritten;
                        break;
                    }
                    Ok(n) => {
                        total += n as u64;
                        if let Some(d) = &mut f.draining {
                            *d = Instant::now();
                        }
                        if n < CHUNK {
                            break;
                        }
                    }
                    Err(e) => {
                        self.stats.errors += 1;
                        tracing::warn!(file = %f.path.display(), error = %e, "Read error.");
                        break;
                    }
                }
            }
        }
        self.stats.bytes += total;
        total
    }

    /// Checks every file for rotation, truncation and deletion.
    pub fn check(&mut self, tracker: &mut Tracker) {
        let now = Instant::now();
        let mut reopen = Vec::new();
        let mut copies = Vec::new();
        self.rewrites = false;
        for f in &mut self.files {
            if f.draining.is_some() {
                continue;
            }
            match fs::metadata(&f.path) {
                Err(_) => {
                    f.draining = Some(now);
                    self.active.remove(&f.path);
                    // Rotation renames the file first and creates its successor a moment later
                    // (kubelet: rename, then ask the runtime to reopen); a poll between the two finds
                    // no file, or a dangling `/var/log/containers` link. That is still a rotation, not
                    // a deletion; `discover` opens the successor when it appears.
                    if renamed_away(f) {
                        self.stats.rotations += 1;
                    }
                }
                Ok(md) if (md.dev(), md.ino()) != (f.dev, f.ino) => {
                    f.draining = Some(now);
                    self.active.remove(&f.path);
                    self.stats.rotations += 1;
                    reopen.push(f.path.clone());
                }
                // The same file (the path's metadata is the open file's).
                Ok(md) => {
                    let head = if f.rewritten || md.len() < f.pos { Head::Changed } else { check_head(f, &md) };
                    match head {
                        // `head` still holds the old content's first bytes: they find its copy.
                        Head::Changed => {
                            self.stats.truncations += 1;
                            copies.push((f.id, Mark::of(&f.head)));
                        }
                        Head::Grew => tracker.set_head(f.id, Mark::of(&f.head)),
                        Head::Same => {}
                    }
                }
            }
        }
        for (id, head) in copies {
            self.truncated(id, tracker, Some(head));
        }
        for path in reopen {
            if let Err(e) = self.open_new(&path, tracker) {
                tracing::warn!(file = %path.display(), error = %e, "Cannot open the new file after rotation.");
            }
        }
    }

    /// Finishes files rotated away or deleted that have been quiet for `rotate_wait`.
    pub fn finish_drained(&mut self, sink: &mut impl LineSink, rotate_wait: Duration) {
        let now = Instant::now();
        let cap = self.msg_cap();
        let mut i = 0;
        while i < self.files.len() {
            let f = &mut self.files[i];
            if f.draining.is_some_and(|d| now.duration_since(d) >= rotate_wait) {
                let mut f = self.files.swap_remove(i);
                finish(&mut f, cap, sink);
                self.finished.push(f.id);
                self.stats.closed += 1;
                tracing::debug!(file = %f.path.display(), "Finished a rotated or deleted file.");
            } else {
                i += 1;
            }
        }
    }

    /// The file was truncated under us: read the rest of the old content from its copy, if there is
    /// one (found by `head`, the mark of the old content's first bytes), and start the file again from
    /// the beginning under a new track.
    fn truncated(&mut self, id: TrackId, tracker: &mut Tracker, head: Option<Mark>) {
        let Some(i) = self.files.iter().position(|f| f.id == id) else { return };
        let cap = self.msg_cap();
        let copy = head.and_then(|h| find_copy(&self.files[i], h));
        let new_id = self.next_id;
        self.next_id += 1;
        let f = &mut self.files[i];
        let target = fs::canonicalize(&f.path).unwrap_or_else(|_| f.path.clone());
        let entry = Entry { path: f.path.clone(), target, dev: f.dev, ino: f.ino, offset: 0, head: None, before: None };
        tracker.open(new_id, entry, Some(Arc::clone(&f.file)));
        let mut drained = None;
        match copy.and_then(|p| match open_regular(&p).ok()? {
            Opened::File(file, md) => Some((p, Arc::new(file), md)),
            Opened::Not(_) => None,
        }) {
            Some((p, file, md)) => {
                // The copy continues the old track: its lines carry on from the same partial state.
                let copy_id = self.next_id;
                self.next_id += 1;
                let entry = Entry { path: p.clone(), target: p.clone(), dev: md.dev(), ino: md.ino(), offset: f.consumed, head, before: None };
                tracker.open(copy_id, entry, Some(Arc::clone(&file)));
                let mut c = follow(copy_id, p.clone(), file, (md.dev(), md.ino()), f.consumed, f.meta.clone(), f.joiner.take());
                c.skipping = f.skipping;
                c.draining = Some(Instant::now());
                c.head = f.head.clone();
                c.resume = c.joiner.as_ref().and_then(Joiner::pending_since).unwrap_or(c.consumed);
                drained = Some(c);
                self.stats.truncation_copies += 1;
                tracing::info!(file = %f.path.display(), copy = %p.display(), offset = f.consumed, "Truncated (copytruncate); reading the rest from the copy.");
            }
            None => {
                self.stats.partials_lost += f.joiner.as_mut().map_or(0, |j| j.reset() as u64);
                tracing::warn!(file = %f.path.display(), offset = f.consumed, "Truncated and no copy found; lines written since the last read may be lost.");
            }
        }
        tracker.supersede(f.id);
        // The old track is done with: the pipeline forgets it once its last lines are registered.
        self.finished.push(f.id);
        let fmt = f.joiner.as_ref().map(Joiner::format);
        f.id = new_id;
        f.pos = 0;
        f.consumed = 0;
        f.resume = 0;
        f.carry.clear();
        f.skipping = false;
        f.head.clear();
        f.stamp = (0, 0, 0);
        f.before_len = 0;
        f.rewritten = false;
        f.joiner = match (fmt, self.cfg.format) {
            (_, InputFormatSetting::Cri) => Some(Joiner::new(ContainerFormat::Cri, cap)),
            (_, InputFormatSetting::Docker) => Some(Joiner::new(ContainerFormat::Docker, cap)),
            (Some(fmt), _) => Some(Joiner::new(fmt, cap)),
            (None, _) => None,
        };
        self.active.insert(f.path.clone(), new_id);
        if let Some(c) = drained {
            self.files.push(c);
        }
    }

    /// Takes the counters.
    pub fn take_stats(&mut self) -> TailStats {
        std::mem::take(&mut self.stats)
    }
}

/// Whether a file whose path no longer resolves was renamed (it still has a name somewhere) rather
/// than deleted (no name left: the container or pod is gone). When the path was a link, the link itself
/// must still be there: kubelet removes the link of a removed container, which is no rotation even if
/// the log file it pointed to is kept a while longer.
fn renamed_away(f: &Follow) -> bool {
    let linked = f.file.metadata().is_ok_and(|m| m.nlink() > 0);
    linked && (!f.via_link || fs::symlink_metadata(&f.path).is_ok())
}

/// A followed file, read from `offset`.
fn follow(id: TrackId, path: PathBuf, file: Arc<File>, (dev, ino): (u64, u64), offset: u64, meta: FileMeta, joiner: Option<Joiner>) -> Follow {
    Follow {
        id,
        path,
        file,
        dev,
        ino,
        pos: offset,
        consumed: offset,
        carry: Vec::new(),
        skipping: false,
        joiner,
        meta,
        draining: None,
        head: Vec::new(),
        stamp: (0, 0, 0),
        before: [0; BEFORE_MARK],
        before_len: 0,
        rewritten: false,
        resume: offset,
        via_link: false,
    }
}

/// What [`check_head`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Head {
    /// The first bytes are those seen before.
    Same,
    /// They are, and more of them were taken.
    Grew,
    /// They are not: the file was truncated and written again.
    Changed,
}

/// Compares the file's first bytes with those seen before, taking more of them while there are fewer
/// than [`HEAD`]. A file whose size and modification time did not change since the last look was not
/// written, so only written files cost a `pread`.
fn check_head(f: &mut Follow, md: &Metadata) -> Head {
    let stamp = (md.len(), md.mtime(), md.mtime_nsec());
    if stamp == f.stamp {
        return Head::Same;
    }
    f.stamp = stamp;
    let mut head = [0u8; HEAD];
    let Ok(n) = f.file.read_at(&mut head, 0) else { return Head::Same };
    if n < f.head.len() || head[..f.head.len()] != f.head[..] {
        return Head::Changed;
    }
    if n == f.head.len() {
        return Head::Same;
    }
    f.head = head[..n].to_vec();
    Head::Grew
}

/// A copy of `f` made by copytruncate: a file next to it named after it, at least as long as what
/// was read, starting with the bytes `head` marks.
fn find_copy(f: &Follow, head: Mark) -> Option<PathBuf> {
    if head.len == 0 {
        return None;
    }
    let target = fs::canonicalize(&f.path).unwrap_or_else(|_| f.path.clone());
    let dir = target.parent()?;
    let base = target.file_name()?.to_str()?.to_string();
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for e in fs::read_dir(dir).ok()?.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name.strip_prefix(&base) else { continue };
        if !(rest.starts_with('.') || rest.starts_with('-')) || name.ends_with(".gz") {
            continue;
        }
        let Ok(md) = e.metadata() else { continue };
        if !md.is_file() || md.len() < f.consumed || (md.dev(), md.ino()) == (f.dev, f.ino) {
            continue;
        }
        let Ok(Opened::File(file, _)) = open_regular(&e.path()) else { continue };
        if !head.found(&file, 0) {
            continue;
        }
        let mtime = md.modified().unwrap_or(std::time::UNIX_EPOCH);
        if best.as_ref().is_none_or(|(t, _)| mtime > *t) {
            best = Some((mtime, e.path()));
        }
    }
    best.map(|(_, p)| p)
}

/// Hands out what is left at the end of a file that will not grow again.
fn finish(f: &mut Follow, cap: usize, sink: &mut impl LineSink) {
    if !f.carry.is_empty() {
        let carry = std::mem::take(&mut f.carry);
        let end = f.consumed + carry.len() as u64;
        let line = carry.strip_suffix(b"\r").unwrap_or(&carry);
        let offset = f.consumed;
        line_out(f, line, offset, false, end, cap, sink);
        f.consumed = end;
    }
    if let Some(j) = &mut f.joiner {
        while let Some(m) = j.flush() {
            sink.line(f.id, &f.meta, Some(m), f.consumed);
        }
    }
    f.resume = f.consumed;
}

/// Hands one physical line to the file's joiner, whose messages are cut at `cap` bytes.
fn line_out(f: &mut Follow, line: &[u8], offset: u64, cut: bool, end: u64, cap: usize, sink: &mut impl LineSink) {
    if f.joiner.is_none() {
        if line.iter().all(u8::is_ascii_whitespace) {
            sink.line(f.id, &f.meta, None, f.resume);
            return;
        }
        // Not a container log format: every line is read as text (a malformed CRI line is one).
        let fmt = container::detect(line).unwrap_or(ContainerFormat::Cri);
        f.joiner = Some(Joiner::new(fmt, cap));
    }
    let Some(j) = f.joiner.as_mut() else { return };
    if line.is_empty() {
        f.resume = j.pending_since().unwrap_or(end);
        sink.line(f.id, &f.meta, None, f.resume);
        return;
    }
    match j.push(line, offset, cut) {
        Some(m) => {
            f.resume = m.pending_since.unwrap_or(end);
            sink.line(f.id, &f.meta, Some(m), f.resume);
        }
        None => {
            // A partial part: the message it starts (or continues) is pending now.
            f.resume = f.joiner.as_ref().and_then(Joiner::pending_since).unwrap_or(end);
            sink.line(f.id, &f.meta, None, f.resume);
        }
    }
}

fn read_chunk(
    f: &mut Follow,
    buf: &mut Vec<u8>,
    (phys_cap, cap): (usize, usize),
    sink: &mut impl LineSink,
    stats: &mut TailStats,
) -> std::io::Result<usize> {
    let start = f.carry.len();
    // Layout: room for the bytes before `pos`, the carried partial line, the new bytes. The read starts
    // `k` bytes early, so the bytes last read come back in the same system call and are compared: a file
    // truncated and written past `pos` since is noticed before anything is read from its middle.
    let k = f.before_len;
    let at = BEFORE_MARK + start;
    // The buffer keeps its length from call to call: zero-filling 128 KiB before every read cost ~2%
    // of the reading thread's instructions, and `read` overwrites what it returns anyway.
    if buf.len() < at + CHUNK {
        buf.resize(at + CHUNK, 0);
    }
    buf[BEFORE_MARK..at].copy_from_slice(&f.carry);
    let got = f.file.read_at(&mut buf[at - k..at + CHUNK], f.pos - k as u64)?;
    if got < k {
        // Shorter than what was read: truncated (unless the read came back short, as a network file
        // system's may). `check` takes it from here.
        f.rewritten = f.file.metadata()?.len() < f.pos;
        return Ok(0);
    }
    if buf[at - k..at] != f.before[..k] {
        // Other bytes where the last read ended: truncated and written past `pos` since.
        f.rewritten = true;
        return Ok(0);
    }
    let n = got - k;
    if n == 0 {
        return Ok(0);
    }
    let buf = &buf[BEFORE_MARK..at + n];
    let kept = buf.len().min(BEFORE_MARK);
    f.before[..kept].copy_from_slice(&buf[buf.len() - kept..]);
    f.before_len = kept;
    f.carry.clear();
    f.pos += n as u64;
    let base = f.consumed;
    let mut i = 0;
    if f.skipping {
        match memchr::memchr(b'\n', buf) {
            Some(k) => {
                i = k + 1;
                f.skipping = false;
            }
            None => {
                f.consumed = base + buf.len() as u64;
                return Ok(n);
            }
        }
    }
    while let Some(k) = memchr::memchr(b'\n', &buf[i..]) {
        let end = i + k;
        let mut line = &buf[i..end];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        let cut = line.len() > phys_cap;
        if cut {
            line = &line[..phys_cap];
            stats.cut_lines += 1;
        }
        line_out(f, line, base + i as u64, cut, base + end as u64 + 1, cap, sink);
        i = end + 1;
    }
    if buf.len() - i > phys_cap {
        // An over-long line with no newline yet: pass its start on now and skip the rest.
        stats.cut_lines += 1;
        let line = &buf[i..i + phys_cap];
        line_out(f, line, base + i as u64, true, base + buf.len() as u64, cap, sink);
        f.skipping = true;
        f.consumed = base + buf.len() as u64;
    } else {
        f.carry.extend_from_slice(&buf[i..]);
        f.consumed = base + i as u64;
    }
    // A rare long line must not pin its buffer in every file for good.
    if f.carry.capacity() > 64 * 1024 && f.carry.len() < 4096 {
        f.carry.shrink_to(4096);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Hec;

    /// A tail over `dir/*.log` that has opened what is there.
    fn tail_of(dir: &Path, tracker: &mut Tracker) -> Tail {
        let inputs = Inputs { paths: vec![format!("{}/*.log", dir.display())], ..Inputs::default() };
        let mut t = Tail::new(inputs, "node".into(), Templates::new(&Hec::default()).unwrap(), None);
        t.discover(tracker);
        t
    }

    /// The checks kubelet's rotation can fall between: the link's target renamed and its successor
    /// not created yet is a rotation; the target deleted, or the link removed, is not.
    #[test]
    fn a_rename_seen_before_the_new_file_exists_is_a_rotation() {
        let dir = std::env::temp_dir().join(format!("logtrim-tail-rot-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let (links, pods) = (dir.join("containers"), dir.join("pods"));
        fs::create_dir_all(&links).unwrap();
        fs::create_dir_all(&pods).unwrap();
        for name in ["renamed", "deleted", "unlinked"] {
            fs::write(pods.join(name), "2026-11-22T10:00:00Z stdout F x\n").unwrap();
            std::os::unix::fs::symlink(pods.join(name), links.join(format!("{name}.log"))).unwrap();
        }
        fs::write(links.join("plain.log"), "x\n").unwrap();
        let mut tracker = Tracker::new();
        let mut t = tail_of(&links, &mut tracker);
        assert_eq!(t.len(), 4);
        fs::rename(pods.join("renamed"), pods.join("renamed.1")).unwrap();
        fs::remove_file(pods.join("deleted")).unwrap();
        fs::remove_file(links.join("unlinked.log")).unwrap();
        fs::rename(links.join("plain.log"), links.join("plain.log.1")).unwrap();
        t.check(&mut tracker);
        let s = t.take_stats();
        assert_eq!((s.rotations, s.truncations), (2, 0), "renamed (dangling link) and plain (renamed) only");
        assert!(t.files.iter().all(|f| f.draining.is_some()), "all four are read to their end and closed");
        // The successor appears: it is followed from its start, and the rotation is not counted twice.
        fs::write(pods.join("renamed"), "2026-11-22T10:00:01Z stdout F y\n").unwrap();
        t.discover(&mut tracker);
        t.check(&mut tracker);
        assert_eq!(t.take_stats().rotations, 0);
        assert_eq!(t.len(), 5);
        fs::remove_dir_all(&dir).ok();
    }

    /// Collects the messages handed out.
    struct Lines(Vec<String>);

    impl LineSink for Lines {
        fn line(&mut self, _: TrackId, _: &FileMeta, msg: Option<Message<'_>>, _: u64) {
            if let Some(m) = msg {
                self.0.push(String::from_utf8(m.log.escaped().to_vec()).unwrap());
            }
        }
    }

    /// Lines across chunk boundaries, and one longer than a chunk, come out whole: the read buffer is
    /// reused from read to read with the partial line carried to its front.
    #[test]
    fn lines_straddling_reads_come_out_whole() {
        let dir = std::env::temp_dir().join(format!("logtrim-tail-chunks-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let mut want = Vec::new();
        let mut text = String::new();
        for (i, len) in [10, 70_000, 3, 200_000, 0, 131_000, 5, 40_000, 9].into_iter().enumerate() {
            let msg = format!("{i}-{}", "abcdefghij".repeat(len / 10 + 1))[..len.max(2)].to_string();
            text += &format!("2026-11-22T10:00:00Z stdout F {msg}\n");
            want.push(msg);
        }
        fs::write(dir.join("a.log"), &text).unwrap();
        let mut tracker = Tracker::new();
        let mut t = tail_of(&dir, &mut tracker);
        let mut sink = Lines(Vec::new());
        while t.read(&mut sink, 1) > 0 {}
        assert_eq!(sink.0.len(), want.len());
        for (got, want) in sink.0.iter().zip(&want) {
            assert_eq!((got.len(), &got[..2]), (want.len(), &want[..2]));
            assert_eq!(got, want);
        }
        fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn globs() {
        assert!(matches(b"*.log", b"a_b_c-123.log"));
        assert!(!matches(b"*.log", b"a.log.1"));
        assert!(matches(b"a?c*", b"abcdef"));
        assert!(matches(b"*", b""));
        assert!(!matches(b"x*", b"y"));
    }
}
