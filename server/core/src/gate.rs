//! A bound on work that holds much memory or CPU for each request: at most `at_once` pieces
//! run, at most `queue` more wait behind them, and the rest are turned away at once as
//! [`ServiceError::Busy`] with the gate's own sentence. Password hashes (19 MiB each) and
//! forks (up to 64 MiB of copied text each) go through one each.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::service::{ServiceError, ServiceResult};

pub struct Gate {
    /// Pieces running plus those waiting: beyond these the answer is "busy".
    admitted: Arc<Semaphore>,
    /// Pieces running.
    running: Arc<Semaphore>,
    /// What a turned-away request is told (`ServiceError::Busy`).
    busy: &'static str,
}

/// Leave to run, held for as long as the work runs (dropped: the next one may start). Move it
/// into a task that outlives its request, so that work whose client went away still counts
/// until it has really finished.
#[must_use = "the work is bounded only while its pass is held"]
pub struct Pass {
    _running: OwnedSemaphorePermit,
    _admitted: OwnedSemaphorePermit,
}

impl Gate {
    /// At most `at_once` pieces run (at least one), and at most `queue` more wait for them.
    pub fn new(at_once: usize, queue: usize, busy: &'static str) -> Self {
        let at_once = at_once.max(1);
        Gate {
            admitted: Arc::new(Semaphore::new(at_once + queue)),
            running: Arc::new(Semaphore::new(at_once)),
            busy,
        }
    }

    /// Waits for a turn; `Busy` at once when as many wait as the queue holds.
    pub async fn enter(&self) -> ServiceResult<Pass> {
        let admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| ServiceError::Busy(self.busy))?;
        let running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|error| ServiceError::Internal(format!("gate closed: {error}")))?;
        Ok(Pass {
            _running: running,
            _admitted: admitted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn past_the_queue_a_request_is_busy_and_a_finished_piece_lets_the_next_in() {
        let gate = Arc::new(Gate::new(1, 1, "the test gate is full"));
        let first = gate.enter().await.expect("the first runs");
        // The second waits for the first.
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.enter().await.map(|_pass| ()) }
        });
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        // The third finds the queue full.
        match gate.enter().await {
            Err(ServiceError::Busy(sentence)) => assert_eq!(sentence, "the test gate is full"),
            Err(other) => panic!("expected busy, got {other:?}"),
            Ok(_) => panic!("expected busy, got a pass"),
        }
        drop(first);
        waiting
            .await
            .expect("the waiting task ends")
            .expect("the second runs once the first is done");
        // Both gone: the gate is open again.
        let _again = gate.enter().await.expect("the gate is free");
    }
}
