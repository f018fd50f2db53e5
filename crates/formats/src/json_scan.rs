//! A minimal, non-validating JSON scanner for the few shapes framing needs to recognise
//! (Docker json-file objects, Fluent Bit `[ts, {..}]` arrays).
//!
//! Full parsing is the rule engine's job; here we only need spans of top-level string
//! values without allocating. Nesting is skipped by counting brackets (no recursion, so
//! hostile input cannot overflow the stack).

use memchr::memchr2;

/// Index of the first non-whitespace byte at or after `i` (or `s.len()`).
pub(crate) fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// `s` without trailing JSON whitespace.
pub(crate) fn trim_end(s: &[u8]) -> &[u8] {
    let mut e = s.len();
    while e > 0 && matches!(s[e - 1], b' ' | b'\t' | b'\n' | b'\r') {
        e -= 1;
    }
    &s[..e]
}

/// For a string starting at `s[i] == '"'`, the index just past its closing quote.
pub(crate) fn skip_string(s: &[u8], i: usize) -> Option<usize> {
    debug_assert_eq!(s.get(i), Some(&b'"'));
    let mut p = i + 1;
    loop {
        let k = p + memchr2(b'"', b'\\', s.get(p..)?)?;
        if s[k] == b'"' {
            return Some(k + 1);
        }
        p = k + 2;
    }
}

/// Index just past the JSON value starting at `s[i]` (after whitespace); None if there is none.
pub(crate) fn skip_value(s: &[u8], i: usize) -> Option<usize> {
    let i = skip_ws(s, i);
    match *s.get(i)? {
        b'"' => skip_string(s, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut p = i;
            while p < s.len() {
                match s[p] {
                    b'"' => {
                        p = skip_string(s, p)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(p + 1);
                        }
                    }
                    _ => {}
                }
                p += 1;
            }
            None
        }
        _ => {
            let e = s[i..]
                .iter()
                .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
                .map_or(s.len(), |n| i + n);
            (e > i).then_some(e)
        }
    }
}

/// A top-level member value of an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    /// A string; the span is its escaped content, between the quotes.
    Str(usize, usize),
    /// Anything else (number, object, array, literal).
    Other,
}

/// Calls `each(raw_key, value)` for every member of the object that makes up all of `s`
/// (surrounding whitespace allowed). Returns None if `s` is not shaped like one object.
pub(crate) fn for_each_member(s: &[u8], mut each: impl FnMut(&[u8], Value)) -> Option<()> {
    let mut i = skip_ws(s, 0);
    if s.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(s, i + 1);
    if s.get(i) == Some(&b'}') {
        return (skip_ws(s, i + 1) == s.len()).then_some(());
    }
    loop {
        if s.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = skip_string(s, i)?;
        let key = &s[i + 1..key_end - 1];
        i = skip_ws(s, key_end);
        if s.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(s, i + 1);
        let v_end = skip_value(s, i)?;
        let v = if s[i] == b'"' {
            Value::Str(i + 1, v_end - 1)
        } else {
            Value::Other
        };
        each(key, v);
        i = skip_ws(s, v_end);
        match s.get(i)? {
            b',' => i = skip_ws(s, i + 1),
            b'}' => return (skip_ws(s, i + 1) == s.len()).then_some(()),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members() {
        let s = br#" {"a":"x\"y","b":{"c":[1,"}"]},"d":-1.5e3 , "e":true} "#;
        let mut got = Vec::new();
        for_each_member(s, |k, v| {
            got.push((String::from_utf8(k.to_vec()).unwrap(), v))
        })
        .unwrap();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].0, "a");
        let Value::Str(a, b) = got[0].1 else { panic!() };
        assert_eq!(&s[a..b], br#"x\"y"#);
        assert_eq!(got[1].1, Value::Other);
        assert!(for_each_member(b"{}", |_, _| {}).is_some());
        for bad in [
            &b"{"[..],
            b"{\"a\"}",
            b"{\"a\":}",
            b"{\"a\":1,}",
            b"{\"a\":1} x",
            b"[1]",
            b"{\"a\":\"x}",
            b"{\"a\":1 \"b\":2}",
        ] {
            assert!(
                for_each_member(bad, |_, _| {}).is_none(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn values() {
        assert_eq!(skip_value(b"[[1,{}],{}]", 0), Some(11));
        assert_eq!(skip_value(b"  123,", 0), Some(5));
        assert_eq!(skip_value(b"\"a\\\\\"b", 0), Some(5));
        assert_eq!(skip_value(b"[\"]", 0), None);
        assert_eq!(skip_value(b"", 0), None);
        assert_eq!(skip_value(b",", 0), None);
    }
}
