//! `logtrim run --archive` and `logtrim replay`: nothing dropped is lost, and a replay sends exactly the
//! archived records it selects, once. Against a HEC receiver on 127.0.0.1 that answers as HEC does
//! (acknowledgements included), and S3 as moto_server on 127.0.0.1.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use logtrim_testkit::hec::{Mode, Receiver};
use proptest::prelude::*;

use super::*;

const TOKEN: &str = "replay-token";

/// Keep 5xx, drop probes, sample 2xx at 20% by request id (`req`, so it is indexed), keep the rest.
const RULES: &str = r#"name: archive-test
parse:
  log: [access]
rules:
  - name: keep-5xx
    when: log.status >= 500
    action: keep
    priority: critical
  - name: drop-probes
    when: log.user_agent starts_with "kube-probe/"
    action: drop
    summarize: {by: [kubernetes.namespace_name]}
  - name: sample-2xx
    when: log.status in 200..299
    action: sample
    rate: 20%
    key: req
default:
  action: keep
"#;

/// 2026-11-22T10:00:00Z.
const BASE_MS: i64 = 1_795_341_600_000;

/// One generated record: its id and what the rules and a selection read.
#[derive(Clone, Debug)]
struct Rec {
    id: u32,
    time_ms: i64,
    status: u32,
    ns: &'static str,
    probe: bool,
}

const NAMESPACES: [&str; 3] = ["shop", "pay", "kube-system"];

fn records(n: u32) -> Vec<Rec> {
    (0..n)
        .map(|id| Rec {
            id,
            // 10 s apart: 1000 records span three hours, so three `hour=` partitions.
            time_ms: BASE_MS + i64::from(id) * 10_000,
            status: [200, 204, 200, 404, 503, 200, 301, 200][(id % 8) as usize],
            ns: NAMESPACES[(id % 3) as usize],
            probe: id % 7 == 0,
        })
        .collect()
}

fn line(r: &Rec) -> String {
    let t = logtrim_core::budget::Timestamp::from_millisecond(r.time_ms).unwrap();
    let ua = if r.probe { "kube-probe/1.31" } else { "curl/8.5" };
    format!(
        r#"{{"time":"{t}","req":"r-{}","log":"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] \"GET /p?id={} HTTP/1.1\" {} 5 \"-\" \"{ua}\"","kubernetes":{{"namespace_name":"{}","pod_name":"p-{}","container_name":"c"}}}}"#,
        r.id,
        r.id,
        r.status,
        r.ns,
        r.id % 5
    )
}

/// `logtrim args…` with extra environment variables.
fn logtrim_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_logtrim"));
    c.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run logtrim")
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "exit {:?}\nstdout: {}\nstderr: {}", o.status, stdout(&o), stderr(&o));
    o
}

/// The `id=` of a record's `log`.
fn id_of(record: &serde_json::Value) -> u32 {
    let log = record["log"].as_str().unwrap_or_default();
    logtrim_testkit::hec::line_id(log).and_then(|i| i.parse().ok()).unwrap_or_else(|| panic!("no id in {record}"))
}

/// Every archive line under `dir` (its objects), in key order.
fn archived(dir: &Path) -> Vec<serde_json::Value> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(".ndjson.gz") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(&f).unwrap()).read_to_string(&mut text).unwrap();
        out.extend(text.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()));
    }
    out
}

/// `run --hec --archive DIR` over the records: (ids sent, archive lines).
fn run_and_archive(dir: &Scratch, recs: &[Rec], archive: &str, env: &[(&str, &str)]) -> (Vec<u32>, Output) {
    let input: String = recs.iter().map(|r| line(r) + "\n").collect();
    let inp = dir.file("in.jsonl", input.as_bytes());
    let rules = dir.file("rules.yaml", RULES.as_bytes());
    let kept = dir.0.join("kept.jsonl");
    let o = ok(logtrim_env(&["run", s(&rules), s(&inp), "--hec", "-o", s(&kept), "--archive", archive, "--s3-path-style"], env));
    let mut sent = Vec::new();
    for l in std::fs::read_to_string(&kept).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        if v["event"].get("logtrim_summary").is_none() {
            sent.push(id_of(&v["event"]));
        }
    }
    (sent, o)
}

