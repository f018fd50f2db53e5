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
//!   whatever the rules would have said about that line.
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

use logtrim_core::{Action, Decider, Decision, RuleCounters, RuleId};

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

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            output: Output::Hec,
            mapping: Mapping::new(&Default::default()).expect("the default mapping compiles"),
            response_limit: 6_000_000,
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
    fn add(&mut self, d: Decision, bytes: u64) {
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
}

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
    Ok { out: Vec<u8>, decoded: Decoded, unit_out: Vec<usize> },
}

/// Transforms one invocation's records. See the module docs for the guarantees.
pub fn transform(records: &[FirehoseRecord], decider: &mut Decider, s: &Settings) -> Outcome {
    let mut o = Outcome::default();
    o.stats.records_in = records.len() as u64;
    let mut scratch = Vec::new();
    let work: Vec<Work> = records
        .iter()
        .map(|r| {
            let w = process(r, decider, s, &mut scratch, &mut o);
            if let Work::Failed(reason) = &w {
                tracing::warn!(record_id = %r.record_id, reason = %reason, "Record failed.");
            }
            w
        })
        .collect();

    // Room every record needs whatever happens.
    let ok_fallback = if s.can_reingest { FirehoseResult::Dropped } else { FirehoseResult::ProcessingFailed };
    let envelope = r#"{"records":[]}"#.len() + records.len().saturating_sub(1);
    let mandatory = |failed_data: bool| -> usize {
        envelope
            + records
                .iter()
                .zip(&work)
                .map(|(r, w)| match w {
                    Work::Failed(_) => ResponseRecord::serialized_len(
                        &r.record_id,
                        FirehoseResult::ProcessingFailed,
                        if failed_data { r.data.len() } else { 0 },
                    ),
                    Work::Dropped => ResponseRecord::serialized_len(&r.record_id, FirehoseResult::Dropped, 0),
                    Work::Ok { .. } => ResponseRecord::serialized_len(&r.record_id, ok_fallback, 0),
                })
                .sum::<usize>()
    };
    let mut failed_data = true;
    let mut used = mandatory(true);
    if used > s.response_limit {
        // Only possible with a limit below the request size: Firehose keeps its own copy of failed
        // records' data, so answer them with empty data rather than exceed the limit.
        tracing::warn!(needed = used, limit = s.response_limit, "Failed records answered without their data to fit the response.");
        failed_data = false;
        used = mandatory(false);
    }

    for (r, w) in records.iter().zip(work) {
        let rec = |result, data| ResponseRecord { record_id: r.record_id.clone(), result, data };
        let answer = match w {
            Work::Failed(_) => {
                o.stats.records_failed += 1;
                rec(FirehoseResult::ProcessingFailed, if failed_data { r.data.clone() } else { String::new() })
            }
            Work::Dropped => {
                o.stats.records_dropped += 1;
                rec(FirehoseResult::Dropped, String::new())
            }
            Work::Ok { out, decoded, unit_out } => {
                let full = ResponseRecord::serialized_len(&r.record_id, FirehoseResult::Ok, base64_len(out.len()));
                let extra = full - ResponseRecord::serialized_len(&r.record_id, ok_fallback, 0);
                if used + extra <= s.response_limit {
                    used += extra;
                    o.stats.records_ok += 1;
                    o.stats.bytes_out += out.len() as u64;
                    rec(FirehoseResult::Ok, encode_base64(&out))
                } else if s.can_reingest {
                    if full <= s.chunk_limit {
                        o.reingest.push(decode_base64(&r.data).expect("decoded before"));
                    } else {
                        o.reingest.extend(split(&decoded, &unit_out, s.chunk_limit));
                    }
                    o.stats.records_reingested += 1;
                    o.stats.records_dropped += 1;
                    rec(FirehoseResult::Dropped, String::new())
                } else {
                    o.stats.records_overflow_failed += 1;
                    o.stats.records_failed += 1;
                    rec(FirehoseResult::ProcessingFailed, String::new())
                }
            }
        };
        o.response.records.push(answer);
    }
    debug_assert!(used <= s.response_limit || !failed_data);
    o.stats.response_bytes = used as u64;
    o
}

