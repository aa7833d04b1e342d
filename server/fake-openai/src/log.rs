//! The request log behind `GET /_requests`: every chat-completions request body as received,
//! with what the fake has done with it so far beside it.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::HeaderMap;
use serde_json::{json, Map, Value};

/// Request headers copied into the log (`_headers`) when present.
const RECORDED_HEADERS: &[&str] = &["idempotency-key", "x-stainless-retry-count"];

/// What became of a request: its `_outcome` in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The fake is still sending (or holding the connection open).
    Running,
    /// The fake sent everything its mode asked for.
    Completed,
    /// The client went away before the fake had finished.
    Cancelled,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Running => "running",
            Outcome::Completed => "completed",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// All requests received, oldest first.
#[derive(Clone, Default)]
pub struct RequestLog {
    requests: Arc<Mutex<Vec<Value>>>,
}

impl RequestLog {
    /// Records a request body (an object: the extra fields go beside its own) and returns the
    /// handle that updates its entry.
    pub fn record(&self, body: &Value, headers: &HeaderMap) -> Entry {
        let mut entry = match body {
            Value::Object(fields) => fields.clone(),
            other => Map::from_iter([("_body".to_owned(), other.clone())]),
        };
        let recorded: Map<String, Value> = RECORDED_HEADERS
            .iter()
            .filter_map(|name| {
                let value = headers.get(*name)?;
                Some((
                    (*name).to_owned(),
                    json!(String::from_utf8_lossy(value.as_bytes())),
                ))
            })
            .collect();
        entry.insert("_headers".into(), Value::Object(recorded));
        entry.insert("_outcome".into(), json!(Outcome::Running.as_str()));
        entry.insert("_chunks".into(), json!(0));
        let mut requests = self.lock();
        requests.push(Value::Object(entry));
        Entry {
            log: self.clone(),
            index: requests.len() - 1,
        }
    }

    /// A copy of every entry, oldest first.
    pub fn snapshot(&self) -> Vec<Value> {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Value>> {
        // A panic while holding the lock cannot leave an entry half-written: keep serving.
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One request's entry in the log.
pub struct Entry {
    log: RequestLog,
    index: usize,
}

impl Entry {
    /// Counts one more content chunk handed to the connection.
    pub fn chunk_sent(&self) {
        let mut requests = self.log.lock();
        let chunks = &mut requests[self.index]["_chunks"];
        *chunks = json!(chunks.as_u64().unwrap_or(0) + 1);
    }

    /// Sets the final outcome.
    pub fn finish(&self, outcome: Outcome) {
        self.log.lock()[self.index]["_outcome"] = json!(outcome.as_str());
    }
}
