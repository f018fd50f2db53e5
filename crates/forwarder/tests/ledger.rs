//! The conservation ledger (issue 15): read = delivered + dropped + shed + blank + dead_lettered +
//! pending, per file and in total, at every scrape, under faults; and against what was written.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::hec::{Mode, Receiver, line_id};
use crate::support::*;

/// One scrape's ledger: series ("" for the totals, else the file name) → outcome (and "pending") → lines.
type Ledger = BTreeMap<String, BTreeMap<String, u64>>;

fn label<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!("{key}=\""))? + key.len() + 2;
    Some(&line[start..start + line[start..].find('"')?])
}

/// The ledger from one `/metrics` answer (one consistent view of it).
fn scrape(port: u16) -> Option<Ledger> {
    let (200, text) = http_get(port, "/metrics")? else { return None };
    let mut l = Ledger::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = (line.split(['{', ' ']).next()?, line.rsplit(' ').next()?.parse::<u64>());
        let Ok(value) = value else { continue };
        let (series, outcome) = match name {
            "logtrim_lines_total" => ("", label(line, "outcome")?),
            "logtrim_lines_pending" => ("", "pending"),
            "logtrim_file_lines_total" => (label(line, "file")?, label(line, "outcome")?),
            "logtrim_file_lines_pending" => (label(line, "file")?, "pending"),
            _ => continue,
        };
        l.entry(series.to_string()).or_default().insert(outcome.to_string(), value);
    }
    l.contains_key("").then_some(l)
}

/// Every series balances, and the totals are the sum of the files: `Err` says where not.
fn balanced(l: &Ledger) -> Result<(), String> {
    let get = |s: &BTreeMap<String, u64>, k: &str| s.get(k).copied().unwrap_or(0);
    for (series, s) in l {
        let out: u64 = ["delivered", "dropped", "shed", "blank", "dead_lettered", "pending"].iter().map(|k| get(s, k)).sum();
        if get(s, "read") != out {
            return Err(format!("{series:?}: read {} != {out} accounted for: {s:?}", get(s, "read")));
        }
    }
    for outcome in ["read", "delivered", "dropped", "shed", "blank", "dead_lettered", "pending"] {
        let files: u64 = l.iter().filter(|(k, _)| !k.is_empty()).map(|(_, s)| get(s, outcome)).sum();
        if files != get(&l[""], outcome) {
            return Err(format!("total {outcome} {} != {files} over the files", get(&l[""], outcome)));
        }
    }
    Ok(())
}

/// Scrapes the forwarder on `port` until stopped, checking every scrape; what it found.
struct Checker {
    stop: Arc<AtomicBool>,
    found: Arc<Mutex<(u64, Vec<String>)>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checker {
    fn start(port: u16) -> Checker {
        let stop = Arc::new(AtomicBool::new(false));
        let found = Arc::new(Mutex::new((0, Vec::new())));
        let (s, f) = (Arc::clone(&stop), Arc::clone(&found));
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                // No answer while the forwarder is down (killed, restarting).
                if let Some(l) = scrape(port) {
                    let mut f = f.lock().unwrap();
                    f.0 += 1;
                    if let Err(e) = balanced(&l) {
                        f.1.push(e);
                    }
                }
                std::thread::sleep(Duration::from_millis(30));
            }
        });
        Checker { stop, found, thread: Some(thread) }
    }

    /// (scrapes, problems found).
    fn finish(mut self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        std::mem::take(&mut *self.found.lock().unwrap())
    }
}

/// Ids in the batches written to the dead-letter directory.
fn dead_lettered_ids(state: &Path) -> HashSet<String> {
    let mut ids = HashSet::new();
    let Ok(rd) = std::fs::read_dir(state.join("dead-letter")) else { return ids };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".json.gz") {
            continue;
        }
        let mut raw = Vec::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(e.path()).unwrap()).read_to_end(&mut raw).unwrap();
        for v in serde_json::Deserializer::from_slice(&raw).into_iter::<serde_json::Value>() {
            let v = v.unwrap();
            let text = v["event"]["log"].as_str().or(v["event"].as_str()).unwrap_or_default();
            if let Some(id) = line_id(text) {
                ids.insert(id.to_string());
            }
        }
    }
    ids
}

