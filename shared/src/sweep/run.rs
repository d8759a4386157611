//! One run of the sweep: its control (deadline, item budget, stop reason), what each due item
//! came to, and the tally it reports.

use super::due_index::due_sk_upper;
use super::SweepSettings;
use crate::domain::catalog::OrgCatalog;
use crate::domain::dates::format_utc;
use crate::domain::model::*;
use crate::state::AppState;
use crate::storage::records::Item;
use crate::storage::store::StoreError;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::{stream, Future, StreamExt};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    /// Due-index items read (each due item the run looked at).
    pub due: u64,
    /// Transactions committed (one per linkage changed).
    pub changed: u64,
    /// Due items left alone because they changed since they were read (another writer won).
    pub skipped: u64,
    /// Due items that could not be processed (storage failure, unreadable item); retried next run.
    pub failed: u64,
    /// Expiry reminders sent (counted in `changed` too).
    pub reminders_sent: u64,
    /// Age in seconds of the oldest due item read and not settled (failed, or left when the run
    /// stopped); 0 when there is none.
    pub lag_seconds: u64,
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
pub(super) enum Outcome {
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
    pub(super) fn settled(self) -> bool {
        matches!(self, Outcome::Changed | Outcome::Nothing)
    }
}

/// Runs the sweep once, up to the state's "now". `settings` are the state's (`Config::sweep`)
/// in a deployment; tests and the benchmark pass their own.
pub async fn run(state: &AppState, settings: &SweepSettings, options: SweepOptions) -> SweepSummary {
    let started = Instant::now();
    let now = state.now();
    // Its storage calls wait for their turn no later than the invocation's deadline.
    let context = std::sync::Arc::new(crate::storage::write_context::WriteContext::standalone(options.deadline));
    let state = &state.for_request(context);
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
        oldest_unsettled: Mutex::new(None),
    };
    run.walk_due_index().await;
    let mut summary = run.tally.lock().map(|t| t.clone()).unwrap_or_default();
    summary.stopped_by = run.stop_reason().unwrap_or_default();
    // Failed items stay due, so they are backlog too; skipped ones were settled by another writer.
    summary.backlog_remaining = summary.stopped_by != StopReason::Completed || summary.failed > 0;
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    if let Some(oldest) = run.oldest_unsettled.lock().ok().and_then(|o| *o) {
        summary.lag_seconds = u64::try_from((now - oldest).num_seconds()).unwrap_or(0);
    }
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
/// summary out, with the state's settings. A run cut short by storage errors is reported as a
/// failed invocation.
pub async fn handle_scheduled(
    state: &AppState,
    event: lambda_runtime::LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, lambda_runtime::Error> {
    let remaining = event.context.deadline().duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO);
    let options = SweepOptions { deadline: Some(Instant::now() + remaining), ..Default::default() };
    tracing::info!(
        scheduled_at = event.payload.get("time").and_then(|t| t.as_str()).unwrap_or(""),
        "tier-expiry sweep started"
    );
    let summary = run(state, &state.config.sweep, options).await;
    record_metrics(&summary);
    if summary.stopped_by == StopReason::StorageError {
        return Err(format!(
            "sweep stopped by storage errors after {} changes; the next run carries on",
            summary.changed
        )
        .into());
    }
    Ok(serde_json::to_value(&summary)?)
}

/// The run's figures as metrics (`crate::metrics`), flushed by the caller with the invocation's.
/// Gauges: each run sets every one, zeros included, so an alarm on them always has data.
pub fn record_metrics(summary: &SweepSummary) {
    let figures = [
        ("SweepLinkagesDue", summary.due),
        ("SweepLinkagesChanged", summary.changed),
        ("SweepLinkagesSkipped", summary.skipped),
        ("SweepLinkagesFailed", summary.failed),
        ("SweepRemindersSent", summary.reminders_sent),
        ("SweepLagSeconds", summary.lag_seconds),
        ("SweepDurationMs", summary.elapsed_ms),
    ];
    for (name, value) in figures {
        crate::metrics::gauge(name, value as f64);
    }
}

