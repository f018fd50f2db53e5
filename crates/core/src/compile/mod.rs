//! AST → [`Plan`]: resolves field paths to slots, checks what YAML alone cannot (duplicate names, unreachable
//! rules, regexes, parser names, parsed field names) and derives literal prefilters.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use memchr::memmem::Finder;

use crate::spec::ast::{CmpOp, Expr, Lit, Path, StrOp, display_path};
use crate::spec::load::{ActionKind, ActionSpec, RuleFile};
use crate::diag::{Diagnostic, did_you_mean};
use crate::primitives::RuleId;
use crate::plan::{ACCESS_FIELDS, CAction, CRule, Cond, Extras, FieldRef, ParsedField, ParserKind, Plan, Prefilter, Source};
use crate::run::summary::{GroupField, SummarizeSpec, SummaryPlan};
use crate::run::trim::{TrimPlan, TrimSpec};
use crate::record::access::AccessFormat;
use crate::record::json::PathTrie;
use crate::record::level::LEVEL_KEYS;

/// Parser names accepted in `parse:`, with what each expands to.
pub(crate) const PARSERS: &[(&str, &[ParserKind])] = &[
    ("json", &[ParserKind::Json]),
    ("app", &[ParserKind::App]),
    ("nginx_combined", &[ParserKind::Access(AccessFormat::NginxCombined)]),
    ("apache_combined", &[ParserKind::Access(AccessFormat::NginxCombined)]),
    ("nginx_common", &[ParserKind::Access(AccessFormat::NginxCommon)]),
    ("apache_common", &[ParserKind::Access(AccessFormat::NginxCommon)]),
    ("ingress_nginx", &[ParserKind::Access(AccessFormat::IngressNginx)]),
    ("envoy_text", &[ParserKind::Access(AccessFormat::EnvoyText)]),
    ("istio_text", &[ParserKind::Access(AccessFormat::EnvoyText)]),
    ("envoy_json", &[ParserKind::EnvoyJson]),
    ("istio_json", &[ParserKind::EnvoyJson]),
    (
        "access",
        &[
            ParserKind::Access(AccessFormat::IngressNginx),
            ParserKind::Access(AccessFormat::NginxCombined),
            ParserKind::Access(AccessFormat::NginxCommon),
            ParserKind::Access(AccessFormat::EnvoyText),
            ParserKind::EnvoyJson,
        ],
    ),
];

/// The ids given so far to paths, one lookup per field a condition names whatever the file's size.
#[derive(Default)]
struct Ids(HashMap<Vec<String>, u16>);

impl Ids {
    /// The id of `path` in `paths`, adding it if new.
    fn intern(&mut self, paths: &mut Vec<Vec<String>>, path: &[String]) -> u16 {
        if let Some(&i) = self.0.get(path) {
            return i;
        }
        let i = paths.len() as u16;
        paths.push(path.to_vec());
        self.0.insert(path.to_vec(), i);
        i
    }
}

/// The paths of the parsed fields (`parse:`) as a trie of keys: finding the source a path lies under, or
/// one it overlaps, takes a step per key of the path however many sources there are.
struct SourceTrie {
    /// Per node, its children by key; node 0 is the record itself.
    next: Vec<HashMap<String, usize>>,
    /// Per node: the source whose path ends there.
    ends: Vec<Option<usize>>,
    /// Per node: the first source whose path ends there or below.
    first: Vec<usize>,
}

impl Default for SourceTrie {
    fn default() -> SourceTrie {
        SourceTrie { next: vec![HashMap::new()], ends: vec![None], first: vec![usize::MAX] }
    }
}

impl SourceTrie {
    fn insert(&mut self, path: &[String], source: usize) {
        let mut at = 0;
        self.first[at] = self.first[at].min(source);
        for key in path {
            at = match self.next[at].get(key) {
                Some(&n) => n,
                None => {
                    let n = self.next.len();
                    self.next.push(HashMap::new());
                    self.ends.push(None);
                    self.first.push(usize::MAX);
                    self.next[at].insert(key.clone(), n);
                    n
                }
            };
            self.first[at] = self.first[at].min(source);
        }
        self.ends[at].get_or_insert(source);
    }

