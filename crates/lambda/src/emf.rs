//! One CloudWatch Embedded Metric Format line per invocation: records and bytes in, kept, dropped,
//! failed, re-ingested, and per-rule event counts.
//!
//! Metrics go to namespace `logtrim`, dimension `FunctionName`. Per-rule counts are metrics named
//! `Rule.<rule>.Kept` / `Rule.<rule>.Dropped` (EMF allows 100 metrics per directive: rules beyond
//! [`MAX_RULE_METRICS`] are folded into `Rule._other.*`), and the full per-rule table is in the
//! line's `rules` member for Logs Insights.

use serde_json::{Map, Value, json};

use logtrim_core::RuleSet;
use logtrim_core::budget::BudgetStatus;

use logtrim_core::Counters;

use crate::archive::ArchiveReport;
use crate::transform::Stats;

/// Rules with their own metrics; the rest are summed into `_other`.
pub const MAX_RULE_METRICS: usize = 40;

/// EMF's limit of metrics in one directive.
pub const MAX_METRICS_PER_DIRECTIVE: usize = 100;

/// What the line reports besides [`Stats`] and the core's [`Counters`].
#[derive(Clone, Debug, Default)]
pub struct Extra<'a> {
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: &'a str,
    /// Firehose's invocation id.
    pub invocation_id: &'a str,
    /// Epoch milliseconds.
    pub timestamp_ms: i64,
    /// Handler time.
    pub duration_ms: f64,
    /// Records re-ingested with PutRecordBatch (after success).
    pub reingested_records: u64,
    /// Their bytes.
    pub reingested_bytes: u64,
    /// The daily byte budget after this invocation, when one is enforced.
    pub budget: Option<BudgetStatus>,
    /// What the archive wrote, when archiving.
    pub archive: Option<ArchiveReport>,
}

