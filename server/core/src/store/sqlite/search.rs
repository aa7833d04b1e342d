//! Full-text search over a user's messages with FTS5.
//!
//! Ranking every hit with bm25 costs about 4 µs a hit, so a word found in 2% of a million
//! messages would take 80 ms. Instead the newest `CANDIDATES` hits (FTS5 walks its doclists in
//! rowid order, newest first, cheaply) are ranked with bm25 and the rest are not: for a common
//! word the best matches among recent messages come first, for a rare word every hit is ranked.
//!
//! The index holds each message's text with its CJK runs spelled out as bigrams (see `fts`),
//! and a query's terms are phrases of those tokens (`search_query::phrase`). Snippets are cut
//! in Rust from the original content, the same code as the MongoDB store's.
// Byte offsets into text a user or a file controls may fall inside a character.
#![deny(clippy::string_slice)]

use std::collections::HashMap;

use rusqlite::{Connection, ToSql};

use super::rows::{from_ms, to_ms};
use super::sql_error;
use crate::model::{Page, Role, SearchHit};
use crate::store::cursor::encode_offset;
use crate::store::mongo::snippet_for;
use crate::store::search_query::{phrases, QueryToken};
use crate::store::{SearchQuery, StoreResult};

/// How many of the newest hits are ranked.
pub const CANDIDATES: usize = 1000;

/// The user's deleted sessions (`?` = the user), whose messages search leaves out. Read from
/// the tiny partial index of deleted sessions, named: without statistics SQLite prefers the
/// index of all the user's sessions (`chat_sessions_user_id`) and reads every one of them at
/// every search, which tripled the rare-word search time of 15,000 sessions.
const DELETED_SESSIONS: &str = "SELECT id FROM chat_sessions INDEXED BY chat_sessions_deleted
     WHERE user_id = ? AND deleted_at IS NOT NULL";

/// The FTS5 expression for the query's phrases, all required: each token quoted (so it is
/// never syntax), a phrase's tokens joined with `+` (one after the other), `*` after a token
/// matched as a prefix.
pub fn match_expression(phrases: &[Vec<QueryToken>]) -> String {
    let phrase = |tokens: &Vec<QueryToken>| -> String {
        tokens
            .iter()
            .map(|token| {
                let star = if token.prefix { "*" } else { "" };
                format!("\"{}\"{star}", token.term.replace('"', "\"\""))
            })
            .collect::<Vec<_>>()
            .join(" + ")
    };
    phrases.iter().map(phrase).collect::<Vec<_>>().join(" ")
}

pub fn search(
    conn: &Connection,
    user_id: &str,
    query: &SearchQuery,
) -> StoreResult<Page<SearchHit>> {
    if query.terms.is_empty() || query.offset >= CANDIDATES {
        return Ok(Page {
            items: Vec::new(),
            next_cursor: None,
        });
    }
    let expression = match_expression(&phrases(&query.terms, query.prefix_last));
    // Messages of deleted sessions stay indexed until the purge; they are left out here,
    // before the candidates are counted, so they take no place among them. The user's
    // deleted sessions are few and come from a tiny partial index; SQLite reads them once
    // into a temporary b-tree and probes it per hit.
    let mut filters = format!(" AND m.session_id NOT IN ({DELETED_SESSIONS})");
    let mut args: Vec<Box<dyn ToSql>> = vec![
        Box::new(expression.clone()),
        Box::new(user_id.to_owned()),
        Box::new(user_id.to_owned()),
    ];
    if let Some(message_type) = &query.message_type {
        filters.push_str(" AND m.type = ?");
        args.push(Box::new(message_type.clone()));
    }
    if let Some(role) = query.role {
        filters.push_str(" AND m.role = ?");
        args.push(Box::new(role.as_str()));
    }
    if let Some(model) = &query.model {
        filters.push_str(" AND m.model = ?");
        args.push(Box::new(model.clone()));
    }
    if let Some(session_id) = &query.session_id {
        filters.push_str(" AND m.session_id = ?");
        args.push(Box::new(session_id.clone()));
    }
    if let Some(from) = query.from {
        filters.push_str(" AND m.created_at >= ?");
        args.push(Box::new(to_ms(from)));
    }
    if let Some(to) = query.to {
        filters.push_str(" AND m.created_at < ?");
        args.push(Box::new(to_ms(to)));
    }
    if let Some(tag) = &query.tag {
        filters.push_str(
            " AND m.session_id IN (SELECT session_id FROM session_tags WHERE user_id = ? AND tag = ?)",
        );
        args.push(Box::new(user_id.to_owned()));
        args.push(Box::new(tag.clone()));
    }
    if query.starred {
        filters.push_str(" AND m.starred_at IS NOT NULL");
    }
    if let Some(archived) = query.archived {
        // The user's archived sessions, read once into a temporary b-tree (as the deleted
        // ones): through `chat_sessions_user_id` and each session's row, so a few ms for
        // 15,000 sessions, and only when the filter is asked for. A deleted session is left
        // out above whichever way this goes.
        let test = if archived { "IN" } else { "NOT IN" };
        filters.push_str(&format!(
            " AND m.session_id {test} (SELECT id FROM chat_sessions WHERE user_id = ? AND archived = 1)"
        ));
        args.push(Box::new(user_id.to_owned()));
    }
    args.push(Box::new(CANDIDATES as i64));
    args.push(Box::new(query.limit as i64 + 1));
    args.push(Box::new(query.offset as i64));
    let sql = format!(
        "WITH candidates AS (
             SELECT f.rowid AS seq, bm25(messages_fts) AS score
             FROM messages_fts f JOIN messages m ON m.seq = f.rowid
             WHERE messages_fts MATCH ? AND m.user_id = ?{filters}
             ORDER BY f.rowid DESC LIMIT ?
         )
         SELECT m.seq, m.id, m.session_id, s.title, m.role, m.type, m.created_at, s.archived
         FROM candidates c
         JOIN messages m ON m.seq = c.seq
         JOIN chat_sessions s ON s.id = m.session_id
         ORDER BY c.score, c.seq DESC
         LIMIT ? OFFSET ?"
    );
    let mut statement = conn.prepare_cached(&sql).map_err(sql_error)?;
    let mut hits: Vec<(i64, SearchHit)> = statement
        .query_map(rusqlite::params_from_iter(args.iter()), |row| {
            let role: String = row.get(4)?;
            Ok((
                row.get(0)?,
                SearchHit {
                    message_id: row.get(1)?,
                    session_id: row.get(2)?,
                    session_title: row.get(3)?,
                    role: Role::parse(&role).unwrap_or(Role::User),
                    message_type: row.get(5)?,
                    snippet: String::new(),
                    created_at: from_ms(row.get(6)?),
                    archived: row.get(7)?,
                },
            ))
        })
        .and_then(Iterator::collect)
        .map_err(sql_error)?;
    let next_cursor = crate::store::cursor::cut_page(&mut hits, query.limit, |_| {
        encode_offset(query.offset + query.limit)
    });
    let mut snippets = snippets(conn, query, hits.iter().map(|(seq, _)| *seq))?;
    let items = hits
        .into_iter()
        .map(|(seq, mut hit)| {
            hit.snippet = snippets.remove(&seq).unwrap_or_default();
            hit
        })
        .collect();
    Ok(Page { items, next_cursor })
}

