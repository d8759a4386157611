//! Runs an operation as a Lambda behind API Gateway: builds the shared state once per container,
//! converts `lambda_http` requests (HTTP API v2 or REST v1) to `ApiRequest` with the caller taken
//! from the authorizer context, and reports init failures through the Runtime API.

use crate::domain::model::{AuthContext, Role};
use crate::http::api::{ApiRequest, ApiResponse, MAX_BODY_BYTES};
use crate::http::error::ApiError;
use crate::http::request_decoding::{check_decoded, decode_path_segment, decode_query};
use crate::http::router::{dispatch, Operation};
use crate::state::AppState;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The caller as the authorizer established it (`orgId`, `role`, `clientKey` and the optional
/// `displayName` in the authorizer context, `authorizer::context`); none without a client key.
pub fn auth_from_context(ctx: Option<&RequestContext>) -> Option<AuthContext> {
    let fields = match ctx? {
        RequestContext::ApiGatewayV2(c) => &c.authorizer.as_ref()?.fields,
        RequestContext::ApiGatewayV1(c) => &c.authorizer.fields,
        _ => return None,
    };
    let org = fields.get("orgId").and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))?;
    let role = fields.get("role").and_then(|v| v.as_str()).and_then(Role::parse)?;
    let client_key = fields.get("clientKey").and_then(|v| v.as_str()).filter(|k| !k.is_empty())?.to_string();
    let display_name = fields.get("displayName").and_then(|v| v.as_str()).map(str::to_string);
    Some(AuthContext { org_id: org, role, client_key, display_name })
}

/// The request as handlers see it, decoded by the same strict rules as the local server
/// (`request_decoding`): the query from the raw query string (API Gateway HTTP API passes it as
/// sent; lambda_http rebuilds an encoded one for REST), path parameters decoded for REST (which
/// passes them encoded) and checked for the HTTP API (which passes them decoded). An undecodable
/// parameter is a 400 naming it.
pub fn to_api_request(req: &Request, auth: AuthContext) -> Result<ApiRequest, ApiError> {
    let bad = |e: crate::http::request_decoding::DecodeError| ApiError::BadRequest(e.to_string());
    let query = decode_query(req.uri().query()).map_err(bad)?;
    let encoded_path_params = matches!(req.request_context_ref(), Some(RequestContext::ApiGatewayV1(_)));
    let mut path_params = HashMap::new();
    for (name, value) in req.path_parameters().iter() {
        let value = if encoded_path_params {
            decode_path_segment(name, value).map_err(bad)?
        } else {
            check_decoded(name, value).map_err(bad)?;
            value.to_string()
        };
        path_params.insert(name.to_string(), value);
    }
    Ok(ApiRequest {
        method: req.method().as_str().to_string(),
        path: req.uri().path().to_string(),
        path_params,
        query,
        headers: req
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_string())))
            .collect::<HashMap<_, _>>(),
        body: req.body().as_ref().to_vec(),
        auth,
        request_id: req.lambda_context_ref().map(|c| c.request_id.clone()).unwrap_or_default(),
    })
}

/// The Lambda response for `resp` (`ApiResponse::into_http`: a 500 when it cannot be built).
pub fn to_lambda_response(resp: ApiResponse) -> Response<Body> {
    resp.into_http(Body::Text)
}

/// Entry point of every HTTP Lambda binary: `main` passes its operation,
/// `run_http(operations::link_customer::handle)`, so a binary links only the operation it runs.
/// Its metrics (`crate::metrics`) are named after the operation and flushed after each invocation.
pub async fn run_http<H>(handler: H) -> Result<(), lambda_http::Error>
where
    H: for<'a> Operation<'a> + Copy + Send + Sync + 'static,
{
    crate::logging::init();
    crate::metrics::init(crate::metrics::Scope::of_handler(std::any::type_name::<H>()));
    let state = init_state().await?;
    lambda_http::run(lambda_http::service_fn(move |req: Request| {
        let state = state.clone();
        async move {
            let started = Instant::now();
            let trace_id = req.lambda_context_ref().and_then(|c| c.xray_trace_id.clone());
            let resp = respond(&state, handler, req).await;
            crate::metrics::request(resp.status().as_u16(), started.elapsed());
            crate::metrics::flush(trace_id.as_deref().or(crate::metrics::lambda_trace_id().as_deref()));
            Ok::<_, lambda_http::Error>(resp)
        }
    }))
    .await
}

