//! End-to-end tests of `RecordReader`: each format and the quirks seen in real container
//! logs and Fluent Bit output, reproduced in small inline fixtures.

use std::io::{self, Read, Write};

use flate2::Compression;
use flate2::write::GzEncoder;
use logtrim_formats::{
    InputFormat, ReadError, ReaderCounters, ReaderOptions, RecordKind, RecordReader,
};
use serde_json::Value;

#[derive(Debug)]
struct Rec {
    bytes: Vec<u8>,
    line: u64,
    kind: RecordKind,
}

impl Rec {
    fn text(&self) -> &str {
        std::str::from_utf8(&self.bytes).unwrap()
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.bytes)))
    }
}

struct Out {
    recs: Vec<Rec>,
    counters: ReaderCounters,
    error: Option<ReadError>,
    format: InputFormat,
}

fn read_with<R: Read>(input: R, format: InputFormat, opts: ReaderOptions) -> Out {
    let mut r = RecordReader::new(input, format, opts);
    let mut recs = Vec::new();
    let mut error = None;
    while let Some(x) = r.next_record() {
        match x {
            Ok(rec) => recs.push(Rec {
                bytes: rec.bytes.to_vec(),
                line: rec.line,
                kind: rec.kind,
            }),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    assert!(r.next_record().is_none(), "None after the end or an error");
    Out {
        recs,
        counters: r.counters().clone(),
        error,
        format: r.format(),
    }
}

fn read(input: &[u8], format: InputFormat) -> Out {
    let out = read_with(input, format, ReaderOptions::default());
    assert!(out.error.is_none(), "{:?}", out.error);
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Hands out at most `step` bytes per read, to exercise every buffer-refill path.
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

// ---------------------------------------------------------------- text

#[test]
fn text_lines_crlf_and_empty_lines() {
    let input = b"first\r\n\r\n\nsecond line\n  \nlast without newline";
    let out = read(input, InputFormat::Text);
    let got: Vec<_> = out
        .recs
        .iter()
        .map(|r| (r.text(), r.line, r.kind))
        .collect();
    assert_eq!(
        got,
        vec![
            ("first", 1, RecordKind::Text),
            ("second line", 4, RecordKind::Text),
            ("  ", 5, RecordKind::Text),
            ("last without newline", 6, RecordKind::Text)
        ]
    );
    let c = &out.counters;
    assert_eq!(
        (c.lines, c.records, c.empty, c.malformed, c.truncated),
        (6, 4, 2, 0, 0)
    );
    assert_eq!(c.bytes_in, input.len() as u64);
}

#[test]
fn text_passes_invalid_utf8_as_is() {
    let out = read(b"caf\xe9 \xff\xfe\n", InputFormat::Text);
    assert_eq!(out.recs[0].bytes, b"caf\xe9 \xff\xfe");
}

#[test]
fn empty_input() {
    for input in [&b""[..], b"\n\n\r\n"] {
        let out = read(input, InputFormat::Auto);
        assert!(out.recs.is_empty());
        assert_eq!(out.format, InputFormat::Auto);
    }
}

// ---------------------------------------------------------------- json / fluent bit

#[test]
fn json_lines_pass_through_and_malformed_lines_become_text() {
    let input = b"{\"a\":1}\r\n  {\"b\":2}\n\nnot json\n[1,2]\n   \n{\"broken\"\n";
    let out = read(input, InputFormat::Json);
    let got: Vec<_> = out
        .recs
        .iter()
        .map(|r| (r.text(), r.line, r.kind))
        .collect();
    assert_eq!(
        got,
        vec![
            ("{\"a\":1}", 1, RecordKind::Json),
            ("  {\"b\":2}", 2, RecordKind::Json),
            ("not json", 4, RecordKind::Text),
            ("[1,2]", 5, RecordKind::Text),
            ("{\"broken\"", 7, RecordKind::Json),
        ]
    );
    assert_eq!((out.counters.malformed, out.counters.empty), (2, 2));
}

#[test]
fn fluent_bit_event_arrays_yield_the_inner_object() {
    let input = concat!(
        r#"[1554141513.598656,{"log":"Fluent Bit is logging\n","stream":"stdout","kubernetes":{"pod_name":"base","labels":{"app.kubernetes.io/name":"fluent-bit"}}}]"#,
        "\n",
        r#"{"log":"bare object\n","stream":"stdout","kubernetes":{"pod_name":"json-logs"}}"#,
        "\n",
        r#"[[1700000000.5, {"otlp":{"x":"]"}}], {"log":"v2 event"}]"#,
        "\n",
        r#"[1519234013.360921,{"log":"cut"#,
        "\n",
    );
    let out = read(input.as_bytes(), InputFormat::Auto);
    assert_eq!(out.format, InputFormat::Json);
    assert_eq!(out.recs.len(), 4);
    assert_eq!(out.recs[0].json()["kubernetes"]["pod_name"], "base");
    assert!(out.recs[0].text().starts_with("{\"log\""));
    assert!(out.recs[0].text().ends_with("}}}"));
    assert_eq!(out.recs[1].json()["log"], "bare object\n");
    assert_eq!(out.recs[2].text(), r#"{"log":"v2 event"}"#);
    assert_eq!(out.recs[3].kind, RecordKind::Text);
    assert_eq!(out.counters.malformed, 1);
}

// ---------------------------------------------------------------- cri

#[test]
fn cri_full_lines_become_json_records() {
    let input = concat!(
        "2022-07-22T12:24:12.325744791Z stdout F [2022-07-22T12:24:09.217Z] \"GET /reviews/0 HTTP/1.1\" 0 DC\n",
        "2020-08-19T21:06:24.33754077Z stderr F \tat org.apache.hadoop.ipc.Client.call(Client.java:1475)\n",
        "2024-01-01T00:00:00.1+00:00 stdout F:extra with \\ backslash\n",
        "2024-01-01T00:00:00Z stdout F \n",
    );
    let out = read(input.as_bytes(), InputFormat::Cri);
    assert_eq!(out.recs.len(), 4);
    assert!(out.recs.iter().all(|r| r.kind == RecordKind::Json));
    let v = out.recs[0].json();
    assert_eq!(v["time"], "2022-07-22T12:24:12.325744791Z");
    assert_eq!(v["stream"], "stdout");
    assert_eq!(
        v["log"],
        "[2022-07-22T12:24:09.217Z] \"GET /reviews/0 HTTP/1.1\" 0 DC"
    );
    assert_eq!(
        out.recs[0].text(),
        r#"{"time":"2022-07-22T12:24:12.325744791Z","stream":"stdout","log":"[2022-07-22T12:24:09.217Z] \"GET /reviews/0 HTTP/1.1\" 0 DC"}"#
    );
    assert_eq!(
        out.recs[1].json()["log"],
        "\tat org.apache.hadoop.ipc.Client.call(Client.java:1475)"
    );
    assert_eq!(out.recs[1].json()["stream"], "stderr");
    assert_eq!(out.recs[2].json()["log"], "with \\ backslash");
    assert_eq!(out.recs[3].json()["log"], "");
}

#[test]
fn cri_partials_join_per_stream_with_the_first_time() {
    let input = concat!(
        "2016-10-06T00:17:09.1Z stdout P part one, \n",
        "2016-10-06T00:17:09.2Z stderr P err A\n",
        "2016-10-06T00:17:09.3Z stdout P part two, \n",
        "2016-10-06T00:17:09.4Z stderr F +err B\n",
        "2016-10-06T00:17:09.5Z stdout F part three\n",
        "2016-10-06T00:17:09.6Z stdout F alone\n",
    );
    let out = read(input.as_bytes(), InputFormat::Cri);
    let got: Vec<_> = out.recs.iter().map(|r| (r.json(), r.line)).collect();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].0["log"], "err A+err B");
    assert_eq!(got[0].0["time"], "2016-10-06T00:17:09.2Z");
    assert_eq!(got[0].0["stream"], "stderr");
    assert_eq!(got[0].1, 2);
    assert_eq!(got[1].0["log"], "part one, part two, part three");
    assert_eq!(got[1].0["time"], "2016-10-06T00:17:09.1Z");
    assert_eq!(got[1].1, 1);
    assert_eq!(got[2].0["log"], "alone");
    assert_eq!(out.counters.unterminated_partial, 0);
    assert_eq!(out.counters.lines, 6);
    assert_eq!((out.counters.joined_lines, out.counters.joined_records), (5, 2));
}

#[test]
fn cri_last_line_without_newline_and_unterminated_partials() {
    let out = read(b"2016-10-06T00:17:09Z stdout F done", InputFormat::Cri);
    assert_eq!(out.recs[0].json()["log"], "done");

    let input = "2016-10-06T00:17:09Z stderr P e1\n2016-10-06T00:17:10Z stdout P o1\n2016-10-06T00:17:11Z stdout P o2";
    let out = read(input.as_bytes(), InputFormat::Cri);
    assert_eq!(out.recs.len(), 2);
    assert_eq!(out.recs[0].json()["log"], "e1");
    assert_eq!(out.recs[1].json()["log"], "o1o2");
    assert_eq!(out.recs[1].line, 2);
    assert_eq!(out.counters.unterminated_partial, 2);
}

#[test]
fn cri_message_escaping_and_invalid_utf8() {
    let input = b"2016-10-06T00:17:09Z stdout F q\"b\\c\x01\x1b[0m \xff\xfe caf\xc3\xa9\r\n";
    let out = read(input, InputFormat::Cri);
    let v = out.recs[0].json();
    assert_eq!(v["log"], "q\"b\\c\u{1}\u{1b}[0m \u{fffd}\u{fffd} café");
    assert_eq!(out.counters.invalid_utf8, 1);
}

#[test]
fn cri_malformed_lines_are_text_and_do_not_break_pending_partials() {
    let input = "2016-10-06T00:17:09Z stdout P a\ngarbage line\n2016-10-06T00:17:09Z stdout F b\n";
    let out = read(input.as_bytes(), InputFormat::Cri);
    assert_eq!(out.recs.len(), 2);
    assert_eq!(
        (out.recs[0].text(), out.recs[0].kind),
        ("garbage line", RecordKind::Text)
    );
    assert_eq!(out.recs[1].json()["log"], "ab");
    assert_eq!(out.counters.malformed, 1);
}

#[test]
fn cri_joined_message_is_capped() {
    let part = "x".repeat(100);
    let input = format!(
        "2016-10-06T00:17:09Z stdout P {part}\n2016-10-06T00:17:09Z stdout P {part}\n2016-10-06T00:17:09Z stdout F é{part}\n"
    );
    let opts = ReaderOptions {
        max_record_bytes: 201,
        ..Default::default()
    };
    let out = read_with(input.as_bytes(), InputFormat::Cri, opts);
    // 200 x, then no room for the 2-byte é: the cut backs off to a character boundary.
    assert_eq!(out.recs[0].json()["log"].as_str().unwrap(), "x".repeat(200));
    assert_eq!(out.counters.truncated, 1);
}

// ---------------------------------------------------------------- docker

#[test]
fn docker_complete_lines_pass_through_unchanged() {
    let l1 = r#"{"log":"Fluent Bit is logging\n","stream":"stdout","time":"2019-04-01T17:58:33.598656444Z"}"#;
    let l2 = r#"{"log":"{\"stringified-json\":\"{\\\"a\\\":\\\"\\\"}\"}\n","stream":"stderr","time":"2019-04-01T17:58:33.598656444Z"}"#;
    let input = format!("{l1}\n{l2}\n");
    let out = read(input.as_bytes(), InputFormat::Docker);
    assert_eq!(out.recs.len(), 2);
    assert_eq!(out.recs[0].text(), l1);
    assert_eq!(out.recs[1].text(), l2);
    assert_eq!(
        out.recs[1].json()["log"],
        "{\"stringified-json\":\"{\\\"a\\\":\\\"\\\"}\"}\n"
    );
}

#[test]
fn docker_16k_partials_are_joined_per_stream() {
    // Parts of 16 KiB, as Docker writes them: two characters per `a\"`.
    let big = "a\\\"".repeat(16384 / 2);
    let mut input = String::new();
    input += &format!(
        "{{\"log\":\"{big}\",\"stream\":\"stdout\",\"time\":\"2019-01-01T11:11:11.1Z\"}}\n"
    );
    input +=
        "{\"log\":\"err partial \",\"stream\":\"stderr\",\"time\":\"2019-01-01T11:11:11.2Z\"}\n";
    input += &format!(
        "{{\"log\":\"{big}\",\"stream\":\"stdout\",\"time\":\"2019-01-01T11:11:11.3Z\"}}\n"
    );
    input += "{\"log\":\"end\\n\",\"stream\":\"stdout\",\"time\":\"2019-01-01T11:11:11.4Z\"}\n";
    input +=
        "{\"log\":\"err end\\u000a\",\"stream\":\"stderr\",\"time\":\"2019-01-01T11:11:11.5Z\"}\n";
    let out = read(input.as_bytes(), InputFormat::Auto);
    assert_eq!(out.format, InputFormat::Docker);
    assert_eq!(out.recs.len(), 2);
    let v = out.recs[0].json();
    let expect = "a\\\"".repeat(16384 / 2).replace("\\\"", "\"");
    assert_eq!(v["log"].as_str().unwrap(), format!("{expect}{expect}end\n"));
    assert_eq!(v["stream"], "stdout");
    assert_eq!(v["time"], "2019-01-01T11:11:11.1Z");
    assert_eq!(out.recs[0].line, 1);
    let v = out.recs[1].json();
    assert_eq!(v["log"], "err partial err end\n");
    assert_eq!(v["stream"], "stderr");
    assert_eq!(out.recs[1].line, 2);
    assert_eq!(out.counters.unterminated_partial, 0);
    assert_eq!((out.counters.joined_lines, out.counters.joined_records), (5, 2));
}

#[test]
fn r15_json_lines_with_dockers_keys_are_not_joined_into_one_record() {
    // JSON lines whose `log` has no trailing newline and no other keys: not Docker's 16 KiB parts.
    let line = |i: usize| {
        format!(
            r#"{{"log":"10.0.0.{i} - - [22/Nov/2026:10:00:00 +0000] \"GET /api HTTP/1.1\" 503 0 \"-\" \"curl/8\"","stream":"stdout","time":"2026-11-22T10:00:00.{i:06}Z"}}"#
        )
    };
    let input: String = (0..20_000).map(|i| line(i) + "\n").collect();
    let out = read(input.as_bytes(), InputFormat::Auto);
    assert_eq!(out.format, InputFormat::Json);
    assert_eq!(out.recs.len(), 20_000);
    assert_eq!(out.recs[19_999].text(), line(19_999));
    assert_eq!((out.counters.joined_lines, out.counters.joined_records), (0, 0));
    // Read as Docker on purpose, they are joined, and the counters say how many into how many.
    let out = read(input.as_bytes(), InputFormat::Docker);
    assert_eq!(out.recs.len(), 1);
    assert_eq!((out.counters.joined_lines, out.counters.joined_records), (20_000, 1));
}

#[test]
fn docker_partial_cap_does_not_split_escapes() {
    let input = concat!(
        r#"{"log":"abc\u00e9\u00e9","stream":"stdout","time":"t"}"#,
        "\n",
        r#"{"log":"zzz\n","stream":"stdout","time":"t2"}"#,
        "\n",
    );
    let opts = ReaderOptions {
        max_record_bytes: 60,
        ..Default::default()
    };
    let out = read_with(input.as_bytes(), InputFormat::Docker, opts.clone());
    let mut r = read_with(
        input.as_bytes(),
        InputFormat::Docker,
        ReaderOptions {
            max_record_bytes: 12,
            ..opts
        },
    );
    assert_eq!(out.recs[0].json()["log"], "abcéézzz\n");
    assert_eq!(out.counters.truncated, 0);
    // Under a 12-byte cap the second \u00e9 (bytes 9..15) does not fit and is not cut in half.
    // The physical lines themselves are longer than 12 bytes, so they are cut too and no
    // longer parse: they come through as truncated text.
    assert!(r.recs.iter().all(|x| x.kind == RecordKind::Text));
    assert_eq!(r.counters.truncated, 2);
    r.recs.clear();

    let long = format!(
        r#"{{"log":"{}","stream":"stdout","time":"t"}}"#,
        r"\u00e9".repeat(10)
    );
    let input = format!("{long}\n{long}\n");
    let out = read_with(
        input.as_bytes(),
        InputFormat::Docker,
        ReaderOptions {
            max_record_bytes: 100,
            ..Default::default()
        },
    );
    let v = out.recs[0].json();
    assert_eq!(v["log"].as_str().unwrap(), "é".repeat(16));
    assert_eq!(out.counters.truncated, 1);
    assert_eq!(out.counters.unterminated_partial, 1);
}

#[test]
fn docker_corrupt_line_is_malformed_text() {
    let input = concat!(
        r#"{"log":"Fetching dependencies...\n","stream":"stdout","time":"2016-03-02T22:59:04.609292428Z"}"#,
        "\n",
        r#""log":"cp packetbeat.yml /build/packetbeat-linux.yml\n","stream":"stdout","time":"2016-03-02T22:59:04.647847045Z"}"#,
        "\n",
        r##"{"log":"# binary\n","stream":"stdout","time":"2016-03-02T22:59:04.653740138Z"}"##,
        "\n",
    );
    let out = read(input.as_bytes(), InputFormat::Auto);
    assert_eq!(out.format, InputFormat::Docker);
    let kinds: Vec<_> = out.recs.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        vec![RecordKind::Json, RecordKind::Text, RecordKind::Json]
    );
    assert_eq!(out.counters.malformed, 1);
}

// ---------------------------------------------------------------- auto-detection

#[test]
fn auto_detects_each_format() {
    let cases: [(&str, InputFormat); 6] = [
        (
            "2016-10-06T00:17:09.669794202Z stdout F hello\n",
            InputFormat::Cri,
        ),
        (
            "{\"log\":\"hello\\n\",\"stream\":\"stdout\",\"time\":\"2019-01-01T11:11:11Z\"}\n",
            InputFormat::Docker,
        ),
        ("[1554141513.598656,{\"log\":\"x\"}]\n", InputFormat::Json),
        ("{\"level\":\"info\",\"msg\":\"x\"}\n", InputFormat::Json),
        (
            "{\"log\":\"x\\n\",\"stream\":\"stdout\",\"time\":\"t\",\"kubernetes\":{}}\n",
            InputFormat::Json,
        ),
        ("2016-10-06 00:17:09 INFO hello\n", InputFormat::Text),
    ];
    for (input, want) in cases {
        let input = format!("\n\r\n{input}");
        let out = read(input.as_bytes(), InputFormat::Auto);
        assert_eq!(out.format, want, "{input}");
        assert_eq!(out.recs.len(), 1);
        assert_eq!(out.recs[0].line, 3);
        assert_eq!(out.counters.malformed, 0);
    }
}

#[test]
fn auto_looks_past_a_corrupt_first_line() {
    let good = r##"{"log":"# linux\n","stream":"stdout","time":"2016-03-02T22:59:04.646276053Z"}"##;
    let corrupt = r#""log":"cp packetbeat.yml /build/packetbeat-linux.yml\n","stream":"stdout","time":"2016-03-02T22:59:04.647847045Z"}"#;
    let input = format!("{corrupt}\n{good}\n{good}\n");
    let out = read(input.as_bytes(), InputFormat::Auto);
    assert_eq!(out.format, InputFormat::Docker);
    assert_eq!(out.recs[0].kind, RecordKind::Text);
    assert_eq!(out.counters.malformed, 1);
    // The same through gzip.
    let out = read(&gzip(input.as_bytes()), InputFormat::Auto);
    assert_eq!(out.format, InputFormat::Docker);
}

#[test]
fn auto_decides_once_and_counts_misfits() {
    let input = "2016-10-06T00:17:09Z stdout F a\n{\"json\":1}\nplain\n";
    let out = read(input.as_bytes(), InputFormat::Auto);
    assert_eq!(out.format, InputFormat::Cri);
    assert_eq!(out.recs.len(), 3);
    assert_eq!(out.recs[1].kind, RecordKind::Text);
    assert_eq!(out.counters.malformed, 2);
}

// ---------------------------------------------------------------- gzip

#[test]
fn gzip_single_and_multi_member() {
    let a = "2016-10-06T00:17:09Z stdout P one \n2016-10-06T00:17:09Z stdout F two\n";
    let b = "2016-10-06T00:17:10Z stderr F three\n";
    let single = gzip(a.as_bytes());
    let out = read(&single, InputFormat::Auto);
    assert_eq!(out.format, InputFormat::Cri);
    assert_eq!(out.recs.len(), 1);
    assert_eq!(out.counters.bytes_in, a.len() as u64);

    let mut multi = single.clone();
    multi.extend_from_slice(&gzip(b.as_bytes()));
    for step in [1, 7, 1 << 20] {
        let out = read_with(
            Trickle { data: &multi, step },
            InputFormat::Auto,
            ReaderOptions::default(),
        );
        assert!(out.error.is_none());
        let logs: Vec<_> = out.recs.iter().map(|r| r.json()["log"].clone()).collect();
        assert_eq!(logs, vec!["one two", "three"]);
        assert_eq!(out.recs[1].line, 3);
        assert_eq!(out.counters.bytes_in, (a.len() + b.len()) as u64);
    }
}

fn numbered_lines(n: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..n {
        // Varied content so deflate cannot collapse it to a few bytes.
        writeln!(
            v,
            "{{\"n\":{i},\"h\":\"{:x}\"}}",
            (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        )
        .unwrap();
    }
    v
}

#[test]
fn corrupt_gzip_mid_stream_returns_records_then_an_error() {
    let plain = numbered_lines(200_000);
    let mut gz = gzip(&plain);
    let mid = gz.len() / 2;
    for b in &mut gz[mid..mid + 64] {
        *b ^= 0x5a;
    }
    let out = read_with(&gz[..], InputFormat::Auto, ReaderOptions::default());
    let err = out.error.expect("an error");
    let msg = err.to_string();
    assert!(matches!(err, ReadError::CorruptGzip { .. }), "{msg}");
    assert!(msg.starts_with("corrupt gzip stream after "), "{msg}");
    assert!(
        out.recs.len() > 1000,
        "records before the damage are returned: {}",
        out.recs.len()
    );
    // What came out is the undamaged prefix, in order.
    for (i, r) in out.recs.iter().take(1000).enumerate() {
        assert_eq!(r.json()["n"], i);
    }
}

#[test]
fn truncated_gzip_returns_records_then_an_error() {
    let plain = numbered_lines(50_000);
    let gz = gzip(&plain);
    let cut = &gz[..gz.len() * 2 / 3];
    let out = read_with(cut, InputFormat::Json, ReaderOptions::default());
    let err = out.error.expect("an error");
    assert!(matches!(err, ReadError::TruncatedGzip { .. }), "{err}");
    assert!(
        err.to_string().starts_with("truncated gzip stream after "),
        "{err}"
    );
    assert!(out.recs.len() > 1000);
    // Every decoded byte is in a record (the cut last line included), plus the newlines.
    let total: u64 = out.recs.iter().map(|r| r.bytes.len() as u64 + 1).sum();
    assert!(out.counters.bytes_in == total || out.counters.bytes_in == total - 1);

    // A stream cut inside the header is truncated too.
    let out = read_with(&gz[..5], InputFormat::Json, ReaderOptions::default());
    assert!(out.recs.is_empty());
    assert!(
        matches!(out.error, Some(ReadError::TruncatedGzip { after: 0 })),
        "{:?}",
        out.error
    );
}

#[test]
fn io_errors_are_reported_after_the_records_read() {
    /// Serves its data, then fails.
    struct Failing<'a>(&'a [u8]);
    impl Read for Failing<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::other("disk on fire"));
            }
            let n = self.0.len().min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let out = read_with(
        Failing(b"line\nline\nline\n"),
        InputFormat::Text,
        ReaderOptions::default(),
    );
    assert_eq!(out.recs.len(), 3);
    let err = out.error.unwrap();
    assert!(matches!(err, ReadError::Io { after: 15, .. }), "{err}");
    assert!(err.to_string().contains("disk on fire"));

    // Inside gzip the reader's own error is still an I/O error, not "corrupt gzip".
    let gz = gzip(&numbered_lines(1000));
    let out = read_with(
        Failing(&gz[..gz.len() / 2]),
        InputFormat::Json,
        ReaderOptions::default(),
    );
    assert!(
        matches!(out.error, Some(ReadError::Io { .. })),
        "{:?}",
        out.error
    );
    assert!(!out.recs.is_empty());
}

