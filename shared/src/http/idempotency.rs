//! `Idempotency-Key` on every POST, one layer `router::dispatch` runs around every handler: claim
//! the key, run the request, keep its response. A layer, not a Put in each transaction, because a
//! batch's items commit one by one (docs/architecture.md#idempotency-and-exactly-once).

use crate::http::api::{ApiRequest, ApiResponse};
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::storage::conditional::{Condition, PutOutcome};
use crate::storage::keys;
use crate::storage::records::{from_item, to_item, Item};
use crate::storage::write_context::{Claim as GateClaim, WriteContext};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";
/// How long a completed response is replayed.
pub const RETENTION_HOURS: i64 = crate::domain::limits::IDEMPOTENCY_RETENTION_HOURS;
/// How long a claim holds the key without completing (the longest Lambda timeout is 25 s).
pub const LEASE_SECONDS: i64 = 30;
/// Stored bodies stay well under DynamoDB's 400 KB item limit.
pub const MAX_STORED_BODY: usize = 300 * 1024;
const MAX_KEY_LEN: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClaimState {
    InFlight,
    Completed,
    /// Given up after a 5xx: the same request may run again at once.
    Released,
}

/// The record of one key within one org.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdempotencyRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    pub state: ClaimState,
    /// Hex SHA-256 of method, path and body.
    pub request_hash: String,
    /// Which run holds the claim.
    pub owner: String,
    /// Epoch milliseconds.
    pub lease_until: i64,
    /// Epoch milliseconds; after it the key is free again, whatever DynamoDB's TTL has done.
    pub expires_at: i64,
    /// Epoch seconds, for DynamoDB TTL.
    pub ttl: i64,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub response_status: Option<u16>,
    #[serde(default)]
    pub response_headers: Option<Vec<(String, String)>>,
    #[serde(default)]
    pub response_body: Option<String>,
}

/// Runs `run` under the request's `Idempotency-Key`, if it is a POST carrying one, with the
/// request's write context (`deadline`, its change ids' base, the gate of its key).
pub async fn guard<F, Fut>(state: &AppState, req: ApiRequest, deadline: Option<Instant>, run: F) -> ApiResponse
where
    F: FnOnce(ApiRequest, Arc<WriteContext>) -> Fut,
    Fut: Future<Output = ApiResponse>,
{
    let raw = req.method.eq_ignore_ascii_case("POST").then(|| req.header(HEADER)).flatten();
    let Some(raw) = raw else {
        let base = crate::domain::change_id::request_base(&req.request_id);
        return run(req, Arc::new(WriteContext::new(deadline, base))).await;
    };
    let Some(key) = valid_key(raw) else {
        return ApiResponse::from(ApiError::BadRequest(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
        )));
    };
    let k = keys::idempotency(req.auth.org_id, &key);
    let hash = request_hash(&req);
    let owner = uuid::Uuid::new_v4().to_string();
    let request_id = req.request_id.clone();
    let now = state.now();
    // The changes of this request are named after its key and body, so a retry under the key
    // recognises what an earlier run of it committed (see `change_id`).
    let base = crate::domain::change_id::keyed_base(req.auth.org_id, &key, &hash);
    // The request starts reading while the key is claimed; its writes wait at the gate until the
    // claim is won, and a lost claim drops it before it wrote anything (`WriteContext::may_write`).
    let (gate, gate_rx) = watch::channel(GateClaim::Pending);
    let context = Arc::new(WriteContext::new(deadline, base).gated(gate_rx));
    let request = async {
        let resp = run(req, context.clone()).await;
        (resp, !context.is_final())
    };
    // Both on the heap: held together they would make every request's future (polled on the
    // runtime thread's stack) as large as the two of them.
    let mut request = Box::pin(request);
    let mut claim = Box::pin(claim(state, &k, &hash, &owner, now));
    let (claimed, finished) = tokio::select! {
        biased;
        c = &mut claim => (c, None),
        done = &mut request => (claim.await, Some(done)),
    };
    let claimed = match claimed {
        Ok(Claim::Won(record)) => record,
        Ok(Claim::Answer(resp)) => {
            let _ = gate.send(GateClaim::Lost);
            return resp;
        }
        Err(e) => {
            let _ = gate.send(GateClaim::Lost);
            tracing::error!(error = %e, "idempotency claim failed");
            return ApiResponse::from(ApiError::unavailable(&request_id));
        }
    };
    let _ = gate.send(GateClaim::Won);
    let (resp, unknown) = match finished {
        Some(done) => done,
        None => request.await,
    };
    context.count_held_items();
    let outcome = if resp.status >= 500 || unknown {
        release(state, claimed).await
    } else {
        complete(state, claimed, &resp).await
    };
    if let Err(e) = outcome {
        // The lease expires by itself; until then a repeat gets 409.
        tracing::error!(error = %e, "idempotency record could not be completed");
    }
    resp
}

