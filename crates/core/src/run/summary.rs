//! Summaries of what `drop` and `sample` rules remove: records, bytes and numeric statistics per group of
//! field values, per time interval, as one JSON event per group that Splunk can chart directly.
//!
//! A [`Summarizer`] sits next to a [`crate::Decider`] in a [`crate::Pipeline`], which makes both from one
//! rule set and hands it every record the rules dropped; it counts the records of rules with a
//! `summarize:` block and ignores the rest. [`Summarizer::flush`] turns the counts into [`Summary`] events:
//! the CLI flushes as the records' time moves on, the Lambda once per invocation, the forwarder once per
//! interval and on shutdown.
//!
//! ```
//! use logtrim_core::run::pipeline::{Encoding, Options, Pipeline, Sink};
//! use logtrim_core::{Action, RuleSet};
//! use logtrim_core::budget::Timestamp;
//!
//! let rules = RuleSet::from_yaml("s.yaml", r#"
//! rules:
//!   - name: drop-debug
//!     when: level == "debug"
//!     action: drop
//!     summarize: {by: [app], sum: [ms], every: 1m}
//! "#)?;
//! struct Lines(Vec<u8>);
//! impl Sink for Lines {
//!     fn out(&mut self) -> &mut Vec<u8> { &mut self.0 }
//! }
//! let mut p = Pipeline::new(&rules, Options { encoding: Encoding::Lines, ..Options::default() });
//! let mut out = Lines(Vec::new());
//! for rec in [br#"{"time":"2026-11-22T10:00:05Z","level":"debug","app":"web","ms":3}"#,
//!             br#"{"time":"2026-11-22T10:00:09Z","level":"debug","app":"web","ms":5}"#] {
//!     p.push(rec, Timestamp::UNIX_EPOCH, &mut out);
//! }
//! assert!(out.0.is_empty(), "both dropped, the interval still open");
//! p.flush_summaries(None, &mut out);
//! assert_eq!(String::from_utf8(out.0)?, concat!(
//!     r#"{"logtrim_summary":{"rule":"drop-debug","interval_start":"2026-11-22T10:00:00Z","#,
//!     r#""interval_end":"2026-11-22T10:01:00Z","group":{"app":"web"},"records":2,"bytes":132,"#,
//!     r#""stats":{"ms":{"count":2,"sum":8,"min":3,"max":5}}}}"#, "\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Time
//!
//! Intervals are `every` long and aligned to the Unix epoch (UTC): with `every: 1m`, 10:00:00–10:01:00.
//! A record is counted in the interval of its own time — the first of its top-level `time`, `@timestamp`
//! and `timestamp` fields that reads as a time (RFC 3339, or epoch seconds, milliseconds, microseconds or
//! nanoseconds by magnitude) — so replaying a file gives the same summaries every time. A record without
//! one is counted at the time the front-end passes to [`crate::Pipeline::push`] (the CLI: the time of the
//! last record that had one; the Lambda: the CloudWatch event's timestamp or Firehose's arrival time; the
//! forwarder: the wall clock).
//!
//! # In a front-end
//!
//! The [`crate::Pipeline`] summarizes every dropped record and writes summary events like kept records —
//! admitted by the daily budget at the rule's summary priority, with [`Summary::start`] as the event time —
//! when the front-end calls [`crate::Pipeline::flush_summaries`], on its own schedule:
//!
//! - a long-running forwarder flushes `Some(now - lateness)` once per interval (what has ended, leaving a
//!   little time for late records), and `None` on shutdown, before its last batch;
//! - a batch front-end (the Lambda) flushes `None` at the end of each batch;
//! - a replay (the CLI) sets [`crate::run::pipeline::Options::lateness`], so intervals are flushed as the
//!   records' own time moves past them (a forwarder reading a backlog does too).
//!
//! Several workers may write events for the same rule, interval and group; they add up.
//!
//! # Memory
//!
//! Each open interval of each rule holds at most `max_groups` groups; the records of any further group go
//! to one `_other` group (and to [`crate::run::counters::RuleCounters::summary_overflow`]). Flushing closes intervals, so
//! memory stays at (open intervals) × (`max_groups` + 1) groups. Deciding a record allocates nothing once
//! the groups exist: the group key is built in a reused buffer.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;

use crate::diag::Pos;
use crate::run::decider::{Decided, json_number};
use crate::record::json::push_json_str;
use crate::plan::{FieldRef, Plan};
use crate::primitives::{RuleId, Value};
use crate::primitives::Priority;
use crate::spec::ast::Path;

