//! Conversation tags: putting a tag on a conversation and taking it off (one conversation or
//! many, through the same bulk change of the store), the user's tags, and renaming or
//! deleting a tag everywhere. The rule of what a tag is lives in `crate::tags`; the limits of
//! how many a conversation and a person hold are kept here.

use chrono::Utc;

use super::validate;
use super::{ServiceError, ServiceResult, Services};
use crate::api::{ImportProblem, SessionsBulkAction, SessionsBulkInput};
use crate::model::{Session, User};
use crate::tags::{MAX_TAGS, MAX_TAGS_PER_SESSION};

/// The tag `text` makes (`crate::tags::tag`), or 422 `invalid_tag` saying why not.
pub(crate) fn valid_tag(text: &str) -> ServiceResult<String> {
    crate::tags::tag(text).map_err(|error| ServiceError::invalid("invalid_tag", error.to_string()))
}

/// The tags a source gives, as Confab's tag rule makes them (`crate::tags::tag`), each once, in
/// `str` order. A text that is not a tag, and every tag past `MAX_TAGS_PER_SESSION`, is left
/// out with a note saying so: the conversation is imported without it.
pub(crate) fn source_tags(given: Vec<String>, notes: &mut Vec<String>) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for text in given {
        let shown: String = text.chars().take(crate::tags::MAX_TAG_CHARS).collect();
        match crate::tags::tag(&text) {
            Err(error) => notes.push(format!("the tag {shown:?} was not imported: {error}")),
            Ok(tag) if kept.contains(&tag) => {}
            Ok(tag) if kept.len() >= crate::tags::MAX_TAGS_PER_SESSION => notes.push(format!(
                "the tag {tag:?} was not imported: a conversation holds at most {} tags",
                crate::tags::MAX_TAGS_PER_SESSION
            )),
            Ok(tag) => kept.push(tag),
        }
    }
    crate::tags::normalized(kept)
}

/// The tags a person has, as an import adds conversations: a tag new to them is kept while
/// they have fewer than `MAX_TAGS`, and left out with a note past that.
pub(crate) struct Vocabulary {
    tags: std::collections::BTreeSet<String>,
}

impl Vocabulary {
    pub(crate) async fn of(services: &Services, user: &User) -> ServiceResult<Vocabulary> {
        let tags = services.store().list_tags(&user.id).await?;
        Ok(Vocabulary {
            tags: tags.into_iter().collect(),
        })
    }

    /// Keeps the tags of `session` the person may have, and says which it left out.
    pub(crate) fn admit(
        &mut self,
        session: &mut crate::store::ImportSession,
    ) -> Vec<ImportProblem> {
        let mut problems = Vec::new();
        let title = &session.session.title;
        let tags = &mut self.tags;
        session.tags.retain(|tag| {
            if tags.contains(tag) {
                return true;
            }
            if tags.len() < MAX_TAGS {
                tags.insert(tag.clone());
                return true;
            }
            problems.push(ImportProblem {
                title: title.clone(),
                reason: format!(
                    "the tag {tag:?} was not imported: you have {MAX_TAGS} tags already"
                ),
            });
            false
        });
        problems
    }
}

fn too_many_tags(message: String) -> ServiceError {
    ServiceError::invalid("too_many_tags", message)
}

impl Services {
    /// The user's tags, each once, in `str` order: those on any of their conversations
    /// (archived ones, and deleted ones until purged, included).
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id))]
    pub async fn list_tags(&self, user: &User) -> ServiceResult<Vec<String>> {
        Ok(self.store().list_tags(&user.id).await?)
    }

    /// Refuses a tag that would be the user's `MAX_TAGS + 1`st (422 `too_many_tags`); one
    /// they have already passes.
    pub(crate) async fn check_new_tag(&self, user: &User, tag: &str) -> ServiceResult<()> {
        let tags = self.store().list_tags(&user.id).await?;
        if tags.len() >= MAX_TAGS
            && tags
                .binary_search_by(|held| held.as_str().cmp(tag))
                .is_err()
        {
            return Err(too_many_tags(format!(
                "you have {MAX_TAGS} tags already; rename or delete one first"
            )));
        }
        Ok(())
    }

    /// Puts the tag on the conversation and returns it; idempotent. A bulk action of one
    /// (`change_sessions`), so one rule decides both. Errors: `invalid_tag`; `too_many_tags`
    /// when the conversation holds `MAX_TAGS_PER_SESSION` other tags or the user
    /// `MAX_TAGS` others; `NotFound` when it is not one of the user's live conversations.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, session_id = %id))]
    pub async fn tag_session(&self, user: &User, id: &str, tag: &str) -> ServiceResult<Session> {
        validate::existing_id(id)?;
        // Not found comes before any refusal of the tag's: the conversation is not there.
        self.store()
            .session(&user.id, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let applied = self
            .change_sessions(
                user,
                SessionsBulkInput {
                    ids: vec![id.to_owned()],
                    action: SessionsBulkAction::Tag,
                    tag: Some(tag.to_owned()),
                    folder_id: None,
                },
            )
            .await?
            .applied;
        let session = self
            .store()
            .session(&user.id, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        if applied.is_empty() {
            return Err(too_many_tags(format!(
                "a conversation holds at most {MAX_TAGS_PER_SESSION} tags"
            )));
        }
        Ok(session)
    }

    /// Takes the tag off the conversation and returns it; idempotent (a conversation without
    /// the tag is returned as it is). Errors: `invalid_tag`; `NotFound` when it is not one of
    /// the user's live conversations.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, session_id = %id))]
    pub async fn untag_session(&self, user: &User, id: &str, tag: &str) -> ServiceResult<Session> {
        validate::existing_id(id)?;
        self.change_sessions(
            user,
            SessionsBulkInput {
                ids: vec![id.to_owned()],
                action: SessionsBulkAction::Untag,
                tag: Some(tag.to_owned()),
                folder_id: None,
            },
        )
        .await?;
        self.store()
            .session(&user.id, id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// Renames the tag on every conversation of the user that carries it (deleted ones
    /// too), merging it where a conversation carries both names. Returns how many
    /// conversations carried it. Errors: `invalid_tag` for either name; `NotFound` when no
    /// conversation of the user carries `from`.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id))]
    pub async fn rename_tag(&self, user: &User, from: &str, to: &str) -> ServiceResult<u64> {
        let from = valid_tag(from)?;
        let to = valid_tag(to)?;
        // No new tag is counted: `from` goes as `to` comes.
        Ok(self
            .store()
            .rename_tag(&user.id, &from, &to, Utc::now())
            .await?)
    }

    /// Takes the tag off every conversation of the user (deleted ones too). Returns how many
    /// carried it. Errors: `invalid_tag`; `NotFound` when none did.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id))]
    pub async fn delete_tag(&self, user: &User, name: &str) -> ServiceResult<u64> {
        let name = valid_tag(name)?;
        Ok(self.store().delete_tag(&user.id, &name, Utc::now()).await?)
    }
}
