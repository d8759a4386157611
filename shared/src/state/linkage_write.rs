//! One change to one linkage: read, decide, commit linkage, history and event in one transaction
//! conditioned on the version read; lost races and unanswered commits are retried within the
//! item's budget (docs/architecture.md#writes-to-a-linkage).

use crate::domain::error_catalog::{ErrorCode, ItemStatus};
use crate::domain::model::{Activity, Actor, CustomerId, Linkage, OrgId, ProgramId, Reason};
use crate::state::AppState;
use crate::storage::admission::{Patience, SETTLING_GRACE};
use crate::storage::records::{to_item, ActivityRecord, EventRecord, LinkageRecord};
use crate::storage::store::{tx, StoreError, TransactError};
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use rand::Rng;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One batch item's write: the id of its change (`WriteContext::item_change`), what the request
/// already read of its customer's linkages, and who made the change and why (stamped on its
/// history record and event when it commits: `Target::commit`).
pub struct ItemWrite {
    change: String,
    known: Option<Arc<KnownLinkages>>,
    actor: Option<Actor>,
    reason: Option<Reason>,
}

impl ItemWrite {
    pub fn new(change: String, known: Option<Arc<KnownLinkages>>) -> Self {
        ItemWrite { change, known, actor: None, reason: None }
    }

    /// The client whose request makes the change (every API write names one; the sweep none).
    pub fn by(mut self, actor: Actor) -> Self {
        self.actor = Some(actor);
        self
    }

    /// The program entry's `reason` as sent (`Reason::from_request`): none, or valid, or the item
    /// is refused like any other malformed item field (2001, the detail naming the field).
    pub fn because(mut self, sent: Option<&serde_json::Value>) -> Result<Self, ItemStatus> {
        let sent = sent.filter(|v| !v.is_null());
        self.reason = sent
            .map(Reason::from_request)
            .transpose()
            .map_err(|e| ErrorCode::CannotProcess.with_detail(e.to_string()))?;
        Ok(self)
    }

    /// A change of its own, outside any batch item (a fresh id: it recognises only its own attempts).
    pub fn fresh() -> Self {
        ItemWrite::new(crate::storage::write_context::WriteContext::standalone(None).item_change(0, 0), None)
    }
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

/// Why an item could not be decided: storage did not serve it (docs/exactly-once.md).
#[derive(Debug)]
pub enum StorageFailure {
    /// Not applied: this process's own queue of storage calls outlasted the request's deadline
    /// before the item's write could be sent (2010; `write_sent` when an earlier attempt of it was
    /// sent and lost to a concurrent writer, which changed nothing either).
    Busy { write_sent: bool },
    /// Not applied: storage failed before the item's write was sent.
    Unavailable(StoreError),
    /// Storage failed after the item's write was sent, and no read could tell whether it applied.
    Unknown(StoreError),
}

impl StorageFailure {
    /// A read before the item's first write failed.
    pub fn before_write(e: StoreError) -> Self {
        if e.is_busy() {
            StorageFailure::Busy { write_sent: false }
        } else {
            StorageFailure::Unavailable(e)
        }
    }

    /// The failure as a storage error, for callers that answer a whole request with it.
    pub fn into_store_error(self) -> StoreError {
        match self {
            StorageFailure::Busy { .. } => StoreError::Busy { operation: "TransactWriteItems", waited: Duration::ZERO },
            StorageFailure::Unavailable(e) | StorageFailure::Unknown(e) => e,
        }
    }

