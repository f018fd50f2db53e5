//! YAML rule file → [`RuleFile`] AST, with every mistake reported at its file position.
//!
//! [`super::yaml`] turns the text into a tree of positioned nodes (or one YAML syntax error); the reader
//! here checks its structure (keys, kinds of values) and the checks after it the meaning (action names,
//! rates, expressions), each collecting every mistake it finds.

use std::cell::Cell;
use std::collections::BTreeMap;

use super::ast::{Expr, Path};
use crate::primitives::Priority;
use super::expr;
use super::yaml::{self, Kind, Loc as Location, Node};
use crate::budget::{BudgetSpec, LicenseZone, parse_share, parse_size, policy};
use crate::diag::{Diagnostic, LineIndex, Pos, did_you_mean};
use crate::primitives::Action;
use crate::run::sample::SampleRate;
use crate::run::summary::{DEFAULT_EVERY_SECS, DEFAULT_MAX_GROUPS, SummarizeSpec};
use crate::run::trim::{MIN_TRUNCATE, TrimSpec};
use crate::archive::spec::{ArchiveSpec, DEFAULT_GZIP_LEVEL, DEFAULT_OBJECT_BYTES, Reason};

/// A whole rule file.
#[derive(Clone, Debug)]
pub struct RuleFile {
    /// `name:`, for reports and metrics.
    pub name: Option<String>,
    /// Which string fields to parse further, and how.
    pub parse: Vec<ParseSpec>,
    /// Rules in evaluation order.
    pub rules: Vec<Rule>,
    /// What happens to a record no rule matches.
    pub default: ActionSpec,
    /// Embedded examples run by `logtrim test`.
    pub tests: Vec<Example>,
    /// The daily byte budget (`budget:`), if the file has one.
    pub budget: Option<BudgetSpec>,
    /// `trim:`: what to cut from every kept record.
    pub trim: Option<TrimSpec>,
    /// `sample_rate_field:`: the top-level key that carries a sampled record's rate.
    pub sample_rate_field: Option<String>,
    /// `archive:`: what an archive of the records that are not sent holds, and how it is laid out.
    pub archive: Option<ArchiveSpec>,
}

/// `parse: { log: [access, app] }`: parse field `log` with the first parser that recognises it.
#[derive(Clone, Debug)]
pub struct ParseSpec {
    /// The string field to parse.
    pub field: Path,
    /// Parser names in the order they are tried, with their positions.
    pub parsers: Vec<(String, Pos)>,
}

/// One rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Unique name, used in reports, metrics and decisions.
    pub name: String,
    /// Where the name is written.
    pub name_pos: Pos,
    /// The condition; `Expr::True` when `when:` is absent.
    pub when: Expr,
    /// What to do with matching records.
    pub action: ActionSpec,
    /// `trim:` for the records this rule keeps, on top of the rule set's.
    pub trim: Option<TrimSpec>,
}

/// What to do with a record.
#[derive(Clone, Debug)]
pub struct ActionSpec {
    /// Keep, drop or sample.
    pub kind: ActionKind,
    /// The priority of kept records (for the daily budget).
    pub priority: Priority,
    /// `summarize:`: count what a drop or sample rule drops, per group and interval.
    pub summarize: Option<SummarizeSpec>,
}

/// The three actions.
#[derive(Clone, Debug)]
pub enum ActionKind {
    /// Keep every matching record.
    Keep,
    /// Drop every matching record.
    Drop,
    /// Keep a share of matching records, decided by a stable hash.
    Sample {
        /// Share kept.
        rate: SampleRate,
        /// Field whose value is hashed (request id, trace id); the whole record when absent or missing.
        key: Option<Path>,
    },
}

/// An embedded test: a record and the decision it must get.
#[derive(Clone, Debug)]
pub struct Example {
    /// Optional label shown in failures.
    pub name: Option<String>,
    /// Where the test is written.
    pub pos: Pos,
    /// The record bytes (a YAML mapping is serialised to JSON; a string is used as-is).
    pub record: Vec<u8>,
    /// Expected action.
    pub action: Action,
    /// Expected deciding rule name (`default` for the default action), if given.
    pub rule: Option<String>,
    /// Expected priority, if given.
    pub priority: Option<Priority>,
}

// ---- the YAML shape ------------------------------------------------------------------------------
//
// The tree from `yaml::parse` is read into these by `Reader`, which reports every unknown, repeated or
// missing key and every value of the wrong kind, and drops the rule (or section) it is in, so that the
// checks after it only see well-formed parts.

/// A value and where it is written.
struct Spanned<T> {
    value: T,
    referenced: Location,
}

struct FileDoc {
    name: Option<String>,
    /// By field, in the order of the field's text.
    parse: Vec<(Spanned<String>, Spanned<OneOrMany>)>,
    rules: Vec<Spanned<RuleDoc>>,
    default: Option<Spanned<ActionDoc>>,
    tests: Vec<Spanned<TestDoc>>,
    budget: Option<Spanned<BudgetDoc>>,
    trim: Option<Spanned<TrimDoc>>,
    sample_rate_field: Option<Spanned<String>>,
    archive: Option<Spanned<ArchiveDoc>>,
}

struct ArchiveDoc {
    include: Option<Vec<Spanned<String>>>,
    partition: Option<Vec<Spanned<String>>>,
    index: Option<Vec<Spanned<String>>>,
    object_size: Option<Spanned<SizeDoc>>,
    gzip_level: Option<Spanned<u64>>,
}

struct TrimDoc {
    remove: Vec<Spanned<String>>,
    truncate: Vec<(Spanned<String>, Spanned<SizeDoc>)>,
}

struct SummarizeDoc {
    by: Vec<Spanned<NamedPathDoc>>,
    sum: Vec<Spanned<NamedPathDoc>>,
    every: Option<Spanned<DurationDoc>>,
    max_groups: Option<Spanned<u64>>,
    priority: Option<Spanned<String>>,
}

/// `path`, or `{name: path}` to name it in the summary.
enum NamedPathDoc {
    Path(String),
    Named(BTreeMap<String, String>),
}

enum DurationDoc {
    Secs(u64),
    Text(String),
}

struct BudgetDoc {
    name: Option<String>,
    limit: Option<Spanned<SizeDoc>>,
    time_zone: Option<Spanned<String>>,
    shed: Vec<(Spanned<String>, Spanned<RateDoc>)>,
    pacing: Option<bool>,
    chunk: Option<Spanned<SizeDoc>>,
    fallback_share: Option<Spanned<RateDoc>>,
}

enum SizeDoc {
    Num(u64),
    Text(String),
}

enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

enum WhenDoc {
    Bool(bool),
    Expr(String),
}

enum RateDoc {
    Num(f64),
    Text(String),
}

struct RuleDoc {
    name: Spanned<String>,
    when: Option<Spanned<WhenDoc>>,
    action: Spanned<String>,
    priority: Option<Spanned<String>>,
    rate: Option<Spanned<RateDoc>>,
    key: Option<Spanned<String>>,
    summarize: Option<Spanned<SummarizeDoc>>,
    trim: Option<Spanned<TrimDoc>>,
}

struct ActionDoc {
    action: Spanned<String>,
    priority: Option<Spanned<String>>,
    rate: Option<Spanned<RateDoc>>,
    key: Option<Spanned<String>>,
    summarize: Option<Spanned<SummarizeDoc>>,
}

struct TestDoc {
    name: Option<String>,
    record: serde_json::Value,
    expect: Spanned<ExpectDoc>,
}

