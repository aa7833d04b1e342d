//! Full-text search over a user's messages, ranked and cut into snippets in Rust.
//!
//! FerretDB has no `$text`, and MongoDB's text search ranks differently from SQLite's FTS5,
//! so neither is used. Each message stores its distinct terms (`terms`, indexed together with
//! the owner: words, and the bigrams of CJK text); a query requires every token of its
//! phrases as an array element, exact terms at the top level of the filter (`terms: t` or
//! `terms: {$all: [...]}`), and only a token being typed (the last word while the user types
//! it, or a single CJK character) as an anchored prefix regex on the array. The order of a
//! phrase's tokens (CJK bigrams one after the other) is checked in Rust on the candidates,
//! which re-tokenise their content anyway. As on SQLite, only the newest
//! `SEARCH_CANDIDATES` matching messages are ranked: with FTS5's bm25 (k1 = 1.2, b = 0.75),
//! best first, newest first among equals. Where FTS5 takes the number of rows, their average
//! length and each term's document frequency from its whole table, this takes them from the
//! user's own messages: the same thing on a single-user instance.
//! Snippets follow FTS5's `snippet()` (see `snippet`).
//!
//! Messages of deleted sessions (kept, restorable, until the purge) are left out by the
//! candidate query itself, with `session_id: {$nin: [the user's deleted sessions]}`: one small
//! indexed query for those ids (`chat_sessions_list`, run alongside the statistics), then a
//! check on a field of each document the query reads anyway. Marking the messages instead
//! (`session_deleted: true` on each) would make deleting and restoring a long conversation
//! rewrite every message of it, in many writes that a failure could leave half done, and a
//! half-marked conversation would show in search; the session's one field cannot be half set.
//! Like FTS5's, the ranking statistics still count deleted messages until they are purged.
// Byte offsets into text a user or a file controls may fall inside a character.
#![deny(clippy::string_slice)]

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures::future::try_join_all;
use futures::TryStreamExt;
use mongodb::bson::{self, doc, Bson, Document};
use serde::Deserialize;

use super::documents::{from_bson_time, to_bson_time};
use super::errors::db_error;
use super::snippet::{snippet, Instance};
use super::terms::{fold, regex_escape, tokens, Token};
use super::Collections;
use crate::model::{Page, Role, SearchHit};
use crate::store::cjk::is_cjk;
use crate::store::cursor::encode_offset;
use crate::store::search_query::{self, QueryToken};
use crate::store::sqlite::SEARCH_CANDIDATES;
use crate::store::{SearchQuery, StoreResult};

const K1: f64 = 1.2;
const B: f64 = 0.75;

/// A query term: tokens that must follow one another (one for a word, the bigrams of a CJK
/// word), each matched whole or as the start of a token.
struct Phrase {
    tokens: Vec<QueryToken>,
}

fn token_matches(query: &QueryToken, token: &Token) -> bool {
    if query.prefix {
        token.term.starts_with(&query.term)
    } else {
        token.term == query.term
    }
}

impl Phrase {
    /// Whether the phrase starts at `position` of `tokens`.
    fn matches_at(&self, tokens: &[Token], position: usize) -> bool {
        self.tokens.iter().enumerate().all(|(offset, query)| {
            tokens
                .get(position + offset)
                .is_some_and(|token| token_matches(query, token))
        })
    }

    fn filter(&self) -> Document {
        terms_filter(&self.tokens)
    }
}

/// The filter requiring every one of `tokens` in a message's `terms`: the exact ones at the
/// top level (`terms: t`, or `terms: {$all: [...]}` for several), so that an index lookup can
/// start from any of them; only tokens being typed as anchored prefix regexes.
fn terms_filter<'a>(tokens: impl IntoIterator<Item = &'a QueryToken>) -> Document {
    let mut exact: Vec<&str> = Vec::new();
    let mut prefixes: Vec<Document> = Vec::new();
    for token in tokens {
        if token.prefix {
            let regex = doc! { "$regex": format!("^{}", regex_escape(&token.term)) };
            prefixes.push(doc! { "terms": regex });
        } else if !exact.contains(&token.term.as_str()) {
            exact.push(&token.term);
        }
    }
    let mut filter = Document::new();
    match exact.as_slice() {
        [] if prefixes.len() == 1 => return prefixes.remove(0),
        [] => {}
        [one] => {
            filter.insert("terms", *one);
        }
        several => {
            filter.insert("terms", doc! { "$all": several.to_vec() });
        }
    }
    if !prefixes.is_empty() {
        filter.insert("$and", prefixes);
    }
    filter
}

