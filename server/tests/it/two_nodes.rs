//! Two Confab processes on one MongoDB database behave as one service: what one node writes
//! the other reads, and a sign-in made on one is honoured by the other.
//!
//! Needs `CONFAB_TEST_MONGODB_URL` (`make test` starts FerretDB and sets it).

use confab_core::api::UserEnvelope;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Backend, TestProcess};

#[tokio::test]
async fn two_nodes_share_sessions_messages_and_sign_ins() {
    let first = TestProcess::start(Backend::Mongo, &[]).await;
    let second = first.another_on_the_same_data().await;

    // One browser, following one node or the other; cookies are per host, so the sign-in
    // cookie goes to both nodes.
    let mut browser = first.client();
    browser.sign_up("ada@example.com", "a good password").await;

    browser.follow(&second.url);
    let me: UserEnvelope = browser.get_as("/api/auth/me").await;
    assert_eq!(
        me.user.email, "ada@example.com",
        "the sign-in made on the first node works on the second"
    );

    browser.follow(&first.url);
    let created = browser
        .post_message(None, "user", "written on node one")
        .await;
    let session_id = created.session.id;
    browser.follow(&second.url);
    let listed = browser.sessions().await;
    assert_eq!(
        listed.sessions[0].id, session_id,
        "the session made on one node is listed by the other"
    );

    browser
        .post_message(Some(&session_id), "assistant", "answered on node two")
        .await;
    browser.follow(&first.url);
    let contents: Vec<String> = browser
        .messages(&session_id)
        .await
        .messages
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(contents, ["written on node one", "answered on node two"]);
    let found = browser.search("answered").await;
    assert_eq!(found.results.len(), 1, "and found by search on the first");

    // Signing out on one node ends the sign-in on both.
    browser.follow(&second.url);
    browser.post("/api/auth/logout", json!({})).await;
    browser.follow(&first.url);
    let after = browser.get("/api/auth/me").await;
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
}
