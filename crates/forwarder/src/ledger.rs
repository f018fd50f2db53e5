//! The conservation ledger: where every line read went, per file and in total.
//!
//! ```text
//! read = delivered + dropped + shed + blank + dead_lettered + pending
//! ```
//!
//! - `read`: container log lines (partial lines joined) handed to the rules;
//! - `dropped`: dropped by the rules; `shed`: kept by the rules, shed by the daily budget; `blank`:
//!   kept, but with `hec.event: log` its event would be blank, which HEC refuses, so it is not sent;
//! - `delivered`: in a batch HEC accepted (and acknowledged, with `hec.ack`); `dead_lettered`: in a
//!   batch HEC rejected (written to the dead-letter directory, or only counted when that is full);
//! - `pending`: in the open batch, or in a sealed one not done yet (queued, in flight, retrying,
//!   awaiting its acknowledgement).
//!
//! Each is counted where it happens, none derived from the others: the reading thread counts reads
//! and decisions and registers each sealed batch's lines per file; the sink reports each batch done as
//! delivered or dead-lettered; `pending` is the lines of the batches not done. A line lost or counted
//! twice on the way (an event left out of its batch, a batch done twice, a line read and never
//! decided) breaks the equation.
//!
//! The reading thread brings its counts in between two reads, when every line read so far is decided
//! and placed; a batch the sink finished before it was brought in is applied as it is brought in. So
//! the equation holds at every scrape, not only when the forwarder is idle. The counts lag the reading
//! by at most [`BRING_IN_EVERY`] and do not move while reading waits on a full queue.
//!
//! Per-file series are labelled with the file name of the path the glob matched, which stays through
//! rotations and truncations (a renamed file or a copytruncate copy counts under it). At most
//! [`MAX_FILES`] names have series of their own; lines of further files count under `_other`. A name
//! no longer read has its series removed [`LINGER`] after its last pending line is done, so its final
//! counts reach a scrape first; the totals keep everything.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::tail::checkpoint::Seq;

/// Names with series of their own, at most; the rest count under [`OTHER`].
pub const MAX_FILES: usize = 512;
/// How long the series of a file no longer read stay after its last line is done.
pub const LINGER: Duration = Duration::from_secs(300);
/// How often the reading thread brings its counts in, at most.
pub const BRING_IN_EVERY: Duration = Duration::from_millis(250);
/// The series of the files beyond [`MAX_FILES`].
pub const OTHER: &str = "_other";

/// A sealed batch's lines per file name (or per series, once brought in).
pub type BatchLines = Vec<(Arc<str>, u64)>;

/// Where a done batch's lines went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Done {
    /// HEC accepted it.
    Delivered,
    /// HEC rejected it.
    DeadLettered,
}

/// One series' lines, by what became of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lines {
    /// Read.
    pub read: u64,
    /// In batches HEC accepted.
    pub delivered: u64,
    /// Dropped by the rules.
    pub dropped: u64,
    /// Shed by the daily budget.
    pub shed: u64,
    /// Not sent: their event would be blank.
    pub blank: u64,
    /// In batches HEC rejected.
    pub dead_lettered: u64,
    /// In sealed batches not done yet.
    pub in_batches: u64,
    /// In the open batch.
    pub open: u64,
}

impl Lines {
    /// In a batch not done yet, open or sealed.
    pub fn pending(&self) -> u64 {
        self.in_batches + self.open
    }

    /// Whether every line read is accounted for.
    pub fn balanced(&self) -> bool {
        self.read == self.delivered + self.dropped + self.shed + self.blank + self.dead_lettered + self.pending()
    }

    fn outcomes(&self) -> [(&'static str, u64); 6] {
        [
            ("read", self.read),
            ("delivered", self.delivered),
            ("dropped", self.dropped),
            ("shed", self.shed),
            ("blank", self.blank),
            ("dead_lettered", self.dead_lettered),
        ]
    }
}

/// The reading thread's counts of one file since they were last brought in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Lines read.
    pub read: u64,
    /// Dropped by the rules.
    pub dropped: u64,
    /// Shed by the budget.
    pub shed: u64,
    /// Kept, not sent: blank.
    pub blank: u64,
}

