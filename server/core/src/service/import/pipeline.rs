//! The blocking half of an import. It reads the file on its own thread, one conversation at a
//! time, converts each, and sends batches of about `BATCH_MESSAGES` messages over a bounded
//! channel to the async half, which writes them. Memory therefore stays flat however large the
//! file: at most the conversation being read plus the batches in flight.

use std::collections::HashSet;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde_json::Value;
use tokio::sync::mpsc;

use super::deep_json::{dismantle, JsonError, JsonReader};
use super::detect::{self, Container, Document, Format};
use super::repair::Repaired;
use super::tree::{self, Conversation, Importer};
use super::{archive, fields, librechat, Problem};
use crate::api::ImportProblem;
use crate::model::User;
use crate::service::error::explain_json_error;
use crate::service::export::{
    confab_session, derived_session_id, keeps_ids, ExportedSession, EXPORT_FORMAT, EXPORT_VERSION,
};
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

/// Keys a top-level object may start with when it holds a list worth streaming: a Confab
/// export (`format`, then `sessions`) or a chatbot-ui export (`history`).
const STREAMED_OBJECT_KEYS: [&str; 5] = ["format", "version", "history", "folders", "prompts"];
/// Longest first key looked at when telling objects apart.
const MAX_FIRST_KEY: usize = 64;

/// The report's remark on a conversation whose text had to be mended.
pub(super) const REPLACED_TEXT: &str = "some of its text was not valid Unicode (half an emoji or a broken character) and was replaced with \u{fffd}";

