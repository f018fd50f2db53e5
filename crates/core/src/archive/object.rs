//! Objects: the archive lines of one partition, gzip-compressed a chunk at a time, sealed when full,
//! with their index.
//!
//! An object's body is a sequence of gzip members, one per [`CHUNK`] of lines (RFC 1952 allows any
//! number; `zcat`, Python's `gzip`, Athena, Spark and logtrim's replay read them as one stream). A
//! chunk is compressed whole by the archive's one encoder ([`Members`]), so an open object holds its
//! compressed bytes and at most one chunk of lines, and no compressor state of its own.

use super::Reason;
use super::index::{ObjectIndex, ValueCollector};
use crate::gzip::Members;
use crate::plan::FieldRef;

/// Lines are compressed in pieces of this many bytes: large against deflate's 32 KiB window and a
/// member's 18 bytes of framing, small enough that every open object holding one costs little.
pub const CHUNK: usize = 256 << 10;

/// Where a record goes: the UTC hour of its time and its source.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Partition {
    /// Hours since the Unix epoch.
    pub hour: i64,
    /// The first partition field's value; `None` files it under `source=_none`.
    pub source: Option<String>,
}

/// The partition value of a record without a source.
pub const NO_SOURCE: &str = "_none";

impl Partition {
    /// The partition of a record at `time_ms` from `source`.
    pub fn of(time_ms: i64, source: Option<&str>) -> Partition {
        Partition { hour: time_ms.div_euclid(3_600_000), source: source.map(str::to_string) }
    }

    /// `YYYY-MM-DD` of the partition's day.
    pub fn dt(&self) -> String {
        let (y, m, d) = civil(self.hour.div_euclid(24));
        format!("{y:04}-{m:02}-{d:02}")
    }

    /// The hour of the day, 0–23.
    pub fn hour_of_day(&self) -> u8 {
        self.hour.rem_euclid(24) as u8
    }

    /// `dt=…/hour=…/` : the prefix of every source's objects of this hour.
    pub fn hour_prefix(&self) -> String {
        hour_prefix(self.hour)
    }

    /// `dt=…/hour=…/source=…/`.
    pub fn prefix(&self) -> String {
        format!("{}source={}/", self.hour_prefix(), escape(self.source.as_deref()))
    }
}

/// `dt=…/hour=…/` of the hour `hour` (hours since the Unix epoch).
pub fn hour_prefix(hour: i64) -> String {
    let (y, m, d) = civil(hour.div_euclid(24));
    format!("dt={y:04}-{m:02}-{d:02}/hour={:02}/", hour.rem_euclid(24))
}

/// A source as a path segment: letters, digits, `-`, `_` and `.` as they are (a leading `.` escaped, so
/// no segment is `.` or `..`), every other byte as `%XX`, as Hive escapes partition values.
pub fn escape(source: Option<&str>) -> String {
    let Some(s) = source else { return NO_SOURCE.to_string() };
    let mut out = String::with_capacity(s.len());
    for (i, b) in s.bytes().enumerate() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (b == b'.' && i > 0) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The reverse of [`escape`] (`None` for [`NO_SOURCE`]).
pub fn unescape(segment: &str) -> Option<String> {
    if segment == NO_SOURCE {
        return None;
    }
    let b = segment.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Year, month, day of `days` since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A sealed object: its data, its index, where they go.
#[derive(Clone, Debug)]
pub struct Object {
    /// Its sequence number in its writer (records added to it were told this number).
    pub seq: u64,
    /// Its partition.
    pub partition: Partition,
    /// The data's key, relative to the archive's root: `dt=…/hour=…/source=…/<writer>-<seq>.ndjson.gz`.
    pub key: String,
    /// The index's key, beside it: `…/<writer>-<seq>.index.json`.
    pub index_key: String,
    /// The gzip-compressed lines.
    pub body: Vec<u8>,
    /// What it holds.
    pub index: ObjectIndex,
}

impl Object {
    /// The index as written beside the object.
    pub fn index_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.index).unwrap_or_default()
    }
}

/// An object being filled.
pub(crate) struct Builder {
    pub partition: Partition,
    pub seq: u64,
    pub opened_ms: i64,
    name: String,
    /// Lines not compressed yet (less than a [`CHUNK`] between calls).
    chunk: Vec<u8>,
    /// The members compressed so far.
    body: Vec<u8>,
    raw: u64,
    records: u64,
    time: Option<(i64, i64)>,
    reasons: [u64; 5],
    /// Records by rule index (the default last).
    rules: Vec<u64>,
    sets: Vec<ValueCollector>,
}

