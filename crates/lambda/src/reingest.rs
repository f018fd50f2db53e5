//! Re-ingesting overflow into the delivery stream with PutRecordBatch, as AWS's CloudWatch Logs
//! processor blueprint does: batches of at most 500 records and 4 MiB, retrying what failed (the whole
//! call, or the entries that came back with an `ErrorCode`) with exponential backoff. If records are
//! still not accepted after the last attempt the caller fails the invocation, so Firehose retries the
//! whole batch — records re-ingested by the failed attempt are then re-ingested again (duplicates).
//!
//! [`PutRecordBatch`] is the seam: [`Firehose`] is the real client, tests inject failures.

use std::future::Future;
use std::time::Duration;

use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;

/// PutRecordBatch: at most this many records per call.
pub const MAX_BATCH_RECORDS: usize = 500;
/// PutRecordBatch: at most this many bytes of data per call (4 MiB).
pub const MAX_BATCH_BYTES: usize = 4 << 20;
/// Firehose: at most this many bytes per record (1,000 KiB).
pub const MAX_RECORD_BYTES: usize = 1_024_000;

/// A whole PutRecordBatch call failed (network, throttling, missing stream…).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{0}")]
pub struct PutError(pub String);

/// The one operation re-ingestion needs.
pub trait PutRecordBatch {
    /// Sends `records` to `stream` in one call. On success returns one entry per record: `None` when
    /// accepted, or the entry's error code.
    fn put_record_batch(
        &self,
        stream: &str,
        records: &[&[u8]],
    ) -> impl Future<Output = Result<Vec<Option<String>>, PutError>> + Send;
}

/// How hard to try.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per record before giving up (1 = no retry).
    pub max_attempts: u32,
    /// Delay before the first retry; doubled per attempt, with jitter.
    pub base_backoff: Duration,
    /// Cap on the delay.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy { max_attempts: 10, base_backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(5) }
    }
}

impl RetryPolicy {
    /// The delay after failed attempt `attempt` (1-based): between half and all of
    /// `base · 2^(attempt-1)`, capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let full = self.base_backoff.saturating_mul(1 << (attempt - 1).min(20)).min(self.max_backoff);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let jitter = f64::from(nanos % 1000) / 1000.0;
        full.mul_f64(0.5 + jitter / 2.0)
    }
}

/// What re-ingestion did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReingestReport {
    /// Records accepted.
    pub records: usize,
    /// Their bytes.
    pub bytes: usize,
    /// PutRecordBatch calls made.
    pub calls: usize,
    /// Entries (or whole-call records) that had to be sent again.
    pub retried: usize,
}

/// Re-ingestion did not complete: the invocation must fail.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ReingestError {
    /// A record larger than Firehose accepts (a bug upstream: chunks are sized below it).
    #[error("re-ingest record {index} is {len} bytes, over Firehose's {MAX_RECORD_BYTES}")]
    TooLarge {
        /// Its position.
        index: usize,
        /// Its size.
        len: usize,
    },
    /// Records still failing after the last attempt.
    #[error("{failed} of {total} re-ingested records not accepted by {stream:?} after {attempts} attempts; last error: {last}")]
    Exhausted {
        /// The stream.
        stream: String,
        /// Records not accepted.
        failed: usize,
        /// Records to re-ingest.
        total: usize,
        /// Attempts made.
        attempts: u32,
        /// The last error code or message.
        last: String,
    },
}

/// Splits record indices into PutRecordBatch-sized batches (≤ 500 records, ≤ 4 MiB), in order.
pub fn batches(records: &[Vec<u8>], indices: &[usize]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut bytes = 0;
    for &i in indices {
        let len = records[i].len();
        match out.last_mut() {
            Some(b) if b.len() < MAX_BATCH_RECORDS && bytes + len <= MAX_BATCH_BYTES => {
                b.push(i);
                bytes += len;
            }
            _ => {
                out.push(vec![i]);
                bytes = len;
            }
        }
    }
    out
}

/// Puts every record into `stream`, retrying failures per `policy`.
pub async fn reingest<P: PutRecordBatch>(
    client: &P,
    stream: &str,
    records: &[Vec<u8>],
    policy: &RetryPolicy,
) -> Result<ReingestReport, ReingestError> {
    if let Some((index, r)) = records.iter().enumerate().find(|(_, r)| r.len() > MAX_RECORD_BYTES) {
        return Err(ReingestError::TooLarge { index, len: r.len() });
    }
    let mut report = ReingestReport::default();
    let mut pending: Vec<usize> = (0..records.len()).collect();
    let mut last = String::new();
    let mut attempt = 0;
    while !pending.is_empty() {
        attempt += 1;
        if attempt > policy.max_attempts.max(1) {
            return Err(ReingestError::Exhausted {
                stream: stream.to_string(),
                failed: pending.len(),
                total: records.len(),
                attempts: attempt - 1,
                last,
            });
        }
        if attempt > 1 {
            report.retried += pending.len();
            let wait = policy.backoff(attempt - 1);
            tracing::warn!(stream, attempt, pending = pending.len(), wait_ms = wait.as_millis() as u64, last = %last, "Retrying re-ingestion.");
            tokio::time::sleep(wait).await;
        }
        let mut failed = Vec::new();
        for batch in batches(records, &pending) {
            let data: Vec<&[u8]> = batch.iter().map(|&i| records[i].as_slice()).collect();
            report.calls += 1;
            match client.put_record_batch(stream, &data).await {
                Ok(codes) if codes.len() == batch.len() => {
                    for (&i, code) in batch.iter().zip(codes) {
                        match code {
                            None => {
                                report.records += 1;
                                report.bytes += records[i].len();
                            }
                            Some(c) => {
                                last = c;
                                failed.push(i);
                            }
                        }
                    }
                }
                Ok(codes) => {
                    last = format!("{} responses for {} records", codes.len(), batch.len());
                    failed.extend(batch);
                }
                Err(e) => {
                    last = e.0;
                    failed.extend(batch);
                }
            }
        }
        pending = failed;
    }
    Ok(report)
}

