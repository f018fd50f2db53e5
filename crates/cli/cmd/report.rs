//! `logtrim report`: what a rule set keeps, per rule, and the projected daily volume.

use std::path::Path;

use logtrim_core::record::json::{PathTrie, Raw, scan};
use logtrim_core::budget::{Timestamp, parse_size};
use logtrim_core::{RuleCounters, RuleSet};
use serde_json::json;

use crate::Outcome;
use crate::args::{InputArgs, OutputFormat};
use crate::input::{InputStats, for_each_record};
use crate::timestamp;

use super::budget;

/// Splunk's license usage searches compute GB as bytes / 1024³.
const GB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Earliest and latest record timestamps, from the first of `time`, `@timestamp`, `timestamp` that parses.
#[derive(Default)]
struct Span {
    trie: Option<PathTrie>,
    min: Option<f64>,
    max: Option<f64>,
}

impl Span {
    fn see(&mut self, rec: &[u8]) {
        let trie = self.trie.get_or_insert_with(|| {
            PathTrie::new(&[vec!["time".into()], vec!["@timestamp".into()], vec!["timestamp".into()]])
        });
        let mut found: Option<f64> = None;
        let _ = scan(rec, trie, &mut |_, raw| {
            if found.is_some() {
                return;
            }
            found = match raw {
                Raw::Num(n) => Some(if n > 1e11 { n / 1000.0 } else { n }),
                Raw::Str { start, end, escaped: false } => timestamp::parse(&rec[start as usize..end as usize]),
                _ => None,
            };
        });
        if let Some(t) = found {
            self.min = Some(self.min.map_or(t, |m| m.min(t)));
            self.max = Some(self.max.map_or(t, |m| m.max(t)));
        }
    }

    fn days(&self) -> Option<f64> {
        let d = (self.max? - self.min?) / 86_400.0;
        // Less than a minute of data says nothing about a day.
        (d * 86_400.0 >= 60.0).then_some(d)
    }
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 * 100.0 / whole as f64 }
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= GB {
        format!("{:.2} GB", b / GB)
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.1} MB", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.1} KB", b / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

/// `--budget [SIZE]` and `--rate SIZE`.
pub struct BudgetArgs<'a> {
    pub limit: Option<&'a str>,
    pub rate: Option<&'a str>,
}

