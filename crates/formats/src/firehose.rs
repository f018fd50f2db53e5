//! Firehose record data → log records: base64, then gzip or zlib (sniffed by magic bytes), then one of
//! a CloudWatch Logs subscription message, newline-delimited JSON (one object or Fluent Bit's
//! `simple_aggregation`) or plain text lines.
//!
//! Pure and free of Lambda and AWS types: the Lambda decodes each record with it, and the CLI reads
//! captured invocations ([`read_captured`]) with the same code, so `logtrim report` on a saved event
//! sees exactly the records the function saw.
//!
//! # What a record is
//!
//! - NDJSON and text: one line, without its `\n` (and a trailing `\r`). Blank lines are skipped.
//! - CloudWatch Logs: one log event, presented to the rules as a JSON object built by
//!   [`cloudwatch_record`]: `{"cloudwatch":{"id":…,"logGroup":…,"logStream":…},…}` followed by the
//!   members of the message when the message is a JSON object, or by `"log":"<message>"` otherwise.
//!   So `log.*` rules read CloudWatch events the way they read Fluent Bit records, rules can select on
//!   `cloudwatch.logGroup`, and — because the record carries the event id — a sampling rule without a
//!   `key` hashes a value that is unique per event and identical when the event comes back through
//!   re-ingestion (never arrival order or time).

use std::cell::{Cell, RefCell};
use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::read::{MultiGzDecoder, ZlibDecoder};
use logtrim_core::record::json::push_json_str;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// Decompressed payloads larger than this are refused (a decompression bomb, or a CloudWatch payload
/// far beyond what Firehose can hand over): the record fails with [`DecodeError::TooLarge`] and keeps
/// its original bytes.
pub const MAX_DECOMPRESSED: usize = 64 << 20;

/// Why a record's data could not be decoded. The record is answered `ProcessingFailed` with its
/// original data.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// Not canonical standard base64 (bad padding, bad characters, trailing bits).
    #[error("invalid base64: {0}")]
    Base64(String),
    /// The gzip magic was there but the stream is corrupt or truncated.
    #[error("corrupt gzip data: {0}")]
    Gzip(String),
    /// The zlib header was there but the stream is corrupt or truncated.
    #[error("corrupt zlib data: {0}")]
    Zlib(String),
    /// Decompressed data exceeds the limit.
    #[error("decompressed data exceeds {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A CloudWatch Logs message of a type other than `DATA_MESSAGE` or `CONTROL_MESSAGE`.
    #[error("unknown CloudWatch Logs messageType {0:?}")]
    UnknownMessageType(String),
    /// A CloudWatch Logs `DATA_MESSAGE` without `logEvents`.
    #[error("CloudWatch Logs DATA_MESSAGE has no logEvents")]
    NoLogEvents,
    /// A JSON record (a line starting with `{`) that is not valid JSON.
    #[error("line {line}: invalid JSON: {message}")]
    Json {
        /// 1-based line number within the decompressed data.
        line: usize,
        /// serde_json's message.
        message: String,
    },
}

/// How the data was compressed; re-ingested chunks are compressed the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Plain bytes.
    None,
    /// gzip (`1f 8b`), as CloudWatch Logs subscriptions and Fluent Bit's `compression gzip` send.
    Gzip,
    /// zlib (`78 01|5e|9c|da`), as some captured CloudWatch fixtures are.
    Zlib,
}

/// One decoded Firehose record.
#[derive(Debug)]
pub struct Decoded {
    /// How the data was compressed.
    pub compression: Compression,
    /// What it held.
    pub payload: Payload,
}

/// What a Firehose record held.
#[derive(Debug)]
pub enum Payload {
    /// NDJSON or text lines (decompressed bytes); see [`Payload::lines`].
    Lines(Vec<u8>),
    /// A CloudWatch Logs `DATA_MESSAGE`.
    CloudWatch(CloudWatchData),
    /// A CloudWatch Logs `CONTROL_MESSAGE` (a reachability probe; carries no log data).
    CloudWatchControl,
}

impl Payload {
    /// The records of a [`Payload::Lines`] payload with their 1-based line numbers: each line without
    /// `\n` or a trailing `\r`; blank lines skipped. Empty for other payloads.
    pub fn lines(&self) -> impl Iterator<Item = (usize, &[u8])> {
        let bytes: &[u8] = match self {
            Payload::Lines(b) => b,
            _ => &[],
        };
        // PERF: newlines found by memchr, not byte by byte.
        let ends = memchr::memchr_iter(b'\n', bytes).chain(std::iter::once(bytes.len()));
        let mut start = 0;
        ends.map(move |end| {
            let l = &bytes[start..end];
            start = end + 1;
            l
        })
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix(b"\r").unwrap_or(l)))
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
    }
}

/// A CloudWatch Logs subscription `DATA_MESSAGE`, as documented, keeping unknown members (e.g.
/// `policyLevel`) so a split re-ingested chunk carries them too.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CloudWatchData {
    /// Always `DATA_MESSAGE` here.
    pub message_type: String,
    /// The AWS account id of the log group.
    #[serde(default)]
    pub owner: String,
    /// The log group name.
    #[serde(default)]
    pub log_group: String,
    /// The log stream name.
    #[serde(default)]
    pub log_stream: String,
    /// The subscription filters that matched.
    #[serde(default)]
    pub subscription_filters: Vec<String>,
    /// The log events.
    pub log_events: Vec<LogEvent>,
    /// Members this type does not know.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// One CloudWatch Logs event.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct LogEvent {
    /// Unique per event and stable: the sampling key of last resort.
    pub id: String,
    /// Epoch milliseconds.
    pub timestamp: i64,
    /// The log line.
    pub message: String,
}

