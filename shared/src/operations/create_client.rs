//! `POST /v2/organization/clients` (admin, Extension): a new API client of the caller's org, for a
//! system (`api`), a person in member care (`agent`, with the display name the history shows as
//! who acted) or another admin. The secret is in this response only; the table keeps its SHA-256.
//! Not idempotent: a replay would have to show the secret again, so an `Idempotency-Key` is refused.

use crate::admin::client_spec;
use crate::http::api::{parse_json_body, require_admin, ApiRequest, ApiResponse};
use crate::http::error::ApiError;
use crate::http::idempotency::HEADER as IDEMPOTENCY_HEADER;
use crate::http::router::Answer;
use crate::state::AppState;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateClient {
    role: String,
    #[serde(default)]
    display_name: Option<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreatedClient<'a> {
    org_id: u64,
    client_key: &'a str,
    secret: &'a str,
    role: &'a str,
    display_name: Option<&'a str>,
}

pub async fn handle(state: &AppState, req: ApiRequest) -> Answer {
    require_admin(&req)?;
    if req.header(IDEMPOTENCY_HEADER).is_some() {
        return Err(ApiError::bad_request(
            "POST /v2/organization/clients is not idempotent and takes no Idempotency-Key: a replay would have \
             to show the secret again. Send it once; if the answer is lost, create another client",
        ));
    }
    let body: CreateClient = parse_json_body(&req)?;
    let (role, name) =
        client_spec(&body.role, body.display_name.as_deref()).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let org = req.auth.org_id;
    let creds = crate::http::auth::create_named_client(&state.store, org, role, name.clone()).await?;
    let created = CreatedClient {
        org_id: org,
        client_key: &creds.client_key,
        secret: &creds.secret,
        role: role.as_str(),
        display_name: name.as_deref(),
    };
    // The secret must not linger in a cache between here and the admin.
    Ok(ApiResponse::json(201, &created).with_header("cache-control", "no-store"))
}
