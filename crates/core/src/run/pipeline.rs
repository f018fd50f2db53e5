//! [`Pipeline`]: what happens to a record after the rules decide it, written once for every front-end.
//!
//! For each record a front-end pushes, the pipeline decides it; a kept record is shaped (`trim:`, the
//! sample rate), encoded as an HEC event or a line, metered as Splunk's licence meter counts it, and
//! admitted by the daily byte budget or rolled back; a dropped one is counted in its rule's summary.
//! Summary events are flushed as their intervals end and go out the same way as kept events. Every
//! step is counted in one [`Counters`].
//!
//! It does no I/O: the front-end implements [`Sink`] — where events are written, the metadata of its
//! events, the budget's answer, what to do with each event once written — and drives the pipeline with
//! [`Pipeline::push`] and [`Pipeline::flush_summaries`]. The CLI writes events to a file, the Lambda into
//! Firehose response records, the forwarder into compressed HEC batches.
//!
//! Every record that is not sent — dropped by a rule, left out by sampling, shed by the budget, or
//! whose event would be blank — reaches [`Sink::not_sent`], with its decision and why: that is where an
//! archive of what is not sent plugs in.
//!
//! ```
//! use logtrim_core::run::pipeline::{Encoding, Options, Pipeline, Sink};
//! use logtrim_core::budget::Timestamp;
//! use logtrim_core::RuleSet;
//!
//! let rules = RuleSet::from_yaml("p.yaml", r#"
//! rules:
//!   - name: drop-debug
//!     when: level == "debug"
//!     action: drop
//!     summarize: {by: [app]}
//! "#)?;
//! /// Events one per line in a buffer.
//! struct Lines(Vec<u8>);
//! impl Sink for Lines {
//!     fn out(&mut self) -> &mut Vec<u8> { &mut self.0 }
//! }
//! let mut p = Pipeline::new(&rules, Options { encoding: Encoding::Lines, ..Options::default() });
//! let mut sink = Lines(Vec::new());
//! for line in [r#"{"time":"2026-11-22T10:00:05Z","level":"debug","app":"web"}"#,
//!              r#"{"time":"2026-11-22T10:00:09Z","level":"info","app":"web"}"#] {
//!     p.push(line, Timestamp::UNIX_EPOCH, &mut sink);
//! }
//! p.flush_summaries(None, &mut sink);
//! let out = String::from_utf8(sink.0)?;
//! assert!(out.starts_with(r#"{"time":"2026-11-22T10:00:09Z","level":"info","app":"web"}"#));
//! assert!(out.contains(r#""group":{"app":"web"},"records":1"#));
//! let c = p.counters().total();
//! assert_eq!((c.sent, c.dropped, c.summarized, c.summary_events), (1, 1, 1, 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use crate::budget::{metered_event_bytes, metered_record_bytes};
use crate::run::counters::Counters;
use crate::run::decider::{Decided, Decider};
use crate::record::json::raw::RawPaths;
use crate::run::hec::{EventValue, TimeWriter, field_value, json_string_prefix, push_without_newline};
use crate::primitives::{Action, Decision, Priority, RecordKind};
use crate::record::Record;
use crate::record::json::{Raw, escape_into, push_json_str};
use crate::rules::RuleSet;
use crate::run::summary::{Summarized, Summarizer, Summary};

/// How kept records and summary events are written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Each as it is sent, followed by a newline (`logtrim run`, the Lambda's raw output): a record's own
    /// bytes (trimmed), a summary's JSON.
    Lines,
    /// HEC events (see [`crate::run::hec`]).
    Hec(EventValue),
}

/// How a [`Pipeline`] works.
#[derive(Clone, Debug)]
pub struct Options {
    /// How events are written.
    pub encoding: Encoding,
    /// When set, summary intervals are flushed as soon as a summarized record's own time is this far
    /// past their end (a replay or a backlog would otherwise hold every interval it reads until the
    /// next [`Pipeline::flush_summaries`]).
    pub lateness: Option<SignedDuration>,
}

