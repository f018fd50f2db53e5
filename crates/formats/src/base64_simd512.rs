//! Standard padded base64 with AVX-512 VBMI, 64 characters a step: the whole blocks of Firehose record
//! data (decoded on the way in, encoded on the way out), the ends left to `base64-simd`.
//!
//! The method is Muła and Lemire's ("Base64 encoding and decoding at almost the speed of a memory copy",
//! 2019): decoding looks all 64 characters up at once in a 128-entry table (`vpermi2b`), gathers their
//! 6-bit values into 48 bytes with two multiply-adds and one byte permutation; encoding spreads 48 bytes
//! into 64 lanes (`vpermb`), picks each lane's 6 bits (`vpmultishiftqb`) and looks the characters up.
//! `base64-simd` (AVX2, SSE4.1 or scalar, chosen at run time) does everything on CPUs without VBMI and
//! the last block or so of every string, where padding and the canonical trailing bits are checked.
//!
//! Both directions accept and produce exactly what `base64-simd` does: a property test compares them
//! on random data, every length, and every invalid character in every position.

/// Appends the decoding of `data` to `out`. On error `out` holds partial output: the caller clears it.
pub(crate) fn decode_append(data: &[u8], out: &mut Vec<u8>) -> Result<(), base64_simd::Error> {
    #[cfg(target_arch = "x86_64")]
    if x86::has_vbmi() {
        // SAFETY: the CPU has AVX-512 F, BW and VBMI.
        let done = unsafe { x86::decode_blocks(data, out) };
        return match done {
            Some(n) => base64_simd::STANDARD.decode_append(&data[n..], out),
            // An invalid character in a block: let the exact decoder find it.
            None => base64_simd::STANDARD.decode_append(data, out),
        };
    }
    base64_simd::STANDARD.decode_append(data, out)
}