    /// The nodes of `path`'s prefixes that exist, the record itself first.
    fn walk<'a>(&'a self, path: &'a [String]) -> impl Iterator<Item = usize> + 'a {
        std::iter::once(0).chain(path.iter().scan(0, |at, key| {
            *at = *self.next[*at].get(key)?;
            Some(*at)
        }))
    }

    /// The first source `path` overlaps: one whose path starts with `path`, or that `path` starts with.
    fn overlap(&self, path: &[String]) -> Option<usize> {
        let mut found = usize::MAX;
        let mut depth = 0;
        let mut last = 0;
        for (i, at) in self.walk(path).enumerate() {
            found = found.min(self.ends[at].unwrap_or(usize::MAX));
            (depth, last) = (i, at);
        }
        if depth == path.len() {
            found = found.min(self.first[last]);
        }
        (found != usize::MAX).then_some(found)
    }

    /// The source whose path `path` lies strictly below.
    fn under(&self, path: &[String]) -> Option<usize> {
        if path.is_empty() {
            return None;
        }
        self.walk(&path[..path.len().saturating_sub(1)]).find_map(|at| self.ends[at])
    }

    /// The source whose path is `path`.
    fn exact(&self, path: &[String]) -> Option<usize> {
        let mut depth = 0;
        let mut last = 0;
        for (i, at) in self.walk(path).enumerate() {
            (depth, last) = (i, at);
        }
        if depth == path.len() { self.ends[last] } else { None }
    }
}

#[derive(Default)]
struct Compiler {
    top_paths: Vec<Vec<String>>,
    top_ids: Ids,
    sources: Vec<Source>,
    source_trie: SourceTrie,
    /// Per source: the ids of its parsed fields and of its nested paths.
    source_ids: Vec<(Ids, Ids)>,
    errs: Vec<Diagnostic>,
    seen: Vec<(String, FieldRef)>,
    seen_names: HashSet<String>,
    /// Something reads `_raw`, the record's own bytes.
    reads_raw: bool,
    too_many_fields: bool,
}

/// The most fields a rule set may read (record fields, and below each parsed field): they are numbered in
/// 16 bits.
pub const MAX_FIELDS: usize = u16::MAX as usize;

impl Compiler {
    fn top(&mut self, path: &[String]) -> u16 {
        self.top_ids.intern(&mut self.top_paths, path)
    }

    fn field(&mut self, p: &Path) -> Option<FieldRef> {
        let r = self.resolve(p)?;
        let counts = match r {
            FieldRef::Parsed { source, .. } => {
                let s = &self.sources[source as usize];
                s.fields.len().max(s.nested_paths.len())
            }
            FieldRef::Top(_) | FieldRef::Raw => self.top_paths.len(),
        };
        if counts > MAX_FIELDS && !self.too_many_fields {
            self.too_many_fields = true;
            self.errs.push(
                Diagnostic::new(p.pos, format!("the rules read more than {MAX_FIELDS} different fields"))
                    .len(p.len)
                    .hint("a rule set reads a few dozen fields; check the program that wrote it"),
            );
        }
        let name = p.display();
        if !self.seen_names.contains(&name) {
            self.seen_names.insert(name.clone());
            self.seen.push((name, r));
        }
        Some(r)
    }

