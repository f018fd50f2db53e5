//! Issue 6: summaries of what is dropped, trimming of what is kept, the sample rate of what is sampled.
//! Summaries must add up exactly to what the rules dropped (records and bytes), across interval
//! boundaries and flushes; `_other` must bound the groups; trimmed records must stay valid JSON.

use std::collections::{BTreeMap, HashMap};

use logtrim_core::budget::{SignedDuration, Timestamp};
use logtrim_core::run::pipeline::{Encoding, Options, Pipeline, Sent, Sink};
use logtrim_core::RuleSet;
use logtrim_testkit::corpus::bundled_sample;
use serde_json::Value;

use super::*;

fn k8s_rules() -> RuleSet {
    let text = std::fs::read_to_string(filter("k8s-splunk.yaml")).unwrap();
    RuleSet::from_yaml("k8s-splunk.yaml", &text).unwrap_or_else(|e| panic!("{e}"))
}

/// The `logtrim_summary` object of a summary event line; `None` for any other line.
fn summary(line: &str) -> Option<Value> {
    let v: Value = serde_json::from_str(line).ok()?;
    v.get("logtrim_summary").cloned()
}

/// Events as a sink collects them: records and summaries apart.
#[derive(Default)]
struct Collect {
    out: Vec<u8>,
    records: Vec<Vec<u8>>,
    summaries: Vec<Vec<u8>>,
}

impl Sink for Collect {
    fn out(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }
    fn sent(&mut self, e: Sent) {
        let event = self.out[e.start..].strip_suffix(b"\n").unwrap_or(&self.out[e.start..]).to_vec();
        if e.summary { self.summaries.push(event) } else { self.records.push(event) }
        self.out.clear();
    }
}

/// Pushes the bundled sample through the default rule set, flushing whatever is due every `every`
/// records (so intervals are cut at arbitrary points), and checks the totals per rule.
#[test]
fn summaries_add_up_to_what_was_dropped_on_the_bundled_sample() {
    let rules = k8s_rules();
    let sample = bundled_sample();
    for flush_every in [1usize, 97, 1000, usize::MAX] {
        let mut p = Pipeline::new(&rules, Options { encoding: Encoding::Lines, lateness: None });
        let mut sink = Collect::default();
        let start = Timestamp::UNIX_EPOCH;
        for (i, rec) in sample.split(|b| *b == b'\n').filter(|l| !l.is_empty()).enumerate() {
            let fallback = p.last_summarized_time().unwrap_or(start);
            p.push(rec, fallback, &mut sink);
            if i % flush_every == 0 {
                // Close what ended before the last record: later records may reopen an interval.
                if let Some(t) = p.last_summarized_time() {
                    p.flush_summaries(Some(t), &mut sink);
                }
            }
        }
        p.flush_summaries(None, &mut sink);
        assert!(p.summaries_empty());
        for out in &sink.records {
            let v: Value = serde_json::from_slice(out).expect("trimmed records stay JSON");
            let k = &v["kubernetes"];
            assert!(k.get("annotations").is_none() && k.get("docker_id").is_none() && k.get("container_hash").is_none());
            assert!(k["labels"].get("pod-template-hash").is_none());
        }
        assert!(sink.records.iter().any(|r| serde_json::from_slice::<Value>(r).unwrap().get("sample_rate").is_some()));
        let mut per_rule: HashMap<String, (u64, u64)> = HashMap::new();
        for e in &sink.summaries {
            let v = summary(std::str::from_utf8(e).unwrap()).unwrap_or_else(|| panic!("not a summary event: {}", String::from_utf8_lossy(e)));
            let t = per_rule.entry(v["rule"].as_str().unwrap().to_string()).or_default();
            t.0 += v["records"].as_u64().unwrap();
            t.1 += v["bytes"].as_u64().unwrap();
            let g = &v["group"];
            assert!(g["namespace"].is_string() && g["status_class"].is_string(), "{v}");
            let st = &v["stats"]["duration_ms"];
            assert!(st["count"].as_u64().unwrap() <= v["records"].as_u64().unwrap());
        }
        for name in ["drop-probes", "sample-2xx"] {
            let c = p.counters().rule(rules.rule_id(name).unwrap());
            assert!(c.dropped > 100, "{name}: {c:?}");
            assert_eq!(per_rule[name], (c.dropped, c.dropped_bytes), "{name}, flushing every {flush_every} records");
            assert_eq!(c.summarized, c.dropped);
        }
        assert_eq!(per_rule.len(), 2);
        assert_eq!(p.counters().total().summary_overflow, 0);
        assert_eq!(p.counters().total().summary_events, sink.summaries.len() as u64);
    }
}

const INTERVALS: &str = r#"
name: t
parse:
  log: [access]
rules:
  - name: drop-2xx
    when: log.status in 200..299
    action: drop
    summarize:
      by: [ns: k8s.ns, log.status_class]
      sum: [ms: log.duration]
      every: 10s
      max_groups: 3
"#;

