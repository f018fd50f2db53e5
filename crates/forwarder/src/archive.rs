//! The archive's spool and uploader: the lines the forwarder does not send, made durable on the node
//! before their checkpoint passes them, then uploaded to the archive's store.
//!
//! ```text
//! reading thread: core Archive (open objects, in memory) ──seal──▶ Spool::write (fsync) ──▶ hold released
//!                                                                      │                    (checkpoint may pass)
//! runtime:        upload_loop ◀── spool queue ◀──────────────────────────┘
//!                     └──▶ store.put(object), store.put(index) ──▶ spool files removed
//! ```
//!
//! An object and its index are written to `<state_dir>/archive-spool/<key>` as the store will hold them
//! (each a temporary file, fsynced, renamed; then the directory fsynced), the index last: an index in the
//! spool marks a whole object. At start the spool is scanned and every whole object is uploaded again
//! (an upload cut by a crash is simply repeated: keys are unique per writer and `PutObject` replaces);
//! a body without its index, or a temporary file, is what a crash cut short while spooling — its lines
//! were not committed, so they are read again — and is removed.
//!
//! Memory: open objects are bounded by the core ([`logtrim_core::archive::ArchiveOptions::max_open`]); the
//! uploader holds one object at a time; the spool's queue holds keys. When the spool has
//! `archive.spool_max_bytes`, the reading thread waits (`on_full: pause`) or counts the object lost
//! (`on_full: lose`): nothing grows with an outage of the store.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use logtrim_aws::archive::{ObjectStore, Store};
use logtrim_core::archive::Object;

use crate::metrics::Metrics;

/// Why the spool could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// A spool file could not be read, written or removed. (The cause is part of the message, as in
    /// [`crate::RunError`].)
    #[error("archive spool {path}: {error}")]
    Io {
        /// The file or directory.
        path: String,
        /// The error.
        error: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |error| SpoolError::Io { path: path.display().to_string(), error }
}

/// One whole object in the spool.
#[derive(Clone, Debug)]
struct Entry {
    /// The object's key in the store (and its path below the spool).
    key: String,
    /// Its index's key.
    index_key: String,
    /// Bytes of both files.
    bytes: u64,
    /// Lines it holds.
    records: u64,
}

/// Objects written on the node and not uploaded yet.
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    /// Bytes of the whole objects in the spool (bodies and indexes).
    bytes: AtomicU64,
    /// Oldest first.
    queue: Mutex<VecDeque<Entry>>,
    /// Wakes the uploader: an object was spooled.
    wake: tokio::sync::Notify,
}

/// The index key of an object key (`….ndjson.gz` → `….index.json`).
fn index_key_of(key: &str) -> Option<String> {
    key.strip_suffix(".ndjson.gz").map(|k| format!("{k}.index.json"))
}

impl Spool {
    /// Opens the spool at `dir` (created when missing): whole objects left by an earlier run are queued
    /// for upload, oldest first; what a crash cut short while spooling is removed.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Spool, SpoolError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut files = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).map_err(io_err(&d))? {
                let e = e.map_err(io_err(&d))?;
                let path = e.path();
                if e.file_type().map_err(io_err(&path))?.is_dir() {
                    stack.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        let rel = |p: &Path| p.strip_prefix(dir).ok().map(|r| r.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/"));
        let mut entries = Vec::new();
        let mut bytes = 0;
        for p in &files {
            let Some(key) = rel(p) else { continue };
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if name.starts_with(".tmp-") {
                let _ = std::fs::remove_file(p);
                continue;
            }
            let Some(index_key) = index_key_of(&key) else { continue };
            let index_path = dir.join(&index_key);
            let index = match std::fs::read(&index_path) {
                Ok(i) => i,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    // Spooling was cut short: the checkpoint never passed these lines.
                    tracing::info!(file = %p.display(), "Removing an archive object whose spooling was cut short; its lines are read again.");
                    let _ = std::fs::remove_file(p);
                    continue;
                }
                Err(e) => return Err(io_err(&index_path)(e)),
            };
            let records = serde_json::from_slice::<logtrim_core::archive::ObjectIndex>(&index).map(|i| i.records).unwrap_or(0);
            let size = std::fs::metadata(p).map_err(io_err(p))?.len() + index.len() as u64;
            bytes += size;
            entries.push(Entry { key, index_key, bytes: size, records });
        }
        // Object names end in `<writer>-<seq>`, writers in their start time: by name is about by age.
        entries.sort_by(|a, b| name_of(&a.key).cmp(name_of(&b.key)));
        if !entries.is_empty() {
            tracing::info!(objects = entries.len(), bytes, "Archive objects left in the spool by an earlier run are uploaded first.");
        }
        Ok(Spool { dir: dir.to_path_buf(), max_bytes, bytes: AtomicU64::new(bytes), queue: Mutex::new(entries.into()), wake: tokio::sync::Notify::new() })
    }