// ---------------------------------------------------------------- size cap

/// `n` bytes of `x` without a newline, then `tail`, produced on the fly.
struct HugeLine {
    left: usize,
    tail: &'static [u8],
}

impl Read for HugeLine {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left > 0 {
            let n = self.left.min(buf.len());
            buf[..n].fill(b'x');
            self.left -= n;
            return Ok(n);
        }
        let n = self.tail.len().min(buf.len());
        buf[..n].copy_from_slice(&self.tail[..n]);
        self.tail = &self.tail[n..];
        Ok(n)
    }
}

#[test]
fn ten_megabyte_line_is_truncated_with_bounded_memory() {
    let max = 64 * 1024;
    let opts = ReaderOptions {
        max_record_bytes: max,
        ..Default::default()
    };
    let mut r = RecordReader::new(
        HugeLine {
            left: 10 << 20,
            tail: b"\nnext\n",
        },
        InputFormat::Text,
        opts,
    );
    let rec = r.next_record().unwrap().unwrap();
    assert_eq!(rec.bytes.len(), max);
    assert!(rec.bytes.iter().all(|&b| b == b'x'));
    let rec = r.next_record().unwrap().unwrap();
    assert_eq!((rec.bytes, rec.line), (&b"next"[..], 2));
    assert!(r.next_record().is_none());
    assert!(
        r.buffer_capacity() < max + 512 * 1024,
        "buffer grew to {}",
        r.buffer_capacity()
    );
    let c = r.counters();
    assert_eq!((c.truncated, c.lines, c.records), (1, 2, 2));
    assert_eq!(c.bytes_in, (10 << 20) + 6);

    // The same without any newline, under the default 1 MiB cap.
    let mut r = RecordReader::new(
        HugeLine {
            left: 10 << 20,
            tail: b"",
        },
        InputFormat::Auto,
        ReaderOptions::default(),
    );
    assert_eq!(r.next_record().unwrap().unwrap().bytes.len(), 1 << 20);
    assert!(r.next_record().is_none());
    assert!(
        r.buffer_capacity() < (1 << 20) + 512 * 1024,
        "buffer grew to {}",
        r.buffer_capacity()
    );
}

