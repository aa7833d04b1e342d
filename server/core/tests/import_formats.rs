//! Importing other apps' exports into a real SQLite store, checked the way a user would see
//! the result: titles, branches, roles, models, times, the active branch, and what was skipped.

use std::collections::HashMap;
use std::io::{Cursor, Write};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use confab_core::api::{ImportReport, SearchInput, SessionListInput};
use confab_core::model::{Message, MessageStatus, Role, Session, User};
use confab_core::service::import::{ImportOptions, ImportProgress};
use confab_core::service::{ServiceConfig, ServiceError, Services};
use confab_core::store::sqlite::{SqliteOptions, SqliteStore};
use confab_core::store::DynStore;
use serde_json::{json, Value};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/import/"
);

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}{name}")).unwrap_or_else(|error| panic!("{name}: {error}"))
}

struct Account {
    _dir: tempfile::TempDir,
    services: Services,
    user: User,
}

async fn account() -> Account {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: DynStore = Arc::new(
        SqliteStore::open(SqliteOptions::new(dir.path().join("confab.db"))).expect("open store"),
    );
    let services = Services::new(store, ServiceConfig::default());
    let user = services
        .signup("importer@example.com", "a good password", None)
        .await
        .expect("signup");
    Account {
        _dir: dir,
        services,
        user,
    }
}

impl Account {
    async fn import(&self, bytes: &[u8]) -> ImportReport {
        self.services
            .import_bytes(&self.user, bytes)
            .await
            .expect("import")
    }

    async fn import_fixture(&self, name: &str) -> ImportReport {
        self.import(&fixture(name)).await
    }

    async fn sessions(&self) -> Vec<Session> {
        let page = self
            .services
            .list_sessions(
                &self.user,
                SessionListInput {
                    limit: Some(200),
                    ..Default::default()
                },
            )
            .await
            .expect("list sessions");
        assert!(page.next_cursor.is_none(), "tests keep to one page");
        page.items
    }

    async fn session(&self, title: &str) -> Session {
        let sessions = self.sessions().await;
        let titles: Vec<&str> = sessions.iter().map(|s| s.title.as_str()).collect();
        sessions
            .iter()
            .find(|s| s.title == title)
            .cloned()
            .unwrap_or_else(|| panic!("no session {title:?} in {titles:?}"))
    }

    async fn messages(&self, session: &Session) -> Vec<Message> {
        self.services
            .store()
            .all_messages(&self.user.id, &session.id)
            .await
            .expect("messages")
    }

    async fn search(&self, q: &str) -> usize {
        self.services
            .search(
                &self.user,
                SearchInput {
                    q: q.into(),
                    limit: Some(50),
                    ..Default::default()
                },
            )
            .await
            .expect("search")
            .items
            .len()
    }
}

/// The messages from the root to `leaf`, following parents.
fn branch<'a>(messages: &'a [Message], leaf: &str) -> Vec<&'a Message> {
    let by_id: HashMap<&str, &Message> = messages.iter().map(|m| (m.id.as_str(), m)).collect();
    let mut path = Vec::new();
    let mut next = by_id.get(leaf).copied();
    while let Some(message) = next {
        path.push(message);
        assert!(path.len() <= messages.len(), "a cycle in the parents");
        next = message
            .parent_id
            .as_deref()
            .and_then(|id| by_id.get(id).copied());
    }
    path.reverse();
    path
}

/// Messages nobody answers: the ends of the branches.
fn leaves(messages: &[Message]) -> Vec<&Message> {
    messages
        .iter()
        .filter(|m| !messages.iter().any(|c| c.parent_id.as_ref() == Some(&m.id)))
        .collect()
}

fn active_branch<'a>(session: &Session, messages: &'a [Message]) -> Vec<&'a Message> {
    branch(
        messages,
        session.active_leaf_id.as_deref().expect("an active leaf"),
    )
}

fn count_roles(messages: &[Message], role: Role) -> usize {
    messages.iter().filter(|m| m.role == role).count()
}

fn at(seconds: f64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros((seconds * 1e6).round() as i64).unwrap()
}

fn assert_no_problems(report: &ImportReport) {
    assert!(report.errors.is_empty(), "{:?}", report.errors);
}

/// Checks that importing again adds nothing and skips every message.
async fn assert_reimport_adds_nothing(account: &Account, bytes: &[u8], first: &ImportReport) {
    let again = account.import(bytes).await;
    assert_eq!(
        (again.sessions, again.messages, again.skipped),
        (0, 0, first.messages),
        "re-import adds nothing"
    );
}

