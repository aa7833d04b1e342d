//! The wire types of the public API: what requests carry and what answers hold, shared by the
//! REST layer, the server functions, the WASM client and the tests. Values arrive unchecked;
//! the service layer validates them. With the `openapi` feature each type is also an OpenAPI
//! schema, from which the server generates its document (`GET /api/openapi.json`,
//! `docs/openapi.json`): the serde attributes here are the contract.

use serde::{Deserialize, Serialize};

use chrono::{DateTime, Utc};

use crate::model::{
    ApiToken, Message, MessageStatus, SearchHit, Session, StarredMessage, StatusReason, User,
    UserRole,
};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SignupInput {
    pub email: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 8))]
    pub password: String,
    #[serde(default)]
    pub name: Option<String>,
    /// The secret of an invitation (the `invitation` parameter of its link): with a valid one,
    /// sign-up works even while it is closed, and uses the invitation up.
    #[serde(default)]
    pub invitation: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LoginInput {
    pub email: String,
    pub password: String,
}

/// `DELETE /api/auth/me`: the password, for an account that has one.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DeleteAccountInput {
    #[serde(default)]
    pub password: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NewSessionInput {
    #[serde(default)]
    pub title: Option<String>,
    /// The folder to start it in (one of the user's, else 404); the top level when absent.
    #[serde(default)]
    pub folder_id: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionPatchInput {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub is_active: Option<bool>,
    #[serde(default)]
    pub pinned: Option<bool>,
    #[serde(default)]
    pub archived: Option<bool>,
    /// Switches the active branch to the one ending at this message.
    #[serde(default)]
    pub active_leaf_id: Option<String>,
}

/// The most sessions one bulk action names (`SessionsBulkInput::ids`).
pub const MAX_BULK_SESSIONS: usize = 1000;

/// `POST /api/chat/sessions/bulk`: one action on many of the user's conversations, in one
/// write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionsBulkInput {
    /// 1 to 1,000 (`MAX_BULK_SESSIONS`) session ids, counted as given; one named twice is
    /// acted on once.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 1000))]
    pub ids: Vec<String>,
    pub action: SessionsBulkAction,
    /// The tag `tag` puts on and `untag` takes off (`crate::tags::tag`); required by those two
    /// actions and refused with the others (422 `invalid_tag`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The folder `move` puts each conversation in; absent or null moves them to the top
    /// level. Refused with the other actions (422 `invalid_folder`); a folder that is not the
    /// user's is 404 before anything moves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder_id: Option<String>,
}

/// `POST /api/chat/sessions/export`: the chosen conversations as one file to download.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionsExportInput {
    /// 1 to 1,000 (`MAX_BULK_SESSIONS`) ids of the user's live conversations (archived ones
    /// included); one named twice is written once.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 1000))]
    pub ids: Vec<String>,
    /// `json` (Confab's backup format, the default) or `markdown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// What a bulk action does to each conversation it names. `delete` is undone by `restore`
/// within the retention time, as one conversation's delete is. `tag` puts the body's `tag` on
/// each (a conversation that has it already counts as applied; one that already holds 32
/// other tags is skipped), `untag` takes it off (one without it is skipped).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SessionsBulkAction {
    Archive,
    Unarchive,
    Pin,
    Unpin,
    Delete,
    Restore,
    Tag,
    Untag,
    /// Into the body's `folderId` (the top level when absent); a conversation already there
    /// counts as applied.
    Move,
}

/// The answer to a bulk action.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionsBulkResult {
    /// The ids the action applied to, in the order they were given.
    pub applied: Vec<String>,
    /// The other ids, in the order given: not a conversation of the user's, deleted, (for
    /// `restore`) not one deleted within the retention time, (for `tag`) one that already
    /// holds 32 other tags, or (for `untag`) one without the tag.
    pub skipped: Vec<String>,
}

/// `GET /api/chat/tags`: every tag the user has, each once, in `str` order. A tag is the
/// user's while one of their conversations carries it (an archived one, or one in the trash,
/// included).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TagList {
    pub tags: Vec<String>,
}

