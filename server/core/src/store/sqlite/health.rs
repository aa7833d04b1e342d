//! The probe write of the health check, run only while writes fail (see `SqliteStore::health`).
//!
//! The probe must need about as much new space as an ordinary write, or a nearly full disk
//! would pass it while messages still fail. It stores a 64 KiB row and commits (so the pages
//! really go to disk), then removes it in a second write. The row lives in `auth_sessions`,
//! already expired and under a key no sign-in can have (theirs are hex hashes), so nothing
//! reads it, and the hourly clean-up removes it if the second write never happens.

use rusqlite::{params, Connection};

use super::sql_error;
use crate::store::StoreResult;

const PROBE_KEY: &str = "health probe";
/// Bytes the probe stores: a sizeable message's worth (16 pages of 4 KiB).
const PROBE_BYTES: i64 = 64 * 1024;

/// Stores the probe row. Fails with `StoreError::Full` when there is no room for it.
pub fn probe(conn: &Connection) -> StoreResult<()> {
    conn.execute(
        "INSERT OR REPLACE INTO auth_sessions (key, user_id, data, expires_at)
         VALUES (?1, NULL, zeroblob(?2), 0)",
        params![PROBE_KEY, PROBE_BYTES],
    )
    .map(|_| ())
    .map_err(sql_error)
}

/// Removes the probe row; its pages go to the free list for the next write.
pub fn remove_probe(conn: &Connection) -> StoreResult<()> {
    conn.execute("DELETE FROM auth_sessions WHERE key = ?1", [PROBE_KEY])
        .map(|_| ())
        .map_err(sql_error)
}
