//! Known findings, being fixed elsewhere or recorded in FUZZING.md, that the targets step around by
//! default so that a run explores past them instead of stopping at the first one again and again.
//! `LOGTRIM_FUZZ_STRICT=1` turns every such exception off (to check that a fix has landed, or to see
//! the findings themselves); each use says which finding it is.

use std::sync::OnceLock;

/// Whether known findings are to fail the run like any other.
pub fn strict() -> bool {
    static STRICT: OnceLock<bool> = OnceLock::new();
    *STRICT.get_or_init(|| std::env::var_os("LOGTRIM_FUZZ_STRICT").is_some_and(|v| v != "0" && !v.is_empty()))
}

/// Nesting for the amplified inputs of the rule targets (`amplify`): deep enough to exercise recursion in
/// the parser, compiler and engine, and, by default, below the depth at which the known stack overflow of
/// deeply nested rules (finding F1, being fixed elsewhere) kills the process (about 5,000 levels of
/// parentheses on an 8 MiB stack). Strict mode nests 50,000 deep, where the fix must hold.
pub fn nesting() -> usize {
    if strict() { 50_000 } else { 1_500 }
}

/// Short inputs cannot nest deeply, so the rule targets also read an amplified form: an input
/// `\x01 s A \0 B \0 C \0 P \0 S` stands for `P`, `A` repeated `n` times, `B`, `C` repeated `n` times,
/// `S` (for example `(`, `a == 1`, `)`, inside a rule file's `when:` given by `P` and `S`), with `n`
/// from `nesting()` scaled by the byte `s`. Missing parts are empty. Other inputs are returned as they
/// are.
pub fn amplify(data: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let Some((&1, rest)) = data.split_first() else { return data.into() };
    let Some((&scale, rest)) = rest.split_first() else { return data.into() };
    let mut parts = rest.splitn(5, |&b| b == 0);
    let mut next = || parts.next().unwrap_or_default();
    let (a, b, c, p, s) = (next(), next(), next(), next(), next());
    let n = nesting() * (usize::from(scale) + 1) / 256;
    // Bounded so that one input stays fast: a few hundred KiB at most.
    let n = n.min(400_000 / (a.len() + c.len()).max(1));
    let mut out = Vec::with_capacity(n * (a.len() + c.len()) + b.len() + p.len() + s.len());
    out.extend_from_slice(p);
    for _ in 0..n {
        out.extend_from_slice(a);
    }
    out.extend_from_slice(b);
    for _ in 0..n {
        out.extend_from_slice(c);
    }
    out.extend_from_slice(s);
    out.into()
}
