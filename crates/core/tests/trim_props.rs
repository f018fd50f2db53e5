//! Trimming edits bytes; the reference here edits a `serde_json::Value` tree. For random records (compact
//! and pretty-printed, with escapes and multi-byte characters) and random remove/truncate patterns (with
//! globs), the trimmed bytes must be valid JSON equal to the reference: only the named fields changed.

use logtrim_core::record::json::{Index, PathTrie};
use logtrim_core::run::trim::{RateField, TrimPlan, Trimmer};
use proptest::prelude::*;
use serde_json::{Map, Value};

const KEYS: &[&str] = &["a", "b", "log", "kubernetes", "labels", "pod-template-hash", "annotations", "x.y", "ключ", "sample_rate"];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![prop::sample::select(KEYS).prop_map(str::to_string), "[a-c]{1,3}"]
}

fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z ]{0,20}",
        // Escapes (quotes, backslashes, controls), multi-byte characters, long runs.
        prop::collection::vec(prop_oneof![Just("\"".to_string()), Just("\\".to_string()), Just("\n".to_string()), Just("\u{1}".to_string()), Just("é".to_string()), Just("😀".to_string()), "[a-z]{1,30}"], 0..40)
            .prop_map(|v| v.concat()),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        string().prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn record() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(key(), value(), 0..8).prop_map(|m| m.into_iter().collect())
}

/// A field pattern over the same keys; `*` globs within a key.
fn pattern() -> impl Strategy<Value = Vec<String>> {
    let seg = prop_oneof![
        4 => prop::sample::select(KEYS).prop_map(|k| if k.contains('.') { format!("{k:?}") } else { k.to_string() }),
        1 => Just("*".to_string()),
        1 => Just("pod-*".to_string()),
        1 => Just("*a*".to_string()),
        1 => "[a-c]{1,2}",
    ];
    prop::collection::vec(seg, 1..4)
}

// ---- the reference: a Value tree edited by the rules of docs/rules.md -----------------------------------

fn glob(p: &str, k: &str) -> bool {
    let re = format!("^{}$", p.split('*').map(regex::escape).collect::<Vec<_>>().join(".*"));
    regex::Regex::new(&re).unwrap().is_match(k)
}

fn seg_matches(seg: &str, key: &str) -> bool {
    match seg.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(lit) => lit == key,
        None => glob(seg, key),
    }
}

const MARKER: &str = "…[truncated ";

fn truncated(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let digits = s.len().to_string().len();
    let mut cut = max - (MARKER.len() + digits + " bytes]".len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{MARKER}{} bytes]", &s[..cut], s.len() - cut)
}

