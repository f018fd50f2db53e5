//! [`RecordReader`]: physical lines in, records out, per [`InputFormat`].

use std::io::Read;

use crate::container::append_capped;
use crate::cri::{self, Stream};
use crate::escape::{escaped_floor, utf8_floor};
use crate::lines::{Line, LineReader};
use crate::{
    InputFormat, ReadError, ReaderCounters, ReaderOptions, Record, RecordKind, detect, docker,
    fluentbit,
};

/// A container log line still waiting for its final part (one per stream).
#[derive(Default)]
struct Pending {
    active: bool,
    /// Line number of the first part.
    line: u64,
    /// Time of the first part (escaped JSON content for Docker, raw for CRI).
    time: Vec<u8>,
    /// Stream name as written in the input (Docker only; CRI knows it from the slot).
    stream: Vec<u8>,
    msg: Vec<u8>,
    truncated: bool,
}

impl Pending {
    fn begin(&mut self, line: u64, time: &[u8], stream: &[u8]) {
        self.active = true;
        self.line = line;
        self.time.clear();
        self.time.extend_from_slice(time);
        self.stream.clear();
        self.stream.extend_from_slice(stream);
        self.msg.clear();
        self.truncated = false;
    }

    /// Appends a part, keeping the message within `cap` (see [`append_capped`]).
    fn append(&mut self, part: &[u8], cap: usize, floor: fn(&[u8], usize) -> usize) {
        append_capped(&mut self.msg, &mut self.truncated, part, cap, floor);
    }
}

/// Where the bytes of the record being returned live.
#[derive(Clone, Copy)]
enum Src {
    /// A range of the line buffer (zero copy).
    Buf(usize, usize),
    /// The scratch buffer `out`.
    Out,
}

#[derive(Clone, Copy)]
struct Emit {
    src: Src,
    line: u64,
    kind: RecordKind,
}

/// Reads records from one input; see the [crate documentation](crate) for the formats.
///
/// Records borrow the reader's buffers, which are reused, so steady-state reading does not
/// allocate per record. Memory stays around `max_record_bytes` plus a 256 KiB read buffer
/// (a few times `max_record_bytes` while joining CRI/Docker partials or escaping a CRI
/// message full of control characters).
pub struct RecordReader<R> {
    lines: LineReader<R>,
    format: InputFormat,
    opts: ReaderOptions,
    counters: ReaderCounters,
    /// Records built rather than sliced from the input (CRI records, joined partials).
    out: Vec<u8>,
    /// Partial container lines per stream (index: [`Stream`]).
    pending: [Pending; 2],
    done: bool,
}

impl<R: Read> RecordReader<R> {
    /// A reader over `inner`, which may be gzip-compressed. Nothing is read until the first
    /// call to [`next_record`](Self::next_record).
    pub fn new(inner: R, format: InputFormat, opts: ReaderOptions) -> Self {
        let max = opts.max_record_bytes.max(1);
        RecordReader {
            lines: LineReader::new(inner, max),
            format,
            opts: ReaderOptions {
                max_record_bytes: max,
                ..opts
            },
            counters: ReaderCounters::default(),
            out: Vec::new(),
            pending: Default::default(),
            done: false,
        }
    }