enum ExpectDoc {
    Action(String),
    Full { action: String, rule: Option<String>, priority: Option<String> },
}

const FILE_KEYS: &[&str] = &["name", "description", "parse", "rules", "default", "tests", "budget", "trim", "sample_rate_field", "archive"];
const ARCHIVE_KEYS: &[&str] = &["include", "partition", "index", "object_size", "gzip_level"];
const RULE_KEYS: &[&str] = &["name", "description", "when", "action", "priority", "rate", "key", "summarize", "trim"];
const DEFAULT_KEYS: &[&str] = &["action", "priority", "rate", "key", "summarize"];
const TRIM_KEYS: &[&str] = &["remove", "truncate"];
const SUMMARIZE_KEYS: &[&str] = &["by", "sum", "every", "max_groups", "priority"];
const BUDGET_KEYS: &[&str] = &["name", "limit", "time_zone", "shed", "pacing", "chunk", "fallback_share"];
const TEST_KEYS: &[&str] = &["name", "record", "expect"];
const EXPECT_KEYS: &[&str] = &["action", "rule", "priority"];

/// A mapping's entries once its keys are checked: each known key once, with its value.
struct Entries<'n> {
    node: &'n Node,
    entries: Vec<(&'n str, &'n Node, &'n Node)>,
}

impl<'n> Entries<'n> {
    /// The value of `key`, if written and not empty (`key:` alone, or `null`).
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries.iter().find(|(k, _, v)| *k == key && v.kind != Kind::Null).map(|e| e.2)
    }
}

/// Reads the YAML tree into the shapes above, collecting every structural mistake.
struct Reader<'s> {
    src: &'s str,
    errs: Vec<Diagnostic>,
}

fn spanned<T>(value: T, n: &Node) -> Spanned<T> {
    Spanned { value, referenced: n.at }
}

