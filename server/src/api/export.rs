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
use confab_core::service::import::ImportOptions;
use futures::StreamExt;
use serde::Deserialize;
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::http::{ApiError, ApiQuery, ApiResult};
use crate::state::AppState;

pub fn router(max_import_bytes: usize) -> Router<AppState> {
    Router::new()
        .route("/api/chat/sessions/{id}/export", get(export_session))
        .route("/api/export", get(export_account))
        // The import enforces its own limit while streaming (`max_import_bytes`).
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

/// Imports the request body as it arrives: the file is parsed a conversation at a time, so a
/// large export never sits in memory whole. Over the size limit answers 413.
async fn import(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    body: Body,
) -> ApiResult<Json<ImportReport>> {
    let stream = body
        .into_data_stream()
        .map(|chunk| chunk.map_err(std::io::Error::other));
    let reader = SyncIoBridge::new(StreamReader::new(stream));
    let options = ImportOptions {
        max_bytes: state.config.max_import_bytes as u64,
    };
    match state
        .services
        .import_reader_with(&user, reader, options, |_| {})
        .await
    {
        Ok(report) => Ok(Json(report)),
        Err(error) if error.code() == "too_large" => Err(ApiError::Request {
            status: axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            code: "body_too_large",
            message: error.to_string(),
        }),
        Err(error) => Err(error.into()),
    }
}
