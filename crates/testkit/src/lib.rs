//! Test and benchmark support for logtrim.
//!
//! - [`corpus`](mod@corpus): a seeded, deterministic generator of realistic Fluent Bit Kubernetes records.
//! - [`reference`](mod@reference): a slow, plain evaluator of rule files written from the spec alone, to check the core
//!   engine against (property tests) and to measure it against (benchmarks).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod corpus;
pub mod reference;
