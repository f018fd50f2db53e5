//! logtrim-hec: the Splunk HEC sender the forwarder and `logtrim replay` share, and the `hec.*` settings
//! both read.
//!
//! - [`settings`]: the `hec:` section of the forwarder's configuration ([`settings::Hec`]), its units and
//!   its table of settings, each overridable by a `LOGTRIM_HEC_*` variable.
//! - [`sender`]: [`Sender::deliver`] sends one batch until HEC accepts it (and acknowledges it, with
//!   ack on) or rejects it for good, over [`balance`]d endpoints with retries; what a caller does with a
//!   rejected batch (the forwarder's dead letters, replay's error) is its own.
//! - [`client`]: one request and [`client::HecOutcome`], the single place answers are classified.
//! - [`balance`]: endpoints, ejection and health checks. [`ack`]: indexer acknowledgement polling.
//!
//! A caller sees what happens through an [`Observer`] (the forwarder's Prometheus metrics; nothing for
//! replay).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod ack;
pub mod balance;
pub mod client;
pub mod sender;
pub mod settings;

pub use sender::{Batch, Delivery, Sender, SenderError};
pub use settings::Hec;

/// What a [`Sender`] tells about its work, for metrics. Every method defaults to doing nothing.
pub trait Observer: Send + Sync {
    /// A request to `endpoint` came to `status` ([`client::status_label`]).
    fn request(&self, endpoint: &str, status: &str) {
        let _ = (endpoint, status);
    }
    /// A batch is sent again.
    fn retry(&self) {}
    /// An endpoint was ejected (`false`) or admitted again (`true`).
    fn endpoint_health(&self, endpoint: &str, healthy: bool) {
        let _ = (endpoint, healthy);
    }
    /// Batches awaiting an acknowledgement went up (`1`) or down (`-1`).
    fn acks_pending(&self, delta: i64) {
        let _ = delta;
    }
    /// An acknowledgement did not come in time (the batch is sent again).
    fn ack_timeout(&self) {}
    /// HEC accepted a batch without an `ackId` while ack is on.
    fn ack_missing(&self) {}
}

/// An [`Observer`] that ignores everything.
pub struct NoObserver;

impl Observer for NoObserver {}
