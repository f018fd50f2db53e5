//! Tokens and masks: how a message is cut into tokens, and which parts of a token are variables.
//!
//! A message is split at ASCII whitespace, except that a token starting with `[` runs to its matching `]`
//! (thread names such as `[IPC Server handler 5 on 8030]` and request contexts such as `[req-… - - -]`
//! are one header field, whatever their word count). Inside a token, *words* are runs of ASCII letters,
//! digits and non-ASCII bytes; everything else separates them. One hand-written pass classifies the
//! words, without a regular expression:
//!
//! - a word with a digit is a variable: numbers, hex ids, IP addresses, UUIDs, durations (`33.5ms`,
//!   `12µs`), timestamps, and ids with a prefix (`blk_-42` keeps `blk_`, `subdir58` does not survive);
//! - a word of eight or more hex letters is a variable (an id that happens to have no digit);
//! - a month or weekday name next to a variable is part of a date (`[Sun Dec 04 04:47:44 2005]`,
//!   `22/Nov/2026:10:00:00`);
//! - a single character or a short run of hex letters between two variables is part of them (the `m`
//!   of `attempt_1445_0020_m_000002_0`, a UUID group that came out as `abcd`);
//! - neighbouring variables are one (`10.251.73.220:50010`, `2026-11-22T10:00:00.123Z` each become one
//!   `<*>`), and a sign in front of a number belongs to it (`blk_-69` and `blk_69` have the same shape).
//!
//! A level name in the first tokens of a line (`INFO`, `[error]`, `<warn>`, `level=debug`) is masked
//! too: the level is shown as the template's level mix, and the same event logged at two levels is one
//! template. The masked form of a token is its *shape*; the miner compares shapes by their hash and
//! never allocates per token.

use xxhash_rust::xxh3::xxh3_64;

/// The shape text of a variable part.
pub const VAR: &str = "<*>";

/// How many leading tokens may hold the line's level (timestamp, thread, pid… come before it).
const LEVEL_TOKENS: usize = 6;
/// Words a token is classified by; a token with more (a long bracketed field) is masked whole when it
/// holds any digit.
const MAX_WORDS: usize = 64;
/// Longest bracketed field read as one token; an unmatched `[` stays an ordinary token.
const MAX_BRACKET: usize = 256;
/// Marks a variable in the bytes a shape is hashed from; 0xFF never occurs in UTF-8.
const VAR_MARK: &[u8] = b"\xFF*";

/// One token of a message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Token {
    /// Offsets of the token in the message, end exclusive.
    pub start: u32,
    /// End of the token.
    pub end: u32,
    /// Hash of the token's shape (its variable parts masked): equal for `blk_-42` and `blk_7`.
    pub shape: u64,
    /// Hash of the token as written, to tell which positions vary within a template.
    pub value: u64,
    /// Whether the shape has a variable part.
    pub masked: bool,
    /// Hash of the token's own shape when `shape` is the header's (see [`Tokenizer::tokenize`]), else
    /// `shape`: which header fields varied is still told.
    pub form: u64,
    /// Several neighbouring tokens of the same masked shape, read as one list (`blk_1 blk_2 blk_3`).
    pub list: bool,
    /// The rest of a line longer than the token limit, as one variable.
    pub tail: bool,
    /// The token has whitespace in it: a bracketed field of several words, or a tail.
    pub spaced: bool,
}

/// A piece of a token's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Text kept as written.
    Lit(&'a [u8]),
    /// A variable part.
    Var,
}

#[derive(Clone, Copy, Debug, Default)]
struct Word {
    start: u32,
    end: u32,
    var: bool,
    /// Only hex letters and digits (for the runs absorbed between variables).
    hex: bool,
    /// A month or weekday name.
    calendar: bool,
}

/// Reusable buffers for [`Tokenizer::tokenize`]: nothing is allocated per message once they have grown.
#[derive(Debug, Default)]
pub struct Tokenizer {
    words: Vec<Word>,
    shape: Vec<u8>,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Letters, digits and every non-ASCII byte (so `µs` and accented words stay whole).
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

const CALENDAR: [&[u8]; 19] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri",
    b"Sat", b"Sun",
];

