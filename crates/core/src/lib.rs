//! logtrim-core: declarative keep/drop/sample rules for log records, compiled once into a fast matcher,
//! and the one record pipeline every front-end drives.
//!
//! # Map
//!
//! A rule file goes through four phases, each a module:
//!
//! | phase | module | from | to |
//! |---|---|---|---|
//! | spec | [`spec`] | YAML text | a spanned AST; every mistake as `file:line:col: message` with a hint |
//! | compile | `compile` | the AST | the plan: fields interned into one trie, prefilters, regexes, checks |
//! | plan | `plan` | | the immutable program a [`RuleSet`] shares between threads, and `explain` |
//! | run | [`run`] | records | decisions ([`Decider`], [`Decided`]) and what follows them ([`Pipeline`]) |
//!
//! Beside them: [`archive`] (the outlet for records that are not sent: archive lines, objects and their
//! indexes, and the selection a replay makes, sans I/O), [`primitives`] (the vocabulary every phase names: [`RuleId`], [`Action`], [`Decision`],
//! [`Priority`], [`RecordKind`], [`Value`]; it imports nothing), [`record`] (reading fields out of one
//! record without building a tree; [`Record`], the one input type), [`budget`] (the licence day and its
//! [`Accountant`], sans I/O), [`time`] (reading timestamps), [`diag`] (positioned diagnostics).
//! ARCHITECTURE.md at the repository's root tells the path of one record through all of it.
//!
//! # Example
//!
//! ```
//! use logtrim_core::{Action, RuleSet};
//!
//! let rules = RuleSet::from_yaml("example.yaml", r#"
//! parse:
//!   log: [access]
//! rules:
//!   - name: keep-errors
//!     when: log.status >= 500
//!     action: keep
//!     priority: critical
//!   - name: drop-probes
//!     when: log.user_agent starts_with "kube-probe/"
//!     action: drop
//! default:
//!   action: keep
//! "#)?;
//! let mut decider = rules.decider();
//! let probe = br#"{"log":"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] \"GET /healthz HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.29\""}"#;
//! assert_eq!(decider.decide(probe).action(), Action::Drop);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Front-ends push records through a [`Pipeline`] (see [`run::pipeline`]) rather than calling the decider:
//! it trims, encodes, meters, asks the budget and summarizes the same way for all of them.
//!
//! This crate has no async runtime, no HTTP and no AWS dependency: the Lambda, the forwarder and the CLI
//! are thin front-ends over it.
#![deny(missing_docs)]

pub mod archive;
pub mod budget;
pub mod bytes;
pub(crate) mod compile;
pub mod diag;
pub mod gzip;
pub(crate) mod plan;
pub mod primitives;
pub mod record;
mod rules;
pub mod run;
pub mod spec;
pub mod time;

pub use budget::{Accountant, Admission, BudgetSpec, BudgetStatus, LicenseDay, LicenseZone};
pub use diag::{Diagnostic, Diagnostics, Pos};
pub use primitives::{Action, Decision, Priority, RecordKind, RuleId, Value};
pub use record::Record;
pub use rules::{Example, MAX_FIELDS, RuleSet};
pub use run::counters::{Counters, RuleCounters};
pub use run::decider::{Decided, Decider, Shaped, json_number, render};
pub use run::hec::EventValue;
pub use run::pipeline::{Encoding, NotSent, Options, Outcome, Pipeline, Seen, Sent, Sink};
pub use run::sample::{SampleRate, key_hash};
pub use run::summary::Summary;

// A rule set is shared by every thread; a decider and a pipeline move to the thread that runs them.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    const fn send<T: Send>() {}
    send_sync::<RuleSet>();
    send::<Decider>();
    send::<Pipeline>();
};
