//! The archive of what is not sent, against S3 as moto_server on 127.0.0.1: with unique line ids, what
//! the responses keep plus what is in the archive is the input, each id once — through re-ingestion
//! (the overflow fed back as Firehose would), with the daily budget shedding, and when the archive
//! cannot be written (the invocation fails, then Firehose's retry archives; or, configured to continue,
//! it answers and counts). Re-ingestion is captured through the `PutRecordBatch` seam and fed back as
//! the next invocation: S3 is what is under test here.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use logtrim_aws::archive::{ObjectStore, S3Store, Store};
use logtrim_core::RuleSet;
use logtrim_core::archive::{ArchivedLine, ObjectIndex};
use logtrim_lambda::archive::{Archiver, OnFailure};
use logtrim_lambda::decode::{decode_base64, encode_base64};
use logtrim_lambda::event::{FirehoseEvent, FirehoseRecord, FirehoseResponse, FirehoseResult};
use logtrim_lambda::handler::{Budget, BudgetBackend, HandlerError, State, handle};
use logtrim_lambda::reingest::{PutError, PutRecordBatch, RetryPolicy};
use logtrim_lambda::transform::Settings;

use crate::util::*;

const RULES: &str = r#"
name: archive-test
rules:
  - name: drop-debug
    when: level == "debug"
    action: drop
  - name: sample-info
    when: level == "info"
    action: sample
    rate: 50%
    key: id
  - name: warn-low
    when: level == "warn"
    action: keep
    priority: low
default:
  action: keep
"#;

const STREAM: &str = "logtrim-archive-test";
const ARN: &str = "arn:aws:firehose:us-east-1:123456789012:deliverystream/logtrim-archive-test";

/// Captures what would be re-ingested, to feed it back as the next invocation.
#[derive(Default)]
struct Capture(Mutex<Vec<Vec<u8>>>);

impl PutRecordBatch for Capture {
    async fn put_record_batch(&self, stream: &str, records: &[&[u8]]) -> Result<Vec<Option<String>>, PutError> {
        assert_eq!(stream, STREAM);
        self.0.lock().unwrap().extend(records.iter().map(|r| r.to_vec()));
        Ok(vec![None; records.len()])
    }
}

struct Moto {
    _proc: Proc,
    endpoint: String,
    client: aws_sdk_s3::Client,
}

async fn moto() -> Moto {
    let port = free_port();
    let mut cmd = Command::new(tool("moto_server"));
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    let mut proc = Proc::start(cmd, &format!("moto_server-archive-{port}.log"));
    wait_for_port(port, Duration::from_secs(60), &mut proc.child, "moto_server", &proc.log.clone());
    let endpoint = format!("http://127.0.0.1:{port}");
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "static"))
        .load()
        .await;
    let client = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
    Moto { _proc: proc, endpoint, client }
}

impl Moto {
    async fn bucket(&self, name: &str) {
        self.client.create_bucket().bucket(name).send().await.unwrap_or_else(|e| panic!("create bucket {name} at {}: {e:?}", self.endpoint));
    }

    fn store(&self, bucket: &str) -> Store {
        Store::S3(S3Store::new(self.client.clone(), bucket, "archive"))
    }

    fn archiver(&self, bucket: &str, on_failure: OnFailure) -> Archiver {
        let retry = RetryPolicy { max_attempts: 2, base_backoff: Duration::from_millis(10), max_backoff: Duration::from_millis(20) };
        Archiver::new(self.store(bucket), on_failure, retry)
    }

    /// Every archived line (id → reason), each object's index, and the object keys.
    async fn read(&self, bucket: &str) -> (Vec<(String, String)>, Vec<ObjectIndex>, Vec<String>) {
        let store = self.store(bucket);
        let keys = store.list("dt=").await.unwrap();
        let (mut lines, mut indexes, mut objects) = (Vec::new(), Vec::new(), Vec::new());
        for k in &keys {
            let body = store.get(k).await.unwrap();
            if k.ends_with(".index.json") {
                indexes.push(serde_json::from_slice(&body).unwrap());
                continue;
            }
            assert!(k.ends_with(".ndjson.gz"), "{k}");
            objects.push(k.clone());
            let mut text = String::new();
            flate2::read::MultiGzDecoder::new(&body[..]).read_to_string(&mut text).unwrap();
            for l in text.lines() {
                let a = ArchivedLine::parse(l.as_bytes()).unwrap_or_else(|e| panic!("{e}: {l}"));
                let record: serde_json::Value = serde_json::from_slice(&a.record_bytes()).unwrap();
                lines.push((record["id"].as_str().unwrap().to_string(), a.reason.to_string()));
            }
        }
        (lines, indexes, objects)
    }
}