#[derive(Deserialize)]
struct Candidate {
    #[serde(rename = "_id")]
    id: String,
    session_id: String,
    role: String,
    #[serde(rename = "type")]
    message_type: String,
    content: String,
    created_at: bson::DateTime,
}

#[derive(Deserialize)]
struct Title {
    #[serde(rename = "_id")]
    id: String,
    title: String,
    #[serde(default)]
    archived: bool,
}

fn empty() -> Page<SearchHit> {
    Page {
        items: Vec::new(),
        next_cursor: None,
    }
}

/// Where each phrase occurs in `tokens`, sorted by position.
fn instances(tokens: &[Token], phrases: &[Phrase]) -> Vec<Instance> {
    let mut found = Vec::new();
    for position in 0..tokens.len() {
        for (phrase, candidate) in phrases.iter().enumerate() {
            if !candidate.matches_at(tokens, position) {
                continue;
            }
            let length = candidate.tokens.len();
            let Some(last) = tokens.get(position + length - 1) else {
                continue;
            };
            found.push(Instance {
                position,
                phrase,
                length,
                end: hit_end(candidate.tokens.last(), last),
            });
        }
    }
    found
}

/// Where the hit whose last query token is `query`, matching `token`, ends: a single CJK
/// character asked for as a prefix marks that character, not the bigram it starts (a word
/// typed as a prefix is marked whole, as FTS5 does).
fn hit_end(query: Option<&QueryToken>, token: &Token) -> usize {
    match query {
        Some(query) if query.prefix && query.term.chars().all(is_cjk) => {
            (token.start + query.term.len()).min(token.end)
        }
        _ => token.end,
    }
}

/// The query's phrases (see `search_query::phrase`), their tokens folded like the index's.
fn phrases(query: &SearchQuery) -> Vec<Phrase> {
    search_query::phrases(&query.terms, query.prefix_last)
        .into_iter()
        .map(|tokens| Phrase {
            tokens: tokens
                .into_iter()
                .map(|token| QueryToken {
                    term: fold(&token.term),
                    prefix: token.prefix,
                })
                .collect(),
        })
        .collect()
}

fn snippet_of(content: &str, phrases: &[Phrase]) -> String {
    let tokens = tokens(content);
    snippet(
        content,
        &tokens,
        &instances(&tokens, phrases),
        phrases.len(),
    )
}

/// The snippet of `content` for `query`, cut the way FTS5's `snippet()` cuts it. SQLite uses
/// it for text that holds a NUL, where its own `snippet()` drops everything after each NUL.
pub fn snippet_for(content: &str, query: &SearchQuery) -> String {
    snippet_of(content, &phrases(query))
}

/// FTS5's idf: ln((N - n + 0.5) / (n + 0.5)), at least 1e-6 so that a very common term still
/// counts a little.
fn idf(total: u64, with_term: u64) -> f64 {
    let (total, with_term) = (total as f64, with_term as f64);
    let idf = ((total - with_term + 0.5) / (with_term + 0.5)).ln();
    if idf > 0.0 {
        idf
    } else {
        1e-6
    }
}

