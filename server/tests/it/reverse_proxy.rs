//! Confab behind a reverse proxy: Debian's nginx (and Debian's Caddy) running the README's
//! configuration in front of the real server, with `CONFAB_PUBLIC_URL` set to nginx's address and
//! `CONFAB_TRUSTED_PROXIES` to nginx's. nginx rewrites `Host` to its upstream's name, so
//! cookie writes pass only by the public URL, and every request reaches Confab from nginx's
//! address, so the login limit tells clients apart only by the forwarded address.

use std::time::{Duration, Instant};

use crate::support::{
    confab, error_code, named, run_to_end, Caddy, Client_, Nginx, ProxyProcess, TestApp,
};
use confab_core::api::UserEnvelope;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Confab (answering models from `provider`, if any) for a proxy that will listen on `port`:
/// its public URL is the proxy's address and the proxy (always at 127.0.0.1) is trusted.
async fn confab_for_proxy_on(port: u16, provider: Option<&str>) -> TestApp {
    let public_url = format!("http://127.0.0.1:{port}");
    let provider = provider.map(str::to_owned);
    TestApp::spawn_with(move |config| {
        config.public_url = Some(public_url);
        config.trusted_proxies =
            confab::http::client::TrustedProxies::parse("127.0.0.1").expect("trusted proxies");
        if let Some(url) = provider {
            config.openai_base_url = url.into();
            config.default_model = "fake-model".into();
        }
    })
    .await
}

/// Confab (answering models from `provider`, if any) behind nginx. Confab's peer is always
/// nginx at 127.0.0.1; test clients connect to nginx from other loopback addresses.
async fn behind_nginx(provider: Option<&str>) -> (TestApp, ProxyProcess) {
    let port = ProxyProcess::free_port();
    let app = confab_for_proxy_on(port, provider).await;
    let nginx = Nginx::start(port, &app.address);
    (app, nginx)
}

/// Confab behind Caddy, as `behind_nginx` is behind nginx.
async fn behind_caddy(provider: Option<&str>) -> (TestApp, ProxyProcess) {
    let port = ProxyProcess::free_port();
    let app = confab_for_proxy_on(port, provider).await;
    let caddy = Caddy::start(port, &app.address);
    (app, caddy)
}

