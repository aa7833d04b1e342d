//! GitHub sign-in: OAuth 2.0 (not OpenID Connect); the user id and the primary verified email
//! come from GitHub's API.

use serde::Deserialize;

use super::{ExternalAuth, ExternalIdentity, FlowError};

#[derive(Clone, Debug)]
pub(super) struct Urls {
    pub authorize: String,
    pub token: String,
    pub api: String,
}

impl Default for Urls {
    fn default() -> Self {
        Urls {
            authorize: "https://github.com/login/oauth/authorize".into(),
            token: "https://github.com/login/oauth/access_token".into(),
            api: "https://api.github.com".into(),
        }
    }
}

#[derive(Deserialize)]
struct GithubUser {
    id: u64,
    login: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct GithubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

impl ExternalAuth {
    pub(super) async fn github_identity(
        &self,
        name: &str,
        access_token: &str,
    ) -> Result<ExternalIdentity, FlowError> {
        let get = |path: &str| {
            self.http
                .get(format!("{}{path}", self.github_urls.api))
                .bearer_auth(access_token)
                .header("Accept", "application/vnd.github+json")
                .send()
        };
        let user: GithubUser = get("/user")
            .await
            .map_err(|error| FlowError::Unreachable(error.to_string()))?
            .error_for_status()
            .map_err(|error| FlowError::Protocol(error.to_string()))?
            .json()
            .await
            .map_err(|error| FlowError::Protocol(error.to_string()))?;
        let emails: Vec<GithubEmail> = get("/user/emails")
            .await
            .map_err(|error| FlowError::Unreachable(error.to_string()))?
            .error_for_status()
            .map_err(|error| {
                FlowError::Protocol(format!("{error} (the app needs the user:email scope)"))
            })?
            .json()
            .await
            .map_err(|error| FlowError::Protocol(error.to_string()))?;
        let primary = emails.into_iter().find(|email| email.primary);
        Ok(ExternalIdentity {
            provider: name.to_owned(),
            subject: user.id.to_string(),
            email_verified: primary.as_ref().is_some_and(|email| email.verified),
            email: primary.map(|email| email.email),
            name: user.name.or(Some(user.login)),
        })
    }
}
