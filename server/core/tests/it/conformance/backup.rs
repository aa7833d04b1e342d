//! Backup and restore: an account exported and imported again, into another account on the
//! same backend or across backends, or back into itself, keeps every field of every session
//! and message. `round_trip_property` checks it on generated accounts; the stories here on
//! concrete ones, with every expected value spelled out.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use confab_core::api::{NewMessageInput, SessionListInput, SessionPatchInput};
use confab_core::model::{ForkedFrom, Message, MessageStatus, Role, Session, StatusReason, User};
use confab_core::service::export::{
    confab_session_mapped, ExportDocument, ExportFormat, ExportedSession, IdMap,
};
use confab_core::service::Services;
use confab_core::store::{DynStore, NewUser};
use futures::StreamExt;

use super::services;

/// An account made straight in the store (no password to hash: the stories need many).
pub async fn account(store: &DynStore, email: &str) -> (Services, User) {
    let user = store
        .create_user(NewUser {
            email: email.to_owned(),
            name: email.to_owned(),
            password_hash: None,
            identity: None,
        })
        .await
        .expect("create user");
    (services(store.clone()), user)
}

/// The account export, parsed.
pub async fn export_of(services: &Services, user: &User) -> ExportDocument {
    let chunks: Vec<_> = services.export_account(user.clone()).collect().await;
    let text: String = chunks
        .into_iter()
        .map(|chunk| chunk.expect("export chunk"))
        .collect();
    serde_json::from_str(&text).expect("the export is one valid JSON document")
}

/// Imports `document` and checks that the id map covers every exported id.
pub async fn import(
    services: &Services,
    user: &User,
    document: &ExportDocument,
) -> (confab_core::api::ImportReport, IdMap) {
    let (report, ids) = services
        .import_confab_with_ids(user, document.clone())
        .await
        .expect("import");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    for exported in &document.sessions {
        assert!(ids.sessions.contains_key(&exported.session.id));
        for message in &exported.messages {
            assert!(ids.messages.contains_key(&message.id));
        }
    }
    (report, ids)
}

fn map_id(ids: &HashMap<String, String>, id: &str) -> String {
    ids.get(id)
        .unwrap_or_else(|| panic!("{id} is not in the id map"))
        .clone()
}

/// The sessions of `document` with every id replaced through `ids`, in id order (an import
/// keeps the order of a session's messages; sessions are compared as a set).
pub fn mapped(document: &ExportDocument, ids: &IdMap) -> Vec<ExportedSession> {
    let mut sessions: Vec<ExportedSession> = document
        .sessions
        .iter()
        .map(|exported| {
            let mut session = exported.session.clone();
            session.id = map_id(&ids.sessions, &session.id);
            session.active_leaf_id = session
                .active_leaf_id
                .map(|leaf| map_id(&ids.messages, &leaf));
            session.forked_from = session.forked_from.map(|link| ForkedFrom {
                session_id: map_id(&ids.sessions, &link.session_id),
                message_id: map_id(&ids.messages, &link.message_id),
            });
            let messages = exported
                .messages
                .iter()
                .map(|message| Message {
                    id: map_id(&ids.messages, &message.id),
                    session_id: session.id.clone(),
                    parent_id: message
                        .parent_id
                        .as_deref()
                        .map(|parent| map_id(&ids.messages, parent)),
                    ..message.clone()
                })
                .collect();
            ExportedSession { session, messages }
        })
        .collect();
    sessions.sort_by(|a, b| a.session.id.cmp(&b.session.id));
    sessions
}

/// The sessions of `document` in id order.
pub fn sessions_of(document: &ExportDocument) -> Vec<ExportedSession> {
    let mut sessions = document.sessions.clone();
    sessions.sort_by(|a, b| a.session.id.cmp(&b.session.id));
    sessions
}

