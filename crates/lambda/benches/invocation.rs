//! The whole invocation path — the event's JSON in, the response's JSON out — against a hand-written
//! Python handler in the same command.
//!
//! Events of 1, 3 and 6 MB of JSON (1,000,000, 3,000,000 and 6,000,000 bytes at most; Lambda takes
//! 6 MiB) are built from the seeded corpus (seed 42, the Fluent Bit Kubernetes records of the `decide`
//! bench, timed at 3 MB of records a minute as a Firehose buffer of a busy cluster is), in two shapes:
//! one Fluent Bit record per Firehose record (`kinesis_firehose` without aggregation) and records of
//! whole lines packed up to 128 KiB (`simple_aggregation`). Each invocation is the binary's:
//! `handler::invoke` on the request body with `filters/k8s-splunk.yaml` (the default mapping, HEC
//! output) — the event read, transformed, the response written, the EMF line rendered (not printed) —
//! then the response handed to serde_json as the runtime serializes it, with the binary's allocator
//! settings (`heap::keep_freed_memory`). None of these events overflows, so nothing is re-ingested.
//!
//! First criterion measures logtrim (wall clock; throughput is the records' data, base64-decoded).
//! Then a table compares CPU time: logtrim's invocations in this process
//! (`CLOCK_PROCESS_CPUTIME_ID`) and `benches/lambda_python.py`'s in a Python subprocess
//! (`time.process_time()`), as many of each after a warm-up one, on the same event file, each
//! invocation timed on its own and the two sides alternating in rounds of four (the machine's speed
//! swings over seconds: both sides are spread over the same stretch of time, each on its own warm
//! caches within a round), as MB of record data per CPU-second of the fastest and of the median
//! invocation, the ratio of the fastest and the median of the rounds' ratios, and the peak RSS of
//! a process that holds the event and runs one invocation (logtrim: this binary re-run as a child;
//! Python: its own process, `VmHWM`).
//!
//! Run: `cargo bench -p logtrim-lambda --bench invocation` (python3 from `PATH`, or set
//! `LOGTRIM_PYTHON`). Results and the command are kept in BENCHMARKS.md.

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, Throughput};
use logtrim_core::RuleSet;
use logtrim_lambda::handler::{self, State};
use logtrim_lambda::reingest::{PutError, PutRecordBatch};
use logtrim_lambda::transform::Settings;
use logtrim_testkit::corpus::{self, Corpus};

/// Event sizes, in bytes of JSON.
const SIZES: [(&str, usize); 3] = [("1MB", 1_000_000), ("3MB", 3_000_000), ("6MB", 6_000_000)];
/// Largest aggregated record's data.
const AGGREGATE: usize = 128 << 10;
/// Set in the child that measures peak RSS: the event file to invoke once.
const RSS_CHILD: &str = "LOGTRIM_BENCH_RSS_EVENT";

#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Single,
    Aggregated,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Single => "single",
            Shape::Aggregated => "aggregated",
        }
    }
}

/// An event of at most `max` bytes of JSON from the corpus's lines, and its records' data bytes.
fn event(lines: &[&[u8]], max: usize, shape: Shape) -> (Vec<u8>, usize) {
    let head = br#"{"invocationId":"6f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0","deliveryStreamArn":"arn:aws:firehose:us-east-1:123456789012:deliverystream/logtrim-splunk","region":"us-east-1","records":["#;
    let mut out = head.to_vec();
    let mut data_bytes = 0;
    let mut lines = lines.iter().cycle();
    let mut pending: Option<&[u8]> = None;
    for i in 0.. {
        let mut data = Vec::new();
        loop {
            let l = pending.take().unwrap_or_else(|| lines.next().expect("cycle"));
            if !data.is_empty() && data.len() + l.len() + 1 > AGGREGATE {
                pending = Some(l);
                break;
            }
            data.extend_from_slice(l);
            data.push(b'\n');
            if shape == Shape::Single {
                break;
            }
        }
        let rec = format!(
            r#"{}{{"recordId":"4954698668313554428650745793632{:025}","approximateArrivalTimestamp":1795341600000,"data":"{}"}}"#,
            if i == 0 { "" } else { "," },
            i,
            STANDARD.encode(&data)
        );
        if out.len() + rec.len() + 2 > max {
            break;
        }
        out.extend_from_slice(rec.as_bytes());
        data_bytes += data.len();
    }
    out.extend_from_slice(b"]}");
    (out, data_bytes)
}

fn rules() -> RuleSet {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../filters/k8s-splunk.yaml");
    let yaml = std::fs::read_to_string(path).expect("bundled rules");
    RuleSet::from_yaml("k8s-splunk.yaml", &yaml).expect("bundled rules compile")
}

/// Re-ingestion is never expected of these events: an invocation that tried would fail.
struct NoReingest;

