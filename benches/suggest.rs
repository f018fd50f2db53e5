//! How fast `logtrim suggest` mines, against a naive baseline in the same run.
//!
//! The input is the bundled sample (`filters/samples/k8s-sample.jsonl.gz`, regenerated in memory by the
//! testkit): 6 MiB of Fluent Bit records from a Kubernetes cluster. `mine` is suggest's first pass
//! without the user's rules: each record read as rules read it (source, message, level, status), its
//! message tokenized and masked by one hand-written pass, placed in a template, and counted. The
//! baseline (`logtrim_testkit::naive_miner`) parses each record with serde_json, masks the message with
//! four regular expressions and counts the masked text in a HashMap — less work (no levels, statuses
//! or statistics, no merging), done the straightforward way. Compare the two lines of the group.
//!
//! Run: `cargo bench --bench suggest` (results and the command are kept in BENCHMARKS.md).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use logtrim_suggest::costs::{Costs, Seen};
use logtrim_suggest::miner::Config;
use logtrim_testkit::corpus::bundled_sample;
use logtrim_testkit::naive_miner::NaiveMiner;

fn bench(c: &mut Criterion) {
    let corpus = bundled_sample();
    let records: Vec<&[u8]> = corpus.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    let mut g = c.benchmark_group("suggest/bundled-sample");
    g.throughput(Throughput::Bytes(corpus.len() as u64));
    g.sample_size(10);
    g.bench_function("mine", |b| {
        b.iter(|| {
            let mut costs = Costs::new(Config::default());
            for r in &records {
                black_box(costs.add(black_box(r), Seen { sent: true, rule: None, kept_high: false }));
            }
            costs.finish().templates.len()
        })
    });
    g.bench_function("naive-baseline", |b| {
        b.iter(|| {
            let mut m = NaiveMiner::new();
            for r in &records {
                m.add(black_box(r));
            }
            m.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
