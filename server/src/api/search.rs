//! Full-text search over the user's messages.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use confab_core::api::SearchInput;
use confab_http::CurrentUser;
use serde_json::json;

use crate::http::{ApiQuery, ApiResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/chat/search", get(search))
}

async fn search(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(input): ApiQuery<SearchInput>,
) -> ApiResult<Json<serde_json::Value>> {
    let page = state.services.search(&user, input).await?;
    Ok(Json(
        json!({ "results": page.items, "nextCursor": page.next_cursor }),
    ))
}