pub fn run(
    rules_path: &Path,
    input: &InputArgs,
    days: Option<f64>,
    format: OutputFormat,
    no_progress: bool,
    budget_args: Option<BudgetArgs>,
) -> anyhow::Result<Outcome> {
    let Some(rules) = super::require_rules(rules_path)? else { return Ok(Outcome::Failed) };
    if let Some(d) = days {
        anyhow::ensure!(d > 0.0 && d.is_finite(), "--days must be a positive number, got {d}");
    }
    // Settle the budget before reading a possibly large input, so a mistake fails fast.
    let budget_spec = match &budget_args {
        Some(b) => Some(budget::spec(&rules, b.limit.filter(|l| *l != "rules"))?),
        None => None,
    };
    let explicit_rate = match budget_args.as_ref().and_then(|b| b.rate) {
        Some(r) => Some(parse_size(r).map_err(|e| anyhow::anyhow!("--rate {r:?}: {}; {}", e.message, e.hint))?),
        None => None,
    };
    let mut decider = rules.decider();
    let mut span = Span::default();
    let mut outcomes = Vec::new();
    let stats = for_each_record(input, !no_progress, |rec| {
        let d = decider.decide(rec);
        if budget_spec.is_some() {
            outcomes.push(budget::Outcome::of(rec, d));
        }
        if days.is_none() || budget_spec.is_some() {
            span.see(rec);
        }
        Ok(())
    })?;
    let counters = decider.counters().clone();
    let replay = match budget_spec {
        None => None,
        Some(spec) => {
            let input_bytes: u64 = outcomes.iter().map(|o| u64::from(o.input)).sum();
            let rate = match (explicit_rate, days.or(span.days())) {
                (Some(r), _) => r,
                (None, Some(d)) => (input_bytes as f64 / d) as u64,
                (None, None) => anyhow::bail!("--budget needs the input rate: pass --rate SIZE (per day) or --days N"),
            };
            // The day the sample starts on, so a replay is reproducible; today for records without time.
            let start = span
                .min
                .and_then(|t| Timestamp::from_second(t as i64).ok())
                .unwrap_or_else(Timestamp::now);
            Some(budget::replay(spec, &outcomes, rate, start)?)
        }
    };
    let (days, days_source) = match (days, span.days()) {
        (Some(d), _) => (Some(d), "--days"),
        (None, Some(d)) => (Some(d), "record timestamps"),
        (None, None) => (None, "unknown"),
    };
    let total = counters.total();
    let rows: Vec<(String, String, RuleCounters)> = (0..=rules.len())
        .map(|i| {
            let id = rules.rule_id_at(i);
            (rules.rule_name(id).to_string(), rules.describe_action(id), *counters.rule(id))
        })
        .collect();
    match format {
        OutputFormat::Text => {
            print_text(&rules, &rows, &total, &stats, days, days_source);
            if let Some(r) = &replay {
                r.print_text();
            }
        }
        OutputFormat::Json => {
            let mut doc = json_doc(&rules, &rows, &total, &stats, counters.invalid_json, days, days_source);
            if let Some(r) = &replay {
                doc["budget"] = r.to_json();
            }
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
    }
    // On stderr in both formats: machines read stdout, people still see what could not be read.
    if counters.invalid_json > 0 {
        eprintln!("note: {} records started with '{{' but were not valid JSON; they were decided as text lines", counters.invalid_json);
    }
    for p in stats.problems() {
        eprintln!("note: {p}");
    }
    Ok(if stats.failed.is_empty() { Outcome::Ok } else { Outcome::Failed })
}

fn print_text(
    rules: &RuleSet,
    rows: &[(String, String, RuleCounters)],
    total: &RuleCounters,
    stats: &InputStats,
    days: Option<f64>,
    days_source: &str,
) {
    println!("rule set: {}", rules.name().unwrap_or("(unnamed)"));
    println!("input:    {} records, {} in {} file(s)", total.matched, human(total.matched_bytes), stats.files);
    println!();
    let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(4).max(4);
    let wa = rows.iter().map(|r| r.1.len()).max().unwrap_or(6).max(6);
    println!("{:<w$}  {:<wa$}  {:>10}  {:>10}  {:>7}  {:>10}", "rule", "action", "records", "bytes", "share", "kept");
    for (name, action, c) in rows {
        println!(
            "{name:<w$}  {action:<wa$}  {:>10}  {:>10}  {:>6.1}%  {:>10}",
            c.matched,
            human(c.matched_bytes),
            pct(c.matched_bytes, total.matched_bytes),
            human(c.kept_bytes)
        );
    }
    println!(
        "{:<w$}  {:<wa$}  {:>10}  {:>10}  {:>6.1}%  {:>10}",
        "total",
        "",
        total.matched,
        human(total.matched_bytes),
        100.0,
        human(total.kept_bytes)
    );
    println!();
    println!(
        "kept {} of {} ({:.1}%): volume reduced by {:.1}%",
        human(total.kept_bytes),
        human(total.matched_bytes),
        pct(total.kept_bytes, total.matched_bytes),
        100.0 - pct(total.kept_bytes, total.matched_bytes)
    );
    match days {
        Some(d) => println!(
            "projected: {:.3} GB/day before, {:.3} GB/day after (over {:.2} days, from {days_source})",
            total.matched_bytes as f64 / GB / d,
            total.kept_bytes as f64 / GB / d,
            d
        ),
        None => println!("projected GB/day: pass --days N (the records carry no usable timestamps)"),
    }
}

fn json_doc(
    rules: &RuleSet,
    rows: &[(String, String, RuleCounters)],
    total: &RuleCounters,
    stats: &InputStats,
    invalid_json: u64,
    days: Option<f64>,
    days_source: &str,
) -> serde_json::Value {
    let rule_rows: Vec<_> = rows
        .iter()
        .map(|(name, action, c)| {
            json!({
                "rule": name, "action": action, "records": c.matched, "bytes": c.matched_bytes,
                "share_percent": pct(c.matched_bytes, total.matched_bytes),
                "kept_records": c.kept, "kept_bytes": c.kept_bytes,
                "dropped_records": c.dropped, "dropped_bytes": c.dropped_bytes,
            })
        })
        .collect();
    json!({
        "rule_set": rules.name(),
        "input": {
            "files": stats.files, "records": total.matched, "bytes": total.matched_bytes,
            "lines": stats.lines, "empty_lines": stats.empty, "malformed_lines": stats.malformed,
            "truncated_records": stats.truncated, "unterminated_partials": stats.unterminated_partial,
            "invalid_json_records": invalid_json, "failed_files": stats.failed,
            "undecodable_firehose_records": stats.failed_records,
        },
        "rules": rule_rows,
        "total": {"records": total.matched, "bytes": total.matched_bytes, "kept_records": total.kept, "kept_bytes": total.kept_bytes,
                  "dropped_records": total.dropped, "dropped_bytes": total.dropped_bytes},
        "reduction_percent": 100.0 - pct(total.kept_bytes, total.matched_bytes),
        "projection": days.map(|d| json!({
            "days": d, "days_from": days_source,
            "gb_per_day_before": total.matched_bytes as f64 / GB / d,
            "gb_per_day_after": total.kept_bytes as f64 / GB / d,
        })),
    })
}
