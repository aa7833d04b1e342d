//! Accounts: sign-up, sign-in and API tokens.

use super::admin::{invitation_secret, InvitationRefused};
use super::{ServiceError, ServiceResult, Services};
use crate::api::CreatedToken;
use crate::auth::oidc::ExternalIdentity;
use crate::auth::password::{MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS};
use crate::auth::tokens::{generate_secret, hash_secret};
use crate::auth::{credentials_stamp, SignedIn};
use crate::ids::new_id;
use crate::model::{ApiToken, User, UserRole};
use crate::sign_in_failure::SignInFailure;
use crate::store::{NewIdentity, NewUser, StoreError};

const MAX_EMAIL_CHARS: usize = 254;
const MAX_NAME_CHARS: usize = 100;
const MAX_TOKEN_NAME_CHARS: usize = 100;

/// How recent the sign-in of an account without a password must be for it to delete itself:
/// it has no password to give again, so signing in anew at the provider is the re-check.
pub const RECENT_SIGN_IN: chrono::Duration = chrono::Duration::minutes(10);

/// What someone gives, once more, to prove the account is theirs before it is deleted.
#[derive(Clone, Copy, Debug)]
pub struct Reauthentication<'a> {
    /// The account's password; required when the account has one.
    pub password: Option<&'a str>,
    /// When the request's sign-in session signed in (None for API tokens and old sessions).
    pub signed_in_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The login limiter's key for the client, as for sign-in.
    pub client: &'a str,
}

