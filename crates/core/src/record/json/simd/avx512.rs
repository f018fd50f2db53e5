//! AVX-512 kernels, 64 bytes a step: stage 1's classification of a record's bytes, one vector and one
//! mask register per class where AVX2 needs two halves, a `movemask` each and a join; with VBMI2, its
//! token offsets written with one compression instead of a count of trailing zeros each; and the
//! plain-run search of long strings.
//!
//! As in [`super::avx2`], each kernel is an `unsafe fn` compiled with `#[target_feature]`: its callers
//! must first see [`super::has_avx512`] (F and BW) or [`super::has_avx512_vbmi2`] return true.

use std::arch::x86_64::*;

use super::super::index::{self, Block, Stage1, Tokens};
use super::avx2::prefix_xor;

/// Stage 1 of the fast path: [`index::blocks`] with this module's classification, the AVX2 kernel's
/// prefix XOR and the portable token offsets, for CPUs with AVX-512 F and BW but not VBMI2 (Skylake and Cascade Lake servers).
///
/// # Safety
///
/// The CPU must have AVX-512 F and BW and PCLMULQDQ: call only after [`super::has_avx512`] returned
/// true.
#[target_feature(enable = "avx512f,avx512bw,pclmulqdq")]
pub(crate) unsafe fn stage1(input: &[u8], out: &mut Tokens) -> Stage1 {
    index::blocks(input, out, |chunk| classify(chunk), |bits| prefix_xor(bits), index::flatten)
}

/// [`stage1`] with the token offsets written by [`flatten`].
///
/// # Safety
///
/// The CPU must have AVX-512 F, BW and VBMI2 and PCLMULQDQ: call only after
/// [`super::has_avx512_vbmi2`] returned true.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi2,pclmulqdq")]
pub(crate) unsafe fn stage1_vbmi2(input: &[u8], out: &mut Tokens) -> Stage1 {
    index::blocks(input, out, |chunk| classify(chunk), |bits| prefix_xor(bits), |bits, base, dst| flatten(bits, base, dst))
}

/// The offsets 0 to 63, one per byte.
static IOTA: [u8; 64] = {
    let mut t = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        t[i] = i as u8;
        i += 1;
    }
    t
};

/// [`index::flatten`] with one compression: the offsets of the set bits packed into the low bytes of a
/// vector (`vpcompressb`), then widened and offset by `base` sixteen at a time. Like it, writes whole
/// groups (of sixteen) past the count.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi2")]
#[inline]
fn flatten(bits: u64, base: u32, dst: &mut [u32; 64]) -> usize {
    let count = bits.count_ones() as usize;
    // SAFETY: `IOTA` is 64 bytes.
    let packed = _mm512_maskz_compress_epi8(bits, unsafe { _mm512_loadu_si512(IOTA.as_ptr().cast()) });
    let base = _mm512_set1_epi32(base as i32);
    let mut group = |k: usize, offsets: __m128i| {
        // SAFETY: `k < 4`, so the sixteen slots from `16 * k` are inside `dst`.
        unsafe { _mm512_storeu_si512(dst.as_mut_ptr().add(16 * k).cast(), _mm512_add_epi32(_mm512_cvtepu8_epi32(offsets), base)) };
    };
    group(0, _mm512_castsi512_si128(packed));
    if count > 16 {
        group(1, _mm512_extracti32x4_epi32::<1>(packed));
        if count > 32 {
            group(2, _mm512_extracti32x4_epi32::<2>(packed));
            if count > 48 {
                group(3, _mm512_extracti32x4_epi32::<3>(packed));
            }
        }
    }
    count
}

/// [`super::avx2::plain_blocks`], 64 bytes in one vector: the stops of a block in one mask.
///
/// # Safety
///
/// The CPU must have AVX-512 F and BW: call only after [`super::has_avx512`] returned true.
#[target_feature(enable = "avx512f,avx512bw")]
pub(crate) unsafe fn plain_blocks(input: &[u8], mut i: usize) -> (usize, bool, bool) {
    let mut high = 0u64;
    let (quote, backslash, control) = (_mm512_set1_epi8(b'"' as i8), _mm512_set1_epi8(b'\\' as i8), _mm512_set1_epi8(0x1f));
    while let Some(chunk) = input.get(i..i + 64) {
        // SAFETY: `chunk` is 64 bytes long.
        let v = unsafe { _mm512_loadu_si512(chunk.as_ptr().cast()) };
        let stops = _mm512_cmpeq_epi8_mask(v, quote) | _mm512_cmpeq_epi8_mask(v, backslash) | _mm512_cmple_epu8_mask(v, control);
        let highs = _mm512_movepi8_mask(v);
        if stops != 0 {
            let k = stops.trailing_zeros();
            return (i + k as usize, high != 0 || highs & ((1u64 << k) - 1) != 0, true);
        }
        high |= highs;
        i += 64;
    }
    (i, high != 0, false)
}

