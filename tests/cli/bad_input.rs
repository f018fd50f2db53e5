//! Bad input never panics and is never silently lost: invalid UTF-8 and JSON are decided as text, huge
//! lines are truncated and counted, corrupt gzip is reported after what could be read.

use std::io::Write as _;

use super::*;

const KEEP_ALL_BUT_PROBES: &[u8] = br#"parse:
  log: [access]
rules:
  - name: probes
    when: log.user_agent starts_with "kube-probe/"
    action: drop
default:
  action: keep
"#;

fn run(input: &[u8], extra: &[&str]) -> (Output, Scratch) {
    let dir = Scratch::new(&format!("bad-{}", input.len()));
    let rules = dir.file("r.yaml", KEEP_ALL_BUT_PROBES);
    let f = dir.file("in.log", input);
    let mut args = vec!["run", s(&rules)];
    args.extend_from_slice(extra);
    let f = f.to_str().unwrap().to_string();
    args.push(&f);
    let o = logtrim(&args, b"");
    (o, dir)
}

#[test]
fn invalid_utf8_and_invalid_json_are_kept_as_text() {
    let input = b"{\"log\":\"caf\xe9\"}\n{\"log\": \"unterminated\n\xff\xfe binary \x00 junk\n{\"log\":\"ok\"}\n";
    let (o, _d) = run(input, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, input.to_vec(), "every record is kept byte for byte");
    assert!(stderr(&o).contains("2 records started with '{' but were not valid JSON"), "{}", stderr(&o));
}

#[test]
fn invalid_utf8_in_cri_messages_is_replaced_and_counted() {
    let input = b"2026-11-22T10:00:00.000000001Z stdout F caf\xe9 GET /a 503\n2026-11-22T10:00:00.000000002Z stdout F fine\n2026-11-22T10:00:00.000000003Z stderr F \xff\xfe\n";
    let (o, _d) = run(input, &["--input-format", "cri"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout.clone()).expect("the output is valid UTF-8");
    assert_eq!(out.lines().count(), 3, "every message kept: {out}");
    // Records are written as JSON, U+FFFD as its escape.
    assert!(out.contains(r#""log":"caf\ufffd GET /a 503""#), "{out}");
    assert!(stderr(&o).contains("2 container-log messages had invalid UTF-8, replaced by U+FFFD"), "{}", stderr(&o));
    let dir = Scratch::new("bad-utf8-report");
    let rules = dir.file("r.yaml", KEEP_ALL_BUT_PROBES);
    let f = dir.file("in.log", input);
    let o = logtrim(&["report", s(&rules), "--input-format", "cri", "--format", "json", s(&f)], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["input"]["invalid_utf8_messages"], 2, "{v}");
}

#[test]
fn a_10_mb_line_is_truncated_and_counted_not_lost() {
    let mut input = Vec::new();
    input.extend_from_slice(b"{\"log\":\"");
    input.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
    input.extend_from_slice(b"\"}\nafter\n");
    let (o, _d) = run(&input, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = &o.stdout;
    let first = out.split(|b| *b == b'\n').next().unwrap();
    assert_eq!(first.len(), 1024 * 1024, "truncated to --max-record-bytes");
    assert!(out.ends_with(b"\nafter\n"));
    assert!(stderr(&o).contains("1 records were longer than --max-record-bytes and were truncated"), "{}", stderr(&o));
    // A larger cap keeps it whole.
    let (o, _d) = run(&input, &["--max-record-bytes", "20000000"]);
    assert_eq!(o.stdout.len(), input.len());
}

#[test]
fn r15_json_lines_with_dockers_keys_are_read_one_record_per_line() {
    // No newline at the end of `log` and no other keys: JSON lines, not Docker's 16 KiB parts.
    let line = |i: usize| {
        format!(r#"{{"log":"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] \"GET /p HTTP/1.1\" 503 0 \"-\" \"curl/8\"","stream":"stdout","time":"2026-11-22T10:00:00.{i:06}Z"}}"#)
    };
    let input: String = (0..20_000).map(|i| line(i) + "\n").collect();
    let (o, _d) = run(input.as_bytes(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = o.stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count();
    assert!(o.stdout == input.as_bytes(), "every line kept as it is: {lines} lines out\n{}", stderr(&o));
    assert!(!stderr(&o).contains("note:"), "{}", stderr(&o));
    // Read as Docker on purpose: joined, and the note says how many lines became how many records.
    let (o, _d) = run(input.as_bytes(), &["--input-format", "docker"]);
    assert!(stderr(&o).contains("note: 20000 partial container-log lines were joined into 1 records"), "{}", stderr(&o));
}

#[test]
fn empty_input_reports_zero() {
    let (o, _d) = run(b"", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert!(stderr(&o).contains("kept 0 of 0 records"), "{}", stderr(&o));
    let dir = Scratch::new("bad-empty-report");
    let rules = dir.file("r.yaml", KEEP_ALL_BUT_PROBES);
    let f = dir.file("empty.log", b"");
    let o = logtrim(&["report", "--format", "json", s(&rules), s(&f)], b"");
    assert!(o.status.success());
    assert_eq!(json(&o)["total"]["records"], 0);
}

#[test]
fn binary_garbage_does_not_panic() {
    // Deterministic pseudo-random bytes, newlines included.
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let input: Vec<u8> = (0..200_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let (o, _d) = run(&input, &[]);
    assert!(o.status.code() == Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));
    for fmt in ["cri", "docker", "json", "text"] {
        let (o, _d) = run(&input, &["--input-format", fmt]);
        assert_eq!(o.status.code(), Some(0), "{fmt}: {}", stderr(&o));
    }
}

#[test]
fn corrupt_gzip_is_reported_after_the_records_before_it() {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let body: String = (0..2000).map(|i| format!("{{\"log\":\"line {i}\"}}\n")).collect();
    enc.write_all(body.as_bytes()).unwrap();
    let mut gz = enc.finish().unwrap();
    let cut = gz.len() / 2;
    gz.truncate(cut);
    let (o, _d) = run(&gz, &[]);
    assert_eq!(o.status.code(), Some(1), "a file that could not be read whole is a failure");
    let err = stderr(&o);
    assert!(err.contains("stopped reading") && err.contains("gzip"), "{err}");
    let n = o.stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count();
    assert!(n > 0 && n < 2000, "kept the {n} records before the corruption");
}

#[test]
fn unreadable_input_file_is_a_usage_error() {
    let dir = Scratch::new("bad-missing");
    let rules = dir.file("r.yaml", KEEP_ALL_BUT_PROBES);
    let o = logtrim(&["run", s(&rules), "/nonexistent/in.log"], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot open /nonexistent/in.log"), "{}", stderr(&o));
}