    /// Whether a write of the item may have reached storage.
    pub fn write_sent(&self) -> bool {
        match self {
            StorageFailure::Busy { write_sent } => *write_sent,
            StorageFailure::Unavailable(_) => false,
            StorageFailure::Unknown(_) => true,
        }
    }
}

/// An attempt whose outcome is unknown (storage did not answer its transaction): while the linkage
/// still has the version it was conditioned on, it may yet be applied; once the version moves
/// without this change, it never can be.
struct InDoubt {
    expected_version: Option<u64>,
    error: StoreError,
}

impl InDoubt {
    fn still_possible(&self, current: Option<&Linkage>) -> bool {
        current.map(|l| l.version) == self.expected_version
    }
}

/// Runs `decide` against the current linkage and the attempt's "now" until its change commits,
/// the decision is a rejection, or the item's budget is spent (→ 2010, nothing changed).
///
/// An attempt whose transaction got no answer is not reported "unknown" at once: the next attempt
/// re-reads (finding the change if it was applied) and, if not, commits again on the version it
/// reads. Both attempts are conditioned on a version, so at most one of them is ever applied, and
/// whichever it is carries this change's id. "Unknown" is left only when storage still does not
/// answer once the budget is spent (`settle`).
pub async fn change_linkage<F>(
    state: &AppState,
    item: &ItemWrite,
    org: OrgId,
    customer: CustomerId,
    program: ProgramId,
    mut decide: F,
) -> Result<ItemStatus, StorageFailure>
where
    F: FnMut(Option<&Linkage>, DateTime<Utc>) -> Result<Prepared, ItemStatus>,
{
    let known = item.known.as_deref();
    let target = Target { state, org, customer, program, change: item.change.clone(), known, item };
    let mut budget = Budget::new(state.config.write_contention_budget, target.deadline());
    let started = budget.started;
    let mut attempt = 0u32;
    let mut attempts_in_doubt = 0u32;
    let mut write_sent = false;
    let mut in_doubt: Option<InDoubt> = None;
    loop {
        // Read right before deciding: the shorter the time from read to commit, the likelier the
        // commit (a state learnt before a backoff pause would be stale by the time it is used).
        let current = match (attempt, known.and_then(|k| k.linkage(customer, program))) {
            // The first attempt decides on the linkage read with the customer (same request).
            (0, Some(known)) => known,
            _ => match budget.in_storage(target.read()).await {
                Ok(current) => current,
                Err(_) if in_doubt.is_some() => return target.settle(in_doubt, attempt, started).await,
                Err(e) if e.is_busy() => return Err(StorageFailure::Busy { write_sent }),
                Err(e) if write_sent => return Err(StorageFailure::Unknown(e)),
                Err(e) => return Err(StorageFailure::Unavailable(e)),
            },
        };
        if let Some(k) = known {
            k.forget(program);
        }
        // This change already committed (an earlier attempt whose answer was lost, or an earlier
        // run of the same keyed request): report its success, apply nothing.
        if target.applied(current.as_ref()) {
            tracing::info!(attempt, "change found already applied; reporting its success");
            return Ok(ItemStatus::success());
        }
        if in_doubt.as_ref().is_some_and(|d| !d.still_possible(current.as_ref())) {
            in_doubt = None;
        }
        let prepared = match decide(current.as_ref(), state.now()) {
            Ok(p) => p,
            // A refusal decided while an earlier attempt may still apply would not be true.
            Err(status) if in_doubt.is_none() => return Ok(status),
            Err(_) => return target.settle(in_doubt, attempt, started).await,
        };
        let expected_version = prepared.expected_version;
        // Boxed: the commit's future (reminders, the SDK's transaction) is large; kept inline, the
        // write path overflowed a test thread's 2 MB stack in a debug build.
        match budget.in_storage(Box::pin(target.commit(current.as_ref(), prepared))).await {
            Attempt::Finished(status) => {
                if status.is_success() {
                    // Retries this committed write took after losing to concurrent writers.
                    crate::metrics::count("ContentionRetries", u64::from(attempt));
                    crate::metrics::count("CommittedWrites", 1);
                }
                return Ok(status);
            }
            Attempt::Lost => write_sent = true,
            Attempt::NotSent(_) if in_doubt.is_some() => return target.settle(in_doubt, attempt, started).await,
            Attempt::NotSent(e) if e.is_busy() => return Err(StorageFailure::Busy { write_sent }),
            Attempt::NotSent(e) => return Err(StorageFailure::Unavailable(e)),
            Attempt::Unknown(error) => {
                tracing::warn!(error = %error, attempt, "no answer to a commit; re-reading before deciding again");
                write_sent = true;
                attempts_in_doubt += 1;
                in_doubt = Some(InDoubt { expected_version, error });
            }
        }
        // Lost to a concurrent writer, or no answer: wait a little (jittered), then re-read and
        // decide again.
        attempt = attempt.saturating_add(1);
        let pause = backoff(attempt);
        if !budget.allows(pause) || attempts_in_doubt >= MAX_ATTEMPTS_IN_DOUBT {
            return target.settle(in_doubt, attempt, started).await;
        }
        tokio::time::sleep(pause).await;
    }
}

/// Commits of one item that may get no answer before it is reported unknown: storage that does
/// not answer ends the item within a few operation timeouts (`state::sdk_limits`).
const MAX_ATTEMPTS_IN_DOUBT: u32 = 3;

/// How long one item keeps trying. The contention budget counts the time the item spends deciding
/// and backing off, not the time its reads and commits take: in a burst those wait for their turn
/// (`admission`), and that queue is ours to serve, not contention to give up on. Nothing passes the
/// request's deadline.
struct Budget {
    started: Instant,
    contention: Duration,
    request_deadline: Option<Instant>,
    in_storage: Duration,
}

impl Budget {
    fn new(contention: Duration, request_deadline: Option<Instant>) -> Self {
        Budget { started: Instant::now(), contention, request_deadline, in_storage: Duration::ZERO }
    }

