//! Opaque pagination cursors. Clients must not build them, so they are base64 of a small
//! key that each list decodes and checks.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::StoreError;

/// The end of a page read one row past its size (`limit + 1` rows asked for a page of
/// `limit`), the one way every list knows whether another page follows without counting: when
/// the extra row came, it is dropped and the next page's cursor is made from the last row kept;
/// otherwise this is the last page (`None`).
pub fn cut_page<T>(
    found: &mut Vec<T>,
    limit: usize,
    cursor_of: impl FnOnce(&T) -> String,
) -> Option<String> {
    if found.len() <= limit {
        return None;
    }
    found.truncate(limit);
    found.last().map(cursor_of)
}

/// Position in the session list: last activity (ms) and id, the list's sort key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionCursor {
    pub activity_ms: i64,
    pub id: String,
}

impl SessionCursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("s:{}:{}", self.activity_ms, self.id))
    }

    pub fn decode(text: &str) -> Result<Self, StoreError> {
        let raw = decode_raw(text)?;
        let rest = raw.strip_prefix("s:").ok_or(StoreError::InvalidCursor)?;
        let (millis, id) = rest.split_once(':').ok_or(StoreError::InvalidCursor)?;
        let activity_ms = millis.parse().map_err(|_| StoreError::InvalidCursor)?;
        if id.is_empty() || id.len() > 64 {
            return Err(StoreError::InvalidCursor);
        }
        Ok(SessionCursor {
            activity_ms,
            id: id.to_owned(),
        })
    }
}

/// Position in the administrators' user list: the last email of the page.
pub fn encode_email(email: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("u:{email}"))
}

pub fn decode_email(text: &str) -> Result<String, StoreError> {
    let raw = decode_raw(text)?;
    raw.strip_prefix("u:")
        .filter(|email| !email.is_empty())
        .map(str::to_owned)
        .ok_or(StoreError::InvalidCursor)
}

/// Position in the audit log: the time (ms) and id of the last entry of the page.
pub fn encode_audit(at_ms: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("a:{at_ms}:{id}"))
}

pub fn decode_audit(text: &str) -> Result<(i64, String), StoreError> {
    decode_time_and_id(text, "a:")
}

/// A cursor of a list sorted by a time (ms) and an id: `prefix`, the time, `:`, the id.
fn decode_time_and_id(text: &str, prefix: &str) -> Result<(i64, String), StoreError> {
    let raw = decode_raw(text)?;
    let rest = raw.strip_prefix(prefix).ok_or(StoreError::InvalidCursor)?;
    let (millis, id) = rest.split_once(':').ok_or(StoreError::InvalidCursor)?;
    let at_ms = millis.parse().map_err(|_| StoreError::InvalidCursor)?;
    if id.is_empty() || id.len() > 64 {
        return Err(StoreError::InvalidCursor);
    }
    Ok((at_ms, id.to_owned()))
}

/// Position in the Starred view: when the last message of the page was starred (ms) and its
/// id, the view's sort key.
pub fn encode_star(starred_ms: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("t:{starred_ms}:{id}"))
}

pub fn decode_star(text: &str) -> Result<(i64, String), StoreError> {
    decode_time_and_id(text, "t:")
}

/// Position in search results: an offset into the ranked list.
pub fn encode_offset(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}

pub fn decode_offset(text: &str) -> Result<usize, StoreError> {
    let raw = decode_raw(text)?;
    raw.strip_prefix("o:")
        .and_then(|n| n.parse().ok())
        .filter(|n| *n <= 100_000)
        .ok_or(StoreError::InvalidCursor)
}

fn decode_raw(text: &str) -> Result<String, StoreError> {
    if text.len() > 256 {
        return Err(StoreError::InvalidCursor);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| StoreError::InvalidCursor)?;
    String::from_utf8(bytes).map_err(|_| StoreError::InvalidCursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_read_one_row_past_its_size_knows_what_follows() {
        let mut short = vec![1, 2];
        assert_eq!(cut_page(&mut short, 3, |row| row.to_string()), None);
        assert_eq!(short, [1, 2]);
        let mut exact = vec![1, 2, 3];
        assert_eq!(cut_page(&mut exact, 3, |row| row.to_string()), None);
        assert_eq!(exact, [1, 2, 3]);
        let mut over = vec![1, 2, 3, 4];
        assert_eq!(
            cut_page(&mut over, 3, |row| row.to_string()),
            Some("3".into())
        );
        assert_eq!(over, [1, 2, 3]);
    }

    #[test]
    fn session_cursor_round_trips() {
        let cursor = SessionCursor {
            activity_ms: 1_700_000_000_123,
            id: "0190-abc".into(),
        };
        assert_eq!(SessionCursor::decode(&cursor.encode()).unwrap(), cursor);
    }

    #[test]
    fn garbage_cursors_are_rejected() {
        for bad in ["", "%%%", "bm90IGEgY3Vyc29y", &encode_offset(3)] {
            assert!(SessionCursor::decode(bad).is_err(), "{bad}");
        }
        assert!(decode_offset("zzz").is_err());
        assert_eq!(
            decode_star(&encode_star(-5, "0190-abc")).unwrap(),
            (-5, "0190-abc".to_owned())
        );
        for bad in [encode_offset(3), encode_audit(1, "x"), encode_star(1, "")] {
            assert!(decode_star(&bad).is_err(), "{bad}");
        }
        assert_eq!(decode_offset(&encode_offset(40)).unwrap(), 40);
    }
}