/// `Dec`, `DEC`, `December`, `Sunday`: a three-letter abbreviation, or a full name starting with one.
fn is_calendar(w: &[u8]) -> bool {
    if w.len() < 3 || w.len() > 9 {
        return false;
    }
    let head = [w[0].to_ascii_uppercase(), w[1].to_ascii_lowercase(), w[2].to_ascii_lowercase()];
    CALENDAR.iter().any(|c| **c == head) && (w.len() == 3 || w[3..].iter().all(u8::is_ascii_lowercase))
}

/// The length of `key=` when `t` is a `key=value` pair with a value (a key of letters, digits, `_`, `.`,
/// `-`, starting with a letter or `_`): logfmt's and klog's pairs. The message and level keys are left
/// alone (a message is words; a level is masked as the header's).
fn kv_key(t: &[u8]) -> Option<usize> {
    let eq = t.iter().position(|&b| b == b'=')?;
    let key = &t[..eq];
    let ok = !key.is_empty()
        && (key[0].is_ascii_alphabetic() || key[0] == b'_')
        && key.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && eq + 1 < t.len()
        && !matches!(key, b"msg" | b"message" | b"level" | b"lvl" | b"severity" | b"loglevel");
    ok.then_some(eq + 1)
}

/// A JVM stack frame's method and source line: `com.example.Foo.bar(Foo.java:212)`.
fn code_location(t: &[u8]) -> bool {
    let Some(body) = t.strip_suffix(b")") else { return false };
    let Some(open) = body.iter().rposition(|&b| b == b'(') else { return false };
    let inner = &body[open + 1..];
    let Some(colon) = inner.iter().rposition(|&b| b == b':') else { return false };
    let (file, line) = (&inner[..colon], &inner[colon + 1..]);
    open > 0
        && !line.is_empty()
        && line.iter().all(u8::is_ascii_digit)
        && [&b".java"[..], b".kt", b".scala", b".groovy", b".clj"].iter().any(|ext| file.ends_with(ext))
}

/// Whether `rest` (what follows a month or weekday name) goes on with a number, or with one more name
/// and then a number.
fn date_follows(rest: &[u8]) -> bool {
    let mut words = rest.split(|&b| is_space(b)).filter(|w| !w.is_empty());
    match words.next() {
        Some(w) if w[0].is_ascii_digit() => true,
        Some(w) if is_calendar(w) => words.next().is_some_and(|n| n[0].is_ascii_digit()),
        _ => false,
    }
}

/// The end of the token starting at `i`: the matching `]` of a leading `[` (nested brackets counted)
/// when it comes within [`MAX_BRACKET`] bytes, else the next whitespace.
fn token_end(msg: &[u8], i: usize) -> usize {
    let plain = || msg[i..].iter().position(|&b| is_space(b)).map_or(msg.len(), |n| i + n);
    if msg[i] != b'[' {
        return plain();
    }
    let limit = msg.len().min(i + MAX_BRACKET);
    let mut depth = 0usize;
    for (j, &b) in msg[i..limit].iter().enumerate() {
        match b {
            b'[' => depth += 1,
            b']' => {
                depth -= 1;
                if depth == 0 {
                    // The field ends at its bracket; what follows up to the next space (`]:`) belongs to it.
                    let after = i + j + 1;
                    return msg[after..].iter().position(|&b| is_space(b)).map_or(msg.len(), |n| after + n);
                }
            }
            _ => {}
        }
    }
    plain()
}

