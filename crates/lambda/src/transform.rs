//! The handler's logic as a pure function: Firehose records + a [`Pipeline`] → one response record per
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
//! - With an archive ([`transform_archived`]), the events that are not sent are archived once their
//!   record's answer is final, as summaries are counted: see [`crate::archive`].

use logtrim_core::archive::Archive;
use logtrim_core::budget::Timestamp;
use logtrim_core::run::pipeline::{NotSent, Outcome as Pushed, Unit};
use logtrim_core::record::json::Raw;
use logtrim_core::{Counters, Decision, Encoding, Options, Pipeline, Priority, Record, RuleSet, Sink, Summary};
use logtrim_formats::hec::{Fallbacks, Mapping, SUMMARY_FALLBACKS};

use std::ops::Range;

use crate::archive::Staged;
use crate::decode::{self, Compression, Decoded, Payload, base64_len, cloudwatch_record, decode_base64};
use crate::event::{FirehoseResponse, FirehoseResult, IdLiterals, InputRecord, ResponseJson, ResponseRecord, ResponseWriter};

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
}

/// Asks the daily byte budget whether an event the rules keep, of this priority and metered size, may
/// be sent ([`transform_with`]). Always yes without a budget.
pub type Admit<'a> = dyn FnMut(Priority, u64) -> bool + 'a;

/// The result of [`transform`].
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// The response's JSON, one record per input record, exactly as serde_json serializes a
    /// [`FirehoseResponse`] (see [`Outcome::response`]).
    pub body: ResponseJson,
    /// Data to PutRecordBatch before the response may be returned.
    pub reingest: Vec<Vec<u8>>,
    /// Counts of Firehose records.
    pub stats: Stats,
    /// What the rules, the budget and summaries did with the log events of the records that did not
    /// fail (the core's counters: the same the CLI's report and the forwarder's metrics read).
    pub counters: Counters,
}

impl Outcome {
    /// The response, read back from [`Outcome::body`] (for tests and the `aws_lambda_events` types).
    pub fn response(&self) -> FirehoseResponse {
        serde_json::from_str(self.body.as_str()).expect("the transform writes a valid response")
    }
}

enum Work {
    Failed(String),
    /// Nothing to send; the record's summaries are final (merged into a [`Segment::Final`] once processed).
    Dropped(Option<Unit>),
    /// Kept events held for the response (this range of the held outputs), how the record splits should
    /// they not fit after all, and its summaries, final if it is answered `Ok` (none once processed
    /// when it had nothing to summarize), and its events to archive, final if it is answered `Ok`.
    Ok { out: Range<usize>, groups: Groups, unit: Option<Unit>, staged: Vec<Staged> },
    /// Kept events that could not be held: the record is already queued for re-ingestion (or, when
    /// that is impossible, answered `ProcessingFailed`).
    Overflow,
}

/// Where the events go, and what the core does not know about them: the HEC metadata rendered from
/// the record by the mapping, with the record's fallbacks, and the budget's answer. One per
/// invocation: every record's events are appended to the same buffer.
struct RecordOut<'a, 'b> {
    out: Vec<u8>,
    mapping: &'a Mapping,
    /// The fallbacks of the record being pushed: its time, and a CloudWatch payload's log group (kept
    /// here, its buffer reused, as the payload lives only while its record is pushed).
    time_ms: Option<i64>,
    log_group: Option<String>,
    /// The metadata members of the event being written, rendered with its time.
    meta: Vec<u8>,
    admit: &'a mut Admit<'b>,
    /// With an archive: the events of the record being pushed that are not sent, by position (`at`),
    /// until its answer is final.
    staged: Option<Vec<Staged>>,
    at: u32,
}

