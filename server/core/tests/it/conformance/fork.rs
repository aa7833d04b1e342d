//! "Continue in a new conversation": a fork copies the path from the root to a message into a
//! new conversation linked to its source, with every counter exact, on every backend.

use chrono::Utc;
use confab_core::api::{ForkInput, SessionListInput};
use confab_core::model::{ForkedFrom, Message, MessageStatus, Role, Session, StatusReason, User};
use confab_core::service::{ServiceConfig, ServiceError, Services};
use confab_core::store::{DynStore, ImportSession, LeafRule, NewMessage, NewSession};

use super::replies::placeholder;
use super::{message, services, user};

async fn append(
    services: &Services,
    user: &User,
    session_id: Option<&str>,
    parent: Option<&Message>,
    role: &str,
    content: &str,
) -> Message {
    let mut input = message(session_id, role, content);
    input.parent_id = parent.map(|parent| parent.id.clone());
    services.append_message(user, input).await.unwrap().message
}

fn fork_at(message: &Message) -> ForkInput {
    ForkInput {
        message_id: message.id.clone(),
    }
}

async fn user_message_count(store: &DynStore, user: &User) -> i64 {
    store
        .list_users(None, 100)
        .await
        .unwrap()
        .into_iter()
        .find(|summary| summary.id == user.id)
        .expect("the user is listed")
        .message_count
}

/// The copy of `path` (root first) that `fork` must hold: every field of each message the
/// same but its id, session and parent (the copy's own chain) and its client id (dropped).
fn assert_copy_of(path: &[Message], copy: &[Message], fork: &Session) {
    assert_eq!(copy.len(), path.len());
    let mut parent: Option<String> = None;
    for (original, copied) in path.iter().zip(copy) {
        assert_ne!(copied.id, original.id, "a copy has an id of its own");
        assert_eq!(
            copied,
            &Message {
                id: copied.id.clone(),
                session_id: fork.id.clone(),
                parent_id: parent.clone(),
                client_id: None,
                ..original.clone()
            }
        );
        parent = Some(copied.id.clone());
    }
    assert_eq!(
        fork.active_leaf_id, parent,
        "the copied message is the leaf"
    );
}

