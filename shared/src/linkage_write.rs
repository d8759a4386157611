//! One change to one linkage: read, decide, then commit linkage + activity + outbox event (+ any
//! extra conditions) in one `TransactWriteItems` conditioned on the version read. A concurrent
//! writer makes the loser re-read and retry with jitter; after `MAX_ATTEMPTS` it gets 2010.

use crate::error_catalog::{ErrorCode, ItemStatus};
use crate::model::{Activity, CustomerId, Linkage, OrgId, ProgramId};
use crate::records::{to_item, ActivityRecord, EventRecord, LinkageRecord};
use crate::state::AppState;
use crate::store::{tx, StoreError, TransactError};
use aws_sdk_dynamodb::types::TransactWriteItem;
use rand::Rng;
use std::time::Duration;

pub const MAX_ATTEMPTS: u32 = 5;

/// A decided change, ready to commit.
pub struct Prepared {
    pub after: Linkage,
    /// The version read (`None`: the linkage must not exist yet).
    pub expected_version: Option<u64>,
    pub activity: Activity,
    pub event: Option<EventRecord>,
    /// Further items of the same transaction, each with the status to report when its condition fails.
    pub extras: Vec<(TransactWriteItem, ItemStatus)>,
}

/// Outcome of one item when storage itself failed (after the SDK's retries).
#[derive(Debug)]
pub struct StorageFailure(pub StoreError);

/// Runs `decide` against the current linkage until its change commits, the decision is a
/// rejection, or `MAX_ATTEMPTS` conflicts have been lost (→ 2010, nothing changed).
pub async fn change_linkage<F>(
    state: &AppState,
    org: OrgId,
    customer: CustomerId,
    program: ProgramId,
    mut decide: F,
) -> Result<ItemStatus, StorageFailure>
where
    F: FnMut(Option<&Linkage>) -> Result<Prepared, ItemStatus>,
{
    let change = crate::change_id::current();
    for attempt in 0..MAX_ATTEMPTS {
        let current = state.store.linkage(org, customer, program).await.map_err(StorageFailure)?;
        // This change already committed (an earlier attempt whose answer was lost, or an earlier
        // run of the same keyed request): report its success, apply nothing.
        if applied(current.as_ref(), &change, state.now()) {
            tracing::info!(attempt, "change found already applied; reporting its success");
            return Ok(ItemStatus::success());
        }
        let mut prepared = match decide(current.as_ref()) {
            Ok(p) => p,
            Err(status) => return Ok(status),
        };
        let recent = current.as_ref().map(|c| c.recent_changes.as_slice()).unwrap_or_default();
        prepared.after.recent_changes = crate::change_id::remember(recent, &change, state.now());
        let (items, extra_status) = build_items(state, prepared).map_err(StorageFailure)?;
        match state.store.transact(items).await {
            Ok(()) => return Ok(ItemStatus::success()),
            Err(e @ TransactError::Cancelled { .. }) => {
                if e.condition_failed_at(0) || e.is_conflict() {
                    backoff(attempt).await;
                    continue;
                }
                let fixed = extra_status.0;
                if let Some(status) = extra_status.1.iter().enumerate().find(|(i, _)| e.condition_failed_at(fixed + i)).map(|(_, s)| s.clone()) {
                    return Ok(status);
                }
                tracing::warn!(error = %e, "transaction cancelled for an unexpected reason");
                return Ok(ErrorCode::CannotProcess.with_detail("the change was refused by storage; retry"));
            }
            Err(TransactError::Store(e)) => {
                // The outcome is unknown: the write may have been applied with its answer lost.
                // One read tells when it was; otherwise the item stays "unknown, retry" (safe
                // under the same Idempotency-Key, which names the same change).
                tokio::time::sleep(Duration::from_millis(50)).await;
                if let Ok(now) = state.store.linkage(org, customer, program).await {
                    if applied(now.as_ref(), &change, state.now()) {
                        tracing::info!("write applied although its answer was lost; reporting its success");
                        return Ok(ItemStatus::success());
                    }
                }
                return Err(StorageFailure(e));
            }
        }
    }
    Ok(ErrorCode::QueuedForCustomer.with_detail(format!(
        "other changes to this customer's partner program won {MAX_ATTEMPTS} times in a row; retry the item"
    )))
}

/// Whether the linkage carries the change `id` among its recent changes.
fn applied(linkage: Option<&Linkage>, id: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
    linkage.is_some_and(|l| crate::change_id::holds(&l.recent_changes, id, now))
}

type ExtraStatuses = (usize, Vec<ItemStatus>);

fn build_items(state: &AppState, p: Prepared) -> Result<(Vec<TransactWriteItem>, ExtraStatuses), StoreError> {
    let table = state.store.table();
    let record = LinkageRecord::new(p.after, state.config.due_shards);
    let mut items = vec![
        tx::put_versioned(table, to_item(&record)?, p.expected_version)?,
        tx::put_new(table, to_item(&ActivityRecord::new(p.activity))?)?,
    ];
    if let Some(ev) = p.event {
        items.push(tx::put_new(table, to_item(&ev)?)?);
    }
    let fixed = items.len();
    let mut statuses = Vec::with_capacity(p.extras.len());
    for (item, status) in p.extras {
        items.push(item);
        statuses.push(status);
    }
    Ok((items, (fixed, statuses)))
}

async fn backoff(attempt: u32) {
    let cap = 10u64 << attempt.min(5);
    let ms = rand::rng().random_range(1..=cap);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// A fresh activity record for a linkage change.
pub fn activity_for(l: &Linkage, kind: crate::model::ActivityType, at: chrono::DateTime<chrono::Utc>) -> Activity {
    Activity {
        activity_id: uuid::Uuid::now_v7().to_string(),
        org_id: l.org_id,
        customer_id: l.customer_id,
        partner_program_id: l.partner_program_id,
        partner_program_name: l.partner_program_name.clone(),
        activity_type: kind,
        activity_date: at,
        tier_name: l.tier_name.clone(),
        tier_expiry_date: l.tier_expiry_date,
        benefit_details: None,
    }
}
