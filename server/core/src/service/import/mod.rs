//! Import of conversation files: ChatGPT (`conversations.json` or the data export ZIP), Open
//! WebUI, LibreChat, chatbot-ui and Confab's own export.
//!
//! Every format is read into `tree::Conversation` and converted once from there. Ids are
//! derived from the source's ids (`ids::derived_id`), so importing a file again adds nothing
//! and importing an updated file adds only what is new. The file is read on a blocking thread
//! a conversation at a time (`pipeline`) and written in batches, so memory does not grow with
//! the file.
// Byte offsets into text a user or a file controls may fall inside a character.
#![deny(clippy::string_slice)]

mod archive;
mod chatbotui;
mod chatgpt;
mod deep_json;
mod detect;
mod fields;
mod librechat;
mod openwebui;
mod pipeline;
mod render;
mod repair;
#[cfg(test)]
mod tests;
mod tree;

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use tokio::sync::mpsc;

use self::pipeline::{Halt, Reading, Step};
use self::tree::Importer;
use super::{ServiceError, ServiceResult, Services};
use crate::api::{ImportProblem, ImportReport};
use crate::model::User;

/// Largest file (and, for a ZIP, the most its conversations may unpack to) imported unless the
/// caller says otherwise.
pub const MAX_IMPORT_BYTES: u64 = 512 * 1024 * 1024;

/// Batches read ahead of the store: the reading thread waits when the writer falls behind.
const BATCHES_IN_FLIGHT: usize = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportOptions {
    /// Bytes read from the file at most; for a ZIP also the most its conversations may unpack
    /// to (a small ZIP can unpack to a great deal).
    pub max_bytes: u64,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            max_bytes: MAX_IMPORT_BYTES,
        }
    }
}

pub use crate::api::ImportProgress;

/// A conversation that was not imported, or a remark about one.
#[derive(Debug)]
pub(super) struct Problem {
    pub title: String,
    pub reason: String,
}

impl Problem {
    pub fn new(title: Option<&str>, reason: impl Into<String>) -> Problem {
        Problem {
            title: title
                .map(str::trim)
                .filter(|title| !title.is_empty())
                .unwrap_or("Untitled conversation")
                .to_owned(),
            reason: reason.into(),
        }
    }
}

impl From<Problem> for ImportProblem {
    fn from(problem: Problem) -> Self {
        ImportProblem {
            title: problem.title,
            reason: problem.reason,
        }
    }
}

/// Problems quoted at most in the error for a file that stored nothing.
const PROBLEMS_QUOTED: usize = 3;

/// The error for a file none of whose conversations could be stored, naming the first problems.
fn nothing_imported(problems: &[ImportProblem]) -> ServiceError {
    if problems.is_empty() {
        return ServiceError::invalid(
            "nothing_imported",
            "nothing was imported: the file holds no conversations",
        );
    }
    let mut quoted: Vec<String> = problems
        .iter()
        .take(PROBLEMS_QUOTED)
        .map(|problem| format!("“{}”: {}", problem.title, problem.reason))
        .collect();
    if problems.len() > PROBLEMS_QUOTED {
        quoted.push(format!("and {} more", problems.len() - PROBLEMS_QUOTED));
    }
    ServiceError::invalid(
        "nothing_imported",
        format!("nothing was imported: {}", quoted.join("; ")),
    )
}

impl Services {
    /// Imports a file held in memory, in any supported format. Re-importing the same file adds
    /// nothing.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id))]
    pub async fn import_bytes(&self, user: &User, bytes: &[u8]) -> ServiceResult<ImportReport> {
        // The bytes are here already; the limit is for what a ZIP unpacks to.
        let options = ImportOptions {
            max_bytes: MAX_IMPORT_BYTES.max(bytes.len() as u64),
        };
        self.import_reader_with(user, std::io::Cursor::new(bytes.to_vec()), options, |_| {})
            .await
    }

