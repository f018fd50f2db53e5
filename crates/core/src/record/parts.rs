//! A record given as its parts, the way a container log line arrives: its time, stream and message,
//! then the members its file adds (the container's metadata), which are the same for every line of the
//! file and so are prepared once, as [`Members`].
//!
//! [`crate::Decider::decide`] decides such a record ([`crate::Record::Parts`]) exactly as it decides the
//! JSON text [`Parts::write_json`] writes for it, without writing that text: the rules read the message as
//! it is (not escaped into JSON only to be unescaped again), and the metadata once per file instead of once
//! per line. The JSON of a record is written only if it is kept ([`crate::Decided::write_kept`], trimmed as
//! that text would be).
//!
//! ```
//! use logtrim_core::record::parts::{Members, Parts};
//! use logtrim_core::{Action, RuleSet};
//!
//! let rules = RuleSet::from_yaml("r.yaml", "rules:\n  - name: kube-system\n    when: kubernetes.namespace_name == \"kube-system\" and log contains \"ok\"\n    action: drop\n")?;
//! let mut decider = rules.decider();
//! let members = Members::new(br#"{"kubernetes":{"namespace_name":"kube-system","pod_name":"dns-1"}}"#)?;
//! let line = Parts { time: Some("2026-11-22T10:00:00.000Z"), stream: Some("stdout"), log: "probe \"ok\"", members: &members };
//! assert_eq!(decider.decide(&line).action(), Action::Drop);
//!
//! let mut json = Vec::new();
//! line.write_json(&mut json);
//! assert_eq!(json, br#"{"time":"2026-11-22T10:00:00.000Z","stream":"stdout","log":"probe \"ok\"","kubernetes":{"namespace_name":"kube-system","pod_name":"dns-1"}}"#);
//! assert_eq!(decider.decide(&json).action(), Action::Drop);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use super::json::{escape_into, escaped_len};

/// The keys a record's own parts use; [`Members`] may not repeat them.
pub const PART_KEYS: [&str; 3] = ["time", "stream", "log"];

/// Why a [`Members`] object was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MembersError {
    /// Not a JSON object serde_json accepts.
    #[error("not a JSON object: {0}")]
    NotAnObject(String),
    /// A key the record's parts write themselves.
    #[error("the key {0:?} is a record part (time, stream, log), not a member")]
    PartKey(String),
}

/// The members that follow a record's parts: a JSON object, checked once, with an identity that lets a
/// [`crate::Decider`] keep what it read of them from one record to the next. A clone shares the identity
/// (and the contents).
#[derive(Clone, Debug)]
pub struct Members {
    /// The object as given, without surrounding whitespace: what the rules read.
    object: Box<[u8]>,
    /// The same members as they follow `log` in the record: `,"k":v…}`, or `}` when there are none.
    tail: Box<[u8]>,
    id: u64,
}

/// Identities of [`Members`]: unique in the process, so a reused allocation is never mistaken for the
/// members that lived there before.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Members {
    /// Checks `object` (a JSON object with none of [`PART_KEYS`]) and prepares it.
    pub fn new(object: &[u8]) -> Result<Members, MembersError> {
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(object).map_err(|e| MembersError::NotAnObject(e.to_string()))?;
        if let Some(k) = map.keys().find(|k| PART_KEYS.contains(&k.as_str())) {
            return Err(MembersError::PartKey(k.clone()));
        }
        let object = trim_ws(object);
        // An object serde_json accepts starts with `{` and ends with `}`.
        let inner = trim_ws(&object[1..object.len() - 1]);
        let mut tail = Vec::with_capacity(inner.len() + 2);
        if !inner.is_empty() {
            tail.push(b',');
            tail.extend_from_slice(inner);
        }
        tail.push(b'}');
        Ok(Members { object: object.into(), tail: tail.into(), id: NEXT_ID.fetch_add(1, Ordering::Relaxed) })
    }

    /// No members.
    pub fn empty() -> Members {
        Members::new(b"{}").unwrap_or_else(|_| unreachable!("`{{}}` is an object"))
    }

    /// The object, as the rules read it.
    pub(crate) fn object(&self) -> &[u8] {
        &self.object
    }

    /// What follows the record's parts in its JSON text: `,"k":v…}` or `}`.
    pub fn tail(&self) -> &[u8] {
        &self.tail
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }
}