/// The real client.
#[derive(Clone, Debug)]
pub struct Firehose(pub aws_sdk_firehose::Client);

impl PutRecordBatch for Firehose {
    fn put_record_batch(
        &self,
        stream: &str,
        records: &[&[u8]],
    ) -> impl Future<Output = Result<Vec<Option<String>>, PutError>> + Send {
        let n = records.len();
        let entries = records
            .iter()
            .map(|r| Record::builder().data(Blob::new(r.to_vec())).build().expect("data is set"))
            .collect();
        let req = self.0.put_record_batch().delivery_stream_name(stream).set_records(Some(entries));
        async move {
            let out = req
                .send()
                .await
                .map_err(|e| PutError(aws_sdk_firehose::error::DisplayErrorContext(e).to_string()))?;
            if out.failed_put_count() == 0 {
                // Trust the count: moto, for one, answers some destinations with no entries at all.
                return Ok(vec![None; n]);
            }
            let responses = out.request_responses();
            if responses.len() != n {
                return Err(PutError(format!("{} failed, {} responses for {n} records", out.failed_put_count(), responses.len())));
            }
            Ok(responses
                .iter()
                .map(|r| {
                    r.error_code().map(|c| format!("{c}: {}", r.error_message().unwrap_or_default()))
                })
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records every call; fails entries or calls as scripted.
    #[derive(Default)]
    struct Scripted {
        calls: Mutex<Vec<Vec<Vec<u8>>>>,
        /// Per call number (0-based): entry indices to fail, or `None` to fail the call.
        script: Vec<Option<Vec<usize>>>,
    }

    impl PutRecordBatch for Scripted {
        fn put_record_batch(
            &self,
            _stream: &str,
            records: &[&[u8]],
        ) -> impl Future<Output = Result<Vec<Option<String>>, PutError>> + Send {
            let mut calls = self.calls.lock().unwrap();
            let n = calls.len();
            calls.push(records.iter().map(|r| r.to_vec()).collect());
            let result = match self.script.get(n) {
                Some(None) => Err(PutError("ServiceUnavailableException".into())),
                Some(Some(fail)) => Ok((0..records.len())
                    .map(|i| fail.contains(&i).then(|| "ServiceUnavailableException: slow down".to_string()))
                    .collect()),
                None => Ok(vec![None; records.len()]),
            };
            std::future::ready(result)
        }
    }

    fn fast(max_attempts: u32) -> RetryPolicy {
        RetryPolicy { max_attempts, base_backoff: Duration::ZERO, max_backoff: Duration::ZERO }
    }

    fn recs(n: usize, len: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| {
                let mut v = vec![b'0'; len];
                let id = i.to_string();
                v[len - id.len()..].copy_from_slice(id.as_bytes());
                v
            })
            .collect()
    }

    #[test]
    fn batches_respect_count_and_bytes() {
        let r = recs(1201, 10);
        let idx: Vec<usize> = (0..r.len()).collect();
        let b = batches(&r, &idx);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [500, 500, 201]);
        let big = recs(9, 1_000_000);
        let b = batches(&big, &(0..9).collect::<Vec<_>>());
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 1]);
    }

    #[tokio::test]
    async fn retries_only_failed_entries() {
        let client = Scripted { script: vec![Some(vec![1, 3])], ..Default::default() };
        let r = recs(5, 3);
        let rep = reingest(&client, "s", &r, &fast(3)).await.unwrap();
        assert_eq!(rep, ReingestReport { records: 5, bytes: 15, calls: 2, retried: 2 });
        let calls = client.calls.lock().unwrap();
        assert_eq!(calls[1], vec![r[1].clone(), r[3].clone()]);
        // Every record arrived exactly once.
        let mut arrived: Vec<_> = calls[0].iter().enumerate().filter(|(i, _)| ![1, 3].contains(i)).map(|(_, v)| v.clone()).collect();
        arrived.extend(calls[1].iter().cloned());
        arrived.sort();
        assert_eq!(arrived, r);
    }

    #[tokio::test]
    async fn retries_failed_calls_then_gives_up() {
        let client = Scripted { script: vec![None, Some(vec![0])], ..Default::default() };
        let r = recs(2, 3);
        let rep = reingest(&client, "s", &r, &fast(3)).await.unwrap();
        assert_eq!(rep.calls, 3);
        assert_eq!(rep.records, 2);

        let client = Scripted { script: vec![None, None, None], ..Default::default() };
        let e = reingest(&client, "s", &r, &fast(3)).await.unwrap_err();
        assert_eq!(
            e,
            ReingestError::Exhausted { stream: "s".into(), failed: 2, total: 2, attempts: 3, last: "ServiceUnavailableException".into() }
        );
    }

    #[tokio::test]
    async fn refuses_oversized_records() {
        let client = Scripted::default();
        let r = vec![vec![b'x'; MAX_RECORD_BYTES + 1]];
        assert!(matches!(reingest(&client, "s", &r, &fast(1)).await, Err(ReingestError::TooLarge { index: 0, .. })));
        assert!(client.calls.lock().unwrap().is_empty());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy { max_attempts: 5, base_backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(1) };
        let b1 = p.backoff(1);
        assert!(b1 >= Duration::from_millis(50) && b1 <= Duration::from_millis(100));
        assert!(p.backoff(10) <= Duration::from_secs(1));
        assert!(p.backoff(10) >= Duration::from_millis(500));
    }
}