/// A series' state.
#[derive(Debug, Default)]
struct Series {
    lines: Lines,
    /// No file of this name is read any more, since when (and nothing was pending then).
    idle_since: Option<Instant>,
    /// No file of this name is read any more.
    gone: bool,
}

#[derive(Debug, Default)]
struct Inner {
    total: Lines,
    series: HashMap<Arc<str>, Series>,
    /// File name → the series its lines count under, fixed for as long as the name is known (lines read
    /// under one series must have their outcome counted under it).
    names: HashMap<Arc<str>, Arc<str>>,
    /// Sealed batches brought in and not done: their lines per series.
    batches: HashMap<Seq, BatchLines>,
    /// Batches done before they were brought in.
    early: HashMap<Seq, Done>,
    other: Option<Arc<str>>,
}

/// The ledger, shared by the reading thread, the sink and `/metrics`.
#[derive(Debug, Default)]
pub struct Ledger {
    inner: Mutex<Inner>,
}

impl Inner {
    /// The series of a file name (from now on, while the name is known).
    fn series_of(&mut self, name: &Arc<str>) -> Arc<str> {
        if let Some(s) = self.names.get(name) {
            return Arc::clone(s);
        }
        let s = if self.series.len() < MAX_FILES || self.series.contains_key(name) {
            Arc::clone(name)
        } else {
            Arc::clone(self.other.get_or_insert_with(|| Arc::from(OTHER)))
        };
        self.names.insert(Arc::clone(name), Arc::clone(&s));
        let series = self.series.entry(Arc::clone(&s)).or_default();
        series.gone = false;
        series.idle_since = None;
        s
    }

    fn apply(&mut self, lines: BatchLines, how: Done) {
        for (s, n) in lines {
            let Some(series) = self.series.get_mut(&s) else { continue };
            for l in [&mut series.lines, &mut self.total] {
                l.in_batches -= n;
                match how {
                    Done::Delivered => l.delivered += n,
                    Done::DeadLettered => l.dead_lettered += n,
                }
            }
        }
    }
}

/// What the reading thread brings in: see [`Ledger::bring_in`].
pub struct Intake<'a, C, O> {
    /// Per file name, its counts since the last bring-in (several files may have one name).
    pub counts: C,
    /// Batches sealed since, in order, each with its lines per file name.
    pub sealed: &'a mut Vec<(Seq, BatchLines)>,
    /// Per file name, the lines in the open batch now.
    pub open: O,
    /// File names no file is read under any more.
    pub gone: &'a mut Vec<Arc<str>>,
}