/// Only the discriminating members, to tell a CloudWatch message from an NDJSON record.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    message_type: String,
    log_events: Option<serde::de::IgnoredAny>,
}

/// Decodes Firehose's base64 `data` strictly (canonical padding): bad padding fails this record only.
pub fn decode_base64(data: impl AsRef<[u8]>) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    decode_base64_into(data.as_ref(), &mut out)?;
    Ok(out)
}

/// [`decode_base64`] into `out` (cleared first), reusing its capacity.
///
/// PERF: SIMD (AVX-512 VBMI, else `base64-simd`'s AVX2 or SSE4.1, chosen at run time) decodes about
/// ten times faster than the `base64` crate's engine; both accept exactly canonical padded standard
/// base64 (a property test compares them). The `base64` crate only words the error.
pub fn decode_base64_into(data: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
    out.clear();
    match crate::base64_simd512::decode_append(data, out) {
        Ok(()) => Ok(()),
        Err(_) => {
            out.clear();
            match STANDARD.decode_vec(data, out) {
                Err(e) => Err(DecodeError::Base64(e.to_string())),
                Ok(()) => Err(DecodeError::Base64("not canonical".into())),
            }
        }
    }
}

/// Encodes bytes as standard padded base64.
pub fn encode_base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(base64_len(bytes.len()));
    encode_base64_into_string(bytes, &mut out);
    out
}

/// Appends the standard padded base64 of `bytes` to `out` (SIMD, as [`decode_base64_into`]).
pub fn encode_base64_into(bytes: &[u8], out: &mut Vec<u8>) {
    crate::base64_simd512::encode_append(bytes, out);
}

/// [`encode_base64_into`] onto a `String`.
pub fn encode_base64_into_string(bytes: &[u8], out: &mut String) {
    // SAFETY: base64 is ASCII, so the bytes appended keep `out` UTF-8, whatever point the encoder
    // reaches.
    crate::base64_simd512::encode_append(bytes, unsafe { out.as_mut_vec() });
}

/// The length [`encode_base64`] gives for `n` bytes.
pub fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Sniffs the compression from magic bytes.
pub fn sniff(bytes: &[u8]) -> Compression {
    match bytes {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [0x78, 0x01 | 0x5e | 0x9c | 0xda, ..] => Compression::Zlib,
        _ => Compression::None,
    }
}

/// Decompresses per [`sniff`], refusing more than `limit` bytes of output. A zlib header whose second
/// byte is printable (`x^`) that does not inflate is taken to be text that starts with `x^`.
///
/// Whether such a payload is text must not depend on the cap: past the cap its stream is inflated to the
/// end without keeping the output, and only a stream that inflates cleanly is `TooLarge`. The work is
/// bounded by deflate's largest expansion of the input, the memory by the cap.
pub fn decompress(bytes: Vec<u8>, limit: usize) -> Result<(Compression, Vec<u8>), DecodeError> {
    fn read_all(mut r: impl Read, limit: usize, hint: usize, drain: bool) -> std::io::Result<Result<Vec<u8>, DecodeError>> {
        // Grown by doubling, but never past the cap (and the one byte that shows it is exceeded): left to
        // itself `read_to_end` would double past it, to twice the cap, with the old buffer still held.
        let max = limit + 1;
        let mut out = Vec::with_capacity(hint.min(max));
        loop {
            let room = out.capacity() - out.len();
            let n = (&mut r).take(room as u64).read_to_end(&mut out)?;
            if n < room || out.len() >= max {
                break;
            }
            let want = (out.capacity() * 2).max(64 << 10).min(max);
            out.reserve_exact(want - out.len());
        }
        if out.len() <= limit {
            return Ok(Ok(out));
        }
        if drain {
            std::io::copy(&mut r, &mut std::io::sink())?;
        }
        Ok(Err(DecodeError::TooLarge { limit }))
    }
    match sniff(&bytes) {
        Compression::None => Ok((Compression::None, bytes)),
        Compression::Gzip => match read_all(MultiGzDecoder::new(&bytes[..]), limit, bytes.len() * 8, false) {
            Ok(r) => r.map(|out| (Compression::Gzip, out)),
            Err(e) => Err(DecodeError::Gzip(e.to_string())),
        },
        Compression::Zlib => {
            let maybe_text = bytes[1] == b'^';
            match read_all(ZlibDecoder::new(&bytes[..]), limit, bytes.len() * 8, maybe_text) {
                Ok(r) => r.map(|out| (Compression::Zlib, out)),
                Err(_) if maybe_text => Ok((Compression::None, bytes)),
                Err(e) => Err(DecodeError::Zlib(e.to_string())),
            }
        }
    }
}

/// Compresses a re-ingested chunk the way its original was compressed.
pub fn compress(c: Compression, bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    match c {
        Compression::None => bytes.to_vec(),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(bytes).expect("writing to a Vec cannot fail");
            e.finish().expect("writing to a Vec cannot fail")
        }
        Compression::Zlib => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(bytes).expect("writing to a Vec cannot fail");
            e.finish().expect("writing to a Vec cannot fail")
        }
    }
}

