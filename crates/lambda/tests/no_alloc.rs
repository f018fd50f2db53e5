//! Transforming an invocation allocates per invocation, not per record, once warm — but for summary events:
//! a counting allocator (this test binary's global allocator) counts this thread's allocations over
//! whole invocations of events of 250 and 1000 Firehose records (one Fluent Bit record each) built from
//! the seeded corpus.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use logtrim_core::RuleSet;
use logtrim_lambda::decode::encode_base64;
use logtrim_lambda::event::EventRef;
use logtrim_lambda::transform::{Settings, pipeline, transform};
use logtrim_testkit::corpus::Corpus;

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded to the system allocator unchanged; only a thread-local count is added.
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

/// A Firehose event of `n` records, one Fluent Bit record each.
fn event(lines: &[&[u8]], n: usize) -> Vec<u8> {
    let records: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"recordId":"4954698668313554428650745793632{i:025}","approximateArrivalTimestamp":1795341600000,"data":"{}"}}"#, encode_base64(lines[i % lines.len()])))
        .collect();
    format!(r#"{{"invocationId":"i","deliveryStreamArn":"arn:aws:firehose:us-east-1:1:deliverystream/s","records":[{}]}}"#, records.join(",")).into_bytes()
}

/// The bundled rules without their `summarize:` blocks (each ends at its rule's next key or a blank line).
fn without_summaries(yaml: &str) -> String {
    let mut out = Vec::new();
    let mut skip = false;
    for l in yaml.lines() {
        if l.trim_start().starts_with("summarize:") {
            skip = true;
            continue;
        }
        if skip && (l.trim().is_empty() || !l.starts_with("      ")) {
            skip = false;
        }
        if !skip {
            out.push(l);
        }
    }
    out.join("\n")
}

/// Allocations of a warm invocation of 250 records and of 1000, and the summary events each sent.
fn allocations(yaml: &str) -> ((u64, u64), (u64, u64)) {
    let rules = RuleSet::from_yaml("k8s-splunk.yaml", yaml).unwrap();
    let corpus = Corpus::new(42).take_bytes(1 << 20);
    let lines: Vec<&[u8]> = corpus.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    let s = Settings::default();
    let mut p = pipeline(&rules, &s);
    let small = event(&lines, 250);
    let large = event(&lines, 1000);
    let count = |p: &mut logtrim_core::Pipeline, body: &[u8]| {
        let ev = EventRef::from_body(body).unwrap();
        let before = allocs();
        let o = transform(&ev.records, p, &s);
        let n = allocs() - before;
        assert!(o.reingest.is_empty());
        assert_eq!(o.stats.records_failed, 0);
        assert!(o.counters.total().kept > 0 && o.counters.total().dropped > 0);
        (n, o.counters.total().summary_events)
    };
    // Warm: buffers grow to their working size.
    count(&mut p, &large);
    count(&mut p, &small);
    let (a, b) = (count(&mut p, &small), count(&mut p, &large));
    ((a.0, b.0), (a.1, b.1))
}

fn bundled() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../filters/k8s-splunk.yaml")).unwrap()
}

#[test]
fn an_invocation_allocates_per_invocation_not_per_record() {
    // Decoding, deciding, trimming, the HEC metadata and events, the response: nothing per record.
    let ((a, b), _) = allocations(&without_summaries(&bundled()));
    assert!(b.saturating_sub(a) < 10, "{a} allocations for 250 records, {b} for 1000");
}

#[test]
fn with_summaries_the_allocations_are_the_summary_events() {
    // Each record's summaries are counted apart (its answer, and so whether they count, is known only
    // once every record's output is), in a unit whose windows and group keys are reused, then merged:
    // nothing per record. What grows with the records is the summary events sent: this corpus spreads its
    // records over hours, so a thousand of them make hundreds of events, each rendered into a string of
    // its own (about twenty allocations each: the event's JSON and its numbers).
    let ((a, b), (ea, eb)) = allocations(&bundled());
    assert!(eb > ea, "{ea} summary events for 250 records, {eb} for 1000");
    let per_event = (b - a) as f64 / (eb - ea) as f64;
    assert!(per_event < 24.0, "{a} allocations for 250 records ({ea} summary events), {b} for 1000 ({eb}): {per_event:.1} per event");
}