/// Export, import into a fresh account on each next store, export again: every export equals
/// the one before it through the import's id map. Returns the last account's export.
pub async fn assert_chain_keeps_everything(
    first: ExportDocument,
    chain: &[DynStore],
    label: &str,
) -> ExportDocument {
    let mut previous = first;
    for (step, store) in chain.iter().enumerate() {
        let (services, user) = account(store, &format!("{label}-{step}@example.com")).await;
        let (report, ids) = import(&services, &user, &previous).await;
        let messages: usize = previous.sessions.iter().map(|s| s.messages.len()).sum();
        assert_eq!(
            (report.sessions, report.messages, report.skipped),
            (previous.sessions.len(), messages, 0),
            "a fresh account takes everything"
        );
        let next = export_of(&services, &user).await;
        assert_eq!(next.account_id.as_deref(), Some(user.id.as_str()));
        assert_eq!(
            sessions_of(&next),
            mapped(&previous, &ids),
            "step {step}: the export after the import equals the export before it"
        );
        previous = next;
    }
    previous
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("a test time")
        .with_timezone(&Utc)
}

/// A message of a hand-written export.
fn written(
    id: &str,
    session_id: &str,
    parent_id: Option<&str>,
    role: Role,
    content: &str,
    created_at: &str,
) -> Message {
    Message {
        id: id.to_owned(),
        session_id: session_id.to_owned(),
        parent_id: parent_id.map(str::to_owned),
        role,
        content: content.to_owned(),
        message_type: "chat".into(),
        model: None,
        prompt_tokens: None,
        completion_tokens: None,
        latency_ms: None,
        status: MessageStatus::Complete,
        status_reason: None,
        client_id: None,
        created_at: at(created_at),
        usage_estimated: false,
        starred: false,
        starred_at: None,
    }
}

fn written_session(id: &str, title: &str, created_at: &str) -> Session {
    Session {
        forked_from: None,
        id: id.to_owned(),
        title: title.to_owned(),
        is_active: true,
        pinned: false,
        archived: false,
        message_count: 0,
        prompt_tokens: 0,
        completion_tokens: 0,
        created_at: at(created_at),
        updated_at: at(created_at),
        last_message_at: None,
        active_leaf_id: None,
        tags: Vec::new(),
        folder_id: None,
    }
}

const S1: &str = "0178b5f2-0000-7000-8000-000000000001";
const S2: &str = "016f5e66-e800-7000-8000-000000000002";
const S3: &str = "0162a2f0-0000-7000-8000-000000000003";
const M: [&str; 7] = [
    "0178b5f2-0001-7000-8000-00000000000a",
    "0178b5f2-0002-7000-8000-00000000000b",
    "0178b5f2-0003-7000-8000-00000000000c",
    "0178b5f2-0004-7000-8000-00000000000d",
    "0178b5f2-0005-7000-8000-00000000000e",
    "0178b5f2-0006-7000-8000-00000000000f",
    "0162a2f0-0001-7000-8000-000000000010",
];

