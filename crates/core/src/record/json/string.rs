//! Reading JSON string bodies: finding where one ends (the plain runs between escapes, skipped 16 or 8
//! bytes a step), checking and decoding escapes, and comparing an escaped key with a plain one.

use memchr::memchr2;

use super::error::{JsonError, at};
use super::simd;

/// Appends the decoded bytes of a JSON string body (the text between the quotes) to `out`.
///
/// Bytes other than escapes are copied unchanged: the body is expected to come from a successful
/// [`scan`](super::scan), which has already checked UTF-8 and control characters. On error `out` is
/// left as it was and the offset is relative to `body`.
pub fn unescape(body: &[u8], out: &mut Vec<u8>) -> Result<(), JsonError> {
    let keep = out.len();
    // Decoding never lengthens (an escape is at least as long as its UTF-8), so the text fits in
    // `body.len()` bytes; 16 more let every copy be a whole chunk, overrunning into bytes that are
    // overwritten or cut off. Copying chunk by chunk beats a `memchr` and a `memcpy` call per escape
    // in JSON held in a JSON string, where every few bytes are an escaped quote.
    out.resize(keep + body.len() + 16, 0);
    let dst = &mut out[keep..];
    let (mut i, mut o) = (0, 0);
    loop {
        while let (Some(chunk), Some(to)) = (body.get(i..i + 16), dst.get_mut(o..o + 16)) {
            to.copy_from_slice(chunk);
            let stop = backslashes(chunk);
            if stop != 0 {
                let k = stop.trailing_zeros() as usize;
                i += k;
                o += k;
                break;
            }
            i += 16;
            o += 16;
        }
        // The last bytes, or the bytes up to the backslash just found.
        while let Some(&b) = body.get(i) {
            if b == b'\\' {
                break;
            }
            dst[o] = b;
            i += 1;
            o += 1;
        }
        if i >= body.len() {
            break;
        }
        // PERF: JSON held in a JSON string escapes its quotes every few bytes: a one-byte escape is
        // written as its byte, without the general decoding to a `char` and back to UTF-8.
        if let Some(&c @ (b'"' | b'\\' | b'/')) = body.get(i + 1) {
            dst[o] = c;
            i += 2;
            o += 1;
            continue;
        }
        match decode_escape(body, i) {
            Ok((c, next)) => {
                o += c.encode_utf8(&mut dst[o..]).len();
                i = next;
            }
            Err(e) => {
                out.truncate(keep);
                return Err(e);
            }
        }
    }
    out.truncate(keep + o);
    Ok(())
}

/// A bit per backslash among the first 16 bytes of `chunk`.
#[inline(always)]
fn backslashes(chunk: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        simd::sse2::backslashes(chunk)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        chunk.iter().take(16).enumerate().fold(0, |m, (i, &b)| m | (u32::from(b == b'\\') << i))
    }
}

/// For a string whose body starts at `i` in JSON that has been validated: the offset of its closing
/// quote and whether the body has escapes. The same 16-bytes-a-step search as the scanner's, without
/// the checks: for walks over records already read, like trimming's.
#[inline]
pub(crate) fn string_end(input: &[u8], mut i: usize) -> Option<(usize, bool)> {
    let mut escaped = false;
    let mut seen = 0;
    loop {
        i = skip_plain(input, i, &mut seen);
        match *input.get(i)? {
            b'"' => return Some((i, escaped)),
            b'\\' => {
                escaped = true;
                i += 2;
            }
            // A control byte: not in validated JSON, but step over it rather than loop.
            _ => i += 1,
        }
    }
}

/// Whether the escaped, already validated key body `body` decodes to `key`, compared as it
/// decodes so that escaped keys (rare) still cost no allocation.
pub(super) fn decoded_eq(body: &[u8], key: &[u8]) -> bool {
    let (mut i, mut j) = (0, 0);
    while let Some(&b) = body.get(i) {
        if b == b'\\' {
            let Ok((c, next)) = decode_escape(body, i) else { return false };
            let mut buf = [0; 4];
            let c = c.encode_utf8(&mut buf).as_bytes();
            if key.get(j..j + c.len()) != Some(c) {
                return false;
            }
            i = next;
            j += c.len();
        } else {
            if key.get(j) != Some(&b) {
                return false;
            }
            i += 1;
            j += 1;
        }
    }
    j == key.len()
}

/// Decodes the escape whose backslash is at `bytes[i]`, returning the character and the offset
/// just past the escape. Surrogates must come in high-low `\u` pairs, as serde_json requires when
/// it produces a `String`.
// Always: stage 1's `check_escapes` is cold, so a plain hint leaves a call there whenever its codegen
// unit has other callers of this function.
#[inline(always)]
pub(super) fn decode_escape(bytes: &[u8], i: usize) -> Result<(char, usize), JsonError> {
    let c = match bytes.get(i + 1) {
        None => return Err(JsonError::Eof { at: at(bytes.len()) }),
        Some(b'"') => '"',
        Some(b'\\') => '\\',
        Some(b'/') => '/',
        Some(b'b') => '\x08',
        Some(b'f') => '\x0c',
        Some(b'n') => '\n',
        Some(b'r') => '\r',
        Some(b't') => '\t',
        Some(b'u') => return decode_unicode_escape(bytes, i),
        Some(_) => return Err(JsonError::Escape { at: at(i) }),
    };
    Ok((c, i + 2))
}

