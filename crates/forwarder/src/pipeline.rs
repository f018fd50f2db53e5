//! The reading thread: files → records → rules → budget → HEC events → gzip batches → the sink's queue.
//!
//! One plain thread does all the per-record work, so a record is touched by one core from the read
//! buffer to the compressed batch and nothing per record crosses a thread. It blocks on the sink's
//! bounded queue: when Splunk is slow or down, reading pauses and the backlog stays in the files.
//!
//! Each container log line becomes the record the rules see, shaped like Fluent Bit's kubernetes
//! records so one rule file serves the Lambda and the forwarder:
//! `{"time":"…","stream":"stdout","log":"…","kubernetes":{"pod_name","namespace_name","container_name","docker_id","host"}}`.
//! A CRI line is given to the rules as those parts ([`Record::Parts`]: the message as written, the file's
//! metadata prepared once) and written as that JSON only if it is kept; a Docker line, whose message is
//! JSON already, is written out and decided as JSON. What follows the decision is the core's
//! [`logtrim_core::Pipeline`], as in every front-end: a kept record is trimmed (`trim:`,
//! `sample_rate_field:`), becomes one HEC event `{"host",…,"time":<s.ms>,"event":<record or log>}`, and is
//! metered and admitted by the daily budget; a dropped record of a rule with `summarize:` is counted in its
//! summary. This module gives the core what it does not know — the file's metadata, the budget's link, the
//! batches — through [`Sink`]. Summary events are sent like kept events once their interval is
//! [`Config::summary_delay`] past its end, by the wall clock or by the lines' own time, and all of them on
//! shutdown and before a rule reload.
//!
//! Summaries live in memory until sent: a `kill -9` loses the counts of the intervals still open (the
//! lines they count were dropped by the rules either way); a SIGTERM sends them.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use flate2::{Compress, Compression, FlushCompress, Status};
use logtrim_core::budget::{Accountant, Admission, Lease, LeaseRequest, SignedDuration, StoreUnavailable, Timestamp};
use logtrim_core::run::counters::RuleCounters;
use logtrim_core::run::hec::EventValue;
use logtrim_core::archive::{Added, Archive, ArchiveOptions, Object, Origin, Reason};
use logtrim_core::run::pipeline::{Encoding, NotSent, Options, Outcome, Seen, Sent, Sink};
use logtrim_core::record::parts::Parts;
use logtrim_core::time::TimeCache;
use logtrim_core::{Decision, Priority, Record, RuleSet, Summary};
use logtrim_formats::container::{Log, Message, short_utf8};
use tokio::sync::mpsc;

use crate::Shared;
use crate::archive::Spool;
use crate::config::{Config, EventMode, OnFull};
use crate::ledger::{BRING_IN_EVERY, BatchLines, Counts, Intake};
use crate::meta::{self, FileMeta};
use crate::tail::checkpoint::{Seq, TrackId, Tracker};
use crate::tail::{LineSink, Tail};

/// Maps keyed by file ([`TrackId`]), looked up once per line.
type IdMap<V> = HashMap<TrackId, V, BuildHasherDefault<IdHasher>>;

/// Track ids are small integers handed out in sequence, so one multiplication spreads them well enough;
/// SipHash, looked up per line, took ~2% of the reading thread.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// How far a batch reaches in each file and how many of its lines it holds: (file, offset, lines).
type Reach = Vec<(TrackId, u64, u64)>;

/// A sealed batch of HEC events, ready to send (logtrim-hec's).
pub use logtrim_hec::Batch;

/// Events are encoded into a stage and moved on in pieces of this size: to zlib, large enough for
/// deflate to work efficiently, small enough not to hold a whole uncompressed batch.
const STAGE: usize = 64 * 1024;

/// How request bodies are compressed (`hec.gzip_level`), and so what an open batch's body holds: the
/// events as they are, or (zlib) what they compressed to so far.
enum Codec {
    /// 0: not at all.
    Plain,
    /// 1: the whole batch at once when it is sealed, by [`logtrim_core::gzip::Gzip`]. Boxed with its table.
    Whole(Box<logtrim_core::gzip::Gzip>),
    /// 2–9: zlib-rs, as the events come. Its state (window, tables) is kept from batch to batch:
    /// building one per batch allocated and zeroed them each time. Boxed: its state is large.
    Zlib(Box<Compress>),
}

/// Accumulates events into one request body, compressed as they come or when it is sealed.
struct Batcher {
    next_seq: Seq,
    seq: Seq,
    /// The open batch's body, as its [`Codec`] says.
    body: Option<Vec<u8>>,
    stage: Vec<u8>,
    raw: usize,
    events: u32,
    opened: Instant,
    /// How far this batch reaches in each file and how many of its lines it holds, and where each file
    /// was before its first event here.
    reach: Reach,
    first: IdMap<u64>,
    cap: usize,
    codec: Codec,
    /// The raw body of the last batch compressed whole, kept for the next one.
    spare: Vec<u8>,
}

