//! Rules for the templates that cost the most, written in the rule language, never for what must be kept.
//!
//! Candidates are the templates with the most *open* bytes: what the rules send by their default action
//! and is not protected. Proposed rules go after the existing ones (first match wins), so they can only
//! decide what the default action decided, and nothing an existing rule keeps — at `high`, `critical` or
//! any priority — can reach them. A template gets no rule when less than half of what it sends is open
//! (mostly protected, or decided by an existing rule), when its share of what is sent is under
//! [`Settings::min_share`], or when its messages have no text to match (a JSON object without a message).
//!
//! The action, by what the template is:
//!
//! | template | action |
//! |---|---|
//! | access log of probes (`kube-probe/` user agents) or health paths (`/healthz`, `/readyz`, `/livez`, `/health`, `/ready`, `/ping`, `/metrics`) | `drop`, summarized by namespace, container, status class and method, with the duration summed |
//! | other access log | `sample` at [`Settings::rate`], keyed by `log.request_id` when its records carry one, summarized the same way |
//! | a message at `debug` or `trace` (80% of its records or more), or about health (`health`, `heartbeat`, `liveness`, `readiness`, `ping`) | `drop`, summarized by source and level |
//! | another message whose records carry a request or trace id (90% or more) | `sample` keyed by that id |
//! | another message | `sample`, keyed by the whole record |
//!
//! Every condition is the template's source, its message pattern ([`crate::pattern`]) and a **guard**:
//! `not (log.level in ["warn", "error", "fatal"]) and not (log.status >= 400)` (for a record's own `msg`,
//! the same over its level keys and `status`), so a record at warn or above, or with status 400 or
//! above, is never dropped or sampled by a proposal even where its template has some. Stack trace lines
//! and lines naming an exception are protected too ([`crate::message::stack_line`]): a template of them is
//! never a candidate, and the CLI checks every proposal against every record of the input before writing
//! it.

use std::collections::HashSet;

use logtrim_core::Priority;
use logtrim_core::record::level::LEVEL_KEYS;

use crate::costs::TemplateCost;
use crate::message::{ID_KEYS, IdField, Key, Place, SourceKind};
use crate::miner::Kind;
use crate::pattern::template_regex;

/// How many rules to propose, and how.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Rules proposed at most.
    pub max: usize,
    /// Templates sending less than this share of what is sent (0–1) get none.
    pub min_share: f64,
    /// The rate of proposed `sample` rules, in (0, 1].
    pub rate: f64,
    /// The rate as written in the rules (`10%`).
    pub rate_text: String,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings { max: 5, min_share: 0.01, rate: 0.1, rate_text: "10%".into() }
    }
}

/// What a proposed rule does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Drop every record it matches.
    Drop,
    /// Keep a share of them, by the hash of `key` (a field path), or of the whole record.
    Sample {
        /// The sampling key.
        key: Option<String>,
    },
    /// Keep every record, without the heavy fields in [`Proposal::trim`].
    Trim,
}

/// A proposed rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    /// Its name, unique in the rule file.
    pub name: String,
    /// The templates it is for: one, or every access-log path of a source but its health checks.
    pub templates: Vec<u32>,
    /// Drop or sample.
    pub action: Action,
    /// The `summarize: by:` entries (name, path) of what it drops, if any.
    pub summarize_by: Vec<(String, String)>,
    /// The `summarize: sum:` entries.
    pub summarize_sum: Vec<(String, String)>,
    /// The priority of the records a sample or trim rule keeps: what the default action gave them.
    pub priority: Priority,
    /// Fields the rule's `trim: remove:` cuts from what it keeps.
    pub trim: Vec<String>,
    /// Its condition, in the rule language.
    pub when: String,
    /// Why this action, for people.
    pub reason: String,
    /// Bytes it is expected to save, from the template's counts (the CLI then measures them).
    pub estimate: u64,
}

/// A template that got no rule, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skip {
    /// The template.
    pub template: u32,
    /// Why.
    pub reason: String,
}