    fn resolve(&mut self, p: &Path) -> Option<FieldRef> {
        if p.segments == ["_raw"] {
            self.reads_raw = true;
            return Some(FieldRef::Raw);
        }
        let Some(si) = self.source_trie.under(&p.segments) else {
            return Some(FieldRef::Top(self.top(&p.segments)));
        };
        let src = &mut self.sources[si];
        let (field_ids, nested_ids) = &mut self.source_ids[si];
        let sub: Vec<String> = p.segments[src.path.len()..].to_vec();
        if let Some(&fi) = field_ids.0.get(&sub) {
            return Some(FieldRef::Parsed { source: si as u16, field: fi });
        }
        let has_json = src.parsers.iter().any(|k| matches!(k, ParserKind::Json | ParserKind::App | ParserKind::EnvoyJson));
        let has_app = src.parsers.contains(&ParserKind::App);
        let has_envoy_json = src.parsers.contains(&ParserKind::EnvoyJson);
        let has_access = src.parsers.iter().any(|k| matches!(k, ParserKind::Access(_) | ParserKind::EnvoyJson));
        let single = (sub.len() == 1).then(|| sub[0].as_str());
        let is_format = single == Some("format");
        let is_level = has_app && single == Some("level");
        let access = if has_access { single.and_then(|n| ACCESS_FIELDS.iter().find(|(a, _, _)| *a == n)) } else { None };
        if !is_format && !is_level && access.is_none() && !has_json {
            let names: Vec<&str> = ACCESS_FIELDS.iter().map(|(n, _, _)| *n).chain(["format"]).collect();
            let word = sub.join(".");
            let mut d = Diagnostic::new(p.pos, format!("unknown field {:?}: the parsers of {} do not produce {word:?}", p.display(), display_path(&src.path)))
                .len(p.len);
            let known = names.join(", ");
            d = match did_you_mean(&word, names.iter().copied()) {
                Some(s) => d.hint(format!("did you mean {}.{s}? access-log fields: {known}", display_path(&src.path))),
                None => d.hint(format!("access-log fields: {known}; add `json` or `app` to the parsers to read JSON keys")),
            };
            self.errs.push(d);
            return None;
        }
        let mut intern = |path: &[String]| nested_ids.intern(&mut src.nested_paths, path);
        let envoy_alias = match (has_envoy_json, access) {
            (true, Some((_, _, key))) => Some(intern(&[key.to_string()])),
            _ => None,
        };
        // `level` is the normalised app level under `app`, but the raw JSON key when `json` or `envoy_json` won.
        let nested = (has_json && !is_format).then(|| intern(&sub));
        let fi = src.fields.len() as u16;
        field_ids.0.insert(sub.clone(), fi);
        src.fields.push(ParsedField { path: sub, is_format, is_level, access: access.map(|a| a.1), envoy_alias, nested });
        Some(FieldRef::Parsed { source: si as u16, field: fi })
    }

    fn cond(&mut self, e: &Expr) -> Option<Cond> {
        Some(match e {
            Expr::True => Cond::True,
            Expr::False => Cond::False,
            Expr::Cmp { path, op, lit } => {
                let f = self.field(path)?;
                let base = match lit {
                    Lit::Num(n) => Cond::Num { f, op: if *op == CmpOp::Ne { CmpOp::Eq } else { *op }, n: *n },
                    Lit::Str(s) => Cond::Str { f, op: if *op == CmpOp::Ne { CmpOp::Eq } else { *op }, s: s.as_bytes().into() },
                    Lit::Bool(_) | Lit::Null if !matches!(op, CmpOp::Eq | CmpOp::Ne) => {
                        let what = if matches!(lit, Lit::Null) { "null" } else { "a boolean" };
                        self.errs.push(
                            Diagnostic::new(path.pos, format!("{} cannot compare {what} with {}", path.display(), op.symbol()))
                                .len(path.len)
                                .hint("booleans and null only support == and !="),
                        );
                        return None;
                    }
                    Lit::Bool(b) => Cond::Bool { f, b: *b },
                    Lit::Null => Cond::Null { f },
                };
                if *op == CmpOp::Ne { Cond::Not(Box::new(base)) } else { base }
            }
            Expr::InSet { path, set } => {
                let f = self.field(path)?;
                let mut nums = Vec::new();
                let mut strs = Vec::new();
                let mut bools = [false; 2];
                let mut null = false;
                for l in set {
                    match l {
                        Lit::Num(n) => nums.push(*n),
                        Lit::Str(s) => strs.push(s.as_bytes().into()),
                        Lit::Bool(b) => bools[usize::from(*b)] = true,
                        Lit::Null => null = true,
                    }
                }
                Cond::Set { f, nums: nums.into(), strs: strs.into(), bools, null }
            }
            Expr::InRange { path, lo, hi } => Cond::Range { f: self.field(path)?, lo: *lo, hi: *hi },
            Expr::Str { path, op, lit, lit_pos } => {
                let f = self.field(path)?;
                match op {
                    StrOp::StartsWith => Cond::StartsWith { f, s: lit.as_bytes().into() },
                    StrOp::EndsWith => Cond::EndsWith { f, s: lit.as_bytes().into() },
                    StrOp::Contains => Cond::Contains { f, finder: Box::new(Finder::new(lit.as_bytes()).into_owned()) },
                    StrOp::Matches => match regex::bytes::RegexBuilder::new(lit).size_limit(1 << 22).build() {
                        Ok(re) => Cond::Regex { f, re },
                        Err(err) => {
                            let msg = err.to_string();
                            // The regex crate's message is multi-line with its own caret; keep the last line.
                            let last = msg.lines().rev().find(|l| l.trim_start().starts_with("error:")).unwrap_or(msg.lines().last().unwrap_or(""));
                            self.errs.push(
                                Diagnostic::new(*lit_pos, format!("invalid regex {lit:?}: {}", last.trim().trim_start_matches("error: ")))
                                    .len(lit.chars().count() + 2)
                                    .hint("regex syntax: https://docs.rs/regex/latest/regex/#syntax; in YAML, quote the whole condition or use a block scalar"),
                            );
                            return None;
                        }
                    },
                }
            }
            Expr::Exists(p) => Cond::Exists { f: self.field(p)? },
            Expr::Not(e) => Cond::Not(Box::new(self.cond(e)?)),
            Expr::And(v) => Cond::And(self.conds(v)?.into()),
            Expr::Or(v) => Cond::Or(self.conds(v)?.into()),
        })
    }