/// A version 1 file (no account id) with a branched conversation whose every field is set:
/// a question, a stopped reply and its regeneration, an edit of the question with a failed
/// reply and a reply left streaming; an empty archived conversation; an old one.
fn branched_file() -> ExportDocument {
    let mut plan = written_session(
        S1,
        "  Plan a trip ✈️ \u{1F30D} ",
        "2021-03-04T05:06:07.089Z",
    );
    plan.is_active = false;
    plan.pinned = true;
    plan.updated_at = at("2021-03-05T00:00:00Z");
    plan.active_leaf_id = Some(M[2].into());
    // What an import computes from the messages, whatever the file says.
    plan.message_count = 99;
    plan.prompt_tokens = 1;
    plan.last_message_at = Some(at("2000-01-01T00:00:00Z"));
    // Forked from "Old" (the file holds it, and the link follows its new ids).
    plan.forked_from = Some(ForkedFrom {
        session_id: S3.into(),
        message_id: M[6].into(),
    });

    let mut question = written(
        M[0],
        S1,
        None,
        Role::User,
        "Plan a trip",
        "2021-03-04T05:06:08Z",
    );
    question.client_id = Some("client-1".into());
    let mut stopped = written(
        M[1],
        S1,
        Some(M[0]),
        Role::Assistant,
        "Day one: Alfa",
        "2021-03-04T05:06:09.001Z",
    );
    stopped.model = Some("llama3.2".into());
    stopped.status = MessageStatus::Partial;
    stopped.status_reason = Some(StatusReason::Stopped);
    stopped.prompt_tokens = Some(12);
    stopped.completion_tokens = Some(34);
    stopped.latency_ms = Some(560);
    stopped.usage_estimated = true;
    // Stars come along with the time they were given (before the message, even: a file may).
    stopped.starred = true;
    stopped.starred_at = Some(at("2021-03-06T07:08:09.123Z"));
    let mut regenerated = written(
        M[2],
        S1,
        Some(M[0]),
        Role::Assistant,
        "```rust\nfn main() {}\n```",
        "2021-03-04T05:06:10Z",
    );
    regenerated.model = Some("qwen".into());
    regenerated.message_type = "code".into();
    regenerated.prompt_tokens = Some(7);
    regenerated.completion_tokens = Some(8);
    regenerated.latency_ms = Some(90);
    let edited = written(
        M[3],
        S1,
        None,
        Role::User,
        "Plan a trip to Lisbon",
        "2021-03-04T05:06:11Z",
    );
    let mut failed = written(
        M[4],
        S1,
        Some(M[3]),
        Role::Assistant,
        "",
        "2021-03-04T05:06:12Z",
    );
    failed.status = MessageStatus::Error;
    failed.status_reason = Some(StatusReason::ProviderUnreachable);
    let mut streaming = written(
        M[5],
        S1,
        Some(M[3]),
        Role::Assistant,
        "Half a rep",
        "2021-03-04T05:06:13Z",
    );
    streaming.status = MessageStatus::Streaming;

    let mut empty = written_session(S2, "Archived and empty", "2020-01-01T00:00:00Z");
    empty.archived = true;
    // Forked from a conversation the file does not hold: restored into another account, the
    // link would name nothing and is dropped.
    empty.forked_from = Some(ForkedFrom {
        session_id: "018e0000-0000-7000-8000-00000000aaaa".into(),
        message_id: "018e0000-0000-7000-8000-00000000bbbb".into(),
    });
    let mut old = written_session(S3, "Old", "2018-01-01T00:00:00Z");
    old.updated_at = at("2018-06-01T00:00:00Z");
    old.tags = vec!["trip".into()];
    // Tags as a file may hold them: out of order, twice, with space to trim, and one that is
    // no tag (a control character), which the restore leaves out.
    plan.tags = vec![
        "旅行".into(),
        " trip  plans ".into(),
        "Rust".into(),
        "trip".into(),
        "Rust".into(),
        "bad\u{7}".into(),
    ];
    old.active_leaf_id = Some(M[6].into());
    let mut note = written(
        M[6],
        S3,
        None,
        Role::System,
        "Be brief.",
        "2019-02-03T04:05:06Z",
    );
    note.message_type = "note-1".into();
    note.starred = true;
    note.starred_at = Some(at("1999-12-31T23:59:59.999Z"));

    ExportDocument {
        format: "confab".into(),
        version: 1,
        exported_at: at("2021-04-01T00:00:00Z"),
        account_id: None,
        folders: Vec::new(),
        sessions: vec![
            ExportedSession {
                session: old,
                messages: vec![note],
            },
            ExportedSession {
                session: plan,
                messages: vec![question, stopped, regenerated, edited, failed, streaming],
            },
            ExportedSession {
                session: empty,
                messages: vec![],
            },
        ],
    }
}

/// What `branched_file` is once imported, under the ids `ids` gave it: the file's values, the
/// title trimmed, the counters and last activity computed from the messages, the reply left
/// streaming settled as `partial` (`interrupted`), the fork link to a conversation outside the
/// file dropped.
fn branched_file_imported(ids: &IdMap) -> Vec<ExportedSession> {
    let mut expected = branched_file();
    for exported in &mut expected.sessions {
        match exported.session.id.as_str() {
            S1 => {
                let session = &mut exported.session;
                session.tags = vec![
                    "Rust".into(),
                    "trip".into(),
                    "trip plans".into(),
                    "旅行".into(),
                ];
                session.title = "Plan a trip ✈️ \u{1F30D}".into();
                session.message_count = 6;
                session.prompt_tokens = 19;
                session.completion_tokens = 42;
                session.last_message_at = Some(at("2021-03-04T05:06:13Z"));
                let streaming = &mut exported.messages[5];
                streaming.status = MessageStatus::Partial;
                streaming.status_reason = Some(StatusReason::Interrupted);
            }
            S3 => {
                let session = &mut exported.session;
                session.message_count = 1;
                session.updated_at = at("2019-02-03T04:05:06Z");
                session.last_message_at = Some(at("2019-02-03T04:05:06Z"));
            }
            _ => exported.session.forked_from = None,
        }
    }
    mapped(&expected, ids)
}

