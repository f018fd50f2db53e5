//! One rule file, the same result everywhere (issue 16): the same generated container log lines go
//! through the CLI (as Fluent Bit records, `logtrim run --hec` and `logtrim report`), the Lambda's
//! transform (as Firehose records) and the forwarder's reading thread (as CRI files in a directory it
//! tails), and every front-end must send byte-identical HEC `event` values, meter the same bytes, count
//! the same per rule, and summarize the same totals.
//!
//! The records the CLI and the Lambda read are the forwarder's own: a CRI line becomes
//! `{"time","stream","log","kubernetes":{…}}`, the file's metadata read from its name, as Fluent Bit's
//! kubernetes filter makes them.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use logtrim_core::record::parts::{Members, Parts};
use logtrim_core::{RuleCounters, RuleSet};
use logtrim_lambda::decode::{decode_base64, encode_base64};
use logtrim_lambda::event::{FirehoseRecord, FirehoseResult};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::value::RawValue;

use super::*;

const NODE: &str = "node-1";
const CONTAINER_ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const PODS: [(&str, &str, &str); 3] = [("web-7d9f", "shop", "nginx"), ("api-5c6b", "shop", "api"), ("dns-1", "kube-system", "coredns")];

/// One container log line of one pod.
#[derive(Clone, Debug)]
struct Line {
    pod: usize,
    stderr: bool,
    message: String,
}

/// Messages of the kinds the bundled rule sets tell apart, with the characters that escaping, trimming
/// and metering must all get right.
fn message() -> impl Strategy<Value = String> {
    let text = prop_oneof![
        Just(String::new()),
        "[a-z ]{1,30}",
        "[ -~]{0,40}",
        // Quotes, backslashes, tabs, control characters and non-ASCII.
        proptest::collection::vec(prop::sample::select(vec!["a", " ", "\"", "\\", "\t", "\u{1}", "é", "😀", "\\n", "{", "}"]), 0..20)
            .prop_map(|v| v.concat()),
    ];
    let status = prop::sample::select(vec![200u16, 204, 301, 404, 499, 503]);
    let agent = prop::sample::select(vec!["curl/8.5.0", "kube-probe/1.31", "Mozilla/5.0 (X11)"]);
    let level = prop::sample::select(vec!["debug", "info", "warn", "error"]);
    prop_oneof![
        (status, agent, "/[a-z]{1,8}").prop_map(|(st, ua, path)| format!(
            r#"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET {path} HTTP/1.1" {st} 12 "-" "{ua}" 120 0.004 [shop-web-80] [] 10.1.2.3:80 12 0.004 {st} req-{path}"#
        )),
        (level.clone(), text.clone(), "[a-f0-9]{8}").prop_map(|(l, msg, id)| serde_json::json!({"level": l, "msg": msg, "request_id": id}).to_string()),
        text.clone(),
        (text, level).prop_map(|(t, l)| format!("{} {t}", l.to_uppercase())),
    ]
}

fn lines() -> impl Strategy<Value = Vec<Line>> {
    proptest::collection::vec((0..PODS.len(), any::<bool>(), message()).prop_map(|(pod, stderr, message)| Line { pod, stderr, message }), 1..60)
}

/// The forwarder's file name for a pod.
fn file_name(pod: usize) -> String {
    let (p, ns, c) = PODS[pod];
    format!("{p}_{ns}_{c}-{CONTAINER_ID}.log")
}

/// The members the forwarder adds to every line of a pod's file, in the order it writes them.
fn members(pod: usize) -> Members {
    let (p, ns, c) = PODS[pod];
    let text = format!(
        r#"{{"kubernetes":{{"pod_name":"{p}","namespace_name":"{ns}","container_name":"{c}","docker_id":"{CONTAINER_ID}","host":"{NODE}"}}}}"#
    );
    Members::new(text.as_bytes()).unwrap()
}