/// Decodes raw (base64-decoded) record data: decompress, then classify.
///
/// A payload is CloudWatch Logs when it is a single JSON object with a string `messageType` and (for
/// `DATA_MESSAGE`) `logEvents`; anything else is lines. Lines are not validated here: a line starting
/// with `{` is checked as JSON when it is encoded.
pub fn decode(raw: Vec<u8>, limit: usize) -> Result<Decoded, DecodeError> {
    let (compression, bytes) = decompress(raw, limit)?;
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    // PERF: the searcher is built once, not for every record.
    static MESSAGE_TYPE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"messageType\""));
    if bytes[start..].starts_with(b"{")
        && MESSAGE_TYPE.find(&bytes).is_some()
        && let Ok(p) = serde_json::from_slice::<Probe>(&bytes)
    {
        let payload = match p.message_type.as_str() {
            "CONTROL_MESSAGE" => Payload::CloudWatchControl,
            "DATA_MESSAGE" if p.log_events.is_none() => return Err(DecodeError::NoLogEvents),
            "DATA_MESSAGE" => match serde_json::from_slice::<CloudWatchData>(&bytes) {
                Ok(d) => Payload::CloudWatch(d),
                Err(e) => return Err(DecodeError::Json { line: e.line(), message: e.to_string() }),
            },
            other => return Err(DecodeError::UnknownMessageType(other.to_string())),
        };
        return Ok(Decoded { compression, payload });
    }
    Ok(Decoded { compression, payload: Payload::Lines(bytes) })
}

/// [`decode_base64`] then [`decode`].
pub fn decode_data(data: impl AsRef<[u8]>, limit: usize) -> Result<Decoded, DecodeError> {
    decode(decode_base64(data)?, limit)
}

/// Whether a line is to be read as JSON (it starts with `{`, after blanks).
pub fn is_json_line(line: &[u8]) -> bool {
    line.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Builds the record the rules see for one CloudWatch Logs event into `buf` (cleared first); see the
/// module docs for its shape. Deterministic: the same event always gives the same bytes.
pub fn cloudwatch_record(data: &CloudWatchData, event: &LogEvent, buf: &mut Vec<u8>) {
    buf.clear();
    buf.extend_from_slice(b"{\"cloudwatch\":{\"id\":");
    push_json_str(buf, event.id.as_bytes());
    buf.extend_from_slice(b",\"logGroup\":");
    push_json_str(buf, data.log_group.as_bytes());
    buf.extend_from_slice(b",\"logStream\":");
    push_json_str(buf, data.log_stream.as_bytes());
    buf.push(b'}');
    let m = event.message.trim();
    let object = m.starts_with('{')
        && m.ends_with('}')
        && serde_json::from_str::<serde::de::IgnoredAny>(m).is_ok();
    if object {
        let inner = m[1..m.len() - 1].trim();
        if !inner.is_empty() {
            buf.push(b',');
            buf.extend_from_slice(inner.as_bytes());
        }
        buf.push(b'}');
    } else {
        buf.extend_from_slice(b",\"log\":");
        push_json_str(buf, event.message.as_bytes());
        buf.push(b'}');
    }
}


/// A captured document the CLI can read as input, told apart by its first bytes ([`sniff_captured`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapturedKind {
    /// A Firehose data-transformation invocation event: `{"invocationId":…,"records":[{"recordId":…,"data":…}]}`.
    FirehoseEvent,
    /// A CloudWatch Logs subscription payload (`DATA_MESSAGE`), gzip-compressed as delivered or plain.
    CloudWatch,
}

/// How much of an input [`sniff_captured`] wants to see.
pub const SNIFF_BYTES: usize = 64 << 10;

/// Whether an input starts like a captured document: one JSON object (possibly gzip or zlib) with a
/// `"recordId"` member (a Firehose event) or a `"messageType"` member (a CloudWatch Logs payload) in its
/// first [`SNIFF_BYTES`]. A JSON-lines record that merely mentions these words inside a string does not
/// match (its quotes are escaped there). A false positive costs nothing: [`read_captured`] then fails
/// and the input is read as lines.
pub fn sniff_captured(prefix: &[u8]) -> Option<CapturedKind> {
    let mut plain = Vec::new();
    let text: &[u8] = match sniff(prefix) {
        Compression::None => prefix,
        c => {
            // The prefix ends mid-stream: keep whatever inflates before the cut.
            let mut buf = [0u8; 8192];
            let mut r: Box<dyn Read> = match c {
                Compression::Gzip => Box::new(MultiGzDecoder::new(prefix)),
                _ => Box::new(ZlibDecoder::new(prefix)),
            };
            while plain.len() < SNIFF_BYTES {
                match r.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => plain.extend_from_slice(&buf[..n]),
                }
            }
            &plain
        }
    };
    let start = text.iter().position(|b| !b.is_ascii_whitespace())?;
    if text[start] != b'{' {
        return None;
    }
    if memchr::memmem::find(text, b"\"recordId\"").is_some() {
        Some(CapturedKind::FirehoseEvent)
    } else if memchr::memmem::find(text, b"\"messageType\"").is_some() {
        Some(CapturedKind::CloudWatch)
    } else {
        None
    }
}

