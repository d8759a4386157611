//! `GET /v2/partnerProgram/customerPartnerPrograms`: the customer's current linkages, as
//! Capillary's `loyaltyDetails.linkedPartnerPrograms` shows them, with expired tiers read as
//! expired even before the sweep has run; with `includeEnded=true` the ended ones beside them, and
//! with `includeBenefits=true` each current one's `benefitsSummary` as the history shows it.

use crate::domain::catalog::OrgCatalog;
use crate::domain::model::Linkage;
use crate::http::api::{ApiRequest, ApiResponse};
use crate::http::error::ApiError;
use crate::http::router::Answer;
use crate::http::wire::{CustomerIdentifiers, PartnerProgramDetails};
use crate::operations::customer_activity_histories::benefits_summary;
use crate::state::AppState;
use crate::storage::customer_identity::{resolve_with_linkages, Identifiers, Resolution};
use crate::storage::store::StoreError;
use chrono::{DateTime, Utc};
use serde_json::json;

pub async fn handle(state: &AppState, req: ApiRequest) -> Answer {
    let (Some(name), Some(value)) = (req.query_param("identifierName"), req.query_param("identifierValue")) else {
        return Err(ApiError::bad_request("identifierName and identifierValue are required"));
    };
    let Some(ids) = Identifiers::from_query(name, value) else {
        return Err(ApiError::bad_request("identifierName must be one of mobile, email, externalId, id"));
    };
    if let Some(problem) = &ids.problem {
        return Err(ApiError::bad_request(format!("identifierValue: {problem}")));
    }
    let include_ended = req.query_flag("includeEnded")?;
    let include_benefits = req.query_flag("includeBenefits")?;
    let org = req.auth.org_id;
    // The customer and its linkages: two round trips by mobile/email/externalId, one by id (the
    // catalog is cached per container and read alongside).
    let ((resolution, linkages), catalog) =
        futures::try_join!(resolve_with_linkages(&state.store, org, &ids), state.catalog(org))?;
    let Resolution::Found(customer) = resolution else {
        let mut body = json!({"linkedPartnerPrograms": [], "warnings": [], "errors": [resolution.status()]});
        if include_ended {
            body["endedPartnerPrograms"] = json!([]);
        }
        return Ok(ApiResponse::json(200, &body));
    };
    let now = state.now();
    let details = |linked: bool| -> Vec<PartnerProgramDetails> {
        let mut chosen: Vec<&Linkage> = linkages.iter().filter(|l| l.linked == linked).collect();
        chosen.sort_by_key(|l| l.partner_program_id);
        chosen.into_iter().map(|l| PartnerProgramDetails::in_catalog(&catalog, l, now)).collect()
    };
    let mut linked = details(true);
    if include_benefits {
        with_benefits(state, &catalog, &linkages, &mut linked, now).await?;
    }
    let mut body = json!({"customer": CustomerIdentifiers::from(&customer), "linkedPartnerPrograms": linked,
        "warnings": [], "errors": []});
    if include_ended {
        body["endedPartnerPrograms"] = json!(details(false));
    }
    Ok(ApiResponse::json(200, &body))
}

/// Each current membership's `benefitsSummary` (programs with benefits only), read in parallel.
async fn with_benefits(
    state: &AppState,
    catalog: &OrgCatalog,
    linkages: &[Linkage],
    details: &mut [PartnerProgramDetails],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let reads = details.iter().map(|d| {
        let linkage = linkages.iter().find(|l| l.linked && l.partner_program_id == d.partner_program_id);
        let program = catalog.partner_program_by_id(d.partner_program_id);
        let customer = linkage.map_or(0, |l| l.customer_id);
        benefits_summary(state, catalog.org.org_id, customer, program, linkage, now)
    });
    let summaries = futures::future::try_join_all(reads).await?;
    for (d, summary) in details.iter_mut().zip(summaries) {
        d.benefits_summary = (!summary.is_empty()).then_some(summary);
    }
    Ok(())
}
