//! The compiled, immutable form of a rule file: what [`crate::run::decider::Decider`] executes.
//!
//! Conditions are a tree of enum nodes, not boxed closures: the set of operators is closed, an enum
//! `match` inlines well, and the tree can be printed back by `explain`.

use std::sync::Arc;

use memchr::memmem::Finder;
use regex::bytes::Regex;

use crate::primitives::RuleId;
use crate::run::summary::{GroupField, SummaryPlan};
use crate::run::trim::TrimPlan;

use crate::record::access::AccessFormat;
use crate::record::json::PathTrie;
use crate::primitives::Priority;
use crate::spec::ast::{CmpOp, display_path};
use crate::spec::load::Example;
use crate::run::sample::SampleRate;

/// Where a condition reads its value from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FieldRef {
    /// `_raw`: the whole record bytes.
    Raw,
    /// A path in the record, by its id in the top-level trie.
    Top(u16),
    /// A field produced by parsing a string field.
    Parsed { source: u16, field: u16 },
}

/// One parser in a source's chain, in the order tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParserKind {
    /// A text access-log format.
    Access(AccessFormat),
    /// Any JSON object.
    Json,
    /// A JSON object with a `response_code` key (Envoy/Istio JSON access log).
    EnvoyJson,
    /// An application log: a JSON object, or a text line whose level we detect.
    App,
}

impl ParserKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ParserKind::Access(f) => f.name(),
            ParserKind::Json => "json",
            ParserKind::EnvoyJson => "envoy_json",
            ParserKind::App => "app",
        }
    }
}

/// Which part of an access-log parse a field reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AccessField {
    Client,
    User,
    Time,
    Method,
    Path,
    Protocol,
    Status,
    Bytes,
    BytesReceived,
    Duration,
    Referer,
    UserAgent,
    ForwardedFor,
    RequestId,
    Authority,
    Upstream,
    UpstreamStatus,
    ResponseFlags,
    UpstreamCluster,
    RouteName,
}

/// Normalised access-log field names, the field, and the key Envoy/Istio JSON access logs use for it.
pub(crate) const ACCESS_FIELDS: &[(&str, AccessField, &str)] = &[
    ("client", AccessField::Client, "downstream_remote_address"),
    ("user", AccessField::User, "user"),
    ("time", AccessField::Time, "start_time"),
    ("method", AccessField::Method, "method"),
    ("path", AccessField::Path, "path"),
    ("protocol", AccessField::Protocol, "protocol"),
    ("status", AccessField::Status, "response_code"),
    ("bytes", AccessField::Bytes, "bytes_sent"),
    ("bytes_received", AccessField::BytesReceived, "bytes_received"),
    ("duration", AccessField::Duration, "duration"),
    ("referer", AccessField::Referer, "referer"),
    ("user_agent", AccessField::UserAgent, "user_agent"),
    ("forwarded_for", AccessField::ForwardedFor, "x_forwarded_for"),
    ("request_id", AccessField::RequestId, "request_id"),
    ("authority", AccessField::Authority, "authority"),
    ("upstream", AccessField::Upstream, "upstream_host"),
    ("upstream_status", AccessField::UpstreamStatus, "upstream_status"),
    ("response_flags", AccessField::ResponseFlags, "response_flags"),
    ("upstream_cluster", AccessField::UpstreamCluster, "upstream_cluster"),
    ("route_name", AccessField::RouteName, "route_name"),
];

/// A field produced by a source's parsers.
#[derive(Clone, Debug)]
pub(crate) struct ParsedField {
    /// The path below the source (`["status"]` for `log.status`).
    pub path: Vec<String>,
    /// `format`: the name of the parser that recognised the value.
    pub is_format: bool,
    /// `level` under an `app` parser: the normalised severity.
    pub is_level: bool,
    /// The access-log field, if the name is one.
    pub access: Option<AccessField>,
    /// Id in the source's nested trie of the Envoy JSON key for this access field.
    pub envoy_alias: Option<u16>,
    /// Id in the source's nested trie of the path itself (JSON parsers).
    pub nested: Option<u16>,
}

/// A string field parsed further.
#[derive(Clone, Debug)]
pub(crate) struct Source {
    pub path: Vec<String>,
    /// Id of the source's own value in the top-level trie.
    pub top: u16,
    pub parsers: Vec<ParserKind>,
    /// Keys read inside JSON values of this source.
    pub nested: PathTrie,
    pub nested_paths: Vec<Vec<String>>,
    /// Ids in `nested` of the level keys, in priority order (only with an `app` parser).
    pub level_keys: Vec<u16>,
    /// Id in `nested` of `response_code` (only with an `envoy_json` parser).
    pub envoy_marker: Option<u16>,
    pub fields: Vec<ParsedField>,
}

