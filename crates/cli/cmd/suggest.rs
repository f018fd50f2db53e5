//! `logtrim suggest`: which templates cost the most, and rules that cut them, checked on the input.
//!
//! Two passes over the input. The first decides every record with the user's rules (if any), mines it
//! (`logtrim_suggest::costs`) and remembers its template. Then rules are proposed for the costliest
//! templates, written after the user's rules into one rule file, and the second pass decides every
//! record with that file: what each proposal matches (precision and recall against its template), what
//! it saves, and whether it would drop a single protected record. A proposal that would is withdrawn and
//! the pass repeated; so is one that changes the outcome of one of the file's own tests. The figures
//! shown are therefore what `logtrim report` measures with the written file on the same input.

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use logtrim_core::budget::Timestamp;
use logtrim_core::{Action, Encoding, Options, Pipeline, Priority, RuleSet, Sent, Sink};
use logtrim_suggest::costs::{Costs, Mining, Seen, Stats, TemplateCost};
use logtrim_suggest::emit::{self, Test, printable};
use logtrim_suggest::message::MessageReader;
use logtrim_suggest::miner::{Config, GroupId, Kind};
use logtrim_suggest::propose::{self, Proposal, Settings, Skip, place_name};
use serde_json::json;

use super::report::{GB, Span, human, pct, span};
use crate::Outcome;
use crate::args::{InputArgs, InputFormatArg, OutputFormat};
use crate::input::{InputStats, for_each_record};

/// `logtrim suggest`'s arguments.
#[derive(clap::Args, Debug)]
pub struct SuggestArgs {
    /// A rule file (told by its .yaml or .yml extension), then input files (gzip is detected); no file
    /// or `-` reads standard input. With a rule file, templates are ranked by what its rules still send
    /// and rules are proposed to follow its own
    #[arg(value_name = "[RULES] FILE")]
    pub paths: Vec<PathBuf>,
    /// Input format; `auto` detects it per file from its first bytes
    #[arg(long = "input-format", value_enum, default_value_t = InputFormatArg::Auto)]
    pub input_format: InputFormatArg,
    /// Longest record kept whole, in bytes; longer lines are truncated and counted
    #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024)]
    pub max_record_bytes: usize,
    /// The input covers this many days (for GB/day); by default derived from record timestamps
    #[arg(long, value_name = "N")]
    pub days: Option<f64>,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Never show a progress bar (it is shown only when stderr is a terminal)
    #[arg(long)]
    pub no_progress: bool,
    /// Templates shown, costliest first (`--format json` lists them all)
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
    /// Rules proposed at most (0: none)
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub proposals: usize,
    /// Templates sending less than this share of what is sent get no rule
    #[arg(long, value_name = "PERCENT", default_value_t = 1.0)]
    pub min_share: f64,
    /// The rate of proposed `sample` rules (10% or 0.1)
    #[arg(long, value_name = "RATE", default_value = "10%")]
    pub sample_rate: String,
    /// Templates kept at most: memory is bounded by it; records that find no room are counted as overflow
    #[arg(long, value_name = "N", default_value_t = 5000)]
    pub max_templates: usize,
    /// Write a rule file here: the rule file's rules first, then the proposals, each with tests made of
    /// records of the input (`logtrim check` and `logtrim test` pass on it)
    #[arg(long, value_name = "FILE")]
    pub emit: Option<PathBuf>,
    /// Write the template id of every input record here, one a line in input order (`-` for a record
    /// over --max-templates)
    #[arg(long, value_name = "FILE")]
    pub assignments: Option<PathBuf>,
    /// Write a self-contained HTML page with charts here (volume by rule, GB/day, costliest templates)
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// A rule file is told from input by its extension.
fn is_rule_file(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

/// `10%` or `0.1`, in (0, 1].
fn parse_rate(s: &str) -> anyhow::Result<(f64, String)> {
    let v = match s.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|x| x / 100.0),
        None => s.trim().parse::<f64>(),
    }
    .map_err(|_| anyhow::anyhow!("--sample-rate {s:?}: expected a rate such as 10% or 0.1"))?;
    anyhow::ensure!(v > 0.0 && v <= 1.0, "--sample-rate {s:?}: a rate must be above 0 and at most 100%");
    Ok((v, s.trim().to_string()))
}

/// Standard input is read twice: it is kept in a temporary file for the second pass.
struct Spool(Option<PathBuf>);

