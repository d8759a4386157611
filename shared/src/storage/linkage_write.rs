//! One change to one linkage: read, decide, then commit linkage + activity + outbox event (+ any
//! extra conditions) in one `TransactWriteItems` conditioned on the version read.
//!
//! Concurrent writers (docs/contract.md#concurrency): the loser re-reads and decides again, with jittered
//! exponential backoff, until its change commits or its time budget is spent — then the item gets
//! 2010 and nothing changed. The budget is `Config::write_contention_budget` per item (default 4 s)
//! and never reaches past the request's write deadline (`WRITE_DEADLINE`, set by
//! `router::dispatch` from `Config::write_request_budget`, default 18 s, and in Lambda from the
//! invocation's deadline minus `lambda_adapter::DEADLINE_MARGIN` (4.5 s: room for the SDK's own
//! timeouts on the last attempt, see `state::sdk_limits`), whichever comes first).
//!
//! Each attempt takes a fresh "now" and builds its history record from the linkage it read, so a
//! record's time, version, `from` and `to` all belong to the attempt that committed: linking
//! records are keyed by that version (`keys::linking_activity`) and read in commit order.

use crate::domain::error_catalog::{ErrorCode, ItemStatus};
use crate::domain::model::{Activity, ActivityType, CustomerId, LinkState, Linkage, OrgId, ProgramId};
use crate::state::AppState;
use crate::storage::records::{to_item, ActivityRecord, EventRecord, LinkageRecord};
use crate::storage::store::{tx, StoreError, TransactError};
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use rand::Rng;
use std::time::{Duration, Instant};

tokio::task_local! {
    /// The instant after which no write of the current request starts another attempt.
    pub static WRITE_DEADLINE: Instant;
}

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

/// Runs `decide` against the current linkage and the attempt's "now" until its change commits,
/// the decision is a rejection, or the contention budget is spent (→ 2010, nothing changed).
pub async fn change_linkage<F>(
    state: &AppState,
    org: OrgId,
    customer: CustomerId,
    program: ProgramId,
    mut decide: F,
) -> Result<ItemStatus, StorageFailure>
where
    F: FnMut(Option<&Linkage>, DateTime<Utc>) -> Result<Prepared, ItemStatus>,
{
    let target = Target { state, org, customer, program, change: crate::domain::change_id::current() };
    let started = Instant::now();
    let mut deadline = started + state.config.write_contention_budget;
    if let Ok(request_deadline) = WRITE_DEADLINE.try_with(|d| *d) {
        deadline = deadline.min(request_deadline);
    }
    let mut attempt = 0u32;
    loop {
        // Read right before deciding: the shorter the time from read to commit, the likelier the
        // commit (a state learnt before a backoff pause would be stale by the time it is used).
        let current = match (attempt, known_linkage(customer, program)) {
            // The first attempt decides on the linkage read with the customer (same request).
            (0, Some(known)) => known,
            _ => target.read().await.map_err(StorageFailure)?,
        };
        forget_known(program);
        // This change already committed (an earlier attempt whose answer was lost, or an earlier
        // run of the same keyed request): report its success, apply nothing.
        if target.applied(current.as_ref()) {
            tracing::info!(attempt, "change found already applied; reporting its success");
            return Ok(ItemStatus::success());
        }
        let prepared = match decide(current.as_ref(), state.now()) {
            Ok(p) => p,
            Err(status) => return Ok(status),
        };
        // Boxed: the commit's future (reminders, the SDK's transaction) is large; kept inline, the
        // write path overflowed a test thread's 2 MB stack in a debug build.
        match Box::pin(target.commit(current.as_ref(), prepared)).await? {
            Attempt::Finished(status) => return Ok(status),
            Attempt::Lost => {}
            Attempt::Unknown(e) => {
                // The write may have been applied with its answer lost. One read tells when it
                // was; otherwise the item stays "unknown, retry" (safe under the same
                // Idempotency-Key, which names the same change).
                tokio::time::sleep(Duration::from_millis(50)).await;
                if target.found_applied().await.unwrap_or(false) {
                    tracing::info!("write applied although its answer was lost; reporting its success");
                    return Ok(ItemStatus::success());
                }
                return Err(StorageFailure(e));
            }
        }
        // Lost to a concurrent writer: wait a little (jittered), then re-read and decide again.
        attempt = attempt.saturating_add(1);
        let pause = backoff(attempt);
        if Instant::now() + pause >= deadline {
            return target.budget_spent(attempt, started).await;
        }
        tokio::time::sleep(pause).await;
    }
}

/// The linkage a change is for, and the change's id (`change_id`).
struct Target<'a> {
    state: &'a AppState,
    org: OrgId,
    customer: CustomerId,
    program: ProgramId,
    change: String,
}