/// Appends the standard padded base64 of `bytes` to `out`.
pub(crate) fn encode_append(bytes: &[u8], out: &mut Vec<u8>) {
    #[cfg(target_arch = "x86_64")]
    if x86::has_vbmi() {
        // SAFETY: the CPU has AVX-512 F, BW and VBMI.
        let n = unsafe { x86::encode_blocks(bytes, out) };
        return base64_simd::STANDARD.encode_append(&bytes[n..], out);
    }
    base64_simd::STANDARD.encode_append(bytes, out)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;
    use std::sync::OnceLock;

    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    /// ASCII (0..128) to its 6-bit value, 0x80 for a byte that is not in the alphabet (`=` included:
    /// padding is only ever in the last characters, which these blocks never reach).
    static DECODE: [u8; 128] = {
        let mut t = [0x80u8; 128];
        let mut i = 0;
        while i < 64 {
            t[ALPHABET[i] as usize] = i as u8;
            i += 1;
        }
        t
    };

    /// Output byte `3i + k` of a decoded block comes from byte `2 - k` of 32-bit lane `i` (which holds
    /// the lane's four 6-bit values as one 24-bit number); the last 16 bytes are not stored.
    static DECODE_PACK: [u8; 64] = {
        let mut t = [0u8; 64];
        let mut j = 0;
        while j < 48 {
            t[j] = (4 * (j / 3) + 2 - j % 3) as u8;
            j += 1;
        }
        t
    };

    /// Lane `i` of an encoded block gathers input bytes `3i + 1, 3i, 3i + 2, 3i + 1`: as a little-endian
    /// 32-bit word, the three bytes' 24 bits in the places [`ENCODE_SHIFTS`] picks them from.
    static ENCODE_SPREAD: [u8; 64] = {
        let mut t = [0u8; 64];
        let mut i = 0;
        while i < 16 {
            let b = 3 * i as u8;
            t[4 * i] = b + 1;
            t[4 * i + 1] = b;
            t[4 * i + 2] = b + 2;
            t[4 * i + 3] = b + 1;
            i += 1;
        }
        t
    };

    /// The bit offsets, within each 64-bit lane, of the four 6-bit values of both its 32-bit words.
    const ENCODE_SHIFTS: i64 = 0x3036_242a_1016_040a;

    pub(super) fn has_vbmi() -> bool {
        static HAS: OnceLock<bool> = OnceLock::new();
        *HAS.get_or_init(|| {
            is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw") && is_x86_feature_detected!("avx512vbmi")
        })
    }

    /// Decodes the whole 64-character blocks of `data` that end before its last 4 characters (so that no
    /// block holds padding) onto `out`, and returns the characters done, or `None` if a block holds a
    /// character outside the alphabet.
    ///
    /// # Safety
    ///
    /// The CPU must have AVX-512 F, BW and VBMI ([`has_vbmi`]).
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    pub(super) unsafe fn decode_blocks(data: &[u8], out: &mut Vec<u8>) -> Option<usize> {
        let blocks = data.len().saturating_sub(4) / 64;
        if blocks == 0 {
            return Some(0);
        }
        // Room for the whole string's bytes, so that the end's decoder finds it too, and for the 16
        // bytes each block's 64-byte store writes past its 48.
        out.reserve(data.len() / 4 * 3 + 16);
        // SAFETY (loads): the tables are 64 bytes and the blocks read lie inside `data`.
        let (lo, hi, pack) = unsafe {
            (
                _mm512_loadu_si512(DECODE.as_ptr().cast()),
                _mm512_loadu_si512(DECODE.as_ptr().add(64).cast()),
                _mm512_loadu_si512(DECODE_PACK.as_ptr().cast()),
            )
        };
        let mut bad = _mm512_setzero_si512();
        let len = out.len();
        for b in 0..blocks {
            // SAFETY: block `b` ends at `64 * (b + 1) <= data.len() - 4`; the store ends at
            // `len + 48 * b + 64 <= len + 48 * blocks + 16 <= len + data.len() / 4 * 3 + 16`, inside
            // the room reserved.
            unsafe {
                let v = _mm512_loadu_si512(data.as_ptr().add(64 * b).cast());
                // The low 7 bits index the table; a byte >= 0x80 is caught by `bad` either way.
                let values = _mm512_permutex2var_epi8(lo, v, hi);
                bad = _mm512_ternarylogic_epi32::<0xfe>(bad, v, values);
                let pairs = _mm512_maddubs_epi16(values, _mm512_set1_epi32(0x0140_0140));
                let words = _mm512_madd_epi16(pairs, _mm512_set1_epi32(0x0001_1000));
                let bytes = _mm512_permutexvar_epi8(pack, words);
                _mm512_storeu_si512(out.as_mut_ptr().add(len + 48 * b).cast(), bytes);
            }
        }
        if _mm512_movepi8_mask(bad) != 0 {
            return None;
        }
        // SAFETY: the blocks wrote `48 * blocks` initialized bytes after `len`.
        unsafe { out.set_len(len + 48 * blocks) };
        Some(64 * blocks)
    }

    /// Encodes the whole 48-byte blocks of `bytes` that leave at least 16 bytes after them (each block
    /// is read as 64 bytes) onto `out`, and returns the bytes done.
    ///
    /// # Safety
    ///
    /// The CPU must have AVX-512 F, BW and VBMI ([`has_vbmi`]).
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    pub(super) unsafe fn encode_blocks(bytes: &[u8], out: &mut Vec<u8>) -> usize {
        let blocks = bytes.len().saturating_sub(16) / 48;
        if blocks == 0 {
            return 0;
        }
        // Room for the whole encoding, so that the end's encoder finds it too.
        out.reserve(bytes.len().div_ceil(3) * 4);
        // SAFETY (loads): both tables are 64 bytes.
        let (spread, alphabet) =
            unsafe { (_mm512_loadu_si512(ENCODE_SPREAD.as_ptr().cast()), _mm512_loadu_si512(ALPHABET.as_ptr().cast())) };
        let shifts = _mm512_set1_epi64(ENCODE_SHIFTS);
        let len = out.len();
        for b in 0..blocks {
            // SAFETY: block `b` reads 64 bytes from `48 * b`, which end at `48 * blocks + 16 <= bytes.len()`;
            // the store ends at `len + 64 * blocks <= len + bytes.len() / 3 * 4`, inside the room reserved.
            unsafe {
                let v = _mm512_loadu_si512(bytes.as_ptr().add(48 * b).cast());
                let lanes = _mm512_permutexvar_epi8(spread, v);
                let sextets = _mm512_multishift_epi64_epi8(shifts, lanes);
                _mm512_storeu_si512(out.as_mut_ptr().add(len + 64 * b).cast(), _mm512_permutexvar_epi8(sextets, alphabet));
            }
        }
        // SAFETY: the blocks wrote `64 * blocks` initialized bytes after `len`.
        unsafe { out.set_len(len + 64 * blocks) };
        48 * blocks
    }
}

