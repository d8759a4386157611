//! A recording proxy in front of moto (S3 and SQS): a partner file function's
//! `AWS_ENDPOINT_URL_S3` and `AWS_ENDPOINT_URL_SQS` point here, every request is forwarded
//! unchanged, and the IAM action and resource each request needs is kept (a key of the files
//! bucket as `bucket/<prefix>/*`, the chunk queue as `queue/PartnerFileChunkQueue`), so a test can
//! hold what the binary really called to its template policy, as `dynamodb_recorder` does.

use crate::common::moto::FileStage;
use crate::template::Grant;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

pub struct AwsRecorder {
    pub endpoint: String,
    grants: Arc<Mutex<Vec<Grant>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for AwsRecorder {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl AwsRecorder {
    /// Forwards to `upstream` (moto's `http://host:port`); names `stage`'s bucket and queue.
    pub async fn start(upstream: &str, stage: &FileStage) -> AwsRecorder {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_string();
        let (listener, addr) = devtools::loopback::bind().await.expect("bind recorder");
        let grants = Arc::new(Mutex::new(Vec::new()));
        let recorded = grants.clone();
        let stage = stage.clone();
        let server = devtools::loopback::serve(listener, move |req| {
            let (grants, upstream, stage) = (recorded.clone(), upstream.clone(), stage.clone());
            async move { Ok::<_, std::convert::Infallible>(forward(&grants, &upstream, &stage, req).await) }
        });
        AwsRecorder { endpoint: format!("http://{addr}"), grants, server }
    }

    pub fn grants_used(&self) -> BTreeSet<Grant> {
        self.grants.lock().unwrap().iter().cloned().collect()
    }
}

/// The IAM action and resource of one SQS request (JSON protocol, `X-Amz-Target`).
fn sqs_grant(target: &str, body: &[u8], stage: &FileStage) -> Grant {
    let op = target.rsplit('.').next().unwrap_or(target);
    // Batch calls are authorised as their single-message action.
    let action = op.strip_suffix("Batch").unwrap_or(op);
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let url = json["QueueUrl"].as_str().unwrap_or_default();
    let queue = if url == stage.queue_url { "queue/PartnerFileChunkQueue".to_string() } else { format!("queue?{url}") };
    Grant::on(&format!("sqs:{action}"), &queue)
}

/// The IAM action and resource of one S3 request (path-style: `/<bucket>/<key>?<query>`).
fn s3_grant(method: &Method, path: &str, query: &str, stage: &FileStage) -> Grant {
    let path = path.trim_start_matches('/');
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    let resource = if bucket != stage.bucket {
        format!("another bucket {bucket}")
    } else if key.is_empty() {
        "bucket".to_string()
    } else {
        format!("bucket/{}/*", key.split('/').next().unwrap_or_default())
    };
    let multipart = query.split('&').any(|p| p.starts_with("uploadId"));
    let action = match (method.as_str(), key.is_empty(), multipart) {
        ("GET" | "HEAD", true, _) => "s3:ListBucket",
        ("GET" | "HEAD", false, _) => "s3:GetObject",
        ("DELETE", false, true) => "s3:AbortMultipartUpload",
        ("DELETE", _, _) => "s3:DeleteObject",
        // PutObject, CreateMultipartUpload, UploadPart, CompleteMultipartUpload.
        ("PUT" | "POST", false, _) => "s3:PutObject",
        _ => "s3:?",
    };
    Grant::on(action, &resource)
}

async fn forward(
    grants: &Mutex<Vec<Grant>>,
    upstream: &str,
    stage: &FileStage,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let grant = match parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        Some(target) if target.starts_with("AmazonSQS.") => sqs_grant(target, &body, stage),
        _ => s3_grant(&parts.method, parts.uri.path(), parts.uri.query().unwrap_or_default(), stage),
    };
    grants.lock().unwrap().push(grant);
    devtools::loopback::forward(upstream, &parts, body).await.unwrap_or_else(|e| {
        let mut resp = Response::new(Full::new(Bytes::from(format!("recorder could not reach moto: {e}"))));
        *resp.status_mut() = StatusCode::BAD_GATEWAY;
        resp
    })
}
