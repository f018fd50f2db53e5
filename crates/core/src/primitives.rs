//! The shared vocabulary: the small types every phase names. This module imports nothing from the rest
//! of the crate, so spec, compile, plan and run can all use it without importing each other.

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

    /// The id of the rule at `i`; the compiler refuses files with more rules than an id can name.
    pub(crate) fn from_index(i: usize) -> RuleId {
        debug_assert!(i < u16::MAX as usize);
        RuleId(i as u16)
    }
}

/// How much a kept record matters to the daily byte budget, which sheds the lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Shed first by the daily budget.
    Low,
    /// The default for kept records.
    Normal,
    /// Shed only when the budget is nearly spent.
    High,
    /// Never shed.
    Critical,
}

impl Priority {
    /// All priorities, lowest first.
    pub const ALL: [Priority; 4] = [Priority::Low, Priority::Normal, Priority::High, Priority::Critical];

    /// The name used in rule files.
    pub fn name(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Critical => "critical",
        }
    }

    /// Parses a rule-file name.
    pub fn from_name(s: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.name() == s)
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

/// How a record was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// A valid JSON object.
    Json,
    /// Not JSON: the line is the `log` field.
    Text,
    /// Started with `{` but is not valid JSON: read as text, and counted.
    InvalidJson,
}

/// A field value as conditions see it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    /// The field is absent (or the record is not JSON, or no parser recognised the parsed field).
    Missing,
    /// JSON `null`.
    Null,
    /// JSON `true`/`false`.
    Bool(bool),
    /// A JSON number, or a numeric access-log field.
    Num(f64),
    /// A string (decoded), or a text field.
    Str(&'a [u8]),
    /// A JSON object or array, as its JSON text.
    Container(&'a [u8]),
}
