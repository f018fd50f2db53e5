//! logtrim's Amazon Data Firehose transformation Lambda: applies a logtrim rule set to every record
//! Firehose hands over and answers with HEC event JSON for Firehose's Splunk destination.
//!
//! - [`decode`]: base64 → gzip/zlib → CloudWatch Logs message, NDJSON or text lines (pure).
//! - [`hec`]: the HEC metadata mapping, shared with the CLI (it lives in `logtrim-formats`); the events
//!   themselves are the core pipeline's.
//! - [`transform`]: the handler logic as a pure function over the core's record pipeline, including the
//!   6 MB response cap.
//! - [`reingest`]: PutRecordBatch of the overflow, with retries.
//! - [`archive`]: the events an invocation does not send, into one object of the archive (`LOGTRIM_ARCHIVE`).
//! - [`emf`]: one CloudWatch Embedded Metric Format line per invocation.
//! - [`event`]: lenient request and strict response types.
//! - [`config`]: environment variables.
//! - [`handler`]: one invocation, wiring the above.
//! - [`heap`]: memory an invocation frees is kept for the next one.
//!
//! ```
//! use logtrim_core::RuleSet;
//! use logtrim_lambda::{decode::encode_base64, event::{FirehoseRecord, FirehoseResult}, transform};
//!
//! let rules = RuleSet::from_yaml("r.yaml", "parse:\n  log: [access]\nrules:\n  - name: no-probes\n    when: log.user_agent starts_with \"kube-probe/\"\n    action: drop\ndefault:\n  action: keep\n")?;
//! let records = [
//!     r#"10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.31""#,
//!     "a plain text line",
//! ].map(|l| FirehoseRecord {
//!     record_id: l.len().to_string(),
//!     approximate_arrival_timestamp: None,
//!     data: encode_base64(l.as_bytes()),
//! });
//! let settings = transform::Settings::default();
//! let out = transform::transform(&records, &mut transform::pipeline(&rules, &settings), &settings);
//! assert_eq!(out.response().records[0].result, FirehoseResult::Dropped);
//! assert_eq!(out.response().records[1].result, FirehoseResult::Ok);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
// `deny`, not `forbid`: [`heap`] sets the allocator's parameters through one `unsafe` libc call.
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod archive;
pub mod config;
/// Decoding of Firehose record data, shared with the CLI (it lives in `logtrim-formats`).
pub use logtrim_formats::firehose as decode;
pub mod emf;
pub mod event;
pub mod handler;
pub mod heap;
/// The HEC metadata mapping, shared with the CLI (it lives in `logtrim-formats`).
pub use logtrim_formats::hec;
pub mod reingest;
pub mod transform;

/// Initializes `tracing` as JSON lines (filter from `LOGTRIM_LOG`, default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOGTRIM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_target(false)
        .with_current_span(false)
        .with_ansi(false)
        .init();
}
