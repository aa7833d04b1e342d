//! Export: one session, or the whole account as a backup.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use confab_core::api::SessionsExportInput;
use confab_core::service::export::{ExportFormat, ExportStream};
use confab_http::CurrentUser;
use futures::StreamExt;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::{ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_session))
        .routes(routes!(export_account))
        .routes(routes!(export_sessions))
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
    ApiPath(id): ApiPath<String>,
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

/// The chosen conversations as one file to download (`Services::export_sessions`): Confab's
/// backup format holding just them, or their Markdown one after the other. The body is JSON
/// (`SessionsExportInput`) or, so that a page's form can ask for the download, a form with
/// `ids` (comma-separated) and `format`. 404 when an id is not one of the user's live
/// conversations (nothing is written), 422 `invalid_ids` or `invalid_format`.
#[utoipa::path(post, path = "/api/chat/sessions/export", operation_id = "export_sessions", tag = "export",
    request_body(content((SessionsExportInput = "application/json"), (ExportForm = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The conversations in Confab's backup format, or as Markdown",
        content((Object = "application/json"), (String = "text/markdown")))),
    security(("session" = []), ("token" = [])))]
async fn export_sessions(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    request: Request,
) -> ApiResult<Response> {
    let input = if is_form(&request) {
        let axum::Form(form) = axum::Form::<ExportForm>::from_request(request, &state)
            .await
            .map_err(|rejection| {
                crate::http::ApiError::bad_request("invalid_body", rejection.body_text())
            })?;
        SessionsExportInput {
            ids: form
                .ids
                .split(',')
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .collect(),
            format: form.format,
        }
    } else {
        let ApiJson(input) = ApiJson::<SessionsExportInput>::from_request(request, &state).await?;
        input
    };
    let ExportStream {
        filename,
        content_type,
        body,
    } = state.services.export_sessions(&user, input).await?;
    let body = body.map(|chunk| {
        chunk.map(Bytes::from).map_err(|error| {
            // Headers are gone by now: the client sees a truncated (invalid) file.
            tracing::error!(%error, "export of chosen conversations failed midway");
            std::io::Error::other(error.to_string())
        })
    });
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, attachment(&filename)),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// The form a page posts to download chosen conversations.
#[derive(Deserialize, utoipa::ToSchema)]
struct ExportForm {
    /// The conversations' ids, comma-separated (1 to 1,000).
    ids: String,
    /// `json` (the default) or `markdown`.
    #[serde(default)]
    format: Option<String>,
}

fn is_form(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}
