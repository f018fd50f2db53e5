//! `logtrim check`: every mistake as `file:line:col: message` plus a hint, exit 1.

use super::*;

#[test]
fn bundled_rule_sets_are_valid() {
    for f in ["k8s-splunk.yaml", "envoy-mesh.yaml", "ingress-nginx.yaml"] {
        let o = logtrim(&["check", s(&filter(f))], b"");
        assert!(o.status.success(), "{f}: {}", stderr(&o));
        assert!(stdout(&o).contains("ok"), "{}", stdout(&o));
    }
}

#[test]
fn compile_errors_are_positioned_with_hints() {
    let dir = Scratch::new("check-compile");
    let f = dir.file(
        "bad.yaml",
        br#"parse:
  log: [nginx_combined, nginx_combine]
rules:
  - name: slow
    when: log.duration > 1000
    action: keep
  - name: bad-regex
    when: log.path matches "^/api/(v1"
    action: drop
  - name: slow
    when: log.status == 204
    action: drop
  - name: typo
    when: log.stauts >= 500
    action: keep
  - name: catch-all
    action: keep
  - name: after
    when: log.status >= 500
    action: keep
"#,
    );
    let o = logtrim(&["check", s(&f)], b"");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    let p = s(&f);
    for (at, msg, hint) in [
        ("2:25", "unknown field parser \"nginx_combine\"", "did you mean \"nginx_combined\""),
        ("8:28", "invalid regex \"^/api/(v1\": unclosed group", "regex syntax"),
        ("10:11", "duplicate rule name \"slow\"", "first used at line 4"),
        ("14:11", "unknown field \"log.stauts\"", "did you mean log.status"),
        ("18:11", "rule \"after\" can never match", "move it above line 16"),
    ] {
        let line = format!("{p}:{at}: {msg}");
        assert!(err.contains(&line), "missing {line:?} in:\n{err}");
        assert!(err.to_lowercase().contains(&hint.to_lowercase()), "missing hint {hint:?} in:\n{err}");
    }
    assert!(err.contains("error: 5 errors"), "{err}");
}

#[test]
fn load_errors_are_positioned_with_hints() {
    let dir = Scratch::new("check-load");
    let f = dir.file(
        "bad.yaml",
        br#"rules:
  - name: a
    when: log == "x"
    action: keep-it
  - name: b
    action: sample
    rate: 150%
  - name: c
    action: sample
    rate: 0
  - name: d
    when: log ==
    action: drop
"#,
    );
    let o = logtrim(&["check", s(&f)], b"");
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    let p = s(&f);
    for (at, msg) in [
        ("4:13", "unknown action \"keep-it\""),
        ("7:11", "sample rate 150% is outside (0, 1]"),
        ("10:11", "sample rate 0 is outside (0, 1]"),
        ("12:17", "expected a value, found end of expression"),
    ] {
        let line = format!("{p}:{at}: {msg}");
        assert!(err.contains(&line), "missing {line:?} in:\n{err}");
    }
    assert!(err.contains("hint"), "{err}");
}

#[test]
fn yaml_syntax_and_unknown_keys() {
    let dir = Scratch::new("check-yaml");
    let f = dir.file("bad.yaml", b"rules:\n  - name: a\n    wen: log == \"x\"\n    action: keep\n");
    let o = logtrim(&["check", s(&f)], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(&format!("{}:3:5: ", s(&f))), "{}", stderr(&o));
    let g = dir.file("tabs.yaml", b"rules: [\n  {name: a, action: keep\n");
    let o = logtrim(&["check", s(&g)], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(s(&g)), "{}", stderr(&o));
}

#[test]
fn every_structural_mistake_is_reported_in_logtrims_words() {
    let dir = Scratch::new("check-structure");
    let f = dir.file(
        "bad.yaml",
        b"rules:\n  - name: a\n    when: [log.status]\n    action: drop\n  - name: b\n    action: drop\n    action: keep\n  - name: c\n    action: drop\n    summarize: {max_groups: -1}\n",
    );
    let o = logtrim(&["check", s(&f)], b"");
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    let p = s(&f);
    for line in [
        format!("{p}:3:11: `when` must be a condition, found a list\n"),
        format!("{p}:7:5: duplicate key \"action\" in a rule\n"),
        format!("{p}:10:29: `max_groups` must be a whole number, found the number -1\n"),
    ] {
        assert!(err.contains(&line), "missing {line:?} in:\n{err}");
    }
    assert!(err.contains("error: 3 errors"), "{err}");
    for leak in ["untagged", "u64", "DuplicateKeyPolicy", "error: line"] {
        assert!(!err.contains(leak), "{leak:?} in:\n{err}");
    }
}

#[test]
fn a_rule_file_that_is_not_utf8_is_an_error_at_the_bad_byte() {
    let dir = Scratch::new("check-utf8");
    let f = dir.file("latin1.yaml", b"rules:\n  - name: caf\xe9\n    action: keep\n");
    let o = logtrim(&["check", s(&f)], b"");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("{}:2:14: invalid UTF-8: byte 0xe9\n", s(&f))), "{}", stderr(&o));
}

#[test]
fn missing_rule_file_is_a_usage_error() {
    let o = logtrim(&["check", "/nonexistent/rules.yaml"], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read rule file /nonexistent/rules.yaml"), "{}", stderr(&o));
}

#[test]
fn explain_prints_the_plan() {
    let o = logtrim(&["check", "--explain", s(&filter("k8s-splunk.yaml"))], b"");
    assert!(o.status.success());
    let out = stdout(&o);
    for needle in ["server-errors", "sample-2xx", "log.status", "kube-probe/"] {
        assert!(out.contains(needle), "{needle} not in plan:\n{out}");
    }
}

#[test]
fn help_reads_well() {
    let o = logtrim(&["--help"], b"");
    assert!(o.status.success());
    let out = stdout(&o);
    for sub in ["check", "test", "run", "report", "explain"] {
        assert!(out.contains(sub), "{out}");
    }
    let o = logtrim(&["report", "--help"], b"");
    assert!(stdout(&o).contains("--days"));
}
