//! Sign-in through OAuth 2.0 / OpenID Connect providers: `/auth/{provider}/login` leaves for
//! the provider, `/auth/{provider}/callback` comes back. Every failure leads back to the
//! sign-in page with a code (`/?auth_error=bad_state`) that the page turns into its own
//! sentence; what went wrong in detail goes to the log.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Json;
use confab_core::api::SignInChoices;
use confab_core::auth::oidc::PendingLogin;
use confab_core::service::accounts::ExternalSignInError;
use confab_core::service::admin::invitation_secret;
use confab_core::service::ServiceError;
use confab_core::sign_in_failure::SignInFailure;
use confab_http::session::sign_in;
use serde::Deserialize;
use tower_sessions::Session;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::ApiResult;
use crate::state::AppState;

/// Where a sign-in in progress is remembered (one at a time per browser).
const PENDING_KEY: &str = "oidc_pending";

/// The sign-in options are part of the API; the provider round trip is for browsers and stays
/// out of the API document.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(providers))
        .route("/auth/{provider}/login", get(login))
        .route("/auth/{provider}/callback", get(callback))
}

fn back_with(failure: SignInFailure) -> Response {
    Redirect::to(&format!("/?auth_error={}", failure.code())).into_response()
}

/// The providers the sign-in page offers, whether local accounts are on, and who may sign up.
#[utoipa::path(get, path = "/api/auth/providers", tag = "auth",
    responses((status = 200, body = SignInChoices)))]
async fn providers(State(state): State<AppState>) -> ApiResult<Json<SignInChoices>> {
    Ok(Json(state.services.sign_in_choices().await?))
}

#[derive(Deserialize)]
struct LoginQuery {
    /// The secret of the invitation the sign-in page was opened with.
    invitation: Option<String>,
}

/// Leaves for the provider. An invitation the sign-in carries is remembered with the pending
/// sign-in (never in the provider's URL, never logged) for the callback.
async fn login(
    State(state): State<AppState>,
    session: Session,
    Path(provider): Path<String>,
    Query(query): Query<LoginQuery>,
) -> Response {
    let invitation = match invitation_secret(query.invitation.as_deref()) {
        Ok(invitation) => invitation,
        Err(refused) => return back_with(refused.failure()),
    };
    match state
        .services
        .external_auth()
        .begin(&provider, invitation)
        .await
    {
        Ok((url, pending)) => match session.insert(PENDING_KEY, &pending).await {
            Ok(()) => Redirect::to(&url).into_response(),
            Err(error) => {
                tracing::error!(%error, "cannot remember a sign-in in progress");
                back_with(SignInFailure::NotCompleted)
            }
        },
        Err(error) => {
            tracing::warn!(%error, provider, "cannot start a provider sign-in");
            back_with(error.failure())
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
        tracing::info!(provider, detail, "the provider refused the sign-in");
        return back_with(SignInFailure::Denied);
    }
    let (Some(code), Some(returned_state), Some(pending)) = (query.code, query.state, pending)
    else {
        tracing::info!(
            provider,
            "a sign-in callback without its pending sign-in or state"
        );
        return back_with(SignInFailure::BadState);
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
            return back_with(error.failure());
        }
    };
    match state
        .services
        .external_sign_in_with_invitation(identity, pending.invitation.as_deref())
        .await
    {
        Ok(signed_in) => match sign_in(&session, &signed_in).await {
            Ok(()) => Redirect::to("/").into_response(),
            Err(error) => {
                tracing::error!(%error, "cannot sign in after a provider sign-in");
                back_with(SignInFailure::NotCompleted)
            }
        },
        Err(error) => {
            match &error {
                ExternalSignInError::Service(ServiceError::Internal(detail)) => {
                    tracing::error!(%detail, provider, "provider sign-in failed");
                }
                refused => tracing::info!(%refused, provider, "provider sign-in refused"),
            }
            back_with(error.failure())
        }
    }
}