/// `PATCH /api/chat/tags/{tag}`: the tag's new name, on every conversation that carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TagRenameInput {
    pub name: String,
}

/// The answer to renaming or deleting a tag: how many conversations changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TaggedCount {
    pub sessions: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct SessionListInput {
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub archived: Option<bool>,
    #[serde(default)]
    pub pinned: Option<bool>,
    #[serde(default)]
    pub q: Option<String>,
    /// Only the conversations carrying this tag (the tag rule applies: 422 `invalid_tag`).
    #[serde(default)]
    pub tag: Option<String>,
    /// Only the conversations directly in this folder (a folder id), or `top`: only those in
    /// no folder. In the same order and with the same cursor as the whole list.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>))]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub folder: Option<FolderFilter>,
}

/// Which conversations a folder-filtered list holds: those directly in one folder, or those
/// in none (the top level). As text: `top`, or the folder's id (ids are never `top`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum FolderFilter {
    /// In no folder.
    Top,
    /// Directly in this folder (not in its subfolders).
    Folder(String),
}

impl FolderFilter {
    /// The filter's text form (`top` or the id).
    pub fn as_str(&self) -> &str {
        match self {
            FolderFilter::Top => "top",
            FolderFilter::Folder(id) => id,
        }
    }
}

impl From<String> for FolderFilter {
    fn from(text: String) -> FolderFilter {
        if text == "top" {
            FolderFilter::Top
        } else {
            FolderFilter::Folder(text)
        }
    }
}

impl From<FolderFilter> for String {
    fn from(filter: FolderFilter) -> String {
        match filter {
            FolderFilter::Top => "top".to_string(),
            FolderFilter::Folder(id) => id,
        }
    }
}

/// `GET /api/chat/folders`: every folder of the user's (at most 1,000), parents before their
/// children, siblings by name (then id).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FolderList {
    pub folders: Vec<crate::model::Folder>,
}

/// `POST /api/chat/folders`: a new folder, at the top level or in `parentId`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NewFolderInput {
    /// 1 to 128 characters once trimmed (`crate::folders::folder_name`; 422 `invalid_folder`).
    pub name: String,
    /// The folder it goes in (one of the user's, else 404); the top level when absent.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// At most 32,768 characters; empty means none.
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// At most 256 characters; empty means none.
    #[serde(default)]
    pub model: Option<String>,
}

/// `PATCH /api/chat/folders/{id}`: what to change. An absent field is left as it is; `null`
/// for `parentId` moves the folder to the top level, for `systemPrompt` and `model` clears
/// them (as an empty text does).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FolderPatchInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub parent_id: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub system_prompt: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub model: Option<Option<String>>,
}

/// A field that tells "absent" (`None`, through `#[serde(default)]`) from `null`
/// (`Some(None)`).
fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// What deleting a folder does with what it holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum FolderContents {
    /// Its conversations and subfolders move to its parent (the top level for a top-level
    /// folder).
    #[default]
    Keep,
    /// Every conversation of its whole subtree goes to the trash (restorable as any deleted
    /// conversation; restored to the top level) and its subfolders are removed.
    Delete,
}

/// `DELETE /api/chat/folders/{id}?contents=keep|delete`.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct FolderDeleteInput {
    #[serde(default)]
    pub contents: FolderContents,
}

/// The answer to deleting a folder: how many conversations moved to its parent (`keep`) or
/// went to the trash (`delete`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FolderDeleted {
    pub sessions: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct MessageListInput {
    pub session_id: String,
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub before: Option<String>,
    #[serde(default, rename = "type")]
    pub message_type: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(value_type = Option<crate::model::Role>))]
    pub role: Option<String>,
}

/// Which page of a session's active branch to read (`GET /api/chat/sessions/{id}/branch`).
/// At most one of `before`, `after` and `around`; none reads the newest page.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct BranchInput {
    /// Messages per page (default 50, at most 200). With `type`, the most matches a page holds.
    #[serde(default)]
    pub limit: Option<i64>,
    /// The page above this message (a page's `earlier` cursor).
    #[serde(default)]
    pub before: Option<String>,
    /// The page below this message (a page's `later` cursor).
    #[serde(default)]
    pub after: Option<String>,
    /// The page that holds this message of the active branch, near its middle.
    #[serde(default)]
    pub around: Option<String>,
    /// Only messages of this type.
    #[serde(default, rename = "type")]
    pub message_type: Option<String>,
}

