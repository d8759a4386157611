//! Plain HTTP/1.1 on loopback, for the test doubles and tools that stand in for AWS (the Runtime
//! API emulator, the DynamoDB recorder and fault proxy of the tests) and for requests to them: a
//! server that runs a handler per request, a one-request client, and forwarding to an upstream.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use std::future::Future;
use tokio::net::TcpListener;

/// The error a handler may return: hyper then closes the connection without an answer (how the
/// fault proxy resets one).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A listener on a free loopback port, with its address.
pub async fn bind() -> std::io::Result<(TcpListener, std::net::SocketAddr)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

/// Serves `listener` until it fails or the returned task is aborted, each connection on its own
/// task, `handler` answering every request.
pub fn serve<H, Fut, E>(listener: TcpListener, handler: H) -> tokio::task::JoinHandle<()>
where
    H: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Full<Bytes>>, E>> + Send + 'static,
    E: Into<BoxError>,
{
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            // Without it, a response written in more than one segment waits for the peer's
            // delayed ACK (~40 ms) and every exchange looks that much slower.
            let _ = stream.set_nodelay(true);
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(handler);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

/// Sends one request on a fresh connection to `authority` (`host:port`) and reads the whole answer.
pub async fn send(authority: &str, req: Request<Full<Bytes>>) -> std::io::Result<Response<Bytes>> {
    let stream = tokio::net::TcpStream::connect(authority).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(conn);
    let resp = sender.send_request(req).await.map_err(std::io::Error::other)?;
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.map_err(std::io::Error::other)?.to_bytes();
    Ok(Response::from_parts(parts, bytes))
}

/// Forwards a request, as received, to `upstream` (`host:port`) and returns its answer unchanged
/// but for the framing headers, which hyper sets again for the buffered body.
pub async fn forward(
    upstream: &str,
    parts: &hyper::http::request::Parts,
    body: Bytes,
) -> std::io::Result<Response<Full<Bytes>>> {
    let mut req =
        Request::builder().method(parts.method.clone()).uri(parts.uri.path_and_query().map_or("/", |p| p.as_str()));
    for (k, v) in &parts.headers {
        req = req.header(k, v);
    }
    let resp = send(upstream, req.body(Full::new(body)).map_err(std::io::Error::other)?).await?;
    let (mut rparts, rbody) = resp.into_parts();
    rparts.headers.remove(hyper::header::TRANSFER_ENCODING);
    rparts.headers.remove(hyper::header::CONTENT_LENGTH);
    Ok(Response::from_parts(rparts, Full::new(rbody)))
}
