//! Summaries of dropped records for `run` and `report`, flushed as the records' own time moves on.
//!
//! A file is replayed, not tailed, so the clock is the records' time: an interval is written once a record
//! at least [`LATENESS`] past its end has been summarized, and the rest at the end of the input. A dropped
//! record without a time of its own counts at the time of the last summarized record that had one (at the
//! start of the run when none had yet), so the same input always gives the same summaries.

use logtrim_core::budget::{SignedDuration, Timestamp};
use logtrim_core::{Action, Decider, Decision, RuleSet, Summarizer, Summary, SummaryCounters};

/// How long after an interval's end records may still arrive for it before it is written.
pub const LATENESS: SignedDuration = SignedDuration::from_secs(60);

pub struct Summaries {
    summarizer: Summarizer,
    /// Whether any rule summarizes (else nothing is done per record).
    active: bool,
    /// The fallback time before any record had one.
    start: Timestamp,
}

impl Summaries {
    pub fn new(rules: &RuleSet) -> Summaries {
        Summaries { summarizer: rules.summarizer(), active: rules.has_summaries(), start: Timestamp::now() }
    }

    /// Counts a record the rules dropped; returns the summary events now due (usually none).
    pub fn dropped(&mut self, decider: &mut Decider, record: &[u8], d: Decision) -> Vec<Summary> {
        if !self.active || d.action != Action::Drop {
            return Vec::new();
        }
        let s = &mut self.summarizer;
        let fallback = s.last_record_time().unwrap_or(self.start);
        if !s.add(decider, record, d, fallback) {
            return Vec::new();
        }
        match (s.next_due(), s.last_record_time()) {
            (Some(due), Some(last)) if due + LATENESS <= last => s.flush(Some(last - LATENESS)),
            _ => Vec::new(),
        }
    }

    /// Every interval still open, at the end of the input.
    pub fn finish(&mut self) -> Vec<Summary> {
        self.summarizer.flush(None)
    }

    pub fn counters(&self) -> &SummaryCounters {
        self.summarizer.counters()
    }
}
