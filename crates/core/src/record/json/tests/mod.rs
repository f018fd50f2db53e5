//! Examples of what [`scan`] reports and refuses, and of the decoding around it; the property tests
//! against serde_json are in `props`.

mod props;

use serde_json::Value;

use self::props::compare_with_serde;
use super::*;

fn trie(paths: &[&[&str]]) -> PathTrie {
    let paths: Vec<Vec<String>> = paths.iter().map(|p| p.iter().map(|s| s.to_string()).collect()).collect();
    PathTrie::new(&paths)
}

fn hits(input: &[u8], paths: &[&[&str]]) -> Result<Vec<(u16, Raw)>, JsonError> {
    let mut v = Vec::new();
    scan(input, &trie(paths), &mut |id, raw| v.push((id, raw)))?;
    Ok(v)
}

fn serde_ok(input: &[u8]) -> bool {
    serde_json::from_slice::<Value>(input).is_ok_and(|v| v.is_object())
}

/// The input text a reported value covers.
fn text(input: &[u8], raw: Raw) -> String {
    let (s, e) = match raw {
        Raw::Str { start, end, .. } | Raw::Object { start, end } | Raw::Array { start, end } => (start, end),
        other => panic!("no range in {other:?}"),
    };
    String::from_utf8(input[s as usize..e as usize].to_vec()).unwrap()
}

fn str_raw(input: &[u8], needle: &str, escaped: bool) -> Raw {
    let s = input.windows(needle.len()).position(|w| w == needle.as_bytes()).unwrap();
    Raw::Str { start: s as u32, end: (s + needle.len()) as u32, escaped }
}

#[test]
fn nested_paths() {
    let doc = br#"{"log":"hi","kubernetes":{"pod_name":"p","namespace_name":"ns","labels":{"app":"web"}},"n":3}"#;
    let got = hits(
        doc,
        &[&["kubernetes", "namespace_name"], &["log"], &["kubernetes", "labels", "app"], &["n"], &["missing"]],
    )
    .unwrap();
    assert_eq!(
        got,
        vec![
            (1, str_raw(doc, "hi", false)),
            (0, str_raw(doc, "ns", false)),
            (2, str_raw(doc, "web", false)),
            (3, Raw::Num(3.0)),
        ]
    );
}

#[test]
fn nested_path_only_matches_through_objects_at_the_right_depth() {
    let doc = br#"{"namespace_name":"top","kubernetes":"flat","k":{"kubernetes":{"namespace_name":"deep"}}}"#;
    assert_eq!(hits(doc, &[&["kubernetes", "namespace_name"]]).unwrap(), vec![]);
}

#[test]
fn duplicate_keys_are_all_reported_in_order() {
    let doc = br#"{"a":1,"b":{"c":"x"},"a":"two","b":{"c":"y"},"a":null}"#;
    let got = hits(doc, &[&["a"], &["b", "c"]]).unwrap();
    assert_eq!(
        got,
        vec![
            (0, Raw::Num(1.0)),
            (1, str_raw(doc, "x", false)),
            (0, str_raw(doc, "two", false)),
            // The second `b` withdraws what the first one had below it before its own values come.
            (1, Raw::Missing),
            (1, str_raw(doc, "y", false)),
            (0, Raw::Null),
        ]
    );
}

/// The last report per path, as a consumer of [`scan`] keeps it; `None` for missing.
fn last_values(input: &[u8], paths: &[&[&str]]) -> Vec<Option<Raw>> {
    let mut last = vec![None; paths.len()];
    scan(input, &trie(paths), &mut |id, raw| last[id as usize] = (raw != Raw::Missing).then_some(raw)).unwrap();
    last
}

