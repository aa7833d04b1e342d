//! Conversation folders: created nested, renamed, moved (never into their own subtree, never
//! deeper than 8 levels), deleted keeping or trashing their contents; conversations started
//! in a folder, moved in bulk, listed by folder page by page; and each folder's
//! `session_count`, exact after every kind of change that moves it.

use chrono::{TimeDelta, Utc};
use confab_core::api::{
    FolderContents, FolderFilter, FolderPatchInput, ForkInput, NewFolderInput, SessionListInput,
    SessionPatchInput, SessionsBulkAction as Action, SessionsBulkInput, SessionsBulkResult,
};
use confab_core::model::{Folder, Session, User};
use confab_core::service::{ServiceError, Services};
use confab_core::store::{DynStore, ImportSession, NewSession, SessionsChange};

use super::stars::say;
use super::tags::{not_found, refused};
use super::{services_keeping_deleted_for_an_hour, user};

async fn create(
    services: &Services,
    user: &User,
    name: &str,
    parent: Option<&str>,
) -> Result<Folder, ServiceError> {
    services
        .create_folder(
            user,
            NewFolderInput {
                name: name.into(),
                parent_id: parent.map(str::to_owned),
                ..Default::default()
            },
        )
        .await
}

fn move_to(parent: Option<&str>) -> FolderPatchInput {
    FolderPatchInput {
        parent_id: Some(parent.map(str::to_owned)),
        ..Default::default()
    }
}

/// The user's folders as (name, parent name, count), in list order.
async fn shape(services: &Services, user: &User) -> Vec<(String, Option<String>, i64)> {
    let folders = services.list_folders(user).await.unwrap();
    let name_of = |id: &str| {
        folders
            .iter()
            .find(|folder| folder.id == id)
            .map(|folder| folder.name.clone())
            .unwrap()
    };
    folders
        .iter()
        .map(|folder| {
            (
                folder.name.clone(),
                folder.parent_id.as_deref().map(name_of),
                folder.session_count,
            )
        })
        .collect()
}

fn row(name: &str, parent: Option<&str>, count: i64) -> (String, Option<String>, i64) {
    (name.to_owned(), parent.map(str::to_owned), count)
}

async fn bulk_move(
    services: &Services,
    user: &User,
    ids: &[&String],
    folder: Option<&str>,
) -> Result<SessionsBulkResult, ServiceError> {
    services
        .change_sessions(
            user,
            SessionsBulkInput {
                ids: ids.iter().map(|id| (*id).clone()).collect(),
                action: Action::Move,
                tag: None,
                folder_id: folder.map(str::to_owned),
            },
        )
        .await
}