    fn conds(&mut self, v: &[Expr]) -> Option<Vec<Cond>> {
        // Compile every branch even after a failure so all errors are reported.
        let out: Vec<Option<Cond>> = v.iter().map(|e| self.cond(e)).collect();
        out.into_iter().collect()
    }

    fn action(&mut self, a: &ActionSpec) -> Option<CAction> {
        Some(match &a.kind {
            ActionKind::Keep => CAction::Keep,
            ActionKind::Drop => CAction::Drop,
            ActionKind::Sample { rate, key } => {
                let key = match key {
                    Some(k) => Some(self.field(k)?),
                    None => None,
                };
                CAction::Sample { rate: *rate, key }
            }
        })
    }

    /// Whether a field's string value appears verbatim in the record's bytes (so a literal prefilter is sound).
    fn verbatim(&self, f: FieldRef) -> bool {
        match f {
            FieldRef::Raw | FieldRef::Top(_) => true,
            FieldRef::Parsed { source, field } => {
                let pf = &self.sources[source as usize].fields[field as usize];
                !pf.is_format && !pf.is_level
            }
        }
    }
}

/// The longest run of bytes JSON never escapes except as `\u`; `None` if shorter than 3 bytes.
fn safe_literal(s: &[u8]) -> Option<Vec<u8>> {
    let best = s
        .split(|&b| b == b'"' || b == b'\\' || b == b'/' || b < 0x20 || b == 0x7f)
        .max_by_key(|r| r.len())
        .unwrap_or(&[]);
    (best.len() >= 3).then(|| best.to_vec())
}

/// What a record has surely been read for by the time a rule runs: the first rule's first comparison always
/// runs, so its field's JSON scan (and parse, for a parsed field) happened. A prefilter over a field read
/// already costs a search of the whole record and saves nothing, so none is built for it.
#[derive(Clone, Copy, Default)]
struct Read {
    scanned: bool,
    parsed: Option<u16>,
}

impl Read {
    fn by(first_rule: &Cond) -> Read {
        match leftmost_field(first_rule) {
            Some(FieldRef::Top(_)) => Read { scanned: true, parsed: None },
            Some(FieldRef::Parsed { source, .. }) => Read { scanned: true, parsed: Some(source) },
            Some(FieldRef::Raw) | None => Read::default(),
        }
    }

    fn covers(self, f: FieldRef) -> bool {
        match f {
            FieldRef::Raw => false,
            FieldRef::Top(_) => self.scanned,
            FieldRef::Parsed { source, .. } => self.parsed == Some(source),
        }
    }
}

