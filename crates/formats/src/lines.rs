//! Splits the decompressed input into physical lines with bounded memory.
//!
//! Lines are handed out as index ranges into one reusable buffer (so records can borrow it
//! without copies). A line longer than the cap is returned cut at the cap, and the rest of
//! it is then discarded chunk by chunk as it is read: a 100 MB line without a newline costs
//! no more memory than a line of exactly the cap.

use std::io::Read;

use memchr::memchr;

use crate::ReadError;
use crate::gzip::Source;

/// Size of one read; large reads keep syscall and decoder overhead negligible.
pub(crate) const CHUNK: usize = 256 * 1024;
/// Below this much free space at the end of the buffer, move the unread data to the front
/// first rather than issue small reads.
const MIN_READ: usize = 16 * 1024;

/// A physical line: `buf[start..end]` (without the newline).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Line {
    pub start: usize,
    pub end: usize,
    /// 1-based line number.
    pub number: u64,
    /// The line was longer than the cap and has been cut.
    pub truncated: bool,
}

pub(crate) struct LineReader<R> {
    src: Source<R>,
    /// Allocated and zero-initialised up to `buf.len()`; data lives in `start..end`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Where to resume the newline search, so a long line is not rescanned after each read.
    scan: usize,
    eof: bool,
    /// The rest of a cut line is being discarded.
    skipping: bool,
    max: usize,
    error: Option<ReadError>,
    pub lines: u64,
    pub bytes_in: u64,
}

impl<R: Read> LineReader<R> {
    pub(crate) fn new(inner: R, max: usize) -> Self {
        LineReader {
            src: Source::Start(inner),
            buf: vec![0; CHUNK],
            start: 0,
            end: 0,
            scan: 0,
            eof: false,
            skipping: false,
            max: max.max(1),
            error: None,
            lines: 0,
            bytes_in: 0,
        }
    }

    /// The bytes of a line returned by [`next_line`](Self::next_line) (valid until the next call).
    #[inline]
    pub(crate) fn get(&self, line: &Line) -> &[u8] {
        self.slice(line.start, line.end)
    }

    /// `start..end` of the buffer, a range inside a line returned by the last call.
    #[inline]
    pub(crate) fn slice(&self, start: usize, end: usize) -> &[u8] {
        &self.buf[start..end]
    }

    /// Buffered input after the last returned line (for format detection; no read is made).
    pub(crate) fn lookahead(&self) -> (&[u8], bool) {
        (&self.buf[self.start..self.end], self.eof)
    }

    /// Allocated size of the buffer (for memory-bound checks).
    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// The error that ended the input early, once; None after a clean end.
    pub(crate) fn take_error(&mut self) -> Option<ReadError> {
        self.error.take()
    }

    /// The next physical line, or None at the end of the input (or after an error, which
    /// is then available from [`take_error`](Self::take_error)).
    pub(crate) fn next_line(&mut self) -> Option<Line> {
        loop {
            if self.skipping {
                match memchr(b'\n', &self.buf[self.start..self.end]) {
                    Some(i) => {
                        self.start += i + 1;
                        self.scan = self.start;
                        self.skipping = false;
                    }
                    None => {
                        self.start = self.end;
                        self.scan = self.end;
                        if self.eof {
                            self.skipping = false;
                            return None;
                        }
                        self.fill();
                        continue;
                    }
                }
            }
            if let Some(i) = memchr(b'\n', &self.buf[self.scan..self.end]) {
                let nl = self.scan + i;
                let start = self.start;
                self.start = nl + 1;
                self.scan = self.start;
                return Some(self.line(start, nl));
            }
            self.scan = self.end;
            if self.end - self.start > self.max {
                let start = self.start;
                self.start = self.end;
                self.scan = self.end;
                self.skipping = true;
                return Some(self.line(start, self.end));
            }
            if self.eof {
                if self.start == self.end {
                    return None;
                }
                let (start, end) = (self.start, self.end);
                self.start = end;
                return Some(self.line(start, end));
            }
            self.fill();
        }
    }

    fn line(&mut self, start: usize, end: usize) -> Line {
        self.lines += 1;
        let truncated = end - start > self.max;
        let end = if truncated { start + self.max } else { end };
        Line {
            start,
            end,
            number: self.lines,
            truncated,
        }
    }

    /// Reads more input after `end`, making room first; sets `eof` at the end or on error.
    fn fill(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            self.scan = 0;
        } else if self.buf.len() - self.end < MIN_READ {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.scan -= self.start;
                self.start = 0;
            }
            if self.buf.len() - self.end < MIN_READ {
                // Only reached while one line is still within the cap, so the buffer
                // never needs to exceed cap + CHUNK.
                let want = (self.buf.len() * 2)
                    .min(self.max.saturating_add(CHUNK))
                    .max(self.end + MIN_READ);
                // Exact, so that Vec's amortised doubling does not overshoot the bound.
                self.buf.reserve_exact(want - self.buf.len());
                self.buf.resize(want, 0);
            }
        }
        match self.src.read(&mut self.buf[self.end..], self.bytes_in) {
            Ok(0) => self.eof = true,
            Ok(n) => {
                self.end += n;
                self.bytes_in += n as u64;
            }
            Err(e) => {
                self.error = Some(e);
                self.eof = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns at most `step` bytes per read, to exercise every refill path.
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(self.1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn all(input: &[u8], max: usize, step: usize) -> Vec<(Vec<u8>, u64, bool)> {
        let mut r = LineReader::new(Trickle(input, step), max);
        let mut v = Vec::new();
        while let Some(l) = r.next_line() {
            v.push((r.get(&l).to_vec(), l.number, l.truncated));
        }
        assert!(r.take_error().is_none());
        assert_eq!(r.bytes_in, input.len() as u64);
        v
    }

    #[test]
    fn splits_and_truncates() {
        for step in [1, 3, 1 << 20] {
            let v = all(b"ab\n\ncdefgh\nij", 4, step);
            assert_eq!(
                v,
                vec![
                    (b"ab".to_vec(), 1, false),
                    (b"".to_vec(), 2, false),
                    (b"cdef".to_vec(), 3, true),
                    (b"ij".to_vec(), 4, false)
                ]
            );
            assert!(all(b"", 4, step).is_empty());
            assert_eq!(all(b"abcdefgh", 4, step), vec![(b"abcd".to_vec(), 1, true)]);
            assert_eq!(all(b"abcd\n", 4, step), vec![(b"abcd".to_vec(), 1, false)]);
        }
    }
}