impl Tokenizer {
    /// Cuts `msg` into at most `max` tokens (the last one takes the rest of the message, masked whole
    /// when it is longer than one token), appending them to `out` (cleared first).
    ///
    /// Then three things that need neighbours: a month or weekday name alone before a number is part of
    /// the date; neighbouring tokens of one masked shape are one list (`ask X to delete blk_1 blk_2 …`
    /// is the same event for any number of blocks); and the *header* — the tokens up to a level in the
    /// first ones, and the thread, logger and `-` right after it (`2015-10-18 18:01:47,978 INFO [main]
    /// org.apache.Foo:`) — is masked whole, as log-parsing benchmarks read a line's content apart from its
    /// header: the same event from two threads or loggers is one template.
    pub fn tokenize(&mut self, msg: &[u8], max: usize, out: &mut Vec<Token>) {
        out.clear();
        let max = max.max(1);
        let msg = &msg[..msg.len().min(u32::MAX as usize)];
        let mut i = 0;
        while i < msg.len() {
            if is_space(msg[i]) {
                i += 1;
                continue;
            }
            let last = out.len() + 1 == max;
            let end = if last {
                // The rest of the message: one variable tail, so very long lines still share a template.
                let mut e = msg.len();
                while e > i && is_space(msg[e - 1]) {
                    e -= 1;
                }
                e
            } else {
                token_end(msg, i)
            };
            let tail = last && msg[i..end].iter().any(|&b| is_space(b));
            let t = self.token(msg, i, end, tail);
            // A list: this token continues the previous one when both are the same masked shape.
            match out.last_mut() {
                Some(prev) if t.masked && prev.masked && prev.shape == t.shape && !tail => {
                    prev.end = t.end;
                    prev.value = prev.value.rotate_left(5) ^ t.value;
                    prev.list = true;
                }
                _ => out.push(t),
            }
            i = end;
        }
        header(msg, out);
    }

    fn token(&mut self, msg: &[u8], start: usize, end: usize, tail: bool) -> Token {
        let bytes = &msg[start..end];
        let value = xxh3_64(bytes);
        let mut masked = false;
        self.shape.clear();
        if tail {
            self.shape.extend_from_slice(VAR_MARK);
            masked = true;
        } else if is_calendar(bytes) && date_follows(&msg[end..]) {
            // `Jun 14 15:16:01`, `Mon Jun 20 03:40:59 2005`: the names are part of the date that follows.
            self.shape.extend_from_slice(VAR_MARK);
            masked = true;
        } else {
            let shape = &mut self.shape;
            shape_of(&mut self.words, bytes, |p| match p {
                Piece::Lit(s) => shape.extend_from_slice(s),
                Piece::Var => {
                    shape.extend_from_slice(VAR_MARK);
                    masked = true;
                }
            });
        }
        let shape = xxh3_64(&self.shape);
        let spaced = tail || (bytes[0] == b'[' && bytes.iter().any(|&b| is_space(b)));
        Token { start: start as u32, end: end as u32, shape, value, masked, form: shape, list: false, tail, spaced }
    }
}

/// The pieces of one token's shape: a `key=value` pair keeps its key, a stack frame's location is one
/// variable, anything else is classified word by word.
fn shape_of<'a>(words: &mut Vec<Word>, t: &'a [u8], mut emit: impl FnMut(Piece<'a>)) {
    if let Some(key) = kv_key(t) {
        // `key=value`: logfmt and klog's structured pairs; the key is the event's, the value a value.
        emit(Piece::Lit(&t[..key]));
        emit(Piece::Var);
    } else if code_location(t) {
        // A stack frame's location: every frame of a trace is the same event, `at <*>`.
        emit(Piece::Var);
    } else {
        words_of(words, t);
        pieces(t, words, emit);
    }
}

