//! Trimming kept records: remove fields by path or glob, truncate long strings, add the sample rate.
//!
//! A kept record is sent on as its own bytes, so trimming edits those bytes rather than rebuilding the
//! record: one pass over the JSON object finds the members to cut and the strings to shorten, and the
//! output is the untouched byte ranges of the record copied verbatim around those edits. Key order,
//! whitespace, number spelling and escapes of everything else stay exactly as they were, and a record
//! nothing applies to is not copied at all.
//!
//! ```
//! use logtrim_core::run::trim::{TrimPlan, Trimmer};
//!
//! let plan = TrimPlan::new(&["kubernetes.annotations", "kubernetes.labels.pod-template-*"], &[("log", 64)])?;
//! let mut t = Trimmer::default();
//! let rec = br#"{"log":"ok","kubernetes":{"labels":{"app":"web","pod-template-hash":"abc"},"annotations":{"a":"b"}}}"#;
//! assert_eq!(t.apply(rec, Some(&plan), None).unwrap(), br#"{"log":"ok","kubernetes":{"labels":{"app":"web"}}}"#);
//! # Ok::<(), logtrim_core::run::trim::TrimPlanError>(())
//! ```
//!
//! # What is guaranteed
//!
//! The input must be a JSON object serde_json accepts (the [`crate::Decider`] only trims records it read
//! as JSON). The output is then valid JSON and differs from the input only in the members named: a removed
//! member is gone (every occurrence of a duplicated key), a truncated string is a prefix of the original
//! followed by the marker, and the sample rate member is added last at the top level (replacing any member
//! of the same name). Text lines have no fields: only a truncation of `log` applies to them (to the whole
//! line), as rules see a text line as `{"log": "<line>"}`.

use std::io::Write as _;

use memchr::memchr3;

use crate::diag::Pos;
use crate::record::json::{self, push_json_str};

/// A `trim:` section (of the rule set, or of one rule), as loaded.
#[derive(Clone, Debug)]
pub struct TrimSpec {
    /// Where the section is written.
    pub pos: Pos,
    /// Field patterns to remove, as written.
    pub remove: Vec<(String, Pos)>,
    /// Field patterns to truncate, with their limit in bytes (marker included).
    pub truncate: Vec<(String, usize, Pos)>,
}

impl TrimSpec {
    /// Compiles the section (patterns were checked when it was loaded).
    pub fn plan(&self) -> Result<TrimPlan, TrimPlanError> {
        let remove: Vec<&str> = self.remove.iter().map(|(p, _)| p.as_str()).collect();
        let truncate: Vec<(&str, usize)> = self.truncate.iter().map(|(p, n, _)| (p.as_str(), *n)).collect();
        TrimPlan::new(&remove, &truncate)
    }
}

/// The marker that ends a truncated string, before the count of bytes cut.
const MARKER_HEAD: &str = "…[truncated ";
const MARKER_TAIL: &str = " bytes]";

/// The smallest truncation limit: the marker alone takes up to 41 bytes.
pub const MIN_TRUNCATE: usize = 64;

/// One segment of a field pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    /// A key, compared byte for byte with the decoded key.
    Key(Box<[u8]>),
    /// A key with `*` wildcards, each matching any run of characters (including none).
    Glob(Box<[u8]>),
}

impl Segment {
    fn matches(&self, key: &[u8]) -> bool {
        match self {
            Segment::Key(k) => **k == *key,
            Segment::Glob(g) => glob(g, key),
        }
    }
}

/// `*` matches any run of bytes; everything else matches itself.
fn glob(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        match pat.get(p) {
            Some(b'*') => {
                star = Some((p, i));
                p += 1;
            }
            Some(&c) if c == s[i] => {
                p += 1;
                i += 1;
            }
            _ => match star {
                Some((sp, si)) => {
                    p = sp + 1;
                    i = si + 1;
                    star = Some((sp, si + 1));
                }
                None => return false,
            },
        }
    }
    pat[p.min(pat.len())..].iter().all(|&c| c == b'*')
}

/// Why a field pattern does not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Nothing but whitespace.
    #[error("empty field path")]
    Empty,
    /// A `"` with no closing one.
    #[error("unterminated quoted key")]
    Unterminated,
    /// A quote or a space inside an unquoted key.
    #[error("unexpected {0:?} in a key: quote keys that contain it")]
    Unexpected(char),
    /// Two dots, or a dot at an end.
    #[error("empty key (two dots, or a dot at an end)")]
    EmptyKey,
    /// Something other than a dot after a quoted key.
    #[error("expected `.` after a quoted key, found {0:?}")]
    AfterQuote(char),
}

