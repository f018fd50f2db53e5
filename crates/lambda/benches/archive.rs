//! What archiving costs the Lambda, against the same invocations without an archive in the same run,
//! and what its archive takes: bytes per input byte, objects (and so PUTs) per invocation.
//!
//! The input is the bundled sample (filters/samples/k8s-sample.jsonl.gz: Fluent Bit records) with the
//! bundled rules (filters/k8s-splunk.yaml), one Firehose record per line as Fluent Bit's
//! `kinesis_firehose` output sends them, in invocations of `LOGTRIM_BENCH_INVOCATION_MB` MB of record
//! data (default 1: the template's `LambdaBufferSizeMB`). Each pass runs every invocation through
//! `transform_archived`, with and without an archive (sealed and drained at the end of each invocation,
//! as the handler does; the PUTs themselves are not timed), alternating, `LOGTRIM_BENCH_RUNS` times
//! (default 5); the best of each is reported.
//!
//! `cargo bench -p logtrim-lambda --bench archive` runs it; under `cargo test` it runs one pass so it
//! cannot rot. The 1-minute load average is printed first: take figures only when it is low.

use std::io::Read;
use std::time::{Duration, Instant};

use logtrim_core::RuleSet;
use logtrim_core::archive::{Archive, ArchiveOptions};
use logtrim_lambda::decode::encode_base64;
use logtrim_lambda::event::FirehoseRecord;
use logtrim_lambda::transform::{self, Settings};

struct Totals {
    took: Duration,
    archived: u64,
    objects: u64,
    bytes: u64,
}

fn pass(invocations: &[Vec<FirehoseRecord>], rules: &RuleSet, settings: &Settings, archive: bool) -> Totals {
    let mut pipeline = transform::pipeline(rules, settings);
    let mut t = Totals { took: Duration::ZERO, archived: 0, objects: 0, bytes: 0 };
    let mut seq = 1;
    let start = Instant::now();
    for records in invocations {
        let mut a = archive.then(|| Archive::new(rules, ArchiveOptions { writer: "bench".into(), first_seq: seq, source: Some("stream".into()), ..ArchiveOptions::default() }));
        let out = transform::transform_archived(records, &mut pipeline, settings, &mut |_, _| true, a.as_mut());
        assert_eq!(out.response().records.len(), records.len());
        if let Some(a) = &mut a {
            a.seal_all();
            while let Some(o) = a.pop() {
                t.archived += o.index.records;
                t.objects += 1;
                t.bytes += o.body.len() as u64 + o.index_json().len() as u64;
            }
            seq += a.counters().objects;
        }
    }
    t.took = start.elapsed();
    t
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let env_num = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let runs = if bench { env_num("LOGTRIM_BENCH_RUNS", 5) } else { 1 };
    let invocation_bytes = env_num("LOGTRIM_BENCH_INVOCATION_MB", 1) << 20;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average: {}", load.split_whitespace().next().unwrap_or("?"));

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut text = Vec::new();
    let gz = std::fs::read(root.join("filters/samples/k8s-sample.jsonl.gz")).expect("the bundled sample");
    flate2::read::MultiGzDecoder::new(&gz[..]).read_to_end(&mut text).unwrap();
    let rules = RuleSet::from_yaml("k8s-splunk.yaml", &std::fs::read_to_string(root.join("filters/k8s-splunk.yaml")).unwrap()).unwrap();
    let settings = Settings::default();

    let mut invocations: Vec<Vec<FirehoseRecord>> = vec![Vec::new()];
    let (mut size, mut input) = (0, 0u64);
    for (i, line) in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).enumerate() {
        if size + line.len() + 1 > invocation_bytes {
            invocations.push(Vec::new());
            size = 0;
        }
        size += line.len() + 1;
        input += line.len() as u64 + 1;
        let data = encode_base64(&[line, b"\n"].concat());
        invocations.last_mut().unwrap().push(FirehoseRecord { record_id: format!("{i:056}"), approximate_arrival_timestamp: Some(1_795_341_600_000), data });
    }
    let mb = input as f64 / 1e6;
    println!("input: {mb:.1} MB in {} records, {} invocations of at most {} MiB", text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count(), invocations.len(), invocation_bytes >> 20);

    let (mut plain, mut archived): (Option<Totals>, Option<Totals>) = (None, None);
    for _ in 0..runs {
        let p = pass(&invocations, &rules, &settings, false);
        if plain.as_ref().is_none_or(|b| p.took < b.took) {
            plain = Some(p);
        }
        let a = pass(&invocations, &rules, &settings, true);
        if archived.as_ref().is_none_or(|b| a.took < b.took) {
            archived = Some(a);
        }
    }
    let (p, a) = (plain.unwrap(), archived.unwrap());
    let rate = |t: &Totals| mb / t.took.as_secs_f64();
    println!("without archive: {:.3} s ({:.0} MB/s)", p.took.as_secs_f64(), rate(&p));
    println!("with archive:    {:.3} s ({:.0} MB/s), {:.1}% of the throughput without", a.took.as_secs_f64(), rate(&a), 100.0 * p.took.as_secs_f64() / a.took.as_secs_f64());
    println!(
        "archive: {} events in {} objects ({:.2} per invocation), {} bytes with indexes = {:.2}% of the input bytes",
        a.archived,
        a.objects,
        a.objects as f64 / invocations.len() as f64,
        a.bytes,
        100.0 * a.bytes as f64 / input as f64
    );
    assert!(a.archived > 0 && a.objects >= invocations.len() as u64);
}