/// Finds and classifies the words of `t` into `words`.
fn words_of(words: &mut Vec<Word>, t: &[u8]) {
    words.clear();
    let mut i = 0;
    while i < t.len() {
        if !is_word(t[i]) {
            i += 1;
            continue;
        }
        let s = i;
        let (mut digit, mut hex) = (false, true);
        while i < t.len() && is_word(t[i]) {
            digit |= t[i].is_ascii_digit();
            hex &= t[i].is_ascii_hexdigit();
            i += 1;
        }
        if words.len() == MAX_WORDS {
            // Too many words to reason about one by one: the token is one variable if any has a digit.
            let any = words.iter().any(|w| w.var) || t[s..].iter().any(u8::is_ascii_digit);
            words.clear();
            words.push(Word { start: 0, end: t.len() as u32, var: any, hex: false, calendar: false });
            return;
        }
        let w = &t[s..i];
        words.push(Word { start: s as u32, end: i as u32, var: digit || (hex && w.len() >= 8), hex, calendar: !digit && is_calendar(w) });
    }
    // A dotted or hyphenated name with a variable part is a variable whole: host names
    // (`MININT-FNANLI5.fareast.corp.example.com`, `msra-sa-41`), versions, file names with a date.
    let joined = |a: &Word, b: &Word| b.start == a.end + 1 && matches!(t[a.end as usize], b'.' | b'-');
    let mut k = 0;
    while k < words.len() {
        let mut e = k;
        while e + 1 < words.len() && joined(&words[e], &words[e + 1]) {
            e += 1;
        }
        if e > k && words[k..=e].iter().any(|w| w.var) {
            words[k..=e].iter_mut().for_each(|w| w.var = true);
        }
        k = e + 1;
    }
    // A file path (`/var/lib/x/y/`, `(/tmp/a/b):`, `path=/v1/charges`) is one variable, slashes and all:
    // paths are values even without digits. One slash (`/default-rack`, `HTTP/1.1`) is not a path.
    if let Some((from, to)) = path_span(t) {
        words.retain(|w| w.end <= from || w.start >= to);
        let at = words.iter().position(|w| w.start >= to).unwrap_or(words.len());
        words.insert(at, Word { start: from, end: to, var: true, hex: false, calendar: false });
    }
    // Dates: a month or weekday name next to a variable, scanned both ways so `Sun Dec 04` is whole.
    for k in (0..words.len()).rev() {
        if words[k].calendar && words.get(k + 1).is_some_and(|n| n.var) {
            words[k].var = true;
        }
    }
    for k in 1..words.len() {
        if words[k].calendar && words[k - 1].var {
            words[k].var = true;
        }
    }
    // A single character or a hex run between two variables is part of them.
    for k in 1..words.len().saturating_sub(1) {
        let w = words[k];
        if !w.var && (w.end - w.start <= 1 || w.hex) && words[k - 1].var && words[k + 1].var {
            words[k].var = true;
        }
    }
}

/// Where a file path is in token `t`, if it has one: from a `/` at the start of the token or after one of
/// `"'(=[:`, through the last word character, when it has two slashes or more.
fn path_span(t: &[u8]) -> Option<(u32, u32)> {
    let from =
        t.iter().enumerate().position(|(i, &b)| b == b'/' && (i == 0 || matches!(t[i - 1], b'"' | b'\'' | b'(' | b'=' | b'[' | b':')))?;
    let rest = &t[from..];
    let len = rest.iter().position(|&b| matches!(b, b'"' | b'\'' | b')' | b']' | b',' | b';')).unwrap_or(rest.len());
    let path = &rest[..len];
    // Through the last word character or slash: a trailing `.` or `:` is the sentence's, `/` the path's.
    let to = path.iter().rposition(|&b| is_word(b) || matches!(b, b'/' | b'*'))? + 1;
    (path[..to].iter().filter(|&&b| b == b'/').count() >= 2).then_some((from as u32, (from + to) as u32))
}

/// The shape every header token has (see [`Tokenizer::tokenize`]).
fn header_shape() -> u64 {
    xxh3_64(b"\xFFheader")
}

