//! Container log files one physical line at a time, for tailers that must know where each record
//! starts and ends in the file (to checkpoint it) and cannot hand the file to a [`RecordReader`]
//! because the file never ends.
//!
//! A [`Joiner`] per file takes lines as they are read, with their byte offsets, and returns one
//! [`Message`] per container log line: CRI `P` parts and Docker 16 KiB parts are joined per stream,
//! exactly as [`RecordReader`] joins them. While parts are waiting, [`Joiner::pending_since`] says
//! where the oldest one starts: a checkpoint must not move past it, or a restart would resume in the
//! middle of a message.
//!
//! ```
//! use logtrim_formats::container::{ContainerFormat, Joiner, Log, Stream};
//!
//! let mut j = Joiner::new(ContainerFormat::Cri, 1 << 20);
//! assert!(j.push(b"2026-11-22T10:00:00.5Z stdout P hello ", 0, false).is_none());
//! assert_eq!(j.pending_since(), Some(0));
//! let m = j.push(b"2026-11-22T10:00:00.6Z stdout F \"world\"", 40, false).unwrap();
//! assert_eq!((m.log, m.stream, m.first_offset), (Log::Text("hello \"world\""), Stream::Stdout, 0));
//! assert_eq!(&*m.log.escaped(), br#"hello \"world\""#);
//! assert_eq!(m.time, b"2026-11-22T10:00:00.5Z");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`RecordReader`]: crate::RecordReader

use std::borrow::Cow;

use logtrim_core::record::json::escape_into;

use crate::cri;
use crate::docker;
use crate::escape::{escaped_floor, utf8_floor};

/// The two container runtime log formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerFormat {
    /// CRI (containerd, CRI-O): `<time> <stream> <P|F> <message>`.
    Cri,
    /// Docker `json-file`: `{"log":"..\n","stream":"..","time":".."}`.
    Docker,
}

/// Which output stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout = 0,
    /// Standard error.
    Stderr = 1,
}

impl Stream {
    /// `stdout` or `stderr`.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// The format of one line, or `None` when it is neither CRI nor Docker json-file.
pub fn detect(line: &[u8]) -> Option<ContainerFormat> {
    if cri::parse(line).is_some() {
        return Some(ContainerFormat::Cri);
    }
    docker::parse(line).filter(|d| d.stream.is_some() && d.time.is_some()).map(|_| ContainerFormat::Docker)
}

/// One container log line, reassembled. Borrows the joiner (or the pushed line) until the next call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// The time as written (RFC 3339; of the first part for joined lines); empty for malformed lines.
    pub time: &'a [u8],
    /// The stream.
    pub stream: Stream,
    /// The message: as written for CRI (and for a malformed line, the line), JSON-escaped for Docker,
    /// whose trailing `\n` is kept as in the file (CRI messages have none).
    pub log: Log<'a>,
    /// Byte offset of the first physical line of the message.
    pub first_offset: u64,
    /// The message was cut to the joiner's cap (or its physical line was cut by the caller).
    pub truncated: bool,
    /// The line did not have the file's format: `log` is the whole line, escaped.
    pub malformed: bool,
    /// Invalid UTF-8 in a CRI message was replaced by U+FFFD.
    pub invalid_utf8: bool,
    /// A partial line whose last part never came (returned by [`Joiner::flush`]).
    pub unterminated: bool,
    /// Where the oldest message still waiting for its last part starts, after this one
    /// ([`Joiner::pending_since`], which cannot be called while the message is borrowed).
    pub pending_since: Option<u64>,
}

/// A message's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Log<'a> {
    /// As written, valid UTF-8: a CRI message (or malformed line).
    Text(&'a str),
    /// As JSON string content, without quotes: Docker's `log`, or a CRI message that was not UTF-8,
    /// each invalid sequence replaced by U+FFFD.
    Escaped(&'a [u8]),
}

impl Log<'_> {
    /// Appends the text as JSON string content.
    pub fn escape_into(&self, out: &mut Vec<u8>) {
        match self {
            Log::Text(s) => {
                escape_into(out, s.as_bytes());
            }
            Log::Escaped(b) => out.extend_from_slice(b),
        }
    }

    /// The text as JSON string content.
    pub fn escaped(&self) -> Cow<'_, [u8]> {
        match self {
            Log::Text(_) => {
                let mut out = Vec::new();
                self.escape_into(&mut out);
                Cow::Owned(out)
            }
            Log::Escaped(b) => Cow::Borrowed(b),
        }
    }
}

