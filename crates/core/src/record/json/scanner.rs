//! The grammar: [`scan`], the exact scanner, which walks a record byte by byte; and [`Index`], which
//! runs the fast path (stage 1 in `index`, the token walk in `walk`) and hands whatever it doubts to
//! [`scan`]. Both report [`Raw`] values.

use super::error::{JsonError, at};
use super::string::{HIGHS, decode_escape, skip_plain};
use super::trie::{NONE, PathTrie};
use super::{index, simd, walk};

/// serde_json refuses a container nested this deep or deeper (its recursion budget is 128 and the
/// check fires when the budget reaches zero), so the top-level object counts as depth 1 and depth
/// 127 is the deepest accepted.
pub(super) const MAX_DEPTH: u32 = 127;

/// A value found by [`scan`]. Ranges are byte offsets into the scanned input, end exclusive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Raw {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, converted to `f64` exactly as serde_json converts it.
    Num(f64),
    /// A string. The range is the body between the quotes, still escaped if `escaped` (it then
    /// contains a backslash; decode it with [`unescape`](super::unescape)).
    Str {
        /// First byte of the body.
        start: u32,
        /// One past the last byte of the body (the closing quote's offset).
        end: u32,
        /// Whether the body contains a backslash escape.
        escaped: bool,
    },
    /// An object; the range includes the braces.
    Object {
        /// Offset of `{`.
        start: u32,
        /// One past the matching `}`.
        end: u32,
    },
    /// An array; the range includes the brackets. Arrays are never searched for paths.
    Array {
        /// Offset of `[`.
        start: u32,
        /// One past the matching `]`.
        end: u32,
    },
    /// No value: a value reported earlier for this path is withdrawn, because a key above it appeared
    /// again (`{"a":{"b":1},"a":null}` has no `a.b`). See [`scan`].
    Missing,
}

/// Scans `input`, which must be one JSON object with optional surrounding JSON whitespace, and
/// calls `found(id, value)` for every value whose key path (through nested objects only, never
/// into arrays) is path `id` of `trie`.
///
/// Every occurrence of a duplicated key is reported, in input order, and when a key on the way to
/// wanted paths appears again, each wanted path below it is first reported as [`Raw::Missing`]: so
/// keeping the last report per id gives exactly serde_json's "last wins" value, where
/// `{"a":{"b":1},"a":{}}` has no `a.b`. (The first occurrence of a key reports no `Missing`: nothing
/// below it can have been reported yet.) An object on a wanted path is reported once its closing
/// brace is seen, i.e. after the values found inside it. On `Err` the values already passed to
/// `found` must be discarded.
pub fn scan(input: &[u8], trie: &PathTrie, found: &mut impl FnMut(u16, Raw)) -> Result<(), JsonError> {
    if u32::try_from(input.len()).is_err() {
        return Err(JsonError::TooLong);
    }
    let mut s = Scanner { input, pos: 0, trie, found, seen: 0 };
    s.skip_ws();
    if s.peek() != b'{' {
        return Err(s.expected("a JSON object"));
    }
    s.value(0, 0)?;
    s.skip_ws();
    if s.pos < input.len() {
        return Err(JsonError::Trailing { at: s.at() });
    }
    Ok(())
}

/// Scans the one JSON value that starts at `from` in `input` (after optional JSON whitespace), with
/// [`scan`]'s checks and reports — paths are below that value, and the empty path names the value
/// itself, whatever its type — and returns the offset just past it. Ranges are offsets into `input`;
/// `depth` counts the containers enclosing the value, for the nesting limit. For a document too large to
/// hold a value per element, read a piece at a time: the caller walks what lies between the values
/// (the Lambda's Firehose event: its `records` array, one record at a time).
pub fn scan_value(input: &[u8], from: usize, depth: u32, trie: &PathTrie, found: &mut impl FnMut(u16, Raw)) -> Result<usize, JsonError> {
    if u32::try_from(input.len()).is_err() {
        return Err(JsonError::TooLong);
    }
    let mut s = Scanner { input, pos: from, trie, found, seen: 0 };
    s.skip_ws();
    s.value(0, depth)?;
    Ok(s.pos)
}

/// Records longer than this go to the exact scanner: the fast path's token list takes 4 bytes per token,
/// and lines this long are too rare for their speed to matter.
const FAST_MAX: usize = 64 << 10;