#[tokio::test]
async fn chatgpt_export_with_tools_code_and_citations() {
    let account = account().await;
    let report = account.import_fixture("chatgpt-export.json").await;
    assert_no_problems(&report);
    assert_eq!((report.sessions, report.messages), (2, 19));

    let web = account.session("Conversation 1. Web Search").await;
    let messages = account.messages(&web).await;
    // 17 nodes less the empty root and the hidden system prompt.
    assert_eq!(messages.len(), 15);
    assert_eq!(web.message_count, 15);
    assert_eq!(count_roles(&messages, Role::User), 3);
    assert_eq!(count_roles(&messages, Role::Assistant), 7);
    assert_eq!(count_roles(&messages, Role::Tool), 5);
    assert_eq!(count_roles(&messages, Role::System), 0);
    assert_eq!(
        web.created_at,
        at(1704629915.775304).with_nanosecond_millis()
    );
    assert_eq!(
        messages[0].created_at,
        at(1704629915.776371).with_nanosecond_millis()
    );
    assert_eq!(
        messages[0].content,
        "What is the fuel consumption of vw  transporter with 8 people in l/km"
    );
    assert_eq!(
        messages[0].parent_id, None,
        "bridged over the hidden system node"
    );
    // One branch, ending where current_node says.
    assert_eq!(leaves(&messages).len(), 1);
    let path = active_branch(&web, &messages);
    assert_eq!(path.len(), 15);
    assert!(path
        .last()
        .unwrap()
        .content
        .starts_with("The fuel consumption figures for the 2014 Volkswagen Transporter TDI340"));
    // Browser calls are code blocks; results are readable text.
    assert_eq!(
        messages[1].content,
        "```\nsearch(\"Volkswagen Transporter fuel consumption with 8 people l/km\")\n```"
    );
    assert_eq!(messages[1].role, Role::Assistant);
    assert_eq!(messages[2].role, Role::Tool);
    assert!(messages[2]
        .content
        .starts_with("# 【0†Volkswagen Transporter MPG"));
    let quote = &messages[4];
    assert!(
        quote.content.starts_with(
            "[2021 Volkswagen Transporter T6.1 L2H1 2.0 TDI 110HP specs, dimensions](https://www.ultimatespecs.com/"
        ),
        "{}",
        quote.content
    );
    assert!(quote
        .content
        .contains("\n> URL: https://www.ultimatespecs.com/"));
    // Citations become links, as LibreChat shows them.
    let answer = &messages[6];
    assert!(answer.content.ends_with(
        "maintenance of the vehicle ([2021 Volkswagen Transporter T6.1 L2H1 2.0 TDI 110HP specs, dimensions](https://www.ultimatespecs.com/car-specs/Volkswagen/118424/2021-Volkswagen-Transporter-T61-L2H1-20-TDI-110HP.html)) ([Volkswagen Transporter Review - Drive](https://www.drive.com.au/reviews/volkswagen-transporter-review/))."
    ));
    assert!(!messages
        .iter()
        .any(|m| m.role == Role::Assistant && m.content.contains("†source】")));
    // Models on assistant and tool messages, none on the user's.
    for message in &messages {
        match message.role {
            Role::User => assert_eq!(message.model, None),
            _ => assert_eq!(message.model.as_deref(), Some("gpt-4"), "{message:?}"),
        }
        assert_eq!(message.status, MessageStatus::Complete);
    }
    let detail = account
        .services
        .get_session(&account.user, &web.id)
        .await
        .unwrap();
    assert_eq!(detail.models, vec!["gpt-4".to_owned()]);

    let code = account.session("Conversation 2").await;
    let messages = account.messages(&code).await;
    assert_eq!(messages.len(), 4);
    assert_eq!(
        messages.iter().map(|m| m.role).collect::<Vec<_>>(),
        [Role::User, Role::Assistant, Role::User, Role::Assistant]
    );
    assert!(messages[1]
        .content
        .contains("```python\ndef find_intersection(intervals):"));
    assert!(messages[3].content.contains("```csharp\nusing System;"));
    assert_eq!(
        messages[3].model.as_deref(),
        Some("text-davinci-002-render-sha")
    );
    assert_eq!(
        code.active_leaf_id.as_deref(),
        Some(messages[3].id.as_str())
    );

    // The full-text index is current when the import returns.
    assert!(account.search("Transporter").await > 0);
    assert!(account.search("intersection").await > 0);

    assert_reimport_adds_nothing(&account, &fixture("chatgpt-export.json"), &report).await;
}

/// Times are stored to the millisecond.
trait Millis {
    fn with_nanosecond_millis(self) -> Self;
}

impl Millis for DateTime<Utc> {
    fn with_nanosecond_millis(self) -> Self {
        DateTime::from_timestamp_millis(self.timestamp_millis()).unwrap()
    }
}

