//! `logtrim report`: what a rule set keeps, per rule, and the projected daily volume.

use std::path::Path;

use anyhow::Context;

use logtrim_core::record::json::{Index, PathTrie, Raw};
use logtrim_core::budget::{Timestamp, parse_size};
use logtrim_core::run::pipeline::{Encoding, NotSent, Options, Pipeline, Sent, Sink};
use logtrim_core::{Decision, Priority, Record, RuleCounters, RuleSet};
use serde_json::json;

use crate::Outcome;
use crate::args::{InputArgs, OutputFormat};
use crate::input::{InputStats, for_each_record};
use logtrim_core::time;

use super::budget;

/// Splunk's license usage searches compute GB as bytes / 1024³.
pub(crate) const GB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Earliest and latest record timestamps, from the first of `time`, `@timestamp`, `timestamp` that parses.
#[derive(Default)]
pub(crate) struct Span {
    trie: Option<PathTrie>,
    /// The fast JSON scanner's buffers, reused from record to record.
    index: Index,
    /// Epoch milliseconds.
    pub(crate) min: Option<i64>,
    pub(crate) max: Option<i64>,
}

impl Span {
    pub(crate) fn see(&mut self, rec: &[u8]) {
        let trie = self.trie.get_or_insert_with(|| {
            PathTrie::new(&[vec!["time".into()], vec!["@timestamp".into()], vec!["timestamp".into()]])
        });
        let mut found: Option<i64> = None;
        let _ = self.index.scan(rec, trie, &mut |_, raw| {
            if found.is_some() {
                return;
            }
            found = match raw {
                Raw::Num(n) => time::from_number(n),
                Raw::Str { start, end, escaped: false } => time::parse_ms(&rec[start as usize..end as usize]),
                _ => None,
            };
        });
        if let Some(t) = found {
            self.min = Some(self.min.map_or(t, |m| m.min(t)));
            self.max = Some(self.max.map_or(t, |m| m.max(t)));
        }
    }

    pub(crate) fn days(&self) -> Option<f64> {
        let d = (self.max? - self.min?) as f64 / 86_400_000.0;
        // Less than a minute of data says nothing about a day.
        (d * 86_400.0 >= 60.0).then_some(d)
    }
}

pub(crate) fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 * 100.0 / whole as f64 }
}

/// Bytes for people; one writer for the report and the pages (`--html`).
pub(crate) use logtrim_suggest::html::human;

/// Where `report` puts what would be sent: nowhere, but each record's fate is kept for `--budget`.
struct Tally {
    events: Vec<u8>,
    /// With `--budget`: per record, its input bytes and, if kept, its priority and metered bytes; summary
    /// events as kept records without input.
    outcomes: Option<Vec<budget::Outcome>>,
    /// The input bytes of the record being pushed, until its outcome is known.
    input: u32,
}

impl Sink for Tally {
    fn out(&mut self) -> &mut Vec<u8> {
        &mut self.events
    }

    fn admit(&mut self, priority: Priority, metered: u64) -> bool {
        if let Some(o) = &mut self.outcomes {
            // The budget is replayed later, over the whole sample: here everything is admitted.
            let input = std::mem::take(&mut self.input);
            o.push(budget::Outcome { input, kept: Some((priority, metered.min(u64::from(u32::MAX)) as u32)) });
        }
        true
    }

    fn sent(&mut self, _: Sent) {
        self.events.clear();
    }

