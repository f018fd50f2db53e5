//! [`Counters`]: what happened to records, per rule — the one set of counts the CLI's report, the
//! Lambda's metrics line and the forwarder's Prometheus metrics all read. Merged with `+=`.
//!
//! Every record a rule decides is counted once in `matched`, then in exactly one of `dropped` (by the
//! rule or by sampling) and `kept`. A kept record is then sent, shed by the daily budget, or not sent
//! because its event would be blank; so `kept = sent + shed + blank` once the pipeline has handled it.
//! Byte counts on the input side (`matched_bytes`, `kept_bytes`, `dropped_bytes`) are the records' own
//! bytes ([`crate::Decided::bytes`]); on the output side (`metered_bytes`, `shed_bytes`) they are what
//! Splunk's licence meter counts for the event ([`crate::budget::metered_event_bytes`]).

use std::ops::AddAssign;

use crate::primitives::{Action, Decision, RecordKind, RuleId};

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
    /// Bytes `trim:` removed from kept records.
    pub trimmed_bytes: u64,
    /// Bytes added to kept records: the `sample_rate_field` member.
    pub added_bytes: u64,
    /// Kept records sent.
    pub sent: u64,
    /// The metered bytes of their events.
    pub metered_bytes: u64,
    /// Kept records the daily budget shed.
    pub shed: u64,
    /// The metered bytes of their events.
    pub shed_bytes: u64,
    /// Kept records not sent because nothing was left of their event (HEC refuses a blank event).
    pub blank: u64,
    /// Dropped records counted in the rule's summaries.
    pub summarized: u64,
    /// Their bytes.
    pub summarized_bytes: u64,
    /// Of those, the ones folded into an interval's `_other` group.
    pub summary_overflow: u64,
    /// Summary events sent.
    pub summary_events: u64,
    /// Their bytes, as metered.
    pub summary_bytes: u64,
    /// Summary events the daily budget shed.
    pub summaries_shed: u64,
}

impl RuleCounters {
    /// The bytes of the kept records as they are shaped to be sent: kept, less trimmed, plus added.
    pub fn shaped_bytes(&self) -> u64 {
        (self.kept_bytes + self.added_bytes).saturating_sub(self.trimmed_bytes)
    }
}

impl AddAssign for RuleCounters {
    fn add_assign(&mut self, o: RuleCounters) {
        // Destructured so that a new field cannot be forgotten here.
        let RuleCounters {
            matched,
            matched_bytes,
            kept,
            kept_bytes,
            dropped,
            dropped_bytes,
            trimmed_bytes,
            added_bytes,
            sent,
            metered_bytes,
            shed,
            shed_bytes,
            blank,
            summarized,
            summarized_bytes,
            summary_overflow,
            summary_events,
            summary_bytes,
            summaries_shed,
        } = o;
        self.matched += matched;
        self.matched_bytes += matched_bytes;
        self.kept += kept;
        self.kept_bytes += kept_bytes;
        self.dropped += dropped;
        self.dropped_bytes += dropped_bytes;
        self.trimmed_bytes += trimmed_bytes;
        self.added_bytes += added_bytes;
        self.sent += sent;
        self.metered_bytes += metered_bytes;
        self.shed += shed;
        self.shed_bytes += shed_bytes;
        self.blank += blank;
        self.summarized += summarized;
        self.summarized_bytes += summarized_bytes;
        self.summary_overflow += summary_overflow;
        self.summary_events += summary_events;
        self.summary_bytes += summary_bytes;
        self.summaries_shed += summaries_shed;
    }
}

/// Counts for a whole rule set.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    /// One entry per rule, in file order; the default action is last.
    pub rules: Vec<RuleCounters>,
    /// Records read as JSON objects.
    pub json: u64,
    /// Records read as plain text.
    pub text: u64,
    /// Records that started with `{` but were not valid JSON (read as text).
    pub invalid_json: u64,
    /// Events sent as text whose bytes were not UTF-8: each invalid sequence was replaced by U+FFFD.
    pub invalid_utf8: u64,
    /// Bit `min(r, 63)` set once rule `r`'s counts were changed through [`Counters::at`]: what
    /// [`Counters::add_touched`] adds. Not part of the counts (equality ignores it).
    touched: u64,
}

impl PartialEq for Counters {
    fn eq(&self, o: &Counters) -> bool {
        let Counters { rules, json, text, invalid_json, invalid_utf8, touched: _ } = self;
        *rules == o.rules && *json == o.json && *text == o.text && *invalid_json == o.invalid_json && *invalid_utf8 == o.invalid_utf8
    }
}

