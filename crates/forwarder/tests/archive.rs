//! The archive of the lines not sent, end to end: the real binary, S3 as moto_server on 127.0.0.1 behind
//! a TCP proxy the tests can slow down or cut, and the HEC receiver. With unique line ids, what reached
//! HEC plus what is in the archive is the input — through `kill -9` mid-upload and a restart, and through
//! a 30 s S3 outage while HEC is up.

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use logtrim_aws::archive::{ObjectStore, S3Store};
use logtrim_aws::aws_sdk_s3;
use logtrim_testkit::moto::Moto;

use crate::support::hec::Receiver;
use crate::support::*;

/// A TCP proxy to moto that can delay what clients send (uploads in flight for a while) or refuse
/// everything (an outage: connections are reset, open ones cut).
struct Proxy {
    port: u16,
    down: Arc<AtomicBool>,
    delay_ms: Arc<AtomicU64>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (down, delay_ms, conns) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)), Arc::new(Mutex::new(Vec::new())));
        let p = Proxy { port, down: Arc::clone(&down), delay_ms: Arc::clone(&delay_ms), conns: Arc::clone(&conns) };
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if down.load(Ordering::Acquire) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else { continue };
                {
                    let mut c = conns.lock().unwrap();
                    c.push(client.try_clone().unwrap());
                    c.push(server.try_clone().unwrap());
                }
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let delay = Arc::clone(&delay_ms);
                thread::spawn(move || pipe(client, server, Some(delay)));
                thread::spawn(move || pipe(s2, c2, None));
            }
        });
        p
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn go_down(&self) {
        self.down.store(true, Ordering::Release);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }

    fn come_up(&self) {
        self.down.store(false, Ordering::Release);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Option<Arc<AtomicU64>>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(d) = &delay {
            let ms = d.load(Ordering::Relaxed);
            if ms > 0 {
                thread::sleep(Duration::from_millis(ms));
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// moto with a bucket `logs`, a proxy in front of it, and a store to read the archive back with.
struct S3 {
    _moto: Moto,
    proxy: Proxy,
    store: S3Store,
    rt: tokio::runtime::Runtime,
}

impl S3 {
    fn start() -> S3 {
        let moto = Moto::start();
        let port: u16 = moto.endpoint().rsplit(':').next().unwrap().parse().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let conf = aws_sdk_s3::config::Builder::new()
            .behavior_version_latest()
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(moto.endpoint())
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "test"))
            .build();
        let client = aws_sdk_s3::Client::from_conf(conf);
        rt.block_on(client.create_bucket().bucket("logs").send()).unwrap();
        S3 { proxy: Proxy::start(port), store: S3Store::new(client, "logs", "fwd"), _moto: moto, rt }
    }

    /// The forwarder archives through the proxy.
    fn configure(&self, s: &mut Setup) {
        for (k, v) in [
            ("AWS_ENDPOINT_URL", self.proxy.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("LOGTRIM_ARCHIVE_LOCATION", "s3://logs/fwd".into()),
            ("LOGTRIM_ARCHIVE_S3_PATH_STYLE", "true".into()),
            ("LOGTRIM_ARCHIVE_SEAL_INTERVAL", "1s".into()),
        ] {
            s.set(k, &v);
        }
    }

    /// Every line id in the archive's whole objects (those with their index beside them, as a replay
    /// reads them), with how often it is there, and the reasons seen.
    fn archived(&self) -> (HashMap<String, u32>, BTreeSet<String>) {
        self.archived_checked(false)
    }

    /// [`S3::archived`]; with `whole`, every object must have its index (no upload half done).
    fn archived_checked(&self, whole: bool) -> (HashMap<String, u32>, BTreeSet<String>) {
        let (ids, reasons) = read_archive(&self.rt, &self.store, whole);
        (ids.into_iter().map(|(id, r)| (id, r.len() as u32)).collect(), reasons)
    }
}

/// Every line id in an archive's whole objects (those with their index beside them, as a replay reads
/// them), with the reason of each time it is there, and the reasons seen; with `whole`, every object
/// must have its index.
fn read_archive(rt: &tokio::runtime::Runtime, store: &impl ObjectStore, whole: bool) -> (HashMap<String, Vec<String>>, BTreeSet<String>) {
    let keys = rt.block_on(store.list("")).unwrap();
    let objects: Vec<&String> = keys.iter().filter(|k| k.ends_with(".ndjson.gz")).collect();
    let complete = |k: &&String| keys.contains(&k.replace(".ndjson.gz", ".index.json"));
    if whole {
        let half: Vec<&&String> = objects.iter().filter(|k| !complete(k)).collect();
        assert!(half.is_empty(), "objects without their index: {half:?}");
    }
    let (mut ids, mut reasons) = (HashMap::new(), BTreeSet::new());
    for k in objects.into_iter().filter(|k| complete(k)) {
        let body = rt.block_on(store.get(k)).unwrap();
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(&body[..]).read_to_string(&mut text).unwrap();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let reason = v["reason"].as_str().unwrap().to_string();
            reasons.insert(reason.clone());
            let log = v["record"]["log"].as_str().unwrap_or_else(|| panic!("no log in {line}"));
            let id = hec::line_id(log).unwrap().to_string();
            ids.entry(id).or_insert_with(Vec::new).push(reason);
        }
    }
    (ids, reasons)
}

/// Writes `n` lines across `writers` at about `per_sec` a second; every 7th is marked DROP, and every
/// line of a writer in namespace `quiet` is dropped. Returns (kept ids, dropped ids).
fn write(writers: &mut [(LogWriter, bool)], prefix: &str, n: usize, per_sec: usize, filler: usize) -> (Vec<String>, Vec<String>) {
    let (mut kept, mut dropped) = (Vec::new(), Vec::new());
    let start = Instant::now();
    for i in 0..n {
        let id = format!("{prefix}{i}");
        let k = writers.len();
        let (w, quiet) = &mut writers[i % k];
        let drop = i % 7 == 3;
        w.line(&id, drop, filler);
        if drop || *quiet { dropped.push(id) } else { kept.push(id) }
        if let Some(wait) = Duration::from_secs_f64(i as f64 / per_sec as f64).checked_sub(start.elapsed()) {
            thread::sleep(wait);
        }
    }
    (kept, dropped)
}

/// Checks that HEC got every kept id and no dropped one, and the archive every dropped id and no kept
/// one: together, the input, no id missing. Returns (HEC duplicates, archive duplicates).
fn check_all(got: &HashMap<String, u32>, archived: &HashMap<String, u32>, kept: &[String], dropped: &[String]) -> (u64, u64) {
    let hec_dups = check_delivery(got, kept, dropped);
    let missing: Vec<&String> = dropped.iter().filter(|id| !archived.contains_key(*id)).collect();
    assert!(missing.is_empty(), "{} of {} dropped lines are not in the archive, e.g. {:?}", missing.len(), dropped.len(), &missing[..missing.len().min(5)]);
    let strays = archived.len() - dropped.len();
    assert_eq!(strays, 0, "the archive holds ids that were kept or never written");
    (hec_dups, archived.values().map(|&n| u64::from(n) - 1).sum())
}

fn writers(s: &Setup) -> Vec<(LogWriter, bool)> {
    vec![
        (LogWriter::new(s.log_path("web-1", "shop", "nginx"), false), false),
        (LogWriter::new(s.log_path("api-1", "shop", "app"), true), false),
        (LogWriter::new(s.log_path("job-1", "quiet", "cron"), false), true),
    ]
}

#[test]
fn hec_plus_archive_is_the_input_through_kill_9_mid_upload_and_restart() {
    let s3 = S3::start();
    let hec = Receiver::start(TOKEN);
    let mut s = Setup::new("archive-kill9", &hec.url());
    s3.configure(&mut s);
    s.set("LOGTRIM_HEC_BATCH_BYTES", "16KiB");
    s.set("LOGTRIM_INPUTS_CHECKPOINT_INTERVAL", "0s");
    let mut w = writers(&s);
    let mut fwd = s.start("a");
    fwd.wait_ready(Duration::from_secs(20));
    let (mut kept, mut dropped) = write(&mut w, "k", 3000, 3000, 60);
    wait_until(Duration::from_secs(30), "an archive object uploaded", Some(&fwd), || fwd.metric("logtrim_archive_objects_total", "state=\"uploaded\"") >= 1.0);
    // Uploads now take a while each: the kill finds objects spooled and one in flight.
    s3.proxy.delay_ms.store(1000, Ordering::Relaxed);
    let (k, d) = write(&mut w, "m", 3000, 1000, 60);
    kept.extend(k);
    dropped.extend(d);
    wait_until(Duration::from_secs(20), "objects waiting in the spool", Some(&fwd), || fwd.metric("logtrim_archive_spool_objects", "") >= 2.0);
    let spooled = fwd.metric("logtrim_archive_spool_objects", "");
    fwd.kill9();
    s3.proxy.delay_ms.store(0, Ordering::Relaxed);
    let (k, d) = write(&mut w, "n", 1000, 5000, 60);
    kept.extend(k);
    dropped.extend(d);
    let mut fwd = s.start("b");
    fwd.wait_ready(Duration::from_secs(20));
    let (k, d) = write(&mut w, "o", 1000, 5000, 60);
    kept.extend(k);
    dropped.extend(d);
    wait_until(Duration::from_secs(60), "every line in HEC or the archive", Some(&fwd), || {
        let ids = hec.ids();
        let (archived, _) = s3.archived();
        kept.iter().all(|id| ids.contains_key(id)) && dropped.iter().all(|id| archived.contains_key(id))
    });
    assert!(fwd.log_text().contains("left in the spool by an earlier run"), "the restart uploads what the first run spooled:\n{}", fwd.log_text());
    // Quiet: every open object sealed, every spooled one uploaded.
    wait_until(Duration::from_secs(20), "the spool empty", Some(&fwd), || {
        fwd.metric("logtrim_archive_spool_objects", "") == 0.0 && fwd.metric("logtrim_archive_lines_pending", "") == 0.0
    });
    thread::sleep(Duration::from_millis(1500));
    let (archived, reasons) = s3.archived_checked(true);
    let (hec_dups, archive_dups) = check_all(&hec.ids(), &archived, &kept, &dropped);
    assert_eq!(reasons, BTreeSet::from(["dropped".to_string()]));
    // The ledger: every line this process dropped is accounted for by the archive.
    let dropped_here = fwd.metric("logtrim_lines_total", "outcome=\"dropped\"");
    let spooled_here = fwd.metric("logtrim_archive_lines_total", "outcome=\"spooled\"");
    assert!(dropped_here > 0.0);
    assert_eq!(spooled_here, dropped_here, "archive_lines_total{{outcome=spooled}} = lines_total{{outcome=dropped}}");
    eprintln!("kill -9 with {spooled} objects in the spool: {hec_dups} HEC duplicates, {archive_dups} archive duplicates, {} lines archived", archived.len());
    fwd.signal("TERM");
    assert_eq!(fwd.wait_exit(Duration::from_secs(10)).0, Some(0));
}

/// Peak RSS during the S3 outage (debug build), as the HEC outage test bounds it.
const OUTAGE_RSS_BOUND_KIB: u64 = 48 * 1024;

/// Writes lines to `quiet` with `len` random hex characters each: about half as large compressed,
/// so they fill a spool quickly.
fn write_incompressible(w: &mut LogWriter, prefix: &str, n: usize, len: usize) -> Vec<String> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|i| {
            let filler: String = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    char::from(b"0123456789abcdef"[(x & 15) as usize])
                })
                .collect();
            let id = format!("{prefix}{i}");
            w.tagged(&id, &format!("{filler} "), 0);
            id
        })
        .collect()
}

