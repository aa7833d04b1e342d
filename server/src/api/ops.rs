//! Health and metrics for operators.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use confab_core::api::{ErrorDetail, Health, HealthStatus};
use confab_core::service::error::STORAGE_FULL_MESSAGE;
use confab_core::store::StoreError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::metrics::{REPLY_SAVE_FAILURES_TOTAL, STORE_SIZE_BYTES};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(metrics))
}

/// 200 `{"status":"ok"}` when the store reads and writes; 503 when it cannot write
/// (`"status":"degraded"`, with the reason in `store` and a coded `error`) or does not answer
/// at all (`"status":"unavailable"`).
#[utoipa::path(get, path = "/api/health", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    match state.services.store().health().await {
        Ok(()) => (
            StatusCode::OK,
            Json(Health {
                status: HealthStatus::Ok,
                store: None,
                error: None,
            }),
        ),
        Err(StoreError::Full) => {
            tracing::warn!("health check: the store cannot write, its storage is full");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: HealthStatus::Degraded,
                    store: Some("cannot write: storage full".into()),
                    error: Some(ErrorDetail {
                        code: "storage_full".into(),
                        message: STORAGE_FULL_MESSAGE.into(),
                    }),
                }),
            )
        }
        Err(error) => {
            tracing::error!(%error, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: HealthStatus::Unavailable,
                    store: None,
                    error: Some(ErrorDetail {
                        code: "store_unavailable".into(),
                        message: "the database does not answer".into(),
                    }),
                }),
            )
        }
    }
}

/// The Prometheus exposition of this app's registry (`docs/metrics.md`), with the store's size
/// and the replies' save failures read at the time of asking.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain", body = String)))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let meter = state.services.meter();
    // A size the store cannot tell now is not 0: the gauge keeps the last one read, and a
    // failure to read it is logged rather than shown as an empty store.
    match state.services.store().size_bytes().await {
        Ok(Some(size)) => meter.gauge(STORE_SIZE_BYTES, Vec::new()).set(size as f64),
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, "the store's size could not be read for /metrics"),
    }
    meter
        .counter(REPLY_SAVE_FAILURES_TOTAL, Vec::new())
        .absolute(state.services.reply_save_failures());
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        meter.render(),
    )
}