fn line(secs: u32, ns: &str, status: u32, ms: u32) -> String {
    let t = format!("2026-11-22T10:00:{secs:02}Z");
    let rt = format!("{}.{:03}", ms / 1000, ms % 1000);
    format!(
        r#"{{"time":"{t}","k8s":{{"ns":"{ns}"}},"log":"1.2.3.4 - - [22/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" {status} 5 \"-\" \"c\" 100 {rt} [u] [] 1.1.1.1:80 5 {rt} {status} r"}}"#
    )
}

#[test]
fn run_splits_intervals_folds_overflow_into_other_and_adds_up() {
    let dir = Scratch::new("summaries-intervals");
    let rules = dir.file("r.yaml", INTERVALS.as_bytes());
    let mut input = Vec::new();
    let mut dropped = (0u64, 0u64);
    let mut push = |l: String, dropped_too: bool| {
        if dropped_too {
            dropped.0 += 1;
            dropped.1 += l.len() as u64;
        }
        input.extend_from_slice(l.as_bytes());
        input.push(b'\n');
    };
    // 10:00:00–10:00:10: five namespaces, max_groups 3: a, b, c and `_other` (d, e).
    for (i, ns) in ["a", "b", "a", "c", "d", "e", "d"].iter().enumerate() {
        push(line(i as u32, ns, 200, 100 + i as u32), true);
    }
    push(line(5, "a", 500, 10), false); // kept
    // 10:00:10–10:00:20, then one record late for the first interval, then a text line (no time).
    push(line(12, "a", 204, 20), true);
    push(line(9, "b", 200, 30), true);
    push("plain text line".into(), false);
    // 10:00:50: far enough on (a minute of lateness) that nothing is due before the end.
    push(line(50, "a", 200, 40), true);
    let f = dir.file("in.jsonl", &input);
    let o = logtrim(&["run", s(&rules), s(&f)], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    let sums: Vec<Value> = lines.iter().filter_map(|l| summary(l)).collect();
    let kept: Vec<&String> = lines.iter().filter(|l| summary(l).is_none()).collect();
    assert_eq!(kept.len(), 2, "{lines:#?}");
    let key = |v: &Value| (v["interval_start"].as_str().unwrap().to_string(), v["group"]["ns"].as_str().unwrap().to_string());
    let got: BTreeMap<(String, String), (u64, bool)> =
        sums.iter().map(|v| (key(v), (v["records"].as_u64().unwrap(), v["overflow"] == true))).collect();
    let at = |s: &str| format!("2026-11-22T10:00:{s}Z");
    let want: BTreeMap<(String, String), (u64, bool)> = [
        ((at("00"), "a".to_string()), (2, false)),
        ((at("00"), "b".to_string()), (1, false)),
        ((at("00"), "c".to_string()), (1, false)),
        ((at("00"), "_other".to_string()), (3, true)),
        ((at("10"), "a".to_string()), (1, false)),
        ((at("50"), "a".to_string()), (1, false)),
    ]
    .into_iter()
    .collect();
    // The late record (10:00:09, `b`) went back into the first interval, which was still open.
    let mut want = want;
    want.get_mut(&(at("00"), "b".to_string())).unwrap().0 += 1;
    assert_eq!(got, want, "{sums:#?}");
    let total: u64 = sums.iter().map(|v| v["records"].as_u64().unwrap()).sum();
    let bytes: u64 = sums.iter().map(|v| v["bytes"].as_u64().unwrap()).sum();
    assert_eq!((total, bytes), dropped);
    let first = sums.iter().find(|v| key(v) == (at("00"), "a".to_string())).unwrap();
    assert_eq!(first["interval_end"], at("10"));
    assert_eq!(first["group"]["log.status_class"], "2xx");
    assert_eq!(first["stats"]["ms"], serde_json::json!({"count": 2, "sum": 202, "min": 100, "max": 102}));
    assert_eq!(first["rule_set"], "t");
    let err = stderr(&o);
    assert!(err.contains("wrote 6 summary events") && err.contains(&format!("for {} dropped records", dropped.0)), "{err}");

    // `report` counts the same.
    let o = logtrim(&["report", "--format", "json", s(&rules), s(&f)], b"");
    let v = json(&o);
    assert_eq!(v["rules"][0]["summarized_records"], dropped.0);
    assert_eq!(v["rules"][0]["dropped_bytes"], dropped.1);
    assert_eq!(v["rules"][0]["summary_overflow_records"], 3);
    assert_eq!(v["output"]["summary_events"], 6);
}

#[test]
fn overflow_is_bounded_per_interval_and_counted() {
    let rules = RuleSet::from_yaml("t.yaml", INTERVALS).unwrap();
    let mut p = Pipeline::new(&rules, Options { encoding: Encoding::Lines, lateness: None });
    let mut sink = Collect::default();
    let mut n = 0u64;
    // 1000 namespaces in each of three intervals: 3 groups + `_other` each.
    for secs in [1u32, 11, 21] {
        for ns in 0..1000 {
            let l = line(secs, &format!("ns-{ns}"), 200, 5);
            p.push(l.as_bytes(), Timestamp::UNIX_EPOCH, &mut sink);
            n += 1;
        }
    }
    assert_eq!(p.counters().total().summarized, n);
    p.flush_summaries(None, &mut sink);
    let out: Vec<Value> = sink.summaries.iter().map(|e| summary(std::str::from_utf8(e).unwrap()).unwrap()).collect();
    assert_eq!(out.len(), 3 * 4);
    let overflow = |v: &Value| v.get("overflow").is_some();
    assert_eq!(out.iter().filter(|v| overflow(v)).map(|v| v["records"].as_u64().unwrap()).sum::<u64>(), 3 * 997);
    assert_eq!(p.counters().total().summary_overflow, 3 * 997);
    assert_eq!(out.iter().map(|v| v["records"].as_u64().unwrap()).sum::<u64>(), n);
    assert_eq!(out[3]["group"], serde_json::json!({"ns": "_other", "log.status_class": "_other"}));
    assert_eq!(out[3]["overflow"], true);
    // Flushing by time closes only what ended.
    sink.summaries.clear();
    let l = line(1, "x", 200, 5);
    p.push(l.as_bytes(), Timestamp::UNIX_EPOCH, &mut sink);
    let t = Timestamp::from_second(1_795_341_600).unwrap(); // 10:00:00
    p.flush_summaries(Some(t + SignedDuration::from_secs(9)), &mut sink);
    assert!(sink.summaries.is_empty());
    p.flush_summaries(Some(t + SignedDuration::from_secs(10)), &mut sink);
    assert_eq!(sink.summaries.len(), 1);
}

/// `run` on the bundled sample writes exactly what `report` says is sent; every line is JSON; summaries
/// add up to the dropped records; trimmed fields are gone and sampled records carry their rate.
#[test]
fn run_and_report_agree_on_the_bundled_sample() {
    let sample = root().join("filters/samples/k8s-sample.jsonl.gz");
    let rules = filter("k8s-splunk.yaml");
    let o = logtrim(&["run", s(&rules), s(&sample)], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let (mut kept, mut sampled, mut summarized, mut events) = (0u64, 0u64, 0u64, 0u64);
    for l in out.lines() {
        match summary(l) {
            Some(v) => {
                events += 1;
                summarized += v["records"].as_u64().unwrap();
            }
            None => {
                kept += 1;
                let v: Value = serde_json::from_str(l).unwrap();
                assert!(!l.contains("\"annotations\"") && !l.contains("\"docker_id\"") && !l.contains("pod-template-hash"), "{l}");
                if let Some(r) = v.get("sample_rate") {
                    assert_eq!(r, 0.01);
                    sampled += 1;
                }
            }
        }
    }
    let o = logtrim(&["report", "--format", "json", s(&rules), s(&sample)], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    let row = |name: &str| v["rules"].as_array().unwrap().iter().find(|r| r["rule"] == name).unwrap().clone();
    assert_eq!(kept, v["total"]["kept_records"].as_u64().unwrap());
    assert_eq!(sampled, row("sample-2xx")["kept_records"].as_u64().unwrap());
    let dropped = row("drop-probes")["dropped_records"].as_u64().unwrap() + row("sample-2xx")["dropped_records"].as_u64().unwrap();
    assert_eq!(summarized, dropped);
    let o2 = &v["output"];
    assert_eq!(o2["summary_events"], events);
    // What `run` writes (newlines aside) is what `report` says is sent.
    let written = out.len() as u64 - out.lines().count() as u64;
    assert_eq!(o2["sent_bytes"], written);
    let sent = o2["input_bytes"].as_u64().unwrap() - o2["dropped_bytes"].as_u64().unwrap() - o2["trimmed_bytes"].as_u64().unwrap()
        + o2["sample_rate_bytes"].as_u64().unwrap()
        + o2["summary_bytes"].as_u64().unwrap();
    assert_eq!(o2["sent_bytes"], sent);
    assert!(o2["trimmed_bytes"].as_u64().unwrap() > 500_000, "{o2}");
    // Text: the trimming and summary figures, apart from the rules' own.
    let o = logtrim(&["report", s(&rules), s(&sample)], b"");
    let text = stdout(&o);
    for want in ["sent after trimming and summaries:", "dropped by rules", "trimmed", "summaries", "volume reduced by"] {
        assert!(text.contains(want), "{want:?} missing:\n{text}");
    }
    // A rule set without trim or summaries prints nothing new.
    let plain = Scratch::new("summaries-plain");
    let r = plain.file("r.yaml", b"rules:\n  - name: all\n    action: drop\n");
    let o = logtrim(&["report", s(&r), s(&sample)], b"");
    assert!(!stdout(&o).contains("sent after trimming"), "{}", stdout(&o));
}

#[test]
fn report_budget_admits_summaries_and_trimmed_bytes() {
    let sample = root().join("filters/samples/k8s-sample.jsonl.gz");
    let o = logtrim(
        &["report", "--format", "json", "--budget", "20MB", "--rate", "80MB", s(&filter("k8s-splunk.yaml")), s(&sample)],
        b"",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["budget"]["priorities"]["critical"]["shed_bytes"], 0, "{}", v["budget"]);
}