/// Applies `remove` and `truncate` (patterns as segment lists) to an object at `depth`.
fn reference(obj: &mut Map<String, Value>, remove: &[Vec<String>], truncate: &[(Vec<String>, usize)], depth: usize) {
    let keys: Vec<String> = obj.keys().cloned().collect();
    for k in keys {
        let hit = |p: &Vec<String>| p.len() > depth && seg_matches(&p[depth], &k);
        if remove.iter().any(|p| hit(p) && p.len() == depth + 1) {
            obj.remove(&k);
            continue;
        }
        let max = truncate.iter().filter(|(p, _)| hit(p) && p.len() == depth + 1).map(|(_, m)| *m).min();
        let v = obj.get_mut(&k).unwrap();
        match (max, v) {
            (Some(m), Value::String(s)) => *s = truncated(s, m),
            (_, Value::Object(inner)) => {
                let rem: Vec<Vec<String>> = remove.iter().filter(|p| hit(p) && p.len() > depth + 1).cloned().collect();
                let tr: Vec<(Vec<String>, usize)> = truncate.iter().filter(|(p, _)| hit(p) && p.len() > depth + 1).cloned().collect();
                if !rem.is_empty() || !tr.is_empty() {
                    reference(inner, &rem, &tr, depth + 1);
                }
            }
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn trimming_changes_only_the_named_fields(
        rec in record(),
        remove in prop::collection::vec(pattern(), 0..4),
        truncate in prop::collection::vec((pattern(), 64usize..120), 0..3),
        pretty in any::<bool>(),
        rate in prop::option::of(prop::sample::select(vec![0.01, 0.5, 1.0])),
    ) {
        let text = if pretty { serde_json::to_string_pretty(&rec).unwrap() } else { serde_json::to_string(&rec).unwrap() };
        // The reference reads the same text: serde_json does not round-trip every float it writes.
        let rec: Map<String, Value> = serde_json::from_str(&text).unwrap();
        let joined: Vec<String> = remove.iter().map(|p| p.join(".")).collect();
        let rm: Vec<&str> = joined.iter().map(String::as_str).collect();
        let tjoined: Vec<(String, usize)> = truncate.iter().map(|(p, m)| (p.join("."), *m)).collect();
        let tr: Vec<(&str, usize)> = tjoined.iter().map(|(p, m)| (p.as_str(), *m)).collect();
        let plan = TrimPlan::new(&rm, &tr).unwrap();
        let mut t = Trimmer::default();
        let field = rate.map(|rate| RateField { key: "sample_rate", rate });
        let out = t.apply(text.as_bytes(), Some(&plan), field).map(<[u8]>::to_vec);
        // The same through the tokens of the decide pass's scan (when this CPU has the fast scanner).
        let mut index = Index::new();
        index.scan(text.as_bytes(), &PathTrie::new(&[]), &mut |_, _| {}).unwrap();
        if let Some(tokens) = index.tokens() {
            let via_tokens = t.apply_indexed(text.as_bytes(), Some(tokens), Some(&plan), field).map(<[u8]>::to_vec);
            prop_assert_eq!(&via_tokens, &out, "input: {}", text);
        }

        let mut want = rec.clone();
        reference(&mut want, &remove, &truncate, 0);
        if let Some(r) = rate {
            want.remove("sample_rate");
            // Written in its shortest form: `1`, `0.5`, `0.01`.
            want.insert("sample_rate".into(), serde_json::from_str(&format!("{r}")).unwrap());
        }
        match out {
            Some(bytes) => {
                let got: Value = serde_json::from_slice(&bytes)
                    .unwrap_or_else(|e| panic!("invalid JSON ({e}): {}\nfrom: {text}", String::from_utf8_lossy(&bytes)));
                prop_assert_eq!(got, Value::Object(want), "input: {}", text);
            }
            // Nothing changed: the reference agrees.
            None => prop_assert_eq!(Value::Object(rec), Value::Object(want), "input: {}", text),
        }
    }

    /// Untouched members are copied byte for byte: removing nothing and truncating nothing returns `None`,
    /// and a removal leaves the other members' text (pretty-printed, escaped) as it was.
    #[test]
    fn untouched_bytes_are_copied_verbatim(rec in record()) {
        let text = serde_json::to_string_pretty(&rec).unwrap();
        let mut t = Trimmer::default();
        let plan = TrimPlan::new(&["zzz-not-there"], &[]).unwrap();
        prop_assert!(t.apply(text.as_bytes(), Some(&plan), None).is_none());
        if let Some(first) = rec.keys().next() {
            let quoted = serde_json::to_string(first).unwrap();
            let plan = TrimPlan::new(&[quoted.as_str()], &[]).unwrap();
            let out = t.apply(text.as_bytes(), Some(&plan), None).unwrap().to_vec();
            for (k, v) in rec.iter().skip(1) {
                // Each remaining member appears as pretty-printed at its depth, unchanged.
                let one: Map<String, Value> = [(k.clone(), v.clone())].into_iter().collect();
                let member = serde_json::to_string_pretty(&one).unwrap();
                let inner = member.trim_start_matches('{').trim_end_matches('}').trim();
                prop_assert!(String::from_utf8_lossy(&out).contains(inner), "{inner} not in {}", String::from_utf8_lossy(&out));
            }
        }
    }
}

/// Tokens of a longer record (a caller's mistake) are not used: no slicing past the record's end.
#[test]
fn tokens_of_a_longer_record_are_not_used() {
    let mut index = Index::new();
    let long = format!(r#"{{"a":"{}"}}"#, "x".repeat(100));
    index.scan(long.as_bytes(), &PathTrie::new(&[]), &mut |_, _| {}).unwrap();
    let plan = TrimPlan::new(&[], &[("a", 64)]).unwrap();
    let mut t = Trimmer::default();
    assert_eq!(t.apply_indexed(br#"{"a":"b"}"#, index.tokens(), Some(&plan), None), None);
}
