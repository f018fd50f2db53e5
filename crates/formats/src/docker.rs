//! Docker `json-file` container logs: one `{"log":"..\n","stream":"..","time":".."}` object
//! per line (plus `attrs` when log labels are configured).
//!
//! Docker splits lines longer than 16 KiB; every part but the last has a `log` without the
//! trailing `\n`. Complete lines are passed on unchanged; parts are joined per stream into
//! `{"log":..,"stream":..,"time":..}` with the first part's time. Joining works on the
//! escaped string contents directly: concatenating valid escaped contents yields the escaped
//! concatenation, so nothing is decoded or re-encoded.

use crate::json_scan::{Value, for_each_member};

/// A parsed json-file line: spans of the escaped string contents inside the line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct DockerLine {
    pub log: (usize, usize),
    pub stream: Option<(usize, usize)>,
    pub time: Option<(usize, usize)>,
    /// Only Docker's own keys (`log`, `stream`, `time`, `attrs`) are present; used by
    /// detection to tell json-file from Fluent Bit records, which also carry `log` and `stream`.
    pub only_docker_keys: bool,
}

/// Docker splits a longer line into parts of this many bytes; only a stream's very last part (output
/// that ended without a newline) is shorter.
pub(crate) const PART_BYTES: usize = 16 * 1024;

impl DockerLine {
    /// True when `log` does not end in a newline, i.e. the line continues in the next part.
    pub(crate) fn is_partial(&self, line: &[u8]) -> bool {
        !ends_with_newline(&line[self.log.0..self.log.1])
    }

    /// Whether the line has the shape the json-file driver writes: a `log` ending in a newline, or a
    /// part of a longer line, which carries at least [`PART_BYTES`] (escaped, at least as many).
    /// JSON lines of the same keys whose `log` lacks the newline do not.
    pub(crate) fn is_as_written(&self, line: &[u8]) -> bool {
        !self.is_partial(line) || self.log.1 - self.log.0 >= PART_BYTES
    }
}

/// Parses a json-file line; None unless it is an object with a string `log`.
pub(crate) fn parse(line: &[u8]) -> Option<DockerLine> {
    let mut log = None;
    let mut d = DockerLine {
        only_docker_keys: true,
        ..DockerLine::default()
    };
    for_each_member(line, |k, v| match (k, v) {
        (b"log", Value::Str(a, b)) => log = Some((a, b)),
        (b"stream", Value::Str(a, b)) => d.stream = Some((a, b)),
        (b"time", Value::Str(a, b)) => d.time = Some((a, b)),
        (b"attrs", _) => {}
        _ => d.only_docker_keys = false,
    })?;
    d.log = log?;
    Some(d)
}

/// Whether escaped JSON string content ends with an escaped newline (`\n` or `\u000a`).
fn ends_with_newline(s: &[u8]) -> bool {
    let esc_at = if s.ends_with(b"\\n") {
        s.len() - 2
    } else if s.len() >= 6 && s[s.len() - 6..].eq_ignore_ascii_case(b"\\u000a") {
        s.len() - 6
    } else {
        return false;
    };
    // The backslash starts an escape only if it is not itself escaped: count the run.
    let run = s[..=esc_at]
        .iter()
        .rev()
        .take_while(|&&b| b == b'\\')
        .count();
    run % 2 == 1
}

/// Appends a joined record; all parts are escaped string contents.
pub(crate) fn write_record(out: &mut Vec<u8>, log: &[u8], stream: &[u8], time: &[u8]) {
    out.extend_from_slice(b"{\"log\":\"");
    out.extend_from_slice(log);
    out.extend_from_slice(b"\",\"stream\":\"");
    out.extend_from_slice(stream);
    out.extend_from_slice(b"\",\"time\":\"");
    out.extend_from_slice(time);
    out.extend_from_slice(b"\"}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let l = br#"{"log":"a \"q\"\n","stream":"stderr","time":"2019-01-01T11:11:11.111111111Z"}"#;
        let d = parse(l).unwrap();
        assert_eq!(&l[d.log.0..d.log.1], br#"a \"q\"\n"#);
        assert!(!d.is_partial(l));
        assert!(d.only_docker_keys);
        let (a, b) = d.stream.unwrap();
        assert_eq!(&l[a..b], b"stderr");
        let l = br#"{"log":"part","stream":"stdout","time":"t","kubernetes":{"pod_name":"x"}}"#;
        let d = parse(l).unwrap();
        assert!(d.is_partial(l));
        assert!(!d.is_as_written(l), "a short part is only ever a stream's last");
        let l = format!(r#"{{"log":"{}","stream":"stdout","time":"t"}}"#, "x".repeat(PART_BYTES));
        assert!(parse(l.as_bytes()).unwrap().is_as_written(l.as_bytes()));
        assert!(!d.only_docker_keys);
        assert!(parse(br#""log":"x\n","stream":"stdout","time":"t"}"#).is_none());
        assert!(parse(br#"{"log":1,"stream":"stdout","time":"t"}"#).is_none());
        assert!(parse(br#"{"stream":"stdout","time":"t"}"#).is_none());
    }

    #[test]
    fn newline_endings() {
        assert!(ends_with_newline(br"x\n"));
        assert!(ends_with_newline(br"\n"));
        assert!(ends_with_newline(br"x\u000A"));
        assert!(ends_with_newline(br"x\\\n"));
        assert!(!ends_with_newline(br"x\\n"));
        assert!(!ends_with_newline(br"x\\u000a"));
        assert!(!ends_with_newline(b"x\n"));
        assert!(!ends_with_newline(b""));
        assert!(!ends_with_newline(b"n"));
    }
}
