//! The scheduled tier-expiry sweep (PRODUCT.md §6, DESIGN.md pattern 10). It finds due work through
//! the sparse, write-sharded due index only — day by day from the oldest unfinished day (a watermark
//! item) up to now, shard by shard, never a Scan — so its cost follows the work due, not the table.
//!
//! Each due linkage is committed as one transaction (linkage put conditioned on the version the
//! index item showed + one activity and one outbox event per transition, see `expiry_rules`), so
//! the index item is the only read per change. A linkage changed since it was read fails the
//! condition and is counted as skipped: the other writer's state wins and the next run re-reads it
//! if it is still due. Re-runs, concurrent runs and runs killed half-way therefore change nothing
//! twice. A program's own expiry (its configuration item carries due keys) fans out to every member
//! through the ProgramMembers index, one transaction per member, and leaves the index only when all
//! are done. The run stops starting new work at its deadline minus a margin and reports a summary.

use crate::domain::dates::{add_period, format_utc, key_time};
use crate::domain::expiry_rules::{self, Plan, SweepAction};
use crate::domain::model::*;
use crate::state::{AppState, OrgCatalog};
use crate::storage::keys::{self, DUE_INDEX, PROGRAM_MEMBERS_INDEX};
use crate::storage::linkage_write::activity_for;
use crate::storage::outbox::{self, EventName};
use crate::storage::records::{
    from_item, to_item, ActivityRecord, Item, LinkageRecord, PartnerProgramRecord, SubscriptionRecord,
};
use crate::storage::store::{tx, StoreError, TransactError};
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnConsumedCapacity, TransactWriteItem};
use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, Utc};
use futures::future::BoxFuture;
use futures::{stream, StreamExt};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// Expiry reminders (issue 13): sent from the due index like any other due work.
pub mod reminders;

/// Sweep settings, read once per container from the environment.
#[derive(Debug, Clone)]
pub struct SweepSettings {
    /// Days looked back on a table that has no watermark yet (SWEEP_LOOKBACK_DAYS, default 30).
    pub lookback_days: u32,
    /// Due-index items per Query page (SWEEP_PAGE_SIZE, default 100).
    pub page_size: i32,
    /// Changes in flight at once (SWEEP_CONCURRENCY, default 16).
    pub concurrency: usize,
    /// No new work starts this close to the deadline (SWEEP_DEADLINE_MARGIN_SECONDS, default 10).
    pub deadline_margin: Duration,
}

