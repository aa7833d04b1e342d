//! Administration: the user list, disabled accounts, invitations, password resets, settings
//! and the audit log.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::accounts;
use super::rows::{from_ms, to_ms};
use super::sql_error;
use crate::api::{AuditAction, AuditEntry, UserSummary};
use crate::ids::new_id;
use crate::model::{User, UserRole};
use crate::store::{AdminChange, NewUser, StoreResult, StoredInvitation, StoredPasswordReset};

fn bad_value(column: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Text,
        format!("unexpected {what}").into(),
    )
}

/// The last activity of each listed user: the newest activity of their live conversations
/// (one step down `chat_sessions_recent`) or their last sign-in, whichever is later.
pub fn list_users(
    conn: &Connection,
    after_email: Option<&str>,
    limit: usize,
) -> StoreResult<Vec<UserSummary>> {
    let mut query = conn
        .prepare_cached(
            "SELECT u.id, u.email, u.name, u.role, u.created_at, u.disabled_at, u.message_count,
                    u.last_sign_in_at,
                    (SELECT s.activity_at FROM chat_sessions s
                     WHERE s.user_id = u.id AND s.deleted_at IS NULL
                     ORDER BY s.activity_at DESC, s.id DESC LIMIT 1)
             FROM users u
             WHERE ?1 IS NULL OR u.email > ?1
             ORDER BY u.email LIMIT ?2",
        )
        .map_err(sql_error)?;
    let users = query
        .query_map(params![after_email, limit as i64], |row: &Row<'_>| {
            let role: String = row.get(3)?;
            let disabled_at = row.get::<_, Option<i64>>(5)?.map(from_ms);
            let signed_in: Option<i64> = row.get(7)?;
            let active: Option<i64> = row.get(8)?;
            Ok(UserSummary {
                id: row.get(0)?,
                email: row.get(1)?,
                name: row.get(2)?,
                role: UserRole::parse(&role).ok_or_else(|| bad_value(3, "role"))?,
                created_at: from_ms(row.get(4)?),
                disabled: disabled_at.is_some(),
                disabled_at,
                message_count: row.get(6)?,
                last_active_at: signed_in.max(active).map(from_ms),
            })
        })
        .and_then(Iterator::collect)
        .map_err(sql_error);
    users
}

pub fn record_sign_in(conn: &Connection, user_id: &str, at: DateTime<Utc>) -> StoreResult<()> {
    conn.prepare_cached("UPDATE users SET last_sign_in_at = ?2 WHERE id = ?1")
        .and_then(|mut update| update.execute(params![user_id, to_ms(at)]))
        .map_err(sql_error)?;
    Ok(())
}

/// See `Store::audited`: the change and its entry in the job's savepoint, so an entry that
/// cannot be written undoes the change.
pub fn audited(conn: &Connection, change: &AdminChange, entry: &AuditEntry) -> StoreResult<bool> {
    let changed = match change {
        AdminChange::SetSetting { key, value } => {
            set_setting(conn, key, value)?;
            true
        }
        AdminChange::DisableUser { id, at } => {
            let changed = conn
                .execute(
                    "UPDATE users SET disabled_at = ?2 WHERE id = ?1 AND disabled_at IS NULL",
                    params![id, to_ms(*at)],
                )
                .map_err(sql_error)?;
            delete_user_auth_sessions(conn, id)?;
            changed > 0
        }
        AdminChange::EnableUser { id } => {
            conn.execute(
                "UPDATE users SET disabled_at = NULL WHERE id = ?1 AND disabled_at IS NOT NULL",
                [id],
            )
            .map_err(sql_error)?
                > 0
        }
        AdminChange::DeleteUser { id } => accounts::delete_user(conn, id)?,
        AdminChange::CreateInvitation(invitation) => {
            create_invitation(conn, invitation)?;
            true
        }
        AdminChange::DeleteInvitation { id } => {
            conn.execute("DELETE FROM invitations WHERE id = ?1", [id])
                .map_err(sql_error)?
                > 0
        }
        AdminChange::CreatePasswordReset(reset) => {
            create_password_reset(conn, reset)?;
            true
        }
    };
    if changed {
        append_audit(conn, entry)?;
    }
    Ok(changed)
}

