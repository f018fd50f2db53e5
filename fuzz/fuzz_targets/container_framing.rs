//! CRI and Docker json-file framing with partial-line joining: `container::Joiner` (the forwarder's)
//! and `RecordReader` (the CLI's), on the same lines.
//!
//! The input is structured (`arbitrary`): a format, a cap, and lines that are either well-formed CRI /
//! Docker lines built from fuzzed parts (stream, partial or final, message, time, escaping style) or raw
//! bytes. An input starting with `#` is read as text instead, so that real container log files can seed
//! the corpus (fuzz/seed.sh): `#C<cap>` or `#D<cap>` on the first line, then the file's lines, all raw. The lines are joined with `\n` for the reader, and handed one by one to the joiner exactly as
//! the reader's line splitter would hand them over (cut at the cap, `cut` set; blank lines skipped).
//!
//! Asserts:
//! - neither panics;
//! - no message is larger than the cap: a CRI message's text is at most `cap` bytes (escaped, at most
//!   `6 * cap`: U+FFFD for invalid bytes, `\u00XX` for control characters), a Docker message's escaped
//!   text at most `cap`; a malformed line's text at most `cap` bytes;
//! - every message's escaped text is valid JSON string content (for Docker: whenever every part's was);
//! - the reader's records are bounded the same way: text records at most `cap` bytes, built records at
//!   most the capped message plus the envelope (whose time and stream come from a line, at most `cap`);
//!   every CRI record it builds is valid JSON;
//! - a message's `pending_since` is what `Joiner::pending_since` says after it, and never later than
//!   its own line;
//! - with no line cut, a message not marked truncated holds exactly the concatenation of its parts
//!   (same stream, first part's time and offset), and a truncated one a prefix of it;
//! - for CRI, the joiner and the reader agree record for record: same number of records, same
//!   malformed lines, and each joined message, written as the reader writes a CRI record, is byte for
//!   byte the reader's record.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use logtrim_formats::container::{ContainerFormat, Joiner, Log, Stream};
use logtrim_formats::{InputFormat, ReaderOptions, RecordKind, RecordReader};

#[derive(Arbitrary, Debug)]
struct Input {
    docker: bool,
    /// The cap is `1 + cap % 300`: small, so that joining and cutting happen all the time.
    cap: u16,
    lines: Vec<LineSpec>,
}

#[derive(Arbitrary, Debug)]
enum LineSpec {
    /// Any bytes (newlines become spaces).
    Raw(Vec<u8>),
    Cri {
        time: u8,
        stderr: bool,
        partial: bool,
        /// A tag with more `:`-separated fields (`P:x`), as kubelet allows.
        tag_suffix: bool,
        msg: Vec<u8>,
    },
    Docker {
        time: u8,
        stderr: bool,
        partial: bool,
        /// 0: serde_json's escaping; 1: every non-ASCII character as `\u` escapes (surrogate pairs
        /// above U+FFFF), `/` as `\/`; 2: as 1, with the final newline as `\u000A`.
        style: u8,
        /// Another member after Docker's own (`attrs` or a Fluent Bit style key).
        extra: u8,
        msg: String,
    },
}

impl Input {
    /// The text form: `#C<cap>\n` or `#D<cap>\n`, then lines.
    fn from_text(text: &[u8]) -> Input {
        let (head, body) = match text.iter().position(|&b| b == b'\n') {
            Some(i) => (&text[..i], &text[i + 1..]),
            None => (text, &b""[..]),
        };
        let docker = head.first() == Some(&b'D');
        let cap = head.get(1..).and_then(|d| std::str::from_utf8(d).ok()).and_then(|d| d.parse::<u16>().ok()).unwrap_or(100);
        let mut lines: Vec<LineSpec> = body.split(|&b| b == b'\n').map(|l| LineSpec::Raw(l.to_vec())).collect();
        if body.ends_with(b"\n") {
            lines.pop();
        }
        Input { docker, cap, lines }
    }
}

const TIMES: [&str; 4] =
    ["2026-11-22T10:00:00.123456789Z", "2026-11-22T10:00:01Z", "2026-11-22T10:00:02.5+00:00", "2026-11-22t10:00:03.000000001z"];

/// A rendered line and, for well-formed ones, what the joiner must see in it.
struct Rendered {
    bytes: Vec<u8>,
    model: Option<Part>,
}

