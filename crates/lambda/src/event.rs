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
#[derive(Debug, Default, Deserialize, PartialEq)]
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
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RecordRef<'a> {
    /// As [`FirehoseRecord::record_id`].
    #[serde(borrow)]
    pub record_id: Cow<'a, str>,
    /// As [`FirehoseRecord::approximate_arrival_timestamp`].
    #[serde(default, deserialize_with = "lenient_ms")]
    pub approximate_arrival_timestamp: Option<i64>,
    /// As [`FirehoseRecord::data`], as bytes: the reader checked the string's text once, and base64
    /// decoding reads bytes.
    #[serde(default, borrow, deserialize_with = "str_bytes")]
    pub data: Cow<'a, [u8]>,
}

/// A JSON string as its UTF-8 bytes, borrowed when it has no escapes (as `Cow<str>` with `borrow`).
fn str_bytes<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Cow<'a, [u8]>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Cow<'de, [u8]>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string")
        }
        fn visit_borrowed_str<E: serde::de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(s.as_bytes()))
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(s.as_bytes().to_vec()))
        }
        fn visit_string<E: serde::de::Error>(self, s: String) -> Result<Self::Value, E> {
            Ok(Cow::Owned(s.into_bytes()))
        }
    }
    d.deserialize_str(V)
}

impl<'a> EventRef<'a> {
    /// Reads the request body in place: the event as its `Deserialize` reads it, and the same bodies
    /// refused, but with the core's JSON scanner (which accepts exactly what serde_json accepts) doing
    /// the work serde_json's string reader did — most of a body is the records' base64, which the
    /// scanner skips sixteen bytes a step. Unlike serde_json, an event or record written as an array of
    /// its members' values is refused: JSON objects only.
    pub fn from_body(body: &'a [u8]) -> Result<EventRef<'a>, EventError> {
        read::event(body)
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
            data: Cow::Borrowed(r.data.as_bytes()),
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
    /// Its base64 data as it came (the text of a JSON string, so UTF-8).
    fn data(&self) -> &[u8];
}

impl InputRecord for FirehoseRecord {
    fn record_id(&self) -> &str {
        &self.record_id
    }
    fn arrival_ms(&self) -> Option<i64> {
        self.approximate_arrival_timestamp
    }
    fn data(&self) -> &[u8] {
        self.data.as_bytes()
    }
}

impl InputRecord for RecordRef<'_> {
    fn record_id(&self) -> &str {
        &self.record_id
    }
    fn arrival_ms(&self) -> Option<i64> {
        self.approximate_arrival_timestamp
    }
    fn data(&self) -> &[u8] {
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
    pub fn serialized_len_with(record_id: &str, result: FirehoseResult, data: &[u8]) -> usize {
        ResponseRecord::serialized_len(record_id, result, logtrim_core::record::json::escaped_len(data))
    }
}

/// Every record's id as the JSON string literal the response writes for it (quotes included), one
/// after the other in one buffer: escaped once, when the transform starts, then read for the size of
/// every answer and for the response.
///
/// PERF: in the event the ids lie a record's data apart (a kilobyte and more); read there again when
/// the response is written, at the end of the invocation, each was a cache miss the hardware
/// prefetcher could not foresee. Here they are read in order from one small buffer.
pub struct IdLiterals {
    text: String,
    /// Where each literal ends in `text`.
    ends: Vec<usize>,
}

/// One record's id as a JSON string literal ([`IdLiterals::get`]): what [`ResponseWriter`] writes.
#[derive(Clone, Copy, Debug)]
pub struct IdLiteral<'a>(&'a str);

impl IdLiterals {
    /// The literals of `ids`, in order.
    pub fn new<'r>(ids: impl ExactSizeIterator<Item = &'r str> + Clone) -> IdLiterals {
        // Here too the ids are read where they lie in the event: asked for all at once, they arrive
        // together.
        for id in ids.clone() {
            logtrim_core::bytes::prefetch(id.as_bytes());
        }
        // Firehose's ids are 56 digits: room for them and their quotes, grown if they are longer.
        let mut bytes = Vec::with_capacity(ids.len() * 60);
        let mut ends = Vec::with_capacity(ids.len());
        for id in ids {
            push_json_str(&mut bytes, id.as_bytes());
            ends.push(bytes.len());
        }
        IdLiterals { text: String::from_utf8(bytes).expect("escaped text is UTF-8"), ends }
    }