/// Why someone a provider vouched for may not sign in here.
#[derive(Debug, thiserror::Error)]
pub enum ExternalSignInError {
    #[error("the provider did not share an email address")]
    NoEmail,
    #[error("accounts of this email domain may not sign in here")]
    DomainNotAllowed,
    #[error("an account with this email exists; the provider has not verified the email")]
    UnverifiedEmail,
    #[error("sign-up is closed on this instance")]
    SignupClosed,
    #[error("an account with this email was created meanwhile")]
    CreatedMeanwhile,
    #[error("this account is disabled")]
    AccountDisabled,
    /// The invitation the sign-in carried does not let a new account in.
    #[error(transparent)]
    Invitation(#[from] InvitationRefused),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<StoreError> for ExternalSignInError {
    fn from(error: StoreError) -> Self {
        ExternalSignInError::Service(error.into())
    }
}

impl ExternalSignInError {
    /// What the sign-in page is told; an internal error's details go to the log only.
    pub fn failure(&self) -> SignInFailure {
        match self {
            ExternalSignInError::NoEmail => SignInFailure::NoEmail,
            ExternalSignInError::DomainNotAllowed => SignInFailure::DomainNotAllowed,
            ExternalSignInError::UnverifiedEmail => SignInFailure::UnverifiedEmail,
            ExternalSignInError::SignupClosed => SignInFailure::SignupClosed,
            ExternalSignInError::AccountDisabled => SignInFailure::AccountDisabled,
            ExternalSignInError::Invitation(refused) => refused.failure(),
            ExternalSignInError::CreatedMeanwhile | ExternalSignInError::Service(_) => {
                SignInFailure::NotCompleted
            }
        }
    }
}

pub(crate) fn normalize_email(email: &str) -> ServiceResult<String> {
    let email = email.trim().to_lowercase();
    let valid = email.chars().count() <= MAX_EMAIL_CHARS
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid {
        Ok(email)
    } else {
        Err(ServiceError::invalid(
            "invalid_email",
            "enter a valid email address",
        ))
    }
}

pub(crate) fn check_password(password: &str) -> ServiceResult<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ServiceError::invalid(
            "weak_password",
            format!("the password needs at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(ServiceError::invalid(
            "invalid_password",
            format!("the password is longer than {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    Ok(())
}

impl Services {
    /// Creates an account. The first account becomes the admin; later ones follow the policy.
    /// Sign-ups are limited per `client` (the address key of `Client::address_key`), each
    /// counted before its password is hashed.
    #[tracing::instrument(skip_all, err(level = "debug"))]
    pub async fn signup(
        &self,
        email: &str,
        password: &str,
        name: Option<&str>,
        client: &str,
    ) -> ServiceResult<User> {
        Ok(self
            .signup_with_invitation(email, password, name, None, client)
            .await?
            .user)
    }

    /// `signup`, with the secret of an invitation when the person has one: a valid, unused,
    /// unexpired invitation (for this email, when it is bound to one) lets the account be
    /// created while sign-up is closed, and is used up by the creation itself, so that of two
    /// sign-ups with it at most one creates an account. A bad invitation is refused (403
    /// `invitation_invalid`, `invitation_used`, `invitation_expired` or
    /// `invitation_email_mismatch`) whatever the policy.
    #[tracing::instrument(skip_all, err(level = "debug"))]
    pub async fn signup_with_invitation(
        &self,
        email: &str,
        password: &str,
        name: Option<&str>,
        invitation: Option<&str>,
        client: &str,
    ) -> ServiceResult<SignedIn> {
        self.local_accounts_enabled()?;
        let email = normalize_email(email)?;
        check_password(password)?;
        let name = match name.map(str::trim).filter(|name| !name.is_empty()) {
            Some(name) if name.chars().count() > MAX_NAME_CHARS => {
                return Err(ServiceError::invalid(
                    "invalid_name",
                    format!("the name is longer than {MAX_NAME_CHARS} characters"),
                ))
            }
            Some(name) => name.to_owned(),
            None => email.split('@').next().unwrap_or_default().to_owned(),
        };
        let invitation = match invitation_secret(invitation)? {
            Some(token) => Some(
                self.usable_invitation(&token, Some(email.as_str()))
                    .await??,
            ),
            None => None,
        };
        if invitation.is_none() && !self.signup_open_to_anyone().await? {
            return Err(ServiceError::Forbidden(
                "sign-up is closed on this instance; ask an administrator for an account".into(),
            ));
        }
        let keys = [format!("client:{client}")];
        let limiter = &self.inner.signup_limiter;
        limiter
            .attempt(&keys)
            .map_err(|retry_after_secs| ServiceError::TooManyRequests { retry_after_secs })?;
        let password_hash = match self.inner.hashing.hash(password.to_owned()).await {
            Ok(hash) => hash,
            Err(error) => {
                limiter.forgive(&keys);
                return Err(error);
            }
        };
        let stamp_of = password_hash.clone();
        let new = NewUser {
            email,
            name,
            password_hash: Some(password_hash),
            identity: None,
        };
        match self.create_account(new, invitation.as_deref()).await {
            Ok(None) => Err(InvitationRefused::Used.into()),
            Ok(Some(user)) => {
                tracing::info!(user = %user.id, role = user.role.as_str(), "account created");
                Ok(SignedIn::new(user, Some(&stamp_of)))
            }
            Err(StoreError::Duplicate(_)) => Err(ServiceError::Conflict(
                "an account with this email exists already".into(),
            )),
            Err(error) => Err(error.into()),
        }
    }

    /// Checks an email and password. Unknown emails take as long as wrong passwords, and
    /// attempts per email and per client address are limited: each is counted before the
    /// password is checked. A successful sign-in clears the email's count and gives back its
    /// own attempt to the client, whose earlier failures stay counted until their window ends:
    /// clearing them would let one account of an attacker's own wipe out the count of their
    /// guesses at everyone else's, and counting successes would lock out people who share
    /// one address (an office behind one NAT) for signing in.
    ///
    /// Answers the user with the stamp of the password hash just checked, for the sign-in
    /// session (`auth::sign_in`); [`Services::login`] is this without the stamp.
    #[tracing::instrument(skip_all, err(level = "debug"))]
    pub async fn authenticate(
        &self,
        email: &str,
        password: &str,
        client: &str,
    ) -> ServiceResult<SignedIn> {
        self.local_accounts_enabled()?;
        let email = email.trim().to_lowercase();
        let limiter = &self.inner.login_limiter;
        let keys = [format!("email:{email}"), format!("client:{client}")];
        limiter
            .attempt(&keys)
            .map_err(|retry_after_secs| ServiceError::TooManyRequests { retry_after_secs })?;
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(ServiceError::BadCredentials);
        }
        let credentials = self.store().credentials_by_email(&email).await?;
        let stored_hash = credentials
            .as_ref()
            .and_then(|found| found.password_hash.clone());
        let ok = match self
            .inner
            .hashing
            .verify(password.to_owned(), stored_hash)
            .await
        {
            Ok(ok) => ok,
            Err(error) => {
                limiter.forgive(&keys);
                return Err(error);
            }
        };
        match credentials {
            // Said only to whoever gives the right password: the address alone tells nothing.
            Some(found) if ok && found.disabled_at.is_some() => {
                Err(super::admin::account_disabled())
            }
            Some(found) if ok => {
                limiter.reset(&keys[0]);
                limiter.forgive(&keys[1..]);
                self.store()
                    .record_sign_in(&found.user.id, chrono::Utc::now())
                    .await?;
                Ok(SignedIn::new(found.user, found.password_hash.as_deref()))
            }
            _ => Err(ServiceError::BadCredentials),
        }
    }

    /// [`Services::authenticate`] for a caller that keeps no sign-in session (a script, a
    /// test): the user whose email and password these are.
    #[tracing::instrument(skip_all, err(level = "debug"))]
    pub async fn login(&self, email: &str, password: &str, client: &str) -> ServiceResult<User> {
        Ok(self.authenticate(email, password, client).await?.user)
    }

    /// Deletes the account and everything of it at once, with no way back: chats, messages and
    /// their search terms, API tokens, provider links and every sign-in session (other browsers
    /// too). An account with a password must give it (a wrong one counts toward the login
    /// limiter, like a failed sign-in); one without must have signed in within
    /// [`RECENT_SIGN_IN`]. The only administrator may not leave while other accounts exist.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id))]
    pub async fn delete_account(
        &self,
        user: &User,
        proof: Reauthentication<'_>,
    ) -> ServiceResult<()> {
        let credentials = self
            .store()
            .credentials_by_email(&user.email)
            .await?
            .filter(|found| found.user.id == user.id)
            .ok_or(ServiceError::Unauthorized)?;
        match credentials.password_hash {
            Some(stored_hash) => self.recheck_password(user, proof, stored_hash).await?,
            None => {
                let recent = proof
                    .signed_in_at
                    .is_some_and(|at| chrono::Utc::now() - at <= RECENT_SIGN_IN);
                if !recent {
                    return Err(ServiceError::denied(
                        "reauthentication_required",
                        format!(
                            "sign in again, then delete the account within {} minutes",
                            RECENT_SIGN_IN.num_minutes()
                        ),
                    ));
                }
            }
        }
        // Checked here, not by the store: a second administrator cannot appear between the
        // count and the delete, as only the first account of an instance becomes one.
        if user.role == UserRole::Admin
            && self.store().count_admins().await? <= 1
            && self.store().count_users().await? > 1
        {
            return Err(ServiceError::denied(
                "last_admin",
                "the only administrator cannot delete their account while other accounts exist",
            ));
        }
        self.store().delete_user(&user.id).await?;
        self.inner.token_cache.forget_user(&user.id);
        tracing::info!(user = %user.id, "account deleted by its owner");
        Ok(())
    }

    async fn recheck_password(
        &self,
        user: &User,
        proof: Reauthentication<'_>,
        stored_hash: String,
    ) -> ServiceResult<()> {
        let limiter = &self.inner.login_limiter;
        let keys = [
            format!("email:{}", user.email.to_lowercase()),
            format!("client:{}", proof.client),
        ];
        // Counted before the check, as a sign-in is (`login`): a burst cannot run more checks
        // than the limit allows.
        limiter
            .attempt(&keys)
            .map_err(|retry_after_secs| ServiceError::TooManyRequests { retry_after_secs })?;
        let password = proof.password.unwrap_or_default();
        let ok = password.len() <= MAX_PASSWORD_BYTES
            && match self
                .inner
                .hashing
                .verify(password.to_owned(), Some(stored_hash))
                .await
            {
                Ok(ok) => ok,
                // No password was checked (the hashing queue was full): the attempt is given back.
                Err(error) => {
                    limiter.forgive(&keys);
                    return Err(error);
                }
            };
        if ok {
            // As for a sign-in (`login`): the email's count is cleared, the client's keeps its
            // failures.
            limiter.reset(&keys[0]);
            limiter.forgive(&keys[1..]);
            Ok(())
        } else {
            Err(ServiceError::denied(
                "wrong_password",
                "the password is not right; the account was not deleted",
            ))
        }
    }

    fn local_accounts_enabled(&self) -> ServiceResult<()> {
        if self.config().local_accounts {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(
                "this instance signs in through its identity providers only".into(),
            ))
        }
    }

    /// Signs in someone a provider vouched for. Their first sign-in creates the account; a
    /// later one finds it by the provider's subject. An existing account with the same email is
    /// linked only when the provider says the email is verified.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(provider = %identity.provider))]
    pub async fn external_sign_in(
        &self,
        identity: ExternalIdentity,
    ) -> Result<User, ExternalSignInError> {
        Ok(self
            .external_sign_in_with_invitation(identity, None)
            .await?
            .user)
    }

    /// `external_sign_in`, with the secret of an invitation the person followed. It matters only
    /// when an account is created: a valid, unused, unexpired invitation (bound to an email,
    /// only when the provider verified that email) lets it be created while sign-up is closed,
    /// and is used up by the creation itself, so that of two sign-ins with it at most one
    /// creates an account. A bad invitation refuses the creation (`Invitation`) whatever the
    /// policy; someone who has an account signs in and leaves the invitation unused.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(provider = %identity.provider))]
    pub async fn external_sign_in_with_invitation(
        &self,
        identity: ExternalIdentity,
        invitation: Option<&str>,
    ) -> Result<SignedIn, ExternalSignInError> {
        let store = self.store();
        if let Some(user) = store
            .user_by_identity(&identity.provider, &identity.subject)
            .await?
        {
            return self.externally_signed_in(user).await;
        }
        // An address the provider shares but that is no email address is as good as none.
        let email = identity
            .email
            .as_deref()
            .and_then(|email| normalize_email(email).ok())
            .ok_or(ExternalSignInError::NoEmail)?;
        let domains = &self.config().allowed_email_domains;
        let domain = email.rsplit('@').next().unwrap_or_default();
        if !domains.is_empty()
            && !domains
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(domain))
        {
            return Err(ExternalSignInError::DomainNotAllowed);
        }
        if let Some(existing) = store.credentials_by_email(&email).await? {
            if !identity.email_verified {
                return Err(ExternalSignInError::UnverifiedEmail);
            }
            if existing.disabled_at.is_some() {
                return Err(ExternalSignInError::AccountDisabled);
            }
            store
                .link_identity(
                    &existing.user.id,
                    &identity.provider,
                    &identity.subject,
                    Some(&email),
                )
                .await?;
            tracing::info!(user = %existing.user.id, provider = %identity.provider, "linked a provider account");
            return self.externally_signed_in(existing.user).await;
        }
        let verified_email = identity.email_verified.then_some(email.as_str());
        let invitation = match invitation_secret(invitation)? {
            Some(token) => Some(self.usable_invitation(&token, verified_email).await??),
            None => None,
        };
        if invitation.is_none() && !self.signup_open_to_anyone().await? {
            return Err(ExternalSignInError::SignupClosed);
        }
        let name = identity
            .name
            .filter(|name| !name.trim().is_empty())
            .map(|name| name.chars().take(MAX_NAME_CHARS).collect())
            .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
        let new = NewUser {
            email: email.clone(),
            name,
            password_hash: None,
            identity: Some(NewIdentity {
                provider: identity.provider.clone(),
                subject: identity.subject,
                email: Some(email),
            }),
        };
        let user = match self.create_account(new, invitation.as_deref()).await {
            Ok(Some(user)) => user,
            Ok(None) => return Err(InvitationRefused::Used.into()),
            Err(StoreError::Duplicate(_)) => return Err(ExternalSignInError::CreatedMeanwhile),
            Err(error) => return Err(error.into()),
        };
        tracing::info!(
            user = %user.id,
            provider = %identity.provider,
            invited = invitation.is_some(),
            "account created through a provider"
        );
        self.externally_signed_in(user).await
    }

