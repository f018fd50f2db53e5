//! Single-pass JSON object scanner that pulls a few fields out of a record without building a tree.
//!
//! A record is kept or dropped on a handful of fields (`log`, `kubernetes.namespace_name`, …), so
//! building a `serde_json::Value` for every record would spend most of the time allocating maps and
//! strings nobody reads. [`scan`] walks the bytes once, validates all of them, and hands back byte
//! ranges for the values whose key path is in a [`PathTrie`]; string bodies are only decoded (with
//! [`unescape`]) when a rule actually needs them and they contain escapes.
//!
//! Acceptance is deliberately identical to `serde_json::from_slice::<serde_json::Value>` (default
//! features) restricted to objects: a record that serde_json would refuse must be treated as text
//! here too, otherwise rules would see fields in records that other tools call invalid. That is why
//! numbers are parsed with a port of serde_json's own (non-`float_roundtrip`) algorithm rather than
//! `str::parse`: the two disagree on which literals near `f64::MAX` overflow, and on the last bit of
//! some values.

mod error;
mod escape;
mod index;
mod simd;
mod string;
mod trie;
mod walk;

pub use error::JsonError;
use error::at;
pub use escape::{escape_into, escaped_len};
pub use string::unescape;
pub(crate) use string::string_end;
use string::{HIGHS, decode_escape, skip_plain};
pub use trie::PathTrie;
use trie::NONE;

/// serde_json refuses a container nested this deep or deeper (its recursion budget is 128 and the
/// check fires when the budget reaches zero), so the top-level object counts as depth 1 and depth
/// 127 is the deepest accepted.
const MAX_DEPTH: u32 = 127;

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
    /// contains a backslash; decode it with [`unescape`]).
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

struct Scanner<'i, 't, 'f, F> {
    input: &'i [u8],
    pos: usize,
    trie: &'t PathTrie,
    found: &'f mut F,
    /// Bit `n` set: trie node `n` (< 64) with wanted paths below it has been entered before, so entering
    /// it again is a duplicate key. Nodes from 64 on are treated as always seen before.
    seen: u64,
}

