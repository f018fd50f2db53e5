//! End-to-end tests through the real `logtrim` binary.

mod cli;