pub async fn search(
    collections: &Collections,
    user_id: &str,
    query: &SearchQuery,
) -> StoreResult<Page<SearchHit>> {
    if query.terms.is_empty() || query.offset >= SEARCH_CANDIDATES {
        return Ok(empty());
    }
    let phrases = phrases(query);
    if phrases
        .iter()
        .any(|phrase| phrase.tokens.iter().any(|token| token.term.is_empty()))
    {
        // A "word" made only of accents: nothing is indexed under it.
        return Ok(empty());
    }

    let mut filter = doc! { "user_id": user_id };
    filter.extend(terms_filter(
        phrases.iter().flat_map(|phrase| phrase.tokens.iter()),
    ));
    if let Some(message_type) = &query.message_type {
        filter.insert("type", message_type);
    }
    if let Some(role) = query.role {
        filter.insert("role", role.as_str());
    }
    if let Some(model) = &query.model {
        filter.insert("model", model);
    }
    let mut created = Document::new();
    if let Some(from) = query.from {
        created.insert("$gte", to_bson_time(from));
    }
    if let Some(to) = query.to {
        created.insert("$lt", to_bson_time(to));
    }
    if !created.is_empty() {
        filter.insert("created_at", created);
    }
    if query.starred {
        filter.insert("starred_at", doc! { "$exists": true });
    }

    let candidates = async {
        if let Some(tag) = &query.tag {
            // The live sessions carrying the tag, at most `TAG_SEARCH_SESSIONS` of them (the
            // most recently active): deleted ones are not among them, so no `$nin` is needed.
            let mut tagged = super::tags::tagged_sessions(
                collections,
                user_id,
                tag,
                crate::store::TAG_SEARCH_SESSIONS,
            )
            .await?;
            if let Some(session_id) = &query.session_id {
                tagged.retain(|id| id == session_id);
            }
            if let Some(archived) = query.archived {
                let archived_ids = archived_sessions(collections, user_id).await?;
                tagged.retain(|id| archived_ids.contains(id) == archived);
            }
            if tagged.is_empty() {
                return Ok(Vec::new());
            }
            filter.insert("session_id", doc! { "$in": tagged });
        } else if query.archived == Some(true) {
            // The live archived sessions: deleted ones are not among them.
            let mut archived = archived_sessions(collections, user_id).await?;
            if let Some(session_id) = &query.session_id {
                archived.retain(|id| id == session_id);
            }
            if archived.is_empty() {
                return Ok(Vec::new());
            }
            let mut archived: Vec<String> = archived.into_iter().collect();
            archived.sort_unstable();
            filter.insert("session_id", doc! { "$in": archived });
        } else {
            let mut deleted = deleted_sessions(collections, user_id).await?;
            if query.archived == Some(false) {
                // Left out as the deleted ones are.
                deleted.extend(archived_sessions(collections, user_id).await?);
                deleted.sort_unstable();
                deleted.dedup();
            }
            match &query.session_id {
                Some(session_id) if deleted.contains(session_id) => return Ok(Vec::new()),
                Some(session_id) => {
                    filter.insert("session_id", session_id);
                }
                None if deleted.is_empty() => {}
                None => {
                    filter.insert("session_id", doc! { "$nin": deleted });
                }
            }
        }
        collections
            .messages
            .clone_with_type::<Candidate>()
            .find(filter)
            .projection(doc! {
                "session_id": 1, "role": 1, "type": 1, "content": 1, "created_at": 1,
            })
            .sort(doc! { "_id": -1 })
            .limit(SEARCH_CANDIDATES as i64)
            .await
            .map_err(db_error)?
            .try_collect::<Vec<Candidate>>()
            .await
            .map_err(db_error)
    };
    let (candidates, statistics) =
        futures::try_join!(candidates, statistics(collections, user_id, &phrases))?;

    let ranked = rank(candidates, &phrases, &statistics);
    let mut page: Vec<Candidate> = ranked
        .into_iter()
        .skip(query.offset)
        .take(query.limit + 1)
        .collect();
    let next_cursor = crate::store::cursor::cut_page(&mut page, query.limit, |_| {
        encode_offset(query.offset + query.limit)
    });
    let titles = session_titles(collections, user_id, &page).await?;
    let items = page
        .into_iter()
        .filter_map(|candidate| {
            // A message whose session is gone is the leftover of an interrupted purge, or its
            // session was deleted since the candidates were read.
            let (title, archived) = titles.get(&candidate.session_id)?.clone();
            Some(SearchHit {
                archived,
                snippet: snippet_of(&candidate.content, &phrases),
                message_id: candidate.id,
                session_id: candidate.session_id,
                session_title: title,
                role: Role::parse(&candidate.role).unwrap_or(Role::User),
                message_type: candidate.message_type,
                created_at: created_at(candidate.created_at),
            })
        })
        .collect();
    Ok(Page { items, next_cursor })
}

