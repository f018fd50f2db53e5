//! How fast a compiled rule set decides, against a naive baseline in the same run.
//!
//! The corpus is the seeded Fluent Bit Kubernetes mix from `logtrim-testkit`: about 900 bytes a record, as
//! Fluent Bit's kubernetes filter writes them with labels, annotations and image ids, around `log` payloads
//! from ingress-nginx, Envoy/Istio (text and JSON), JSON and text app logs with stack traces, and klog.
//! The baseline is the reference evaluator the property tests use: `serde_json::Value` per record and regex-based access-log parsers — what a
//! straightforward filter (like the Python Lambda we replace) does. Compare the two lines of each group;
//! the ratio holds on a noisy machine even when the absolute figures move.
//!
//! Run: `cargo bench --bench decide` (results and the command are kept in BENCHMARKS.md).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use logtrim_core::RuleSet;
use logtrim_testkit::corpus::Corpus;
use logtrim_testkit::reference::Reference;

const CORPUS_BYTES: usize = 4 * 1024 * 1024;

fn rule_file(name: &str) -> String {
    let path = format!("{}/filters/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn bench(c: &mut Criterion) {
    let corpus = Corpus::new(42).take_bytes(CORPUS_BYTES);
    let records: Vec<&[u8]> = corpus.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    for set in ["k8s-splunk.yaml", "ingress-nginx.yaml", "envoy-mesh.yaml"] {
        let yaml = rule_file(set);
        let rules = RuleSet::from_yaml(set, &yaml).expect("bundled rules compile");
        let reference = Reference::new(&yaml).expect("reference loads the bundled rules");
        let mut g = c.benchmark_group(format!("decide/{}", set.trim_end_matches(".yaml")));
        g.throughput(Throughput::Bytes(corpus.len() as u64));
        g.sample_size(10);
        g.bench_function("compiled", |b| {
            let mut d = rules.decider();
            b.iter(|| {
                let mut kept = 0usize;
                for r in &records {
                    kept += (d.decide(black_box(r)).decision().action == logtrim_core::Action::Keep) as usize;
                }
                kept
            })
        });
        g.bench_function("naive-baseline", |b| {
            b.iter(|| {
                let mut kept = 0usize;
                for r in &records {
                    kept += (reference.decide(black_box(r)).action == logtrim_core::Action::Keep) as usize;
                }
                kept
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
