//! The REST API (see shared/API.md): thin adapters from HTTP to the service layer. Each module
//! exports its own `router()`; they are merged here.

mod admin;
mod auth;
mod chat;
mod export;
mod import;
mod messages;
mod oauth;
mod openai;
mod ops;
mod search;
mod sessions;
mod tokens;

use axum::Router;

use crate::state::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(auth::router())
        .merge(admin::router())
        .merge(tokens::router())
        .merge(chat::router())
        .merge(openai::router())
        .merge(oauth::router())
        .merge(sessions::router())
        .merge(messages::router())
        .merge(search::router())
        .merge(export::router())
        .merge(import::router(state.config.max_import_bytes))
        .merge(ops::router())
}
