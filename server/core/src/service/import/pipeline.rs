//! The blocking half of an import. It reads the file on its own thread, one conversation at a
//! time, converts each, and sends batches of about `BATCH_MESSAGES` messages over a bounded
//! channel to the async half, which writes them. Memory therefore stays flat however large the
//! file: at most the conversation being read plus the batches in flight.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde_json::Value;
use tokio::sync::mpsc;

use super::deep_json::{self, dismantle};
use super::detect::{self, Container, Document, Format};
use super::tree::{self, Importer};
use super::{archive, Problem};
use crate::api::ImportProblem;
use crate::service::error::explain_json_error;
use crate::service::export::ExportDocument;
use crate::service::ServiceError;
use crate::store::ImportSession;

/// Messages handed to the store at a time: large enough to amortise a transaction, small
/// enough that one write does not hold the writer for long.
pub(super) const BATCH_MESSAGES: usize = 2_000;
/// Elements a list may start with before one is recognised as a conversation.
const MAX_UNRECOGNISED: usize = 32;
/// Nesting allowed in a file read whole. Only LibreChat legitimately goes deep (two levels per
/// reply); every other format must stay within serde_json's usual 128.
const MAX_DEPTH: usize = 100_000;
const SHALLOW_DEPTH: usize = 128;

/// What the reading thread sends.
pub(super) enum Step {
    Batch(Batch),
    /// A Confab export, imported by `import_confab`.
    Confab(ExportDocument),
}

#[derive(Default)]
pub(super) struct Batch {
    pub sessions: Vec<ImportSession>,
    pub problems: Vec<ImportProblem>,
    /// Conversations finished in this batch, imported or not.
    pub conversations: usize,
}

/// Why reading stopped early.
pub(super) enum Halt {
    /// The async half is gone (the write failed or the caller went away).
    Cancelled,
    Failed(ServiceError),
}

impl From<ServiceError> for Halt {
    fn from(error: ServiceError) -> Self {
        Halt::Failed(error)
    }
}

/// Counts the bytes read and fails the read once there are more than allowed.
pub(super) struct Limited<R> {
    inner: R,
    limit: u64,
    count: Arc<AtomicU64>,
    exceeded: Arc<AtomicBool>,
}

impl<R: Read> Limited<R> {
    pub fn new(inner: R, limit: u64, count: Arc<AtomicU64>, exceeded: Arc<AtomicBool>) -> Self {
        Limited {
            inner,
            limit,
            count,
            exceeded,
        }
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        let total = self.count.fetch_add(read as u64, Ordering::Relaxed) + read as u64;
        if total > self.limit {
            self.exceeded.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other("over the import size limit"));
        }
        Ok(read)
    }
}

/// Everything the reading thread needs.
pub(super) struct Reading {
    pub importer: Importer,
    pub max_bytes: u64,
    pub bytes_read: Arc<AtomicU64>,
    pub steps: mpsc::Sender<Step>,
}

/// Reads the whole file. An error after some conversations were sent is still an error; the
/// async half decides how to tell it.
pub(super) fn run(reader: impl Read, reading: Reading) -> Result<(), Halt> {
    let exceeded = Arc::new(AtomicBool::new(false));
    let limited = Limited::new(
        reader,
        reading.max_bytes,
        reading.bytes_read.clone(),
        exceeded.clone(),
    );
    let mut sink = Sink::new(reading.importer, reading.steps);
    let outcome = read_file(limited, &mut sink, reading.max_bytes);
    let outcome = match outcome {
        Err(Halt::Failed(_)) if exceeded.load(Ordering::Relaxed) => Err(Halt::Failed(too_large(
            "the file is larger than the import limit",
            reading.max_bytes,
        ))),
        other => other,
    };
    // What was read before a failure is still worth importing.
    sink.flush()?;
    outcome
}

fn too_large(what: &str, limit: u64) -> ServiceError {
    ServiceError::invalid(
        "too_large",
        format!("{what} of {} MiB", limit.div_ceil(1024 * 1024)),
    )
}

fn read_file(reader: impl Read, sink: &mut Sink, max_bytes: u64) -> Result<(), Halt> {
    let mut input = BufReader::with_capacity(64 * 1024, reader);
    match peek(&mut input)? {
        Container::Zip => archive::read_conversations(input, sink, max_bytes),
        Container::Empty => Err(ServiceError::invalid("empty_file", "the file is empty").into()),
        Container::Unknown => Err(ServiceError::invalid(
            "unsupported_format",
            "the file is not in a format Confab can import (neither JSON nor a ZIP archive)",
        )
        .into()),
        container => read_json(input, container, sink),
    }
}

