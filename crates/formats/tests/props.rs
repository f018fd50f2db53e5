//! Property tests: no input makes the reader panic, and framing loses or invents nothing.

use std::io::{self, Read};

use logtrim_formats::{InputFormat, ReaderOptions, RecordKind, RecordReader};
use proptest::prelude::*;

const FORMATS: [InputFormat; 5] = [
    InputFormat::Auto,
    InputFormat::Json,
    InputFormat::Cri,
    InputFormat::Docker,
    InputFormat::Text,
];

/// Hands out at most `step` bytes per read.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.data.len().min(buf.len()).min(self.step);
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Bytes biased towards the characters the formats care about.
fn log_bytes() -> impl Strategy<Value = Vec<u8>> {
    let interesting = prop_oneof![
        Just(b'\n'),
        Just(b'\r'),
        Just(b' '),
        Just(b'{'),
        Just(b'}'),
        Just(b'['),
        Just(b'"'),
        Just(b'\\'),
        Just(b'P'),
        Just(b'F'),
        any::<u8>(),
    ];
    let pieces = prop_oneof![
        3 => prop::collection::vec(interesting, 1..8),
        1 => Just(b"2016-10-06T00:17:09.1Z stdout ".to_vec()),
        1 => Just(b"2016-10-06T00:17:09Z stderr P x\n".to_vec()),
        1 => Just(br#"{"log":"a\n","stream":"stdout","time":"t"}"#.to_vec()),
        1 => Just(br#"{"log":"part","stream":"stderr","time":"t"}"#.to_vec()),
        1 => Just(br#"[1554141513.5,{"log":"x"}]"#.to_vec()),
        1 => Just(vec![0x1f, 0x8b]),
    ];
    prop::collection::vec(pieces, 0..64).prop_map(|v| v.concat())
}

fn drain(input: &[u8], format: InputFormat, max: usize, step: usize) {
    let opts = ReaderOptions {
        max_record_bytes: max,
        ..Default::default()
    };
    let mut r = RecordReader::new(Trickle { data: input, step }, format, opts);
    let mut n = 0u64;
    let mut errored = false;
    while let Some(x) = r.next_record() {
        match x {
            Ok(rec) => {
                n += 1;
                assert!(rec.line >= 1 && rec.line <= line_count_bound(input));
                if is_cri_record(format, &rec) {
                    // Records built from CRI lines are always valid JSON, even when cut.
                    serde_json::from_slice::<serde_json::Value>(rec.bytes).unwrap_or_else(|e| {
                        panic!("{e}: {:?}", String::from_utf8_lossy(rec.bytes))
                    });
                }
            }
            Err(_) => {
                assert!(!errored);
                errored = true;
            }
        }
    }
    assert!(r.next_record().is_none());
    let c = r.counters();
    assert_eq!(c.records, n);
    assert!(c.bytes_in <= input.len() as u64 || input.starts_with(&[0x1f, 0x8b]));
}

fn line_count_bound(input: &[u8]) -> u64 {
    input.iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

fn is_cri_record(format: InputFormat, rec: &logtrim_formats::Record<'_>) -> bool {
    format == InputFormat::Cri && rec.kind == RecordKind::Json
}

proptest! {
    // No regression files: this crate keeps its fixtures inline.
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(input in log_bytes(), max in 1usize..64, step in 1usize..32) {
        for f in FORMATS {
            drain(&input, f, max, step);
            drain(&input, f, 1 << 20, 1 << 20);
        }
    }

    #[test]
    fn arbitrary_raw_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..512), max in 1usize..600) {
        for f in FORMATS {
            drain(&input, f, max, 1 << 20);
        }
        // Behind a gzip magic the bytes are (almost always) corrupt gzip.
        let gz = [&[0x1f, 0x8b][..], &input].concat();
        drain(&gz, InputFormat::Auto, max, 7);
    }

    #[test]
    fn text_records_are_the_non_empty_lines(input in log_bytes(), step in 1usize..64) {
        prop_assume!(!input.starts_with(&[0x1f, 0x8b]), "that is gzip");
        let mut r = RecordReader::new(Trickle { data: &input, step }, InputFormat::Text, ReaderOptions::default());
        let mut got = Vec::new();
        while let Some(rec) = r.next_record() {
            let rec = rec.unwrap();
            prop_assert_eq!(rec.kind, RecordKind::Text);
            got.push(rec.bytes.to_vec());
        }
        let body = input.strip_suffix(b"\n").unwrap_or(&input);
        let want: Vec<Vec<u8>> = if input.is_empty() {
            Vec::new()
        } else {
            body.split(|&b| b == b'\n')
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
                .filter(|l| !l.is_empty())
                .collect()
        };
        prop_assert_eq!(got.join(&b'\n'), want.join(&b'\n'));
        prop_assert_eq!(r.counters().records as usize, want.len());
    }

    #[test]
    fn cri_partials_join_like_a_model(
        parts in prop::collection::vec((any::<bool>(), any::<bool>(), "[a-z \"\\\\é\t]{0,12}"), 0..40),
    ) {
        let mut input = String::new();
        let mut pending: [Option<String>; 2] = [None, None];
        let mut want = Vec::new();
        for (i, (stderr, partial, msg)) in parts.iter().enumerate() {
            let stream = if *stderr { "stderr" } else { "stdout" };
            input += &format!("2016-10-06T00:17:{:02}.{i}Z {stream} {} {msg}\n", i % 60, if *partial { 'P' } else { 'F' });
            let slot = &mut pending[usize::from(*stderr)];
            let joined = slot.get_or_insert_with(String::new);
            joined.push_str(msg);
            if !partial {
                want.push((stream.to_string(), slot.take().unwrap()));
            }
        }
        let mut rest: Vec<_> = pending.into_iter().enumerate().filter_map(|(i, p)| p.map(|p| (i, p))).collect();
        // Flushed at the end in order of first appearance; recompute that order from the input.
        rest.sort_by_key(|(i, _)| {
            let mut open = None;
            for (n, (stderr, partial, _)) in parts.iter().enumerate() {
                if usize::from(*stderr) == *i {
                    if open.is_none() { open = Some(n); }
                    if !partial { open = None; }
                }
            }
            open
        });
        for (i, p) in rest {
            want.push((if i == 1 { "stderr" } else { "stdout" }.to_string(), p));
        }

        let mut r = RecordReader::new(input.as_bytes(), InputFormat::Auto, ReaderOptions::default());
        let mut got = Vec::new();
        while let Some(rec) = r.next_record() {
            let v: serde_json::Value = serde_json::from_slice(rec.unwrap().bytes).unwrap();
            got.push((v["stream"].as_str().unwrap().to_string(), v["log"].as_str().unwrap().to_string()));
        }
        prop_assert_eq!(got, want);
    }
}
