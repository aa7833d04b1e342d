//! Full-text search over a user's messages with FTS5.
//!
//! Ranking every hit with bm25 costs about 4 µs a hit, so a word found in 2% of a million
//! messages would take 80 ms. Instead the newest `CANDIDATES` hits (FTS5 walks its doclists in
//! rowid order, newest first, cheaply) are ranked with bm25 and the rest are not: for a common
//! word the best matches among recent messages come first, for a rare word every hit is ranked.
// Byte offsets into text a user or a file controls may fall inside a character.
#![deny(clippy::string_slice)]

use std::collections::HashMap;

use rusqlite::{Connection, ToSql};

use super::rows::{from_ms, to_ms};
use super::sql_error;
use crate::model::{Page, Role, SearchHit};
use crate::store::cursor::encode_offset;
use crate::store::mongo::snippet_for;
use crate::store::snippet::{highlight, SNIPPET_TOKENS};
use crate::store::{SearchQuery, StoreResult};

/// How many of the newest hits are ranked.
pub const CANDIDATES: usize = 1000;

/// The user's deleted sessions (`?` = the user), whose messages search leaves out. Read from
/// the tiny partial index of deleted sessions, named: without statistics SQLite prefers the
/// index of all the user's sessions (`chat_sessions_user_id`) and reads every one of them at
/// every search, which tripled the rare-word search time of 15,000 sessions.
const DELETED_SESSIONS: &str = "SELECT id FROM chat_sessions INDEXED BY chat_sessions_deleted
     WHERE user_id = ? AND deleted_at IS NOT NULL";

/// The FTS5 expression for plain terms: each quoted (so it is never syntax), all required.
pub fn match_expression(terms: &[String], prefix_last: bool) -> String {
    let mut parts: Vec<String> = terms
        .iter()
        .map(|term| format!("\"{}\"", term.replace('"', "\"\"")))
        .collect();
    if prefix_last {
        if let Some(last) = parts.last_mut() {
            last.push('*');
        }
    }
    parts.join(" ")
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
    let expression = match_expression(&query.terms, query.prefix_last);
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
         SELECT m.seq, m.id, m.session_id, s.title, m.role, m.type, m.created_at
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
                },
            ))
        })
        .and_then(Iterator::collect)
        .map_err(sql_error)?;
    let next_cursor = if hits.len() > query.limit {
        hits.truncate(query.limit);
        Some(encode_offset(query.offset + query.limit))
    } else {
        None
    };
    let mut snippets = snippets(conn, &expression, query, hits.iter().map(|(seq, _)| *seq))?;
    let items = hits
        .into_iter()
        .map(|(seq, mut hit)| {
            hit.snippet = snippets.remove(&seq).unwrap_or_default();
            hit
        })
        .collect();
    Ok(Page { items, next_cursor })
}

/// The snippet query for `hits` rows: `?1` the match, `?2`..`?3` the rowid range, then the rows.
///
/// One pass of the match over the hits' range of rowids. Given `rowid IN (...)`, FTS5 runs
/// the whole match once per hit: for a prefix term ("quantum*", what a search typed as it is
/// typed sends) that is a merge of every matching term's doclist each time, 27 ms for 20 hits
/// of a word in 2% of a million messages, against 0.9 ms in one pass. The unary `+` keeps the
/// IN list out of the constraints FTS5 is given, so it only filters the rows of the range.
fn snippet_sql(hits: usize) -> String {
    let placeholders = vec!["?"; hits].join(",");
    format!(
        "SELECT messages_fts.rowid,
                snippet(messages_fts, 0, char(57344), char(57345), '…', {SNIPPET_TOKENS}),
                m.content
         FROM messages_fts JOIN messages m ON m.seq = messages_fts.rowid
         WHERE messages_fts MATCH ? AND messages_fts.rowid BETWEEN ? AND ?
             AND +messages_fts.rowid IN ({placeholders})"
    )
}

/// Highlighted snippets for the given rows only (snippet() is far costlier than the match).
///
/// FTS5's `snippet()` copies text with C string functions, which stop at a NUL: for a message
/// holding one, the text after each NUL would be missing. Such a message gets the same snippet
/// computed in Rust (the MongoDB store's, which follows `snippet()` exactly).
fn snippets(
    conn: &Connection,
    expression: &str,
    query: &SearchQuery,
    seqs: impl Iterator<Item = i64>,
) -> StoreResult<HashMap<i64, String>> {
    let seqs: Vec<i64> = seqs.collect();
    let (Some(&first), Some(&last)) = (seqs.iter().min(), seqs.iter().max()) else {
        return Ok(HashMap::new());
    };
    let sql = snippet_sql(seqs.len());
    let mut args: Vec<Box<dyn ToSql>> = vec![
        Box::new(expression.to_owned()),
        Box::new(first),
        Box::new(last),
    ];
    args.extend(seqs.into_iter().map(|seq| Box::new(seq) as Box<dyn ToSql>));
    let mut statement = conn.prepare(&sql).map_err(sql_error)?;
    let found = statement
        .query_map(rusqlite::params_from_iter(args.iter()), |row| {
            let content: String = row.get(2)?;
            let snippet = if content.contains('\0') {
                snippet_for(&content, query)
            } else {
                highlight(&row.get::<_, String>(1)?)
            };
            Ok((row.get(0)?, snippet))
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
        // Without the name, SQLite would take the other index: the reason for naming it.
        let unnamed = DELETED_SESSIONS.replace("INDEXED BY chat_sessions_deleted", "");
        assert_eq!(
            plan(&unnamed, &[&"someone"]),
            ["SEARCH chat_sessions USING INDEX chat_sessions_user_id (user_id=?)"]
        );
    }

    /// The snippet query hands FTS5 the match and a rowid range, never the list of rows: with
    /// `rowid IN (...)` as a constraint FTS5 would run the match once per row (`INDEX 0:=M1`).
    #[test]
    fn snippets_run_the_match_once_over_a_range() {
        assert_eq!(
            plan(
                &snippet_sql(3),
                rusqlite::params!["\"quantum\"*", 10, 30, 10, 20, 30]
            ),
            [
                "SCAN messages_fts VIRTUAL TABLE INDEX 0:M1><",
                "SEARCH m USING INTEGER PRIMARY KEY (rowid=?)"
            ]
        );
    }

    #[test]
    fn expressions_quote_every_term() {
        let terms = vec!["near".to_string(), "rust".to_string()];
        assert_eq!(match_expression(&terms, false), "\"near\" \"rust\"");
        assert_eq!(match_expression(&terms, true), "\"near\" \"rust\"*");
    }
}
