//! What this process last knew of each session's active leaf, so that an append skips reading
//! the session.
//!
//! After an append (or a read of the session's leaf) the store remembers the session's active
//! leaf and that leaf's spine. The next append that follows the leaf (a user's message), or
//! answers it (a reply placeholder whose parent is the leaf), takes the links from here and
//! costs two round trips: the insert and the counters' compare-and-set. The memory is a
//! guess, never trusted for correctness: the compare-and-set names the leaf it guessed, so a
//! leaf moved by another process (or a write this process forgot to report) fails it, and the
//! append then reads the session and moves the message under the real leaf
//! (`chat::append_message`). Writes of this process that move the leaf otherwise (a branch
//! switch, a clear, an import, a delete) forget the session.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;

use crate::store::tree::Spine;

/// Sessions remembered, least recently appended to forgotten first: a spine is about 2 log2
/// of its depth entries (under 2 KiB for 100,000 messages), so at most about 20 MiB.
const SESSIONS: usize = 10_000;

/// A session's active leaf and the leaf's spine (whose first entry is the leaf).
#[derive(Clone, Debug)]
pub struct KnownLeaf {
    pub spine: Arc<Spine>,
}

impl KnownLeaf {
    pub fn id(&self) -> &str {
        &self.spine[0].id
    }
}

/// Shared by every clone of the store's collections.
#[derive(Clone)]
pub struct Leaves(Arc<Mutex<LruCache<(String, String), KnownLeaf>>>);

impl Default for Leaves {
    fn default() -> Leaves {
        Leaves(Arc::new(Mutex::new(LruCache::new(
            NonZeroUsize::new(SESSIONS).unwrap_or(NonZeroUsize::MIN),
        ))))
    }
}

impl Leaves {
    /// The leaf last known for the user's session.
    pub fn get(&self, user_id: &str, session_id: &str) -> Option<KnownLeaf> {
        let mut known = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        known
            .get(&(user_id.to_owned(), session_id.to_owned()))
            .cloned()
    }

    /// Remembers the session's leaf; a spine that is empty is not one (forgets the session).
    pub fn set(&self, user_id: &str, session_id: &str, spine: Spine) {
        if spine.is_empty() {
            return self.forget(user_id, session_id);
        }
        let mut known = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        known.put(
            (user_id.to_owned(), session_id.to_owned()),
            KnownLeaf {
                spine: Arc::new(spine),
            },
        );
    }

    /// Forgets the session: its leaf moved other than by an append.
    pub fn forget(&self, user_id: &str, session_id: &str) {
        let mut known = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        known.pop(&(user_id.to_owned(), session_id.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tree::SpineEntry;

    fn spine(ids: &[&str]) -> Spine {
        ids.iter()
            .enumerate()
            .map(|(depth, id)| SpineEntry {
                id: (*id).to_owned(),
                depth: (ids.len() - 1 - depth) as i64,
            })
            .collect()
    }

    #[test]
    fn a_session_is_remembered_per_user_until_forgotten() {
        let leaves = Leaves::default();
        leaves.set("ada", "s", spine(&["m2", "m1", "m0"]));
        assert_eq!(
            leaves.get("ada", "s").map(|l| l.id().to_owned()),
            Some("m2".into())
        );
        assert!(
            leaves.get("bob", "s").is_none(),
            "another user's key misses"
        );
        leaves.set("ada", "s", Vec::new());
        assert!(leaves.get("ada", "s").is_none(), "an empty spine forgets");
        leaves.set("ada", "s", spine(&["m3", "m2"]));
        leaves.forget("ada", "s");
        assert!(leaves.get("ada", "s").is_none());
    }
}