#[test]
fn run_archives_every_record_it_does_not_send() {
    let dir = Scratch::new("archive-run");
    let recs = records(1000);
    let archive = dir.0.join("archive");
    let (sent, o) = run_and_archive(&dir, &recs, s(&archive), &[]);
    let lines = archived(&archive);
    let archived_ids: Vec<u32> = lines.iter().map(|l| id_of(&l["record"])).collect();
    // Sent plus archived is the input, each once.
    let mut all: Vec<u32> = sent.iter().chain(&archived_ids).copied().collect();
    all.sort();
    assert_eq!(all, (0..1000).collect::<Vec<_>>(), "every record is sent or archived, none both, none twice");
    // Each archived line says why, and the rules agree.
    for l in &lines {
        let r = &recs[id_of(&l["record"]) as usize];
        let (rule, reason) = if r.probe && r.status < 500 { ("drop-probes", "dropped") } else { ("sample-2xx", "sampled") };
        assert_eq!((l["rule"].as_str().unwrap(), l["reason"].as_str().unwrap()), (rule, reason), "{l}");
        assert_eq!(l["time"], r.time_ms);
        assert_eq!(l["origin"].as_str().unwrap(), dir.0.join("in.jsonl").to_str().unwrap());
        assert_eq!(l["position"], r.id);
        assert_eq!(l["id"].as_str().unwrap().len(), 32);
    }
    assert!(lines.iter().any(|l| l["reason"] == "dropped") && lines.iter().any(|l| l["reason"] == "sampled"));
    // Partitioned by hour and namespace; the indexes add up to the lines.
    let mut index_records = 0;
    let mut partitions = BTreeSet::new();
    for e in walk(&archive) {
        if let Some(rel) = e.strip_suffix(".index.json") {
            let idx: serde_json::Value = serde_json::from_slice(&std::fs::read(archive.join(&e)).unwrap()).unwrap();
            index_records += idx["records"].as_u64().unwrap();
            partitions.insert(rel.rsplit_once('/').unwrap().0.to_string());
        }
    }
    assert_eq!(index_records, lines.len() as u64);
    let want: BTreeSet<String> =
        ["10", "11", "12"].iter().flat_map(|h| NAMESPACES.iter().map(move |ns| format!("dt=2026-11-22/hour={h}/source={ns}"))).collect();
    assert_eq!(partitions, want);
    let err = stderr(&o);
    assert!(err.contains(&format!("archived {} records", lines.len())), "{err}");
    // Summaries say where the records they count are.
    let kept = std::fs::read_to_string(dir.0.join("kept.jsonl")).unwrap();
    assert!(kept.contains(&format!(r#""archive":"file://{}/dt=2026-11-22/hour=10/""#, archive.canonicalize().unwrap().display())), "no archive member");
    // The same input again: the same ids (a replay sends each once).
    let again = Scratch::new("archive-run-again");
    let (_, _) = run_and_archive(&again, &recs, s(&again.0.join("archive")), &[]);
    let ids = |ls: &[serde_json::Value]| ls.iter().map(|l| (id_of(&l["record"]), l["id"].as_str().unwrap().to_string())).collect::<BTreeMap<_, _>>();
    let relocated: BTreeMap<u32, String> = ids(&archived(&again.0.join("archive")));
    // The origin (the input file's path) is part of the id: same path, same ids; here the path differs.
    assert_eq!(relocated.len(), lines.len());
    assert!(relocated.iter().all(|(k, v)| ids(&lines)[k] != *v));
}

/// Every file below `dir`, relative, `/`-separated.
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    for rel in walk(from) {
        let dst = to.join(&rel);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(from.join(&rel), dst).unwrap();
    }
}

/// A condition of the rule language and the same test in Rust.
#[derive(Clone, Debug)]
enum Cond {
    StatusAtLeast(u32),
    Namespace(usize),
    Request(u32),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
}

impl Cond {
    fn text(&self) -> String {
        match self {
            Cond::StatusAtLeast(s) => format!("log.status >= {s}"),
            Cond::Namespace(i) => format!("kubernetes.namespace_name == \"{}\"", NAMESPACES[*i]),
            Cond::Request(i) => format!("req == \"r-{i}\""),
            Cond::And(a, b) => format!("({}) and ({})", a.text(), b.text()),
            Cond::Or(a, b) => format!("({}) or ({})", a.text(), b.text()),
        }
    }

    fn holds(&self, r: &Rec) -> bool {
        match self {
            Cond::StatusAtLeast(s) => r.status >= *s,
            Cond::Namespace(i) => r.ns == NAMESPACES[*i],
            Cond::Request(i) => r.id == *i,
            Cond::And(a, b) => a.holds(r) && b.holds(r),
            Cond::Or(a, b) => a.holds(r) || b.holds(r),
        }
    }
}

fn cond() -> impl Strategy<Value = Cond> {
    let leaf = prop_oneof![
        prop::sample::select(vec![200u32, 204, 300, 404]).prop_map(Cond::StatusAtLeast),
        (0usize..3).prop_map(Cond::Namespace),
        (0u32..400).prop_map(Cond::Request),
    ];
    leaf.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Cond::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Cond::Or(Box::new(a), Box::new(b))),
        ]
    })
}

