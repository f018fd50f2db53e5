//! One archive line: a record with its outcome, as one line of JSON.
//!
//! ```text
//! {"id":"…","time":1795341600123,"reason":"dropped","rule":"drop-probes","action":"drop","priority":"low","origin":"…","position":4096,"record":…,"message":"…"}
//! ```
//!
//! | member | |
//! |---|---|
//! | `id` | 32 hex digits: the record's stable id (below) |
//! | `time` | the record's own time (`time`, `@timestamp` or `timestamp`, as summaries read it), else the front-end's, in epoch milliseconds |
//! | `reason` | `dropped`, `sampled`, `shed`, `blank` or `kept` |
//! | `rule` | the rule that decided, `default` for the default action |
//! | `action` | what the rules decided: `keep` or `drop` (a shed record was kept by the rules) |
//! | `priority` | the priority of a record the rules kept (shed, blank, kept) |
//! | `origin`, `position` | where the record came from, when the front-end says |
//! | `record` | the record as the rules saw it: a JSON object as it was (its whitespace aside), anything else as a JSON string; a container line given as parts, its JSON text |
//! | `message` | only for an event whose message is sent alone (CloudWatch Logs): the message |
//!
//! The id is the 128-bit xxh3 hash of the origin, the position and the `record` (and `message`) as
//! written: content-derived, so the same record from the same place always gets the same id — an
//! archive written twice over the same input holds each id twice, and a replay sends it once — while
//! two equal lines at two positions of a file are two records.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use xxhash_rust::xxh3::xxh3_128;

use super::{Origin, Reason};
use crate::primitives::{Action, Decision, RecordKind};
use crate::record::Record;
use crate::record::json::push_json_str;

/// What one line says.
pub(crate) struct Fields<'a> {
    pub record: Record<'a>,
    pub kind: RecordKind,
    pub time_ms: i64,
    pub reason: Reason,
    pub rule: &'a str,
    pub decision: Decision,
    pub origin: &'a Origin<'a>,
}

/// A record's stable id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub u128);

impl EventId {
    /// The id as written: 32 lower-case hex digits.
    pub fn hex(self) -> String {
        format!("{:032x}", self.0)
    }

    /// Parses 32 hex digits.
    pub fn parse(s: &str) -> Option<EventId> {
        (s.len() == 32).then(|| u128::from_str_radix(s, 16).ok().map(EventId)).flatten()
    }
}

/// Writes the line of `f` (with its newline) to `out`, and returns its id. `hashed` is scratch space.
pub(crate) fn write(out: &mut Vec<u8>, hashed: &mut Vec<u8>, f: &Fields<'_>) -> EventId {
    // The record is written first, at the end of the line, then hashed, then the head is put before it:
    // one pass over the record's bytes to write it, one to hash it.
    out.extend_from_slice(b"{\"id\":\"");
    let id_at = out.len();
    out.extend_from_slice(&[b'0'; 32]);
    out.extend_from_slice(b"\",\"time\":");
    push_int(out, f.time_ms);
    out.extend_from_slice(b",\"reason\":\"");
    out.extend_from_slice(f.reason.name().as_bytes());
    out.extend_from_slice(b"\",\"rule\":");
    push_json_str(out, f.rule.as_bytes());
    out.extend_from_slice(b",\"action\":\"");
    out.extend_from_slice(f.decision.action.name().as_bytes());
    out.push(b'"');
    if f.decision.action == Action::Keep {
        out.extend_from_slice(b",\"priority\":\"");
        out.extend_from_slice(f.decision.priority.name().as_bytes());
        out.push(b'"');
    }
    if !f.origin.source.is_empty() {
        out.extend_from_slice(b",\"origin\":");
        push_json_str(out, f.origin.source.as_bytes());
    }
    if let Some(p) = f.origin.position {
        out.extend_from_slice(b",\"position\":");
        push_uint(out, p);
    }
    out.extend_from_slice(b",\"record\":");
    let record_at = out.len();
    let (seen, message) = match f.record {
        Record::Line(l) => (l, None),
        Record::Event { record, message } => (record, Some(message)),
        Record::Parts(p) => {
            p.write_json(out);
            (&[][..], None)
        }
    };
    if !matches!(f.record, Record::Parts(_)) {
        if f.kind == RecordKind::Json {
            // A JSON object as it is: newlines can only be whitespace between its tokens (a string
            // holds them escaped), and a line must not have any.
            let at = out.len();
            out.extend_from_slice(seen.trim_ascii());
            for b in &mut out[at..] {
                if matches!(*b, b'\n' | b'\r') {
                    *b = b' ';
                }
            }
        } else {
            push_json_str(out, seen);
        }
    }
    if let Some(m) = message {
        out.extend_from_slice(b",\"message\":");
        push_json_str(out, m);
    }
    // PERF: the hashed bytes gathered in one buffer and hashed at once, which is the same hash as
    // feeding them piece by piece to a streaming hasher, at a fraction of its cost.
    hashed.clear();
    hashed.extend_from_slice(&(f.origin.source.len() as u64).to_le_bytes());
    hashed.extend_from_slice(f.origin.source.as_bytes());
    match f.origin.position {
        Some(p) => {
            hashed.push(1);
            hashed.extend_from_slice(&p.to_le_bytes());
        }
        None => hashed.push(0),
    }
    hashed.extend_from_slice(&out[record_at..]);
    let id = EventId(xxh3_128(hashed));
    out.extend_from_slice(b"}\n");
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (k, d) in out[id_at..id_at + 32].iter_mut().enumerate() {
        *d = HEX[((id.0 >> (124 - 4 * k)) & 0xf) as usize];
    }
    id
}

