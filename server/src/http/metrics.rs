//! Prometheus metrics of the HTTP requests: a count and a latency histogram by method, route
//! and status, recorded into the app's registry (`confab_core::meter::Meter`, which also holds
//! the store's and the providers' metrics). Every metric is documented in `docs/metrics.md`.
//!
//! Every label takes its values from a fixed set, whatever clients send: an invented method
//! is `other`, a route is the matched route template (never the path, which holds ids and
//! whatever a client types) or `other`, a status is one Confab answered with. Otherwise each
//! new value would add series to the registry and the exposition for as long as the process
//! runs.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use confab_core::meter::{label, Meter};
use metrics::Unit;

/// Counter of answered requests, labels `method`, `route`, `status`.
pub const REQUESTS_TOTAL: &str = "confab_http_requests_total";
/// Histogram of the time to answer (to the response's head; a stream's body may go on),
/// labels `method`, `route`, `status`.
pub const REQUEST_SECONDS: &str = "confab_http_request_duration_seconds";
/// Gauge of the bytes the store occupies on disk.
pub const STORE_SIZE_BYTES: &str = "confab_store_size_bytes";
/// Counter of the finished replies whose save failed after every retry.
pub const REPLY_SAVE_FAILURES_TOTAL: &str = "confab_reply_save_failures_total";

/// The methods counted by name; any other is counted as `other`.
const METHODS: [&str; 9] = [
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE",
];

/// The `method` label of `method`: its name when it is a standard method, else `other`.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    METHODS
        .iter()
        .find(|known| **known == method.as_str())
        .copied()
        .unwrap_or("other")
}

/// The `route` label of a request: the template of the route it matched (`/api/sessions/{id}`),
/// else `other`.
pub fn route_label(request: &Request) -> String {
    request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "other".to_owned())
}

/// The `# HELP` of the server's own metrics (the store's and the providers' are the core's).
pub fn describe(meter: &Meter) {
    meter.describe_counter(REQUESTS_TOTAL, Unit::Count, "HTTP requests answered.");
    meter.describe_histogram(
        REQUEST_SECONDS,
        Unit::Seconds,
        "Time to answer an HTTP request, up to the response's head.",
    );
    meter.describe_gauge(
        STORE_SIZE_BYTES,
        Unit::Bytes,
        "Bytes the store occupies on disk.",
    );
    meter.describe_counter(
        REPLY_SAVE_FAILURES_TOTAL,
        Unit::Count,
        "Finished replies that could not be saved after every retry (their text went to the client).",
    );
}

/// Counts and times each request into the app's registry.
pub async fn track(State(meter): State<Meter>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    // The route template, not the path, so ids do not explode the label set.
    let route = route_label(&request);
    let response = next.run(request).await;
    let labels = vec![
        label("method", method),
        label("route", route),
        label("status", response.status().as_str().to_owned()),
    ];
    meter.counter(REQUESTS_TOTAL, labels.clone()).increment(1);
    meter
        .histogram(REQUEST_SECONDS, labels)
        .record(started.elapsed().as_secs_f64());
    response
}
