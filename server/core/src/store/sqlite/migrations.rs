//! Versioned schema migrations, applied in order at start-up. The version lives in SQLite's
//! `user_version`; each step runs in its own transaction with the version bump.

use rusqlite::Connection;

use super::sql_error;
use crate::store::StoreResult;

/// Each entry moves the schema from version `index` to `index + 1`. Never edit a released step:
/// add a new one.
const MIGRATIONS: &[&str] = &[
    // 1: users, sign-ins, tokens, sessions, messages and the full-text index.
    r#"
    CREATE TABLE users (
        id            TEXT PRIMARY KEY,
        email         TEXT NOT NULL COLLATE NOCASE UNIQUE,
        name          TEXT NOT NULL,
        role          TEXT NOT NULL,
        password_hash TEXT,
        created_at    INTEGER NOT NULL
    );

    CREATE TABLE auth_sessions (
        key        TEXT PRIMARY KEY,
        user_id    TEXT REFERENCES users(id) ON DELETE CASCADE,
        data       BLOB NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX auth_sessions_expiry ON auth_sessions(expires_at);
    CREATE INDEX auth_sessions_user ON auth_sessions(user_id);

    CREATE TABLE api_tokens (
        id           TEXT PRIMARY KEY,
        user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name         TEXT NOT NULL,
        secret_hash  TEXT NOT NULL UNIQUE,
        created_at   INTEGER NOT NULL,
        last_used_at INTEGER
    );
    CREATE INDEX api_tokens_user ON api_tokens(user_id, created_at);

    CREATE TABLE chat_sessions (
        id                TEXT PRIMARY KEY,
        user_id           TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        title             TEXT NOT NULL,
        is_active         INTEGER NOT NULL DEFAULT 1,
        pinned            INTEGER NOT NULL DEFAULT 0,
        archived          INTEGER NOT NULL DEFAULT 0,
        message_count     INTEGER NOT NULL DEFAULT 0,
        prompt_tokens     INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        source_id         TEXT,
        active_leaf_id    TEXT,
        created_at        INTEGER NOT NULL,
        updated_at        INTEGER NOT NULL,
        last_message_at   INTEGER,
        -- max(created_at, last_message_at): the sort key of the session list
        activity_at       INTEGER NOT NULL
    );
    CREATE INDEX chat_sessions_recent ON chat_sessions(user_id, activity_at DESC, id DESC);
    CREATE UNIQUE INDEX chat_sessions_source ON chat_sessions(user_id, source_id)
        WHERE source_id IS NOT NULL;

    CREATE TABLE messages (
        seq               INTEGER PRIMARY KEY,
        id                TEXT NOT NULL UNIQUE,
        session_id        TEXT NOT NULL REFERENCES chat_sessions(id) ON DELETE CASCADE,
        user_id           TEXT NOT NULL,
        parent_id         TEXT,
        role              TEXT NOT NULL,
        content           TEXT NOT NULL,
        type              TEXT NOT NULL,
        model             TEXT,
        prompt_tokens     INTEGER,
        completion_tokens INTEGER,
        latency_ms        INTEGER,
        status            TEXT NOT NULL,
        client_id         TEXT,
        source_id         TEXT,
        created_at        INTEGER NOT NULL
    );
    CREATE INDEX messages_session ON messages(session_id, id);
    CREATE UNIQUE INDEX messages_client ON messages(user_id, client_id)
        WHERE client_id IS NOT NULL;
    CREATE UNIQUE INDEX messages_source ON messages(user_id, source_id)
        WHERE source_id IS NOT NULL;

    -- External-content index: the text lives once, in messages. The triggers keep it current
    -- inside the same transaction as the write.
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, content='messages', content_rowid='seq',
        tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, content) VALUES (new.seq, new.content);
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.seq, old.content);
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.seq, old.content);
        INSERT INTO messages_fts(rowid, content) VALUES (new.seq, new.content);
    END;
    "#,
    // 2: accounts at OAuth / OpenID Connect providers, linked to users.
    r#"
    CREATE TABLE identities (
        provider   TEXT NOT NULL,
        subject    TEXT NOT NULL,
        user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        email      TEXT,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (provider, subject)
    );
    CREATE INDEX identities_user ON identities(user_id);
    "#,
    // 3: replies whose provider sent no usage carry estimated token counts, marked as such.
    r#"
    ALTER TABLE messages ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0;
    "#,
    // 4: new messages are indexed once per group commit instead of once per row. FTS5 flushes
    // its pending terms at the start of every statement, so a trigger per row cost a flush per
    // message; now a row only notes itself in fts_pending, and the writer indexes all pending
    // rows with one statement just before each commit (same transaction, so search is never
    // behind what is committed).
    r#"
    CREATE TABLE fts_pending (seq INTEGER PRIMARY KEY);
    DROP TRIGGER messages_fts_insert;
    DROP TRIGGER messages_fts_delete;
    DROP TRIGGER messages_fts_update;
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO fts_pending(seq) VALUES (new.seq);
    END;
    -- A row still pending was never indexed: it only leaves the queue.
    CREATE TRIGGER messages_fts_delete_pending AFTER DELETE ON messages
    WHEN EXISTS (SELECT 1 FROM fts_pending WHERE seq = old.seq) BEGIN
        DELETE FROM fts_pending WHERE seq = old.seq;
    END;
    CREATE TRIGGER messages_fts_delete BEFORE DELETE ON messages
    WHEN NOT EXISTS (SELECT 1 FROM fts_pending WHERE seq = old.seq) BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.seq, old.content);
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages
    WHEN NOT EXISTS (SELECT 1 FROM fts_pending WHERE seq = old.seq) BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.seq, old.content);
        INSERT INTO messages_fts(rowid, content) VALUES (new.seq, new.content);
    END;
    "#,
    // 5: replies are saved while they stream. A reply is inserted as `streaming` before the
    // model is asked and checkpointed every few seconds; `updated_at` is its heartbeat (a reply
    // whose heartbeat stops was left by a crash), `status_reason` says why a reply is `partial`
    // or `error`. A streaming reply is indexed as empty text: re-indexing its growing text at
    // every checkpoint would cost the whole text each time; it is indexed once it ends.
    r#"
    ALTER TABLE messages ADD COLUMN status_reason TEXT;
    ALTER TABLE messages ADD COLUMN updated_at INTEGER;
    -- Rows already `streaming` (an import could store that status) were indexed with their
    -- text, which the new triggers would not delete: they are left replies, settled now.
    UPDATE messages SET status = CASE WHEN content = '' THEN 'error' ELSE 'partial' END,
        status_reason = 'interrupted', updated_at = created_at
    WHERE status = 'streaming';
    CREATE INDEX messages_streaming ON messages(updated_at) WHERE status = 'streaming';
    DROP TRIGGER messages_fts_delete;
    DROP TRIGGER messages_fts_update;
    CREATE TRIGGER messages_fts_delete BEFORE DELETE ON messages
    WHEN NOT EXISTS (SELECT 1 FROM fts_pending WHERE seq = old.seq) BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.seq,
            CASE WHEN old.status = 'streaming' THEN '' ELSE old.content END);
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, status ON messages
    WHEN NOT EXISTS (SELECT 1 FROM fts_pending WHERE seq = old.seq)
        AND (old.status != 'streaming' OR new.status != 'streaming') BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.seq,
            CASE WHEN old.status = 'streaming' THEN '' ELSE old.content END);
        INSERT INTO messages_fts(rowid, content) VALUES (new.seq,
            CASE WHEN new.status = 'streaming' THEN '' ELSE new.content END);
    END;
    "#,
    // 6: deleting a conversation keeps it, restorable, until it is purged: `deleted_at` is
    // when it was deleted (NULL while it lives). Every read filters on it. The session list
    // keeps its index: it reads each listed row anyway, and deleted rows are few (purged after
    // the retention time). Search excludes the user's deleted sessions with one look-up in
    // `chat_sessions_deleted` (a partial index: only deleted rows, so it stays tiny), and the
    // purge finds its work in `chat_sessions_purge`.
    r#"
    ALTER TABLE chat_sessions ADD COLUMN deleted_at INTEGER;
    CREATE INDEX chat_sessions_deleted ON chat_sessions(user_id, id) WHERE deleted_at IS NOT NULL;
    CREATE INDEX chat_sessions_purge ON chat_sessions(deleted_at) WHERE deleted_at IS NOT NULL;
    "#,
    // 7: the account export pages a user's sessions by id (a key a new message does not move).
    r#"
    CREATE INDEX chat_sessions_user_id ON chat_sessions(user_id, id);
    "#,
    // 8: words inside Chinese, Japanese and Korean text are found: the index is given each
    // message's text with its CJK runs spelled out as overlapping bigrams
    // (`confab_index_text`, registered on the connection that migrates and writes; see
    // `fts` for why this way). It becomes contentless, as it no longer indexes the column
    // itself: a row leaves it by rowid alone, so the triggers call no function of ours. A
    // changed text goes back to `fts_pending` and is indexed again by the writer's flush
    // before the commit, like a new message. The whole index is rebuilt here, while the store
    // opens: 29 s for 1,000,000 messages (a 624 MB database) on the 2-core machine of
    // BENCHMARKS.md with other builds running, 43 s under heavier load.
    r#"
    DROP TRIGGER messages_fts_delete;
    DROP TRIGGER messages_fts_update;
    DROP TABLE messages_fts;
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, content='', contentless_delete=1,
        tokenize='unicode61 remove_diacritics 2'
    );
    -- Rows still pending (none after a clean commit) are indexed by the next flush.
    INSERT INTO messages_fts(rowid, content)
        SELECT seq, CASE WHEN status = 'streaming' THEN '' ELSE confab_index_text(content) END
        FROM messages WHERE seq NOT IN (SELECT seq FROM fts_pending)
        ORDER BY seq;
    CREATE TRIGGER messages_fts_delete BEFORE DELETE ON messages
    WHEN NOT EXISTS (SELECT 1 FROM fts_pending WHERE seq = old.seq) BEGIN
        DELETE FROM messages_fts WHERE rowid = old.seq;
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, status ON messages
    WHEN NOT EXISTS (SELECT 1 FROM fts_pending WHERE seq = old.seq)
        AND (old.status != 'streaming' OR new.status != 'streaming') BEGIN
        DELETE FROM messages_fts WHERE rowid = old.seq;
        INSERT INTO fts_pending(seq) VALUES (new.seq);
    END;
    "#,
    // 9: a conversation is read a page at a time, never whole (see `store::tree`). Each message
    // keeps its depth in the tree and a jump pointer to an ancestor, so that the ancestor at any
    // depth is a few look-ups away; `messages_children` counts and orders siblings and finds
    // the newest child. Rows without links (all rows at this step, and rows just inserted) are
    // linked by `branch::link_new_messages`, which finds them in `messages_unlinked`.
    r#"
    ALTER TABLE messages ADD COLUMN depth INTEGER;
    ALTER TABLE messages ADD COLUMN jump_id TEXT;
    ALTER TABLE messages ADD COLUMN jump_depth INTEGER;
    CREATE INDEX messages_children ON messages(session_id, parent_id, created_at, id);
    CREATE INDEX messages_unlinked ON messages(seq) WHERE depth IS NULL;
    "#,
    // 10: an import links its messages a batch at a time, and took a jump target above the
    // batch for a root (see `tree::links_in_order`): valid jumps, but too short, so a walk up a
    // long conversation imported in parts ran past its step limit and found nothing. The
    // messages of every session deep enough for that to cost anything (a walk never takes more
    // steps than the depth) lose their links here and are linked again at open.
    r#"
    UPDATE messages SET depth = NULL, jump_id = NULL, jump_depth = NULL
    WHERE session_id IN (SELECT DISTINCT session_id FROM messages WHERE depth >= 64);
    "#,
    // 11: the end of a branch in one look-up (see `store::paths`): each message keeps the
    // label of its newest-child path. Every row loses its links here and is linked again,
    // labels included, at open.
    r#"
    ALTER TABLE messages ADD COLUMN path INTEGER;
    CREATE INDEX messages_paths ON messages(path, depth);
    UPDATE messages SET depth = NULL, jump_id = NULL, jump_depth = NULL;
    "#,
    // 12: administration (issue 14). A user can be disabled (`disabled_at`), and keeps the
    // time of their last sign-in and their message count, which the admins' user list shows.
    // The count follows the sessions' own counters through triggers, in the transaction of the
    // write that moves them (an append, an import, a clear, a purge): one indexed UPDATE more
    // per write, and the list reads one row per user instead of adding up their sessions. Like
    // MongoDB's `user_totals`, it counts deleted conversations until they are purged.
    // Invitations and password resets keep their secret as a hash only; settings are
    // key/value text; the audit log keeps the actor's and the target's email as text, so that
    // it outlives the accounts it names.
    r#"
    ALTER TABLE users ADD COLUMN disabled_at INTEGER;
    ALTER TABLE users ADD COLUMN last_sign_in_at INTEGER;
    ALTER TABLE users ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0;
    UPDATE users SET message_count =
        (SELECT coalesce(sum(message_count), 0) FROM chat_sessions WHERE user_id = users.id);
    CREATE TRIGGER users_count_insert AFTER INSERT ON chat_sessions
    WHEN new.message_count != 0 BEGIN
        UPDATE users SET message_count = message_count + new.message_count WHERE id = new.user_id;
    END;
    CREATE TRIGGER users_count_update AFTER UPDATE OF message_count ON chat_sessions
    WHEN new.message_count != old.message_count BEGIN
        UPDATE users SET message_count = message_count + new.message_count - old.message_count
        WHERE id = new.user_id;
    END;
    CREATE TRIGGER users_count_delete AFTER DELETE ON chat_sessions
    WHEN old.message_count != 0 BEGIN
        UPDATE users SET message_count = message_count - old.message_count WHERE id = old.user_id;
    END;

    CREATE TABLE invitations (
        id          TEXT PRIMARY KEY,
        token_hash  TEXT NOT NULL UNIQUE,
        email       TEXT COLLATE NOCASE,
        created_by  TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        used_at     INTEGER,
        used_by     TEXT
    );
    CREATE INDEX invitations_recent ON invitations(created_at DESC, id DESC);

    CREATE TABLE password_resets (
        id          TEXT PRIMARY KEY,
        token_hash  TEXT NOT NULL UNIQUE,
        user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        used_at     INTEGER
    );
    CREATE INDEX password_resets_user ON password_resets(user_id);

    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );

    CREATE TABLE audit_log (
        id           TEXT PRIMARY KEY,
        at           INTEGER NOT NULL,
        actor_id     TEXT NOT NULL,
        actor_email  TEXT NOT NULL,
        action       TEXT NOT NULL,
        target_id    TEXT NOT NULL,
        target_email TEXT,
        detail       TEXT
    );
    CREATE INDEX audit_log_recent ON audit_log(at DESC, id DESC);
    "#,
    // The credentials stamp each API token was made under: a password reset stops the tokens
    // made with the old password even when one is written after the reset's sweep.
    r#"
    ALTER TABLE api_tokens ADD COLUMN made_under TEXT;
    "#,
    // 14: the source of a forked conversation (session and message ids). Plain text, not
    // foreign keys: the source may be deleted and purged while the fork lives on.
    r#"
    ALTER TABLE chat_sessions ADD COLUMN forked_from_session TEXT;
    ALTER TABLE chat_sessions ADD COLUMN forked_from_message TEXT;
    "#,
    // 15: starred messages (issue 16). The Starred view reads a user's stars newest first
    // from an index that holds only starred messages, so it costs nothing for the rest.
    r#"
    ALTER TABLE messages ADD COLUMN starred_at INTEGER;
    CREATE INDEX messages_starred ON messages(user_id, starred_at DESC, id DESC)
        WHERE starred_at IS NOT NULL;
    "#,
    // 16: conversation tags (issue 16). A session's tags are read by its primary key (every
    // read of a session gathers them); the user's tags, and the sessions carrying one, from
    // `session_tags_user`. They go with their session (the purge, an account's deletion).
    r#"
    CREATE TABLE session_tags (
        session_id TEXT NOT NULL REFERENCES chat_sessions(id) ON DELETE CASCADE,
        user_id    TEXT NOT NULL,
        tag        TEXT NOT NULL,
        PRIMARY KEY (session_id, tag)
    ) WITHOUT ROWID;
    CREATE INDEX session_tags_user ON session_tags(user_id, tag, session_id);
    "#,
    // 17: conversation folders (issue 16). The sidebar reads all of a user's folders by
    // `folders_user`, and a folder's conversations by `chat_sessions_folder` in the list's
    // order. `session_count` (live, not archived sessions directly in the folder) is kept by
    // the three triggers, in the same transaction as every write that moves it, whichever
    // code path makes the write (create, move, archive, trash, restore, purge, import,
    // backup restore, an account's deletion). `folder_id` names a folder of the session's
    // owner: every write that sets it checks so (no foreign key, which would keep the column
    // from ever being dropped); deleting a folder puts its trashed sessions at the top level,
    // which is where a restore then puts them.
    r#"
    CREATE TABLE folders (
        id            TEXT PRIMARY KEY,
        user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name          TEXT NOT NULL,
        parent_id     TEXT REFERENCES folders(id) ON DELETE CASCADE,
        system_prompt TEXT,
        model         TEXT,
        session_count INTEGER NOT NULL DEFAULT 0,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
    );
    CREATE INDEX folders_user ON folders(user_id, id);
    CREATE INDEX folders_parent ON folders(parent_id);
    ALTER TABLE chat_sessions ADD COLUMN folder_id TEXT;
    CREATE INDEX chat_sessions_folder
        ON chat_sessions(user_id, folder_id, activity_at DESC, id DESC);
    CREATE TRIGGER folder_count_insert AFTER INSERT ON chat_sessions
    WHEN NEW.folder_id IS NOT NULL AND NEW.deleted_at IS NULL AND NEW.archived = 0
    BEGIN
        UPDATE folders SET session_count = session_count + 1 WHERE id = NEW.folder_id;
    END;
    CREATE TRIGGER folder_count_delete AFTER DELETE ON chat_sessions
    WHEN OLD.folder_id IS NOT NULL AND OLD.deleted_at IS NULL AND OLD.archived = 0
    BEGIN
        UPDATE folders SET session_count = session_count - 1 WHERE id = OLD.folder_id;
    END;
    CREATE TRIGGER folder_count_update AFTER UPDATE OF folder_id, archived, deleted_at
    ON chat_sessions
    WHEN OLD.folder_id IS NOT NEW.folder_id
        OR (OLD.deleted_at IS NULL AND OLD.archived = 0)
            IS NOT (NEW.deleted_at IS NULL AND NEW.archived = 0)
    BEGIN
        UPDATE folders SET session_count = session_count - 1
        WHERE id = OLD.folder_id AND OLD.deleted_at IS NULL AND OLD.archived = 0;
        UPDATE folders SET session_count = session_count + 1
        WHERE id = NEW.folder_id AND NEW.deleted_at IS NULL AND NEW.archived = 0;
    END;
    "#,
];

/// The schema version this build expects.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings the database up to the latest version. Refuses a database newer than this build.
pub fn run(conn: &mut Connection) -> StoreResult<i64> {
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(sql_error)?;
    if current > latest_version() {
        return Err(crate::store::StoreError::Backend(format!(
            "the database is at schema version {current}, newer than this build ({})",
            latest_version()
        )));
    }
    for (index, step) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let target = index as i64 + 1;
        let tx = conn.transaction().map_err(sql_error)?;
        tx.execute_batch(step).map_err(sql_error)?;
        tx.execute_batch(&format!("PRAGMA user_version = {target}"))
            .map_err(sql_error)?;
        tx.commit().map_err(sql_error)?;
        tracing::info!(version = target, "applied database migration");
    }
    Ok(latest_version())
}