#[tokio::test]
async fn chatgpt_modern_export_skips_the_corrupted_entry_and_hidden_context() {
    let account = account().await;
    let report = account.import_fixture("chatgpt-modern-export.json").await;
    assert_eq!(
        (report.sessions, report.messages, report.skipped),
        (2, 6, 0)
    );
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert_eq!(report.errors[0].title, "Corrupted entry");
    assert!(
        report.errors[0].reason.contains("mapping"),
        "{}",
        report.errors[0].reason
    );

    let deploy = account.session("Deploying the staging cluster").await;
    let messages = account.messages(&deploy).await;
    assert_eq!(messages.len(), 4);
    assert!(
        !messages
            .iter()
            .any(|m| m.content.contains("The user is an SRE")),
        "the hidden user-profile node is not imported"
    );
    assert_eq!(messages[0].content, "How do I roll back the deploy?");
    assert_eq!(messages[0].parent_id, None);
    assert_eq!(messages[0].created_at, at(1756000001.0));
    assert_eq!(deploy.created_at, at(1756000000.123));
    // model_slug where given, else the conversation's default model.
    assert_eq!(messages[1].model.as_deref(), Some("gpt-5-thinking"));
    assert_eq!(messages[3].model.as_deref(), Some("o4-mini"));
    assert_eq!(messages[0].model, None);
    assert_eq!(
        deploy.active_leaf_id.as_deref(),
        Some(messages[3].id.as_str())
    );
    assert_eq!(active_branch(&deploy, &messages).len(), 4);

    let pasta = account.session("Weeknight pasta").await;
    let messages = account.messages(&pasta).await;
    assert_eq!(
        messages
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>(),
        ["Something with anchovies?", "Puttanesca."]
    );
    assert_eq!(messages[1].model.as_deref(), Some("gpt-5"));
    assert_eq!(account.sessions().await.len(), 2);

    let again = account.import_fixture("chatgpt-modern-export.json").await;
    assert_eq!((again.sessions, again.messages, again.skipped), (0, 0, 6));
    assert_eq!(again.errors.len(), 1, "the broken entry is reported again");
}

#[tokio::test]
async fn chatgpt_tree_keeps_every_branch_and_the_current_one() {
    let account = account().await;
    let report = account.import_fixture("chatgpt-tree.json").await;
    assert_no_problems(&report);
    assert_eq!((report.sessions, report.messages), (1, 11));

    let session = account.session("Assist user with summary").await;
    let messages = account.messages(&session).await;
    assert_eq!(messages.len(), 11);
    let by_content = |text: &str| {
        messages
            .iter()
            .filter(|m| m.content == text)
            .collect::<Vec<_>>()
    };
    // An edited prompt: two user children of the first answer.
    let hello = by_content("Hello! How can I assist you today?")[0];
    let edits: Vec<&str> = messages
        .iter()
        .filter(|m| m.parent_id.as_ref() == Some(&hello.id))
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(edits, ["so cool bro", "hi again"]);
    // A regenerated reply: two answers to the same prompt.
    let joke = by_content("tell me a joke")[0];
    let answers = messages
        .iter()
        .filter(|m| m.parent_id.as_ref() == Some(&joke.id))
        .count();
    assert_eq!(answers, 2);

    let ends = leaves(&messages);
    assert_eq!(ends.len(), 3);
    let lengths: Vec<usize> = ends
        .iter()
        .map(|leaf| branch(&messages, &leaf.id).len())
        .collect();
    assert_eq!(lengths, [6, 6, 6]);

    // current_node names the second answer to the joke.
    let active = active_branch(&session, &messages);
    assert_eq!(
        active
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()[..5],
        [
            "hi there",
            "Hello! How can I assist you today?",
            "hi again",
            "Hey! Welcome back. What's on your mind?",
            "tell me a joke"
        ]
    );
    assert_eq!(
        active[5].created_at,
        at(1714585060.598792).with_nanosecond_millis()
    );

    // The interrupted story is kept, marked partial.
    let story = messages
        .iter()
        .find(|m| m.content.starts_with("Sure! Here's a short story"))
        .unwrap();
    assert_eq!(story.status, MessageStatus::Partial);
    assert_eq!(branch(&messages, &story.id)[2].content, "so cool bro");
    assert!(messages
        .iter()
        .filter(|m| m.role == Role::Assistant)
        .all(|m| m.model.as_deref() == Some("text-davinci-002-render-sha")));
    // Ids sort like times, parents before children.
    for message in &messages {
        if let Some(parent) = &message.parent_id {
            assert!(parent < &message.id);
        }
    }
}

#[tokio::test]
async fn chatgpt_excerpt_with_dangling_references() {
    let account = account().await;
    let report = account.import_fixture("chatgpt-citations.json").await;
    assert_no_problems(&report);
    let session = account.session("Citation Convo").await;
    let messages = account.messages(&session).await;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].role, Role::Tool);
    assert_eq!(
        messages[0].parent_id, None,
        "the missing parent makes a root"
    );
    let answer = &messages[1];
    assert_eq!(answer.parent_id.as_ref(), Some(&messages[0].id));
    assert!(answer.content.contains(
        "hybrid environments ([Signal Sciences - Crunchbase Company Profile & Funding](https://www.crunchbase.com/organization/signal-sciences)) ([Demand More from Your WAF - Signal Sciences now part of Fastly](https://www.signalsciences.com/))."
    ));
    assert!(!answer.content.contains("†source】"));
    // current_node is not in the excerpt: the newest leaf is active.
    assert_eq!(session.active_leaf_id.as_deref(), Some(answer.id.as_str()));
    assert_reimport_adds_nothing(&account, &fixture("chatgpt-citations.json"), &report).await;
}