/// Decodes, decides and encodes one record.
fn process(r: &FirehoseRecord, decider: &mut Decider, s: &Settings, scratch: &mut Vec<u8>, o: &mut Outcome) -> Work {
    let raw = match decode_base64(&r.data) {
        Ok(raw) => raw,
        Err(e) => return Work::Failed(e.to_string()),
    };
    let raw_len = raw.len() as u64;
    o.stats.bytes_in += raw_len;
    let fail = |o: &mut Outcome, reason: String| {
        o.stats.bytes_failed += raw_len;
        Work::Failed(reason)
    };
    let decoded = match decode::decode(raw, s.max_decompressed) {
        Ok(d) => d,
        Err(e) => return fail(o, e.to_string()),
    };
    let mut out = Vec::new();
    let mut unit_out = Vec::new();
    // Decisions are committed to the tally only when the whole record succeeds.
    let mut decisions: Vec<(Decision, u64)> = Vec::new();
    match &decoded.payload {
        Payload::CloudWatchControl => return Work::Dropped,
        Payload::CloudWatch(cw) => {
            for ev in &cw.log_events {
                cloudwatch_record(cw, ev, scratch);
                let d = decider.decide_uncounted(scratch);
                decisions.push((d, ev.message.len() as u64));
                let before = out.len();
                if d.action == Action::Keep {
                    match s.output {
                        Output::Hec => {
                            let input = Input {
                                record: scratch,
                                event_text: Some(&ev.message),
                                fallbacks: Fallbacks {
                                    time_ms: Some(ev.timestamp),
                                    source: Some(&cw.log_group),
                                    sourcetype: Some("aws:cloudwatchlogs"),
                                },
                            };
                            if let Err(e) = s.mapping.encode(input, &mut out) {
                                return fail(o, format!("log event {:?}: {e}", ev.id));
                            }
                        }
                        Output::Original => {
                            out.extend_from_slice(ev.message.as_bytes());
                            out.push(b'\n');
                        }
                    }
                }
                unit_out.push(out.len() - before);
            }
        }
        Payload::Lines(_) => {
            for (line_no, line) in decoded.payload.lines() {
                let d = decider.decide_uncounted(line);
                decisions.push((d, line.len() as u64));
                let before = out.len();
                let result = match (d.action, s.output) {
                    (Action::Keep, Output::Hec) => {
                        let input = Input {
                            record: line,
                            event_text: None,
                            fallbacks: Fallbacks { time_ms: r.approximate_arrival_timestamp, ..Fallbacks::default() },
                        };
                        s.mapping.encode(input, &mut out).map_err(|e| e.to_string())
                    }
                    (Action::Keep, Output::Original) => validate(line).map(|()| {
                        out.extend_from_slice(line);
                        out.push(b'\n');
                    }),
                    // A dropped line is still checked: a corrupt record is never silently dropped.
                    (Action::Drop, _) => validate(line),
                };
                if let Err(e) = result {
                    return fail(o, format!("line {line_no}: {e}"));
                }
                unit_out.push(out.len() - before);
            }
        }
    }
    for (d, bytes) in decisions {
        o.tally.add(d, bytes);
    }
    if out.is_empty() { Work::Dropped } else { Work::Ok { out, decoded, unit_out } }
}

/// A line starting with `{` must be valid JSON.
fn validate(line: &[u8]) -> Result<(), String> {
    if decode::is_json_line(line) {
        serde_json::from_slice::<serde::de::IgnoredAny>(line).map_err(|e| format!("invalid JSON: {e}"))?;
    }
    Ok(())
}

/// Largest chunk input: below Firehose's 1,000 KiB record limit, with room for the CloudWatch
/// envelope.
const CHUNK_INPUT_LIMIT: usize = 900_000;

/// Splits a record into chunks of whole units (lines or log events) whose serialized output stays
/// under `chunk_limit` and whose input stays under [`CHUNK_INPUT_LIMIT`], framed and compressed as the
/// original was. A single unit over the limits is a chunk of its own.
fn split(decoded: &Decoded, unit_out: &[usize], chunk_limit: usize) -> Vec<Vec<u8>> {
    let out_limit = chunk_limit / 4 * 3; // output bytes before base64
    let sizes: Vec<usize> = match &decoded.payload {
        Payload::Lines(_) => decoded.payload.lines().map(|(_, l)| l.len() + 1).collect(),
        Payload::CloudWatch(cw) => cw.log_events.iter().map(|e| e.message.len() + e.id.len() + 64).collect(),
        Payload::CloudWatchControl => return Vec::new(),
    };
    let mut groups: Vec<std::ops::Range<usize>> = Vec::new();
    let (mut gin, mut gout) = (0, 0);
    for (i, (&inp, &outp)) in sizes.iter().zip(unit_out).enumerate() {
        match groups.last_mut() {
            Some(g) if gin + inp <= CHUNK_INPUT_LIMIT && gout + outp <= out_limit => {
                g.end = i + 1;
                gin += inp;
                gout += outp;
            }
            _ => {
                groups.push(i..i + 1);
                gin = inp;
                gout = outp;
            }
        }
    }
    let encode = |bytes: Vec<u8>| match decoded.compression {
        Compression::None => bytes,
        c => decode::compress(c, &bytes),
    };
    match &decoded.payload {
        Payload::Lines(_) => {
            let lines: Vec<&[u8]> = decoded.payload.lines().map(|(_, l)| l).collect();
            groups
                .into_iter()
                .map(|g| {
                    let mut b = Vec::new();
                    for l in &lines[g] {
                        b.extend_from_slice(l);
                        b.push(b'\n');
                    }
                    encode(b)
                })
                .collect()
        }
        Payload::CloudWatch(cw) => groups
            .into_iter()
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
    fn original_output_keeps_bytes() {
        let s = Settings { output: Output::Original, ..Settings::default() };
        let data = [OK_LINE, PROBE, b"plain"].join(&b"\n"[..]);
        let o = run(&[rec("1", &data)], &s);
        let data = decode_base64(&o.response.records[0].data).unwrap();
        assert_eq!(data, [OK_LINE, b"\n", b"plain\n"].concat());
    }
}
