//! The local HTTP server: every route of `template.yaml` (through `router`) to the handlers the
//! Lambdas run, after the authorizer's authentication and the adapter's strict decoding, so only
//! the transport differs; connections are bounded in time, as API Gateway bounds them. The
//! console's files are served under `/console/` as the `console` Lambda serves them.

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use shared::http::api::{ApiRequest, ApiResponse, MAX_BODY_BYTES};
use shared::http::auth::{authenticate, AuthError};
use shared::http::console::{console_path, respond};
use shared::http::error::ApiError;
use shared::http::request_decoding::{decode_path_params, decode_query};
use shared::http::router::dispatch;
use shared::operations::routes::{match_route, operation_of, Matched};
use shared::state::AppState;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tracing::Instrument;

/// From accepting a connection (or finishing a response on it) to the end of the next request's
/// headers: covers clients that send nothing, half-sent headers and idle keep-alive connections.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// To receive a request's whole body once its headers are in.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves until the listener fails; each connection on its own task.
pub async fn serve(state: Arc<AppState>, listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let state = state.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(&state, req).await) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), svc);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection closed with an error");
            }
        });
    }
}

async fn handle(state: &AppState, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let mut resp = if console_path(req.uri().path()).is_some() {
        // The console's files, as the `console` Lambda serves them: no credentials, no data.
        respond(req.method().as_str(), req.uri().path(), req.uri().query(), header("if-none-match"))
    } else {
        // A page's script (the console) says so: its 401 then carries no Basic challenge, which
        // would make the browser ask for credentials in a dialog of its own instead of handing the
        // page the answer (docs/contract.md#authentication-and-tenancy).
        let scripted = header("x-requested-with").is_some_and(|v| v.eq_ignore_ascii_case("XMLHttpRequest"));
        let span = tracing::info_span!("request", requestId = %request_id);
        let mut resp = match operation_of(req.method().as_str(), req.uri().path()) {
            // Its metrics, as the route's Lambda records them, flushed per request into the log.
            Some(operation) => {
                let started = std::time::Instant::now();
                let scope = shared::metrics::Scope::of_handler(operation);
                let handled = handle_in_span(state, req, request_id.clone()).instrument(span);
                let resp = shared::metrics::within(scope, async {
                    let resp = handled.await;
                    shared::metrics::request(resp.status, started.elapsed());
                    resp
                })
                .await;
                shared::metrics::flush(None);
                resp
            }
            None => handle_in_span(state, req, request_id.clone()).instrument(span).await,
        };
        if scripted {
            resp.headers.retain(|(name, _)| !name.eq_ignore_ascii_case("www-authenticate"));
        }
        resp
    };
    resp = resp.with_header("x-request-id", request_id);
    resp.into_http(|text| Full::new(Bytes::from(text)))
}

/// A request refused before any handler ran (no route, bad credentials, undecodable): one log
/// line with status, method, path and the masked client key, never the secret.
fn refused(resp: impl Into<ApiResponse>, method: &str, path: &str, client_key: Option<&str>) -> ApiResponse {
    let resp = resp.into();
    let client_key = client_key.map(shared::logging::mask_key);
    tracing::info!(method, path, status = resp.status, clientKey = client_key.as_deref(), "request refused");
    resp
}

async fn handle_in_span(state: &AppState, req: hyper::Request<Incoming>, request_id: String) -> ApiResponse {
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let header = parts.headers.get("authorization").and_then(|v| v.to_str().ok());
    let client_key = header.and_then(|h| shared::http::auth::parse_basic(h).ok()).map(|(key, _)| key);
    match match_route(&method, &path) {
        Matched::NotFound => refused(
            ApiError::RouteNotFound { method: method.clone(), path: path.clone() },
            &method,
            &path,
            client_key.as_deref(),
        ),
        Matched::MethodNotAllowed => refused(
            ApiError::MethodNotAllowed { method: method.clone(), path: path.clone() },
            &method,
            &path,
            client_key.as_deref(),
        ),
        Matched::Found(handler, raw_params) => match authenticate(&state.store, header).await {
            Err(AuthError::Store(e)) => {
                tracing::error!(error = %e, "authentication lookup failed");
                ApiResponse::from(ApiError::unavailable(&request_id))
            }
            Err(e) => refused(ApiError::Unauthorized(e.to_string()), &method, &path, client_key.as_deref()),
            Ok(auth) => {
                let decoded = decode_path_params(raw_params).and_then(|p| Ok((p, decode_query(parts.uri.query())?)));
                match decoded {
                    Err(e) => refused(ApiError::BadRequest(e.to_string()), &method, &path, client_key.as_deref()),
                    Ok((path_params, query)) => {
                        match tokio::time::timeout(BODY_READ_TIMEOUT, Limited::new(body, MAX_BODY_BYTES).collect())
                            .await
                        {
                            Err(_) => refused(request_timeout(), &method, &path, client_key.as_deref()),
                            Ok(Err(_)) => ApiError::PayloadTooLarge.into(),
                            Ok(Ok(collected)) => {
                                let headers = parts
                                    .headers
                                    .iter()
                                    .filter_map(|(k, v)| {
                                        Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_string()))
                                    })
                                    .collect();
                                let api_req = ApiRequest {
                                    method,
                                    path,
                                    path_params,
                                    query,
                                    headers,
                                    body: collected.to_bytes().to_vec(),
                                    auth,
                                    request_id: request_id.clone(),
                                };
                                dispatch(state, handler, api_req, None).await
                            }
                        }
                    }
                }
            }
        },
    }
}

/// 408, closing the connection: the rest of a half-sent body is not worth waiting for.
fn request_timeout() -> ApiResponse {
    ApiResponse::from(ApiError::RequestTimeout { seconds: BODY_READ_TIMEOUT.as_secs() })
        .with_header("connection", "close")
}
