//! The storage conformance suite: the same stories, told through the service layer, against
//! every backend. A backend is correct when all of them pass.

use chrono::Utc;
use confab_core::api::{
    MessageListInput, NewMessageInput, SearchInput, SessionListInput, SessionPatchInput,
};
use confab_core::model::{MessageStatus, Role, User, UserRole};
use confab_core::service::export::ExportDocument;
use confab_core::service::{ServiceConfig, ServiceError, Services, SignupPolicy};
use confab_core::store::{AuthSessionRecord, DynStore};
use futures::StreamExt;

pub fn services(store: DynStore) -> Services {
    Services::new(store, ServiceConfig::default())
}

fn message(session_id: Option<&str>, role: &str, content: &str) -> NewMessageInput {
    NewMessageInput {
        session_id: session_id.map(str::to_owned),
        role: role.into(),
        content: content.into(),
        ..Default::default()
    }
}

async fn user(services: &Services, email: &str) -> User {
    services
        .signup(email, "a good password", None)
        .await
        .expect("signup")
}

pub async fn accounts_and_tokens(store: DynStore) {
    let services = services(store.clone());
    let admin = user(&services, "Ada@Example.com").await;
    assert_eq!(
        admin.role,
        UserRole::Admin,
        "the first account administers the instance"
    );
    assert_eq!(admin.email, "ada@example.com");
    let second = user(&services, "bob@example.com").await;
    assert_eq!(second.role, UserRole::User);

    let duplicate = services
        .signup("ADA@example.com", "another password", None)
        .await;
    assert!(
        matches!(duplicate, Err(ServiceError::Conflict(_))),
        "{duplicate:?}"
    );
    assert!(matches!(
        services
            .signup("not-an-email", "a good password", None)
            .await,
        Err(ServiceError::Invalid { .. })
    ));
    assert!(matches!(
        services.signup("c@example.com", "short", None).await,
        Err(ServiceError::Invalid { .. })
    ));

    let logged_in = services
        .login("ada@example.com", "a good password", "test")
        .await
        .unwrap();
    assert_eq!(logged_in.id, admin.id);
    assert!(matches!(
        services
            .login("ada@example.com", "wrong password", "test")
            .await,
        Err(ServiceError::BadCredentials)
    ));
    assert!(matches!(
        services
            .login("nobody@example.com", "a good password", "test")
            .await,
        Err(ServiceError::BadCredentials)
    ));

    let token = services.create_token(&admin, "script").await.unwrap();
    assert_eq!(
        services.user_for_token(&token.token).await.unwrap().id,
        admin.id
    );
    assert!(services.user_for_token("cfb_wrong").await.is_err());
    let listed = services.list_tokens(&admin).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(services.list_tokens(&second).await.unwrap().is_empty());
    assert!(matches!(
        services.delete_token(&second, &token.id).await,
        Err(ServiceError::NotFound)
    ));
    services.delete_token(&admin, &token.id).await.unwrap();
    assert!(services.user_for_token(&token.token).await.is_err());

    // Sign-in records: saved, loaded, expired, and gone with their user.
    let record = AuthSessionRecord {
        user_id: Some(second.id.clone()),
        data: b"{}".to_vec(),
        expires_at: Utc::now() + chrono::Duration::hours(1),
    };
    store
        .save_auth_session("key-1", record.clone())
        .await
        .unwrap();
    assert!(store.load_auth_session("key-1").await.unwrap().is_some());
    let expired = AuthSessionRecord {
        expires_at: Utc::now() - chrono::Duration::seconds(1),
        ..record
    };
    store.save_auth_session("key-2", expired).await.unwrap();
    assert!(store.load_auth_session("key-2").await.unwrap().is_none());
    assert!(
        store
            .delete_expired_auth_sessions(Utc::now())
            .await
            .unwrap()
            >= 1
    );
    assert!(store.delete_user(&second.id).await.unwrap());
    assert!(store.load_auth_session("key-1").await.unwrap().is_none());
}

pub async fn closed_signup(store: DynStore) {
    let services = Services::new(
        store,
        ServiceConfig {
            signup: SignupPolicy::Closed,
            ..ServiceConfig::default()
        },
    );
    user(&services, "first@example.com").await;
    assert!(matches!(
        services
            .signup("second@example.com", "a good password", None)
            .await,
        Err(ServiceError::Forbidden(_))
    ));
}