    /// Creates the account, with its provider's identity when it has one; with the invitation's
    /// id, the invitation is used up in the same store operation. `None` (and no account) when
    /// the invitation was used or expired meanwhile.
    async fn create_account(
        &self,
        new: NewUser,
        invitation: Option<&str>,
    ) -> Result<Option<User>, StoreError> {
        match invitation {
            Some(id) => {
                self.store()
                    .create_invited_user(id, new, chrono::Utc::now())
                    .await
            }
            None => self.store().create_user(new).await.map(Some),
        }
    }

    /// A provider vouched for `user`: refused when the account is disabled, else noted as
    /// signed in, with the stamp of the account's credentials as they are now (the provider,
    /// not a password, was the proof).
    async fn externally_signed_in(&self, user: User) -> Result<SignedIn, ExternalSignInError> {
        let found = self
            .store()
            .credentials_by_email(&user.email)
            .await?
            .filter(|found| found.user.id == user.id);
        if found
            .as_ref()
            .is_some_and(|found| found.disabled_at.is_some())
        {
            return Err(ExternalSignInError::AccountDisabled);
        }
        self.store()
            .record_sign_in(&user.id, chrono::Utc::now())
            .await?;
        let password_hash = found.and_then(|found| found.password_hash);
        Ok(SignedIn::new(user, password_hash.as_deref()))
    }

