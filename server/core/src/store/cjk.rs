//! Chinese, Japanese and Korean text as search sees it, the same on both backends.
//!
//! These scripts do not separate words with spaces ("東京都に住んでいます" is one run of
//! letters), so a run of their characters cannot be indexed as one word: a word inside it
//! would never be found. Instead, as search engines do, each character of a run is indexed as
//! the bigram it starts (the character and the next one), and the last character of the run
//! alone: "東京都" gives "東京", "京都", "都". A word typed in a query is then found as its
//! bigrams one after the other (a phrase: "東京都" is "東京" followed by "京都", which text
//! holding "東京" and "京都" apart does not match), and a single character as a prefix of
//! those tokens (any token starting with it, so any text holding it).
//!
//! Which characters count is decided by Unicode script (Han, Hiragana, Katakana, Hangul, plus
//! the marks written inside their words, like the prolonged sound mark "ー" and the iteration
//! mark "々"), from the blocks that hold them; of those, only letters and numbers (what the
//! tokenizers treat as parts of words), so radicals, circled forms and punctuation such as
//! "。" and "・" still separate words.
// Byte offsets into text a user or a file controls may fall inside a character.
#![deny(clippy::string_slice)]

use std::borrow::Cow;
use std::ops::Range;

/// The code point ranges of the CJK scripts (blocks; `is_cjk` keeps their letters and numbers).
pub const CJK_RANGES: &[(char, char)] = &[
    ('\u{1100}', '\u{11FF}'),   // Hangul Jamo
    ('\u{3005}', '\u{3007}'),   // 々 〆 〇
    ('\u{3021}', '\u{3029}'),   // Hangzhou numerals
    ('\u{3031}', '\u{3035}'),   // vertical kana repeat marks
    ('\u{3038}', '\u{303C}'),   // Han numerals and iteration marks
    ('\u{3041}', '\u{309F}'),   // Hiragana
    ('\u{30A0}', '\u{30FF}'),   // Katakana, with ー
    ('\u{3130}', '\u{318F}'),   // Hangul Compatibility Jamo
    ('\u{31F0}', '\u{31FF}'),   // Katakana Phonetic Extensions
    ('\u{3400}', '\u{4DBF}'),   // CJK Unified Ideographs Extension A
    ('\u{4E00}', '\u{9FFF}'),   // CJK Unified Ideographs
    ('\u{A960}', '\u{A97F}'),   // Hangul Jamo Extended-A
    ('\u{AC00}', '\u{D7FF}'),   // Hangul Syllables, Hangul Jamo Extended-B
    ('\u{F900}', '\u{FAFF}'),   // CJK Compatibility Ideographs
    ('\u{FF66}', '\u{FF9F}'),   // Halfwidth Katakana, with ｰ and the sound marks
    ('\u{FFA0}', '\u{FFDC}'),   // Halfwidth Hangul
    ('\u{1AFF0}', '\u{1B16F}'), // Kana Extended, Kana Supplement, Small Kana Extension
    ('\u{20000}', '\u{323AF}'), // CJK Unified Ideographs Extensions B to H, compatibility
];

/// Whether `character` is a letter or number of a CJK script (see the module documentation).
pub fn is_cjk(character: char) -> bool {
    // Every Latin, Greek, Cyrillic, Hebrew, Arabic... letter is below the first range: one
    // comparison for most text.
    if character < '\u{1100}' {
        return false;
    }
    CJK_RANGES
        .iter()
        .any(|(first, last)| (*first..=*last).contains(&character))
        && character.is_alphanumeric()
}

/// The tokens of a run of CJK characters, as byte ranges of `run`: for each character, the
/// bigram it starts, and the last character alone.
pub fn run_tokens(run: &str) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut starts = run.char_indices().map(|(at, _)| at).peekable();
    let mut ends = run
        .char_indices()
        .map(|(at, character)| at + character.len_utf8())
        .skip(1);
    std::iter::from_fn(move || {
        let start = starts.next()?;
        // The end of the next character, or of this one when it is the last.
        let end = ends.next().unwrap_or(run.len());
        Some(start..end)
    })
}

