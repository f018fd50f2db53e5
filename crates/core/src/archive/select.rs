//! What a replay selects: a time range, rules, reasons, and any condition of the rule language
//! ([`Filter`]: the same parser and compiled matcher as `when:`), and which objects can hold any of it,
//! from their index alone ([`Selection::may_match`]).



use super::Reason;
use super::index::ObjectIndex;
use super::line::ArchivedLine;
use crate::diag::{Diagnostics, Pos};
use crate::primitives::{Action, Priority};
use crate::record::Record;
use crate::rules::RuleSet;
use crate::run::decider::Decider;
use crate::spec::ast::{CmpOp, Expr, Lit};
use crate::spec::load::{ActionKind, ActionSpec, Rule};

/// The `parse:` section a condition is read with when no rule file gives one: a Fluent Bit, forwarder
/// or CloudWatch record's `log` as an access log or an application log, as the bundled rule files read it.
pub const DEFAULT_PARSE: &str = "parse:\n  log: [access, app]\n";

/// A condition of the rule language over archived records.
pub struct Filter {
    decider: Decider,
    /// Fields the condition requires to have one of these string values (for index pruning).
    required: Vec<(String, Vec<String>)>,
}

impl Filter {
    /// Compiles `expr` (named `--where` in errors) with the `parse:` section of `rules` (a file's name and
    /// text), or [`DEFAULT_PARSE`].
    pub fn compile(expr: &str, rules: Option<(&str, &str)>) -> Result<Filter, Diagnostics> {
        let (name, text) = rules.unwrap_or(("(default parse)", DEFAULT_PARSE));
        let file = crate::spec::load::load(text).map_err(|e| Diagnostics::new(name, text, e))?;
        let at = |off: usize| Pos::new(1, expr.get(..off).map_or(off, |s| s.chars().count()) as u32 + 1);
        let when = crate::spec::expr::parse(expr, &at).map_err(|d| Diagnostics::new("--where", expr, vec![d]))?;
        let required = required(&when);
        let spec = |kind| ActionSpec { kind, priority: Priority::Normal, summarize: None };
        let file = crate::spec::load::RuleFile {
            rules: vec![Rule { name: "where".into(), name_pos: Pos::new(1, 1), when, action: spec(ActionKind::Keep), trim: None }],
            default: spec(ActionKind::Drop),
            tests: Vec::new(),
            budget: None,
            trim: None,
            sample_rate_field: None,
            archive: None,
            ..file
        };
        let rules = RuleSet::from_file(file).map_err(|e| Diagnostics::new("--where", expr, e))?;
        Ok(Filter { decider: rules.decider(), required })
    }

    /// Whether an archived record matches.
    pub fn matches(&mut self, line: &ArchivedLine<'_>) -> bool {
        let record = line.record_bytes();
        let r = match &line.message {
            Some(m) => Record::Event { record: &record, message: m.as_bytes() },
            None => Record::Line(&record),
        };
        self.decider.decide_uncounted(r).action() == Action::Keep
    }

    /// Fields the condition requires to hold one of some string values, by their path as written.
    pub fn required(&self) -> &[(String, Vec<String>)] {
        &self.required
    }
}

/// `(path, values)` such that every record the condition matches has one of the values at the path:
/// `path == "v"`, `path in ["a", "b"]`, under `and` (any side's) and `or` (a path every side requires).
fn required(e: &Expr) -> Vec<(String, Vec<String>)> {
    match e {
        Expr::Cmp { path, op: CmpOp::Eq, lit: Lit::Str(s) } => vec![(path.display(), vec![s.clone()])],
        Expr::InSet { path, set } if set.iter().all(|l| matches!(l, Lit::Str(_))) => {
            let values = set.iter().filter_map(|l| if let Lit::Str(s) = l { Some(s.clone()) } else { None }).collect();
            vec![(path.display(), values)]
        }
        Expr::And(v) => v.iter().flat_map(required).collect(),
        Expr::Or(v) => {
            let sides: Vec<Vec<(String, Vec<String>)>> = v.iter().map(required).collect();
            let Some((first, rest)) = sides.split_first() else { return Vec::new() };
            first
                .iter()
                .filter_map(|(path, values)| {
                    let mut all = values.clone();
                    for side in rest {
                        let (_, more) = side.iter().find(|(p, _)| p == path)?;
                        all.extend(more.iter().cloned());
                    }
                    Some((path.clone(), all))
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// What a replay selects.
#[derive(Default)]
pub struct Selection {
    /// Records at or after this time (epoch milliseconds).
    pub from_ms: Option<i64>,
    /// Records before this time.
    pub to_ms: Option<i64>,
    /// Records decided by one of these rules (any when empty).
    pub rules: Vec<String>,
    /// Records archived for one of these reasons (any when empty).
    pub reasons: Vec<Reason>,
    /// Records matching this condition.
    pub filter: Option<Filter>,
}

impl Selection {
    /// The hours (since the Unix epoch) the time range covers, when it has both ends: the only `dt=/hour=`
    /// partitions to look in.
    pub fn hours(&self) -> Option<std::ops::RangeInclusive<i64>> {
        let (from, to) = (self.from_ms?, self.to_ms?);
        (to > from).then(|| from.div_euclid(3_600_000)..=(to - 1).div_euclid(3_600_000))
    }

    /// Whether an object with this index may hold a selected record (never false for one that does).
    pub fn may_match(&self, idx: &ObjectIndex) -> bool {
        if self.from_ms.is_some_and(|f| idx.time_max < f) || self.to_ms.is_some_and(|t| idx.time_min >= t) {
            return false;
        }
        if !self.rules.is_empty() && !self.rules.iter().any(|r| idx.rules.contains_key(r)) {
            return false;
        }
        if !self.reasons.is_empty() && !self.reasons.iter().any(|r| idx.reasons.contains_key(r.name())) {
            return false;
        }
        if let Some(f) = &self.filter {
            for (path, values) in &f.required {
                if let Some(set) = idx.fields.get(path)
                    && !values.iter().any(|v| set.may_contain(v))
                {
                    return false;
                }
            }
        }
        true
    }

    /// Whether an archived record is selected.
    pub fn matches(&mut self, line: &ArchivedLine<'_>) -> bool {
        if self.from_ms.is_some_and(|f| line.time < f) || self.to_ms.is_some_and(|t| line.time >= t) {
            return false;
        }
        if !self.rules.is_empty() && !self.rules.iter().any(|r| *r == line.rule) {
            return false;
        }
        if !self.reasons.is_empty() && !line.reason().is_some_and(|r| self.reasons.contains(&r)) {
            return false;
        }
        match &mut self.filter {
            Some(f) => f.matches(line),
            None => true,
        }
    }
}

