//! Words of a message as search sees them, the same way on both sides: a message stores its
//! distinct terms (an indexed array, so an exact term is an index lookup and a prefix an
//! anchored regex on it), and ranking and snippets re-tokenise the content of the candidates.
//!
//! Words are split like `search_query` splits what the user types (runs of alphanumeric
//! characters, lower-cased, cut to `MAX_TERM_CHARS`), then folded like SQLite's FTS5
//! `unicode61 remove_diacritics 2` tokenizer, so that "resume" finds "Résumé" on both backends:
//! a letter whose canonical decomposition is an ASCII letter plus accents becomes that ASCII
//! letter (FTS5 folds no other script), and the combining accents FTS5 knows are part of a
//! word but dropped from its term. CJK runs inside a word are split into overlapping bigrams
//! (see `cjk`), the same tokens SQLite indexes.
// Byte offsets into text a user or a file controls may fall inside a character.
#![deny(clippy::string_slice)]

use std::collections::HashSet;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::store::cjk;
use crate::store::search_query::MAX_TERM_CHARS;

/// One word of a text: its byte range and its folded term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub start: usize,
    pub end: usize,
    pub term: String,
}

/// The combining accents that FTS5's unicode61 tokenizer treats as diacritics
/// (`sqlite3Fts5UnicodeIsdiacritic`): part of a word, removed from its term.
fn is_diacritic(character: char) -> bool {
    let code = character as u32;
    match code {
        768..=799 => 0x0802_9FDF_u32 & (1 << (code - 768)) != 0,
        800..=817 => 0x0003_61F8_u32 & (1 << (code - 800)) != 0,
        _ => false,
    }
}

fn is_word_character(character: char) -> bool {
    character.is_alphanumeric() || is_diacritic(character)
}

fn push_folded(term: &mut String, character: char) {
    if is_diacritic(character) {
        return;
    }
    if !character.is_ascii() {
        let mut parts = std::iter::once(character).nfd();
        if let Some(base) = parts.next() {
            if base.is_ascii_alphabetic() && parts.all(is_combining_mark) {
                term.push(base);
                return;
            }
        }
    }
    term.push(character);
}

/// Lower-cases and removes accents from Latin letters ("É" becomes "e").
pub fn fold(word: &str) -> String {
    let mut term = String::with_capacity(word.len());
    for character in word
        .chars()
        .take(MAX_TERM_CHARS)
        .flat_map(char::to_lowercase)
    {
        push_folded(&mut term, character);
    }
    term
}

/// The tokens of the word at `start..end` of `text`: the word, or, where it holds CJK
/// characters, the bigrams of each CJK run and the words between them (see `cjk`).
fn push_word(tokens: &mut Vec<Token>, text: &str, start: usize, end: usize) {
    let word = text.get(start..end).unwrap_or_default();
    let mut push = |start: usize, end: usize| {
        let term = fold(text.get(start..end).unwrap_or_default());
        if !term.is_empty() {
            tokens.push(Token { start, end, term });
        }
    };
    if !word.chars().any(cjk::is_cjk) {
        push(start, end);
        return;
    }
    for (range, is_cjk) in cjk::segments(word) {
        let (from, to) = (start + range.start, start + range.end);
        if is_cjk {
            let run = text.get(from..to).unwrap_or_default();
            for token in cjk::run_tokens(run) {
                push(from + token.start, from + token.end);
            }
        } else {
            push(from, to);
        }
    }
}

/// The words of `text` in order (CJK text as overlapping bigrams, see `cjk`).
pub fn tokens(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut start: Option<usize> = None;
    for (at, character) in text.char_indices() {
        match (is_word_character(character), start) {
            (true, None) => start = Some(at),
            (false, Some(begun)) => {
                push_word(&mut tokens, text, begun, at);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(begun) = start {
        push_word(&mut tokens, text, begun, text.len());
    }
    tokens
}

/// The distinct terms of `tokens`, in order of first appearance.
pub fn distinct_terms(tokens: Vec<Token>) -> Vec<String> {
    let mut seen = HashSet::new();
    tokens
        .into_iter()
        .filter_map(|token| seen.insert(token.term.clone()).then_some(token.term))
        .collect()
}

/// The distinct terms of `text`, in order of first appearance.
#[cfg(test)]
pub fn index_terms(text: &str) -> Vec<String> {
    distinct_terms(tokens(text))
}

/// Escapes `text` for a `$regex`: every ASCII punctuation character is escaped, which both
/// PCRE (MongoDB) and RE2 (FerretDB) read as the literal character, and NUL, which cannot
/// appear in a BSON regular expression, is written as `\x00`.
pub fn regex_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 8);
    for character in text.chars() {
        if character == '\0' {
            escaped.push_str("\\x00");
        } else {
            if character.is_ascii_punctuation() {
                escaped.push('\\');
            }
            escaped.push(character);
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms_of(text: &str) -> Vec<String> {
        tokens(text).into_iter().map(|token| token.term).collect()
    }

    #[test]
    fn words_split_like_queries() {
        let text = "Hello, <b>World</b>! it's 2024";
        assert_eq!(
            terms_of(text),
            ["hello", "b", "world", "b", "it", "s", "2024"]
        );
        let first = &tokens(text)[0];
        assert_eq!(text.get(first.start..first.end), Some("Hello"));
        assert_eq!(
            crate::store::search_query::terms(text).0,
            index_terms(text),
            "the same terms a query would have"
        );
    }

    #[test]
    fn latin_diacritics_fold_away() {
        assert_eq!(terms_of("Résumé CAFÉ ǖber"), ["resume", "cafe", "uber"]);
        // Decomposed: e followed by a combining acute accent.
        assert_eq!(terms_of("cafe\u{301} ok"), ["cafe", "ok"]);
        // Like FTS5: other scripts keep their accents, letters without a decomposition stay.
        assert_eq!(terms_of("Άλφα straße øre"), ["άλφα", "straße", "øre"]);
    }

    #[test]
    fn cjk_runs_are_bigrams_with_their_byte_ranges() {
        let text = "私は東京tower、서울!";
        let found: Vec<(String, &str)> = tokens(text)
            .into_iter()
            .map(|token| (token.term, text.get(token.start..token.end).unwrap_or("?")))
            .collect();
        let expected = ["私は", "は東", "東京", "京", "tower", "서울", "울"];
        assert_eq!(
            found,
            expected
                .iter()
                .map(|term| (term.to_string(), *term))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            index_terms("東京と京都と東京"),
            ["東京", "京と", "と京", "京都", "都と", "と東", "京"]
        );
    }

    #[test]
    fn long_words_are_cut_like_query_terms() {
        let word = "a".repeat(100);
        assert_eq!(terms_of(&word), ["a".repeat(MAX_TERM_CHARS)]);
    }

    #[test]
    fn index_terms_are_distinct() {
        assert_eq!(
            index_terms("borrow Borrow BORROW checker"),
            ["borrow", "checker"]
        );
    }

    #[test]
    fn regex_escape_neutralises_syntax() {
        assert_eq!(regex_escape("a.b*(c)"), "a\\.b\\*\\(c\\)");
        assert_eq!(regex_escape("x\0y"), "x\\x00y");
        assert_eq!(regex_escape("ünï"), "ünï");
    }
}