impl Ledger {
    /// Brings in the reading thread's counts. Call between reads only, when every line read so far is
    /// decided and, if kept, in the open batch or a sealed one.
    pub fn bring_in<'a, C, O>(&self, intake: Intake<'_, C, O>, now: Instant)
    where
        C: Iterator<Item = (&'a Arc<str>, Counts)>,
        O: Iterator<Item = (&'a Arc<str>, u64)>,
    {
        let mut i = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let i = &mut *i;
        for (name, c) in intake.counts {
            let s = i.series_of(name);
            let series = i.series.entry(s).or_default();
            for l in [&mut series.lines, &mut i.total] {
                l.read += c.read;
                l.dropped += c.dropped;
                l.shed += c.shed;
                l.blank += c.blank;
            }
        }
        for (seq, lines) in intake.sealed.drain(..) {
            let lines: BatchLines = lines.into_iter().map(|(name, n)| (i.series_of(&name), n)).collect();
            for (s, n) in &lines {
                let series = i.series.entry(Arc::clone(s)).or_default();
                series.lines.in_batches += n;
                i.total.in_batches += n;
            }
            match i.early.remove(&seq) {
                Some(how) => i.apply(lines, how),
                None => {
                    i.batches.insert(seq, lines);
                }
            }
        }
        // What the open batch holds now replaces what it held at the last bring-in.
        for series in i.series.values_mut() {
            series.lines.open = 0;
        }
        i.total.open = 0;
        for (name, n) in intake.open {
            let s = i.series_of(name);
            i.series.entry(s).or_default().lines.open += n;
            i.total.open += n;
        }
        for name in intake.gone.drain(..) {
            if let Some(s) = i.names.remove(&name)
                && let Some(series) = i.series.get_mut(&s)
                && !i.names.values().any(|other| *other == s)
            {
                series.gone = true;
            }
        }
        // A series no file is read under goes once its last line is done and a scrape could see that.
        for series in i.series.values_mut() {
            if series.gone && series.lines.pending() == 0 {
                series.idle_since.get_or_insert(now);
            } else {
                series.idle_since = None;
            }
        }
        i.series.retain(|_, s| s.idle_since.is_none_or(|t| now.duration_since(t) < LINGER));
    }

    /// The sink finished batch `seq`.
    pub fn done(&self, seq: Seq, how: Done) {
        let mut i = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match i.batches.remove(&seq) {
            Some(lines) => i.apply(lines, how),
            None => {
                i.early.insert(seq, how);
            }
        }
    }

    /// The totals.
    pub fn total(&self) -> Lines {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).total
    }

    /// One series, if it has one.
    pub fn file(&self, name: &str) -> Option<Lines> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).series.get(name).map(|s| s.lines)
    }

    /// How many per-file series there are.
    pub fn files(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).series.len()
    }
}

/// Exports the ledger at each scrape, from one consistent view of it.
#[derive(Debug)]
pub struct LedgerCollector(pub Arc<Ledger>);

