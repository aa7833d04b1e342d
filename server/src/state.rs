//! What every handler can reach.

use std::sync::Arc;

use axum::extract::FromRef;
use confab_core::service::Services;
use leptos::config::LeptosOptions;

use crate::config::Config;

#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// What `confab_http::CurrentUser` resolves a request's user with.
impl FromRef<AppState> for Services {
    fn from_ref(state: &AppState) -> Self {
        state.services.clone()
    }
}
