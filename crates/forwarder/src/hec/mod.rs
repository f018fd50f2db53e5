//! The Splunk HEC sink: takes sealed batches from the reading thread's bounded queue and delivers
//! each one with logtrim-hec's [`Sender`] (shared with `logtrim replay`), retrying until HEC accepts it
//! (and acknowledges it, with ack on) or rejects it for good; a rejected batch goes to the dead-letter
//! directory. [`client`], [`balance`] and [`ack`] are logtrim-hec's, re-exported.
//!
//! At most `max_in_flight` batches are out at once (sent, retrying or awaiting an acknowledgement);
//! together with the queue that bounds memory, and a full queue pauses reading. Retries back off
//! exponentially with full jitter, from `retry_initial` to `retry_max`, honouring `Retry-After`, and
//! never give up on a transient error: the data stays safe in the files meanwhile.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use logtrim_hec::{Delivery, Sender};
use tokio::sync::{Semaphore, mpsc};

use crate::Shared;
use crate::config::Hec as HecConfig;
use crate::ledger::Done;
use crate::metrics::Metrics;
use crate::pipeline::Batch;

pub use logtrim_hec::SenderError as SinkError;
pub use logtrim_hec::{ack, balance, client};

/// The forwarder's metrics as logtrim-hec's observer.
struct Observed(Arc<Metrics>);

impl logtrim_hec::Observer for Observed {
    fn request(&self, endpoint: &str, status: &str) {
        self.0.hec_request(endpoint, status);
    }
    fn retry(&self) {
        self.0.retries.inc();
    }
    fn endpoint_health(&self, endpoint: &str, healthy: bool) {
        self.0.endpoint_healthy(endpoint, healthy);
    }
    fn acks_pending(&self, delta: i64) {
        self.0.acks_pending.inc_by(delta);
    }
    fn ack_timeout(&self) {
        self.0.ack_timeouts.inc();
    }
    fn ack_missing(&self) {
        self.0.ack_missing.inc();
    }
}

/// Delivers the reading thread's batches: the shared sender, and what the forwarder does around it
/// (dead letters, the ledger, checkpoints).
pub struct Sink {
    sender: Arc<Sender>,
    /// Endpoints and their health.
    pub balancer: Arc<balance::Balancer>,
    max_in_flight: usize,
    dead_letter: DeadLetter,
    shared: Arc<Shared>,
}

impl Sink {
    /// A sink for `cfg`; dead-lettered batches go to `<state_dir>/dead-letter`.
    pub fn new(cfg: &HecConfig, state_dir: &std::path::Path, shared: Arc<Shared>) -> Result<Sink, SinkError> {
        let sender = Arc::new(Sender::new(cfg, Arc::new(Observed(Arc::clone(&shared.metrics))))?);
        Ok(Sink {
            balancer: Arc::clone(&sender.balancer),
            sender,
            max_in_flight: cfg.max_in_flight,
            dead_letter: DeadLetter::new(state_dir.join("dead-letter"), cfg.dead_letter_max_bytes.0),
            shared,
        })
    }

    /// Starts the health checks and acknowledgement pollers.
    pub fn spawn_background(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        self.sender.spawn_background()
    }

    /// Delivers batches from `rx` until it closes and every batch is done.
    pub async fn run(self: Arc<Self>, mut rx: mpsc::Receiver<Batch>) {
        let slots = Arc::new(Semaphore::new(self.max_in_flight));
        let mut tasks = tokio::task::JoinSet::new();
        while let Some(batch) = rx.recv().await {
            self.shared.metrics.queue_depth.set(rx.len() as i64);
            let Ok(permit) = Arc::clone(&slots).acquire_owned().await else { break };
            self.shared.metrics.in_flight.inc();
            let me = Arc::clone(&self);
            tasks.spawn(async move {
                me.deliver(batch).await;
                me.shared.metrics.in_flight.dec();
                drop(permit);
            });
            while tasks.try_join_next().is_some() {}
        }
        while tasks.join_next().await.is_some() {}
    }

    async fn deliver(&self, batch: Batch) {
        let m = &self.shared.metrics;
        match self.sender.deliver(&batch).await {
            Delivery::Delivered => self.done(&batch, Done::Delivered),
            Delivery::Rejected { endpoint, status, code, text } => {
                m.dead_letter_batches.inc();
                m.dead_letter_events.inc_by(u64::from(batch.events));
                tracing::error!(seq = batch.seq, status, code, text = %text, events = batch.events, "HEC rejected a batch; writing it to the dead-letter directory.");
                let dl = self.dead_letter.clone();
                let b = batch.clone();
                let text2 = text.clone();
                let written = tokio::task::spawn_blocking(move || dl.write(&b, &endpoint, status, code, &text2)).await;
                match written {
                    Ok(Ok(true)) => {}
                    Ok(Ok(false)) => {
                        m.dead_letter_dropped.inc();
                        tracing::error!(seq = batch.seq, "Dead-letter directory full; the batch is only counted.");
                    }
                    Ok(Err(e)) => {
                        m.dead_letter_dropped.inc();
                        tracing::error!(seq = batch.seq, error = %e, "Cannot write the dead-letter file.");
                    }
                    Err(e) => {
                        m.dead_letter_dropped.inc();
                        tracing::error!(seq = batch.seq, error = %e, "Cannot write the dead-letter file.");
                    }
                }
                self.done(&batch, Done::DeadLettered);
            }
        }
    }

    fn done(&self, batch: &Batch, how: Done) {
        let m = &self.shared.metrics;
        m.ledger.done(batch.seq, how);
        m.events_sent.inc_by(u64::from(batch.events));
        m.bytes_sent.inc_by(batch.raw_bytes);
        m.bytes_sent_compressed.inc_by(batch.body.len() as u64);
        self.shared.tracker.lock().unwrap_or_else(|e| e.into_inner()).complete(batch.seq);
        self.shared.persist_wake.notify_one();
    }
}

/// Rejected batches, one file each (`<unix ms>-<seq>.json[.gz]`: the request body as sent, so it can
/// be replayed with curl once the cause is fixed), plus `index.ndjson` saying why. The directory is
/// capped; past the cap batches are only counted.
#[derive(Clone)]
pub struct DeadLetter {
    dir: PathBuf,
    max: u64,
}

impl DeadLetter {
    fn new(dir: PathBuf, max: u64) -> DeadLetter {
        DeadLetter { dir, max }
    }

    fn write(&self, b: &Batch, endpoint: &str, status: u16, code: Option<i64>, text: &str) -> Result<bool, std::io::Error> {
        use std::io::Write;
        std::fs::create_dir_all(&self.dir)?;
        let used: u64 = std::fs::read_dir(&self.dir)?.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum();
        if used + b.body.len() as u64 > self.max {
            return Ok(false);
        }
        let ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        let name = format!("{ms}-{}.json{}", b.seq, if b.gzip { ".gz" } else { "" });
        std::fs::write(self.dir.join(&name), &b.body)?;
        let line = serde_json::json!({
            "file": name, "endpoint": endpoint, "status": status, "code": code, "text": text,
            "events": b.events, "bytes": b.raw_bytes, "unix_ms": ms as u64,
        });
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("index.ndjson"))?;
        writeln!(f, "{line}")?;
        Ok(true)
    }
}