    fn not_sent(&mut self, _: Record<'_>, _: Decision, why: NotSent) {
        if let (Some(o), NotSent::Dropped | NotSent::Blank) = (&mut self.outcomes, why) {
            o.push(budget::Outcome { input: std::mem::take(&mut self.input), kept: None });
        }
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
    html: Option<&Path>,
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
        Some(r) => Some(parse_size(r).map_err(|e| anyhow::anyhow!("--rate {r:?}: {e}; {}", e.hint()))?),
        None => None,
    };
    let clamp = |n: u64| n.min(u64::from(u32::MAX)) as u32;
    let mut pipeline = Pipeline::new(&rules, Options { encoding: Encoding::Lines, lateness: Some(super::run::LATENESS) });
    let mut span = Span::default();
    let mut sink = Tally { events: Vec::new(), outcomes: budget_spec.is_some().then(Vec::new), input: 0 };
    let start = Timestamp::now();
    let mut pictures = html.map(|_| super::html::Pictures::new());
    let stats = for_each_record(input, !no_progress, |rec| {
        sink.input = clamp(rec.len() as u64 + 1);
        let fallback = pipeline.last_summarized_time().unwrap_or(start);
        let (d, _) = pipeline.push(rec, fallback, &mut sink);
        if let Some(p) = &mut pictures {
            p.add(rec, d);
        }
        if days.is_none() || budget_spec.is_some() {
            span.see(rec);
        }
        Ok(())
    })?;
    pipeline.flush_summaries(None, &mut sink);
    let outcomes = sink.outcomes.unwrap_or_default();
    let counters = pipeline.counters().clone();
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
                .and_then(|ms| Timestamp::from_millisecond(ms).ok())
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
    let out = Output::new(&total);
    if let (Some(path), Some(p)) = (html, pictures) {
        let page = p.report_page(&rules, &rows, &total, days, days_source, out.any().then(|| out.sent()), replay.as_ref());
        std::fs::write(path, page).with_context(|| format!("cannot write {}", path.display()))?;
    }
    match format {
        OutputFormat::Text => {
            print_text(&rules, &rows, &total, &stats, days, days_source);
            out.print_text(&rows, days);
            if let Some(r) = &replay {
                r.print_text();
            }
        }
        OutputFormat::Json => {
            let mut doc = json_doc(&rules, &rows, &total, &stats, counters.invalid_json, days, days_source);
            out.add_json(&mut doc, &rows, days);
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
            "projected: {:.3} GB/day before, {:.3} GB/day after (over {}, from {days_source})",
            total.matched_bytes as f64 / GB / d,
            total.kept_bytes as f64 / GB / d,
            span(d)
        ),
        None => println!("projected GB/day: pass --days N (the records carry no usable timestamps)"),
    }
}

