//! [`Decider`]: per-thread state that runs a compiled rule set over records.

use std::sync::Arc;

use crate::counters::{Counters, RuleCounters};
use crate::plan::{CAction, Cond, Plan};
use crate::record::view::{RecordKind, Value, View};
use crate::rules::ast::{CmpOp, Priority};

/// What happens to a record. A sampled record is kept or dropped; the deciding rule tells it was sampled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Send it on.
    Keep,
    /// Do not send it.
    Drop,
}

impl Action {
    /// `keep` or `drop`.
    pub fn name(self) -> &'static str {
        match self {
            Action::Keep => "keep",
            Action::Drop => "drop",
        }
    }
}

/// Which rule decided: an index into the rule set's rules, or the default action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(u16);

impl RuleId {
    /// The default action (no rule matched).
    pub const DEFAULT: RuleId = RuleId(u16::MAX);

    /// The rule's position in the file (0-based), or `None` for the default.
    pub fn index(self) -> Option<usize> {
        (self != RuleId::DEFAULT).then_some(self.0 as usize)
    }

    pub(crate) fn from_index(i: usize) -> RuleId {
        RuleId(i as u16)
    }
}

/// The outcome for one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Keep or drop.
    pub action: Action,
    /// The rule that matched first, or [`RuleId::DEFAULT`].
    pub rule: RuleId,
    /// The priority the rule gives kept records (the daily budget sheds low priorities first).
    pub priority: Priority,
}

/// Runs a rule set. One per thread or task: it owns reusable buffers and counters, so `decide` allocates
/// nothing once the buffers have grown to the largest record seen.
pub struct Decider {
    plan: Arc<Plan>,
    view: View,
    counters: Counters,
}

/// A string is compared as a number when it is exactly a JSON number (`"200"`, `"1.5e3"`; not `" 200"`, `"0x10"`).
pub fn json_number(s: &[u8]) -> Option<f64> {
    let mut i = 0;
    let n = s.len();
    if i < n && s[i] == b'-' {
        i += 1;
    }
    match s.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while i < n && s[i].is_ascii_digit() {
                i += 1;
            }
        }
        _ => return None,
    }
    if i < n && s[i] == b'.' {
        i += 1;
        let d = i;
        while i < n && s[i].is_ascii_digit() {
            i += 1;
        }
        if i == d {
            return None;
        }
    }
    if i < n && (s[i] == b'e' || s[i] == b'E') {
        i += 1;
        if i < n && (s[i] == b'+' || s[i] == b'-') {
            i += 1;
        }
        let d = i;
        while i < n && s[i].is_ascii_digit() {
            i += 1;
        }
        if i == d {
            return None;
        }
    }
    if i != n {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok().filter(|v: &f64| v.is_finite())
}

fn num(v: Value<'_>) -> Option<f64> {
    match v {
        Value::Num(n) => Some(n),
        Value::Str(s) => json_number(s),
        _ => None,
    }
}

fn cmp_num(a: f64, op: CmpOp, b: f64) -> bool {
    match op {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
    }
}

fn cmp_str(a: &[u8], op: CmpOp, b: &[u8]) -> bool {
    match op {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
    }
}

impl Decider {
    pub(crate) fn new(plan: Arc<Plan>) -> Decider {
        let view = View::new(&plan);
        let counters = Counters::new(plan.rules.len());
        Decider { plan, view, counters }
    }

    fn eval(&mut self, c: &Cond, input: &[u8]) -> bool {
        let plan = &*self.plan;
        let view = &mut self.view;
        eval(c, plan, view, input)
    }

    /// Decides one record (one JSON object or one text line, without its newline) and counts it.
    pub fn decide(&mut self, record: &[u8]) -> Decision {
        let d = self.decide_uncounted(record);
        self.counters.add(d, record.len() as u64, self.view.kind(&self.plan, record));
        d
    }

