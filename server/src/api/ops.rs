//! Health and metrics for operators.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use confab_core::service::error::STORAGE_FULL_MESSAGE;
use confab_core::store::StoreError;
use serde_json::json;

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

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let size = state
        .services
        .store()
        .size_bytes()
        .await
        .ok()
        .flatten()
        .unwrap_or(0) as f64;
    let save_failures = state.services.reply_save_failures() as f64;
    let body = state.metrics.render(&[
        (
            "confab_store_size_bytes",
            "Bytes the store occupies on disk.",
            size,
        ),
        (
            "confab_reply_save_failures_total",
            "Finished replies that could not be saved after every retry (their text went to the client).",
            save_failures,
        ),
    ]);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
