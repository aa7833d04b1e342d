//! Extractors whose rejections use the API's error shape.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use confab_core::auth::client::Client;
use serde::de::DeserializeOwned;

use super::ApiError;

/// A JSON object as the body: 400 for bad syntax, 413 when too large, 415 without a JSON
/// content type, 422 for valid JSON of the wrong shape, an array or a scalar included.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match json_object(request, state).await? {
            Some(value) => Ok(ApiJson(value)),
            None => Err(not_an_object()),
        }
    }
}

fn not_an_object() -> ApiError {
    ApiError::Request {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "invalid_body",
        message: "the body must be a JSON object".into(),
    }
}

/// Reads a JSON body that is an object, or `null` (answered as `None`). Every request body of
/// the API is an object: serde would also build a struct from an array of its fields in order
/// (`[null, null]`), which no client means and the API document does not allow.
async fn json_object<T: DeserializeOwned, S: Send + Sync>(
    request: Request,
    state: &S,
) -> Result<Option<T>, ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
        .await
        .map_err(|rejection| ApiError::Request {
            status: rejection.status(),
            code: if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                "body_too_large"
            } else {
                "unreadable_body"
            },
            message: rejection.body_text(),
        })?;
    let is_object = bytes.trim_ascii_start().starts_with(b"{");
    let body = Request::from_parts(parts, Body::from(bytes));
    if is_object {
        let Json(value) = Json::<T>::from_request(body, state).await?;
        return Ok(Some(value));
    }
    // Not an object: still 415 without a JSON content type and 400 when it is not JSON at all,
    // as for any other body; `null` is no body.
    match Json::<serde_json::Value>::from_request(body, state).await? {
        Json(serde_json::Value::Null) => Ok(None),
        Json(_) => Err(not_an_object()),
    }
}

/// Query parameters: 400 when they cannot be read.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(value) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(ApiQuery(value))
    }
}

/// The client's address as the sign-in and sign-up limiters key it ("unknown" when the server runs
/// without connection information), from the [`Client`] that `client::identify` resolved.
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let address = parts
            .extensions
            .get::<Client>()
            .map_or_else(|| "unknown".to_owned(), Client::address_key);
        Ok(ClientAddr(address))
    }
}

/// A JSON object as the body, which may be absent: no body, no content type or `null` mean
/// the defaults.
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let has_body = request
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .is_none_or(|length| length != "0");
        let has_type = request
            .headers()
            .contains_key(axum::http::header::CONTENT_TYPE);
        if !has_body || !has_type {
            return Ok(OptionalJson(T::default()));
        }
        Ok(OptionalJson(
            json_object(request, state).await?.unwrap_or_default(),
        ))
    }
}
