//! Bounds the DynamoDB calls one process has in flight: a call waits for its turn before the SDK
//! starts its attempt, so the attempt timeout measures storage, not our queue; past the request's
//! deadline it is not made (`StoreError::Busy`) (docs/architecture.md#backpressure).

use crate::storage::store::StoreError;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, SemaphorePermit};

/// The calls one process may have in flight when `STORAGE_CONCURRENCY` is not set.
pub const DEFAULT_BOUND: usize = crate::config::DEFAULT_STORAGE_CONCURRENCY;

#[derive(Debug)]
pub struct Admission {
    turns: Semaphore,
    /// Turns kept for the reads that settle a commit of unknown outcome, so they never wait
    /// behind the queue of new work: they decide between "applied" and "unknown".
    settling: Semaphore,
}

/// Turns of the settling lane.
const SETTLING_TURNS: usize = 4;

/// Until when a call may wait for its turn.
#[derive(Debug, Clone, Copy)]
pub enum Patience {
    /// As long as it takes (work with no request deadline: the sweep, the tools).
    Unbounded,
    Until(Instant),
    /// A read settling a commit of unknown outcome: on the settling lane, until then.
    Settling(Instant),
}

impl Admission {
    pub fn new(bound: usize) -> Self {
        Admission { turns: Semaphore::new(bound.max(1)), settling: Semaphore::new(SETTLING_TURNS) }
    }

    /// Waits for a turn (first come, first served); `Busy` when `patience` runs out first.
    pub async fn enter(&self, operation: &'static str, patience: Patience) -> Result<SemaphorePermit<'_>, StoreError> {
        let started = Instant::now();
        let turn = match patience {
            Patience::Unbounded => self.turns.acquire().await.ok(),
            Patience::Until(deadline) => {
                tokio::time::timeout_at(deadline.into(), self.turns.acquire()).await.ok().and_then(Result::ok)
            }
            Patience::Settling(deadline) => {
                tokio::time::timeout_at(deadline.into(), self.settling.acquire()).await.ok().and_then(Result::ok)
            }
        };
        turn.ok_or_else(|| StoreError::Busy { operation, waited: started.elapsed() })
    }
}

impl Default for Admission {
    fn default() -> Self {
        Admission::new(DEFAULT_BOUND)
    }
}

/// How long a read that settles an attempt of unknown outcome may wait past the request's deadline
/// for its turn: it decides between "applied" and "unknown", and the Lambda adapter keeps
/// `lambda_adapter::DEADLINE_MARGIN` (4.5 s) for it and its 2 s operation timeout.
pub const SETTLING_GRACE: Duration = Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_past_the_bound_wait_for_a_turn_and_give_up_at_the_deadline() {
        let admission = Admission::new(2);
        let a = admission.enter("GetItem", Patience::Unbounded).await.unwrap();
        let _b = admission.enter("GetItem", Patience::Unbounded).await.unwrap();
        assert_eq!(admission.turns.available_permits(), 0, "both turns taken");
        let soon = Instant::now() + Duration::from_millis(30);
        let refused = admission.enter("TransactWriteItems", Patience::Until(soon)).await.unwrap_err();
        assert!(
            matches!(refused, StoreError::Busy { operation: "TransactWriteItems", waited }
                if waited >= Duration::from_millis(25)),
            "{refused:?}"
        );
        // A turn given back goes to the next caller.
        let waiting = admission.enter("Query", Patience::Until(Instant::now() + Duration::from_secs(5)));
        drop(a);
        assert!(waiting.await.is_ok());
    }

    #[tokio::test]
    async fn a_settling_read_has_turns_of_its_own_when_every_other_turn_is_taken() {
        let admission = Admission::new(1);
        let _held = admission.enter("TransactWriteItems", Patience::Unbounded).await.unwrap();
        let soon = Instant::now() + Duration::from_millis(20);
        assert!(admission.enter("GetItem", Patience::Until(soon)).await.is_err(), "the queue is full");
        assert!(admission.enter("GetItem", Patience::Settling(soon)).await.is_ok(), "the settling lane is not");
    }

    #[tokio::test]
    async fn a_deadline_already_past_refuses_only_when_no_turn_is_free() {
        let admission = Admission::new(1);
        let past = Instant::now() - Duration::from_millis(1);
        let turn = admission.enter("GetItem", Patience::Until(past)).await;
        assert!(turn.is_ok(), "a free turn is taken at once, whatever the deadline");
        assert!(admission.enter("GetItem", Patience::Until(past)).await.is_err());
    }
}
