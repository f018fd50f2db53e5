//! Issue 6 in the Lambda: kept events trimmed before HEC encoding, summaries of dropped events appended
//! to one `Ok` record per invocation, counting exactly the events of records whose answer is final.

use std::collections::HashMap;

use logtrim_core::RuleSet;
use logtrim_lambda::decode::{Compression, compress, decode_base64, encode_base64};
use logtrim_lambda::event::{FirehoseRecord, FirehoseResult};
use logtrim_lambda::transform::{Output, Settings, pipeline, transform};
use logtrim_testkit::corpus::bundled_sample;
use serde_json::Value;

use crate::util::bundled_rules;

fn rec(id: usize, data: &[u8]) -> FirehoseRecord {
    FirehoseRecord { record_id: format!("r{id}"), approximate_arrival_timestamp: Some(1_795_305_600_000), data: encode_base64(data) }
}

/// The sample as Firehose records of `per` lines each (gzip, as Fluent Bit's aggregation sends them).
fn sample_records(per: usize, limit: usize) -> Vec<FirehoseRecord> {
    let sample = bundled_sample();
    let lines: Vec<&[u8]> = sample.split(|b| *b == b'\n').filter(|l| !l.is_empty()).take(limit).collect();
    lines.chunks(per).enumerate().map(|(i, c)| rec(i, &compress(Compression::Gzip, &c.join(&b"\n"[..])))).collect()
}

/// Every HEC event in the `Ok` data of a response.
fn events(data: &[String]) -> Vec<Value> {
    data.iter()
        .flat_map(|d| {
            let bytes = decode_base64(d).unwrap();
            serde_json::Deserializer::from_slice(&bytes).into_iter::<Value>().map(|v| v.unwrap()).collect::<Vec<_>>()
        })
        .collect()
}

/// Summary records and bytes per rule, from HEC events.
fn summed(evs: &[Value]) -> HashMap<String, (u64, u64)> {
    let mut m: HashMap<String, (u64, u64)> = HashMap::new();
    for e in evs.iter().filter(|e| e["sourcetype"] == "logtrim:summary") {
        let s = &e["event"]["logtrim_summary"];
        let t = m.entry(s["rule"].as_str().unwrap().to_string()).or_default();
        t.0 += s["records"].as_u64().unwrap();
        t.1 += s["bytes"].as_u64().unwrap();
    }
    m
}

#[test]
fn summaries_ride_with_one_ok_record_and_add_up() {
    let rules = bundled_rules();
    let records = sample_records(25, 3000);
    let o = transform(&records, &mut pipeline(&rules, &Settings::default()), &Settings::default());
    assert_eq!(o.response().records.len(), records.len());
    assert_eq!(serde_json::to_vec(&o.response()).unwrap().len() as u64, o.stats.response_bytes);
    let ok: Vec<String> = o.response().records.iter().filter(|r| r.result == FirehoseResult::Ok).map(|r| r.data.clone()).collect();
    let evs = events(&ok);
    // All summaries are in one record: the first answered `Ok`.
    let response = o.response();
    let first_ok = response.records.iter().find(|r| r.result == FirehoseResult::Ok).unwrap();
    let carried = events(std::slice::from_ref(&first_ok.data));
    let n_summaries = evs.iter().filter(|e| e["sourcetype"] == "logtrim:summary").count();
    assert!(n_summaries > 10, "{n_summaries}");
    assert_eq!(carried.iter().filter(|e| e["sourcetype"] == "logtrim:summary").count(), n_summaries);
    assert_eq!(o.counters.total().summary_events, n_summaries as u64);
    let sums = summed(&evs);
    for name in ["drop-probes", "sample-2xx"] {
        let c = o.counters.rule(rules.rule_id(name).unwrap());
        assert!(c.dropped > 0);
        assert_eq!(sums[name], (c.dropped, c.dropped_bytes), "{name}");
    }
    for e in evs.iter().filter(|e| e["sourcetype"] == "logtrim:summary") {
        // The HEC time is the interval's start.
        let start = e["event"]["logtrim_summary"]["interval_start"].as_str().unwrap();
        let t: logtrim_core::budget::Timestamp = start.parse().unwrap();
        assert_eq!(e["time"].as_f64().unwrap(), t.as_second() as f64, "{e}");
        assert_eq!(e["source"], "logtrim");
    }
    // Kept events are trimmed; their HEC metadata still comes from the record as it was.
    for e in evs.iter().filter(|e| e["sourcetype"] != "logtrim:summary") {
        let k = &e["event"]["kubernetes"];
        assert!(k.get("annotations").is_none() && k.get("docker_id").is_none(), "{e}");
        assert!(e["host"].is_string() && e["source"].as_str().unwrap().contains('/'), "{e}");
    }
    let t = o.counters.total();
    assert!(t.trimmed_bytes > 0 && t.added_bytes > 0, "{t:?}");
}

