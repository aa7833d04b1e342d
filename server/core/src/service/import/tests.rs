//! A panic while converting one conversation costs that conversation alone, reported with its
//! title, however the file is read: a list, a ZIP, a Confab backup, a chatbot-ui export, a
//! LibreChat file. The panic is forced with `pipeline::PANICS`, a source id that only the
//! test build reacts to.

use std::sync::Arc;

use futures::StreamExt;
use serde_json::{json, Value};

use super::pipeline::PANICS;
use crate::api::{ImportProblem, ImportReport, SessionListInput};
use crate::model::User;
use crate::service::{ServiceConfig, ServiceError, Services};
use crate::store::sqlite::{SqliteOptions, SqliteStore};
use crate::store::DynStore;

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
        .signup("panics@example.com", "a good password", None, "test")
        .await
        .expect("signup");
    Account {
        _dir: dir,
        services,
        user,
    }
}

impl Account {
    async fn import(&self, bytes: &[u8]) -> Result<ImportReport, ServiceError> {
        self.services.import_bytes(&self.user, bytes).await
    }

    async fn titles(&self) -> Vec<String> {
        let page = self
            .services
            .list_sessions(
                &self.user,
                SessionListInput {
                    limit: Some(100),
                    ..Default::default()
                },
            )
            .await
            .expect("sessions");
        let mut titles: Vec<String> = page.items.into_iter().map(|s| s.title).collect();
        titles.sort();
        titles
    }
}

/// What the report says of the conversation that panicked.
fn panicked(title: &str) -> ImportProblem {
    ImportProblem {
        title: title.into(),
        reason: "Confab failed on this conversation (an internal error: a test asked this conversation to panic); it was not imported".into(),
    }
}

fn chatgpt(id: &str, title: &str, start: f64) -> Value {
    json!({"id": id, "title": title, "create_time": start, "mapping": {
        "a": {"id": "a", "parent": null, "children": ["b"], "message": {
            "author": {"role": "user"}, "create_time": start,
            "content": {"content_type": "text", "parts": [format!("{title}?")]}}},
        "b": {"id": "b", "parent": "a", "children": [], "message": {
            "author": {"role": "assistant"}, "create_time": start + 1.0,
            "content": {"content_type": "text", "parts": [format!("{title}!")]}}}
    }})
}

/// Three ChatGPT conversations; the middle one panics.
fn three() -> Vec<Value> {
    vec![
        chatgpt("first", "First", 1.7e9),
        chatgpt(PANICS, "Middle", 1.7e9 + 100.0),
        chatgpt("last", "Last", 1.7e9 + 200.0),
    ]
}

/// Checks the outcome of a file whose middle conversation panicked: the other two stored with
/// both their messages, the middle one reported by its title.
async fn only_the_middle_one_is_lost(account: &Account, bytes: &[u8], others: [&str; 2]) {
    let report = account.import(bytes).await.expect("the file imports");
    assert_eq!(
        (report.sessions, report.messages, report.skipped),
        (2, 4, 0)
    );
    assert_eq!(report.errors, [panicked("Middle")]);
    assert_eq!(account.titles().await, others);
}

#[tokio::test]
async fn a_panic_in_a_listed_conversation_costs_only_that_one() {
    let account = account().await;
    let bytes = serde_json::to_vec(&three()).unwrap();
    only_the_middle_one_is_lost(&account, &bytes, ["First", "Last"]).await;
}

#[tokio::test]
async fn a_panic_in_a_zipped_conversation_costs_only_that_one() {
    let account = account().await;
    let bytes = confab_testdata::sharded_chatgpt_zip(&three(), 2).unwrap();
    only_the_middle_one_is_lost(&account, &bytes, ["First", "Last"]).await;
}

#[tokio::test]
async fn a_panic_in_a_restored_session_costs_only_that_one() {
    let source = account().await;
    let three = [
        chatgpt("first", "First", 1.7e9),
        chatgpt("middle", "Middle", 1.7e9 + 100.0),
        chatgpt("last", "Last", 1.7e9 + 200.0),
    ];
    source
        .import(&serde_json::to_vec(&three).unwrap())
        .await
        .unwrap();
    let mut export = String::new();
    let mut chunks = Box::pin(source.services.export_account(source.user.clone()));
    while let Some(chunk) = chunks.next().await {
        export.push_str(&chunk.unwrap());
    }
    let mut backup: Value = serde_json::from_str(&export).unwrap();
    let sessions = backup["sessions"].as_array_mut().unwrap();
    let middle = sessions
        .iter_mut()
        .find(|session| session["title"] == "Middle")
        .unwrap();
    middle["id"] = json!(PANICS);

    let target = account().await;
    only_the_middle_one_is_lost(
        &target,
        &serde_json::to_vec(&backup).unwrap(),
        ["First", "Last"],
    )
    .await;
}

#[tokio::test]
async fn a_panic_in_a_chatbotui_conversation_costs_only_that_one() {
    let account = account().await;
    let conversation = |id: &str, name: &str| {
        json!({"id": id, "name": name, "model": {"id": "gpt-4"}, "messages": [
            {"role": "user", "content": format!("{name}?")},
            {"role": "assistant", "content": format!("{name}!")}
        ]})
    };
    let export = json!({"version": 4, "history": [
        conversation("first", "First"),
        conversation(PANICS, "Middle"),
        conversation("last", "Last"),
    ], "folders": []});
    only_the_middle_one_is_lost(
        &account,
        &serde_json::to_vec(&export).unwrap(),
        ["First", "Last"],
    )
    .await;
}

fn librechat(id: &str, title: &str) -> Value {
    json!({"conversationId": id, "title": title, "messages": [
        {"messageId": format!("{id}-q"), "isCreatedByUser": true, "text": format!("{title}?"),
         "createdAt": "2025-01-01T00:00:00.000Z"},
        {"messageId": format!("{id}-a"), "parentMessageId": format!("{id}-q"),
         "isCreatedByUser": false, "text": format!("{title}!"),
         "createdAt": "2025-01-01T00:00:01.000Z"}
    ]})
}

#[tokio::test]
async fn a_panic_in_a_librechat_conversation_costs_only_that_one() {
    let account = account().await;
    // A list of them, each read whole.
    let list = json!([
        librechat("first", "First"),
        librechat(PANICS, "Middle"),
        librechat("last", "Last")
    ]);
    only_the_middle_one_is_lost(
        &account,
        &serde_json::to_vec(&list).unwrap(),
        ["First", "Last"],
    )
    .await;
    // A file of its own, its messages read one at a time: the one conversation is lost, and
    // the import fails with the reason, as a file that stores nothing does (never a 500).
    let error = account
        .import(&serde_json::to_vec(&librechat(PANICS, "Middle")).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            ServiceError::Invalid { code: "nothing_imported", message }
                if *message == format!("nothing was imported: “Middle”: {}", panicked("Middle").reason)
        ),
        "{error:?}"
    );
}