/// `b` as text if it is UTF-8. PERF: for short ASCII strings (a container runtime's time), checked a
/// word at a time, where `from_utf8` costs about a hundred instructions.
pub fn short_utf8(b: &[u8]) -> Option<&str> {
    if b.is_ascii() {
        // SAFETY: ASCII is UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(b) })
    } else {
        std::str::from_utf8(b).ok()
    }
}

/// `raw` as a [`Log`]: itself when it is UTF-8, else escaped into `out` with invalid sequences replaced.
/// Returns whether any were.
fn raw_log<'a>(raw: &'a [u8], out: &'a mut Vec<u8>) -> (Log<'a>, bool) {
    // PERF: most lines are ASCII, found 16 bytes a step; only the rest from the first other byte needs
    // `from_utf8` (a character starts there, so the whole is UTF-8 if and only if the rest is).
    let ascii = ascii_prefix(raw);
    match std::str::from_utf8(&raw[ascii..]) {
        // SAFETY: `raw[..ascii]` is ASCII and `raw[ascii..]` UTF-8, so `raw` is UTF-8.
        Ok(_) => (Log::Text(unsafe { std::str::from_utf8_unchecked(raw) }), false),
        Err(_) => {
            out.clear();
            let replaced = escape_into(out, raw);
            (Log::Escaped(out), replaced)
        }
    }
}

/// The length of the ASCII prefix of `s`.
fn ascii_prefix(s: &[u8]) -> usize {
    let mut i = 0;
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    while let Some(block) = s.get(i..i + 16) {
        use std::arch::x86_64::{_mm_loadu_si128, _mm_movemask_epi8};
        // SAFETY: `block` has 16 bytes (an unaligned load); SSE2 is guaranteed by the cfg.
        let high = unsafe { _mm_movemask_epi8(_mm_loadu_si128(block.as_ptr().cast())) };
        if high != 0 {
            return i + high.trailing_zeros() as usize;
        }
        i += 16;
    }
    i + s[i..].iter().position(|&b| b >= 0x80).unwrap_or(s.len() - i)
}

#[derive(Default)]
struct Pending {
    active: bool,
    offset: u64,
    time: Vec<u8>,
    msg: Vec<u8>,
    truncated: bool,
}

impl Pending {
    fn begin(&mut self, offset: u64, time: &[u8]) {
        self.active = true;
        self.offset = offset;
        self.time.clear();
        self.time.extend_from_slice(time);
        self.msg.clear();
        self.truncated = false;
    }

    fn append(&mut self, part: &[u8], cap: usize, floor: fn(&[u8], usize) -> usize) {
        append_capped(&mut self.msg, &mut self.truncated, part, cap, floor);
    }
}

/// Appends a part of a partial-line message to `msg`, keeping it within `cap`; `floor` finds a cut point
/// that leaves the message well-formed (a UTF-8 or escape boundary). Once over the cap (`truncated`),
/// later parts only need to be waited out, not stored.
pub(crate) fn append_capped(msg: &mut Vec<u8>, truncated: &mut bool, part: &[u8], cap: usize, floor: fn(&[u8], usize) -> usize) {
    if *truncated {
        return;
    }
    let room = cap.saturating_sub(msg.len());
    if part.len() <= room {
        msg.extend_from_slice(part);
    } else {
        msg.extend_from_slice(&part[..floor(part, room)]);
        *truncated = true;
    }
}

