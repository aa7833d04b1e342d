//! HTTP plumbing shared by the REST API and the pages: the error type, body and query
//! extractors that answer in the API's error shape, who the client is (through trusted
//! proxies), CSRF protection, unbuffered event streams, metrics and the security headers of
//! every answer.

pub mod client;
pub mod csrf;
pub mod error;
pub mod event_stream;
pub mod extract;
pub mod metrics;
pub mod security_headers;

pub use error::{ApiError, ApiResult};
pub use extract::{ApiJson, ApiQuery, ClientAddr, OptionalJson};
