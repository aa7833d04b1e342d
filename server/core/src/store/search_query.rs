//! Turns whatever a user types into plain search terms. No query syntax is passed through to
//! a backend, so quotes, `*`, `NEAR`, `AND` or unbalanced parentheses can never cause an error:
//! they are either punctuation (dropped) or ordinary words.

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

#[cfg(test)]
mod tests {
    use super::*;

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
