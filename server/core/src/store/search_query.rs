//! Turns whatever a user types into plain search terms. No query syntax is passed through to
//! a backend, so quotes, `*`, `NEAR`, `AND` or unbalanced parentheses can never cause an error:
//! they are either punctuation (dropped) or ordinary words. Each term is then found as a
//! phrase of index tokens (`phrase`): one word, or the bigrams of CJK text (see `cjk`).
// Byte offsets into text a user or a file controls may fall inside a character.
#![deny(clippy::string_slice)]

use super::cjk;

/// At most this many terms are searched; more would only slow the query down.
pub const MAX_TERMS: usize = 16;
/// Terms longer than this are cut (no real word is this long).
pub const MAX_TERM_CHARS: usize = 64;

/// Splits `text` into lower-cased alphanumeric terms. Returns the terms and whether the text
/// ends inside a word (so the last term may be matched as a prefix while the user types).
pub fn terms(text: &str) -> (Vec<String>, bool) {
    let mut terms: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        let term: String = word
            .chars()
            .take(MAX_TERM_CHARS)
            .flat_map(char::to_lowercase)
            .collect();
        if !terms.contains(&term) {
            terms.push(term);
        }
        if terms.len() == MAX_TERMS {
            break;
        }
    }
    let ends_in_word = text.chars().last().is_some_and(char::is_alphanumeric);
    (terms, ends_in_word)
}

/// One token of a query phrase: matched whole, or as the start of an indexed token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryToken {
    pub term: String,
    pub prefix: bool,
}

/// The index tokens that must follow one another, in order, where `term` occurs; `prefix`
/// when the term is still being typed (its last token may then be the start of a word).
///
/// A term without CJK characters is one token, as it always was. A CJK run is its bigrams:
/// where the term ends inside it, only the bigrams (the text may go on: "東京" is found in
/// "東京都"), and one character alone is a prefix (any token starting with it, so any text
/// holding it); where other letters follow it inside the term ("東京tower"), the run's last
/// character too, as the text must end the run there as well.
pub fn phrase(term: &str, prefix: bool) -> Vec<QueryToken> {
    let segments = cjk::segments(term);
    let last = segments.len().saturating_sub(1);
    let mut tokens = Vec::new();
    for (index, (range, is_cjk)) in segments.into_iter().enumerate() {
        let part = term.get(range).unwrap_or_default();
        if !is_cjk {
            tokens.push(QueryToken {
                term: part.to_owned(),
                prefix: prefix && index == last,
            });
            continue;
        }
        let mut run: Vec<&str> = cjk::run_tokens(part)
            .map(|token| part.get(token).unwrap_or_default())
            .collect();
        let alone = run.len() == 1;
        if index == last && !alone {
            run.pop();
        }
        tokens.extend(run.into_iter().map(|token| QueryToken {
            term: token.to_owned(),
            prefix: alone && index == last,
        }));
    }
    tokens
}

/// The phrase of each term (see `phrase`); the last one is a prefix when `prefix_last`.
pub fn phrases(terms: &[String], prefix_last: bool) -> Vec<Vec<QueryToken>> {
    let last = terms.len().saturating_sub(1);
    terms
        .iter()
        .enumerate()
        .map(|(index, term)| phrase(term, prefix_last && index == last))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(tokens: Vec<QueryToken>) -> Vec<String> {
        tokens
            .into_iter()
            .map(|token| {
                if token.prefix {
                    format!("{}*", token.term)
                } else {
                    token.term
                }
            })
            .collect()
    }

    #[test]
    fn latin_terms_are_one_token() {
        assert_eq!(shown(phrase("borrow", false)), ["borrow"]);
        assert_eq!(shown(phrase("borr", true)), ["borr*"]);
        assert_eq!(
            phrases(&["near".into(), "rust".into()], true),
            [
                vec![QueryToken {
                    term: "near".into(),
                    prefix: false
                }],
                vec![QueryToken {
                    term: "rust".into(),
                    prefix: true
                }]
            ]
        );
    }

    #[test]
    fn cjk_terms_are_bigram_phrases() {
        // Typed or finished, a CJK word is the same bigrams.
        for prefix in [false, true] {
            assert_eq!(shown(phrase("東京", prefix)), ["東京"]);
            assert_eq!(shown(phrase("東京都", prefix)), ["東京", "京都"]);
            assert_eq!(shown(phrase("서울에서", prefix)), ["서울", "울에", "에서"]);
            // One character: any token that starts with it.
            assert_eq!(shown(phrase("京", prefix)), ["京*"]);
        }
        // Letters after a run: the run ends there.
        assert_eq!(shown(phrase("東京tower", true)), ["東京", "京", "tower*"]);
        assert_eq!(shown(phrase("東tower", false)), ["東", "tower"]);
        assert_eq!(shown(phrase("tower東", false)), ["tower", "東*"]);
        assert_eq!(
            shown(phrase("2024年3月", false)),
            ["2024", "年", "3", "月*"]
        );
    }

    #[test]
    fn hostile_text_becomes_plain_words() {
        let (terms, _) = terms(r#"  "rust* NEAR(borrow  checker)) AND -x "#);
        assert_eq!(terms, ["rust", "near", "borrow", "checker", "and", "x"]);
    }

    #[test]
    fn punctuation_only_gives_nothing() {
        assert!(terms(r#"*"()"#).0.is_empty());
    }

    #[test]
    fn trailing_word_is_a_prefix() {
        assert!(terms("hello wor").1);
        assert!(!terms("hello world ").1);
    }

    #[test]
    fn terms_are_capped() {
        let long = "w ".repeat(100) + &"a".repeat(500);
        let (terms, _) = terms(&long);
        assert!(terms.len() <= MAX_TERMS);
        let many: String = (0..40).map(|i| format!("word{i} ")).collect();
        assert_eq!(self::terms(&many).0.len(), MAX_TERMS);
    }
}
