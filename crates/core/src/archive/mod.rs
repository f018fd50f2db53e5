//! The archive of what is not sent: every record the rules drop, sampling leaves out, the budget sheds or
//! that would make a blank event (and, if asked, the kept ones too), written with its outcome into
//! compressed NDJSON objects that a replay can bring back into Splunk, slice by slice.
//!
//! Like the [`crate::Pipeline`], the [`Archive`] does no I/O: a front-end hands it each record that
//! reaches [`crate::Sink::not_sent`] ([`Archive::add`]); the archive encodes it ([`line`]), puts it in
//! the open object of its partition ([`object`]), seals objects when they are full, and the front-end
//! drains the sealed ones ([`Archive::pop`]) and writes them — to a directory, to S3 — as it writes HEC
//! batches. Memory is bounded: at most `max_open` objects are open at once (one per partition, each the
//! gzip members of at most `object_size` input bytes and one chunk of lines not compressed yet, see
//! [`object`]), and with [`ArchiveOptions::max_open_bytes`] at most that many bytes together; sealed
//! objects wait until the front-end takes them.
//!
//! # Layout
//!
//! ```text
//! <archive>/dt=2026-11-22/hour=10/source=shop/<writer>-00000001.ndjson.gz     the records, one per line
//! <archive>/dt=2026-11-22/hour=10/source=shop/<writer>-00000001.index.json    what the object holds
//! ```
//!
//! Hive-style partitions: the UTC day and hour of each record's own time, then its source (the first
//! present of the `archive.partition` fields: a namespace, a log group), so Athena, Spark or DuckDB read
//! the archive as a table partitioned by `dt`, `hour` and `source`. Each object has an index beside it
//! ([`index::ObjectIndex`]): its time range, counts by reason and rule, and the values (or a Bloom filter
//! of them) of the `archive.index` fields, so a replay reads only the objects that can match.
//!
//! # One line
//!
//! ```text
//! {"id":"5d1c…","time":1795341600123,"reason":"sampled","rule":"sample-2xx","action":"drop","origin":"…","position":4096,"record":{…}}
//! ```
//!
//! See [`line`] for every member. `id` is stable: a hash of where the record came from
//! ([`Origin`]: its file or stream, and its position there when it has one) and of the record itself,
//! so archiving the same record twice (a forwarder re-reading after a crash, a Lambda retried) gives the
//! same id, and a replay sends it once.
//!
//! ```
//! use logtrim_core::archive::{Archive, Origin, ArchiveOptions};
//! use logtrim_core::run::pipeline::{NotSent, Options, Pipeline, Sink};
//! use logtrim_core::{Decision, Record, RuleSet};
//! use logtrim_core::budget::Timestamp;
//!
//! let rules = RuleSet::from_yaml("a.yaml", "rules:\n  - name: drop-debug\n    when: level == \"debug\"\n    action: drop\n")?;
//! struct Out { events: Vec<u8>, archive: Archive }
//! impl Sink for Out {
//!     fn out(&mut self) -> &mut Vec<u8> { &mut self.events }
//!     fn not_sent(&mut self, record: Record<'_>, decision: Decision, why: NotSent) {
//!         self.archive.add_not_sent(record, decision, why, &Origin::default());
//!     }
//! }
//! let mut out = Out { events: Vec::new(), archive: Archive::new(&rules, ArchiveOptions::default()) };
//! let mut p = Pipeline::new(&rules, Options::default());
//! p.push(r#"{"time":"2026-11-22T10:00:05Z","level":"debug","kubernetes":{"namespace_name":"shop"}}"#, Timestamp::UNIX_EPOCH, &mut out);
//! out.archive.seal_all();
//! let object = out.archive.pop().unwrap();
//! assert_eq!(object.key, "dt=2026-11-22/hour=10/source=shop/logtrim-00000001.ndjson.gz");
//! assert_eq!(object.index.records, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod index;
pub mod line;
pub mod object;
pub mod select;
pub mod spec;

use std::collections::VecDeque;
use std::sync::Arc;

