//! Conversation tags: put on and taken off one conversation or many, the user's tags, a tag
//! renamed (merging) or deleted everywhere, the list and search filtered by a tag, and what
//! becomes of tags in the trash, after the purge, in a fork and when the account goes.

use chrono::Utc;
use confab_core::api::{
    ForkInput, NewMessageInput, SearchInput, SessionListInput, SessionsBulkAction as Action,
    SessionsBulkInput, SessionsBulkResult,
};
use confab_core::model::{Session, User};
use confab_core::service::{ServiceError, Services};
use confab_core::store::{DynStore, ImportSession, NewSession};

use super::stars::say;
use super::{services_keeping_deleted_for_an_hour, user};

/// The code and message of a refusal that must be a 422.
pub(super) fn refused<T: std::fmt::Debug>(result: Result<T, ServiceError>) -> (String, String) {
    match result {
        Err(ServiceError::Invalid { code, message }) => (code.to_owned(), message),
        other => panic!("expected a 422, got {other:?}"),
    }
}

pub(super) fn not_found<T: std::fmt::Debug>(result: Result<T, ServiceError>) {
    assert!(
        matches!(result, Err(ServiceError::NotFound)),
        "expected not found, got {result:?}"
    );
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

async fn bulk(
    services: &Services,
    user: &User,
    ids: &[&String],
    action: Action,
    tag: Option<&str>,
) -> Result<SessionsBulkResult, ServiceError> {
    services
        .change_sessions(
            user,
            SessionsBulkInput {
                ids: ids.iter().map(|id| (*id).clone()).collect(),
                action,
                tag: tag.map(str::to_owned),
                folder_id: None,
            },
        )
        .await
}

fn result(applied: &[&String], skipped: &[&String]) -> SessionsBulkResult {
    SessionsBulkResult {
        applied: applied.iter().map(|id| (*id).clone()).collect(),
        skipped: skipped.iter().map(|id| (*id).clone()).collect(),
    }
}

async fn tags_of(services: &Services, user: &User, id: &str) -> Vec<String> {
    services.get_session(user, id).await.unwrap().session.tags
}

async fn list_tags(services: &Services, user: &User) -> Vec<String> {
    services.list_tags(user).await.unwrap()
}

/// Every page of the list filtered by `tag` (`limit` a page), as pages of ids.
async fn pages(
    services: &Services,
    user: &User,
    tag: &str,
    archived: Option<bool>,
    limit: i64,
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let page = services
            .list_sessions(
                user,
                SessionListInput {
                    limit: Some(limit),
                    cursor: cursor.take(),
                    archived,
                    tag: Some(tag.to_owned()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        pages.push(
            page.items
                .iter()
                .map(|session| session.id.clone())
                .collect(),
        );
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return pages,
        }
    }
}

/// The ids of the messages a search finds, sorted.
async fn found(services: &Services, user: &User, input: SearchInput) -> Vec<String> {
    let mut ids: Vec<String> = services
        .search(user, input)
        .await
        .unwrap_or_else(|error| panic!("search: {error:?}"))
        .items
        .into_iter()
        .map(|hit| hit.message_id)
        .collect();
    ids.sort();
    ids
}

fn query(q: &str) -> SearchInput {
    SearchInput {
        q: q.into(),
        ..Default::default()
    }
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|id| (*id).clone()).collect();
    ids.sort();
    ids
}

pub async fn tags(store: DynStore) {
    let services = services_keeping_deleted_for_an_hour(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let bob = user(&services, "bob@example.com").await;
    let mut messages = Vec::new();
    for n in 0..4 {
        messages.push(say(&services, &ada, None, &format!("harbour lights {n}")).await);
    }
    let s: Vec<String> = messages.iter().map(|m| m.session_id.clone()).collect();
    let bobs = say(&services, &bob, None, "harbour of bob")
        .await
        .session_id;
    let unknown = confab_core::ids::new_id();
    let plain_order = |services: Services, ada: User| async move {
        services
            .list_sessions(&ada, SessionListInput::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|session| session.id)
            .collect::<Vec<_>>()
    };
    let order = plain_order(services.clone(), ada.clone()).await;
    assert_eq!(
        order,
        [s[3].clone(), s[2].clone(), s[1].clone(), s[0].clone()]
    );
    assert_eq!(list_tags(&services, &ada).await, Vec::<String>::new());
    let fresh = services.get_session(&ada, &s[0]).await.unwrap().session;
    assert_eq!(
        fresh.tags,
        Vec::<String>::new(),
        "a new conversation has none"
    );

    // One conversation: the tag is trimmed and its whitespace collapsed; tagging bumps
    // `updatedAt` and leaves the last activity (and so the list order) alone.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    let before = Utc::now() - chrono::Duration::milliseconds(1);
    let tagged = services
        .tag_session(&ada, &s[0], "  machine \n  learning ")
        .await
        .unwrap();
    assert_eq!(tagged.tags, ["machine learning"]);
    assert!(tagged.updated_at >= before && tagged.updated_at > fresh.updated_at);
    assert_eq!(
        Session {
            tags: Vec::new(),
            updated_at: fresh.updated_at,
            ..tagged.clone()
        },
        fresh,
        "nothing else changed"
    );
    assert_eq!(plain_order(services.clone(), ada.clone()).await, order);
    let tagged = services.tag_session(&ada, &s[0], "Rust").await.unwrap();
    assert_eq!(tagged.tags, ["Rust", "machine learning"], "in str order");
    let again = services.tag_session(&ada, &s[0], "Rust").await.unwrap();
    assert_eq!(again.tags, tagged.tags, "tagging again changes nothing");
    assert_eq!(
        services
            .tag_session(&ada, &s[0], "rust")
            .await
            .unwrap()
            .tags,
        ["Rust", "machine learning", "rust"],
        "case counts"
    );
    let untagged = services.untag_session(&ada, &s[0], "rust").await.unwrap();
    assert_eq!(untagged.tags, ["Rust", "machine learning"]);
    let untagged = services.untag_session(&ada, &s[0], " Rust ").await.unwrap();
    assert_eq!(untagged.tags, ["machine learning"]);
    let again = services.untag_session(&ada, &s[0], "Rust").await.unwrap();
    assert_eq!(
        again.tags,
        ["machine learning"],
        "untagging again is no error"
    );
    assert_eq!(again.updated_at, untagged.updated_at, "and changes nothing");

    // Another user's, an unknown, a malformed id: not found, tagging or untagging.
    not_found(services.tag_session(&ada, &bobs, "work").await);
    not_found(services.tag_session(&ada, &unknown, "work").await);
    not_found(services.tag_session(&ada, "not-an-id", "work").await);
    not_found(services.untag_session(&ada, &bobs, "work").await);
    assert_eq!(tags_of(&services, &bob, &bobs).await, Vec::<String>::new());
    // What is not a tag.
    assert_eq!(
        refused(services.tag_session(&ada, &s[0], " \t ").await),
        ("invalid_tag".to_owned(), "a tag cannot be empty".to_owned())
    );
    assert_eq!(
        refused(services.tag_session(&ada, &s[0], "bell\u{7}").await),
        (
            "invalid_tag".to_owned(),
            "a tag cannot hold a control character".to_owned()
        )
    );
    assert_eq!(
        refused(services.tag_session(&ada, &s[0], &"学".repeat(65)).await),
        (
            "invalid_tag".to_owned(),
            "a tag holds at most 64 characters (this one has 65)".to_owned()
        )
    );
    assert_eq!(
        services
            .tag_session(&ada, &s[3], &"学".repeat(64))
            .await
            .unwrap()
            .tags,
        ["学".repeat(64)]
    );
    services
        .untag_session(&ada, &s[3], &"学".repeat(64))
        .await
        .unwrap();

    // Many at once: the ids applied and skipped, in the order given, each once.
    assert_eq!(
        bulk(
            &services,
            &ada,
            &[&s[1], &bobs, &s[2], &unknown, &s[1]],
            Action::Tag,
            Some("机器学习"),
        )
        .await
        .unwrap(),
        result(&[&s[1], &s[2]], &[&bobs, &unknown])
    );
    assert_eq!(
        bulk(
            &services,
            &ada,
            &[&s[0], &s[1]],
            Action::Tag,
            Some("机器学习")
        )
        .await
        .unwrap(),
        result(&[&s[0], &s[1]], &[]),
        "one that has it already counts as applied"
    );
    assert_eq!(
        bulk(
            &services,
            &ada,
            &[&s[3], &s[0], &s[2]],
            Action::Untag,
            Some("机器学习")
        )
        .await
        .unwrap(),
        result(&[&s[0], &s[2]], &[&s[3]]),
        "one without it is skipped"
    );
    assert_eq!(
        bulk(
            &services,
            &ada,
            &[&s[2], &s[0]],
            Action::Tag,
            Some("机器学习 ")
        )
        .await
        .unwrap(),
        result(&[&s[2], &s[0]], &[])
    );
    bulk(&services, &ada, &[&s[0]], Action::Untag, Some("机器学习"))
        .await
        .unwrap();
    services.tag_session(&ada, &s[0], "🦀").await.unwrap();
    assert_eq!(
        refused(bulk(&services, &ada, &[&s[0]], Action::Tag, None).await).0,
        "invalid_tag"
    );
    assert_eq!(
        refused(bulk(&services, &ada, &[&s[0]], Action::Untag, Some("")).await).0,
        "invalid_tag"
    );
    assert_eq!(
        refused(bulk(&services, &ada, &[&s[0]], Action::Archive, Some("work")).await),
        (
            "invalid_tag".to_owned(),
            "only tag and untag take a tag".to_owned()
        )
    );

    // At most 32 tags on a conversation: one holding 32 others is skipped (or refused alone);
    // one of its own 32 is no change.
    for n in 0..32 {
        let tag = format!("t{n:02}");
        assert_eq!(
            bulk(&services, &ada, &[&s[3]], Action::Tag, Some(&tag))
                .await
                .unwrap(),
            result(&[&s[3]], &[])
        );
    }
    assert_eq!(tags_of(&services, &ada, &s[3]).await.len(), 32);
    assert_eq!(
        refused(services.tag_session(&ada, &s[3], "t32").await),
        (
            "too_many_tags".to_owned(),
            "a conversation holds at most 32 tags".to_owned()
        )
    );
    assert_eq!(
        bulk(&services, &ada, &[&s[3], &s[2]], Action::Tag, Some("t32"))
            .await
            .unwrap(),
        result(&[&s[2]], &[&s[3]])
    );
    assert_eq!(
        services
            .tag_session(&ada, &s[3], "t07")
            .await
            .unwrap()
            .tags
            .len(),
        32
    );
    assert_eq!(services.delete_tag(&ada, "t32").await.unwrap(), 1);
    for n in 0..32 {
        assert_eq!(
            services
                .delete_tag(&ada, &format!("t{n:02}"))
                .await
                .unwrap(),
            1
        );
    }

    // Where things stand: s0 {machine learning, 🦀}, s1 {机器学习}, s2 {机器学习}, s3 {}.
    assert_eq!(
        tags_of(&services, &ada, &s[0]).await,
        ["machine learning", "🦀"]
    );
    assert_eq!(tags_of(&services, &ada, &s[1]).await, ["机器学习"]);
    assert_eq!(tags_of(&services, &ada, &s[2]).await, ["机器学习"]);
    assert_eq!(tags_of(&services, &ada, &s[3]).await, Vec::<String>::new());
    assert_eq!(
        list_tags(&services, &ada).await,
        ["machine learning", "机器学习", "🦀"]
    );
    assert_eq!(list_tags(&services, &bob).await, Vec::<String>::new());
    // Every list returns the tags.
    let listed = services
        .list_sessions(&ada, SessionListInput::default())
        .await
        .unwrap();
    assert_eq!(
        listed
            .items
            .iter()
            .map(|session| (session.id.clone(), session.tags.clone()))
            .collect::<Vec<_>>(),
        [
            (s[3].clone(), Vec::new()),
            (s[2].clone(), strings(&["机器学习"])),
            (s[1].clone(), strings(&["机器学习"])),
            (s[0].clone(), strings(&["machine learning", "🦀"])),
        ]
    );

    // The list filtered by a tag: the same order and cursor as the whole list, page by page.
    assert_eq!(
        pages(&services, &ada, "机器学习", None, 1).await,
        [vec![s[2].clone()], vec![s[1].clone()]]
    );
    assert_eq!(
        pages(&services, &ada, "机器学习", None, 2).await,
        [vec![s[2].clone(), s[1].clone()]]
    );
    assert_eq!(
        pages(&services, &ada, " machine   learning", None, 50).await,
        [vec![s[0].clone()]]
    );
    assert_eq!(
        pages(&services, &ada, "nothing", None, 50).await,
        [Vec::<String>::new()]
    );
    assert_eq!(
        pages(&services, &bob, "机器学习", None, 50).await,
        [Vec::<String>::new()]
    );
    bulk(&services, &ada, &[&s[2]], Action::Archive, None)
        .await
        .unwrap();
    assert_eq!(
        pages(&services, &ada, "机器学习", Some(false), 50).await,
        [vec![s[1].clone()]]
    );
    assert_eq!(
        pages(&services, &ada, "机器学习", Some(true), 50).await,
        [vec![s[2].clone()]]
    );
    assert_eq!(
        list_tags(&services, &ada).await,
        ["machine learning", "机器学习", "🦀"],
        "an archived conversation's tags are the user's"
    );
    bulk(&services, &ada, &[&s[2]], Action::Unarchive, None)
        .await
        .unwrap();
    assert_eq!(
        refused(
            services
                .list_sessions(
                    &ada,
                    SessionListInput {
                        tag: Some("\u{0}".into()),
                        ..Default::default()
                    },
                )
                .await
        )
        .0,
        "invalid_tag"
    );

    // Search: `tag:` and `is:starred`, in the query or as parameters.
    let reply = services
        .append_message(
            &ada,
            NewMessageInput {
                session_id: Some(s[0].clone()),
                role: "assistant".into(),
                content: "harbour answer".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .message;
    services
        .set_star(&ada, &messages[1].id, true)
        .await
        .unwrap();
    services.set_star(&ada, &reply.id, true).await.unwrap();
    let m: Vec<&String> = messages.iter().map(|message| &message.id).collect();
    assert_eq!(
        found(&services, &ada, query("harbour tag:机器学习")).await,
        sorted(&[m[1], m[2]])
    );
    assert_eq!(
        found(&services, &ada, query("harbour tag:\"machine learning\"")).await,
        sorted(&[m[0], &reply.id])
    );
    assert_eq!(
        found(&services, &ada, query("harbour is:starred")).await,
        sorted(&[m[1], &reply.id])
    );
    assert_eq!(
        found(&services, &ada, query("harbour IS:Starred tag:🦀")).await,
        sorted(&[&reply.id])
    );
    assert_eq!(
        found(&services, &ada, query("harbour tag:nothing")).await,
        Vec::<String>::new()
    );
    assert_eq!(
        found(&services, &bob, query("harbour tag:机器学习")).await,
        Vec::<String>::new()
    );
    let parameters = SearchInput {
        q: "harbour".into(),
        tag: Some("机器学习".into()),
        starred: Some(true),
        ..Default::default()
    };
    assert_eq!(
        found(&services, &ada, parameters.clone()).await,
        sorted(&[m[1]])
    );
    let with_session = SearchInput {
        session_id: Some(s[2].clone()),
        ..parameters.clone()
    };
    assert_eq!(
        found(&services, &ada, with_session).await,
        Vec::<String>::new(),
        "s2 has no starred message"
    );
    let in_session = SearchInput {
        session_id: Some(s[2].clone()),
        starred: Some(false),
        ..parameters.clone()
    };
    assert_eq!(found(&services, &ada, in_session).await, sorted(&[m[2]]));
    let same_twice = SearchInput {
        q: "harbour tag:机器学习 is:starred".into(),
        ..parameters.clone()
    };
    assert_eq!(found(&services, &ada, same_twice).await, sorted(&[m[1]]));
    let conflicting = SearchInput {
        q: "harbour tag:🦀".into(),
        ..parameters.clone()
    };
    assert_eq!(
        refused(services.search(&ada, conflicting).await),
        (
            "conflicting_filter".to_owned(),
            "tag: is given twice with different values".to_owned()
        )
    );
    assert_eq!(
        refused(services.search(&ada, query("harbour is:unread")).await),
        (
            "invalid_filter".to_owned(),
            "is: takes starred or archived (got \"unread\")".to_owned()
        )
    );
    assert_eq!(
        refused(
            services
                .search(&ada, query(&format!("harbour tag:{}", "x".repeat(65))))
                .await
        )
        .0,
        "invalid_tag"
    );

    // Renaming merges: s1, which had both names, keeps one.
    services
        .tag_session(&ada, &s[1], "machine learning")
        .await
        .unwrap();
    let before = services.get_session(&ada, &s[1]).await.unwrap().session;
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    assert_eq!(
        services
            .rename_tag(&ada, "machine learning", "机器学习")
            .await
            .unwrap(),
        2
    );
    assert_eq!(tags_of(&services, &ada, &s[0]).await, ["机器学习", "🦀"]);
    let after = services.get_session(&ada, &s[1]).await.unwrap().session;
    assert_eq!(after.tags, ["机器学习"]);
    assert!(after.updated_at > before.updated_at);
    assert_eq!(after.last_message_at, before.last_message_at);
    assert_eq!(tags_of(&services, &ada, &s[2]).await, ["机器学习"]);
    assert_eq!(list_tags(&services, &ada).await, ["机器学习", "🦀"]);
    not_found(services.rename_tag(&ada, "machine learning", "x").await);
    not_found(services.rename_tag(&bob, "机器学习", "x").await);
    assert_eq!(
        refused(services.rename_tag(&ada, "机器学习", " ").await).0,
        "invalid_tag"
    );
    assert_eq!(
        services.rename_tag(&ada, "🦀", "Crab 🦀").await.unwrap(),
        1,
        "a rename to a new name"
    );
    assert_eq!(list_tags(&services, &ada).await, ["Crab 🦀", "机器学习"]);
    assert_eq!(
        tags_of(&services, &ada, &s[0]).await,
        ["Crab 🦀", "机器学习"]
    );

    // The trash keeps a conversation's tags, and they stay the user's until the purge.
    services
        .tag_session(&ada, &s[2], "trash only")
        .await
        .unwrap();
    services.delete_session(&ada, &s[2]).await.unwrap();
    assert_eq!(
        list_tags(&services, &ada).await,
        ["Crab 🦀", "trash only", "机器学习"]
    );
    assert_eq!(
        pages(&services, &ada, "trash only", None, 50).await,
        [Vec::<String>::new()]
    );
    assert_eq!(
        pages(&services, &ada, "机器学习", None, 50).await,
        [vec![s[0].clone(), s[1].clone()]],
        "s0, answered last, comes first"
    );
    assert_eq!(
        found(&services, &ada, query("harbour tag:机器学习")).await,
        sorted(&[m[0], m[1], &reply.id])
    );
    not_found(services.tag_session(&ada, &s[2], "work").await);
    assert_eq!(
        bulk(&services, &ada, &[&s[2]], Action::Untag, Some("trash only"))
            .await
            .unwrap(),
        result(&[], &[&s[2]]),
        "a deleted conversation is skipped"
    );
    let restored = services.restore_session(&ada, &s[2]).await.unwrap();
    assert_eq!(restored.tags, ["trash only", "机器学习"]);

    // Deleting a tag takes it off every conversation, deleted ones too.
    services.delete_session(&ada, &s[1]).await.unwrap();
    assert_eq!(services.delete_tag(&ada, "机器学习").await.unwrap(), 3);
    let restored = services.restore_session(&ada, &s[1]).await.unwrap();
    assert_eq!(restored.tags, Vec::<String>::new());
    assert_eq!(tags_of(&services, &ada, &s[0]).await, ["Crab 🦀"]);
    assert_eq!(tags_of(&services, &ada, &s[2]).await, ["trash only"]);
    assert_eq!(list_tags(&services, &ada).await, ["Crab 🦀", "trash only"]);
    not_found(services.delete_tag(&ada, "机器学习").await);
    not_found(services.delete_tag(&bob, "Crab 🦀").await);
    assert_eq!(
        refused(services.delete_tag(&ada, "").await).0,
        "invalid_tag"
    );

    // The purge takes a conversation's tags with it.
    let long_ago = Utc::now() - chrono::Duration::hours(3);
    assert!(store
        .delete_session(&ada.id, &s[2], long_ago)
        .await
        .unwrap());
    assert_eq!(services.purge_deleted_sessions().await.unwrap(), 1);
    assert_eq!(list_tags(&services, &ada).await, ["Crab 🦀"]);
    not_found(services.delete_tag(&ada, "trash only").await);

    // A fork starts without tags.
    let fork = services
        .fork_session(
            &ada,
            &s[0],
            ForkInput {
                message_id: reply.id.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(fork.tags, Vec::<String>::new());
    assert_eq!(
        tags_of(&services, &ada, &fork.id).await,
        Vec::<String>::new()
    );
    assert_eq!(tags_of(&services, &ada, &s[0]).await, ["Crab 🦀"]);
    assert_eq!(list_tags(&services, &ada).await, ["Crab 🦀"]);

    // At most 1,000 tags a person: a new one past them is refused, one they have is not.
    let cat = user(&services, "cat@example.com").await;
    let names: Vec<String> = (0..1000).map(|n| format!("tag {n:04}")).collect();
    let imported: Vec<ImportSession> = names
        .chunks(32)
        .enumerate()
        .map(|(n, chunk)| ImportSession {
            session: NewSession {
                folder_id: None,
                id: confab_core::ids::new_id(),
                user_id: cat.id.clone(),
                title: format!("holder {n}"),
                source_id: None,
                created_at: Utc::now(),
            },
            pinned: false,
            archived: false,
            is_active: true,
            updated_at: None,
            tags: chunk.to_vec(),
            active_leaf_id: None,
            forked_from: None,
            messages: Vec::new(),
        })
        .collect();
    let holders: Vec<String> = imported.iter().map(|s| s.session.id.clone()).collect();
    store.import_sessions(&cat.id, imported).await.unwrap();
    assert_eq!(list_tags(&services, &cat).await, names);
    let target = &holders[31];
    assert_eq!(tags_of(&services, &cat, target).await.len(), 8);
    assert_eq!(
        refused(services.tag_session(&cat, target, "one more").await),
        (
            "too_many_tags".to_owned(),
            "you have 1000 tags already; rename or delete one first".to_owned()
        )
    );
    assert_eq!(
        refused(bulk(&services, &cat, &[target], Action::Tag, Some("one more")).await).0,
        "too_many_tags"
    );
    not_found(services.tag_session(&cat, &s[0], "one more").await);
    assert_eq!(
        services
            .tag_session(&cat, target, "tag 0000")
            .await
            .unwrap()
            .tags
            .len(),
        9,
        "a tag of theirs goes on"
    );
    assert_eq!(
        services
            .rename_tag(&cat, "tag 0001", "renamed")
            .await
            .unwrap(),
        1
    );
    assert_eq!(list_tags(&services, &cat).await.len(), 1000);
    // An import too: a tag of theirs goes on, a new one is left out with a note.
    let file = serde_json::json!([{
        "id": "chat-1",
        "title": "Imported",
        "created_at": 1_700_000_000,
        "meta": { "tags": ["tag 0002", "brand new"] },
        "chat": { "history": { "currentId": "m1", "messages": {
            "m1": { "id": "m1", "role": "user", "content": "hello", "parentId": null, "childrenIds": [] }
        } } }
    }]);
    let report = services
        .import_bytes(&cat, &serde_json::to_vec(&file).unwrap())
        .await
        .unwrap();
    assert_eq!(
        report.errors,
        [confab_core::api::ImportProblem {
            title: "Imported".into(),
            reason: "the tag \"brand new\" was not imported: you have 1000 tags already".into(),
        }]
    );
    let imported = services
        .list_sessions(&cat, SessionListInput::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|session| session.title == "Imported")
        .expect("the imported chat");
    assert_eq!(imported.tags, ["tag 0002"]);
    assert_eq!(list_tags(&services, &cat).await.len(), 1000);

    // An account's deletion leaves none of its tags.
    services.tag_session(&bob, &bobs, "bob's").await.unwrap();
    assert_eq!(list_tags(&services, &bob).await, ["bob's"]);
    assert!(store.delete_user(&bob.id).await.unwrap());
    assert_eq!(
        store.list_tags(&bob.id).await.unwrap(),
        Vec::<String>::new()
    );
    assert!(store.delete_user(&cat.id).await.unwrap());
    assert_eq!(
        store.list_tags(&cat.id).await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        list_tags(&services, &ada).await,
        ["Crab 🦀"],
        "ada keeps hers"
    );
}

/// Tags put on one conversation at once (tabs, a bulk action beside a single one) are all
/// kept up to the limit, each answer tells the truth, and the user's tags are exactly those
/// carried. On FerretDB, whose updates are not atomic, concurrent tag writes to one document
/// were lost while answered as applied, and listed tags no conversation carried.
pub async fn tags_put_on_at_once_are_all_kept(store: DynStore) {
    let services = services_keeping_deleted_for_an_hour(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let session = say(&services, &ada, None, "many tags at once")
        .await
        .session_id;
    let attempts = confab_core::tags::MAX_TAGS_PER_SESSION + 8;
    let answers = futures::future::join_all((0..attempts).map(|n| {
        let (services, ada, session) = (services.clone(), ada.clone(), session.clone());
        async move {
            let tag = format!("t{n:02}");
            (
                tag.clone(),
                services.tag_session(&ada, &session, &tag).await,
            )
        }
    }))
    .await;
    let mut accepted: Vec<String> = Vec::new();
    for (tag, answer) in answers {
        match answer {
            Ok(saved) => {
                assert!(
                    saved.tags.contains(&tag),
                    "{tag} answered as put on: {saved:?}"
                );
                accepted.push(tag);
            }
            Err(ServiceError::Invalid { code, .. }) => assert_eq!(code, "too_many_tags"),
            Err(other) => panic!("{tag}: {other:?}"),
        }
    }
    accepted.sort();
    assert_eq!(accepted.len(), confab_core::tags::MAX_TAGS_PER_SESSION);
    let stored = services
        .get_session(&ada, &session)
        .await
        .expect("the session")
        .session
        .tags;
    assert_eq!(stored, accepted);
    assert_eq!(services.list_tags(&ada).await.expect("tags"), accepted);
}