/// Masks the header of a line: the tokens up to a level among the first [`LEVEL_TOKENS`], and after the
/// level at most three of: a bracketed field, a lone `-` or `|`, and a logger name (`org.apache.Foo:`,
/// `nova.compute.manager`, `core:`).
fn header(msg: &[u8], out: &mut [Token]) {
    let text = |t: &Token| &msg[t.start as usize..t.end as usize];
    if klog(msg) {
        // `I1122 10:00:00.123456  1 proxier.go:805]`: through the file and line.
        if let Some(end) = out.iter().take(5).position(|t| text(t).ends_with(b"]")).filter(|&e| e + 1 < out.len()) {
            mask_header(&mut out[..=end]);
        }
        return;
    }
    let Some(level) = out.iter().take(LEVEL_TOKENS).position(|t| level_word(text(t), t.start == 0)) else {
        syslog_header(msg, out);
        return;
    };
    let mut end = level + 1;
    while end < out.len() && end <= level + 3 && end + 1 < out.len() && header_field(text(&out[end])) {
        end += 1;
    }
    mask_header(&mut out[..end]);
}

fn mask_header(tokens: &mut [Token]) {
    for t in tokens {
        t.form = t.shape;
        t.shape = header_shape();
        t.masked = true;
    }
}

/// A klog line: `I`, `W`, `E` or `F`, four digits, a space, `hh:mm:ss`.
fn klog(msg: &[u8]) -> bool {
    let Some(h) = msg.get(..14) else { return false };
    let digits = |r: std::ops::Range<usize>| h[r].iter().all(u8::is_ascii_digit);
    matches!(h[0], b'I' | b'W' | b'E' | b'F')
        && digits(1..5)
        && h[5] == b' '
        && digits(6..8)
        && h[8] == b':'
        && digits(9..11)
        && h[11] == b':'
        && digits(12..14)
}

/// A syslog header without a level: a time, a host and a `program[pid]:` (`Jun 14 15:16:01 combo
/// sshd(pam_unix)[19939]:`): the program is the header's like a logger is, not the event's.
fn syslog_header(msg: &[u8], out: &mut [Token]) {
    let text = |t: &Token| &msg[t.start as usize..t.end as usize];
    if !out.first().is_some_and(|t| t.masked) {
        return;
    }
    let program = |t: &[u8]| {
        t.len() > 1
            && t.ends_with(b":")
            && t[0].is_ascii_alphabetic()
            && t[..t.len() - 1]
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'(' | b')' | b'[' | b']' | b'_' | b'-' | b'.' | b'/'))
    };
    if let Some(end) = (1..out.len().saturating_sub(1).min(3)).find(|&k| program(text(&out[k]))) {
        mask_header(&mut out[..=end]);
    }
}

/// A thread or logger field after a level: `[main]`, `-`, `dfs.DataNode$PacketResponder:`,
/// `nova.compute.manager`, `core:`.
fn header_field(t: &[u8]) -> bool {
    if t.first() == Some(&b'[') {
        return t.ends_with(b"]") || t.ends_with(b"]:");
    }
    if t == b"-" || t == b"|" {
        return true;
    }
    let ident = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'$' | b'-');
    if let Some(name) = t.strip_suffix(b":") {
        return !name.is_empty() && name.iter().all(ident) && name.iter().any(u8::is_ascii_alphabetic);
    }
    // A dotted lower-case package path without a colon: `nova.osapi_compute.wsgi.server`.
    t.first().is_some_and(u8::is_ascii_lowercase) && t.contains(&b'.') && t.iter().all(ident) && !t.ends_with(b".")
}

