//! One invocation: transform, write the archive, re-ingest the overflow, then emit the EMF line and
//! answer. The archive is written before re-ingestion: should either fail, Firehose retries the batch,
//! and an archive written twice holds the same ids (a replay sends them once) where records re-ingested
//! twice would reach Splunk twice.

use std::sync::Mutex;
use std::time::Instant;

use logtrim_aws::DynamoLeaseStore;
use logtrim_core::budget::{Accountant, Admission, BudgetStatus, Lease, LeaseRequest, LeaseStore, MemoryStore, StoreUnavailable, Timestamp};
use logtrim_core::{Pipeline, RuleSet};

use crate::archive::{ArchiveError, ArchiveReport, Archiver, OnFailure};
use crate::emf;
use crate::event::{EventRef, FirehoseEvent, FirehoseResponse, ResponseJson};
use crate::reingest::{self, PutRecordBatch, ReingestError, RetryPolicy};
use crate::transform::{self, Settings};

/// Everything an invocation needs, built once per cold start.
pub struct State<P> {
    /// The compiled rule set (for rule names in metrics).
    pub rules: RuleSet,
    /// Reused across invocations (Lambda runs one at a time per instance); its buffers stay grown.
    /// Made for `settings.output`: replace it when that changes.
    pub pipeline: Mutex<Pipeline>,
    /// Transform settings; `can_reingest` is decided per event.
    pub settings: Settings,
    /// Re-ingestion target; `None` takes it from the event's `deliveryStreamArn`.
    pub delivery_stream: Option<String>,
    /// PutRecordBatch retries.
    pub retry: RetryPolicy,
    /// The PutRecordBatch client.
    pub client: P,
    /// For the EMF dimension.
    pub function_name: String,
    /// The daily byte budget, when the rule set has one and a store is configured.
    pub budget: Option<Budget>,
    /// The archive of what is not sent (`LOGTRIM_ARCHIVE`).
    pub archive: Option<Archiver>,
    /// Whether the EMF line is printed (it is always rendered): off in benchmarks, whose output it
    /// would flood.
    pub print_emf: bool,
}

/// This instance's share of the daily byte budget.
pub struct Budget {
    /// Async lock: held across the store calls of one invocation (instances run one at a time).
    pub accountant: tokio::sync::Mutex<Accountant>,
    /// Where leases come from.
    pub store: BudgetBackend,
}

/// A lease store the handler can await.
pub enum BudgetBackend {
    /// This instance alone (tests; a single instance).
    Local(MemoryStore),
    /// Shared by the fleet.
    DynamoDb(DynamoLeaseStore),
}

impl BudgetBackend {
    async fn lease(&self, req: &LeaseRequest) -> Result<Lease, StoreUnavailable> {
        match self {
            BudgetBackend::Local(m) => m.clone().lease(req),
            BudgetBackend::DynamoDb(d) => d.lease(req).await,
        }
    }

    /// What the accountant asks for, answered (at most three round trips), holding at least `need` bytes
    /// when the store grants them.
    async fn sync(&self, acc: &mut Accountant, need: u64) {
        for _ in 0..3 {
            let Some(req) = acc.lease_request_for(Timestamp::now(), need) else { break };
            let reply = self.lease(&req).await;
            acc.apply(Timestamp::now(), reply);
        }
    }
}

impl Budget {
    /// A budget for `rules` (which must have a `budget:` section) on `store`.
    pub fn new(rules: &RuleSet, store: BudgetBackend) -> Option<Budget> {
        let spec = rules.budget()?.clone();
        Some(Budget { accountant: tokio::sync::Mutex::new(Accountant::new(spec, Timestamp::now())), store })
    }
}

