//! Captured Lambda inputs: a saved Firehose event and a CloudWatch Logs payload are read the way the
//! Lambda reads them, so `logtrim report` on a captured invocation shows what the function would do.

use std::io::Write as _;

use logtrim_formats::firehose::encode_base64;

use super::*;

const RULES: &[u8] = br#"parse:
  log: [access, app]
rules:
  - name: errors
    when: log.status >= 500 or log.level == "error"
    action: keep
    priority: critical
  - name: ok
    when: log.status in 200..299
    action: drop
default:
  action: keep
"#;

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn access(status: u32) -> String {
    format!(r#"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] \"GET /p HTTP/1.1\" {status} 5 \"-\" \"curl/8\""#)
}

fn cloudwatch() -> Vec<u8> {
    format!(
        r#"{{"messageType":"DATA_MESSAGE","owner":"111122223333","logGroup":"/eks/prod","logStream":"s","subscriptionFilters":["f"],
"logEvents":[{{"id":"1","timestamp":1795341600000,"message":"{}"}},{{"id":"2","timestamp":1795341600001,"message":"{{\"level\":\"error\",\"msg\":\"boom\"}}"}},{{"id":"3","timestamp":1795341600002,"message":"{}"}}]}}"#,
        access(200),
        access(200),
    )
    .into_bytes()
}

fn firehose_event() -> Vec<u8> {
    let aggregated = format!("{{\"log\":\"{}\"}}\n{{\"log\":\"{}\"}}\n", access(503), access(204));
    format!(
        r#"{{
  "invocationId": "00540a87-5050-496a-84e4-e7d92bbaf5e2",
  "deliveryStreamArn": "arn:aws:firehose:us-east-1:111122223333:deliverystream/logs",
  "region": "us-east-1",
  "records": [
    {{"recordId": "r1", "approximateArrivalTimestamp": 1795341600000, "data": "{}"}},
    {{"recordId": "r2", "approximateArrivalTimestamp": 1795341600000, "data": "{}"}},
    {{"recordId": "r3", "approximateArrivalTimestamp": 1795341600000, "data": "{}"}}
  ]
}}
"#,
        encode_base64(aggregated.as_bytes()),
        encode_base64(&gzip(&cloudwatch())),
        // Cut short: the gzip stream ends inside its first member.
        encode_base64(&gzip(&cloudwatch())[..20]),
    )
    .into_bytes()
}

#[test]
fn a_saved_firehose_event_is_read_record_by_record() {
    let dir = Scratch::new("captured-firehose");
    let rules = dir.file("r.yaml", RULES);
    let event = dir.file("event.json", &firehose_event());
    for args in [vec!["report", "--format", "json", s(&rules), s(&event)], vec!["report", "--format", "json", "--input-format", "firehose", s(&rules), s(&event)]] {
        let o = logtrim(&args, b"");
        assert!(o.status.success(), "{}", stderr(&o));
        let v = json(&o);
        // Two aggregated lines and three CloudWatch events; the corrupt gzip record is reported, not counted.
        assert_eq!(v["total"]["records"], 5, "{v}");
        assert_eq!(v["total"]["kept_records"], 2, "{v}");
        let failed = v["input"]["undecodable_firehose_records"].as_array().unwrap();
        assert_eq!(failed.len(), 1, "{v}");
        assert!(failed[0].as_str().unwrap().contains("recordId \"r3\": corrupt gzip"), "{v}");
        assert!(stderr(&o).contains("1 Firehose records could not be decoded"), "{}", stderr(&o));
    }
    // `run` prints the records as the rules saw them: CloudWatch events carry their ids.
    let o = logtrim(&["run", s(&rules), s(&event)], b"");
    let kept: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(kept[0]["log"].as_str().unwrap().contains("503"));
    assert_eq!(kept[1]["cloudwatch"]["id"], "2");
    assert_eq!(kept[1]["level"], "error");
}

