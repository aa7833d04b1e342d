//! Administration: the user list, disabled accounts, invitations, password resets, settings
//! and the audit log.
//!
//! A one-time secret (an invitation, a password reset) is used up by inserting its claim into
//! `claims` under a unique `_id`: FerretDB runs an update as a read and then a write (see
//! `chat::SessionLocks`), so two concurrent "set used where unused" could both succeed there,
//! while two inserts of one `_id` never do, on any server. The claim comes first, then the
//! account or the password; a creation that fails gives its claim back.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{self, doc, Bson};
use serde::{Deserialize, Serialize};

use super::accounts::{create_user_with_id, delete_user, replace_or_insert, user_exists};
use super::documents::{email_key, from_bson_time, to_bson_time, UserDoc};
use super::errors::{db_error, is_duplicate_key};
use super::Collections;
use crate::api::{AuditAction, AuditEntry, UserSummary};
use crate::ids::new_id;
use crate::model::{User, UserRole};
use crate::store::{
    AdminChange, NewUser, StoreError, StoreResult, StoredInvitation, StoredPasswordReset,
};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InvitationDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub token_hash: String,
    #[serde(default)]
    pub email: Option<String>,
    pub created_by: String,
    pub created_at: bson::DateTime,
    pub expires_at: bson::DateTime,
    #[serde(default)]
    pub used_at: Option<bson::DateTime>,
    #[serde(default)]
    pub used_by: Option<String>,
}