/// Per-file state: partial lines waiting for their last part, and a scratch buffer.
///
/// Memory: the scratch buffer and each stream's pending message are bounded by the cap (an escaped
/// CRI message by up to 6× the cap, for a message of control characters); buffers that grew past
/// 64 KiB are released after use, so a rare long line does not pin memory in every file.
pub struct Joiner {
    format: ContainerFormat,
    cap: usize,
    pending: [Pending; 2],
    out: Vec<u8>,
}

/// Buffers larger than this are given back after the message that needed them.
const KEEP_CAPACITY: usize = 64 * 1024;

impl Joiner {
    /// A joiner for a file of `format` whose messages are cut at `cap` bytes (at least 1).
    pub fn new(format: ContainerFormat, cap: usize) -> Joiner {
        Joiner { format, cap: cap.max(1), pending: Default::default(), out: Vec::new() }
    }

    /// The file's format.
    pub fn format(&self) -> ContainerFormat {
        self.format
    }

    /// Takes one physical line (without its newline or `\r`) that starts at byte `offset` of the file;
    /// `cut` says the caller already cut it. Returns the message it completes, if any.
    pub fn push<'a>(&'a mut self, line: &'a [u8], offset: u64, cut: bool) -> Option<Message<'a>> {
        self.shrink();
        match self.format {
            ContainerFormat::Cri => self.push_cri(line, offset, cut),
            ContainerFormat::Docker => self.push_docker(line, offset, cut),
        }
    }

    fn malformed<'a>(&'a mut self, line: &'a [u8], offset: u64, cut: bool) -> Option<Message<'a>> {
        let pending_since = self.pending_since();
        let end = utf8_floor(line, self.cap);
        let (log, invalid_utf8) = raw_log(&line[..end], &mut self.out);
        Some(Message {
            time: b"",
            stream: Stream::Stdout,
            log,
            first_offset: offset,
            truncated: cut || end < line.len(),
            malformed: true,
            invalid_utf8,
            unterminated: false,
            pending_since,
        })
    }

    fn push_cri<'a>(&'a mut self, line: &'a [u8], offset: u64, cut: bool) -> Option<Message<'a>> {
        let Some(l) = cri::parse(line) else { return self.malformed(line, offset, cut) };
        let idx = l.stream as usize;
        let stream = if idx == 1 { Stream::Stderr } else { Stream::Stdout };
        let slot = &mut self.pending[idx];
        if l.partial || slot.active {
            if !slot.active {
                slot.begin(offset, l.time);
            }
            slot.append(l.msg, self.cap, utf8_floor);
            slot.truncated |= cut;
            if l.partial {
                return None;
            }
            return Some(self.emit(idx, false));
        }
        let pending_since = self.pending_since();
        let end = utf8_floor(l.msg, self.cap);
        let (log, invalid_utf8) = raw_log(&l.msg[..end], &mut self.out);
        Some(Message {
            time: l.time,
            stream,
            log,
            first_offset: offset,
            truncated: cut || end < l.msg.len(),
            malformed: false,
            invalid_utf8,
            unterminated: false,
            pending_since,
        })
    }

    fn push_docker<'a>(&'a mut self, line: &'a [u8], offset: u64, cut: bool) -> Option<Message<'a>> {
        let Some(d) = docker::parse(line) else { return self.malformed(line, offset, cut) };
        let span = |s: Option<(usize, usize)>| s.map_or(&b""[..], |(a, b)| &line[a..b]);
        let idx = if span(d.stream) == b"stderr" { 1 } else { 0 };
        let stream = if idx == 1 { Stream::Stderr } else { Stream::Stdout };
        let partial = d.is_partial(line);
        let log = &line[d.log.0..d.log.1];
        let slot = &mut self.pending[idx];
        if !partial && !slot.active {
            let end = escaped_floor(log, self.cap);
            let pending_since = self.pending[1 - idx].active.then_some(self.pending[1 - idx].offset);
            return Some(Message {
                time: span(d.time),
                stream,
                log: Log::Escaped(&log[..end]),
                first_offset: offset,
                truncated: cut || end < log.len(),
                malformed: false,
                invalid_utf8: false,
                unterminated: false,
                pending_since,
            });
        }
        if !slot.active {
            slot.begin(offset, span(d.time));
        }
        slot.append(log, self.cap, escaped_floor);
        slot.truncated |= cut;
        if partial {
            return None;
        }
        Some(self.emit(idx, false))
    }

