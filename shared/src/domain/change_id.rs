//! The identity of one logical change, stored with it, so a retried commit recognises itself and
//! reports the original success. Derived, never random per attempt: from the key and body (else the
//! request id) and the item's position (docs/exactly-once.md).

use sha2::{Digest, Sha256};

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

/// The base of row `row` of partner file `file_id` of `org` (docs/file-sync.md): a row applied
/// again is the same change.
pub fn of_file_row(org: u64, file_id: &str, row: u64) -> String {
    short_hash(&["file-row", &org.to_string(), file_id, &row.to_string()])
}

/// The id of batch item `entry` of customer `customer` in the request whose base is `base`.
pub fn of_item(base: &str, customer: usize, entry: usize) -> String {
    short_hash(&["item", base, &customer.to_string(), &entry.to_string()])
}

/// The id of the request whose base is `base`, when it is one change as a whole (a registration).
pub fn of_request(base: &str) -> String {
    short_hash(&["request-change", base])
}

/// How long a change recognises itself: as long as its `Idempotency-Key` is remembered. After
/// that the same request is a new one (and, say, a link finds the customer already linked).
pub const RECOGNISED_HOURS: i64 = crate::domain::limits::IDEMPOTENCY_RETENTION_HOURS;

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
