//! The single writer with group commit.
//!
//! SQLite allows one writer at a time, and the cost of a write is dominated by the commit. One
//! thread owns the write connection; every write is a job sent to it. The thread takes all jobs
//! that are waiting, runs each inside its own savepoint (so one failing job does not undo the
//! others) and commits them together. A job's caller hears back only after the commit, so an
//! acknowledged write is a committed write.
//!
//! A batch that cannot commit (a full disk, an I/O error) fails as a whole: every caller in it
//! hears the error, the connection is rolled back to autocommit, and the next batch starts
//! afresh, so writes work again by themselves once the cause is gone. SQLite may roll the
//! transaction back on its own in the middle of a batch (SQLITE_FULL, SQLITE_IOERR and
//! SQLITE_NOMEM in a statement do that); the writer notices and fails the batch rather than
//! letting the remaining jobs run, each committing alone, outside the transaction.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::{checkpoint, sql_error, sql_error_on, CheckpointMode, BUSY_TIMEOUT};
use crate::store::{StoreError, StoreResult};

/// Most jobs committed together; bounds the latency one batch adds to its first job.
const MAX_BATCH: usize = 256;
/// A batch that takes longer is logged (at debug level) with where its time went.
const SLOW_BATCH: Duration = Duration::from_millis(5);
/// Jobs waiting beyond this make callers wait (back-pressure instead of unbounded memory).
const QUEUE_DEPTH: usize = 4096;

/// One write waiting for the next batch.
trait Job: Send {
    /// Runs the work inside the batch's transaction and keeps its result for `finish`.
    /// `None` when it succeeded, else a copy of its error.
    fn run(&mut self, conn: &Connection) -> Option<StoreError>;
    /// Tells the caller how it went: its own result if the batch committed (`failure` is
    /// `None`) or if its work failed anyway, else the batch's failure.
    fn finish(self: Box<Self>, failure: Option<&StoreError>);
}

struct Write<T, F> {
    work: Option<F>,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Job for Write<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> StoreResult<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> Option<StoreError> {
        let work = self.work.take()?;
        let result = work(conn);
        let error = result.as_ref().err().map(copy_error);
        self.result = Some(result);
        error
    }

    fn finish(self: Box<Self>, failure: Option<&StoreError>) {
        let outcome = match (self.result, failure) {
            (Some(Err(own)), _) => Err(own),
            (Some(Ok(value)), None) => Ok(value),
            (_, Some(failure)) => Err(copy_error(failure)),
            (None, None) => Err(StoreError::Backend(
                "the write panicked; its changes were rolled back".into(),
            )),
        };
        // The caller may have gone away (a dropped request): nothing to tell then.
        let _ = self.reply.send(outcome);
    }
}

/// The same error for another caller (`StoreError` holds no handles, only text).
fn copy_error(error: &StoreError) -> StoreError {
    match error {
        StoreError::Full => StoreError::Full,
        StoreError::NotFound => StoreError::NotFound,
        StoreError::Conflict(conflict) => StoreError::Conflict(*conflict),
        StoreError::Duplicate(detail) => StoreError::Duplicate(detail.clone()),
        other => StoreError::Backend(other.to_string()),
    }
}

#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
    /// Set when a batch fails to commit or a write runs out of space; cleared by the next
    /// batch that commits with no such trouble. Read by the health check.
    failing: Arc<AtomicBool>,
}

impl Writer {
    /// Starts the writer thread on `conn`. The thread ends when every `Writer` is dropped.
    /// The index is merged as `take_over_merging` set it up.
    pub fn start(conn: Connection) -> StoreResult<Writer> {
        let (jobs, receiver) = mpsc::channel(QUEUE_DEPTH);
        let failing = Arc::new(AtomicBool::new(false));
        let thread_failing = Arc::clone(&failing);
        std::thread::Builder::new()
            .name("confab-sqlite-writer".into())
            .spawn(move || run(conn, receiver, &thread_failing))
            .map_err(|error| StoreError::Backend(format!("cannot start writer: {error}")))?;
        Ok(Writer { jobs, failing })
    }

