//! Export (per session as JSON or Markdown, the whole account as one streamed JSON document)
//! and import of Confab's own export format.
//!
//! A JSON export restores without loss: every field of every session and message comes back
//! (`confab_session`). Restored into the account it was exported from (version 2 files name
//! it), the ids are kept, so a restore adds only what is missing; into another account, ids are
//! derived from the exported ones (`ids::derived_id`), so importing the file twice adds nothing
//! there either. The one change a restore makes is documented in `model::settled_status`: a
//! reply still `streaming` in the file comes back `partial`/`error` (`interrupted`).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use futures::stream::{self, Stream, StreamExt};
use serde::{Deserialize, Serialize};

use super::{validate, ServiceError, ServiceResult, Services};
use crate::api::{ImportProblem, ImportReport, SessionsExportInput};
use crate::ids::{derived_id, is_valid_id};
use crate::model::{ForkedFrom, Message, Role, Session, User};
use crate::store::{ImportSession, LeafRule, NewMessage, NewSession};

pub const EXPORT_FORMAT: &str = "confab";
/// 2: the header names the exported account (`accountId`) and sessions come in id order.
/// Version 1 files still import (into another account's ids, as before).
pub const EXPORT_VERSION: u32 = 2;
/// Sessions read per page by the account export: each page is one short read.
const EXPORT_PAGE: usize = 100;

/// One session with all its messages (every branch), as exported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedSession {
    #[serde(flatten)]
    pub session: Session,
    pub messages: Vec<Message>,
}

/// The account export. Written field by field when streamed, so keep the two in step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportDocument {
    pub format: String,
    pub version: u32,
    pub exported_at: DateTime<Utc>,
    /// The account exported (version 2 on). Restored into that same account, the file's ids
    /// are kept; absent (version 1) or another account's, they are derived anew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The account's folders, parents before children (`Store::list_folders`). Absent from
    /// files made before folders, which restore none. A session names its folder in
    /// `folderId`.
    #[serde(default)]
    pub folders: Vec<crate::model::Folder>,
    pub sessions: Vec<ExportedSession>,
}

impl ExportDocument {
    /// Whether importing this file into `user_id`'s account keeps its ids.
    pub fn keeps_ids_for(&self, user_id: &str) -> bool {
        self.account_id.as_deref() == Some(user_id)
    }
}

/// Where a Confab import put each exported session and message: exported id -> stored id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdMap {
    pub sessions: HashMap<String, String>,
    pub messages: HashMap<String, String>,
}

/// One exported session converted for the store, with where its ids went.
#[derive(Clone, Debug)]
pub struct ConfabSession {
    pub import: ImportSession,
    /// The exported session's id.
    pub exported_id: String,
    /// Exported message id -> the id it is stored under.
    pub message_ids: Vec<(String, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Json,
    Markdown,
}

impl ExportFormat {
    pub fn parse(text: &str) -> ServiceResult<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "json" | "" => Ok(ExportFormat::Json),
            "markdown" | "md" => Ok(ExportFormat::Markdown),
            _ => Err(ServiceError::invalid(
                "invalid_format",
                "format must be json or markdown",
            )),
        }
    }
}

/// The folders of `folders` that hold one of `sessions` directly, and the folders above
/// those, in the order given (parents first, as the store lists them).
fn folders_holding(
    folders: Vec<crate::model::Folder>,
    sessions: &[Session],
) -> Vec<crate::model::Folder> {
    let mut kept: HashSet<String> = HashSet::new();
    for session in sessions {
        let mut next = session.folder_id.clone();
        // Bounded by the folders' number: a parent link never loops, and this never spins if
        // one did.
        let mut steps = 0;
        while let Some(id) = next.take() {
            if !kept.insert(id.clone()) || steps > folders.len() {
                break;
            }
            steps += 1;
            next = folders
                .iter()
                .find(|folder| folder.id == id)
                .and_then(|folder| folder.parent_id.clone());
        }
    }
    folders
        .into_iter()
        .filter(|folder| kept.contains(&folder.id))
        .collect()
}

/// A file ready for download.
pub struct ExportFile {
    pub filename: String,
    pub content_type: &'static str,
    pub body: String,
}

