//! Test and benchmark support for logtrim.
//!
//! - [`corpus`](mod@corpus): a seeded, deterministic generator of realistic Fluent Bit Kubernetes records.
//! - [`naive_miner`](mod@naive_miner): a straightforward regex-and-HashMap template miner, the baseline of
//!   the `suggest` bench.
//! - [`shapes`](mod@shapes): labelled log files in the shapes of real ones (Loghub's, Grafana's, syslog),
//!   written here, for measuring template mining.
//! - [`reference`](mod@reference): a slow, plain evaluator of rule files written from the spec alone, to check the core
//!   engine against (property tests) and to measure it against (benchmarks).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod corpus;
#[cfg(feature = "hec")]
#[allow(missing_docs)]
pub mod hec;
/// moto_server on 127.0.0.1 (S3, DynamoDB, Firehose) for tests; the same file as logtrim-aws's tests use.
#[allow(missing_docs)]
#[path = "../../aws/tests/moto.rs"]
pub mod moto;
pub mod naive_miner;
pub mod reference;
pub mod shapes;