fn time_arg(ms: i64) -> String {
    logtrim_core::budget::Timestamp::from_millisecond(ms).unwrap().to_string()
}

fn events(o: &Output) -> u64 {
    json(o)["events"].as_u64().unwrap()
}

/// Runs the proptest cases against one archive and one receiver.
struct Fixture {
    dir: Scratch,
    recs: Vec<Rec>,
    /// Ids archived (not sent by `run`).
    archived: BTreeSet<u32>,
    hec: Receiver,
}

impl Fixture {
    /// `tag` names its scratch directory: tests run at once must not share one.
    fn new(tag: &str) -> Fixture {
        let dir = Scratch::new(tag);
        let recs = records(400);
        let (sent, _) = run_and_archive(&dir, &recs, s(&dir.0.join("archive")), &[]);
        let sent: BTreeSet<u32> = sent.into_iter().collect();
        let archived = recs.iter().map(|r| r.id).filter(|i| !sent.contains(i)).collect();
        let hec = Receiver::start(TOKEN);
        hec.state.keep_events.store(true, std::sync::atomic::Ordering::Relaxed);
        Fixture { dir, recs, archived, hec }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![("LOGTRIM_HEC_ENDPOINTS", self.hec.url()), ("LOGTRIM_HEC_TOKEN", TOKEN.into()), ("LOGTRIM_HEC_BATCH_BYTES", "16KiB".into())]
    }

    fn replay(&self, archive: &Path, args: &[&str], extra: &[&str]) -> Output {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let rules = self.dir.0.join("rules.yaml");
        let mut all = vec!["replay", s(archive), "--rules", s(&rules), "--format", "json"];
        all.extend_from_slice(args);
        all.extend_from_slice(extra);
        logtrim_env(&all, &env)
    }

    fn received(&self) -> BTreeMap<u32, u32> {
        let r = self.hec.state.received.lock().unwrap();
        r.ids.iter().map(|(k, v)| (k.parse().unwrap(), *v)).collect()
    }

    fn clear(&self) {
        let mut r = self.hec.state.received.lock().unwrap();
        r.ids.clear();
        r.raw.clear();
        r.events = 0;
    }
}

