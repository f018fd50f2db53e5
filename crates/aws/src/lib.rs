//! logtrim-aws: the fleet-wide daily byte budget in DynamoDB, and the stores of the archive of what is not
//! sent ([`archive`]: S3, or a local directory).
//!
//! Every forwarder pod and Lambda instance runs its own [`Accountant`] (sans-IO, in `logtrim-core`) and
//! leases budget in chunks from one DynamoDB item per budget and licence day, so the table is called about
//! once per chunk, not once per record. [`DynamoLeaseStore::lease`] applies the same rule as the core's
//! memory and file stores (see `logtrim_core::budget::store`) with atomic `UpdateItem ADD`s:
//!
//! - `ADD counted :chunk_plus_report, kept :spent` with the condition
//!   `attribute_not_exists(counted) OR counted < :limit_minus_report`: a chunk is granted only while the
//!   day's count is below the limit, so the fleet leases less than one chunk beyond it however many
//!   participants race;
//! - when the condition fails (the day is used up), an unconditional `ADD counted :report, kept :spent`, so
//!   critical records kept over the limit and spending during an outage are still counted.
//!
//! # Table
//!
//! One table, partition key `pk` (string), on-demand billing; items look like
//! `{pk: "k8s-prod#2026-03-08", counted: N, kept: N, expires_at: N}`. Enable TTL on `expires_at` (a week
//! after the day) to let DynamoDB delete old days. [`DynamoLeaseStore::create_table`] creates it (tests,
//! development); in production create it with your infrastructure code.
//!
//! # Failures
//!
//! Calls time out after 2 s (one retry), so a dead endpoint costs the pipeline little. Any failure is a
//! [`StoreUnavailable`]; the accountant then spends a conservative local share and retries with backoff
//! (see `Accountant` docs), and its [`logtrim_core::BudgetStatus`] says so.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod archive;

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue, ScalarAttributeType,
};
use logtrim_core::budget::{Accountant, Lease, LeaseKey, LeaseRequest, StoreUnavailable, Timestamp, Totals};

pub use aws_config;
pub use aws_sdk_dynamodb;
pub use aws_sdk_s3;

/// The partition key attribute.
pub const KEY_ATTR: &str = "pk";
/// How long an item outlives its day (for the TTL attribute `expires_at`).
const KEEP_FOR: i64 = 8 * 24 * 3600;

/// The budget lease store in one DynamoDB table. Cheap to clone (the client is an `Arc`).
#[derive(Clone, Debug)]
pub struct DynamoLeaseStore {
    client: Client,
    table: String,
}

impl DynamoLeaseStore {
    /// A store using an existing client. Prefer [`DynamoLeaseStore::from_sdk_config`], which sets short
    /// timeouts so an unreachable table falls back quickly.
    pub fn new(client: Client, table: impl Into<String>) -> DynamoLeaseStore {
        DynamoLeaseStore { client, table: table.into() }
    }

