//! Confab's HTTP adapters over the service layer (`confab-core`, which knows nothing of HTTP),
//! shared by the REST API (the `confab` server) and the server functions (`app`):
//! - [`current_user`]: who a request is, from an API token or the sign-in cookie;
//! - [`session`]: signing a browser in and out, and what its sign-in session holds;
//! - [`session_store`]: tower-sessions records kept in Confab's own `Store`;
//! - [`error`]: the API's error answer, `{"error": {"code", "message"}}` with the service
//!   error's status and `Retry-After`.

pub mod current_user;
pub mod error;
pub mod session;
pub mod session_store;

pub use current_user::{CurrentUser, ProvenWith, RequestSpan};
pub use error::{error_response, ApiError, ApiResult};