impl Reader<'_> {
    fn wrong(&mut self, n: &Node, what: &str, expected: &str, hint: impl Into<String>) {
        self.errs.push(Diagnostic::new(n.at.pos(), format!("{what} must be {expected}, found {}", n.describe(self.src))).hint(hint));
    }

    /// The entries of mapping `n`, reporting keys `section` does not accept and keys written twice.
    /// `None`, reported, if `n` is not a mapping.
    fn map<'n>(&mut self, n: &'n Node, section: &str, accepts: &[&str], hint: &str) -> Option<Entries<'n>> {
        let Kind::Map(m) = &n.kind else {
            self.wrong(n, section, "a mapping", hint);
            return None;
        };
        let mut entries: Vec<(&'n str, &'n Node, &'n Node)> = Vec::new();
        for (k, v) in m {
            let Kind::Str(key) = &k.kind else {
                self.wrong(k, &format!("a key in {section}"), "a name", format!("{section} accepts: {}", accepts.join(", ")));
                continue;
            };
            if !accepts.contains(&key.as_str()) {
                let d = Diagnostic::new(k.at.pos(), format!("unknown key {key:?} in {section}")).len(key.chars().count());
                let list = format!("{section} accepts: {}", accepts.join(", "));
                self.errs.push(match did_you_mean(key, accepts.iter().copied()) {
                    Some(s) => d.hint(format!("did you mean {s:?}? {list}")),
                    None => d.hint(list),
                });
                continue;
            }
            if let Some((_, first, _)) = entries.iter().find(|(e, _, _)| e == key) {
                self.errs.push(
                    Diagnostic::new(k.at.pos(), format!("duplicate key {key:?} in {section}"))
                        .len(key.chars().count())
                        .hint(format!("first written at line {}; each key may appear once per mapping", first.at.line)),
                );
                continue;
            }
            entries.push((key, k, v));
        }
        Some(Entries { node: n, entries })
    }

    /// Each entry of a mapping whose keys are the user's (field names, priorities), in file order.
    fn pairs<'n>(&mut self, n: &'n Node, what: &str, hint: &str) -> Vec<(Spanned<String>, &'n Node)> {
        let Kind::Map(m) = &n.kind else {
            self.wrong(n, what, "a mapping", hint);
            return Vec::new();
        };
        let mut out: Vec<(Spanned<String>, &'n Node)> = Vec::new();
        for (k, v) in m {
            let Some(key) = k.text(self.src) else {
                self.wrong(k, &format!("a key in {what}"), "a name", hint);
                continue;
            };
            if let Some((first, _)) = out.iter().find(|(e, _)| e.value == key) {
                let line = first.referenced.line;
                self.errs.push(
                    Diagnostic::new(k.at.pos(), format!("duplicate key {key:?} in {what}"))
                        .len(key.chars().count())
                        .hint(format!("first written at line {line}; each key may appear once per mapping")),
                );
                continue;
            }
            out.push((spanned(key, k), v));
        }
        out
    }

    fn missing(&mut self, e: &Entries, section: &str, key: &str, hint: &str) {
        let article = if key.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
        self.errs.push(Diagnostic::new(e.node.at.pos(), format!("{section} needs {article} `{key}`")).hint(hint));
    }

    /// A scalar as text (a number or `true` as written); lists and mappings are reported.
    fn text(&mut self, n: &Node, what: &str, hint: &str) -> Option<Spanned<String>> {
        match n.text(self.src) {
            Some(t) => Some(spanned(t, n)),
            None => {
                self.wrong(n, what, "a string", hint);
                None
            }
        }
    }

    fn opt_text(&mut self, e: &Entries, key: &str, hint: &str) -> Option<Spanned<String>> {
        e.get(key).and_then(|n| self.text(n, &format!("`{key}`"), hint))
    }

    /// The items of a list (none for an empty value); anything else is reported.
    fn list<'n>(&mut self, n: &'n Node, what: &str, hint: &str) -> &'n [Node] {
        match &n.kind {
            Kind::Seq(v) => v,
            Kind::Null => &[],
            _ => {
                self.wrong(n, what, "a list", hint);
                &[]
            }
        }
    }

    fn size(&mut self, n: &Node, what: &str) -> Option<Spanned<SizeDoc>> {
        let hint = "write a number and a unit: 500MB, 4GB, 64KiB";
        match &n.kind {
            Kind::UInt(v) => Some(spanned(SizeDoc::Num(*v), n)),
            Kind::Seq(_) | Kind::Map(_) => {
                self.wrong(n, what, "a size", hint);
                None
            }
            _ => n.text(self.src).map(|t| spanned(SizeDoc::Text(t), n)),
        }
    }

    fn rate(&mut self, n: &Node, what: &str) -> Option<Spanned<RateDoc>> {
        match &n.kind {
            Kind::UInt(v) => Some(spanned(RateDoc::Num(*v as f64), n)),
            Kind::Int(v) => Some(spanned(RateDoc::Num(*v as f64), n)),
            Kind::Float(v) => Some(spanned(RateDoc::Num(*v), n)),
            Kind::Seq(_) | Kind::Map(_) => {
                self.wrong(n, what, "a share", "write a share such as 0.01 or 1%");
                None
            }
            _ => n.text(self.src).map(|t| spanned(RateDoc::Text(t), n)),
        }
    }

    fn file(&mut self, root: &Node) -> Option<FileDoc> {
        if root.kind == Kind::Null {
            self.errs.push(Diagnostic::new(Pos::new(1, 1), "the rule file is empty").hint("a rule file has `rules:` and a `default:` action; see docs/rules.md"));
            return None;
        }
        let e = self.map(root, "a rule file", FILE_KEYS, "a rule file is a mapping with `rules:`, `default:` and the other keys of docs/rules.md")?;
        let name = self.opt_text(&e, "name", "a name for reports and metrics, e.g. `name: k8s-splunk`").map(|n| n.value);
        self.opt_text(&e, "description", "any text");
        let mut parse = Vec::new();
        if let Some(p) = e.get("parse") {
            let hint = "e.g. `parse: {log: [access, app]}`: a field and the parsers to try";
            for (field, v) in self.pairs(p, "`parse`", hint) {
                let list = match &v.kind {
                    Kind::Seq(items) => {
                        let names: Vec<String> = items.iter().filter_map(|i| self.text(i, "a parser name", hint).map(|t| t.value)).collect();
                        OneOrMany::Many(names)
                    }
                    _ => match self.text(v, &format!("the parsers of {:?}", field.value), hint) {
                        Some(t) => OneOrMany::One(t.value),
                        None => continue,
                    },
                };
                parse.push((field, spanned(list, v)));
            }
            parse.sort_by(|a, b| a.0.value.cmp(&b.0.value));
        }
        let mut rules = Vec::new();
        if let Some(rs) = e.get("rules") {
            for (i, r) in self.list(rs, "`rules`", "write each rule as a list item: `- name: …`").iter().enumerate() {
                if i == MAX_RULES {
                    self.errs.push(Diagnostic::new(r.at.pos(), format!("more than {MAX_RULES} rules")).hint("a rule set this large is a mistake: merge rules with `in [...]` or `or`, or split the file"));
                    break;
                }
                if let Some(rule) = self.rule(r) {
                    rules.push(spanned(rule, r));
                }
            }
        }
        let default = e.get("default").and_then(|d| self.action_doc(d)).map(|a| spanned(a, e.get("default").unwrap_or(root)));
        let mut tests = Vec::new();
        if let Some(ts) = e.get("tests") {
            for t in self.list(ts, "`tests`", "write each test as a list item: `- record: …`") {
                if let Some(doc) = self.test(t) {
                    tests.push(spanned(doc, t));
                }
            }
        }
        let budget = e.get("budget").and_then(|b| self.budget(b).map(|d| spanned(d, b)));
        let trim = e.get("trim").and_then(|t| self.trim(t).map(|d| spanned(d, t)));
        let sample_rate_field = self.opt_text(&e, "sample_rate_field", "the top-level key, e.g. `sample_rate_field: sample_rate`");
        let archive = e.get("archive").and_then(|a| self.archive(a).map(|d| spanned(d, a)));
        Some(FileDoc { name, parse, rules, default, tests, budget, trim, sample_rate_field, archive })
    }

    fn archive(&mut self, n: &Node) -> Option<ArchiveDoc> {
        let before = self.errs.len();
        let e = self.map(n, "`archive`", ARCHIVE_KEYS, "e.g. `archive: {include: [dropped, sampled, shed], index: [log.request_id]}`")?;
        let mut texts = |key: &str, hint: &str| {
            e.get(key).map(|l| {
                let items = self.list(l, &format!("`archive.{key}`"), hint);
                items.iter().filter_map(|i| self.text(i, &format!("an `archive.{key}` entry"), hint)).collect::<Vec<_>>()
            })
        };
        let include = texts("include", "reasons: dropped, sampled, shed, blank, kept");
        let partition = texts("partition", "field paths; the first present names the partition, e.g. `[kubernetes.namespace_name, cloudwatch.logGroup]`");
        let index = texts("index", "field paths whose values each object's index lists, e.g. `[log.request_id]`");
        let object_size = e.get("object_size").and_then(|s| self.size(s, "`object_size`"));
        let gzip_level = e.get("gzip_level").and_then(|v| match &v.kind {
            Kind::UInt(l) => Some(spanned(*l, v)),
            _ => {
                self.wrong(v, "`gzip_level`", "a whole number", "1 (fastest) to 9 (smallest)");
                None
            }
        });
        (self.errs.len() == before).then_some(ArchiveDoc { include, partition, index, object_size, gzip_level })
    }

    fn rule(&mut self, n: &Node) -> Option<RuleDoc> {
        let before = self.errs.len();
        let e = self.map(n, "a rule", RULE_KEYS, "a rule is a mapping: `- name: …`, `when: …`, `action: …`")?;
        let name = self.opt_text(&e, "name", "a rule's name is a word such as `drop-probes`");
        if e.get("name").is_none() {
            self.missing(&e, "a rule", "name", "add `name: …`: rule names are unique, they name metrics and decisions");
        }
        self.opt_text(&e, "description", "any text");
        let when = e.get("when").and_then(|w| match &w.kind {
            Kind::Bool(b) => Some(spanned(WhenDoc::Bool(*b), w)),
            Kind::Seq(_) | Kind::Map(_) => {
                self.wrong(w, "`when`", "a condition", "write the condition as one string: `when: log.status >= 500 and log.method == \"GET\"`");
                None
            }
            _ => w.text(self.src).map(|t| spanned(WhenDoc::Expr(t), w)),
        });
        if let Some((_, k, _)) = e.entries.iter().find(|(k, _, v)| *k == "when" && v.kind == Kind::Null) {
            self.errs.push(Diagnostic::new(k.at.pos(), "empty condition").len(4).hint("omit `when:` to match every record"));
        }
        let action = self.opt_text(&e, "action", "actions: keep, drop, sample");
        if e.get("action").is_none() {
            self.missing(&e, "a rule", "action", "add `action: keep`, `action: drop` or `action: sample`");
        }
        let priority = self.opt_text(&e, "priority", "priorities: critical, high, normal, low");
        let rate = e.get("rate").and_then(|r| self.rate(r, "`rate`"));
        let key = self.opt_text(&e, "key", "a field path such as `log.request_id`");
        let summarize = e.get("summarize").and_then(|s| self.summarize(s).map(|d| spanned(d, s)));
        let trim = e.get("trim").and_then(|t| self.trim(t).map(|d| spanned(d, t)));
        if self.errs.len() != before {
            return None;
        }
        Some(RuleDoc { name: name?, when, action: action?, priority, rate, key, summarize, trim })
    }

    fn action_doc(&mut self, n: &Node) -> Option<ActionDoc> {
        let before = self.errs.len();
        let e = self.map(n, "`default`", DEFAULT_KEYS, "e.g. `default: {action: keep, priority: normal}`")?;
        let action = self.opt_text(&e, "action", "actions: keep, drop, sample");
        if e.get("action").is_none() {
            self.missing(&e, "`default`", "action", "add `action: keep`, `action: drop` or `action: sample`");
        }
        let priority = self.opt_text(&e, "priority", "priorities: critical, high, normal, low");
        let rate = e.get("rate").and_then(|r| self.rate(r, "`rate`"));
        let key = self.opt_text(&e, "key", "a field path such as `log.request_id`");
        let summarize = e.get("summarize").and_then(|s| self.summarize(s).map(|d| spanned(d, s)));
        if self.errs.len() != before {
            return None;
        }
        Some(ActionDoc { action: action?, priority, rate, key, summarize })
    }

    fn trim(&mut self, n: &Node) -> Option<TrimDoc> {
        let before = self.errs.len();
        let e = self.map(n, "`trim`", TRIM_KEYS, "e.g. `trim: {remove: [kubernetes.annotations], truncate: {log: 64KiB}}`")?;
        let hint = "a dotted field path; `*` matches any characters within one key";
        let remove = match e.get("remove") {
            Some(r) => self.list(r, "`remove`", "a list of field paths: `remove: [kubernetes.annotations]`").iter().filter_map(|i| self.text(i, "a field to remove", hint)).collect(),
            None => Vec::new(),
        };
        let mut truncate = Vec::new();
        if let Some(t) = e.get("truncate") {
            for (k, v) in self.pairs(t, "`truncate`", "a field and its limit: `truncate: {log: 64KiB}`") {
                if let Some(size) = self.size(v, &format!("the limit of {:?}", k.value)) {
                    truncate.push((k, size));
                }
            }
        }
        (self.errs.len() == before).then_some(TrimDoc { remove, truncate })
    }

    fn named_paths(&mut self, n: Option<&Node>, what: &str) -> Vec<Spanned<NamedPathDoc>> {
        let hint = "e.g. `- kubernetes.namespace_name` or `- namespace: kubernetes.namespace_name`";
        let Some(n) = n else { return Vec::new() };
        let mut out = Vec::new();
        for it in self.list(n, what, hint) {
            match &it.kind {
                Kind::Map(_) => {
                    let mut named = BTreeMap::new();
                    for (k, v) in self.pairs(it, &format!("a {what} entry"), hint) {
                        if let Some(p) = self.text(v, &format!("the path of {:?}", k.value), hint) {
                            named.insert(k.value, p.value);
                        }
                    }
                    out.push(spanned(NamedPathDoc::Named(named), it));
                }
                _ => {
                    if let Some(t) = self.text(it, &format!("a {what} entry"), hint) {
                        out.push(spanned(NamedPathDoc::Path(t.value), it));
                    }
                }
            }
        }
        out
    }

    fn summarize(&mut self, n: &Node) -> Option<SummarizeDoc> {
        let before = self.errs.len();
        let e = self.map(n, "`summarize`", SUMMARIZE_KEYS, "e.g. `summarize: {by: [kubernetes.namespace_name], every: 1m}`")?;
        let by = self.named_paths(e.get("by"), "`summarize.by`");
        let sum = self.named_paths(e.get("sum"), "`summarize.sum`");
        let interval = "write a number and a unit: 30s, 1m, 5m, 1h (at least 1s, at most 24h)";
        let every = e.get("every").and_then(|v| match &v.kind {
            Kind::UInt(s) => Some(spanned(DurationDoc::Secs(*s), v)),
            Kind::Seq(_) | Kind::Map(_) => {
                self.wrong(v, "`every`", "an interval", interval);
                None
            }
            _ => v.text(self.src).map(|t| spanned(DurationDoc::Text(t), v)),
        });
        let max_groups = e.get("max_groups").and_then(|v| match &v.kind {
            Kind::UInt(m) => Some(spanned(*m, v)),
            _ => {
                self.wrong(v, "`max_groups`", "a whole number", "the groups one interval may hold before the rest are counted as `_other` (default 1000)");
                None
            }
        });
        let priority = self.opt_text(&e, "priority", "priorities: critical, high, normal, low");
        (self.errs.len() == before).then_some(SummarizeDoc { by, sum, every, max_groups, priority })
    }

    fn budget(&mut self, n: &Node) -> Option<BudgetDoc> {
        let before = self.errs.len();
        let e = self.map(n, "`budget`", BUDGET_KEYS, "e.g. `budget: {limit: 4GB, time_zone: America/New_York}`")?;
        let name = self.opt_text(&e, "name", "the budget's name, shared by the fleet").map(|n| n.value);
        let limit = e.get("limit").and_then(|l| self.size(l, "`limit`"));
        let time_zone = self.opt_text(&e, "time_zone", "an IANA time zone such as America/New_York or UTC");
        let mut shed = Vec::new();
        if let Some(s) = e.get("shed") {
            for (k, v) in self.pairs(s, "`shed`", "priorities and the share of the limit they are shed at: `shed: {low: 80%}`") {
                if let Some(r) = self.rate(v, &format!("the threshold of {:?}", k.value)) {
                    shed.push((k, r));
                }
            }
        }
        let pacing = e.get("pacing").and_then(|p| match p.kind {
            Kind::Bool(b) => Some(b),
            _ => {
                self.wrong(p, "`pacing`", "true or false", "`pacing: false` lets the day's budget be spent early");
                None
            }
        });
        let chunk = e.get("chunk").and_then(|c| self.size(c, "`chunk`"));
        let fallback_share = e.get("fallback_share").and_then(|f| self.rate(f, "`fallback_share`"));
        (self.errs.len() == before).then_some(BudgetDoc { name, limit, time_zone, shed, pacing, chunk, fallback_share })
    }

    fn test(&mut self, n: &Node) -> Option<TestDoc> {
        let before = self.errs.len();
        let e = self.map(n, "a test", TEST_KEYS, "a test is a mapping: `- record: …` and `expect: keep`")?;
        let name = self.opt_text(&e, "name", "a label shown when the test fails").map(|n| n.value);
        let record = e.get("record").map(|r| self.json(r));
        if record.is_none() {
            self.missing(&e, "a test", "record", "add `record:`, a mapping (sent as JSON) or a string (sent as it is)");
        }
        let expect = e.get("expect").and_then(|x| match &x.kind {
            Kind::Map(_) => {
                let f = self.map(x, "`expect`", EXPECT_KEYS, "e.g. `expect: {action: keep, rule: keep-errors, priority: critical}`")?;
                let action = self.opt_text(&f, "action", "a test expects `keep` or `drop`");
                if f.get("action").is_none() {
                    self.missing(&f, "`expect`", "action", "add `action: keep` or `action: drop`");
                }
                let rule = self.opt_text(&f, "rule", "the name of the rule that decides, or `default`").map(|r| r.value);
                let priority = self.opt_text(&f, "priority", "priorities: critical, high, normal, low").map(|p| p.value);
                Some(spanned(ExpectDoc::Full { action: action?.value, rule, priority }, x))
            }
            _ => self.text(x, "`expect`", "a test expects `keep` or `drop`").map(|t| spanned(ExpectDoc::Action(t.value), x)),
        });
        if e.get("expect").is_none() {
            self.missing(&e, "a test", "expect", "add `expect: keep` or `expect: drop`");
        }
        if self.errs.len() != before {
            return None;
        }
        Some(TestDoc { name, record: record?, expect: expect? })
    }

    /// A test record as JSON; the tree is at most `yaml::MAX_DEPTH` deep, so the recursion is bounded.
    fn json(&self, n: &Node) -> serde_json::Value {
        use serde_json::Value;
        match &n.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Int(i) => Value::from(*i),
            Kind::UInt(u) => Value::from(*u),
            Kind::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Kind::Str(s) => Value::String(s.clone()),
            Kind::Seq(v) => Value::Array(v.iter().map(|i| self.json(i)).collect()),
            Kind::Map(m) => Value::Object(m.iter().map(|(k, v)| (k.text(self.src).unwrap_or_default(), self.json(v))).collect()),
        }
    }
}

