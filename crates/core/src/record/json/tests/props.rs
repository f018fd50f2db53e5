//! Property tests: generated and mutated documents must be accepted exactly when serde_json accepts
//! them, and every reported value must be the one serde_json keeps, on both [`scan`] and the fast
//! [`Index::scan`].

use std::fmt::{self, Write as _};

use proptest::prelude::*;
use serde_json::Value;

use super::super::{Index, PathTrie, Raw, scan, unescape};
use super::serde_ok;

/// A JSON tree as serde_json parsed it, keeping duplicate keys (a `Value` keeps only the last).
#[derive(Debug, Clone, PartialEq)]
enum Dup {
    Null,
    Bool(bool),
    /// f64 bits, as `Value::as_f64` would give.
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

/// The value at `path` as serde_json sees it: at each level the last member with the key wins.
fn last_at<'a>(v: &'a Dup, path: &[String]) -> Option<&'a Dup> {
    let Some((first, rest)) = path.split_first() else { return Some(v) };
    let Dup::Obj(members) = v else { return None };
    let (_, child) = members.iter().rev().find(|(k, _)| k == first)?;
    last_at(child, rest)
}

fn value_at<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.as_object()?.get(k))
}

fn dup_to_value(d: &Dup) -> Value {
    match d {
        Dup::Null => Value::Null,
        Dup::Bool(b) => Value::Bool(*b),
        Dup::Num(bits) => serde_json::Number::from_f64(f64::from_bits(*bits)).map_or(Value::Null, Value::Number),
        Dup::Str(s) => Value::String(s.clone()),
        Dup::Arr(xs) => Value::Array(xs.iter().map(dup_to_value).collect()),
        Dup::Obj(ms) => Value::Object(ms.iter().map(|(k, v)| (k.clone(), dup_to_value(v))).collect()),
    }
}

/// Numbers compare as f64 so that `1` (u64 in a `Value`) equals `1.0`.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64().map(f64::to_bits) == y.as_f64().map(f64::to_bits),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, a)| y.get(k).is_some_and(|b| same_value(a, b)))
        }
        _ => a == b,
    }
}

