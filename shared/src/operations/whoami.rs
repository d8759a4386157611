//! `GET /v2/organization/me` (any role, Extension): who the credentials are (client key, role,
//! display name) and their org's name and time zone, so a console learns after sign-in which
//! actions to offer and in which zone to show dates. Never the secret.

use crate::http::api::{ApiRequest, ApiResponse};
use crate::http::error::ApiError;
use crate::http::router::Answer;
use crate::state::AppState;
use serde::Serialize;

#[serde_with::skip_serializing_none]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Me<'a> {
    org_id: u64,
    org_name: &'a str,
    time_zone: &'a str,
    role: &'a str,
    client_key: &'a str,
    display_name: Option<&'a str>,
    warnings: [(); 0],
    errors: [(); 0],
}

pub async fn handle(state: &AppState, req: ApiRequest) -> Answer {
    let auth = &req.auth;
    // Orgs are never deleted; a client whose org is gone has nothing to sign in to.
    let org = state
        .store
        .org(auth.org_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("the client's org does not exist".into()))?;
    let me = Me {
        org_id: org.org_id,
        org_name: &org.name,
        time_zone: &org.time_zone,
        role: auth.role.as_str(),
        client_key: &auth.client_key,
        display_name: auth.display_name.as_deref(),
        warnings: [],
        errors: [],
    };
    Ok(ApiResponse::json(200, &me))
}
