//! Runs an operation as a Lambda behind API Gateway: builds the shared state once per container,
//! converts `lambda_http` requests (HTTP API v2 or REST v1) to `ApiRequest` with the caller taken
//! from the authorizer context, and reports init failures through the Runtime API.

use crate::api::{ApiRequest, ApiResponse, MAX_BODY_BYTES};
use crate::model::{AuthContext, Role};
use crate::router::{dispatch, handler_for};
use crate::state::AppState;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use std::collections::HashMap;
use std::sync::Arc;

/// The caller as the authorizer established it (`orgId`, `role` in the authorizer context).
pub fn auth_from_context(ctx: Option<&RequestContext>) -> Option<AuthContext> {
    let fields = match ctx? {
        RequestContext::ApiGatewayV2(c) => &c.authorizer.as_ref()?.fields,
        RequestContext::ApiGatewayV1(c) => &c.authorizer.fields,
        _ => return None,
    };
    let org = fields.get("orgId").and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))?;
    let role = fields.get("role").and_then(|v| v.as_str()).and_then(Role::parse)?;
    Some(AuthContext { org_id: org, role })
}

pub fn to_api_request(req: &Request, auth: AuthContext) -> ApiRequest {
    let query = req.query_string_parameters();
    let path_params = req.path_parameters();
    ApiRequest {
        method: req.method().as_str().to_string(),
        path: req.uri().path().to_string(),
        path_params: path_params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        query: query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        headers: req
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_string())))
            .collect::<HashMap<_, _>>(),
        body: req.body().as_ref().to_vec(),
        auth,
        request_id: req.lambda_context_ref().map(|c| c.request_id.clone()).unwrap_or_default(),
    }
}

pub fn to_lambda_response(resp: ApiResponse) -> Response<Body> {
    let mut builder = Response::builder().status(resp.status);
    for (k, v) in &resp.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder.body(Body::Text(resp.body)).unwrap_or_else(|_| Response::new(Body::Empty))
}

/// Entry point of every HTTP Lambda binary: `function` is its logical id in `template.yaml`.
pub async fn run_http(function: &'static str) -> Result<(), lambda_http::Error> {
    crate::logging::init();
    let handler = handler_for(function).ok_or_else(|| format!("no route serves function {function}"))?;
    let state = Arc::new(AppState::from_env().await?);
    state.warm_up().await;
    lambda_http::run(lambda_http::service_fn(move |req: Request| {
        let state = state.clone();
        async move {
            let Some(auth) = auth_from_context(req.request_context_ref()) else {
                // Reached only if the route is deployed without the authorizer: refuse, never guess.
                tracing::error!("request without authorizer context");
                return Ok::<_, lambda_http::Error>(to_lambda_response(ApiResponse::unauthorized("no authorizer context")));
            };
            if req.body().len() > MAX_BODY_BYTES {
                return Ok(to_lambda_response(crate::api::payload_too_large()));
            }
            let api_req = to_api_request(&req, auth);
            Ok(to_lambda_response(dispatch(&state, handler, api_req).await))
        }
    }))
    .await
}
