//! One row of a file applied as the one-item batch request the API would take for it (link,
//! update or delink), through that operation's own handler: the same rules, codes, history and
//! events. Its change id is derived from the file and the row (`change_id::of_file_row`), so the
//! same row applied again (a redelivery, a rerun) is recognised and applies nothing twice.

use super::reader::{Action, FileRow};
use crate::domain::change_id;
use crate::domain::error_catalog::{ErrorCode, ItemStatus};
use crate::domain::model::{AuthContext, CustomerId, OrgId, ProgramId, Role};
use crate::http::api::{ApiRequest, ApiResponse};
use crate::http::batch::{BatchNames, DELINK, LINK, UPDATE};
use crate::http::error::ApiError;
use crate::operations::{delink_customer, link_customer, update_customer_partner_program};
use crate::state::AppState;
use crate::storage::store::StoreError;
use crate::storage::write_context::WriteContext;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// What became of one row: the item status the API would have answered for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowResult {
    pub applied: bool,
    pub code: u16,
    pub message: String,
    pub detail: Option<String>,
}

impl From<ItemStatus> for RowResult {
    fn from(s: ItemStatus) -> Self {
        RowResult { applied: s.status, code: s.code, message: s.message, detail: s.detail }
    }
}

impl From<ApiError> for RowResult {
    fn from(e: ApiError) -> Self {
        let (_, code) = e.status_and_code();
        RowResult { applied: false, code, message: e.to_string(), detail: None }
    }
}

/// Applies row `row_no` of file `file_id` (for `program` of `org`) as the API would apply it.
pub async fn apply_row(
    state: &AppState,
    org: OrgId,
    program: &str,
    file_id: &str,
    row_no: u64,
    row: &FileRow,
) -> RowResult {
    let Some(raw_action) = row.action.as_deref() else {
        return ErrorCode::EmptyRequiredField.with_detail("action is empty").into();
    };
    let Some(action) = Action::parse(raw_action) else {
        return ErrorCode::UnsupportedUpdateType
            .with_detail(format!("action {raw_action:?} is not one of UPDATE, RENEW, UPGRADE, DOWNGRADE, LINK, DELINK"))
            .into();
    };
    let customer = match customer_of(state, org, program, row).await {
        Ok(customer) => customer,
        Err(result) => return result,
    };
    let (names, path, entry) = entry_for(action, program, row);
    let body = json!({ names.batch: [{ "customer": customer, names.programs: [entry] }] });
    let request_id = format!("file-{file_id}-{row_no}");
    let context = WriteContext::new(None, change_id::of_file_row(org, file_id, row_no));
    let state = state.for_request(Arc::new(context));
    let req = ApiRequest {
        method: "POST".into(),
        path: path.into(),
        path_params: HashMap::new(),
        query: HashMap::new(),
        headers: HashMap::from([("content-type".to_string(), "application/json".to_string())]),
        body: body.to_string().into_bytes(),
        auth: AuthContext { org_id: org, role: Role::Api, client_key: format!("file:{file_id}"), display_name: None },
        request_id,
    };
    let answer = match action {
        Action::Link => link_customer::handle(&state, req).await,
        Action::Delink => delink_customer::handle(&state, req).await,
        Action::Update(_) => update_customer_partner_program::handle(&state, req).await,
    };
    match answer {
        Ok(response) => item_status(&response, names),
        Err(e) => e.into(),
    }
}