fn delete_user_auth_sessions(conn: &Connection, user_id: &str) -> StoreResult<u64> {
    conn.execute("DELETE FROM auth_sessions WHERE user_id = ?1", [user_id])
        .map(|changed| changed as u64)
        .map_err(sql_error)
}

const INVITATION_COLUMNS: &str =
    "id, token_hash, email, created_by, created_at, expires_at, used_at, used_by";

fn invitation(row: &Row<'_>) -> rusqlite::Result<StoredInvitation> {
    Ok(StoredInvitation {
        id: row.get(0)?,
        token_hash: row.get(1)?,
        email: row.get(2)?,
        created_by: row.get(3)?,
        created_at: from_ms(row.get(4)?),
        expires_at: from_ms(row.get(5)?),
        used_at: row.get::<_, Option<i64>>(6)?.map(from_ms),
        used_by: row.get(7)?,
    })
}

fn create_invitation(conn: &Connection, invitation: &StoredInvitation) -> StoreResult<()> {
    conn.execute(
        &format!("INSERT INTO invitations ({INVITATION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
        params![
            invitation.id,
            invitation.token_hash,
            invitation.email,
            invitation.created_by,
            to_ms(invitation.created_at),
            to_ms(invitation.expires_at),
            invitation.used_at.map(to_ms),
            invitation.used_by,
        ],
    )
    .map_err(sql_error)?;
    Ok(())
}

pub fn list_invitations(conn: &Connection, limit: usize) -> StoreResult<Vec<StoredInvitation>> {
    let mut query = conn
        .prepare_cached(&format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations ORDER BY created_at DESC, id DESC LIMIT ?1"
        ))
        .map_err(sql_error)?;
    let invitations = query
        .query_map([limit as i64], invitation)
        .and_then(Iterator::collect)
        .map_err(sql_error);
    invitations
}

pub fn invitation_by_token_hash(
    conn: &Connection,
    token_hash: &str,
) -> StoreResult<Option<StoredInvitation>> {
    conn.prepare_cached(&format!(
        "SELECT {INVITATION_COLUMNS} FROM invitations WHERE token_hash = ?1"
    ))
    .and_then(|mut query| query.query_row([token_hash], invitation).optional())
    .map_err(sql_error)
}

pub fn invitation_by_id(conn: &Connection, id: &str) -> StoreResult<Option<StoredInvitation>> {
    conn.prepare_cached(&format!(
        "SELECT {INVITATION_COLUMNS} FROM invitations WHERE id = ?1"
    ))
    .and_then(|mut query| query.query_row([id], invitation).optional())
    .map_err(sql_error)
}

/// One job of the single writer: the invitation is marked used and the user created in the
/// same savepoint, so a failed creation leaves the invitation as it was, and a second use
/// (even one in the same batch) finds it used.
pub fn create_invited_user(
    conn: &Connection,
    invitation_id: &str,
    new: &NewUser,
    now: DateTime<Utc>,
) -> StoreResult<Option<User>> {
    let user_id = new_id();
    let claimed = conn
        .execute(
            "UPDATE invitations SET used_at = ?2, used_by = ?3
             WHERE id = ?1 AND used_at IS NULL AND expires_at > ?2",
            params![invitation_id, to_ms(now), user_id],
        )
        .map_err(sql_error)?;
    if claimed == 0 {
        return Ok(None);
    }
    accounts::create_user(conn, &user_id, new, now).map(Some)
}

const RESET_COLUMNS: &str = "id, token_hash, user_id, created_at, expires_at, used_at";

fn create_password_reset(conn: &Connection, reset: &StoredPasswordReset) -> StoreResult<()> {
    conn.execute(
        &format!("INSERT INTO password_resets ({RESET_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        params![
            reset.id,
            reset.token_hash,
            reset.user_id,
            to_ms(reset.created_at),
            to_ms(reset.expires_at),
            reset.used_at.map(to_ms),
        ],
    )
    .map_err(sql_error)?;
    Ok(())
}

