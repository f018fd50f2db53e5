//! Splunk HEC event JSON (`/services/collector/event`), with a configurable field mapping.
//!
//! Each kept record becomes one object `{"time":…,"host":…,"source":…,"sourcetype":…,"index":…,
//! "event":…,"fields":{…}}`; objects are stacked with no separator, as HEC batches them and as
//! Firehose's Splunk destination (endpoint type `Event`) concatenates them. Missing metadata is left
//! out so the token's defaults apply.
//!
//! Pure (no Lambda or AWS types): shared later with the node forwarder.
//!
//! # Templates
//!
//! Every metadata value is a [`Template`]: alternatives separated by `|`, each literal text with
//! `{path}` placeholders (`{kubernetes.namespace_name}/{kubernetes.pod_name}`). The first alternative
//! whose placeholders all resolve to a non-empty string, number or boolean wins; an alternative without
//! placeholders always resolves. Paths are dot-separated object keys (a key containing a dot cannot be
//! addressed). When nothing resolves, the per-record [`Fallbacks`] apply, then the key is omitted.

use std::borrow::Cow;
use std::fmt;

use logtrim_core::record::json::escape_into;
use logtrim_formats::template;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::decode::push_json_str;

/// Why a record could not be encoded. The whole Firehose record is answered `ProcessingFailed`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HecError {
    /// A record starting with `{` that is valid UTF-8 but not valid JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
}

/// What [`Mapping::encode`] appended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Encoded {
    /// The bytes Splunk will meter for the event (its `event` value: see
    /// `logtrim_core::budget::metered_event_bytes`).
    pub metered: u64,
    /// The record was not UTF-8: sent as a text event, each invalid sequence replaced by U+FFFD.
    pub invalid_utf8: bool,
}

/// A bad template in the configuration.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{name}: {message} in {template:?}")]
pub struct TemplateError {
    /// Which setting.
    pub name: String,
    /// The template text.
    pub template: String,
    /// What is wrong.
    pub message: String,
}

/// A placeholder is an index into the [`Mapping`]'s path table.
type Part = template::Part<usize>;

/// A compiled template: alternatives of literal and placeholder parts. Placeholders index the
/// [`Mapping`]'s path table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Template {
    alts: Vec<Vec<Part>>,
}

/// Where the `event` value comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum EventSource {
    /// The record as received: the JSON object embedded as-is, a text line as a string, or a
    /// CloudWatch Logs event's message as a string.
    Record,
    /// One field (string, number or object, embedded as-is); the record when it is missing.
    Field(usize),
}

/// The HEC field mapping as text, one template per key (see the module docs). `Default` is the
/// Kubernetes mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MappingSpec {
    /// `time`: a number (seconds, or ms/µs/ns by magnitude) or an RFC 3339 string.
    pub time: String,
    /// `host`.
    pub host: String,
    /// `source`.
    pub source: String,
    /// `sourcetype`.
    pub sourcetype: String,
    /// `index`; empty leaves it to the token.
    pub index: String,
    /// `event`: `record`, or a `{path}`.
    pub event: String,
    /// Indexed `fields`: `name=template` pairs separated by `,`.
    pub fields: String,
}

impl Default for MappingSpec {
    fn default() -> MappingSpec {
        MappingSpec {
            time: "{time}|{@timestamp}".into(),
            host: "{kubernetes.host}|{host}".into(),
            source: "{kubernetes.namespace_name}/{kubernetes.pod_name}/{kubernetes.container_name}".into(),
            sourcetype: "kube:container:{kubernetes.container_name}".into(),
            index: String::new(),
            event: "record".into(),
            fields: String::new(),
        }
    }
}

/// A compiled mapping. Build once per cold start with [`Mapping::new`]; [`Mapping::encode`] per record.
#[derive(Clone, Debug)]
pub struct Mapping {
    time: Template,
    host: Template,
    source: Template,
    sourcetype: Template,
    index: Template,
    event: EventSource,
    fields: Vec<(String, Template)>,
    trie: Node,
    slots: usize,
}

