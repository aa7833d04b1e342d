//! What a stranger on the internet can make Confab show or tell: a link cannot put words on
//! the sign-in page, and errors name no database internals.

use crate::support::{confab, provider_error, run_to_end, sse_events, TestApp};
use reqwest::StatusCode;

async fn a_link_cannot_put_words_on_the_sign_in_page(app: &TestApp) {
    let known = app.client().get("/?auth_error=denied").await;
    assert_eq!(known.status(), StatusCode::OK);
    let html = known.text().await.unwrap();
    assert_eq!(
        provider_error(&html).as_deref(),
        Some("Sign-in failed: the sign-in was cancelled or refused at the provider."),
        "{html}"
    );

    let forged = "Your%20account%20is%20locked.%20Call%20%2B1%20555%200100%20<b>now</b>";
    let page = app.client().get(&format!("/?auth_error={forged}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert_eq!(
        provider_error(&html).as_deref(),
        Some("Sign-in failed: the sign-in could not be completed; try again."),
        "{html}"
    );
    assert!(!html.contains("locked"), "{html}");

    let plain = app.client().get("/").await.text().await.unwrap();
    assert_eq!(provider_error(&plain), None, "no error without a code");
}

/// What `confab serve` prints when it cannot open the database at `url`.
async fn start_up_error(url: &str) -> (Option<i32>, String, String) {
    let data = tempfile::tempdir().unwrap();
    let mut command = confab();
    command
        .arg("serve")
        .env("CONFAB_DATABASE_URL", url)
        .env("CONFAB_DATA_DIR", data.path())
        .env("CONFAB_ADDR", "127.0.0.1:0")
        .env("CONFAB_LOG", "info");
    let output = run_to_end(command).await;
    (output.status.code(), output.stdout, output.stderr)
}

#[tokio::test]
async fn a_refused_database_url_is_not_printed_with_its_password() {
    let (code, stdout, stderr) =
        start_up_error("postgres://confab:s3cret-pass@db.example.com/confab").await;
    assert_eq!(code, Some(1));
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "confab: database error: unsupported database URL scheme postgres://: use mongodb://... or sqlite:PATH\n"
    );

    let (code, stdout, stderr) = start_up_error("confab:s3cret-pass@db.example.com").await;
    assert_eq!(code, Some(1));
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "confab: database error: unsupported database URL: use mongodb://... or sqlite:PATH\n"
    );
}

#[tokio::test]
async fn a_malformed_mongodb_url_is_not_printed_with_its_password() {
    for url in [
        "mongodb://confab:s3cret-pass@db.example.com:notaport/confab",
        "mongodb://confab:s3cret-pass@/confab",
        "mongodb://confab:s3cret-pass@db.example.com/confab?unknownOption=s3cret-pass",
        "mongodb+srv://confab:s3cret-pass@db.example.com:27017/confab",
    ] {
        let (code, stdout, stderr) = start_up_error(url).await;
        assert_eq!(code, Some(1), "{url}: {stderr}");
        assert_eq!(stdout, "", "{url}");
        assert!(
            stderr.starts_with("confab: database error: invalid MongoDB URL: "),
            "{url}: {stderr}"
        );
        assert!(!stderr.contains("s3cret"), "{url}: {stderr}");
    }
}

/// The nonce a response's Content-Security-Policy allows scripts with.
fn nonce_of(policy: &str) -> String {
    let start = policy.find("'nonce-").expect("a nonce") + "'nonce-".len();
    let rest = policy.get(start..).unwrap();
    rest.get(..rest.find('\'').unwrap()).unwrap().to_owned()
}

