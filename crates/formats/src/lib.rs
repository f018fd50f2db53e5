//! Input framing for logtrim: turns a byte stream into log records.
//!
//! A [`RecordReader`] reads one input (a file or stdin), transparently decompresses
//! gzip (detected by its magic bytes, concatenated members allowed), splits it into
//! lines and turns lines into records according to an [`InputFormat`]:
//!
//! | format | record | kind |
//! |---|---|---|
//! | [`InputFormat::Json`] | each line as-is; for Fluent Bit `[ts, {..}]` lines the inner object | [`RecordKind::Json`] |
//! | [`InputFormat::Cri`] | `{"time":..,"stream":..,"log":..}` built from the CRI line, `P` parts joined per stream | [`RecordKind::Json`] |
//! | [`InputFormat::Docker`] | the json-file line as-is; 16 KiB partials joined per stream | [`RecordKind::Json`] |
//! | [`InputFormat::Text`] | each line | [`RecordKind::Text`] |
//!
//! [`InputFormat::Auto`] picks one of these per input from its first lines.
//!
//! Design rules, all of them observable through [`ReaderCounters`]:
//! - nothing is dropped silently: lines that do not fit the format are passed on as
//!   [`RecordKind::Text`] and counted as `malformed`; only empty lines are skipped (`empty`);
//! - memory is bounded: a record longer than [`ReaderOptions::max_record_bytes`] is cut
//!   (`truncated`) and the rest of its line is skipped without being buffered;
//! - the reader never panics; a decoding or I/O error ends the input after every
//!   record decoded before it has been returned.

#![warn(missing_docs)]

mod base64_simd512;
pub mod container;
mod cri;
mod detect;
mod docker;
mod escape;
pub mod firehose;
pub mod hec;
mod fluentbit;
mod gzip;
mod json_scan;
mod lines;
mod reader;
pub mod template;

use std::fmt;
use std::str::FromStr;

pub use reader::RecordReader;

/// How the lines of an input are to be interpreted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputFormat {
    /// Decide per input from its first non-empty lines (see [`RecordReader::format`]).
    Auto,
    /// Newline-delimited JSON objects, including Fluent Bit `[ts, {record}]` lines.
    Json,
    /// Kubernetes CRI container logs (containerd, CRI-O): `<time> <stream> <P|F> <message>`.
    Cri,
    /// Docker `json-file` container logs: `{"log":"..\n","stream":"..","time":".."}`.
    Docker,
    /// Plain text, one record per line.
    Text,
}

impl InputFormat {
    /// The lowercase name used on the command line (`auto`, `json`, `cri`, `docker`, `text`).
    pub fn name(self) -> &'static str {
        match self {
            InputFormat::Auto => "auto",
            InputFormat::Json => "json",
            InputFormat::Cri => "cri",
            InputFormat::Docker => "docker",
            InputFormat::Text => "text",
        }
    }
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error returned by [`InputFormat::from_str`] for an unknown format name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown input format {0:?} (expected one of: auto, json, cri, docker, text)")]
pub struct UnknownFormat(pub String);

impl FromStr for InputFormat {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(InputFormat::Auto),
            "json" | "ndjson" | "jsonl" => Ok(InputFormat::Json),
            "cri" => Ok(InputFormat::Cri),
            "docker" => Ok(InputFormat::Docker),
            "text" | "txt" | "raw" => Ok(InputFormat::Text),
            _ => Err(UnknownFormat(s.to_string())),
        }
    }
}

/// Tuning for a [`RecordReader`].
#[derive(Clone, Debug)]
pub struct ReaderOptions {
    /// Longest record passed on, in bytes; longer ones are truncated and counted.
    ///
    /// For CRI and Docker input the cap applies to the (joined) message, so the emitted
    /// JSON envelope can be somewhat longer. Values below 1 are treated as 1.
    /// Default: 1 MiB.
    pub max_record_bytes: usize,
    /// How many lines [`InputFormat::Auto`] looks at (from the first read buffer) to
    /// choose the format. Default: 16.
    pub detect_lines: usize,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions {
            max_record_bytes: 1 << 20,
            detect_lines: 16,
        }
    }
}

/// What a record's bytes are expected to hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// A JSON object (not validated here: a truncated or broken one is still marked Json
    /// when its line had the expected shape).
    Json,
    /// Free text.
    Text,
}

/// One record, borrowed from the reader until the next call to [`RecordReader::next_record`].
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// The record's bytes, without the line terminator.
    pub bytes: &'a [u8],
    /// 1-based number of the first physical line the record came from.
    pub line: u64,
    /// How the bytes are to be interpreted.
    pub kind: RecordKind,
}

/// Why reading an input stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The underlying reader failed.
    #[error("I/O error after {after} bytes: {source}")]
    Io {
        /// Input bytes (after decompression) read successfully before the error.
        after: u64,
        /// The error from the underlying reader.
        #[source]
        source: std::io::Error,
    },
    /// The gzip data could not be decoded (bad header, invalid deflate data, CRC mismatch).
    #[error("corrupt gzip stream after {after} bytes: {source}")]
    CorruptGzip {
        /// Decompressed bytes delivered before the error.
        after: u64,
        /// The decoder's error.
        #[source]
        source: std::io::Error,
    },
    /// The gzip data ended in the middle of a member (e.g. a file still being written or cut off).
    #[error(
        "truncated gzip stream after {after} bytes: compressed input ended inside a gzip member"
    )]
    TruncatedGzip {
        /// Decompressed bytes delivered before the input ended.
        after: u64,
    },
}

/// What a [`RecordReader`] has seen so far.
#[derive(Clone, Debug, Default)]
pub struct ReaderCounters {
    /// Physical lines read (including empty ones and a final line without newline).
    pub lines: u64,
    /// Records returned.
    pub records: u64,
    /// Input bytes read, after gzip decompression.
    pub bytes_in: u64,
    /// Empty lines skipped.
    pub empty: u64,
    /// Lines that did not match the input format and were passed on as text.
    pub malformed: u64,
    /// Records cut to [`ReaderOptions::max_record_bytes`].
    pub truncated: u64,
    /// CRI/Docker partial lines still waiting for their final part at the end of the input;
    /// each was returned as a record of its own.
    pub unterminated_partial: u64,
    /// CRI/Docker lines that were parts of a longer message (its last part included), joined
    /// into [`joined_records`](Self::joined_records) records.
    pub joined_lines: u64,
    /// Records built by joining partial lines.
    pub joined_records: u64,
    /// CRI records whose message had invalid UTF-8, replaced by U+FFFD to keep the JSON valid.
    pub invalid_utf8: u64,
}

impl std::ops::AddAssign<&ReaderCounters> for ReaderCounters {
    /// Totals over several inputs (files read one after another).
    fn add_assign(&mut self, o: &ReaderCounters) {
        let ReaderCounters { lines, records, bytes_in, empty, malformed, truncated, unterminated_partial, joined_lines, joined_records, invalid_utf8 } = o;
        self.lines += lines;
        self.records += records;
        self.bytes_in += bytes_in;
        self.empty += empty;
        self.malformed += malformed;
        self.truncated += truncated;
        self.unterminated_partial += unterminated_partial;
        self.joined_lines += joined_lines;
        self.joined_records += joined_records;
        self.invalid_utf8 += invalid_utf8;
    }
}