impl Default for Members {
    fn default() -> Members {
        Members::empty()
    }
}

fn trim_ws(b: &[u8]) -> &[u8] {
    let is_ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r');
    let start = b.iter().position(|c| !is_ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is_ws(c)).map_or(start, |e| e + 1);
    &b[start..end]
}

/// One record as its parts: `{"time":…,"stream":…,"log":…}` followed by `members` (time and stream
/// only when given), each string as it is, not escaped.
#[derive(Clone, Copy, Debug)]
pub struct Parts<'a> {
    /// `time`, as written in the log file.
    pub time: Option<&'a str>,
    /// `stream` (`stdout`, `stderr`).
    pub stream: Option<&'a str>,
    /// `log`: the message.
    pub log: &'a str,
    /// The members that follow.
    pub members: &'a Members,
}

impl Parts<'_> {
    /// Appends the record's JSON text: `{"time":"…","stream":"…","log":"…"` and the members.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        self.write_head(out);
        out.extend_from_slice(&self.members.tail);
    }

    /// Appends the record's JSON text up to the members: `{"time":"…","stream":"…","log":"…"`.
    pub(crate) fn write_head(&self, out: &mut Vec<u8>) {
        out.reserve(self.log.len() + 64 + self.members.tail.len());
        out.push(b'{');
        for (key, v) in [(&b"\"time\":\""[..], self.time), (b"\"stream\":\"", self.stream)] {
            if let Some(v) = v {
                out.extend_from_slice(key);
                escape_into(out, v.as_bytes());
                out.extend_from_slice(b"\",");
            }
        }
        out.extend_from_slice(b"\"log\":\"");
        escape_into(out, self.log.as_bytes());
        out.push(b'"');
    }

    /// The length of [`Parts::write_json`]'s text, without writing it.
    pub fn json_len(&self) -> usize {
        let part = |key: &str, v: Option<&str>| v.map_or(0, |v| key.len() + 6 + escaped_len(v.as_bytes()));
        1 + part("time", self.time) + part("stream", self.stream) + 8 + escaped_len(self.log.as_bytes()) + self.members.tail.len()
    }

    /// Whether the parts are those of the shape the trimming templates are made for: time and stream given.
    pub(crate) fn is_full(&self) -> bool {
        self.time.is_some() && self.stream.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_checked_and_follow_the_parts() {
        assert!(matches!(Members::new(b"[1]"), Err(MembersError::NotAnObject(_))));
        assert!(matches!(Members::new(b"{\"a\":"), Err(MembersError::NotAnObject(_))));
        assert_eq!(Members::new(br#"{"a":1,"log":2}"#).unwrap_err(), MembersError::PartKey("log".into()));
        assert_eq!(Members::new(b" { } ").unwrap().tail(), b"}");
        assert_eq!(Members::new(b"{ \"a\" : [1] }\n").unwrap().tail(), br#","a" : [1]}"#);
        assert_ne!(Members::empty().id(), Members::empty().id());
    }

    #[test]
    fn json_text_and_its_length() {
        let m = Members::new(r#"{"k":{"n":"é\"x"}}"#.as_bytes()).unwrap();
        for (time, stream, log) in [
            (Some("t\"1"), Some("stderr"), "a \"quoted\" \\ line\n\t\u{1}é😀"),
            (None, None, ""),
            (Some(""), None, "x"),
        ] {
            let p = Parts { time, stream, log, members: &m };
            let mut out = b"prefix".to_vec();
            p.write_json(&mut out);
            let json = &out[6..];
            assert_eq!(json.len(), p.json_len());
            let v: serde_json::Value = serde_json::from_slice(json).unwrap();
            assert_eq!(v["log"], log);
            assert_eq!(v.get("time").and_then(|t| t.as_str()), time);
            assert_eq!(v.get("stream").and_then(|t| t.as_str()), stream);
            assert_eq!(v["k"]["n"], "é\"x");
        }
    }
}