/// The time of line `i`: every line has its own, so summary intervals do not depend on a clock.
fn time(i: usize) -> String {
    format!("2026-11-22T10:00:{:02}.{:09}Z", (i / 7) % 60, i * 1_000_003 % 1_000_000_000)
}

/// What one front-end sent and counted.
#[derive(Debug, Default, PartialEq)]
struct Seen {
    /// `event` values of kept records as sent, sorted (front-ends interleave files differently).
    events: Vec<String>,
    /// Per rule name: matched, matched bytes, kept, dropped, trimmed bytes, added bytes, metered bytes.
    rules: BTreeMap<String, [u64; 7]>,
    /// Per rule name: summarized records and bytes.
    summaries: BTreeMap<String, (u64, u64)>,
}

impl Seen {
    /// Splits stacked HEC events into the kept ones' values and the summaries' totals.
    fn add_events(&mut self, stacked: &[u8]) {
        #[derive(serde::Deserialize)]
        struct Event<'a> {
            #[serde(borrow)]
            event: &'a RawValue,
        }
        for ev in serde_json::Deserializer::from_slice(stacked).into_iter::<Event<'_>>() {
            let ev = ev.unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(stacked)));
            let v = ev.event.get();
            if v.starts_with(r#"{"logtrim_summary""#) {
                let s: serde_json::Value = serde_json::from_str(v).unwrap();
                let s = &s["logtrim_summary"];
                let t = self.summaries.entry(s["rule"].as_str().unwrap().to_string()).or_default();
                t.0 += s["records"].as_u64().unwrap();
                t.1 += s["bytes"].as_u64().unwrap();
            } else {
                self.events.push(v.to_string());
            }
        }
    }

    fn add_rule(&mut self, name: &str, c: &RuleCounters) {
        let r = self.rules.entry(name.to_string()).or_default();
        for (a, b) in r.iter_mut().zip([c.matched, c.matched_bytes, c.kept, c.dropped, c.trimmed_bytes, c.added_bytes, c.metered_bytes + c.summary_bytes]) {
            *a += b;
        }
    }

    fn finish(mut self) -> Seen {
        self.events.sort();
        self.rules.retain(|_, r| r[0] > 0);
        self
    }
}