    /// A store from a loaded SDK config (`aws_config::load_defaults(BehaviorVersion::latest())`), with a 2 s
    /// operation timeout, a 1 s per-attempt timeout and at most 2 attempts.
    pub fn from_sdk_config(conf: &aws_config::SdkConfig, table: impl Into<String>) -> DynamoLeaseStore {
        let conf = aws_sdk_dynamodb::config::Builder::from(conf)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(1))
                    .operation_attempt_timeout(Duration::from_secs(1))
                    .operation_timeout(Duration::from_secs(2))
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(2))
            .build();
        DynamoLeaseStore::new(Client::from_conf(conf), table)
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Applies `req` (see the crate docs) and returns the grant and the day's totals.
    pub async fn lease(&self, req: &LeaseRequest) -> Result<Lease, StoreUnavailable> {
        let pk = AttributeValue::S(req.key.id());
        let expires = AttributeValue::N(expires_at(&req.key).to_string());
        if req.chunk > 0 && req.report < req.limit {
            let out = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(KEY_ATTR, pk.clone())
                .update_expression("ADD counted :c, kept :s SET expires_at = :e")
                .condition_expression("attribute_not_exists(counted) OR counted < :t")
                .expression_attribute_values(":c", num(req.chunk + req.report))
                .expression_attribute_values(":s", num(req.spent))
                .expression_attribute_values(":t", num(req.limit - req.report))
                .expression_attribute_values(":e", expires.clone())
                .return_values(ReturnValue::AllNew)
                .send()
                .await;
            match out {
                Ok(out) => return Ok(Lease { granted: req.chunk, totals: totals(out.attributes())? }),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(unavailable("UpdateItem", &e)),
            }
        }
        // No chunk wanted, or the day is used up: count the report and the spend unconditionally.
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY_ATTR, pk)
            .update_expression("ADD counted :r, kept :s SET expires_at = :e")
            .expression_attribute_values(":r", num(req.report))
            .expression_attribute_values(":s", num(req.spent))
            .expression_attribute_values(":e", expires)
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| unavailable("UpdateItem", &e))?;
        Ok(Lease { granted: 0, totals: totals(out.attributes())? })
    }

    /// The day's totals, read consistently (for reports and tests).
    pub async fn totals(&self, key: &LeaseKey) -> Result<Totals, StoreUnavailable> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY_ATTR, AttributeValue::S(key.id()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem", &e))?;
        totals(out.item())
    }

    /// Creates the table (partition key `pk`, on-demand) if it does not exist, and waits until it is active.
    pub async fn create_table(&self) -> Result<(), StoreUnavailable> {
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(KEY_ATTR)
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(build_err)?,
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(KEY_ATTR)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(build_err)?,
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => {}
            Err(e) => return Err(unavailable("CreateTable", &e)),
        }
        for _ in 0..100 {
            let d = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| unavailable("DescribeTable", &e))?;
            if d.table().and_then(|t| t.table_status()).is_some_and(|s| s.as_str() == "ACTIVE") {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(StoreUnavailable::new(format!("table {:?} did not become active", self.table)))
    }
}

/// The async counterpart of `Accountant::sync`: sends what the accountant asks for and hands back the
/// answers (at most three round trips). `clock` is read after each answer, so a slow call is not charged
/// to the wrong instant.
pub async fn sync(acc: &mut Accountant, store: &DynamoLeaseStore, clock: impl Fn() -> Timestamp) {
    for _ in 0..3 {
        let Some(req) = acc.lease_request(clock()) else { break };
        let reply = store.lease(&req).await;
        acc.apply(clock(), reply);
    }
}

/// Sends the accountant's unreported bytes (before shutdown). Returns whether the store took them.
pub async fn flush(acc: &mut Accountant, store: &DynamoLeaseStore, clock: impl Fn() -> Timestamp) -> bool {
    let mut ok = true;
    for _ in 0..8 {
        let Some(req) = acc.flush_request(clock()) else { break };
        let reply = store.lease(&req).await;
        ok = reply.is_ok();
        acc.apply(clock(), reply);
        if !ok {
            break;
        }
    }
    ok
}

fn num(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn expires_at(key: &LeaseKey) -> i64 {
    let day = key.day.parse::<jiff::civil::Date>().ok();
    let base = day.and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok()).map(|z| z.timestamp().as_second());
    base.unwrap_or_else(|| Timestamp::now().as_second()) + KEEP_FOR
}

fn totals(item: Option<&std::collections::HashMap<String, AttributeValue>>) -> Result<Totals, StoreUnavailable> {
    let get = |name: &str| -> Result<u64, StoreUnavailable> {
        match item.and_then(|i| i.get(name)) {
            None => Ok(0),
            Some(AttributeValue::N(n)) => {
                n.parse().map_err(|_| StoreUnavailable::new(format!("attribute {name} is not a count: {n:?}")))
            }
            Some(other) => Err(StoreUnavailable::new(format!("attribute {name} is not a number: {other:?}"))),
        }
    };
    Ok(Totals { counted: get("counted")?, kept: get("kept")? })
}

fn unavailable<E: std::error::Error + 'static>(op: &str, e: &E) -> StoreUnavailable {
    StoreUnavailable::new(format!("DynamoDB {op}: {}", DisplayErrorContext(e)))
}

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StoreUnavailable {
    StoreUnavailable::new(e.to_string())
}

pub mod drill;