/// A pattern of a `trim:` section that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{pattern:?}: {error}")]
pub struct TrimPlanError {
    /// The pattern as written.
    pub pattern: String,
    /// What is wrong with it.
    pub error: PatternError,
}

/// Parses a field pattern: keys separated by `.`; a key may be double-quoted to contain dots, quotes
/// (`\"`) or a literal `*`; an unquoted `*` is a wildcard within one key.
pub fn parse_pattern(text: &str) -> Result<Vec<String>, PatternError> {
    Ok(parse_segments(text)?.into_iter().map(|s| match s {
        Segment::Key(k) | Segment::Glob(k) => String::from_utf8_lossy(&k).into_owned(),
    }).collect())
}

fn parse_segments(text: &str) -> Result<Vec<Segment>, PatternError> {
    let b = text.trim().as_bytes();
    if b.is_empty() {
        return Err(PatternError::Empty);
    }
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        if b.get(i) == Some(&b'"') {
            let mut key = Vec::new();
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err(PatternError::Unterminated),
                    Some(b'"') => break,
                    Some(b'\\') if matches!(b.get(i + 1), Some(b'"' | b'\\')) => {
                        key.push(b[i + 1]);
                        i += 2;
                    }
                    Some(&c) => {
                        key.push(c);
                        i += 1;
                    }
                }
            }
            i += 1;
            out.push(Segment::Key(key.into()));
        } else {
            let start = i;
            while i < b.len() && b[i] != b'.' {
                if b[i] == b'"' || b[i].is_ascii_whitespace() {
                    return Err(PatternError::Unexpected(b[i] as char));
                }
                i += 1;
            }
            let key = &b[start..i];
            if key.is_empty() {
                return Err(PatternError::EmptyKey);
            }
            out.push(if key.contains(&b'*') { Segment::Glob(key.into()) } else { Segment::Key(key.into()) });
        }
        match b.get(i) {
            None => return Ok(out),
            Some(b'.') if i + 1 < b.len() => i += 1,
            Some(b'.') => return Err(PatternError::EmptyKey),
            Some(&c) => return Err(PatternError::AfterQuote(c as char)),
        }
    }
}

#[derive(Clone, Debug, Default)]
struct Node {
    /// Child patterns and their node, in the order written.
    children: Vec<(Segment, u32)>,
    /// Members reaching this node are cut.
    remove: bool,
    /// String members reaching this node are cut to this many bytes, marker included.
    truncate: Option<usize>,
}

/// What to trim, compiled: a trie of field patterns. Build it once; [`Trimmer::apply`] runs it.
#[derive(Clone, Debug)]
pub struct TrimPlan {
    nodes: Vec<Node>,
    /// The truncation of a top-level `log` (applies to whole text lines too).
    log: Option<usize>,
    /// The patterns as written, for `explain`.
    text: Vec<String>,
}

impl TrimPlan {
    /// Matches the member `key` of an object against the node sets `sets[nodes]`: whether the member
    /// is cut, the shortest truncation reaching it, and the nodes its value's members are matched
    /// against pushed onto `sets`. Both of the trimmer's walks (token and byte) decide members here.
    fn member(&self, sets: &mut Vec<u32>, nodes: std::ops::Range<usize>, key: &[u8]) -> (bool, Option<usize>) {
        let mut remove = false;
        let mut truncate: Option<usize> = None;
        for s in nodes {
            let node = &self.nodes[sets[s] as usize];
            for (seg, child) in &node.children {
                if seg.matches(key) {
                    let c = &self.nodes[*child as usize];
                    remove |= c.remove;
                    if let Some(m) = c.truncate {
                        truncate = Some(truncate.map_or(m, |t: usize| t.min(m)));
                    }
                    if !c.children.is_empty() {
                        sets.push(*child);
                    }
                }
            }
        }
        (remove, truncate)
    }

    /// Compiles patterns to remove and `(pattern, max bytes)` strings to truncate. A limit below
    /// [`MIN_TRUNCATE`] is raised to it. When a member is both removed and truncated, it is removed; when
    /// two truncations apply, the shorter wins.
    pub fn new(remove: &[&str], truncate: &[(&str, usize)]) -> Result<TrimPlan, TrimPlanError> {
        let mut p = TrimPlan { nodes: vec![Node::default()], log: None, text: Vec::new() };
        for r in remove {
            let segs = parse_segments(r).map_err(|error| TrimPlanError { pattern: r.to_string(), error })?;
            let n = p.node(segs);
            p.nodes[n].remove = true;
            p.text.push(format!("remove {}", r.trim()));
        }
        for (t, max) in truncate {
            let segs = parse_segments(t).map_err(|error| TrimPlanError { pattern: t.to_string(), error })?;
            let max = (*max).max(MIN_TRUNCATE);
            if segs == [Segment::Key(b"log"[..].into())] {
                p.log = Some(p.log.map_or(max, |m| m.min(max)));
            }
            let n = p.node(segs);
            p.nodes[n].truncate = Some(p.nodes[n].truncate.map_or(max, |m| m.min(max)));
            p.text.push(format!("truncate {} to {max} bytes", t.trim()));
        }
        Ok(p)
    }