#[tokio::test]
async fn openwebui_chats_with_reasoning_and_tools() {
    let account = account().await;
    let report = account.import_fixture("openwebui-export.json").await;
    assert_no_problems(&report);
    assert_eq!((report.sessions, report.messages), (3, 6));

    let reasoning = account.session("Chat with reasoning").await;
    let messages = account.messages(&reasoning).await;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].content, "What is 15 * 17?");
    assert_eq!(messages[0].created_at, at(1700000000.0));
    assert_eq!(reasoning.created_at, at(1700000000.0));
    assert_eq!(
        messages[1].content,
        "**Thought for 3 seconds**\n\n> Let me break this down...\n\n255"
    );
    assert_eq!(messages[1].model.as_deref(), Some("deepseek-r1"));
    assert_eq!(messages[1].parent_id.as_ref(), Some(&messages[0].id));
    assert_eq!(
        reasoning.active_leaf_id.as_deref(),
        Some(messages[1].id.as_str())
    );

    let tool = account.session("Chat with tool call").await;
    let messages = account.messages(&tool).await;
    assert_eq!(
        messages[1].content,
        "**Tool Executed**\n\n> \"Paris: 18C, rain\"\n\nThe weather in Paris is 18C with rain."
    );
    assert!(!messages[1].content.contains("<details"));
    assert_eq!(messages[1].model.as_deref(), Some("gpt-4o"));

    let simple = account.session("Simple linear chat").await;
    let messages = account.messages(&simple).await;
    assert_eq!(
        messages
            .iter()
            .map(|m| (m.role, m.content.as_str(), m.created_at))
            .collect::<Vec<_>>(),
        [
            (Role::User, "Hello", at(1700002000.0)),
            (Role::Assistant, "Hi there!", at(1700002005.0))
        ]
    );
    assert_eq!(messages[1].model.as_deref(), Some("llama3.1:latest"));
    assert_reimport_adds_nothing(&account, &fixture("openwebui-export.json"), &report).await;
}

#[tokio::test]
async fn librechat_export_matches_the_chatgpt_original() {
    let account = account().await;
    let report = account.import_fixture("librechat-export.json").await;
    assert_no_problems(&report);
    assert_eq!((report.sessions, report.messages), (1, 6));
    let session = account.session("Conversation 1. Web Search").await;
    let messages = account.messages(&session).await;
    assert_eq!(messages.len(), 6);
    assert_eq!(active_branch(&session, &messages).len(), 6);
    assert_eq!(
        messages.iter().map(|m| m.role).collect::<Vec<_>>(),
        [
            Role::User,
            Role::Assistant,
            Role::User,
            Role::Assistant,
            Role::User,
            Role::Assistant
        ]
    );
    assert_eq!(
        messages[0].created_at,
        "2024-04-09T14:32:05.230Z".parse::<DateTime<Utc>>().unwrap()
    );
    // No model on the messages: the conversation's model.
    assert_eq!(messages[1].model.as_deref(), Some("gpt-3.5-turbo"));
    assert_eq!(messages[0].model, None);

    // The same conversation exported by ChatGPT reads the same, citations included.
    let original = super_account_with("chatgpt-export.json").await;
    let chatgpt = original.session("Conversation 1. Web Search").await;
    let chatgpt_answers: Vec<String> = original
        .messages(&chatgpt)
        .await
        .into_iter()
        .filter(|m| m.role == Role::Assistant && !m.content.starts_with("```"))
        .map(|m| m.content)
        .collect();
    let librechat_answers: Vec<String> = messages
        .into_iter()
        .filter(|m| m.role == Role::Assistant)
        .map(|m| m.content)
        .collect();
    assert_eq!(chatgpt_answers, librechat_answers);
    assert_reimport_adds_nothing(&account, &fixture("librechat-export.json"), &report).await;
}

async fn super_account_with(name: &str) -> Account {
    let account = account().await;
    account.import_fixture(name).await;
    account
}

