//! The transform and handler on committed fixtures.

use std::future::Future;
use std::sync::Mutex;

use logtrim_lambda::decode::{self, Compression, encode_base64};
use logtrim_lambda::event::{FirehoseEvent, FirehoseRecord, FirehoseResponse, FirehoseResult};
use logtrim_lambda::handler::{HandlerError, State, handle};
use logtrim_lambda::reingest::{PutError, PutRecordBatch, RetryPolicy};
use logtrim_lambda::transform::{Output, Settings, pipeline, transform};
use serde_json::Value;

use crate::util::*;

const FIXTURES: [&str; 4] = ["firehose-fluentbit.json", "firehose-cloudwatch.json", "firehose-quirks.json", "firehose-corrupt.json"];

/// Every guarantee that does not depend on what the rules decide.
fn check_response(ev: &FirehoseEvent, resp: &FirehoseResponse, name: &str) {
    let ids: Vec<_> = ev.records.iter().map(|r| r.record_id.as_str()).collect();
    let out: Vec<_> = resp.records.iter().map(|r| r.record_id.as_str()).collect();
    assert_eq!(ids, out, "{name}: every recordId exactly once, in order");
    let mut oracle = bundled_rules().decider();
    for (inp, r) in ev.records.iter().zip(&resp.records) {
        let ctx = format!("{name} record {}", inp.record_id);
        match (units(&inp.data), r.result) {
            (None, FirehoseResult::ProcessingFailed) => assert_eq!(r.data, inp.data, "{ctx}: original data kept"),
            (None, res) => panic!("{ctx}: undecodable but {res:?}"),
            (Some(u), FirehoseResult::ProcessingFailed) => panic!("{ctx}: decodable ({} units) but failed", u.len()),
            (Some(u), res) => {
                let kept = kept(&u, &mut oracle);
                if kept.is_empty() && res == FirehoseResult::Dropped {
                    assert_eq!(r.data, "", "{ctx}");
                } else {
                    assert_eq!(res, FirehoseResult::Ok, "{ctx}");
                    // Summaries of the invocation's dropped events may follow the kept ones.
                    let hec = parse_hec(&decode::decode_base64(&r.data).unwrap());
                    let events: Vec<&Value> = hec.iter().filter(|e| !is_summary(e)).map(|e| &e["event"]).collect();
                    let want: Vec<&Value> = kept.iter().map(|u| &u.event).collect();
                    assert_eq!(events, want, "{ctx}: the kept events, in order");
                }
            }
        }
    }
    assert!(serde_json::to_vec(resp).unwrap().len() <= 6_000_000);
}

#[test]
fn fixtures_answer_every_record_and_follow_the_rules() {
    let rules = bundled_rules();
    for name in FIXTURES {
        let ev = fixture(name);
        let o = transform(&ev.records, &mut pipeline(&rules, &Settings::default()), &Settings::default());
        check_response(&ev, &o.response(), name);
        assert!(o.reingest.is_empty());
        assert_eq!(serde_json::to_vec(&o.response()).unwrap().len() as u64, o.stats.response_bytes);
    }
}

fn results(name: &str) -> Vec<FirehoseResult> {
    let ev = fixture(name);
    let o = transform(&ev.records, &mut pipeline(&bundled_rules(), &Settings::default()), &Settings::default());
    o.response().records.iter().map(|r| r.result).collect()
}

use FirehoseResult::{Dropped, Ok as Kept, ProcessingFailed as Failed};

#[test]
fn corrupt_records_fail_alone() {
    // 1 text 502; 2 bad base64 padding; 3 corrupt gzip; 4 truncated gzip; 5 a bad JSON line after a
    // good one; 6 corrupt zlib; 7 unknown CloudWatch messageType; 8 not base64; 9 a text probe.
    assert_eq!(results("firehose-corrupt.json"), [Kept, Failed, Failed, Failed, Failed, Failed, Failed, Failed, Dropped]);
}

#[test]
fn quirky_envelopes_are_accepted() {
    let ev = fixture("firehose-quirks.json");
    assert_eq!(ev.records.len(), 4);
    assert_eq!(ev.records[1].approximate_arrival_timestamp, Some(1_335_205_543_511));
    assert_eq!(ev.records[2].approximate_arrival_timestamp, Some(1_495_072_949_453));
    assert_eq!(ev.records[3].approximate_arrival_timestamp, None);
    assert!(ev.delivery_stream_arn.is_none());
    // "Hello World", a text 502, a text probe under a duplicated recordId, a JSON 503.
    assert_eq!(results("firehose-quirks.json"), [Kept, Kept, Dropped, Kept]);
    // The ISO arrival time is the fallback event time of a text record.
    let o = transform(&ev.records, &mut pipeline(&bundled_rules(), &Settings::default()), &Settings::default());
    let hec = parse_hec(&decode::decode_base64(&o.response().records[1].data).unwrap());
    assert_eq!(hec[0]["time"].as_f64(), Some(1_335_205_543.511));
}