/// The field of the comparison evaluated first.
fn leftmost_field(c: &Cond) -> Option<FieldRef> {
    match c {
        Cond::True | Cond::False => None,
        Cond::Num { f, .. }
        | Cond::Str { f, .. }
        | Cond::Bool { f, .. }
        | Cond::Null { f }
        | Cond::Range { f, .. }
        | Cond::Set { f, .. }
        | Cond::StartsWith { f, .. }
        | Cond::EndsWith { f, .. }
        | Cond::Contains { f, .. }
        | Cond::Regex { f, .. }
        | Cond::Exists { f } => Some(*f),
        Cond::Not(c) => leftmost_field(c),
        Cond::And(v) | Cond::Or(v) => v.first().and_then(leftmost_field),
    }
}

/// The most literals a clause may have, and the most clauses a prefilter keeps. Each literal is a search
/// through the whole record: past a few, the prefilter costs more than the rule it guards, and a condition
/// with thousands of terms would hold a searcher for each.
const MAX_PREFILTER: usize = 16;

/// Clauses (each: any of these literals) that must all hold for `c` to be true.
fn clauses(c: &Cond, comp: &Compiler, read: Read) -> Vec<Vec<Vec<u8>>> {
    let one = |f: FieldRef, s: &[u8]| -> Vec<Vec<Vec<u8>>> {
        match (comp.verbatim(f) && !read.covers(f), safe_literal(s)) {
            (true, Some(l)) => vec![vec![l]],
            _ => vec![],
        }
    };
    match c {
        Cond::Str { f, op: CmpOp::Eq, s } | Cond::StartsWith { f, s } | Cond::EndsWith { f, s } => one(*f, s),
        Cond::Contains { f, finder } => one(*f, finder.needle()),
        Cond::Set { f, nums, strs, bools, null } if nums.is_empty() && !bools[0] && !bools[1] && !null && !strs.is_empty() => {
            let lits: Option<Vec<Vec<u8>>> = strs.iter().map(|s| safe_literal(s)).collect();
            match (comp.verbatim(*f) && !read.covers(*f), lits) {
                (true, Some(l)) => vec![l],
                _ => vec![],
            }
        }
        Cond::False => vec![vec![]],
        Cond::And(v) => v.iter().flat_map(|c| clauses(c, comp, read)).collect(),
        Cond::Or(v) => {
            // Each branch must contribute one clause; their union is then required.
            let mut any = Vec::new();
            for b in v.iter() {
                let cl = clauses(b, comp, read);
                match cl.into_iter().filter(|c| !c.is_empty()).max_by_key(|c| c.iter().map(|l| l.len()).min().unwrap_or(0)) {
                    Some(c) => any.extend(c),
                    None => return vec![],
                }
                if any.len() > MAX_PREFILTER {
                    return vec![];
                }
            }
            vec![any]
        }
        _ => vec![],
    }
}

/// Renders a condition back to text for `explain`.
pub(crate) fn render(e: &Expr) -> String {
    fn lit(l: &Lit) -> String {
        match l {
            Lit::Num(n) => n.to_string(),
            Lit::Str(s) => format!("{s:?}"),
            Lit::Bool(b) => b.to_string(),
            Lit::Null => "null".into(),
        }
    }
    match e {
        Expr::True => "true".into(),
        Expr::False => "false".into(),
        Expr::Cmp { path, op, lit: l } => format!("{} {} {}", path.display(), op.symbol(), lit(l)),
        Expr::InSet { path, set } => format!("{} in [{}]", path.display(), set.iter().map(lit).collect::<Vec<_>>().join(", ")),
        Expr::InRange { path, lo, hi } => format!("{} in {lo}..{hi}", path.display()),
        Expr::Str { path, op, lit, .. } => format!("{} {} {lit:?}", path.display(), op.keyword()),
        Expr::Exists(p) => format!("exists({})", p.display()),
        Expr::Not(e) => format!("not {}", paren(e)),
        Expr::And(v) => v.iter().map(paren).collect::<Vec<_>>().join(" and "),
        Expr::Or(v) => v.iter().map(paren).collect::<Vec<_>>().join(" or "),
    }
}

fn paren(e: &Expr) -> String {
    match e {
        Expr::And(_) | Expr::Or(_) => format!("({})", render(e)),
        _ => render(e),
    }
}

/// Compiles a loaded rule file.
pub(crate) fn compile(file: RuleFile) -> Result<Plan, Vec<Diagnostic>> {
    compile_reading(file, &[])
}