impl InvitationDoc {
    fn into_stored(self) -> StoredInvitation {
        StoredInvitation {
            id: self.id,
            token_hash: self.token_hash,
            email: self.email,
            created_by: self.created_by,
            created_at: from_bson_time(self.created_at),
            expires_at: from_bson_time(self.expires_at),
            used_at: self.used_at.map(from_bson_time),
            used_by: self.used_by,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PasswordResetDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub token_hash: String,
    pub user_id: String,
    pub created_at: bson::DateTime,
    pub expires_at: bson::DateTime,
    #[serde(default)]
    pub used_at: Option<bson::DateTime>,
}

impl PasswordResetDoc {
    fn into_stored(self) -> StoredPasswordReset {
        StoredPasswordReset {
            id: self.id,
            token_hash: self.token_hash,
            user_id: self.user_id,
            created_at: from_bson_time(self.created_at),
            expires_at: from_bson_time(self.expires_at),
            used_at: self.used_at.map(from_bson_time),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SettingDoc {
    #[serde(rename = "_id")]
    pub key: String,
    pub value: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub at: bson::DateTime,
    pub actor_id: String,
    pub actor_email: String,
    pub action: String,
    pub target_id: String,
    #[serde(default)]
    pub target_email: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
}

/// A one-time secret used up (see the module's doc).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClaimDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub at: bson::DateTime,
}

#[derive(Debug, Deserialize)]
struct ActivityOnly {
    activity_at: bson::DateTime,
}

/// Each listed user's message count comes from their `user_totals` document (kept with `$inc`
/// where messages are written) and their last activity from their newest live session (the
/// head of `chat_sessions_list`): two reads by index per user, sent together.
pub async fn list_users(
    collections: &Collections,
    after_email: Option<&str>,
    limit: usize,
) -> StoreResult<Vec<UserSummary>> {
    let filter = match after_email {
        Some(email) => doc! { "email_key": { "$gt": email_key(email) } },
        None => doc! {},
    };
    let users: Vec<UserDoc> = collections
        .users
        .find(filter)
        .sort(doc! { "email_key": 1 })
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .await
        .map_err(db_error)?
        .try_collect()
        .await
        .map_err(db_error)?;
    let summaries = users.into_iter().map(|document| async move {
        let totals = collections
            .user_totals
            .find_one(doc! { "_id": &document.id, "user_id": &document.id })
            .await
            .map_err(db_error)?;
        let newest = collections
            .chat_sessions
            .clone_with_type::<ActivityOnly>()
            .find_one(doc! { "user_id": &document.id, "deleted_at": Bson::Null })
            .sort(doc! { "activity_at": -1, "_id": -1 })
            .projection(doc! { "_id": 0, "activity_at": 1 })
            .await
            .map_err(db_error)?;
        let active = newest.map(|session| from_bson_time(session.activity_at));
        let signed_in = document.last_sign_in_at.map(from_bson_time);
        let disabled_at = document.disabled_at.map(from_bson_time);
        Ok::<_, StoreError>(UserSummary {
            id: document.id.clone(),
            email: document.email.clone(),
            name: document.name.clone(),
            role: UserRole::parse(&document.role)
                .ok_or_else(|| StoreError::Backend(format!("user {} has no role", document.id)))?,
            created_at: from_bson_time(document.created_at),
            disabled: disabled_at.is_some(),
            disabled_at,
            message_count: totals.map_or(0, |totals| totals.message_count),
            last_active_at: active.max(signed_in),
        })
    });
    futures::future::try_join_all(summaries).await
}

pub async fn record_sign_in(
    collections: &Collections,
    user_id: &str,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    collections
        .users
        .update_one(
            doc! { "_id": user_id },
            doc! { "$set": { "last_sign_in_at": to_bson_time(at) } },
        )
        .await
        .map_err(db_error)?;
    Ok(())
}

/// See `Store::audited`: the entry first, the change after it, the entry removed again when
/// there was nothing to change.
pub async fn audited(
    collections: &Collections,
    change: AdminChange,
    entry: AuditEntry,
) -> StoreResult<bool> {
    let entry_id = entry.id.clone();
    append_audit(collections, entry).await?;
    let changed = match change {
        AdminChange::SetSetting { key, value } => {
            set_setting(collections, &key, &value).await?;
            true
        }
        AdminChange::DisableUser { id, at } => {
            let updated = collections
                .users
                .update_one(
                    doc! { "_id": &id, "disabled_at": null },
                    doc! { "$set": { "disabled_at": to_bson_time(at) } },
                )
                .await
                .map_err(db_error)?;
            delete_user_auth_sessions(collections, &id).await?;
            updated.matched_count > 0
        }
        AdminChange::EnableUser { id } => {
            collections
                .users
                .update_one(
                    doc! { "_id": &id, "disabled_at": { "$ne": null } },
                    doc! { "$unset": { "disabled_at": "" } },
                )
                .await
                .map_err(db_error)?
                .matched_count
                > 0
        }
        AdminChange::DeleteUser { id } => delete_user(collections, &id).await?,
        AdminChange::CreateInvitation(invitation) => {
            create_invitation(collections, invitation).await?;
            true
        }
        AdminChange::DeleteInvitation { id } => {
            collections
                .invitations
                .delete_one(doc! { "_id": &id })
                .await
                .map_err(db_error)?
                .deleted_count
                > 0
        }
        AdminChange::CreatePasswordReset(reset) => {
            create_password_reset(collections, reset).await?;
            true
        }
    };
    if !changed {
        collections
            .audit_log
            .delete_one(doc! { "_id": &entry_id })
            .await
            .map_err(db_error)?;
    }
    Ok(changed)
}

async fn delete_user_auth_sessions(collections: &Collections, user_id: &str) -> StoreResult<u64> {
    let deleted = collections
        .auth_sessions
        .delete_many(doc! { "user_id": user_id })
        .await
        .map_err(db_error)?;
    Ok(deleted.deleted_count)
}

async fn create_invitation(
    collections: &Collections,
    invitation: StoredInvitation,
) -> StoreResult<()> {
    let document = InvitationDoc {
        id: invitation.id,
        token_hash: invitation.token_hash,
        email: invitation.email,
        created_by: invitation.created_by,
        created_at: to_bson_time(invitation.created_at),
        expires_at: to_bson_time(invitation.expires_at),
        used_at: invitation.used_at.map(to_bson_time),
        used_by: invitation.used_by,
    };
    collections
        .invitations
        .insert_one(document)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn list_invitations(
    collections: &Collections,
    limit: usize,
) -> StoreResult<Vec<StoredInvitation>> {
    let documents: Vec<InvitationDoc> = collections
        .invitations
        .find(doc! {})
        .sort(doc! { "created_at": -1, "_id": -1 })
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .await
        .map_err(db_error)?
        .try_collect()
        .await
        .map_err(db_error)?;
    Ok(documents
        .into_iter()
        .map(InvitationDoc::into_stored)
        .collect())
}

pub async fn invitation_by_token_hash(
    collections: &Collections,
    token_hash: &str,
) -> StoreResult<Option<StoredInvitation>> {
    Ok(collections
        .invitations
        .find_one(doc! { "token_hash": token_hash })
        .await
        .map_err(db_error)?
        .map(InvitationDoc::into_stored))
}

pub async fn invitation_by_id(
    collections: &Collections,
    id: &str,
) -> StoreResult<Option<StoredInvitation>> {
    Ok(collections
        .invitations
        .find_one(doc! { "_id": id })
        .await
        .map_err(db_error)?
        .map(InvitationDoc::into_stored))
}

/// Inserts the claim `id`: false when it was claimed before.
async fn claim(collections: &Collections, id: &str, now: DateTime<Utc>) -> StoreResult<bool> {
    let document = ClaimDoc {
        id: id.to_owned(),
        at: to_bson_time(now),
    };
    match collections.claims.insert_one(document).await {
        Ok(_) => Ok(true),
        Err(error) if is_duplicate_key(&error) => Ok(false),
        Err(error) => Err(db_error(error)),
    }
}

async fn give_back(collections: &Collections, id: &str) -> StoreResult<()> {
    collections
        .claims
        .delete_one(doc! { "_id": id })
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn create_invited_user(
    collections: &Collections,
    invitation_id: &str,
    new: &NewUser,
    now: DateTime<Utc>,
) -> StoreResult<Option<User>> {
    let usable = collections
        .invitations
        .find_one(doc! { "_id": invitation_id })
        .await
        .map_err(db_error)?
        .is_some_and(|invitation| {
            invitation.used_at.is_none() && from_bson_time(invitation.expires_at) > now
        });
    let claim_id = format!("invitation:{invitation_id}");
    if !usable || !claim(collections, &claim_id, now).await? {
        return Ok(None);
    }
    // The invitation says it is used before the account exists. A crash between the two then
    // leaves it listed as used (by an account that never came), which an administrator sees and
    // replaces; the other order left it listed as pending while its claim refused every use.
    let user_id = new_id();
    collections
        .invitations
        .update_one(
            doc! { "_id": invitation_id },
            doc! { "$set": { "used_at": to_bson_time(now), "used_by": &user_id } },
        )
        .await
        .map_err(db_error)?;
    match create_user_with_id(collections, &user_id, new, now).await {
        Ok(user) => Ok(Some(user)),
        Err(error) => {
            // A failed creation (a taken email) leaves the invitation usable: its mark (this
            // use's, by its user id) and its claim go. Should that fail too, the creation's
            // error is still the one reported; the invitation then stays used up.
            let unmarked = collections
                .invitations
                .update_one(
                    doc! { "_id": invitation_id, "used_by": &user_id },
                    doc! { "$unset": { "used_at": "", "used_by": "" } },
                )
                .await;
            match unmarked {
                Ok(_) => {
                    if let Err(undo) = give_back(collections, &claim_id).await {
                        tracing::warn!(%undo, invitation = invitation_id, "claim not given back");
                    }
                }
                Err(undo) => {
                    tracing::warn!(%undo, invitation = invitation_id, "invitation not unmarked");
                }
            }
            Err(error)
        }
    }
}

async fn create_password_reset(
    collections: &Collections,
    reset: StoredPasswordReset,
) -> StoreResult<()> {
    if !user_exists(collections, &reset.user_id).await? {
        return Err(StoreError::NotFound);
    }
    let document = PasswordResetDoc {
        id: reset.id,
        token_hash: reset.token_hash,
        user_id: reset.user_id,
        created_at: to_bson_time(reset.created_at),
        expires_at: to_bson_time(reset.expires_at),
        used_at: reset.used_at.map(to_bson_time),
    };
    collections
        .password_resets
        .insert_one(document)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn password_reset_by_token_hash(
    collections: &Collections,
    token_hash: &str,
) -> StoreResult<Option<StoredPasswordReset>> {
    Ok(collections
        .password_resets
        .find_one(doc! { "token_hash": token_hash })
        .await
        .map_err(db_error)?
        .map(PasswordResetDoc::into_stored))
}

pub async fn use_password_reset(
    collections: &Collections,
    id: &str,
    password_hash: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<String>> {
    let Some(reset) = collections
        .password_resets
        .find_one(doc! { "_id": id })
        .await
        .map_err(db_error)?
        .filter(|reset| reset.used_at.is_none() && from_bson_time(reset.expires_at) > now)
    else {
        return Ok(None);
    };
    if !claim(collections, &format!("password_reset:{id}"), now).await? {
        return Ok(None);
    }
    // This link and every other unused one of the account: an older link that leaked must not
    // take the account back after its owner chose a new password.
    collections
        .password_resets
        .update_many(
            doc! { "user_id": &reset.user_id, "used_at": null },
            doc! { "$set": { "used_at": to_bson_time(now) } },
        )
        .await
        .map_err(db_error)?;
    // A reset takes the account back: whoever had its sign-ins or its tokens loses them. They
    // go before the password changes, so a crash in between costs the owner a sign-in and a new
    // link, never leaves the new password beside someone else's token; and again after it, for
    // a token made in between (a sign-in made in between holds the old password's stamp, which
    // stops counting once the password changes).
    end_sign_ins_and_tokens(collections, &reset.user_id).await?;
    let updated = collections
        .users
        .update_one(
            doc! { "_id": &reset.user_id },
            doc! { "$set": { "password_hash": password_hash } },
        )
        .await
        .map_err(db_error)?;
    if updated.matched_count == 0 {
        return Ok(None);
    }
    end_sign_ins_and_tokens(collections, &reset.user_id).await?;
    Ok(Some(reset.user_id))
}

/// Deletes every sign-in session and API token of `user_id`.
async fn end_sign_ins_and_tokens(collections: &Collections, user_id: &str) -> StoreResult<()> {
    delete_user_auth_sessions(collections, user_id).await?;
    collections
        .api_tokens
        .delete_many(doc! { "user_id": user_id })
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn setting(collections: &Collections, key: &str) -> StoreResult<Option<String>> {
    Ok(collections
        .settings
        .find_one(doc! { "_id": key })
        .await
        .map_err(db_error)?
        .map(|setting| setting.value))
}

async fn set_setting(collections: &Collections, key: &str, value: &str) -> StoreResult<()> {
    let document = SettingDoc {
        key: key.to_owned(),
        value: value.to_owned(),
    };
    replace_or_insert(&collections.settings, key, &document).await
}

async fn append_audit(collections: &Collections, entry: AuditEntry) -> StoreResult<()> {
    let document = AuditDoc {
        id: entry.id,
        at: to_bson_time(entry.at),
        actor_id: entry.actor_id,
        actor_email: entry.actor_email,
        action: entry.action.as_str().to_owned(),
        target_id: entry.target_id,
        target_email: entry.target_email,
        detail: entry.detail,
    };
    collections
        .audit_log
        .insert_one(document)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn list_audit(
    collections: &Collections,
    before: Option<(DateTime<Utc>, String)>,
    limit: usize,
) -> StoreResult<Vec<AuditEntry>> {
    let filter = match before {
        Some((at, id)) => {
            let at = to_bson_time(at);
            doc! { "$or": [
                { "at": { "$lt": at } },
                { "at": at, "_id": { "$lt": id } },
            ] }
        }
        None => doc! {},
    };
    let documents: Vec<AuditDoc> = collections
        .audit_log
        .find(filter)
        .sort(doc! { "at": -1, "_id": -1 })
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .await
        .map_err(db_error)?
        .try_collect()
        .await
        .map_err(db_error)?;
    documents
        .into_iter()
        .map(|document| {
            Ok(AuditEntry {
                action: AuditAction::parse(&document.action).ok_or_else(|| {
                    StoreError::Backend(format!("audit entry {} has no action", document.id))
                })?,
                id: document.id,
                at: from_bson_time(document.at),
                actor_id: document.actor_id,
                actor_email: document.actor_email,
                target_id: document.target_id,
                target_email: document.target_email,
                detail: document.detail,
            })
        })
        .collect()
}
