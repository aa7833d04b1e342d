//! A person deletes their own account: the password first, then everything of theirs is gone
//! at once, on every backend, and every sign-in of theirs ends.

use crate::support::{Client_, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Asks to delete the signed-in account, giving `password`.
async fn delete_account(client: &Client_, password: &str) -> reqwest::Response {
    client
        .request(Method::DELETE, "/api/auth/me")
        .json(&json!({ "password": password }))
        .send()
        .await
        .expect("request")
}

/// The whole JSON body of an answer.
async fn body(response: reqwest::Response) -> Value {
    response.json().await.expect("JSON body")
}

/// How many search results `client` gets for `q`.
async fn found(client: &Client_, q: &str) -> usize {
    client.search(q).await.results.len()
}

both_backends!(
    deleting_my_account_removes_everything_and_ends_every_sign_in,
    |backend| async move {
        let app = TestApp::spawn_on(backend).await;
        let ada = app.user("ada@example.com").await;
        let bob = app.user("bob@example.com").await;
        let other_browser = app.client();
        other_browser
            .sign_in("bob@example.com", "a good password")
            .await;
        let created = body(bob.post("/api/tokens", json!({ "name": "script" })).await).await;
        let mut script = app.client();
        script.token = created["token"].as_str().map(str::to_owned);
        bob.message(None, "user", "my zanzibarish plans").await;
        ada.message(None, "user", "ada's zanzibarish notes").await;

        // A wrong password deletes nothing and says so.
        let refused = delete_account(&bob, "not my password").await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            body(refused).await,
            json!({ "error": {
                "code": "wrong_password",
                "message": "the password is not right; the account was not deleted",
            }})
        );
        assert_eq!(found(&bob, "zanzibarish").await, 1);

        let deleted = delete_account(&bob, "a good password").await;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        assert_eq!(deleted.text().await.unwrap(), "");

        // Every sign-in and token of the account answers 401, this browser's and others'.
        for client in [&bob, &other_browser, &script] {
            let me = client.get("/api/auth/me").await;
            assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(
                body(me).await,
                json!({ "error": { "code": "unauthorized", "message": "authentication required" }})
            );
        }
        let login = bob.login("bob@example.com", "a good password").await;
        assert_eq!(login.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            body(login).await,
            json!({ "error": { "code": "bad_credentials", "message": "invalid email or password" }})
        );
        // Another account finds only its own words.
        let results = ada.get_json("/api/chat/search?q=zanzibarish").await["results"].clone();
        assert_eq!(results.as_array().map(Vec::len), Some(1));
        assert!(!results.to_string().contains("plans"), "{results}");
        // The email is free again: signing up anew makes a new, empty account.
        let again = app.user("bob@example.com").await;
        assert_eq!(found(&again, "zanzibarish").await, 0);
        assert_eq!(
            again.get_json("/api/chat/sessions").await["sessions"],
            json!([])
        );
    }
);

both_backends!(
    the_only_administrator_stays_while_other_accounts_exist,
    |backend| async move {
        let app = TestApp::spawn_on(backend).await;
        let ada = app.user("ada@example.com").await;
        let bob = app.user("bob@example.com").await;
        let refused = delete_account(&ada, "a good password").await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            body(refused).await,
            json!({ "error": {
                "code": "last_admin",
                "message": "the only administrator cannot delete their account while other accounts exist",
            }})
        );
        assert_eq!(ada.get("/api/auth/me").await.status(), StatusCode::OK);
        assert_eq!(
            delete_account(&bob, "a good password").await.status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            delete_account(&ada, "a good password").await.status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(app.store.count_users().await.unwrap(), 0);
    }
);

/// Guessing the password through the deletion is as limited as guessing it at sign-in.
#[tokio::test]
async fn wrong_passwords_given_to_delete_count_toward_the_login_limit() {
    let app = TestApp::spawn_with(|config| config.login_attempts = 2).await;
    app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    for _ in 0..2 {
        assert_eq!(
            delete_account(&bob, "guess guess").await.status(),
            StatusCode::FORBIDDEN
        );
    }
    let blocked = delete_account(&bob, "a good password").await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(blocked.headers().contains_key("retry-after"));
    let login = app
        .client()
        .login("bob@example.com", "a good password")
        .await;
    assert_eq!(login.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(bob.get("/api/auth/me").await.status(), StatusCode::OK);
}
