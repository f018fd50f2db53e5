use super::*;

/// Whether any of the 8 bytes in `w` is a control character, `"` or `\`.
fn word_needs_escape(w: u64) -> bool {
    escape_mask(w) != 0
}

fn esc(s: &[u8]) -> (String, bool) {
    let mut out = Vec::new();
    let bad = escape_into(&mut out, s);
    (String::from_utf8(out).unwrap(), bad)
}

#[test]
fn escapes_specials_and_controls() {
    let (s, bad) = esc(b"a\"b\\c\n\r\t\x08\x0c\x01\x1f\x7f");
    assert!(!bad);
    assert_eq!(s, r#"a\"b\\c\n\r\t\b\f\u0001\u001f"#.to_string() + "\x7f");
    let v: String = serde_json::from_str(&format!("\"{s}\"")).unwrap();
    assert_eq!(v.as_bytes(), b"a\"b\\c\n\r\t\x08\x0c\x01\x1f\x7f");
}

#[test]
fn keeps_utf8_and_replaces_invalid() {
    let (s, bad) = esc("µs ✓".as_bytes());
    assert!(!bad);
    assert_eq!(s, "µs ✓");
    let (s, bad) = esc(b"a\xff\xfeb\xe2\x9c");
    assert!(bad);
    assert_eq!(s, "a\\ufffd\\ufffdb\\ufffd");
}

/// Escaping one character at a time, as the JSON grammar says.
fn reference(s: &[u8]) -> (Vec<u8>, bool) {
    let (mut out, mut bad) = (Vec::new(), false);
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                '\u{8}' => out.extend_from_slice(b"\\b"),
                '\u{c}' => out.extend_from_slice(b"\\f"),
                c if (c as u32) < 0x20 => out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes()),
                c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            }
        }
        if !chunk.invalid().is_empty() {
            out.extend_from_slice(b"\\ufffd");
            bad = true;
        }
    }
    (out, bad)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 2048, failure_persistence: None, ..Default::default() })]

    #[test]
    fn escapes_like_the_reference(
        pieces in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::collection::vec(proptest::sample::select(&b"a \"\\\n\x01\x1f\x7f\x80\xbf\xc3\xa9\xe2\x9c\x93\xff"[..]), 0..4),
                proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4),
                proptest::prelude::Just(b"0123456789abcdef".to_vec()),
            ],
            0..40,
        ),
        prefix in 0usize..3,
    ) {
        let s = pieces.concat();
        let mut out = b"xy"[..prefix.min(2)].to_vec();
        let bad = escape_into(&mut out, &s);
        let (want, want_bad) = reference(&s);
        proptest::prop_assert_eq!(&out[..prefix.min(2)], &b"xy"[..prefix.min(2)]);
        proptest::prop_assert_eq!(String::from_utf8_lossy(&out[prefix.min(2)..]), String::from_utf8_lossy(&want));
        proptest::prop_assert_eq!(bad, want_bad);
        if !want_bad {
            proptest::prop_assert_eq!(escaped_len(&s), want.len());
            proptest::prop_assert_eq!(s.len() + s.iter().map(|&b| extra(b)).sum::<usize>(), want.len());
        }
    }
}

/// Every length around the 16- and 32-byte blocks, with one or two bytes to escape at every
/// position: the overlapping reads of a string's last block count each byte once.
#[test]
fn escaped_length_at_every_position() {
    for len in 0..100 {
        for p in 0..len {
            for q in [p, p + 1, len - 1] {
                for b in [b'"', b'\\', 0x01, b'\n'] {
                    let mut s = vec![b'a'; len];
                    s[p] = b;
                    s[q.min(len - 1)] = b'"';
                    let (want, _) = reference(&s);
                    assert_eq!(escaped_len(&s), want.len(), "len {len}, {b:#x} at {p}, quote at {q}");
                    let mut out = Vec::new();
                    escape_into(&mut out, &s);
                    assert_eq!(out, want, "len {len}, {b:#x} at {p}, quote at {q}");
                }
            }
        }
    }
}

#[test]
fn word_check_is_exact() {
    for b in 0..=255u8 {
        for pos in 0..8 {
            let mut w = *b"abcdefgh";
            w[pos] = b;
            let want = ESCAPE[b as usize] != 0;
            assert_eq!(
                word_needs_escape(u64::from_le_bytes(w)),
                want,
                "byte {b:#x} at {pos}"
            );
        }
    }
    let (s, _) = esc(b"0123456789abcdef\"0123456789\x01abcdefgh\\");
    assert_eq!(s, r#"0123456789abcdef\"0123456789\u0001abcdefgh\\"#);
}

#[test]
fn the_lowest_flag_is_the_first_byte_to_escape() {
    for a in [0u8, 0x1f, b'"', b'\\'] {
        for b in [0u8, 0x01, b'"', b'\\', b'a', 0xff] {
            for pa in 0..8 {
                for pb in pa + 1..8 {
                    let mut w = *b"abcdefgh";
                    w[pa] = a;
                    w[pb] = b;
                    let m = escape_mask(u64::from_le_bytes(w));
                    assert_eq!(m.trailing_zeros() / 8, pa as u32, "{a:#x}@{pa} {b:#x}@{pb}");
                }
            }
        }
    }
}