/// A reusable [`scan`] that is several times faster on typical records: a SIMD pass finds every token
/// start (`index.rs`), then the grammar walks the tokens (`walk.rs`) instead of the bytes. Anything the
/// walk doubts, and every record on CPUs without AVX2, goes to the exact scanner, so results and errors
/// are [`scan`]'s. Keep one per thread and reuse it: the token list is its only allocation.
#[derive(Debug)]
pub struct Index {
    tokens: index::Tokens,
    fast: bool,
    /// The last [`Index::scan`] succeeded on the fast path, so `tokens` describe its input.
    indexed: bool,
}

/// The token starts and escapes of the input of the last successful fast [`Index::scan`]: every quote of
/// every string, every `{ } [ ] : ,`, the first byte of every number and literal, and the backslash of
/// every escape, as offsets in increasing order. Walks over the same record (trimming) use them to
/// jump over strings and containers.
#[derive(Clone, Copy, Debug)]
pub struct Tokens<'a> {
    /// Token starts.
    pub starts: &'a [u32],
    /// Escapes.
    pub escapes: &'a [u32],
}

impl Default for Index {
    fn default() -> Index {
        Index::new()
    }
}

impl Index {
    /// Checks the CPU once.
    pub fn new() -> Index {
        Index { tokens: index::Tokens::default(), fast: simd::has_avx2(), indexed: false }
    }

    /// The tokens of the last input [`Index::scan`] accepted, if it took the fast path.
    pub fn tokens(&self) -> Option<Tokens<'_>> {
        self.indexed.then(|| Tokens { starts: self.tokens.starts(), escapes: &self.tokens.escapes })
    }

    /// [`scan`], with the same reports in the same order and the same errors.
    pub fn scan(&mut self, input: &[u8], trie: &PathTrie, found: &mut impl FnMut(u16, Raw)) -> Result<(), JsonError> {
        self.indexed = false;
        if self.fast && input.len() <= FAST_MAX {
            if index::build(input, &mut self.tokens) == index::Stage1::Tokens {
                let s = Scanner { input, pos: 0, trie, found: &mut *found, seen: 0 };
                let t = &self.tokens;
                let mut walk = walk::Walk { s, tokens: t.starts(), k: 0, escapes: &t.escapes, e: 0 };
                if walk.run().is_ok() {
                    self.indexed = true;
                    return Ok(());
                }
                // The walk may have reported values before giving up: withdraw them all, so that
                // the exact scanner's reports stand alone even if it accepts the input.
                for id in 0..trie.ids {
                    found(id as u16, Raw::Missing);
                }
            }
            let r = scan(input, trie, found);
            debug_assert!(r.is_err(), "the fast path refused JSON the exact scanner accepts: {:?}", String::from_utf8_lossy(input));
            return r;
        }
        scan(input, trie, found)
    }
}

pub(super) struct Scanner<'i, 't, 'f, F> {
    pub(super) input: &'i [u8],
    pub(super) pos: usize,
    pub(super) trie: &'t PathTrie,
    found: &'f mut F,
    /// Bit `n` set: trie node `n` (< 64) with wanted paths below it has been entered before, so entering
    /// it again is a duplicate key. Nodes from 64 on are treated as always seen before.
    seen: u64,
}