fn raw_matches(input: &[u8], raw: Raw, want: &Dup) -> Result<(), String> {
    let range = |s: u32, e: u32| input.get(s as usize..e as usize).ok_or(format!("bad range {s}..{e}"));
    let ok = match (raw, want) {
        (Raw::Null, Dup::Null) => true,
        (Raw::Bool(a), Dup::Bool(b)) => a == *b,
        (Raw::Num(a), Dup::Num(b)) => a.to_bits() == *b,
        (Raw::Str { start, end, escaped }, Dup::Str(s)) => {
            let body = range(start, end)?;
            let mut out = Vec::new();
            unescape(body, &mut out).map_err(|e| e.to_string())?;
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
    /// One fast scanner per test thread, reused like a `View`'s, so that leftovers from one input
    /// would show in the next.
    static INDEX: std::cell::RefCell<Index> = std::cell::RefCell::new(Index::new());
}

/// Scans `input` for `paths` and checks acceptance and every reported value against serde_json;
/// and that the fast [`Index::scan`] gives the exact scanner's result and every one of its reports,
/// in order (if the fast path refuses input the exact scanner accepts, its debug assertion fails).
pub(super) fn compare_with_serde(input: &[u8], paths: &[Vec<String>]) -> Result<(), String> {
    let t = PathTrie::new(paths);
    let mut events = Vec::new();
    let r = scan(input, &t, &mut |id, raw| events.push((id, raw)));
    let mut fast_events = Vec::new();
    let fast = INDEX.with_borrow_mut(|index| index.scan(input, &t, &mut |id, raw| fast_events.push((id, raw))));
    let lossy = String::from_utf8_lossy(input);
    if fast != r || (r.is_ok() && fast_events != events) {
        return Err(format!("fast path {fast:?} {fast_events:?}, exact {r:?} {events:?} on {lossy:?}"));
    }
    let mut last: Vec<Option<Raw>> = vec![None; paths.len()];
    for (id, raw) in events {
        last[id as usize] = (raw != Raw::Missing).then_some(raw);
    }
    if r.is_ok() != serde_ok(input) {
        return Err(format!("scan {r:?} but serde_json ok={} on {lossy:?}", serde_ok(input)));
    }
    if r.is_err() {
        return Ok(());
    }
    let doc: Dup = serde_json::from_slice(input).map_err(|e| e.to_string())?;
    let value: Value = serde_json::from_slice(input).map_err(|e| e.to_string())?;
    for (i, path) in paths.iter().enumerate() {
        let want = last_at(&doc, path);
        match (want, last[i]) {
            (None, None) => {}
            (Some(want), Some(raw)) => {
                raw_matches(input, raw, want).map_err(|e| format!("path {path:?}: {e} in {lossy:?}"))?
            }
            (want, got) => return Err(format!("path {path:?}: got {got:?}, want {want:?} in {lossy:?}")),
        }
        // "Last member per level" is exactly serde_json's last-wins `Value`, duplicate keys or not.
        let via_value = value_at(&value, path);
        let via_scan = want.map(dup_to_value);
        let same = match (via_value, &via_scan) {
            (None, None) => true,
            (Some(a), Some(b)) => same_value(a, b),
            _ => false,
        };
        if !same {
            return Err(format!("path {path:?}: Value has {via_value:?}, scan {via_scan:?}"));
        }
    }
    Ok(())
}

/// A generated JSON document; rendering choices (escaping, whitespace) are part of it.
#[derive(Debug, Clone)]
enum Gen {
    Null,
    Bool(bool),
    Num(String),
    Str(String, u8),
    Arr(Vec<Gen>),
    Obj(Vec<(String, u8, Gen)>),
}

const KEYS: &[&str] = &["a", "b", "log", "lo", "k8s", "é", "😀", "", "q\"", "s\\/", "\n"];

/// Mostly two keys, so that generated paths often exist in generated documents.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![4 => prop::sample::select(&KEYS[..2]), 1 => prop::sample::select(KEYS)].prop_map(str::to_owned)
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| serde_json::to_string(&f).unwrap()),
        "-?(0|[1-9][0-9]{0,24})(\\.[0-9]{1,24})?([eE][+-]?[0-9]{1,2})?",
        "-?[1-9][0-9]{0,3}(\\.[0-9]{1,3})?[eE]\\+?(30[0-9]|29[0-9]|31[0-9])",
    ]
}

fn string() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[a-c\"\\\\/\\x00-\\x1f\\x7f é€😀]{0,8}", key()]
}

fn gen_doc() -> impl Strategy<Value = Gen> {
    let leaf = prop_oneof![
        Just(Gen::Null),
        any::<bool>().prop_map(Gen::Bool),
        number().prop_map(Gen::Num),
        (string(), 0u8..3).prop_map(|(s, m)| Gen::Str(s, m)),
    ];
    let tree = leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Gen::Arr),
            prop::collection::vec((key(), 0u8..3, inner), 0..6).prop_map(Gen::Obj),
        ]
    });
    prop::collection::vec((key(), 0u8..3, tree), 0..7).prop_map(Gen::Obj)
}

fn paths() -> impl Strategy<Value = Vec<Vec<String>>> {
    let path = prop_oneof![9 => prop::collection::vec(key(), 1..4), 1 => Just(vec![])];
    prop::collection::vec(path, 1..6)
}

struct Render {
    out: String,
    /// 0 compact, 1 indented, 2 assorted whitespace everywhere.
    style: u8,
    n: usize,
    indent: usize,
}

impl Render {
    fn ws(&mut self, newline: bool) {
        match self.style {
            0 => {}
            1 if newline => {
                self.out.push('\n');
                self.out.extend(std::iter::repeat_n(' ', 2 * self.indent));
            }
            1 => {}
            _ => {
                const WS: &[&str] = &[" ", "", "\n", "\t", "\r\n", "  \t", ""];
                self.n += 1;
                self.out.push_str(WS[self.n % WS.len()]);
            }
        }
    }

