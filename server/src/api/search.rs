//! Full-text search over the user's messages.

use axum::extract::State;

use axum::Json;
use confab_core::api::{SearchInput, SearchPage};
use confab_http::CurrentUser;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::{ApiQuery, ApiResult};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search))
}

/// Full-text search over the user's messages, best hits first.
#[utoipa::path(get, path = "/api/chat/search", tag = "search", params(SearchInput),
    responses((status = 200, body = SearchPage)), security(("session" = []), ("token" = [])))]
async fn search(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(input): ApiQuery<SearchInput>,
) -> ApiResult<Json<SearchPage>> {
    let page = state.services.search(&user, input).await?;
    Ok(Json(SearchPage {
        results: page.items,
        next_cursor: page.next_cursor,
    }))
}