/// Values to use when a template resolves to nothing, chosen by the caller per input kind.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fallbacks<'a> {
    /// Epoch milliseconds (the CloudWatch event timestamp, or Firehose's arrival time).
    pub time_ms: Option<i64>,
    /// `source` (the CloudWatch log group).
    pub source: Option<&'a str>,
    /// `sourcetype` (`aws:cloudwatchlogs` for CloudWatch events).
    pub sourcetype: Option<&'a str>,
}

/// One record to encode.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// The record the rules saw (JSON object or text line).
    pub record: &'a [u8],
    /// For [`EventSource::Record`], a string to send instead of the record (a CloudWatch message).
    pub event_text: Option<&'a str>,
    /// The record as it is sent, when trimming changed it: the `event` comes from it, the metadata
    /// (`time`, `host`, `source`, `sourcetype`, `index`, `fields`) still from `record`, so a field trimmed
    /// from the event can stay in the unmetered metadata.
    pub event_record: Option<&'a [u8]>,
    /// Fallback metadata.
    pub fallbacks: Fallbacks<'a>,
}

impl Mapping {
    /// Compiles a mapping, reporting every bad template.
    pub fn new(spec: &MappingSpec) -> Result<Mapping, Vec<TemplateError>> {
        let mut paths: Vec<String> = Vec::new();
        let mut errors = Vec::new();
        let time = compile("time", &spec.time, &mut paths, &mut errors);
        let host = compile("host", &spec.host, &mut paths, &mut errors);
        let source = compile("source", &spec.source, &mut paths, &mut errors);
        let sourcetype = compile("sourcetype", &spec.sourcetype, &mut paths, &mut errors);
        let index = compile("index", &spec.index, &mut paths, &mut errors);
        let event = match spec.event.trim() {
            "" | "record" => EventSource::Record,
            e => match compile("event", e, &mut paths, &mut errors).alts.as_slice() {
                [alt] if matches!(alt.as_slice(), [Part::Var(_)]) => {
                    let [Part::Var(i)] = alt.as_slice() else { unreachable!() };
                    EventSource::Field(*i)
                }
                _ => {
                    errors.push(TemplateError {
                        name: "event".into(),
                        template: e.into(),
                        message: "expected `record` or a single `{path}`".into(),
                    });
                    EventSource::Record
                }
            },
        };
        let mut fields = Vec::new();
        for pair in spec.fields.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => fields.push((k.trim().to_string(), compile("fields", v.trim(), &mut paths, &mut errors))),
                _ => errors.push(TemplateError {
                    name: "fields".into(),
                    template: pair.into(),
                    message: "expected name=template".into(),
                }),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut trie = Node::default();
        for (slot, p) in paths.iter().enumerate() {
            let mut n = &mut trie;
            for seg in p.split('.') {
                let at = match n.children.iter().position(|(k, _)| k == seg) {
                    Some(i) => i,
                    None => {
                        n.children.push((seg.to_string(), Node::default()));
                        n.children.len() - 1
                    }
                };
                n = &mut n.children[at].1;
            }
            n.slot = Some(slot);
        }
        Ok(Mapping { time, host, source, sourcetype, index, event, fields, trie, slots: paths.len() })
    }

