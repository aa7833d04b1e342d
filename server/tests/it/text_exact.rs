//! Text the user typed comes back byte for byte ("Nothing lost", item 8): a NUL, zero-width
//! joiners, right-to-left text with its marks, combining marks and 4-byte emoji are stored,
//! listed, fetched, searched, exported, imported and sent to a model unchanged, on both
//! backends. A lone surrogate, which no Rust string can hold, is a clear 400, never a 500 and
//! never a silently changed text.

use crate::support::{Client_, TestApp};
use confab_core::api::SearchPage;
use confab_core::chat_stream::ChatEvent;
use confab_core::model::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The first line of [`TEXT`], and so the title of a session it starts.
const TITLE: &str =
    "Zero \u{0} byte; nul\u{0}inside; family \u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}";

/// Every kind of character that is easy to lose: NUL (alone and inside a word), a family emoji
/// made of three people and two zero-width joiners, Hebrew between right-to-left marks
/// (U+200F), Arabic, "élève" written with combining accents (e + U+0301, e + U+0300), a
/// 4-byte emoji, and the characters HTML escapes.
const TEXT: &str =
    "Zero \u{0} byte; nul\u{0}inside; family \u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}\n\
Hebrew \u{200F}שלום עולם\u{200F}; Arabic مرحبا بالعالم; combining e\u{301}le\u{300}ve; \
crab \u{1F980} & <tag> \"quoted\" 'single'";

/// [`TEXT`] escaped for HTML, as a snippet shows it (17 words: a snippet holds it whole).
const ESCAPED: &str =
    "Zero \u{0} byte; nul\u{0}inside; family \u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}\n\
Hebrew \u{200F}שלום עולם\u{200F}; Arabic مرحبا بالعالم; combining e\u{301}le\u{300}ve; \
crab \u{1F980} &amp; &lt;tag&gt; &quot;quoted&quot; &#39;single&#39;";

/// A one-line title with the same kinds of characters (titles are trimmed, so it has no
/// surrounding spaces).
const RENAMED: &str =
    "\u{200F}שלום\u{200F} \u{0} e\u{301} \u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467} 🦀";

fn contents(page: &Value) -> Vec<&str> {
    page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|message| message["content"].as_str().expect("content"))
        .collect()
}

/// Ada's session holding TEXT twice: her message and an assistant's answer.
async fn conversation(ada: &Client_) -> (String, Value) {
    let first = ada.message(None, "user", TEXT).await;
    assert_eq!(first["message"]["content"], TEXT);
    assert_eq!(first["session"]["title"], TITLE);
    let session_id = first["session"]["id"].as_str().unwrap().to_owned();
    let answer = ada
        .post(
            "/api/chat/messages",
            json!({ "sessionId": session_id, "role": "assistant", "content": TEXT, "parentId": first["message"]["id"] }),
        )
        .await;
    assert_eq!(answer.status(), StatusCode::CREATED);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["message"]["content"], TEXT);
    (session_id, answer["message"].clone())
}

/// Asserts `who` finds exactly one message for each query, with an exact snippet.
async fn assert_found(who: &Client_, session_id: &str) {
    let hebrew = ESCAPED.replacen("שלום", "<mark>שלום</mark>", 1);
    let cases = [
        (
            "family",
            ESCAPED.replacen("family", "<mark>family</mark>", 1),
        ),
        (
            "inside",
            ESCAPED.replacen("inside", "<mark>inside</mark>", 1),
        ),
        ("zero", ESCAPED.replacen("Zero", "<mark>Zero</mark>", 1)),
        ("שלום", hebrew),
        (
            "بالعالم",
            ESCAPED.replacen("بالعالم", "<mark>بالعالم</mark>", 1),
        ),
        // Diacritics fold away on both sides: the query may be precomposed, plain or combining.
        (
            "élève",
            ESCAPED.replacen("e\u{301}le\u{300}ve", "<mark>e\u{301}le\u{300}ve</mark>", 1),
        ),
        (
            "eleve",
            ESCAPED.replacen("e\u{301}le\u{300}ve", "<mark>e\u{301}le\u{300}ve</mark>", 1),
        ),
        (
            "quoted",
            ESCAPED.replacen("quoted", "<mark>quoted</mark>", 1),
        ),
    ];
    for (query, snippet) in cases {
        let found: SearchPage = who
            .get_as(&format!(
                "/api/chat/search?q={query}&role=user&sessionId={session_id}"
            ))
            .await;
        let results = &found.results;
        assert_eq!(results.len(), 1, "{query}: {found:?}");
        assert_eq!(results[0].snippet, snippet, "{query}");
        assert_eq!(results[0].session_title, TITLE, "{query}");
        assert_eq!(results[0].role, Role::User);
    }
}

