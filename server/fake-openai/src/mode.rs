//! The modes, chosen by the request's model name, and the script each one plays: what text it
//! sends, how fast, and how the stream ends.

use std::time::Duration;

use serde_json::Value;

/// Size of one `fake-huge` content chunk, in bytes of UTF-8.
pub const HUGE_CHUNK_BYTES: usize = 1024;
/// How much content `fake-huge` sends in all, in bytes.
pub const HUGE_TOTAL_BYTES: usize = 8 * 1024 * 1024;
/// Words in the `fake-long` reply.
pub const LONG_WORDS: usize = 300;
/// The content chunks of the modes that break off after three.
pub const BROKEN_PIECES: [&str; 3] = ["one", " two", " three"];

/// A behaviour of the fake, named by the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `fake-model`: the echo, word by word, 5 ms apart.
    Normal,
    /// `fake-slow`: the echo, 150 ms apart.
    Slow,
    /// `fake-no-usage`: the echo without a usage chunk.
    NoUsage,
    /// `fake-error-midstream`: three words of the echo, then the connection breaks.
    ErrorMidstream,
    /// `fake-500`: an HTTP 500 with an OpenAI-style error body.
    ServerError,
    /// `fake-cut`: three chunks, then the body ends cleanly without a finish or `[DONE]`.
    Cut,
    /// `fake-reset`: three chunks, then the connection breaks.
    Reset,
    /// `fake-malformed`: three chunks, then a broken JSON line; closes after 1 s.
    Malformed,
    /// `fake-stall`: three chunks, then silence until the client leaves (10 minutes at most).
    Stall,
    /// `fake-huge`: 8 MiB in 1 KiB chunks, 2 ms apart, then a proper end.
    Huge,
    /// `fake-long`: 300 words, 40 ms apart, then a proper end.
    Long,
}

impl Mode {
    /// Every mode with its model name, as `/v1/models` lists them.
    pub const ALL: [(&'static str, Mode); 11] = [
        ("fake-model", Mode::Normal),
        ("fake-slow", Mode::Slow),
        ("fake-no-usage", Mode::NoUsage),
        ("fake-error-midstream", Mode::ErrorMidstream),
        ("fake-500", Mode::ServerError),
        ("fake-cut", Mode::Cut),
        ("fake-reset", Mode::Reset),
        ("fake-malformed", Mode::Malformed),
        ("fake-stall", Mode::Stall),
        ("fake-huge", Mode::Huge),
        ("fake-long", Mode::Long),
    ];

    /// The mode of a model name; unknown names behave as `fake-model`.
    pub fn of_model(model: &str) -> Mode {
        Mode::ALL
            .iter()
            .find(|(name, _)| *name == model)
            .map_or(Mode::Normal, |(_, mode)| *mode)
    }
}

/// How a stream ends after its content chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// A `finish_reason: "stop"` chunk, the usage chunk when asked for, `data: [DONE]`.
    Finish { usage: bool },
    /// The body just ends: no finish chunk, no `[DONE]`.
    Clean,
    /// The body fails, which aborts the connection mid-body.
    Reset,
    /// A line of broken JSON, then the connection stays open for 1 s and closes.
    Malformed,
    /// Nothing more; the connection stays open until the client leaves (10 minutes at most).
    Stall,
}

