//! Phase four: running a compiled rule set over records, one worker (thread or task) at a time.
//!
//! A [`decider::Decider`] decides records and gives each a [`decider::Decided`] handle; the
//! [`pipeline::Pipeline`] carries out what follows every decision — [`trim`] what is kept, encode it as
//! an [`hec`] event, meter it, ask the daily budget, [`summary`] what is dropped — counting each step in
//! [`counters`]. [`sample`] is the stable hash of `sample` rules.

pub mod counters;
pub mod decider;
pub mod hec;
pub mod pipeline;
pub mod sample;
pub mod summary;
pub mod trim;