both_backends!(
    typed_text_is_stored_listed_and_fetched_exactly,
    |backend| async move {
        let mut app = TestApp::spawn_on(backend).await;
        let mut ada = app.user("ada@example.com").await;
        let (session_id, answer) = conversation(&ada).await;

        let page = ada
            .get_json(&format!("/api/chat/messages?sessionId={session_id}"))
            .await;
        assert_eq!(contents(&page), [TEXT, TEXT]);
        let branch = ada
            .get_json(&format!("/api/chat/sessions/{session_id}/branch"))
            .await;
        assert_eq!(contents(&branch), [TEXT, TEXT]);
        let siblings = ada
            .get_json(&format!(
                "/api/chat/messages/{}/siblings",
                answer["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(contents(&siblings), [TEXT]);
        let detail = ada
            .get_json(&format!("/api/chat/sessions/{session_id}"))
            .await;
        assert_eq!(detail["title"], TITLE);

        let renamed = ada
            .put(
                &format!("/api/chat/sessions/{session_id}"),
                json!({ "title": RENAMED }),
            )
            .await;
        assert_eq!(renamed.status(), StatusCode::OK);
        assert_eq!(renamed.json::<Value>().await.unwrap()["title"], RENAMED);
        let listed = ada.get_json("/api/chat/sessions").await;
        assert_eq!(listed["sessions"][0]["title"], RENAMED);
        // Found by a piece of its title: after the NUL, across it, in Hebrew, by its emoji.
        for (query, found) in [
            ("%F0%9F%A6%80", 1),
            ("%00%20e%CC%81", 1),
            ("%D7%A9%D7%9C%D7%95%D7%9D", 1),
            ("%F0%9F%91%A8%E2%80%8D%F0%9F%91%A9", 1),
            ("%00%20x", 0),
            ("e%CC%80", 0),
        ] {
            let listed = ada.get_json(&format!("/api/chat/sessions?q={query}")).await;
            let titles: Vec<&Value> = listed["sessions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|session| &session["title"])
                .collect();
            assert_eq!(titles.len(), found, "{query}");
            if found == 1 {
                assert_eq!(titles[0], RENAMED, "{query}");
            }
        }

        // And from disk, after a restart.
        app.restart().await;
        ada.follow(&app.address);
        let page = ada
            .get_json(&format!("/api/chat/messages?sessionId={session_id}"))
            .await;
        assert_eq!(contents(&page), [TEXT, TEXT]);
        let detail = ada
            .get_json(&format!("/api/chat/sessions/{session_id}"))
            .await;
        assert_eq!(detail["title"], RENAMED);
    }
);

both_backends!(
    typed_text_is_found_with_an_exact_snippet,
    |backend| async move {
        let app = TestApp::spawn_on(backend).await;
        let ada = app.user("ada@example.com").await;
        let (session_id, _) = conversation(&ada).await;
        assert_found(&ada, &session_id).await;
        // Characters that are not words (🦀, U+200F, NUL, U+200D) find nothing, and break nothing.
        for query in ["%F0%9F%A6%80", "%E2%80%8F", "%00", "%E2%80%8D"] {
            let found = ada.search(query).await;
            assert!(found.results.is_empty(), "{query}: {found:?}");
        }
    }
);

both_backends!(
    typed_text_survives_export_and_import_exactly,
    |backend| async move {
        let app = TestApp::spawn_on(backend).await;
        let ada = app.user("ada@example.com").await;
        let (session_id, _) = conversation(&ada).await;

        let session_export = ada
            .get_json(&format!(
                "/api/chat/sessions/{session_id}/export?format=json"
            ))
            .await;
        assert_eq!(session_export["sessions"][0]["title"], TITLE);
        assert_eq!(contents(&session_export["sessions"][0]), [TEXT, TEXT]);
        let markdown = ada
            .get(&format!(
                "/api/chat/sessions/{session_id}/export?format=markdown"
            ))
            .await;
        assert_eq!(markdown.status(), StatusCode::OK);
        let markdown = markdown.text().await.unwrap();
        assert!(
            markdown.starts_with(&format!("# {TITLE}\n\n")),
            "{markdown:?}"
        );
        assert_eq!(markdown.matches(TEXT).count(), 2, "{markdown:?}");

        let backup = ada.get_json("/api/export").await;
        assert_eq!(backup["sessions"][0]["title"], TITLE);
        assert_eq!(contents(&backup["sessions"][0]), [TEXT, TEXT]);

        let bob = app.user("bob@example.com").await;
        let imported = bob.post("/api/import", backup).await;
        assert_eq!(imported.status(), StatusCode::OK);
        let report: Value = imported.json().await.unwrap();
        assert_eq!(
            report,
            json!({ "sessions": 1, "messages": 2, "skipped": 0, "errors": [] })
        );
        let bobs = bob.get_json("/api/chat/sessions").await;
        assert_eq!(bobs["sessions"][0]["title"], TITLE);
        let bobs_session = bobs["sessions"][0]["id"].as_str().unwrap().to_owned();
        let page = bob
            .get_json(&format!("/api/chat/messages?sessionId={bobs_session}"))
            .await;
        assert_eq!(contents(&page), [TEXT, TEXT]);
        assert_found(&bob, &bobs_session).await;
    }
);

both_backends!(
    typed_text_goes_to_the_model_and_back_exactly,
    |backend| async move {
        let provider = fake_openai::spawn().await;
        let app = TestApp::spawn_with_provider_on(backend, &provider).await;
        let ada = app.user("ada@example.com").await;
        let events = ada.chat(json!({ "content": TEXT })).await.all().await;
        assert!(
            events
                .iter()
                .any(|event| matches!(event, ChatEvent::Done { .. })),
            "{events:?}"
        );

        let sent: Vec<Value> =
            reqwest::get(format!("{}/_requests", provider.trim_end_matches("/v1")))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0]["messages"],
            json!([{ "role": "user", "content": TEXT }])
        );

        let sessions = ada.get_json("/api/chat/sessions").await;
        let session_id = sessions["sessions"][0]["id"].as_str().unwrap();
        let page = ada
            .get_json(&format!("/api/chat/messages?sessionId={session_id}"))
            .await;
        let echo = format!("Echo: {TEXT}");
        assert_eq!(contents(&page), [TEXT, echo.as_str()]);
    }
);

/// `content` is "broken " followed by a lone high surrogate: valid JSON syntax for a string no
/// Rust (or UTF-8) string can hold.
const LONE_HIGH: &str = r#"{"role": "user", "content": "broken \ud83c here"}"#;
const LONE_LOW: &str = r#"{"role": "user", "content": "broken \udc00 here"}"#;

/// Asserts a 400 whose message names the lone surrogate in `field`.
async fn assert_lone_surrogate_refused(response: reqwest::Response, what: &str, field: &str) {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
    let body: Value = response.json().await.expect("a JSON error");
    assert_eq!(body["error"]["code"], "malformed_json", "{what}: {body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            r"Failed to parse the request body as JSON: {field}: a lone surrogate escape (\ud800 to \udfff without its other half) is not a character at line 1 column "
        )),
        "{what}: {message}"
    );
}