    /// Runs a read or commit, its time not counted against the contention budget.
    async fn in_storage<T>(&mut self, call: impl std::future::Future<Output = T>) -> T {
        let started = Instant::now();
        let out = call.await;
        self.in_storage += started.elapsed();
        out
    }

    /// Whether another attempt may start after `pause`.
    fn allows(&self, pause: Duration) -> bool {
        let own = self.started.elapsed().saturating_sub(self.in_storage);
        own + pause < self.contention && self.request_deadline.is_none_or(|d| Instant::now() + pause < d)
    }
}

/// The linkage a change is for, and the change's id (`change_id`).
struct Target<'a> {
    state: &'a AppState,
    org: OrgId,
    customer: CustomerId,
    program: ProgramId,
    change: String,
    known: Option<&'a KnownLinkages>,
    /// Who made the change and why.
    item: &'a ItemWrite,
}

/// How one attempt's transaction ended.
enum Attempt {
    /// Committed, or refused for a reason deciding again would not change.
    Finished(ItemStatus),
    /// Lost to a concurrent writer (the version read moved, or a transaction conflict).
    Lost,
    /// Never sent: no turn before the deadline (`StoreError::Busy`), the request may not write
    /// (`StoreError::NotClaimed`), or its items could not be built or armed.
    NotSent(StoreError),
    /// Storage failed after the SDK's retries: whether it was applied is unknown.
    Unknown(StoreError),
}

/// Reads that settle an attempt of unknown outcome, and the pauses before them: a transaction
/// still queued in storage when its answer timed out lands within moments or not at all.
const SETTLING_READS: [Duration; 4] =
    [Duration::ZERO, Duration::from_millis(150), Duration::from_millis(450), Duration::from_millis(1000)];

