//! What a record says to the miner: where it came from, its message, and what it is (level, status).
//!
//! The reading follows the fields rules see with `parse: {log: [access, app]}` (docs/rules.md), with the
//! core's own JSON scanner, access-log parsers and level detection, so that what `suggest` calls a
//! warning or a 404 is what a rule's `log.level` or `log.status` calls one:
//!
//! - **source**: `kubernetes.namespace_name/kubernetes.container_name`, else `cloudwatch.logGroup`, else
//!   none (a plain text file);
//! - **`log` as an access log** (nginx, ingress-nginx, Envoy/Istio text or JSON): the request path is
//!   the message, mined by segments ([`Kind::Path`]); status, method, user agent and request id are kept;
//! - **`log` holding a JSON object**: its `msg` or `message` is the message (else the list of its keys),
//!   its level the first of the level keys that holds one, its `status` a number;
//! - **`log` as text**: the whole line is the message, its level read from its header;
//! - **a record without `log`**: its own `msg` or `message`, level keys and `status`, as above.
//!
//! Nothing is allocated per record once the buffers have grown, except for a JSON object without a
//! message, whose keys are listed with serde_json.

use logtrim_core::record::access::{self, AccessFields};
use logtrim_core::record::json::{Index, PathTrie, Raw, unescape};
use logtrim_core::record::level::{self, Level};

use crate::miner::Kind;

/// Where a message was found, which is what a rule must read to match it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Place {
    /// The `log` string itself, a text line (a plain text record is `{"log": <line>}` to rules).
    Log,
    /// A key of the JSON object in `log`: `log.msg`.
    LogKey(Key),
    /// A key of the record: `msg`.
    Top(Key),
    /// An access log in `log`: its path, `log.path`.
    Access,
    /// The keys of a JSON object without a message (in `log`, or the record itself).
    Keys,
}

/// A message key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// `msg`.
    Msg,
    /// `message`.
    Message,
}

impl Key {
    /// The key as written.
    pub fn name(self) -> &'static str {
        match self {
            Key::Msg => "msg",
            Key::Message => "message",
        }
    }
}

/// A field that identifies a request or a trace, usable as a sampling key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdField {
    /// An access log's request id, `log.request_id`.
    AccessRequestId,
    /// A key of the JSON object in `log` (`log.trace_id`); the index is into [`ID_KEYS`].
    LogKey(u8),
    /// A key of the record (`trace_id`).
    Top(u8),
}

/// Keys whose value names a request or trace, in the order they are preferred.
pub const ID_KEYS: [&str; 8] = ["trace_id", "traceId", "request_id", "requestId", "x_request_id", "correlation_id", "traceID", "req_id"];

/// What kind of source a record has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// A Kubernetes container: `kubernetes.namespace_name` and `kubernetes.container_name`.
    Kubernetes,
    /// A CloudWatch Logs group: `cloudwatch.logGroup`.
    LogGroup,
    /// None (a text file).
    None,
}

/// One record as the miner sees it. Borrows the reader's buffers.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    /// The source: `namespace/container`, a log group, or empty.
    pub source: &'a [u8],
    /// What `source` is.
    pub source_kind: SourceKind,
    /// For Kubernetes, where the namespace ends in `source` (the container follows a `/`).
    pub namespace_len: usize,
    /// A message or a path.
    pub kind: Kind,
    /// The message text; for an access log, its path's segments separated by spaces.
    pub text: &'a [u8],
    /// Where it was.
    pub place: Place,
    /// Its level, as `log.level` reads it.
    pub level: Option<Level>,
    /// Its HTTP status: an access log's, or a JSON message's `status` number.
    pub status: Option<u32>,
    /// The HTTP method of an access log.
    pub method: Option<&'a [u8]>,
    /// An access log from a Kubernetes probe (`kube-probe/` user agent).
    pub probe: bool,
    /// A request or trace id the record carries, usable as a sampling key.
    pub id: Option<IdField>,
    /// A line of a stack trace (`\tat …`, `Caused by: …`, `… 12 more`, an exception's first line, Python,
    /// Go, PHP and Ruby frames): part of an error even without a level of its own.
    pub stack: bool,
}