impl Drop for Spool {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// What the first pass counted.
#[derive(Default)]
struct Totals {
    records: u64,
    bytes: u64,
    sent_records: u64,
    sent_bytes: u64,
    /// What the default action keeps records at (for sample rules, so sampling alone changes).
    default_priority: Option<Priority>,
}

/// What the second pass measured of one proposal.
#[derive(Default, Clone)]
struct Measured {
    matched: u64,
    in_template: u64,
    dropped: u64,
    dropped_bytes: u64,
    /// Bytes its own `trim:` cut from the records it kept, beyond what the rule file's trimming cuts.
    trimmed_bytes: u64,
    protected_dropped: u64,
    drop_example: Option<String>,
    keep_example: Option<String>,
}

/// What the second pass measured in all.
#[derive(Default)]
struct Verification {
    per: Vec<Measured>,
    kept_after: u64,
    /// Sent after trimming, sample-rate members and summaries: with the user's rules, with the file.
    sent_before: u64,
    sent_after: u64,
}

/// A proposal with what it was checked to do.
struct Checked {
    proposal: Proposal,
    measured: Measured,
}

pub fn run(o: &SuggestArgs) -> anyhow::Result<Outcome> {
    let (rate, rate_text) = parse_rate(&o.sample_rate)?;
    anyhow::ensure!(o.max_templates > 0, "--max-templates must be at least 1");
    anyhow::ensure!((0.0..=100.0).contains(&o.min_share), "--min-share is a percentage, 0 to 100; got {}", o.min_share);
    if let Some(d) = o.days {
        anyhow::ensure!(d > 0.0 && d.is_finite(), "--days must be a positive number, got {d}");
    }
    let mut paths = o.paths.clone();
    let rules_path = match paths.first() {
        Some(p) if is_rule_file(p) => Some(paths.remove(0)),
        _ => None,
    };
    let (rules, user_text) = match &rules_path {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("cannot read rule file {}", p.display()))?;
            let Some(r) = super::require_rules(p)? else { return Ok(Outcome::Failed) };
            (Some(r), Some(text))
        }
        None => (None, None),
    };
    // Two passes: standard input is kept for the second.
    let mut spool = Spool(None);
    if paths.is_empty() || paths.iter().any(|p| p == Path::new("-")) {
        anyhow::ensure!(paths.iter().filter(|p| *p == Path::new("-")).count() <= 1, "standard input can be read once: give `-` at most once");
        let tmp = std::env::temp_dir().join(format!("logtrim-suggest-{}.input", std::process::id()));
        let mut f = std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        io::copy(&mut io::stdin().lock(), &mut f).context("cannot read standard input")?;
        spool.0 = Some(tmp.clone());
        if paths.is_empty() {
            paths.push(tmp);
        } else {
            paths.iter_mut().filter(|p| *p == Path::new("-")).for_each(|p| *p = tmp.clone());
        }
    }
    let input = InputArgs { files: paths, input_format: o.input_format, max_record_bytes: o.max_record_bytes };

    // Pass 1: decide, mine, count.
    let mut costs = Costs::new(Config { max_templates: o.max_templates, ..Config::default() });
    let mut user = rules.as_ref().map(RuleSet::decider);
    let mut groups: Vec<GroupId> = Vec::new();
    let mut span_ = Span::default();
    let mut totals = Totals::default();
    let stats = for_each_record(&input, !o.no_progress, |rec| {
        let seen = match &mut user {
            Some(d) => {
                let dec = d.decide(rec).decision();
                let sent = dec.action == Action::Keep;
                if dec.rule.index().is_none() && sent {
                    totals.default_priority.get_or_insert(dec.priority);
                }
                Seen { sent, rule: dec.rule.index(), kept_high: sent && dec.priority >= Priority::High }
            }
            None => Seen { sent: true, rule: None, kept_high: false },
        };
        totals.records += 1;
        totals.bytes += rec.len() as u64;
        if seen.sent {
            totals.sent_records += 1;
            totals.sent_bytes += rec.len() as u64;
        }
        groups.push(costs.add(rec, seen));
        if o.days.is_none() {
            span_.see(rec);
        }
        Ok(())
    })?;
    let mining = costs.finish();
    let (days, days_from) = match (o.days, span_.days()) {
        (Some(d), _) => (Some(d), "--days"),
        (None, Some(d)) => (Some(d), "record timestamps"),
        (None, None) => (None, "unknown"),
    };

    // Proposals, checked on the input.
    let settings = Settings { max: o.proposals, min_share: o.min_share / 100.0, rate, rate_text: rate_text.clone() };
    let taken: HashSet<String> = rules.as_ref().map(|r| r.rule_names().map(str::to_string).collect()).unwrap_or_default();
    let priority = totals.default_priority.unwrap_or(Priority::Normal);
    let mut skipped: Vec<Skip> = Vec::new();
    let mut not_proposed: Option<String> = None;
    let mut proposals = match user_text.as_deref().map(emit::parse_fix) {
        Some(Err(e)) => {
            not_proposed = Some(format!("no rules proposed: {e}"));
            Vec::new()
        }
        _ if o.proposals == 0 => Vec::new(),
        _ => {
            let (p, s) = propose::propose(&mining.templates, totals.sent_bytes, &settings, &taken, priority);
            skipped = s;
            p
        }
    };
    let emit_name = o.emit.as_deref().map_or_else(|| "suggested.yaml".to_string(), |p| p.display().to_string());
    let header = |n: usize| {
        format!(
            "Proposed by `logtrim suggest` from {}: {n} rule(s) for the templates that cost the most.\nEach condition ends with a guard: records at warn and above, or with status 400 and above, are never dropped or sampled.",
            input.files.iter().map(|p| if spool.0.as_ref() == Some(p) { "standard input".to_string() } else { p.display().to_string() }).collect::<Vec<_>>().join(", ")
        )
    };
    let n_user = rules.as_ref().map_or(0, RuleSet::len);
    let mut checked: Vec<Checked> = Vec::new();
    let mut verification = Verification::default();
    let mut final_text = None;
    let mut tests_written = 0;
    // Each round withdraws at least one proposal, so this ends.
    while !proposals.is_empty() {
        let items: Vec<String> = proposals.iter().map(|p| p.yaml("", &rate_text, &describe(p, &mining))).collect();
        let text = emit::rule_file(user_text.as_deref(), &items, &[], &header(proposals.len()))?;
        let emitted = RuleSet::from_yaml(&emit_name, &text).map_err(|d| anyhow::anyhow!("the proposed rule file does not compile (a bug):\n{d}"))?;
        let v = verify(&input, rules.as_ref(), &emitted, n_user, &proposals, &groups, &mining)?;
        let bad: Vec<usize> = (0..proposals.len()).filter(|&i| v.per[i].protected_dropped > 0).collect();
        if !bad.is_empty() {
            for &i in bad.iter().rev() {
                let p = proposals.remove(i);
                skipped.push(Skip { template: p.templates[0], reason: format!("{} would drop {} protected record(s) of this input", p.name, v.per[i].protected_dropped) });
            }
            continue;
        }
        // The file's tests: the user's, then one or more per proposal from records it decided.
        let tests = tests_for(&proposals, &v, &emitted, &mining);
        let text = emit::rule_file(user_text.as_deref(), &items, &tests, &header(proposals.len()))?;
        let emitted = RuleSet::from_yaml(&emit_name, &text).map_err(|d| anyhow::anyhow!("the proposed rule file does not compile (a bug):\n{d}"))?;
        let failing = failing_tests(&emitted);
        let breaking: Vec<usize> = failing.iter().filter_map(|&rule| rule.checked_sub(n_user)).filter(|&i| i < proposals.len()).collect();
        if !breaking.is_empty() {
            let mut breaking = breaking;
            breaking.sort_unstable();
            breaking.dedup();
            for &i in breaking.iter().rev() {
                let p = proposals.remove(i);
                skipped.push(Skip { template: p.templates[0], reason: format!("{} changes the outcome of a test of the rule file", p.name) });
            }
            continue;
        }
        anyhow::ensure!(failing.is_empty(), "the rule file's own tests fail before any proposal is added: run `logtrim test` on it");
        tests_written = tests.len();
        checked = proposals.drain(..).zip(v.per.iter().cloned()).map(|(proposal, measured)| Checked { proposal, measured }).collect();
        verification = v;
        final_text = Some(text);
    }
    if checked.is_empty() {
        verification.kept_after = totals.sent_bytes;
    }

    // Outputs.
    if let Some(path) = &o.emit {
        let text = match final_text.clone() {
            Some(t) => t,
            None => match user_text.as_deref() {
                Some(t) => t.to_string(),
                None => emit::rule_file(None, &[], &[], &header(0))?,
            },
        };
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &o.assignments {
        let mut w = io::BufWriter::new(std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?);
        for g in &groups {
            match mining.template_of(*g) {
                Some(t) => writeln!(w, "{t}")?,
                None => writeln!(w, "-")?,
            }
        }
        w.flush().with_context(|| format!("cannot write {}", path.display()))?;
    }
    let view = View { rules: rules.as_ref(), o, totals: &totals, stats: &stats, mining: &mining, days, days_from, checked: &checked, skipped: &skipped, v: &verification, tests: tests_written, not_proposed: not_proposed.as_deref() };
    if let Some(path) = &o.html {
        std::fs::write(path, view.html()).with_context(|| format!("cannot write {}", path.display()))?;
    }
    match o.format {
        OutputFormat::Text => view.print_text(),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&view.json())?),
    }
    for p in stats.problems() {
        eprintln!("note: {p}");
    }
    Ok(if stats.failed.is_empty() { Outcome::Ok } else { Outcome::Failed })
}