    /// Decides without touching the counters (for `explain` and tests).
    pub fn decide_uncounted(&mut self, record: &[u8]) -> Decision {
        self.view.reset();
        let plan = Arc::clone(&self.plan);
        for (i, rule) in plan.rules.iter().enumerate() {
            if !rule.prefilter.clauses.is_empty() && !self.view.has_u_escape(record) {
                let pass = rule.prefilter.clauses.iter().all(|cl| cl.iter().any(|f| f.find(record).is_some()));
                if !pass {
                    continue;
                }
            }
            if self.eval(&rule.cond, record) {
                let action = self.act(&rule.action, record);
                return Decision { action, rule: RuleId::from_index(i), priority: rule.priority };
            }
        }
        let action = self.act(&plan.default, record);
        Decision { action, rule: RuleId::DEFAULT, priority: plan.default_priority }
    }

    fn act(&mut self, a: &CAction, record: &[u8]) -> Action {
        match a {
            CAction::Keep => Action::Keep,
            CAction::Drop => Action::Drop,
            CAction::Sample { rate, key } => {
                let kept = match key.map(|k| self.view.get(&self.plan, record, k)) {
                    Some(Value::Str(s)) => rate.keeps(s),
                    // No usable key: the record itself is the key, so a re-sent record gets the same answer.
                    _ => rate.keeps(record),
                };
                if kept { Action::Keep } else { Action::Drop }
            }
        }
    }

    /// What the record looked like to the rules: its kind and the value of every field the rules read.
    pub fn fields_seen(&mut self, record: &[u8]) -> (RecordKind, Vec<(String, String)>) {
        self.view.reset();
        let plan = Arc::clone(&self.plan);
        let kind = self.view.kind(&plan, record);
        let fields = plan
            .seen
            .iter()
            .map(|(name, f)| (name.clone(), render(self.view.get(&plan, record, *f))))
            .collect();
        (kind, fields)
    }

    /// Counters since creation or the last [`Decider::take_counters`].
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Returns the counters and starts new ones (for periodic flushing).
    pub fn take_counters(&mut self) -> Counters {
        std::mem::replace(&mut self.counters, Counters::new(self.plan.rules.len()))
    }

    /// Counters of one rule.
    pub fn rule_counters(&self, rule: RuleId) -> &RuleCounters {
        self.counters.rule(rule)
    }
}

/// Renders a value for people: strings quoted as JSON, `(missing)` for absent fields.
pub fn render(v: Value<'_>) -> String {
    match v {
        Value::Missing => "(missing)".into(),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Num(n) => n.to_string(),
        Value::Str(s) => format!("{:?}", String::from_utf8_lossy(s)),
        Value::Container(s) => String::from_utf8_lossy(s).into_owned(),
    }
}

fn eval(c: &Cond, plan: &Plan, view: &mut View, input: &[u8]) -> bool {
    macro_rules! get {
        ($f:expr) => {
            view.get(plan, input, $f)
        };
    }
    match c {
        Cond::True => true,
        Cond::False => false,
        Cond::Num { f, op, n } => num(get!(*f)).is_some_and(|v| cmp_num(v, *op, *n)),
        Cond::Str { f, op, s } => matches!(get!(*f), Value::Str(v) if cmp_str(v, *op, s)),
        Cond::Bool { f, b } => get!(*f) == Value::Bool(*b),
        Cond::Null { f } => get!(*f) == Value::Null,
        Cond::Range { f, lo, hi } => num(get!(*f)).is_some_and(|v| *lo <= v && v <= *hi),
        Cond::Set { f, nums, strs, bools, null } => match get!(*f) {
            Value::Str(s) => strs.iter().any(|x| **x == *s) || json_number(s).is_some_and(|v| nums.contains(&v)),
            Value::Num(v) => nums.contains(&v),
            Value::Bool(b) => bools[usize::from(b)],
            Value::Null => *null,
            _ => false,
        },
        Cond::StartsWith { f, s } => matches!(get!(*f), Value::Str(v) if v.starts_with(s)),
        Cond::EndsWith { f, s } => matches!(get!(*f), Value::Str(v) if v.ends_with(s)),
        Cond::Contains { f, finder } => matches!(get!(*f), Value::Str(v) if finder.find(v).is_some()),
        Cond::Regex { f, re } => matches!(get!(*f), Value::Str(v) if re.is_match(v)),
        Cond::Exists { f } => get!(*f) != Value::Missing,
        Cond::Not(c) => !eval(c, plan, view, input),
        Cond::And(v) => v.iter().all(|c| eval(c, plan, view, input)),
        Cond::Or(v) => v.iter().any(|c| eval(c, plan, view, input)),
    }
}