impl Message<'_> {
    /// Whether suggestions must never drop or sample it: level warn or above, status 400 or above, or a
    /// stack trace line.
    pub fn protected(&self) -> bool {
        self.level.is_some_and(|l| l >= Level::Warn) || self.status.is_some_and(|s| s >= 400) || self.stack
    }
}

// Record paths, by id in the trie.
const R_LOG: u16 = 0;
const R_NS: u16 = 1;
const R_CONTAINER: u16 = 2;
const R_GROUP: u16 = 3;
/// `msg`, `message`, then the level keys, `status`, then the id keys: the same order as [`inner_paths`].
const R_MSG: u16 = 4;

fn inner_paths() -> Vec<Vec<String>> {
    let mut p: Vec<Vec<String>> = vec![vec!["msg".into()], vec!["message".into()]];
    p.extend(level::LEVEL_KEYS.iter().map(|k| vec![k.to_string()]));
    p.push(vec!["status".into()]);
    p.extend(ID_KEYS.iter().map(|k| vec![k.to_string()]));
    p.push(vec!["response_code".into()]);
    p.push(vec!["path".into()]);
    p.push(vec!["method".into()]);
    p.push(vec!["request_id".into()]);
    p.push(vec!["user_agent".into()]);
    p
}

/// Offsets into [`inner_paths`].
const I_MSG: usize = 0;
const I_LEVELS: usize = 2;
const I_STATUS: usize = I_LEVELS + level::LEVEL_KEYS.len();
const I_IDS: usize = I_STATUS + 1;
const I_RESPONSE_CODE: usize = I_IDS + ID_KEYS.len();
const I_PATH: usize = I_RESPONSE_CODE + 1;
const I_METHOD: usize = I_PATH + 1;
const I_REQUEST_ID: usize = I_METHOD + 1;
const I_USER_AGENT: usize = I_REQUEST_ID + 1;
const I_LEN: usize = I_USER_AGENT + 1;

/// Longest path kept, in segments; deeper ones end in one `/...` segment.
const MAX_SEGMENTS: usize = 8;

/// A value found in a JSON object, decoded when needed: a range into the input or into a buffer.
#[derive(Clone, Copy, Debug, Default)]
enum Found {
    #[default]
    None,
    Num(f64),
    /// A string: a range of the scanned input when not escaped, else a range of the decode buffer.
    Str {
        start: u32,
        end: u32,
        escaped: bool,
    },
    Other,
}

/// Reads records into [`Message`]s. One per thread; reuse it.
#[derive(Debug)]
pub struct MessageReader {
    index: Index,
    inner_index: Index,
    record_trie: PathTrie,
    inner_trie: PathTrie,
    found: Vec<Found>,
    inner: Vec<Found>,
    /// The decoded `log` string.
    log: Vec<u8>,
    /// Decoded strings of the object being read, and the message text built from them.
    strings: Vec<u8>,
    text: Vec<u8>,
    source: Vec<u8>,
    method: Vec<u8>,
    fields: AccessFields,
}

impl Default for MessageReader {
    fn default() -> MessageReader {
        MessageReader::new()
    }
}

fn record_paths() -> Vec<Vec<String>> {
    let mut p: Vec<Vec<String>> = vec![
        vec!["log".into()],
        vec!["kubernetes".into(), "namespace_name".into()],
        vec!["kubernetes".into(), "container_name".into()],
        vec!["cloudwatch".into(), "logGroup".into()],
    ];
    p.extend(inner_paths());
    p
}

/// Reads the scanned values of `paths` into `out` (the last report of a path wins, as in serde_json).
fn collect(index: &mut Index, input: &[u8], trie: &PathTrie, out: &mut Vec<Found>, n: usize) -> bool {
    out.clear();
    out.resize(n, Found::None);
    index
        .scan(input, trie, &mut |id, raw| {
            if let Some(slot) = out.get_mut(id as usize) {
                *slot = match raw {
                    Raw::Num(x) => Found::Num(x),
                    Raw::Str { start, end, escaped } => Found::Str { start, end, escaped },
                    Raw::Missing => Found::None,
                    _ => Found::Other,
                };
            }
        })
        .is_ok()
}

