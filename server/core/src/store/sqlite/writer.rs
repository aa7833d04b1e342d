//! The single writer with group commit.
//!
//! SQLite allows one writer at a time, and the cost of a write is dominated by the commit. One
//! thread owns the write connection; every write is a job sent to it. The thread takes all jobs
//! that are waiting, runs each inside its own savepoint (so one failing job does not undo the
//! others) and commits them together. A job's caller hears back only after the commit, so an
//! acknowledged write is a committed write.

use std::panic::{catch_unwind, AssertUnwindSafe};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::sql_error;
use crate::store::{StoreError, StoreResult};

/// Most jobs committed together; bounds the latency one batch adds to its first job.
const MAX_BATCH: usize = 256;
/// Jobs waiting beyond this make callers wait (back-pressure instead of unbounded memory).
const QUEUE_DEPTH: usize = 4096;

type Reply = Box<dyn FnOnce(Option<&StoreError>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> (bool, Reply) + Send>;

#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread on `conn`. The thread ends when every `Writer` is dropped.
    pub fn start(conn: Connection) -> StoreResult<Writer> {
        let (jobs, receiver) = mpsc::channel(QUEUE_DEPTH);
        std::thread::Builder::new()
            .name("confab-sqlite-writer".into())
            .spawn(move || run(conn, receiver))
            .map_err(|error| StoreError::Backend(format!("cannot start writer: {error}")))?;
        Ok(Writer { jobs })
    }

    /// Runs `work` in the next group commit and returns its result once committed.
    pub async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (sender, receiver) = oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |conn| {
            let result = work(conn);
            let ok = result.is_ok();
            let reply: Reply = Box::new(move |commit_error| {
                let outcome = match commit_error {
                    Some(error) if ok => Err(StoreError::Backend(error.to_string())),
                    _ => result,
                };
                let _ = sender.send(outcome);
            });
            (ok, reply)
        });
        self.jobs.send(job).await.map_err(|_| StoreError::Closed)?;
        receiver
            .await
            .map_err(|_| StoreError::Backend("the write was abandoned".into()))?
    }
}

fn run(conn: Connection, mut receiver: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = receiver.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&conn, &mut batch);
    }
    tracing::debug!("sqlite writer stopped");
}

fn commit_batch(conn: &Connection, batch: &mut Vec<Job>) {
    let mut replies: Vec<Reply> = Vec::with_capacity(batch.len());
    if let Err(error) = conn.execute_batch("BEGIN IMMEDIATE") {
        // Without a transaction the jobs must not run (each statement would commit alone).
        // Dropping a job drops its reply channel, and its caller gets an error.
        tracing::error!(error = %sql_error(error), "cannot begin a write transaction");
        batch.clear();
        return;
    }
    for job in batch.drain(..) {
        let savepoint = conn.execute_batch("SAVEPOINT job");
        let outcome = catch_unwind(AssertUnwindSafe(|| job(conn)));
        let ok = matches!(outcome, Ok((true, _)));
        if savepoint.is_ok() {
            let end = if ok {
                "RELEASE job"
            } else {
                "ROLLBACK TO job; RELEASE job"
            };
            if let Err(error) = conn.execute_batch(end) {
                tracing::error!(%error, "savepoint cleanup failed");
            }
        }
        match outcome {
            Ok((_, reply)) => replies.push(reply),
            Err(_) => tracing::error!("a write job panicked; its changes were rolled back"),
        }
    }
    // Index the messages this batch added, in the same transaction (see migration 4).
    if let Err(error) = index_pending(conn) {
        tracing::error!(%error, "indexing new messages failed; the batch is rolled back");
        let _ = conn.execute_batch("ROLLBACK");
        let error = StoreError::Backend(format!("indexing failed: {error}"));
        for reply in replies {
            reply(Some(&error));
        }
        return;
    }
    let commit_error = conn.execute_batch("COMMIT").err().map(sql_error);
    if let Some(error) = &commit_error {
        tracing::error!(%error, "group commit failed");
        let _ = conn.execute_batch("ROLLBACK");
    }
    for reply in replies {
        reply(commit_error.as_ref());
    }
}

/// Adds the rows noted in `fts_pending` to the full-text index with one statement.
fn index_pending(conn: &Connection) -> rusqlite::Result<()> {
    let pending: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM fts_pending)")?
        .query_row([], |row| row.get(0))?;
    if pending {
        conn.prepare_cached(
            "INSERT INTO messages_fts(rowid, content)
             SELECT m.seq, CASE WHEN m.status = 'streaming' THEN '' ELSE m.content END
             FROM fts_pending p JOIN messages m ON m.seq = p.seq",
        )?
        .execute([])?;
        conn.prepare_cached("DELETE FROM fts_pending")?
            .execute([])?;
    }
    Ok(())
}