#[test]
fn without_an_ok_record_a_dropped_one_carries_the_summaries() {
    let rules = RuleSet::from_yaml("t.yaml", "default: {action: drop, summarize: {by: [app]}}\n").unwrap();
    let records = vec![
        rec(0, br#"{"app":"a","time":"2026-11-22T10:00:01Z"}"#),
        FirehoseRecord { record_id: "bad".into(), approximate_arrival_timestamp: None, data: "not base64!".into() },
        rec(2, b"{\"app\":\"b\"}\n{\"app\":\"a\",\"time\":\"2026-11-22T10:00:02Z\"}"),
    ];
    for output in [Output::Hec, Output::Original] {
        let s = Settings { output, ..Settings::default() };
        let o = transform(&records, &mut pipeline(&rules, &s), &s);
        let response = o.response();
        let results: Vec<_> = response.records.iter().map(|r| (r.record_id.as_str(), r.result)).collect();
        assert_eq!(results, [("r0", FirehoseResult::Ok), ("bad", FirehoseResult::ProcessingFailed), ("r2", FirehoseResult::Dropped)]);
        assert_eq!(serde_json::to_vec(&o.response()).unwrap().len() as u64, o.stats.response_bytes);
        let data = decode_base64(&o.response().records[0].data).unwrap();
        let text = String::from_utf8(data).unwrap();
        // a: 2 events (10:00), b: 1 (no time: Firehose's arrival time, 00:00).
        assert_eq!(text.matches("logtrim_summary").count(), 2, "{text}");
        assert!(text.contains(r#""group":{"app":"a"},"records":2"#), "{text}");
        assert!(text.contains(r#""group":{"app":"b"},"records":1"#), "{text}");
        if output == Output::Original {
            assert_eq!(text.lines().count(), 2);
        }
        assert_eq!((o.stats.records_ok, o.stats.records_dropped, o.stats.records_failed), (1, 1, 1));
    }
}

#[test]
fn reingested_records_are_summarized_when_they_come_back() {
    let rules = bundled_rules();
    let records = sample_records(20, 2000);
    // A response too small for everything: some records are re-ingested.
    let s = Settings { response_limit: 150_000, ..Settings::default() };
    let o = transform(&records, &mut pipeline(&rules, &s), &s);
    assert!(o.stats.records_reingested > 0, "{:?}", o.stats);
    assert!(serde_json::to_vec(&o.response()).unwrap().len() <= 150_000);
    assert_eq!(serde_json::to_vec(&o.response()).unwrap().len() as u64, o.stats.response_bytes);
    let mut sums = summed(&events(&o.response().records.iter().filter(|r| r.result == FirehoseResult::Ok).map(|r| r.data.clone()).collect::<Vec<_>>()));
    // Transform the re-ingested data again, as Firehose would, until nothing is left over.
    let mut pending = o.reingest.clone();
    let mut rounds = 0;
    while !pending.is_empty() {
        rounds += 1;
        assert!(rounds < 50);
        let again: Vec<_> = pending.iter().enumerate().map(|(i, d)| rec(i, d)).collect();
        let o2 = transform(&again, &mut pipeline(&rules, &s), &s);
        let ok: Vec<String> = o2.response().records.iter().filter(|r| r.result == FirehoseResult::Ok).map(|r| r.data.clone()).collect();
        for (k, v) in summed(&events(&ok)) {
            let t = sums.entry(k).or_default();
            t.0 += v.0;
            t.1 += v.1;
        }
        pending = o2.reingest;
    }
    // Over all invocations, every dropped event is counted once.
    let mut d = rules.decider();
    let sample = bundled_sample();
    for l in sample.split(|b| *b == b'\n').filter(|l| !l.is_empty()).take(2000) {
        d.decide(l).decision();
    }
    for name in ["drop-probes", "sample-2xx"] {
        let c = d.counters().rule(rules.rule_id(name).unwrap());
        assert_eq!(sums[name], (c.dropped, c.dropped_bytes), "{name}");
    }
}
