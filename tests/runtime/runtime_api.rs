//! A Lambda Runtime API emulator on a loopback port: the HTTP interface a `provided.al2023` sandbox
//! gives the bootstrap (`/2018-06-01/runtime/invocation/next`, `/invocation/{id}/response`,
//! `/invocation/{id}/error`, `/init/error`). Tests queue events and read what the binary answered.
//! `make bench` (bench/src/main.rs) compiles this same file to time our binaries and the peer.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot, Notify};

const PREFIX: &str = "/2018-06-01/runtime";

/// What the function reported for one invocation.
#[derive(Debug)]
pub enum Outcome {
    Response(Vec<u8>),
    Error { error_type: Option<String>, body: Value },
}

#[derive(Debug, Clone)]
pub struct InitError {
    pub error_type: Option<String>,
    pub body: Value,
}

struct Invocation {
    id: String,
    payload: Vec<u8>,
}

struct Inner {
    function_name: String,
    queue_tx: mpsc::UnboundedSender<Invocation>,
    queue_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    first_poll: Mutex<Option<Instant>>,
    init_error: Mutex<Option<InitError>>,
    changed: Notify,
}

pub struct RuntimeApi {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    pub async fn start(function_name: &str) -> RuntimeApi {
        let (listener, addr) = devtools::loopback::bind().await.expect("bind runtime api");
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            function_name: function_name.to_string(),
            queue_tx,
            queue_rx: tokio::sync::Mutex::new(queue_rx),
            pending: Mutex::new(HashMap::new()),
            first_poll: Mutex::new(None),
            init_error: Mutex::new(None),
            changed: Notify::new(),
        });
        let shared = inner.clone();
        let server = devtools::loopback::serve(listener, move |req| {
            let inner = shared.clone();
            async move { Ok::<_, std::convert::Infallible>(handle(&inner, req).await) }
        });
        RuntimeApi { addr, inner, server }
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// Queues one event and waits for the function's `/response` or `/error`.
    pub async fn invoke(&self, payload: impl Into<Vec<u8>>, timeout: Duration) -> Result<Outcome, String> {
        let id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        self.inner.pending.lock().unwrap().insert(id.clone(), tx);
        self.inner.queue_tx.send(Invocation { id: id.clone(), payload: payload.into() }).map_err(|_| "queue closed")?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(_)) => Err(format!("invocation {id} dropped")),
            Err(_) => Err(format!("no response to invocation {id} within {timeout:?} (hung or crashed)")),
        }
    }

    /// When the function first asked for an event (init finished), waiting up to `timeout`.
    pub async fn first_poll(&self, timeout: Duration) -> Option<Instant> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.inner.changed.notified();
            if let Some(at) = *self.inner.first_poll.lock().unwrap() {
                return Some(at);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// The `/init/error` report, waiting up to `timeout` for one.
    pub async fn init_error(&self, timeout: Duration) -> Option<InitError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.inner.changed.notified();
            if let Some(e) = self.inner.init_error.lock().unwrap().clone() {
                return Some(e);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    pub fn polled(&self) -> bool {
        self.inner.first_poll.lock().unwrap().is_some()
    }
}

fn reply(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp
}

async fn handle(inner: &Inner, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let error_type =
        req.headers().get("lambda-runtime-function-error-type").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = req.into_body().collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return reply(StatusCode::NOT_FOUND, "unknown path");
    };
    match (method.as_str(), rest) {
        ("GET", "/invocation/next") => {
            {
                let mut first = inner.first_poll.lock().unwrap();
                if first.is_none() {
                    *first = Some(Instant::now());
                }
            }
            inner.changed.notify_waiters();
            // Long poll, as the real API does: block until a test queues an event.
            let Some(inv) = inner.queue_rx.lock().await.recv().await else {
                return reply(StatusCode::GONE, "shutting down");
            };
            let deadline_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() + 30_000;
            Response::builder()
                .status(StatusCode::OK)
                .header("lambda-runtime-aws-request-id", inv.id.as_str())
                .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
                .header(
                    "lambda-runtime-invoked-function-arn",
                    format!("arn:aws:lambda:us-east-1:123456789012:function:{}", inner.function_name),
                )
                .header(
                    "lambda-runtime-trace-id",
                    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
                )
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(inv.payload)))
                .unwrap_or_else(|_| reply(StatusCode::INTERNAL_SERVER_ERROR, "bad response"))
        }
        ("POST", "/init/error") => {
            let body = serde_json::from_slice(&body).unwrap_or(Value::String(String::from_utf8_lossy(&body).into()));
            *inner.init_error.lock().unwrap() = Some(InitError { error_type, body });
            inner.changed.notify_waiters();
            reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        ("POST", rest) if rest.starts_with("/invocation/") => {
            let tail = &rest["/invocation/".len()..];
            let (id, outcome) = if let Some(id) = tail.strip_suffix("/response") {
                (id, Outcome::Response(body))
            } else if let Some(id) = tail.strip_suffix("/error") {
                let body =
                    serde_json::from_slice(&body).unwrap_or(Value::String(String::from_utf8_lossy(&body).into()));
                (id, Outcome::Error { error_type, body })
            } else {
                return reply(StatusCode::NOT_FOUND, "unknown path");
            };
            match inner.pending.lock().unwrap().remove(id) {
                Some(tx) => {
                    let _ = tx.send(outcome);
                    reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
                }
                // The real API answers 400 for an unknown or already answered request id.
                None => reply(StatusCode::BAD_REQUEST, "unknown or already answered request id"),
            }
        }
        _ => reply(StatusCode::NOT_FOUND, "unknown path"),
    }
}
