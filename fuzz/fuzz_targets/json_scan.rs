//! The JSON object scanner (`logtrim_core::record::json`), differentially against serde_json.
//!
//! The scanner promises (its module docs) acceptance identical to
//! `serde_json::from_slice::<serde_json::Value>` restricted to objects, and values equal to serde_json's
//! "last member wins" values. Both promises are checked on every input, for both entry points: the exact
//! `scan` and the SIMD `Index::scan`, which must also give the exact scanner's result and reports in
//! the same order.
//!
//! Asserts, for any bytes:
//! - `scan` is `Ok` exactly when serde_json parses the bytes as an object;
//! - `Index::scan` returns the same `Result` (the same error, at the same offset) and, when `Ok`, the same
//!   reports in the same order; (the fuzz build has debug assertions on, which also arms the scanner's
//!   own check that the fast path never refuses what the exact scanner accepts);
//! - an error's offset lies inside the input (or at its end);
//! - on `Ok`, for every wanted path, the last report (a `Missing` report withdraws) is serde_json's value
//!   at that path: same null/bool, same f64 bits, a string whose `unescape`d body is serde_json's string
//!   (and `escaped` exactly when the body has a backslash), an object/array range that serde_json parses
//!   to the same tree (duplicate keys kept); no report where serde_json has no value;
//! - every reported range lies inside the input.
//!
//! The wanted paths are taken from the document itself (every key path through objects, to depth 4),
//! plus a few that usually do not exist, so that most reports are exercised on real members.
#![no_main]

use std::cell::RefCell;
use std::fmt;

use libfuzzer_sys::fuzz_target;
use logtrim_core::record::json::{Index, JsonError, PathTrie, Raw, scan, unescape};

/// A JSON tree as serde_json parses it, keeping duplicate keys in order (a `Value` keeps only the last).
#[derive(Debug, Clone, PartialEq)]
enum Dup {
    Null,
    Bool(bool),
    /// The f64 bits `Value::as_f64` would give (integers are converted like serde_json converts them).
    Num(u64),
    Str(String),
    Arr(Vec<Dup>),
    Obj(Vec<(String, Dup)>),
}

impl<'de> serde::Deserialize<'de> for Dup {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Dup, D::Error> {
        d.deserialize_any(DupVisitor)
    }
}

struct DupVisitor;

