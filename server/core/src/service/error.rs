//! The service layer's error: what went wrong in the user's terms, with the HTTP status and the
//! machine-readable code every adapter reports.

use crate::store::StoreError;

/// What a person is told when a write fails because the server's disk is full: the REST error
/// message, the server functions' error, and so the UI's notice.
pub const STORAGE_FULL_MESSAGE: &str =
    "the server's storage is full, so nothing was saved; try again once space is freed";

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Valid syntax, invalid values (422).
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    #[error("authentication required")]
    Unauthorized,
    #[error("invalid email or password")]
    BadCredentials,
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts, try again in {retry_after_secs} seconds")]
    TooManyRequests { retry_after_secs: u64 },
    /// The server's disk is full (507): the write was refused whole, and the same request
    /// succeeds once an operator frees space.
    #[error("{STORAGE_FULL_MESSAGE}")]
    StorageFull,
    #[error("internal error")]
    Internal(String),
}

impl ServiceError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        ServiceError::Invalid {
            code,
            message: message.into(),
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            ServiceError::Invalid { .. } => 422,
            ServiceError::Unauthorized | ServiceError::BadCredentials => 401,
            ServiceError::Forbidden(_) => 403,
            ServiceError::NotFound => 404,
            ServiceError::Conflict(_) => 409,
            ServiceError::TooManyRequests { .. } => 429,
            ServiceError::StorageFull => 507,
            ServiceError::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Invalid { code, .. } => code,
            ServiceError::Unauthorized => "unauthorized",
            ServiceError::BadCredentials => "bad_credentials",
            ServiceError::Forbidden(_) => "forbidden",
            ServiceError::NotFound => "not_found",
            ServiceError::Conflict(_) => "conflict",
            ServiceError::TooManyRequests { .. } => "too_many_requests",
            ServiceError::StorageFull => "storage_full",
            ServiceError::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ServiceError::NotFound,
            StoreError::Conflict(detail) => ServiceError::Conflict(detail),
            StoreError::InvalidCursor => {
                ServiceError::invalid("invalid_cursor", "the cursor is not one this server gave")
            }
            StoreError::Backend(detail) => ServiceError::Internal(detail),
            StoreError::Closed => ServiceError::Internal("the store is shutting down".into()),
            StoreError::Full => ServiceError::StorageFull,
        }
    }
}

/// The JSON error body every API answer uses: `{"error": {"code", "message"}}`.
pub fn error_response(
    status: axum::http::StatusCode,
    code: &str,
    message: &str,
) -> axum::response::Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    (status, axum::Json(body)).into_response()
}

use axum::response::IntoResponse;

impl IntoResponse for ServiceError {
    fn into_response(self) -> axum::response::Response {
        let status = axum::http::StatusCode::from_u16(self.status())
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        if let ServiceError::Internal(detail) = &self {
            // Details of a 500 go to the log, never to the client.
            tracing::error!(%detail, "internal error");
        }
        let mut response = error_response(status, self.code(), &self.to_string());
        if let ServiceError::TooManyRequests { retry_after_secs } = self {
            if let Ok(value) = retry_after_secs.to_string().parse() {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, value);
            }
        }
        response
    }
}