    /// Both plans' patterns (the rule set's and a rule's own).
    pub fn merged(a: &TrimPlan, b: &TrimPlan) -> TrimPlan {
        let mut p = a.clone();
        p.merge(b, 0, 0);
        p.log = match (a.log, b.log) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
        p.text.extend(b.text.iter().cloned());
        p
    }

    fn merge(&mut self, other: &TrimPlan, to: usize, from: usize) {
        let src = other.nodes[from].clone();
        self.nodes[to].remove |= src.remove;
        self.nodes[to].truncate = match (self.nodes[to].truncate, src.truncate) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
        for (seg, child) in src.children {
            let n = self.child(to, seg);
            self.merge(other, n, child as usize);
        }
    }

    fn child(&mut self, at: usize, seg: Segment) -> usize {
        if let Some(&(_, c)) = self.nodes[at].children.iter().find(|(s, _)| *s == seg) {
            return c as usize;
        }
        self.nodes.push(Node::default());
        let c = self.nodes.len() - 1;
        self.nodes[at].children.push((seg, c as u32));
        c
    }

    fn node(&mut self, segs: Vec<Segment>) -> usize {
        segs.into_iter().fold(0, |at, seg| self.child(at, seg))
    }

    /// What the plan does, one line per pattern.
    pub fn describe(&self) -> &[String] {
        &self.text
    }

    /// The shortest truncation that applies to a string member `key` of the top-level object, if any.
    pub(crate) fn top_limit(&self, key: &[u8]) -> Option<usize> {
        let children = self.nodes.first().map_or(&[][..], |root| &root.children[..]);
        let by_pattern = children.iter().filter(|(seg, _)| seg.matches(key)).filter_map(|(_, n)| self.nodes[*n as usize].truncate);
        by_pattern.chain(self.log.filter(|_| key == b"log")).min()
    }
}

/// A plan with no patterns (not even a root node): only the sample rate applies.
static NOTHING: TrimPlan = TrimPlan { nodes: Vec::new(), log: None, text: Vec::new() };

/// One change to the record: `input[start..end]` is replaced by `scratch[from..to]` (nothing for a cut).
#[derive(Clone, Copy, Debug)]
struct Edit {
    start: usize,
    end: usize,
    from: usize,
    to: usize,
}

/// Reusable buffers for trimming: one per thread or task, like a [`crate::Decider`] (which owns one).
/// Allocates nothing once its buffers have grown to the largest record seen.
#[derive(Debug, Default)]
pub struct Trimmer {
    edits: Vec<Edit>,
    /// Replacement bytes the edits point into.
    scratch: Vec<u8>,
    /// Decoded keys and strings.
    decoded: Vec<u8>,
    /// Stack of trie node sets: the nodes the current object's members are matched against.
    sets: Vec<u32>,
    out: Vec<u8>,
    /// Bytes the last [`Trimmer::apply`] added for the sample rate member.
    added: usize,
}

/// The sample rate member to add to a kept record: `"<key>":<rate>`.
#[derive(Clone, Copy, Debug)]
pub struct RateField<'a> {
    /// The top-level key (`sample_rate_field`).
    pub key: &'a str,
    /// The rate the record was kept at.
    pub rate: f64,
}

impl Trimmer {
    /// Trims a JSON object record (or, with `plan.log`, a text line: see [`Trimmer::apply_text`]) and adds
    /// `rate`. Returns the new bytes, or `None` when nothing changed. `record` must be a JSON object that
    /// serde_json accepts; anything else comes back unchanged (`None`).
    pub fn apply(&mut self, record: &[u8], plan: Option<&TrimPlan>, rate: Option<RateField<'_>>) -> Option<&[u8]> {
        self.apply_indexed(record, None, plan, rate)
    }

