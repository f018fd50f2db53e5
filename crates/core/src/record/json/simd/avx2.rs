//! AVX2 kernels, 32 or 64 bytes a step: stage 1's classification of a record's bytes, and escaping.
//!
//! Each kernel the rest of the module calls is an `unsafe fn` compiled with `#[target_feature]`: its
//! callers must first see [`super::has_avx2`] return true. The helpers below them are safe
//! `#[target_feature]` functions, which only code compiled with the same features may call.

use std::arch::x86_64::*;

use super::super::escape;
use super::super::index::{self, Block, Stage1, Tokens};
use super::sse2;

/// Stage 1 of the fast path: [`index::blocks`] with this module's classification and a carry-less
/// multiplication for the prefix XOR.
///
/// # Safety
///
/// The CPU must have AVX2 and PCLMULQDQ: call only after [`super::has_avx2`] returned true.
#[target_feature(enable = "avx2,pclmulqdq")]
pub(crate) unsafe fn stage1(input: &[u8], out: &mut Tokens) -> Stage1 {
    index::blocks(input, out, |chunk| classify(chunk), |bits| prefix_xor(bits), index::flatten)
}

/// Stage 1's prefix XOR (bit `i` = XOR of bits `0..=i`): a carry-less multiplication by all ones. The
/// AVX-512 kernels use it too.
#[target_feature(enable = "pclmulqdq")]
#[inline]
pub(super) fn prefix_xor(bits: u64) -> u64 {
    _mm_cvtsi128_si64(_mm_clmulepi64_si128(_mm_set_epi64x(0, bits as i64), _mm_set1_epi8(-1), 0)) as u64
}

/// The masks of one 64-byte block.
#[target_feature(enable = "avx2")]
#[inline]
pub(super) fn classify(chunk: &[u8]) -> Block {
    assert!(chunk.len() >= 64);
    // SAFETY: the assert keeps both unaligned 32-byte loads inside `chunk`.
    let (lo, hi) = unsafe {
        (_mm256_loadu_si256(chunk.as_ptr().cast()), _mm256_loadu_si256(chunk.as_ptr().add(32).cast()))
    };
    let (lo, hi) = (half(lo), half(hi));
    let join = |l: u32, h: u32| u64::from(l) | (u64::from(h) << 32);
    Block {
        quote: join(lo[0], hi[0]),
        backslash: join(lo[1], hi[1]),
        ws: join(lo[2], hi[2]),
        op: join(lo[3], hi[3]),
        control: join(lo[4], hi[4]),
        high: join(lo[5], hi[5]),
    }
}

/// Quote, backslash, whitespace, operator, control and high-bit masks of 32 bytes.
#[target_feature(enable = "avx2")]
#[inline]
fn half(v: __m256i) -> [u32; 6] {
    // Byte `b` is whitespace iff WS[b & 15] == b: each slot holds either the whitespace byte
    // with that low nibble or a byte whose low nibble differs (simdjson's table). Bytes with
    // the high bit set shuffle to 0 and never match.
    let ws_table = _mm256_setr_epi8(
        b' ' as i8, 100, 100, 100, 17, 100, 113, 2, 100, b'\t' as i8, b'\n' as i8, 112, 100, b'\r' as i8, 100, 100,
        b' ' as i8, 100, 100, 100, 17, 100, 113, 2, 100, b'\t' as i8, b'\n' as i8, 112, 100, b'\r' as i8, 100, 100,
    );
    // `b | 0x20` folds `[` `]` onto `{` `}`; the same lookup then finds the four.
    let op_table = _mm256_setr_epi8(
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, b':' as i8, b'{' as i8, b',' as i8, b'}' as i8, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, b':' as i8, b'{' as i8, b',' as i8, b'}' as i8, 0, 0,
    );
    let folded = _mm256_or_si256(v, _mm256_set1_epi8(0x20));
    let mask = |x: __m256i| _mm256_movemask_epi8(x) as u32;
    [
        mask(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'"' as i8))),
        mask(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\\' as i8))),
        mask(_mm256_cmpeq_epi8(_mm256_shuffle_epi8(ws_table, v), v)),
        mask(_mm256_cmpeq_epi8(_mm256_shuffle_epi8(op_table, folded), folded)),
        // Unsigned `b <= 0x1f` is `max(b, 0x1f) == 0x1f`.
        mask(_mm256_cmpeq_epi8(_mm256_max_epu8(v, _mm256_set1_epi8(0x1f)), _mm256_set1_epi8(0x1f))),
        mask(v),
    ]
}

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
///
/// # Safety
///
/// The CPU must have AVX2 and POPCNT: call only after [`super::has_avx2`] returned true.
#[target_feature(enable = "avx2,popcnt")]
pub(crate) unsafe fn escape_blocks<const STOP_AT_NON_ASCII: bool>(out: &mut Vec<u8>, s: &[u8]) -> usize {
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
        escape::push_escape(out, s[i]);
        i += 1;
    }
    i
}