fn created_at(time: bson::DateTime) -> DateTime<Utc> {
    from_bson_time(time)
}

/// What bm25 needs to know about the whole collection, as FTS5 knows it about its table: the
/// number of messages, the average length of one, and in how many messages each phrase occurs.
/// Kept to the user's own messages (their sessions hold the counts).
struct Statistics {
    average_length: Option<f64>,
    weights: Vec<f64>,
}

async fn statistics(
    collections: &Collections,
    user_id: &str,
    phrases: &[Phrase],
) -> StoreResult<Statistics> {
    let (messages, words) = super::totals::read(collections, user_id).await?;
    // bm25 weighs a phrase in half the messages or more as almost nothing (`idf`), so no count
    // needs to go past that: a common word costs what half the user's messages cost at most.
    let enough = messages / 2 + 1;
    let with_each = try_join_all(phrases.iter().map(|phrase| {
        let mut filter = phrase.filter();
        filter.insert("user_id", user_id);
        async move {
            collections
                .messages
                .count_documents(filter)
                .limit(enough)
                .await
                .map_err(db_error)
        }
    }))
    .await?;
    // The totals are kept without transactions and may be off by a little; never below
    // what the counts just saw.
    let total = with_each.iter().copied().fold(messages, u64::max);
    Ok(Statistics {
        average_length: (messages > 0 && words > 0).then(|| words as f64 / messages as f64),
        weights: with_each
            .into_iter()
            .map(|with_term| idf(total, with_term))
            .collect(),
    })
}

/// Candidates (newest first) by bm25, best first; a candidate that does not hold every
/// phrase after all (its CJK bigrams are not one after the other, or its stored terms are
/// stale) is dropped. The arithmetic is FTS5's
/// `fts5Bm25Function`, operation for operation, so that equal inputs give equal scores.
fn rank(candidates: Vec<Candidate>, phrases: &[Phrase], statistics: &Statistics) -> Vec<Candidate> {
    let measured: Vec<(Vec<f64>, f64)> = candidates
        .iter()
        .map(|candidate| {
            let tokens = tokens(&candidate.content);
            let frequencies = phrases
                .iter()
                .map(|phrase| {
                    (0..tokens.len())
                        .filter(|position| phrase.matches_at(&tokens, *position))
                        .count() as f64
                })
                .collect();
            (frequencies, tokens.len() as f64)
        })
        .collect();
    let average = statistics.average_length.unwrap_or_else(|| {
        let total: f64 = measured.iter().map(|(_, length)| length).sum();
        total / measured.len().max(1) as f64
    });
    let mut scored: Vec<(f64, Candidate)> = candidates
        .into_iter()
        .zip(measured)
        .filter(|(_, (frequencies, _))| frequencies.iter().all(|count| *count > 0.0))
        .map(|(candidate, (frequencies, length))| {
            let mut score = 0.0;
            for (frequency, idf) in frequencies.iter().zip(&statistics.weights) {
                score += idf
                    * ((frequency * (K1 + 1.0))
                        / (frequency + K1 * (1.0 - B + B * length / average)));
            }
            (score, candidate)
        })
        .collect();
    // Stable: equal scores keep the newest first.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().map(|(_, candidate)| candidate).collect()
}

/// The ids of the user's live archived sessions (all of them: the `archived` filter is exact,
/// unlike `tag`'s bound).
async fn archived_sessions(
    collections: &Collections,
    user_id: &str,
) -> StoreResult<std::collections::HashSet<String>> {
    let filter = doc! { "user_id": user_id, "deleted_at": Bson::Null, "archived": true };
    super::chat::session_ids(collections, filter).await
}

