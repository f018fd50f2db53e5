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
        // SAFETY: AVX2 (with SSSE3) and POPCNT were detected at run time.
        i = unsafe { avx2::escape_blocks::<STOP_AT_NON_ASCII>(out, s) };
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
        // SAFETY: AVX2 and POPCNT were detected at run time.
        return s.len() + unsafe { avx2::extra(s) };
    }
    s.len() + s.iter().map(|&b| extra(b)).sum::<usize>()
}

/// The bytes escaping adds to `b`.
#[inline(always)]
fn extra(b: u8) -> usize {
    match ESCAPE[b as usize] {
        0 => 0,
        b'u' => 5,
        _ => 1,
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// For each set of flagged bytes in 8 (bit j: byte j is `"` or `\\`), the `pshufb` indices that
    /// put a backslash (lanes 8 and up hold them) before each flagged byte: 8 bytes in, `8 + popcnt` out.
    static EXPAND: [[u8; 16]; 256] = {
        let mut t = [[0x80u8; 16]; 256];
        let mut m = 0;
        while m < 256 {
            let (mut j, mut o) = (0, 0);
            while j < 8 {
                if m & (1 << j) != 0 {
                    t[m][o] = 8;
                    o += 1;
                }
                t[m][o] = j as u8;
                o += 1;
                j += 1;
            }
            m += 1;
        }
        t
    };

    /// Escapes whole 32-byte blocks of `s` into `out` and returns the bytes of `s` done: stops at the
    /// last block boundary, or (with `STOP_AT_NON_ASCII`) at the first byte >= 0x80, whichever is first.
    ///
    /// PERF: JSON messages (application logs) carry a quote every few bytes. A block whose only
    /// escapes are quotes and backslashes (the usual case) is escaped 8 bytes at a time by one
    /// shuffle, however many it holds; a control character falls back to one escape at a time.
    #[target_feature(enable = "avx2,popcnt")]
    pub(super) unsafe fn escape_blocks<const STOP_AT_NON_ASCII: bool>(out: &mut Vec<u8>, s: &[u8]) -> usize {
        let mut i = 0;
        while let Some(block) = s.get(i..i + 32) {
            // SAFETY: `block` has 32 bytes; the intrinsics need AVX2, which the caller checked.
            let (v, quotes, others) = unsafe {
                let v = _mm256_loadu_si256(block.as_ptr().cast());
                let q = _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'"' as i8)), _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\\' as i8)));
                let c = _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(0x1f)), v)) as u32;
                (v, _mm256_movemask_epi8(q) as u32, if STOP_AT_NON_ASCII { c | _mm256_movemask_epi8(v) as u32 } else { c })
            };
            // At most two bytes out per byte in, and the last 16-byte store may write 8 past its end.
            out.reserve(64 + 8);
            let len = out.len();
            if others == 0 {
                // SAFETY: `reserve` left room for 72 bytes past `len`: the stores below write at most
                // 64 (the last one ends within the room) and the length is set to what they wrote.
                unsafe {
                    let base = out.as_mut_ptr().add(len);
                    if quotes == 0 {
                        _mm256_storeu_si256(base.cast(), v);
                        out.set_len(len + 32);
                    } else {
                        let mut dst = base;
                        for h in 0..4 {
                            let m = (quotes >> (8 * h)) & 0xff;
                            let half = i64::from_le_bytes(block[8 * h..8 * h + 8].try_into().unwrap_or_default());
                            let x = _mm_set_epi64x(i64::from_le_bytes([b'\\'; 8]), half);
                            let y = _mm_shuffle_epi8(x, _mm_loadu_si128(EXPAND[m as usize].as_ptr().cast()));
                            _mm_storeu_si128(dst.cast(), y);
                            dst = dst.add(8 + m.count_ones() as usize);
                        }
                        out.set_len(len + dst.offset_from(base) as usize);
                    }
                }
                i += 32;
                continue;
            }
            // A control character (or a byte >= 0x80): the bytes before it one by one, then it.
            let k = others.trailing_zeros() as usize;
            for &b in &block[..k] {
                if b == b'"' || b == b'\\' {
                    out.extend_from_slice(&[b'\\', b]);
                } else {
                    out.push(b);
                }
            }
            i += k;
            if STOP_AT_NON_ASCII && s[i] >= 0x80 {
                return i;
            }
            super::push_escape(out, s[i]);
            i += 1;
        }
        i
    }

    /// The bytes escaping adds to `s`: quotes and backslashes (one each) counted 32 at a time, control
    /// characters (rare) one by one. The last bytes are read as the block that ends with `s`, with the
    /// bytes already counted masked off; a string shorter than a block is counted a byte at a time.
    #[target_feature(enable = "avx2,popcnt")]
    pub(super) unsafe fn extra(s: &[u8]) -> usize {
        // PERF: once per record and part (a CRI line's time and stream are short): no copy into a
        // padded block, whose `memcpy` call cost more than the counting.
        let n = s.len();
        if n < 32 {
            if n < 16 {
                return s.iter().map(|&b| super::extra(b)).sum();
            }
            // Two 16-byte blocks, the second without the bytes the first counted; the flagged bytes (few:
            // a CRI time has none) one by one.
            let first: &[u8; 16] = s[..16].try_into().unwrap_or(&[0; 16]);
            let last: &[u8; 16] = s[n - 16..].try_into().unwrap_or(&[0; 16]);
            let (mut a, mut b) = (super::simd::sse2::flags16(first, false), super::simd::sse2::flags16(last, false) & (u32::MAX << (32 - n)));
            let mut count = 0;
            while a != 0 {
                count += super::extra(first[a.trailing_zeros() as usize]);
                a &= a - 1;
            }
            while b != 0 {
                count += super::extra(last[b.trailing_zeros() as usize]);
                b &= b - 1;
            }
            return count;
        }
        let mut count = 0;
        let mut i = 0;
        while i + 32 <= n {
            // SAFETY: AVX2 is enabled on this function.
            count += unsafe { block(s[i..i + 32].try_into().unwrap_or(&[0; 32]), u32::MAX) };
            i += 32;
        }
        if i < n {
            // The last 32 bytes (`n >= 32`), of which the first `32 - (n - i)` were counted.
            // SAFETY: AVX2 is enabled on this function.
            count += unsafe { block(s[n - 32..].try_into().unwrap_or(&[0; 32]), u32::MAX << (32 - (n - i))) };
        }
        count
    }

    /// The bytes escaping adds to the bytes of `block` (32 of them) whose bit is set in `keep`.
    #[target_feature(enable = "avx2,popcnt")]
    #[inline]
    unsafe fn block(block: &[u8; 32], keep: u32) -> usize {
        // SAFETY: `block` has 32 bytes; the intrinsics need AVX2, which the caller has.
        let (quotes, mut controls) = unsafe {
            let v = _mm256_loadu_si256(block.as_ptr().cast());
            let q = _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'"' as i8)), _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\\' as i8)));
            let c = _mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(0x1f)), v);
            (_mm256_movemask_epi8(q) as u32 & keep, _mm256_movemask_epi8(c) as u32 & keep)
        };
        let mut n = quotes.count_ones() as usize;
        while controls != 0 {
            n += super::extra(block[controls.trailing_zeros() as usize]);
            controls &= controls - 1;
        }
        n
    }
}

/// Appends the escape sequence of `b`, a byte that needs one.
#[inline(always)]
fn push_escape(out: &mut Vec<u8>, b: u8) {
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
