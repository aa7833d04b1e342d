//! The backup round trip as a property: generated accounts (random branching trees, every
//! field of every session and message set to an arbitrary value the documented rules allow)
//! are imported, exported, imported into a fresh account on the next store of a chain, and
//! exported again; each export must equal the one before it through the import's id map.

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use confab_core::model::{
    ForkedFrom, Message, MessageStatus, Role, Session, StatusReason, KNOWN_MESSAGE_TYPES,
    MAX_TITLE_CHARS,
};
use confab_core::service::export::{ExportDocument, ExportedSession, IdMap};
use confab_core::store::DynStore;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::backup::{
    account, assert_chain_keeps_everything, export_of, import, mapped, sessions_of,
};

/// 1900-01-01 to 9999-12-31, in milliseconds.
const FIRST_MS: i64 = -2_208_988_800_000;
const LAST_MS: i64 = 253_402_300_799_999;
/// 2024-01-01: generated times also crowd into a few milliseconds after it, so that
/// messages share a millisecond.
const CROWD_MS: i64 = 1_704_067_200_000;

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![FIRST_MS..=LAST_MS, CROWD_MS..CROWD_MS + 4]
        .prop_map(|ms| DateTime::from_timestamp_millis(ms).expect("in chrono's range"))
}

/// Any Unicode text: control characters, NUL, every plane.
fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..max).prop_map(String::from_iter)
}

const SLUG: &[char] = &['a', 'b', 'k', 'x', 'z', '0', '7', '9', '_', '-'];

fn message_type() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(KNOWN_MESSAGE_TYPES).prop_map(str::to_owned),
        proptest::collection::vec(proptest::sample::select(SLUG), 1..=32)
            .prop_map(String::from_iter),
    ]
}

fn tokens() -> impl Strategy<Value = Option<i64>> {
    proptest::option::of(0..=100_000_000i64)
}

/// A client id: 1 to 128 printable characters (made unique per account afterwards).
fn client_id() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(
        proptest::collection::vec(
            any::<char>().prop_filter("printable", |c| !c.is_control()),
            1..40,
        )
        .prop_map(String::from_iter),
    )
}

/// A status with a reason where the rules allow one (`partial` and `error` only).
fn status() -> impl Strategy<Value = (MessageStatus, Option<StatusReason>)> {
    (
        proptest::sample::select(&MessageStatus::ALL[..]),
        proptest::option::of(proptest::sample::select(&StatusReason::ALL[..])),
    )
        .prop_map(|(status, reason)| match status {
            MessageStatus::Partial | MessageStatus::Error => (status, reason),
            _ => (status, None),
        })
}

/// A message before ids are given: `parent` picks none, an earlier message, or an id the file
/// does not hold.
fn message() -> impl Strategy<Value = (u8, Message)> {
    (
        any::<u8>(),
        proptest::sample::select(&Role::ALL[..]),
        text(40),
        message_type(),
        proptest::option::of(text(16)),
        (tokens(), tokens(), proptest::option::of(0..=i64::MAX / 4)),
        status(),
        client_id(),
        time(),
        (any::<bool>(), proptest::option::of(time())),
    )
        .prop_map(
            |(
                parent,
                role,
                content,
                message_type,
                model,
                (prompt_tokens, completion_tokens, latency_ms),
                (status, status_reason),
                client_id,
                created_at,
                (usage_estimated, starred_at),
            )| {
                // A complete message has content; any other may be empty (nothing arrived).
                let content = if status == MessageStatus::Complete && content.trim().is_empty() {
                    format!("{content}x")
                } else {
                    content
                };
                let message = Message {
                    id: String::new(),
                    session_id: String::new(),
                    parent_id: None,
                    role,
                    content,
                    message_type,
                    model,
                    prompt_tokens,
                    completion_tokens,
                    latency_ms,
                    status,
                    status_reason,
                    client_id,
                    created_at,
                    usage_estimated,
                    starred: starred_at.is_some(),
                    starred_at,
                };
                (parent, message)
            },
        )
}