use crate::primitives::Decision;
use crate::record::Record;
use crate::record::view::View;
use crate::rules::RuleSet;
use crate::run::pipeline::{NotSent, Seen};

pub use index::ObjectIndex;
pub use line::ArchivedLine;
pub use object::{Object, Partition};
pub use spec::{ArchiveSpec, Reason};
use object::Builder;
use spec::ArchivePlan;

/// Where a record came from, for its stable id and its line.
#[derive(Clone, Copy, Debug, Default)]
pub struct Origin<'a> {
    /// The file, stream or input it was read from (`/var/log/containers/….log`, a CloudWatch log
    /// stream, an input file); written as the line's `origin` when not empty.
    pub source: &'a str,
    /// Its position there (a byte offset, a record number, a CloudWatch event id's hash), when it has a
    /// stable one: two equal records at different positions then get different ids.
    pub position: Option<u64>,
    /// The time to file it under when it has none of its own, in epoch milliseconds (the front-end's
    /// clock, an event's arrival time). Without either, the Unix epoch.
    pub time_ms: Option<i64>,
}

/// How an [`Archive`] names and bounds its objects.
#[derive(Clone, Debug)]
pub struct ArchiveOptions {
    /// Names this writer in object names (`<writer>-<seq>`): unique among the writers of one archive (a
    /// node name and a start time, a Lambda instance); `[A-Za-z0-9._-]`, anything else becomes `_`.
    pub writer: String,
    /// Objects open at once at most; one more partition seals the one open longest.
    pub max_open: usize,
    /// The first object's sequence number (a front-end that restarts continues its numbering).
    pub first_seq: u64,
    /// Files every record under this source rather than under its `archive.partition` fields' value,
    /// which are then indexed instead (so a replay still skips objects by them). For a front-end that
    /// writes what it archives as one object per batch whatever the records' sources: the Lambda, one
    /// object per invocation (under its delivery stream's name) rather than one per log group.
    pub source: Option<String>,
    /// Bytes the open objects may hold in memory together (compressed members and the chunks not
    /// compressed yet): past it the largest is sealed, smaller than `object_size`. For a long-running
    /// front-end with a memory limit (the forwarder); `None`: only `max_open` bounds them.
    pub max_open_bytes: Option<u64>,
}

impl Default for ArchiveOptions {
    fn default() -> ArchiveOptions {
        ArchiveOptions { writer: "logtrim".into(), max_open: 32, first_seq: 1, source: None, max_open_bytes: None }
    }
}

/// Counts of what an [`Archive`] took.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArchiveCounters {
    /// Records archived, by [`Reason::index`].
    pub records: [u64; 5],
    /// Records the rule file's `archive.include` leaves out, by reason.
    pub excluded: [u64; 5],
    /// Uncompressed bytes of the lines written.
    pub line_bytes: u64,
    /// Objects sealed.
    pub objects: u64,
    /// Their compressed bytes.
    pub object_bytes: u64,
}

impl ArchiveCounters {
    /// Records archived, all reasons.
    pub fn archived(&self) -> u64 {
        self.records.iter().sum()
    }
}

/// What [`Archive::add`] did with a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Added {
    /// It is in the open object with this sequence number: it is durable once that object is written.
    To(u64),
    /// The rule file's `archive.include` leaves records of this reason out.
    Excluded,
}

/// The outlet for records that are not sent: one per pipeline (see the module docs).
pub struct Archive {
    plan: Arc<ArchivePlan>,
    /// The rule set's rule names, the default last (`default`).
    rule_names: Arc<[String]>,
    rule_set: Option<Arc<str>>,
    view: View,
    options: ArchiveOptions,
    next_seq: u64,
    open: Vec<Builder>,
    sealed: VecDeque<Object>,
    counters: ArchiveCounters,
    /// The line being written.
    line: Vec<u8>,
    /// What its id hashes.
    hashed: Vec<u8>,
    /// The one encoder of every object's chunks (`archive.gzip_level`).
    gzip: crate::gzip::Members,
    /// The fields each object's index lists: the plan's, and its partition fields when
    /// [`ArchiveOptions::source`] names the source.
    index: Vec<(String, crate::plan::FieldRef)>,
    /// Values of the index fields of the record being added (`None` where it has none); each buffer is
    /// reused, so adding a record allocates nothing once warm.
    values: Vec<Option<String>>,
    /// Spare buffers for `values`.
    spare: Vec<String>,
    /// The partition source of the record being added.
    source: String,
    /// A clock tick the front-end sets; builders remember when they opened, for [`Archive::seal_opened_before`].
    now_ms: i64,
    times: crate::time::TimeCache,
}

