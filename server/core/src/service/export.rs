//! Export (per session as JSON or Markdown, the whole account as one streamed JSON document)
//! and import of Confab's own export format.

use chrono::{DateTime, Utc};
use futures::stream::{self, Stream};
use serde::{Deserialize, Serialize};

use super::{validate, ServiceError, ServiceResult, Services};
use crate::api::{ImportProblem, ImportReport, SessionListInput};
use crate::ids::derived_id;
use crate::model::{Message, Session, User, MAX_PAGE};
use crate::store::{ImportSession, LeafRule, NewMessage, NewSession};

pub const EXPORT_FORMAT: &str = "confab";
pub const EXPORT_VERSION: u32 = 1;

/// One session with all its messages (every branch), as exported.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedSession {
    #[serde(flatten)]
    pub session: Session,
    pub messages: Vec<Message>,
}

/// The account export. Written field by field when streamed, so keep the two in step.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportDocument {
    pub format: String,
    pub version: u32,
    pub exported_at: DateTime<Utc>,
    pub sessions: Vec<ExportedSession>,
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

/// A file ready for download.
pub struct ExportFile {
    pub filename: String,
    pub content_type: &'static str,
    pub body: String,
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

pub fn render_markdown(session: &Session, messages: &[Message]) -> String {
    let mut out = format!("# {}\n\n", session.title);
    out.push_str(&format!(
        "_Exported from Confab · created {}_\n\n",
        session.created_at.to_rfc3339()
    ));
    for message in messages {
        let who = match message.role {
            crate::model::Role::User => "User".to_owned(),
            crate::model::Role::Assistant => match &message.model {
                Some(model) => format!("Assistant ({model})"),
                None => "Assistant".to_owned(),
            },
            crate::model::Role::System => "System".to_owned(),
            crate::model::Role::Tool => "Tool".to_owned(),
        };
        out.push_str(&format!(
            "## {who} · {}\n\n",
            message.created_at.to_rfc3339()
        ));
        out.push_str(message.content.trim_end());
        out.push_str("\n\n");
    }
    out
}

impl Services {
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
    /// flat however large the account is.
    pub fn export_account(
        &self,
        user: User,
    ) -> impl Stream<Item = ServiceResult<String>> + Send + 'static {
        enum Phase {
            Start,
            Sessions {
                cursor: Option<String>,
                pending: Vec<Session>,
                first: bool,
                more: bool,
            },
            Done,
        }
        let services = self.clone();
        stream::unfold(Phase::Start, move |phase| {
            let services = services.clone();
            let user = user.clone();
            async move {
                match phase {
                    Phase::Start => {
                        let head = format!(
                            "{{\"format\":\"{EXPORT_FORMAT}\",\"version\":{EXPORT_VERSION},\"exportedAt\":{},\"sessions\":[",
                            serde_json::to_string(&Utc::now()).unwrap_or_else(|_| "null".into())
                        );
                        Some((
                            Ok(head),
                            Phase::Sessions {
                                cursor: None,
                                pending: Vec::new(),
                                first: true,
                                more: true,
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
                                .list_sessions(
                                    &user,
                                    SessionListInput {
                                        limit: Some(MAX_PAGE as i64),
                                        cursor: cursor.clone(),
                                        ..Default::default()
                                    },
                                )
                                .await;
                            match page {
                                Ok(page) => {
                                    more = page.next_cursor.is_some();
                                    cursor = page.next_cursor;
                                    pending = page.items;
                                    pending.reverse();
                                }
                                Err(error) => return Some((Err(error), Phase::Done)),
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

    /// Imports a Confab export. Ids are derived from the exported ids, so importing the same
    /// file again adds nothing.
    pub async fn import_confab(
        &self,
        user: &User,
        document: ExportDocument,
    ) -> ServiceResult<ImportReport> {
        if document.format != EXPORT_FORMAT || document.version > EXPORT_VERSION {
            return Err(ServiceError::invalid(
                "unsupported_format",
                format!("this is not a Confab export of version {EXPORT_VERSION} or older"),
            ));
        }
        let mut report = ImportReport::default();
        let mut batch = Vec::new();
        for exported in document.sessions {
            match confab_session(user, exported) {
                Ok(import) => batch.push(import),
                Err((title, reason)) => report.errors.push(ImportProblem { title, reason }),
            }
        }
        // Batches of sessions keep each write transaction short.
        let mut chunk = Vec::new();
        let mut chunk_messages = 0;
        for import in batch {
            chunk_messages += import.messages.len();
            chunk.push(import);
            if chunk_messages >= 2_000 {
                self.store_import(user, std::mem::take(&mut chunk), &mut report)
                    .await?;
                chunk_messages = 0;
            }
        }
        if !chunk.is_empty() {
            self.store_import(user, chunk, &mut report).await?;
        }
        Ok(report)
    }

    async fn store_import(
        &self,
        user: &User,
        chunk: Vec<ImportSession>,
        report: &mut ImportReport,
    ) -> ServiceResult<()> {
        let counts = self.store().import_sessions(&user.id, chunk).await?;
        report.sessions += counts.sessions;
        report.messages += counts.messages;
        report.skipped += counts.skipped_messages;
        Ok(())
    }
}

pub(super) type Problem = (String, String);

pub(super) fn confab_session(
    user: &User,
    exported: ExportedSession,
) -> Result<ImportSession, Problem> {
    let ExportedSession { session, messages } = exported;
    let title = validate::title(&session.title).unwrap_or_else(|_| "Imported chat".to_owned());
    let problem = |reason: String| (title.clone(), reason);
    let session_id = derived_id(
        session.created_at,
        0,
        &user.id,
        &format!("confab:session:{}", session.id),
    );
    let mut messages = messages;
    messages.sort_by(|a, b| a.id.cmp(&b.id));
    let mut id_map = std::collections::HashMap::new();
    for (position, message) in messages.iter().enumerate() {
        let order = u16::try_from(position).unwrap_or(u16::MAX);
        id_map.insert(
            message.id.clone(),
            derived_id(
                message.created_at,
                order,
                &user.id,
                &format!("confab:message:{}", message.id),
            ),
        );
    }
    let mut converted = Vec::with_capacity(messages.len());
    for message in messages {
        validate::stored_content(&message.content, message.status)
            .map_err(|error| problem(format!("message {}: {error}", message.id)))?;
        let message_type =
            validate::message_type(&message.message_type).unwrap_or_else(|_| "chat".into());
        let (status, status_reason) =
            crate::model::settled_status(message.status, message.status_reason, &message.content);
        converted.push(NewMessage {
            id: id_map[&message.id].clone(),
            user_id: user.id.clone(),
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
            client_id: None,
            source_id: Some(format!("confab:{}", message.id)),
            created_at: message.created_at,
            usage_estimated: message.usage_estimated,
            follow_active_leaf: false,
            active_leaf: LeafRule::Set,
        });
    }
    Ok(ImportSession {
        session: NewSession {
            id: session_id,
            user_id: user.id.clone(),
            title,
            source_id: Some(format!("confab:{}", session.id)),
            created_at: session.created_at,
        },
        pinned: session.pinned,
        archived: session.archived,
        active_leaf_id: session
            .active_leaf_id
            .as_ref()
            .and_then(|leaf| id_map.get(leaf).cloned()),
        messages: converted,
    })
}