/// Skips a byte order mark and white space, and says what comes next.
pub(super) fn peek(input: &mut impl BufRead) -> Result<Container, Halt> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    // The mark may arrive split across reads, so it is matched a byte at a time.
    let mut bom_matched = 0;
    let mut bom_done = false;
    loop {
        let buffer = input.fill_buf().map_err(read_error)?;
        if buffer.is_empty() {
            return Ok(if bom_matched > 0 && bom_matched < BOM.len() {
                Container::Unknown
            } else {
                Container::Empty
            });
        }
        let mut skip = 0;
        if !bom_done {
            while bom_matched < BOM.len() && skip < buffer.len() && buffer[skip] == BOM[bom_matched]
            {
                bom_matched += 1;
                skip += 1;
            }
            if bom_matched == BOM.len() || skip < buffer.len() {
                bom_done = true;
                if bom_matched > 0 && bom_matched < BOM.len() {
                    input.consume(skip);
                    return Ok(Container::Unknown);
                }
            }
        }
        if bom_done {
            skip += buffer[skip..]
                .iter()
                .take_while(|byte| byte.is_ascii_whitespace())
                .count();
        }
        if skip < buffer.len() {
            let container = detect::container(&buffer[skip..]);
            input.consume(skip);
            return Ok(container);
        }
        input.consume(skip);
    }
}

fn read_error(error: std::io::Error) -> Halt {
    Halt::Failed(ServiceError::invalid(
        "unreadable_file",
        format!("the file could not be read: {error}"),
    ))
}

fn json_error(error: serde_json::Error) -> ServiceError {
    ServiceError::invalid(
        "invalid_json",
        format!(
            "the file is not valid JSON: {}",
            explain_json_error(&error.to_string())
        ),
    )
}

/// Reads one JSON document whose first byte `peek` has just classified.
pub(super) fn read_json(
    input: impl Read,
    container: Container,
    sink: &mut Sink,
) -> Result<(), Halt> {
    match container {
        Container::List => read_list(input, sink),
        Container::Object => {
            let mut bytes = Vec::new();
            let mut input = input;
            input.read_to_end(&mut bytes).map_err(read_error)?;
            read_object(&bytes, sink)
        }
        Container::Empty => Err(ServiceError::invalid("empty_file", "the file is empty").into()),
        Container::Zip | Container::Unknown => Err(ServiceError::invalid(
            "unsupported_format",
            "the file is not in a format Confab can import",
        )
        .into()),
    }
}

fn read_list(input: impl Read, sink: &mut Sink) -> Result<(), Halt> {
    let mut deserializer = serde_json::Deserializer::from_reader(input);
    let mut list = ListReader {
        sink,
        format: None,
        waiting: Vec::new(),
        halt: None,
    };
    let parsed = (&mut list)
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end());
    if let Some(halt) = list.halt.take() {
        return Err(halt);
    }
    parsed.map_err(json_error)?;
    if list.format.is_none() && !list.waiting.is_empty() {
        return Err(unrecognised().into());
    }
    Ok(())
}

fn unrecognised() -> ServiceError {
    ServiceError::invalid(
        "unsupported_format",
        "the file is not in a format Confab can import (ChatGPT, Open WebUI, LibreChat, chatbot-ui or Confab)",
    )
}

/// Takes the elements of the top-level list one by one.
struct ListReader<'a> {
    sink: &'a mut Sink,
    format: Option<Format>,
    /// Elements seen before the format was known.
    waiting: Vec<Value>,
    halt: Option<Halt>,
}

impl ListReader<'_> {
    fn element(&mut self, value: Value) -> Result<(), Halt> {
        let format = match self.format {
            Some(format) => format,
            None => match detect::element(&value) {
                Some(format) => {
                    tracing::debug!(format = format.name(), "import format recognised");
                    self.format = Some(format);
                    for waiting in std::mem::take(&mut self.waiting) {
                        self.sink.conversation(format, waiting)?;
                    }
                    format
                }
                None => {
                    self.waiting.push(value);
                    if self.waiting.len() > MAX_UNRECOGNISED {
                        return Err(unrecognised().into());
                    }
                    return Ok(());
                }
            },
        };
        self.sink.conversation(format, value)
    }
}

impl<'de> DeserializeSeed<'de> for &mut ListReader<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for &mut ListReader<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a list of conversations")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(value) = seq.next_element::<Value>()? {
            if let Err(halt) = self.element(value) {
                self.halt = Some(halt);
                return Err(de::Error::custom("the import stopped"));
            }
        }
        Ok(())
    }
}

