//! Importing other apps' exports into a real SQLite store, checked the way a user would see
//! the result: titles, branches, roles, models, times, the active branch, and what was skipped.
//! Every file read here is in the repository (`tests/fixtures/import/`) or made by the test;
//! the external corpus of real exports has its own suite, `import_corpus`.

use std::io::{Cursor, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::import_support::*;
use arbitrary::{Arbitrary, Unstructured};
use confab_core::api::ImportProblem;
use confab_core::model::{Message, MessageStatus, Role, Session};
use confab_core::service::import::{ImportOptions, ImportProgress};
use confab_core::service::ServiceError;
use serde_json::{json, Value};

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
    let conversations: Vec<Value> = (0..12)
        .map(|n| {
            chatgpt_conversation(
                &format!("zip-{n}"),
                &format!("Zipped {n}"),
                1.7e9 + n as f64 * 1000.0,
                6,
            )
        })
        .collect();
    let bytes = sharded_chatgpt_zip(&conversations, 3);

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
    assert!(matches!(&error, ServiceError::TooLarge(_)), "{error:?}");
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
    assert!(matches!(&error, ServiceError::TooLarge(_)), "{error:?}");
    assert!(account.sessions().await.is_empty());
}

#[tokio::test]
async fn the_store_skips_what_it_has_and_joins_sessions_by_source() {
    use confab_core::ids::derived_id;
    use confab_core::store::{ImportSession, NewMessage, NewSession};

    let account = account().await;
    let user_id = account.user.id.clone();
    let time = at(1_700_000_000.0);
    let message = |key: &str, session_id: &str, content: &str, tokens: i64| NewMessage {
        starred_at: None,
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
        forked_from: None,
        tags: Vec::new(),
        session: NewSession {
            folder_id: None,
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

/// Times are stored to the millisecond.
fn ms(seconds: f64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(at(seconds).timestamp_millis()).unwrap()
}

fn contents(messages: &[Message]) -> Vec<&str> {
    messages.iter().map(|m| m.content.as_str()).collect()
}

fn contents_of<'a>(messages: &[&'a Message]) -> Vec<&'a str> {
    messages.iter().map(|m| m.content.as_str()).collect()
}

/// The content of the message `parent_id` points at.
fn parent_content<'a>(messages: &'a [Message], message: &Message) -> Option<&'a str> {
    let parent = message.parent_id.as_deref()?;
    messages
        .iter()
        .find(|m| m.id == parent)
        .map(|m| m.content.as_str())
}

fn parents(messages: &[Message]) -> Vec<Option<&str>> {
    messages
        .iter()
        .map(|m| parent_content(messages, m))
        .collect()
}

fn invalid(error: &ServiceError) -> (&'static str, &str) {
    match error {
        ServiceError::Invalid { code, message } => (code, message.as_str()),
        other => panic!("not an invalid-input error: {other:?}"),
    }
}

async fn import_error(account: &Account, bytes: &[u8]) -> ServiceError {
    account
        .services
        .import_bytes(&account.user, bytes)
        .await
        .unwrap_err()
}

/// The account's whole export, as the download gives it.
async fn backup(account: &Account) -> String {
    use futures::StreamExt;
    let mut stream = Box::pin(account.services.export_account(account.user.clone()));
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        text.push_str(&chunk.unwrap());
    }
    text
}

#[tokio::test]
async fn chatgpt_user_messages_without_metadata_and_the_model_only_in_default_model_slug() {
    let account = account().await;
    let report = account.import_fixture("chatgpt-2025.json").await;
    assert_no_problems(&report);
    assert_eq!(
        (report.sessions, report.messages, report.skipped),
        (3, 14, 0)
    );
    let session = account.session("Sourdough starter").await;
    assert_eq!(session.created_at, ms(1748761199.9));
    // The source's times, not the import's: its last change, and its last message.
    assert_eq!(session.updated_at, ms(1748761309.9));
    assert_eq!(session.last_message_at, Some(ms(1748761309.75)));
    assert_eq!(session.message_count, 4);
    let messages = account.messages(&session).await;
    assert_eq!(
        contents(&messages),
        [
            "How do I keep a sourdough starter alive?",
            "Feed it equal weights of flour and water every day.",
            "And if I go on holiday?",
            "Keep it in the fridge; it will last two weeks.",
        ]
    );
    let roles: Vec<Role> = messages.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [Role::User, Role::Assistant, Role::User, Role::Assistant]
    );
    let models: Vec<Option<&str>> = messages.iter().map(|m| m.model.as_deref()).collect();
    assert_eq!(models, [None, Some("gpt-5"), None, Some("gpt-5")]);
    let times: Vec<_> = messages.iter().map(|m| m.created_at).collect();
    assert_eq!(
        times,
        [
            ms(1748761200.123),
            ms(1748761212.5),
            ms(1748761300.0),
            ms(1748761309.75)
        ]
    );
    assert!(messages.iter().all(|m| m.status == MessageStatus::Complete));
    // The hidden system message is dropped and the first prompt becomes the root.
    assert_eq!(
        parents(&messages),
        [
            None,
            Some("How do I keep a sourdough starter alive?"),
            Some("Feed it equal weights of flour and water every day."),
            Some("And if I go on holiday?"),
        ]
    );
    assert_eq!(
        session.active_leaf_id.as_deref(),
        Some(messages[3].id.as_str())
    );
    assert_reimport_adds_nothing(&account, &fixture("chatgpt-2025.json"), &report).await;
}

