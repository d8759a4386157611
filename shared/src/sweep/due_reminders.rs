//! Expiry reminders in the sweep (rules in `domain::reminders`, items in `storage::reminder_items`):
//! a due reminder is sent by one conditional transaction, so no rerun or concurrent run sends it
//! twice; one that no longer applies is deleted without an event. The preview uses `describe`.

use super::{Outcome, Run};
use crate::domain::catalog::OrgCatalog;
use crate::domain::reminders::ReminderKind;
use crate::storage::records::{from_item, Item};
use crate::storage::reminder_items::{self as items, ReminderRecord, SEND_CHECK, SEND_TAKE};
use crate::storage::store::TransactError;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The summary's action for reminders deleted unsent because they no longer apply.
pub const CANCELLED: &str = "EXPIRY_REMINDER_CANCELLED";

impl Run<'_> {
    /// One due reminder: sent, cancelled, or left for the next run.
    pub(super) async fn process_reminder(&self, item: Item) -> Outcome {
        let record = match from_item::<ReminderRecord>(item) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "unreadable reminder in the due index");
                return Outcome::Failed;
            }
        };
        let catalog = match self.catalog(record.org_id).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, org = record.org_id, "catalog read failed");
                return Outcome::Failed;
            }
        };
        if !self.claim_item() {
            return Outcome::NotStarted;
        }
        let program = catalog.partner_program_by_id(record.partner_program_id);
        let applies = program.filter(|p| {
            p.expiry_reminder_days.contains(&record.days_before)
                && !p.is_expired_at(self.now)
                && record.expires_at > self.now
        });
        let (Some(program), Some(kind)) = (applies, record.reminder_kind()) else {
            return self.cancel_reminder(&record).await;
        };
        let table = self.state.store.table();
        let tx = match items::send_items(table, &record, kind, program, catalog.zone(), self.now) {
            Ok(tx) => tx,
            Err(e) => {
                tracing::error!(error = %e, "could not build the reminder transaction");
                return Outcome::Failed;
            }
        };
        match self.state.store.transact(tx).await {
            Ok(()) => {
                self.tally(|t| {
                    t.changed += 1;
                    t.reminders_sent += 1;
                    *t.actions.entry(kind.action().to_string()).or_default() += 1;
                });
                Outcome::Changed
            }
            // Another run sent or cancelled it first.
            Err(e @ TransactError::Cancelled { .. }) if e.condition_failed_at(SEND_TAKE) => Outcome::Skipped,
            // The linkage no longer has the expiry this reminder announces.
            Err(e @ TransactError::Cancelled { .. }) if e.condition_failed_at(SEND_CHECK) => {
                self.cancel_reminder(&record).await
            }
            Err(e @ TransactError::Cancelled { .. }) => {
                tracing::info!(error = %e, "reminder met a transaction in progress; the next run retries it");
                Outcome::Failed
            }
            Err(TransactError::Store(e)) => {
                tracing::error!(error = %e, "reminder transaction failed");
                Outcome::Failed
            }
        }
    }

    /// Deletes a reminder that no longer applies (if it is still the one read).
    async fn cancel_reminder(&self, record: &ReminderRecord) -> Outcome {
        let item = match items::cancel_item(self.state.store.table(), record) {
            Ok(i) => i,
            Err(e) => {
                tracing::error!(error = %e, "could not build the reminder delete");
                return Outcome::Failed;
            }
        };
        match self.state.store.transact(vec![item]).await {
            Ok(()) => {
                self.tally(|t| *t.actions.entry(CANCELLED.to_string()).or_default() += 1);
                Outcome::Nothing
            }
            Err(e @ TransactError::Cancelled { .. }) if e.condition_failed_at(0) => Outcome::Skipped,
            Err(e) => {
                tracing::warn!(error = %e, "could not delete a reminder that no longer applies");
                Outcome::Failed
            }
        }
    }
}

/// A due reminder as the expiry preview lists it (`None` when it will not be sent by `until`
/// because its program no longer reminds on that day or the expiry comes first).
pub fn describe(
    item: Item,
    catalog: &OrgCatalog,
    until: DateTime<Utc>,
    actions: &mut BTreeMap<&'static str, u64>,
) -> Option<Value> {
    let record = from_item::<ReminderRecord>(item).ok()?;
    let kind = record.reminder_kind()?;
    let program = catalog.partner_program_by_id(record.partner_program_id)?;
    if !program.expiry_reminder_days.contains(&record.days_before) || record.due_at > until {
        return None;
    }
    *actions.entry(kind.action()).or_default() += 1;
    Some(crate::http::wire::without_nulls(json!({
        "customerId": record.customer_id,
        "partnerProgramId": program.partner_program_id,
        "partnerProgramName": program.partner_program_name,
        "partnerProgramType": program.partner_program_type,
        "partnerTierName": if kind == ReminderKind::TierExpiry { record.tier_name.clone() } else { None },
        "dueAt": crate::domain::dates::format_utc(record.due_at),
        "actions": [items::preview_step(&record, kind, catalog.zone())],
    })))
}
