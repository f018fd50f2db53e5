//! The daily byte budget in the handler: kept events are admitted by the accountant, shed ones leave the
//! output, critical ones always go through, and what is sent stays within the limit.

use std::collections::HashMap;

use logtrim_core::budget::{MemoryStore, metered_event_bytes};
use logtrim_core::{Action, Priority, RuleSet};
use logtrim_lambda::decode::{self, encode_base64};
use logtrim_lambda::event::{FirehoseEvent, FirehoseRecord, FirehoseResult};
use logtrim_lambda::handler::{Budget, BudgetBackend, State, handle};
use logtrim_lambda::reingest::{PutError, PutRecordBatch};
use logtrim_lambda::transform::Settings;
use logtrim_testkit::corpus::Corpus;

use crate::util::*;

const LIMIT: u64 = 200_000;

fn budgeted_rules() -> RuleSet {
    let mut yaml = std::fs::read_to_string(bundled_rules_path()).unwrap();
    yaml.push_str(&format!("\nbudget:\n  limit: {LIMIT}\n  time_zone: UTC\n  chunk: 16KB\n  pacing: false\n"));
    RuleSet::from_yaml("budgeted.yaml", &yaml).unwrap_or_else(|d| panic!("{d}"))
}

struct NoReingest;

impl PutRecordBatch for NoReingest {
    async fn put_record_batch(&self, _: &str, _: &[&[u8]]) -> Result<Vec<Option<String>>, PutError> {
        Err(PutError("not expected in this test".into()))
    }
}

#[tokio::test]
async fn the_budget_sheds_non_critical_events_and_keeps_every_critical_one() {
    let rules = budgeted_rules();
    let mut state = State::new(budgeted_rules(), Settings::default(), NoReingest);
    state.budget = Budget::new(&rules, BudgetBackend::Local(MemoryStore::new()));
    let mut oracle = rules.decider();
    let mut corpus = Corpus::new(7);
    // Priority and metered size of every record the rules keep, by its `time` (unique in the corpus).
    let mut kept_by_rules: HashMap<String, (Priority, u64)> = HashMap::new();
    let mut delivered: Vec<String> = Vec::new();
    for inv in 0..30 {
        let records: Vec<FirehoseRecord> = (0..100)
            .map(|i| {
                let line = corpus.next().unwrap();
                let mut d = oracle.decide(&line);
                if d.action() == Action::Keep {
                    let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
                    let time = v["time"].as_str().unwrap().to_string();
                    // Metered as sent: trimmed by the rule set's `trim:`.
                    let mut sent = Vec::new();
                    d.write_kept(&mut sent);
                    assert!(kept_by_rules.insert(time, (d.decision().priority, metered_event_bytes(&sent))).is_none());
                }
                FirehoseRecord { record_id: format!("{inv}-{i}"), approximate_arrival_timestamp: None, data: encode_base64(&line) }
            })
            .collect();
        let ev = FirehoseEvent { records, ..fixture("firehose-fluentbit.json") };
        let resp = handle(&state, ev).await.unwrap();
        assert_eq!(resp.records.len(), 100);
        if inv == 0 {
            // A batch is leased for before it is decided: nothing is shed while the budget has room.
            let st = state.budget.as_ref().unwrap().accountant.lock().await.status(logtrim_core::budget::Timestamp::now());
            assert_eq!(st.shed.0, [0; 4], "{st:?}");
        }
        for r in resp.records.iter().filter(|r| r.result == FirehoseResult::Ok) {
            // Summaries of dropped events (admitted by the budget too) are not records the rules keep.
            for e in parse_hec(&decode::decode_base64(&r.data).unwrap()).into_iter().filter(|e| !is_summary(e)) {
                delivered.push(e["event"]["time"].as_str().unwrap().to_string());
            }
        }
    }
    let rules_kept: u64 = kept_by_rules.values().map(|(_, n)| n).sum();
    // (4×, not 5×: the bundled rules trim what they keep.)
    assert!(rules_kept > 4 * LIMIT, "the traffic must overrun the budget: {rules_kept}");
    let mut sent = [0u64; 4];
    for time in &delivered {
        let (p, n) = *kept_by_rules.get(time).expect("only records the rules keep are sent");
        sent[p as usize] += n;
    }
    let critical_in: u64 = kept_by_rules.values().filter(|(p, _)| *p == Priority::Critical).map(|(_, n)| n).sum();
    assert_eq!(sent[Priority::Critical as usize], critical_in, "every critical event is sent");
    let non_critical = sent[0] + sent[1] + sent[2];
    // Thresholds stop everything but critical at the limit; leases can overshoot by one chunk.
    assert!(non_critical + critical_in <= LIMIT + critical_in.min(LIMIT) + 16_000, "sent {sent:?}");
    assert!(non_critical > LIMIT / 2, "the budget is used, not wasted: {sent:?}");
    let status = state.budget.as_ref().unwrap().accountant.lock().await.status(logtrim_core::budget::Timestamp::now());
    assert!(status.shed.get(Priority::Low) > 0 && status.shed.get(Priority::Critical) == 0, "{status:?}");
    assert_eq!(status.kept.get(Priority::Critical), critical_in);
}
