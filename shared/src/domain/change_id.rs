//! The identity of one logical change, so that a write can recognise itself (exactly once under
//! storage faults). A change's id is stored with the change (in the linkage's `recentChanges`, in
//! the same conditional transaction), so a retried commit — by the SDK, by the conflict loop, or by
//! the client under the same `Idempotency-Key` — that finds its own id reports the original success
//! instead of applying again or failing on what it wrote itself.
//!
//! The id is derived, never random per attempt: from the request's `Idempotency-Key` and body when
//! it has one (stable across the client's retries), else from the request id (stable across the
//! service's own retries of that request), plus the item's position in the batch.
//!
//! What a client may conclude from each answer (200/201 items, failure codes, 2010, the 2001 that
//! says the outcome is unknown, 503, 409 with `Retry-After`, 422, timeouts: "unknown, retry with the
//! same key") is stated in `docs/exactly-once.md`.

use sha2::{Digest, Sha256};
use std::future::Future;

tokio::task_local! {
    static BASE: String;
    static ITEM: String;
}

/// How many recent change ids a linkage keeps: more than the writers a burst on one linkage
/// commits while one of them waits to re-read.
pub const RECENT_CHANGES: usize = 32;

fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    h.finalize().iter().take(10).map(|b| format!("{b:02x}")).collect()
}

/// The base of a keyed request: the org, the key and the request's hash (method, path, body).
pub fn keyed_base(org: u64, key: &str, request_hash: &str) -> String {
    short_hash(&["key", &org.to_string(), key, request_hash])
}

/// The base of a request without a key: its request id.
pub fn request_base(request_id: &str) -> String {
    short_hash(&["request", request_id])
}

/// Runs a request's handler with `base` as the base of its changes' ids.
pub async fn with_base<F: Future>(base: String, f: F) -> F::Output {
    BASE.scope(base, f).await
}

/// Runs the processing of one batch item with its change id (customer and entry positions).
pub async fn for_item<F: Future>(customer_index: usize, entry_index: usize, f: F) -> F::Output {
    let base = BASE.try_with(Clone::clone).unwrap_or_else(|_| uuid::Uuid::new_v4().to_string());
    let id = short_hash(&["item", &base, &customer_index.to_string(), &entry_index.to_string()]);
    ITEM.scope(id, f).await
}

/// The id of a request that is one change as a whole (a registration): its base, or a fresh id
/// outside any request.
pub fn of_request() -> String {
    let base = BASE.try_with(Clone::clone).unwrap_or_else(|_| uuid::Uuid::new_v4().to_string());
    short_hash(&["request-change", &base])
}

/// The id of the change being processed (a fresh one outside any item).
pub fn current() -> String {
    ITEM.try_with(Clone::clone).unwrap_or_else(|_| short_hash(&["fresh", &uuid::Uuid::new_v4().to_string()]))
}

/// How long a change recognises itself: as long as its `Idempotency-Key` is remembered. After
/// that the same request is a new one (and, say, a link finds the customer already linked).
pub const RECOGNISED_HOURS: i64 = crate::http::idempotency::RETENTION_HOURS;

fn entry(id: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    format!("{id}@{}", at.timestamp())
}

fn parse(entry: &str) -> Option<(&str, i64)> {
    let (id, at) = entry.split_once('@')?;
    Some((id, at.parse().ok()?))
}

/// `recent` with `id` (committed at `at`) appended, keeping the newest `RECENT_CHANGES`.
pub fn remember(recent: &[String], id: &str, at: chrono::DateTime<chrono::Utc>) -> Vec<String> {
    let mut v: Vec<String> = recent.iter().filter(|r| parse(r).is_none_or(|(rid, _)| rid != id)).cloned().collect();
    v.push(entry(id, at));
    let excess = v.len().saturating_sub(RECENT_CHANGES);
    v.drain(..excess);
    v
}

/// Whether `recent` holds `id`, committed less than `RECOGNISED_HOURS` before `now`.
pub fn holds(recent: &[String], id: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
    let horizon = (now - chrono::Duration::hours(RECOGNISED_HOURS)).timestamp();
    recent.iter().filter_map(|r| parse(r)).any(|(rid, at)| rid == id && at > horizon)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_item_id_is_stable_for_a_base_and_position_and_differs_otherwise() {
        let a = with_base("b1".into(), for_item(0, 1, async { current() })).await;
        let again = with_base("b1".into(), for_item(0, 1, async { current() })).await;
        let other_entry = with_base("b1".into(), for_item(0, 2, async { current() })).await;
        let other_base = with_base("b2".into(), for_item(0, 1, async { current() })).await;
        assert_eq!(a, again);
        assert_ne!(a, other_entry);
        assert_ne!(a, other_base);
        assert_ne!(current(), current(), "outside an item every change is new");
    }

    #[test]
    fn the_ring_keeps_the_newest_ids_once_and_forgets_them_after_a_day() {
        let now = chrono::Utc::now();
        let mut ring = Vec::new();
        for i in 0..40 {
            ring = remember(&ring, &i.to_string(), now);
        }
        assert_eq!(ring.len(), RECENT_CHANGES);
        assert!(!holds(&ring, "7", now) && holds(&ring, "8", now) && holds(&ring, "39", now));
        assert_eq!(remember(&ring, "39", now).len(), RECENT_CHANGES);
        assert!(
            !holds(&ring, "39", now + chrono::Duration::hours(RECOGNISED_HOURS)),
            "a day on, the same change is a new one"
        );
    }
}
