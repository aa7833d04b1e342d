//! A JSON reader that keeps its own stack instead of recursing, for files whose nesting grows
//! with their content: LibreChat puts each reply inside its parent, so a 500-message chat is
//! 1,000 levels deep, past serde_json's fixed limit of 128 (and past what a recursive parser,
//! or a recursive drop, can do on a thread's stack). It reads from any `BufRead` a piece at a
//! time, so that a caller can take a document apart as it arrives (an object key by key, a
//! list element by element) instead of holding the file and its whole tree at once. Strings
//! with escapes and numbers are still decoded by serde_json.

use std::io::BufRead;

use serde_json::{Map, Number, Value};

/// Why reading stopped: the input failed, or it is not JSON (the message names the place).
#[derive(Debug)]
pub(super) enum JsonError {
    Io(std::io::Error),
    Syntax(String),
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

/// Reads JSON from `input`, keeping the line and column for error messages.
pub(super) struct JsonReader<R> {
    input: R,
    line: usize,
    column: usize,
}

impl<R: BufRead> JsonReader<R> {
    pub fn new(input: R) -> Self {
        JsonReader {
            input,
            line: 1,
            column: 1,
        }
    }

    /// The error for what was expected at the current place.
    pub fn error(&self, what: &str) -> JsonError {
        JsonError::Syntax(format!(
            "{what} at line {} column {}",
            self.line, self.column
        ))
    }

    fn peek_byte(&mut self) -> Result<Option<u8>, JsonError> {
        Ok(self
            .input
            .fill_buf()
            .map_err(JsonError::Io)?
            .first()
            .copied())
    }

    /// Consumes `count` bytes of the current buffer, none of them a line break.
    fn consume(&mut self, count: usize) {
        self.input.consume(count);
        self.column += count;
    }

    fn next_byte(&mut self) -> Result<Option<u8>, JsonError> {
        let byte = self.peek_byte()?;
        if byte.is_some() {
            self.consume(1);
        }
        Ok(byte)
    }

    fn skip_space(&mut self) -> Result<(), JsonError> {
        loop {
            let buffer = self.input.fill_buf().map_err(JsonError::Io)?;
            let mut count = 0;
            let mut line = self.line;
            let mut column = self.column;
            for &byte in buffer {
                match byte {
                    b'\n' => {
                        line += 1;
                        column = 1;
                    }
                    b' ' | b'\r' | b'\t' => column += 1,
                    _ => break,
                }
                count += 1;
            }
            let rest = buffer.len() - count;
            self.input.consume(count);
            (self.line, self.column) = (line, column);
            if rest > 0 || count == 0 {
                return Ok(());
            }
        }
    }

    /// The next byte that is not white space, not consumed; `None` at the end of the input.
    pub fn peek(&mut self) -> Result<Option<u8>, JsonError> {
        self.skip_space()?;
        self.peek_byte()
    }

    /// Consumes `{`.
    pub fn begin_object(&mut self) -> Result<(), JsonError> {
        self.skip_space()?;
        match self.next_byte()? {
            Some(b'{') => Ok(()),
            _ => Err(self.error("expected `{`")),
        }
    }

    /// Consumes `[`.
    pub fn begin_array(&mut self) -> Result<(), JsonError> {
        self.skip_space()?;
        match self.next_byte()? {
            Some(b'[') => Ok(()),
            _ => Err(self.error("expected `[`")),
        }
    }

    /// Inside an object after `begin_object`: the next key (its colon consumed), or `None`
    /// once the object has ended. `first` is true until the first key was read.
    pub fn next_key(&mut self, first: &mut bool) -> Result<Option<String>, JsonError> {
        if self.next_item(first, b'}')? {
            self.key().map(Some)
        } else {
            Ok(None)
        }
    }

    /// Inside a list after `begin_array`: whether another element follows (the reader is then
    /// at it), or the list has ended. `first` is true until the first element was met.
    pub fn next_element(&mut self, first: &mut bool) -> Result<bool, JsonError> {
        self.next_item(first, b']')
    }

    /// Consumes the `,` before an item or the `close` that ends the container: whether an item
    /// follows.
    fn next_item(&mut self, first: &mut bool, close: u8) -> Result<bool, JsonError> {
        self.skip_space()?;
        match self.peek_byte()? {
            Some(byte) if byte == close => {
                self.consume(1);
                return Ok(false);
            }
            Some(b',') if !*first => {
                self.consume(1);
                self.skip_space()?;
            }
            _ if *first => {}
            _ => {
                return Err(self.error(&format!("expected `,` or `{}`", char::from(close))));
            }
        }
        *first = false;
        Ok(true)
    }

    /// Checks that nothing but white space follows.
    pub fn end(&mut self) -> Result<(), JsonError> {
        match self.peek()? {
            None => Ok(()),
            Some(_) => Err(self.error("unexpected characters after the JSON")),
        }
    }