    fn string(&mut self, s: &str, mode: u8) {
        match mode {
            0 => self.out.push_str(&serde_json::to_string(s).unwrap()),
            _ => {
                self.out.push('"');
                for (i, c) in s.chars().enumerate() {
                    let short = match c {
                        '"' => Some("\\\""),
                        '\\' => Some("\\\\"),
                        '/' => Some("\\/"),
                        '\x08' => Some("\\b"),
                        '\x0c' => Some("\\f"),
                        '\n' => Some("\\n"),
                        '\r' => Some("\\r"),
                        '\t' => Some("\\t"),
                        _ => None,
                    };
                    if mode == 1 || i % 2 == 0 || (short.is_none() && c < ' ') {
                        let mut units = [0u16; 2];
                        for u in c.encode_utf16(&mut units) {
                            if i % 3 == 0 {
                                write!(self.out, "\\u{u:04X}").unwrap();
                            } else {
                                write!(self.out, "\\u{u:04x}").unwrap();
                            }
                        }
                    } else if let Some(e) = short {
                        self.out.push_str(e);
                    } else {
                        self.out.push(c);
                    }
                }
                self.out.push('"');
            }
        }
    }

    fn value(&mut self, g: &Gen) {
        match g {
            Gen::Null => self.out.push_str("null"),
            Gen::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Gen::Num(n) => self.out.push_str(n),
            Gen::Str(s, m) => self.string(s, *m),
            Gen::Arr(xs) => {
                self.out.push('[');
                self.indent += 1;
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        self.ws(false);
                        self.out.push(',');
                    }
                    self.ws(true);
                    self.value(x);
                }
                self.indent -= 1;
                self.ws(!xs.is_empty());
                self.out.push(']');
            }
            Gen::Obj(ms) => {
                self.out.push('{');
                self.indent += 1;
                for (i, (k, m, v)) in ms.iter().enumerate() {
                    if i > 0 {
                        self.ws(false);
                        self.out.push(',');
                    }
                    self.ws(true);
                    self.string(k, *m);
                    self.ws(false);
                    self.out.push(':');
                    self.ws(false);
                    if self.style == 1 {
                        self.out.push(' ');
                    }
                    self.value(v);
                }
                self.indent -= 1;
                self.ws(!ms.is_empty());
                self.out.push('}');
            }
        }
    }
}

fn render(g: &Gen, style: u8) -> Vec<u8> {
    let mut r = Render { out: String::new(), style, n: 0, indent: 0 };
    if style == 2 {
        r.out.push_str(" \n");
    }
    r.value(g);
    if style == 2 {
        r.out.push_str("\r\n\t ");
    }
    r.out.into_bytes()
}

fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        any::<u8>(),
        prop::sample::select(
            &[
                0xFF, 0xC0, 0xC3, 0x80, 0xBF, 0xE2, 0xED, 0xF0, 0xF4, b'\\', b'"', 0x00, 0x01, 0x1F, b'\n', b' ',
                b'{', b'}', b'[', b']', b',', b':', b'0', b'1', b'-', b'+', b'.', b'e', b'u', b'd', b'8', b'c',
                b'n', b't',
            ][..]
        ),
    ]
}

/// Fragments that make edits land on the interesting edges of the grammar more often than
/// single random bytes would.
const TOKENS: &[&[u8]] = &[
    b",",
    b",]",
    b",}",
    b"]",
    b"}",
    b"[",
    b"{",
    b":",
    b"\"",
    b"\\",
    b"\\u",
    b"\\ud83d",
    b"\\ude00",
    b"\\uDBFF",
    b"\\udc00",
    b"\\u00e9",
    b"\\u0000",
    b"\\n",
    b"\\x",
    b"d800",
    b"DFFF",
    b"0",
    b"01",
    b"-",
    b"-0",
    b".",
    b"1.",
    b".5",
    b"e",
    b"e+",
    b"E-9",
    b"1e400",
    b"e308",
    b"9",
    b"true",
    b"nul",
    b"null",
    b"\xc3\xa9",
    b"\xe2\x82",
    b"\xed\xa0\x80",
    b"\xf0\x9f\x98\x80",
    b"\xef\xbb\xbf",
    b"\x0c",
    b"\r\n",
    b"\t",
    b" ",
];

