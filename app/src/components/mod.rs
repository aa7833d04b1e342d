//! Components shared by the pages.

pub mod account_menu;
pub mod auth;
pub mod bulk_bar;
pub mod composer;
pub mod conversation_head;
pub mod drawer;
pub mod folders;
pub mod header;
pub mod message_list;
pub mod paged_list;
pub mod search;
pub mod session_list;
pub mod tags;
pub mod toasts;
pub mod workspace;