impl Eq for Counters {}

impl Counters {
    pub(crate) fn new(rules: usize) -> Counters {
        Counters { rules: vec![RuleCounters::default(); rules + 1], ..Default::default() }
    }

    /// Zeroes every count, keeping the rules' room. Only the rules touched are zeroed: the counts must
    /// have been changed only through [`Counters::at`] since they were made or last reset, as a
    /// pipeline's units are (the same condition as [`Counters::add_touched`]).
    pub(crate) fn reset(&mut self) {
        let mut bits = std::mem::take(&mut self.touched);
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let rules = if i == 63 { &mut self.rules[63..] } else { &mut self.rules[i..=i] };
            rules.fill(RuleCounters::default());
        }
        debug_assert!(self.rules.iter().all(|r| *r == RuleCounters::default()), "counts changed without Counters::at");
        // Destructured so that a new field cannot be forgotten here.
        let Counters { rules: _, json, text, invalid_json, invalid_utf8, touched: _ } = self;
        (*json, *text, *invalid_json, *invalid_utf8) = (0, 0, 0, 0);
    }

    pub(crate) fn add(&mut self, d: Decision, bytes: u64, kind: RecordKind) {
        let c = self.at(d.rule);
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
        let c = self.at(r);
        c.trimmed_bytes += trimmed;
        c.added_bytes += added;
    }

    /// The counters of rule `r` (the default action's for [`RuleId::DEFAULT`]).
    pub(crate) fn at(&mut self, r: RuleId) -> &mut RuleCounters {
        let last = self.rules.len() - 1;
        let i = r.index().unwrap_or(last).min(last);
        self.touched |= 1 << i.min(63);
        &mut self.rules[i]
    }

    /// `self += o` for counts `o` changed only through [`Counters::at`] since they were made or reset
    /// (a pipeline's units): only the rules it touched are added.
    ///
    /// PERF: a unit holds one record (the Lambda's) and touches one or two rules; adding every rule's
    /// counts, most of them zero, was most of the cost of settling a record.
    pub(crate) fn add_touched(&mut self, o: &Counters) {
        if self.rules.len() < o.rules.len() {
            self.rules.resize(o.rules.len(), RuleCounters::default());
        }
        let mut bits = o.touched;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if i == 63 {
                // Bit 63 stands for every rule from 63 on.
                for (a, b) in self.rules[63..].iter_mut().zip(&o.rules[63..]) {
                    *a += *b;
                }
            } else {
                self.rules[i] += o.rules[i];
            }
        }
        self.add_scalars(o);
    }

    /// The counts that are not per rule, and the touched mask.
    fn add_scalars(&mut self, o: &Counters) {
        self.touched |= o.touched;
        self.json += o.json;
        self.text += o.text;
        self.invalid_json += o.invalid_json;
        self.invalid_utf8 += o.invalid_utf8;
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
        // Whatever `o` touched may now be nonzero here too; rules changed through the public fields
        // are not tracked, which is why only a pipeline's own units are added with `add_touched`.
        self.add_scalars(o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Counts changed through `at` (as a pipeline's units are) add up the same with `add_touched` as
        /// with `+=`, for rule sets past the 63 rules the mask tells apart.
        #[test]
        fn add_touched_adds_what_plus_adds(
            rules in 1usize..90,
            touches in proptest::collection::vec((0usize..100, 1u64..1000), 0..12),
            before in proptest::collection::vec((0usize..100, 1u64..1000), 0..12),
        ) {
            let mut total = Counters::new(rules);
            for &(r, n) in &before {
                total.at(RuleId::from_index(r % (rules + 1))).matched += n;
            }
            let mut unit = Counters::new(rules);
            for &(r, n) in &touches {
                let id = if r == 99 { RuleId::DEFAULT } else { RuleId::from_index(r % (rules + 1)) };
                let c = unit.at(id);
                c.matched += n;
                c.sent += 1;
                c.metered_bytes += n;
                unit.json += 1;
            }
            let mut plus = total.clone();
            plus += &unit;
            total.add_touched(&unit);
            prop_assert_eq!(&total, &plus);
            // A reset unit holds nothing, and adds nothing.
            unit.reset();
            prop_assert_eq!(&unit, &Counters::new(rules));
            total.add_touched(&unit);
            prop_assert_eq!(total, plus);
        }
    }
}
