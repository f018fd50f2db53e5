//! `--html`: the page `report` and `suggest` write, from their figures (drawn by `logtrim_suggest::html`).

use logtrim_core::{Action, Decision, Priority, RuleCounters, RuleSet};
use logtrim_suggest::costs::{Costs, Mining, Seen};
use logtrim_suggest::html::{Page, PerDay, RuleBar, TemplateBar};
use logtrim_suggest::miner::Config;

use super::budget::Replay;
use super::report::{GB, human, pct};

/// Costliest templates shown.
const TEMPLATES: usize = 15;

/// The `n` templates that send the most, as bars.
pub fn template_bars(mining: &Mining, sent: u64, n: usize) -> Vec<TemplateBar> {
    let mut v: Vec<_> = mining.templates.iter().filter(|t| t.stats.sent_bytes > 0).collect();
    v.sort_by_key(|t| (std::cmp::Reverse(t.stats.sent_bytes), t.template.id));
    v.into_iter()
        .take(n)
        .map(|t| {
            let s = &t.stats;
            let mix: Vec<String> = s.status_mix().into_iter().chain(s.level_mix()).filter(|(k, _)| *k != "-").map(|(k, n)| format!("{k} {:.0}%", pct(n, s.sent_records))).collect();
            TemplateBar {
                id: t.template.id,
                source: t.template.source.clone(),
                text: t.template.text(),
                bytes: s.sent_bytes,
                share: pct(s.sent_bytes, sent),
                protected: pct(s.protected_records, s.sent_records),
                mix: mix.join(" "),
            }
        })
        .collect()
}

/// What `report --html` mines while the report decides.
pub struct Pictures {
    costs: Costs,
}

impl Pictures {
    pub fn new() -> Pictures {
        Pictures { costs: Costs::new(Config::default()) }
    }

    /// Mines a record the rules decided `d`.
    pub fn add(&mut self, rec: &[u8], d: Decision) {
        let sent = d.action == Action::Keep;
        self.costs.add(rec, Seen { sent, rule: d.rule.index(), kept_high: sent && d.priority >= Priority::High });
    }

    /// The report's page. `rows` are the report's per-rule rows, `sent` what is sent after trimming and
    /// summaries when those change anything.
    #[allow(clippy::too_many_arguments)]
    pub fn report_page(
        self,
        rules: &RuleSet,
        rows: &[(String, String, RuleCounters)],
        total: &RuleCounters,
        days: Option<f64>,
        days_source: &str,
        sent: Option<u64>,
        replay: Option<&Replay>,
    ) -> String {
        let mining = self.costs.finish();
        let name = rules.name().unwrap_or("(unnamed)");
        let mut summary = vec![
            format!("input: {} records, {}", total.matched, human(total.matched_bytes)),
            format!(
                "kept {} of {} ({:.1}%): volume reduced by {:.1}%",
                human(total.kept_bytes),
                human(total.matched_bytes),
                pct(total.kept_bytes, total.matched_bytes),
                100.0 - pct(total.kept_bytes, total.matched_bytes)
            ),
        ];
        if let Some(s) = sent {
            summary.push(format!("sent after trimming and summaries: {} ({:.1}% of the input)", human(s), pct(s, total.matched_bytes)));
        }
        let per_day = days.map(|d| {
            let mut bars = vec![("input".to_string(), total.matched_bytes as f64 / GB / d), ("kept by the rules".to_string(), total.kept_bytes as f64 / GB / d)];
            if let Some(s) = sent {
                bars.push(("sent after trimming and summaries".to_string(), s as f64 / GB / d));
            }
            PerDay { bars, source: days_source.to_string() }
        });
        let page = Page {
            title: format!("logtrim report: {name}"),
            summary,
            rules: rows.iter().map(|(n, a, c)| RuleBar { name: n.clone(), action: a.clone(), before: c.matched_bytes, after: c.kept_bytes }).collect(),
            rules_caption: "The bytes of the records each rule decided (first match wins), and what it keeps of them, before trimming.".into(),
            per_day,
            templates: template_bars(&mining, total.kept_bytes, TEMPLATES),
            proposals: Vec::new(),
            budget: replay.map(Replay::chart),
        };
        logtrim_suggest::html::render(&page)
    }
}
