//! The storage conformance suite: the same stories, told through the service layer, against
//! every backend. A backend is correct when all of them pass.

use chrono::Utc;
use confab_core::api::{
    MessageListInput, NewMessageInput, SearchInput, SessionListInput, SessionPatchInput,
};
use confab_core::model::{MessageStatus, Role, User, UserRole};
use confab_core::service::accounts::ExternalSignInError;
use confab_core::service::export::ExportDocument;
use confab_core::service::{ServiceConfig, ServiceError, Services, SignupPolicy};
use confab_core::store::{AuthSessionRecord, DynStore};
use futures::StreamExt;

pub mod admin;
mod archived_search;
pub mod backup;
pub mod branches;
mod folders;
mod fork;
mod replies;
pub mod round_trip;
mod stars;
mod tags;
pub use admin::{
    a_reset_stops_the_tokens_of_the_old_password, admin_user_list_and_counters,
    an_admin_change_and_its_audit_entry_are_one, disabling_an_account,
    invitations_through_a_provider, invitations_work_once, one_time_secrets_race_across_nodes,
    password_resets, stored_policy_and_audit_log, users_are_created_with_their_identity,
};
pub use archived_search::search_archived;
pub use backup::{
    backup_round_trip_keeps_every_field, imported_client_ids_never_cost_a_message,
    markdown_export_shows_the_active_branch,
    restore_into_the_same_account_adds_only_what_is_missing,
    restores_after_a_purge_agree_whatever_the_format,
};
pub use branches::{
    branch_ends_after_forks_anywhere, branch_pages_by_hand, concurrent_appends_make_one_branch,
};
pub use folders::{folders, folders_in_backups};
pub use fork::{forking_a_conversation, forking_a_long_path};
pub use replies::streaming_replies;
pub use stars::starred_messages;
pub use tags::{tags, tags_put_on_at_once_are_all_kept};

/// Every story that takes one fresh store, listed once: `every_story!(run)` expands to
/// `run!(story, ...)`, where `run` is a backend's macro that writes one test per story (see
/// `sqlite_store.rs`, `mongo_store.rs`). A story added here runs on every backend; one that
/// takes a store and is not listed fails `every_story_is_listed`.
macro_rules! every_story {
    ($run:ident) => {
        $run! {
            accounts_and_tokens,
            bulk_actions_change_many_sessions_at_once,
            closed_signup,
            login_is_rate_limited,
            a_successful_sign_in_keeps_the_client_count,
            a_burst_is_counted_before_hashing,
            sessions_and_messages,
            pagination,
            search,
            search_ranking_and_snippets,
            search_cjk,
            search_archived,
            session_title_filter,
            title_filter_pages_a_bounded_window,
            session_models,
            concurrent_appends_store_once,
            first_account_race,
            deleting_a_user_removes_everything,
            deleting_an_account,
            auth_session_records,
            import_counters_and_branches,
            streaming_replies,
            provider_identities,
            deleted_sessions_are_hidden_and_restorable,
            purging_deleted_sessions,
            purging_a_long_conversation,
            reimporting_a_deleted_conversation_restores_it,
            restore_into_the_same_account_adds_only_what_is_missing,
            restores_after_a_purge_agree_whatever_the_format,
            imported_client_ids_never_cost_a_message,
            markdown_export_shows_the_active_branch,
            branch_pages_by_hand,
            branch_ends_after_forks_anywhere,
            odd_content_is_stored_whole_and_found,
            admin_user_list_and_counters,
            disabling_an_account,
            invitations_work_once,
            invitations_through_a_provider,
            users_are_created_with_their_identity,
            password_resets,
            stored_policy_and_audit_log,
            an_admin_change_and_its_audit_entry_are_one,
            a_reset_stops_the_tokens_of_the_old_password,
            forking_a_conversation,
            forking_a_long_path,
            starred_messages,
            tags,
            folders,
            folders_in_backups,
            tags_put_on_at_once_are_all_kept,
        }
    };
}
pub(crate) use every_story;

/// The stories of [`every_story!`], by name.
macro_rules! names {
    ($($name:ident),* $(,)?) => {
        &[$(stringify!($name)),*]
    };
}
const STORIES: &[&str] = every_story!(names);

/// Each `pub async fn NAME(store: DynStore)` of the suite's files is a story both backends
/// run: it is in [`every_story!`].
#[test]
fn every_story_is_listed() {
    let files = [
        include_str!("mod.rs"),
        include_str!("admin.rs"),
        include_str!("archived_search.rs"),
        include_str!("backup.rs"),
        include_str!("branches.rs"),
        include_str!("fork.rs"),
        include_str!("replies.rs"),
        include_str!("round_trip.rs"),
        include_str!("stars.rs"),
        include_str!("tags.rs"),
        include_str!("folders.rs"),
    ];
    let defined: Vec<&str> = files
        .iter()
        .flat_map(|file| file.lines())
        .filter_map(|line| {
            line.strip_prefix("pub async fn ")?
                .strip_suffix("(store: DynStore) {")
        })
        .collect();
    assert_eq!(defined.len(), STORIES.len(), "{defined:?}");
    for story in defined {
        assert!(STORIES.contains(&story), "{story} is not in every_story!");
    }
}

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
        .signup(email, "a good password", None, email)
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
        .signup("ADA@example.com", "another password", None, "test")
        .await;
    assert!(
        matches!(duplicate, Err(ServiceError::Conflict(_))),
        "{duplicate:?}"
    );
    assert!(matches!(
        services
            .signup("not-an-email", "a good password", None, "test")
            .await,
        Err(ServiceError::Invalid { .. })
    ));
    assert!(matches!(
        services
            .signup("c@example.com", "short", None, "test")
            .await,
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

    let token = services.create_token(&admin, "script", None).await.unwrap();
    assert_eq!(
        services.user_for_token(&token.token).await.unwrap().0.id,
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
            .signup("second@example.com", "a good password", None, "test")
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

/// A sign-in to an account of one's own does not clear the count of one's guesses at other
/// accounts: it clears the email's count and gives back only its own attempt. Otherwise nine
/// guesses, one sign-in of one's own, nine guesses, ... never reach the limit. Successful
/// sign-ins themselves spend nothing: people sharing one address all sign in.
pub async fn a_successful_sign_in_keeps_the_client_count(store: DynStore) {
    let services = Services::new(
        store,
        ServiceConfig {
            login_attempts: 10,
            ..ServiceConfig::default()
        },
    );
    for number in 0..12 {
        user(&services, &format!("colleague{number}@example.com")).await;
    }
    user(&services, "mallory@example.com").await;
    // Twelve people behind one address sign in: more than the limit, none refused.
    for number in 0..12 {
        services
            .login(
                &format!("colleague{number}@example.com"),
                "a good password",
                "10.0.0.6",
            )
            .await
            .unwrap_or_else(|error| panic!("colleague {number}: {error:?}"));
    }
    let guess = |number: usize| {
        let services = &services;
        async move {
            services
                .login(
                    &format!("victim{number}@example.com"),
                    "a guess",
                    "10.0.0.7",
                )
                .await
        }
    };
    for number in 0..9 {
        let result = guess(number).await;
        assert!(
            matches!(result, Err(ServiceError::BadCredentials)),
            "guess {number}: {result:?}"
        );
    }
    services
        .login("mallory@example.com", "a good password", "10.0.0.7")
        .await
        .expect("Mallory signs in to her own account");
    // Her sign-in did not wipe out her nine guesses: the tenth is checked, the eleventh refused
    // until the window that opened with the first guess ends (hashing took a few seconds).
    let tenth = guess(9).await;
    assert!(
        matches!(tenth, Err(ServiceError::BadCredentials)),
        "{tenth:?}"
    );
    let eleventh = guess(10).await;
    assert!(
        matches!(
            eleventh,
            Err(ServiceError::TooManyRequests { retry_after_secs }) if (1..=300).contains(&retry_after_secs)
        ),
        "{eleventh:?}"
    );
    // Her email's count was cleared by her sign-in: from another client she still signs in.
    services
        .login("mallory@example.com", "a good password", "10.0.0.8")
        .await
        .expect("Mallory from another client");
}

/// How many of `results` were refused for a whole fresh window of `window_secs`.
fn refused_for<T>(results: &[Result<T, ServiceError>], window_secs: u64) -> usize {
    results
        .iter()
        .filter(|result| {
            matches!(result, Err(ServiceError::TooManyRequests { retry_after_secs }) if *retry_after_secs == window_secs)
        })
        .count()
}

/// A burst of concurrent attempts is counted before any password is hashed or checked: of
/// twenty wrong sign-ins at once from one client exactly the limit are checked, and of twenty
/// sign-ups at once exactly the limit create accounts; the rest are refused for the window.
pub async fn a_burst_is_counted_before_hashing(store: DynStore) {
    let services = Services::new(
        store,
        ServiceConfig {
            login_attempts: 4,
            signup_attempts: 4,
            ..ServiceConfig::default()
        },
    );
    let sign_ins = futures::future::join_all((0..20).map(|number| {
        let email = format!("guess{number}@example.com");
        let services = &services;
        async move { services.login(&email, "wrong password", "10.0.0.9").await }
    }))
    .await;
    let checked = sign_ins
        .iter()
        .filter(|result| matches!(result, Err(ServiceError::BadCredentials)))
        .count();
    assert_eq!((checked, refused_for(&sign_ins, 300)), (4, 16));

    let sign_ups = futures::future::join_all((0..20).map(|number| {
        let email = format!("new{number}@example.com");
        let services = &services;
        async move {
            services
                .signup(&email, "a good password", None, "10.0.0.9")
                .await
        }
    }))
    .await;
    let created = sign_ups.iter().filter(|result| result.is_ok()).count();
    assert_eq!((created, refused_for(&sign_ups, 3600)), (4, 16));
    // Sign-ups and sign-ins keep separate counts, and other clients have their own.
    services
        .signup("other@example.com", "a good password", None, "10.0.0.10")
        .await
        .expect("another client signs up");
    services
        .login("other@example.com", "a good password", "10.0.0.10")
        .await
        .expect("and signs in");
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

/// A message as the round trip must keep it: role, content, type, model, status, whether it has
/// a parent, and its time.
type ComparableMessage = (
    Role,
    String,
    String,
    Option<String>,
    MessageStatus,
    bool,
    String,
);
/// A session as the round trip must keep it: title, pinned, archived and its messages.
type ComparableSession = (String, bool, bool, Vec<ComparableMessage>);

/// Everything but ids and export time, in a stable order.
fn comparable(document: &ExportDocument) -> Vec<ComparableSession> {
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

// Stories added with the MongoDB backend.

/// The hits of `q` for `user`, first page.
pub async fn search_for(
    services: &Services,
    user: &User,
    q: &str,
) -> Vec<confab_core::model::SearchHit> {
    services
        .search(
            user,
            SearchInput {
                q: q.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|error| panic!("search {q:?}: {error:?}"))
        .items
}

/// Ranking weighs rare words over common ones, every word is required, and snippets are cut,
/// centred and marked the same way on every backend.
pub async fn search_ranking_and_snippets(store: DynStore) {
    let services = services(store);
    let ada = user(&services, "ada@example.com").await;
    let first = services
        .append_message(&ada, message(None, "user", "the cat sat on the mat"))
        .await
        .unwrap();
    let sid = first.session.id.clone();
    let say = |content: String| {
        let services = &services;
        let ada = &ada;
        let sid = sid.clone();
        async move {
            services
                .append_message(ada, message(Some(&sid), "user", &content))
                .await
                .unwrap()
                .message
        }
    };
    for filler in [
        "the dog ate the bone",
        "the sun rose over the hill",
        "the end of the story",
        "the river ran to the sea",
        "the bird sang in the tree",
    ] {
        say(filler.into()).await;
    }
    let common = say("the the the the borrow".into()).await;
    let rare = say("borrow borrow the fox jumps".into()).await;

    // "the" is in every message, "borrow" in two: the message with more of the rare word wins,
    // though the other has more words of the query.
    let ranked = search_for(&services, &ada, "the borrow").await;
    let order: Vec<&str> = ranked.iter().map(|hit| hit.message_id.as_str()).collect();
    assert_eq!(order, [rare.id.as_str(), common.id.as_str()]);
    assert_eq!(
        ranked[0].snippet,
        "<mark>borrow</mark> <mark>borrow</mark> <mark>the</mark> fox jumps"
    );
    assert!(
        search_for(&services, &ada, "borrow zebra").await.is_empty(),
        "every word is required"
    );

    // A long message: 24 words around the hit, cut on both sides.
    let words: Vec<String> = (0..60).map(|n| format!("w{n}")).collect();
    let long = say(words.join(" ").replace("w30 ", "needle ")).await;
    let hits = search_for(&services, &ada, "needle").await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].message_id, long.id);
    let expected: Vec<String> = (19..43)
        .map(|n| {
            if n == 30 {
                "<mark>needle</mark>".to_owned()
            } else {
                format!("w{n}")
            }
        })
        .collect();
    assert_eq!(hits[0].snippet, format!("…{}…", expected.join(" ")));

    // A window that starts a sentence is preferred, and the tail of the text is kept.
    let sentences = say(format!(
        "{}. Then a haystack: {} and finally.",
        (0..30)
            .map(|n| format!("a{n}"))
            .collect::<Vec<_>>()
            .join(" "),
        "hay hay hay straw straw hay hay straw haystack needlework"
    ))
    .await;
    let hits = search_for(&services, &ada, "haystack").await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].message_id, sentences.id);
    assert_eq!(
        hits[0].snippet,
        "…Then a <mark>haystack</mark>: hay hay hay straw straw hay hay straw \
         <mark>haystack</mark> needlework and finally."
    );

    // Two words far apart: the window with both wins over one with either.
    let apart = say(format!(
        "alpha {} omega {} alpha omega",
        (0..40)
            .map(|n| format!("x{n}"))
            .collect::<Vec<_>>()
            .join(" "),
        (0..10)
            .map(|n| format!("y{n}"))
            .collect::<Vec<_>>()
            .join(" "),
    ))
    .await;
    let hits = search_for(&services, &ada, "omega alpha").await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].message_id, apart.id);
    assert!(
        hits[0]
            .snippet
            .ends_with("y9 <mark>alpha</mark> <mark>omega</mark>"),
        "{}",
        hits[0].snippet
    );

    // Accents are folded both ways, and the last word is a prefix while typing.
    let accented = say("Mon Résumé pour le café".into()).await;
    for q in ["resume", "RÉSUMÉ", "cafe", "caf", "résu"] {
        let hits = search_for(&services, &ada, q).await;
        assert_eq!(hits.len(), 1, "{q}");
        assert_eq!(hits[0].message_id, accented.id, "{q}");
    }
    assert_eq!(
        search_for(&services, &ada, "resume").await[0].snippet,
        "Mon <mark>Résumé</mark> pour le café"
    );
    assert!(search_for(&services, &ada, "resume ").await[0]
        .snippet
        .contains("<mark>Résumé</mark>"));
    assert!(
        search_for(&services, &ada, "caf ").await.is_empty(),
        "a finished word is not a prefix"
    );
}