// ---- loading ---------------------------------------------------------------------------------------

fn pos(loc: &Location) -> Pos {
    loc.pos()
}

/// Maps byte offsets inside a YAML scalar's value back to file positions.
///
/// Handles plain, quoted and block (`|`, `>`) scalars whose continuation lines are plainly indented; inside
/// double-quoted scalars with escapes the column can be off by the escape's width, which is acceptable for
/// an error caret.
struct ScalarMap {
    /// (file line, file column of the segment's first char, segment length in chars, chars of the value
    /// before the segment) for each source line.
    segments: Vec<(u32, u32, usize, usize)>,
    value: String,
    /// The last offset asked for and the chars of the value before it. The parser asks in increasing
    /// order, so a long condition is counted through once, not once per field it names.
    cursor: Cell<(usize, usize)>,
}

impl ScalarMap {
    fn new(src: &LineIndex, loc: &Location, value: &str) -> ScalarMap {
        let line0 = loc.line as usize;
        let col0 = loc.col as usize;
        let first = src.line(line0);
        let lead = first.chars().nth(col0.saturating_sub(1));
        let mut segments = Vec::new();
        let (mut line, mut col) = match lead {
            Some('|') | Some('>') => (line0 + 1, None),
            Some('"') | Some('\'') => (line0, Some(col0 + 1)),
            _ => (line0, Some(col0)),
        };
        let mut covered = 0usize;
        let total = value.chars().count();
        while covered <= total && line <= src.len() {
            let text = src.line(line);
            let start_col = match col.take() {
                Some(c) => c,
                None => text.chars().take_while(|c| c.is_whitespace()).count() + 1,
            };
            let len = text.chars().count().saturating_sub(start_col - 1);
            segments.push((line as u32, start_col as u32, len, covered));
            covered += len + 1;
            line += 1;
        }
        ScalarMap { segments, value: value.to_string(), cursor: Cell::new((0, 0)) }
    }

