//! The driver's command log, for the query-shape tests (feature `test-hooks`): what a store
//! sends, recorded by the `mongodb` driver's command monitor, and the checks made on it, shared
//! by the store's own tests and the HTTP suite.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use mongodb::bson::{Bson, Document};
use mongodb::event::cmap::CmapEvent;
use mongodb::event::command::CommandEvent;
use mongodb::event::EventHandler;
use mongodb::options::ClientOptions;
use mongodb::{Database, IndexModel};

use super::{indexes, ServerKind};

/// The collections a sharded cluster shards by `user_id` (see `docs/mongodb.md`).
pub const SHARDED: [&str; 3] = ["chat_sessions", "messages", "user_totals"];

/// One event of the command monitor: a command started (with its body) or ended.
#[derive(Clone, Debug)]
pub struct Sent {
    pub name: String,
    pub request_id: i32,
    /// `None` for the end of the command (success or failure).
    pub command: Option<Document>,
}

/// Connections a monitored client keeps open (`min_pool_size`), so that commands a store
/// sends together each find one ready. Without them, the third of three reads sent together
/// waits for a new connection's handshake, and starts after the first two ended: one round
/// trip of the code counted as two, more often the busier the machine.
pub const POOLED_CONNECTIONS: usize = 8;

/// The commands a client sent, in the order the driver's command monitor saw them, and the
/// connections of its pool that are ready.
#[derive(Clone, Default)]
pub struct CommandLog {
    sent: Arc<Mutex<Vec<Sent>>>,
    ready: Arc<AtomicUsize>,
}

impl CommandLog {
    /// Records every command of a client made with `options` in this log, and has the client
    /// keep `POOLED_CONNECTIONS` connections open (see `pooled`).
    pub fn monitor(&self, options: &mut ClientOptions) {
        options.min_pool_size = Some(POOLED_CONNECTIONS as u32);
        options.max_pool_size = Some(
            options
                .max_pool_size
                .unwrap_or(10)
                .max(POOLED_CONNECTIONS as u32),
        );
        let ready = Arc::clone(&self.ready);
        // Counted as they become ready and never uncounted: none is closed while idle (the
        // client sets no `max_idle_time`).
        options.cmap_event_handler = Some(EventHandler::callback(move |event| {
            if let CmapEvent::ConnectionReady(_) = event {
                ready.fetch_add(1, Ordering::SeqCst);
            }
        }));
        let sink = Arc::clone(&self.sent);
        options.command_event_handler = Some(EventHandler::callback(move |event| {
            let sent = match event {
                CommandEvent::Started(started) => Sent {
                    name: started.command_name,
                    request_id: started.request_id,
                    command: Some(started.command),
                },
                CommandEvent::Succeeded(ended) => Sent {
                    name: ended.command_name,
                    request_id: ended.request_id,
                    command: None,
                },
                CommandEvent::Failed(ended) => Sent {
                    name: ended.command_name,
                    request_id: ended.request_id,
                    command: None,
                },
                _ => return,
            };
            sink.lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(sent);
        }));
    }

