//! Sign-in through OAuth 2.0 / OpenID Connect providers: `/auth/{provider}/login` leaves for
//! the provider, `/auth/{provider}/callback` comes back. Every failure leads back to the
//! sign-in page with a message (`/?auth_error=...`).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use confab_core::auth::oidc::{FlowError, PendingLogin};
use confab_core::auth::sign_in;
use serde::Deserialize;
use serde_json::json;
use tower_sessions::Session;

use crate::state::AppState;

/// Where a sign-in in progress is remembered (one at a time per browser).
const PENDING_KEY: &str = "oidc_pending";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/providers", get(providers))
        .route("/auth/{provider}/login", get(login))
        .route("/auth/{provider}/callback", get(callback))
}

fn back_with_error(message: &str) -> Response {
    let encoded: String = url_encode(message);
    Redirect::to(&format!("/?auth_error={encoded}")).into_response()
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// The providers the sign-in page offers, and whether local accounts are on.
async fn providers(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({
        "providers": state.services.external_auth().buttons(),
        "localAccounts": state.services.config().local_accounts,
    }))
}

async fn login(
    State(state): State<AppState>,
    session: Session,
    Path(provider): Path<String>,
) -> Response {
    match state.services.external_auth().begin(&provider).await {
        Ok((url, pending)) => match session.insert(PENDING_KEY, &pending).await {
            Ok(()) => Redirect::to(&url).into_response(),
            Err(error) => {
                tracing::error!(%error, "cannot remember a sign-in in progress");
                back_with_error("the sign-in could not be started; try again")
            }
        },
        Err(error) => {
            tracing::warn!(%error, provider, "cannot start a provider sign-in");
            back_with_error(&error.to_string())
        }
    }
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    session: Session,
    Path(provider): Path<String>,
    Query(query): Query<CallbackQuery>,
) -> Response {
    // The pending sign-in is used once: a replayed callback finds nothing.
    let pending: Option<PendingLogin> = session.remove(PENDING_KEY).await.ok().flatten();
    if let Some(error) = query.error {
        let detail = query.error_description.unwrap_or(error);
        return back_with_error(&FlowError::Denied(detail).to_string());
    }
    let (Some(code), Some(returned_state), Some(pending)) = (query.code, query.state, pending)
    else {
        return back_with_error(&FlowError::BadState.to_string());
    };
    let identity = match state
        .services
        .external_auth()
        .complete(&provider, &pending, &code, &returned_state)
        .await
    {
        Ok(identity) => identity,
        Err(error) => {
            tracing::warn!(%error, provider, "provider sign-in refused");
            return back_with_error(&error.to_string());
        }
    };
    match state.services.external_sign_in(identity).await {
        Ok(user) => match sign_in(&session, &user).await {
            Ok(()) => Redirect::to("/").into_response(),
            Err(error) => back_with_error(&error.to_string()),
        },
        Err(error) => back_with_error(&error.to_string()),
    }
}
