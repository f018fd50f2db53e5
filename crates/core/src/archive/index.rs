//! An object's index, written beside it as `<name>.index.json`: what a replay reads to decide whether the
//! object can hold anything it selects, without reading the object.
//!
//! ```json
//! {"version":1,"object":"node-1-00000007.ndjson.gz","seq":7,"rule_set":"k8s-splunk","dt":"2026-11-22","hour":10,
//!  "source":"shop","records":5120,"bytes":4718592,"compressed_bytes":401233,
//!  "time_min":1795341600000,"time_max":1795341659871,"reasons":{"dropped":444,"sampled":4676},
//!  "rules":{"drop-probes":444,"sample-2xx":4676},
//!  "fields":{"kubernetes.container_name":{"values":["api","nginx"]},
//!            "log.request_id":{"bloom":{"n":4676,"k":7,"bits":"…base64…"}}}}
//! ```
//!
//! Each `archive.index` field lists its distinct values while there are at most [`MAX_VALUES`]; past that,
//! a Bloom filter of them: about 9.6 bits per distinct value and 7 hashes, for a false-positive rate of
//! about 1% — a replay looking for one request id reads about 1 object in 100 that does not hold it, and
//! never skips one that does. The filter of 10,000 request ids is 12 KB (16 KB in base64).

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

/// Distinct values listed before a field's values become a Bloom filter.
pub const MAX_VALUES: usize = 32;
/// Bits per distinct value in a Bloom filter: with [`BLOOM_HASHES`], a false-positive rate of about 1%.
pub const BLOOM_BITS_PER_VALUE: f64 = 9.6;
/// Hashes per value in a Bloom filter.
pub const BLOOM_HASHES: u32 = 7;

/// What one object holds (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectIndex {
    /// The format's version: 1.
    pub version: u32,
    /// The object's file name, in the same folder.
    pub object: String,
    /// Its sequence number in its writer.
    pub seq: u64,
    /// The rule file's `name:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_set: Option<String>,
    /// The partition's day, `YYYY-MM-DD` (UTC).
    pub dt: String,
    /// The partition's hour, 0–23 (UTC).
    pub hour: u8,
    /// The partition's source, unescaped; none for `source=_none`.
    #[serde(default)]
    pub source: Option<String>,
    /// Lines.
    pub records: u64,
    /// Their bytes, uncompressed.
    pub bytes: u64,
    /// The object's bytes.
    pub compressed_bytes: u64,
    /// The earliest record time, epoch milliseconds.
    pub time_min: i64,
    /// The latest.
    pub time_max: i64,
    /// Lines by reason.
    pub reasons: BTreeMap<String, u64>,
    /// Lines by deciding rule.
    pub rules: BTreeMap<String, u64>,
    /// The `archive.index` fields' values.
    pub fields: BTreeMap<String, ValueSet>,
}

/// The values of one field in one object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueSet {
    /// Every distinct value, sorted.
    Values(Vec<String>),
    /// Too many to list.
    Bloom(Bloom),
}

impl ValueSet {
    /// Whether the object may hold a record whose field has this value (a Bloom filter may say yes
    /// wrongly, never no).
    pub fn may_contain(&self, value: &str) -> bool {
        match self {
            ValueSet::Values(v) => v.binary_search_by(|x| x.as_str().cmp(value)).is_ok(),
            ValueSet::Bloom(b) => b.may_contain(xxh3_64(value.as_bytes())),
        }
    }
}

/// A Bloom filter over 64-bit hashes (Kirsch–Mitzenmacher: the i-th bit is `h + i·h'`, `h'` derived from `h`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bloom {
    /// Distinct values put in.
    pub n: u64,
    /// Hashes per value.
    pub k: u32,
    /// The bits, base64 (standard alphabet, padded); bit `i` is bit `i % 8` of byte `i / 8`.
    pub bits: String,
}

