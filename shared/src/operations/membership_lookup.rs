//! `GET /v2/partnerProgram/membershipLookup` (any role, Extension; docs/contract.md#member-care-reads):
//! the members who hold or held a partner membership id, ended memberships included, from the
//! customers' membership-id trails and, for memberships linked before trails existed, the live claims.

use crate::domain::catalog::OrgCatalog;
use crate::domain::limits::{check_text, MAX_MEMBERSHIP_ID_CHARS};
use crate::domain::model::{CustomerId, OrgId, ProgramId};
use crate::http::api::{ApiRequest, ApiResponse};
use crate::http::error::ApiError;
use crate::http::router::Answer;
use crate::state::AppState;
use crate::storage::store::{Store, StoreError};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeSet;

/// One membership the id names.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MembershipMatch {
    pub customer_id: CustomerId,
    pub partner_program_id: ProgramId,
    pub partner_program_name: String,
    pub partner_membership_id: String,
    /// The id is this linkage's membership id now and the linkage is linked.
    pub current: bool,
}

pub async fn handle(state: &AppState, req: ApiRequest) -> Answer {
    let Some(mid) = req.query_param("partnerMembershipId").map(str::trim) else {
        return Err(ApiError::bad_request("partnerMembershipId is required"));
    };
    check_text("partnerMembershipId", mid, MAX_MEMBERSHIP_ID_CHARS)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let org = req.auth.org_id;
    let catalog = state.catalog(org).await?;
    let program =
        match req.query_param("partnerProgramName").map(str::trim) {
            Some(name) => Some(catalog.partner_program(name).map(|p| p.partner_program_id).ok_or_else(|| {
                ApiError::bad_request(format!("partnerProgramName: no partner program named {name:?}"))
            })?),
            None => None,
        };
    let memberships = lookup(&state.store, &catalog, mid, program).await?;
    Ok(ApiResponse::json(200, &json!({"memberships": memberships, "warnings": [], "errors": []})))
}

/// The memberships membership id `mid` names in the org (in `program` only, when given), ordered
/// by customer and program.
pub async fn lookup(
    store: &Store,
    catalog: &OrgCatalog,
    mid: &str,
    program: Option<ProgramId>,
) -> Result<Vec<MembershipMatch>, StoreError> {
    let org = catalog.org.org_id;
    let programs: Vec<ProgramId> = match program {
        Some(p) => vec![p],
        None => catalog.partner_programs.iter().map(|p| p.partner_program_id).collect(),
    };
    // The trail finds ended memberships; the live claims find current ones linked before trails.
    let (trail, claims) = futures::try_join!(
        store.membership_id_holders(org, mid, program),
        futures::future::try_join_all(programs.iter().map(|p| claimant(store, org, *p, mid))),
    )?;
    let holders: BTreeSet<(CustomerId, ProgramId)> =
        trail.into_iter().map(|(p, c)| (c, p)).chain(claims.into_iter().flatten()).collect();
    let found = futures::future::try_join_all(holders.into_iter().map(|(customer, p)| async move {
        let linkage = store.linkage(org, customer, p).await?;
        let current = linkage.as_ref().is_some_and(|l| l.linked && l.partner_membership_id.as_deref() == Some(mid));
        let name = catalog
            .partner_program_by_id(p)
            .map(|pp| pp.partner_program_name.clone())
            .or_else(|| linkage.map(|l| l.partner_program_name))
            .unwrap_or_default();
        Ok::<_, StoreError>(MembershipMatch {
            customer_id: customer,
            partner_program_id: p,
            partner_program_name: name,
            partner_membership_id: mid.to_string(),
            current,
        })
    }))
    .await?;
    Ok(found)
}

async fn claimant(
    store: &Store,
    org: OrgId,
    program: ProgramId,
    mid: &str,
) -> Result<Option<(CustomerId, ProgramId)>, StoreError> {
    Ok(store.membership_id_claimant(org, program, mid).await?.map(|c| (c, program)))
}