impl Sink for RecordOut<'_, '_> {
    fn out(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    fn time(&mut self, record: Record<'_>) -> Option<i64> {
        self.time_read(record, None)
    }

    fn time_read(&mut self, record: Record<'_>, read: Option<&[Option<Raw>]>) -> Option<i64> {
        let seen = match record {
            Record::Line(l) => l,
            Record::Event { record, .. } => record,
            Record::Parts(_) => &[],
        };
        self.meta.clear();
        let fallbacks = match &self.log_group {
            Some(group) => Fallbacks { time_ms: self.time_ms, source: Some(group), sourcetype: Some("aws:cloudwatchlogs") },
            None => Fallbacks { time_ms: self.time_ms, ..Fallbacks::default() },
        };
        // PERF: the values deciding read, rather than a second scan of every kept record.
        match read {
            Some(read) => self.mapping.write_meta_read(seen, read, fallbacks, &mut self.meta),
            None => self.mapping.write_meta(seen, fallbacks, &mut self.meta),
        }
    }

    fn meta(&mut self, _: Record<'_>) {
        self.out.extend_from_slice(&self.meta);
    }

    fn summary_meta(&mut self, s: &Summary) {
        self.mapping.write_meta(s.json.as_bytes(), SUMMARY_FALLBACKS, &mut self.out);
    }

    fn admit(&mut self, priority: Priority, metered: u64) -> bool {
        (self.admit)(priority, metered)
    }

    fn not_sent(&mut self, _: Record<'_>, decision: Decision, why: NotSent) {
        if let Some(staged) = &mut self.staged {
            staged.push(Staged { unit: self.at, decision, why: Some(why) });
        }
    }
}

impl RecordOut<'_, '_> {
    /// After a push: a sent event is archived too when the archive includes kept events.
    fn pushed(&mut self, (decision, pushed): (Decision, Pushed), archive_kept: bool) {
        if archive_kept && let (Some(staged), Pushed::Sent(_)) = (&mut self.staged, pushed) {
            staged.push(Staged { unit: self.at, decision, why: None });
        }
        self.at += 1;
    }
}

/// The pipeline [`transform`] needs: events encoded as `s.output` says. Make one per cold start.
pub fn pipeline(rules: &RuleSet, s: &Settings) -> Pipeline {
    let encoding = match s.output {
        Output::Hec => Encoding::Hec(s.mapping.event().clone()),
        Output::Original => Encoding::Lines,
    };
    // Summaries are flushed at the end of every invocation, whatever the records' time.
    let mut p = Pipeline::new(rules, Options { encoding, lateness: None });
    if s.output == Output::Hec {
        // The HEC metadata is read from each record by the scan that decides it.
        p.read_also(s.mapping.paths());
    }
    p
}

/// Transforms one invocation's records through `pipeline` (made by [`pipeline`] with the same
/// settings). See the module docs for the guarantees.
pub fn transform<R: InputRecord>(records: &[R], pipeline: &mut Pipeline, s: &Settings) -> Outcome {
    transform_with(records, pipeline, s, &mut |_, _| true)
}

/// The summaries of an invocation's records, in input order, for [`Pipeline::summaries_of`]: those of
/// consecutive records whose answer is final merged into one unit, and the records answered `Ok` only if
/// they fit, apart. So units are held per run of records, not per record.
enum Segment {
    Final(Unit),
    /// The index of a record whose `Work::Ok` holds its unit.
    Ok(usize),
}

/// How a record is answered, decided before the response is written.
enum Answer {
    /// `ProcessingFailed`, with the record's data as it came or with none.
    Failed { echo: bool },
    /// `Dropped`, or `ProcessingFailed` for an overflow that cannot be re-ingested: no data.
    Empty(FirehoseResult),
    /// `Ok`: this range of the held outputs, followed by the summary events if it carries them.
    Out { out: Range<usize>, carries: bool },
    /// `Ok` with the summary events alone.
    Summaries,
}

/// [`transform`], with every kept event admitted by `admit` (the daily byte budget) once encoded; an
/// event it refuses is left out, as if dropped, and counted as shed.
///
/// An admitted event whose record later fails (another line of it is not JSON), or is re-ingested,
/// has been counted by the budget without being sent now: the budget errs on the side of spending less.
pub fn transform_with<R: InputRecord>(records: &[R], pipeline: &mut Pipeline, s: &Settings, admit: &mut Admit<'_>) -> Outcome {
    transform_archived(records, pipeline, s, admit, None)
}

/// [`transform_with`], archiving into `archive` the events that are not sent (and the kept ones, when
/// its rule file includes them) of every record whose answer is final (see [`crate::archive`]).
pub fn transform_archived<R: InputRecord>(
    records: &[R],
    pipeline: &mut Pipeline,
    s: &Settings,
    admit: &mut Admit<'_>,
    mut archive: Option<&mut Archive>,
) -> Outcome {
    let mut o = Outcome::default();
    o.stats.records_in = records.len() as u64;
    // PERF: one buffer each for the decoded data and the CloudWatch record, and one for every
    // record's output, reused record after record: nothing is allocated per record once they have grown.
    let mut scratch = Vec::new();
    let mut raw = Vec::new();
    let mut sink = RecordOut { out: Vec::new(), mapping: &s.mapping, time_ms: None, log_group: None, meta: Vec::new(), admit: &mut *admit, staged: None, at: 0 };

    let ok_fallback = if s.can_reingest { FirehoseResult::Dropped } else { FirehoseResult::ProcessingFailed };
    let envelope = r#"{"records":[]}"#.len() + records.len().saturating_sub(1);
    let ids = IdLiterals::new(records.iter().map(|r| r.record_id()));
    let entry = |i: usize, result: FirehoseResult, n: usize| ResponseRecord::serialized_len_of_id(ids.len_of(i), result, n);
    let fallback_entry = |i: usize| entry(i, ok_fallback, 0);
    let ok_entry = |i: usize, n: usize| entry(i, FirehoseResult::Ok, base64_len(n));
    // Outputs are held for the response only while they could fit in it, counting the answers every
    // record needs: the rest is re-ingested as soon as it is known, so memory holds one decoded record
    // and at most a response's worth of output.
    let mut held = envelope + (0..records.len()).map(fallback_entry).sum::<usize>();
    let mut work: Vec<Work> = Vec::with_capacity(records.len());
    let mut segments: Vec<Segment> = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let room = (s.response_limit + fallback_entry(i)).saturating_sub(held + ok_entry(i, 0));
        let mut w = process(r, pipeline, s, Ctx { scratch: &mut scratch, raw: &mut raw, room, archive: archive.as_deref_mut() }, &mut sink, &mut o);
        match &mut w {
            Work::Dropped(unit) => match unit.take() {
                Some(u) if u.has_summaries() => match segments.last_mut() {
                    Some(Segment::Final(acc)) => pipeline.merge_unit(acc, u),
                    _ => segments.push(Segment::Final(u)),
                },
                Some(u) => pipeline.recycle_unit(u),
                None => {}
            },
            Work::Ok { unit, .. } => {
                if unit.as_ref().is_some_and(Unit::has_summaries) {
                    segments.push(Segment::Ok(i));
                } else if let Some(u) = unit.take() {
                    pipeline.recycle_unit(u);
                }
            }
            Work::Failed(_) | Work::Overflow => {}
        }
        match &w {
            Work::Failed(reason) => tracing::warn!(record_id = %r.record_id(), reason = %reason, "Record failed."),
            Work::Ok { out, .. } => held = held + ok_entry(i, out.len()) - fallback_entry(i),
            Work::Dropped(_) | Work::Overflow => {}
        }
        work.push(w);
    }
    let outputs = std::mem::take(&mut sink.out);
    drop(raw);