#[cold]
fn decode_unicode_escape(bytes: &[u8], i: usize) -> Result<(char, usize), JsonError> {
    let n = hex4(bytes, i + 2)?;
    let c = match n {
        0xD800..=0xDBFF => {
            if bytes.get(i + 6) != Some(&b'\\') || bytes.get(i + 7) != Some(&b'u') {
                return Err(JsonError::Surrogate { at: at(i) });
            }
            let lo = hex4(bytes, i + 8)?;
            if !(0xDC00..=0xDFFF).contains(&lo) {
                return Err(JsonError::Surrogate { at: at(i) });
            }
            let cp = 0x1_0000 + ((u32::from(n) - 0xD800) << 10) + (u32::from(lo) - 0xDC00);
            return char::from_u32(cp).map(|c| (c, i + 12)).ok_or(JsonError::Surrogate { at: at(i) });
        }
        0xDC00..=0xDFFF => None,
        n => char::from_u32(u32::from(n)),
    };
    c.map(|c| (c, i + 6)).ok_or(JsonError::Surrogate { at: at(i) })
}

fn hex4(bytes: &[u8], i: usize) -> Result<u16, JsonError> {
    let Some(digits) = bytes.get(i..i + 4) else {
        // serde_json reports a short escape at the end of input as EOF, a non-hex byte as bad.
        let bad = bytes.get(i..).unwrap_or(&[]).iter().position(|b| !b.is_ascii_hexdigit());
        return Err(match bad {
            Some(k) => JsonError::Escape { at: at(i + k) },
            None => JsonError::Eof { at: at(bytes.len()) },
        });
    };
    let mut n = 0u16;
    for (k, &d) in digits.iter().enumerate() {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return Err(JsonError::Escape { at: at(i + k) }),
        };
        n = (n << 4) | u16::from(v);
    }
    Ok(n)
}

const ONES: u64 = 0x0101_0101_0101_0101;
pub(super) const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Bytes of a string scanned 16 (SSE2) or 8 (SWAR) at a time before switching to `memchr2`: short keys
/// and values are faster chunk by chunk, long ones (a log line, an image digest) with AVX2.
const LONG_RUN: usize = 32;

/// The index of the first quote, backslash or control byte of `input` at or after `i` (`input.len()` if
/// none): the plain run of a string body. ORs the run's bytes into `seen` (at least their high bits), so
/// that UTF-8 needs checking only when some byte is not ASCII. One pass does the search and the ASCII
/// check, which beats `memchr2` plus a separate validation pass on the short strings that make up most
/// of a record.
#[inline(always)]
pub(super) fn skip_plain(input: &[u8], mut i: usize, seen: &mut u64) -> usize {
    let start = i;
    #[cfg(target_arch = "x86_64")]
    while let Some(chunk) = input.get(i..i + 16) {
        let (stop, high) = simd::sse2::stops(chunk);
        if stop != 0 {
            let k = stop.trailing_zeros();
            *seen |= u64::from(high & ((1 << k) - 1) != 0) << 7;
            return i + k as usize;
        }
        *seen |= u64::from(high != 0) << 7;
        i += 16;
        if i - start >= LONG_RUN {
            return long_run(input, i, seen);
        }
    }
    while let Some(word) = input.get(i..i + 8) {
        let w = u64::from_le_bytes(word.try_into().unwrap_or([b'"'; 8]));
        let stop = bytes_eq(w, b'"') | bytes_eq(w, b'\\') | bytes_below(w, 0x20);
        if stop != 0 {
            let k = stop.trailing_zeros() / 8;
            *seen |= w & ((1u64 << (8 * k)) - 1);
            return i + k as usize;
        }
        *seen |= w;
        i += 8;
        if i - start >= LONG_RUN {
            return long_run(input, i, seen);
        }
    }
    while let Some(&b) = input.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            return i;
        }
        *seen |= u64::from(b);
        i += 1;
    }
    i
}

/// [`skip_plain`] past its first bytes: SIMD search for the next quote or backslash, then one branch-free
/// pass for control bytes and the ASCII check.
#[inline(never)]
fn long_run(input: &[u8], mut i: usize, seen: &mut u64) -> usize {
    // PERF: a long body (a Firehose record's base64, a stack trace) is searched and checked in one pass
    // of 64 bytes a step, its end found in the block that holds it; the search below does the last
    // bytes, fewer than a block, when the end is there.
    #[cfg(target_arch = "x86_64")]
    if simd::has_avx2() {
        let (at, high, stopped) = if simd::has_avx512() {
            // SAFETY: `has_avx512()` found AVX-512 F and BW.
            unsafe { simd::avx512::plain_blocks(input, i) }
        } else {
            // SAFETY: `has_avx2()` found AVX2.
            unsafe { simd::avx2::plain_blocks(input, i) }
        };
        *seen |= u64::from(high) << 7;
        if stopped {
            return at;
        }
        i = at;
    }
    let rest = &input[i..];
    let k = memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
    let (ctl, ors) = rest[..k].iter().fold((false, 0u8), |(c, o), &b| (c | (b < 0x20), o | b));
    if ctl {
        return i + rest[..k].iter().position(|&b| b < 0x20).unwrap_or(k);
    }
    *seen |= u64::from(ors);
    i + k
}

/// High bit set in the lane of each byte of `w` below `n` (`n <= 0x80`). Lanes above the first
/// hit may be set spuriously (borrows), so only the lowest set bit and "any" are exact.
#[inline]
fn bytes_below(w: u64, n: u8) -> u64 {
    w.wrapping_sub(ONES * u64::from(n)) & !w & HIGHS
}

/// Like [`bytes_below`], for bytes equal to `b`.
#[inline]
fn bytes_eq(w: u64, b: u8) -> u64 {
    bytes_below(w ^ (ONES * u64::from(b)), 1)
}