fn session() -> impl Strategy<Value = (u8, Session, Vec<(u8, Message)>)> {
    (
        any::<u8>(),
        text(24),
        (any::<bool>(), any::<bool>(), any::<bool>()),
        (0..1_000_000i64, 0..1_000_000i64, 0..1_000_000i64),
        (time(), time(), proptest::option::of(time())),
        proptest::collection::vec(message(), 0..7),
        proptest::collection::vec(
            proptest::sample::select(&["work", "Rust", "rust", "机器学习", "🦀 crab", "a/b"][..]),
            0..5,
        ),
    )
        .prop_map(
            |(
                leaf,
                title,
                (is_active, pinned, archived),
                (message_count, prompt_tokens, completion_tokens),
                (created_at, updated_at, last_message_at),
                messages,
                tags,
            )| {
                let session = Session {
                    id: String::new(),
                    title,
                    is_active,
                    pinned,
                    archived,
                    message_count,
                    prompt_tokens,
                    completion_tokens,
                    created_at,
                    updated_at,
                    last_message_at,
                    active_leaf_id: None,
                    forked_from: None,
                    tags: confab_core::tags::normalized(
                        tags.into_iter().map(str::to_owned).collect(),
                    ),
                    folder_id: None,
                };
                (leaf, session, messages)
            },
        )
}

fn uuid(random: u64, index: usize) -> String {
    uuid::Uuid::from_u128((u128::from(random) << 64) | index as u128).to_string()
}

/// A whole Confab export (version 1 or 2, from an account that is not the importer's).
pub fn document() -> impl Strategy<Value = ExportDocument> {
    (
        any::<u64>(),
        proptest::sample::select(&[1u32, 2][..]),
        time(),
        proptest::collection::vec((session(), any::<u8>()), 0..5),
    )
        .prop_map(|(random, version, exported_at, sessions)| {
            let mut next = 0;
            let mut fresh_id = || {
                next += 1;
                uuid(random, next)
            };
            let account_id = (version == 2).then(&mut fresh_id);
            let mut sessions_so_far: Vec<ExportedSession> = Vec::new();
            for ((leaf, mut session, messages), fork) in sessions {
                session.id = fresh_id();
                let ids: Vec<String> = messages.iter().map(|_| fresh_id()).collect();
                let messages: Vec<Message> = messages
                    .into_iter()
                    .enumerate()
                    .map(|(index, (parent, mut message))| {
                        message.id = ids[index].clone();
                        message.session_id = session.id.clone();
                        message.parent_id = match parent % 4 {
                            _ if index == 0 && parent % 4 != 1 => None,
                            0 => None,
                            1 => Some(fresh_id()),
                            _ => Some(ids[usize::from(parent) % index].clone()),
                        };
                        // Unique in the account, as the store keeps them.
                        if let Some(client_id) = &mut message.client_id {
                            client_id.push_str(&format!("#{}", ids[index]));
                        }
                        message
                    })
                    .collect();
                session.active_leaf_id = match leaf % 4 {
                    0 => None,
                    1 => Some(fresh_id()),
                    _ if messages.is_empty() => None,
                    _ => Some(ids[usize::from(leaf) % messages.len()].clone()),
                };
                // Forked from an earlier conversation of the file (at one of its
                // messages, or at a message it does not hold), or from one outside it.
                session.forked_from = match fork % 4 {
                    2 if !sessions_so_far.is_empty() => {
                        let source = &sessions_so_far[usize::from(fork) % sessions_so_far.len()];
                        Some(ForkedFrom {
                            session_id: source.session.id.clone(),
                            message_id: match source.messages.len() {
                                0 => fresh_id(),
                                n => source.messages[usize::from(fork / 4) % n].id.clone(),
                            },
                        })
                    }
                    3 => Some(ForkedFrom {
                        session_id: fresh_id(),
                        message_id: fresh_id(),
                    }),
                    _ => None,
                };
                sessions_so_far.push(ExportedSession { session, messages });
            }
            let sessions = sessions_so_far;
            ExportDocument {
                format: "confab".into(),
                version,
                exported_at,
                account_id,
                folders: Vec::new(),
                sessions,
            }
        })
}

