//! The site's files (the WASM, its JavaScript glue, the stylesheet under `/pkg/`, and the
//! files of `public/` at the root), which leptos_axum serves from the release build with their
//! `.br` and `.gz` siblings (`cargo leptos build --precompress`) to clients that accept them.

use axum::extract::Request;
use axum::http::header::VARY;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// What every answer varies by, at least.
const ACCEPT_ENCODING: &str = "accept-encoding";

/// Says `Vary: accept-encoding` on every answer: a site file has a brotli, a gzip and a plain
/// body at one URL, and a cache that kept one of them for every client would hand brotli to a
/// client that cannot read it. tower-http's `ServeDir` picks the body but does not say so.
/// Every answer, not only the site files': which URLs are files is the fallback's business,
/// and the other answers lose nothing by it. A `Vary` set by someone else keeps its names.
pub async fn vary_on_encoding(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    add_vary(response.headers_mut());
    response
}

fn add_vary(headers: &mut HeaderMap) {
    let named = headers.get_all(VARY).iter().any(|value| {
        value.to_str().is_ok_and(|names| {
            names
                .split(',')
                .map(str::trim)
                .any(|name| name == "*" || name.eq_ignore_ascii_case(ACCEPT_ENCODING))
        })
    });
    if !named {
        headers.append(VARY, HeaderValue::from_static(ACCEPT_ENCODING));
    }
}

#[cfg(test)]
mod tests {
    use axum::http::header::VARY;
    use axum::http::{HeaderMap, HeaderValue};

    use super::add_vary;

    fn vary_after(existing: &[&'static str]) -> Vec<String> {
        let mut headers = HeaderMap::new();
        for value in existing {
            headers.append(VARY, HeaderValue::from_static(value));
        }
        add_vary(&mut headers);
        headers
            .get_all(VARY)
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn accept_encoding_joins_what_varies_once() {
        assert_eq!(vary_after(&[]), ["accept-encoding"]);
        assert_eq!(vary_after(&["origin"]), ["origin", "accept-encoding"]);
        assert_eq!(
            vary_after(&["Origin, Accept-Encoding"]),
            ["Origin, Accept-Encoding"]
        );
        assert_eq!(vary_after(&["*"]), ["*"]);
    }
}