/// What [`read_captured`] found in a captured document besides the records it handed over.
#[derive(Debug, Default)]
pub struct Captured {
    /// Records handed over: NDJSON or text lines, and CloudWatch Logs events.
    pub records: u64,
    /// Firehose records read.
    pub firehose_records: u64,
    /// Firehose records that could not be decoded (the Lambda answers them `ProcessingFailed`), by
    /// `recordId`: the first [`FAILED_LISTED`] of them.
    pub failed: Vec<(String, DecodeError)>,
    /// How many Firehose records could not be decoded, listed or not.
    pub failed_count: u64,
    /// Firehose records without `data`, read as empty as the Lambda reads them (it answers them
    /// `Dropped`).
    pub without_data: u64,
    /// CloudWatch Logs `CONTROL_MESSAGE`s (no log data; the Lambda drops them).
    pub control_messages: u64,
    /// Bytes of the document read, as stored (compressed or not).
    pub bytes_in: u64,
    /// Why the document was not read to its end; what is counted above was read before.
    pub error: Option<CapturedError>,
    /// When the document turned out not to be of the kind asked for before any of its records was read:
    /// the bytes taken from the input, to be read again as lines followed by the rest of the input.
    pub unread: Option<Vec<u8>>,
}

/// How many undecodable Firehose records [`Captured::failed`] lists.
pub const FAILED_LISTED: usize = 100;

/// Why a captured document could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum CapturedError {
    /// Not a Firehose transformation event.
    #[error("not a Firehose transformation event: {0}")]
    NotFirehoseEvent(String),
    /// Not a CloudWatch Logs subscription payload.
    #[error("not a CloudWatch Logs subscription payload: {0}")]
    NotCloudWatch(String),
    /// A Firehose record longer than any record whose data could decode within the cap.
    #[error("a Firehose record is longer than {limit} bytes of JSON: its data could not decode within the cap")]
    RecordTooLarge {
        /// The longest record read, in bytes.
        limit: u64,
    },
    /// Reading the document failed (I/O, or its gzip or zlib stream is corrupt).
    #[error("cannot read the document: {0}")]
    Io(#[source] std::io::Error),
}

impl CapturedError {
    /// Whether the document is simply not of the kind asked for (rather than broken or unreadable).
    pub fn is_other_kind(&self) -> bool {
        matches!(self, CapturedError::NotFirehoseEvent(_) | CapturedError::NotCloudWatch(_))
    }
}

/// One Firehose record of a saved invocation event; other members are ignored. A missing `data` is
/// read as empty, as the Lambda's request type reads it.
#[derive(Deserialize)]
struct SavedRecord {
    #[serde(rename = "recordId")]
    record_id: String,
    data: Option<String>,
}

/// A record's JSON beyond the base64 of the cap: its id and other members.
const RECORD_SLACK: u64 = 64 << 10;

/// Reads a captured document of the given kind from `input` (plain, gzip or zlib), handing each record
/// to `each` in order, as the Lambda's rules see it: each NDJSON or text line, and each CloudWatch Logs
/// event as built by [`cloudwatch_record`]. A Firehose event is read one record at a time, each decoded
/// with the Lambda's own [`decode_data`] and its `limit` (the Lambda's is [`MAX_DECOMPRESSED`]), so
/// memory holds one record whatever the document's size; a record that does not decode is counted in
/// [`Captured::failed`]. A CloudWatch Logs payload is one record: it is read whole, up to `limit`.
///
/// The document failing part-way is not an error of this function: [`Captured::error`] says why, after
/// the records read before; an error from `each` stops the reading and is returned.
pub fn read_captured<R: Read, E>(
    kind: CapturedKind,
    input: R,
    limit: usize,
    mut each: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<Captured, E> {
    let mut out = Captured::default();
    match kind {
        CapturedKind::FirehoseEvent => read_event(input, limit, &mut each, &mut out)?,
        CapturedKind::CloudWatch => read_cloudwatch(input, limit, &mut each, &mut out)?,
    }
    Ok(out)
}

/// Hands over the records a decoded payload holds.
fn emit<E>(payload: &Payload, scratch: &mut Vec<u8>, each: &mut dyn FnMut(&[u8]) -> Result<(), E>, out: &mut Captured) -> Result<(), E> {
    match payload {
        Payload::Lines(_) => {
            for (_, l) in payload.lines() {
                out.records += 1;
                each(l)?;
            }
        }
        Payload::CloudWatch(cw) => {
            for ev in &cw.log_events {
                cloudwatch_record(cw, ev, scratch);
                out.records += 1;
                each(scratch)?;
            }
        }
        Payload::CloudWatchControl => out.control_messages += 1,
    }
    Ok(())
}

fn read_cloudwatch<R: Read, E>(input: R, limit: usize, each: &mut dyn FnMut(&[u8]) -> Result<(), E>, out: &mut Captured) -> Result<(), E> {
    let mut bytes = Vec::new();
    // More than `limit` stored bytes cannot decode within it (compression only ever helps a little on
    // data that does not compress), and the read stops there.
    if let Err(e) = input.take(limit as u64 + 1).read_to_end(&mut bytes) {
        out.error = Some(CapturedError::Io(e));
        return Ok(());
    }
    out.bytes_in = bytes.len() as u64;
    match decode(bytes, limit) {
        Ok(Decoded { payload: p @ (Payload::CloudWatch(_) | Payload::CloudWatchControl), .. }) => emit(&p, &mut Vec::new(), each, out)?,
        Ok(Decoded { payload: Payload::Lines(plain), .. }) => {
            out.error = Some(CapturedError::NotCloudWatch("no \"messageType\" member".into()));
            // Decompressed, the document reads as the same lines.
            out.unread = Some(plain);
        }
        Err(e) => out.error = Some(CapturedError::NotCloudWatch(e.to_string())),
    }
    Ok(())
}

/// What a Firehose event's reading shares between its layers: the deserializer, the visitor, and the
/// readers underneath.
struct EventState<'a, E> {
    limit: usize,
    each: &'a mut dyn FnMut(&[u8]) -> Result<(), E>,
    out: &'a mut Captured,
    /// The error `each` returned, carried out of the deserializer.
    stopped: Option<E>,
    scratch: Vec<u8>,
}

