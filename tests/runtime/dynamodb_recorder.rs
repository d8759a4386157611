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
        let (listener, addr) = devtools::loopback::bind().await.expect("bind recorder");
        let calls = Arc::new(Mutex::new(Vec::new()));
        let recorded = calls.clone();
        let server = devtools::loopback::serve(listener, move |req| {
            let (calls, upstream) = (recorded.clone(), upstream.clone());
            async move { Ok::<_, std::convert::Infallible>(forward(&calls, &upstream, req).await) }
        });
        let endpoint = format!("http://{addr}");
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
    devtools::loopback::forward(upstream, &parts, body).await.unwrap_or_else(|e| {
        let mut resp = Response::new(Full::new(Bytes::from(format!("recorder could not reach DynamoDB Local: {e}"))));
        *resp.status_mut() = StatusCode::BAD_GATEWAY;
        resp
    })
}