pub fn password_reset_by_token_hash(
    conn: &Connection,
    token_hash: &str,
) -> StoreResult<Option<StoredPasswordReset>> {
    conn.prepare_cached(&format!(
        "SELECT {RESET_COLUMNS} FROM password_resets WHERE token_hash = ?1"
    ))
    .and_then(|mut query| {
        query
            .query_row([token_hash], |row| {
                Ok(StoredPasswordReset {
                    id: row.get(0)?,
                    token_hash: row.get(1)?,
                    user_id: row.get(2)?,
                    created_at: from_ms(row.get(3)?),
                    expires_at: from_ms(row.get(4)?),
                    used_at: row.get::<_, Option<i64>>(5)?.map(from_ms),
                })
            })
            .optional()
    })
    .map_err(sql_error)
}

pub fn use_password_reset(
    conn: &Connection,
    id: &str,
    password_hash: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<String>> {
    let user_id: Option<String> = conn
        .query_row(
            "UPDATE password_resets SET used_at = ?2
             WHERE id = ?1 AND used_at IS NULL AND expires_at > ?2
             RETURNING user_id",
            params![id, to_ms(now)],
            |row| row.get(0),
        )
        .optional()
        .map_err(sql_error)?;
    let Some(user_id) = user_id else {
        return Ok(None);
    };
    // Every other link of the account is used up with it: an older link that leaked must not
    // take the account back after its owner chose a new password.
    conn.execute(
        "UPDATE password_resets SET used_at = ?2 WHERE user_id = ?1 AND used_at IS NULL",
        params![user_id, to_ms(now)],
    )
    .map_err(sql_error)?;
    conn.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![user_id, password_hash],
    )
    .map_err(sql_error)?;
    // A reset takes the account back: whoever had its sign-ins or its tokens loses them.
    delete_user_auth_sessions(conn, &user_id)?;
    conn.execute("DELETE FROM api_tokens WHERE user_id = ?1", [&user_id])
        .map_err(sql_error)?;
    Ok(Some(user_id))
}

pub fn setting(conn: &Connection, key: &str) -> StoreResult<Option<String>> {
    conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")
        .and_then(|mut query| query.query_row([key], |row| row.get(0)).optional())
        .map_err(sql_error)
}

fn set_setting(conn: &Connection, key: &str, value: &str) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, value],
    )
    .map_err(sql_error)?;
    Ok(())
}

fn append_audit(conn: &Connection, entry: &AuditEntry) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO audit_log (id, at, actor_id, actor_email, action, target_id, target_email,
             detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            entry.id,
            to_ms(entry.at),
            entry.actor_id,
            entry.actor_email,
            entry.action.as_str(),
            entry.target_id,
            entry.target_email,
            entry.detail,
        ],
    )
    .map_err(sql_error)?;
    Ok(())
}

pub fn list_audit(
    conn: &Connection,
    before: Option<(DateTime<Utc>, String)>,
    limit: usize,
) -> StoreResult<Vec<AuditEntry>> {
    let (before_ms, before_id) = match before {
        Some((at, id)) => (Some(to_ms(at)), Some(id)),
        None => (None, None),
    };
    let mut query = conn
        .prepare_cached(
            "SELECT id, at, actor_id, actor_email, action, target_id, target_email, detail
             FROM audit_log
             WHERE ?1 IS NULL OR at < ?1 OR (at = ?1 AND id < ?2)
             ORDER BY at DESC, id DESC LIMIT ?3",
        )
        .map_err(sql_error)?;
    let entries = query
        .query_map(params![before_ms, before_id, limit as i64], |row| {
            let action: String = row.get(4)?;
            Ok(AuditEntry {
                id: row.get(0)?,
                at: from_ms(row.get(1)?),
                actor_id: row.get(2)?,
                actor_email: row.get(3)?,
                action: AuditAction::parse(&action).ok_or_else(|| bad_value(4, "action"))?,
                target_id: row.get(5)?,
                target_email: row.get(6)?,
                detail: row.get(7)?,
            })
        })
        .and_then(Iterator::collect)
        .map_err(sql_error);
    entries
}
