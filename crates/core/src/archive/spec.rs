//! `archive:` in a rule file: which records an archive keeps and how its objects are laid out — the same
//! for every front-end, so one rule file gives one archive layout in the CLI, the Lambda and the
//! forwarder. Where the archive is (a directory, an S3 bucket) is the front-end's setting, not the rule
//! file's: see [`super`].

use std::sync::Arc;

use crate::diag::{Diagnostic, Pos};
use crate::plan::{FieldRef, Plan};
use crate::spec::ast::{Expr, Path, display_path};
use crate::spec::load::{ActionKind, ActionSpec, ParseSpec, Rule, RuleFile};
use crate::primitives::Priority;

/// The default `object_size`: uncompressed bytes of one object (about 3 MB once compressed).
pub const DEFAULT_OBJECT_BYTES: u64 = 32 << 20;
/// The default `gzip_level`: 1, logtrim's own one-pass encoder ([`crate::gzip::Gzip`]). Archiving is
/// most of a forwarder's cost when it is on, and compressing most of that: level 1 takes well under
/// half of zlib-rs level 3's instructions for about half as many stored bytes again (BENCHMARKS.md),
/// and stored bytes are the cheap side of the trade.
pub const DEFAULT_GZIP_LEVEL: u32 = 1;

/// Why a record is in the archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// A `drop` rule (or a `drop` default) dropped it.
    Dropped,
    /// A `sample` rule left it out.
    Sampled,
    /// The rules kept it; the daily byte budget shed it.
    Shed,
    /// The rules kept it, but nothing was left of its event (HEC refuses blank events).
    Blank,
    /// It was sent (only with `include: [..., kept]`).
    Kept,
}

impl Reason {
    /// Every reason, in the order of [`Reason::index`].
    pub const ALL: [Reason; 5] = [Reason::Dropped, Reason::Sampled, Reason::Shed, Reason::Blank, Reason::Kept];

    /// The name in rule files and archive lines.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Dropped => "dropped",
            Reason::Sampled => "sampled",
            Reason::Shed => "shed",
            Reason::Blank => "blank",
            Reason::Kept => "kept",
        }
    }

    /// Parses a name.
    pub fn from_name(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.name() == s)
    }

    /// Its position in [`Reason::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// `archive:` as written (defaults filled in by [`ArchiveSpec::default`]).
#[derive(Clone, Debug)]
pub struct ArchiveSpec {
    /// Where the section is written.
    pub pos: Pos,
    /// Which records are archived.
    pub include: Vec<Reason>,
    /// Fields whose first present value names a record's source partition; `None`: the defaults
    /// (`kubernetes.namespace_name`, `cloudwatch.logGroup`).
    pub partition: Option<Vec<Path>>,
    /// Fields whose values each object's index lists (or filters); `None`: the defaults
    /// (`kubernetes.container_name`, `kubernetes.pod_name`, `cloudwatch.logStream` and every sample
    /// rule's `key`).
    pub index: Option<Vec<Path>>,
    /// Uncompressed bytes of one object at most (a record larger than this is an object of its own).
    pub object_bytes: u64,
    /// gzip level, 1–9: 1 by logtrim's own encoder, 2–9 by zlib-rs.
    pub gzip_level: u32,
}

impl Default for ArchiveSpec {
    fn default() -> ArchiveSpec {
        ArchiveSpec {
            pos: Pos::new(1, 1),
            include: vec![Reason::Dropped, Reason::Sampled, Reason::Shed, Reason::Blank],
            partition: None,
            index: None,
            object_bytes: DEFAULT_OBJECT_BYTES,
            gzip_level: DEFAULT_GZIP_LEVEL,
        }
    }
}

/// The paths of the default partition.
const DEFAULT_PARTITION: [&[&str]; 2] = [&["kubernetes", "namespace_name"], &["cloudwatch", "logGroup"]];
/// The paths always indexed by default, before the sample keys.
const DEFAULT_INDEX: [&[&str]; 3] = [&["kubernetes", "container_name"], &["kubernetes", "pod_name"], &["cloudwatch", "logStream"]];
/// A record's own time, as summaries read it.
const TIME: [&str; 3] = ["time", "@timestamp", "timestamp"];

/// `archive:` compiled: the fields an [`super::Archive`] reads of each record, in a plan of their own so
/// that archiving costs nothing to a rule set's deciders. That plan is the rule set's, reading these
/// fields too: a pipeline that archives decides with it ([`crate::Pipeline::read_for_archive`]), and the
/// archive then reads what the decider already read (a request id from the access log it parsed)
/// instead of parsing the record a second time.
#[derive(Debug)]
pub(crate) struct ArchivePlan {
    /// By [`Reason::index`].
    pub include: [bool; 5],
    pub object_bytes: u64,
    pub gzip_level: u32,
    /// The rule file's plan reading the fields below too (or, if that cannot be compiled, its `parse:`
    /// section and these fields alone); the archive's own view reads records with it that a decider on
    /// the same plan did not hand over.
    pub fields: Arc<Plan>,
    /// Whether `fields` is the rule file's plan (it decides as the rule set does).
    pub decides: bool,
    pub time: Vec<FieldRef>,
    pub partition: Vec<FieldRef>,
    /// The partition fields by name, for an archive whose front-end names the source
    /// ([`super::ArchiveOptions::source`]): they are indexed instead.
    pub partition_named: Vec<(String, FieldRef)>,
    /// Name as written, and field.
    pub index: Vec<(String, FieldRef)>,
    /// Per rule of the rule set, the default last: whether it samples (its drops are `sampled`).
    pub samples: Vec<bool>,
}