impl Archive {
    /// An archive for the records of `rules`, as its `archive:` section says.
    pub fn new(rules: &RuleSet, options: ArchiveOptions) -> Archive {
        let plan = rules.archive_plan();
        let names: Vec<String> = rules.rule_names().map(str::to_string).chain(["default".to_string()]).collect();
        let writer: String = options.writer.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect();
        let writer = if writer.is_empty() { "logtrim".to_string() } else { writer };
        let gzip_level = plan.gzip_level;
        let mut index = plan.index.clone();
        if options.source.is_some() {
            for p in &plan.partition_named {
                if !index.iter().any(|(n, _)| *n == p.0) {
                    index.push(p.clone());
                }
            }
        }
        Archive {
            view: View::new(&plan.fields),
            values: vec![None; index.len()],
            spare: Vec::new(),
            source: String::new(),
            index,
            plan,
            rule_names: names.into(),
            rule_set: rules.name().map(Arc::from),
            next_seq: options.first_seq.max(1),
            options: ArchiveOptions { writer, max_open: options.max_open.max(1), ..options },
            open: Vec::new(),
            sealed: VecDeque::new(),
            counters: ArchiveCounters::default(),
            line: Vec::new(),
            hashed: Vec::new(),
            gzip: crate::gzip::Members::new(gzip_level),
            now_ms: 0,
            times: Default::default(),
        }
    }

    /// Whether records of `reason` are archived (the rule file's `archive.include`).
    pub fn includes(&self, reason: Reason) -> bool {
        self.plan.include[reason.index()]
    }

    /// The reason of a record that is not sent.
    pub fn reason(&self, decision: Decision, why: NotSent) -> Reason {
        match why {
            NotSent::Shed => Reason::Shed,
            NotSent::Blank => Reason::Blank,
            NotSent::Dropped => {
                let i = decision.rule.index().unwrap_or(self.rule_names.len() - 1);
                if self.plan.samples.get(i).copied().unwrap_or(false) { Reason::Sampled } else { Reason::Dropped }
            }
        }
    }

    /// Whether the records `rule` drops are archived.
    pub fn keeps_drops_of(&self, rule: crate::RuleId) -> bool {
        let decision = Decision { action: crate::Action::Drop, rule, priority: crate::Priority::Normal };
        self.includes(self.reason(decision, NotSent::Dropped))
    }

    /// Archives a record [`crate::Sink::not_sent`] was told about.
    pub fn add_not_sent(&mut self, record: Record<'_>, decision: Decision, why: NotSent, origin: &Origin<'_>) -> Added {
        let reason = self.reason(decision, why);
        self.add_with(record, decision, reason, origin, None)
    }

    /// Archives a record [`crate::Sink::not_sent_seen`] was told about, reading its fields from what
    /// deciding it read when the pipeline decides with this archive's plan
    /// ([`crate::Pipeline::read_for_archive`]); the same line as [`Archive::add_not_sent`] writes.
    pub fn add_seen(&mut self, record: Record<'_>, decision: Decision, why: NotSent, origin: &Origin<'_>, seen: &mut Seen<'_, '_, '_>) -> Added {
        let reason = self.reason(decision, why);
        let seen = Arc::ptr_eq(seen.0.plan(), &self.plan.fields).then_some(seen);
        self.add_with(record, decision, reason, origin, seen)
    }

