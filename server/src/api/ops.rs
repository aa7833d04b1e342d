//! Health and metrics for operators.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/health", get(health))
        .route("/metrics", get(metrics))
}

async fn health(State(state): State<AppState>) -> impl IntoResponse {
    match state.services.store().health().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ok" }))),
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