/// [`compile`], with `also` read too: the same rules and decisions, and a view that can be asked for
/// `also`'s fields of a record it decided (the archive's fields: `crate::archive::spec`).
pub(crate) fn compile_reading(file: RuleFile, also: &[Path]) -> Result<Plan, Vec<Diagnostic>> {
    let mut c = Compiler::default();

    // Sources first: paths below a source resolve to its parsed fields.
    for spec in &file.parse {
        let mut parsers = Vec::new();
        for (name, at) in &spec.parsers {
            match PARSERS.iter().find(|(n, _)| n == name) {
                Some((_, kinds)) => {
                    for k in kinds.iter() {
                        if !parsers.contains(k) {
                            parsers.push(*k);
                        }
                    }
                }
                None => {
                    let names: Vec<&str> = PARSERS.iter().map(|(n, _)| *n).collect();
                    let mut d = Diagnostic::new(*at, format!("unknown field parser {name:?}")).len(name.chars().count());
                    let known = names.join(", ");
                    d = match did_you_mean(name, names.iter().copied()) {
                        Some(s) => d.hint(format!("did you mean {s:?}? known: {known}")),
                        None => d.hint(format!("known parsers: {known}")),
                    };
                    c.errs.push(d);
                }
            }
        }
        if let Some(other) = c.source_trie.overlap(&spec.field.segments).map(|i| &c.sources[i]) {
            c.errs.push(
                Diagnostic::new(spec.field.pos, format!("parse field {} overlaps {}", spec.field.display(), display_path(&other.path)))
                    .hint("a parsed field cannot sit inside another parsed field"),
            );
            continue;
        }
        let top = c.top(&spec.field.segments);
        if c.top_paths.len() > MAX_FIELDS && !c.too_many_fields {
            c.too_many_fields = true;
            c.errs.push(
                Diagnostic::new(spec.field.pos, format!("the rules read more than {MAX_FIELDS} different fields"))
                    .hint("a rule set reads a few dozen fields; check the program that wrote it"),
            );
        }
        let mut nested_paths = Vec::new();
        let mut nested_ids = Ids::default();
        let mut level_keys = Vec::new();
        if parsers.contains(&ParserKind::App) {
            for k in LEVEL_KEYS {
                level_keys.push(nested_ids.intern(&mut nested_paths, &[k.to_string()]));
            }
        }
        let envoy_marker =
            parsers.contains(&ParserKind::EnvoyJson).then(|| nested_ids.intern(&mut nested_paths, &["response_code".to_string()]));
        c.source_trie.insert(&spec.field.segments, c.sources.len());
        c.source_ids.push((Ids::default(), nested_ids));
        c.sources.push(Source {
            path: spec.field.segments.clone(),
            top,
            parsers,
            nested: PathTrie::new(&[]),
            nested_paths,
            level_keys,
            envoy_marker,
            fields: Vec::new(),
        });
    }

    let mut rules = Vec::new();
    let mut catch_all: Option<(String, crate::diag::Pos)> = None;
    // Nothing is read before the first rule; what it reads first is read for every later one.
    let mut read = Read::default();
    let mut names: HashMap<&str, crate::diag::Pos> = HashMap::new();
    for r in &file.rules {
        if let Some(at) = names.get(r.name.as_str()) {
            c.errs.push(
                Diagnostic::new(r.name_pos, format!("duplicate rule name {:?}", r.name))
                    .len(r.name.chars().count())
                    .hint(format!("first used at line {}; rule names must be unique (they name metrics and decisions)", at.line)),
            );
        }
        if r.name == "default" {
            c.errs.push(
                Diagnostic::new(r.name_pos, "rule name \"default\" is reserved").len(7).hint("\"default\" names the default action; pick another name"),
            );
        }
        names.entry(&r.name).or_insert(r.name_pos);
        if let Some((ca, at)) = &catch_all {
            c.errs.push(
                Diagnostic::new(r.name_pos, format!("rule {:?} can never match: {ca:?} ({at}) matches every record", r.name))
                    .len(r.name.chars().count())
                    .hint(format!("move it above line {} or delete it", at.line)),
            );
        }
        let cond = c.cond(&r.when);
        let action = c.action(&r.action);
        if matches!(r.when, Expr::True) && catch_all.is_none() {
            catch_all = Some((r.name.clone(), r.name_pos));
        }
        if let (Some(cond), Some(action)) = (cond, action) {
            let mut pre: Vec<Vec<Vec<u8>>> = clauses(&cond, &c, read);
            pre.truncate(MAX_PREFILTER);
            if rules.is_empty() {
                read = Read::by(&cond);
            }
            let prefilter = Prefilter {
                clauses: pre
                    .into_iter()
                    .map(|cl| cl.iter().map(|l| Finder::new(l.as_slice()).into_owned()).collect())
                    .collect(),
            };
            rules.push(CRule { name: r.name.clone(), cond, prefilter, action, priority: r.action.priority, when_text: render(&r.when) });
        }
    }
    let default = c.action(&file.default);
    let (extras, summaries, time_fields, trim) = extras(&mut c, &file);
    for p in also {
        c.field(p);
    }

    if !c.errs.is_empty() {
        return Err(c.errs);
    }
    for s in &mut c.sources {
        s.nested = PathTrie::new(&s.nested_paths);
    }
    Ok(Plan {
        name: file.name,
        top: PathTrie::new(&c.top_paths),
        top_paths: c.top_paths,
        sources: c.sources,
        rules,
        default: default.unwrap_or(CAction::Keep),
        default_priority: file.default.priority,
        tests: file.tests,
        seen: c.seen,
        extras,
        summaries,
        time_fields,
        sample_rate_field: file.sample_rate_field,
        trim,
        reads_raw: c.reads_raw,
    })
}

