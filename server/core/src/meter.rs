//! Measurements (counters, gauges, latency histograms) and their Prometheus exposition; every
//! metric is documented in `docs/metrics.md`.
//!
//! Each `Services` owns its registry rather than installing the `metrics` crate's process-wide
//! recorder: the tests start many servers in one process, and each one's `/metrics` must count
//! its own requests only. Handles are taken from the registry (`counter`, `histogram`) and kept,
//! or taken again, where the measuring happens.
//!
//! Every label takes its values from a fixed set, whatever clients send: an operation name, a
//! configured provider name, a route template, an outcome from an enum. Otherwise each new
//! value would add series to the registry and the exposition for as long as the process runs.

use std::sync::Arc;

use metrics::{
    Counter, Gauge, Histogram, Key, KeyName, Label, Level, Metadata, Recorder, SharedString, Unit,
};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// Buckets of the request and store latencies, in seconds: most answers take well under a
/// millisecond, a slow disk or a large export seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Buckets of the model providers' latencies, in seconds: a first token takes from a tenth of
/// a second to minutes (a model being loaded), a whole reply up to the idle bound and beyond.
const PROVIDER_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
];

/// The prefix of the model providers' metrics, which take `PROVIDER_BUCKETS`.
const PROVIDER_PREFIX: &str = "confab_provider_";

/// Where the measurements come from, for recorders that keep it (the exporter does not).
static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// One app's registry of measurements. Cheap to clone (the clones share the registry).
#[derive(Clone)]
pub struct Meter {
    recorder: Arc<PrometheusRecorder>,
    exposition: PrometheusHandle,
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Meter")
    }
}

impl Default for Meter {
    fn default() -> Self {
        Self::new()
    }
}

impl Meter {
    /// An empty registry whose histograms have Confab's buckets.
    pub fn new() -> Meter {
        let builder = PrometheusBuilder::new()
            .set_buckets(LATENCY_BUCKETS)
            .and_then(|builder| {
                builder.set_buckets_for_metric(
                    Matcher::Prefix(PROVIDER_PREFIX.to_owned()),
                    PROVIDER_BUCKETS,
                )
            })
            // Only an empty list of buckets is refused, and these are constants.
            .expect("the buckets are not empty");
        let recorder = builder.build_recorder();
        let exposition = recorder.handle();
        let meter = Meter {
            recorder: Arc::new(recorder),
            exposition,
        };
        meter.describe_own();
        meter
    }

    /// The counter `name` with `labels`, created at zero the first time.
    pub fn counter(&self, name: &'static str, labels: Vec<Label>) -> Counter {
        self.recorder
            .register_counter(&Key::from_parts(name, labels), &METADATA)
    }

    /// The gauge `name` with `labels`.
    pub fn gauge(&self, name: &'static str, labels: Vec<Label>) -> Gauge {
        self.recorder
            .register_gauge(&Key::from_parts(name, labels), &METADATA)
    }

    /// The histogram `name` with `labels`.
    pub fn histogram(&self, name: &'static str, labels: Vec<Label>) -> Histogram {
        self.recorder
            .register_histogram(&Key::from_parts(name, labels), &METADATA)
    }

    /// The `# HELP` of a counter.
    pub fn describe_counter(&self, name: &'static str, unit: Unit, help: &'static str) {
        self.recorder
            .describe_counter(KeyName::from_const_str(name), Some(unit), help.into());
    }

    /// The `# HELP` of a gauge.
    pub fn describe_gauge(&self, name: &'static str, unit: Unit, help: &'static str) {
        self.recorder
            .describe_gauge(KeyName::from_const_str(name), Some(unit), help.into());
    }

    /// The `# HELP` of a histogram.
    pub fn describe_histogram(&self, name: &'static str, unit: Unit, help: &'static str) {
        self.recorder
            .describe_histogram(KeyName::from_const_str(name), Some(unit), help.into());
    }

    /// Folds the samples recorded since the last time into the histograms. The exposition does
    /// it too; without either, samples pile up in memory, so the server calls this on a timer.
    pub fn run_upkeep(&self) {
        self.exposition.run_upkeep();
    }

    /// The Prometheus text exposition, in a stable order: metrics by name, series by labels
    /// (the exporter's order changes from one call to the next, which made two scrapes hard
    /// to compare). A histogram's lines of one series keep their order (buckets, sum, count).
    pub fn render(&self) -> String {
        sorted_exposition(&self.exposition.render())
    }