/// Words inside Chinese, Japanese and Korean sentences (no spaces between words) are found,
/// as 2-character words, 1-character and 3-character queries, next to Latin letters; a word
/// is its characters in a row (its bigrams present but apart do not match); snippets mark
/// the original characters.
pub async fn search_cjk(store: DynStore) {
    let services = services(store);
    let ada = user(&services, "ada@example.com").await;
    let bob = user(&services, "bob@example.com").await;
    let say = |content: &'static str| {
        let (services, ada) = (&services, &ada);
        async move {
            services
                .append_message(ada, message(None, "user", content))
                .await
                .unwrap()
                .message
                .id
        }
    };
    let tocho = say("今日は東京都庁で会議があります。").await;
    let kyoto = say("東京から京都へ新幹線で行きました。").await;
    let beijing = say("我们明天去北京大学参观图书馆。").await;
    let seoul = say("저는 서울에서 한국어를 공부합니다.").await;
    let mixed = say("Rustの勉強会は東京tower近くで開催。Borrow checkerを学ぶ").await;
    services
        .append_message(&bob, message(None, "user", "東京都の天気"))
        .await
        .unwrap();
    let iroha: Vec<char> = "いろはにほへとちりぬるをわかよたれそつねならむうゐのおくやまけふこえて"
        .chars()
        .collect();
    let before: String = iroha[..30].iter().collect();
    let after: String = iroha[..30].iter().collect();
    let long = services
        .append_message(&ada, message(None, "user", &format!("{before}大阪{after}")))
        .await
        .unwrap()
        .message
        .id;

    let found = |q: &'static str| {
        let (services, ada) = (&services, &ada);
        async move {
            search_for(services, ada, q)
                .await
                .into_iter()
                .map(|hit| (hit.message_id, hit.snippet))
                .collect::<Vec<_>>()
        }
    };
    let hit = |id: &String, snippet: &str| (id.clone(), snippet.to_owned());

    // A 2-character word in the middle of a sentence, in each language; shorter texts rank
    // first (bm25), and Bob's message is his own.
    assert_eq!(
        found("東京").await,
        [
            hit(&tocho, "今日は<mark>東京</mark>都庁で会議があります。"),
            hit(&kyoto, "<mark>東京</mark>から京都へ新幹線で行きました。"),
            hit(
                &mixed,
                "Rustの勉強会は<mark>東京</mark>tower近くで開催。Borrow checkerを学ぶ"
            ),
        ]
    );
    assert_eq!(
        found("北京").await,
        [hit(&beijing, "我们明天去<mark>北京</mark>大学参观图书馆。")]
    );
    assert_eq!(
        found("서울").await,
        [hit(
            &seoul,
            "저는 <mark>서울</mark>에서 한국어를 공부합니다."
        )]
    );
    // "京都" is also inside "東京都庁".
    assert_eq!(
        found("京都").await,
        [
            hit(&tocho, "今日は東<mark>京都</mark>庁で会議があります。"),
            hit(&kyoto, "東京から<mark>京都</mark>へ新幹線で行きました。"),
        ]
    );

    // Three characters: both bigrams, one after the other. The message holding "東京" and
    // "京都" apart is not a hit.
    assert_eq!(
        found("東京都").await,
        [hit(&tocho, "今日は<mark>東京都</mark>庁で会議があります。")]
    );
    assert_eq!(
        found("图书馆").await,
        [hit(&beijing, "我们明天去北京大学参观<mark>图书馆</mark>。")]
    );
    assert_eq!(
        found("한국어").await,
        [hit(
            &seoul,
            "저는 서울에서 <mark>한국어</mark>를 공부합니다."
        )]
    );
    assert_eq!(
        found("北京大学参观").await,
        [hit(&beijing, "我们明天去<mark>北京大学参观</mark>图书馆。")]
    );
    for absent in ["京都大学", "東京大阪", "서울대", "都東"] {
        assert_eq!(found(absent).await, [], "{absent}");
    }

    // One character: every message holding it, typed or not; twice counts more.
    for q in ["京", "京 "] {
        assert_eq!(
            found(q).await,
            [
                hit(
                    &kyoto,
                    "東<mark>京</mark>から<mark>京</mark>都へ新幹線で行きました。"
                ),
                hit(&beijing, "我们明天去北<mark>京</mark>大学参观图书馆。"),
                hit(&tocho, "今日は東<mark>京</mark>都庁で会議があります。"),
                hit(
                    &mixed,
                    "Rustの勉強会は東<mark>京</mark>tower近くで開催。Borrow checkerを学ぶ"
                ),
            ],
            "{q:?}"
        );
    }

    // Mixed scripts: CJK next to Latin letters inside one word, Latin words as before.
    for (q, marked) in [
        (
            "東京tower",
            "Rustの勉強会は<mark>東京tower</mark>近くで開催。Borrow checkerを学ぶ",
        ),
        (
            "東京tow",
            "Rustの勉強会は<mark>東京tower</mark>近くで開催。Borrow checkerを学ぶ",
        ),
        (
            "checker",
            "Rustの勉強会は東京tower近くで開催。Borrow <mark>checker</mark>を学ぶ",
        ),
        (
            "rust",
            "<mark>Rust</mark>の勉強会は東京tower近くで開催。Borrow checkerを学ぶ",
        ),
        (
            "borrow 勉強",
            "Rustの<mark>勉強</mark>会は東京tower近くで開催。<mark>Borrow</mark> checkerを学ぶ",
        ),
        (
            "学ぶ",
            "Rustの勉強会は東京tower近くで開催。Borrow checkerを<mark>学ぶ</mark>",
        ),
    ] {
        assert_eq!(found(q).await, [hit(&mixed, marked)], "{q}");
    }
    // The Latin letters between CJK runs are a word of their own.
    assert_eq!(
        found("tower").await,
        [hit(
            &mixed,
            "Rustの勉強会は東京<mark>tower</mark>近くで開催。Borrow checkerを学ぶ"
        )]
    );
    assert_eq!(found("東京towers").await, []);

    // A long text: 24 tokens (characters) around the hit, cut on both sides.
    let shown_before: String = iroha[19..30].iter().collect();
    let shown_after: String = iroha[..12].iter().collect();
    assert_eq!(
        found("大阪").await,
        [hit(
            &long,
            &format!("…{shown_before}<mark>大阪</mark>{shown_after}…")
        )]
    );
}

