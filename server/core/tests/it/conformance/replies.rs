//! Replies saved while they stream: stored as `streaming`, checkpointed, finished, stopped
//! through the store, recovered after a crash; the active leaf moves by compare-and-set.

use chrono::{Duration, Utc};
use confab_core::api::{NewMessageInput, SearchInput};
use confab_core::ids::new_id;
use confab_core::model::{Message, MessageStatus, Role, StatusReason, User};
use confab_core::service::Services;
use confab_core::store::{DynStore, LeafRule, NewMessage, ReplyOutcome};

/// An empty reply of model `m` to `question`, `streaming`, written `at_minutes_ago`.
pub(super) fn placeholder(
    user: &User,
    question: &Message,
    leaf: LeafRule,
    at_minutes_ago: i64,
) -> NewMessage {
    NewMessage {
        starred_at: None,
        id: new_id(),
        user_id: user.id.clone(),
        session_id: question.session_id.clone(),
        parent_id: Some(question.id.clone()),
        role: Role::Assistant,
        content: String::new(),
        message_type: "chat".into(),
        model: Some("m".into()),
        prompt_tokens: None,
        completion_tokens: None,
        latency_ms: None,
        status: MessageStatus::Streaming,
        status_reason: None,
        client_id: None,
        usage_estimated: false,
        follow_active_leaf: false,
        active_leaf: leaf,
        source_id: None,
        created_at: Utc::now() - Duration::minutes(at_minutes_ago),
    }
}

async fn hits(services: &Services, user: &User, q: &str) -> Vec<String> {
    services
        .search(
            user,
            SearchInput {
                q: q.into(),
                ..Default::default()
            },
        )
        .await
        .expect("search")
        .items
        .into_iter()
        .map(|hit| hit.message_id)
        .collect()
}