/// `records` Firehose records of `lines` NDJSON lines each, every line with a unique `id`; the first
/// records' times are before 11:00, the rest after, so an invocation straddles an hour.
fn input(records: usize, lines: usize) -> (Vec<FirehoseRecord>, BTreeSet<String>) {
    let levels = ["debug", "info", "warn", "error", "info"];
    let mut ids = BTreeSet::new();
    let recs = (0..records)
        .map(|r| {
            let mut data = String::new();
            for l in 0..lines {
                let id = format!("r{r}-l{l}");
                let time = if r < records / 2 { format!("2026-12-06T10:59:{:02}Z", l % 60) } else { format!("2026-12-06T11:00:{:02}Z", l % 60) };
                data.push_str(&format!(
                    r#"{{"id":"{id}","time":"{time}","level":"{}","kubernetes":{{"namespace_name":"ns{}"}},"msg":"{}"}}"#,
                    levels[(r * 7 + l) % levels.len()],
                    l % 3,
                    "x".repeat(40 + l % 17)
                ));
                data.push('\n');
                ids.insert(id);
            }
            FirehoseRecord { record_id: format!("4954698668313554428650745793632167567570019247115678{r:04}"), approximate_arrival_timestamp: Some(1_796_554_800_000), data: encode_base64(data.as_bytes()) }
        })
        .collect();
    (recs, ids)
}

fn event(records: Vec<FirehoseRecord>) -> FirehoseEvent {
    FirehoseEvent { invocation_id: Some("inv".into()), delivery_stream_arn: Some(ARN.into()), source_kinesis_stream_arn: None, region: Some("us-east-1".into()), records }
}

/// The ids of the events the response sends.
fn sent_ids(resp: &FirehoseResponse) -> Vec<String> {
    resp.records
        .iter()
        .filter(|r| r.result == FirehoseResult::Ok)
        .flat_map(|r| parse_hec(&decode_base64(&r.data).unwrap()))
        .map(|e| e["event"]["id"].as_str().unwrap_or_else(|| panic!("not an input event: {e}")).to_string())
        .collect()
}

fn state(rules: &RuleSet, settings: &Settings, archiver: Option<Archiver>) -> State<Capture> {
    let mut s = State::new(rules.clone(), settings.clone(), Capture::default());
    if let Some(a) = archiver {
        s = s.with_archive(a);
    }
    s
}

/// Runs `records` as Firehose would: invocations until nothing more is re-ingested. Returns the ids
/// sent and the invocations made.
async fn deliver(s: &State<Capture>, records: Vec<FirehoseRecord>) -> (Vec<String>, usize) {
    let mut pending = records;
    let mut sent = Vec::new();
    let mut round = 0;
    while !pending.is_empty() {
        round += 1;
        assert!(round < 60, "re-ingestion does not converge");
        let resp = handle(s, event(pending)).await.unwrap_or_else(|e| panic!("invocation {round}: {e}"));
        sent.extend(sent_ids(&resp));
        pending = std::mem::take(&mut *s.client.0.lock().unwrap())
            .into_iter()
            .enumerate()
            .map(|(i, data)| FirehoseRecord { record_id: format!("re{round}-{i}"), approximate_arrival_timestamp: Some(1_796_554_900_000), data: encode_base64(&data) })
            .collect();
    }
    (sent, round)
}

