//! The archive of what an invocation does not send (`LOGTRIM_ARCHIVE`): every event the rules drop,
//! sampling leaves out or the budget sheds (and the kept ones, when the rule file's `archive.include`
//! says `kept`) goes, through the core's [`Archive`], into one object per invocation (plus its index),
//! written before the response is returned.
//!
//! - **One object.** The invocation's archive files every record under its delivery stream's name
//!   ([`ArchiveOptions::source`]) and is sealed at the end, so an invocation writes one object — two when
//!   its events straddle an hour (partitions are by the events' own hour, which replay's `--from`/`--to`
//!   rely on), more only when its archived lines exceed `archive.object_size`. The rule file's partition
//!   fields (a namespace, a log group) are listed in the index instead.
//! - **Once, when final.** The pipeline tells the transform which events it did not send while a record
//!   is processed; they are archived only once that record's answer is final: at once for a record
//!   answered `Dropped`, at the end for one answered `Ok`. A record that is re-ingested is archived when it
//!   comes back; a failed one not at all (Firehose keeps its copy). A record answered `Ok` is decoded
//!   again then, so what waits for the answer is a position per event, not the events.
//! - **Stable ids.** An event's origin is its CloudWatch event id, or the Firehose `recordId` and line
//!   number (Firehose retries a batch with the same record ids): a retried invocation archives the same
//!   ids again, and a replay sends each once.
//! - **Failure.** Each object and index is put with retries ([`RetryPolicy`], on top of the SDK's own);
//!   if one still fails the invocation fails (Firehose retries the batch, and the objects this attempt
//!   did write are written again under new names: the same ids twice, which a replay sends once), unless
//!   `LOGTRIM_ARCHIVE_ON_FAILURE=continue`: then the response is returned and the events not archived are
//!   counted (`ArchiveFailedEvents` in the EMF line) and logged.

use logtrim_aws::archive::{ObjectStore, Store, StoreError};
use logtrim_core::archive::{Archive, ArchiveOptions, Origin, Reason};
use logtrim_core::run::pipeline::NotSent;
use logtrim_core::{Decision, Record, RuleSet};

use crate::decode::{Decoded, Payload, cloudwatch_record};
use crate::event::InputRecord;
use crate::reingest::RetryPolicy;

/// An event of a Firehose record that waits for the record's answer: its position among the record's
/// events (lines, or log events), its decision, and why it was not sent (`None`: it was sent, and kept
/// events are archived).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Staged {
    pub unit: u32,
    pub decision: Decision,
    pub why: Option<NotSent>,
}

/// Archives the staged events of a record whose answer is final, from its decoded data.
pub(crate) fn add_record(archive: &mut Archive, r: &impl InputRecord, decoded: &Decoded, staged: &[Staged], scratch: &mut Vec<u8>) {
    let add = |archive: &mut Archive, record: Record<'_>, s: &Staged, origin: &Origin<'_>| match s.why {
        Some(why) => archive.add_not_sent(record, s.decision, why, origin),
        None => archive.add(record, s.decision, Reason::Kept, origin),
    };
    match &decoded.payload {
        Payload::Lines(_) => {
            let mut next = staged.iter().peekable();
            for (i, (line_no, line)) in decoded.payload.lines().enumerate() {
                let Some(s) = next.peek() else { break };
                if s.unit as usize != i {
                    continue;
                }
                let origin = Origin { source: r.record_id(), position: Some(line_no as u64), time_ms: r.arrival_ms() };
                add(archive, Record::Line(line), s, &origin);
                next.next();
            }
        }
        Payload::CloudWatch(cw) => {
            for s in staged {
                let Some(ev) = cw.log_events.get(s.unit as usize) else { continue };
                cloudwatch_record(cw, ev, scratch);
                let origin = Origin { source: &ev.id, position: None, time_ms: Some(ev.timestamp) };
                add(archive, Record::Event { record: scratch, message: ev.message.as_bytes() }, s, &origin);
            }
        }
        Payload::CloudWatchControl => {}
    }
}

/// What to do when the archive cannot be written after the retries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnFailure {
    /// Fail the invocation: Firehose retries the batch (`LOGTRIM_ARCHIVE_ON_FAILURE=fail`, the default).
    #[default]
    Fail,
    /// Answer all the same, count and log the events not archived (`continue`).
    Continue,
}