async fn every_answer_carries_the_security_headers(app: &TestApp) {
    let mut nonces = Vec::new();
    for path in ["/", "/api/health", "/api/no/such/route", "/no/such/page"] {
        let response = app.client().get(path).await;
        let headers = response.headers();
        let policy = headers["content-security-policy"].to_str().unwrap();
        let nonce = nonce_of(policy);
        assert_eq!(
            policy,
            format!(
                "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
                 style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
                 base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
            ),
            "{path}"
        );
        assert_eq!(
            nonce.len(),
            22,
            "128 random bits in URL-safe base64: {nonce}"
        );
        assert!(nonce
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'));
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{path}");
        nonces.push(nonce);
    }
    nonces.sort();
    nonces.dedup();
    assert_eq!(nonces.len(), 4, "a new nonce for every answer");
}

/// The attribute names of every start tag in `html`, by tag name, outside script elements'
/// text. Quoted attribute values are read whole, whatever they hold.
fn attributes(html: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut chars = html.chars().peekable();
    let mut in_script = false;
    let mut tail = String::new();
    while let Some(character) = chars.next() {
        if in_script {
            // Only `</script>` ends a script's text.
            tail.push(character);
            if tail.ends_with("</script>") {
                in_script = false;
                tail.clear();
            }
            continue;
        }
        if character != '<' || !chars.peek().is_some_and(char::is_ascii_alphabetic) {
            continue;
        }
        let mut tag = String::new();
        while let Some(letter) = chars.next_if(|next| !next.is_whitespace() && *next != '>') {
            tag.push(letter);
        }
        loop {
            while chars.next_if(|next| next.is_whitespace()).is_some() {}
            let mut name = String::new();
            while let Some(letter) =
                chars.next_if(|next| !next.is_whitespace() && !matches!(next, '=' | '>'))
            {
                name.push(letter);
            }
            if chars.next_if_eq(&'=').is_some() {
                match chars.next_if(|next| matches!(next, '"' | '\'')) {
                    Some(quote) => while chars.next().is_some_and(|next| next != quote) {},
                    None => {
                        while chars
                            .next_if(|next| !next.is_whitespace() && *next != '>')
                            .is_some()
                        {}
                    }
                }
            }
            if !name.is_empty() && name != "/" {
                found.push((tag.clone(), name.to_ascii_lowercase()));
            }
            if chars.next_if_eq(&'>').is_some() || chars.peek().is_none() {
                break;
            }
        }
        in_script = tag.eq_ignore_ascii_case("script");
    }
    found
}

async fn every_inline_script_of_a_page_carries_its_nonce(app: &TestApp) {
    let ada = app.user("ada@example.com").await;
    // Markup in a message is its text, not the page's.
    let sent = ada
        .message(
            None,
            "user",
            r#"hello </title><b style="color: red" onclick="alert(1)">there</b>"#,
        )
        .await;
    let session = sent["session"]["id"].as_str().unwrap();
    for path in [
        "/".to_owned(),
        format!("/c/{session}"),
        "/no/such/page".to_owned(),
    ] {
        let response = ada.get(&path).await;
        let nonce = nonce_of(
            response.headers()["content-security-policy"]
                .to_str()
                .unwrap(),
        );
        let html = response.text().await.unwrap();
        let scripts: Vec<&str> = html
            .split("<script")
            .skip(1)
            .map(|rest| rest.get(..rest.find('>').unwrap()).unwrap())
            .collect();
        assert!(!scripts.is_empty(), "{path}: {html}");
        for script in &scripts {
            let inline = !script.contains(" src=");
            if inline {
                assert!(
                    script.contains(&format!(" nonce=\"{nonce}\"")),
                    "{path}: <script{script}> without this answer's nonce"
                );
            }
        }
        // The policy allows no inline style and no inline handler: the page must need none.
        let attributes = attributes(&html);
        assert!(
            attributes
                .iter()
                .any(|(tag, name)| tag == "link" && name == "href"),
            "{path}: the attributes were read: {attributes:?}"
        );
        for (tag, name) in &attributes {
            let handler = name.len() > 2
                && name.starts_with("on")
                && name
                    .chars()
                    .skip(2)
                    .all(|letter| letter.is_ascii_lowercase());
            assert!(
                name != "style" && !handler,
                "{path}: <{tag} {name}=…> (the policy ignores it): {html}"
            );
        }
        if path.starts_with("/c/") {
            assert!(
                // The title is the message's start, escaped.
                html.contains(
                    "<title>hello &lt;/title&gt;&lt;b style=\"color: red\"… · Confab</title>"
                ),
                "{path}: {html}"
            );
        }
    }
}

/// The session cookie a response sets, with its value replaced by `ID`.
fn session_cookie(response: &reqwest::Response) -> (String, String) {
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap())
        .find(|value| value.starts_with("confab_session="))
        .expect("a session cookie")
        .to_owned();
    let (pair, attributes) = cookie.split_once(';').unwrap();
    let id = pair.trim_start_matches("confab_session=").to_owned();
    (id, format!("confab_session=ID;{attributes}"))
}

