//! JSON string escaping: raw text (a CRI container log message, say) into the inside of a JSON string.
//!
//! Records built from raw bytes must be valid JSON, which must be UTF-8: each maximal invalid UTF-8 sequence becomes U+FFFD (as
//! `String::from_utf8_lossy` does) and the caller counts it, rather than dropping the record.

use super::simd;

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

/// Appends `s` as a JSON string, quotes included; returns true if invalid UTF-8 was replaced. Escapes
/// exactly as serde_json does, so lengths computed with [`escaped_len`] match what serde_json writes.
pub fn push_json_str(out: &mut Vec<u8>, s: &[u8]) -> bool {
    out.push(b'"');
    let replaced = escape_into(out, s);
    out.push(b'"');
    replaced
}

/// Appends `s` escaped as the inside of a JSON string; returns true if invalid UTF-8 was replaced.
pub fn escape_into(out: &mut Vec<u8>, s: &[u8]) -> bool {
    // PERF: most log lines are ASCII: one pass escapes them and finds the first non-ASCII byte, if
    // any; only from there on is the text cut into UTF-8 chunks.
    let ascii = escape_words::<true>(out, s);
    if ascii == s.len() {
        return false;
    }
    let mut replaced = false;
    // `s[..ascii]` is whole characters, so the chunks of the rest are those of `s` past it.
    for chunk in s[ascii..].utf8_chunks() {
        escape_words::<false>(out, chunk.valid().as_bytes());
        if !chunk.invalid().is_empty() {
            out.extend_from_slice(b"\\ufffd");
            replaced = true;
        }
    }
    replaced
}

const HIGH: u64 = 0x8080_8080_8080_8080;

/// Escapes `s`, which is valid UTF-8 unless `STOP_AT_NON_ASCII` (multi-byte sequences never need
/// escaping); with `STOP_AT_NON_ASCII` it stops before the first byte >= 0x80. Returns the bytes of `s`
/// done.
#[inline(always)]
fn escape_words<const STOP_AT_NON_ASCII: bool>(out: &mut Vec<u8>, s: &[u8]) -> usize {
    out.reserve(s.len() + 2);
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    if s.len() >= 32 && simd::has_avx2() {
        // SAFETY: `has_avx2()` found AVX2 (which includes SSSE3) and POPCNT.
        i = unsafe { simd::avx2::escape_blocks::<STOP_AT_NON_ASCII>(out, s) };
        if STOP_AT_NON_ASCII && s.get(i).is_some_and(|&b| b >= 0x80) {
            return i;
        }
    }
    // PERF: log lines (JSON ones above all) have an escape every few dozen bytes, so copying the runs
    // between them with `memcpy` was mostly call overhead. Each 16 (then 8) bytes are stored whole (a
    // fixed-size copy, no call) and the length cut back to the first byte that needs escaping.
    #[cfg(target_arch = "x86_64")]
    while let Some(block) = s.get(i..i + 16) {
        let block: &[u8; 16] = block.try_into().unwrap_or(&[0; 16]);
        let m = simd::sse2::flags16(block, STOP_AT_NON_ASCII);
        let len = out.len();
        out.extend_from_slice(block);
        if m == 0 {
            i += 16;
            continue;
        }
        let k = m.trailing_zeros() as usize;
        out.truncate(len + k);
        i += k;
        if STOP_AT_NON_ASCII && s[i] >= 0x80 {
            return i;
        }
        push_escape(out, s[i]);
        i += 1;
    }
    // The rest is under 16 bytes: read as the end of the string's last 16, it is mostly clean (a CRI
    // time, the end of a line) and copied at once.
    #[cfg(target_arch = "x86_64")]
    if i < s.len()
        && let Some(last) = s.len().checked_sub(16)
    {
        let block: &[u8; 16] = s[last..].try_into().unwrap_or(&[0; 16]);
        if simd::sse2::flags16(block, STOP_AT_NON_ASCII) >> (16 - (s.len() - i)) == 0 {
            out.extend_from_slice(&s[i..]);
            return s.len();
        }
    }
    while let Some(word) = s.get(i..i + 8) {
        let word: [u8; 8] = word.try_into().unwrap_or_default();
        let w = u64::from_le_bytes(word);
        let m = escape_mask(w) | if STOP_AT_NON_ASCII { w & HIGH } else { 0 };
        let len = out.len();
        out.extend_from_slice(&word);
        if m == 0 {
            i += 8;
            continue;
        }
        // The lowest flagged byte is exact (see `escape_mask`; a set high bit is exact too).
        let k = (m.trailing_zeros() / 8) as usize;
        out.truncate(len + k);
        i += k;
        if STOP_AT_NON_ASCII && s[i] >= 0x80 {
            return i;
        }
        push_escape(out, s[i]);
        i += 1;
    }
    while i < s.len() {
        let b = s[i];
        if STOP_AT_NON_ASCII && b >= 0x80 {
            return i;
        }
        if ESCAPE[b as usize] == 0 {
            out.push(b);
        } else {
            push_escape(out, b);
        }
        i += 1;
    }
    i
}

/// The length of `s` once escaped by [`escape_into`], for `s` valid UTF-8 (invalid sequences would be
/// replaced, which this does not count).
pub fn escaped_len(s: &[u8]) -> usize {
    // PERF: once per record decided from its parts (a count for the rule counters, without escaping a
    // record that is then dropped), so 32 bytes a step where AVX2 is there (the JSON index needs it too).
    #[cfg(target_arch = "x86_64")]
    if simd::has_avx2() {
        // SAFETY: `has_avx2()` found AVX2 and POPCNT.
        return s.len() + unsafe { simd::avx2::escape_extra(s) };
    }
    s.len() + s.iter().map(|&b| extra(b)).sum::<usize>()
}

/// The bytes escaping adds to `b`.
#[inline(always)]
pub(super) fn extra(b: u8) -> usize {
    match ESCAPE[b as usize] {
        0 => 0,
        b'u' => 5,
        _ => 1,
    }
}

/// Appends the escape sequence of `b`, a byte that needs one.
#[inline(always)]
pub(super) fn push_escape(out: &mut Vec<u8>, b: u8) {
    let e = ESCAPE[b as usize];
    if e == b'u' {
        out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 0xf) as usize]]);
    } else {
        out.extend_from_slice(&[b'\\', e]);
    }
}

/// High bit set in bytes of `w` that may need escaping; the lowest set bit marks exactly the first
/// byte that is a control character, `"` or `\\` (higher ones may be false positives from borrows).
#[inline]
fn escape_mask(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    (w.wrapping_sub(ONES * 0x20) & !w & HIGH) | zero(w ^ (ONES * u64::from(b'"'))) | zero(w ^ (ONES * u64::from(b'\\')))
}

#[cfg(test)]
mod tests;
