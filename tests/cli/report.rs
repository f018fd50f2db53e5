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
