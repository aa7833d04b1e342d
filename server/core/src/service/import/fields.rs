//! Reading loosely typed JSON fields. Exports change shape from one version to the next, so
//! every field is optional and a wrong type reads as absent rather than failing the file.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::model::MAX_TITLE_CHARS;
use crate::service::validate;

/// A non-empty string field.
pub(super) fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|text| !text.trim().is_empty())
}

/// The tags of a list field, as the source spells them: each string, or the `name` of each
/// object (`{"id": ..., "name": ...}`); other entries are left out. The tag rule is applied
/// later, once for every format (`tree::convert`).
pub(super) fn tags(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(|tag| match tag {
                    Value::String(name) => Some(name.clone()),
                    Value::Object(_) => fields_name(tag),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn fields_name(tag: &Value) -> Option<String> {
    text(tag, "name")
        .or_else(|| text(tag, "id"))
        .map(str::to_owned)
}

pub(super) fn flag(value: &Value, key: &str) -> bool {
    value.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// A string or number id (some exports use numbers).
pub(super) fn id(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(text) if !text.trim().is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Token counts as Confab accepts them; anything else is dropped.
pub(super) fn tokens(value: &Value, key: &str) -> Option<i64> {
    let count = value.get(key)?.as_i64()?;
    validate::tokens("tokens", Some(count)).ok().flatten()
}

pub(super) fn model(name: Option<&str>) -> Option<String> {
    name.and_then(|name| validate::model(name).ok())
}

/// A time given as a number (seconds, or milliseconds, microseconds or nanoseconds, told apart
/// by size) or as an RFC 3339 string.
pub(super) fn time(value: &Value, key: &str) -> Option<DateTime<Utc>> {
    match value.get(key)? {
        Value::Number(number) => number.as_f64().and_then(time_from_number),
        Value::String(text) => DateTime::parse_from_rfc3339(text.trim())
            .map(|time| time.with_timezone(&Utc))
            .ok()
            .or_else(|| text.trim().parse::<f64>().ok().and_then(time_from_number)),
        _ => None,
    }
}

pub(super) fn time_from_number(number: f64) -> Option<DateTime<Utc>> {
    if !number.is_finite() || number <= 0.0 {
        return None;
    }
    // Seconds until the year 5138, so the larger units cannot be mistaken for them.
    let seconds = if number >= 1e17 {
        number / 1e9
    } else if number >= 1e14 {
        number / 1e6
    } else if number >= 1e11 {
        number / 1e3
    } else {
        number
    };
    DateTime::from_timestamp_micros((seconds * 1e6).round() as i64)
}

/// A title as Confab stores it: trimmed, and cut to the longest title allowed.
pub(super) fn clean_title(raw: &str) -> Option<String> {
    let title = raw.trim();
    if title.is_empty() {
        return None;
    }
    if title.chars().count() <= MAX_TITLE_CHARS {
        return Some(title.to_owned());
    }
    let cut: String = title.chars().take(MAX_TITLE_CHARS - 1).collect();
    Some(format!("{}…", cut.trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_in_any_unit() {
        let seconds = time_from_number(1_704_629_915.776_371).unwrap();
        assert_eq!(seconds.timestamp(), 1_704_629_915);
        assert_eq!(seconds.timestamp_subsec_micros(), 776_371);
        for number in [1.7e9, 1.7e12, 1.7e15, 1.7e18] {
            assert_eq!(time_from_number(number).unwrap().timestamp(), 1_700_000_000);
        }
        assert_eq!(time_from_number(0.0), None);
        assert_eq!(time_from_number(f64::NAN), None);
        let value = json!({"a": "2024-04-09T14:32:05.230Z", "b": null, "c": "soon"});
        assert_eq!(
            time(&value, "a").unwrap().timestamp_millis(),
            1_712_673_125_230
        );
        assert_eq!(time(&value, "b"), None);
        assert_eq!(time(&value, "c"), None);
    }

    #[test]
    fn titles_are_trimmed_and_cut() {
        assert_eq!(clean_title("  Hi  ").as_deref(), Some("Hi"));
        assert_eq!(clean_title("   "), None);
        let long = clean_title(&"x".repeat(500)).unwrap();
        assert_eq!(long.chars().count(), MAX_TITLE_CHARS);
        assert!(validate::title(&long).is_ok());
    }
}
