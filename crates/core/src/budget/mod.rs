//! The daily byte budget: Splunk licences are metered in bytes indexed per day, so the budget counts the
//! bytes each kept record will be metered as, per licence day, and sheds the lowest priorities first as the
//! day's allowance runs out.
//!
//! - [`day`]: the licence day, midnight to midnight in an IANA time zone ([`LicenseZone`], [`LicenseDay`]).
//! - [`policy`]: the limit, shed thresholds, pacing and leasing parameters ([`BudgetSpec`]), and the unit
//!   parsers the rule file uses.
//! - [`metered`]: how many bytes Splunk meters for an event.
//! - [`accountant`]: the sans-IO state machine, [`Accountant::admit`] per record.
//! - [`store`]: the lease protocol and the in-memory and local-file stores; DynamoDB is in `logtrim-aws`.
//!
//! A front-end's loop:
//!
//! ```
//! use logtrim_core::budget::{Accountant, Admission, BudgetSpec, FileStore, LicenseZone, GB, metered_record_bytes};
//! use logtrim_core::{Action, RuleSet};
//!
//! let rules = RuleSet::from_yaml("f.yaml", "budget: {limit: 4GB, time_zone: America/New_York}\n")?;
//! let spec = rules.budget().expect("the file has a budget").clone();
//! assert_eq!(spec.limit, 4 * GB);
//! let dir = std::env::temp_dir().join(format!("logtrim-doc-{}", std::process::id()));
//! let mut store = FileStore::new(dir.join("budget.json"));
//! let now = jiff::Timestamp::now();
//! let mut acc = Accountant::new(spec, now);
//! let mut decider = rules.decider();
//! let record = br#"{"log":"GET /api 200"}"#;
//! let decision = decider.decide(record).decision();
//! if decision.action == Action::Keep {
//!     acc.sync(now, &mut store); // or: lease_request() → your async I/O → apply()
//!     let verdict = acc.admit(now, decision.priority, metered_record_bytes(record));
//!     assert_eq!(verdict, Admission::Keep);
//! }
//! let status = acc.status(now); // for metrics
//! assert_eq!(status.spent_local, 22);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod accountant;
pub mod day;
pub mod metered;
pub mod policy;
pub mod store;

pub use accountant::{Accountant, Admission, BudgetStatus, PerPriority, ShedReason, StoreState};
pub use day::{LicenseDay, LicenseZone, UnknownTimeZone};
pub use jiff::{SignedDuration, Timestamp};
pub use metered::{metered_event_bytes, metered_record_bytes, metered_text_bytes};
pub use policy::{BudgetSpec, GB, GIB, KB, KIB, MB, MIB, Thresholds, parse_share, parse_size};
pub use store::{FileStore, Lease, LeaseKey, LeaseRequest, LeaseStore, MemoryStore, StoreUnavailable, Totals};

#[cfg(test)]
mod tests;
