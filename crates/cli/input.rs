//! Opening input files (or stdin) and feeding their records to a callback, with a progress bar.

use std::fs::File;
use std::io::{self, IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use logtrim_formats::firehose::{self, CapturedError, CapturedKind};
use logtrim_formats::{InputFormat, ReaderCounters, ReaderOptions, RecordReader};

use crate::args::{InputArgs, InputFormatArg};

/// What the reader saw across all inputs, for the "could not read" summary.
#[derive(Debug, Default, Clone)]
pub struct InputStats {
    pub files: usize,
    /// The record readers' counters, summed over the files; records and bytes of captured events too.
    pub read: ReaderCounters,
    /// Firehose records of captured events that could not be decoded (the Lambda answers them
    /// `ProcessingFailed`), as `file: recordId …: error`: the first few of each file.
    pub failed_records: Vec<String>,
    /// How many there were, listed or not.
    pub failed_record_count: u64,
    /// Firehose records without `data` (the Lambda answers them `Dropped`).
    pub records_without_data: u64,
    /// Files that looked like captured documents but were not, and were read as lines, with why.
    pub read_as_lines: Vec<String>,
    /// Files that failed midway (corrupt gzip, I/O error), with the error.
    pub failed: Vec<String>,
}

impl InputStats {
    /// One line per kind of trouble, for stderr.
    pub fn problems(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.read.malformed > 0 {
            v.push(format!("{} lines did not match the input format and were read as plain text", self.read.malformed));
        }
        if self.read.truncated > 0 {
            v.push(format!("{} records were longer than --max-record-bytes and were truncated", self.read.truncated));
        }
        if self.read.joined_lines > 0 {
            v.push(format!("{} partial container-log lines were joined into {} records", self.read.joined_lines, self.read.joined_records));
        }
        if self.read.invalid_utf8 > 0 {
            v.push(format!("{} container-log messages had invalid UTF-8, replaced by U+FFFD", self.read.invalid_utf8));
        }
        if self.read.unterminated_partial > 0 {
            v.push(format!("{} partial container-log lines had no final part at end of input", self.read.unterminated_partial));
        }
        if self.failed_record_count > 0 {
            let listed = self.failed_records.len() as u64;
            let more = if listed < self.failed_record_count { format!(" (the first {listed} listed)") } else { String::new() };
            v.push(format!("{} Firehose records could not be decoded{more}:", self.failed_record_count));
            v.extend(self.failed_records.iter().map(|r| format!("  {r}")));
        }
        if self.records_without_data > 0 {
            v.push(format!("{} Firehose records had no data (the Lambda answers them Dropped)", self.records_without_data));
        }
        for f in &self.read_as_lines {
            v.push(format!("{f}; read as lines"));
        }
        for f in &self.failed {
            v.push(format!("stopped reading {f}"));
        }
        v
    }
}

fn format_of(a: InputFormatArg) -> InputFormat {
    match a {
        InputFormatArg::Auto | InputFormatArg::Firehose | InputFormatArg::Cloudwatch => InputFormat::Auto,
        InputFormatArg::Json => InputFormat::Json,
        InputFormatArg::Cri => InputFormat::Cri,
        InputFormatArg::Docker => InputFormat::Docker,
        InputFormatArg::Text => InputFormat::Text,
    }
}

/// Counts bytes read from the underlying (possibly compressed) file for the progress bar.
struct Counted<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

fn stdin_path() -> PathBuf {
    PathBuf::from("-")
}

/// Where a record was read: its file (`-` for stdin) and its number there (0-based).
pub struct At<'a> {
    pub file: &'a Path,
    pub n: u64,
}

/// Calls `each(record_bytes)` for every record of every input, in order.
pub fn for_each_record(args: &InputArgs, progress: bool, mut each: impl FnMut(&[u8]) -> anyhow::Result<()>) -> anyhow::Result<InputStats> {
    for_each_record_at(args, progress, |rec, _| each(rec))
}