pub async fn streaming_replies(store: DynStore) {
    let services = super::services(store.clone());
    let ada = super::user(&services, "ada@example.com").await;
    let question = services
        .append_message(
            &ada,
            NewMessageInput {
                role: "user".into(),
                content: "tell me about zebras".into(),
                ..Default::default()
            },
        )
        .await
        .expect("question")
        .message;

    // Stored at once, empty, as the active leaf; not searchable while it streams.
    let mut first = placeholder(&ada, &question, LeafRule::IfLeafIs(question.id.clone()), 0);
    first.client_id = Some("compose-1#reply".into());
    let appended = store
        .append_message(first.clone(), None)
        .await
        .expect("placeholder");
    assert!(appended.created);
    assert_eq!(
        appended.session.active_leaf_id.as_deref(),
        Some(first.id.as_str())
    );
    assert_eq!(appended.message.status, MessageStatus::Streaming);
    assert_eq!(appended.message.content, "");
    let by_client = store
        .message_by_client_id(&ada.id, "compose-1#reply")
        .await
        .expect("by client id");
    assert_eq!(by_client.as_ref(), Some(&appended.message));
    assert!(store
        .checkpoint_reply(&ada.id, &first.id, Some("striped quagga"), Utc::now())
        .await
        .expect("checkpoint"));
    let checkpointed = store
        .get_message(&ada.id, &first.id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(checkpointed.content, "striped quagga");
    assert_eq!(checkpointed.status, MessageStatus::Streaming);
    // A heartbeat without new text keeps the text.
    assert!(store
        .checkpoint_reply(&ada.id, &first.id, None, Utc::now())
        .await
        .expect("heartbeat"));
    let beaten = store
        .get_message(&ada.id, &first.id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(beaten, checkpointed);
    assert!(hits(&services, &ada, "quagga").await.is_empty());

    // Finished: every field as given, the session's counters moved, searchable.
    let outcome = ReplyOutcome {
        content: "striped quagga herds".into(),
        status: MessageStatus::Complete,
        status_reason: None,
        prompt_tokens: Some(3),
        completion_tokens: Some(5),
        latency_ms: Some(7),
        usage_estimated: true,
    };
    let finished = store
        .finish_reply(&ada.id, &first.id, outcome.clone())
        .await
        .expect("finish")
        .expect("exists");
    let expected = Message {
        content: outcome.content.clone(),
        status: MessageStatus::Complete,
        status_reason: None,
        prompt_tokens: Some(3),
        completion_tokens: Some(5),
        latency_ms: Some(7),
        usage_estimated: true,
        ..appended.message.clone()
    };
    assert_eq!(finished, expected);
    assert_eq!(
        store.get_message(&ada.id, &first.id).await.expect("read"),
        Some(expected.clone())
    );
    let session = services
        .get_session(&ada, &question.session_id)
        .await
        .expect("session")
        .session;
    assert_eq!((session.prompt_tokens, session.completion_tokens), (3, 5));
    assert_eq!(session.message_count, 2);
    assert_eq!(
        hits(&services, &ada, "quagga").await,
        vec![first.id.clone()]
    );
    // Stopping a reply that has ended changes nothing.
    assert_eq!(
        store.stop_reply(&ada.id, &first.id).await.expect("stop"),
        Some(expected.clone())
    );

    // A newer exchange took the branch: a late reply to the old question does not move it.
    let newer = services
        .append_message(
            &ada,
            NewMessageInput {
                session_id: Some(question.session_id.clone()),
                role: "user".into(),
                content: "and okapis?".into(),
                ..Default::default()
            },
        )
        .await
        .expect("newer question")
        .message;
    let late = placeholder(&ada, &question, LeafRule::IfLeafIs(question.id.clone()), 0);
    let appended = store
        .append_message(late.clone(), None)
        .await
        .expect("late");
    assert_eq!(
        appended.session.active_leaf_id.as_deref(),
        Some(newer.id.as_str())
    );
    assert_eq!(
        appended.message.parent_id.as_deref(),
        Some(question.id.as_str())
    );
    let session = services
        .get_session(&ada, &question.session_id)
        .await
        .expect("session")
        .session;
    assert_eq!(session.active_leaf_id.as_deref(), Some(newer.id.as_str()));

    // Stopped through the store: the generating node sees it at its next checkpoint and
    // finishes with its text, and the status stays `partial`/`stopped`.
    let stopped = store
        .stop_reply(&ada.id, &late.id)
        .await
        .expect("stop")
        .expect("exists");
    assert_eq!(
        (stopped.status, stopped.status_reason),
        (MessageStatus::Partial, Some(StatusReason::Stopped))
    );
    assert!(!store
        .checkpoint_reply(&ada.id, &late.id, Some("more"), Utc::now())
        .await
        .expect("checkpoint"));
    let ended = store
        .finish_reply(
            &ada.id,
            &late.id,
            ReplyOutcome {
                content: "okapi facts".into(),
                ..outcome.clone()
            },
        )
        .await
        .expect("finish")
        .expect("exists");
    assert_eq!(
        (ended.status, ended.status_reason, ended.content.as_str()),
        (
            MessageStatus::Partial,
            Some(StatusReason::Stopped),
            "okapi facts"
        )
    );
    assert_eq!(
        hits(&services, &ada, "okapi").await.len(),
        2,
        "the question and the reply"
    );

    // Left streaming by a process that died: recovered with what the last checkpoint held
    // (`error` when that was nothing); a reply with a recent heartbeat is left alone.
    let left = placeholder(&ada, &newer, LeafRule::IfLeafIs(newer.id.clone()), 60);
    store
        .append_message(left.clone(), None)
        .await
        .expect("left");
    store
        .checkpoint_reply(
            &ada.id,
            &left.id,
            Some("half a sentence"),
            Utc::now() - Duration::minutes(30),
        )
        .await
        .expect("checkpoint");
    let empty = placeholder(&ada, &newer, LeafRule::Set, 60);
    store
        .append_message(empty.clone(), None)
        .await
        .expect("empty");
    let alive = placeholder(&ada, &newer, LeafRule::Set, 0);
    store
        .append_message(alive.clone(), None)
        .await
        .expect("alive");
    // Old, with text, but its heartbeat (without new text) is recent: alive too.
    let thinking = placeholder(&ada, &newer, LeafRule::Set, 60);
    store
        .append_message(thinking.clone(), None)
        .await
        .expect("thinking");
    store
        .checkpoint_reply(
            &ada.id,
            &thinking.id,
            Some("let me think"),
            Utc::now() - Duration::minutes(30),
        )
        .await
        .expect("checkpoint");
    store
        .checkpoint_reply(&ada.id, &thinking.id, None, Utc::now())
        .await
        .expect("heartbeat");
    let recovered = store
        .recover_streaming(Utc::now() - Duration::seconds(10))
        .await
        .expect("recover");
    assert_eq!(recovered, 2);
    let read = |id: String| {
        let store = store.clone();
        let user = ada.id.clone();
        async move {
            store
                .get_message(&user, &id)
                .await
                .expect("read")
                .expect("exists")
        }
    };
    let left = read(left.id).await;
    assert_eq!(
        (left.status, left.status_reason, left.content.as_str()),
        (
            MessageStatus::Partial,
            Some(StatusReason::Interrupted),
            "half a sentence"
        )
    );
    let empty = read(empty.id).await;
    assert_eq!(
        (empty.status, empty.status_reason, empty.content.as_str()),
        (MessageStatus::Error, Some(StatusReason::Interrupted), "")
    );
    assert_eq!(read(alive.id).await.status, MessageStatus::Streaming);
    let thinking = read(thinking.id).await;
    assert_eq!(
        (
            thinking.status,
            thinking.status_reason,
            thinking.content.as_str()
        ),
        (MessageStatus::Streaming, None, "let me think")
    );
    assert_eq!(
        hits(&services, &ada, "sentence").await,
        vec![left.id.clone()]
    );
    assert_eq!(
        store
            .recover_streaming(Utc::now() - Duration::seconds(10))
            .await
            .expect("recover"),
        0
    );

    // A reply taken for left whose node was only late: its next checkpoint takes it back.
    assert!(store
        .checkpoint_reply(&ada.id, &left.id, Some("half a sentence more"), Utc::now())
        .await
        .expect("checkpoint"));
    let back = read(left.id.clone()).await;
    assert_eq!(
        (back.status, back.status_reason, back.content.as_str()),
        (MessageStatus::Streaming, None, "half a sentence more")
    );
    assert!(hits(&services, &ada, "sentence").await.is_empty());
    // A heartbeat without new text takes a reply back too, with the text it holds.
    assert!(store
        .checkpoint_reply(&ada.id, &empty.id, None, Utc::now())
        .await
        .expect("heartbeat"));
    let empty = read(empty.id.clone()).await;
    assert_eq!(
        (empty.status, empty.status_reason, empty.content.as_str()),
        (MessageStatus::Streaming, None, "")
    );

    // A failed reply is reopened for a retry only from the state it was read in.
    let failed = store
        .finish_reply(
            &ada.id,
            &left.id,
            ReplyOutcome {
                content: "broken".into(),
                status: MessageStatus::Partial,
                status_reason: Some(StatusReason::ProviderInterrupted),
                ..outcome.clone()
            },
        )
        .await
        .expect("finish")
        .expect("exists");
    let from = (failed.status, failed.status_reason);
    assert!(!store
        .reopen_reply(&ada.id, &left.id, (MessageStatus::Error, None))
        .await
        .expect("reopen"));
    assert!(store
        .reopen_reply(&ada.id, &left.id, from)
        .await
        .expect("reopen"));
    assert!(!store
        .reopen_reply(&ada.id, &left.id, from)
        .await
        .expect("reopen"));
    let reopened = read(left.id.clone()).await;
    assert_eq!(
        (
            reopened.status,
            reopened.status_reason,
            reopened.content.as_str()
        ),
        (MessageStatus::Streaming, None, "")
    );
    assert!(hits(&services, &ada, "broken").await.is_empty());
    let session = services
        .get_session(&ada, &question.session_id)
        .await
        .expect("session")
        .session;
    assert_eq!(
        (session.prompt_tokens, session.completion_tokens),
        (9, 15),
        "three finished replies of 3 + 5 tokens; the reopened one counts until it ends again"
    );
}