impl Default for SweepSettings {
    fn default() -> Self {
        SweepSettings { lookback_days: 30, page_size: 100, concurrency: 16, deadline_margin: Duration::from_secs(10) }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid sweep configuration: {}", .0.join("; "))]
pub struct SweepSettingsError(pub Vec<String>);

impl SweepSettings {
    pub fn from_env() -> Result<Self, SweepSettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SweepSettingsError> {
        let mut problems = Vec::new();
        let mut number = |name: &str, default: u64, min: u64, max: u64| {
            crate::config::parse_number(&lookup, name, default, min, max, &mut problems)
        };
        let d = SweepSettings::default();
        let lookback_days = number("SWEEP_LOOKBACK_DAYS", u64::from(d.lookback_days), 0, 3660) as u32;
        let page_size = number("SWEEP_PAGE_SIZE", d.page_size as u64, 1, 1000) as i32;
        let concurrency = number("SWEEP_CONCURRENCY", d.concurrency as u64, 1, 256) as usize;
        let margin = number("SWEEP_DEADLINE_MARGIN_SECONDS", d.deadline_margin.as_secs(), 0, 600);
        if problems.is_empty() {
            Ok(SweepSettings { lookback_days, page_size, concurrency, deadline_margin: Duration::from_secs(margin) })
        } else {
            Err(SweepSettingsError(problems))
        }
    }
}

/// Called with the linkage as read, after it was found due and before its change is written:
/// a seam for tests that drive a concurrent writer into exactly that window.
pub type BeforeWrite = Arc<dyn Fn(Linkage) -> BoxFuture<'static, ()> + Send + Sync>;

/// Limits of one run.
#[derive(Clone, Default)]
pub struct SweepOptions {
    /// The invocation's deadline; no new work starts after `deadline - settings.deadline_margin`.
    pub deadline: Option<Instant>,
    /// Due items acted on at most (a local run's limit, and how tests stop a run part-way).
    pub max_items: Option<u64>,
    pub before_write: Option<BeforeWrite>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum StopReason {
    /// Every due item up to now was looked at.
    #[default]
    Completed,
    Deadline,
    MaxItems,
    /// A due-index query failed; the next run carries on.
    StorageError,
}

/// The JSON result of a run.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SweepSummary {
    pub now: String,
    /// Transactions committed (one per linkage changed).
    pub changed: u64,
    /// Due items left alone because they changed since they were read (another writer won).
    pub skipped: u64,
    /// Due items that could not be processed (storage failure, unreadable item); retried next run.
    pub failed: u64,
    /// Transitions applied, by action.
    pub actions: BTreeMap<String, u64>,
    /// Programs whose expiry was carried to every member.
    pub programs_expired: u64,
    /// Items returned by every read of the run (index pages, watermark, catalogs, member reads).
    pub items_read: u64,
    /// Read capacity DynamoDB reported for the run's queries and reads.
    pub read_capacity_units: f64,
    pub queries: u64,
    pub first_day: String,
    pub last_day: String,
    /// The oldest day the next run starts from.
    pub watermark: String,
    pub backlog_remaining: bool,
    pub stopped_by: StopReason,
    pub elapsed_ms: u64,
}

/// What became of one due item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Changed,
    /// Nothing to do (an already expired member of an expiring program).
    Nothing,
    Skipped,
    Failed,
    /// The run stopped before acting on it.
    NotStarted,
    /// Not settled, but already accounted for (an expiring program some of whose members were skipped).
    Unsettled,
}

impl Outcome {
    /// The item is settled: a later query of its partition will not see it again.
    fn settled(self) -> bool {
        matches!(self, Outcome::Changed | Outcome::Nothing)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WatermarkRecord {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity: String,
    day: String,
}

/// Runs the sweep once, up to the state's "now".
pub async fn run(state: &AppState, settings: &SweepSettings, options: SweepOptions) -> SweepSummary {
    let started = Instant::now();
    let now = state.now();
    let run = Run {
        state,
        settings,
        options,
        now,
        upper: due_sk_upper(now),
        forward: rand::random::<bool>(),
        items_started: AtomicU64::new(0),
        stop: Mutex::new(None),
        tally: Mutex::new(SweepSummary { now: format_utc(now), ..Default::default() }),
        orgs_seen: Mutex::new(HashSet::new()),
    };
    run.sweep().await;
    let mut summary = run.tally.lock().map(|t| t.clone()).unwrap_or_default();
    summary.stopped_by = run.stop_reason().unwrap_or_default();
    // Failed items stay due, so they are backlog too; skipped ones were settled by another writer.
    summary.backlog_remaining = summary.stopped_by != StopReason::Completed || summary.failed > 0;
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    tracing::info!(
        changed = summary.changed,
        skipped = summary.skipped,
        failed = summary.failed,
        items_read = summary.items_read,
        stopped_by = ?summary.stopped_by,
        elapsed_ms = summary.elapsed_ms,
        "tier-expiry sweep finished"
    );
    summary
}

/// The Lambda entry point: an EventBridge scheduled event (its content is not needed) in, the
/// summary out. A run cut short by storage errors is reported as a failed invocation.
pub async fn handle_scheduled(
    state: &AppState,
    settings: &SweepSettings,
    event: lambda_runtime::LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, lambda_runtime::Error> {
    let remaining = event.context.deadline().duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO);
    let options = SweepOptions { deadline: Some(Instant::now() + remaining), ..Default::default() };
    tracing::info!(
        scheduled_at = event.payload.get("time").and_then(|t| t.as_str()).unwrap_or(""),
        "tier-expiry sweep started"
    );
    let summary = run(state, settings, options).await;
    if summary.stopped_by == StopReason::StorageError {
        return Err(format!(
            "sweep stopped by storage errors after {} changes; the next run carries on",
            summary.changed
        )
        .into());
    }
    Ok(serde_json::to_value(&summary)?)
}

/// The oldest due-index day that may hold unfinished work, and the items read to learn it.
pub async fn first_unfinished_day(
    state: &AppState,
    settings: &SweepSettings,
    today: NaiveDate,
) -> Result<(NaiveDate, u64), StoreError> {
    let stored: Option<WatermarkRecord> = state.store.get(&keys::sweep_watermark()).await?;
    let lookback = today - ChronoDuration::days(i64::from(settings.lookback_days));
    Ok(match stored.and_then(|w| NaiveDate::parse_from_str(&w.day, "%Y-%m-%d").ok()) {
        Some(day) => (day.min(today), 1),
        None => (lookback, 0),
    })
}

/// Exclusive upper bound of due-index sort keys due at or before `now`.
pub fn due_sk_upper(now: DateTime<Utc>) -> String {
    // Sort keys are `{key_time}#...`; '$' sorts right after '#', so everything due at `now` is below.
    format!("{}$", key_time(now))
}

pub fn day_string(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// One page of a due-index partition up to `upper`.
pub struct DuePage {
    pub items: Vec<Item>,
    pub last_key: Option<Item>,
    pub capacity: f64,
}

pub async fn query_due_page(
    state: &AppState,
    due_pk: &str,
    upper: &str,
    limit: i32,
    start: Option<Item>,
    filter_org: Option<OrgId>,
    forward: bool,
) -> Result<DuePage, StoreError> {
    let mut q = state
        .store
        .client()
        .query()
        .table_name(state.store.table())
        .index_name(DUE_INDEX)
        .key_condition_expression("DUE_PK = :pk AND DUE_SK < :upper")
        .expression_attribute_values(":pk", AttributeValue::S(due_pk.to_string()))
        .expression_attribute_values(":upper", AttributeValue::S(upper.to_string()))
        .limit(limit)
        .scan_index_forward(forward)
        .set_exclusive_start_key(start)
        .return_consumed_capacity(ReturnConsumedCapacity::Total);
    if let Some(org) = filter_org {
        // Linkages carry orgId; program items only their ORG# partition key.
        q = q
            .filter_expression("orgId = :org OR PK = :orgpk")
            .expression_attribute_values(":org", AttributeValue::N(org.to_string()))
            .expression_attribute_values(":orgpk", AttributeValue::S(keys::org_pk(org)));
    }
    let out = q.send().await.map_err(|e| service_error("Query", e))?;
    Ok(DuePage {
        capacity: out.consumed_capacity.as_ref().and_then(|c| c.capacity_units).unwrap_or(0.0),
        last_key: out.last_evaluated_key.filter(|k| !k.is_empty()),
        items: out.items.unwrap_or_default(),
    })
}

fn service_error(operation: &'static str, e: impl std::error::Error + 'static) -> StoreError {
    StoreError::Service { operation, message: DisplayErrorContext(&e).to_string(), throttled: false }
}

struct Run<'a> {
    state: &'a AppState,
    settings: &'a SweepSettings,
    options: SweepOptions,
    now: DateTime<Utc>,
    upper: String,
    /// Direction through each partition, drawn per run: two overlapping runs mostly meet in the
    /// middle of a partition instead of contending for the same items all the way.
    forward: bool,
    items_started: AtomicU64,
    stop: Mutex<Option<StopReason>>,
    tally: Mutex<SweepSummary>,
    orgs_seen: Mutex<HashSet<OrgId>>,
}

impl Run<'_> {
    fn tally(&self, f: impl FnOnce(&mut SweepSummary)) {
        if let Ok(mut t) = self.tally.lock() {
            f(&mut t);
        }
    }

    fn stop_reason(&self) -> Option<StopReason> {
        self.stop.lock().ok().and_then(|s| *s)
    }

    fn set_stop(&self, reason: StopReason) {
        if let Ok(mut s) = self.stop.lock() {
            s.get_or_insert(reason);
        }
    }

    /// True once the run must start no new work (deadline near, or stopped for another reason).
    fn stopping(&self) -> bool {
        if self.stop_reason().is_some() {
            return true;
        }
        if let Some(deadline) = self.options.deadline {
            if Instant::now() + self.settings.deadline_margin >= deadline {
                self.set_stop(StopReason::Deadline);
                return true;
            }
        }
        false
    }

    /// Claims one unit of the run's item budget; false when the run must stop instead.
    fn claim_item(&self) -> bool {
        if self.stopping() {
            return false;
        }
        let Some(max) = self.options.max_items else {
            self.items_started.fetch_add(1, Ordering::SeqCst);
            return true;
        };
        let claimed =
            self.items_started.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < max).then_some(n + 1)).is_ok();
        if !claimed {
            self.set_stop(StopReason::MaxItems);
        }
        claimed
    }