/// What the reading thread sends.
pub(super) enum Step {
    Batch(Batch),
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

/// Which of these session ids the account holds (deleted sessions included): asked of the store
/// from the reading thread, to tell which sessions of a Confab backup keep their ids.
pub(super) type Owns = Box<dyn Fn(&[String]) -> Result<HashSet<String>, ServiceError> + Send>;

/// Everything the reading thread needs.
pub(super) struct Reading {
    pub user: User,
    pub owns: Owns,
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
    let mut sink = Sink::new(reading.user, reading.owns, reading.importer, reading.steps);
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
    ServiceError::TooLarge(format!("{what} of {} MiB", limit.div_ceil(1024 * 1024)))
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

/// Reads one JSON document whose first byte `peek` has just classified. Broken text in its
/// strings is mended on the way (`repair`).
pub(super) fn read_json(
    input: impl Read,
    container: Container,
    sink: &mut Sink,
) -> Result<(), Halt> {
    let input = Repaired::new(input, sink.replaced.clone());
    match container {
        Container::List => read_list(input, sink),
        Container::Object => read_object(input, sink),
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
    /// Elements seen before the format was known, with whether their text was mended.
    waiting: Vec<(Value, bool)>,
    halt: Option<Halt>,
}

impl ListReader<'_> {
    fn element(&mut self, value: Value) -> Result<(), Halt> {
        let replaced = self.sink.take_replaced();
        let format = match self.format {
            Some(format) => format,
            None => match detect::element(&value) {
                Some(format) => {
                    tracing::debug!(format = format.name(), "import format recognised");
                    self.format = Some(format);
                    for (waiting, replaced) in std::mem::take(&mut self.waiting) {
                        self.sink.conversation(format, waiting, replaced)?;
                    }
                    format
                }
                None => {
                    self.waiting.push((value, replaced));
                    if self.waiting.len() > MAX_UNRECOGNISED {
                        return Err(unrecognised().into());
                    }
                    return Ok(());
                }
            },
        };
        self.sink.conversation(format, value, replaced)
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

/// A top-level object. Confab's and chatbot-ui's exports, which hold many conversations, are
/// streamed a conversation at a time (told apart by their first key); anything else is a single
/// conversation (`read_single`).
fn read_object(mut input: impl Read, sink: &mut Sink) -> Result<(), Halt> {
    let head = first_key(&mut input)?;
    let input = std::io::Cursor::new(head.bytes).chain(input);
    match head.key {
        Some(key) if STREAMED_OBJECT_KEYS.contains(&key.as_str()) => stream_object(input, sink),
        _ => read_single(input, sink),
    }
}

/// A top-level object read key by key with `deep_json` (LibreChat's can nest far deeper than
/// serde allows), never held as text. A LibreChat conversation, which names its
/// `conversationId` before its messages, has its messages read one at a time into what is
/// imported (`librechat::read_messages`): a long conversation is never held as a tree. Any
/// other object is held whole, then recognised by its fields.
fn read_single(input: impl Read, sink: &mut Sink) -> Result<(), Halt> {
    let mut reader = JsonReader::new(BufReader::with_capacity(64 * 1024, input));
    let mut fields = serde_json::Map::new();
    let mut depth = 1;
    // The LibreChat messages read, and from which key.
    let mut streamed: Option<(librechat::Messages, &'static str)> = None;
    reader.begin_object().map_err(json_halt)?;
    let mut first = true;
    while let Some(key) = reader.next_key(&mut first).map_err(json_halt)? {
        let list = match key.as_str() {
            librechat::MESSAGES_TREE => Some(librechat::MESSAGES_TREE),
            librechat::MESSAGES => Some(librechat::MESSAGES),
            _ => None,
        };
        let is_list = list.is_some()
            && fields.contains_key("conversationId")
            && reader.peek().map_err(json_halt)? == Some(b'[');
        match list.filter(|_| is_list) {
            // The last list wins, and the tree wins over the flat list (`librechat::conversation`).
            Some(list)
                if list == librechat::MESSAGES_TREE
                    || streamed.as_ref().is_none_or(|(_, from)| *from == list) =>
            {
                let mut messages = librechat::Messages::default();
                librechat::read_messages(&mut reader, &mut messages, 1, MAX_DEPTH)
                    .map_err(json_halt)?;
                streamed = Some((messages, list));
                fields.insert(key, Value::Array(Vec::new()));
            }
            _ => {
                let (value, levels) = reader.value(MAX_DEPTH - 1).map_err(json_halt)?;
                depth = depth.max(levels + 1);
                if list.is_some() && streamed.is_some() {
                    // A flat list beside the tree already read: not imported.
                    dismantle(value);
                    fields.insert(key, Value::Array(Vec::new()));
                } else if let Some(replaced) = fields.insert(key, value) {
                    dismantle(replaced);
                }
            }
        }
    }
    reader.end().map_err(json_halt)?;
    let value = Value::Object(fields);
    match streamed {
        Some((messages, _))
            if detect::object(&value) == Some(Document::Single(Format::LibreChat)) =>
        {
            let replaced = sink.take_replaced();
            let title = fields::text(&value, "title").map(str::to_owned);
            sink.read_conversation(title, replaced, move || {
                let conversation = messages.into_conversation(&value);
                dismantle(value);
                conversation
            })
        }
        _ => read_value(value, depth, sink),
    }
}

/// A `deep_json` error as the import tells it.
fn json_halt(error: JsonError) -> Halt {
    match error {
        JsonError::Io(error) => read_error(error),
        JsonError::Syntax(message) => Halt::Failed(ServiceError::invalid(
            "invalid_json",
            format!(
                "the file is not valid JSON: {}",
                explain_json_error(&message)
            ),
        )),
    }
}

/// The bytes read to find an object's first key, and the key when it is a plain one.
struct Head {
    bytes: Vec<u8>,
    key: Option<String>,
}

/// Reads `{`, white space and the first key, a byte at a time so that nothing after it is read.
fn first_key(input: &mut impl Read) -> Result<Head, Halt> {
    let mut bytes = Vec::new();
    let mut key = Vec::new();
    let mut in_key = false;
    let mut byte = [0u8; 1];
    while bytes.len() < MAX_FIRST_KEY {
        if input.read(&mut byte).map_err(read_error)? == 0 {
            break;
        }
        bytes.push(byte[0]);
        match (in_key, byte[0]) {
            (false, b'{' | b' ' | b'\n' | b'\r' | b'\t') => {}
            (false, b'"') => in_key = true,
            // An escaped key is unusual enough to read the slow way.
            (true, b'\\') => break,
            (true, b'"') => {
                let key = String::from_utf8(key).ok();
                return Ok(Head { bytes, key });
            }
            (true, other) => key.push(other),
            (false, _) => break,
        }
    }
    Ok(Head { bytes, key: None })
}

fn stream_object(input: impl Read, sink: &mut Sink) -> Result<(), Halt> {
    let mut deserializer = serde_json::Deserializer::from_reader(input);
    let mut object = ObjectReader {
        sink,
        fields: serde_json::Map::new(),
        streamed: false,
        halt: None,
    };
    let parsed = (&mut object)
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end());
    if let Some(halt) = object.halt.take() {
        return Err(halt);
    }
    parsed.map_err(json_error)?;
    if object.streamed {
        return Ok(());
    }
    if is_confab(&object.fields) {
        return Err(ServiceError::invalid(
            "invalid_export",
            "the Confab export is malformed: it has no `sessions` list",
        )
        .into());
    }
    read_value(Value::Object(object.fields), 0, object.sink)
}

fn is_confab(fields: &serde_json::Map<String, Value>) -> bool {
    fields.get("format").and_then(Value::as_str) == Some(EXPORT_FORMAT)
}

/// A whole top-level object, recognised by its fields.
fn read_value(value: Value, depth: usize, sink: &mut Sink) -> Result<(), Halt> {
    let Some(document) = detect::object(&value) else {
        dismantle(value);
        return Err(unrecognised().into());
    };
    if depth > SHALLOW_DEPTH && document != Document::Single(Format::LibreChat) {
        dismantle(value);
        return Err(ServiceError::invalid(
            "invalid_json",
            format!("the file is nested more than {SHALLOW_DEPTH} levels deep"),
        )
        .into());
    }
    let replaced = sink.take_replaced();
    match document {
        Document::Confab => {
            let Value::Object(mut fields) = value else {
                return Err(unrecognised().into());
            };
            check_confab_header(&fields)?;
            sink.confab_account = Some(account_of(&fields));
            if let Some(Value::Array(sessions)) = fields.remove("sessions") {
                for session in sessions {
                    sink.confab(session, replaced)?;
                }
            }
            Ok(())
        }
        Document::ChatbotUiExport => {
            let mut value = value;
            if let Some(Value::Array(history)) = value.get_mut("history").map(Value::take) {
                for conversation in history {
                    sink.conversation(Format::ChatbotUi, conversation, replaced)?;
                }
            }
            Ok(())
        }
        Document::Single(format) => sink.conversation(format, value, replaced),
    }
}

/// The Confab export's `format` and `version`, which must come before its sessions.
fn check_confab_header(fields: &serde_json::Map<String, Value>) -> Result<(), ServiceError> {
    let version = fields.get("version").and_then(Value::as_u64);
    match version {
        Some(version) if is_confab(fields) && version <= u64::from(EXPORT_VERSION) => Ok(()),
        _ => Err(ServiceError::invalid(
            "unsupported_format",
            format!("this is not a Confab export of version {EXPORT_VERSION} or older"),
        )),
    }
}

/// The account a Confab export names (`accountId`, version 2 on), read before its sessions.
fn account_of(fields: &serde_json::Map<String, Value>) -> Option<String> {
    fields
        .get("accountId")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Takes a top-level object key by key: small fields are kept, and the list of conversations
/// (`sessions` of a Confab export, `history` of chatbot-ui's) is streamed.
struct ObjectReader<'a> {
    sink: &'a mut Sink,
    fields: serde_json::Map<String, Value>,
    /// Whether a list of conversations was met.
    streamed: bool,
    halt: Option<Halt>,
}

/// Which list an `ObjectReader` is streaming.
#[derive(Clone, Copy)]
enum Streamed {
    ConfabSessions,
    ChatbotUiHistory,
}

impl<'de> DeserializeSeed<'de> for &mut ObjectReader<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for &mut ObjectReader<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an export")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            let streamed = match key.as_str() {
                "sessions" if is_confab(&self.fields) => {
                    if let Err(error) = check_confab_header(&self.fields) {
                        self.halt = Some(error.into());
                        return Err(de::Error::custom("the import stopped"));
                    }
                    self.sink.confab_account = Some(account_of(&self.fields));
                    Some(Streamed::ConfabSessions)
                }
                "history" if !is_confab(&self.fields) => Some(Streamed::ChatbotUiHistory),
                _ => None,
            };
            match streamed {
                Some(list) => {
                    self.streamed = true;
                    map.next_value_seed(StreamedList {
                        reader: &mut *self,
                        list,
                    })?;
                }
                None => {
                    let value = map.next_value::<Value>()?;
                    self.fields.insert(key, value);
                }
            }
        }
        Ok(())
    }
}

