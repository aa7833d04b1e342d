//! A fixed-window counter of attempts per key (an email, a client address).
//!
//! An attempt is counted when it is let through, before the password is hashed or checked:
//! counting only after the check would let a burst of concurrent requests all pass the test
//! "under the limit" and run that many hashes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    limit: u32,
    window: Duration,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

/// Beyond this many tracked keys, expired windows are swept so memory stays bounded.
const SWEEP_AT: usize = 10_000;

impl RateLimiter {
    /// At most `limit` attempts per key in each `window`.
    pub fn new(limit: u32, window: Duration) -> Self {
        RateLimiter {
            limit,
            window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one attempt under every key in `keys`, or none when one of them has used its
    /// limit: then `Err` holds the seconds (at least 1) until all of them may try again. Check
    /// and count happen under one lock, so concurrent attempts cannot overshoot the limit.
    pub fn attempt(&self, keys: &[String]) -> Result<(), u64> {
        let Ok(mut windows) = self.windows.lock() else {
            return Ok(());
        };
        if windows.len() >= SWEEP_AT {
            let window = self.window;
            windows.retain(|_, (started, _)| started.elapsed() < window);
        }
        let blocked = keys
            .iter()
            .filter_map(|key| {
                let (started, count) = windows.get(key)?;
                let elapsed = started.elapsed();
                (elapsed < self.window && *count >= self.limit)
                    .then(|| whole_seconds_up(self.window - elapsed))
            })
            .max();
        if let Some(retry_after_secs) = blocked {
            return Err(retry_after_secs);
        }
        for key in keys {
            let entry = windows.entry(key.clone()).or_insert((Instant::now(), 0));
            if entry.0.elapsed() >= self.window {
                *entry = (Instant::now(), 0);
            }
            entry.1 += 1;
        }
        Ok(())
    }

    /// Takes back one attempt under each key: the request was turned away before anything
    /// was checked (the hashing queue was full), or it succeeded; either way it was not a
    /// guess and spends none of the client's budget.
    pub fn forgive(&self, keys: &[String]) {
        if let Ok(mut windows) = self.windows.lock() {
            for key in keys {
                if let Some((_, count)) = windows.get_mut(key) {
                    *count = count.saturating_sub(1);
                }
            }
        }
    }

    /// Forgets every attempt under `key` (a successful sign-in).
    pub fn reset(&self, key: &str) {
        if let Ok(mut windows) = self.windows.lock() {
            windows.remove(key);
        }
    }
}

/// `remaining` in whole seconds, rounded up: a client that waits the truncated figure would
/// come back a moment too early and be refused again.
fn whole_seconds_up(remaining: Duration) -> u64 {
    (remaining.as_secs() + u64::from(remaining.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn blocks_after_the_limit_and_resets() {
        let limiter = RateLimiter::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert_eq!(limiter.attempt(&keys(&["a"])), Ok(()));
        }
        assert_eq!(limiter.attempt(&keys(&["a"])), Err(60));
        assert_eq!(limiter.attempt(&keys(&["b"])), Ok(()));
        limiter.reset("a");
        assert_eq!(limiter.attempt(&keys(&["a"])), Ok(()));
    }

    /// A refused attempt counts under none of its keys; a forgiven one gives its place back.
    #[test]
    fn a_blocked_key_blocks_the_attempt_under_all_and_forgiving_gives_one_back() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        assert_eq!(limiter.attempt(&keys(&["a", "b"])), Ok(()));
        assert_eq!(limiter.attempt(&keys(&["a"])), Ok(()));
        assert_eq!(limiter.attempt(&keys(&["a", "b"])), Err(60));
        assert_eq!(limiter.attempt(&keys(&["b"])), Ok(()));
        assert_eq!(limiter.attempt(&keys(&["b"])), Err(60));
        limiter.forgive(&keys(&["b"]));
        assert_eq!(limiter.attempt(&keys(&["b"])), Ok(()));
        assert_eq!(limiter.attempt(&keys(&["b"])), Err(60));
    }
}