/// What one streamed reply sends.
pub struct Script {
    /// The content chunks, in order (lazy: `fake-huge` makes 8 MiB of them).
    pub pieces: Box<dyn Iterator<Item = String> + Send>,
    /// The pause before each content chunk.
    pub delay: Duration,
    pub ending: Ending,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Mode {
    /// The script of this mode for `request` (an OpenAI chat-completions body).
    pub fn script(self, request: &Value) -> Script {
        let prompt_tokens = request["messages"]
            .as_array()
            .map_or(0, |messages| messages.len() as u64 * 10);
        let wants_usage = request["stream_options"]["include_usage"] == Value::Bool(true);
        let finish = Ending::Finish {
            usage: wants_usage && self != Mode::NoUsage,
        };
        let broken = |ending| Script {
            pieces: Box::new(BROKEN_PIECES.iter().map(|piece| (*piece).to_owned())),
            delay: Duration::from_millis(5),
            ending,
            prompt_tokens,
            completion_tokens: BROKEN_PIECES.len() as u64,
        };
        match self {
            Mode::Cut => broken(Ending::Clean),
            Mode::Reset => broken(Ending::Reset),
            Mode::Malformed => broken(Ending::Malformed),
            Mode::Stall => broken(Ending::Stall),
            Mode::Huge => Script {
                pieces: Box::new((1..=HUGE_TOTAL_BYTES / HUGE_CHUNK_BYTES).map(huge_piece)),
                delay: Duration::from_millis(2),
                ending: finish,
                prompt_tokens,
                completion_tokens: (HUGE_TOTAL_BYTES / HUGE_CHUNK_BYTES) as u64,
            },
            Mode::Long => Script {
                pieces: Box::new(words(&long_reply())),
                delay: Duration::from_millis(40),
                ending: finish,
                prompt_tokens,
                completion_tokens: LONG_WORDS as u64,
            },
            Mode::Normal
            | Mode::Slow
            | Mode::NoUsage
            | Mode::ErrorMidstream
            | Mode::ServerError => {
                let reply = echo_reply(request);
                let completion_tokens = reply.split_whitespace().count() as u64;
                let delay = Duration::from_millis(if self == Mode::Slow { 150 } else { 5 });
                let pieces: Vec<String> = words(&reply).collect();
                // The break comes only when there is something left to break off.
                let (pieces, ending) = if self == Mode::ErrorMidstream && pieces.len() > 3 {
                    (pieces.into_iter().take(3).collect(), Ending::Reset)
                } else {
                    (pieces, finish)
                };
                Script {
                    pieces: Box::new(pieces.into_iter()),
                    delay,
                    ending,
                    prompt_tokens,
                    completion_tokens,
                }
            }
        }
    }
}

/// `Echo: <last user message>`, or `Reply <n>` (n = messages sent) when that message is `count`.
fn echo_reply(request: &Value) -> String {
    let messages = request["messages"].as_array();
    let last_user = messages
        .and_then(|messages| {
            messages
                .iter()
                .rev()
                .find(|message| message["role"] == "user")
        })
        .and_then(|message| message["content"].as_str())
        .unwrap_or_default();
    if last_user.trim() == "count" {
        format!("Reply {}", messages.map_or(0, Vec::len))
    } else {
        format!("Echo: {last_user}")
    }
}

/// `w1 w2 … w300`.
pub fn long_reply() -> String {
    (1..=LONG_WORDS)
        .map(|n| format!("w{n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits text into chunks at spaces, each chunk after the first keeping its leading space, so
/// the chunks joined are the text again.
fn words(text: &str) -> impl Iterator<Item = String> + Send {
    text.split(' ')
        .enumerate()
        .map(|(index, word)| {
            if index == 0 {
                word.to_owned()
            } else {
                format!(" {word}")
            }
        })
        .collect::<Vec<_>>()
        .into_iter()
}

/// The `n`th `fake-huge` chunk (from 1): exactly [`HUGE_CHUNK_BYTES`] bytes of CSV-like ASCII
/// lines with one two-byte `é` at a place that moves from chunk to chunk, so a cut made at a
/// byte count lands inside a character in some chunk.
pub fn huge_piece(n: usize) -> String {
    const FILLER: &[u8] = b"42,alpha,beta,gamma\n";
    let head = format!("{n:07},");
    let accent_at = (n * 131) % 1000;
    let tail = HUGE_CHUNK_BYTES - head.len() - accent_at - 'é'.len_utf8() - 1;
    let filler = |from: usize, count: usize| -> String {
        (from..from + count)
            .map(|index| char::from(FILLER[index % FILLER.len()]))
            .collect()
    };
    format!(
        "{head}{}é{}\n",
        filler(0, accent_at),
        filler(accent_at, tail)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_huge_piece_is_exactly_one_kibibyte_with_one_accent_that_moves() {
        let mut places = std::collections::HashSet::new();
        for n in 1..=HUGE_TOTAL_BYTES / HUGE_CHUNK_BYTES {
            let piece = huge_piece(n);
            assert_eq!(piece.len(), HUGE_CHUNK_BYTES, "chunk {n}");
            assert_eq!(
                piece.chars().filter(|c| !c.is_ascii()).collect::<String>(),
                "é"
            );
            assert!(piece.starts_with(&format!("{n:07},")));
            assert!(piece.ends_with('\n'));
            places.insert(piece.find('é'));
        }
        assert_eq!(
            places.len(),
            1000,
            "the accent sits at 1000 different places"
        );
    }

    #[test]
    fn the_long_reply_is_300_words_in_300_chunks() {
        let pieces: Vec<String> = Mode::Long.script(&json!({})).pieces.collect();
        assert_eq!(pieces.len(), 300);
        assert_eq!(pieces[0], "w1");
        assert_eq!(pieces[299], " w300");
        assert_eq!(pieces.concat(), long_reply());
        assert!(long_reply().starts_with("w1 w2 w3 "));
    }

    #[test]
    fn unknown_models_behave_as_fake_model_and_names_are_unique() {
        assert_eq!(Mode::of_model("gpt-4o"), Mode::Normal);
        for (name, mode) in Mode::ALL {
            assert_eq!(Mode::of_model(name), mode);
        }
    }

    #[test]
    fn error_midstream_breaks_only_a_reply_longer_than_three_chunks() {
        let long = json!({ "messages": [{ "role": "user", "content": "a b c d" }] });
        let script = Mode::ErrorMidstream.script(&long);
        assert_eq!(script.ending, Ending::Reset);
        assert_eq!(script.pieces.collect::<Vec<_>>(), ["Echo:", " a", " b"]);
        let short = json!({ "messages": [{ "role": "user", "content": "a" }] });
        let script = Mode::ErrorMidstream.script(&short);
        assert_eq!(script.ending, Ending::Finish { usage: false });
    }
}