impl PutRecordBatch for NoReingest {
    async fn put_record_batch(&self, _: &str, _: &[&[u8]]) -> Result<Vec<Option<String>>, PutError> {
        Err(PutError("no bench event overflows".into()))
    }
}

fn state(rules: &RuleSet) -> State<NoReingest> {
    let mut state = State::new(rules.clone(), Settings::default(), NoReingest);
    state.print_emf = false;
    state
}

/// One invocation as the binary runs it: `handler::invoke` on the body, then the response handed to
/// the runtime as raw JSON and serialized by it.
fn invoke(state: &State<NoReingest>, body: &[u8]) -> Vec<u8> {
    // The handler awaits only re-ingestion and the budget store, neither of which is used here.
    let response = poll_once(handler::invoke(state, body)).expect("the invocation succeeds");
    serde_json::to_vec(&response).expect("serializes")
}

/// Drives a future that never waits to completion.
fn poll_once<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("the invocation waited"),
    }
}

/// The fastest and the median of `times`.
fn best_median(times: &mut [f64]) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    (times[0], times[times.len() / 2])
}

fn cpu_seconds() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `t` is a valid timespec for the call to write.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    assert_eq!(r, 0);
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// `VmHWM` and `VmRSS` of this process, in KiB.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok()).unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// The child: rules compiled, then the event read and invoked once; prints the RSS before the event
/// and the peak.
fn rss_child(path: &str) {
    let state = state(&rules());
    let (_, before) = rss_kib();
    let body = std::fs::read(path).expect("event file");
    black_box(invoke(&state, &body));
    let (peak, _) = rss_kib();
    println!("{before} {peak}");
}

fn measure_rss(path: &Path) -> Option<(u64, u64)> {
    let exe = std::env::current_exe().ok()?;
    let out = Command::new(exe).env(RSS_CHILD, path).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut it = text.split_whitespace().map(|v| v.parse().ok());
    Some((it.next()??, it.next()??))
}

/// `benches/lambda_python.py --serve` on one event file: it invokes its handler once for each line it
/// is sent and answers with that invocation's CPU seconds.
struct Python {
    child: Child,
    stdout: BufReader<ChildStdout>,
    data_bytes: usize,
}

impl Python {
    /// Starts the handler on `path`; it has read the event and run its warm-up invocation on return.
    fn start(path: &Path) -> Result<Python, String> {
        let py = std::env::var("LOGTRIM_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../benches/lambda_python.py");
        let mut child = Command::new(&py)
            .arg(script)
            .arg(path)
            .arg("--serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{py}: {e}"))?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let head: serde_json::Value = serde_json::from_str(&read_line(&mut stdout)?).map_err(|e| e.to_string())?;
        let data_bytes = head["data_bytes"].as_u64().ok_or("data_bytes")? as usize;
        Ok(Python { child, stdout, data_bytes })
    }

    /// `n` invocations: the CPU seconds of each.
    fn invoke(&mut self, n: usize) -> Result<Vec<f64>, String> {
        let stdin = self.child.stdin.as_mut().ok_or("no stdin")?;
        stdin.write_all("\n".repeat(n).as_bytes()).and_then(|()| stdin.flush()).map_err(|e| e.to_string())?;
        (0..n).map(|_| read_line(&mut self.stdout)?.trim().parse().map_err(|e| format!("{e}"))).collect()
    }

    /// Ends the process: its peak RSS in KiB.
    fn finish(mut self) -> Result<u64, String> {
        drop(self.child.stdin.take());
        let tail: serde_json::Value = serde_json::from_str(&read_line(&mut self.stdout)?).map_err(|e| e.to_string())?;
        tail["peak_rss_kib"].as_u64().ok_or_else(|| "peak_rss_kib".into())
    }
}

impl Drop for Python {
    /// A handler left running after an error (the table goes on without it) is stopped, not left
    /// writing into a closed pipe.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_line(r: &mut impl BufRead) -> Result<String, String> {
    let mut line = String::new();
    match r.read_line(&mut line) {
        Ok(0) => Err("the Python handler exited (its error is above)".into()),
        Ok(_) => Ok(line),
        Err(e) => Err(e.to_string()),
    }
}

struct Case {
    name: String,
    body: Vec<u8>,
    data_bytes: usize,
    file: PathBuf,
}

fn cases() -> Vec<Case> {
    // A Firehose buffer holds a minute of logs or less (its interval is 60 s by default): here 3 MB of
    // records a minute, so that summaries have the intervals and groups of a real invocation.
    let config = corpus::Config { span_secs: 60, span_bytes: 3_000_000, ..corpus::Config::default() };
    let corpus = Corpus::with_config(42, config).take_bytes(8 << 20);
    let lines: Vec<&[u8]> = corpus.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    let mut cases = Vec::new();
    for shape in [Shape::Single, Shape::Aggregated] {
        for (size, max) in SIZES {
            let (body, data_bytes) = event(&lines, max, shape);
            let name = format!("{size}-{}", shape.name());
            let file = std::env::temp_dir().join(format!("logtrim-bench-lambda-{name}.json"));
            std::fs::write(&file, &body).expect("temp file");
            cases.push(Case { name, body, data_bytes, file });
        }
    }
    cases
}

