//! Summaries of dropped lines and trimming of kept ones, end to end: the summary events that reach HEC
//! add up to the lines the rules dropped, whether they were flushed by the clock, by a rule reload or
//! on shutdown; kept events arrive trimmed; and the daily budget meters summaries like kept events.

use std::collections::HashMap;
use std::time::Duration;

use logtrim_core::budget::Timestamp;
use serde_json::Value;

use crate::support::hec::Receiver;
use crate::support::*;

/// Drops `DROP` lines and half the `SAMPLE` lines, counting both; trims the container id from what it
/// keeps and marks sampled lines with their rate; a budget large enough to shed nothing.
const RULES: &str = r#"name: e2e-summaries
trim:
  remove: [kubernetes.docker_id]
sample_rate_field: sample_rate
rules:
  - name: drop-marked
    when: log contains "DROP"
    action: drop
    summarize:
      by: [namespace: kubernetes.namespace_name, container: kubernetes.container_name]
      every: 1h
  - name: sample-half
    when: log contains "SAMPLE"
    action: sample
    rate: 50%
    summarize:
      by: [container: kubernetes.container_name]
      every: 1h
default:
  action: keep
budget:
  limit: 10GB
  time_zone: UTC
  pacing: false
"#;

/// The summary events received: `logtrim_summary` objects with their HEC envelopes.
fn summaries(hec: &Receiver) -> Vec<Value> {
    hec.state.received.lock().unwrap().raw.iter().filter(|v| v["event"].get("logtrim_summary").is_some()).cloned().collect()
}

/// Records summarized per rule, over every summary event received.
fn summarized(hec: &Receiver) -> HashMap<String, u64> {
    let mut by_rule = HashMap::new();
    for v in summaries(hec) {
        let s = &v["event"]["logtrim_summary"];
        *by_rule.entry(s["rule"].as_str().unwrap().to_string()).or_default() += s["records"].as_u64().unwrap();
    }
    by_rule
}

fn count(m: &HashMap<String, u64>, rule: &str) -> u64 {
    m.get(rule).copied().unwrap_or(0)
}

/// The kept event whose line has `id`.
fn event_of(hec: &Receiver, id: &str) -> Option<Value> {
    let prefix = format!("id={id} ");
    hec.state.received.lock().unwrap().raw.iter().find(|v| v["event"]["log"].as_str().is_some_and(|l| l.starts_with(&prefix))).cloned()
}

/// A CRI line stamped with the current time, so its summary interval (1 h) is still open.
fn now_line(w: &mut LogWriter, id: &str) {
    w.raw(&format!("{} stdout F id={id} DROP written now\n", Timestamp::now()));
}

