//! Shared by the rule-file and expression targets: where a diagnostic may point, and running a loaded
//! rule set on a few records.

use logtrim_core::{Diagnostic, Diagnostics, RuleSet};

/// Records a loaded rule set is run on: JSON with the usual Kubernetes fields, an access log line in
/// `log`, an app-log line, text, and broken JSON.
pub const RECORDS: &[&[u8]] = &[
    br#"{"log":"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] \"GET /healthz HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.29\"","stream":"stdout","kubernetes":{"namespace_name":"kube-system","pod_name":"dns-1","labels":{"app":"dns"}}}"#,
    br#"{"log":"2026-11-22T10:00:00Z ERROR payment failed id=7","level":"error","status":503,"duration":1.5,"user":{"id":"u1"}}"#,
    br#"{"time":"2026-11-22T10:00:00.000Z","stream":"stderr","log":"level=warn msg=\"slow\" took=3s"}"#,
    b"E1122 10:00:00.000000       1 reflector.go:138] failed to list",
    br#"{"log":"truncated"#,
    b"",
];

/// The lines of `text` as YAML counts them (`\r\n`, `\r` and `\n` all end one), which is how
/// serde-saphyr counts them, and how the rendered excerpt splits them. Split once per file: a file with
/// thousands of diagnostics must not be split once per diagnostic (the smoke run's 12-second timeout
/// caught that in this harness, not in logtrim: `logtrim check` on the same file takes a tenth of a second).
pub fn yaml_lines(text: &str) -> Vec<&str> {
    // Finding F3 (FUZZING.md, fixed): a lone `\r` was a line break for serde-saphyr but not for logtrim's
    // positions and excerpts. Both now count lines as YAML does.
    text.split("\r\n").flat_map(|l| l.split(['\r', '\n'])).collect()
}

/// Whether `pos` (1-based line and column in characters) points inside the file of these `lines`: at a
/// character of an existing line or just past its end (an error at the end of a line, or at the end of
/// the file, which may be the empty line after a final newline).
pub fn check_position(lines: &[&str], d: &Diagnostic) -> Result<(), String> {
    check_in(lines, d, "YAML")
}

fn check_in(lines: &[&str], d: &Diagnostic, how: &str) -> Result<(), String> {
    let (line, col) = (d.pos.line as usize, d.pos.col as usize);
    let Some(l) = line.checked_sub(1).and_then(|i| lines.get(i)) else {
        return Err(format!("{}:{}: line {line} outside the {}-line file, {how} lines ({:?})", d.pos.line, d.pos.col, lines.len(), d.message));
    };
    let chars = l.chars().count();
    if col == 0 || col > chars + 1 {
        return Err(format!("{}:{}: column {col} outside line {line} of {chars} characters, {how} lines ({:?})", d.pos.line, d.pos.col, d.message));
    }
    if d.len == 0 {
        return Err(format!("{}:{}: empty underline ({:?})", d.pos.line, d.pos.col, d.message));
    }
    Ok(())
}

/// Every diagnostic points inside the file, and rendering them does not panic.
pub fn check_diagnostics(text: &str, diags: &Diagnostics) -> Result<(), String> {
    assert!(!diags.items.is_empty(), "an error without a diagnostic");
    let lines = yaml_lines(text);
    for d in &diags.items {
        check_position(&lines, d)?;
        assert!(!d.message.is_empty(), "a diagnostic without a message");
    }
    let _ = diags.to_string();
    let _ = diags.headlines();
    Ok(())
}

/// Events written to a buffer and forgotten.
struct Events(Vec<u8>);

impl logtrim_core::Sink for Events {
    fn out(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
    fn sent(&mut self, _: logtrim_core::Sent) {
        self.0.clear();
    }
}

/// Runs a rule set that loaded on the records above and on its own examples, through the whole record
/// pipeline (trimming, HEC events, summaries); it must not panic.
pub fn exercise(rules: &RuleSet) {
    let _ = rules.explain();
    let mut pipeline = logtrim_core::Pipeline::new(rules, logtrim_core::Options::default());
    let mut events = Events(Vec::new());
    let t = logtrim_core::budget::Timestamp::UNIX_EPOCH;
    for r in RECORDS {
        let (d, _) = pipeline.push(*r, t, &mut events);
        let _ = rules.rule_name(d.rule);
        let _ = rules.describe_action(d.rule);
    }
    for ex in rules.examples() {
        pipeline.push(&ex.record, t, &mut events);
    }
    pipeline.flush_summaries(None, &mut events);
}