/// A download written a piece at a time, so that memory stays flat however much it holds.
pub struct ExportStream {
    pub filename: String,
    pub content_type: &'static str,
    /// The file's text in pieces. An error ends it: by then the answer's head is sent, so
    /// the client holds a cut-off (invalid) file.
    pub body: futures::stream::BoxStream<'static, ServiceResult<String>>,
}

/// What a streamed export holds.
enum Chosen {
    /// Every live session of the account, read in pages by id.
    Account,
    /// These sessions (read already, in the order to write them).
    Sessions(Vec<Session>),
}

fn file_stem(title: &str) -> String {
    let stem: String = title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let stem = stem
        .split('-')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let stem: String = stem.chars().take(60).collect();
    if stem.is_empty() {
        "chat".into()
    } else {
        stem
    }
}

/// The messages of the branch the user is on, first to last: from the session's active leaf
/// (or, when it names none of these messages, the newest message) up through the parents.
pub fn active_branch(session: &Session, messages: &[Message]) -> Vec<Message> {
    let leaf = session
        .active_leaf_id
        .as_deref()
        .filter(|leaf| messages.iter().any(|message| message.id == *leaf))
        .or_else(|| messages.iter().map(|message| message.id.as_str()).max());
    leaf.map(|leaf| super::chat::branch_to(messages, leaf))
        .unwrap_or_default()
}

/// The conversation as the user sees it (its active branch), each message under a heading
/// with its role, model, type, status when not complete, and time. Other branches (abandoned
/// regenerations, questions before an edit) are left out and counted; the JSON export holds
/// them all.
pub fn render_markdown(session: &Session, messages: &[Message]) -> String {
    let mut out = format!("# {}\n\n", session.title);
    out.push_str(&format!(
        "_Exported from Confab · created {}_\n\n",
        session.created_at.to_rfc3339()
    ));
    let branch = active_branch(session, messages);
    if branch.len() < messages.len() {
        out.push_str(&format!(
            "_The branch shown: {} of {} messages; the JSON export holds every branch._\n\n",
            branch.len(),
            messages.len()
        ));
    }
    for message in &branch {
        let role = match message.role {
            Role::User => "User",
            Role::Assistant => "Assistant",
            Role::System => "System",
            Role::Tool => "Tool",
        };
        let mut heading = match &message.model {
            Some(model) => format!("## {role} ({model})"),
            None => format!("## {role}"),
        };
        heading.push_str(&format!(" · {}", message.message_type));
        if message.status != crate::model::MessageStatus::Complete {
            heading.push_str(&format!(" · {}", message.status.as_str()));
            if let Some(reason) = message.status_reason {
                heading.push_str(&format!(" ({})", reason.as_str()));
            }
        }
        out.push_str(&format!(
            "{heading} · {}\n\n",
            message.created_at.to_rfc3339()
        ));
        out.push_str(message.content.trim_end());
        out.push_str("\n\n");
    }
    out
}