    // Room every record needs whatever happens.
    let mandatory = |failed_data: bool| -> usize {
        envelope
            + records
                .iter()
                .zip(&work)
                .enumerate()
                .map(|(i, (r, w))| match w {
                    Work::Failed(_) if failed_data => ResponseRecord::serialized_len_with(r.record_id(), FirehoseResult::ProcessingFailed, r.data()),
                    Work::Failed(_) => entry(i, FirehoseResult::ProcessingFailed, 0),
                    Work::Dropped(_) => entry(i, FirehoseResult::Dropped, 0),
                    Work::Ok { .. } | Work::Overflow => fallback_entry(i),
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
        work.iter()
            .enumerate()
            .map(|(i, w)| match w {
                Work::Ok { out, .. } if room + ok_entry(i, out.len()) <= s.response_limit + fallback_entry(i) => {
                    room = room + ok_entry(i, out.len()) - fallback_entry(i);
                    true
                }
                _ => false,
            })
            .collect()
    };
    let mut fits = fit(0);
    let summary_data = if pipeline.summarizes() {
        let (f, events) = summaries(records, &work, &segments, pipeline, &s.mapping, &fit, fits);
        fits = f;
        for e in &events {
            pipeline.send_summary(e, &mut sink);
        }
        std::mem::take(&mut sink.out)
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
                Work::Dropped(_) => true,
                Work::Ok { .. } | Work::Overflow => s.can_reingest,
                Work::Failed(_) => false,
            })
        })
    };

    // Every answer first, so that the response is written once into a buffer of its exact size.
    let mut answers = Vec::with_capacity(records.len());
    for (i, (r, w)) in records.iter().zip(work).enumerate() {
        let carries = carrier == Some(i);
        let answer = match &w {
            Work::Failed(_) => {
                o.stats.records_failed += 1;
                Answer::Failed { echo: failed_data }
            }
            Work::Dropped(_) if carries => {
                used = used + ok_entry(i, summary_data.len()) - entry(i, FirehoseResult::Dropped, 0);
                o.stats.records_ok += 1;
                o.stats.bytes_out += summary_data.len() as u64;
                Answer::Summaries
            }
            Work::Dropped(_) => {
                o.stats.records_dropped += 1;
                Answer::Empty(FirehoseResult::Dropped)
            }
            Work::Ok { out, staged, .. } if fits[i] => {
                if let Some(a) = archive.as_deref_mut()
                    && !staged.is_empty()
                {
                    // Its answer is final: archived from its data decoded again (it decoded before, and
                    // decoding is deterministic), so only positions waited.
                    match decode::decode_data(r.data(), s.max_decompressed) {
                        Ok(decoded) => crate::archive::add_record(a, r, &decoded, staged, &mut scratch),
                        Err(e) => tracing::error!(record_id = %r.record_id(), error = %e, events = staged.len(), "A record that decoded once does not decode again: its events are not archived."),
                    }
                }
                let len = out.len() + if carries { summary_data.len() } else { 0 };
                used = used + ok_entry(i, len) - fallback_entry(i);
                o.stats.records_ok += 1;
                o.stats.bytes_out += len as u64;
                Answer::Out { out: out.clone(), carries }
            }
            Work::Ok { .. } | Work::Overflow if s.can_reingest => {
                if let Work::Ok { out, groups, .. } = &w {
                    queue_reingest(r, None, groups, out.len(), s, &mut o.reingest);
                }
                o.stats.records_reingested += 1;
                if carries {
                    // Its events go back through Firehose; its answer carries the summaries.
                    used = used + ok_entry(i, summary_data.len()) - fallback_entry(i);
                    o.stats.records_ok += 1;
                    o.stats.bytes_out += summary_data.len() as u64;
                    Answer::Summaries
                } else {
                    o.stats.records_dropped += 1;
                    Answer::Empty(FirehoseResult::Dropped)
                }
            }
            Work::Ok { .. } | Work::Overflow => {
                o.stats.records_overflow_failed += 1;
                o.stats.records_failed += 1;
                Answer::Empty(FirehoseResult::ProcessingFailed)
            }
        };
        answers.push(answer);
        if let Work::Dropped(Some(unit)) | Work::Ok { unit: Some(unit), .. } = w {
            // Its counts and summaries are committed or sent: the next invocation reuses its buffers.
            pipeline.recycle_unit(unit);
        }
    }
    for seg in segments {
        if let Segment::Final(unit) = seg {
            pipeline.recycle_unit(unit);
        }
    }
    debug_assert!(used <= s.response_limit || !failed_data);

    let mut response = ResponseWriter::with_capacity(used);
    for (i, (r, a)) in records.iter().zip(answers).enumerate() {
        let id = ids.get(i);
        match a {
            Answer::Failed { echo } => response.entry(id, FirehoseResult::ProcessingFailed, if echo { r.data() } else { b"" }),
            Answer::Empty(result) => response.entry(id, result, b""),
            Answer::Out { out, carries: false } => response.entry_base64(id, FirehoseResult::Ok, &[&outputs[out]]),
            Answer::Out { out, carries: true } => response.entry_base64(id, FirehoseResult::Ok, &[&outputs[out], &summary_data]),
            Answer::Summaries => response.entry_base64(id, FirehoseResult::Ok, &[&summary_data]),
        }
    }
    o.body = response.finish();
    debug_assert_eq!(o.body.as_str().len(), used, "the response's size is computed exactly");
    o.stats.response_bytes = used as u64;
    o.counters = pipeline.take_counters();
    o
}

