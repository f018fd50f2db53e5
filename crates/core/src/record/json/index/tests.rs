use super::*;

/// The escaped bytes of `bytes` by walking them one at a time.
fn escaped_slow(bytes: &[u8]) -> Vec<bool> {
    let mut out = vec![false; bytes.len()];
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 1 < bytes.len() {
            out[i + 1] = true;
            i += 2;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn escaped_bytes_match_a_byte_walk_across_blocks() {
    // Backslash runs of every length at every offset, crossing block boundaries.
    let mut cases = Vec::new();
    for run in 1..=5 {
        for offset in 0..130 {
            let mut b = vec![b'a'; 192];
            for k in 0..run {
                if offset + k < b.len() {
                    b[offset + k] = b'\\';
                }
            }
            cases.push(b);
        }
    }
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..2000 {
        let b: Vec<u8> = (0..200)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if x.is_multiple_of(3) { b'\\' } else { b'a' }
            })
            .collect();
        cases.push(b);
    }
    for b in cases {
        let want = escaped_slow(&b);
        let mut carry = 0;
        for (n, chunk) in b.chunks(64).enumerate() {
            let bits = chunk.iter().enumerate().fold(0u64, |m, (i, &c)| m | (u64::from(c == b'\\') << i));
            let got = escaped(bits, &mut carry);
            for i in 0..chunk.len() {
                assert_eq!(got >> i & 1 == 1, want[n * 64 + i], "offset {} of {:?}", n * 64 + i, String::from_utf8_lossy(&b));
            }
        }
    }
}

/// What [`build`] gives, `[u32::MAX]` for invalid input, after checking that every kernel this CPU has
/// gives the same (`build` picks one).
fn tokens(input: &[u8]) -> Option<Vec<u32>> {
    if !simd::has_avx2() {
        return None;
    }
    let run = |kernel: &dyn Fn(&mut Tokens) -> Stage1| {
        let mut out = Tokens::default();
        out.starts.resize(input.len() + 64, 0);
        match kernel(&mut out) {
            Stage1::Tokens => out.starts().to_vec(),
            Stage1::Invalid => vec![u32::MAX],
        }
    };
    let built = run(&|out| build(input, out));
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `has_avx2()` found AVX2 and PCLMULQDQ.
        assert_eq!(run(&|out| unsafe { simd::avx2::stage1(input, out) }), built, "AVX2 kernel");
        if simd::has_avx512() {
            // SAFETY: `has_avx512()` found AVX-512 F and BW, and PCLMULQDQ.
            assert_eq!(run(&|out| unsafe { simd::avx512::stage1(input, out) }), built, "AVX-512 kernel");
        }
        if simd::has_avx512_vbmi2() {
            // SAFETY: `has_avx512_vbmi2()` found AVX-512 F, BW and VBMI2, and PCLMULQDQ.
            assert_eq!(run(&|out| unsafe { simd::avx512::stage1_vbmi2(input, out) }), built, "AVX-512 VBMI2 kernel");
        }
    }
    Some(built)
}

/// Token starts by a byte walk: outside strings, every quote, operator and first byte of a run of
/// other non-whitespace bytes.
fn tokens_slow(input: &[u8]) -> Vec<u32> {
    let mut out = Vec::new();
    let mut in_string = false;
    let mut prev_scalar = false;
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => {
                    in_string = false;
                    out.push(i as u32);
                }
                _ => {}
            }
            prev_scalar = false;
        } else {
            let scalar = !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'"' | b'{' | b'}' | b'[' | b']' | b':' | b',');
            if b == b'"' {
                in_string = true;
            }
            if !scalar && !matches!(b, b' ' | b'\t' | b'\n' | b'\r') || scalar && !prev_scalar {
                out.push(i as u32);
            }
            prev_scalar = scalar;
        }
        i += 1;
    }
    out
}

#[test]
fn token_starts_match_a_byte_walk() {
    let mut long = String::from(r#"{"a":"#);
    for i in 0..40 {
        long.push_str(&format!(r#" "k{i}\"\\" : [1,-2.5e3, true ,null,{{"x":"y\\\\"}}],"#));
    }
    long.push_str(r#""z":false}"#);
    let cases: Vec<&[u8]> = vec![
        br#"{}"#,
        br#"  {"a":1}  "#,
        br#"{"a":"b\"c","d":[1,2,{"e":null}]}"#,
        br#"{"a" :	-12.5e+3 , "b":true}"#,
        long.as_bytes(),
    ];
    for input in cases {
        let Some(got) = tokens(input) else { return };
        assert_eq!(got, tokens_slow(input), "{}", String::from_utf8_lossy(input));
    }
}

#[test]
fn faults_found_without_the_grammar() {
    let bad: &[&[u8]] = &[
        b"{\"a\":\"b\x01\"}",            // control byte in a string
        b"{\"a\":\"b",                   // unterminated
        br#"{"a":"\q"}"#,                // bad escape
        br#"{"a":"\ud800"}"#,            // lone surrogate
        b"{\"a\":\"\xff\"}",             // not UTF-8
    ];
    for input in bad {
        let Some(got) = tokens(input) else { return };
        assert_eq!(got, vec![u32::MAX], "{}", String::from_utf8_lossy(input));
    }
    // A surrogate pair is one escape, even across a block boundary.
    let mut pair = vec![b'{', b'"', b'a', b'"', b':', b'"'];
    pair.resize(60, b'x');
    pair.extend_from_slice(br#"\ud83d\ude00"}"#);
    assert_ne!(tokens(&pair), Some(vec![u32::MAX]));
}
