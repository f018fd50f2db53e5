//! Stage 1 of the fast path, after simdjson: one SIMD pass over the record that finds every token start
//! (quotes, `{}[]:,`, the first byte of each number or literal) and, on the way, every fault that can be
//! seen without the grammar: control bytes and bad escapes in strings, an unterminated string, invalid
//! UTF-8. The grammar walk ([`super::walk`]) then jumps from token to token instead of testing each
//! byte, which is what makes the labels, annotations and image ids a rule never reads cheap to skip
//! while still validating them.
//!
//! Everything is computed 64 bytes at a time as bitmasks (bit `i` = byte `i` of the block). Which quotes
//! are inside strings follows from the quotes alone once escaped quotes are removed: the string
//! interiors are the prefix XOR of the real quotes, a carry-less multiplication by all-ones.

use super::simd;
use super::string::decode_escape;

/// What [`build`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage1 {
    /// The input may be valid; its tokens and escapes are in the output.
    Tokens,
    /// The input is certainly not valid JSON; the exact scanner says why.
    Invalid,
}

/// Where [`build`] writes: token starts and escapes, offsets into the input in increasing order.
#[derive(Debug, Default)]
pub(super) struct Tokens {
    /// Every token start, in `starts[..len]`. Quotes inside strings are not tokens; both quotes of a
    /// string are, so a string's body is the range between two consecutive offsets. Longer than `len`
    /// (by at least a block) so that a block's tokens are written without a length check each.
    starts: Vec<u32>,
    len: usize,
    /// The backslash of every escape (of a surrogate pair, the first).
    pub(super) escapes: Vec<u32>,
}

impl Tokens {
    pub(super) fn starts(&self) -> &[u32] {
        &self.starts[..self.len]
    }
}

/// Fills `out` from `input`. The caller must have checked [`simd::has_avx2`] on this CPU; the exact
/// scanner serves CPUs without AVX2 (and other architectures).
pub(super) fn build(input: &[u8], out: &mut Tokens) -> Stage1 {
    out.len = 0;
    out.escapes.clear();
    // A block writes up to 64 slots from the current count, which is at most the block's offset, so
    // this is enough for every block; the buffer only ever grows.
    if out.starts.len() < input.len() + 64 {
        out.starts.resize(input.len() + 64, 0);
    }
    #[cfg(target_arch = "x86_64")]
    {
        // Cached after the first call: a safe function must not run AVX2 code on a CPU without it.
        assert!(simd::has_avx2(), "the JSON token index needs AVX2 and PCLMULQDQ");
        if simd::has_avx512_vbmi2() {
            // SAFETY: `has_avx512_vbmi2()` found AVX-512 F, BW and VBMI2, and PCLMULQDQ (through
            // `has_avx2()`).
            return unsafe { simd::avx512::stage1_vbmi2(input, out) };
        }
        if simd::has_avx512() {
            // SAFETY: `has_avx512()` found AVX-512 F and BW, and PCLMULQDQ (through `has_avx2()`).
            return unsafe { simd::avx512::stage1(input, out) };
        }
        // SAFETY: `has_avx2()` found AVX2 and PCLMULQDQ.
        unsafe { simd::avx2::stage1(input, out) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = input;
        Stage1::Invalid
    }
}

/// The block loop of [`build`], for a kernel's `classify` (64 bytes into their masks), `prefix_xor`
/// (bit `i` = XOR of bits `0..=i`) and `flatten` (as [`flatten`], which a kernel without a better way
/// passes). Inlined into the kernels ([`simd::avx2::stage1`], [`simd::avx512::stage1`]), so that all
/// of it is compiled with the kernel's target features.
#[inline(always)]
pub(super) fn blocks(
    input: &[u8],
    out: &mut Tokens,
    classify: impl Fn(&[u8]) -> Block,
    prefix_xor: impl Fn(u64) -> u64 + Copy,
    flatten: impl Fn(u64, u32, &mut [u32; 64]) -> usize + Copy,
) -> Stage1 {
    let mut carry = Carry::default();
    let mut high = 0u64;
    let mut chunks = input.chunks_exact(64);
    let mut base = 0;
    // A local, not `out`'s field, so that the count stays in a register.
    let starts = &mut out.starts[..];
    for chunk in &mut chunks {
        let m = classify(chunk);
        high |= m.high;
        if !block(input, base, m, &mut carry, prefix_xor, flatten, starts, &mut out.escapes) {
            return Stage1::Invalid;
        }
        base += 64;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        // The tail, padded with spaces: whitespace adds no token and ends no string.
        let mut last = [b' '; 64];
        last[..rest.len()].copy_from_slice(rest);
        let m = classify(&last);
        high |= m.high;
        if !block(input, base, m, &mut carry, prefix_xor, flatten, starts, &mut out.escapes) {
            return Stage1::Invalid;
        }
    }
    out.len = carry.len;
    if carry.in_string != 0 || (high != 0 && std::str::from_utf8(input).is_err()) {
        // Unterminated string; or bytes that are not UTF-8, which JSON allows nowhere (outside
        // strings every non-ASCII byte is an error anyway).
        return Stage1::Invalid;
    }
    Stage1::Tokens
}

/// Bitmasks of one 64-byte block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Block {
    pub(super) quote: u64,
    pub(super) backslash: u64,
    /// Space, tab, line feed, carriage return: JSON's whitespace.
    pub(super) ws: u64,
    /// `{ } [ ] : ,` (and the control bytes 0x0c and 0x1a, which the walk rejects by their value).
    pub(super) op: u64,
    /// Bytes below 0x20.
    pub(super) control: u64,
    /// Bytes with the high bit set (non-ASCII).
    pub(super) high: u64,
}