    /// Reads one whole value nested at most `max_depth` levels, and says how deep it nests
    /// (a scalar is 0).
    pub fn value(&mut self, max_depth: usize) -> Result<(Value, usize), JsonError> {
        let mut stack: Vec<Frame> = Vec::new();
        let mut deepest = 0;
        let result = self.value_into(max_depth, &mut stack, &mut deepest);
        // Partly built values can be deep; take them apart without recursion.
        for frame in stack.drain(..) {
            dismantle(frame.into_value());
        }
        result.map(|value| (value, deepest))
    }

    fn value_into(
        &mut self,
        max_depth: usize,
        stack: &mut Vec<Frame>,
        deepest: &mut usize,
    ) -> Result<Value, JsonError> {
        loop {
            self.skip_space()?;
            let mut value = match self.peek_byte()? {
                Some(b'{') | Some(b'[') if stack.len() >= max_depth => {
                    return Err(JsonError::Syntax(format!(
                        "the JSON is nested more than {max_depth} levels deep"
                    )));
                }
                Some(b'{') => {
                    self.consume(1);
                    self.skip_space()?;
                    if self.peek_byte()? == Some(b'}') {
                        self.consume(1);
                        *deepest = (*deepest).max(stack.len() + 1);
                        Value::Object(Map::new())
                    } else {
                        let key = self.key()?;
                        stack.push(Frame::Object(Map::new(), key));
                        *deepest = (*deepest).max(stack.len());
                        continue;
                    }
                }
                Some(b'[') => {
                    self.consume(1);
                    self.skip_space()?;
                    if self.peek_byte()? == Some(b']') {
                        self.consume(1);
                        *deepest = (*deepest).max(stack.len() + 1);
                        Value::Array(Vec::new())
                    } else {
                        stack.push(Frame::Array(Vec::new()));
                        *deepest = (*deepest).max(stack.len());
                        continue;
                    }
                }
                Some(b'"') => Value::String(self.string()?),
                Some(b't') => self.literal("true", Value::Bool(true))?,
                Some(b'f') => self.literal("false", Value::Bool(false))?,
                Some(b'n') => self.literal("null", Value::Null)?,
                Some(b'-' | b'0'..=b'9') => Value::Number(self.number()?),
                Some(_) => return Err(self.error("expected a value")),
                None => return Err(self.error("unexpected end of the file")),
            };
            // Hand the finished value to its container, closing every container it completes.
            loop {
                match stack.last_mut() {
                    None => return Ok(value),
                    Some(Frame::Array(items)) => {
                        items.push(value);
                        self.skip_space()?;
                        match self.next_byte()? {
                            Some(b',') => break,
                            Some(b']') => {
                                value = stack.pop().map(Frame::into_value).unwrap_or_default();
                            }
                            _ => return Err(self.error("expected `,` or `]`")),
                        }
                    }
                    Some(Frame::Object(map, key)) => {
                        if let Some(replaced) = map.insert(std::mem::take(key), value) {
                            dismantle(replaced);
                        }
                        self.skip_space()?;
                        match self.next_byte()? {
                            Some(b',') => {
                                self.skip_space()?;
                                *key = self.key()?;
                                break;
                            }
                            Some(b'}') => {
                                value = stack.pop().map(Frame::into_value).unwrap_or_default();
                            }
                            _ => return Err(self.error("expected `,` or `}`")),
                        }
                    }
                }
            }
        }
    }

    /// An object key followed by its colon.
    fn key(&mut self) -> Result<String, JsonError> {
        if self.peek_byte()? != Some(b'"') {
            return Err(self.error("expected a quoted key"));
        }
        let key = self.string()?;
        self.skip_space()?;
        if self.next_byte()? != Some(b':') {
            return Err(self.error("expected `:`"));
        }
        Ok(key)
    }

    /// A string, the reader at its opening quote.
    fn string(&mut self) -> Result<String, JsonError> {
        let mut raw = Vec::new();
        let mut escaped = false;
        let mut plain = true;
        // The opening quote.
        self.consume(1);
        raw.push(b'"');
        loop {
            let buffer = self.input.fill_buf().map_err(JsonError::Io)?;
            if buffer.is_empty() {
                return Err(self.error("unterminated string"));
            }
            let mut count = 0;
            let mut closed = false;
            while let Some(&byte) = buffer.get(count) {
                count += 1;
                if escaped {
                    escaped = false;
                    continue;
                }
                match byte {
                    b'"' => {
                        closed = true;
                        break;
                    }
                    b'\\' => {
                        escaped = true;
                        plain = false;
                    }
                    0x00..=0x1f => plain = false,
                    _ => {}
                }
            }
            raw.extend_from_slice(buffer.get(..count).unwrap_or_default());
            self.consume(count);
            if closed {
                break;
            }
        }
        if plain {
            // Without its quotes.
            let inner = raw.get(1..raw.len() - 1).unwrap_or_default();
            return std::str::from_utf8(inner)
                .map(str::to_owned)
                .map_err(|_| self.error("invalid UTF-8 in a string"));
        }
        serde_json::from_slice(&raw).map_err(|error| self.error(&format!("bad string ({error})")))
    }

