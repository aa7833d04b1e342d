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

use std::ops::Range;

use super::terms::Token;
use crate::store::snippet::{escape_into, SNIPPET_TOKENS};

const ELLIPSIS: &str = "…";

/// One hit: query phrase `phrase` found at `position` (the token index of its first token),
/// `length` tokens long, its text ending at byte `end` (the end of its last token, or less
/// where only part of that token was asked for: one CJK character of a bigram).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instance {
    pub position: usize,
    pub phrase: usize,
    pub length: usize,
    pub end: usize,
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
            last = instance.position + instance.length;
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

/// The byte ranges to mark between tokens `start` and `end` (inclusive): each hit from its
/// first token to its last (cut at the window), hits that overlap or touch merged into one.
/// Words of most scripts never touch (something that is not a word lies between them), so
/// there each hit is marked on its own; CJK bigrams overlap, so a phrase of them ("東京" +
/// "京都") is marked once, as the characters it covers ("東京都").
fn marks(tokens: &[Token], instances: &[Instance], start: usize, end: usize) -> Vec<Range<usize>> {
    let mut marks: Vec<Range<usize>> = Vec::new();
    for instance in instances {
        let last = instance.position + instance.length.max(1) - 1;
        let Some(first) = tokens.get(instance.position.max(start)) else {
            continue;
        };
        // A hit that goes on past the window is marked up to the window's end.
        let stop = match tokens.get(end) {
            Some(token) if last > end => token.end,
            _ => instance.end,
        };
        if instance.position > end || first.start >= stop {
            continue;
        }
        match marks.last_mut() {
            Some(mark) if first.start <= mark.end => mark.end = mark.end.max(stop),
            _ => marks.push(first.start..stop),
        }
    }
    marks
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
    for mark in marks(tokens, instances, start, end) {
        escape_into(&mut html, text.get(copied..mark.start).unwrap_or_default());
        html.push_str("<mark>");
        escape_into(&mut html, text.get(mark.clone()).unwrap_or_default());
        html.push_str("</mark>");
        copied = mark.end;
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
                    found.push(Instance {
                        position,
                        phrase,
                        length: 1,
                        end: token.end,
                    });
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
    fn overlapping_and_touching_hits_are_marked_once() {
        // "東京都" = 東京 + 京都 (positions 0 and 1), twice in a row; 京 alone at position 6.
        let text = "東京都東京都。京";
        let tokens = tokens(text);
        let phrase = |position: usize, phrase: usize, length: usize, end: usize| Instance {
            position,
            phrase,
            length,
            end,
        };
        let hits = [phrase(0, 0, 2, 9), phrase(3, 0, 2, 18), phrase(6, 1, 1, 24)];
        assert_eq!(
            snippet(text, &tokens, &hits, 2),
            "<mark>東京都東京都</mark>。<mark>京</mark>"
        );
        // Part of a token: the first character of the bigram 京都.
        assert_eq!(
            snippet(text, &tokens, &[phrase(1, 0, 1, 6)], 1),
            "東<mark>京</mark>都東京都。京"
        );
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
