//! Grouping accuracy on labelled files in the shapes of real logs (`logtrim_testkit::shapes`), with the
//! default settings for all of them: no per-dataset format, regex or threshold.
//!
//! `VERBOSE=1 cargo test -p logtrim-suggest --test shapes -- --nocapture` lists the mined templates.

use logtrim_suggest::eval::grouping_accuracy;
use logtrim_suggest::message::MessageReader;
use logtrim_suggest::miner::{Config, Miner};
use logtrim_testkit::shapes;

#[test]
fn grouping_accuracy_on_real_shapes_averages_at_least_0_90() {
    let mut sum = 0.0;
    let sets = shapes::all(42, 2000);
    for s in &sets {
        // As `logtrim suggest` reads them: a JSON line's message is its `msg`, a text line is its message.
        let mut reader = MessageReader::new();
        let mut miner = Miner::new(Config::default());
        let groups: Vec<_> = s
            .lines
            .iter()
            .map(|l| {
                let m = reader.read(l.as_bytes());
                miner.add(m.source, m.kind, m.text, l.len() as u64)
            })
            .collect();
        let mined = miner.finish();
        let ids: Vec<_> = groups.iter().map(|g| mined.template_of(*g)).collect();
        let acc = grouping_accuracy(&s.labels, &ids);
        eprintln!("{:<14} {acc:.3}  ({} mined)", s.name, mined.templates.len());
        if std::env::var_os("VERBOSE").is_some() {
            for t in &mined.templates {
                eprintln!("    [{}] {} x{}", t.id, t.text(), t.count);
            }
        }
        sum += acc;
    }
    let avg = sum / sets.len() as f64;
    eprintln!("average        {avg:.3}");
    assert!(avg >= 0.90, "average grouping accuracy {avg:.3}");
}
