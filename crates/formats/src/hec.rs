//! The HEC metadata of records that carry their own (Fluent Bit records, CloudWatch Logs events): a
//! [`Mapping`] renders `time`, `host`, `source`, `sourcetype`, `index` and indexed `fields` from the
//! record's fields, for the Lambda and for `logtrim run --hec`. The event around them — the envelope,
//! the `event` value, what Splunk meters — is the core's ([`logtrim_core::run::hec`],
//! [`logtrim_core::Pipeline`]).
//!
//! # Templates
//!
//! Every metadata value is a template: alternatives separated by `|`, each literal text with `{path}`
//! placeholders (`{kubernetes.namespace_name}/{kubernetes.pod_name}`). The first alternative whose
//! placeholders all resolve to a non-empty string, number or boolean wins; an alternative without
//! placeholders always resolves. Paths are dot-separated object keys (a key containing a dot cannot be
//! addressed). When nothing resolves, the per-record [`Fallbacks`] apply, then the key is omitted.

use std::borrow::Cow;
use std::cell::RefCell;

use logtrim_core::record::json::raw::{RawPaths, RawValue};
use logtrim_core::record::json::{Index, PathTrie, Raw, escape_into, push_json_str, unescape};
use logtrim_core::run::hec::EventValue;

use crate::template;

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

