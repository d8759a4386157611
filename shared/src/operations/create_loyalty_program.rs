//! `POST /v2/organization/programs` (admin): creates a loyalty program.

use crate::domain::model::LoyaltyProgram;
use crate::http::api::{parse_json_body, require_admin, ApiRequest, ApiResponse};
use crate::http::error::ApiError;
use crate::http::router::Answer;
use crate::http::wire::loyalty_program_view;
use crate::state::AppState;
use crate::storage::keys;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateProgram {
    program_name: String,
    #[serde(default)]
    program_description: Option<String>,
    #[serde(default)]
    points_to_currency_ratio: Option<serde_json::Number>,
}

const MIN_RATIO: f64 = 0.000001;
const MAX_RATIO: f64 = 1_000_000.0;

/// The most a description may hold (it is stored in the org's catalog item, read on every request).
const MAX_DESCRIPTION_CHARS: usize = 1000;

pub async fn handle(state: &AppState, req: ApiRequest) -> Answer {
    require_admin(&req)?;
    let body: CreateProgram = parse_json_body(&req)?;
    let name = body.program_name.trim().to_string();
    crate::domain::limits::check_name("programName", &name).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let description = body.program_description.as_deref().map(str::trim).unwrap_or("").to_string();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ApiError::bad_request(format!(
            "programDescription must be at most {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    if let Some(r) = &body.points_to_currency_ratio {
        // Bounded so that storage (DynamoDB numbers stop at 1e-130) and arithmetic never see an extreme.
        if !r.as_f64().is_some_and(|v| (MIN_RATIO..=MAX_RATIO).contains(&v)) {
            return Err(ApiError::bad_request(format!(
                "pointsToCurrencyRatio must be a number from {MIN_RATIO} to {MAX_RATIO}"
            )));
        }
    }
    let program = LoyaltyProgram {
        program_id: 0,
        program_name: name.clone(),
        program_description: description,
        points_to_currency_ratio: body.points_to_currency_ratio,
    };
    let org = req.auth.org_id;
    let program = create_loyalty_program(state, org, program)
        .await?
        .ok_or_else(|| ApiError::Conflict(format!("A loyalty program named {name:?} already exists")))?;
    state.invalidate(org);
    // Default when it is the org's first (lowest id) loyalty program.
    let default = match state.store.loyalty_programs(org).await {
        Ok(all) => all.iter().all(|lp| lp.program_id >= program.program_id),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the org's loyalty programs after creating one");
            false
        }
    };
    Ok(ApiResponse::json(201, &loyalty_program_view(&program, &[], default, false)))
}

/// Creates a loyalty program with a fresh id; `None` when the name is taken (names are unique,
/// case-insensitively, through a guard item written in the same transaction).
pub async fn create_loyalty_program(
    state: &AppState,
    org: u64,
    mut program: LoyaltyProgram,
) -> Result<Option<LoyaltyProgram>, crate::storage::store::TransactError> {
    program.program_id = state.store.next_id(&keys::sequence(Some(org), "program")).await?;
    let created = state.store.create_loyalty_program(org, &program).await?;
    Ok(created.then_some(program))
}