pub async fn forking_a_conversation(store: DynStore) {
    let services = services(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let bob = user(&services, "bob@example.com").await;

    // A branched conversation: question, answer, then two follow-ups under the answer (the
    // second an edit of the first), each answered.
    let mut first = message(None, "user", "Plan a trip to Lisbon");
    first.client_id = Some("client-1".into());
    let question = services.append_message(&ada, first).await.unwrap();
    let session_id = question.session.id.clone();
    let question = question.message;
    let mut reply = message(Some(&session_id), "assistant", "Day one: Alfama");
    reply.parent_id = Some(question.id.clone());
    reply.model = Some("llama3.2".into());
    reply.message_type = Some("code".into());
    reply.prompt_tokens = Some(12);
    reply.completion_tokens = Some(34);
    reply.latency_ms = Some(560);
    reply.usage_estimated = true;
    let answer = services.append_message(&ada, reply).await.unwrap().message;
    let follow_up = append(
        &services,
        &ada,
        Some(&session_id),
        Some(&answer),
        "user",
        "And day two?",
    )
    .await;
    let mut second = message(Some(&session_id), "assistant", "Belém");
    second.parent_id = Some(follow_up.id.clone());
    second.model = Some("qwen".into());
    second.prompt_tokens = Some(50);
    second.completion_tokens = Some(7);
    let second = services.append_message(&ada, second).await.unwrap().message;
    let edited = append(
        &services,
        &ada,
        Some(&session_id),
        Some(&answer),
        "user",
        "And the food?",
    )
    .await;
    let food = append(
        &services,
        &ada,
        Some(&session_id),
        Some(&edited),
        "assistant",
        "Pastéis de nata",
    )
    .await;
    let source_before = services.get_session(&ada, &session_id).await.unwrap();
    assert_eq!(
        source_before.session.active_leaf_id.as_ref(),
        Some(&food.id)
    );
    let source_messages = store.all_messages(&ada.id, &session_id).await.unwrap();
    // The messages as stored (times in the store's precision).
    let stored = |message: &Message| {
        source_messages
            .iter()
            .find(|stored| stored.id == message.id)
            .expect("a message of the source")
            .clone()
    };
    let ada_count = user_message_count(&store, &ada).await;
    assert_eq!(ada_count, 6);

    // From the middle of the tree, off the active branch: only the path to `second`.
    let before = Utc::now();
    let fork = services
        .fork_session(&ada, &session_id, fork_at(&second))
        .await
        .unwrap();
    let after = Utc::now();
    assert!(
        before.timestamp_millis() <= fork.created_at.timestamp_millis() && fork.created_at <= after
    );
    assert_ne!(fork.id, session_id);
    assert_eq!(
        fork,
        Session {
            id: fork.id.clone(),
            title: "Plan a trip to Lisbon".into(),
            is_active: true,
            pinned: false,
            archived: false,
            message_count: 4,
            prompt_tokens: 62,
            completion_tokens: 41,
            created_at: fork.created_at,
            updated_at: fork.created_at,
            last_message_at: Some(stored(&second).created_at),
            active_leaf_id: fork.active_leaf_id.clone(),
            forked_from: Some(ForkedFrom {
                session_id: session_id.clone(),
                message_id: second.id.clone(),
            }),
            tags: Vec::new(),
            folder_id: None,
        }
    );
    let copy = store.all_messages(&ada.id, &fork.id).await.unwrap();
    assert_copy_of(
        &[
            stored(&question),
            stored(&answer),
            stored(&follow_up),
            stored(&second),
        ],
        &copy,
        &fork,
    );
    let detail = services.get_session(&ada, &fork.id).await.unwrap();
    assert_eq!(detail.session, fork);
    assert_eq!(detail.models, ["llama3.2", "qwen"]);
    assert_eq!(user_message_count(&store, &ada).await, ada_count + 4);
    // The fork is the newest conversation; the source is as it was.
    let listed = services
        .list_sessions(&ada, SessionListInput::default())
        .await
        .unwrap();
    assert_eq!(
        listed
            .items
            .iter()
            .map(|session| session.id.as_str())
            .collect::<Vec<_>>(),
        [fork.id.as_str(), session_id.as_str()]
    );
    assert_eq!(
        services.get_session(&ada, &session_id).await.unwrap(),
        source_before
    );
    assert_eq!(
        store.all_messages(&ada.id, &session_id).await.unwrap(),
        source_messages
    );
    // The copy is a conversation like any other: it goes on from its leaf.
    let next = append(
        &services,
        &ada,
        Some(&fork.id),
        None,
        "user",
        "And day three?",
    )
    .await;
    assert_eq!(next.parent_id, fork.active_leaf_id);
    assert_eq!(user_message_count(&store, &ada).await, ada_count + 5);

    // From the first message: a conversation of one.
    let single = services
        .fork_session(&ada, &session_id, fork_at(&question))
        .await
        .unwrap();
    assert_eq!(single.message_count, 1);
    assert_eq!((single.prompt_tokens, single.completion_tokens), (0, 0));
    let copy = store.all_messages(&ada.id, &single.id).await.unwrap();
    assert_copy_of(&[stored(&question)], &copy, &single);
    assert_eq!(user_message_count(&store, &ada).await, ada_count + 6);

    // Another user's conversation is not found, whatever the message; a message of another
    // of the user's conversations is refused; unknown ids are not found.
    let bobs = append(&services, &bob, None, None, "user", "Bob's own").await;
    let refused = [
        services
            .fork_session(&bob, &session_id, fork_at(&second))
            .await,
        services
            .fork_session(&bob, &bobs.session_id, fork_at(&second))
            .await,
        services
            .fork_session(&ada, &bobs.session_id, fork_at(&bobs))
            .await,
        services
            .fork_session(&ada, &session_id, fork_at(&bobs))
            .await,
        services
            .fork_session(
                &ada,
                &session_id,
                ForkInput {
                    message_id: "not an id".into(),
                },
            )
            .await,
    ];
    for outcome in refused {
        assert!(
            matches!(outcome, Err(ServiceError::NotFound)),
            "{outcome:?}"
        );
    }
    let outside = services
        .fork_session(&ada, &session_id, fork_at(&next))
        .await;
    assert!(
        matches!(
            &outside,
            Err(ServiceError::Invalid {
                code: "message_not_in_session",
                ..
            })
        ),
        "{outside:?}"
    );

    // A reply still being written cannot be forked from (nor can a message below it).
    let streaming = store
        .append_message(placeholder(&ada, &food, LeafRule::Set, 0), None)
        .await
        .unwrap()
        .message;
    let busy = services
        .fork_session(&ada, &session_id, fork_at(&streaming))
        .await;
    assert!(matches!(&busy, Err(ServiceError::Conflict(_))), "{busy:?}");
    // Once it has ended (stopped here), it is copied as it ended.
    services.stop_reply(&ada, &streaming.id).await.unwrap();
    let stopped = services
        .fork_session(&ada, &session_id, fork_at(&streaming))
        .await
        .unwrap();
    let copy = store.all_messages(&ada.id, &stopped.id).await.unwrap();
    let ended = services.get_message(&ada, &streaming.id).await.unwrap();
    assert_eq!(
        (ended.status, ended.status_reason),
        (MessageStatus::Partial, Some(StatusReason::Stopped))
    );
    assert_copy_of(
        &[
            stored(&question),
            stored(&answer),
            stored(&edited),
            stored(&food),
            ended,
        ],
        &copy,
        &stopped,
    );

    // The source deleted: the fork keeps its link (to nothing now), and the source can no
    // longer be forked.
    services.delete_session(&ada, &session_id).await.unwrap();
    let kept = services.get_session(&ada, &fork.id).await.unwrap().session;
    assert_eq!(kept.forked_from, fork.forked_from);
    let gone = services
        .fork_session(&ada, &session_id, fork_at(&answer))
        .await;
    assert!(matches!(gone, Err(ServiceError::NotFound)), "{gone:?}");
}

/// A long path is read a page at a time and copied whole; a path longer than the limit is
/// refused before anything is written.
pub async fn forking_a_long_path(store: DynStore) {
    let services = Services::new(
        store.clone(),
        ServiceConfig {
            max_fork_messages: 600,
            ..ServiceConfig::default()
        },
    );
    let ada = user(&services, "ada@example.com").await;
    let start = Utc::now() - chrono::Duration::days(1);
    let session_id = confab_core::ids::new_id();
    let mut chain: Vec<NewMessage> = Vec::new();
    for n in 0..700usize {
        let created_at = start + chrono::Duration::seconds(n as i64);
        chain.push(NewMessage {
            id: confab_core::ids::derived_id(created_at, 0, &ada.id, &format!("long:{n}")),
            user_id: ada.id.clone(),
            session_id: session_id.clone(),
            parent_id: chain.last().map(|parent| parent.id.clone()),
            role: if n % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            },
            content: format!("message {n}"),
            message_type: "chat".into(),
            model: (n % 2 == 1).then(|| "llama3.2".to_owned()),
            prompt_tokens: Some(n as i64),
            completion_tokens: Some(1),
            latency_ms: None,
            status: MessageStatus::Complete,
            status_reason: None,
            client_id: None,
            usage_estimated: false,
            follow_active_leaf: false,
            active_leaf: LeafRule::Set,
            source_id: None,
            created_at,
            starred_at: None,
        });
    }
    store
        .import_sessions(
            &ada.id,
            vec![ImportSession {
                session: NewSession {
                    folder_id: None,
                    id: session_id.clone(),
                    user_id: ada.id.clone(),
                    title: "Long".into(),
                    source_id: None,
                    created_at: start,
                },
                pinned: false,
                archived: false,
                is_active: true,
                updated_at: None,
                active_leaf_id: chain.last().map(|leaf| leaf.id.clone()),
                forked_from: None,
                tags: Vec::new(),
                messages: chain.clone(),
            }],
        )
        .await
        .unwrap();
    let source = store.all_messages(&ada.id, &session_id).await.unwrap();
    assert_eq!(source.len(), 700);

    // 550 messages: a full page and part of a second.
    let at = &source[549];
    let fork = services
        .fork_session(&ada, &session_id, fork_at(at))
        .await
        .unwrap();
    assert_eq!(fork.message_count, 550);
    assert_eq!(fork.prompt_tokens, (0..550).sum::<i64>());
    assert_eq!(fork.completion_tokens, 550);
    assert_eq!(fork.last_message_at, Some(at.created_at));
    let copy = store.all_messages(&ada.id, &fork.id).await.unwrap();
    assert_copy_of(&source[..550], &copy, &fork);
    assert_eq!(user_message_count(&store, &ada).await, 700 + 550);

    // The limit: 600 messages copy, 601 do not (and nothing is written).
    let longest = services
        .fork_session(&ada, &session_id, fork_at(&source[599]))
        .await
        .unwrap();
    assert_eq!(longest.message_count, 600);
    let over = services
        .fork_session(&ada, &session_id, fork_at(&source[600]))
        .await;
    assert!(
        matches!(
            &over,
            Err(ServiceError::Invalid {
                code: "fork_too_long",
                ..
            })
        ),
        "{over:?}"
    );
    assert_eq!(user_message_count(&store, &ada).await, 700 + 550 + 600);
    assert_eq!(
        services
            .list_sessions(&ada, SessionListInput::default())
            .await
            .unwrap()
            .items
            .len(),
        3
    );
}