impl<F: FnMut(u16, Raw)> Scanner<'_, '_, '_, F> {
    /// The byte at the cursor, or 0 at the end (0 is never valid outside strings, and strings are
    /// not read through `peek`).
    #[inline]
    fn peek(&self) -> u8 {
        self.input.get(self.pos).copied().unwrap_or(0)
    }

    fn at(&self) -> u32 {
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
    fn enter(&mut self, node: u32) {
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
    fn report(&mut self, node: u32, raw: Raw) {
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

    fn literal(&mut self, word: &'static [u8]) -> Result<(), JsonError> {
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

    #[inline]
    fn digit(&self) -> Option<u8> {
        match self.peek() {
            d @ b'0'..=b'9' => Some(d - b'0'),
            _ => None,
        }
    }

    #[cold]
    fn bad_number(&self) -> JsonError {
        if self.pos >= self.input.len() {
            JsonError::Eof { at: self.at() }
        } else {
            JsonError::Number { at: self.at() }
        }
    }

    // The number functions below mirror serde_json 1.0's `parse_integer` & co. (without the
    // `float_roundtrip` feature) step for step, quirks included, so that the same literals are
    // rejected as out of range and the same f64 comes out.

    fn number(&mut self) -> Result<f64, JsonError> {
        let positive = self.peek() != b'-';
        if !positive {
            self.pos += 1;
        }
        match self.digit() {
            Some(0) => {
                self.pos += 1;
                if self.digit().is_some() {
                    return Err(self.bad_number());
                }
                self.after_integer(positive, 0)
            }
            Some(d) => {
                self.pos += 1;
                let mut significand = u64::from(d);
                while let Some(d) = self.digit() {
                    let Some(next) = significand.checked_mul(10).and_then(|s| s.checked_add(u64::from(d))) else {
                        return self.long_integer(positive, significand);
                    };
                    self.pos += 1;
                    significand = next;
                }
                self.after_integer(positive, significand)
            }
            None => Err(self.bad_number()),
        }
    }

    fn after_integer(&mut self, positive: bool, significand: u64) -> Result<f64, JsonError> {
        match self.peek() {
            b'.' => self.decimal(positive, significand, 0),
            b'e' | b'E' => self.exponent(positive, significand, 0),
            // serde_json keeps this as u64/i64; `as_f64` then converts the magnitude like this.
            _ => Ok(if positive { significand as f64 } else { -(significand as f64) }),
        }
    }

    /// An integer part too long for u64: serde_json keeps the first digits and counts the rest as
    /// a power of ten.
    #[cold]
    fn long_integer(&mut self, positive: bool, significand: u64) -> Result<f64, JsonError> {
        let mut exponent = 0i32;
        while self.digit().is_some() {
            self.pos += 1;
            exponent = exponent.saturating_add(1);
        }
        match self.peek() {
            b'.' => self.decimal(positive, significand, exponent),
            b'e' | b'E' => self.exponent(positive, significand, exponent),
            _ => self.f64_from_parts(positive, significand, exponent),
        }
    }

    fn decimal(&mut self, positive: bool, mut significand: u64, exp_before: i32) -> Result<f64, JsonError> {
        self.pos += 1; // '.'
        let mut exp_after = 0i32;
        while let Some(d) = self.digit() {
            let Some(next) = significand.checked_mul(10).and_then(|s| s.checked_add(u64::from(d))) else {
                return self.decimal_overflow(positive, significand, exp_before.saturating_add(exp_after));
            };
            self.pos += 1;
            significand = next;
            exp_after = exp_after.saturating_sub(1);
        }
        if exp_after == 0 {
            return Err(self.bad_number());
        }
        let exponent = exp_before.saturating_add(exp_after);
        match self.peek() {
            b'e' | b'E' => self.exponent(positive, significand, exponent),
            _ => self.f64_from_parts(positive, significand, exponent),
        }
    }

    /// More fraction digits than fit in u64: serde_json ignores the rest.
    #[cold]
    fn decimal_overflow(&mut self, positive: bool, significand: u64, exponent: i32) -> Result<f64, JsonError> {
        while self.digit().is_some() {
            self.pos += 1;
        }
        match self.peek() {
            b'e' | b'E' => self.exponent(positive, significand, exponent),
            _ => self.f64_from_parts(positive, significand, exponent),
        }
    }

    fn exponent(&mut self, positive: bool, significand: u64, starting_exp: i32) -> Result<f64, JsonError> {
        self.pos += 1; // 'e' or 'E'
        let positive_exp = match self.peek() {
            b'+' => {
                self.pos += 1;
                true
            }
            b'-' => {
                self.pos += 1;
                false
            }
            _ => true,
        };
        let Some(first) = self.digit() else { return Err(self.bad_number()) };
        self.pos += 1;
        let mut exp = i32::from(first);
        while let Some(d) = self.digit() {
            self.pos += 1;
            let Some(next) = exp.checked_mul(10).and_then(|e| e.checked_add(i32::from(d))) else {
                return self.exponent_overflow(positive, significand == 0, positive_exp);
            };
            exp = next;
        }
        let exponent = if positive_exp { starting_exp.saturating_add(exp) } else { starting_exp.saturating_sub(exp) };
        self.f64_from_parts(positive, significand, exponent)
    }

    #[cold]
    fn exponent_overflow(&mut self, positive: bool, zero: bool, positive_exp: bool) -> Result<f64, JsonError> {
        if !zero && positive_exp {
            return Err(JsonError::OutOfRange { at: self.at() });
        }
        while self.digit().is_some() {
            self.pos += 1;
        }
        Ok(if positive { 0.0 } else { -0.0 })
    }

    fn f64_from_parts(&self, positive: bool, significand: u64, mut exponent: i32) -> Result<f64, JsonError> {
        let mut f = significand as f64;
        loop {
            match POW10.get(exponent.unsigned_abs() as usize) {
                Some(&pow) => {
                    if exponent >= 0 {
                        f *= pow;
                        if f.is_infinite() {
                            return Err(JsonError::OutOfRange { at: self.at() });
                        }
                    } else {
                        f /= pow;
                    }
                    break;
                }
                None => {
                    if f == 0.0 {
                        break;
                    }
                    if exponent >= 0 {
                        return Err(JsonError::OutOfRange { at: self.at() });
                    }
                    f /= 1e308;
                    exponent += 308;
                }
            }
        }
        Ok(if positive { f } else { -f })
    }
}

// Same table as serde_json's: literals, so each entry is the correctly rounded power of ten.
#[rustfmt::skip]
static POW10: [f64; 309] = [
    1e000, 1e001, 1e002, 1e003, 1e004, 1e005, 1e006, 1e007, 1e008, 1e009,
    1e010, 1e011, 1e012, 1e013, 1e014, 1e015, 1e016, 1e017, 1e018, 1e019,
    1e020, 1e021, 1e022, 1e023, 1e024, 1e025, 1e026, 1e027, 1e028, 1e029,
    1e030, 1e031, 1e032, 1e033, 1e034, 1e035, 1e036, 1e037, 1e038, 1e039,
    1e040, 1e041, 1e042, 1e043, 1e044, 1e045, 1e046, 1e047, 1e048, 1e049,
    1e050, 1e051, 1e052, 1e053, 1e054, 1e055, 1e056, 1e057, 1e058, 1e059,
    1e060, 1e061, 1e062, 1e063, 1e064, 1e065, 1e066, 1e067, 1e068, 1e069,
    1e070, 1e071, 1e072, 1e073, 1e074, 1e075, 1e076, 1e077, 1e078, 1e079,
    1e080, 1e081, 1e082, 1e083, 1e084, 1e085, 1e086, 1e087, 1e088, 1e089,
    1e090, 1e091, 1e092, 1e093, 1e094, 1e095, 1e096, 1e097, 1e098, 1e099,
    1e100, 1e101, 1e102, 1e103, 1e104, 1e105, 1e106, 1e107, 1e108, 1e109,
    1e110, 1e111, 1e112, 1e113, 1e114, 1e115, 1e116, 1e117, 1e118, 1e119,
    1e120, 1e121, 1e122, 1e123, 1e124, 1e125, 1e126, 1e127, 1e128, 1e129,
    1e130, 1e131, 1e132, 1e133, 1e134, 1e135, 1e136, 1e137, 1e138, 1e139,
    1e140, 1e141, 1e142, 1e143, 1e144, 1e145, 1e146, 1e147, 1e148, 1e149,
    1e150, 1e151, 1e152, 1e153, 1e154, 1e155, 1e156, 1e157, 1e158, 1e159,
    1e160, 1e161, 1e162, 1e163, 1e164, 1e165, 1e166, 1e167, 1e168, 1e169,
    1e170, 1e171, 1e172, 1e173, 1e174, 1e175, 1e176, 1e177, 1e178, 1e179,
    1e180, 1e181, 1e182, 1e183, 1e184, 1e185, 1e186, 1e187, 1e188, 1e189,
    1e190, 1e191, 1e192, 1e193, 1e194, 1e195, 1e196, 1e197, 1e198, 1e199,
    1e200, 1e201, 1e202, 1e203, 1e204, 1e205, 1e206, 1e207, 1e208, 1e209,
    1e210, 1e211, 1e212, 1e213, 1e214, 1e215, 1e216, 1e217, 1e218, 1e219,
    1e220, 1e221, 1e222, 1e223, 1e224, 1e225, 1e226, 1e227, 1e228, 1e229,
    1e230, 1e231, 1e232, 1e233, 1e234, 1e235, 1e236, 1e237, 1e238, 1e239,
    1e240, 1e241, 1e242, 1e243, 1e244, 1e245, 1e246, 1e247, 1e248, 1e249,
    1e250, 1e251, 1e252, 1e253, 1e254, 1e255, 1e256, 1e257, 1e258, 1e259,
    1e260, 1e261, 1e262, 1e263, 1e264, 1e265, 1e266, 1e267, 1e268, 1e269,
    1e270, 1e271, 1e272, 1e273, 1e274, 1e275, 1e276, 1e277, 1e278, 1e279,
    1e280, 1e281, 1e282, 1e283, 1e284, 1e285, 1e286, 1e287, 1e288, 1e289,
    1e290, 1e291, 1e292, 1e293, 1e294, 1e295, 1e296, 1e297, 1e298, 1e299,
    1e300, 1e301, 1e302, 1e303, 1e304, 1e305, 1e306, 1e307, 1e308,
];

#[cfg(test)]
mod tests;
