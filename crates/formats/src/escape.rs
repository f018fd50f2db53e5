//! JSON string escaping for messages taken out of CRI lines.
//!
//! CRI messages are raw bytes, but the records built from them must be valid JSON, which
//! must be UTF-8: each maximal invalid UTF-8 sequence becomes U+FFFD (as
//! `String::from_utf8_lossy` does) and the caller counts it, rather than dropping the record.

/// Per byte: 0 = copy as-is, `u` = `\u00XX`, anything else = that letter after a backslash.
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` escaped as the inside of a JSON string; returns true if invalid UTF-8 was replaced.
pub(crate) fn escape_into(out: &mut Vec<u8>, s: &[u8]) -> bool {
    // PERF: most log lines are ASCII; checking that first (word at a time) skips UTF-8 chunking.
    if s.is_ascii() {
        escape_valid(out, s);
        return false;
    }
    let mut replaced = false;
    for chunk in s.utf8_chunks() {
        escape_valid(out, chunk.valid().as_bytes());
        if !chunk.invalid().is_empty() {
            out.extend_from_slice(b"\\ufffd");
            replaced = true;
        }
    }
    replaced
}

/// Escapes bytes already known to be valid UTF-8 (multi-byte sequences never need escaping).
fn escape_valid(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    let mut run = 0;
    let mut i = 0;
    while i < s.len() {
        // Most bytes need no escaping: test them a word at a time, and jump straight to the first
        // byte that does (the lowest flagged byte of the mask is exact).
        if let Some(word) = s.get(i..i + 8) {
            let m = escape_mask(u64::from_le_bytes(word.try_into().unwrap_or_default()));
            if m == 0 {
                i += 8;
                continue;
            }
            i += (m.trailing_zeros() / 8) as usize;
        }
        let b = s[i];
        let e = ESCAPE[b as usize];
        if e != 0 {
            out.extend_from_slice(&s[run..i]);
            run = i + 1;
            if e == b'u' {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            } else {
                out.push(b'\\');
                out.push(e);
            }
        }
        i += 1;
    }
    out.extend_from_slice(&s[run..]);
}

/// High bit set in bytes of `w` that may need escaping; the lowest set bit marks exactly the first
/// byte that is a control character, `"` or `\\` (higher ones may be false positives from borrows).
#[inline]
fn escape_mask(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    (w.wrapping_sub(ONES * 0x20) & !w & HIGH) | zero(w ^ (ONES * u64::from(b'"'))) | zero(w ^ (ONES * u64::from(b'\\')))
}

/// Whether any of the 8 bytes in `w` is a control character, `"` or `\`.
#[cfg(test)]
fn word_needs_escape(w: u64) -> bool {
    escape_mask(w) != 0
}

/// Largest `n' <= n` such that `s[..n']` does not end inside a UTF-8 sequence that is
/// complete in `s` (so cutting a raw message does not manufacture an invalid character).
pub(crate) fn utf8_floor(s: &[u8], n: usize) -> usize {
    if n >= s.len() {
        return s.len();
    }
    // A continuation byte at the cut means a character straddles it; back off to its
    // lead byte (at most 3 steps, since UTF-8 sequences are at most 4 bytes).
    let mut i = n;
    while i > 0 && n - i < 3 && (s[i] & 0xC0) == 0x80 {
        i -= 1;
    }
    if (s[i] & 0xC0) == 0x80 { n } else { i }
}

/// Largest `n' <= n` at which the escaped JSON string content `s` can be cut so that the
/// prefix is still valid string content: not inside an escape sequence (a surrogate pair
/// counts as one), and not inside a UTF-8 character.
pub(crate) fn escaped_floor(s: &[u8], n: usize) -> usize {
    if n >= s.len() {
        return s.len();
    }
    let mut pos = 0;
    while let Some(k) = memchr::memchr(b'\\', &s[pos..n]) {
        let k = pos + k;
        let len = escape_len(&s[k..]);
        if k + len > n {
            return k;
        }
        pos = k + len;
    }
    utf8_floor(s, n).max(pos)
}

