//! Broken text inside JSON strings, mended on the way in: a lone UTF-16 surrogate escape (half
//! an emoji, `"\ud83c"`) becomes `\ufffd`, and bytes that are not UTF-8 become U+FFFD. serde_json
//! refuses both, which would end the import at the first broken string; mended, only the
//! conversation holding it is affected, and the import report says which one.
//!
//! The reader hands out bytes as the parser asks for them and looks ahead at most one escape
//! pair (12 bytes) inside the current string, so a count taken after a conversation was parsed
//! covers exactly the text up to its end.

use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Bytes held ahead of the parser.
const BUFFER: usize = 16 * 1024;
/// The longest construct looked at whole: `\uD83C\uDF89`.
const LONGEST: usize = 12;
/// U+FFFD as a JSON escape and as UTF-8.
const ESCAPED_REPLACEMENT: &[u8] = b"\\ufffd";
const REPLACEMENT: &[u8] = "\u{fffd}".as_bytes();

#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Outside,
    InString,
}

/// Wraps a reader of JSON text; `replaced` counts the mended pieces of text.
pub(super) struct Repaired<R> {
    inner: R,
    buffer: Box<[u8]>,
    start: usize,
    end: usize,
    eof: bool,
    place: Place,
    /// Output produced but not yet handed out.
    spill: Vec<u8>,
    spill_at: usize,
    replaced: Arc<AtomicUsize>,
}

impl<R: Read> Repaired<R> {
    pub fn new(inner: R, replaced: Arc<AtomicUsize>) -> Self {
        Repaired {
            inner,
            buffer: vec![0; BUFFER].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
            place: Place::Outside,
            spill: Vec::with_capacity(LONGEST),
            spill_at: 0,
            replaced,
        }
    }

