//! A JSON parser that keeps its own stack instead of recursing, for files whose nesting grows
//! with their content: LibreChat puts each reply inside its parent, so a 500-message chat is
//! 1,000 levels deep, past serde_json's fixed limit of 128 (and past what a recursive parser,
//! or a recursive drop, can do on a thread's stack). Strings and numbers are still decoded by
//! serde_json.

use serde_json::{Map, Number, Value};

/// The parsed document and its deepest nesting.
pub(super) struct Parsed {
    pub value: Value,
    pub depth: usize,
}

enum Frame {
    Array(Vec<Value>),
    Object(Map<String, Value>, String),
}

impl Frame {
    fn into_value(self) -> Value {
        match self {
            Frame::Array(items) => Value::Array(items),
            Frame::Object(map, _) => Value::Object(map),
        }
    }
}

pub(super) fn parse(bytes: &[u8], max_depth: usize) -> Result<Parsed, String> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut deepest = 0;
    let result = parse_into(bytes, max_depth, &mut stack, &mut deepest);
    // Partly built values can be deep; take them apart without recursion.
    for frame in stack.drain(..) {
        dismantle(frame.into_value());
    }
    result.map(|value| Parsed {
        value,
        depth: deepest,
    })
}

fn parse_into(
    bytes: &[u8],
    max_depth: usize,
    stack: &mut Vec<Frame>,
    deepest: &mut usize,
) -> Result<Value, String> {
    let mut cursor = Cursor { bytes, at: 0 };
    loop {
        cursor.skip_space();
        let mut value = match cursor.peek() {
            Some(b'{') | Some(b'[') if stack.len() >= max_depth => {
                return Err(format!(
                    "the JSON is nested more than {max_depth} levels deep"
                ));
            }
            Some(b'{') => {
                cursor.at += 1;
                cursor.skip_space();
                if cursor.peek() == Some(b'}') {
                    cursor.at += 1;
                    *deepest = (*deepest).max(stack.len() + 1);
                    Value::Object(Map::new())
                } else {
                    let key = cursor.key()?;
                    stack.push(Frame::Object(Map::new(), key));
                    *deepest = (*deepest).max(stack.len());
                    continue;
                }
            }
            Some(b'[') => {
                cursor.at += 1;
                cursor.skip_space();
                if cursor.peek() == Some(b']') {
                    cursor.at += 1;
                    *deepest = (*deepest).max(stack.len() + 1);
                    Value::Array(Vec::new())
                } else {
                    stack.push(Frame::Array(Vec::new()));
                    *deepest = (*deepest).max(stack.len());
                    continue;
                }
            }
            Some(b'"') => Value::String(cursor.string()?),
            Some(b't') => cursor.literal("true", Value::Bool(true))?,
            Some(b'f') => cursor.literal("false", Value::Bool(false))?,
            Some(b'n') => cursor.literal("null", Value::Null)?,
            Some(b'-' | b'0'..=b'9') => Value::Number(cursor.number()?),
            Some(_) => return Err(cursor.error("expected a value")),
            None => return Err(cursor.error("unexpected end of the file")),
        };
        // Hand the finished value to its container, closing every container it completes.
        loop {
            match stack.last_mut() {
                None => {
                    cursor.skip_space();
                    if cursor.at < bytes.len() {
                        dismantle(value);
                        return Err(cursor.error("unexpected characters after the JSON"));
                    }
                    return Ok(value);
                }
                Some(Frame::Array(items)) => {
                    items.push(value);
                    cursor.skip_space();
                    match cursor.next() {
                        Some(b',') => break,
                        Some(b']') => {
                            value = stack.pop().map(Frame::into_value).unwrap_or_default();
                        }
                        _ => return Err(cursor.error("expected `,` or `]`")),
                    }
                }
                Some(Frame::Object(map, key)) => {
                    map.insert(std::mem::take(key), value);
                    cursor.skip_space();
                    match cursor.next() {
                        Some(b',') => {
                            cursor.skip_space();
                            *key = cursor.key()?;
                            break;
                        }
                        Some(b'}') => {
                            value = stack.pop().map(Frame::into_value).unwrap_or_default();
                        }
                        _ => return Err(cursor.error("expected `,` or `}`")),
                    }
                }
            }
        }
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek();
        self.at += 1;
        byte
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
    }

    fn error(&self, what: &str) -> String {
        let before = &self.bytes[..self.at.min(self.bytes.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = before.len()
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1)
            + 1;
        format!("{what} at line {line} column {column}")
    }

    /// An object key followed by its colon.
    fn key(&mut self) -> Result<String, String> {
        if self.peek() != Some(b'"') {
            return Err(self.error("expected a quoted key"));
        }
        let key = self.string()?;
        self.skip_space();
        if self.next() != Some(b':') {
            return Err(self.error("expected `:`"));
        }
        Ok(key)
    }

    fn string(&mut self) -> Result<String, String> {
        let start = self.at;
        let mut escaped = false;
        let mut at = start + 1;
        loop {
            match self.bytes.get(at) {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    at += 2;
                }
                Some(_) => at += 1,
            }
        }
        let raw = self
            .bytes
            .get(start..=at)
            .ok_or_else(|| self.error("unterminated string"))?;
        self.at = at + 1;
        if !escaped {
            let inner = &raw[1..raw.len() - 1];
            if !inner.iter().any(|&b| b < 0x20) {
                return std::str::from_utf8(inner)
                    .map(str::to_owned)
                    .map_err(|_| self.error("invalid UTF-8 in a string"));
            }
        }
        serde_json::from_slice(raw).map_err(|error| self.error(&format!("bad string ({error})")))
    }

    fn number(&mut self) -> Result<Number, String> {
        let start = self.at;
        while matches!(
            self.peek(),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.at += 1;
        }
        serde_json::from_slice(&self.bytes[start..self.at]).map_err(|_| self.error("bad number"))
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, String> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a value"))
        }
    }
}