/// What a proposal is for, for people: its template, or a source's access logs.
fn subject(p: &Proposal, m: &Mining) -> String {
    let t = &m.templates[p.templates[0] as usize].template;
    let src = if t.source.is_empty() { "-" } else { &t.source };
    if p.templates.len() > 1 {
        format!("access logs of {src} ({} paths: templates {})", p.templates.len(), p.templates.iter().map(u32::to_string).collect::<Vec<_>>().join(", "))
    } else {
        format!("template {} of {src}", t.id)
    }
}

/// The proposal's `description:`.
fn describe(p: &Proposal, m: &Mining) -> String {
    let t = &m.templates[p.templates[0] as usize].template;
    if p.templates.len() > 1 {
        return format!("{} ({})", subject(p, m), p.reason);
    }
    let mut text = t.text();
    if text.len() > 160 {
        let mut cut = 157;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    // A description is a YAML quoted scalar: control characters of a message cannot be in it.
    let text: String = text.chars().map(|c| if c.is_control() { '?' } else { c }).collect();
    format!("{}: {text} ({})", subject(p, m), p.reason)
}

/// Pass 2: decides every record with the user's rules and with the proposed file.
fn verify(
    input: &InputArgs,
    user: Option<&RuleSet>,
    emitted: &RuleSet,
    n_user: usize,
    proposals: &[Proposal],
    groups: &[GroupId],
    mining: &Mining,
) -> anyhow::Result<Verification> {
    let mut v = Verification { per: vec![Measured::default(); proposals.len()], ..Verification::default() };
    let options = || Options { encoding: Encoding::Lines, lateness: Some(super::run::LATENESS) };
    let mut before = user.map(|r| (Pipeline::new(r, options()), Measure::default()));
    let (mut after, mut sink_after) = (Pipeline::new(emitted, options()), Measure::default());
    let mut reader = MessageReader::new();
    let mut i = 0usize;
    let start = Timestamp::now();
    for_each_record(input, false, |rec| {
        let template = groups.get(i).and_then(|g| mining.template_of(*g));
        i += 1;
        // What the rule file's own trimming cuts, so a proposal is credited only with what its `trim:` adds.
        let (kept_before, high, trimmed_before) = match &mut before {
            Some((p, sink)) => {
                let fallback = p.last_summarized_time().unwrap_or(start);
                let was = p.counters().total().trimmed_bytes;
                let (d, _) = p.push(rec, fallback, sink);
                let kept = d.action == Action::Keep;
                (kept, kept && d.priority >= Priority::High, p.counters().total().trimmed_bytes - was)
            }
            // Without a rule file every record is sent as it is.
            None => {
                v.sent_before += rec.len() as u64;
                (true, false, 0)
            }
        };
        let fallback = after.last_summarized_time().unwrap_or(start);
        let was = after.counters().total().trimmed_bytes;
        let (d1, _) = after.push(rec, fallback, &mut sink_after);
        let trimmed = after.counters().total().trimmed_bytes - was;
        if d1.action == Action::Keep {
            v.kept_after += rec.len() as u64;
        }
        let Some(p) = d1.rule.index().and_then(|r| r.checked_sub(n_user)).filter(|&p| p < proposals.len()) else { return Ok(()) };
        let m = &mut v.per[p];
        m.matched += 1;
        if !proposals[p].trim.is_empty() {
            m.trimmed_bytes += trimmed.saturating_sub(trimmed_before);
        }
        if template.is_some_and(|t| proposals[p].templates.contains(&t)) {
            m.in_template += 1;
        }
        let example = || std::str::from_utf8(rec).ok().filter(|s| printable(s) && s.len() <= 16 << 10).map(str::to_string);
        if d1.action == Action::Drop {
            m.dropped += 1;
            m.dropped_bytes += rec.len() as u64;
            if kept_before && (high || reader.read(rec).protected()) {
                m.protected_dropped += 1;
            }
            if m.drop_example.is_none() {
                m.drop_example = example();
            }
        } else if m.keep_example.is_none() {
            m.keep_example = example();
        }
        Ok(())
    })?;
    if let Some((p, sink)) = &mut before {
        p.flush_summaries(None, sink);
        v.sent_before += sink.sent;
    }
    after.flush_summaries(None, &mut sink_after);
    v.sent_after = sink_after.sent;
    Ok(v)
}

/// What a pass sends: records as trimmed, and summary events, as their bytes are metered.
#[derive(Default)]
struct Measure {
    out: Vec<u8>,
    sent: u64,
}

impl Sink for Measure {
    fn out(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    fn sent(&mut self, e: Sent) {
        self.sent += e.metered;
        self.out.clear();
    }
}

/// Tests for the proposals, from records of the input: one each proposal drops (and keeps, for a
/// sample), and a protected record of its template, which it must leave to the rules before it.
fn tests_for(proposals: &[Proposal], v: &Verification, emitted: &RuleSet, mining: &Mining) -> Vec<Test> {
    let mut d = emitted.decider();
    let mut out = Vec::new();
    for (p, m) in proposals.iter().zip(&v.per) {
        if let Some(r) = &m.drop_example {
            out.push(Test { name: format!("{} drops a record it is for", p.name), record: r.clone(), action: "drop", rule: p.name.clone() });
        }
        if let Some(r) = &m.keep_example {
            out.push(Test { name: format!("{} keeps the share it samples", p.name), record: r.clone(), action: "keep", rule: p.name.clone() });
        }
        let protected = p.templates.iter().find_map(|t| mining.templates[*t as usize].stats.example_protected.as_ref());
        if let Some(r) = protected.and_then(|r| std::str::from_utf8(r).ok()).filter(|s| printable(s)) {
            let got = d.decide_uncounted(r.as_bytes()).decision();
            if got.action == Action::Keep {
                out.push(Test {
                    name: format!("{} leaves a protected record alone", p.name),
                    record: r.to_string(),
                    action: "keep",
                    rule: emitted.rule_name(got.rule).to_string(),
                });
            }
        }
    }
    out
}

/// The rules (by position; the default's is past the end) that decided a test the wrong way.
fn failing_tests(rules: &RuleSet) -> Vec<usize> {
    let mut d = rules.decider();
    rules
        .examples()
        .iter()
        .filter_map(|e| {
            let got = d.decide_uncounted(&e.record).decision();
            let ok = got.action == e.action && e.rule.as_deref().is_none_or(|r| r == rules.rule_name(got.rule)) && e.priority.is_none_or(|p| p == got.priority);
            (!ok).then(|| got.rule.index().unwrap_or(usize::MAX))
        })
        .collect()
}

/// Everything the outputs show.
struct View<'a> {
    rules: Option<&'a RuleSet>,
    o: &'a SuggestArgs,
    totals: &'a Totals,
    stats: &'a InputStats,
    mining: &'a Mining,
    days: Option<f64>,
    days_from: &'a str,
    checked: &'a [Checked],
    skipped: &'a [Skip],
    v: &'a Verification,
    tests: usize,
    not_proposed: Option<&'a str>,
}

fn gb_day(bytes: u64, days: Option<f64>) -> Option<f64> {
    days.map(|d| bytes as f64 / GB / d)
}

fn mix_text(s: &Stats) -> String {
    let total = s.sent_records.max(1) as f64;
    let mut parts: Vec<String> = Vec::new();
    for (name, n) in s.status_mix().into_iter().filter(|(k, _)| *k != "-").chain(s.level_mix().into_iter().filter(|(k, _)| *k != "-")) {
        parts.push(format!("{name} {:.0}%", n as f64 * 100.0 / total));
    }
    if s.protected_records > 0 {
        parts.push(format!("(protected {:.0}%)", s.protected_records as f64 * 100.0 / total));
    }
    parts.join(" ")
}

fn action_text(p: &Proposal, rate: &str) -> String {
    let base = match &p.action {
        propose::Action::Drop => "drop".to_string(),
        propose::Action::Sample { key: Some(k) } => format!("sample {rate} by {k}"),
        propose::Action::Sample { key: None } => format!("sample {rate}"),
        propose::Action::Trim => format!("keep, trim {}", p.trim.join(", ")),
    };
    let base = if p.trim.is_empty() || matches!(p.action, propose::Action::Trim) { base } else { format!("{base}, trim {}", p.trim.join(", ")) };
    if p.summarize_by.is_empty() { base } else { format!("{base} + summarize") }
}

impl View<'_> {
    /// Templates by bytes sent, most first (ties by id), those that send nothing left out.
    fn ranked(&self) -> Vec<&TemplateCost> {
        let mut v: Vec<&TemplateCost> = self.mining.templates.iter().filter(|t| t.stats.sent_bytes > 0).collect();
        v.sort_by_key(|t| (std::cmp::Reverse(t.stats.sent_bytes), t.template.id));
        v
    }

    /// The open records of the templates a proposal is for.
    fn open_records(&self, p: &Proposal) -> u64 {
        p.templates.iter().map(|t| self.mining.templates[*t as usize].stats.open_records).sum()
    }

    fn sources(&self) -> usize {
        self.mining.templates.iter().map(|t| &t.template.source).collect::<HashSet<_>>().len()
    }

    fn print_text(&self) {
        let t = self.totals;
        match self.rules {
            Some(r) => println!("rule set: {} (templates of what its rules still send)", r.name().unwrap_or("(unnamed)")),
            None => println!("rule set: none (templates of the whole input)"),
        }
        println!(
            "input:    {} records, {} in {} file(s); sent by the rules: {} records, {} ({:.1}%)",
            t.records,
            human(t.bytes),
            self.stats.files,
            t.sent_records,
            human(t.sent_bytes),
            pct(t.sent_bytes, t.bytes)
        );
        let o = &self.mining.overflow;
        println!("mined:    {} templates from {} source(s); {} records over --max-templates {}", self.mining.templates.len(), self.sources(), o.records, self.o.max_templates);
        match self.days {
            Some(d) => println!("projected: {:.3} GB/day sent (over {}, from {})", t.sent_bytes as f64 / GB / d, span(d), self.days_from),
            None => println!("projected GB/day: pass --days N (the records carry no usable timestamps)"),
        }
        println!();
        let ranked = self.ranked();
        println!("top templates by bytes sent:");
        for (rank, tc) in ranked.iter().take(self.o.top).enumerate() {
            let s = &tc.stats;
            let gb = gb_day(s.sent_bytes, self.days).map_or(String::new(), |g| format!("  {g:.3} GB/day"));
            let src = if tc.template.source.is_empty() { "-" } else { tc.template.source.as_str() };
            println!(
                "{:>3}. [{}] {src}  {} records  {}  {:.1}%{gb}  {}",
                rank + 1,
                tc.template.id,
                s.sent_records,
                human(s.sent_bytes),
                pct(s.sent_bytes, t.sent_bytes),
                mix_text(s)
            );
            println!("     {}", clip(&tc.template.text(), 160));
            let varies: Vec<String> = tc
                .template
                .tokens
                .iter()
                .filter(|k| k.varies() && !k.wild)
                .take(3)
                .map(|k| format!("{} ({})", clip(&k.display(), 30), k.examples.iter().map(|e| clip(e, 24)).collect::<Vec<_>>().join(", ")))
                .collect();
            if !varies.is_empty() {
                println!("     varies: {}", varies.join("; "));
            }
            println!("     example: {}", clip(&tc.template.example, 160));
        }
        println!();
        if let Some(n) = self.not_proposed {
            println!("{n}");
        } else if self.checked.is_empty() {
            println!("no rules proposed (see --min-share and --proposals)");
        } else {
            println!("proposed rules, after the rule set's own, checked on this input:");
            for (i, c) in self.checked.iter().enumerate() {
                let p = &c.proposal;
                let m = &c.measured;
                let open = self.open_records(p);
                println!("{:>3}. {}  {}  ({})", i + 1, p.name, action_text(p, &self.o.sample_rate_text()), subject(p, self.mining));
                println!("     why:     {}", p.reason);
                println!("     when:    {}", clip(&p.when, 200));
                println!(
                    "     matches: {} records; precision {:.1}%, recall {:.1}% of the {} open records it is for",
                    m.matched,
                    pct(m.in_template, m.matched),
                    pct(m.in_template, open),
                    open
                );
                let gb = gb_day(m.dropped_bytes, self.days).map_or(String::new(), |g| format!(", {g:.3} GB/day"));
                let trims = if m.trimmed_bytes > 0 { format!(", and trims {} from what it keeps", human(m.trimmed_bytes)) } else { String::new() };
                println!("     saves:   {} ({:.1}% of what is sent){gb}{trims}; 0 protected records dropped", human(m.dropped_bytes), pct(m.dropped_bytes, t.sent_bytes));
            }
            let after = self.v.kept_after;
            let gb = match self.days {
                Some(d) => format!(": {:.3} → {:.3} GB/day", t.sent_bytes as f64 / GB / d, after as f64 / GB / d),
                None => String::new(),
            };
            println!(
                "with them the rules send {} instead of {} (volume reduced by {:.1}%){gb}",
                human(after),
                human(t.sent_bytes),
                100.0 - pct(after, t.sent_bytes)
            );
            println!("after trimming and summaries: {} instead of {}", human(self.v.sent_after), human(self.v.sent_before));
        }
        for s in self.skipped.iter().take(5) {
            let t = &self.mining.templates[s.template as usize].template;
            let src = if t.source.is_empty() { "-" } else { t.source.as_str() };
            println!("not proposed: template {} of {src} ({}): {}", s.template, clip(&t.text(), 40), s.reason);
        }
        if let Some(p) = &self.o.emit {
            println!("wrote {}: {} proposed rule(s), {} test(s) from records of the input", p.display(), self.checked.len(), self.tests);
        }
    }

    fn json(&self) -> serde_json::Value {
        let t = self.totals;
        let templates: Vec<_> = self
            .ranked()
            .into_iter()
            .chain(self.mining.templates.iter().filter(|t| t.stats.sent_bytes == 0))
            .map(|tc| {
                let s = &tc.stats;
                json!({
                    "id": tc.template.id,
                    "source": tc.template.source,
                    "kind": match tc.template.kind { Kind::Text => "message", Kind::Path => "path" },
                    "field": s.place.map(place_name),
                    "template": tc.template.text(),
                    "records": s.records, "bytes": s.bytes,
                    "sent_records": s.sent_records, "sent_bytes": s.sent_bytes,
                    "share_percent": pct(s.sent_bytes, t.sent_bytes),
                    "gb_per_day": gb_day(s.sent_bytes, self.days),
                    "protected_records": s.protected_records,
                    "open_records": s.open_records, "open_bytes": s.open_bytes,
                    "levels": s.level_mix().into_iter().map(|(k, n)| (k.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
                    "statuses": s.status_mix().into_iter().map(|(k, n)| (k.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
                    "probe_records": s.probe_records,
                    "id_records": s.id_records,
                    "methods": s.methods.iter().map(|(k, n)| (k.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
                    "example": tc.template.example,
                    "positions": tc.template.tokens.iter().map(|k| json!({"text": k.display(), "varies": k.varies(), "wildcard": k.wild, "examples": k.examples})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let proposals: Vec<_> = self
            .checked
            .iter()
            .map(|c| {
                let p = &c.proposal;
                let m = &c.measured;
                let open = self.open_records(p);
                json!({
                    "name": p.name,
                    "templates": p.templates,
                    "for": subject(p, self.mining),
                    "action": match p.action { propose::Action::Drop => "drop", propose::Action::Sample { .. } => "sample", propose::Action::Trim => "keep" },
                    "trim_remove": p.trim,
                    "trimmed_bytes": m.trimmed_bytes,
                    "rate": matches!(p.action, propose::Action::Sample { .. }).then(|| self.o.sample_rate_text()),
                    "key": match &p.action { propose::Action::Sample { key } => key.clone(), _ => None },
                    "summarize_by": p.summarize_by.iter().map(|(n, f)| json!({n: f})).collect::<Vec<_>>(),
                    "when": p.when,
                    "reason": p.reason,
                    "yaml": p.yaml("", &self.o.sample_rate_text(), &describe(p, self.mining)),
                    "matched_records": m.matched,
                    "template_records_matched": m.in_template,
                    "template_open_records": open,
                    "precision": if m.matched == 0 { 0.0 } else { m.in_template as f64 / m.matched as f64 },
                    "recall": if open == 0 { 0.0 } else { m.in_template as f64 / open as f64 },
                    "dropped_records": m.dropped,
                    "saved_bytes": m.dropped_bytes,
                    "saved_percent": pct(m.dropped_bytes, t.sent_bytes),
                    "saved_gb_per_day": gb_day(m.dropped_bytes, self.days),
                    "estimated_bytes": p.estimate,
                    "protected_records_dropped": m.protected_dropped,
                })
            })
            .collect();
        json!({
            "rule_set": self.rules.map(|r| r.name()),
            "input": {
                "files": self.stats.files, "records": t.records, "bytes": t.bytes,
                "malformed_lines": self.stats.read.malformed, "truncated_records": self.stats.read.truncated, "failed_files": self.stats.failed,
            },
            "sent": {"records": t.sent_records, "bytes": t.sent_bytes},
            "mined": {
                "templates": self.mining.templates.len(), "sources": self.sources(), "max_templates": self.o.max_templates,
                "overflow_records": self.mining.overflow.records, "overflow_bytes": self.mining.overflow.bytes,
            },
            "projection": self.days.map(|d| json!({"days": d, "days_from": self.days_from, "gb_per_day_sent": t.sent_bytes as f64 / GB / d})),
            "templates": templates,
            "proposals": proposals,
            "not_proposed": self.skipped.iter().map(|s| json!({"template": s.template, "reason": s.reason})).collect::<Vec<_>>(),
            "no_proposals_because": self.not_proposed,
            "total": {
                "sent_bytes_before": t.sent_bytes,
                "sent_bytes_after": self.v.kept_after,
                "reduction_percent": 100.0 - pct(self.v.kept_after, t.sent_bytes),
                "gb_per_day_before": gb_day(t.sent_bytes, self.days),
                "gb_per_day_after": gb_day(self.v.kept_after, self.days),
                "output_bytes_before": (!self.checked.is_empty()).then_some(self.v.sent_before),
                "output_bytes_after": (!self.checked.is_empty()).then_some(self.v.sent_after),
            },
            "emitted": self.o.emit.as_ref().map(|p| json!({"path": p.display().to_string(), "proposals": self.checked.len(), "tests": self.tests})),
            "assignments": self.o.assignments.as_ref().map(|p| p.display().to_string()),
        })
    }

    fn html(&self) -> String {
        use logtrim_suggest::html::{Page, PerDay, ProposalRow, RuleBar, render};
        let t = self.totals;
        let name = self.rules.map_or("no rules".to_string(), |r| r.name().unwrap_or("(unnamed)").to_string());
        let mut summary = vec![
            format!("input: {} records, {}; sent by the rules: {} records, {}", t.records, human(t.bytes), t.sent_records, human(t.sent_bytes)),
            format!("mined: {} templates from {} source(s); {} records over --max-templates", self.mining.templates.len(), self.sources(), self.mining.overflow.records),
        ];
        if !self.checked.is_empty() {
            summary.push(format!(
                "with the {} proposed rules the rules send {} instead of {} (volume reduced by {:.1}%)",
                self.checked.len(),
                human(self.v.kept_after),
                human(t.sent_bytes),
                100.0 - pct(self.v.kept_after, t.sent_bytes)
            ));
        }
        let rules: Vec<RuleBar> = self
            .checked
            .iter()
            .map(|c| {
                let before: u64 = c.proposal.templates.iter().map(|i| self.mining.templates[*i as usize].stats.sent_bytes).sum();
                let after = before.saturating_sub(c.measured.dropped_bytes + c.measured.trimmed_bytes);
                RuleBar { name: c.proposal.name.clone(), action: action_text(&c.proposal, &self.o.sample_rate_text()), before, after }
            })
            .chain((!self.checked.is_empty()).then(|| RuleBar { name: "everything sent".into(), action: "all rules".into(), before: t.sent_bytes, after: self.v.kept_after }))
            .collect();
        let per_day = self.days.map(|d| {
            let mut bars = vec![("sent by the rules now".to_string(), t.sent_bytes as f64 / GB / d)];
            if !self.checked.is_empty() {
                bars.push(("with the proposals".to_string(), self.v.kept_after as f64 / GB / d));
                bars.push(("after trimming and summaries".to_string(), self.v.sent_after as f64 / GB / d));
            }
            PerDay { bars, source: self.days_from.to_string() }
        });
        let page = Page {
            title: format!("logtrim suggest: {name}"),
            summary,
            rules,
            rules_caption: "What the templates each proposed rule is for send now, and what is left with it (dropped and trimmed bytes gone); the last row is everything the rules send, before trimming.".into(),
            per_day,
            templates: super::html::template_bars(self.mining, t.sent_bytes, self.o.top.max(10)),
            proposals: self
                .checked
                .iter()
                .map(|c| {
                    let open = self.open_records(&c.proposal);
                    ProposalRow {
                        name: c.proposal.name.clone(),
                        action: action_text(&c.proposal, &self.o.sample_rate_text()),
                        subject: subject(&c.proposal, self.mining),
                        saved: c.measured.dropped_bytes,
                        precision: pct(c.measured.in_template, c.measured.matched),
                        recall: pct(c.measured.in_template, open),
                    }
                })
                .collect(),
            budget: None,
        };
        render(&page)
    }
}

impl SuggestArgs {
    fn sample_rate_text(&self) -> String {
        parse_rate(&self.sample_rate).map(|r| r.1).unwrap_or_else(|_| self.sample_rate.clone())
    }
}

/// At most `n` characters of `s`, with `…` when cut.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { format!("{}…", s.chars().take(n - 1).collect::<String>()) }
}