impl Services {
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, session_id = %id))]
    pub async fn export_session(
        &self,
        user: &User,
        id: &str,
        format: ExportFormat,
    ) -> ServiceResult<ExportFile> {
        let detail = self.get_session(user, id).await?;
        let messages = self.store().all_messages(&user.id, id).await?;
        let stem = file_stem(&detail.session.title);
        Ok(match format {
            ExportFormat::Json => ExportFile {
                filename: format!("{stem}.json"),
                content_type: "application/json",
                body: serde_json::to_string_pretty(&ExportDocument {
                    format: EXPORT_FORMAT.into(),
                    version: EXPORT_VERSION,
                    exported_at: Utc::now(),
                    account_id: Some(user.id.clone()),
                    // One conversation's file carries no folders: restored, it goes to the
                    // top level.
                    folders: Vec::new(),
                    sessions: vec![ExportedSession {
                        session: detail.session,
                        messages,
                    }],
                })
                .map_err(|error| ServiceError::Internal(error.to_string()))?,
            },
            ExportFormat::Markdown => ExportFile {
                filename: format!("{stem}.md"),
                content_type: "text/markdown; charset=utf-8",
                body: render_markdown(&detail.session, &messages),
            },
        })
    }

    /// The whole account as one JSON document, produced a session at a time so memory stays
    /// flat however large the account is. Sessions are read in pages by id, a key that a new
    /// message does not move, each page and each session's messages in a read of its own (no
    /// read is held open across pages, which would pin SQLite's write-ahead log): every
    /// conversation that existed when the export started is written, with at least the
    /// messages it had then; one created or written to meanwhile may carry more.
    pub fn export_account(
        &self,
        user: User,
    ) -> impl Stream<Item = ServiceResult<String>> + Send + 'static {
        self.backup_stream(user, Chosen::Account)
    }

    /// The chosen conversations (`ids`: 1 to `MAX_BULK_SESSIONS` of the user's live sessions,
    /// archived ones included) as one file: a backup document in Confab's format holding just
    /// them, in id order as every version-2 file (it restores as any backup does), or their
    /// Markdown (`render_markdown`) one after the other in the order given, separated by a
    /// rule. Every id is checked before anything is written. Errors: `invalid_ids` (see
    /// `change_sessions`), `invalid_format`, and `NotFound` when an id is not one of the
    /// user's live sessions: a file that silently left out a chosen conversation would read
    /// as complete.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id, count = input.ids.len()))]
    pub async fn export_sessions(
        &self,
        user: &User,
        input: SessionsExportInput,
    ) -> ServiceResult<ExportStream> {
        let format = ExportFormat::parse(input.format.as_deref().unwrap_or("json"))?;
        let mut ids = super::chat::selected_ids(&input.ids)?;
        if format == ExportFormat::Json {
            ids.sort_unstable();
        }
        let mut sessions = Vec::with_capacity(ids.len());
        for id in &ids {
            let session = self
                .store()
                .session(&user.id, id)
                .await?
                .ok_or(ServiceError::NotFound)?;
            sessions.push(session);
        }
        let day = Utc::now().format("%Y-%m-%d");
        Ok(match format {
            ExportFormat::Json => ExportStream {
                filename: format!("confab-conversations-{day}.json"),
                content_type: "application/json",
                body: Box::pin(self.backup_stream(user.clone(), Chosen::Sessions(sessions))),
            },
            ExportFormat::Markdown => ExportStream {
                filename: format!("confab-conversations-{day}.md"),
                content_type: "text/markdown; charset=utf-8",
                body: Box::pin(self.markdown_stream(user.clone(), sessions)),
            },
        })
    }

    /// The Markdown of `sessions`, one after the other, a rule between two.
    fn markdown_stream(
        &self,
        user: User,
        sessions: Vec<Session>,
    ) -> impl Stream<Item = ServiceResult<String>> + Send + 'static {
        let services = self.clone();
        stream::iter(sessions.into_iter().enumerate()).then(move |(index, session)| {
            let services = services.clone();
            let user_id = user.id.clone();
            async move {
                let messages = services.store().all_messages(&user_id, &session.id).await?;
                let text = render_markdown(&session, &messages);
                Ok(if index == 0 {
                    text
                } else {
                    format!("\n---\n\n{text}")
                })
            }
        })
    }

    /// A backup document of what `chosen` names, a session at a time (see `export_account`).
    fn backup_stream(
        &self,
        user: User,
        chosen: Chosen,
    ) -> impl Stream<Item = ServiceResult<String>> + Send + 'static {
        enum Phase {
            /// Chosen sessions are all pending from the start, and no page follows them.
            Start {
                pending: Vec<Session>,
                more: bool,
            },
            Sessions {
                /// The id of the last session read: the next page starts after it.
                cursor: Option<String>,
                pending: Vec<Session>,
                first: bool,
                more: bool,
            },
            Done,
        }
        let services = self.clone();
        let start = match chosen {
            Chosen::Account => Phase::Start {
                pending: Vec::new(),
                more: true,
            },
            Chosen::Sessions(mut sessions) => {
                sessions.reverse();
                Phase::Start {
                    pending: sessions,
                    more: false,
                }
            }
        };
        stream::unfold(start, move |phase| {
            let services = services.clone();
            let user = user.clone();
            async move {
                match phase {
                    Phase::Start { pending, more } => {
                        let folders = match services.store().list_folders(&user.id).await {
                            Ok(folders) => folders,
                            Err(error) => return Some((Err(error.into()), Phase::Done)),
                        };
                        // Chosen conversations carry the folders they are in (with the
                        // folders above those), so that a restore puts them back in place.
                        let folders = if more {
                            folders
                        } else {
                            folders_holding(folders, &pending)
                        };
                        let folders = match serde_json::to_string(&folders) {
                            Ok(folders) => folders,
                            Err(error) => {
                                return Some((
                                    Err(ServiceError::Internal(error.to_string())),
                                    Phase::Done,
                                ))
                            }
                        };
                        let head = format!(
                            "{{\"format\":\"{EXPORT_FORMAT}\",\"version\":{EXPORT_VERSION},\"exportedAt\":{},\"accountId\":{},\"folders\":{folders},\"sessions\":[",
                            serde_json::to_string(&Utc::now()).unwrap_or_else(|_| "null".into()),
                            serde_json::to_string(&user.id).unwrap_or_else(|_| "null".into()),
                        );
                        Some((
                            Ok(head),
                            Phase::Sessions {
                                cursor: None,
                                pending,
                                first: true,
                                more,
                            },
                        ))
                    }
                    Phase::Sessions {
                        mut cursor,
                        mut pending,
                        first,
                        mut more,
                    } => {
                        if pending.is_empty() && more {
                            let page = services
                                .store()
                                .sessions_by_id(&user.id, cursor.as_deref(), EXPORT_PAGE)
                                .await;
                            match page {
                                Ok(page) => {
                                    more = page.len() == EXPORT_PAGE;
                                    cursor = page.last().map(|session| session.id.clone());
                                    pending = page;
                                    pending.reverse();
                                }
                                Err(error) => return Some((Err(error.into()), Phase::Done)),
                            }
                        }
                        let Some(session) = pending.pop() else {
                            return Some((Ok("]}".to_owned()), Phase::Done));
                        };
                        let messages =
                            match services.store().all_messages(&user.id, &session.id).await {
                                Ok(messages) => messages,
                                Err(error) => return Some((Err(error.into()), Phase::Done)),
                            };
                        let chunk = serde_json::to_string(&ExportedSession { session, messages })
                            .map(|json| if first { json } else { format!(",{json}") })
                            .map_err(|error| ServiceError::Internal(error.to_string()));
                        Some((
                            chunk,
                            Phase::Sessions {
                                cursor,
                                pending,
                                first: false,
                                more,
                            },
                        ))
                    }
                    Phase::Done => None,
                }
            }
        })
    }

    /// Imports a Confab export (see `import_confab_with_ids`).
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id))]
    pub async fn import_confab(
        &self,
        user: &User,
        document: ExportDocument,
    ) -> ServiceResult<ImportReport> {
        Ok(self.import_confab_with_ids(user, document).await?.0)
    }

    /// Imports a Confab export and says where each exported session and message went.
    /// Restored into the account it came from, the ids are kept and only what is missing is
    /// added (a deleted, not yet purged conversation is brought back); into another account,
    /// ids are derived from the exported ones, so importing the same file again adds nothing.
    /// A version 1 file does not name its account: the sessions this account holds already
    /// (deleted ones included) keep their ids, the others are derived. See `keeps_ids`.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id))]
    pub async fn import_confab_with_ids(
        &self,
        user: &User,
        document: ExportDocument,
    ) -> ServiceResult<(ImportReport, IdMap)> {
        if document.format != EXPORT_FORMAT || document.version > EXPORT_VERSION {
            return Err(ServiceError::invalid(
                "unsupported_format",
                format!("this is not a Confab export of version {EXPORT_VERSION} or older"),
            ));
        }
        let names_this_account = document.keeps_ids_for(&user.id);
        // Which sessions the account holds, under the file's ids or under the ids an earlier
        // restore derived from them. A file of another account keeps no ids: nothing to ask.
        let mut held = HashSet::new();
        if names_this_account || document.account_id.is_none() {
            let ids: Vec<String> = document
                .sessions
                .iter()
                .flat_map(|exported| {
                    [
                        exported.session.id.clone(),
                        derived_session_id(&user.id, &exported.session),
                    ]
                })
                .collect();
            for part in ids.chunks(1_000) {
                held.extend(self.store().owned_session_ids(&user.id, part).await?);
            }
        }
        let keep_ids_of = |session: &Session| {
            keeps_ids(
                names_this_account,
                held.contains(&session.id),
                held.contains(&derived_session_id(&user.id, session)),
            )
        };
        let links = mapped_fork_links(&user.id, &document.sessions, keep_ids_of);
        let mut report = ImportReport::default();
        let folder_ids = self
            .restore_folders(user, names_this_account, &document.folders, &mut report)
            .await?;
        let mut ids = IdMap::default();
        // Batches of sessions keep each write transaction short.
        let mut chunk = Vec::new();
        let mut chunk_messages = 0;
        for exported in document.sessions {
            let keep_ids = keep_ids_of(&exported.session);
            let link = exported
                .session
                .forked_from
                .as_ref()
                .and_then(|link| links.get(link))
                .cloned();
            let folder = exported
                .session
                .folder_id
                .as_ref()
                .and_then(|folder| folder_ids.get(folder))
                .cloned();
            match confab_session_mapped(&user.id, keep_ids, exported) {
                Ok(mut converted) => {
                    if link.is_some() {
                        converted.import.forked_from = link;
                    }
                    converted.import.session.folder_id = folder;
                    chunk_messages += converted.import.messages.len();
                    chunk.push(converted);
                }
                Err((title, reason)) => report.errors.push(ImportProblem { title, reason }),
            }
            if chunk_messages >= 2_000 {
                self.store_import(user, std::mem::take(&mut chunk), &mut report, &mut ids)
                    .await?;
                chunk_messages = 0;
            }
        }
        if !chunk.is_empty() {
            self.store_import(user, chunk, &mut report, &mut ids)
                .await?;
        }
        Ok((report, ids))
    }

    /// Recreates a backup's folders, parents first, and answers exported folder id -> stored
    /// id. Restored into the account it came from a folder keeps its id, and one that exists
    /// is kept as it is (its name, place and defaults now); into another account the ids are
    /// derived from the exported ones, so a second import of the file finds them. A folder
    /// the rules refuse (its name, its depth, the 1,000 limit, a parent left out) is left out
    /// with a note, and its conversations are restored at the top level.
    async fn restore_folders(
        &self,
        user: &User,
        names_this_account: bool,
        folders: &[crate::model::Folder],
        report: &mut ImportReport,
    ) -> ServiceResult<HashMap<String, String>> {
        let mut ids = HashMap::new();
        if folders.is_empty() {
            return Ok(ids);
        }
        let held: HashSet<String> = self
            .store()
            .list_folders(&user.id)
            .await?
            .into_iter()
            .map(|folder| folder.id)
            .collect();
        for folder in crate::store::folder_tree::tree_order(folders.to_vec()) {
            let id = if names_this_account && is_valid_id(&folder.id) {
                folder.id.clone()
            } else {
                derived_id(
                    folder.created_at,
                    0,
                    &user.id,
                    &format!("confab:folder:{}", folder.id),
                )
            };
            if held.contains(&id) {
                ids.insert(folder.id.clone(), id);
                continue;
            }
            let parent_id = match &folder.parent_id {
                None => None,
                Some(parent) => match ids.get(parent) {
                    Some(parent) => Some(parent.clone()),
                    None => {
                        report.errors.push(ImportProblem {
                            title: folder.name.clone(),
                            reason: "the folder's parent was not restored".into(),
                        });
                        continue;
                    }
                },
            };
            let created =
                crate::service::folders::checked_new_folder(user, id.clone(), &folder, parent_id)
                    .map_err(|error| error.to_string());
            let stored = match created {
                Ok(new) => self
                    .store()
                    .create_folder(new)
                    .await
                    .map_err(|error| crate::service::folders::folder_error(error).to_string()),
                Err(reason) => Err(reason),
            };
            match stored {
                Ok(_) => {
                    ids.insert(folder.id.clone(), id);
                }
                Err(reason) => report.errors.push(ImportProblem {
                    title: folder.name.clone(),
                    reason: format!("the folder was not restored: {reason}"),
                }),
            }
        }
        Ok(ids)
    }

    async fn store_import(
        &self,
        user: &User,
        chunk: Vec<ConfabSession>,
        report: &mut ImportReport,
        ids: &mut IdMap,
    ) -> ServiceResult<()> {
        let mut imports = Vec::with_capacity(chunk.len());
        for converted in chunk {
            ids.messages.extend(converted.message_ids);
            imports.push((converted.exported_id, converted.import));
        }
        let (exported_ids, imports): (Vec<_>, Vec<_>) = imports.into_iter().unzip();
        let counts = self.store().import_sessions(&user.id, imports).await?;
        ids.sessions
            .extend(exported_ids.into_iter().zip(counts.session_ids));
        report.sessions += counts.sessions;
        report.messages += counts.messages;
        report.skipped += counts.skipped_messages;
        Ok(())
    }
}