// ---- after the decision: summarize, trim, sample rate ---------------------------------------------

/// Summaries, trims and sample rates, per rule in file order and for the default action.
fn extras(c: &mut Compiler, file: &RuleFile) -> (Vec<Extras>, Vec<SummaryPlan>, Vec<FieldRef>, Option<Arc<TrimPlan>>) {
    let file_trim = file.trim.as_ref().and_then(|t| trim_plan(c, t)).map(Arc::new);
    let mut extras = Vec::new();
    let mut summaries = Vec::new();
    let actions = file
        .rules
        .iter()
        .map(|r| (r.name.as_str(), &r.action, r.trim.as_ref()))
        .chain(std::iter::once(("default", &file.default, None)));
    for (i, (name, action, rule_trim)) in actions.enumerate() {
        let id = if i < file.rules.len() { RuleId::from_index(i) } else { RuleId::DEFAULT };
        let mut x = Extras::default();
        if let Some(sp) = action.summarize.as_ref().and_then(|s| summary(c, s, id, name)) {
            x.summary = Some(summaries.len() as u16);
            summaries.push(sp);
        }
        if !matches!(action.kind, ActionKind::Drop) {
            let own = rule_trim.and_then(|t| trim_plan(c, t));
            x.trim = match (&file_trim, own) {
                (Some(f), Some(r)) => Some(Arc::new(TrimPlan::merged(f, &r))),
                (Some(f), None) => Some(Arc::clone(f)),
                (None, r) => r.map(Arc::new),
            };
        }
        if let (ActionKind::Sample { rate, .. }, Some(_)) = (&action.kind, &file.sample_rate_field) {
            x.rate = Some(rate.get());
        }
        extras.push(x);
    }
    // A summarized record is counted in the interval of its own time: read it in the same single pass.
    let time_fields = if summaries.is_empty() {
        Vec::new()
    } else {
        let fields: Vec<FieldRef> = ["time", "@timestamp", "timestamp"].iter().map(|k| FieldRef::Top(c.top(&[k.to_string()]))).collect();
        let first = file.rules.iter().map(|r| &r.action).chain([&file.default]).find_map(|a| a.summarize.as_ref());
        if let Some(s) = first.filter(|_| c.top_paths.len() > MAX_FIELDS && !c.too_many_fields) {
            c.too_many_fields = true;
            c.errs.push(
                Diagnostic::new(s.pos, format!("the rules read more than {MAX_FIELDS} different fields"))
                    .hint("with `summarize`, a record's time is read too (`time`, `@timestamp`, `timestamp`); a rule set reads a few dozen fields"),
            );
        }
        fields
    };
    (extras, summaries, time_fields, file_trim)
}

