//! Where the fleet's daily count lives. The [`Accountant`](super::Accountant) never calls a store itself: it
//! hands out [`LeaseRequest`]s and takes back [`Lease`]s, so a front-end can do the I/O however it likes
//! (blocking here, async for DynamoDB in `logtrim-aws`).
//!
//! Every store keeps two numbers per budget and day, and implements the same rule, atomically per key:
//!
//! ```text
//! kept    += spent                      // what participants actually kept, as they report it
//! counted += report                     // bytes kept beyond leases: always counted
//! if chunk > 0 and counted < limit:     // a new chunk only while the day is not used up
//!     counted += chunk; granted = chunk
//! else granted = 0
//! ```
//!
//! A chunk is granted only while `counted` is below the limit, so the bytes leased exceed the limit by less
//! than one chunk, however many participants race for it. `kept` trails the truth by what each participant
//! kept since its last request (at most its chunk, or a minute of its traffic); it is what thresholds and
//! pacing read, because `counted` also includes chunks leased but not yet spent.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Names one budget on one licence day in a store.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LeaseKey {
    /// The budget's name ([`super::BudgetSpec::name`]).
    pub budget: String,
    /// The licence day, `YYYY-MM-DD` in the licence zone.
    pub day: String,
}

impl LeaseKey {
    /// The single-string form stores use as a key: `budget#day`.
    pub fn id(&self) -> String {
        format!("{}#{}", self.budget, self.day)
    }
}

/// What the accountant asks a store to do; see the module docs for the rule every store applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseRequest {
    /// Which budget and day.
    pub key: LeaseKey,
    /// Bytes to lease; 0 when only reporting or refreshing the total.
    pub chunk: u64,
    /// Bytes this participant kept beyond what the store counted for it (critical records once the budget is
    /// spent, spending while the store was unreachable): added to `counted` unconditionally.
    pub report: u64,
    /// Bytes this participant kept since its previous request: added to `kept`.
    pub spent: u64,
    /// The daily limit: a chunk is granted only while the total is below it.
    pub limit: u64,
}

/// A store's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The chunk, or 0 when the day's count has reached the limit.
    pub granted: u64,
    /// The store's totals for the key after this request.
    pub totals: Totals,
}

/// What a store holds for one budget and day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Totals {
    /// Every participant's leases and reports: the bytes the fleet may have kept.
    pub counted: u64,
    /// Bytes the participants reported as kept.
    pub kept: u64,
}

/// The store could not be reached or did not answer; the accountant falls back to a local share.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("budget store unavailable: {message}")]
pub struct StoreUnavailable {
    /// What went wrong, for logs.
    pub message: String,
}

impl StoreUnavailable {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> StoreUnavailable {
        StoreUnavailable { message: message.into() }
    }
}

/// A store called synchronously. The DynamoDB store (`logtrim-aws`) is async and has the same method shape.
pub trait LeaseStore {
    /// Applies `req` atomically (see the module docs) and returns the grant and the new total.
    fn lease(&mut self, req: &LeaseRequest) -> Result<Lease, StoreUnavailable>;
}

/// The rule every store applies, on totals it has read under its lock.
pub fn apply_request(t: Totals, req: &LeaseRequest) -> Lease {
    let kept = t.kept.saturating_add(req.spent);
    let counted = t.counted.saturating_add(req.report);
    if req.chunk > 0 && counted < req.limit {
        Lease { granted: req.chunk, totals: Totals { counted: counted.saturating_add(req.chunk), kept } }
    } else {
        Lease { granted: 0, totals: Totals { counted, kept } }
    }
}

/// One process's store: totals in memory. Clones share the same totals, so accountants on several threads
/// can lease from one budget.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    totals: Arc<Mutex<HashMap<String, Totals>>>,
    // Lets tests and simulations take the store away and bring it back.
    down: Arc<AtomicBool>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// The totals for `key`.
    pub fn totals(&self, key: &LeaseKey) -> Totals {
        self.totals.lock().unwrap_or_else(|e| e.into_inner()).get(&key.id()).copied().unwrap_or_default()
    }

    /// While `true`, every request fails with [`StoreUnavailable`] (for tests and simulations).
    pub fn set_unreachable(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}

impl LeaseStore for MemoryStore {
    fn lease(&mut self, req: &LeaseRequest) -> Result<Lease, StoreUnavailable> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreUnavailable::new("memory store marked unreachable"));
        }
        let mut totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        let t = totals.entry(req.key.id()).or_default();
        let lease = apply_request(*t, req);
        *t = lease.totals;
        Ok(lease)
    }
}