    fn emit(&mut self, idx: usize, unterminated: bool) -> Message<'_> {
        let other = &self.pending[1 - idx];
        let pending_since = other.active.then_some(other.offset);
        let p = &mut self.pending[idx];
        p.active = false;
        let (log, invalid_utf8) = match self.format {
            ContainerFormat::Cri => raw_log(&p.msg, &mut self.out),
            ContainerFormat::Docker => (Log::Escaped(&p.msg), false),
        };
        Message {
            time: &p.time,
            stream: if idx == 1 { Stream::Stderr } else { Stream::Stdout },
            log,
            first_offset: p.offset,
            truncated: p.truncated,
            malformed: false,
            invalid_utf8,
            unterminated,
            pending_since,
        }
    }

    /// Where the oldest message still waiting for its last part starts, if any.
    pub fn pending_since(&self) -> Option<u64> {
        self.pending.iter().filter(|p| p.active).map(|p| p.offset).min()
    }

    /// At the end of a file that will not grow again (rotated away, removed): the oldest partial
    /// message still waiting, as it is. Call until it returns `None`.
    pub fn flush(&mut self) -> Option<Message<'_>> {
        self.shrink();
        let idx = (0..2).filter(|&i| self.pending[i].active).min_by_key(|&i| self.pending[i].offset)?;
        Some(self.emit(idx, true))
    }

    /// Forgets partial messages (the file was truncated under us); returns how many were dropped.
    pub fn reset(&mut self) -> usize {
        let n = self.pending.iter().filter(|p| p.active).count();
        for p in &mut self.pending {
            p.active = false;
        }
        n
    }

    fn shrink(&mut self) {
        if self.out.capacity() > KEEP_CAPACITY {
            self.out = Vec::new();
        }
        for p in &mut self.pending {
            if !p.active && p.msg.capacity() > KEEP_CAPACITY {
                p.msg = Vec::new();
            }
        }
    }
}

