//! A decision allocates nothing once the decider has warmed up: the hot path borrows and reuses buffers.
//! Counted with a global allocator that counts this thread's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use logtrim_core::budget::Timestamp;
use logtrim_core::run::hec::EventValue;
use logtrim_core::run::pipeline::{Encoding, Options, Pipeline, Sent, Sink};
use logtrim_core::{Action, Record, RuleSet};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(|c| c.get())
}

const RULES: &str = r#"
parse:
  log: [access, app]
rules:
  - name: errors
    when: log.status >= 500 or log.level in ["error", "fatal"]
    action: keep
    priority: critical
  - name: probes
    when: log.user_agent starts_with "kube-probe/" and kubernetes.namespace_name != "kube-system"
    action: drop
  - name: sample-2xx
    when: log.status in 200..299 and log.path matches "^/api/"
    action: sample
    rate: 1%
    key: log.request_id
default:
  action: keep
"#;

#[test]
fn deciding_allocates_nothing_after_warm_up() {
    let records: Vec<Vec<u8>> = vec![
        br#"{"log":"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] \"GET /api/x HTTP/1.1\" 200 5 \"-\" \"curl/8\" 100 0.010 [a-80] [] 10.1.1.1:80 5 0.010 200 req-1","kubernetes":{"namespace_name":"shop","labels":{"app":"web"}}}"#.to_vec(),
        br#"{"log":"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] \"GET /healthz HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.31\"","kubernetes":{"namespace_name":"shop"}}"#.to_vec(),
        br#"{"log":"{\"level\":\"error\",\"msg\":\"caf\\u00e9 \\\"quoted\\\"\"}","stream":"stderr"}"#.to_vec(),
        br#"{"log":"E1122 10:00:00.123456 1 x.go:1] failed","kubernetes":{"namespace_name":"kube-system"}}"#.to_vec(),
        b"plain text line with no JSON".to_vec(),
        b"{\"log\": broken json".to_vec(),
    ];
    let rules = RuleSet::from_yaml("t.yaml", RULES).unwrap();
    let mut d = rules.decider();
    // Warm up: buffers grow to their working size.
    for r in &records {
        d.decide(r).decision();
    }
    let before = allocs();
    let mut kept = 0;
    for _ in 0..100 {
        for r in &records {
            kept += (d.decide(r).decision().action == Action::Keep) as u32;
        }
    }
    let after = allocs();
    assert_eq!(after - before, 0, "allocations while deciding {} records", 100 * records.len());
    assert!(kept > 0);
}

const SHAPING: &str = r#"
parse:
  log: [access, app]
sample_rate_field: sample_rate
trim:
  remove: [kubernetes.labels.pod-template-hash, kubernetes.annotations]
  truncate: {log: 100}
rules:
  - name: probes
    when: log.user_agent starts_with "kube-probe/"
    action: drop
    summarize:
      by: [kubernetes.namespace_name, log.status_class, log.method]
      sum: [log.duration]
  - name: sample-2xx
    when: log.status in 200..299
    action: sample
    rate: 50%
    summarize: {by: [kubernetes.namespace_name]}
default:
  action: keep
"#;

#[test]
fn the_pipeline_allocates_nothing_once_groups_exist() {
    let records: Vec<Vec<u8>> = vec![
        br#"{"time":"2026-11-22T10:00:01Z","log":"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] \"GET /healthz HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.31\"","kubernetes":{"namespace_name":"shop","labels":{"app":"web","pod-template-hash":"abc"},"annotations":{"a":"b"}}}"#.to_vec(),
        br#"{"time":"2026-11-22T10:00:02Z","log":"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] \"GET /api HTTP/1.1\" 200 5 \"-\" \"curl/8\" 100 0.010 [a-80] [] 10.1.1.1:80 5 0.010 200 req-1","kubernetes":{"namespace_name":"shop","labels":{"pod-template-hash":"abc"}}}"#.to_vec(),
        br#"{"time":"2026-11-22T10:00:03Z","log":"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] \"GET /api HTTP/1.1\" 200 5 \"-\" \"curl/8\" 100 0.010 [a-80] [] 10.1.1.1:80 5 0.010 200 req-2","kubernetes":{"namespace_name":"web","labels":{"pod-template-hash":"abc"}}}"#.to_vec(),
        br#"{"log":"{\"level\":\"error\",\"msg\":\"caf\\u00e9 \\\"quoted\\\" and a long tail that is truncated by the trim section of the rules\"}","kubernetes":{"annotations":{"x":"y"}}}"#.to_vec(),
        b"plain text line with no JSON, long enough to be truncated by the trim section's limit of 100 bytes".to_vec(),
    ];
    for encoding in encodings() {
        let mut p = Pipeline::new(&RuleSet::from_yaml("t.yaml", SHAPING).unwrap(), Options { encoding: encoding.clone(), ..Options::default() });
        let mut sink = Events::default();
        let run = |p: &mut Pipeline, sink: &mut Events| {
            for r in &records {
                p.push(r, Timestamp::UNIX_EPOCH, sink);
            }
        };
        check_shaping(&mut p, &mut sink, run, &format!("pushing records, {encoding:?}"));
    }
}

