//! `logtrim explain`: which rule decides one record, and what the rules saw.

use std::io::Read;
use std::path::Path;

use anyhow::Context;
use logtrim_core::RecordKind;
use serde_json::json;

use crate::Outcome;
use crate::args::OutputFormat;

pub fn run(rules_path: &Path, record: &str, format: OutputFormat) -> anyhow::Result<Outcome> {
    let Some(rules) = super::require_rules(rules_path)? else { return Ok(Outcome::Failed) };
    let mut bytes = if record == "-" {
        let mut b = Vec::new();
        std::io::stdin().read_to_end(&mut b).context("cannot read the record from stdin")?;
        b
    } else {
        record.as_bytes().to_vec()
    };
    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        bytes.pop();
    }
    let mut d = rules.decider();
    let decision = d.decide_uncounted(&bytes).decision();
    let (kind, fields) = d.fields_seen(&bytes);
    let kind = match kind {
        RecordKind::Json => "json",
        RecordKind::Text => "text",
        RecordKind::InvalidJson => "invalid JSON, read as text",
    };
    let rule = rules.rule_name(decision.rule);
    match format {
        OutputFormat::Text => {
            println!("decision: {} ({})", decision.action.name(), decision.priority.name());
            println!("rule:     {rule}");
            println!("record:   {kind}");
            println!("fields the rules read:");
            let w = fields.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
            for (name, value) in &fields {
                println!("  {name:<w$}  {value}");
            }
        }
        OutputFormat::Json => {
            let f: serde_json::Map<String, serde_json::Value> = fields.into_iter().map(|(n, v)| (n, v.into())).collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "action": decision.action.name(), "rule": rule, "priority": decision.priority.name(),
                    "record_kind": kind, "fields": f,
                }))?
            );
        }
    }
    Ok(Outcome::Ok)
}