/// Highlighted snippets for the given rows only, cut from their content in Rust (the MongoDB
/// store's code, which follows FTS5's `snippet()`): the index is contentless, and FTS5's own
/// `snippet()` would show the bigrams it indexed, not the text, and stops at a NUL. No match
/// runs here: given `rowid IN (...)`, FTS5 would run the whole match once per row (for a
/// prefix term a merge of every matching doclist each time, 27 ms of a 2%-word search).
fn snippets(
    conn: &Connection,
    query: &SearchQuery,
    seqs: impl Iterator<Item = i64>,
) -> StoreResult<HashMap<i64, String>> {
    let seqs: Vec<i64> = seqs.collect();
    if seqs.is_empty() {
        return Ok(HashMap::new());
    }
    let placeholders = vec!["?"; seqs.len()].join(",");
    let sql = format!("SELECT seq, content FROM messages WHERE seq IN ({placeholders})");
    let mut statement = conn.prepare(&sql).map_err(sql_error)?;
    let found = statement
        .query_map(rusqlite::params_from_iter(seqs.iter()), |row| {
            let content: String = row.get(1)?;
            Ok((row.get(0)?, snippet_for(&content, query)))
        })
        .and_then(Iterator::collect)
        .map_err(sql_error);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan SQLite picks for `sql` with `params` in a fresh Confab database, a step a line.
    fn plan(sql: &str, params: &[&dyn ToSql]) -> Vec<String> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("plan.db");
        let store = crate::store::sqlite::SqliteStore::open(
            crate::store::sqlite::SqliteOptions::new(path.clone()),
        )
        .expect("open");
        let conn = Connection::open(&path).expect("connection");
        let mut explain = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("explain");
        let steps = explain
            .query_map(params, |row| row.get::<_, String>(3))
            .expect("plan")
            .collect::<rusqlite::Result<Vec<_>>>()
            .expect("rows");
        drop(store);
        steps
    }

    /// The plan SQLite picks for the deleted-sessions look-up reads the partial index only.
    #[test]
    fn deleted_sessions_come_from_their_own_index() {
        assert_eq!(
            plan(DELETED_SESSIONS, &[&"someone"]),
            ["SEARCH chat_sessions USING INDEX chat_sessions_deleted (user_id=?)"]
        );
        // Named because without the name SQLite took `chat_sessions_user_id`, reading every
        // session of the user (up to migration 16; the indexes since change its choice, which
        // is why the plan is pinned rather than left to them).
    }

    #[test]
    fn expressions_quote_every_term() {
        let terms = vec!["near".to_string(), "rust".to_string()];
        assert_eq!(
            match_expression(&phrases(&terms, false)),
            "\"near\" \"rust\""
        );
        assert_eq!(
            match_expression(&phrases(&terms, true)),
            "\"near\" \"rust\"*"
        );
        let quoted = vec!["a\"b".to_string()];
        assert_eq!(match_expression(&phrases(&quoted, false)), "\"a\"\"b\"");
    }

    #[test]
    fn cjk_words_are_phrases_of_bigrams() {
        let terms = vec!["東京都".to_string(), "rust".to_string(), "京".to_string()];
        assert_eq!(
            match_expression(&phrases(&terms, false)),
            "\"東京\" + \"京都\" \"rust\" \"京\"*"
        );
        let mixed = vec!["東京tower".to_string()];
        assert_eq!(
            match_expression(&phrases(&mixed, true)),
            "\"東京\" + \"京\" + \"tower\"*"
        );
    }
}
