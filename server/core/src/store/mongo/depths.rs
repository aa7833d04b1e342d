//! The depths of the messages this process last handed out as the top of a page, so that
//! reading the page above one (`before` that message) sends the depth query together with the
//! message's own read: one round trip instead of two (`branch::window`).
//!
//! A hint, never trusted: `window` uses the depth only when it equals the depth read with the
//! message in the same round trip, and reads again otherwise. Another process serving the next
//! page (no hint) costs the second round trip, not a wrong answer.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;

/// Messages remembered, least recently used forgotten first: about 150 bytes each, so at most
/// about 1.5 MiB.
const MESSAGES: usize = 10_000;

/// `(user id, message id)` to the message's depth. Shared by every clone of the collections.
#[derive(Clone)]
pub struct Depths(Arc<Mutex<LruCache<(String, String), i64>>>);

impl Default for Depths {
    fn default() -> Depths {
        Depths(Arc::new(Mutex::new(LruCache::new(
            NonZeroUsize::new(MESSAGES).unwrap_or(NonZeroUsize::MIN),
        ))))
    }
}

impl Depths {
    /// The depth last seen for the user's message `id`.
    pub fn get(&self, user_id: &str, id: &str) -> Option<i64> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&(user_id.to_owned(), id.to_owned()))
            .copied()
    }

    /// Remembers the depth of the user's message `id`.
    pub fn set(&self, user_id: &str, id: &str, depth: i64) {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .put((user_id.to_owned(), id.to_owned()), depth);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depths_are_remembered_per_user() {
        let depths = Depths::default();
        depths.set("ada", "m1", 7);
        assert_eq!(depths.get("ada", "m1"), Some(7));
        assert_eq!(depths.get("bob", "m1"), None, "another user's message");
        depths.set("ada", "m1", 8);
        assert_eq!(depths.get("ada", "m1"), Some(8), "the last depth seen");
    }
}