    /// The store's and the providers' metrics; the HTTP ones are described by the server.
    fn describe_own(&self) {
        self.describe_histogram(
            STORE_OPERATION_SECONDS,
            Unit::Seconds,
            "Time a store operation took, errors included.",
        );
        self.describe_histogram(
            PROVIDER_REQUEST_SECONDS,
            Unit::Seconds,
            "Time from sending a chat request to a model provider to the end of its reply.",
        );
        self.describe_histogram(
            PROVIDER_FIRST_TOKEN_SECONDS,
            Unit::Seconds,
            "Time from sending a chat request to a model provider to the reply's first text.",
        );
    }
}

/// Histogram of the store's operations, labels `operation` (the `Store` method) and `backend`.
pub const STORE_OPERATION_SECONDS: &str = "confab_store_operation_duration_seconds";
/// Histogram of the model providers' replies, labels `provider` and `outcome`.
pub const PROVIDER_REQUEST_SECONDS: &str = "confab_provider_request_duration_seconds";
/// Histogram of the model providers' first text, label `provider`.
pub const PROVIDER_FIRST_TOKEN_SECONDS: &str = "confab_provider_first_token_seconds";

/// `exposition` with its metrics sorted by name and each metric's series by labels, the lines
/// of one series (a histogram's buckets, sum and count) in their original order.
fn sorted_exposition(exposition: &str) -> String {
    let mut families: Vec<(String, Vec<&str>, Vec<&str>)> = Vec::new();
    for block in exposition.split("\n\n") {
        let (comments, samples): (Vec<&str>, Vec<&str>) = block
            .lines()
            .filter(|line| !line.is_empty())
            .partition(|line| line.starts_with('#'));
        let Some(first) = samples.first().or(comments.first()) else {
            continue;
        };
        let name = family_name(first);
        let mut samples = samples;
        // Stable: the lines of one series keep their order.
        samples.sort_by_key(|line| series_labels(line));
        families.push((name, comments, samples));
    }
    families.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::with_capacity(exposition.len());
    for (_, comments, samples) in families {
        for line in comments.iter().chain(&samples) {
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// The metric a line belongs to: a comment's third word, a sample's name without the
/// histogram suffixes.
fn family_name(line: &str) -> String {
    let name = match line.strip_prefix('#') {
        Some(comment) => comment.split_whitespace().nth(1).unwrap_or_default(),
        None => line
            .split(['{', ' '])
            .next()
            .unwrap_or_default()
            .trim_end_matches("_bucket")
            .trim_end_matches("_sum")
            .trim_end_matches("_count"),
    };
    name.to_owned()
}

/// A sample's labels without the bucket's bound: what its series is known by.
fn series_labels(line: &str) -> String {
    let Some((_, rest)) = line.split_once('{') else {
        return String::new();
    };
    let labels = rest.rsplit_once('}').map_or(rest, |(labels, _)| labels);
    labels
        .split(',')
        .filter(|label| !label.starts_with("le="))
        .collect::<Vec<_>>()
        .join(",")
}

/// A label whose value is one of a fixed set (a `&'static str`) or a configured name.
pub fn label(key: &'static str, value: impl Into<SharedString>) -> Label {
    Label::new(key, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_is_sorted_and_keeps_each_histograms_buckets_in_order() {
        let meter = Meter::new();
        for route in ["/b", "/a", "/c"] {
            meter
                .counter("confab_test_total", vec![label("route", route)])
                .increment(1);
            meter
                .histogram(STORE_OPERATION_SECONDS, vec![label("operation", route)])
                .record(0.003);
        }
        let rendered = meter.render();
        assert_eq!(rendered, meter.render(), "the same twice");
        let counters: Vec<&str> = rendered
            .lines()
            .filter(|line| line.starts_with("confab_test_total{"))
            .collect();
        assert_eq!(
            counters,
            [
                "confab_test_total{route=\"/a\"} 1",
                "confab_test_total{route=\"/b\"} 1",
                "confab_test_total{route=\"/c\"} 1",
            ]
        );
        let first_series: Vec<&str> = rendered
            .lines()
            .filter(|line| line.contains("operation=\"/a\""))
            .map(|line| line.rsplit_once(' ').map_or(line, |(series, _)| series))
            .collect();
        let mut expected: Vec<String> = LATENCY_BUCKETS
            .iter()
            .map(|bound| {
                format!("confab_store_operation_duration_seconds_bucket{{operation=\"/a\",le=\"{bound}\"}}")
            })
            .collect();
        expected.push(
            "confab_store_operation_duration_seconds_bucket{operation=\"/a\",le=\"+Inf\"}".into(),
        );
        expected.push("confab_store_operation_duration_seconds_sum{operation=\"/a\"}".into());
        expected.push("confab_store_operation_duration_seconds_count{operation=\"/a\"}".into());
        assert_eq!(first_series, expected, "{rendered}");
        let store_at = rendered.find("confab_store_operation").expect("store");
        let test_at = rendered.find("confab_test_total").expect("test");
        assert!(store_at < test_at, "{rendered}");
    }
}