#[test]
fn replay_sends_exactly_the_selection_once() {
    let fx = Fixture::new("archive-replay-prop");
    // A fixed seed: the same twelve selections every run (a failure names its case; the count check below
    // cannot flake).
    let rng = proptest::test_runner::TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha);
    let mut runner = proptest::test_runner::TestRunner::new_with_rng(proptest::test_runner::Config { cases: 12, ..Default::default() }, rng);
    // A property that only ever selects nothing proves nothing: count the cases that selected some.
    let selected = std::cell::Cell::new(0u32);
    let case = 0u32..1;
    let strategy = (0i64..60, 1i64..70, cond(), prop::option::of(prop::sample::select(vec!["drop-probes", "sample-2xx"])), case);
    runner
        .run(&strategy, |(from_min, len_min, cond, rule, _)| {
            let from = BASE_MS + from_min * 60_000;
            let to = from + len_min * 60_000;
            let want: BTreeSet<u32> = fx
                .recs
                .iter()
                .filter(|r| fx.archived.contains(&r.id) && r.time_ms >= from && r.time_ms < to && cond.holds(r))
                .filter(|r| match rule {
                    Some("drop-probes") => r.probe && r.status < 500,
                    Some(_) => !(r.probe && r.status < 500),
                    None => true,
                })
                .map(|r| r.id)
                .collect();
            selected.set(selected.get() + u32::from(!want.is_empty()));
            let archive = Scratch::new("archive-replay-case");
            copy_dir(&fx.dir.0.join("archive"), &archive.0);
            let (f, t, c) = (time_arg(from), time_arg(to), cond.text());
            let mut args = vec!["--from", f.as_str(), "--to", t.as_str(), "--where", c.as_str()];
            if let Some(r) = rule {
                args.extend(["--rule", r]);
            }
            fx.clear();
            let dry = ok(fx.replay(&archive.0, &args, &["--dry-run"]));
            prop_assert_eq!(fx.received().len(), 0, "a dry run sends nothing");
            let real = ok(fx.replay(&archive.0, &args, &[]));
            let got = fx.received();
            prop_assert_eq!(got.keys().copied().collect::<BTreeSet<_>>(), want.clone(), "{}", c);
            prop_assert!(got.values().all(|n| *n == 1), "each once: {:?}", got);
            prop_assert_eq!(events(&dry), want.len() as u64);
            prop_assert_eq!(events(&real), want.len() as u64);
            prop_assert_eq!(json(&dry)["metered_bytes"].clone(), json(&real)["metered_bytes"].clone());
            // Every event is marked as replayed and carries its stable id.
            for v in fx.hec.state.received.lock().unwrap().raw.iter() {
                prop_assert_eq!(v["fields"]["logtrim_replayed"].as_str(), Some("true"));
                prop_assert_eq!(v["fields"]["logtrim_id"].as_str().map(str::len), Some(32));
                prop_assert!(v["source"].as_str().unwrap().contains("/p-"), "{}", v);
            }
            // The same replay again sends nothing; --force sends it all again.
            let again = ok(fx.replay(&archive.0, &args, &[]));
            prop_assert_eq!(events(&again), 0);
            prop_assert_eq!(json(&again)["already_sent"].as_u64(), Some(want.len() as u64));
            prop_assert_eq!(fx.received().values().sum::<u32>(), want.len() as u32);
            let forced = ok(fx.replay(&archive.0, &args, &["--force", "--dry-run"]));
            prop_assert_eq!(events(&forced), want.len() as u64);
            Ok(())
        })
        .unwrap();
    assert!(selected.get() >= 4, "only {} cases selected any record", selected.get());
}

