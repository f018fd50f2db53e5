//! One self-contained HTML page of charts, for `logtrim report --html` and `logtrim suggest --html`.
//!
//! Inline SVG and CSS only: no script, no font, no image, nothing fetched, so the page opens from a file,
//! an email or a CI artifact as it is. Every chart is an `<svg class="chart">` with a fixed size; text is
//! escaped. Colours come from one palette, with the numbers written beside every bar, so the charts read
//! without colour too.

use std::fmt::Write;

/// Splunk's GB, as `report` counts them.
const GB: f64 = 1024.0 * 1024.0 * 1024.0;

/// A bar pair: what a rule (or a proposal) had, and what is left.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleBar {
    /// The rule's name.
    pub name: String,
    /// Its action, as `report` describes it.
    pub action: String,
    /// Bytes before: the records it decided (report), or what its template sent (suggest).
    pub before: u64,
    /// Bytes after: what it keeps.
    pub after: u64,
}

/// Projected GB/day, before and after.
#[derive(Clone, Debug, PartialEq)]
pub struct PerDay {
    /// Labels and values, in order (`input`, `kept by the rules`, `sent after trimming and summaries`).
    pub bars: Vec<(String, f64)>,
    /// What the days were derived from.
    pub source: String,
}

/// One template bar.
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateBar {
    /// Its id.
    pub id: u32,
    /// Its source.
    pub source: String,
    /// Its text.
    pub text: String,
    /// Bytes sent.
    pub bytes: u64,
    /// Share of what is sent, 0–100.
    pub share: f64,
    /// Share of its records that are protected, 0–100.
    pub protected: f64,
    /// Its level and status mix, for people.
    pub mix: String,
}

/// The licence day of `report --budget`.
#[derive(Clone, Debug, PartialEq)]
pub struct Timeline {
    /// The daily limit, bytes.
    pub limit: u64,
    /// Seconds since the day's start and bytes spent, in order.
    pub spend: Vec<(f64, u64)>,
    /// Seconds since the day's start and what happened (pacing, shedding).
    pub events: Vec<(f64, String)>,
    /// How the day is named (`"k8s-splunk", day ends at midnight UTC`).
    pub caption: String,
}

/// A proposal row of `suggest`'s table.
#[derive(Clone, Debug, PartialEq)]
pub struct ProposalRow {
    /// The rule's name.
    pub name: String,
    /// What it does.
    pub action: String,
    /// What it is for.
    pub subject: String,
    /// Bytes it saves on the input.
    pub saved: u64,
    /// Precision and recall, 0–100.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
}

/// Everything a page shows; empty parts are left out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    /// The page title.
    pub title: String,
    /// Lines under it (rule set, input).
    pub summary: Vec<String>,
    /// Volume by rule.
    pub rules: Vec<RuleBar>,
    /// The caption of the rules chart.
    pub rules_caption: String,
    /// Projected GB/day.
    pub per_day: Option<PerDay>,
    /// Costliest templates.
    pub templates: Vec<TemplateBar>,
    /// Proposed rules (suggest).
    pub proposals: Vec<ProposalRow>,
    /// The budget replay (report --budget).
    pub budget: Option<Timeline>,
}

/// Escapes text for HTML and SVG.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Bytes for people: `1.5 MB`, as `report` writes them.
pub fn human(bytes: u64) -> String {
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

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { format!("{}…", s.chars().take(n - 1).collect::<String>()) }
}

const BEFORE: &str = "#9aa7b8";
const AFTER: &str = "#2f6fb3";
const PROTECTED: &str = "#c4572a";
const WIDTH: u32 = 960;

