//! Administration (issue 14): what the instance's administrator may do, and the rules around
//! it. Every method named `admin_*` takes the acting user and refuses anyone who is not an
//! administrator with 403 `admin_required`, before it reads anything. Every change an
//! administrator makes is written with its audit entry by one store call (`Store::audited`):
//! no change is ever without its entry.
//!
//! The REST adapters (`/api/admin/...`) and the UI's server functions call these methods and
//! nothing below them. Links carrying a secret (`?invitation=`, `/reset-password?token=`) are
//! built by the adapter, which knows the public address; the service hands out the secret.

use chrono::{DateTime, Duration, Utc};

use super::accounts::{check_password, normalize_email};
use super::{ServiceError, ServiceResult, Services, SignupPolicy};
use crate::api::{
    AdminSettings, AuditAction, AuditEntry, AuditPage, Invitation, InvitationInput,
    InvitationStatus, PageInput, UserPage,
};
use crate::auth::tokens::{generate_secret, hash_secret};
use crate::ids::new_id;
use crate::model::{clamp_limit, User, UserRole};
use crate::sign_in_failure::SignInFailure;
use crate::store::{cursor, AdminChange, StoredInvitation, StoredPasswordReset};

/// How long an invitation is valid when its creator does not say.
pub const DEFAULT_INVITATION_HOURS: i64 = 7 * 24;
/// The longest validity an invitation may be given: 30 days.
pub const MAX_INVITATION_HOURS: i64 = 30 * 24;
/// How long a password reset link is valid.
pub const PASSWORD_RESET_VALID: Duration = Duration::hours(24);
/// The most invitations `admin_list_invitations` returns (the newest).
pub const MAX_INVITATIONS_LISTED: usize = 200;
/// The stored setting holding the sign-up policy (`open` or `closed`).
const SIGNUP_SETTING: &str = "signup";
/// Longest secret accepted from a link: generated ones are far shorter.
const MAX_SECRET_BYTES: usize = 200;

/// An invitation just created: its one-time secret is here and nowhere else.
#[derive(Clone, Debug)]
pub struct NewInvitation {
    pub invitation: Invitation,
    pub token: String,
}

/// A password reset just created for `user_id`: its one-time secret is here and nowhere else.
#[derive(Clone, Debug)]
pub struct NewPasswordReset {
    pub user_id: String,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

fn admin_required() -> ServiceError {
    ServiceError::denied(
        "admin_required",
        "only an administrator of this instance may do this",
    )
}

fn last_admin() -> ServiceError {
    ServiceError::denied(
        "last_admin",
        "the only administrator cannot be disabled or deleted",
    )
}

pub(crate) fn account_disabled() -> ServiceError {
    ServiceError::denied(
        "account_disabled",
        "this account is disabled; ask an administrator",
    )
}

fn public_invitation(stored: StoredInvitation, now: DateTime<Utc>) -> Invitation {
    let status = if stored.used_at.is_some() {
        InvitationStatus::Used
    } else if stored.expires_at <= now {
        InvitationStatus::Expired
    } else {
        InvitationStatus::Pending
    };
    Invitation {
        id: stored.id,
        email: stored.email,
        created_by: stored.created_by,
        created_at: stored.created_at,
        expires_at: stored.expires_at,
        used_at: stored.used_at,
        used_by: stored.used_by,
        status,
    }
}

/// A time as the stores keep it (whole milliseconds), so what is answered equals what is read
/// back later.
fn stored_time(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(time.timestamp_millis()).unwrap_or(time)
}

impl Services {
    fn require_admin(&self, actor: &User) -> ServiceResult<()> {
        if actor.role == UserRole::Admin {
            Ok(())
        } else {
            Err(admin_required())
        }
    }

    /// Makes `change` with its audit entry (`Store::audited`): whether anything changed.
    async fn audited(
        &self,
        actor: &User,
        change: AdminChange,
        action: AuditAction,
        target: (&str, Option<&str>),
        detail: Option<String>,
    ) -> ServiceResult<bool> {
        let (target_id, target_email) = target;
        let entry = AuditEntry {
            id: new_id(),
            at: stored_time(Utc::now()),
            actor_id: actor.id.clone(),
            actor_email: actor.email.clone(),
            action,
            target_id: target_id.to_owned(),
            target_email: target_email.map(str::to_owned),
            detail,
        };
        let changed = self.store().audited(change, entry).await?;
        if changed {
            tracing::info!(actor = %actor.id, action = action.as_str(), target = %target_id, "administrator action");
        }
        Ok(changed)
    }