#[test]
fn the_index_spares_reading_objects_that_cannot_match() {
    let fx = Fixture::new("archive-replay-index");
    let o = ok(fx.replay(&fx.dir.0.join("archive"), &["--where", "req == \"r-21\""], &["--dry-run"]));
    let v = json(&o);
    // r-21 is in one object of the six (two hours, three namespaces): each holds at most 32 request ids,
    // listed in its index.
    assert_eq!(v["objects"], 6);
    assert_eq!(v["objects_read"], 1, "{v}");
    assert_eq!(v["events"].as_u64().unwrap(), u64::from(fx.archived.contains(&21)));
    // A time range reads only its hours.
    let o = ok(fx.replay(&fx.dir.0.join("archive"), &["--from", "2026-11-22T11:00:00Z", "--to", "2026-11-22T11:30:00Z"], &["--dry-run"]));
    assert_eq!(json(&o)["objects"], 3, "{}", stdout(&o));
}

#[test]
fn a_rejected_replay_records_nothing_and_a_later_one_sends_it_all() {
    let fx = Fixture::new("archive-replay-rejected");
    let archive = Scratch::new("archive-rejected");
    copy_dir(&fx.dir.0.join("archive"), &archive.0);
    fx.hec.set_mode(Mode::InvalidToken);
    let o = fx.replay(&archive.0, &[], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("rejected a batch: HTTP 403"), "{}", stderr(&o));
    fx.hec.set_mode(Mode::Ok);
    let o = ok(fx.replay(&archive.0, &[], &[]));
    assert_eq!(events(&o), fx.archived.len() as u64);
    assert_eq!(fx.received().keys().copied().collect::<BTreeSet<_>>(), fx.archived);
    // With indexer acknowledgement, once acknowledged.
    fx.clear();
    fx.hec.state.ack.store(true, std::sync::atomic::Ordering::Relaxed);
    let env = [("LOGTRIM_HEC_ACK", "true"), ("LOGTRIM_HEC_ACK_POLL_INTERVAL", "100ms")];
    let base = fx.env();
    let mut all: Vec<(&str, &str)> = base.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend(env);
    let rules = fx.dir.0.join("rules.yaml");
    let o = ok(logtrim_env(&["replay", s(&archive.0), "--rules", s(&rules), "--force", "--format", "json"], &all));
    assert_eq!(events(&o), fx.archived.len() as u64);
    assert!(fx.hec.state.ack_polls.load(std::sync::atomic::Ordering::Relaxed) > 0);
    assert_eq!(fx.received().len(), fx.archived.len());
}