impl Default for Options {
    fn default() -> Options {
        Options { encoding: Encoding::Hec(EventValue::Record), lateness: None }
    }
}

/// Why a record is not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotSent {
    /// The rules dropped it: a `drop` rule, or a `sample` rule left it out.
    Dropped,
    /// The rules kept it, the daily byte budget shed it.
    Shed,
    /// The rules kept it, but nothing was left of its event (HEC refuses a blank event).
    Blank,
}

/// What became of a pushed record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Its event was written and admitted ([`Sink::sent`] has been told).
    Sent(Sent),
    /// It was not sent ([`Sink::not_sent`] has been told).
    NotSent(NotSent),
}

/// An event written to [`Sink::out`] and admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    /// Where it starts in the buffer; it ends at the buffer's end.
    pub start: usize,
    /// The bytes Splunk meters for it.
    pub metered: u64,
    /// Whether it is a summary event rather than a record.
    pub summary: bool,
}

/// The front-end's side of a [`Pipeline`]: where events go and what it knows that the core does not.
/// Only [`Sink::out`] is required.
pub trait Sink {
    /// The buffer events are appended to. The pipeline writes one event at its end, then calls
    /// [`Sink::sent`] (or truncates it back when the event is not sent).
    fn out(&mut self) -> &mut Vec<u8>;

    /// The time of a kept record's HEC event, in epoch milliseconds, if known. Only called for
    /// [`Encoding::Hec`], before [`Sink::meta`]. The default gives none (HEC's time of arrival applies).
    fn time(&mut self, record: Record<'_>) -> Option<i64> {
        let _ = record;
        None
    }

    /// [`Sink::time`], given the first value at each path of [`Pipeline::read_also`] in the record as
    /// deciding it found them (`None` when it did not read them: see [`Decided::also`]). The default
    /// calls [`Sink::time`].
    fn time_read(&mut self, record: Record<'_>, also: Option<&[Option<Raw>]>) -> Option<i64> {
        let _ = also;
        self.time(record)
    }

    /// Appends the HEC metadata members of a kept record's event to [`Sink::out`], each followed by a
    /// comma (`"host":"…","source":"…",`). Only called for [`Encoding::Hec`], after [`Sink::time`]. The
    /// default writes none (the token's defaults apply): override it to say where records come from.
    fn meta(&mut self, record: Record<'_>) {
        let _ = record;
    }

    /// Appends the HEC metadata members of a summary event, each followed by a comma. The default is
    /// `"source":"logtrim","sourcetype":"logtrim:summary",`; override it to add a host or an index.
    fn summary_meta(&mut self, summary: &Summary) {
        let _ = summary;
        self.out().extend_from_slice(br#""source":"logtrim","sourcetype":"logtrim:summary","#);
    }

    /// Whether the daily byte budget lets an event of `priority` and `metered` bytes be sent. The
    /// default admits everything (no budget).
    fn admit(&mut self, priority: Priority, metered: u64) -> bool {
        let _ = (priority, metered);
        true
    }

    /// An event now ends [`Sink::out`]: move it on (write it, batch it). The default leaves it there.
    fn sent(&mut self, event: Sent) {
        let _ = event;
    }

    /// A record that is not sent, with the decision the rules made and why. The default forgets it;
    /// an archive of what is not sent overrides it.
    fn not_sent(&mut self, record: Record<'_>, decision: Decision, why: NotSent) {
        let _ = (record, decision, why);
    }

    /// [`Sink::not_sent`], with what deciding the record read of it, for an archive to read its fields
    /// from ([`crate::archive::Archive::add_seen`]) rather than read the record again. The pipeline
    /// calls this one; the default calls [`Sink::not_sent`].
    fn not_sent_seen(&mut self, record: Record<'_>, decision: Decision, why: NotSent, seen: &mut Seen<'_, '_, '_>) {
        let _ = seen;
        self.not_sent(record, decision, why);
    }
}

/// What deciding a record read of it (the decider's view), handed to [`Sink::not_sent_seen`] for the
/// archive: its fields, when the pipeline decides with the archive's plan
/// ([`Pipeline::read_for_archive`]), are read there at no cost when the rules read them already.
pub struct Seen<'a, 'd, 'r>(pub(crate) &'a mut Decided<'d, 'r>);