#[tokio::test]
async fn librechat_tree_keeps_its_branches() {
    let account = account().await;
    let report = account.import_fixture("librechat-tree.json").await;
    assert_no_problems(&report);
    assert_eq!((report.sessions, report.messages), (1, 9));
    let session = account
        .session("Troubleshooting Python Virtual Environment Activation Issue")
        .await;
    let messages = account.messages(&session).await;
    assert_eq!(messages.len(), 9);
    let first_answer = messages
        .iter()
        .find(|m| {
            m.content
                .starts_with("It looks like you're trying to activate")
        })
        .unwrap();
    let follow_ups: Vec<&str> = messages
        .iter()
        .filter(|m| m.parent_id.as_ref() == Some(&first_answer.id))
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(follow_ups, ["thanks", "lol"]);
    let thanks = messages.iter().find(|m| m.content == "thanks").unwrap();
    assert_eq!(
        messages
            .iter()
            .filter(|m| m.parent_id.as_ref() == Some(&thanks.id))
            .count(),
        2
    );
    let ends = leaves(&messages);
    assert_eq!(ends.len(), 3);
    let mut lengths: Vec<usize> = ends
        .iter()
        .map(|leaf| branch(&messages, &leaf.id).len())
        .collect();
    lengths.sort();
    assert_eq!(lengths, [4, 4, 6]);
    // Messages without a time take their parent's.
    assert_eq!(thanks.created_at, first_answer.created_at);
    assert!(messages
        .iter()
        .filter(|m| m.role == Role::Assistant)
        .all(|m| m.model.as_deref() == Some("gpt-4-turbo")));
    // LibreChat does not say which branch was open: the newest leaf.
    let active = active_branch(&session, &messages);
    assert_eq!(
        active.last().map(|m| m.id.as_str()),
        Some(messages.last().unwrap().id.as_str())
    );
    assert_eq!(active[2].content, "lol");
    assert_eq!(session.completion_tokens, 504);
    assert_reimport_adds_nothing(&account, &fixture("librechat-tree.json"), &report).await;
}

#[tokio::test]
async fn chatbotui_history() {
    let account = account().await;
    let report = account.import_fixture("chatbotui-export.json").await;
    assert_no_problems(&report);
    assert_eq!((report.sessions, report.messages), (2, 6));
    let hello = account.session("Hello what are you able to do?").await;
    let messages = account.messages(&hello).await;
    assert_eq!(messages.len(), 4);
    assert_eq!(active_branch(&hello, &messages).len(), 4);
    assert_eq!(messages[1].model.as_deref(), Some("gpt-4-1106-preview"));
    let cobol = account.session("Give me the code that inverts ...").await;
    let messages = account.messages(&cobol).await;
    assert_eq!(
        messages.iter().map(|m| m.role).collect::<Vec<_>>(),
        [Role::User, Role::Assistant]
    );
    assert_eq!(messages[1].model.as_deref(), Some("gpt-3.5-turbo"));
    // No times in the file: stable ids all the same.
    assert_reimport_adds_nothing(&account, &fixture("chatbotui-export.json"), &report).await;
}

#[tokio::test]
async fn every_fixture_imports_into_one_account() {
    let account = account().await;
    let mut total = ImportReport::default();
    let mut names: Vec<String> = std::fs::read_dir(FIXTURES)
        .expect("fixtures")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 8, "{names:?}");
    for name in &names {
        let report = account.import_fixture(name).await;
        total.sessions += report.sessions;
        total.messages += report.messages;
        total.skipped += report.skipped;
        total.errors.extend(report.errors);
    }
    assert_eq!(
        total.errors.len(),
        1,
        "only the corrupted entry: {:?}",
        total.errors
    );
    // chatgpt-citations.json is an excerpt of a conversation in chatgpt-export.json (same
    // conversation id): its messages join that session instead of making another.
    assert_eq!(total.sessions, 2 + 1 + 1 + 2 + 1 + 1 + 1 + 3);
    assert_eq!(total.messages, 6 + 2 + 19 + 6 + 11 + 6 + 9 + 6);
    assert_eq!(account.sessions().await.len(), 12);
}

fn chatgpt_conversation(id: &str, title: &str, start: f64, count: usize) -> Value {
    let mut mapping = serde_json::Map::new();
    let root = format!("{id}-root");
    mapping.insert(
        root.clone(),
        json!({"id": root, "message": null, "parent": null, "children": [format!("{id}-0")]}),
    );
    for i in 0..count {
        let key = format!("{id}-{i}");
        let parent = if i == 0 {
            root.clone()
        } else {
            format!("{id}-{}", i - 1)
        };
        let children: Vec<String> = if i + 1 < count {
            vec![format!("{id}-{}", i + 1)]
        } else {
            vec![]
        };
        let role = if i % 2 == 0 { "user" } else { "assistant" };
        mapping.insert(
            key.clone(),
            json!({
                "id": key,
                "message": {
                    "id": key,
                    "author": {"role": role},
                    "create_time": start + i as f64,
                    "content": {"content_type": "text", "parts": [format!("{title} message {i}")]},
                    "status": "finished_successfully",
                    "metadata": {}
                },
                "parent": parent,
                "children": children
            }),
        );
    }
    json!({
        "title": title,
        "create_time": start,
        "mapping": mapping,
        "current_node": format!("{id}-{}", count - 1),
        "conversation_id": id,
        "default_model_slug": "gpt-4o",
        "id": id
    })
}

