//! The conversation view read a page at a time: pages of the active branch (newest, earlier,
//! later, around a message, one type only) with each message's place among its siblings,
//! switching branches, opening at a message, and the context of a reply. A small conversation
//! is checked by hand; a long branched one against a model of its tree kept by the test.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use confab_core::api::{BranchInput, NewMessageInput, SwitchBranchInput};
use confab_core::model::{BranchPage, Message, Role, SiblingPlace, User};
use confab_core::provider::ChatTurn;
use confab_core::service::branch::{ContextBudget, FILTER_SCAN};
use confab_core::service::{ServiceConfig, ServiceError, Services};
use confab_core::store::{DynStore, ImportSession, LeafRule, NewMessage, NewSession};

use super::{services, user};

fn ids(page: &BranchPage) -> Vec<&str> {
    page.messages
        .iter()
        .map(|entry| entry.message.id.as_str())
        .collect()
}

fn place(count: usize, index: usize, previous: Option<&str>, next: Option<&str>) -> SiblingPlace {
    SiblingPlace {
        count,
        index,
        previous_id: previous.map(str::to_owned),
        next_id: next.map(str::to_owned),
    }
}

fn alone() -> SiblingPlace {
    place(1, 0, None, None)
}

fn input(limit: i64) -> BranchInput {
    BranchInput {
        limit: Some(limit),
        ..Default::default()
    }
}

fn is_not_on_branch<T: std::fmt::Debug>(result: Result<T, ServiceError>) -> bool {
    matches!(&result, Err(ServiceError::Invalid { code, .. }) if *code == "not_on_branch")
}

