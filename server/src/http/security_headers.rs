//! The headers that tell a browser how little a Confab page may do: a Content-Security-Policy
//! whose inline scripts must carry this response's nonce, no framing, no MIME sniffing, and no
//! addresses leaked to other sites in `Referer`.

use axum::extract::Request;
use axum::http::header::{CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use leptos::nonce::Nonce;

/// `Referrer-Policy`: Confab's own pages may see where a request came from; other sites
/// (a link in a message) learn nothing, not even the origin.
pub const REFERRER: &str = "same-origin";

/// The policy for a response whose inline scripts carry `nonce`. `'wasm-unsafe-eval'` lets
/// the page compile its WebAssembly and nothing else; every script is Confab's own file or an
/// inline script with the nonce (Leptos puts it on the hydration scripts and data); styles
/// come from Confab's stylesheet only; no page may be framed.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Gives each request a fresh nonce (in its extensions, where the page renderer finds it,
/// see [`provide_request_nonce`]) and each response the security headers.
pub async fn apply(mut request: Request, next: Next) -> Response {
    let nonce = Nonce::new();
    request.extensions_mut().insert(nonce.clone());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Ok(policy) = HeaderValue::from_str(&content_security_policy(&nonce)) {
        headers.insert(CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static(REFERRER));
    response
}

/// Puts the request's nonce (from [`apply`]) in the rendering context, in place of the one
/// Leptos made up, so that the scripts of the page and the header name the same nonce.
/// Called while a page renders, after Leptos has provided the request's parts.
pub fn provide_request_nonce() {
    let nonce = leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Nonce>().cloned());
    if let Some(nonce) = nonce {
        leptos::prelude::provide_context(nonce);
    }
}