fn token() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![interesting_byte().prop_map(|b| vec![b]), prop::sample::select(TOKENS).prop_map(<[u8]>::to_vec),]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn generated_documents_match_serde_json(doc in gen_doc(), style in 0u8..3, paths in paths()) {
        let bytes = render(&doc, style);
        compare_with_serde(&bytes, &paths).map_err(TestCaseError::fail)?;
    }

    /// Every generated document at every offset of the fast path's 64-byte blocks, padded by
    /// whitespace before it or a long string inside it, edited or not.
    #[test]
    fn documents_across_block_boundaries_match_serde_json(
        doc in gen_doc(),
        style in 0u8..3,
        pad in 0usize..130,
        inside in any::<bool>(),
        edit in prop::option::of((any::<prop::sample::Index>(), token())),
        paths in paths(),
    ) {
        let body = render(&doc, style);
        let mut bytes = if inside && body.starts_with(b"{\"") {
            // A first member whose string value moves everything after it.
            let mut b = format!("{{\"pad\":\"{}\",", "x".repeat(pad)).into_bytes();
            b.extend_from_slice(&body[1..]);
            b
        } else {
            let mut b = vec![b' '; pad];
            b.extend_from_slice(&body);
            b
        };
        if let Some((at, t)) = edit {
            let i = at.index(bytes.len() + 1);
            bytes.splice(i..i, t);
        }
        compare_with_serde(&bytes, &paths).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn mutated_documents_are_accepted_exactly_when_serde_json_accepts(
        doc in gen_doc(),
        style in 0u8..3,
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, token()), 1..4),
        paths in paths(),
    ) {
        let mut bytes = render(&doc, style);
        for (at, op, b) in edits {
            let i = at.index(bytes.len() + 1);
            let end = (i + b.len()).min(bytes.len());
            match op {
                // Overwrite, insert, delete.
                0 => drop(bytes.splice(i..end, b)),
                1 => drop(bytes.splice(i..i, b)),
                _ => drop(bytes.drain(i..end)),
            }
        }
        compare_with_serde(&bytes, &paths).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn number_literals_match_serde_json(lit in prop_oneof![
        number(),
        "[-+]?[0-9]{0,22}(\\.[0-9]{0,22})?([eE][-+]?[0-9]{0,12})?",
        "[-+0-9.eE]{1,12}",
    ]) {
        let doc = format!("{{\"a\":{lit},\"b\":[{lit}]}}");
        let paths = [vec!["a".to_string()]];
        compare_with_serde(doc.as_bytes(), &paths).map_err(TestCaseError::fail)?;
    }

    /// Long string bodies (a Firehose record's base64, a stack trace), which the exact scanner searches
    /// 64 bytes a step past their first bytes: one quote, backslash, escape, control or non-ASCII byte
    /// anywhere in them, or none.
    #[test]
    fn long_string_bodies_match_serde_json(
        len in 0usize..400,
        at in any::<prop::sample::Index>(),
        t in prop::option::of(token()),
        fill in prop::sample::select(&b"aZ09+/= ~"[..]),
    ) {
        let mut body = vec![fill; len];
        if let Some(t) = t {
            let i = at.index(len + 1);
            body.splice(i..i, t);
        }
        let mut doc = b"{\"a\":\"".to_vec();
        doc.extend_from_slice(&body);
        doc.extend_from_slice(b"\",\"b\":1}");
        compare_with_serde(&doc, &[vec!["a".to_string()], vec!["b".to_string()]]).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn string_bodies_match_serde_json(
        body in prop::collection::vec(token(), 0..8).prop_map(|t| t.concat()),
    ) {
        let mut doc = b"{\"a\":\"".to_vec();
        doc.extend_from_slice(&body);
        doc.extend_from_slice(b"\",\"");
        doc.extend_from_slice(&body);
        doc.extend_from_slice(b"\":0}");
        let paths = [vec!["a".to_string()], vec![String::from_utf8_lossy(&body).into_owned()]];
        compare_with_serde(&doc, &paths).map_err(TestCaseError::fail)?;
    }
}
