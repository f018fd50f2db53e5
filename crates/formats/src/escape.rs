//! Cut points in container log messages, raw or escaped, that keep the prefix well-formed.

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