/// Each id once, across what was sent and what was archived, and nothing else.
fn assert_once(sent: &[String], archived: &[(String, String)], input: &BTreeSet<String>) {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for id in sent.iter().chain(archived.iter().map(|(id, _)| id)) {
        *seen.entry(id.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).map(|(id, _)| *id).collect();
    assert!(twice.is_empty(), "sent or archived more than once: {twice:?}");
    let got: BTreeSet<String> = seen.keys().map(|s| s.to_string()).collect();
    let missing: Vec<_> = input.difference(&got).collect();
    assert!(missing.is_empty(), "neither sent nor archived: {missing:?}");
    assert_eq!(got, *input);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sent_plus_archived_is_the_input_through_reingestion_and_the_budget() {
    let m = moto().await;
    m.bucket("logtrim-archive").await;
    let mut yaml = RULES.to_string();
    yaml.push_str("budget:\n  limit: 6KB\n  time_zone: UTC\n  chunk: 1KB\n  pacing: false\n");
    let rules = RuleSet::from_yaml("archive-test.yaml", &yaml).unwrap();
    // A small response: records overflow, are re-ingested, and come back.
    let settings = Settings { response_limit: 6_000, chunk_limit: 2_000, ..Settings::default() };
    let mut s = state(&rules, &settings, Some(m.archiver("logtrim-archive", OnFailure::Fail)));
    s.budget = Budget::new(&rules, BudgetBackend::Local(Default::default()));
    let (mut records, input) = input(16, 24);
    // A record that fails (not base64) is answered with its data, which takes the room of records held
    // for the response before it: those are re-ingested after all, and archived only when they return.
    records.push(FirehoseRecord { record_id: "bad".into(), approximate_arrival_timestamp: None, data: "!".repeat(2_500) });

    // The first invocation alone: one object per hour its archived events fall in.
    let first = handle(&s, event(records.clone())).await.unwrap();
    let reingested = s.client.0.lock().unwrap().len();
    assert!(reingested > 0, "the test needs re-ingestion");
    let (_, indexes, objects) = m.read("logtrim-archive").await;
    assert_eq!(objects.len(), 2, "one invocation straddling 11:00: one object per hour: {objects:?}");
    assert_eq!(indexes.len(), 2);
    for (o, i) in objects.iter().zip(&indexes) {
        assert!(o.contains(&format!("/source={STREAM}/")), "{o}");
        // The namespaces are in the index (the stream is the partition).
        assert!(i.fields.contains_key("kubernetes.namespace_name"), "{i:?}");
    }
    // Firehose delivers the re-ingested records back.
    let again: Vec<FirehoseRecord> = std::mem::take(&mut *s.client.0.lock().unwrap())
        .into_iter()
        .enumerate()
        .map(|(i, data)| FirehoseRecord { record_id: format!("back-{i}"), approximate_arrival_timestamp: None, data: encode_base64(&data) })
        .collect();
    let (mut sent, rounds) = deliver(&s, again).await;
    sent.extend(sent_ids(&first));
    let (archived, _, objects) = m.read("logtrim-archive").await;
    assert!(objects.len() <= 2 * (rounds + 1), "{} objects for {} invocations", objects.len(), rounds + 1);
    assert_once(&sent, &archived, &input);
    let reasons: BTreeSet<&str> = archived.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(reasons, ["dropped", "sampled", "shed"].into(), "every reason a record is not sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_archive_write_fails_the_invocation_or_is_counted() {
    let m = moto().await;
    let rules = RuleSet::from_yaml("archive-test.yaml", RULES).unwrap();
    let settings = Settings::default();
    let (records, input) = input(6, 20);
    let plain = handle(&state(&rules, &settings, None), event(records.clone())).await.unwrap();

    // The bucket is not there: every attempt fails, the invocation fails, Firehose will retry it.
    let failing = state(&rules, &settings, Some(m.archiver("logtrim-later", OnFailure::Fail)));
    match handle(&failing, event(records.clone())).await {
        Err(HandlerError::Archive(e)) => {
            assert_eq!(e.attempts, 2);
            assert!(e.events > 0 && e.written.events == 0, "{e:?}");
            assert!(e.to_string().contains("NoSuchBucket"), "{e}");
        }
        other => panic!("expected a failed archive write, got {other:?}"),
    }
    // Configured to continue: the same answer as without an archive, the events counted as not archived.
    let going_on = state(&rules, &settings, Some(m.archiver("logtrim-later", OnFailure::Continue)));
    let resp = handle(&going_on, event(records.clone())).await.expect("answers all the same");
    assert_eq!(resp, plain);

    // The bucket is back; Firehose's retry of the batch archives it, and the response is the same.
    m.bucket("logtrim-later").await;
    let resp = handle(&failing, event(records.clone())).await.expect("the retry succeeds");
    assert_eq!(resp, plain);
    let (archived, _, objects) = m.read("logtrim-later").await;
    assert_eq!(objects.len(), 2, "one per hour of the events: {objects:?}");
    assert_once(&sent_ids(&resp), &archived, &input);

    // A retry of a batch that was archived (a later step failed) archives the same ids again, under a
    // new object name: a replay sends each once.
    handle(&failing, event(records)).await.unwrap();
    let (twice, _, objects) = m.read("logtrim-later").await;
    assert_eq!(objects.len(), 4, "{objects:?}");
    let ids = |lines: &[(String, String)]| lines.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>();
    let mut doubled = ids(&archived);
    doubled.extend(ids(&archived));
    doubled.sort();
    let mut got = ids(&twice);
    got.sort();
    assert_eq!(got, doubled);
}

#[test]
fn archived_line_ids_are_the_same_for_the_same_record_and_place() {
    // The stable id of an archived line is the core's; here, that the Lambda's origin (record id and
    // line number) makes equal lines at two places two records. Checked without S3: a local directory.
    let dir = std::env::temp_dir().join(format!("logtrim-lambda-archive-ids-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let rules = RuleSet::from_yaml("archive-test.yaml", RULES).unwrap();
    let line = r#"{"id":"same","time":"2026-12-06T10:00:00Z","level":"debug"}"#;
    let data = format!("{line}\n{line}\n");
    let rec = |id: &str| FirehoseRecord { record_id: id.into(), approximate_arrival_timestamp: None, data: encode_base64(data.as_bytes()) };
    let store = rt.block_on(Store::open(dir.to_str().unwrap(), Default::default())).unwrap();
    let s = state(&rules, &Settings::default(), Some(Archiver::new(store, OnFailure::Fail, RetryPolicy::default())));
    for _ in 0..2 {
        rt.block_on(handle(&s, event(vec![rec("a"), rec("b")]))).unwrap();
    }
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    for entry in walk(&dir).into_iter().filter(|p| p.to_string_lossy().ends_with(".ndjson.gz")) {
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(&entry).unwrap()).read_to_string(&mut text).unwrap();
        for l in text.lines() {
            *ids.entry(ArchivedLine::parse(l.as_bytes()).unwrap().id.into_owned()).or_default() += 1;
        }
    }
    // Two records of two lines: four ids, each archived by both invocations.
    assert_eq!(ids.len(), 4, "{ids:?}");
    assert!(ids.values().all(|n| *n == 2), "{ids:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn cloudwatch_events_are_archived_with_their_event_id_as_origin() {
    use logtrim_lambda::decode::{Compression, compress};
    let dir = std::env::temp_dir().join(format!("logtrim-lambda-archive-cw-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let rules = RuleSet::from_yaml("archive-test.yaml", RULES).unwrap();
    let levels = ["debug", "error", "info", "warn"];
    let mut input = BTreeSet::new();
    let records: Vec<FirehoseRecord> = (0..4)
        .map(|r| {
            let events: Vec<serde_json::Value> = (0..25)
                .map(|e| {
                    let id = format!("c{r}-{e}");
                    input.insert(id.clone());
                    let message = serde_json::json!({"id": id, "level": levels[(r + e) % 4], "time": "2026-12-06T10:30:00Z"}).to_string();
                    serde_json::json!({"id": format!("3{r:03}{e:052}"), "timestamp": 1_796_553_000_000i64, "message": message})
                })
                .collect();
            let payload = serde_json::json!({"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": format!("/aws/app/{r}"),
                "logStream": "s", "subscriptionFilters": ["f"], "logEvents": events});
            FirehoseRecord { record_id: format!("cw{r}"), approximate_arrival_timestamp: None, data: encode_base64(&compress(Compression::Gzip, payload.to_string().as_bytes())) }
        })
        .collect();
    let store = rt.block_on(Store::open(dir.to_str().unwrap(), Default::default())).unwrap();
    let s = state(&rules, &Settings::default(), Some(Archiver::new(store, OnFailure::Fail, RetryPolicy::default())));
    let resp = rt.block_on(handle(&s, event(records))).unwrap();
    let sent: Vec<String> = resp
        .records
        .iter()
        .filter(|r| r.result == FirehoseResult::Ok)
        .flat_map(|r| parse_hec(&decode_base64(&r.data).unwrap()))
        .map(|e| match &e["event"] {
            serde_json::Value::String(m) => serde_json::from_str::<serde_json::Value>(m).unwrap()["id"].as_str().unwrap().to_string(),
            v => v["id"].as_str().unwrap_or_else(|| panic!("{e}")).to_string(),
        })
        .collect();
    let mut archived = Vec::new();
    let objects: Vec<_> = walk(&dir).into_iter().filter(|p| p.to_string_lossy().ends_with(".ndjson.gz")).collect();
    // Four log groups, one invocation, one hour: one object (the log groups are in its index).
    assert_eq!(objects.len(), 1, "{objects:?}");
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(&objects[0]).unwrap()).read_to_string(&mut text).unwrap();
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v["origin"].as_str().unwrap().starts_with('3'), "the CloudWatch event id is the origin: {l}");
        assert!(v["message"].is_string(), "{l}");
        assert_eq!(v["record"]["cloudwatch"]["logStream"], "s", "{l}");
        archived.push((v["record"]["id"].as_str().unwrap().to_string(), v["reason"].as_str().unwrap().to_string()));
    }
    let index: ObjectIndex = serde_json::from_slice(&std::fs::read(objects[0].to_string_lossy().replace(".ndjson.gz", ".index.json")).unwrap()).unwrap();
    assert!(index.fields.contains_key("cloudwatch.logGroup"), "{index:?}");
    assert_once(&sent, &archived, &input);
    let _ = std::fs::remove_dir_all(&dir);
}
