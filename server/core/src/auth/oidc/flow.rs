//! The authorization code flow with PKCE: leaving for the provider and coming back.

use std::time::Instant;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken,
    EndpointNotSet, EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse,
    TokenResponse, TokenUrl,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::{
    id_token, Discovery, ExternalAuth, ExternalIdentity, FlowError, ProviderConfig, ProviderKind,
    DISCOVERY_TTL, LOGIN_TIMEOUT,
};

/// The token endpoint's answer, with OpenID Connect's `id_token`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub(super) struct IdTokenField {
    #[serde(default)]
    pub id_token: Option<String>,
}
impl ExtraTokenFields for IdTokenField {}

pub(super) type TokenAnswer = StandardTokenResponse<IdTokenField, BasicTokenType>;
pub(super) type FlowClient = Client<
    BasicErrorResponse,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// What a sign-in remembers (in the visitor's server-side session) while at the provider.
/// Its secrets stay out of `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    pub provider: String,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    /// Unix seconds.
    pub started_at: i64,
    /// The secret of the invitation the sign-in started with (`?invitation=`), kept here and
    /// never sent to the provider. Absent from sign-ins remembered before invitations went
    /// through providers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation: Option<String>,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PendingLogin")
            .field("provider", &self.provider)
            .field("started_at", &self.started_at)
            .field("invited", &self.invitation.is_some())
            .finish_non_exhaustive()
    }
}

pub(super) fn client(
    provider: &ProviderConfig,
    auth_url: &str,
    token_url: &str,
    redirect: String,
) -> Result<FlowClient, FlowError> {
    let protocol =
        |what: &str, error: url::ParseError| FlowError::Protocol(format!("{what}: {error}"));
    let mut client = Client::new(ClientId::new(provider.client_id.clone()))
        .set_auth_uri(
            AuthUrl::new(auth_url.to_owned())
                .map_err(|error| protocol("authorization endpoint", error))?,
        )
        .set_token_uri(
            TokenUrl::new(token_url.to_owned())
                .map_err(|error| protocol("token endpoint", error))?,
        )
        .set_redirect_uri(
            RedirectUrl::new(redirect).map_err(|error| protocol("redirect URL", error))?,
        );
    if let Some(secret) = &provider.client_secret {
        client = client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()));
    }
    if provider.kind == ProviderKind::Github {
        client = client.set_auth_type(AuthType::RequestBody);
    }
    Ok(client)
}

pub(super) fn token_error<E: std::error::Error + 'static>(
    error: RequestTokenError<E, BasicErrorResponse>,
) -> FlowError {
    match error {
        RequestTokenError::ServerResponse(answer) => FlowError::CodeRejected(answer.to_string()),
        RequestTokenError::Request(error) => FlowError::Unreachable(error.to_string()),
        RequestTokenError::Parse(error, _) => FlowError::Protocol(error.to_string()),
        RequestTokenError::Other(detail) => FlowError::Protocol(detail),
    }
}

