//! Kubernetes CRI container log lines (containerd, CRI-O), as kubelet defines them:
//! `<RFC3339Nano time> <stdout|stderr> <tag> <message>`, single spaces, where the tag's
//! first `:`-separated field is `P` (partial: the runtime split a long line, by default at
//! 16 KiB) or `F` (full line, or the last part of a split one).
//!
//! Records are emitted as `{"time":"..","stream":"..","log":".."}` so that the rule engine
//! sees the same shape as Fluent Bit's `cri` parser output; the message carries no
//! trailing newline (the tag, not the content, says where lines end).

use crate::escape::escape_into;

/// Which output stream a container line came from; partial lines are joined per stream
/// because a container's stdout and stderr parts can interleave in one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout = 0,
    Stderr = 1,
}

impl Stream {
    pub(crate) fn name(self) -> &'static [u8] {
        match self {
            Stream::Stdout => b"stdout",
            Stream::Stderr => b"stderr",
        }
    }
}

/// A parsed CRI line, borrowing from the physical line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CriLine<'a> {
    pub time: &'a [u8],
    pub stream: Stream,
    pub partial: bool,
    pub msg: &'a [u8],
}

/// Parses one CRI line; None if it does not have the CRI shape.
pub(crate) fn parse(line: &[u8]) -> Option<CriLine<'_>> {
    let sp = memchr::memchr(b' ', line)?;
    let time = &line[..sp];
    if !looks_like_rfc3339(time) {
        return None;
    }
    let rest = &line[sp + 1..];
    let stream = match rest.get(..7)? {
        b"stdout " => Stream::Stdout,
        b"stderr " => Stream::Stderr,
        _ => return None,
    };
    let rest = &rest[7..];
    let (tag, msg) = match memchr::memchr(b' ', rest) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        // An empty message may come without the separating space.
        None => (rest, &rest[rest.len()..]),
    };
    let first = tag.split(|&b| b == b':').next().unwrap_or_default();
    let partial = match first {
        b"P" => true,
        b"F" => false,
        _ => return None,
    };
    Some(CriLine {
        time,
        stream,
        partial,
        msg,
    })
}

/// `YYYY-MM-DDTHH:MM:SS` followed only by fraction/offset characters. Both containerd's
/// `Z` and CRI-O's `+00:00` offsets occur, and the fraction has trailing zeros trimmed.
fn looks_like_rfc3339(t: &[u8]) -> bool {
    const SHAPE: &[u8; 19] = b"dddd-dd-ddTdd:dd:dd";
    t.len() >= 20
        && t.iter().zip(SHAPE).all(|(&b, &s)| match s {
            b'd' => b.is_ascii_digit(),
            b'T' => b == b'T' || b == b't',
            _ => b == s,
        })
        && t[19..]
            .iter()
            .all(|&b| b.is_ascii_digit() || matches!(b, b'.' | b'Z' | b'z' | b'+' | b'-' | b':'))
}

/// Appends the record JSON to `out`; returns true if invalid UTF-8 had to be replaced.
pub(crate) fn write_record(out: &mut Vec<u8>, time: &[u8], stream: Stream, msg: &[u8]) -> bool {
    out.extend_from_slice(b"{\"time\":\"");
    // The time passed the shape check, so it needs no escaping.
    out.extend_from_slice(time);
    out.extend_from_slice(b"\",\"stream\":\"");
    out.extend_from_slice(stream.name());
    out.extend_from_slice(b"\",\"log\":\"");
    let bad = escape_into(out, msg);
    out.extend_from_slice(b"\"}");
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines() {
        let l = parse(b"2016-10-06T00:17:09.669794202Z stdout P log content 1").unwrap();
        assert_eq!(
            l,
            CriLine {
                time: b"2016-10-06T00:17:09.669794202Z",
                stream: Stream::Stdout,
                partial: true,
                msg: b"log content 1"
            }
        );
        let l = parse(b"2020-08-19T21:06:24.33754077+00:00 stderr F \tat x ").unwrap();
        assert_eq!(
            (l.stream, l.partial, l.msg),
            (Stream::Stderr, false, &b"\tat x "[..])
        );
        let l = parse(b"2020-08-19T21:06:24Z stdout F:x ").unwrap();
        assert_eq!((l.partial, l.msg), (false, &b""[..]));
        assert_eq!(parse(b"2020-08-19T21:06:24Z stdout F").unwrap().msg, b"");
        assert_eq!(
            parse(b"2020-08-19T21:06:24Z stdout F  two").unwrap().msg,
            b" two"
        );
        for bad in [
            &b"2020-08-19 21:06:24Z stdout F x"[..],
            b"2020-08-19T21:06:24Z stdin F x",
            b"2020-08-19T21:06:24Z stdout X x",
            b"2020-08-19T21:06:24Z stdout",
            b"2020-08-19T21:06:24\"Z stdout F x",
            b"{\"log\":\"x\"}",
            b"",
        ] {
            assert!(parse(bad).is_none(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn writes_valid_json() {
        let mut out = Vec::new();
        let bad = write_record(
            &mut out,
            b"2016-10-06T00:17:09Z",
            Stream::Stderr,
            b"say \"hi\" \\ \x01 \xff",
        );
        assert!(bad);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["log"], "say \"hi\" \\ \u{1} \u{fffd}");
        assert_eq!(v["stream"], "stderr");
        assert_eq!(v["time"], "2016-10-06T00:17:09Z");
    }
}