/// Which message's branch becomes the active one (`POST /api/chat/sessions/{id}/branch`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SwitchBranchInput {
    pub message_id: String,
    /// The size of the page answered (around the message), as `BranchInput::limit`.
    #[serde(default)]
    pub limit: Option<i64>,
}

/// The message to fork a conversation from (`POST /api/chat/sessions/{id}/fork`): the new
/// conversation holds the path from the root to it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ForkInput {
    pub message_id: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NewMessageInput {
    #[serde(default)]
    pub session_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::model::Role))]
    pub role: String,
    pub content: String,
    #[serde(default, rename = "type")]
    pub message_type: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub prompt_tokens: Option<i64>,
    #[serde(default)]
    pub completion_tokens: Option<i64>,
    #[serde(default)]
    pub latency_ms: Option<i64>,
    #[serde(default)]
    pub parent_id: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    /// The token counts are estimates.
    #[serde(default)]
    pub usage_estimated: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct SearchInput {
    /// The words to find, at most 500 characters, with the search box's filters among them:
    /// `model:NAME`, `type:SLUG`, `role:ROLE`, `after:DATE` (inclusive) and `before:DATE`
    /// (exclusive), a date being `YYYY-MM-DD` (midnight UTC) or an RFC 3339 time, `tag:TAG`
    /// (messages of conversations carrying the tag), `is:starred` (starred messages only),
    /// `is:archived` (messages of archived conversations only) and `-is:archived` (of
    /// conversations not archived only; without either, search finds both),
    /// a value with spaces in double quotes (`model:"my model"`, `tag:"machine learning"`). A
    /// filter also given as a parameter (or twice) must have the same value, else 422
    /// `conflicting_filter`.
    pub q: String,
    #[serde(default, rename = "type")]
    pub message_type: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(value_type = Option<crate::model::Role>))]
    pub role: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    /// Only messages of conversations carrying this tag (as `tag:` in `q`).
    #[serde(default)]
    pub tag: Option<String>,
    /// `true`: only starred messages (as `is:starred` in `q`); `false` filters nothing.
    #[serde(default)]
    pub starred: Option<bool>,
    /// Reserved for the folder filter (a folder name, as `in:` in `q` will be): accepted but
    /// not applied yet.
    #[serde(default)]
    pub folder: Option<String>,
    /// `true`: only messages of archived conversations (as `is:archived` in `q`); `false`:
    /// only of conversations not archived (as `-is:archived`); absent: both.
    #[serde(default)]
    pub archived: Option<bool>,
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub cursor: Option<String>,
}

/// The answer to an append: the message and its (possibly new) session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MessageCreated {
    pub message: Message,
    pub session: Session,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UserEnvelope {
    pub user: User,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    pub sessions: usize,
    pub messages: usize,
    pub skipped: usize,
    pub errors: Vec<ImportProblem>,
}

/// How far an import has got, reported after every batch written (the CLI's progress line,
/// `GET /api/import/progress/{id}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ImportProgress {
    /// Conversations read so far, imported or not.
    pub conversations: usize,
    /// Messages added so far.
    pub messages: usize,
    /// Messages found already imported so far.
    pub skipped: usize,
    /// Bytes of the file read so far.
    pub bytes_read: u64,
}

/// Where a followed import stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ImportState {
    Running,
    Done,
    Failed,
}

/// `GET /api/import/progress/{id}`: where the import named `id` is: how far it got, and its
/// report once `done` or its error once `failed`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportProgressView {
    pub state: ImportState,
    #[serde(flatten)]
    pub progress: ImportProgress,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<ImportReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ImportProblem {
    pub title: String,
    pub reason: String,
}