    /// The sign-up policy in force: the one an administrator stored, else the configured one.
    /// Sign-up, provider sign-up and the sign-in page all read it here.
    #[tracing::instrument(skip_all, err(level = "debug"))]
    pub async fn signup_policy(&self) -> ServiceResult<SignupPolicy> {
        Ok(self
            .store()
            .setting(SIGNUP_SETTING)
            .await?
            .and_then(|stored| SignupPolicy::parse(&stored))
            .unwrap_or(self.config().signup))
    }

    /// Whether anyone may sign up without an invitation now: the policy in force is open, or
    /// the instance has no account yet (its first account, the administrator, may always
    /// sign up). Sign-up and the sign-in page both ask this.
    #[tracing::instrument(skip_all, err(level = "debug"))]
    pub async fn signup_open_to_anyone(&self) -> ServiceResult<bool> {
        Ok(self.signup_policy().await? == SignupPolicy::Open
            || self.store().count_users().await? == 0)
    }

    /// How one may sign in here (`GET /api/auth/providers`, the sign-in page): a button per
    /// identity provider, whether passwords work, and who may create an account now.
    pub async fn sign_in_choices(&self) -> ServiceResult<crate::api::SignInChoices> {
        let signup = if self.signup_open_to_anyone().await? {
            SignupPolicy::Open
        } else {
            SignupPolicy::Closed
        };
        Ok(crate::api::SignInChoices {
            providers: self.external_auth().buttons(),
            local_accounts: self.config().local_accounts,
            signup,
        })
    }

    /// The run-time settings (`GET /api/admin/settings`).
    #[tracing::instrument(skip_all, err(level = "debug"), fields(actor_id = %actor.id))]
    pub async fn admin_settings(&self, actor: &User) -> ServiceResult<AdminSettings> {
        self.require_admin(actor)?;
        Ok(AdminSettings {
            signup: self.signup_policy().await?,
        })
    }

    /// Stores the run-time settings (`PUT /api/admin/settings`); they win over the
    /// configuration from then on, restarts included. Audited as `signup_policy`.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(actor_id = %actor.id))]
    pub async fn admin_update_settings(
        &self,
        actor: &User,
        settings: AdminSettings,
    ) -> ServiceResult<AdminSettings> {
        self.require_admin(actor)?;
        let policy = settings.signup.as_str();
        let change = AdminChange::SetSetting {
            key: SIGNUP_SETTING.to_owned(),
            value: policy.to_owned(),
        };
        self.audited(
            actor,
            change,
            AuditAction::SignupPolicy,
            (SIGNUP_SETTING, None),
            Some(policy.to_owned()),
        )
        .await?;
        Ok(settings)
    }

    /// A page of the accounts, by email (`GET /api/admin/users`).
    #[tracing::instrument(skip_all, err(level = "debug"), fields(actor_id = %actor.id))]
    pub async fn admin_list_users(
        &self,
        actor: &User,
        page: &PageInput,
    ) -> ServiceResult<UserPage> {
        self.require_admin(actor)?;
        let limit = clamp_limit(page.limit);
        let after = page
            .cursor
            .as_deref()
            .map(cursor::decode_email)
            .transpose()?;
        // One more than asked: whether a next page exists.
        let mut users = self.store().list_users(after.as_deref(), limit + 1).await?;
        let next_cursor = if users.len() > limit {
            users.truncate(limit);
            users.last().map(|last| cursor::encode_email(&last.email))
        } else {
            None
        };
        Ok(UserPage { users, next_cursor })
    }