impl Target<'_> {
    /// The request's deadline, if the change runs in one.
    fn deadline(&self) -> Option<Instant> {
        self.state.request().and_then(|r| r.deadline())
    }

    async fn read(&self) -> Result<Option<Linkage>, StoreError> {
        self.state.store.linkage(self.org, self.customer, self.program).await
    }

    /// Whether `linkage` carries this change among its recent changes.
    fn applied(&self, linkage: Option<&Linkage>) -> bool {
        linkage.is_some_and(|l| crate::domain::change_id::holds(&l.recent_changes, &self.change, self.state.now()))
    }

    /// Commits `prepared` (decided on `current`) with its reminders, in one transaction.
    async fn commit(&self, current: Option<&Linkage>, mut prepared: Prepared) -> Attempt {
        let recent = current.map(|c| c.recent_changes.as_slice()).unwrap_or_default();
        prepared.after.recent_changes = crate::domain::change_id::remember(recent, &self.change, self.state.now());
        // Who and why, on the history record and the event alike (docs/contract.md#who-and-why).
        prepared.activity.actor = self.item.actor.clone();
        prepared.activity.reason = self.item.reason.clone();
        if let Some(event) = &mut prepared.event {
            crate::storage::outbox::stamp_provenance(event, self.item.actor.as_ref(), self.item.reason.as_ref());
        }
        let after = prepared.after.clone();
        // Expiry reminders: armed/disarmed in this transaction when the expiry moves.
        let reminder_items = match reminder_items(self.state, self.org, current, &after).await {
            Ok(items) => items,
            Err(e) => return Attempt::NotSent(e),
        };
        let (mut items, extra_status) = match build_items(self.state, prepared) {
            Ok(built) => built,
            Err(e) => return Attempt::NotSent(e),
        };
        items.extend(reminder_items);
        match self.state.store.transact(items).await {
            Ok(()) => {
                // A later entry of the batch for the same program decides on what was just written.
                if let Some(k) = self.known {
                    k.remember(after);
                }
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
            Err(TransactError::Store(e)) if e.is_unsent() => Attempt::NotSent(e),
            Err(TransactError::Store(e)) => Attempt::Unknown(e),
        }
    }

    /// The answer once the item's budget is spent after `attempts` attempts, none of which
    /// committed with an answer. 2010 promises that nothing changed, but a "conflict" can be the
    /// answer to the SDK's retry of a transaction DynamoDB already applied, and an attempt in
    /// doubt may still land: look before promising it, a few times while an attempt is in doubt.
    async fn settle(
        &self,
        in_doubt: Option<InDoubt>,
        attempts: u32,
        started: Instant,
    ) -> Result<ItemStatus, StorageFailure> {
        let reads = if in_doubt.is_some() { &SETTLING_READS[..] } else { &SETTLING_READS[..1] };
        let mut last_error = None;
        for pause in reads {
            tokio::time::sleep(*pause).await;
            match self.read_settling().await {
                Ok(current) if self.applied(current.as_ref()) => {
                    tracing::info!("write applied although its answer was lost or a conflict; reporting its success");
                    return Ok(ItemStatus::success());
                }
                Ok(current) if in_doubt.as_ref().is_some_and(|d| d.still_possible(current.as_ref())) => {}
                Ok(_) => return Ok(self.budget_spent(attempts, started)),
                Err(e) => last_error = Some(e),
            }
        }
        let error = match (in_doubt, last_error) {
            (Some(d), None) => d.error,
            (_, Some(e)) => e,
            (None, None) => return Ok(self.budget_spent(attempts, started)),
        };
        tracing::error!(error = %error, attempts, "outcome of the write unknown: storage did not answer");
        Err(StorageFailure::Unknown(error))
    }

    /// A read of the linkage that may wait for its turn a little past the request's deadline: it
    /// turns an unknown outcome into a known one.
    async fn read_settling(&self) -> Result<Option<Linkage>, StoreError> {
        let from = self.deadline().map_or_else(Instant::now, |d| d.max(Instant::now()));
        let patience = Patience::Settling(from + SETTLING_GRACE);
        self.state.store.linkage_within(self.org, self.customer, self.program, patience).await
    }

    fn budget_spent(&self, attempts: u32, started: Instant) -> ItemStatus {
        let elapsed_ms = started.elapsed().as_millis();
        tracing::info!(attempts, elapsed_ms = elapsed_ms as u64, "write budget spent under contention");
        ErrorCode::QueuedForCustomer.with_detail(format!(
            "other changes to this customer's partner program kept winning for {elapsed_ms} ms \
             ({attempts} attempts); retry the item"
        ))
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

/// What the request knows of one customer's linkages: all of them as read with its profile (one
/// Query, `customer_identity::resolve_with_linkages`), so a change's first attempt decides on
/// them instead of reading its linkage again; less those whose change is under way (stale until
/// its outcome is known). A lost race re-reads from the table.
pub struct KnownLinkages(Mutex<Known>);

struct Known {
    customer: CustomerId,
    linkages: HashMap<ProgramId, Linkage>,
    stale: HashSet<ProgramId>,
}

impl KnownLinkages {
    /// `linkages`: all of `customer`'s linkages.
    pub fn new(customer: CustomerId, linkages: Vec<Linkage>) -> Self {
        let linkages = linkages.into_iter().map(|l| (l.partner_program_id, l)).collect();
        KnownLinkages(Mutex::new(Known { customer, linkages, stale: HashSet::new() }))
    }

    /// The known linkage of `customer` in `program`: `Some(None)` when it is known not to exist,
    /// `None` when nothing trustworthy is known (read it).
    fn linkage(&self, customer: CustomerId, program: ProgramId) -> Option<Option<Linkage>> {
        let k = self.0.lock().ok()?;
        (k.customer == customer && !k.stale.contains(&program)).then(|| k.linkages.get(&program).cloned())
    }

    /// Once a change to `program` is under way, what was known of it is stale until its outcome is.
    fn forget(&self, program: ProgramId) {
        if let Ok(mut k) = self.0.lock() {
            k.stale.insert(program);
        }
    }

    /// What a change just committed is the linkage's state now.
    fn remember(&self, after: Linkage) {
        if let Ok(mut k) = self.0.lock() {
            if k.customer == after.customer_id {
                k.stale.remove(&after.partner_program_id);
                k.linkages.insert(after.partner_program_id, after);
            }
        }
    }
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

/// Expiry reminders armed or disarmed with a change (`reminder_items::rearm_items`): the program's reminder
/// days and the org's zone come from the catalog the request has already read (cached).
async fn reminder_items(
    state: &AppState,
    org: OrgId,
    before: Option<&Linkage>,
    after: &Linkage,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    if before.and_then(crate::domain::reminders::target) == crate::domain::reminders::target(after) {
        return Ok(Vec::new());
    }
    let catalog = state.catalog(org).await?;
    let Some(program) = catalog.partner_program_by_id(after.partner_program_id) else { return Ok(Vec::new()) };
    crate::storage::reminder_items::rearm_items(
        state.store.table(),
        before,
        after,
        program,
        catalog.zone(),
        state.now(),
        state.config.due_shards,
    )
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
