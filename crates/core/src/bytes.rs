//! Byte-string equality for the short strings compared once per JSON member (object keys against the
//! keys a rule set names), inlined instead of a call to libc's `memcmp`; and a cache prefetch.
//!
//! PERF: most compared keys are a few bytes long and differ from the wanted one; `==` on slices of the
//! same length calls `memcmp`, whose call and size dispatch cost more than the comparison. Up to 16
//! bytes, two overlapping loads from each end decide with no loop and no call.

/// Whether `a` and `b` hold the same bytes.
#[inline(always)]
pub fn eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    // The two loads overlap when `n` is not twice their width: each byte is covered by one of them.
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => (load::<4>(a, 0) ^ load::<4>(b, 0)) | (load::<4>(a, n - 4) ^ load::<4>(b, n - 4)) == 0,
        8..=16 => (load::<8>(a, 0) ^ load::<8>(b, 0)) | (load::<8>(a, n - 8) ^ load::<8>(b, n - 8)) == 0,
        _ => a == b,
    }
}

/// Whether `s` starts with `prefix`.
#[inline(always)]
pub fn starts_with(s: &[u8], prefix: &[u8]) -> bool {
    s.get(..prefix.len()).is_some_and(|head| eq(head, prefix))
}

/// Asks the CPU to bring the start of `s` into its caches, without waiting for it: for a pass over
/// strings scattered through memory, issued for all of them first so that their cache misses overlap
/// instead of being waited out one after the other. Does nothing on other architectures.
#[inline(always)]
pub fn prefetch(s: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch only hints the cache; it never faults, whatever the address, and reads
    // nothing into the program. SSE is part of x86_64.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(s.as_ptr().cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = s;
}

/// `W` bytes of `s` from `at` as a little-endian number (`W` is 4 or 8).
#[inline(always)]
fn load<const W: usize>(s: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word[..W].copy_from_slice(&s[at..at + W]);
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_length_and_every_single_difference() {
        let a: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(37).wrapping_add(11)).collect();
        let copy = a.clone();
        for n in 0..a.len() {
            assert!(eq(&a[..n], &copy[..n]), "length {n}");
            assert!(!eq(&a[..n], &a[..n + 1]), "lengths {n} and {}", n + 1);
            for at in 0..n {
                let mut b = a[..n].to_vec();
                b[at] ^= 1 << (at % 8);
                assert!(!eq(&a[..n], &b), "length {n}, byte {at}");
            }
        }
    }

    proptest! {
        #[test]
        fn agrees_with_slice_equality(a in proptest::collection::vec(0..3u8, 0..24), b in proptest::collection::vec(0..3u8, 0..24)) {
            prop_assert_eq!(eq(&a, &b), a == b);
            prop_assert_eq!(starts_with(&a, &b), a.starts_with(&b));
        }
    }
}
