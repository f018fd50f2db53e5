//! Integration tests of the Firehose Lambda.
//!
//! - `archive`: the archive of what is not sent, in S3 as moto_server: sent + archived = input.
//! - `handler`: the transform and handler on committed fixtures (AWS-documented shapes, quirks,
//!   corrupt data), checked against the rules.
//! - `summaries`: trimming and summaries (issue 6) through the transform.
//! - `moto`: re-ingestion through the real aws-sdk-firehose against moto_server, read back from S3.
//! - `watch`: the built function under `cargo lambda watch`, invoked with `cargo lambda invoke`.
//! - `template`: cfn-lint on deploy/lambda/template.yaml.
//!
//! External tools come from `.venv` (`bash scripts/python-tools`); a missing tool fails the test.

mod archive;
mod budget;
mod handler;
mod moto;
mod summaries;
mod template;
mod util;
mod watch;
