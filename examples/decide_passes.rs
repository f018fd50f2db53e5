//! Decides the decide bench's corpus (the seeded 4 MiB Kubernetes mix) a given number of times, for
//! instruction counts that do not depend on the machine's load:
//!
//! ```sh
//! cargo build --release --example decide_passes
//! valgrind --tool=cachegrind --cache-sim=no target/release/examples/decide_passes filters/k8s-splunk.yaml 1
//! valgrind --tool=cachegrind --cache-sim=no target/release/examples/decide_passes filters/k8s-splunk.yaml 2
//! ```
//!
//! The difference between the two counts is one pass: generating the corpus and compiling the rules
//! cancel out.

use std::hint::black_box;

use logtrim_core::{Action, RuleSet};
use logtrim_testkit::corpus::Corpus;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: decide_passes RULES PASSES");
    let passes: usize = args.next().map_or(1, |p| p.parse().expect("PASSES is a number"));
    let yaml = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let rules = RuleSet::from_yaml(&path, &yaml).unwrap_or_else(|e| panic!("{e}"));
    let corpus = Corpus::new(42).take_bytes(4 * 1024 * 1024);
    let records: Vec<&[u8]> = corpus.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    let mut d = rules.decider();
    let mut kept = 0usize;
    for _ in 0..passes {
        for r in &records {
            kept += usize::from(d.decide(black_box(*r)).action() == Action::Keep);
        }
    }
    println!("{passes} passes over {} records: {kept} kept", records.len());
}