/// `POST /api/chat`: a user message and the reply it asks for.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChatInput {
    #[serde(default)]
    pub session_id: Option<String>,
    pub content: String,
    #[serde(default, rename = "type")]
    pub message_type: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub parent_id: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    /// Edit: the user message this one replaces. The new message becomes its sibling (same
    /// parent), and the reply continues from it; the original branch is kept.
    #[serde(default)]
    pub edit_of: Option<String>,
    /// A new conversation (no `sessionId`) starts in this folder (one of the user's, else
    /// 404): it begins with the folder's system prompt as a stored system message, and uses
    /// the folder's model when the request names none. Ignored for an existing conversation.
    #[serde(default)]
    pub folder_id: Option<String>,
}

/// `POST /api/chat/regenerate`: another reply to the same user message.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RegenerateInput {
    /// The reply to regenerate, or the user message to answer again.
    pub message_id: String,
    #[serde(default)]
    pub model: Option<String>,
    /// Names this request: a retry with the same id follows the reply already stored or
    /// running instead of asking the model again.
    #[serde(default)]
    pub client_id: Option<String>,
}

/// A reply that streamed but whose last save failed: the stored reply it belongs in and the
/// status it ended with. Its text travels beside it (`text` of the error event).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UnsavedReply {
    /// The stored reply's id.
    pub id: String,
    pub status: MessageStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<StatusReason>,
}

/// `POST /api/chat/messages/{id}/save`: a reply's text (at most 8 MiB of UTF-8) and final
/// status, for a reply whose own save failed (the `unsaved` of its error event).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SaveReplyInput {
    pub content: String,
    pub status: MessageStatus,
    #[serde(default)]
    pub status_reason: Option<StatusReason>,
}

/// A button on the sign-in page: where it leads and what it says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SignInProvider {
    /// The provider's name in Confab's configuration (`/auth/{name}/login`).
    pub name: String,
    pub display_name: String,
    pub login_url: String,
}

impl SignInProvider {
    /// Where the button leads for someone who follows an invitation: the login URL carrying
    /// its secret, which the server keeps until the provider sends the browser back.
    pub fn login_url_with_invitation(&self, invitation: &str) -> String {
        let mut url = format!("{}?invitation=", self.login_url);
        // Percent-encoded whole, byte by byte: the secret comes from the page's address, where
        // anyone may have written anything.
        for byte in invitation.bytes() {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
                url.push(char::from(byte));
            } else {
                url.push_str(&format!("%{byte:02X}"));
            }
        }
        url
    }
}

#[cfg(test)]
mod sign_in_provider_tests {
    use super::SignInProvider;

    #[test]
    fn an_invitation_rides_in_the_login_url_percent_encoded() {
        let button = SignInProvider {
            name: "test".into(),
            display_name: "Test ID".into(),
            login_url: "/auth/test/login".into(),
        };
        assert_eq!(
            button.login_url_with_invitation("cfb_Ab-9_x.~"),
            "/auth/test/login?invitation=cfb_Ab-9_x.~"
        );
        assert_eq!(
            button.login_url_with_invitation("a&b=c #é"),
            "/auth/test/login?invitation=a%26b%3Dc%20%23%C3%A9"
        );
    }
}

// Administration (`/api/admin/...`, `Services::admin_*`): what an administrator reads and
// sends. Times are RFC 3339 UTC timestamps.

/// Who may create an account once the first (admin) account exists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SignupPolicy {
    /// Anyone may sign up.
    #[default]
    Open,
    /// Only with an invitation.
    Closed,
}

impl SignupPolicy {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "open" => Some(SignupPolicy::Open),
            "closed" => Some(SignupPolicy::Closed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SignupPolicy::Open => "open",
            SignupPolicy::Closed => "closed",
        }
    }
}

/// The settings an administrator changes at run time (`GET`/`PUT /api/admin/settings`):
/// `{"signup": "open" | "closed"}`. Once stored they win over the configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AdminSettings {
    pub signup: SignupPolicy,
}