/// The bytes of a string found in `input`, decoded into `buf` when escaped (`None` if not a string).
fn string<'a>(f: Found, input: &'a [u8], buf: &'a mut Vec<u8>) -> Option<&'a [u8]> {
    match f {
        Found::Str { start, end, escaped: false } => Some(&input[start as usize..end as usize]),
        Found::Str { start, end, escaped: true } => {
            buf.clear();
            unescape(&input[start as usize..end as usize], buf).ok()?;
            Some(&buf[..])
        }
        _ => None,
    }
}

/// Appends a string found in `input` to `out`, decoded; false (and `out` unchanged) if it is not one.
fn append_string(f: Found, input: &[u8], out: &mut Vec<u8>) -> bool {
    match f {
        Found::Str { start, end, escaped: false } => {
            out.extend_from_slice(&input[start as usize..end as usize]);
            true
        }
        Found::Str { start, end, escaped: true } => unescape(&input[start as usize..end as usize], out).is_ok(),
        _ => false,
    }
}

/// A level read from the level keys of an object, the first that holds one (as the `app` parser reads).
fn level_of(found: &[Found], input: &[u8]) -> Option<Level> {
    let mut scratch = Vec::new();
    found[I_LEVELS..I_LEVELS + level::LEVEL_KEYS.len()].iter().find_map(|f| match *f {
        Found::Num(n) => level::from_number(n),
        Found::Str { .. } => string(*f, input, &mut scratch).and_then(level::normalize),
        _ => None,
    })
}

/// A `status` number, or a string holding one (as a numeric comparison reads it).
fn status_of(f: Found, input: &[u8]) -> Option<u32> {
    let n = match f {
        Found::Num(n) => n,
        Found::Str { start, end, escaped: false } => std::str::from_utf8(&input[start as usize..end as usize]).ok()?.parse().ok()?,
        _ => return None,
    };
    (n.fract() == 0.0 && (0.0..1000.0).contains(&n)).then_some(n as u32)
}

/// Whether a message is a line of a stack trace.
pub fn stack_line(msg: &[u8]) -> bool {
    let t = msg.trim_ascii_start();
    let indented = t.len() < msg.len();
    if indented && (t.starts_with(b"at ") || (t.starts_with(b"... ") && t.ends_with(b" more")) || t.starts_with(b"File \"")) {
        return true;
    }
    if t.starts_with(b"Caused by: ")
        || t.starts_with(b"Traceback (most recent call last)")
        || t.starts_with(b"goroutine ") && t.ends_with(b"]:")
    {
        return true;
    }
    // PHP's and Laravel's frames (`#0 /app/x.php(12): f()`, `#12 {main}`, `[stacktrace]`), Go's file lines
    // under a frame (`\t/src/x.go:88`), Ruby's (`from /app/x.rb:12:in 'f'`).
    let contains = |needle: &[u8]| t.windows(needle.len()).any(|w| w == needle);
    let digits = t.iter().skip(1).take_while(|b| b.is_ascii_digit()).count();
    if (t.first() == Some(&b'#') && digits > 0 && t.get(1 + digits) == Some(&b' ')) || t == b"[stacktrace]" || t.starts_with(b"Stack trace:") {
        return true;
    }
    if (indented && t.first() == Some(&b'/') && contains(b".go:")) || (t.starts_with(b"from /") && contains(b":in ")) {
        return true;
    }
    // An exception named anywhere in the line: `java.lang.IllegalStateException: …`, a multi-line error's
    // continuation (`thrown {"exception":"… FatalError(code: 0): Uncaught ReflectionException …`) — a
    // class name ending in `Exception`, `Error` or `Throwable` after a letter, so `Unhandled Error` or `an
    // error` are not.
    [&b"Exception"[..], b"Error", b"Throwable"]
        .iter()
        .any(|name| t.windows(name.len() + 1).any(|w| w[0].is_ascii_alphabetic() && &w[1..] == *name))
}

