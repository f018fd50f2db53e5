//! Consistent sampling: the same key gets the same decision on every node, in the Lambda and in the CLI.
//!
//! The decision for a key is `xxh3_64(key) < rate × 2^64` where `xxh3_64` is XXH3 64-bit with seed 0
//! (a frozen, specified hash: <https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md>). The same hash
//! is used by every rule, so a key kept at 1% by one rule is also kept by any rule sampling at 1% or more:
//! a request sampled at the ingress is also sampled at the sidecar.

use xxhash_rust::xxh3::xxh3_64;

/// A share of records to keep, strictly greater than 0 and at most 1. Only buildable with a valid value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampleRate {
    rate: f64,
    /// Keep when the key's hash is below this; `u64::MAX` with `always` for rate 1.
    threshold: u64,
    always: bool,
}

impl SampleRate {
    /// `None` unless `0 < rate <= 1`.
    pub fn new(rate: f64) -> Option<SampleRate> {
        if !(rate > 0.0 && rate <= 1.0) {
            return None;
        }
        // 2^64 as f64 is exact; the product rounds down to a u64 threshold (saturating below 2^64).
        let threshold = (rate * 18_446_744_073_709_551_616.0) as u64;
        Some(SampleRate { rate, threshold, always: rate >= 1.0 })
    }

    /// The share kept.
    pub fn get(self) -> f64 {
        self.rate
    }

    /// Whether a record whose sampling key is `key` is kept.
    #[inline]
    pub fn keeps(self, key: &[u8]) -> bool {
        self.always || key_hash(key) < self.threshold
    }
}

/// The stable sampling hash of a key: XXH3-64, seed 0.
#[inline]
pub fn key_hash(key: &[u8]) -> u64 {
    xxh3_64(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fixed vectors: these must never change, or sampling decisions change across versions and nodes.
    #[test]
    fn hash_test_vectors() {
        assert_eq!(key_hash(b""), 0x2d06800538d394c2);
        assert_eq!(key_hash(b"a"), 0xe6c632b61e964e1f);
        assert_eq!(key_hash(b"abc"), 0x78af5f94892f3950);
        assert_eq!(key_hash(b"3f2c9b1e-7d4a-4e6b-9a0c-1d2e3f405162"), key_hash(b"3f2c9b1e-7d4a-4e6b-9a0c-1d2e3f405162"));
    }

    /// Fixed vectors, cross-checked with the reference implementation (Python `xxhash.xxh3_64_intdigest`):
    /// these must never change, or sampling decisions change across versions and nodes.
    #[test]
    fn hash_and_decision_vectors() {
        assert_eq!(key_hash(b"req-0"), 0x8ec4efb7550f2044);
        assert_eq!(key_hash(b"req-7"), 0x507252b029454d83);
        let kept = |rate: f64, n: usize| -> Vec<usize> {
            let r = SampleRate::new(rate).unwrap();
            (0..n).filter(|i| r.keeps(format!("req-{i}").as_bytes())).collect()
        };
        assert_eq!(kept(0.01, 1000), [73, 352, 499, 534, 552, 704, 726, 796]);
        assert_eq!(kept(0.5, 16), [7, 8, 9, 10, 12, 14, 15]);
    }

    #[test]
    fn rate_bounds() {
        assert!(SampleRate::new(0.0).is_none());
        assert!(SampleRate::new(-0.1).is_none());
        assert!(SampleRate::new(1.01).is_none());
        assert!(SampleRate::new(f64::NAN).is_none());
        assert!(SampleRate::new(1.0).unwrap().keeps(b"anything"));
    }

    #[test]
    fn share_kept_is_close_to_rate() {
        for rate in [0.01, 0.1, 0.5] {
            let r = SampleRate::new(rate).unwrap();
            let n = 200_000;
            let kept = (0..n).filter(|i| r.keeps(format!("key-{i}").as_bytes())).count();
            let share = kept as f64 / n as f64;
            assert!((share - rate).abs() < rate * 0.05 + 0.001, "rate {rate}: kept {share}");
        }
    }

    #[test]
    fn nested_rates_are_consistent() {
        let low = SampleRate::new(0.01).unwrap();
        let high = SampleRate::new(0.1).unwrap();
        for i in 0..50_000 {
            let k = format!("trace-{i}");
            if low.keeps(k.as_bytes()) {
                assert!(high.keeps(k.as_bytes()));
            }
        }
    }
}
