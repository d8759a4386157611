//! What one request's storage work needs to know, passed down as an argument (`AppState::for_request`):
//! its deadline, its change ids' base, the gate its writes wait at while its key is claimed (so it
//! reads meanwhile), and whether its response may be kept (docs/architecture.md#a-requests-path).

use crate::domain::change_id;
use crate::storage::store::StoreError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio::sync::watch;

/// The claim of the request's key as the gate sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    Pending,
    Won,
    /// Lost or failed: this request must not write.
    Lost,
}

#[derive(Debug)]
pub struct WriteContext {
    deadline: Option<Instant>,
    change_base: String,
    gate: Option<watch::Receiver<Claim>>,
    not_final: AtomicBool,
    /// Item codes of a keyed request, counted only once its claim is won: a request that turns
    /// out to be a replay may have run (reads, recognised changes) but answered nothing.
    held_items: std::sync::Mutex<Vec<u16>>,
}

impl WriteContext {
    /// A request's context: no storage call waits for its turn past `deadline`, and no write
    /// starts another attempt after it; its changes are named after `change_base`.
    pub fn new(deadline: Option<Instant>, change_base: String) -> Self {
        let held_items = std::sync::Mutex::new(Vec::new());
        WriteContext { deadline, change_base, gate: None, not_final: AtomicBool::new(false), held_items }
    }

    /// Work outside any request (the sweep, the tools): an optional deadline, fresh change ids.
    pub fn standalone(deadline: Option<Instant>) -> Self {
        WriteContext::new(deadline, uuid::Uuid::new_v4().to_string())
    }

    /// The same context, its writes held until `gate` says `Won`.
    pub fn gated(self, gate: watch::Receiver<Claim>) -> Self {
        WriteContext { gate: Some(gate), ..self }
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The id of batch item `entry` of customer `customer` (positions in the request).
    pub fn item_change(&self, customer: usize, entry: usize) -> String {
        change_id::of_item(&self.change_base, customer, entry)
    }

    /// The id of a request that is one change as a whole (a registration).
    pub fn request_change(&self) -> String {
        change_id::of_request(&self.change_base)
    }

    /// Waits until this request may write: at once when it carries no key.
    pub async fn may_write(&self) -> Result<(), StoreError> {
        let Some(mut gate) = self.gate.clone() else {
            return Ok(());
        };
        match gate.wait_for(|c| *c != Claim::Pending).await.map(|c| *c) {
            Ok(Claim::Won) => Ok(()),
            _ => Err(StoreError::NotClaimed),
        }
    }

    /// Marks the response as not to be kept for replay: an item's outcome is unknown, or storage
    /// failed it, and the client is told to retry under the same key.
    pub fn note_not_final(&self) {
        self.not_final.store(true, Ordering::Relaxed);
    }

    pub fn is_final(&self) -> bool {
        !self.not_final.load(Ordering::Relaxed)
    }

    /// The batch item codes this request answers: counted now outside a keyed request, else held
    /// until `count_held_items` (the claim won; a replay's are never counted).
    pub fn items_answered(&self, codes: impl IntoIterator<Item = u16>) {
        if self.gate.is_none() {
            codes.into_iter().for_each(|c| crate::metrics::batch_item(u32::from(c)));
        } else if let Ok(mut held) = self.held_items.lock() {
            held.extend(codes);
        }
    }

    /// Counts the held item codes: the request's claim was won and its response is the answer.
    pub fn count_held_items(&self) {
        let held = self.held_items.lock().map(|mut h| std::mem::take(&mut *h)).unwrap_or_default();
        held.into_iter().for_each(|c| crate::metrics::batch_item(u32::from(c)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyed_requests_item_codes_wait_for_its_claim_and_are_counted_once() {
        let (_tx, rx) = watch::channel(Claim::Pending);
        let keyed = WriteContext::standalone(None).gated(rx);
        keyed.items_answered([200, 2005]);
        assert_eq!(*keyed.held_items.lock().unwrap(), [200, 2005], "held while the claim is open");
        keyed.count_held_items();
        assert!(keyed.held_items.lock().unwrap().is_empty(), "counted once");
        let plain = WriteContext::standalone(None);
        plain.items_answered([200]);
        assert!(plain.held_items.lock().unwrap().is_empty(), "no key: counted at once");
    }

    #[tokio::test]
    async fn writes_wait_for_the_claim_and_pass_only_when_it_is_won() {
        assert!(WriteContext::standalone(None).may_write().await.is_ok(), "no gate: open");
        let (tx, rx) = watch::channel(Claim::Pending);
        let ctx = WriteContext::standalone(None).gated(rx);
        let waiting = ctx.may_write();
        tokio::pin!(waiting);
        assert!(futures::poll!(&mut waiting).is_pending(), "held while the claim is pending");
        tx.send(Claim::Won).unwrap();
        assert!(waiting.await.is_ok());

        let (tx, rx) = watch::channel(Claim::Pending);
        tx.send(Claim::Lost).unwrap();
        let lost = WriteContext::standalone(None).gated(rx);
        assert!(matches!(lost.may_write().await, Err(StoreError::NotClaimed)), "a lost claim writes nothing");
    }

    #[test]
    fn item_ids_are_stable_for_a_base_and_position_and_differ_otherwise() {
        let ctx = WriteContext::new(None, "b1".into());
        assert_eq!(ctx.item_change(0, 1), WriteContext::new(None, "b1".into()).item_change(0, 1));
        assert_ne!(ctx.item_change(0, 1), ctx.item_change(0, 2));
        assert_ne!(ctx.item_change(0, 1), WriteContext::new(None, "b2".into()).item_change(0, 1));
        assert_ne!(ctx.item_change(0, 1), ctx.request_change());
        assert_ne!(
            WriteContext::standalone(None).item_change(0, 0),
            WriteContext::standalone(None).item_change(0, 0),
            "outside a request every change is new"
        );
    }
}