/// A compiled condition.
#[derive(Debug)]
pub(crate) enum Cond {
    True,
    False,
    /// Numeric comparison; strings holding a JSON number are compared as numbers.
    Num { f: FieldRef, op: CmpOp, n: f64 },
    /// Byte-wise string comparison (`==`, `<`, …); only string values match.
    Str { f: FieldRef, op: CmpOp, s: Box<[u8]> },
    Bool { f: FieldRef, b: bool },
    Null { f: FieldRef },
    Range { f: FieldRef, lo: f64, hi: f64 },
    Set { f: FieldRef, nums: Box<[f64]>, strs: Box<[Box<[u8]>]>, bools: [bool; 2], null: bool },
    StartsWith { f: FieldRef, s: Box<[u8]> },
    EndsWith { f: FieldRef, s: Box<[u8]> },
    // Boxed: a Finder is ~300 bytes and would make every condition that large.
    Contains { f: FieldRef, finder: Box<Finder<'static>> },
    Regex { f: FieldRef, re: Regex },
    Exists { f: FieldRef },
    Not(Box<Cond>),
    And(Box<[Cond]>),
    Or(Box<[Cond]>),
}

/// Literals that must occur in the raw record bytes for a rule to match: every clause needs one of its
/// literals. Sound because the literals only contain characters JSON never escapes except through `\u`,
/// and the check is skipped for records containing `\u`.
#[derive(Debug, Default)]
pub(crate) struct Prefilter {
    pub clauses: Vec<Vec<Finder<'static>>>,
}

/// The compiled action.
#[derive(Clone, Debug)]
pub(crate) enum CAction {
    Keep,
    Drop,
    Sample { rate: SampleRate, key: Option<FieldRef> },
}

/// A compiled rule.
#[derive(Debug)]
pub(crate) struct CRule {
    pub name: String,
    pub cond: Cond,
    pub prefilter: Prefilter,
    pub action: CAction,
    pub priority: Priority,
    /// The condition as written, for `explain`.
    pub when_text: String,
}

/// Everything a [`crate::run::decider::Decider`] needs, built once.
#[derive(Debug)]
pub(crate) struct Plan {
    pub name: Option<String>,
    pub top: PathTrie,
    pub top_paths: Vec<Vec<String>>,
    pub sources: Vec<Source>,
    pub rules: Vec<CRule>,
    pub default: CAction,
    pub default_priority: Priority,
    pub tests: Vec<Example>,
    /// Every field any condition or key reads, with the path as written, for `explain`.
    pub seen: Vec<(String, FieldRef)>,
    /// What happens after the decision, per rule in file order, the default action last.
    pub extras: Vec<Extras>,
    /// Compiled `summarize:` blocks, referenced from `extras`.
    pub summaries: Vec<SummaryPlan>,
    /// `time`, `@timestamp`, `timestamp`: a summarized record's own time (only when something summarizes).
    pub time_fields: Vec<FieldRef>,
    /// `sample_rate_field:`.
    pub sample_rate_field: Option<String>,
    /// The rule set's `trim:` (rules keeping records share it, or merge it with their own).
    pub trim: Option<Arc<TrimPlan>>,
    /// Some field is `_raw`: a record given as parts is decided through its JSON text.
    pub reads_raw: bool,
}

/// What a rule does besides deciding: summarize what it drops, trim what it keeps, tag the rate.
#[derive(Clone, Debug, Default)]
pub(crate) struct Extras {
    /// Index into `Plan::summaries`.
    pub summary: Option<u16>,
    /// The rule set's `trim:` merged with the rule's own.
    pub trim: Option<Arc<TrimPlan>>,
    /// The rate to write into `sample_rate_field` for a record this (sample) rule keeps.
    pub rate: Option<f64>,
}

static NO_EXTRAS: Extras = Extras { summary: None, trim: None, rate: None };

impl Plan {
    /// What rule `r` does besides deciding.
    pub(crate) fn extras(&self, r: RuleId) -> &Extras {
        let i = r.index().unwrap_or(self.rules.len());
        self.extras.get(i).unwrap_or(&NO_EXTRAS)
    }

