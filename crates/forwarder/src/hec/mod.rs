//! The Splunk HEC sink: takes sealed batches from the reading thread's bounded queue and delivers
//! each one, retrying until HEC accepts it (and acknowledges it, with ack on) or rejects it for good.
//!
//! - [`client`]: one request and [`client::HecOutcome`], the single place answers are classified.
//! - [`balance`]: endpoints, ejection and health checks.
//! - [`ack`]: indexer acknowledgement polling.
//!
//! At most `max_in_flight` batches are out at once (sent, retrying or awaiting an acknowledgement);
//! together with the queue that bounds memory, and a full queue pauses reading. Retries back off
//! exponentially with full jitter, from `retry_initial` to `retry_max`, honouring `Retry-After`, and
//! never give up on a transient error: the data stays safe in the files meanwhile.

pub mod ack;
pub mod balance;
pub mod client;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{Semaphore, mpsc};

use crate::Shared;
use crate::config::Hec as HecConfig;
use crate::ledger::Done;
use crate::pipeline::Batch;
use ack::AckBook;
use balance::Balancer;
use client::HecOutcome;

/// Why the sink could not be set up (an I/O cause is part of the message, as in [`crate::RunError`]).
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The HTTP client could not be built (bad CA file, TLS setup).
    #[error("HTTP client: {0}")]
    Client(String),
    /// The CA file could not be read.
    #[error("cannot read {path}: {error}")]
    CaFile {
        /// The file.
        path: String,
        /// The error.
        error: std::io::Error,
    },
}

/// Everything a delivery needs.
pub struct Sink {
    client: reqwest::Client,
    token_header: String,
    /// Endpoints and their health.
    pub balancer: Arc<Balancer>,
    books: Vec<Arc<AckBook>>,
    cfg: HecConfig,
    dead_letter: DeadLetter,
    shared: Arc<Shared>,
}

/// Builds the HTTP client: rustls, certificate verification on unless switched off.
pub fn http_client(cfg: &HecConfig) -> Result<reqwest::Client, SinkError> {
    let mut b = reqwest::Client::builder()
        .connect_timeout(cfg.connect_timeout.0)
        .timeout(cfg.request_timeout.0)
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(cfg.max_in_flight.max(1) + 1);
    if !cfg.tls_verify {
        b = b.tls_danger_accept_invalid_certs(true);
    }
    if !cfg.ca_file.is_empty() {
        let pem = crate::files::read_regular(std::path::Path::new(&cfg.ca_file)).map_err(|error| SinkError::CaFile { path: cfg.ca_file.clone(), error })?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| SinkError::Client(e.to_string()))? {
            b = b.tls_certs_merge([cert]);
        }
    }
    b.build().map_err(|e| SinkError::Client(client::error_chain(&e)))
}

impl Sink {
    /// A sink for `cfg`; dead-lettered batches go to `<state_dir>/dead-letter`.
    pub fn new(cfg: &HecConfig, state_dir: &std::path::Path, shared: Arc<Shared>) -> Result<Sink, SinkError> {
        let client = http_client(cfg)?;
        let balancer = Arc::new(Balancer::new(&cfg.endpoints, cfg.eject_after, cfg.health_interval.0, Arc::clone(&shared.metrics)));
        let books = balancer.endpoints.iter().map(|_| Arc::new(AckBook::default())).collect();
        Ok(Sink {
            client,
            token_header: format!("Splunk {}", cfg.token),
            balancer,
            books,
            cfg: cfg.clone(),
            dead_letter: DeadLetter::new(state_dir.join("dead-letter"), cfg.dead_letter_max_bytes.0),
            shared,
        })
    }

    /// Starts the health checks and acknowledgement pollers.
    pub fn spawn_background(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let mut v = vec![tokio::spawn(Arc::clone(&self.balancer).health_loop(self.client.clone()))];
        if self.cfg.ack {
            for (ep, book) in self.balancer.endpoints.iter().zip(&self.books) {
                v.push(tokio::spawn(Arc::clone(book).poll_loop(
                    Arc::clone(ep),
                    self.client.clone(),
                    self.token_header.clone(),
                    self.cfg.ack_poll_interval.0,
                )));
            }
        }
        v
    }