/// The default `every`.
pub const DEFAULT_EVERY_SECS: u64 = 60;
/// The default `max_groups`.
pub const DEFAULT_MAX_GROUPS: usize = 1000;

/// A rule's `summarize:` block, as loaded.
#[derive(Clone, Debug)]
pub struct SummarizeSpec {
    /// Where the block is written.
    pub pos: Pos,
    /// Group fields: the name in the summary's `group`, and the path.
    pub by: Vec<(String, Path)>,
    /// Numeric fields to sum: the name in the summary's `stats`, and the path.
    pub sum: Vec<(String, Path)>,
    /// Interval length in seconds.
    pub every_secs: u64,
    /// Groups per interval before the rest go to `_other`.
    pub max_groups: usize,
    /// The budget priority of the summary events.
    pub priority: Priority,
}

/// How a group field is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GroupField {
    /// The field's value.
    Value(FieldRef),
    /// `<field>.status_class`: `2xx`… from the access-log status.
    StatusClass(FieldRef),
}

/// A compiled `summarize:` block.
#[derive(Clone, Debug)]
pub(crate) struct SummaryPlan {
    pub rule: RuleId,
    pub rule_name: String,
    pub by: Vec<(String, GroupField)>,
    pub sum: Vec<(String, FieldRef)>,
    pub every_ms: i64,
    pub max_groups: usize,
    pub priority: Priority,
}

/// One summary event: what one rule removed in one interval for one group.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The rule that dropped the records.
    pub rule: RuleId,
    /// The priority to admit the event with through the daily byte budget.
    pub priority: Priority,
    /// Start of the interval (inclusive); the event's time.
    pub start: Timestamp,
    /// End of the interval (exclusive).
    pub end: Timestamp,
    /// Records summarized.
    pub records: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Whether this is the `_other` group of an interval that had more than `max_groups` groups.
    pub overflow: bool,
    /// The event: `{"logtrim_summary":{…}}` (see docs/rules.md, "Summaries"), one line of JSON.
    pub json: String,
}

impl Summary {
    /// The bytes Splunk meters for the event sent as a JSON object (its JSON text).
    pub fn metered_bytes(&self) -> u64 {
        self.json.len() as u64
    }
}

/// What [`Summarizer::add`] did with a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Summarized {
    /// Nothing: it was kept, or its rule does not summarize.
    No,
    /// Counted in its group.
    Counted,
    /// Counted in the interval's `_other` group: its own group would have been one past `max_groups`.
    Overflow,
}

#[derive(Clone, Copy, Debug, Default)]
struct Agg {
    records: u64,
    bytes: u64,
}

#[derive(Clone, Copy, Debug)]
struct Stat {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Default for Stat {
    fn default() -> Stat {
        Stat { count: 0, sum: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY }
    }
}

impl Stat {
    fn add(&mut self, x: f64) {
        self.count += 1;
        self.sum += x;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }

    fn merge(&mut self, o: &Stat) {
        self.count += o.count;
        self.sum += o.sum;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }
}

/// Hashes group keys with XXH3 seeded once per process from std's random hash keys: looked up once per
/// summarized record, SipHash took ~1% of the forwarder's reading thread; the random seed keeps keys
/// crafted to collide (a group can be a field of the log line) from being prepared in advance, and
/// groups whose hashes collide are told apart by their keys.
fn group_hash(key: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let seed = *SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0u8));
    xxhash_rust::xxh3::xxh3_64_with_seed(key, seed)
}

/// The map of group hashes: they are hashes already.
#[derive(Clone, Copy, Debug, Default)]
struct HashIsKey;

impl std::hash::BuildHasher for HashIsKey {
    type Hasher = KeyHash;
    fn build_hasher(&self) -> KeyHash {
        KeyHash(0)
    }
}

struct KeyHash(u64);

