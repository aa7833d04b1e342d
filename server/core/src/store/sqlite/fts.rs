//! What the full-text index is given for each message: its text with CJK runs spelled out as
//! bigrams (`cjk::index_text`), through the SQL function `confab_index_text`, which the write
//! connection registers before anything else runs on it.
//!
//! # Why a derived text, and not a tokenizer of our own
//!
//! FTS5's `unicode61` tokenizer takes a run of CJK characters for one word, so a word inside a
//! Japanese or Chinese sentence was never found. Three ways were weighed (migration 8):
//!
//! - A custom FTS5 tokenizer (wrapping `unicode61`, emitting bigrams for CJK runs). rusqlite
//!   0.37 has no API for one, so it would be raw FFI (`fts5_api` fetched through
//!   `sqlite3_bind_pointer`, C callbacks) on every connection, readers included; any other
//!   program opening the file (the `sqlite3` shell, a backup script) could then neither read
//!   the index nor delete a message, as the table's tokenizer would be unknown to it. And
//!   FTS5's `snippet()` is not made for tokens that overlap, as bigrams do.
//! - FTS5's `trigram` tokenizer in a second index: it needs 3 characters, so the most common
//!   length of a CJK word, 2, is not found, and it costs an index several times the size of
//!   the text for every message, Latin ones included.
//! - A derived text (chosen): the index is fed `index_text(content)`, the content itself where
//!   it holds no CJK character (so Latin text is indexed exactly as before), with CJK runs
//!   replaced by their bigrams separated by spaces, which `unicode61` then takes as words. The
//!   index is contentless (`content=''`, `contentless_delete=1`): it cannot be an index of
//!   `messages.content` any more, and a contentless table deletes a row by its rowid alone, so
//!   the triggers need no function and any program may still delete messages. Only the
//!   writer's flush of `fts_pending` (and the migration) call `confab_index_text`. Snippets
//!   are cut in Rust from the original content (the MongoDB store's code, which follows
//!   FTS5's `snippet()`), as a contentless index has no text to cut them from.
// Byte offsets into text a user or a file controls may fall inside a character.
#![deny(clippy::string_slice)]

use rusqlite::functions::FunctionFlags;
use rusqlite::types::{Value, ValueRef};
use rusqlite::Connection;

use crate::store::cjk::index_text;

/// The SQL name of the function that turns a message's content into the text indexed.
pub const INDEX_TEXT_FUNCTION: &str = "confab_index_text";

/// Registers `confab_index_text(content)` on `conn`: the text to index for `content` (text
/// that is not valid UTF-8, which Confab never writes, is indexed as its lossy decoding; any
/// other value as it is).
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        INDEX_TEXT_FUNCTION,
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |context| {
            Ok(match context.get_raw(0) {
                ValueRef::Text(bytes) => {
                    let text = String::from_utf8_lossy(bytes);
                    Value::Text(index_text(&text).into_owned())
                }
                other => Value::from(other),
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::mongo::index_tokens;

    /// The terms FTS5 indexes for `content`, in order (fts5vocab's `instance` table).
    fn indexed_terms(conn: &Connection, content: &str) -> Vec<String> {
        conn.execute_batch(
            "DROP TABLE IF EXISTS t; DROP TABLE IF EXISTS v;
             CREATE VIRTUAL TABLE t USING fts5(content, content='', contentless_delete=1,
                 tokenize='unicode61 remove_diacritics 2');
             CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance');",
        )
        .expect("tables");
        conn.execute(
            "INSERT INTO t(rowid, content) VALUES (1, confab_index_text(?1))",
            [content],
        )
        .expect("insert");
        let mut select = conn
            .prepare("SELECT term FROM v ORDER BY offset")
            .expect("select");
        let terms = select
            .query_map([], |row| row.get(0))
            .expect("terms")
            .collect::<rusqlite::Result<Vec<String>>>()
            .expect("rows");
        terms
    }

    fn connection() -> Connection {
        let conn = Connection::open_in_memory().expect("open");
        register(&conn).expect("register");
        conn
    }

    /// SQLite indexes exactly the tokens the MongoDB store indexes and snippets are cut from,
    /// for CJK text and everything around it.
    #[test]
    fn fts5_sees_the_same_tokens_as_rust() {
        let conn = connection();
        for text in [
            "東京都に住んでいます。京都へ行く",
            "私は東京tower、서울에서 Résumé 2024年3月!",
            "コーヒーとｶﾌｪｵﾚ 々 〆切 𠀋𡈽 ㄱㄴ",
            "東\u{301}京 e\u{301}cole か\u{3099}き 東・京「都」",
            "ζωή and жизнь 東京",
        ] {
            let rust: Vec<String> = index_tokens(text);
            assert_eq!(indexed_terms(&conn, text), rust, "{text}");
        }
    }

    /// Every CJK letter `cjk::is_cjk` accepts is a word character to FTS5's `unicode61`,
    /// so a bigram is always one FTS5 token (else the two sides would tokenise differently).
    #[test]
    fn every_cjk_letter_is_an_fts5_token() {
        let conn = connection();
        let letters: Vec<char> = crate::store::cjk::CJK_RANGES
            .iter()
            .flat_map(|(first, last)| *first..=*last)
            .filter(|character| crate::store::cjk::is_cjk(*character))
            .collect();
        assert!(letters.len() > 90_000, "{}", letters.len());
        // One per word, each alone between spaces: the text indexed is the letter itself.
        let text: String = letters.iter().flat_map(|c| [' ', *c, ' ']).collect();
        let terms = indexed_terms(&conn, &text);
        let expected: Vec<String> = letters.iter().map(|c| c.to_string()).collect();
        let indexed: std::collections::HashSet<&String> = terms.iter().collect();
        let missing: Vec<&String> = expected
            .iter()
            .filter(|letter| !indexed.contains(letter))
            .take(20)
            .collect();
        assert!(missing.is_empty(), "not FTS5 tokens: {missing:?}");
        assert_eq!(terms, expected);
    }

    #[test]
    fn other_values_pass_through() {
        let conn = connection();
        let (null, number, broken): (Option<String>, i64, String) = conn
            .query_row(
                "SELECT confab_index_text(NULL), confab_index_text(7),
                        confab_index_text(CAST(x'e69db1ff' AS TEXT))",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .expect("query");
        assert_eq!((null, number), (None, 7));
        assert_eq!(broken, " \u{6771} \u{FFFD}");
    }
}