fn main() {
    // As the binary does, in the measured process and in the one whose peak RSS is taken.
    logtrim_lambda::heap::keep_freed_memory();
    if let Ok(path) = std::env::var(RSS_CHILD) {
        return rss_child(&path);
    }
    // `cargo bench` passes `--bench`; `cargo test` runs benches without it, once each.
    let test_mode = !std::env::args().any(|a| a == "--bench");
    let rules = rules();
    let cases = cases();

    // Criterion's reports go to the workspace's target directory, wherever cargo runs the bench from.
    let home = std::env::var_os("CRITERION_HOME").map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/criterion"), PathBuf::from);
    let mut c = Criterion::default().output_directory(&home).configure_from_args();
    {
        let mut g = c.benchmark_group("invocation");
        g.sample_size(10);
        for case in &cases {
            g.throughput(Throughput::Bytes(case.data_bytes as u64));
            let state = state(&rules);
            g.bench_function(&case.name, |b| b.iter(|| invoke(&state, black_box(&case.body))));
        }
        g.finish();
    }
    c.final_summary();

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("\nCPU time per invocation, the same event files (load average {}):", load.split(' ').next().unwrap_or("?"));
    println!(
        "{:<16} {:>8} {:>8} {:>15} {:>13} {:>13} {:>12} {:>11}",
        "event", "records", "data MB", "logtrim MB/s", "python MB/s", "ratio", "logtrim RSS", "python RSS"
    );
    // Every invocation is timed on its own, and logtrim's and Python's alternate in rounds: within a
    // round each side runs on its own warm caches, as a function invoked again and again does, and
    // the two sides of a round run within a fraction of a second of each other. Shown as best/median:
    // the fastest invocation (the least disturbed by whatever else the machine runs) and the median;
    // the ratio of the fastest, and the median of the rounds' ratios (each round's medians): this
    // machine's speed swings by a third for seconds at a time, and a round's two sides mostly see the
    // same speed where the whole run's medians do not.
    let (rounds, batch) = if test_mode { (1, 1) } else { (15, 4) };
    let n = rounds * batch;
    for case in &cases {
        let state = state(&rules);
        black_box(invoke(&state, &case.body));
        let records = serde_json::from_slice::<serde_json::Value>(&case.body).expect("event")["records"].as_array().map_or(0, Vec::len);
        let mb = case.data_bytes as f64 / 1e6;
        let rss = measure_rss(&case.file).map_or("?".into(), |(before, peak)| format!("{:.1}+{:.1}M", before as f64 / 1024.0, (peak - before) as f64 / 1024.0));
        let pair = |a: f64, b: f64| format!("{a:.1}/{b:.1}");
        let mut python = Python::start(&case.file);
        let (mut ours, mut theirs, mut round_ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let mut round: Vec<f64> = (0..batch)
                .map(|_| {
                    let start = cpu_seconds();
                    black_box(invoke(&state, &case.body));
                    cpu_seconds() - start
                })
                .collect();
            ours.extend_from_slice(&round);
            if let Ok(py) = &mut python {
                match py.invoke(batch) {
                    Ok(mut t) => {
                        theirs.extend_from_slice(&t);
                        round_ratios.push(best_median(&mut t).1 / best_median(&mut round).1);
                    }
                    Err(e) => python = Err(e),
                }
            }
        }
        let (best, median) = best_median(&mut ours);
        match python.and_then(|py| {
            assert_eq!(py.data_bytes, case.data_bytes, "both read the same records");
            let (py_best, py_median) = best_median(&mut theirs);
            Ok((py_best, py_median, py.finish()?))
        }) {
            Ok((py_best, py_median, py_rss)) => println!(
                "{:<16} {:>8} {:>8.2} {:>15} {:>13} {:>12}× {:>12} {:>10.1}M",
                case.name,
                records,
                mb,
                pair(mb / best, mb / median),
                pair(mb / py_best, mb / py_median),
                pair(py_best / best, best_median(&mut round_ratios).1),
                rss,
                py_rss as f64 / 1024.0
            ),
            Err(e) => println!("{:<16} {:>8} {:>8.2} {:>15} {:>13} (python failed: {})", case.name, records, mb, pair(mb / best, mb / median), "-", e.trim()),
        }
    }
    println!(
        "(best/median of {n} invocations each, each timed on its own, in {rounds} rounds of {batch} of each side; ratio: of the best, and the median of the rounds' ratios; MB = 10^6 bytes of record data, base64-decoded; RSS: before the event + the invocation's peak above it)"
    );
}