    /// The literal of the `i`th id.
    #[inline]
    pub fn get(&self, i: usize) -> IdLiteral<'_> {
        IdLiteral(&self.text[self.start(i)..self.ends[i]])
    }

    /// The length of the `i`th literal, quotes included (as [`json_str_len`] of the id).
    #[inline]
    pub fn len_of(&self, i: usize) -> usize {
        self.ends[i] - self.start(i)
    }

    #[inline]
    fn start(&self, i: usize) -> usize {
        if i == 0 { 0 } else { self.ends[i - 1] }
    }
}

/// Writes a response as serde_json serializes a [`FirehoseResponse`], an entry at a time, into one
/// buffer sized in advance: `{"records":[` [`ResponseWriter::entry`]… `]}`. The buffer is text
/// throughout (ids, results, base64, escaped data), so the response needs no UTF-8 check at the end.
pub struct ResponseWriter {
    out: String,
    first: bool,
}

impl ResponseWriter {
    /// A writer whose buffer holds `capacity` bytes before it grows (the exact size, when known).
    pub fn with_capacity(capacity: usize) -> ResponseWriter {
        let mut out = String::with_capacity(capacity.max(16));
        out.push_str(r#"{"records":["#);
        ResponseWriter { out, first: true }
    }

    /// Appends one entry whose data is `data` as a JSON string (escaped where JSON needs it: a failed
    /// record's data is echoed as it came, and need not be base64).
    pub fn entry(&mut self, record_id: IdLiteral<'_>, result: FirehoseResult, data: &[u8]) {
        self.open(record_id, result);
        if !data.is_empty() {
            let mut escaped = Vec::with_capacity(data.len());
            logtrim_core::record::json::escape_into(&mut escaped, data);
            self.out.push_str(std::str::from_utf8(&escaped).expect("escaping writes UTF-8"));
        }
        self.out.push_str("\"}");
    }

    /// Appends one entry whose data is the base64 of `parts`, concatenated.
    pub fn entry_base64(&mut self, record_id: IdLiteral<'_>, result: FirehoseResult, parts: &[&[u8]]) {
        self.open(record_id, result);
        match parts {
            [one] => crate::decode::encode_base64_into_string(one, &mut self.out),
            _ => {
                let joined = parts.concat();
                crate::decode::encode_base64_into_string(&joined, &mut self.out);
            }
        }
        self.out.push_str("\"}");
    }

    fn open(&mut self, record_id: IdLiteral<'_>, result: FirehoseResult) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push_str(r#"{"recordId":"#);
        self.out.push_str(record_id.0);
        self.out.push_str(r#","result":""#);
        self.out.push_str(result.as_str());
        self.out.push_str(r#"","data":""#);
    }

    /// The response's JSON.
    pub fn finish(mut self) -> ResponseJson {
        self.out.push_str("]}");
        ResponseJson::of_writer(self.out)
    }
}

/// A response's JSON as [`ResponseWriter`] wrote it, for the runtime, which serializes what a handler
/// returns with serde_json: written out as it is, as a [`serde_json::value::RawValue`] would be, but
/// without being parsed again to check it, as `RawValue::from_string` does (the writer's output is
/// tested to be what serde_json writes for the same response).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseJson(String);

impl Default for ResponseJson {
    /// The response to no records.
    fn default() -> ResponseJson {
        ResponseJson(r#"{"records":[]}"#.into())
    }
}

/// The name serde_json gives the one-field struct a `RawValue` serializes as, and the field's: its
/// serializer writes the field's string as JSON text, unquoted. `tests::response_json_is_written_as_it_is`
/// fails should serde_json ever change it.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

impl ResponseJson {
    /// JSON text written as [`ResponseWriter`] writes it (checked to be UTF-8; the JSON is not parsed).
    pub fn new(body: Vec<u8>) -> Result<ResponseJson, std::string::FromUtf8Error> {
        String::from_utf8(body).map(ResponseJson::of_writer)
    }

    fn of_writer(json: String) -> ResponseJson {
        debug_assert!(serde_json::from_str::<&serde_json::value::RawValue>(&json).is_ok(), "the response writer wrote invalid JSON");
        ResponseJson(json)
    }

    /// The JSON text as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for ResponseJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct(RAW_VALUE_TOKEN, 1)?;
        s.serialize_field(RAW_VALUE_TOKEN, &self.0)?;
        s.end()
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
        serde_json::Value::String(s) => ms_of_str(&s),
        _ => None,
    })
}

/// An arrival timestamp given as a string: epoch milliseconds as a number, or an RFC 3339 time.
fn ms_of_str(s: &str) -> Option<i64> {
    s.trim().parse::<f64>().ok().map(|f| f as i64).or_else(|| logtrim_core::time::parse_ms(s.as_bytes()))
}

/// Why a request body is not a Firehose transformation event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Not JSON.
    #[error(transparent)]
    Json(#[from] logtrim_core::record::json::JsonError),
    /// JSON, but not of the event's shape.
    #[error("{what} at byte {at}")]
    Shape {
        /// What is wrong.
        what: String,
        /// Where, in bytes from the body's start.
        at: usize,
    },
}

/// The request body read with the core's scanner: the punctuation of the event and of its `records`
/// array walked here, every value scanned (and so checked) by [`scan_value`] as it comes.
mod read {
    use std::borrow::Cow;

    use logtrim_core::record::json::{JsonError, PathTrie, Raw, scan_value, unescape};

    use super::{EventError, EventRef, RecordRef, ms_of_str};

    /// The empty path: a scanned value reports itself (id 0).
    fn itself() -> &'static PathTrie {
        static T: std::sync::OnceLock<PathTrie> = std::sync::OnceLock::new();
        T.get_or_init(|| PathTrie::new(&[Vec::new()]))
    }

    /// The deepest container serde_json accepts, counted as the scanner counts.
    const MAX_DEPTH: u32 = 127;

    /// No path: a value is only checked.
    fn nothing() -> &'static PathTrie {
        static T: std::sync::OnceLock<PathTrie> = std::sync::OnceLock::new();
        T.get_or_init(|| PathTrie::new(&[]))
    }