async fn say(
    services: &Services,
    user: &User,
    session_id: &str,
    parent: Option<&str>,
    role: &str,
    content: &str,
    message_type: &str,
) -> Message {
    services
        .append_message(
            user,
            NewMessageInput {
                session_id: Some(session_id.to_owned()),
                parent_id: parent.map(str::to_owned),
                role: role.into(),
                content: content.into(),
                message_type: Some(message_type.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .message
}

/// A conversation of seven messages with an edited question and a regenerated reply, written
/// through appends; every page, place, cursor and switch checked by hand.
pub async fn branch_pages_by_hand(store: DynStore) {
    let services = services(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let bob = user(&services, "bob@example.com").await;
    let session = services.create_session(&ada, Some("Tree")).await.unwrap();
    let s = session.id.as_str();
    let u1 = say(&services, &ada, s, None, "user", "first question", "note").await;
    let a1 = say(
        &services,
        &ada,
        s,
        Some(&u1.id),
        "assistant",
        "first answer",
        "chat",
    )
    .await;
    let u2 = say(
        &services,
        &ada,
        s,
        Some(&a1.id),
        "user",
        "second question",
        "chat",
    )
    .await;
    let a2 = say(
        &services,
        &ada,
        s,
        Some(&u2.id),
        "assistant",
        "an answer",
        "chat",
    )
    .await;
    let a2b = say(
        &services,
        &ada,
        s,
        Some(&u2.id),
        "assistant",
        "regenerated",
        "chat",
    )
    .await;
    let u2b = say(
        &services,
        &ada,
        s,
        Some(&a1.id),
        "user",
        "edited question",
        "note",
    )
    .await;
    let a3 = say(
        &services,
        &ada,
        s,
        Some(&u2b.id),
        "assistant",
        "edited answer",
        "chat",
    )
    .await;

    // The newest page: the branch ends at the last message written.
    let newest = services.branch_page(&ada, s, input(2)).await.unwrap();
    assert_eq!(ids(&newest), [u2b.id.as_str(), a3.id.as_str()]);
    assert_eq!(newest.messages[0].siblings, place(2, 1, Some(&u2.id), None));
    assert_eq!(newest.messages[1].siblings, alone());
    assert_eq!(newest.messages[1].message, a3);
    assert_eq!(newest.earlier.as_deref(), Some(u2b.id.as_str()));
    assert_eq!(newest.later, None);
    assert_eq!(
        newest.session.active_leaf_id.as_deref(),
        Some(a3.id.as_str())
    );

    let top = services
        .branch_page(
            &ada,
            s,
            BranchInput {
                before: newest.earlier.clone(),
                ..input(2)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&top), [u1.id.as_str(), a1.id.as_str()]);
    assert_eq!(top.messages[0].siblings, alone());
    assert_eq!(top.messages[1].siblings, alone());
    assert_eq!(
        (top.earlier, top.later.as_deref()),
        (None, Some(a1.id.as_str()))
    );

    let below = services
        .branch_page(
            &ada,
            s,
            BranchInput {
                after: Some(a1.id.clone()),
                ..input(2)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&below), ids(&newest));
    assert_eq!(
        (below.earlier.as_deref(), below.later),
        (Some(u2b.id.as_str()), None)
    );
    let past_the_end = services
        .branch_page(
            &ada,
            s,
            BranchInput {
                after: Some(a3.id.clone()),
                ..input(2)
            },
        )
        .await
        .unwrap();
    assert!(past_the_end.messages.is_empty());
    assert_eq!((past_the_end.earlier, past_the_end.later), (None, None));

    let around = services
        .branch_page(
            &ada,
            s,
            BranchInput {
                around: Some(a1.id.clone()),
                ..input(2)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&around), [a1.id.as_str(), u2b.id.as_str()]);
    assert_eq!(
        (around.earlier.as_deref(), around.later.as_deref()),
        (Some(a1.id.as_str()), Some(u2b.id.as_str()))
    );
    let whole = services.branch_page(&ada, s, input(50)).await.unwrap();
    assert_eq!(
        ids(&whole),
        [
            u1.id.as_str(),
            a1.id.as_str(),
            u2b.id.as_str(),
            a3.id.as_str()
        ]
    );
    assert_eq!((whole.earlier, whole.later), (None, None));

    // One type only: the matches among the messages looked through.
    let notes = services
        .branch_page(
            &ada,
            s,
            BranchInput {
                message_type: Some("note".into()),
                ..input(1)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&notes), [u2b.id.as_str()]);
    assert_eq!(
        (notes.earlier.as_deref(), notes.later),
        (Some(u2b.id.as_str()), None)
    );
    let older_notes = services
        .branch_page(
            &ada,
            s,
            BranchInput {
                message_type: Some("note".into()),
                before: notes.earlier.clone(),
                ..input(1)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&older_notes), [u1.id.as_str()]);
    assert_eq!(
        (older_notes.earlier, older_notes.later.as_deref()),
        (None, Some(a1.id.as_str()))
    );

    // Messages off the active branch cannot anchor `around` or `after`.
    for off in [&u2, &a2, &a2b] {
        let around_off = services
            .branch_page(
                &ada,
                s,
                BranchInput {
                    around: Some(off.id.clone()),
                    ..input(2)
                },
            )
            .await;
        assert!(is_not_on_branch(around_off), "around {}", off.content);
    }
    let after_off = services
        .branch_page(
            &ada,
            s,
            BranchInput {
                after: Some(u2.id.clone()),
                ..input(2)
            },
        )
        .await;
    assert!(is_not_on_branch(after_off));
    let two_cursors = services
        .branch_page(
            &ada,
            s,
            BranchInput {
                before: Some(a3.id.clone()),
                around: Some(a1.id.clone()),
                ..input(2)
            },
        )
        .await;
    assert!(
        matches!(&two_cursors, Err(ServiceError::Invalid { code, .. }) if *code == "invalid_cursor"),
        "{two_cursors:?}"
    );
    let unknown = services
        .branch_page(
            &ada,
            s,
            BranchInput {
                before: Some(confab_core::ids::new_id()),
                ..input(2)
            },
        )
        .await;
    assert!(
        matches!(&unknown, Err(ServiceError::Invalid { code, .. }) if *code == "invalid_cursor"),
        "{unknown:?}"
    );

    // Switching to the first question: down its newest children, to the regenerated reply.
    let switched = services
        .switch_branch(
            &ada,
            s,
            SwitchBranchInput {
                message_id: u2.id.clone(),
                limit: Some(50),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        ids(&switched),
        [
            u1.id.as_str(),
            a1.id.as_str(),
            u2.id.as_str(),
            a2b.id.as_str()
        ]
    );
    assert_eq!(
        switched.messages[2].siblings,
        place(2, 0, None, Some(&u2b.id))
    );
    assert_eq!(
        switched.messages[3].siblings,
        place(2, 1, Some(&a2.id), None)
    );
    assert_eq!(
        switched.session.active_leaf_id.as_deref(),
        Some(a2b.id.as_str())
    );
    let siblings: Vec<String> = services
        .siblings(&ada, &a2b.id)
        .await
        .unwrap()
        .into_iter()
        .map(|message| message.id)
        .collect();
    assert_eq!(siblings, [a2.id.clone(), a2b.id.clone()]);
    assert!(is_not_on_branch(
        services
            .branch_page(
                &ada,
                s,
                BranchInput {
                    around: Some(a3.id.clone()),
                    ..input(2)
                },
            )
            .await
    ));

    // Opening at a message of the active branch moves nothing; at one of another branch, it
    // switches there first.
    let opened = services.open_at(&ada, &a1.id, Some(2)).await.unwrap();
    assert_eq!(ids(&opened), [a1.id.as_str(), u2.id.as_str()]);
    assert_eq!(
        opened.session.active_leaf_id.as_deref(),
        Some(a2b.id.as_str())
    );
    let opened = services.open_at(&ada, &a2.id, Some(50)).await.unwrap();
    assert_eq!(
        ids(&opened),
        [
            u1.id.as_str(),
            a1.id.as_str(),
            u2.id.as_str(),
            a2.id.as_str()
        ]
    );
    assert_eq!(
        opened.session.active_leaf_id.as_deref(),
        Some(a2.id.as_str())
    );
    let opened = services.open_at(&ada, &a3.id, Some(3)).await.unwrap();
    assert_eq!(
        ids(&opened),
        [a1.id.as_str(), u2b.id.as_str(), a3.id.as_str()]
    );
    assert_eq!(
        opened.session.active_leaf_id.as_deref(),
        Some(a3.id.as_str())
    );
    assert_eq!(
        (opened.earlier.as_deref(), opened.later),
        (Some(a1.id.as_str()), None)
    );

    // Another user sees none of it.
    assert!(matches!(
        services.branch_page(&bob, s, input(2)).await,
        Err(ServiceError::NotFound)
    ));
    assert!(matches!(
        services.open_at(&bob, &a1.id, None).await,
        Err(ServiceError::NotFound)
    ));
    assert!(matches!(
        services
            .switch_branch(
                &bob,
                s,
                SwitchBranchInput {
                    message_id: u2.id.clone(),
                    limit: None
                }
            )
            .await,
        Err(ServiceError::NotFound)
    ));

    // The context of a reply: the branch up to the question, cut to the budget from the
    // oldest end, a leading system message always kept.
    let turns = |pairs: &[(Role, &str)]| -> Vec<ChatTurn> {
        pairs
            .iter()
            .map(|(role, content)| ChatTurn {
                role: *role,
                content: (*content).to_owned(),
            })
            .collect()
    };
    assert_eq!(
        services.context(&ada, &a3).await.unwrap(),
        turns(&[
            (Role::User, "first question"),
            (Role::Assistant, "first answer"),
            (Role::User, "edited question"),
            (Role::Assistant, "edited answer"),
        ])
    );
    let tight = Services::new(
        store.clone(),
        ServiceConfig {
            // "edited answer" and "edited question" cost 8 tokens each.
            context_tokens: 16,
            ..ServiceConfig::default()
        },
    );
    assert_eq!(
        tight.context(&ada, &a3).await.unwrap(),
        turns(&[
            (Role::User, "edited question"),
            (Role::Assistant, "edited answer")
        ])
    );
    let with_system = services.create_session(&ada, Some("System")).await.unwrap();
    let system = say(
        &services,
        &ada,
        &with_system.id,
        None,
        "system",
        "be brief",
        "chat",
    )
    .await;
    let mut last = system.clone();
    for n in 0..4 {
        let role = if n % 2 == 0 { "user" } else { "assistant" };
        last = say(
            &services,
            &ada,
            &with_system.id,
            Some(&last.id),
            role,
            &format!("turn {n}"),
            "chat",
        )
        .await;
    }
    assert_eq!(
        tight.context(&ada, &last).await.unwrap(),
        turns(&[(Role::System, "be brief"), (Role::Assistant, "turn 3")])
    );
}

/// The long conversation's shape: a main line, and every fifth message a fork above it with
/// a branch of two messages, written before the main message half the time and after it the
/// other half (then it is the newest child, and a switch above it goes there).
struct Model {
    messages: Vec<NewMessage>,
    by_id: HashMap<String, usize>,
    children: HashMap<Option<String>, Vec<usize>>,
    main: Vec<String>,
}

impl Model {
    fn generate(user_id: &str, session_id: &str, total: usize, start: DateTime<Utc>) -> Model {
        let mut messages: Vec<NewMessage> = Vec::with_capacity(total);
        let mut main: Vec<String> = Vec::new();
        let push = |messages: &mut Vec<NewMessage>, parent: Option<String>, depth: usize| {
            let n = messages.len();
            let created_at = start + chrono::Duration::seconds(n as i64);
            let mut message = plain_message(user_id, session_id, n, "long", parent, created_at);
            message.role = if depth.is_multiple_of(2) {
                Role::User
            } else {
                Role::Assistant
            };
            message.content = format!("message {n} at depth {depth}");
            if n % 7 == 3 {
                message.message_type = "note".into();
            }
            let id = message.id.clone();
            messages.push(message);
            id
        };
        while messages.len() < total {
            let depth = main.len();
            let parent = main.last().cloned();
            let fork = depth % 5 == 4 && total - messages.len() >= 3;
            let branch_after = depth % 10 == 9;
            if fork && !branch_after {
                let alt = push(&mut messages, parent.clone(), depth);
                push(&mut messages, Some(alt), depth + 1);
            }
            let id = push(&mut messages, parent.clone(), depth);
            main.push(id);
            if fork && branch_after {
                let alt = push(&mut messages, parent, depth);
                push(&mut messages, Some(alt), depth + 1);
            }
        }
        let by_id: HashMap<String, usize> = messages
            .iter()
            .enumerate()
            .map(|(index, message)| (message.id.clone(), index))
            .collect();
        let mut children: HashMap<Option<String>, Vec<usize>> = HashMap::new();
        for (index, message) in messages.iter().enumerate() {
            children
                .entry(message.parent_id.clone())
                .or_default()
                .push(index);
        }
        for list in children.values_mut() {
            list.sort_by(|&a, &b| {
                (messages[a].created_at, &messages[a].id)
                    .cmp(&(messages[b].created_at, &messages[b].id))
            });
        }
        Model {
            messages,
            by_id,
            children,
            main,
        }
    }

    fn message(&self, id: &str) -> &NewMessage {
        &self.messages[self.by_id[id]]
    }

    fn place(&self, id: &str) -> SiblingPlace {
        let siblings = &self.children[&self.message(id).parent_id];
        let index = siblings
            .iter()
            .position(|&other| self.messages[other].id == id)
            .unwrap();
        let id_at = |at: usize| self.messages[siblings[at]].id.as_str();
        place(
            siblings.len(),
            index,
            index.checked_sub(1).map(id_at),
            (index + 1 < siblings.len()).then(|| id_at(index + 1)),
        )
    }

    /// The path from the root to `leaf`.
    fn path_to(&self, leaf: &str) -> Vec<String> {
        let mut path = vec![leaf.to_owned()];
        while let Some(parent) = &self.message(path.last().unwrap()).parent_id {
            path.push(parent.clone());
        }
        path.reverse();
        path
    }

    fn newest_descendant(&self, from: &str) -> String {
        let mut current = from.to_owned();
        while let Some(last) = self
            .children
            .get(&Some(current.clone()))
            .and_then(|c| c.last())
        {
            current = self.messages[*last].id.clone();
        }
        current
    }

    /// The page's messages as the model has them: ids with their sibling places.
    fn expect(&self, ids: &[String]) -> Vec<(String, SiblingPlace)> {
        ids.iter().map(|id| (id.clone(), self.place(id))).collect()
    }
}

/// The `n`th message of an imported session: a complete user message "message {n}" with the
/// source id `{source}:{n}` and an id derived from it.
fn plain_message(
    user_id: &str,
    session_id: &str,
    n: usize,
    source: &str,
    parent_id: Option<String>,
    created_at: DateTime<Utc>,
) -> NewMessage {
    let source_id = format!("{source}:{n}");
    NewMessage {
        starred_at: None,
        id: confab_core::ids::derived_id(created_at, (n % 60_000) as u16, user_id, &source_id),
        user_id: user_id.to_owned(),
        session_id: session_id.to_owned(),
        parent_id,
        role: Role::User,
        content: format!("message {n}"),
        message_type: "chat".into(),
        model: None,
        prompt_tokens: None,
        completion_tokens: None,
        latency_ms: None,
        status: confab_core::model::MessageStatus::Complete,
        status_reason: None,
        client_id: None,
        usage_estimated: false,
        follow_active_leaf: false,
        active_leaf: LeafRule::Set,
        source_id: Some(source_id),
        created_at,
    }
}

fn got(page: &BranchPage) -> Vec<(String, SiblingPlace)> {
    page.messages
        .iter()
        .map(|entry| (entry.message.id.clone(), entry.siblings.clone()))
        .collect()
}

/// How long each kind of read took, printed for the record (the benchmark measures them).
#[derive(Default)]
struct Timings(Vec<(&'static str, Duration)>);

impl Timings {
    async fn time<T>(
        &mut self,
        what: &'static str,
        work: impl std::future::Future<Output = T>,
    ) -> T {
        let started = Instant::now();
        let value = work.await;
        self.0.push((what, started.elapsed()));
        value
    }
}

/// A long branched conversation as imported, with the model to check it against.
pub struct Long {
    model: Model,
    user: User,
    session_id: String,
    total: usize,
}

/// Imports a session of `total` messages with a branch every few turns, in parts of at most
/// 2,000 messages, as the import service writes them (so that messages hang under ones stored
/// by an earlier part, and their jumps reach far above it).
pub async fn import_long(store: DynStore, total: usize) -> Long {
    let services = services(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let start = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let session_id = confab_core::ids::derived_id(start, 0, &ada.id, "long:session");
    let model = Model::generate(&ada.id, &session_id, total, start);
    let leaf = model.main.last().unwrap().clone();
    for chunk in model.messages.chunks(2_000) {
        store
            .import_sessions(
                &ada.id,
                vec![ImportSession {
                    forked_from: None,
                    tags: Vec::new(),
                    session: NewSession {
                        folder_id: None,
                        id: session_id.clone(),
                        user_id: ada.id.clone(),
                        title: "Long".into(),
                        source_id: Some("long:session".into()),
                        created_at: start,
                    },
                    pinned: false,
                    archived: false,
                    is_active: true,
                    updated_at: None,
                    active_leaf_id: Some(leaf.clone()),
                    messages: chunk.to_vec(),
                }],
            )
            .await
            .unwrap();
    }
    Long {
        model,
        user: ada,
        session_id,
        total,
    }
}

/// A session of `total` messages with a branch every few turns: every kind of page, a switch
/// and the context, against the model.
pub async fn long_branched_conversation(store: DynStore, total: usize) {
    let long = import_long(store.clone(), total).await;
    check_long(store, &long).await;
}

/// Every kind of page of the long conversation, a switch and the context, against the model.
/// Switches the active branch (and puts it back at the end).
pub async fn check_long(store: DynStore, long: &Long) {
    let services = services(store.clone());
    let Long {
        model,
        user: ada,
        session_id,
        total,
    } = long;
    let (total, session_id) = (*total, session_id.clone());
    let leaf = model.main.last().unwrap().clone();
    let main = &model.main;
    let length = main.len();
    let mut timings = Timings::default();

    let newest = timings
        .time(
            "newest page",
            services.branch_page(ada, &session_id, input(50)),
        )
        .await
        .unwrap();
    assert_eq!(got(&newest), model.expect(&main[length - 50..]));
    assert_eq!(newest.earlier.as_ref(), Some(&main[length - 50]));
    assert_eq!(newest.later, None);
    let leaf_message = &newest.messages[49].message;
    assert_eq!(leaf_message.content, model.message(&leaf).content);
    assert_eq!(leaf_message.created_at, model.message(&leaf).created_at);

    // Three pages up from the end, and one deep inside, each exactly.
    let mut before = newest.earlier.clone();
    for page_number in 1..=3 {
        let page = timings
            .time(
                "earlier page",
                services.branch_page(
                    ada,
                    &session_id,
                    BranchInput {
                        before: before.clone(),
                        ..input(50)
                    },
                ),
            )
            .await
            .unwrap();
        let end = length - 50 * page_number;
        assert_eq!(got(&page), model.expect(&main[end - 50..end]));
        assert_eq!(page.earlier.as_ref(), Some(&main[end - 50]));
        assert_eq!(page.later.as_ref(), Some(&main[end - 1]));
        before = page.earlier;
    }
    let deep = length / 2;
    let page = timings
        .time(
            "earlier page",
            services.branch_page(
                ada,
                &session_id,
                BranchInput {
                    before: Some(main[deep].clone()),
                    ..input(50)
                },
            ),
        )
        .await
        .unwrap();
    assert_eq!(got(&page), model.expect(&main[deep - 50..deep]));
    let first = services
        .branch_page(
            ada,
            &session_id,
            BranchInput {
                before: Some(main[30].clone()),
                ..input(50)
            },
        )
        .await
        .unwrap();
    assert_eq!(got(&first), model.expect(&main[..30]));
    assert_eq!(first.earlier, None);

    // Below a message, and around messages near the top, the middle and the end.
    let later = services
        .branch_page(
            ada,
            &session_id,
            BranchInput {
                after: Some(main[deep].clone()),
                ..input(50)
            },
        )
        .await
        .unwrap();
    assert_eq!(got(&later), model.expect(&main[deep + 1..deep + 51]));
    assert_eq!(later.later.as_ref(), Some(&main[deep + 50]));
    for (at, from) in [(3, 0), (deep, deep - 24), (length - 2, length - 50)] {
        let around = timings
            .time(
                "around a message",
                services.branch_page(
                    ada,
                    &session_id,
                    BranchInput {
                        around: Some(main[at].clone()),
                        ..input(50)
                    },
                ),
            )
            .await
            .unwrap();
        assert_eq!(
            got(&around),
            model.expect(&main[from..from + 50]),
            "around {at}"
        );
        assert_eq!(around.earlier, (from > 0).then(|| main[from].clone()));
        assert_eq!(
            around.later,
            (from + 50 < length).then(|| main[from + 49].clone())
        );
    }

    // One type only: the matches among the last FILTER_SCAN messages of the branch.
    let notes = services
        .branch_page(
            ada,
            &session_id,
            BranchInput {
                message_type: Some("note".into()),
                ..input(200)
            },
        )
        .await
        .unwrap();
    let scanned = &main[length - FILTER_SCAN..];
    let matching: Vec<String> = scanned
        .iter()
        .filter(|id| model.message(id).message_type == "note")
        .cloned()
        .collect();
    assert!(!matching.is_empty() && matching.len() <= 200);
    assert_eq!(got(&notes), model.expect(&matching));
    assert_eq!(notes.earlier.as_ref(), Some(&scanned[0]));
    let few_notes = services
        .branch_page(
            ada,
            &session_id,
            BranchInput {
                message_type: Some("note".into()),
                ..input(3)
            },
        )
        .await
        .unwrap();
    assert_eq!(
        got(&few_notes),
        model.expect(&matching[matching.len() - 3..])
    );
    assert_eq!(
        few_notes.earlier.as_ref(),
        Some(&matching[matching.len() - 3])
    );

    // Switching at a fork deep inside: to the other child, then down its newest children.
    let fork_parent = &main[deep - deep % 5 + 3];
    let other = model.children[&Some(fork_parent.clone())]
        .iter()
        .map(|&index| model.messages[index].id.clone())
        .find(|id| !main.contains(id))
        .unwrap();
    let switched = timings
        .time(
            "switch branch",
            services.switch_branch(
                ada,
                &session_id,
                SwitchBranchInput {
                    message_id: other.clone(),
                    limit: Some(50),
                },
            ),
        )
        .await
        .unwrap();
    let new_leaf = model.newest_descendant(&other);
    assert_eq!(switched.session.active_leaf_id.as_ref(), Some(&new_leaf));
    let path = model.path_to(&new_leaf);
    let at = path.iter().position(|id| *id == other).unwrap();
    let from = at.saturating_sub(25).min(path.len().saturating_sub(50));
    let to = (from + 50).min(path.len());
    assert_eq!(got(&switched), model.expect(&path[from..to]));
    // And back to the main line's end: a switch at the top goes down the newest children,
    // which leave the main line wherever a branch was written after it.
    let back = services
        .switch_branch(
            ada,
            &session_id,
            SwitchBranchInput {
                message_id: main[length - 3].clone(),
                limit: Some(50),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        back.session.active_leaf_id,
        Some(model.newest_descendant(&main[length - 3]))
    );
    let top_switch = timings
        .time(
            "switch branch at the top",
            services.switch_branch(
                ada,
                &session_id,
                SwitchBranchInput {
                    message_id: main[0].clone(),
                    limit: Some(50),
                },
            ),
        )
        .await
        .unwrap();
    let top_leaf = model.newest_descendant(&main[0]);
    assert_eq!(top_switch.session.active_leaf_id.as_ref(), Some(&top_leaf));
    let top_path = model.path_to(&top_leaf);
    assert_eq!(
        got(&top_switch),
        model.expect(&top_path[..top_path.len().min(50)])
    );

    // The context of a reply at the end of the main line: as far up as the budget reaches.
    let question = newest.messages[49].message.clone();
    let context = timings
        .time("context", services.context(ada, &question))
        .await
        .unwrap();
    let stored: HashMap<String, Message> = store
        .all_messages(&ada.id, &session_id)
        .await
        .unwrap()
        .into_iter()
        .map(|message| (message.id.clone(), message))
        .collect();
    assert_eq!(stored.len(), total);
    let mut expected = ContextBudget::new(None, ServiceConfig::default().context_tokens);
    for id in main.iter().rev() {
        if !expected.offer(&stored[id]) {
            break;
        }
    }
    let expected = expected.turns();
    assert!(expected.len() > 100 && expected.len() < length);
    assert_eq!(context, expected);

    for (what, took) in timings.0 {
        eprintln!("{total} messages: {what}: {took:?}");
    }
    store
        .update_session(
            &ada.id,
            &session_id,
            confab_core::store::SessionPatch {
                active_leaf_id: Some(leaf),
                ..Default::default()
            },
            Utc::now(),
        )
        .await
        .unwrap();
}

/// Forks anywhere, written every way a store is written: appends under any message (a reply
/// regenerated, a question edited far up, times out of order as an import may carry), and
/// imports that add branches under stored messages, with rows stored before among them (a
/// restore). After each write, the end of the branch through every message is the one a walk
/// down the newest children finds.
pub async fn branch_ends_after_forks_anywhere(store: DynStore) {
    let services = services(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let start = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let session_id = confab_core::ids::derived_id(start, 0, &ada.id, "forks:session");
    // xorshift: a failure replays.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut below = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut written: Vec<NewMessage> = Vec::new();
    let new_message = |n: usize, parent: Option<String>, seconds: i64| {
        let created_at = start + chrono::Duration::seconds(seconds);
        plain_message(&ada.id, &session_id, n, "f", parent, created_at)
    };
    let import = |messages: Vec<NewMessage>| ImportSession {
        forked_from: None,
        tags: Vec::new(),
        session: NewSession {
            folder_id: None,
            id: session_id.clone(),
            user_id: ada.id.clone(),
            title: "Forks".into(),
            source_id: Some("forks:session".into()),
            created_at: start,
        },
        pinned: false,
        archived: false,
        is_active: true,
        updated_at: None,
        active_leaf_id: None,
        messages,
    };
    // A chain of 40 to begin with, imported.
    let mut clock = 0i64;
    let mut first: Vec<NewMessage> = Vec::new();
    for n in 0..40usize {
        clock += 10;
        let parent = n.checked_sub(1).map(|p| first[p].id.clone());
        first.push(new_message(n, parent, clock));
    }
    store
        .import_sessions(&ada.id, vec![import(first.clone())])
        .await
        .unwrap();
    written.extend(first);
    check_branch_ends(&store, &ada, &session_id, &written, 1).await;

    for round in 0..6 {
        // Appends: mostly under the latest message, else anywhere; one in five with a time
        // before the latest.
        for _ in 0..25 {
            let n = written.len();
            let parent = match below(10) {
                0..=4 => written.last().map(|m| m.id.clone()),
                _ => Some(written[below(written.len())].id.clone()),
            };
            clock += 10;
            let seconds = if below(5) == 0 { clock - 35 } else { clock };
            let message = new_message(n, parent, seconds);
            store.append_message(message.clone(), None).await.unwrap();
            written.push(message);
        }
        // Every fifth message after each write, every message at the end: FerretDB walks.
        check_branch_ends(&store, &ada, &session_id, &written, 5).await;
        // An import: new messages under stored ones and under each other, with some rows
        // stored before among them (skipped) in every other round.
        let mut batch: Vec<NewMessage> = Vec::new();
        for _ in 0..20 {
            let n = written.len() + batch.len();
            let parent = if !batch.is_empty() && below(2) == 0 {
                batch[below(batch.len())].id.clone()
            } else {
                written[below(written.len())].id.clone()
            };
            clock += 10;
            batch.push(new_message(n, Some(parent), clock));
        }
        let mut sent = batch.clone();
        if round % 2 == 1 {
            for _ in 0..5 {
                sent.push(written[below(written.len())].clone());
            }
        }
        store
            .import_sessions(&ada.id, vec![import(sent)])
            .await
            .unwrap();
        written.extend(batch);
        check_branch_ends(&store, &ada, &session_id, &written, 5).await;
    }
    check_branch_ends(&store, &ada, &session_id, &written, 1).await;
}

/// `Store::newest_descendant` from every `stride`th message of `written` (from a place that
/// moves with its length), against a walk down the newest children (greatest
/// `(created_at, id)`).
async fn check_branch_ends(
    store: &DynStore,
    user: &User,
    session_id: &str,
    written: &[NewMessage],
    stride: usize,
) {
    let mut children: HashMap<&str, Vec<&NewMessage>> = HashMap::new();
    for message in written {
        if let Some(parent) = &message.parent_id {
            children.entry(parent.as_str()).or_default().push(message);
        }
    }
    for message in written.iter().skip(written.len() % stride).step_by(stride) {
        let mut end = message.id.as_str();
        while let Some(newest) = children
            .get(end)
            .and_then(|list| list.iter().max_by_key(|m| (m.created_at, m.id.as_str())))
        {
            end = newest.id.as_str();
        }
        let got = store
            .newest_descendant(&user.id, session_id, &message.id)
            .await
            .unwrap();
        assert_eq!(
            got.as_deref(),
            Some(end),
            "the end of the branch through {} ({} messages written)",
            message.content,
            written.len()
        );
    }
}

/// Appends that follow the active leaf, sent at once by several writers through several
/// nodes (two app servers on one database, or the UI and `/v1`), make one linear branch as
/// if they had come one after another: every message hangs under the one before it, the
/// branch page from the leaf holds them all, the counters are exact, and a reply whose
/// question is no longer the leaf stays under its question, off the active branch.
pub async fn concurrent_appends_make_one_branch(nodes: Vec<DynStore>) {
    const WRITERS_PER_NODE: usize = 8;
    const APPENDS_PER_WRITER: usize = 4;
    let nodes: Vec<Services> = nodes.into_iter().map(services).collect();
    let ada = user(&nodes[0], "ada@example.com").await;
    let first = nodes[0]
        .append_message(
            &ada,
            NewMessageInput {
                role: "user".into(),
                content: "the first message".into(),
                ..Default::default()
            },
        )
        .await
        .expect("first append");
    let s = first.session.id.clone();
    let writers = nodes.iter().enumerate().flat_map(|(node, services)| {
        let ada = &ada;
        let s = &s;
        (0..WRITERS_PER_NODE).map(move |writer| async move {
            for n in 0..APPENDS_PER_WRITER {
                let content = format!("node {node} writer {writer} message {n}");
                services
                    .append_message(
                        ada,
                        NewMessageInput {
                            session_id: Some(s.clone()),
                            role: "user".into(),
                            content,
                            ..Default::default()
                        },
                    )
                    .await
                    .expect("a concurrent append");
            }
        })
    });
    futures::future::join_all(writers).await;
    let total = 1 + nodes.len() * WRITERS_PER_NODE * APPENDS_PER_WRITER;

    let all = nodes[0]
        .store()
        .all_messages(&ada.id, &s)
        .await
        .expect("all messages");
    assert_eq!(all.len(), total);
    let mut children: HashMap<Option<&str>, Vec<&str>> = HashMap::new();
    for message in &all {
        children
            .entry(message.parent_id.as_deref())
            .or_default()
            .push(message.id.as_str());
    }
    let forks: Vec<_> = children
        .iter()
        .filter(|(_, below)| below.len() > 1)
        .collect();
    assert!(forks.is_empty(), "the branch forked: {forks:?}");
    // The chain from the root, as the parents say.
    let mut chain = vec![first.message.id.as_str()];
    while let Some(below) = children.get(&Some(chain[chain.len() - 1])) {
        chain.push(below[0]);
    }
    assert_eq!(chain.len(), total, "every message is on the one branch");

    let page = nodes[1 % nodes.len()]
        .branch_page(&ada, &s, input(200))
        .await
        .expect("the branch page");
    assert_eq!(ids(&page), chain, "the page is the chain, in order");
    assert!(page.messages.iter().all(|entry| entry.siblings == alone()));
    assert_eq!(page.earlier, None);
    assert_eq!(
        page.session.active_leaf_id.as_deref(),
        chain.last().copied()
    );
    assert_eq!(page.session.message_count, total as i64);
    // An earlier page, read through the tree links the appends wrote.
    let earlier = nodes[0]
        .branch_page(
            &ada,
            &s,
            BranchInput {
                before: Some(chain[40].to_owned()),
                ..input(10)
            },
        )
        .await
        .expect("an earlier page");
    assert_eq!(ids(&earlier), chain[30..40]);

    // A reply placeholder to a question that is no longer the leaf keeps its parent.
    let question = chain[chain.len() - 2].to_owned();
    let leaf = chain[chain.len() - 1].to_owned();
    let reply = NewMessage {
        starred_at: None,
        id: "late-reply".into(),
        role: Role::Assistant,
        content: "a late answer".into(),
        active_leaf: LeafRule::IfLeafIs(question.clone()),
        source_id: None,
        ..plain_message(&ada.id, &s, 0, "late", Some(question.clone()), Utc::now())
    };
    let late = nodes[0]
        .store()
        .append_message(reply, None)
        .await
        .expect("the late reply");
    assert_eq!(late.message.parent_id.as_deref(), Some(question.as_str()));
    assert_eq!(late.session.active_leaf_id.as_deref(), Some(leaf.as_str()));
    assert_eq!(late.session.message_count, total as i64 + 1);
}
