//! Two Confab processes on one MongoDB database behave as one service: what one node writes
//! the other reads, and a sign-in made on one is honoured by the other.
//!
//! Needs `CONFAB_TEST_MONGODB_URL` (`make test` starts FerretDB and sets it).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{Backend, TestProcess};

#[tokio::test]
async fn two_nodes_share_sessions_messages_and_sign_ins() {
    let first = TestProcess::start(Backend::Mongo, &[]).await;
    let second = first.another_on_the_same_data().await;

    // One browser; cookies are per host, so the sign-in cookie goes to both nodes.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let signup = browser
        .post(format!("{}/api/auth/signup", first.url))
        .header("Origin", &first.url)
        .json(&json!({ "email": "ada@example.com", "password": "a good password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), StatusCode::CREATED);

    let me: Value = browser
        .get(format!("{}/api/auth/me", second.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["user"]["email"], "ada@example.com",
        "the sign-in made on the first node works on the second"
    );

    let created: Value = browser
        .post(format!("{}/api/chat/messages", first.url))
        .header("Origin", &first.url)
        .json(&json!({ "role": "user", "content": "written on node one" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session_id = created["session"]["id"].as_str().unwrap();
    let listed: Value = browser
        .get(format!("{}/api/chat/sessions", second.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["sessions"][0]["id"], session_id,
        "the session made on one node is listed by the other"
    );

    let reply = browser
        .post(format!("{}/api/chat/messages", second.url))
        .header("Origin", &second.url)
        .json(&json!({ "sessionId": session_id, "role": "assistant", "content": "answered on node two" }))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::CREATED);
    let messages: Value = browser
        .get(format!(
            "{}/api/chat/messages?sessionId={session_id}",
            first.url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let contents: Vec<&str> = messages["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["written on node one", "answered on node two"]);
    let found: Value = browser
        .get(format!("{}/api/chat/search?q=answered", first.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        found["results"].as_array().unwrap().len(),
        1,
        "and found by search on the first"
    );

    // Signing out on one node ends the sign-in on both.
    browser
        .post(format!("{}/api/auth/logout", second.url))
        .header("Origin", &second.url)
        .send()
        .await
        .unwrap();
    let after = browser
        .get(format!("{}/api/auth/me", first.url))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
}
