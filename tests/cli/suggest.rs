//! `logtrim suggest`: templates by cost, proposed rules checked on the input, and the files it writes.

use std::collections::HashMap;

use logtrim_testkit::corpus::{Config, Corpus, Label, Mix};
use proptest::prelude::*;

use super::*;

fn sample() -> PathBuf {
    root().join("filters/samples/k8s-sample.jsonl.gz")
}

/// Runs `suggest` with `--emit`, `--assignments` and `--format json`; returns its document and the
/// files it wrote.
fn suggest(dir: &Scratch, args: &[&str]) -> (serde_json::Value, PathBuf, PathBuf) {
    let emit = dir.0.join("suggested.yaml");
    let assign = dir.0.join("assignments.txt");
    let mut all = vec!["suggest", "--format", "json", "--emit", s(&emit), "--assignments", s(&assign)];
    all.extend_from_slice(args);
    let o = logtrim(&all, b"");
    assert!(o.status.success(), "{}", stderr(&o));
    (json(&o), emit, assign)
}

fn kept_and_sent(rules: &Path, input: &Path) -> (u64, u64) {
    let o = logtrim(&["report", "--format", "json", s(rules), s(input)], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    (v["total"]["kept_bytes"].as_u64().unwrap(), v["output"]["sent_bytes"].as_u64().unwrap_or(v["total"]["kept_bytes"].as_u64().unwrap()))
}

#[test]
fn on_the_bundled_sample_the_emitted_file_checks_tests_and_saves_what_was_projected() {
    let dir = Scratch::new("suggest-sample");
    let rules = filter("k8s-splunk.yaml");
    let (v, emit, assign) = suggest(&dir, &[s(&rules), s(&sample())]);
    let proposals = v["proposals"].as_array().unwrap();
    assert!(!proposals.is_empty(), "{v}");
    for p in proposals {
        assert_eq!(p["protected_records_dropped"], 0, "{p}");
        assert!(p["precision"].as_f64().unwrap() > 0.9, "{p}");
        assert!(p["saved_bytes"].as_u64().unwrap() > 0, "{p}");
    }
    // The user's rules come first, the proposals after, and both `check` and `test` pass.
    let text = std::fs::read_to_string(&emit).unwrap();
    assert!(text.starts_with(&std::fs::read_to_string(&rules).unwrap()[..40]));
    let o = logtrim(&["check", s(&emit)], b"");
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let o = logtrim(&["test", s(&emit)], b"");
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(stdout(&o).contains(" 0 failed"));
    // `report` with the written file keeps what `suggest` projected.
    let (kept, sent) = kept_and_sent(&emit, &sample());
    assert_eq!(kept, v["total"]["sent_bytes_after"].as_u64().unwrap());
    assert_eq!(sent, v["total"]["output_bytes_after"].as_u64().unwrap());
    let (before, _) = kept_and_sent(&rules, &sample());
    assert_eq!(before, v["total"]["sent_bytes_before"].as_u64().unwrap());
    assert!(kept < before);
    // One template id per record, each one of the templates listed.
    let ids = std::fs::read_to_string(&assign).unwrap();
    let n = v["input"]["records"].as_u64().unwrap() as usize;
    assert_eq!(ids.lines().count(), n);
    let templates = v["mined"]["templates"].as_u64().unwrap();
    assert!(ids.lines().all(|l| l.parse::<u64>().is_ok_and(|t| t < templates)));
}

#[test]
fn text_output_ranks_templates_and_explains_the_proposals() {
    let o = logtrim(&["suggest", "--top", "3", s(&filter("k8s-splunk.yaml")), s(&sample())], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for want in ["rule set: k8s-splunk", "top templates by bytes sent:", "  1. [", "proposed rules", "precision", "0 protected records dropped", "GB/day"] {
        assert!(out.contains(want), "{want:?} in\n{out}");
    }
    assert!(!out.contains("  4. ["), "--top 3 shows three\n{out}");
}

#[test]
fn standard_input_is_read_once_and_mined_twice() {
    let data = Corpus::new(3).take_bytes(200 << 10);
    let o = logtrim(&["suggest", "--format", "json", "--days", "1"], &data);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["input"]["bytes"].as_u64().unwrap() as usize, data.len() - data.iter().filter(|b| **b == b'\n').count());
    assert!(!v["proposals"].as_array().unwrap().is_empty());
}

#[test]
fn the_template_limit_counts_what_has_no_room() {
    let dir = Scratch::new("suggest-limit");
    let (v, _, assign) = suggest(&dir, &["--max-templates", "3", s(&sample())]);
    assert_eq!(v["mined"]["templates"], 3);
    let overflow = v["mined"]["overflow_records"].as_u64().unwrap();
    assert!(overflow > 0);
    let ids = std::fs::read_to_string(assign).unwrap();
    assert_eq!(ids.lines().filter(|l| *l == "-").count() as u64, overflow);
}

#[test]
fn a_rule_file_that_cannot_take_the_guard_gets_no_proposals() {
    let dir = Scratch::new("suggest-parsers");
    let rules = dir.file("access-only.yaml", b"parse:\n  log: [access]\nrules:\n  - name: errors\n    when: log.status >= 500\n    action: keep\n");
    let (v, emit, _) = suggest(&dir, &[s(&rules), s(&sample())]);
    assert!(v["proposals"].as_array().unwrap().is_empty());
    assert!(v["no_proposals_because"].as_str().unwrap().contains("access"), "{v}");
    // The file written is the user's, unchanged.
    assert_eq!(std::fs::read(&emit).unwrap(), std::fs::read(&rules).unwrap());
}

#[test]
fn a_heavy_field_is_trimmed_and_the_trim_measured() {
    let dir = Scratch::new("suggest-trim");
    let mut data = String::new();
    for i in 0..300 {
        data += &format!(
            r#"{{"time":"2026-11-22T10:{:02}:{:02}Z","log":"{{\"level\":\"info\",\"msg\":\"upload {i} stored\"}}","request_body":"{}","kubernetes":{{"namespace_name":"shop","container_name":"api"}}}}"#,
            i / 60,
            i % 60,
            "b".repeat(700)
        );
        data.push('\n');
    }
    let input = dir.file("in.jsonl", data.as_bytes());
    let (v, emit, _) = suggest(&dir, &[s(&input)]);
    let p = &v["proposals"][0];
    assert_eq!((p["action"].as_str(), p["trim_remove"][0].as_str()), (Some("keep"), Some("request_body")), "{v}");
    assert!(p["trimmed_bytes"].as_u64().unwrap() > 300 * 700);
    assert_eq!(p["saved_bytes"], 0);
    let (kept, sent) = kept_and_sent(&emit, &input);
    assert_eq!(kept, v["total"]["sent_bytes_after"].as_u64().unwrap());
    assert_eq!(sent, v["total"]["output_bytes_after"].as_u64().unwrap());
    assert!(sent < kept / 4);
    let o = logtrim(&["test", s(&emit)], b"");
    assert!(o.status.success(), "{}", stdout(&o));
}

/// Runs the written rules over `data` and returns the records they drop.
fn dropped(dir: &Scratch, rules: &Path, input: &Path) -> Vec<Vec<u8>> {
    let out = dir.0.join("dropped.jsonl");
    let o = logtrim(&["run", s(rules), s(input), "-o", s(&dir.0.join("kept.jsonl")), "--dropped", s(&out)], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::read(&out).unwrap().split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    /// On generated corpora of any mix, the written rules drop no record the generator calls protected
    /// (warn and above, status 400 and above, stack traces), and `report` measures the reduction
    /// `suggest` projected, within one point.
    #[test]
    fn emitted_rules_never_drop_protected_records_and_save_what_was_projected(
        seed in 0u64..1_000_000,
        weights in proptest::collection::vec(0u32..10, 8),
        bytes in 100usize << 10..400 << 10,
    ) {
        let mix = Mix {
            ingress_nginx: weights[0], nginx_combined: weights[1], envoy_text: weights[2], envoy_json: weights[3],
            json_app: weights[4], logfmt: weights[5], log4j: weights[6], klog: weights[7] + 1,
        };
        let (data, labels) = Corpus::with_config(seed, Config { mix, span_secs: 600, span_bytes: bytes as u64, ..Config::default() }).take_bytes_labeled(bytes);
        let by_record: HashMap<&[u8], &Label> = data.split(|b| *b == b'\n').filter(|l| !l.is_empty()).zip(&labels).collect();
        let dir = Scratch::new(&format!("suggest-prop-{seed}"));
        let input = dir.file("in.jsonl", &data);
        let (v, emit, _) = suggest(&dir, &["--min-share", "0.5", "--proposals", "8", s(&input)]);
        prop_assert!(!v["proposals"].as_array().unwrap().is_empty(), "nothing proposed: {v}");
        let dropped = dropped(&dir, &emit, &input);
        prop_assert!(!dropped.is_empty());
        for r in dropped {
            let label = by_record.get(&r[..]).expect("a dropped record is an input record");
            prop_assert!(!label.protected, "protected record dropped: {:?} {}", label, String::from_utf8_lossy(&r));
        }
        let total: u64 = v["input"]["bytes"].as_u64().unwrap();
        let projected = v["total"]["reduction_percent"].as_f64().unwrap();
        let (kept, _) = kept_and_sent(&emit, &input);
        let measured = 100.0 - kept as f64 * 100.0 / total as f64;
        prop_assert!((projected - measured).abs() <= 1.0, "projected {projected:.2}%, measured {measured:.2}%");
    }
}