/// [`super::avx2`]'s two lookup tables (whitespace, and operators after `| 0x20`), once per 128-bit
/// lane: `vpshufb` looks up within each lane.
static TABLES: [[u8; 64]; 2] = {
    const WS: [u8; 16] = [b' ', 100, 100, 100, 17, 100, 113, 2, 100, b'\t', b'\n', 112, 100, b'\r', 100, 100];
    const OP: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, b':', b'{', b',', b'}', 0, 0];
    let mut t = [[0u8; 64]; 2];
    let mut i = 0;
    while i < 64 {
        t[0][i] = WS[i % 16];
        t[1][i] = OP[i % 16];
        i += 1;
    }
    t
};

/// The masks of one 64-byte block: the same as [`super::avx2`]'s classification.
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
pub(super) fn classify(chunk: &[u8]) -> Block {
    assert!(chunk.len() >= 64);
    // SAFETY: the assert keeps the unaligned 64-byte load inside `chunk`; the tables are 64 bytes each.
    let (v, ws_table, op_table) = unsafe {
        (
            _mm512_loadu_si512(chunk.as_ptr().cast()),
            _mm512_loadu_si512(TABLES[0].as_ptr().cast()),
            _mm512_loadu_si512(TABLES[1].as_ptr().cast()),
        )
    };
    let folded = _mm512_or_si512(v, _mm512_set1_epi8(0x20));
    Block {
        quote: _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b'"' as i8)),
        backslash: _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b'\\' as i8)),
        ws: _mm512_cmpeq_epi8_mask(_mm512_shuffle_epi8(ws_table, v), v),
        op: _mm512_cmpeq_epi8_mask(_mm512_shuffle_epi8(op_table, folded), folded),
        control: _mm512_cmple_epu8_mask(v, _mm512_set1_epi8(0x1f)),
        high: _mm512_movepi8_mask(v),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{avx2, has_avx2, has_avx512, has_avx512_vbmi2};
    use proptest::prelude::*;

    /// Both kernels' masks of one block, or `None` on a CPU without AVX-512.
    fn both(block: &[u8; 64]) -> Option<(super::Block, super::Block)> {
        if !has_avx512() || !has_avx2() {
            return None;
        }
        // SAFETY: both were found on this CPU; the functions are safe `#[target_feature]` ones.
        unsafe { Some((super::classify(block), avx2_classify(block))) }
    }

    #[target_feature(enable = "avx2")]
    fn avx2_classify(block: &[u8; 64]) -> super::Block {
        avx2::classify(block)
    }

    #[test]
    fn every_byte_value_in_every_position_is_classified_as_avx2_does() {
        for b in 0..=255u8 {
            let mut block = [b'x'; 64];
            for at in 0..64 {
                block[at] = b;
                let Some((a, b2)) = both(&block) else { return };
                assert_eq!(a, b2, "byte {b:#04x} at {at}");
                block[at] = b'x';
            }
        }
    }

    proptest! {
        #[test]
        fn plain_runs_are_found_as_avx2_finds_them(
            fill in proptest::sample::select(&b"aZ+/ \xc3\xa9"[..]),
            len in 0usize..300,
            specials in proptest::collection::vec((any::<proptest::sample::Index>(), proptest::sample::select(&b"\"\\\x00\x1f\x7f\x80\xff"[..])), 0..3),
            from in any::<proptest::sample::Index>(),
        ) {
            if !has_avx512() || !has_avx2() {
                return Ok(());
            }
            let mut input = vec![fill; len];
            for (at, b) in specials {
                if len > 0 {
                    input[at.index(len)] = b;
                }
            }
            let from = from.index(len + 1);
            // SAFETY: both were found on this CPU.
            let (ours, theirs) = unsafe { (super::plain_blocks(&input, from), avx2::plain_blocks(&input, from)) };
            prop_assert_eq!(ours, theirs);
            // And both as a plain search says: the first stop of a whole block, and whether a byte
            // before it is non-ASCII.
            let blocks_end = from + (len - from) / 64 * 64;
            let stop = input[from..blocks_end].iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).map(|k| from + k);
            let at = stop.unwrap_or(blocks_end);
            prop_assert_eq!(ours, (at, input[from..at].iter().any(|&b| b >= 0x80), stop.is_some()));
        }

        #[test]
        fn token_offsets_are_written_as_the_portable_flatten_does(bits in any::<u64>(), sparse in any::<u64>(), base in 0..u32::MAX - 64) {
            if !has_avx512_vbmi2() {
                return Ok(());
            }
            // Dense and sparse masks alike: every group count from 0 to 64 tokens.
            for bits in [bits, bits & sparse, bits & sparse & (sparse >> 7)] {
                let (mut ours, mut theirs) = ([0u32; 64], [0u32; 64]);
                // SAFETY: `has_avx512_vbmi2()` found the features; the function is a safe `#[target_feature]` one.
                let n = unsafe { super::flatten(bits, base, &mut ours) };
                prop_assert_eq!(n, super::super::super::index::flatten(bits, base, &mut theirs));
                prop_assert_eq!(&ours[..n], &theirs[..n]);
            }
        }

        #[test]
        fn random_blocks_are_classified_as_avx2_does(bytes in proptest::collection::vec(any::<u8>(), 64)) {
            let block: [u8; 64] = bytes.try_into().unwrap();
            if let Some((a, b)) = both(&block) {
                prop_assert_eq!(a, b);
            }
        }
    }
}
