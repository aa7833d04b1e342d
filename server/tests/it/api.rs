//! The REST API, told as stories of what clients do, against the real server with a fresh
//! database each time.

use std::time::Duration;

use crate::support::{error_body, error_code, Client_, TestApp, TestProcess};
use confab_core::api::{MessageCreated, MessagePage, SearchPage};
use confab_core::chat_stream::ChatEvent;
use confab_testdata::CapturedLog;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn signing_up_signing_in_and_out() {
    let app = TestApp::spawn().await;
    let browser = app.client();
    let response = browser.signup("Ada@Example.com", "a good password").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookie = response
        .headers()
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP: not Secure ({cookie})"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(
        body["user"]["role"], "admin",
        "the first user administers the instance"
    );

    let me: Value = browser.get("/api/auth/me").await.json().await.unwrap();
    assert_eq!(me["user"]["email"], "ada@example.com");

    assert_eq!(
        browser.post("/api/auth/logout", json!({})).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        browser.get("/api/auth/me").await.status(),
        StatusCode::UNAUTHORIZED
    );

    let wrong = browser.login("ada@example.com", "wrong password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let wrong_body: Value = wrong.json().await.unwrap();
    let unknown = browser.login("nobody@example.com", "a good password").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let unknown_body: Value = unknown.json().await.unwrap();
    assert_eq!(
        wrong_body, unknown_body,
        "the same answer for an unknown email"
    );

    assert_eq!(
        browser
            .login("ADA@example.com", "a good password")
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(browser.get("/api/auth/me").await.status(), StatusCode::OK);

    let second = app.client();
    let response = second.signup("bob@example.com", "a good password").await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["role"], "user");
    let again = app
        .client()
        .signup("bob@example.com", "a good password")
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let weak = app.client().signup("carol@example.com", "short").await;
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(weak).await, "weak_password");
}