/// What the test wrote: kept and dropped ids, and (lines, dropped) per series name.
#[derive(Default)]
struct Written {
    kept: Vec<String>,
    dropped: Vec<String>,
    per_file: BTreeMap<String, (u64, u64)>,
    /// A written file's series name when it is not the file's own (the link kubelet's layout reads).
    alias: BTreeMap<std::path::PathBuf, String>,
}

impl Written {
    /// Writes `n` lines round-robin over `writers`, every 7th marked DROP.
    fn lines(&mut self, writers: &mut [&mut LogWriter], prefix: &str, n: usize) {
        for i in 0..n {
            let w = &mut writers[i % writers.len()];
            let id = format!("{prefix}{i}");
            let drop = i % 7 == 3;
            w.line(&id, drop, 40);
            let name = self.alias.get(&w.path).cloned().unwrap_or_else(|| w.path.file_name().unwrap().to_string_lossy().into_owned());
            let e = self.per_file.entry(name).or_default();
            e.0 += 1;
            e.1 += u64::from(drop);
            if drop { self.dropped.push(id) } else { self.kept.push(id) }
        }
    }

    /// Every kept line reached HEC or the dead-letter directory.
    fn settled(&self, hec: &Receiver, state: &Path) -> bool {
        let (got, dead) = (hec.ids(), dead_lettered_ids(state));
        self.kept.iter().all(|id| got.contains_key(id) || dead.contains(id))
    }
}

