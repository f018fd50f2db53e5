//! Where archive objects are kept: a local directory or S3 (or an S3-compatible store), behind one small
//! [`ObjectStore`] trait that the CLI uses now and the forwarder and the Lambda can use for their
//! archives. A store only puts, gets and lists whole objects by key; what the keys and objects are is the
//! archive's (`logtrim_core::archive`).
//!
//! [`Store::open`] picks one from a location: `s3://bucket/prefix` or `file:///path` (or a plain path).
//!
//! - **Local** ([`LocalDir`]): each object is written to a temporary file beside its place, flushed to
//!   disk and renamed into place, so an object is either whole or absent, even after a crash.
//! - **S3** ([`S3Store`]): the endpoint, region and credentials come from the standard AWS settings
//!   (`AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_S3`, `AWS_REGION`, the credential chain), so MinIO, Ceph or
//!   moto work like S3; `path_style` addresses `endpoint/bucket/key` rather than `bucket.endpoint/key`,
//!   which most S3-compatible stores need. `PutObject` is atomic: a reader sees a whole object or none.
//!
//! Why a trait and an enum: the two stores are a closed set chosen at run time from a location, so
//! [`Store`] is an enum (no boxing of futures, no `dyn`); the trait is the seam a front-end is written
//! against (generic over `impl ObjectStore`), and the one a third store would implement.

mod local;
mod s3;

use std::future::Future;

pub use local::LocalDir;
pub use s3::S3Store;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No object has this key.
    #[error("{0}: no such object")]
    NotFound(String),
    /// A local file could not be read or written. (The cause is part of the message, so that `{:#}`
    /// does not print it twice.)
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        error: std::io::Error,
    },
    /// An S3 request failed (after the SDK's retries).
    #[error("s3://{bucket}/{key}: {op} failed: {message}")]
    S3 {
        /// The operation (`PutObject`, …).
        op: &'static str,
        /// The bucket.
        bucket: String,
        /// The key or prefix.
        key: String,
        /// What the SDK said, with its causes.
        message: String,
    },
    /// Not a location a store can be opened at.
    #[error("{0:?} is not an archive location: write s3://bucket/prefix, file:///path or a directory")]
    BadLocation(String),
}

/// A place that keeps whole objects by key. Keys are `/`-separated paths relative to the store's root.
pub trait ObjectStore: Send + Sync {
    /// Writes an object whole, replacing one with the same key.
    fn put(&self, key: &str, body: Vec<u8>) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Reads an object whole; [`StoreError::NotFound`] when there is none.
    fn get(&self, key: &str) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;
    /// Every key that starts with `prefix` (below it, at any depth), sorted.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
    /// The store's location, as it would be opened again (`s3://bucket/prefix`, `file:///path`).
    fn url(&self) -> String;
}

/// Settings of [`Store::open`] that a location does not say.
#[derive(Clone, Copy, Debug, Default)]
pub struct StoreOptions {
    /// S3: address objects as `endpoint/bucket/key` (MinIO, Ceph, moto) rather than `bucket.endpoint/key`.
    pub path_style: bool,
}

/// A store chosen from a location.
#[derive(Clone, Debug)]
pub enum Store {
    /// A local directory.
    Local(LocalDir),
    /// An S3 bucket and prefix.
    S3(S3Store),
}

impl Store {
    /// Opens the store at `location`: `s3://bucket[/prefix]`, `file:///path`, or a path. A local
    /// directory is created when missing; an S3 bucket is not checked until used.
    pub async fn open(location: &str, options: StoreOptions) -> Result<Store, StoreError> {
        if let Some(rest) = location.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(StoreError::BadLocation(location.to_string()));
            }
            return Ok(Store::S3(S3Store::from_env(bucket, prefix, options.path_style).await));
        }
        let path = location.strip_prefix("file://").unwrap_or(location);
        if path.is_empty() || location.contains("://") && !location.starts_with("file://") {
            return Err(StoreError::BadLocation(location.to_string()));
        }
        Ok(Store::Local(LocalDir::new(path)?))
    }
}

impl ObjectStore for Store {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        match self {
            Store::Local(s) => s.put(key, body).await,
            Store::S3(s) => s.put(key, body).await,
        }
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        match self {
            Store::Local(s) => s.get(key).await,
            Store::S3(s) => s.get(key).await,
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        match self {
            Store::Local(s) => s.list(prefix).await,
            Store::S3(s) => s.list(prefix).await,
        }
    }

    fn url(&self) -> String {
        match self {
            Store::Local(s) => s.url(),
            Store::S3(s) => s.url(),
        }
    }
}
