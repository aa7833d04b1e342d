//! Users, sign-in sessions and API tokens.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::rows::{self, from_ms, to_ms, TOKEN_COLUMNS, USER_COLUMNS};
use super::sql_error;
use crate::model::{ApiToken, User};
use crate::store::{
    role_for_new_user, AuthSessionRecord, NewUser, StoreError, StoreResult, TokenHolder,
    UserCredentials,
};

pub fn create_user(
    conn: &Connection,
    id: &str,
    new: &NewUser,
    now: DateTime<Utc>,
) -> StoreResult<User> {
    let existing: i64 = conn
        .query_row("SELECT count(*) FROM users", [], |row| row.get(0))
        .map_err(sql_error)?;
    let role = role_for_new_user(existing);
    conn.prepare_cached(
        "INSERT INTO users (id, email, name, role, password_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut insert| {
        insert.execute(params![
            id,
            new.email,
            new.name,
            role.as_str(),
            new.password_hash,
            to_ms(now)
        ])
    })
    .map_err(sql_error)?;
    // In the same job as the user: a failure here rolls the user back with it.
    if let Some(identity) = &new.identity {
        let linked = link_identity(
            conn,
            id,
            &identity.provider,
            &identity.subject,
            identity.email.as_deref(),
            now,
        )?;
        if !linked {
            return Err(StoreError::Duplicate(
                "the provider's account is linked to another user".into(),
            ));
        }
    }
    Ok(User {
        id: id.to_owned(),
        email: new.email.clone(),
        name: new.name.clone(),
        role,
        created_at: from_ms(to_ms(now)),
    })
}

pub fn user_by_id(conn: &Connection, id: &str) -> StoreResult<Option<User>> {
    conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))
        .and_then(|mut query| query.query_row([id], rows::user).optional())
        .map_err(sql_error)
}

pub fn active_credentials_by_id(
    conn: &Connection,
    id: &str,
) -> StoreResult<Option<UserCredentials>> {
    conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS}, password_hash, disabled_at FROM users
         WHERE id = ?1 AND disabled_at IS NULL"
    ))
    .and_then(|mut query| query.query_row([id], credentials).optional())
    .map_err(sql_error)
}

fn credentials(row: &rusqlite::Row<'_>) -> rusqlite::Result<UserCredentials> {
    Ok(UserCredentials {
        user: rows::user(row)?,
        password_hash: row.get(5)?,
        disabled_at: row.get::<_, Option<i64>>(6)?.map(from_ms),
    })
}

/// Deletes the account; everything it owns goes with it (foreign keys with `ON DELETE
/// CASCADE`, the search index by its triggers). False when there was none.
pub fn delete_user(conn: &Connection, id: &str) -> StoreResult<bool> {
    conn.execute("DELETE FROM users WHERE id = ?1", [id])
        .map(|changed| changed > 0)
        .map_err(sql_error)
}

pub fn credentials_by_email(
    conn: &Connection,
    email: &str,
) -> StoreResult<Option<UserCredentials>> {
    conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS}, password_hash, disabled_at FROM users WHERE email = ?1"
    ))
    .and_then(|mut query| query.query_row([email], credentials).optional())
    .map_err(sql_error)
}

pub fn save_auth_session(
    conn: &Connection,
    key: &str,
    record: &AuthSessionRecord,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO auth_sessions (key, user_id, data, expires_at)
         VALUES (?1, (SELECT id FROM users WHERE id = ?2), ?3, ?4)
         ON CONFLICT(key) DO UPDATE SET user_id = excluded.user_id, data = excluded.data,
             expires_at = excluded.expires_at",
    )
    .and_then(|mut upsert| {
        upsert.execute(params![
            key,
            record.user_id,
            record.data,
            to_ms(record.expires_at)
        ])
    })
    .map_err(sql_error)?;
    Ok(())
}

pub fn load_auth_session(
    conn: &Connection,
    key: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<AuthSessionRecord>> {
    conn.prepare_cached(
        "SELECT user_id, data, expires_at FROM auth_sessions WHERE key = ?1 AND expires_at > ?2",
    )
    .and_then(|mut query| {
        query
            .query_row(params![key, to_ms(now)], |row| {
                Ok(AuthSessionRecord {
                    user_id: row.get(0)?,
                    data: row.get(1)?,
                    expires_at: from_ms(row.get(2)?),
                })
            })
            .optional()
    })
    .map_err(sql_error)
}

/// Stores the token `(id, name, secret_hash)` of `user_id`, made under the credentials stamp
/// `made_under`.
pub fn create_token(
    conn: &Connection,
    user_id: &str,
    (id, name, secret_hash): (&str, &str, &str),
    made_under: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<ApiToken> {
    conn.execute(
        "INSERT INTO api_tokens (id, user_id, name, secret_hash, created_at, made_under)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, user_id, name, secret_hash, to_ms(now), made_under],
    )
    .map_err(sql_error)?;
    Ok(ApiToken {
        id: id.to_owned(),
        name: name.to_owned(),
        created_at: from_ms(to_ms(now)),
        last_used_at: None,
    })
}

pub fn list_tokens(conn: &Connection, user_id: &str) -> StoreResult<Vec<ApiToken>> {
    let mut query = conn
        .prepare_cached(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = ?1 ORDER BY created_at, id"
        ))
        .map_err(sql_error)?;
    let tokens = query
        .query_map([user_id], rows::token)
        .and_then(Iterator::collect)
        .map_err(sql_error);
    tokens
}

/// [`USER_COLUMNS`] of `users` under the alias `u`, for the queries that join it; built once.
fn user_columns_of_u() -> &'static str {
    static COLUMNS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        USER_COLUMNS
            .split(", ")
            .map(|column| format!("u.{column}"))
            .collect::<Vec<_>>()
            .join(", ")
    });
    &COLUMNS
}

pub fn token_holder(conn: &Connection, secret_hash: &str) -> StoreResult<Option<TokenHolder>> {
    conn.prepare_cached(&format!(
        "SELECT {}, u.password_hash, u.disabled_at, t.made_under
         FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.secret_hash = ?1 AND u.disabled_at IS NULL",
        user_columns_of_u()
    ))
    .and_then(|mut query| {
        query
            .query_row([secret_hash], |row| {
                Ok(TokenHolder {
                    credentials: credentials(row)?,
                    made_under: row.get(7)?,
                })
            })
            .optional()
    })
    .map_err(sql_error)
}

pub fn user_by_identity(
    conn: &Connection,
    provider: &str,
    subject: &str,
) -> StoreResult<Option<User>> {
    conn.prepare_cached(&format!(
        "SELECT {} FROM identities i JOIN users u ON u.id = i.user_id
         WHERE i.provider = ?1 AND i.subject = ?2",
        user_columns_of_u()
    ))
    .and_then(|mut query| query.query_row([provider, subject], rows::user).optional())
    .map_err(sql_error)
}

/// False when the provider's account was linked already (to this user or another).
pub fn link_identity(
    conn: &Connection,
    user_id: &str,
    provider: &str,
    subject: &str,
    email: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    conn.execute(
        "INSERT INTO identities (provider, subject, user_id, email, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(provider, subject) DO NOTHING",
        params![provider, subject, user_id, email, to_ms(now)],
    )
    .map(|inserted| inserted > 0)
    .map_err(sql_error)
}
