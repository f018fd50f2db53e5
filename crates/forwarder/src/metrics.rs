//! Prometheus metrics, served on `/metrics`. Names follow `logtrim_<noun>_total{labels}`; labels have
//! low cardinality: rule names (capped, the rest folded into `_other`), endpoints, HTTP statuses.

use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use logtrim_core::BudgetStatus;
use logtrim_core::budget::StoreState;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::ledger::{Ledger, LedgerCollector};

type Labels = Vec<(String, String)>;
/// Named float gauges keyed by labels.
type Gauges = Vec<(&'static str, Family<Labels, Gauge<f64, AtomicU64>>)>;

/// Rule labels beyond this many distinct names are counted as `_other`.
const MAX_RULES: usize = 256;

/// Every metric the forwarder exports.
pub struct Metrics {
    registry: Registry,
    /// Where every line read went (exported by its own collector, from one consistent view).
    pub ledger: Arc<Ledger>,
    rules_seen: Mutex<HashSet<String>>,
    records: Family<Labels, Counter>,
    bytes: Family<Labels, Counter>,
    /// Container log lines read (after joining partial lines).
    pub input_records: Counter,
    /// Bytes read from files.
    pub input_bytes: Counter,
    /// Lines cut at the line-length cap.
    pub truncated: Counter,
    /// Lines not in the file's format (passed on as text).
    pub malformed: Counter,
    /// CRI messages with invalid UTF-8 (replaced).
    pub invalid_utf8: Counter,
    /// Partial lines whose last part never came.
    pub unterminated: Counter,
    /// Records kept by the rules (and admitted by the budget).
    pub records_kept: Counter,
    /// Records dropped by the rules.
    pub records_dropped: Counter,
    /// Records the rules kept but the budget shed.
    pub records_shed: Counter,
    /// Bytes of HEC events produced.
    pub event_bytes: Counter,
    /// Kept lines not sent because their event would be blank (`hec.event: log`, empty message).
    pub blank_events: Counter,
    trimmed: Family<Labels, Counter>,
    /// What each rule's sent events cost in licence: their metered bytes.
    metered: Family<Labels, Counter>,
    summarized: Family<Labels, Counter>,
    /// Summary events, by result (`sent`: queued for HEC; `shed`: the daily budget refused them).
    pub summary_events: Family<Labels, Counter>,
    /// Metered bytes of the summary events queued for HEC.
    pub summary_bytes: Counter,
    /// Rotations seen, by kind.
    pub rotations: Family<Labels, Counter>,
    /// Partial messages lost to a truncation.
    pub partials_lost: Counter,
    /// Errors opening or reading files.
    pub file_errors: Counter,
    /// Matching paths that are not regular files, by type.
    pub files_skipped: Family<Labels, Counter>,
    /// Files being read.
    pub files: Gauge,
    /// Bytes in the files not read yet.
    pub unread_bytes: Gauge,
    /// Bytes read but not yet committed to a checkpoint.
    pub checkpoint_lag: Gauge,
    /// Checkpoint file writes, by result.
    pub checkpoint_writes: Family<Labels, Counter>,
    /// Sealed batches waiting for a request slot.
    pub queue_depth: Gauge,
    /// Batches being delivered (sent, retrying, or awaiting acknowledgement).
    pub in_flight: Gauge,
    /// Seconds the reader waited on a full queue.
    pub backpressure_seconds: Counter<f64, AtomicU64>,
    /// 1 while reading is paused because the queue is full (Splunk slow or down).
    pub reading_paused: Gauge,
    hec_requests: Family<Labels, Counter>,
    /// Requests retried.
    pub retries: Counter,
    /// Batches awaiting an acknowledgement.
    pub acks_pending: Gauge,
    /// Acknowledgements not received in time (batch resent).
    pub ack_timeouts: Counter,
    /// Successes without an ackId while ack is on.
    pub ack_missing: Counter,
    /// Batches rejected by HEC and written to the dead-letter directory.
    pub dead_letter_batches: Counter,
    /// Their events.
    pub dead_letter_events: Counter,
    /// Rejected batches not written (directory full or unwritable).
    pub dead_letter_dropped: Counter,
    /// Events delivered.
    pub events_sent: Counter,
    /// Uncompressed bytes delivered.
    pub bytes_sent: Counter,
    /// Bytes on the wire delivered.
    pub bytes_sent_compressed: Counter,
    endpoint_up: Family<Labels, Gauge>,
    /// Rule file reloads, by result.
    pub reloads: Family<Labels, Counter>,
    /// 1 when the last rule file seen was loaded, 0 when it was rejected.
    pub rules_ok: Gauge,
    budget: Gauges,
    budget_priority: Gauges,
    /// Archive lines by reason and outcome (`spooled`, `excluded`, `lost`).
    archive_lines: Family<Labels, Counter>,
    /// Archive lines in objects not spooled yet, by reason.
    archive_pending: Family<Labels, Gauge>,
    /// Archive objects by state (`spooled`, `uploaded`, `lost`).
    archive_objects: Family<Labels, Counter>,
    /// Their bytes (compressed, with the index).
    archive_bytes: Family<Labels, Counter>,
    /// Lines in the objects uploaded.
    pub archive_uploaded_lines: Counter,
    /// Bytes in the spool.
    pub archive_spool_bytes: Gauge,
    /// Objects in the spool.
    pub archive_spool_objects: Gauge,
    /// Failed uploads (each retried).
    pub archive_upload_errors: Counter,
    /// Failed spool writes.
    pub archive_spool_errors: Counter,
    /// 1 while reading waits for room in the spool.
    pub archive_spool_full: Gauge,
}

/// Budget gauges (`logtrim_budget_<name>{budget}`) and their help.
const BUDGET_GAUGES: &[(&str, &str)] = &[
    ("limit_bytes", "Daily byte budget: the limit"),
    ("spent_bytes", "Daily byte budget: estimated bytes the fleet kept today"),
    ("spent_local_bytes", "Daily byte budget: bytes this forwarder kept today"),
    ("projected_bytes", "Daily byte budget: projected end-of-day use at the current rate"),
    ("shedding_level", "Daily byte budget: 0 nothing shed, 1 low, 2 low and normal, 3 all but critical"),
    ("pacing", "Daily byte budget: 1 while low priority is paced"),
    ("exhausted", "Daily byte budget: 1 when the store has no budget left today"),
    ("store_fallback", "Daily byte budget: 1 while the store is unreachable (local fallback share)"),
    ("over_limit_bytes", "Daily byte budget: critical bytes kept at or over the limit today"),
];

/// Per-priority budget gauges (`logtrim_budget_<name>{budget,priority}`).
const BUDGET_PRIORITY_GAUGES: &[(&str, &str)] = &[
    ("kept_bytes", "Daily byte budget: bytes kept today, by priority"),
    ("shed_bytes", "Daily byte budget: bytes shed today, by priority"),
    ("shed_records", "Daily byte budget: records shed today, by priority"),
];

macro_rules! reg {
    ($r:expr, $name:literal, $help:literal, $m:expr) => {{
        let m = $m;
        $r.register($name, $help, m.clone());
        m
    }};
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// All metrics, registered.
    pub fn new() -> Metrics {
        let mut r = Registry::with_prefix("logtrim");
        let ledger = Arc::new(Ledger::default());
        r.register_collector(Box::new(LedgerCollector(Arc::clone(&ledger))));
        Metrics {
            ledger,
            records: reg!(r, "records", "Records decided, by rule and action (keep, drop)", Family::default()),
            bytes: reg!(r, "bytes", "Record bytes decided, by rule and action", Family::default()),
            input_records: reg!(r, "input_records", "Container log lines read (partial lines joined)", Counter::default()),
            input_bytes: reg!(r, "input_bytes", "Bytes read from container log files", Counter::default()),
            truncated: reg!(r, "input_truncated", "Lines cut at inputs.max_line_bytes", Counter::default()),
            malformed: reg!(r, "input_malformed", "Lines not in the file's format, passed on as text", Counter::default()),
            invalid_utf8: reg!(r, "input_invalid_utf8", "Messages with invalid UTF-8, replaced by U+FFFD", Counter::default()),
            unterminated: reg!(r, "input_unterminated_partials", "Partial lines whose last part never came", Counter::default()),
            records_kept: reg!(r, "kept_records", "Records kept and queued for HEC", Counter::default()),
            records_dropped: reg!(r, "dropped_records", "Records dropped by the rules", Counter::default()),
            records_shed: reg!(r, "shed_records", "Records the rules kept but the daily budget shed", Counter::default()),
            event_bytes: reg!(r, "event_bytes", "Bytes of HEC events produced", Counter::default()),
            blank_events: reg!(r, "blank_events", "Kept lines not sent: with hec.event=log their message is empty, which HEC refuses (code 13)", Counter::default()),
            trimmed: reg!(r, "trim_bytes", "Bytes trim: removed from kept records (kind=removed) and sample_rate_field added (kind=added), by rule", Family::default()),
            metered: reg!(r, "rule_metered_bytes", "Bytes Splunk meters for the events sent, by rule (summary events under their rule too)", Family::default()),
            summarized: reg!(r, "summarized_records", "Dropped records counted in summaries, by rule; overflow=true: folded into _other", Family::default()),
            summary_events: reg!(r, "summary_events", "Summary events, by result (sent, shed by the daily budget)", Family::default()),
            summary_bytes: reg!(r, "summary_bytes", "Metered bytes of the summary events sent", Counter::default()),
            rotations: reg!(r, "file_rotations", "Rotations seen, by kind (rename, truncate)", Family::default()),
            partials_lost: reg!(r, "partials_lost", "Partial messages lost to a truncation without a copy", Counter::default()),
            file_errors: reg!(r, "file_errors", "Errors opening or reading log files", Counter::default()),
            files_skipped: reg!(r, "files_skipped", "Paths matching inputs.paths that are not regular files (not read), by type: fifo, socket, device, directory", Family::default()),
            files: reg!(r, "files", "Log files being read", Gauge::default()),
            unread_bytes: reg!(r, "unread_bytes", "Bytes in the log files not read yet", Gauge::default()),
            checkpoint_lag: reg!(r, "checkpoint_lag_bytes", "Bytes read but not yet delivered and committed", Gauge::default()),
            checkpoint_writes: reg!(r, "checkpoint_writes", "Checkpoint file writes, by result", Family::default()),
            queue_depth: reg!(r, "queue_batches", "Sealed batches waiting for a request slot", Gauge::default()),
            in_flight: reg!(r, "in_flight_batches", "Batches being delivered", Gauge::default()),
            backpressure_seconds: reg!(r, "backpressure_seconds", "Seconds reading waited on a full queue", Counter::default()),
            reading_paused: reg!(r, "reading_paused", "1 while reading waits on a full queue (HEC slow or down)", Gauge::default()),
            hec_requests: reg!(r, "hec_requests", "HEC requests, by endpoint and status", Family::default()),
            retries: reg!(r, "hec_retries", "HEC requests retried", Counter::default()),
            acks_pending: reg!(r, "hec_acks_pending", "Batches awaiting indexer acknowledgement", Gauge::default()),
            ack_timeouts: reg!(r, "hec_ack_timeouts", "Acknowledgements not received in time (batch resent)", Counter::default()),
            ack_missing: reg!(r, "hec_ack_missing", "Successes without an ackId while hec.ack is on", Counter::default()),
            dead_letter_batches: reg!(r, "dead_letter_batches", "Batches HEC rejected, written to the dead-letter directory", Counter::default()),
            dead_letter_events: reg!(r, "dead_letter_events", "Events in rejected batches", Counter::default()),
            dead_letter_dropped: reg!(r, "dead_letter_dropped", "Rejected batches not written (directory full or unwritable)", Counter::default()),
            events_sent: reg!(r, "hec_events", "Events delivered to HEC", Counter::default()),
            bytes_sent: reg!(r, "hec_bytes", "Uncompressed event bytes delivered to HEC", Counter::default()),
            bytes_sent_compressed: reg!(r, "hec_wire_bytes", "Request body bytes delivered to HEC", Counter::default()),
            archive_lines: reg!(r, "archive_lines", "Lines offered to the archive, by reason (dropped, sampled, shed, blank, kept) and outcome (spooled: durable on the node; excluded: archive.include leaves them out; lost: spool full with on_full=lose, or its write failed)", Family::default()),
            archive_pending: reg!(r, "archive_lines_pending", "Archive lines in open objects, not spooled yet (their checkpoint waits), by reason", Family::default()),
            archive_objects: reg!(r, "archive_objects", "Archive objects, by state (spooled, uploaded, lost)", Family::default()),
            archive_bytes: reg!(r, "archive_bytes", "Bytes of archive objects and their indexes, by state (spooled, uploaded, lost)", Family::default()),
            archive_uploaded_lines: reg!(r, "archive_uploaded_lines", "Lines in the archive objects uploaded to the store", Counter::default()),
            archive_spool_bytes: reg!(r, "archive_spool_bytes", "Bytes in the archive spool (not uploaded yet)", Gauge::default()),
            archive_spool_objects: reg!(r, "archive_spool_objects", "Objects in the archive spool (not uploaded yet)", Gauge::default()),
            archive_upload_errors: reg!(r, "archive_upload_errors", "Archive uploads that failed (each retried)", Counter::default()),
            archive_spool_errors: reg!(r, "archive_spool_errors", "Archive objects that could not be written to the spool", Counter::default()),
            archive_spool_full: reg!(r, "archive_spool_full", "1 while reading waits for room in the archive spool", Gauge::default()),
            endpoint_up: reg!(r, "hec_endpoint_healthy", "1 while an endpoint takes requests, 0 while ejected", Family::default()),
            reloads: reg!(r, "rules_reloads", "Rule file reloads, by result (ok, error)", Family::default()),
            rules_ok: reg!(r, "rules_last_reload_ok", "1 when the rule file on disk is the one running", Gauge::default()),
            budget: BUDGET_GAUGES
                .iter()
                .map(|(n, h)| {
                    let f = Family::default();
                    r.register(format!("budget_{n}"), *h, f.clone());
                    (*n, f)
                })
                .collect(),
            budget_priority: BUDGET_PRIORITY_GAUGES
                .iter()
                .map(|(n, h)| {
                    let f = Family::default();
                    r.register(format!("budget_{n}"), *h, f.clone());
                    (*n, f)
                })
                .collect(),
            registry: r,
            rules_seen: Mutex::new(HashSet::new()),
        }
    }

    /// The label for a rule name: the name, or `_other` once [`MAX_RULES`] names were seen (reloads
    /// may bring new names; the label set must stay bounded).
    fn rule_label<'a>(&self, name: &'a str) -> &'a str {
        let mut seen = self.rules_seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.contains(name) || (seen.len() < MAX_RULES && seen.insert(name.to_string())) { name } else { "_other" }
    }

    /// Counts archive lines of `reason` whose outcome is known.
    pub fn archive_lines(&self, reason: &str, outcome: &str, n: u64) {
        if n > 0 {
            self.archive_lines.get_or_create(&vec![("reason".into(), reason.into()), ("outcome".into(), outcome.into())]).inc_by(n);
        }
    }

    /// Sets the archive lines of `reason` not spooled yet.
    pub fn archive_pending(&self, reason: &str, n: u64) {
        self.archive_pending.get_or_create(&vec![("reason".into(), reason.into())]).set(n as i64);
    }

    /// Counts an archive object (`spooled` or `lost`) of `bytes`.
    pub fn archive_object(&self, state: &str, bytes: u64) {
        self.archive_objects.get_or_create(&vec![("state".into(), state.into())]).inc();
        self.archive_bytes.get_or_create(&vec![("state".into(), state.into())]).inc_by(bytes);
    }

    /// Counts an uploaded archive object.
    pub fn archive_uploaded(&self, lines: u64, bytes: u64) {
        self.archive_object("uploaded", bytes);
        self.archive_uploaded_lines.inc_by(lines);
    }

    /// Adds a rule's decisions.
    pub fn rule(&self, name: &str, action: &str, records: u64, bytes: u64) {
        if records == 0 {
            return;
        }
        let l = vec![("rule".to_string(), self.rule_label(name).to_string()), ("action".to_string(), action.to_string())];
        self.records.get_or_create(&l).inc_by(records);
        self.bytes.get_or_create(&l).inc_by(bytes);
    }

    /// Adds the bytes a rule's `trim:` removed from kept records, and the sample rate bytes it added.
    pub fn trim(&self, name: &str, removed: u64, added: u64) {
        for (kind, n) in [("removed", removed), ("added", added)] {
            if n > 0 {
                let l = vec![("rule".to_string(), self.rule_label(name).to_string()), ("kind".to_string(), kind.to_string())];
                self.trimmed.get_or_create(&l).inc_by(n);
            }
        }
    }

    /// Adds the bytes Splunk meters for a rule's events that were sent.
    pub fn metered(&self, name: &str, bytes: u64) {
        if bytes > 0 {
            self.metered.get_or_create(&vec![("rule".to_string(), self.rule_label(name).to_string())]).inc_by(bytes);
        }
    }

    /// Adds dropped records a rule's `summarize:` counted (`overflow` of them in `_other` groups).
    pub fn summarized(&self, name: &str, records: u64, overflow: u64) {
        for (folded, n) in [("false", records - overflow.min(records)), ("true", overflow)] {
            if n > 0 {
                let l = vec![("rule".to_string(), self.rule_label(name).to_string()), ("overflow".to_string(), folded.to_string())];
                self.summarized.get_or_create(&l).inc_by(n);
            }
        }
    }

    /// Counts one HEC request.
    pub fn hec_request(&self, endpoint: &str, status: &str) {
        self.hec_requests.get_or_create(&vec![("endpoint".into(), endpoint.into()), ("status".into(), status.into())]).inc();
    }

    /// Sets an endpoint's health gauge.
    pub fn endpoint_healthy(&self, endpoint: &str, up: bool) {
        self.endpoint_up.get_or_create(&vec![("endpoint".into(), endpoint.into())]).set(i64::from(up));
    }

    /// Copies a budget snapshot into the budget gauges.
    pub fn set_budget(&self, s: &BudgetStatus) {
        let l = vec![("budget".to_string(), s.budget.clone())];
        let fallback = matches!(s.store, StoreState::Fallback { .. });
        for (name, g) in &self.budget {
            let v = match *name {
                "limit_bytes" => s.limit as f64,
                "spent_bytes" => s.spent as f64,
                "spent_local_bytes" => s.spent_local as f64,
                "projected_bytes" => s.projected as f64,
                "shedding_level" => f64::from(s.level()),
                "pacing" => f64::from(u8::from(s.pacing)),
                "exhausted" => f64::from(u8::from(s.exhausted)),
                "store_fallback" => f64::from(u8::from(fallback)),
                _ => s.over_limit as f64,
            };
            g.get_or_create(&l).set(v);
        }
        for (name, g) in &self.budget_priority {
            let per = match *name {
                "kept_bytes" => s.kept.0,
                "shed_bytes" => s.shed.0,
                _ => s.shed_records.0,
            };
            for (i, p) in ["low", "normal", "high", "critical"].iter().enumerate() {
                let mut l = l.clone();
                l.push(("priority".into(), (*p).into()));
                g.get_or_create(&l).set(per[i] as f64);
            }
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = encode(&mut s, &self.registry);
        s
    }
}