struct StreamedList<'r, 'a> {
    reader: &'r mut ObjectReader<'a>,
    list: Streamed,
}

impl<'de> DeserializeSeed<'de> for StreamedList<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for StreamedList<'_, '_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a list of conversations")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(value) = seq.next_element::<Value>()? {
            let sink = &mut *self.reader.sink;
            let replaced = sink.take_replaced();
            let done = match self.list {
                Streamed::ConfabSessions => sink.confab(value, replaced),
                Streamed::ChatbotUiHistory => sink.conversation(Format::ChatbotUi, value, replaced),
            };
            if let Err(halt) = done {
                self.reader.halt = Some(halt);
                return Err(de::Error::custom("the import stopped"));
            }
        }
        Ok(())
    }
}

/// Converts conversations and groups them into batches for the store.
pub(super) struct Sink {
    user: User,
    owns: Owns,
    /// The header of the Confab export being read: the account it names, if any.
    confab_account: Option<Option<String>>,
    importer: Importer,
    steps: mpsc::Sender<Step>,
    batch: Batch,
    batch_messages: usize,
    /// Pieces of text mended so far (`repair`), and how many of them were already told.
    replaced: Arc<AtomicUsize>,
    replaced_told: usize,
}

impl Sink {
    fn new(user: User, owns: Owns, importer: Importer, steps: mpsc::Sender<Step>) -> Sink {
        Sink {
            user,
            owns,
            confab_account: None,
            importer,
            steps,
            batch: Batch::default(),
            batch_messages: 0,
            replaced: Arc::new(AtomicUsize::new(0)),
            replaced_told: 0,
        }
    }

