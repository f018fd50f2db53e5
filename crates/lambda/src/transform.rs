//! The handler's logic as a pure function: Firehose records + a [`Decider`] → one response record per
//! input record, plus the overflow to re-ingest.
//!
//! # Guarantees
//!
//! - Every input record gets exactly one response record, in input order, with its `recordId`.
//! - `Ok` carries the surviving events (HEC JSON, or the original record bytes one per line);
//!   `Dropped` means nothing survived (or a CONTROL_MESSAGE, or the record was re-ingested);
//!   `ProcessingFailed` means the data could not be decoded and carries the original base64 text
//!   unchanged. An error is never a silent drop: a record with one bad JSON line fails as a whole,
//!   whatever the rules would have said about that line. A line that is not UTF-8 is not bad JSON but
//!   text, as the rules read it: kept, it is sent as a text event with each invalid sequence replaced by
//!   U+FFFD (HEC output) or as its bytes (original output), and counted.
//! - The serialized response never exceeds [`Settings::response_limit`]. The size is computed
//!   exactly (see [`ResponseRecord::serialized_len`]): first the room every record needs in any case
//!   (a `Dropped` entry, or a failed record with its original data), then `Ok` records in input order
//!   while they fit. An `Ok` record that does not fit is re-ingested and answered `Dropped`: as its
//!   original bytes when its output is at most [`Settings::chunk_limit`], otherwise split into chunks
//!   of whole lines or log events whose output is at most that, in the original framing and
//!   compression. Re-ingested data is transformed again by a later invocation with the same rules,
//!   and decisions are functions of record content only, so it yields the same events.
//! - When re-ingestion is impossible (the stream reads from a Kinesis data stream) an overflowing
//!   record is answered `ProcessingFailed` with empty data: Firehose writes its own copy of the
//!   record to the `processing-failed` S3 prefix.
//! - Memory is bounded: records are decoded one at a time and each one's payload is released once its
//!   output is known; a record's output is kept only while it could still fit in the response (past
//!   that it is measured but not kept), and the outputs held for the response stay within the response
//!   limit. A record whose output cannot be held is queued for re-ingestion as soon as it is known, as
//!   an overflowing record is (see above). So an invocation holds the request, one decoded record (at
//!   most [`Settings::max_decompressed`]), about a response's worth of output, and the re-ingested data.
//! - Kept events are trimmed (`trim:`, `sample_rate_field:`) before they are encoded and metered; the
//!   HEC metadata is still read from the event as it came.
//! - Summaries (`summarize:`) count the dropped events of the records whose answer is final in this
//!   invocation (`Ok`, or `Dropped` without re-ingestion): a failed record counts nothing, a
//!   re-ingested one counts when it comes back. They are flushed at the end of every invocation and
//!   appended to the data of the first record answered `Ok` or, when none is, of the first record
//!   answered `Dropped`, which is then answered `Ok`. Room for them is reserved before `Ok` records are
//!   fitted, so the response limit holds with them; they are admitted by the budget like kept events.

use logtrim_core::budget::{Timestamp, metered_record_bytes};
use logtrim_core::{Action, Decider, Decision, Priority, RuleCounters, RuleId, Summarizer, Summary};

use crate::decode::{
    self, Compression, Decoded, Payload, base64_len, cloudwatch_record, decode_base64, encode_base64,
};
use crate::event::{FirehoseRecord, FirehoseResponse, FirehoseResult, ResponseRecord};
use crate::hec::{Fallbacks, Input, Mapping};

/// What an `Ok` record carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Output {
    /// HEC event JSON objects, stacked (Firehose Splunk destination, endpoint type `Event`).
    #[default]
    Hec,
    /// The kept records' bytes (a CloudWatch event's message), each followed by `\n` (endpoint type
    /// `Raw`).
    Original,
}

/// How [`transform`] behaves.
#[derive(Clone, Debug)]
pub struct Settings {
    /// What `Ok` records carry.
    pub output: Output,
    /// The HEC mapping.
    pub mapping: Mapping,
    /// Response size cap in bytes, everything included.
    pub response_limit: usize,
    /// Largest serialized `Ok` entry re-ingested whole; larger ones are split into chunks this size.
    pub chunk_limit: usize,
    /// Per-record decompressed size cap.
    pub max_decompressed: usize,
    /// Whether overflow can be re-ingested (false for a Kinesis data stream source).
    pub can_reingest: bool,
}

/// The largest response Lambda returns (its payload limit).
pub const MAX_RESPONSE_LIMIT: usize = 6_291_456;

/// The smallest response cap that answers every request Firehose sends. Every record is answered, with or
/// without data, and an answer without data (`{"recordId":…,"result":"ProcessingFailed","data":""}`)
/// is shorter than the record's entry in the request (`{"recordId":…,"approximateArrivalTimestamp":…,
/// "data":…}`): the answers alone can take nearly as many bytes as the request, and requests reach
/// Lambda's payload limit.
pub const MIN_RESPONSE_LIMIT: usize = 6_000_000;

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            output: Output::Hec,
            mapping: Mapping::new(&Default::default()).expect("the default mapping compiles"),
            response_limit: MIN_RESPONSE_LIMIT,
            chunk_limit: 1 << 20,
            max_decompressed: decode::MAX_DECOMPRESSED,
            can_reingest: true,
        }
    }
}

/// Per-rule counts of log events (lines or CloudWatch events) of records that were not failed.
/// Bytes are the event's own bytes (line, or CloudWatch message).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// By rule position; shorter than the rule set when later rules never matched.
    pub rules: Vec<RuleCounters>,
    /// The default action.
    pub default: RuleCounters,
}