/// The counts and summaries of a group of records whose fate is settled together
/// ([`Pipeline::begin_unit`]).
///
/// PERF: boxed, so that a front-end holding one per record moves a pointer, not the counters and the
/// summarizer; units are recycled ([`Pipeline::recycle_unit`]), so the box is not allocated per record.
#[derive(Debug)]
pub struct Unit(Box<UnitParts>);

#[derive(Debug)]
struct UnitParts {
    counters: Counters,
    summarizer: Summarizer,
}

/// Runs records through a rule set to their events. One per thread or task.
pub struct Pipeline {
    decider: Decider,
    summarizer: Summarizer,
    /// Whether any rule summarizes: else dropped records skip the summarizer.
    summarize: bool,
    writer: Writer,
    lateness_ms: Option<i64>,
    /// A unit's outer counts and summaries while it runs.
    outer: Option<Unit>,
    /// Units given back ([`Pipeline::recycle_unit`]), emptied, their buffers kept for the next ones.
    spare_units: Vec<Unit>,
    /// The paths of [`Pipeline::read_also`], for a decider made later ([`Pipeline::read_for_archive`]).
    also: Vec<Vec<String>>,
}

/// How events are written, and the buffers writing them reuses.
struct Writer {
    encoding: Encoding,
    /// The path of an [`EventValue::Field`] event, compiled.
    field: RawPaths,
    time: TimeWriter,
    /// `{"log":…}` of a message sent alone, or the record a field is read from.
    scratch: Vec<u8>,
}

impl Pipeline {
    /// A pipeline for `rules`, with empty counters.
    pub fn new(rules: &RuleSet, options: Options) -> Pipeline {
        let decider = rules.decider();
        let summarizer = rules.summarizer();
        Pipeline {
            summarize: summarizer.is_active(),
            decider,
            summarizer,
            writer: Writer {
                field: match &options.encoding {
                    Encoding::Hec(EventValue::Field(path)) => RawPaths::new(std::slice::from_ref(path)),
                    _ => RawPaths::default(),
                },
                encoding: options.encoding,
                time: TimeWriter::default(),
                scratch: Vec::new(),
            },
            lateness_ms: options.lateness.map(|l| i64::try_from(l.as_millis()).unwrap_or(i64::MAX).max(0)),
            outer: None,
            spare_units: Vec::new(),
            also: Vec::new(),
        }
    }