#[test]
fn summaries_add_up_to_the_dropped_lines_and_kept_events_arrive_trimmed() {
    let hec = Receiver::start(TOKEN);
    hec.state.keep_events.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut s = Setup::new("summaries", &hec.url());
    std::fs::write(&s.rules, RULES).unwrap();
    s.set("LOGTRIM_SUMMARY_DELAY", "1s");
    let mut cri = LogWriter::new(s.log_path("web-1", "shop", "nginx"), false);
    let mut docker = LogWriter::new(s.log_path("api-1", "shop", "app"), true);

    // 1. Lines of 2026-11-22 10:xx: their interval ended long ago, so the clock flushes it while running.
    let (mut kept, mut dropped, mut sampled) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..600 {
        let id = format!("a{i}");
        let w = if i % 2 == 0 { &mut cri } else { &mut docker };
        match i % 5 {
            0 | 3 => {
                w.tagged(&id, "DROP ", 30);
                dropped.push(id);
            }
            1 => {
                w.tagged(&id, "SAMPLE ", 30);
                sampled.push(id);
            }
            _ => {
                w.tagged(&id, "", 30);
                kept.push(id);
            }
        }
    }
    let mut fwd = s.start("a");
    fwd.wait_ready(Duration::from_secs(20));
    wait_until(Duration::from_secs(20), "the kept lines", Some(&fwd), || kept.iter().all(|id| hec.ids().contains_key(id)));
    let sampled_kept = || sampled.iter().filter(|id| hec.ids().contains_key(*id)).count() as u64;
    wait_until(Duration::from_secs(20), "summaries of every dropped line, flushed by the clock", Some(&fwd), || {
        let m = summarized(&hec);
        count(&m, "drop-marked") == dropped.len() as u64 && count(&m, "sample-half") + sampled_kept() == sampled.len() as u64
    });
    let ids = hec.ids();
    assert!(dropped.iter().all(|id| !ids.contains_key(id)), "a dropped line arrived");
    let kept_sampled = sampled_kept();
    assert!(kept_sampled > 0 && kept_sampled < sampled.len() as u64, "a 50% sample keeps some: {kept_sampled} of {}", sampled.len());

    // The summary events: per rule, group and interval (one each, unless a flush fell between two
    // reads of the files), with the Lambda's envelope.
    let all = summaries(&hec);
    let mut groups: Vec<String> = all.iter().map(|v| format!("{} {}", v["event"]["logtrim_summary"]["rule"], v["event"]["logtrim_summary"]["group"])).collect();
    groups.sort();
    groups.dedup();
    assert_eq!(
        groups,
        [
            r#""drop-marked" {"container":"app","namespace":"shop"}"#,
            r#""drop-marked" {"container":"nginx","namespace":"shop"}"#,
            r#""sample-half" {"container":"app"}"#,
            r#""sample-half" {"container":"nginx"}"#
        ]
    );
    for v in &all {
        assert_eq!((v["source"].as_str(), v["sourcetype"].as_str(), v["host"].as_str()), (Some("logtrim"), Some("logtrim:summary"), Some("test-node")), "{v}");
        // 2026-11-22T10:00:00Z, the interval's start.
        assert_eq!(v["time"].as_f64(), Some(1_795_341_600.0), "{v}");
        let s = &v["event"]["logtrim_summary"];
        assert_eq!((s["rule_set"].as_str(), s["interval_start"].as_str()), (Some("e2e-summaries"), Some("2026-11-22T10:00:00Z")), "{v}");
    }
    let nginx: u64 = all
        .iter()
        .map(|v| &v["event"]["logtrim_summary"])
        .filter(|s| s["rule"] == "drop-marked" && s["group"]["container"] == "nginx")
        .map(|s| s["records"].as_u64().unwrap())
        .sum();
    assert_eq!(nginx, 120, "every other DROP line is in the nginx file");

    // Kept events arrive trimmed: no container id, the rest of the metadata intact; sampled ones with
    // their rate.
    for id in kept.iter().take(50) {
        let ev = event_of(&hec, id).unwrap();
        let k = &ev["event"]["kubernetes"];
        assert!(k.get("docker_id").is_none(), "trim: kubernetes.docker_id still there: {ev}");
        assert_eq!((k["namespace_name"].as_str(), k["host"].as_str()), (Some("shop"), Some("test-node")), "{ev}");
        assert!(ev["event"].get("sample_rate").is_none(), "{ev}");
    }
    let s_id = sampled.iter().find(|id| hec.ids().contains_key(*id)).unwrap();
    assert_eq!(event_of(&hec, s_id).unwrap()["event"]["sample_rate"], 0.5);
    // Metrics are published once a second.
    wait_until(Duration::from_secs(5), "trim and summary metrics", Some(&fwd), || {
        fwd.metric("logtrim_trim_bytes_total", r#"kind="removed""#) > 0.0
            && fwd.metric("logtrim_summarized_records_total", r#"rule="drop-marked""#) == dropped.len() as f64
            && fwd.metric("logtrim_summary_events_total", r#"result="sent""#) == all.len() as f64
    });

    // The budget metered every event it let through, summaries included, as Splunk will: the length of
    // each `event` as JSON text (the receiver's re-encoding has the same length: no escapes differ).
    let metered: u64 = hec.state.received.lock().unwrap().raw.iter().map(|v| serde_json::to_string(&v["event"]).unwrap().len() as u64).sum();
    let summary_bytes: u64 = all.iter().map(|v| serde_json::to_string(&v["event"]).unwrap().len() as u64).sum();
    wait_until(Duration::from_secs(5), "the budget to count every event sent", Some(&fwd), || {
        fwd.metric("logtrim_budget_spent_local_bytes", "") == metered as f64
    });
    assert_eq!(fwd.metric("logtrim_summary_bytes_total", ""), summary_bytes as f64);

    // 2. Lines of the current hour: their interval is still open, so only the reload sends them.
    let now: Vec<String> = (0..40).map(|i| format!("b{i}")).collect();
    let written = Timestamp::now();
    for id in &now {
        now_line(&mut cri, id);
    }
    wait_until(Duration::from_secs(10), "the current lines counted", Some(&fwd), || {
        fwd.metric("logtrim_summarized_records_total", r#"rule="drop-marked""#) == (dropped.len() + now.len()) as f64
    });
    let hour_end = (written.as_second() / 3600 + 1) * 3600;
    if Timestamp::now().as_second() + 2 < hour_end {
        assert_eq!(count(&summarized(&hec), "drop-marked"), dropped.len() as u64, "an open interval was sent early");
    }
    // A reload sends what the old rules counted, then counts with the new ones, which trim nothing.
    std::fs::write(&s.rules, RULES.replace("drop-marked", "drop-marked-v2").replace("  remove: [kubernetes.docker_id]", "  remove: [nothing.here]")).unwrap();
    wait_until(Duration::from_secs(10), "summaries flushed by the reload", Some(&fwd), || {
        count(&summarized(&hec), "drop-marked") == (dropped.len() + now.len()) as u64
    });
    assert_eq!(fwd.metric("logtrim_rules_reloads_total", r#"result="ok""#), 1.0);

    // 3. After the reload: new rule names in the summaries, kept lines no longer trimmed; SIGTERM
    // sends the open interval.
    let later: Vec<String> = (0..25).map(|i| format!("c{i}")).collect();
    for id in &later {
        now_line(&mut cri, id);
    }
    cri.tagged("after", "", 5);
    wait_until(Duration::from_secs(10), "a line kept by the new rules", Some(&fwd), || hec.ids().contains_key("after"));
    assert_eq!(event_of(&hec, "after").unwrap()["event"]["kubernetes"]["docker_id"], CID, "the new rules trim nothing");
    wait_until(Duration::from_secs(10), "the later lines counted", Some(&fwd), || {
        fwd.metric("logtrim_summarized_records_total", r#"rule="drop-marked-v2""#) == later.len() as f64
    });
    fwd.signal("TERM");
    assert_eq!(fwd.wait_exit(Duration::from_secs(10)).0, Some(0), "{}", fwd.log_text());
    let m = summarized(&hec);
    assert_eq!(count(&m, "drop-marked-v2"), later.len() as u64, "summaries sent on shutdown: {m:?}");
    assert_eq!(count(&m, "drop-marked"), (dropped.len() + now.len()) as u64, "{m:?}");
    check_delivery(&hec.ids(), &[kept, sampled.into_iter().filter(|id| hec.ids().contains_key(id)).collect(), vec!["after".into()]].concat(), &dropped);
}
