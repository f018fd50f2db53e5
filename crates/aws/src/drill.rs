//! A synthetic participant: drives an [`Accountant`] with generated traffic against a DynamoDB table on
//! the real clock. The integration tests run it on threads and, through the `budget-participant` binary,
//! as separate processes; against a real table it is a smoke test of the lease protocol.

use std::time::{Duration, Instant};

use logtrim_core::Priority;
use logtrim_core::budget::{Accountant, Admission, PerPriority, StoreState, Timestamp};

use crate::{DynamoLeaseStore, flush, sync};

/// What to generate.
#[derive(Clone, Debug)]
pub struct DrillConfig {
    /// Records to offer (the run also stops at `duration`).
    pub records: u64,
    /// Seeds the priority and size sequence, so participants differ but runs repeat.
    pub seed: u64,
    /// Stop offering after this long, if set.
    pub duration: Option<Duration>,
    /// Pause between records (real time), to spread a run over an outage.
    pub pause: Duration,
}

impl Default for DrillConfig {
    fn default() -> DrillConfig {
        DrillConfig { records: 1000, seed: 1, duration: None, pause: Duration::ZERO }
    }
}

/// What happened, per priority and in total.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DrillReport {
    /// Bytes offered per priority.
    pub offered: PerPriority<u64>,
    /// Bytes kept per priority.
    pub kept: PerPriority<u64>,
    /// Bytes kept while the accountant was on its fallback share.
    pub kept_in_fallback: u64,
    /// Whether the accountant was ever in fallback.
    pub saw_fallback: bool,
    /// Whether it was connected at the end (after the flush).
    pub connected_at_end: bool,
    /// Whether the final flush reached the store.
    pub flushed: bool,
    /// Critical bytes kept over the limit (today's overage as this participant saw it).
    pub over_limit: u64,
    /// Requests and failed requests.
    pub lease_requests: u64,
    /// Failed requests.
    pub store_failures: u64,
}

impl DrillReport {
    /// All bytes kept.
    pub fn kept_total(&self) -> u64 {
        self.kept.0.iter().sum()
    }

    /// `key value` lines, one per field (the binary's output).
    pub fn to_lines(&self) -> String {
        let mut o = String::new();
        for p in Priority::ALL {
            o.push_str(&format!(
                "offered_{} {}\nkept_{} {}\n",
                p.name(),
                self.offered.get(p),
                p.name(),
                self.kept.get(p)
            ));
        }
        o.push_str(&format!(
            "kept_in_fallback {}\nsaw_fallback {}\nconnected_at_end {}\nflushed {}\nover_limit {}\nlease_requests {}\nstore_failures {}\n",
            self.kept_in_fallback,
            u8::from(self.saw_fallback),
            u8::from(self.connected_at_end),
            u8::from(self.flushed),
            self.over_limit,
            self.lease_requests,
            self.store_failures
        ));
        o
    }

    /// Parses [`DrillReport::to_lines`] output; unknown lines are ignored.
    pub fn from_lines(text: &str) -> DrillReport {
        let mut r = DrillReport::default();
        for line in text.lines() {
            let Some((k, v)) = line.split_once(' ') else { continue };
            let Ok(v) = v.trim().parse::<u64>() else { continue };
            for p in Priority::ALL {
                if k == format!("offered_{}", p.name()) {
                    r.offered.0[p as usize] = v;
                }
                if k == format!("kept_{}", p.name()) {
                    r.kept.0[p as usize] = v;
                }
            }
            match k {
                "kept_in_fallback" => r.kept_in_fallback = v,
                "saw_fallback" => r.saw_fallback = v == 1,
                "connected_at_end" => r.connected_at_end = v == 1,
                "flushed" => r.flushed = v == 1,
                "over_limit" => r.over_limit = v,
                "lease_requests" => r.lease_requests = v,
                "store_failures" => r.store_failures = v,
                _ => {}
            }
        }
        r
    }
}

/// A small deterministic generator (SplitMix64): no RNG dependency, same sequence everywhere.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Offers records (50% low, 30% normal, 15% high, 5% critical; 200–1199 bytes) until `cfg.records` or
/// `cfg.duration`, syncing with the store before each, then flushes (retrying for up to 15 s).
pub async fn run(acc: &mut Accountant, store: &DynamoLeaseStore, cfg: &DrillConfig) -> DrillReport {
    let clock = Timestamp::now;
    let mut g = Gen(cfg.seed);
    let mut r = DrillReport::default();
    let start = Instant::now();
    for _ in 0..cfg.records {
        if cfg.duration.is_some_and(|d| start.elapsed() >= d) {
            break;
        }
        let p = match g.next() % 100 {
            0..50 => Priority::Low,
            50..80 => Priority::Normal,
            80..95 => Priority::High,
            _ => Priority::Critical,
        };
        let bytes = 200 + g.next() % 1000;
        sync(acc, store, clock).await;
        let now = clock();
        let fallback = matches!(acc.status(now).store, StoreState::Fallback { .. });
        r.saw_fallback |= fallback;
        r.offered.0[p as usize] += bytes;
        if acc.admit(now, p, bytes) == Admission::Keep {
            r.kept.0[p as usize] += bytes;
            if fallback {
                r.kept_in_fallback += bytes;
            }
        }
        if !cfg.pause.is_zero() {
            tokio::time::sleep(cfg.pause).await;
        }
    }
    let give_up = Instant::now() + Duration::from_secs(15);
    loop {
        r.flushed = flush(acc, store, clock).await;
        if r.flushed || Instant::now() >= give_up {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let st = acc.status(clock());
    r.connected_at_end = st.store == StoreState::Connected;
    r.over_limit = st.over_limit;
    r.lease_requests = st.lease_requests;
    r.store_failures = st.store_failures;
    r
}