fn valid_key(raw: &str) -> Option<String> {
    let k = raw.trim();
    (!k.is_empty() && k.len() <= MAX_KEY_LEN && k.bytes().all(|b| b.is_ascii_graphic())).then(|| k.to_string())
}

fn request_hash(req: &ApiRequest) -> String {
    request_hash_of(&req.method, &req.path, &req.body)
}

/// What "the same request" means: the same method, path and body bytes.
pub fn request_hash_of(method: &str, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.to_ascii_uppercase().as_bytes());
    h.update(b"\n");
    h.update(path.as_bytes());
    h.update(b"\n");
    h.update(body);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, thiserror::Error)]
#[error("idempotency record: {0}")]
pub struct IdempotencyError(String);

enum Claim {
    /// This run holds the key.
    Won(IdempotencyRecord),
    /// Answer without running: the replay, 409 or 422.
    Answer(ApiResponse),
}

async fn claim(
    state: &AppState,
    k: &keys::Key,
    hash: &str,
    owner: &str,
    now: DateTime<Utc>,
) -> Result<Claim, IdempotencyError> {
    let now_ms = now.timestamp_millis();
    let record = in_flight(k, hash, owner, now);
    let item = to_item(&record).map_err(|e| IdempotencyError(e.to_string()))?;
    // A record that vanishes between our Put and our look at it (TTL) is claimed on the next try.
    for _ in 0..3 {
        let condition = Condition::new(
            "attribute_not_exists(PK) OR expiresAt <= :now \
             OR (requestHash = :h AND #st <> :completed AND leaseUntil <= :now)",
        )
        .name("#st", "state")
        .value(":now", AttributeValue::N(now_ms.to_string()))
        .value(":h", AttributeValue::S(hash.to_string()))
        .value(":completed", AttributeValue::S("COMPLETED".into()));
        let old: Option<Item> = match state.store.put_if(item.clone(), condition, true).await {
            Ok(PutOutcome::Written) => return Ok(Claim::Won(record)),
            Ok(PutOutcome::Refused { current }) => current,
            Err(e) => {
                // The claim may have been applied with its answer lost: give back what may be
                // ours (a no-op when it was not applied), or the client's retry would find the
                // key held for the whole lease.
                if let Err(e) = release(state, record.clone()).await {
                    tracing::info!(error = %e, "no claim of ours to give back");
                }
                return Err(IdempotencyError(e.to_string()));
            }
        };
        let old: Option<IdempotencyRecord> = match old {
            Some(item) => Some(from_item(item).map_err(|e| IdempotencyError(e.to_string()))?),
            None => state.store.get(k).await.map_err(|e| IdempotencyError(e.to_string()))?,
        };
        if let Some(claim) = old.and_then(|old| held_by_another(old, &record, now_ms)) {
            return Ok(claim);
        }
    }
    Err(IdempotencyError("the key changed hands repeatedly while claiming it".into()))
}

/// The record of a claim this run makes at `now`.
fn in_flight(k: &keys::Key, hash: &str, owner: &str, now: DateTime<Utc>) -> IdempotencyRecord {
    let expires = now + Duration::hours(RETENTION_HOURS);
    IdempotencyRecord {
        pk: k.pk.clone(),
        sk: k.sk.clone(),
        entity: "IDEMPOTENCY".into(),
        state: ClaimState::InFlight,
        request_hash: hash.to_string(),
        owner: owner.to_string(),
        lease_until: (now + Duration::seconds(LEASE_SECONDS)).timestamp_millis(),
        expires_at: expires.timestamp_millis(),
        ttl: expires.timestamp(),
        created_at: now,
        response_status: None,
        response_headers: None,
        response_body: None,
    }
}

/// What the record `old` that refused our claim means: ours after all, a replay, 422, or 409
/// while it runs; `None` when it has lapsed and the claim may be tried again.
fn held_by_another(old: IdempotencyRecord, ours: &IdempotencyRecord, now_ms: i64) -> Option<Claim> {
    // Our own claim, applied by an earlier attempt of this Put whose answer was lost: we hold it.
    if old.owner == ours.owner {
        return Some(Claim::Won(ours.clone()));
    }
    if old.expires_at <= now_ms {
        return None;
    }
    if old.request_hash != ours.request_hash {
        return Some(Claim::Answer(ApiResponse::from(ApiError::Unprocessable(
            "Idempotency-Key was already used with a different request; send a new key for a new request".to_string(),
        ))));
    }
    if old.state == ClaimState::Completed {
        tracing::info!("idempotent replay of a completed request");
        crate::metrics::count("IdempotentReplays", 1);
        return Some(Claim::Answer(replay(old)));
    }
    if old.lease_until <= now_ms {
        return None;
    }
    let wait = ((old.lease_until - now_ms) as f64 / 1000.0).ceil().max(1.0) as i64;
    crate::metrics::count("IdempotencyInFlight", 1);
    Some(Claim::Answer(
        ApiResponse::from(ApiError::Conflict(
            "A request with this Idempotency-Key is still in progress; retry when it has completed".to_string(),
        ))
        .with_header("retry-after", wait.to_string()),
    ))
}