    /// The plan a pipeline decides with for [`Archive::add_seen`] to read what deciding read: the rule
    /// set's, reading the archive's fields too (`None` if it could not be made so).
    pub(crate) fn reading_plan(&self) -> Option<&Arc<crate::plan::Plan>> {
        self.plan.decides.then_some(&self.plan.fields)
    }

    /// Archives `record`, decided `decision`, for `reason` ([`Reason::Kept`] for a record that was sent,
    /// when the rule file includes kept records).
    pub fn add(&mut self, record: Record<'_>, decision: Decision, reason: Reason, origin: &Origin<'_>) -> Added {
        self.add_with(record, decision, reason, origin, None)
    }

    /// [`Archive::add`], the fields read from `seen` (the decider's view of the same record, on this
    /// archive's plan) when given, else by the archive's own view.
    fn add_with(&mut self, record: Record<'_>, decision: Decision, reason: Reason, origin: &Origin<'_>, mut seen: Option<&mut Seen<'_, '_, '_>>) -> Added {
        if !self.includes(reason) {
            self.counters.excluded[reason.index()] += 1;
            return Added::Excluded;
        }
        let fields = Arc::clone(&self.plan.fields);
        let input: &[u8] = match (record, &seen) {
            (_, Some(_)) => &[],
            (Record::Line(l), None) => {
                self.view.reset();
                l
            }
            (Record::Event { record, .. }, None) => {
                self.view.reset();
                record
            }
            (Record::Parts(p), None) => {
                self.view.load_parts(&fields, p);
                p.log.as_bytes()
            }
        };
        let view = &mut self.view;
        // One field of the record, from the decider's view or the archive's own.
        macro_rules! get {
            ($f:expr) => {
                match seen.as_deref_mut() {
                    Some(s) => s.0.value($f),
                    None => view.get(&fields, input, $f),
                }
            };
        }
        let times = &mut self.times;
        let time_ms = self.plan.time.iter().find_map(|&f| crate::run::summary::time_ms(get!(f), times)).or(origin.time_ms).unwrap_or(0);
        let has_source = match &self.options.source {
            Some(s) => {
                self.source.clear();
                self.source.push_str(s);
                true
            }
            None => {
                let source = &mut self.source;
                self.plan.partition.iter().any(|&f| value_text(get!(f), source))
            }
        };
        for (i, (_, f)) in self.index.iter().enumerate() {
            let mut v = self.values[i].take().or_else(|| self.spare.pop()).unwrap_or_default();
            if value_text(get!(*f), &mut v) {
                self.values[i] = Some(v);
            } else {
                self.spare.push(v);
            }
        }
        let kind = match (record, seen) {
            (Record::Parts(_), _) => crate::RecordKind::Json,
            (_, Some(s)) => s.0.kind(),
            (_, None) => view.kind(&fields, input),
        };
        let i = decision.rule.index().unwrap_or(self.rule_names.len() - 1);
        let rule = &self.rule_names[i.min(self.rule_names.len() - 1)];
        self.line.clear();
        line::write(&mut self.line, &mut self.hashed, &line::Fields { record, kind, time_ms, reason, rule, decision, origin });
        let at = self.builder(time_ms.div_euclid(3_600_000), has_source);
        let b = &mut self.open[at];
        b.add(&mut self.gzip, &self.line, time_ms, reason, i, &self.values);
        let seq = b.seq;
        let full = b.raw_bytes() >= self.plan.object_bytes;
        self.counters.records[reason.index()] += 1;
        self.counters.line_bytes += self.line.len() as u64;
        if full {
            self.seal_at(at);
        }
        if let Some(max) = self.options.max_open_bytes {
            while self.open.iter().map(Builder::held_bytes).sum::<u64>() > max {
                let largest = self.open.iter().enumerate().max_by_key(|(_, b)| b.held_bytes()).map_or(0, |(i, _)| i);
                self.seal_at(largest);
            }
        }
        Added::To(seq)
    }

