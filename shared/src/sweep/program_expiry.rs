//! A program's own expiry (docs/architecture.md#the-sweep): each member found through the
//! ProgramMembers index gets its expiry (and any backup membership) in its own transaction; the
//! program leaves the due index only once every member is settled, so a cut-short run resumes.

use super::{Outcome, Run};
use crate::domain::catalog::OrgCatalog;
use crate::domain::expiry_rules;
use crate::domain::model::*;
use crate::storage::keys::{self, Key};
use crate::storage::records::{from_item, Item, LinkageRecord, PartnerProgramRecord};
use crate::storage::store::StoreError;
use std::sync::Arc;

impl Run<'_> {
    /// A program in the due index: every member expired, then the program out of the index.
    pub(super) async fn process_program(&self, item: Item) -> Outcome {
        let (org, record, catalog) = match self.read_program(item).await {
            Ok(read) => read,
            Err(outcome) => return outcome,
        };
        let id = record.program.partner_program_id;
        let Some(program) = catalog.partner_program_by_id(id).filter(|p| p.is_expired_at(self.now)) else {
            // Its configuration changed since the index was read; its current due keys decide.
            return Outcome::Skipped;
        };
        match self.expire_members(org, &catalog, program).await {
            Outcome::Changed => self.finish_program(org, &record).await,
            other => other,
        }
    }

    /// The program's index item, its org and the org's catalog; `Failed` when unreadable.
    async fn read_program(&self, item: Item) -> Result<(OrgId, PartnerProgramRecord, Arc<OrgCatalog>), Outcome> {
        let record = from_item::<PartnerProgramRecord>(item).map_err(|e| {
            tracing::error!(error = %e, "unreadable partner program in the due index");
            Outcome::Failed
        })?;
        let Some(org) = record.pk.strip_prefix("ORG#").and_then(|s| s.parse::<OrgId>().ok()) else {
            tracing::error!("partner program item without an org key");
            return Err(Outcome::Failed);
        };
        let catalog = self.catalog(org).await.map_err(|e| {
            tracing::error!(error = %e, org, "catalog read failed");
            Outcome::Failed
        })?;
        Ok((org, record, catalog))
    }

    /// Every member's expiry, page by page through the ProgramMembers index: `Changed` when all
    /// are settled, `Unsettled` when some member was skipped or failed (the program stays due and
    /// the next run re-reads its members; those already expired need nothing), `NotStarted` or
    /// `Failed` when the run stopped or a read failed.
    async fn expire_members(&self, org: OrgId, catalog: &OrgCatalog, program: &PartnerProgram) -> Outcome {
        let members_pk = keys::program_member_keys(org, program.partner_program_id, 0).0;
        let mut start = None;
        let mut settled = true;
        loop {
            if self.stopping() {
                return Outcome::NotStarted;
            }
            let (members, next) = match self.member_page(&members_pk, start).await {
                Ok(page) => page,
                Err(e) => {
                    let program = program.partner_program_id;
                    tracing::error!(error = %e, org, program, "program members read failed");
                    return Outcome::Failed;
                }
            };
            let outcomes = self.each(members, |member| self.expire_member(catalog, program, member)).await;
            if outcomes.contains(&Outcome::NotStarted) {
                return Outcome::NotStarted;
            }
            settled &= outcomes.iter().all(|o| o.settled());
            match next {
                Some(k) => start = Some(k),
                None if settled => return Outcome::Changed,
                None => return Outcome::Unsettled,
            }
        }
    }

    /// One member of an expired program: nothing when it has expired already.
    async fn expire_member(&self, catalog: &OrgCatalog, program: &PartnerProgram, member: Linkage) -> Outcome {
        let plan = expiry_rules::plan(&member, program, self.now);
        if plan.is_empty() {
            return Outcome::Nothing;
        }
        if !self.claim_item() {
            return Outcome::NotStarted;
        }
        self.commit(catalog, program, &member, plan).await
    }

    /// Takes a fully expired program out of the due index (unless its configuration changed).
    async fn finish_program(&self, org: OrgId, record: &PartnerProgramRecord) -> Outcome {
        let Some(due_sk) = &record.due_sk else { return Outcome::Nothing };
        let key = Key { pk: record.pk.clone(), sk: record.sk.clone() };
        match self.state.store.remove_due_keys(&key, due_sk).await {
            Ok(true) => {
                self.tally(|t| t.programs_expired += 1);
                let program = record.program.partner_program_id;
                tracing::info!(org, program, "partner program expiry applied to every member");
                Outcome::Changed
            }
            Ok(false) => Outcome::Skipped,
            Err(e) => {
                tracing::error!(error = %e, "could not take an expired program out of the due index");
                Outcome::Failed
            }
        }
    }

    /// One page of a program's members: keys from the KEYS_ONLY index, then the linkages themselves.
    async fn member_page(
        &self,
        members_pk: &str,
        start: Option<Item>,
    ) -> Result<(Vec<Linkage>, Option<Item>), StoreError> {
        let page = self.state.store.query_program_member_keys(members_pk, start).await?;
        self.tally(|t| {
            t.queries += 1;
            t.items_read += page.items.len() as u64;
            t.read_capacity_units += page.capacity;
        });
        let read = self.state.store.batch_get_consistent(page.items).await?;
        self.tally(|t| {
            t.items_read += read.items.len() as u64;
            t.read_capacity_units += read.capacity;
        });
        let linkages = read
            .items
            .into_iter()
            .map(|i| Ok(from_item::<LinkageRecord>(i)?.linkage))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((linkages, page.last_key))
    }
}
