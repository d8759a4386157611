//! The local HTTP server: routes every path of `template.yaml` (through `router`) to the same
//! handlers the Lambda binaries run, after the same authentication the authorizer Lambda does.

use crate::api::{ApiRequest, ApiResponse, MAX_BODY_BYTES};
use crate::auth::{authenticate, AuthError};
use crate::router::{dispatch, match_route, Matched};
use crate::state::AppState;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;
use tracing::Instrument;

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
            if let Err(e) = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await {
                tracing::debug!(error = %e, "connection closed with an error");
            }
        });
    }
}

async fn handle(state: &AppState, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let span = tracing::info_span!("request", requestId = %request_id);
    handle_in_span(state, req, request_id).instrument(span).await
}

async fn handle_in_span(state: &AppState, req: hyper::Request<Incoming>, request_id: String) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let resp = match match_route(&method, &path) {
        Matched::NotFound => ApiResponse::error(404, 404, format!("No route for {method} {path}")),
        Matched::MethodNotAllowed => ApiResponse::error(405, 405, format!("{method} is not allowed on {path}")),
        Matched::Found(handler, path_params) => {
            let header = parts.headers.get("authorization").and_then(|v| v.to_str().ok());
            match authenticate(&state.store, header).await {
                Err(AuthError::Store(e)) => {
                    tracing::error!(error = %e, "authentication lookup failed");
                    ApiResponse::unavailable(&request_id)
                }
                Err(e) => ApiResponse::unauthorized(&e.to_string()),
                Ok(auth) => match Limited::new(body, MAX_BODY_BYTES).collect().await {
                    Err(_) => crate::api::payload_too_large(),
                    Ok(collected) => {
                        let query: HashMap<String, String> = parts
                            .uri
                            .query()
                            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                            .unwrap_or_default();
                        let headers = parts
                            .headers
                            .iter()
                            .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_string())))
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
                        dispatch(state, handler, api_req).await
                    }
                },
            }
        }
    };
    let mut builder = hyper::Response::builder().status(resp.status).header("x-request-id", request_id);
    for (k, v) in &resp.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder.body(Full::new(Bytes::from(resp.body))).unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
}
