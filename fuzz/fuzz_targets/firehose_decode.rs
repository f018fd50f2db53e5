//! Firehose / CloudWatch Logs record decoding (`logtrim_formats::firehose`): base64, gzip/zlib sniffing
//! and decompression under a size cap, CloudWatch subscription messages, captured invocation events.
//!
//! Input: byte 0 picks the operation, bytes 1..3 the cap (little-endian u16, so caps are small and
//! the boundary is hit), the rest is the data. Raw inputs (not `arbitrary`) so that captured fixtures can
//! seed it as they are.
//!
//! Asserts:
//! - nothing panics;
//! - the cap: decompressed output is never longer than the cap; `TooLarge` names the cap it was given;
//!   a payload that was not compressed is passed through unchanged;
//! - the cap only cuts: with a larger cap the same data gives the same output, and data that failed as
//!   corrupt under the small cap fails the same way under the large one;
//! - `compress` then `decompress` gives the data back when it fits the cap and `TooLarge` exactly when
//!   it does not;
//! - strict base64: whatever `decode_base64` accepts re-encodes to the same text (canonical padding, no
//!   stray bits), of `base64_len` characters;
//! - every record built for a CloudWatch event (`cloudwatch_record`) is a JSON object for serde_json
//!   and for logtrim's own scanner, and carries the event id; lines of a `Lines` payload hold no `\n`
//!   and are not blank.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logtrim_core::record::json::{PathTrie, scan};
use logtrim_formats::firehose::{
    self, CapturedKind, Compression, DecodeError, Decoded, Payload, base64_len, compress, decode, decode_base64,
    decompress, encode_base64, read_captured, sniff, sniff_captured,
};

/// A cap no fuzz input reaches: the "unlimited" run of the cap-monotonicity check.
const LARGE: usize = 16 << 20;

fn check_json_record(rec: &[u8]) {
    let v: serde_json::Value = serde_json::from_slice(rec)
        .unwrap_or_else(|e| panic!("CloudWatch record is not JSON ({e}): {:?}", String::from_utf8_lossy(rec)));
    assert!(v.is_object(), "CloudWatch record is not an object");
    scan(rec, &PathTrie::new(&[]), &mut |_, _| {})
        .unwrap_or_else(|e| panic!("logtrim's scanner refuses a CloudWatch record ({e}): {:?}", String::from_utf8_lossy(rec)));
}

fn check_payload(d: &Decoded, limit: usize, input_len: usize) {
    match &d.payload {
        Payload::Lines(b) => {
            if d.compression != Compression::None {
                assert!(b.len() <= limit, "decompressed {} bytes past the cap of {limit}", b.len());
            } else {
                assert!(b.len() <= input_len, "an uncompressed payload grew");
            }
            for (n, l) in d.payload.lines() {
                assert!(n >= 1 && !l.contains(&b'\n') && !l.iter().all(u8::is_ascii_whitespace), "bad line {n}: {l:?}");
            }
        }
        Payload::CloudWatch(cw) => {
            let mut buf = Vec::new();
            for ev in &cw.log_events {
                firehose::cloudwatch_record(cw, ev, &mut buf);
                check_json_record(&buf);
                let v: serde_json::Value = serde_json::from_slice(&buf).expect("checked");
                assert_eq!(v["cloudwatch"]["id"].as_str(), Some(ev.id.as_str()), "the record lost the event id");
            }
        }
        Payload::CloudWatchControl => {}
    }
}

fuzz_target!(|input: &[u8]| {
    let [op, l0, l1, data @ ..] = input else { return };
    let limit = usize::from(u16::from_le_bytes([*l0, *l1]));
    match op % 6 {
        // decompress under the small cap and a large one.
        0 => {
            let small = decompress(data.to_vec(), limit);
            match &small {
                Ok((c, out)) => {
                    if *c == Compression::None {
                        assert_eq!(out, data, "an uncompressed payload was changed");
                    } else {
                        assert!(out.len() <= limit, "decompressed {} bytes past the cap of {limit}", out.len());
                    }
                }
                Err(DecodeError::TooLarge { limit: l }) => assert_eq!(*l, limit, "TooLarge names another cap"),
                Err(_) => {}
            }
            let large = decompress(data.to_vec(), LARGE);
            match (&small, &large) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "a larger cap changed the output"),
                (Ok(_), Err(e)) => panic!("fits the cap of {limit} but fails under {LARGE}: {e}"),
                (Err(DecodeError::TooLarge { .. }), Ok((_, out))) => {
                    assert!(out.len() > limit, "TooLarge under {limit}, yet only {} bytes", out.len())
                }
                (Err(DecodeError::TooLarge { .. }), Err(_)) => {}
                (Err(a), b) => assert_eq!(Err(a), b.as_ref(), "a corrupt stream depends on the cap"),
            }
        }
        // compress → decompress round trip at the cap.
        1 => {
            for c in [Compression::Gzip, Compression::Zlib] {
                let packed = compress(c, data);
                assert_eq!(sniff(&packed), c, "compressed data does not sniff as {c:?}");
                match decompress(packed, limit) {
                    Ok((got, out)) => {
                        assert!(data.len() <= limit, "{} bytes accepted under a cap of {limit}", data.len());
                        assert_eq!((got, &out[..]), (c, data), "round trip changed the data");
                    }
                    Err(DecodeError::TooLarge { .. }) => assert!(data.len() > limit, "{} bytes refused under a cap of {limit}", data.len()),
                    Err(e) => panic!("our own {c:?} stream does not decompress: {e}"),
                }
            }
        }
        // decode: decompress and classify.
        2 => {
            if let Ok(d) = decode(data.to_vec(), limit) {
                check_payload(&d, limit, data.len());
            }
        }
        // Firehose's base64 `data`, then decode.
        3 => {
            let Ok(text) = std::str::from_utf8(data) else { return };
            if let Ok(raw) = decode_base64(text) {
                assert_eq!(encode_base64(&raw), text, "non-canonical base64 accepted");
                assert_eq!(base64_len(raw.len()), text.len());
            }
            if let Ok(d) = firehose::decode_data(text, limit) {
                check_payload(&d, limit, text.len());
            }
        }
        // A captured document, of the kind the sniffer says or the one byte 0 says.
        4 | 5 => {
            let sniffed = sniff_captured(&data[..data.len().min(firehose::SNIFF_BYTES)]);
            let kind = match (sniffed, op % 6) {
                (Some(k), _) => k,
                (None, 4) => CapturedKind::FirehoseEvent,
                (None, _) => CapturedKind::CloudWatch,
            };
            // Records are handed over one at a time; a CloudWatch event's must be a JSON record.
            let _ = read_captured(kind, data, limit, |r| {
                if kind == CapturedKind::CloudWatch {
                    check_json_record(r);
                }
                Ok::<(), ()>(())
            });
        }
        _ => unreachable!(),
    }
});