/// Every way events are written.
fn encodings() -> [Encoding; 3] {
    [Encoding::Lines, Encoding::Hec(EventValue::Record), Encoding::Hec(EventValue::parse("log").unwrap())]
}

/// Events written to a reused buffer, moved on (counted and forgotten) as each is complete.
#[derive(Default)]
struct Events {
    out: Vec<u8>,
    bytes: usize,
}

impl Sink for Events {
    fn out(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }
    fn time(&mut self, _: Record<'_>) -> Option<i64> {
        Some(1_795_341_600_123)
    }
    fn meta(&mut self, _: Record<'_>) {
        self.out.extend_from_slice(br#""host":"node-1","sourcetype":"kube","#);
    }
    fn sent(&mut self, e: Sent) {
        self.bytes += self.out.len() - e.start;
        self.out.clear();
    }
}

/// Runs `run` once to warm up (buffers grow, every template and group exists), then 100 times, which must
/// allocate nothing, trim, send and summarize.
fn check_shaping(p: &mut Pipeline, sink: &mut Events, mut run: impl FnMut(&mut Pipeline, &mut Events), what: &str) {
    run(p, sink);
    let before = allocs();
    for _ in 0..100 {
        run(p, sink);
    }
    let after = allocs();
    assert_eq!(after - before, 0, "allocations while {what}");
    let c = p.counters().total();
    assert!(c.summarized >= 100 && c.sent >= 100 && sink.bytes > 0, "{c:?}");
    assert!(c.trimmed_bytes > 0);
}

/// Lines of two files given as parts, as the forwarder gives them: deciding, writing kept records (trimmed
/// through the per-file templates) and summarizing allocate nothing once the templates and groups exist.
#[test]
fn parts_allocate_nothing_once_templates_and_groups_exist() {
    use logtrim_core::record::parts::{Members, Parts};
    let files = [
        Members::new(br#"{"kubernetes":{"namespace_name":"shop","labels":{"app":"web","pod-template-hash":"abc"},"annotations":{"a":"b"}}}"#).unwrap(),
        Members::new(br#"{"kubernetes":{"namespace_name":"web","labels":{"pod-template-hash":"abc"}}}"#).unwrap(),
    ];
    let lines = [
        r#"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.31""#,
        r#"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET /api HTTP/1.1" 200 5 "-" "curl/8" 100 0.010 [a-80] [] 10.1.1.1:80 5 0.010 200 req-1"#,
        r#"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET /api HTTP/1.1" 200 5 "-" "curl/8" 100 0.010 [a-80] [] 10.1.1.1:80 5 0.010 200 req-2"#,
        r#"{"level":"error","msg":"café \"quoted\" and a long tail that is truncated by the trim section of the rules"}"#,
        "plain text line, long enough to be truncated by the trim section's limit of 100 bytes, and then some",
        // Short enough for the trimming template.
        r#"{"level":"warn","msg":"short"}"#,
    ];
    for encoding in encodings() {
        let mut p = Pipeline::new(&RuleSet::from_yaml("t.yaml", SHAPING).unwrap(), Options { encoding: encoding.clone(), ..Options::default() });
        let mut sink = Events::default();
        let run = |p: &mut Pipeline, sink: &mut Events| {
            for members in &files {
                for (i, log) in lines.iter().enumerate() {
                    let time = ["2026-11-22T10:00:01Z", "2026-11-22T10:00:02Z"][i % 2];
                    let parts = Parts { time: Some(time), stream: Some("stdout"), log, members };
                    p.push(&parts, Timestamp::UNIX_EPOCH, sink);
                }
            }
        };
        check_shaping(&mut p, &mut sink, run, &format!("pushing parts, {encoding:?}"));
    }
}