    /// Makes at least `need` bytes available unless the input ends first.
    fn fill(&mut self, need: usize) -> io::Result<()> {
        while self.end - self.start < need && !self.eof {
            if self.end == self.buffer.len() {
                // No room after the data: move it to the front (`need` is far below the size).
                self.buffer.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let Some(free) = self.buffer.get_mut(self.end..) else {
                return Ok(());
            };
            match self.inner.read(free) {
                Ok(0) => self.eof = true,
                Ok(read) => self.end += read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// A copy of the next `LONGEST` bytes (fewer at the end of the input).
    fn ahead(&self) -> ([u8; LONGEST], usize) {
        let available = self.buffer.get(self.start..self.end).unwrap_or_default();
        let count = available.len().min(LONGEST);
        let mut copy = [0u8; LONGEST];
        if let (Some(to), Some(from)) = (copy.get_mut(..count), available.get(..count)) {
            to.copy_from_slice(from);
        }
        (copy, count)
    }

    fn replace(&mut self, with: &[u8]) {
        self.spill.extend_from_slice(with);
        self.replaced.fetch_add(1, Ordering::Relaxed);
    }

    /// Handles the escape at the start of the buffer (the buffer holds up to `LONGEST` bytes).
    fn escape(&mut self) {
        let (copy, count) = self.ahead();
        let ahead = copy.get(..count).unwrap_or_default();
        let Some(unit) = ahead.get(..6).and_then(code_unit) else {
            // `\n`, `\"`, … or a broken escape, which the parser reports: passed on as it is.
            let take = ahead.len().min(2);
            self.spill
                .extend_from_slice(ahead.get(..take).unwrap_or_default());
            self.start += take;
            return;
        };
        match unit {
            0xD800..=0xDBFF => {
                let low = ahead.get(6..12).and_then(code_unit);
                if matches!(low, Some(0xDC00..=0xDFFF)) {
                    self.spill
                        .extend_from_slice(ahead.get(..12).unwrap_or_default());
                    self.start += 12;
                } else {
                    self.start += 6;
                    self.replace(ESCAPED_REPLACEMENT);
                }
            }
            0xDC00..=0xDFFF => {
                self.start += 6;
                self.replace(ESCAPED_REPLACEMENT);
            }
            _ => {
                self.spill
                    .extend_from_slice(ahead.get(..6).unwrap_or_default());
                self.start += 6;
            }
        }
    }

    /// Handles the non-ASCII byte at the start of the buffer.
    fn multibyte(&mut self) {
        let (copy, count) = self.ahead();
        let ahead = copy.get(..count).unwrap_or_default();
        let width = match ahead.first() {
            Some(0xC2..=0xDF) => 2,
            Some(0xE0..=0xEF) => 3,
            Some(0xF0..=0xF4) => 4,
            _ => 0,
        };
        let whole = ahead
            .get(..width)
            .filter(|bytes| width > 0 && std::str::from_utf8(bytes).is_ok());
        match whole {
            Some(bytes) => {
                self.spill.extend_from_slice(bytes);
                self.start += width;
            }
            None => {
                self.start += 1;
                self.replace(REPLACEMENT);
            }
        }
    }
}

/// The value of a `\uXXXX` escape.
fn code_unit(escape: &[u8]) -> Option<u32> {
    let digits = escape.strip_prefix(b"\\u")?;
    if digits.len() != 4 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

impl<R: Read> Read for Repaired<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut written = 0;
        while written < out.len() {
            if self.spill_at < self.spill.len() {
                let pending = self.spill.get(self.spill_at..).unwrap_or_default();
                let count = pending.len().min(out.len() - written);
                if let (Some(to), Some(from)) =
                    (out.get_mut(written..written + count), pending.get(..count))
                {
                    to.copy_from_slice(from);
                }
                written += count;
                self.spill_at += count;
                if self.spill_at == self.spill.len() {
                    self.spill.clear();
                    self.spill_at = 0;
                }
                continue;
            }
            if self.start == self.end {
                if self.eof || written > 0 {
                    break;
                }
                self.fill(1)?;
                continue;
            }
            let Some(&byte) = self.buffer.get(self.start) else {
                break;
            };
            match (self.place, byte) {
                (Place::Outside, b'"') => self.place = Place::InString,
                (Place::InString, b'"') => self.place = Place::Outside,
                (Place::InString, b'\\') => {
                    self.fill(LONGEST)?;
                    self.escape();
                    continue;
                }
                (Place::InString, 0x80..=0xFF) => {
                    self.fill(4)?;
                    self.multibyte();
                    continue;
                }
                _ => {}
            }
            if let Some(slot) = out.get_mut(written) {
                *slot = byte;
            }
            written += 1;
            self.start += 1;
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mend(input: &[u8], chunk: usize) -> (String, usize) {
        let replaced = Arc::new(AtomicUsize::new(0));
        let mut reader = Repaired::new(input, replaced.clone());
        let mut out = Vec::new();
        let mut buf = vec![0; chunk];
        loop {
            let read = reader.read(&mut buf).unwrap();
            if read == 0 {
                break;
            }
            out.extend_from_slice(&buf[..read]);
        }
        (
            String::from_utf8(out).unwrap(),
            replaced.load(Ordering::Relaxed),
        )
    }

    #[test]
    fn lone_surrogates_and_bad_bytes_are_replaced() {
        let input = b"{\"a\":\"x\\ud83c\",\"b\":\"\\ud83c\\udf89 ok \\udc00\\n\\\"\",\"c\":\"\xff\xc3\xa9\"}";
        for chunk in [1, 3, 64] {
            let (text, count) = mend(input, chunk);
            assert_eq!(
                text,
                "{\"a\":\"x\\ufffd\",\"b\":\"\\ud83c\\udf89 ok \\ufffd\\n\\\"\",\"c\":\"\u{fffd}é\"}"
            );
            assert_eq!(count, 3);
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(value["b"], "🎉 ok \u{fffd}\n\"");
        }
    }

    #[test]
    fn sound_json_passes_unchanged() {
        let input = "[{\"t\":\"日本語 😀 \\u00e9\"}, 1.5e3, \"\\\\u\"]";
        assert_eq!(mend(input.as_bytes(), 5), (input.to_owned(), 0));
    }
}