    struct Reader<'a> {
        body: &'a [u8],
        pos: usize,
    }

    pub(super) fn event(body: &[u8]) -> Result<EventRef<'_>, EventError> {
        let mut r = Reader { body, pos: 0 };
        let mut ev = EventRef::default();
        let mut seen = [false; 4];
        r.object(0, "the event", &["records", "invocationId", "deliveryStreamArn", "sourceKinesisStreamArn"], &mut |r, key, depth| {
            let i = match key {
                "invocationId" => 0,
                "deliveryStreamArn" => 1,
                "sourceKinesisStreamArn" => 2,
                "records" => 3,
                _ => return r.skip(depth),
            };
            if std::mem::replace(&mut seen[i], true) {
                return Err(r.shape(format!("duplicate field `{key}`")));
            }
            match i {
                0 => ev.invocation_id = r.optional_str(depth)?,
                1 => ev.delivery_stream_arn = r.optional_str(depth)?,
                2 => ev.source_kinesis_stream_arn = r.optional_str(depth)?,
                _ => ev.records = r.records(depth)?,
            }
            Ok(())
        })?;
        r.ws();
        if r.pos < body.len() {
            return Err(JsonError::Trailing { at: r.pos as u32 }.into());
        }
        Ok(ev)
    }

    impl<'a> Reader<'a> {
        fn ws(&mut self) {
            while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.body.get(self.pos) {
                self.pos += 1;
            }
        }

        fn peek(&mut self) -> u8 {
            self.ws();
            self.body.get(self.pos).copied().unwrap_or(0)
        }

        fn expected(&self, what: &'static str) -> EventError {
            let at = self.pos as u32;
            if self.pos >= self.body.len() { JsonError::Eof { at } } else { JsonError::Expected { at, expected: what } }.into()
        }

        fn shape(&self, what: String) -> EventError {
            EventError::Shape { what, at: self.pos }
        }

        /// The value at the cursor, checked and reported as itself.
        fn value(&mut self, depth: u32) -> Result<Raw, EventError> {
            let mut raw = Raw::Missing;
            self.pos = scan_value(self.body, self.pos, depth, itself(), &mut |_, v| raw = v)?;
            Ok(raw)
        }

        /// Checks the value at the cursor and steps over it.
        fn skip(&mut self, depth: u32) -> Result<(), EventError> {
            self.pos = scan_value(self.body, self.pos, depth, nothing(), &mut |_, _| {})?;
            Ok(())
        }

        /// The text of a string the scanner reported, borrowed unless it has escapes.
        fn text(&self, start: u32, end: u32, escaped: bool) -> Cow<'a, str> {
            let body = &self.body[start as usize..end as usize];
            // The scanner checked the string: its text is UTF-8 and its escapes are valid.
            if escaped {
                let mut out = Vec::with_capacity(body.len());
                let _ = unescape(body, &mut out);
                Cow::Owned(String::from_utf8_lossy(&out).into_owned())
            } else {
                // PERF: `from_utf8` checks ASCII a word at a time; `from_utf8_lossy` a byte at a time.
                std::str::from_utf8(body).map_or_else(|_| String::from_utf8_lossy(body), Cow::Borrowed)
            }
        }

        /// The members of the object at the cursor, each handed to `member` with the cursor on its value
        /// (which it must read) and the depth of that value; `known` are the keys it reads.
        fn object(
            &mut self,
            depth: u32,
            what: &'static str,
            known: &[&'static str],
            member: &mut dyn FnMut(&mut Reader<'a>, &str, u32) -> Result<(), EventError>,
        ) -> Result<(), EventError> {
            if self.peek() != b'{' {
                return Err(match self.body.get(self.pos) {
                    None => self.expected(what),
                    Some(_) => self.shape(format!("{what} is not a JSON object")),
                });
            }
            if depth >= MAX_DEPTH {
                return Err(JsonError::TooDeep { at: self.pos as u32 }.into());
            }
            self.pos += 1;
            if self.peek() == b'}' {
                self.pos += 1;
                return Ok(());
            }
            loop {
                if self.peek() != b'"' {
                    return Err(self.expected("a string key"));
                }
                // PERF: a key spelled as one this object reads, without escapes (as Firehose writes them),
                // is that string: it needs no scan.
                let rest = &self.body[self.pos + 1..];
                let key = match known.iter().find(|k| logtrim_core::bytes::starts_with(rest, k.as_bytes()) && rest.get(k.len()) == Some(&b'"')) {
                    Some(k) => {
                        self.pos += k.len() + 2;
                        Cow::Borrowed(*k)
                    }
                    None => {
                        let Raw::Str { start, end, escaped } = self.value(depth + 1)? else { unreachable!("a string") };
                        self.text(start, end, escaped)
                    }
                };
                if self.peek() != b':' {
                    return Err(self.expected("':'"));
                }
                self.pos += 1;
                self.ws();
                member(self, &key, depth + 1)?;
                match self.peek() {
                    b',' => self.pos += 1,
                    b'}' => {
                        self.pos += 1;
                        return Ok(());
                    }
                    _ => return Err(self.expected("',' or '}'")),
                }
            }
        }

        /// `null` or a string.
        fn optional_str(&mut self, depth: u32) -> Result<Option<Cow<'a, str>>, EventError> {
            let at = self.pos;
            match self.value(depth)? {
                Raw::Null => Ok(None),
                Raw::Str { start, end, escaped } => Ok(Some(self.text(start, end, escaped))),
                _ => Err(EventError::Shape { what: "expected a string".into(), at }),
            }
        }

        fn string(&mut self, depth: u32) -> Result<Cow<'a, str>, EventError> {
            let at = self.pos;
            match self.value(depth)? {
                Raw::Str { start, end, escaped } => Ok(self.text(start, end, escaped)),
                _ => Err(EventError::Shape { what: "expected a string".into(), at }),
            }
        }

        /// A string as its bytes: the scanner checked that they are UTF-8, and they are not checked again.
        fn string_bytes(&mut self, depth: u32) -> Result<Cow<'a, [u8]>, EventError> {
            let at = self.pos;
            match self.value(depth)? {
                Raw::Str { start, end, escaped: false } => Ok(Cow::Borrowed(&self.body[start as usize..end as usize])),
                Raw::Str { start, end, escaped: true } => {
                    let mut out = Vec::with_capacity((end - start) as usize);
                    let _ = unescape(&self.body[start as usize..end as usize], &mut out);
                    Ok(Cow::Owned(out))
                }
                _ => Err(EventError::Shape { what: "expected a string".into(), at }),
            }
        }

        fn records(&mut self, depth: u32) -> Result<Vec<RecordRef<'a>>, EventError> {
            if self.peek() != b'[' {
                return Err(match self.body.get(self.pos) {
                    None => self.expected("the records"),
                    Some(_) => self.shape("`records` is not an array".into()),
                });
            }
            if depth >= MAX_DEPTH {
                return Err(JsonError::TooDeep { at: self.pos as u32 }.into());
            }
            self.pos += 1;
            let mut records = Vec::new();
            if self.peek() == b']' {
                self.pos += 1;
                return Ok(records);
            }
            loop {
                records.push(self.record(depth + 1)?);
                match self.peek() {
                    b',' => self.pos += 1,
                    b']' => {
                        self.pos += 1;
                        return Ok(records);
                    }
                    _ => return Err(self.expected("',' or ']'")),
                }
            }
        }

        fn record(&mut self, depth: u32) -> Result<RecordRef<'a>, EventError> {
            let mut rec = RecordRef::default();
            let mut seen = [false; 3];
            self.object(depth, "a record", &["data", "recordId", "approximateArrivalTimestamp"], &mut |r, key, depth| {
                let i = match key {
                    "recordId" => 0,
                    "approximateArrivalTimestamp" => 1,
                    "data" => 2,
                    _ => return r.skip(depth),
                };
                if std::mem::replace(&mut seen[i], true) {
                    return Err(r.shape(format!("duplicate field `{key}`")));
                }
                match i {
                    0 => rec.record_id = r.string(depth)?,
                    1 => {
                        rec.approximate_arrival_timestamp = match r.value(depth)? {
                            Raw::Num(f) => Some(f as i64),
                            Raw::Str { start, end, escaped } => ms_of_str(&r.text(start, end, escaped)),
                            _ => None,
                        }
                    }
                    _ => rec.data = r.string_bytes(depth)?,
                }
                Ok(())
            })?;
            if !seen[0] {
                return Err(self.shape("missing field `recordId`".into()));
            }
            Ok(rec)
        }
    }
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

    /// What serde_json makes of `body` as an [`EventRef`], the reference `from_body` follows.
    fn agree(body: &[u8]) {
        let theirs = serde_json::from_slice::<EventRef>(body);
        let ours = EventRef::from_body(body);
        let text = String::from_utf8_lossy(body);
        match (theirs, ours) {
            (Ok(t), Ok(o)) => assert_eq!(t, o, "{text}"),
            (Err(_), Err(_)) => {}
            (Err(e), Ok(o)) => panic!("accepted what serde_json refuses ({e}): {text}\n{o:?}"),
            (Ok(_), Err(e)) => {
                // Refused where serde_json reads the event: only an event or record written as an array of
                // its values, or a body its `Value` refuses (serde_json does not check the strings of
                // members it ignores for UTF-8 or lone surrogates).
                let as_array = |v: &serde_json::Value| v.is_array() || v["records"].as_array().is_some_and(|r| r.iter().any(|r| r.is_array()));
                let excused = serde_json::from_slice::<serde_json::Value>(body).map_or(true, |v| as_array(&v));
                assert!(excused, "refused ({e}) what serde_json reads: {text}");
            }
        }
    }

    #[test]
    fn the_event_reader_reads_what_serde_json_reads() {
        let bases: [&[u8]; 5] = [
            br#"{"invocationId":"inv","deliveryStreamArn":"arn:aws:firehose:us-east-1:1:deliverystream/s","region":"us-east-1","records":[{"recordId":"1","approximateArrivalTimestamp":1495072949453,"data":"SGk="},{"recordId":"b\"2","approximateArrivalTimestamp":"2012-04-23T18:25:43.511Z","data":"SGk=","kinesisRecordMetadata":{"shardId":"s","subsequenceNumber":""}}]}"#,
            b" {\n \"record\\u0073\" : [ { \"data\" : \"SGk=\" , \"recordId\" : \"\\u00e9\" , \"approximateArrivalTimestamp\" : 1668093033.744 } , {\"recordId\":\"x\",\"approximateArrivalTimestamp\":null} ] ,\"sourceKinesisStreamArn\":null, \"x\":[1,{\"a\":[]},true]}\t",
            br#"{"records":[{"recordId":"","approximateArrivalTimestamp":" 1495072949453 ","data":""},{"approximateArrivalTimestamp":-1e3,"recordId":"z"}],"invocationId":"\ud83d\ude00"}"#,
            br#"{"records":[]}"#,
            b"{}",
        ];
        let mut checked = 0;
        for base in bases {
            agree(base);
            let mut body = base.to_vec();
            for i in 0..base.len() {
                agree(&base[..i]);
                body.remove(i);
                agree(&body);
                body.insert(i, base[i]);
                for &c in b" \"\\{}[],:01-.eEntuf\x01\x7f\xc3\xff" {
                    body[i] = c;
                    agree(&body);
                    checked += 1;
                }
                body[i] = base[i];
            }
        }
        assert!(checked > 5000);
        // What a caller is told.
        let e = EventRef::from_body(br#"{"records":[{"data":"SGk="}]}"#).unwrap_err();
        assert_eq!(e.to_string(), "missing field `recordId` at byte 27");
        let e = EventRef::from_body(br#"{"records":{}}"#).unwrap_err();
        assert_eq!(e.to_string(), "`records` is not an array at byte 11");
        let e = EventRef::from_body(b"{\"records\":[{\"recordId\":\"1\",\"data\":\"SG\x01k=\"}]}").unwrap_err();
        assert_eq!(e.to_string(), "control character in string at byte 38");
        assert!(EventRef::from_body(b"[]").is_err());
    }

    #[test]
    fn response_json_is_written_as_it_is() {
        let mut w = ResponseWriter::with_capacity(0);
        let ids = IdLiterals::new(["a\"1", "2", "3"].into_iter());
        w.entry(ids.get(0), FirehoseResult::Dropped, b"");
        w.entry_base64(ids.get(1), FirehoseResult::Ok, &[br#"{"event":"x"}"#]);
        w.entry(ids.get(2), FirehoseResult::ProcessingFailed, "not base64 \u{1}".as_bytes());
        let json = w.finish();
        let body = json.as_bytes().to_vec();
        // What the runtime sends: the bytes written, as serde_json sends a `RawValue` of them.
        assert_eq!(serde_json::to_vec(&json).unwrap(), body);
        let raw = serde_json::value::RawValue::from_string(json.as_str().to_string()).unwrap();
        assert_eq!(serde_json::to_vec(&json).unwrap(), serde_json::to_vec(&raw).unwrap());
        // Inside another value too, as any serializer's caller would put it.
        assert_eq!(serde_json::to_string(&[&json]).unwrap(), format!("[{}]", json.as_str()));
        assert!(ResponseJson::new(vec![0xff]).is_err());
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
            assert_eq!(serde_json::to_string(&r).unwrap().len(), ResponseRecord::serialized_len_with("1", r.result, data.as_bytes()), "{data:?}");
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
