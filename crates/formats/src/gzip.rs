//! The byte source under the line splitter: the raw input, or a gzip decoder over it when
//! the input starts with the gzip magic bytes `1f 8b`.
//!
//! `MultiGzDecoder` is used because `cat a.gz b.gz` (and logrotate's `delaycompress` +
//! concatenation) produce several members in one file; a plain `GzDecoder` would stop
//! silently after the first.

use std::io::{self, Chain, Cursor, ErrorKind, Read};

use flate2::read::MultiGzDecoder;

use crate::ReadError;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Remembers whether the underlying reader failed, so that its I/O errors (which the
/// decoder passes through unchanged) are not reported as corrupt gzip data.
pub(crate) struct Tracked<R> {
    inner: R,
    failed: bool,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.inner.read(buf);
        if matches!(&r, Err(e) if e.kind() != ErrorKind::Interrupted) {
            self.failed = true;
        }
        r
    }
}

type Decoder<R> = MultiGzDecoder<Chain<Cursor<Vec<u8>>, Tracked<R>>>;

/// Where decompressed input bytes come from.
pub(crate) enum Source<R> {
    /// Nothing read yet; compression not known.
    Start(R),
    /// Uncompressed input.
    Plain(R),
    /// Gzip input.
    Gzip(Box<Decoder<R>>),
    /// Only while switching states.
    Taken,
}

impl<R: Read> Source<R> {
    /// Reads decompressed bytes into `dst` (at least 2 bytes long); `Ok(0)` at the end.
    /// `after` is the number of bytes delivered so far, for error messages.
    pub(crate) fn read(&mut self, dst: &mut [u8], after: u64) -> Result<usize, ReadError> {
        debug_assert!(dst.len() >= 2);
        if let Source::Start(_) = self
            && let Some(n) = self.sniff(dst)?
        {
            return Ok(n);
        }
        loop {
            let r = match self {
                Source::Plain(r) => r.read(dst),
                Source::Gzip(d) => d.read(dst),
                Source::Start(_) | Source::Taken => return Ok(0),
            };
            match r {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.classify(e, after)),
            }
        }
    }

    /// Reads the start of the input to choose between plain and gzip. Returns the number
    /// of plain bytes placed in `dst`, or None if the input is gzip (read it next).
    ///
    /// The first read goes straight into `dst` (rather than a 2-byte probe) so that format
    /// detection gets a full buffer of lines to look at.
    fn sniff(&mut self, dst: &mut [u8]) -> Result<Option<usize>, ReadError> {
        let Source::Start(mut inner) = std::mem::replace(self, Source::Taken) else {
            return Ok(Some(0));
        };
        let mut n = 0;
        while n < 2 {
            match inner.read(&mut dst[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    *self = Source::Plain(inner);
                    if n == 0 {
                        return Err(ReadError::Io {
                            after: 0,
                            source: e,
                        });
                    }
                    // Deliver the byte read so far; the next read will report the error again.
                    return Ok(Some(n));
                }
            }
        }
        if n >= 2 && dst[..2] == GZIP_MAGIC {
            let chained = Cursor::new(dst[..n].to_vec()).chain(Tracked {
                inner,
                failed: false,
            });
            *self = Source::Gzip(Box::new(MultiGzDecoder::new(chained)));
            Ok(None)
        } else {
            *self = Source::Plain(inner);
            Ok(Some(n))
        }
    }

    fn classify(&self, e: io::Error, after: u64) -> ReadError {
        match self {
            Source::Gzip(d) if !d.get_ref().get_ref().1.failed => {
                if e.kind() == ErrorKind::UnexpectedEof {
                    ReadError::TruncatedGzip { after }
                } else {
                    ReadError::CorruptGzip { after, source: e }
                }
            }
            _ => ReadError::Io { after, source: e },
        }
    }
}