/// Whether a session of a Confab export keeps its ids when restored. `names_this_account`: the
/// file names the importing account (version 2 on); `held`: the account holds a session under
/// the exported id (deleted ones included); `copy_held`: it holds one under the id
/// `derived_session_id` gives.
///
/// A session the account holds keeps its ids: only what is missing is added. One it does not
/// hold keeps them when the file names this account (a purged conversation comes back as it
/// was), unless an earlier restore brought it back under derived ids (a version 1 file, which
/// names no account, derives the ids of every session the account does not hold): then the
/// ids are derived again, so that the restore finds that copy instead of making a second.
pub fn keeps_ids(names_this_account: bool, held: bool, copy_held: bool) -> bool {
    held || (names_this_account && !copy_held)
}

/// The id an exported session gets in `user_id`'s account when its ids are derived.
pub fn derived_session_id(user_id: &str, session: &Session) -> String {
    derived_id(
        session.created_at,
        0,
        user_id,
        &format!("confab:session:{}", session.id),
    )
}

/// The id an exported session is stored under: its own (when it is an id at all: a
/// hand-made file may hold anything) when ids are kept, else one derived from it.
fn stored_session_id(user_id: &str, keep_ids: bool, session: &Session) -> String {
    if keep_ids && is_valid_id(&session.id) {
        session.id.clone()
    } else {
        derived_session_id(user_id, session)
    }
}