/// Waits until every kept line is settled and the forwarder's ledger shows nothing pending.
fn quiesce(hec: &Receiver, s: &Setup, w: &Written, fwd: &Forwarder, what: &str) -> Ledger {
    let start = Instant::now();
    loop {
        if w.settled(hec, &s.state)
            && let Some(l) = scrape(fwd.port)
            && l[""].get("pending") == Some(&0)
        {
            return l;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{what}: not settled within 60 s\n{}", fwd.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Issue 15, the ledger: under a 503 storm, slow acknowledgements (batches sent again), rejected
/// batches, a rename rotation, a copytruncate, a truncation in place, and a kill -9 and restart, every
/// scrape balances per file and in total; once settled, the first process's ledger matches what was
/// written line for line, and no kept line is missing from HEC and the dead-letter directory together.
#[test]
fn r15_every_line_read_is_accounted_for_under_combined_faults() {
    let hec = Receiver::start(TOKEN);
    hec.state.ack.store(true, Ordering::Relaxed);
    *hec.state.ack_delay.lock().unwrap() = Duration::from_millis(100);
    let mut s = Setup::new("r15-ledger", &hec.url());
    s.set("LOGTRIM_HEC_ACK", "true");
    s.set("LOGTRIM_HEC_ACK_TIMEOUT", "1s");
    s.set("LOGTRIM_HEC_BATCH_BYTES", "16KiB");
    s.set("LOGTRIM_HEC_MAX_IN_FLIGHT", "2");
    s.set("LOGTRIM_HEC_QUEUE_BATCHES", "1");
    s.set("LOGTRIM_INPUTS_CHECKPOINT_INTERVAL", "0s");
    // kubelet's layout for the file rotated by rename; the others plain.
    let pods = s.dir.path().join("pods/shop_web-1/nginx");
    std::fs::create_dir_all(&pods).unwrap();
    let real = pods.join("0.log");
    std::os::unix::fs::symlink(&real, s.log_path("web-1", "shop", "nginx")).unwrap();
    let mut renamed = LogWriter::new(real.clone(), false);
    let mut copied = LogWriter::new(s.log_path("api-1", "shop", "app"), true);
    let mut truncated = LogWriter::new(s.log_path("worker-1", "shop", "jobs"), false);
    let mut w = Written::default();
    w.alias.insert(real.clone(), s.log_path("web-1", "shop", "nginx").file_name().unwrap().to_string_lossy().into_owned());
    let mut fwd = s.start("a");
    fwd.wait_ready(Duration::from_secs(20));
    let checker = Checker::start(fwd.port);

    w.lines(&mut [&mut renamed, &mut copied, &mut truncated], "a", 600);
    quiesce(&hec, &s, &w, &fwd, "normal");

    // A 503 storm: reading pauses behind the full queue.
    hec.set_mode(Mode::Busy);
    w.lines(&mut [&mut renamed, &mut copied, &mut truncated], "b", 900);
    wait_until(Duration::from_secs(20), "503s", Some(&fwd), || hec.status_count(503) >= 5);
    hec.set_mode(Mode::Ok);

    // Acknowledgements slower than hec.ack_timeout: batches are sent again.
    *hec.state.ack_delay.lock().unwrap() = Duration::from_millis(1500);
    w.lines(&mut [&mut renamed, &mut copied, &mut truncated], "c", 600);
    wait_until(Duration::from_secs(20), "acknowledgement timeouts", Some(&fwd), || fwd.metric("logtrim_hec_ack_timeouts_total", "") >= 1.0);
    *hec.state.ack_delay.lock().unwrap() = Duration::from_millis(100);

    // Rejected batches: dead-lettered.
    quiesce(&hec, &s, &w, &fwd, "after the slow acknowledgements");
    hec.set_mode(Mode::InvalidData);
    w.lines(&mut [&mut renamed, &mut copied, &mut truncated], "d", 300);
    wait_until(Duration::from_secs(20), "rejected batches", Some(&fwd), || fwd.metric("logtrim_dead_letter_batches_total", "") >= 1.0);
    quiesce(&hec, &s, &w, &fwd, "rejections");
    hec.set_mode(Mode::Ok);

    // Rotation by rename, copytruncate, and a truncation in place of a file read to its end; new lines
    // once they are seen (written at once, a line ending where an old one did could be read twice,
    // which the count against what was written below would take for a fault).
    std::fs::rename(&real, pods.join("0.log.20261122")).unwrap();
    renamed.reopen();
    let copy = copied.path.with_file_name(format!("{}.1", copied.path.file_name().unwrap().to_string_lossy()));
    std::fs::copy(&copied.path, &copy).unwrap();
    std::fs::OpenOptions::new().write(true).open(&copied.path).unwrap().set_len(0).unwrap();
    std::fs::OpenOptions::new().write(true).open(&truncated.path).unwrap().set_len(0).unwrap();
    wait_until(Duration::from_secs(20), "the rotations seen", Some(&fwd), || {
        fwd.metric("logtrim_file_rotations_total", r#"kind="truncate""#) >= 2.0 && fwd.metric("logtrim_file_rotations_total", r#"kind="rename""#) >= 1.0
    });
    w.lines(&mut [&mut renamed, &mut copied, &mut truncated], "e", 900);

    // The first process, settled: its ledger is what was written, line for line.
    let l = quiesce(&hec, &s, &w, &fwd, "rotations");
    balanced(&l).unwrap();
    let dead = dead_lettered_ids(&s.state);
    let count = |k: &str| l[""].get(k).copied().unwrap_or(0);
    let written: u64 = w.per_file.values().map(|(n, _)| n).sum();
    assert_eq!(count("read"), written, "{l:?}");
    assert_eq!(count("dropped"), w.dropped.len() as u64);
    assert_eq!(count("dead_lettered"), dead.len() as u64, "{l:?}");
    assert!(!dead.is_empty());
    assert_eq!(count("delivered") + count("dead_lettered"), w.kept.len() as u64);
    for (name, (n, dropped)) in &w.per_file {
        let f = &l[name.as_str()];
        assert_eq!((f["read"], f["dropped"]), (*n, *dropped), "{name}: {f:?}");
    }

    // A truncation in place right after a burst, written past at once (as in finding 1): the old
    // reading ends with lines the ledger was not told of yet. Lines of the burst not read before the
    // truncation are lost with it (there is no copy), so they are not among those checked below.
    let mut burst = Written::default();
    burst.lines(&mut [&mut truncated], "t", 300);
    let (rest, kept, dropped) = {
        let mut r = Written::default();
        r.lines(&mut [&mut LogWriter::new(s.dir.path().join("scratch.log"), false)], "u", 300);
        (std::fs::read_to_string(s.dir.path().join("scratch.log")).unwrap(), r.kept, r.dropped)
    };
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().write(true).truncate(true).open(&truncated.path).unwrap();
        f.write_all(rest.as_bytes()).unwrap();
    }
    w.kept.extend(kept);
    w.dropped.extend(dropped);
    wait_until(Duration::from_secs(20), "the third truncation seen", Some(&fwd), || fwd.metric("logtrim_file_rotations_total", r#"kind="truncate""#) >= 3.0);

    // kill -9 in the middle of a burst, lines written while down, a restart.
    w.lines(&mut [&mut renamed, &mut copied, &mut truncated], "f", 900);
    fwd.kill9();
    w.lines(&mut [&mut renamed, &mut copied, &mut truncated], "g", 300);
    let mut fwd = s.start("b");
    fwd.wait_ready(Duration::from_secs(20));
    w.lines(&mut [&mut renamed, &mut copied, &mut truncated], "h", 300);
    let l = quiesce(&hec, &s, &w, &fwd, "after the restart");
    let (scrapes, problems) = checker.finish();
    eprintln!("ledger: {scrapes} scrapes, {} problems; after the restart: {:?}", problems.len(), l[""]);
    assert!(problems.is_empty(), "{} scrapes did not balance, e.g. {:?}", problems.len(), &problems[..problems.len().min(3)]);
    assert!(scrapes >= 50, "only {scrapes} scrapes");
    balanced(&l).unwrap();
    assert!(l[""]["read"] >= 600, "the second process read at least what was written after the kill");
    let (got, dead) = (hec.ids(), dead_lettered_ids(&s.state));
    let lost: Vec<&String> = w.kept.iter().filter(|id| !got.contains_key(*id) && !dead.contains(*id)).collect();
    assert!(lost.is_empty(), "{} kept lines neither delivered nor dead-lettered, e.g. {:?}", lost.len(), &lost[..lost.len().min(5)]);
    assert!(w.dropped.iter().all(|id| !got.contains_key(id)));
    fwd.signal("TERM");
    assert_eq!(fwd.wait_exit(Duration::from_secs(10)).0, Some(0));
}

/// Issue 15, the ledger's other outcomes: lines shed by the daily budget and kept lines not sent for
/// being blank (`hec.event: log`) are accounted for, each as what it is.
#[test]
fn r15_shed_and_blank_lines_are_accounted_for() {
    let hec = Receiver::start(TOKEN);
    let mut s = Setup::new("r15-ledger-shed", &hec.url());
    s.set("LOGTRIM_HEC_EVENT", "log");
    std::fs::write(
        &s.rules,
        "name: shed\nrules:\n  - name: drop-marked\n    when: log contains \"DROP\"\n    action: drop\ndefault:\n  action: keep\n  priority: low\nbudget:\n  limit: 20KB\n  chunk: 4KB\n  time_zone: UTC\n  pacing: false\n",
    )
    .unwrap();
    let mut cri = LogWriter::new(s.log_path("web-1", "shop", "nginx"), false);
    let mut fwd = s.start("a");
    fwd.wait_ready(Duration::from_secs(20));
    let mut w = Written::default();
    w.lines(&mut [&mut cri], "s", 700);
    for _ in 0..25 {
        cri.raw("2026-11-22T10:00:00.000000001Z stdout F \n");
    }
    let l = {
        let start = Instant::now();
        loop {
            if let Some(l) = scrape(fwd.port)
                && l[""].get("read") == Some(&725)
                && l[""].get("pending") == Some(&0)
            {
                break l;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "{:?}\n{}", scrape(fwd.port), fwd.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    balanced(&l).unwrap();
    let t = &l[""];
    eprintln!("ledger: {t:?}");
    assert_eq!(t["dropped"], w.dropped.len() as u64);
    assert_eq!(t["blank"], 25);
    assert!(t["shed"] > 100, "the 20 KB budget sheds most low-priority lines: {t:?}");
    wait_until(Duration::from_secs(5), "the shed metric", Some(&fwd), || t["shed"] as f64 == fwd.metric("logtrim_shed_records_total", ""));
    wait_until(Duration::from_secs(5), "the lines delivered", Some(&fwd), || hec.ids().len() as u64 == t["delivered"]);
    fwd.signal("TERM");
    assert_eq!(fwd.wait_exit(Duration::from_secs(10)).0, Some(0));
}