#[test]
fn out_writes_the_events_and_records_nothing() {
    let fx = Fixture::new("archive-replay-out");
    let archive = Scratch::new("archive-out");
    copy_dir(&fx.dir.0.join("archive"), &archive.0);
    let out = archive.0.join("events.ndjson");
    let o = ok(fx.replay(&archive.0, &["--rule", "drop-probes", "--out", s(&out)], &[]));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len() as u64, events(&o));
    assert!(lines.iter().all(|e| e["fields"]["logtrim_replayed"] == "true" && e["event"]["log"].as_str().unwrap().contains("kube-probe")));
    assert!(!archive.0.join("_replay").exists(), "a file is not Splunk: nothing is recorded as sent");
    // Mistakes in the condition are positioned in it.
    let o = fx.replay(&archive.0, &["--where", "log.status >= 500 and"], &["--dry-run"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("--where:1:"), "{}", stderr(&o));
    // An archive that is not there is an error, not an empty replay.
    let o = fx.replay(&archive.0.join("nope"), &[], &["--dry-run"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no archive at"), "{}", stderr(&o));
}

/// An object larger than one compressed chunk is several gzip members; replay reads all of them.
#[test]
fn replay_reads_every_gzip_member_of_an_object() {
    let dir = Scratch::new("archive-members");
    // 3000 probes of one namespace within one hour: one object of several 256 KiB chunks.
    let recs: Vec<Rec> = (0..3000).map(|id| Rec { id, time_ms: BASE_MS + i64::from(id), status: 200, ns: "shop", probe: true }).collect();
    let archive = dir.0.join("archive");
    let (sent, _) = run_and_archive(&dir, &recs, s(&archive), &[]);
    assert!(sent.is_empty());
    let objects: Vec<String> = walk(&archive).into_iter().filter(|k| k.ends_with(".ndjson.gz")).collect();
    assert_eq!(objects.len(), 1, "{objects:?}");
    let body = std::fs::read(archive.join(&objects[0])).unwrap();
    let mut first = String::new();
    flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut first).unwrap();
    assert!(first.lines().count() < 3000 / 2, "the first member holds {} lines: the object is not several members", first.lines().count());
    let out = dir.0.join("replayed.ndjson");
    let o = ok(logtrim_env(&["replay", s(&archive), "--rules", s(&dir.0.join("rules.yaml")), "--out", s(&out), "--format", "json"], &[]));
    let ids: BTreeSet<u32> = std::fs::read_to_string(&out).unwrap().lines().map(|l| id_of(&serde_json::from_str::<serde_json::Value>(l).unwrap()["event"])).collect();
    assert_eq!(ids, (0..3000).collect::<BTreeSet<u32>>(), "{}", stderr(&o));
}

#[test]
fn s3_archive_and_replay_through_moto() {
    use logtrim_aws::aws_sdk_s3;
    let moto = logtrim_testkit::moto::Moto::start();
    let endpoint = moto.endpoint();
    let env = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version_latest()
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "test"))
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(conf);
    rt.block_on(s3.create_bucket().bucket("logs").send()).unwrap();

    let dir = Scratch::new("archive-s3");
    let recs = records(300);
    // A bucket that does not exist: a clear error, exit 2, nothing pretends to be archived.
    let input: String = recs.iter().map(|r| line(r) + "\n").collect();
    let inp = dir.file("in.jsonl", input.as_bytes());
    let rules = dir.file("rules.yaml", RULES.as_bytes());
    let o = logtrim_env(&["run", s(&rules), s(&inp), "-o", "/dev/null", "--archive", "s3://nope/k8s", "--s3-path-style"], &env);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("s3://nope/k8s/dt=2026-11-22/hour=10/") && stderr(&o).contains("PutObject failed"), "{}", stderr(&o));

    let (sent, o) = run_and_archive(&dir, &recs, "s3://logs/k8s", &env);
    assert!(stderr(&o).contains("to s3://logs/k8s:"), "{}", stderr(&o));
    let sent: BTreeSet<u32> = sent.into_iter().collect();
    let archived: BTreeSet<u32> = recs.iter().map(|r| r.id).filter(|i| !sent.contains(i)).collect();
    let keys: Vec<String> = rt
        .block_on(s3.list_objects_v2().bucket("logs").prefix("k8s/").send())
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect();
    assert!(keys.iter().any(|k| k.starts_with("k8s/dt=2026-11-22/hour=10/source=shop/") && k.ends_with(".ndjson.gz")), "{keys:?}");
    assert_eq!(keys.iter().filter(|k| k.ends_with(".index.json")).count(), keys.iter().filter(|k| k.ends_with(".ndjson.gz")).count());

    let hec = Receiver::start(TOKEN);
    let url = hec.url();
    let mut all: Vec<(&str, &str)> = env.to_vec();
    all.extend([("LOGTRIM_HEC_ENDPOINTS", url.as_str()), ("LOGTRIM_HEC_TOKEN", TOKEN)]);
    let o = ok(logtrim_env(&["replay", "s3://logs/k8s", "--s3-path-style", "--format", "json"], &all));
    assert_eq!(events(&o), archived.len() as u64);
    let got: BTreeSet<u32> = hec.ids().keys().map(|k| k.parse().unwrap()).collect();
    assert_eq!(got, archived);
    let o = ok(logtrim_env(&["replay", "s3://logs/k8s", "--s3-path-style", "--format", "json"], &all));
    assert_eq!(events(&o), 0, "recorded beside the archive in S3");
    assert_eq!(hec.events(), archived.len() as u64);
    let sent_keys = rt.block_on(s3.list_objects_v2().bucket("logs").prefix("k8s/_replay/sent/").send()).unwrap();
    assert!(!sent_keys.contents().is_empty());
}

