//! The headers that tell a browser how little a Confab answer may do: no framing, no MIME
//! sniffing, and no addresses leaked to other sites in `Referer`.

use axum::extract::Request;
use axum::http::header::{CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// `Referrer-Policy`: Confab's own pages may see where a request came from; other sites
/// (a link in a message) learn nothing, not even the origin.
pub const REFERRER: &str = "same-origin";

/// The Content-Security-Policy: no other site may frame a Confab page (clickjacking).
pub const CONTENT_SECURITY: &str = "frame-ancestors 'none'";

/// Gives every response the security headers.
pub async fn apply(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static(REFERRER));
    response
}
