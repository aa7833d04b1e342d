//! Starred messages: a star on any message of the user's live conversations, and the Starred
//! view that lists them across conversations.

use chrono::Utc;

use super::validate;
use super::{ServiceError, ServiceResult, Services};
use crate::api::PageInput;
use crate::model::{clamp_limit, Message, Page, StarredMessage, User};
use crate::store::StarredQuery;

impl Services {
    /// Stars the message (`starred`) or takes its star away, and returns it as stored. Both are
    /// idempotent: starring a starred message keeps the time of its first star. Errors:
    /// `NotFound` when the message is not one of the user's live conversations' (another
    /// user's, in a deleted conversation, unknown or not an id at all).
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, message_id = %id))]
    pub async fn set_star(&self, user: &User, id: &str, starred: bool) -> ServiceResult<Message> {
        validate::existing_id(id)?;
        self.store()
            .set_star(&user.id, id, starred.then(Utc::now))
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// A page of the Starred view: the user's starred messages with their conversations' titles,
    /// the most recently starred first; `limit` is clamped to `1..=MAX_PAGE` (`clamp_limit`).
    /// A page may hold fewer than `limit` (see `Store::starred_messages`). Errors:
    /// `InvalidCursor` for a cursor the view did not give.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id))]
    pub async fn starred_messages(
        &self,
        user: &User,
        input: PageInput,
    ) -> ServiceResult<Page<StarredMessage>> {
        let query = StarredQuery {
            limit: clamp_limit(input.limit),
            cursor: input.cursor.filter(|cursor| !cursor.is_empty()),
        };
        Ok(self.store().starred_messages(&user.id, query).await?)
    }
}