    /// Appends one HEC event for `input` to `out`. On error `out` is left as it was.
    ///
    /// A record that is not UTF-8 is not JSON either (the rules read it as text): its event is the text
    /// with each invalid sequence replaced by U+FFFD, as the CLI and the forwarder read such lines, and
    /// its metadata comes from the templates' literals and the fallbacks.
    pub fn encode(&self, input: Input<'_>, out: &mut Vec<u8>) -> Result<Encoded, HecError> {
        let text = std::str::from_utf8(input.record).ok();
        let mut values: Vec<Option<&RawValue>> = vec![None; self.slots];
        let json = match text {
            Some(t) if crate::decode::is_json_line(input.record) => {
                extract(t, &self.trie, &mut values).map_err(|e| HecError::Json(e.to_string()))?;
                true
            }
            _ => false,
        };
        let start = out.len();
        out.push(b'{');
        let mut scratch = String::new();
        let time_ms = self
            .render(&self.time, &values, &mut scratch)
            .and_then(|s| parse_time_ms(&s))
            .or(input.fallbacks.time_ms);
        if let Some(ms) = time_ms {
            let (s, m) = (ms.div_euclid(1000), ms.rem_euclid(1000));
            out.extend_from_slice(format!("\"time\":{s}.{m:03},").as_bytes());
        }
        for (key, t, fallback) in [
            ("host", &self.host, None),
            ("source", &self.source, input.fallbacks.source),
            ("sourcetype", &self.sourcetype, input.fallbacks.sourcetype),
            ("index", &self.index, None),
        ] {
            if let Some(v) = self.render(t, &values, &mut scratch).or(fallback.map(Cow::Borrowed)) {
                out.push(b'"');
                out.extend_from_slice(key.as_bytes());
                out.extend_from_slice(b"\":");
                push_json_str(out, &v);
                out.push(b',');
            }
        }
        out.extend_from_slice(b"\"event\":");
        let event_start = out.len();
        // The event comes from the record as sent (trimmed), the metadata above from the record as read.
        let ebytes = input.event_record.unwrap_or(input.record);
        let etext = match input.event_record {
            Some(e) => std::str::from_utf8(e).ok(),
            None => text,
        };
        let mut evalues: Option<Vec<Option<&RawValue>>> = None;
        let field = match (&self.event, etext) {
            (EventSource::Field(i), Some(etext)) if input.event_record.is_some() && json => {
                let ev = evalues.insert(vec![None; self.slots]);
                if let Err(e) = extract(etext, &self.trie, ev) {
                    out.truncate(start);
                    return Err(HecError::Json(e.to_string()));
                }
                ev[*i].filter(|r| !matches!(r.get().as_bytes()[0], b'n' | b'['))
            }
            (EventSource::Field(i), _) => values[*i].filter(|r| !matches!(r.get().as_bytes()[0], b'n' | b'[')),
            (EventSource::Record, _) => None,
        };
        match (field, input.event_text, etext) {
            (Some(raw), _, _) => out.extend_from_slice(raw.get().as_bytes()),
            (None, Some(t), _) => push_json_str(out, t),
            (None, None, Some(t)) if json => out.extend_from_slice(t.trim().as_bytes()),
            (None, None, Some(t)) => push_json_str(out, t),
            (None, None, None) => {
                out.push(b'"');
                escape_into(out, ebytes);
                out.push(b'"');
            }
        }
        let metered = logtrim_core::budget::metered_event_bytes(&out[event_start..]);
        let mut first = true;
        for (name, t) in &self.fields {
            if let Some(v) = self.render(t, &values, &mut scratch) {
                out.extend_from_slice(if first { b",\"fields\":{" } else { b"," });
                first = false;
                push_json_str(out, name);
                out.push(b':');
                push_json_str(out, &v);
            }
        }
        if !first {
            out.push(b'}');
        }
        out.push(b'}');
        debug_assert!(out.len() > start);
        Ok(Encoded { metered, invalid_utf8: text.is_none() })
    }

    fn render<'v>(&self, t: &Template, values: &[Option<&'v RawValue>], scratch: &mut String) -> Option<Cow<'v, str>> {
        'alt: for alt in &t.alts {
            scratch.clear();
            for p in alt {
                match p {
                    Part::Lit(s) => scratch.push_str(s),
                    Part::Var(i) => match values[*i].and_then(scalar) {
                        Some(v) => scratch.push_str(&v),
                        None => continue 'alt,
                    },
                }
            }
            if !scratch.is_empty() {
                return Some(Cow::Owned(scratch.clone()));
            }
        }
        None
    }
}

/// A JSON scalar as text: strings unescaped, numbers and booleans as written; null, objects, arrays
/// and empty strings are "missing".
fn scalar(raw: &RawValue) -> Option<Cow<'_, str>> {
    let s = raw.get();
    match s.as_bytes()[0] {
        b'"' => match serde_json::from_str::<Cow<'_, str>>(s) {
            Ok(v) if !v.is_empty() => Some(v),
            _ => None,
        },
        b'{' | b'[' | b'n' => None,
        _ => Some(Cow::Borrowed(s)),
    }
}

fn compile(name: &str, text: &str, paths: &mut Vec<String>, errors: &mut Vec<TemplateError>) -> Template {
    parse_template(text, paths).unwrap_or_else(|message| {
        errors.push(TemplateError { name: name.into(), template: text.into(), message });
        Template::default()
    })
}

