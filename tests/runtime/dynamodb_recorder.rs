//! A recording proxy in front of DynamoDB Local: a function's `AWS_ENDPOINT_URL_DYNAMODB` points
//! here, every request is forwarded unchanged, and the operation it called (with the index it
//! queried and the kinds of items in a transaction) is kept, so a test can compare what the binary
//! really called with the IAM actions its template policy grants.

use crate::template::Grant;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct SdkCall {
    /// `GetItem`, `Query`, `TransactWriteItems`, ...
    pub operation: String,
    pub index: Option<String>,
    /// For `TransactWriteItems`/`TransactGetItems`: `Put`, `Update`, `Delete`, `ConditionCheck`, `Get`.
    pub items: Vec<String>,
    /// The read every container makes during init to open its connection (key `ORG#0`).
    pub warm_up: bool,
}

impl SdkCall {
    /// The IAM actions (and resources) this call needs. Transactions are authorised per item.
    pub fn grants(&self) -> Vec<Grant> {
        let table = |action: &str| Grant::table(&format!("dynamodb:{action}"));
        match self.operation.as_str() {
            "TransactWriteItems" | "TransactGetItems" => self
                .items
                .iter()
                .map(|kind| match kind.as_str() {
                    "ConditionCheck" => table("ConditionCheckItem"),
                    other => table(&format!("{other}Item")),
                })
                .collect(),
            "Query" | "Scan" => match &self.index {
                Some(index) => vec![Grant::index(&format!("dynamodb:{}", self.operation), index)],
                None => vec![table(&self.operation)],
            },
            op => vec![table(op)],
        }
    }
}

pub struct DynamoDbRecorder {
    pub endpoint: String,
    calls: Arc<Mutex<Vec<SdkCall>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for DynamoDbRecorder {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl DynamoDbRecorder {
    /// Forwards to `upstream` (`http://host:port`, DynamoDB Local).
    pub async fn start(upstream: &str) -> DynamoDbRecorder {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind recorder");
        let endpoint = format!("http://{}", listener.local_addr().expect("recorder address"));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let recorded = calls.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (calls, upstream) = (recorded.clone(), upstream.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let (calls, upstream) = (calls.clone(), upstream.clone());
                        async move { Ok::<_, hyper::Error>(forward(&calls, &upstream, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        DynamoDbRecorder { endpoint, calls, server }
    }

    pub fn calls(&self) -> Vec<SdkCall> {
        self.calls.lock().unwrap().clone()
    }

    /// The IAM grants the recorded calls needed, the init warm-up read left out (it is allowed to be
    /// denied: see `AppState::warm_up`).
    pub fn grants_used(&self) -> BTreeSet<Grant> {
        self.calls().iter().filter(|c| !c.warm_up).flat_map(SdkCall::grants).collect()
    }
}

fn describe(target: &str, body: &[u8]) -> SdkCall {
    let operation = target.rsplit('.').next().unwrap_or(target).to_string();
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let index = json.get("IndexName").and_then(Value::as_str).map(str::to_string);
    let items = json
        .get("TransactItems")
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(|i| i.as_object()?.keys().next().cloned()).collect())
        .unwrap_or_default();
    let warm_up = operation == "GetItem"
        && json.pointer("/Key/PK/S").and_then(Value::as_str) == Some(shared::storage::keys::org(0).pk.as_str());
    SdkCall { operation, index, items, warm_up }
}

async fn forward(calls: &Mutex<Vec<SdkCall>>, upstream: &str, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    if let Some(target) = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        calls.lock().unwrap().push(describe(target, &body));
    }
    let result = async {
        let stream = tokio::net::TcpStream::connect(upstream).await.map_err(|e| e.to_string())?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let mut up = Request::builder()
            .method(parts.method.clone())
            .uri(parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
        for (k, v) in &parts.headers {
            up = up.header(k, v);
        }
        let resp = sender
            .send_request(up.body(Full::new(body)).map_err(|e| e.to_string())?)
            .await
            .map_err(|e| e.to_string())?;
        let (rparts, rbody) = resp.into_parts();
        let rbody = rbody.collect().await.map_err(|e| e.to_string())?.to_bytes();
        let mut out = Response::new(Full::new(rbody));
        *out.status_mut() = rparts.status;
        for (k, v) in &rparts.headers {
            if k != "transfer-encoding" && k != "content-length" {
                out.headers_mut().append(k, v.clone());
            }
        }
        Ok::<_, String>(out)
    }
    .await;
    result.unwrap_or_else(|e| {
        let mut resp = Response::new(Full::new(Bytes::from(format!("recorder could not reach DynamoDB Local: {e}"))));
        *resp.status_mut() = StatusCode::BAD_GATEWAY;
        resp
    })
}
