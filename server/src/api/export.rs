//! Export (one session, the whole account) and import.

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use confab_core::api::ImportReport;
use confab_core::auth::CurrentUser;
use confab_core::service::export::ExportFormat;
use futures::StreamExt;
use serde::Deserialize;

use crate::http::{ApiError, ApiQuery, ApiResult};
use crate::state::AppState;

pub fn router(max_import_bytes: usize) -> Router<AppState> {
    Router::new()
        .route("/api/chat/sessions/{id}/export", get(export_session))
        .route("/api/export", get(export_account))
        .route(
            "/api/import",
            post(import).layer(DefaultBodyLimit::max(max_import_bytes)),
        )
}

#[derive(Deserialize)]
struct FormatQuery {
    format: Option<String>,
}

fn attachment(filename: &str) -> String {
    format!(
        "attachment; filename=\"{}\"",
        filename.replace(['"', '\\'], "_")
    )
}

async fn export_session(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<FormatQuery>,
) -> ApiResult<Response> {
    let format = ExportFormat::parse(query.format.as_deref().unwrap_or("json"))?;
    let file = state.services.export_session(&user, &id, format).await?;
    Ok((
        [
            (header::CONTENT_TYPE, file.content_type.to_owned()),
            (header::CONTENT_DISPOSITION, attachment(&file.filename)),
        ],
        file.body,
    )
        .into_response())
}

async fn export_account(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> Response {
    let filename = format!(
        "confab-export-{}.json",
        chrono::Utc::now().format("%Y-%m-%d")
    );
    let stream = state.services.export_account(user).map(|chunk| {
        chunk.map(Bytes::from).map_err(|error| {
            // Headers are gone by now: the client sees a truncated (invalid) document.
            tracing::error!(%error, "account export failed midway");
            std::io::Error::other(error.to_string())
        })
    });
    (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CONTENT_DISPOSITION, attachment(&filename)),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

async fn import(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Json<ImportReport>> {
    let body = body.map_err(|rejection| ApiError::Request {
        status: rejection.status(),
        code: if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            "body_too_large"
        } else {
            "unreadable_body"
        },
        message: rejection.body_text(),
    })?;
    let report = state.services.import_bytes(&user, &body).await?;
    Ok(Json(report))
}