    pub fn problem(&mut self, problem: Problem) {
        self.batch.problems.push(problem.into());
    }

    /// Whether text was mended since the last call: called after each conversation is parsed,
    /// it says whether that conversation's text was.
    pub fn take_replaced(&mut self) -> bool {
        let now = self.replaced.load(Ordering::Relaxed);
        let replaced = now > self.replaced_told;
        self.replaced_told = now;
        replaced
    }

    /// Converts and adds one conversation. Whatever goes wrong with it, a panic included, is
    /// reported as its problem; the file goes on.
    pub fn conversation(
        &mut self,
        format: Format,
        value: Value,
        replaced: bool,
    ) -> Result<(), Halt> {
        let fallback_title = fields::text(&value, "title")
            .or_else(|| fields::text(&value, "name"))
            .map(str::to_owned);
        self.read_conversation(fallback_title, replaced, move || format.read(value))
    }

    /// Converts and adds the conversation `read` gives, like `conversation`; `fallback_title`
    /// names it in a problem when `read` does not get as far as its title.
    pub fn read_conversation(
        &mut self,
        fallback_title: Option<String>,
        replaced: bool,
        read: impl FnOnce() -> Result<Conversation, Problem>,
    ) -> Result<(), Halt> {
        let importer = &self.importer;
        let converted = panic::catch_unwind(AssertUnwindSafe(|| {
            read().and_then(|conversation| {
                panic_if_asked(&conversation.key);
                let title = conversation.title.clone();
                tree::convert(conversation, importer)
                    .map_err(|reason| Problem::new(title.as_deref(), reason))
            })
        }))
        .unwrap_or_else(|panic| {
            Err(Problem::new(
                fallback_title.as_deref(),
                panicked(panic.as_ref()),
            ))
        });
        self.converted(converted, fallback_title.as_deref(), replaced)
    }

