//! [`RuleSet`]: a rule file read ([`crate::spec`]) and compiled ([`crate::compile`]) into the immutable
//! [`crate::plan`] that deciders and pipelines run.

use std::sync::{Arc, OnceLock};

use crate::archive::spec::{ArchivePlan, ArchiveSource};

use crate::budget::BudgetSpec;
use crate::diag::{Diagnostic, Diagnostics, LineIndex, Pos};
use crate::run::decider::Decider;
use crate::primitives::RuleId;
use crate::plan::Plan;
use crate::run::summary::Summarizer;

pub use crate::compile::MAX_FIELDS;
pub use crate::spec::load::Example;

/// A compiled rule set: immutable, cheap to clone (an `Arc`), shareable across threads.
/// Make a [`Decider`] per thread or task to run it.
#[derive(Clone, Debug)]
pub struct RuleSet {
    plan: Arc<Plan>,
    budget: Option<Arc<BudgetSpec>>,
    /// What an archive of this rule set's records is compiled from, and the plan once compiled.
    archive: Arc<(ArchiveSource, OnceLock<Arc<ArchivePlan>>)>,
}

impl RuleSet {
    /// Parses, checks and compiles a rule file. `file` is only used in error messages.
    pub fn from_yaml(file: &str, text: &str) -> Result<RuleSet, Diagnostics> {
        if text.len() > crate::spec::yaml::MAX_FILE_BYTES {
            let d = Diagnostic::new(Pos::new(1, 1), format!("rule file is {} bytes, more than the {} MiB a rule file may have", text.len(), crate::spec::yaml::MAX_FILE_BYTES >> 20))
                .hint("a rule set this large is a mistake: check the program that wrote it, or merge rules with `in [...]`");
            return Err(Diagnostics::new(file, "", vec![d]));
        }
        let parsed = crate::spec::load::load(text).map_err(|e| Diagnostics::new(file, text, e))?;
        RuleSet::from_file(parsed).map_err(|e| Diagnostics::new(file, text, e))
    }

    /// Compiles a loaded rule file.
    pub(crate) fn from_file(mut parsed: crate::spec::load::RuleFile) -> Result<RuleSet, Vec<Diagnostic>> {
        let budget = parsed.budget.take().map(Arc::new);
        let source = ArchiveSource::new(&parsed);
        // An `archive:` section is checked now, so that its mistakes are reported with the others; the
        // archive's plan (the rule file's, reading its fields too) is compiled only when an archive is made.
        let archive = OnceLock::new();
        let mut errs = Vec::new();
        if source.spec.is_some()
            && let Err(e) = crate::archive::spec::compile(&source, false)
        {
            errs = e;
        }
        let plan = match crate::compile::compile(parsed) {
            Ok(p) if errs.is_empty() => p,
            Ok(_) => return Err(errs),
            Err(mut e) => {
                e.append(&mut errs);
                return Err(e);
            }
        };
        Ok(RuleSet { plan: Arc::new(plan), budget, archive: Arc::new((source, archive)) })
    }

    /// The compiled `archive:` section (the defaults without one).
    pub(crate) fn archive_plan(&self) -> Arc<ArchivePlan> {
        let (source, plan) = &*self.archive;
        Arc::clone(plan.get_or_init(|| {
            // The defaults leave out what the `parse:` section cannot read, and the rule file compiled
            // with the same section: nothing is left to fail. An empty plan if it does all the same.
            Arc::new(crate::archive::spec::compile(source, true).unwrap_or_else(|_| {
                crate::archive::spec::compile(&ArchiveSource { parse: Vec::new(), keys: Vec::new(), ..source.clone() }, false)
                    .unwrap_or_else(|_| unreachable!("the default archive fields are top-level paths"))
            }))
        }))
    }

    /// [`RuleSet::from_yaml`] for a file's bytes: text that is not UTF-8 is an error at its first bad byte.
    pub fn from_yaml_bytes(file: &str, bytes: &[u8]) -> Result<RuleSet, Diagnostics> {
        match std::str::from_utf8(bytes) {
            Ok(text) => RuleSet::from_yaml(file, text),
            Err(e) => {
                let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
                let at = LineIndex::new(valid).pos(valid.len());
                let d = Diagnostic::new(at, format!("invalid UTF-8: byte 0x{:02x}", bytes[e.valid_up_to()]))
                    .hint("rule files are UTF-8 text: save the file as UTF-8");
                Err(Diagnostics::new(file, &String::from_utf8_lossy(bytes), vec![d]))
            }
        }
    }

    /// The daily byte budget (`budget:` in the file), if any.
    pub fn budget(&self) -> Option<&BudgetSpec> {
        self.budget.as_deref()
    }

    /// A new decider with empty counters.
    pub fn decider(&self) -> Decider {
        Decider::new(Arc::clone(&self.plan))
    }

    /// A new summarizer for the records this rule set's deciders drop (see [`crate::run::summary`]); the
    /// [`crate::run::pipeline::Pipeline`] makes one beside its decider.
    pub(crate) fn summarizer(&self) -> Summarizer {
        Summarizer::new(Arc::clone(&self.plan))
    }

    /// Whether a rule has `summarize:`.
    pub fn has_summaries(&self) -> bool {
        !self.plan.summaries.is_empty()
    }

    /// Whether kept records may be changed on the way out (`trim:` or `sample_rate_field:`).
    pub fn shapes_output(&self) -> bool {
        self.plan.extras.iter().any(|x| x.trim.is_some() || x.rate.is_some())
    }

    /// The `name:` of the rule file.
    pub fn name(&self) -> Option<&str> {
        self.plan.name.as_deref()
    }

    /// Rule names in file order.
    pub fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.plan.rules.iter().map(|r| r.name.as_str())
    }

    /// The name of a rule, `default` for the default action.
    pub fn rule_name(&self, id: RuleId) -> &str {
        id.index().and_then(|i| self.plan.rules.get(i)).map_or("default", |r| r.name.as_str())
    }

    /// The id of the rule with this name (`default` gives the default action).
    pub fn rule_id(&self, name: &str) -> Option<RuleId> {
        if name == "default" {
            return Some(RuleId::DEFAULT);
        }
        self.plan.rules.iter().position(|r| r.name == name).map(RuleId::from_index)
    }

    /// The id of the `i`-th rule; `i == len()` gives the default action.
    pub fn rule_id_at(&self, i: usize) -> RuleId {
        if i >= self.plan.rules.len() { RuleId::DEFAULT } else { RuleId::from_index(i) }
    }

    /// What a rule does, in words (`keep (critical)`, `drop`, `sample 1% by log.request_id`).
    pub fn describe_action(&self, id: RuleId) -> String {
        match id.index().and_then(|i| self.plan.rules.get(i)) {
            Some(r) => crate::plan::describe_action(&r.action, r.priority, &self.plan),
            None => crate::plan::describe_action(&self.plan.default, self.plan.default_priority, &self.plan),
        }
    }

    /// Number of rules, not counting the default action.
    pub fn len(&self) -> usize {
        self.plan.rules.len()
    }

    /// Whether the file has no rules (only a default action).
    pub fn is_empty(&self) -> bool {
        self.plan.rules.is_empty()
    }

    /// The embedded examples (`tests:`).
    pub fn examples(&self) -> &[Example] {
        &self.plan.tests
    }

    /// The compiled plan in words: what is extracted, how each rule is evaluated, which prefilters apply.
    pub fn explain(&self) -> String {
        self.plan.explain()
    }
}