    /// Whether the last batch failed to commit or a write in it ran out of space.
    pub fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    /// Runs `work` in the next group commit and returns its result once committed. A batch
    /// that cannot commit answers `StoreError::Full` when the disk is full.
    pub async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, receiver) = oneshot::channel::<StoreResult<T>>();
        let job = Box::new(Write {
            work: Some(work),
            result: None,
            reply,
        });
        self.jobs.send(job).await.map_err(|_| StoreError::Closed)?;
        receiver
            .await
            .map_err(|_| StoreError::Backend("the write was abandoned".into()))?
    }
}

fn run(conn: Connection, mut receiver: mpsc::Receiver<Box<dyn Job>>, failing: &AtomicBool) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    let mut checkpoints = Checkpoints::new();
    let mut merges = Merges::default();
    // Only to wait for the next job with a time limit (`Merges`).
    let clock = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(clock) => Some(clock),
        Err(error) => {
            // Without idle merge steps only crisis merges would run: FTS5 merges in commits.
            tracing::warn!(%error, "no timer for the writer; the index is merged in commits");
            if let Err(error) = set_automerge(&conn, FTS5_DEFAULT_AUTOMERGE) {
                tracing::warn!(%error, "the index is merged by FTS5's crisis merges only");
            }
            None
        }
    };
    loop {
        let next = match &clock {
            Some(clock) if merges.pending => {
                // The timer must be made inside the runtime.
                let waited = clock.block_on(async {
                    tokio::time::timeout(MERGE_WHEN_IDLE, receiver.recv()).await
                });
                match waited {
                    Ok(next) => next,
                    Err(_) => {
                        merges.step(&conn);
                        continue;
                    }
                }
            }
            _ => receiver.blocking_recv(),
        };
        let Some(first) = next else { break };
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // Nothing in a batch is expected to panic (jobs run under their own guard), but a
        // panic here must not end the thread: every later write would fail until a restart.
        if catch_unwind(AssertUnwindSafe(|| {
            commit_batch(&conn, &mut batch, failing)
        }))
        .is_err()
        {
            to_autocommit(&conn);
            let error = StoreError::Backend("the sqlite writer panicked".into());
            note_health(failing, Some(&error));
        }
        // Callers of jobs a panic left unfinished hear "abandoned" as their reply drops.
        batch.clear();
        checkpoints.after_batch(&conn, receiver.is_empty());
        merges.pending = true;
    }
    tracing::debug!("sqlite writer stopped");
}

/// How long the writer must have had nothing to do before a merge step.
const MERGE_WHEN_IDLE: Duration = Duration::from_millis(10);
/// Leaf pages a merge step writes at most (FTS5's `merge` command): 1 MiB.
const MERGE_STEP_PAGES: i64 = 256;

/// FTS5's own merging inside commits: off. FTS5 does a quantum of merge work (64 pages times
/// the index's number of levels) every 64 leaf pages written, inside the commit that writes
/// the 64th, whenever a level holds `automerge` (4) segments or a merge is under way. Under
/// 16 appending clients on the users' benchmark store that was one commit in about 60 taking
/// 14 to 48 ms (a commit of 8 appends every 50 ms in the slow-batch log), and the append p99
/// was 17 ms against a median of 1.2; with it off, 4.3 ms. The writer merges instead when it is idle (`Merges`). Under writes that
/// never leave it idle, FTS5's `crisismerge` (16 segments on a level) merges in the commit
/// that reaches it: rarer and larger (143 ms once in those 10 s), the backstop.
///
/// Merging a few pages in every batch instead was tried: each step of a large merge in
/// progress cost 4 to 19 ms (FTS5 seeks into and trims every input segment at each step),
/// and the p99 was 11.5 ms.
const FTS5_AUTOMERGE: i64 = 0;
/// FTS5's own `automerge` default, for a writer that cannot merge when idle.
const FTS5_DEFAULT_AUTOMERGE: i64 = 4;