fn parse_template(text: &str, paths: &mut Vec<String>) -> Result<Template, String> {
    let alts = template::parse(text, |path| {
        if path.is_empty() || path.split('.').any(str::is_empty) {
            return Err(format!("bad path {path:?}"));
        }
        Ok(match paths.iter().position(|p| p == path) {
            Some(i) => i,
            None => {
                paths.push(path.to_string());
                paths.len() - 1
            }
        })
    })?;
    Ok(Template { alts })
}

/// Epoch milliseconds from a number or an RFC 3339 timestamp, read as everywhere else in logtrim
/// ([`logtrim_core::time::parse_ms`]).
pub fn parse_time_ms(s: &str) -> Option<i64> {
    logtrim_core::time::parse_ms(s.as_bytes())
}

/// A path trie: which keys to capture while reading a record once.
#[derive(Clone, Debug, Default)]
struct Node {
    children: Vec<(String, Node)>,
    slot: Option<usize>,
}

/// Reads `text` (a JSON object) once, capturing the raw value at every wanted path, and validates it.
fn extract<'de>(text: &'de str, trie: &Node, out: &mut [Option<&'de RawValue>]) -> serde_json::Result<()> {
    let mut de = serde_json::Deserializer::from_str(text);
    Walk { node: trie, out }.deserialize(&mut de)?;
    de.end()
}

struct Walk<'n, 'o, 'de> {
    node: &'n Node,
    out: &'o mut [Option<&'de RawValue>],
}