    async fn sweep(&self) {
        let today = self.now.date_naive();
        let (first, read) = match first_unfinished_day(self.state, self.settings, today).await {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "sweep watermark read failed");
                self.set_stop(StopReason::StorageError);
                return;
            }
        };
        self.tally(|t| {
            t.items_read += read;
            t.first_day = day_string(first);
            t.watermark = day_string(first);
        });
        let shards = self.state.config.due_shards.max(1);
        // Concurrent runs start on different shards, so they mostly work on different items.
        let offset = rand::random::<u32>() % shards;
        let mut watermark = first;
        let mut finished_so_far = true;
        let mut day = first;
        while day <= today {
            let day_str = day_string(day);
            self.tally(|t| t.last_day = day_str.clone());
            let mut day_finished = true;
            for i in 0..shards {
                let shard = (offset + i) % shards;
                day_finished &= self.sweep_partition(&keys::due_pk(&day_str, shard)).await;
                if self.stopping() {
                    break;
                }
            }
            if self.stopping() {
                break;
            }
            // A past day is finished when every item in it was settled: nothing can fall due there
            // any more (writers only add due dates after their own now).
            finished_so_far &= day_finished && day < today;
            if finished_so_far {
                watermark = day + ChronoDuration::days(1);
            }
            day += ChronoDuration::days(1);
        }
        if watermark > first {
            self.advance_watermark(watermark).await;
        }
    }

    async fn advance_watermark(&self, day: NaiveDate) {
        let day = day_string(day);
        let k = keys::sweep_watermark();
        let res = self
            .state
            .store
            .client()
            .update_item()
            .table_name(self.state.store.table())
            .set_key(Some(k.to_item()))
            .update_expression("SET #day = :day, entity = :entity")
            .condition_expression("attribute_not_exists(#day) OR #day < :day")
            .expression_attribute_names("#day", "day")
            .expression_attribute_values(":day", AttributeValue::S(day.clone()))
            .expression_attribute_values(":entity", AttributeValue::S("SWEEP_WATERMARK".into()))
            .send()
            .await;
        match res {
            Ok(_) => self.tally(|t| t.watermark = day),
            // A concurrent run moved it further already.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
            Err(e) => tracing::warn!(error = %DisplayErrorContext(&e), "sweep watermark update failed"),
        }
    }

    /// Works through one due-index partition; true when every item found in it was settled.
    async fn sweep_partition(&self, due_pk: &str) -> bool {
        let mut start = None;
        let mut settled = true;
        loop {
            if self.stopping() {
                return false;
            }
            let page = match query_due_page(
                self.state,
                due_pk,
                &self.upper,
                self.settings.page_size,
                start,
                None,
                self.forward,
            )
            .await
            {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, partition = due_pk, "due index query failed");
                    self.tally(|t| t.failed += 1);
                    self.set_stop(StopReason::StorageError);
                    return false;
                }
            };
            self.tally(|t| {
                t.queries += 1;
                t.items_read += page.items.len() as u64;
                t.read_capacity_units += page.capacity;
            });
            let outcomes: Vec<Outcome> = stream::iter(page.items)
                .map(|item| self.process_item(item))
                .buffer_unordered(self.settings.concurrency)
                .collect()
                .await;
            settled &= outcomes.iter().all(|o| o.settled());
            match page.last_key {
                Some(k) => start = Some(k),
                None => return settled,
            }
        }
    }

    async fn process_item(&self, item: Item) -> Outcome {
        let entity = item.get("entity").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        let outcome = match entity.as_str() {
            "LINKAGE" => self.process_linkage(item).await,
            "PARTNER_PROGRAM" => self.process_program(item).await,
            crate::storage::reminders::ENTITY => self.process_reminder(item).await, // issue 13
            other => {
                tracing::error!(entity = other, "unexpected item in the due index");
                Outcome::Failed
            }
        };
        match outcome {
            Outcome::Skipped => self.tally(|t| t.skipped += 1),
            Outcome::Failed => self.tally(|t| t.failed += 1),
            _ => {}
        }
        outcome
    }

    async fn catalog(&self, org: OrgId) -> Result<Arc<OrgCatalog>, StoreError> {
        let catalog = self.state.catalog(org).await?;
        let first_time = self.orgs_seen.lock().map(|mut s| s.insert(org)).unwrap_or(false);
        if first_time {
            // Counted once per org and run (the container cache may have saved even that).
            let n = 1 + catalog.loyalty_programs.len() + catalog.partner_programs.len();
            self.tally(|t| t.items_read += n as u64);
        }
        Ok(catalog)
    }

    async fn process_linkage(&self, item: Item) -> Outcome {
        let linkage = match from_item::<LinkageRecord>(item) {
            Ok(r) => r.linkage,
            Err(e) => {
                tracing::error!(error = %e, "unreadable linkage in the due index");
                return Outcome::Failed;
            }
        };
        let catalog = match self.catalog(linkage.org_id).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, org = linkage.org_id, "catalog read failed");
                return Outcome::Failed;
            }
        };
        let Some(program) = catalog.partner_program_by_id(linkage.partner_program_id) else {
            tracing::error!(
                org = linkage.org_id,
                program = linkage.partner_program_id,
                "due linkage of an unknown partner program"
            );
            return Outcome::Failed;
        };
        let plan = expiry_rules::plan(&linkage, program, self.now);
        if plan.is_empty() {
            // The index showed an older state (GSIs are eventually consistent): someone moved it on.
            return Outcome::Skipped;
        }
        if !self.claim_item() {
            return Outcome::NotStarted;
        }
        self.commit(&catalog, program, &linkage, plan).await
    }

    /// Writes one linkage's plan (and any backup membership) as one transaction.
    async fn commit(&self, catalog: &OrgCatalog, program: &PartnerProgram, before: &Linkage, plan: Plan) -> Outcome {
        if let Some(hook) = &self.options.before_write {
            hook(before.clone()).await;
        }
        let backup = match (&plan.migrate_to_backup, plan.early_expiry_at()) {
            (Some(name), Some(at)) => match self.backup_membership(catalog, name, before, at).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "backup membership read failed");
                    return Outcome::Failed;
                }
            },
            _ => None,
        };
        let customer = match &backup {
            Some(b) => b.customer.clone(),
            None => match customer_stub(before.customer_id, self.now) {
                Some(c) => c,
                None => return Outcome::Failed,
            },
        };
        let items = match self.transaction_items(program, before, &plan, &customer, backup.as_ref(), catalog.org.tz()) {
            Ok(items) => items,
            Err(e) => {
                tracing::error!(error = %e, "could not build the sweep transaction");
                return Outcome::Failed;
            }
        };
        match self.state.store.transact(items).await {
            Ok(()) => {
                self.tally(|t| {
                    t.changed += 1;
                    for s in &plan.steps {
                        *t.actions.entry(s.action.as_str().to_string()).or_default() += 1;
                    }
                    if backup.is_some() {
                        *t.actions.entry(SweepAction::BackupMembershipStarted.as_str().to_string()).or_default() += 1;
                    }
                });
                Outcome::Changed
            }
            // A transaction in progress on the item decided nothing: the linkage is still due (or
            // was changed by this very transaction, its answer lost). Counted as failed, so the run
            // reports the backlog and the next run re-reads it, rather than as settled by another.
            Err(e @ TransactError::Cancelled { .. }) if e.is_conflict() && !e.condition_failed_at(0) => {
                tracing::info!(error = %e, "sweep change met a transaction in progress; the next run retries it");
                Outcome::Failed
            }
            Err(e @ TransactError::Cancelled { .. }) => {
                if !e.condition_failed_at(0) {
                    // The backup membership changed meanwhile (or enrolment did); the next run retries.
                    tracing::info!(error = %e, "sweep change refused by a condition other than the version");
                }
                Outcome::Skipped
            }
            Err(TransactError::Store(e)) => {
                tracing::error!(error = %e, "sweep transaction failed");
                Outcome::Failed
            }
        }
    }

    fn transaction_items(
        &self,
        program: &PartnerProgram,
        before: &Linkage,
        plan: &Plan,
        customer: &Customer,
        backup: Option<&BackupMembership>,
        tz: chrono_tz::Tz,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let table = self.state.store.table();
        let shards = self.state.config.due_shards;
        let org = before.org_id;
        let mut items = vec![tx::put_versioned(
            table,
            to_item(&LinkageRecord::new(plan.after.clone(), shards))?,
            Some(before.version),
        )?];
        let mut from = before;
        for (i, step) in plan.steps.iter().enumerate() {
            let mut activity = activity_for(Some(from), &step.after, step.activity, step.at);
            activity.step = u32::try_from(i).unwrap_or(u32::MAX);
            from = &step.after;
            items.push(tx::put_new(table, to_item(&ActivityRecord::new(activity))?)?);
            let event =
                outbox::event(step.event, step.action.update_type(), org, customer, program, &step.after, self.now, tz);
            items.push(tx::put_new(table, to_item(&event)?)?);
        }
        for id in &plan.released_membership_ids {
            items.push(tx::delete(table, &keys::membership_id(org, before.partner_program_id, id))?);
        }
        if plan.releases_subscription {
            let guard = keys::subscription_guard(org, before.customer_id);
            match backup.filter(|b| b.linkage.holds_subscription) {
                // One item, one operation per transaction: the guard is handed over, not deleted and re-put.
                Some(b) => {
                    items.push(tx::put(table, to_item(&SubscriptionRecord::new(org, before.customer_id, &b.program))?)?)
                }
                None => items.push(tx::delete(table, &guard)?),
            }
        }
        if let Some(b) = backup {
            let kind = ActivityType::BackupSupplementaryMembershipStarted;
            items.push(tx::put_versioned(
                table,
                to_item(&LinkageRecord::new(b.linkage.clone(), shards))?,
                b.expected_version,
            )?);
            items.push(tx::put_new(
                table,
                to_item(&ActivityRecord::new(activity_for(
                    b.existing.as_ref(),
                    &b.linkage,
                    kind,
                    b.linkage.membership_start_date,
                )))?,
            )?);
            let event =
                outbox::event(EventName::Linked, kind.as_str(), org, customer, &b.program, &b.linkage, self.now, tz);
            items.push(tx::put_new(table, to_item(&event)?)?);
            items.push(tx::check_enrolled(table, org, before.customer_id, b.program.loyalty_program_id)?);
        }
        // Expiry reminders (issue 13): re-armed or disarmed with the expiry each linkage now has.
        use crate::storage::reminders::rearm_items;
        items.extend(rearm_items(table, Some(before), &plan.after, program, tz, self.now, shards)?);
        if let Some(b) = backup {
            items.extend(rearm_items(table, b.existing.as_ref(), &b.linkage, &b.program, tz, self.now, shards)?);
        }
        Ok(items)
    }

    /// The membership a member of an expiring program gets in its backup program, if any: a fresh
    /// period from the expiry instant `at` (as the preview says, however late the sweep runs),
    /// unless the customer is already linked there or not enrolled in its loyalty program, or that
    /// period is already over.
    async fn backup_membership(
        &self,
        catalog: &OrgCatalog,
        backup_name: &str,
        member: &Linkage,
        at: DateTime<Utc>,
    ) -> Result<Option<BackupMembership>, StoreError> {
        let Some(backup) = catalog.partner_program(backup_name) else {
            tracing::warn!(
                org = member.org_id,
                "backup partner program no longer exists; members expire without migration"
            );
            return Ok(None);
        };
        let (org, cid) = (member.org_id, member.customer_id);
        let (customer, existing) = futures::try_join!(
            self.state.store.customer(org, cid),
            self.state.store.linkage(org, cid, backup.partner_program_id)
        )?;
        self.tally(|t| t.items_read += u64::from(customer.is_some()) + u64::from(existing.is_some()));
        let Some(customer) = customer else { return Ok(None) };
        if backup.is_expired_at(at)
            || !customer.is_enrolled_in(backup.loyalty_program_id)
            || existing.as_ref().is_some_and(|l| l.linked)
        {
            return Ok(None);
        }
        let Some(period) = backup.period() else { return Ok(None) };
        let start = at;
        let mut end = add_period(start, period, catalog.org.tz());
        if let Some(exp) = backup.expiry_date {
            end = end.min(exp);
        }
        if end <= start || end <= self.now {
            return Ok(None);
        }
        // Built from an existing linkage (the backup one, else the member's) rather than a literal,
        // so fields the model gains later keep their meaning; every field that matters is set here.
        let mut linkage = existing.clone().unwrap_or_else(|| member.clone());
        linkage.partner_program_id = backup.partner_program_id;
        linkage.partner_program_name = backup.partner_program_name.clone();
        linkage.partner_program_type = backup.partner_program_type;
        linkage.partner_membership_id = None;
        let tier = if backup.tier_based { backup.lowest_tier() } else { None };
        linkage.tier_number = tier.map(|t| t.tier_number);
        linkage.tier_name = tier.map(|t| t.tier_name.clone());
        linkage.tier_expiry_date = None;
        linkage.membership_start_date = start;
        linkage.membership_end_date = Some(end);
        linkage.status = LinkageStatus::Active;
        linkage.linked = true;
        linkage.version = existing.as_ref().map_or(1, |l| l.version + 1);
        linkage.last_activity = ActivityType::BackupSupplementaryMembershipStarted;
        linkage.last_updated = start;
        linkage.grace_ends_at = None;
        linkage.pause = None;
        linkage.benefit_counters = Default::default();
        // Under the one-subscription rule the guard moves with the member to its backup membership.
        linkage.holds_subscription = member.holds_subscription
            && catalog.org.one_supplementary_per_customer
            && backup.partner_program_type == PartnerProgramType::Supplementary;
        if existing.is_none() {
            linkage.pending_relink = None;
        }
        Ok(Some(BackupMembership {
            program: backup.clone(),
            linkage,
            expected_version: existing.as_ref().map(|l| l.version),
            existing,
            customer,
        }))
    }

    /// A program's own expiry: every member, page by page through the ProgramMembers index.
    async fn process_program(&self, item: Item) -> Outcome {
        let record = match from_item::<PartnerProgramRecord>(item) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "unreadable partner program in the due index");
                return Outcome::Failed;
            }
        };
        let Some(org) = record.pk.strip_prefix("ORG#").and_then(|s| s.parse::<OrgId>().ok()) else {
            tracing::error!("partner program item without an org key");
            return Outcome::Failed;
        };
        let catalog = match self.catalog(org).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, org, "catalog read failed");
                return Outcome::Failed;
            }
        };
        let id = record.program.partner_program_id;
        let Some(program) = catalog.partner_program_by_id(id).filter(|p| p.is_expired_at(self.now)) else {
            // Its configuration changed since the index was read; its current due keys decide.
            return Outcome::Skipped;
        };
        let catalog: &OrgCatalog = &catalog;
        let members_pk = keys::program_member_keys(org, id, 0).0;
        let mut start = None;
        let mut settled = true;
        loop {
            if self.stopping() {
                return Outcome::NotStarted;
            }
            let page = match self.member_page(&members_pk, start).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, org, program = id, "program members read failed");
                    return Outcome::Failed;
                }
            };
            let outcomes: Vec<Outcome> = stream::iter(page.0)
                .map(|linkage| async move {
                    let plan = expiry_rules::plan(&linkage, program, self.now);
                    if plan.is_empty() {
                        return Outcome::Nothing;
                    }
                    if !self.claim_item() {
                        return Outcome::NotStarted;
                    }
                    let outcome = self.commit(catalog, program, &linkage, plan).await;
                    match outcome {
                        Outcome::Skipped => self.tally(|t| t.skipped += 1),
                        Outcome::Failed => self.tally(|t| t.failed += 1),
                        _ => {}
                    }
                    outcome
                })
                .buffer_unordered(self.settings.concurrency)
                .collect()
                .await;
            if outcomes.contains(&Outcome::NotStarted) {
                return Outcome::NotStarted;
            }
            settled &= outcomes.iter().all(|o| o.settled());
            match page.1 {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        if !settled {
            // Some member changed concurrently or failed: the program stays due; the next run
            // re-reads its members (those already expired need nothing).
            return Outcome::Unsettled;
        }
        self.finish_program(org, &record).await
    }

    /// Takes a fully expired program out of the due index (unless its configuration changed).
    async fn finish_program(&self, org: OrgId, record: &PartnerProgramRecord) -> Outcome {
        let Some(due_sk) = &record.due_sk else { return Outcome::Nothing };
        let res = self
            .state
            .store
            .client()
            .update_item()
            .table_name(self.state.store.table())
            .set_key(Some(keys::Key { pk: record.pk.clone(), sk: record.sk.clone() }.to_item()))
            .update_expression("REMOVE DUE_PK, DUE_SK")
            .condition_expression("DUE_SK = :sk")
            .expression_attribute_values(":sk", AttributeValue::S(due_sk.clone()))
            .send()
            .await;
        match res {
            Ok(_) => {
                self.tally(|t| t.programs_expired += 1);
                tracing::info!(
                    org,
                    program = record.program.partner_program_id,
                    "partner program expiry applied to every member"
                );
                Outcome::Changed
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                Outcome::Skipped
            }
            Err(e) => {
                tracing::error!(error = %DisplayErrorContext(&e), "could not take an expired program out of the due index");
                Outcome::Failed
            }
        }
    }

    /// One page of a program's members (keys from the KEYS_ONLY index, then the linkages themselves).
    async fn member_page(
        &self,
        members_pk: &str,
        start: Option<Item>,
    ) -> Result<(Vec<Linkage>, Option<Item>), StoreError> {
        let out = self
            .state
            .store
            .client()
            .query()
            .table_name(self.state.store.table())
            .index_name(PROGRAM_MEMBERS_INDEX)
            .key_condition_expression("PROG_PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(members_pk.to_string()))
            .limit(100)
            .set_exclusive_start_key(start)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| service_error("Query", e))?;
        let keys: Vec<Item> = out
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|i| {
                Some(HashMap::from([
                    ("PK".to_string(), i.get("PK")?.clone()),
                    ("SK".to_string(), i.get("SK")?.clone()),
                ]))
            })
            .collect();
        let capacity = out.consumed_capacity.and_then(|c| c.capacity_units).unwrap_or(0.0);
        self.tally(|t| {
            t.queries += 1;
            t.items_read += keys.len() as u64;
            t.read_capacity_units += capacity;
        });
        let items = self.batch_get(keys).await?;
        let linkages = items
            .into_iter()
            .map(|i| Ok(from_item::<LinkageRecord>(i)?.linkage))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((linkages, out.last_evaluated_key.filter(|k| !k.is_empty())))
    }

    async fn batch_get(&self, mut keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let table = self.state.store.table().to_string();
        let mut found = Vec::new();
        let mut attempts = 0u32;
        while !keys.is_empty() {
            let chunk: Vec<Item> = keys.drain(..keys.len().min(100)).collect();
            let request = KeysAndAttributes::builder()
                .set_keys(Some(chunk))
                .consistent_read(true)
                .build()
                .map_err(|e| service_error("BatchGetItem", e))?;
            let out = self
                .state
                .store
                .client()
                .batch_get_item()
                .request_items(&table, request)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| service_error("BatchGetItem", e))?;
            let got = out.responses.and_then(|mut r| r.remove(&table)).unwrap_or_default();
            let capacity: f64 = out.consumed_capacity.unwrap_or_default().iter().filter_map(|c| c.capacity_units).sum();
            self.tally(|t| {
                t.items_read += got.len() as u64;
                t.read_capacity_units += capacity;
            });
            found.extend(got);
            if let Some(unprocessed) = out.unprocessed_keys.and_then(|mut u| u.remove(&table)) {
                if !unprocessed.keys.is_empty() {
                    attempts += 1;
                    if attempts > 8 {
                        return Err(StoreError::Service {
                            operation: "BatchGetItem",
                            message: "unprocessed keys after retries".into(),
                            throttled: true,
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(20 << attempts.min(6))).await;
                    keys.extend(unprocessed.keys);
                }
            }
        }
        Ok(found)
    }
}

