//! The API's error answer: a service error, or a request we could not even read, as
//! `{"error": {"code", "message"}}` with its status (and `Retry-After` when the service says
//! when to try again). Details of an internal error go to the log, never to the client.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::header::RETRY_AFTER;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confab_core::api::{ErrorBody, ErrorDetail};
use confab_core::service::error::explain_json_error;
use confab_core::service::ServiceError;

/// What a client is told when its request body is over the size limit (413 `body_too_large`).
pub const BODY_TOO_LARGE: &str = "the request body is larger than this server accepts";

/// The JSON error body every API answer uses: `{"error": {"code", "message"}}`.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(ErrorBody::new(code, message))).into_response()
}

/// The HTTP status of a service error: the one place each kind meets HTTP.
pub fn status_of(error: &ServiceError) -> StatusCode {
    match error {
        ServiceError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        ServiceError::Unauthorized | ServiceError::BadCredentials => StatusCode::UNAUTHORIZED,
        ServiceError::Forbidden(_) | ServiceError::Denied { .. } => StatusCode::FORBIDDEN,
        ServiceError::NotFound => StatusCode::NOT_FOUND,
        ServiceError::Conflict(_) | ServiceError::ConflictWith { .. } => StatusCode::CONFLICT,
        ServiceError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        ServiceError::TooManyRequests { .. } | ServiceError::Busy(_) => {
            StatusCode::TOO_MANY_REQUESTS
        }
        ServiceError::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
        ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// What a client is told of a service error: its code and sentence. An internal error's
/// details go to the log here and never to the client, whichever adapter answers (REST, the
/// server functions, the OpenAI-compatible endpoint): each reports errors through this.
pub fn public_error(error: &ServiceError) -> ErrorDetail {
    if let ServiceError::Internal(detail) = error {
        tracing::error!(%detail, "internal error");
    }
    told(error)
}

/// A service error's code and sentence; an internal error's sentence is "internal error".
fn told(error: &ServiceError) -> ErrorDetail {
    ErrorDetail {
        code: error.code().to_owned(),
        message: error.to_string(),
    }
}

/// The answer for a service error: its status and code, its sentence, and `Retry-After`.
fn service_error_response(error: ServiceError) -> Response {
    let detail = public_error(&error);
    let mut response = error_response(status_of(&error), &detail.code, &detail.message);
    if let Some(seconds) = error.retry_after_secs() {
        response.headers_mut().insert(RETRY_AFTER, seconds.into());
    }
    response
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The request could not be read: 400 (bad syntax), 413 (too large), 415, 422.
    #[error("{message}")]
    Request {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// The code and sentence the answer to this error carries, as `into_response` sends them,
    /// for the places that report it elsewhere too (an import's progress). Logs nothing: the
    /// answer itself logs an internal error.
    pub fn detail(&self) -> ErrorDetail {
        match self {
            ApiError::Service(error) => told(error),
            ApiError::Request { code, message, .. } => ErrorDetail {
                code: (*code).to_owned(),
                message: message.clone(),
            },
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Request {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
            _ => "malformed_json",
        };
        let message = match status {
            StatusCode::PAYLOAD_TOO_LARGE => BODY_TOO_LARGE.to_owned(),
            _ => explain_json_error(&rejection.body_text()),
        };
        ApiError::Request {
            status,
            code,
            message,
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request("invalid_query", rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Service(error) => service_error_response(error),
            ApiError::Request {
                status,
                code,
                message,
            } => error_response(status, code, &message),
        }
    }
}

#[cfg(test)]
mod tests {
    use confab_core::store::StoreError;

    use super::*;

    fn answer(error: ServiceError) -> (StatusCode, Option<String>, String) {
        let response = ApiError::from(error).into_response();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .map(|value| value.to_str().unwrap().to_owned());
        let status = response.status();
        let body =
            futures::executor::block_on(axum::body::to_bytes(response.into_body(), 4096)).unwrap();
        (
            status,
            retry_after,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    #[test]
    fn a_duplicate_reaches_the_client_without_the_databases_words() {
        let duplicate = StoreError::Duplicate("UNIQUE constraint failed: users.email".into());
        assert_eq!(
            answer(ServiceError::TooLarge(
                "the file is larger than 1 MiB".into()
            ))
            .0,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            answer(duplicate.into()),
            (
                StatusCode::CONFLICT,
                None,
                r#"{"error":{"code":"conflict","message":"this conflicts with something already saved"}}"#.into()
            )
        );
    }

    #[test]
    fn an_internal_error_is_hidden_and_a_busy_one_says_when_to_come_back() {
        assert_eq!(
            answer(ServiceError::Internal(
                "disk /var/lib/confab: I/O error".into()
            )),
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                r#"{"error":{"code":"internal","message":"internal error"}}"#.into()
            )
        );
        let busy = answer(ServiceError::Busy("busy checking passwords"));
        assert_eq!(
            (busy.0, busy.1.as_deref()),
            (StatusCode::TOO_MANY_REQUESTS, Some("1"))
        );
    }
}
