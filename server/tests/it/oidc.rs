//! Sign-in through a real OpenID Connect provider (the certified `oidc-provider` package, run
//! with Node for the test): the whole authorization code flow with PKCE, and the refusals.

use std::process::Command;
use std::time::Duration;

use crate::support::{provider_error, Backend, Client_, TestApp, TestProcess};
use confab::config::{Config, Signup};
use confab_core::auth::oidc::{ProviderConfig, ProviderKind};
use confab_core::store::StoredInvitation;
use confab_testdata::ChildProcess;
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use serde_json::Value;

struct Idp {
    /// Killed when dropped.
    _process: ChildProcess,
    issuer: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the provider on a port of the system's choice (so no other process can take it
/// first), allowing `redirect_uri`; waits until it listens (it prints its issuer then).
async fn start_idp(redirect_uri: &str) -> Idp {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../end2end/oidc/provider.mjs");
    let mut command = Command::new("node");
    command.arg(script).arg("0").arg(redirect_uri);
    let mut process = ChildProcess::spawn(
        "the OpenID provider",
        command,
        "The test needs Node and end2end's npm packages: `make test` installs them.",
    );
    let line = process.first_line(Duration::from_secs(60)).await;
    if !line.starts_with("http://") {
        process.fail(&format!("did not start: {line:?}"));
    }
    Idp {
        _process: process,
        issuer: line.trim().to_owned(),
    }
}

/// Confab configured with the provider as "test", and the provider itself.
async fn setup() -> (TestApp, Idp) {
    setup_with(|_| {}).await
}

/// `setup`, with `configure` applied to Confab's configuration.
async fn setup_with(configure: impl FnOnce(&mut Config)) -> (TestApp, Idp) {
    // Confab's listener is bound first, so the provider can be started with Confab's real
    // callback and Confab configured with the provider's real issuer.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let idp = start_idp(&format!("http://{address}/auth/test/callback")).await;
    let issuer = idp.issuer.clone();
    let app = TestApp::spawn_on_listener(Backend::Sqlite, listener, |config| {
        add_provider(config, issuer);
        configure(config);
    })
    .await;
    (app, idp)
}

/// Confab with the provider "test" expected at `port` (where nothing listens: for tests that
/// never reach the provider).
async fn spawn_with_provider(port: u16, configure: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::spawn_with(move |config| {
        add_provider(config, format!("http://127.0.0.1:{port}"));
        configure(config);
    })
    .await
}

/// Adds the provider "test" at `issuer` to `config`, Confab's public URL its own address.
fn add_provider(config: &mut Config, issuer: String) {
    config.public_url = Some(format!("http://{}", config.addr));
    config.extra_sign_in_providers.push(ProviderConfig {
        name: "test".into(),
        display_name: "Test ID".into(),
        kind: ProviderKind::Oidc { issuer },
        client_id: "confab".into(),
        client_secret: Some("confab-test-secret".into()),
        scopes: vec!["openid".into(), "email".into(), "profile".into()],
    });
}

/// Sign-up closed and no local accounts: only the first account and invitations get in.
fn closed_to_providers_only(config: &mut Config) {
    config.signup = Signup::Closed;
    config.local_accounts = false;
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
    callback_url_from(&app.address, idp, browser, login, "/auth/test/login").await
}

/// `callback_url` from the Confab at `base`, starting at `start` (the sign-in page's link).
async fn callback_url_from(
    base: &str,
    idp: &Idp,
    browser: &reqwest::Client,
    login: &str,
    start: &str,
) -> String {
    let mut response = browser.get(format!("{base}{start}")).send().await.unwrap();
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

/// Where Confab sends a browser that follows the sign-in page's link `start`, signed in at
/// the provider as `login`: the address of the page it lands on.
async fn sign_in_from(
    (app, idp): &(TestApp, Idp),
    browser: &reqwest::Client,
    login: &str,
    start: &str,
) -> String {
    let callback = callback_url_from(&app.address, idp, browser, login, start).await;
    location(&browser.get(&callback).send().await.unwrap())
}

/// The administrator's browser as a client of the API of the Confab at `base` (the same
/// cookies).
fn api(base: &str, browser: &reqwest::Client) -> Client_ {
    Client_ {
        http: browser.clone(),
        base: base.to_owned(),
        token: None,
    }
}

/// The invitation `id` as `GET /api/admin/invitations` lists it to the administrator.
async fn listed_invitation(admin: &Client_, id: &str) -> Value {
    admin.get_json("/api/admin/invitations").await["invitations"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|invitation| invitation["id"] == id)
        .cloned()
        .expect("listed")
}

/// An invitation made by the administrator: its id and secret.
async fn invite(admin: &Client_, body: Value) -> (String, String) {
    let response = admin.post("/api/admin/invitations", body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    (
        created["invitation"]["id"].as_str().unwrap().to_owned(),
        created["token"].as_str().unwrap().to_owned(),
    )
}

/// On an instance with sign-up closed and no local accounts, an invitation followed through
/// the provider lets one account in; every bad one leads back with its own code and creates
/// nothing.
#[tokio::test]
async fn an_invitation_lets_one_account_in_through_the_provider() {
    let site = setup_with(closed_to_providers_only).await;
    let (app, idp) = &site;
    let ada = browser();
    assert_eq!(
        sign_in_from(&site, &ada, "ada", "/auth/test/login").await,
        "/"
    );
    assert_eq!(me(app, &ada).await.unwrap()["user"]["role"], "admin");
    let admin = api(&app.address, &ada);

    // (a) No invitation: closed.
    let bob = browser();
    assert_eq!(
        sign_in_from(&site, &bob, "bob", "/auth/test/login").await,
        "/?auth_error=signup_closed"
    );
    assert!(me(app, &bob).await.is_none());
    assert_eq!(app.store.count_users().await.unwrap(), 1);

    // (b) A valid invitation: the account, and the invitation used by it.
    let (open_id, open) = invite(&admin, serde_json::json!({})).await;
    let with_open = format!("/auth/test/login?invitation={open}");
    // The secret stays with Confab: the provider's address does not carry it.
    let leaving = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
        .get(format!("{}{with_open}", app.address))
        .send()
        .await
        .unwrap();
    let provider_url = location(&leaving);
    assert!(provider_url.starts_with(&idp.issuer), "{provider_url}");
    assert!(!provider_url.contains(&open), "{provider_url}");
    let grace = browser();
    assert_eq!(sign_in_from(&site, &grace, "grace", &with_open).await, "/");
    let grace_user = me(app, &grace).await.expect("signed in")["user"].clone();
    assert_eq!(grace_user["email"], "grace@example.com");
    assert_eq!(grace_user["role"], "user");
    let grace_id = grace_user["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.store
            .user_by_identity("test", "grace")
            .await
            .unwrap()
            .map(|user| user.id),
        Some(grace_id.clone())
    );
    let used = listed_invitation(&admin, &open_id).await;
    assert_eq!(
        (&used["status"], &used["usedBy"]),
        (&serde_json::json!("used"), &serde_json::json!(grace_id))
    );
    assert!(used["usedAt"].is_string());
    assert_eq!(
        sign_in_from(&site, &bob, "bob", &with_open).await,
        "/?auth_error=invitation_used"
    );
    assert!(me(app, &bob).await.is_none());
    assert_eq!(app.store.count_users().await.unwrap(), 2);

    // (c) Bound to an email: another email is refused, the invited one gets in.
    let (bound_id, bound) =
        invite(&admin, serde_json::json!({ "email": "Carol@Example.com" })).await;
    let with_bound = format!("/auth/test/login?invitation={bound}");
    let dave = browser();
    assert_eq!(
        sign_in_from(&site, &dave, "dave", &with_bound).await,
        "/?auth_error=invitation_email_mismatch"
    );
    assert!(me(app, &dave).await.is_none());
    assert_eq!(app.store.count_users().await.unwrap(), 2);
    assert_eq!(
        listed_invitation(&admin, &bound_id).await["status"],
        "pending"
    );
    let carol = browser();
    assert_eq!(sign_in_from(&site, &carol, "carol", &with_bound).await, "/");
    assert_eq!(
        me(app, &carol).await.unwrap()["user"]["email"],
        "carol@example.com"
    );

    // (d) Expired, made up, and longer than any secret (refused before the provider).
    StoredInvitation::store_expired(&*app.store, "old-invitation", "old-secret")
        .await
        .unwrap();
    let eve = browser();
    assert_eq!(
        sign_in_from(&site, &eve, "eve", "/auth/test/login?invitation=old-secret").await,
        "/?auth_error=invitation_expired"
    );
    assert_eq!(
        sign_in_from(&site, &eve, "eve", "/auth/test/login?invitation=made-up").await,
        "/?auth_error=invitation_invalid"
    );
    let too_long = eve
        .get(format!(
            "{}/auth/test/login?invitation={}",
            app.address,
            "x".repeat(201)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&too_long), "/?auth_error=invitation_invalid");
    assert!(me(app, &eve).await.is_none());
    assert_eq!(app.store.count_users().await.unwrap(), 3);

    // Someone with an account who follows an invitation signs in; it stays unused.
    let (spare_id, spare) = invite(&admin, serde_json::json!({})).await;
    let again = browser();
    let with_spare = format!("/auth/test/login?invitation={spare}");
    assert_eq!(sign_in_from(&site, &again, "grace", &with_spare).await, "/");
    assert_eq!(me(app, &again).await.unwrap()["user"]["id"], grace_id);
    assert_eq!(
        listed_invitation(&admin, &spare_id).await["status"],
        "pending"
    );
}

/// The page at `path`, as a browser without a sign-in gets it.
async fn page(app: &TestApp, path: &str) -> String {
    let response = app.client().get(path).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.text().await.unwrap()
}

/// The sign-in page opened from an invitation's link: its provider button carries the
/// invitation, and without local accounts it shows no form that could not work but says how
/// the invitation is used. Each bad invitation's code reads as Confab's own sentence.
#[tokio::test]
async fn the_sign_in_page_sends_an_invitation_through_the_provider() {
    // The page only names the provider: none needs to run.
    let app = spawn_with_provider(free_port(), closed_to_providers_only).await;
    let invited = page(&app, "/?invitation=cfb_Ab-9%26x").await;
    assert!(
        invited.contains(r#"href="/auth/test/login?invitation=cfb_Ab-9%26x""#),
        "{invited}"
    );
    assert!(invited.contains("You were invited to Confab"), "{invited}");
    assert!(
        invited.contains(
            "Continue with a provider below: the invitation creates your account when you first sign in."
        ),
        "{invited}"
    );
    for form in ["<form", "name=\"password\"", "auth-tabs", "auth-divider"] {
        assert!(!invited.contains(form), "{form} in {invited}");
    }
    let plain = page(&app, "/").await;
    assert!(plain.contains(r#"href="/auth/test/login""#), "{plain}");
    assert!(
        plain.contains("This instance signs in through its identity providers only."),
        "{plain}"
    );
    assert!(!plain.contains("<form"), "{plain}");

    for (code, sentence) in [
        (
            "invitation_invalid",
            "this invitation is not valid; ask an administrator for a new one.",
        ),
        (
            "invitation_used",
            "this invitation was used already; ask an administrator for a new one.",
        ),
        (
            "invitation_expired",
            "this invitation has expired; ask an administrator for a new one.",
        ),
        (
            "invitation_email_mismatch",
            "this invitation is for another email address: sign in with the invited one, verified by the provider.",
        ),
    ] {
        let html = page(&app, &format!("/?auth_error={code}")).await;
        assert_eq!(
            provider_error(&html),
            Some(format!("Sign-in failed: {sentence}")),
            "{code}"
        );
    }

    // With local accounts on, the invitation goes with both the button and the form.
    let local = spawn_with_provider(free_port(), |config| config.signup = Signup::Closed).await;
    let html = page(&local, "/?invitation=cfb_secret").await;
    assert!(
        html.contains(r#"href="/auth/test/login?invitation=cfb_secret""#),
        "{html}"
    );
    assert!(
        html.contains(r#"<input type="hidden" name="invitation" value="cfb_secret""#),
        "{html}"
    );
    assert!(
        html.contains("Create your account below: the invitation lets you in."),
        "{html}"
    );
}

/// The invitation's secret reaches no log, even at the debug level: Confab logs route
/// templates, not paths or queries, and keeps the secret only in the sign-in session.
#[tokio::test]
async fn an_invitation_stays_out_of_the_log() {
    // The provider starts first, on a port of its choosing, so only Confab's port (chosen
    // here, bound by the child process) is picked beforehand.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let idp = start_idp(&format!("{base}/auth/test/callback")).await;
    let issuer = idp.issuer.clone();
    let process = TestProcess::start(
        Backend::Sqlite,
        &[
            ("CONFAB_LOG", "debug"),
            ("CONFAB_ADDR", &format!("127.0.0.1:{port}")),
            ("CONFAB_PUBLIC_URL", &base),
            ("CONFAB_SIGNUP", "closed"),
            ("CONFAB_LOCAL_ACCOUNTS", "false"),
            ("CONFAB_OIDC_PROVIDERS", "test"),
            ("CONFAB_OIDC_TEST_ISSUER", &issuer),
            ("CONFAB_OIDC_TEST_CLIENT_ID", "confab"),
            ("CONFAB_OIDC_TEST_CLIENT_SECRET", "confab-test-secret"),
        ],
    )
    .await;
    let sign_in = |browser: &reqwest::Client, login: &'static str, start: String| {
        let (browser, base) = (browser.clone(), process.url.clone());
        let idp = &idp;
        async move {
            let callback = callback_url_from(&base, idp, &browser, login, &start).await;
            location(&browser.get(&callback).send().await.unwrap())
        }
    };
    let ada = browser();
    assert_eq!(sign_in(&ada, "ada", "/auth/test/login".into()).await, "/");
    let admin = api(&process.url, &ada);
    let (_, secret) = invite(&admin, serde_json::json!({})).await;
    let grace = browser();
    let start = format!("/auth/test/login?invitation={secret}");
    assert_eq!(sign_in(&grace, "grace", start).await, "/");

    let log = process.output();
    assert!(
        // By route template: the request log names the route, never the path or its query.
        log.contains("/auth/{provider}/login") && log.contains("/auth/{provider}/callback"),
        "requests are logged at this level: {log}"
    );
    assert!(!log.contains(&secret), "the invitation is in the log");
}