    /// Decides `record` and carries the decision out: a kept record's event is written to the sink (or
    /// not, when the budget sheds it or it would be blank); a dropped record is counted in its rule's
    /// summary. `fallback` is the time a dropped record without one of its own is summarized at.
    /// Returns the decision and what became of the record.
    #[inline]
    pub fn push<'r, S: Sink>(&mut self, record: impl Into<Record<'r>>, fallback: Timestamp, sink: &mut S) -> (Decision, Outcome) {
        let mut d = self.decider.decide(record);
        let decision = d.decision();
        if decision.action == Action::Keep {
            return (decision, kept(&mut d, &mut self.writer, sink));
        }
        let record = d.record();
        let due = self.summarize && {
            let bytes = d.bytes();
            let summarized = d.summarize(&mut self.summarizer, fallback);
            let c = d.counters().at(decision.rule);
            match summarized {
                Summarized::No => false,
                s => {
                    c.summarized += 1;
                    c.summarized_bytes += bytes;
                    c.summary_overflow += u64::from(s == Summarized::Overflow);
                    true
                }
            }
        };
        sink.not_sent_seen(record, decision, NotSent::Dropped, &mut Seen(&mut d));
        if due && let Some(lateness) = self.lateness_ms {
            self.flush_late(lateness, sink);
        }
        (decision, Outcome::NotSent(NotSent::Dropped))
    }

    /// Flushes the intervals the summarized records' own time has moved `lateness` past.
    fn flush_late<S: Sink>(&mut self, lateness: i64, sink: &mut S) {
        // PERF: once per summarized record, so in milliseconds rather than timestamps. Intervals end on
        // whole milliseconds.
        if let (Some(due), Some(last)) = (self.summarizer.next_due_ms(), self.summarizer.last_record_ms())
            && due <= last.saturating_sub(lateness)
            && let Ok(until) = Timestamp::from_millisecond(last.saturating_sub(lateness))
        {
            self.flush_summaries(Some(until), sink);
        }
    }

    /// Writes the summary events of the intervals that end at or before `until` (every open interval
    /// with `None`), each admitted by the budget at its rule's summary priority like a kept record.
    pub fn flush_summaries<S: Sink>(&mut self, until: Option<Timestamp>, sink: &mut S) {
        if self.summarizer.is_empty() {
            return;
        }
        for s in self.summarizer.flush(until) {
            self.send_summary(&s, sink);
        }
    }

    /// Writes one summary event, admitted by the budget and counted as [`Pipeline::flush_summaries`]
    /// does.
    pub fn send_summary<S: Sink>(&mut self, s: &Summary, sink: &mut S) {
        let start = self.write_summary(s, sink);
        let metered = s.metered_bytes();
        let c = self.decider.counters_mut().at(s.rule);
        if sink.admit(s.priority, metered) {
            c.summary_events += 1;
            c.summary_bytes += metered;
            sink.sent(Sent { start, metered, summary: true });
        } else {
            c.summaries_shed += 1;
            sink.out().truncate(start);
        }
    }

    /// Appends one summary event to the sink's buffer as it would be sent, without asking the budget or
    /// counting it (to see how much room summaries take); returns where it starts.
    pub fn write_summary<S: Sink>(&mut self, s: &Summary, sink: &mut S) -> usize {
        let start = sink.out().len();
        match &self.writer.encoding {
            Encoding::Lines => {
                let out = sink.out();
                out.extend_from_slice(s.json.as_bytes());
                out.push(b'\n');
            }
            Encoding::Hec(_) => {
                let out = sink.out();
                out.push(b'{');
                self.writer.time.push(out, s.start.as_millisecond());
                sink.summary_meta(s);
                let out = sink.out();
                out.extend_from_slice(b"\"event\":");
                out.extend_from_slice(s.json.as_bytes());
                out.push(b'}');
            }
        }
        start
    }

    /// The summary events of `units` alone, as flushing them would make them, without flushing anything
    /// this pipeline counted.
    pub fn summaries_of<'u>(&self, units: impl IntoIterator<Item = &'u Unit>) -> Vec<Summary> {
        let mut all = self.summarizer.fresh();
        for u in units {
            all.merge(&u.0.summarizer);
        }
        all.flush(None)
    }

    /// The end of the earliest open summary interval, in epoch milliseconds: nothing is due before it.
    pub fn next_summary_due_ms(&self) -> Option<i64> {
        self.summarizer.next_due_ms()
    }

    /// The time of the last summarized record that had one of its own.
    pub fn last_summarized_time(&self) -> Option<Timestamp> {
        self.summarizer.last_record_time()
    }

    /// Whether no summary interval is open.
    pub fn summaries_empty(&self) -> bool {
        self.summarizer.is_empty()
    }

    /// Counters since creation or the last [`Pipeline::take_counters`].
    pub fn counters(&self) -> &Counters {
        self.decider.counters()
    }

    /// Returns the counters and starts new ones (for periodic publishing).
    pub fn take_counters(&mut self) -> Counters {
        self.decider.take_counters()
    }

    /// Counts the records pushed from now on, and their summaries, apart, until [`Pipeline::end_unit`]:
    /// for a front-end that learns only later whether a group of records is final (the Lambda: a
    /// Firehose record that does not fit in the response is re-ingested and comes back). Units do not
    /// nest; events are written to the sink as usual.
    pub fn begin_unit(&mut self) {
        debug_assert!(self.outer.is_none(), "units do not nest");
        let fresh = self.empty_unit();
        self.outer = Some(self.swap_unit(fresh));
    }

    /// Summary events from now on carry where the records they count are archived: an `archive`
    /// member, `<url>/dt=…/hour=…/`, the hour partition of the interval (each source's objects are in a
    /// folder below it), for the rules whose dropped records `archive` keeps. `url` is the archive's
    /// location as the front-end names it (`s3://bucket/prefix`, a directory).
    pub fn archive_summaries_at(&mut self, archive: &crate::archive::Archive, url: &str) {
        let by_summary = self.summarizer.summary_rules().into_iter().map(|rule| archive.keeps_drops_of(rule)).collect();
        self.summarizer.set_archived(crate::run::summary::ArchivedAt { url: url.trim_end_matches('/').to_string(), by_summary });
    }

    /// Reads `paths` of every JSON record in the scan that decides it, for [`Sink::time_read`] (see
    /// [`Decider::read_also`]).
    pub fn read_also(&mut self, paths: &[Vec<String>]) {
        self.decider.read_also(paths);
        self.also = paths.to_vec();
    }

    /// Decides with `archive`'s plan from now on: the rule set's, reading the archive's fields too, so
    /// that the archive reads them from what deciding read ([`Sink::not_sent_seen`]) — a request id
    /// from the access log the rules parsed — instead of reading the record again. Decisions, events
    /// and counts are the same. For a front-end that archives what is not sent through
    /// [`crate::archive::Archive::add_seen`].
    ///
    /// Called before the first record (it does nothing once summaries or a unit are open: their
    /// counts belong to the plan they were made with).
    pub fn read_for_archive(&mut self, archive: &crate::archive::Archive) {
        let Some(plan) = archive.reading_plan() else { return };
        if Arc::ptr_eq(self.decider.plan(), plan) || !self.summarizer.is_empty() || self.outer.is_some() {
            return;
        }
        debug_assert_eq!(plan.rules.len(), self.decider.plan().rules.len(), "the archive's plan is the rule set's");
        let counters = self.decider.take_counters();
        self.decider = Decider::new(Arc::clone(plan));
        *self.decider.counters_mut() = counters;
        if !self.also.is_empty() {
            self.decider.read_also(&self.also);
        }
        // Summaries read the record through the decider: the same plan for both.
        self.summarizer = self.summarizer.on_plan(Arc::clone(plan));
        self.spare_units.clear();
    }

    /// Whether any rule summarizes.
    pub fn summarizes(&self) -> bool {
        self.summarize
    }

    /// A unit with nothing in it (for a group of records that had none to push): a recycled one when
    /// there is one.
    pub fn empty_unit(&mut self) -> Unit {
        match self.spare_units.pop() {
            Some(u) => u,
            None => Unit(Box::new(UnitParts { counters: Counters::new(self.decider.plan().rules.len()), summarizer: self.summarizer.fresh() })),
        }
    }

    /// Adds the summaries of `unit` to those of `into` (as [`Pipeline::summaries_of`] would merge them,
    /// in this order) and recycles it: for a front-end holding the summaries of many final units until
    /// it flushes them, one unit instead of many.
    pub fn merge_unit(&mut self, into: &mut Unit, unit: Unit) {
        into.0.summarizer.merge(&unit.0.summarizer);
        self.recycle_unit(unit);
    }

    /// Takes back a unit that is done with (committed or forgotten), emptied, so that the next
    /// [`Pipeline::begin_unit`] reuses its buffers: a front-end making a unit per small group of records
    /// (the Lambda: one per Firehose record) then allocates nothing per group once warm.
    pub fn recycle_unit(&mut self, mut unit: Unit) {
        // PERF: a summarizer's windows hold maps; a bounded pool keeps them without growing forever.
        const MAX_SPARE_UNITS: usize = 4096;
        if self.spare_units.len() < MAX_SPARE_UNITS {
            unit.0.counters.reset();
            unit.0.summarizer.reset();
            self.spare_units.push(unit);
        }
    }

    /// Ends the unit [`Pipeline::begin_unit`] began and returns its counts, for [`Pipeline::commit`] once
    /// it is final (or to be forgotten).
    pub fn end_unit(&mut self) -> Unit {
        match self.outer.take() {
            Some(outer) => self.swap_unit(outer),
            None => self.empty_unit(),
        }
    }

    /// Adds a finished unit's counts and summaries.
    pub fn commit(&mut self, unit: &Unit) {
        self.commit_counters(unit);
        self.commit_summaries(unit);
    }

    /// Adds a finished unit's counts (its records are settled, whether or not its summaries are final).
    pub fn commit_counters(&mut self, unit: &Unit) {
        self.decider.counters_mut().add_touched(&unit.0.counters);
    }

    /// Adds a finished unit's summaries, to be flushed with the others.
    pub fn commit_summaries(&mut self, unit: &Unit) {
        self.summarizer.merge(&unit.0.summarizer);
    }

    fn swap_unit(&mut self, mut u: Unit) -> Unit {
        std::mem::swap(self.decider.counters_mut(), &mut u.0.counters);
        std::mem::swap(&mut self.summarizer, &mut u.0.summarizer);
        u
    }
}