#[test]
fn long_line_with_newline_in_buffer_is_truncated() {
    let input = format!("{}\nshort\n", "y".repeat(100));
    let opts = ReaderOptions {
        max_record_bytes: 10,
        ..Default::default()
    };
    let out = read_with(input.as_bytes(), InputFormat::Text, opts);
    let got: Vec<_> = out.recs.iter().map(|r| r.text()).collect();
    assert_eq!(got, vec!["yyyyyyyyyy", "short"]);
    assert_eq!(out.counters.truncated, 1);
}

#[test]
fn buffers_are_reused() {
    let input = numbered_lines(20_000);
    let mut r = RecordReader::new(&input[..], InputFormat::Json, ReaderOptions::default());
    let mut n = 0;
    while let Some(rec) = r.next_record() {
        rec.unwrap();
        n += 1;
    }
    assert_eq!(n, 20_000);
    assert_eq!(
        r.buffer_capacity(),
        256 * 1024,
        "only the read buffer is allocated"
    );
}

/// `parts` partial lines of `part` bytes each (CRI `P`, or Docker parts without `\n`), then the last
/// part, produced as they are read.
struct PartChain {
    docker: bool,
    parts: usize,
    part: usize,
    pending: Vec<u8>,
}

impl Read for PartChain {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pending.is_empty() && self.parts > 0 {
            self.parts -= 1;
            let body = "p".repeat(self.part);
            let line = match (self.docker, self.parts) {
                (false, 0) => "2026-11-22T10:00:00Z stdout F end\n".to_string(),
                (false, _) => format!("2026-11-22T10:00:00Z stdout P {body}\n"),
                (true, 0) => "{\"log\":\"end\\n\",\"stream\":\"stdout\",\"time\":\"t\"}\n".to_string(),
                (true, _) => format!("{{\"log\":\"{body}\",\"stream\":\"stdout\",\"time\":\"t\"}}\n"),
            };
            self.pending = line.into_bytes();
        }
        let n = self.pending.len().min(buf.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

/// Issue 15: a chain of partial lines is joined only up to the cap, with the reader's memory bounded
/// by it, however long the chain (the forwarder's joiner takes the same cap, `append_capped`).
#[test]
fn r15_partial_chains_are_joined_up_to_the_cap() {
    for (docker, format) in [(false, InputFormat::Cri), (true, InputFormat::Docker)] {
        let max = 64 * 1024;
        let chain = PartChain {
            docker,
            parts: 1250,
            part: 16 * 1024,
            pending: Vec::new(),
        };
        let mut r = RecordReader::new(
            chain,
            format,
            ReaderOptions {
                max_record_bytes: max,
                ..Default::default()
            },
        );
        let rec = r.next_record().unwrap().unwrap();
        let v: Value = serde_json::from_slice(rec.bytes).unwrap();
        let log = v["log"].as_str().unwrap();
        assert_eq!(log.len(), max, "{format}");
        assert!(r.next_record().is_none());
        assert!(
            r.buffer_capacity() < 4 * max + 512 * 1024,
            "{format}: buffers grew to {} over a 20 MB chain",
            r.buffer_capacity()
        );
        assert_eq!(r.counters().truncated, 1, "{format}");
    }
}