fn replay(old: IdempotencyRecord) -> ApiResponse {
    let mut headers = old.response_headers.unwrap_or_default();
    headers.push((REPLAYED_HEADER.to_string(), "true".to_string()));
    ApiResponse { status: old.response_status.unwrap_or(200), headers, body: old.response_body.unwrap_or_default() }
}

/// Puts `record` only if this run still holds the claim.
async fn put_owned(state: &AppState, record: &IdempotencyRecord) -> Result<(), IdempotencyError> {
    let item = to_item(record).map_err(|e| IdempotencyError(e.to_string()))?;
    let condition =
        Condition::new("#ow = :me").name("#ow", "owner").value(":me", AttributeValue::S(record.owner.clone()));
    match state.store.put_if(item, condition, false).await {
        Ok(PutOutcome::Written) => Ok(()),
        Ok(PutOutcome::Refused { .. }) => {
            Err(IdempotencyError("the lease ran out and another run took the key".into()))
        }
        Err(e) => Err(IdempotencyError(e.to_string())),
    }
}

async fn complete(state: &AppState, mut record: IdempotencyRecord, resp: &ApiResponse) -> Result<(), IdempotencyError> {
    record.state = ClaimState::Completed;
    if resp.body.len() <= MAX_STORED_BODY {
        record.response_status = Some(resp.status);
        record.response_headers = Some(resp.headers.clone());
        record.response_body = Some(resp.body.clone());
    } else {
        // Too large to keep: a repeat must still not run twice, so it is told so instead.
        tracing::warn!(bytes = resp.body.len(), "response too large to store for idempotent replay");
        let substitute = ApiResponse::from(ApiError::Conflict(
            "This request was already processed, but its response was too large to keep for replay; \
             read the current state instead"
                .to_string(),
        ));
        record.response_status = Some(substitute.status);
        record.response_headers = Some(substitute.headers);
        record.response_body = Some(substitute.body);
    }
    put_owned(state, &record).await
}

/// How many times a release is tried (each with the SDK's own retries) before the key is left
/// to its lease.
const RELEASE_TRIES: u32 = 3;

async fn release(state: &AppState, mut record: IdempotencyRecord) -> Result<(), IdempotencyError> {
    record.state = ClaimState::Released;
    record.lease_until = 0;
    let mut tries = 1;
    loop {
        match put_owned(state, &record).await {
            Err(e) if tries < RELEASE_TRIES && !e.0.starts_with("the lease ran out") => {
                tracing::warn!(error = %e, tries, "idempotency release failed; trying again");
                tokio::time::sleep(std::time::Duration::from_millis(50 * u64::from(tries))).await;
                tries += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_up_to_255() {
        assert_eq!(valid_key(" abc-123 ").as_deref(), Some("abc-123"));
        assert!(valid_key("").is_none());
        assert!(valid_key("has space").is_none());
        assert!(valid_key("ключ").is_none());
        assert!(valid_key(&"k".repeat(255)).is_some());
        assert!(valid_key(&"k".repeat(256)).is_none());
    }

    #[test]
    fn records_map_to_items_with_the_ttl_attribute() {
        let k = keys::idempotency(7, "abc");
        let r = IdempotencyRecord {
            pk: k.pk,
            sk: k.sk,
            entity: "IDEMPOTENCY".into(),
            state: ClaimState::InFlight,
            request_hash: "h".into(),
            owner: "o".into(),
            lease_until: 1,
            expires_at: 2,
            ttl: 3,
            created_at: Utc::now(),
            response_status: Some(200),
            response_headers: Some(vec![("content-type".into(), "application/json".into())]),
            response_body: Some("{}".into()),
        };
        let item = to_item(&r).unwrap();
        assert_eq!(item.get(keys::TTL).and_then(|v| v.as_n().ok()).map(String::as_str), Some("3"));
        assert_eq!(item.get("state").and_then(|v| v.as_s().ok()).map(String::as_str), Some("IN_FLIGHT"));
        let back: IdempotencyRecord = from_item(item).unwrap();
        assert_eq!(back.response_headers, r.response_headers);
    }
}