/// Every field of a branched account survives export, import into another account (on
/// `target`), export; and back into `source`.
pub async fn backup_round_trip_keeps_every_field(source: DynStore, target: DynStore) {
    let (services, ada) = account(&source, "ada@example.com").await;
    let file = branched_file();
    let (report, ids) = import(&services, &ada, &file).await;
    assert_eq!(
        (report.sessions, report.messages, report.skipped),
        (3, 7, 0)
    );
    let first = export_of(&services, &ada).await;
    assert_eq!((first.format.as_str(), first.version), ("confab", 2));
    assert_eq!(first.account_id.as_deref(), Some(ada.id.as_str()));
    assert_eq!(sessions_of(&first), branched_file_imported(&ids));
    let plan = &first
        .sessions
        .iter()
        .find(|s| s.session.title.starts_with("Plan"))
        .unwrap();
    assert!(!plan.session.is_active, "isActive false stays false");
    assert_eq!(plan.session.tags, ["Rust", "trip", "trip plans", "旅行"]);
    assert_eq!(
        services.list_tags(&ada).await.unwrap(),
        ["Rust", "trip", "trip plans", "旅行"],
        "the restored tags are the user's"
    );
    assert_eq!(plan.messages[0].client_id.as_deref(), Some("client-1"));
    assert!(plan.messages[1].usage_estimated);
    assert_eq!(
        (plan.messages[1].starred, plan.messages[1].starred_at),
        (true, Some(at("2021-03-06T07:08:09.123Z")))
    );
    assert_eq!(
        (plan.messages[2].starred, plan.messages[2].starred_at),
        (false, None)
    );
    // The Starred view lists the restored stars, newest star first.
    let starred = services
        .starred_messages(&ada, confab_core::api::PageInput::default())
        .await
        .unwrap();
    assert_eq!(
        starred
            .items
            .iter()
            .map(|item| (
                item.message.content.as_str(),
                item.session_title.as_str(),
                item.message.starred_at
            ))
            .collect::<Vec<_>>(),
        [
            (
                "Day one: Alfa",
                "Plan a trip ✈️ \u{1F30D}",
                Some(at("2021-03-06T07:08:09.123Z"))
            ),
            ("Be brief.", "Old", Some(at("1999-12-31T23:59:59.999Z"))),
        ]
    );
    assert_eq!(starred.next_cursor, None);
    assert_eq!(
        first
            .sessions
            .iter()
            .map(|s| s.session.id.clone())
            .collect::<Vec<_>>(),
        {
            let mut ids: Vec<_> = first
                .sessions
                .iter()
                .map(|s| s.session.id.clone())
                .collect();
            ids.sort();
            ids
        },
        "the account export is in id order"
    );

    // The session list orders imported conversations by their own last activity.
    let listed = services
        .list_sessions(&ada, SessionListInput::default())
        .await
        .unwrap();
    assert_eq!(
        listed
            .items
            .iter()
            .map(|s| (s.title.as_str(), s.updated_at, s.last_message_at))
            .collect::<Vec<_>>(),
        [
            (
                "Plan a trip ✈️ \u{1F30D}",
                at("2021-03-05T00:00:00Z"),
                Some(at("2021-03-04T05:06:13Z"))
            ),
            ("Archived and empty", at("2020-01-01T00:00:00Z"), None),
            (
                "Old",
                at("2019-02-03T04:05:06Z"),
                Some(at("2019-02-03T04:05:06Z"))
            ),
        ]
    );

    // The file import (`POST /api/import`, the CLI) keeps everything as well; its ids are the
    // ones `confab_session_mapped` derives.
    let (file_services, bea) = account(&target, "bea@example.com").await;
    let bytes = serde_json::to_vec(&first).unwrap();
    let report = file_services.import_bytes(&bea, &bytes).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(
        (report.sessions, report.messages, report.skipped),
        (3, 7, 0)
    );
    let mut derived = IdMap::default();
    for exported in &first.sessions {
        let converted = confab_session_mapped(&bea.id, false, exported.clone()).unwrap();
        derived
            .sessions
            .insert(converted.exported_id, converted.import.session.id);
        derived.messages.extend(converted.message_ids);
    }
    // Except the fork link: the file import reads a conversation at a time and cannot know
    // where a source earlier in the file went, so into another account it drops the link.
    let mut unlinked = first.clone();
    for exported in &mut unlinked.sessions {
        exported.session.forked_from = None;
    }
    assert_eq!(
        sessions_of(&export_of(&file_services, &bea).await),
        mapped(&unlinked, &derived)
    );

    let last = assert_chain_keeps_everything(first, &[target, source.clone()], "chain").await;
    assert_eq!(last.sessions.len(), 3);
}