impl Builder {
    pub fn new(partition: Partition, writer: &str, seq: u64, fields: usize, opened_ms: i64) -> Builder {
        Builder {
            partition,
            seq,
            opened_ms,
            name: format!("{writer}-{seq:08}"),
            chunk: Vec::new(),
            body: Vec::new(),
            raw: 0,
            records: 0,
            time: None,
            reasons: [0; 5],
            rules: Vec::new(),
            sets: (0..fields).map(|_| ValueCollector::default()).collect(),
        }
    }

    pub fn raw_bytes(&self) -> u64 {
        self.raw
    }

    /// What it holds in memory: its members and the chunk not compressed yet.
    pub fn held_bytes(&self) -> u64 {
        (self.body.len() + self.chunk.len()) as u64
    }

    /// Adds one line (with its newline) and what the index says of it.
    pub fn add(&mut self, gzip: &mut Members, line: &[u8], time_ms: i64, reason: Reason, rule: usize, values: &[Option<String>]) {
        self.chunk.extend_from_slice(line);
        if self.chunk.len() >= CHUNK {
            gzip.compress(&self.chunk, &mut self.body);
            self.chunk.clear();
        }
        self.raw += line.len() as u64;
        self.records += 1;
        self.time = Some(match self.time {
            Some((lo, hi)) => (lo.min(time_ms), hi.max(time_ms)),
            None => (time_ms, time_ms),
        });
        self.reasons[reason.index()] += 1;
        if self.rules.len() <= rule {
            self.rules.resize(rule + 1, 0);
        }
        self.rules[rule] += 1;
        for (set, v) in self.sets.iter_mut().zip(values) {
            if let Some(v) = v {
                set.add(v);
            }
        }
    }

    /// Compresses the last chunk and writes the index.
    pub fn seal(mut self, gzip: &mut Members, rule_names: &[String], fields: &[(String, FieldRef)], rule_set: Option<&str>) -> Object {
        // An object without a line (none is sealed so) would still be one valid, empty member.
        if !self.chunk.is_empty() || self.body.is_empty() {
            gzip.compress(&self.chunk, &mut self.body);
        }
        let body = self.body;
        let prefix = self.partition.prefix();
        let (time_min, time_max) = self.time.unwrap_or((0, 0));
        let index = ObjectIndex {
            version: 1,
            object: format!("{}.ndjson.gz", self.name),
            seq: self.seq,
            rule_set: rule_set.map(str::to_string),
            dt: self.partition.dt(),
            hour: self.partition.hour_of_day(),
            source: self.partition.source.clone(),
            records: self.records,
            bytes: self.raw,
            compressed_bytes: body.len() as u64,
            time_min,
            time_max,
            reasons: Reason::ALL.iter().filter(|r| self.reasons[r.index()] > 0).map(|r| (r.name().to_string(), self.reasons[r.index()])).collect(),
            rules: self.rules.iter().enumerate().filter(|(_, n)| **n > 0).map(|(i, n)| (rule_names.get(i).cloned().unwrap_or_default(), *n)).collect(),
            fields: fields.iter().zip(self.sets).map(|((name, _), set)| (name.clone(), set.finish())).collect(),
        };
        Object {
            seq: self.seq,
            key: format!("{prefix}{}.ndjson.gz", self.name),
            index_key: format!("{prefix}{}.index.json", self.name),
            partition: self.partition,
            body,
            index,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_hours() {
        // 2026-11-22T10:00:00Z
        let p = Partition::of(1_795_341_600_000, Some("shop"));
        assert_eq!(p.prefix(), "dt=2026-11-22/hour=10/source=shop/");
        assert_eq!(Partition::of(0, None).prefix(), "dt=1970-01-01/hour=00/source=_none/");
        assert_eq!(Partition::of(-1, None).prefix(), "dt=1969-12-31/hour=23/source=_none/");
        // 2024-02-29T23:59:59.999Z: a leap day's last millisecond.
        assert_eq!(Partition::of(1_709_251_199_999, Some("x")).hour_prefix(), "dt=2024-02-29/hour=23/");
        // Every day for 800 years agrees with jiff.
        for day in (-100_000..200_000).step_by(97) {
            let t = jiff::Timestamp::from_second(day * 86_400).unwrap();
            assert_eq!(Partition::of(day * 86_400_000, None).dt(), t.strftime("%Y-%m-%d").to_string(), "{day}");
        }
    }

    #[test]
    fn sources_escape_and_come_back() {
        for s in ["shop", "/aws/eks/prod/cluster", "a b%c", "..", ".hidden", "é", "kube-system", "_none_"] {
            let e = escape(Some(s));
            assert!(e.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.%".contains(&b)), "{e}");
            assert!(e != "." && e != ".." && !e.starts_with('.'), "{e}");
            assert_eq!(unescape(&e).as_deref(), Some(s), "{e}");
        }
        assert_eq!(escape(Some("/aws/x")), "%2Faws%2Fx");
        assert_eq!(unescape(NO_SOURCE), None);
    }
}
