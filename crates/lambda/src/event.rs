//! The Firehose data-transformation request and response, as our own lenient serde types.
//!
//! `aws_lambda_events`' types reject shapes AWS itself documents (an ISO-string
//! `approximateArrivalTimestamp`, `subsequenceNumber: ""`) and let any string through as `result`
//! (its own fixture uses `TRANSFORMED_STATE_OK`, which Firehose rejects). Here every envelope member
//! is optional, timestamps are read leniently, `kinesisRecordMetadata` is ignored, `data` stays the
//! base64 text it arrived as (so a record whose base64 is bad fails alone, and a failed record is
//! answered with exactly the bytes it came with), and [`FirehoseResult`] has only the three values
//! Firehose accepts. [`From`] conversions to and from the `aws_lambda_events` types are provided.

use aws_lambda_events::event::firehose::{
    KinesisFirehoseEvent, KinesisFirehoseResponse, KinesisFirehoseResponseRecord,
};
use std::borrow::Cow;

use logtrim_core::record::json::push_json_str;
use serde::{Deserialize, Deserializer, Serialize};

/// The invocation event.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseEvent {
    /// Firehose's id for this invocation (logged).
    #[serde(default)]
    pub invocation_id: Option<String>,
    /// The delivery stream; its name is where overflow is re-ingested unless configured.
    #[serde(default)]
    pub delivery_stream_arn: Option<String>,
    /// Present when the stream reads from a Kinesis data stream: PutRecordBatch re-ingestion is then
    /// impossible (the stream is not DirectPut).
    #[serde(default)]
    pub source_kinesis_stream_arn: Option<String>,
    /// The region (logged).
    #[serde(default)]
    pub region: Option<String>,
    /// The records, each answered exactly once.
    #[serde(default)]
    pub records: Vec<FirehoseRecord>,
}

/// One input record.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseRecord {
    /// Echoed back in the response.
    pub record_id: String,
    /// Epoch milliseconds; read from a number, a numeric string or an RFC 3339 string, `None` when
    /// absent or unreadable (it only serves as a fallback event time).
    #[serde(default, deserialize_with = "lenient_ms", skip_serializing_if = "Option::is_none")]
    pub approximate_arrival_timestamp: Option<i64>,
    /// Base64 of the record's bytes, not yet decoded.
    #[serde(default)]
    pub data: String,
}

/// The invocation event read in place from the request body: the same members, read as leniently as
/// [`FirehoseEvent`]'s, with strings borrowed from the body unless they contain escapes (base64 never
/// does), so a record's data is not copied.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRef<'a> {
    /// As [`FirehoseEvent::invocation_id`].
    #[serde(default, borrow)]
    pub invocation_id: Option<Cow<'a, str>>,
    /// As [`FirehoseEvent::delivery_stream_arn`].
    #[serde(default, borrow)]
    pub delivery_stream_arn: Option<Cow<'a, str>>,
    /// As [`FirehoseEvent::source_kinesis_stream_arn`].
    #[serde(default, borrow)]
    pub source_kinesis_stream_arn: Option<Cow<'a, str>>,
    /// As [`FirehoseEvent::records`].
    #[serde(default, borrow)]
    pub records: Vec<RecordRef<'a>>,
}

/// One input record of an [`EventRef`].
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordRef<'a> {
    /// As [`FirehoseRecord::record_id`].
    #[serde(borrow)]
    pub record_id: Cow<'a, str>,
    /// As [`FirehoseRecord::approximate_arrival_timestamp`].
    #[serde(default, deserialize_with = "lenient_ms")]
    pub approximate_arrival_timestamp: Option<i64>,
    /// As [`FirehoseRecord::data`].
    #[serde(default, borrow)]
    pub data: Cow<'a, str>,
}

impl<'a> EventRef<'a> {
    /// Reads the request body in place.
    pub fn from_body(body: &'a [u8]) -> serde_json::Result<EventRef<'a>> {
        serde_json::from_slice(body)
    }

    /// An owned event, borrowed (the handler's tests and the `aws_lambda_events` conversion).
    pub fn of(event: &'a FirehoseEvent) -> EventRef<'a> {
        let s = |o: &'a Option<String>| o.as_deref().map(Cow::Borrowed);
        EventRef {
            invocation_id: s(&event.invocation_id),
            delivery_stream_arn: s(&event.delivery_stream_arn),
            source_kinesis_stream_arn: s(&event.source_kinesis_stream_arn),
            records: event.records.iter().map(RecordRef::of).collect(),
        }
    }
}

impl<'a> RecordRef<'a> {
    /// An owned record, borrowed.
    pub fn of(r: &'a FirehoseRecord) -> RecordRef<'a> {
        RecordRef {
            record_id: Cow::Borrowed(&r.record_id),
            approximate_arrival_timestamp: r.approximate_arrival_timestamp,
            data: Cow::Borrowed(&r.data),
        }
    }
}

/// What the transform reads of an input record, whether owned ([`FirehoseRecord`]) or read in place
/// ([`RecordRef`]).
pub trait InputRecord {
    /// The record's id.
    fn record_id(&self) -> &str;
    /// Epoch milliseconds of its arrival, if known.
    fn arrival_ms(&self) -> Option<i64>;
    /// Its base64 data as it came.
    fn data(&self) -> &str;
}

impl InputRecord for FirehoseRecord {
    fn record_id(&self) -> &str {
        &self.record_id
    }
    fn arrival_ms(&self) -> Option<i64> {
        self.approximate_arrival_timestamp
    }
    fn data(&self) -> &str {
        &self.data
    }
}

impl InputRecord for RecordRef<'_> {
    fn record_id(&self) -> &str {
        &self.record_id
    }
    fn arrival_ms(&self) -> Option<i64> {
        self.approximate_arrival_timestamp
    }
    fn data(&self) -> &str {
        &self.data
    }
}

/// What Firehose accepts as a record's `result`: nothing else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FirehoseResult {
    /// Transformed; `data` is delivered.
    Ok,
    /// Deliberately not delivered (filtered out, control message, or re-ingested).
    Dropped,
    /// Could not be transformed; Firehose sends it to the `processing-failed` S3 prefix.
    ProcessingFailed,
}

impl FirehoseResult {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            FirehoseResult::Ok => "Ok",
            FirehoseResult::Dropped => "Dropped",
            FirehoseResult::ProcessingFailed => "ProcessingFailed",
        }
    }
}