/// Signs in (or up) as `email` through the REST API, as a browser at `origin` would.
async fn sign_in(
    http: &reqwest::Client,
    app: &TestApp,
    origin: &str,
    path: &str,
    email: &str,
    cookie: Option<&str>,
) -> reqwest::Response {
    let host = origin.split_once("://").unwrap().1;
    let mut request = http
        .post(format!("{}{path}", app.address))
        .header("Host", host)
        .header("Origin", origin)
        .json(&serde_json::json!({ "email": email, "password": "a good password" }));
    if let Some(id) = cookie {
        request = request.header("Cookie", format!("confab_session={id}"));
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn signing_in_gives_a_new_session_id_and_the_old_one_signs_nobody_in() {
    let app = TestApp::spawn().await;
    let http = reqwest::Client::new();
    let origin = app.address.clone();
    let ada = sign_in(
        &http,
        &app,
        &origin,
        "/api/auth/signup",
        "ada@example.com",
        None,
    )
    .await;
    assert_eq!(ada.status(), StatusCode::CREATED);
    let (first, _) = session_cookie(&ada);
    let bob = sign_in(
        &http,
        &app,
        &origin,
        "/api/auth/signup",
        "bob@example.com",
        None,
    )
    .await;
    assert_eq!(bob.status(), StatusCode::CREATED);

    // Bob signs in in a browser that holds Ada's session (someone planted it there).
    let planted = sign_in(
        &http,
        &app,
        &origin,
        "/api/auth/login",
        "bob@example.com",
        Some(&first),
    )
    .await;
    assert_eq!(planted.status(), StatusCode::OK);
    let (second, _) = session_cookie(&planted);
    assert_ne!(second, first);
    let me = |id: String| {
        let request = http
            .get(format!("{}/api/auth/me", app.address))
            .header("Cookie", format!("confab_session={id}"));
        async move { request.send().await.unwrap() }
    };
    let with_new = me(second).await;
    assert_eq!(with_new.status(), StatusCode::OK);
    let body: serde_json::Value = with_new.json().await.unwrap();
    assert_eq!(body["user"]["email"], "bob@example.com");
    assert_eq!(
        me(first).await.status(),
        StatusCode::UNAUTHORIZED,
        "the planted id is gone"
    );
}

#[tokio::test]
async fn cookies_are_secure_behind_https_and_only_there() {
    for (public_url, attributes) in [
        (
            Some("https://chat.example.com"),
            "; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=2592000",
        ),
        (
            Some("http://chat.example.com"),
            "; HttpOnly; SameSite=Lax; Path=/; Max-Age=2592000",
        ),
    ] {
        let app =
            TestApp::spawn_with(|config| config.public_url = public_url.map(str::to_owned)).await;
        let origin = public_url.unwrap();
        let http = reqwest::Client::new();
        let signed_up = sign_in(
            &http,
            &app,
            origin,
            "/api/auth/signup",
            "ada@example.com",
            None,
        )
        .await;
        assert_eq!(signed_up.status(), StatusCode::CREATED, "{origin}");
        let (_, cookie) = session_cookie(&signed_up);
        assert_eq!(cookie, format!("confab_session=ID{attributes}"), "{origin}");
    }
}

/// The WASM, the CSS and public/'s files go out precompressed (`cargo leptos build
/// --precompress` writes `.br` and `.gz` beside them): the brotli file to a client that takes brotli, the gzip file to one
/// that takes only gzip, the file itself to one that takes neither, each with its own type.
#[tokio::test]
async fn the_site_files_are_served_precompressed() {
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    // The site's root holds public/'s files, precompressed as well.
    let files = [
        ("pkg/confab.wasm", "application/wasm"),
        ("pkg/confab.css", "text/css"),
        ("scroll-to-end.js", "text/javascript"),
    ];
    for (name, _) in files {
        for (suffix, body) in [("", "plain"), (".br", "brotli"), (".gz", "gzip")] {
            let path = site.path().join(format!("{name}{suffix}"));
            std::fs::write(path, format!("{body} {name}")).unwrap();
        }
    }
    let root = site.path().to_owned();
    let app = TestApp::spawn_with(move |config| config.site_root = root).await;
    let http = reqwest::Client::new();
    for (name, content_type) in files {
        for (accept, encoding, body) in [
            ("gzip, deflate, br", Some("br"), "brotli"),
            ("gzip, deflate", Some("gzip"), "gzip"),
            ("identity", None, "plain"),
        ] {
            let answer = http
                .get(format!("{}/{name}", app.address))
                .header("accept-encoding", accept)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), StatusCode::OK, "{name} for {accept}");
            let header = |name: &str| {
                answer
                    .headers()
                    .get(name)
                    .map(|value| value.to_str().unwrap().to_owned())
            };
            assert_eq!(header("content-encoding").as_deref(), encoding, "{name}");
            assert_eq!(header("content-type").as_deref(), Some(content_type));
            assert_eq!(header("vary").as_deref(), Some("accept-encoding"));
            assert_eq!(answer.text().await.unwrap(), format!("{body} {name}"));
        }
    }
}

