//! The Confab server: the Axum host of the Leptos app and the REST API.
//!
//! `launch` takes a bound listener, so tests start the real server on port 0.

// Rendering the app's pages here lays out their view types, as deep as the app crate's own
// limit allows them to be (`app/src/lib.rs`): the default limit overflowed on the top bar once
// the Account menu gained the administration's link.
#![recursion_limit = "512"]

pub mod api;
pub mod config;
pub mod http;
pub mod state;
pub mod store;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::HeaderName;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{middleware, Router};
use confab_core::auth::oidc::ExternalAuth;
use confab_core::meter::Meter;
use confab_core::provider::Providers;
use confab_core::service::{ServiceConfig, Services, SignupPolicy};
use confab_core::store::DynStore;
use confab_http::error_response;
use confab_http::session_store::StoreSessionStore;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::config::{Config, Signup};
use crate::state::AppState;

/// The header of a request's id (`http::request_log`).
const REQUEST_ID: HeaderName = HeaderName::from_static(http::request_log::REQUEST_ID_HEADER);

/// Name of the sign-in cookie.
pub const SESSION_COOKIE: &str = "confab_session";

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("cannot open the store: {0}")]
    Store(#[from] confab_core::store::StoreError),
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

pub fn services(store: DynStore, config: &Config) -> Result<Services, LaunchError> {
    let providers = Providers::new(config.provider_settings());
    let sign_in = ExternalAuth::new(config.sign_in_providers(), &config.public_base());
    Ok(Services::with_parts(
        store,
        ServiceConfig {
            signup: match config.signup {
                Signup::Open => SignupPolicy::Open,
                Signup::Closed => SignupPolicy::Closed,
            },
            login_attempts: config.login_attempts,
            signup_attempts: config.signup_attempts,
            context_tokens: config.context_tokens.max(256),
            max_reply_bytes: config
                .max_reply_bytes
                .clamp(1024, confab_core::model::MAX_STORED_CONTENT_BYTES),
            provider_idle: Duration::from_secs(config.provider_idle_timeout.max(1)),
            checkpoint_every: Duration::from_millis(config.reply_checkpoint_ms.clamp(50, 2000)),
            save_retry_for: Duration::from_secs(config.reply_save_retry),
            local_accounts: config.local_accounts,
            allowed_email_domains: config
                .allowed_email_domains
                .as_deref()
                .unwrap_or("")
                .split(',')
                .map(|domain| domain.trim().to_ascii_lowercase())
                .filter(|domain| !domain.is_empty())
                .collect(),
            deleted_retention: Duration::from_secs(config.deleted_retention),
            ..ServiceConfig::default()
        },
        providers,
        sign_in,
    ))
}

fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(option_env!("LEPTOS_OUTPUT_NAME").unwrap_or("confab"))
        .site_root(config.site_root.to_string_lossy().as_ref())
        .site_pkg_dir("pkg")
        .site_addr(config.addr)
        .build()
}

/// The whole application: REST API, server functions, pages and static files.
/// The app's page routes, generated once per process.
///
/// Generating them sets a process-wide flag in `leptos_server` (`SuppressResourceLoad`) that
/// keeps every resource created meanwhile from ever loading. A router built while another one
/// in the same process serves pages (the integration tests run many servers in one process)
/// would leave those pages waiting forever for data; generated once, before any router exists,
/// the flag is never set while a page renders.
fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(app::App)).clone()
}