impl Tally {
    fn add(&mut self, d: Decision, bytes: u64, trimmed: u64, added: u64) {
        let c = match d.rule.index() {
            Some(i) => {
                if self.rules.len() <= i {
                    self.rules.resize(i + 1, RuleCounters::default());
                }
                &mut self.rules[i]
            }
            None => &mut self.default,
        };
        c.matched += 1;
        c.matched_bytes += bytes;
        c.trimmed_bytes += trimmed;
        c.added_bytes += added;
        match d.action {
            Action::Keep => {
                c.kept += 1;
                c.kept_bytes += bytes;
            }
            Action::Drop => {
                c.dropped += 1;
                c.dropped_bytes += bytes;
            }
        }
    }

    /// Adds `other` to these counts and zeroes it, keeping its allocation for the next record.
    fn absorb(&mut self, other: &mut Tally) {
        if self.rules.len() < other.rules.len() {
            self.rules.resize(other.rules.len(), RuleCounters::default());
        }
        for (c, o) in self.rules.iter_mut().zip(&mut other.rules) {
            *c += std::mem::take(o);
        }
        self.default += std::mem::take(&mut other.default);
    }

    /// Zeroes the counts, keeping the allocation.
    fn clear(&mut self) {
        self.rules.iter_mut().for_each(|c| *c = RuleCounters::default());
        self.default = RuleCounters::default();
    }

    /// One rule's counts.
    pub fn get(&self, rule: RuleId) -> RuleCounters {
        match rule.index() {
            Some(i) => self.rules.get(i).copied().unwrap_or_default(),
            None => self.default,
        }
    }

    /// The sum over all rules.
    pub fn total(&self) -> RuleCounters {
        let mut t = self.default;
        for c in &self.rules {
            t += *c;
        }
        t
    }
}

/// Counts for one invocation (the EMF line).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Firehose records in.
    pub records_in: u64,
    /// Their bytes after base64 decoding (still compressed).
    pub bytes_in: u64,
    /// Records answered `Ok`.
    pub records_ok: u64,
    /// Records answered `Dropped` (including re-ingested ones).
    pub records_dropped: u64,
    /// Records answered `ProcessingFailed`.
    pub records_failed: u64,
    /// Their bytes after base64 decoding (0 when the base64 itself was bad).
    pub bytes_failed: u64,
    /// Records re-ingested (answered `Dropped`).
    pub records_reingested: u64,
    /// Records that overflowed and could not be re-ingested (answered `ProcessingFailed`).
    pub records_overflow_failed: u64,
    /// Bytes of `Ok` data before base64.
    pub bytes_out: u64,
    /// Serialized response size.
    pub response_bytes: u64,
    /// Events the rules kept but the daily byte budget shed.
    pub events_shed: u64,
    /// Their metered bytes.
    pub event_bytes_shed: u64,
    /// Metered bytes of the events sent (the budget's view of `Ok` data).
    pub event_bytes_metered: u64,
    /// Summary events sent (appended to one `Ok` record's data).
    pub summary_events: u64,
    /// Their bytes, before base64.
    pub summary_bytes: u64,
    /// Kept events whose line was not UTF-8, sent as text with each invalid sequence replaced by U+FFFD
    /// (HEC output; the original output sends the bytes as they came), in records that did not fail.
    pub events_invalid_utf8: u64,
}

/// Asks the daily byte budget whether an event the rules keep, of this priority and metered size, may
/// be sent ([`transform_with`]). Always yes without a budget.
pub type Admit<'a> = dyn FnMut(Priority, u64) -> bool + 'a;

/// The result of [`transform`].
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// The response, one record per input record.
    pub response: FirehoseResponse,
    /// Data to PutRecordBatch before the response may be returned.
    pub reingest: Vec<Vec<u8>>,
    /// Counts.
    pub stats: Stats,
    /// Per-rule counts.
    pub tally: Tally,
}

enum Work {
    Failed(String),
    Dropped,
    /// Kept events held for the response, and how the record splits should they not fit after all.
    Ok { out: Vec<u8>, groups: Groups },
    /// Kept events that could not be held: the record is already queued for re-ingestion (or, when
    /// that is impossible, answered `ProcessingFailed`).
    Overflow,
}

/// Transforms one invocation's records. See the module docs for the guarantees.
pub fn transform(records: &[FirehoseRecord], decider: &mut Decider, s: &Settings) -> Outcome {
    transform_with(records, decider, s, &mut |_, _| true)
}

