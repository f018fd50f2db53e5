//! S3 (or an S3-compatible store) as an object store.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;

use super::{ObjectStore, StoreError};

/// Objects in a bucket below a prefix (see the module docs of [`super`]). Cheap to clone.
#[derive(Clone, Debug)]
pub struct S3Store {
    client: Client,
    bucket: String,
    /// Empty, or ends with `/`.
    prefix: String,
}

impl S3Store {
    /// A store on an existing client.
    pub fn new(client: Client, bucket: &str, prefix: &str) -> S3Store {
        let prefix = prefix.trim_matches('/');
        S3Store { client, bucket: bucket.to_string(), prefix: if prefix.is_empty() { String::new() } else { format!("{prefix}/") } }
    }

    /// A store with a client from the standard AWS settings (endpoint, region, credentials).
    pub async fn from_env(bucket: &str, prefix: &str, path_style: bool) -> S3Store {
        let conf = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let s3 = aws_sdk_s3::config::Builder::from(&conf).force_path_style(path_style).build();
        S3Store::new(Client::from_conf(s3), bucket, prefix)
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn err(&self, op: &'static str, key: &str, e: impl std::error::Error) -> StoreError {
        StoreError::S3 { op, bucket: self.bucket.clone(), key: format!("{}{key}", self.prefix), message: DisplayErrorContext(e).to_string() }
    }
}

impl ObjectStore for S3Store {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(format!("{}{key}", self.prefix))
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| self.err("PutObject", key, e))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let out = self.client.get_object().bucket(&self.bucket).key(format!("{}{key}", self.prefix)).send().await.map_err(|e| {
            if e.as_service_error().is_some_and(|s| s.is_no_such_key()) {
                StoreError::NotFound(format!("s3://{}/{}{key}", self.bucket, self.prefix))
            } else {
                self.err("GetObject", key, e)
            }
        })?;
        let bytes = out.body.collect().await.map_err(|e| self.err("GetObject", key, e))?;
        Ok(bytes.to_vec())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut pages = self.client.list_objects_v2().bucket(&self.bucket).prefix(format!("{}{prefix}", self.prefix)).into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.err("ListObjectsV2", prefix, e))?;
            for o in page.contents() {
                if let Some(k) = o.key().and_then(|k| k.strip_prefix(&self.prefix)) {
                    out.push(k.to_string());
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix.trim_end_matches('/'))
    }
}