/// One invocation's response: the request refused (no authorizer context, too large, undecodable)
/// or dispatched to `handler`.
async fn respond<H>(state: &AppState, handler: H, req: Request) -> Response<Body>
where
    H: for<'a> Operation<'a>,
{
    let Some(auth) = auth_from_context(req.request_context_ref()) else {
        // Reached only if the route is deployed without the authorizer: refuse, never guess.
        tracing::error!("request without authorizer context");
        return to_lambda_response(ApiError::Unauthorized("no authorizer context".into()).into());
    };
    if req.body().len() > MAX_BODY_BYTES {
        return to_lambda_response(ApiError::PayloadTooLarge.into());
    }
    match to_api_request(&req, auth) {
        Ok(api_req) => {
            let deadline = write_deadline(req.lambda_context_ref().map(|c| c.deadline()));
            to_lambda_response(dispatch(state, handler, api_req, Some(deadline)).await)
        }
        Err(e) => {
            let resp = ApiResponse::from(e);
            let (method, path) = (req.method(), req.uri().path());
            tracing::info!(%method, %path, status = resp.status, "request refused");
            to_lambda_response(resp)
        }
    }
}

/// Room kept at the end of an invocation for the last read and write a retried change starts
/// (two SDK operation timeouts, `state::sdk_limits`) plus the response.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(4500);

/// The instant after which no write of this invocation starts another attempt: the invocation's
/// deadline minus `DEADLINE_MARGIN` (now, when it is already that close). Without a known deadline
/// only `Config::write_request_budget` applies (`router::dispatch` takes the earlier of the two).
pub fn write_deadline(invocation_deadline: Option<std::time::SystemTime>) -> Instant {
    let remaining = match invocation_deadline {
        Some(d) => {
            d.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO).saturating_sub(DEADLINE_MARGIN)
        }
        None => Duration::from_secs(3600),
    };
    Instant::now() + remaining
}

/// What every Lambda binary builds once per container: config from the environment, the DynamoDB
/// client and a warm connection. A failure (a missing `TABLE_NAME`, an unparsable setting) is
/// posted to the Runtime API's `/init/error`, so the invoker sees the message instead of a bare
/// "Runtime exited", and returned so `main` exits.
pub async fn init_state() -> Result<Arc<AppState>, lambda_runtime::Error> {
    match AppState::from_env().await {
        Ok(state) => {
            state.warm_up().await;
            Ok(Arc::new(state))
        }
        Err(e) => Err(init_failed("Runtime.InvalidConfiguration", e.to_string()).await),
    }
}

/// Logs an init failure, reports it through the Runtime API and hands it back as the error `main`
/// returns. lambda_runtime posts `/init/error` only for SnapStart hooks, not for failures before
/// `run`, hence this.
pub async fn init_failed(error_type: &str, message: String) -> lambda_runtime::Error {
    tracing::error!(error_type, message = %message, "init failed");
    if let Err(e) = report_init_error(error_type, &message).await {
        tracing::error!(error = %e, "could not report the init error to the Runtime API");
    }
    message.into()
}

/// Posts `{errorType, errorMessage}` to `/2018-06-01/runtime/init/error`. Outside Lambda
/// (no `AWS_LAMBDA_RUNTIME_API`) there is nobody to tell and this does nothing.
async fn report_init_error(error_type: &str, message: &str) -> Result<(), lambda_runtime::Error> {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        return Ok(());
    };
    let base: lambda_http::http::Uri = format!("http://{api}").parse()?;
    let client = lambda_runtime_api_client::PooledClient::builder().with_endpoint(base).build();
    let body = serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string();
    let req = lambda_runtime_api_client::build_request()
        .method("POST")
        .uri("/2018-06-01/runtime/init/error")
        .header("lambda-runtime-function-error-type", error_type)
        .header("content-type", "application/json")
        .body(lambda_runtime_api_client::body::Body::from(body))?;
    let resp = client.call(req).await?;
    if !resp.status().is_success() {
        return Err(format!("/init/error answered {}", resp.status()).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::api::UNBUILDABLE_RESPONSE;

    #[test]
    fn writes_stop_retrying_in_time_for_the_invocation_deadline() {
        let now = std::time::SystemTime::now();
        let in_25s = write_deadline(Some(now + Duration::from_secs(25)));
        let left = in_25s.saturating_duration_since(Instant::now());
        assert!(left <= Duration::from_millis(20_500) && left >= Duration::from_millis(20_000), "{left:?}");
        assert!(write_deadline(Some(now + Duration::from_secs(2))) <= Instant::now());
        assert!(write_deadline(Some(now - Duration::from_secs(2))) <= Instant::now());
        assert!(write_deadline(None) > Instant::now() + Duration::from_secs(60));
    }

    #[test]
    fn a_response_that_cannot_be_built_is_a_500_not_an_empty_success() {
        let ok = to_lambda_response(ApiResponse::json(200, &serde_json::json!({"a": 1})));
        assert_eq!(ok.status(), 200);
        let bad = ApiResponse::json(200, &serde_json::json!({})).with_header("x-bad", "line\nbreak");
        let resp = to_lambda_response(bad);
        assert_eq!(resp.status(), 500);
        let Body::Text(body) = resp.body() else { panic!("not a text body") };
        assert_eq!(body, UNBUILDABLE_RESPONSE);
        let status = ApiResponse::json(1000, &serde_json::json!({}));
        assert_eq!(to_lambda_response(status).status(), 500);
    }
}