/// The CLI: `run --hec` for what is sent, `report --format json` for what is counted.
fn cli(rules_path: &Path, records: &[u8], dir: &Scratch) -> Seen {
    let input = dir.file("records.jsonl", records);
    let o = logtrim(&["run", "--hec", "--input-format", "json", s(rules_path), s(&input)], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    let mut seen = Seen::default();
    seen.add_events(&o.stdout);
    let o = logtrim(&["report", "--format", "json", "--input-format", "json", s(rules_path), s(&input)], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for r in v["rules"].as_array().unwrap() {
        let n = |k: &str| r[k].as_u64().unwrap();
        let c = RuleCounters {
            matched: n("records"),
            matched_bytes: n("bytes"),
            kept: n("kept_records"),
            dropped: n("dropped_records"),
            trimmed_bytes: n("trimmed_bytes"),
            added_bytes: n("sample_rate_bytes"),
            metered_bytes: n("metered_bytes"),
            summary_bytes: n("summary_bytes"),
            ..RuleCounters::default()
        };
        seen.add_rule(r["rule"].as_str().unwrap(), &c);
    }
    seen.finish()
}

/// The Lambda: Firehose records of up to 5 Fluent Bit records each, through its transform.
fn lambda(rules: &RuleSet, records: &[u8]) -> Seen {
    let lines: Vec<&[u8]> = records.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    let firehose: Vec<FirehoseRecord> = lines
        .chunks(5)
        .enumerate()
        .map(|(i, c)| FirehoseRecord { record_id: i.to_string(), approximate_arrival_timestamp: None, data: encode_base64(&c.join(&b'\n')) })
        .collect();
    let settings = logtrim_lambda::transform::Settings::default();
    let o = logtrim_lambda::transform::transform(&firehose, &mut logtrim_lambda::transform::pipeline(rules, &settings), &settings);
    let mut seen = Seen::default();
    for r in &o.response().records {
        assert_ne!(r.result, FirehoseResult::ProcessingFailed, "{r:?}");
        if r.result == FirehoseResult::Ok {
            seen.add_events(&decode_base64(&r.data).unwrap());
        }
    }
    for i in 0..=rules.len() {
        let id = rules.rule_id_at(i);
        seen.add_rule(rules.rule_name(id), o.counters.rule(id));
    }
    seen.finish()
}

/// The forwarder's reading thread over CRI files, its batches taken as the sink would take them.
fn forwarder(rules_path: &Path, files: &BTreeMap<String, Vec<u8>>, dir: &Scratch) -> Seen {
    use logtrim_forwarder::config::Config;
    use logtrim_forwarder::pipeline::{Batch, Pipeline};
    use logtrim_forwarder::tail::Tail;
    use logtrim_forwarder::{Shared, load_rules, meta};

    let logs = dir.0.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    for (name, data) in files {
        std::fs::write(logs.join(name), data).unwrap();
    }
    let total: u64 = files.values().map(|d| d.len() as u64).sum();
    let cfg = Config::load(None, |k| match k {
        "LOGTRIM_HEC_ENDPOINTS" => Some("http://127.0.0.1:9".into()),
        "LOGTRIM_HEC_TOKEN" => Some("test".into()),
        "LOGTRIM_NODE_NAME" => Some(NODE.into()),
        "LOGTRIM_INPUTS_PATHS" => Some(format!("{}/*.log", logs.display())),
        "LOGTRIM_RULES_FILE" => Some(rules_path.display().to_string()),
        "LOGTRIM_STATE_DIR" => Some(dir.0.join("state").display().to_string()),
        "LOGTRIM_HEC_BATCH_TIME" => Some("50ms".into()),
        _ => None,
    })
    .unwrap();
    let (rules, _) = load_rules(&cfg.rules_file).unwrap();
    let templates = meta::Templates::new(&cfg.hec).unwrap();
    let shared = Arc::new(Shared::default());
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(cfg.hec.queue_batches);
    let sink_shared = Arc::clone(&shared);
    let sink = std::thread::spawn(move || {
        let mut bodies = Vec::new();
        while let Some(b) = rx.blocking_recv() {
            let mut body = Vec::new();
            if b.gzip {
                flate2::read::GzDecoder::new(&b.body[..]).read_to_end(&mut body).unwrap();
            } else {
                body.extend_from_slice(&b.body);
            }
            bodies.push(body);
            sink_shared.tracker.lock().unwrap().complete(b.seq);
        }
        bodies
    });
    let pipeline = Pipeline::new(&cfg, rules.clone(), &templates, tx, Arc::clone(&shared), None);
    let tail = Tail::new(cfg.inputs.clone(), cfg.node_name.clone(), templates, None);
    let reader_cfg = cfg.clone();
    let reader = std::thread::spawn(move || {
        pipeline.run(&reader_cfg, tail);
    });
    // Input bytes are published once a second: stop once all of them are counted.
    let deadline = Instant::now() + Duration::from_secs(60);
    while shared.metrics.input_bytes.get() < total {
        assert!(Instant::now() < deadline, "the forwarder read {} of {total} bytes", shared.metrics.input_bytes.get());
        std::thread::sleep(Duration::from_millis(20));
    }
    shared.stop.store(true, Ordering::Release);
    reader.join().unwrap();
    let mut seen = Seen::default();
    for body in sink.join().unwrap() {
        seen.add_events(&body);
    }
    // The per-rule counters as the metrics publish them.
    let text = shared.metrics.render();
    let metric = |name: &str, labels: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(&format!("logtrim_{name}{{{labels}}}")))
            .map_or(0, |l| l.rsplit(' ').next().unwrap().parse().unwrap())
    };
    for i in 0..=rules.len() {
        let name = rules.rule_name(rules.rule_id_at(i));
        let kept = metric("records_total", &format!(r#"rule="{name}",action="keep""#));
        let dropped = metric("records_total", &format!(r#"rule="{name}",action="drop""#));
        let c = RuleCounters {
            matched: kept + dropped,
            matched_bytes: metric("bytes_total", &format!(r#"rule="{name}",action="keep""#)) + metric("bytes_total", &format!(r#"rule="{name}",action="drop""#)),
            kept,
            dropped,
            trimmed_bytes: metric("trim_bytes_total", &format!(r#"rule="{name}",kind="removed""#)),
            added_bytes: metric("trim_bytes_total", &format!(r#"rule="{name}",kind="added""#)),
            metered_bytes: metric("rule_metered_bytes_total", &format!(r#"rule="{name}""#)),
            ..RuleCounters::default()
        };
        seen.add_rule(name, &c);
    }
    seen.finish()
}

/// The rule sets: the bundled ones, and one that trims, tags sample rates and summarizes everything.
fn rule_sets() -> Vec<PathBuf> {
    let mut sets: Vec<PathBuf> = ["k8s-splunk.yaml", "ingress-nginx.yaml", "envoy-mesh.yaml"].iter().map(|f| filter(f)).collect();
    let extra = std::env::temp_dir().join(format!("logtrim-frontends-{}.yaml", std::process::id()));
    std::fs::write(
        &extra,
        r#"name: shaping
parse:
  log: [access, app]
sample_rate_field: sample_rate
trim:
  remove: [kubernetes.docker_id]
  truncate: {log: 80}
rules:
  - name: errors
    when: log.status >= 500 or log.level == "error"
    action: keep
    priority: critical
  - name: probes
    when: log.user_agent starts_with "kube-probe/"
    action: drop
    summarize: {by: [kubernetes.namespace_name, log.status_class]}
  - name: half
    when: log.status in 200..299
    action: sample
    rate: 50%
    key: log.request_id
    summarize: {by: [kubernetes.container_name]}
  - name: quiet
    when: log.level == "debug"
    action: drop
default:
  action: keep
"#,
    )
    .unwrap();
    sets.push(extra);
    sets
}

#[test]
fn the_cli_the_lambda_and_the_forwarder_send_and_count_the_same() {
    let sets = rule_sets();
    let mut runner = TestRunner::new(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() });
    let n = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&lines(), |lines| {
            let case = n.fetch_add(1, Ordering::Relaxed);
            // The same lines as Fluent Bit records (one JSON line each) and as CRI files (one per pod).
            let mut records = Vec::new();
            let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
            let members: Vec<Members> = (0..PODS.len()).map(members).collect();
            for (i, l) in lines.iter().enumerate() {
                let time = time(i);
                let stream = if l.stderr { "stderr" } else { "stdout" };
                Parts { time: Some(&time), stream: Some(stream), log: &l.message, members: &members[l.pod] }.write_json(&mut records);
                records.push(b'\n');
                let f = files.entry(file_name(l.pod)).or_default();
                f.extend_from_slice(format!("{time} {stream} F {}\n", l.message).as_bytes());
            }
            for path in &sets {
                let rules = RuleSet::from_yaml("r.yaml", &std::fs::read_to_string(path).unwrap()).unwrap();
                let dir = Scratch::new(&format!("frontends-{case}-{}", path.file_stem().unwrap().to_string_lossy()));
                let by_cli = cli(path, &records, &dir);
                let by_lambda = lambda(&rules, &records);
                let by_forwarder = forwarder(path, &files, &dir);
                let set = path.display().to_string();
                prop_assert_eq!(&by_lambda, &by_cli, "the Lambda and the CLI differ ({}): {}", set, String::from_utf8_lossy(&records));
                prop_assert_eq!(&by_forwarder, &by_cli, "the forwarder and the CLI differ ({}): {}", set, String::from_utf8_lossy(&records));
                prop_assert!(!by_cli.rules.is_empty());
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}
