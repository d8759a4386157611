//! `POST /v2/organization/programs` (admin: create a loyalty program) and
//! `GET /v2/organization/programs` (the org's programs with their partner programs and tiers).

use crate::api::{parse_json_body, require_admin, ApiRequest, ApiResponse};
use crate::keys;
use crate::model::{LoyaltyProgram, PartnerProgram};
use crate::records::{to_item, LoyaltyProgramRecord};
use crate::state::AppState;
use crate::store::tx;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateProgram {
    program_name: String,
}

pub async fn create(state: &AppState, req: ApiRequest) -> ApiResponse {
    if let Err(r) = require_admin(&req) {
        return r.into();
    }
    let body: CreateProgram = match parse_json_body(&req) {
        Ok(b) => b,
        Err(r) => return r.into(),
    };
    let name = body.program_name.trim().to_string();
    if let Err(e) = crate::limits::check_name("programName", &name) {
        return ApiResponse::error(400, 400, e.to_string());
    }
    let org = req.auth.org_id;
    match create_loyalty_program(state, org, &name).await {
        Ok(Some(program)) => {
            state.invalidate(org);
            ApiResponse::json(201, &program)
        }
        Ok(None) => ApiResponse::error(409, 409, format!("A loyalty program named {name:?} already exists")),
        Err(e) => {
            tracing::error!(error = %e, "create loyalty program failed");
            ApiResponse::internal(&req.request_id)
        }
    }
}

/// Creates a loyalty program with a fresh id; `None` when the name is taken (names are unique,
/// case-insensitively, through a guard item written in the same transaction).
pub async fn create_loyalty_program(state: &AppState, org: u64, name: &str) -> Result<Option<LoyaltyProgram>, crate::store::TransactError> {
    let id = state.store.next_id(&keys::sequence(Some(org), "program")).await?;
    let program = LoyaltyProgram { program_id: id, program_name: name.to_string() };
    let k = keys::loyalty_program(org, id);
    let rec = LoyaltyProgramRecord { pk: k.pk, sk: k.sk, entity: "LOYALTY_PROGRAM".into(), program: program.clone() };
    let guard = keys::loyalty_program_name(org, name);
    let mut guard_item = guard.to_item();
    guard_item.insert("entity".into(), aws_sdk_dynamodb::types::AttributeValue::S("LOYALTY_PROGRAM_NAME".into()));
    let table = state.store.table();
    let items = vec![tx::put_new(table, to_item(&rec).map_err(crate::store::StoreError::from)?)?, tx::put_new(table, guard_item)?];
    match state.store.transact(items).await {
        Ok(()) => Ok(Some(program)),
        Err(e) if e.condition_failed_at(1) => Ok(None),
        Err(e) => Err(e),
    }
}

pub async fn list(state: &AppState, req: ApiRequest) -> ApiResponse {
    let org = req.auth.org_id;
    let (loyalty, partners) = match futures::try_join!(state.store.loyalty_programs(org), state.store.partner_programs(org)) {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(error = %e, "list programs failed");
            return ApiResponse::unavailable(&req.request_id);
        }
    };
    let body: Vec<Value> = loyalty
        .iter()
        .map(|lp| {
            let mut pps: Vec<&PartnerProgram> = partners.iter().filter(|p| p.loyalty_program_id == lp.program_id).collect();
            pps.sort_by_key(|p| p.partner_program_id);
            json!({
                "programId": lp.program_id,
                "programName": lp.program_name,
                "partnerPrograms": pps.into_iter().map(partner_program_summary).collect::<Vec<_>>(),
            })
        })
        .collect();
    ApiResponse::json(200, &body)
}

/// A partner program as Capillary's program listing shows it.
pub fn partner_program_summary(p: &PartnerProgram) -> Value {
    let mut tiers = p.tiers.clone();
    tiers.sort_by_key(|t| t.tier_number);
    json!({
        "partnerProgramId": p.partner_program_id,
        "partnerProgramName": p.partner_program_name,
        "partnerProgramDescription": p.description,
        "partnerProgramTiers": tiers,
        "pointsExchangeRate": p.points_exchange_rate,
        "partnerProgramType": p.partner_program_type,
        "membershipPeriodType": p.membership_period_type,
        "membershipPeriodValue": p.membership_period_value,
        "tierBased": p.tier_based,
    })
}