/// The summary events of the records whose answer is final, and which `Ok` records fit with room kept
/// for them; the summaries of those records are committed to `pipeline`, which counts them when they
/// are sent. The room is found by fitting with the room the summaries took at the previous try: the
/// summaries of fewer `Ok` records need no more room, so this settles in a try or two.
#[allow(clippy::too_many_arguments)]
fn summaries<R>(
    records: &[R],
    work: &[Work],
    segments: &[Segment],
    pipeline: &mut Pipeline,
    mapping: &Mapping,
    fit: &dyn Fn(usize) -> Vec<bool>,
    mut fits: Vec<bool>,
) -> (Vec<bool>, Vec<Summary>) {
    let finals = |fits: &[bool]| -> Vec<&Unit> {
        segments
            .iter()
            .filter_map(|seg| match seg {
                Segment::Final(u) => Some(u),
                Segment::Ok(i) if fits[*i] => match &work[*i] {
                    Work::Ok { unit, .. } => unit.as_ref(),
                    _ => None,
                },
                Segment::Ok(_) => None,
            })
            .collect()
    };
    let mut reserve = 0;
    for attempt in 0.. {
        let events = pipeline.summaries_of(finals(&fits));
        // Measured as they would be written, without asking the budget.
        let mut sink = RecordOut { out: Vec::new(), mapping, time_ms: None, log_group: None, meta: Vec::new(), admit: &mut |_, _| true, staged: None, at: 0 };
        for e in &events {
            pipeline.write_summary(e, &mut sink);
        }
        // Appended to an `Ok` record's data (base64 of the sum is at most the sum of the base64s), or as
        // the data of a `Dropped` record turned `Ok` (whose entry is then no longer).
        let need = base64_len(sink.out.len());
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

/// What [`process`] works with besides the record: buffers reused across records, and the room left.
struct Ctx<'a> {
    /// The record the rules see for a CloudWatch event.
    scratch: &'a mut Vec<u8>,
    /// The record's data, base64-decoded (and, when it was not compressed, its lines).
    raw: &'a mut Vec<u8>,
    /// Base64 bytes the record's `Ok` data may take in the response for its output to be held.
    room: usize,
    /// This invocation's archive, if any.
    archive: Option<&'a mut Archive>,
}

/// Decodes one record and pushes its lines (or log events) through the pipeline, appending its events
/// to `sink`'s buffer. Its decoded payload is released on return: a record whose output turns out not
/// to fit the room left is queued for re-ingestion now, and its output is not kept beyond that room.
/// Its counts are committed when it succeeds; its summaries wait in the returned work until its answer
/// is final.
fn process<R: InputRecord>(r: &R, pipeline: &mut Pipeline, s: &Settings, ctx: Ctx<'_>, sink: &mut RecordOut<'_, '_>, o: &mut Outcome) -> Work {
    let Ctx { scratch, raw, room, archive } = ctx;
    if let Err(e) = decode::decode_base64_into(r.data(), raw) {
        return Work::Failed(e.to_string());
    }
    let raw_len = raw.len() as u64;
    o.stats.bytes_in += raw_len;
    let decoded = match decode::decode(std::mem::take(raw), s.max_decompressed) {
        Ok(d) => d,
        Err(e) => {
            o.stats.bytes_failed += raw_len;
            return Work::Failed(e.to_string());
        }
    };
    let work = push_units(r, &decoded, raw_len, pipeline, s, scratch, room, archive, sink, o);
    if let Payload::Lines(bytes) = decoded.payload {
        // Its capacity serves the next record.
        *raw = bytes;
    }
    work
}

#[allow(clippy::too_many_arguments)]
fn push_units<R: InputRecord>(
    r: &R,
    decoded: &Decoded,
    raw_len: u64,
    pipeline: &mut Pipeline,
    s: &Settings,
    scratch: &mut Vec<u8>,
    room: usize,
    archive: Option<&mut Archive>,
    sink: &mut RecordOut<'_, '_>,
    o: &mut Outcome,
) -> Work {
    // Past this much output the record cannot be held whatever follows (its base64 would exceed the
    // room): the output is then measured, unit by unit, but not kept.
    let out_cap = room / 4 * 3;
    let base = sink.out.len();
    let mut spilled = false;
    let mut groups = Groups::new(s.chunk_limit);
    if let Payload::CloudWatchControl = decoded.payload {
        return Work::Dropped(None);
    }
    let archive_kept = archive.as_deref().is_some_and(|a| a.includes(logtrim_core::archive::Reason::Kept));
    sink.staged = archive.is_some().then(Vec::new);
    sink.at = 0;
    pipeline.begin_unit();
    let mut failed = None;
    match &decoded.payload {
        Payload::CloudWatchControl => {}
        Payload::CloudWatch(cw) => {
            let mut group = sink.log_group.take().unwrap_or_default();
            group.clear();
            group.push_str(&cw.log_group);
            sink.log_group = Some(group);
            for ev in &cw.log_events {
                cloudwatch_record(cw, ev, scratch);
                let before = sink.out.len();
                sink.time_ms = Some(ev.timestamp);
                let fallback = Timestamp::from_millisecond(ev.timestamp).unwrap_or_else(|_| Timestamp::now());
                // Trimmed, sent and counted as the message: a JSON message by its fields, a text one as `log`.
                let pushed = pipeline.push(Record::Event { record: scratch, message: ev.message.as_bytes() }, fallback, sink);
                sink.pushed(pushed, archive_kept);
                groups.push(Groups::cloudwatch_input(ev), sink.out.len() - before);
                if spilled || sink.out.len() - base > out_cap {
                    spilled = true;
                    sink.out.truncate(base);
                }
            }
        }
        Payload::Lines(_) => {
            sink.log_group = None;
            sink.time_ms = r.arrival_ms();
            let fallback = r.arrival_ms().and_then(|ms| Timestamp::from_millisecond(ms).ok()).unwrap_or_else(Timestamp::now);
            for (line_no, line) in decoded.payload.lines() {
                let before = sink.out.len();
                let seen = pipeline.counters().invalid_json;
                let pushed = pipeline.push(line, fallback, sink);
                sink.pushed(pushed, archive_kept);
                // A line starting with `{` that is not JSON fails the record, unless it is not UTF-8: then
                // it is text, as the rules read it. The rules count it either way.
                if pipeline.counters().invalid_json > seen && std::str::from_utf8(line).is_ok() {
                    failed = Some(format!("line {line_no}: invalid JSON"));
                    break;
                }
                groups.push(Groups::line_input(line), sink.out.len() - before);
                if spilled || sink.out.len() - base > out_cap {
                    spilled = true;
                    sink.out.truncate(base);
                }
            }
        }
    }
    let unit = pipeline.end_unit();
    let staged = sink.staged.take().unwrap_or_default();
    if let Some(reason) = failed {
        pipeline.recycle_unit(unit);
        // Nothing of a failed record is counted or summarized: Firehose keeps it whole.
        sink.out.truncate(base);
        o.stats.bytes_failed += raw_len;
        return Work::Failed(reason);
    }
    pipeline.commit_counters(&unit);
    let len = sink.out.len() - base;
    if groups.output == 0 {
        // Nothing to send: the answer is final now, and the data is at hand.
        if let Some(a) = archive {
            crate::archive::add_record(a, r, decoded, &staged, scratch);
        }
        Work::Dropped(Some(unit))
    } else if !spilled && base64_len(len) <= room {
        Work::Ok { out: base..base + len, groups, unit: Some(unit), staged }
    } else {
        sink.out.truncate(base);
        pipeline.recycle_unit(unit);
        if s.can_reingest {
            queue_reingest(r, Some(decoded), &groups, groups.output, s, &mut o.reingest);
        }
        Work::Overflow
    }
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
fn queue_reingest<R: InputRecord>(r: &R, decoded: Option<&Decoded>, groups: &Groups, out_len: usize, s: &Settings, into: &mut Vec<Vec<u8>>) {
    let whole = || decode_base64(r.data()).expect("decoded before");
    if ResponseRecord::serialized_len(r.record_id(), FirehoseResult::Ok, base64_len(out_len)) <= s.chunk_limit {
        into.push(whole());
        return;
    }
    let again;
    let decoded = match decoded {
        Some(d) => d,
        None => match decode::decode_data(r.data(), s.max_decompressed) {
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
    use crate::decode::encode_base64;
    use crate::event::FirehoseRecord;

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
        transform(records, &mut pipeline(&rules, s), s)
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
        let response = o.response();
        // Written as serde_json serializes the response types, byte for byte.
        assert_eq!(o.body.as_bytes(), serde_json::to_vec(&response).unwrap());
        let results: Vec<_> = response.records.iter().map(|r| (r.record_id.as_str(), r.result)).collect();
        assert_eq!(
            results,
            [("1", FirehoseResult::Ok), ("2", FirehoseResult::Dropped), ("3", FirehoseResult::ProcessingFailed), ("4", FirehoseResult::ProcessingFailed)]
        );
        assert_eq!(o.response().records[2].data, "not base64!");
        assert_eq!(o.response().records[3].data, records[3].data);
        assert_eq!(serde_json::to_vec(&o.response()).unwrap().len() as u64, o.stats.response_bytes);
        // The bad record's good first line is not counted.
        assert_eq!(o.counters.total().matched, 2);
        assert_eq!(o.stats.records_failed, 2);
    }

    #[test]
    fn overflow_is_reingested_and_fits() {
        let line = format!(r#"{{"log":"{}"}}"#, "x".repeat(1000));
        let records: Vec<_> = (0..10).map(|i| rec(&i.to_string(), line.as_bytes())).collect();
        let s = Settings { response_limit: 6_000, ..Settings::default() };
        let o = run(&records, &s);
        let bytes = serde_json::to_vec(&o.response()).unwrap().len();
        assert!(bytes <= 6_000, "{bytes}");
        assert_eq!(bytes as u64, o.stats.response_bytes);
        let ok = o.response().records.iter().filter(|r| r.result == FirehoseResult::Ok).count();
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
        assert!(o.response().records.iter().any(|r| r.result == FirehoseResult::ProcessingFailed && r.data.is_empty()));
        assert!(serde_json::to_vec(&o.response()).unwrap().len() <= 6_000);
    }

    #[test]
    fn oversized_records_are_split_into_chunks_that_reproduce_the_output() {
        // One aggregated gzip record whose output alone is over the limit.
        let lines: Vec<String> = (0..200).map(|i| format!(r#"{{"log":"line {i} {}"}}"#, "y".repeat(200))).collect();
        let data = decode::compress(Compression::Gzip, lines.join("\n").as_bytes());
        let records = vec![rec("big", &data)];
        let s = Settings { response_limit: 20_000, chunk_limit: 10_000, ..Settings::default() };
        let o = run(&records, &s);
        assert_eq!(o.response().records[0].result, FirehoseResult::Dropped);
        assert!(o.reingest.len() > 3, "{}", o.reingest.len());
        // Transforming the chunks again yields every line once, each chunk's response within limit.
        let chunks: Vec<_> = o.reingest.iter().enumerate().map(|(i, c)| rec(&format!("c{i}"), c)).collect();
        let mut seen = 0;
        for c in &chunks {
            let again = run(std::slice::from_ref(c), &s);
            assert_eq!(again.response().records[0].result, FirehoseResult::Ok);
            assert!(again.stats.response_bytes <= 10_000 + 200);
            seen += again.counters.total().kept;
        }
        assert_eq!(seen, 200);
    }

    #[test]
    fn r15_failed_data_is_counted_as_it_is_escaped() {
        // Invalid base64 made of characters JSON escapes: echoed as it came, `"` takes two bytes.
        let failed = |data: String| FirehoseRecord { record_id: "q".into(), approximate_arrival_timestamp: None, data };
        let s = Settings::default();
        let o = run(&[failed("\"".repeat(3_500_000))], &s);
        let bytes = serde_json::to_vec(&o.response()).unwrap().len();
        assert_eq!(bytes as u64, o.stats.response_bytes);
        assert!(bytes <= s.response_limit, "{bytes}");
        assert_eq!(o.response().records[0].result, FirehoseResult::ProcessingFailed);
        // Data that fits escaped is echoed, and counted exactly.
        let data = "\"\\\u{1}x".repeat(1000);
        let o = run(&[failed(data.clone()), rec("1", OK_LINE)], &s);
        assert_eq!(o.response().records[0].data, data);
        assert_eq!(serde_json::to_vec(&o.response()).unwrap().len() as u64, o.stats.response_bytes);
    }

    #[test]
    fn r15_a_line_that_is_not_utf8_is_decided_and_sent_as_text() {
        let line = |i: usize| format!(r#"10.0.0.{i} - - [22/Nov/2026:10:00:01 +0000] "GET /x HTTP/1.1" 503 5 "-" "curl/8.5.0""#).into_bytes();
        let bad = [&line(51)[..20], b"\xff", &line(51)[20..]].concat();
        let data: Vec<u8> = (1..=100).flat_map(|i| [if i == 51 { bad.clone() } else { line(i) }, b"\n".to_vec()].concat()).collect();
        let o = run(&[rec("1", &data)], &Settings::default());
        assert_eq!(o.response().records[0].result, FirehoseResult::Ok);
        let out = decode_base64(&o.response().records[0].data).unwrap();
        let events: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&out).into_iter().map(Result::unwrap).collect();
        assert_eq!(events.len(), 100);
        assert_eq!(events[50]["event"], String::from_utf8_lossy(&bad).as_ref(), "U+FFFD for the bad byte");
        assert_eq!(events[51]["event"], String::from_utf8(line(52)).unwrap());
        assert_eq!(o.counters.invalid_utf8, 1);
        // The original output sends the bytes as they came.
        let o = run(&[rec("1", &data)], &Settings { output: Output::Original, ..Settings::default() });
        assert_eq!(decode_base64(&o.response().records[0].data).unwrap(), data);

        // A line starting with `{` that is not UTF-8 is not JSON: the rules read it as text, kept or dropped.
        let rules = RuleSet::from_yaml("t.yaml", "rules:\n  - name: marked\n    when: log contains \"drop-me\"\n    action: drop\ndefault:\n  action: keep\n").unwrap();
        let data = b"{\"log\":\"drop-me \xe9\"}\n{\"log\":\"caf\xe9\"}\n";
        for output in [Output::Hec, Output::Original] {
            let s = Settings { output, ..Settings::default() };
            let o = transform(&[rec("1", data)], &mut pipeline(&rules, &s), &s);
            assert_eq!(o.response().records[0].result, FirehoseResult::Ok, "{output:?}");
            assert_eq!((o.counters.total().kept, o.counters.total().dropped), (1, 1));
            let out = decode_base64(&o.response().records[0].data).unwrap();
            match output {
                Output::Hec => assert_eq!(serde_json::from_slice::<serde_json::Value>(&out).unwrap()["event"], "{\"log\":\"caf\u{fffd}\"}"),
                Output::Original => assert_eq!(out, b"{\"log\":\"caf\xe9\"}\n"),
            }
        }
        // Valid UTF-8 that is not JSON still fails the record, and nothing of it is counted.
        let s = Settings::default();
        let o = transform(&[rec("1", b"caf\xe9\n{\"log\":\"x\"\n")], &mut pipeline(&rules, &s), &s);
        assert_eq!(o.response().records[0].result, FirehoseResult::ProcessingFailed);
        assert_eq!((o.counters.invalid_utf8, o.counters.total().matched), (0, 0));
    }

    #[test]
    fn a_held_record_that_no_longer_fits_is_decoded_again_and_split() {
        // Held when processed; the failed record after it takes the room, so it is split from its data.
        let lines: Vec<String> = (0..60).map(|i| format!(r#"{{"log":"line {i} {}"}}"#, "y".repeat(100))).collect();
        let big = rec("big", &decode::compress(Compression::Gzip, lines.join("\n").as_bytes()));
        let failed = FirehoseRecord { record_id: "bad".into(), approximate_arrival_timestamp: None, data: "!".repeat(10_000) };
        let s = Settings { response_limit: 20_000, chunk_limit: 5_000, ..Settings::default() };
        let alone = run(std::slice::from_ref(&big), &s);
        assert_eq!(alone.response().records[0].result, FirehoseResult::Ok, "fits without the failed record");
        let o = run(&[big, failed], &s);
        assert_eq!(o.response().records[0].result, FirehoseResult::Dropped);
        assert_eq!(o.response().records[1].data.len(), 10_000);
        assert!(o.reingest.len() > 1, "{}", o.reingest.len());
        let kept: u64 = o.reingest.iter().map(|c| run(&[rec("c", c)], &s).counters.total().kept).sum();
        assert_eq!(kept, 60);
        assert_eq!(serde_json::to_vec(&o.response()).unwrap().len() as u64, o.stats.response_bytes);
    }

    #[test]
    fn a_short_output_from_a_kinesis_source_is_answered() {
        // An `Ok` entry shorter than the `ProcessingFailed` one it would replace.
        let s = Settings { output: Output::Original, can_reingest: false, ..Settings::default() };
        let o = run(&[rec("1", b"a")], &s);
        assert_eq!(o.response().records[0].result, FirehoseResult::Ok);
        assert_eq!(serde_json::to_vec(&o.response()).unwrap().len() as u64, o.stats.response_bytes);
    }

    #[test]
    fn original_output_keeps_bytes() {
        let s = Settings { output: Output::Original, ..Settings::default() };
        let data = [OK_LINE, PROBE, b"plain"].join(&b"\n"[..]);
        let o = run(&[rec("1", &data)], &s);
        let data = decode_base64(&o.response().records[0].data).unwrap();
        assert_eq!(data, [OK_LINE, b"\n", b"plain\n"].concat());
    }
}
