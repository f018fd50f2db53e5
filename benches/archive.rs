//! The archive and replay, through the `logtrim` binary: what archiving costs `logtrim run`, how many
//! bytes the archive takes per input byte, and how fast `logtrim replay` sends a local archive to a HEC
//! receiver on 127.0.0.1 (the test receiver, counting events without parsing them).
//!
//! The input is the bundled sample (filters/samples/k8s-sample.jsonl.gz, 6.3 MB of Fluent Bit records)
//! repeated `LOGTRIM_BENCH_COPIES` times (default 8: 50 MB) in one file, with the bundled rules
//! (filters/k8s-splunk.yaml: 53% of the bytes are not sent). Each step runs `LOGTRIM_BENCH_RUNS` times
//! (default 3); the best is reported.
//!
//! `cargo bench --bench archive` runs the full sizes; under `cargo test` (no `--bench` argument) it
//! runs one copy once, so the benchmark cannot rot. The 1-minute load average is printed first: on a
//! shared machine, take figures only when it is low.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use logtrim_testkit::hec::Receiver;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn logtrim(args: &[&str], env: &[(&str, &str)]) -> (Duration, std::process::Output) {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_logtrim")).args(args).envs(env.iter().copied()).output().expect("run logtrim");
    let took = start.elapsed();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    (took, out)
}

fn files(dir: &Path, suffix: &str) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                total += e.metadata().unwrap().len();
            }
        }
    }
    total
}

fn best(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    (0..runs).map(|_| f()).min().unwrap()
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let env_num = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let (copies, runs) = if bench { (env_num("LOGTRIM_BENCH_COPIES", 8), env_num("LOGTRIM_BENCH_RUNS", 3)) } else { (1, 1) };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average: {}", load.split_whitespace().next().unwrap_or("?"));

    let dir = std::env::temp_dir().join(format!("logtrim-bench-archive-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut sample = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(root().join("filters/samples/k8s-sample.jsonl.gz")).unwrap()).read_to_end(&mut sample).unwrap();
    let input = dir.join("input.jsonl");
    std::fs::write(&input, sample.repeat(copies)).unwrap();
    let input_bytes = std::fs::metadata(&input).unwrap().len();
    let rules = root().join("filters/k8s-splunk.yaml");
    let (rules, input_s) = (rules.to_str().unwrap(), input.to_str().unwrap());
    println!("input: {:.1} MB ({copies} copies of the sample), rules: filters/k8s-splunk.yaml, best of {runs}", input_bytes as f64 / 1e6);

    // 1. `run` without and with the archive.
    let plain = best(runs, || logtrim(&["run", rules, input_s, "-o", "/dev/null"], &[]).0);
    let archive = dir.join("archive");
    let mut stderr = String::new();
    let with = best(runs, || {
        let _ = std::fs::remove_dir_all(&archive);
        let (t, o) = logtrim(&["run", rules, input_s, "-o", "/dev/null", "--archive", archive.to_str().unwrap()], &[]);
        stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        t
    });
    let mbs = |bytes: u64, t: Duration| bytes as f64 / 1e6 / t.as_secs_f64();
    println!("run:     {:.1} MB/s of input without the archive, {:.1} MB/s with it ({:+.1}% time)", mbs(input_bytes, plain), mbs(input_bytes, with), (with.as_secs_f64() / plain.as_secs_f64() - 1.0) * 100.0);
    let objects = files(&archive, ".ndjson.gz");
    let indexes = files(&archive, ".index.json");
    let archived_line = stderr.lines().find(|l| l.starts_with("archived")).unwrap_or_default().to_string();
    println!("         {archived_line}");
    let dropped: u64 = stderr
        .lines()
        .find(|l| l.starts_with("kept "))
        .and_then(|l| {
            // "kept N of M records (K of T bytes)"
            let inner = l.split('(').nth(1)?;
            let mut it = inner.split_whitespace();
            let kept: u64 = it.next()?.parse().ok()?;
            it.next();
            let total: u64 = it.next()?.parse().ok()?;
            Some(total - kept)
        })
        .unwrap_or(0);
    println!(
        "archive: {:.3} bytes per input byte ({} B of objects + {} B of indexes), {:.3} per byte not sent ({:.1} MB not sent)",
        (objects + indexes) as f64 / input_bytes as f64,
        objects,
        indexes,
        (objects + indexes) as f64 / dropped.max(1) as f64,
        dropped as f64 / 1e6
    );

    // 2. Replay the whole archive (again and again: --force) to a local receiver.
    let hec = Receiver::start("bench");
    hec.state.count_only.store(true, std::sync::atomic::Ordering::Relaxed);
    let url = hec.url();
    let env = [("LOGTRIM_HEC_ENDPOINTS", url.as_str()), ("LOGTRIM_HEC_TOKEN", "bench")];
    let mut summary = serde_json::Value::Null;
    let t = best(runs, || {
        let (t, o) = logtrim(&["replay", archive.to_str().unwrap(), "--force", "--format", "json"], &env);
        summary = serde_json::from_slice(&o.stdout).unwrap();
        t
    });
    let events = summary["events"].as_u64().unwrap();
    let event_bytes = summary["event_bytes"].as_u64().unwrap();
    let read = summary["bytes_read"].as_u64().unwrap();
    println!(
        "replay:  {events} events, {:.1} MB of HEC events in {:.2} s: {:.1} MB/s of events ({:.0} events/s), {:.1} MB/s of archive read",
        event_bytes as f64 / 1e6,
        t.as_secs_f64(),
        mbs(event_bytes, t),
        events as f64 / t.as_secs_f64(),
        mbs(read, t)
    );
    assert_eq!(hec.events(), events * runs as u64, "every replayed event arrived");
    let _ = std::fs::remove_dir_all(&dir);
}