/// State carried from one block to the next.
#[derive(Debug, Default)]
struct Carry {
    /// Tokens written so far.
    len: usize,
    /// The first byte of the next block is escaped (the block ended in an odd run of backslashes).
    escaped: u64,
    /// All ones if the block ended inside a string.
    in_string: u64,
    /// 1 if the block ended in the middle of a number or literal.
    scalar: u64,
    /// Escapes before this offset have been checked (a surrogate pair is checked as one).
    checked_to: usize,
}

/// The escaped bytes of a block (the byte after each backslash that is not itself escaped), simdjson's
/// branch-free method: runs of backslashes starting on an odd offset are found by an addition carrying
/// through them.
fn escaped(backslash: u64, carry: &mut u64) -> u64 {
    const EVEN: u64 = 0x5555_5555_5555_5555;
    let backslash = backslash & !*carry;
    let follows = (backslash << 1) | *carry;
    let odd_starts = backslash & !EVEN & !follows;
    let (even_runs, overflow) = odd_starts.overflowing_add(backslash);
    *carry = u64::from(overflow);
    (EVEN ^ (even_runs << 1)) & follows
}

/// Writes `base + i` for every set bit `i` of `bits` to the start of `dst` and returns how many. Eight
/// at a time, unconditionally (simdjson's trick): slots past the count get junk that later blocks
/// overwrite, and the loop branches once per eight tokens rather than once per token.
#[inline(always)]
pub(super) fn flatten(mut bits: u64, base: u32, dst: &mut [u32; 64]) -> usize {
    let count = bits.count_ones() as usize;
    let mut i = 0;
    while i < count {
        for j in 0..8 {
            dst[(i + j) & 63] = base.wrapping_add(bits.trailing_zeros());
            bits &= bits.wrapping_sub(1);
        }
        i += 8;
    }
    count
}

/// Everything after classification, shared by every block. `prefix_xor` is bit `i` = XOR of bits
/// `0..=i`; `flatten` writes the token starts. Returns false when the block proves the input invalid.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn block(
    input: &[u8],
    base: usize,
    m: Block,
    carry: &mut Carry,
    prefix_xor: impl Fn(u64) -> u64,
    flatten: impl Fn(u64, u32, &mut [u32; 64]) -> usize,
    starts: &mut [u32],
    escapes: &mut Vec<u32>,
) -> bool {
    let escaped = if m.backslash | carry.escaped != 0 { escaped(m.backslash, &mut carry.escaped) } else { 0 };
    if m.backslash != 0 && !check_escapes(input, base, m.backslash & !escaped, &mut carry.checked_to, escapes) {
        return false;
    }
    let quote = m.quote & !escaped;
    // Bit set from each opening quote up to (not including) its closing quote.
    let in_string = prefix_xor(quote) ^ carry.in_string;
    carry.in_string = ((in_string as i64) >> 63) as u64;
    if m.control & in_string != 0 {
        return false;
    }
    let scalar = !(m.ws | m.op | quote | in_string);
    let scalar_starts = scalar & !((scalar << 1) | carry.scalar);
    carry.scalar = scalar >> 63;
    let room = (&mut starts[carry.len..carry.len + 64]).try_into().expect("sized by build");
    carry.len += flatten((m.op & !in_string) | quote | scalar_starts, base as u32, room);
    true
}

/// Checks every escape starting in this block (`starts`: backslashes that are not themselves escaped)
/// as the exact scanner would. Escapes outside strings are checked too; such input is invalid anyway.
#[cold]
fn check_escapes(input: &[u8], base: usize, mut starts: u64, checked_to: &mut usize, escapes: &mut Vec<u32>) -> bool {
    while starts != 0 {
        let at = base + starts.trailing_zeros() as usize;
        starts &= starts - 1;
        if at < *checked_to {
            // The low half of a surrogate pair, checked with its high half.
            continue;
        }
        match decode_escape(input, at) {
            Ok((_, next)) => {
                *checked_to = next;
                escapes.push(at as u32);
            }
            Err(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests;
