//! HTTP plumbing shared by the REST API and the pages (the error type and the signed-in user
//! are `confab-http`'s, which the server functions share): body and query extractors that answer in the API's error shape, who the client is (through trusted
//! proxies), CSRF protection, unbuffered event streams, metrics, the request log, the security
//! headers of every answer and the caching rule of the precompressed site files.

pub mod client;
pub mod csrf;
pub mod event_stream;
pub mod extract;
pub mod metrics;
pub mod request_log;
pub mod security_headers;
pub mod static_files;

pub use confab_http::{ApiError, ApiResult};
pub use extract::{ApiJson, ApiPath, ApiQuery, ClientAddr, OptionalJson};