/// Exported message id -> the id it is stored under, for the messages of one session in id
/// order: kept as they are (when they are ids), or derived from the exported id and ordered
/// by time, then position.
fn message_id_map(
    user_id: &str,
    keep_ids: bool,
    messages_by_id: &[Message],
) -> HashMap<String, String> {
    let mut id_map = HashMap::with_capacity(messages_by_id.len());
    for (position, message) in messages_by_id.iter().enumerate() {
        let id = if keep_ids && is_valid_id(&message.id) {
            message.id.clone()
        } else {
            let order = u16::try_from(position).unwrap_or(u16::MAX);
            derived_id(
                message.created_at,
                order,
                user_id,
                &format!("confab:message:{}", message.id),
            )
        };
        id_map.insert(message.id.clone(), id);
    }
    id_map
}

/// The fork links of a file's sessions (`Session::forked_from`, by the file's ids) re-made
/// with the ids their sources are stored under, for the links whose source session and
/// message the file holds: a link to a conversation outside the file keeps the file's ids
/// when those are kept (see `confab_session`) and is dropped otherwise, as it would name
/// nothing. `keep_ids` says, by exported session id, whether its ids are kept.
fn mapped_fork_links(
    user_id: &str,
    sessions: &[ExportedSession],
    keep_ids: impl Fn(&Session) -> bool,
) -> HashMap<ForkedFrom, ForkedFrom> {
    let wanted: HashSet<&ForkedFrom> = sessions
        .iter()
        .filter_map(|exported| exported.session.forked_from.as_ref())
        .collect();
    let sources: HashSet<&str> = wanted.iter().map(|link| link.session_id.as_str()).collect();
    let mut mapped = HashMap::new();
    for source in sessions
        .iter()
        .filter(|exported| sources.contains(exported.session.id.as_str()))
    {
        let keep = keep_ids(&source.session);
        let mut by_id: Vec<Message> = source.messages.clone();
        by_id.sort_by(|a, b| a.id.cmp(&b.id));
        let ids = message_id_map(user_id, keep, &by_id);
        let session_id = stored_session_id(user_id, keep, &source.session);
        for link in wanted
            .iter()
            .filter(|link| link.session_id == source.session.id)
        {
            if let Some(message_id) = ids.get(&link.message_id) {
                mapped.insert(
                    (*link).clone(),
                    ForkedFrom {
                        session_id: session_id.clone(),
                        message_id: message_id.clone(),
                    },
                );
            }
        }
    }
    mapped
}