/// Drops a value of any depth without recursion.
pub(super) fn dismantle(value: Value) {
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => pending.extend(map.into_iter().map(|(_, value)| value)),
            _ => {}
        }
    }
}

/// How deeply a value nests (a scalar is 0), without recursion.
pub(super) fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(value, 0)];
    while let Some((value, level)) = pending.pop() {
        match value {
            Value::Array(items) => {
                deepest = deepest.max(level + 1);
                pending.extend(items.iter().map(|item| (item, level + 1)));
            }
            Value::Object(map) => {
                deepest = deepest.max(level + 1);
                pending.extend(map.values().map(|item| (item, level + 1)));
            }
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_like_serde_json() {
        let text =
            r#" {"a": [1, -2.5e3, true, false, null, "x\"y\u00e9\n", {}, []], "b": {"c": "ünï"}} "#;
        let parsed = parse(text.as_bytes(), 10).unwrap();
        let expected: Value = serde_json::from_str(text).unwrap();
        assert_eq!(parsed.value, expected);
        assert_eq!(parsed.depth, 3);
        assert_eq!(depth(&parsed.value), 3);
        assert_eq!(parse(b"42", 1).unwrap().value, json!(42));
    }

    #[test]
    fn rejects_broken_json() {
        for text in [
            "{",
            "[1,]",
            "{\"a\" 1}",
            "[1] x",
            "\"open",
            "tru",
            "{\"a\":1,}",
            "",
        ] {
            assert!(parse(text.as_bytes(), 10).is_err(), "{text}");
        }
    }

    #[test]
    fn deep_nesting_is_fine_and_bounded() {
        let levels = 200_000;
        let text = format!("{}{}", "[".repeat(levels), "]".repeat(levels));
        let parsed = parse(text.as_bytes(), levels + 1).unwrap();
        assert_eq!(parsed.depth, levels);
        assert_eq!(depth(&parsed.value), levels);
        dismantle(parsed.value);
        let error = parse(text.as_bytes(), 1_000).err().unwrap();
        assert!(error.contains("nested more than 1000"), "{error}");
        // A broken deep document is taken apart without overflowing the stack either.
        assert!(parse(&text.as_bytes()[..text.len() - 1], levels + 1).is_err());
    }
}
