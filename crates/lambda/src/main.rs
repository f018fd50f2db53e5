//! The Lambda binary: configuration and rules once per cold start, then the runtime loop.
#![forbid(unsafe_code)]

use std::sync::{Arc, Mutex};

use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{Error, LambdaEvent, LambdaInvocation, Runtime, layers::TracingLayer, service_fn};
use logtrim_lambda::archive::Archiver;
use logtrim_lambda::config::{BudgetStore, Config};
use logtrim_lambda::handler::{Budget, BudgetBackend, State, invoke};
use logtrim_lambda::reingest::Firehose;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logtrim_lambda::init_tracing();
    if !logtrim_lambda::heap::keep_freed_memory() {
        tracing::debug!("The C library did not take the settings for freed memory; it keeps its own.");
    }
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
    let body = Body::default();
    let slot = body.clone();
    let handler = service_fn(move |_: LambdaEvent<()>| {
        let body = slot.take();
        async move {
            // The runtime serializes what it is given: as raw JSON, the response is copied, not re-encoded
            // nor parsed again.
            invoke(state, &body).await
        }
    });
    Runtime::new(handler).layer(TracingLayer::new()).layer(body).run().await
}

/// Hands the handler the request body as the runtime received it. The runtime would deserialize the
/// event into an owned payload, holding every record's data twice for a moment (a 6 MB event as
/// 12 MB); the handler reads it in place instead (`handler::invoke`). The body is taken out of the
/// invocation before the runtime sees it, which then deserializes `null` into `()`. Invocations are
/// handled one at a time, so one slot suffices.
#[derive(Clone, Default)]
struct Body(Arc<Mutex<Option<bytes::Bytes>>>);

impl Body {
    fn take(&self) -> bytes::Bytes {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take().unwrap_or_default()
    }
}

impl<S> Layer<S> for Body {
    type Service = TakeBody<S>;
    fn layer(&self, inner: S) -> TakeBody<S> {
        TakeBody { slot: self.clone(), inner }
    }
}

struct TakeBody<S> {
    slot: Body,
    inner: S,
}

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for TakeBody<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> S::Future {
        let body = std::mem::replace(&mut invocation.body, bytes::Bytes::from_static(b"null"));
        *self.slot.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(body);
        self.inner.call(invocation)
    }
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