    /// The account of an API token, with the credentials stamp the token was made under (which
    /// a token it makes inherits). `Unauthorized` when there is no such token, its account is
    /// disabled, or the account's password changed since the token was made.
    #[tracing::instrument(skip_all, err(level = "debug"))]
    pub async fn user_for_token(&self, secret: &str) -> ServiceResult<(User, Option<String>)> {
        if secret.is_empty() || secret.len() > 200 {
            return Err(ServiceError::Unauthorized);
        }
        let hash = hash_secret(secret);
        if let Some(found) = self.inner.token_cache.get(&hash) {
            return Ok(found);
        }
        // Taken before the read: an account disabled or a token deleted while the read is on
        // its way must not be cached from its answer.
        let generation = self.inner.token_cache.generation();
        let holder = self
            .store()
            .token_holder(&hash)
            .await?
            .ok_or(ServiceError::Unauthorized)?;
        // A token made under other credentials than the account's now (made with the old
        // password, and written after a reset had swept the account's tokens) counts for
        // nothing. Tokens from before stamps were kept have none.
        let now = credentials_stamp(holder.credentials.password_hash.as_deref());
        if holder
            .made_under
            .as_ref()
            .is_some_and(|stamp| *stamp != now)
        {
            return Err(ServiceError::Unauthorized);
        }
        let found = (holder.credentials.user, holder.made_under);
        self.inner.token_cache.put(hash, found.clone(), generation);
        Ok(found)
    }

