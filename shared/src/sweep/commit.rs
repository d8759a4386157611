//! One due linkage's change (docs/architecture.md#the-sweep): its plan (`expiry_rules::plan`) and
//! any backup membership, written as one transaction conditioned on the version the due index
//! showed, so a linkage another writer changed meanwhile is left to that writer.

use super::{Outcome, Run};
use crate::domain::catalog::OrgCatalog;
use crate::domain::expiry_rules::{self, Plan, SweepAction};
use crate::domain::model::activity_for;
use crate::domain::model::EventName;
use crate::domain::model::*;
use crate::storage::keys;
use crate::storage::outbox;
use crate::storage::records::{from_item, to_item, ActivityRecord, Item, LinkageRecord, SubscriptionRecord};
use crate::storage::reminder_items::rearm_items;
use crate::storage::store::{tx, StoreError, TransactError};
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};

/// A member's membership in its expiring program's backup, with what was read to decide it.
struct BackupMembership {
    program: PartnerProgram,
    linkage: Linkage,
    expected_version: Option<u64>,
    /// The backup linkage as read (its history record's `from`).
    existing: Option<Linkage>,
    customer: Customer,
}

/// Everything one change writes.
struct Change<'a> {
    program: &'a PartnerProgram,
    before: &'a Linkage,
    plan: &'a Plan,
    /// As the events name the customer.
    customer: &'a Customer,
    backup: Option<&'a BackupMembership>,
    tz: &'a crate::domain::zone::Zone,
}

