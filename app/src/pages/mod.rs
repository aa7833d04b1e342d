//! One module per route.

pub mod admin;
pub mod chat;
pub mod home;
pub mod import;
pub mod not_found;
pub mod reset_password;
pub mod starred;