impl Unit {
    /// The unit's counts.
    pub fn counters(&self) -> &Counters {
        &self.0.counters
    }

    /// Whether its records left anything to summarize.
    pub fn has_summaries(&self) -> bool {
        !self.0.summarizer.is_empty()
    }
}

/// Writes the event of a kept record, meters it, and sends it or rolls it back.
#[inline]
fn kept<S: Sink>(d: &mut Decided<'_, '_>, w: &mut Writer, sink: &mut S) -> Outcome {
    let decision = d.decision();
    let record = d.record();
    let start = sink.out().len();
    let metered = match &w.encoding {
        Encoding::Lines => {
            let out = sink.out();
            let at = out.len();
            d.write_kept(out);
            let metered = metered_record_bytes(&out[at..]);
            out.push(b'\n');
            Some(Metered::bytes(metered))
        }
        Encoding::Hec(value) => {
            // The time first: the members after it repeat from event to event, which gzip finds as
            // one run.
            let ms = sink.time_read(record, d.also());
            let out = sink.out();
            out.push(b'{');
            if let Some(ms) = ms {
                w.time.push(out, ms);
            }
            sink.meta(record);
            let out = sink.out();
            out.extend_from_slice(b"\"event\":");
            let metered = match value {
                EventValue::Record => record_value(d, out),
                EventValue::Field(path) => field(d, path, &w.field, out, &mut w.scratch),
            };
            out.push(b'}');
            metered
        }
    };
    let Some(Metered { bytes: metered, replaced_utf8 }) = metered else {
        sink.out().truncate(start);
        d.counters().at(decision.rule).blank += 1;
        sink.not_sent_seen(record, decision, NotSent::Blank, &mut Seen(&mut *d));
        return Outcome::NotSent(NotSent::Blank);
    };
    if !sink.admit(decision.priority, metered) {
        sink.out().truncate(start);
        let c = d.counters().at(decision.rule);
        c.shed += 1;
        c.shed_bytes += metered;
        sink.not_sent_seen(record, decision, NotSent::Shed, &mut Seen(&mut *d));
        return Outcome::NotSent(NotSent::Shed);
    }
    let counters = d.counters();
    counters.invalid_utf8 += u64::from(replaced_utf8);
    let c = counters.at(decision.rule);
    c.sent += 1;
    c.metered_bytes += metered;
    let sent = Sent { start, metered, summary: false };
    sink.sent(sent);
    Outcome::Sent(sent)
}

