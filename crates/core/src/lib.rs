//! logtrim-core: declarative keep/drop/sample rules for log records, compiled once into a fast matcher.
//!
//! A rule file (YAML) names string fields to parse further (access logs, JSON, app logs), then lists
//! rules evaluated in order — first match wins — and a default action. [`RuleSet::from_yaml`] parses,
//! checks and compiles it; every mistake comes back as `file:line:col: message` with a hint. A
//! [`Decider`] per thread runs it: [`Decider::decide`] takes one record's bytes and returns a
//! [`Decision`], counting records and bytes per rule. [`Decider::decide_parts`] decides a container log
//! line given as its parts ([`record::parts`]) exactly as it would the JSON record they make.
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
//! This crate has no async runtime, no HTTP and no AWS dependency: the Lambda, the forwarder and the CLI
//! are thin front-ends over it.
#![deny(missing_docs)]

pub mod budget;
pub mod counters;
pub mod diag;
pub mod engine;
pub mod hec;
pub mod pipeline;
pub(crate) mod plan;
pub mod primitives;
pub mod record;
pub mod rules;
pub mod sample;
pub mod summary;
pub mod time;
pub mod trim;

pub use budget::{Accountant, Admission, BudgetSpec, BudgetStatus, LicenseDay, LicenseZone};
pub use counters::{Counters, RuleCounters};
pub use diag::{Diagnostic, Diagnostics, Pos};
pub use engine::{Decided, Decider, Shaped, json_number, render};
pub use pipeline::{Encoding, NotSent, Options, Outcome, Pipeline, Sink};
pub use primitives::{Action, Decision, Priority, RecordKind, RuleId, Value};
pub use record::Record;
pub use rules::{Example, RuleSet};
pub use sample::{SampleRate, key_hash};
pub use summary::Summary;

// A rule set is shared by every thread; a decider and a pipeline move to the thread that runs them.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    const fn send<T: Send>() {}
    send_sync::<RuleSet>();
    send::<Decider>();
    send::<Pipeline>();
};
