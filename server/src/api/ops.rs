//! Health and metrics for operators.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use confab_core::service::error::STORAGE_FULL_MESSAGE;
use confab_core::store::StoreError;
use serde_json::json;

use crate::http::metrics::{REPLY_SAVE_FAILURES_TOTAL, STORE_SIZE_BYTES};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/health", get(health))
        .route("/metrics", get(metrics))
}

/// 200 `{"status":"ok"}` when the store reads and writes; 503 when it cannot write
/// (`"status":"degraded"`, with the reason in `store` and a coded `error`) or does not answer
/// at all (`"status":"unavailable"`).
async fn health(State(state): State<AppState>) -> impl IntoResponse {
    match state.services.store().health().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ok" }))),
        Err(StoreError::Full) => {
            tracing::warn!("health check: the store cannot write, its storage is full");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "degraded",
                    "store": "cannot write: storage full",
                    "error": { "code": "storage_full", "message": STORAGE_FULL_MESSAGE },
                })),
            )
        }
        Err(error) => {
            tracing::error!(%error, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(
                    json!({ "status": "unavailable", "error": { "code": "store_unavailable", "message": "the database does not answer" } }),
                ),
            )
        }
    }
}

/// The Prometheus exposition of this app's registry (`docs/metrics.md`), with the store's size
/// and the replies' save failures read at the time of asking.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let meter = state.services.meter();
    let size = state
        .services
        .store()
        .size_bytes()
        .await
        .ok()
        .flatten()
        .unwrap_or(0) as f64;
    meter.gauge(STORE_SIZE_BYTES, Vec::new()).set(size);
    meter
        .counter(REPLY_SAVE_FAILURES_TOTAL, Vec::new())
        .absolute(state.services.reply_save_failures());
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        meter.render(),
    )
}