#[test]
fn replay_reads_the_forwarders_hec_settings() {
    let fx = Fixture::new("archive-replay-config");
    let archive = Scratch::new("archive-config");
    copy_dir(&fx.dir.0.join("archive"), &archive.0);
    let text = format!(
        "rules_file: /etc/logtrim/rules.yaml\ninputs:\n  paths: [/var/log/containers/*.log]\nhec:\n  endpoints: [{}]\n  token: {TOKEN}\n  source: \"{{namespace}}:{{pod}}|{{file}}\"\n  sourcetype: fixed\n  index: \"k8s-{{namespace}}\"\n  fields: {{ns: \"{{namespace}}\"}}\n  event: log\n  batch_bytes: 4KiB\n",
        fx.hec.url()
    );
    let cfg = fx.dir.file("forwarder.yaml", text.as_bytes());
    let o = ok(logtrim_env(&["replay", s(&archive.0), "--config", s(&cfg), "--rule", "drop-probes", "--format", "json"], &[]));
    let probes: BTreeSet<u32> = fx.recs.iter().filter(|r| r.probe && r.status < 500).map(|r| r.id).collect();
    assert_eq!(events(&o), probes.len() as u64);
    assert!(json(&o)["batches"].as_u64().unwrap() > 1, "4KiB batches");
    let raw = fx.hec.state.received.lock().unwrap().raw.clone();
    assert_eq!(raw.len(), probes.len());
    for v in &raw {
        let id = logtrim_testkit::hec::line_id(v["event"].as_str().unwrap()).unwrap().parse::<usize>().unwrap();
        let r = &fx.recs[id];
        assert_eq!(v["source"], format!("{}:p-{}", r.ns, r.id % 5), "{v}");
        assert_eq!((v["sourcetype"].as_str(), v["index"].as_str()), (Some("fixed"), Some(format!("k8s-{}", r.ns).as_str())));
        assert_eq!(v["fields"]["ns"], r.ns);
        assert_eq!(v["fields"]["logtrim_replayed"], "true");
        assert!(v["event"].as_str().unwrap().contains("kube-probe"), "hec.event: log sends the message: {v}");
        // The record's own time, as HEC's `<sec>.<ms>`.
        assert_eq!((v["time"].as_f64().unwrap() * 1000.0).round() as i64, r.time_ms);
    }
    // A mistake in the hec section names the file; the forwarder's other sections are not replay's.
    let bad = fx.dir.file("bad.yaml", b"listen: nowhere\nhec:\n  batch_time: soon\n  sourcetyp: x\n");
    let o = logtrim_env(&["replay", s(&archive.0), "--config", s(&bad), "--dry-run"], &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("2 problems in the HEC settings") && e.contains("hec.batch_time: invalid duration") && e.contains("unknown setting \"hec.sourcetyp\""), "{e}");
}

