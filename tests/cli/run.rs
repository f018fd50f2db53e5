//! `logtrim run` and `logtrim explain`: the records kept, from every input format.

use std::io::Write as _;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::*;

const RULES: &[u8] = br#"parse:
  log: [access, app]
rules:
  - name: errors
    when: log.status >= 500 or log.level in ["error", "fatal"]
    action: keep
    priority: critical
  - name: probes
    when: log.user_agent starts_with "kube-probe/"
    action: drop
  - name: ok
    when: log.status in 200..299
    action: drop
default:
  action: keep
"#;

fn access(status: u32, ua: &str) -> String {
    format!(r#"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] \"GET /p HTTP/1.1\" {status} 5 \"-\" \"{ua}\""#)
}

/// Six records, three kept: (record, kept?).
fn records() -> Vec<(String, bool)> {
    vec![
        (format!(r#"{{"log":"{}","kubernetes":{{"namespace_name":"a"}}}}"#, access(503, "curl/8")), true),
        (format!(r#"{{"log":"{}"}}"#, access(200, "kube-probe/1.31")), false),
        (format!(r#"{{"log":"{}"}}"#, access(200, "curl/8")), false),
        (r#"{"log":"{\"level\":\"error\",\"msg\":\"boom\"}"}"#.to_string(), true),
        (r#"{"log":"starting up","stream":"stderr"}"#.to_string(), true),
        (format!(r#"{{"log":"{}"}}"#, access(201, "curl/8")), false),
    ]
}

fn jsonl() -> Vec<u8> {
    records().iter().map(|(r, _)| format!("{r}\n")).collect::<String>().into_bytes()
}

fn expected_kept() -> String {
    records().iter().filter(|(_, k)| *k).map(|(r, _)| format!("{r}\n")).collect()
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

#[test]
fn keeps_exactly_what_the_rules_keep() {
    let dir = Scratch::new("run-basic");
    let rules = dir.file("r.yaml", RULES);
    let input = dir.file("in.jsonl", &jsonl());
    let o = logtrim(&["run", s(&rules), s(&input)], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), expected_kept());
    assert!(stderr(&o).contains("kept 3 of 6 records"), "{}", stderr(&o));
}

#[test]
fn stdin_gzip_and_output_file_give_the_same_records() {
    let dir = Scratch::new("run-gzip");
    let rules = dir.file("r.yaml", RULES);
    let gz = dir.file("in.jsonl.gz", &gzip(&jsonl()));
    let out = dir.0.join("kept.jsonl");
    let dropped = dir.0.join("dropped.jsonl");
    let o = logtrim(&["run", s(&rules), s(&gz), "-o", s(&out), "--dropped", s(&dropped)], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), expected_kept());
    assert_eq!(std::fs::read_to_string(&dropped).unwrap().lines().count(), 3);
    // The same bytes on stdin (gzip too).
    let o = logtrim(&["run", s(&rules)], &gzip(&jsonl()));
    assert_eq!(stdout(&o), expected_kept());
    let o = logtrim(&["run", s(&rules), "-"], &jsonl());
    assert_eq!(stdout(&o), expected_kept());
}

#[test]
fn cri_container_logs_join_partial_lines_before_deciding() {
    let dir = Scratch::new("run-cri");
    let rules = dir.file("r.yaml", RULES);
    // A 503 access line split into two partial writes, interleaved with a stderr line.
    let cri = "2026-11-22T10:00:00.000000001Z stdout P 10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] \"GET /p HTTP/1.1\" \n\
               2026-11-22T10:00:00.000000002Z stderr F warming cache\n\
               2026-11-22T10:00:00.000000003Z stdout F 503 5 \"-\" \"curl/8\"\n\
               2026-11-22T10:00:01.000000000Z stdout F 10.0.0.1 - - [22/Nov/2026:10:00:01 +0000] \"GET /p HTTP/1.1\" 200 5 \"-\" \"curl/8\"\n";
    let f = dir.file("app.log", cri.as_bytes());
    let o = logtrim(&["run", s(&rules), s(&f)], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    let kept: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(kept.len(), 2, "{}", stdout(&o));
    assert_eq!(kept[0]["stream"], "stderr");
    assert_eq!(kept[0]["log"], "warming cache");
    assert_eq!(kept[1]["stream"], "stdout");
    assert_eq!(kept[1]["time"], "2026-11-22T10:00:00.000000001Z");
    assert!(kept[1]["log"].as_str().unwrap().ends_with("\"GET /p HTTP/1.1\" 503 5 \"-\" \"curl/8\""), "{}", kept[1]);
}

#[test]
fn docker_json_file_logs() {
    let dir = Scratch::new("run-docker");
    let rules = dir.file("r.yaml", RULES);
    let lines = [
        format!(r#"{{"log":"{}\n","stream":"stdout","time":"2026-11-22T10:00:00.1Z"}}"#, access(500, "curl/8")),
        format!(r#"{{"log":"{}\n","stream":"stdout","time":"2026-11-22T10:00:00.2Z"}}"#, access(200, "curl/8")),
    ];
    let f = dir.file("c.log", format!("{}\n{}\n", lines[0], lines[1]).as_bytes());
    let o = logtrim(&["run", s(&rules), "--input-format", "docker", s(&f)], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("{}\n", lines[0]));
}

#[test]
fn explain_names_the_rule_and_the_fields() {
    let dir = Scratch::new("explain");
    let rules = dir.file("r.yaml", RULES);
    let rec = &records()[1].0;
    let o = logtrim(&["explain", s(&rules), rec], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("decision: drop"), "{out}");
    assert!(out.contains("rule:     probes"), "{out}");
    assert!(out.contains("log.user_agent") && out.contains("kube-probe/1.31"), "{out}");
    let o = logtrim(&["explain", "--format", "json", s(&rules), "-"], records()[0].0.as_bytes());
    let v = json(&o);
    assert_eq!(v["rule"], "errors");
    assert_eq!(v["priority"], "critical");
    assert_eq!(v["fields"]["log.status"], "503");
}

#[test]
fn r15_explain_reads_stdin_as_a_stream_of_records() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::sync::mpsc;
    use std::time::Duration;

    let dir = Scratch::new("explain-stream");
    let rules = dir.file("r.yaml", RULES);
    let mut child = Command::new(env!("CARGO_BIN_EXE_logtrim"))
        .args(["explain", s(&rules), "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let out = BufReader::new(child.stdout.take().unwrap());
    let reader = std::thread::spawn(move || {
        for line in out.lines() {
            let _ = tx.send(line.unwrap());
        }
    });
    // Each record is explained while stdin is still open.
    for (rec, rule) in [(&records()[1].0, "probes"), (&records()[0].0, "errors")] {
        writeln!(stdin, "{rec}").unwrap();
        let decision = loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(l) if l.starts_with("decision: ") => break l,
                Ok(_) => {}
                Err(_) => {
                    let _ = child.kill();
                    panic!("{rule}: nothing explained while stdin stays open");
                }
            }
        };
        assert!(decision.starts_with("decision: "), "{decision}");
        assert_eq!(rx.recv_timeout(Duration::from_secs(30)).unwrap(), format!("rule:     {rule}"));
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
    reader.join().unwrap();
}