impl<F: FnMut(u16, Raw)> Scanner<'_, '_, '_, F> {
    /// The byte at the cursor, or 0 at the end (0 is never valid outside strings, and strings are
    /// not read through `peek`).
    #[inline]
    pub(super) fn peek(&self) -> u8 {
        self.input.get(self.pos).copied().unwrap_or(0)
    }

    pub(super) fn at(&self) -> u32 {
        at(self.pos)
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.input.get(self.pos) {
            self.pos += 1;
        }
    }

    #[cold]
    fn expected(&self, expected: &'static str) -> JsonError {
        if self.pos >= self.input.len() {
            JsonError::Eof { at: self.at() }
        } else {
            JsonError::Expected { at: self.at(), expected }
        }
    }

    /// Called as the value of a member matching trie node `node` (not `NONE`) starts: if the same key
    /// was met before, withdraws every wanted path below it, as serde_json keeps only the last value.
    #[inline]
    pub(super) fn enter(&mut self, node: u32) {
        let Some(n) = self.trie.node(node) else { return };
        if n.below.is_empty() {
            return;
        }
        if node < 64 {
            let bit = 1u64 << node;
            if self.seen & bit == 0 {
                self.seen |= bit;
                return;
            }
        }
        for &id in &n.below {
            (self.found)(id, Raw::Missing);
        }
    }

    #[inline]
    pub(super) fn report(&mut self, node: u32, raw: Raw) {
        if let Some(n) = self.trie.node(node) {
            for &id in &n.ids {
                (self.found)(id, raw);
            }
        }
    }

    /// Parses the value at the cursor (whitespace already skipped). `node` is the trie node of
    /// this value's path, or `NONE`; `depth` counts the containers enclosing it.
    fn value(&mut self, node: u32, depth: u32) -> Result<(), JsonError> {
        let start = self.pos;
        match self.peek() {
            b'"' => {
                self.pos += 1;
                let (s, e, escaped) = self.string()?;
                if node != NONE {
                    self.report(node, Raw::Str { start: at(s), end: at(e), escaped });
                }
            }
            b @ (b'{' | b'[') => {
                if depth >= MAX_DEPTH {
                    return Err(JsonError::TooDeep { at: self.at() });
                }
                self.pos += 1;
                if b == b'{' {
                    self.object(self.trie.descend(node), depth + 1)?;
                } else {
                    self.array(depth + 1)?;
                }
                if node != NONE {
                    let (start, end) = (at(start), self.at());
                    let raw = if b == b'{' { Raw::Object { start, end } } else { Raw::Array { start, end } };
                    self.report(node, raw);
                }
            }
            b't' => {
                self.literal(b"true")?;
                self.report(node, Raw::Bool(true));
            }
            b'f' => {
                self.literal(b"false")?;
                self.report(node, Raw::Bool(false));
            }
            b'n' => {
                self.literal(b"null")?;
                self.report(node, Raw::Null);
            }
            b'-' | b'0'..=b'9' => {
                let n = self.number()?;
                self.report(node, Raw::Num(n));
            }
            _ => return Err(self.expected("a JSON value")),
        }
        Ok(())
    }

    /// Members of an object whose `{` has been consumed. `node` is the trie node to match member
    /// keys against, or `NONE` to only validate.
    fn object(&mut self, node: u32, depth: u32) -> Result<(), JsonError> {
        self.skip_ws();
        match self.peek() {
            b'}' => {
                self.pos += 1;
                return Ok(());
            }
            b'"' => {}
            _ => return Err(self.expected("a string key or '}'")),
        }
        loop {
            // At the key's opening quote.
            self.pos += 1;
            let (ks, ke, escaped) = self.string()?;
            let child = if node == NONE { NONE } else { self.trie.child(node, &self.input[ks..ke], escaped) };
            self.skip_ws();
            if self.peek() != b':' {
                return Err(self.expected("':'"));
            }
            self.pos += 1;
            self.skip_ws();
            if child != NONE {
                self.enter(child);
            }
            self.value(child, depth)?;
            self.skip_ws();
            match self.peek() {
                b',' => {
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() != b'"' {
                        return Err(self.expected("a string key"));
                    }
                }
                b'}' => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.expected("',' or '}'")),
            }
        }
    }

    /// Elements of an array whose `[` has been consumed; nothing inside is reported.
    fn array(&mut self, depth: u32) -> Result<(), JsonError> {
        self.skip_ws();
        if self.peek() == b']' {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.value(NONE, depth)?;
            self.skip_ws();
            match self.peek() {
                b',' => {
                    self.pos += 1;
                    self.skip_ws();
                }
                b']' => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.expected("',' or ']'")),
            }
        }
    }

    /// A string whose opening quote has been consumed; returns the body range and whether it has
    /// escapes, leaving the cursor after the closing quote.
    #[inline]
    fn string(&mut self) -> Result<(usize, usize, bool), JsonError> {
        let input = self.input;
        let start = self.pos;
        let mut i = start;
        let mut escaped = false;
        // OR of the body's bytes: UTF-8 only needs checking if one has the high bit set.
        let mut seen = 0u64;
        loop {
            i = skip_plain(input, i, &mut seen);
            match input.get(i) {
                None => return Err(JsonError::Eof { at: at(input.len()) }),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    i = decode_escape(input, i)?.1;
                }
                Some(&b) if b < 0x20 => return Err(JsonError::Control { at: at(i) }),
                Some(&b) => {
                    seen |= u64::from(b);
                    i += 1;
                }
            }
        }
        self.pos = i + 1;
        let body = &input[start..i];
        if seen & HIGHS != 0
            && let Err(e) = std::str::from_utf8(body)
        {
            return Err(JsonError::Utf8 { at: at(start + e.valid_up_to()) });
        }
        Ok((start, i, escaped))
    }

    pub(super) fn literal(&mut self, word: &'static [u8]) -> Result<(), JsonError> {
        for &w in word {
            if self.peek() != w {
                return Err(self.expected(match word {
                    b"true" => "'true'",
                    b"false" => "'false'",
                    _ => "'null'",
                }));
            }
            self.pos += 1;
        }
        Ok(())
    }
}
