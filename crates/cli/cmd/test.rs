//! `logtrim test`: run the examples embedded in rule files.

use std::path::PathBuf;

use logtrim_core::{Example, RuleSet};
use serde_json::json;

use crate::Outcome;
use crate::args::OutputFormat;

struct Failure {
    test: String,
    record: String,
    expected: String,
    actual: String,
}

fn expected(e: &Example) -> String {
    let mut s = e.action.name().to_string();
    if let Some(r) = &e.rule {
        s.push_str(&format!(" by {r}"));
    }
    if let Some(p) = e.priority {
        s.push_str(&format!(" ({})", p.name()));
    }
    s
}

fn check(rules: &RuleSet) -> (usize, Vec<Failure>) {
    let mut d = rules.decider();
    let mut failures = Vec::new();
    for (i, e) in rules.examples().iter().enumerate() {
        let got = d.decide_uncounted(&e.record).decision();
        let rule = rules.rule_name(got.rule);
        let ok = got.action == e.action
            && e.rule.as_deref().is_none_or(|r| r == rule)
            && e.priority.is_none_or(|p| p == got.priority);
        if !ok {
            failures.push(Failure {
                test: e.name.clone().unwrap_or_else(|| format!("test {} (line {})", i + 1, e.pos.line)),
                record: String::from_utf8_lossy(&e.record).into_owned(),
                expected: expected(e),
                actual: format!("{} by {rule} ({})", got.action.name(), got.priority.name()),
            });
        }
    }
    (rules.examples().len(), failures)
}

pub fn run(files: &[PathBuf], format: OutputFormat) -> anyhow::Result<Outcome> {
    let (mut passed, mut failed, mut broken) = (0, 0, 0);
    let mut report = Vec::new();
    for f in files {
        let Some(rules) = super::require_rules(f)? else {
            broken += 1;
            report.push(json!({"file": f.display().to_string(), "error": "rule file has errors"}));
            continue;
        };
        let (n, failures) = check(&rules);
        passed += n - failures.len();
        failed += failures.len();
        if format == OutputFormat::Text {
            for fl in &failures {
                println!("FAIL {}: {}", f.display(), fl.test);
                println!("  record:   {}", fl.record);
                println!("  expected: {}", fl.expected);
                println!("  actual:   {}", fl.actual);
            }
            println!("{}: {} passed, {} failed", f.display(), n - failures.len(), failures.len());
        }
        report.push(json!({
            "file": f.display().to_string(),
            "passed": n - failures.len(),
            "failed": failures.iter().map(|fl| json!({"test": fl.test, "record": fl.record, "expected": fl.expected, "actual": fl.actual})).collect::<Vec<_>>(),
        }));
    }
    match format {
        OutputFormat::Text => println!("{passed} passed, {failed} failed"),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&json!({"passed": passed, "failed": failed, "files": report}))?),
    }
    Ok(if failed > 0 || broken > 0 { Outcome::Failed } else { Outcome::Ok })
}
