//! Export: one session, or the whole account as a backup.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use confab_core::service::export::ExportFormat;
use confab_http::CurrentUser;
use futures::StreamExt;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::{ApiQuery, ApiResult};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_session))
        .routes(routes!(export_account))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct FormatQuery {
    /// `json` (the default) or `markdown`.
    format: Option<String>,
}

fn attachment(filename: &str) -> String {
    format!(
        "attachment; filename=\"{}\"",
        filename.replace(['"', '\\'], "_")
    )
}

/// One session as a file to download: JSON (Confab's backup format) or Markdown.
#[utoipa::path(get, path = "/api/chat/sessions/{id}/export", tag = "export",
    params(("id" = String, Path, description = "The session's id"), FormatQuery),
    responses((status = 200, description = "The session in Confab's backup format, or as Markdown",
        content((Object = "application/json"), (String = "text/markdown")))),
    security(("session" = []), ("token" = [])))]
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

/// The whole account as a backup file (Confab's backup format, `docs/backup-format.md`),
/// streamed.
#[utoipa::path(get, path = "/api/export", tag = "export",
    responses((status = 200, content_type = "application/json", body = Object, description = "Every session of the account")),
    security(("session" = []), ("token" = [])))]
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
