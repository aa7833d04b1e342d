//! One span per request, at INFO, and one INFO line when it is answered.
//!
//! The span's fields: `method`; `route`, the template of the route the request matched
//! (`/api/sessions/{id}`, `other` when none did), never the path, which holds ids, and never
//! the query string, which holds secrets (`/reset-password?token=`, `/?invitation=`, the OAuth
//! callback's `code` and `state`); `request_id`, also sent back in `x-request-id`; and, once
//! known, `user_id` (recorded where the user is resolved, `confab_http::current_user`),
//! `status` and `latency_us`. Everything logged while the request is served carries them.

use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::response::Response;
use tower_http::request_id::RequestId;
use tracing::field::Empty;
use tracing::Span;

/// The header that carries a request's id, in the request and in its answer.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest request id taken from a client.
const MAX_REQUEST_ID_LENGTH: usize = 64;

/// The span of a request (see the module documentation). Made after routing, so the matched
/// route is known, and after the request id is set.
pub fn request_span<B>(request: &axum::http::Request<B>) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("other", MatchedPath::as_str);
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        method = %super::metrics::method_label(request.method()),
        route = %route,
        request_id = %request_id,
        user_id = Empty,
        status = Empty,
        latency_us = Empty,
    )
}

/// Middleware, run inside the request's span: keeps the span in the request's extensions
/// ([`confab_http::RequestSpan`]), where the user is recorded once known.
pub async fn keep_span(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    request
        .extensions_mut()
        .insert(confab_http::RequestSpan(Span::current()));
    next.run(request).await
}

/// Records the answer's status and latency in the request's span and logs the request as
/// answered, once, at INFO (the time to the response's head: a stream's body may go on).
pub fn answered(response: &Response, latency: Duration, span: &Span) {
    span.record("status", response.status().as_u16());
    span.record("latency_us", latency.as_micros() as u64);
    tracing::info!(parent: span, "answered");
}

/// Forgets a client's `x-request-id` that is not a plain token of at most 64 characters
/// (letters, digits, `-`, `_`, `.`, `:`), so that `SetRequestIdLayer` makes one instead.
///
/// A well-formed one is kept: a reverse proxy in front (nginx's `$request_id`, Caddy's
/// `{http.request.uuid}`) names the request in its own log, and the same id in Confab's lets
/// an operator follow one request across both. A client talking to Confab directly can choose
/// its id too, which only names its own requests; what it cannot do is put line breaks,
/// control characters or kilobytes into the log, which is what the bound is for.
pub async fn untrusted_request_id_dropped(mut request: Request) -> Request {
    let acceptable = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .is_none_or(acceptable_request_id);
    if !acceptable {
        request.headers_mut().remove(REQUEST_ID_HEADER);
    }
    request
}

/// Whether a client's request id is short and made of plain characters.
fn acceptable_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LENGTH
        && bytes
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{HeaderValue, Request};
    use axum::response::Response;
    use confab_testdata::CapturedLog;

    /// The span names the route and never the path or its query string (where the secrets
    /// of links are), and the answered line carries the status and the latency.
    #[test]
    fn the_request_span_logs_the_route_without_the_path_or_query() {
        let captured = CapturedLog::default();
        let subscriber = captured.subscriber(tracing::Level::INFO);
        tracing::subscriber::with_default(subscriber, || {
            for uri in [
                "/reset-password?token=cfb_reset_secret",
                "/?invitation=cfb_invitation_secret",
                "/auth/testid/callback?code=the_code_secret&state=the_state_secret",
            ] {
                let request = Request::get(uri).body(()).expect("request");
                let span = super::request_span(&request);
                let response = Response::builder()
                    .status(404)
                    .body(Body::empty())
                    .expect("response");
                super::answered(&response, std::time::Duration::from_micros(1234), &span);
            }
        });
        let logged = captured.text();
        let lines: Vec<&str> = logged.lines().collect();
        assert_eq!(lines.len(), 3, "{logged}");
        for line in lines {
            assert!(
                line.contains(
                    "request{method=GET route=other request_id= status=404 latency_us=1234}: "
                ),
                "{line}"
            );
            assert!(line.contains(" INFO "), "{line}");
        }
        assert!(!logged.contains("secret"), "{logged}");
        assert!(!logged.contains('?'), "{logged}");
        assert!(!logged.contains("testid"), "{logged}");
    }

    #[test]
    fn only_short_plain_request_ids_are_taken_from_clients() {
        for (id, kept) in [
            ("0191d5c8-7a6e-7c2f-9d3e-4b5a6c7d8e9f", true),
            ("nginx.4f2a:17_b", true),
            (&"a".repeat(64), true),
            (&"a".repeat(65), false),
            ("", false),
            ("two words", false),
            ("tab\there", false),
            ("é", false),
        ] {
            let value = HeaderValue::from_bytes(id.as_bytes()).expect("header value");
            assert_eq!(super::acceptable_request_id(&value), kept, "{id:?}");
        }
    }
}
