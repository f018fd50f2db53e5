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
    let minute: &[u8; 16] = b.get(..16)?.try_into().ok()?;
    within_minute(b, minute_secs(minute)?)
}

/// Remembers the minute of the last timestamp read, which the next ones of a log mostly share: those
/// are read from their seconds on. Reads what [`rfc3339_ms`] and [`parse_ms`] read.
#[derive(Clone, Debug, Default)]
pub struct TimeCache {
    minute: Option<([u8; 16], i64)>,
}

impl TimeCache {
    /// [`rfc3339_ms`], the date and the hour and minute read once per minute.
    pub fn rfc3339_ms(&mut self, b: &[u8]) -> Option<i64> {
        let key: [u8; 16] = b.get(..16)?.try_into().ok()?;
        let secs = match self.minute {
            Some((k, secs)) if k == key => secs,
            _ => {
                let secs = minute_secs(&key)?;
                self.minute = Some((key, secs));
                secs
            }
        };
        within_minute(b, secs)
    }

    /// [`parse_ms`], an RFC 3339 timestamp read as by [`TimeCache::rfc3339_ms`].
    pub fn parse_ms(&mut self, text: &[u8]) -> Option<i64> {
        let text = text.trim_ascii();
        // A timestamp starts with four digits and `-`, which no JSON number does (`123e-5` has a
        // letter before its `-`).
        if text.get(4) == Some(&b'-') && text[..4].iter().all(u8::is_ascii_digit) {
            return self.rfc3339_ms(text);
        }
        parse_ms(text)
    }
}

/// Two ASCII digits as a number.
fn two(b: [u8; 2]) -> Option<i64> {
    (b[0].is_ascii_digit() && b[1].is_ascii_digit()).then(|| i64::from(b[0] - b'0') * 10 + i64::from(b[1] - b'0'))
}

/// Epoch seconds of the start of the minute `YYYY-MM-DD?hh:mm` (local to the timestamp's offset).
fn minute_secs(b: &[u8; 16]) -> Option<i64> {
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
        return None;
    }
    let y = two([b[0], b[1]])? * 100 + two([b[2], b[3]])?;
    let (mo, d, h, mi) = (two([b[5], b[6]])?, two([b[8], b[9]])?, two([b[11], b[12]])?, two([b[14], b[15]])?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if mo <= 2 { (y - 1, mo + 9) } else { (y, mo - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60)
}

/// Epoch milliseconds of `b`, whose first 16 bytes are the minute starting at `minute` seconds: reads
/// `:ss`, the fraction and the offset.
fn within_minute(b: &[u8], minute: i64) -> Option<i64> {
    if b.len() < 19 || b[16] != b':' {
        return None;
    }
    let sec = two([b[17], b[18]])?;
    if sec > 60 {
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
            let (oh, om) = match *rest {
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => (two([h1, h2])?, two([m1, m2])?),
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            if *sign == b'-' { -(oh * 60 + om) } else { oh * 60 + om }
        }
        _ => return None,
    };
    Some((minute + sec - offset_min * 60) * 1000 + ms)
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

    /// A cache hit reads the rest of the timestamp as a whole parse would, and a miss replaces the
    /// minute: timestamps of nearby minutes, mutated anywhere, read alike one after another.
    #[test]
    fn the_minute_cache_reads_as_a_whole_parse() {
        use super::{TimeCache, rfc3339_ms};
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let bases = [
            &b"2026-11-22T10:00:00.123456789Z"[..],
            b"2026-11-22T10:00:59Z",
            b"2026-11-22T10:01:00.5+01:00",
            b"2026-11-22 10:01:07-0330",
            b"2000-02-29t23:59:60.999z",
            b"175e-2",
            b"1795341600.5",
        ];
        let alphabet = b"0123456789-:.TZz+ xeE";
        let mut cache = TimeCache::default();
        for _ in 0..200_000 {
            let mut t = bases[next() as usize % bases.len()].to_vec();
            for _ in 0..next() % 3 {
                let at = next() as usize % (t.len() + 1);
                match next() % 3 {
                    0 if at < t.len() => t[at] = alphabet[next() as usize % alphabet.len()],
                    1 if at < t.len() => drop(t.remove(at)),
                    _ => t.insert(at, alphabet[next() as usize % alphabet.len()]),
                }
            }
            let text = String::from_utf8_lossy(&t);
            assert_eq!(cache.rfc3339_ms(&t), rfc3339_ms(&t), "{text}");
            assert_eq!(cache.parse_ms(&t), parse_ms(&t), "{text}");
        }
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
