//! Why an input was refused, and where.

use super::scanner::MAX_DEPTH;

/// Why an input is not a JSON object serde_json would accept; `at` is the byte offset of the
/// problem (into the scanned input, or into the body given to [`unescape`](super::unescape)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// The input does not fit the `u32` offsets of [`Raw`](super::Raw).
    #[error("input longer than 4 GiB")]
    TooLong,
    /// The input ended inside a value.
    #[error("unexpected end of JSON input at byte {at}")]
    Eof {
        /// Offset of the end.
        at: u32,
    },
    /// A byte that cannot start or continue the current JSON construct.
    #[error("expected {expected} at byte {at}")]
    Expected {
        /// Offset of the offending byte.
        at: u32,
        /// What the grammar allows there.
        expected: &'static str,
    },
    /// A malformed number (leading zero, missing digits, …).
    #[error("invalid number at byte {at}")]
    Number {
        /// Offset of the offending byte.
        at: u32,
    },
    /// A number too large for `f64`.
    #[error("number out of range at byte {at}")]
    OutOfRange {
        /// Offset just past the number's digits read so far.
        at: u32,
    },
    /// A backslash not followed by a valid JSON escape.
    #[error("invalid escape at byte {at}")]
    Escape {
        /// Offset of the backslash.
        at: u32,
    },
    /// A `\u` escape encoding half of a UTF-16 surrogate pair without the other half.
    #[error("unpaired surrogate in \\u escape at byte {at}")]
    Surrogate {
        /// Offset of the backslash.
        at: u32,
    },
    /// A raw control character (below U+0020) inside a string.
    #[error("control character in string at byte {at}")]
    Control {
        /// Offset of the control character.
        at: u32,
    },
    /// Bytes that are not UTF-8 inside a string.
    #[error("invalid UTF-8 at byte {at}")]
    Utf8 {
        /// Offset of the first invalid byte.
        at: u32,
    },
    /// Arrays and objects nested deeper than serde_json allows.
    #[error("JSON nested deeper than {MAX_DEPTH} levels at byte {at}")]
    TooDeep {
        /// Offset of the opening bracket that is one level too deep.
        at: u32,
    },
    /// Something other than whitespace after the top-level object.
    #[error("trailing characters after JSON object at byte {at}")]
    Trailing {
        /// Offset of the first trailing byte.
        at: u32,
    },
}

impl JsonError {
    /// Byte offset of the problem (0 for [`JsonError::TooLong`]).
    pub fn offset(&self) -> u32 {
        match *self {
            JsonError::TooLong => 0,
            JsonError::Eof { at }
            | JsonError::Expected { at, .. }
            | JsonError::Number { at }
            | JsonError::OutOfRange { at }
            | JsonError::Escape { at }
            | JsonError::Surrogate { at }
            | JsonError::Control { at }
            | JsonError::Utf8 { at }
            | JsonError::TooDeep { at }
            | JsonError::Trailing { at } => at,
        }
    }
}

pub(super) fn at(i: usize) -> u32 {
    // Offsets never exceed the input length, which `scan` has checked fits in u32; bodies passed
    // to `unescape` by callers come from such inputs.
    u32::try_from(i).unwrap_or(u32::MAX)
}