/// What the bundled rules (filters/k8s-splunk.yaml) say about the fixtures' records. Needs the core's
/// JSON record reading.
#[test]
fn bundled_rules_decide_fixture_records() {
    // 1 ingress 503; 2 probe; 3 probe + klog error + info; 4 gzip probe + 502; 5 text 502;
    // 6 three probes; 7 zlib debug + 503.
    assert_eq!(results("firehose-fluentbit.json"), [Kept, Dropped, Kept, Kept, Kept, Dropped, Kept]);
    // 1 control; 2 probe, 502, klog error, info; 3 zlib 503 + probe; 4 two probes; 5 JSON message 502.
    assert_eq!(results("firehose-cloudwatch.json"), [Dropped, Kept, Kept, Dropped, Kept]);
    let ev = fixture("firehose-cloudwatch.json");
    let o = transform(&ev.records, &mut pipeline(&bundled_rules(), &Settings::default()), &Settings::default());
    let hec = parse_hec(&decode::decode_base64(&o.response().records[1].data).unwrap());
    // The first `Ok` record also carries the summaries of the dropped probes.
    let (summaries, hec): (Vec<Value>, Vec<Value>) = hec.into_iter().partition(is_summary);
    assert_eq!(hec.len(), 3, "the probe is dropped");
    assert!(!summaries.is_empty());
    assert_eq!(hec[0]["sourcetype"], "aws:cloudwatchlogs");
    assert_eq!(hec[0]["source"], "/aws/containerinsights/prod/application");
    assert_eq!(hec[0]["time"].as_f64(), Some(1_795_341_600.001));
}

#[test]
fn hec_mapping_on_a_fluent_bit_record() {
    let ev = fixture("firehose-fluentbit.json");
    let o = transform(&ev.records[..1], &mut pipeline(&bundled_rules(), &Settings::default()), &Settings::default());
    let data = decode::decode_base64(&o.response().records[0].data).unwrap();
    let hec = parse_hec(&data);
    assert_eq!(hec.len(), 1);
    assert_eq!(hec[0]["time"].as_f64(), Some(1_795_341_600.25));
    // Trimmed (docker_id is in the record), with the metadata read before trimming.
    assert!(hec[0]["event"]["kubernetes"].get("docker_id").is_none(), "{}", hec[0]);
    assert_eq!(hec[0]["host"], "ip-10-0-1-17.ec2.internal");
    assert_eq!(hec[0]["source"], "shop/web-7d9f/nginx");
    assert_eq!(hec[0]["sourcetype"], "kube:container:nginx");
    assert_eq!(hec[0]["event"]["kubernetes"]["namespace_name"], "shop");
}

#[test]
fn original_output_is_the_kept_bytes() {
    let ev = fixture("firehose-corrupt.json");
    let s = Settings { output: Output::Original, ..Settings::default() };
    let o = transform(&ev.records, &mut pipeline(&bundled_rules(), &s), &s);
    let first = decode::decode_base64(&o.response().records[0].data).unwrap();
    let input = decode::decode_base64(&ev.records[0].data).unwrap();
    // The kept line as it came, then the summary of the dropped probe (record 9), one JSON line.
    let (line, rest) = first.split_at(input.len() + 1);
    assert_eq!(line, [input, b"\n".to_vec()].concat());
    let summary: Value = serde_json::from_slice(rest).unwrap();
    assert_eq!(summary["logtrim_summary"]["rule"], "drop-probes");
}

