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

#[cfg(test)]
mod tests {
    //! Tokens signed with a throw-away RSA key made for these tests (testdata/), so every
    //! check can be shown to refuse what it should.

    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    const KEY_PEM: &str = include_str!("testdata/test-signing-key.pem");
    const MODULUS: &str = "y93c09S64-6hyg0fpmexKggWacTE7IyoJqoauY03oPT6uusp6g74VhkulyUwjA5Eh9VhiQDeMdukORszb_-zKJy9fEiCn3oIbMVJkhh2gm0cnKJe8at3DB6Oduz5zrWAxtUUPTFW4PbXHC0qAj2sP-BHXU8zmXbrd7XHX7lgPeOV3N4XUwug9rBYGgkQtIc2ba45b17xzwP7CKAfzztR1Ro_zD3_8-RwyA1hXeRW-lr4A0wjD7HtVwB7j8dEuhLrwUCXsmSXtzE-nqpzttlYUUGb_OY85xJtDlfN4FSB_tFHTkl_ZNuR1ojuGN7IFp73xAB2e4zSWexYaJ_fbG_MNw";
    const ISSUER: &str = "https://id.example.com";
    const CLIENT: &str = "confab";

    fn keys() -> JwkSet {
        serde_json::from_value(json!({ "keys": [{
            "kty": "RSA", "kid": "test-key", "use": "sig", "alg": "RS256", "n": MODULUS, "e": "AQAB"
        }] }))
        .unwrap()
    }

    fn token(claims: serde_json::Value, kid: Option<&str>, algorithm: Algorithm) -> String {
        let mut header = Header::new(algorithm);
        header.kid = kid.map(str::to_owned);
        let key = match algorithm {
            Algorithm::HS256 => EncodingKey::from_secret(b"shared secret"),
            _ => EncodingKey::from_rsa_pem(KEY_PEM.as_bytes()).unwrap(),
        };
        encode(&header, &claims, &key).unwrap()
    }

    fn claims(overrides: serde_json::Value) -> serde_json::Value {
        let mut claims = json!({
            "iss": ISSUER, "aud": CLIENT, "sub": "user-1", "nonce": "n-123",
            "exp": chrono::Utc::now().timestamp() + 300, "iat": chrono::Utc::now().timestamp(),
            "email": "grace@example.com", "email_verified": true
        });
        if let (Some(base), Some(extra)) = (claims.as_object_mut(), overrides.as_object()) {
            for (key, value) in extra {
                base.insert(key.clone(), value.clone());
            }
        }
        claims
    }

    fn check(token: &str) -> Result<Claims, FlowError> {
        verify(token, &keys(), ISSUER, CLIENT, "n-123")
    }

    fn refused(result: Result<Claims, FlowError>, why: &str) {
        match result {
            Err(FlowError::InvalidToken(reason)) => assert!(reason.contains(why), "{reason}"),
            other => panic!("expected a refusal ({why}), got {other:?}"),
        }
    }

    #[test]
    fn a_good_token_is_accepted() {
        let accepted = check(&token(
            claims(json!({})),
            Some("test-key"),
            Algorithm::RS256,
        ))
        .unwrap();
        assert_eq!(accepted.sub, "user-1");
        assert!(accepted.email_is_verified());
    }

    #[test]
    fn a_token_from_another_issuer_is_refused() {
        let other = token(
            claims(json!({ "iss": "https://evil.example.com" })),
            Some("test-key"),
            Algorithm::RS256,
        );
        refused(check(&other), "another issuer");
    }

    #[test]
    fn a_wrong_nonce_is_refused() {
        refused(
            check(&token(
                claims(json!({ "nonce": "replayed" })),
                Some("test-key"),
                Algorithm::RS256,
            )),
            "nonce",
        );
        let without = claims(json!({})).as_object().map(|map| {
            let mut map = map.clone();
            map.remove("nonce");
            serde_json::Value::Object(map)
        });
        refused(
            check(&token(without.unwrap(), Some("test-key"), Algorithm::RS256)),
            "nonce",
        );
    }

    #[test]
    fn other_audiences_expired_tokens_and_unknown_keys_are_refused() {
        refused(
            check(&token(
                claims(json!({ "aud": "someone-else" })),
                Some("test-key"),
                Algorithm::RS256,
            )),
            "another client",
        );
        refused(
            check(&token(
                claims(json!({ "exp": chrono::Utc::now().timestamp() - 3600 })),
                Some("test-key"),
                Algorithm::RS256,
            )),
            "expired",
        );
        refused(
            check(&token(
                claims(json!({})),
                Some("rotated-away"),
                Algorithm::RS256,
            )),
            "does not publish",
        );
    }

    #[test]
    fn symmetric_and_tampered_tokens_are_refused() {
        refused(
            check(&token(
                claims(json!({})),
                Some("test-key"),
                Algorithm::HS256,
            )),
            "not accepted",
        );
        let good = token(claims(json!({})), Some("test-key"), Algorithm::RS256);
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        let forged = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            claims(json!({ "sub": "admin" })).to_string(),
        );
        parts[1] = forged;
        refused(check(&parts.join(".")), "bad signature");
    }
}