impl Bloom {
    /// A filter of `hashes` (distinct).
    pub fn of(hashes: &[u64]) -> Bloom {
        let m = ((hashes.len() as f64 * BLOOM_BITS_PER_VALUE).ceil() as u64).max(64).next_multiple_of(8);
        let mut bits = vec![0u8; (m / 8) as usize];
        for &h in hashes {
            for i in probes(h, BLOOM_HASHES, m) {
                bits[(i / 8) as usize] |= 1 << (i % 8);
            }
        }
        Bloom { n: hashes.len() as u64, k: BLOOM_HASHES, bits: base64::engine::general_purpose::STANDARD.encode(bits) }
    }

    /// Whether a value of hash `h` may have been put in. A filter that cannot be read says yes.
    pub fn may_contain(&self, h: u64) -> bool {
        let Ok(bits) = base64::engine::general_purpose::STANDARD.decode(&self.bits) else { return true };
        let m = bits.len() as u64 * 8;
        m == 0 || probes(h, self.k, m).all(|i| bits[(i / 8) as usize] & (1 << (i % 8)) != 0)
    }
}

fn probes(h: u64, k: u32, m: u64) -> impl Iterator<Item = u64> {
    let h2 = h.rotate_left(32) | 1;
    (0..u64::from(k)).map(move |i| h.wrapping_add(i.wrapping_mul(h2)) % m)
}

/// Collects one field's values while an object fills: the distinct values while they are few, the
/// hash of every value always (8 bytes a record at most).
#[derive(Debug, Default)]
pub(crate) struct ValueCollector {
    values: BTreeSet<String>,
    /// More than [`MAX_VALUES`] distinct values were seen: `values` is no longer kept.
    many: bool,
    hashes: Vec<u64>,
    /// The value added last: the lines of one file follow each other with the same pod and container,
    /// and a repeat changes neither the values nor the filter.
    last: String,
}

impl ValueCollector {
    pub fn add(&mut self, v: &str) {
        if !self.hashes.is_empty() && self.last == v {
            return;
        }
        self.last.clear();
        self.last.push_str(v);
        self.hashes.push(xxh3_64(v.as_bytes()));
        if !self.many && !self.values.contains(v) {
            self.values.insert(v.to_string());
            if self.values.len() > MAX_VALUES {
                self.many = true;
                self.values = BTreeSet::new();
            }
        }
        // Bounded: a long run of the same few values (a pod's id on every line) keeps few hashes.
        if self.hashes.len() >= 4096 && self.hashes.len().is_power_of_two() {
            self.hashes.sort_unstable();
            self.hashes.dedup();
        }
    }

    pub fn finish(mut self) -> ValueSet {
        if self.many {
            self.hashes.sort_unstable();
            self.hashes.dedup();
            ValueSet::Bloom(Bloom::of(&self.hashes))
        } else {
            ValueSet::Values(self.values.into_iter().collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_then_a_bloom_filter_with_about_one_percent_false_positives() {
        let mut few = ValueCollector::default();
        for v in ["b", "a", "b"] {
            few.add(v);
        }
        let set = few.finish();
        assert_eq!(set, ValueSet::Values(vec!["a".into(), "b".into()]));
        assert!(set.may_contain("a") && !set.may_contain("c"));

        let mut many = ValueCollector::default();
        for i in 0..10_000 {
            many.add(&format!("req-{i}"));
        }
        let set = many.finish();
        let ValueSet::Bloom(b) = &set else { panic!("{set:?}") };
        assert_eq!(b.n, 10_000);
        assert!((0..10_000).all(|i| set.may_contain(&format!("req-{i}"))), "never a false negative");
        let false_positives = (0..100_000).filter(|i| set.may_contain(&format!("other-{i}"))).count();
        // The documented rate is about 1%.
        assert!((500..1_500).contains(&false_positives), "{false_positives} of 100000");
        assert!(b.bits.len() < 17_000, "{}", b.bits.len());
        // Read back as written.
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(serde_json::from_str::<ValueSet>(&json).unwrap(), set);
    }
}
