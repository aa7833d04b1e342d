//! Conversation tags over REST: `PUT`/`DELETE /api/chat/sessions/{id}/tags/{tag}`,
//! `GET /api/chat/tags`, `PATCH`/`DELETE /api/chat/tags/{tag}`, the bulk `tag`/`untag`
//! actions, the list filtered by `?tag=`, and search with `tag:` and `is:starred`; each
//! answer whole, and what another user or a stranger gets. A tag in a path is
//! percent-encoded: a space as `%20`, a slash as `%2F` (a tag may hold one).

use crate::support::{error_code, TestApp};
use confab_core::api::SessionPage;
use confab_core::model::Session;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

/// `text` percent-encoded for a path segment: every byte but the unreserved ones.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

fn tag_path(session: &str, tag: &str) -> String {
    format!("/api/chat/sessions/{session}/tags/{}", encode(tag))
}

async fn session_of(response: Response) -> Session {
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("a session")
}

async fn refusal(response: Response) -> (StatusCode, String) {
    let status = response.status();
    (status, error_code(response).await)
}

fn ids(page: &SessionPage) -> Vec<String> {
    page.sessions
        .iter()
        .map(|session| session.id.clone())
        .collect()
}

both_backends!(tags_over_rest, |backend| async move {
    let app = TestApp::spawn_on(backend).await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let first = ada.post_message(None, "user", "harbour one").await;
    let second = ada.post_message(None, "user", "harbour two").await;
    let (s1, s2) = (first.session.id.clone(), second.session.id.clone());
    let bobs = bob
        .post_message(None, "user", "harbour of bob")
        .await
        .session
        .id;
    let unknown = "0178b5f2-0000-7000-8000-0000000000ff".to_owned();
    assert_eq!(first.session.tags, Vec::<String>::new());
    let created = ada.session("Empty").await;
    assert_eq!(created["tags"], json!([]), "always present, empty when new");

    // PUT: the tag trimmed and collapsed, with a space and a slash in it; again, the same.
    let tagged = session_of(
        ada.put(&tag_path(&s1, " machine  learning "), json!({}))
            .await,
    )
    .await;
    assert_eq!(tagged.tags, ["machine learning"]);
    assert_eq!(
        tagged,
        Session {
            tags: tagged.tags.clone(),
            folder_id: None,
            updated_at: tagged.updated_at,
            ..first.session.clone()
        }
    );
    let tagged = session_of(ada.put(&tag_path(&s1, "a/b"), json!({})).await).await;
    assert_eq!(tagged.tags, ["a/b", "machine learning"]);
    let again = session_of(ada.put(&tag_path(&s1, "a/b"), json!({})).await).await;
    assert_eq!(again, tagged);
    let tagged = session_of(ada.put(&tag_path(&s2, "机器学习"), json!({})).await).await;
    assert_eq!(tagged.tags, ["机器学习"]);
    let raw = ada.get_json(&format!("/api/chat/sessions/{s1}")).await;
    assert_eq!(raw["tags"], json!(["a/b", "machine learning"]));
    assert_eq!(raw["models"], json!([]));

    // What is not a tag, and conversations that are not Ada's.
    for bad in ["  ", "bell\u{7}", &"x".repeat(65)] {
        assert_eq!(
            refusal(ada.put(&tag_path(&s1, bad), json!({})).await).await,
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_tag".to_owned()),
            "{bad:?}"
        );
    }
    for session in [&bobs, &unknown, &"not-an-id".to_owned()] {
        assert_eq!(
            refusal(ada.put(&tag_path(session, "work"), json!({})).await).await,
            (StatusCode::NOT_FOUND, "not_found".to_owned())
        );
        assert_eq!(
            refusal(ada.delete(&tag_path(session, "work")).await).await,
            (StatusCode::NOT_FOUND, "not_found".to_owned())
        );
    }
    assert_eq!(
        refusal(app.client().put(&tag_path(&s1, "work"), json!({})).await).await,
        (StatusCode::UNAUTHORIZED, "unauthorized".to_owned())
    );

    // DELETE: the tag taken off; again, no error and no change.
    let untagged = session_of(ada.delete(&tag_path(&s1, "a/b")).await).await;
    assert_eq!(untagged.tags, ["machine learning"]);
    let again = session_of(ada.delete(&tag_path(&s1, "a/b")).await).await;
    assert_eq!(again, untagged);

    // The user's tags.
    assert_eq!(
        ada.get_json("/api/chat/tags").await,
        json!({ "tags": ["machine learning", "机器学习"] })
    );
    assert_eq!(bob.get_json("/api/chat/tags").await, json!({ "tags": [] }));
    assert_eq!(
        refusal(app.client().get("/api/chat/tags").await).await,
        (StatusCode::UNAUTHORIZED, "unauthorized".to_owned())
    );

    // The list filtered by a tag.
    let page: SessionPage = ada
        .get_as(&format!(
            "/api/chat/sessions?tag={}",
            encode("machine learning")
        ))
        .await;
    assert_eq!(ids(&page), vec![s1.clone()]);
    assert_eq!(page.sessions[0].tags, ["machine learning"]);
    let page: SessionPage = ada
        .get_as(&format!(
            "/api/chat/sessions?tag={}&archived=false",
            encode("机器学习")
        ))
        .await;
    assert_eq!(ids(&page), vec![s2.clone()]);
    let page: SessionPage = bob
        .get_as(&format!("/api/chat/sessions?tag={}", encode("机器学习")))
        .await;
    assert_eq!(ids(&page), Vec::<String>::new());
    assert_eq!(
        refusal(ada.get("/api/chat/sessions?tag=%07").await).await,
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_tag".to_owned())
    );

    // Bulk: `tag` and `untag` with the body's `tag`.
    let bulk = |body: Value| {
        let ada = &ada;
        async move { ada.post("/api/chat/sessions/bulk", body).await }
    };
    let answer =
        bulk(json!({ "ids": [s1, bobs, s2, unknown], "action": "tag", "tag": "work" })).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        json!({ "applied": [s1, s2], "skipped": [bobs, unknown] })
    );
    let answer = bulk(json!({ "ids": [s2, s1], "action": "untag", "tag": " work " })).await;
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        json!({ "applied": [s2, s1], "skipped": [] })
    );
    let answer = bulk(json!({ "ids": [s1], "action": "untag", "tag": "work" })).await;
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        json!({ "applied": [], "skipped": [s1] })
    );
    for body in [
        json!({ "ids": [s1], "action": "tag" }),
        json!({ "ids": [s1], "action": "untag", "tag": "" }),
        json!({ "ids": [s1], "action": "archive", "tag": "work" }),
    ] {
        assert_eq!(
            refusal(bulk(body.clone()).await).await,
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_tag".to_owned()),
            "{body}"
        );
    }
    // At most 32 tags on a conversation.
    for n in 0..31 {
        let answer = bulk(json!({ "ids": [s2], "action": "tag", "tag": format!("t{n:02}") })).await;
        assert_eq!(
            answer.json::<Value>().await.unwrap(),
            json!({ "applied": [s2], "skipped": [] })
        );
    }
    assert_eq!(
        refusal(ada.put(&tag_path(&s2, "t31"), json!({})).await).await,
        (StatusCode::UNPROCESSABLE_ENTITY, "too_many_tags".to_owned())
    );
    let answer = bulk(json!({ "ids": [s2, s1], "action": "tag", "tag": "t31" })).await;
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        json!({ "applied": [s1], "skipped": [s2] })
    );
    for n in 0..32 {
        let path = format!("/api/chat/tags/t{n:02}");
        let answer = ada.delete(&path).await;
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        assert_eq!(
            answer.json::<Value>().await.unwrap(),
            json!({ "sessions": 1 })
        );
    }

    // Search: `tag:` and `is:starred` in the query, or `tag` and `starred` as parameters.
    let star = ada.set_star(&first.message.id, true).await;
    assert!(star.starred);
    let found = |response: Response| async move {
        assert_eq!(response.status(), StatusCode::OK);
        let page: Value = response.json().await.unwrap();
        let mut ids: Vec<String> = page["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|hit| hit["messageId"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let (m1, m2) = (first.message.id.clone(), second.message.id.clone());
    assert_eq!(
        found(
            ada.search_with(&[("q", "harbour tag:\"machine learning\"")])
                .await
        )
        .await,
        vec![m1.clone()]
    );
    assert_eq!(
        found(ada.search_with(&[("q", "harbour tag:机器学习")]).await).await,
        vec![m2.clone()]
    );
    assert_eq!(
        found(ada.search_with(&[("q", "harbour is:starred")]).await).await,
        vec![m1.clone()]
    );
    assert_eq!(
        found(
            ada.search_with(&[("q", "harbour"), ("tag", "机器学习")])
                .await
        )
        .await,
        vec![m2.clone()]
    );
    assert_eq!(
        found(
            ada.search_with(&[("q", "harbour"), ("starred", "true")])
                .await
        )
        .await,
        vec![m1.clone()]
    );
    let mut both = vec![m1.clone(), m2.clone()];
    both.sort();
    assert_eq!(
        found(
            ada.search_with(&[("q", "harbour"), ("starred", "false")])
                .await
        )
        .await,
        both
    );
    assert_eq!(
        refusal(
            ada.search_with(&[("q", "harbour tag:a"), ("tag", "b")])
                .await
        )
        .await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "conflicting_filter".to_owned()
        )
    );
    assert_eq!(
        refusal(ada.search_with(&[("q", "harbour is:unread")]).await).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_filter".to_owned()
        )
    );
    assert_eq!(
        found(bob.search_with(&[("q", "harbour tag:机器学习")]).await).await,
        Vec::<String>::new()
    );

    // Renaming a tag everywhere (merging), then deleting it.
    let rename = |from: &str, body: Value| {
        let path = format!("/api/chat/tags/{}", encode(from));
        let request = ada.request(Method::PATCH, &path).json(&body);
        async move { request.send().await.expect("request") }
    };
    session_of(ada.put(&tag_path(&s2, "machine learning"), json!({})).await).await;
    let answer = rename("machine learning", json!({ "name": "机器学习" })).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        json!({ "sessions": 2 })
    );
    assert_eq!(
        ada.get_json("/api/chat/tags").await,
        json!({ "tags": ["机器学习"] })
    );
    let raw = ada.get_json(&format!("/api/chat/sessions/{s2}")).await;
    assert_eq!(raw["tags"], json!(["机器学习"]), "merged into one");
    assert_eq!(
        refusal(rename("machine learning", json!({ "name": "x" })).await).await,
        (StatusCode::NOT_FOUND, "not_found".to_owned())
    );
    assert_eq!(
        refusal(rename("机器学习", json!({ "name": " " })).await).await,
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_tag".to_owned())
    );
    assert_eq!(
        refusal(rename("机器学习", json!({})).await).await.0,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a body without the name"
    );
    let path = format!("/api/chat/tags/{}", encode("机器学习"));
    assert_eq!(
        refusal(bob.delete(&path).await).await,
        (StatusCode::NOT_FOUND, "not_found".to_owned()),
        "Bob has no such tag"
    );
    let answer = ada.delete(&path).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        json!({ "sessions": 2 })
    );
    assert_eq!(
        refusal(ada.delete(&path).await).await,
        (StatusCode::NOT_FOUND, "not_found".to_owned())
    );
    assert_eq!(ada.get_json("/api/chat/tags").await, json!({ "tags": [] }));
});