    /// Bytes in the spool.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Acquire)
    }

    /// Whole objects in the spool.
    pub fn objects(&self) -> usize {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether an object of `n` bytes fits under the cap. An empty spool takes any object, so one
    /// larger than the cap does not wait forever.
    pub fn fits(&self, n: u64) -> bool {
        let b = self.bytes();
        b == 0 || b + n <= self.max_bytes
    }

    /// Writes a sealed object and its index durably (blocking I/O, on the reading thread): once this
    /// returns, its lines may be committed.
    pub fn write(&self, o: &Object) -> Result<u64, SpoolError> {
        let index = o.index_json();
        let body_path = self.dir.join(&o.key);
        let dir = body_path.parent().unwrap_or(&self.dir).to_path_buf();
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        put(&dir, &body_path, &o.body)?;
        put(&dir, &self.dir.join(&o.index_key), &index)?;
        // The renames are durable with the directory.
        File::open(&dir).and_then(|d| d.sync_all()).map_err(io_err(&dir))?;
        let bytes = (o.body.len() + index.len()) as u64;
        self.bytes.fetch_add(bytes, Ordering::AcqRel);
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).push_back(Entry {
            key: o.key.clone(),
            index_key: o.index_key.clone(),
            bytes,
            records: o.index.records,
        });
        self.wake.notify_one();
        Ok(bytes)
    }
}

/// The part of a key after its last `/`.
fn name_of(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// Writes `path` whole: a temporary file beside it, fsynced, renamed.
fn put(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), SpoolError> {
    let tmp = dir.join(format!(".tmp-{}", name_of(&path.to_string_lossy())));
    let res = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(path)(e));
    }
    Ok(())
}

/// Uploads spooled objects, oldest first, one at a time, forever: each object, then its index (a replay
/// reads indexes, so an index is only ever beside a whole object), then removes them from the spool. A
/// failed upload is retried with backoff (1 s doubling to 30 s); reading goes on meanwhile until the
/// spool is full.
pub async fn upload_loop(spool: Arc<Spool>, store: Store, metrics: Arc<Metrics>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        metrics.archive_spool_bytes.set(spool.bytes() as i64);
        metrics.archive_spool_objects.set(spool.objects() as i64);
        let next = spool.queue.lock().unwrap_or_else(|e| e.into_inner()).front().cloned();
        let Some(e) = next else {
            // Woken when an object is spooled; the timeout only refreshes the gauges.
            let _ = tokio::time::timeout(Duration::from_secs(1), spool.wake.notified()).await;
            continue;
        };
        match upload(&spool, &store, &e).await {
            Ok(()) => {
                backoff = Duration::from_secs(1);
                spool.queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                spool.bytes.fetch_sub(e.bytes, Ordering::AcqRel);
                metrics.archive_uploaded(e.records, e.bytes);
            }
            Err(err) => {
                metrics.archive_upload_errors.inc();
                tracing::warn!(key = %e.key, error = %err, retry_in_secs = backoff.as_secs(), "Archive upload failed; the object stays in the spool and is retried.");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Why one upload failed.
#[derive(Debug, thiserror::Error)]
enum UploadError {
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error(transparent)]
    Store(#[from] logtrim_aws::archive::StoreError),
}

async fn upload(spool: &Spool, store: &Store, e: &Entry) -> Result<(), UploadError> {
    let (body_path, index_path) = (spool.dir.join(&e.key), spool.dir.join(&e.index_key));
    let read = |p: PathBuf| async move {
        let r = tokio::task::spawn_blocking({
            let p = p.clone();
            move || std::fs::read(&p)
        })
        .await
        .unwrap_or_else(|j| Err(std::io::Error::other(j)));
        r.map_err(|error| SpoolError::Io { path: p.display().to_string(), error })
    };
    let body = read(body_path.clone()).await?;
    store.put(&e.key, body).await?;
    let index = read(index_path.clone()).await?;
    store.put(&e.index_key, index).await?;
    // The index first: a crash between the two leaves a body without index, removed at the next start
    // (it is in the store already).
    std::fs::remove_file(&index_path).map_err(io_err(&index_path))?;
    std::fs::remove_file(&body_path).map_err(io_err(&body_path))?;
    Ok(())
}

/// Waits (at most `wait`) until the spool is empty: on shutdown, what is left is uploaded at the next
/// start.
pub async fn drain(spool: &Spool, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    while spool.objects() > 0 {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_object_survives_a_restart_and_a_cut_one_is_removed() {
        let dir = std::env::temp_dir().join(format!("logtrim-spool-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let rules = logtrim_core::RuleSet::from_yaml("r.yaml", "rules:\n  - name: d\n    when: level == \"debug\"\n    action: drop\n").unwrap();
        let mut a = logtrim_core::archive::Archive::new(&rules, Default::default());
        let rec = br#"{"time":"2026-11-22T10:00:05Z","level":"debug","kubernetes":{"namespace_name":"shop"}}"#;
        let d = logtrim_core::Decision { action: logtrim_core::Action::Drop, rule: rules.rule_id_at(0), priority: logtrim_core::Priority::Normal };
        a.add(logtrim_core::Record::Line(rec), d, logtrim_core::archive::Reason::Dropped, &Default::default());
        a.seal_all();
        let o = a.pop().unwrap();
        let s = Spool::open(&dir, 1 << 20).unwrap();
        let n = s.write(&o).unwrap();
        assert_eq!((s.bytes(), s.objects()), (n, 1));
        // A body spooled without its index: cut short.
        let cut = dir.join("dt=2026-11-22/hour=10/source=shop/x-00000009.ndjson.gz");
        std::fs::write(&cut, b"partial").unwrap();
        let s = Spool::open(&dir, 1 << 20).unwrap();
        assert_eq!((s.bytes(), s.objects()), (n, 1));
        assert!(!cut.exists());
        assert!(s.fits((1 << 20) - n) && !s.fits((1 << 20) - n + 1));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
