//! [`Decider`]: per-thread state that runs a compiled rule set over records.

use std::sync::Arc;

use crate::counters::{Counters, RuleCounters};
use crate::plan::{CAction, Cond, FieldRef, Plan};
use crate::record::json::escaped_len;
use crate::record::parts::{Members, Parts};
use crate::record::view::{RecordKind, Value, View};
use crate::rules::ast::{CmpOp, Priority};
use crate::trim::{RateField, Trimmer};

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

/// A kept record as it is sent ([`Decider::trim_measured`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trimmed<'a> {
    /// The bytes to send: the record itself when nothing changed.
    pub bytes: &'a [u8],
    /// Bytes `trim:` removed.
    pub trimmed: u64,
    /// Bytes added (the `sample_rate_field` member).
    pub added: u64,
}

/// Runs a rule set. One per thread or task: it owns reusable buffers and counters, so `decide` allocates
/// nothing once the buffers have grown to the largest record seen.
pub struct Decider {
    plan: Arc<Plan>,
    view: View,
    counters: Counters,
    /// Buffers for [`Decider::trim`].
    trimmer: Trimmer,
    /// Address and length of the record `view` holds, so [`Decider::trim`] and the summarizer reuse what
    /// `decide` read instead of reading it again.
    last: (usize, usize),
    /// The record given as parts that `view` holds, if it holds one.
    held: Held,
    /// The JSON text of a record given as parts, when something needs it (`_raw`, keyless sampling,
    /// trimming that templates cannot do).
    parts_json: Vec<u8>,
    /// How rules trim the records of one [`Members`], found once ([`Decider::write_kept`]).
    templates: Vec<Template>,
    /// Where the last template used is in `templates`.
    last_template: usize,
}

/// Which record given as parts the [`View`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Held {
    /// None: the view holds a JSON record, or nothing.
    Nothing,
    /// The parts `id`, read from the parts; `len` is their JSON length.
    Parts { id: PartsId, len: u64 },
    /// The parts `id`, read through their JSON text in `parts_json` (the rules read `_raw`).
    Json { id: PartsId },
}

/// Which parts a view holds: where each string is and how long, and the members' identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PartsId {
    log: (usize, usize),
    time: Option<(usize, usize)>,
    stream: Option<(usize, usize)>,
    members: u64,
}

impl PartsId {
    fn of(p: &Parts<'_>) -> PartsId {
        let at = |s: &str| (s.as_ptr() as usize, s.len());
        PartsId { log: at(p.log), time: p.time.map(at), stream: p.stream.map(at), members: p.members.id() }
    }
}

/// A record given as parts, or as JSON text, for reading its fields.
#[derive(Clone, Copy)]
pub(crate) enum Rec<'r> {
    Json(&'r [u8]),
    Parts(&'r Parts<'r>),
}

/// How a rule trims a record of given [`Members`]: the trimmer run once over `{"time":"","stream":"",
/// "log":""` and the members. It cuts and adds by key and shortens strings by length, so as long as the
/// three parts are kept and too short for any truncation, a record's trimmed text is its parts followed
/// by the template's trimmed members.
#[derive(Debug)]
struct Template {
    members: u64,
    rule: RuleId,
    /// What follows `log` once trimmed; `None` when the trim touches a part (every record is trimmed whole).
    tail: Option<Box<[u8]>>,
    /// Whether trimming changes anything (else the record is sent as it is, and nothing is counted).
    changed: bool,
    added: u64,
    /// The longest escaped time, stream and log no truncation applies to.
    limits: [usize; 3],
}

/// The parts of the trimming template: the record's own members, empty.
const TEMPLATE_HEAD: &[u8] = br#"{"time":"","stream":"","log":"""#;