    /// [`Trimmer::apply`] with `record`'s JSON tokens ([`json::Index::tokens`] after scanning exactly
    /// these bytes), so that members are found from token to token instead of searched for byte by byte.
    /// The [`crate::Decider`] passes the tokens of its decide pass.
    pub fn apply_indexed(
        &mut self,
        record: &[u8],
        tokens: Option<json::Tokens<'_>>,
        plan: Option<&TrimPlan>,
        rate: Option<RateField<'_>>,
    ) -> Option<&[u8]> {
        self.edits.clear();
        self.scratch.clear();
        self.sets.clear();
        self.added = 0;
        let plan = plan.unwrap_or(&NOTHING);
        let start = skip_ws(record, 0);
        if record.get(start) != Some(&b'{') {
            return None;
        }
        if !plan.nodes.is_empty() {
            self.sets.push(0);
        }
        let hi = self.sets.len();
        // Tokens of other bytes would send the walk astray: those that cannot be this record's (past its
        // end) are not used. Tokens of other bytes of the same length are the caller's mistake.
        let tokens = tokens.filter(|t| t.starts.last().is_none_or(|&p| (p as usize) < record.len()));
        let mut w = Walk { input: record, plan, t: self, rate_key: rate.map(|r| r.key.as_bytes()), close: None };
        // PERF: with the tokens, members are found from token to token, without looking at the bytes
        // between them; the byte walk remains for records scanned without them (and, should the tokens
        // not be this record's after all, starts over from nothing).
        let by_tokens = match tokens {
            Some(t) if t.starts.first() == Some(&(start as u32)) => w.object_tokens(t, &mut 0, 0, 0, hi, true).is_some(),
            _ => false,
        };
        if !by_tokens {
            w.close = None;
            w.t.edits.clear();
            w.t.scratch.clear();
            w.t.sets.truncate(hi);
            w.object(start, 0, hi, true)?;
        }
        let (close, kept_top) = w.close?;
        if let Some(r) = rate {
            let from = self.scratch.len();
            if kept_top {
                self.scratch.push(b',');
            }
            push_json_str(&mut self.scratch, r.key.as_bytes());
            self.scratch.push(b':');
            // Shortest form that reads back as the same `f64` (`0.01`, `1`); writing to a Vec cannot fail.
            let _ = write!(self.scratch, "{}", r.rate);
            self.added = self.scratch.len() - from;
            self.edits.push(Edit { start: close, end: close, from, to: self.scratch.len() });
        }
        if self.edits.is_empty() {
            return None;
        }
        self.out.clear();
        let mut at = 0;
        for e in &self.edits {
            self.out.extend_from_slice(&record[at..e.start]);
            self.out.extend_from_slice(&self.scratch[e.from..e.to]);
            at = e.end;
        }
        self.out.extend_from_slice(&record[at..]);
        Some(&self.out)
    }

    /// Truncates a text line by the plan's limit for `log`; `None` when the plan has none or the line is
    /// short enough.
    pub fn apply_text(&mut self, line: &[u8], plan: &TrimPlan) -> Option<&[u8]> {
        self.added = 0;
        let max = plan.log?;
        if line.len() <= max {
            return None;
        }
        self.out.clear();
        let (cut, removed) = cut_point(line, max);
        self.out.extend_from_slice(&line[..cut]);
        push_marker(&mut self.out, removed);
        Some(&self.out)
    }

    /// Bytes the last call added for the sample rate member (the rest of the size change is trimming).
    pub fn added_bytes(&self) -> usize {
        self.added
    }

    /// The output of the last call that returned `Some`.
    pub fn output(&self) -> &[u8] {
        &self.out
    }
}

/// Where to cut a string of `s.len()` bytes so that the kept prefix and the marker fit in `max` bytes,
/// and how many bytes are cut. The prefix ends on a character boundary.
fn cut_point(s: &[u8], max: usize) -> (usize, usize) {
    let digits = decimal_digits(s.len());
    let room = max.saturating_sub(MARKER_HEAD.len() + digits + MARKER_TAIL.len());
    let mut cut = room.min(s.len());
    // Back off to a character boundary: never split a UTF-8 sequence.
    while cut > 0 && cut < s.len() && (s[cut] & 0xC0) == 0x80 {
        cut -= 1;
    }
    (cut, s.len() - cut)
}

