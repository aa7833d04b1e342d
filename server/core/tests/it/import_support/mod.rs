//! What the import tests share: an account on a real SQLite store, the in-repository fixtures,
//! and ways to look at what was imported.
// Each test file uses part of this module.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use confab_core::api::{ImportReport, SearchInput, SessionListInput};
use confab_core::model::{Message, Role, Session, User};
use confab_core::service::{ServiceConfig, Services};
use confab_core::store::sqlite::{SqliteOptions, SqliteStore};
use confab_core::store::DynStore;
use serde_json::Value;

/// The fixtures kept in the repository, written in each format's real shape.
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/import/");

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}{name}")).unwrap_or_else(|error| panic!("{name}: {error}"))
}

pub struct Account {
    _dir: tempfile::TempDir,
    pub services: Services,
    pub user: User,
}

pub async fn account() -> Account {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: DynStore = Arc::new(
        SqliteStore::open(SqliteOptions::new(dir.path().join("confab.db"))).expect("open store"),
    );
    let services = Services::new(store, ServiceConfig::default());
    let user = services
        .signup("importer@example.com", "a good password", None, "test")
        .await
        .expect("signup");
    Account {
        _dir: dir,
        services,
        user,
    }
}

impl Account {
    pub async fn import(&self, bytes: &[u8]) -> ImportReport {
        self.services
            .import_bytes(&self.user, bytes)
            .await
            .expect("import")
    }

    pub async fn import_fixture(&self, name: &str) -> ImportReport {
        self.import(&fixture(name)).await
    }

    pub async fn sessions(&self) -> Vec<Session> {
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

    pub async fn session(&self, title: &str) -> Session {
        let sessions = self.sessions().await;
        let titles: Vec<&str> = sessions.iter().map(|s| s.title.as_str()).collect();
        sessions
            .iter()
            .find(|s| s.title == title)
            .cloned()
            .unwrap_or_else(|| panic!("no session {title:?} in {titles:?}"))
    }

    pub async fn messages(&self, session: &Session) -> Vec<Message> {
        self.services
            .store()
            .all_messages(&self.user.id, &session.id)
            .await
            .expect("messages")
    }

    pub async fn search(&self, q: &str) -> usize {
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
pub fn branch<'a>(messages: &'a [Message], leaf: &str) -> Vec<&'a Message> {
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
pub fn leaves(messages: &[Message]) -> Vec<&Message> {
    messages
        .iter()
        .filter(|m| !messages.iter().any(|c| c.parent_id.as_ref() == Some(&m.id)))
        .collect()
}

pub fn active_branch<'a>(session: &Session, messages: &'a [Message]) -> Vec<&'a Message> {
    branch(
        messages,
        session.active_leaf_id.as_deref().expect("an active leaf"),
    )
}

pub fn count_roles(messages: &[Message], role: Role) -> usize {
    messages.iter().filter(|m| m.role == role).count()
}

pub fn at(seconds: f64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros((seconds * 1e6).round() as i64).unwrap()
}

pub fn assert_no_problems(report: &ImportReport) {
    assert!(report.errors.is_empty(), "{:?}", report.errors);
}

/// Checks that importing again adds nothing and skips every message.
pub async fn assert_reimport_adds_nothing(account: &Account, bytes: &[u8], first: &ImportReport) {
    let again = account.import(bytes).await;
    assert_eq!(
        (again.sessions, again.messages, again.skipped),
        (0, 0, first.messages),
        "re-import adds nothing"
    );
}

/// A ChatGPT conversation in today's shape (`confab_testdata`): `count` messages a second
/// apart, message `i` saying "{title} message {i}".
pub fn chatgpt_conversation(id: &str, title: &str, start: f64, count: usize) -> Value {
    confab_testdata::ChatGptConversation {
        id,
        title,
        start,
        messages: count,
        seconds_apart: 1.0,
    }
    .to_json(|i| format!("{title} message {i}"))
}

pub fn to_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}
