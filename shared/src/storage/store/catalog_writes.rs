//! Writes of the catalog: a loyalty program with its unique name, a partner program's
//! configuration with the item that maps its id to its name.

use super::{tx, Store, StoreError, TransactError};
use crate::domain::model::{LoyaltyProgram, OrgId, PartnerProgram, ProgramId};
use crate::storage::keys;
use crate::storage::records::{to_item, LoyaltyProgramRecord, PartnerProgramIdRecord, PartnerProgramRecord};
use chrono::{DateTime, Utc};

impl Store {
    /// Writes loyalty program `program` (its id already given) with the guard that keeps its name
    /// unique in the org; `Ok(false)` when the name is taken.
    pub async fn create_loyalty_program(&self, org: OrgId, program: &LoyaltyProgram) -> Result<bool, TransactError> {
        let k = keys::loyalty_program(org, program.program_id);
        let record =
            LoyaltyProgramRecord { pk: k.pk, sk: k.sk, entity: "LOYALTY_PROGRAM".into(), program: program.clone() };
        let mut guard = keys::loyalty_program_name(org, &program.program_name).to_item();
        guard.insert("entity".into(), aws_sdk_dynamodb::types::AttributeValue::S("LOYALTY_PROGRAM_NAME".into()));
        let items = vec![
            tx::put_new(self.table(), to_item(&record).map_err(StoreError::from)?)?,
            tx::put_new(self.table(), guard)?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(e) if e.condition_failed_at(1) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Writes `program` (its id already given): a new one with its id item, or in place of the
    /// configuration of program `replacing`, which must still be that program. Its expiry, if
    /// any, is put in the due index. A failed write that turns out to have been applied (its
    /// answer lost) is a success.
    pub async fn save_partner_program(
        &self,
        org: OrgId,
        program: &PartnerProgram,
        replacing: Option<ProgramId>,
        now: DateTime<Utc>,
        due_shards: u32,
    ) -> Result<(), TransactError> {
        let name = &program.partner_program_name;
        let k = keys::partner_program(org, name);
        let (due_pk, due_sk) = match program.expiry_date {
            Some(at) => {
                // An expiry already past is due now: keyed on its own (older) day it could fall
                // behind the sweep's watermark and never be found.
                let (p, s) = keys::due_keys(at.max(now), org, 0, program.partner_program_id, due_shards);
                (Some(p), Some(s))
            }
            None => (None, None),
        };
        let record = PartnerProgramRecord {
            pk: k.pk,
            sk: k.sk,
            entity: "PARTNER_PROGRAM".into(),
            due_pk,
            due_sk,
            program: program.clone(),
        };
        let item = to_item(&record).map_err(StoreError::from)?;
        let items = match replacing {
            Some(id) => vec![tx::put_versioned_config(self.table(), item, Some(id))?],
            None => {
                let idk = keys::partner_program_id(org, program.partner_program_id);
                let id_record = PartnerProgramIdRecord {
                    pk: idk.pk,
                    sk: idk.sk,
                    entity: "PARTNER_PROGRAM_ID".into(),
                    partner_program_name: name.clone(),
                };
                vec![
                    tx::put_new(self.table(), item)?,
                    tx::put_new(self.table(), to_item(&id_record).map_err(StoreError::from)?)?,
                ]
            }
        };
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TransactError::Store(e)) if e.is_refused_value() => Err(TransactError::Store(e)),
            Err(e) => {
                let stored: Option<PartnerProgramRecord> =
                    self.get(&keys::partner_program(org, name)).await.ok().flatten();
                if stored.is_some_and(|r| r.program == *program) {
                    tracing::info!("configuration found already written by this request; reporting its success");
                    return Ok(());
                }
                Err(e)
            }
        }
    }
}
