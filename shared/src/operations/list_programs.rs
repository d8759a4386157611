//! `GET /v2/organization/programs`: the org's loyalty programs with their partner programs and tiers.

use crate::http::api::{ApiRequest, ApiResponse};
use crate::http::error::ApiError;
use crate::http::wire::{loyalty_program_view, LoyaltyProgramView};
use crate::state::AppState;
use serde_json::json;

pub async fn handle(state: &AppState, req: ApiRequest) -> ApiResponse {
    let org = req.auth.org_id;
    let (loyalty, partners) =
        match futures::try_join!(state.store.loyalty_programs(org), state.store.partner_programs(org)) {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %e, "list programs failed");
                return ApiResponse::from(ApiError::unavailable(&req.request_id));
            }
        };
    // The org's first loyalty program is its default one.
    let default_id = loyalty.iter().map(|lp| lp.program_id).min();
    let data: Vec<LoyaltyProgramView> =
        loyalty.iter().map(|lp| loyalty_program_view(lp, &partners, Some(lp.program_id) == default_id)).collect();
    ApiResponse::json(200, &json!({"data": data, "warnings": [], "errors": []}))
}
