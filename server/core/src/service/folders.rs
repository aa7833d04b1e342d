//! Conversation folders: creating, renaming, moving and deleting them, and the defaults a
//! conversation started in one takes. The rule of what a folder name is, and the limits, live
//! in `crate::folders`; the store keeps every folder's `session_count` with the writes that
//! move it.

use chrono::Utc;

use super::validate;
use super::{ServiceError, ServiceResult, Services};
use crate::api::{FolderContents, FolderPatchInput, NewFolderInput};
use crate::folders::{MAX_FOLDERS, MAX_FOLDER_DEPTH, MAX_MODEL_CHARS, MAX_SYSTEM_PROMPT_CHARS};
use crate::ids::new_id;
use crate::model::{Folder, User};
use crate::store::{Conflict, FolderPatch, NewFolder, StoreError};

/// The folder name `text` makes (`crate::folders::folder_name`), or 422 `invalid_folder`
/// saying why not.
pub(crate) fn valid_name(text: &str) -> ServiceResult<String> {
    crate::folders::folder_name(text)
        .map_err(|error| ServiceError::invalid("invalid_folder", error.to_string()))
}

/// A folder default as stored: `None` for an absent or empty text (a person clears a default
/// by emptying its box); more than `max` characters is 422 `invalid_folder`.
fn default_text(
    what: &str,
    text: Option<String>,
    max: usize,
    trim: bool,
) -> ServiceResult<Option<String>> {
    let Some(text) = text else { return Ok(None) };
    let text = if trim { text.trim().to_owned() } else { text };
    if text.trim().is_empty() {
        return Ok(None);
    }
    let chars = text.chars().count();
    if chars > max {
        return Err(ServiceError::invalid(
            "invalid_folder",
            format!("a folder's {what} holds at most {max} characters (this one has {chars})"),
        ));
    }
    Ok(Some(text))
}

/// The system prompt as stored: kept as typed (its whitespace may matter to the model).
fn system_prompt(text: Option<String>) -> ServiceResult<Option<String>> {
    default_text("system prompt", text, MAX_SYSTEM_PROMPT_CHARS, false)
}

/// The model name as stored: trimmed.
fn model(text: Option<String>) -> ServiceResult<Option<String>> {
    default_text("model", text, MAX_MODEL_CHARS, true)
}

/// A store error of a folder write in the client's terms: the cycle is 409 `folder_cycle`,
/// too deep 422 `folder_too_deep`, too many 422 `too_many_folders`.
pub(crate) fn folder_error(error: StoreError) -> ServiceError {
    match error {
        StoreError::Conflict(Conflict::FolderCycle) => {
            ServiceError::conflict_code("folder_cycle", Conflict::FolderCycle.to_string())
        }
        StoreError::Conflict(Conflict::FolderTooDeep) => ServiceError::invalid(
            "folder_too_deep",
            format!("folders nest at most {MAX_FOLDER_DEPTH} levels deep"),
        ),
        StoreError::Conflict(Conflict::TooManyFolders) => ServiceError::invalid(
            "too_many_folders",
            format!("you have {MAX_FOLDERS} folders already; delete one first"),
        ),
        other => other.into(),
    }
}

/// A backup's folder as the store creates it: through the same rules as a new one, under
/// `id`, `parent_id` and its own creation time.
pub(crate) fn checked_new_folder(
    user: &User,
    id: String,
    folder: &Folder,
    parent_id: Option<String>,
) -> ServiceResult<NewFolder> {
    Ok(NewFolder {
        id,
        user_id: user.id.clone(),
        name: valid_name(&folder.name)?,
        parent_id,
        system_prompt: system_prompt(folder.system_prompt.clone())?,
        model: model(folder.model.clone())?,
        created_at: folder.created_at,
    })
}

impl Services {
    /// Every folder of the user's, parents before children, siblings by name then id.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id))]
    pub async fn list_folders(&self, user: &User) -> ServiceResult<Vec<Folder>> {
        Ok(self.store().list_folders(&user.id).await?)
    }

    /// Creates a folder at the top level or in `parent_id`. Errors: 422 `invalid_folder`
    /// (the name rule, a default too long), `folder_too_deep`, `too_many_folders`; `NotFound`
    /// when the parent is not one of the user's folders.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id))]
    pub async fn create_folder(&self, user: &User, input: NewFolderInput) -> ServiceResult<Folder> {
        let name = valid_name(&input.name)?;
        if let Some(parent_id) = &input.parent_id {
            validate::existing_id(parent_id)?;
        }
        let new = NewFolder {
            id: new_id(),
            user_id: user.id.clone(),
            name,
            parent_id: input.parent_id,
            system_prompt: system_prompt(input.system_prompt)?,
            model: model(input.model)?,
            created_at: Utc::now(),
        };
        self.store().create_folder(new).await.map_err(folder_error)
    }

    /// Renames a folder, moves it (`parentId` null: to the top level), sets or clears its
    /// defaults. Errors: as `create_folder`, and 409 `folder_cycle` for a move into itself or
    /// one of its subfolders; `NotFound` when it or the new parent is not the user's.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, folder_id = %id))]
    pub async fn update_folder(
        &self,
        user: &User,
        id: &str,
        input: FolderPatchInput,
    ) -> ServiceResult<Folder> {
        validate::existing_id(id)?;
        let name = input.name.as_deref().map(valid_name).transpose()?;
        if let Some(Some(parent_id)) = &input.parent_id {
            validate::existing_id(parent_id)?;
        }
        let patch = FolderPatch {
            name,
            parent_id: input.parent_id,
            system_prompt: input.system_prompt.map(system_prompt).transpose()?,
            model: input.model.map(model).transpose()?,
        };
        self.store()
            .update_folder(&user.id, id, patch, Utc::now())
            .await
            .map_err(folder_error)
    }

    /// Deletes a folder, keeping its contents (moved to its parent) or deleting them (every
    /// conversation of its subtree to the trash, its subfolders removed). Answers how many
    /// conversations moved or went to the trash. `NotFound` when it is not the user's.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, folder_id = %id))]
    pub async fn delete_folder(
        &self,
        user: &User,
        id: &str,
        contents: FolderContents,
    ) -> ServiceResult<u64> {
        validate::existing_id(id)?;
        Ok(self
            .store()
            .delete_folder(&user.id, id, contents, Utc::now())
            .await?)
    }
}

impl Services {
    /// The user's folder `id`; `NotFound` when it is not theirs.
    pub(crate) async fn folder(&self, user: &User, id: &str) -> ServiceResult<Folder> {
        validate::existing_id(id)?;
        self.store()
            .list_folders(&user.id)
            .await?
            .into_iter()
            .find(|folder| folder.id == id)
            .ok_or(ServiceError::NotFound)
    }

    /// The folder the user's conversation is in, if any (`None` too for a conversation that
    /// is not theirs: the caller's own read answers that).
    pub(crate) async fn session_folder(
        &self,
        user: &User,
        session_id: &str,
    ) -> ServiceResult<Option<Folder>> {
        if crate::ids::is_valid_id(session_id) {
            let Some(session) = self.store().session(&user.id, session_id).await? else {
                return Ok(None);
            };
            if let Some(folder_id) = session.folder_id {
                let folders = self.store().list_folders(&user.id).await?;
                return Ok(folders.into_iter().find(|folder| folder.id == folder_id));
            }
        }
        Ok(None)
    }
}