/// The bytes escaping adds to `s`: quotes and backslashes (one each) counted 32 at a time, control
/// characters (rare) one by one. The last bytes are read as the block that ends with `s`, with the
/// bytes already counted masked off; a string shorter than a block is counted a byte at a time.
///
/// # Safety
///
/// The CPU must have AVX2 and POPCNT: call only after [`super::has_avx2`] returned true.
#[target_feature(enable = "avx2,popcnt")]
pub(crate) unsafe fn escape_extra(s: &[u8]) -> usize {
    // PERF: once per record and part (a CRI line's time and stream are short): no copy into a
    // padded block, whose `memcpy` call cost more than the counting.
    let n = s.len();
    if n < 32 {
        if n < 16 {
            return s.iter().map(|&b| escape::extra(b)).sum();
        }
        // Two 16-byte blocks, the second without the bytes the first counted; the flagged bytes (few:
        // a CRI time has none) one by one.
        let first: &[u8; 16] = s[..16].try_into().unwrap_or(&[0; 16]);
        let last: &[u8; 16] = s[n - 16..].try_into().unwrap_or(&[0; 16]);
        let (mut a, mut b) = (sse2::flags16(first, false), sse2::flags16(last, false) & (u32::MAX << (32 - n)));
        let mut count = 0;
        while a != 0 {
            count += escape::extra(first[a.trailing_zeros() as usize]);
            a &= a - 1;
        }
        while b != 0 {
            count += escape::extra(last[b.trailing_zeros() as usize]);
            b &= b - 1;
        }
        return count;
    }
    let mut count = 0;
    let mut i = 0;
    while i + 32 <= n {
        count += escape_extra_block(s[i..i + 32].try_into().unwrap_or(&[0; 32]), u32::MAX);
        i += 32;
    }
    if i < n {
        // The last 32 bytes (`n >= 32`), of which the first `32 - (n - i)` were counted.
        count += escape_extra_block(s[n - 32..].try_into().unwrap_or(&[0; 32]), u32::MAX << (32 - (n - i)));
    }
    count
}

/// The bytes escaping adds to the bytes of `block` (32 of them) whose bit is set in `keep`.
#[target_feature(enable = "avx2,popcnt")]
#[inline]
fn escape_extra_block(block: &[u8; 32], keep: u32) -> usize {
    // SAFETY: `block` has 32 bytes; the intrinsics need AVX2, which this function is compiled for.
    let (quotes, mut controls) = unsafe {
        let v = _mm256_loadu_si256(block.as_ptr().cast());
        let q = _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'"' as i8)), _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\\' as i8)));
        let c = _mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(0x1f)), v);
        (_mm256_movemask_epi8(q) as u32 & keep, _mm256_movemask_epi8(c) as u32 & keep)
    };
    let mut n = quotes.count_ones() as usize;
    while controls != 0 {
        n += escape::extra(block[controls.trailing_zeros() as usize]);
        controls &= controls - 1;
    }
    n
}

/// The plain run of a long string body from `i`, 64 bytes a step: where it stops (the first quote,
/// backslash or control byte), whether a byte before that has its high bit set, and `true`; or, when
/// no whole block of 64 bytes from `i` holds a stop, the offset of the last bytes (fewer than 64, which
/// the caller searches), whether a byte before them has its high bit set, and `false`.
///
/// # Safety
///
/// The CPU must have AVX2: call only after [`super::has_avx2`] returned true.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn plain_blocks(input: &[u8], mut i: usize) -> (usize, bool, bool) {
    let mut high = _mm256_setzero_si256();
    let (quote, backslash, control) = (_mm256_set1_epi8(b'"' as i8), _mm256_set1_epi8(b'\\' as i8), _mm256_set1_epi8(0x1f));
    while let Some(chunk) = input.get(i..i + 64) {
        // SAFETY: `chunk` is 64 bytes long, so both unaligned 32-byte loads stay inside it.
        let (lo, hi) = unsafe { (_mm256_loadu_si256(chunk.as_ptr().cast()), _mm256_loadu_si256(chunk.as_ptr().add(32).cast())) };
        // Unsigned `b <= 0x1f` is `min(b, 0x1f) == b`.
        let stops = |v: __m256i| {
            _mm256_or_si256(
                _mm256_or_si256(_mm256_cmpeq_epi8(v, quote), _mm256_cmpeq_epi8(v, backslash)),
                _mm256_cmpeq_epi8(_mm256_min_epu8(v, control), v),
            )
        };
        let (s_lo, s_hi) = (stops(lo), stops(hi));
        if _mm256_movemask_epi8(_mm256_or_si256(s_lo, s_hi)) != 0 {
            // The exact stop, and the high bits of the bytes before it in this block.
            let join = |l: __m256i, h: __m256i| u64::from(_mm256_movemask_epi8(l) as u32) | (u64::from(_mm256_movemask_epi8(h) as u32) << 32);
            let k = join(s_lo, s_hi).trailing_zeros();
            let before = join(lo, hi) & ((1u64 << k) - 1);
            return (i + k as usize, _mm256_movemask_epi8(high) != 0 || before != 0, true);
        }
        high = _mm256_or_si256(high, _mm256_or_si256(lo, hi));
        i += 64;
    }
    (i, _mm256_movemask_epi8(high) != 0, false)
}
