//! logtrim-suggest: which log messages cost the most, and rules that cut them without hiding an error.
//!
//! - [`mask`]: cutting a message into tokens and masking its variable parts (numbers, ids, addresses,
//!   times, levels) with one hand-written pass.
//! - [`miner`]: a Drain-style template miner, per source, with bounded memory and deterministic output.
//! - [`message`]: what a record says to the miner: its source, its message, its level and status, read
//!   with the core's scanner and parsers as rules read them.
//! - [`eval`]: grouping accuracy and coverage against known templates.
//!
//! ```
//! use logtrim_suggest::miner::{Config, Kind, Miner};
//!
//! let mut miner = Miner::new(Config::default());
//! let a = miner.add(b"shop/checkout", Kind::Text, b"payment 4711 authorised in 12ms", 120);
//! let b = miner.add(b"shop/checkout", Kind::Text, b"payment 4712 authorised in 9ms", 118);
//! let mined = miner.finish();
//! assert_eq!(mined.template_of(a), mined.template_of(b));
//! assert_eq!(mined.templates[0].text(), "payment <*> authorised in <*>");
//! assert_eq!(mined.templates[0].weight, 238);
//! ```
//!
//! No async runtime, no I/O: the CLI reads the records and writes what this crate computes.
#![deny(missing_docs)]

pub mod costs;
pub mod emit;
pub mod eval;
pub mod html;
pub mod mask;
pub mod message;
pub mod miner;
pub mod pattern;
pub mod propose;
