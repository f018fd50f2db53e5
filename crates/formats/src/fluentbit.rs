//! Fluent Bit's JSON event lines: `[1700000000.123, {record}]` (classic) and
//! `[[1700000000.123, {metadata}], {record}]` (Fluent Bit ≥ 2.1 event format).
//!
//! The record is the inner object; it is returned as a slice of the line, so no copy is made.

use crate::json_scan::{skip_value, skip_ws, trim_end};

/// The byte range of the record object inside a Fluent Bit event line, or None if the line
/// does not have that shape.
pub(crate) fn inner_object(line: &[u8]) -> Option<(usize, usize)> {
    let mut i = skip_ws(line, 0);
    if line.get(i) != Some(&b'[') {
        return None;
    }
    i = skip_ws(line, i + 1);
    match *line.get(i)? {
        // The timestamp (or [timestamp, metadata]); a string would be some other array.
        b'[' | b'-' | b'0'..=b'9' => {}
        _ => return None,
    }
    i = skip_ws(line, skip_value(line, i)?);
    if line.get(i) != Some(&b',') {
        return None;
    }
    let start = skip_ws(line, i + 1);
    let body = trim_end(line);
    if body.last() != Some(&b']') {
        return None;
    }
    let end = trim_end(&body[..body.len() - 1]).len();
    (end > start && line[start] == b'{' && line[end - 1] == b'}').then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inner(l: &str) -> Option<&str> {
        inner_object(l.as_bytes()).map(|(a, b)| &l[a..b])
    }

    #[test]
    fn shapes() {
        assert_eq!(
            inner(r#"[1554141513.598656,{"log":"x\n","stream":"stdout"}]"#),
            Some(r#"{"log":"x\n","stream":"stdout"}"#)
        );
        assert_eq!(inner(r#" [ 1700000000 , {"a":1} ] "#), Some(r#"{"a":1}"#));
        assert_eq!(
            inner(r#"[[1700000000.5,{"m":"]"}],{"a":1}]"#),
            Some(r#"{"a":1}"#)
        );
        assert_eq!(inner(r#"[1,2]"#), None);
        assert_eq!(inner(r#"["a",{"a":1}]"#), None);
        assert_eq!(inner(r#"[1,{"a":1}"#), None);
        assert_eq!(inner(r#"[1,]"#), None);
        assert_eq!(inner(r#"["#), None);
        assert_eq!(inner(r#"[1,}]"#), None);
    }
}