/// What Splunk meters for an event value, and whether invalid UTF-8 in it was replaced.
#[derive(Clone, Copy)]
struct Metered {
    bytes: u64,
    replaced_utf8: bool,
}

impl Metered {
    fn bytes(bytes: u64) -> Metered {
        Metered { bytes, replaced_utf8: false }
    }
}

/// Appends the record as sent as an HEC event value: a JSON object as it is, text as a string. Returns
/// the metered bytes, or `None` for a blank event.
fn record_value(d: &mut Decided<'_, '_>, out: &mut Vec<u8>) -> Option<Metered> {
    let at = out.len();
    if let Record::Parts(_) = d.record() {
        d.write_kept(out);
        return Some(Metered::bytes((out.len() - at) as u64));
    }
    let json = matches!(d.record(), Record::Line(_)) && d.kind() == RecordKind::Json;
    let (bytes, _) = d.sent();
    if json {
        // An object is sent as its text without the whitespace around it, which Splunk does not meter.
        let b = bytes.trim_ascii();
        out.extend_from_slice(b);
        return Some(Metered::bytes(b.len() as u64));
    }
    text_value(bytes, out)
}

/// Appends `text` as a JSON string; `None` (and nothing appended) when it is empty.
fn text_value(text: &[u8], out: &mut Vec<u8>) -> Option<Metered> {
    if text.is_empty() {
        return None;
    }
    let at = out.len();
    if push_json_str(out, text) {
        // Invalid UTF-8 was replaced: the meter counts the replacement characters.
        return Some(Metered { bytes: metered_event_bytes(&out[at..]), replaced_utf8: true });
    }
    Some(Metered::bytes(text.len() as u64))
}

