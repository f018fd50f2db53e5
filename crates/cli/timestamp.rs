//! Record timestamps, to derive how many days a sample covers (for GB/day projections).

use logtrim_core::json_number;

/// Seconds since the Unix epoch from an RFC 3339 timestamp (`2026-11-22T10:00:00.123456789Z`,
/// `+01:00` offsets, a space instead of `T`), or from a number (seconds, or milliseconds when > 1e11).
pub fn parse(v: &[u8]) -> Option<f64> {
    if let Some(n) = json_number(v) {
        return Some(if n > 1e11 { n / 1000.0 } else { n });
    }
    let s = std::str::from_utf8(v).ok()?;
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let int = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, sec) = (int(0..4)?, int(5..7)?, int(8..10)?, int(11..13)?, int(14..16)?, int(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac = 0.0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac = format!("0.{}", &s[start..i]).parse().ok()?;
    }
    let offset = match b.get(i) {
        Some(b'Z') | Some(b'z') => 0,
        Some(c @ (b'+' | b'-')) => {
            let oh = int(i + 1..i + 3)?;
            let om = int(i + 4..i + 6)?;
            let sign = if *c == b'-' { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
        None => 0,
        _ => return None,
    };
    // Days from civil (Howard Hinnant's algorithm).
    let (y, m) = if mo <= 2 { (y - 1, mo + 9) } else { (y, mo - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + mi * 60 + sec - offset) as f64 + frac)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn rfc3339_and_numbers() {
        assert_eq!(parse(b"1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse(b"2026-11-22T10:00:00Z"), Some(1_795_341_600.0));
        assert_eq!(parse(b"2026-11-22T11:00:00+01:00"), Some(1_795_341_600.0));
        assert_eq!(parse(b"2016-10-06T00:17:09.669794202Z").map(|t| (t * 1000.0).round()), Some(1_475_713_029_670.0));
        assert_eq!(parse(b"1795341600"), Some(1_795_341_600.0));
        assert_eq!(parse(b"1795341600000"), Some(1_795_341_600.0));
        assert_eq!(parse(b"yesterday"), None);
        assert_eq!(parse(b"2026-13-01T00:00:00Z"), None);
    }
}