/// The input as stored, kept while no record has been read (so a document of another kind can be read
/// again as lines), and counted.
struct Tee<'a, R> {
    inner: R,
    kept: &'a RefCell<Option<Vec<u8>>>,
    read_one: &'a Cell<bool>,
    bytes: &'a Cell<u64>,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.set(self.bytes.get() + n as u64);
        let mut kept = self.kept.borrow_mut();
        if self.read_one.get() {
            *kept = None;
        } else if let Some(k) = kept.as_mut() {
            k.extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }
}

/// The decompressed document, refusing to read more than `bound` bytes for one record: the JSON
/// string of a record's `data` is held whole while it is parsed.
struct Bounded<'a, R> {
    inner: R,
    since: &'a Cell<u64>,
    bound: u64,
}

impl<R: Read> Read for Bounded<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.since.get() > self.bound {
            return Err(std::io::Error::other("record too long"));
        }
        let n = self.inner.read(buf)?;
        self.since.set(self.since.get() + n as u64);
        Ok(n)
    }
}

fn read_event<R: Read, E>(input: R, limit: usize, each: &mut dyn FnMut(&[u8]) -> Result<(), E>, out: &mut Captured) -> Result<(), E> {
    let kept = RefCell::new(Some(Vec::new()));
    let (read_one, bytes, since) = (Cell::new(false), Cell::new(0), Cell::new(0));
    let bound = base64_len(limit) as u64 + RECORD_SLACK;
    let mut tee = Tee { inner: input, kept: &kept, read_one: &read_one, bytes: &bytes };
    let mut head = [0u8; 2];
    let mut n = 0;
    while n < head.len() {
        match tee.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                out.error = Some(CapturedError::Io(e));
                return Ok(());
            }
        }
    }
    let stored = std::io::Cursor::new(head[..n].to_vec()).chain(tee);
    let plain: Box<dyn Read + '_> = match sniff(&head[..n]) {
        Compression::None => Box::new(stored),
        Compression::Gzip => Box::new(MultiGzDecoder::new(stored)),
        Compression::Zlib => Box::new(ZlibDecoder::new(stored)),
    };
    let reader = std::io::BufReader::with_capacity(64 << 10, Bounded { inner: plain, since: &since, bound });
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut state = EventState { limit, each, out, stopped: None, scratch: Vec::new() };
    let result = EventSeed { state: &mut state, read_one: &read_one, since: &since }.deserialize(&mut de).and_then(|()| de.end());
    drop(de);
    let EventState { stopped, out, .. } = state;
    if let Some(e) = stopped {
        return Err(e);
    }
    out.bytes_in = bytes.get();
    if let Err(e) = result {
        out.error = Some(if since.get() > bound {
            CapturedError::RecordTooLarge { limit: bound }
        } else if e.is_io() {
            CapturedError::Io(e.into())
        } else {
            CapturedError::NotFirehoseEvent(e.to_string())
        });
        if out.firehose_records == 0 && out.error.as_ref().is_some_and(CapturedError::is_other_kind) {
            out.unread = kept.borrow_mut().take();
        }
    }
    Ok(())
}

/// The event object: its `records` array is read element by element; other members are skipped.
struct EventSeed<'s, 'a, E> {
    state: &'s mut EventState<'a, E>,
    read_one: &'s Cell<bool>,
    since: &'s Cell<u64>,
}

impl<'de, E> DeserializeSeed<'de> for EventSeed<'_, '_, E> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, E> Visitor<'de> for EventSeed<'_, '_, E> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a Firehose transformation event")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut records = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "records" && !records {
                records = true;
                map.next_value_seed(RecordsSeed { state: &mut *self.state, read_one: self.read_one, since: self.since })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if !records {
            return Err(serde::de::Error::missing_field("records"));
        }
        Ok(())
    }
}

/// The `records` array: each record decoded and handed over as soon as it is read.
struct RecordsSeed<'s, 'a, E> {
    state: &'s mut EventState<'a, E>,
    read_one: &'s Cell<bool>,
    since: &'s Cell<u64>,
}