impl<'de> DeserializeSeed<'de> for Walk<'_, '_, 'de> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_, '_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            match self.node.children.iter().find(|(name, _)| *name == k) {
                Some((_, child)) => {
                    let raw: &'de RawValue = map.next_value()?;
                    if let Some(s) = child.slot {
                        self.out[s].get_or_insert(raw);
                    }
                    if !child.children.is_empty() && raw.get().starts_with('{') {
                        let mut de = serde_json::Deserializer::from_str(raw.get());
                        Walk { node: child, out: &mut *self.out }
                            .deserialize(&mut de)
                            .map_err(serde::de::Error::custom)?;
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// An object key, borrowed when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn enc(m: &Mapping, input: Input<'_>) -> Value {
        let mut out = Vec::new();
        m.encode(input, &mut out).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    fn input(record: &[u8]) -> Input<'_> {
        Input { record, event_text: None, event_record: None, fallbacks: Fallbacks::default() }
    }

    #[test]
    fn kubernetes_record_with_default_mapping() {
        let m = Mapping::new(&MappingSpec::default()).unwrap();
        let rec = br#"{"time":"2026-11-22T10:00:00.123456Z","log":"GET / 200","stream":"stdout","kubernetes":{"pod_name":"web-1","namespace_name":"shop","container_name":"nginx","host":"ip-10-0-0-1","labels":{"app":"web"}}}"#;
        let v = enc(&m, input(rec));
        assert_eq!(
            v,
            json!({"time": 1_795_341_600.123, "host": "ip-10-0-0-1", "source": "shop/web-1/nginx",
                   "sourcetype": "kube:container:nginx",
                   "event": serde_json::from_slice::<Value>(rec).unwrap()})
        );
        let mut out = Vec::new();
        m.encode(input(rec), &mut out).unwrap();
        assert!(out.starts_with(b"{\"time\":1795341600.123,"), "{}", String::from_utf8_lossy(&out));
    }

    #[test]
    fn text_line_and_fallbacks() {
        let m = Mapping::new(&MappingSpec::default()).unwrap();
        let fb = Fallbacks { time_ms: Some(1_510_254_471_089), source: Some("grp"), sourcetype: Some("aws:cloudwatchlogs") };
        let v = enc(&m, Input { record: b"plain \"text\"", event_text: None, event_record: None, fallbacks: fb });
        assert_eq!(
            v,
            json!({"time": 1_510_254_471.089, "source": "grp", "sourcetype": "aws:cloudwatchlogs", "event": "plain \"text\""})
        );
        let v = enc(&m, Input { record: br#"{"cloudwatch":{"id":"1"},"log":"x"}"#, event_text: Some("the message"), event_record: None, fallbacks: fb });
        assert_eq!(v["event"], "the message");
    }

    #[test]
    fn custom_mapping_fields_and_event_path() {
        let spec = MappingSpec {
            host: "{node}|fixed-host".into(),
            index: "k8s-{kubernetes.namespace_name}".into(),
            event: "{log}".into(),
            fields: "ns={kubernetes.namespace_name}, app={kubernetes.labels.app}, missing={nope}".into(),
            ..MappingSpec::default()
        };
        let m = Mapping::new(&spec).unwrap();
        let v = enc(&m, input(br#"{"log":"hello","kubernetes":{"namespace_name":"shop","labels":{"app":"web"}},"n":1}"#));
        assert_eq!(v["host"], "fixed-host");
        assert_eq!(v["index"], "k8s-shop");
        assert_eq!(v["event"], "hello");
        assert_eq!(v["fields"], json!({"ns": "shop", "app": "web"}));
        // The event field missing: the whole record.
        let v = enc(&m, input(br#"{"msg":"no log"}"#));
        assert_eq!(v["event"], json!({"msg": "no log"}));
        assert!(v.get("fields").is_none());
    }

    #[test]
    fn bad_json_fails() {
        let m = Mapping::new(&MappingSpec::default()).unwrap();
        let mut out = b"keep".to_vec();
        assert!(matches!(m.encode(input(br#"{"log":"x""#), &mut out), Err(HecError::Json(_))));
        assert!(matches!(m.encode(input(br#"{"log":"x"} trailing"#), &mut out), Err(HecError::Json(_))));
        assert_eq!(out, b"keep");
    }

    #[test]
    fn a_record_that_is_not_utf8_is_text_with_replacement_characters() {
        let m = Mapping::new(&MappingSpec { event: "{log}".into(), ..MappingSpec::default() }).unwrap();
        let fb = Fallbacks { time_ms: Some(1_000), ..Fallbacks::default() };
        for (record, event) in [(&b"caf\xe9 \"q\"\x01"[..], "caf\u{fffd} \"q\"\u{1}"), (b"{\"log\":\"\xff\"}", "{\"log\":\"\u{fffd}\"}")] {
            let mut out = Vec::new();
            let e = m.encode(Input { record, event_text: None, event_record: None, fallbacks: fb }, &mut out).unwrap();
            assert!(e.invalid_utf8);
            let v: Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(v, json!({"time": 1.0, "event": event}));
            assert_eq!(e.metered, event.len() as u64);
        }
        // Trimmed: the event is the text as sent.
        let mut out = Vec::new();
        m.encode(Input { record: b"caf\xe9 and more", event_text: None, event_record: Some(b"caf\xe9"), fallbacks: fb }, &mut out).unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&out).unwrap()["event"], "caf\u{fffd}");
        assert!(!m.encode(input(b"cafe"), &mut out).unwrap().invalid_utf8);
    }

    #[test]
    fn template_errors_are_all_reported() {
        let spec = MappingSpec { host: "{a".into(), source: "{}".into(), fields: "nonsense".into(), ..MappingSpec::default() };
        let errs = Mapping::new(&spec).unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].to_string().starts_with("host: unclosed"));
    }

    #[test]
    fn times() {
        assert_eq!(parse_time_ms("1433188255.5"), Some(1_433_188_255_500));
        assert_eq!(parse_time_ms("1433188255500"), Some(1_433_188_255_500));
        assert_eq!(parse_time_ms("1433188255500000"), Some(1_433_188_255_500));
        assert_eq!(parse_time_ms("1433188255500000000"), Some(1_433_188_255_500));
        assert_eq!(parse_time_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time_ms("2015-06-01T19:50:55.5Z"), Some(1_433_188_255_500));
        assert_eq!(parse_time_ms("2015-06-01 21:50:55.500+02:00"), Some(1_433_188_255_500));
        assert_eq!(parse_time_ms("2015-06-01T16:50:55.500999999-0300"), Some(1_433_188_255_500));
        assert_eq!(parse_time_ms("2000-02-29T00:00:00Z"), Some(951_782_400_000));
        assert_eq!(parse_time_ms("yesterday"), None);
        assert_eq!(parse_time_ms("2015-06-01T19:50:55"), None);
    }
}
