//! The site's files under `/pkg/` (the WASM, its JavaScript glue and the stylesheet), which
//! leptos_axum serves from the release build with their `.br` and `.gz` siblings (`cargo leptos
//! build --precompress`) to clients that accept them.

use axum::extract::Request;
use axum::http::header::VARY;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// Where the site's files are served.
pub const PREFIX: &str = "/pkg/";

/// Adds `Vary: accept-encoding` to every answer under [`PREFIX`]: one URL has a brotli, a gzip
/// and a plain body, and a cache that kept one of them for every client would hand brotli to
/// a client that cannot read it. tower-http's `ServeDir` picks the body but does not say so.
pub async fn vary_on_encoding(request: Request, next: Next) -> Response {
    let static_file = request.uri().path().starts_with(PREFIX);
    let mut response = next.run(request).await;
    if static_file && !response.headers().contains_key(VARY) {
        response
            .headers_mut()
            .insert(VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}
