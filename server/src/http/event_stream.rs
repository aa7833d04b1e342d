//! Server-sent event responses that proxies pass on as they are written.

use axum::http::{HeaderName, HeaderValue};
use axum::response::sse::Sse;
use axum::response::IntoResponse;

/// `sse` with `X-Accel-Buffering: no`: nginx (and proxies that follow its convention) then
/// pass each event on as it comes even where their configuration buffers responses, where a
/// reply held back until its end would look like a model that hangs.
pub fn unbuffered<S>(sse: Sse<S>) -> impl IntoResponse
where
    Sse<S>: IntoResponse,
{
    (
        [(
            HeaderName::from_static("x-accel-buffering"),
            HeaderValue::from_static("no"),
        )],
        sse,
    )
}
