//! Counting imported messages exactly once, without transactions.
//!
//! An import inserts its messages first and moves the counters (each session's, and the
//! user's totals in `user_totals`) after. A process that dies in between used to leave the
//! counters low for good: running the import again skips every message as already there, so
//! none of them is ever counted. Here each imported message carries a mark until it is counted,
//! and counting is a small protocol in which every step can be repeated:
//!
//! 1. Inserted messages carry `uncounted: {claim: "new", words}` (`words` is what the message
//!    adds to `word_count`, which is not stored otherwise).
//! 2. A counting run takes a claim id and sets it on every `new` mark of the user (an update
//!    of each message, so each is claimed by one run).
//! 3. It reads every claimed message of the user, grouped by claim: its own, and those of runs
//!    that stopped part-way (stale claims). Unclaimed marks an import inserted meanwhile are
//!    left to the next run.
//! 4. For each claim, each session's counters take the claim's sums in one update that also
//!    records the claim in the session (`counted_claims`); the update's filter skips a session
//!    that holds the claim already. The user's totals the same way.
//! 5. The claim's marks are removed, then the claim's records (`$pull`): a claim no message
//!    carries is never applied again.
//!
//! A stop anywhere leaves either marks of a claim that some records may already hold (step 4
//! skips those), or records without marks (harmless). The next import of the user (or a re-run
//! of the same one) finishes every stale claim it finds along with its own.
//!
//! A claim is stale when the run that took it is no longer at work on it. A run of this process
//! is known (`InFlight`); one of another process is taken as stale once older than
//! `CLAIM_LEASE` (a run counts in seconds), so two app nodes never apply one claim's sums from
//! two partial reads of its marks. Counting runs of one user take turns in this process.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::TryStreamExt;
use mongodb::bson::{self, doc, Document};
use serde::{Deserialize, Serialize};

use super::errors::db_error;
use super::Collections;
use crate::store::StoreResult;

/// The claim of a mark nobody has claimed yet.
pub const UNCLAIMED: &str = "new";

/// How long another process's claim is taken to be at work (see the module comment).
pub const CLAIM_LEASE: Duration = Duration::from_secs(120);

/// The mark an imported message carries until it is counted (`MessageDoc::uncounted`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Uncounted {
    /// `UNCLAIMED`, or the id of the counting run that claimed the message.
    pub claim: String,
    /// What the message adds to its session's `word_count`.
    pub words: i64,
}

impl Uncounted {
    pub fn new(words: i64) -> Uncounted {
        Uncounted {
            claim: UNCLAIMED.to_owned(),
            words,
        }
    }
}

/// Where a counting run can stop early: the tests (feature `test-hooks`) stop it there to
/// prove that a stop anywhere loses nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountingStop {
    /// After the import inserted its messages, before any counting.
    Inserted,
    /// After claiming the marks.
    Claimed,
    /// After the sessions' counters took the claim's sums.
    SessionsCounted,
    /// After the user's totals did.
    TotalsCounted,
    /// After the marks were removed, before the claim's records were.
    Unmarked,
}

/// This process's counting runs: who it is, and the claims it is at work on.
#[derive(Clone)]
pub(crate) struct InFlight {
    /// A random id of this process's store, the first part of every claim it takes.
    instance: String,
    claims: Arc<Mutex<HashSet<String>>>,
    /// Counting runs of one user take turns (stripes keyed by user id; never held with
    /// another lock taken before it).
    users: super::chat::SessionLocks,
    lease: Duration,
    #[cfg(feature = "test-hooks")]
    pub(crate) stop: Arc<Mutex<Option<CountingStop>>>,
}

impl Default for InFlight {
    fn default() -> InFlight {
        InFlight {
            instance: uuid::Uuid::new_v4().simple().to_string(),
            claims: Arc::default(),
            users: Default::default(),
            lease: CLAIM_LEASE,
            #[cfg(feature = "test-hooks")]
            stop: Arc::default(),
        }
    }
}