fn to_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

#[tokio::test]
async fn one_corrupt_conversation_does_not_stop_the_others() {
    let account = account().await;
    let mut conversations: Vec<Value> = (0..5)
        .map(|i| {
            chatgpt_conversation(
                &format!("conv-{i}"),
                &format!("Chat {i}"),
                1.7e9 + i as f64 * 100.0,
                4,
            )
        })
        .collect();
    conversations[2]["mapping"] = json!("not a mapping");
    conversations[3] = json!({"title": "Chat 3", "id": "conv-3", "mapping": {"a": {"message": {"author": {"role": "system"}, "content": {"parts": ["hidden"]}}}}});
    let report = account.import(&to_bytes(&json!(conversations))).await;
    assert_eq!((report.sessions, report.messages), (3, 12));
    let titles: Vec<&str> = report.errors.iter().map(|e| e.title.as_str()).collect();
    assert_eq!(titles, ["Chat 2", "Chat 3"]);
    assert!(report.errors[0].reason.contains("mapping"));
    assert!(report.errors[1].reason.contains("no messages"));
    let mut sessions: Vec<String> = account
        .sessions()
        .await
        .into_iter()
        .map(|s| s.title)
        .collect();
    sessions.sort();
    assert_eq!(sessions, ["Chat 0", "Chat 1", "Chat 4"]);
}

#[tokio::test]
async fn a_zip_with_several_conversation_files() {
    let account = account().await;
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for file in 0..3 {
        let conversations: Vec<Value> = (0..4)
            .map(|i| {
                let n = file * 4 + i;
                chatgpt_conversation(
                    &format!("zip-{n}"),
                    &format!("Zipped {n}"),
                    1.7e9 + n as f64 * 1000.0,
                    6,
                )
            })
            .collect();
        zip.start_file(format!("conversations-{file:03}.json"), options)
            .unwrap();
        zip.write_all(&to_bytes(&json!(conversations))).unwrap();
    }
    zip.start_file("chat.html", options).unwrap();
    zip.write_all(b"<html>not imported</html>").unwrap();
    zip.start_file("user.json", options).unwrap();
    zip.write_all(b"{\"email\": \"a@b.c\"}").unwrap();
    let bytes = zip.finish().unwrap().into_inner();

    let seen = Arc::new(Mutex::new(Vec::<ImportProgress>::new()));
    let record = seen.clone();
    let report = account
        .services
        .import_reader(&account.user, Cursor::new(bytes.clone()), move |progress| {
            record.lock().unwrap().push(progress)
        })
        .await
        .unwrap();
    assert_no_problems(&report);
    assert_eq!((report.sessions, report.messages), (12, 72));
    assert_eq!(account.sessions().await.len(), 12);
    let session = account.session("Zipped 11").await;
    assert_eq!(account.messages(&session).await.len(), 6);
    let last = seen
        .lock()
        .unwrap()
        .last()
        .cloned()
        .expect("progress was reported");
    assert_eq!((last.conversations, last.messages), (12, 72));
    assert_eq!(last.bytes_read, bytes.len() as u64);

    assert_reimport_adds_nothing(&account, &bytes, &report).await;
}

