//! The reading thread alone, in one process, for instruction counts and profiles that the HTTP side
//! and the receiver do not blur: `cargo run --release -p logtrim-forwarder --example reading_thread --
//! DIR [MB]` writes MB (default 32) of the bench's CRI files into DIR if it is empty (the same seeded
//! corpus and file layout as `benches/forward.rs`), then runs [`Pipeline::run`] over them with the
//! default settings (or `LOGTRIM_*` variables) and `filters/k8s-splunk.yaml`, taking the sealed batches
//! as the sink would (and completing them for the checkpoints). It prints the input, the output and
//! the process's CPU time. Wall clock is noisy on a shared machine: count instructions with
//! `valgrind --tool=cachegrind --cache-sim=no target/release/examples/reading_thread DIR`. With
//! `LOGTRIM_ARCHIVE_LOCATION=/any LOGTRIM_STATE_DIR=STATE`, the archive runs too, into STATE's spool.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use logtrim_forwarder::config::Config;
use logtrim_forwarder::pipeline::{Batch, Pipeline};
use logtrim_forwarder::tail::Tail;
use logtrim_forwarder::{Shared, load_rules, meta};
use logtrim_testkit::corpus::{self, Corpus};

const CID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// The bench's files: corpus records turned back into CRI lines, one file per container.
fn write_files(dir: &Path, bytes: usize) {
    let config = corpus::Config { span_secs: 3600, span_bytes: 600 << 20, ..corpus::Config::default() };
    let mut corpus = Corpus::with_config(42, config);
    let files = corpus.cri_files(bytes, CID);
    for (name, data) in files {
        std::fs::File::create(dir.join(name)).and_then(|mut f| f.write_all(&data)).unwrap();
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("usage: reading_thread DIR [MB]"));
    let mb: usize = args.next().map_or(32, |a| a.parse().expect("MB"));
    std::fs::create_dir_all(&dir).unwrap();
    if std::fs::read_dir(&dir).unwrap().next().is_none() {
        write_files(&dir, mb << 20);
    }
    let total: u64 = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();

    // `LOGTRIM_*` variables apply, as to the forwarder (e.g. LOGTRIM_HEC_GZIP_LEVEL to compare levels).
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../filters/k8s-splunk.yaml");
    let cfg = Config::load(None, |k| {
        std::env::var(k).ok().or_else(|| match k {
            "LOGTRIM_HEC_ENDPOINTS" => Some("http://127.0.0.1:9".into()),
            "LOGTRIM_HEC_TOKEN" => Some("bench".into()),
            "LOGTRIM_NODE_NAME" => Some("bench-node".into()),
            "LOGTRIM_INPUTS_PATHS" => Some(format!("{}/*.log", dir.display())),
            "LOGTRIM_RULES_FILE" => Some(rules.display().to_string()),
            _ => None,
        })
    })
    .unwrap();
    let (rules, _) = load_rules(&cfg.rules_file).unwrap();
    let templates = meta::Templates::new(&cfg.hec).unwrap();
    let shared = Arc::new(Shared::default());
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(cfg.hec.queue_batches);
    let sink_shared = Arc::clone(&shared);
    let sink = std::thread::spawn(move || {
        let (mut batches, mut events, mut wire) = (0u64, 0u64, 0u64);
        while let Some(b) = rx.blocking_recv() {
            batches += 1;
            events += u64::from(b.events);
            wire += b.body.len() as u64;
            sink_shared.tracker.lock().unwrap().complete(b.seq);
        }
        (batches, events, wire)
    });
    let mut pipeline = Pipeline::new(&cfg, rules.clone(), &templates, tx, Arc::clone(&shared), None);
    // With `LOGTRIM_ARCHIVE_LOCATION` set, the lines not sent are archived into a spool under
    // `LOGTRIM_STATE_DIR` (nothing uploads it): the archive's cost on the reading thread alone.
    if !cfg.archive.location.is_empty() {
        let spool = Arc::new(logtrim_forwarder::archive::Spool::open(&cfg.spool_dir(), cfg.archive.spool_max_bytes.0).unwrap());
        pipeline = pipeline.with_archive(logtrim_forwarder::pipeline::Archiving::new(&cfg, &rules, spool));
    }
    let tail = Tail::new(cfg.inputs.clone(), cfg.node_name.clone(), templates, None);
    let start = Instant::now();
    let reader_cfg = cfg.clone();
    let reader = std::thread::spawn(move || {
        pipeline.run(&reader_cfg, tail);
    });
    // Input bytes are published once a second: stop once all of them are counted.
    while shared.metrics.input_bytes.get() < total {
        std::thread::sleep(Duration::from_millis(20));
    }
    shared.stop.store(true, Ordering::Release);
    reader.join().unwrap();
    let (batches, events, wire) = sink.join().unwrap();
    let cpu = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let f: Vec<&str> = cpu.rsplit_once(')').map_or("", |(_, r)| r).split_whitespace().collect();
    let secs = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    println!(
        "{:.1} MB read, {} records, {events} events in {batches} batches, {:.1} MB gzip; wall {:.2} s (≤1 s of it idle at the end); CPU user {:.2} s, system {:.2} s",
        total as f64 / 1e6,
        shared.metrics.input_records.get(),
        wire as f64 / 1e6,
        start.elapsed().as_secs_f64(),
        secs(11),
        secs(12)
    );
}