pub(super) struct Run<'a> {
    pub(super) state: &'a AppState,
    pub(super) settings: &'a SweepSettings,
    pub(super) options: SweepOptions,
    pub(super) now: DateTime<Utc>,
    pub(super) upper: String,
    /// Direction through each partition, drawn per run: two overlapping runs mostly meet in the
    /// middle of a partition instead of contending for the same items all the way.
    pub(super) forward: bool,
    pub(super) items_started: AtomicU64,
    pub(super) stop: Mutex<Option<StopReason>>,
    pub(super) tally: Mutex<SweepSummary>,
    pub(super) orgs_seen: Mutex<HashSet<OrgId>>,
    /// When the oldest due item read but not settled was due (the run's lag).
    pub(super) oldest_unsettled: Mutex<Option<DateTime<Utc>>>,
}

/// Run control: when to stop starting new work, and why.
impl Run<'_> {
    pub(super) fn stop_reason(&self) -> Option<StopReason> {
        self.stop.lock().ok().and_then(|s| *s)
    }

    pub(super) fn set_stop(&self, reason: StopReason) {
        if let Ok(mut s) = self.stop.lock() {
            s.get_or_insert(reason);
        }
    }

    /// True once the run must start no new work (deadline near, or stopped for another reason).
    pub(super) fn stopping(&self) -> bool {
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
    pub(super) fn claim_item(&self) -> bool {
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
}

/// The tally, and the work it counts.
impl Run<'_> {
    pub(super) fn tally(&self, f: impl FnOnce(&mut SweepSummary)) {
        if let Ok(mut t) = self.tally.lock() {
            f(&mut t);
        }
    }

    /// Counts an item left alone or failed: the one place the run's `skipped` and `failed` are kept.
    pub(super) fn count(&self, outcome: Outcome) -> Outcome {
        match outcome {
            Outcome::Skipped => self.tally(|t| t.skipped += 1),
            Outcome::Failed => self.tally(|t| t.failed += 1),
            _ => {}
        }
        outcome
    }

    /// Acts on each of `items`, `settings.concurrency` at a time, counting every outcome.
    pub(super) async fn each<T, F, Fut>(&self, items: Vec<T>, act: F) -> Vec<Outcome>
    where
        F: Fn(T) -> Fut,
        Fut: Future<Output = Outcome>,
    {
        stream::iter(items)
            .map(act)
            .buffer_unordered(self.settings.concurrency)
            .map(|outcome| self.count(outcome))
            .collect()
            .await
    }

    /// `process_item`, remembering when the item was due if it stays unsettled (the run's lag;
    /// a skipped item was settled by another writer).
    pub(super) async fn process_due_item(&self, item: Item) -> Outcome {
        let due = item
            .get("DUE_SK")
            .and_then(|v| v.as_s().ok())
            .and_then(|sk| DateTime::parse_from_rfc3339(sk.split('#').next().unwrap_or_default()).ok())
            .map(|t| t.with_timezone(&Utc));
        let outcome = self.process_item(item).await;
        if let (Some(due), false) = (due, outcome.settled() || outcome == Outcome::Skipped) {
            if let Ok(mut oldest) = self.oldest_unsettled.lock() {
                *oldest = Some(oldest.map_or(due, |o| o.min(due)));
            }
        }
        outcome
    }

    /// One due-index item: a linkage with a transition due, or a program whose own expiry is.
    pub(super) async fn process_item(&self, item: Item) -> Outcome {
        let entity = item.get("entity").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        match entity.as_str() {
            "LINKAGE" => self.process_linkage(item).await,
            "PARTNER_PROGRAM" => self.process_program(item).await,
            crate::storage::reminder_items::ENTITY => self.process_reminder(item).await,
            other => {
                tracing::error!(entity = other, "unexpected item in the due index");
                Outcome::Failed
            }
        }
    }

    /// The org's catalog, its items counted as read once per org and run (the container cache
    /// may have saved even that).
    pub(super) async fn catalog(&self, org: OrgId) -> Result<Arc<OrgCatalog>, StoreError> {
        let catalog = self.state.catalog(org).await?;
        let first_time = self.orgs_seen.lock().map(|mut s| s.insert(org)).unwrap_or(false);
        if first_time {
            let n = 1 + catalog.loyalty_programs.len() + catalog.partner_programs.len();
            self.tally(|t| t.items_read += n as u64);
        }
        Ok(catalog)
    }
}