impl Batcher {
    fn new(cap: usize, level: u32) -> Batcher {
        Batcher {
            next_seq: 1,
            seq: 0,
            body: None,
            stage: Vec::with_capacity(STAGE + 4096),
            raw: 0,
            events: 0,
            opened: Instant::now(),
            reach: Vec::new(),
            first: IdMap::default(),
            cap,
            codec: match level {
                0 => Codec::Plain,
                1 => Codec::Whole(Box::default()),
                _ => Codec::Zlib(Box::new(Compress::new_gzip(Compression::new(level), 15))),
            },
            spare: Vec::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.events == 0
    }

    /// Opens the batch if needed and returns where the next event starts in `stage`: events are
    /// encoded straight into it, saving a copy per record.
    fn open(&mut self) -> usize {
        if self.body.is_none() {
            self.seq = self.next_seq;
            self.next_seq += 1;
            self.opened = Instant::now();
            self.body = Some(match self.codec {
                Codec::Plain => Vec::with_capacity(self.cap.min(1 << 20) + 1024),
                Codec::Whole(_) => std::mem::take(&mut self.spare),
                Codec::Zlib(_) => Vec::with_capacity(self.cap / 8),
            });
        }
        self.stage.len()
    }

    /// Whether an event of `n` bytes must go into the next batch.
    fn overflows(&self, n: usize) -> bool {
        self.events > 0 && self.raw + n > self.cap
    }

    /// Counts the event just encoded at the end of `stage` (`n` bytes) for file `id`.
    fn commit(&mut self, n: usize, id: TrackId, before: u64, resume: u64) {
        match self.reach.last_mut() {
            // Both are filled together and emptied together: the file is in `first` already.
            Some((last, r, lines)) if *last == id => (*r, *lines) = (resume, *lines + 1),
            _ => {
                self.first.entry(id).or_insert(before);
                match self.reach.iter_mut().find(|(i, ..)| *i == id) {
                    Some((_, r, lines)) => (*r, *lines) = (resume, *lines + 1),
                    None => self.reach.push((id, resume, 1)),
                }
            }
        }
        self.count(n);
    }

    /// Counts the event just encoded at the end of `stage` (`n` bytes), which holds no file's lines
    /// (a summary event): it moves no checkpoint.
    fn count(&mut self, n: usize) {
        self.raw += n;
        self.events += 1;
        if self.stage.len() >= STAGE {
            self.drain_stage();
        }
    }

    fn drain_stage(&mut self) {
        if let Some(body) = &mut self.body {
            match &mut self.codec {
                // A failure shows at `Finish` (the stream state stays broken).
                Codec::Zlib(z) => {
                    let _ = gzip(z, &self.stage, body, FlushCompress::None);
                }
                Codec::Plain | Codec::Whole(_) => body.extend_from_slice(&self.stage),
            }
        }
        self.stage.clear();
    }

    /// Seals the batch: the body, and how far it reaches in each file with how many lines it holds.
    fn seal(&mut self) -> Option<(Batch, Reach)> {
        if self.events == 0 {
            return None;
        }
        self.drain_stage();
        let (body, gzip) = match (self.body.take()?, &mut self.codec) {
            (mut out, Codec::Zlib(z)) => {
                if !gzip(z, &[], &mut out, FlushCompress::Finish) {
                    out.clear();
                }
                z.reset();
                (out, true)
            }
            (mut v, Codec::Whole(g)) => {
                let mut out = Vec::new();
                g.compress(&v, &mut out);
                v.clear();
                // A batch may end with one long event past the cap; its buffer is not kept.
                if v.capacity() <= 2 * self.cap {
                    self.spare = v;
                }
                (out, true)
            }
            (v, Codec::Plain) => (v, false),
        };
        let b = Batch { seq: self.seq, body: Bytes::from(body), gzip, events: self.events, raw_bytes: self.raw as u64 };
        self.raw = 0;
        self.events = 0;
        self.first.clear();
        if self.stage.capacity() > 4 * STAGE {
            self.stage = Vec::with_capacity(STAGE + 4096);
        }
        Some((b, std::mem::take(&mut self.reach)))
    }
}

/// Compresses all of `input` into the spare capacity of `out`, growing it as needed (with `Finish`:
/// to the end of the stream). False if the compressor failed, which it cannot with valid arguments;
/// the caller then sends an empty body, as `GzEncoder::finish` did.
fn gzip(z: &mut Compress, mut input: &[u8], out: &mut Vec<u8>, flush: FlushCompress) -> bool {
    loop {
        // Level 1 output of these events is under a third of their size; the loop covers the rest.
        out.reserve(input.len() / 2 + 4096);
        let before = z.total_in();
        match z.compress_vec(input, out, flush) {
            Ok(Status::StreamEnd) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
        input = &input[(z.total_in() - before) as usize..];
        // Without `Finish` all input taken is enough; with it, only the end of the stream.
        if input.is_empty() && !matches!(flush, FlushCompress::Finish) {
            return true;
        }
    }
}

/// Moves lease requests between the budget accountant (on the reading thread) and its store (on a
/// thread of its own, so a slow fsync or DynamoDB call never stalls reading).
pub struct BudgetLink {
    /// The accountant.
    pub acc: Accountant,
    /// Requests to the store worker.
    pub requests: std_mpsc::Sender<LeaseRequest>,
    /// Its answers.
    pub replies: std_mpsc::Receiver<Result<Lease, StoreUnavailable>>,
}

impl BudgetLink {
    fn poll(&mut self, now: Timestamp) {
        while let Ok(r) = self.replies.try_recv() {
            self.acc.apply(now, r);
        }
        if let Some(req) = self.acc.lease_request(now)
            && self.requests.send(req).is_err()
        {
            self.acc.apply(now, Err(StoreUnavailable::new("budget store worker stopped")));
        }
    }

    /// Sends what was kept but not reported yet and waits (bounded) for the store to take it.
    pub fn flush(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        while let Some(req) = self.acc.flush_request(Timestamp::now()) {
            if self.requests.send(req).is_err() {
                return;
            }
            match self.replies.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(r) => {
                    let ok = r.is_ok();
                    self.acc.apply(Timestamp::now(), r);
                    if !ok {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    }
}

/// Counters of what the reader saw, kept on the reading thread and added to the metrics once a second
/// (what the rules and the budget did is in the core's counters).
#[derive(Default)]
struct Local {
    records: u64,
    truncated: u64,
    malformed: u64,
    invalid_utf8: u64,
    unterminated: u64,
    /// Bytes of HEC events produced, envelopes included.
    event_bytes: u64,
}

/// Where events go: the open batch, sealed into the sink's queue; and what the reading thread knows
/// that the core does not (the budget's link, the clock).
struct Output {
    batcher: Batcher,
    /// A copy of an event that moves to the next batch.
    event: Vec<u8>,
    /// The metadata members of summary events ([`meta::summary_prefix`]).
    summary_prefix: Vec<u8>,
    /// The container runtime's times share their minute from line to line.
    times: TimeCache,
    tx: mpsc::Sender<Batch>,
    shared: Arc<Shared>,
    budget: Option<BudgetLink>,
    now: Timestamp,
    local: Local,
    /// Batches sealed since the ledger was last told, with their lines per file.
    sealed: Vec<(Seq, Vec<(TrackId, u64)>)>,
    /// Files closed when the batch holding their last lines was sealed, for the ledger.
    closed_files: Vec<TrackId>,
    /// The sink's queue is gone (shutdown past its deadline): stop.
    closed: bool,
    /// The archive of the lines not sent, when `archive.location` is set.
    archive: Option<Archiving>,
}

/// The archive on the reading thread: the core's outlet, the spool its sealed objects are written to,
/// and which lines of each file wait in objects not spooled yet (their checkpoint must not pass them).
pub struct Archiving {
    archive: Archive,
    spool: Arc<Spool>,
    on_full: OnFull,
    seal_interval: Duration,
    options: ArchiveOptions,
    /// `archive.location`, as summary events name it.
    location: String,
    /// Per file: (object, offset before the file's first line in it), oldest first. The offsets grow
    /// with the lines, so the first is the file's hold.
    holds: IdMap<Vec<(u64, u64)>>,
    /// Files whose hold changed since the tracker was told.
    changed: Vec<TrackId>,
    /// Lines in objects not spooled yet, by [`Reason::index`].
    pending: [u64; 5],
    /// Lines spooled, left out by `archive.include`, lost: since the metrics were told.
    spooled: [u64; 5],
    excluded: [u64; 5],
    lost: [u64; 5],
}

impl Archiving {
    /// The archive of `rules` into `spool`, as `cfg.archive` says; objects are named after the node and
    /// the start time (unique among the archive's writers, also across restarts).
    pub fn new(cfg: &Config, rules: &RuleSet, spool: Arc<Spool>) -> Archiving {
        let start_ms = Timestamp::now().as_millisecond();
        let options = ArchiveOptions { writer: format!("{}-{start_ms}", cfg.node_name), max_open: cfg.archive.max_open, first_seq: 1, source: None, max_open_bytes: Some(cfg.archive.max_open_bytes.0) };
        Archiving {
            archive: Archive::new(rules, options.clone()),
            spool,
            on_full: cfg.archive.on_full,
            seal_interval: cfg.archive.seal_interval.0,
            options,
            location: cfg.archive.location.clone(),
            holds: IdMap::default(),
            changed: Vec::new(),
            pending: [0; 5],
            spooled: [0; 5],
            excluded: [0; 5],
            lost: [0; 5],
        }
    }

    /// Notes what archiving one line of file `id` that started at `before`, for `reason`, did with it:
    /// the file is held at the line until its object is spooled.
    fn note(&mut self, added: Added, reason: Reason, id: TrackId, before: u64) {
        match added {
            Added::Excluded => self.excluded[reason.index()] += 1,
            Added::To(seq) => {
                self.pending[reason.index()] += 1;
                let h = self.holds.entry(id).or_default();
                if h.last().map(|e| e.0) != Some(seq) && !h.iter().any(|e| e.0 == seq) {
                    if h.is_empty() {
                        self.changed.push(id);
                    }
                    h.push((seq, before));
                }
            }
        }
    }

    /// Tells the tracker the holds that changed. Called under its lock before it learns of a batch or
    /// of the reader's progress, so neither can commit past a line still in an open object.
    fn apply_holds(&mut self, tracker: &mut Tracker) {
        for id in self.changed.drain(..) {
            let at = self.holds.get(&id).and_then(|h| h.first()).map(|e| e.1);
            if at.is_none() {
                self.holds.remove(&id);
            }
            tracker.hold(id, at);
        }
    }

    /// Seals the objects open longer than `archive.seal_interval` (all with `all`) and writes every
    /// sealed one to the spool.
    fn drain(&mut self, shared: &Shared, now: Timestamp, all: bool) {
        let now_ms = now.as_millisecond();
        self.archive.set_now(now_ms);
        if all {
            self.archive.seal_all();
        } else {
            self.archive.seal_opened_before(now_ms - self.seal_interval.as_millis() as i64);
        }
        while let Some(o) = self.archive.pop() {
            self.spool_object(shared, o);
        }
    }

    /// Writes one sealed object to the spool — waiting for room while it is full (`on_full: pause`) or
    /// counting it lost (`lose`) — and releases the holds of its lines.
    fn spool_object(&mut self, shared: &Shared, o: Object) {
        let m = &shared.metrics;
        let size = o.body.len() as u64;
        let mut waited = false;
        let spooled = loop {
            if !self.spool.fits(size) {
                if self.on_full == OnFull::Lose {
                    tracing::warn!(key = %o.key, records = o.index.records, spool_bytes = self.spool.bytes(), "Archive spool full: this object is not archived (archive.on_full: lose).");
                    break false;
                }
                if !waited {
                    waited = true;
                    tracing::warn!(spool_bytes = self.spool.bytes(), "Archive spool full: reading pauses until uploads make room.");
                }
                m.archive_spool_full.set(1);
                m.reading_paused.set(1);
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            match self.spool.write(&o) {
                Ok(bytes) => {
                    m.archive_object("spooled", bytes);
                    break true;
                }
                Err(e) => {
                    m.archive_spool_errors.inc();
                    if self.on_full == OnFull::Lose {
                        tracing::error!(error = %e, records = o.index.records, "Cannot write an archive object to the spool; it is not archived (archive.on_full: lose).");
                        break false;
                    }
                    // Its lines stay held: retrying keeps them, giving up would lose them.
                    tracing::error!(error = %e, "Cannot write an archive object to the spool; retrying in a second (reading waits).");
                    m.reading_paused.set(1);
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        };
        if waited {
            m.archive_spool_full.set(0);
            m.reading_paused.set(0);
        }
        if !spooled {
            m.archive_object("lost", size);
        }
        for (name, n) in &o.index.reasons {
            if let Some(r) = Reason::from_name(name) {
                let i = r.index();
                self.pending[i] = self.pending[i].saturating_sub(*n);
                if spooled { self.spooled[i] += n } else { self.lost[i] += n }
            }
        }
        for (id, h) in self.holds.iter_mut() {
            if let Some(at) = h.iter().position(|e| e.0 == o.seq) {
                h.remove(at);
                if at == 0 {
                    self.changed.push(*id);
                }
            }
        }
    }

    /// A rule reload: what the old rules archived is sealed and spooled; the new archive continues its
    /// numbering.
    fn swap_rules(&mut self, shared: &Shared, rules: &RuleSet, now: Timestamp) {
        self.drain(shared, now, true);
        let options = ArchiveOptions { first_seq: self.archive.next_seq(), ..self.options.clone() };
        self.archive = Archive::new(rules, options);
    }

    fn publish(&mut self, m: &crate::metrics::Metrics) {
        for r in Reason::ALL {
            let i = r.index();
            m.archive_lines(r.name(), "spooled", std::mem::take(&mut self.spooled[i]));
            m.archive_lines(r.name(), "excluded", std::mem::take(&mut self.excluded[i]));
            m.archive_lines(r.name(), "lost", std::mem::take(&mut self.lost[i]));
            m.archive_pending(r.name(), self.pending[i]);
        }
        m.archive_spool_bytes.set(self.spool.bytes() as i64);
        m.archive_spool_objects.set(self.spool.objects() as i64);
    }
}

/// The line being pushed: its file, where it was read, and what its event needs.
struct Line<'a> {
    id: TrackId,
    /// Where the file was before this line, and where a restart would resume after it.
    before: u64,
    resume: u64,
    /// The file's HEC metadata members for the line's stream.
    prefix: &'a [u8],
    /// The time as written in the file.
    time: &'a [u8],
    /// The file's counts for the ledger.
    counts: &'a mut Counts,
    /// The file's name, as archive lines' `origin`.
    origin: &'a str,
}

/// [`Output`] as the core pipeline's sink, for one line (or for summaries, with no line).
struct Events<'a> {
    out: &'a mut Output,
    line: Option<Line<'a>>,
}

impl Sink for Events<'_> {
    fn out(&mut self) -> &mut Vec<u8> {
        self.out.batcher.open();
        &mut self.out.batcher.stage
    }

    fn time(&mut self, _: Record<'_>) -> Option<i64> {
        self.out.times.rfc3339_ms(self.line.as_ref()?.time)
    }

    fn meta(&mut self, _: Record<'_>) {
        if let Some(line) = &self.line {
            self.out.batcher.stage.extend_from_slice(line.prefix);
        }
    }

    fn summary_meta(&mut self, _: &Summary) {
        self.out.batcher.stage.extend_from_slice(&self.out.summary_prefix);
    }

    fn admit(&mut self, priority: Priority, metered: u64) -> bool {
        match &mut self.out.budget {
            None => true,
            Some(b) => {
                // Leases are asked for before they run out, so a burst of records is not shed for want
                // of a lease that is only slow to arrive.
                b.poll(self.out.now);
                b.acc.admit(self.out.now, priority, metered) == Admission::Keep
            }
        }
    }

    fn not_sent_seen(&mut self, record: Record<'_>, decision: Decision, why: NotSent, seen: &mut Seen<'_, '_, '_>) {
        if let Some(l) = &mut self.line {
            match why {
                NotSent::Dropped => l.counts.dropped += 1,
                NotSent::Shed => l.counts.shed += 1,
                NotSent::Blank => l.counts.blank += 1,
            }
            if let Some(a) = &mut self.out.archive {
                let reason = a.archive.reason(decision, why);
                let origin = Origin { source: l.origin, position: Some(l.before), time_ms: Some(self.out.now.as_millisecond()) };
                let added = a.archive.add_seen(record, decision, why, &origin, seen);
                a.note(added, reason, l.id, l.before);
            }
        }
    }

    fn sent(&mut self, e: Sent) {
        let o = &mut *self.out;
        let n = o.place(e.start);
        o.local.event_bytes += n as u64;
        match &self.line {
            Some(l) if !e.summary => o.batcher.commit(n, l.id, l.before, l.resume),
            // A summary holds no file's lines: it moves no checkpoint.
            _ => o.batcher.count(n),
        }
        if o.batcher.raw >= o.batcher.cap {
            o.seal();
        }
    }
}

/// The reading thread's state.
pub struct Pipeline {
    rules: RuleSet,
    /// The rules, the budget and summaries: what happens to each line after it is read.
    core: logtrim_core::Pipeline,
    options: Options,
    /// `rules.has_summaries()`: else no summary flush is ever due.
    summarize: bool,
    summary_delay: Duration,
    last_summary_flush: Instant,
    out: Output,
    /// The JSON record of a line that is not decided from its parts.
    record: Vec<u8>,
    /// Per file read, what its next line needs and what the ledger has not been told yet.
    files: IdMap<FileLines>,
    /// File names no file is read under any more, for the ledger.
    gone: Vec<Arc<str>>,
    last_bring_in: Instant,
}

impl Pipeline {
    /// A pipeline sending batches to `tx`.
    pub fn new(
        cfg: &Config,
        rules: RuleSet,
        templates: &meta::Templates,
        tx: mpsc::Sender<Batch>,
        shared: Arc<Shared>,
        budget: Option<BudgetLink>,
    ) -> Pipeline {
        let event = match cfg.hec.event {
            EventMode::Record => EventValue::Record,
            EventMode::Log => EventValue::Field(vec!["log".into()]),
        };
        // Reading a backlog, the clock alone would hold every interval of it in memory until the next
        // flush: intervals the lines' own time has moved `summary_delay` past go out at once.
        let lateness = SignedDuration::try_from(cfg.summary_delay.0).ok();
        let options = Options { encoding: Encoding::Hec(event), lateness };
        Pipeline {
            core: logtrim_core::Pipeline::new(&rules, options.clone()),
            options,
            summarize: rules.has_summaries(),
            summary_delay: cfg.summary_delay.0,
            last_summary_flush: Instant::now(),
            rules,
            out: Output {
                batcher: Batcher::new(cfg.hec.batch_bytes.0 as usize, cfg.hec.gzip_level),
                event: Vec::with_capacity(4096),
                summary_prefix: meta::summary_prefix(&cfg.node_name, templates),
                times: TimeCache::default(),
                tx,
                shared,
                budget,
                now: Timestamp::now(),
                local: Local::default(),
                sealed: Vec::new(),
                closed_files: Vec::new(),
                closed: false,
                archive: None,
            },
            record: Vec::with_capacity(4096),
            files: IdMap::default(),
            gone: Vec::new(),
            last_bring_in: Instant::now(),
        }
    }

    /// Archives the lines not sent (see [`Archiving`]).
    pub fn with_archive(mut self, archive: Archiving) -> Pipeline {
        // Summary events say where the lines they count are archived; the archive reads what deciding read.
        self.core.archive_summaries_at(&archive.archive, &archive.location);
        self.core.read_for_archive(&archive.archive);
        self.out.archive = Some(archive);
        self
    }

    /// Runs until `shared.stop` is set: reads, decides, batches; then seals and sends the last batch.
    pub fn run(mut self, cfg: &Config, mut tail: Tail) -> Option<BudgetLink> {
        let poll = cfg.inputs.poll_interval.0;
        let discover_every = cfg.inputs.discover_interval.0;
        let batch_time = cfg.hec.batch_time.0;
        let rotate_wait = cfg.inputs.rotate_wait.0;
        let mut last_discover = Instant::now() - discover_every;
        let mut last_check = Instant::now();
        let mut last_publish = Instant::now();
        while !self.out.shared.stop.load(Ordering::Relaxed) && !self.out.closed {
            self.out.now = Timestamp::now();
            self.swap_rules();
            if let Some(b) = &mut self.out.budget {
                b.poll(self.out.now);
            }
            if last_discover.elapsed() >= discover_every {
                last_discover = Instant::now();
                let mut tracker = self.out.shared.tracker.lock().unwrap_or_else(|e| e.into_inner());
                tail.discover(&mut tracker);
            }
            let read = tail.read(&mut self, 4);
            if read == 0 || last_check.elapsed() >= poll || tail.needs_check() {
                last_check = Instant::now();
                tail.check(&mut self.out.shared.tracker.lock().unwrap_or_else(|e| e.into_inner()));
                tail.finish_drained(&mut self, rotate_wait);
            }
            if self.summarize && self.last_summary_flush.elapsed() >= self.summary_delay {
                self.last_summary_flush = Instant::now();
                let until = self.out.now.checked_sub(self.signed_delay()).unwrap_or(self.out.now);
                if self.core.next_summary_due_ms().is_some_and(|due| due <= until.as_millisecond()) {
                    self.flush_summaries(Some(until));
                }
            }
            if !self.out.batcher.is_empty() && self.out.batcher.opened.elapsed() >= batch_time {
                self.out.seal();
            }
            if let Some(a) = &mut self.out.archive {
                a.drain(&self.out.shared, self.out.now, false);
            }
            self.sync_progress(&mut tail);
            if last_publish.elapsed() >= Duration::from_secs(1) {
                last_publish = Instant::now();
                self.publish(&mut tail);
            }
            if read == 0 {
                let until_seal = if self.out.batcher.is_empty() {
                    poll
                } else {
                    batch_time.saturating_sub(self.out.batcher.opened.elapsed())
                };
                std::thread::sleep(poll.min(until_seal).max(Duration::from_millis(5)));
            }
        }
        // Shutdown: every open interval goes out with the last batch (unless the sink is gone).
        if !self.out.closed {
            self.out.now = Timestamp::now();
            self.flush_summaries(None);
        }
        // Every open archive object is spooled: its lines are then committed with the last batch.
        if let Some(a) = &mut self.out.archive {
            a.drain(&self.out.shared, Timestamp::now(), true);
        }
        self.out.seal();
        self.sync_progress(&mut tail);
        self.bring_in();
        self.publish(&mut tail);
        self.out.budget
    }

    fn signed_delay(&self) -> SignedDuration {
        SignedDuration::try_from(self.summary_delay).unwrap_or(SignedDuration::ZERO)
    }

    /// Sends the summary events of the intervals that end at or before `until` (all with `None`).
    fn flush_summaries(&mut self, until: Option<Timestamp>) {
        self.core.flush_summaries(until, &mut Events { out: &mut self.out, line: None });
    }

    fn swap_rules(&mut self) {
        if !self.out.shared.rules_changed.swap(false, Ordering::AcqRel) {
            return;
        }
        let Some(new) = self.out.shared.new_rules.lock().unwrap_or_else(|e| e.into_inner()).take() else { return };
        // What the old rules summarized goes out now, under their names: the new rules may not have
        // those rules, or may count differently.
        self.flush_summaries(None);
        self.publish_rules();
        match (&mut self.out.budget, new.budget()) {
            (Some(b), Some(spec)) => b.acc.set_spec(spec.clone()),
            (None, None) => {}
            // The store worker is set up at start; keep what runs rather than half-switch.
            _ => tracing::warn!("The rule file's budget: section was added or removed; this takes effect at the next start."),
        }
        if let Some(a) = &mut self.out.archive {
            a.swap_rules(&self.out.shared, &new, self.out.now);
        }
        self.core = logtrim_core::Pipeline::new(&new, self.options.clone());
        if let Some(a) = &self.out.archive {
            self.core.archive_summaries_at(&a.archive, &a.location);
            self.core.read_for_archive(&a.archive);
        }
        self.summarize = new.has_summaries();
        self.rules = new;
    }

    /// Gives the tracker every file's progress; files with events in the open batch only up to where
    /// they were before their first one.
    fn sync_progress(&mut self, tail: &mut Tail) {
        let first = &self.out.batcher.first;
        let progress: Vec<(TrackId, u64, u64)> =
            tail.progress().map(|(id, resume, read)| (id, first.get(&id).copied().unwrap_or(resume), read)).collect();
        let mut finished = tail.take_finished();
        {
            let mut tracker = self.out.shared.tracker.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(a) = &mut self.out.archive {
                a.apply_holds(&mut tracker);
            }
            tracker.sync(None, &progress);
            // A finished file's last lines may wait in the open batch: close it once they are registered.
            if self.out.batcher.is_empty() {
                for &id in &finished {
                    tracker.close(id);
                }
            } else {
                self.out.shared.pending_close.lock().unwrap_or_else(|e| e.into_inner()).append(&mut finished);
            }
        }
        for id in finished.into_iter().chain(std::mem::take(&mut self.out.closed_files)) {
            self.forget(id);
        }
        // Between two reads every line read is decided and placed: the ledger can be told.
        if self.last_bring_in.elapsed() >= BRING_IN_EVERY {
            self.bring_in();
        }
    }

    /// The reader is done with a file: it is dropped once its counts are brought in, like every other
    /// file's.
    fn forget(&mut self, id: TrackId) {
        if let Some(f) = self.files.get_mut(&id) {
            f.done = true;
        }
    }

    /// Tells the ledger what was read and decided, the batches sealed and what the open batch holds,
    /// and drops the files the reader is done with. Only between reads (see [`crate::ledger`]).
    fn bring_in(&mut self) {
        for id in std::mem::take(&mut self.out.closed_files) {
            self.forget(id);
        }
        self.last_bring_in = Instant::now();
        let files = &self.files;
        let name = |id: &TrackId| files.get(id).map(|f| Arc::clone(&f.name));
        let open: Vec<(Arc<str>, u64)> =
            self.out.batcher.reach.iter().filter_map(|(id, _, lines)| Some((name(id)?, *lines))).collect();
        // Every batch is registered, those without lines too (summaries), for the sink reports each one done.
        let mut sealed: Vec<(Seq, BatchLines)> = std::mem::take(&mut self.out.sealed)
            .into_iter()
            .map(|(seq, lines)| (seq, lines.iter().filter_map(|(id, n)| Some((name(id)?, *n))).collect()))
            .collect();
        // A name is gone when no file the reader still reads has it.
        for f in files.values().filter(|f| f.done) {
            if !files.values().any(|o| !o.done && o.name == f.name) && !self.gone.contains(&f.name) {
                self.gone.push(Arc::clone(&f.name));
            }
        }
        let counts = self.files.values_mut().map(|f| {
            let FileLines { name, counts, .. } = f;
            (&*name, std::mem::take(counts))
        });
        let intake = Intake { counts, sealed: &mut sealed, open: open.iter().map(|(n, l)| (n, *l)), gone: &mut self.gone };
        self.out.shared.metrics.ledger.bring_in(intake, self.last_bring_in);
        self.files.retain(|_, f| !f.done);
    }

    /// The core's counters, by rule and in total, into the metrics.
    fn publish_rules(&mut self) {
        let c = self.core.take_counters();
        let m = &self.out.shared.metrics;
        for (i, rc) in c.rules.iter().enumerate() {
            if *rc == RuleCounters::default() {
                continue;
            }
            let name = self.rules.rule_name(self.rules.rule_id_at(i));
            m.rule(name, "keep", rc.kept, rc.kept_bytes);
            m.rule(name, "drop", rc.dropped, rc.dropped_bytes);
            m.trim(name, rc.trimmed_bytes, rc.added_bytes);
            m.metered(name, rc.metered_bytes + rc.summary_bytes);
            if rc.summarized > 0 {
                m.summarized(name, rc.summarized, rc.summary_overflow);
            }
        }
        let t = c.total();
        m.records_kept.inc_by(t.sent);
        m.records_dropped.inc_by(t.dropped);
        m.records_shed.inc_by(t.shed);
        m.blank_events.inc_by(t.blank);
        m.summary_events.get_or_create(&vec![("result".into(), "sent".into())]).inc_by(t.summary_events);
        m.summary_events.get_or_create(&vec![("result".into(), "shed".into())]).inc_by(t.summaries_shed);
        m.summary_bytes.inc_by(t.summary_bytes);
    }

    fn publish(&mut self, tail: &mut Tail) {
        self.publish_rules();
        self.out.publish_local();
        if let Some(a) = &mut self.out.archive {
            a.publish(&self.out.shared.metrics);
        }
        let m = &self.out.shared.metrics;
        let s = tail.take_stats();
        m.input_bytes.inc_by(s.bytes);
        m.rotations.get_or_create(&vec![("kind".into(), "rename".into())]).inc_by(s.rotations);
        m.rotations.get_or_create(&vec![("kind".into(), "truncate".into())]).inc_by(s.truncations);
        m.partials_lost.inc_by(s.partials_lost);
        m.file_errors.inc_by(s.errors);
        for (kind, n) in crate::files::NotRegular::ALL.iter().zip(s.skipped) {
            if n > 0 {
                m.files_skipped.get_or_create(&vec![("type".into(), kind.name().into())]).inc_by(n);
            }
        }
        m.files.set(tail.len() as i64);
        m.unread_bytes.set(tail.unread_bytes() as i64);
        let lag = self.out.shared.tracker.lock().unwrap_or_else(|e| e.into_inner()).lag_bytes();
        m.checkpoint_lag.set(lag as i64);
    }
}

impl Output {
    /// The event encoded at `stage[start..]` goes into the open batch, or, when it would take the batch
    /// past its cap, into a new one (the full batch is sealed). Returns its length.
    fn place(&mut self, start: usize) -> usize {
        let n = self.batcher.stage.len() - start;
        if self.batcher.overflows(n) {
            self.event.clear();
            self.event.extend_from_slice(&self.batcher.stage[start..]);
            self.batcher.stage.truncate(start);
            self.seal();
            self.batcher.open();
            self.batcher.stage.extend_from_slice(&self.event);
        }
        n
    }

    fn seal(&mut self) {
        let Some((batch, reach)) = self.batcher.seal() else { return };
        // The ledger learns the batch's lines per file at the next bring-in.
        self.sealed.push((batch.seq, reach.iter().map(|&(id, _, n)| (id, n)).collect()));
        {
            let reach: Vec<(TrackId, u64)> = reach.iter().map(|&(id, offset, _)| (id, offset)).collect();
            let mut tracker = self.shared.tracker.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(a) = &mut self.archive {
                a.apply_holds(&mut tracker);
            }
            tracker.sync(Some((batch.seq, &reach)), &[]);
            let closing: Vec<TrackId> = self.shared.pending_close.lock().unwrap_or_else(|e| e.into_inner()).drain(..).collect();
            for &id in &closing {
                tracker.close(id);
            }
            drop(tracker);
            self.closed_files.extend(closing);
        }
        let m = &self.shared.metrics;
        m.queue_depth.set((self.tx.max_capacity() - self.tx.capacity()) as i64 + 1);
        let t = Instant::now();
        let mut batch = batch;
        let mut last_publish = Instant::now();
        loop {
            match self.tx.try_send(batch) {
                Ok(()) => break,
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.closed = true;
                    break;
                }
                Err(mpsc::error::TrySendError::Full(b)) => {
                    // Backpressure: reading pauses here while Splunk is slow or down. On shutdown it
                    // keeps waiting too: the sink may still make room within the shutdown deadline
                    // (and this batch may hold the last summaries); past the deadline the process
                    // exits, and the batch, registered but never completed, is read again.
                    batch = b;
                    self.shared.metrics.reading_paused.set(1);
                    std::thread::sleep(Duration::from_millis(20));
                    if last_publish.elapsed() >= Duration::from_secs(1) {
                        last_publish = Instant::now();
                        self.publish_local();
                    }
                }
            }
        }
        let m = &self.shared.metrics;
        m.reading_paused.set(0);
        let waited = t.elapsed();
        if waited > Duration::from_millis(1) {
            m.backpressure_seconds.inc_by(waited.as_secs_f64());
        }
        m.queue_depth.set((self.tx.max_capacity() - self.tx.capacity()) as i64);
    }

    /// Metrics kept on this thread (also while reading is paused).
    fn publish_local(&mut self) {
        let m = &self.shared.metrics;
        let l = std::mem::take(&mut self.local);
        m.input_records.inc_by(l.records);
        m.truncated.inc_by(l.truncated);
        m.malformed.inc_by(l.malformed);
        m.invalid_utf8.inc_by(l.invalid_utf8);
        m.unterminated.inc_by(l.unterminated);
        m.event_bytes.inc_by(l.event_bytes);
        if let Some(b) = &self.budget {
            *self.shared.budget_status.lock().unwrap_or_else(|e| e.into_inner()) = Some(b.acc.status(self.now));
        }
    }
}

/// A file being read, as the reading thread knows it.
struct FileLines {
    /// Where the file was after its last line (the resume offset before its next record).
    resume: u64,
    /// Its series in the ledger.
    name: Arc<str>,
    /// What the ledger has not been told yet.
    counts: Counts,
    /// The reader is done with the file (dropped at the next bring-in).
    done: bool,
}

impl LineSink for Pipeline {
    fn line(&mut self, id: TrackId, meta: &FileMeta, msg: Option<Message<'_>>, resume: u64) {
        let file = self.files.entry(id).or_insert_with(|| FileLines { resume: 0, name: Arc::clone(&meta.name), counts: Counts::default(), done: false });
        let before = std::mem::replace(&mut file.resume, resume);
        let Some(m) = msg else { return };
        file.counts.read += 1;
        let l = &mut self.out.local;
        l.records += 1;
        l.truncated += u64::from(m.truncated);
        l.malformed += u64::from(m.malformed);
        l.invalid_utf8 += u64::from(m.invalid_utf8);
        l.unterminated += u64::from(m.unterminated);
        let line = Line { id, before, resume, prefix: &meta.hec_prefix[m.stream as usize], time: m.time, counts: &mut file.counts, origin: &meta.name };
        let now = self.out.now;
        let mut events = Events { out: &mut self.out, line: Some(line) };
        // With `archive.include: [..., kept]`, a line sent is archived too (and held like the others).
        let keep_kept = |out: &Output| out.archive.as_ref().is_some_and(|a| a.archive.includes(Reason::Kept));
        let kept = |out: &mut Output, record: Record<'_>, decision: Decision| {
            if let Some(a) = &mut out.archive {
                let origin = Origin { source: &meta.name, position: Some(before), time_ms: Some(now.as_millisecond()) };
                let added = a.archive.add(record, decision, Reason::Kept, &origin);
                a.note(added, Reason::Kept, id, before);
            }
        };
        // A CRI line is decided from its parts, and written as JSON only if it is kept; a Docker line's
        // message is JSON already (as is a CRI message that was not UTF-8, once escaped), so its record is
        // written out and decided as JSON.
        let time = if m.malformed { Some(None) } else { short_utf8(m.time).map(Some) };
        match (m.log, time) {
            (Log::Text(log), Some(time)) => {
                let parts = Parts { time, stream: time.map(|_| m.stream.name()), log, members: &meta.members };
                let (decision, outcome) = self.core.push(&parts, now, &mut events);
                if matches!(outcome, Outcome::Sent(_)) && keep_kept(&self.out) {
                    kept(&mut self.out, Record::Parts(&parts), decision);
                }
            }
            _ => {
                let r = &mut self.record;
                r.clear();
                if m.malformed {
                    r.extend_from_slice(b"{\"log\":\"");
                } else {
                    r.extend_from_slice(b"{\"time\":\"");
                    // As in the file: CRI times are checked digits and signs, Docker's are JSON already.
                    r.extend_from_slice(m.time);
                    r.extend_from_slice(b"\",\"stream\":\"");
                    r.extend_from_slice(m.stream.name().as_bytes());
                    r.extend_from_slice(b"\",\"log\":\"");
                }
                m.log.escape_into(r);
                r.push(b'"');
                r.extend_from_slice(meta.members.tail());
                let (decision, outcome) = self.core.push(&self.record, now, &mut events);
                if matches!(outcome, Outcome::Sent(_)) && keep_kept(&self.out) {
                    kept(&mut self.out, Record::Line(&self.record), decision);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Batch after batch from one compressor (logtrim's whole-batch level 1, zlib-rs's streaming other
    /// levels): each body is a whole gzip stream of exactly its events, however they were fed to it;
    /// level 0 sends them as they are.
    #[test]
    fn each_batch_is_one_gzip_stream_of_its_events() {
        use std::io::Read;
        for level in [0, 1, 6] {
            let mut b = Batcher::new(300_000, level);
            for batch in 0..3u64 {
                let mut want = Vec::new();
                for i in 0..2000 + 1500 * batch {
                    b.open();
                    let start = b.stage.len();
                    let ev = format!("{{\"event\":\"batch {batch} event {i} {}\"}}", "x".repeat((i % 97) as usize));
                    b.stage.extend_from_slice(ev.as_bytes());
                    want.extend_from_slice(ev.as_bytes());
                    b.commit(b.stage.len() - start, 1, 0, i);
                }
                let (sealed, reach) = b.seal().unwrap();
                assert_eq!((sealed.seq, sealed.gzip, sealed.raw_bytes), (batch + 1, level > 0, want.len() as u64));
                assert_eq!(reach, vec![(1, 1999 + 1500 * batch, 2000 + 1500 * batch)]);
                if level == 0 {
                    assert_eq!(&sealed.body[..], &want[..], "batch {batch}");
                    continue;
                }
                let mut got = Vec::new();
                let mut gz = flate2::read::GzDecoder::new(&sealed.body[..]);
                gz.read_to_end(&mut got).unwrap();
                assert_eq!(got, want, "level {level}, batch {batch}");
                let mut rest = Vec::new();
                gz.into_inner().read_to_end(&mut rest).unwrap();
                assert!(rest.is_empty(), "one stream, nothing after it");
            }
        }
    }
}