/// Splits a word (a run of word characters) into its CJK runs and the parts between them, in
/// order, as byte ranges of `word` each with whether it is a CJK run.
pub fn segments(word: &str) -> Vec<(Range<usize>, bool)> {
    let mut segments: Vec<(Range<usize>, bool)> = Vec::new();
    for (at, character) in word.char_indices() {
        let cjk = is_cjk(character);
        let end = at + character.len_utf8();
        match segments.last_mut() {
            Some((range, kind)) if *kind == cjk => range.end = end,
            _ => segments.push((at..end, cjk)),
        }
    }
    segments
}

/// The text SQLite's full-text index is given for `content`: the content itself, with each run
/// of CJK characters replaced by its tokens separated by spaces (and set apart from the text
/// around it), so that FTS5's `unicode61` tokenizer sees the same words the MongoDB store
/// indexes. Text without CJK characters is returned as it is, so it is indexed exactly as
/// before CJK text was split.
pub fn index_text(content: &str) -> Cow<'_, str> {
    if !content.chars().any(is_cjk) {
        return Cow::Borrowed(content);
    }
    let mut text = String::with_capacity(content.len() * 3);
    let mut run_start: Option<usize> = None;
    let push_run = |text: &mut String, run: &str| {
        text.push(' ');
        for (index, token) in run_tokens(run).enumerate() {
            if index > 0 {
                text.push(' ');
            }
            text.push_str(run.get(token).unwrap_or_default());
        }
        text.push(' ');
    };
    for (at, character) in content.char_indices() {
        match (is_cjk(character), run_start) {
            (true, None) => run_start = Some(at),
            (true, Some(_)) => {}
            (false, started) => {
                if let Some(start) = started {
                    push_run(&mut text, content.get(start..at).unwrap_or_default());
                    run_start = None;
                }
                text.push(character);
            }
        }
    }
    if let Some(start) = run_start {
        push_run(&mut text, content.get(start..).unwrap_or_default());
    }
    Cow::Owned(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_terms(run: &str) -> Vec<&str> {
        run_tokens(run)
            .map(|range| run.get(range).unwrap_or("?"))
            .collect()
    }

    #[test]
    fn scripts_are_told_apart() {
        for cjk in [
            '東', '京', 'の', 'カ', 'ー', 'ｶ', 'ｰ', '서', 'ᄀ', '々', '〇', '𠀋',
        ] {
            assert!(is_cjk(cjk), "{cjk}");
        }
        for other in [
            'a', 'é', 'ß', 'ж', 'ש', 'ب', '1', ' ', '。', '、', '・', '「', '！', 'Ａ', '⺀',
            '\u{3099}',
        ] {
            assert!(!is_cjk(other), "{other}");
        }
    }

    #[test]
    fn runs_become_bigrams_and_their_last_character() {
        assert_eq!(
            run_terms("東京都に行く"),
            ["東京", "京都", "都に", "に行", "行く", "く"]
        );
        assert_eq!(run_terms("京"), ["京"]);
        assert_eq!(run_terms("서울"), ["서울", "울"]);
        assert_eq!(run_terms("𠀋𠀋"), ["𠀋𠀋", "𠀋"]);
        assert!(run_terms("").is_empty());
    }

    #[test]
    fn words_split_where_the_script_changes() {
        let word = "東京tower2024年";
        let parts: Vec<(&str, bool)> = segments(word)
            .into_iter()
            .map(|(range, cjk)| (word.get(range).unwrap_or("?"), cjk))
            .collect();
        assert_eq!(parts, [("東京", true), ("tower2024", false), ("年", true)]);
    }

    #[test]
    fn index_text_spells_out_cjk_runs_only() {
        let latin = "Mon Résumé, e\u{301} & 2024";
        assert!(matches!(index_text(latin), Cow::Borrowed(text) if text == latin));
        assert_eq!(
            index_text("私は東京tower、서울에서!"),
            " 私は は東 東京 京 tower、 서울 울에 에서 서 !"
        );
    }
}
