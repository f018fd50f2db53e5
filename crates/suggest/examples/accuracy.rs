//! Grouping accuracy of the miner on Loghub's labelled 2k samples, for a local check against real logs.
//!
//! The Loghub data (github.com/logpai/loghub, free for research use) is not part of this repository: fetch
//! `<Name>/<Name>_2k.log` and `<Name>/<Name>_2k.log_structured.csv` into a directory, then
//!
//! ```sh
//! cargo run --release -p logtrim-suggest --example accuracy -- DIR [Name...]
//! ```
//!
//! Each whole line is mined (header included: no per-dataset format or regex, as `logtrim suggest` mines
//! a message it knows nothing about), with one source, and compared with the `EventId` of its line. Beside
//! it, the bench's naive baseline: four regex masks, then lines grouped by their exact masked text.

use std::path::Path;

use logtrim_suggest::eval::{coverage, grouping_accuracy};
use logtrim_suggest::miner::{Config, Kind, Miner};

/// The fields of one CSV record (RFC 4180 quoting).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                out.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(String::new()),
            (c, _) => out.last_mut().unwrap().push(c),
        }
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = Path::new(args.first().expect("usage: accuracy DIR [Name...]"));
    let names: Vec<String> = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        ["HDFS", "Hadoop", "OpenStack", "Zookeeper", "Apache"].iter().map(|s| s.to_string()).collect()
    };
    let verbose = std::env::var_os("VERBOSE").is_some();
    let (mut sum, mut base_sum) = (0.0, 0.0);
    for name in &names {
        let log = std::fs::read_to_string(dir.join(format!("{name}_2k.log"))).expect("the .log file");
        let csv = std::fs::read_to_string(dir.join(format!("{name}_2k.log_structured.csv"))).expect("the structured .csv");
        let mut rows = csv.lines();
        let header = csv_fields(rows.next().unwrap());
        let at = header.iter().position(|h| h == "EventId").expect("an EventId column");
        let truth: Vec<String> = rows.map(|r| csv_fields(r)[at].clone()).collect();
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), truth.len(), "{name}: one label per line");
        let mut miner = Miner::new(Config::default());
        let ids: Vec<_> = lines.iter().map(|l| miner.add(b"", Kind::Text, l.as_bytes(), l.len() as u64)).collect();
        let mined = miner.finish();
        let groups: Vec<Option<u32>> = ids.iter().map(|g| mined.template_of(*g)).collect();
        if let Some(dump) = std::env::var_os("DUMP") {
            let text: String = groups.iter().map(|g| format!("{}\n", g.map_or(-1, |g| g as i64))).collect();
            std::fs::write(Path::new(&dump).join(format!("{name}.groups")), text).expect("write the dump");
        }
        let acc = grouping_accuracy(&truth, &groups);
        sum += acc;
        // The baseline of the bench: regex masks, then exact text.
        let naive = logtrim_testkit::naive_miner::NaiveMiner::new();
        let keys: Vec<String> = lines.iter().map(|l| naive.template_key(l.as_bytes())).collect();
        let base = grouping_accuracy(&truth, &keys);
        base_sum += base;
        println!(
            "{name:<12} grouping accuracy {acc:.3}  ({} true templates, {} mined)   regex masks + exact text: {base:.3}",
            coverage(&truth, &groups).len(),
            mined.templates.len()
        );
        if verbose {
            for (t, n, c) in coverage(&truth, &groups) {
                if c < 1.0 {
                    println!("    {t}: {n} lines, best group holds {:.0}%", c * 100.0);
                }
            }
            for t in &mined.templates {
                println!("    [{}] {} x{}", t.id, t.text(), t.count);
            }
        }
    }
    println!("average      {:.3}   regex masks + exact text: {:.3}", sum / names.len() as f64, base_sum / names.len() as f64);
}