/// A compiled template: alternatives of literal and placeholder parts.
#[derive(Clone, Debug, Default, PartialEq)]
struct Template {
    alts: Vec<Vec<Part>>,
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
    /// `event`: `record`, or a `{path}` ([`EventValue`]).
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

/// A compiled mapping. Build once with [`Mapping::new`]; [`Mapping::write_meta`] per event.
#[derive(Clone, Debug)]
pub struct Mapping {
    time: Template,
    host: Template,
    source: Template,
    sourcetype: Template,
    index: Template,
    event: EventValue,
    fields: Vec<(String, Template)>,
    /// The paths the templates read, by slot: for the core's scanner, and for serde_json when a value
    /// is a number (sent as spelled, which the scanner does not keep).
    trie: PathTrie,
    paths: RawPaths,
    /// The same paths, as keys.
    path_keys: Vec<Vec<String>>,
}

thread_local! {
    /// PERF: the core's scanner (SIMD token index) and its token list, reused from event to event:
    /// reading the metadata with serde_json took a sixth of the Lambda's time.
    static INDEX: RefCell<Index> = RefCell::new(Index::new());
}

/// Slots held on the stack: the default mapping reads 7 paths.
const STACK_SLOTS: usize = 16;

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

/// The fallbacks of summary events: they come from logtrim itself.
pub const SUMMARY_FALLBACKS: Fallbacks<'static> =
    Fallbacks { time_ms: None, source: Some("logtrim"), sourcetype: Some("logtrim:summary") };

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
        let event = EventValue::parse(&spec.event).unwrap_or_else(|message| {
            errors.push(TemplateError { name: "event".into(), template: spec.event.clone(), message });
            EventValue::Record
        });
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
        let paths: Vec<Vec<String>> = paths.iter().map(|p| p.split('.').map(String::from).collect()).collect();
        Ok(Mapping { time, host, source, sourcetype, index, event, fields, trie: PathTrie::new(&paths), paths: RawPaths::new(&paths), path_keys: paths })
    }

    /// Which value of a record is the event.
    pub fn event(&self) -> &EventValue {
        &self.event
    }

    /// Appends the metadata members of the event of `record` (the record the rules saw), each followed
    /// by a comma, and returns the event's time in epoch milliseconds: templates read the record's
    /// fields when it is a JSON object; what does not resolve takes its fallback or is left out.
    pub fn write_meta(&self, record: &[u8], fallbacks: Fallbacks<'_>, out: &mut Vec<u8>) -> Option<i64> {
        if self.paths.len() <= STACK_SLOTS {
            let mut values: [Option<Cow<'_, [u8]>>; STACK_SLOTS] = Default::default();
            self.read_values(record, &mut values[..self.paths.len()]);
            self.write_values(&values[..self.paths.len()], fallbacks, out)
        } else {
            let mut values = vec![None; self.paths.len()];
            self.read_values(record, &mut values);
            self.write_values(&values, fallbacks, out)
        }
    }

    /// The paths the templates read, for [`Mapping::write_meta_read`]: give them to
    /// `Pipeline::read_also`.
    pub fn paths(&self) -> &[Vec<String>] {
        &self.path_keys
    }

    /// [`Mapping::write_meta`], with the first value at each of [`Mapping::paths`] in `record` as the
    /// core's scanner reported them (`Pipeline::read_also`, `Sink::time_read`): the record is not read
    /// again, unless a value is a number (sent as spelled, which the scanner does not keep).
    pub fn write_meta_read(&self, record: &[u8], read: &[Option<Raw>], fallbacks: Fallbacks<'_>, out: &mut Vec<u8>) -> Option<i64> {
        if read.len() != self.paths.len() || read.len() > STACK_SLOTS || read.iter().any(|r| matches!(r, Some(Raw::Num(_)))) {
            return self.write_meta(record, fallbacks, out);
        }
        let mut values: [Option<Cow<'_, [u8]>>; STACK_SLOTS] = Default::default();
        strings(record, read, &mut values);
        self.write_values(&values[..read.len()], fallbacks, out)
    }

    /// The value of every path in `record` as a template reads it (see [`scalar`]), the first one when a
    /// key repeats; none when `record` is not a JSON object (the rules read it as text, with no fields).
    fn read_values<'t>(&self, record: &'t [u8], values: &mut [Option<Cow<'t, [u8]>>]) {
        if record.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return;
        }
        let mut raw = [None; STACK_SLOTS];
        let mut number = false;
        let scanned = if values.len() <= STACK_SLOTS {
            // The scanner accepts exactly what serde_json accepts, UTF-8 included.
            INDEX.with_borrow_mut(|index| {
                index.scan(record, &self.trie, &mut |id, v| {
                    // The first value wins, as in `RawPaths`: a repeated key's `Missing` and later values
                    // are ignored.
                    if let Some(slot @ None) = raw.get_mut(id as usize)
                        && v != Raw::Missing
                    {
                        number |= matches!(v, Raw::Num(_));
                        *slot = Some(v);
                    }
                })
            })
        } else {
            Err(logtrim_core::record::json::JsonError::TooLong)
        };
        match scanned {
            Ok(()) if !number => strings(record, &raw, values),
            Ok(()) | Err(_) if values.len() > STACK_SLOTS || number => {
                // A number is sent as spelled: serde_json keeps its text.
                let Ok(text) = std::str::from_utf8(record) else { return };
                let mut found: Vec<Option<&RawValue>> = vec![None; self.paths.len()];
                if self.paths.extract(text, &mut found).is_ok() {
                    for (value, f) in values.iter_mut().zip(found) {
                        *value = f.and_then(scalar);
                    }
                }
            }
            _ => {}
        }
    }

    fn write_values(&self, values: &[Option<Cow<'_, [u8]>>], fallbacks: Fallbacks<'_>, out: &mut Vec<u8>) -> Option<i64> {
        for (key, t, fallback) in [
            ("host", &self.host, None),
            ("source", &self.source, fallbacks.source),
            ("sourcetype", &self.sourcetype, fallbacks.sourcetype),
            ("index", &self.index, None),
        ] {
            let at = out.len();
            out.push(b'"');
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(b"\":\"");
            if render(t, values, out) {
                out.extend_from_slice(b"\",");
            } else {
                out.truncate(at);
                if let Some(v) = fallback {
                    out.push(b'"');
                    out.extend_from_slice(key.as_bytes());
                    out.extend_from_slice(b"\":");
                    push_json_str(out, v.as_bytes());
                    out.push(b',');
                }
            }
        }
        let mut first = true;
        for (name, t) in &self.fields {
            let at = out.len();
            out.extend_from_slice(if first { b"\"fields\":{" } else { b"," });
            push_json_str(out, name.as_bytes());
            out.extend_from_slice(b":\"");
            if render(t, values, out) {
                out.push(b'"');
                first = false;
            } else {
                out.truncate(at);
            }
        }
        if !first {
            out.extend_from_slice(b"},");
        }
        // The time is rendered where it goes, read, and taken back.
        let at = out.len();
        let time = if render_raw(&self.time, values, out) { logtrim_core::time::parse_ms(&out[at..]) } else { None };
        out.truncate(at);
        time.or(fallbacks.time_ms)
    }
}

/// The values the scanner found in `record` as a template reads them: strings (unescaped) and booleans;
/// nothing for an empty string, `null`, a container, or a path not found. Numbers are not read here.
fn strings<'t>(record: &'t [u8], raw: &[Option<Raw>], values: &mut [Option<Cow<'t, [u8]>>]) {
    for (value, r) in values.iter_mut().zip(raw) {
        *value = match *r {
            Some(Raw::Str { start, end, escaped }) => {
                let body = &record[start as usize..end as usize];
                // PERF: bytes, not `str`: the scanner checked that they are UTF-8 (and so is the text of
                // their escapes), and they are only copied or escaped.
                if escaped {
                    let mut text = Vec::with_capacity(body.len());
                    unescape(body, &mut text).ok().map(|()| Cow::Owned(text))
                } else {
                    Some(Cow::Borrowed(body))
                }
                .filter(|s| !s.is_empty())
            }
            Some(Raw::Bool(b)) => Some(Cow::Borrowed(if b { &b"true"[..] } else { &b"false"[..] })),
            _ => None,
        };
    }
}

/// Appends the first alternative of `t` that resolves, JSON-escaped; false (and `out` as it was) when
/// none resolves to a non-empty value.
fn render(t: &Template, values: &[Option<Cow<'_, [u8]>>], out: &mut Vec<u8>) -> bool {
    render_with(t, values, out, |out, s| {
        escape_into(out, s);
    })
}

/// [`render`], as the text itself.
fn render_raw(t: &Template, values: &[Option<Cow<'_, [u8]>>], out: &mut Vec<u8>) -> bool {
    render_with(t, values, out, |out, s| out.extend_from_slice(s))
}

fn render_with(t: &Template, values: &[Option<Cow<'_, [u8]>>], out: &mut Vec<u8>, push: impl Fn(&mut Vec<u8>, &[u8])) -> bool {
    let at = out.len();
    'alt: for alt in &t.alts {
        out.truncate(at);
        for p in alt {
            match p {
                Part::Lit(s) => push(out, s.as_bytes()),
                Part::Var(i) => match &values[*i] {
                    Some(v) => push(out, v),
                    None => continue 'alt,
                },
            }
        }
        if out.len() > at {
            return true;
        }
    }
    out.truncate(at);
    false
}

/// A JSON scalar as text: strings unescaped, numbers and booleans as written; null, objects, arrays
/// and empty strings are "missing".
fn scalar(raw: &RawValue) -> Option<Cow<'_, [u8]>> {
    let s = raw.get();
    match s.as_bytes()[0] {
        b'"' => match serde_json::from_str::<Cow<'_, str>>(s) {
            Ok(Cow::Borrowed(v)) if !v.is_empty() => Some(Cow::Borrowed(v.as_bytes())),
            Ok(Cow::Owned(v)) if !v.is_empty() => Some(Cow::Owned(v.into_bytes())),
            _ => None,
        },
        b'{' | b'[' | b'n' => None,
        _ => Some(Cow::Borrowed(s.as_bytes())),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// The metadata of `record` as a JSON object, with its time as `time`.
    fn meta(m: &Mapping, record: &[u8], fb: Fallbacks<'_>) -> Value {
        let mut out = b"{".to_vec();
        let time = m.write_meta(record, fb, &mut out);
        if let Some(t) = time {
            out.extend_from_slice(format!("\"time\":{t},").as_bytes());
        }
        out.extend_from_slice(b"\"end\":0}");
        let mut v: Value = serde_json::from_slice(&out).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)));
        v.as_object_mut().unwrap().remove("end");
        v
    }

    #[test]
    fn kubernetes_record_with_default_mapping() {
        let m = Mapping::new(&MappingSpec::default()).unwrap();
        let rec = br#"{"time":"2026-11-22T10:00:00.123456Z","log":"GET / 200","stream":"stdout","kubernetes":{"pod_name":"web-1","namespace_name":"shop","container_name":"nginx","host":"ip-10-0-0-1","labels":{"app":"web"}}}"#;
        assert_eq!(
            meta(&m, rec, Fallbacks::default()),
            json!({"time": 1_795_341_600_123_i64, "host": "ip-10-0-0-1", "source": "shop/web-1/nginx", "sourcetype": "kube:container:nginx"})
        );
        assert_eq!(m.event(), &EventValue::Record);
    }

    #[test]
    fn text_line_bad_json_and_fallbacks() {
        let m = Mapping::new(&MappingSpec::default()).unwrap();
        let fb = Fallbacks { time_ms: Some(1_510_254_471_089), source: Some("grp"), sourcetype: Some("aws:cloudwatchlogs") };
        let want = json!({"time": 1_510_254_471_089_i64, "source": "grp", "sourcetype": "aws:cloudwatchlogs"});
        assert_eq!(meta(&m, b"plain \"text\"", fb), want);
        assert_eq!(meta(&m, br#"{"log":"x","kubernetes":{"host":"h""#, fb), want, "invalid JSON has no fields");
        assert_eq!(meta(&m, b"caf\xe9", fb), want);
        assert_eq!(meta(&m, br#"{"logtrim_summary":{}}"#, SUMMARY_FALLBACKS), json!({"source": "logtrim", "sourcetype": "logtrim:summary"}));
    }

    #[test]
    fn custom_mapping_fields_and_event_path() {
        let spec = MappingSpec {
            host: "{node}|fixed-host".into(),
            index: "k8s-{kubernetes.namespace_name}".into(),
            event: "{log}".into(),
            fields: "ns={kubernetes.namespace_name}, app={kubernetes.labels.app}, q=\"{q}\", missing={nope}".into(),
            ..MappingSpec::default()
        };
        let m = Mapping::new(&spec).unwrap();
        let v = meta(&m, br#"{"log":"hello","q":"a\"b","kubernetes":{"namespace_name":"shop","labels":{"app":"web"}},"n":1}"#, Fallbacks::default());
        assert_eq!(v["host"], "fixed-host");
        assert_eq!(v["index"], "k8s-shop");
        assert_eq!(v["fields"], json!({"ns": "shop", "app": "web", "q": "\"a\"b\""}));
        assert_eq!(m.event(), &EventValue::Field(vec!["log".into()]));
        let v = meta(&m, br#"{"msg":"no log"}"#, Fallbacks::default());
        assert!(v.get("fields").is_none());
    }

    /// The values as serde_json reads them (the mapping's reading before the core's scanner did it).
    fn values_by_serde<'t>(m: &Mapping, record: &'t [u8]) -> Vec<Option<Cow<'t, [u8]>>> {
        let mut found: Vec<Option<&RawValue>> = vec![None; m.paths.len()];
        match std::str::from_utf8(record) {
            Ok(text) if text.trim_start().starts_with('{') && m.paths.extract(text, &mut found).is_ok() => {
                found.into_iter().map(|f| f.and_then(scalar)).collect()
            }
            _ => vec![None; m.paths.len()],
        }
    }

    fn json_value(depth: u32) -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just("\"ip-10-0-0-1\"".to_string()),
            Just("\"\"".to_string()),
            Just("\"a\\\"b \\u00e9\\n\"".to_string()),
            Just("\"caf\u{e9}\"".to_string()),
            Just("1.50".to_string()),
            Just("-0".to_string()),
            Just("1e3".to_string()),
            Just("true".to_string()),
            Just("false".to_string()),
            Just("null".to_string()),
            Just("[1,{\"host\":\"x\"}]".to_string()),
        ];
        leaf.prop_recursive(depth, 24, 4, |inner| {
            proptest::collection::vec((proptest::sample::select(KEYS.to_vec()), inner), 0..4).prop_map(|members| {
                let body: Vec<String> = members.into_iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", body.join(","))
            })
        })
    }

    /// Keys of the default mapping's paths, others, and one spelled with an escape.
    const KEYS: [&str; 9] = ["time", "@timestamp", "host", "kubernetes", "namespace_name", "pod_name", "container_name", "log", "ho\\u0073t"];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2048, failure_persistence: None, ..Default::default() })]
        /// The core's scanner reads the mapping's values exactly as serde_json did: the first value of a
        /// repeated key, strings unescaped, numbers as spelled, nothing from a record that is not JSON.
        #[test]
        fn the_scanner_reads_the_values_serde_json_reads(
            members in proptest::collection::vec((proptest::sample::select(KEYS.to_vec()), json_value(3)), 0..8),
            cut in proptest::option::of(0usize..400),
            custom in proptest::bool::ANY,
        ) {
            let body: Vec<String> = members.into_iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            let mut record = format!("{{{}}}", body.join(",")).into_bytes();
            if let Some(cut) = cut {
                record.truncate(cut);
            }
            let spec = if custom {
                MappingSpec { host: "{host}|{kubernetes.kubernetes.host}".into(), fields: "n={kubernetes.log}".into(), ..MappingSpec::default() }
            } else {
                MappingSpec::default()
            };
            let m = Mapping::new(&spec).unwrap();
            let mut ours = vec![None; m.paths.len()];
            m.read_values(&record, &mut ours);
            proptest::prop_assert_eq!(ours, values_by_serde(&m, &record), "{}", String::from_utf8_lossy(&record));
        }
    }

    #[test]
    fn template_errors_are_all_reported() {
        let spec = MappingSpec { host: "{a".into(), source: "{}".into(), fields: "nonsense".into(), event: "{a}|b".into(), ..MappingSpec::default() };
        let errs = Mapping::new(&spec).unwrap_err();
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert!(errs[0].to_string().starts_with("host: unclosed"));
    }
}