/// How one attempt's transaction ended.
enum Attempt {
    /// Committed, or refused for a reason deciding again would not change.
    Finished(ItemStatus),
    /// Lost to a concurrent writer (the version read moved, or a transaction conflict).
    Lost,
    /// Storage failed after the SDK's retries: whether it was applied is unknown.
    Unknown(StoreError),
}

impl Target<'_> {
    async fn read(&self) -> Result<Option<Linkage>, StoreError> {
        self.state.store.linkage(self.org, self.customer, self.program).await
    }

    /// Whether `linkage` carries this change among its recent changes.
    fn applied(&self, linkage: Option<&Linkage>) -> bool {
        linkage.is_some_and(|l| crate::domain::change_id::holds(&l.recent_changes, &self.change, self.state.now()))
    }

    /// Reads the linkage again: whether this change is on it (a commit whose answer was lost).
    async fn found_applied(&self) -> Result<bool, StoreError> {
        Ok(self.applied(self.read().await?.as_ref()))
    }

    /// Commits `prepared` (decided on `current`) with its reminders, in one transaction.
    async fn commit(&self, current: Option<&Linkage>, mut prepared: Prepared) -> Result<Attempt, StorageFailure> {
        let recent = current.map(|c| c.recent_changes.as_slice()).unwrap_or_default();
        prepared.after.recent_changes = crate::domain::change_id::remember(recent, &self.change, self.state.now());
        let after = prepared.after.clone();
        // Expiry reminders (issue 13): armed/disarmed in this transaction when the expiry moves.
        let reminder_items = crate::storage::reminders::for_change(self.state, self.org, current, &after)
            .await
            .map_err(StorageFailure)?;
        let (mut items, extra_status) = build_items(self.state, prepared).map_err(StorageFailure)?;
        items.extend(reminder_items);
        Ok(match self.state.store.transact(items).await {
            Ok(()) => {
                // A later entry of the batch for the same program decides on what was just written.
                remember_known(after);
                Attempt::Finished(ItemStatus::success())
            }
            Err(e @ TransactError::Cancelled { .. }) if e.condition_failed_at(0) || e.is_conflict() => Attempt::Lost,
            Err(e @ TransactError::Cancelled { .. }) => Attempt::Finished(refusal(&e, &extra_status)),
            Err(TransactError::Store(e)) if e.is_refused_value() => {
                // A value DynamoDB will never take is the client's to fix, not an outage to retry.
                tracing::warn!(error = %e, "storage refused a value of the item");
                Attempt::Finished(ErrorCode::CannotProcess.with_detail(
                    "a value of this item cannot be stored (too large or invalid); check its names and identifiers",
                ))
            }
            Err(TransactError::Store(e)) => Attempt::Unknown(e),
        })
    }

    /// The answer once the contention budget is spent after `attempts` lost attempts.
    async fn budget_spent(&self, attempts: u32, started: Instant) -> Result<ItemStatus, StorageFailure> {
        // 2010 promises that nothing changed, but a "conflict" can be the answer to the SDK's
        // retry of a transaction DynamoDB already applied: look once before promising it.
        if self.found_applied().await.map_err(StorageFailure)? {
            tracing::info!("write applied although its answer was a conflict; reporting its success");
            return Ok(ItemStatus::success());
        }
        let elapsed_ms = started.elapsed().as_millis();
        tracing::info!(attempts, elapsed_ms = elapsed_ms as u64, "write budget spent under contention");
        Ok(ErrorCode::QueuedForCustomer.with_detail(format!(
            "other changes to this customer's partner program kept winning for {elapsed_ms} ms ({attempts} attempts); retry the item"
        )))
    }
}

/// The status of a transaction cancelled by one of the extra items' conditions (the one given with
/// it), or 2001 when the cancellation names none of them.
fn refusal(e: &TransactError, (fixed, statuses): &ExtraStatuses) -> ItemStatus {
    match statuses.iter().enumerate().find(|(i, _)| e.condition_failed_at(fixed + i)) {
        Some((_, status)) => status.clone(),
        None => {
            tracing::warn!(error = %e, "transaction cancelled for an unexpected reason");
            ErrorCode::CannotProcess.with_detail("the change was refused by storage; retry")
        }
    }
}

/// What the request knows of one customer's linkages: all of them as read with its profile, less
/// those whose change is under way (stale until its outcome is known).
struct Known {
    customer: CustomerId,
    linkages: std::collections::HashMap<ProgramId, Linkage>,
    stale: std::collections::HashSet<ProgramId>,
}