/// Appends the segments of an access log's path (without its query) to `out`, separated by spaces.
fn path_segments(path: &[u8], out: &mut Vec<u8>) {
    let path = path.split(|&b| b == b'?' || b == b'#').next().unwrap_or(path);
    out.clear();
    for (n, seg) in path.split(|&b| b == b'/').skip(1).enumerate() {
        if n == MAX_SEGMENTS {
            out.extend_from_slice(b" /...");
            break;
        }
        if n > 0 {
            out.push(b' ');
        }
        out.push(b'/');
        out.extend_from_slice(seg);
    }
    if out.is_empty() {
        out.extend_from_slice(if path.is_empty() { b"-" } else { path });
    }
}

impl MessageReader {
    /// A reader; builds its path tries once.
    pub fn new() -> MessageReader {
        MessageReader {
            index: Index::new(),
            inner_index: Index::new(),
            record_trie: PathTrie::new(&record_paths()),
            inner_trie: PathTrie::new(&inner_paths()),
            found: Vec::new(),
            inner: Vec::new(),
            log: Vec::new(),
            strings: Vec::new(),
            text: Vec::new(),
            source: Vec::new(),
            method: Vec::new(),
            fields: AccessFields::default(),
        }
    }

    /// Reads one record (a JSON object, or a text line).
    pub fn read(&mut self, record: &[u8]) -> Message<'_> {
        self.source.clear();
        self.method.clear();
        let n = R_MSG as usize + I_LEN;
        let json = record.first() == Some(&b'{') && collect(&mut self.index, record, &self.record_trie, &mut self.found, n);
        let (mut source_kind, mut ns_len) = (SourceKind::None, 0);
        let what = if !json {
            // A text line is `{"log": <line>}` to rules.
            self.log.clear();
            self.log.extend_from_slice(record);
            self.read_log()
        } else {
            let (ns, container) = (self.found[R_NS as usize], self.found[R_CONTAINER as usize]);
            if append_string(ns, record, &mut self.source) {
                ns_len = self.source.len();
                self.source.push(b'/');
                if append_string(container, record, &mut self.source) {
                    source_kind = SourceKind::Kubernetes;
                } else {
                    self.source.clear();
                    ns_len = 0;
                }
            }
            if source_kind == SourceKind::None && append_string(self.found[R_GROUP as usize], record, &mut self.source) {
                source_kind = SourceKind::LogGroup;
            }
            self.log.clear();
            if append_string(self.found[R_LOG as usize], record, &mut self.log) {
                self.read_log()
            } else {
                // No `log`: the record is the message's object.
                let found = std::mem::take(&mut self.found);
                let what = self.read_object(record, &found[R_MSG as usize..], false);
                self.found = found;
                what
            }
        };
        Message {
            source: &self.source,
            source_kind,
            namespace_len: ns_len,
            kind: what.kind,
            text: &self.text,
            place: what.place,
            level: what.level,
            status: what.status,
            method: (!self.method.is_empty()).then_some(&self.method[..]),
            probe: what.probe,
            id: what.id,
            stack: what.stack,
        }
    }

    /// The `log` string, in `self.log`.
    fn read_log(&mut self) -> What {
        let log = std::mem::take(&mut self.log);
        let trimmed = log.trim_ascii_start();
        let what = if trimmed.first() == Some(&b'{') && collect(&mut self.inner_index, &log, &self.inner_trie, &mut self.inner, I_LEN) {
            let inner = std::mem::take(&mut self.inner);
            let what = if !matches!(inner[I_RESPONSE_CODE], Found::None) {
                self.read_envoy_json(&log, &inner)
            } else {
                self.read_object(&log, &inner, true)
            };
            self.inner = inner;
            what
        } else if access::parse_any(&log, &mut self.fields).is_some() {
            let f = &self.fields;
            let get = |r: Option<access::Range>| r.map(|(a, b)| &log[a as usize..b as usize]);
            path_segments(get(f.path).unwrap_or(b"-"), &mut self.text);
            self.method.extend_from_slice(get(f.method).unwrap_or_default());
            What {
                kind: Kind::Path,
                place: Place::Access,
                level: None,
                status: f.status,
                probe: get(f.user_agent).is_some_and(|ua| ua.starts_with(b"kube-probe/")),
                id: f.request_id.is_some().then_some(IdField::AccessRequestId),
                stack: false,
            }
        } else {
            self.text.clear();
            self.text.extend_from_slice(&log);
            What {
                kind: Kind::Text,
                place: Place::Log,
                level: level::detect_text(&log),
                status: None,
                probe: false,
                id: None,
                stack: stack_line(&log),
            }
        };
        self.log = log;
        what
    }

    /// An Envoy/Istio JSON access log (`response_code` present).
    fn read_envoy_json(&mut self, input: &[u8], f: &[Found]) -> What {
        let mut buf = std::mem::take(&mut self.strings);
        buf.clear();
        if !append_string(f[I_PATH], input, &mut buf) {
            buf.push(b'-');
        }
        path_segments(&buf, &mut self.text);
        buf.clear();
        append_string(f[I_METHOD], input, &mut self.method);
        let probe = append_string(f[I_USER_AGENT], input, &mut buf) && buf.starts_with(b"kube-probe/");
        self.strings = buf;
        What {
            kind: Kind::Path,
            place: Place::Access,
            level: None,
            status: status_of(f[I_RESPONSE_CODE], input),
            probe,
            id: matches!(f[I_REQUEST_ID], Found::Str { .. }).then_some(IdField::AccessRequestId),
            stack: false,
        }
    }

    /// A JSON object's message: `msg` or `message`, else its keys. `in_log`: the object is `log`'s.
    fn read_object(&mut self, input: &[u8], f: &[Found], in_log: bool) -> What {
        self.text.clear();
        let key = [Key::Msg, Key::Message].into_iter().find(|k| matches!(f[I_MSG + *k as usize], Found::Str { .. }));
        let place = match key {
            Some(k) => {
                append_string(f[I_MSG + k as usize], input, &mut self.text);
                if in_log { Place::LogKey(k) } else { Place::Top(k) }
            }
            None => {
                // No message: the object's keys are its shape.
                if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(input) {
                    let keys = map.keys().filter(|k| !matches!(k.as_str(), "kubernetes" | "time" | "stream" | "@timestamp" | "cloudwatch"));
                    for (i, k) in keys.enumerate() {
                        if i > 0 {
                            self.text.push(b' ');
                        }
                        self.text.extend_from_slice(k.as_bytes());
                    }
                }
                Place::Keys
            }
        };
        let id = (0..ID_KEYS.len())
            .find(|&i| matches!(f[I_IDS + i], Found::Str { .. }))
            .map(|i| if in_log { IdField::LogKey(i as u8) } else { IdField::Top(i as u8) });
        What {
            kind: Kind::Text,
            place,
            level: level_of(f, input),
            status: status_of(f[I_STATUS], input),
            probe: false,
            id,
            stack: stack_line(&self.text),
        }
    }
}

