//! Two Confab processes on one MongoDB database behave as one service: what one node writes
//! the other reads, and a sign-in made on one is honoured by the other.
//!
//! Needs `CONFAB_TEST_MONGODB_URL` (`make test` starts FerretDB and sets it).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

struct Node {
    child: Child,
    url: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mongodb_url() -> String {
    let base = std::env::var("CONFAB_TEST_MONGODB_URL").ok().filter(|url| !url.trim().is_empty()).unwrap_or_else(|| {
        panic!("CONFAB_TEST_MONGODB_URL is not set: run `make test`, or start FerretDB with `.ci/ferretdb start DIR` and export the URL it prints")
    });
    let (scheme, rest) = base.trim().split_once("://").expect("a mongodb:// URL");
    let hosts = rest.split(['/', '?']).next().unwrap_or(rest);
    format!("{scheme}://{hosts}/two_nodes_{}", std::process::id())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_node(database_url: &str, data: &std::path::Path) -> Node {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_confab"))
        .arg("serve")
        .env("CONFAB_ADDR", format!("127.0.0.1:{port}"))
        .env("CONFAB_DATABASE_URL", database_url)
        .env("CONFAB_DATA_DIR", data)
        .env("CONFAB_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("the confab binary starts");
    let node = Node {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    // Up to 60 s, as for every server the tests start (support/process.rs): a debug build
    // connecting to FerretDB on a loaded machine can take more than the 15 s it had.
    for _ in 0..600 {
        if reqwest::get(format!("{}/api/health", node.url))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return node;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("node on port {port} did not become healthy");
}

#[tokio::test]
async fn two_nodes_share_sessions_messages_and_sign_ins() {
    let database = mongodb_url();
    let data = tempfile::tempdir().unwrap();
    let first = start_node(&database, data.path()).await;
    let second = start_node(&database, data.path()).await;

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
