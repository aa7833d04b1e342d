//! Components shared by the pages.

pub mod auth;
pub mod header;
pub mod message_list;
pub mod session_list;
