//! The bundled sample is generated, not collected: regenerating it gives the same records.

use std::io::Read;

use super::*;

#[test]
fn bundled_sample_is_reproducible_from_its_seed() {
    let gz = std::fs::read(root().join("filters/samples/k8s-sample.jsonl.gz")).unwrap();
    let mut records = Vec::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut records).unwrap();
    let expected = logtrim_testkit::corpus::bundled_sample();
    assert_eq!(records.len(), expected.len(), "regenerate: cargo run -p logtrim-testkit --bin gen-sample -- -o filters/samples/k8s-sample.jsonl.gz");
    assert!(records == expected, "the sample differs from its generator; regenerate it (see gen-sample's doc)");
}
