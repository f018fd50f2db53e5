//! The daily byte budget's store, on a thread of its own: the reading thread's accountant sends lease
//! requests over a channel and picks up the answers without ever waiting for a disk or the network.

use std::sync::mpsc;
use std::time::Duration;

use logtrim_core::budget::{Accountant, FileStore, LeaseStore, Timestamp};
use logtrim_core::BudgetSpec;

use crate::config::{BudgetStore, Config};
use crate::pipeline::BudgetLink;

/// Why the budget store could not be started.
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    /// The DynamoDB store needs the `dynamodb` feature.
    #[error("budget.store: dynamodb is not built into this forwarder (cargo feature `dynamodb`)")]
    NoDynamo,
    /// The store's thread could not be started.
    #[error("cannot start the budget store's thread")]
    Thread(#[source] std::io::Error),
}

/// Starts the store worker and an accountant, and leases the first chunk (waiting at most 2 s).
pub fn start(cfg: &Config, spec: BudgetSpec) -> Result<BudgetLink, BudgetError> {
    let (req_tx, req_rx) = mpsc::channel();
    let (rep_tx, rep_rx) = mpsc::channel();
    match cfg.budget.store {
        BudgetStore::File => {
            let mut store = FileStore::new(cfg.budget_file());
            std::thread::Builder::new()
                .name("budget-store".into())
                .spawn(move || {
                    for req in req_rx {
                        if rep_tx.send(store.lease(&req)).is_err() {
                            break;
                        }
                    }
                })
                .map_err(BudgetError::Thread)?;
        }
        BudgetStore::Dynamodb => {
            #[cfg(feature = "dynamodb")]
            {
                let table = cfg.budget.dynamodb_table.clone();
                let handle = tokio::runtime::Handle::current();
                std::thread::Builder::new()
                    .name("budget-store".into())
                    .spawn(move || {
                        let conf = handle.block_on(logtrim_aws::aws_config::load_defaults(
                            logtrim_aws::aws_config::BehaviorVersion::latest(),
                        ));
                        let store = logtrim_aws::DynamoLeaseStore::from_sdk_config(&conf, table);
                        for req in req_rx {
                            if rep_tx.send(handle.block_on(store.lease(&req))).is_err() {
                                break;
                            }
                        }
                    })
                    .map_err(BudgetError::Thread)?;
            }
            #[cfg(not(feature = "dynamodb"))]
            {
                let _ = (req_rx, rep_tx);
                return Err(BudgetError::NoDynamo);
            }
        }
    }
    let now = Timestamp::now();
    let mut link = BudgetLink { acc: Accountant::new(spec, now), requests: req_tx, replies: rep_rx };
    if let Some(req) = link.acc.lease_request(now)
        && link.requests.send(req).is_ok()
        && let Ok(reply) = link.replies.recv_timeout(Duration::from_secs(2))
    {
        link.acc.apply(Timestamp::now(), reply);
    }
    Ok(link)
}