/// The ids of the user's deleted sessions (few: they are purged after the retention time).
async fn deleted_sessions(collections: &Collections, user_id: &str) -> StoreResult<Vec<String>> {
    let filter = doc! { "user_id": user_id, "deleted_at": { "$ne": Bson::Null } };
    Ok(super::chat::session_ids(collections, filter)
        .await?
        .into_iter()
        .collect())
}

/// The title of each session of `page`, and whether it is archived.
async fn session_titles(
    collections: &Collections,
    user_id: &str,
    page: &[Candidate],
) -> StoreResult<HashMap<String, (String, bool)>> {
    if page.is_empty() {
        return Ok(HashMap::new());
    }
    let mut ids: Vec<&str> = page.iter().map(|c| c.session_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let titles: Vec<Title> = collections
        .chat_sessions
        .clone_with_type::<Title>()
        .find(doc! { "_id": { "$in": ids }, "user_id": user_id, "deleted_at": Bson::Null })
        .projection(doc! { "title": 1, "archived": 1 })
        .await
        .map_err(db_error)?
        .try_collect()
        .await
        .map_err(db_error)?;
    Ok(titles
        .into_iter()
        .map(|t| (t.id, (t.title, t.archived)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_capped_at_half_the_messages_weigh_the_same() {
        // `statistics` stops counting a phrase at `messages / 2 + 1`.
        for total in 0..300_u64 {
            let enough = total / 2 + 1;
            for with_term in enough..=total.max(enough) + 3 {
                assert_eq!(
                    idf(total.max(enough), enough),
                    idf(total.max(with_term), with_term),
                    "{with_term} of {total}"
                );
            }
        }
    }

    #[test]
    fn idf_matches_fts5() {
        assert!((idf(10, 1) - (9.5f64 / 1.5).ln()).abs() < 1e-12);
        assert_eq!(
            idf(10, 9),
            1e-6,
            "a term in most messages weighs almost nothing"
        );
    }

    fn query(q: &str) -> Vec<Phrase> {
        let (terms, prefix_last) = search_query::terms(q);
        phrases(&SearchQuery {
            terms,
            prefix_last,
            ..Default::default()
        })
    }

    #[test]
    fn phrases_match_whole_words_or_prefixes() {
        let tokens = tokens("zucchini");
        let [exact] = &query("zucch ")[..] else {
            panic!("one phrase")
        };
        let [prefix] = &query("Zucch")[..] else {
            panic!("one phrase")
        };
        assert!(!exact.matches_at(&tokens, 0));
        assert!(prefix.matches_at(&tokens, 0));
        assert_eq!(exact.filter(), doc! { "terms": "zucch" });
        assert_eq!(prefix.filter(), doc! { "terms": { "$regex": "^zucch" } });
    }

    #[test]
    fn cjk_phrases_need_their_bigrams_in_order() {
        let together = tokens("今日は東京都庁へ");
        let apart = tokens("東京から京都へ");
        let [word] = &query("東京都")[..] else {
            panic!("one phrase")
        };
        assert!(word.matches_at(&together, 3));
        assert!((0..apart.len()).all(|position| !word.matches_at(&apart, position)));
        // Both bigrams are exact terms at the top level: an index lookup, no regex.
        assert_eq!(
            word.filter(),
            doc! { "terms": { "$all": ["東京", "京都"] } }
        );
        let [one] = &query("京")[..] else {
            panic!("one phrase")
        };
        assert_eq!(one.filter(), doc! { "terms": { "$regex": "^京" } });
        let all = query("rust 東京 ca");
        assert_eq!(
            terms_filter(all.iter().flat_map(|phrase| phrase.tokens.iter())),
            doc! {
                "terms": { "$all": ["rust", "東京"] },
                "$and": [{ "terms": { "$regex": "^ca" } }],
            }
        );
    }
}
