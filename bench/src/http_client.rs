//! A minimal HTTP/1.1 client for the load driver: one keep-alive connection per worker
//! (TCP_NODELAY), requests sent one after another on it.

use crate::Error;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// One request of a plan.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: &'static str,
    /// Path and query.
    pub uri: String,
    pub body: Option<String>,
    pub headers: Vec<(String, String)>,
}

impl Req {
    pub fn get(uri: String) -> Req {
        Req { method: "GET", uri, body: None, headers: Vec::new() }
    }

    pub fn post(uri: &str, body: serde_json::Value) -> Req {
        Req { method: "POST", uri: uri.to_string(), body: Some(body.to_string()), headers: Vec::new() }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Req {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// What came back, and how long it took from sending to the last body byte.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub body: Bytes,
    pub request_id: Option<String>,
    pub latency: Duration,
}

pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    authorization: String,
}

impl Conn {
    pub async fn open(addr: SocketAddr, authorization: &str) -> Result<Conn, Error> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn { sender, host: addr.to_string(), authorization: authorization.to_string() })
    }

    pub async fn send(&mut self, req: &Req) -> Result<Resp, Error> {
        let mut builder = hyper::Request::builder()
            .method(req.method)
            .uri(req.uri.as_str())
            .header("host", self.host.as_str())
            .header("authorization", self.authorization.as_str());
        if req.body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        for (k, v) in &req.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let request = builder.body(Full::new(Bytes::from(req.body.clone().unwrap_or_default())))?;
        self.sender.ready().await?;
        let started = Instant::now();
        let resp = self.sender.send_request(request).await?;
        let status = resp.status().as_u16();
        let request_id = resp.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(Resp { status, body, request_id, latency: started.elapsed() })
    }
}

/// Sends `req` on a fresh connection and expects `status`; returns the body as JSON.
pub async fn call(addr: SocketAddr, authorization: &str, req: &Req, status: u16) -> Result<serde_json::Value, Error> {
    let mut conn = Conn::open(addr, authorization).await?;
    let resp = conn.send(req).await?;
    if resp.status != status {
        return Err(format!(
            "{} {} answered {} (expected {status}): {}",
            req.method,
            req.uri,
            resp.status,
            String::from_utf8_lossy(&resp.body)
        )
        .into());
    }
    Ok(serde_json::from_slice(&resp.body).unwrap_or(serde_json::Value::Null))
}