/// Templates kept at most (files times rules that trim); past it they are found again.
const MAX_TEMPLATES: usize = 256;

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
        Decider {
            plan,
            view,
            counters,
            trimmer: Trimmer::default(),
            last: (0, 0),
            held: Held::Nothing,
            parts_json: Vec::new(),
            templates: Vec::new(),
            last_template: 0,
        }
    }

    pub(crate) fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    /// Points the view at `record`, forgetting what it held unless it already holds `record`.
    fn sync(&mut self, record: &[u8]) {
        let id = (record.as_ptr() as usize, record.len());
        if self.last != id {
            self.view.reset();
            self.held = Held::Nothing;
            self.last = id;
        }
    }

    /// Points the view at the record `p`, unless it already holds it (it was just decided).
    fn sync_parts(&mut self, p: &Parts<'_>) {
        let id = PartsId::of(p);
        match self.held {
            Held::Parts { id: held, .. } | Held::Json { id: held } if held == id => {}
            _ => self.load_parts(p),
        }
    }

    /// Makes `p` the record the view holds, read from its parts or, when the rules read `_raw`, from its
    /// JSON text.
    fn load_parts(&mut self, p: &Parts<'_>) {
        let id = PartsId::of(p);
        if self.plan.reads_raw {
            self.parts_json.clear();
            p.write_json(&mut self.parts_json);
            self.view.reset();
            self.last = (self.parts_json.as_ptr() as usize, self.parts_json.len());
            self.held = Held::Json { id };
        } else {
            self.view.load_parts(&self.plan, p);
            // No JSON record is held: the next one is read afresh.
            self.last = (0, usize::MAX);
            self.held = Held::Parts { id, len: p.json_len() as u64 };
        }
    }

    /// Makes `rec` the record the view holds, unless it already does (it was just decided), for
    /// [`Decider::held_value`].
    pub(crate) fn hold(&mut self, rec: Rec<'_>) {
        match rec {
            Rec::Json(record) => self.sync(record),
            Rec::Parts(p) => self.sync_parts(p),
        }
    }

    /// A field of `rec`, which the last [`Decider::hold`] made the held record. PERF: for several
    /// fields of one record (a summary's), without comparing the record's identity each time.
    pub(crate) fn held_value<'a>(&'a mut self, rec: Rec<'a>, f: FieldRef) -> Value<'a> {
        let Decider { view, plan, parts_json, held, .. } = self;
        let input = match rec {
            Rec::Json(record) => record,
            Rec::Parts(_) if matches!(held, Held::Json { .. }) => &parts_json[..],
            Rec::Parts(p) => p.log.as_bytes(),
        };
        view.get(plan, input, f)
    }

    /// The JSON length of `p` ([`Parts::json_len`]), known once it is decided.
    pub(crate) fn parts_len(&mut self, p: &Parts<'_>) -> u64 {
        self.sync_parts(p);
        self.held_len()
    }

    /// The JSON length of the record given as parts that the view holds.
    fn held_len(&self) -> u64 {
        match self.held {
            Held::Parts { len, .. } => len,
            _ => self.parts_json.len() as u64,
        }
    }


    /// The bytes to send for `record`, which `decision` keeps: the rule set's `trim:` (and the deciding
    /// rule's) applied, and, for a record kept by a sample rule, the `sample_rate_field` member added. Call
    /// it right after deciding `record`. Borrows `record` when nothing changes (always, for rule sets
    /// without `trim:` or `sample_rate_field:`), so it costs nothing then. Counts the bytes trimmed and
    /// added in the deciding rule's counters. A dropped record is returned as it is.
    pub fn trim<'a>(&'a mut self, record: &'a [u8], decision: Decision) -> &'a [u8] {
        self.trim_measured(record, decision).bytes
    }

    /// [`Decider::trim`], also saying how many bytes were cut and added (front-ends with counters of
    /// their own, like the Lambda's, use it).
    pub fn trim_measured<'a>(&'a mut self, record: &'a [u8], decision: Decision) -> Trimmed<'a> {
        let unchanged = Trimmed { bytes: record, trimmed: 0, added: 0 };
        if decision.action != Action::Keep {
            return unchanged;
        }
        let x = self.plan.extras(decision.rule);
        if x.trim.is_none() && x.rate.is_none() {
            return unchanged;
        }
        self.sync(record);
        let kind = self.view.kind(&self.plan, record);
        let Decider { plan, trimmer, counters, view, .. } = self;
        let x = plan.extras(decision.rule);
        let changed = match kind {
            RecordKind::Json => {
                let rate = x.rate.zip(plan.sample_rate_field.as_deref()).map(|(rate, key)| RateField { key, rate });
                trimmer.apply_indexed(record, view.tokens(), x.trim.as_deref(), rate).is_some()
            }
            // A text line has no fields to cut or add; only a `log` truncation applies to it.
            RecordKind::Text | RecordKind::InvalidJson => x.trim.as_deref().is_some_and(|t| trimmer.apply_text(record, t).is_some()),
        };
        if !changed {
            return unchanged;
        }
        let added = trimmer.added_bytes() as u64;
        let out = trimmer.output();
        let trimmed = (record.len() as u64 + added).saturating_sub(out.len() as u64);
        counters.trimmed(decision.rule, trimmed, added);
        Trimmed { bytes: out, trimmed, added }
    }

    /// A summarizer for the records this decider drops (the same as [`crate::RuleSet::summarizer`]).
    pub fn summarizer(&self) -> crate::Summarizer {
        crate::Summarizer::new(Arc::clone(&self.plan))
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
        self.held = Held::Nothing;
        self.last = (record.as_ptr() as usize, record.len());
        self.run(record, None)
    }

    /// Decides the record `p` exactly as [`Decider::decide`] decides its JSON text ([`Parts::write_json`]):
    /// the same action, rule, priority and counters, without writing the text unless the rules need it
    /// (they read `_raw`, or sample by the whole record). The members are read once for all the records
    /// that share them.
    pub fn decide_parts(&mut self, p: &Parts<'_>) -> Decision {
        self.load_parts(p);
        let d = match self.held {
            Held::Json { .. } => {
                let json = std::mem::take(&mut self.parts_json);
                let d = self.run(&json, None);
                self.parts_json = json;
                d
            }
            _ => self.run(p.log.as_bytes(), Some(p)),
        };
        self.counters.add(d, self.held_len(), RecordKind::Json);
        d
    }

    /// The rules over the record the view holds: `input` is its text, or the `log` of `parts`.
    fn run(&mut self, input: &[u8], parts: Option<&Parts<'_>>) -> Decision {
        let plan = Arc::clone(&self.plan);
        for (i, rule) in plan.rules.iter().enumerate() {
            // Prefilters search the JSON text, which a record given as parts does not have; they only
            // skip rules that cannot match, so going without them changes no decision.
            if parts.is_none() && !rule.prefilter.clauses.is_empty() && !self.view.has_u_escape(input) {
                let pass = rule.prefilter.clauses.iter().all(|cl| cl.iter().any(|f| f.find(input).is_some()));
                if !pass {
                    continue;
                }
            }
            if self.eval(&rule.cond, input) {
                let action = self.act(&rule.action, input, parts);
                return Decision { action, rule: RuleId::from_index(i), priority: rule.priority };
            }
        }
        let action = self.act(&plan.default, input, parts);
        Decision { action, rule: RuleId::DEFAULT, priority: plan.default_priority }
    }

    fn act(&mut self, a: &CAction, input: &[u8], parts: Option<&Parts<'_>>) -> Action {
        match a {
            CAction::Keep => Action::Keep,
            CAction::Drop => Action::Drop,
            CAction::Sample { rate, key } => {
                let kept = match key.map(|k| self.view.get(&self.plan, input, k)) {
                    Some(Value::Str(s)) => rate.keeps(s),
                    // No usable key: the record itself is the key, so a re-sent record gets the same answer.
                    _ => match parts {
                        None => rate.keeps(input),
                        Some(p) => {
                            self.parts_json.clear();
                            p.write_json(&mut self.parts_json);
                            rate.keeps(&self.parts_json)
                        }
                    },
                };
                if kept { Action::Keep } else { Action::Drop }
            }
        }
    }

    /// Appends the JSON text of `p`, which `decision` decided, as [`Decider::trim`] returns it for that
    /// text: trimmed and tagged with its sample rate when kept, and counted the same way. How a rule trims
    /// the records of given members is found once; the trimmed members then follow the parts.
    pub fn write_kept(&mut self, p: &Parts<'_>, decision: Decision, out: &mut Vec<u8>) {
        let x = self.plan.extras(decision.rule);
        if decision.action != Action::Keep || (x.trim.is_none() && x.rate.is_none()) {
            p.write_json(out);
            return;
        }
        if p.is_full() && !self.plan.reads_raw {
            let t = self.template(p.members, decision.rule);
            // A string is escaped to at most 6 bytes a byte: most are then known short without counting.
            let fits = |v: &str, limit: usize| v.len().saturating_mul(6) <= limit || escaped_len(v.as_bytes()) <= limit;
            let [lt, ls, ll] = t.limits;
            if let Some(tail) = &t.tail
                && p.time.is_some_and(|v| fits(v, lt))
                && p.stream.is_some_and(|v| fits(v, ls))
                && fits(p.log, ll)
            {
                let (changed, added) = (t.changed, t.added);
                let start = out.len();
                p.write_head(out);
                out.extend_from_slice(tail);
                if changed {
                    let len = self.parts_len(p);
                    let trimmed = (len + added).saturating_sub((out.len() - start) as u64);
                    self.counters.trimmed(decision.rule, trimmed, added);
                }
                return;
            }
        }
        // Anything else is trimmed as its JSON text.
        self.sync_parts(p);
        let mut json = std::mem::take(&mut self.parts_json);
        if !matches!(self.held, Held::Json { .. }) {
            json.clear();
            p.write_json(&mut json);
        }
        out.extend_from_slice(self.trim(&json, decision));
        self.parts_json = json;
    }

    /// How rule `rule` trims records of `members`, found on first use.
    fn template(&mut self, members: &Members, rule: RuleId) -> &Template {
        // Lines come in runs from one file, often decided by one rule: look where the last one was first.
        let found = |t: &Template| t.members == members.id() && t.rule == rule;
        if self.templates.get(self.last_template).is_some_and(found) {
            return &self.templates[self.last_template];
        }
        if let Some(i) = self.templates.iter().position(found) {
            self.last_template = i;
            return &self.templates[i];
        }
        if self.templates.len() >= MAX_TEMPLATES {
            self.templates.clear();
        }
        let plan = &self.plan;
        let x = plan.extras(rule);
        let rate = x.rate.zip(plan.sample_rate_field.as_deref()).map(|(rate, key)| RateField { key, rate });
        let mut record = TEMPLATE_HEAD.to_vec();
        record.extend_from_slice(members.tail());
        let (tail, changed) = match self.trimmer.apply(&record, x.trim.as_deref(), rate) {
            None => (Some(members.tail().into()), false),
            Some(out) => (out.strip_prefix(TEMPLATE_HEAD).map(Into::into), true),
        };
        let limit = |key: &[u8]| x.trim.as_deref().and_then(|t| t.top_limit(key)).unwrap_or(usize::MAX);
        self.templates.push(Template {
            members: members.id(),
            rule,
            tail,
            changed,
            added: self.trimmer.added_bytes() as u64,
            limits: [limit(b"time"), limit(b"stream"), limit(b"log")],
        });
        self.last_template = self.templates.len() - 1;
        &self.templates[self.templates.len() - 1]
    }

    /// What the record looked like to the rules: its kind and the value of every field the rules read.
    pub fn fields_seen(&mut self, record: &[u8]) -> (RecordKind, Vec<(String, String)>) {
        self.view.reset();
        self.held = Held::Nothing;
        self.last = (record.as_ptr() as usize, record.len());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RuleSet;

    /// Decides `record` with a one-rule set `when: <cond>`; true when that rule matched.
    fn holds(cond: &str, record: &str) -> bool {
        let yaml = format!("parse:\n  log: [access, json]\nrules:\n  - name: r\n    when: '{}'\n    action: drop\n", cond.replace('\'', "''"));
        let rules = RuleSet::from_yaml("t.yaml", &yaml).unwrap_or_else(|e| panic!("{e}"));
        let d = rules.decider().decide(record.as_bytes());
        d.rule == RuleId::from_index(0)
    }

    #[test]
    fn missing_fields_make_every_comparison_false_except_not_equal() {
        let r = r#"{"a":1}"#;
        for c in ["b == 5", "b > 5", "b < 5", "b in [5, \"x\"]", "b in 1..9", "b starts_with \"x\"", "b matches \".\"", "exists(b)", "b == null"] {
            assert!(!holds(c, r), "{c}");
        }
        assert!(holds("b != 5", r));
        assert!(holds("not exists(b)", r));
        assert!(!holds("exists(b) and b != 5", r));
    }

    #[test]
    fn numbers_compare_with_numbers_and_json_number_strings_only() {
        assert!(holds("s == 200", r#"{"s":200}"#));
        assert!(holds("s == 200", r#"{"s":"200"}"#));
        assert!(holds("s >= 1.5", r#"{"s":"1.5e3"}"#));
        assert!(holds("s in 200..299", r#"{"s":"204"}"#));
        for v in [r#"" 200""#, r#""0x10""#, r#""NaN""#, r#""200 ""#, "true", "null", "[200]", r#"{"x":200}"#] {
            assert!(!holds("s == 200", &format!(r#"{{"s":{v}}}"#)), "{v}");
            assert!(!holds("s in 0..1000", &format!(r#"{{"s":{v}}}"#)), "{v}");
        }
        // A number never equals a string.
        assert!(!holds(r#"s == "200""#, r#"{"s":200}"#));
        assert!(holds(r#"s == "200""#, r#"{"s":"200"}"#));
    }

    #[test]
    fn strings_booleans_null_and_containers() {
        let r = r#"{"s":"kube-probe/1.31","t":true,"n":null,"o":{"k":"v"},"a":[1]}"#;
        assert!(holds(r#"s starts_with "kube-probe/""#, r));
        assert!(holds(r#"s ends_with "1.31""#, r));
        assert!(holds(r#"s contains "probe""#, r));
        assert!(holds(r#"s matches "^kube-probe/\d""#, r));
        assert!(holds(r#"s > "kube""#, r), "byte-wise order");
        assert!(holds("t == true", r) && !holds("t == false", r) && !holds("t == 1", r));
        assert!(holds("n == null", r) && holds("exists(n)", r) && !holds(r#"n == "null""#, r));
        assert!(holds("exists(o)", r) && holds("exists(a)", r) && holds(r#"o.k == "v""#, r));
        assert!(!holds(r#"o == "v""#, r) && !holds("a == 1", r), "containers only satisfy exists");
        assert!(!holds(r#"t contains "t""#, r), "string operators need strings");
    }

    #[test]
    fn escapes_duplicates_and_unicode() {
        // Last duplicate wins, as in serde_json.
        assert!(holds("k == 2", r#"{"k":1,"k":2}"#));
        assert!(!holds("k == 1", r#"{"k":1,"k":2}"#));
        // Escaped values are compared decoded, also when the literal could only match through an escape.
        assert!(holds(r#"m == "say \"hi\"""#, r#"{"m":"say \"hi\""}"#));
        assert!(holds(r#"m == "café""#, r#"{"m":"caf\u00e9"}"#));
        assert!(holds(r#"m contains "probe""#, r#"{"m":"kube-\u0070robe"}"#));
        assert!(holds(r#"m == "x""#, r#"{"\u006d":"x"}"#), "escaped keys");
    }

    #[test]
    fn text_and_invalid_json_records_are_the_log_field() {
        assert!(holds("log.status == 503", r#"1.2.3.4 - - [22/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 503 0 "-" "c""#));
        assert!(holds(r#"log contains "broken""#, r#"{"log":"broken"#));
        // Latin-1 `é` inside a JSON string: invalid UTF-8, so the whole record is the `log` field.
        let rules = RuleSet::from_yaml("t.yaml", "rules:\n  - name: r\n    when: 'log starts_with \"{\\\"log\"'\n    action: drop\n").unwrap();
        assert_eq!(rules.decider().decide(b"{\"log\":\"caf\xe9\"}").rule, RuleId::from_index(0));
        let rules = RuleSet::from_yaml("t.yaml", "rules: []\n").unwrap();
        let mut d = rules.decider();
        d.decide(b"{\"a\":1}");
        d.decide(b"{\"a\":\xff}");
        d.decide(b"plain");
        let c = d.counters();
        assert_eq!((c.json, c.invalid_json, c.text), (1, 1, 1));
    }

    #[test]
    fn first_match_wins_and_counters_add_up() {
        let rules = RuleSet::from_yaml(
            "t.yaml",
            "rules:\n  - name: a\n    when: x >= 5\n    action: keep\n    priority: high\n  - name: b\n    when: x >= 1\n    action: drop\n",
        )
        .unwrap();
        let mut d = rules.decider();
        let recs: [&[u8]; 4] = [br#"{"x":7}"#, br#"{"x":2}"#, br#"{"x":0}"#, br#"{"x":9,"y":1}"#];
        let got: Vec<Decision> = recs.iter().map(|r| d.decide(r)).collect();
        assert_eq!(got[0], Decision { action: Action::Keep, rule: RuleId::from_index(0), priority: Priority::High });
        assert_eq!(got[1].rule, RuleId::from_index(1));
        assert_eq!(got[1].action, Action::Drop);
        assert_eq!(got[2].rule, RuleId::DEFAULT);
        let a = d.rule_counters(RuleId::from_index(0));
        assert_eq!((a.matched, a.kept, a.dropped), (2, 2, 0));
        assert_eq!(a.matched_bytes, (recs[0].len() + recs[3].len()) as u64);
        let t = d.counters().total();
        assert_eq!(t.matched, 4);
        assert_eq!(t.matched_bytes, recs.iter().map(|r| r.len() as u64).sum::<u64>());
        assert_eq!(t.kept_bytes + t.dropped_bytes, t.matched_bytes);
        let taken = d.take_counters();
        assert_eq!(taken.total().matched, 4);
        assert_eq!(d.counters().total().matched, 0);
    }

    #[test]
    fn sampling_is_consistent_by_key_and_deterministic_without() {
        let rules = RuleSet::from_yaml(
            "t.yaml",
            "rules:\n  - name: s\n    action: sample\n    rate: 1%\n    key: id\n",
        )
        .unwrap();
        let mut d = rules.decider();
        // req-73 is kept at 1% and req-0 is not (vectors in sample.rs), whatever else the record holds.
        assert_eq!(d.decide(br#"{"id":"req-73","x":1}"#).action, Action::Keep);
        assert_eq!(d.decide(br#"{"x":2,"id":"req-73"}"#).action, Action::Keep);
        assert_eq!(d.decide(br#"{"id":"req-0"}"#).action, Action::Drop);
        assert_eq!(d.decide(br#"{"id":"req-73"}"#).priority, Priority::Low);
        // Without a usable key the record is the key: the same record always gets the same answer.
        let rec = br#"{"id":42}"#;
        let first = d.decide(rec).action;
        assert!((0..10).all(|_| d.decide(rec).action == first));
        assert_eq!(first == Action::Keep, crate::SampleRate::new(0.01).unwrap().keeps(rec));
    }

    #[test]
    fn json_number_is_strict() {
        for ok in ["0", "-0", "200", "1.5", "1e3", "-2.5E-3"] {
            assert!(json_number(ok.as_bytes()).is_some(), "{ok}");
        }
        for bad in ["", "-", "01", "1.", ".5", "+1", " 1", "1 ", "0x10", "NaN", "inf", "1e", "1e400"] {
            assert_eq!(json_number(bad.as_bytes()), None, "{bad}");
        }
    }
}