/// [`transform`], with every kept event admitted by `admit` (the daily byte budget) once encoded; an
/// event it refuses is left out, as if dropped, and counted in [`Stats::events_shed`].
///
/// An admitted event whose record later fails (another line of it is not JSON), or is re-ingested,
/// has been counted by the budget without being sent now: the budget errs on the side of spending less.
pub fn transform_with(records: &[FirehoseRecord], decider: &mut Decider, s: &Settings, admit: &mut Admit<'_>) -> Outcome {
    let mut o = Outcome::default();
    o.stats.records_in = records.len() as u64;
    let mut scratch = Vec::new();
    let mut tally = Tally::default();
    // Each record's summaries apart, merged once its answer is final.
    let summarize = decider.summarizer().is_active();
    let mut staged: Vec<Option<Summarizer>> = Vec::with_capacity(records.len());

    let ok_fallback = if s.can_reingest { FirehoseResult::Dropped } else { FirehoseResult::ProcessingFailed };
    let envelope = r#"{"records":[]}"#.len() + records.len().saturating_sub(1);
    let fallback_entry = |r: &FirehoseRecord| ResponseRecord::serialized_len(&r.record_id, ok_fallback, 0);
    let ok_entry = |r: &FirehoseRecord, n: usize| ResponseRecord::serialized_len(&r.record_id, FirehoseResult::Ok, base64_len(n));
    // Outputs are held for the response only while they could fit in it, counting the answers every
    // record needs: the rest is re-ingested as soon as it is known, so memory holds one decoded record
    // and at most a response's worth of output.
    let mut held = envelope + records.iter().map(fallback_entry).sum::<usize>();
    let work: Vec<Work> = records
        .iter()
        .map(|r| {
            let mut st = None;
            let room = (s.response_limit + fallback_entry(r)).saturating_sub(held + ok_entry(r, 0));
            let w = process(r, decider, s, Ctx { scratch: &mut scratch, tally: &mut tally, room }, &mut o, admit, summarize.then_some(&mut st));
            match &w {
                Work::Failed(reason) => {
                    tracing::warn!(record_id = %r.record_id, reason = %reason, "Record failed.");
                    st = None;
                }
                Work::Ok { out, .. } => held = held + ok_entry(r, out.len()) - fallback_entry(r),
                Work::Dropped | Work::Overflow => {}
            }
            staged.push(st);
            w
        })
        .collect();

    // Room every record needs whatever happens.
    let mandatory = |failed_data: bool| -> usize {
        envelope
            + records
                .iter()
                .zip(&work)
                .map(|(r, w)| match w {
                    Work::Failed(_) if failed_data => ResponseRecord::serialized_len_with(&r.record_id, FirehoseResult::ProcessingFailed, &r.data),
                    Work::Failed(_) => ResponseRecord::serialized_len(&r.record_id, FirehoseResult::ProcessingFailed, 0),
                    Work::Dropped => ResponseRecord::serialized_len(&r.record_id, FirehoseResult::Dropped, 0),
                    Work::Ok { .. } | Work::Overflow => fallback_entry(r),
                })
                .sum::<usize>()
    };
    let mut failed_data = true;
    let mut used = mandatory(true);
    if used > s.response_limit {
        // Firehose keeps its own copy of failed records' data, so answer them with empty data rather
        // than exceed the limit.
        tracing::warn!(needed = used, limit = s.response_limit, "Failed records answered without their data to fit the response.");
        failed_data = false;
        used = mandatory(false);
        if used > s.response_limit {
            // Every record must be answered; these answers are smaller than the request Lambda accepted.
            tracing::error!(needed = used, limit = s.response_limit, "The answers every record needs exceed the response limit.");
        }
    }

    // Which `Ok` records fit, in input order, with `reserve` bytes kept for the summary events. `room`
    // already counts each record's fallback entry, which its `Ok` entry replaces.
    let fit = |reserve: usize| -> Vec<bool> {
        let mut room = used + reserve;
        records
            .iter()
            .zip(&work)
            .map(|(r, w)| match w {
                Work::Ok { out, .. } if room + ok_entry(r, out.len()) <= s.response_limit + fallback_entry(r) => {
                    room = room + ok_entry(r, out.len()) - fallback_entry(r);
                    true
                }
                _ => false,
            })
            .collect()
    };
    let mut fits = fit(0);
    let summary_data = if staged.iter().any(Option::is_some) {
        let (f, events) = summaries(records, &work, &staged, decider, s, &fit, fits);
        fits = f;
        encode_summaries(&events, s, admit, &mut o)
    } else {
        Vec::new()
    };
    // The record that carries the summaries: the first answered `Ok`, else the first answered `Dropped`.
    let carrier = if summary_data.is_empty() {
        None
    } else {
        fits.iter().position(|f| *f).or_else(|| {
            // No `Ok` record: the first `Dropped` one (re-ingested `Ok` records are answered `Dropped`).
            work.iter().position(|w| match w {
                Work::Dropped => true,
                Work::Ok { .. } | Work::Overflow => s.can_reingest,
                Work::Failed(_) => false,
            })
        })
    };

    for (i, (r, w)) in records.iter().zip(work).enumerate() {
        let rec = |result, data| ResponseRecord { record_id: r.record_id.clone(), result, data };
        let carries = carrier == Some(i);
        let answer = match w {
            Work::Failed(_) => {
                o.stats.records_failed += 1;
                rec(FirehoseResult::ProcessingFailed, if failed_data { r.data.clone() } else { String::new() })
            }
            Work::Dropped if carries => {
                used = used + ok_entry(r, summary_data.len()) - ResponseRecord::serialized_len(&r.record_id, FirehoseResult::Dropped, 0);
                o.stats.records_ok += 1;
                o.stats.bytes_out += summary_data.len() as u64;
                rec(FirehoseResult::Ok, encode_base64(&summary_data))
            }
            Work::Dropped => {
                o.stats.records_dropped += 1;
                rec(FirehoseResult::Dropped, String::new())
            }
            Work::Ok { mut out, .. } if fits[i] => {
                if carries {
                    out.extend_from_slice(&summary_data);
                }
                used = used + ok_entry(r, out.len()) - fallback_entry(r);
                o.stats.records_ok += 1;
                o.stats.bytes_out += out.len() as u64;
                rec(FirehoseResult::Ok, encode_base64(&out))
            }
            Work::Ok { .. } | Work::Overflow if s.can_reingest => {
                if let Work::Ok { out, groups } = &w {
                    queue_reingest(r, None, groups, out.len(), s, &mut o.reingest);
                }
                o.stats.records_reingested += 1;
                if carries {
                    // Its events go back through Firehose; its answer carries the summaries.
                    used = used + ok_entry(r, summary_data.len()) - fallback_entry(r);
                    o.stats.records_ok += 1;
                    o.stats.bytes_out += summary_data.len() as u64;
                    rec(FirehoseResult::Ok, encode_base64(&summary_data))
                } else {
                    o.stats.records_dropped += 1;
                    rec(FirehoseResult::Dropped, String::new())
                }
            }
            Work::Ok { .. } | Work::Overflow => {
                o.stats.records_overflow_failed += 1;
                o.stats.records_failed += 1;
                rec(FirehoseResult::ProcessingFailed, String::new())
            }
        };
        o.response.records.push(answer);
    }
    debug_assert!(used <= s.response_limit || !failed_data);
    o.stats.response_bytes = used as u64;
    o
}

