//! One module per route.

pub mod chat;
pub mod home;
pub mod import;
pub mod not_found;