    /// Adds one session of a Confab export. Its ids are kept when the file comes from this
    /// account: it says so (`accountId`), or, naming none (version 1), the account holds a
    /// session of that id; otherwise they are derived anew (see `confab_session`).
    fn confab(&mut self, value: Value, replaced: bool) -> Result<(), Halt> {
        let fallback_title = fields::text(&value, "title").map(str::to_owned);
        let (user, owns, account) = (&self.user, &self.owns, &self.confab_account);
        let converted = panic::catch_unwind(AssertUnwindSafe(|| {
            let exported: ExportedSession = serde_json::from_value(value).map_err(|error| {
                Problem::new(
                    fallback_title.as_deref(),
                    format!("the Confab export is malformed: {error}"),
                )
            })?;
            panic_if_asked(&exported.session.id);
            let named = account.as_ref().and_then(Option::as_deref);
            let keep_ids = match named {
                // A file of another account keeps no ids: nothing to ask the store.
                Some(other) if other != user.id => false,
                named => {
                    let id = exported.session.id.clone();
                    let copy = derived_session_id(&user.id, &exported.session);
                    let held = owns(&[id.clone(), copy.clone()]).map_err(|error| {
                        Problem::new(fallback_title.as_deref(), error.to_string())
                    })?;
                    keeps_ids(named.is_some(), held.contains(&id), held.contains(&copy))
                }
            };
            confab_session(&user.id, keep_ids, exported)
                .map(|session| tree::Converted {
                    session,
                    notes: Vec::new(),
                })
                .map_err(|(title, reason)| Problem::new(Some(&title), reason))
        }))
        .unwrap_or_else(|panic| {
            Err(Problem::new(
                fallback_title.as_deref(),
                panicked(panic.as_ref()),
            ))
        });
        self.converted(converted, fallback_title.as_deref(), replaced)
    }

    fn converted(
        &mut self,
        converted: Result<tree::Converted, Problem>,
        fallback_title: Option<&str>,
        replaced: bool,
    ) -> Result<(), Halt> {
        self.batch.conversations += 1;
        match converted {
            Ok(converted) => {
                let title = converted.session.session.title.clone();
                if replaced {
                    self.problem(Problem::new(Some(&title), REPLACED_TEXT));
                }
                for note in converted.notes {
                    self.problem(Problem::new(Some(&title), note));
                }
                self.session(converted.session)
            }
            Err(problem) => {
                tracing::debug!(title = %problem.title, reason = %problem.reason, "conversation not imported");
                if replaced {
                    self.problem(Problem::new(fallback_title, REPLACED_TEXT));
                }
                self.problem(problem);
                Ok(())
            }
        }
    }

    /// Adds a session, split into parts when it alone is larger than a batch (`split`).
    fn session(&mut self, session: ImportSession) -> Result<(), Halt> {
        for part in split(session) {
            self.push(part)?;
        }
        Ok(())
    }