#[test]
fn a_cloudwatch_payload_is_detected_gzipped_or_plain() {
    let dir = Scratch::new("captured-cloudwatch");
    let rules = dir.file("r.yaml", RULES);
    for (name, bytes) in [("payload.gz", gzip(&cloudwatch())), ("payload.json", cloudwatch())] {
        let f = dir.file(name, &bytes);
        let o = logtrim(&["report", "--format", "json", s(&rules), s(&f)], b"");
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let v = json(&o);
        assert_eq!(v["total"]["records"], 3, "{name}: {v}");
        assert_eq!(v["total"]["kept_records"], 1, "{name}: {v}");
    }
}

#[test]
fn forcing_a_captured_format_on_other_input_is_a_clear_error() {
    let dir = Scratch::new("captured-forced");
    let rules = dir.file("r.yaml", RULES);
    let f = dir.file("lines.jsonl", b"{\"log\":\"a\"}\n");
    let o = logtrim(&["report", "--input-format", "firehose", s(&rules), s(&f)], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a Firehose transformation event"), "{}", stderr(&o));
    // JSON lines that carry a `recordId` key are still read as lines under auto-detection, with a note.
    let f = dir.file("ids.jsonl", b"{\"recordId\":\"1\",\"log\":\"x\"}\n{\"recordId\":\"2\",\"log\":\"y\"}\n");
    let o = logtrim(&["report", "--format", "json", s(&rules), s(&f)], b"");
    let v = json(&o);
    assert_eq!(v["total"]["records"], 2, "{v}");
    assert!(stderr(&o).contains("ids.jsonl looked like a saved Firehose event but is not one (missing field `records`"), "{}", stderr(&o));
    assert!(stderr(&o).contains("read as lines"), "{}", stderr(&o));
}

fn event_of(records: &[(&str, Option<String>)]) -> Vec<u8> {
    let recs: Vec<String> = records
        .iter()
        .map(|(id, data)| match data {
            Some(d) => format!(r#"    {{"recordId": "{id}", "approximateArrivalTimestamp": 1795341600000, "data": "{d}"}}"#),
            None => format!(r#"    {{"recordId": "{id}", "approximateArrivalTimestamp": 1795341600000}}"#),
        })
        .collect();
    format!("{{\n  \"invocationId\": \"i\",\n  \"records\": [\n{}\n  ]\n}}\n", recs.join(",\n")).into_bytes()
}

#[test]
fn r15_records_past_the_lambdas_cap_are_undecodable_as_in_the_lambda() {
    // A record inflating past the Lambda's 64 MiB cap, as gzip members of 1 MiB each, between two that
    // do not: the Lambda fails it, so the CLI reports it rather than reading 70 MiB of lines.
    let member = gzip(format!("{{\"log\":\"{}\"}}\n", access(503)).repeat((1 << 20) / 100).as_bytes());
    let big = encode_base64(&member.repeat(70));
    let small = encode_base64(format!("{{\"log\":\"{}\"}}\n{{\"log\":\"{}\"}}\n", access(503), access(204)).as_bytes());
    let dir = Scratch::new("captured-cap");
    let rules = dir.file("r.yaml", RULES);
    let event = dir.file("event.json", &event_of(&[("r1", Some(small.clone())), ("r2", Some(big)), ("r3", Some(small))]));
    let o = logtrim(&["report", "--format", "json", s(&rules), s(&event)], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["total"]["records"], 4, "{v}");
    let failed = v["input"]["undecodable_firehose_records"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{v}");
    assert!(failed[0].as_str().unwrap().contains("recordId \"r2\": decompressed data exceeds 67108864 bytes"), "{v}");
}

#[test]
fn r15_a_record_without_data_does_not_turn_the_event_into_text() {
    let lines = format!("{{\"log\":\"{}\"}}\n{{\"log\":\"{}\"}}\n", access(503), access(204));
    let dir = Scratch::new("captured-no-data");
    let rules = dir.file("r.yaml", RULES);
    let event = dir.file("event.json", &event_of(&[("r1", None), ("r2", Some(encode_base64(lines.as_bytes())))]));
    let o = logtrim(&["report", "--format", "json", s(&rules), s(&event)], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["total"]["records"], 2, "the second record's two lines: {v}");
    assert_eq!(v["input"]["firehose_records_without_data"], 1, "{v}");
    assert!(stderr(&o).contains("note: 1 Firehose records had no data (the Lambda answers them Dropped)"), "{}", stderr(&o));
}
