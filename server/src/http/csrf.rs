//! CSRF protection for cookie-authenticated writes. Sign-in cookies are SameSite=Lax; on top
//! of that, a state-changing request must come from our own origin (Origin header, or the
//! browser's Sec-Fetch-Site). Our own origin is `CONFAB_PUBLIC_URL`'s when it is set: behind a
//! reverse proxy the `Host` that reaches Confab is often the proxy's upstream name, not what
//! the browser addressed. Without it, it is the origin the [`Client`] addressed: its host, as
//! a trusted proxy forwarded it or else as the request names it, and its scheme when a trusted
//! proxy named one (a TLS proxy Confab was not told about would otherwise make every write
//! fail). Requests with a bearer token carry no ambient credential and need no check.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::Extension;
use confab_core::auth::client::Client;
use confab_http::error_response;

/// The origin writes must come from when it is configured (`Config::public_origin`).
#[derive(Clone, Debug, Default)]
pub struct OwnOrigin(pub Option<String>);

/// Refuses a cross-site write with 403. Needs the request's [`Client`]: `client::identify`
/// runs first and always stores one (a router without it answers every request with 500).
pub async fn protect(
    State(own_origin): State<Arc<OwnOrigin>>,
    Extension(client): Extension<Client>,
    request: Request,
    next: Next,
) -> Response {
    if is_allowed(request.method(), request.headers(), &client, &own_origin) {
        next.run(request).await
    } else {
        // The path is the client's: at most its first 200 characters go to the log.
        let path: String = request.uri().path().chars().take(200).collect();
        tracing::warn!(method = %request.method(), %path, "cross-site write refused");
        error_response(
            StatusCode::FORBIDDEN,
            "csrf",
            "cross-site request refused: send it from Confab's own pages or with an API token",
        )
    }
}

fn is_allowed(
    method: &Method,
    headers: &HeaderMap,
    client: &Client,
    own_origin: &OwnOrigin,
) -> bool {
    if method == Method::GET || method == Method::HEAD || method == Method::OPTIONS {
        return true;
    }
    let has_bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.get(..7).filter(|_| value.len() > 7))
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer "));
    if has_bearer {
        return true;
    }
    if let Some(origin) = headers
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
    {
        return match &own_origin.0 {
            Some(public) => public.eq_ignore_ascii_case(origin),
            // A client that named no host (HTTP/1.0 without `Host`) addressed no origin.
            None => client.addressed(origin),
        };
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

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                value.parse().expect("value"),
            );
        }
        map
    }

    fn client(scheme: Option<&str>, host: &str) -> Client {
        Client {
            address: None,
            scheme: scheme.map(str::to_owned),
            host: Some(host.to_owned()),
        }
    }

    fn allowed(method: Method, pairs: &[(&str, &str)]) -> bool {
        let direct = client(None, "127.0.0.1:3000");
        is_allowed(&method, &headers(pairs), &direct, &OwnOrigin(None))
    }

    #[test]
    fn same_origin_and_bearer_pass_cross_site_fails() {
        assert!(allowed(Method::GET, &[("cookie", "a=b")]));
        assert!(allowed(
            Method::POST,
            &[("origin", "http://127.0.0.1:3000"), ("cookie", "a=b")]
        ));
        assert!(!allowed(
            Method::POST,
            &[("origin", "https://evil.example"), ("cookie", "a=b")]
        ));
        // No trusted proxy named the scheme: a TLS proxy may be in front.
        assert!(allowed(
            Method::POST,
            &[("origin", "https://127.0.0.1:3000"), ("cookie", "a=b")]
        ));
        assert!(!allowed(
            Method::POST,
            &[("origin", "http://127.0.0.1:3001"), ("cookie", "a=b")]
        ));
        assert!(allowed(
            Method::POST,
            &[
                ("authorization", "Bearer cfb_x"),
                ("origin", "https://evil.example")
            ]
        ));
        assert!(!allowed(
            Method::DELETE,
            &[("sec-fetch-site", "cross-site"), ("cookie", "a=b")]
        ));
        assert!(allowed(
            Method::POST,
            &[("sec-fetch-site", "same-origin"), ("cookie", "a=b")]
        ));
        assert!(!allowed(Method::POST, &[("cookie", "a=b")]));
        assert!(allowed(Method::POST, &[]));
    }

    #[test]
    fn with_a_public_url_only_its_origin_passes_whatever_the_host() {
        // nginx's default passes its upstream's name as Host.
        let behind_proxy = client(Some("http"), "confab_upstream");
        let public = OwnOrigin(Some("https://chat.example.com".to_owned()));
        let write = |origin: &str| {
            is_allowed(
                &Method::POST,
                &headers(&[("origin", origin), ("cookie", "a=b")]),
                &behind_proxy,
                &public,
            )
        };
        assert!(write("https://chat.example.com"));
        assert!(write("https://Chat.Example.com"));
        assert!(!write("http://confab_upstream"));
        assert!(!write("http://chat.example.com"));
        assert!(!write("https://evil.example"));
        assert!(!write("null"));
    }

    #[test]
    fn the_scheme_a_trusted_proxy_named_must_match() {
        let forwarded = client(Some("https"), "chat.example.com");
        let write = |origin: &str| {
            is_allowed(
                &Method::POST,
                &headers(&[("origin", origin), ("cookie", "a=b")]),
                &forwarded,
                &OwnOrigin(None),
            )
        };
        assert!(write("https://chat.example.com"));
        assert!(!write("http://chat.example.com"));
        assert!(!write("https://chat.example.com:8443"));
    }

    /// What `identify` makes of a request that names no host (HTTP/1.0 allows it); the
    /// router's answer is in server/tests/it/api.rs `cookie_writes_from_another_site_are_refused`.
    #[test]
    fn a_client_that_named_no_host_is_vouched_for_only_by_a_public_url() {
        let hostless = Client {
            address: Some(std::net::Ipv4Addr::LOCALHOST.into()),
            scheme: None,
            host: None,
        };
        let origin = headers(&[("origin", "http://127.0.0.1:3000"), ("cookie", "a=b")]);
        assert!(!is_allowed(
            &Method::POST,
            &origin,
            &hostless,
            &OwnOrigin(None)
        ));
        let public = OwnOrigin(Some("http://127.0.0.1:3000".to_owned()));
        assert!(is_allowed(&Method::POST, &origin, &hostless, &public));
    }
}