#[tokio::test]
async fn chatgpt_parents_rebuilt_from_parent_when_children_are_empty() {
    let account = account().await;
    account.import_fixture("chatgpt-2025.json").await;
    let session = account.session("Trip to Lisbon").await;
    assert_eq!(session.created_at, ms(1748849999.0));
    let messages = account.messages(&session).await;
    assert_eq!(
        contents(&messages),
        [
            "Three days in Lisbon: what should I see?",
            "Belém, Alfama and a day trip to Sintra.",
            "Alfama first, then Belém; keep a day for Sintra.",
            "Is Sintra worth a whole day?",
            "Yes: Pena Palace and the Moorish Castle take most of it.",
        ]
    );
    assert_eq!(
        parents(&messages),
        [
            None,
            Some("Three days in Lisbon: what should I see?"),
            Some("Three days in Lisbon: what should I see?"),
            Some("Alfama first, then Belém; keep a day for Sintra."),
            Some("Is Sintra worth a whole day?"),
        ]
    );
    assert_eq!(leaves(&messages).len(), 2);
    assert_eq!(
        contents_of(&active_branch(&session, &messages)),
        [
            "Three days in Lisbon: what should I see?",
            "Alfama first, then Belém; keep a day for Sintra.",
            "Is Sintra worth a whole day?",
            "Yes: Pena Palace and the Moorish Castle take most of it.",
        ]
    );
    let models: Vec<Option<&str>> = messages.iter().map(|m| m.model.as_deref()).collect();
    assert_eq!(
        models,
        [None, Some("gpt-4o"), Some("gpt-4o"), None, Some("gpt-4o")]
    );
}

#[tokio::test]
async fn a_chatgpt_conversation_without_id_gets_a_stable_one() {
    let account = account().await;
    let file: Value = serde_json::from_slice(&fixture("chatgpt-2025.json")).unwrap();
    let lisbon = file[1].clone();
    assert!(lisbon.get("id").is_none() && lisbon.get("conversation_id").is_none());
    let first = account.import(&to_bytes(&json!([lisbon.clone()]))).await;
    assert_no_problems(&first);
    assert_eq!((first.sessions, first.messages), (1, 5));

    // Exported again later: renamed, and the conversation went on. It joins the same session.
    let mut later = lisbon;
    later["title"] = json!("Lisbon, renamed");
    let mapping = later["mapping"].as_object_mut().unwrap();
    mapping.insert(
        "q3".into(),
        json!({"id": "q3", "parent": "r3", "children": [], "message": {
            "id": "q3", "author": {"role": "user"}, "create_time": 1748850300.0,
            "content": {"content_type": "text", "parts": ["And Cascais?"]}}}),
    );
    later["current_node"] = json!("q3");
    let update = account.import(&to_bytes(&json!([later]))).await;
    assert_no_problems(&update);
    assert_eq!(
        (update.sessions, update.messages, update.skipped),
        (0, 1, 5)
    );
    let sessions = account.sessions().await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].title, "Trip to Lisbon");
    assert_eq!(sessions[0].message_count, 6);
    let messages = account.messages(&sessions[0]).await;
    assert_eq!(messages[5].content, "And Cascais?");
    assert_eq!(
        parent_content(&messages, &messages[5]),
        Some("Yes: Pena Palace and the Moorish Castle take most of it.")
    );
}

#[tokio::test]
async fn messages_with_equal_or_missing_times_keep_their_tree_order() {
    let account = account().await;
    account.import_fixture("chatgpt-2025.json").await;
    let session = account.session("Tabs or spaces").await;
    let messages = account.messages(&session).await;
    // Parent before child, siblings in the source's order ("Why?" is listed first).
    assert_eq!(
        contents(&messages),
        [
            "Tabs or spaces?",
            "Spaces, mostly.",
            "Why?",
            "Every editor shows them the same way.",
            "Says who?",
        ]
    );
    assert_eq!(
        parents(&messages),
        [
            None,
            Some("Tabs or spaces?"),
            Some("Spaces, mostly."),
            Some("Why?"),
            Some("Spaces, mostly."),
        ]
    );
    assert!(messages.iter().all(|m| m.created_at == ms(1748900000.0)));
    assert_eq!(session.created_at, ms(1748900000.0));
    assert_eq!(
        session.active_leaf_id.as_deref(),
        Some(messages[3].id.as_str())
    );
}

#[tokio::test]
async fn a_conversation_without_times_keeps_its_order_past_4096_messages() {
    let account = account().await;
    let count = 5_000;
    let messages: Vec<Value> = (0..count)
        .map(|i| {
            json!({"role": if i % 2 == 0 { "user" } else { "assistant" },
                   "content": format!("message {i}")})
        })
        .collect();
    let export = json!({"version": 4, "folders": [], "history": [
        {"id": "long", "name": "Counting", "messages": messages,
         "model": {"id": "gpt-4"}}
    ]});
    let report = account.import(&to_bytes(&export)).await;
    assert_no_problems(&report);
    assert_eq!((report.sessions, report.messages), (1, count));
    let session = account.session("Counting").await;
    let stored = account.messages(&session).await;
    let expected: Vec<String> = (0..count).map(|i| format!("message {i}")).collect();
    assert_eq!(contents(&stored), expected);
    assert_eq!(active_branch(&session, &stored).len(), count);
}