    /// The next record; None at the end of the input.
    ///
    /// A read error (I/O, corrupt or truncated gzip) is returned once, after every record
    /// decoded before it (including a last line without newline and pending partial lines);
    /// after that, and after the end, this returns None.
    pub fn next_record(&mut self) -> Option<Result<Record<'_>, ReadError>> {
        if self.done {
            return None;
        }
        let emit = loop {
            match self.lines.next_line() {
                Some(line) => {
                    if let Some(e) = self.process(line) {
                        break e;
                    }
                }
                None => {
                    if let Some(e) = self.flush_pending() {
                        break e;
                    }
                    self.done = true;
                    self.sync_counters();
                    return self.lines.take_error().map(Err);
                }
            }
        };
        self.counters.records += 1;
        self.sync_counters();
        let bytes = match emit.src {
            Src::Buf(a, b) => self.lines.slice(a, b),
            Src::Out => &self.out[..],
        };
        Some(Ok(Record {
            bytes,
            line: emit.line,
            kind: emit.kind,
        }))
    }

    /// What has been read so far.
    pub fn counters(&self) -> &ReaderCounters {
        &self.counters
    }

    /// The input's format: the one requested, or for [`InputFormat::Auto`] the detected one
    /// once the first non-empty line has been read (Auto before, and for an input with no
    /// non-empty line).
    pub fn format(&self) -> InputFormat {
        self.format
    }

    /// Bytes currently allocated for the reader's buffers, to check that memory stays bounded.
    pub fn buffer_capacity(&self) -> usize {
        self.lines.capacity()
            + self.out.capacity()
            + self
                .pending
                .iter()
                .map(|p| p.msg.capacity() + p.time.capacity() + p.stream.capacity())
                .sum::<usize>()
    }

    fn sync_counters(&mut self) {
        self.counters.lines = self.lines.lines;
        self.counters.bytes_in = self.lines.bytes_in;
    }

    /// Turns one physical line into at most one record.
    fn process(&mut self, line: Line) -> Option<Emit> {
        let mut end = line.end;
        let raw = self.lines.get(&line);
        if !line.truncated && raw.last() == Some(&b'\r') {
            end -= 1;
        }
        let start = line.start;
        let bytes = &raw[..end - start];
        if bytes.is_empty() {
            self.counters.empty += 1;
            return None;
        }
        if self.format == InputFormat::Auto {
            let (rest, eof) = self.lines.lookahead();
            self.format = detect::detect(bytes, rest, eof, self.opts.detect_lines.max(1));
        }
        let max = self.opts.max_record_bytes;
        let c = &mut self.counters;
        let text = Emit {
            src: Src::Buf(start, end),
            line: line.number,
            kind: RecordKind::Text,
        };
        let json = Emit {
            kind: RecordKind::Json,
            ..text
        };
        let passed = |c: &mut ReaderCounters, e: Emit| {
            c.truncated += u64::from(line.truncated);
            Some(e)
        };
        // Structured formats have no use for blank lines; text keeps them as data.
        if self.format != InputFormat::Text && bytes.iter().all(u8::is_ascii_whitespace) {
            c.empty += 1;
            return None;
        }
        match self.format {
            InputFormat::Text | InputFormat::Auto => passed(c, text),
            InputFormat::Json => {
                let ws = bytes.iter().take_while(|b| b.is_ascii_whitespace()).count();
                match bytes[ws] {
                    b'{' => passed(c, json),
                    b'[' => match fluentbit::inner_object(bytes) {
                        Some((a, b)) => passed(
                            c,
                            Emit {
                                src: Src::Buf(start + a, start + b),
                                ..json
                            },
                        ),
                        None => {
                            c.malformed += 1;
                            passed(c, text)
                        }
                    },
                    _ => {
                        c.malformed += 1;
                        passed(c, text)
                    }
                }
            }
            InputFormat::Cri => match cri::parse(bytes) {
                None => {
                    c.malformed += 1;
                    passed(c, text)
                }
                Some(l) => {
                    let slot = &mut self.pending[l.stream as usize];
                    if l.partial || slot.active {
                        c.joined_lines += 1;
                        if !slot.active {
                            slot.begin(line.number, l.time, b"");
                        }
                        slot.append(l.msg, max, utf8_floor);
                        slot.truncated |= line.truncated;
                        if l.partial {
                            return None;
                        }
                        return Some(self.emit_pending(l.stream as usize));
                    }
                    self.out.clear();
                    c.invalid_utf8 +=
                        u64::from(cri::write_record(&mut self.out, l.time, l.stream, l.msg));
                    passed(
                        c,
                        Emit {
                            src: Src::Out,
                            ..json
                        },
                    )
                }
            },
            InputFormat::Docker => match docker::parse(bytes) {
                None => {
                    c.malformed += 1;
                    passed(c, text)
                }
                Some(d) => {
                    let span =
                        |s: Option<(usize, usize)>| s.map_or(&b""[..], |(a, b)| &bytes[a..b]);
                    let stream = span(d.stream);
                    let idx = if stream == b"stderr" {
                        Stream::Stderr
                    } else {
                        Stream::Stdout
                    } as usize;
                    let partial = d.is_partial(bytes);
                    let slot = &mut self.pending[idx];
                    if !partial && !slot.active {
                        return passed(c, json);
                    }
                    c.joined_lines += 1;
                    if !slot.active {
                        slot.begin(line.number, span(d.time), stream);
                    }
                    slot.append(&bytes[d.log.0..d.log.1], max, escaped_floor);
                    slot.truncated |= line.truncated;
                    if partial {
                        return None;
                    }
                    Some(self.emit_pending(idx))
                }
            },
        }
    }

    /// Builds the record for the pending partial line in slot `idx` and clears the slot.
    fn emit_pending(&mut self, idx: usize) -> Emit {
        let p = &mut self.pending[idx];
        p.active = false;
        self.out.clear();
        if self.format == InputFormat::Cri {
            let stream = if idx == Stream::Stderr as usize {
                Stream::Stderr
            } else {
                Stream::Stdout
            };
            let bad = cri::write_record(&mut self.out, &p.time, stream, &p.msg);
            self.counters.invalid_utf8 += u64::from(bad);
        } else {
            docker::write_record(&mut self.out, &p.msg, &p.stream, &p.time);
        }
        self.counters.truncated += u64::from(p.truncated);
        self.counters.joined_records += 1;
        Emit {
            src: Src::Out,
            line: p.line,
            kind: RecordKind::Json,
        }
    }

    /// At the end of the input: the oldest partial line still pending, as its own record.
    fn flush_pending(&mut self) -> Option<Emit> {
        let idx = (0..self.pending.len())
            .filter(|&i| self.pending[i].active)
            .min_by_key(|&i| self.pending[i].line)?;
        self.counters.unterminated_partial += 1;
        Some(self.emit_pending(idx))
    }
}