impl<'de> serde::de::Visitor<'de> for DupVisitor {
    type Value = Dup;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Dup, E> {
        Ok(Dup::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Dup, E> {
        Ok(Dup::Bool(b))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Dup, E> {
        Ok(Dup::Num((n as f64).to_bits()))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Dup, E> {
        Ok(Dup::Num((n as f64).to_bits()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Dup, E> {
        Ok(Dup::Num(n.to_bits()))
    }
    fn visit_str<E>(self, s: &str) -> Result<Dup, E> {
        Ok(Dup::Str(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Dup, E> {
        Ok(Dup::Str(s))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Dup, A::Error> {
        let mut v = Vec::new();
        while let Some(e) = a.next_element()? {
            v.push(e);
        }
        Ok(Dup::Arr(v))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Dup, A::Error> {
        let mut v = Vec::new();
        while let Some(e) = a.next_entry()? {
            v.push(e);
        }
        Ok(Dup::Obj(v))
    }
}

/// serde_json's value at `path`: at each level the last member with the key wins, as in a `Value`.
fn last_at<'a>(v: &'a Dup, path: &[String]) -> Option<&'a Dup> {
    let Some((first, rest)) = path.split_first() else { return Some(v) };
    let Dup::Obj(members) = v else { return None };
    let (_, child) = members.iter().rev().find(|(k, _)| k == first)?;
    last_at(child, rest)
}

/// Every key path through objects below `v`, to `depth` keys, deduplicated, at most `max` of them.
fn collect_paths(v: &Dup, prefix: &mut Vec<String>, depth: usize, max: usize, out: &mut Vec<Vec<String>>) {
    let Dup::Obj(members) = v else { return };
    for (k, child) in members {
        if out.len() >= max {
            return;
        }
        prefix.push(k.clone());
        if !out.contains(prefix) {
            out.push(prefix.clone());
        }
        if depth > 1 {
            collect_paths(child, prefix, depth - 1, max, out);
        }
        prefix.pop();
    }
}

fn check_raw(input: &[u8], raw: Raw, want: &Dup) -> Result<(), String> {
    let range = |s: u32, e: u32| {
        input.get(s as usize..e as usize).ok_or_else(|| format!("range {s}..{e} outside the {}-byte input", input.len()))
    };
    let ok = match (raw, want) {
        (Raw::Null, Dup::Null) => true,
        (Raw::Bool(a), Dup::Bool(b)) => a == *b,
        (Raw::Num(a), Dup::Num(b)) => a.to_bits() == *b,
        (Raw::Str { start, end, escaped }, Dup::Str(s)) => {
            let body = range(start, end)?;
            let mut out = Vec::new();
            unescape(body, &mut out).map_err(|e| format!("unescape of a reported string failed: {e}"))?;
            escaped == body.contains(&b'\\') && out == s.as_bytes()
        }
        (Raw::Object { start, end }, Dup::Obj(_)) | (Raw::Array { start, end }, Dup::Arr(_)) => {
            let text = range(start, end)?;
            serde_json::from_slice::<Dup>(text).is_ok_and(|d| d == *want)
        }
        _ => false,
    };
    if ok { Ok(()) } else { Err(format!("reported {raw:?}, serde_json has {want:?}")) }
}

thread_local! {
    /// One fast scanner reused across inputs, as a `View` reuses it, so that state left over from one
    /// input would show up in the next.
    static INDEX: RefCell<Index> = RefCell::new(Index::new());
}

fn check(input: &[u8]) -> Result<(), String> {
    let serde: Result<Dup, _> = serde_json::from_slice(input);
    let serde_object = matches!(serde, Ok(Dup::Obj(_)));

    let mut paths: Vec<Vec<String>> = Vec::new();
    if let Ok(doc) = &serde {
        collect_paths(doc, &mut Vec::new(), 4, 48, &mut paths);
    }
    // Paths that are usually absent, one through an existing key, and the top-level object itself.
    paths.push(vec!["log".into()]);
    paths.push(vec!["kubernetes".into(), "namespace_name".into()]);
    if let Some(first) = paths.first().cloned() {
        let mut deeper = first;
        deeper.push("x".into());
        paths.push(deeper);
    }
    paths.push(Vec::new());
    let trie = PathTrie::new(&paths);

    let mut events = Vec::new();
    let exact = scan(input, &trie, &mut |id, raw| events.push((id, raw)));
    let mut fast_events = Vec::new();
    let fast = INDEX.with_borrow_mut(|ix| ix.scan(input, &trie, &mut |id, raw| fast_events.push((id, raw))));

    if exact.is_ok() != serde_object {
        return Err(format!("acceptance differs: scan {exact:?}, serde_json {:?}", serde.as_ref().map(|_| ()).map_err(|e| e.to_string())));
    }
    if fast != exact {
        return Err(format!("Index::scan {fast:?} but scan {exact:?}"));
    }
    if let Err(e) = exact {
        if e != JsonError::TooLong && e.offset() as usize > input.len() {
            return Err(format!("error offset {} past the {}-byte input", e.offset(), input.len()));
        }
        return Ok(());
    }
    if fast_events != events {
        return Err(format!("Index::scan reports {fast_events:?}, scan reports {events:?}"));
    }

    let doc = serde.expect("checked above");
    let mut last: Vec<Option<Raw>> = vec![None; paths.len()];
    for (id, raw) in events {
        let slot = last.get_mut(id as usize).ok_or_else(|| format!("report for unknown path id {id}"))?;
        *slot = (raw != Raw::Missing).then_some(raw);
    }
    for (path, got) in paths.iter().zip(last) {
        match (last_at(&doc, path), got) {
            (None, None) => {}
            (Some(want), Some(raw)) => check_raw(input, raw, want).map_err(|e| format!("path {path:?}: {e}"))?,
            (want, got) => return Err(format!("path {path:?}: scan reports {got:?}, serde_json has {want:?}")),
        }
    }
    Ok(())
}

fuzz_target!(|input: &[u8]| {
    if let Err(e) = check(input) {
        panic!("{e}\ninput: {:?}", String::from_utf8_lossy(input));
    }
});