/// Renders the EMF JSON line (no trailing newline).
pub fn render(stats: &Stats, counters: &Counters, rules: &RuleSet, x: &Extra<'_>) -> String {
    let total = counters.total();
    let mut root = Map::new();
    let mut metrics: Vec<Value> = Vec::new();
    let mut put = |root: &mut Map<String, Value>, name: String, unit: &str, v: Value| {
        metrics.push(json!({"Name": name, "Unit": unit}));
        root.insert(name, v);
    };
    for (name, unit, v) in [
        ("RecordsIn", "Count", stats.records_in),
        ("BytesIn", "Bytes", stats.bytes_in),
        ("RecordsOk", "Count", stats.records_ok),
        ("RecordsDropped", "Count", stats.records_dropped),
        ("RecordsFailed", "Count", stats.records_failed),
        ("BytesFailed", "Bytes", stats.bytes_failed),
        ("RecordsReingested", "Count", stats.records_reingested),
        ("ReingestPuts", "Count", x.reingested_records),
        ("ReingestBytes", "Bytes", x.reingested_bytes),
        ("EventsIn", "Count", total.matched),
        ("EventBytesIn", "Bytes", total.matched_bytes),
        ("EventsKept", "Count", total.kept),
        ("EventBytesKept", "Bytes", total.kept_bytes),
        ("EventsDropped", "Count", total.dropped),
        ("EventBytesDropped", "Bytes", total.dropped_bytes),
        ("BytesOut", "Bytes", stats.bytes_out),
        ("ResponseBytes", "Bytes", stats.response_bytes),
        ("EventsShed", "Count", total.shed + total.summaries_shed),
        ("EventBytesShed", "Bytes", total.shed_bytes),
        ("EventBytesMetered", "Bytes", total.metered_bytes + total.summary_bytes),
        ("EventBytesTrimmed", "Bytes", total.trimmed_bytes),
        ("EventsBlank", "Count", total.blank),
        ("SummaryEvents", "Count", total.summary_events),
        ("SummaryBytes", "Bytes", total.summary_bytes),
        ("EventsInvalidUtf8", "Count", counters.invalid_utf8),
    ] {
        put(&mut root, name.to_string(), unit, json!(v));
    }
    // The budget as this instance sees it: the fleet's spend (estimated), the limit, the shedding level
    // (0 none, 1 low, 2 low+normal, 3 all but critical), the projection, and any critical overage.
    if let Some(b) = &x.budget {
        for (name, unit, v) in [
            ("BudgetSpentBytes", "Bytes", json!(b.spent)),
            ("BudgetLimitBytes", "Bytes", json!(b.limit)),
            ("BudgetProjectedBytes", "Bytes", json!(b.projected)),
            ("BudgetShedLevel", "None", json!(b.level())),
            ("BudgetPacing", "None", json!(u8::from(b.pacing))),
            ("BudgetOverLimitBytes", "Bytes", json!(b.over_limit)),
            ("BudgetStoreFallback", "None", json!(u8::from(matches!(b.store, logtrim_core::budget::StoreState::Fallback { .. })))),
        ] {
            put(&mut root, name.to_string(), unit, v);
        }
        root.insert("budget".into(), json!({"name": b.budget, "day": b.day.key()}));
    }
    // Archived events, objects (each with its index: two PUTs) and their bytes; events that were to be
    // archived but could not be (LOGTRIM_ARCHIVE_ON_FAILURE=continue).
    if let Some(a) = &x.archive {
        for (name, unit, v) in [
            ("ArchivedEvents", "Count", a.events),
            ("ArchiveObjects", "Count", a.objects),
            ("ArchiveBytes", "Bytes", a.bytes),
            ("ArchiveFailedEvents", "Count", a.failed_events),
        ] {
            put(&mut root, name.to_string(), unit, json!(v));
        }
    }
    put(&mut root, "DurationMs".into(), "Milliseconds", json!((x.duration_ms * 1000.0).round() / 1000.0));

    let mut table = Map::new();
    let mut other = (0u64, 0u64);
    let ids = (0..rules.len()).map(|i| rules.rule_id_at(i)).chain([logtrim_core::RuleId::DEFAULT]);
    for (n, id) in ids.enumerate() {
        let c = counters.rule(id);
        let name = rules.rule_name(id).to_string();
        if n < MAX_RULE_METRICS {
            put(&mut root, format!("Rule.{name}.Kept"), "Count", json!(c.kept));
            put(&mut root, format!("Rule.{name}.Dropped"), "Count", json!(c.dropped));
        } else {
            other.0 += c.kept;
            other.1 += c.dropped;
        }
        table.insert(
            name,
            json!({"matched": c.matched, "kept": c.kept, "dropped": c.dropped,
                   "kept_bytes": c.kept_bytes, "dropped_bytes": c.dropped_bytes, "trimmed_bytes": c.trimmed_bytes}),
        );
    }
    if rules.len() + 1 > MAX_RULE_METRICS {
        put(&mut root, "Rule._other.Kept".into(), "Count", json!(other.0));
        put(&mut root, "Rule._other.Dropped".into(), "Count", json!(other.1));
    }
    root.insert("FunctionName".into(), json!(x.function_name));
    root.insert("invocationId".into(), json!(x.invocation_id));
    root.insert("rules".into(), Value::Object(table));
    // EMF takes at most 100 metrics per directive: with the per-rule metrics, the budget's and the
    // archive's there can be more, so they are spread over as many directives as needed.
    let directives: Vec<Value> = metrics
        .chunks(MAX_METRICS_PER_DIRECTIVE)
        .map(|m| json!({"Namespace": "logtrim", "Dimensions": [["FunctionName"]], "Metrics": m}))
        .collect();
    root.insert("_aws".into(), json!({"Timestamp": x.timestamp_ms, "CloudWatchMetrics": directives}));
    Value::Object(root).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_is_valid_emf() {
        let rules = RuleSet::from_yaml(
            "t.yaml",
            "parse:\n  log: [access]\nrules:\n  - name: drop-probes\n    when: log.user_agent starts_with \"kube-probe/\"\n    action: drop\ndefault:\n  action: keep\n",
        )
        .unwrap();
        let stats = Stats { records_in: 2, bytes_in: 100, records_ok: 1, records_dropped: 1, ..Stats::default() };
        let recs = [r#"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.31""#, "hello"].map(|l| crate::event::FirehoseRecord {
            record_id: "r".into(),
            approximate_arrival_timestamp: None,
            data: crate::decode::encode_base64(l.as_bytes()),
        });
        let settings = crate::transform::Settings::default();
        let counters = crate::transform::transform(&recs, &mut crate::transform::pipeline(&rules, &settings), &settings).counters;
        let line = render(&stats, &counters, &rules, &Extra { function_name: "f", timestamp_ms: 1, ..Extra::default() });
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "logtrim");
        for m in directive["Metrics"].as_array().unwrap() {
            assert!(v[m["Name"].as_str().unwrap()].is_number(), "{m}");
        }
        assert!(directive["Metrics"].as_array().unwrap().len() <= 100);
        assert_eq!(v["_aws"]["CloudWatchMetrics"].as_array().unwrap().len(), 1);
        assert_eq!(v["Rule.drop-probes.Dropped"], 1);
        assert_eq!(v["Rule.default.Kept"], 1);
        assert_eq!(v["EventsIn"], 2);
        assert_eq!(v["rules"]["drop-probes"]["matched"], 1);
    }

    #[test]
    fn more_than_100_metrics_are_spread_over_directives() {
        let rules: String = (0..50).map(|i| format!("  - name: r{i}\n    when: n == {i}\n    action: drop\n")).collect();
        let rules = RuleSet::from_yaml("t.yaml", &format!("rules:\n{rules}default:\n  action: keep\n")).unwrap();
        let budget = logtrim_core::budget::Accountant::new(
            RuleSet::from_yaml("b.yaml", "rules: []\nbudget:\n  limit: 1GB\n  time_zone: UTC\n").unwrap().budget().unwrap().clone(),
            logtrim_core::budget::Timestamp::now(),
        )
        .status(logtrim_core::budget::Timestamp::now());
        let x = Extra { function_name: "f", timestamp_ms: 1, budget: Some(budget), archive: Some(ArchiveReport::default()), ..Extra::default() };
        let settings = crate::transform::Settings::default();
        let counters = crate::transform::transform::<crate::event::FirehoseRecord>(&[], &mut crate::transform::pipeline(&rules, &settings), &settings).counters;
        let v: Value = serde_json::from_str(&render(&Stats::default(), &counters, &rules, &x)).unwrap();
        let directives = v["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        let names: Vec<&str> = directives.iter().flat_map(|d| d["Metrics"].as_array().unwrap()).map(|m| m["Name"].as_str().unwrap()).collect();
        assert!(names.len() > 100, "{}", names.len());
        assert!(directives.iter().all(|d| d["Metrics"].as_array().unwrap().len() <= 100));
        for n in ["ArchivedEvents", "ArchiveFailedEvents", "BudgetShedLevel", "Rule.r39.Dropped", "Rule._other.Dropped", "DurationMs"] {
            assert!(names.contains(&n) && v[n].is_number(), "{n}");
        }
    }
}