/// The Lambda's archive (one object per invocation, under its delivery stream) replays as the CLI's does:
/// what the Lambda sent plus what a replay of its archive sends is the input, each record once; the same
/// replay again sends nothing, and a dry run counts what the real one sent.
#[test]
fn the_lambdas_archive_replays_each_record_once() {
    use logtrim_lambda::archive::{Archiver, OnFailure};
    use logtrim_lambda::decode::{decode_base64, encode_base64};
    use logtrim_lambda::event::{FirehoseEvent, FirehoseRecord, FirehoseResult};
    use logtrim_lambda::handler::{State, handle};
    use logtrim_lambda::reingest::{PutError, PutRecordBatch, RetryPolicy};

    struct NoReingest;
    impl PutRecordBatch for NoReingest {
        async fn put_record_batch(&self, _: &str, _: &[&[u8]]) -> Result<Vec<Option<String>>, PutError> {
            Err(PutError("nothing overflows here".into()))
        }
    }

    let dir = Scratch::new("archive-lambda-replay");
    let recs = records(300);
    let rules_file = dir.file("rules.yaml", RULES.as_bytes());
    let archive = dir.0.join("archive");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store = rt.block_on(logtrim_aws::archive::Store::open(s(&archive), Default::default())).unwrap();
    let rules = logtrim_core::RuleSet::from_yaml("rules.yaml", RULES).unwrap();
    let state = State::new(rules, Default::default(), NoReingest).with_archive(Archiver::new(store, OnFailure::Fail, RetryPolicy::default()));
    let mut sent = BTreeSet::new();
    for (n, chunk) in recs.chunks(100).enumerate() {
        let records = chunk
            .iter()
            .map(|r| FirehoseRecord { record_id: format!("{n}-{}", r.id), approximate_arrival_timestamp: Some(BASE_MS), data: encode_base64(line(r).as_bytes()) })
            .collect();
        let ev = FirehoseEvent { delivery_stream_arn: Some("arn:aws:firehose:us-east-1:1:deliverystream/k8s".into()), records, ..Default::default() };
        let resp = rt.block_on(handle(&state, ev)).unwrap();
        for r in resp.records.iter().filter(|r| r.result == FirehoseResult::Ok) {
            let data = decode_base64(&r.data).unwrap();
            for e in serde_json::Deserializer::from_slice(&data).into_iter::<serde_json::Value>() {
                let e = e.unwrap();
                if e["event"].get("logtrim_summary").is_none() {
                    assert!(sent.insert(id_of(&e["event"])), "sent twice: {e}");
                }
            }
        }
    }
    let objects = walk(&archive).into_iter().filter(|k| k.ends_with(".ndjson.gz")).collect::<Vec<_>>();
    // 300 records 10 s apart span one hour (10:00–10:50): one object per invocation.
    assert_eq!(objects.len(), 3, "{objects:?}");
    assert!(objects.iter().all(|k| k.contains("source=k8s/")), "{objects:?}");

    let hec = Receiver::start(TOKEN);
    hec.state.keep_events.store(true, std::sync::atomic::Ordering::Relaxed);
    let url = hec.url();
    let env = [("LOGTRIM_HEC_ENDPOINTS", url.as_str()), ("LOGTRIM_HEC_TOKEN", TOKEN)];
    let replay = |extra: &[&str]| {
        let mut args = vec!["replay", s(&archive), "--rules", s(&rules_file), "--format", "json"];
        args.extend_from_slice(extra);
        ok(logtrim_env(&args, &env))
    };
    let dry = replay(&["--dry-run"]);
    let real = replay(&[]);
    let replayed: BTreeMap<u32, u32> = hec.state.received.lock().unwrap().ids.iter().map(|(k, v)| (k.parse().unwrap(), *v)).collect();
    assert!(replayed.values().all(|n| *n == 1), "each once: {replayed:?}");
    let replayed: BTreeSet<u32> = replayed.into_keys().collect();
    assert!(sent.is_disjoint(&replayed), "sent by the Lambda and replayed: {:?}", sent.intersection(&replayed).collect::<Vec<_>>());
    let all: BTreeSet<u32> = sent.union(&replayed).copied().collect();
    assert_eq!(all, recs.iter().map(|r| r.id).collect::<BTreeSet<_>>(), "sent + replayed = the input");
    assert_eq!(events(&dry), replayed.len() as u64);
    assert_eq!(events(&real), replayed.len() as u64);
    assert_eq!(events(&replay(&[])), 0, "the same replay again sends nothing");
}
