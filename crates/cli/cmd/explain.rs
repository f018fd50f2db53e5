//! `logtrim explain`: which rule decides one record, and what the rules saw.

use std::io;

use anyhow::Context;
use logtrim_core::{Decider, RecordKind, RuleSet};
use logtrim_formats::{InputFormat, ReaderOptions, RecordReader};
use serde_json::json;

use crate::Outcome;
use crate::args::OutputFormat;

pub fn run(rules_path: &std::path::Path, record: &str, format: OutputFormat) -> anyhow::Result<Outcome> {
    let Some(rules) = super::require_rules(rules_path)? else { return Ok(Outcome::Failed) };
    let mut d = rules.decider();
    if record != "-" {
        explain(&rules, &mut d, record.trim_end_matches(['\n', '\r']).as_bytes(), format)?;
        return Ok(Outcome::Ok);
    }
    // Each line of stdin is a record, explained as soon as it is read: stdin can be a stream of any
    // length, and a line is held only up to the length `run` reads whole.
    let opts = ReaderOptions::default();
    let mut reader = RecordReader::new(io::stdin().lock(), InputFormat::Text, opts.clone());
    let mut first = true;
    while let Some(r) = reader.next_record() {
        let r = r.context("cannot read the record from stdin")?;
        if !std::mem::take(&mut first) && format == OutputFormat::Text {
            println!();
        }
        explain(&rules, &mut d, r.bytes, format)?;
    }
    let truncated = reader.counters().truncated;
    if truncated > 0 {
        eprintln!("note: {truncated} records were longer than {} bytes and were truncated", opts.max_record_bytes);
    }
    Ok(Outcome::Ok)
}

fn explain(rules: &RuleSet, d: &mut Decider, bytes: &[u8], format: OutputFormat) -> anyhow::Result<()> {
    let decision = d.decide_uncounted(bytes).decision();
    let (kind, fields) = d.fields_seen(bytes);
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
    Ok(())
}
