//! Choosing an input's format from its first lines ([`InputFormat::Auto`]).
//!
//! Each of the first few non-empty lines (the first one, plus whatever complete lines are
//! already in the read buffer, so detection never reads ahead) is classified on its own,
//! and the most common class wins, ties going to the class seen first. Looking at more
//! than one line keeps a single odd first line (a corrupt json-file line, a banner) from
//! turning a whole file into text.

use crate::{InputFormat, cri, docker, fluentbit};

/// Classifies one line (with `\r` already stripped).
pub(crate) fn classify(line: &[u8]) -> InputFormat {
    let first = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map(|i| line[i]);
    match first {
        // A json-file line whose `log` lacks the newline is a 16 KiB part; short ones are JSON lines
        // that happen to have Docker's keys, and joining them as parts would make one record of many.
        Some(b'{') => match docker::parse(line) {
            Some(d)
                if d.stream.is_some()
                    && d.time.is_some()
                    && d.only_docker_keys
                    && d.is_as_written(line) =>
            {
                InputFormat::Docker
            }
            _ => InputFormat::Json,
        },
        Some(b'[') if fluentbit::inner_object(line).is_some() => InputFormat::Json,
        Some(b'0'..=b'9') if cri::parse(line).is_some() => InputFormat::Cri,
        _ => InputFormat::Text,
    }
}

/// Picks the format for an input whose first non-empty line is `first`; `rest` is the
/// buffered input after it, `at_eof` whether that is all there is. At most `max_lines`
/// non-empty lines are considered in all.
pub(crate) fn detect(first: &[u8], rest: &[u8], at_eof: bool, max_lines: usize) -> InputFormat {
    // Order of first appearance doubles as the tie-break.
    let mut seen: [(InputFormat, usize); 4] = [(InputFormat::Auto, 0); 4];
    let mut vote = |f: InputFormat| {
        for slot in seen.iter_mut() {
            if slot.0 == f || slot.0 == InputFormat::Auto {
                slot.0 = f;
                slot.1 += 1;
                return;
            }
        }
    };
    vote(classify(first));
    let mut left = max_lines.saturating_sub(1);
    let mut rest = rest;
    while left > 0 && !rest.is_empty() {
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None if at_eof => (rest, &rest[rest.len()..]),
            None => break,
        };
        rest = next;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        vote(classify(line));
        left -= 1;
    }
    let mut best = seen[0];
    for s in &seen[1..] {
        if s.1 > best.1 {
            best = *s;
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        assert_eq!(
            classify(b"2016-10-06T00:17:09.669794202Z stdout F hi"),
            InputFormat::Cri
        );
        assert_eq!(
            classify(br#"{"log":"hi\n","stream":"stdout","time":"2019-01-01T11:11:11Z"}"#),
            InputFormat::Docker
        );
        assert_eq!(
            classify(br#"{"log":"hi\n","stream":"stdout","time":"t","kubernetes":{}}"#),
            InputFormat::Json
        );
        assert_eq!(
            classify(br#"{"log":"hi\n","stream":"stdout"}"#),
            InputFormat::Json
        );
        assert_eq!(
            classify(br#"{"log":"GET / 503","stream":"stdout","time":"2019-01-01T11:11:11Z"}"#),
            InputFormat::Json
        );
        assert_eq!(
            classify(br#"[1554141513.598656,{"log":"x"}]"#),
            InputFormat::Json
        );
        assert_eq!(classify(br#"{"broken"#), InputFormat::Json);
        assert_eq!(classify(b"[INFO] started"), InputFormat::Text);
        assert_eq!(
            classify(b"2016-10-06 00:17:09 INFO started"),
            InputFormat::Text
        );
    }

    #[test]
    fn votes() {
        let d = br#"{"log":"x\n","stream":"stdout","time":"t"}"#;
        let corrupt = br#""log":"x\n","stream":"stdout","time":"t"}"#;
        let rest = [&d[..], b"\n", d, b"\n\n", d].concat();
        assert_eq!(detect(corrupt, &rest, true, 16), InputFormat::Docker);
        // The unterminated last line only counts at the end of the input.
        assert_eq!(detect(corrupt, b"x\ny\n{}", false, 16), InputFormat::Text);
        assert_eq!(detect(b"{}", b"x\n{}", true, 16), InputFormat::Json);
        assert_eq!(detect(b"x", b"{}\n", true, 16), InputFormat::Text);
        assert_eq!(detect(b"x", b"{}\n{}\n", true, 2), InputFormat::Text);
        // A stream's last part, short and without its newline, among json-file lines.
        let last = br#"{"log":"$ ","stream":"stdout","time":"t"}"#;
        assert_eq!(detect(d, &[&d[..], b"\n", last].concat(), true, 16), InputFormat::Docker);
    }
}