impl<'de, E> DeserializeSeed<'de> for RecordsSeed<'_, '_, E> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, E> Visitor<'de> for RecordsSeed<'_, '_, E> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of Firehose records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let st = self.state;
        while let Some(r) = seq.next_element::<SavedRecord>()? {
            self.read_one.set(true);
            self.since.set(0);
            st.out.firehose_records += 1;
            let data = r.data.unwrap_or_else(|| {
                st.out.without_data += 1;
                String::new()
            });
            let step = match decode_data(&data, st.limit) {
                Ok(d) => emit(&d.payload, &mut st.scratch, st.each, st.out),
                Err(e) => {
                    st.out.failed_count += 1;
                    if st.out.failed.len() < FAILED_LISTED {
                        st.out.failed.push((r.record_id, e));
                    }
                    Ok(())
                }
            };
            if let Err(e) = step {
                st.stopped = Some(e);
                return Err(serde::de::Error::custom("stopped by the reader's caller"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gz(b: &[u8]) -> Vec<u8> {
        compress(Compression::Gzip, b)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 4096, failure_persistence: None, ..Default::default() })]
        /// The SIMD codec agrees with the `base64` crate: same bytes out, same text accepted — on
        /// encodings of random bytes and on them mutated (a byte replaced by any byte, or cut short).
        #[test]
        fn simd_base64_agrees_with_the_base64_crate(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
            at in 0usize..300, with in proptest::num::u8::ANY, cut in 0usize..300,
        ) {
            let text = STANDARD.encode(&bytes);
            proptest::prop_assert_eq!(encode_base64(&bytes), text.clone());
            let mut appended = b"x".to_vec();
            encode_base64_into(&bytes, &mut appended);
            proptest::prop_assert_eq!(&appended[1..], text.as_bytes());
            proptest::prop_assert_eq!(decode_base64(&text).unwrap(), bytes);
            let mut mutated = text.clone().into_bytes();
            if !mutated.is_empty() {
                let i = at % mutated.len();
                mutated[i] = with;
                mutated.truncate(cut.max(i + 1));
            }
            let mut out = Vec::new();
            let ours = decode_base64_into(&mutated, &mut out).map(|()| out);
            proptest::prop_assert_eq!(ours.ok(), STANDARD.decode(&mutated).ok(), "{:?}", String::from_utf8_lossy(&mutated));
        }
    }

    #[test]
    fn base64_is_strict_about_padding() {
        assert_eq!(decode_base64("SGVsbG8gV29ybGQ=").unwrap(), b"Hello World");
        // One leftover character then "==": what a strict decoder must reject.
        assert!(matches!(decode_base64("SGVsbG8gV29ybGQx="), Err(DecodeError::Base64(_))));
        assert!(matches!(decode_base64("SGVsbG8gV29ybGQ"), Err(DecodeError::Base64(_))));
        // Non-zero bits after the last byte are not canonical.
        assert_eq!(decode_base64("SGk=").unwrap(), b"Hi");
        assert!(matches!(decode_base64("SGl="), Err(DecodeError::Base64(_))));
        assert!(matches!(decode_base64("SGk=SGk="), Err(DecodeError::Base64(_))));
        assert_eq!(base64_len(0), 0);
        assert_eq!(base64_len(11), encode_base64(b"Hello World").len());
    }

    #[test]
    fn sniffs_and_round_trips_compression() {
        for c in [Compression::None, Compression::Gzip, Compression::Zlib] {
            let data = compress(c, b"{\"log\":\"a\"}\n");
            assert_eq!(sniff(&data), c);
            assert_eq!(decompress(data, 1 << 20).unwrap(), (c, b"{\"log\":\"a\"}\n".to_vec()));
        }
    }

    #[test]
    fn corrupt_gzip_and_zlib_fail() {
        let mut bad = gz(b"hello world hello world");
        bad.truncate(bad.len() - 6);
        assert!(matches!(decompress(bad, 1 << 20), Err(DecodeError::Gzip(_))));
        assert!(matches!(decompress(vec![0x1f, 0x8b, 1, 2, 3], 1 << 20), Err(DecodeError::Gzip(_))));
        assert!(matches!(decompress(vec![0x78, 0x9c, 1, 2, 3], 1 << 20), Err(DecodeError::Zlib(_))));
        // Text that happens to start with a valid zlib header byte pair.
        assert_eq!(decompress(b"x^2 + 1".to_vec(), 1 << 20).unwrap().1, b"x^2 + 1");
    }

    /// The output buffer grows to the cap at most, not to twice it.
    #[test]
    fn decompression_grows_no_further_than_the_cap() {
        for n in [0, 1, 1000, 100_000, 1 << 20] {
            let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            let cap = n.max(1);
            let (c, out) = decompress(compress(Compression::Gzip, &data), cap).unwrap();
            assert_eq!((c, &out[..]), (Compression::Gzip, &data[..]));
            assert!(out.capacity() <= cap + 1, "{} bytes held for a cap of {cap}", out.capacity());
            assert_eq!(decompress(compress(Compression::Gzip, &data), n.saturating_sub(1).max(1)).is_err(), n > 1);
        }
    }

    /// Fuzz finding F4: text starting `x^` whose bytes inflate past the cap before the stream breaks was
    /// `TooLarge` under a small cap and text under a large one.
    #[test]
    fn text_or_zlib_does_not_depend_on_the_cap() {
        let data = base64::engine::general_purpose::STANDARD
            .decode("eF4SEhISEhISEhISEiISEhISEhISEhISEhISEhISEhISEhISEhISEhISEhISEhISEhISEhISEhISEhUSEhI=")
            .unwrap();
        let large = decompress(data.clone(), 1 << 20).unwrap();
        assert_eq!(large, (Compression::None, data.clone()), "a broken stream is text");
        assert_eq!(decompress(data.clone(), 64), Ok(large), "the cap changed what the payload is");
        // A real zlib stream past the cap is still refused.
        // The second header byte only names the compression level (informative), so it can be `^`.
        let mut packed = compress(Compression::Zlib, &[b'a'; 1000]);
        packed[1] = b'^';
        assert_eq!(decompress(packed, 64), Err(DecodeError::TooLarge { limit: 64 }));
    }

    #[test]
    fn decompression_is_capped() {
        let big = gz(&vec![b'a'; 10_000]);
        assert_eq!(decompress(big, 1000), Err(DecodeError::TooLarge { limit: 1000 }));
    }

    #[test]
    fn lines_skip_blanks_and_carriage_returns() {
        let d = decode(b"{\"a\":1}\r\n\n  \n{\"a\":2}".to_vec(), 1 << 20).unwrap();
        let lines: Vec<_> = d.payload.lines().collect();
        assert_eq!(lines, vec![(1, &b"{\"a\":1}"[..]), (4, &b"{\"a\":2}"[..])]);
    }

    #[test]
    fn classifies_cloudwatch_messages() {
        let data = br#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":["f"],"logEvents":[{"id":"e1","timestamp":1,"message":"hi"}],"policyLevel":"ACCOUNT_LEVEL_POLICY"}"#;
        let d = decode(gz(data), 1 << 20).unwrap();
        assert_eq!(d.compression, Compression::Gzip);
        let Payload::CloudWatch(cw) = d.payload else { panic!("not cloudwatch") };
        assert_eq!(cw.log_events.len(), 1);
        assert_eq!(cw.other["policyLevel"], "ACCOUNT_LEVEL_POLICY");

        let control = br#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE"}]}"#;
        assert!(matches!(decode(gz(control), 1 << 20).unwrap().payload, Payload::CloudWatchControl));

        let other = br#"{"messageType":"SOMETHING","logEvents":[]}"#;
        assert!(matches!(decode(other.to_vec(), 1 << 20), Err(DecodeError::UnknownMessageType(_))));
        let empty = br#"{"messageType":"DATA_MESSAGE"}"#;
        assert_eq!(decode(empty.to_vec(), 1 << 20).unwrap_err(), DecodeError::NoLogEvents);

        // NDJSON whose records happen to carry a messageType member stays NDJSON.
        let nd = b"{\"messageType\":\"x\"}\n{\"messageType\":\"y\"}\n";
        assert!(matches!(decode(nd.to_vec(), 1 << 20).unwrap().payload, Payload::Lines(_)));
    }

    #[test]
    fn cloudwatch_record_shapes() {
        let data = CloudWatchData {
            message_type: "DATA_MESSAGE".into(),
            owner: "1".into(),
            log_group: "/eks/prod".into(),
            log_stream: "node-1".into(),
            subscription_filters: vec![],
            log_events: vec![],
            other: Default::default(),
        };
        let mut buf = Vec::new();
        let text = LogEvent { id: "42".into(), timestamp: 1, message: "GET / 200".into() };
        cloudwatch_record(&data, &text, &mut buf);
        assert_eq!(
            std::str::from_utf8(&buf).unwrap(),
            r#"{"cloudwatch":{"id":"42","logGroup":"/eks/prod","logStream":"node-1"},"log":"GET / 200"}"#
        );
        let obj = LogEvent { id: "43".into(), timestamp: 1, message: r#" {"log":"x","stream":"stderr"} "#.into() };
        cloudwatch_record(&data, &obj, &mut buf);
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["log"], "x");
        assert_eq!(v["cloudwatch"]["id"], "43");
        let empty = LogEvent { id: "44".into(), timestamp: 1, message: "{}".into() };
        cloudwatch_record(&data, &empty, &mut buf);
        serde_json::from_slice::<serde_json::Value>(&buf).unwrap();
        let broken = LogEvent { id: "45".into(), timestamp: 1, message: "{not json}".into() };
        cloudwatch_record(&data, &broken, &mut buf);
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&buf).unwrap()["log"], "{not json}");
    }

    #[test]
    fn captured_firehose_event_yields_the_records_the_lambda_sees() {
        let cw = br#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":[],"logEvents":[{"id":"e1","timestamp":1,"message":"hello"},{"id":"e2","timestamp":2,"message":"{\"level\":\"error\"}"}]}"#;
        let event = format!(
            r#"{{
  "invocationId": "inv",
  "deliveryStreamArn": "arn:aws:firehose:us-east-1:1:deliverystream/x",
  "region": "us-east-1",
  "records": [
    {{"recordId": "a", "approximateArrivalTimestamp": 1, "data": "{}"}},
    {{"recordId": "b", "approximateArrivalTimestamp": 1, "data": "{}"}},
    {{"recordId": "c", "approximateArrivalTimestamp": 1, "data": "bm90IGJhc2U2NA="}}
  ]
}}"#,
            encode_base64(b"{\"log\":\"one\"}\n{\"log\":\"two\"}\n"),
            encode_base64(&gz(cw)),
        );
        assert_eq!(sniff_captured(event.as_bytes()), Some(CapturedKind::FirehoseEvent));
        for input in [event.clone().into_bytes(), gz(event.as_bytes())] {
            let (c, recs) = read_all(CapturedKind::FirehoseEvent, &input, 1 << 20);
            assert_eq!(recs[..2], [r#"{"log":"one"}"#, r#"{"log":"two"}"#]);
            assert_eq!(recs[2], r#"{"cloudwatch":{"id":"e1","logGroup":"g","logStream":"s"},"log":"hello"}"#);
            assert_eq!(recs[3], r#"{"cloudwatch":{"id":"e2","logGroup":"g","logStream":"s"},"level":"error"}"#);
            assert_eq!((c.records, c.firehose_records, c.failed_count), (4, 3, 1));
            assert_eq!(c.failed[0].0, "c");
            assert!(matches!(c.failed[0].1, DecodeError::Base64(_)));
            assert!(c.error.is_none(), "{:?}", c.error);
            assert_eq!(c.bytes_in, input.len() as u64);
        }
    }

    fn read_all(kind: CapturedKind, input: &[u8], limit: usize) -> (Captured, Vec<String>) {
        let mut recs = Vec::new();
        let c = read_captured(kind, input, limit, |r| {
            recs.push(String::from_utf8(r.to_vec()).unwrap());
            Ok::<(), ()>(())
        })
        .unwrap();
        (c, recs)
    }

    fn event_of(records: &[String]) -> String {
        format!(r#"{{"invocationId":"i","records":[{}]}}"#, records.join(","))
    }

    #[test]
    fn r15_captured_records_decode_within_the_lambdas_cap_one_at_a_time() {
        // Records that inflate past the cap fail as the Lambda fails them, and the others still count.
        let bomb = encode_base64(&gz(&b"x\n".repeat(600_000)));
        let fine = encode_base64(b"{\"log\":\"ok\"}\n");
        let records: Vec<String> = [&bomb, &fine, &bomb]
            .iter()
            .enumerate()
            .map(|(i, d)| format!(r#"{{"recordId":"{i}","data":"{d}"}}"#))
            .collect();
        let (c, recs) = read_all(CapturedKind::FirehoseEvent, event_of(&records).as_bytes(), 1 << 20);
        assert_eq!(recs, [r#"{"log":"ok"}"#]);
        assert_eq!(c.failed_count, 2);
        assert_eq!(c.failed[0].1, DecodeError::TooLarge { limit: 1 << 20 });
        // Each record is handed over before the next one is read: a broken document stops after them.
        let broken = format!(r#"{{"records":[{},{{"recordId":"x","data":"#, records[1]);
        let (c, recs) = read_all(CapturedKind::FirehoseEvent, broken.as_bytes(), 1 << 20);
        assert_eq!(recs.len(), 1);
        assert!(matches!(c.error, Some(CapturedError::NotFirehoseEvent(_))), "{:?}", c.error);
        assert!(c.unread.is_none(), "records were read: it is not read again");
        // A record whose JSON is longer than any data that could decode within the cap stops the reading
        // without being held whole.
        let long = event_of(&[records[1].clone(), format!(r#"{{"recordId":"big","data":"{}"}}"#, "A".repeat(3 << 20))]);
        let (c, recs) = read_all(CapturedKind::FirehoseEvent, long.as_bytes(), 1 << 20);
        assert_eq!(recs.len(), 1);
        assert!(matches!(c.error, Some(CapturedError::RecordTooLarge { .. })), "{:?}", c.error);
    }

    #[test]
    fn r15_a_record_without_data_is_read_as_empty_like_the_lambda_reads_it() {
        let records = [r#"{"recordId":"a"}"#.to_string(), format!(r#"{{"recordId":"b","data":"{}"}}"#, encode_base64(b"line\n"))];
        let (c, recs) = read_all(CapturedKind::FirehoseEvent, event_of(&records).as_bytes(), 1 << 20);
        assert_eq!(recs, ["line"]);
        assert_eq!((c.firehose_records, c.without_data), (2, 1));
        assert!(c.error.is_none());
    }

    #[test]
    fn captured_cloudwatch_payload_is_sniffed_through_gzip() {
        let cw = br#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":[],"logEvents":[{"id":"e1","timestamp":1,"message":"hello"}]}"#;
        let z = gz(cw);
        // Only the first bytes of the stream are needed to tell.
        assert_eq!(sniff_captured(&z[..z.len() - 4]), Some(CapturedKind::CloudWatch));
        let (c, recs) = read_all(CapturedKind::CloudWatch, &z, 1 << 20);
        assert_eq!(recs.len(), 1);
        assert_eq!(c.records, 1);
        let control = gz(br#"{"messageType":"CONTROL_MESSAGE","logEvents":[]}"#);
        assert_eq!(read_all(CapturedKind::CloudWatch, &control, 1 << 20).0.control_messages, 1);
    }

    #[test]
    fn json_lines_mentioning_the_markers_are_not_captured_documents() {
        assert_eq!(sniff_captured(br#"{"log":"the \"recordId\" was x"}"#), None);
        assert_eq!(sniff_captured(b"recordId messageType"), None);
        assert_eq!(sniff_captured(b""), None);
        // A JSON-lines file whose records really have the key: sniffed, then handed back to be read as
        // lines, every byte taken from the input with it.
        let nd = b"{\"recordId\":\"1\"}\n{\"recordId\":\"2\"}\n".to_vec();
        assert_eq!(sniff_captured(&nd), Some(CapturedKind::FirehoseEvent));
        let (c, recs) = read_all(CapturedKind::FirehoseEvent, &nd, 1 << 20);
        assert!(recs.is_empty());
        assert!(matches!(c.error, Some(CapturedError::NotFirehoseEvent(_))), "{:?}", c.error);
        assert_eq!(c.unread.as_deref(), Some(&nd[..]));
        let nd = b"{\"messageType\":\"1\"}\n{\"messageType\":\"2\"}\n".to_vec();
        let c = read_all(CapturedKind::CloudWatch, &nd, 1 << 20).0;
        assert!(matches!(c.error, Some(CapturedError::NotCloudWatch(_))), "{:?}", c.error);
        assert_eq!(c.unread.as_deref(), Some(&nd[..]));
    }
}