fn default_path(segments: &[&str], pos: Pos) -> Path {
    Path { segments: segments.iter().map(|s| s.to_string()).collect(), pos, len: 1 }
}

/// What an archive plan is compiled from: kept by a [`crate::RuleSet`] so that the plan is compiled only
/// when an archive is made (a rule file with an `archive:` section is compiled at once, to report its
/// mistakes).
#[derive(Clone, Debug)]
pub(crate) struct ArchiveSource {
    /// The rule file (its rules, for the plan that decides and reads the archive's fields at once).
    pub file: Arc<RuleFile>,
    pub parse: Vec<ParseSpec>,
    /// The sample rules' keys, indexed by default.
    pub keys: Vec<Path>,
    pub spec: Option<ArchiveSpec>,
    /// Per rule, the default last: whether it samples.
    pub samples: Vec<bool>,
}

impl ArchiveSource {
    pub fn new(file: &RuleFile) -> ArchiveSource {
        let actions = || file.rules.iter().map(|r| &r.action).chain([&file.default]);
        ArchiveSource {
            file: Arc::new(file.clone()),
            parse: file.parse.clone(),
            keys: actions()
                .filter_map(|a| match &a.kind {
                    ActionKind::Sample { key: Some(k), .. } => Some(k.clone()),
                    _ => None,
                })
                .collect(),
            spec: file.archive.clone(),
            samples: actions().map(|a| matches!(a.kind, ActionKind::Sample { .. })).collect(),
        }
    }
}

/// A rule file reading `paths` (each with `exists(…)`), with the `parse:` section `parse`.
fn reader(parse: &[ParseSpec], paths: &[Path]) -> RuleFile {
    let when = Expr::Or(paths.iter().cloned().map(Expr::Exists).collect());
    let keep = || ActionSpec { kind: ActionKind::Keep, priority: Priority::Normal, summarize: None };
    RuleFile {
        name: None,
        parse: parse.to_vec(),
        rules: vec![Rule { name: "archive-fields".into(), name_pos: Pos::new(1, 1), when, action: keep(), trim: None }],
        default: keep(),
        tests: Vec::new(),
        budget: None,
        trim: None,
        sample_rate_field: None,
        archive: None,
    }
}

/// Compiles the archive plan of `src` (the defaults when its file has no `archive:`) against its `parse:`
/// section. Paths written in the file that cannot be read are errors at their place; default paths that
/// this `parse:` section cannot read (a `kubernetes` field parsed as an access log) are left out. With
/// `with_rules`, the plan's fields are read by the rule file's own plan (see [`ArchivePlan::fields`]);
/// without, by a plan of these fields alone (enough to check the section).
pub(crate) fn compile(src: &ArchiveSource, with_rules: bool) -> Result<ArchivePlan, Vec<Diagnostic>> {
    let default = ArchiveSpec::default();
    let spec = src.spec.as_ref().unwrap_or(&default);
    let at = spec.pos;
    let time: Vec<Path> = TIME.iter().map(|k| default_path(&[k], at)).collect();
    let (mut partition, partition_given) = match &spec.partition {
        Some(p) => (p.clone(), true),
        None => (DEFAULT_PARTITION.iter().map(|p| default_path(p, at)).collect(), false),
    };
    let (mut index, index_given) = match &spec.index {
        Some(p) => (p.clone(), true),
        None => {
            let mut v: Vec<Path> = DEFAULT_INDEX.iter().map(|p| default_path(p, at)).collect();
            for k in &src.keys {
                if !v.iter().any(|p| p.segments == k.segments) {
                    v.push(Path { pos: at, ..k.clone() });
                }
            }
            (v, false)
        }
    };
    let all = |time: &[Path], partition: &[Path], index: &[Path]| time.iter().chain(partition).chain(index).cloned().collect::<Vec<_>>();
    let plan = match crate::compile::compile(reader(&src.parse, &all(&time, &partition, &index))) {
        Ok(p) => p,
        Err(e) if partition_given && index_given => return Err(e),
        Err(_) => {
            // Some default path cannot be read with this `parse:` section: leave those out.
            let readable = |p: &Path| crate::compile::compile(reader(&src.parse, std::slice::from_ref(p))).is_ok();
            if !partition_given {
                partition.retain(|p| readable(p));
            }
            if !index_given {
                index.retain(|p| readable(p));
            }
            crate::compile::compile(reader(&src.parse, &all(&time, &partition, &index)))?
        }
    };
    // The rule file's mistakes are its own compile's to report: if its plan cannot be made, the fields'
    // plan alone reads them.
    let (plan, decides) = match with_rules.then(|| crate::compile::compile_reading((*src.file).clone(), &all(&time, &partition, &index))) {
        Some(Ok(rules)) => (rules, true),
        _ => (plan, false),
    };
    let field = |p: &Path| {
        let name = p.display();
        plan.seen.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    };
    let refs = |ps: &[Path]| ps.iter().filter_map(field).collect::<Vec<_>>();
    let mut include = [false; 5];
    for r in &spec.include {
        include[r.index()] = true;
    }
    let named = |ps: &[Path]| ps.iter().filter_map(|p| Some((display_path(&p.segments), field(p)?))).collect::<Vec<_>>();
    let index = named(&index);
    Ok(ArchivePlan {
        partition_named: named(&partition),
        include,
        object_bytes: spec.object_bytes,
        gzip_level: spec.gzip_level,
        time: refs(&time),
        partition: refs(&partition),
        index,
        samples: src.samples.clone(),
        fields: Arc::new(plan),
        decides,
    })
}