/// Hands the merging of the full-text index to the writer (see `FTS5_AUTOMERGE`). Run on the
/// write connection before the writer starts; the setting is stored in the database
/// (`messages_fts_config`), so an older Confab opening the file inherits it (its idle merge
/// steps, from schema 11 on, do the same work).
pub(super) fn take_over_merging(conn: &Connection) -> StoreResult<()> {
    set_automerge(conn, FTS5_AUTOMERGE)
}

fn set_automerge(conn: &Connection, segments: i64) -> StoreResult<()> {
    conn.execute_batch(&format!(
        "INSERT INTO messages_fts(messages_fts, rank) VALUES ('automerge', {segments});"
    ))
    .map_err(sql_error)
}

/// Merges of the full-text index in small steps while the writer is idle.
///
/// FTS5 writes each commit's terms as a new segment. Left to itself it merges segments as
/// they pile up, inside the commit that tips a level over (see `FTS5_AUTOMERGE`, which turns
/// that off). Here, once no write has come for `MERGE_WHEN_IDLE`, the writer merges a step
/// at a time, each step its own short transaction (FTS5's `merge` command, which merges a
/// level once it holds 4 segments). A write arriving meanwhile waits for one step at most.
#[derive(Default)]
struct Merges {
    /// Writes came since the index was last found merged.
    pending: bool,
}

impl Merges {
    fn step(&mut self, conn: &Connection) {
        let started = Instant::now();
        let before = conn.total_changes();
        // FTS5's documented way to tell whether `merge` did anything: the total changes.
        let outcome = conn
            .execute_batch(&format!(
                "BEGIN IMMEDIATE;
                 INSERT INTO messages_fts(messages_fts, rank) VALUES ('merge', {MERGE_STEP_PAGES});
                 COMMIT;"
            ))
            .map(|()| conn.total_changes() != before);
        match outcome {
            Ok(merged) => {
                self.pending = merged;
                let took = started.elapsed();
                if took >= SLOW_BATCH {
                    tracing::debug!(ms = took.as_secs_f64() * 1e3, "slow merge step");
                }
            }
            Err(error) => {
                // A full disk, say: the next idle stretch tries again (meanwhile only FTS5's
                // crisis merges run, in commits).
                tracing::debug!(%error, "merge step failed");
                to_autocommit(conn);
                self.pending = false;
            }
        }
    }
}

/// How often the writer lets the WAL start over: a checkpoint between batches, when no
/// write is waiting ...
///
/// Each of these checkpoints holds up the writes that arrive while it runs (1 to 7 ms), so
/// how often it runs decides how many requests see it. With 16 clients appending (about
/// 10,500 appends/s), every 150 ms held up about 1% of them and set the append p99 (3.8 to
/// 4.7 ms against a p50 of 1.4); every 500 ms, 0.3%: p99 2.8 to 3.0 ms, the p99.9 unchanged
/// (about 7 ms), as long as the WAL file need not be cut back when it starts over
/// (`super::WAL_FILE_KEPT`; at every 1,000 ms it had to be, and the p99.9 went to 65 ms).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// ... or, under constant writes, even with writes waiting.
const CHECKPOINT_AT_LEAST: Duration = Duration::from_millis(1_000);