/// Writes `n` in decimal (what `write!` writes, without its formatting machinery: two numbers a line).
fn push_int(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    push_uint(out, n.unsigned_abs());
}

/// Writes `n` in decimal.
fn push_uint(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// One archive line read back (see the module docs).
#[derive(Clone, Debug, Deserialize)]
pub struct ArchivedLine<'a> {
    /// The stable id.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// Epoch milliseconds.
    pub time: i64,
    /// Why it is in the archive.
    #[serde(borrow)]
    pub reason: Cow<'a, str>,
    /// The deciding rule.
    #[serde(borrow)]
    pub rule: Cow<'a, str>,
    /// `keep` or `drop`.
    #[serde(borrow)]
    pub action: Cow<'a, str>,
    /// For kept records.
    #[serde(borrow, default)]
    pub priority: Option<Cow<'a, str>>,
    /// Where it came from.
    #[serde(borrow, default)]
    pub origin: Option<Cow<'a, str>>,
    /// Its position there.
    #[serde(default)]
    pub position: Option<u64>,
    /// The record as the rules saw it: an object, or a string.
    #[serde(borrow)]
    pub record: &'a RawValue,
    /// An event's message.
    #[serde(borrow, default)]
    pub message: Option<Cow<'a, str>>,
}

impl<'a> ArchivedLine<'a> {
    /// Parses one line (without its newline).
    pub fn parse(line: &'a [u8]) -> Result<ArchivedLine<'a>, serde_json::Error> {
        serde_json::from_slice(line)
    }

    /// The record's bytes as the rules saw them: an object's JSON text, a text line's text.
    pub fn record_bytes(&self) -> Cow<'a, [u8]> {
        let raw = self.record.get();
        if raw.starts_with('"') {
            match serde_json::from_str::<Cow<'a, str>>(raw) {
                Ok(Cow::Borrowed(s)) => Cow::Borrowed(s.as_bytes()),
                Ok(Cow::Owned(s)) => Cow::Owned(s.into_bytes()),
                Err(_) => Cow::Borrowed(raw.as_bytes()),
            }
        } else {
            Cow::Borrowed(raw.as_bytes())
        }
    }

    /// The id, parsed.
    pub fn event_id(&self) -> Option<EventId> {
        EventId::parse(&self.id)
    }

    /// The reason, parsed.
    pub fn reason(&self) -> Option<Reason> {
        Reason::from_name(&self.reason)
    }
}