impl std::hash::Hasher for KeyHash {
    fn write(&mut self, bytes: &[u8]) {
        // Only `u64`s are hashed; any other input still hashes, slowly.
        self.0 = bytes.iter().fold(self.0, |h, &b| h.rotate_left(8) ^ u64::from(b));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// No group.
const NO_GROUP: u32 = u32::MAX;

/// Where a group's key is, and the next group whose key has the same hash.
#[derive(Clone, Copy, Debug)]
struct KeyAt {
    start: u32,
    end: u32,
    hash: u64,
    next: u32,
}

/// One open interval of one rule.
#[derive(Debug, Default)]
struct Window {
    summary: u16,
    start_ms: i64,
    /// Group key hash → the last group created with it; `keys_at` chains it to the others.
    // PERF: keys live in one buffer, not one allocation each: the Lambda makes a window per Firehose
    // record that drops anything, and clearing it would free every key.
    groups: HashMap<u64, u32, HashIsKey>,
    /// By group (as `aggs`): its key's place in `keys` (empty for `_other`).
    keys_at: Vec<KeyAt>,
    /// The group keys, each encoding every group field's value.
    keys: Vec<u8>,
    /// In insertion order; `_other` (if any) is last, as no group is added once it exists.
    aggs: Vec<Agg>,
    /// `aggs.len() × sum fields`, row-major.
    stats: Vec<Stat>,
    other: Option<u32>,
}

impl Window {
    fn clear(&mut self) {
        self.groups.clear();
        self.keys_at.clear();
        self.keys.clear();
        self.aggs.clear();
        self.stats.clear();
        self.other = None;
    }

    fn key(&self, group: usize) -> &[u8] {
        let k = self.keys_at[group];
        &self.keys[k.start as usize..k.end as usize]
    }

    /// The group for `key` (whose [`group_hash`] is `hash`), created (or `_other`, past `max`) if new;
    /// and whether it is `_other`.
    fn group(&mut self, key: &[u8], hash: u64, max: usize, nsum: usize) -> (usize, bool) {
        let mut at = self.groups.get(&hash).copied().unwrap_or(NO_GROUP);
        while at != NO_GROUP {
            if self.key(at as usize) == key {
                return (at as usize, false);
            }
            at = self.keys_at[at as usize].next;
        }
        // Named groups: `_other` is created only once they are `max`, so it is never among them.
        if self.aggs.len() < max {
            let i = self.push(nsum);
            let start = self.keys.len() as u32;
            self.keys.extend_from_slice(key);
            let next = self.groups.insert(hash, i as u32).unwrap_or(NO_GROUP);
            self.keys_at[i] = KeyAt { start, end: self.keys.len() as u32, hash, next };
            return (i, false);
        }
        (self.other_group(nsum), true)
    }

    /// The `_other` group, created if needed.
    fn other_group(&mut self, nsum: usize) -> usize {
        match self.other {
            Some(i) => i as usize,
            None => {
                let i = self.push(nsum);
                self.other = Some(i as u32);
                i
            }
        }
    }

    fn push(&mut self, nsum: usize) -> usize {
        self.aggs.push(Agg::default());
        self.keys_at.push(KeyAt { start: 0, end: 0, hash: 0, next: NO_GROUP });
        self.stats.extend(std::iter::repeat_n(Stat::default(), nsum));
        self.aggs.len() - 1
    }
}

/// Spare windows kept for reuse after a flush (their maps keep their capacity).
const SPARE_WINDOWS: usize = 8;

/// Counts dropped records into summaries. One per [`crate::Pipeline`], beside its decider, made from the
/// same rule set.
#[derive(Debug)]
pub struct Summarizer {
    plan: Arc<Plan>,
    windows: Vec<Window>,
    spare: Vec<Window>,
    /// The group key of the record being added.
    key: Vec<u8>,
    last_time: Option<i64>,
    times: crate::time::TimeCache,
    /// Where the records summaries count are archived, when they are.
    archived: Option<Arc<ArchivedAt>>,
}

/// Where an archive keeps the records that summaries count.
#[derive(Debug)]
pub(crate) struct ArchivedAt {
    /// The archive's location (`s3://bucket/prefix`, a directory), without a trailing `/`.
    pub url: String,
    /// By index into `Plan::summaries`: whether the archive keeps what that rule drops.
    pub by_summary: Vec<bool>,
}

impl Summarizer {
    pub(crate) fn new(plan: Arc<Plan>) -> Summarizer {
        Summarizer { plan, windows: Vec::new(), spare: Vec::new(), key: Vec::new(), last_time: None, times: Default::default(), archived: None }
    }

    /// A new, empty summarizer for the same rule set (and archive).
    pub(crate) fn fresh(&self) -> Summarizer {
        Summarizer { archived: self.archived.clone(), ..Summarizer::new(Arc::clone(&self.plan)) }
    }

    /// A new, empty summarizer of the same summaries (and archive) reading records with `plan`: the
    /// rule set's plan reading more fields ([`crate::Pipeline::read_for_archive`]).
    pub(crate) fn on_plan(&self, plan: Arc<Plan>) -> Summarizer {
        debug_assert_eq!(plan.summaries.len(), self.plan.summaries.len(), "the same rule set's plan");
        Summarizer { archived: self.archived.clone(), ..Summarizer::new(plan) }
    }

    /// Summary events from now on say where the records they count are archived (see
    /// [`crate::Pipeline::archive_summaries_at`]).
    pub(crate) fn set_archived(&mut self, at: ArchivedAt) {
        self.archived = Some(Arc::new(at));
    }

    /// The rule of each summary, by index into `Plan::summaries`.
    pub(crate) fn summary_rules(&self) -> Vec<RuleId> {
        self.plan.summaries.iter().map(|s| s.rule).collect()
    }

    /// Empties this summarizer, keeping its windows' room for the next records (a pooled unit's).
    pub(crate) fn reset(&mut self) {
        for mut w in self.windows.drain(..) {
            if self.spare.len() < SPARE_WINDOWS {
                w.clear();
                self.spare.push(w);
            }
        }
        self.key.clear();
        self.last_time = None;
    }

    /// Whether any rule summarizes (when not, nothing is ever counted).
    pub fn is_active(&self) -> bool {
        !self.plan.summaries.is_empty()
    }

    /// Counts the record `d` if a rule with `summarize:` dropped it ([`Decided::summarize`] checks that it
    /// was dropped). `fallback` is the time of a record that has none of its own (see the module docs).
    pub(crate) fn add(&mut self, d: &mut Decided<'_, '_>, fallback: Timestamp) -> Summarized {
        // Both come from one rule set: the pipeline makes them together, nothing else makes a summarizer.
        debug_assert!(Arc::ptr_eq(&self.plan, d.plan()), "a summarizer fed by another rule set's decider");
        let decision = d.decision();
        let plan = Arc::clone(&self.plan);
        let Some(si) = plan.extras(decision.rule).summary else { return Summarized::No };
        let sp = &plan.summaries[si as usize];
        let bytes = d.bytes();
        let times = &mut self.times;
        let own = plan.time_fields.iter().find_map(|&f| time_ms(d.value(f), times));
        if own.is_some() {
            self.last_time = own;
        }
        let ms = own.unwrap_or_else(|| fallback.as_millisecond());
        let start_ms = ms.div_euclid(sp.every_ms) * sp.every_ms;

        self.key.clear();
        for (_, g) in &sp.by {
            match *g {
                GroupField::Value(f) => encode(&mut self.key, d.value(f)),
                GroupField::StatusClass(f) => encode_class(&mut self.key, d.value(f)),
            }
        }
        let wi = match self.windows.iter().position(|w| w.summary == si && w.start_ms == start_ms) {
            Some(i) => i,
            None => {
                let mut w = self.spare.pop().unwrap_or_default();
                w.summary = si;
                w.start_ms = start_ms;
                self.windows.push(w);
                self.windows.len() - 1
            }
        };
        let nsum = sp.sum.len();
        let w = &mut self.windows[wi];
        let (gi, other) = w.group(&self.key, group_hash(&self.key), sp.max_groups, nsum);
        w.aggs[gi].records += 1;
        w.aggs[gi].bytes += bytes;
        for (j, (_, f)) in sp.sum.iter().enumerate() {
            if let Some(x) = number(d.value(*f)) {
                w.stats[gi * nsum + j].add(x);
            }
        }
        if other { Summarized::Overflow } else { Summarized::Counted }
    }

    /// Adds everything `other` counted (and has not flushed) to this summarizer, for the same rule set;
    /// `other` is left as it was. The Lambda counts each Firehose record apart and merges the records whose
    /// answer is final. The `max_groups` cap applies to the merged groups.
    pub fn merge(&mut self, other: &Summarizer) {
        if !Arc::ptr_eq(&self.plan, &other.plan) {
            return;
        }
        if other.last_time.is_some() {
            self.last_time = other.last_time;
        }
        let plan = Arc::clone(&self.plan);
        for ow in &other.windows {
            let sp = &plan.summaries[ow.summary as usize];
            let nsum = sp.sum.len();
            let wi = match self.windows.iter().position(|w| w.summary == ow.summary && w.start_ms == ow.start_ms) {
                Some(i) => i,
                None => {
                    let mut w = self.spare.pop().unwrap_or_default();
                    w.summary = ow.summary;
                    w.start_ms = ow.start_ms;
                    self.windows.push(w);
                    self.windows.len() - 1
                }
            };
            let w = &mut self.windows[wi];
            // Groups in the order they were created, `_other` last.
            for from in 0..ow.aggs.len() {
                let to = if ow.other == Some(from as u32) {
                    w.other_group(nsum)
                } else {
                    w.group(ow.key(from), ow.keys_at[from].hash, sp.max_groups, nsum).0
                };
                let a = ow.aggs[from];
                w.aggs[to].records += a.records;
                w.aggs[to].bytes += a.bytes;
                for j in 0..nsum {
                    let s = ow.stats[from * nsum + j];
                    w.stats[to * nsum + j].merge(&s);
                }
            }
        }
    }

    /// Closes the intervals that end at or before `until` (every open interval with `None`) and returns
    /// their summary events, ordered by interval start, then rule, then group (first seen first).
    pub fn flush(&mut self, until: Option<Timestamp>) -> Vec<Summary> {
        let plan = Arc::clone(&self.plan);
        let limit = until.map(|t| t.as_millisecond());
        let mut done: Vec<Window> = Vec::new();
        let mut i = 0;
        while i < self.windows.len() {
            let w = &self.windows[i];
            let end = w.start_ms + plan.summaries[w.summary as usize].every_ms;
            if limit.is_none_or(|l| end <= l) {
                done.push(self.windows.swap_remove(i));
            } else {
                i += 1;
            }
        }
        done.sort_by_key(|w| (w.start_ms, plan.summaries[w.summary as usize].rule));
        let mut out = Vec::new();
        for mut w in done {
            let sp = &plan.summaries[w.summary as usize];
            let start = Timestamp::from_millisecond(w.start_ms).unwrap_or(Timestamp::UNIX_EPOCH);
            let end = Timestamp::from_millisecond(w.start_ms + sp.every_ms).unwrap_or(Timestamp::UNIX_EPOCH);
            let nsum = sp.sum.len();
            for (gi, a) in w.aggs.iter().enumerate() {
                let overflow = w.other == Some(gi as u32);
                let mut json = render(&plan, sp, start, end, (!overflow).then_some(w.key(gi)), *a, &w.stats[gi * nsum..(gi + 1) * nsum]);
                if let Some(at) = self.archived.as_ref().filter(|at| at.by_summary.get(w.summary as usize).copied().unwrap_or(false)) {
                    // `{"logtrim_summary":{…}}`: the member goes in before the last two braces.
                    json.truncate(json.len() - 2);
                    json.push_str(r#","archive":"#);
                    let hour = crate::archive::object::hour_prefix(w.start_ms.div_euclid(3_600_000));
                    push_str(&mut json, &format!("{}/{hour}", at.url));
                    json.push_str("}}");
                }
                out.push(Summary {
                    rule: sp.rule,
                    priority: sp.priority,
                    start,
                    end,
                    records: a.records,
                    bytes: a.bytes,
                    overflow,
                    json,
                });
            }
            w.clear();
            if self.spare.len() < SPARE_WINDOWS {
                self.spare.push(w);
            }
        }
        out
    }

    /// The end of the earliest open interval: nothing is due before it.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.next_due_ms().and_then(|ms| Timestamp::from_millisecond(ms).ok())
    }

    /// [`Summarizer::next_due`] in epoch milliseconds (for a check per record, without timestamps).
    pub fn next_due_ms(&self) -> Option<i64> {
        self.windows.iter().map(|w| w.start_ms + self.plan.summaries[w.summary as usize].every_ms).min()
    }

    /// The time of the last summarized record that had one of its own.
    pub fn last_record_time(&self) -> Option<Timestamp> {
        self.last_time.and_then(|ms| Timestamp::from_millisecond(ms).ok())
    }

    /// [`Summarizer::last_record_time`] in epoch milliseconds.
    pub fn last_record_ms(&self) -> Option<i64> {
        self.last_time
    }

    /// Whether nothing is waiting to be flushed.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

}

// ---- group keys ---------------------------------------------------------------------------------------

const MISSING: u8 = 0;
const NULL: u8 = 1;
const FALSE: u8 = 2;
const TRUE: u8 = 3;
const NUM: u8 = 4;
const STR: u8 = 5;
const CONTAINER: u8 = 6;

fn encode_bytes(key: &mut Vec<u8>, tag: u8, b: &[u8]) {
    key.push(tag);
    key.extend_from_slice(&(b.len() as u32).to_le_bytes());
    key.extend_from_slice(b);
}

/// Appends one value to a group key; values are self-delimiting, so different values never collide.
fn encode(key: &mut Vec<u8>, v: Value<'_>) {
    match v {
        Value::Missing => key.push(MISSING),
        Value::Null => key.push(NULL),
        Value::Bool(false) => key.push(FALSE),
        Value::Bool(true) => key.push(TRUE),
        Value::Num(n) => {
            key.push(NUM);
            // -0.0 and 0.0 are one group.
            key.extend_from_slice(&(n + 0.0).to_bits().to_le_bytes());
        }
        Value::Str(s) => encode_bytes(key, STR, s),
        Value::Container(s) => encode_bytes(key, CONTAINER, s),
    }
}

/// `2xx`, `4xx`…: the hundreds of a status code 0–999 (a JSON number or a string holding one).
fn encode_class(key: &mut Vec<u8>, v: Value<'_>) {
    match number(v) {
        Some(n) if n.fract() == 0.0 && (0.0..1000.0).contains(&n) => {
            encode_bytes(key, STR, &[b'0' + (n as u32 / 100) as u8, b'x', b'x']);
        }
        _ => key.push(MISSING),
    }
}

fn number(v: Value<'_>) -> Option<f64> {
    match v {
        Value::Num(n) => Some(n),
        Value::Str(s) => json_number(s),
        _ => None,
    }
}

/// Reads one value back from a group key, appending it as JSON.
fn decode_one<'k>(key: &'k [u8], out: &mut String) -> &'k [u8] {
    let Some((&tag, rest)) = key.split_first() else {
        out.push_str("null");
        return key;
    };
    match tag {
        FALSE => out.push_str("false"),
        TRUE => out.push_str("true"),
        NUM => {
            let bits = rest.get(..8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes).unwrap_or(0);
            push_num(out, f64::from_bits(bits));
            return rest.get(8..).unwrap_or(&[]);
        }
        STR | CONTAINER => {
            let len = rest.get(..4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes).unwrap_or(0) as usize;
            let body = rest.get(4..4 + len).unwrap_or(&[]);
            if tag == STR {
                push_str(out, &String::from_utf8_lossy(body));
            } else {
                out.push_str(&String::from_utf8_lossy(body));
            }
            return rest.get(4 + len..).unwrap_or(&[]);
        }
        _ => out.push_str("null"),
    }
    rest
}