/// One account as the administrators' list shows it: never its content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UserSummary {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: UserRole,
    pub created_at: DateTime<Utc>,
    /// Whether the account is disabled (it cannot sign in); `disabled_at` says since when.
    pub disabled: bool,
    pub disabled_at: Option<DateTime<Utc>>,
    /// Messages stored in the account's conversations, those deleted but still restorable
    /// included.
    pub message_count: i64,
    /// The latest of its last sign-in and the last activity of its conversations (a message
    /// written, a conversation started); `None` when it has neither.
    pub last_active_at: Option<DateTime<Utc>>,
}

/// A page of the user list, sorted by email; `next_cursor` asks for the next page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UserPage {
    pub users: Vec<UserSummary>,
    pub next_cursor: Option<String>,
}

/// `GET /api/admin/users` and `GET /api/admin/audit`: page size (default 50, at most 200) and
/// the cursor of the page before.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct PageInput {
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub cursor: Option<String>,
}

/// `POST /api/admin/invitations`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InvitationInput {
    /// Only this email may sign up with the invitation; any email when absent.
    #[serde(default)]
    pub email: Option<String>,
    /// Hours until the invitation expires: 1 to 720 (30 days), 168 (7 days) when absent.
    #[serde(default)]
    pub expires_in_hours: Option<i64>,
}

/// Where an invitation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum InvitationStatus {
    /// Usable.
    Pending,
    /// An account was created with it.
    Used,
    /// Past its expiry, unused.
    Expired,
}

/// An invitation, without its secret (which only its creation answer carries).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Invitation {
    pub id: String,
    /// The email it is bound to, if any.
    pub email: Option<String>,
    /// The email of the administrator who created it.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    /// The id of the account created with it.
    pub used_by: Option<String>,
    pub status: InvitationStatus,
}

/// The path of an invitation's link: `{origin}/?invitation=TOKEN` opens the sign-in page on
/// "Create account" with the invitation. The one place the format is written: the REST answer
/// (`CreatedInvitation::link`) and the UI's administration page both build links with it, and
/// the sign-in page reads the same parameter. Secrets are URL-safe as generated.
pub fn invitation_path(token: &str) -> String {
    format!("/?invitation={token}")
}

/// The path of a password reset link: `{origin}/reset-password?token=TOKEN`, the page that
/// sets a new password with it (see [`invitation_path`]).
pub fn password_reset_path(token: &str) -> String {
    format!("/reset-password?token={token}")
}

/// An invitation just created: `token` is its one-time secret, shown here only, and `link`
/// the address to send (`{public base}/?invitation=TOKEN`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreatedInvitation {
    pub invitation: Invitation,
    pub token: String,
    pub link: String,
}

/// A password reset link just created for an account (`POST
/// /api/admin/users/{id}/password-reset`): `token` is its one-time secret, `link` the address
/// to send (`{public base}/reset-password?token=TOKEN`), valid until `expires_at` (24 hours).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PasswordResetLink {
    pub user_id: String,
    pub token: String,
    pub link: String,
    pub expires_at: DateTime<Utc>,
}

/// `POST /api/auth/password-reset`: the token of a reset link and the new password.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PasswordResetInput {
    pub token: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 8))]
    pub password: String,
}

/// What an administrator did (the audit log's `action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// Created an invitation (target: the invitation).
    Invite,
    /// Revoked an invitation (target: the invitation).
    RevokeInvitation,
    DisableUser,
    EnableUser,
    /// Created a password reset link for the target.
    PasswordResetLink,
    DeleteUser,
    /// Changed the sign-up policy (detail: the new one).
    SignupPolicy,
}

impl AuditAction {
    pub const ALL: [AuditAction; 7] = [
        AuditAction::Invite,
        AuditAction::RevokeInvitation,
        AuditAction::DisableUser,
        AuditAction::EnableUser,
        AuditAction::PasswordResetLink,
        AuditAction::DeleteUser,
        AuditAction::SignupPolicy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Invite => "invite",
            AuditAction::RevokeInvitation => "revoke_invitation",
            AuditAction::DisableUser => "disable_user",
            AuditAction::EnableUser => "enable_user",
            AuditAction::PasswordResetLink => "password_reset_link",
            AuditAction::DeleteUser => "delete_user",
            AuditAction::SignupPolicy => "signup_policy",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        AuditAction::ALL
            .into_iter()
            .find(|action| action.as_str() == text)
    }
}