    /// Imports a file read from `reader` (an upload, a file on disk) with the default size
    /// limit, calling `progress` after every batch written.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id))]
    pub async fn import_reader(
        &self,
        user: &User,
        reader: impl Read + Send + 'static,
        progress: impl Fn(ImportProgress) + Send + Sync + 'static,
    ) -> ServiceResult<ImportReport> {
        self.import_reader_with(user, reader, ImportOptions::default(), progress)
            .await
    }

    /// Imports a file read from `reader`. Conversations that cannot be imported are listed in
    /// the report's `errors` and the others are imported. When the file breaks off (invalid
    /// JSON, over the size limit) after some conversations were imported, those stay and the
    /// rest is reported as an error; when nothing could be read, the import fails, and so it
    /// does (`nothing_imported`) when nothing was stored and nothing was there already.
    #[tracing::instrument(skip_all, err(level = "debug"), fields(user_id = %user.id))]
    pub async fn import_reader_with(
        &self,
        user: &User,
        reader: impl Read + Send + 'static,
        options: ImportOptions,
        progress: impl Fn(ImportProgress) + Send + Sync + 'static,
    ) -> ServiceResult<ImportReport> {
        let started = Instant::now();
        let (steps, mut received) = mpsc::channel(BATCHES_IN_FLIGHT);
        let bytes_read = Arc::new(AtomicU64::new(0));
        let owns: pipeline::Owns = {
            let (store, user_id) = (self.store().clone(), user.id.clone());
            let runtime = tokio::runtime::Handle::current();
            Box::new(move |ids: &[String]| {
                // The reading thread is a blocking one: it may wait on the runtime.
                Ok(runtime.block_on(store.owned_session_ids(&user_id, ids))?)
            })
        };
        let reading = Reading {
            user: user.clone(),
            owns,
            importer: Importer {
                user_id: user.id.clone(),
                now: Utc::now(),
            },
            max_bytes: options.max_bytes,
            bytes_read: bytes_read.clone(),
            steps,
        };
        let reader_task = tokio::task::spawn_blocking(move || pipeline::run(reader, reading));

        let mut report = ImportReport::default();
        let mut done = ImportProgress::default();
        let mut vocabulary = super::tags::Vocabulary::of(self, user).await?;
        // Returning early (a failed write) drops `received`, which stops the reading thread.
        while let Some(step) = received.recv().await {
            let Step::Batch(mut batch) = step;
            done.conversations += batch.conversations;
            report.errors.extend(batch.problems);
            for session in &mut batch.sessions {
                report.errors.extend(vocabulary.admit(session));
            }
            if !batch.sessions.is_empty() {
                let counts = self
                    .store()
                    .import_sessions(&user.id, batch.sessions)
                    .await?;
                report.sessions += counts.sessions;
                report.messages += counts.messages;
                report.skipped += counts.skipped_messages;
            }
            done.messages = report.messages;
            done.skipped = report.skipped;
            done.bytes_read = bytes_read.load(Ordering::Relaxed);
            progress(done.clone());
        }

        let outcome = reader_task.await.map_err(|error| {
            ServiceError::Internal(format!("the import thread failed: {error}"))
        })?;
        match outcome {
            Ok(()) => {}
            Err(Halt::Failed(error)) => {
                let nothing_done = done.conversations == 0 && report.errors.is_empty();
                if nothing_done {
                    return Err(error);
                }
                report.errors.push(ImportProblem {
                    title: "Rest of the file".into(),
                    reason: error.to_string(),
                });
            }
            Err(Halt::Cancelled) => {
                return Err(ServiceError::Internal(
                    "the import stopped unexpectedly".into(),
                ));
            }
        }
        // A file that stores nothing (and holds nothing already stored) is no success.
        if report.sessions == 0 && report.messages == 0 && report.skipped == 0 {
            return Err(nothing_imported(&report.errors));
        }
        tracing::info!(
            user = %user.id,
            conversations = done.conversations,
            sessions = report.sessions,
            messages = report.messages,
            skipped = report.skipped,
            problems = report.errors.len(),
            bytes = done.bytes_read,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "import finished"
        );
        Ok(report)
    }
}