/// The writer's own WAL checkpoints, between batches.
///
/// Measured with 16 clients appending (`confab-bench --users 100 --appends-only` on a
/// 1,000,000-message store): with checkpoints only on a thread of their own, the WAL never
/// started over. A checkpoint copies the frames written before it began, the writer appended
/// more meanwhile, and SQLite restarts the WAL only at a write that finds every frame copied.
/// The WAL grew by 200 MB/s (2 GB in 10 s), 43% of the writer's time went to the kernel
/// zeroing new file pages, and commits took 12 to 68 ms.
///
/// A checkpoint here runs while no batch is open, so it copies the whole WAL (less what a
/// reader still needs) and the next write starts the WAL over (`journal_size_limit` then cuts
/// the file back). The checkpoint thread (`super::checkpoints`) copies the bulk alongside the
/// writer, so that little is left for this one. A checkpoint that finds the other one running
/// answers busy at once and is tried again after the next batch.
///
/// Readers that never pause defeat that: a PASSIVE checkpoint leaves the frames a reader's
/// snapshot still needs, and the WAL starts over only at a write that finds no reader using
/// it. With 8 clients each appending and reading back without a pause
/// (`the_wal_starts_over_under_constant_writes`), the WAL started over once and then grew
/// for 60 s, to 140,000 frames (570 MB) in 10 s. So after `MISSES_BEFORE_RESTART` checkpoints
/// in a row that did not let the WAL start over, the next one is a RESTART: it waits up to
/// `RESTART_WAIT` for the readers already in the WAL to finish (new ones read the database
/// file and do not hold it up), holding up the writes that arrive meanwhile, once in about
/// 1.5 s of such load. One that gives up (a long export reading) is tried again at the next
/// checkpoint.
struct Checkpoints {
    last: Instant,
    /// Frames in the WAL at the last checkpoint that ran.
    frames: i64,
    /// Checkpoints in a row after which the WAL did not start over.
    missed: u32,
}

/// See `Checkpoints`.
const MISSES_BEFORE_RESTART: u32 = 2;
/// How long a RESTART checkpoint waits for readers: reads take a few milliseconds, and the
/// writes queued behind it wait as long.
const RESTART_WAIT: Duration = Duration::from_millis(25);

impl Checkpoints {
    fn new() -> Checkpoints {
        Checkpoints {
            last: Instant::now(),
            frames: 0,
            missed: 0,
        }
    }

    fn after_batch(&mut self, conn: &Connection, idle: bool) {
        let since = self.last.elapsed();
        if !(idle && since >= CHECKPOINT_EVERY || since >= CHECKPOINT_AT_LEAST) {
            return;
        }
        let mode = if self.missed >= MISSES_BEFORE_RESTART {
            CheckpointMode::Restart
        } else {
            CheckpointMode::Passive
        };
        let started = Instant::now();
        let outcome = if mode == CheckpointMode::Restart {
            let outcome = conn
                .busy_timeout(RESTART_WAIT)
                .and_then(|()| checkpoint(conn, "writer", mode));
            // Without it every write of this connection would give up after 25 ms.
            if let Err(error) = conn.busy_timeout(BUSY_TIMEOUT) {
                tracing::warn!(%error, "cannot reset the writer's busy timeout");
            }
            outcome
        } else {
            checkpoint(conn, "writer", mode)
        };

        match outcome {
            // A RESTART that waited for readers and gave up counts as run: trying it again
            // after every batch would hold up each of them. One that answered busy at once
            // found the checkpoint thread's pass running (SQLite takes the checkpoint lock
            // without waiting) and is tried again after the next batch, like a PASSIVE one:
            // else a busy checkpoint thread would put the restart off again and again.
            Ok(pass) if pass.busy && started.elapsed() >= RESTART_WAIT / 2 => {
                self.last = Instant::now();
            }
            Ok(pass) if pass.busy => {}
            Ok(pass) => {
                // The WAL started over since the last checkpoint if it now holds fewer
                // frames (a RESTART guarantees it at the next write). One that started over
                // and then outgrew its old length counts as a miss: a needless RESTART costs
                // only its wait.
                // Writer checkpoints run only after a batch, which adds frames: as many
                // frames as last time means the WAL started over and refilled to the same
                // length (uniform writes do), not that it did not start over.
                let started_over = pass.frames <= self.frames;
                self.missed = match mode {
                    CheckpointMode::Restart => 0,
                    CheckpointMode::Passive if started_over => 0,
                    CheckpointMode::Passive => self.missed + 1,
                };
                self.frames = pass.frames;
                self.last = Instant::now();
            }
            // The checkpoint thread reports failures (a full disk) once; here they would
            // repeat after every batch.
            Err(error) => {
                tracing::trace!(%error, "checkpoint between batches failed");
                self.last = Instant::now();
            }
        }
    }
}