fn trim_plan(c: &mut Compiler, t: &TrimSpec) -> Option<TrimPlan> {
    t.plan().map_err(|e| c.errs.push(Diagnostic::new(t.pos, format!("invalid trim: {e}")))).ok()
}

fn summary(c: &mut Compiler, s: &SummarizeSpec, rule: RuleId, name: &str) -> Option<SummaryPlan> {
    let mut ok = true;
    let mut by = Vec::new();
    for (n, p) in &s.by {
        let g = match status_class_of(c, p) {
            Some(status) => c.field(&status).map(GroupField::StatusClass),
            None => c.field(p).map(GroupField::Value),
        };
        match g {
            Some(g) => by.push((n.clone(), g)),
            None => ok = false,
        }
    }
    let mut sum = Vec::new();
    for (n, p) in &s.sum {
        match c.field(p) {
            Some(f) => sum.push((n.clone(), f)),
            None => ok = false,
        }
    }
    ok.then(|| SummaryPlan {
        rule,
        rule_name: name.to_string(),
        by,
        sum,
        every_ms: s.every_secs as i64 * 1000,
        max_groups: s.max_groups,
        priority: s.priority,
    })
}

/// `<field>.status_class` below a field parsed as an access log is derived from `<field>.status`: the
/// path to read, or `None` for any other path.
fn status_class_of(c: &Compiler, p: &Path) -> Option<Path> {
    let (last, parent) = p.segments.split_last()?;
    if last != "status_class" {
        return None;
    }
    let src = &c.sources[c.source_trie.exact(parent)?];
    if !src.parsers.iter().any(|k| matches!(k, ParserKind::Access(_) | ParserKind::EnvoyJson)) {
        return None;
    }
    let mut status = p.clone();
    *status.segments.last_mut()? = "status".to_string();
    Some(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every path of up to three keys from two.
    fn paths() -> Vec<Vec<String>> {
        let mut all = vec![vec![]];
        let mut last = vec![vec![]];
        for _ in 0..3 {
            last = last.iter().flat_map(|p: &Vec<String>| ["a", "b"].map(|k| [p.clone(), vec![k.to_string()]].concat())).collect();
            all.extend(last.clone());
        }
        all
    }

    #[test]
    fn source_trie_answers_as_a_scan_of_the_sources_would() {
        let all = paths();
        // Candidates in several orders; as in `compile`, one that overlaps an accepted source is refused.
        for step in [3, 5, 7, 11, 13] {
            let mut t = SourceTrie::default();
            let mut sources: Vec<&Vec<String>> = Vec::new();
            for i in 0..all.len() {
                let c = &all[(1 + i * step) % all.len()];
                let overlap = sources.iter().position(|s| s.starts_with(c) || c.starts_with(s));
                assert_eq!(t.overlap(c), overlap, "{sources:?} {c:?}");
                if overlap.is_none() {
                    t.insert(c, sources.len());
                    sources.push(c);
                }
            }
            assert!(sources.len() > 1, "{sources:?}");
            for p in &all {
                let under = sources.iter().position(|s| p.len() > s.len() && p.starts_with(s));
                let exact = sources.iter().position(|s| *s == p);
                assert_eq!(t.under(p), under, "{sources:?} {p:?}");
                assert_eq!(t.exact(p), exact, "{sources:?} {p:?}");
            }
        }
    }

    fn prefilter_of(terms: usize) -> Option<String> {
        let when: Vec<String> = (0..terms).map(|i| format!("host == \"h-{i:02}\"")).collect();
        let yaml = format!("rules:\n  - name: hosts\n    when: {}\n    action: drop\n", when.join(" or "));
        let plan = crate::RuleSet::from_yaml("f.yaml", &yaml).unwrap().explain();
        plan.lines().find(|l| l.contains("prefilter")).map(str::to_string)
    }

    #[test]
    fn a_prefilter_has_at_most_max_prefilter_literals() {
        let line = prefilter_of(MAX_PREFILTER).expect("a prefilter");
        assert_eq!(line.matches(" or ").count(), MAX_PREFILTER - 1, "{line}");
        assert_eq!(prefilter_of(MAX_PREFILTER + 1), None);
    }
}
