//! The error every server function answers with: the stable code and the sentence the REST API
//! gives for the same failure (`confab_core::api::ErrorDetail`), carried across the network as
//! JSON, so that the UI decides by code, never by the words.

use std::fmt;

use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

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

    fn from_server_fn_error(error: ServerFnErrorErr) -> Self {
        let code = match error {
            ServerFnErrorErr::Request(_) => "unreachable",
            _ => "request_failed",
        };
        AppError::new(code, error.to_string())
    }
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
}