#[test]
fn a_repeated_key_withdraws_the_paths_below_its_earlier_value() {
    let k8s: &[&[&str]] = &[&["kubernetes", "namespace_name"], &["kubernetes", "labels", "app"], &["log"]];
    // Fluent Bit record with the kubernetes key repeated: serde_json keeps `null`.
    let doc = br#"{"log":"x","kubernetes":{"namespace_name":"kube-system","labels":{"app":"dns"}} , "kubernetes":null}"#;
    assert_eq!(last_values(doc, k8s), vec![None, None, Some(str_raw(doc, "x", false))]);
    // A later object without the inner keys, or a scalar, string or array: nothing below survives.
    for later in [r#"{}"#, r#"{"labels":{}}"#, r#""s""#, "1", "[]", "true", r#"{"labels":[{"app":"web"}]}"#] {
        let doc = format!(r#"{{"kubernetes":{{"namespace_name":"ns","labels":{{"app":"dns"}}}},"kubernetes":{later}}}"#);
        assert_eq!(last_values(doc.as_bytes(), k8s), vec![None, None, None], "{later}");
    }
    // The later copy's own values win, those it lacks are gone.
    let doc = br#"{"kubernetes":{"namespace_name":"v1","labels":{"app":"v2"}},"kubernetes":{"labels":{"app":"v3"}}}"#;
    assert_eq!(last_values(doc, k8s), vec![None, Some(str_raw(doc, "v3", false)), None]);
    // A repeated inner key, and a repeat of a repeat.
    let doc = br#"{"kubernetes":{"labels":{"app":"v1"},"labels":{},"namespace_name":"v2"}}"#;
    assert_eq!(last_values(doc, k8s), vec![Some(str_raw(doc, "v2", false)), None, None]);
    let doc = br#"{"a":{"b":1},"a":{"b":2},"a":{}}"#;
    let got = last_values(doc, &[&["a", "b"], &["a"]]);
    assert_eq!(got[0], None);
    assert_eq!(text(doc, got[1].unwrap()), "{}");
    let doc = br#"{"a":{"b":1},"a":{}}"#;
    assert_eq!(last_values(doc, &[&["a", "b"]]), vec![None]);
    // Withdrawal is by path: a repeated key elsewhere, or a key of the same name deeper, changes nothing.
    let doc = br#"{"a":{"b":1},"c":{"a":{}},"c":2}"#;
    assert_eq!(last_values(doc, &[&["a", "b"]]), vec![Some(Raw::Num(1.0))]);
    // An escaped spelling of the key is the same key.
    let doc = br#"{"a":{"b":1},"a":null}"#;
    assert_eq!(last_values(doc, &[&["a", "b"]]), vec![None]);
}

#[test]
fn withdrawal_works_past_the_first_64_trie_nodes() {
    // Nodes from 64 on are not tracked in the `seen` bits: they withdraw on every entry, which must
    // still give the same answers.
    let names: Vec<String> = (0..70).map(|i| format!("k{i}")).collect();
    let mut paths: Vec<Vec<String>> = names.iter().map(|n| vec![n.clone()]).collect();
    paths.push(vec!["deep".into(), "x".into()]);
    let t = PathTrie::new(&paths);
    let run = |doc: &[u8]| {
        let mut last = vec![None; paths.len()];
        scan(doc, &t, &mut |id, raw| last[id as usize] = (raw != Raw::Missing).then_some(raw)).unwrap();
        last[70]
    };
    assert_eq!(run(br#"{"deep":{"x":1}}"#), Some(Raw::Num(1.0)));
    assert_eq!(run(br#"{"deep":{"x":1},"deep":{}}"#), None);
    assert_eq!(run(br#"{"deep":{},"deep":{"x":2}}"#), Some(Raw::Num(2.0)));
}

#[test]
fn every_stop_byte_at_every_offset_of_the_chunked_scan() {
    // The string scan works in 16- and 8-byte chunks and switches to 64-byte blocks after 32 bytes,
    // finding the end within the block that holds it: put each kind of byte it must stop at or notice
    // at each offset around those boundaries, and in the blocks of longer strings.
    let specials: [&[u8]; 8] = [b"\"", b"\\", b"\\n", b"\x01", b"\x1f", b"\x7f", "\u{e9}".as_bytes(), b"\xff"];
    for len in (0..72).chain([95, 96, 97, 127, 128, 129, 160, 161, 200]) {
        for p in 0..len {
            for sp in specials {
                let mut body = vec![b'a'; len];
                body.splice(p..p + 1, sp.iter().copied());
                let mut doc = b"{\"a\":\"".to_vec();
                doc.extend_from_slice(&body);
                doc.extend_from_slice(b"\",\"b\":1}");
                let paths = [vec!["a".to_string()], vec!["b".to_string()]];
                if let Err(e) = compare_with_serde(&doc, &paths) {
                    panic!("len {len}, {sp:?} at {p}: {e}");
                }
            }
        }
    }
}

#[test]
fn escaped_keys_match_their_decoded_text() {
    let doc = br#"{"lo\u0067":"a","\u00e9t\u00C9":"b","\ud83d\ude00":"c","q\"k":"d","s\/":"e","log\u0000":"no"}"#;
    let got = hits(doc, &[&["log"], &["étÉ"], &["😀"], &["q\"k"], &["s/"]]).unwrap();
    let ids: Vec<u16> = got.iter().map(|h| h.0).collect();
    assert_eq!(ids, vec![0, 1, 2, 3, 4]);
    assert_eq!(text(doc, got[0].1), "a");
    // A raw key never equals a trie key that only matches once decoded.
    assert_eq!(hits(br#"{"lo\\u0067":1}"#, &[&["log"]]).unwrap(), vec![]);
    // Prefixes and extensions of a key do not match.
    assert_eq!(hits(br#"{"lo":1,"logs":2,"lo\u0067s":3,"l":4}"#, &[&["log"]]).unwrap(), vec![]);
}

#[test]
fn escaped_key_on_a_nested_path() {
    let doc = br#"{"k\u0038s":{"n\u0073":"x"}}"#;
    let got = hits(doc, &[&["k8s", "ns"]]).unwrap();
    assert_eq!(got, vec![(0, str_raw(doc, "x", false))]);
}

#[test]
fn arrays_are_not_descended_but_can_be_reported() {
    let doc = br#"{"a":[{"b":1},{"b":2}],"c":[[]]}"#;
    assert_eq!(hits(doc, &[&["a", "b"]]).unwrap(), vec![]);
    let got = hits(doc, &[&["a"], &["c"]]).unwrap();
    assert_eq!(text(doc, got[0].1), r#"[{"b":1},{"b":2}]"#);
    assert!(matches!(got[0].1, Raw::Array { .. }));
    assert_eq!(text(doc, got[1].1), "[[]]");
}

#[test]
fn object_values_are_reported_with_their_range_and_descended() {
    let doc = br#"{ "k" : { "x" : "1" , "y" : { } } , "z" : {} }"#;
    let got = hits(doc, &[&["k"], &["k", "x"], &["k", "y"], &["z"]]).unwrap();
    // Inner values first: an object is reported once its end is known.
    assert_eq!(got.iter().map(|h| h.0).collect::<Vec<_>>(), vec![1, 2, 0, 3]);
    assert_eq!(text(doc, got[0].1), "1");
    assert_eq!(text(doc, got[1].1), "{ }");
    assert_eq!(text(doc, got[2].1), r#"{ "x" : "1" , "y" : { } }"#);
    assert!(matches!(got[2].1, Raw::Object { .. }));
    assert_eq!(text(doc, got[3].1), "{}");
}

#[test]
fn empty_path_reports_the_whole_object() {
    let doc = b" \n{\"a\":1}\t";
    let got = hits(doc, &[&[], &["a"]]).unwrap();
    assert_eq!(got, vec![(1, Raw::Num(1.0)), (0, Raw::Object { start: 2, end: 9 })]);
}

#[test]
fn same_path_twice_reports_both_ids() {
    let got = hits(br#"{"a":true}"#, &[&["a"], &["b"], &["a"]]).unwrap();
    assert_eq!(got, vec![(0, Raw::Bool(true)), (2, Raw::Bool(true))]);
}

#[test]
fn string_ranges_and_escape_flag() {
    let doc = r#"{"a":"","b":"x\ny","c":"\\","d":"plain \u00e9 é"}"#.as_bytes();
    let got = hits(doc, &[&["a"], &["b"], &["c"], &["d"]]).unwrap();
    assert_eq!(got[0].1, Raw::Str { start: 6, end: 6, escaped: false });
    assert_eq!(got[1].1, str_raw(doc, r"x\ny", true));
    assert_eq!(got[2].1, Raw::Str { start: 24, end: 26, escaped: true });
    assert_eq!(text(doc, got[2].1), r"\\");
    let mut out = Vec::new();
    let Raw::Str { start, end, escaped: true } = got[3].1 else { panic!() };
    unescape(&doc[start as usize..end as usize], &mut out).unwrap();
    assert_eq!(out, "plain é é".as_bytes());
}

#[test]
fn scalars() {
    let doc = br#"{"t":true,"f":false,"n":null,"i":-12,"x":1.5e3,"z":-0}"#;
    let got = hits(doc, &[&["t"], &["f"], &["n"], &["i"], &["x"], &["z"]]).unwrap();
    let vals: Vec<Raw> = got.iter().map(|h| h.1).collect();
    assert_eq!(
        vals,
        vec![Raw::Bool(true), Raw::Bool(false), Raw::Null, Raw::Num(-12.0), Raw::Num(1500.0), Raw::Num(-0.0)]
    );
    let Raw::Num(z) = vals[5] else { panic!() };
    assert!(z.is_sign_negative(), "serde_json turns -0 into -0.0");
}

#[test]
fn whitespace_handling() {
    let doc = b" \t\r\n{ \n\"a\" \t:\r\n \"v\" \n, \"b\"\n:\n[ 1 , 2 ]\n}\r\n \t";
    let got = hits(doc, &[&["a"], &["b"]]).unwrap();
    assert_eq!(text(doc, got[0].1), "v");
    assert_eq!(text(doc, got[1].1), "[ 1 , 2 ]");
    // Only the four JSON whitespace bytes count, as in serde_json.
    for bad in [&b"\x0c{}"[..], b"{}\x0c", b"{\x0b}", "\u{a0}{}".as_bytes(), "\u{feff}{}".as_bytes(), b"{}\0"] {
        assert!(scan(bad, &trie(&[]), &mut |_, _| {}).is_err(), "{bad:?}");
        assert!(!serde_ok(bad), "{bad:?}");
    }
}

#[test]
fn empty_object_and_empty_trie() {
    for doc in [&b"{}"[..], b" { } ", b"\n{\n}\n", b"{\r\n\t}"] {
        assert_eq!(hits(doc, &[&["a"]]).unwrap(), vec![]);
    }
    let t = trie(&[]);
    assert!(t.is_empty());
    assert!(!trie(&[&["a"]]).is_empty());
    assert!(!trie(&[&[]]).is_empty());
    assert_eq!(scan(br#"{"a":{"b":[1,"x",{}]}}"#, &t, &mut |_, _| panic!("nothing is wanted")), Ok(()));
}

fn nested(depth: usize, open: &str, close: &str) -> Vec<u8> {
    // `depth` containers in total, the outermost being the top-level object.
    let mut s = String::from("{\"a\":");
    for _ in 1..depth {
        s.push_str(open);
    }
    s.push('1');
    for _ in 1..depth {
        s.push_str(close);
    }
    s.push('}');
    s.into_bytes()
}

#[test]
fn depth_limit_matches_serde_json() {
    for depth in 1..=130 {
        for (open, close) in [("[", "]"), ("{\"a\":", "}"), ("[{\"b\":", "}]")] {
            let doc = nested(depth, open, close);
            // The mixed variant nests two containers per repetition.
            let containers = if open.len() == 6 { 2 * depth - 1 } else { depth };
            let ok = scan(&doc, &trie(&[&["a", "a", "a"]]), &mut |_, _| {}).is_ok();
            assert_eq!(ok, serde_ok(&doc), "depth {containers} via {open}");
            assert_eq!(ok, containers <= 127, "depth {containers} via {open}");
        }
    }
    let err = scan(&nested(128, "[", "]"), &trie(&[]), &mut |_, _| {}).unwrap_err();
    assert_eq!(err, JsonError::TooDeep { at: 5 + 126 });
    // Depth is checked on the way in, so it fails even when the input is broken later.
    let mut deep = nested(128, "[", "]");
    deep.truncate(200);
    assert!(matches!(scan(&deep, &trie(&[]), &mut |_, _| {}), Err(JsonError::TooDeep { .. })));
}

/// Inputs serde_json rejects, grouped by why.
const REJECTED: &[(&str, &[&[u8]])] = &[
    (
        "invalid UTF-8",
        &[
            b"{\"a\":\"\xff\"}",
            b"{\"a\":\"\xc0\x80\"}",
            b"{\"a\":\"\xe2\x82\"}",
            b"{\"a\":\"\xed\xa0\x80\"}",
            b"{\"a\":\"\xf4\x90\x80\x80\"}",
            b"{\"a\":\"x\x80\"}",
            b"{\"\xfe\":1}",
            b"{\"skip\":[{\"deep\":\"\xc3\"}]}",
            b"{\"a\":\"\\n\xc3\"}",
            b"{\"a\":\"\xc3\\u00a9\"}",
            b"{\"a\":1\xff}",
            b"{\xc3\xa9:1}",
        ],
    ),
    (
        "control character",
        &[
            b"{\"a\":\"\x00\"}",
            b"{\"a\":\"x\x1f\"}",
            b"{\"a\":\"\n\"}",
            b"{\"a\":\"\t\"}",
            b"{\"\r\":1}",
            b"{\"s\":[\"\x01\"]}",
        ],
    ),
    (
        "bad escape",
        &[
            br#"{"a":"\x"}"#,
            br#"{"a":"\'"}"#,
            br#"{"a":"\U0041"}"#,
            br#"{"a":"\u12"}"#,
            br#"{"a":"\u12g4"}"#,
            br#"{"a":"\u 123"}"#,
            br#"{"a":"\"#,
            br#"{"a":"\u00"#,
            br#"{"\a":1}"#,
            br#"{"x":{"y":"\0"}}"#,
        ],
    ),
    (
        "unpaired surrogate",
        &[
            br#"{"a":"\ud800"}"#,
            br#"{"a":"\udc00"}"#,
            br#"{"a":"\uDFFF\uD800"}"#,
            br#"{"a":"\ud800\u0041"}"#,
            br#"{"a":"\ud800\ud800"}"#,
            br#"{"a":"\ud800x"}"#,
            br#"{"a":"\ud800\n"}"#,
            br#"{"a":"\ud800\"}"#,
            br#"{"a":"\ud800\u"}"#,
            br#"{"\udbff":1}"#,
            br#"{"s":["\udc00"]}"#,
        ],
    ),
    (
        "bad number",
        &[
            br#"{"a":01}"#,
            br#"{"a":-01}"#,
            br#"{"a":00}"#,
            br#"{"a":-}"#,
            br#"{"a":-a}"#,
            br#"{"a":- 1}"#,
            br#"{"a":1.}"#,
            br#"{"a":1.e5}"#,
            br#"{"a":.5}"#,
            br#"{"a":1e}"#,
            br#"{"a":1e+}"#,
            br#"{"a":1E-}"#,
            br#"{"a":+1}"#,
            br#"{"a":0x10}"#,
            br#"{"a":1_000}"#,
            br#"{"a":1.5.2}"#,
            br#"{"a":Infinity}"#,
            br#"{"a":NaN}"#,
            br#"{"a":[-]}"#,
            br#"{"a":1"#,
        ],
    ),
    (
        "number out of range",
        &[
            br#"{"a":1e400}"#,
            br#"{"a":-1e400}"#,
            br#"{"a":1e309}"#,
            br#"{"a":10e308}"#,
            br#"{"a":1.7976931348623158e308}"#,
            br#"{"a":1e99999999999}"#,
            br#"{"a":0.1e99999999999}"#,
            br#"{"s":[2e308]}"#,
        ],
    ),
    (
        "bad literal",
        &[br#"{"a":tru}"#, br#"{"a":nul}"#, br#"{"a":True}"#, br#"{"a":nulll}"#, br#"{"a":falsee}"#, br#"{"a":t"#],
    ),
    (
        "bad structure",
        &[
            br#"{"a":1,}"#,
            br#"{"a":[1,]}"#,
            br#"{"a":[,1]}"#,
            br#"{,}"#,
            br#"{"a" 1}"#,
            br#"{"a":1 "b":2}"#,
            br#"{'a':1}"#,
            br#"{a:1}"#,
            br#"{"a":1,"b"}"#,
            br#"{"a"}"#,
            br#"{"a":}"#,
            br#"{1:1}"#,
            br#"{"a":1]"#,
            br#"{"a":[1}"#,
            br#"{"a":1 /* c */}"#,
            br#"{"a":"x"#,
            br#"{"a""#,
            br#"{"#,
            br#"{"a":1"#,
        ],
    ),
    (
        "not a single object",
        &[
            b"",
            b"   ",
            b"[]",
            b"[{}]",
            b"1",
            b"\"s\"",
            b"null",
            b"}",
            b"{}}",
            b"{\"a\":1}}",
            b"{\"a\":1}x",
            b"{} {}",
            b"{}[]",
            b"{}\n1",
        ],
    ),
];

#[test]
fn every_rejection_category_matches_serde_json() {
    for (why, inputs) in REJECTED {
        for input in *inputs {
            assert!(!serde_ok(input), "serde_json accepts {:?} ({why})", String::from_utf8_lossy(input));
            for paths in [&[][..], &[&["a"][..]], &[&["s"][..], &["x", "y"][..]]] {
                let r = hits(input, paths);
                assert!(r.is_err(), "accepted {:?} ({why})", String::from_utf8_lossy(input));
            }
        }
    }
}

#[test]
fn error_kinds_and_offsets() {
    let t = trie(&[]);
    let err = |s: &[u8]| scan(s, &t, &mut |_, _| {}).unwrap_err();
    assert_eq!(err(b"{\"a\":\"\xff\"}"), JsonError::Utf8 { at: 6 });
    assert_eq!(err(b"{\"a\":\"x\x01\"}"), JsonError::Control { at: 7 });
    assert_eq!(err(br#"{"a":"\q"}"#), JsonError::Escape { at: 6 });
    assert_eq!(err(br#"{"a":"\ud800"}"#), JsonError::Surrogate { at: 6 });
    assert_eq!(err(br#"{"a":01}"#), JsonError::Number { at: 6 });
    assert!(matches!(err(br#"{"a":1e400}"#), JsonError::OutOfRange { .. }));
    assert_eq!(err(b"{} x"), JsonError::Trailing { at: 3 });
    assert_eq!(err(b"{\"a\""), JsonError::Eof { at: 4 });
    assert_eq!(err(b"[]"), JsonError::Expected { at: 0, expected: "a JSON object" });
    assert_eq!(err(b""), JsonError::Eof { at: 0 });
    assert_eq!(err(br#"{"a":1,}"#).to_string(), "expected a string key at byte 7");
    assert_eq!(err(br#"{"a":1,}"#).offset(), 7);
}

/// Inputs serde_json accepts that a sloppier scanner might not.
const ACCEPTED: &[&[u8]] = &[
    b"{\"a\":\"\x7f\"}",
    "{\"é\":\"ü€😀\"}".as_bytes(),
    br#"{"a":"\u0000\u001f\u0020"}"#,
    br#"{"a":"\ud83d\ude00\uD83D\uDE00"}"#,
    br#"{"a":"\uDBFF\uDFFF"}"#,
    br#"{"a":"\/\b\f\n\r\t\"\\"}"#,
    br#"{"a":"\uFFFF\uabcd"}"#,
    br#"{"":""}"#,
    br#"{"a":-0,"b":0.0,"c":-0.0e-0,"d":1E+2,"e":1e-400,"f":0e99999999999,"g":1e-99999999999}"#,
    br#"{"a":18446744073709551615,"b":18446744073709551616,"c":-9223372036854775808,"d":-9223372036854775809}"#,
    br#"{"a":123456789012345678901234567890.123456789e-5,"b":0.000000000000000000000000000001e300}"#,
    br#"{"a":1.7976931348623157e308,"b":1e308,"c":-1.7976931348623157e308,"d":0e400,"e":0.0e999999999999}"#,
    br#"{"a":[],"b":{},"c":[[],{}],"d":[{"e":[null,true,false]}]}"#,
    b"\t\n\r {\t\n\r \"a\"\t\n\r :\t\n\r [\t\n\r 1\t\n\r ,\t\n\r 2\t\n\r ]\t\n\r }\t\n\r ",
    br#"{"a":1,"a":2}"#,
];

#[test]
fn accepted_inputs_match_serde_json() {
    for input in ACCEPTED {
        assert!(serde_ok(input), "serde_json rejects {:?}", String::from_utf8_lossy(input));
        let paths = [vec!["a".to_string()], vec!["b".to_string()], vec!["d".to_string()]];
        compare_with_serde(input, &paths).unwrap();
    }
}

#[test]
fn numbers_convert_like_serde_json() {
    let literals = [
        "0",
        "-0",
        "1",
        "-1",
        "0.1",
        "0.3",
        "1.5e3",
        "2.5E-3",
        "123456789",
        "9007199254740993",
        "18446744073709551615",
        "18446744073709551616",
        "18446744073709551616.3",
        "184467440737095516150",
        "-9223372036854775808",
        "-9223372036854775809",
        "3.141592653589793238462643383279",
        "1.7976931348623157e308",
        "1.7976931348623156e308",
        "2.2250738585072014e-308",
        "4.9e-324",
        "5e-325",
        "1e-400",
        "0.1e-5",
        "123.456e-789",
        "1e22",
        "1e23",
        "8.98846567431158e307",
        "0.00000000000000000000000000000000000000001",
        "1e+0",
        "17976931348623157e292",
        "1797693134862315708145274237317043567981e269",
        "12345678901234567890123e-3",
    ];
    for lit in literals {
        let doc = format!(r#"{{"a":{lit}}}"#);
        let Ok(want) = serde_json::from_str::<Value>(&doc) else {
            assert!(hits(doc.as_bytes(), &[]).is_err(), "{lit} is out of range for serde_json");
            continue;
        };
        let want = want["a"].as_f64().unwrap();
        let got = hits(doc.as_bytes(), &[&["a"]]).unwrap();
        assert_eq!(got.len(), 1);
        let Raw::Num(n) = got[0].1 else { panic!("{lit}: {got:?}") };
        assert_eq!(n.to_bits(), want.to_bits(), "{lit}: {n} vs serde_json {want}");
    }
}

#[test]
fn unescape_decodes_every_escape() {
    let mut out = b"keep:".to_vec();
    unescape(br#"a\"\\\/\b\f\n\r\tz\u00e9\u20AC\ud83d\ude00\u0000-"#, &mut out).unwrap();
    assert_eq!(out, "keep:a\"\\/\x08\x0c\n\r\tzé€😀\0-".as_bytes());
    let mut out = Vec::new();
    unescape("no escapes ü".as_bytes(), &mut out).unwrap();
    assert_eq!(out, "no escapes ü".as_bytes());
    for bad in [&br"\x"[..], br"\", br"\u12", br"\u12x4", br"\ud800", br"\udc00", br"\ud800\u0041", br"ok\ud800\n"]
    {
        let mut out = b"keep".to_vec();
        assert!(unescape(bad, &mut out).is_err(), "{}", String::from_utf8_lossy(bad));
        assert_eq!(out, b"keep", "left unchanged on error");
    }
}

#[test]
fn too_long_is_not_scanned() {
    // Can't allocate 4 GiB in a test; check the guard's arithmetic instead.
    assert!(u32::try_from(u32::MAX as usize + 1).is_err());
    assert_eq!(JsonError::TooLong.offset(), 0);
}

#[test]
fn scan_value_reads_one_value_of_a_larger_document() {
    let doc = br#"{"a": [ {"id":"x","n":1} , "s\"t", 12.5e1, true, [1,{}] ,{"id":"y"}  ]}"#;
    let t = trie(&[&["id"], &[]]);
    // The elements of the array one at a time, with their offsets in the document.
    let mut at = memchr::memchr(b'[', doc).unwrap() + 1;
    let mut seen = Vec::new();
    loop {
        let mut found = Vec::new();
        let show = |raw| match raw {
            Raw::Num(n) => n.to_string(),
            Raw::Bool(b) => b.to_string(),
            r => text(doc, r),
        };
        at = scan_value(doc, at, 2, &t, &mut |id, raw| found.push((id, show(raw)))).unwrap();
        seen.push(found);
        at += doc[at..].iter().position(|b| !b.is_ascii_whitespace()).unwrap();
        if doc[at] == b']' {
            break;
        }
        assert_eq!(doc[at], b',');
        at += 1;
    }
    assert_eq!(seen[0], [(0, "x".to_string()), (1, r#"{"id":"x","n":1}"#.to_string())]);
    assert_eq!(seen[1], [(1, r#"s\"t"#.to_string())]);
    assert_eq!(seen[2], [(1, "125".to_string())]);
    assert_eq!(seen[3], [(1, "true".to_string())]);
    assert_eq!(seen[4], [(1, "[1,{}]".to_string())]);
    assert_eq!(seen[5][0], (0, "y".to_string()));
    // What it refuses, it refuses as `scan` does, at the document's offsets; the nesting limit counts
    // the enclosing containers.
    assert_eq!(scan_value(b"[1, {\"a\":\"\x01\"}]", 4, 1, &t, &mut |_, _| {}), Err(JsonError::Control { at: 10 }));
    assert_eq!(scan_value(b"  ", 0, 0, &t, &mut |_, _| {}), Err(JsonError::Eof { at: 2 }));
    let deep = format!("{}{}", "[".repeat(10), "]".repeat(10));
    assert!(scan_value(deep.as_bytes(), 0, 117, &t, &mut |_, _| {}).is_ok());
    assert!(matches!(scan_value(deep.as_bytes(), 0, 118, &t, &mut |_, _| {}), Err(JsonError::TooDeep { .. })));
}