impl<P> State<P> {
    /// A state with defaults for everything but the rules and client.
    pub fn new(rules: RuleSet, settings: Settings, client: P) -> State<P> {
        State {
            pipeline: Mutex::new(transform::pipeline(&rules, &settings)),
            rules,
            settings,
            delivery_stream: None,
            retry: RetryPolicy::default(),
            client,
            function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "logtrim-lambda".into()),
            budget: None,
            archive: None,
            print_emf: true,
        }
    }

    /// Archives what is not sent through `archiver`; summaries then say where it is.
    pub fn with_archive(mut self, archiver: Archiver) -> State<P> {
        let archive = archiver.archive(&self.rules, "", 1);
        self.pipeline.get_mut().unwrap_or_else(|p| p.into_inner()).archive_summaries_at(&archive, &logtrim_aws::archive::ObjectStore::url(&archiver.store));
        self.archive = Some(archiver);
        self
    }
}

/// Why an invocation fails. Firehose then retries the whole batch.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The request body is not a Firehose transformation event.
    #[error("the request is not a Firehose transformation event: {0}")]
    BadEvent(#[source] crate::event::EventError),
    /// Overflow must be re-ingested but there is no stream name.
    #[error("overflow must be re-ingested but the stream is unknown: set LOGTRIM_DELIVERY_STREAM (deliveryStreamArn was {0:?})")]
    NoDeliveryStream(Option<String>),
    /// Re-ingestion did not complete.
    #[error(transparent)]
    Reingest(#[from] ReingestError),
    /// The archive could not be written (and `LOGTRIM_ARCHIVE_ON_FAILURE` is not `continue`).
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(e: HandlerError) -> lambda_runtime::Diagnostic {
        let error_type = match e {
            HandlerError::BadEvent(_) => "logtrim.BadEvent",
            HandlerError::NoDeliveryStream(_) => "logtrim.NoDeliveryStream",
            HandlerError::Reingest(_) => "logtrim.ReingestFailed",
            HandlerError::Archive(_) => "logtrim.ArchiveFailed",
        };
        lambda_runtime::Diagnostic { error_type: error_type.into(), error_message: e.to_string() }
    }
}

/// The stream name of a delivery stream ARN (`arn:aws:firehose:…:deliverystream/<name>`).
pub fn stream_name(arn: &str) -> Option<&str> {
    arn.rsplit_once(":deliverystream/").map(|(_, n)| n).filter(|n| !n.is_empty())
}

/// Handles one invocation as the binary does: the request body in, the response's JSON out. The
/// event's strings are read in place (a record's data is not copied) and the response is written
/// once, into a buffer of its exact size.
pub async fn invoke<P: PutRecordBatch>(state: &State<P>, body: &[u8]) -> Result<ResponseJson, HandlerError> {
    let event = EventRef::from_body(body).map_err(HandlerError::BadEvent)?;
    handle_ref(state, &event).await
}

/// [`invoke`] on an event already read, answered as a [`FirehoseResponse`].
pub async fn handle<P: PutRecordBatch>(state: &State<P>, event: FirehoseEvent) -> Result<FirehoseResponse, HandlerError> {
    let body = handle_ref(state, &EventRef::of(&event)).await?;
    Ok(serde_json::from_str(body.as_str()).expect("the transform writes a valid response"))
}

async fn handle_ref<P: PutRecordBatch>(state: &State<P>, event: &EventRef<'_>) -> Result<ResponseJson, HandlerError> {
    let start = Instant::now();
    let mut settings = state.settings.clone();
    settings.can_reingest = event.source_kinesis_stream_arn.is_none();
    let mut budget = match &state.budget {
        Some(b) => Some((b.accountant.lock().await, &b.store)),
        None => None,
    };
    if let Some((acc, store)) = &mut budget {
        // Hold a lease for the batch before deciding: the store cannot be awaited in the middle of it.
        // What the rules keep of plain data is at most its size; compressed data can inflate beyond,
        // and the accountant then lends half a chunk while the next lease is fetched.
        let need: u64 = event.records.iter().map(|r| r.data.len() as u64 / 4 * 3).sum();
        store.sync(acc, need).await;
    }
    // The archive's source partition: the delivery stream, so that the invocation writes one object.
    let stream = state.delivery_stream.as_deref().or_else(|| event.delivery_stream_arn.as_deref().and_then(stream_name));
    let mut seq = match &state.archive {
        Some(a) => Some(a.next_seq.lock().await),
        None => None,
    };
    let mut archive = match (&state.archive, &seq) {
        (Some(a), Some(seq)) => Some(a.archive(&state.rules, stream.unwrap_or("firehose"), **seq)),
        _ => None,
    };
    let (outcome, asked) = {
        let mut d = state.pipeline.lock().unwrap_or_else(|p| p.into_inner());
        match &mut budget {
            None => (transform::transform_archived(&event.records, &mut d, &settings, &mut |_, _| true, archive.as_mut()), None),
            Some((acc, _)) => {
                let mut asked: Option<LeaseRequest> = None;
                let out = transform::transform_archived(&event.records, &mut d, &settings, &mut |priority, bytes| {
                    let now = Timestamp::now();
                    // A lease running low is asked for now and fetched after the batch: the accountant
                    // lends up to half a chunk meanwhile.
                    if asked.is_none() {
                        asked = acc.lease_request(now);
                    }
                    acc.admit(now, priority, bytes) == Admission::Keep
                }, archive.as_mut());
                (out, asked)
            }
        }
    };
    if let Some((acc, store)) = &mut budget {
        if let Some(req) = asked {
            let reply = store.lease(&req).await;
            acc.apply(Timestamp::now(), reply);
        }
        // Top up for the next batch; what was kept is reported with the next request.
        store.sync(acc, 0).await;
    }
    let budget_status: Option<BudgetStatus> = budget.as_ref().map(|(acc, _)| acc.status(Timestamp::now()));
    drop(budget);
    let archived = match (&state.archive, &mut archive, &mut seq) {
        (Some(a), Some(archive), Some(seq)) => {
            let written = a.write(archive).await;
            // Numbers are never reused, whatever was written.
            **seq += archive.counters().objects;
            match written {
                Ok(r) => Some(r),
                Err(e) if a.on_failure == OnFailure::Continue => {
                    tracing::error!(error = %e, events = e.events, "Archive write failed; answering all the same (LOGTRIM_ARCHIVE_ON_FAILURE=continue): these events are not archived.");
                    Some(ArchiveReport { failed_events: e.events, ..e.written })
                }
                Err(e) => {
                    tracing::error!(error = %e, "Archive write failed; failing the invocation so Firehose retries it.");
                    return Err(e.into());
                }
            }
        }
        _ => None,
    };
    drop(seq);
    let mut report = reingest::ReingestReport::default();
    if !outcome.reingest.is_empty() {
        let stream = stream.ok_or_else(|| HandlerError::NoDeliveryStream(event.delivery_stream_arn.as_deref().map(String::from)))?;
        report = reingest::reingest(&state.client, stream, &outcome.reingest, &state.retry).await.inspect_err(|e| {
            tracing::error!(error = %e, "Re-ingestion failed; failing the invocation so Firehose retries it.");
        })?;
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let invocation_id = event.invocation_id.as_deref().unwrap_or("");
    let extra = emf::Extra {
        function_name: &state.function_name,
        invocation_id,
        timestamp_ms: now.as_millis() as i64,
        duration_ms: start.elapsed().as_secs_f64() * 1000.0,
        reingested_records: report.records as u64,
        reingested_bytes: report.bytes as u64,
        budget: budget_status,
        archive: archived,
    };
    let line = emf::render(&outcome.stats, &outcome.counters, &state.rules, &extra);
    if state.print_emf {
        // EMF must be a line of its own on stdout.
        println!("{line}");
    }
    let s = &outcome.stats;
    tracing::info!(
        invocation_id,
        records = s.records_in,
        ok = s.records_ok,
        dropped = s.records_dropped,
        failed = s.records_failed,
        reingested = s.records_reingested,
        response_bytes = s.response_bytes,
        "Transformed."
    );
    Ok(outcome.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names() {
        assert_eq!(stream_name("arn:aws:firehose:us-east-2:123456789012:deliverystream/delivery-stream-name"), Some("delivery-stream-name"));
        assert_eq!(stream_name("aws:lambda:events"), None);
        assert_eq!(stream_name("arn:aws:kinesis:EXAMPLE"), None);
    }
}
