//! Splunk HTTP Event Collector events, as every front-end sends them:
//! `{<metadata>"time":<seconds>.<milliseconds>,"event":<value>}`.
//!
//! The metadata members (`host`, `source`, `sourcetype`, `index`, `fields`) are the front-end's: the
//! Lambda renders them from the record, the forwarder from the file a line came from. Everything else —
//! the envelope, the time, which value is the `event`, and how many bytes Splunk meters for it — is
//! written here, once, by [`crate::run::pipeline::Pipeline`]. Events are stacked with no separator, as HEC
//! batches them and as Firehose's Splunk destination concatenates them.

use crate::record::json::raw::{RawPaths, RawValue};

/// Which value of a kept record is the HEC `event`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum EventValue {
    /// The record as it is sent: a JSON object embedded as it is, a text line (or an event's message)
    /// as a JSON string.
    #[default]
    Record,
    /// One field of the record as it is sent (after `trim:`): a string, number, boolean or object
    /// embedded as it is; when it is missing, null or an array, the record. A string's one trailing
    /// newline (Docker's json-file keeps the one the program wrote) is not sent. `Field(["log"])` sends
    /// a container log line's message alone.
    Field(Vec<String>),
}

impl EventValue {
    /// Parses `record`, or one `{dotted.path}`.
    pub fn parse(text: &str) -> Result<EventValue, String> {
        match text.trim() {
            "" | "record" => Ok(EventValue::Record),
            // The forwarder's name for the message alone.
            "log" => Ok(EventValue::Field(vec!["log".into()])),
            t => match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                Some(path) if !path.contains(['{', '}', '|']) && path.split('.').all(|s| !s.trim().is_empty()) => {
                    Ok(EventValue::Field(path.split('.').map(|s| s.trim().to_string()).collect()))
                }
                _ => Err(format!("expected `record`, `log` or a single `{{path}}`, got {t:?}")),
            },
        }
    }
}

/// The decimal digits of the last whole second [`TimeWriter::push`] wrote: events come mostly in time
/// order, many in the same second as the one before.
#[derive(Debug, Default)]
pub(crate) struct TimeWriter {
    secs: Option<u64>,
    digits: [u8; 20],
    /// Where the digits start in `digits`.
    start: usize,
}

impl TimeWriter {
    /// Appends `"time":<seconds>.<milliseconds>,` (HEC's `<sec>.<ms>`) for `ms` since the Unix epoch.
    pub(crate) fn push(&mut self, e: &mut Vec<u8>, ms: i64) {
        // PERF: once per kept record; `write!` took about 1.5% of the forwarder's reading thread, and
        // converting the seconds to digits most of the rest.
        e.extend_from_slice(b"\"time\":");
        if ms < 0 {
            e.push(b'-');
        }
        let (secs, frac) = (ms.unsigned_abs() / 1000, ms.unsigned_abs() % 1000);
        if self.secs != Some(secs) {
            let mut n = secs;
            let mut i = self.digits.len();
            loop {
                i -= 1;
                self.digits[i] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
            (self.secs, self.start) = (Some(secs), i);
        }
        e.extend_from_slice(&self.digits[self.start..]);
        e.extend_from_slice(&[b'.', b'0' + (frac / 100) as u8, b'0' + (frac / 10 % 10) as u8, b'0' + (frac % 10) as u8, b',']);
    }
}

/// The JSON string at the start of `b`, quotes included.
pub(crate) fn json_string_prefix(b: &[u8]) -> Option<&[u8]> {
    if b.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(&b[..=i]),
            _ => i += 1,
        }
    }
    None
}

/// Appends the JSON string `s` without its one trailing newline (`\n` escaped), as sent for a string
/// field; returns how many bytes of `s` were left out.
pub(crate) fn push_without_newline(s: &[u8], out: &mut Vec<u8>) -> usize {
    match s.strip_suffix(br#"\n""#) {
        // `\\n"` is a backslash then `n`; only an even run of backslashes before it leaves `\n` an escape.
        Some(body) if body.iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 0 => {
            out.extend_from_slice(body);
            out.push(b'"');
            2
        }
        _ => {
            out.extend_from_slice(s);
            0
        }
    }
}

