//! Client-side load balancing over HEC endpoints: the least busy healthy endpoint gets the next
//! request; an endpoint that fails `eject_after` times in a row (or cannot be connected to at all) is
//! ejected, and a health check (`GET /services/collector/health`, 200) re-admits it.
//!
//! When every endpoint is ejected, senders wait for a re-admission, but at most one health interval:
//! then they try the endpoint ejected longest ago, so a deployment whose proxy does not expose the
//! health path still recovers by requests alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::Observer;

/// One HEC endpoint.
#[derive(Debug)]
pub struct Endpoint {
    /// Base URL as configured, without a trailing slash (also the metrics label).
    pub base: String,
    /// `<base>/services/collector/event`.
    pub event_url: String,
    /// `<base>/services/collector/ack`.
    pub ack_url: String,
    /// `<base>/services/collector/health`.
    pub health_url: String,
    /// This process's channel on the endpoint (indexer acknowledgement ids are per channel).
    pub channel: String,
    healthy: AtomicBool,
    /// Whether any health check or request has succeeded yet.
    pub seen_healthy: AtomicBool,
    failures: AtomicU32,
    inflight: AtomicUsize,
    ejected_at: Mutex<Option<Instant>>,
}

impl Endpoint {
    fn new(base: &str) -> Endpoint {
        let base = base.trim_end_matches('/').to_string();
        Endpoint {
            event_url: format!("{base}/services/collector/event"),
            ack_url: format!("{base}/services/collector/ack"),
            health_url: format!("{base}/services/collector/health"),
            channel: new_channel(),
            base,
            healthy: AtomicBool::new(true),
            seen_healthy: AtomicBool::new(false),
            failures: AtomicU32::new(0),
            inflight: AtomicUsize::new(0),
            ejected_at: Mutex::new(None),
        }
    }

    /// Whether requests may go here.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }
}

/// A random GUID for `X-Splunk-Request-Channel`.
fn new_channel() -> String {
    let b: [u8; 16] = rand::random();
    let h = |r: std::ops::Range<usize>| b[r].iter().map(|x| format!("{x:02x}")).collect::<String>();
    format!("{}-{}-4{}-{}-{}", h(0..4), h(4..6), &h(6..8)[1..], h(8..10), h(10..16))
}

/// Holds an endpoint's in-flight count while a request runs.
pub struct Lease {
    /// The endpoint.
    pub ep: Arc<Endpoint>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.ep.inflight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The endpoints and their health.
pub struct Balancer {
    /// Every endpoint, in configuration order.
    pub endpoints: Vec<Arc<Endpoint>>,
    readmitted: Notify,
    eject_after: u32,
    health_interval: Duration,
    rr: AtomicUsize,
    observer: Arc<dyn Observer>,
}

impl Balancer {
    /// Endpoints from base URLs.
    pub fn new(bases: &[String], eject_after: u32, health_interval: Duration, observer: Arc<dyn Observer>) -> Balancer {
        let b = Balancer {
            endpoints: bases.iter().map(|u| Arc::new(Endpoint::new(u))).collect(),
            readmitted: Notify::new(),
            eject_after,
            health_interval,
            rr: AtomicUsize::new(0),
            observer,
        };
        for ep in &b.endpoints {
            b.observer.endpoint_health(&ep.base, true);
        }
        b
    }

    /// The endpoint for the next request (waits while every endpoint is ejected, see the module docs).
    pub async fn pick(&self) -> Lease {
        loop {
            let start = self.rr.fetch_add(1, Ordering::Relaxed);
            let n = self.endpoints.len();
            let best = (0..n)
                .map(|i| &self.endpoints[(start + i) % n])
                .filter(|e| e.is_healthy())
                .min_by_key(|e| e.inflight.load(Ordering::Acquire));
            if let Some(ep) = best {
                ep.inflight.fetch_add(1, Ordering::AcqRel);
                return Lease { ep: Arc::clone(ep) };
            }
            if tokio::time::timeout(self.health_interval, self.readmitted.notified()).await.is_err() {
                let oldest = self
                    .endpoints
                    .iter()
                    .min_by_key(|e| *e.ejected_at.lock().unwrap_or_else(|p| p.into_inner()))
                    .map(Arc::clone);
                if let Some(ep) = oldest {
                    *ep.ejected_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                    ep.inflight.fetch_add(1, Ordering::AcqRel);
                    return Lease { ep };
                }
            }
        }
    }

    /// A request succeeded.
    pub fn success(&self, ep: &Endpoint) {
        ep.failures.store(0, Ordering::Release);
        ep.seen_healthy.store(true, Ordering::Release);
        self.admit(ep);
    }

    /// A request failed in a way that counts against the endpoint.
    pub fn failure(&self, ep: &Endpoint, unreachable: bool, why: &str) {
        let n = ep.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if (unreachable || n >= self.eject_after) && ep.healthy.swap(false, Ordering::AcqRel) {
            *ep.ejected_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
            self.observer.endpoint_health(&ep.base, false);
            tracing::warn!(endpoint = %ep.base, failures = n, reason = why, "Ejected a HEC endpoint; re-admitting it by health check.");
        }
    }

    fn admit(&self, ep: &Endpoint) {
        if !ep.healthy.swap(true, Ordering::AcqRel) {
            self.observer.endpoint_health(&ep.base, true);
            tracing::info!(endpoint = %ep.base, "HEC endpoint healthy again.");
            self.readmitted.notify_waiters();
        }
    }

    /// Whether any endpoint is known to work (for `/readyz`).
    pub fn reachable(&self) -> bool {
        self.endpoints.iter().any(|e| e.is_healthy() && e.seen_healthy.load(Ordering::Acquire))
    }

    /// Health-checks every endpoint once now (so `/readyz` turns ready quickly), then the ejected ones
    /// every health interval. Runs until the task is dropped.
    pub async fn health_loop(self: Arc<Self>, client: reqwest::Client) {
        let mut first = true;
        loop {
            for ep in &self.endpoints {
                if !first && ep.is_healthy() && ep.seen_healthy.load(Ordering::Acquire) {
                    continue;
                }
                let ok = match client.get(&ep.health_url).timeout(self.health_interval.max(Duration::from_secs(1))).send().await {
                    Ok(r) => r.status().is_success(),
                    Err(_) => false,
                };
                if ok {
                    ep.seen_healthy.store(true, Ordering::Release);
                    ep.failures.store(0, Ordering::Release);
                    self.admit(ep);
                } else if first {
                    self.failure(ep, true, "health check failed");
                }
            }
            first = false;
            tokio::time::sleep(self.health_interval).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_guids() {
        let c = new_channel();
        assert_eq!(c.len(), 36, "{c}");
        assert_eq!(c.matches('-').count(), 4);
        assert_ne!(c, new_channel());
    }
}
