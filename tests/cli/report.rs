//! `logtrim report`: per-rule figures that add up, reduction and GB/day.

use super::*;

const RULES: &[u8] = br#"name: t
parse:
  log: [access]
rules:
  - name: errors
    when: log.status >= 500
    action: keep
    priority: critical
  - name: ok
    when: log.status in 200..299
    action: drop
default:
  action: keep
"#;

fn line(status: u32, hour: u32) -> String {
    format!(
        r#"{{"time":"2026-11-22T{hour:02}:00:00Z","log":"1.2.3.4 - - [22/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" {status} 0 \"-\" \"c\""}}"#
    )
}

#[test]
fn figures_add_up_and_project_per_day() {
    let dir = Scratch::new("report");
    let rules = dir.file("r.yaml", RULES);
    // 12 hours of records: 10 × 200, 3 × 500, 2 text lines.
    let mut input = String::new();
    let mut bytes = [0u64; 3];
    for i in 0..10 {
        let l = line(200, i);
        bytes[1] += l.len() as u64;
        input += &l;
        input.push('\n');
    }
    for i in 0..3 {
        let l = line(500, 10 + i);
        bytes[0] += l.len() as u64;
        input += &l;
        input.push('\n');
    }
    for l in ["plain text one", "plain text two"] {
        bytes[2] += l.len() as u64;
        input += l;
        input.push('\n');
    }
    let f = dir.file("in.jsonl", input.as_bytes());
    let o = logtrim(&["report", "--format", "json", s(&rules), s(&f)], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    let rows = v["rules"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["rule"].as_str().unwrap()).collect();
    assert_eq!(names, ["errors", "ok", "default"]);
    assert_eq!(rows[0]["records"], 3);
    assert_eq!(rows[0]["bytes"], bytes[0]);
    assert_eq!(rows[1]["records"], 10);
    assert_eq!(rows[1]["dropped_bytes"], bytes[1]);
    assert_eq!(rows[2]["records"], 2);
    let total = bytes.iter().sum::<u64>();
    assert_eq!(v["total"]["bytes"], total);
    assert_eq!(v["total"]["kept_bytes"], bytes[0] + bytes[2]);
    let reduction = v["reduction_percent"].as_f64().unwrap();
    assert!((reduction - bytes[1] as f64 * 100.0 / total as f64).abs() < 1e-9);
    // Timestamps span 00:00 to 12:00: half a day.
    let p = &v["projection"];
    assert_eq!(p["days_from"], "record timestamps");
    assert!((p["days"].as_f64().unwrap() - 0.5).abs() < 1e-9, "{p}");
    let gb = (1u64 << 30) as f64;
    assert!((p["gb_per_day_before"].as_f64().unwrap() - total as f64 / gb / 0.5).abs() < 1e-15);

    let o = logtrim(&["report", "--days", "2", s(&rules), s(&f)], b"");
    let out = stdout(&o);
    assert!(out.contains("errors") && out.contains("volume reduced by"), "{out}");
    assert!(out.contains("over 2.00 days, from --days"), "{out}");
}

#[test]
fn the_readme_main_job_runs_on_the_bundled_sample() {
    let sample = root().join("filters/samples/k8s-sample.jsonl.gz");
    let o = logtrim(&["report", "--format", "json", s(&filter("k8s-splunk.yaml")), s(&sample)], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    let records = v["total"]["records"].as_u64().unwrap();
    assert!(records > 1000, "{v}");
    let rows = v["rules"].as_array().unwrap();
    assert_eq!(rows.iter().map(|r| r["records"].as_u64().unwrap()).sum::<u64>(), records);
    // Every server error in the sample is kept.
    let errors = rows.iter().find(|r| r["rule"] == "server-errors").unwrap();
    assert!(errors["records"].as_u64().unwrap() > 0);
    assert_eq!(errors["kept_records"], errors["records"]);
    let reduction = v["reduction_percent"].as_f64().unwrap();
    assert!(reduction > 30.0 && reduction < 95.0, "reduction {reduction}");
    assert!(v["projection"]["gb_per_day_after"].as_f64().unwrap() > 0.0);
    assert_eq!(v["input"]["invalid_json_records"], 0);
}

#[test]
fn budget_replay_sheds_low_first_and_keeps_every_critical_byte() {
    let sample = root().join("filters/samples/k8s-sample.jsonl.gz");
    let o = logtrim(
        &["report", "--format", "json", "--budget", "20MB", "--rate", "80MB", s(&filter("k8s-splunk.yaml")), s(&sample)],
        b"",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    let b = &v["budget"];
    assert_eq!(b["limit_bytes"], 20_000_000);
    assert_eq!(b["input_bytes_per_day"], 80_000_000);
    let p = &b["priorities"];
    // The rules keep ~47% of 80 MB, about twice the limit: the budget has to shed.
    assert_eq!(p["critical"]["shed_bytes"], 0, "{b}");
    assert!(p["critical"]["first_shed"].is_null(), "{b}");
    let first = |name: &str| p[name]["first_shed"].as_str().unwrap_or_else(|| panic!("{name} never shed: {b}")).to_string();
    assert!(first("low") < first("normal") && first("normal") < first("high"), "{b}");
    // What the budget lets through stays within the limit, critical overage aside.
    let kept = b["kept_bytes"].as_u64().unwrap();
    let over = b["critical_over_limit_bytes"].as_u64().unwrap();
    assert!(kept <= 20_000_000 + over + 65_536, "{b}");
    assert!(kept >= 19_000_000, "the budget is used, not wasted: {b}");

    let o = logtrim(&["report", "--budget", "20MB", "--rate", "80MB", s(&filter("k8s-splunk.yaml")), s(&sample)], b"");
    let out = stdout(&o);
    assert!(out.contains("budget replay: limit 0.02 GB/day") && out.contains("shedding low and below"), "{out}");

    // `--budget rules` takes the rule file's own `budget:` section; the default set has none.
    let o = logtrim(&["report", "--budget", "rules", s(&filter("k8s-splunk.yaml")), s(&sample)], b"");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("has no `budget:` section"), "{}", stderr(&o));
}

#[test]
fn budget_replay_uses_the_rule_files_budget_section() {
    let dir = Scratch::new("report-budget-rules");
    let mut yaml = std::fs::read_to_string(filter("k8s-splunk.yaml")).unwrap();
    yaml.push_str("\nbudget:\n  limit: 20MB\n  time_zone: America/New_York\n  shed:\n    low: 50%\n    normal: 90%\n    high: 100%\n");
    let rules = dir.file("budgeted.yaml", yaml.as_bytes());
    let sample = root().join("filters/samples/k8s-sample.jsonl.gz");
    let v = json(&logtrim(&["report", "--format", "json", "--budget", "rules", "--rate", "80MB", s(&rules), s(&sample)], b""));
    let b = &v["budget"];
    assert_eq!(b["limit_bytes"], 20_000_000, "{b}");
    assert_eq!(b["time_zone"], "America/New_York");
    // The sample starts 2026-11-22T00:00Z, which is still the 21st in New York: that licence day is replayed.
    assert_eq!(b["day_start"], "2026-11-21T05:00:00Z", "{b}");
    let low_at = b["timeline"].as_array().unwrap().iter().find(|e| e["event"].as_str().unwrap().starts_with("shedding low")).unwrap();
    assert!(low_at["event"].as_str().unwrap().contains("(50."), "{low_at}");
    // A size on the command line overrides the limit and keeps the rest of the section.
    let v = json(&logtrim(&["report", "--format", "json", "--budget", "30MB", "--rate", "80MB", s(&rules), s(&sample)], b""));
    assert_eq!(v["budget"]["limit_bytes"], 30_000_000);
    assert_eq!(v["budget"]["time_zone"], "America/New_York");
}

/// `logtrim report … | head -1`: when the reader goes away the command ends quietly (killed by SIGPIPE,
/// as `cat` would be), without a panic or an error message.
#[test]
fn a_closed_output_pipe_ends_the_command_quietly() {
    let sample = root().join("filters/samples/k8s-sample.jsonl.gz");
    let mut child = Command::new(env!("CARGO_BIN_EXE_logtrim"))
        .args(["report", filter("k8s-splunk.yaml").to_str().unwrap(), sample.to_str().unwrap(), "--no-progress"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Gone before the report (which reads 6 MB first) prints its first line.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked") && !err.contains("error"), "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert!(out.status.success() || out.status.signal() == Some(13), "{:?}", out.status);
    }
}