/// The raw JSON value at `path` (compiled as `paths`, one path) in the JSON object `text`, if it is
/// one to send as an event: not null and not an array (those leave the record as the event). `None`
/// also when `text` is not a JSON object.
pub(crate) fn field_value<'t>(text: &'t [u8], paths: &RawPaths) -> Option<&'t [u8]> {
    let text = std::str::from_utf8(text).ok()?;
    let mut found = [None];
    paths.extract(text, &mut found).ok()?;
    found[0].map(|r: &RawValue| r.get().as_bytes()).filter(|r| !matches!(r.first(), Some(b'n' | b'[')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hec_time_is_seconds_dot_milliseconds() {
        let mut w = TimeWriter::default();
        let cases = [
            (1_795_341_600_123, "1795341600.123"),
            (1_795_341_600_999, "1795341600.999"),
            (1_795_341_601_000, "1795341601.000"),
            (1_795_341_600_000, "1795341600.000"),
            (5, "0.005"),
            (0, "0.000"),
            (-1, "-0.001"),
            (-61_250, "-61.250"),
            (-61_001, "-61.001"),
            (61_001, "61.001"),
            (i64::MAX, "9223372036854775.807"),
        ];
        // Twice over, so each is written both after another second and after the same one.
        for (ms, want) in cases.iter().chain(&cases).chain(cases.iter().rev()) {
            let mut e = Vec::new();
            w.push(&mut e, *ms);
            assert_eq!(String::from_utf8(e).unwrap(), format!("\"time\":{want},"));
        }
    }

    #[test]
    fn event_values() {
        assert_eq!(EventValue::parse(" record "), Ok(EventValue::Record));
        assert_eq!(EventValue::parse(""), Ok(EventValue::Record));
        assert_eq!(EventValue::parse("log"), Ok(EventValue::Field(vec!["log".into()])));
        assert_eq!(EventValue::parse("{a.b}"), Ok(EventValue::Field(vec!["a".into(), "b".into()])));
        for bad in ["{}", "{a..b}", "a.b", "{a}|{b}", "text {a}"] {
            assert!(EventValue::parse(bad).is_err(), "{bad}");
        }
        let rec = br#"{"a":{"b":1.50,"s":"x"},"n":null,"l":[1],"a":{"b":2}}"#;
        let f = |p: &str| field_value(rec, &RawPaths::new(&[p.split('.').map(String::from).collect()]));
        assert_eq!(f("a.b"), Some(&b"1.50"[..]), "as written, the first of duplicates");
        assert_eq!(f("a.s"), Some(&br#""x""#[..]));
        assert_eq!(f("a"), Some(&br#"{"b":1.50,"s":"x"}"#[..]));
        assert_eq!((f("n"), f("l"), f("zz"), f("a.s.t")), (None, None, None, None));
        let a = RawPaths::new(&[vec!["a".into()]]);
        assert_eq!(field_value(b"not json", &a), None);
        assert_eq!(field_value(br#"{"a":1"#, &a), None, "invalid JSON");
    }

    #[test]
    fn strings_lose_one_escaped_newline() {
        let strip = |s: &[u8]| {
            let mut out = b"x".to_vec();
            let cut = push_without_newline(s, &mut out);
            assert_eq!(out.len() - 1 + cut, s.len());
            out.split_off(1)
        };
        assert_eq!(strip(br#""a\n""#), br#""a""#);
        assert_eq!(strip(br#""a\n\n""#), br#""a\n""#);
        assert_eq!(strip(br#""a\\n""#), br#""a\\n""#, "a backslash, then n");
        assert_eq!(strip(br#""a\\\n""#), br#""a\\""#);
        assert_eq!(strip(br#""a""#), br#""a""#);
        assert_eq!(json_string_prefix(br#""x\\"}"#), Some(&br#""x\\""#[..]));
        assert_eq!(json_string_prefix(br#""unterminated\"}"#), None);
    }
}
