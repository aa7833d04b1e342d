//! Sign-in through OAuth 2.0 / OpenID Connect providers: any OIDC provider by issuer URL
//! (discovery, authorization code flow with PKCE, `state` and `nonce` checked, the ID token's
//! signature and claims verified) and GitHub (OAuth 2.0, email from its API).

mod flow;
mod github;
pub mod id_token;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use secrecy::SecretString;

use crate::sign_in_failure::SignInFailure;

pub use flow::PendingLogin;

/// How long discovery documents and signing keys are reused.
const DISCOVERY_TTL: Duration = Duration::from_secs(600);
/// How long a sign-in may take between leaving for the provider and coming back.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    /// Any OpenID Connect provider, found through `{issuer}/.well-known/openid-configuration`.
    Oidc { issuer: String },
    /// GitHub's OAuth apps (not OpenID Connect): the email comes from its API.
    Github,
}

/// One configured provider. The secret is never logged.
#[derive(Clone)]
pub struct ProviderConfig {
    /// The short name in URLs (`/auth/{name}/login`).
    pub name: String,
    pub display_name: String,
    pub kind: ProviderKind,
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ProviderConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Who the provider says signed in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalIdentity {
    pub provider: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("unknown sign-in provider")]
    UnknownProvider,
    #[error("the sign-in was cancelled or refused at the provider ({0})")]
    Denied(String),
    #[error("the sign-in request does not match (state); start again")]
    BadState,
    #[error("the sign-in took too long; start again")]
    Expired,
    #[error("the provider did not accept the sign-in code: {0}")]
    CodeRejected(String),
    #[error("the provider's identity token is not valid: {0}")]
    InvalidToken(String),
    #[error("the provider could not be reached: {0}")]
    Unreachable(String),
    #[error("the provider answered something unexpected: {0}")]
    Protocol(String),
}

impl FlowError {
    /// What the sign-in page is told: the code only, never the provider's words.
    pub fn failure(&self) -> SignInFailure {
        match self {
            FlowError::UnknownProvider => SignInFailure::UnknownProvider,
            FlowError::Denied(_) => SignInFailure::Denied,
            FlowError::BadState => SignInFailure::BadState,
            FlowError::Expired => SignInFailure::Expired,
            FlowError::CodeRejected(_) => SignInFailure::CodeRejected,
            FlowError::InvalidToken(_) => SignInFailure::InvalidToken,
            FlowError::Unreachable(_) => SignInFailure::Unreachable,
            FlowError::Protocol(_) => SignInFailure::Protocol,
        }
    }
}

#[derive(Clone, Debug)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    userinfo_endpoint: Option<String>,
}

/// The configured providers and what was learnt about them.
pub struct ExternalAuth {
    providers: Vec<ProviderConfig>,
    /// Where the provider sends the browser back: `{base}/auth/{name}/callback`.
    redirect_base: String,
    http: reqwest::Client,
    discovered: Mutex<HashMap<String, (Instant, Discovery)>>,
    keys: Mutex<HashMap<String, (Instant, jsonwebtoken::jwk::JwkSet)>>,
    /// GitHub's endpoints (changed only by tests).
    github_urls: github::Urls,
}

impl ExternalAuth {
    pub fn new(providers: Vec<ProviderConfig>, public_url: &str) -> ExternalAuth {
        let http = reqwest::Client::builder()
            // Never follow redirects from a token endpoint (a classic SSRF and token leak).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .user_agent("Confab")
            .build()
            .unwrap_or_default();
        ExternalAuth {
            providers,
            redirect_base: public_url.trim_end_matches('/').to_owned(),
            http,
            discovered: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
            github_urls: github::Urls::default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// What the sign-in page shows: a button per provider.
    pub fn buttons(&self) -> Vec<crate::api::SignInProvider> {
        self.providers
            .iter()
            .map(|provider| crate::api::SignInProvider {
                name: provider.name.clone(),
                display_name: provider.display_name.clone(),
                login_url: format!("/auth/{}/login", provider.name),
            })
            .collect()
    }

    fn provider(&self, name: &str) -> Result<&ProviderConfig, FlowError> {
        self.providers
            .iter()
            .find(|provider| provider.name == name)
            .ok_or(FlowError::UnknownProvider)
    }

    fn redirect_url(&self, name: &str) -> String {
        format!("{}/auth/{name}/callback", self.redirect_base)
    }
}
