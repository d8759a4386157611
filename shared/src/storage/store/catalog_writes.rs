//! Writes of the catalog: a partner program's configuration, as one transaction with the item
//! that maps its id to its name.

use super::{tx, Store, StoreError, TransactError};
use crate::domain::model::{OrgId, PartnerProgram, ProgramId};
use crate::storage::keys;
use crate::storage::records::{to_item, PartnerProgramIdRecord, PartnerProgramRecord};
use chrono::{DateTime, Utc};

impl Store {
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