/// Keeps `failing` current and logs the changes, not every failed batch: on a full disk every
/// batch fails, and the log may well live on the same disk.
fn note_health(failing: &AtomicBool, trouble: Option<&StoreError>) {
    let was_failing = failing.load(Ordering::Relaxed);
    match trouble {
        None if was_failing => {
            failing.store(false, Ordering::Relaxed);
            tracing::warn!("the store writes again");
        }
        None => {}
        Some(error) if !was_failing => {
            failing.store(true, Ordering::Relaxed);
            tracing::error!(%error, "the store cannot write; writes fail until it can again");
        }
        Some(StoreError::Full) => tracing::debug!("a write failed: storage full"),
        Some(error) => tracing::error!(%error, "group commit failed"),
    }
}

/// Runs and commits one batch, notes in `failing` whether the store can write (the batch
/// failed, or a write in it ran out of space), then answers every caller: one who hears
/// "storage full" and asks the health check at once finds it failing.
fn commit_batch(conn: &Connection, batch: &mut Vec<Box<dyn Job>>, failing: &AtomicBool) {
    let mut out_of_space = false;
    let failure = run_batch(conn, batch, &mut out_of_space).err();
    if failure.is_some() {
        to_autocommit(conn);
    }
    let trouble = match &failure {
        Some(error) => Some(copy_error(error)),
        None if out_of_space => Some(StoreError::Full),
        None => None,
    };
    note_health(failing, trouble.as_ref());
    for job in batch.drain(..) {
        job.finish(failure.as_ref());
    }
}

/// Everything between BEGIN and COMMIT. An error means nothing of the batch was stored.
fn run_batch(
    conn: &Connection,
    batch: &mut [Box<dyn Job>],
    out_of_space: &mut bool,
) -> StoreResult<()> {
    // A transaction left open by an earlier failure (see `to_autocommit`) is rolled back first,
    // so one failure never blocks every later BEGIN.
    if !conn.is_autocommit() {
        to_autocommit(conn);
    }
    let started = Instant::now();
    // Without a transaction the jobs must not run (each statement would commit alone).
    execute(conn, "BEGIN IMMEDIATE")?;
    for job in batch.iter_mut() {
        execute(conn, "SAVEPOINT job")?;
        let error = match catch_unwind(AssertUnwindSafe(|| job.run(conn))) {
            Ok(error) => error,
            Err(_) => {
                tracing::error!("a write job panicked; its changes are rolled back");
                Some(StoreError::Backend("the write panicked".into()))
            }
        };
        if matches!(error, Some(StoreError::Full)) {
            *out_of_space = true;
        }
        if conn.is_autocommit() {
            // SQLite rolled back the whole transaction (what it does for SQLITE_FULL or an
            // I/O error in a statement without a statement journal): the jobs before this one
            // are undone, and the ones after would run outside any transaction.
            return Err(match error {
                Some(StoreError::Full) => StoreError::Full,
                Some(error) => StoreError::Backend(format!(
                    "the transaction was rolled back after a write failed: {error}"
                )),
                None => StoreError::Backend("the transaction ended inside a write".into()),
            });
        }
        // A failed job's changes must go; if they cannot, the batch cannot commit.
        let end = if error.is_none() {
            "RELEASE job"
        } else {
            "ROLLBACK TO job; RELEASE job"
        };
        execute(conn, end)?;
    }
    let ran = started.elapsed();
    // Index the messages this batch added, in the same transaction (see migration 4).
    index_pending(conn).map_err(|error| sql_error_on(conn, error))?;
    let indexed = started.elapsed();
    execute(conn, "COMMIT")?;
    let committed = started.elapsed();
    // Where a slow write spends its time: what finding the stalls of the write path needs.
    if committed >= SLOW_BATCH {
        tracing::debug!(
            jobs = batch.len(),
            run_ms = ran.as_secs_f64() * 1e3,
            index_ms = (indexed - ran).as_secs_f64() * 1e3,
            commit_ms = (committed - indexed).as_secs_f64() * 1e3,
            "slow write batch"
        );
    }
    Ok(())
}

