//! The REST layer's error: a service error, or a request we could not even read.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use confab_core::service::error::{error_response, explain_json_error};
use confab_core::service::ServiceError;

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
            StatusCode::PAYLOAD_TOO_LARGE => {
                "the request body is larger than this server accepts".to_owned()
            }
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
            ApiError::Service(error) => error.into_response(),
            ApiError::Request {
                status,
                code,
                message,
            } => error_response(status, code, &message),
        }
    }
}
