//! Sign-in through a real OpenID Connect provider (the certified `oidc-provider` package, run
//! with Node for the test): the whole authorization code flow with PKCE, and the refusals.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use confab_core::auth::oidc::{ProviderConfig, ProviderKind};
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use serde_json::Value;
use support::TestApp;

struct Idp {
    child: Child,
    issuer: String,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the provider, allowing `redirect_uri`; waits until it listens.
fn start_idp(port: u16, redirect_uri: &str) -> Idp {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../end2end/oidc/provider.mjs");
    let mut child = Command::new("node")
        .arg(script)
        .arg(port.to_string())
        .arg(redirect_uri)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node runs (the test needs end2end's npm packages: `make test` installs them)");
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    stdout
        .read_line(&mut line)
        .expect("the provider prints its issuer");
    // Keep draining: a closed pipe would kill the provider at its next line of output.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    assert!(
        line.starts_with("http://"),
        "the provider did not start: {line:?}"
    );
    Idp {
        child,
        issuer: line.trim().to_owned(),
    }
}

/// Confab configured with the provider as "test", and the provider itself.
async fn setup() -> (TestApp, Idp) {
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let app = TestApp::spawn_with(move |config| {
        config.public_url = Some(format!("http://{}", config.addr));
        config.extra_sign_in_providers.push(ProviderConfig {
            name: "test".into(),
            display_name: "Test ID".into(),
            kind: ProviderKind::Oidc { issuer },
            client_id: "confab".into(),
            client_secret: Some("confab-test-secret".into()),
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
        });
    })
    .await;
    let idp = start_idp(port, &format!("{}/auth/test/callback", app.address));
    (app, idp)
}

/// A browser that stops when it is sent back to Confab's callback, so tests can look at it.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::custom(|attempt| {
            if attempt.url().path().ends_with("/callback") || attempt.url().path() == "/" {
                attempt.stop()
            } else {
                attempt.follow()
            }
        }))
        .build()
        .unwrap()
}