fn decimal_digits(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

fn push_marker(out: &mut Vec<u8>, removed: usize) {
    // Writing to a Vec cannot fail, and formatting an integer allocates nothing.
    let _ = write!(out, "{MARKER_HEAD}{removed}{MARKER_TAIL}");
}


fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The value whose first token is `k` in `input`'s tokens `t`, skipped: the index of the token after it
/// and the offset past it.
#[inline(always)]
fn skip_tokens(input: &[u8], t: json::Tokens<'_>, k: usize) -> Option<(usize, usize)> {
    let at = |k: usize| t.starts.get(k).map(|&p| p as usize);
    let byte = |k: usize| at(k).and_then(|p| input.get(p).copied());
    match byte(k)? {
        b'"' => Some((k + 2, at(k + 1)? + 1)),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = k;
            loop {
                match byte(j)? {
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some((j + 1, at(j)? + 1));
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            // A number or literal: no whitespace inside, so it ends where whitespace or the next token
            // starts.
            let (start, next) = (at(k)?, at(k + 1).unwrap_or(input.len()));
            let len = input.get(start..next)?.iter().position(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'));
            Some((k + 1, start + len.unwrap_or(next - start)))
        }
    }
}

struct Walk<'a> {
    input: &'a [u8],
    plan: &'a TrimPlan,
    t: &'a mut Trimmer,
    rate_key: Option<&'a [u8]>,
    /// The top-level object's closing brace, and whether any of its members is kept.
    close: Option<(usize, bool)>,
}

impl Walk<'_> {
    /// Records the removal of the member whose key starts at `key_start` and whose value ends at
    /// `value_end`: with the separator before it when a member before it is kept (`prev_end` is that
    /// member's end), else with the one after it (`next`, the next member's start).
    fn cut(&mut self, kept_any: bool, prev_end: usize, key_start: usize, value_end: usize, next: Option<usize>) {
        let (start, end) = if kept_any { (prev_end, value_end) } else { (key_start, next.unwrap_or(value_end)) };
        let at = self.t.scratch.len();
        self.t.edits.push(Edit { start, end, from: at, to: at });
    }

    /// A string starting at `i` (a quote): the body range, whether it has escapes, and the index past
    /// the closing quote.
    fn string(&mut self, i: usize) -> Option<(usize, usize, bool, usize)> {
        let (end, escaped) = json::string_end(self.input, i + 1)?;
        Some((i + 1, end, escaped, end + 1))
    }

    /// The index just past the value starting at `i`.
    fn skip_value(&mut self, i: usize) -> Option<usize> {
        let b = self.input;
        match *b.get(i)? {
            b'"' => self.string(i).map(|s| s.3),
            open @ (b'{' | b'[') => {
                // Valid JSON: brackets of one kind balance outside strings, so count only those.
                let close = if open == b'{' { b'}' } else { b']' };
                let mut depth = 0usize;
                let mut j = i;
                loop {
                    let k = j + memchr3(b'"', open, close, b.get(j..)?)?;
                    match b[k] {
                        b'"' => j = self.string(k)?.3,
                        c if c == open => {
                            depth += 1;
                            j = k + 1;
                        }
                        _ => {
                            depth -= 1;
                            j = k + 1;
                            if depth == 0 {
                                return Some(j);
                            }
                        }
                    }
                }
            }
            _ => {
                let mut j = i;
                while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    j += 1;
                }
                (j > i).then_some(j)
            }
        }
    }

    /// [`Walk::object`] over the record's tokens: the object whose `{` is token `k`, its members matched
    /// against the nodes `t.sets[lo..hi]`. Returns the index of the token after its closing brace, or
    /// `None` when the tokens do not describe a JSON object here (they are then not this record's).
    fn object_tokens(&mut self, t: json::Tokens<'_>, e: &mut usize, k: usize, lo: usize, hi: usize, top: bool) -> Option<usize> {
        let b = self.input;
        let at = |k: usize| t.starts.get(k).map(|&p| p as usize);
        let byte = |k: usize| at(k).and_then(|p| b.get(p).copied());
        if byte(k)? != b'{' {
            return None;
        }
        let mut k = k + 1;
        if byte(k)? == b'}' {
            if top {
                self.close = Some((at(k)?, false));
            }
            return Some(k + 1);
        }
        // Strings are asked about in input order, nested objects' too: the escape cursor only moves forward.
        let escaped = |e: &mut usize, s: usize, end: usize| {
            while t.escapes.get(*e).is_some_and(|&x| (x as usize) < s) {
                *e += 1;
            }
            t.escapes.get(*e).is_some_and(|&x| (x as usize) < end)
        };
        let mut kept_any = false;
        let mut prev_end = 0usize;
        loop {
            // The key's quotes, `:`, then the value's first token.
            let key_start = at(k)?;
            let (ks, ke) = (key_start + 1, at(k + 1)?);
            if b.get(key_start) != Some(&b'"') || byte(k + 2)? != b':' {
                return None;
            }
            let kv = k + 3;
            let value_start = at(kv)?;
            let key: &[u8] = if escaped(e, ks, ke) {
                self.t.decoded.clear();
                json::unescape(b.get(ks..ke)?, &mut self.t.decoded).ok()?;
                &self.t.decoded
            } else {
                b.get(ks..ke)?
            };
            let mark = self.t.sets.len();
            let (removed, truncate) = self.plan.member(&mut self.t.sets, lo..hi, key);
            let remove = removed || (top && self.rate_key == Some(key));
            let descend = self.t.sets.len() > mark;
            let first = b.get(value_start).copied()?;
            // The token after the value, and the offset past the value.
            let (next_k, value_end) = if remove {
                skip_tokens(b, t, kv)?
            } else if let (Some(max), b'"') = (truncate, first) {
                let (s, end) = (value_start + 1, at(kv + 1)?);
                let esc = escaped(e, s, end);
                self.truncate(s, end, esc, max)?;
                (kv + 2, end + 1)
            } else if descend && first == b'{' {
                let hi2 = self.t.sets.len();
                let after = self.object_tokens(t, e, kv, mark, hi2, false)?;
                (after, at(after - 1)? + 1)
            } else {
                skip_tokens(b, t, kv)?
            };
            self.t.sets.truncate(mark);
            let after = at(next_k)?;
            let next = match byte(next_k)? {
                b',' => Some(at(next_k + 1)?),
                b'}' => None,
                _ => return None,
            };
            if remove {
                self.cut(kept_any, prev_end, key_start, value_end, next);
            } else {
                kept_any = true;
            }
            prev_end = value_end;
            match next {
                Some(_) => k = next_k + 1,
                None => {
                    if top {
                        self.close = Some((after, kept_any));
                    }
                    return Some(next_k + 1);
                }
            }
        }
    }

    /// Walks the object at `i` whose members are matched against the nodes `t.sets[lo..hi]`, recording
    /// edits. Returns the index past its closing brace.
    fn object(&mut self, i: usize, lo: usize, hi: usize, top: bool) -> Option<usize> {
        let b = self.input;
        let mut i = skip_ws(b, i + 1);
        if *b.get(i)? == b'}' {
            if top {
                self.close = Some((i, false));
            }
            return Some(i + 1);
        }
        let mut kept_any = false;
        let mut prev_end = 0usize;
        loop {
            if *b.get(i)? != b'"' {
                return None;
            }
            let key_start = i;
            let (ks, ke, kesc, after_key) = self.string(i)?;
            i = skip_ws(b, after_key);
            if *b.get(i)? != b':' {
                return None;
            }
            let value_start = skip_ws(b, i + 1);
            // The key, decoded when it has escapes.
            let key: &[u8] = if kesc {
                self.t.decoded.clear();
                json::unescape(&b[ks..ke], &mut self.t.decoded).ok()?;
                &self.t.decoded
            } else {
                &b[ks..ke]
            };
            let mark = self.t.sets.len();
            let (removed, truncate) = self.plan.member(&mut self.t.sets, lo..hi, key);
            let remove = removed || (top && self.rate_key == Some(key));
            let descend = self.t.sets.len() > mark;
            let value_end = if remove {
                self.skip_value(value_start)?
            } else if let (Some(max), Some(b'"')) = (truncate, b.get(value_start)) {
                let (s, e, esc, end) = self.string(value_start)?;
                self.truncate(s, e, esc, max)?;
                end
            } else if descend && b.get(value_start) == Some(&b'{') {
                let hi2 = self.t.sets.len();
                self.object(value_start, mark, hi2, false)?
            } else {
                self.skip_value(value_start)?
            };
            self.t.sets.truncate(mark);
            let after = skip_ws(b, value_end);
            let next = match *b.get(after)? {
                b',' => Some(skip_ws(b, after + 1)),
                b'}' => None,
                _ => return None,
            };
            if remove {
                // Cut the member with the separator before it when a kept member precedes it (the members
                // cut since then took theirs), else with the separator after it.
                self.cut(kept_any, prev_end, key_start, value_end, next);
            } else {
                kept_any = true;
            }
            prev_end = value_end;
            match next {
                Some(n) => i = n,
                None => {
                    if top {
                        self.close = Some((after, kept_any));
                    }
                    return Some(after + 1);
                }
            }
        }
    }

    /// Records the truncation of the string body `input[s..e]` to `max` bytes (decoded), marker included.
    fn truncate(&mut self, s: usize, e: usize, escaped: bool, max: usize) -> Option<()> {
        let b = self.input;
        if !escaped {
            if e - s <= max {
                return Some(());
            }
            // Keep the prefix in place; replace only the tail.
            let (cut, removed) = cut_point(&b[s..e], max);
            let from = self.t.scratch.len();
            push_marker(&mut self.t.scratch, removed);
            self.t.edits.push(Edit { start: s + cut, end: e, from, to: self.t.scratch.len() });
            return Some(());
        }
        if e - s <= max {
            // Decoding never lengthens a string: it fits without being decoded to find out.
            return Some(());
        }
        self.t.decoded.clear();
        json::unescape(&b[s..e], &mut self.t.decoded).ok()?;
        if self.t.decoded.len() <= max {
            return Some(());
        }
        let (cut, removed) = cut_point(&self.t.decoded, max);
        let from = self.t.scratch.len();
        json::escape_into(&mut self.t.scratch, &self.t.decoded[..cut]);
        push_marker(&mut self.t.scratch, removed);
        self.t.edits.push(Edit { start: s, end: e, from, to: self.t.scratch.len() });
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trim(rec: &str, remove: &[&str], truncate: &[(&str, usize)]) -> String {
        let plan = TrimPlan::new(remove, truncate).unwrap();
        let mut t = Trimmer::default();
        match t.apply(rec.as_bytes(), Some(&plan), None) {
            Some(b) => String::from_utf8(b.to_vec()).unwrap(),
            None => rec.to_string(),
        }
    }

    #[test]
    fn globs() {
        assert!(glob(b"*", b""));
        assert!(glob(b"pod-template-*", b"pod-template-hash"));
        assert!(glob(b"*hash*", b"pod-template-hash"));
        assert!(glob(b"a*c", b"abbbc") && !glob(b"a*c", b"abbb"));
        assert!(!glob(b"app", b"apps"));
    }

    #[test]
    fn patterns() {
        assert_eq!(parse_pattern(r#"kubernetes.labels."app.kubernetes.io/name""#).unwrap(), ["kubernetes", "labels", "app.kubernetes.io/name"]);
        assert!(parse_pattern("a..b").is_err());
        assert!(parse_pattern("a.").is_err());
        assert!(parse_pattern("").is_err());
        assert!(parse_pattern(r#""a"b"#).is_err());
    }

    #[test]
    fn removal_keeps_separators_valid() {
        let r = r#"{"a":1, "b":2, "c":3}"#;
        assert_eq!(trim(r, &["a"], &[]), r#"{"b":2, "c":3}"#);
        assert_eq!(trim(r, &["b"], &[]), r#"{"a":1, "c":3}"#);
        assert_eq!(trim(r, &["c"], &[]), r#"{"a":1, "b":2}"#);
        assert_eq!(trim(r, &["a", "b"], &[]), r#"{"c":3}"#);
        assert_eq!(trim(r, &["a", "c"], &[]), r#"{"b":2}"#);
        assert_eq!(trim(r, &["b", "c"], &[]), r#"{"a":1}"#);
        assert_eq!(trim(r, &["*"], &[]), r#"{}"#);
        assert_eq!(trim(r#"{ "a" : { "x" : [1,{"y":"}"}] , "y":"z" } }"#, &["a.x"], &[]), r#"{ "a" : { "y":"z" } }"#);
        assert_eq!(trim(r#"{"k":{"a":1},"k":{"a":2,"b":3}}"#, &["k.a"], &[]), r#"{"k":{},"k":{"b":3}}"#, "duplicates");
        assert_eq!(trim(r#"{"\u0061":1,"b":2}"#, &["a"], &[]), r#"{"b":2}"#, "escaped keys");
        assert_eq!(trim(r#"{"a":"x"}"#, &["b.c"], &[]), r#"{"a":"x"}"#);
    }

    #[test]
    fn truncation_fits_the_limit_and_counts_what_was_cut() {
        let long = "é".repeat(100); // 200 bytes
        let r = format!(r#"{{"log":"{long}","n":1}}"#);
        let out = trim(&r, &[], &[("log", 64)]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let s = v["log"].as_str().unwrap();
        assert!(s.len() <= 64, "{}", s.len());
        let (prefix, marker) = s.split_once('…').unwrap();
        assert!(long.starts_with(prefix));
        assert_eq!(marker, format!("[truncated {} bytes]", 200 - prefix.len()));
        // Escaped strings are decoded, cut, and written back escaped.
        let r = format!(r#"{{"log":"{}"}}"#, "a\\\"b\\n".repeat(40));
        let v: serde_json::Value = serde_json::from_str(&trim(&r, &[], &[("log", 64)])).unwrap();
        assert!(v["log"].as_str().unwrap().starts_with("a\"b\na\"b\n"));
        // Short strings and non-strings are left alone.
        assert_eq!(trim(r#"{"log":"short","n":12345}"#, &[], &[("log", 64), ("n", 64)]), r#"{"log":"short","n":12345}"#);
    }

    #[test]
    fn rate_field_is_added_once() {
        let mut t = Trimmer::default();
        let rate = Some(RateField { key: "sample_rate", rate: 0.01 });
        assert_eq!(t.apply(br#"{"a":1}"#, None, rate).unwrap(), br#"{"a":1,"sample_rate":0.01}"#);
        assert_eq!(t.added_bytes(), r#","sample_rate":0.01"#.len());
        assert_eq!(t.apply(br#"{"sample_rate":5,"a":1} "#, None, rate).unwrap(), br#"{"a":1,"sample_rate":0.01} "#);
        assert_eq!(t.apply(br#"{}"#, None, rate).unwrap(), br#"{"sample_rate":0.01}"#);
        assert_eq!(t.apply(br#"{"sample_rate":1}"#, None, rate).unwrap(), br#"{"sample_rate":0.01}"#);
        assert!(t.apply(b"not json", None, rate).is_none());
    }

    #[test]
    fn text_lines_truncate_as_log() {
        let plan = TrimPlan::new(&[], &[("log", 64)]).unwrap();
        let mut t = Trimmer::default();
        let line = "x".repeat(100);
        let out = t.apply_text(line.as_bytes(), &plan).unwrap();
        assert_eq!(out, format!("{}…[truncated 60 bytes]", "x".repeat(40)).as_bytes());
        assert!(out.len() <= 64);
        assert!(t.apply_text(b"short", &plan).is_none());
    }

    #[test]
    fn the_decider_trims_what_it_keeps_and_counts_it() {
        let yaml = r#"
sample_rate_field: sample_rate
trim:
  remove: [k8s.annotations, k8s.labels.pod-template-*]
rules:
  - name: s
    when: kind == "s"
    action: sample
    rate: 1
    trim: {truncate: {msg: 64}}
  - name: d
    when: kind == "d"
    action: drop
"#;
        let rules = crate::RuleSet::from_yaml("t.yaml", yaml).unwrap_or_else(|e| panic!("{e}"));
        assert!(rules.shapes_output());
        let mut d = rules.decider();
        let mut sent = |rec: &[u8]| {
            let mut out = Vec::new();
            let mut decided = d.decide(rec);
            decided.write_kept(&mut out);
            (decided.decision(), out)
        };
        let long = "m".repeat(100);
        let rec = format!(r#"{{"kind":"s","msg":"{long}","k8s":{{"annotations":{{"a":"b"}},"labels":{{"app":"x","pod-template-hash":"h"}}}}}}"#);
        let (dec, out) = sent(rec.as_bytes());
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["k8s"], serde_json::json!({"labels": {"app": "x"}}));
        assert_eq!(v["sample_rate"], 1.0);
        assert!(v["msg"].as_str().unwrap().ends_with("…[truncated 60 bytes]"));
        // Kept by the default: the rule set's trim only, no rate; a text line is left alone.
        let rec = br#"{"kind":"x","k8s":{"annotations":{}}}"#;
        assert_eq!(sent(rec).1, br#"{"kind":"x","k8s":{}}"#);
        assert_eq!(sent(b"plain text").1, b"plain text");
        // Dropped records are not trimmed.
        let rec = br#"{"kind":"d","k8s":{"annotations":{}}}"#;
        assert_eq!(sent(rec).1, rec);
        let c = d.counters().rule(dec.rule);
        assert_eq!(c.added_bytes, r#","sample_rate":1"#.len() as u64);
        assert_eq!(c.shaped_bytes(), out.len() as u64);
    }

    #[test]
    fn trim_mistakes_are_reported() {
        let err = |y: &str| crate::RuleSet::from_yaml("t.yaml", y).map(|_| ()).unwrap_err().to_string();
        let e = err("rules:\n  - name: d\n    action: drop\n    trim: {remove: [a]}\n");
        assert!(e.contains("t.yaml:4:11: rule \"d\" drops every record it matches: there is nothing to trim"), "{e}");
        let e = err("trim: {truncate: {log: 10}}\n");
        assert!(e.contains("truncation limit 10 B is below 64 B"), "{e}");
        let e = err("trim: {remove: [\"a..b\"]}\n");
        assert!(e.contains("invalid field pattern \"a..b\""), "{e}");
        let e = err("trim: {cut: [a]}\n");
        assert!(e.contains("t.yaml:1:8: unknown key \"cut\" in `trim`") && e.contains("`trim` accepts: remove, truncate"), "{e}");
        let e = err("trim: {truncate: {log: 4XB}}\n");
        assert!(e.contains("unknown size unit"), "{e}");
    }

    #[test]
    fn merged_plans_apply_both() {
        let a = TrimPlan::new(&["a"], &[("log", 100)]).unwrap();
        let b = TrimPlan::new(&["b.*"], &[("log", 80)]).unwrap();
        let m = TrimPlan::merged(&a, &b);
        let mut t = Trimmer::default();
        let rec = format!(r#"{{"a":1,"b":{{"x":1}},"log":"{}"}}"#, "y".repeat(90));
        let out = t.apply(rec.as_bytes(), Some(&m), None).unwrap();
        let v: serde_json::Value = serde_json::from_slice(out).unwrap();
        assert_eq!(v["b"], serde_json::json!({}));
        assert!(v.get("a").is_none());
        assert!(v["log"].as_str().unwrap().len() <= 80);
    }
}
