//! Integration tests of the forwarder: the real binary against a HEC receiver on 127.0.0.1.
//!
//! - `delivery`: kept lines arrive, dropped ones do not; CRI, Docker, partial lines, metadata,
//!   `/readyz`, `/metrics`, hot reload, indexer acknowledgement, rejected batches.
//! - `faults`: kill -9 and restart, a 30 s outage (busy, then connection refused) with bounded RSS,
//!   rotation by rename and by copytruncate during writes, SIGTERM within the deadline.
//! - `summaries`: summary events add up to the dropped lines (clock, reload and shutdown flushes);
//!   kept events arrive trimmed; the budget meters summaries.
//! - `hostile`: issue 15's hostile input and faults: partial-line chains, FIFOs, truncation,
//!   receivers that answer 200 without a receipt, slow reloads, configuration and state-dir errors.
//! - `ledger`: every line read is accounted for (delivered, dropped, shed, blank, dead-lettered,
//!   pending), per file and in total, at every scrape under combined faults.
//! - `archive`: the lines not sent, archived to S3 (moto_server behind a proxy): HEC plus the archive
//!   is the input through kill -9 mid-upload and a 30 s S3 outage; a full spool pauses or loses.
//! - `manifests`: deploy/k8s passes `kubernetes-validate --strict`.
//! - `cli`: `--help` and usage errors.

mod archive;
mod cli;
mod delivery;
mod faults;
mod hostile;
mod ledger;
mod manifests;
mod summaries;
mod support;
