//! The filters a user may type into the search box, as search engines and mail clients spell
//! them (Gmail's and GitHub's `key:value` operators): `model:gpt-4o`, `type:code`,
//! `role:assistant`, `after:2026-11-01`, `before:2026-12-01`, `tag:work` (messages of the
//! conversations carrying the tag), `is:starred` (starred messages), `is:archived` (messages
//! of archived conversations only) and `-is:archived` (none of them: a leading `-` negates,
//! as in Gmail's and GitHub's searches; only `archived` takes it). A value holding spaces
//! is quoted (`model:"my model"`, `tag:"machine learning"`); a tag holding a double quote
//! cannot be written here. Keys are matched without case; a key this list does not know
//! (`http://…`, `note:`) stays part of the searched text, and so does a key without a value
//! (`model:` while it is being typed).
//!
//! `after:` is inclusive and `before:` exclusive, as the `from` and `to` parameters they fill:
//! `after:2026-11-01 before:2026-12-01` is November. A date is midnight UTC; a full RFC 3339
//! time is taken as it is. The values are checked by the same rules as the parameters
//! (`Services::search`), which is why this module only splits. The browser uses it too: the
//! search box's filter controls write their choice into the query (`with_filter`).
// Byte offsets into text a user controls may fall inside a character.
#![deny(clippy::string_slice)]

/// A query split into its filters and the words left to search.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Split {
    /// The words, in their order, separated by single spaces. Ends with a space when the
    /// query does or its last item was a filter, so that its last word is not taken as one
    /// being typed.
    pub text: String,
    /// Each filter as `(key, value)`, keys lower-cased, values unquoted, in the query's order.
    pub filters: Vec<(Key, String)>,
}

/// The filters the search box understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Model,
    Type,
    Role,
    After,
    Before,
    Tag,
    /// `is:starred` or `is:archived`, the values it takes (the service refuses others).
    Is,
    /// `-is:archived`, the only value it takes: messages of conversations not archived.
    IsNot,
}

impl Key {
    /// Every key, with its spelling in a query.
    pub const ALL: [(Key, &'static str); 8] = [
        (Key::Model, "model"),
        (Key::Type, "type"),
        (Key::Role, "role"),
        (Key::After, "after"),
        (Key::Before, "before"),
        (Key::Tag, "tag"),
        (Key::Is, "is"),
        (Key::IsNot, "-is"),
    ];

    fn parse(key: &str) -> Option<Key> {
        Key::ALL
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(key))
            .map(|(key, _)| *key)
    }

    /// How the key is written in a query, e.g. `model`.
    pub fn name(self) -> &'static str {
        Key::ALL
            .iter()
            .find(|(key, _)| *key == self)
            .map_or("", |(_, name)| name)
    }
}

/// Splits `query` at whitespace outside double quotes into filters and words.
pub fn split(query: &str) -> Split {
    let mut split = Split::default();
    let mut words: Vec<&str> = Vec::new();
    let mut last_was_filter = false;
    for item in items(query) {
        let filter = item
            .split_once(':')
            .and_then(|(key, value)| Some((Key::parse(key)?, unquote(value))))
            .filter(|(_, value)| !value.trim().is_empty());
        last_was_filter = filter.is_some();
        match filter {
            Some((key, value)) => split.filters.push((key, value.to_owned())),
            None => words.push(item),
        }
    }
    split.text = words.join(" ");
    // A query ending in a space ends its last word: it is no longer being typed.
    let finished = last_was_filter || query.ends_with(char::is_whitespace);
    if finished && !split.text.is_empty() {
        split.text.push(' ');
    }
    split
}

/// The value of the query's first `key:` filter, if any.
pub fn filter_value(query: &str, key: Key) -> Option<String> {
    split(query)
        .filters
        .into_iter()
        .find(|(found, _)| *found == key)
        .map(|(_, value)| value)
}

/// `query` with every `key:` filter taken out and, when `value` is given (and not blank),
/// `key:value` put at its end (quoted when it holds whitespace). Other items keep their text
/// and order.
pub fn with_filter(query: &str, key: Key, value: Option<&str>) -> String {
    let mut kept: Vec<String> = items(query)
        .into_iter()
        .filter(|item| {
            !item.split_once(':').is_some_and(|(found, value)| {
                Key::parse(found) == Some(key) && !unquote(value).trim().is_empty()
            })
        })
        .map(str::to_owned)
        .collect();
    if let Some(value) = value.map(str::trim).filter(|value| !value.is_empty()) {
        let value = value.replace('"', "");
        if value.chars().any(char::is_whitespace) {
            kept.push(format!("{}:\"{value}\"", key.name()));
        } else {
            kept.push(format!("{}:{value}", key.name()));
        }
    }
    kept.join(" ")
}