/// A ChatGPT data export as it comes today: the conversations split over numbered files,
/// with the resource forks a Mac adds when it re-zips the folder.
fn sharded_chatgpt_zip(conversations: &[Value], shards: usize) -> Vec<u8> {
    confab_testdata::sharded_chatgpt_zip(conversations, shards).unwrap()
}

#[tokio::test]
async fn a_sharded_chatgpt_zip_with_macosx_entries() {
    let account = account().await;
    let file: Value = serde_json::from_slice(&fixture("chatgpt-2025.json")).unwrap();
    let bytes = sharded_chatgpt_zip(file.as_array().unwrap(), 2);
    let report = account.import(&bytes).await;
    assert_no_problems(&report);
    assert_eq!(
        (report.sessions, report.messages, report.skipped),
        (3, 14, 0)
    );
    let mut titles: Vec<String> = account
        .sessions()
        .await
        .into_iter()
        .map(|s| s.title)
        .collect();
    titles.sort();
    assert_eq!(
        titles,
        ["Sourdough starter", "Tabs or spaces", "Trip to Lisbon"]
    );
    assert_reimport_adds_nothing(&account, &bytes, &report).await;
}

#[tokio::test]
async fn openwebui_reasoning_in_chinese_and_japanese() {
    let account = account().await;
    let report = account.import_fixture("openwebui-reasoning-cjk.json").await;
    assert_no_problems(&report);
    assert_eq!((report.sessions, report.messages), (3, 6));
    let chinese = account.session("勾股定理").await;
    let messages = account.messages(&chinese).await;
    assert_eq!(
        contents(&messages),
        [
            "请解释勾股定理。",
            "**Thought for 4 seconds**\n\n> 用户想了解勾股定理，我应该先给出公式，再举一个例子。\n> 三边分别为三、四、五。\n\n直角三角形两条直角边的平方和等于斜边的平方：a² + b² = c²。",
        ]
    );
    assert_eq!(messages[1].model.as_deref(), Some("qwen2.5:7b"));
    assert_eq!(messages[1].created_at, ms(1735700004.0));
    let japanese = account.session("俳句について").await;
    let messages = account.messages(&japanese).await;
    assert_eq!(
        messages[1].content,
        "**Thought for 2 seconds**\n\n> 五・七・五の十七音で詠む短い詩だと説明します。\n\n俳句は五・七・五の十七音からなる日本の短い詩です。"
    );
    let greetings = account.session("Greetings").await;
    assert_eq!(
        contents(&account.messages(&greetings).await),
        ["Hello", "Hi there!"]
    );
    assert_reimport_adds_nothing(&account, &fixture("openwebui-reasoning-cjk.json"), &report).await;
}

/// The titles and tags of an account's conversations, by title.
async fn titles_and_tags(account: &Account) -> Vec<(String, Vec<String>)> {
    let mut found: Vec<(String, Vec<String>)> = account
        .sessions()
        .await
        .into_iter()
        .map(|session| (session.title, session.tags))
        .collect();
    found.sort();
    found
}

