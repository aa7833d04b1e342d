//! The error every server function answers with: the stable code and the sentence the REST API
//! gives for the same failure (`confab_core::api::ErrorDetail`), carried across the network as
//! JSON, so that the UI decides by code, never by the words.

use std::fmt;

use confab_core::api::ErrorBody;
use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};
use server_fn::Bytes;

/// A failed server function: `code` is one of the REST API's error codes (`not_found`,
/// `storage_full`, `too_many_requests`, ...), or `unreachable` when the request never got an
/// answer and `request_failed` when the answer could not be read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppError {
    pub code: String,
    pub message: String,
}

impl AppError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        AppError {
            code: code.into(),
            message: message.into(),
        }
    }

    /// What to tell a person: a sentence of the UI's own where the code calls for one, else
    /// the server's sentence.
    pub fn sentence(&self) -> String {
        match self.code.as_str() {
            "unreachable" => {
                "Confab cannot be reached: check the connection, then try again".to_owned()
            }
            "unauthorized" => "your sign-in has ended: sign in again".to_owned(),
            "not_found" => "not found: it was deleted, or it is not yours".to_owned(),
            _ => self.message.clone(),
        }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for AppError {}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    /// server_fn's own failures, in Confab's words (its wording names Rust types). On the
    /// server, a call it cannot read is the caller's fault and answered as REST answers it:
    /// 413 over the body limit, else 400.
    fn from_server_fn_error(error: ServerFnErrorErr) -> Self {
        #[cfg(feature = "ssr")]
        if let Some(refused) = refused_call(&error) {
            return refused;
        }
        match error {
            ServerFnErrorErr::Request(detail) => AppError::new("unreachable", detail),
            ServerFnErrorErr::Deserialization(_) => AppError::new(
                "request_failed",
                "the server's answer could not be read; try again",
            ),
            ServerFnErrorErr::Serialization(_) | ServerFnErrorErr::UnsupportedRequestMethod(_) => {
                AppError::new("request_failed", "the request could not be made")
            }
            _ => AppError::new("request_failed", "the request failed; try again"),
        }
    }

    /// Reads an error answer: this type as the server functions send it, or the REST API's
    /// `{"error": {"code", "message"}}` that the layers in front of them answer with (a
    /// cross-site write refused, a body over the size limit). Anything else, a proxy's HTML
    /// page say, becomes `request_failed` with a sentence of Confab's, never the parser's.
    fn de(data: Bytes) -> Self {
        if let Ok(error) = serde_json::from_slice::<AppError>(&data) {
            return error;
        }
        if let Ok(ErrorBody { error }) = serde_json::from_slice::<ErrorBody>(&data) {
            return AppError::new(error.code, error.message);
        }
        AppError::new(
            "request_failed",
            "the server's answer could not be read; try again",
        )
    }
}

/// A server function call the server cannot read: its body over the limit (server_fn reads
/// it through a length limit and reports the overflow as a deserialization error), or
/// arguments that are not the function's.
#[cfg(feature = "ssr")]
fn refused_call(error: &ServerFnErrorErr) -> Option<AppError> {
    use http::StatusCode;
    let (status, refused) = match error {
        ServerFnErrorErr::Deserialization(detail) if detail.contains("length limit exceeded") => (
            StatusCode::PAYLOAD_TOO_LARGE,
            AppError::new("body_too_large", confab_http::error::BODY_TOO_LARGE),
        ),
        ServerFnErrorErr::Deserialization(_)
        | ServerFnErrorErr::Args(_)
        | ServerFnErrorErr::MissingArg(_) => (
            StatusCode::BAD_REQUEST,
            AppError::new("invalid_request", "the request's fields could not be read"),
        ),
        _ => return None,
    };
    crate::server_fns::server::answer_status(status, None);
    Some(refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ui_decides_by_code() {
        assert_eq!(
            AppError::new("not_found", "not found").sentence(),
            "not found: it was deleted, or it is not yours"
        );
        let full = AppError::new("storage_full", "the server's storage is full");
        assert_eq!(full.sentence(), "the server's storage is full");
        let lost = AppError::from_server_fn_error(ServerFnErrorErr::Request("refused".into()));
        assert_eq!(lost.code, "unreachable");
    }

    #[test]
    fn every_error_answer_is_read_with_its_code() {
        let typed = AppError::new("storage_full", "the server's storage is full");
        assert_eq!(AppError::de(typed.ser()), typed);
        let rest = br#"{"error":{"code":"csrf","message":"cross-site request refused"}}"#;
        assert_eq!(
            AppError::de(Bytes::from_static(rest)),
            AppError::new("csrf", "cross-site request refused")
        );
        let html = Bytes::from_static(b"<html><body>502 Bad Gateway</body></html>");
        assert_eq!(
            AppError::de(html),
            AppError::new(
                "request_failed",
                "the server's answer could not be read; try again"
            )
        );
    }
}
