//! `/healthz` (the process answers), `/readyz` (rules loaded and an HEC endpoint reachable) and
//! `/metrics` (Prometheus text).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::Shared;
use crate::hec::balance::Balancer;

#[derive(Clone)]
struct App {
    shared: Arc<Shared>,
    balancer: Arc<Balancer>,
}

/// The router.
pub fn router(shared: Arc<Shared>, balancer: Arc<Balancer>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(App { shared, balancer })
}

async fn readyz(State(app): State<App>) -> impl IntoResponse {
    let rules = app.shared.rules_loaded.load(Ordering::Acquire);
    let sink = app.balancer.reachable();
    match (rules, sink) {
        (true, true) => (StatusCode::OK, "ready\n"),
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "rules not loaded\n"),
        (true, false) => (StatusCode::SERVICE_UNAVAILABLE, "no HEC endpoint reachable\n"),
    }
}

async fn metrics(State(app): State<App>) -> impl IntoResponse {
    if let Some(s) = app.shared.budget_status.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        app.shared.metrics.set_budget(s);
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], app.shared.metrics.render())
}