/// Appends one field of the record as sent as the event value (see [`EventValue::Field`]).
fn field(d: &mut Decided<'_, '_>, path: &[String], paths: &RawPaths, out: &mut Vec<u8>, message: &mut Vec<u8>) -> Option<Metered> {
    let is_log = path.len() == 1 && path[0] == "log";
    match d.record() {
        // A container line's message, trimmed as the record the rules see it in: of `trim:`, only a
        // truncation of `log` applies to it (the other members are not `log`, and the sample rate is
        // added beside it).
        Record::Parts(p) if is_log => {
            message.clear();
            message.extend_from_slice(b"{\"log\":\"");
            escape_into(message, p.log.as_bytes());
            message.extend_from_slice(b"\"}");
            let (bytes, _) = d.trim_other(message);
            // `log` itself removed by `trim:`: nothing is left to send.
            let s = bytes.strip_prefix(b"{\"log\":").and_then(json_string_prefix)?;
            string_value(s, out)
        }
        Record::Parts(_) => {
            message.clear();
            d.write_kept(message);
            match field_value(message, paths) {
                Some(v) if v.first() == Some(&b'"') => string_value(v, out),
                Some(v) => {
                    out.extend_from_slice(v);
                    Some(Metered::bytes(v.len() as u64))
                }
                None => {
                    out.extend_from_slice(message);
                    Some(Metered::bytes(message.len() as u64))
                }
            }
        }
        Record::Line(_) | Record::Event { .. } => {
            let line = matches!(d.record(), Record::Line(_));
            let line_json = line && d.kind() == RecordKind::Json;
            let (bytes, _) = d.sent();
            // A message is sent as a string unless it is a JSON object, whose field is asked for.
            let json = if line { line_json } else { bytes.trim_ascii().first() == Some(&b'{') };
            if !json {
                // A text line is the record `{"log": <line>}`: its `log` is the line, anything else is
                // missing, so the record (the line) is sent.
                return text_value(bytes, out);
            }
            match field_value(bytes, paths) {
                Some(v) if v.first() == Some(&b'"') => string_value(v, out),
                Some(v) => {
                    out.extend_from_slice(v);
                    Some(Metered::bytes(v.len() as u64))
                }
                None if line => {
                    let b = bytes.trim_ascii();
                    out.extend_from_slice(b);
                    Some(Metered::bytes(b.len() as u64))
                }
                None => text_value(bytes, out),
            }
        }
    }
}

/// Appends a JSON string value as written, without one trailing newline; `None` when it is empty.
fn string_value(s: &[u8], out: &mut Vec<u8>) -> Option<Metered> {
    let at = out.len();
    push_without_newline(s, out);
    if out.len() - at == 2 {
        out.truncate(at);
        return None;
    }
    Some(Metered::bytes(metered_event_bytes(&out[at..])))
}