#[tokio::test]
async fn a_zip_that_unpacks_past_the_limit_is_refused() {
    let account = account().await;
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("conversations.json", options).unwrap();
    // Compresses to almost nothing.
    zip.write_all(format!("[{}]", " ".repeat(2_000_000)).as_bytes())
        .unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    assert!(bytes.len() < 100_000);
    let error = account
        .services
        .import_reader_with(
            &account.user,
            Cursor::new(bytes),
            ImportOptions {
                max_bytes: 1_000_000,
            },
            |_| {},
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            ServiceError::Invalid {
                code: "too_large",
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_updated_file_adds_only_the_new_messages() {
    let account = account().await;
    let mut tree: Value = serde_json::from_slice(&fixture("chatgpt-tree.json")).unwrap();
    let original = tree.clone();
    // Before the user regenerated the joke: no second answer, and the first one current.
    let conversation = &mut tree[0];
    conversation["mapping"]
        .as_object_mut()
        .unwrap()
        .remove("f63b8e17-aa5c-4ca6-a1bf-d4d285e269b8");
    conversation["current_node"] = json!("d0d2a7df-d2fc-4df9-bf0a-1c5121e227ae");
    let first = account.import(&to_bytes(&tree)).await;
    assert_eq!((first.sessions, first.messages), (1, 10));
    let session = account.session("Assist user with summary").await;
    let before = account.messages(&session).await;
    let leaf = session.active_leaf_id.clone().unwrap();
    assert_eq!(
        before.iter().find(|m| m.id == leaf).unwrap().created_at,
        at(1714585056.580956).with_nanosecond_millis()
    );

    let update = account.import(&to_bytes(&original)).await;
    assert_eq!(
        (update.sessions, update.messages, update.skipped),
        (0, 1, 10)
    );
    let session = account.session("Assist user with summary").await;
    let after = account.messages(&session).await;
    assert_eq!(after.len(), 11);
    assert_eq!(session.message_count, 11);
    // The existing messages kept their ids, and the new one hangs from the same prompt.
    for message in &before {
        assert!(after.iter().any(|m| m.id == message.id));
    }
    let new = after
        .iter()
        .find(|m| !before.iter().any(|b| b.id == m.id))
        .unwrap();
    let joke = after
        .iter()
        .find(|m| m.content == "tell me a joke")
        .unwrap();
    assert_eq!(new.parent_id.as_ref(), Some(&joke.id));
    assert_eq!(
        session.active_leaf_id.as_deref(),
        Some(new.id.as_str()),
        "the current node moved"
    );
}

#[tokio::test]
async fn a_long_conversation_is_written_in_batches() {
    let account = account().await;
    let conversations = json!([
        chatgpt_conversation("long", "Long chat", 1.6e9, 4_500),
        chatgpt_conversation("short", "Short chat", 1.6e9 + 10_000.0, 3),
    ]);
    let calls = Arc::new(Mutex::new(0usize));
    let count = calls.clone();
    let report = account
        .services
        .import_reader(
            &account.user,
            Cursor::new(to_bytes(&conversations)),
            move |_| *count.lock().unwrap() += 1,
        )
        .await
        .unwrap();
    assert_no_problems(&report);
    assert_eq!((report.sessions, report.messages), (2, 4_503));
    assert!(*calls.lock().unwrap() >= 3, "one call per batch");
    let long = account.session("Long chat").await;
    assert_eq!(long.message_count, 4_500);
    let messages = account.messages(&long).await;
    assert_eq!(active_branch(&long, &messages).len(), 4_500);
    assert_eq!(messages[4_499].content, "Long chat message 4499");
    assert_eq!(messages[1].model.as_deref(), Some("gpt-4o"));
}

#[tokio::test]
async fn a_deeply_nested_librechat_conversation() {
    let account = account().await;
    // Each reply inside its parent's `children`: 3,000 levels for 1,500 messages, far past
    // serde_json's limit of 128. Written by hand, since serde_json cannot write it either.
    let turns = 1_500;
    let mut text =
        String::from(r#"{"conversationId":"deep","title":"Deep","recursive":true,"messages":["#);
    for i in 0..turns {
        let parent = if i == 0 {
            "00000000-0000-0000-0000-000000000000".to_owned()
        } else {
            format!("m{}", i - 1)
        };
        text.push_str(&format!(
            r#"{{"messageId":"m{i}","parentMessageId":"{parent}","isCreatedByUser":{},"text":"turn {i}","createdAt":"2024-05-01T{:02}:{:02}:{:02}.000Z","children":["#,
            i % 2 == 0,
            i / 3600,
            i / 60 % 60,
            i % 60
        ));
    }
    for _ in 0..turns {
        text.push_str("]}");
    }
    text.push_str("]}");
    let report = account.import(text.as_bytes()).await;
    assert_no_problems(&report);
    assert_eq!(report.messages, turns);
    let session = account.session("Deep").await;
    let messages = account.messages(&session).await;
    assert_eq!(active_branch(&session, &messages).len(), turns);
    assert_eq!(messages[turns - 1].content, "turn 1499");
}

#[tokio::test]
async fn a_cut_off_file_keeps_what_came_before() {
    let account = account().await;
    let conversations: Vec<Value> = (0..3)
        .map(|i| {
            chatgpt_conversation(
                &format!("cut-{i}"),
                &format!("Cut {i}"),
                1.7e9 + i as f64,
                2,
            )
        })
        .collect();
    let mut bytes = to_bytes(&json!(conversations));
    bytes.truncate(bytes.len() - 40);
    let report = account.import(&bytes).await;
    assert_eq!(report.sessions, 2);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].title, "Rest of the file");
    assert!(
        report.errors[0].reason.contains("not valid JSON"),
        "{}",
        report.errors[0].reason
    );
}

#[tokio::test]
async fn files_that_are_not_imports_are_refused() {
    let account = account().await;
    for (bytes, code) in [
        (&b"not json at all"[..], "unsupported_format"),
        (b"{\"hello\": \"world\"}", "unsupported_format"),
        (b"[{\"a\": 1}, {\"b\": 2}]", "unsupported_format"),
        (b"   ", "empty_file"),
        (b"[{\"title\": \"x\", \"mapping\": {}", "invalid_json"),
        (b"PK\x03\x04 not really a zip", "invalid_zip"),
    ] {
        let error = account
            .services
            .import_bytes(&account.user, bytes)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ServiceError::Invalid { code: found, .. } if *found == code),
            "{}: {error:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    let error = account
        .services
        .import_reader_with(
            &account.user,
            Cursor::new(to_bytes(&json!([chatgpt_conversation(
                "big", "Big", 1.7e9, 200
            )]))),
            ImportOptions { max_bytes: 4_096 },
            |_| {},
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            ServiceError::Invalid {
                code: "too_large",
                ..
            }
        ),
        "{error:?}"
    );
    let empty = account.import(b"[]").await;
    assert_eq!(empty, ImportReport::default());
    assert!(account.sessions().await.is_empty());
}

#[tokio::test]
async fn confab_exports_still_import() {
    let source = account().await;
    source.import_fixture("chatgpt-tree.json").await;
    let export = {
        use futures::StreamExt;
        let mut stream = Box::pin(source.services.export_account(source.user.clone()));
        let mut text = String::new();
        while let Some(chunk) = stream.next().await {
            text.push_str(&chunk.unwrap());
        }
        text
    };
    let target = account().await;
    let report = target.import(export.as_bytes()).await;
    assert_no_problems(&report);
    assert_eq!((report.sessions, report.messages), (1, 11));
    let session = target.session("Assist user with summary").await;
    let messages = target.messages(&session).await;
    assert_eq!(leaves(&messages).len(), 3);
    assert_eq!(active_branch(&session, &messages).len(), 6);
    assert_reimport_adds_nothing(&target, export.as_bytes(), &report).await;
}

#[tokio::test]
async fn the_store_skips_what_it_has_and_joins_sessions_by_source() {
    use confab_core::ids::derived_id;
    use confab_core::store::{ImportSession, NewMessage, NewSession};

    let account = account().await;
    let user_id = account.user.id.clone();
    let time = at(1_700_000_000.0);
    let message = |key: &str, session_id: &str, content: &str, tokens: i64| NewMessage {
        id: derived_id(time, 0, &user_id, key),
        user_id: user_id.clone(),
        session_id: session_id.to_owned(),
        parent_id: None,
        role: Role::Assistant,
        content: content.to_owned(),
        message_type: "chat".into(),
        model: Some("m".into()),
        prompt_tokens: Some(tokens),
        completion_tokens: Some(2 * tokens),
        latency_ms: None,
        status: MessageStatus::Complete,
        client_id: None,
        source_id: Some(key.to_owned()),
        created_at: time,
        usage_estimated: false,
        follow_active_leaf: false,
        status_reason: None,
        active_leaf: confab_core::store::LeafRule::Set,
    };
    let session = |id: &str, messages: Vec<NewMessage>| ImportSession {
        session: NewSession {
            id: id.to_owned(),
            user_id: user_id.clone(),
            title: "Joined".into(),
            source_id: Some("test:joined".into()),
            created_at: time,
        },
        pinned: true,
        archived: false,
        is_active: true,
        updated_at: None,
        active_leaf_id: messages.last().map(|m| m.id.clone()),
        messages,
    };
    let first_id = derived_id(time, 0, &user_id, "test:joined");
    let store = account.services.store();
    let counts = store
        .import_sessions(
            &user_id,
            vec![session(
                &first_id,
                vec![
                    message("test:a", &first_id, "with a \0 byte inside", 1),
                    message("test:b", &first_id, "searchable zebra", 10),
                ],
            )],
        )
        .await
        .unwrap();
    assert_eq!(
        (counts.sessions, counts.messages, counts.skipped_messages),
        (1, 2, 0)
    );

    // The same source under another session id (its time changed): the new message joins
    // the session there is, the old ones are skipped.
    let other_id = derived_id(at(1_700_000_500.0), 0, &user_id, "test:joined");
    let counts = store
        .import_sessions(
            &user_id,
            vec![session(
                &other_id,
                vec![
                    message("test:a", &other_id, "with a \0 byte inside", 1),
                    message("test:c", &other_id, "another zebra", 100),
                ],
            )],
        )
        .await
        .unwrap();
    assert_eq!(
        (counts.sessions, counts.messages, counts.skipped_messages),
        (0, 1, 1)
    );

    let sessions = account.sessions().await;
    assert_eq!(sessions.len(), 1);
    let joined = &sessions[0];
    assert_eq!(joined.id, first_id);
    assert!(joined.pinned);
    assert_eq!(joined.message_count, 3);
    assert_eq!((joined.prompt_tokens, joined.completion_tokens), (111, 222));
    assert_eq!(joined.last_message_at, Some(time));
    let messages = account.messages(joined).await;
    assert_eq!(messages.len(), 3);
    assert!(messages
        .iter()
        .any(|m| m.content == "with a \0 byte inside"));
    assert_eq!(
        joined.active_leaf_id.as_deref(),
        Some(derived_id(time, 0, &user_id, "test:c").as_str())
    );
    assert_eq!(account.search("zebra").await, 2);
}