    /// Makes an API token for `user`, named `name` (1 to 100 characters), made under the
    /// credentials stamp of what asked for it (`made_under`: the sign-in's, or the token's):
    /// once the password changes, it stops with them. Answers its secret, shown only now.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id))]
    pub async fn create_token(
        &self,
        user: &User,
        name: &str,
        made_under: Option<&str>,
    ) -> ServiceResult<CreatedToken> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_TOKEN_NAME_CHARS {
            return Err(ServiceError::invalid(
                "invalid_name",
                format!("the token name needs 1 to {MAX_TOKEN_NAME_CHARS} characters"),
            ));
        }
        let secret = generate_secret();
        let token = self
            .store()
            .create_token(&user.id, &new_id(), name, &hash_secret(&secret), made_under)
            .await?;
        Ok(CreatedToken {
            id: token.id,
            name: token.name,
            token: secret,
            created_at: token.created_at,
        })
    }

    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id))]
    pub async fn list_tokens(&self, user: &User) -> ServiceResult<Vec<ApiToken>> {
        Ok(self.store().list_tokens(&user.id).await?)
    }

    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, token_id = %id))]
    pub async fn delete_token(&self, user: &User, id: &str) -> ServiceResult<()> {
        if self.store().delete_token(&user.id, id).await? {
            // The cache is keyed by secret hash, which we no longer know: drop the user's.
            self.inner.token_cache.forget_user(&user.id);
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }
}