/// [`for_each_record`], telling where each record was read.
pub fn for_each_record_at(
    args: &InputArgs,
    progress: bool,
    mut each: impl FnMut(&[u8], &At<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<InputStats> {
    let files: Vec<PathBuf> = if args.files.is_empty() { vec![stdin_path()] } else { args.files.clone() };
    let total: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    // Only for people watching: a bar on a terminal, and only when there is enough to wait for.
    let bar = if progress && io::stderr().is_terminal() && total > 16 * 1024 * 1024 {
        let b = ProgressBar::new(total);
        b.set_style(
            ProgressStyle::with_template("{spinner} {bytes}/{total_bytes} {bar:40} {bytes_per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let mut stats = InputStats { files: files.len(), ..Default::default() };
    let opts = ReaderOptions { max_record_bytes: args.max_record_bytes, ..ReaderOptions::default() };
    for f in &files {
        let mut n = 0u64;
        let mut each = |rec: &[u8]| {
            let at = At { file: f, n };
            n += 1;
            each(rec, &at)
        };
        let src: Box<dyn Read> = if f == Path::new("-") {
            Box::new(io::stdin().lock())
        } else {
            Box::new(File::open(f).with_context(|| format!("cannot open {}", f.display()))?)
        };
        let mut src = Counted { inner: src, bar: bar.clone() };
        // Captured Lambda inputs are single JSON documents, not lines: tell them from their first bytes.
        let forced = match args.input_format {
            InputFormatArg::Firehose => Some(CapturedKind::FirehoseEvent),
            InputFormatArg::Cloudwatch => Some(CapturedKind::CloudWatch),
            _ => None,
        };
        let mut prefix = Vec::new();
        if forced.is_some() || args.input_format == InputFormatArg::Auto {
            (&mut src).take(firehose::SNIFF_BYTES as u64).read_to_end(&mut prefix).with_context(|| format!("cannot read {}", f.display()))?;
        }
        let captured = forced.or_else(|| (args.input_format == InputFormatArg::Auto).then(|| firehose::sniff_captured(&prefix)).flatten());
        let rest: Box<dyn Read> = match captured {
            Some(kind) => {
                // Decoded record by record with the Lambda's code and cap, as the function would.
                let input = io::Cursor::new(prefix).chain(&mut src);
                let c = firehose::read_captured(kind, input, firehose::MAX_DECOMPRESSED, &mut each)?;
                stats.read.bytes_in += c.bytes_in;
                stats.read.records += c.records;
                stats.failed_record_count += c.failed_count;
                stats.records_without_data += c.without_data;
                for (id, e) in &c.failed {
                    stats.failed_records.push(format!("{}: recordId {id:?}: {e}", f.display()));
                }
                match (c.error, c.unread) {
                    (None, _) => continue,
                    // Looked like one but is not: read it as lines like any other file, and say so.
                    (Some(CapturedError::NotFirehoseEvent(why) | CapturedError::NotCloudWatch(why)), Some(unread)) if forced.is_none() => {
                        let what = match kind {
                            CapturedKind::FirehoseEvent => "a saved Firehose event",
                            CapturedKind::CloudWatch => "a CloudWatch Logs payload",
                        };
                        stats.read_as_lines.push(format!("{} looked like {what} but is not one ({why})", f.display()));
                        Box::new(io::Cursor::new(unread).chain(src))
                    }
                    (Some(e), _) => {
                        stats.failed.push(format!("{}: {e}", f.display()));
                        continue;
                    }
                }
            }
            None => Box::new(io::Cursor::new(prefix).chain(src)),
        };
        let mut reader = RecordReader::new(rest, format_of(args.input_format), opts.clone());
        loop {
            match reader.next_record() {
                None => break,
                Some(Ok(rec)) => each(rec.bytes)?,
                Some(Err(e)) => {
                    stats.failed.push(format!("{}: {e}", f.display()));
                    break;
                }
            }
        }
        stats.read += reader.counters();
    }
    bar.finish_and_clear();
    Ok(stats)
}
