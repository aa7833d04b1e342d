//! Server functions: the UI's way to the service layer. Each is a thin adapter, exactly like
//! the REST handlers; the rules live in `confab_core::service`.

use confab_core::model::{Message, Page, Session, SessionDetail, User};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A session with the latest page of its messages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionView {
    pub detail: SessionDetail,
    pub messages: Page<Message>,
}

#[cfg(feature = "ssr")]
mod server {
    use axum::extract::ConnectInfo;
    use confab_core::auth::current_user::resolve;
    use confab_core::model::User;
    use confab_core::service::{ServiceError, Services};
    use http::request::Parts;
    use leptos::prelude::*;

    pub fn services() -> Result<Services, ServerFnError> {
        use_context::<Services>().ok_or_else(|| ServerFnError::new("services are not installed"))
    }

    fn parts() -> Result<Parts, ServerFnError> {
        use_context::<Parts>().ok_or_else(|| ServerFnError::new("no request context"))
    }

    pub fn to_error(error: ServiceError) -> ServerFnError {
        if let ServiceError::Internal(detail) = &error {
            tracing::error!(%detail, "internal error in a server function");
        }
        ServerFnError::new(error.to_string())
    }

    /// The signed-in user, or None.
    pub async fn optional_user() -> Result<Option<User>, ServerFnError> {
        let mut parts = parts()?;
        match resolve(&mut parts).await {
            Ok((user, _)) => Ok(Some(user)),
            Err(ServiceError::Unauthorized) => Ok(None),
            Err(error) => Err(to_error(error)),
        }
    }

    pub async fn user() -> Result<User, ServerFnError> {
        optional_user()
            .await?
            .ok_or_else(|| to_error(ServiceError::Unauthorized))
    }

    pub fn session() -> Result<tower_sessions::Session, ServerFnError> {
        parts()?
            .extensions
            .get::<tower_sessions::Session>()
            .cloned()
            .ok_or_else(|| ServerFnError::new("sign-in sessions are not installed"))
    }

    pub fn client_address() -> String {
        parts()
            .ok()
            .and_then(|parts| {
                parts
                    .extensions
                    .get::<ConnectInfo<std::net::SocketAddr>>()
                    .map(|ConnectInfo(address)| address.ip().to_string())
            })
            .unwrap_or_else(|| "unknown".into())
    }
}

#[server(prefix = "/rpc")]
pub async fn current_user() -> Result<Option<User>, ServerFnError> {
    server::optional_user().await
}

#[server(prefix = "/rpc")]
pub async fn sign_up(
    email: String,
    password: String,
    name: Option<String>,
) -> Result<User, ServerFnError> {
    let services = server::services()?;
    let user = services
        .signup(&email, &password, name.as_deref())
        .await
        .map_err(server::to_error)?;
    confab_core::auth::sign_in(&server::session()?, &user)
        .await
        .map_err(server::to_error)?;
    Ok(user)
}

#[server(prefix = "/rpc")]
pub async fn sign_in(email: String, password: String) -> Result<User, ServerFnError> {
    let services = server::services()?;
    let user = services
        .login(&email, &password, &server::client_address())
        .await
        .map_err(server::to_error)?;
    confab_core::auth::sign_in(&server::session()?, &user)
        .await
        .map_err(server::to_error)?;
    Ok(user)
}

#[server(prefix = "/rpc")]
pub async fn sign_out() -> Result<(), ServerFnError> {
    confab_core::auth::sign_out(&server::session()?)
        .await
        .map_err(server::to_error)
}

#[server(prefix = "/rpc")]
pub async fn list_sessions(cursor: Option<String>) -> Result<Page<Session>, ServerFnError> {
    let user = server::user().await?;
    server::services()?
        .list_sessions(
            &user,
            confab_core::api::SessionListInput {
                cursor,
                ..Default::default()
            },
        )
        .await
        .map_err(server::to_error)
}

#[server(prefix = "/rpc")]
pub async fn create_session(title: Option<String>) -> Result<Session, ServerFnError> {
    let user = server::user().await?;
    server::services()?
        .create_session(&user, title.as_deref())
        .await
        .map_err(server::to_error)
}

#[server(prefix = "/rpc")]
pub async fn load_conversation(
    session_id: String,
    before: Option<String>,
) -> Result<SessionView, ServerFnError> {
    let user = server::user().await?;
    let services = server::services()?;
    let detail = services
        .get_session(&user, &session_id)
        .await
        .map_err(server::to_error)?;
    let messages = services
        .list_messages(
            &user,
            confab_core::api::MessageListInput {
                session_id,
                before,
                ..Default::default()
            },
        )
        .await
        .map_err(server::to_error)?;
    Ok(SessionView { detail, messages })
}
