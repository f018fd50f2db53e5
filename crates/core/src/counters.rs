//! Per-rule counts of records and bytes, merged across deciders with `+=`.

use std::ops::AddAssign;

use crate::engine::{Action, Decision, RuleId};
use crate::record::view::RecordKind;

/// Counts for one rule (or the default action).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuleCounters {
    /// Records this rule decided.
    pub matched: u64,
    /// Their bytes.
    pub matched_bytes: u64,
    /// Of those, records kept.
    pub kept: u64,
    /// Bytes kept.
    pub kept_bytes: u64,
    /// Records dropped.
    pub dropped: u64,
    /// Bytes dropped.
    pub dropped_bytes: u64,
    /// Bytes `trim:` removed from kept records (counted by [`crate::Decider::trim`]).
    pub trimmed_bytes: u64,
    /// Bytes added to kept records: the `sample_rate_field` member.
    pub added_bytes: u64,
}

impl RuleCounters {
    /// The bytes sent for the kept records: kept, less trimmed, plus added.
    pub fn sent_bytes(&self) -> u64 {
        (self.kept_bytes + self.added_bytes).saturating_sub(self.trimmed_bytes)
    }
}

impl AddAssign for RuleCounters {
    fn add_assign(&mut self, o: RuleCounters) {
        self.matched += o.matched;
        self.matched_bytes += o.matched_bytes;
        self.kept += o.kept;
        self.kept_bytes += o.kept_bytes;
        self.dropped += o.dropped;
        self.dropped_bytes += o.dropped_bytes;
        self.trimmed_bytes += o.trimmed_bytes;
        self.added_bytes += o.added_bytes;
    }
}

/// Counts for a whole rule set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// One entry per rule, in file order; the default action is last.
    pub rules: Vec<RuleCounters>,
    /// Records read as JSON objects.
    pub json: u64,
    /// Records read as plain text.
    pub text: u64,
    /// Records that started with `{` but were not valid JSON (read as text).
    pub invalid_json: u64,
}

impl Counters {
    pub(crate) fn new(rules: usize) -> Counters {
        Counters { rules: vec![RuleCounters::default(); rules + 1], ..Default::default() }
    }

    pub(crate) fn add(&mut self, d: Decision, bytes: u64, kind: RecordKind) {
        let i = d.rule.index().unwrap_or(self.rules.len() - 1);
        let c = &mut self.rules[i];
        c.matched += 1;
        c.matched_bytes += bytes;
        match d.action {
            Action::Keep => {
                c.kept += 1;
                c.kept_bytes += bytes;
            }
            Action::Drop => {
                c.dropped += 1;
                c.dropped_bytes += bytes;
            }
        }
        match kind {
            RecordKind::Json => self.json += 1,
            RecordKind::Text => self.text += 1,
            RecordKind::InvalidJson => self.invalid_json += 1,
        }
    }

    pub(crate) fn trimmed(&mut self, r: RuleId, trimmed: u64, added: u64) {
        let last = self.rules.len() - 1;
        let c = &mut self.rules[r.index().unwrap_or(last).min(last)];
        c.trimmed_bytes += trimmed;
        c.added_bytes += added;
    }

    /// Counters of one rule.
    pub fn rule(&self, r: RuleId) -> &RuleCounters {
        &self.rules[r.index().unwrap_or(self.rules.len() - 1).min(self.rules.len() - 1)]
    }

    /// The sum over all rules.
    pub fn total(&self) -> RuleCounters {
        let mut t = RuleCounters::default();
        for c in &self.rules {
            t += *c;
        }
        t
    }
}

impl AddAssign<&Counters> for Counters {
    fn add_assign(&mut self, o: &Counters) {
        if self.rules.len() < o.rules.len() {
            self.rules.resize(o.rules.len(), RuleCounters::default());
        }
        for (a, b) in self.rules.iter_mut().zip(&o.rules) {
            *a += *b;
        }
        self.json += o.json;
        self.text += o.text;
        self.invalid_json += o.invalid_json;
    }
}