#[test]
fn a_30s_s3_outage_while_hec_is_up_loses_nothing_and_reading_pauses_only_when_the_spool_fills() {
    let s3 = S3::start();
    let hec = Receiver::start(TOKEN);
    let mut s = Setup::new("archive-outage", &hec.url());
    s3.configure(&mut s);
    s.set("LOGTRIM_ARCHIVE_SPOOL_MAX_BYTES", "1MiB");
    let mut w = writers(&s);
    let mut fwd = s.start("a");
    fwd.wait_ready(Duration::from_secs(20));
    let (mut kept, mut dropped) = write(&mut w, "a", 1000, 4000, 100);
    wait_until(Duration::from_secs(30), "an archive object uploaded", Some(&fwd), || fwd.metric("logtrim_archive_objects_total", "state=\"uploaded\"") >= 1.0);
    let base_rss = fwd.vm_hwm_kib();

    // 30 s without S3. For the first 20 s the spool has room: reading goes on and HEC gets every kept
    // line as it is written.
    s3.proxy.go_down();
    let start = Instant::now();
    let mut round = 0;
    while start.elapsed() < Duration::from_secs(20) {
        let (k, d) = write(&mut w, &format!("b{round}x"), 1000, 1000, 200);
        wait_until(Duration::from_secs(10), "HEC to get the lines written during the outage", Some(&fwd), || {
            let ids = hec.ids();
            k.iter().all(|id| ids.contains_key(id))
        });
        assert_eq!(fwd.metric("logtrim_reading_paused", ""), 0.0, "reading paused with room in the spool");
        kept.extend(k);
        dropped.extend(d);
        round += 1;
    }
    assert!(fwd.metric("logtrim_archive_upload_errors_total", "") > 0.0);
    assert!(fwd.metric("logtrim_archive_spool_bytes", "") > 0.0);
    // Then lines that barely compress, dropped, fill the spool: reading pauses, and the kept line
    // written after them waits in its file.
    let quiet = &mut w[2].0;
    dropped.extend(write_incompressible(quiet, "c", 1500, 1500));
    wait_until(Duration::from_secs(20), "the spool to fill", Some(&fwd), || fwd.metric("logtrim_archive_spool_full", "") == 1.0);
    assert_eq!(fwd.metric("logtrim_reading_paused", ""), 1.0);
    let (k, d) = write(&mut w[..1], "d", 50, 1000, 100);
    kept.extend(k.clone());
    dropped.extend(d);
    let remaining = Duration::from_secs(30).saturating_sub(start.elapsed());
    thread::sleep(remaining);
    let ids = hec.ids();
    assert!(k.iter().all(|id| !ids.contains_key(id)), "reading went on with the spool full");
    assert!(fwd.metric("logtrim_archive_spool_bytes", "") <= (1 << 20) as f64 + 600_000.0, "the spool stays at its cap (plus one object)");
    let outage_rss = fwd.vm_hwm_kib();

    s3.proxy.come_up();
    wait_until(Duration::from_secs(90), "every line in HEC or the archive after the outage", Some(&fwd), || {
        let ids = hec.ids();
        kept.iter().all(|id| ids.contains_key(id)) && {
            let (archived, _) = s3.archived();
            dropped.iter().all(|id| archived.contains_key(id))
        }
    });
    assert_eq!(fwd.metric("logtrim_archive_lines_total", "outcome=\"lost\""), 0.0);
    wait_until(Duration::from_secs(20), "the spool empty", Some(&fwd), || fwd.metric("logtrim_archive_spool_objects", "") == 0.0);
    let (archived, _) = s3.archived_checked(true);
    let (hec_dups, archive_dups) = check_all(&hec.ids(), &archived, &kept, &dropped);
    let peak = fwd.vm_hwm_kib();
    eprintln!(
        "S3 outage: {} kept, {} archived, {hec_dups}/{archive_dups} duplicates (HEC/archive), VmHWM {base_rss} KiB before, {outage_rss} KiB at the end of the outage, {peak} KiB after catching up",
        kept.len(),
        archived.len()
    );
    assert!(peak <= OUTAGE_RSS_BOUND_KIB, "VmHWM {peak} KiB > {OUTAGE_RSS_BOUND_KIB} KiB");
    fwd.signal("TERM");
    assert_eq!(fwd.wait_exit(Duration::from_secs(10)).0, Some(0));
}