/// A durable store in a local JSON file, for the forwarder: the day's count survives restarts.
///
/// Each request locks `<path>.lock` (an OS file lock, so several processes on one node may share the file),
/// reads the file, applies the request and writes the result to a temporary file that is synced and renamed
/// over the original: a crash leaves either the old or the new total, never a torn file. Days more than a
/// week older than the requested one are pruned.
#[derive(Clone, Debug)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// A store at `path`; the file and its directory are created on first use.
    pub fn new(path: impl Into<PathBuf>) -> FileStore {
        FileStore { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The totals recorded for `key` (zero when the file or key does not exist).
    pub fn totals(&self, key: &LeaseKey) -> Result<Totals, StoreUnavailable> {
        Ok(self.read()?.get(&key.id()).copied().unwrap_or_default())
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self.path.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "budget".into());
        name.push(suffix);
        self.path.with_file_name(name)
    }

    fn read(&self) -> Result<BTreeMap<String, Totals>, StoreUnavailable> {
        let mut text = String::new();
        match File::open(&self.path) {
            Ok(mut f) => {
                f.read_to_string(&mut text).map_err(|e| io_err("read", &self.path, e))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(io_err("open", &self.path, e)),
        }
        serde_json::from_str(&text)
            .map_err(|e| StoreUnavailable::new(format!("{}: not a budget file: {e}", self.path.display())))
    }

    fn write(&self, totals: &BTreeMap<String, Totals>) -> Result<(), StoreUnavailable> {
        let tmp = self.sibling(&format!(".tmp.{}", std::process::id()));
        let body = serde_json::to_vec_pretty(totals).map_err(|e| StoreUnavailable::new(e.to_string()))?;
        let mut f = File::create(&tmp).map_err(|e| io_err("create", &tmp, e))?;
        f.write_all(&body).and_then(|_| f.sync_all()).map_err(|e| io_err("write", &tmp, e))?;
        drop(f);
        fs::rename(&tmp, &self.path).map_err(|e| io_err("rename", &tmp, e))?;
        // Make the rename itself durable (best effort: not every platform can open a directory).
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> StoreUnavailable {
    StoreUnavailable::new(format!("{what} {}: {e}", path.display()))
}

impl LeaseStore for FileStore {
    fn lease(&mut self, req: &LeaseRequest) -> Result<Lease, StoreUnavailable> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| io_err("create directory", dir, e))?;
        }
        let lock_path = self.sibling(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io_err("open", &lock_path, e))?;
        lock.lock().map_err(|e| io_err("lock", &lock_path, e))?;
        let mut totals = self.read()?;
        let id = req.key.id();
        let lease = apply_request(totals.get(&id).copied().unwrap_or_default(), req);
        totals.insert(id, lease.totals);
        prune(&mut totals, &req.key.day);
        self.write(&totals)?;
        // The lock is released when `lock` is dropped.
        Ok(lease)
    }
}

/// Drops entries whose day is more than 7 days before `today` (both `YYYY-MM-DD`).
fn prune(totals: &mut BTreeMap<String, Totals>, today: &str) {
    let Ok(today) = today.parse::<jiff::civil::Date>() else { return };
    let Ok(oldest) = today.checked_sub(jiff::Span::new().days(7)) else { return };
    totals.retain(|k, _| {
        k.rsplit_once('#').and_then(|(_, d)| d.parse::<jiff::civil::Date>().ok()).is_none_or(|d| d >= oldest)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(day: &str, chunk: u64, report: u64) -> LeaseRequest {
        LeaseRequest { key: LeaseKey { budget: "b".into(), day: day.into() }, chunk, report, spent: 1, limit: 100 }
    }

    fn lease(granted: u64, counted: u64, kept: u64) -> Lease {
        Lease { granted, totals: Totals { counted, kept } }
    }

    #[test]
    fn grants_until_the_count_reaches_the_limit() {
        let mut s = MemoryStore::new();
        let mut granted = 0;
        for _ in 0..20 {
            granted += s.lease(&req("2026-01-01", 30, 0)).unwrap().granted;
        }
        // 0, 30, 60, 90 are below 100: four grants, 120 in total; then nothing.
        assert_eq!(granted, 120);
        assert_eq!(s.totals(&req("2026-01-01", 0, 0).key), Totals { counted: 120, kept: 20 });
        // Reports are always counted.
        assert_eq!(s.lease(&req("2026-01-01", 30, 7)).unwrap(), lease(0, 127, 21));
        s.set_unreachable(true);
        assert!(s.lease(&req("2026-01-01", 30, 0)).is_err());
    }

    #[test]
    fn file_store_survives_reopening_and_prunes_old_days() {
        let dir = std::env::temp_dir().join(format!("logtrim-filestore-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let path = dir.join("sub/budget.json");
        let mut s = FileStore::new(&path);
        assert_eq!(s.lease(&req("2026-01-01", 30, 0)).unwrap(), lease(30, 30, 1));
        assert_eq!(s.lease(&req("2026-01-01", 30, 5)).unwrap(), lease(30, 65, 2));
        // A new process opens the same file.
        let mut s2 = FileStore::new(&path);
        assert_eq!(s2.lease(&req("2026-01-01", 30, 0)).unwrap(), lease(30, 95, 3));
        assert_eq!(s2.lease(&req("2026-01-01", 30, 0)).unwrap(), lease(30, 125, 4));
        assert_eq!(s2.lease(&req("2026-01-01", 30, 0)).unwrap(), lease(0, 125, 5));
        // A week later the old day is dropped.
        s2.lease(&req("2026-01-09", 30, 0)).unwrap();
        assert_eq!(s2.totals(&req("2026-01-01", 0, 0).key).unwrap(), Totals::default());
        assert_eq!(s2.totals(&req("2026-01-09", 0, 0).key).unwrap(), Totals { counted: 30, kept: 1 });
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(names.iter().all(|n| !n.to_string_lossy().contains(".tmp.")), "{names:?}");
        // A corrupt file is reported, not overwritten.
        fs::write(&path, "{not json").unwrap();
        assert!(s2.lease(&req("2026-01-09", 30, 0)).unwrap_err().message.contains("not a budget file"));
        let _ = fs::remove_dir_all(&dir);
    }
}