/// API tokens seen in the last few seconds. A token deleted, or an account disabled, deleted or
/// reset on this node stops working at once; on another node of the same database, within
/// `TOKEN_CACHE_TTL`.
#[derive(Default)]
pub(crate) struct TokenCache {
    state: std::sync::Mutex<TokenCacheState>,
}

#[derive(Default)]
struct TokenCacheState {
    entries: std::collections::HashMap<String, (TokenUser, std::time::Instant)>,
    /// Counts `forget_user` calls: an answer read from the store before the latest one may
    /// predate what it forgot, and is not kept.
    generation: u64,
}

/// What a token look-up answers: its account, and the credentials stamp it was made under.
type TokenUser = (User, Option<String>);

const TOKEN_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(10);
const TOKEN_CACHE_SIZE: usize = 10_000;

impl TokenCache {
    fn get(&self, hash: &str) -> Option<TokenUser> {
        let state = self.state.lock().ok()?;
        let (found, at) = state.entries.get(hash)?;
        (at.elapsed() < TOKEN_CACHE_TTL).then(|| found.clone())
    }

    /// What `put` needs to know that nothing was forgotten since.
    fn generation(&self) -> u64 {
        self.state.lock().map(|state| state.generation).unwrap_or(0)
    }

    /// Keeps `found` for `hash`, read from the store when the cache was at `generation`; not
    /// kept when a user was forgotten since.
    fn put(&self, hash: String, found: TokenUser, generation: u64) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.generation != generation {
            return;
        }
        if state.entries.len() >= TOKEN_CACHE_SIZE {
            state
                .entries
                .retain(|_, (_, at)| at.elapsed() < TOKEN_CACHE_TTL);
            if state.entries.len() >= TOKEN_CACHE_SIZE {
                state.entries.clear();
            }
        }
        state
            .entries
            .insert(hash, (found, std::time::Instant::now()));
    }

    pub(super) fn forget_user(&self, user_id: &str) {
        if let Ok(mut state) = self.state.lock() {
            state.generation += 1;
            state.entries.retain(|_, ((user, _), _)| user.id != user_id);
        }
    }
}

#[cfg(test)]
mod token_cache_tests {
    use super::TokenCache;
    use crate::model::{User, UserRole};

    fn bob() -> (User, Option<String>) {
        let user = User {
            id: "bob".into(),
            email: "bob@example.com".into(),
            name: "Bob".into(),
            role: UserRole::User,
            created_at: chrono::DateTime::from_timestamp(0, 0).expect("epoch"),
        };
        (user, Some("stamp".into()))
    }

    #[test]
    fn an_answer_read_before_a_user_was_forgotten_is_not_kept() {
        let cache = TokenCache::default();
        let before_the_read = cache.generation();
        // The account is disabled while its token's look-up is on its way.
        cache.forget_user("bob");
        cache.put("hash".into(), bob(), before_the_read);
        assert_eq!(cache.get("hash"), None);

        let after = cache.generation();
        cache.put("hash".into(), bob(), after);
        assert_eq!(cache.get("hash"), Some(bob()));
        cache.forget_user("bob");
        assert_eq!(cache.get("hash"), None);
    }
}
