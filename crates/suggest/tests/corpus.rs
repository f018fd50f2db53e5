//! Mining the generated Kubernetes corpus, whose generator knows which template made each record.

use logtrim_suggest::eval::{coverage, grouping_accuracy};
use logtrim_suggest::message::MessageReader;
use logtrim_suggest::miner::{Config, Miner};
use logtrim_testkit::corpus::{Corpus, Label};

fn mine(seed: u64, bytes: usize) -> (Vec<Label>, Vec<Option<u32>>, logtrim_suggest::miner::Mined) {
    let (data, labels) = Corpus::new(seed).take_bytes_labeled(bytes);
    let mut reader = MessageReader::new();
    let mut miner = Miner::new(Config::default());
    let groups: Vec<_> = data
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|r| {
            let m = reader.read(r);
            miner.add(m.source, m.kind, m.text, r.len() as u64)
        })
        .collect();
    let mined = miner.finish();
    let ids = groups.iter().map(|g| mined.template_of(*g)).collect();
    (labels, ids, mined)
}

#[test]
fn every_true_template_maps_to_one_mined_template() {
    for seed in [42, 7] {
        let (labels, ids, mined) = mine(seed, 4 << 20);
        let truth: Vec<&str> = labels.iter().map(|l| l.template.as_str()).collect();
        let cov = coverage(&truth, &ids);
        let split: Vec<_> = cov.iter().filter(|(_, _, c)| *c < 0.95).collect();
        let acc = grouping_accuracy(&truth, &ids);
        eprintln!("seed {seed}: {} true templates, {} mined, grouping accuracy {acc:.3}", cov.len(), mined.templates.len());
        for t in &mined.templates {
            eprintln!("  [{}] {} {} x{}", t.id, t.source, t.text(), t.count);
        }
        assert!(split.is_empty(), "templates split over several mined ones: {split:?}");
        assert!(acc >= 0.95, "grouping accuracy {acc}");
    }
}
