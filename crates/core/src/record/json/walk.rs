//! Stage 2 of the fast path: the JSON grammar over the token starts found by [`super::index`], with the
//! same reports, in the same order, as the exact scanner. Strings cost two steps whatever their length;
//! numbers and literals are read by the exact scanner's own code.
//!
//! The walk only answers "valid, and here are the values" or "give up": any fault sends the record to
//! the exact scanner, which finds the precise error. So the walk may be strict about anything it likes
//! as long as it never accepts what the exact scanner refuses, which the property tests check.

use super::error::at;
use super::scanner::{MAX_DEPTH, Raw, Scanner};
use super::trie::NONE;

/// The walk found the input invalid (or could not be sure): ask the exact scanner.
pub(super) struct GiveUp;

pub(super) struct Walk<'s, 'i, 't, 'f, F> {
    pub(super) s: Scanner<'i, 't, 'f, F>,
    pub(super) tokens: &'s [u32],
    /// The next token.
    pub(super) k: usize,
    /// Offsets of the input's escapes, and the first one not before the last string asked about.
    pub(super) escapes: &'s [u32],
    pub(super) e: usize,
}

impl<F: FnMut(u16, Raw)> Walk<'_, '_, '_, '_, F> {
    /// Walks the whole input: one object, nothing after it.
    pub(super) fn run(&mut self) -> Result<(), GiveUp> {
        if self.byte() != b'{' {
            return Err(GiveUp);
        }
        self.value(0, 0)?;
        if self.k != self.tokens.len() {
            return Err(GiveUp);
        }
        Ok(())
    }

    /// The byte at the next token, or 0 past the last one.
    #[inline(always)]
    fn byte(&self) -> u8 {
        match self.tokens.get(self.k) {
            Some(&p) => self.s.input.get(p as usize).copied().unwrap_or(0),
            None => 0,
        }
    }

    /// Offset of token `k`.
    #[inline(always)]
    fn pos(&self, k: usize) -> Result<usize, GiveUp> {
        self.tokens.get(k).map(|&p| p as usize).ok_or(GiveUp)
    }

    /// The string whose opening quote is the next token: its body range, cursor past the closing quote.
    /// The closing quote is always the following token: nothing inside a string is a token.
    #[inline(always)]
    fn string(&mut self) -> Result<(usize, usize), GiveUp> {
        let start = self.pos(self.k)? + 1;
        let end = self.pos(self.k + 1)?;
        self.k += 2;
        Ok((start, end))
    }

    /// Whether the string body `start..end` has an escape. Asked in input order, so the escape cursor
    /// only moves forward.
    #[inline(always)]
    fn escaped(&mut self, start: usize, end: usize) -> bool {
        while self.escapes.get(self.e).is_some_and(|&x| (x as usize) < start) {
            self.e += 1;
        }
        self.escapes.get(self.e).is_some_and(|&x| (x as usize) < end)
    }

    /// After a number or literal read by the exact scanner (whose cursor is past it): the token is
    /// consumed, and the byte after the scalar must end it. Outside strings every byte that is neither
    /// whitespace nor a token start continues the scalar run before it, so if the scalar is followed
    /// by whitespace or directly by the next token, only whitespace lies between them.
    #[inline(always)]
    fn end_scalar(&mut self) -> Result<(), GiveUp> {
        self.k += 1;
        let end = self.s.pos;
        let next = self.tokens.get(self.k).map_or(self.s.input.len(), |&p| p as usize);
        if end == next || matches!(self.s.input.get(end), Some(b' ' | b'\n' | b'\t' | b'\r')) {
            Ok(())
        } else {
            Err(GiveUp)
        }
    }

    /// A string value whose opening quote is the next token.
    #[inline(always)]
    fn string_value(&mut self, node: u32) -> Result<(), GiveUp> {
        let (s, e) = self.string()?;
        if node != NONE {
            let escaped = self.escaped(s, e);
            self.s.report(node, Raw::Str { start: at(s), end: at(e), escaped });
        }
        Ok(())
    }

    fn value(&mut self, node: u32, depth: u32) -> Result<(), GiveUp> {
        let start = self.pos(self.k)?;
        match self.byte() {
            b'"' => self.string_value(node)?,
            b @ (b'{' | b'[') => {
                if depth >= MAX_DEPTH {
                    return Err(GiveUp);
                }
                self.k += 1;
                if b == b'{' {
                    self.object(self.s.trie.descend(node), depth + 1)?;
                } else {
                    self.array(depth + 1)?;
                }
                if node != NONE {
                    // The closing bracket was the last token consumed.
                    let end = self.pos(self.k - 1)? + 1;
                    let (start, end) = (at(start), at(end));
                    let raw = if b == b'{' { Raw::Object { start, end } } else { Raw::Array { start, end } };
                    self.s.report(node, raw);
                }
            }
            b @ (b't' | b'f' | b'n') => {
                self.s.pos = start;
                let (word, raw): (&'static [u8], Raw) = match b {
                    b't' => (b"true", Raw::Bool(true)),
                    b'f' => (b"false", Raw::Bool(false)),
                    _ => (b"null", Raw::Null),
                };
                self.s.literal(word).map_err(|_| GiveUp)?;
                self.end_scalar()?;
                self.s.report(node, raw);
            }
            b'-' | b'0'..=b'9' => {
                self.s.pos = start;
                let n = self.s.number().map_err(|_| GiveUp)?;
                self.end_scalar()?;
                self.s.report(node, Raw::Num(n));
            }
            _ => return Err(GiveUp),
        }
        Ok(())
    }

    /// Members of an object whose `{` has been consumed; `node` as in the exact scanner.
    fn object(&mut self, node: u32, depth: u32) -> Result<(), GiveUp> {
        match self.byte() {
            b'}' => {
                self.k += 1;
                return Ok(());
            }
            b'"' => {}
            _ => return Err(GiveUp),
        }
        loop {
            let (ks, ke) = self.string()?;
            let child = if node == NONE {
                NONE
            } else {
                let escaped = self.escaped(ks, ke);
                self.s.trie.child(node, &self.s.input[ks..ke], escaped)
            };
            if self.byte() != b':' {
                return Err(GiveUp);
            }
            self.k += 1;
            if child != NONE {
                self.s.enter(child);
            }
            // Most values are strings: read them here rather than through a (recursive, so not
            // inlined) call.
            if self.byte() == b'"' {
                self.string_value(child)?;
            } else {
                self.value(child, depth)?;
            }
            match self.byte() {
                b',' => {
                    self.k += 1;
                    if self.byte() != b'"' {
                        return Err(GiveUp);
                    }
                }
                b'}' => {
                    self.k += 1;
                    return Ok(());
                }
                _ => return Err(GiveUp),
            }
        }
    }

    /// Elements of an array whose `[` has been consumed; nothing inside is reported.
    fn array(&mut self, depth: u32) -> Result<(), GiveUp> {
        if self.byte() == b']' {
            self.k += 1;
            return Ok(());
        }
        loop {
            self.value(NONE, depth)?;
            match self.byte() {
                b',' => self.k += 1,
                b']' => {
                    self.k += 1;
                    return Ok(());
                }
                _ => return Err(GiveUp),
            }
        }
    }
}