#[test]
fn a_full_spool_with_on_full_lose_counts_the_loss_and_reading_goes_on() {
    let s3 = S3::start();
    let hec = Receiver::start(TOKEN);
    let mut s = Setup::new("archive-lose", &hec.url());
    s3.configure(&mut s);
    s.set("LOGTRIM_ARCHIVE_SPOOL_MAX_BYTES", "1MiB");
    s.set("LOGTRIM_ARCHIVE_ON_FULL", "lose");
    let mut w = writers(&s);
    let mut fwd = s.start("a");
    fwd.wait_ready(Duration::from_secs(20));
    s3.proxy.go_down();
    let quiet = &mut w[2].0;
    let mut dropped = write_incompressible(quiet, "c", 2000, 1500);
    let (kept, d) = write(&mut w[..1], "k", 200, 2000, 100);
    dropped.extend(d);
    // Reading never waits: the kept lines written after the flood arrive while S3 is still down.
    wait_until(Duration::from_secs(30), "the kept lines, S3 down", Some(&fwd), || {
        let ids = hec.ids();
        kept.iter().all(|id| ids.contains_key(id))
    });
    wait_until(Duration::from_secs(10), "the loss counted", Some(&fwd), || fwd.metric("logtrim_archive_lines_total", "outcome=\"lost\"") > 0.0);
    assert!(fwd.log_text().contains("not archived (archive.on_full: lose)"), "{}", fwd.log_text());
    s3.proxy.come_up();
    wait_until(Duration::from_secs(30), "the spool empty", Some(&fwd), || fwd.metric("logtrim_archive_spool_objects", "") == 0.0);
    thread::sleep(Duration::from_millis(1500));
    let lost = fwd.metric("logtrim_archive_lines_total", "outcome=\"lost\"");
    let spooled = fwd.metric("logtrim_archive_lines_total", "outcome=\"spooled\"");
    let (archived, _) = s3.archived();
    // What is lost is exactly what is counted lost; everything else of the flood is archived.
    assert_eq!(spooled + lost, dropped.len() as f64);
    assert_eq!(archived.len() as f64, spooled);
    assert!(dropped.iter().filter(|id| archived.contains_key(*id)).count() as f64 == spooled);
    fwd.signal("TERM");
    assert_eq!(fwd.wait_exit(Duration::from_secs(10)).0, Some(0));
}