fn execute(conn: &Connection, sql: &str) -> StoreResult<()> {
    conn.execute_batch(sql)
        .map_err(|error| sql_error_on(conn, error))
}

/// Ends whatever transaction is open. SQLite keeps a transaction open after some failed
/// commits (a RELEASE that failed to commit, a deferred constraint) and rolls it back itself
/// after others; ROLLBACK covers both, and its own error ("no transaction is active") is moot.
fn to_autocommit(conn: &Connection) {
    if conn.is_autocommit() {
        return;
    }
    if let Err(error) = conn.execute_batch("ROLLBACK") {
        tracing::warn!(%error, "rollback after a failed batch");
    }
    if !conn.is_autocommit() {
        // Not expected (ROLLBACK always ends the transaction); the next batch tries again.
        tracing::error!("the write connection is still inside a transaction");
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
             SELECT m.seq,
                 CASE WHEN m.status = 'streaming' THEN '' ELSE confab_index_text(m.content) END
             FROM fts_pending p JOIN messages m ON m.seq = p.seq",
        )?
        .execute([])?;
        conn.prepare_cached("DELETE FROM fts_pending")?
            .execute([])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The writer on a small schema of its own, with failures SQLite really produces: a
    //! COMMIT refused by a deferred foreign key (SQLite keeps the transaction open), and
    //! SQLITE_FULL from `max_page_count` (SQLite rolls the whole transaction back).

    use super::*;

    type Work = Box<dyn FnOnce(&Connection) -> StoreResult<()> + Send>;

    fn open(dir: &tempfile::TempDir) -> (Writer, Connection) {
        let path = dir.path().join("writer.db");
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA foreign_keys = ON;
             CREATE TABLE parent (id INTEGER PRIMARY KEY, body BLOB);
             CREATE TABLE child (
                 id     INTEGER PRIMARY KEY,
                 parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED
             );
             -- What index_pending reads at every commit.
             CREATE TABLE messages (seq INTEGER PRIMARY KEY, content TEXT);
             CREATE TABLE fts_pending (seq INTEGER PRIMARY KEY);
             CREATE VIRTUAL TABLE messages_fts USING fts5(content);",
        )
        .expect("schema");
        take_over_merging(&conn).expect("merging");
        let reader = Connection::open(&path).expect("open reader");
        (Writer::start(conn).expect("writer"), reader)
    }

    fn insert_parent(id: i64, bytes: usize) -> Work {
        Box::new(move |conn| {
            conn.execute(
                "INSERT INTO parent (id, body) VALUES (?1, zeroblob(?2))",
                rusqlite::params![id, bytes as i64],
            )
            .map(|_| ())
            .map_err(crate::store::sqlite::sql_error)
        })
    }

    fn parents(reader: &Connection) -> Vec<i64> {
        let mut query = reader
            .prepare("SELECT id FROM parent ORDER BY id")
            .expect("prepare");
        let ids = query
            .query_map([], |row| row.get(0))
            .expect("query")
            .collect::<rusqlite::Result<Vec<i64>>>()
            .expect("rows");
        ids
    }

    /// Caps the database at `pages` (at least its size, as SQLite keeps it).
    async fn cap(writer: &Writer, pages: u32) {
        writer
            .write(move |conn| {
                conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
                    .map_err(crate::store::sqlite::sql_error)
            })
            .await
            .expect("set max_page_count");
    }

    fn queued(writer: &Writer) -> usize {
        writer.jobs.max_capacity() - writer.jobs.capacity()
    }

    /// Runs `works` as one batch, in order: a first job holds the writer until all of them
    /// wait in the queue. Returns each caller's answer.
    async fn one_batch(writer: &Writer, works: Vec<Work>) -> Vec<StoreResult<()>> {
        let (started, is_started) = oneshot::channel::<()>();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let gate = {
            let writer = writer.clone();
            tokio::spawn(async move {
                writer
                    .write(move |_| {
                        let _ = started.send(());
                        let _ = released.recv();
                        Ok(())
                    })
                    .await
            })
        };
        is_started.await.expect("the gate job runs");
        let mut callers = Vec::new();
        for (position, work) in works.into_iter().enumerate() {
            let caller = writer.clone();
            callers.push(tokio::spawn(async move { caller.write(work).await }));
            while queued(writer) < position + 1 {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
        release.send(()).expect("release the gate");
        gate.await
            .expect("gate task")
            .expect("the gate job commits");
        let mut answers = Vec::new();
        for caller in callers {
            answers.push(caller.await.expect("caller task"));
        }
        answers
    }

    fn error_text(answer: &StoreResult<()>) -> String {
        match answer {
            Ok(()) => "ok".into(),
            Err(error) => format!("{error:?}"),
        }
    }

    #[tokio::test]
    async fn a_commit_refused_by_sqlite_fails_its_batch_and_the_next_batch_commits() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (writer, reader) = open(&dir);
        let orphan: Work = Box::new(|conn| {
            conn.execute("INSERT INTO child (id, parent) VALUES (1, 99)", [])
                .map(|_| ())
                .map_err(crate::store::sqlite::sql_error)
        });
        // The orphan passes (its key is checked at COMMIT), so COMMIT fails, and SQLite
        // keeps the transaction open: the writer must roll it back.
        let answers = one_batch(&writer, vec![insert_parent(1, 10), orphan]).await;
        let texts: Vec<String> = answers.iter().map(error_text).collect();
        assert_eq!(
            texts,
            vec!["NotFound", "NotFound"],
            "a refused commit fails every caller"
        );
        assert!(
            writer.is_failing(),
            "a failed commit is reported to the health check"
        );
        assert_eq!(
            parents(&reader),
            Vec::<i64>::new(),
            "nothing of the batch was stored"
        );

        let answers = one_batch(&writer, vec![insert_parent(2, 10), insert_parent(3, 10)]).await;
        assert_eq!(
            answers.iter().map(error_text).collect::<Vec<_>>(),
            vec!["ok", "ok"]
        );
        assert_eq!(parents(&reader), vec![2, 3]);
        assert!(
            !writer.is_failing(),
            "a batch that commits clears the failure"
        );
    }

    #[tokio::test]
    async fn sqlite_full_mid_batch_fails_the_whole_batch_and_writes_resume_with_space() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (writer, reader) = open(&dir);
        cap(&writer, 1).await;
        // The middle write needs new pages, gets SQLITE_FULL, and SQLite rolls back the whole
        // transaction: the first write is undone, and the third must not run on its own,
        // outside a transaction (it would be committed while its caller hears an error).
        let answers = one_batch(
            &writer,
            vec![
                insert_parent(1, 10),
                insert_parent(2, 100_000),
                insert_parent(3, 10),
            ],
        )
        .await;
        assert_eq!(
            answers.iter().map(error_text).collect::<Vec<_>>(),
            vec!["Full", "Full", "Full"]
        );
        assert_eq!(
            parents(&reader),
            Vec::<i64>::new(),
            "nothing of the batch was stored"
        );
        assert!(writer.is_failing());

        // Still full: the next batch fails the same way, and the writer is still there.
        let answers = one_batch(&writer, vec![insert_parent(4, 100_000)]).await;
        assert_eq!(
            answers.iter().map(error_text).collect::<Vec<_>>(),
            vec!["Full"]
        );

        // Space returns: writes work again without a new writer.
        cap(&writer, 100_000).await;
        assert!(
            !writer.is_failing(),
            "a batch that commits clears the failure"
        );
        let answers = one_batch(
            &writer,
            vec![insert_parent(5, 10), insert_parent(6, 100_000)],
        )
        .await;
        assert_eq!(
            answers.iter().map(error_text).collect::<Vec<_>>(),
            vec!["ok", "ok"]
        );
        assert_eq!(parents(&reader), vec![5, 6]);
        let check: String = reader
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .expect("integrity check");
        assert_eq!(check, "ok");
    }

    #[tokio::test]
    async fn a_write_that_panics_fails_alone() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (writer, reader) = open(&dir);
        let panics: Work = Box::new(|conn| {
            conn.execute("INSERT INTO parent (id) VALUES (20)", [])
                .map_err(crate::store::sqlite::sql_error)?;
            panic!("a bug in a write");
        });
        let answers = one_batch(
            &writer,
            vec![insert_parent(1, 10), panics, insert_parent(3, 10)],
        )
        .await;
        assert_eq!(
            answers.iter().map(error_text).collect::<Vec<_>>(),
            vec![
                "ok".to_owned(),
                "Backend(\"the write panicked; its changes were rolled back\")".to_owned(),
                "ok".to_owned()
            ]
        );
        assert_eq!(
            parents(&reader),
            vec![1, 3],
            "the panicking write's row was rolled back"
        );
        assert!(!writer.is_failing());
    }

    /// FTS5 merges nothing in commits (the writer turns `automerge` off, in the index's own
    /// configuration; `crisismerge` is put out of reach here), so every commit leaves a
    /// segment of its own; once the writer has written and then been idle, its merge steps
    /// bring them down to a few. The 150 commits go through the test's own connection: the
    /// writer merges only after a write of its own, so none of them can be merged before the
    /// count (through the writer, any 10 ms hold-up of a loaded machine let a merge step in).
    #[tokio::test]
    async fn an_idle_writer_merges_the_full_text_index() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (writer, reader) = open(&dir);
        let number = |sql: &str| -> i64 { reader.query_row(sql, [], |row| row.get(0)).expect(sql) };
        let automerge = number("SELECT v FROM messages_fts_config WHERE k = 'automerge'");
        assert_eq!(automerge, 0, "commits merge nothing");
        // FTS5's crisis merge is kept out of reach.
        reader
            .execute_batch(
                "INSERT INTO messages_fts(messages_fts, rank) VALUES ('crisismerge', 500);",
            )
            .expect("no crisis merges");
        let segments = || number("SELECT count(DISTINCT segid) FROM messages_fts_idx");
        // FTS5's automerge would have merged at the 64th leaf written and again at the 128th.
        for n in 0..150i64 {
            reader
                .execute(
                    "INSERT INTO messages_fts(rowid, content) VALUES (?1, ?2)",
                    rusqlite::params![n, format!("word{n} shared")],
                )
                .expect("insert");
        }
        assert_eq!(
            segments(),
            150,
            "one segment per commit; automerge would leave 23"
        );
        writer
            .write(|conn| {
                conn.execute(
                    "INSERT INTO messages_fts(rowid, content) VALUES (150, 'word150 shared')",
                    [],
                )
                .map(|_| ())
                .map_err(crate::store::sqlite::sql_error)
            })
            .await
            .expect("write");
        // The merge steps run once the writer has been idle for 10 ms: about 50 ms of them
        // here; a loaded machine may take longer, so wait for the outcome, not a time.
        let started = std::time::Instant::now();
        let mut merged = segments();
        while merged > 4 && started.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            merged = segments();
        }
        assert!(merged <= 4, "{merged} segments after the writer was idle");
        let found = number("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'shared'");
        assert_eq!(found, 151, "every row is still found");
    }
}