/// A session that could not be imported: its title and why.
pub type Problem = (String, String);

/// Converts one exported session for the store, for `user_id`'s account; `keep_ids` when the
/// file was exported from that account (`ExportDocument::keeps_ids_for`). Every field comes
/// along: title, flags, times, the tree of messages with their client ids, and the active
/// leaf. Errors name the session and the reason.
pub fn confab_session(
    user_id: &str,
    keep_ids: bool,
    exported: ExportedSession,
) -> Result<ImportSession, Problem> {
    confab_session_mapped(user_id, keep_ids, exported).map(|converted| converted.import)
}

/// `confab_session`, also saying where the ids went.
pub fn confab_session_mapped(
    user_id: &str,
    keep_ids: bool,
    exported: ExportedSession,
) -> Result<ConfabSession, Problem> {
    let ExportedSession { session, messages } = exported;
    let title = validate::title(&session.title).unwrap_or_else(|_| "Imported chat".to_owned());
    let problem = |reason: String| (title.clone(), reason);
    // Rows restored into their own account are the account's own, not imported from
    // elsewhere: they get no source id, which another import may already hold.
    let source = |id: &str| (!keep_ids).then(|| format!("confab:{id}"));
    let session_id = stored_session_id(user_id, keep_ids, &session);
    let mut messages = messages;
    messages.sort_by(|a, b| a.id.cmp(&b.id));
    let id_map = message_id_map(user_id, keep_ids, &messages);
    let mut converted = Vec::with_capacity(messages.len());
    let mut message_ids = Vec::with_capacity(messages.len());
    for message in messages {
        validate::stored_content(&message.content, message.status)
            .map_err(|error| problem(format!("message {}: {error}", message.id)))?;
        let message_type =
            validate::message_type(&message.message_type).unwrap_or_else(|_| "chat".into());
        let (status, status_reason) =
            crate::model::settled_status(message.status, message.status_reason, &message.content);
        let id = id_map[&message.id].clone();
        message_ids.push((message.id.clone(), id.clone()));
        converted.push(NewMessage {
            id,
            user_id: user_id.to_owned(),
            session_id: session_id.clone(),
            parent_id: message
                .parent_id
                .as_ref()
                .and_then(|parent| id_map.get(parent).cloned()),
            role: message.role,
            content: message.content,
            message_type,
            model: message.model,
            prompt_tokens: message.prompt_tokens,
            completion_tokens: message.completion_tokens,
            latency_ms: message.latency_ms,
            status,
            status_reason,
            // An invalid key is dropped; the store drops one another message holds.
            client_id: message
                .client_id
                .and_then(|client_id| validate::client_id(&client_id).ok()),
            source_id: source(&message.id),
            created_at: message.created_at,
            usage_estimated: message.usage_estimated,
            // A file that says `starred` without the time (written by hand) keeps the star,
            // dated by the message.
            starred_at: message
                .starred_at
                .or_else(|| message.starred.then_some(message.created_at)),
            follow_active_leaf: false,
            active_leaf: LeafRule::Set,
        });
    }
    Ok(ConfabSession {
        import: ImportSession {
            session: NewSession {
                folder_id: None,
                id: session_id,
                user_id: user_id.to_owned(),
                title,
                source_id: source(&session.id),
                created_at: session.created_at,
            },
            pinned: session.pinned,
            archived: session.archived,
            is_active: session.is_active,
            updated_at: Some(session.updated_at),
            // Through the tag rule like any file's (a backup may be edited by hand); what it
            // refuses is left out.
            tags: crate::service::tags::source_tags(session.tags.clone(), &mut Vec::new()),
            active_leaf_id: session
                .active_leaf_id
                .as_ref()
                .and_then(|leaf| id_map.get(leaf).cloned()),
            // The link names the source by the ids of the account it was exported from: kept
            // when those ids are kept, dropped when the ids change (it would name nothing).
            forked_from: session.forked_from.clone().filter(|_| keep_ids),
            messages: converted,
        },
        exported_id: session.id,
        message_ids,
    })
}