/// A span of days as a person would say it: samples are often minutes long, and "0.00 days" says nothing.
pub(crate) fn span(days: f64) -> String {
    let secs = days * 86_400.0;
    if days >= 1.0 {
        format!("{days:.2} days")
    } else if secs >= 3_600.0 {
        format!("{:.1} hours", secs / 3_600.0)
    } else if secs >= 60.0 {
        format!("{:.1} minutes", secs / 60.0)
    } else {
        format!("{secs:.1} seconds")
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
                "trimmed_bytes": c.trimmed_bytes, "sample_rate_bytes": c.added_bytes,
                "sent_records": c.sent, "metered_bytes": c.metered_bytes,
            })
        })
        .collect();
    json!({
        "rule_set": rules.name(),
        "input": {
            "files": stats.files, "records": total.matched, "bytes": total.matched_bytes,
            "lines": stats.read.lines, "empty_lines": stats.read.empty, "malformed_lines": stats.read.malformed,
            "truncated_records": stats.read.truncated, "unterminated_partials": stats.read.unterminated_partial,
            "joined_partial_lines": stats.read.joined_lines, "joined_records": stats.read.joined_records,
            "invalid_utf8_messages": stats.read.invalid_utf8,
            "invalid_json_records": invalid_json, "failed_files": stats.failed,
            "undecodable_firehose_records": stats.failed_records,
            "undecodable_firehose_record_count": stats.failed_record_count,
            "firehose_records_without_data": stats.records_without_data, "read_as_lines": stats.read_as_lines,
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

/// What is sent once kept records are trimmed and summaries of dropped ones added: the bytes each step
/// saves or adds, shown after the rules' own figures (which count records as they came in).
struct Output {
    input: u64,
    dropped: u64,
    trimmed: u64,
    /// `sample_rate_field` members.
    added: u64,
    /// The totals, summaries' among them.
    total: RuleCounters,
}

impl Output {
    fn new(total: &RuleCounters) -> Output {
        Output {
            input: total.matched_bytes,
            dropped: total.dropped_bytes,
            trimmed: total.trimmed_bytes,
            added: total.added_bytes,
            total: *total,
        }
    }

    /// Whether trimming or summaries changed anything (else the rules' figures say it all).
    fn any(&self) -> bool {
        self.trimmed > 0 || self.added > 0 || self.total.summary_events > 0
    }

    fn sent(&self) -> u64 {
        (self.input + self.added + self.total.summary_bytes).saturating_sub(self.dropped + self.trimmed)
    }

    fn print_text(&self, rows: &[(String, String, RuleCounters)], days: Option<f64>) {
        if !self.any() {
            return;
        }
        println!();
        let per_rule: Vec<String> = rows
            .iter()
            .filter_map(|(name, _, c)| {
                let mut parts = Vec::new();
                if c.trimmed_bytes > 0 {
                    parts.push(format!("trimmed {}", human(c.trimmed_bytes)));
                }
                if c.summary_events > 0 {
                    parts.push(format!("{} summaries ({}) of {} dropped records", c.summary_events, human(c.summary_bytes), c.summarized));
                }
                if c.summary_overflow > 0 {
                    parts.push(format!("{} records in `_other` groups", c.summary_overflow));
                }
                (!parts.is_empty()).then(|| format!("  {name}: {}", parts.join(", ")))
            })
            .collect();
        println!("sent after trimming and summaries:");
        println!("  input            {:>10}", human(self.input));
        println!("  dropped by rules {:>10}  -{:.1}%", human(self.dropped), pct(self.dropped, self.input));
        println!("  trimmed          {:>10}  -{:.1}%", human(self.trimmed), pct(self.trimmed, self.input));
        if self.added > 0 {
            println!("  sample rates     {:>10}  +{:.1}%", human(self.added), pct(self.added, self.input));
        }
        println!(
            "  summaries        {:>10}  +{:.1}%  ({} events for {} dropped records)",
            human(self.total.summary_bytes),
            pct(self.total.summary_bytes, self.input),
            self.total.summary_events,
            self.total.summarized
        );
        println!(
            "  sent             {:>10}  {:.1}% of the input: volume reduced by {:.1}%",
            human(self.sent()),
            pct(self.sent(), self.input),
            100.0 - pct(self.sent(), self.input)
        );
        if let Some(d) = days {
            println!("  projected after trimming and summaries: {:.3} GB/day", self.sent() as f64 / GB / d);
        }
        for line in per_rule {
            println!("{line}");
        }
    }

    fn add_json(&self, doc: &mut serde_json::Value, rule_rows: &[(String, String, RuleCounters)], days: Option<f64>) {
        if let Some(rows) = doc["rules"].as_array_mut() {
            for (row, (_, _, c)) in rows.iter_mut().zip(rule_rows) {
                row["summary_events"] = json!(c.summary_events);
                row["summary_bytes"] = json!(c.summary_bytes);
                row["summarized_records"] = json!(c.summarized);
                row["summary_overflow_records"] = json!(c.summary_overflow);
            }
        }
        doc["output"] = json!({
            "input_bytes": self.input,
            "dropped_bytes": self.dropped,
            "trimmed_bytes": self.trimmed,
            "sample_rate_bytes": self.added,
            "summary_events": self.total.summary_events,
            "summary_bytes": self.total.summary_bytes,
            "summarized_records": self.total.summarized,
            "summarized_bytes": self.total.summarized_bytes,
            "summary_overflow_records": self.total.summary_overflow,
            "sent_bytes": self.sent(),
            "reduction_percent": 100.0 - pct(self.sent(), self.input),
            "gb_per_day": days.map(|d| self.sent() as f64 / GB / d),
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn spans_read_in_the_unit_that_fits() {
        assert_eq!(super::span(2.0), "2.00 days");
        assert_eq!(super::span(0.5), "12.0 hours");
        assert_eq!(super::span(120.0 / 86_400.0), "2.0 minutes");
        assert_eq!(super::span(30.0 / 86_400.0), "30.0 seconds");
    }
}
