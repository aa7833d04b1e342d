//! Extractors whose rejections use the API's error shape.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use confab_core::auth::client::Client;
use confab_http::error::BODY_TOO_LARGE;
use serde::de::{DeserializeOwned, IgnoredAny};

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
/// (`[null, null]`), which no client means and the API document does not allow. The checks come
/// in the order of axum's `Json`: the content type (415), the size (413), the syntax (400),
/// then the shape (422).
async fn json_object<T: DeserializeOwned, S: Send + Sync>(
    request: Request,
    state: &S,
) -> Result<Option<T>, ApiError> {
    if !has_json_content_type(request.headers()) {
        // Answers 415 before reading a byte of the body, as for any JSON body.
        let _ = Json::<IgnoredAny>::from_request(request, state).await?;
        return Err(not_an_object());
    }
    let (parts, body) = request.into_parts();
    let bytes = read_body(&parts, body, state).await?;
    let is_object = bytes.trim_ascii_start().starts_with(b"{");
    let is_null = bytes.trim_ascii() == b"null";
    let body = Request::from_parts(parts, Body::from(bytes));
    if is_object {
        let Json(value) = Json::<T>::from_request(body, state).await?;
        return Ok(Some(value));
    }
    // Not an object: still 400 when it is not JSON at all. `IgnoredAny` checks the syntax
    // without building anything, whatever the size of the array or string sent.
    let _ = Json::<IgnoredAny>::from_request(body, state).await?;
    if is_null {
        Ok(None)
    } else {
        Err(not_an_object())
    }
}

/// The whole body, within the server's body limit (413 `body_too_large` beyond it).
async fn read_body<S: Send + Sync>(
    parts: &Parts,
    body: Body,
    state: &S,
) -> Result<Bytes, ApiError> {
    Bytes::from_request(Request::from_parts(parts.clone(), body), state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::Request {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    code: "body_too_large",
                    message: BODY_TOO_LARGE.into(),
                }
            } else {
                ApiError::bad_request("unreadable_body", "the request body could not be read")
            }
        })
}

/// Whether the request says its body is JSON: `application/json` or `application/*+json`,
/// parameters allowed, as axum's `Json` decides.
fn has_json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || subtype.len() > 5
                && subtype
                    .get(subtype.len() - 5..)
                    .is_some_and(|suffix| suffix.eq_ignore_ascii_case("+json")))
}

/// Path parameters: 400 `invalid_path` in the API's error shape when they cannot be read (a
/// segment that is not UTF-8 once percent-decoded, `%FF`), where axum answers plain text.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(ApiError::bad_request("invalid_path", rejection.body_text())),
        }
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

/// A JSON object as the body, which may be absent: an empty body (whether its length is
/// given as 0 or it is sent chunked) or `null` mean the defaults. A body that is there is
/// read as [`ApiJson`] reads it: without a JSON content type it is refused (415), not
/// ignored.
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let length = request
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        if length.as_deref() == Some("0") {
            return Ok(OptionalJson(T::default()));
        }
        if length.is_some() && !has_json_content_type(request.headers()) {
            // A body of a stated length that is not JSON: 415 before it is read.
            return Ok(OptionalJson(
                json_object(request, state).await?.unwrap_or_default(),
            ));
        }
        // Chunked, or JSON: read it to see whether it is empty.
        let (parts, body) = request.into_parts();
        let bytes = read_body(&parts, body, state).await?;
        if bytes.is_empty() {
            return Ok(OptionalJson(T::default()));
        }
        let request = Request::from_parts(parts, Body::from(bytes));
        Ok(OptionalJson(
            json_object(request, state).await?.unwrap_or_default(),
        ))
    }
}