    fn chars_before(&self, byte_off: usize) -> usize {
        let (from, before) = match self.cursor.get() {
            (b, c) if b <= byte_off => (b, c),
            _ => (0, 0),
        };
        let Some(between) = self.value.get(from..byte_off) else { return 0 };
        let chars = before + between.chars().count();
        self.cursor.set((byte_off, chars));
        chars
    }

    fn pos(&self, byte_off: usize) -> Pos {
        let chars = self.chars_before(byte_off);
        let i = self.segments.partition_point(|&(_, _, len, start)| start + len < chars);
        match self.segments.get(i) {
            Some(&(line, col, _, start)) => Pos::new(line, col + (chars - start) as u32),
            None => self.segments.last().map(|&(l, c, len, _)| Pos::new(l, c + len as u32)).unwrap_or_default(),
        }
    }
}

/// Parses a field path written in YAML (a `key:` or `parse:` entry): dotted, with optional quoted segments.
fn path_from_str(src: &LineIndex, text: &str, loc: &Location, what: &str) -> Result<Path, Diagnostic> {
    let map = ScalarMap::new(src, loc, text);
    let e = expr::parse(&format!("exists({text})"), &|off| map.pos(off.saturating_sub(7).min(text.len())))
        .map_err(|d| Diagnostic::new(pos(loc), format!("invalid {what} {text:?}: {}", d.message)).len(text.chars().count()))?;
    match e {
        Expr::Exists(mut p) => {
            p.pos = pos(loc);
            p.len = text.chars().count();
            Ok(p)
        }
        _ => Err(Diagnostic::new(pos(loc), format!("invalid {what} {text:?}")).len(text.chars().count())),
    }
}

fn priority(src_word: &Spanned<String>) -> Result<Priority, Diagnostic> {
    Priority::from_name(&src_word.value).ok_or_else(|| {
        let names = Priority::ALL.map(|p| p.name());
        let mut d = Diagnostic::new(pos(&src_word.referenced), format!("unknown priority {:?}", src_word.value))
            .len(src_word.value.chars().count());
        d = match did_you_mean(&src_word.value, names) {
            Some(s) => d.hint(format!("did you mean {s:?}? priorities: critical, high, normal, low")),
            None => d.hint("priorities: critical, high, normal, low"),
        };
        d
    })
}

fn rate(doc: &Spanned<RateDoc>) -> Result<SampleRate, Diagnostic> {
    let (value, text) = match &doc.value {
        RateDoc::Num(n) => (Some(*n), n.to_string()),
        RateDoc::Text(t) => {
            let v = t.trim().strip_suffix('%').and_then(|p| p.trim().parse::<f64>().ok()).map(|p| p / 100.0);
            (v.or_else(|| t.trim().parse().ok()), t.clone())
        }
    };
    let at = pos(&doc.referenced);
    let len = text.chars().count();
    let Some(v) = value else {
        return Err(Diagnostic::new(at, format!("invalid sample rate {text:?}")).len(len).hint("write a share such as 0.01 or 1%"));
    };
    SampleRate::new(v).ok_or_else(|| {
        Diagnostic::new(at, format!("sample rate {text} is outside (0, 1]"))
            .len(len)
            .hint("a rate is the share of records kept: 0.01 or 1% keeps one in a hundred; use `action: drop` for 0")
    })
}

const ACTIONS: [&str; 3] = ["keep", "drop", "sample"];

/// The most rules a file may have: a decision names its rule in 16 bits, the default action included.
pub const MAX_RULES: usize = u16::MAX as usize;

fn action(
    src: &LineIndex,
    action: &Spanned<String>,
    prio: Option<&Spanned<String>>,
    rate_doc: Option<&Spanned<RateDoc>>,
    key: Option<&Spanned<String>>,
    errs: &mut Vec<Diagnostic>,
) -> Option<ActionSpec> {
    let errs_before = errs.len();
    fn push_err(errs: &mut Vec<Diagnostic>, d: Diagnostic) {
        errs.push(d);
    }
    fn take<T>(errs: &mut Vec<Diagnostic>, r: Result<T, Diagnostic>) -> Option<T> {
        r.map_err(|d| errs.push(d)).ok()
    }
    let name = action.value.as_str();
    let at = pos(&action.referenced);
    let default_prio = if name == "sample" { Priority::Low } else { Priority::Normal };
    let priority = prio.and_then(|p| take(errs, priority(p))).unwrap_or(default_prio);
    let kind = match name {
        "keep" | "drop" => {
            if let Some(r) = rate_doc {
                push_err(errs, Diagnostic::new(pos(&r.referenced), format!("`rate` only applies to `action: sample`, not {name:?}"))
                    .hint("remove `rate`, or use `action: sample`"));
            }
            if let Some(k) = key {
                push_err(errs, Diagnostic::new(pos(&k.referenced), format!("`key` only applies to `action: sample`, not {name:?}"))
                    .hint("remove `key`, or use `action: sample`"));
            }
            if name == "keep" { ActionKind::Keep } else { ActionKind::Drop }
        }
        "sample" => {
            let rate = match rate_doc {
                Some(r) => take(errs, rate(r)),
                None => {
                    push_err(errs, Diagnostic::new(at, "`action: sample` needs a `rate`").len(name.len()).hint("add `rate: 1%` (or 0.01) to the rule"));
                    None
                }
            };
            let key = key.and_then(|k| take(errs, path_from_str(src, &k.value, &k.referenced, "sample key")));
            match rate {
                Some(rate) => ActionKind::Sample { rate, key },
                None => return None,
            }
        }
        other => {
            let mut d = Diagnostic::new(at, format!("unknown action {other:?}")).len(other.chars().count());
            d = match did_you_mean(other, ACTIONS) {
                Some(s) => d.hint(format!("did you mean {s:?}? actions: keep, drop, sample")),
                None => d.hint("actions: keep, drop, sample"),
            };
            push_err(errs, d);
            return None;
        }
    };
    (errs.len() == errs_before).then_some(ActionSpec { kind, priority, summarize: None })
}

