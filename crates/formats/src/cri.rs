//! Kubernetes CRI container log lines (containerd, CRI-O), as kubelet defines them:
//! `<RFC3339Nano time> <stdout|stderr> <tag> <message>`, single spaces, where the tag's
//! first `:`-separated field is `P` (partial: the runtime split a long line, by default at
//! 16 KiB) or `F` (full line, or the last part of a split one).
//!
//! Records are emitted as `{"time":"..","stream":"..","log":".."}` so that the rule engine
//! sees the same shape as Fluent Bit's `cri` parser output; the message carries no
//! trailing newline (the tag, not the content, says where lines end).

use logtrim_core::record::json::escape_into;

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
    let sp = time_end(line)?;
    let time = &line[..sp];
    let rest = &line[sp + 1..];
    let stream = match rest.get(..7)? {
        b"stdout " => Stream::Stdout,
        b"stderr " => Stream::Stderr,
        _ => return None,
    };
    let rest = &rest[7..];
    let (tag, msg) = match rest {
        // PERF: the tag is almost always one letter: no search for the space after it.
        [_, b' ', ..] => (&rest[..1], &rest[2..]),
        _ => match memchr::memchr(b' ', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            // An empty message may come without the separating space.
            None => (rest, &rest[rest.len()..]),
        },
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

/// Where the time at the start of `line` ends (its first space), if that time is
/// `YYYY-MM-DDTHH:MM:SS` followed only by fraction/offset characters. Both containerd's `Z` and
/// CRI-O's `+00:00` offsets occur, and the fraction has trailing zeros trimmed.
fn time_end(line: &[u8]) -> Option<usize> {
    // PERF: the shape is checked and the space found in one pass over the ~30 bytes (a memchr call
    // and a second pass cost more on so few); the fixed part without a branch per byte.
    let h: &[u8; 19] = line.get(..19)?.try_into().ok()?;
    let d = |i: usize| h[i].is_ascii_digit();
    let shaped = d(0) & d(1) & d(2) & d(3) & (h[4] == b'-') & d(5) & d(6) & (h[7] == b'-') & d(8) & d(9)
        & matches!(h[10], b'T' | b't')
        & d(11) & d(12) & (h[13] == b':') & d(14) & d(15) & (h[16] == b':') & d(17) & d(18);
    if !shaped {
        return None;
    }
    let mut i = 19;
    loop {
        match *line.get(i)? {
            b' ' => break,
            b if b.is_ascii_digit() || matches!(b, b'.' | b'Z' | b'z' | b'+' | b'-' | b':') => i += 1,
            _ => return None,
        }
    }
    (i >= 20).then_some(i)
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

    /// The parser as first written: find the first space, then check the time's shape.
    fn reference(line: &[u8]) -> Option<CriLine<'_>> {
        let sp = line.iter().position(|&b| b == b' ')?;
        let time = &line[..sp];
        let shape = b"dddd-dd-ddTdd:dd:dd";
        let shaped = time.len() >= 20
            && time.iter().zip(shape).all(|(&b, &s)| match s {
                b'd' => b.is_ascii_digit(),
                b'T' => b == b'T' || b == b't',
                _ => b == s,
            })
            && time[19..].iter().all(|&b| b.is_ascii_digit() || matches!(b, b'.' | b'Z' | b'z' | b'+' | b'-' | b':'));
        if !shaped {
            return None;
        }
        let rest = &line[sp + 1..];
        let stream = match rest.get(..7)? {
            b"stdout " => Stream::Stdout,
            b"stderr " => Stream::Stderr,
            _ => return None,
        };
        let rest = &rest[7..];
        let (tag, msg) = match rest.iter().position(|&b| b == b' ') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        let partial = match tag.split(|&b| b == b':').next().unwrap_or_default() {
            b"P" => true,
            b"F" => false,
            _ => return None,
        };
        Some(CriLine { time, stream, partial, msg })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 4096, failure_persistence: None, ..Default::default() })]

        #[test]
        fn parses_like_the_reference(
            time in proptest::sample::select(vec![
                "2016-10-06T00:17:09.669794202Z", "2020-08-19T21:06:24.33754077+00:00", "2020-08-19t21:06:24z",
                "2020-08-19T21:06:24", "2020-08-19T21:06:2", "2020-08-19 21:06:24Z", "2020-08-19T21:06:24Zx",
                "2020-08-19T21:06:24.5", "", "x",
            ]),
            sep in proptest::sample::select(vec![" ", "  ", "", "\t"]),
            stream in proptest::sample::select(vec!["stdout ", "stderr ", "stdin ", "stdout", "stdout  ", ""]),
            tag in proptest::sample::select(vec!["F", "P", "F:x", "P:", ":F", "X", "", " ", "FF"]),
            sep2 in proptest::sample::select(vec![" ", "  ", "", ":"]),
            msg in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..6),
        ) {
            let line = [time.as_bytes(), sep.as_bytes(), stream.as_bytes(), tag.as_bytes(), sep2.as_bytes(), &msg].concat();
            proptest::prop_assert_eq!(parse(&line), reference(&line));
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
