//! SSE2 kernels, 16 bytes a step: the plain-run search of string scanning, the backslash search of
//! unescaping, and the needs-escaping test of escaping. SSE2 is part of x86_64, so these are safe
//! functions, called without a run-time check; their `unsafe` blocks are the intrinsics'.

use std::arch::x86_64::{
    _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set_epi64x, _mm_set1_epi8,
};

/// For 16 bytes: a bit per byte that is a quote, a backslash or below 0x20, and a bit per byte with
/// its high bit set.
#[inline(always)]
pub(crate) fn stops(chunk: &[u8]) -> (u32, u32) {
    assert!(chunk.len() >= 16);
    // SAFETY: the assert keeps the unaligned 16-byte load inside `chunk`; the other intrinsics only
    // need SSE2, which every x86_64 CPU has.
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast());
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        // Unsigned `b <= 0x1f` is `min(b, 0x1f) == b`.
        let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
        let stop = _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32;
        (stop, _mm_movemask_epi8(v) as u32)
    }
}

/// A bit per backslash among 16 bytes.
#[inline(always)]
pub(crate) fn backslashes(chunk: &[u8]) -> u32 {
    assert!(chunk.len() >= 16);
    // SAFETY: as in `stops`.
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast());
        _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8))) as u32
    }
}

/// Bit `i` set if `block[i]` needs escaping (or, with `non_ascii`, is >= 0x80): tested in a few
/// instructions, and exactly.
#[inline(always)]
pub(crate) fn flags16(block: &[u8; 16], non_ascii: bool) -> u32 {
    let half = |h: &[u8]| i64::from_le_bytes(h.try_into().unwrap_or_default());
    // SAFETY: these intrinsics only compute on values (no pointers: the block is read as two 8-byte
    // halves, which the compiler makes one 16-byte load), and need only SSE2, which every x86_64 CPU
    // has.
    unsafe {
        let v = _mm_set_epi64x(half(&block[8..]), half(&block[..8]));
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        // Unsigned `v <= 0x1f`: a control character.
        let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
        let m = _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32;
        if non_ascii { m | _mm_movemask_epi8(v) as u32 } else { m }
    }
}