/// Loads a rule file. Collects every mistake it can find before giving up.
pub fn load(src: &str) -> Result<RuleFile, Vec<Diagnostic>> {
    let root = yaml::parse(src).map_err(|d| vec![d])?;
    let mut reader = Reader { src, errs: Vec::new() };
    let doc = reader.file(&root);
    let mut errs = reader.errs;
    let Some(doc) = doc else { return Err(errs) };
    let src = &LineIndex::new(src);

    let mut parse = Vec::new();
    for (field, list) in &doc.parse {
        let names: Vec<String> = match &list.value {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        };
        // Each parser name's own position: search for it on the list's line(s) so errors point at the word.
        let mut search_from = list.referenced.bytes.map_or(0, |b| b.0);
        let mut parsers = Vec::new();
        for n in names {
            let at = src.text().get(search_from..).and_then(|rest| rest.find(n.as_str())).map(|i| search_from + i);
            let p = match at {
                Some(b) => {
                    search_from = b + n.len();
                    src.pos(b)
                }
                None => pos(&list.referenced),
            };
            parsers.push((n, p));
        }
        match path_from_str(src, &field.value, &field.referenced, "parse field") {
            Ok(path) => parse.push(ParseSpec { field: path, parsers }),
            Err(d) => errs.push(d),
        }
    }

    let mut rules = Vec::new();
    for r in &doc.rules {
        let rd = &r.value;
        let when = match &rd.when {
            None => Some(Expr::True),
            Some(Spanned { value: WhenDoc::Bool(true), .. }) => Some(Expr::True),
            Some(Spanned { value: WhenDoc::Bool(false), .. }) => Some(Expr::False),
            Some(w @ Spanned { value: WhenDoc::Expr(text), .. }) => {
                let map = ScalarMap::new(src, &w.referenced, text);
                match expr::parse(text, &|off| map.pos(off)) {
                    Ok(e) => Some(e),
                    Err(d) => {
                        errs.push(d);
                        None
                    }
                }
            }
        };
        let act = action(src, &rd.action, rd.priority.as_ref(), rd.rate.as_ref(), rd.key.as_ref(), &mut errs)
            .map(|a| with_summary(src, a, rd.summarize.as_ref(), &mut errs));
        let rule_trim = rd.trim.as_ref().and_then(|t| trim(t, &mut errs));
        if let (Some(t), Some(a)) = (&rd.trim, &act)
            && matches!(a.kind, ActionKind::Drop)
        {
            errs.push(
                Diagnostic::new(pos(&t.referenced), format!("rule {:?} drops every record it matches: there is nothing to trim", rd.name.value))
                    .hint("`trim` applies to the records a keep or sample rule keeps"),
            );
        }
        if let (Some(when), Some(action)) = (when, act) {
            rules.push(Rule { name: rd.name.value.clone(), name_pos: pos(&rd.name.referenced), when, action, trim: rule_trim });
        }
    }

    let default = match &doc.default {
        Some(d) => action(src, &d.value.action, d.value.priority.as_ref(), d.value.rate.as_ref(), d.value.key.as_ref(), &mut errs)
            .map(|a| with_summary(src, a, d.value.summarize.as_ref(), &mut errs)),
        None => Some(ActionSpec { kind: ActionKind::Keep, priority: Priority::Normal, summarize: None }),
    };
    let file_trim = doc.trim.as_ref().and_then(|t| trim(t, &mut errs));
    let sample_rate_field = doc.sample_rate_field.as_ref().and_then(|f| {
        let key = f.value.trim();
        if key.is_empty() {
            errs.push(Diagnostic::new(pos(&f.referenced), "empty sample_rate_field").hint("name the top-level key, e.g. `sample_rate_field: sample_rate`"));
            return None;
        }
        Some(key.to_string())
    });

    let mut tests = Vec::new();
    for t in &doc.tests {
        let td = &t.value;
        let record = match &td.record {
            serde_json::Value::String(s) => s.clone().into_bytes(),
            v => serde_json::to_vec(v).unwrap_or_default(),
        };
        let at = pos(&t.referenced);
        let (act, rule, prio) = match &td.expect.value {
            ExpectDoc::Action(a) => (a.clone(), None, None),
            ExpectDoc::Full { action, rule, priority } => (action.clone(), rule.clone(), priority.clone()),
        };
        let exp_at = pos(&td.expect.referenced);
        let action = match act.as_str() {
            "keep" => Some(Action::Keep),
            "drop" => Some(Action::Drop),
            other => {
                errs.push(
                    Diagnostic::new(exp_at, format!("unknown expected action {other:?}"))
                        .hint("a test expects `keep` or `drop` (a sampled record is kept or dropped)"),
                );
                None
            }
        };
        let priority = match prio {
            Some(p) => match Priority::from_name(&p) {
                Some(p) => Some(p),
                None => {
                    errs.push(Diagnostic::new(exp_at, format!("unknown priority {p:?}")).hint("priorities: critical, high, normal, low"));
                    None
                }
            },
            None => None,
        };
        if let Some(action) = action {
            tests.push(Example { name: td.name.clone(), pos: at, record, action, rule, priority });
        }
    }

    let budget = doc.budget.as_ref().and_then(|b| budget(b, doc.name.as_deref(), &mut errs));
    let archive = doc.archive.as_ref().and_then(|a| archive(src, a, &mut errs));

    match (errs.is_empty(), default) {
        (true, Some(default)) => Ok(RuleFile { name: doc.name, parse, rules, default, tests, budget, trim: file_trim, sample_rate_field, archive }),
        _ => Err(errs),
    }
}

// ---- archive: ---------------------------------------------------------------------------------------

/// Checks and converts `archive:`, pushing every mistake to `errs`.
fn archive(src: &LineIndex, doc: &Spanned<ArchiveDoc>, errs: &mut Vec<Diagnostic>) -> Option<ArchiveSpec> {
    let before = errs.len();
    let d = &doc.value;
    let mut spec = ArchiveSpec { pos: pos(&doc.referenced), ..ArchiveSpec::default() };
    if let Some(include) = &d.include {
        spec.include = Vec::new();
        for r in include {
            match Reason::from_name(r.value.trim()) {
                Some(reason) if !spec.include.contains(&reason) => spec.include.push(reason),
                Some(_) => errs.push(Diagnostic::new(pos(&r.referenced), format!("archive.include lists {:?} twice", r.value)).len(r.value.chars().count())),
                None => {
                    let names = Reason::ALL.map(Reason::name);
                    let d = Diagnostic::new(pos(&r.referenced), format!("unknown reason {:?} in archive.include", r.value)).len(r.value.chars().count());
                    errs.push(match did_you_mean(&r.value, names.iter().copied()) {
                        Some(s) => d.hint(format!("did you mean {s:?}? reasons: {}", names.join(", "))),
                        None => d.hint(format!("reasons: {}", names.join(", "))),
                    });
                }
            }
        }
    }
    let paths = |list: &Option<Vec<Spanned<String>>>, what: &str, errs: &mut Vec<Diagnostic>| {
        list.as_ref().map(|l| l.iter().filter_map(|p| path_from_str(src, &p.value, &p.referenced, what).map_err(|e| errs.push(e)).ok()).collect::<Vec<_>>())
    };
    if let Some(p) = paths(&d.partition, "archive.partition field", errs) {
        spec.partition = Some(p);
    }
    if let Some(p) = paths(&d.index, "archive.index field", errs) {
        spec.index = Some(p);
    }
    if let Some(s) = &d.object_size {
        match size(s, "archive.object_size") {
            Ok(n) if (64 * 1024..=4 << 30).contains(&n) => spec.object_bytes = n,
            Ok(n) => errs.push(
                Diagnostic::new(pos(&s.referenced), format!("archive.object_size {n} B is outside 64KiB..4GiB"))
                    .hint(format!("the uncompressed bytes of one archive object; the default is {}MiB", DEFAULT_OBJECT_BYTES >> 20)),
            ),
            Err(e) => errs.push(e),
        }
    }
    if let Some(l) = &d.gzip_level {
        match l.value {
            1..=9 => spec.gzip_level = l.value as u32,
            v => errs.push(
                Diagnostic::new(pos(&l.referenced), format!("archive.gzip_level {v} is outside 1..9"))
                    .hint(format!("1 is fastest, 9 smallest; the default is {DEFAULT_GZIP_LEVEL}")),
            ),
        }
    }
    (errs.len() == before).then_some(spec)
}