/// The response.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct FirehoseResponse {
    /// One per input record, in input order.
    pub records: Vec<ResponseRecord>,
}

/// One output record. Serialized as exactly `{"recordId":…,"result":…,"data":…}` (the size
/// accounting in [`crate::transform`] relies on it).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResponseRecord {
    /// The input record's id.
    pub record_id: String,
    /// The outcome.
    pub result: FirehoseResult,
    /// Base64 output; `""` when dropped. Always present: Firehose requires it.
    pub data: String,
}

impl ResponseRecord {
    /// Serialized size in bytes of a record with this id and result and `data_len` bytes of base64
    /// (which JSON never escapes).
    pub fn serialized_len(record_id: &str, result: FirehoseResult, data_len: usize) -> usize {
        ResponseRecord::serialized_len_of_id(json_str_len(record_id), result, data_len)
    }

    /// [`ResponseRecord::serialized_len`] for an id whose JSON string literal is `id_len` bytes long
    /// ([`json_str_len`]), counted once per record rather than at every size computed for it.
    pub fn serialized_len_of_id(id_len: usize, result: FirehoseResult, data_len: usize) -> usize {
        // {"recordId":<id>,"result":"<r>","data":"<data>"}
        const FIXED: usize = r#"{"recordId":,"result":"","data":""}"#.len();
        FIXED + id_len + result.as_str().len() + data_len
    }

    /// Serialized size in bytes of a record answered with `data` as it is, escaped where JSON needs it:
    /// a failed record's data is echoed as it arrived, and need not be base64 at all.
    pub fn serialized_len_with(record_id: &str, result: FirehoseResult, data: &str) -> usize {
        ResponseRecord::serialized_len(record_id, result, json_str_len(data) - 2)
    }
}

/// Writes a response as serde_json serializes a [`FirehoseResponse`], an entry at a time, into one
/// buffer sized in advance: `{"records":[` [`ResponseWriter::entry`]… `]}`.
pub struct ResponseWriter {
    out: Vec<u8>,
    first: bool,
}

