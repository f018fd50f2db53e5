//! How many bytes Splunk's licence meter counts for an event.
//!
//! Splunk meters "the amount of raw external data that the indexer ingests into its indexing pipeline, after
//! any filtering" — an event's `_raw`. For an HEC `/services/collector/event` request, `_raw` is the `event`
//! value: a JSON string is indexed as the string itself (decoded), any other JSON value as its JSON text;
//! `time`, `host`, `source`, `sourcetype` and `index` are metadata and the HEC envelope is not metered.
//! Whether indexed `fields` are metered is not documented; we do not count them. The full rule, its sources
//! and the search that calibrates it are in docs/rules.md ("Daily byte budget").

/// Metered bytes of an HEC event whose `event` value is the JSON text `event_json`: the UTF-8 length of the
/// decoded string when it is a JSON string, else the length of the JSON text as sent (surrounding
/// whitespace excluded). Counts without allocating.
///
/// ```
/// use logtrim_core::budget::metered_event_bytes;
/// assert_eq!(metered_event_bytes(br#""GET /x \"200\"\n""#), 13); // the decoded string
/// assert_eq!(metered_event_bytes(br#" {"a": 1} "#), 8);            // an object: its JSON text
/// ```
pub fn metered_event_bytes(event_json: &[u8]) -> u64 {
    let t = event_json.trim_ascii();
    match t {
        [b'"', inner @ .., b'"'] => decoded_len(inner),
        _ => t.len() as u64,
    }
}

/// Metered bytes of a record sent with the `event` taken from the whole record (the default HEC mapping):
/// a JSON object record is sent as its JSON text, a text line as a JSON string that decodes back to the
/// line, so both meter as the record's bytes without surrounding whitespace.
pub fn metered_record_bytes(record: &[u8]) -> u64 {
    record.trim_ascii().len() as u64
}

/// Metered bytes of a text `_raw` (a log line or message sent as a JSON string).
pub fn metered_text_bytes(text: &str) -> u64 {
    text.len() as u64
}

/// The UTF-8 length of the string a JSON string body (between the quotes) decodes to.
fn decoded_len(body: &[u8]) -> u64 {
    let mut n = 0u64;
    let mut i = 0;
    while i < body.len() {
        if body[i] != b'\\' {
            n += 1;
            i += 1;
            continue;
        }
        match body.get(i + 1) {
            Some(b'u') => {
                let cp = hex4(body.get(i + 2..i + 6));
                match cp {
                    Some(0xD800..=0xDBFF) => {
                        // A surrogate pair is one 4-byte character; a lone high surrogate decodes to U+FFFD.
                        let lo =
                            (body.get(i + 6..i + 8) == Some(b"\\u")).then(|| hex4(body.get(i + 8..i + 12))).flatten();
                        if matches!(lo, Some(0xDC00..=0xDFFF)) {
                            n += 4;
                            i += 12;
                        } else {
                            n += 3;
                            i += 6;
                        }
                    }
                    Some(c) => {
                        n += match c {
                            0..=0x7F => 1,
                            0x80..=0x7FF => 2,
                            _ => 3,
                        };
                        i += 6;
                    }
                    None => {
                        n += 2;
                        i += 2;
                    }
                }
            }
            Some(_) => {
                n += 1;
                i += 2;
            }
            None => {
                n += 1;
                i += 1;
            }
        }
    }
    n
}

fn hex4(b: Option<&[u8]>) -> Option<u32> {
    let b = b?;
    let s = std::str::from_utf8(b).ok()?;
    if s.len() != 4 {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str) {
        let decoded: serde_json::Value = serde_json::from_str(json).unwrap();
        let expect = match &decoded {
            serde_json::Value::String(s) => s.len() as u64,
            _ => json.trim().len() as u64,
        };
        assert_eq!(metered_event_bytes(json.as_bytes()), expect, "{json}");
    }

    #[test]
    fn strings_meter_as_decoded_utf8() {
        for j in [
            r#""""#,
            r#""plain""#,
            r#""tab\tnewline\n quote\" slash\/ back\\""#,
            r#""é literal""#,
            r#""\u00e9 \u20ac \u0041""#,
            r#""\ud83d\ude00 emoji""#,
            r#""10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 2""#,
        ] {
            check(j);
        }
        // A lone surrogate decodes to U+FFFD (3 bytes), as lenient decoders do.
        assert_eq!(metered_event_bytes(br#""\ud83d""#), 3);
    }

    #[test]
    fn objects_meter_as_sent() {
        check(r#"{"log":"x","kubernetes":{"pod_name":"p"}}"#);
        check("  [1, 2]\n");
        assert_eq!(metered_record_bytes(b"{\"a\":1}\n"), 7);
        assert_eq!(metered_record_bytes(b"plain line"), 10);
        assert_eq!(metered_text_bytes("héllo"), 6);
    }
}