#[test]
fn kept_lines_too_into_a_directory_when_the_rule_file_includes_them() {
    let hec = Receiver::start(TOKEN);
    hec.state.keep_events.store(true, Ordering::Relaxed);
    let mut s = Setup::new("archive-kept", &hec.url());
    // The quiet namespace's lines are also summarized: its summary events say where they are archived.
    let rules = RULES.replace("kubernetes.namespace_name == \"quiet\"\n    action: drop", "kubernetes.namespace_name == \"quiet\"\n    action: drop\n    summarize: {by: [kubernetes.namespace_name]}");
    assert_ne!(rules, RULES);
    std::fs::write(&s.rules, format!("{rules}archive:\n  include: [dropped, kept]\n")).unwrap();
    let dir = s.dir.path().join("archive");
    s.set("LOGTRIM_ARCHIVE_LOCATION", &format!("file://{}", dir.display()));
    s.set("LOGTRIM_ARCHIVE_SEAL_INTERVAL", "1s");
    let mut w = writers(&s);
    let mut fwd = s.start("a");
    fwd.wait_ready(Duration::from_secs(20));
    let (kept, dropped) = write(&mut w, "k", 1400, 2000, 60);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store = logtrim_aws::archive::LocalDir::new(&dir).unwrap();
    wait_until(Duration::from_secs(30), "every line in HEC and in the archive", Some(&fwd), || {
        let ids = hec.ids();
        let (archived, _) = read_archive(&rt, &store, false);
        kept.iter().all(|id| ids.contains_key(id)) && kept.iter().chain(&dropped).all(|id| archived.contains_key(id))
    });
    wait_until(Duration::from_secs(20), "the spool empty", Some(&fwd), || fwd.metric("logtrim_archive_spool_objects", "") == 0.0);
    let (archived, reasons) = read_archive(&rt, &store, true);
    check_delivery(&hec.ids(), &kept, &dropped);
    assert_eq!(reasons, BTreeSet::from(["dropped".to_string(), "kept".to_string()]));
    assert_eq!(archived.len(), kept.len() + dropped.len(), "ids never written");
    for id in &kept {
        assert_eq!(archived[id], ["kept"], "{id}");
    }
    for id in &dropped {
        assert_eq!(archived[id], ["dropped"], "{id}");
    }
    // The ledger: lines delivered and dropped are all spooled, under their reasons.
    wait_until(Duration::from_secs(5), "the counts brought in", Some(&fwd), || {
        fwd.metric("logtrim_archive_lines_total", "reason=\"kept\"") == kept.len() as f64
    });
    assert_eq!(fwd.metric("logtrim_archive_lines_total", "reason=\"dropped\",outcome=\"spooled\""), fwd.metric("logtrim_lines_total", "outcome=\"dropped\""));
    fwd.signal("TERM");
    assert_eq!(fwd.wait_exit(Duration::from_secs(10)).0, Some(0));
    // SIGTERM sent the open summaries.
    let raw = hec.state.received.lock().unwrap().raw.clone();
    let at: Vec<&str> = raw.iter().filter_map(|v| v["event"]["logtrim_summary"]["archive"].as_str()).collect();
    let want = format!("file://{}/dt=2026-11-22/hour=10/", dir.display());
    assert!(!at.is_empty() && at.iter().all(|a| *a == want), "summaries' archive: {at:?}, want {want}");
}