    /// Delivers batches from `rx` until it closes and every batch is done.
    pub async fn run(self: Arc<Self>, mut rx: mpsc::Receiver<Batch>) {
        let slots = Arc::new(Semaphore::new(self.cfg.max_in_flight));
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
        let mut attempt = 0u32;
        loop {
            let lease = self.balancer.pick().await;
            let ep = &lease.ep;
            let channel = self.cfg.ack.then_some(ep.channel.as_str());
            let outcome = client::post(&self.client, &ep.event_url, &self.token_header, channel, batch.body.clone(), batch.gzip).await;
            m.hec_request(&ep.base, &client::status_label(&outcome));
            match outcome {
                HecOutcome::Success { ack_id } => {
                    self.balancer.success(ep);
                    if self.cfg.ack {
                        let Some(id) = ack_id else {
                            m.ack_missing.inc();
                            tracing::warn!(endpoint = %ep.base, "ack is on but HEC answered without an ackId; is indexer acknowledgement enabled on the token?");
                            self.done(&batch, Done::Delivered);
                            return;
                        };
                        let book = &self.books[self.balancer.endpoints.iter().position(|e| Arc::ptr_eq(e, ep)).unwrap_or(0)];
                        drop(lease);
                        m.acks_pending.inc();
                        let acked = book.wait(id, self.cfg.ack_timeout.0).await;
                        m.acks_pending.dec();
                        if !acked {
                            m.ack_timeouts.inc();
                            tracing::warn!(ack_id = id, seq = batch.seq, "No acknowledgement in time; sending the batch again.");
                            continue;
                        }
                    }
                    self.done(&batch, Done::Delivered);
                    return;
                }
                HecOutcome::Retry { reason, retry_after, unreachable, unconfirmed, .. } => {
                    if unconfirmed && attempt == 0 {
                        // A misconfiguration (a proxy answering for Splunk) rather than a busy HEC: said
                        // loudly, once per batch.
                        tracing::error!(endpoint = %ep.base, seq = batch.seq, reason = %reason, "HEC answered without its success reply, so the batch may not have reached Splunk; it is sent again.");
                    }
                    self.balancer.failure(ep, unreachable, &reason);
                    drop(lease);
                    attempt += 1;
                    m.retries.inc();
                    let delay = backoff(self.cfg.retry_initial.0, self.cfg.retry_max.0, attempt).max(retry_after.unwrap_or_default());
                    if attempt == 1 || attempt.is_multiple_of(10) {
                        tracing::warn!(seq = batch.seq, attempt, delay_ms = delay.as_millis() as u64, reason = %reason, "HEC request failed; retrying.");
                    }
                    tokio::time::sleep(delay).await;
                }

                HecOutcome::Reject { status, code, text } => {
                    self.balancer.success(ep);
                    m.dead_letter_batches.inc();
                    m.dead_letter_events.inc_by(u64::from(batch.events));
                    tracing::error!(seq = batch.seq, status, code, text = %text, events = batch.events, "HEC rejected a batch; writing it to the dead-letter directory.");
                    let dl = self.dead_letter.clone();
                    let b = batch.clone();
                    let (ep_base, text2) = (ep.base.clone(), text.clone());
                    let written = tokio::task::spawn_blocking(move || dl.write(&b, &ep_base, status, code, &text2)).await;
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
                    return;
                }
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

/// Exponential backoff with full jitter: uniform in `[0, min(max, initial·2^(attempt-1))]`, at least 10 ms.
pub fn backoff(initial: Duration, max: Duration, attempt: u32) -> Duration {
    let cap = initial.saturating_mul(1u32 << attempt.saturating_sub(1).min(20)).min(max);
    let f: f64 = rand::random();
    cap.mul_f64(f).max(Duration::from_millis(10))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_with_jitter() {
        let (i, m) = (Duration::from_millis(100), Duration::from_secs(5));
        for attempt in 1..40 {
            let d = backoff(i, m, attempt);
            assert!(d <= m && d >= Duration::from_millis(10), "{attempt}: {d:?}");
        }
        let big: Vec<Duration> = (0..50).map(|_| backoff(i, m, 30)).collect();
        assert!(big.iter().any(|d| *d > Duration::from_secs(1)), "{big:?}");
    }
}