/// Titles are filtered by a literal, case-insensitive substring.
pub async fn session_title_filter(store: DynStore) {
    let services = services(store);
    let ada = user(&services, "ada@example.com").await;
    for title in [
        "Plan a.b (draft)",
        "abc",
        "Ünïcode tïtle",
        "back\\slash [x]",
        "50% off",
    ] {
        services.create_session(&ada, Some(title)).await.unwrap();
    }
    let titles = |q: &'static str| {
        let services = &services;
        let ada = &ada;
        async move {
            let mut found: Vec<String> = services
                .list_sessions(
                    ada,
                    SessionListInput {
                        q: Some(q.into()),
                        ..Default::default()
                    },
                )
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|session| session.title)
                .collect();
            found.sort();
            found
        }
    };
    assert_eq!(titles("a.b").await, ["Plan a.b (draft)"], "a dot is a dot");
    assert_eq!(titles("(DRAFT)").await, ["Plan a.b (draft)"]);
    assert_eq!(titles("ABC").await, ["abc"]);
    assert_eq!(titles("\\s").await, ["back\\slash [x]"]);
    assert_eq!(titles("[x]").await, ["back\\slash [x]"]);
    assert_eq!(titles("0%").await, ["50% off"]);
    assert_eq!(titles("tïtle").await, ["Ünïcode tïtle"]);
    assert!(titles(".*").await.is_empty());
    assert!(titles("^abc$").await.is_empty());

    // Non-ASCII letters fold alike on every backend (SQLite's lower() alone folds ASCII only,
    // MongoDB's $regex with `i` folds more): one Rust rule, a character at a time.
    for title in ["Привет, мир", "ΟΔΟΣ ΣΟΦΙΑΣ", "École d'été", "straße"] {
        services.create_session(&ada, Some(title)).await.unwrap();
    }
    assert_eq!(titles("ÜNÏCODE").await, ["Ünïcode tïtle"]);
    assert_eq!(titles("привет").await, ["Привет, мир"]);
    assert_eq!(titles("МИР").await, ["Привет, мир"]);
    assert_eq!(titles("οδοσ σοφ").await, ["ΟΔΟΣ ΣΟΦΙΑΣ"], "Σ folds to σ");
    assert_eq!(titles("ÉCOLE D'ÉTÉ").await, ["École d'été"]);
    assert_eq!(
        titles("STRASSE").await,
        Vec::<String>::new(),
        "no full case folding"
    );
    assert_eq!(titles("STRAẞE").await, ["straße"]);
}