fn problem(title: &str, reason: &str) -> ImportProblem {
    ImportProblem {
        title: title.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Tags from Open WebUI (`meta.tags`, `chat.tags`) and LibreChat (`tags`), on the real export
/// files copied from LibreChat's importer tests (`openwebui-export.json`,
/// `librechat-export.json`, MIT). As they are, they carry no tag (Open WebUI's `meta` is
/// `{}`), so nothing is tagged; the same files with tags where each app writes them get them
/// through Confab's tag rule, and what the rule refuses (or a 33rd tag) is left out with a
/// note, the conversation imported without it.
#[tokio::test]
async fn tags_from_open_webui_and_librechat() {
    let plain = account().await;
    assert_no_problems(&plain.import_fixture("openwebui-export.json").await);
    assert_no_problems(&plain.import_fixture("librechat-export.json").await);
    assert_eq!(
        titles_and_tags(&plain).await,
        [
            ("Chat with reasoning".to_owned(), Vec::new()),
            ("Chat with tool call".to_owned(), Vec::new()),
            ("Conversation 1. Web Search".to_owned(), Vec::new()),
            ("Simple linear chat".to_owned(), Vec::new()),
        ]
    );
    assert_eq!(
        plain.services.list_tags(&plain.user).await.unwrap(),
        Vec::<String>::new()
    );

    let mut openwebui: Value = serde_json::from_slice(&fixture("openwebui-export.json")).unwrap();
    openwebui[0]["meta"]["tags"] = json!(["machine_learning", "Rust", "rust", "Rust"]);
    openwebui[1]["chat"]["tags"] = json!([{ "name": "  deep \n learning " }, "🦀", 7, null]);
    let mut many = vec![json!(""), json!("bad\u{7}")];
    many.extend((0..33).map(|n| json!(format!("t{n:02}"))));
    many.push(json!("x".repeat(65)));
    openwebui[2]["meta"]["tags"] = Value::Array(many);
    let mut librechat: Value = serde_json::from_slice(&fixture("librechat-export.json")).unwrap();
    librechat["tags"] = json!(["Web search", " research ", "Web search"]);

    let tagged = account().await;
    let report = tagged
        .import(&serde_json::to_vec(&openwebui).unwrap())
        .await;
    assert_eq!((report.sessions, report.messages), (3, 6));
    assert_eq!(
        report.errors,
        [
            problem(
                "Simple linear chat",
                "the tag \"\" was not imported: a tag cannot be empty"
            ),
            problem(
                "Simple linear chat",
                "the tag \"bad\\u{7}\" was not imported: a tag cannot hold a control character"
            ),
            problem(
                "Simple linear chat",
                "the tag \"t32\" was not imported: a conversation holds at most 32 tags"
            ),
            problem(
                "Simple linear chat",
                &format!(
                    "the tag \"{}\" was not imported: a tag holds at most 64 characters (this one has 65)",
                    "x".repeat(64)
                )
            ),
        ]
    );
    let report = tagged
        .import(&serde_json::to_vec(&librechat).unwrap())
        .await;
    assert_no_problems(&report);
    assert_eq!(report.sessions, 1);
    let first_32: Vec<String> = (0..32).map(|n| format!("t{n:02}")).collect();
    assert_eq!(
        titles_and_tags(&tagged).await,
        [
            (
                "Chat with reasoning".to_owned(),
                vec![
                    "Rust".to_owned(),
                    "machine_learning".to_owned(),
                    "rust".to_owned()
                ]
            ),
            (
                "Chat with tool call".to_owned(),
                vec!["deep learning".to_owned(), "🦀".to_owned()]
            ),
            (
                "Conversation 1. Web Search".to_owned(),
                vec!["Web search".to_owned(), "research".to_owned()]
            ),
            ("Simple linear chat".to_owned(), first_32.clone()),
        ]
    );
    let mut expected: Vec<String> = vec![
        "Rust".into(),
        "Web search".into(),
        "deep learning".into(),
        "machine_learning".into(),
        "research".into(),
        "rust".into(),
    ];
    expected.extend(first_32);
    expected.push("🦀".into());
    assert_eq!(
        tagged.services.list_tags(&tagged.user).await.unwrap(),
        expected
    );
}

#[tokio::test]
async fn half_an_emoji_is_replaced_in_its_chat_and_the_rest_of_the_file_imports() {
    let account = account().await;
    let bytes = fixture("openwebui-half-emoji.json");
    assert!(String::from_utf8_lossy(&bytes).contains("\"Happy new year \\ud83c\""));
    let report = account.import(&bytes).await;
    assert_eq!((report.sessions, report.messages), (3, 6));
    assert_eq!(
        report.errors,
        [ImportProblem {
            title: "Cut-off reply".into(),
            reason: "some of its text was not valid Unicode (half an emoji or a broken character) and was replaced with \u{fffd}".into(),
        }]
    );
    let cut = account.session("Cut-off reply").await;
    assert_eq!(
        contents(&account.messages(&cut).await),
        ["Say something festive", "Happy new year \u{fffd}"]
    );
    let party = account.session("Party plans").await;
    assert_eq!(
        account.messages(&party).await[1].content,
        "Balloons, cake and music 🎉"
    );
    let packing = account.session("Packing list").await;
    assert_eq!(
        contents(&account.messages(&packing).await),
        ["What should I pack for Oslo?", "A warm coat and boots."]
    );
}

#[tokio::test]
async fn bytes_that_are_not_utf8_are_replaced_in_their_conversation() {
    let account = account().await;
    let mut bytes = to_bytes(&json!([
        chatgpt_conversation("ok", "Fine", 1.7e9, 2),
        chatgpt_conversation("bad", "Latin-1", 1.7e9 + 100.0, 2),
    ]));
    // "Latin-1 message 0" with the space after "Latin-1" turned into a lone Latin-1 "é".
    let at = bytes
        .windows(17)
        .position(|w| w == b"Latin-1 message 0")
        .unwrap();
    bytes[at + 7] = 0xE9;
    let report = account.import(&bytes).await;
    assert_eq!((report.sessions, report.messages), (2, 4));
    assert_eq!(
        report.errors,
        [ImportProblem {
            title: "Latin-1".into(),
            reason: "some of its text was not valid Unicode (half an emoji or a broken character) and was replaced with \u{fffd}".into(),
        }]
    );
    let session = account.session("Latin-1").await;
    assert_eq!(
        account.messages(&session).await[0].content,
        "Latin-1\u{fffd}message 0"
    );
}

#[tokio::test]
async fn librechat_tree_in_the_repository() {
    let account = account().await;
    let report = account.import_fixture("librechat-tree.json").await;
    assert_no_problems(&report);
    assert_eq!((report.sessions, report.messages), (1, 6));
    let session = account.session("Prime numbers").await;
    assert_eq!(
        session.created_at,
        "2025-03-01T09:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    );
    let messages = account.messages(&session).await;
    assert_eq!(
        contents(&messages),
        [
            "Name three prime numbers.",
            "2, 3 and 5.",
            "Three more?",
            "7, 11 and 13.",
            "Any even ones besides 2?",
            "No: every other even number divides by 2.",
        ]
    );
    assert_eq!(
        parents(&messages),
        [
            None,
            Some("Name three prime numbers."),
            Some("2, 3 and 5."),
            Some("Three more?"),
            Some("2, 3 and 5."),
            Some("Any even ones besides 2?"),
        ]
    );
    let tokens: Vec<Option<i64>> = messages.iter().map(|m| m.completion_tokens).collect();
    assert_eq!(tokens, [None, Some(12), None, Some(12), None, Some(12)]);
    let models: Vec<Option<&str>> = messages.iter().map(|m| m.model.as_deref()).collect();
    assert_eq!(
        models,
        [
            None,
            Some("gpt-4o"),
            None,
            Some("gpt-4o"),
            None,
            Some("gpt-4o")
        ]
    );
    // No current node in LibreChat: the newest leaf.
    assert_eq!(
        contents_of(&active_branch(&session, &messages)),
        [
            "Name three prime numbers.",
            "2, 3 and 5.",
            "Any even ones besides 2?",
            "No: every other even number divides by 2.",
        ]
    );
    assert_reimport_adds_nothing(&account, &fixture("librechat-tree.json"), &report).await;
}

/// The same LibreChat file with its messages before its `conversationId`: such a file is read
/// whole, while LibreChat's own order (the id first) has its messages read one at a time.
fn messages_first(file: &Value) -> Vec<u8> {
    let mut rest = file.as_object().unwrap().clone();
    let mut text = String::from("{");
    for key in ["messagesTree", "messages"] {
        if let Some(messages) = rest.remove(key) {
            text.push_str(&format!("{}:{},", json!(key), messages));
        }
    }
    let rest = serde_json::to_string(&rest).unwrap();
    text.push_str(rest.strip_prefix('{').unwrap());
    text.into_bytes()
}

#[tokio::test]
async fn a_librechat_file_read_a_message_at_a_time_or_whole_imports_the_same() {
    let account = account().await;
    let file: Value = serde_json::from_slice(&fixture("librechat-tree.json")).unwrap();
    let whole = messages_first(&file);
    assert!(whole.starts_with(b"{\"messagesTree\":["));
    let streamed = account.import_fixture("librechat-tree.json").await;
    assert_eq!((streamed.sessions, streamed.messages), (1, 6));
    // The same ids, parents and everything: the file read whole adds nothing.
    assert_reimport_adds_nothing(&account, &whole, &streamed).await;
    let other = crate::import_support::account().await;
    assert_eq!(other.import(&whole).await.messages, 6);
    let mine = account
        .messages(&account.session("Prime numbers").await)
        .await;
    let theirs = other.messages(&other.session("Prime numbers").await).await;
    assert_eq!(contents(&theirs), contents(&mine));
    assert_eq!(parents(&theirs), parents(&mine));
    let facts = |messages: &[Message]| -> Vec<(Role, Option<String>, Option<i64>, MessageStatus)> {
        messages
            .iter()
            .map(|m| (m.role, m.model.clone(), m.completion_tokens, m.status))
            .collect()
    };
    assert_eq!(facts(&theirs), facts(&mine));
}

#[tokio::test]
async fn a_flat_librechat_file_with_odd_messages() {
    // Flat messages linked by `parentMessageId`, in LibreChat's key order (read a message at a
    // time), with what a hand-edited or older file may hold: an `_id` instead of a
    // `messageId`, an entry that is not a message, a message without any id (not imported;
    // its reply, nested under it, hangs from what it hangs from: nothing), `children` that is not a
    // list, a field nested past what a message may hold (the message is dropped, its reply
    // moves up), and the conversation's model only after the messages.
    let deep = (0..70).fold(json!("bottom"), |inner, _| json!([inner]));
    let file = json!({
        "conversationId": "flat-1",
        "title": "Odd messages",
        "createdAt": "2025-04-01T08:00:00.000Z",
        "messages": [
            {"messageId": "q1", "parentMessageId": "00000000-0000-0000-0000-000000000000",
             "isCreatedByUser": true, "text": "First question", "createdAt": "2025-04-01T08:00:00.000Z"},
            {"_id": "a1", "parentMessageId": "q1", "isCreatedByUser": false, "text": "First answer",
             "createdAt": "2025-04-01T08:00:05.000Z", "tokenCount": 7, "children": "none"},
            42,
            {"isCreatedByUser": true, "text": "no id at all", "createdAt": "2025-04-01T08:01:00.000Z",
             "children": [
                {"messageId": "a2", "isCreatedByUser": false, "text": "Answer under the id-less one",
                 "createdAt": "2025-04-01T08:01:05.000Z", "error": true}
             ]},
            {"messageId": "q3", "parentMessageId": "a1", "isCreatedByUser": true, "text": "Too deep",
             "createdAt": "2025-04-01T08:02:00.000Z", "extra": deep},
            {"messageId": "a3", "parentMessageId": "q3", "sender": "GPT-4o", "text": "After the deep one",
             "createdAt": "2025-04-01T08:02:05.000Z", "unfinished": true, "model": "gpt-4o-mini"}
        ],
        "model": "gpt-4o",
        "updatedAt": "2025-04-01T08:02:05.000Z"
    });
    let account = account().await;
    let report = account.import(&to_bytes(&file)).await;
    assert_no_problems(&report);
    assert_eq!((report.sessions, report.messages), (1, 4));
    let session = account.session("Odd messages").await;
    assert_eq!(session.created_at, ms(1743494400.0));
    assert_eq!(session.updated_at, ms(1743494525.0));
    let messages = account.messages(&session).await;
    assert_eq!(
        contents(&messages),
        [
            "First question",
            "First answer",
            "Answer under the id-less one",
            "After the deep one"
        ]
    );
    assert_eq!(
        parents(&messages),
        [None, Some("First question"), None, Some("First answer")]
    );
    let facts: Vec<(Role, Option<&str>, Option<i64>, MessageStatus)> = messages
        .iter()
        .map(|m| (m.role, m.model.as_deref(), m.completion_tokens, m.status))
        .collect();
    assert_eq!(
        facts,
        [
            (Role::User, None, None, MessageStatus::Complete),
            (
                Role::Assistant,
                Some("gpt-4o"),
                Some(7),
                MessageStatus::Complete
            ),
            (Role::Assistant, Some("gpt-4o"), None, MessageStatus::Error),
            (
                Role::Assistant,
                Some("gpt-4o-mini"),
                None,
                MessageStatus::Partial
            ),
        ]
    );
    // Read whole, the file gives the very same messages.
    assert_reimport_adds_nothing(&account, &messages_first(&file), &report).await;
}

#[tokio::test]
async fn chatbotui_export_in_the_repository_is_streamed() {
    let account = account().await;
    let report = account.import_fixture("chatbotui-export.json").await;
    assert_no_problems(&report);
    assert_eq!((report.sessions, report.messages), (2, 6));
    let haiku = account.session("Haiku about rain").await;
    let messages = account.messages(&haiku).await;
    assert_eq!(
        contents(&messages),
        [
            "Write a haiku about rain.",
            "Soft rain on the roof\nthe gutters hum a low song\nthe street turns to glass",
        ]
    );
    assert_eq!(messages[1].model.as_deref(), Some("gpt-4"));
    let units = account.session("Unit conversion").await;
    let messages = account.messages(&units).await;
    assert_eq!(
        contents(&messages),
        [
            "How many feet in a mile?",
            "5,280 feet.",
            "And yards?",
            "1,760 yards."
        ]
    );
    assert_eq!(messages[3].model.as_deref(), Some("gpt-3.5-turbo"));
    assert_reimport_adds_nothing(&account, &fixture("chatbotui-export.json"), &report).await;
}

#[tokio::test]
async fn a_confab_backup_restores_session_by_session() {
    let source = account().await;
    source.import_fixture("chatgpt-2025.json").await;
    source.import_fixture("librechat-tree.json").await;
    let export = backup(&source).await;
    let target = account().await;
    let report = target.import(export.as_bytes()).await;
    assert_no_problems(&report);
    assert_eq!(
        (report.sessions, report.messages, report.skipped),
        (4, 20, 0)
    );
    for title in [
        "Sourdough starter",
        "Trip to Lisbon",
        "Tabs or spaces",
        "Prime numbers",
    ] {
        let before = source.session(title).await;
        let after = target.session(title).await;
        assert_eq!(after.created_at, before.created_at, "{title}");
        assert_eq!(after.message_count, before.message_count, "{title}");
        let old = source.messages(&before).await;
        let new = target.messages(&after).await;
        assert_eq!(contents(&new), contents(&old), "{title}");
        assert_eq!(parents(&new), parents(&old), "{title}");
        let leaf = |session: &Session, messages: &[Message]| {
            active_branch(session, messages)
                .last()
                .map(|m| m.content.clone())
        };
        assert_eq!(leaf(&after, &new), leaf(&before, &old), "{title}");
    }
    assert_reimport_adds_nothing(&target, export.as_bytes(), &report).await;
}

#[tokio::test]
async fn a_broken_session_in_a_confab_backup_costs_only_itself() {
    let source = account().await;
    source.import_fixture("chatgpt-2025.json").await;
    let mut export: Value = serde_json::from_str(&backup(&source).await).unwrap();
    let broken_title = export["sessions"][1]["title"].as_str().unwrap().to_owned();
    export["sessions"][1]["messages"] = json!("broken");
    let target = account().await;
    let report = target.import(&to_bytes(&export)).await;
    assert_eq!((report.sessions, report.messages), (2, 9));
    assert_eq!(
        report.errors,
        [ImportProblem {
            title: broken_title,
            reason: "the Confab export is malformed: invalid type: string \"broken\", expected a sequence".into(),
        }]
    );
}

#[tokio::test]
async fn confab_backups_of_another_version_or_with_nothing_in_them_are_refused() {
    let account = account().await;
    let newer = br#"{"format":"confab","version":3,"exportedAt":"2025-06-01T00:00:00Z","sessions":[{"id":"x"}]}"#;
    let error = import_error(&account, newer).await;
    assert_eq!(
        invalid(&error),
        (
            "unsupported_format",
            "this is not a Confab export of version 2 or older"
        )
    );
    let empty =
        br#"{"format":"confab","version":1,"exportedAt":"2025-06-01T00:00:00Z","sessions":[]}"#;
    let error = import_error(&account, empty).await;
    assert_eq!(
        invalid(&error),
        (
            "nothing_imported",
            "nothing was imported: the file holds no conversations"
        )
    );
    assert!(account.sessions().await.is_empty());
}

#[tokio::test]
async fn a_file_that_stores_nothing_is_an_error() {
    let account = account().await;
    for bytes in [
        &b"[]"[..],
        b"{\"version\": 4, \"history\": [], \"folders\": []}",
    ] {
        let error = import_error(&account, bytes).await;
        assert_eq!(
            invalid(&error),
            (
                "nothing_imported",
                "nothing was imported: the file holds no conversations"
            ),
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
    let empty = json!([
        {"title": "Empty", "mapping": {}},
        {"title": "Hidden only", "id": "h", "mapping": {"s": {"message": {"author": {"role": "system"}, "content": {"parts": ["x"]}}}}},
        {"title": "No mapping", "id": "n"},
        {"title": "Bad mapping", "id": "b", "mapping": 3},
    ]);
    let error = import_error(&account, &to_bytes(&empty)).await;
    assert_eq!(
        invalid(&error),
        (
            "nothing_imported",
            "nothing was imported: “Empty”: the conversation has no messages to import; “Hidden only”: the conversation has no messages to import; “No mapping”: it has no `mapping`, so no messages; and 1 more"
        )
    );
    assert!(account.sessions().await.is_empty());
}

// ---- Fuzzing: arbitrary shapes and arbitrary Unicode, on stable Rust. ----

/// Field names the importers look for, so that random objects reach their code.
const FIELDS: &[&str] = &[
    "title",
    "id",
    "conversation_id",
    "mapping",
    "message",
    "parent",
    "children",
    "author",
    "role",
    "content",
    "content_type",
    "parts",
    "metadata",
    "citations",
    "start_ix",
    "end_ix",
    "create_time",
    "update_time",
    "current_node",
    "default_model_slug",
    "model_slug",
    "chat",
    "history",
    "messages",
    "currentId",
    "parentId",
    "childrenIds",
    "timestamp",
    "conversationId",
    "messagesTree",
    "messageId",
    "parentMessageId",
    "text",
    "isCreatedByUser",
    "sender",
    "name",
    "model",
    "format",
    "version",
    "sessions",
    "thoughts",
    "summary",
    "url",
    "matched_text",
    "content_references",
    "alt",
    "items",
    "files",
    "type",
    "output",
    "error",
    "done",
    "usage",
    "createdAt",
    "activeLeafId",
    "parentId",
    "status",
];

/// Text that has tripped importers before, mixed into the random text.
const TRICKY: &[&str] = &[
    "&gt; 用户想了解",
    "&gt; 五・七・五",
    "<details type=\"reasoning\"><summary>思考</summary>&gt; 中文",
    "</details>",
    "【3:0†source】",
    "&#x1F600;&amp",
    "👩‍👩‍👧‍👦",
    "e\u{301}",
    "\u{e000}",
    "",
    " ",
];

/// A private-use character that stands for a lone surrogate escape once serialised.
const LONE_SURROGATE: char = '\u{e000}';

/// Random bytes from a seed (SplitMix64), so that a failing case can be run again.
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        bytes.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

fn arbitrary_text(u: &mut Unstructured) -> arbitrary::Result<String> {
    Ok(match u.int_in_range(0..=3)? {
        0 => String::arbitrary(u)?,
        1 => (*u.choose(TRICKY)?).to_owned(),
        2 => format!("{}{}", u.choose(TRICKY)?, String::arbitrary(u)?),
        _ => {
            let mut text = String::arbitrary(u)?;
            text.push(LONE_SURROGATE);
            text
        }
    })
}

fn arbitrary_value(u: &mut Unstructured, depth: u32) -> arbitrary::Result<Value> {
    let top = if depth == 0 { 4 } else { 6 };
    Ok(match u.int_in_range(0..=top)? {
        0 => Value::Null,
        1 => Value::Bool(bool::arbitrary(u)?),
        2 => json!(i64::arbitrary(u)?),
        3 => serde_json::Number::from_f64(f64::arbitrary(u)?)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        4 => Value::String(arbitrary_text(u)?),
        5 => {
            let len = u.int_in_range(0..=3)?;
            let mut items = Vec::with_capacity(len);
            for _ in 0..len {
                items.push(arbitrary_value(u, depth - 1)?);
            }
            Value::Array(items)
        }
        _ => {
            let len = u.int_in_range(0..=4)?;
            let mut map = serde_json::Map::new();
            for _ in 0..len {
                let key = if bool::arbitrary(u)? {
                    (*u.choose(FIELDS)?).to_owned()
                } else {
                    arbitrary_text(u)?
                };
                map.insert(key, arbitrary_value(u, depth - 1)?);
            }
            Value::Object(map)
        }
    })
}

/// Changes a real-shaped file at random: values swapped for arbitrary ones, fields dropped,
/// text replaced with arbitrary Unicode.
fn mutate(value: &mut Value, u: &mut Unstructured) -> arbitrary::Result<()> {
    match value {
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                match u.int_in_range(0..=15)? {
                    0 => {
                        map.remove(&key);
                    }
                    1 => {
                        map.insert(key, arbitrary_value(u, 3)?);
                    }
                    _ => {
                        if let Some(inner) = map.get_mut(&key) {
                            mutate(inner, u)?;
                        }
                    }
                }
            }
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                mutate(item, u)?;
            }
            if u.ratio(1, 8)? {
                items.push(arbitrary_value(u, 3)?);
            }
        }
        Value::String(text) => {
            if u.ratio(1, 4)? {
                *text = arbitrary_text(u)?;
            }
        }
        _ => {
            if u.ratio(1, 8)? {
                *value = arbitrary_value(u, 2)?;
            }
        }
    }
    Ok(())
}

/// One random file: a real-shaped template changed at random, sometimes cut short or with a
/// byte flipped.
fn arbitrary_file(templates: &[Value], seed: u64) -> arbitrary::Result<Vec<u8>> {
    let entropy = random_bytes(seed, 64 * 1024);
    let mut u = Unstructured::new(&entropy);
    let mut value = if u.ratio(1, 10)? {
        arbitrary_value(&mut u, 6)?
    } else {
        u.choose(templates)?.clone()
    };
    mutate(&mut value, &mut u)?;
    let text = serde_json::to_string(&value).unwrap_or_default();
    let mut bytes = text.replace(LONE_SURROGATE, "\\ud83c").into_bytes();
    damage(&mut bytes, &mut u, 10)?;
    Ok(bytes)
}

/// One time in `odds` cuts a file short at random, one time in `odds` changes one to four of
/// its bytes.
fn damage(bytes: &mut Vec<u8>, u: &mut Unstructured, odds: u32) -> arbitrary::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    match u.int_in_range(1..=odds)? {
        1 => {
            let cut = u.choose_index(bytes.len())?;
            bytes.truncate(cut);
        }
        2 => {
            for _ in 0..u.int_in_range(1..=4)? {
                let at = u.choose_index(bytes.len())?;
                bytes[at] = u8::arbitrary(u)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Cases run at most, and the time they may take (the suite must stay well within CI's).
const FUZZ_CASES: u64 = 4_000;
const FUZZ_TIME: Duration = Duration::from_secs(40);

/// The files the fuzz cases start from: a Confab backup and every format's fixture.
async fn fuzz_templates() -> Vec<Value> {
    let source = account().await;
    source.import_fixture("chatgpt-2025.json").await;
    let confab: Value = serde_json::from_str(&backup(&source).await).unwrap();
    let mut templates = vec![confab];
    for name in [
        "chatgpt-2025.json",
        "openwebui-reasoning-cjk.json",
        "librechat-tree.json",
        "chatbotui-export.json",
    ] {
        templates.push(serde_json::from_slice(&fixture(name)).unwrap());
    }
    templates
}

/// Imports the files `make` makes from the seeds 0, 1, … for at most `cases` files or `time`:
/// each must import (no conversation failing on a panic) or be refused as invalid, never fail
/// otherwise; and both must happen, so that the cases are neither all broken nor all fine.
async fn fuzz(cases: u64, time: Duration, make: impl Fn(u64) -> arbitrary::Result<Vec<u8>>) {
    let account = account().await;
    let started = Instant::now();
    let mut outcomes = [0usize; 2];
    for seed in 0..cases {
        if started.elapsed() > time {
            break;
        }
        let Ok(bytes) = make(seed) else {
            continue;
        };
        match account.services.import_bytes(&account.user, &bytes).await {
            Ok(report) => {
                let panicked: Vec<&ImportProblem> = report
                    .errors
                    .iter()
                    .filter(|problem| problem.reason.starts_with("Confab failed on this"))
                    .collect();
                assert!(panicked.is_empty(), "seed {seed}: {panicked:?}");
                outcomes[0] += 1;
            }
            Err(ServiceError::Invalid { .. }) => outcomes[1] += 1,
            Err(other) => panic!("seed {seed}: {other:?}"),
        }
    }
    println!(
        "fuzzed {} files in {:?}: {} imported, {} refused",
        outcomes[0] + outcomes[1],
        started.elapsed(),
        outcomes[0],
        outcomes[1]
    );
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}

#[tokio::test]
async fn importers_never_fail_a_file_for_one_conversation_whatever_its_shape() {
    let templates = fuzz_templates().await;
    fuzz(FUZZ_CASES, FUZZ_TIME, |seed| {
        arbitrary_file(&templates, seed)
    })
    .await;
}

/// Names a ZIP member may have: the conversation files in the spellings ChatGPT used, in
/// folders, the resource forks a Mac adds, the export's other files, and odd ones.
const ZIP_NAMES: &[&str] = &[
    "conversations.json",
    "conversations-000.json",
    "conversations-001.json",
    "export/conversations-002.json",
    "Conversations-003.JSON",
    "export\\conversations-004.json",
    "__MACOSX/._conversations-000.json",
    "__MACOSX/conversations.json",
    "__MACOSX/export/._conversations.json",
    "chat.html",
    "user.json",
    "conversations/",
    "",
];

/// One random ZIP: up to five members with real-shaped, resource-fork or arbitrary contents
/// under real or arbitrary names, stored or deflated; sometimes cut short or with bytes changed.
fn arbitrary_zip(templates: &[Value], seed: u64) -> arbitrary::Result<Vec<u8>> {
    let entropy = random_bytes(seed ^ 0x21f0_aaad, 4 * 1024);
    let mut u = Unstructured::new(&entropy);
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for member in 0..u.int_in_range(0..=5)? {
        let name = if u.ratio(1, 5)? {
            arbitrary_text(&mut u)?
        } else {
            (*u.choose(ZIP_NAMES)?).to_owned()
        };
        let method = if bool::arbitrary(&mut u)? {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let contents = match u.int_in_range(0..=5)? {
            0 => Vec::<u8>::arbitrary(&mut u)?,
            1 => b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ".to_vec(),
            _ => arbitrary_file(templates, seed.wrapping_mul(8).wrapping_add(member))?,
        };
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        // The writer refuses a name used twice: that member is left out.
        if zip.start_file(name, options).is_ok() {
            zip.write_all(&contents).unwrap();
        }
    }
    let mut bytes = zip
        .finish()
        .map_err(|_| arbitrary::Error::IncorrectFormat)?
        .into_inner();
    damage(&mut bytes, &mut u, 6)?;
    Ok(bytes)
}

const ZIP_FUZZ_CASES: u64 = 5_000;
const ZIP_FUZZ_TIME: Duration = Duration::from_secs(20);

#[tokio::test]
async fn zip_files_of_any_shape_import_or_are_refused() {
    let templates = fuzz_templates().await;
    fuzz(ZIP_FUZZ_CASES, ZIP_FUZZ_TIME, |seed| {
        arbitrary_zip(&templates, seed)
    })
    .await;
}