impl ResponseWriter {
    /// A writer whose buffer holds `capacity` bytes before it grows (the exact size, when known).
    pub fn with_capacity(capacity: usize) -> ResponseWriter {
        let mut out = Vec::with_capacity(capacity.max(16));
        out.extend_from_slice(br#"{"records":["#);
        ResponseWriter { out, first: true }
    }

    /// Appends one entry whose data is `data` as a JSON string (escaped where JSON needs it: a failed
    /// record's data is echoed as it came, and need not be base64).
    pub fn entry(&mut self, record_id: &str, result: FirehoseResult, data: &str) {
        self.open(record_id, result);
        logtrim_core::record::json::escape_into(&mut self.out, data.as_bytes());
        self.out.extend_from_slice(b"\"}");
    }

    /// Appends one entry whose data is the base64 of `parts`, concatenated.
    pub fn entry_base64(&mut self, record_id: &str, result: FirehoseResult, parts: &[&[u8]]) {
        self.open(record_id, result);
        match parts {
            [one] => crate::decode::encode_base64_into(one, &mut self.out),
            _ => {
                let joined = parts.concat();
                crate::decode::encode_base64_into(&joined, &mut self.out);
            }
        }
        self.out.extend_from_slice(b"\"}");
    }

    fn open(&mut self, record_id: &str, result: FirehoseResult) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.extend_from_slice(br#"{"recordId":"#);
        push_json_str(&mut self.out, record_id.as_bytes());
        self.out.extend_from_slice(br#","result":""#);
        self.out.extend_from_slice(result.as_str().as_bytes());
        self.out.extend_from_slice(br#"","data":""#);
    }

    /// The response's JSON.
    pub fn finish(mut self) -> Vec<u8> {
        self.out.extend_from_slice(b"]}");
        self.out
    }
}

/// The length of `s` as a JSON string literal, as serde_json writes it (and the core's escaper, which
/// writes the response).
pub fn json_str_len(s: &str) -> usize {
    2 + logtrim_core::record::json::escaped_len(s.as_bytes())
}

fn lenient_ms<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(match v {
        serde_json::Value::Number(n) => n.as_f64().map(|f| f as i64),
        serde_json::Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .map(|f| f as i64)
            .or_else(|| logtrim_core::time::parse_ms(s.as_bytes())),
        _ => None,
    })
}

impl From<KinesisFirehoseEvent> for FirehoseEvent {
    fn from(e: KinesisFirehoseEvent) -> FirehoseEvent {
        FirehoseEvent {
            invocation_id: e.invocation_id,
            delivery_stream_arn: e.delivery_stream_arn,
            source_kinesis_stream_arn: e.source_kinesis_stream_arn,
            region: e.region,
            records: e
                .records
                .into_iter()
                .map(|r| FirehoseRecord {
                    record_id: r.record_id.unwrap_or_default(),
                    approximate_arrival_timestamp: Some(r.approximate_arrival_timestamp.0.timestamp_millis()),
                    data: crate::decode::encode_base64(&r.data.0),
                })
                .collect(),
        }
    }
}

impl From<FirehoseResponse> for KinesisFirehoseResponse {
    fn from(r: FirehoseResponse) -> KinesisFirehoseResponse {
        // The aws_lambda_events structs are #[non_exhaustive]: Default, then assign.
        let mut out = KinesisFirehoseResponse::default();
        out.records = r
            .records
            .into_iter()
            .map(|rec| {
                let mut o = KinesisFirehoseResponseRecord::default();
                o.record_id = Some(rec.record_id);
                o.result = Some(rec.result.as_str().to_string());
                o.data.0 = crate::decode::decode_base64(&rec.data).unwrap_or_default();
                o
            })
            .collect();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_request_shapes() {
        let ev: FirehoseEvent = serde_json::from_str(
            r#"{"invocationId":"i","deliverySteamArn":"typo","region":"us-east-1","records":[
                {"recordId":"a","approximateArrivalTimestamp":1495072949453,"data":"SGk="},
                {"recordId":"b","approximateArrivalTimestamp":"2012-04-23T18:25:43.511Z","data":"SGk=",
                 "kinesisRecordMetadata":{"shardId":"s","partitionKey":"p","approximateArrivalTimestamp":"2012-04-23T18:25:43.511Z","sequenceNumber":"1","subsequenceNumber":""}},
                {"recordId":"c","approximateArrivalTimestamp":"1495072949453","data":"SGk==="},
                {"recordId":"d","approximateArrivalTimestamp":1668093033.744,"data":"SGk="},
                {"recordId":"e","approximateArrivalTimestamp":null,"data":"SGk="},
                {"recordId":"f","data":"SGk="}]}"#,
        )
        .unwrap();
        let ts: Vec<_> = ev.records.iter().map(|r| r.approximate_arrival_timestamp).collect();
        assert_eq!(ts, [Some(1495072949453), Some(1335205543511), Some(1495072949453), Some(1668093033), None, None]);
        assert_eq!(ev.delivery_stream_arn, None);
        let empty: FirehoseEvent = serde_json::from_str("{}").unwrap();
        assert!(empty.records.is_empty());
    }

    #[test]
    fn response_size_formula_matches_serde() {
        for (id, result, data) in [
            ("49546986683135544286507457936321625675700192471156785154", FirehoseResult::Ok, "SGk="),
            ("we\"ird\\id\n\u{1}é", FirehoseResult::ProcessingFailed, ""),
            ("", FirehoseResult::Dropped, ""),
        ] {
            let r = ResponseRecord { record_id: id.into(), result, data: data.into() };
            assert_eq!(serde_json::to_string(&r).unwrap().len(), ResponseRecord::serialized_len(id, result, data.len()));
        }
        // Echoed data that is not base64 is escaped where JSON needs it.
        for data in ["SGk=", "\"\"\"", "a\\b\n\u{1}\u{1f}é\u{7f}", ""] {
            let r = ResponseRecord { record_id: "1".into(), result: FirehoseResult::ProcessingFailed, data: data.into() };
            assert_eq!(serde_json::to_string(&r).unwrap().len(), ResponseRecord::serialized_len_with("1", r.result, data), "{data:?}");
        }
    }

    #[test]
    fn converts_to_aws_lambda_events() {
        let ours = FirehoseResponse {
            records: vec![
                ResponseRecord { record_id: "1".into(), result: FirehoseResult::Ok, data: "SGk=".into() },
                ResponseRecord { record_id: "2".into(), result: FirehoseResult::Dropped, data: String::new() },
            ],
        };
        let theirs: KinesisFirehoseResponse = ours.clone().into();
        assert_eq!(theirs.records[0].result.as_deref(), Some("Ok"));
        assert_eq!(theirs.records[0].data.0, b"Hi");
        assert_eq!(theirs.records[1].record_id.as_deref(), Some("2"));
        assert_eq!(theirs.records[1].result.as_deref(), Some("Dropped"));
    }
}