// ---- budget: ----------------------------------------------------------------------------------------

fn size(doc: &Spanned<SizeDoc>, what: &str) -> Result<u64, Diagnostic> {
    match &doc.value {
        SizeDoc::Num(n) => Ok(*n),
        SizeDoc::Text(t) => parse_size(t).map_err(|e| {
            Diagnostic::new(pos(&doc.referenced), format!("{what}: {e}")).len(t.chars().count()).hint(e.hint())
        }),
    }
}

fn share(doc: &Spanned<RateDoc>, what: &str) -> Result<f64, Diagnostic> {
    let text = match &doc.value {
        RateDoc::Num(n) => n.to_string(),
        RateDoc::Text(t) => t.clone(),
    };
    parse_share(&text).map_err(|e| {
        Diagnostic::new(pos(&doc.referenced), format!("{what}: {e}")).len(text.chars().count()).hint(e.hint())
    })
}

fn zone(doc: &Spanned<String>) -> Result<LicenseZone, Diagnostic> {
    LicenseZone::new(doc.value.trim()).map_err(|e| {
        let d = Diagnostic::new(pos(&doc.referenced), e.to_string()).len(doc.value.chars().count());
        let names = jiff::tz::db().available();
        let names: Vec<String> = names.map(|n| n.as_str().to_string()).collect();
        match did_you_mean(&doc.value, names.iter().map(|n| n.as_str())) {
            Some(n) => d.hint(format!("did you mean {n:?}? use the IANA name of the licence manager's time zone")),
            None => d.hint("use the IANA name of the licence manager's time zone, e.g. America/New_York, Europe/Berlin or UTC"),
        }
    })
}

/// Checks and converts `budget:`, pushing every mistake to `errs`.
fn budget(doc: &Spanned<BudgetDoc>, file_name: Option<&str>, errs: &mut Vec<Diagnostic>) -> Option<BudgetSpec> {
    let b = &doc.value;
    let at = pos(&doc.referenced);
    let before = errs.len();
    fn take<T>(r: Result<T, Diagnostic>, errs: &mut Vec<Diagnostic>) -> Option<T> {
        r.map_err(|d| errs.push(d)).ok()
    }

    let limit = match &b.limit {
        Some(l) => take(size(l, "daily limit"), errs).and_then(|v| {
            if v == 0 {
                errs.push(Diagnostic::new(pos(&l.referenced), "daily limit is 0").hint("write the licence's daily volume, e.g. `limit: 4GB`"));
                None
            } else {
                Some(v)
            }
        }),
        None => {
            errs.push(Diagnostic::new(at, "budget needs a `limit`").hint("add the licence's daily volume, e.g. `limit: 4GB`"));
            None
        }
    };
    let zone = match &b.time_zone {
        Some(z) => take(zone(z), errs),
        None => {
            errs.push(Diagnostic::new(at, "budget needs a `time_zone`").hint(
                "the licence day ends at midnight on the licence manager's clock: add its IANA zone, e.g. `time_zone: America/New_York` (or `UTC`)",
            ));
            None
        }
    };

    let mut thresholds = policy::Thresholds::default();
    let mut written: Vec<(Priority, f64, Pos)> = Vec::new();
    let mut keys: Vec<_> = b.shed.iter().map(|(k, v)| (k, v)).collect();
    keys.sort_by_key(|(k, _)| (k.referenced.line, k.referenced.col));
    for (k, v) in keys {
        let kpos = pos(&k.referenced);
        match Priority::from_name(&k.value) {
            Some(Priority::Critical) => errs.push(
                Diagnostic::new(kpos, "critical is never shed")
                    .len(k.value.chars().count())
                    .hint("remove `critical`: critical records are always kept, counted, and reported as overage once the limit is reached"),
            ),
            Some(p) => {
                if let Some(s) = take(share(v, &format!("shed threshold for {}", p.name())), errs) {
                    thresholds.set(p, s);
                    written.push((p, s, pos(&v.referenced)));
                }
            }
            None => {
                let d = Diagnostic::new(kpos, format!("unknown priority {:?}", k.value)).len(k.value.chars().count());
                errs.push(match did_you_mean(&k.value, ["low", "normal", "high"]) {
                    Some(s) => d.hint(format!("did you mean {s:?}? `shed:` takes low, normal and high")),
                    None => d.hint("`shed:` takes low, normal and high (critical is never shed)"),
                });
            }
        }
    }
    // A higher priority must not be shed before a lower one. Report at the value written out of order.
    let order = [Priority::Low, Priority::Normal, Priority::High];
    for (i, lo) in order.iter().enumerate() {
        for hi in &order[i + 1..] {
            let (a, b) = (thresholds.shed_at(*lo).unwrap_or(1.0), thresholds.shed_at(*hi).unwrap_or(1.0));
            if b < a {
                let culprit = written.iter().rev().find(|(p, _, _)| p == hi || p == lo).map(|w| w.2).unwrap_or(at);
                errs.push(
                    Diagnostic::new(culprit, format!(
                        "shed thresholds out of order: {} is shed at {}% but {} at {}%",
                        hi.name(), pct(b), lo.name(), pct(a)
                    ))
                    .hint("a higher priority is shed later: low ≤ normal ≤ high (defaults 80%, 95%, 100%)"),
                );
            }
        }
    }

    let chunk = b.chunk.as_ref().and_then(|c| {
        let v = take(size(c, "lease chunk"), errs)?;
        match limit {
            _ if v == 0 => {
                errs.push(Diagnostic::new(pos(&c.referenced), "lease chunk is 0").hint("leave `chunk` out for a thousandth of the limit"));
                None
            }
            Some(l) if v > l => {
                errs.push(Diagnostic::new(pos(&c.referenced), "lease chunk is larger than the daily limit")
                    .hint("the fleet total can be off by one chunk per participant: keep it a small fraction of the limit, or leave it out"));
                None
            }
            _ => Some(v),
        }
    });
    let fallback_share = b.fallback_share.as_ref().and_then(|f| {
        let v = take(share(f, "fallback share"), errs)?;
        if v == 0.0 {
            errs.push(Diagnostic::new(pos(&f.referenced), "fallback share is 0%").hint("with 0% nothing but critical is kept while the store is down; use 1/N for N participants"));
            return None;
        }
        Some(v)
    });

    if errs.len() != before {
        return None;
    }
    let (limit, zone) = (limit?, zone?);
    let mut spec = BudgetSpec::new(limit, zone);
    spec.name = b.name.clone().or_else(|| file_name.map(str::to_string)).unwrap_or_else(|| "default".into());
    spec.shed = thresholds;
    spec.pacing = b.pacing.unwrap_or(true);
    if let Some(c) = chunk {
        spec.chunk = c;
    }
    if let Some(f) = fallback_share {
        spec.fallback_share = f;
    }
    Some(spec)
}

fn pct(share: f64) -> String {
    let p = share * 100.0;
    if (p - p.round()).abs() < 1e-9 { format!("{}", p.round()) } else { format!("{p}") }
}

// ---- summarize: and trim: ----------------------------------------------------------------------------

