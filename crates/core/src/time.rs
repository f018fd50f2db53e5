//! Record timestamps as epoch milliseconds: one reading for every front-end, so a record's time means the
//! same in the CLI's projections, the summaries' intervals, and the `time` of the Lambda's HEC events.

/// Epoch milliseconds from a timestamp's text: a number (see [`from_number`]) or an RFC 3339 timestamp
/// (see [`rfc3339_ms`]). Surrounding ASCII whitespace is ignored.
pub fn parse_ms(text: &[u8]) -> Option<i64> {
    let text = text.trim_ascii();
    match crate::json_number(text) {
        Some(n) => from_number(n),
        None => rfc3339_ms(text),
    }
}

/// Epoch milliseconds from a number of seconds, or of milliseconds, microseconds or nanoseconds when it
/// is at least 1e11, 1e14 or 1e17 (no log of this century has seconds that large, so the magnitude tells
/// the unit, as Splunk's and Fluent Bit's own readers assume). Negative times and years past 9999 are
/// not times.
pub fn from_number(n: f64) -> Option<i64> {
    let ms = if n >= 1e17 {
        n / 1e6
    } else if n >= 1e14 {
        n / 1e3
    } else if n >= 1e11 {
        n
    } else {
        n * 1e3
    };
    // Floor, not round: a record at 10:00:59.9996 belongs to the minute 10:00. But a nanosecond count
    // such as 1433188255500000000 is not exact in an f64 (it reads as …499999744), so a value within a
    // microsecond of a whole millisecond is that millisecond.
    let near = ms.round();
    let ms = if (ms - near).abs() < 1e-3 { near } else { ms.floor() };
    (0.0..253_402_300_800_000.0).contains(&ms).then_some(ms as i64)
}

/// Epoch milliseconds from an RFC 3339 timestamp: `2026-11-22T10:00:00.123Z`, `T`, `t` or a space between
/// date and time, a fraction of any length (cut to milliseconds), and `Z`, `±hh:mm` or `±hhmm` (ISO 8601's
/// basic form, which Java and Python loggers write). A timestamp without an offset is not read: its zone
/// is unknown, and guessing UTC would shift the record by hours.
pub fn rfc3339_ms(b: &[u8]) -> Option<i64> {
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = b.get(r)?;
        t.iter().all(u8::is_ascii_digit).then(|| t.iter().fold(0i64, |a, d| a * 10 + i64::from(d - b'0')))
    };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (h, mi, sec) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut ms = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let frac = &b[start..i.min(start + 3)];
        ms = frac.iter().fold(0i64, |a, d| a * 10 + i64::from(d - b'0')) * 10i64.pow(3 - frac.len() as u32);
    }
    let offset_min = match &b[i..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (oh, om) = match rest {
                [_, _, b':', _, _] => (digits(i + 1..i + 3)?, digits(i + 4..i + 6)?),
                [_, _, _, _] => (digits(i + 1..i + 3)?, digits(i + 3..i + 5)?),
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            if *sign == b'-' { -(oh * 60 + om) } else { oh * 60 + om }
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if mo <= 2 { (y - 1, mo + 9) } else { (y, mo - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60) * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::parse_ms;

    #[test]
    fn numbers_by_magnitude() {
        assert_eq!(parse_ms(b"1433188255.5"), Some(1_433_188_255_500));
        assert_eq!(parse_ms(b"1433188255500"), Some(1_433_188_255_500));
        assert_eq!(parse_ms(b"1433188255500000"), Some(1_433_188_255_500));
        assert_eq!(parse_ms(b"1433188255500000000"), Some(1_433_188_255_500));
        assert_eq!(parse_ms(b" 1795341600 "), Some(1_795_341_600_000));
        assert_eq!(parse_ms(b"1795341659.9996"), Some(1_795_341_659_999));
        assert_eq!(parse_ms(b"-1"), None);
        assert_eq!(parse_ms(b"1e300"), None);
    }

    #[test]
    fn rfc3339_forms() {
        assert_eq!(parse_ms(b"1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_ms(b"2026-11-22T10:00:00Z"), Some(1_795_341_600_000));
        assert_eq!(parse_ms(b"2026-11-22T11:00:00+01:00"), Some(1_795_341_600_000));
        assert_eq!(parse_ms(b"2015-06-01T19:50:55.5Z"), Some(1_433_188_255_500));
        assert_eq!(parse_ms(b"2015-06-01 21:50:55.500+02:00"), Some(1_433_188_255_500));
        assert_eq!(parse_ms(b"2015-06-01T16:50:55.500999999-0300"), Some(1_433_188_255_500));
        assert_eq!(parse_ms(b"2016-10-06T00:17:09.669794202Z"), Some(1_475_713_029_669));
        assert_eq!(parse_ms(b"2000-02-29T00:00:00Z"), Some(951_782_400_000));
        assert_eq!(parse_ms(b"1969-12-31T23:59:59Z"), Some(-1000));
    }

    #[test]
    fn not_timestamps() {
        for s in [
            &b"yesterday"[..],
            b"2015-06-01T19:50:55",
            b"2026-13-01T00:00:00Z",
            b"2026-11-22T24:00:00Z",
            b"2026-11-22T10:00:00.Z",
            b"2026-11-22T10:00:00+1:00",
            b"2026-11-22T10:00:00+25:00",
            b"2026-11-22T10:00:00Zjunk",
            b"\xff\xfe",
            b"",
        ] {
            assert_eq!(parse_ms(s), None, "{}", String::from_utf8_lossy(s));
        }
    }
}
