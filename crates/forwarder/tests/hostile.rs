//! Issue 15, "Hostile input and faults": what a file, a receiver or a configuration can do to the
//! forwarder, and what it must do in return (bounded memory, no silent loss, no hang, every problem
//! reported).

use std::time::Duration;

use crate::support::hec::Receiver;
use crate::support::*;

/// Peak RSS allowed while the forwarder holds partial-line chains far larger than it (debug build).
const PARTIALS_RSS_BOUND_KIB: u64 = 48 * 1024;

/// Writes a chain of `mb` MB of partial lines without its last part: CRI `P` lines, or Docker parts
/// whose `log` does not end in `\n`. Returns the bytes written.
fn partial_chain(w: &mut LogWriter, id: &str, mb: usize) -> u64 {
    let part = "p".repeat(16 * 1024);
    let mut written = 0;
    let mut block = String::new();
    for i in 0..mb * 1_000_000 / part.len() {
        let text = if i == 0 { format!("id={id} {part}") } else { part.clone() };
        if w.docker {
            block.push_str(&format!("{{\"log\":\"{text}\",\"stream\":\"stdout\",\"time\":\"2026-11-22T10:00:00.{i:09}Z\"}}\n"));
        } else {
            block.push_str(&format!("2026-11-22T10:00:00.{i:09}Z stdout P {text}\n"));
        }
        if block.len() > 1 << 20 {
            written += block.len() as u64;
            w.raw(&block);
            block.clear();
        }
    }
    written += block.len() as u64;
    w.raw(&block);
    written
}

/// Finding 2: a chain of partial lines is joined only up to `inputs.max_line_bytes`: memory stays
/// bounded while the chain waits for its last part, and the message it becomes is cut and counted,
/// as a single long line is.
#[test]
fn r15_partial_line_chains_are_capped_and_counted() {
    let hec = Receiver::start(TOKEN);
    hec.state.keep_events.store(true, std::sync::atomic::Ordering::Relaxed);
    let s = Setup::new("r15-partials", &hec.url());
    let mut cri = LogWriter::new(s.log_path("web-1", "shop", "nginx"), false);
    let mut docker = LogWriter::new(s.log_path("api-1", "shop", "app"), true);
    cri.line("before-c", false, 10);
    docker.line("before-d", false, 10);
    let mut fwd = s.start("a");
    fwd.wait_ready(Duration::from_secs(20));
    wait_until(Duration::from_secs(20), "the first lines", Some(&fwd), || hec.ids().len() == 2);
    let written = partial_chain(&mut cri, "chain-c", 40) + partial_chain(&mut docker, "chain-d", 40);
    let total = std::fs::metadata(&cri.path).unwrap().len() + std::fs::metadata(&docker.path).unwrap().len();
    wait_until(Duration::from_secs(60), "every part read", Some(&fwd), || fwd.metric("logtrim_input_bytes_total", "") >= total as f64);
    let rss = fwd.vm_hwm_kib();
    eprintln!("partial chains: {:.0} MB of parts without their last one, VmHWM {rss} KiB", written as f64 / 1e6);
    assert!(rss <= PARTIALS_RSS_BOUND_KIB, "VmHWM {rss} KiB > {PARTIALS_RSS_BOUND_KIB} KiB while holding partial lines");
    assert_eq!(fwd.metric("logtrim_input_truncated_total", ""), 0.0, "nothing is counted before the message ends");

    // The last parts come: each message arrives cut at the cap, and is counted as cut.
    cri.raw("2026-11-22T10:00:01.000000000Z stdout F the end\n");
    docker.raw("{\"log\":\"the end\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-22T10:00:01.000000000Z\"}\n");
    wait_until(Duration::from_secs(20), "the joined messages", Some(&fwd), || hec.ids().len() == 4);
    let raw = hec.state.received.lock().unwrap().raw.clone();
    let cap = 256 * 1024;
    for id in ["chain-c", "chain-d"] {
        let log = raw.iter().find_map(|v| v["event"]["log"].as_str().filter(|l| l.starts_with(&format!("id={id} ")))).unwrap();
        assert!(log.len() <= cap && log.len() > cap - 64, "{id}: {} bytes, cap {cap}", log.len());
        assert!(!log.contains("the end"), "{id}: the rest after the cap is not appended");
    }
    wait_until(Duration::from_secs(5), "the cut messages counted", Some(&fwd), || fwd.metric("logtrim_input_truncated_total", "") == 2.0);
    fwd.signal("TERM");
    assert_eq!(fwd.wait_exit(Duration::from_secs(10)).0, Some(0));
}