impl Run<'_> {
    /// A due linkage from the index: what is due for it now, written.
    pub(super) async fn process_linkage(&self, item: Item) -> Outcome {
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
            let (org, program) = (linkage.org_id, linkage.partner_program_id);
            tracing::error!(org, program, "due linkage of an unknown partner program");
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
    pub(super) async fn commit(
        &self,
        catalog: &OrgCatalog,
        program: &PartnerProgram,
        before: &Linkage,
        plan: Plan,
    ) -> Outcome {
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
        let tz = catalog.zone();
        let change = Change { program, before, plan: &plan, customer: &customer, backup: backup.as_ref(), tz };
        let items = match self.transaction_items(&change) {
            Ok(items) => items,
            Err(e) => {
                tracing::error!(error = %e, "could not build the sweep transaction");
                return Outcome::Failed;
            }
        };
        let result = self.state.store.transact(items).await;
        self.committed(result, &plan, backup.is_some())
    }

    /// What the transaction's result means for the item, tallying a committed change.
    fn committed(&self, result: Result<(), TransactError>, plan: &Plan, with_backup: bool) -> Outcome {
        match result {
            Ok(()) => {
                self.tally(|t| {
                    t.changed += 1;
                    for s in &plan.steps {
                        *t.actions.entry(s.action.as_str().to_string()).or_default() += 1;
                    }
                    if with_backup {
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

    /// The transaction: the linkage put on the version read, then per step its activity and its
    /// event, the freed membership-id claims, the subscription guard, and the backup membership.
    fn transaction_items(&self, c: &Change<'_>) -> Result<Vec<TransactWriteItem>, StoreError> {
        let table = self.state.store.table();
        let shards = self.state.config.due_shards;
        let (org, before) = (c.before.org_id, c.before);
        let after = to_item(&LinkageRecord::new(c.plan.after.clone(), shards))?;
        let mut items = vec![tx::put_versioned(table, after, Some(before.version))?];
        let mut from = before;
        for (i, step) in c.plan.steps.iter().enumerate() {
            let mut activity = activity_for(Some(from), &step.after, step.activity, step.at);
            activity.step = u32::try_from(i).unwrap_or(u32::MAX);
            from = &step.after;
            items.push(tx::put_new(table, to_item(&ActivityRecord::new(activity))?)?);
            let kind = step.action.update_type();
            let event = outbox::event(step.event, kind, org, c.customer, c.program, &step.after, self.now, c.tz);
            items.push(tx::put_new(table, to_item(&event)?)?);
        }
        for id in &c.plan.released_membership_ids {
            items.push(tx::delete(table, &keys::membership_id(org, before.partner_program_id, id))?);
        }
        if c.plan.releases_subscription {
            let guard = keys::subscription_guard(org, before.customer_id);
            match c.backup.filter(|b| b.linkage.holds_subscription) {
                // One item, one operation per transaction: the guard is handed over, not deleted and re-put.
                Some(b) => {
                    items.push(tx::put(table, to_item(&SubscriptionRecord::new(org, before.customer_id, &b.program))?)?)
                }
                None => items.push(tx::delete(table, &guard)?),
            }
        }
        if let Some(b) = c.backup {
            items.extend(self.backup_items(b, c)?);
        }
        // Expiry reminders: re-armed or disarmed with the expiry each linkage now has.
        items.extend(rearm_items(table, Some(before), &c.plan.after, c.program, c.tz, self.now, shards)?);
        if let Some(b) = c.backup {
            items.extend(rearm_items(table, b.existing.as_ref(), &b.linkage, &b.program, c.tz, self.now, shards)?);
        }
        Ok(items)
    }

    /// The backup membership's part of the transaction: its linkage (new, or on the version read),
    /// its activity and event, and the check that the customer is still enrolled.
    fn backup_items(&self, b: &BackupMembership, c: &Change<'_>) -> Result<Vec<TransactWriteItem>, StoreError> {
        let table = self.state.store.table();
        let (org, kind) = (c.before.org_id, ActivityType::BackupSupplementaryMembershipStarted);
        let linkage = to_item(&LinkageRecord::new(b.linkage.clone(), self.state.config.due_shards))?;
        let start = b.linkage.membership_start_date;
        let activity = ActivityRecord::new(activity_for(b.existing.as_ref(), &b.linkage, kind, start));
        let event =
            outbox::event(EventName::Linked, kind.as_str(), org, c.customer, &b.program, &b.linkage, self.now, c.tz);
        Ok(vec![
            tx::put_versioned(table, linkage, b.expected_version)?,
            tx::put_new(table, to_item(&activity)?)?,
            tx::put_new(table, to_item(&event)?)?,
            tx::check_enrolled(table, org, c.before.customer_id, b.program.loyalty_program_id)?,
        ])
    }

    /// The membership a member of an expiring program gets in the backup program `backup_name`
    /// at the expiry instant `at` (`expiry_rules::backup_linkage`), after reading the customer and
    /// its linkage there; none when the backup program no longer exists or the rule gives none.
    async fn backup_membership(
        &self,
        catalog: &OrgCatalog,
        backup_name: &str,
        member: &Linkage,
        at: DateTime<Utc>,
    ) -> Result<Option<BackupMembership>, StoreError> {
        let Some(backup) = catalog.partner_program(backup_name) else {
            let org = member.org_id;
            tracing::warn!(org, "backup partner program no longer exists; members expire without migration");
            return Ok(None);
        };
        let (org, cid) = (member.org_id, member.customer_id);
        let (customer, existing) = futures::try_join!(
            self.state.store.customer(org, cid),
            self.state.store.linkage(org, cid, backup.partner_program_id)
        )?;
        self.tally(|t| t.items_read += u64::from(customer.is_some()) + u64::from(existing.is_some()));
        let Some(customer) = customer else { return Ok(None) };
        let rule =
            expiry_rules::backup_linkage(member, backup, existing.as_ref(), &customer, &catalog.org, at, self.now);
        Ok(rule.map(|linkage| BackupMembership {
            program: backup.clone(),
            linkage,
            expected_version: existing.as_ref().map(|l| l.version),
            existing,
            customer,
        }))
    }
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

    #[test]
    fn customer_stub_matches_the_model() {
        assert_eq!(customer_stub(42, Utc::now()).map(|c| c.customer_id), Some(42));
    }
}