/// The whitespace-separated items of `query`; whitespace inside double quotes does not
/// separate (an unclosed quote runs to the end).
fn items(query: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut start: Option<usize> = None;
    let mut quoted = false;
    for (at, c) in query.char_indices() {
        if c == '"' {
            quoted = !quoted;
        }
        match (start, c.is_whitespace() && !quoted) {
            (None, false) => start = Some(at),
            (Some(from), true) => {
                items.extend(query.get(from..at));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(from) = start {
        items.extend(query.get(from..));
    }
    items
}

/// `value` without one pair of surrounding double quotes (or the opening one of an unclosed
/// pair).
fn unquote(value: &str) -> &str {
    match value.strip_prefix('"') {
        Some(inner) => inner.strip_suffix('"').unwrap_or(inner),
        None => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(pairs: &[(Key, &str)]) -> Vec<(Key, String)> {
        pairs
            .iter()
            .map(|(key, value)| (*key, (*value).to_owned()))
            .collect()
    }

    #[test]
    fn filters_are_taken_out_and_the_words_kept_in_order() {
        assert_eq!(
            split("harbour model:gpt-4o lights TYPE:code after:2026-11-01 before:2026-12-01"),
            Split {
                text: "harbour lights ".into(),
                filters: filters(&[
                    (Key::Model, "gpt-4o"),
                    (Key::Type, "code"),
                    (Key::After, "2026-11-01"),
                    (Key::Before, "2026-12-01"),
                ]),
            }
        );
        assert_eq!(
            split("role:assistant  harb"),
            Split {
                text: "harb".into(),
                filters: filters(&[(Key::Role, "assistant")]),
            }
        );
    }

    #[test]
    fn quoted_values_keep_their_spaces() {
        assert_eq!(
            split(r#"model:"my local model" 港口 "quoted words""#),
            Split {
                text: r#"港口 "quoted words""#.into(),
                filters: filters(&[(Key::Model, "my local model")]),
            }
        );
        // An unclosed quote runs to the end.
        assert_eq!(
            split(r#"model:"half open"#),
            Split {
                text: String::new(),
                filters: filters(&[(Key::Model, "half open")]),
            }
        );
    }

    #[test]
    fn archived_is_a_filter_and_its_negation_too() {
        assert_eq!(
            split("harbour is:archived -IS:archived -is: -isnt:archived"),
            Split {
                text: "harbour -is: -isnt:archived".into(),
                filters: filters(&[(Key::Is, "archived"), (Key::IsNot, "archived")]),
            }
        );
        assert_eq!(Key::IsNot.name(), "-is");
        assert_eq!(
            with_filter("harbour -is:archived is:starred", Key::IsNot, None),
            "harbour is:starred"
        );
    }

    #[test]
    fn tags_and_stars_are_filters() {
        assert_eq!(
            split(r#"harbour tag:"machine  learning" IS:starred Tag:机器学习 tag:🦀"#),
            Split {
                text: "harbour ".into(),
                filters: filters(&[
                    (Key::Tag, "machine  learning"),
                    (Key::Is, "starred"),
                    (Key::Tag, "机器学习"),
                    (Key::Tag, "🦀"),
                ]),
            }
        );
        assert_eq!(
            with_filter("harbour", Key::Tag, Some("machine learning")),
            r#"harbour tag:"machine learning""#
        );
        assert_eq!(
            with_filter("harbour is:starred", Key::Is, None),
            "harbour",
            "a control takes its filter out"
        );
        assert_eq!(Key::Tag.name(), "tag");
        assert_eq!(Key::Is.name(), "is");
    }

    #[test]
    fn unknown_keys_and_empty_values_stay_words() {
        assert_eq!(
            split("see https://example.com note: model: type:\"\" label:work tag: is:"),
            Split {
                text: "see https://example.com note: model: type:\"\" label:work tag: is:".into(),
                filters: Vec::new(),
            }
        );
    }

    #[test]
    fn a_control_replaces_its_filter_and_keeps_the_rest() {
        let query = "harbour role:user 東京 ROLE:system lights";
        assert_eq!(
            with_filter(query, Key::Role, Some("assistant")),
            "harbour 東京 lights role:assistant"
        );
        assert_eq!(with_filter(query, Key::Role, None), "harbour 東京 lights");
        assert_eq!(
            with_filter(query, Key::Role, Some("  ")),
            "harbour 東京 lights"
        );
        assert_eq!(
            with_filter("harbour", Key::Model, Some("my \"local\" model")),
            "harbour model:\"my local model\""
        );
        assert_eq!(
            with_filter("", Key::After, Some("2026-11-01")),
            "after:2026-11-01"
        );
        // `model:` without a value is text being typed, not a filter: kept.
        assert_eq!(
            with_filter("model:", Key::Model, Some("m")),
            "model: model:m"
        );
        assert_eq!(filter_value(query, Key::Role).as_deref(), Some("user"));
        assert_eq!(filter_value(query, Key::Model), None);
        assert_eq!(
            filter_value(&with_filter("x", Key::Model, Some("a b")), Key::Model).as_deref(),
            Some("a b"),
            "what a control writes reads back the same"
        );
    }

    #[test]
    fn text_in_any_script_is_split_at_characters_not_bytes() {
        assert_eq!(
            split("東京\u{3000}model:模型 é"),
            Split {
                text: "東京 é".into(),
                filters: filters(&[(Key::Model, "模型")]),
            }
        );
        assert_eq!(split(""), Split::default());
        assert_eq!(split("caf ").text, "caf ", "a finished word stays finished");
        assert_eq!(split("caf").text, "caf");
        assert_eq!(split("   "), Split::default());
    }
}
