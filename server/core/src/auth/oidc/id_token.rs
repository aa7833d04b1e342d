//! Verifying an OpenID Connect ID token: signature against the provider's published keys,
//! issuer, audience, expiry and the nonce this sign-in sent.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::FlowError;

#[derive(Clone, Debug, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: Option<serde_json::Value>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub preferred_username: Option<String>,
}

impl Claims {
    /// Some providers send `"true"` as a string.
    pub fn email_is_verified(&self) -> bool {
        match &self.email_verified {
            Some(serde_json::Value::Bool(verified)) => *verified,
            Some(serde_json::Value::String(text)) => text == "true",
            _ => false,
        }
    }
}

const ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// Checks `token` and returns its claims. `none` and HMAC algorithms are refused: an ID token
/// must be signed with one of the provider's public keys.
pub fn verify(
    token: &str,
    keys: &JwkSet,
    issuer: &str,
    client_id: &str,
    nonce: &str,
) -> Result<Claims, FlowError> {
    let invalid = |reason: &str| FlowError::InvalidToken(reason.to_owned());
    let header =
        decode_header(token).map_err(|error| invalid(&format!("unreadable header: {error}")))?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(invalid(&format!(
            "algorithm {:?} is not accepted",
            header.alg
        )));
    }
    let jwk = match &header.kid {
        Some(kid) => keys.find(kid),
        None if keys.keys.len() == 1 => keys.keys.first(),
        None => None,
    }
    .ok_or_else(|| invalid("signed with a key the provider does not publish"))?;
    let key =
        DecodingKey::from_jwk(jwk).map_err(|error| invalid(&format!("unusable key: {error}")))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 60;
    let data = decode::<Claims>(token, &key, &validation).map_err(|error| {
        use jsonwebtoken::errors::ErrorKind;
        match error.kind() {
            ErrorKind::InvalidIssuer => invalid("issued by another issuer"),
            ErrorKind::InvalidAudience => invalid("issued for another client"),
            ErrorKind::ExpiredSignature => invalid("expired"),
            ErrorKind::InvalidSignature => invalid("bad signature"),
            other => invalid(&format!("{other:?}")),
        }
    })?;
    if data.claims.nonce.as_deref() != Some(nonce) {
        return Err(invalid("the nonce does not match this sign-in"));
    }
    Ok(data.claims)
}