fn push_str(out: &mut String, s: &str) {
    let mut b = std::mem::take(out).into_bytes();
    push_json_str(&mut b, s.as_bytes());
    // A string and its JSON escaping are UTF-8.
    *out = String::from_utf8(b).unwrap_or_default();
}

/// Integers without a fraction (`200`, not `200.0`); other numbers in their shortest form.
fn push_num(out: &mut String, n: f64) {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        out.push_str(&format!("{}", n as i64));
    } else {
        out.push_str(&serde_json::to_string(&n).unwrap_or_else(|_| "null".into()));
    }
}

fn render(plan: &Plan, sp: &SummaryPlan, start: Timestamp, end: Timestamp, key: Option<&[u8]>, a: Agg, stats: &[Stat]) -> String {
    let mut o = String::with_capacity(256);
    o.push_str(r#"{"logtrim_summary":{"rule":"#);
    push_str(&mut o, &sp.rule_name);
    if let Some(name) = &plan.name {
        o.push_str(r#","rule_set":"#);
        push_str(&mut o, name);
    }
    o.push_str(&format!(r#","interval_start":"{start}","interval_end":"{end}","group":{{"#));
    let mut rest = key.unwrap_or(&[]);
    for (i, (name, _)) in sp.by.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        push_str(&mut o, name);
        o.push(':');
        match key {
            Some(_) => rest = decode_one(rest, &mut o),
            None => o.push_str(r#""_other""#),
        }
    }
    o.push('}');
    if key.is_none() {
        o.push_str(r#","overflow":true"#);
    }
    o.push_str(&format!(r#","records":{},"bytes":{}"#, a.records, a.bytes));
    if !sp.sum.is_empty() {
        o.push_str(r#","stats":{"#);
        for (i, ((name, _), s)) in sp.sum.iter().zip(stats).enumerate() {
            if i > 0 {
                o.push(',');
            }
            push_str(&mut o, name);
            o.push_str(&format!(r#":{{"count":{},"sum":"#, s.count));
            push_num(&mut o, s.sum);
            if s.count > 0 {
                o.push_str(r#","min":"#);
                push_num(&mut o, s.min);
                o.push_str(r#","max":"#);
                push_num(&mut o, s.max);
            } else {
                o.push_str(r#","min":null,"max":null"#);
            }
            o.push('}');
        }
        o.push('}');
    }
    o.push_str("}}");
    o
}

// ---- record time ---------------------------------------------------------------------------------------

/// Epoch milliseconds from a time field: a number (seconds, or ms/µs/ns by magnitude), a string holding
/// one, or an RFC 3339 timestamp (`2026-11-22T10:00:00.123Z`, an offset, or a space for the `T`).
pub(crate) fn time_ms(v: Value<'_>, cache: &mut crate::time::TimeCache) -> Option<i64> {
    let s = match v {
        Value::Num(n) => return crate::time::from_number(n),
        Value::Str(s) => s,
        _ => return None,
    };
    cache.parse_ms(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RuleSet;

    #[test]
    fn record_times() {
        let t = |s: &str| time_ms(Value::Str(s.as_bytes()), &mut Default::default());
        assert_eq!(t("2026-11-22T10:00:00Z"), Some(1_795_341_600_000));
        assert_eq!(t("2026-11-22T11:00:00.5+01:00"), Some(1_795_341_600_500));
        assert_eq!(t("2026-11-22 10:00:00.123456789Z"), Some(1_795_341_600_123));
        assert_eq!(t("1795341600"), Some(1_795_341_600_000));
        assert_eq!(time_ms(Value::Num(1_795_341_600_123.0), &mut Default::default()), Some(1_795_341_600_123));
        assert_eq!(time_ms(Value::Num(1_795_341_600_123_456.0), &mut Default::default()), Some(1_795_341_600_123));
        assert_eq!(t("yesterday"), None);
        assert_eq!(t("2026-11-22T10:00:00"), None, "no zone");
        assert_eq!(time_ms(Value::Bool(true), &mut Default::default()), None);
    }

    const RULES: &str = r#"
parse:
  log: [access]
rules:
  - name: drop-ok
    when: log.status < 400
    action: drop
    summarize:
      by: [ns: k8s.ns, log.status_class, log.method]
      sum: [log.duration]
      every: 10s
      max_groups: 2
"#;

    fn line(t: &str, ns: &str, status: u32, method: &str) -> String {
        format!(
            r#"{{"time":"{t}","k8s":{{"ns":"{ns}"}},"log":"1.2.3.4 - - [22/Nov/2026:10:00:00 +0000] \"{method} / HTTP/1.1\" {status} 5 \"-\" \"c\" 100 0.250 [u] [] 1.1.1.1:80 5 0.250 {status} r1"}}"#
        )
    }

    #[test]
    fn groups_intervals_overflow_and_exact_totals() {
        let rules = RuleSet::from_yaml("t.yaml", RULES).unwrap_or_else(|e| panic!("{e}"));
        let mut d = rules.decider();
        let mut s = rules.summarizer();
        let recs = [
            line("2026-11-22T10:00:01Z", "a", 200, "GET"),
            line("2026-11-22T10:00:02Z", "a", 204, "GET"),
            line("2026-11-22T10:00:03Z", "b", 301, "GET"),
            line("2026-11-22T10:00:04Z", "c", 200, "GET"), // third group: `_other`
            line("2026-11-22T10:00:11Z", "c", 200, "GET"), // next interval
            r#"{"log":"plain"}"#.to_string(),                 // no time: the fallback
            line("2026-11-22T10:00:05Z", "a", 500, "GET"), // kept
        ];
        let fallback = Timestamp::from_second(1_795_341_605).unwrap(); // 10:00:05
        let mut overflow = 0;
        for r in &recs {
            overflow += u32::from(d.decide(r.as_bytes()).summarize(&mut s, fallback) == Summarized::Overflow);
        }
        let out = s.flush(Some(Timestamp::from_second(1_795_341_610).unwrap()));
        assert_eq!(out.len(), 3, "{out:#?}");
        let v: Vec<serde_json::Value> = out.iter().map(|o| serde_json::from_str(&o.json).unwrap()).collect();
        let g = |i: usize| v[i]["logtrim_summary"]["group"].clone();
        assert_eq!(g(0), serde_json::json!({"ns": "a", "log.status_class": "2xx", "log.method": "GET"}));
        assert_eq!(v[0]["logtrim_summary"]["records"], 2);
        assert_eq!(v[0]["logtrim_summary"]["stats"]["log.duration"], serde_json::json!({"count": 2, "sum": 500, "min": 250, "max": 250}));
        assert_eq!(g(1)["log.status_class"], "3xx");
        // `{"log":"plain"}` matched no rule (no status): kept, so only `c` overflows.
        assert!(out[2].overflow);
        assert_eq!(g(2), serde_json::json!({"ns": "_other", "log.status_class": "_other", "log.method": "_other"}));
        assert_eq!(v[2]["logtrim_summary"]["overflow"], true);
        assert_eq!(overflow, 1);
        let rest = s.flush(None);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].start, Timestamp::from_second(1_795_341_610).unwrap());
        let all: u64 = out.iter().chain(&rest).map(|o| o.records).sum();
        let bytes: u64 = out.iter().chain(&rest).map(|o| o.bytes).sum();
        let c = d.counters().rule(RuleId::from_index(0));
        assert_eq!((all, bytes), (c.dropped, c.dropped_bytes));
        assert!(s.is_empty());
    }

    fn errors(yaml: &str) -> String {
        match RuleSet::from_yaml("t.yaml", yaml) {
            Ok(_) => panic!("no error for {yaml}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn summarize_mistakes_are_reported_where_they_are() {
        let e = errors("rules:\n  - name: k\n    action: keep\n    summarize: {by: [a]}\n");
        assert!(e.contains("t.yaml:4:16: `summarize` only applies to `action: drop` and `action: sample`"), "{e}");
        let e = errors("rules:\n  - name: d\n    action: drop\n    summarize: {every: 90x, max_groups: 0}\n");
        assert!(e.contains("invalid interval \"90x\"") && e.contains("max_groups 0 is outside"), "{e}");
        let e = errors("rules:\n  - name: d\n    action: drop\n    summarize: {every: 2d}\n");
        assert!(e.contains("invalid interval"), "{e}");
        let e = errors("rules:\n  - name: d\n    action: drop\n    summarize: {every: 25h}\n");
        assert!(e.contains("outside 1s..24h"), "{e}");
        let e = errors("parse:\n  log: [nginx_combined]\nrules:\n  - name: d\n    action: drop\n    summarize: {by: [log.stauts]}\n");
        assert!(e.contains("did you mean log.status?"), "{e}");
        let e = errors("rules:\n  - name: d\n    action: drop\n    summarize: {by: [a, {a: b}]}\n");
        assert!(e.contains("summarize.by names \"a\" twice"), "{e}");
        let e = errors("rules:\n  - name: d\n    action: drop\n    summarize: {group_by: [a]}\n");
        assert!(e.contains("t.yaml:4:17: unknown key \"group_by\" in `summarize`") && e.contains("`summarize` accepts"), "{e}");
        let e = errors("rules:\n  - name: d\n    action: drop\n    summarize: {priority: urgent}\n");
        assert!(e.contains("unknown priority \"urgent\""), "{e}");
        // On the default action too; every: as seconds.
        let r = RuleSet::from_yaml("t.yaml", "default: {action: drop, summarize: {by: [a], every: 30}}\n").unwrap();
        assert!(r.has_summaries());
        assert!(r.explain().contains("summarize dropped records every 30s by [a]"), "{}", r.explain());
    }

    #[test]
    fn status_class_only_under_access_parsers() {
        // Under `json` alone, `log.status_class` is an ordinary JSON key.
        let r = RuleSet::from_yaml("t.yaml", "parse: {log: [json]}\ndefault: {action: drop, summarize: {by: [log.status_class]}}\n").unwrap();
        let mut d = r.decider();
        let mut s = r.summarizer();
        let rec = br#"{"log":"{\"status_class\":\"weird\",\"status\":200}"}"#;
        assert_eq!(d.decide(rec).summarize(&mut s, Timestamp::UNIX_EPOCH), Summarized::Counted);
        let out = s.flush(None);
        assert!(out[0].json.contains(r#""group":{"log.status_class":"weird"}"#), "{}", out[0].json);
        assert_eq!(out[0].start, Timestamp::UNIX_EPOCH, "no time: the fallback");
    }

    #[test]
    fn merge_adds_up_and_keeps_the_cap() {
        let rules = RuleSet::from_yaml("t.yaml", RULES).unwrap();
        let mut d = rules.decider();
        let (mut main, mut part) = (rules.summarizer(), rules.summarizer());
        let now = Timestamp::UNIX_EPOCH;
        for (i, ns) in ["a", "b", "c", "a"].iter().enumerate() {
            let r = line("2026-11-22T10:00:01Z", ns, 200, "GET");
            let mut decided = d.decide(r.as_bytes());
            decided.summarize(if i % 2 == 0 { &mut main } else { &mut part }, now);
        }
        main.merge(&part);
        assert_eq!(part.flush(None).iter().map(|o| o.records).sum::<u64>(), 2, "left as it was");
        let out = main.flush(None);
        let recs: Vec<u64> = out.iter().map(|o| o.records).collect();
        assert_eq!(recs, [2, 1, 1]);
        assert!(out[2].overflow);
    }
}