    /// The account an administrator acts on: 404 when there is none with this id.
    async fn target(&self, id: &str) -> ServiceResult<User> {
        if id.is_empty() || id.len() > 64 {
            return Err(ServiceError::NotFound);
        }
        self.store()
            .user_by_id(id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    fn keep_an_admin(&self, target: &User) -> ServiceResult<()> {
        // Only the first account of an instance is an administrator, so an administrator is
        // always the last one.
        if target.role == UserRole::Admin {
            Err(last_admin())
        } else {
            Ok(())
        }
    }

    /// Disables an account (`POST /api/admin/users/{id}/disable`): it can no longer sign in
    /// (403 `account_disabled`, with a password or through a provider), every sign-in session
    /// of it ends at once, and its API tokens answer 401. Disabling it again keeps the time it
    /// was first disabled and ends its sign-ins again. Audited as `disable_user` when it was
    /// enabled.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(actor_id = %actor.id, target_user_id = %id))]
    pub async fn admin_disable_user(&self, actor: &User, id: &str) -> ServiceResult<()> {
        self.require_admin(actor)?;
        let target = self.target(id).await?;
        self.keep_an_admin(&target)?;
        let change = AdminChange::DisableUser {
            id: target.id.clone(),
            at: stored_time(Utc::now()),
        };
        let target_ref = (target.id.as_str(), Some(target.email.as_str()));
        self.audited(actor, change, AuditAction::DisableUser, target_ref, None)
            .await?;
        self.inner.token_cache.forget_user(&target.id);
        tracing::info!(user = %target.id, "account disabled");
        Ok(())
    }

    /// Enables a disabled account again (`POST /api/admin/users/{id}/enable`): it signs in as
    /// before. Audited as `enable_user` when it was disabled; enabling an enabled account
    /// changes nothing and records nothing.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(actor_id = %actor.id, target_user_id = %id))]
    pub async fn admin_enable_user(&self, actor: &User, id: &str) -> ServiceResult<()> {
        self.require_admin(actor)?;
        let target = self.target(id).await?;
        let change = AdminChange::EnableUser {
            id: target.id.clone(),
        };
        let target_ref = (target.id.as_str(), Some(target.email.as_str()));
        self.audited(actor, change, AuditAction::EnableUser, target_ref, None)
            .await?;
        Ok(())
    }

    /// Deletes an account and everything of it (`DELETE /api/admin/users/{id}`), as
    /// `delete_account` does, without its password: the administrator is signed in. The
    /// audit log keeps naming it by email. Audited as `delete_user`.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(actor_id = %actor.id, target_user_id = %id))]
    pub async fn admin_delete_user(&self, actor: &User, id: &str) -> ServiceResult<()> {
        self.require_admin(actor)?;
        let target = self.target(id).await?;
        self.keep_an_admin(&target)?;
        let change = AdminChange::DeleteUser {
            id: target.id.clone(),
        };
        let target_ref = (target.id.as_str(), Some(target.email.as_str()));
        if !self
            .audited(actor, change, AuditAction::DeleteUser, target_ref, None)
            .await?
        {
            return Err(ServiceError::NotFound);
        }
        self.inner.token_cache.forget_user(&target.id);
        tracing::info!(user = %target.id, "account deleted by an administrator");
        Ok(())
    }

    /// Creates an invitation (`POST /api/admin/invitations`): sign-up with its secret, or a
    /// first sign-in through a provider, works once, even while sign-up is closed, for `email` only when given, until it expires
    /// (`expires_in_hours`, default [`DEFAULT_INVITATION_HOURS`], at most
    /// [`MAX_INVITATION_HOURS`]). Audited as `invite`.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(actor_id = %actor.id))]
    pub async fn admin_create_invitation(
        &self,
        actor: &User,
        input: &InvitationInput,
    ) -> ServiceResult<NewInvitation> {
        self.require_admin(actor)?;
        let email = match input.email.as_deref().map(str::trim) {
            Some(email) if !email.is_empty() => Some(normalize_email(email)?),
            _ => None,
        };
        let hours = input.expires_in_hours.unwrap_or(DEFAULT_INVITATION_HOURS);
        if !(1..=MAX_INVITATION_HOURS).contains(&hours) {
            return Err(ServiceError::invalid(
                "invalid_expiry",
                format!("an invitation expires in 1 to {MAX_INVITATION_HOURS} hours"),
            ));
        }
        let now = stored_time(Utc::now());
        let token = generate_secret();
        let stored = StoredInvitation {
            id: new_id(),
            token_hash: hash_secret(&token),
            email,
            created_by: actor.email.clone(),
            created_at: now,
            expires_at: now + Duration::hours(hours),
            used_at: None,
            used_by: None,
        };
        self.audited(
            actor,
            AdminChange::CreateInvitation(stored.clone()),
            AuditAction::Invite,
            (&stored.id, stored.email.as_deref()),
            Some(format!("expires {}", stored.expires_at.to_rfc3339())),
        )
        .await?;
        Ok(NewInvitation {
            invitation: public_invitation(stored, now),
            token,
        })
    }

    /// The newest invitations (at most [`MAX_INVITATIONS_LISTED`]), used and expired ones
    /// included (`GET /api/admin/invitations`).
    #[tracing::instrument(skip_all, err(level = "debug"), fields(actor_id = %actor.id))]
    pub async fn admin_list_invitations(&self, actor: &User) -> ServiceResult<Vec<Invitation>> {
        self.require_admin(actor)?;
        let now = Utc::now();
        Ok(self
            .store()
            .list_invitations(MAX_INVITATIONS_LISTED)
            .await?
            .into_iter()
            .map(|stored| public_invitation(stored, now))
            .collect())
    }

    /// Revokes an invitation (`DELETE /api/admin/invitations/{id}`): its secret no longer
    /// works. 404 when there is none with this id. Audited as `revoke_invitation`, with the
    /// email it was for, if any.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(actor_id = %actor.id, invitation_id = %id))]
    pub async fn admin_revoke_invitation(&self, actor: &User, id: &str) -> ServiceResult<()> {
        self.require_admin(actor)?;
        if id.is_empty() || id.len() > 64 {
            return Err(ServiceError::NotFound);
        }
        let invitation = self
            .store()
            .invitation_by_id(id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let change = AdminChange::DeleteInvitation { id: id.to_owned() };
        let target_ref = (id, invitation.email.as_deref());
        if !self
            .audited(
                actor,
                change,
                AuditAction::RevokeInvitation,
                target_ref,
                None,
            )
            .await?
        {
            return Err(ServiceError::NotFound);
        }
        Ok(())
    }

    /// Creates a one-time password reset for an account (`POST
    /// /api/admin/users/{id}/password-reset`), valid [`PASSWORD_RESET_VALID`]. Audited as
    /// `password_reset_link`.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(actor_id = %actor.id, target_user_id = %id))]
    pub async fn admin_create_password_reset(
        &self,
        actor: &User,
        id: &str,
    ) -> ServiceResult<NewPasswordReset> {
        self.require_admin(actor)?;
        let target = self.target(id).await?;
        let now = stored_time(Utc::now());
        let token = generate_secret();
        let expires_at = now + PASSWORD_RESET_VALID;
        let reset = StoredPasswordReset {
            id: new_id(),
            token_hash: hash_secret(&token),
            user_id: target.id.clone(),
            created_at: now,
            expires_at,
            used_at: None,
        };
        self.audited(
            actor,
            AdminChange::CreatePasswordReset(reset),
            AuditAction::PasswordResetLink,
            (&target.id, Some(&target.email)),
            None,
        )
        .await?;
        Ok(NewPasswordReset {
            user_id: target.id,
            token,
            expires_at,
        })
    }

    /// Sets a new password with the secret of a reset link (`POST /api/auth/password-reset`,
    /// no sign-in needed): the password follows the sign-up rules, the link is used up, every
    /// sign-in session of the account ends (one being saved meanwhile included: its stamp no
    /// longer matches, see `auth::SignedIn`) and its API tokens are deleted. A link that is unknown or used answers 403
    /// `reset_token_invalid`, an expired one `reset_token_expired`.
    #[tracing::instrument(skip_all, err(level = "debug"))]
    pub async fn reset_password(&self, token: &str, password: &str) -> ServiceResult<()> {
        let invalid = || {
            ServiceError::denied(
                "reset_token_invalid",
                "this password reset link is not valid or was used already; ask an administrator for a new one",
            )
        };
        if token.is_empty() || token.len() > MAX_SECRET_BYTES {
            return Err(invalid());
        }
        let reset = self
            .store()
            .password_reset_by_token_hash(&hash_secret(token))
            .await?
            .ok_or_else(invalid)?;
        if reset.used_at.is_some() {
            return Err(invalid());
        }
        let now = Utc::now();
        if reset.expires_at <= now {
            return Err(ServiceError::denied(
                "reset_token_expired",
                "this password reset link has expired; ask an administrator for a new one",
            ));
        }
        check_password(password)?;
        let password_hash = self.inner.hashing.hash(password.to_owned()).await?;
        let user_id = self
            .store()
            .use_password_reset(&reset.id, &password_hash, now)
            .await?
            .ok_or_else(invalid)?;
        self.inner.token_cache.forget_user(&user_id);
        // Guesses at the old password may have locked the owner out; the new one is theirs.
        if let Some(user) = self.store().user_by_id(&user_id).await? {
            self.inner
                .login_limiter
                .reset(&format!("email:{}", user.email.to_lowercase()));
        }
        tracing::info!(user = %user_id, "password reset");
        Ok(())
    }

    /// A page of the audit log, newest first (`GET /api/admin/audit`).
    #[tracing::instrument(skip_all, err(level = "debug"), fields(actor_id = %actor.id))]
    pub async fn admin_audit(&self, actor: &User, page: &PageInput) -> ServiceResult<AuditPage> {
        self.require_admin(actor)?;
        let limit = clamp_limit(page.limit);
        let before = page
            .cursor
            .as_deref()
            .map(cursor::decode_audit)
            .transpose()?
            .map(|(at_ms, id)| {
                DateTime::from_timestamp_millis(at_ms)
                    .map(|at| (at, id))
                    .ok_or(crate::store::StoreError::InvalidCursor)
            })
            .transpose()?;
        let mut entries = self.store().list_audit(before, limit + 1).await?;
        let next_cursor = if entries.len() > limit {
            entries.truncate(limit);
            entries
                .last()
                .map(|last| cursor::encode_audit(last.at.timestamp_millis(), &last.id))
        } else {
            None
        };
        Ok(AuditPage {
            entries,
            next_cursor,
        })
    }

    /// Checks an invitation's secret for a new account, and answers the invitation's id. `email`
    /// is the address the person is known to hold (normalized): the one typed into the sign-up
    /// form, or the one a provider verified; `None` when a provider did not verify it, which an
    /// invitation bound to an email refuses. The use itself happens with the account's
    /// creation. A store failure is the outer error, a refusal the inner one.
    pub(crate) async fn usable_invitation(
        &self,
        token: &str,
        email: Option<&str>,
    ) -> ServiceResult<Result<String, InvitationRefused>> {
        if token.is_empty() || token.len() > MAX_SECRET_BYTES {
            return Ok(Err(InvitationRefused::Invalid));
        }
        let Some(invitation) = self
            .store()
            .invitation_by_token_hash(&hash_secret(token))
            .await?
        else {
            return Ok(Err(InvitationRefused::Invalid));
        };
        Ok(if invitation.used_at.is_some() {
            Err(InvitationRefused::Used)
        } else if invitation.expires_at <= Utc::now() {
            Err(InvitationRefused::Expired)
        } else if invitation
            .email
            .as_deref()
            .is_some_and(|bound| !email.is_some_and(|email| bound.eq_ignore_ascii_case(email)))
        {
            Err(InvitationRefused::EmailMismatch)
        } else {
            Ok(invitation.id)
        })
    }
}

/// Why an invitation does not let an account be created. The API answers 403 with the code
/// and sentence (`ServiceError`); a provider sign-in leads back to the sign-in page with the
/// code (`SignInFailure`), which says it in its own words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvitationRefused {
    /// Unknown, revoked, or no secret Confab could have made.
    #[error("this invitation is not valid; ask an administrator for a new one")]
    Invalid,
    #[error("this invitation was used already; ask an administrator for a new one")]
    Used,
    #[error("this invitation has expired; ask an administrator for a new one")]
    Expired,
    #[error("this invitation is for another email address")]
    EmailMismatch,
}

impl InvitationRefused {
    pub fn failure(self) -> SignInFailure {
        match self {
            InvitationRefused::Invalid => SignInFailure::InvitationInvalid,
            InvitationRefused::Used => SignInFailure::InvitationUsed,
            InvitationRefused::Expired => SignInFailure::InvitationExpired,
            InvitationRefused::EmailMismatch => SignInFailure::InvitationEmailMismatch,
        }
    }
}

impl From<InvitationRefused> for ServiceError {
    fn from(refused: InvitationRefused) -> Self {
        ServiceError::denied(refused.failure().code(), refused.to_string())
    }
}

/// An invitation's secret as a link or form carries it: trimmed, `None` when there is none.
/// One longer than any secret Confab makes is refused here, so that it is neither kept (a
/// provider sign-in remembers the secret until it comes back) nor hashed.
pub fn invitation_secret(raw: Option<&str>) -> Result<Option<String>, InvitationRefused> {
    match raw.map(str::trim).filter(|token| !token.is_empty()) {
        Some(token) if token.len() > MAX_SECRET_BYTES => Err(InvitationRefused::Invalid),
        Some(token) => Ok(Some(token.to_owned())),
        None => Ok(None),
    }
}
