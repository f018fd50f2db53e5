//! STUB — replaced by the real implementation.
#![allow(missing_docs, dead_code)]
use std::io::Read;
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputFormat { Auto, Json, Cri, Docker, Text }
#[derive(Clone, Debug)]
pub struct ReaderOptions { pub max_record_bytes: usize }
impl Default for ReaderOptions { fn default() -> Self { ReaderOptions { max_record_bytes: 1 << 20 } } }
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind { Json, Text }
pub struct Record<'a> { pub bytes: &'a [u8], pub line: u64, pub kind: RecordKind }
#[derive(Debug, thiserror::Error)]
pub enum ReadError { #[error("io: {0}")] Io(#[from] std::io::Error) }
#[derive(Clone, Debug, Default)]
pub struct ReaderCounters { pub lines: u64, pub records: u64, pub bytes_in: u64, pub empty: u64, pub malformed: u64, pub truncated: u64, pub unterminated_partial: u64 }
pub struct RecordReader<R> { inner: R, c: ReaderCounters }
impl<R: Read> RecordReader<R> {
    pub fn new(inner: R, _f: InputFormat, _o: ReaderOptions) -> Self { RecordReader { inner, c: ReaderCounters::default() } }
    pub fn next_record(&mut self) -> Option<Result<Record<'_>, ReadError>> { None }
    pub fn counters(&self) -> &ReaderCounters { &self.c }
}