#[cfg(test)]
mod tests {
    //! On a CPU without AVX-512 VBMI these compare base64-simd with itself; `blocks_are_taken_on_this_cpu`
    //! says which CPUs run the blocks.
    use super::*;
    use proptest::prelude::*;

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn blocks_are_taken_on_this_cpu() {
        if !x86::has_vbmi() {
            return;
        }
        let bytes = vec![0xa5u8; 1000];
        let mut out = Vec::new();
        // SAFETY: the CPU has AVX-512 F, BW and VBMI.
        assert_eq!(unsafe { x86::encode_blocks(&bytes, &mut out) }, 960);
        let encoded = out.clone();
        out.clear();
        // SAFETY: as above. The last block is left to base64-simd: it could hold padding.
        assert_eq!(unsafe { x86::decode_blocks(&encoded, &mut out) }, Some(1216));
        assert_eq!(out, &bytes[..912]);
    }

    fn reference_decode(data: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        base64_simd::STANDARD.decode_append(data, &mut out).ok().map(|()| out)
    }

    fn decode(data: &[u8]) -> Option<Vec<u8>> {
        let mut out = b"kept".to_vec();
        decode_append(data, &mut out).ok().map(|()| {
            assert_eq!(&out[..4], b"kept", "appends");
            out.split_off(4)
        })
    }

    fn encode(bytes: &[u8]) -> Vec<u8> {
        let mut out = b"kept".to_vec();
        encode_append(bytes, &mut out);
        assert_eq!(&out[..4], b"kept", "appends");
        out.split_off(4)
    }

    #[test]
    fn every_length_round_trips_as_the_reference_does() {
        let bytes: Vec<u8> = (0..600u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for n in 0..bytes.len() {
            let encoded = encode(&bytes[..n]);
            assert_eq!(encoded, base64_simd::STANDARD.encode_to_string(&bytes[..n]).into_bytes(), "length {n}");
            assert_eq!(decode(&encoded).as_deref(), Some(&bytes[..n]), "length {n}");
        }
    }

    #[test]
    fn every_byte_in_every_position_of_a_block_is_judged_as_the_reference_does() {
        let bytes: Vec<u8> = (0..150u32).map(|i| (i * 7 + 3) as u8).collect();
        let encoded = encode(&bytes);
        for at in [0, 1, 31, 32, 63, 64, 65, 127, 128, 150, encoded.len() - 5, encoded.len() - 1] {
            for b in 0..=255u8 {
                let mut e = encoded.clone();
                e[at] = b;
                assert_eq!(decode(&e), reference_decode(&e), "byte {b:#04x} at {at}");
            }
        }
    }

    proptest! {
        #[test]
        fn random_data_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let encoded = encode(&bytes);
            prop_assert_eq!(&encoded, &base64_simd::STANDARD.encode_to_string(&bytes).into_bytes());
            prop_assert_eq!(decode(&encoded), Some(bytes));
        }

        #[test]
        fn random_strings_decode_as_the_reference_does(s in proptest::collection::vec(
            prop_oneof![8 => proptest::sample::select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".to_vec()), 1 => any::<u8>(), 1 => Just(b'=')],
            0..400,
        )) {
            prop_assert_eq!(decode(&s), reference_decode(&s));
        }
    }
}