/// Adds a `summarize:` block to an action, checking that the action drops something.
fn with_summary(src: &LineIndex, mut a: ActionSpec, doc: Option<&Spanned<SummarizeDoc>>, errs: &mut Vec<Diagnostic>) -> ActionSpec {
    let Some(doc) = doc else { return a };
    if matches!(a.kind, ActionKind::Keep) {
        errs.push(
            Diagnostic::new(pos(&doc.referenced), "`summarize` only applies to `action: drop` and `action: sample`")
                .hint("a keep rule removes nothing to summarize; move `summarize` to the rule that drops the records"),
        );
        return a;
    }
    a.summarize = summarize(src, doc, errs);
    a
}

/// `60`, `60s`, `1m`, `1h`: seconds.
fn duration_secs(doc: &Spanned<DurationDoc>) -> Result<u64, Diagnostic> {
    let text = match &doc.value {
        DurationDoc::Secs(n) => n.to_string(),
        DurationDoc::Text(t) => t.trim().to_string(),
    };
    let hint = "write a number and a unit: 30s, 1m, 5m, 1h (at least 1s, at most 24h)";
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (num, unit) = (&text[..split], text[split..].trim());
    let mult = match unit {
        "" | "s" => Some(1),
        "m" | "min" => Some(60),
        "h" => Some(3600),
        _ => None,
    };
    let at = pos(&doc.referenced);
    match (num.parse::<u64>().ok(), mult) {
        (Some(n), Some(m)) if (1..=86_400).contains(&(n * m)) => Ok(n * m),
        (Some(_), Some(_)) => Err(Diagnostic::new(at, format!("interval {text:?} is outside 1s..24h")).len(text.chars().count()).hint(hint)),
        _ => Err(Diagnostic::new(at, format!("invalid interval {text:?}")).len(text.chars().count()).hint(hint)),
    }
}

/// The `(name, path)` pairs of `by:` or `sum:`, each name once.
fn named_paths(src: &LineIndex, items: &[Spanned<NamedPathDoc>], what: &str, errs: &mut Vec<Diagnostic>) -> Vec<(String, Path)> {
    let mut out: Vec<(String, Path)> = Vec::new();
    for it in items {
        let at = pos(&it.referenced);
        let (name, text) = match &it.value {
            NamedPathDoc::Path(p) => (p.trim().to_string(), p.clone()),
            NamedPathDoc::Named(m) if m.len() == 1 => {
                let (k, v) = m.iter().next().expect("one entry");
                (k.trim().to_string(), v.clone())
            }
            NamedPathDoc::Named(_) => {
                errs.push(Diagnostic::new(at, format!("a {what} entry is a field path, or one `name: path` pair")).hint("e.g. `- kubernetes.namespace_name` or `- namespace: kubernetes.namespace_name`"));
                continue;
            }
        };
        let path = match path_from_str(src, &text, &it.referenced, &format!("{what} field")) {
            Ok(p) => p,
            Err(d) => {
                errs.push(d);
                continue;
            }
        };
        if out.iter().any(|(n, _)| *n == name) {
            errs.push(Diagnostic::new(at, format!("{what} names {name:?} twice")).len(text.chars().count()).hint("give one of them another name: `- other_name: path`"));
            continue;
        }
        out.push((name, path));
    }
    out
}

fn summarize(src: &LineIndex, doc: &Spanned<SummarizeDoc>, errs: &mut Vec<Diagnostic>) -> Option<SummarizeSpec> {
    let before = errs.len();
    let d = &doc.value;
    let by = named_paths(src, &d.by, "summarize.by", errs);
    let sum = named_paths(src, &d.sum, "summarize.sum", errs);
    let every_secs = match &d.every {
        Some(e) => duration_secs(e).map_err(|e| errs.push(e)).unwrap_or(DEFAULT_EVERY_SECS),
        None => DEFAULT_EVERY_SECS,
    };
    let max_groups = match &d.max_groups {
        Some(m) if (1..=1_000_000).contains(&m.value) => m.value as usize,
        Some(m) => {
            errs.push(Diagnostic::new(pos(&m.referenced), format!("max_groups {} is outside 1..1000000", m.value))
                .hint("the groups one interval may hold before the rest are counted as `_other` (default 1000)"));
            DEFAULT_MAX_GROUPS
        }
        None => DEFAULT_MAX_GROUPS,
    };
    let priority = match &d.priority {
        Some(p) => priority(p).map_err(|e| errs.push(e)).unwrap_or(Priority::High),
        None => Priority::High,
    };
    (errs.len() == before).then(|| SummarizeSpec { pos: pos(&doc.referenced), by, sum, every_secs, max_groups, priority })
}

fn trim(doc: &Spanned<TrimDoc>, errs: &mut Vec<Diagnostic>) -> Option<TrimSpec> {
    let before = errs.len();
    let mut spec = TrimSpec { pos: pos(&doc.referenced), remove: Vec::new(), truncate: Vec::new() };
    for r in &doc.value.remove {
        match crate::run::trim::parse_pattern(&r.value) {
            Ok(_) => spec.remove.push((r.value.trim().to_string(), pos(&r.referenced))),
            Err(e) => errs.push(Diagnostic::new(pos(&r.referenced), format!("invalid field pattern {:?}: {e}", r.value))
                .len(r.value.chars().count())
                .hint("a dotted path; `*` matches any characters within one key; quote keys with dots: kubernetes.labels.\"app.kubernetes.io/name\"")),
        }
    }
    let mut truncs: Vec<_> = doc.value.truncate.iter().map(|(k, v)| (k, v)).collect();
    truncs.sort_by_key(|(k, _)| (k.referenced.line, k.referenced.col));
    for (k, v) in truncs {
        if let Err(e) = crate::run::trim::parse_pattern(&k.value) {
            errs.push(Diagnostic::new(pos(&k.referenced), format!("invalid field pattern {:?}: {e}", k.value)).len(k.value.chars().count()));
            continue;
        }
        match size(v, "truncation limit") {
            Ok(n) if (n as usize) < MIN_TRUNCATE => errs.push(
                Diagnostic::new(pos(&v.referenced), format!("truncation limit {n} B is below {MIN_TRUNCATE} B"))
                    .hint("the limit includes the `…[truncated N bytes]` marker; to drop the field, list it under `remove`"),
            ),
            Ok(n) => spec.truncate.push((k.value.trim().to_string(), n as usize, pos(&k.referenced))),
            Err(e) => errs.push(e),
        }
    }
    (errs.len() == before).then_some(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(kind: Kind) -> Node {
        Node { at: Location { line: 1, col: 1, bytes: None }, kind }
    }

    fn text(s: &str) -> Node {
        node(Kind::Str(s.to_string()))
    }

    /// Built as a tree: parsing this many rules' YAML in an unoptimised test build takes long.
    #[test]
    fn the_reader_stops_at_the_rule_past_the_limit() {
        let rule = node(Kind::Map(vec![(text("name"), text("r")), (text("action"), text("drop"))]));
        let mut items = vec![rule; MAX_RULES + 1];
        items[MAX_RULES].at.line = 7;
        let root = node(Kind::Map(vec![(text("rules"), node(Kind::Seq(items)))]));
        let mut reader = Reader { src: "", errs: Vec::new() };
        let doc = reader.file(&root).expect("a mapping");
        assert_eq!(doc.rules.len(), MAX_RULES);
        let h: Vec<String> = reader.errs.iter().map(|d| format!("{}: {}", d.pos, d.message)).collect();
        assert_eq!(h, [format!("7:1: more than {MAX_RULES} rules")]);
    }
}
