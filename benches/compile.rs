//! How long a rule file takes to load and compile, at two sizes of each shape, so that the scaling shows:
//! twice the rules (or terms) should take about twice the time, not four times.
//!
//! Shapes: many simple rules (`kubernetes.namespace_name == "ns-N"`, one rule each), and one rule whose
//! `when:` is a long `or` of `host == "h-N"` terms.
//!
//! Run: `cargo bench --bench compile` (results and the command are kept in BENCHMARKS.md).

use std::fmt::Write;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use logtrim_core::RuleSet;

fn many_rules(n: usize) -> String {
    let mut y = String::from("rules:\n");
    for i in 0..n {
        let _ = write!(y, "  - name: r{i}\n    when: kubernetes.namespace_name == \"ns-{i}\"\n    action: drop\n");
    }
    y
}

fn many_terms(n: usize) -> String {
    let mut y = String::from("rules:\n  - name: any\n    when: host == \"h-0\"");
    for i in 1..n {
        let _ = write!(y, " or host == \"h-{i}\"");
    }
    y.push_str("\n    action: drop\n");
    y
}

fn bench(c: &mut Criterion) {
    for (shape, make, n) in [("rules", many_rules as fn(usize) -> String, 10_000), ("or-terms", many_terms, 100_000)] {
        let mut g = c.benchmark_group(format!("compile/{shape}"));
        g.sample_size(10);
        for n in [n, 2 * n] {
            let yaml = make(n);
            g.throughput(Throughput::Elements(n as u64));
            g.bench_with_input(BenchmarkId::from_parameter(n), &yaml, |b, yaml| {
                b.iter(|| RuleSet::from_yaml("bench.yaml", black_box(yaml)).expect("compiles").len())
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
