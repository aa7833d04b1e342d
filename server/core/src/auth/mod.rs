//! Authentication: password hashing, API token secrets, the stamp a sign-in keeps of the
//! credentials it checked, sign-in and sign-up rate limiting, OAuth/OIDC sign-in and the
//! resolved `Client` of a request. Sessions and extractors, which are HTTP, live in
//! `confab-http`.

pub mod client;
pub mod oidc;
pub mod password;
pub mod rate_limit;
pub mod tokens;

use sha2::{Digest, Sha256};

use crate::model::User;

/// A person who just proved who they are, with the stamp of the credentials as they were read
/// for that proof. A sign-in session keeps the stamp, and a request with the session counts
/// only while the account's credentials still have it: a password reset that lands while a
/// sign-in with the old password is between its check and the saving of its session ends that
/// session too (the way Django's session auth hash does).
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub user: User,
    stamp: String,
}

impl SignedIn {
    /// `user`, proven with credentials whose password hash is `password_hash` (none for an
    /// account without a password).
    pub fn new(user: User, password_hash: Option<&str>) -> Self {
        SignedIn {
            user,
            stamp: credentials_stamp(password_hash),
        }
    }

    /// The stamp of the credentials the sign-in checked ([`credentials_stamp`]), which its
    /// sign-in session keeps.
    pub fn stamp(&self) -> &str {
        &self.stamp
    }
}

/// A short digest of an account's password hash (of nothing when it has no password): it
/// changes whenever the password does. The session records live in the database next to the
/// hashes, so a plain SHA-256 reveals nothing they do not; 128 bits, as 32 hex digits.
pub fn credentials_stamp(password_hash: Option<&str>) -> String {
    let mut digest = Sha256::new();
    digest.update(b"confab credentials stamp\0");
    match password_hash {
        Some(hash) => {
            digest.update(b"+");
            digest.update(hash.as_bytes());
        }
        None => digest.update(b"-"),
    }
    digest.finalize()[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::credentials_stamp;

    #[test]
    fn the_stamp_changes_with_the_password_hash_and_only_with_it() {
        let old = credentials_stamp(Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$b2xk"));
        let new = credentials_stamp(Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$bmV3"));
        let none = credentials_stamp(None);
        assert_eq!(
            old,
            credentials_stamp(Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$b2xk"))
        );
        assert_ne!(old, new);
        assert_ne!(old, none);
        // No password and an empty hash are different credentials.
        assert_ne!(none, credentials_stamp(Some("")));
        for stamp in [&old, &new, &none] {
            assert_eq!(stamp.len(), 32);
            assert!(stamp.bytes().all(|byte| byte.is_ascii_hexdigit()));
        }
    }
}