/// The URL the page's form posts to (absolute, or relative to the provider).
fn form_action(idp: &Idp, html: &str) -> String {
    let start = html.find("action=\"").expect("a form") + "action=\"".len();
    let end = html[start..].find('"').expect("end of action") + start;
    let action = html[start..end].replace("&amp;", "&");
    if action.starts_with("http") {
        action
    } else {
        format!("{}{action}", idp.issuer)
    }
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// Signs in at the provider as `login` (its login form, then its consent form when it asks)
/// and returns the callback URL it sends the browser back to.
async fn callback_url(app: &TestApp, idp: &Idp, browser: &reqwest::Client, login: &str) -> String {
    let mut response = browser
        .get(format!("{}/auth/test/login", app.address))
        .send()
        .await
        .unwrap();
    for _ in 0..4 {
        if response.status().is_redirection() {
            let url = location(&response);
            assert!(url.contains("/auth/test/callback?code="), "{url}");
            return url;
        }
        assert_eq!(response.status(), StatusCode::OK, "a page of the provider");
        let html = response.text().await.unwrap();
        let fields: Vec<(&str, &str)> = if html.contains("name=\"login\"") {
            vec![
                ("prompt", "login"),
                ("login", login),
                ("password", "anything"),
            ]
        } else {
            vec![("prompt", "consent")]
        };
        response = browser
            .post(form_action(idp, &html))
            .form(&fields)
            .send()
            .await
            .unwrap();
    }
    panic!("the provider never sent the browser back");
}

async fn me(app: &TestApp, browser: &reqwest::Client) -> Option<Value> {
    let response = browser
        .get(format!("{}/api/auth/me", app.address))
        .send()
        .await
        .unwrap();
    (response.status() == StatusCode::OK).then_some(response.json().await.unwrap())
}

#[tokio::test]
async fn signing_in_through_the_provider_creates_the_account_once() {
    let (app, idp) = setup().await;
    let providers: Value = reqwest::get(format!("{}/api/auth/providers", app.address))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(providers["providers"][0]["displayName"], "Test ID");
    assert_eq!(providers["providers"][0]["loginUrl"], "/auth/test/login");

    let browser = browser();
    let callback = callback_url(&app, &idp, &browser, "grace").await;
    let landed = browser.get(&callback).send().await.unwrap();
    assert_eq!(location(&landed), "/", "signed in and sent home");
    let user = me(&app, &browser).await.expect("signed in");
    assert_eq!(user["user"]["email"], "grace@example.com");
    assert_eq!(user["user"]["role"], "admin");

    // A second sign-in, in another browser, finds the same account.
    let other = self::browser();
    let callback = callback_url(&app, &idp, &other, "grace").await;
    other.get(&callback).send().await.unwrap();
    assert_eq!(
        me(&app, &other).await.unwrap()["user"]["id"],
        user["user"]["id"]
    );
}

#[tokio::test]
async fn a_tampered_state_is_refused() {
    let (app, idp) = setup().await;
    let browser = browser();
    let callback = callback_url(&app, &idp, &browser, "mallory").await;
    let tampered = callback.replace("state=", "state=x");
    let landed = browser.get(&tampered).send().await.unwrap();
    assert_eq!(location(&landed), "/?auth_error=bad_state");
    assert!(me(&app, &browser).await.is_none());
}

#[tokio::test]
async fn a_replayed_code_is_refused() {
    let (app, idp) = setup().await;
    let browser = browser();
    let callback = callback_url(&app, &idp, &browser, "replay").await;
    assert_eq!(location(&browser.get(&callback).send().await.unwrap()), "/");
    browser
        .post(format!("{}/api/auth/logout", app.address))
        .header("Origin", &app.address)
        .send()
        .await
        .unwrap();

    // The same callback again: the sign-in it belonged to is used up.
    let again = browser.get(&callback).send().await.unwrap();
    assert_eq!(location(&again), "/?auth_error=bad_state");
    assert!(me(&app, &browser).await.is_none());

    // The old code with a fresh sign-in's state: the provider refuses the code.
    let fresh = callback_url(&app, &idp, &browser, "replay").await;
    let fresh_state = fresh
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let old_code = callback
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let mixed = format!(
        "{}/auth/test/callback?code={old_code}&state={fresh_state}",
        app.address
    );
    let refused = browser.get(&mixed).send().await.unwrap();
    assert_eq!(location(&refused), "/?auth_error=code_rejected");
    assert!(me(&app, &browser).await.is_none());
}

#[tokio::test]
async fn a_denied_consent_leads_back_with_a_code_and_not_the_providers_words() {
    let (app, _idp) = setup().await;
    let browser = browser();
    browser
        .get(format!("{}/auth/test/login", app.address))
        .send()
        .await
        .unwrap();
    let denied = browser
        .get(format!("{}/auth/test/callback?error=access_denied&error_description=End-User%20aborted%20interaction", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&denied), "/?auth_error=denied");
    let unknown = browser
        .get(format!("{}/auth/nobody/login", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&unknown), "/?auth_error=unknown_provider");
}

/// An account made through the provider has no password to give again: its fresh sign-in is
/// the proof, so it deletes itself with an empty body, and the provider's account is free.
#[tokio::test]
async fn an_account_without_a_password_deletes_itself_after_a_fresh_sign_in() {
    let (app, idp) = setup().await;
    let browser = browser();
    let callback = callback_url(&app, &idp, &browser, "leaver").await;
    assert_eq!(location(&browser.get(&callback).send().await.unwrap()), "/");
    assert!(me(&app, &browser).await.is_some());

    let deleted = browser
        .delete(format!("{}/api/auth/me", app.address))
        .header("Origin", &app.address)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(me(&app, &browser).await.is_none());
    assert_eq!(app.store.count_users().await.unwrap(), 0);
    assert!(app
        .store
        .user_by_identity("test", "leaver")
        .await
        .unwrap()
        .is_none());
}

/// An administrator disables an account made through the provider: its browser is signed out,
/// and signing in at the provider again leads back with `account_disabled` until it is
/// enabled.
#[tokio::test]
async fn a_disabled_account_cannot_sign_in_through_the_provider() {
    let (app, idp) = setup().await;
    let ada = app.user("ada@example.com").await;
    let browser = browser();
    let callback = callback_url(&app, &idp, &browser, "grace").await;
    browser.get(&callback).send().await.unwrap();
    let grace = me(&app, &browser).await.expect("signed in");
    let grace_id = grace["user"]["id"].as_str().unwrap().to_owned();

    let disabled = ada
        .post(
            &format!("/api/admin/users/{grace_id}/disable"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(disabled.status(), StatusCode::NO_CONTENT);
    assert!(me(&app, &browser).await.is_none(), "signed out");
    let again = self::browser();
    let callback = callback_url(&app, &idp, &again, "grace").await;
    let landed = again.get(&callback).send().await.unwrap();
    assert_eq!(location(&landed), "/?auth_error=account_disabled");
    assert!(me(&app, &again).await.is_none());

    let enabled = ada
        .post(
            &format!("/api/admin/users/{grace_id}/enable"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(enabled.status(), StatusCode::NO_CONTENT);
    let callback = callback_url(&app, &idp, &again, "grace").await;
    let landed = again.get(&callback).send().await.unwrap();
    assert_eq!(location(&landed), "/");
    assert_eq!(me(&app, &again).await.unwrap(), grace);
}