pub async fn login_is_rate_limited(store: DynStore) {
    let services = Services::new(
        store,
        ServiceConfig {
            login_attempts: 3,
            ..ServiceConfig::default()
        },
    );
    user(&services, "limit@example.com").await;
    for _ in 0..3 {
        let _ = services
            .login("limit@example.com", "wrong password", "10.0.0.1")
            .await;
    }
    assert!(matches!(
        services
            .login("limit@example.com", "a good password", "10.0.0.1")
            .await,
        Err(ServiceError::TooManyRequests { .. })
    ));
}

pub async fn sessions_and_messages(store: DynStore) {
    let services = services(store);
    let ada = user(&services, "ada@example.com").await;
    let bob = user(&services, "bob@example.com").await;

    // A message without a session creates one, titled from the content.
    let first = services
        .append_message(
            &ada,
            message(
                None,
                "user",
                "How do lifetimes work in Rust?\nDetails follow.",
            ),
        )
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.session.title, "How do lifetimes work in Rust?");
    assert_eq!(first.session.message_count, 1);
    let session_id = first.session.id.clone();

    let mut reply = message(
        Some(&session_id),
        "assistant",
        "They describe how long references live.",
    );
    reply.model = Some("llama3".into());
    reply.prompt_tokens = Some(12);
    reply.completion_tokens = Some(30);
    reply.parent_id = Some(first.message.id.clone());
    let reply = services.append_message(&ada, reply).await.unwrap();
    assert_eq!(
        reply.message.parent_id.as_deref(),
        Some(first.message.id.as_str())
    );
    assert_eq!(reply.session.message_count, 2);
    assert_eq!(reply.session.completion_tokens, 30);

    let detail = services.get_session(&ada, &session_id).await.unwrap();
    assert_eq!(detail.models, vec!["llama3".to_string()]);
    assert_eq!(detail.session.prompt_tokens, 12);

    // Another user sees nothing of it.
    assert!(matches!(
        services.get_session(&bob, &session_id).await,
        Err(ServiceError::NotFound)
    ));
    assert!(matches!(
        services
            .append_message(&bob, message(Some(&session_id), "user", "hi"))
            .await,
        Err(ServiceError::NotFound)
    ));
    assert!(matches!(
        services
            .list_messages(
                &bob,
                MessageListInput {
                    session_id: session_id.clone(),
                    ..Default::default()
                }
            )
            .await,
        Err(ServiceError::NotFound)
    ));
    assert!(matches!(
        services.get_message(&bob, &reply.message.id).await,
        Err(ServiceError::NotFound)
    ));

    // Bad input is refused with a reason.
    for (role, content) in [("wizard", "hello"), ("user", "   ")] {
        let refused = services
            .append_message(&ada, message(Some(&session_id), role, content))
            .await;
        assert!(
            matches!(refused, Err(ServiceError::Invalid { .. })),
            "{role} {content:?}: {refused:?}"
        );
    }
    let mut bad_parent = message(Some(&session_id), "user", "x");
    bad_parent.parent_id = Some(confab_core::ids::new_id());
    assert!(matches!(
        services.append_message(&ada, bad_parent).await,
        Err(ServiceError::Invalid { .. })
    ));

    // A repeated client id gives the first message back, never a duplicate.
    let mut keyed = message(Some(&session_id), "user", "exactly once");
    keyed.client_id = Some("client-42".into());
    let once = services.append_message(&ada, keyed.clone()).await.unwrap();
    let twice = services.append_message(&ada, keyed).await.unwrap();
    assert!(once.created && !twice.created);
    assert_eq!(once.message.id, twice.message.id);
    assert_eq!(twice.session.message_count, 3);
    // Without a session id too: no second session appears.
    let mut keyed_new = message(None, "user", "new chat, once");
    keyed_new.client_id = Some("client-43".into());
    let a = services
        .append_message(&ada, keyed_new.clone())
        .await
        .unwrap();
    let b = services.append_message(&ada, keyed_new).await.unwrap();
    assert_eq!(a.session.id, b.session.id);
    // The same client id from another user is theirs alone.
    let mut bobs = message(None, "user", "bob's message");
    bobs.client_id = Some("client-42".into());
    assert!(services.append_message(&bob, bobs).await.unwrap().created);

    // Renaming, pinning, archiving.
    let renamed = services
        .update_session(
            &ada,
            &session_id,
            SessionPatchInput {
                title: Some(" Lifetimes ".into()),
                pinned: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.title, "Lifetimes");
    assert!(renamed.pinned);
    assert!(matches!(
        services
            .update_session(
                &ada,
                &session_id,
                SessionPatchInput {
                    title: Some("".into()),
                    ..Default::default()
                }
            )
            .await,
        Err(ServiceError::Invalid { .. })
    ));
    assert!(matches!(
        services
            .update_session(
                &bob,
                &session_id,
                SessionPatchInput {
                    pinned: Some(false),
                    ..Default::default()
                }
            )
            .await,
        Err(ServiceError::NotFound)
    ));
    let pinned = services
        .list_sessions(
            &ada,
            SessionListInput {
                pinned: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(pinned.items.len(), 1);
    let by_title = services
        .list_sessions(
            &ada,
            SessionListInput {
                q: Some("lifet".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(by_title.items.len(), 1);
    let percent = services
        .list_sessions(
            &ada,
            SessionListInput {
                q: Some("%".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(percent.items.is_empty(), "LIKE wildcards are literal");

    // Clearing keeps the session, deleting takes the messages with it.
    services.clear_session(&ada, &session_id).await.unwrap();
    let cleared = services.get_session(&ada, &session_id).await.unwrap();
    assert_eq!(cleared.session.message_count, 0);
    let empty = services
        .list_messages(
            &ada,
            MessageListInput {
                session_id: session_id.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(empty.items.is_empty());
    services
        .append_message(&ada, message(Some(&session_id), "user", "after clearing"))
        .await
        .unwrap();
    services.delete_session(&ada, &session_id).await.unwrap();
    assert!(matches!(
        services.get_session(&ada, &session_id).await,
        Err(ServiceError::NotFound)
    ));
    assert!(matches!(
        services.get_message(&ada, &reply.message.id).await,
        Err(ServiceError::NotFound)
    ));
    assert!(matches!(
        services.delete_session(&ada, &session_id).await,
        Err(ServiceError::NotFound)
    ));
}

pub async fn pagination(store: DynStore) {
    let services = services(store);
    let ada = user(&services, "ada@example.com").await;
    let mut created = Vec::new();
    for n in 0..7 {
        let session = services
            .create_session(&ada, Some(&format!("chat {n}")))
            .await
            .unwrap();
        created.push(session.id);
    }
    // Newest activity first, across pages, without gaps or repeats.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = services
            .list_sessions(
                &ada,
                SessionListInput {
                    limit: Some(3),
                    cursor: cursor.clone(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.into_iter().map(|session| session.id));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    let mut expected = created.clone();
    expected.reverse();
    assert_eq!(seen, expected);

    // A message moves its session to the top.
    services
        .append_message(&ada, message(Some(&created[0]), "user", "bump"))
        .await
        .unwrap();
    let top = services
        .list_sessions(
            &ada,
            SessionListInput {
                limit: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(top.items[0].id, created[0]);

    // Messages: the newest page first, each page in chronological order.
    let session = &created[1];
    let mut ids = Vec::new();
    for n in 0..25 {
        let mut input = message(
            Some(session),
            if n % 2 == 0 { "user" } else { "assistant" },
            &format!("message number {n}"),
        );
        if n % 5 == 0 {
            input.message_type = Some("code_review".into());
        }
        ids.push(
            services
                .append_message(&ada, input)
                .await
                .unwrap()
                .message
                .id,
        );
    }
    let latest = services
        .list_messages(
            &ada,
            MessageListInput {
                session_id: session.clone(),
                limit: Some(10),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        latest
            .items
            .iter()
            .map(|m| m.id.clone())
            .collect::<Vec<_>>(),
        ids[15..].to_vec()
    );
    let earlier = services
        .list_messages(
            &ada,
            MessageListInput {
                session_id: session.clone(),
                limit: Some(10),
                before: latest.next_cursor.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        earlier
            .items
            .iter()
            .map(|m| m.id.clone())
            .collect::<Vec<_>>(),
        ids[5..15].to_vec()
    );
    let rest = services
        .list_messages(
            &ada,
            MessageListInput {
                session_id: session.clone(),
                limit: Some(10),
                before: earlier.next_cursor.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 5);
    assert!(rest.next_cursor.is_none());

    let reviews = services
        .list_messages(
            &ada,
            MessageListInput {
                session_id: session.clone(),
                message_type: Some("code_review".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(reviews.items.len(), 5);
    assert!(reviews
        .items
        .iter()
        .all(|m| m.message_type == "code_review"));
    let assistants = services
        .list_messages(
            &ada,
            MessageListInput {
                session_id: session.clone(),
                role: Some("assistant".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(assistants.items.iter().all(|m| m.role == Role::Assistant));
    assert_eq!(assistants.items.len(), 12);

    // Limits are clamped, cursors checked.
    let clamped = services
        .list_messages(
            &ada,
            MessageListInput {
                session_id: session.clone(),
                limit: Some(0),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(clamped.items.len(), 1);
    assert!(services
        .list_sessions(
            &ada,
            SessionListInput {
                cursor: Some("garbage!".into()),
                ..Default::default()
            }
        )
        .await
        .is_err());
}

pub async fn search(store: DynStore) {
    let services = services(store);
    let ada = user(&services, "ada@example.com").await;
    let bob = user(&services, "bob@example.com").await;
    let rust = services
        .append_message(
            &ada,
            message(None, "user", "Tell me about the borrow checker"),
        )
        .await
        .unwrap();
    let sid = rust.session.id.clone();
    let mut answer = message(Some(&sid), "assistant", "The borrow checker enforces ownership. Borrow rules: one mutable borrow or many shared borrows.");
    answer.model = Some("llama3".into());
    services.append_message(&ada, answer).await.unwrap();
    let other = services
        .append_message(
            &ada,
            message(None, "user", "A recipe for <b>zucchini</b> bread & butter"),
        )
        .await
        .unwrap();
    services
        .append_message(
            &bob,
            message(
                None,
                "user",
                "bob also mentions the borrow checker and zucchini",
            ),
        )
        .await
        .unwrap();

    let found = services
        .search(
            &ada,
            SearchInput {
                q: "borrow".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(found.items.len(), 2, "only ada's two messages");
    assert_eq!(
        found.items[0].role,
        Role::Assistant,
        "the message with more hits ranks first"
    );
    assert!(
        found.items[0].snippet.contains("<mark>"),
        "{}",
        found.items[0].snippet
    );
    assert_eq!(
        found.items[0].session_title,
        "Tell me about the borrow checker"
    );

    let zucchini = services
        .search(
            &ada,
            SearchInput {
                q: "zucchini".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(zucchini.items.len(), 1);
    assert_eq!(zucchini.items[0].session_id, other.session.id);
    let snippet = &zucchini.items[0].snippet;
    assert!(
        snippet.contains("&lt;b&gt;<mark>zucchini</mark>&lt;/b&gt;"),
        "{snippet}"
    );
    assert!(snippet.contains("&amp;"), "{snippet}");

    // As you type: the last word is a prefix.
    let prefix = services
        .search(
            &ada,
            SearchInput {
                q: "zucch".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(prefix.items.len(), 1);

    // Filters.
    let by_role = services
        .search(
            &ada,
            SearchInput {
                q: "borrow".into(),
                role: Some("user".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(by_role.items.len(), 1);
    let by_model = services
        .search(
            &ada,
            SearchInput {
                q: "borrow".into(),
                model: Some("llama3".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(by_model.items.len(), 1);
    let by_session = services
        .search(
            &ada,
            SearchInput {
                q: "borrow".into(),
                session_id: Some(other.session.id.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(by_session.items.is_empty());
    let future = services
        .search(
            &ada,
            SearchInput {
                q: "borrow".into(),
                from: Some((Utc::now() + chrono::Duration::days(1)).to_rfc3339()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(future.items.is_empty());

    // Hostile text never reaches the query language.
    for hostile in [
        "\"",
        "borrow*",
        "NEAR(borrow checker",
        "borrow AND OR NOT",
        "((",
        "*",
        "\"unbalanced",
        "col:borrow",
        "^borrow",
        "borrow -checker",
        "'; DROP TABLE messages; --",
    ] {
        let result = services
            .search(
                &ada,
                SearchInput {
                    q: hostile.into(),
                    ..Default::default()
                },
            )
            .await;
        assert!(result.is_ok(), "{hostile}: {result:?}");
    }
    let near = services
        .search(
            &ada,
            SearchInput {
                q: "NEAR(borrow checker".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        near.items.is_empty(),
        "near is a plain word that no message contains"
    );

    // Pages of results.
    for n in 0..6 {
        services
            .append_message(
                &ada,
                message(Some(&sid), "user", &format!("pagination marker word {n}")),
            )
            .await
            .unwrap();
    }
    let page_one = services
        .search(
            &ada,
            SearchInput {
                q: "marker".into(),
                limit: Some(4),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page_one.items.len(), 4);
    let page_two = services
        .search(
            &ada,
            SearchInput {
                q: "marker".into(),
                limit: Some(4),
                cursor: page_one.next_cursor.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page_two.items.len(), 2);
    assert!(page_two.next_cursor.is_none());

    // Deleted messages leave the index.
    services
        .delete_session(&ada, &other.session.id)
        .await
        .unwrap();
    let gone = services
        .search(
            &ada,
            SearchInput {
                q: "zucchini".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(gone.items.is_empty());
}

pub async fn export_and_import(source: DynStore, target: DynStore) {
    let services_a = services(source);
    let ada = user(&services_a, "ada@example.com").await;
    let first = services_a
        .append_message(&ada, message(None, "user", "Export me"))
        .await
        .unwrap();
    let mut reply = message(
        Some(&first.session.id),
        "assistant",
        "```rust\nfn main() {}\n```",
    );
    reply.parent_id = Some(first.message.id.clone());
    reply.model = Some("qwen".into());
    reply.message_type = Some("code".into());
    services_a.append_message(&ada, reply).await.unwrap();
    services_a
        .create_session(&ada, Some("Empty one"))
        .await
        .unwrap();
    services_a
        .update_session(
            &ada,
            &first.session.id,
            SessionPatchInput {
                pinned: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    let export = collect_export(&services_a, &ada).await;
    let document: ExportDocument = serde_json::from_str(&export).expect("the export is valid JSON");
    assert_eq!(document.sessions.len(), 2);

    let services_b = services(target);
    let bea = user(&services_b, "bea@example.com").await;
    let report = services_b
        .import_confab(&bea, document.clone())
        .await
        .unwrap();
    assert_eq!(
        (report.sessions, report.messages, report.skipped),
        (2, 2, 0)
    );
    let again = services_b
        .import_confab(&bea, document.clone())
        .await
        .unwrap();
    assert_eq!(
        (again.sessions, again.messages, again.skipped),
        (0, 0, 2),
        "re-import adds nothing"
    );

    let round_trip: ExportDocument =
        serde_json::from_str(&collect_export(&services_b, &bea).await).unwrap();
    assert_eq!(
        comparable(&document),
        comparable(&round_trip),
        "export, import, export keeps the content"
    );
}

async fn collect_export(services: &Services, user: &User) -> String {
    let chunks: Vec<_> = services.export_account(user.clone()).collect().await;
    chunks
        .into_iter()
        .map(|chunk| chunk.expect("export chunk"))
        .collect()
}

/// Everything but ids and export time, in a stable order.
fn comparable(
    document: &ExportDocument,
) -> Vec<(
    String,
    bool,
    bool,
    Vec<(
        Role,
        String,
        String,
        Option<String>,
        MessageStatus,
        bool,
        String,
    )>,
)> {
    let mut sessions: Vec<_> = document
        .sessions
        .iter()
        .map(|exported| {
            let messages = exported
                .messages
                .iter()
                .map(|m| {
                    (
                        m.role,
                        m.content.clone(),
                        m.message_type.clone(),
                        m.model.clone(),
                        m.status,
                        m.parent_id.is_some(),
                        m.created_at.to_rfc3339(),
                    )
                })
                .collect();
            (
                exported.session.title.clone(),
                exported.session.pinned,
                exported.session.archived,
                messages,
            )
        })
        .collect();
    sessions.sort_by(|a, b| a.0.cmp(&b.0));
    sessions
}
