//! Prometheus metrics: request counts and latency by method, route and status.
//!
//! Every label takes its values from a fixed set, whatever clients send: an invented method
//! is `other`, a route is the matched route template (never the path, which holds ids and
//! whatever a client types) or `other`, a status is one Confab answered with. Otherwise each
//! new value would add rows to the map and the exposition for as long as the process runs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

/// (method, route, status) of an answered request.
type RequestKey = (&'static str, String, u16);

/// The methods counted by name; any other is counted as `other`.
const METHODS: [&str; 9] = [
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE",
];

/// The `method` label of `method`: its name when it is a standard method, else `other`.
fn method_label(method: &axum::http::Method) -> &'static str {
    METHODS
        .iter()
        .find(|known| **known == method.as_str())
        .copied()
        .unwrap_or("other")
}

#[derive(Default)]
pub struct Metrics {
    /// Per key: how many requests, and their seconds added up.
    requests: Mutex<HashMap<RequestKey, (u64, f64)>>,
}

impl Metrics {
    fn record(&self, method: &'static str, route: String, status: u16, seconds: f64) {
        if let Ok(mut requests) = self.requests.lock() {
            let entry = requests.entry((method, route, status)).or_insert((0, 0.0));
            entry.0 += 1;
            entry.1 += seconds;
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self, extra: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP confab_http_requests_total HTTP requests answered.\n");
        out.push_str("# TYPE confab_http_requests_total counter\n");
        let requests = self
            .requests
            .lock()
            .map(|requests| requests.clone())
            .unwrap_or_default();
        let mut rows: Vec<_> = requests.into_iter().collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        for ((method, route, status), (count, _)) in &rows {
            out.push_str(&format!(
                "confab_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {count}\n"
            ));
        }
        out.push_str(
            "# HELP confab_http_request_seconds_sum Time spent answering HTTP requests.\n",
        );
        out.push_str("# TYPE confab_http_request_seconds_sum counter\n");
        for ((method, route, status), (_, seconds)) in &rows {
            out.push_str(&format!(
                "confab_http_request_seconds_sum{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {seconds:.6}\n"
            ));
        }
        for (name, help, value) in extra {
            // Prometheus' naming rule: a `_total` is a counter, anything else a gauge here.
            let kind = if name.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            };
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
            ));
        }
        out
    }
}

pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    // The route pattern, not the path, so ids do not explode the label set.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "other".to_owned());
    let metrics = request
        .extensions()
        .get::<std::sync::Arc<Metrics>>()
        .cloned();
    let response = next.run(request).await;
    if let Some(metrics) = metrics {
        metrics.record(
            method,
            route,
            response.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    response
}