    fn number(&mut self) -> Result<Number, JsonError> {
        let mut raw = Vec::new();
        while let Some(byte) = self.peek_byte()? {
            if !matches!(byte, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                break;
            }
            raw.push(byte);
            self.consume(1);
        }
        serde_json::from_slice(&raw).map_err(|_| self.error("bad number"))
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, JsonError> {
        for &expected in word.as_bytes() {
            if self.peek_byte()? != Some(expected) {
                return Err(self.error("expected a value"));
            }
            self.consume(1);
        }
        Ok(value)
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

    /// A whole document, as the importers read an object they do not stream.
    fn parse(bytes: &[u8], max_depth: usize) -> Result<(Value, usize), String> {
        // A tiny buffer, so that every token is split across reads somewhere.
        let mut reader = JsonReader::new(std::io::BufReader::with_capacity(3, bytes));
        let describe = |error: JsonError| match error {
            JsonError::Io(error) => error.to_string(),
            JsonError::Syntax(message) => message,
        };
        let parsed = reader.value(max_depth).map_err(describe)?;
        reader.end().map_err(describe)?;
        Ok(parsed)
    }

    #[test]
    fn parses_like_serde_json() {
        let text =
            r#" {"a": [1, -2.5e3, true, false, null, "x\"y\u00e9\n", {}, []], "b": {"c": "ünï"}} "#;
        let (value, levels) = parse(text.as_bytes(), 10).unwrap();
        let expected: Value = serde_json::from_str(text).unwrap();
        assert_eq!(value, expected);
        assert_eq!(levels, 3);
        assert_eq!(depth(&value), 3);
        assert_eq!(parse(b"42", 1).unwrap().0, json!(42));
        assert_eq!(
            parse(br#"{"k": 1, "k": [2]}"#, 3).unwrap().0,
            json!({"k": [2]}),
            "the last of two equal keys wins, as in serde_json"
        );
    }

    #[test]
    fn rejects_broken_json_and_says_where() {
        for text in [
            "{",
            "[1,]",
            "{\"a\" 1}",
            "[1] x",
            "\"open",
            "tru",
            "{\"a\":1,}",
            "",
            "\"\u{1}\"",
            "[\"\\x\"]",
            "-",
        ] {
            assert!(parse(text.as_bytes(), 10).is_err(), "{text}");
        }
        assert_eq!(
            parse(b"{\n  \"a\": [1,\n   x]}", 10).unwrap_err(),
            "expected a value at line 3 column 4"
        );
        assert_eq!(
            parse(b"\"\xff\"", 10).unwrap_err(),
            "invalid UTF-8 in a string at line 1 column 4"
        );
    }

    #[test]
    fn objects_and_lists_are_taken_a_piece_at_a_time() {
        let text = br#" { "a" : [ 1 , {"b": 2} ] , "c": "d" } "#;
        let mut reader = JsonReader::new(std::io::BufReader::with_capacity(2, &text[..]));
        reader.begin_object().unwrap();
        let mut first = true;
        assert_eq!(reader.next_key(&mut first).unwrap().as_deref(), Some("a"));
        reader.begin_array().unwrap();
        let mut first_element = true;
        let mut elements = Vec::new();
        while reader.next_element(&mut first_element).unwrap() {
            elements.push(reader.value(5).unwrap().0);
        }
        assert_eq!(elements, [json!(1), json!({"b": 2})]);
        assert_eq!(reader.next_key(&mut first).unwrap().as_deref(), Some("c"));
        assert_eq!(reader.value(5).unwrap(), (json!("d"), 0));
        assert_eq!(reader.next_key(&mut first).unwrap(), None);
        reader.end().unwrap();

        let mut trailing = JsonReader::new(&b"{\"a\": 1 \"b\": 2}"[..]);
        trailing.begin_object().unwrap();
        let mut first = true;
        trailing.next_key(&mut first).unwrap();
        trailing.value(1).unwrap();
        assert!(matches!(
            trailing.next_key(&mut first),
            Err(JsonError::Syntax(message)) if message == "expected `,` or `}` at line 1 column 9"
        ));
    }

    #[test]
    fn deep_nesting_is_fine_and_bounded() {
        let levels = 200_000;
        let text = format!("{}{}", "[".repeat(levels), "]".repeat(levels));
        let (value, deepest) = parse(text.as_bytes(), levels + 1).unwrap();
        assert_eq!(deepest, levels);
        assert_eq!(depth(&value), levels);
        dismantle(value);
        let error = parse(text.as_bytes(), 1_000).err().unwrap();
        assert!(error.contains("nested more than 1000"), "{error}");
        // A broken deep document is taken apart without overflowing the stack either.
        assert!(parse(&text.as_bytes()[..text.len() - 1], levels + 1).is_err());
    }
}
