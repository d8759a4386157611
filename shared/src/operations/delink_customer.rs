//! `POST /v2/partnerProgram/deLinkCustomer` (docs/contract.md#endpoints): the linkage stays, reading as
//! `linked: false`; its history is kept and its membership id is freed for reuse.

use crate::domain::catalog::OrgCatalog;
use crate::domain::error_catalog::{ErrorCode, ItemStatus};
use crate::domain::model::activity_for;
use crate::domain::model::EventName;
use crate::domain::model::*;
use crate::http::api::ApiRequest;
use crate::http::batch::{self};
use crate::http::router::Answer;
use crate::state::linkage_write::{change_linkage, ItemWrite, Prepared, StorageFailure};
use crate::state::AppState;
use crate::storage::linkage_items;
use crate::storage::outbox;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[serde_with::skip_serializing_none]
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DelinkEntry {
    #[serde(default)]
    partner_program_name: Option<String>,
    /// Extension: why (`{"code", "note"}`), stored with the change's history record and event.
    #[serde(default)]
    reason: Option<Value>,
}

pub async fn handle(state: &AppState, req: ApiRequest) -> Answer {
    batch::handle(state, req, &batch::DELINK, |catalog, customer, entry: DelinkEntry, item| async move {
        match item.because(entry.reason.as_ref()) {
            Ok(item) => delink_one(state, &item, &catalog, &customer, &entry).await,
            Err(refused) => Ok(refused),
        }
    })
    .await
}

async fn delink_one(
    state: &AppState,
    item: &ItemWrite,
    catalog: &OrgCatalog,
    customer: &Customer,
    entry: &DelinkEntry,
) -> Result<ItemStatus, StorageFailure> {
    let name = entry.partner_program_name.as_deref().map(str::trim).unwrap_or("");
    if name.is_empty() {
        return Ok(ErrorCode::EmptyRequiredField.with_detail("partnerProgramName is empty"));
    }
    let Some(program) = catalog.partner_program(name) else {
        return Ok(ErrorCode::UnknownPartnerProgram.with_detail(format!("no partner program named {name:?}")));
    };
    let org = catalog.org.org_id;
    let table = state.store.table().to_string();
    change_linkage(state, item, org, customer.customer_id, program.partner_program_id, |current, now| {
        let Some(cur) = current.filter(|l| l.linked) else {
            return Err(ErrorCode::NotLinked.with_detail(format!("not linked to {name}")));
        };
        let mut after = cur.clone();
        after.linked = false;
        after.status = LinkageStatus::Delinked;
        after.pending_relink = None;
        after.version = cur.version + 1;
        after.last_activity = ActivityType::Delink;
        after.last_updated = now;
        after.holds_subscription = false;
        let internal = |e: crate::storage::store::StoreError| {
            tracing::error!(error = %e, "could not build a transaction item");
            ErrorCode::CannotProcess.with_detail("internal error while preparing the change")
        };
        let mut extras = Vec::new();
        if let Some(mid) = &cur.partner_membership_id {
            let item =
                linkage_items::release_membership_id(&table, org, program.partner_program_id, mid).map_err(internal)?;
            extras.push((item, ErrorCode::CannotProcess.status()));
        }
        if cur.holds_subscription {
            // Frees the customer's one subscription with the membership that held it.
            let item = linkage_items::release_subscription(&table, org, customer.customer_id).map_err(internal)?;
            extras.push((item, ErrorCode::CannotProcess.status()));
        }
        Ok(Prepared {
            activity: activity_for(current, &after, ActivityType::Delink, now),
            event: Some(outbox::event(
                EventName::Delinked,
                "DELINK",
                org,
                customer,
                program,
                &after,
                now,
                catalog.zone(),
            )),
            expected_version: Some(cur.version),
            after,
            extras,
        })
    })
    .await
}