/// Horizontal bar pairs: before (light) and after (dark), one row per rule.
fn rules_chart(rules: &[RuleBar]) -> String {
    let label_w = 300.0;
    let bar_w = WIDTH as f64 - label_w - 130.0;
    let row = 36.0;
    let h = 40.0 + row * rules.len() as f64;
    let max = rules.iter().map(|r| r.before.max(r.after)).max().unwrap_or(1).max(1) as f64;
    let mut s = format!(r#"<svg class="chart" id="rules-chart" role="img" aria-label="volume by rule, before and after" width="{WIDTH}" height="{h}" viewBox="0 0 {WIDTH} {h}">"#);
    let _ = write!(s, r#"<rect x="{label_w}" y="6" width="12" height="12" fill="{BEFORE}"/><text x="{}" y="17">before</text>"#, label_w + 16.0);
    let _ = write!(s, r#"<rect x="{}" y="6" width="12" height="12" fill="{AFTER}"/><text x="{}" y="17">kept</text>"#, label_w + 80.0, label_w + 96.0);
    for (i, r) in rules.iter().enumerate() {
        let y = 30.0 + row * i as f64;
        let wb = (r.before as f64 / max * bar_w).max(1.0);
        let wa = if r.after == 0 { 0.0 } else { (r.after as f64 / max * bar_w).max(1.0) };
        let _ = write!(
            s,
            r#"<text x="{x}" y="{}" text-anchor="end" class="name">{}</text><text x="{x}" y="{}" text-anchor="end" class="dim">{}</text>"#,
            y + 9.0,
            escape(&clip(&r.name, 40)),
            y + 22.0,
            escape(&clip(&r.action, 44)),
            x = label_w - 8.0,
        );
        let _ = write!(s, r#"<rect x="{label_w}" y="{y}" width="{wb:.1}" height="11" fill="{BEFORE}"><title>{}: {}</title></rect>"#, escape(&r.name), human(r.before));
        let _ = write!(s, r#"<rect x="{label_w}" y="{}" width="{wa:.1}" height="11" fill="{AFTER}"><title>{}: kept {}</title></rect>"#, y + 12.0, escape(&r.name), human(r.after));
        let _ = write!(s, r#"<text x="{}" y="{}" class="num">{} → {}</text>"#, label_w + wb.max(wa) + 6.0, y + 17.0, human(r.before), human(r.after));
    }
    s.push_str("</svg>");
    s
}

/// Vertical bars of GB/day.
fn per_day_chart(p: &PerDay) -> String {
    let (w, h) = (560.0, 260.0);
    let max = p.bars.iter().map(|b| b.1).fold(0.0f64, f64::max).max(1e-9);
    let n = p.bars.len().max(1) as f64;
    let slot = (w - 40.0) / n;
    let mut s = format!(r#"<svg class="chart" id="per-day-chart" role="img" aria-label="projected GB per day" width="{w}" height="{h}" viewBox="0 0 {w} {h}">"#);
    let _ = write!(s, r#"<line x1="20" y1="{0}" x2="{1}" y2="{0}" class="axis"/>"#, h - 40.0, w - 20.0);
    for (i, (label, v)) in p.bars.iter().enumerate() {
        let bh = (v / max * (h - 90.0)).max(1.0);
        let x = 20.0 + slot * i as f64 + slot * 0.2;
        let bw = slot * 0.6;
        let colour = if i == 0 { BEFORE } else { AFTER };
        let _ = write!(s, r#"<rect x="{x:.1}" y="{:.1}" width="{bw:.1}" height="{bh:.1}" fill="{colour}"><title>{}: {v:.3} GB/day</title></rect>"#, h - 40.0 - bh, escape(label));
        let _ = write!(s, r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="num">{v:.3}</text>"#, x + bw / 2.0, h - 46.0 - bh);
        let _ = write!(s, r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#, x + bw / 2.0, h - 20.0, escape(&clip(label, 30)));
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars of the costliest templates; the protected share of each bar in another colour.
fn templates_chart(t: &[TemplateBar]) -> String {
    let label_w = 470.0;
    let bar_w = WIDTH as f64 - label_w - 150.0;
    let row = 30.0;
    let h = 36.0 + row * t.len() as f64;
    let max = t.iter().map(|b| b.bytes).max().unwrap_or(1).max(1) as f64;
    let mut s = format!(r#"<svg class="chart" id="templates-chart" role="img" aria-label="costliest templates" width="{WIDTH}" height="{h}" viewBox="0 0 {WIDTH} {h}">"#);
    let _ = write!(s, r#"<rect x="{label_w}" y="6" width="12" height="12" fill="{AFTER}"/><text x="{}" y="17">sent</text>"#, label_w + 16.0);
    let _ = write!(s, r#"<rect x="{}" y="6" width="12" height="12" fill="{PROTECTED}"/><text x="{}" y="17">protected (warn+, 4xx/5xx, stack traces)</text>"#, label_w + 70.0, label_w + 86.0);
    for (i, b) in t.iter().enumerate() {
        let y = 28.0 + row * i as f64;
        let w = (b.bytes as f64 / max * bar_w).max(1.0);
        let wp = w * b.protected / 100.0;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end"><tspan class="dim">[{}] {}</tspan> <tspan class="mono">{}</tspan></text>"#,
            label_w - 8.0,
            y + 15.0,
            b.id,
            escape(&clip(&b.source, 22)),
            escape(&clip(&b.text, 40))
        );
        let _ = write!(s, r#"<rect x="{label_w}" y="{y}" width="{w:.1}" height="20" fill="{AFTER}"><title>{}</title></rect>"#, escape(&format!("[{}] {} {} — {}", b.id, b.source, b.text, b.mix)));
        if wp >= 0.5 {
            let _ = write!(s, r#"<rect x="{:.1}" y="{y}" width="{wp:.1}" height="20" fill="{PROTECTED}"/>"#, label_w + w - wp);
        }
        let _ = write!(s, r#"<text x="{:.1}" y="{}" class="num">{} · {:.1}%</text>"#, label_w + w + 6.0, y + 15.0, human(b.bytes), b.share);
    }
    s.push_str("</svg>");
    s
}

/// The licence day: spend against the limit over 24 hours, with when pacing and shedding start.
fn budget_chart(t: &Timeline) -> String {
    let (w, h) = (WIDTH as f64, 320.0);
    let (x0, x1, y0, y1) = (60.0, w - 20.0, h - 30.0, 44.0);
    let day = t.spend.last().map_or(86_400.0, |p| p.0.max(86_400.0));
    let top = t.spend.iter().map(|p| p.1).max().unwrap_or(0).max(t.limit).max(1) as f64 * 1.08;
    let x = |secs: f64| x0 + secs / day * (x1 - x0);
    let y = |bytes: f64| y0 - bytes / top * (y0 - y1);
    let mut s = format!(r#"<svg class="chart" id="budget-chart" role="img" aria-label="licence day: spend against the limit" width="{w}" height="{h}" viewBox="0 0 {w} {h}">"#);
    let _ = write!(s, r#"<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" class="axis"/><line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" class="axis"/>"#);
    for hour in (0..=24).step_by(3) {
        let hx = x(f64::from(hour) * 3600.0);
        let _ = write!(s, r#"<text x="{hx:.1}" y="{}" text-anchor="middle" class="dim">{hour:02}:00</text>"#, y0 + 18.0);
    }
    let ly = y(t.limit as f64);
    let _ = write!(s, r#"<line x1="{x0}" y1="{ly:.1}" x2="{x1}" y2="{ly:.1}" class="limit"/><text x="{}" y="{:.1}" class="num">limit {:.2} GB</text>"#, x0 + 6.0, ly - 6.0, t.limit as f64 / 1e9);
    for frac in [0.0, 0.5] {
        let v = t.limit as f64 * frac;
        let _ = write!(s, r#"<text x="{}" y="{:.1}" text-anchor="end" class="dim">{:.2}</text>"#, x0 - 6.0, y(v) + 4.0, v / 1e9);
    }
    let _ = write!(s, r#"<text x="{}" y="{}" class="dim">GB spent</text>"#, x0 - 50.0, y1 - 16.0);
    let points: Vec<String> = t.spend.iter().map(|(secs, b)| format!("{:.1},{:.1}", x(*secs), y(*b as f64))).collect();
    if !points.is_empty() {
        let _ = write!(s, r#"<polyline points="{}" class="spend"/>"#, points.join(" "));
    }
    // Events are numbered on the chart and listed under it, so their words never overlap.
    for (i, (secs, what)) in t.events.iter().enumerate() {
        let ex = x(*secs);
        let colour = if what.contains("shedding") { PROTECTED } else { BEFORE };
        let _ = write!(s, r#"<line x1="{ex:.1}" y1="{y0}" x2="{ex:.1}" y2="{y1}" stroke="{colour}" stroke-dasharray="4 3"><title>{}</title></line>"#, escape(what));
        let ty = y1 - 4.0 - 13.0 * (i % 2) as f64;
        let _ = write!(s, r#"<text x="{ex:.1}" y="{ty:.1}" text-anchor="middle" class="event">{}</text>"#, i + 1);
    }
    s.push_str("</svg>");
    s
}

const STYLE: &str = r#"
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2733; background: #f4f6f9; margin: 0; }
main { max-width: 1000px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 22px; margin: 0 0 6px; }
h2 { font-size: 16px; margin: 0 0 10px; }
p.summary { margin: 2px 0; color: #46566a; }
section { background: #fff; border: 1px solid #dde3ea; border-radius: 8px; padding: 16px; margin-top: 18px; overflow-x: auto; }
svg text { font: 12px system-ui, sans-serif; fill: #1d2733; }
svg .dim { fill: #5b6b7f; }
svg .num { fill: #1d2733; font-weight: 600; }
svg .mono { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 11px; }
svg .name { font-weight: 600; }
svg .event { font-size: 11px; fill: #3c4a5c; }
svg .axis { stroke: #8c99a8; stroke-width: 1; }
svg .limit { stroke: #c4572a; stroke-width: 2; }
svg .spend { fill: none; stroke: #2f6fb3; stroke-width: 2.5; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #e6ebf0; vertical-align: top; }
td.n { text-align: right; white-space: nowrap; }
code { font: 12px ui-monospace, Menlo, Consolas, monospace; }
p.note { color: #5b6b7f; font-size: 12px; margin: 8px 0 0; }
ol.events { margin: 6px 0 0; padding-left: 24px; font-size: 13px; }
"#;

/// Renders the page.
pub fn render(page: &Page) -> String {
    let mut s = String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    let _ = write!(s, "<title>{}</title><style>{STYLE}</style></head><body><main>", escape(&page.title));
    let _ = write!(s, "<h1>{}</h1>", escape(&page.title));
    for l in &page.summary {
        let _ = write!(s, r#"<p class="summary">{}</p>"#, escape(l));
    }
    if !page.rules.is_empty() {
        let _ = write!(s, "<section><h2>Volume by rule</h2>{}<p class=\"note\">{}</p></section>", rules_chart(&page.rules), escape(&page.rules_caption));
    }
    if let Some(p) = &page.per_day {
        let _ = write!(s, "<section><h2>Projected GB/day</h2>{}<p class=\"note\">GB = 2^30 bytes, as Splunk's licence usage counts them; days from {}.</p></section>", per_day_chart(p), escape(&p.source));
    }
    if !page.templates.is_empty() {
        let _ = write!(s, "<section><h2>Costliest templates</h2>{}<p class=\"note\">Templates mined from the records the rules send; ids as in <code>logtrim suggest --format json</code>.</p></section>", templates_chart(&page.templates));
    }
    if !page.proposals.is_empty() {
        s.push_str("<section><h2>Proposed rules</h2><table><tr><th>rule</th><th>action</th><th>for</th><th>saves</th><th>precision</th><th>recall</th></tr>");
        for p in &page.proposals {
            let _ = write!(
                s,
                r#"<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{:.1}%</td><td class="n">{:.1}%</td></tr>"#,
                escape(&p.name),
                escape(&p.action),
                escape(&p.subject),
                human(p.saved),
                p.precision,
                p.recall
            );
        }
        s.push_str("</table><p class=\"note\">Checked on the input: none drops a record at warn or above, with status 400 or above, or kept at high or critical by a rule.</p></section>");
    }
    if let Some(t) = &page.budget {
        let _ = write!(s, "<section><h2>Licence day</h2>{}<ol class=\"events\">", budget_chart(t));
        for (_, what) in &t.events {
            let _ = write!(s, "<li>{}</li>", escape(what));
        }
        let _ = write!(s, "</ol><p class=\"note\">{}</p></section>", escape(&t.caption));
    }
    s.push_str("</main></body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Page {
        Page {
            title: "logtrim report: <k8s & co>".into(),
            summary: vec!["input: 6882 records".into()],
            rules: vec![RuleBar { name: "drop-probes".into(), action: "drop".into(), before: 360_000, after: 0 }, RuleBar { name: "default".into(), action: "keep".into(), before: 2_000_000, after: 2_000_000 }],
            rules_caption: "what each rule decided and kept".into(),
            per_day: Some(PerDay { bars: vec![("input".into(), 4.2), ("kept".into(), 1.9)], source: "record timestamps".into() }),
            templates: vec![TemplateBar { id: 3, source: "web/nginx".into(), text: "/healthz \"x\"".into(), bytes: 100, share: 10.0, protected: 25.0, mix: "2xx 75%".into() }],
            proposals: vec![ProposalRow { name: "suggest-x".into(), action: "drop".into(), subject: "template 3".into(), saved: 99, precision: 100.0, recall: 100.0 }],
            budget: Some(Timeline { limit: 2_000_000_000, spend: vec![(0.0, 0), (43_200.0, 1_000_000_000), (86_399.0, 2_000_000_000)], events: vec![(300.0, "pacing low priority".into()), (60_000.0, "shedding low and below".into())], caption: "a day".into() }),
        }
    }

    #[test]
    fn a_page_has_every_chart_sized_and_escapes_text() {
        let html = render(&page());
        for id in ["rules-chart", "per-day-chart", "templates-chart", "budget-chart"] {
            assert!(html.contains(&format!(r#"id="{id}""#)), "{id}");
        }
        assert_eq!(html.matches(r#"<svg class="chart""#).count(), 4);
        assert!(html.contains("&lt;k8s &amp; co&gt;") && !html.contains("<k8s"));
        assert!(html.contains("/healthz &quot;x&quot;"));
        // Self-contained: nothing to fetch.
        for banned in ["<script", "http://", "https://", "<img", "<link", "@import", "url("] {
            assert!(!html.contains(banned), "{banned}");
        }
        assert!(html.matches("<svg").count() == html.matches("</svg>").count());
    }

    #[test]
    fn empty_parts_are_left_out() {
        let html = render(&Page { title: "t".into(), ..Page::default() });
        assert!(!html.contains("<svg"));
        assert!(html.starts_with("<!DOCTYPE html>"));
    }
}