/// A page that does not exist still knows who is signed in: its header shows the account
/// menu and the search box (the 404 page once rendered without the services, so a signed-in
/// user looked signed out there).
async fn the_not_found_page_keeps_the_signed_in_header(app: &TestApp) {
    let browser = app.client();
    browser
        .sign_up("nadia@example.com", "a good password")
        .await;
    let missing = browser.get("/no/such/page").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let html = missing.text().await.unwrap();
    assert!(
        html.contains(r#"<span title="nadia@example.com" class="account-email">nadia</span>"#),
        "{html}"
    );
    assert!(html.contains("account-menu-button"), "{html}");
    assert!(html.contains(r#"aria-label="Search messages""#), "{html}");
    let anonymous = app
        .client()
        .get("/no/such/page")
        .await
        .text()
        .await
        .unwrap();
    assert!(!anonymous.contains("account-menu-button"), "{anonymous}");
}

/// The administration page, as the server renders it, says which sign-up policy is in force on
/// its buttons too (`aria-pressed`), before any script runs.
async fn the_admin_page_presses_the_policy_in_force(app: &TestApp) {
    let ada = app.client();
    let signed_in = ada.login("ada@example.com", "a good password").await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let html = ada.get("/admin").await.text().await.unwrap();
    assert!(html.contains("In force: sign-up is open."), "{html}");
    // Every load sends the same data for hydration, made once: the page once made its data
    // again each time server rendering went over it, so the browser met ids it could not
    // match (and data that failed with "services are not installed") and did not hydrate.
    let resolved = |html: &str| html.matches("__RESOLVED_RESOURCES[").count();
    for _ in 0..5 {
        let again = ada.get("/admin").await.text().await.unwrap();
        assert!(!again.contains("not installed"), "{again}");
        assert_eq!(resolved(&again), resolved(&html), "{again}");
    }
    // Each segment button's aria-pressed and label, in page order.
    let buttons: Vec<(String, String)> = html
        .split("<button")
        .skip(1)
        .filter(|tag| {
            tag.split('>')
                .next()
                .unwrap_or_default()
                .contains(r#"class="segment""#)
        })
        .map(|tag| {
            let (attributes, rest) = tag.split_once('>').unwrap();
            let pressed = attributes
                .split(r#"aria-pressed=""#)
                .nth(1)
                .and_then(|value| value.split('"').next())
                .unwrap_or("absent");
            let label = rest.split('<').next().unwrap_or_default();
            (pressed.to_owned(), label.to_owned())
        })
        .collect();
    assert_eq!(
        buttons,
        [
            ("true".into(), "Open".into()),
            ("false".into(), "Closed".into())
        ],
        "{html}"
    );
}

/// The pages' checks, one after another in one test: this binary's tests each run their own
/// runtime, and server-rendered pages requested from several of them at once hung once in
/// three CI-like runs (one request never answered, its test parked waiting for I/O; the
/// cause, somewhere in rendering across runtimes in one process, was not found). Confab
/// itself runs one runtime.
#[tokio::test]
async fn pages() {
    let app = TestApp::spawn().await;
    a_link_cannot_put_words_on_the_sign_in_page(&app).await;
    every_answer_carries_the_security_headers(&app).await;
    every_inline_script_of_a_page_carries_its_nonce(&app).await;
    the_not_found_page_keeps_the_signed_in_header(&app).await;
    the_admin_page_presses_the_policy_in_force(&app).await;
}

/// What a signed-in user reads when the default provider fails: each answer's text, named by
/// where it came from. `model` is sent with each chat request.
async fn what_users_read_of_a_failing_provider(
    app: &TestApp,
    model: &str,
    sentence: &str,
    code: &str,
) -> Vec<(String, String)> {
    use leptos::server_fn::ServerFn;
    use serde_json::{json, Value};

    let mut ada = app.user("ada@example.com").await;
    let mut read = Vec::new();

    // The chat page's stream, read to its end, then the reply as stored and as the
    // conversation's page shows it.
    let response = ada
        .post(
            "/api/chat",
            json!({ "content": "anyone there?", "model": model }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let stream = response.text().await.unwrap();
    let (name, event) = sse_events(&stream).pop().unwrap_or_default();
    assert_eq!(name, "error", "{stream}");
    assert_eq!(
        event["error"],
        json!({ "code": code, "message": sentence }),
        "{stream}"
    );
    let reply = &event["message"];
    let session = reply["sessionId"].as_str().unwrap();
    read.push(("/api/chat".to_owned(), stream.clone()));
    let stored = ada
        .get(&format!("/api/chat/messages?sessionId={session}&limit=200"))
        .await
        .text()
        .await
        .unwrap();
    let messages: Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(messages["messages"][1], *reply, "stored as the event said");
    read.push(("the stored messages".to_owned(), stored));
    let page = ada
        .get(&format!("/c/{session}"))
        .await
        .text()
        .await
        .unwrap();
    read.push(("the conversation's page".to_owned(), page));

    // The UI's list of models, and the REST one.
    let models = ada.get("/api/models").await.text().await.unwrap();
    read.push(("/api/models".to_owned(), models));
    let listed = ada
        .request(
            reqwest::Method::POST,
            <app::server_fns::ListModels as ServerFn>::PATH,
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    read.push((
        "the list_models server function".to_owned(),
        listed.text().await.unwrap(),
    ));

    // The OpenAI-compatible endpoint, whole and streamed.
    ada.token = Some(ada.new_api_token("sdk").await);
    let whole = ada
        .post(
            "/v1/chat/completions",
            json!({ "model": model, "messages": [{ "role": "user", "content": "whole?" }] }),
        )
        .await;
    assert_eq!(whole.status(), StatusCode::BAD_GATEWAY);
    let whole = whole.text().await.unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&whole).unwrap(),
        json!({ "error": { "message": sentence, "type": "server_error", "code": code } })
    );
    read.push(("/v1/chat/completions".to_owned(), whole));
    let streamed = ada
        .post(
            "/v1/chat/completions",
            json!({ "model": model, "stream": true, "messages": [{ "role": "user", "content": "streamed?" }] }),
        )
        .await;
    assert_eq!(streamed.status(), StatusCode::OK);
    let streamed = streamed.text().await.unwrap();
    let (name, last) = sse_events(&streamed).pop().unwrap_or_default();
    assert_eq!(name, "message", "{streamed}");
    assert_eq!(
        last,
        json!({ "error": { "message": sentence, "type": "server_error", "code": code } }),
        "{streamed}"
    );
    read.push(("/v1/chat/completions, streamed".to_owned(), streamed));
    read
}

/// Whether `text` holds `word` as a word of its own: not inside a longer run of letters and
/// digits (a port number inside an id or a timestamp is not that port).
fn names(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text.get(..at).and_then(|head| head.chars().next_back());
        let after = text
            .get(at + word.len()..)
            .and_then(|tail| tail.chars().next());
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// Asserts that no text `read` holds any of `secrets`, nor `port` as a word of its own.
fn shows_none(read: &[(String, String)], secrets: &[&str], port: &str) {
    for (place, text) in read {
        for secret in secrets {
            assert!(!text.contains(secret), "{place} shows {secret:?}: {text}");
        }
        assert!(!names(text, port), "{place} shows the port {port}: {text}");
    }
}

#[tokio::test]
async fn a_provider_url_and_its_secrets_reach_no_user() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    let url = format!("http://confab-user:s3cret-pass@127.0.0.1:{port}/v1?api-key=q-s3cret-key");
    let app = TestApp::spawn_with_provider(&url).await;
    let sentence = "the model provider \"default\" could not be reached";
    let read =
        what_users_read_of_a_failing_provider(&app, "fake-model", sentence, "provider_unreachable")
            .await;
    shows_none(
        &read,
        &[
            "confab-user",
            "s3cret-pass",
            "q-s3cret-key",
            "api-key",
            "127.0.0.1",
        ],
        &port,
    );
    // The model lists say only that, with no models.
    for list in ["/api/models", "the list_models server function"] {
        let (_, text) = read.iter().find(|(place, _)| place == list).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(text).unwrap(),
            serde_json::json!({ "models": [], "errors": [sentence] }),
            "{list}"
        );
    }
}

#[tokio::test]
async fn what_a_provider_says_in_its_error_reaches_no_user() {
    let provider = fake_openai::spawn().await;
    let (host, port) = provider
        .trim_start_matches("http://")
        .trim_end_matches("/v1")
        .split_once(':')
        .unwrap();
    let (host, port) = (host.to_owned(), port.to_owned());
    let url = provider.replacen("http://", "http://confab-user:s3cret-pass@", 1);
    let app = TestApp::spawn_with_provider(&url).await;
    let read = what_users_read_of_a_failing_provider(
        &app,
        "fake-500",
        "the model provider \"default\" answered with an error (HTTP 500)",
        "provider_error",
    )
    .await;
    shows_none(
        &read,
        &[
            fake_openai::SECRET_IN_ERROR,
            "10.9.8.7",
            "failed on purpose",
            "confab-user",
            "s3cret-pass",
            &host,
        ],
        &port,
    );
}

/// Server rendering ends every page it starts, whichever worker thread its end lands on. The
/// sidebar kept the router's `navigate` in a `StoredValue::new_local`, which on the server
/// panicked when dropped on another thread than the one that made it: the page's answer then
/// ended with no body (ERR_EMPTY_RESPONSE in Chromium, the accessibility test the stop CI of
/// 0987899 failed). Run on the real binary, whose runtime has a worker per core, with pages
/// asked for together so that their renders end on either thread.
#[tokio::test]
async fn every_server_rendered_page_is_answered_whole() {
    use crate::support::{Backend, TestProcess};

    let process = TestProcess::start(Backend::Sqlite, &[]).await;
    let browser = process.client();
    browser.sign_up("ada@example.com", "a good password").await;
    let session = browser
        .post_message(None, "user", "a page to render")
        .await
        .session
        .id;
    let pages = [
        "/".to_owned(),
        format!("/c/{session}"),
        "/new".to_owned(),
        "/import".to_owned(),
        "/starred".to_owned(),
    ];
    for _round in 0..10 {
        let browser = &browser;
        let answers = futures::future::join_all(pages.iter().map(|path| async move {
            let response = browser.get(path).await;
            let status = response.status();
            let body = response.text().await.map_err(|error| error.to_string());
            (path, status, body)
        }))
        .await;
        for (path, status, body) in answers {
            assert_eq!(status, StatusCode::OK, "{path}");
            let body = body.unwrap_or_else(|error| panic!("{path}: the answer broke off: {error}"));
            // The document closes before the streamed resources that follow it.
            assert!(
                body.contains("</html>"),
                "{path}: no end of the document: {body}"
            );
        }
    }
}