/// One part of a container log line as generated: stream, final or not, the message (raw for CRI,
/// escaped for Docker) and the time as written.
struct Part {
    /// A Docker line (else a CRI one): in a file of the other format it is malformed.
    docker: bool,
    stderr: bool,
    partial: bool,
    msg: Vec<u8>,
    time: Vec<u8>,
}

fn no_newlines(b: &mut [u8]) {
    for x in b.iter_mut() {
        if *x == b'\n' || *x == b'\r' {
            *x = b' ';
        }
    }
}

/// JSON string content for `s`, in one of the escaping styles Docker (Go) or a rewriting tool might use.
fn escape(s: &str, style: u8) -> Vec<u8> {
    if style == 0 {
        let q = serde_json::to_string(s).expect("a string serializes");
        return q.as_bytes()[1..q.len() - 1].to_vec();
    }
    let mut out = Vec::new();
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '/' => out.extend_from_slice(b"\\/"),
            c if c.is_ascii() && c >= ' ' && c != '\x7f' => out.push(c as u8),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.extend_from_slice(format!("\\u{u:04X}").as_bytes());
                }
            }
        }
    }
    out
}

fn render(spec: &LineSpec) -> Rendered {
    match spec {
        LineSpec::Raw(b) => {
            let mut bytes = b.clone();
            no_newlines(&mut bytes);
            Rendered { bytes, model: None }
        }
        LineSpec::Cri { time, stderr, partial, tag_suffix, msg } => {
            let time = TIMES[*time as usize % TIMES.len()].as_bytes().to_vec();
            let mut msg = msg.clone();
            no_newlines(&mut msg);
            let mut bytes = time.clone();
            bytes.extend_from_slice(if *stderr { b" stderr " } else { b" stdout " });
            bytes.extend_from_slice(if *partial { b"P" } else { b"F" });
            if *tag_suffix {
                bytes.extend_from_slice(b":x");
            }
            bytes.push(b' ');
            bytes.extend_from_slice(&msg);
            Rendered { bytes, model: Some(Part { docker: false, stderr: *stderr, partial: *partial, msg, time }) }
        }
        LineSpec::Docker { time, stderr, partial, style, extra, msg } => {
            let time = TIMES[*time as usize % TIMES.len()].as_bytes().to_vec();
            // A message that itself ends in a newline would make a partial line final.
            let text = if *partial { msg.trim_end_matches('\n') } else { msg.as_str() };
            let mut log = escape(text, style % 3);
            if !partial {
                log.extend_from_slice(if style % 3 == 2 { b"\\u000A" } else { b"\\n" });
            }
            let mut bytes = b"{\"log\":\"".to_vec();
            bytes.extend_from_slice(&log);
            bytes.extend_from_slice(if *stderr { b"\",\"stream\":\"stderr\"" } else { b"\",\"stream\":\"stdout\"" });
            bytes.extend_from_slice(b",\"time\":\"");
            bytes.extend_from_slice(&time);
            bytes.push(b'"');
            match extra % 4 {
                1 => bytes.extend_from_slice(b",\"attrs\":{\"tag\":\"x\"}"),
                2 => bytes.extend_from_slice(b",\"kubernetes\":{\"pod_name\":\"p\"}"),
                _ => {}
            }
            bytes.push(b'}');
            Rendered { bytes, model: Some(Part { docker: true, stderr: *stderr, partial: *partial, msg: log, time }) }
        }
    }
}

/// Whether `content` is valid JSON string content (what goes between the quotes).
fn valid_content(content: &[u8]) -> bool {
    let mut q = Vec::with_capacity(content.len() + 2);
    q.push(b'"');
    q.extend_from_slice(content);
    q.push(b'"');
    serde_json::from_slice::<String>(&q).is_ok()
}

/// The record the reader writes for a CRI message (`cri::write_record`'s shape).
fn cri_record(time: &[u8], stream: Stream, log: &Log<'_>) -> Vec<u8> {
    let mut out = b"{\"time\":\"".to_vec();
    out.extend_from_slice(time);
    out.extend_from_slice(b"\",\"stream\":\"");
    out.extend_from_slice(stream.name().as_bytes());
    out.extend_from_slice(b"\",\"log\":\"");
    log.escape_into(&mut out);
    out.extend_from_slice(b"\"}");
    out
}

/// What the joiner returned, owned, for comparing with the reader afterwards.
struct Got {
    malformed: bool,
    record: Vec<u8>,
}