/// One entry of the audit log. The actor's and the target's emails are kept as text, so an
/// entry outlives the accounts it names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: String,
    pub at: DateTime<Utc>,
    pub actor_id: String,
    pub actor_email: String,
    pub action: AuditAction,
    /// The user id, the invitation id, or the setting's name (`signup`).
    pub target_id: String,
    /// The target account's email (for an invitation: the email it is bound to).
    pub target_email: Option<String>,
    /// More about the action: the new policy, an invitation's expiry.
    pub detail: Option<String>,
}

/// A page of the audit log, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next_cursor: Option<String>,
}

/// The list of invitations, newest first (at most 200).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InvitationList {
    pub invitations: Vec<Invitation>,
}

// Answers (REST, and the server functions where they answer the same thing).

/// The body of every error answer: `{"error": {"code", "message"}}`. `code` is stable and
/// machine-readable (`not_found`, `too_large`, `storage_full`, ...); `message` is a sentence
/// for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: a stable code and a sentence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
            },
        }
    }
}

/// `GET /api/chat/sessions`: a page of the user's sessions; `next_cursor` asks for the next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionPage {
    pub sessions: Vec<Session>,
    pub next_cursor: Option<String>,
}

/// `GET /api/chat/messages`: a page of a session's messages; `next_cursor` asks for the next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessagePage {
    pub messages: Vec<Message>,
    pub next_cursor: Option<String>,
}

/// `GET /api/chat/search`: a page of hits, best first; `next_cursor` asks for the next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchPage {
    pub results: Vec<SearchHit>,
    pub next_cursor: Option<String>,
}

/// `GET /api/chat/starred`: a page of the user's starred messages, the most recently starred
/// first; `next_cursor` asks for the next. A page may hold fewer than `limit` items (even none)
/// and still have a `next_cursor`: stars in conversations deleted since are left out of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StarredPage {
    pub items: Vec<StarredMessage>,
    pub next_cursor: Option<String>,
}

/// One message: a stopped reply, or a reply saved again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageEnvelope {
    pub message: Message,
}

/// `GET /api/chat/messages/{id}/siblings`: the message and its siblings, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageList {
    pub messages: Vec<Message>,
}

/// A model one of the providers offers. `id` is what to send back as `model`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelChoice {
    pub id: String,
    /// The name of the provider that offers it.
    pub provider: String,
    /// Whether it is the model a chat uses when it names none.
    pub default: bool,
}

/// `GET /api/models`: the models the providers offer, and per provider that failed, what
/// failed (so one provider down does not hide the others).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelChoices {
    pub models: Vec<ModelChoice>,
    pub errors: Vec<String>,
}

/// `GET /api/auth/providers`: how one may sign in here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignInChoices {
    /// A button per identity provider.
    pub providers: Vec<SignInProvider>,
    /// Whether email and password accounts work.
    pub local_accounts: bool,
    /// Who may create an account now: `open` while the policy is open or no account exists
    /// yet.
    pub signup: SignupPolicy,
}

/// `GET /api/tokens`: the user's API tokens, without their secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenList {
    pub tokens: Vec<ApiToken>,
}

/// `POST /api/tokens`: the name of the token to create (1 to 100 characters).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewTokenInput {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: String,
}

/// A token just created: `token` is its secret, in this answer and nowhere else.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedToken {
    pub id: String,
    pub name: String,
    pub token: String,
    pub created_at: DateTime<Utc>,
}

/// How the store is doing (`GET /api/health`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum HealthStatus {
    /// It reads and writes.
    Ok,
    /// It reads but cannot write (its storage is full).
    Degraded,
    /// It does not answer.
    Unavailable,
}

/// `GET /api/health`: 200 with `ok`; 503 with `degraded` or `unavailable`, the reason in
/// `store` and a coded `error`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub status: HealthStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}