/// Whether a token is a level, in the shapes logtrim's level detection knows (docs/rules.md, "Levels"):
/// `level=info` (also `lvl`, `severity`, `loglevel`, quoted or not), `[error]` or `<warn>` in any case, an
/// upper-case `INFO` possibly followed by `:`, `,`, `)`, `[` or `]` (`WARN[0000]`, `ERROR:root:`), with a
/// `prefix.` (`production.ERROR:`) or `(`; and, as a line's first token only, `Error:` in any case.
fn level_word(t: &[u8], first: bool) -> bool {
    use logtrim_core::record::level::normalize;
    for key in [&b"level="[..], b"lvl=", b"severity=", b"loglevel="] {
        if let Some(v) = t.strip_prefix(key) {
            let v = v.strip_prefix(b"\"").unwrap_or(v);
            let v = v.strip_suffix(b"\"").unwrap_or(v);
            return normalize(v).is_some();
        }
    }
    let alpha_run = |s: &[u8]| s.iter().position(|b| !b.is_ascii_alphabetic()).unwrap_or(s.len());
    if let Some((&open, rest)) = t.split_first()
        && matches!(open, b'[' | b'<')
    {
        let n = alpha_run(rest);
        let close = if open == b'[' { b']' } else { b'>' };
        return n > 0 && rest.get(n) == Some(&close) && normalize(&rest[..n]).is_some();
    }
    let body = t.strip_prefix(b"(").unwrap_or(t);
    // `production.ERROR`: skip a lower-case prefix ending in a dot.
    let body = match body.iter().position(|&b| b == b'.') {
        Some(dot) if body[..dot].iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-') => &body[dot + 1..],
        _ => body,
    };
    let n = alpha_run(body);
    let after = body.get(n).copied();
    let word = &body[..n];
    if n > 0 && word.iter().all(u8::is_ascii_uppercase) && after.is_none_or(|b| matches!(b, b':' | b',' | b')' | b'[' | b']')) {
        return normalize(word).is_some();
    }
    first && n > 0 && after == Some(b':') && n + 1 == t.len() && normalize(word).is_some()
}

/// Walks the token `t` as pieces: literal text and variables, neighbouring variables joined into one.
fn pieces<'a>(t: &'a [u8], words: &[Word], mut emit: impl FnMut(Piece<'a>)) {
    let mut at = 0usize;
    let mut k = 0;
    while k < words.len() {
        let w = words[k];
        if !w.var {
            k += 1;
            continue;
        }
        // A run of variable words: from this one to the last variable before a literal word.
        let mut last = k;
        while last + 1 < words.len() && words[last + 1].var {
            last += 1;
        }
        let mut s = w.start as usize;
        // A sign in front of a number belongs to it, unless it joins two words (`part-00296`).
        if s > at && matches!(t[s - 1], b'-' | b'+') && (s - 1 == 0 || !is_word(t[s - 2])) {
            s -= 1;
        }
        if s > at {
            emit(Piece::Lit(&t[at..s]));
        }
        emit(Piece::Var);
        at = words[last].end as usize;
        k = last + 1;
    }
    if at < t.len() {
        emit(Piece::Lit(&t[at..]));
    }
}

/// The shape of one token as text, variables written `<*>` (for templates shown to people).
pub fn shape_text(tokenizer: &mut Tokenizer, token: &[u8]) -> String {
    let mut out = String::new();
    shape_of(&mut tokenizer.words, token, |p| match p {
        Piece::Lit(s) => out.push_str(&String::from_utf8_lossy(s)),
        Piece::Var => out.push_str(VAR),
    });
    out
}