/// A CloudWatch batch that inflates far past 6 MB: the response stays under the cap, the overflow is
/// re-ingested, and transforming the re-ingested data yields every kept event exactly once.
#[test]
fn inflating_cloudwatch_batch_respects_the_cap_and_reingests_idempotently() {
    let rules = bundled_rules();
    let mut records = Vec::new();
    for r in 0..12 {
        let events: Vec<Value> = (0..4000)
            .map(|i| {
                serde_json::json!({"id": format!("{r:04}{i:08}"), "timestamp": 1_795_341_600_000i64 + i,
                    "message": format!("10.0.0.{} - - [22/Nov/2026:10:00:00 +0000] \"GET /api/{i} HTTP/1.1\" 502 0 \"-\" \"curl/8.5.0\" {}", r, "z".repeat(100))})
            })
            .collect();
        let msg = serde_json::json!({"messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "g", "logStream": "s",
            "subscriptionFilters": ["f"], "logEvents": events});
        let gz = decode::compress(Compression::Gzip, &serde_json::to_vec(&msg).unwrap());
        assert!(gz.len() < 1_000_000);
        records.push(FirehoseRecord { record_id: format!("r{r}"), approximate_arrival_timestamp: None, data: encode_base64(&gz) });
    }
    let expected: usize = {
        let mut d = rules.decider();
        records.iter().map(|r| kept(&units(&r.data).unwrap(), &mut d).len()).sum()
    };
    let s = Settings::default();
    let mut delivered = std::collections::HashMap::<String, usize>::new();
    let mut batch = records;
    let mut rounds = 0;
    while !batch.is_empty() {
        rounds += 1;
        assert!(rounds < 10, "re-ingestion does not converge");
        let o = transform(&batch, &mut pipeline(&rules, &s), &s);
        let bytes = serde_json::to_vec(&o.response()).unwrap().len();
        assert!(bytes <= 6_000_000, "{bytes}");
        assert!(o.reingest.iter().all(|r| r.len() <= 1_024_000));
        for r in o.response().records.iter().filter(|r| r.result == Kept) {
            for e in parse_hec(&decode::decode_base64(&r.data).unwrap()) {
                *delivered.entry(e["event"].as_str().unwrap().to_string()).or_default() += 1;
            }
        }
        batch = o
            .reingest
            .iter()
            .enumerate()
            .map(|(i, d)| FirehoseRecord { record_id: format!("re{rounds}-{i}"), approximate_arrival_timestamp: None, data: encode_base64(d) })
            .collect();
    }
    assert!(rounds > 1, "the batch should have overflowed");
    assert_eq!(delivered.len(), expected);
    assert!(delivered.values().all(|&n| n == 1), "every kept event delivered exactly once");
}

/// Records what was put; fails calls when told to.
#[derive(Default)]
struct FakeSink {
    puts: Mutex<Vec<Vec<u8>>>,
    fail: bool,
}

impl PutRecordBatch for FakeSink {
    fn put_record_batch(&self, _: &str, records: &[&[u8]]) -> impl Future<Output = Result<Vec<Option<String>>, PutError>> + Send {
        let r = if self.fail {
            Err(PutError("ServiceUnavailableException".into()))
        } else {
            self.puts.lock().unwrap().extend(records.iter().map(|r| r.to_vec()));
            Ok(vec![None; records.len()])
        };
        std::future::ready(r)
    }
}

fn small_state(sink: FakeSink) -> State<FakeSink> {
    let mut s = State::new(bundled_rules(), Settings { response_limit: 1_500, ..Settings::default() }, sink);
    s.retry = RetryPolicy { max_attempts: 2, base_backoff: std::time::Duration::ZERO, max_backoff: std::time::Duration::ZERO };
    s
}

#[tokio::test]
async fn handler_reingests_overflow_before_answering() {
    let ev = fixture("firehose-fluentbit.json");
    let state = small_state(FakeSink::default());
    let resp = handle(&state, ev.clone()).await.unwrap();
    check_ids(&ev, &resp);
    let puts = state.client.puts.lock().unwrap();
    assert!(!puts.is_empty());
    // The re-ingested data is the original record data, byte for byte.
    for p in puts.iter() {
        assert!(ev.records.iter().any(|r| decode::decode_base64(&r.data).unwrap() == *p));
    }
    assert!(serde_json::to_vec(&resp).unwrap().len() <= 1_500);
}

#[tokio::test]
async fn handler_fails_the_invocation_when_reingestion_fails() {
    let ev = fixture("firehose-fluentbit.json");
    let state = small_state(FakeSink { fail: true, ..Default::default() });
    let err = handle(&state, ev).await.unwrap_err();
    assert!(matches!(err, HandlerError::Reingest(_)), "{err}");
    let diag: lambda_runtime::Diagnostic = err.into();
    assert_eq!(diag.error_type, "logtrim.ReingestFailed");
}

#[tokio::test]
async fn handler_without_a_stream_name_fails_rather_than_drops() {
    let mut ev = fixture("firehose-fluentbit.json");
    ev.delivery_stream_arn = Some("aws:lambda:events".into());
    let state = small_state(FakeSink::default());
    assert!(matches!(handle(&state, ev).await, Err(HandlerError::NoDeliveryStream(_))));
}

#[tokio::test]
async fn kinesis_source_overflow_fails_records_instead_of_reingesting() {
    let mut ev = fixture("firehose-fluentbit.json");
    ev.source_kinesis_stream_arn = Some("arn:aws:kinesis:us-east-1:123456789012:stream/logs".into());
    let state = small_state(FakeSink::default());
    let resp = handle(&state, ev.clone()).await.unwrap();
    check_ids(&ev, &resp);
    assert!(state.client.puts.lock().unwrap().is_empty());
    assert!(resp.records.iter().any(|r| r.result == Failed && r.data.is_empty()));
}

fn check_ids(ev: &FirehoseEvent, resp: &FirehoseResponse) {
    let a: Vec<_> = ev.records.iter().map(|r| &r.record_id).collect();
    let b: Vec<_> = resp.records.iter().map(|r| &r.record_id).collect();
    assert_eq!(a, b);
}