/// The summary events of the records whose answer is final, and which `Ok` records fit with room kept
/// for them. The room is found by fitting with the room the summaries took at the previous try: the
/// summaries of fewer `Ok` records need no more room, so this settles in a try or two.
fn summaries(
    records: &[FirehoseRecord],
    work: &[Work],
    staged: &[Option<Summarizer>],
    decider: &Decider,
    s: &Settings,
    fit: &dyn Fn(usize) -> Vec<bool>,
    mut fits: Vec<bool>,
) -> (Vec<bool>, Vec<Summary>) {
    let mut reserve = 0;
    for attempt in 0.. {
        let mut all = decider.summarizer();
        for ((w, st), f) in work.iter().zip(staged).zip(&fits) {
            if let (Work::Dropped | Work::Ok { .. }, Some(st)) = (w, st)
                && (matches!(w, Work::Dropped) || *f)
            {
                all.merge(st);
            }
        }
        let events = all.flush(None);
        let mut buf = Vec::new();
        for e in &events {
            encode_summary(e, s, &mut buf);
        }
        // Appended to an `Ok` record's data (base64 of the sum is at most the sum of the base64s), or as
        // the data of a `Dropped` record turned `Ok` (whose entry is then no longer).
        let need = base64_len(buf.len());
        if need <= reserve || attempt == 8 {
            if need > reserve {
                tracing::warn!(need, reserve, records = records.len(), "Summaries did not settle; sending them anyway.");
            }
            return (fits, events);
        }
        reserve = need;
        fits = fit(reserve);
    }
    unreachable!("the loop returns")
}

/// Appends one summary event as `Ok` data: an HEC event (time: the interval's start) or a JSON line.
/// Returns its metered bytes.
fn encode_summary(e: &Summary, s: &Settings, out: &mut Vec<u8>) -> u64 {
    match s.output {
        Output::Hec => {
            let input = Input {
                record: e.json.as_bytes(),
                event_text: None,
                event_record: None,
                fallbacks: Fallbacks { time_ms: Some(e.start.as_millisecond()), source: Some("logtrim"), sourcetype: Some("logtrim:summary") },
            };
            // A summary is valid JSON and UTF-8, so this cannot fail.
            s.mapping.encode(input, out).unwrap_or_default().metered
        }
        Output::Original => {
            out.extend_from_slice(e.json.as_bytes());
            out.push(b'\n');
            e.metered_bytes()
        }
    }
}

/// The summary events as `Ok` data, each admitted by the budget like a kept event.
fn encode_summaries(events: &[Summary], s: &Settings, admit: &mut Admit<'_>, o: &mut Outcome) -> Vec<u8> {
    let mut data = Vec::new();
    for e in events {
        let before = data.len();
        let metered = encode_summary(e, s, &mut data);
        if admit(e.priority, metered) {
            o.stats.summary_events += 1;
            o.stats.event_bytes_metered += metered;
        } else {
            data.truncate(before);
            o.stats.events_shed += 1;
            o.stats.event_bytes_shed += metered;
        }
    }
    o.stats.summary_bytes = data.len() as u64;
    data
}

/// What [`process`] works with besides the record: buffers reused across records, and the room left.
struct Ctx<'a> {
    /// The record the rules see for a CloudWatch event.
    scratch: &'a mut Vec<u8>,
    /// The record's decisions, committed to the outcome only when the whole record succeeds.
    tally: &'a mut Tally,
    /// Base64 bytes the record's `Ok` data may take in the response for its output to be held.
    room: usize,
}