pub fn router(services: Services, config: Arc<Config>) -> Router {
    let leptos_options = leptos_options(&config);
    http::metrics::describe(services.meter());
    let state = AppState {
        services: services.clone(),
        leptos_options: leptos_options.clone(),
        config: config.clone(),
    };
    let sessions = SessionManagerLayer::new(StoreSessionStore::new(services.store().clone()))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(config.secure_cookies())
        .with_expiry(Expiry::OnInactivity(time::Duration::days(30)));

    let routes = page_routes();
    let page_services = services.clone();
    // The 404 page renders the same header as every page, which asks who is signed in.
    let fallback_services = services.clone();
    Router::new()
        .merge(api::router(&state))
        .route("/api/{*rest}", any(api_not_found))
        .route("/rpc/{*fn_name}", post(server_function))
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(page_services.clone());
                http::security_headers::provide_request_nonce();
            },
            {
                let options = leptos_options.clone();
                move || app::shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(
            move || {
                provide_context(fallback_services.clone());
                http::security_headers::provide_request_nonce();
            },
            app::shell,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::new(http::csrf::OwnOrigin(config.public_origin())),
            http::csrf::protect,
        ))
        // Outside the CSRF check: its refusals under /v1 are in OpenAI's shape too.
        .layer(middleware::from_fn(api::openai::in_openai_shape))
        // Outside the CSRF check, which compares with the origin the client addressed.
        .layer(middleware::from_fn_with_state(
            Arc::new(config.proxies()),
            http::client::identify,
        ))
        .layer(sessions)
        .layer(middleware::from_fn_with_state(
            services.meter().clone(),
            http::metrics::track,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(config.max_body_bytes))
        .layer(middleware::from_fn(http::static_files::vary_on_encoding))
        // Outside the rest: refusals (CSRF, body limits) carry the headers too.
        .layer(middleware::from_fn(http::security_headers::apply))
        // Directly inside the request's span, which it keeps for the user to be recorded in.
        .layer(middleware::from_fn(http::request_log::keep_span))
        // `Router::layer` wraps each route, so the span is made after routing and names the
        // matched route; the request id is set outside it, before the span is made.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(http::request_log::request_span)
                .on_response(http::request_log::answered),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(middleware::map_request(
            http::request_log::untrusted_request_id_dropped,
        ))
        .with_state(state)
}

async fn server_function(State(state): State<AppState>, request: Request) -> impl IntoResponse {
    let services = state.services.clone();
    leptos_axum::handle_server_fns_with_context(move || provide_context(services.clone()), request)
        .await
}

async fn api_not_found() -> Response {
    error_response(
        axum::http::StatusCode::NOT_FOUND,
        "not_found",
        "no such API route",
    )
}

/// Serves Confab on `listener` until `shutdown` resolves, then lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    store: DynStore,
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), LaunchError> {
    let services = services(store, &config)?;
    // Through the services' store, whose operations are timed (`confab_core::store::measured`).
    spawn_session_sweeper(services.store().clone());
    let recovery = services.spawn_reply_recovery();
    let purger = spawn_deleted_purger(services.clone(), config.purge_every);
    let upkeep = spawn_metrics_upkeep(services.meter().clone());
    let grace = Duration::from_secs(config.shutdown_grace);
    let app = router(services.clone(), Arc::new(config));
    // At the signal, replies get the grace period to finish; then what remains is saved as
    // `partial` and their streams end, which lets the server's own graceful shutdown (waiting
    // for open connections, the reply streams among them) complete.
    let draining = services.clone();
    let signal = async move {
        shutdown.await;
        tracing::info!(grace_seconds = grace.as_secs(), "shutting down");
        tokio::spawn(async move { draining.shut_down_replies(grace).await });
    };
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal)
    .await;
    // A purge cut short here is finished by the next start's (each step can be repeated).
    purger.abort();
    upkeep.abort();
    services.shut_down_replies(grace).await;
    recovery.abort();
    served?;
    Ok(())
}

/// Expired sign-ins are deleted hourly so the table does not grow without bound.
fn spawn_session_sweeper(store: DynStore) {
    tokio::spawn(async move {
        let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
        loop {
            every_hour.tick().await;
            match store.delete_expired_auth_sessions(chrono::Utc::now()).await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "deleted expired sign-ins"),
                Err(error) => tracing::warn!(%error, "could not delete expired sign-ins"),
            }
        }
    });
}

/// Deleted conversations past their retention time are purged at start-up and then every
/// `every` (the first tick of a tokio interval is immediate).
fn spawn_deleted_purger(services: Services, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match services.purge_deleted_sessions().await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "purged deleted conversations"),
                Err(error) => tracing::warn!(%error, "could not purge deleted conversations"),
            }
        }
    })
}

/// Folds the latency samples into their histograms every few seconds, so that they do not
/// pile up in memory when nobody reads `/metrics`.
fn spawn_metrics_upkeep(meter: Meter) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(5));
        loop {
            ticks.tick().await;
            meter.run_upkeep();
        }
    })
}