/// What was read of a record, besides the texts in the reader's buffers.
struct What {
    kind: Kind,
    place: Place,
    level: Option<Level>,
    status: Option<u32>,
    probe: bool,
    id: Option<IdField>,
    stack: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Source, text, kind, place, level, status, protected, id.
    type Read = (String, String, Kind, Place, Option<Level>, Option<u32>, bool, Option<IdField>);

    fn read(r: &str) -> Read {
        let mut m = MessageReader::new();
        let x = m.read(r.as_bytes());
        (
            String::from_utf8_lossy(x.source).into_owned(),
            String::from_utf8_lossy(x.text).into_owned(),
            x.kind,
            x.place,
            x.level,
            x.status,
            x.protected(),
            x.id,
        )
    }

    const K8S: &str = r#""kubernetes":{"namespace_name":"shop","container_name":"checkout","labels":{"app":"x"}}"#;

    #[test]
    fn access_logs_are_mined_by_path() {
        let r = format!(
            r#"{{"log":"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] \"GET /api/v1/orders/42?x=1 HTTP/1.1\" 503 12 \"-\" \"kube-probe/1.30\"",{K8S}}}"#
        );
        let (src, text, kind, place, level, status, protected, _) = read(&r);
        assert_eq!(
            (src.as_str(), text.as_str(), kind, place, level, status, protected),
            ("shop/checkout", "/api /v1 /orders /42", Kind::Path, Place::Access, None, Some(503), true)
        );
        let mut m = MessageReader::new();
        assert!(m.read(r.as_bytes()).probe);
        assert_eq!(m.read(r.as_bytes()).method, Some(&b"GET"[..]));
        // Envoy's JSON access log, escaped inside `log`.
        let envoy = format!(r#"{{"log":"{{\"response_code\":200,\"path\":\"/\",\"method\":\"POST\",\"request_id\":\"abc\"}}",{K8S}}}"#);
        let (_, text, kind, _, _, status, protected, id) = read(&envoy);
        assert_eq!((text.as_str(), kind, status, protected, id), ("/", Kind::Path, Some(200), false, Some(IdField::AccessRequestId)));
    }

    #[test]
    fn json_messages_levels_statuses_and_ids() {
        let r = format!(r#"{{"log":"{{\"level\":\"WARN\",\"msg\":\"cache \\\"miss\\\"\",\"trace_id\":\"ab\"}}",{K8S}}}"#);
        let (_, text, kind, place, level, status, protected, id) = read(&r);
        assert_eq!(
            (text.as_str(), kind, place, level, status, protected, id),
            ("cache \"miss\"", Kind::Text, Place::LogKey(Key::Msg), Some(Level::Warn), None, true, Some(IdField::LogKey(0)))
        );
        // pino numbers, and a `status` of a JSON app log.
        let (_, _, _, _, level, status, protected, _) =
            read(&format!(r#"{{"log":"{{\"level\":30,\"message\":\"done\",\"status\":404}}",{K8S}}}"#));
        assert_eq!((level, status, protected), (Some(Level::Info), Some(404), true));
        // A record without `log`: its own keys (Merge_Log, a CloudWatch JSON message).
        let (src, text, _, place, level, _, _, id) =
            read(r#"{"cloudwatch":{"logGroup":"/aws/lambda/f"},"severity":"debug","message":"tick","requestId":"r1"}"#);
        assert_eq!(
            (src.as_str(), text.as_str(), place, level, id),
            ("/aws/lambda/f", "tick", Place::Top(Key::Message), Some(Level::Debug), Some(IdField::Top(3)))
        );
        // No message: the keys.
        let (_, text, _, place, ..) = read(r#"{"a":1,"b":{"c":2},"time":"x"}"#);
        assert_eq!((text.as_str(), place), ("a b", Place::Keys));
    }

    #[test]
    fn text_lines_and_stack_traces() {
        let (src, text, kind, place, level, _, protected, _) = read("2026-11-22 10:00:00,123 ERROR [main] c.e.Foo - failed");
        assert_eq!((src.as_str(), kind, place, level, protected), ("", Kind::Text, Place::Log, Some(Level::Error), true));
        assert!(text.ends_with("failed"));
        let (.., protected, _) = read(&format!(r#"{{"log":"\tat com.example.Foo.bar(Foo.java:12)",{K8S}}}"#));
        assert!(protected);
        for line in [
            "Caused by: java.net.SocketTimeoutException: Read timed out",
            "java.lang.IllegalStateException: paid",
            "\t... 42 more",
            "  File \"/app/x.py\", line 3, in f",
            "#0 /app/vendor/laravel/Pipeline.php(167): Illuminate\\Pipeline\\Pipeline->then()",
            "#12 {main}",
            "[stacktrace]",
            "\t/src/handler.go:88 +0x1d",
            "from /app/lib/x.rb:12:in 'call'",
            "  thrown {\"exception\":\"[object] (Symfony\\\\Component\\\\FatalError(code: 0): Uncaught ReflectionException",
            "KeyError: 'id'",
        ] {
            assert!(stack_line(line.as_bytes()), "{line}");
        }
        for line in ["at noon the job ran", "Exception handling is on", "request completed", "#hashtag news", "/healthz ok", "\"Unhandled Error\" logger=x", "an error rate of 0"] {
            assert!(!stack_line(line.as_bytes()), "{line}");
        }
        // A line that starts like JSON but is not is text.
        let (_, text, ..) = read("{oops");
        assert_eq!(text, "{oops");
    }
}