impl InFlight {
    #[cfg(feature = "test-hooks")]
    pub(crate) fn set_lease(&mut self, lease: Duration) {
        self.lease = lease;
    }

    /// A new claim id: `instance.millis.random`.
    fn take(&self) -> String {
        let claim = format!(
            "{}.{}.{}",
            self.instance,
            now_millis(),
            uuid::Uuid::new_v4().simple()
        );
        self.lock().insert(claim.clone());
        claim
    }

    fn release(&self, claim: &str) {
        self.lock().remove(claim);
    }

    /// Whether a claim found on marks belongs to no run at work (see the module comment).
    fn is_stale(&self, claim: &str) -> bool {
        // A claim that cannot be dated is never taken over (none is made so).
        let mut parts = claim.splitn(3, '.');
        let (Some(instance), Some(Ok(millis))) =
            (parts.next(), parts.next().map(str::parse::<u64>))
        else {
            return false;
        };
        if instance == self.instance {
            return !self.lock().contains(claim);
        }
        let age = now_millis().saturating_sub(millis);
        u128::from(age) >= self.lease.as_millis()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        // A panic while holding it cannot leave the set inconsistent.
        self.claims
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Fails the run here when a test asked for a stop at `at`.
    #[cfg_attr(not(feature = "test-hooks"), allow(unused_variables))]
    fn checkpoint(&self, at: CountingStop) -> StoreResult<()> {
        #[cfg(feature = "test-hooks")]
        {
            let stop = *self.stop.lock().unwrap_or_else(|p| p.into_inner());
            if stop == Some(at) {
                return Err(crate::store::StoreError::Backend(format!(
                    "stopped for a test at {at:?}"
                )));
            }
        }
        Ok(())
    }
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// A marked message, as counting reads it.
#[derive(Deserialize)]
struct Marked {
    session_id: String,
    uncounted: Uncounted,
    #[serde(default)]
    prompt_tokens: Option<i64>,
    #[serde(default)]
    completion_tokens: Option<i64>,
    #[serde(default)]
    model: Option<String>,
    created_at: bson::DateTime,
}

/// What one claim adds to one session.
#[derive(Default)]
struct Sums {
    messages: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    words: i64,
    latest: Option<bson::DateTime>,
    /// The models the messages name, for the session's `models`.
    models: BTreeSet<String>,
}

/// Counts every marked message of `user_id` (this import's and any a stopped run left), and
/// sets each session's active leaf given in `leaves` (`session id -> leaf`) in the same
/// update where it can. Errors: `StoreError::Backend` for a failed command; a re-run finishes
/// what a failed one left.
pub async fn count_marked(
    collections: &Collections,
    user_id: &str,
    leaves: &BTreeMap<String, String>,
) -> StoreResult<()> {
    let in_flight = &collections.counting;
    let _turn = in_flight.users.lock(user_id).await;
    let claim = in_flight.take();
    let outcome = count_with(collections, user_id, &claim, leaves).await;
    in_flight.release(&claim);
    outcome
}

async fn count_with(
    collections: &Collections,
    user_id: &str,
    claim: &str,
    leaves: &BTreeMap<String, String>,
) -> StoreResult<()> {
    let in_flight = &collections.counting;
    in_flight.checkpoint(CountingStop::Inserted)?;
    collections
        .messages
        .update_many(
            doc! { "user_id": user_id, "uncounted.claim": UNCLAIMED },
            doc! { "$set": { "uncounted.claim": claim } },
        )
        .await
        .map_err(db_error)?;
    in_flight.checkpoint(CountingStop::Claimed)?;

    let marked: Vec<Marked> = collections
        .messages
        .clone_with_type::<Marked>()
        // Not the unclaimed marks: an import inserting now (not under this run's turn) adds
        // them, and they are the next run's to claim.
        .find(doc! {
            "user_id": user_id,
            "uncounted.claim": { "$exists": true, "$ne": UNCLAIMED },
        })
        .projection(doc! {
            "_id": 0, "session_id": 1, "uncounted": 1, "prompt_tokens": 1,
            "completion_tokens": 1, "model": 1, "created_at": 1,
        })
        .await
        .map_err(db_error)?
        .try_collect()
        .await
        .map_err(db_error)?;
    // Claim -> session -> sums; BTreeMap for a stable order of writes.
    let mut claims: BTreeMap<String, BTreeMap<String, Sums>> = BTreeMap::new();
    for message in marked {
        let sums = claims
            .entry(message.uncounted.claim)
            .or_default()
            .entry(message.session_id)
            .or_default();
        sums.messages += 1;
        sums.prompt_tokens += message.prompt_tokens.unwrap_or(0);
        sums.completion_tokens += message.completion_tokens.unwrap_or(0);
        sums.words += message.uncounted.words;
        sums.latest = sums.latest.max(Some(message.created_at));
        sums.models.extend(message.model);
    }

    // Sessions whose leaf was set with their sums.
    let mut leaf_set: HashSet<&str> = HashSet::new();
    for (found, sessions) in &claims {
        let ours = found == claim;
        if !ours && !in_flight.is_stale(found) {
            tracing::debug!(claim = %found, "another process is counting this claim");
            continue;
        }
        if !ours {
            tracing::info!(claim = %found, "finishing the counting of an import that stopped");
        }
        for (session_id, sums) in sessions {
            let leaf = if ours { leaves.get(session_id) } else { None };
            if count_session(collections, user_id, session_id, found, sums, leaf).await?
                && leaf.is_some()
            {
                leaf_set.insert(session_id.as_str());
            }
        }
        in_flight.checkpoint(CountingStop::SessionsCounted)?;
        let messages = sessions.values().map(|sums| sums.messages).sum();
        let words = sessions.values().map(|sums| sums.words).sum();
        count_totals(collections, user_id, found, messages, words).await?;
        in_flight.checkpoint(CountingStop::TotalsCounted)?;
        collections
            .messages
            .update_many(
                doc! { "user_id": user_id, "uncounted.claim": found },
                doc! { "$unset": { "uncounted": "" } },
            )
            .await
            .map_err(db_error)?;
        in_flight.checkpoint(CountingStop::Unmarked)?;
        let session_ids: Vec<&String> = sessions.keys().collect();
        let sessions = doc! { "_id": { "$in": session_ids } };
        forget_claims(collections, user_id, sessions, std::slice::from_ref(found)).await?;
    }

    forget_finished(collections, user_id, &claims).await?;

    // The leaves of sessions that took no sums (every message was there already).
    for (session_id, leaf) in leaves {
        if !leaf_set.contains(session_id.as_str()) {
            set_leaf(collections, user_id, session_id, leaf).await?;
        }
    }
    Ok(())
}

/// Removes the records of claims whose marks are all gone (a run stopped between its last two
/// steps): the totals hold the record of every claim until its end, so they tell which.
async fn forget_finished(
    collections: &Collections,
    user_id: &str,
    marked: &BTreeMap<String, BTreeMap<String, Sums>>,
) -> StoreResult<()> {
    #[derive(Deserialize)]
    struct Records {
        #[serde(default)]
        counted_claims: Vec<String>,
    }
    let records = collections
        .user_totals
        .clone_with_type::<Records>()
        .find_one(doc! { "_id": user_id, "user_id": user_id })
        .projection(doc! { "_id": 0, "counted_claims": 1 })
        .await
        .map_err(db_error)?;
    let finished: Vec<String> = records
        .map(|records| records.counted_claims)
        .unwrap_or_default()
        .into_iter()
        .filter(|claim| !marked.contains_key(claim) && collections.counting.is_stale(claim))
        .collect();
    if finished.is_empty() {
        return Ok(());
    }
    tracing::info!(claims = ?finished, "forgetting the records of finished counting runs");
    let sessions = doc! { "counted_claims": { "$in": &finished } };
    forget_claims(collections, user_id, sessions, &finished).await?;
    Ok(())
}

/// Adds a claim's sums (and its models, to the session's `models`) to a session unless it holds
/// the claim already; `leaf` becomes its active leaf in the same update. Returns whether the
/// update was made.
async fn count_session(
    collections: &Collections,
    user_id: &str,
    session_id: &str,
    claim: &str,
    sums: &Sums,
    leaf: Option<&String>,
) -> StoreResult<bool> {
    let _turn = collections.session_locks.lock(session_id).await;
    let mut update = doc! {
        "$inc": {
            "message_count": sums.messages,
            "prompt_tokens": sums.prompt_tokens,
            "completion_tokens": sums.completion_tokens,
            "word_count": sums.words,
        },
        "$push": { "counted_claims": claim },
    };
    if let Some(latest) = sums.latest {
        update.insert(
            "$max",
            doc! { "last_message_at": latest, "activity_at": latest, "updated_at": latest },
        );
    }
    if !sums.models.is_empty() {
        let models: Vec<&String> = sums.models.iter().collect();
        update.insert("$addToSet", doc! { "models": { "$each": models } });
    }
    if let Some(leaf) = leaf {
        leaf_update(&mut update, leaf);
        collections.leaves.forget(user_id, session_id);
    }
    let counted = collections
        .chat_sessions
        .update_one(
            doc! { "_id": session_id, "user_id": user_id, "counted_claims": { "$ne": claim } },
            update,
        )
        .await
        .map_err(db_error)?;
    Ok(counted.matched_count == 1)
}

/// Adds a claim's sums to the user's totals unless they hold the claim already.
async fn count_totals(
    collections: &Collections,
    user_id: &str,
    claim: &str,
    messages: i64,
    words: i64,
) -> StoreResult<()> {
    let update = doc! {
        "$inc": { "message_count": messages, "word_count": words },
        "$push": { "counted_claims": claim },
    };
    let filter = doc! { "_id": user_id, "user_id": user_id, "counted_claims": { "$ne": claim } };
    // Refused: the document holds the claim already (counted).
    super::totals::upsert(collections, filter, update).await?;
    Ok(())
}

/// Removes the records of `claims` from the user's sessions that `sessions` selects and from
/// the user's totals. `$pullAll`: FerretDB 1.24's `$pull` compares whole values, so a
/// condition such as `{$in: [...]}` would match nothing.
async fn forget_claims(
    collections: &Collections,
    user_id: &str,
    mut sessions: Document,
    claims: &[String],
) -> StoreResult<()> {
    sessions.insert("user_id", user_id);
    let forget = doc! { "$pullAll": { "counted_claims": claims } };
    collections
        .chat_sessions
        .update_many(sessions, forget.clone())
        .await
        .map_err(db_error)?;
    collections
        .user_totals
        .update_one(doc! { "_id": user_id, "user_id": user_id }, forget)
        .await
        .map_err(db_error)?;
    Ok(())
}

fn leaf_update(update: &mut Document, leaf: &str) {
    update.insert("$set", doc! { "active_leaf_id": leaf });
    // The spine is the old leaf's (see `SessionDoc::leaf_spine`).
    update.insert("$unset", doc! { "leaf_spine": "" });
}

async fn set_leaf(
    collections: &Collections,
    user_id: &str,
    session_id: &str,
    leaf: &str,
) -> StoreResult<()> {
    let _turn = collections.session_locks.lock(session_id).await;
    let mut update = Document::new();
    leaf_update(&mut update, leaf);
    collections.leaves.forget(user_id, session_id);
    collections
        .chat_sessions
        .update_one(doc! { "_id": session_id, "user_id": user_id }, update)
        .await
        .map_err(db_error)?;
    Ok(())
}