impl Collector for LedgerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let i = self.0.inner.lock().unwrap_or_else(|e| e.into_inner());
        let help = "Lines read, and what became of them: read = delivered + dropped + shed + blank + dead_lettered + lines_pending";
        let mut m = encoder.encode_descriptor("lines", help, None, MetricType::Counter)?;
        for (outcome, n) in i.total.outcomes() {
            ConstCounter::new(n).encode(m.encode_family(&[("outcome", outcome)])?)?;
        }
        let m = encoder.encode_descriptor("lines_pending", "Lines in a batch not done yet (open, queued, in flight, awaiting acknowledgement)", None, MetricType::Gauge)?;
        ConstGauge::new(i.total.pending() as i64).encode(m)?;
        let help = "Per file (its name; _other past the cap): lines read and what became of them, as logtrim_lines_total";
        let mut m = encoder.encode_descriptor("file_lines", help, None, MetricType::Counter)?;
        for (name, s) in &i.series {
            for (outcome, n) in s.lines.outcomes() {
                ConstCounter::new(n).encode(m.encode_family(&[("file", &**name), ("outcome", outcome)])?)?;
            }
        }
        let mut m = encoder.encode_descriptor("file_lines_pending", "Per file: lines in a batch not done yet", None, MetricType::Gauge)?;
        for (name, s) in &i.series {
            ConstGauge::new(s.lines.pending() as i64).encode(m.encode_family(&[("file", &**name)])?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Arc<str> {
        Arc::from(s)
    }

    fn bring(l: &Ledger, counts: &[(&Arc<str>, Counts)], sealed: Vec<(Seq, BatchLines)>, open: &[(&Arc<str>, u64)], gone: Vec<Arc<str>>, now: Instant) {
        let (mut sealed, mut gone) = (sealed, gone);
        let intake = Intake { counts: counts.iter().copied(), sealed: &mut sealed, open: open.iter().copied(), gone: &mut gone };
        l.bring_in(intake, now);
    }

    /// Lines move from the open batch to a sealed one to delivered or dead-lettered; a batch done
    /// before it was brought in is applied as it is; the equation holds after every step.
    #[test]
    fn every_line_is_accounted_for_at_every_step() {
        let l = Ledger::default();
        let (a, b) = (name("a.log"), name("b.log"));
        let t0 = Instant::now();
        let c = |read, dropped| Counts { read, dropped, ..Counts::default() };
        bring(&l, &[(&a, c(10, 4)), (&b, c(3, 3))], vec![], &[(&a, 6)], vec![], t0);
        assert_eq!(l.file("a.log").unwrap().pending(), 6);
        assert!(l.total().balanced() && l.file("a.log").unwrap().balanced() && l.file("b.log").unwrap().balanced());
        // Batch 1 (a: 6, b: 0) sealed, delivered before it is brought in; a reads 2 more, kept, open.
        l.done(1, Done::Delivered);
        bring(&l, &[(&a, c(2, 0))], vec![(1, vec![(a.clone(), 6)])], &[(&a, 2)], vec![], t0);
        let la = l.file("a.log").unwrap();
        assert_eq!((la.delivered, la.pending(), la.read), (6, 2, 12));
        assert!(la.balanced() && l.total().balanced());
        bring(&l, &[], vec![(2, vec![(a.clone(), 2)])], &[], vec![], t0);
        l.done(2, Done::DeadLettered);
        let la = l.file("a.log").unwrap();
        assert_eq!((la.dead_lettered, la.pending()), (2, 0));
        assert!(la.balanced() && l.total().balanced());
        // A line lost on the way shows: read, never placed.
        bring(&l, &[(&b, c(1, 0))], vec![], &[], vec![], t0);
        assert!(!l.file("b.log").unwrap().balanced() && !l.total().balanced());
    }

    /// A file no longer read keeps its series until `LINGER` after its last line is done; the totals
    /// keep its counts.
    #[test]
    fn series_of_files_gone_are_removed_after_they_settle() {
        let l = Ledger::default();
        let a = name("a.log");
        let t0 = Instant::now();
        bring(&l, &[(&a, Counts { read: 2, ..Counts::default() })], vec![(1, vec![(a.clone(), 2)])], &[], vec![a.clone()], t0);
        bring(&l, &[], vec![], &[], vec![], t0 + LINGER * 2);
        assert!(l.file("a.log").is_some(), "2 lines still pending");
        l.done(1, Done::Delivered);
        bring(&l, &[], vec![], &[], vec![], t0 + LINGER * 2);
        bring(&l, &[], vec![], &[], vec![], t0 + LINGER * 3 - Duration::from_secs(1));
        assert!(l.file("a.log").is_some(), "not yet");
        bring(&l, &[], vec![], &[], vec![], t0 + LINGER * 3);
        assert!(l.file("a.log").is_none());
        assert_eq!((l.total().read, l.total().delivered), (2, 2));
    }

    /// Past `MAX_FILES` names, lines count under `_other`, read and outcome alike.
    #[test]
    fn names_past_the_cap_count_under_other() {
        let l = Ledger::default();
        let t0 = Instant::now();
        let names: Vec<Arc<str>> = (0..MAX_FILES + 3).map(|i| name(&format!("f{i}.log"))).collect();
        let last = names.last().unwrap().clone();
        // Each file one line: dropped, but the last one's, kept and sealed.
        let counts: Vec<(&Arc<str>, Counts)> =
            names.iter().map(|n| (n, Counts { read: 1, dropped: u64::from(*n != last), ..Counts::default() })).collect();
        bring(&l, &counts, vec![(1, vec![(last.clone(), 1)])], &[], vec![], t0);
        assert_eq!(l.files(), MAX_FILES + 1);
        let other = l.file(OTHER).unwrap();
        assert_eq!((other.read, other.dropped, other.pending()), (3, 2, 1));
        l.done(1, Done::Delivered);
        assert_eq!(l.file(OTHER).unwrap().delivered, 1);
        assert!(l.file(OTHER).unwrap().balanced() && l.total().balanced());
    }
}
