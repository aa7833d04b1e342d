//! Confab's core: the domain model (shared with the browser), and on the server the storage
//! backends, the service layer that owns every rule, and authentication.

pub mod api;
pub mod chat_stream;
pub mod model;
#[cfg(feature = "server")]
pub mod provider;
pub mod sign_in_failure;

#[cfg(feature = "server")]
pub mod auth;
#[cfg(feature = "server")]
pub mod ids;
#[cfg(feature = "server")]
pub mod service;
#[cfg(feature = "server")]
pub mod store;