tokio::task_local! {
    /// The linkages of the customer being processed, read together with its profile (one Query,
    /// `customer_identity::resolve_with_linkages`): a change's first attempt decides on them
    /// instead of reading its linkage again. A lost race re-reads from the table.
    static KNOWN: std::cell::RefCell<Known>;
}

/// Runs `f` (the items of one customer) knowing `linkages`, all of `customer`'s linkages.
pub async fn with_known_linkages<F: std::future::Future>(
    customer: CustomerId,
    linkages: Vec<Linkage>,
    f: F,
) -> F::Output {
    let linkages = linkages.into_iter().map(|l| (l.partner_program_id, l)).collect();
    KNOWN.scope(std::cell::RefCell::new(Known { customer, linkages, stale: Default::default() }), f).await
}

/// The known linkage of `customer` in `program`: `Some(None)` when it is known not to exist,
/// `None` when nothing trustworthy is known (read it).
fn known_linkage(customer: CustomerId, program: ProgramId) -> Option<Option<Linkage>> {
    KNOWN
        .try_with(|k| {
            let k = k.borrow();
            (k.customer == customer && !k.stale.contains(&program)).then(|| k.linkages.get(&program).cloned())
        })
        .ok()
        .flatten()
}

/// Once a change to `program` is under way, what was known of it is stale until its outcome is.
fn forget_known(program: ProgramId) {
    let _ = KNOWN.try_with(|k| k.borrow_mut().stale.insert(program));
}

/// What a change just committed is the linkage's state now.
fn remember_known(after: Linkage) {
    let _ = KNOWN.try_with(|k| {
        let mut k = k.borrow_mut();
        if k.customer == after.customer_id {
            k.stale.remove(&after.partner_program_id);
            k.linkages.insert(after.partner_program_id, after);
        }
    });
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

/// Full jitter over an exponential window: up to 100 ms after the first loss, doubling to at most
/// 1 s. Every attempt costs the table a read and a transaction, and a burst of n writers on one
/// linkage needs a window of about n commit times before most attempts find it free: starting at
/// 100 ms spreads even a burst of 40 within a few rounds, where a few-millisecond start makes the
/// losers collide again and again (measured with DynamoDB Local, which runs transactions one at a
/// time: 40 writers, 4 ms start → 28 committed within 3 s; 100 ms start → all of them).
fn backoff(attempt: u32) -> Duration {
    let cap = 100u64 << attempt.clamp(1, 4).saturating_sub(1);
    Duration::from_millis(rand::rng().random_range(1..=cap.min(1000)))
}

/// The history record of a change from `before` (none for a first link) to `after`, at `at`.
/// Linking records carry both states; benefit records leave them out (they change no state).
pub fn activity_for(before: Option<&Linkage>, after: &Linkage, kind: ActivityType, at: DateTime<Utc>) -> Activity {
    let linking = !kind.is_benefit();
    Activity {
        activity_id: uuid::Uuid::now_v7().to_string(),
        org_id: after.org_id,
        customer_id: after.customer_id,
        partner_program_id: after.partner_program_id,
        partner_program_name: after.partner_program_name.clone(),
        activity_type: kind,
        activity_date: at,
        tier_name: after.tier_name.clone(),
        tier_expiry_date: after.tier_expiry_date,
        benefit_details: None,
        version: after.version,
        step: 0,
        from: before.filter(|_| linking).map(LinkState::of),
        to: linking.then(|| LinkState::of(after)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_commit_reports_the_status_of_the_extra_item_whose_condition_failed() {
        let cancelled = |failed: usize| TransactError::Cancelled {
            reasons: (0..5).map(|i| (i == failed).then(|| "ConditionalCheckFailed".to_string())).collect(),
        };
        let taken = ErrorCode::CannotProcess.with_detail("partnerMembershipId is already used");
        let extras: ExtraStatuses = (3, vec![ErrorCode::NotEnrolled.status(), taken.clone()]);
        assert_eq!(refusal(&cancelled(3), &extras), ErrorCode::NotEnrolled.status());
        assert_eq!(refusal(&cancelled(4), &extras), taken);
        // A fixed item's condition (the activity, the event) names no extra: cannot process.
        let other = refusal(&cancelled(1), &extras);
        assert_eq!((other.code, other.detail.as_deref()), (2001, Some("the change was refused by storage; retry")));
    }

    #[test]
    fn backoff_stays_within_its_growing_window() {
        for attempt in [1u32, 2, 3, 4, 5, 100] {
            let cap = Duration::from_millis((100 << (attempt.min(4) - 1)).min(1000));
            for _ in 0..50 {
                let d = backoff(attempt);
                assert!(d >= Duration::from_millis(1) && d <= cap, "{attempt}: {d:?}");
            }
        }
    }
}
