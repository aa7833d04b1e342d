//! CSRF protection for cookie-authenticated writes. Sign-in cookies are SameSite=Lax; on top
//! of that, a state-changing request must come from our own origin (Origin header, or the
//! browser's Sec-Fetch-Site). Requests with a bearer token carry no ambient credential and
//! need no check.

use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use confab_core::service::error::error_response;

pub async fn protect(request: Request, next: Next) -> Response {
    if is_allowed(&request) {
        next.run(request).await
    } else {
        tracing::warn!(method = %request.method(), path = %request.uri().path(), "cross-site write refused");
        error_response(
            StatusCode::FORBIDDEN,
            "csrf",
            "cross-site request refused: send it from Confab's own pages or with an API token",
        )
    }
}

fn is_allowed(request: &Request) -> bool {
    let method = request.method();
    if method == Method::GET || method == Method::HEAD || method == Method::OPTIONS {
        return true;
    }
    let headers = request.headers();
    let has_bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.len() > 7 && value[..7].eq_ignore_ascii_case("bearer "));
    if has_bearer {
        return true;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok());
    if let Some(origin) = headers
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
    {
        let origin_host = origin
            .split_once("://")
            .map(|(_, rest)| rest)
            .unwrap_or(origin);
        return host.is_some_and(|host| host.eq_ignore_ascii_case(origin_host));
    }
    if let Some(site) = headers
        .get("sec-fetch-site")
        .and_then(|value| value.to_str().ok())
    {
        return site == "same-origin" || site == "none";
    }
    // No origin information at all: a non-browser client. Without a cookie there is nothing
    // to forge; with one, insist on an origin.
    !headers.contains_key(header::COOKIE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn request(method: Method, headers: &[(&str, &str)]) -> Request {
        let mut builder = axum::http::Request::builder().method(method).uri("/api/x");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::empty()).unwrap()
    }

    #[test]
    fn same_origin_and_bearer_pass_cross_site_fails() {
        let host = ("host", "127.0.0.1:3000");
        assert!(is_allowed(&request(Method::GET, &[("cookie", "a=b")])));
        assert!(is_allowed(&request(
            Method::POST,
            &[host, ("origin", "http://127.0.0.1:3000"), ("cookie", "a=b")]
        )));
        assert!(!is_allowed(&request(
            Method::POST,
            &[host, ("origin", "https://evil.example"), ("cookie", "a=b")]
        )));
        assert!(is_allowed(&request(
            Method::POST,
            &[
                host,
                ("authorization", "Bearer cfb_x"),
                ("origin", "https://evil.example")
            ]
        )));
        assert!(!is_allowed(&request(
            Method::DELETE,
            &[host, ("sec-fetch-site", "cross-site"), ("cookie", "a=b")]
        )));
        assert!(is_allowed(&request(
            Method::POST,
            &[host, ("sec-fetch-site", "same-origin"), ("cookie", "a=b")]
        )));
        assert!(!is_allowed(&request(
            Method::POST,
            &[host, ("cookie", "a=b")]
        )));
        assert!(is_allowed(&request(Method::POST, &[host])));
    }
}
