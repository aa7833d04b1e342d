//! The server's integration tests: one binary, so the server is linked once. Each module is a
//! suite named as its file; run one with `cargo test -p confab --test it api::`.
//!
//! The suites share one process. None changes its environment or working directory (child
//! processes get theirs through `Command`); the one process-wide thing a test sets is the
//! request log's tracing subscriber (`api::request_log`), which only ever captures, and whose
//! readers find their own lines by request id.

#[macro_use]
mod support;

mod abuse;
mod account_deletion;
mod admin;
mod api;
mod archived_search;
mod backup;
mod chat;
mod config_file;
mod delete_undo;
mod disk_full;
mod export_selection;
mod exposure;
mod folders;
mod fork;
mod import_progress;
mod oidc;
mod openai_sdk;
mod replies;
mod reverse_proxy;
mod stars;
mod tags;
mod text_exact;
mod two_nodes;