/// A message being joined in the model: the parts' messages so far, the first part's time and offset.
struct Pending {
    msg: Vec<u8>,
    time: Vec<u8>,
    offset: u64,
    /// Every part's Docker content was valid JSON string content.
    valid: bool,
}

fuzz_target!(|data: &[u8]| {
    let (input, cap) = match data.split_first() {
        // The text form gives the cap itself.
        Some((b'#', text)) => {
            let input = Input::from_text(text);
            let cap = usize::from(input.cap).max(1);
            (input, cap)
        }
        _ => match Input::arbitrary_take_rest(Unstructured::new(data)) {
            Ok(input) => {
                let cap = 1 + usize::from(input.cap % 300);
                (input, cap)
            }
            Err(_) => return,
        },
    };
    let format = if input.docker { ContainerFormat::Docker } else { ContainerFormat::Cri };
    let rendered: Vec<Rendered> = input.lines.iter().map(render).collect();
    let any_cut = rendered.iter().any(|r| r.bytes.len() > cap);
    // The model knows the parts of generated lines only; a raw line may parse too, so it turns it off.
    let modelled = !any_cut && rendered.iter().all(|r| r.model.is_some());

    let mut joiner = Joiner::new(format, cap);
    let mut got: Vec<Got> = Vec::new();
    let mut model: [Option<Pending>; 2] = [None, None];
    let mut offset = 0u64;
    for r in &rendered {
        let line_offset = offset;
        offset += r.bytes.len() as u64 + 1;
        let cut = r.bytes.len() > cap;
        let line = &r.bytes[..r.bytes.len().min(cap)];
        // The reader skips blank lines before framing; so does this feed.
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // The model's expectation for this line, decided before the joiner is asked.
        let mut want: Option<(Pending, bool)> = None;
        let mut want_malformed = false;
        if modelled && r.model.as_ref().is_some_and(|p| p.docker != input.docker) {
            want_malformed = true;
        } else if modelled && let Some(p) = &r.model {
            let slot = &mut model[usize::from(p.stderr)];
            let pending = slot.get_or_insert_with(|| Pending { msg: Vec::new(), time: p.time.clone(), offset: line_offset, valid: true });
            pending.msg.extend_from_slice(&p.msg);
            pending.valid &= format == ContainerFormat::Cri || valid_content(&p.msg);
            if !p.partial {
                want = slot.take().map(|w| (w, p.stderr));
            }
        }
        let m = joiner.push(line, line_offset, cut);
        let Some(m) = m else {
            assert!(want.is_none() && !want_malformed, "a final part or a malformed line gave no message");
            continue;
        };
        if want_malformed {
            assert!(m.malformed, "a line of the other format was not called malformed");
        }
        let escaped = m.log.escaped().into_owned();
        assert!(valid_content(&escaped) || (format == ContainerFormat::Docker && !m.malformed), "escaped text is not JSON string content: {escaped:?}");
        match (format, m.malformed, m.log) {
            (_, _, Log::Text(t)) => assert!(t.len() <= cap, "message of {} bytes over the cap of {cap}", t.len()),
            (ContainerFormat::Cri, _, Log::Escaped(e)) => assert!(e.len() <= 6 * cap, "escaped CRI message of {} bytes over 6 × {cap}", e.len()),
            (ContainerFormat::Docker, true, Log::Escaped(e)) => assert!(e.len() <= 6 * cap, "escaped malformed line of {} bytes over 6 × {cap}", e.len()),
            (ContainerFormat::Docker, false, Log::Escaped(e)) => assert!(e.len() <= cap, "Docker message of {} bytes over the cap of {cap}", e.len()),
        }
        assert!(m.first_offset <= line_offset, "a message starts after the line that completed it");
        if let Some((w, stderr)) = &want {
            assert!(!m.malformed, "a well-formed line was called malformed: {:?}", String::from_utf8_lossy(line));
            assert_eq!(m.stream == Stream::Stderr, *stderr, "wrong stream");
            assert_eq!(m.time, &w.time[..], "not the first part's time");
            assert_eq!(m.first_offset, w.offset, "not the first part's offset");
            let whole = match format {
                ContainerFormat::Cri => {
                    let mut e = Vec::new();
                    logtrim_core::record::json::escape_into(&mut e, &w.msg);
                    e
                }
                ContainerFormat::Docker => w.msg.clone(),
            };
            if m.truncated {
                if let Log::Text(t) = m.log {
                    assert!(w.msg.starts_with(t.as_bytes()), "a truncated message is not a prefix of its parts");
                } else if format == ContainerFormat::Docker {
                    assert!(whole.starts_with(&escaped), "a truncated message is not a prefix of its parts");
                }
                assert!(w.msg.len() > cap, "a message within the cap was marked truncated");
            } else {
                assert_eq!(escaped, whole, "the message is not its parts joined");
            }
            if format == ContainerFormat::Docker && w.valid {
                assert!(valid_content(&escaped), "joining valid parts gave invalid JSON string content: {escaped:?}");
            }
        } else if modelled && !want_malformed {
            // Every line is a generated one: a partial part completes nothing, a final one is expected.
            panic!("a message the model did not expect");
        }
        let record = match format {
            ContainerFormat::Cri if !m.malformed => cri_record(m.time, m.stream, &m.log),
            _ => Vec::new(),
        };
        let (malformed, since) = (m.malformed, m.pending_since);
        assert!(since.is_none_or(|s| s <= line_offset), "pending_since after the current line");
        got.push(Got { malformed, record });
        assert_eq!(since, joiner.pending_since(), "Message::pending_since differs from Joiner::pending_since");
    }
    while let Some(m) = joiner.flush() {
        assert!(m.unterminated, "a flushed message is not marked unterminated");
        let escaped = m.log.escaped().into_owned();
        match m.log {
            Log::Text(t) => assert!(t.len() <= cap, "flushed message of {} bytes over the cap of {cap}", t.len()),
            Log::Escaped(e) if format == ContainerFormat::Docker => assert!(e.len() <= cap, "flushed Docker message over the cap"),
            Log::Escaped(e) => assert!(e.len() <= 6 * cap && valid_content(&escaped), "flushed CRI message over 6 × cap or not JSON"),
        }
        let record = match format {
            ContainerFormat::Cri => cri_record(m.time, m.stream, &m.log),
            ContainerFormat::Docker => Vec::new(),
        };
        got.push(Got { malformed: false, record });
    }

    // The reader on the same bytes. It sniffs gzip from the first two bytes; such inputs are not lines.
    let mut text = Vec::new();
    for r in &rendered {
        text.extend_from_slice(&r.bytes);
        text.push(b'\n');
    }
    if text.starts_with(&[0x1f, 0x8b]) {
        return;
    }
    let reader_format = if input.docker { InputFormat::Docker } else { InputFormat::Cri };
    let mut reader = RecordReader::new(&text[..], reader_format, ReaderOptions { max_record_bytes: cap, detect_lines: 16 });
    let mut n = 0;
    while let Some(rec) = reader.next_record() {
        let rec = rec.expect("reading from a slice cannot fail");
        match rec.kind {
            RecordKind::Text => assert!(rec.bytes.len() <= cap, "text record of {} bytes over the cap of {cap}", rec.bytes.len()),
            RecordKind::Json => {
                let bound = match format {
                    // Message (escaped, 6 × cap at most), time from a line, envelope.
                    ContainerFormat::Cri => 7 * cap + 64,
                    // Message, stream and time (each from a line), envelope.
                    ContainerFormat::Docker => 3 * cap + 64,
                };
                assert!(rec.bytes.len() <= bound, "record of {} bytes over {bound} (cap {cap})", rec.bytes.len());
                if format == ContainerFormat::Cri {
                    assert!(serde_json::from_slice::<serde_json::Value>(rec.bytes).is_ok(), "CRI record is not JSON: {:?}", String::from_utf8_lossy(rec.bytes));
                }
            }
        }
        if format == ContainerFormat::Cri {
            let g = got.get(n).unwrap_or_else(|| panic!("the reader has more records than the joiner ({})", got.len()));
            assert_eq!(g.malformed, rec.kind == RecordKind::Text, "record {n}: malformed for one, not the other");
            if !g.malformed {
                assert_eq!(
                    String::from_utf8_lossy(&g.record),
                    String::from_utf8_lossy(rec.bytes),
                    "record {n}: the joiner's message and the reader's record differ"
                );
            }
        }
        n += 1;
    }
    if format == ContainerFormat::Cri {
        assert_eq!(n, got.len(), "the reader and the joiner give different numbers of records");
    }
});