/// Where and how an instance archives, made once per cold start.
pub struct Archiver {
    /// Where the objects go.
    pub store: Store,
    /// Names this instance in object names (unique among the function's instances).
    pub writer: String,
    /// What a failed write does.
    pub on_failure: OnFailure,
    /// Attempts per object.
    pub retry: RetryPolicy,
    /// The sequence number of this instance's next object; held for an invocation's whole archive, so
    /// two invocations never name an object alike.
    pub next_seq: tokio::sync::Mutex<u64>,
}

/// What writing an invocation's archive did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArchiveReport {
    /// Events archived (in objects written).
    pub events: u64,
    /// Objects written (each with its index: two PUTs).
    pub objects: u64,
    /// Their compressed bytes.
    pub bytes: u64,
    /// Events that were to be archived but are not: their object could not be written
    /// ([`OnFailure::Continue`]).
    pub failed_events: u64,
}

/// An object (or its index) could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot archive {events} events to {key} after {attempts} attempts: {last}")]
pub struct ArchiveError {
    /// The key that failed.
    pub key: String,
    /// Attempts made.
    pub attempts: u32,
    /// Events of this invocation not archived (that object's and the ones after it).
    pub events: u64,
    /// What was written before.
    pub written: ArchiveReport,
    /// The last error.
    #[source]
    pub last: StoreError,
}

impl Archiver {
    /// An archiver writing to `store`, named after the instance: its start time and Lambda log stream
    /// (unique per instance).
    pub fn new(store: Store, on_failure: OnFailure, retry: RetryPolicy) -> Archiver {
        let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis();
        let stream = std::env::var("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_default();
        // The log stream name ends with the instance's hex id; its tail keeps object names short.
        let tail: String = stream.chars().rev().take(12).collect::<Vec<_>>().into_iter().rev().collect();
        let writer = match tail.is_empty() {
            true => format!("lambda-{ms}-{}", std::process::id()),
            false => format!("lambda-{ms}-{}-{tail}", std::process::id()),
        };
        Archiver { store, writer, on_failure, retry, next_seq: tokio::sync::Mutex::new(1) }
    }

    /// A fresh archive for one invocation of `stream`, its objects numbered from `first_seq`.
    pub fn archive(&self, rules: &RuleSet, stream: &str, first_seq: u64) -> Archive {
        Archive::new(rules, ArchiveOptions { writer: self.writer.clone(), first_seq, source: Some(stream.to_string()), ..ArchiveOptions::default() })
    }

    /// Seals `archive` and writes every object, each followed by its index (a replay reads indexes, so
    /// an index is only ever beside a whole object).
    pub async fn write(&self, archive: &mut Archive) -> Result<ArchiveReport, ArchiveError> {
        archive.seal_all();
        let mut report = ArchiveReport::default();
        while let Some(o) = archive.pop() {
            let index = o.index_json();
            let records = o.index.records;
            let bytes = o.body.len() as u64;
            let written = async {
                self.put(&o.key, o.body).await?;
                self.put(&o.index_key, index).await
            };
            if let Err((key, attempts, last)) = written.await {
                let rest: u64 = std::iter::from_fn(|| archive.pop()).map(|o| o.index.records).sum();
                return Err(ArchiveError { key, attempts, events: records + rest, written: report, last });
            }
            report.events += records;
            report.objects += 1;
            report.bytes += bytes;
        }
        Ok(report)
    }

    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), (String, u32, StoreError)> {
        let mut attempt = 1;
        loop {
            match self.store.put(key, body.clone()).await {
                Ok(()) => return Ok(()),
                // A store that is not there is not coming back within an invocation.
                Err(e) if attempt >= self.retry.max_attempts || matches!(e, StoreError::BadLocation(_)) => return Err((key.to_string(), attempt, e)),
                Err(e) => {
                    tracing::warn!(key, attempt, error = %e, "Archive write failed; retrying.");
                    tokio::time::sleep(self.retry.backoff(attempt)).await;
                    attempt += 1;
                }
            }
        }
    }
}