/// The events of a streaming chat answer, each with the time it arrived.
async fn stream_chat(client: &Client_, body: Value) -> Vec<(Instant, String, Value)> {
    let mut stream = client.chat(body).await;
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        let (name, data) = named(&event);
        events.push((Instant::now(), name, data));
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_sign_in_chat_and_write_through_nginx() {
    let provider = fake_openai::spawn().await;
    let (_app, nginx) = behind_nginx(Some(&provider)).await;
    sign_up_sign_in_chat_and_write_through(&nginx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_sign_in_chat_and_write_through_caddy() {
    let provider = fake_openai::spawn().await;
    let (_app, caddy) = behind_caddy(Some(&provider)).await;
    sign_up_sign_in_chat_and_write_through(&caddy).await;
}

/// Ada signs up, signs in from a new browser, chats with a reply streamed word by word (an
/// event stream the proxy must not buffer) and writes, all through `proxy`.
async fn sign_up_sign_in_chat_and_write_through(proxy: &ProxyProcess) {
    let ada = proxy.client_from("127.0.0.2");
    ada.sign_up("ada@example.com", "a good password").await;
    let later = proxy.client_from("127.0.0.2");
    later.sign_in("ada@example.com", "a good password").await;
    let me: UserEnvelope = later.get_as("/api/auth/me").await;
    assert_eq!(me.user.email, "ada@example.com");

    // fake-slow sends a word every 150 ms: through a proxy that buffered, every event would
    // arrive at once when the reply ends.
    let events = stream_chat(
        &later,
        json!({ "content": "one two three four five", "model": "fake-slow" }),
    )
    .await;
    let names: Vec<&str> = events.iter().map(|(_, name, _)| name.as_str()).collect();
    assert_eq!(names.first(), Some(&"message"), "{names:?}");
    assert_eq!(names.last(), Some(&"done"), "{names:?}");
    let first_delta = events
        .iter()
        .find(|(_, name, _)| name == "delta")
        .map(|(arrived, _, _)| *arrived)
        .expect("a delta event");
    let (done_at, _, done) = events.last().expect("events");
    assert!(
        done_at.duration_since(first_delta) >= Duration::from_millis(450),
        "the first word arrived only {:?} before the end: the stream was buffered",
        done_at.duration_since(first_delta)
    );
    assert_eq!(done["message"]["content"], "Echo: one two three four five");
    assert_eq!(done["message"]["status"], "complete");

    let created = later
        .post(
            "/api/chat/sessions",
            json!({ "title": "Through the proxy" }),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let sessions = later.get_json("/api/chat/sessions").await;
    let titles: Vec<&str> = sessions["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter_map(|session| session["title"].as_str())
        .collect();
    assert_eq!(titles, ["Through the proxy", "one two three four five"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_public_origin_may_write_though_nginx_rewrites_host() {
    let (app, nginx) = behind_nginx(None).await;
    let ada = nginx.client_from("127.0.0.2");
    ada.sign_up("ada@example.com", "a good password").await;
    // nginx passes Host as its upstream's name, which is Confab's own address: an Origin
    // matching that Host is still not the public origin.
    for foreign in ["https://evil.example", app.address.as_str()] {
        let refused = ada
            .http
            .request(Method::POST, format!("{}/api/chat/sessions", nginx.address))
            .header("Origin", foreign)
            .json(&json!({ "title": "forged" }))
            .send()
            .await
            .expect("request");
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "Origin {foreign}");
        assert_eq!(error_code(refused).await, "csrf");
    }
    let sessions = ada.get_json("/api/chat/sessions").await;
    assert_eq!(sessions["sessions"], json!([]));
}

/// Bob's account, made from 127.0.0.4, and Mallory at 127.0.0.2 after ten failed sign-ins,
/// each for another unknown email so that only her client's count reaches the limit.
async fn bob_signed_up_and_mallory_failed_ten_times(proxy: &ProxyProcess) -> Client_ {
    let owner = proxy.client_from("127.0.0.4");
    owner.sign_up("bob@example.com", "a good password").await;
    let mallory = proxy.client_from("127.0.0.2");
    for attempt in 0..10 {
        let failed = mallory
            .login(&format!("nobody{attempt}@example.com"), "wrong password")
            .await;
        assert_eq!(
            failed.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    mallory
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_lockout_is_per_client_behind_nginx() {
    let (_app, nginx) = behind_nginx(None).await;
    let mallory = bob_signed_up_and_mallory_failed_ten_times(&nginx).await;
    let locked = mallory.login("bob@example.com", "a good password").await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    // Claiming another address changes nothing: nginx appends the real one to X-Forwarded-For,
    // the rightmost address Confab does not trust, and passes Forwarded on as the client wrote
    // it, which Confab does not read behind a proxy that writes X-Forwarded-*.
    let spoofed = mallory
        .request(Method::POST, "/api/auth/login")
        .header("X-Forwarded-For", "127.0.0.9")
        .header("Forwarded", "for=127.0.0.10")
        .json(&json!({ "email": "bob@example.com", "password": "a good password" }))
        .send()
        .await
        .expect("request");
    assert_eq!(spoofed.status(), StatusCode::TOO_MANY_REQUESTS);

    let bob = nginx.client_from("127.0.0.3");
    let signed_in = bob.login("bob@example.com", "a good password").await;
    assert_eq!(signed_in.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_lockout_is_per_client_behind_caddy() {
    let (_app, caddy) = behind_caddy(None).await;
    let mallory = bob_signed_up_and_mallory_failed_ten_times(&caddy).await;
    let locked = mallory.login("bob@example.com", "a good password").await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    // Caddy, trusting no proxy in front of itself, never passes a client's claim on as the
    // rightmost address, so claiming another address changes nothing.
    let spoofed = mallory
        .request(Method::POST, "/api/auth/login")
        .header("X-Forwarded-For", "127.0.0.9")
        .header("X-Forwarded-Host", "evil.example")
        .json(&json!({ "email": "bob@example.com", "password": "a good password" }))
        .send()
        .await
        .expect("request");
    assert_eq!(spoofed.status(), StatusCode::TOO_MANY_REQUESTS);

    let bob = caddy.client_from("127.0.0.3");
    let signed_in = bob.login("bob@example.com", "a good password").await;
    assert_eq!(signed_in.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    // Only nginx (127.0.0.1) is trusted; this client talks to Confab directly from 127.0.0.2.
    let (app, _nginx) = behind_nginx(None).await;
    let direct = Client_ {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .local_address("127.0.0.2".parse::<std::net::IpAddr>().expect("address"))
            .build()
            .expect("client"),
        base: app.address.clone(),
        token: None,
    };
    // Each attempt for another unknown email, claiming another address: only the count of the
    // real address can reach the limit, and only if the claims are ignored.
    let login_as = |attempt: usize| {
        let claimed = format!("198.51.100.{attempt}");
        direct
            .http
            .post(format!("{}/api/auth/login", app.address))
            .header("X-Forwarded-For", claimed.as_str())
            .header("Forwarded", format!("for={claimed}"))
            .json(&json!({ "email": format!("nobody{attempt}@example.com"), "password": "wrong password" }))
            .send()
    };
    for attempt in 0..10 {
        let failed = login_as(attempt).await.expect("request");
        assert_eq!(
            failed.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    let locked = login_as(10).await.expect("request");
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    drop(direct);
}

/// A misspelt proxy list or public URL stops Confab before it serves anyone, naming the entry.
#[tokio::test]
async fn invalid_proxy_settings_stop_confab_at_start_up() {
    let data = tempfile::tempdir().expect("data directory");
    let start = |name: &str, value: &str| {
        let mut command = confab();
        command
            .arg("serve")
            .env("CONFAB_DATA_DIR", data.path())
            .env("CONFAB_ADDR", "127.0.0.1:0")
            .env(name, value);
        run_to_end(command)
    };
    let proxies = start("CONFAB_TRUSTED_PROXIES", "10.0.0.0/8, nginx").await;
    assert_eq!(proxies.status.code(), Some(2));
    let stderr = &proxies.stderr;
    assert!(
        stderr
            .contains("CONFAB_TRUSTED_PROXIES entry \"nginx\" is not an IP address or CIDR range"),
        "{stderr}"
    );
    let public_url = start("CONFAB_PUBLIC_URL", "chat.example.com").await;
    assert_eq!(public_url.status.code(), Some(2));
    let stderr = &public_url.stderr;
    assert!(
        stderr.contains(
            "CONFAB_PUBLIC_URL \"chat.example.com\" is not an http:// or https:// URL with a host"
        ),
        "{stderr}"
    );
}

/// Signs in through the sign-in page's server function, as the page's form does.
async fn sign_in_on_the_page(
    client: &Client_,
    email: &str,
    password: &str,
) -> (StatusCode, String) {
    use leptos::server_fn::ServerFn;
    let response = client
        .request(Method::POST, app::server_fns::SignIn::PATH)
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_page_counts_each_client_behind_nginx() {
    let (_app, nginx) = behind_nginx(None).await;
    let mallory = bob_signed_up_and_mallory_failed_ten_times(&nginx).await;
    // The page shows the service's sentence, answered 429 like the REST route; the window is
    // 5 minutes.
    let (status, body) = sign_in_on_the_page(&mallory, "bob@example.com", "a good password").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let error: app::error::AppError =
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("not the typed error: {body}"));
    assert_eq!(error.code, "too_many_requests", "{body}");
    let seconds: u64 = error
        .message
        .strip_prefix("too many attempts, try again in ")
        .and_then(|rest| rest.strip_suffix(" seconds"))
        .and_then(|seconds| seconds.parse().ok())
        .unwrap_or_else(|| panic!("not the lockout: {body}"));
    assert!((1..=300).contains(&seconds), "{body}");

    let bob = nginx.client_from("127.0.0.3");
    let (status, body) = sign_in_on_the_page(&bob, "bob@example.com", "a good password").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let user: Value = serde_json::from_str(&body).expect("the user as JSON");
    assert_eq!(user["email"], "bob@example.com");
}

/// Without `CONFAB_PUBLIC_URL`, the origin a trusted proxy forwards (as Caddy does, with
/// `X-Forwarded-Host` and `-Proto`) is the one writes must come from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_public_url_the_origin_a_trusted_proxy_forwards_is_ours() {
    let app = TestApp::spawn_with(|config| {
        config.trusted_proxies =
            confab::http::client::TrustedProxies::parse("127.0.0.1").expect("trusted proxies");
    })
    .await;
    // This client connects from 127.0.0.1 and so stands in for the proxy.
    let proxy = app.client();
    let signup = |origin: &str, email: &str| {
        proxy
            .http
            .post(format!("{}/api/auth/signup", app.address))
            .header("Origin", origin)
            .header("X-Forwarded-For", "198.51.100.7")
            .header("X-Forwarded-Proto", "https")
            .header("X-Forwarded-Host", "chat.example.com")
            .json(&json!({ "email": email, "password": "a good password" }))
            .send()
    };
    for foreign in [
        "http://chat.example.com",
        app.address.as_str(),
        "https://evil.example",
    ] {
        let refused = signup(foreign, "eve@example.com").await.expect("request");
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "Origin {foreign}");
    }
    let created = signup("https://chat.example.com", "ada@example.com")
        .await
        .expect("request");
    assert_eq!(created.status(), StatusCode::CREATED);
}
