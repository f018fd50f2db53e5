//! Re-ingestion through the real aws-sdk-firehose against moto_server (started here on 127.0.0.1),
//! read back from the S3 bucket of an ExtendedS3 stream. moto never reports per-entry failures
//! (FailedPutCount is always 0), so the partial failure is injected by wrapping the real client: the
//! first call reports its first entry as failed without sending it, and the retry sends it for real.

use std::future::Future;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use logtrim_lambda::handler::{HandlerError, State, handle};
use logtrim_lambda::reingest::{Firehose, PutError, PutRecordBatch, ReingestError, RetryPolicy};
use logtrim_lambda::transform::Settings;

use crate::util::*;

const SETUP: &str = r#"
import base64, json, sys
import boto3
endpoint, cmd = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
s3, fh = boto3.client("s3", **kw), boto3.client("firehose", **kw)
if cmd == "setup":
    s3.create_bucket(Bucket="logtrim-reingest")
    fh.create_delivery_stream(DeliveryStreamName="logtrim-test", DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={"RoleARN": "arn:aws:iam::123456789012:role/firehose",
                                            "BucketARN": "arn:aws:s3:::logtrim-reingest"})
else:
    objs = s3.list_objects_v2(Bucket="logtrim-reingest").get("Contents", [])
    print(json.dumps([base64.b64encode(s3.get_object(Bucket="logtrim-reingest", Key=o["Key"])["Body"].read()).decode() for o in objs]))
"#;