    /// Where the open object of the partition of `hour` and `self.source` (if `has_source`) is in `open`,
    /// opening one (and sealing the one open longest, when `max_open` are open) if needed.
    fn builder(&mut self, hour: i64, has_source: bool) -> usize {
        let source = has_source.then_some(self.source.as_str());
        if let Some(i) = self.open.iter().position(|b| b.partition.hour == hour && b.partition.source.as_deref() == source) {
            return i;
        }
        let partition = Partition { hour, source: source.map(str::to_string) };
        if self.open.len() >= self.options.max_open {
            let oldest = self.open.iter().enumerate().min_by_key(|(_, b)| b.seq).map_or(0, |(i, _)| i);
            self.seal_at(oldest);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let b = Builder::new(partition, &self.options.writer, seq, self.index.len(), self.now_ms);
        self.open.push(b);
        self.open.len() - 1
    }

    fn seal_at(&mut self, i: usize) {
        let b = self.open.swap_remove(i);
        let o = b.seal(&mut self.gzip, &self.rule_names, &self.index, self.rule_set.as_deref());
        self.counters.objects += 1;
        self.counters.object_bytes += o.body.len() as u64;
        self.sealed.push_back(o);
    }

    /// Seals every open object (at the end of an input, an invocation, on shutdown).
    pub fn seal_all(&mut self) {
        while !self.open.is_empty() {
            let first = self.open.iter().enumerate().min_by_key(|(_, b)| b.seq).map_or(0, |(i, _)| i);
            self.seal_at(first);
        }
    }

    /// Sets the clock the archive stamps newly opened objects with (epoch milliseconds; the front-end's
    /// wall clock). Only [`Archive::seal_opened_before`] reads it.
    pub fn set_now(&mut self, now_ms: i64) {
        self.now_ms = now_ms;
    }

    /// Seals the objects opened before `ms` (by [`Archive::set_now`]'s clock): a long-running front-end
    /// bounds how long a record waits in an open object.
    pub fn seal_opened_before(&mut self, ms: i64) {
        while let Some(i) = self.open.iter().position(|b| b.opened_ms < ms) {
            self.seal_at(i);
        }
    }

    /// Seals the object with sequence number `seq` if it is still open (a front-end waiting for a record
    /// to be durable).
    pub fn seal(&mut self, seq: u64) {
        if let Some(i) = self.open.iter().position(|b| b.seq == seq) {
            self.seal_at(i);
        }
    }

    /// The oldest sealed object not taken yet.
    pub fn pop(&mut self) -> Option<Object> {
        self.sealed.pop_front()
    }

    /// Sealed objects waiting to be taken, and their bytes.
    pub fn sealed(&self) -> (usize, u64) {
        (self.sealed.len(), self.sealed.iter().map(|o| o.body.len() as u64).sum())
    }

    /// Bytes the open objects hold in memory (compressed members and chunks not compressed yet).
    pub fn open_bytes(&self) -> u64 {
        self.open.iter().map(Builder::held_bytes).sum()
    }

    /// Objects open, and the input bytes they hold.
    pub fn open(&self) -> (usize, u64) {
        (self.open.len(), self.open.iter().map(Builder::raw_bytes).sum())
    }

    /// The sequence number the next object opened gets: an archive replacing this one (a rule reload)
    /// starts there, so a front-end waiting on sequence numbers never sees one twice.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// What the archive took so far.
    pub fn counters(&self) -> &ArchiveCounters {
        &self.counters
    }
}

/// A field value as an index or partition value, written into `out` (cleared first): strings as they
/// are (invalid UTF-8 replaced), numbers and booleans as written; missing, null, empty, objects and
/// arrays have none (false).
fn value_text(v: crate::Value<'_>, out: &mut String) -> bool {
    use std::fmt::Write;
    out.clear();
    match v {
        crate::Value::Str(s) if !s.is_empty() => match std::str::from_utf8(s) {
            Ok(t) => out.push_str(t),
            Err(_) => out.push_str(&String::from_utf8_lossy(s)),
        },
        crate::Value::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => {
            let _ = write!(out, "{}", n as i64);
        }
        crate::Value::Num(n) => {
            let _ = write!(out, "{n}");
        }
        crate::Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests;
