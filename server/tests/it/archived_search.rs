//! Search and archived conversations over REST: each hit's `archived`, `is:archived` and
//! `-is:archived` in the query, the `archived` parameter, and their refusals.

use crate::support::{error_code, TestApp};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

/// Each hit of a search answer as (message id, archived), sorted.
async fn hits(response: Response) -> Vec<(String, bool)> {
    assert_eq!(response.status(), StatusCode::OK);
    let page: Value = response.json().await.expect("a page");
    let mut hits: Vec<(String, bool)> = page["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|hit| {
            (
                hit["messageId"].as_str().expect("messageId").to_owned(),
                hit["archived"].as_bool().expect("archived"),
            )
        })
        .collect();
    hits.sort();
    hits
}

both_backends!(archived_conversations_in_search, |backend| async move {
    let app = TestApp::spawn_on(backend).await;
    let ada = app.user("ada@example.com").await;
    let open = ada.post_message(None, "user", "lantern open").await;
    let shelved = ada.post_message(None, "user", "lantern shelved").await;
    let answer = ada
        .put(
            &format!("/api/chat/sessions/{}", shelved.session.id),
            json!({ "archived": true }),
        )
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let (open, shelved) = (open.message.id, shelved.message.id);

    let mut all = vec![(open.clone(), false), (shelved.clone(), true)];
    all.sort();
    assert_eq!(hits(ada.search_with(&[("q", "lantern")]).await).await, all);
    let only = vec![(shelved.clone(), true)];
    let without = vec![(open.clone(), false)];
    assert_eq!(
        hits(ada.search_with(&[("q", "lantern is:archived")]).await).await,
        only
    );
    assert_eq!(
        hits(
            ada.search_with(&[("q", "lantern"), ("archived", "true")])
                .await
        )
        .await,
        only
    );
    assert_eq!(
        hits(ada.search_with(&[("q", "lantern -is:archived")]).await).await,
        without
    );
    assert_eq!(
        hits(
            ada.search_with(&[("q", "lantern"), ("archived", "false")])
                .await
        )
        .await,
        without
    );
    for (query, code) in [
        (
            vec![("q", "lantern -is:archived"), ("archived", "true")],
            "conflicting_filter",
        ),
        (vec![("q", "lantern -is:starred")], "invalid_filter"),
    ] {
        let answer = ada.search_with(&query).await;
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_code(answer).await, code);
    }
    let answer = ada
        .search_with(&[("q", "lantern"), ("archived", "maybe")])
        .await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
});