/// The pieces of one token's shape, for the patterns rules match templates with.
pub fn shape_pieces<'a>(tokenizer: &mut Tokenizer, token: &'a [u8]) -> Vec<Piece<'a>> {
    let mut out = Vec::new();
    shape_of(&mut tokenizer.words, token, |p| out.push(p));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each token's shape as text; `H` for a header token.
    fn shapes(msg: &str) -> Vec<String> {
        let mut t = Tokenizer::default();
        let mut toks = Vec::new();
        t.tokenize(msg.as_bytes(), 128, &mut toks);
        toks.iter()
            .map(|k| {
                let s = &msg.as_bytes()[k.start as usize..k.end as usize];
                if k.shape == header_shape() {
                    "H".to_string()
                } else if k.list || is_calendar(s.split(|b| *b == b' ').next().unwrap_or(s)) && k.masked {
                    VAR.to_string()
                } else {
                    shape_text(&mut t, s)
                }
            })
            .collect()
    }

    fn same_shape(a: &str, b: &str) -> bool {
        let mut t = Tokenizer::default();
        let (mut x, mut y) = (Vec::new(), Vec::new());
        t.tokenize(a.as_bytes(), 128, &mut x);
        t.tokenize(b.as_bytes(), 128, &mut y);
        x.len() == y.len() && x.iter().zip(&y).all(|(p, q)| p.shape == q.shape)
    }

    #[test]
    fn numbers_ids_and_addresses_are_variables() {
        assert_eq!(
            shapes("PacketResponder 1 for block blk_-6952295868487656571 terminating"),
            ["PacketResponder", "<*>", "for", "block", "blk_<*>", "terminating"]
        );
        assert_eq!(shapes("from 10.251.73.220:50010 /10.250.19.102:54106"), ["from", "<*>", "/<*>"]);
        assert_eq!(shapes("part-00296. subdir58"), ["<*>.", "<*>"]);
        assert_eq!(shapes("attempt_1445144423722_0020_m_000002_0"), ["attempt_<*>"]);
        assert_eq!(shapes("id=4f0c2a1e-9b7d-4c3e-abcd-0123456789ab"), ["id=<*>"]);
        assert_eq!(shapes("took 33.598849ms and 12µs"), ["took", "<*>", "and", "<*>"]);
        assert_eq!(shapes("(200) HTTP/1.1\""), ["(<*>)", "HTTP/<*>\""]);
        assert_eq!(shapes("keyId: -127633188)"), ["keyId:", "<*>)"]);
        assert_eq!(shapes("Resolved MININT-FNANLI5.fareast.corp.example.com to /default-rack"), ["Resolved", "<*>", "to", "/default-rack"]);
        assert_eq!(shapes("at jk2_init() ok"), ["at", "<*>_init()", "ok"]);
        assert!(same_shape("\tat com.example.Foo.bar(Foo.java:212)", "  at org.x.Y$Z.run(Y.kt:9)"));
        // An id without a digit is still one when it is long hex.
        assert_eq!(shapes("id deadbeefcafe"), ["id", "<*>"]);
    }

    #[test]
    fn paths_are_variables_and_single_slashes_are_not() {
        assert_eq!(shapes("rule: /var/www/html/"), ["rule:", "<*>"]);
        assert_eq!(shapes("at (/var/lib/nova/_base/a489c8):"), ["at", "(<*>):"]);
        assert_eq!(shapes("path=/v1/charges x"), ["path=<*>", "x"]);
        assert_eq!(shapes("allocate /user/root/rand/_temporary/part-00296. blk_1"), ["allocate", "<*>.", "blk_<*>"]);
        assert!(same_shape("GET /latest/meta-data/ HTTP/1.1", "GET /v2/54fadb/servers/detail HTTP/1.1"));
        assert_eq!(shapes("to /default-rack as application/json"), ["to", "/default-rack", "as", "application/json"]);
        assert!(same_shape("GET /v2/54fadb/servers/detail", "GET /v2/e9746/os-server-external-events"));
    }

    #[test]
    fn same_event_same_shape() {
        assert!(same_shape("blk_-42 ok", "blk_7 ok"));
        assert!(same_shape("at 2026-11-22T10:00:00.123Z", "at 2025-01-02T23:59:59Z"));
        assert!(!same_shape("VM Started", "VM Paused"));
        assert!(!same_shape("a b", "a b c"));
        // A list of ids is one token, however long.
        assert!(same_shape("ask 10.0.0.1:50010 to delete blk_1", "ask 10.0.0.2:50010 to delete blk_-1 blk_2 blk_3"));
    }

    #[test]
    fn pairs_keep_their_key() {
        assert_eq!(
            shapes("msg=\"charge created\" method=GET ipFamily=\"IPv4\" ruser= a=b=c"),
            ["msg=\"charge", "created\"", "method=<*>", "ipFamily=<*>", "ruser=", "a=<*>"]
        );
        assert!(same_shape("x method=GET path=/healthz", "x method=POST path=/v1/charges"));
    }

    #[test]
    fn dates_with_names_are_one_variable() {
        assert_eq!(shapes("[Sun Dec 04 04:47:44 2005] [notice] jk2_init() ok"), ["H", "H", "<*>_init()", "ok"]);
        assert!(same_shape("[Sun Dec 04 04:47:44 2005] x", "[Mon Jan 16 00:00:01 2006] x"));
        assert!(same_shape("Jun 14 15:16:01 combo sshd", "Jul  2 01:02:03 combo sshd"));
        assert!(same_shape("at Mon Jun 20 03:40:59 2005", "at Sun Jul  3 10:05:25 2005"));
        assert!(same_shape("[22/Nov/2026:10:00:00 +0000] x", "[01/Dec/2025:00:00:00 +0000] x"));
        // A month name in words is a word.
        assert_eq!(shapes("May the job run"), ["May", "the", "job", "run"]);
    }

    #[test]
    fn bracketed_fields_are_one_token() {
        assert_eq!(shapes("thread [IPC Server handler 5 on 62270] done"), ["thread", "[IPC Server handler <*> on <*>]", "done"]);
        assert!(same_shape(
            "[req-38101a0b-2096-447d-96ea-a692162415ae 113d3a99c3da401f 54fadb412c4e40cd - - -] x",
            "[req-11111111-2222-3333-4444-555555555555 99 88 - - -] x"
        ));
        assert_eq!(shapes("x [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - y").len(), 4);
        // An unmatched bracket is an ordinary token.
        assert_eq!(shapes("[oops a b"), ["[oops", "a", "b"]);
    }

    #[test]
    fn the_header_up_to_the_level_and_the_logger_after_it_is_masked() {
        assert_eq!(
            shapes("2015-10-18 18:01:47,978 INFO [AsyncDispatcher event handler] org.apache.Foo: Resolved x to /default-rack"),
            ["H", "H", "H", "H", "Resolved", "x", "to", "/default-rack"]
        );
        assert!(same_shape(
            "2026-11-22 10:00:00,123 INFO  [main] c.e.Foo - Created order",
            "2026-11-22 10:00:00,123 ERROR [http-1] c.e.Bar - Created order"
        ));
        assert!(same_shape(
            "nova-api.log.1 2017-05-16 00:00:00.008 25746 INFO nova.osapi.server [req-1 - -] GET x",
            "nova-api.log.1 2017-05-16 00:00:00.008 25746 INFO nova.metadata.server [-] GET x"
        ));
        assert!(same_shape("level=info msg=x", "level=\"warn\" msg=x"));
        assert!(same_shape(
            "I1122 10:00:00.123456       1 proxier.go:805] \"Syncing\" n=3",
            "E1123 11:00:00.000001       1 config.go:12] \"Syncing\" n=4"
        ));
        assert!(same_shape("WARN[0000] disk low", "INFO[0001] disk low"));
        assert!(same_shape("Error: disk low", "warning: disk low"));
        // Past the first tokens a level word is text, and so is a lower-case one without brackets.
        assert!(!same_shape("a b c d e f g ERROR", "a b c d e f g INFO"));
        assert!(!same_shape("connection error occurred", "connection info occurred"));
        // The header never takes the whole line.
        assert_eq!(shapes("ERROR [main]"), ["H", "[main]"]);
        // A syslog header has no level: the program ends it.
        assert!(same_shape(
            "Jun 15 04:06:19 combo su(pam_unix)[21416]: session closed for user cyrus",
            "Jun 17 20:34:57 combo sshd(pam_unix)[30631]: session closed for user cyrus"
        ));
    }

    #[test]
    fn long_lines_end_in_one_variable_tail() {
        let mut t = Tokenizer::default();
        let mut toks = Vec::new();
        t.tokenize(b"a b c d e f", 3, &mut toks);
        assert_eq!(toks.len(), 3);
        assert!(toks[2].masked);
        let mut other = Vec::new();
        t.tokenize(b"a b x y", 3, &mut other);
        assert_eq!(toks[2].shape, other[2].shape);
    }
}
