//! HTTP plumbing shared by the REST API and the pages (the error type and the signed-in user
//! are `confab-http`'s, which the server functions share): body and query extractors that answer in the API's error shape, who the client is (through trusted
//! proxies), CSRF protection, unbuffered event streams, metrics, the security headers of
//! every answer and the caching rule of the precompressed site files.

pub mod client;
pub mod csrf;
pub mod event_stream;
pub mod extract;
pub mod metrics;
pub mod security_headers;
pub mod static_files;

pub use confab_http::{ApiError, ApiResult};
pub use extract::{ApiJson, ApiQuery, ClientAddr, OptionalJson};

/// The span of a request: its method and path, never its query string, which carries secrets
/// (`/reset-password?token=`, `/?invitation=`, the OAuth callback's `code` and `state`).
/// tower-http's default span logs the whole URI.
pub fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    tracing::debug_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        version = ?request.version(),
    )
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use axum::http::Request;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log buffer").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_request_span_logs_the_path_without_the_query() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            for uri in [
                "/reset-password?token=cfb_reset_secret",
                "/?invitation=cfb_invitation_secret",
                "/auth/testid/callback?code=the_code_secret&state=the_state_secret",
            ] {
                let request = Request::get(uri).body(()).expect("request");
                let span = super::request_span(&request);
                let _entered = span.enter();
                tracing::debug!("finished processing request");
            }
        });
        let logged =
            String::from_utf8(captured.0.lock().expect("log buffer").clone()).expect("UTF-8 log");
        for path in [
            "path=/reset-password",
            "path=/ ",
            "path=/auth/testid/callback",
        ] {
            assert!(logged.contains(path), "{path} in {logged}");
        }
        assert!(!logged.contains("secret"), "{logged}");
        assert!(!logged.contains('?'), "{logged}");
    }
}
