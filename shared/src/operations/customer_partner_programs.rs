//! `GET /v2/partnerProgram/customerPartnerPrograms`: the customer's current linkages, as
//! Capillary's `loyaltyDetails.linkedPartnerPrograms` shows them, with expired tiers read as
//! expired even before the sweep has run.

use crate::api::{ApiRequest, ApiResponse};
use crate::customer_identity::{resolve, Identifiers, Resolution};
use crate::dates::format_utc;
use crate::model::{Linkage, PartnerProgram};
use crate::outbox::customer_identifiers;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

pub async fn handle(state: &AppState, req: ApiRequest) -> ApiResponse {
    let (Some(name), Some(value)) = (req.query_param("identifierName"), req.query_param("identifierValue")) else {
        return ApiResponse::error(400, 400, "identifierName and identifierValue are required");
    };
    let Some(ids) = Identifiers::from_query(name, value) else {
        return ApiResponse::error(400, 400, "identifierName must be one of mobile, email, externalId, id");
    };
    if let Some(problem) = &ids.problem {
        return ApiResponse::error(400, 400, format!("identifierValue: {problem}"));
    }
    let org = req.auth.org_id;
    let result = async {
        let resolution = resolve(&state.store, org, &ids).await?;
        let Resolution::Found(customer) = resolution else {
            return Ok(ApiResponse::json(
                200,
                &json!({"linkedPartnerPrograms": [], "warnings": [], "errors": [resolution.status()]}),
            ));
        };
        let (linkages, catalog) = futures::try_join!(state.store.linkages(org, customer.customer_id), state.catalog(org))?;
        let now = state.now();
        let mut linked: Vec<&Linkage> = linkages.iter().filter(|l| l.linked).collect();
        linked.sort_by_key(|l| l.partner_program_id);
        let programs: Vec<Value> =
            linked.into_iter().map(|l| linkage_view(l, catalog.partner_program_by_id(l.partner_program_id), now)).collect();
        Ok::<_, crate::store::StoreError>(ApiResponse::json(
            200,
            &json!({"customer": customer_identifiers(&customer), "linkedPartnerPrograms": programs, "warnings": [], "errors": []}),
        ))
    }
    .await;
    result.unwrap_or_else(|e| {
        if e.is_refused_value() {
            return ApiResponse::error(400, 400, "identifierValue cannot be looked up (too large or invalid)");
        }
        tracing::error!(error = %e, "customer partner programs read failed");
        ApiResponse::unavailable(&req.request_id)
    })
}

/// One linkage as reads show it.
pub fn linkage_view(l: &Linkage, program: Option<&PartnerProgram>, now: DateTime<Utc>) -> Value {
    let status = l.effective_status(now, program);
    json!({
        "partnerProgramId": l.partner_program_id,
        "partnerProgramName": l.partner_program_name,
        "partnerProgramType": l.partner_program_type,
        "description": program.map(|p| p.description.clone()).unwrap_or_default(),
        "tierBased": program.is_some_and(|p| p.tier_based),
        "partnerMembershipId": l.partner_membership_id,
        "partnerTierNumber": l.tier_number,
        "partnerTierName": l.tier_name,
        "partnerTierExpiryDate": l.tier_expiry_date.map(format_utc),
        "membershipStartDate": format_utc(l.membership_start_date),
        "membershipEndDate": l.membership_end_date.map(format_utc),
        "linked": l.linked,
        "status": status,
        "lastUpdatedActivity": l.last_activity,
        "lastUpdatedDate": format_utc(l.last_updated),
        "pendingRelink": l.pending_relink.as_ref().map(|p| json!({
            "membershipStartDate": format_utc(p.membership_start_date),
            "membershipEndDate": format_utc(p.membership_end_date),
            "partnerMembershipId": p.partner_membership_id,
        })),
    })
}