/// What a client that follows the cursors of a filtered list sees, page by page: each page's
/// titles and whether it has a cursor.
async fn filtered_pages(
    services: &Services,
    user: &User,
    q: &str,
    limit: i64,
) -> Vec<(Vec<String>, bool)> {
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let page = services
            .list_sessions(
                user,
                SessionListInput {
                    q: Some(q.into()),
                    limit: Some(limit),
                    cursor: cursor.take(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let titles = page
            .items
            .into_iter()
            .map(|session| session.title)
            .collect();
        pages.push((titles, page.next_cursor.is_some()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return pages,
        }
        assert!(pages.len() < 20, "the cursors go on: {pages:?}");
    }
}

/// A filtered page looks at a bounded number of sessions (`TITLE_FILTER_SCAN`) and holds the
/// matches among them: a match farther down is reached by following cursors, across a page
/// with no match but a cursor, and every match is seen once, in list order.
pub async fn title_filter_pages_a_bounded_window(store: DynStore) {
    use confab_core::store::title_filter::TITLE_FILTER_SCAN;

    let services = services(store);
    let ada = user(&services, "ada@example.com").await;
    let create = |title: String| {
        let (services, ada) = (&services, &ada);
        async move {
            services.create_session(ada, Some(&title)).await.unwrap();
            // Distinct activity times, so the list order is the order of creation.
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    };
    for title in ["Needle old 1", "needle OLD 2", "NEEDLE old 3"] {
        create(title.to_owned()).await;
    }
    // Newest first, the old matches come after more sessions than a page looks at.
    for n in 0..TITLE_FILTER_SCAN + 100 {
        create(format!("hay {n}")).await;
    }
    for title in ["Needle new 1", "needle new 2"] {
        create(title.to_owned()).await;
    }

    let pages = filtered_pages(&services, &ada, "NEEDLE", 2).await;
    let page = |titles: &[&str], cursor: bool| {
        (
            titles.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
            cursor,
        )
    };
    assert_eq!(
        pages,
        [
            // The two newest: the limit, with a cursor (more sessions follow).
            page(&["needle new 2", "Needle new 1"], true),
            // TITLE_FILTER_SCAN sessions without a match: none, and a cursor.
            page(&[], true),
            // The last 100 hay and two old matches: the limit again.
            page(&["NEEDLE old 3", "needle OLD 2"], true),
            page(&["Needle old 1"], false),
        ]
    );
    // A larger limit: the same matches, the window still bounds each page.
    let pages = filtered_pages(&services, &ada, "needle", 50).await;
    assert_eq!(
        pages,
        [
            page(&["needle new 2", "Needle new 1"], true),
            page(&["NEEDLE old 3", "needle OLD 2", "Needle old 1"], false),
        ]
    );
    // No match anywhere: empty pages with cursors until the sessions end.
    let pages = filtered_pages(&services, &ada, "nothing like it", 50).await;
    assert_eq!(pages, [page(&[], true), page(&[], false)]);
    // Without a filter nothing changed: a full page.
    let unfiltered = services
        .list_sessions(
            &ada,
            SessionListInput {
                limit: Some(3),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let titles: Vec<String> = unfiltered.items.into_iter().map(|s| s.title).collect();
    let newest_hay = format!("hay {}", TITLE_FILTER_SCAN + 99);
    assert_eq!(
        titles,
        ["needle new 2", "Needle new 1", newest_hay.as_str()]
    );
    assert!(unfiltered.next_cursor.is_some());
}

/// The models a session's detail lists: every model its messages name (any branch), each
/// once, sorted by code point, whatever wrote the messages (appends, an import, a restore of a
/// backup) and after a clear, a branch switch, a delete and its undo.
pub async fn session_models(store: DynStore) {
    use confab_core::service::export::ExportFormat;
    use confab_core::store::{ImportSession, LeafRule, NewMessage, NewSession};

    let services = services(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let models_of = |user: User, id: String| {
        let services = &services;
        async move { services.get_session(&user, &id).await.unwrap().models }
    };
    let first = services
        .append_message(&ada, message(None, "user", "Which model is best?"))
        .await
        .unwrap();
    let session_id = first.session.id.clone();
    assert_eq!(
        models_of(ada.clone(), session_id.clone()).await,
        Vec::<String>::new()
    );
    let mut last = first.message.id.clone();
    for model in [
        Some("gpt-b"),
        None,
        Some("alpha"),
        Some("gpt-b"),
        Some("Zeta"),
        Some("émile"),
    ] {
        let mut next = message(Some(&session_id), "assistant", "an answer");
        next.model = model.map(str::to_owned);
        next.parent_id = Some(last.clone());
        last = services
            .append_message(&ada, next)
            .await
            .unwrap()
            .message
            .id;
    }
    let expected = ["Zeta", "alpha", "gpt-b", "émile"];
    assert_eq!(models_of(ada.clone(), session_id.clone()).await, expected);

    // Another branch (an edit, a regeneration): its models count too, on whichever branch
    // the user is.
    let mut edited = message(Some(&session_id), "assistant", "another answer");
    edited.model = Some("branch-model".into());
    edited.parent_id = Some(first.message.id.clone());
    services.append_message(&ada, edited).await.unwrap();
    let with_branch = ["Zeta", "alpha", "branch-model", "gpt-b", "émile"];
    assert_eq!(
        models_of(ada.clone(), session_id.clone()).await,
        with_branch
    );
    services
        .update_session(
            &ada,
            &session_id,
            SessionPatchInput {
                active_leaf_id: Some(last.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        models_of(ada.clone(), session_id.clone()).await,
        with_branch
    );

    // Deleted and brought back: unchanged.
    services.delete_session(&ada, &session_id).await.unwrap();
    services.restore_session(&ada, &session_id).await.unwrap();
    assert_eq!(
        models_of(ada.clone(), session_id.clone()).await,
        with_branch
    );

    // A backup of it restored into another account: the same models.
    let bob = user(&services, "bob@example.com").await;
    let file = services
        .export_session(&ada, &session_id, ExportFormat::Json)
        .await
        .unwrap();
    services
        .import_bytes(&bob, file.body.as_bytes())
        .await
        .unwrap();
    let restored = services
        .list_sessions(&bob, SessionListInput::default())
        .await
        .unwrap()
        .items;
    assert_eq!(restored.len(), 1);
    assert_eq!(
        models_of(bob.clone(), restored[0].id.clone()).await,
        with_branch
    );

    // Cleared: no message names a model; the next one does.
    services.clear_session(&ada, &session_id).await.unwrap();
    assert_eq!(
        models_of(ada.clone(), session_id.clone()).await,
        Vec::<String>::new()
    );
    let mut after = message(Some(&session_id), "assistant", "after clearing");
    after.model = Some("after-clear".into());
    services.append_message(&ada, after).await.unwrap();
    assert_eq!(
        models_of(ada.clone(), session_id.clone()).await,
        ["after-clear"]
    );

    // Imported, then imported again with one more message.
    let start = chrono::DateTime::parse_from_rfc3339("2024-03-01T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let imported_id = confab_core::ids::derived_id(start, 0, &ada.id, "test:models");
    let imported = |n: u16, model: Option<&str>| NewMessage {
        starred_at: None,
        id: confab_core::ids::derived_id(start, n + 1, &ada.id, &format!("test:models:{n}")),
        user_id: ada.id.clone(),
        session_id: imported_id.clone(),
        parent_id: None,
        role: Role::Assistant,
        content: format!("imported {n}"),
        message_type: "chat".into(),
        model: model.map(str::to_owned),
        prompt_tokens: None,
        completion_tokens: None,
        latency_ms: None,
        status: MessageStatus::Complete,
        client_id: None,
        source_id: Some(format!("test:models:{n}")),
        created_at: start + chrono::Duration::minutes(n.into()),
        usage_estimated: false,
        follow_active_leaf: false,
        status_reason: None,
        active_leaf: LeafRule::Set,
    };
    let conversation = |messages: Vec<NewMessage>| ImportSession {
        forked_from: None,
        tags: Vec::new(),
        session: NewSession {
            folder_id: None,
            id: imported_id.clone(),
            user_id: ada.id.clone(),
            title: "Imported models".into(),
            source_id: Some("test:models".into()),
            created_at: start,
        },
        pinned: false,
        archived: false,
        is_active: true,
        updated_at: None,
        active_leaf_id: None,
        messages,
    };
    let messages = vec![
        imported(0, Some("imp-b")),
        imported(1, None),
        imported(2, Some("imp-a")),
        imported(3, Some("imp-b")),
    ];
    store
        .import_sessions(&ada.id, vec![conversation(messages.clone())])
        .await
        .unwrap();
    assert_eq!(
        models_of(ada.clone(), imported_id.clone()).await,
        ["imp-a", "imp-b"]
    );
    let mut grown = messages;
    grown.push(imported(4, Some("imp-c")));
    store
        .import_sessions(&ada.id, vec![conversation(grown.clone())])
        .await
        .unwrap();
    store
        .import_sessions(&ada.id, vec![conversation(grown)])
        .await
        .unwrap();
    assert_eq!(
        models_of(ada.clone(), imported_id.clone()).await,
        ["imp-a", "imp-b", "imp-c"]
    );
}

/// The same client id sent many times at once stores one message (and one new session).
pub async fn concurrent_appends_store_once(store: DynStore) {
    let services = services(store);
    let ada = user(&services, "ada@example.com").await;
    let keyed = |client_id: &str, session: Option<&str>| {
        let mut input = message(session, "user", "sent from a flaky network");
        input.client_id = Some(client_id.into());
        input
    };
    let results = futures::future::join_all(
        (0..8).map(|_| services.append_message(&ada, keyed("retry-1", None))),
    )
    .await;
    let appended: Vec<_> = results
        .into_iter()
        .map(|result| result.expect("every retry succeeds"))
        .collect();
    assert_eq!(appended.iter().filter(|a| a.created).count(), 1);
    assert!(appended
        .iter()
        .all(|a| a.message.id == appended[0].message.id));
    assert!(appended
        .iter()
        .all(|a| a.session.id == appended[0].session.id));
    let sessions = services
        .list_sessions(&ada, SessionListInput::default())
        .await
        .unwrap();
    assert_eq!(sessions.items.len(), 1, "no stray session is left");
    assert_eq!(sessions.items[0].message_count, 1);

    let sid = appended[0].session.id.clone();
    let results = futures::future::join_all(
        (0..8).map(|_| services.append_message(&ada, keyed("retry-2", Some(&sid)))),
    )
    .await;
    assert_eq!(
        results
            .iter()
            .filter(|result| result.as_ref().expect("append").created)
            .count(),
        1
    );
    let detail = services.get_session(&ada, &sid).await.unwrap();
    assert_eq!(detail.session.message_count, 2);
}

/// However many accounts are created at once on an empty instance, one becomes the admin.
pub async fn first_account_race(store: DynStore) {
    let services = services(store.clone());
    let emails: Vec<String> = (0..6).map(|n| format!("racer{n}@example.com")).collect();
    let users = futures::future::join_all(
        emails
            .iter()
            .map(|email| services.signup(email, "a good password", None, email)),
    )
    .await;
    let roles: Vec<UserRole> = users
        .into_iter()
        .map(|user| user.expect("signup").role)
        .collect();
    assert_eq!(
        roles
            .iter()
            .filter(|role| **role == UserRole::Admin)
            .count(),
        1
    );
    assert_eq!(store.count_users().await.unwrap(), 6);
}

/// Deleting a user deletes everything they own and nothing of anyone else's.
pub async fn deleting_a_user_removes_everything(store: DynStore) {
    let services = services(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let bob = user(&services, "bob@example.com").await;
    let mut ids = Vec::new();
    for who in [&ada, &bob] {
        let first = services
            .append_message(who, message(None, "user", "shared secret words"))
            .await
            .unwrap();
        let mut reply = message(Some(&first.session.id), "assistant", "more secret words");
        reply.parent_id = Some(first.message.id.clone());
        let reply = services.append_message(who, reply).await.unwrap();
        ids.push((first.session.id, first.message.id, reply.message.id));
    }
    let token = services.create_token(&bob, "script", None).await.unwrap();
    store
        .link_identity(&bob.id, "idp", "bob-at-idp", Some("bob@example.com"))
        .await
        .unwrap();
    // A conversation deleted but still restorable goes too: nothing of the account is kept.
    let binned = services
        .append_message(&bob, message(None, "user", "binned secret words"))
        .await
        .unwrap();
    services
        .delete_session(&bob, &binned.session.id)
        .await
        .unwrap();
    store
        .save_auth_session(
            "bob-sign-in",
            AuthSessionRecord {
                user_id: Some(bob.id.clone()),
                data: b"{}".to_vec(),
                expires_at: Utc::now() + chrono::Duration::hours(1),
            },
        )
        .await
        .unwrap();

    assert!(store.delete_user(&bob.id).await.unwrap());
    assert!(!store.delete_user(&bob.id).await.unwrap(), "already gone");
    assert!(store.user_by_id(&bob.id).await.unwrap().is_none());
    assert!(store
        .credentials_by_email("bob@example.com")
        .await
        .unwrap()
        .is_none());
    assert!(services.user_for_token(&token.token).await.is_err());
    assert!(store.list_tokens(&bob.id).await.unwrap().is_empty());
    assert!(store
        .load_auth_session("bob-sign-in")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .user_by_identity("idp", "bob-at-idp")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .get_message(&bob.id, &binned.message.id)
        .await
        .unwrap()
        .is_none());
    let (bob_session, bob_first, bob_reply) = &ids[1];
    assert!(store
        .get_session(&bob.id, bob_session)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .get_message(&bob.id, bob_first)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .get_message(&bob.id, bob_reply)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .all_messages(&bob.id, bob_session)
        .await
        .unwrap()
        .is_empty());
    assert!(services
        .list_sessions(&bob, SessionListInput::default())
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(search_for(&services, &bob, "secret").await.is_empty());
    // A deleted account owns nothing new either.
    assert!(services.create_session(&bob, Some("ghost")).await.is_err());

    // Ada keeps everything.
    let (ada_session, ada_first, _) = &ids[0];
    assert_eq!(
        store
            .get_session(&ada.id, ada_session)
            .await
            .unwrap()
            .expect("ada's session")
            .session
            .message_count,
        2
    );
    assert!(store
        .get_message(&ada.id, ada_first)
        .await
        .unwrap()
        .is_some());
    assert_eq!(search_for(&services, &ada, "secret").await.len(), 2);
    assert_eq!(store.count_users().await.unwrap(), 1);
    assert_eq!(
        store.count_admins().await.unwrap(),
        1,
        "ada, the first account"
    );
}

/// A person deletes their own account: only after proving it is theirs, never leaving the
/// accounts of an instance without an administrator, and then all of it at once.
pub async fn deleting_an_account(store: DynStore) {
    use confab_core::service::accounts::{Reauthentication, RECENT_SIGN_IN};
    let services = Services::new(
        store.clone(),
        ServiceConfig {
            login_attempts: 3,
            ..ServiceConfig::default()
        },
    );
    let proof = |password: Option<&'static str>| Reauthentication {
        password,
        signed_in_at: Some(Utc::now()),
        client: "10.0.0.9",
    };
    let ada = user(&services, "ada@example.com").await;
    let bob = user(&services, "bob@example.com").await;
    services
        .append_message(&bob, message(None, "user", "bob's quokka"))
        .await
        .unwrap();

    // A wrong or missing password deletes nothing, however recent the sign-in.
    for wrong in [Some("not the password"), None] {
        match services.delete_account(&bob, proof(wrong)).await {
            Err(error @ ServiceError::Denied { .. }) => {
                assert_eq!((status(&error), error.code()), (403, "wrong_password"));
                assert_eq!(
                    error.to_string(),
                    "the password is not right; the account was not deleted"
                );
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(store.user_by_id(&bob.id).await.unwrap().is_some());
    assert_eq!(search_for(&services, &bob, "quokka").await.len(), 1);
    // The failures count toward the login limiter: the third blocks sign-in and deletion.
    let _ = services
        .delete_account(&bob, proof(Some("still not it")))
        .await;
    assert!(matches!(
        services
            .login("bob@example.com", "a good password", "10.0.0.9")
            .await,
        Err(ServiceError::TooManyRequests { .. })
    ));
    assert!(matches!(
        services
            .delete_account(&bob, proof(Some("a good password")))
            .await,
        Err(ServiceError::TooManyRequests { .. })
    ));
    // The limiter lives in memory: a fresh service has forgotten the failures.
    let services = Services::new(store.clone(), ServiceConfig::default());

    // The only administrator stays while others have accounts.
    match services
        .delete_account(&ada, proof(Some("a good password")))
        .await
    {
        Err(error @ ServiceError::Denied { .. }) => assert_eq!(error.code(), "last_admin"),
        other => panic!("{other:?}"),
    }
    assert!(store.user_by_id(&ada.id).await.unwrap().is_some());

    // An account without a password proves a recent sign-in instead.
    let grace = services
        .external_sign_in(confab_core::auth::oidc::ExternalIdentity {
            provider: "idp".into(),
            subject: "grace".into(),
            email: Some("grace@example.com".into()),
            email_verified: true,
            name: None,
        })
        .await
        .unwrap();
    let too_old = Utc::now() - RECENT_SIGN_IN - chrono::Duration::seconds(5);
    for signed_in_at in [None, Some(too_old)] {
        let refused = services
            .delete_account(
                &grace,
                Reauthentication {
                    password: Some("anything"),
                    signed_in_at,
                    client: "10.0.0.10",
                },
            )
            .await;
        match refused {
            Err(error @ ServiceError::Denied { .. }) => {
                assert_eq!(error.code(), "reauthentication_required");
                assert_eq!(
                    error.to_string(),
                    "sign in again, then delete the account within 10 minutes"
                );
            }
            other => panic!("{other:?}"),
        }
    }
    services
        .delete_account(&grace, proof(None))
        .await
        .expect("a recent sign-in is enough");
    assert!(store
        .user_by_identity("idp", "grace")
        .await
        .unwrap()
        .is_none());

    services
        .delete_account(&bob, proof(Some("a good password")))
        .await
        .expect("bob deletes his account");
    assert!(store.user_by_id(&bob.id).await.unwrap().is_none());
    assert!(matches!(
        services
            .login("bob@example.com", "a good password", "10.0.0.9")
            .await,
        Err(ServiceError::BadCredentials)
    ));
    assert!(matches!(
        services
            .delete_account(&bob, proof(Some("a good password")))
            .await,
        Err(ServiceError::Unauthorized)
    ));
    // Alone now, the administrator may leave: the next account to sign up administers.
    services
        .delete_account(&ada, proof(Some("a good password")))
        .await
        .expect("the last account may leave");
    assert_eq!(store.count_users().await.unwrap(), 0);
    assert_eq!(
        user(&services, "eve@example.com").await.role,
        UserRole::Admin
    );
}

/// Sign-in records: replaced on save, hidden once expired, and never tied to a missing user.
pub async fn auth_session_records(store: DynStore) {
    let services = services(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let later = Utc::now() + chrono::Duration::hours(1);
    let record = |user_id: Option<&str>, data: &[u8]| AuthSessionRecord {
        user_id: user_id.map(str::to_owned),
        data: data.to_vec(),
        expires_at: later,
    };
    store
        .save_auth_session("k", record(Some(&ada.id), b"one"))
        .await
        .unwrap();
    store
        .save_auth_session("k", record(Some(&ada.id), b"\x00two\xff"))
        .await
        .unwrap();
    let loaded = store.load_auth_session("k").await.unwrap().expect("saved");
    assert_eq!(loaded.data, b"\x00two\xff");
    assert_eq!(loaded.user_id.as_deref(), Some(ada.id.as_str()));
    assert_eq!(loaded.expires_at.timestamp(), later.timestamp());

    store
        .save_auth_session("anonymous", record(None, b"{}"))
        .await
        .unwrap();
    assert!(store
        .load_auth_session("anonymous")
        .await
        .unwrap()
        .is_some());
    store
        .save_auth_session("ghost", record(Some("no-such-user"), b"{}"))
        .await
        .unwrap();
    assert_eq!(
        store
            .load_auth_session("ghost")
            .await
            .unwrap()
            .expect("saved")
            .user_id,
        None
    );

    store.delete_auth_session("k").await.unwrap();
    assert!(store.load_auth_session("k").await.unwrap().is_none());
    store.delete_auth_session("never-saved").await.unwrap();

    let expired = AuthSessionRecord {
        expires_at: Utc::now() - chrono::Duration::minutes(1),
        ..record(Some(&ada.id), b"{}")
    };
    store.save_auth_session("old", expired).await.unwrap();
    assert!(store.load_auth_session("old").await.unwrap().is_none());
    assert_eq!(
        store
            .delete_expired_auth_sessions(Utc::now())
            .await
            .unwrap(),
        1
    );
    assert!(store
        .load_auth_session("anonymous")
        .await
        .unwrap()
        .is_some());
}

/// Imports: counters follow what was added, the active branch is kept, re-imports add only
/// what is new, and clearing then writing again counts from zero.
pub async fn import_counters_and_branches(store: DynStore) {
    use confab_core::store::{ImportSession, NewMessage, NewSession, SessionPatch};

    let services = services(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let start = chrono::DateTime::parse_from_rfc3339("2024-03-01T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let session_id = confab_core::ids::derived_id(start, 0, &ada.id, "test:conversation");
    let new_message = |n: u16, parent: Option<String>, tokens: Option<i64>| NewMessage {
        starred_at: None,
        id: confab_core::ids::derived_id(
            start + chrono::Duration::minutes(n.into()),
            n,
            &ada.id,
            &format!("test:message:{n}"),
        ),
        user_id: ada.id.clone(),
        session_id: session_id.clone(),
        parent_id: parent,
        role: if n.is_multiple_of(2) {
            Role::User
        } else {
            Role::Assistant
        },
        content: format!("imported message {n}"),
        message_type: "chat".into(),
        model: tokens.map(|_| "imported-model".to_owned()),
        prompt_tokens: tokens,
        completion_tokens: tokens.map(|t| t * 2),
        latency_ms: None,
        status: MessageStatus::Complete,
        client_id: None,
        source_id: Some(format!("test:message:{n}")),
        created_at: start + chrono::Duration::minutes(n.into()),
        usage_estimated: false,
        follow_active_leaf: false,
        status_reason: None,
        active_leaf: confab_core::store::LeafRule::Set,
    };
    let first = new_message(0, None, None);
    let second = new_message(1, Some(first.id.clone()), Some(10));
    let branch = new_message(2, Some(first.id.clone()), Some(5));
    let conversation = |messages: Vec<NewMessage>, leaf: &str| ImportSession {
        forked_from: None,
        tags: Vec::new(),
        session: NewSession {
            folder_id: None,
            id: session_id.clone(),
            user_id: ada.id.clone(),
            title: "Imported".into(),
            source_id: Some("test:conversation".into()),
            created_at: start,
        },
        pinned: false,
        archived: true,
        is_active: true,
        updated_at: None,
        active_leaf_id: Some(leaf.to_owned()),
        messages,
    };

    let counts = store
        .import_sessions(
            &ada.id,
            vec![conversation(
                vec![first.clone(), second.clone()],
                &second.id,
            )],
        )
        .await
        .unwrap();
    assert_eq!(
        (counts.sessions, counts.messages, counts.skipped_messages),
        (1, 2, 0)
    );
    let detail = store
        .get_session(&ada.id, &session_id)
        .await
        .unwrap()
        .expect("imported");
    assert_eq!(detail.session.message_count, 2);
    assert_eq!(detail.session.prompt_tokens, 10);
    assert_eq!(detail.session.completion_tokens, 20);
    assert!(detail.session.archived && !detail.session.pinned);
    assert_eq!(detail.session.last_message_at, Some(second.created_at));
    assert_eq!(
        detail.session.active_leaf_id.as_deref(),
        Some(second.id.as_str())
    );
    assert_eq!(detail.models, ["imported-model"]);

    // The source grew a branch: only it is added, and the active leaf moves to it.
    let counts = store
        .import_sessions(
            &ada.id,
            vec![conversation(
                vec![first.clone(), second.clone(), branch.clone()],
                &branch.id,
            )],
        )
        .await
        .unwrap();
    assert_eq!(
        (counts.sessions, counts.messages, counts.skipped_messages),
        (0, 1, 2)
    );
    let detail = store
        .get_session(&ada.id, &session_id)
        .await
        .unwrap()
        .expect("imported");
    assert_eq!(detail.session.message_count, 3);
    assert_eq!(detail.session.prompt_tokens, 15);
    assert_eq!(
        detail.session.active_leaf_id.as_deref(),
        Some(branch.id.as_str())
    );
    let stored = store.all_messages(&ada.id, &session_id).await.unwrap();
    assert_eq!(
        stored.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
        [first.id.clone(), second.id.clone(), branch.id.clone()]
    );
    assert_eq!(stored[2].parent_id.as_deref(), Some(first.id.as_str()));
    assert_eq!(stored[1].created_at, second.created_at);

    // The source now dates the conversation differently, so its derived id changed: it is
    // still the same conversation (same source id), and its new message joins it.
    let moved_id = confab_core::ids::derived_id(
        start + chrono::Duration::hours(1),
        0,
        &ada.id,
        "test:conversation",
    );
    let mut moved = conversation(
        vec![first.clone(), new_message(3, Some(branch.id.clone()), None)],
        &branch.id,
    );
    moved.session.id = moved_id.clone();
    let counts = store.import_sessions(&ada.id, vec![moved]).await.unwrap();
    assert_eq!(
        (counts.sessions, counts.messages, counts.skipped_messages),
        (0, 1, 1)
    );
    assert!(store
        .get_session(&ada.id, &moved_id)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store
            .all_messages(&ada.id, &session_id)
            .await
            .unwrap()
            .len(),
        4
    );
    assert_eq!(
        store
            .get_session(&ada.id, &session_id)
            .await
            .unwrap()
            .expect("imported")
            .session
            .message_count,
        4
    );

    // Switching branches by hand.
    let switched = store
        .update_session(
            &ada.id,
            &session_id,
            SessionPatch {
                active_leaf_id: Some(second.id.clone()),
                ..Default::default()
            },
            Utc::now(),
        )
        .await
        .unwrap()
        .expect("own session");
    assert_eq!(switched.active_leaf_id.as_deref(), Some(second.id.as_str()));
    assert!(switched.archived, "a patch changes only what it names");

    // Clearing resets the counters; new messages count from zero.
    services.clear_session(&ada, &session_id).await.unwrap();
    let cleared = services.get_session(&ada, &session_id).await.unwrap();
    assert_eq!(
        (
            cleared.session.message_count,
            cleared.session.prompt_tokens,
            cleared.session.completion_tokens
        ),
        (0, 0, 0)
    );
    assert_eq!(cleared.session.last_message_at, None);
    assert_eq!(
        cleared.session.active_leaf_id, None,
        "no branch is left to be on"
    );
    assert!(cleared.models.is_empty());
    let mut again = message(Some(&session_id), "assistant", "after clearing");
    again.prompt_tokens = Some(3);
    let again = services.append_message(&ada, again).await.unwrap();
    assert_eq!(again.session.message_count, 1);
    assert_eq!(again.session.prompt_tokens, 3);
    assert_eq!(
        again.session.last_message_at,
        Some(again.message.created_at)
    );
    assert_eq!(
        again.session.active_leaf_id.as_deref(),
        Some(again.message.id.as_str()),
        "a new message ends the branch the user is on"
    );
}

/// Sign-in through an OAuth / OpenID Connect provider: the first sign-in creates the account,
/// later ones find it; an existing account is linked only through a verified email.
pub async fn provider_identities(store: DynStore) {
    use confab_core::auth::oidc::ExternalIdentity;
    let services = services(store.clone());
    let identity = |subject: &str, email: &str, verified: bool| ExternalIdentity {
        provider: "idp".into(),
        subject: subject.into(),
        email: Some(email.into()),
        email_verified: verified,
        name: Some("Grace".into()),
    };
    let grace = services
        .external_sign_in(identity("sub-1", "Grace@Example.com", true))
        .await
        .unwrap();
    assert_eq!(grace.email, "grace@example.com");
    assert_eq!(
        grace.role,
        UserRole::Admin,
        "the first account, however it is made"
    );
    assert!(
        services
            .login("grace@example.com", "", "test")
            .await
            .is_err(),
        "no password to guess"
    );
    let again = services
        .external_sign_in(identity("sub-1", "changed@example.com", false))
        .await
        .unwrap();
    assert_eq!(
        again.id, grace.id,
        "found by subject, whatever the email says now"
    );

    let ada = user(&services, "ada@example.com").await;
    let unverified = services
        .external_sign_in(identity("sub-2", "ada@example.com", false))
        .await;
    assert!(
        matches!(unverified, Err(ExternalSignInError::UnverifiedEmail)),
        "{unverified:?}"
    );
    let linked = services
        .external_sign_in(identity("sub-2", "ada@example.com", true))
        .await
        .unwrap();
    assert_eq!(linked.id, ada.id);
    assert_eq!(
        store
            .user_by_identity("idp", "sub-2")
            .await
            .unwrap()
            .unwrap()
            .id,
        ada.id
    );
    store
        .link_identity(&ada.id, "idp", "sub-2", None)
        .await
        .expect("linking twice changes nothing");

    let restricted = Services::new(
        store.clone(),
        ServiceConfig {
            allowed_email_domains: vec!["example.org".into()],
            ..ServiceConfig::default()
        },
    );
    let outsider = restricted
        .external_sign_in(identity("sub-3", "eve@example.net", true))
        .await;
    assert!(
        matches!(outsider, Err(ExternalSignInError::DomainNotAllowed)),
        "{outsider:?}"
    );
    let insider = restricted
        .external_sign_in(identity("sub-4", "bob@Example.org", true))
        .await
        .unwrap();
    assert_eq!(insider.email, "bob@example.org");

    assert!(store.delete_user(&ada.id).await.unwrap());
    assert!(
        store
            .user_by_identity("idp", "sub-2")
            .await
            .unwrap()
            .is_none(),
        "identities go with their user"
    );

    let password_only = Services::new(
        store,
        ServiceConfig {
            local_accounts: false,
            ..ServiceConfig::default()
        },
    );
    assert!(matches!(
        password_only
            .login("grace@example.com", "whatever pass", "x")
            .await,
        Err(ServiceError::Forbidden(_))
    ));
    assert!(matches!(
        password_only
            .signup("new@example.com", "a good password", None, "test")
            .await,
        Err(ServiceError::Forbidden(_))
    ));
}

/// The user's sessions that `input` lists (one page).
/// One bulk action changes every named session of the user's that it applies to, in one
/// call, skips the rest (another user's, unknown, deleted; live ones for a restore) and
/// reports both in the order given; a restore brings back exactly what the delete took.
pub async fn bulk_actions_change_many_sessions_at_once(store: DynStore) {
    use confab_core::api::{SessionsBulkAction as Action, SessionsBulkInput, SessionsBulkResult};

    let services = services(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let bob = user(&services, "bob@example.com").await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let first = services
            .append_message(&ada, message(None, "user", &format!("bulk topic {n}")))
            .await
            .unwrap();
        ids.push(first.session.id);
    }
    let bobs = services
        .append_message(&bob, message(None, "user", "bob's own"))
        .await
        .unwrap()
        .session
        .id;
    let unknown = confab_core::ids::new_id();
    let bulk = |ids: Vec<&String>, action: Action| {
        let services = services.clone();
        let ada = ada.clone();
        let ids: Vec<String> = ids.into_iter().cloned().collect();
        async move {
            services
                .change_sessions(
                    &ada,
                    SessionsBulkInput {
                        ids,
                        action,
                        tag: None,
                        folder_id: None,
                    },
                )
                .await
                .expect("a bulk action")
        }
    };
    let result = |applied: &[&String], skipped: &[&String]| SessionsBulkResult {
        applied: applied.iter().map(|id| (*id).clone()).collect(),
        skipped: skipped.iter().map(|id| (*id).clone()).collect(),
    };
    let flags = |page: &confab_core::model::Page<confab_core::model::Session>| {
        let mut flags: Vec<(String, bool, bool)> = page
            .items
            .iter()
            .map(|session| (session.id.clone(), session.pinned, session.archived))
            .collect();
        flags.sort();
        flags
    };
    // The list without archived sessions: nothing is archived when it is read.
    let all = SessionListInput::default();
    let before = listed(&services, &ada, all.clone()).await;

    // Archive two (one named twice), with Bob's and an unknown id among them.
    assert_eq!(
        bulk(
            vec![&ids[1], &bobs, &ids[0], &unknown, &ids[1]],
            Action::Archive
        )
        .await,
        result(&[&ids[1], &ids[0]], &[&bobs, &unknown])
    );
    let archived = listed(
        &services,
        &ada,
        SessionListInput {
            archived: Some(true),
            ..Default::default()
        },
    )
    .await;
    let mut archived_ids: Vec<&str> = archived.items.iter().map(|s| s.id.as_str()).collect();
    archived_ids.sort();
    let mut expected = vec![ids[0].as_str(), ids[1].as_str()];
    expected.sort();
    assert_eq!(archived_ids, expected);
    let bob_sees = services.get_session(&bob, &bobs).await.unwrap();
    assert!(!bob_sees.session.archived, "Bob's session is untouched");
    assert_eq!(
        bulk(vec![&ids[0], &ids[1]], Action::Unarchive).await,
        result(&[&ids[0], &ids[1]], &[])
    );
    assert_eq!(
        bulk(vec![&ids[2], &ids[3]], Action::Pin).await,
        result(&[&ids[2], &ids[3]], &[])
    );
    let pinned = listed(&services, &ada, all.clone()).await;
    let expected: Vec<(String, bool, bool)> = {
        let mut expected: Vec<_> = ids
            .iter()
            .map(|id| (id.clone(), *id == ids[2] || *id == ids[3], false))
            .collect();
        expected.sort();
        expected
    };
    assert_eq!(flags(&pinned), expected);
    assert_eq!(
        bulk(vec![&ids[3]], Action::Unpin).await,
        result(&[&ids[3]], &[])
    );

    // Delete three; a restore of live ones applies to none; the undo brings back each as it was.
    let before_delete = listed(&services, &ada, all.clone()).await;
    assert_eq!(
        bulk(vec![&ids[0], &ids[2], &ids[4]], Action::Delete).await,
        result(&[&ids[0], &ids[2], &ids[4]], &[])
    );
    let left = listed(&services, &ada, all.clone()).await;
    let mut left_ids: Vec<&str> = left.items.iter().map(|s| s.id.as_str()).collect();
    left_ids.sort();
    let mut expected = vec![ids[1].as_str(), ids[3].as_str()];
    expected.sort();
    assert_eq!(left_ids, expected);
    assert!(is_not_found(services.get_session(&ada, &ids[2]).await));
    assert_eq!(
        bulk(vec![&ids[0], &ids[1]], Action::Archive).await,
        result(&[&ids[1]], &[&ids[0]]),
        "a deleted session is not archived"
    );
    assert_eq!(
        bulk(vec![&ids[1]], Action::Unarchive).await,
        result(&[&ids[1]], &[])
    );
    assert_eq!(
        bulk(vec![&ids[3], &ids[0], &ids[2], &ids[4]], Action::Restore).await,
        result(&[&ids[0], &ids[2], &ids[4]], &[&ids[3]])
    );
    let restored = listed(&services, &ada, all.clone()).await;
    let unchanged = |page: &confab_core::model::Page<confab_core::model::Session>| {
        let mut sessions = page.items.clone();
        sessions.sort_by(|a, b| a.id.cmp(&b.id));
        sessions
    };
    // Archive and unarchive of ids[1] moved its `updated_at`; everything else is as before.
    let mut expected = unchanged(&before_delete);
    let now_one = unchanged(&restored);
    for (was, is) in expected.iter_mut().zip(&now_one) {
        if was.id == ids[1] {
            assert!(is.updated_at >= was.updated_at);
            was.updated_at = is.updated_at;
        }
    }
    assert_eq!(now_one, expected, "the restore brings back every field");
    assert_eq!(restored.items.len(), before.items.len());

    // Refused: nothing, too many, a malformed id.
    let refused = |ids: Vec<String>| {
        let services = services.clone();
        let ada = ada.clone();
        async move {
            match services
                .change_sessions(
                    &ada,
                    SessionsBulkInput {
                        ids,
                        action: Action::Archive,
                        tag: None,
                        folder_id: None,
                    },
                )
                .await
            {
                Err(ServiceError::Invalid { code, message }) => (code.to_owned(), message),
                other => panic!("not refused: {other:?}"),
            }
        }
    };
    assert_eq!(
        refused(Vec::new()).await,
        (
            "invalid_ids".to_owned(),
            "give 1 to 1000 session ids".to_owned()
        )
    );
    assert_eq!(
        refused(vec![ids[0].clone(); 1001]).await,
        (
            "invalid_ids".to_owned(),
            "give 1 to 1000 session ids".to_owned()
        )
    );
    assert_eq!(
        refused(vec![ids[0].clone(), "not-an-id".into()]).await,
        (
            "invalid_ids".to_owned(),
            "ids[1] is not a session id".to_owned()
        )
    );
}

async fn listed(
    services: &Services,
    user: &User,
    input: SessionListInput,
) -> confab_core::model::Page<confab_core::model::Session> {
    services.list_sessions(user, input).await.unwrap()
}

/// Everything a user can see of one session: its detail, every message, the first page of
/// messages, the active branch, and its search hits.
#[derive(Debug, PartialEq)]
struct SessionSnapshot {
    detail: confab_core::model::SessionDetail,
    messages: Vec<confab_core::model::Message>,
    page: confab_core::model::Page<confab_core::model::Message>,
    branch: Vec<confab_core::model::Message>,
    hits: Vec<confab_core::model::SearchHit>,
}

async fn snapshot(services: &Services, user: &User, id: &str, word: &str) -> SessionSnapshot {
    SessionSnapshot {
        detail: services.get_session(user, id).await.unwrap(),
        messages: services.store().all_messages(&user.id, id).await.unwrap(),
        page: services
            .list_messages(
                user,
                MessageListInput {
                    session_id: id.to_owned(),
                    limit: Some(2),
                    ..Default::default()
                },
            )
            .await
            .unwrap(),
        branch: services.active_branch(user, id).await.unwrap(),
        hits: services
            .search(
                user,
                SearchInput {
                    q: word.into(),
                    session_id: Some(id.to_owned()),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .items,
    }
}

fn is_not_found<T>(result: Result<T, ServiceError>) -> bool {
    matches!(result, Err(ServiceError::NotFound))
}

/// Deleting hides a session and its messages everywhere at once; restoring brings every field
/// and every message back exactly; only another user, a live session or a deletion older than
/// the retention time cannot be restored.
pub async fn deleted_sessions_are_hidden_and_restorable(store: DynStore) {
    use confab_core::service::export::ExportFormat;

    let services = services(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let bob = user(&services, "bob@example.com").await;

    let mut first = message(None, "user", "tell me about zucchini soup");
    first.client_id = Some("client-question".into());
    let first = services.append_message(&ada, first).await.unwrap();
    let doomed = first.session.id.clone();
    let mut reply = message(Some(&doomed), "assistant", "zucchini soup wants garlic");
    reply.model = Some("qwen".into());
    reply.prompt_tokens = Some(12);
    reply.completion_tokens = Some(30);
    reply.latency_ms = Some(250);
    reply.message_type = Some("explain".into());
    let reply = services.append_message(&ada, reply).await.unwrap();
    let mut branch = message(Some(&doomed), "assistant", "zucchini soup, another take");
    branch.parent_id = Some(first.message.id.clone());
    branch.model = Some("llama".into());
    services.append_message(&ada, branch).await.unwrap();
    services
        .update_session(
            &ada,
            &doomed,
            SessionPatchInput {
                title: Some("Soup".into()),
                pinned: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let kept = services
        .append_message(&ada, message(None, "user", "zucchini bread is different"))
        .await
        .unwrap();
    services
        .append_message(&bob, message(None, "user", "bob likes zucchini too"))
        .await
        .unwrap();

    let before = snapshot(&services, &ada, &doomed, "zucchini").await;
    assert_eq!(before.messages.len(), 3);
    assert_eq!(before.hits.len(), 3);
    let listed_before = listed(&services, &ada, SessionListInput::default()).await;
    assert_eq!(listed_before.items.len(), 2);
    let everywhere_before = search_for(&services, &ada, "zucchini").await;
    assert_eq!(everywhere_before.len(), 4);

    services.delete_session(&ada, &doomed).await.unwrap();

    // Gone from every read.
    assert!(is_not_found(services.get_session(&ada, &doomed).await));
    let remaining = listed(&services, &ada, SessionListInput::default()).await;
    assert_eq!(
        remaining
            .items
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>(),
        vec![kept.session.id.as_str()]
    );
    let pinned = listed(
        &services,
        &ada,
        SessionListInput {
            pinned: Some(true),
            ..Default::default()
        },
    )
    .await;
    assert!(pinned.items.is_empty(), "{pinned:?}");
    let titled = listed(
        &services,
        &ada,
        SessionListInput {
            q: Some("Soup".into()),
            ..Default::default()
        },
    )
    .await;
    assert!(titled.items.is_empty(), "{titled:?}");
    assert!(is_not_found(
        services
            .list_messages(
                &ada,
                MessageListInput {
                    session_id: doomed.clone(),
                    ..Default::default()
                },
            )
            .await
    ));
    assert!(store
        .all_messages(&ada.id, &doomed)
        .await
        .unwrap()
        .is_empty());
    for message in &before.messages {
        assert!(is_not_found(services.get_message(&ada, &message.id).await));
        assert!(is_not_found(services.siblings(&ada, &message.id).await));
    }
    assert!(is_not_found(services.active_branch(&ada, &doomed).await));
    let hits = search_for(&services, &ada, "zucchini").await;
    assert_eq!(
        hits.iter()
            .map(|h| h.session_id.as_str())
            .collect::<Vec<_>>(),
        vec![kept.session.id.as_str()],
        "only the live session's message is found"
    );
    // Its messages take no place in a page of results either.
    let one = services
        .search(
            &ada,
            SearchInput {
                q: "zucchini".into(),
                limit: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(one.items, hits);
    assert_eq!(one.next_cursor, None);
    let scoped = services
        .search(
            &ada,
            SearchInput {
                q: "zucchini".into(),
                session_id: Some(doomed.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(scoped.items.is_empty(), "{scoped:?}");

    // Nothing can be written into it.
    assert!(is_not_found(
        services
            .append_message(&ada, message(Some(&doomed), "user", "more soup"))
            .await
    ));
    let mut repeated = message(Some(&doomed), "user", "tell me about zucchini soup");
    repeated.client_id = Some("client-question".into());
    assert!(
        is_not_found(services.append_message(&ada, repeated.clone()).await),
        "a client id seen in a deleted session is not found either"
    );
    let mut repeated_new = repeated.clone();
    repeated_new.session_id = None;
    assert!(is_not_found(
        services.append_message(&ada, repeated_new).await
    ));
    assert!(is_not_found(
        services
            .update_session(
                &ada,
                &doomed,
                SessionPatchInput {
                    title: Some("Renamed".into()),
                    ..Default::default()
                },
            )
            .await
    ));
    assert!(is_not_found(services.clear_session(&ada, &doomed).await));
    assert!(is_not_found(
        services
            .export_session(&ada, &doomed, ExportFormat::Json)
            .await
    ));
    let export: ExportDocument =
        serde_json::from_str(&collect_export(&services, &ada).await).unwrap();
    assert_eq!(
        export
            .sessions
            .iter()
            .map(|s| s.session.id.as_str())
            .collect::<Vec<_>>(),
        vec![kept.session.id.as_str()],
        "the account export leaves it out"
    );
    assert!(
        is_not_found(services.delete_session(&ada, &doomed).await),
        "deleting twice"
    );
    // Only its owner can bring it back, and only a deleted session can be restored.
    assert!(is_not_found(services.restore_session(&bob, &doomed).await));
    assert!(is_not_found(
        services.restore_session(&ada, &kept.session.id).await
    ));

    // Restored exactly as it was, everywhere.
    let restored = services.restore_session(&ada, &doomed).await.unwrap();
    assert_eq!(restored, before.detail.session);
    assert_eq!(snapshot(&services, &ada, &doomed, "zucchini").await, before);
    assert_eq!(
        listed(&services, &ada, SessionListInput::default()).await,
        listed_before
    );
    assert_eq!(
        search_for(&services, &ada, "zucchini").await,
        everywhere_before
    );
    assert!(
        is_not_found(services.restore_session(&ada, &doomed).await),
        "restoring twice"
    );
    let again = services.append_message(&ada, repeated).await.unwrap();
    assert!(!again.created, "the client id is known again");
    assert_eq!(again.message, first.message);
    assert_eq!(
        services.get_message(&ada, &reply.message.id).await.unwrap(),
        reply.message
    );

    // A restore answers only within the retention time, even before the purge.
    let strict = Services::new(
        store.clone(),
        ServiceConfig {
            deleted_retention: std::time::Duration::from_secs(3600),
            ..ServiceConfig::default()
        },
    );
    assert!(store
        .delete_session(&ada.id, &doomed, Utc::now() - chrono::Duration::hours(2))
        .await
        .unwrap());
    assert!(is_not_found(strict.restore_session(&ada, &doomed).await));
    let restored = services.restore_session(&ada, &doomed).await.unwrap();
    assert_eq!(
        restored, before.detail.session,
        "the default week still allows it"
    );
}

/// Services that keep a deleted conversation restorable for an hour.
pub(crate) fn services_keeping_deleted_for_an_hour(store: DynStore) -> Services {
    Services::new(
        store,
        ServiceConfig {
            deleted_retention: std::time::Duration::from_secs(3600),
            ..ServiceConfig::default()
        },
    )
}

/// A deleted conversation longer than what a purge removes in one write (SQLite takes 500
/// messages a write) goes whole: every message, its search entries and the session; the
/// account's other conversation keeps all of its own.
pub async fn purging_a_long_conversation(store: DynStore) {
    use confab_core::store::{ImportSession, NewMessage, NewSession};

    let services = services_keeping_deleted_for_an_hour(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let start = Utc::now() - chrono::Duration::days(2);
    let conversation = |name: &str, count: u16| {
        let session_id = confab_core::ids::derived_id(start, 0, &ada.id, name);
        let mut parent: Option<String> = None;
        let mut messages = Vec::new();
        for n in 0..count {
            let at = start + chrono::Duration::seconds(n.into());
            let id = confab_core::ids::derived_id(at, n, &ada.id, &format!("{name}:{n}"));
            messages.push(NewMessage {
                starred_at: None,
                id: id.clone(),
                user_id: ada.id.clone(),
                session_id: session_id.clone(),
                parent_id: parent.replace(id),
                role: if n.is_multiple_of(2) {
                    Role::User
                } else {
                    Role::Assistant
                },
                content: format!("{name} words, message {n}"),
                message_type: "chat".into(),
                model: None,
                prompt_tokens: None,
                completion_tokens: None,
                latency_ms: None,
                status: MessageStatus::Complete,
                client_id: None,
                source_id: None,
                created_at: at,
                usage_estimated: false,
                follow_active_leaf: false,
                status_reason: None,
                active_leaf: confab_core::store::LeafRule::Set,
            });
        }
        ImportSession {
            forked_from: None,
            tags: Vec::new(),
            session: NewSession {
                folder_id: None,
                id: session_id,
                user_id: ada.id.clone(),
                title: name.into(),
                source_id: None,
                created_at: start,
            },
            pinned: false,
            archived: false,
            is_active: true,
            updated_at: None,
            active_leaf_id: parent,
            messages,
        }
    };
    let long = conversation("longpurge", 1_234);
    let kept = conversation("keptalong", 30);
    let (long_id, kept_id) = (long.session.id.clone(), kept.session.id.clone());
    let counts = store
        .import_sessions(&ada.id, vec![long, kept])
        .await
        .unwrap();
    assert_eq!((counts.sessions, counts.messages), (2, 1_264));
    assert!(store
        .delete_session(&ada.id, &long_id, Utc::now() - chrono::Duration::hours(2))
        .await
        .unwrap());

    assert_eq!(services.purge_deleted_sessions().await.unwrap(), 1);
    assert!(store
        .restore_session(&ada.id, &long_id, chrono::DateTime::<Utc>::MIN_UTC)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .all_messages(&ada.id, &long_id)
        .await
        .unwrap()
        .is_empty());
    assert!(search_for(&services, &ada, "longpurge").await.is_empty());
    assert_eq!(
        store.all_messages(&ada.id, &kept_id).await.unwrap().len(),
        30
    );
    assert_eq!(search_for(&services, &ada, "keptalong").await.len(), 30);
    // Nothing of the purged conversation is left for a later purge.
    assert_eq!(services.purge_deleted_sessions().await.unwrap(), 0);
}

/// The purge removes for good the sessions deleted before its cutoff, their messages with
/// them, and nothing else; deleting a user removes their deleted sessions too.
pub async fn purging_deleted_sessions(store: DynStore) {
    let services = services_keeping_deleted_for_an_hour(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let bob = user(&services, "bob@example.com").await;
    let mut sessions = Vec::new();
    for (who, name) in [
        (&ada, "old"),
        (&ada, "recent"),
        (&ada, "live"),
        (&bob, "old"),
    ] {
        let mut first = message(None, "user", &format!("{name} purge words"));
        first.client_id = Some(format!("client-{name}"));
        let first = services.append_message(who, first).await.unwrap();
        services
            .append_message(
                who,
                message(Some(&first.session.id), "assistant", "a purge answer"),
            )
            .await
            .unwrap();
        sessions.push(first);
    }
    let now = Utc::now();
    let (ada_old, ada_recent, ada_live, bob_old) =
        (&sessions[0], &sessions[1], &sessions[2], &sessions[3]);
    for (who, session, ago) in [
        (&ada, ada_old, chrono::Duration::hours(3)),
        (&ada, ada_recent, chrono::Duration::minutes(10)),
        (&bob, bob_old, chrono::Duration::hours(2)),
    ] {
        assert!(store
            .delete_session(&who.id, &session.session.id, now - ago)
            .await
            .unwrap());
    }
    let live_before = snapshot(&services, &ada, &ada_live.session.id, "purge").await;

    assert_eq!(services.purge_deleted_sessions().await.unwrap(), 2);
    assert_eq!(
        services.purge_deleted_sessions().await.unwrap(),
        0,
        "nothing left to purge"
    );
    let oldest = chrono::DateTime::<Utc>::MIN_UTC;
    assert!(
        store
            .restore_session(&ada.id, &ada_old.session.id, oldest)
            .await
            .unwrap()
            .is_none(),
        "purged for good"
    );
    assert!(store
        .restore_session(&bob.id, &bob_old.session.id, oldest)
        .await
        .unwrap()
        .is_none());
    // The purged messages are gone: their client ids are free again, and a new message
    // with one starts a new session.
    let mut reused = message(None, "user", "old purge words");
    reused.client_id = Some("client-old".into());
    let reused = services.append_message(&ada, reused).await.unwrap();
    assert!(reused.created);
    assert_ne!(reused.session.id, ada_old.session.id);
    assert_eq!(reused.session.message_count, 1);
    assert!(is_not_found(
        services.get_message(&ada, &ada_old.message.id).await
    ));

    // The recent deletion and the live session are untouched.
    let restored = services
        .restore_session(&ada, &ada_recent.session.id)
        .await
        .unwrap();
    assert_eq!(restored.message_count, 2);
    assert_eq!(
        store
            .all_messages(&ada.id, &ada_recent.session.id)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        snapshot(&services, &ada, &ada_live.session.id, "purge").await,
        live_before
    );
    let hits = search_for(&services, &ada, "purge").await;
    let mut found: Vec<&str> = hits.iter().map(|hit| hit.session_id.as_str()).collect();
    found.sort_unstable();
    found.dedup();
    let mut expected = vec![
        ada_recent.session.id.as_str(),
        ada_live.session.id.as_str(),
        reused.session.id.as_str(),
    ];
    expected.sort_unstable();
    assert_eq!(found, expected);
    assert_eq!(hits.len(), 5);

    // A user's deleted sessions go with the user.
    services
        .delete_session(&ada, &ada_live.session.id)
        .await
        .unwrap();
    assert!(store.delete_user(&ada.id).await.unwrap());
    assert!(store
        .restore_session(&ada.id, &ada_live.session.id, oldest)
        .await
        .unwrap()
        .is_none());
    assert_eq!(services.purge_deleted_sessions().await.unwrap(), 0);
}

/// Importing a conversation again that was deleted (not yet purged) brings it back with its
/// messages, counted once.
pub async fn reimporting_a_deleted_conversation_restores_it(store: DynStore) {
    let services = services(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let first = services
        .append_message(&ada, message(None, "user", "an imported question"))
        .await
        .unwrap();
    let mut reply = message(Some(&first.session.id), "assistant", "an imported answer");
    reply.parent_id = Some(first.message.id.clone());
    services.append_message(&ada, reply).await.unwrap();
    let document: ExportDocument =
        serde_json::from_str(&collect_export(&services, &ada).await).unwrap();

    let bea = user(&services, "bea@example.com").await;
    let report = services
        .import_confab(&bea, document.clone())
        .await
        .unwrap();
    assert_eq!(
        (report.sessions, report.messages, report.skipped),
        (1, 2, 0)
    );
    let imported = listed(&services, &bea, SessionListInput::default())
        .await
        .items;
    assert_eq!(imported.len(), 1);
    let id = imported[0].id.clone();
    let before = snapshot(&services, &bea, &id, "imported").await;

    services.delete_session(&bea, &id).await.unwrap();
    let again = services.import_confab(&bea, document).await.unwrap();
    assert_eq!(
        (again.sessions, again.messages, again.skipped),
        (0, 0, 2),
        "its messages were all still there"
    );
    assert_eq!(snapshot(&services, &bea, &id, "imported").await, before);
    assert_eq!(
        listed(&services, &bea, SessionListInput::default())
            .await
            .items,
        vec![before.detail.session.clone()]
    );
}

/// Content a MongoDB-wire server may choke on is stored whole and found: a 12 KB message of
/// 600 distinct words (FerretDB on PostgreSQL refused to index its term array as one btree
/// key) and text holding U+0000.
pub async fn odd_content_is_stored_whole_and_found(store: DynStore) {
    let services = services(store.clone());
    let ada = user(&services, "ada@example.com").await;
    // "distinctivelexemeaaa", "distinctivelexemeaab", ...: 600 words no other message holds.
    let word = |n: usize| {
        let letter = |k: usize| char::from(b'a' + (k % 26) as u8);
        format!(
            "distinctivelexeme{}{}{}",
            letter(n / 676),
            letter(n / 26),
            letter(n)
        )
    };
    let long: String = (0..600).map(word).collect::<Vec<_>>().join(" ");
    assert!(long.len() >= 12_000, "{} bytes", long.len());
    let with_nul = "before\u{0}after, a nul inside";
    let mut stored = Vec::new();
    for content in [long.as_str(), with_nul] {
        let appended = services
            .append_message(&ada, message(None, "user", content))
            .await
            .unwrap_or_else(|error| panic!("append {} bytes: {error:?}", content.len()));
        let read = store
            .get_message(&ada.id, &appended.message.id)
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(read.content, content, "read back exactly");
        stored.push(appended.message.id);
    }
    for q in [word(0), word(299), word(599)] {
        let hits = search_for(&services, &ada, &q).await;
        let ids: Vec<&str> = hits.iter().map(|hit| hit.message_id.as_str()).collect();
        assert_eq!(ids, [stored[0].as_str()], "search {q}");
    }
    let hits = search_for(&services, &ada, "nul").await;
    let ids: Vec<&str> = hits.iter().map(|hit| hit.message_id.as_str()).collect();
    assert_eq!(ids, [stored[1].as_str()], "search nul");
}

/// The kind of a service error, named by the status the REST API answers it with
/// (`confab_http::error::status_of`, whose own tests check the HTTP side): the service layer
/// knows nothing of HTTP, and the stories assert the kind.
pub fn status(error: &ServiceError) -> u16 {
    match error {
        ServiceError::Invalid { .. } => 422,
        ServiceError::Unauthorized | ServiceError::BadCredentials => 401,
        ServiceError::Forbidden(_) | ServiceError::Denied { .. } => 403,
        ServiceError::NotFound => 404,
        ServiceError::Conflict(_) | ServiceError::ConflictWith { .. } => 409,
        ServiceError::TooLarge(_) => 413,
        ServiceError::TooManyRequests { .. } | ServiceError::Busy(_) => 429,
        ServiceError::StorageFull => 507,
        ServiceError::Internal(_) => 500,
    }
}