impl ExternalAuth {
    async fn discover(&self, issuer: &str) -> Result<Discovery, FlowError> {
        if let Ok(cache) = self.discovered.lock() {
            if let Some((at, found)) = cache.get(issuer) {
                if at.elapsed() < DISCOVERY_TTL {
                    return Ok(found.clone());
                }
            }
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let document: serde_json::Value = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|error| FlowError::Unreachable(format!("{url}: {error}")))?
            .error_for_status()
            .map_err(|error| FlowError::Protocol(format!("{url}: {error}")))?
            .json()
            .await
            .map_err(|error| FlowError::Protocol(format!("{url}: {error}")))?;
        let field = |name: &str| {
            document[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| FlowError::Protocol(format!("the discovery document has no {name}")))
        };
        let found = Discovery {
            issuer: field("issuer")?,
            authorization_endpoint: field("authorization_endpoint")?,
            token_endpoint: field("token_endpoint")?,
            jwks_uri: field("jwks_uri")?,
            userinfo_endpoint: document["userinfo_endpoint"].as_str().map(str::to_owned),
        };
        // The issuer in the document must be the one configured (OpenID Connect Discovery §4.3).
        if found.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(FlowError::Protocol(format!(
                "the provider calls itself {} instead of {issuer}",
                found.issuer
            )));
        }
        if let Ok(mut cache) = self.discovered.lock() {
            cache.insert(issuer.to_owned(), (Instant::now(), found.clone()));
        }
        Ok(found)
    }

    async fn signing_keys(
        &self,
        jwks_uri: &str,
        refresh: bool,
    ) -> Result<jsonwebtoken::jwk::JwkSet, FlowError> {
        if !refresh {
            if let Ok(cache) = self.keys.lock() {
                if let Some((at, keys)) = cache.get(jwks_uri) {
                    if at.elapsed() < DISCOVERY_TTL {
                        return Ok(keys.clone());
                    }
                }
            }
        }
        let keys: jsonwebtoken::jwk::JwkSet = self
            .http
            .get(jwks_uri)
            .send()
            .await
            .map_err(|error| FlowError::Unreachable(format!("{jwks_uri}: {error}")))?
            .error_for_status()
            .map_err(|error| FlowError::Protocol(format!("{jwks_uri}: {error}")))?
            .json()
            .await
            .map_err(|error| FlowError::Protocol(format!("{jwks_uri}: {error}")))?;
        if let Ok(mut cache) = self.keys.lock() {
            cache.insert(jwks_uri.to_owned(), (Instant::now(), keys.clone()));
        }
        Ok(keys)
    }

    /// Where to send the browser, and what to remember until it comes back: with the secret of
    /// the invitation the sign-in carries, which the URL does not.
    pub async fn begin(
        &self,
        name: &str,
        invitation: Option<String>,
    ) -> Result<(String, PendingLogin), FlowError> {
        let provider = self.provider(name)?;
        let (auth_url, token_url) = match &provider.kind {
            ProviderKind::Oidc { issuer } => {
                let found = self.discover(issuer).await?;
                (found.authorization_endpoint, found.token_endpoint)
            }
            ProviderKind::Github => (
                self.github_urls.authorize.clone(),
                self.github_urls.token.clone(),
            ),
        };
        let client = client(provider, &auth_url, &token_url, self.redirect_url(name))?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = CsrfToken::new_random().secret().clone();
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .set_pkce_challenge(challenge);
        for scope in &provider.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if matches!(provider.kind, ProviderKind::Oidc { .. }) {
            request = request.add_extra_param("nonce", nonce.clone());
        }
        let (url, state) = request.url();
        Ok((
            url.to_string(),
            PendingLogin {
                provider: name.to_owned(),
                state: state.secret().clone(),
                nonce,
                verifier: verifier.secret().clone(),
                started_at: chrono::Utc::now().timestamp(),
                invitation,
            },
        ))
    }

    /// Finishes a sign-in: checks `state` against what `begin` remembered, trades the code (with
    /// the PKCE verifier) for tokens and verifies the ID token.
    pub async fn complete(
        &self,
        name: &str,
        pending: &PendingLogin,
        code: &str,
        state: &str,
    ) -> Result<ExternalIdentity, FlowError> {
        let provider = self.provider(name)?;
        if pending.provider != name || !constant_time_eq(pending.state.as_bytes(), state.as_bytes())
        {
            return Err(FlowError::BadState);
        }
        if chrono::Utc::now().timestamp() - pending.started_at > LOGIN_TIMEOUT.as_secs() as i64 {
            return Err(FlowError::Expired);
        }
        match &provider.kind {
            ProviderKind::Oidc { issuer } => {
                let found = self.discover(issuer).await?;
                let answer = self
                    .exchange(
                        provider,
                        &found.authorization_endpoint,
                        &found.token_endpoint,
                        code,
                        pending,
                    )
                    .await?;
                let token = answer.extra_fields().id_token.clone().ok_or_else(|| {
                    FlowError::Protocol("the token answer has no id_token".into())
                })?;
                let mut keys = self.signing_keys(&found.jwks_uri, false).await?;
                let mut claims = id_token::verify(
                    &token,
                    &keys,
                    &found.issuer,
                    &provider.client_id,
                    &pending.nonce,
                );
                if matches!(&claims, Err(FlowError::InvalidToken(reason)) if reason.contains("does not publish"))
                {
                    // Keys rotate: fetch them once more before refusing.
                    keys = self.signing_keys(&found.jwks_uri, true).await?;
                    claims = id_token::verify(
                        &token,
                        &keys,
                        &found.issuer,
                        &provider.client_id,
                        &pending.nonce,
                    );
                }
                let mut claims = claims?;
                if claims.email.is_none() {
                    // Providers may keep profile claims out of the ID token and serve them from
                    // the UserInfo endpoint (OpenID Connect Core §5.3).
                    if let Some(endpoint) = &found.userinfo_endpoint {
                        claims = self
                            .userinfo(endpoint, answer.access_token().secret(), claims)
                            .await?;
                    }
                }
                let email_verified = claims.email_is_verified();
                Ok(ExternalIdentity {
                    provider: name.to_owned(),
                    subject: claims.sub,
                    email: claims.email,
                    email_verified,
                    name: claims.name.or(claims.preferred_username),
                })
            }
            ProviderKind::Github => {
                let answer = self
                    .exchange(
                        provider,
                        &self.github_urls.authorize,
                        &self.github_urls.token,
                        code,
                        pending,
                    )
                    .await?;
                self.github_identity(name, answer.access_token().secret())
                    .await
            }
        }
    }
}

impl ExternalAuth {
    /// Trades the authorization code for tokens, proving with the PKCE verifier that this is
    /// the client that started the sign-in.
    async fn exchange(
        &self,
        provider: &ProviderConfig,
        auth_url: &str,
        token_url: &str,
        code: &str,
        pending: &PendingLogin,
    ) -> Result<TokenAnswer, FlowError> {
        client(
            provider,
            auth_url,
            token_url,
            self.redirect_url(&provider.name),
        )?
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
        .request_async(&self.http)
        .await
        .map_err(token_error)
    }

    /// The UserInfo claims, merged into the verified ID token's. The subject must match.
    async fn userinfo(
        &self,
        endpoint: &str,
        access_token: &str,
        verified: id_token::Claims,
    ) -> Result<id_token::Claims, FlowError> {
        let info: serde_json::Value = self
            .http
            .get(endpoint)
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(|error| FlowError::Unreachable(format!("{endpoint}: {error}")))?
            .error_for_status()
            .map_err(|error| FlowError::Protocol(format!("{endpoint}: {error}")))?
            .json()
            .await
            .map_err(|error| FlowError::Protocol(format!("{endpoint}: {error}")))?;
        if info["sub"].as_str() != Some(verified.sub.as_str()) {
            return Err(FlowError::InvalidToken(
                "the UserInfo subject differs from the ID token's".into(),
            ));
        }
        Ok(id_token::Claims {
            email: info["email"].as_str().map(str::to_owned),
            email_verified: Some(info["email_verified"].clone()),
            name: verified
                .name
                .or_else(|| info["name"].as_str().map(str::to_owned)),
            preferred_username: verified
                .preferred_username
                .or_else(|| info["preferred_username"].as_str().map(str::to_owned)),
            ..verified
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}
