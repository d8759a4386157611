//! Lets a request read while its `Idempotency-Key` is being claimed, and holds back its writes
//! until the claim is won (`http::idempotency::guard`). Every write method of `Store` passes the
//! gate first; outside a gated request (no key, the sweep, the tools) the gate is always open.
//!
//! So a keyed request costs one more sequential round trip than an unkeyed one (keeping its
//! response at the end), not two: the claim runs beside the request's first reads. A request whose
//! claim is lost (a replay, a conflict, a different body) is dropped before it writes anything.

use crate::storage::store::StoreError;
use std::future::Future;
use tokio::sync::watch;

/// The claim's outcome as the gate sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    Pending,
    Won,
    /// Lost or failed: this request must not write.
    Lost,
}

tokio::task_local! {
    static GATE: watch::Receiver<Claim>;
}

/// Runs `request` with its writes held until `gate` says `Won`.
pub async fn scope<F: Future>(gate: watch::Receiver<Claim>, request: F) -> F::Output {
    GATE.scope(gate, request).await
}

/// Waits until this request may write: at once outside a gated request.
pub(crate) async fn pass() -> Result<(), StoreError> {
    let Ok(mut gate) = GATE.try_with(watch::Receiver::clone) else {
        return Ok(());
    };
    match gate.wait_for(|c| *c != Claim::Pending).await.map(|c| *c) {
        Ok(Claim::Won) => Ok(()),
        _ => Err(StoreError::NotClaimed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_wait_for_the_claim_and_pass_only_when_it_is_won() {
        assert!(pass().await.is_ok(), "no gate: open");
        let (tx, rx) = watch::channel(Claim::Pending);
        let waiting = scope(rx, pass());
        tokio::pin!(waiting);
        assert!(futures::poll!(&mut waiting).is_pending(), "held while the claim is pending");
        tx.send(Claim::Won).unwrap();
        assert!(waiting.await.is_ok());

        let (tx, rx) = watch::channel(Claim::Pending);
        tx.send(Claim::Lost).unwrap();
        assert!(scope(rx, pass()).await.is_err(), "a lost claim writes nothing");
    }
}
