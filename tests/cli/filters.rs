//! `logtrim test` on the bundled rule sets, and how failures are shown.

use super::*;

#[test]
fn bundled_rule_sets_pass_their_embedded_tests() {
    let files: Vec<PathBuf> = ["k8s-splunk.yaml", "envoy-mesh.yaml", "ingress-nginx.yaml"].iter().map(|f| filter(f)).collect();
    let args: Vec<&str> = std::iter::once("test").chain(files.iter().map(|f| s(f))).collect();
    let o = logtrim(&args, b"");
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains(" 0 failed"), "{out}");
    let o = logtrim(&["test", "--format", "json", s(&files[0])], b"");
    let v = json(&o);
    assert!(v["passed"].as_u64().unwrap() >= 10, "{v}");
    assert_eq!(v["failed"], 0);
}

#[test]
fn a_failing_example_shows_input_expected_and_actual() {
    let dir = Scratch::new("test-fail");
    let f = dir.file(
        "r.yaml",
        br#"parse:
  log: [access]
rules:
  - name: errors
    when: log.status >= 500
    action: keep
    priority: critical
default:
  action: drop
tests:
  - name: 404 should be kept
    record: {log: '1.2.3.4 - - [22/Nov/2026:10:00:00 +0000] "GET /x HTTP/1.1" 404 0 "-" "curl"'}
    expect: {action: keep}
  - name: 500 is kept
    record: {log: '1.2.3.4 - - [22/Nov/2026:10:00:00 +0000] "GET /x HTTP/1.1" 500 0 "-" "curl"'}
    expect: {action: keep, rule: errors, priority: high}
  - record: 'plain'
    expect: drop
"#,
    );
    let o = logtrim(&["test", s(&f)], b"");
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("FAIL") && out.contains("404 should be kept"), "{out}");
    assert!(out.contains("expected: keep\n"), "{out}");
    assert!(out.contains("actual:   drop by default"), "{out}");
    assert!(out.contains("expected: keep by errors (high)"), "{out}");
    assert!(out.contains("actual:   keep by errors (critical)"), "{out}");
    assert!(out.contains(r#"record:   {"log":"1.2.3.4"#), "{out}");
    assert!(out.contains("1 passed, 2 failed"), "{out}");
}