/// Three conversations are exported, then one is deleted (restorable) and one purged; the
/// export imported into the same account brings exactly those back, under their own ids, and
/// duplicates nothing.
pub async fn restore_into_the_same_account_adds_only_what_is_missing(store: DynStore) {
    let (services, ada) = account(&store, "ada@example.com").await;
    let mut conversations = Vec::new();
    for (n, title) in ["First", "Second", "Third"].into_iter().enumerate() {
        let question = services
            .append_message(
                &ada,
                NewMessageInput {
                    role: "user".into(),
                    content: format!("{title} question"),
                    client_id: Some(format!("q-{n}")),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let session_id = question.session.id.clone();
        services
            .append_message(
                &ada,
                NewMessageInput {
                    session_id: Some(session_id.clone()),
                    role: "assistant".into(),
                    content: format!("{title} answer"),
                    model: Some("qwen".into()),
                    prompt_tokens: Some(3),
                    completion_tokens: Some(4),
                    latency_ms: Some(5),
                    usage_estimated: true,
                    parent_id: Some(question.message.id.clone()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        conversations.push(session_id);
    }
    services
        .update_session(
            &ada,
            &conversations[0],
            SessionPatchInput {
                is_active: Some(false),
                archived: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let before = export_of(&services, &ada).await;
    assert_eq!(before.sessions.len(), 3);
    assert!(
        !before
            .sessions
            .iter()
            .find(|s| s.session.id == conversations[0])
            .unwrap()
            .session
            .is_active
    );

    // The full export pages by id: the store's page, its cursor, deletions and owners.
    let (_, bob) = account(&store, "bob@example.com").await;
    services
        .append_message(
            &bob,
            NewMessageInput {
                role: "user".into(),
                content: "Bob's".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut in_order = conversations.clone();
    in_order.sort();
    let page = store.sessions_by_id(&ada.id, None, 2).await.unwrap();
    assert_eq!(
        page.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        in_order[..2]
    );
    let rest = store
        .sessions_by_id(&ada.id, Some(&in_order[1]), 2)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        in_order[2..]
    );

    services
        .delete_session(&ada, &conversations[1])
        .await
        .unwrap();
    let page = store.sessions_by_id(&ada.id, None, 10).await.unwrap();
    assert_eq!(page.len(), 2, "a deleted session is not exported");

    let (report, ids) = import(&services, &ada, &before).await;
    assert_eq!(
        (report.sessions, report.messages, report.skipped),
        (0, 0, 6),
        "everything is there already; the deleted conversation is brought back"
    );
    for (old, new) in ids.sessions.iter().chain(&ids.messages) {
        assert_eq!(old, new, "ids are kept in their own account");
    }
    let after = export_of(&services, &ada).await;
    assert_eq!(
        after.sessions, before.sessions,
        "nothing duplicated, nothing changed"
    );

    // A version 1 file names no account: the sessions the account holds (a deleted one
    // included) keep their ids all the same.
    services
        .delete_session(&ada, &conversations[1])
        .await
        .unwrap();
    let old_format = ExportDocument {
        version: 1,
        account_id: None,
        ..before.clone()
    };
    let (report, ids) = import(&services, &ada, &old_format).await;
    assert_eq!(
        (report.sessions, report.messages, report.skipped),
        (0, 0, 6)
    );
    assert!(ids.sessions.iter().all(|(old, new)| old == new));
    assert_eq!(export_of(&services, &ada).await.sessions, before.sessions);

    // The same through the file import (what `POST /api/import` and the CLI run).
    services
        .delete_session(&ada, &conversations[1])
        .await
        .unwrap();
    let bytes = serde_json::to_vec(&before).unwrap();
    let report = services.import_bytes(&ada, &bytes).await.unwrap();
    assert_eq!(
        (report.sessions, report.messages, report.skipped),
        (0, 0, 6)
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(export_of(&services, &ada).await.sessions, before.sessions);

    // Purged for good: the restore puts it back as it was, under its own ids.
    services
        .delete_session(&ada, &conversations[2])
        .await
        .unwrap();
    store
        .purge_deleted_sessions(Utc::now() + chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(export_of(&services, &ada).await.sessions.len(), 2);
    let (report, _) = import(&services, &ada, &before).await;
    assert_eq!(
        (report.sessions, report.messages, report.skipped),
        (1, 2, 4)
    );
    let after = export_of(&services, &ada).await;
    assert_eq!(after.sessions, before.sessions);
    let client_ids: Vec<_> = after
        .sessions
        .iter()
        .map(|s| s.messages[0].client_id.clone())
        .collect();
    assert_eq!(
        client_ids,
        before
            .sessions
            .iter()
            .map(|s| s.messages[0].client_id.clone())
            .collect::<Vec<_>>()
    );
    // The client id still makes an append idempotent after the restore.
    let again = services
        .append_message(
            &ada,
            NewMessageInput {
                role: "user".into(),
                content: "Third question".into(),
                client_id: Some("q-2".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.session.id, conversations[2]);

    // An id that is not one (a hand-made file) is not kept: the conversation gets a real one.
    let odd = ExportDocument {
        sessions: vec![ExportedSession {
            session: Session {
                id: "not-an-id".into(),
                active_leaf_id: None,
                ..before.sessions[0].session.clone()
            },
            messages: vec![],
        }],
        ..before.clone()
    };
    let (report, ids) = import(&services, &ada, &odd).await;
    assert_eq!(report.sessions, 1);
    let given = &ids.sessions["not-an-id"];
    assert!(confab_core::ids::is_valid_id(given), "{given}");
    assert_eq!(
        services
            .get_session(&ada, given)
            .await
            .unwrap()
            .session
            .title,
        before.sessions[0].session.title
    );

    // The same file in another account is a copy under ids of its own, once.
    let (bob_services, bob) = (services.clone(), bob);
    let (report, ids) = import(&bob_services, &bob, &before).await;
    assert_eq!(
        (report.sessions, report.messages, report.skipped),
        (3, 6, 0)
    );
    assert!(ids.sessions.iter().all(|(old, new)| old != new));
    let (report, _) = import(&bob_services, &bob, &before).await;
    assert_eq!(
        (report.sessions, report.messages, report.skipped),
        (0, 0, 6)
    );
}

/// A version 1 file names no account, so a conversation purged since it was taken comes back
/// under ids of its own (the account holding its id was the only sign the file is this
/// account's; a file from another account must not take its ids). Restored again, in either
/// format and in either order, nothing is added twice: a later version 2 restore finds the
/// conversation an earlier version 1 restore brought back, through the file import and the
/// service alike.
pub async fn restores_after_a_purge_agree_whatever_the_format(store: DynStore) {
    let (services, ada) = account(&store, "ada@example.com").await;
    let mut conversations = Vec::new();
    for title in ["Kept", "Purged"] {
        let question = services
            .append_message(
                &ada,
                NewMessageInput {
                    role: "user".into(),
                    content: format!("{title} question"),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        services
            .append_message(
                &ada,
                NewMessageInput {
                    session_id: Some(question.session.id.clone()),
                    role: "assistant".into(),
                    content: format!("{title} answer"),
                    parent_id: Some(question.message.id.clone()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        conversations.push(question.session.id);
    }
    let before = export_of(&services, &ada).await;
    assert_eq!(before.account_id.as_deref(), Some(ada.id.as_str()));
    let old_format = ExportDocument {
        version: 1,
        account_id: None,
        ..before.clone()
    };
    let purge = |id: String| {
        let (services, store, ada) = (&services, &store, &ada);
        async move {
            services.delete_session(ada, &id).await.unwrap();
            store
                .purge_deleted_sessions(Utc::now() + chrono::Duration::seconds(1))
                .await
                .unwrap();
        }
    };
    let counts = |report: &confab_core::api::ImportReport| {
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        (report.sessions, report.messages, report.skipped)
    };

    // Version 1 first: the purged conversation comes back under new ids, once.
    purge(conversations[1].clone()).await;
    let (report, ids) = import(&services, &ada, &old_format).await;
    assert_eq!(counts(&report), (1, 2, 2));
    assert_eq!(ids.sessions[&conversations[0]], conversations[0]);
    let brought_back = ids.sessions[&conversations[1]].clone();
    assert_ne!(brought_back, conversations[1]);
    let restored = export_of(&services, &ada).await;
    assert_eq!(sessions_of(&restored), mapped(&before, &ids));
    let bytes = serde_json::to_vec(&old_format).unwrap();
    assert_eq!(
        counts(&services.import_bytes(&ada, &bytes).await.unwrap()),
        (0, 0, 4)
    );
    // Then version 2, which names this account: it finds the conversation brought back.
    let (report, ids) = import(&services, &ada, &before).await;
    assert_eq!(counts(&report), (0, 0, 4));
    assert_eq!(ids.sessions[&conversations[1]], brought_back);
    let bytes = serde_json::to_vec(&before).unwrap();
    assert_eq!(
        counts(&services.import_bytes(&ada, &bytes).await.unwrap()),
        (0, 0, 4)
    );
    assert_eq!(export_of(&services, &ada).await.sessions, restored.sessions);

    // Version 2 first: the purged conversation comes back under its own ids, and version 1
    // finds it there.
    purge(brought_back).await;
    let bytes = serde_json::to_vec(&before).unwrap();
    assert_eq!(
        counts(&services.import_bytes(&ada, &bytes).await.unwrap()),
        (1, 2, 2)
    );
    assert_eq!(export_of(&services, &ada).await.sessions, before.sessions);
    let (report, ids) = import(&services, &ada, &old_format).await;
    assert_eq!(counts(&report), (0, 0, 4));
    assert!(ids.sessions.iter().all(|(old, new)| old == new));
    let bytes = serde_json::to_vec(&old_format).unwrap();
    assert_eq!(
        counts(&services.import_bytes(&ada, &bytes).await.unwrap()),
        (0, 0, 4)
    );
    assert_eq!(export_of(&services, &ada).await.sessions, before.sessions);
}

/// A client id is unique per account: an imported message whose client id another message
/// holds keeps its place without the key (the whole message would be lost otherwise).
pub async fn imported_client_ids_never_cost_a_message(store: DynStore) {
    let (services, ada) = account(&store, "ada@example.com").await;
    let held = services
        .append_message(
            &ada,
            NewMessageInput {
                role: "user".into(),
                content: "Already here".into(),
                client_id: Some("c-1".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // A key another message holds, a key twice in the file, a key that is not valid.
    let messages: Vec<Message> = [
        (None, Role::User, "Taken key", "c-1"),
        (Some(M[0]), Role::Assistant, "First c-2", "c-2"),
        (Some(M[0]), Role::Assistant, "Second c-2", "c-2"),
        (Some(M[2]), Role::User, "Bad key", "tab\there"),
    ]
    .into_iter()
    .enumerate()
    .map(|(n, (parent, role, content, key))| Message {
        client_id: Some(key.into()),
        ..written(
            M[n],
            S1,
            parent,
            role,
            content,
            &format!("2021-03-04T05:06:{:02}Z", 8 + n),
        )
    })
    .collect();
    let file = ExportDocument {
        format: "confab".into(),
        version: 2,
        exported_at: at("2021-04-01T00:00:00Z"),
        account_id: Some("someone-else".into()),
        folders: Vec::new(),
        sessions: vec![ExportedSession {
            session: written_session(S1, "Keys", "2021-03-04T05:06:07Z"),
            messages,
        }],
    };
    let (report, ids) = import(&services, &ada, &file).await;
    assert_eq!(
        (report.sessions, report.messages, report.skipped),
        (1, 4, 0)
    );
    let stored = services
        .store()
        .all_messages(&ada.id, &ids.sessions[S1])
        .await
        .unwrap();
    assert_eq!(
        stored
            .iter()
            .map(|m| (m.content.as_str(), m.client_id.as_deref()))
            .collect::<Vec<_>>(),
        [
            ("Taken key", None),
            ("First c-2", Some("c-2")),
            ("Second c-2", None),
            ("Bad key", None),
        ]
    );
    let original = services
        .store()
        .message_by_client_id(&ada.id, "c-1")
        .await
        .unwrap()
        .expect("the key stays with its message");
    assert_eq!(original.id, held.message.id);
}

async fn markdown_of(services: &Services, user: &User, session_id: &str) -> String {
    services
        .export_session(user, session_id, ExportFormat::Markdown)
        .await
        .expect("markdown export")
        .body
}

/// The Markdown export is the conversation as the user sees it: the active branch, each
/// message with its role, model, type, status and time.
pub async fn markdown_export_shows_the_active_branch(store: DynStore) {
    let (services, ada) = account(&store, "ada@example.com").await;
    let (_, ids) = import(&services, &ada, &branched_file()).await;
    let file = services
        .export_session(&ada, &ids.sessions[S1], ExportFormat::Markdown)
        .await
        .unwrap();
    assert_eq!(file.filename, "plan-a-trip.md");
    assert_eq!(
        file.body,
        "# Plan a trip ✈️ \u{1F30D}\n\n\
         _Exported from Confab · created 2021-03-04T05:06:07.089+00:00_\n\n\
         _The branch shown: 2 of 6 messages; the JSON export holds every branch._\n\n\
         ## User · chat · 2021-03-04T05:06:08+00:00\n\n\
         Plan a trip\n\n\
         ## Assistant (qwen) · code · 2021-03-04T05:06:10+00:00\n\n\
         ```rust\nfn main() {}\n```\n\n"
    );

    // On the other branch: the edited question and its reply left by an interruption.
    let moved = services
        .update_session(
            &ada,
            &ids.sessions[S1],
            SessionPatchInput {
                active_leaf_id: Some(ids.messages[M[5]].clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        moved.active_leaf_id.as_deref(),
        Some(ids.messages[M[5]].as_str())
    );
    assert_eq!(
        markdown_of(&services, &ada, &ids.sessions[S1]).await,
        "# Plan a trip ✈️ \u{1F30D}\n\n\
         _Exported from Confab · created 2021-03-04T05:06:07.089+00:00_\n\n\
         _The branch shown: 2 of 6 messages; the JSON export holds every branch._\n\n\
         ## User · chat · 2021-03-04T05:06:11+00:00\n\n\
         Plan a trip to Lisbon\n\n\
         ## Assistant · chat · partial (interrupted) · 2021-03-04T05:06:13+00:00\n\n\
         Half a rep\n\n"
    );

    // A conversation of one branch says nothing about branches.
    assert_eq!(
        markdown_of(&services, &ada, &ids.sessions[S3]).await,
        "# Old\n\n\
         _Exported from Confab · created 2018-01-01T00:00:00+00:00_\n\n\
         ## System · note-1 · 2019-02-03T04:05:06+00:00\n\n\
         Be brief.\n\n"
    );
    // The JSON export of the session holds every branch.
    let file = services
        .export_session(&ada, &ids.sessions[S1], ExportFormat::Json)
        .await
        .unwrap();
    let document: ExportDocument = serde_json::from_str(&file.body).unwrap();
    assert_eq!(document.sessions[0].messages.len(), 6);
    assert_eq!(document.account_id.as_deref(), Some(ada.id.as_str()));
}
