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
//!
//! The pieces, one module each: `scanner` (the grammar: [`scan`], [`Index`], [`Raw`]), `trie`
//! ([`PathTrie`]), `string` (string bodies: finding their end, escapes, [`unescape`]), `number` (the
//! port of serde_json's number parser), `error` ([`JsonError`]), `escape` (the other direction:
//! [`escape_into`]), `index` and `walk` (the two stages of [`Index`]'s fast path) and `simd` (the
//! SSE2 and AVX2 kernels, and the one check of what this CPU has).

mod error;
mod escape;
pub mod raw;
mod index;
mod number;
mod scanner;
mod simd;
mod string;
mod trie;
mod walk;

#[cfg(test)]
mod tests;

pub use error::JsonError;
pub use escape::{escape_into, escaped_len, push_json_str};
pub use scanner::{Index, Raw, Tokens, scan, scan_value};
pub(crate) use string::string_end;
pub use string::unescape;
pub use trie::PathTrie;
