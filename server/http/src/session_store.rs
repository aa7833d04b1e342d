//! tower-sessions records kept in Confab's own `Store`, so sign-ins survive restarts and are
//! shared by every app node on the same database, whatever the backend.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use confab_core::auth::tokens::hash_session_id;
use confab_core::store::{AuthSessionRecord, DynStore};

use crate::session::SESSION_USER_KEY;

/// A tower-sessions store over Confab's `Store`: records are kept under the SHA-256 of their
/// id, with the user id beside them so an account's sign-ins can all be ended at once.
#[derive(Clone)]
pub struct StoreSessionStore {
    store: DynStore,
}

impl StoreSessionStore {
    pub fn new(store: DynStore) -> Self {
        StoreSessionStore { store }
    }
}

impl fmt::Debug for StoreSessionStore {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("StoreSessionStore")
    }
}

fn backend(error: impl fmt::Display) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

fn to_stored(record: &Record) -> session_store::Result<AuthSessionRecord> {
    let data = serde_json::to_vec(record)
        .map_err(|error| session_store::Error::Encode(error.to_string()))?;
    let expires_at = DateTime::<Utc>::from_timestamp(record.expiry_date.unix_timestamp(), 0)
        .unwrap_or_else(Utc::now);
    let user_id = record
        .data
        .get(SESSION_USER_KEY)
        .and_then(|value| value.as_str())
        .map(str::to_owned);
    Ok(AuthSessionRecord {
        user_id,
        data,
        expires_at,
    })
}

#[async_trait]
impl SessionStore for StoreSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // Ids are 128 random bits; still, never overwrite someone else's sign-in.
        while self
            .store
            .load_auth_session(&hash_session_id(&record.id.to_string()))
            .await
            .map_err(backend)?
            .is_some()
        {
            record.id = Id::default();
        }
        self.save(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let key = hash_session_id(&record.id.to_string());
        self.store
            .save_auth_session(&key, to_stored(record)?)
            .await
            .map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let key = hash_session_id(&id.to_string());
        let Some(stored) = self.store.load_auth_session(&key).await.map_err(backend)? else {
            return Ok(None);
        };
        let record: Record = serde_json::from_slice(&stored.data)
            .map_err(|error| session_store::Error::Decode(error.to_string()))?;
        Ok(Some(record))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let key = hash_session_id(&id.to_string());
        self.store.delete_auth_session(&key).await.map_err(backend)
    }
}
