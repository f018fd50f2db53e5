//! The Lambda binary: configuration and rules once per cold start, then the runtime loop.
#![forbid(unsafe_code)]

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use logtrim_lambda::archive::Archiver;
use logtrim_lambda::config::{BudgetStore, Config};
use logtrim_lambda::event::FirehoseEvent;
use logtrim_lambda::handler::{Budget, BudgetBackend, State, handle};
use logtrim_lambda::reingest::Firehose;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logtrim_lambda::init_tracing();
    let state = match cold_start().await {
        Ok(s) => s,
        Err(e) => {
            // Loud: the function never serves with a broken or missing rule set.
            tracing::error!(error = %e, "Cold start failed.");
            eprintln!("logtrim-lambda: cold start failed: {e}");
            std::process::exit(1);
        }
    };
    let state = &state;
    run(service_fn(move |ev: LambdaEvent<FirehoseEvent>| handle(state, ev.payload))).await
}

async fn cold_start() -> Result<State<Firehose>, String> {
    let cfg = Config::from_env().map_err(|e| e.to_string())?;
    let rules = cfg.load_rules()?;
    tracing::info!(rules = rules.len(), name = rules.name().unwrap_or(""), output = ?cfg.output, "Rules compiled.");
    // Credentials, region and endpoint (AWS_ENDPOINT_URL) come from the environment; nothing is
    // fetched until the first PutRecordBatch.
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let budget = match cfg.budget_store(&rules)? {
        BudgetStore::Off => None,
        BudgetStore::Local => Budget::new(&rules, BudgetBackend::Local(Default::default())),
        BudgetStore::DynamoDb { table } => {
            Budget::new(&rules, BudgetBackend::DynamoDb(logtrim_aws::DynamoLeaseStore::from_sdk_config(&aws, table)))
        }
    };
    if let (Some(b), Some(_)) = (rules.budget(), &budget) {
        tracing::info!(budget = %b.name, limit = b.limit, zone = b.zone.name(), store = ?cfg.budget, "Daily byte budget enforced.");
    }
    let mut state = State::new(rules, cfg.settings(), Firehose(aws_sdk_firehose::Client::new(&aws)));
    state.budget = budget;
    state.delivery_stream = cfg.delivery_stream.clone();
    state.retry = cfg.retry;
    if let Some(a) = &cfg.archive {
        let options = logtrim_aws::archive::StoreOptions { path_style: a.path_style };
        let store = logtrim_aws::archive::Store::open(&a.location, options).await.map_err(|e| format!("LOGTRIM_ARCHIVE: {e}"))?;
        tracing::info!(archive = %logtrim_aws::archive::ObjectStore::url(&store), on_failure = ?a.on_failure, "Archiving what is not sent.");
        state = state.with_archive(Archiver::new(store, a.on_failure, a.retry));
    }
    Ok(state)
}