    /// Waits (up to 30 s) until the pool of the monitored client holds `POOLED_CONNECTIONS`
    /// ready connections, which the driver opens in the background; call it before measuring
    /// round trips. Panics when they are not ready by then: a count measured otherwise could
    /// be off by a handshake.
    pub async fn pooled(&self) {
        let start = Instant::now();
        while self.ready.load(Ordering::SeqCst) < POOLED_CONNECTIONS {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the driver opened {} of {POOLED_CONNECTIONS} connections in 30 s",
                self.ready.load(Ordering::SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The events since the log was last taken, emptying it.
    pub fn take(&self) -> Vec<Sent> {
        std::mem::take(
            &mut *self
                .sent
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}

/// The round trips in `events`: a round trip begins with a command started while none was in
/// flight, and holds every command started before all of them ended (sent together). Each
/// round trip's command names are sorted.
pub fn round_trips(events: &[Sent]) -> Vec<Vec<String>> {
    let mut trips: Vec<Vec<String>> = Vec::new();
    let mut in_flight = std::collections::HashSet::new();
    for event in events {
        if event.command.is_some() {
            if in_flight.is_empty() {
                trips.push(Vec::new());
            }
            in_flight.insert(event.request_id);
            if let Some(trip) = trips.last_mut() {
                trip.push(event.name.clone());
            }
        } else {
            in_flight.remove(&event.request_id);
        }
    }
    for trip in &mut trips {
        trip.sort();
    }
    trips
}

/// The statements of a command on a sharded collection: its filters (`find`, `count`,
/// `distinct`, `findAndModify`, each of `update`'s and `delete`'s), its inserted documents,
/// or an `aggregate`'s `$match` stages. `None` for another collection or a command that
/// reads or writes no documents (index and collection management).
pub fn statements(name: &str, command: &Document) -> Option<(String, Vec<Document>)> {
    let collection = command.get_str(name).ok()?;
    if !SHARDED.contains(&collection) {
        return None;
    }
    let each = |field: &str, inner: Option<&str>| -> Vec<Document> {
        command
            .get_array(field)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Bson::as_document)
                    .filter_map(|item| match inner {
                        Some(inner) => item.get_document(inner).ok().cloned(),
                        None => Some(item.clone()),
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let one = |field: &str| vec![command.get_document(field).cloned().unwrap_or_default()];
    let statements = match name {
        "find" => one("filter"),
        "count" | "distinct" => one("query"),
        "findAndModify" => one("query"),
        "update" => each("updates", Some("q")),
        "delete" => each("deletes", Some("q")),
        "insert" => each("documents", None),
        "aggregate" => each("pipeline", Some("$match")),
        "drop" | "dropIndexes" | "createIndexes" | "listIndexes" => return None,
        // Unknown to this check: reported as unrouted, to be looked at.
        _ => vec![Document::new()],
    };
    Some((collection.to_owned(), statements))
}

/// The commands started in `events` on a sharded collection, each with its collection and its
/// statements (see `statements`).
fn on_sharded(
    events: &[Sent],
) -> impl Iterator<Item = (&Sent, &Document, String, Vec<Document>)> + '_ {
    events.iter().filter_map(|event| {
        let command = event.command.as_ref()?;
        let (collection, statements) = statements(&event.name, command)?;
        Some((event, command, collection, statements))
    })
}

/// The user a statement names by an equality on `user_id`.
pub fn routed_to(statement: &Document) -> Option<&str> {
    statement.get_str("user_id").ok()
}

/// Every statement in `events` on a sharded collection that does not name one user by an
/// equality on `user_id` (a filter, or an inserted document), as `name collection statement`.
/// Two sweeps are for every user by design and go to every shard (`docs/mongodb.md`): the
/// purge of sessions deleted before a time (`{deleted_at: {$lt: t}}`) and the settling of
/// replies whose node died (`{status: "streaming", updated_at: {$lt: t}}`).
pub fn routing_faults(events: &[Sent]) -> Vec<String> {
    let mut faults = Vec::new();
    for (event, _, collection, statements) in on_sharded(events) {
        if statements.is_empty() {
            faults.push(format!("{} {collection} (no statement)", event.name));
        }
        for statement in statements {
            let keys: Vec<&str> = statement.keys().map(String::as_str).collect();
            let sweep = match (event.name.as_str(), collection.as_str()) {
                ("find", "chat_sessions") => keys == ["deleted_at"],
                ("find", "messages") => keys == ["status", "updated_at"],
                _ => false,
            };
            if !sweep && routed_to(&statement).is_none() {
                faults.push(format!("{} {collection} {statement}", event.name));
            }
        }
    }
    faults
}

/// Panics naming every statement in `events` that `routing_faults`, `unbounded_reads` or
/// `unindexed` finds, and every index of the plan that the server does not hold
/// (`Indexes::missing`).
pub fn assert_shapes(events: &[Sent], indexes: &Indexes) {
    let faults = routing_faults(events);
    assert!(
        faults.is_empty(),
        "sent to every shard:\n{}",
        faults.join("\n")
    );
    let faults = unbounded_reads(events);
    assert!(faults.is_empty(), "unbounded reads:\n{}", faults.join("\n"));
    let missing = indexes.missing();
    assert!(
        missing.is_empty(),
        "planned indexes the server does not hold:\n{}",
        missing.join("\n")
    );
    let faults = unindexed(events, &indexes.coverage());
    assert!(
        faults.is_empty(),
        "served by no index:\n{}",
        faults.join("\n")
    );
}

/// Every statement in `events` that a large collection could not answer from a bounded read,
/// as `name collection what`: a `$regex` that is not anchored at the start (`^`), which reads
/// every index key; an `aggregate` without a `$limit` stage (a count or sum over all of a
/// user's documents: kept as counters instead); a `count` without a limit; a `distinct`.
pub fn unbounded_reads(events: &[Sent]) -> Vec<String> {
    let mut faults = Vec::new();
    for (event, command, collection, statements) in on_sharded(events) {
        let bounded = match event.name.as_str() {
            "aggregate" => command.get_array("pipeline").is_ok_and(|stages| {
                stages
                    .iter()
                    .filter_map(Bson::as_document)
                    .any(|stage| stage.contains_key("$limit"))
            }),
            "count" => command.contains_key("limit"),
            "distinct" => false,
            _ => true,
        };
        if !bounded {
            faults.push(format!("{} {collection} {command}", event.name));
        }
        for statement in &statements {
            for (_, pattern) in regexes(statement) {
                if !pattern.starts_with('^') {
                    faults.push(format!(
                        "{} {collection} unanchored /{pattern}/",
                        event.name
                    ));
                }
            }
        }
    }
    faults
}

/// The field and pattern of every `$regex` (and regular expression value) in a filter, at any
/// depth.
fn regexes(filter: &Document) -> Vec<(String, String)> {
    fn walk(field: &str, value: &Bson, found: &mut Vec<(String, String)>) {
        match value {
            Bson::RegularExpression(regex) => found.push((field.to_owned(), regex.pattern.clone())),
            Bson::Document(document) => {
                for (key, inner) in document {
                    match (key.as_str(), inner) {
                        ("$regex", Bson::String(pattern)) => {
                            found.push((field.to_owned(), pattern.clone()))
                        }
                        // An operator applies to the field it is under.
                        (operator, _) if operator.starts_with('$') => walk(field, inner, found),
                        _ => walk(key, inner, found),
                    }
                }
            }
            Bson::Array(items) => items.iter().for_each(|item| walk(field, item, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk("", &Bson::Document(filter.clone()), &mut found);
    found
}

/// An index as `listIndexes` reports it (or as `indexes::planned` plans it): its keys in order
/// with their directions (`1`, `-1`), whether it is unique, and its partial filter.
#[derive(Clone, Debug, PartialEq)]
pub struct Index {
    pub collection: String,
    pub name: String,
    pub keys: Document,
    pub unique: bool,
    pub partial: Option<Document>,
}

impl Index {
    /// `model` on `collection`. `_id_`, the index every collection has on `_id`, is unique
    /// although `listIndexes` does not say so.
    pub fn new(collection: &str, model: &IndexModel) -> Index {
        let options = model.options.as_ref();
        let name = options
            .and_then(|options| options.name.clone())
            .unwrap_or_default();
        Index {
            collection: collection.to_owned(),
            unique: name == "_id_" || options.and_then(|options| options.unique) == Some(true),
            name,
            keys: model.keys.clone(),
            partial: options.and_then(|options| options.partial_filter_expression.clone()),
        }
    }

    /// The keys in order, each with its direction (0 for a key that is not ascending or
    /// descending, such as `"text"`, which serves no sort).
    fn key_list(&self) -> Vec<(&str, i32)> {
        self.keys
            .iter()
            .map(|(field, direction)| (field.as_str(), self::direction(direction)))
            .collect()
    }
}

/// The sign of an index key's or a sort key's direction (0 when it is not a number).
fn direction(value: &Bson) -> i32 {
    let number = match value {
        Bson::Int32(number) => f64::from(*number),
        Bson::Int64(number) => *number as f64,
        Bson::Double(number) => *number,
        _ => 0.0,
    };
    if number > 0.0 {
        1
    } else if number < 0.0 {
        -1
    } else {
        0
    }
}

/// The indexes a store's server holds, read back with `listIndexes` (never from a table in
/// the tests), and the server's kind, whose plan (`indexes::planned`) they are checked against.
#[derive(Clone, Debug)]
pub struct Indexes {
    pub server: ServerKind,
    pub held: Vec<Index>,
}

impl Indexes {
    /// `listIndexes` of every collection in `database` (`listCollections` first). Read it
    /// before the commands to check are taken from the log: these commands go to it too.
    pub async fn read(database: &Database, server: ServerKind) -> mongodb::error::Result<Indexes> {
        let mut held = Vec::new();
        for collection in database.list_collection_names().await? {
            let models: Vec<IndexModel> = database
                .collection::<Document>(&collection)
                .list_indexes()
                .await?
                .try_collect()
                .await?;
            held.extend(models.iter().map(|model| Index::new(&collection, model)));
        }
        Ok(Indexes { server, held })
    }

    /// Every index that `indexes::planned` plans for this server and the server does not hold
    /// under that name with the same keys (in order, with their directions), uniqueness and
    /// partial filter, as `collection name`.
    pub fn missing(&self) -> Vec<String> {
        indexes::planned(self.server)
            .iter()
            .map(|(collection, model)| Index::new(collection, model))
            .filter(|planned| !self.held.contains(planned))
            .map(|planned| format!("{} {} {}", planned.collection, planned.name, planned.keys))
            .collect()
    }

    /// The indexes queries are checked against: those held, and those that a real MongoDB
    /// holds beyond them (`planned(ServerKind::MongoDb)`: FerretDB holds neither
    /// `messages_terms` nor the partial `messages_uncounted`, while the queries are shaped for
    /// MongoDB).
    pub fn coverage(&self) -> Vec<Index> {
        let mut all = self.held.clone();
        for (collection, model) in indexes::planned(ServerKind::MongoDb) {
            let planned = Index::new(collection, &model);
            let held = |index: &Index| {
                index.collection == planned.collection && index.name == planned.name
            };
            if !all.iter().any(held) {
                all.push(planned);
            }
        }
        all
    }
}

/// What one statement asks of a field, for choosing an index.
#[derive(Clone, Debug, Default, PartialEq)]
struct Condition {
    /// An equality (a value, `$eq`, `$in`, `$all`): the index's bounds on this field are
    /// points, so the keys after it are still in order. Otherwise a range (`$lt`, `$gt`,
    /// `$ne`, `$nin`, `$exists`, `$regex`, ...): keys after it are not.
    equality: bool,
    /// The value of a single-value equality (`$in` of one value is one).
    value: Option<Bson>,
    /// Whether every matching document has the field: an equality on a value other than
    /// null, `$in` without null, `$all`, or `$exists: true`. Not `$ne`, which also matches
    /// documents without the field.
    exists: bool,
}

impl Condition {
    /// What `value` asks of its field (`{field: value}` in a filter).
    fn of(value: &Bson) -> Condition {
        match value {
            Bson::Document(operators)
                if operators
                    .keys()
                    .next()
                    .is_some_and(|key| key.starts_with('$')) =>
            {
                let mut condition = Condition::default();
                for (operator, argument) in operators {
                    condition.add(operator, argument);
                }
                condition
            }
            Bson::RegularExpression(_) => Condition::default(),
            value => Condition::equal(value),
        }
    }

    fn equal(value: &Bson) -> Condition {
        Condition {
            equality: true,
            value: Some(value.clone()),
            exists: *value != Bson::Null,
        }
    }

    /// Adds one operator of the field's condition; those not named bound a range, or nothing.
    fn add(&mut self, operator: &str, argument: &Bson) {
        match (operator, argument) {
            ("$eq", value) => self.join(Condition::equal(value)),
            ("$in", Bson::Array(values)) if values.len() == 1 => {
                self.join(Condition::equal(&values[0]))
            }
            ("$in", Bson::Array(values)) => self.join(Condition {
                equality: true,
                value: None,
                exists: !values.contains(&Bson::Null),
            }),
            // A multikey index is searched for one of the values, the others checked on the
            // documents found.
            ("$all", Bson::Array(values)) if !values.is_empty() => self.join(Condition {
                equality: true,
                value: None,
                exists: true,
            }),
            ("$exists", Bson::Boolean(true)) => self.exists = true,
            _ => {}
        }
    }

    /// Both conditions on one field (`$and`): the field is an equality if either makes it one.
    fn join(&mut self, other: Condition) {
        self.equality |= other.equality;
        self.exists |= other.exists;
        if self.value.is_none() {
            self.value = other.value;
        }
    }
}

/// The conditions of one statement (one branch of its `$or`s), by field (dotted paths are
/// fields).
type Shape = BTreeMap<String, Condition>;

/// The shapes of `filter`: one, or one per branch of its `$or` (each joined with the
/// conditions outside it; several `$or` make every combination). `$and` is walked; other
/// top-level operators (`$nor`, `$expr`) constrain nothing an index can use.
fn shapes(filter: &Document) -> Vec<Shape> {
    let mut outside = Shape::new();
    let mut choices: Vec<Vec<Shape>> = Vec::new();
    for (key, value) in filter {
        let branches = || {
            value
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Bson::as_document)
        };
        match key.as_str() {
            "$and" => choices.extend(branches().map(shapes)),
            "$or" => choices.push(branches().flat_map(shapes).collect()),
            operator if operator.starts_with('$') => {}
            field => join(&mut outside, field, Condition::of(value)),
        }
    }
    let mut all = vec![outside];
    for choice in choices {
        all = all
            .iter()
            .flat_map(|shape| {
                choice.iter().map(move |branch| {
                    let mut joined = shape.clone();
                    for (field, condition) in branch {
                        join(&mut joined, field, condition.clone());
                    }
                    joined
                })
            })
            .collect();
    }
    all
}

fn join(shape: &mut Shape, field: &str, condition: Condition) {
    match shape.get_mut(field) {
        Some(existing) => existing.join(condition),
        None => {
            shape.insert(field.to_owned(), condition);
        }
    }
}

/// Whether every document matching `shape` matches the partial index filter `partial`, as
/// MongoDB requires to use a partial index: each of its fields must be implied, `$exists:
/// true` by a condition that makes the field exist, an equality by the same equality.
/// Anything else in a partial filter counts as not implied.
fn implies(shape: &Shape, partial: &Document) -> bool {
    partial.iter().all(|(field, wanted)| {
        let Some(condition) = shape.get(field) else {
            return false;
        };
        match wanted {
            Bson::Document(operators) if operators.len() == 1 => match operators.iter().next() {
                Some((operator, Bson::Boolean(true))) if operator == "$exists" => condition.exists,
                Some((operator, value)) if operator == "$eq" => {
                    condition.value.as_ref() == Some(value)
                }
                _ => false,
            },
            Bson::Document(_) => false,
            value => condition.value.as_ref() == Some(value),
        }
    })
}

/// Whether `index` serves a statement of `shape` sorted by `sort` (field, direction), by
/// MongoDB's rule for a compound index (see `unindexed`).
fn serves(index: &Index, shape: &Shape, sort: &[(String, i32)]) -> bool {
    if index
        .partial
        .as_ref()
        .is_some_and(|partial| !implies(shape, partial))
    {
        return false;
    }
    let equality = |field: &str| shape.get(field).is_some_and(|condition| condition.equality);
    let keys = index.key_list();
    let prefix = keys.iter().take_while(|(field, _)| equality(field)).count();
    // A sort key held to one value by an equality orders nothing.
    let sort: Vec<&(String, i32)> = sort.iter().filter(|(field, _)| !equality(field)).collect();
    let after = &keys[prefix..];
    let follows = |sign: i32| {
        sort.len() <= after.len()
            && sort
                .iter()
                .zip(after)
                .all(|((field, wanted), (key, held))| {
                    field == key && *wanted == sign * held && *held != 0
                })
    };
    if !(follows(1) || follows(-1)) {
        return false;
    }
    let bounded: HashSet<&str> = keys[..prefix].iter().map(|(field, _)| *field).collect();
    let one_document = bounded.contains("_id") || (index.unique && prefix == keys.len());
    let all_equalities = shape
        .iter()
        .filter(|(_, condition)| condition.equality)
        .all(|(field, _)| bounded.contains(field.as_str()));
    let range_on_first = sort.is_empty()
        && keys
            .first()
            .is_some_and(|(field, _)| shape.get(*field).is_some_and(|c| !c.equality));
    (all_equalities || one_document) && (prefix > 0 || range_on_first)
}

/// One read's or write's filter, with the order it asks for.
struct Query {
    filter: Document,
    sort: Vec<(String, i32)>,
}

impl Query {
    fn new(filter: Option<&Document>, sort: Option<&Document>) -> Query {
        Query {
            filter: filter.cloned().unwrap_or_default(),
            sort: sort
                .map(|sort| {
                    sort.iter()
                        .map(|(field, value)| (field.clone(), direction(value)))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// The collection and the queries of a command, on any collection: `find`'s filter and sort,
/// `count`'s and `distinct`'s query, `findAndModify`'s query and sort, each of `update`'s and
/// `delete`'s `q`, an `aggregate`'s leading `$match` stages (merged, as MongoDB merges them)
/// and the `$sort` right after them. None for the commands that read no documents or continue
/// a query already seen (`insert`, index and collection management, `getMore`,
/// `killCursors`); another command with a collection is one query without a filter, which no
/// index serves, to be looked at.
fn queries(name: &str, command: &Document) -> Option<(String, Vec<Query>)> {
    let collection = command.get_str(name).ok()?;
    let field = |key: &str| command.get_document(key).ok();
    let each = |key: &str| -> Vec<Query> {
        let items = command
            .get_array(key)
            .map(Vec::as_slice)
            .unwrap_or_default();
        items
            .iter()
            .filter_map(Bson::as_document)
            .map(|item| Query::new(item.get_document("q").ok(), item.get_document("sort").ok()))
            .collect()
    };
    let queries = match name {
        "find" => vec![Query::new(field("filter"), field("sort"))],
        "findAndModify" => vec![Query::new(field("query"), field("sort"))],
        "count" | "distinct" => vec![Query::new(field("query"), None)],
        "update" => each("updates"),
        "delete" => each("deletes"),
        "aggregate" => vec![pipeline_query(command)],
        "insert" | "createIndexes" | "dropIndexes" | "listIndexes" | "drop" | "create"
        | "killCursors" => return None,
        _ => vec![Query::new(None, None)],
    };
    Some((collection.to_owned(), queries))
}

/// The query an index can serve in an aggregation: its leading `$match` stages, and the
/// `$sort` that follows them.
fn pipeline_query(command: &Document) -> Query {
    let stages = command
        .get_array("pipeline")
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut stages = stages.iter().filter_map(Bson::as_document).peekable();
    let mut matches = Vec::new();
    while let Some(filter) = stages
        .peek()
        .and_then(|stage| stage.get_document("$match").ok())
    {
        matches.push(Bson::Document(filter.clone()));
        stages.next();
    }
    let filter = match matches.len() {
        0 => Document::new(),
        1 => matches
            .pop()
            .and_then(|only| only.as_document().cloned())
            .unwrap_or_default(),
        _ => mongodb::bson::doc! { "$and": matches },
    };
    let sort = stages
        .next()
        .and_then(|stage| stage.get_document("$sort").ok());
    Query::new(Some(&filter), sort)
}

/// Every statement in `events` that no index in `indexes` serves, as `name collection
/// statement sort` (for an `$or`, the branch that no index serves). `indexes` are those the
/// server holds, read back with `listIndexes`, with those only a real MongoDB holds
/// (`Indexes::coverage`).
///
/// The rule is MongoDB's for a compound index ("ESR": equality fields first, then the sort,
/// then ranges; the planner reads an index in order only after point bounds). Each field of a
/// statement's filter is an equality (a value, `$eq`, `$in`, `$all`) or a range (`$lt`,
/// `$gt`, `$lte`, `$gte`, `$ne`, `$nin`, `$exists`, `$regex`, ...), walking `$and`; an `$or`
/// is checked branch by branch, each joined with the fields outside it (MongoDB plans each
/// branch on its own and merges them). Index I serves a statement when:
///
/// 1. I's keys start with fields that are all equality fields of the statement, in any order
///    (the prefix, as long as it goes): within those point bounds the rest of the keys are in
///    order;
/// 2. then come the sort keys (less any held to one value by an equality), in order, all in
///    I's directions or all reversed: otherwise MongoDB sorts in memory, every matching
///    document, before a limit applies;
/// 3. every equality field of the statement is in the prefix (otherwise the read walks every
///    key of the prefix and checks that field on each document), unless the prefix holds
///    `_id` or every key of a unique index: then each point is one document and the other
///    fields are checked on it (`_id` plus the owner `user_id` that routes it). Range fields
///    may follow in I or not: they narrow the keys read, or are checked on each document;
/// 4. something bounds the scan: the prefix is not empty, or, for a statement without a sort,
///    I's first key has a range (the purge, `{deleted_at: {$lt: t}}`);
/// 5. a partial index (`partialFilterExpression`) only serves a statement that implies its
///    filter (MongoDB's rule for using one): `$exists: true` by `$exists: true` or an
///    equality on a value other than null, an equality by the same one. `$ne` alone does not
///    imply `$exists: true` (it matches documents without the field).
///
/// `_id` is served by its implicit unique index `_id_`, which `listIndexes` returns (and
/// which a collection made after the indexes were read has too). Inserts need no index.
pub fn unindexed(events: &[Sent], indexes: &[Index]) -> Vec<String> {
    let mut faults = Vec::new();
    for event in events {
        let Some(command) = &event.command else {
            continue;
        };
        let Some((collection, queries)) = queries(&event.name, command) else {
            continue;
        };
        let mut candidates: Vec<Index> = indexes
            .iter()
            .filter(|index| index.collection == collection)
            .cloned()
            .collect();
        // A collection made after the indexes were read (`user_totals`, `health`) has its
        // `_id_` too.
        if !candidates.iter().any(|index| index.name == "_id_") {
            candidates.push(Index {
                collection: collection.clone(),
                name: "_id_".to_owned(),
                keys: mongodb::bson::doc! { "_id": 1 },
                unique: true,
                partial: None,
            });
        }
        for query in queries {
            for shape in shapes(&query.filter) {
                let served = candidates
                    .iter()
                    .any(|index| serves(index, &shape, &query.sort));
                if !served && !unindexed_by_design(&event.name, &collection, &shape) {
                    let fields: Vec<String> = shape
                        .iter()
                        .map(|(field, condition)| {
                            let kind = if condition.equality { "=" } else { "range" };
                            format!("{field} {kind}")
                        })
                        .collect();
                    faults.push(format!(
                        "{} {collection} {{{}}} sort {:?} (filter {})",
                        event.name,
                        fields.join(", "),
                        query.sort,
                        query.filter
                    ));
                }
            }
        }
    }
    faults
}

/// The statements `unindexed` leaves out, each for a reason given here and in
/// `docs/mongodb.md`, so that the check catches any other:
///
/// - search (`messages` with `terms`): the terms index (`user_id, terms, _id -1`) finds the
///   matches of the words; its optional filters (session, role, model, type, dates) are
///   checked on them, and the last word while it is typed is a prefix (a range on `terms`),
///   whose matches are sorted by id in memory (the 1000 newest kept). MongoDB's ESR guide
///   allows a range before the sort when it is selective, as a word prefix is; an index in id
///   order would read every term of the user, and one more multikey index per filter would
///   repeat the largest index;
/// - a session's messages filtered by `role` or `type` (API only): read in id order from the
///   session's index (`user_id, session_id, _id`), the filter checked on each until the page
///   is full;
/// - the session list filtered by `pinned` (API only): read in activity order from the list
///   index (or a tag's, `chat_sessions_tag`, with a tag), the filter checked on each session;
/// - counting the accounts (`users`, an empty filter): the admin's figure counts them all
///   (a small, unsharded collection), and a sign-up asks only whether there is one (`$limit`
///   1).
fn unindexed_by_design(name: &str, collection: &str, shape: &Shape) -> bool {
    let only = |fields: &[&str]| shape.keys().all(|field| fields.contains(&field.as_str()));
    match collection {
        "messages" => {
            shape.contains_key("terms")
                || (name == "find"
                    && (shape.contains_key("role") || shape.contains_key("type"))
                    && only(&["user_id", "session_id", "_id", "role", "type"]))
        }
        "chat_sessions" => {
            name == "find"
                && shape.contains_key("pinned")
                && only(&[
                    "user_id",
                    "deleted_at",
                    "archived",
                    "pinned",
                    "tags",
                    "activity_at",
                    "_id",
                ])
        }
        // The administrators' lists (`admin`): a page read in the order of an index
        // (`users_email`, `invitations_recent`, `audit_log_recent`) with a limit, from its
        // start or from a cursor's range on its first key: a bounded walk of the index, which
        // `serves` cannot tell from a scan as it does not see the limit.
        "users" => {
            (name == "aggregate" && shape.is_empty()) || (name == "find" && only(&["email_key"]))
        }
        "invitations" => name == "find" && shape.is_empty(),
        "audit_log" => name == "find" && only(&["at", "_id"]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use mongodb::bson::{doc, Document};

    use super::*;

    fn started(name: &str, command: Document) -> Sent {
        Sent {
            name: name.to_owned(),
            request_id: 1,
            command: Some(command),
        }
    }

    fn index(collection: &str, name: &str, keys: Document, unique: bool) -> Index {
        Index {
            collection: collection.to_owned(),
            name: name.to_owned(),
            keys,
            unique,
            partial: None,
        }
    }

    /// The messages' indexes of this test: `_id_`, one compound, one unique, one partial.
    fn message_indexes() -> Vec<Index> {
        vec![
            index("messages", "_id_", doc! { "_id": 1 }, true),
            index(
                "messages",
                "by_session",
                doc! { "user_id": 1, "session_id": 1, "_id": 1 },
                false,
            ),
            index(
                "messages",
                "client",
                doc! { "user_id": 1, "client_key": 1 },
                true,
            ),
            Index {
                partial: Some(doc! { "uncounted.claim": { "$exists": true } }),
                ..index(
                    "messages",
                    "uncounted",
                    doc! { "user_id": 1, "uncounted.claim": 1 },
                    false,
                )
            },
            index(
                "messages",
                "streaming",
                doc! { "status": 1, "updated_at": 1 },
                false,
            ),
        ]
    }

    fn find(filter: Document, sort: Document) -> Sent {
        started(
            "find",
            doc! { "find": "messages", "filter": filter, "sort": sort },
        )
    }

    fn faults_of(events: &[Sent]) -> Vec<String> {
        unindexed(events, &message_indexes())
    }

    #[test]
    fn a_compound_index_serves_equalities_then_the_sort_in_either_direction() {
        let events = [
            // Equalities in another order than the index's, then its sort.
            find(
                doc! { "session_id": "s", "user_id": "u" },
                doc! { "_id": 1 },
            ),
            // The sort reversed, a range on the sorted field, a limit-free count.
            find(
                doc! { "user_id": "u", "session_id": "s", "_id": { "$lt": "m9" } },
                doc! { "_id": -1 },
            ),
            started(
                "count",
                doc! { "count": "messages", "query": { "user_id": "u", "session_id": { "$in": ["s1", "s2"] } } },
            ),
            // An aggregation's leading `$match` then `$sort`.
            started(
                "aggregate",
                doc! { "aggregate": "messages", "pipeline": [
                    { "$match": { "user_id": "u" } },
                    { "$match": { "session_id": "s" } },
                    { "$sort": { "_id": -1 } },
                    { "$limit": 5 },
                ] },
            ),
            // Inserts need no index.
            started(
                "insert",
                doc! { "insert": "messages", "documents": [{ "x": 1 }] },
            ),
        ];
        assert_eq!(unindexed(&events, &message_indexes()), Vec::<String>::new());
    }

    #[test]
    fn an_equality_missing_from_the_prefix_is_a_fault() {
        // `status` is an equality that no index's prefix holds with the others.
        let fault = find(
            doc! { "user_id": "u", "session_id": "s", "status": "done" },
            doc! {},
        );
        let faults = unindexed(&[fault], &message_indexes());
        assert_eq!(faults.len(), 1, "{faults:?}");
        assert!(faults[0].starts_with("find messages {session_id =, status =, user_id =}"));
        // `session_id` alone: the index's first key is not in the statement.
        assert_eq!(
            faults_of(&[find(doc! { "session_id": "s" }, doc! {})]),
            vec![r#"find messages {session_id =} sort [] (filter { "session_id": "s" })"#]
        );
    }

    #[test]
    fn a_sort_that_does_not_follow_the_prefix_is_a_fault() {
        // `_id` is not the key after `user_id` in any index.
        assert_eq!(
            faults_of(&[find(doc! { "user_id": "u" }, doc! { "_id": -1 })]),
            vec![r#"find messages {user_id =} sort [("_id", -1)] (filter { "user_id": "u" })"#]
        );
        // Two sort keys in mixed directions relative to the index.
        let indexes = [index(
            "chat_sessions",
            "recent",
            doc! { "user_id": 1, "activity_at": -1, "_id": -1 },
            false,
        )];
        let sorted = |sort: Document| {
            started(
                "find",
                doc! { "find": "chat_sessions", "filter": { "user_id": "u" }, "sort": sort },
            )
        };
        assert!(unindexed(&[sorted(doc! { "activity_at": -1, "_id": -1 })], &indexes).is_empty());
        assert!(unindexed(&[sorted(doc! { "activity_at": 1, "_id": 1 })], &indexes).is_empty());
        assert_eq!(
            unindexed(&[sorted(doc! { "activity_at": -1, "_id": 1 })], &indexes),
            vec![
                r#"find chat_sessions {user_id =} sort [("activity_at", -1), ("_id", 1)] (filter { "user_id": "u" })"#
            ]
        );
        // A sort key held by an equality orders nothing.
        let held = started(
            "find",
            doc! { "find": "chat_sessions", "filter": { "user_id": "u", "activity_at": 5 }, "sort": { "activity_at": 1, "_id": -1 } },
        );
        assert!(unindexed(&[held], &indexes).is_empty());
    }

    #[test]
    fn id_or_a_whole_unique_index_leaves_other_fields_to_one_document() {
        let events = [
            find(
                doc! { "_id": "m1", "user_id": "u", "purging": { "$ne": true } },
                doc! {},
            ),
            find(
                doc! { "_id": { "$in": ["m1", "m2"] }, "user_id": "u" },
                doc! {},
            ),
            started(
                "update",
                doc! { "update": "messages", "updates": [
                    { "q": { "user_id": "u", "client_key": "c:1", "session_id": "s" }, "u": {} },
                ] },
            ),
        ];
        assert_eq!(unindexed(&events, &message_indexes()), Vec::<String>::new());
        // Without the whole unique index, `session_id` must be in the prefix.
        let partly = find(doc! { "user_id": "u", "status": "done" }, doc! {});
        assert_eq!(
            faults_of(&[partly]),
            vec![
                r#"find messages {status =, user_id =} sort [] (filter { "user_id": "u", "status": "done" })"#
            ]
        );
    }

    #[test]
    fn a_partial_index_serves_only_statements_that_imply_its_filter() {
        let exists = find(
            doc! { "user_id": "u", "uncounted.claim": { "$exists": true, "$ne": "new" } },
            doc! {},
        );
        let equal = find(doc! { "user_id": "u", "uncounted.claim": "new" }, doc! {});
        assert_eq!(faults_of(&[exists, equal]), Vec::<String>::new());
        // `$ne` alone also matches messages without the field: MongoDB will not use the index.
        let not_equal = find(
            doc! { "user_id": "u", "uncounted.claim": { "$ne": "new" } },
            doc! {},
        );
        // Found by `user_id` alone otherwise: no equality is missing, the range is checked
        // on each document; an equality on null is one the partial index cannot serve.
        let null = find(doc! { "user_id": "u", "uncounted.claim": null }, doc! {});
        let faults = unindexed(&[not_equal, null], &message_indexes());
        assert_eq!(faults.len(), 1, "{faults:?}");
        assert!(faults[0].contains("uncounted.claim ="), "{}", faults[0]);
    }

    #[test]
    fn each_branch_of_an_or_is_served_with_the_fields_outside_it() {
        let served = find(
            doc! { "user_id": "u", "$or": [
                { "session_id": "s" },
                { "client_key": { "$in": ["c:1", "c:2"] } },
            ] },
            doc! {},
        );
        assert_eq!(faults_of(&[served]), Vec::<String>::new());
        let one_branch_not = find(
            doc! { "user_id": "u", "$and": [{ "$or": [
                { "session_id": "s" },
                { "model": "m" },
            ] }] },
            doc! {},
        );
        let faults = unindexed(&[one_branch_not], &message_indexes());
        assert_eq!(faults.len(), 1, "{faults:?}");
        assert!(faults[0].contains("{model =, user_id =}"), "{}", faults[0]);
    }

    #[test]
    fn a_range_on_the_first_key_serves_a_statement_without_a_sort() {
        let sweep = find(
            doc! { "status": { "$in": ["streaming"] }, "updated_at": { "$lt": 5 } },
            doc! {},
        );
        let purge = started(
            "delete",
            doc! { "delete": "messages", "deletes": [{ "q": { "status": { "$lt": "s" } }, "limit": 0 }] },
        );
        assert_eq!(faults_of(&[sweep, purge]), Vec::<String>::new());
        // No filter at all, or a range on a key that no index starts with.
        let everything = find(doc! {}, doc! {});
        let unbounded = find(doc! { "updated_at": { "$lt": 5 } }, doc! {});
        assert_eq!(
            faults_of(&[everything, unbounded]),
            vec![
                "find messages {} sort [] (filter {})",
                r#"find messages {updated_at range} sort [] (filter { "updated_at": { "$lt": 5 } })"#,
            ]
        );
    }

    #[test]
    fn unbounded_reads_are_named_and_bounded_ones_pass() {
        let user = "u1";
        let events = [
            // Anchored prefix, a `$limit`ed count, a counter read: bounded.
            started(
                "find",
                doc! { "find": "messages", "filter": { "user_id": user, "terms": { "$regex": "^harb" } } },
            ),
            started(
                "aggregate",
                doc! { "aggregate": "messages", "pipeline": [
                    { "$match": { "user_id": user, "terms": "harbour" } },
                    { "$limit": 51 },
                    { "$group": { "_id": 1, "n": { "$sum": 1 } } },
                ] },
            ),
            started(
                "find",
                doc! { "find": "user_totals", "filter": { "_id": user, "user_id": user } },
            ),
            // Not on a sharded collection: not this check's business.
            started("aggregate", doc! { "aggregate": "users", "pipeline": [] }),
        ];
        assert_eq!(unbounded_reads(&events), Vec::<String>::new());

        let events = [
            started(
                "find",
                doc! { "find": "messages", "filter": { "user_id": user, "$and": [
                    { "terms": { "$regex": "arb" } },
                ] } },
            ),
            started(
                "aggregate",
                doc! { "aggregate": "chat_sessions", "pipeline": [
                    { "$match": { "user_id": user } },
                    { "$group": { "_id": "$user_id", "n": { "$sum": "$message_count" } } },
                ] },
            ),
            started(
                "count",
                doc! { "count": "messages", "query": { "user_id": user } },
            ),
            started(
                "distinct",
                doc! { "distinct": "messages", "key": "session_id", "query": { "user_id": user } },
            ),
        ];
        let faults = unbounded_reads(&events);
        assert_eq!(faults.len(), 4, "{faults:#?}");
        assert_eq!(faults[0], "find messages unanchored /arb/");
        assert!(
            faults[1].starts_with("aggregate chat_sessions "),
            "{}",
            faults[1]
        );
        assert!(faults[2].starts_with("count messages "), "{}", faults[2]);
        assert!(faults[3].starts_with("distinct messages "), "{}", faults[3]);
    }

    #[test]
    fn statements_without_the_owner_are_routing_faults_except_the_sweeps() {
        let events = [
            started(
                "find",
                doc! { "find": "messages", "filter": { "_id": "m1", "user_id": "u1" } },
            ),
            started(
                "find",
                doc! { "find": "chat_sessions", "filter": { "deleted_at": { "$lt": 5 } } },
            ),
            started(
                "find",
                doc! { "find": "users", "filter": { "email_key": "a" } },
            ),
            started(
                "find",
                doc! { "find": "messages", "filter": { "_id": "m2" } },
            ),
            started(
                "update",
                doc! { "update": "chat_sessions", "updates": [
                    { "q": { "_id": "s1", "user_id": "u1" }, "u": {} },
                    { "q": { "_id": "s2" }, "u": {} },
                ] },
            ),
        ];
        assert_eq!(
            routing_faults(&events),
            [
                r#"find messages { "_id": "m2" }"#,
                r#"update chat_sessions { "_id": "s2" }"#
            ]
        );
    }
}