/// Milliseconds since the Unix epoch of an RFC 3339 time as container runtimes write it
/// (`2026-11-22T10:00:00.123456789Z`, `…+00:00`, fraction optional); `None` for anything else. The
/// core's reading ([`logtrim_core::time::rfc3339_ms`]), so a line's HEC time and its summary interval agree.
pub fn rfc3339_millis(t: &[u8]) -> Option<i64> {
    logtrim_core::time::rfc3339_ms(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(m: Option<Message<'_>>) -> Option<(String, Stream, String, u64, bool, bool)> {
        m.map(|m| {
            (
                String::from_utf8(m.time.to_vec()).unwrap(),
                m.stream,
                String::from_utf8(m.log.escaped().to_vec()).unwrap(),
                m.first_offset,
                m.truncated,
                m.malformed,
            )
        })
    }

    #[test]
    fn cri_joins_per_stream_and_reports_the_oldest_pending_part() {
        let mut j = Joiner::new(ContainerFormat::Cri, 100);
        assert!(j.push(b"2026-01-01T00:00:00Z stdout P a", 0, false).is_none());
        assert!(j.push(b"2026-01-01T00:00:01Z stderr P x", 10, false).is_none());
        assert_eq!(j.pending_since(), Some(0));
        let m = owned(j.push(b"2026-01-01T00:00:02Z stderr F y\t", 20, false)).unwrap();
        assert_eq!(m, ("2026-01-01T00:00:01Z".into(), Stream::Stderr, "xy\\t".into(), 10, false, false));
        let m = j.push(b"2026-01-01T00:00:02Z stderr F z", 25, false).unwrap();
        assert_eq!(m.pending_since, Some(0));
        assert_eq!(j.pending_since(), Some(0));
        let m = owned(j.push(b"2026-01-01T00:00:03Z stdout F b", 30, false)).unwrap();
        assert_eq!(m.2, "ab");
        assert_eq!(j.pending_since(), None);
        let m = owned(j.push(b"not cri \"at all\"", 40, false)).unwrap();
        assert_eq!((m.2.as_str(), m.5), ("not cri \\\"at all\\\"", true));
    }

    #[test]
    fn caps_messages_and_flushes_unterminated_parts() {
        let mut j = Joiner::new(ContainerFormat::Cri, 4);
        let m = owned(j.push(b"2026-01-01T00:00:00Z stdout F abcdef", 0, false)).unwrap();
        assert_eq!((m.2.as_str(), m.4), ("abcd", true));
        assert!(j.push(b"2026-01-01T00:00:00Z stdout P abc", 0, false).is_none());
        assert!(j.push(b"2026-01-01T00:00:00Z stdout P def", 0, false).is_none());
        let m = j.flush().unwrap();
        assert_eq!((m.log, m.truncated, m.unterminated), (Log::Text("abcd"), true, true));
        assert!(j.flush().is_none());
        assert!(j.push(b"2026-01-01T00:00:00Z stdout P abc", 0, false).is_none());
        assert_eq!(j.reset(), 1);
        assert_eq!(j.pending_since(), None);
    }

    #[test]
    fn docker_lines_pass_through_and_parts_join() {
        let mut j = Joiner::new(ContainerFormat::Docker, 100);
        let l = br#"{"log":"one \"q\"\n","stream":"stdout","time":"2019-01-01T11:11:11.111Z"}"#;
        let m = owned(j.push(l, 0, false)).unwrap();
        assert_eq!(m, ("2019-01-01T11:11:11.111Z".into(), Stream::Stdout, "one \\\"q\\\"\\n".into(), 0, false, false));
        assert!(j.push(br#"{"log":"par","stream":"stderr","time":"t1"}"#, 5, false).is_none());
        let m = owned(j.push(br#"{"log":"t\n","stream":"stderr","time":"t2"}"#, 9, false)).unwrap();
        assert_eq!((m.0.as_str(), m.1, m.2.as_str(), m.3), ("t1", Stream::Stderr, "part\\n", 5));
        assert_eq!(detect(l), Some(ContainerFormat::Docker));
        assert_eq!(detect(b"2026-01-01T00:00:00Z stdout F x"), Some(ContainerFormat::Cri));
        assert_eq!(detect(br#"{"log":"x"}"#), None);
    }

    #[test]
    fn ascii_prefixes() {
        for n in 0..40 {
            let mut s = vec![b'a'; n];
            assert_eq!(ascii_prefix(&s), n);
            for at in 0..n {
                s[at] = 0xc3;
                assert_eq!(ascii_prefix(&s), at, "{n} {at}");
                s[at] = b'a';
            }
        }
        let mut j = Joiner::new(ContainerFormat::Cri, 100);
        let m = j.push("2026-01-01T00:00:00Z stdout F 0123456789abcdef0123 é ✓".as_bytes(), 0, false).unwrap();
        assert_eq!((m.log, m.invalid_utf8), (Log::Text("0123456789abcdef0123 é ✓"), false));
        let m = j.push(b"2026-01-01T00:00:00Z stdout F 0123456789abcdef0123 \xc3(", 0, false).unwrap();
        assert_eq!((m.log, m.invalid_utf8), (Log::Escaped(br"0123456789abcdef0123 \ufffd("), true));
    }

    #[test]
    fn times() {
        assert_eq!(rfc3339_millis(b"1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_millis(b"2015-06-01T19:50:55.5Z"), Some(1_433_188_255_500));
        assert_eq!(rfc3339_millis(b"2015-06-01T21:50:55.500999999+02:00"), Some(1_433_188_255_500));
        assert_eq!(rfc3339_millis(b"2000-02-29T00:00:00.000000001Z"), Some(951_782_400_000));
        assert_eq!(rfc3339_millis(b"2015-06-01T19:50:55"), None);
        assert_eq!(rfc3339_millis(b"2015-06-01T19:50:55.Z"), None);
        assert_eq!(rfc3339_millis(b"yesterday at noon, roughly"), None);
    }
}
