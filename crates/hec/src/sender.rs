//! Delivering batches: each one is sent until HEC accepts it (and acknowledges it, with ack on) or
//! rejects it for good. Retries back off exponentially with full jitter, from `retry_initial` to
//! `retry_max`, honouring `Retry-After`, and never give up on a transient error: a caller that must stop
//! drops the future. How many batches are out at once is the caller's (the forwarder's queue and
//! `max_in_flight`, replay's).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::Observer;
use crate::ack::AckBook;
use crate::balance::Balancer;
use crate::client::{self, HecOutcome};
use crate::settings::Hec;

/// A batch of HEC events, ready to send.
#[derive(Clone, Debug)]
pub struct Batch {
    /// The caller's sequence number (logs; the forwarder's checkpoints wait for it).
    pub seq: u64,
    /// The request body: stacked event objects, gzip unless `gzip` is false.
    pub body: Bytes,
    /// Whether `body` is gzip.
    pub gzip: bool,
    /// Number of events.
    pub events: u32,
    /// Uncompressed bytes of the events.
    pub raw_bytes: u64,
}

/// How a delivery ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// HEC accepted the batch (and acknowledged it, with ack on).
    Delivered,
    /// HEC refused it for good: a bad token, bad data, a missing channel, too large.
    Rejected {
        /// The endpoint that refused it.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// HEC code, when the body had one.
        code: Option<i64>,
        /// HEC text or body.
        text: String,
    },
}

/// Why a sender could not be set up (an I/O cause is part of the message).
#[derive(Debug, thiserror::Error)]
pub enum SenderError {
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

/// Builds the HTTP client: rustls, certificate verification on unless switched off.
pub fn http_client(cfg: &Hec) -> Result<reqwest::Client, SenderError> {
    let mut b = reqwest::Client::builder()
        .connect_timeout(cfg.connect_timeout.0)
        .timeout(cfg.request_timeout.0)
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(cfg.max_in_flight.max(1) + 1);
    if !cfg.tls_verify {
        b = b.tls_danger_accept_invalid_certs(true);
    }
    if !cfg.ca_file.is_empty() {
        let pem = std::fs::read(&cfg.ca_file).map_err(|error| SenderError::CaFile { path: cfg.ca_file.clone(), error })?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| SenderError::Client(e.to_string()))? {
            b = b.tls_certs_merge([cert]);
        }
    }
    b.build().map_err(|e| SenderError::Client(client::error_chain(&e)))
}

/// Everything a delivery needs: the client, the endpoints, the acknowledgement books.
pub struct Sender {
    client: reqwest::Client,
    token_header: String,
    /// Endpoints and their health.
    pub balancer: Arc<Balancer>,
    books: Vec<Arc<AckBook>>,
    cfg: Hec,
    observer: Arc<dyn Observer>,
}

impl Sender {
    /// A sender for `cfg`'s endpoints and token.
    pub fn new(cfg: &Hec, observer: Arc<dyn Observer>) -> Result<Sender, SenderError> {
        let client = http_client(cfg)?;
        let balancer = Arc::new(Balancer::new(&cfg.endpoints, cfg.eject_after, cfg.health_interval.0, Arc::clone(&observer)));
        let books = balancer.endpoints.iter().map(|_| Arc::new(AckBook::default())).collect();
        Ok(Sender { client, token_header: format!("Splunk {}", cfg.token), balancer, books, cfg: cfg.clone(), observer })
    }

    /// The settings it was made with.
    pub fn settings(&self) -> &Hec {
        &self.cfg
    }

    /// Starts the health checks and acknowledgement pollers; they run until their tasks are aborted.
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

    /// Sends `batch` until HEC accepts it (and acknowledges it, with ack on) or rejects it for good.
    pub async fn deliver(&self, batch: &Batch) -> Delivery {
        let mut attempt = 0u32;
        loop {
            let lease = self.balancer.pick().await;
            let ep = &lease.ep;
            let channel = self.cfg.ack.then_some(ep.channel.as_str());
            let outcome = client::post(&self.client, &ep.event_url, &self.token_header, channel, batch.body.clone(), batch.gzip).await;
            self.observer.request(&ep.base, &client::status_label(&outcome));
            match outcome {
                HecOutcome::Success { ack_id } => {
                    self.balancer.success(ep);
                    if self.cfg.ack {
                        let Some(id) = ack_id else {
                            self.observer.ack_missing();
                            tracing::warn!(endpoint = %ep.base, "ack is on but HEC answered without an ackId; is indexer acknowledgement enabled on the token?");
                            return Delivery::Delivered;
                        };
                        let book = &self.books[self.balancer.endpoints.iter().position(|e| Arc::ptr_eq(e, ep)).unwrap_or(0)];
                        drop(lease);
                        self.observer.acks_pending(1);
                        let acked = book.wait(id, self.cfg.ack_timeout.0).await;
                        self.observer.acks_pending(-1);
                        if !acked {
                            self.observer.ack_timeout();
                            tracing::warn!(ack_id = id, seq = batch.seq, "No acknowledgement in time; sending the batch again.");
                            continue;
                        }
                    }
                    return Delivery::Delivered;
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
                    self.observer.retry();
                    let delay = backoff(self.cfg.retry_initial.0, self.cfg.retry_max.0, attempt).max(retry_after.unwrap_or_default());
                    if attempt == 1 || attempt.is_multiple_of(10) {
                        tracing::warn!(seq = batch.seq, attempt, delay_ms = delay.as_millis() as u64, reason = %reason, "HEC request failed; retrying.");
                    }
                    tokio::time::sleep(delay).await;
                }
                HecOutcome::Reject { status, code, text } => {
                    self.balancer.success(ep);
                    return Delivery::Rejected { endpoint: ep.base.clone(), status, code, text };
                }
            }
        }
    }
}

/// Exponential backoff with full jitter: uniform in `[0, min(max, initial·2^(attempt-1))]`, at least 10 ms.
pub fn backoff(initial: Duration, max: Duration, attempt: u32) -> Duration {
    let cap = initial.saturating_mul(1u32 << attempt.saturating_sub(1).min(20)).min(max);
    let f: f64 = rand::random();
    cap.mul_f64(f).max(Duration::from_millis(10))
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