/// What the first import makes of a generated file, by the documented rules: the title
/// trimmed ("Imported chat" when it is not a valid title), counters and last activity
/// computed from the messages, `updated_at` the latest of the file's, the creation and the
/// newest message, links to messages the file does not hold dropped (fork links too), a reply left
/// `streaming` settled (`model::settled_status`). Every other field as the file has it.
fn expected_import(file: &ExportDocument, ids: &IdMap) -> Vec<ExportedSession> {
    let mut expected = file.clone();
    let file_messages: std::collections::HashSet<(&String, &String)> = file
        .sessions
        .iter()
        .flat_map(|exported| {
            exported
                .messages
                .iter()
                .map(move |message| (&exported.session.id, &message.id))
        })
        .collect();
    for exported in &mut expected.sessions {
        let held: std::collections::HashSet<String> =
            exported.messages.iter().map(|m| m.id.clone()).collect();
        // A file of another account: a fork link stays (with the new ids) only when the file
        // holds its source conversation and message.
        exported.session.forked_from = exported
            .session
            .forked_from
            .take()
            .filter(|link| file_messages.contains(&(&link.session_id, &link.message_id)));
        let session = &mut exported.session;
        let title = session.title.trim();
        session.title = if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
            "Imported chat".into()
        } else {
            title.to_owned()
        };
        let messages = &mut exported.messages;
        session.message_count = messages.len() as i64;
        session.prompt_tokens = messages.iter().filter_map(|m| m.prompt_tokens).sum();
        session.completion_tokens = messages.iter().filter_map(|m| m.completion_tokens).sum();
        session.last_message_at = messages.iter().map(|m| m.created_at).max();
        session.updated_at = session
            .updated_at
            .max(session.created_at)
            .max(session.last_message_at.unwrap_or(session.created_at));
        session.active_leaf_id = session
            .active_leaf_id
            .take()
            .filter(|leaf| held.contains(leaf));
        for message in messages.iter_mut() {
            message.parent_id = message.parent_id.take().filter(|p| held.contains(p));
            (message.status, message.status_reason) = confab_core::model::settled_status(
                message.status,
                message.status_reason,
                &message.content,
            );
        }
    }
    let mut sessions = mapped(&expected, ids);
    for session in &mut sessions {
        session.messages.sort_by(|a, b| a.id.cmp(&b.id));
    }
    sessions
}

/// One case: the file into an account on `chain[0]`, whose export must be what the rules say;
/// that export back into the same account adds and changes nothing; then along the chain.
async fn check(file: ExportDocument, chain: &[DynStore], case: usize) {
    let (services, user) = account(&chain[0], &format!("case{case}@example.com")).await;
    let (_, ids) = import(&services, &user, &file).await;
    let first = export_of(&services, &user).await;
    assert_eq!(sessions_of(&first), expected_import(&file, &ids));

    let (again, kept) = import(&services, &user, &first).await;
    let messages: usize = first.sessions.iter().map(|s| s.messages.len()).sum();
    assert_eq!(
        (again.sessions, again.messages, again.skipped),
        (0, 0, messages)
    );
    assert!(kept
        .sessions
        .iter()
        .chain(&kept.messages)
        .all(|(old, new)| old == new));
    assert_eq!(export_of(&services, &user).await.sessions, first.sessions);

    assert_chain_keeps_everything(first, &chain[1..], &format!("case{case}")).await;
}

/// Runs `cases` generated files through `chain` (stores in order; the first takes the file).
pub fn round_trip_property(runtime: &tokio::runtime::Runtime, chain: Vec<DynStore>, cases: u32) {
    let mut runner = TestRunner::new(Config {
        cases,
        max_shrink_iters: 64,
        failure_persistence: None,
        ..Config::default()
    });
    // Every run (shrinking included) gets accounts of its own.
    let counter = AtomicUsize::new(0);
    let outcome = runner.run(&document(), |file| {
        let case = counter.fetch_add(1, Ordering::Relaxed);
        runtime.block_on(check(file, &chain, case));
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}