async fn listed(
    services: &Services,
    user: &User,
    folder: FolderFilter,
    archived: Option<bool>,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor = None;
    loop {
        let page = services
            .list_sessions(
                user,
                SessionListInput {
                    limit: Some(2),
                    cursor,
                    archived,
                    folder: Some(folder.clone()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        ids.extend(page.items.into_iter().map(|session| session.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return ids,
        }
    }
}

/// The `session_count`s of three folders of the user's.
async fn counts(services: &Services, user: &User, ids: [&String; 3]) -> (i64, i64, i64) {
    let folders = services.list_folders(user).await.unwrap();
    let of = |id: &String| {
        folders
            .iter()
            .find(|folder| &folder.id == id)
            .map(|folder| folder.session_count)
            .unwrap()
    };
    (of(ids[0]), of(ids[1]), of(ids[2]))
}

/// The titles of the user's conversations directly in the folder, sorted.
async fn titles_in(services: &Services, user: &User, folder: &str) -> Vec<String> {
    let mut titles = Vec::new();
    for id in listed(
        services,
        user,
        FolderFilter::Folder(folder.to_owned()),
        None,
    )
    .await
    {
        titles.push(services.get_session(user, &id).await.unwrap().session.title);
    }
    titles.sort();
    titles
}

async fn folder_of(services: &Services, user: &User, id: &str) -> Option<String> {
    services
        .get_session(user, id)
        .await
        .unwrap()
        .session
        .folder_id
}

pub async fn folders(store: DynStore) {
    let services = services_keeping_deleted_for_an_hour(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let bob = user(&services, "bob@example.com").await;
    assert_eq!(
        services.list_folders(&ada).await.unwrap(),
        Vec::<Folder>::new()
    );

    // Created nested, every field as given; the name rule (trimmed, collapsed, case kept).
    let before = Utc::now();
    let work = services
        .create_folder(
            &ada,
            NewFolderInput {
                name: "  Work \n Notes ".into(),
                parent_id: None,
                system_prompt: Some("You are terse.\n".into()),
                model: Some("  gpt-test ".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        work,
        Folder {
            id: work.id.clone(),
            name: "Work Notes".into(),
            parent_id: None,
            system_prompt: Some("You are terse.\n".into()),
            model: Some("gpt-test".into()),
            session_count: 0,
            created_at: work.created_at,
            updated_at: work.created_at,
        }
    );
    assert!(work.created_at >= before - TimeDelta::milliseconds(1));
    let chinese = create(&services, &ada, "机器学习", Some(&work.id))
        .await
        .unwrap();
    assert_eq!(chinese.parent_id.as_deref(), Some(work.id.as_str()));
    assert_eq!(chinese.system_prompt, None);
    assert_eq!(chinese.model, None);
    let crab = create(&services, &ada, "🦀 Rust", None).await.unwrap();
    let longest = "词".repeat(128);
    let long = create(&services, &ada, &longest, Some(&chinese.id))
        .await
        .unwrap();
    assert_eq!(long.name, longest);
    let (code, message) = refused(create(&services, &ada, &"🦀".repeat(129), None).await);
    assert_eq!(code, "invalid_folder");
    assert_eq!(
        message,
        "a folder name holds at most 128 characters (this one has 129)"
    );
    assert_eq!(
        refused(create(&services, &ada, " \t ", None).await),
        (
            "invalid_folder".into(),
            "a folder name cannot be empty".into()
        )
    );
    assert_eq!(
        refused(create(&services, &ada, "a\u{0}b", None).await).0,
        "invalid_folder"
    );
    let (code, message) = refused(
        services
            .create_folder(
                &ada,
                NewFolderInput {
                    name: "x".into(),
                    model: Some("m".repeat(257)),
                    ..Default::default()
                },
            )
            .await,
    );
    assert_eq!(code, "invalid_folder");
    assert_eq!(
        message,
        "a folder's model holds at most 256 characters (this one has 257)"
    );
    // Siblings may share a name.
    let twin = create(&services, &ada, "🦀 Rust", None).await.unwrap();
    assert_ne!(twin.id, crab.id);
    // Another user's folder is not found, as a parent or otherwise.
    let bobs = create(&services, &bob, "Bob's", None).await.unwrap();
    not_found(create(&services, &ada, "in bob's", Some(&bobs.id)).await);
    not_found(services.update_folder(&ada, &bobs.id, move_to(None)).await);
    not_found(
        services
            .delete_folder(&ada, &bobs.id, FolderContents::Keep)
            .await,
    );
    not_found(
        services
            .create_session_in(&ada, Some("x"), Some(&bobs.id))
            .await,
    );
    assert_eq!(
        shape(&services, &ada).await,
        [
            row("Work Notes", None, 0),
            row("机器学习", Some("Work Notes"), 0),
            row(&longest, Some("机器学习"), 0),
            row("🦀 Rust", None, 0),
            row("🦀 Rust", None, 0),
        ]
    );
    // Siblings by name then id.
    let crabs: Vec<String> = services
        .list_folders(&ada)
        .await
        .unwrap()
        .into_iter()
        .filter(|folder| folder.name == "🦀 Rust")
        .map(|folder| folder.id)
        .collect();
    let mut sorted = vec![crab.id.clone(), twin.id.clone()];
    sorted.sort();
    assert_eq!(crabs, sorted);

    // Rename, set and clear the defaults: an absent field is left as it is.
    let renamed = services
        .update_folder(
            &ada,
            &crab.id,
            FolderPatchInput {
                name: Some(" Crab ".into()),
                system_prompt: Some(Some("Speak crab.".into())),
                model: Some(Some("crab-1".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        renamed,
        Folder {
            id: crab.id.clone(),
            name: "Crab".into(),
            parent_id: None,
            system_prompt: Some("Speak crab.".into()),
            model: Some("crab-1".into()),
            session_count: 0,
            created_at: crab.created_at,
            updated_at: renamed.updated_at,
        }
    );
    assert!(renamed.updated_at >= crab.created_at);
    let cleared = services
        .update_folder(
            &ada,
            &crab.id,
            FolderPatchInput {
                system_prompt: Some(None),
                model: Some(Some(String::new())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(cleared.name, "Crab");
    assert_eq!(cleared.system_prompt, None);
    assert_eq!(cleared.model, None);

    // Moves: into itself or a descendant is a typed conflict; to the top level and back.
    for target in [&work.id, &chinese.id, &long.id] {
        let refused = services
            .update_folder(&ada, &work.id, move_to(Some(target)))
            .await;
        match refused {
            Err(ServiceError::ConflictWith { code, .. }) => assert_eq!(code, "folder_cycle"),
            other => panic!("expected folder_cycle, got {other:?}"),
        }
    }
    let moved = services
        .update_folder(&ada, &chinese.id, move_to(Some(&crab.id)))
        .await
        .unwrap();
    assert_eq!(moved.parent_id.as_deref(), Some(crab.id.as_str()));
    let top = services
        .update_folder(&ada, &chinese.id, move_to(None))
        .await
        .unwrap();
    assert_eq!(top.parent_id, None);
    services
        .update_folder(&ada, &chinese.id, move_to(Some(&work.id)))
        .await
        .unwrap();

    // Depth: 8 levels, not 9, whether by creating or by moving a subtree.
    let mut chain = vec![work.id.clone()];
    for level in 2..=8 {
        let parent = chain.last().cloned();
        let folder = create(
            &services,
            &ada,
            &format!("level {level}"),
            parent.as_deref(),
        )
        .await
        .unwrap();
        chain.push(folder.id);
    }
    let (code, _) =
        refused(create(&services, &ada, "level 9", chain.last().map(String::as_str)).await);
    assert_eq!(code, "folder_too_deep");
    // `long` is at depth 3 under work/机器学习; its subtree is 1 level: under level 7 it is 8.
    services
        .update_folder(&ada, &long.id, move_to(Some(&chain[6])))
        .await
        .unwrap();
    let (code, _) = refused(
        services
            .update_folder(&ada, &long.id, move_to(Some(&chain[7])))
            .await,
    );
    assert_eq!(code, "folder_too_deep");
    // The chain from level 2 spans 7 levels: under 机器学习 (depth 2) it would reach 9, under
    // the twin (depth 1) it reaches 8.
    let (code, _) = refused(
        services
            .update_folder(&ada, &chain[1], move_to(Some(&chinese.id)))
            .await,
    );
    assert_eq!(code, "folder_too_deep");
    services
        .update_folder(&ada, &chain[1], move_to(Some(&twin.id)))
        .await
        .unwrap();

    // Conversations started in a folder; counts follow every change.
    let mut in_work = Vec::new();
    let mut said = Vec::new();
    for n in 0..5 {
        let session = services
            .create_session_in(&ada, Some(&format!("work {n}")), Some(&work.id))
            .await
            .unwrap();
        assert_eq!(session.folder_id.as_deref(), Some(work.id.as_str()));
        said.push(
            say(
                &services,
                &ada,
                Some(&session.id),
                &format!("work words {n}"),
            )
            .await,
        );
        in_work.push(session.id);
    }
    let loose = say(&services, &ada, None, "loose words").await.session_id;
    assert_eq!(folder_of(&services, &ada, &loose).await, None);
    assert_eq!(
        counts(&services, &ada, [&work.id, &chinese.id, &crab.id]).await,
        (5, 0, 0)
    );
    // The folder's list, over pages, in the whole list's order (newest activity first).
    let mut newest_first = in_work.clone();
    newest_first.reverse();
    assert_eq!(
        listed(
            &services,
            &ada,
            FolderFilter::Folder(work.id.clone()),
            Some(false)
        )
        .await,
        newest_first
    );
    assert_eq!(
        listed(&services, &ada, FolderFilter::Top, None).await,
        std::slice::from_ref(&loose)
    );
    assert_eq!(
        listed(&services, &ada, FolderFilter::Folder(bobs.id.clone()), None).await,
        Vec::<String>::new()
    );

    // Archive and unarchive (one, and in bulk), trash and restore.
    services
        .update_session(
            &ada,
            &in_work[0],
            SessionPatchInput {
                archived: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        counts(&services, &ada, [&work.id, &chinese.id, &crab.id]).await,
        (4, 0, 0)
    );
    assert_eq!(
        listed(
            &services,
            &ada,
            FolderFilter::Folder(work.id.clone()),
            Some(true)
        )
        .await,
        [in_work[0].clone()]
    );
    let archive = |action| SessionsBulkInput {
        ids: vec![in_work[1].clone(), in_work[0].clone()],
        action,
        tag: None,
        folder_id: None,
    };
    services
        .change_sessions(&ada, archive(Action::Archive))
        .await
        .unwrap();
    assert_eq!(
        counts(&services, &ada, [&work.id, &chinese.id, &crab.id]).await,
        (3, 0, 0)
    );
    services
        .change_sessions(&ada, archive(Action::Unarchive))
        .await
        .unwrap();
    assert_eq!(
        counts(&services, &ada, [&work.id, &chinese.id, &crab.id]).await,
        (5, 0, 0)
    );
    services.delete_session(&ada, &in_work[2]).await.unwrap();
    assert_eq!(
        counts(&services, &ada, [&work.id, &chinese.id, &crab.id]).await,
        (4, 0, 0)
    );
    services.restore_session(&ada, &in_work[2]).await.unwrap();
    assert_eq!(
        counts(&services, &ada, [&work.id, &chinese.id, &crab.id]).await,
        (5, 0, 0)
    );

    // Bulk move: applied and skipped ids; a foreign or unknown folder is 404 before anything.
    let unknown = confab_core::ids::new_id();
    let bobs_session = say(&services, &bob, None, "bob's words").await.session_id;
    assert_eq!(
        bulk_move(
            &services,
            &ada,
            &[&in_work[3], &unknown, &in_work[4], &bobs_session, &loose],
            Some(&chinese.id)
        )
        .await
        .unwrap(),
        SessionsBulkResult {
            applied: vec![in_work[3].clone(), in_work[4].clone(), loose.clone()],
            skipped: vec![unknown.clone(), bobs_session.clone()],
        }
    );
    assert_eq!(
        counts(&services, &ada, [&work.id, &chinese.id, &crab.id]).await,
        (3, 3, 0)
    );
    not_found(bulk_move(&services, &ada, &[&in_work[0]], Some(&bobs.id)).await);
    not_found(bulk_move(&services, &ada, &[&in_work[0]], Some(&unknown)).await);
    assert_eq!(
        counts(&services, &ada, [&work.id, &chinese.id, &crab.id]).await,
        (3, 3, 0)
    );
    assert_eq!(folder_of(&services, &bob, &bobs_session).await, None);
    // Moving where they are counts as applied and changes nothing.
    assert_eq!(
        bulk_move(&services, &ada, &[&loose], Some(&chinese.id))
            .await
            .unwrap()
            .applied,
        std::slice::from_ref(&loose)
    );
    assert_eq!(
        counts(&services, &ada, [&work.id, &chinese.id, &crab.id]).await,
        (3, 3, 0)
    );
    // To the top level.
    bulk_move(&services, &ada, &[&loose], None).await.unwrap();
    assert_eq!(
        counts(&services, &ada, [&work.id, &chinese.id, &crab.id]).await,
        (3, 2, 0)
    );
    assert_eq!(folder_of(&services, &ada, &loose).await, None);
    // Only move takes a folder.
    assert_eq!(
        refused(
            services
                .change_sessions(
                    &ada,
                    SessionsBulkInput {
                        ids: vec![loose.clone()],
                        action: Action::Pin,
                        tag: None,
                        folder_id: Some(work.id.clone()),
                    },
                )
                .await
        )
        .0,
        "invalid_folder"
    );

    // A fork stays in its source's folder, and counts there.
    let fork = services
        .fork_session(
            &ada,
            &in_work[0],
            ForkInput {
                message_id: said[0].id.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(fork.folder_id.as_deref(), Some(work.id.as_str()));
    assert_eq!(
        counts(&services, &ada, [&work.id, &chinese.id, &crab.id]).await,
        (4, 2, 0)
    );

    // An import into a folder counts there (and an archived one does not).
    let now = Utc::now();
    let imported: Vec<ImportSession> = [false, true]
        .into_iter()
        .enumerate()
        .map(|(n, archived)| ImportSession {
            session: NewSession {
                folder_id: Some(crab.id.clone()),
                id: confab_core::ids::new_id(),
                user_id: ada.id.clone(),
                title: format!("imported {n}"),
                source_id: Some(format!("folders-test-{n}")),
                created_at: now,
            },
            pinned: false,
            archived,
            is_active: true,
            updated_at: None,
            tags: Vec::new(),
            active_leaf_id: None,
            forked_from: None,
            messages: Vec::new(),
        })
        .collect();
    let imported_ids: Vec<String> = imported.iter().map(|i| i.session.id.clone()).collect();
    store.import_sessions(&ada.id, imported).await.unwrap();
    assert_eq!(
        counts(&services, &ada, [&work.id, &chinese.id, &crab.id]).await,
        (4, 2, 1)
    );
    assert_eq!(
        folder_of(&services, &ada, &imported_ids[1])
            .await
            .as_deref(),
        Some(crab.id.as_str())
    );

    // The purge removes only deleted sessions, which no folder counts.
    store
        .change_sessions(
            &ada.id,
            &[in_work[1].clone()],
            SessionsChange::Deleted(now - TimeDelta::hours(2)),
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        counts(&services, &ada, [&work.id, &chinese.id, &crab.id]).await,
        (3, 2, 1)
    );
    assert_eq!(services.purge_deleted_sessions().await.unwrap(), 1);
    assert_eq!(
        counts(&services, &ada, [&work.id, &chinese.id, &crab.id]).await,
        (3, 2, 1)
    );

    // Delete keeping the contents: its conversations and subfolders go to its parent.
    // 机器学习 (in work) holds in_work[3], in_work[4].
    let sub = create(&services, &ada, "sub", Some(&chinese.id))
        .await
        .unwrap();
    assert_eq!(
        services
            .delete_folder(&ada, &chinese.id, FolderContents::Keep)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        folder_of(&services, &ada, &in_work[3]).await.as_deref(),
        Some(work.id.as_str())
    );
    let folders = services.list_folders(&ada).await.unwrap();
    assert!(folders.iter().all(|folder| folder.id != chinese.id));
    let sub_now = folders.iter().find(|folder| folder.id == sub.id).unwrap();
    assert_eq!(sub_now.parent_id.as_deref(), Some(work.id.as_str()));
    let work_now = folders.iter().find(|folder| folder.id == work.id).unwrap();
    assert_eq!(work_now.session_count, 5);

    // Delete with the contents: every conversation of the subtree to the trash, subfolders
    // gone; a restore puts one at the top level.
    let in_sub = services
        .create_session_in(&ada, Some("in sub"), Some(&sub.id))
        .await
        .unwrap();
    services
        .update_session(
            &ada,
            &in_work[0],
            SessionPatchInput {
                archived: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // work holds in_work[0] (archived), [2], [3], [4], the fork; sub holds in_sub.
    assert_eq!(
        services
            .delete_folder(&ada, &work.id, FolderContents::Delete)
            .await
            .unwrap(),
        6
    );
    not_found(services.get_session(&ada, &in_sub.id).await);
    let restored: Session = services.restore_session(&ada, &in_sub.id).await.unwrap();
    assert_eq!(restored.folder_id, None);
    assert_eq!(
        listed(&services, &ada, FolderFilter::Top, None).await,
        [in_sub.id.clone(), loose.clone()]
    );
    let restored_archived = services.restore_session(&ada, &in_work[0]).await.unwrap();
    assert_eq!(restored_archived.folder_id, None);
    assert!(restored_archived.archived);
    assert_eq!(
        shape(&services, &ada).await,
        [
            row("Crab", None, 1),
            row("🦀 Rust", None, 0),
            row("level 2", Some("🦀 Rust"), 0),
            row("level 3", Some("level 2"), 0),
            row("level 4", Some("level 3"), 0),
            row("level 5", Some("level 4"), 0),
            row("level 6", Some("level 5"), 0),
            row("level 7", Some("level 6"), 0),
            row("level 8", Some("level 7"), 0),
            row(&longest, Some("level 7"), 0),
        ]
    );

    // An account's deletion takes its folders; the other user's stay.
    assert!(store.delete_user(&ada.id).await.unwrap());
    assert_eq!(
        store.list_folders(&ada.id).await.unwrap(),
        Vec::<Folder>::new()
    );
    assert_eq!(
        services.list_folders(&bob).await.unwrap(),
        std::slice::from_ref(&bobs)
    );
}

/// A backup carries the folders and each conversation's folder: restored into the same
/// account it adds nothing (a folder that exists is kept as it is), into another account the
/// folders come back under derived ids with every field and exact counts, and their
/// conversations in them.
pub async fn folders_in_backups(store: DynStore) {
    let services = services_keeping_deleted_for_an_hour(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let bob = user(&services, "bob@example.com").await;
    let top = services
        .create_folder(
            &ada,
            NewFolderInput {
                name: "Top 🗂".into(),
                parent_id: None,
                system_prompt: Some("Be exact.".into()),
                model: Some("model-a".into()),
            },
        )
        .await
        .unwrap();
    let inner = create(&services, &ada, "内部", Some(&top.id))
        .await
        .unwrap();
    let s1 = services
        .create_session_in(&ada, Some("in top"), Some(&top.id))
        .await
        .unwrap();
    say(&services, &ada, Some(&s1.id), "first words").await;
    services
        .create_session_in(&ada, Some("in inner"), Some(&inner.id))
        .await
        .unwrap();
    let archived = services
        .create_session_in(&ada, Some("archived in top"), Some(&top.id))
        .await
        .unwrap();
    services
        .update_session(
            &ada,
            &archived.id,
            SessionPatchInput {
                archived: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    services.create_session(&ada, Some("loose")).await.unwrap();
    let folders = services.list_folders(&ada).await.unwrap();
    assert_eq!(
        folders.iter().map(|f| f.session_count).collect::<Vec<_>>(),
        [1, 1]
    );

    let file = super::backup::export_of(&services, &ada).await;
    assert_eq!(file.folders, folders);
    let folder_of_title = |title: &str| {
        file.sessions
            .iter()
            .find(|exported| exported.session.title == title)
            .and_then(|exported| exported.session.folder_id.clone())
    };
    assert_eq!(folder_of_title("in top"), Some(top.id.clone()));
    assert_eq!(folder_of_title("in inner"), Some(inner.id.clone()));
    assert_eq!(folder_of_title("archived in top"), Some(top.id.clone()));
    assert_eq!(folder_of_title("loose"), None);

    // Into the same account: nothing added, the folders as they are.
    let report = services.import_confab(&ada, file.clone()).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.sessions, 0);
    assert_eq!(services.list_folders(&ada).await.unwrap(), folders);

    // Into another account: derived ids, every other field kept, counts exact.
    let report = services.import_confab(&bob, file.clone()).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.sessions, 4);
    let bobs = services.list_folders(&bob).await.unwrap();
    assert_eq!(bobs.len(), 2);
    assert_eq!(
        bobs[0],
        Folder {
            id: bobs[0].id.clone(),
            name: "Top 🗂".into(),
            parent_id: None,
            system_prompt: Some("Be exact.".into()),
            model: Some("model-a".into()),
            session_count: 1,
            created_at: top.created_at,
            updated_at: bobs[0].updated_at,
        }
    );
    assert_ne!(bobs[0].id, top.id);
    assert_eq!(
        bobs[1],
        Folder {
            id: bobs[1].id.clone(),
            name: "内部".into(),
            parent_id: Some(bobs[0].id.clone()),
            system_prompt: None,
            model: None,
            session_count: 1,
            created_at: inner.created_at,
            updated_at: bobs[1].updated_at,
        }
    );
    assert_eq!(
        titles_in(&services, &bob, &bobs[0].id).await,
        ["archived in top", "in top"]
    );
    assert_eq!(titles_in(&services, &bob, &bobs[1].id).await, ["in inner"]);
    // A second import of the file finds them: nothing added.
    let again = services.import_confab(&bob, file).await.unwrap();
    assert_eq!(again.sessions, 0);
    assert_eq!(services.list_folders(&bob).await.unwrap(), bobs);
}