#[tokio::test]
async fn sign_in_cookies_are_secure_behind_https() {
    let app =
        TestApp::spawn_with(|config| config.public_url = Some("https://chat.example.com".into()))
            .await;
    // The browser is on the public address, so that is the Origin it sends.
    let response = app
        .client()
        .http
        .post(format!("{}/api/auth/signup", app.address))
        .header("Origin", "https://chat.example.com")
        .json(&json!({ "email": "ada@example.com", "password": "a good password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookie = response
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn closed_signup_admits_only_the_first_account() {
    let app = TestApp::spawn_with(|config| config.signup = confab::config::Signup::Closed).await;
    // The sign-in page of a fresh instance offers the sign-up its first account needs; once
    // that account exists, it says sign-up is closed.
    let sign_up_offered = || async {
        use leptos::server_fn::ServerFn;
        let path = <app::server_fns::SignInOptions as ServerFn>::PATH;
        let options: Value = app
            .client()
            .request(Method::POST, path)
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON");
        options["signup"].clone()
    };
    assert_eq!(sign_up_offered().await, "open");
    app.client()
        .sign_up("admin@example.com", "a good password")
        .await;
    assert_eq!(sign_up_offered().await, "closed");
    let refused = app
        .client()
        .signup("later@example.com", "a good password")
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn repeated_failed_logins_are_limited() {
    let app = TestApp::spawn_with(|config| config.login_attempts = 3).await;
    app.user("ada@example.com").await;
    let attacker = app.client();
    for _ in 0..3 {
        assert_eq!(
            attacker
                .login("ada@example.com", "guess guess")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let blocked = attacker.login("ada@example.com", "a good password").await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(blocked.headers().contains_key("retry-after"));
}

/// A server function's refusal has the REST API's status when a program calls it, but a
/// browser's plain form post (JavaScript off) is still sent back to its page, as leptos_axum
/// answers it, with the error in the query: a 401 there would leave the browser on a blank
/// answer.
#[tokio::test]
async fn a_plain_form_post_that_fails_goes_back_to_its_page() {
    use leptos::server_fn::ServerFn;
    let app = TestApp::spawn().await;
    let path = <app::server_fns::SignIn as ServerFn>::PATH;
    let page = format!("{}/", app.address);
    // Redirects are not followed: the answer itself is what is checked.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let post = |browser: bool| {
        let request = client
            .post(format!("{}{path}", app.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("email=nobody%40example.com&password=guess+guess");
        match browser {
            true => request
                .header("accept", "text/html,application/xhtml+xml")
                .header("referer", &page),
            false => request,
        }
        .send()
    };
    let program = post(false).await.expect("request");
    assert_eq!(program.status(), StatusCode::UNAUTHORIZED);
    let error: app::error::AppError = program.json().await.expect("typed error");
    assert_eq!(error.code, "bad_credentials");
    let browser = post(true).await.expect("request");
    assert_eq!(browser.status(), StatusCode::FOUND);
    // Back to the page, with the error for it to show (server_fn's `__err`, the typed error).
    let location = browser.headers()["location"].to_str().expect("ASCII");
    let (back, query) = location.split_once('?').expect("the error in the query");
    assert_eq!(back, page);
    assert!(query.contains("__err="), "{location}");
    // So is a form post the server cannot read (a field missing).
    let unreadable = client
        .post(format!("{}{path}", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html,application/xhtml+xml")
        .header("referer", &page)
        .body("email=nobody%40example.com")
        .send()
        .await
        .expect("request");
    assert_eq!(unreadable.status(), StatusCode::FOUND);
    let location = unreadable.headers()["location"].to_str().expect("ASCII");
    assert!(location.starts_with(&format!("{page}?")), "{location}");
    assert!(location.contains("__err="), "{location}");
}

/// A server function call the server cannot read is the caller's error, in Confab's words:
/// 413 over the body limit, 400 for fields that are not the function's (server_fn answered
/// both 500, with its own wording).
#[tokio::test]
async fn a_server_function_call_that_cannot_be_read_is_refused_in_confabs_words() {
    use leptos::server_fn::ServerFn;
    let app = TestApp::spawn().await;
    let path = <app::server_fns::SignIn as ServerFn>::PATH;
    let post = |body: String| {
        app.client()
            .request(Method::POST, path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let oversized = format!(
        "email=a%40example.com&password={}",
        "x".repeat(app.config.max_body_bytes + 1)
    );
    for (body, status, code, message) in [
        (
            oversized,
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the request body is larger than this server accepts",
        ),
        (
            "email=a%40example.com".to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the request's fields could not be read",
        ),
    ] {
        let response = post(body).await.expect("request");
        let got = response.status();
        let error: app::error::AppError = response.json().await.expect("typed error");
        assert_eq!(
            (got, error),
            (status, app::error::AppError::new(code, message))
        );
    }
}

/// The UI's sign-in (a server function) keeps the same limit as the REST API and answers the
/// same way: 429 with `Retry-After`, and the limit's sentence for the page to show.
#[tokio::test]
async fn the_sign_in_server_function_is_limited_like_the_api() {
    use leptos::server_fn::ServerFn;
    let app = TestApp::spawn_with(|config| config.login_attempts = 3).await;
    let attacker = app.client();
    let path = <app::server_fns::SignIn as ServerFn>::PATH;
    let try_sign_in = || {
        attacker
            .request(Method::POST, path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("email=ada%40example.com&password=guess+guess")
            .send()
    };
    let opened = std::time::Instant::now();
    for attempt in 0..3 {
        let failed = try_sign_in().await.expect("request");
        // A wrong password is the client's error, answered as REST answers it: not a 500.
        assert_eq!(failed.status(), StatusCode::UNAUTHORIZED, "{attempt}");
        assert_eq!(failed.headers().get("retry-after"), None);
    }
    let limited = try_sign_in().await.expect("request");
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .expect("ASCII")
        .parse()
        .expect("whole seconds");
    let earliest = 300 - opened.elapsed().as_secs() - 1;
    assert!((earliest..=300).contains(&retry_after), "{retry_after}");
    // The typed error, with the REST API's code, which the page decodes to choose its words.
    let error: app::error::AppError = limited.json().await.expect("the typed error");
    assert_eq!(
        error,
        app::error::AppError::new(
            "too_many_requests",
            format!("too many attempts, try again in {retry_after} seconds")
        )
    );
}

/// Ten sign-ups from one address in an hour; the eleventh is refused for the rest of the hour,
/// whichever email it names, while another address still signs up.
#[tokio::test]
async fn sign_ups_are_limited_per_address() {
    let app = TestApp::spawn().await;
    let crowd = app.client();
    let window_opened = std::time::Instant::now();
    for number in 0..10 {
        let response = crowd
            .signup(&format!("person{number}@example.com"), "a good password")
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "sign-up {number}");
    }
    let refused = crowd
        .signup("one-more@example.com", "a good password")
        .await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after = refused.headers()["retry-after"]
        .to_str()
        .expect("ASCII")
        .parse::<u64>()
        .expect("whole seconds");
    // The hour counts from the first sign-up, rounded up to whole seconds.
    let earliest = 3600 - window_opened.elapsed().as_secs() - 1;
    assert!((earliest..=3600).contains(&retry_after), "{retry_after}");
    let body: Value = refused.json().await.expect("json");
    assert_eq!(
        body,
        json!({ "error": {
            "code": "too_many_requests",
            "message": format!("too many attempts, try again in {retry_after} seconds"),
        }})
    );
    let elsewhere = Client_::browser_from(&app.address, "127.0.0.2");
    let response = elsewhere
        .signup("one-more@example.com", "a good password")
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn every_private_route_needs_authentication() {
    let app = TestApp::spawn().await;
    let anonymous = app.client();
    let id = "01900000-0000-7000-8000-000000000000";
    let routes: Vec<(Method, String)> = vec![
        (Method::GET, "/api/auth/me".into()),
        (Method::DELETE, "/api/auth/me".into()),
        (Method::GET, "/api/tokens".into()),
        (Method::POST, "/api/tokens".into()),
        (Method::DELETE, format!("/api/tokens/{id}")),
        (Method::GET, "/api/chat/sessions".into()),
        (Method::POST, "/api/chat/sessions".into()),
        (Method::GET, format!("/api/chat/sessions/{id}")),
        (Method::PUT, format!("/api/chat/sessions/{id}")),
        (Method::DELETE, format!("/api/chat/sessions/{id}")),
        (Method::DELETE, format!("/api/chat/sessions/{id}/messages")),
        (Method::GET, format!("/api/chat/sessions/{id}/export")),
        (Method::POST, "/api/chat/sessions/export".into()),
        (Method::GET, format!("/api/chat/messages?sessionId={id}")),
        (Method::POST, "/api/chat/messages".into()),
        (Method::GET, "/api/chat/search?q=x".into()),
        (Method::PUT, format!("/api/chat/messages/{id}/star")),
        (Method::DELETE, format!("/api/chat/messages/{id}/star")),
        (Method::GET, "/api/chat/starred".into()),
        (Method::GET, "/api/export".into()),
        (Method::POST, "/api/import".into()),
    ];
    for (method, path) in routes {
        let response = anonymous
            .request(method.clone(), &path)
            .json(&json!({"role": "user", "content": "x", "name": "x", "title": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        assert_eq!(
            error_code(response).await,
            "unauthorized",
            "{method} {path}"
        );
    }
    assert_eq!(anonymous.get("/api/health").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn api_tokens_authenticate_scripts() {
    let app = TestApp::spawn().await;
    let ada = app.user("ada@example.com").await;
    let response = ada
        .post("/api/tokens", json!({ "name": "backup script" }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let secret = created["token"].as_str().unwrap().to_owned();

    let listed: Value = ada.get("/api/tokens").await.json().await.unwrap();
    assert_eq!(listed["tokens"].as_array().unwrap().len(), 1);
    assert!(
        !listed.to_string().contains(&secret),
        "the secret is shown once only"
    );

    let mut script = app.client();
    script.token = Some(secret.clone());
    let me: Value = script.get("/api/auth/me").await.json().await.unwrap();
    assert_eq!(me["user"]["email"], "ada@example.com");
    // Bearer writes need no CSRF proof, even from another origin.
    let write = script
        .request(Method::POST, "/api/chat/messages")
        .header("Origin", "https://elsewhere.example")
        .json(&json!({ "role": "user", "content": "from a script" }))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), StatusCode::CREATED);

    let id = created["id"].as_str().unwrap();
    assert_eq!(
        ada.delete(&format!("/api/tokens/{id}")).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        script.get("/api/auth/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    script.token = Some("cfb_not-a-real-token".into());
    assert_eq!(
        script.get("/api/auth/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn cookie_writes_from_another_site_are_refused() {
    let app = TestApp::spawn().await;
    let ada = app.user("ada@example.com").await;
    let forged = ada
        .http
        .post(format!("{}/api/chat/sessions", ada.base))
        .header("Origin", "https://evil.example")
        .json(&json!({ "title": "forged" }))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let no_origin = ada
        .http
        .post(format!("{}/api/chat/sessions", ada.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_origin.status(), StatusCode::FORBIDDEN);
    // HTTP/1.0 needs no Host: a request that names none addressed no origin, so without a
    // public URL even Confab's own origin does not vouch for it. The same request naming its
    // host is a write from Confab's own page.
    let signed_in = app
        .client()
        .login("ada@example.com", "a good password")
        .await;
    let cookie = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| {
            value
                .split(';')
                .next()
                .filter(|pair| pair.starts_with("confab_session="))
        })
        .expect("a session cookie")
        .to_owned();
    let address = app.address.trim_start_matches("http://");
    let raw_write = |host: Option<&str>| {
        let host = host
            .map(|host| format!("Host: {host}\r\n"))
            .unwrap_or_default();
        let body = r#"{"title":"raw"}"#;
        format!(
            "POST /api/chat/sessions HTTP/1.0\r\n{host}Origin: {}\r\nCookie: {cookie}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            app.address,
            body.len()
        )
    };
    assert_eq!(
        status_line(address, &raw_write(None)).await,
        "HTTP/1.0 403 Forbidden"
    );
    let sessions: Value = ada.get("/api/chat/sessions").await.json().await.unwrap();
    assert!(
        sessions["sessions"].as_array().unwrap().is_empty(),
        "nothing was created"
    );
    assert_eq!(
        status_line(address, &raw_write(Some(address))).await,
        "HTTP/1.0 201 Created"
    );
}

/// The status line of the answer to `request`, sent as it is to `address`.
async fn status_line(address: &str, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    answer.lines().next().unwrap_or_default().to_owned()
}

both_backends!(
    a_conversation_from_first_message_to_deletion,
    |backend| async move {
        let app = TestApp::spawn_on(backend).await;
        let ada = app.user("ada@example.com").await;

        let first = ada
            .message(None, "user", "Plan a trip to Lisbon\nwith details")
            .await;
        let session_id = first["session"]["id"].as_str().unwrap().to_owned();
        assert_eq!(first["session"]["title"], "Plan a trip to Lisbon");
        assert_eq!(first["message"]["type"], "chat");
        assert_eq!(first["message"]["status"], "complete");

        let reply = ada
            .post(
                "/api/chat/messages",
                json!({
                    "sessionId": session_id, "role": "assistant", "content": "Day one: Alfama.",
                    "model": "llama3.1", "promptTokens": 10, "completionTokens": 20,
                    "parentId": first["message"]["id"], "type": "chat"
                }),
            )
            .await;
        assert_eq!(reply.status(), StatusCode::CREATED);
        let reply: Value = reply.json().await.unwrap();
        assert_eq!(reply["message"]["parentId"], first["message"]["id"]);

        let detail: Value = ada
            .get(&format!("/api/chat/sessions/{session_id}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(detail["messageCount"], 2);
        assert_eq!(detail["promptTokens"], 10);
        assert_eq!(detail["completionTokens"], 20);
        assert_eq!(detail["models"], json!(["llama3.1"]));
        assert!(detail["lastMessageAt"].is_string());

        let messages = ada.messages(&session_id).await;
        assert_eq!(
            contents_of(&messages),
            ["Plan a trip to Lisbon\nwith details", "Day one: Alfama."]
        );
        assert!(messages.next_cursor.is_none());

        let renamed = ada
            .put(
                &format!("/api/chat/sessions/{session_id}"),
                json!({ "title": "Lisbon", "pinned": true, "archived": false, "isActive": true }),
            )
            .await;
        assert_eq!(renamed.status(), StatusCode::OK);
        let renamed: Value = renamed.json().await.unwrap();
        assert_eq!(renamed["title"], "Lisbon");
        assert_eq!(renamed["pinned"], true);

        let pinned: Value = ada
            .get("/api/chat/sessions?pinned=true")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(pinned["sessions"].as_array().unwrap().len(), 1);
        let archived: Value = ada
            .get("/api/chat/sessions?archived=true")
            .await
            .json()
            .await
            .unwrap();
        assert!(archived["sessions"].as_array().unwrap().is_empty());

        assert_eq!(
            ada.delete(&format!("/api/chat/sessions/{session_id}/messages"))
                .await
                .status(),
            StatusCode::NO_CONTENT
        );
        let cleared: Value = ada
            .get(&format!("/api/chat/sessions/{session_id}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(cleared["messageCount"], 0);

        ada.message(Some(&session_id), "user", "again").await;
        assert_eq!(
            ada.delete(&format!("/api/chat/sessions/{session_id}"))
                .await
                .status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            ada.get(&format!("/api/chat/sessions/{session_id}"))
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
        let gone = ada
            .get(&format!("/api/chat/messages?sessionId={session_id}"))
            .await;
        assert_eq!(
            gone.status(),
            StatusCode::NOT_FOUND,
            "its messages went with it"
        );
        let message_id = reply["message"]["id"].as_str().unwrap();
        let search: Value = ada
            .get("/api/chat/search?q=Alfama")
            .await
            .json()
            .await
            .unwrap();
        assert!(
            search["results"].as_array().unwrap().is_empty(),
            "and left the search index ({message_id})"
        );
    }
);

#[tokio::test]
async fn another_users_things_are_not_found() {
    let app = TestApp::spawn().await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let first = ada.message(None, "user", "ada's secret").await;
    let session_id = first["session"]["id"].as_str().unwrap();
    let message_id = first["message"]["id"].as_str().unwrap();

    for response in [
        bob.get(&format!("/api/chat/sessions/{session_id}")).await,
        bob.put(
            &format!("/api/chat/sessions/{session_id}"),
            json!({ "title": "mine" }),
        )
        .await,
        bob.delete(&format!("/api/chat/sessions/{session_id}"))
            .await,
        bob.delete(&format!("/api/chat/sessions/{session_id}/messages"))
            .await,
        bob.get(&format!("/api/chat/sessions/{session_id}/export"))
            .await,
        bob.get(&format!("/api/chat/messages?sessionId={session_id}"))
            .await,
        bob.post(
            "/api/chat/messages",
            json!({ "sessionId": session_id, "role": "user", "content": "intrusion" }),
        )
        .await,
    ] {
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(error_code(response).await, "not_found");
    }
    let reply_to_foreign = bob
        .post(
            "/api/chat/messages",
            json!({ "role": "user", "content": "reply", "parentId": message_id }),
        )
        .await;
    assert_eq!(reply_to_foreign.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let search: Value = bob
        .get("/api/chat/search?q=secret")
        .await
        .json()
        .await
        .unwrap();
    assert!(search["results"].as_array().unwrap().is_empty());
    let still: Value = ada
        .get(&format!("/api/chat/sessions/{session_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["messageCount"], 1);
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let ada = app.user("ada@example.com").await;
    let first = ada.message(None, "user", "hello").await;
    let session_id = first["session"]["id"].as_str().unwrap().to_owned();

    let malformed = ada
        .request(Method::POST, "/api/chat/messages")
        .header("content-type", "application/json")
        .body("{\"role\": \"user\", \"content\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(malformed).await, "malformed_json");

    let wrong_shape = ada
        .post("/api/chat/messages", json!({ "role": 5, "content": [] }))
        .await;
    assert_eq!(wrong_shape.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let huge = ada
        .post(
            "/api/chat/messages",
            json!({ "sessionId": session_id, "role": "user", "content": "x".repeat(100 * 1024) }),
        )
        .await;
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(huge).await, "body_too_large");

    let cases = [
        (
            json!({ "sessionId": session_id, "role": "wizard", "content": "hi" }),
            "invalid_role",
        ),
        (
            json!({ "sessionId": session_id, "role": "user", "content": "   " }),
            "empty_content",
        ),
        (
            json!({ "sessionId": session_id, "role": "user", "content": "hi", "type": "Not A Slug!" }),
            "invalid_type",
        ),
        (
            json!({ "sessionId": session_id, "role": "user", "content": "hi", "promptTokens": -1 }),
            "invalid_tokens",
        ),
        (
            json!({ "sessionId": session_id, "role": "user", "content": "hi", "parentId": "nope" }),
            "invalid_id",
        ),
        (
            json!({ "sessionId": session_id, "role": "user", "content": "hi", "clientId": "" }),
            "invalid_client_id",
        ),
    ];
    for (body, code) in cases {
        let response = ada.post("/api/chat/messages", body.clone()).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        assert_eq!(error_code(response).await, code, "{body}");
    }
    let bad_id = ada.get("/api/chat/sessions/not-an-id").await;
    assert_eq!(bad_id.status(), StatusCode::NOT_FOUND);
    let bad_session = ada
        .post(
            "/api/chat/messages",
            json!({ "sessionId": "not-an-id", "role": "user", "content": "hi" }),
        )
        .await;
    assert_eq!(bad_session.status(), StatusCode::NOT_FOUND);
    let missing_param = ada.get("/api/chat/messages").await;
    assert_eq!(missing_param.status(), StatusCode::BAD_REQUEST);
    let bad_limit = ada
        .get(&format!(
            "/api/chat/messages?sessionId={session_id}&limit=abc"
        ))
        .await;
    assert_eq!(bad_limit.status(), StatusCode::BAD_REQUEST);
    let bad_cursor = ada.get("/api/chat/sessions?cursor=%%%").await;
    assert_eq!(bad_cursor.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let empty_title = ada
        .put(
            &format!("/api/chat/sessions/{session_id}"),
            json!({ "title": "" }),
        )
        .await;
    assert_eq!(empty_title.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let no_route = ada.get("/api/nothing/here").await;
    assert_eq!(no_route.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(no_route).await, "not_found");

    let detail: Value = ada
        .get(&format!("/api/chat/sessions/{session_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        detail["messageCount"], 1,
        "nothing was saved by the refused requests"
    );
}

/// serde builds a struct from an array of its fields in order, so `[null, null]` once renamed
/// nothing and answered 200 (found by schemathesis). Every body is a JSON object; `null` stands
/// for an absent optional body.
#[tokio::test]
async fn a_body_that_is_not_a_json_object_is_refused() {
    let app = TestApp::spawn().await;
    let ada = app.user("ada@example.com").await;
    let first = ada.message(None, "user", "hello").await;
    let session_id = first["session"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/chat/sessions/{session_id}");
    for body in [
        json!([null, null]),
        json!(["renamed"]),
        json!("renamed"),
        json!(7),
    ] {
        let response = ada.put(&path, body.clone()).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        let answer: Value = response.json().await.unwrap();
        assert_eq!(
            answer,
            json!({ "error": { "code": "invalid_body", "message": "the body must be a JSON object" } }),
            "{body}"
        );
    }
    let session: Value = ada.get(&path).await.json().await.unwrap();
    assert_eq!(
        session["title"], first["session"]["title"],
        "nothing renamed"
    );

    // An optional body may be absent, or `null`; an array is still refused.
    let with_null = ada.post("/api/chat/sessions", Value::Null).await;
    assert_eq!(with_null.status(), StatusCode::CREATED);
    let created: Value = with_null.json().await.unwrap();
    assert_eq!(created["title"], "New chat");
    let with_array = ada.post("/api/chat/sessions", json!([null])).await;
    assert_eq!(with_array.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // An optional body that is there is read, not ignored: without a content type it is
    // refused, whether its length is given or it is sent chunked; an empty one is absent.
    let create = |body: reqwest::Body, content_type: Option<&str>| {
        let mut request = ada.request(Method::POST, "/api/chat/sessions").body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send()
    };
    let chunked = |text: &'static str| {
        reqwest::Body::wrap_stream(futures::stream::iter([Ok::<_, std::io::Error>(text)]))
    };
    let titled = r#"{"title":"Typed"}"#;
    for (what, body, content_type, status) in [
        (
            "untyped",
            reqwest::Body::from(titled),
            None,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "untyped, chunked",
            chunked(titled),
            None,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        ("empty", reqwest::Body::from(""), None, StatusCode::CREATED),
        ("empty, chunked", chunked(""), None, StatusCode::CREATED),
        (
            "empty JSON, chunked",
            chunked(""),
            Some("application/json"),
            StatusCode::CREATED,
        ),
        (
            "JSON, chunked",
            chunked(titled),
            Some("application/json"),
            StatusCode::CREATED,
        ),
    ] {
        let response = create(body, content_type).await.expect("request");
        assert_eq!(response.status(), status, "{what}");
        if status == StatusCode::CREATED {
            let created: Value = response.json().await.unwrap();
            let title = if what == "JSON, chunked" {
                "Typed"
            } else {
                "New chat"
            };
            assert_eq!(created["title"], title, "{what}");
        }
    }

    // The order of the checks: the content type before the size, the size before the syntax,
    // whatever the body holds. A long array is refused without being built.
    let oversized = "[".to_owned() + &"0,".repeat(200 * 1024) + "0]";
    let untyped = ada
        .request(Method::PUT, &path)
        .header("content-type", "text/plain")
        .body(oversized.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(untyped.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let too_large = ada
        .request(Method::PUT, &path)
        .header("content-type", "application/json")
        .body(oversized)
        .send()
        .await
        .unwrap();
    assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let answer: Value = too_large.json().await.unwrap();
    assert_eq!(
        answer,
        json!({ "error": { "code": "body_too_large", "message": "the request body is larger than this server accepts" } })
    );
    let long_array = "[".to_owned() + &"0,".repeat(30 * 1024) + "0]";
    let refused = ada
        .request(Method::PUT, &path)
        .header("content-type", "application/json")
        .body(long_array)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let broken = ada
        .request(Method::PUT, &path)
        .header("content-type", "application/json")
        .body("[0, 1")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(broken).await, "malformed_json");
}

/// The API's own document is served, and it is the committed one (`docs/openapi.json`).
#[tokio::test]
async fn the_openapi_document_is_served() {
    let app = TestApp::spawn().await;
    let response = reqwest::get(format!("{}/api/openapi.json", app.address))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let served = response.text().await.unwrap();
    let committed = include_str!("../../../docs/openapi.json");
    assert!(
        served == committed,
        "the served document is not docs/openapi.json"
    );
}

/// The contents of a page of messages, in its order.
fn contents_of(page: &MessagePage) -> Vec<&str> {
    page.messages
        .iter()
        .map(|message| message.content.as_str())
        .collect()
}

/// The contents of a session's messages, oldest first.
async fn contents(client: &Client_, session_id: &str) -> Vec<String> {
    client
        .messages(session_id)
        .await
        .messages
        .into_iter()
        .map(|message| message.content)
        .collect()
}

both_backends!(
    acknowledged_messages_survive_restarts_and_kills,
    |backend| async move {
        // In this process: a graceful stop and a new server on the same data.
        let mut app = TestApp::spawn_on(backend).await;
        let mut ada = app.user("ada@example.com").await;
        let first = ada.message(None, "user", "before the restart").await;
        let session_id = first["session"]["id"].as_str().unwrap().to_owned();
        let old_address = app.address.clone();
        app.restart().await;
        assert_ne!(app.address, old_address);
        ada.follow(&app.address);
        assert_eq!(
            contents(&ada, &session_id).await,
            ["before the restart"],
            "still signed in, and the message is there"
        );

        // The real binary: SIGKILL loses nothing acknowledged; SIGTERM exits cleanly.
        let mut process = TestProcess::start(backend, &[]).await;
        let mut grace = process.client();
        grace.sign_up("grace@example.com", "a good password").await;
        let first = grace
            .message(None, "user", "acknowledged before SIGKILL")
            .await;
        let session_id = first["session"]["id"].as_str().unwrap().to_owned();
        process.kill_9();
        let status = process.wait_exit(Duration::from_secs(5)).await.unwrap();
        assert!(!status.success(), "{status}");
        process.restart().await;
        grace.follow(&process.url);
        assert_eq!(
            contents(&grace, &session_id).await,
            ["acknowledged before SIGKILL"]
        );
        grace
            .message(Some(&session_id), "user", "acknowledged before SIGTERM")
            .await;
        process.terminate();
        let status = process.wait_exit(Duration::from_secs(30)).await;
        assert!(
            status.is_some_and(|status| status.success()),
            "{status:?}\n{}",
            process.output()
        );
        process.restart().await;
        grace.follow(&process.url);
        assert_eq!(
            contents(&grace, &session_id).await,
            ["acknowledged before SIGKILL", "acknowledged before SIGTERM"]
        );
    }
);

both_backends!(a_repeated_client_id_saves_once, |backend| async move {
    let app = TestApp::spawn_on(backend).await;
    let ada = app.user("ada@example.com").await;
    let body = json!({ "role": "user", "content": "retry me", "clientId": "tab-1:42" });
    let first = ada.post("/api/chat/messages", body.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let second = ada.post("/api/chat/messages", body).await;
    assert_eq!(second.status(), StatusCode::OK);
    let second: Value = second.json().await.unwrap();
    assert_eq!(first["message"]["id"], second["message"]["id"]);
    let sessions: Value = ada.get("/api/chat/sessions").await.json().await.unwrap();
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(sessions["sessions"][0]["messageCount"], 1);
});

#[tokio::test]
async fn lists_are_cursor_paginated_with_clamped_limits() {
    let app = TestApp::spawn().await;
    let ada = app.user("ada@example.com").await;
    for n in 0..5 {
        ada.session(&format!("chat {n}")).await;
    }
    let mut titles = Vec::new();
    let mut path = "/api/chat/sessions?limit=2".to_owned();
    loop {
        let page: Value = ada.get(&path).await.json().await.unwrap();
        titles.extend(
            page["sessions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["title"].as_str().unwrap().to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/api/chat/sessions?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(titles, ["chat 4", "chat 3", "chat 2", "chat 1", "chat 0"]);
    let clamped: Value = ada
        .get("/api/chat/sessions?limit=100000")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(clamped["sessions"].as_array().unwrap().len(), 5);
    let zero: Value = ada
        .get("/api/chat/sessions?limit=0")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(zero["sessions"].as_array().unwrap().len(), 1);

    let session = ada.session("long").await;
    let id = session["id"].as_str().unwrap();
    for n in 0..7 {
        ada.message(Some(id), "user", &format!("line {n}")).await;
    }
    let latest: Value = ada
        .get(&format!("/api/chat/messages?sessionId={id}&limit=3"))
        .await
        .json()
        .await
        .unwrap();
    let contents: Vec<&str> = latest["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        ["line 4", "line 5", "line 6"],
        "the newest page, in chronological order"
    );
    let before = latest["nextCursor"].as_str().unwrap();
    let earlier: Value = ada
        .get(&format!(
            "/api/chat/messages?sessionId={id}&limit=3&before={before}"
        ))
        .await
        .json()
        .await
        .unwrap();
    let contents: Vec<&str> = earlier["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["line 1", "line 2", "line 3"]);
}

#[tokio::test]
async fn search_finds_ranks_filters_and_survives_hostile_text() {
    let app = TestApp::spawn().await;
    let ada = app.user("ada@example.com").await;
    let one = ada
        .message(None, "user", "My sourdough starter smells of acetone")
        .await;
    let sid = one["session"]["id"].as_str().unwrap().to_owned();
    ada.post("/api/chat/messages", json!({ "sessionId": sid, "role": "assistant", "content": "Sourdough starters smell of acetone when hungry: feed the sourdough starter more often. Sourdough loves routine.", "type": "explain", "model": "mistral" })).await;
    ada.message(
        None,
        "user",
        "Unrelated: a <script>alert(1)</script> about quasar physics",
    )
    .await;

    let found: Value = ada
        .get("/api/chat/search?q=sourdough")
        .await
        .json()
        .await
        .unwrap();
    let results = found["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(
        results[0]["role"], "assistant",
        "more occurrences rank first"
    );
    assert_eq!(results[0]["type"], "explain");
    assert_eq!(
        results[0]["sessionTitle"],
        "My sourdough starter smells of acetone"
    );
    assert!(results[0]["snippet"]
        .as_str()
        .unwrap()
        .contains("<mark>Sourdough</mark>"));

    let quasar: Value = ada
        .get("/api/chat/search?q=quasar")
        .await
        .json()
        .await
        .unwrap();
    let snippet = quasar["results"][0]["snippet"].as_str().unwrap();
    assert!(snippet.contains("&lt;script&gt;"), "{snippet}");
    assert!(!snippet.contains("<script>"), "{snippet}");

    let typed: Value = ada
        .get("/api/chat/search?q=sourdough&type=explain")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(typed["results"].as_array().unwrap().len(), 1);
    let by_model: Value = ada
        .get("/api/chat/search?q=acetone&model=mistral&role=assistant")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_model["results"].as_array().unwrap().len(), 1);

    for hostile in [
        "%22",
        "sourdough*",
        "NEAR(sourdough%20starter",
        "(((",
        "AND%20OR%20NOT",
        "%22unbalanced",
        "-",
        "*",
        "sourdough%22%20OR%20%221",
    ] {
        let response = ada.get(&format!("/api/chat/search?q={hostile}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{hostile}");
        let body: Value = response.json().await.unwrap();
        assert!(body["results"].is_array(), "{hostile}");
    }
    let missing = ada.get("/api/chat/search").await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let bad_time = ada.get("/api/chat/search?q=x&from=yesterday").await;
    assert_eq!(bad_time.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// The search box's `key:value` filters (`service::search_syntax`) narrow a search as the
/// parameters do, checked by the same rules, and a filter given twice must agree.
#[tokio::test]
async fn filters_typed_into_the_search_box_narrow_the_search() {
    let app = TestApp::spawn().await;
    let ada = app.user("ada@example.com").await;
    let question = ada
        .post_message(
            None,
            "user",
            "Where is the harbour light? See https://example.org",
        )
        .await;
    let sid = question.session.id.clone();
    let answer: MessageCreated = ada
        .post(
            "/api/chat/messages",
            json!({ "sessionId": sid, "role": "assistant", "content": "The harbour light is on the pier.", "type": "explain", "model": "my local model" }),
        )
        .await
        .json()
        .await
        .expect("the answer");
    let (asked, answered) = (question.message.id, answer.message.id);
    let found = |q: &'static str| {
        let ada = &ada;
        async move {
            let response = ada.search_with(&[("q", q)]).await;
            assert_eq!(response.status(), StatusCode::OK, "{q}");
            let page: SearchPage = response.json().await.expect("a search page");
            let mut ids: Vec<String> = page.results.into_iter().map(|hit| hit.message_id).collect();
            ids.sort();
            ids
        }
    };
    let both = {
        let mut both = vec![asked.clone(), answered.clone()];
        both.sort();
        both
    };
    assert_eq!(found("harbour").await, both);
    assert_eq!(
        found(r#"harbour model:"my local model""#).await,
        vec![answered.clone()]
    );
    assert_eq!(found("ROLE:User harbour").await, vec![asked.clone()]);
    assert_eq!(found("harbour type:Explain").await, vec![answered.clone()]);
    assert_eq!(
        found("harbour after:2000-01-01 before:2999-01-01").await,
        both
    );
    assert_eq!(
        found("harbour before:2000-01-01").await,
        Vec::<String>::new()
    );
    assert_eq!(
        found("harbour after:2999-01-01T00:00:00Z").await,
        Vec::<String>::new()
    );
    assert_eq!(
        found("harbour role:assistant role:assistant").await,
        vec![answered.clone()],
        "a filter repeated with the same value"
    );
    // A key the search box does not know stays words to search.
    assert_eq!(found("https://example.org").await, vec![asked.clone()]);

    let refused = [
        (
            vec![("q", "harbour role:user role:assistant")],
            "conflicting_filter",
            "role: is given twice with different values",
        ),
        (
            vec![("q", "harbour model:a"), ("model", "b")],
            "conflicting_filter",
            "model: is given twice with different values",
        ),
        (
            vec![("q", "harbour after:yesterday")],
            "invalid_time",
            r#"after: takes a date (YYYY-MM-DD) or an RFC 3339 time (got "yesterday")"#,
        ),
        (
            vec![("q", "harbour role:captain")],
            "invalid_role",
            r#"role must be one of system, user, assistant, tool (got "captain")"#,
        ),
    ];
    for (params, code, message) in refused {
        let response = ada.search_with(&params).await;
        let status = response.status();
        let body = error_body(response).await;
        assert_eq!(
            (
                status,
                body.error.code.as_str(),
                body.error.message.as_str()
            ),
            (StatusCode::UNPROCESSABLE_ENTITY, code, message),
            "{params:?}"
        );
    }
}

/// `POST /api/chat/sessions/bulk`: one request archives, deletes and restores many sessions;
/// what it cannot apply to is listed, and a wrong request is refused whole.
#[tokio::test]
async fn a_bulk_action_is_one_request_for_many_sessions() {
    let app = TestApp::spawn().await;
    let ada = app.user("ada@example.com").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(
            ada.post_message(None, "user", &format!("bulk {n}"))
                .await
                .session
                .id,
        );
    }
    let bob = app.user("bob@example.com").await;
    let bobs = bob.post_message(None, "user", "mine").await.session.id;

    let answer = ada
        .post(
            "/api/chat/sessions/bulk",
            json!({ "ids": [ids[2], bobs, ids[0]], "action": "delete" }),
        )
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let body: Value = answer.json().await.expect("json");
    assert_eq!(
        body,
        json!({ "applied": [ids[2], ids[0]], "skipped": [bobs] })
    );
    let left = ada.sessions().await;
    let left: Vec<&str> = left.sessions.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(left, [ids[1].as_str()]);
    let restored: Value = ada
        .post(
            "/api/chat/sessions/bulk",
            json!({ "ids": [ids[0], ids[2]], "action": "restore" }),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        restored,
        json!({ "applied": [ids[0], ids[2]], "skipped": [] })
    );
    assert_eq!(
        bob.sessions().await.sessions.len(),
        1,
        "Bob's session stays"
    );

    for (body, code) in [
        (json!({ "ids": [], "action": "archive" }), "invalid_ids"),
        (
            json!({ "ids": vec![ids[0].clone(); 1001], "action": "archive" }),
            "invalid_ids",
        ),
        (
            json!({ "ids": ["nope"], "action": "archive" }),
            "invalid_ids",
        ),
    ] {
        let refused = ada.post("/api/chat/sessions/bulk", body).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_code(refused).await, code);
    }
    let unknown_action = ada
        .post(
            "/api/chat/sessions/bulk",
            json!({ "ids": [ids[0]], "action": "explode" }),
        )
        .await;
    assert_eq!(unknown_action.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let anonymous = app
        .client()
        .post(
            "/api/chat/sessions/bulk",
            json!({ "ids": [ids[0]], "action": "archive" }),
        )
        .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn export_and_import_round_trip() {
    let app = TestApp::spawn().await;
    let ada = app.user("ada@example.com").await;
    let first = ada.message(None, "user", "Export this conversation").await;
    let sid = first["session"]["id"].as_str().unwrap().to_owned();
    ada.post("/api/chat/messages", json!({ "sessionId": sid, "role": "assistant", "content": "```python\nprint('hi')\n```", "model": "qwen2", "parentId": first["message"]["id"] })).await;

    let json_export = ada
        .get(&format!("/api/chat/sessions/{sid}/export?format=json"))
        .await;
    assert_eq!(json_export.status(), StatusCode::OK);
    assert!(json_export.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("export-this-conversation.json"));
    let document: Value = json_export.json().await.unwrap();
    assert_eq!(
        document["sessions"][0]["messages"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let markdown = ada
        .get(&format!("/api/chat/sessions/{sid}/export?format=markdown"))
        .await;
    assert_eq!(markdown.status(), StatusCode::OK);
    let text = markdown.text().await.unwrap();
    assert!(text.starts_with("# Export this conversation"), "{text}");
    assert!(text.contains("## Assistant (qwen2)"), "{text}");
    assert!(text.contains("```python"), "{text}");
    let bad_format = ada
        .get(&format!("/api/chat/sessions/{sid}/export?format=pdf"))
        .await;
    assert_eq!(bad_format.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let account = ada.get("/api/export").await;
    assert_eq!(account.status(), StatusCode::OK);
    let backup: Value = account
        .json()
        .await
        .expect("the streamed export is one JSON document");
    assert_eq!(backup["format"], "confab");
    assert_eq!(backup["sessions"].as_array().unwrap().len(), 1);

    let bob = app.user("bob@example.com").await;
    let imported = bob.post("/api/import", backup.clone()).await;
    assert_eq!(imported.status(), StatusCode::OK);
    let report: Value = imported.json().await.unwrap();
    assert_eq!(report["sessions"], 1);
    assert_eq!(report["messages"], 2);
    let again: Value = bob.post("/api/import", backup).await.json().await.unwrap();
    assert_eq!(again["messages"], 0, "re-importing adds nothing");
    assert_eq!(again["skipped"], 2);

    let bobs: Value = bob.get("/api/chat/sessions").await.json().await.unwrap();
    assert_eq!(bobs["sessions"][0]["title"], "Export this conversation");
    assert_eq!(bobs["sessions"][0]["messageCount"], 2);

    let not_json = bob
        .request(Method::POST, "/api/import")
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = bob
        .post("/api/import", json!({ "something": "else" }))
        .await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let too_big = bob
        .post(
            "/api/import",
            json!({ "format": "confab", "padding": "x".repeat(300 * 1024) }),
        )
        .await;
    assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn health_and_metrics_answer() {
    let app = TestApp::spawn().await;
    let anonymous = app.client();
    let health: Value = anonymous.get("/api/health").await.json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let metrics = anonymous.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(
            "confab_http_requests_total{method=\"GET\",route=\"/api/health\",status=\"200\"} 1"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("confab_store_size_bytes"), "{metrics}");
}

/// The series of a metrics exposition (each sample's name and labels), without the values.
fn request_series(metrics: &str) -> Vec<String> {
    metrics
        .lines()
        .filter(|line| line.starts_with("confab_http_request"))
        .filter_map(|line| line.rsplit_once(' ').map(|(series, _)| series.to_owned()))
        .collect()
}

/// Invented methods and made-up paths, a new set each round: the metrics count them under
/// `other` and the routes they matched, so the series are the same after the second round as
/// after the first, and none names what a client sent.
#[tokio::test]
async fn metrics_labels_stay_a_fixed_set_whatever_clients_send() {
    let app = TestApp::spawn().await;
    let anonymous = app.client();
    let mut invented = 0;
    let mut series = Vec::new();
    for round in 0..2 {
        for number in 0..20 {
            let method = Method::from_bytes(format!("BREW{round}X{number}").as_bytes())
                .expect("a valid method token");
            for path in [
                format!("/made-up-{round}-{number}"),
                format!("/api/made-up-{round}-{number}"),
            ] {
                anonymous
                    .request(method.clone(), &path)
                    .send()
                    .await
                    .expect("request");
                invented += 1;
                let page = anonymous.get(&path).await;
                assert_eq!(page.status(), StatusCode::NOT_FOUND, "GET {path}");
            }
        }
        let metrics = anonymous.get("/metrics").await.text().await.expect("text");
        assert!(!metrics.contains("BREW"), "{metrics}");
        assert!(!metrics.contains("made-up"), "{metrics}");
        let counted_as_other: u64 = metrics
            .lines()
            .filter(|line| line.starts_with("confab_http_requests_total{method=\"other\""))
            .filter_map(|line| line.rsplit_once(' ')?.1.parse::<u64>().ok())
            .sum();
        assert_eq!(counted_as_other, invented, "{metrics}");
        series.push(request_series(&metrics));
    }
    // The first round's /metrics request is counted in the second round's exposition.
    let first: Vec<String> = series[0].clone();
    let second: Vec<String> = series[1]
        .iter()
        .filter(|line| !line.contains("route=\"/metrics\""))
        .cloned()
        .collect();
    assert_eq!(second, first);
}

/// The value of the sample `series` (its name and labels, exactly) in a metrics exposition.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// After a chat, `/metrics` holds latency histograms: of the requests under their route
/// templates (never the path, which holds the session's id), of the store's operations by
/// name and backend, and of the model's reply and its first text by provider and outcome.
#[tokio::test]
async fn metrics_time_requests_store_operations_and_model_replies() {
    let provider = fake_openai::spawn().await;
    let app = TestApp::spawn_with_provider(&provider).await;
    let ada = app.user("ada@example.com").await;
    let events = ada.chat(json!({ "content": "hello" })).await.all().await;
    assert!(
        matches!(events.last(), Some(ChatEvent::Done { .. })),
        "{events:?}"
    );
    let Some(ChatEvent::Message {
        session: Some(session),
        ..
    }) = events.first()
    else {
        panic!("the stream starts with the message and its new session: {events:?}");
    };
    let session_id = &session.id;
    let shown = ada.get(&format!("/api/chat/sessions/{session_id}")).await;
    assert_eq!(shown.status(), StatusCode::OK);

    let metrics = ada.get("/metrics").await.text().await.expect("text");
    let session_route = "method=\"GET\",route=\"/api/chat/sessions/{id}\",status=\"200\"";
    for (series, value) in [
        (
            format!("confab_http_request_duration_seconds_bucket{{{session_route},le=\"+Inf\"}}"),
            1.0,
        ),
        (
            format!("confab_http_request_duration_seconds_count{{{session_route}}}"),
            1.0,
        ),
        (format!("confab_http_requests_total{{{session_route}}}"), 1.0),
        (
            "confab_http_request_duration_seconds_count{method=\"POST\",route=\"/api/chat\",status=\"200\"}"
                .to_owned(),
            1.0,
        ),
        (
            "confab_provider_request_duration_seconds_count{provider=\"default\",outcome=\"finished\"}"
                .to_owned(),
            1.0,
        ),
        (
            "confab_provider_first_token_seconds_count{provider=\"default\"}".to_owned(),
            1.0,
        ),
        (
            "confab_store_operation_duration_seconds_count{operation=\"create_user\",backend=\"sqlite\"}"
                .to_owned(),
            1.0,
        ),
    ] {
        assert_eq!(sample(&metrics, &series), Some(value), "{series} in {metrics}");
    }
    for operation in ["append_message", "finish_reply", "get_session"] {
        let series = format!(
            "confab_store_operation_duration_seconds_count{{operation=\"{operation}\",backend=\"sqlite\"}}"
        );
        let count = sample(&metrics, &series).unwrap_or_default();
        assert!(count >= 1.0, "{series} in {metrics}");
    }
    // Each histogram has its buckets, in order, under a `# TYPE ... histogram`.
    assert!(metrics.contains("# TYPE confab_store_operation_duration_seconds histogram"));
    assert!(metrics.contains("# TYPE confab_provider_request_duration_seconds histogram"));
    let buckets: Vec<f64> = metrics
        .lines()
        .filter(|line| {
            line.starts_with("confab_http_request_duration_seconds_bucket{")
                && line.contains(session_route)
        })
        .filter_map(|line| line.split("le=\"").nth(1)?.split('"').next()?.parse().ok())
        .collect();
    assert!(buckets.len() > 5, "{metrics}");
    assert!(
        buckets.windows(2).all(|pair| pair[0] < pair[1]),
        "{buckets:?}"
    );
    assert!(!metrics.contains(session_id), "{metrics}");
}

/// A provider that cannot be reached is timed too, under the outcome `unreachable`, and
/// no first text is counted.
#[tokio::test]
async fn an_unreachable_provider_is_timed_under_its_outcome() {
    // Port 9 (discard) on the loopback: nothing listens, the connection is refused at once.
    let app = TestApp::spawn_with_provider("http://127.0.0.1:9/v1").await;
    let ada = app.user("ada@example.com").await;
    let events = ada.chat(json!({ "content": "hello" })).await.all().await;
    assert!(
        matches!(events.last(), Some(ChatEvent::Error { .. })),
        "{events:?}"
    );

    let metrics = ada.get("/metrics").await.text().await.expect("text");
    let series = "confab_provider_request_duration_seconds_count{provider=\"default\",outcome=\"unreachable\"}";
    assert_eq!(sample(&metrics, series), Some(1.0), "{metrics}");
    assert!(!metrics.contains("outcome=\"finished\""), "{metrics}");
    assert!(
        !metrics.contains("confab_provider_first_token_seconds_count"),
        "{metrics}"
    );
}

/// GETs `path` with the request id `id`.
async fn get_with_request_id(client: &Client_, path: &str, id: &str) -> reqwest::Response {
    client
        .request(Method::GET, path)
        .header("x-request-id", id)
        .send()
        .await
        .expect("request")
}

/// Whether `text` is a UUID in its usual form (8-4-4-4-12 hexadecimal digits).
fn is_uuid(text: &str) -> bool {
    let groups: Vec<usize> = text.split('-').map(str::len).collect();
    groups == [8, 4, 4, 4, 12] && text.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

/// Each answer names its request in `x-request-id`: an id Confab made (a UUID), or the
/// client's own when it is a short plain token (a proxy's, to follow a request across both
/// logs); anything else is replaced, so it never reaches the log.
#[tokio::test]
async fn every_answer_carries_its_request_id() {
    let app = TestApp::spawn().await;
    let anonymous = app.client();
    let request_id = |response: &reqwest::Response| {
        response.headers()["x-request-id"]
            .to_str()
            .expect("ASCII")
            .to_owned()
    };
    let made = request_id(&anonymous.get("/api/health").await);
    assert!(is_uuid(&made), "{made}");
    let other = request_id(&anonymous.get("/no/such/page").await);
    assert_ne!(other, made);
    assert!(is_uuid(&other), "{other}");

    let proxied = get_with_request_id(&anonymous, "/api/health", "nginx-4f2a9c").await;
    assert_eq!(request_id(&proxied), "nginx-4f2a9c");
    for unacceptable in ["two words", &"a".repeat(65), "quote\"d"] {
        let replaced = get_with_request_id(&anonymous, "/api/health", unacceptable).await;
        let id = request_id(&replaced);
        assert!(is_uuid(&id), "{unacceptable:?} answered with {id}");
    }
}

/// What the request log writes (its target only), for the whole test binary: installed once,
/// as the process's subscriber; each test finds its own lines by request id. Every INFO span
/// is made, as under the server's default `info` filter: the user must reach the request's
/// span even where another span is the current one (tower-sessions' `call`).
fn request_log() -> &'static CapturedLog {
    use std::sync::OnceLock;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer;

    static LOG: OnceLock<CapturedLog> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = CapturedLog::default();
        let writer = log.clone();
        let only_requests = tracing_subscriber::filter::Targets::new()
            .with_target("confab::http::request_log", tracing::Level::INFO);
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .with_filter(only_requests);
        tracing::subscriber::set_global_default(
            tracing_subscriber::registry()
                .with(layer)
                .with(tracing_subscriber::filter::LevelFilter::INFO),
        )
        .expect("the only subscriber of this test binary");
        log
    })
}

/// A request is logged once, at INFO, when answered, with its method, route template,
/// request id, the signed-in user (recorded in the request's span where the user is
/// resolved), status and latency; a refused one has no user.
#[tokio::test]
async fn a_request_is_logged_once_with_its_route_status_and_user() {
    let log = request_log();
    let app = TestApp::spawn().await;
    let ada = app.user("ada@example.com").await;
    let me = ada.get_json("/api/auth/me").await;
    let user_id = me["user"]["id"].as_str().expect("an id").to_owned();
    let session = ada.session("Observed").await;
    let session_id = session["id"].as_str().expect("an id");
    let path = format!("/api/chat/sessions/{session_id}");
    let request_id = format!("log-test-{session_id}");
    let shown = get_with_request_id(&ada, &path, &request_id).await;
    assert_eq!(shown.status(), StatusCode::OK);
    let refused_id = format!("log-test-refused-{session_id}");
    let refused = get_with_request_id(&app.client(), &path, &refused_id).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    // A server function resolves its user through the same `confab_http::current_user`.
    let function_id = format!("log-test-function-{session_id}");
    // Each server function is a route of its own, its path a fixed one.
    let function_path = <app::server_fns::CurrentUser as leptos::server_fn::ServerFn>::PATH;
    let function = ada
        .request(Method::POST, function_path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-request-id", &function_id)
        .send()
        .await
        .expect("request");
    assert_eq!(function.status(), StatusCode::OK);

    // Each request's one line: its span's fields (in the order they were recorded), then the
    // latency, then what it says.
    let logged = log.text();
    for (id, fields) in [
        (
            &request_id,
            format!("method=GET route=/api/chat/sessions/{{id}} request_id={request_id} user_id={user_id} status=200"),
        ),
        (
            &refused_id,
            format!("method=GET route=/api/chat/sessions/{{id}} request_id={refused_id} status=401"),
        ),
        (
            &function_id,
            format!("method=POST route={function_path} request_id={function_id} user_id={user_id} status=200"),
        ),
    ] {
        let lines: Vec<&str> = logged
            .lines()
            .filter(|line| line.contains(&format!("request_id={id} ")))
            .collect();
        assert_eq!(lines.len(), 1, "{id} in {logged}");
        let expected = format!("INFO request{{{fields} latency_us=");
        assert!(lines[0].contains(&expected), "{expected} in {}", lines[0]);
        assert!(
            lines[0].ends_with("}: confab::http::request_log: answered"),
            "{}",
            lines[0]
        );
    }
}

#[tokio::test]
async fn the_first_page_renders_on_the_server() {
    let app = TestApp::spawn().await;
    let page = app.client().get("/").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Welcome to Confab"), "{html}");
    assert!(
        html.contains("name=\"email\""),
        "the sign-in form works before the WASM loads"
    );
    let missing = app.client().get("/no/such/page").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

/// Starting a server must not stop another server's pages from loading their data. Building the
/// page routes sets a process-wide flag in leptos_server that keeps every resource created
/// meanwhile from loading, and a page rendered at that moment waited forever (tests hung in CI
/// when one test's server started while another's rendered). Routers are built here without a
/// pause on another thread while this server renders the first page a hundred times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_while_other_servers_start() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let app = TestApp::spawn().await;
    let building = Arc::new(AtomicBool::new(true));
    let builder = {
        let building = Arc::clone(&building);
        let services = confab::services(app.store.clone(), &app.config).expect("services");
        let config = Arc::new(app.config.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let _entered = runtime.enter();
            let mut built = 0u32;
            while building.load(Ordering::Relaxed) {
                drop(confab::router(services.clone(), Arc::clone(&config)));
                built += 1;
            }
            built
        })
    };
    let client = app.client();
    for attempt in 0..100 {
        let html = tokio::time::timeout(Duration::from_secs(20), async {
            let page = client.get("/").await;
            assert_eq!(page.status(), StatusCode::OK, "attempt {attempt}");
            page.text().await.expect("text")
        })
        .await
        .unwrap_or_else(|_| panic!("attempt {attempt}: the page did not finish within 20 s"));
        assert!(
            html.contains("Welcome to Confab"),
            "attempt {attempt}: {html}"
        );
    }
    building.store(false, Ordering::Relaxed);
    let built = builder.join().expect("the router builder");
    assert!(built > 0, "no router was built while the pages rendered");
}

/// The ids of a branch page's messages.
fn ids_of(page: &Value) -> Vec<&str> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["id"].as_str().unwrap())
        .collect()
}

both_backends!(the_branch_is_read_a_page_at_a_time, |backend| async move {
    let app = TestApp::spawn_on(backend).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let first = ada.message(None, "user", "m0").await;
    let session_id = first["session"]["id"].as_str().unwrap().to_owned();
    let mut ids = vec![first["message"]["id"].as_str().unwrap().to_owned()];
    // m0 <- m1 <- m2 <- m3 <- m4, and `alt` beside m3, written last (the active leaf).
    for (n, parent) in [(1, 0), (2, 1), (3, 2), (4, 3), (5, 2)] {
        let sent = ada
            .post(
                "/api/chat/messages",
                json!({
                    "sessionId": session_id,
                    "role": if n % 2 == 0 { "user" } else { "assistant" },
                    "content": format!("m{n}"),
                    "type": if n == 1 { "note" } else { "chat" },
                    "parentId": ids[parent],
                }),
            )
            .await;
        assert_eq!(sent.status(), StatusCode::CREATED);
        let sent: Value = sent.json().await.unwrap();
        ids.push(sent["message"]["id"].as_str().unwrap().to_owned());
    }
    let [m0, m1, m2, m3, m4, alt] = [0, 1, 2, 3, 4, 5].map(|n| ids[n].as_str());
    let path = format!("/api/chat/sessions/{session_id}/branch");
    let alone = json!({ "count": 1, "index": 0, "previousId": null, "nextId": null });

    let newest = ada.get_json(&format!("{path}?limit=2")).await;
    assert_eq!(ids_of(&newest), [m2, alt]);
    assert_eq!(newest["messages"][0]["siblings"], alone);
    assert_eq!(
        newest["messages"][1]["siblings"],
        json!({ "count": 2, "index": 1, "previousId": m3, "nextId": null })
    );
    assert_eq!(newest["messages"][1]["content"], "m5");
    assert_eq!(newest["messages"][1]["parentId"], m2);
    assert_eq!(newest["earlier"], m2);
    assert_eq!(newest["later"], Value::Null);
    assert_eq!(newest["session"]["id"], session_id.as_str());
    assert_eq!(newest["session"]["activeLeafId"], alt);
    // Without a limit: the whole (short) branch, as before paging.
    let whole = ada.get_json(&path).await;
    assert_eq!(ids_of(&whole), [m0, m1, m2, alt]);
    assert_eq!(
        (&whole["earlier"], &whole["later"]),
        (&Value::Null, &Value::Null)
    );

    let earlier = ada.get_json(&format!("{path}?limit=2&before={m2}")).await;
    assert_eq!(ids_of(&earlier), [m0, m1]);
    assert_eq!(
        (&earlier["earlier"], &earlier["later"]),
        (&Value::Null, &json!(m1))
    );
    let later = ada.get_json(&format!("{path}?limit=2&after={m0}")).await;
    assert_eq!(ids_of(&later), [m1, m2]);
    assert_eq!(
        (&later["earlier"], &later["later"]),
        (&json!(m1), &json!(m2))
    );
    let around = ada.get_json(&format!("{path}?limit=2&around={m1}")).await;
    assert_eq!(ids_of(&around), [m1, m2]);
    assert_eq!(
        (&around["earlier"], &around["later"]),
        (&json!(m1), &json!(m2))
    );
    let notes = ada.get_json(&format!("{path}?type=note")).await;
    assert_eq!(ids_of(&notes), [m1]);
    assert_eq!(
        (&notes["earlier"], &notes["later"]),
        (&Value::Null, &Value::Null)
    );

    let off_branch = ada.get(&format!("{path}?around={m4}")).await;
    assert_eq!(off_branch.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(off_branch).await, "not_on_branch");
    let bad_cursor = ada.get(&format!("{path}?before=not-an-id")).await;
    assert_eq!(bad_cursor.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(bad_cursor).await, "invalid_cursor");
    let two = ada.get(&format!("{path}?before={m2}&after={m0}")).await;
    assert_eq!(error_code(two).await, "invalid_cursor");

    // Switching to m3's version: down its newest children to m4; the page around m3.
    let switched = ada.post(&path, json!({ "messageId": m3 })).await;
    assert_eq!(switched.status(), StatusCode::OK);
    let switched: Value = switched.json().await.unwrap();
    assert_eq!(ids_of(&switched), [m0, m1, m2, m3, m4]);
    assert_eq!(
        switched["messages"][3]["siblings"],
        json!({ "count": 2, "index": 0, "previousId": null, "nextId": alt })
    );
    assert_eq!(switched["messages"][4]["siblings"], alone);
    assert_eq!(switched["session"]["activeLeafId"], m4);
    assert_eq!(ids_of(&ada.get_json(&path).await), [m0, m1, m2, m3, m4]);

    // Another user's session or message is not found.
    assert_eq!(bob.get(&path).await.status(), StatusCode::NOT_FOUND);
    let foreign = bob.post(&path, json!({ "messageId": m3 })).await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    let bobs = bob.message(None, "user", "mine").await;
    let foreign_message = ada
        .post(&path, json!({ "messageId": bobs["message"]["id"] }))
        .await;
    assert_eq!(foreign_message.status(), StatusCode::NOT_FOUND);
    assert_eq!(ada.get_json(&path).await["session"]["activeLeafId"], m4);
});

/// A path segment that is not UTF-8 once percent-decoded is the caller's mistake, answered in
/// the API's error shape (axum's own rejection was plain text), on every route with one.
#[tokio::test]
async fn a_path_that_is_not_utf8_is_refused_in_the_apis_shape() {
    let app = TestApp::spawn().await;
    let ada = app.user("ada@example.com").await;
    let session = ada.post_message(None, "user", "a path").await.session.id;
    for (method, path) in [
        (
            Method::PUT,
            format!("/api/chat/sessions/{session}/tags/%FF"),
        ),
        (
            Method::DELETE,
            format!("/api/chat/sessions/{session}/tags/%ED%A0%80"),
        ),
        (Method::GET, "/api/chat/sessions/%FF".to_owned()),
        (Method::GET, "/api/chat/messages/%C3".to_owned()),
        (Method::PUT, "/api/chat/messages/%FF/star".to_owned()),
        (Method::PATCH, "/api/chat/tags/%FF".to_owned()),
    ] {
        let response = ada
            .request(method.clone(), &path)
            .json(&json!({ "name": "x" }))
            .send()
            .await
            .expect("request");
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{method} {path}"
        );
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{method} {path}"
        );
        assert_eq!(
            error_code(response).await,
            "invalid_path",
            "{method} {path}"
        );
    }
}