/// Decodes, decides and encodes one record. Its decoded payload is released on return: a record whose
/// output turns out not to fit the room left is queued for re-ingestion now, and its output is not kept
/// beyond that room.
fn process(
    r: &FirehoseRecord,
    decider: &mut Decider,
    s: &Settings,
    ctx: Ctx<'_>,
    o: &mut Outcome,
    admit: &mut Admit<'_>,
    mut staged: Option<&mut Option<Summarizer>>,
) -> Work {
    let Ctx { scratch, tally, room } = ctx;
    let raw = match decode_base64(&r.data) {
        Ok(raw) => raw,
        Err(e) => return Work::Failed(e.to_string()),
    };
    let raw_len = raw.len() as u64;
    o.stats.bytes_in += raw_len;
    let fail = |o: &mut Outcome, tally: &mut Tally, reason: String| {
        tally.clear();
        o.stats.bytes_failed += raw_len;
        Work::Failed(reason)
    };
    let decoded = match decode::decode(raw, s.max_decompressed) {
        Ok(d) => d,
        Err(e) => return fail(o, tally, e.to_string()),
    };
    let mut out = Vec::new();
    // Past this much output the record cannot be held whatever follows (its base64 would exceed the
    // room): the output is then measured, unit by unit, but not kept.
    let out_cap = room / 4 * 3;
    let mut spilled = false;
    let mut groups = Groups::new(s.chunk_limit);
    // Committed with the tally, when the whole record succeeds.
    let mut invalid_utf8 = 0;
    // Counts a dropped event in this record's summaries.
    let mut stage = |decider: &mut Decider, rec: &[u8], d: Decision, time_ms: Option<i64>, bytes: u64| {
        if let Some(st) = staged.as_deref_mut().filter(|_| d.action == Action::Drop) {
            let fallback = time_ms.and_then(|ms| Timestamp::from_millisecond(ms).ok()).unwrap_or_else(Timestamp::now);
            st.get_or_insert_with(|| decider.summarizer()).add_sized(decider, rec, d, fallback, bytes);
        }
    };
    match &decoded.payload {
        Payload::CloudWatchControl => return Work::Dropped,
        Payload::CloudWatch(cw) => {
            for ev in &cw.log_events {
                cloudwatch_record(cw, ev, scratch);
                let d = decider.decide_uncounted(scratch);
                let before = out.len();
                let (mut trimmed, mut added) = (0, 0);
                stage(decider, scratch, d, Some(ev.timestamp), ev.message.len() as u64);
                if d.action == Action::Keep {
                    // Trimmed as the message: a JSON message by its fields, a text one as `log`.
                    let t = decider.trim_measured(ev.message.as_bytes(), d);
                    (trimmed, added) = (t.trimmed, t.added);
                    let message = std::str::from_utf8(t.bytes).unwrap_or(&ev.message);
                    let metered = match s.output {
                        Output::Hec => {
                            let input = Input {
                                record: scratch,
                                event_text: Some(message),
                                event_record: None,
                                fallbacks: Fallbacks {
                                    time_ms: Some(ev.timestamp),
                                    source: Some(&cw.log_group),
                                    sourcetype: Some("aws:cloudwatchlogs"),
                                },
                            };
                            match s.mapping.encode(input, &mut out) {
                                Ok(e) => e.metered,
                                Err(e) => return fail(o, tally, format!("log event {:?}: {e}", ev.id)),
                            }
                        }
                        Output::Original => {
                            out.extend_from_slice(message.as_bytes());
                            out.push(b'\n');
                            metered_record_bytes(message.as_bytes())
                        }
                    };
                    budget(admit, d.priority, metered, &mut out, before, o);
                }
                tally.add(d, ev.message.len() as u64, trimmed, added);
                groups.push(Groups::cloudwatch_input(ev), out.len() - before);
                if spilled || out.len() > out_cap {
                    spilled = true;
                    out.clear();
                }
            }
        }
        Payload::Lines(_) => {
            for (line_no, line) in decoded.payload.lines() {
                let d = decider.decide_uncounted(line);
                let before = out.len();
                let (mut trimmed, mut added) = (0, 0);
                stage(decider, line, d, r.approximate_arrival_timestamp, line.len() as u64);
                let result = match (d.action, s.output) {
                    (Action::Keep, Output::Hec) => {
                        let t = decider.trim_measured(line, d);
                        (trimmed, added) = (t.trimmed, t.added);
                        let input = Input {
                            record: line,
                            event_text: None,
                            // The event as trimmed; the metadata from the line as it came.
                            event_record: (t.bytes.as_ptr() != line.as_ptr()).then_some(t.bytes),
                            fallbacks: Fallbacks { time_ms: r.approximate_arrival_timestamp, ..Fallbacks::default() },
                        };
                        s.mapping
                            .encode(input, &mut out)
                            .map(|e| {
                                invalid_utf8 += u64::from(e.invalid_utf8);
                                Some(e.metered)
                            })
                            .map_err(|e| e.to_string())
                    }
                    (Action::Keep, Output::Original) => validate(line).map(|()| {
                        let t = decider.trim_measured(line, d);
                        (trimmed, added) = (t.trimmed, t.added);
                        out.extend_from_slice(t.bytes);
                        out.push(b'\n');
                        Some(metered_record_bytes(t.bytes))
                    }),
                    // A dropped line is still checked: a corrupt record is never silently dropped.
                    (Action::Drop, _) => validate(line).map(|()| None),
                };
                match result {
                    Err(e) => return fail(o, tally, format!("line {line_no}: {e}")),
                    Ok(Some(metered)) => budget(admit, d.priority, metered, &mut out, before, o),
                    Ok(None) => {}
                }
                tally.add(d, line.len() as u64, trimmed, added);
                groups.push(Groups::line_input(line), out.len() - before);
                if spilled || out.len() > out_cap {
                    spilled = true;
                    out.clear();
                }
            }
        }
    }
    o.tally.absorb(tally);
    o.stats.events_invalid_utf8 += invalid_utf8;
    if groups.output == 0 {
        Work::Dropped
    } else if !spilled && base64_len(out.len()) <= room {
        Work::Ok { out, groups }
    } else {
        drop(out);
        if s.can_reingest {
            queue_reingest(r, Some(&decoded), &groups, groups.output, s, &mut o.reingest);
        }
        Work::Overflow
    }
}

/// Lets the budget veto the event just appended to `out` (from `before`).
fn budget(admit: &mut Admit<'_>, priority: Priority, metered: u64, out: &mut Vec<u8>, before: usize, o: &mut Outcome) {
    if admit(priority, metered) {
        o.stats.event_bytes_metered += metered;
    } else {
        out.truncate(before);
        o.stats.events_shed += 1;
        o.stats.event_bytes_shed += metered;
    }
}

/// A line starting with `{` must be valid JSON, unless it is not UTF-8: then it is text, as the rules
/// read it.
fn validate(line: &[u8]) -> Result<(), String> {
    if decode::is_json_line(line)
        && let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(line)
        && std::str::from_utf8(line).is_ok()
    {
        return Err(format!("invalid JSON: {e}"));
    }
    Ok(())
}

/// Largest chunk input: below Firehose's 1,000 KiB record limit, with room for the CloudWatch
/// envelope.
const CHUNK_INPUT_LIMIT: usize = 900_000;

/// How a record splits into chunks of whole units (lines or log events) for re-ingestion: each chunk's
/// output at most the chunk limit (as base64) and its input under [`CHUNK_INPUT_LIMIT`]; a single unit
/// over the limits is a chunk of its own. Built a unit at a time while the record is processed, so only
/// the chunk boundaries are kept, and nothing is allocated for a record that is one chunk.
#[derive(Debug)]
struct Groups {
    /// Output bytes (before base64) a chunk may hold.
    out_limit: usize,
    /// Where each chunk but the current one ends (unit index, exclusive).
    ends: Vec<usize>,
    /// Units seen.
    units: usize,
    /// Input and output bytes of the current chunk.
    input: usize,
    chunk_output: usize,
    /// Output bytes of the whole record.
    output: usize,
}