/// Quotes a string for the rule language: `"…"` with `\` and `"` escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A top-level key as a field path: quoted when it is not a plain name (`"log.level"`).
fn top_path(key: &str) -> String {
    if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') { key.to_string() } else { quote(key) }
}

/// The guard every proposed condition ends with: never a record at warn or above, or with status 400 or
/// above, as the rules read them.
pub fn guard(place: Place) -> String {
    match place {
        Place::Top(_) | Place::Keys => {
            // A record's own keys: the same names and numbers the `app` parser calls warn and above.
            let names = r"(?i)^\s*(warn|warning|wrn|error|err|severe|fatal|ftl|critical|crit|panic|pnc|dpanic|emerg|emergency|alert)\s*$";
            let mut parts: Vec<String> = LEVEL_KEYS
                .iter()
                .map(|k| match top_path(k) {
                    // A top-level key with a dot (ECS's `log.level`) is no path: read it in the record's text.
                    p if p.starts_with('"') => {
                        let names = names.trim_start_matches("(?i)^\\s*").trim_end_matches("\\s*$");
                        format!("not (_raw matches {})", quote(&format!(r#"(?i)"{}"\s*:\s*"\s*{names}\s*""#, crate::pattern::escape(k))))
                    }
                    p => format!("not ({p} matches {}) and not ({p} in [40, 50, 60])", quote(names)),
                })
                .collect();
            parts.push("not (status >= 400)".into());
            parts.join(" and ")
        }
        _ => r#"not (log.level in ["warn", "error", "fatal"]) and not (log.status >= 400)"#.to_string(),
    }
}

/// The path a message place is read at, for `matches`.
fn message_path(place: Place) -> Option<String> {
    Some(match place {
        Place::Log => "log".into(),
        Place::LogKey(k) => format!("log.{}", k.name()),
        Place::Top(k) => k.name().into(),
        Place::Access => "log.path".into(),
        Place::Keys => return None,
    })
}

fn id_path(id: IdField) -> String {
    match id {
        IdField::AccessRequestId => "log.request_id".into(),
        IdField::LogKey(i) => format!("log.{}", ID_KEYS[i as usize]),
        IdField::Top(i) => top_path(ID_KEYS[i as usize]),
    }
}

/// The source's condition and its `summarize: by:` entries.
fn source_parts(t: &TemplateCost) -> (Option<String>, Vec<(String, String)>) {
    let src = &t.template.source;
    match t.stats.source_kind {
        Some(SourceKind::Kubernetes) if t.stats.namespace_len < src.len() => {
            let (ns, container) = (&src[..t.stats.namespace_len], &src[t.stats.namespace_len + 1..]);
            (
                Some(format!("kubernetes.namespace_name == {} and kubernetes.container_name == {}", quote(ns), quote(container))),
                vec![("namespace".into(), "kubernetes.namespace_name".into()), ("container".into(), "kubernetes.container_name".into())],
            )
        }
        Some(SourceKind::LogGroup) => (Some(format!("cloudwatch.logGroup == {}", quote(src))), vec![("log_group".into(), "cloudwatch.logGroup".into())]),
        _ => (None, Vec::new()),
    }
}

/// Members never proposed for trimming: what rules and people read, what says where and when, and
/// anything that may describe an error.
const ESSENTIAL: [&str; 13] = ["log", "message", "msg", "MESSAGE", "time", "@timestamp", "timestamp", "stream", "level", "severity", "status", "cloudwatch", "ts"];
const ESSENTIAL_K8S: [&str; 4] = ["namespace_name", "container_name", "pod_name", "host"];

/// The heaviest member of a record that may be trimmed (a top-level key, or one under `kubernetes`), as a
/// trim path with its share of the record's bytes.
fn heavy_member(record: &[u8]) -> Option<(String, f64)> {
    let serde_json::Value::Object(map) = serde_json::from_slice::<serde_json::Value>(record).ok()? else { return None };
    let size = |k: &str, v: &serde_json::Value| k.len() + 4 + serde_json::to_string(v).map_or(0, |s| s.len());
    let plain = |k: &str| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let errorish = |k: &str| ["stack", "error", "err", "exception", "trace", "cause"].iter().any(|w| k.to_ascii_lowercase().contains(w));
    let mut best: Option<(String, usize)> = None;
    let mut see = |path: String, n: usize| {
        if best.as_ref().is_none_or(|b| n > b.1) {
            best = Some((path, n));
        }
    };
    for (k, v) in &map {
        if !plain(k) || errorish(k) || ESSENTIAL.contains(&k.as_str()) {
            continue;
        }
        if k == "kubernetes" {
            for (kk, vv) in v.as_object().into_iter().flatten() {
                if plain(kk) && !errorish(kk) && !ESSENTIAL_K8S.contains(&kk.as_str()) {
                    see(format!("kubernetes.{kk}"), size(kk, vv));
                }
            }
        } else {
            see(k.clone(), size(k, v));
        }
    }
    let (path, n) = best?;
    (n >= 100).then(|| (path, n as f64 / record.len().max(1) as f64))
}

const HEALTH_PATHS: [&str; 7] = ["/healthz", "/readyz", "/livez", "/health", "/ready", "/ping", "/metrics"];
const HEALTH_WORDS: [&str; 5] = ["health", "heartbeat", "liveness", "readiness", "ping"];

/// A short kebab-case name for a template, from its first constant words (a `key=` prefix left out).
fn slug(t: &TemplateCost) -> String {
    let words: Vec<String> = t
        .template
        .tokens
        .iter()
        .filter(|k| !k.wild && !k.varies())
        .map(|k| k.first.rsplit('=').next().unwrap_or(&k.first))
        .map(|w| w.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect::<String>())
        .map(|w| w.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-"))
        .filter(|w| w.chars().any(|c| c.is_ascii_alphabetic()))
        .take(3)
        .collect();
    let mut s = words.join("-");
    if s.len() > 32 {
        s.truncate(32);
        if let Some(cut) = s.rfind('-') {
            s.truncate(cut);
        }
    }
    if s.is_empty() { format!("template-{}", t.template.id) } else { s }
}

/// Whether an access-log template is health checks: mostly probes, or one health path.
fn is_health(t: &TemplateCost) -> bool {
    let tok = &t.template.tokens;
    let path = tok.len() == 1 && HEALTH_PATHS.contains(&tok[0].first.as_str()) && !tok[0].varies();
    t.template.kind == Kind::Path && (path || t.stats.probe_records * 2 >= t.stats.sent_records.max(1))
}

/// What a rule can be proposed for: one template, a source's health checks, or every other access-log
/// path of a source (where no one path costs much, their sum can).
enum Candidate<'a> {
    One(&'a TemplateCost),
    Health(Vec<&'a TemplateCost>),
    Paths(Vec<&'a TemplateCost>),
}

/// Health-check paths, as a pattern over `log.path`.
const HEALTH_RE: &str = r"^/(?:healthz|readyz|livez|health|ready|ping|metrics)/?(?:[?#].*)?$";

impl Candidate<'_> {
    fn open(&self) -> u64 {
        self.members().iter().map(|t| t.stats.open_bytes).sum()
    }

    fn members(&self) -> Vec<&TemplateCost> {
        match self {
            Candidate::One(t) => vec![t],
            Candidate::Health(m) | Candidate::Paths(m) => m.clone(),
        }
    }

    fn first(&self) -> &TemplateCost {
        match self {
            Candidate::One(t) => t,
            Candidate::Health(m) | Candidate::Paths(m) => m[0],
        }
    }
}

/// The access parsers' names, as `log.format` gives them.
const ACCESS_FORMATS: &str = r#"["ingress_nginx", "nginx_combined", "nginx_common", "envoy_text", "envoy_json"]"#;

/// Proposes rules for the costliest templates. `sent` is the bytes the rules send in all; `taken` the
/// names already in the rule file; `priority` what the default action keeps records at. Rules for one
/// template come first in the result, rules for a source's access logs after them (first match wins:
/// a health check's `drop` must come before its source's `sample`).
pub fn propose(templates: &[TemplateCost], sent: u64, s: &Settings, taken: &HashSet<String>, priority: Priority) -> (Vec<Proposal>, Vec<Skip>) {
    let mut candidates: Vec<Candidate> = templates.iter().filter(|t| t.stats.open_bytes > 0).map(Candidate::One).collect();
    let mut sources: Vec<&str> = templates.iter().filter(|t| t.template.kind == Kind::Path).map(|t| t.template.source.as_str()).collect();
    sources.sort_unstable();
    sources.dedup();
    for src in sources {
        let (health, other): (Vec<&TemplateCost>, Vec<&TemplateCost>) =
            templates.iter().filter(|t| t.template.kind == Kind::Path && t.template.source == src && t.stats.open_bytes > 0).partition(|t| is_health(t));
        if health.len() >= 2 {
            candidates.push(Candidate::Health(health));
        }
        if other.len() >= 2 {
            candidates.push(Candidate::Paths(other));
        }
    }
    candidates.sort_by_key(|c| (std::cmp::Reverse(c.open()), c.members().len(), c.first().template.id));
    let (mut one, mut paths, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    let mut names: HashSet<String> = taken.clone();
    let mut covered: HashSet<u32> = HashSet::new();
    for c in candidates {
        if one.len() + paths.len() == s.max {
            break;
        }
        let members: Vec<&TemplateCost> = c.members().into_iter().filter(|t| !covered.contains(&t.template.id)).collect();
        let group = !matches!(c, Candidate::One(_));
        if members.is_empty() || (group && members.len() < 2) {
            continue;
        }
        let open: u64 = members.iter().map(|t| t.stats.open_bytes).sum();
        let sent_here: u64 = members.iter().map(|t| t.stats.sent_bytes).sum();
        let t = members.first().copied().unwrap_or(c.first());
        let st = &t.stats;
        if (open as f64) < s.min_share * sent as f64 {
            continue;
        }
        let skip = |reason: &str| Skip { template: t.template.id, reason: reason.into() };
        if open * 2 < sent_here {
            skipped.push(skip("most of what it sends is protected (warn and above, status 400 and above, stack traces) or decided by a rule"));
            continue;
        }
        let Some(place) = st.place else { continue };
        let Some(path) = message_path(place) else {
            skipped.push(skip("a JSON object without a message: no text to match"));
            continue;
        };
        if t.template.source == "_other" {
            skipped.push(skip("records of sources over the limit of sources"));
            continue;
        }
        let (source, mut by) = source_parts(t);
        let mut sum = Vec::new();
        let mut when: Vec<String> = source.into_iter().collect();
        let (action, reason, slug) = if t.template.kind == Kind::Path {
            by.push(("status_class".into(), "log.status_class".into()));
            by.push(("method".into(), "log.method".into()));
            sum.push(("duration_ms".into(), "log.duration".into()));
            let sent_records: u64 = members.iter().map(|t| t.stats.sent_records).sum();
            let ids: u64 = members.iter().map(|t| t.stats.id_records).sum();
            let sample = |what: &str| {
                if ids * 10 >= sent_records * 9 {
                    (Action::Sample { key: Some("log.request_id".into()) }, format!("{what}: {} of them, the same requests on every hop", s.rate_text))
                } else {
                    (Action::Sample { key: None }, format!("{what}: {} of them", s.rate_text))
                }
            };
            match c {
                Candidate::Paths(_) => {
                    when.push(format!("log.format in {ACCESS_FORMATS}"));
                    when.push(format!(r#"not (log.user_agent starts_with "kube-probe/") and not (log.path matches {})"#, quote(HEALTH_RE)));
                    let (a, r) = sample(&format!("successful requests to {} paths, none costly alone", members.len()));
                    (a, r, "access-logs".to_string())
                }
                Candidate::Health(_) => {
                    when.push(format!("log.format in {ACCESS_FORMATS}"));
                    when.push(format!(r#"(log.user_agent starts_with "kube-probe/" or log.path matches {})"#, quote(HEALTH_RE)));
                    (Action::Drop, "health checks: their counts per minute say as much as the records".to_string(), "health-checks".to_string())
                }
                Candidate::One(_) => {
                    when.push(format!("{path} matches {}", quote(&template_regex(&t.template))));
                    if is_health(t) {
                        (Action::Drop, "health checks: their counts per minute say as much as the records".to_string(), slug(t))
                    } else {
                        let (a, r) = sample("successful requests");
                        (a, r, slug(t))
                    }
                }
            }
        } else {
            when.push(format!("{path} matches {}", quote(&template_regex(&t.template))));
            if !matches!(place, Place::Top(_)) {
                by.push(("level".into(), "log.level".into()));
            }
            let debug = st.levels[1] + st.levels[2];
            let text = t.template.text().to_ascii_lowercase();
            let (a, r) = if debug * 10 >= st.sent_records * 8 {
                (Action::Drop, "debug and trace messages: their counts say as much".to_string())
            } else if HEALTH_WORDS.iter().any(|w| text.contains(w)) {
                (Action::Drop, "a health check logged by the application: its counts say as much".to_string())
            } else if let Some(id) = st.id_field.filter(|_| st.id_records * 10 >= st.sent_records * 9) {
                (Action::Sample { key: Some(id_path(id)) }, format!("a repeated message: {} of it, whole requests or traces kept together", s.rate_text))
            } else {
                (Action::Sample { key: None }, format!("a repeated message: {} of it", s.rate_text))
            };
            (a, r, slug(t))
        };
        // A heavy field: cut it from what a sample keeps, or, when it is most of every record, keep every
        // record without it instead of sampling.
        let mut trim = Vec::new();
        let mut action = action;
        let mut reason = reason;
        if matches!(c, Candidate::One(_))
            && matches!(action, Action::Sample { .. })
            && let Some((member, share)) = st.example_open.as_deref().and_then(heavy_member)
        {
            if share >= 0.5 {
                action = Action::Trim;
                reason = format!("`{member}` is {:.0}% of its records: every record kept, without it", share * 100.0);
                by.clear();
                sum.clear();
                trim.push(member);
            } else if share >= 0.2 {
                reason = format!("{reason}; `{member}` ({:.0}% of its records) cut from those kept", share * 100.0);
                trim.push(member);
            }
        }
        let trim_share = st.example_open.as_deref().and_then(heavy_member).map_or(0.0, |h| h.1);
        when.push(guard(place));
        let src_slug: String = t.template.source.rsplit('/').next().unwrap_or("").chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
        let base = if group && !src_slug.is_empty() { format!("suggest-{src_slug}-{slug}") } else { format!("suggest-{slug}") };
        let mut name = base.clone();
        let mut n = 2;
        while names.contains(&name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        names.insert(name.clone());
        let estimate = match action {
            Action::Drop => open,
            Action::Sample { .. } if !trim.is_empty() => (open as f64 * (1.0 - s.rate * (1.0 - trim_share))) as u64,
            Action::Sample { .. } => (open as f64 * (1.0 - s.rate)) as u64,
            Action::Trim => (open as f64 * trim_share) as u64,
        };
        covered.extend(members.iter().map(|t| t.template.id));
        let p = Proposal {
            name,
            templates: members.iter().map(|t| t.template.id).collect(),
            action,
            summarize_by: by,
            summarize_sum: sum,
            priority,
            trim,
            when: when.join(" and "),
            reason,
            estimate,
        };
        match c {
            Candidate::Paths(_) => paths.push(p),
            _ => one.push(p),
        }
    }
    one.extend(paths);
    (one, skipped)
}

/// Quotes a YAML scalar: single quotes, a quote doubled.
pub fn yaml_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl Proposal {
    /// The rule as a YAML list item, each line prefixed with `indent`.
    pub fn yaml(&self, indent: &str, rate_text: &str, description: &str) -> String {
        let mut l = vec![
            format!("- name: {}", self.name),
            format!("  description: {}", yaml_quote(description)),
            format!("  when: {}", yaml_quote(&self.when)),
        ];
        match &self.action {
            Action::Drop => l.push("  action: drop".into()),
            Action::Sample { key } => {
                l.push("  action: sample".into());
                l.push(format!("  rate: {rate_text}"));
                if let Some(k) = key {
                    l.push(format!("  key: {k}"));
                }
                l.push(format!("  priority: {}", self.priority.name()));
            }
            Action::Trim => {
                l.push("  action: keep".into());
                l.push(format!("  priority: {}", self.priority.name()));
            }
        }
        if !self.trim.is_empty() {
            l.push("  trim:".into());
            l.push(format!("    remove: [{}]", self.trim.join(", ")));
        }
        if !self.summarize_by.is_empty() || !self.summarize_sum.is_empty() {
            l.push("  summarize:".into());
            if !self.summarize_by.is_empty() {
                l.push("    by:".into());
                l.extend(self.summarize_by.iter().map(|(n, p)| format!("      - {n}: {p}")));
            }
            if !self.summarize_sum.is_empty() {
                l.push("    sum:".into());
                l.extend(self.summarize_sum.iter().map(|(n, p)| format!("      - {n}: {p}")));
            }
        }
        l.iter().map(|x| format!("{indent}{x}\n")).collect()
    }
}

/// What the template of a message place is read as, for people: `log`, `log.msg`, `msg`, `log.path`.
pub fn place_name(place: Place) -> String {
    message_path(place).unwrap_or_else(|| match place {
        Place::Keys => "keys".into(),
        _ => String::new(),
    })
}

/// The message key of a place, if it has one.
pub fn place_key(place: Place) -> Option<Key> {
    match place {
        Place::LogKey(k) | Place::Top(k) => Some(k),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::costs::{Costs, Seen};
    use crate::miner::Config;
    use logtrim_core::{Action as Decided, RuleSet};

    fn costs(records: &[String]) -> Vec<TemplateCost> {
        let mut c = Costs::new(Config::default());
        for r in records {
            c.add(r.as_bytes(), Seen { sent: true, rule: None, kept_high: false });
        }
        c.finish().templates
    }

    const K8S: &str = r#""kubernetes":{"namespace_name":"shop","container_name":"api"}"#;

    fn app(level: &str, msg: &str, i: usize) -> String {
        format!(r#"{{"log":"{{\"level\":\"{level}\",\"msg\":\"{msg} {i}\",\"trace_id\":\"t{i}\"}}",{K8S}}}"#)
    }

    fn access(path: &str, status: u32, ua: &str, i: usize) -> String {
        format!(r#"{{"log":"10.0.0.{} - - [22/Nov/2026:10:00:00 +0000] \"GET {path} HTTP/1.1\" {status} 12 \"-\" \"{ua}\"",{K8S}}}"#, i % 250)
    }

    fn rules(proposals: &[Proposal]) -> RuleSet {
        let items: String = proposals.iter().map(|p| p.yaml("  ", "10%", "test")).collect();
        let yaml = format!("parse:\n  log: [access, app]\nrules:\n{items}default:\n  action: keep\n");
        RuleSet::from_yaml("proposed.yaml", &yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
    }

    #[test]
    fn probes_are_dropped_debug_dropped_and_the_rest_sampled_by_their_id() {
        let mut recs = Vec::new();
        for i in 0..300 {
            recs.push(access("/healthz", 200, "kube-probe/1.30", i));
            recs.push(app("debug", "cache lookup took", i));
            recs.push(app("info", "order accepted", i));
        }
        let t = costs(&recs);
        let sent: u64 = recs.iter().map(|r| r.len() as u64).sum();
        let (p, skipped) = propose(&t, sent, &Settings::default(), &HashSet::new(), Priority::Normal);
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(p.len(), 3);
        let by_name = |s: &str| p.iter().find(|x| x.name.contains(s)).unwrap_or_else(|| panic!("{s} in {p:?}"));
        assert_eq!(by_name("healthz").action, Action::Drop);
        assert_eq!(by_name("cache-lookup").action, Action::Drop);
        assert_eq!(by_name("cache-lookup").name, "suggest-cache-lookup-took");
        assert_eq!(by_name("order-accepted").action, Action::Sample { key: Some("log.trace_id".into()) });
        assert!(p.iter().all(|x| x.templates.len() == 1));
        // They compile, and decide as proposed.
        let r = rules(&p);
        let mut d = r.decider();
        assert_eq!(d.decide(recs[0].as_bytes()).decision().action, Decided::Drop);
        assert_eq!(r.rule_name(d.decide(recs[1].as_bytes()).decision().rule), by_name("cache-lookup").name);
        assert_eq!(r.rule_name(d.decide(recs[2].as_bytes()).decision().rule), by_name("order-accepted").name);
    }

    #[test]
    fn the_guard_keeps_warnings_errors_and_failed_requests_of_a_proposed_template() {
        let mut recs = Vec::new();
        for i in 0..300 {
            recs.push(app(if i % 10 == 0 { "error" } else { "debug" }, "upstream call took", i));
            recs.push(access("/healthz", if i % 10 == 0 { 503 } else { 200 }, "kube-probe/1.30", i));
        }
        let t = costs(&recs);
        let (p, _) = propose(&t, 1, &Settings { min_share: 0.0, ..Settings::default() }, &HashSet::new(), Priority::Normal);
        assert_eq!(p.len(), 2);
        let r = rules(&p);
        let mut d = r.decider();
        for (i, rec) in recs.iter().enumerate() {
            let protected = (i / 2) % 10 == 0;
            let got = d.decide(rec.as_bytes()).decision();
            assert_eq!(got.action == Decided::Keep, protected, "{rec}");
        }
    }

    #[test]
    fn a_sources_many_cheap_paths_are_sampled_together_after_its_health_checks() {
        let mut recs = Vec::new();
        for i in 0..400 {
            let page = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"][i % 10];
            recs.push(access(&format!("/{page}/x"), 200, "Mozilla/5.0", i));
            if i % 4 == 0 {
                recs.push(access(["/healthz", "/readyz"][i % 8 / 4], 200, "kube-probe/1.30", i));
            }
        }
        let t = costs(&recs);
        let sent: u64 = recs.iter().map(|r| r.len() as u64).sum();
        let (p, _) = propose(&t, sent, &Settings::default(), &HashSet::new(), Priority::Normal);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!((p[0].name.as_str(), &p[0].action), ("suggest-api-health-checks", &Action::Drop));
        assert_eq!(p[1].name, "suggest-api-access-logs");
        assert_eq!(p[1].templates.len(), t.len() - 2);
        let r = rules(&p);
        let mut d = r.decider();
        for rec in &recs {
            let got = d.decide(rec.as_bytes()).decision();
            let want = if rec.contains("kube-probe") { &p[0].name } else { &p[1].name };
            assert_eq!(r.rule_name(got.rule), want);
        }
    }

    #[test]
    fn a_heavy_field_is_trimmed_instead_of_sampling_or_from_what_is_sampled() {
        let mut recs = Vec::new();
        for i in 0..200 {
            let blob = "x".repeat(600);
            recs.push(format!(r#"{{"log":"{{\"level\":\"info\",\"msg\":\"upload {i}\"}}","request_body":"{blob}",{K8S}}}"#));
            recs.push(format!(r#"{{"log":"{{\"level\":\"info\",\"msg\":\"render {i} done in 3ms\"}}","headers":"{}",{K8S}}}"#, "h".repeat(100)));
        }
        let t = costs(&recs);
        let sent: u64 = recs.iter().map(|r| r.len() as u64).sum();
        let (p, _) = propose(&t, sent, &Settings::default(), &HashSet::new(), Priority::Normal);
        let upload = p.iter().find(|x| x.name.contains("upload")).unwrap();
        assert_eq!((&upload.action, upload.trim.as_slice()), (&Action::Trim, ["request_body".to_string()].as_slice()));
        assert!(upload.summarize_by.is_empty());
        let render = p.iter().find(|x| x.name.contains("render")).unwrap();
        assert_eq!((&render.action, render.trim.as_slice()), (&Action::Sample { key: None }, ["headers".to_string()].as_slice()));
        let r = rules(&p);
        let mut d = r.decider();
        let mut decided = d.decide(recs[0].as_bytes());
        let dec = decided.decision();
        assert_eq!((dec.action, r.rule_name(dec.rule)), (Decided::Keep, upload.name.as_str()));
        let mut out = Vec::new();
        decided.write_kept(&mut out);
        assert!(!String::from_utf8_lossy(&out).contains("request_body") && out.len() < 300);
        // Never a field that may describe an error, nor where and when.
        assert_eq!(heavy_member(br#"{"log":"x","stacktrace":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#), None);
    }

    #[test]
    fn a_records_own_message_is_guarded_by_its_own_level_keys() {
        // CloudWatch JSON messages and Merge_Log records: no `log`, the message and level at the top.
        let rec = |level: &str, i: usize| format!(r#"{{"cloudwatch":{{"logGroup":"/aws/lambda/f"}},"severity":"{level}","message":"tick {i} done","requestId":"r{i}"}}"#);
        let mut recs = Vec::new();
        for i in 0..200 {
            recs.push(rec(if i % 5 == 0 { "ERROR" } else { "info" }, i));
        }
        recs.push(r#"{"cloudwatch":{"logGroup":"/aws/lambda/f"},"log.level":"warning","message":"tick 1 done","requestId":"x"}"#.to_string());
        recs.push(r#"{"cloudwatch":{"logGroup":"/aws/lambda/f"},"level":50,"message":"tick 2 done","requestId":"y"}"#.to_string());
        let t = costs(&recs);
        let (p, _) = propose(&t, 1, &Settings { min_share: 0.0, ..Settings::default() }, &HashSet::new(), Priority::Normal);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].when.starts_with(r#"cloudwatch.logGroup == "/aws/lambda/f" and message matches"#), "{}", p[0].when);
        assert_eq!(p[0].action, Action::Sample { key: Some("requestId".into()) });
        let r = rules(&p);
        let mut d = r.decider();
        for (i, rec) in recs.iter().enumerate() {
            // Protected records never reach the proposal; the others all do.
            let protected = i % 5 == 0 || i >= 200;
            let got = d.decide(rec.as_bytes()).decision();
            assert_eq!(r.rule_name(got.rule) == p[0].name, !protected, "{rec}");
            assert!(!protected || got.action == Decided::Keep);
        }
    }

    #[test]
    fn protected_templates_and_small_ones_get_no_rule() {
        let mut recs = Vec::new();
        for i in 0..100 {
            recs.push(app("warn", "retrying call", i));
        }
        recs.push(app("info", "rare event", 1));
        let t = costs(&recs);
        let sent: u64 = recs.iter().map(|r| r.len() as u64).sum();
        let (p, skipped) = propose(&t, sent, &Settings::default(), &HashSet::new(), Priority::Normal);
        assert!(p.is_empty(), "{p:?}");
        // The warnings are not open at all; the rare event is under the share.
        assert!(skipped.is_empty());
    }

    #[test]
    fn names_are_unique_and_strings_are_quoted() {
        assert_eq!(quote(r#"a "b" \d"#), r#""a \"b\" \\d""#);
        assert_eq!(yaml_quote("it's"), "'it''s'");
        let mut recs = Vec::new();
        for i in 0..50 {
            recs.push(app("info", "done", i));
        }
        let t = costs(&recs);
        let taken: HashSet<String> = ["suggest-done".to_string()].into();
        let (p, _) = propose(&t, 1, &Settings { min_share: 0.0, ..Settings::default() }, &taken, Priority::High);
        assert_eq!(p[0].name, "suggest-done-2");
        assert_eq!(p[0].priority, Priority::High);
    }
}