/// The batch names, path and program entry of the request the API would take for the row.
fn entry_for(action: Action, program: &str, row: &FileRow) -> (&'static BatchNames, &'static str, Value) {
    match action {
        Action::Link => {
            let reference = json!({
                "partnerMembershipId": row.partner_membership_id,
                "partnerTierName": row.partner_tier_name,
                "partnerTierExpiryDate": row.partner_tier_expiry_date,
                "membershipStartDate": row.membership_start_date,
            });
            let reference: Map<String, Value> =
                reference.as_object().into_iter().flatten().filter(|(_, v)| !v.is_null()).map(clone_pair).collect();
            let entry = json!({"partnerProgramName": program, "customerPartnerReference": reference});
            (&LINK, "/v2/partnerProgram/linkCustomer", entry)
        }
        Action::Delink => (&DELINK, "/v2/partnerProgram/deLinkCustomer", json!({"partnerProgramName": program})),
        Action::Update(kind) => {
            let details = json!({
                "updatedTierName": row.partner_tier_name,
                "updatedTierExpiryDate": row.partner_tier_expiry_date,
            });
            let details: Map<String, Value> =
                details.as_object().into_iter().flatten().filter(|(_, v)| !v.is_null()).map(clone_pair).collect();
            let entry = json!({"partnerProgramName": program, "updateType": kind, "updateDetails": details});
            (&UPDATE, "/v2/partnerProgram/customerPartnerProgramUpdate", entry)
        }
    }
}

fn clone_pair((k, v): (&String, &Value)) -> (String, Value) {
    (k.clone(), v.clone())
}

/// The request's `customer` object: the row's identifier, else the current holder of its
/// partner membership id in `program` (the membership lookup's live claim).
async fn customer_of(state: &AppState, org: OrgId, program: &str, row: &FileRow) -> Result<Value, RowResult> {
    if let (Some(name), Some(value)) = (&row.identifier_name, &row.identifier_value) {
        let Some(key) = ids_key(name) else {
            let detail = format!("identifierName {name:?} is not one of id, mobile, email, externalId");
            return Err(ErrorCode::CannotProcess.with_detail(format!("malformed row: {detail}")).into());
        };
        return Ok(json!({ key: value }));
    }
    let Some(mid) = &row.partner_membership_id else {
        let detail = "no customer: give partnerMembershipId, or identifierName and identifierValue";
        return Err(ErrorCode::EmptyRequiredField.with_detail(detail).into());
    };
    let catalog = state.catalog(org).await.map_err(|e| storage_failed(&e))?;
    let Some(partner) = catalog.partner_program(program) else {
        return Err(ErrorCode::UnknownPartnerProgram
            .with_detail(format!("no partner program named {program:?}"))
            .into());
    };
    let pid = partner.partner_program_id;
    match holder(state, org, pid, mid).await {
        Ok(Some(customer)) => Ok(json!({"id": customer.to_string()})),
        Ok(None) => Err(ItemStatus {
            detail: Some(format!("no member of {program} holds this partnerMembershipId")),
            ..ItemStatus::customer_not_found()
        }
        .into()),
        Err(e) => Err(storage_failed(&e)),
    }
}

/// Who holds membership id `mid` of program `pid`: its live claim, else the one customer whose
/// trail holds it (a membership since delinked: a rerun of a file that delinked it finds it again).
async fn holder(state: &AppState, org: OrgId, pid: ProgramId, mid: &str) -> Result<Option<CustomerId>, StoreError> {
    if let Some(customer) = state.store.membership_id_claimant(org, pid, mid).await? {
        return Ok(Some(customer));
    }
    let holders = state.store.membership_id_holders(org, mid, Some(pid)).await?;
    let mut customers = holders.into_iter().map(|(_, c)| c);
    let first = customers.next();
    Ok(first.filter(|f| customers.all(|c| c == *f)))
}

/// The `customer` field an identifier name stands for (as the read APIs' pair).
fn ids_key(name: &str) -> Option<&'static str> {
    match name.to_ascii_lowercase().as_str() {
        "id" => Some("id"),
        "mobile" => Some("mobile"),
        "email" => Some("email"),
        "externalid" => Some("externalId"),
        _ => None,
    }
}

fn storage_failed(e: &StoreError) -> RowResult {
    tracing::error!(error = %e, "storage failed before a file row could be applied");
    ApiError::unavailable("file row").into()
}

/// The one item status of a one-item batch response.
fn item_status(response: &ApiResponse, names: &BatchNames) -> RowResult {
    let body: Value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    let status = &body[names.batch][0][names.programs][0][names.status];
    match serde_json::from_value::<ItemStatus>(status.clone()) {
        Ok(status) => status.into(),
        Err(_) => ErrorCode::CannotProcess.with_detail("the change answered no item status").into(),
    }
}