impl Groups {
    fn new(chunk_limit: usize) -> Groups {
        Groups { out_limit: chunk_limit / 4 * 3, ends: Vec::new(), units: 0, input: 0, chunk_output: 0, output: 0 }
    }

    /// A line's input size: the line and its newline.
    fn line_input(line: &[u8]) -> usize {
        line.len() + 1
    }

    /// A CloudWatch event's input size: its message and id, and room for the rest of its JSON.
    fn cloudwatch_input(ev: &decode::LogEvent) -> usize {
        ev.message.len() + ev.id.len() + 64
    }

    fn push(&mut self, input: usize, output: usize) {
        if self.units > 0 && (self.input + input > CHUNK_INPUT_LIMIT || self.chunk_output + output > self.out_limit) {
            self.ends.push(self.units);
            (self.input, self.chunk_output) = (0, 0);
        }
        self.units += 1;
        self.input += input;
        self.chunk_output += output;
        self.output += output;
    }

    fn ranges(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        let ends = self.ends.iter().copied().chain(std::iter::once(self.units));
        starts.zip(ends).map(|(a, b)| a..b).filter(|r| !r.is_empty())
    }
}

/// Queues a record whose `out_len` bytes of output do not fit the response for re-ingestion: as its
/// original bytes when that output fits a chunk, else split per `groups`, framed and compressed as the
/// original was. `decoded` is the record's payload when it is still at hand; otherwise it is decoded
/// again (it decoded before, and decoding is deterministic), so no record's payload outlives its turn.
fn queue_reingest(r: &FirehoseRecord, decoded: Option<&Decoded>, groups: &Groups, out_len: usize, s: &Settings, into: &mut Vec<Vec<u8>>) {
    let whole = || decode_base64(&r.data).expect("decoded before");
    if ResponseRecord::serialized_len(&r.record_id, FirehoseResult::Ok, base64_len(out_len)) <= s.chunk_limit {
        into.push(whole());
        return;
    }
    let again;
    let decoded = match decoded {
        Some(d) => d,
        None => match decode::decode_data(&r.data, s.max_decompressed) {
            Ok(d) => {
                again = d;
                &again
            }
            Err(_) => return into.push(whole()),
        },
    };
    into.extend(split(decoded, groups));
}

