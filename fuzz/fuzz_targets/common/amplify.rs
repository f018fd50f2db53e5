//! Deep nesting from short inputs, for the rule targets: a fuzzer's inputs are short, and the limits
//! that keep nesting from overflowing the stack (issue 15, finding F1) must hold thousands of levels
//! past them.

/// How deep the amplified inputs nest at most.
pub fn nesting() -> usize {
    50_000
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