    fn push(&mut self, session: ImportSession) -> Result<(), Halt> {
        self.batch_messages += session.messages.len();
        self.batch.sessions.push(session);
        if self.batch_messages >= BATCH_MESSAGES {
            self.flush()?;
        }
        Ok(())
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

/// `session` in parts of at most `BATCH_MESSAGES` messages, in order: the store adds the
/// messages of a session it already holds, so the parts join up. The first part creates the
/// session, so every part carries what a new session takes from it (its fork link among it);
/// the leaf is set with the last part, once the branch it ends is stored.
fn split(mut session: ImportSession) -> Vec<ImportSession> {
    let mut parts = Vec::new();
    let mut rest = std::mem::take(&mut session.messages);
    while rest.len() > BATCH_MESSAGES {
        let tail = rest.split_off(BATCH_MESSAGES);
        let head = std::mem::replace(&mut rest, tail);
        // `session` holds no messages here, so the clone is small.
        parts.push(ImportSession {
            active_leaf_id: None,
            messages: head,
            ..session.clone()
        });
    }
    session.messages = rest;
    parts.push(session);
    parts
}

/// Test-only: the source id of a conversation whose conversion panics, to show that a panic
/// costs only its conversation. Compiled into tests alone; nothing in a file can reach it
/// otherwise.
#[cfg(test)]
pub(super) const PANICS: &str = "test-only-this-conversation-panics";

#[cfg(test)]
fn panic_if_asked(key: &str) {
    if key == PANICS {
        panic!("a test asked this conversation to panic");
    }
}

#[cfg(not(test))]
fn panic_if_asked(_key: &str) {}

/// The problem reported for a conversation whose conversion panicked.
pub(super) fn panicked(payload: &(dyn std::any::Any + Send)) -> String {
    let detail = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no detail");
    tracing::error!(detail, "an importer panicked on a conversation");
    format!("Confab failed on this conversation (an internal error: {detail}); it was not imported")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session over a batch is stored in parts; the first creates it, so a fork link on the
    /// last part alone was lost for a fork of more than 2,000 messages restored from a backup.
    #[test]
    fn every_part_of_a_split_session_carries_its_fork_link_and_the_last_its_leaf() {
        use crate::model::{ForkedFrom, MessageStatus, Role};
        use crate::store::{LeafRule, NewMessage, NewSession};

        let at = chrono::Utc::now();
        let message = |n: usize| NewMessage {
            id: format!("m{n}"),
            user_id: "u".into(),
            session_id: "s".into(),
            parent_id: n.checked_sub(1).map(|parent| format!("m{parent}")),
            role: Role::User,
            content: format!("message {n}"),
            message_type: "chat".into(),
            model: None,
            prompt_tokens: None,
            completion_tokens: None,
            latency_ms: None,
            status: MessageStatus::Complete,
            status_reason: None,
            client_id: None,
            usage_estimated: false,
            follow_active_leaf: false,
            active_leaf: LeafRule::Set,
            source_id: None,
            created_at: at,
            starred_at: None,
        };
        let link = ForkedFrom {
            session_id: "source".into(),
            message_id: "at".into(),
        };
        let session = ImportSession {
            session: NewSession {
                folder_id: None,
                id: "s".into(),
                user_id: "u".into(),
                title: "a fork".into(),
                source_id: None,
                created_at: at,
            },
            pinned: true,
            archived: false,
            is_active: true,
            updated_at: Some(at),
            tags: vec!["work".into()],
            active_leaf_id: Some("m4499".into()),
            forked_from: Some(link.clone()),
            messages: (0..4500).map(message).collect(),
        };
        let parts = split(session);
        let shape: Vec<(usize, Option<&str>, Option<&ForkedFrom>, bool)> = parts
            .iter()
            .map(|part| {
                (
                    part.messages.len(),
                    part.active_leaf_id.as_deref(),
                    part.forked_from.as_ref(),
                    part.pinned,
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                (2000, None, Some(&link), true),
                (2000, None, Some(&link), true),
                (500, Some("m4499"), Some(&link), true),
            ]
        );
        let ids: Vec<&str> = parts
            .iter()
            .flat_map(|part| part.messages.iter().map(|m| m.id.as_str()))
            .collect();
        let expected: Vec<String> = (0..4500).map(|n| format!("m{n}")).collect();
        assert_eq!(ids, expected, "every message once, in order");
        // A session within a batch is one part, as it was.
        let small = split(ImportSession {
            messages: (0..3).map(message).collect(),
            ..parts[2].clone()
        });
        assert_eq!(small.len(), 1);
        assert_eq!(small[0].messages.len(), 3);
    }

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