struct BackupMembership {
    program: PartnerProgram,
    linkage: Linkage,
    expected_version: Option<u64>,
    /// The backup linkage as read (its history record's `from`).
    existing: Option<Linkage>,
    customer: Customer,
}

/// The customer as sweep events name it: by id only. Reading each profile for its identifiers
/// would double the reads per change; consumers resolve the id when they need more.
fn customer_stub(id: CustomerId, now: DateTime<Utc>) -> Option<Customer> {
    serde_json::from_value(serde_json::json!({"customerId": id, "createdAt": now}))
        .map_err(|e| tracing::error!(error = %e, "customer stub does not match the model"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::dates::key_day;

    #[test]
    fn upper_bound_includes_everything_due_at_now_and_nothing_later() {
        let now = DateTime::parse_from_rfc3339("2031-03-10T12:00:00Z").unwrap().with_timezone(&Utc);
        let upper = due_sk_upper(now);
        let (_, at_now) = keys::due_keys(now, 7, 99, 3, 8);
        let (_, later) = keys::due_keys(now + ChronoDuration::milliseconds(1), 7, 1, 3, 8);
        assert!(at_now < upper);
        assert!(later > upper);
    }

    #[test]
    fn settings_defaults_and_errors() {
        let s = SweepSettings::from_lookup(|_| None).unwrap();
        assert_eq!((s.lookback_days, s.page_size, s.concurrency), (30, 100, 16));
        let e = SweepSettings::from_lookup(|n| (n == "SWEEP_PAGE_SIZE").then(|| "0".into())).unwrap_err();
        assert!(e.to_string().contains("SWEEP_PAGE_SIZE"));
    }

    #[test]
    fn customer_stub_matches_the_model() {
        assert_eq!(customer_stub(42, Utc::now()).map(|c| c.customer_id), Some(42));
    }

    #[test]
    fn days_render_as_index_partitions() {
        let d = NaiveDate::from_ymd_opt(2031, 3, 9).unwrap();
        assert_eq!(day_string(d), key_day(d.and_hms_opt(0, 0, 0).unwrap().and_utc()));
    }
}