fn read_object(bytes: &[u8], sink: &mut Sink) -> Result<(), Halt> {
    let parsed = deep_json::parse(bytes, MAX_DEPTH).map_err(|error| {
        ServiceError::invalid(
            "invalid_json",
            format!("the file is not valid JSON: {}", explain_json_error(&error)),
        )
    })?;
    let value = parsed.value;
    let Some(document) = detect::object(&value) else {
        dismantle(value);
        return Err(unrecognised().into());
    };
    if parsed.depth > SHALLOW_DEPTH && document != Document::Single(Format::LibreChat) {
        dismantle(value);
        return Err(ServiceError::invalid(
            "invalid_json",
            format!("the file is nested more than {SHALLOW_DEPTH} levels deep"),
        )
        .into());
    }
    match document {
        Document::Confab => {
            let document: ExportDocument = serde_json::from_value(value).map_err(|error| {
                ServiceError::invalid(
                    "invalid_export",
                    format!("the Confab export is malformed: {error}"),
                )
            })?;
            sink.confab(document)
        }
        Document::ChatbotUiExport => {
            let mut value = value;
            if let Some(Value::Array(history)) = value.get_mut("history").map(Value::take) {
                for conversation in history {
                    sink.conversation(Format::ChatbotUi, conversation)?;
                }
            }
            Ok(())
        }
        Document::Single(format) => sink.conversation(format, value),
    }
}

/// Converts conversations and groups them into batches for the store.
pub(super) struct Sink {
    importer: Importer,
    steps: mpsc::Sender<Step>,
    batch: Batch,
    batch_messages: usize,
}

impl Sink {
    fn new(importer: Importer, steps: mpsc::Sender<Step>) -> Sink {
        Sink {
            importer,
            steps,
            batch: Batch::default(),
            batch_messages: 0,
        }
    }

    pub fn problem(&mut self, problem: Problem) {
        self.batch.problems.push(problem.into());
    }

    pub fn conversation(&mut self, format: Format, value: Value) -> Result<(), Halt> {
        // Counted first: adding its session may send the batch, which must count it too.
        self.batch.conversations += 1;
        let converted = format.read(value).and_then(|conversation| {
            let title = conversation.title.clone();
            tree::convert(conversation, &self.importer)
                .map_err(|reason| Problem::new(title.as_deref(), reason))
        });
        match converted {
            Ok(converted) => {
                for note in converted.notes {
                    self.problem(Problem::new(Some(&converted.session.session.title), note));
                }
                self.session(converted.session)?;
            }
            Err(problem) => {
                tracing::debug!(title = %problem.title, reason = %problem.reason, "conversation not imported");
                self.problem(problem);
            }
        }
        Ok(())
    }

    /// Adds a session, split into parts when it alone is larger than a batch: the store adds
    /// the messages of a session it already holds, so the parts join up.
    fn session(&mut self, mut session: ImportSession) -> Result<(), Halt> {
        if session.messages.len() > BATCH_MESSAGES {
            let mut rest = std::mem::take(&mut session.messages);
            while rest.len() > BATCH_MESSAGES {
                let tail = rest.split_off(BATCH_MESSAGES);
                let head = std::mem::replace(&mut rest, tail);
                // The leaf is set with the last part, once the branch it ends is stored.
                self.push(ImportSession {
                    session: session.session.clone(),
                    pinned: session.pinned,
                    archived: session.archived,
                    is_active: session.is_active,
                    updated_at: session.updated_at,
                    active_leaf_id: None,
                    messages: head,
                })?;
            }
            session.messages = rest;
        }
        self.push(session)
    }

    fn push(&mut self, session: ImportSession) -> Result<(), Halt> {
        self.batch_messages += session.messages.len();
        self.batch.sessions.push(session);
        if self.batch_messages >= BATCH_MESSAGES {
            self.flush()?;
        }
        Ok(())
    }

    fn confab(&mut self, document: ExportDocument) -> Result<(), Halt> {
        self.flush()?;
        self.steps
            .blocking_send(Step::Confab(document))
            .map_err(|_| Halt::Cancelled)
    }

    pub fn flush(&mut self) -> Result<(), Halt> {
        let batch = std::mem::take(&mut self.batch);
        self.batch_messages = 0;
        if batch.sessions.is_empty() && batch.problems.is_empty() && batch.conversations == 0 {
            return Ok(());
        }
        self.steps
            .blocking_send(Step::Batch(batch))
            .map_err(|_| Halt::Cancelled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peek_skips_bom_and_space() {
        let mut input = BufReader::with_capacity(2, &b"\xEF\xBB\xBF \n\t [1]"[..]);
        assert_eq!(peek(&mut input).ok(), Some(Container::List));
        let mut rest = String::new();
        input.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "[1]");
        let mut blank = BufReader::new(&b"   "[..]);
        assert_eq!(peek(&mut blank).ok(), Some(Container::Empty));
    }

    #[test]
    fn limited_counts_and_stops() {
        let count = Arc::new(AtomicU64::new(0));
        let exceeded = Arc::new(AtomicBool::new(false));
        let mut limited = Limited::new(&b"0123456789"[..], 5, count.clone(), exceeded.clone());
        let mut out = Vec::new();
        assert!(limited.read_to_end(&mut out).is_err());
        assert!(exceeded.load(Ordering::Relaxed));
        let mut fits = Limited::new(&b"0123"[..], 5, Arc::new(AtomicU64::new(0)), exceeded);
        out.clear();
        assert_eq!(fits.read_to_end(&mut out).unwrap(), 4);
    }
}