/// The chunks of `groups`, framed and compressed as the original was.
fn split(decoded: &Decoded, groups: &Groups) -> Vec<Vec<u8>> {
    let encode = |bytes: Vec<u8>| match decoded.compression {
        Compression::None => bytes,
        c => decode::compress(c, &bytes),
    };
    match &decoded.payload {
        Payload::Lines(_) => {
            let mut lines = decoded.payload.lines().map(|(_, l)| l);
            groups
                .ranges()
                .map(|g| {
                    let mut b = Vec::new();
                    for l in lines.by_ref().take(g.len()) {
                        b.extend_from_slice(l);
                        b.push(b'\n');
                    }
                    encode(b)
                })
                .collect()
        }
        Payload::CloudWatch(cw) => groups
            .ranges()
            .map(|g| {
                let part = decode::CloudWatchData { log_events: cw.log_events[g].to_vec(), ..cw.clone() };
                encode(serde_json::to_vec(&part).expect("serializing to a Vec cannot fail"))
            })
            .collect(),
        Payload::CloudWatchControl => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logtrim_core::RuleSet;

    const RULES: &str = r#"
parse:
  log: [access]
rules:
  - name: drop-probes
    when: log.user_agent starts_with "kube-probe/"
    action: drop
default:
  action: keep
"#;

    const OK_LINE: &[u8] = br#"10.0.0.9 - - [22/Nov/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8.5.0""#;
    const PROBE: &[u8] = br#"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.31""#;

    fn rec(id: &str, data: &[u8]) -> FirehoseRecord {
        FirehoseRecord { record_id: id.into(), approximate_arrival_timestamp: Some(1_000), data: encode_base64(data) }
    }

    fn run(records: &[FirehoseRecord], s: &Settings) -> Outcome {
        let rules = RuleSet::from_yaml("t.yaml", RULES).unwrap();
        transform(records, &mut rules.decider(), s)
    }

    #[test]
    fn one_answer_per_record_and_exact_size() {
        let records = vec![
            rec("1", OK_LINE),
            rec("2", PROBE),
            FirehoseRecord { record_id: "3".into(), approximate_arrival_timestamp: None, data: "not base64!".into() },
            rec("4", b"{\"log\":\"x\"}\n{\"log\":"),
        ];
        let o = run(&records, &Settings::default());
        let results: Vec<_> = o.response.records.iter().map(|r| (r.record_id.as_str(), r.result)).collect();
        assert_eq!(
            results,
            [("1", FirehoseResult::Ok), ("2", FirehoseResult::Dropped), ("3", FirehoseResult::ProcessingFailed), ("4", FirehoseResult::ProcessingFailed)]
        );
        assert_eq!(o.response.records[2].data, "not base64!");
        assert_eq!(o.response.records[3].data, records[3].data);
        assert_eq!(serde_json::to_vec(&o.response).unwrap().len() as u64, o.stats.response_bytes);
        // The bad record's good first line is not counted.
        assert_eq!(o.tally.total().matched, 2);
        assert_eq!(o.stats.records_failed, 2);
    }

    #[test]
    fn overflow_is_reingested_and_fits() {
        let line = format!(r#"{{"log":"{}"}}"#, "x".repeat(1000));
        let records: Vec<_> = (0..10).map(|i| rec(&i.to_string(), line.as_bytes())).collect();
        let s = Settings { response_limit: 6_000, ..Settings::default() };
        let o = run(&records, &s);
        let bytes = serde_json::to_vec(&o.response).unwrap().len();
        assert!(bytes <= 6_000, "{bytes}");
        assert_eq!(bytes as u64, o.stats.response_bytes);
        let ok = o.response.records.iter().filter(|r| r.result == FirehoseResult::Ok).count();
        assert!(ok >= 3, "{ok}");
        assert_eq!(o.reingest.len(), 10 - ok);
        assert_eq!(o.reingest[0], line.as_bytes());
        assert_eq!(o.stats.records_reingested as usize, 10 - ok);
    }

    #[test]
    fn overflow_without_reingestion_fails_records() {
        let line = format!(r#"{{"log":"{}"}}"#, "x".repeat(1000));
        let records: Vec<_> = (0..10).map(|i| rec(&i.to_string(), line.as_bytes())).collect();
        let s = Settings { response_limit: 6_000, can_reingest: false, ..Settings::default() };
        let o = run(&records, &s);
        assert!(o.reingest.is_empty());
        assert!(o.response.records.iter().any(|r| r.result == FirehoseResult::ProcessingFailed && r.data.is_empty()));
        assert!(serde_json::to_vec(&o.response).unwrap().len() <= 6_000);
    }

    #[test]
    fn oversized_records_are_split_into_chunks_that_reproduce_the_output() {
        // One aggregated gzip record whose output alone is over the limit.
        let lines: Vec<String> = (0..200).map(|i| format!(r#"{{"log":"line {i} {}"}}"#, "y".repeat(200))).collect();
        let data = decode::compress(Compression::Gzip, lines.join("\n").as_bytes());
        let records = vec![rec("big", &data)];
        let s = Settings { response_limit: 20_000, chunk_limit: 10_000, ..Settings::default() };
        let o = run(&records, &s);
        assert_eq!(o.response.records[0].result, FirehoseResult::Dropped);
        assert!(o.reingest.len() > 3, "{}", o.reingest.len());
        // Transforming the chunks again yields every line once, each chunk's response within limit.
        let chunks: Vec<_> = o.reingest.iter().enumerate().map(|(i, c)| rec(&format!("c{i}"), c)).collect();
        let mut seen = 0;
        for c in &chunks {
            let again = run(std::slice::from_ref(c), &s);
            assert_eq!(again.response.records[0].result, FirehoseResult::Ok);
            assert!(again.stats.response_bytes <= 10_000 + 200);
            seen += again.tally.total().kept;
        }
        assert_eq!(seen, 200);
    }

    #[test]
    fn r15_failed_data_is_counted_as_it_is_escaped() {
        // Invalid base64 made of characters JSON escapes: echoed as it came, `"` takes two bytes.
        let failed = |data: String| FirehoseRecord { record_id: "q".into(), approximate_arrival_timestamp: None, data };
        let s = Settings::default();
        let o = run(&[failed("\"".repeat(3_500_000))], &s);
        let bytes = serde_json::to_vec(&o.response).unwrap().len();
        assert_eq!(bytes as u64, o.stats.response_bytes);
        assert!(bytes <= s.response_limit, "{bytes}");
        assert_eq!(o.response.records[0].result, FirehoseResult::ProcessingFailed);
        // Data that fits escaped is echoed, and counted exactly.
        let data = "\"\\\u{1}x".repeat(1000);
        let o = run(&[failed(data.clone()), rec("1", OK_LINE)], &s);
        assert_eq!(o.response.records[0].data, data);
        assert_eq!(serde_json::to_vec(&o.response).unwrap().len() as u64, o.stats.response_bytes);
    }

    #[test]
    fn r15_a_line_that_is_not_utf8_is_decided_and_sent_as_text() {
        let line = |i: usize| format!(r#"10.0.0.{i} - - [22/Nov/2026:10:00:01 +0000] "GET /x HTTP/1.1" 503 5 "-" "curl/8.5.0""#).into_bytes();
        let bad = [&line(51)[..20], b"\xff", &line(51)[20..]].concat();
        let data: Vec<u8> = (1..=100).flat_map(|i| [if i == 51 { bad.clone() } else { line(i) }, b"\n".to_vec()].concat()).collect();
        let o = run(&[rec("1", &data)], &Settings::default());
        assert_eq!(o.response.records[0].result, FirehoseResult::Ok);
        let out = decode_base64(&o.response.records[0].data).unwrap();
        let events: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&out).into_iter().map(Result::unwrap).collect();
        assert_eq!(events.len(), 100);
        assert_eq!(events[50]["event"], String::from_utf8_lossy(&bad).as_ref(), "U+FFFD for the bad byte");
        assert_eq!(events[51]["event"], String::from_utf8(line(52)).unwrap());
        assert_eq!(o.stats.events_invalid_utf8, 1);
        // The original output sends the bytes as they came.
        let o = run(&[rec("1", &data)], &Settings { output: Output::Original, ..Settings::default() });
        assert_eq!(decode_base64(&o.response.records[0].data).unwrap(), data);

        // A line starting with `{` that is not UTF-8 is not JSON: the rules read it as text, kept or dropped.
        let rules = RuleSet::from_yaml("t.yaml", "rules:\n  - name: marked\n    when: log contains \"drop-me\"\n    action: drop\ndefault:\n  action: keep\n").unwrap();
        let data = b"{\"log\":\"drop-me \xe9\"}\n{\"log\":\"caf\xe9\"}\n";
        for output in [Output::Hec, Output::Original] {
            let s = Settings { output, ..Settings::default() };
            let o = transform(&[rec("1", data)], &mut rules.decider(), &s);
            assert_eq!(o.response.records[0].result, FirehoseResult::Ok, "{output:?}");
            assert_eq!((o.tally.total().kept, o.tally.total().dropped), (1, 1));
            let out = decode_base64(&o.response.records[0].data).unwrap();
            match output {
                Output::Hec => assert_eq!(serde_json::from_slice::<serde_json::Value>(&out).unwrap()["event"], "{\"log\":\"caf\u{fffd}\"}"),
                Output::Original => assert_eq!(out, b"{\"log\":\"caf\xe9\"}\n"),
            }
        }
        // Valid UTF-8 that is not JSON still fails the record, and nothing of it is counted.
        let o = transform(&[rec("1", b"caf\xe9\n{\"log\":\"x\"\n")], &mut rules.decider(), &Settings::default());
        assert_eq!(o.response.records[0].result, FirehoseResult::ProcessingFailed);
        assert_eq!((o.stats.events_invalid_utf8, o.tally.total().matched), (0, 0));
    }

    /// Counts the bytes this thread holds and the most it held: the transform runs on the test's thread,
    /// and tests on other threads do not disturb the count.
    mod counting {
        use std::alloc::{GlobalAlloc, Layout, System};
        use std::cell::Cell;

        pub struct Counting;

        thread_local! {
            static LIVE: Cell<isize> = const { Cell::new(0) };
            static PEAK: Cell<isize> = const { Cell::new(0) };
        }

        fn add(n: isize) {
            let _ = LIVE.try_with(|l| {
                l.set(l.get() + n);
                let _ = PEAK.try_with(|p| p.set(p.get().max(l.get())));
            });
        }

        unsafe impl GlobalAlloc for Counting {
            unsafe fn alloc(&self, l: Layout) -> *mut u8 {
                add(l.size() as isize);
                unsafe { System.alloc(l) }
            }
            unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
                add(-(l.size() as isize));
                unsafe { System.dealloc(p, l) }
            }
            unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
                add(n as isize - l.size() as isize);
                unsafe { System.realloc(p, l, n) }
            }
        }

        /// The most this thread held above what it held before `f`, in bytes.
        pub fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
            let base = LIVE.with(Cell::get);
            PEAK.with(|p| p.set(base));
            let t = f();
            (t, (PEAK.with(Cell::get) - base) as usize)
        }
    }

    #[global_allocator]
    static ALLOC: counting::Counting = counting::Counting;

    #[test]
    fn r15_memory_stays_bounded_by_one_record_and_the_response() {
        // Records that inflate to the cap, every line kept: their output is larger than any response.
        let record_bytes = 8 << 20;
        let line = br#"10.0.0.9 - - [22/Nov/2026:10:00:01 +0000] "GET /api/orders?id=1 HTTP/1.1" 503 5 "-" "curl/8.5.0""#;
        let plain: Vec<u8> = line.iter().chain(b"\n").copied().cycle().take(record_bytes / (line.len() + 1) * (line.len() + 1)).collect();
        let records: Vec<_> = (0..6).map(|i| rec(&i.to_string(), &decode::compress(Compression::Gzip, &plain))).collect();
        let s = Settings { max_decompressed: record_bytes, ..Settings::default() };
        let (o, peak) = counting::peak_of(|| run(&records, &s));
        assert!(o.response.records.iter().all(|r| r.result == FirehoseResult::Dropped));
        assert_eq!(o.stats.records_reingested, 6);
        assert_eq!(o.tally.total().kept as usize, 6 * plain.len() / (line.len() + 1));
        // One record decoded at a time (its buffer up to twice its size while it inflates), its output
        // cut off at the response limit, the outputs held for the response (within the limit), and the
        // chunks to re-ingest.
        let reingest: usize = o.reingest.iter().map(Vec::len).sum();
        let bound = 2 * record_bytes + 2 * s.response_limit + reingest + (1 << 20);
        assert!(peak <= bound, "peak {peak} bytes, bound {bound}");
    }

    #[test]
    fn a_held_record_that_no_longer_fits_is_decoded_again_and_split() {
        // Held when processed; the failed record after it takes the room, so it is split from its data.
        let lines: Vec<String> = (0..60).map(|i| format!(r#"{{"log":"line {i} {}"}}"#, "y".repeat(100))).collect();
        let big = rec("big", &decode::compress(Compression::Gzip, lines.join("\n").as_bytes()));
        let failed = FirehoseRecord { record_id: "bad".into(), approximate_arrival_timestamp: None, data: "!".repeat(10_000) };
        let s = Settings { response_limit: 20_000, chunk_limit: 5_000, ..Settings::default() };
        let alone = run(std::slice::from_ref(&big), &s);
        assert_eq!(alone.response.records[0].result, FirehoseResult::Ok, "fits without the failed record");
        let o = run(&[big, failed], &s);
        assert_eq!(o.response.records[0].result, FirehoseResult::Dropped);
        assert_eq!(o.response.records[1].data.len(), 10_000);
        assert!(o.reingest.len() > 1, "{}", o.reingest.len());
        let kept: u64 = o.reingest.iter().map(|c| run(&[rec("c", c)], &s).tally.total().kept).sum();
        assert_eq!(kept, 60);
        assert_eq!(serde_json::to_vec(&o.response).unwrap().len() as u64, o.stats.response_bytes);
    }

    #[test]
    fn a_short_output_from_a_kinesis_source_is_answered() {
        // An `Ok` entry shorter than the `ProcessingFailed` one it would replace.
        let s = Settings { output: Output::Original, can_reingest: false, ..Settings::default() };
        let o = run(&[rec("1", b"a")], &s);
        assert_eq!(o.response.records[0].result, FirehoseResult::Ok);
        assert_eq!(serde_json::to_vec(&o.response).unwrap().len() as u64, o.stats.response_bytes);
    }

    #[test]
    fn original_output_keeps_bytes() {
        let s = Settings { output: Output::Original, ..Settings::default() };
        let data = [OK_LINE, PROBE, b"plain"].join(&b"\n"[..]);
        let o = run(&[rec("1", &data)], &s);
        let data = decode_base64(&o.response.records[0].data).unwrap();
        assert_eq!(data, [OK_LINE, b"\n", b"plain\n"].concat());
    }
}