/// Length of the escape sequence at the start of `s` (which starts with a backslash).
fn escape_len(s: &[u8]) -> usize {
    if s.get(1) != Some(&b'u') {
        return 2.min(s.len());
    }
    let high = s.len() >= 6
        && matches!(s[2], b'd' | b'D')
        && matches!(s[3], b'8' | b'9' | b'a' | b'b' | b'A' | b'B');
    if high && s.len() >= 12 && s[6] == b'\\' && s[7] == b'u' {
        12
    } else {
        6.min(s.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &[u8]) -> (String, bool) {
        let mut out = Vec::new();
        let bad = escape_into(&mut out, s);
        (String::from_utf8(out).unwrap(), bad)
    }

    #[test]
    fn escapes_specials_and_controls() {
        let (s, bad) = esc(b"a\"b\\c\n\r\t\x08\x0c\x01\x1f\x7f");
        assert!(!bad);
        assert_eq!(s, r#"a\"b\\c\n\r\t\b\f\u0001\u001f"#.to_string() + "\x7f");
        let v: String = serde_json::from_str(&format!("\"{s}\"")).unwrap();
        assert_eq!(v.as_bytes(), b"a\"b\\c\n\r\t\x08\x0c\x01\x1f\x7f");
    }

    #[test]
    fn keeps_utf8_and_replaces_invalid() {
        let (s, bad) = esc("µs ✓".as_bytes());
        assert!(!bad);
        assert_eq!(s, "µs ✓");
        let (s, bad) = esc(b"a\xff\xfeb\xe2\x9c");
        assert!(bad);
        assert_eq!(s, "a\\ufffd\\ufffdb\\ufffd");
    }

    #[test]
    fn word_check_is_exact() {
        for b in 0..=255u8 {
            for pos in 0..8 {
                let mut w = *b"abcdefgh";
                w[pos] = b;
                let want = ESCAPE[b as usize] != 0;
                assert_eq!(
                    word_needs_escape(u64::from_le_bytes(w)),
                    want,
                    "byte {b:#x} at {pos}"
                );
            }
        }
        let (s, _) = esc(b"0123456789abcdef\"0123456789\x01abcdefgh\\");
        assert_eq!(s, r#"0123456789abcdef\"0123456789\u0001abcdefgh\\"#);
    }

    #[test]
    fn the_lowest_flag_is_the_first_byte_to_escape() {
        for a in [0u8, 0x1f, b'"', b'\\'] {
            for b in [0u8, 0x01, b'"', b'\\', b'a', 0xff] {
                for pa in 0..8 {
                    for pb in pa + 1..8 {
                        let mut w = *b"abcdefgh";
                        w[pa] = a;
                        w[pb] = b;
                        let m = escape_mask(u64::from_le_bytes(w));
                        assert_eq!(m.trailing_zeros() / 8, pa as u32, "{a:#x}@{pa} {b:#x}@{pb}");
                    }
                }
            }
        }
    }

    #[test]
    fn floors() {
        let s = "aé✓".as_bytes(); // a, 2 bytes, 3 bytes
        assert_eq!(utf8_floor(s, 2), 1);
        assert_eq!(utf8_floor(s, 3), 3);
        assert_eq!(utf8_floor(s, 5), 3);
        assert_eq!(utf8_floor(b"\x80\x80\x80\x80\x80", 4), 4);
        let e = br#"ab\u00e9\"\ud83d\ude00x"#;
        assert_eq!(escaped_floor(e, 3), 2);
        assert_eq!(escaped_floor(e, 8), 8);
        assert_eq!(escaped_floor(e, 9), 8);
        assert_eq!(escaped_floor(e, 10), 10);
        assert_eq!(escaped_floor(e, 16), 10);
        assert_eq!(escaped_floor(e, 22), 22);
        assert_eq!(escaped_floor(b"ab\\n", 3), 2);
    }
}