    fn explain_extras(&self, o: &mut String, r: RuleId, indent: &str) {
        use std::fmt::Write;
        let x = self.extras(r);
        if let Some(sp) = x.summary.map(|i| &self.summaries[i as usize]) {
            let by: Vec<String> = sp
                .by
                .iter()
                .map(|(name, g)| {
                    match g {
                        GroupField::Value(f) if *name == self.field_name(*f) => name.clone(),
                        GroupField::Value(f) => format!("{name} = {}", self.field_name(*f)),
                        GroupField::StatusClass(f) => format!("{name} (class of {})", self.field_name(*f)),
                    }
                })
                .collect();
            let _ = write!(o, "{indent}summarize dropped records every {}s by [{}]", sp.every_ms / 1000, by.join(", "));
            if !sp.sum.is_empty() {
                let sum: Vec<String> = sp.sum.iter().map(|(_, f)| self.field_name(*f)).collect();
                let _ = write!(o, ", sum/min/max of [{}]", sum.join(", "));
            }
            let _ = writeln!(o, "; at most {} groups per interval, then `_other`; events at {} priority", sp.max_groups, sp.priority.name());
        }
        match (&x.trim, &self.trim) {
            (Some(t), Some(all)) if Arc::ptr_eq(t, all) => {}
            (Some(t), _) => {
                let _ = writeln!(o, "{indent}trim kept records: {}", t.describe().join("; "));
            }
            (None, _) => {}
        }
    }

    /// The compiled plan in words: sources, extracted paths, then each rule with its prefilter.
    pub(crate) fn explain(&self) -> String {
        use std::fmt::Write;
        let mut o = String::new();
        let _ = writeln!(o, "rule set {}", self.name.as_deref().unwrap_or("(unnamed)"));
        let _ = writeln!(o, "record fields extracted in one pass over JSON records ({}):", self.top_paths.len());
        for p in &self.top_paths {
            let _ = writeln!(o, "  {}", display_path(p));
        }
        for s in &self.sources {
            let names: Vec<&str> = s.parsers.iter().map(|p| p.name()).collect();
            let _ = writeln!(o, "parse {} with the first of: {}", display_path(&s.path), names.join(", "));
            for f in &s.fields {
                let how = if f.is_format {
                    "name of the parser that matched".to_string()
                } else if f.is_level {
                    "normalised level".to_string()
                } else {
                    let mut v = Vec::new();
                    if f.access.is_some() {
                        v.push("access-log field");
                    }
                    if f.envoy_alias.is_some() {
                        v.push("envoy JSON key");
                    }
                    if f.nested.is_some() {
                        v.push("JSON path");
                    }
                    v.join(" / ")
                };
                let _ = writeln!(o, "  {}.{}: {how}", display_path(&s.path), display_path(&f.path));
            }
        }
        if let Some(t) = &self.trim {
            let _ = writeln!(o, "trim every kept record: {}", t.describe().join("; "));
        }
        if let Some(f) = &self.sample_rate_field {
            let _ = writeln!(o, "records kept by sample rules get {f:?}: the rate");
        }
        let _ = writeln!(o, "rules, first match wins:");
        for (i, r) in self.rules.iter().enumerate() {
            let _ = writeln!(o, "  {}. {} when {}", i + 1, r.name, r.when_text);
            let _ = writeln!(o, "     then {}", describe_action(&r.action, r.priority, self));
            if !r.prefilter.clauses.is_empty() {
                let clauses: Vec<String> = r
                    .prefilter
                    .clauses
                    .iter()
                    .map(|c| {
                        let lits: Vec<String> =
                            c.iter().map(|f| format!("{:?}", String::from_utf8_lossy(f.needle()))).collect();
                        lits.join(" or ")
                    })
                    .collect();
                let _ = writeln!(o, "     prefilter: skip unless the record contains {}", clauses.join(" and "));
            }
            self.explain_extras(&mut o, RuleId::from_index(i), "     ");
        }
        let _ = writeln!(o, "  default: {}", describe_action(&self.default, self.default_priority, self));
        self.explain_extras(&mut o, RuleId::DEFAULT, "     ");
        o
    }

    pub(crate) fn field_name(&self, f: FieldRef) -> String {
        match f {
            FieldRef::Raw => "_raw".into(),
            FieldRef::Top(i) => display_path(&self.top_paths[i as usize]),
            FieldRef::Parsed { source, field } => {
                let s = &self.sources[source as usize];
                format!("{}.{}", display_path(&s.path), display_path(&s.fields[field as usize].path))
            }
        }
    }
}

pub(crate) fn describe_action(a: &CAction, p: Priority, plan: &Plan) -> String {
    match a {
        CAction::Keep => format!("keep ({})", p.name()),
        CAction::Drop => "drop".into(),
        CAction::Sample { rate, key } => {
            let key = key.map(|k| plan.field_name(k)).unwrap_or_else(|| "the whole record".into());
            format!("sample {}% by {key} ({})", rate.get() * 100.0, p.name())
        }
    }
}