fn python(endpoint: &str, cmd: &str) -> String {
    let out = Command::new(tool("python")).args(["-c", SETUP, endpoint, cmd]).output().unwrap();
    assert!(out.status.success(), "boto3 {cmd} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Reports the first entry of the first call as failed (not sending it); otherwise the real client.
struct FailFirstEntryOnce {
    inner: Firehose,
    first_call: Mutex<Option<Vec<Vec<u8>>>>,
}

impl PutRecordBatch for FailFirstEntryOnce {
    fn put_record_batch(&self, stream: &str, records: &[&[u8]]) -> impl Future<Output = Result<Vec<Option<String>>, PutError>> + Send {
        let first = {
            let mut f = self.first_call.lock().unwrap();
            let first = f.is_none();
            if first {
                *f = Some(records.iter().map(|r| r.to_vec()).collect());
            }
            first
        };
        async move {
            if !first {
                return self.inner.put_record_batch(stream, records).await;
            }
            let mut codes = vec![Some("ServiceUnavailableException: injected".to_string())];
            if records.len() > 1 {
                codes.extend(self.inner.put_record_batch(stream, &records[1..]).await?);
            }
            Ok(codes)
        }
    }
}

async fn client(endpoint: &str) -> Firehose {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_firehose::config::Credentials::new("testing", "testing", None, None, "static"))
        .load()
        .await;
    Firehose(aws_sdk_firehose::Client::new(&conf))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reingests_through_put_record_batch_with_a_partial_failure() {
    let port = free_port();
    let mut cmd = Command::new(tool("moto_server"));
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    let mut moto = Proc::start(cmd, "moto_server.log");
    wait_for_port(port, Duration::from_secs(60), &mut moto.child, "moto_server", &moto.log.clone());
    let endpoint = format!("http://127.0.0.1:{port}");
    python(&endpoint, "setup");

    let fast = RetryPolicy { max_attempts: 3, base_backoff: Duration::from_millis(10), max_backoff: Duration::from_millis(50) };
    let settings = Settings { response_limit: 1_500, ..Settings::default() };
    let sink = FailFirstEntryOnce { inner: client(&endpoint).await, first_call: Mutex::new(None) };
    let mut state = State::new(bundled_rules(), settings.clone(), sink);
    state.retry = fast;
    let ev = fixture("firehose-fluentbit.json");
    let resp = handle(&state, ev.clone()).await.expect("re-ingestion succeeds after the retry");
    let ids: Vec<_> = resp.records.iter().map(|r| &r.record_id).collect();
    assert_eq!(ids, ev.records.iter().map(|r| &r.record_id).collect::<Vec<_>>());

    let payloads = state.client.first_call.lock().unwrap().clone().expect("overflow was re-ingested");
    assert!(payloads.len() >= 2, "want a partial failure among several records, got {}", payloads.len());
    // moto writes one S3 object per accepted PutRecordBatch call, the records concatenated.
    let mut want = vec![payloads[1..].concat(), payloads[0].clone()];
    want.sort();
    let got: Vec<String> = serde_json::from_str(&python(&endpoint, "read")).unwrap();
    let mut got: Vec<Vec<u8>> = got.iter().map(|b| logtrim_lambda::decode::decode_base64(b).unwrap()).collect();
    got.sort();
    assert_eq!(got, want, "every re-ingested record arrived exactly once");

    // A stream that does not exist: every attempt fails, so the invocation fails.
    let mut state = State::new(bundled_rules(), settings, client(&endpoint).await);
    state.retry = RetryPolicy { max_attempts: 2, ..fast };
    state.delivery_stream = Some("does-not-exist".into());
    match handle(&state, ev).await {
        Err(HandlerError::Reingest(ReingestError::Exhausted { attempts: 2, last, .. })) => {
            assert!(last.contains("ResourceNotFound"), "{last}");
        }
        other => panic!("expected exhausted re-ingestion, got {other:?}\n{}", moto.log_text()),
    }
}

/// Two function instances share one daily budget through DynamoDB in moto: what the table counts as kept
/// is what the instances admitted, and together they stay within the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_share_the_daily_budget_through_dynamodb() {
    use logtrim_core::budget::{LeaseKey, Timestamp};
    use logtrim_lambda::handler::{Budget, BudgetBackend};

    let port = free_port();
    let mut cmd = Command::new(tool("moto_server"));
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    let mut moto = Proc::start(cmd, "moto_server-budget.log");
    wait_for_port(port, Duration::from_secs(60), &mut moto.child, "moto_server", &moto.log.clone());
    let endpoint = format!("http://127.0.0.1:{port}");
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_firehose::config::Credentials::new("testing", "testing", None, None, "static"))
        .load()
        .await;
    let store = || logtrim_aws::DynamoLeaseStore::from_sdk_config(&conf, "logtrim-budget");
    store().create_table().await.expect("create the budget table in moto");

    let mut yaml = std::fs::read_to_string(bundled_rules_path()).unwrap();
    yaml.push_str("\nbudget:\n  limit: 12KB\n  time_zone: UTC\n  chunk: 2KB\n  pacing: false\n");
    let rules = || logtrim_core::RuleSet::from_yaml("budgeted.yaml", &yaml).unwrap();
    let instance = || {
        let mut s = State::new(rules(), Settings::default(), NoPut);
        s.budget = Budget::new(&rules(), BudgetBackend::DynamoDb(store()));
        s
    };
    let (a, b) = (instance(), instance());
    let ev = fixture("firehose-fluentbit.json");
    for _ in 0..6 {
        for s in [&a, &b] {
            let resp = handle(s, ev.clone()).await.unwrap();
            assert_eq!(resp.records.len(), ev.records.len());
        }
    }
    let now = Timestamp::now();
    let mut spent = 0;
    for s in [&a, &b] {
        let mut acc = s.budget.as_ref().unwrap().accountant.lock().await;
        // Report what was kept since the last request (an instance's last batches ride on its next one).
        if let Some(req) = acc.flush_request(now) {
            let reply = store().lease(&req).await;
            acc.apply(now, reply);
        }
        let st = acc.status(now);
        assert!(matches!(st.store, logtrim_core::budget::StoreState::Connected), "{st:?}\n{}", moto.log_text());
        assert!(st.shed.0.iter().sum::<u64>() > 0, "the fixture replayed 12 times overruns 12 KB: {st:?}");
        spent += st.spent_local;
    }
    let key = LeaseKey { budget: "k8s-splunk".into(), day: logtrim_core::budget::LicenseZone::utc().day(now).key() };
    let totals = store().totals(&key).await.unwrap();
    // Every byte admitted was reported; the leases cover them.
    assert_eq!(totals.kept, spent, "{totals:?}");
    assert!(totals.counted >= spent, "{totals:?}");
    assert!(spent <= 12_000 + 2 * 2_000 + critical_bytes(&a) + critical_bytes(&b), "spent {spent}");
}

fn critical_bytes(s: &State<NoPut>) -> u64 {
    let acc = s.budget.as_ref().unwrap().accountant.try_lock().unwrap();
    acc.status(logtrim_core::budget::Timestamp::now()).kept.get(logtrim_core::Priority::Critical)
}

struct NoPut;

impl PutRecordBatch for NoPut {
    async fn put_record_batch(&self, _: &str, _: &[&[u8]]) -> Result<Vec<Option<String>>, PutError> {
        Err(PutError("no re-ingestion expected".into()))
    }
}
