//! App-log level detection (`logtrim_core::record::level`): `detect_text` on text lines, `normalize` on
//! level names, `from_number` on pino/bunyan numbers.
//!
//! Asserts, for any line:
//! - no panic (the detector slices and indexes a lot by hand);
//! - detection reads the header only (docs/rules.md, "Levels"): at most the first KiB of a logfmt line,
//!   plus the one byte after it that says whether a word was cut. So once the line's first word ends
//!   inside its first 1025 bytes, the level of the line is the level of those 1025 bytes, whatever
//!   follows (the first word decides whether the line is logfmt, so it has to be complete);
//! - `normalize` ignores ASCII case, and a level's own name normalizes to that level;
//! - `from_number` maps exactly 10, 20, …, 60 to a level.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logtrim_core::record::level::{self, Level};

/// `LOGFMT_SPAN` (1024) plus the byte after it, the most `detect_text` may read of a line whose first
/// word ends before it.
const READ: usize = 1025;

fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Whether the first word of `s` is followed by a separator inside `s`.
fn first_word_ends(s: &[u8]) -> bool {
    match s.iter().position(|&b| !is_sep(b)) {
        Some(start) => s[start..].iter().any(|&b| is_sep(b)),
        None => false,
    }
}

fuzz_target!(|line: &[u8]| {
    let whole = level::detect_text(line);
    if line.len() > READ && first_word_ends(&line[..READ]) {
        let head = level::detect_text(&line[..READ]);
        assert_eq!(whole, head, "the level depends on bytes past the first {READ}");
    }

    // Level names, from the first word of the line.
    let word = line.split(|&b| is_sep(b)).find(|w| !w.is_empty()).unwrap_or_default();
    let n = level::normalize(word);
    assert_eq!(n, level::normalize(&word.to_ascii_uppercase()), "normalize depends on case");
    assert_eq!(n, level::normalize(&word.to_ascii_lowercase()), "normalize depends on case");
    if let Some(l) = n {
        assert_eq!(level::normalize(l.name().as_bytes()), Some(l), "a level's own name does not normalize to it");
    }

    // Numbers: the first 8 bytes as an f64 (any bit pattern: NaN, infinities, -0, fractions).
    if let Some(bytes) = line.get(..8) {
        let x = f64::from_le_bytes(bytes.try_into().expect("8 bytes"));
        let want = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
            .iter()
            .zip([Level::Trace, Level::Debug, Level::Info, Level::Warn, Level::Error, Level::Fatal])
            .find(|(v, _)| **v == x)
            .map(|(_, l)| l);
        assert_eq!(level::from_number(x), want, "from_number({x:?})");
    }
});
