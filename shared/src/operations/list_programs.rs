//! `GET /v2/organization/programs`: the org's loyalty programs with their partner programs and tiers;
//! with `includeConfiguration=true` (Extension), each partner program's whole configuration too.

use crate::http::api::{ApiRequest, ApiResponse};
use crate::http::router::Answer;
use crate::http::wire::{loyalty_program_view, LoyaltyProgramView};
use crate::state::AppState;
use serde_json::json;

pub async fn handle(state: &AppState, req: ApiRequest) -> Answer {
    // Refused before anything is read.
    let configuration = req.query_flag("includeConfiguration")?;
    let org = req.auth.org_id;
    let (loyalty, partners) = futures::try_join!(state.store.loyalty_programs(org), state.store.partner_programs(org))?;
    // The org's first loyalty program is its default one.
    let default_id = loyalty.iter().map(|lp| lp.program_id).min();
    let data: Vec<LoyaltyProgramView> = loyalty
        .iter()
        .map(|lp| loyalty_program_view(lp, &partners, Some(lp.program_id) == default_id, configuration))
        .collect();
    Ok(ApiResponse::json(200, &json!({"data": data, "warnings": [], "errors": []})))
}