both_backends!(
    a_lone_surrogate_is_a_clear_400_and_saves_nothing,
    |backend| async move {
        let app = TestApp::spawn_on(backend).await;
        let ada = app.user("ada@example.com").await;

        for body in [LONE_HIGH, LONE_LOW] {
            let response = ada.post_raw("/api/chat/messages", body).await;
            assert_lone_surrogate_refused(response, body, "content").await;
        }
        let response = ada
            .post_raw("/api/chat", r#"{"content": "to the model \ud83c"}"#)
            .await;
        assert_lone_surrogate_refused(response, "/api/chat", "content").await;
        assert_eq!(
            ada.get_json("/api/chat/sessions").await["sessions"],
            json!([]),
            "nothing was saved"
        );

        // A pair of surrogates is one character: 🦀.
        let paired = ada
            .post_raw(
                "/api/chat/messages",
                r#"{"role": "user", "content": "crab \ud83e\udd80"}"#,
            )
            .await;
        assert_eq!(paired.status(), StatusCode::CREATED);
        let paired: Value = paired.json().await.unwrap();
        assert_eq!(paired["message"]["content"], "crab \u{1F980}");
        let session_id = paired["session"]["id"].as_str().unwrap();

        let rename = ada
            .request(
                reqwest::Method::PUT,
                &format!("/api/chat/sessions/{session_id}"),
            )
            .header("content-type", "application/json")
            .body(r#"{"title": "half \udd80"}"#)
            .send()
            .await
            .unwrap();
        assert_lone_surrogate_refused(rename, "rename", "title").await;
        let detail = ada
            .get_json(&format!("/api/chat/sessions/{session_id}"))
            .await;
        assert_eq!(detail["title"], "crab \u{1F980}", "the title is unchanged");

        // An import file with one (Ada's export, her crab made half): the half becomes U+FFFD
        // in that session only, the report names the session, and the rest of the file imports.
        let export = ada.get("/api/export").await.text().await.unwrap();
        assert_eq!(
            export.matches("crab \u{1F980}").count(),
            2,
            "title and content"
        );
        let broken = export.replace("crab \u{1F980}", r"crab \ud83e");
        let bob = app.user("bob@example.com").await;
        let imported = bob.post_raw("/api/import", &broken).await;
        let status = imported.status();
        let report: Value = imported.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(
            report,
            json!({ "sessions": 1, "messages": 1, "skipped": 0, "errors": [{
                "title": "crab \u{fffd}",
                "reason": "some of its text was not valid Unicode (half an emoji or a broken character) and was replaced with \u{fffd}"
            }] })
        );
        let bobs = bob.get_json("/api/chat/sessions").await;
        assert_eq!(bobs["sessions"][0]["title"], "crab \u{fffd}");
        let bobs_session = bobs["sessions"][0]["id"].as_str().unwrap().to_owned();
        let page = bob
            .get_json(&format!("/api/chat/messages?sessionId={bobs_session}"))
            .await;
        assert_eq!(contents(&page), ["crab \u{fffd}"]);
    }
);

both_backends!(cjk_words_are_found_inside_sentences, |backend| async move {
    // Chinese, Japanese and Korean put no spaces between words: a word in the middle of a
    // sentence is found, marked in the original text, by the search endpoint.
    let app = TestApp::spawn_on(backend).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let first = ada
        .message(None, "user", "今日は東京都庁で会議があります。")
        .await;
    let session_id = first["session"]["id"].as_str().unwrap().to_owned();
    let reply = ada
        .message(
            Some(&session_id),
            "assistant",
            "東京から京都へ行きました。서울에서 만나요",
        )
        .await;
    let mixed = ada
        .message(
            Some(&session_id),
            "user",
            "我们去北京大学, then Rustの勉強会",
        )
        .await;
    bob.message(None, "user", "東京都の天気").await;
    let hit = |appended: &Value, snippet: &str| {
        let message = &appended["message"];
        json!({
            "messageId": message["id"],
            "sessionId": session_id,
            "sessionTitle": "今日は東京都庁で会議があります。",
            "role": message["role"],
            "type": message["type"],
            "snippet": snippet,
            "createdAt": message["createdAt"],
            "archived": false,
        })
    };
    for (query, expected) in [
        (
            "東京",
            vec![
                hit(&first, "今日は<mark>東京</mark>都庁で会議があります。"),
                hit(
                    &reply,
                    "<mark>東京</mark>から京都へ行きました。서울에서 만나요",
                ),
            ],
        ),
        // Its bigrams in a row: the reply holds 東京 and 京都 apart.
        (
            "東京都",
            vec![hit(&first, "今日は<mark>東京都</mark>庁で会議があります。")],
        ),
        (
            "서울",
            vec![hit(
                &reply,
                "東京から京都へ行きました。<mark>서울</mark>에서 만나요",
            )],
        ),
        (
            "北京",
            vec![hit(
                &mixed,
                "我们去<mark>北京</mark>大学, then Rustの勉強会",
            )],
        ),
        (
            "大",
            vec![hit(
                &mixed,
                "我们去北京<mark>大</mark>学, then Rustの勉強会",
            )],
        ),
        (
            "rust 勉強",
            vec![hit(
                &mixed,
                "我们去北京大学, then <mark>Rust</mark>の<mark>勉強</mark>会",
            )],
        ),
        ("京都大学", vec![]),
    ] {
        let found = ada.get_json(&format!("/api/chat/search?q={query}")).await;
        assert_eq!(found["results"], json!(expected), "{query}");
    }
});
