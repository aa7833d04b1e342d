//! Snippets the way SQLite's FTS5 `snippet()` builds them, so that both backends show the same
//! text for the same hit: the window of `SNIPPET_TOKENS` words with the most distinct query
//! terms (a window starting a sentence gets a bonus), `…` where text was cut, every hit wrapped
//! in `<mark>`, everything else escaped for HTML.
//!
//! The scoring mirrors `fts5SnippetFunction` and `fts5SnippetScore` in SQLite's fts5_aux.c: a
//! phrase instance scores 1000 the first time its phrase is seen in a window and 1 after that;
//! the window is then centred on its hits; ties keep the earlier window.
// Byte offsets into text a user or a file controls may fall inside a character.
#![deny(clippy::string_slice)]

use super::terms::Token;
use crate::store::snippet::{escape_into, SNIPPET_TOKENS};

const ELLIPSIS: &str = "…";

/// One hit: the position (token index) of a word matching query phrase `phrase`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instance {
    pub position: usize,
    pub phrase: usize,
}

/// Positions of the tokens that start a sentence: the first one, and any preceded by
/// whitespace that follows a '.' or ':'.
fn sentence_starts(text: &str, tokens: &[Token]) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut starts = Vec::new();
    for (position, token) in tokens.iter().enumerate() {
        if position == 0 {
            starts.push(0);
            continue;
        }
        let mut at = token.start;
        let mut skipped = false;
        while at > 0 && matches!(bytes[at - 1], b' ' | b'\t' | b'\n' | b'\r') {
            at -= 1;
            skipped = true;
        }
        if skipped && at > 0 && matches!(bytes[at - 1], b'.' | b':') {
            starts.push(position);
        }
    }
    starts
}

/// Score of the window of `SNIPPET_TOKENS` tokens starting at `start`, and where the window
/// goes once centred on the hits it holds.
fn score_window(
    instances: &[Instance],
    phrases: usize,
    doc_size: usize,
    start: usize,
) -> (u64, usize) {
    let end = start + SNIPPET_TOKENS;
    let mut seen = vec![false; phrases];
    let mut score = 0;
    let mut first: Option<usize> = None;
    let mut last = 0;
    for instance in instances {
        if instance.position >= start && instance.position < end {
            score += if seen[instance.phrase] { 1 } else { 1000 };
            seen[instance.phrase] = true;
            first.get_or_insert(instance.position);
            last = instance.position + 1;
        }
    }
    let first = first.unwrap_or(start) as i64;
    let window = SNIPPET_TOKENS as i64;
    let mut adjusted = first - (window - (last as i64 - first)) / 2;
    if adjusted + window > doc_size as i64 {
        adjusted = doc_size as i64 - window;
    }
    (score, adjusted.max(0) as usize)
}

fn best_start(text: &str, tokens: &[Token], instances: &[Instance], phrases: usize) -> usize {
    let doc_size = tokens.len();
    let starts = sentence_starts(text, tokens);
    let mut best_score = 0;
    let mut best = 0;
    for instance in instances {
        let (score, adjusted) = score_window(instances, phrases, doc_size, instance.position);
        if score > best_score {
            best_score = score;
            best = adjusted;
        }
        if !starts.is_empty() && doc_size > SNIPPET_TOKENS {
            // The last sentence start at or before the hit.
            let sentence = starts
                .iter()
                .copied()
                .take_while(|start| *start <= instance.position)
                .last()
                .unwrap_or(0);
            if sentence < instance.position {
                let (score, _) = score_window(instances, phrases, doc_size, sentence);
                let bonus = if sentence == 0 { 120 } else { 100 };
                if score + bonus > best_score {
                    best_score = score + bonus;
                    best = sentence;
                }
            }
        }
    }
    best
}

/// The HTML snippet of `text` (tokenised as `tokens`) for the hits in `instances`, which must
/// be sorted; `phrases` is the number of query phrases.
pub fn snippet(text: &str, tokens: &[Token], instances: &[Instance], phrases: usize) -> String {
    let mut html = String::new();
    let start = best_start(text, tokens, instances, phrases);
    let end = start + SNIPPET_TOKENS - 1;
    let mut copied = 0;
    if start > 0 {
        html.push_str(ELLIPSIS);
        copied = tokens.get(start).map_or(text.len(), |token| token.start);
    }
    let mut hits = instances
        .iter()
        .map(|instance| instance.position)
        .peekable();
    for (position, token) in tokens.iter().enumerate().take(end + 1).skip(start) {
        while hits.next_if(|hit| *hit < position).is_some() {}
        if hits.next_if_eq(&position).is_some() {
            while hits.next_if_eq(&position).is_some() {}
            escape_into(&mut html, text.get(copied..token.start).unwrap_or_default());
            html.push_str("<mark>");
            escape_into(
                &mut html,
                text.get(token.start..token.end).unwrap_or_default(),
            );
            html.push_str("</mark>");
            copied = token.end;
        }
    }
    if end + 1 >= tokens.len() {
        escape_into(&mut html, text.get(copied..).unwrap_or_default());
    } else {
        escape_into(
            &mut html,
            text.get(copied..tokens[end].end).unwrap_or_default(),
        );
        html.push_str(ELLIPSIS);
    }
    html
}

#[cfg(test)]
mod tests {
    use super::super::terms::tokens;
    use super::*;

    fn instances(tokens: &[Token], terms: &[&str]) -> Vec<Instance> {
        let mut found = Vec::new();
        for (position, token) in tokens.iter().enumerate() {
            for (phrase, term) in terms.iter().enumerate() {
                if token.term == *term {
                    found.push(Instance { position, phrase });
                }
            }
        }
        found
    }

    fn snip(text: &str, terms: &[&str]) -> String {
        let tokens = tokens(text);
        snippet(text, &tokens, &instances(&tokens, terms), terms.len())
    }

    #[test]
    fn short_texts_are_whole_and_escaped() {
        assert_eq!(
            snip("A recipe for <b>zucchini</b> bread & butter", &["zucchini"]),
            "A recipe for &lt;b&gt;<mark>zucchini</mark>&lt;/b&gt; bread &amp; butter"
        );
    }

    #[test]
    fn long_texts_are_cut_around_the_hit() {
        let words: Vec<String> = (0..60).map(|n| format!("w{n}")).collect();
        let mut text = words.join(" ");
        text = text.replace("w30", "needle");
        let snippet = snip(&text, &["needle"]);
        assert!(
            snippet.starts_with('…') && snippet.ends_with('…'),
            "{snippet}"
        );
        assert!(snippet.contains("<mark>needle</mark>"), "{snippet}");
        // 24 words: centred on the hit.
        assert_eq!(
            snippet.trim_matches('…').split(' ').count(),
            24,
            "{snippet}"
        );
        assert!(snippet.starts_with("…w19 "), "{snippet}");
    }

    #[test]
    fn a_hit_near_the_end_keeps_the_tail() {
        let words: Vec<String> = (0..40).map(|n| format!("w{n}")).collect();
        let text = format!("{} needle.", words.join(" "));
        let snippet = snip(&text, &["needle"]);
        assert!(snippet.ends_with("<mark>needle</mark>."), "{snippet}");
        assert!(snippet.starts_with("…w17 "), "{snippet}");
    }
}
