//! Lambda for `ConsoleFunction` in template.yaml: the member-care console's static files
//! (`shared::http::console`). Its routes carry no authorizer: it serves no data, and every data
//! call the page makes goes to the API with the agent's own credentials.

use lambda_http::{Request, RequestExt};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::logging::init();
    shared::metrics::init(shared::metrics::Scope { function: "console", operation: "console" });
    lambda_http::run(lambda_http::service_fn(|req: Request| async move {
        let started = std::time::Instant::now();
        let path = req.raw_http_path();
        let if_none_match = req.headers().get("if-none-match").and_then(|v| v.to_str().ok());
        let resp = shared::http::console::respond(req.method().as_str(), path, req.uri().query(), if_none_match);
        shared::metrics::request(resp.status, started.elapsed());
        shared::metrics::flush(req.lambda_context_ref().and_then(|c| c.xray_trace_id.as_deref()));
        Ok::<_, lambda_http::Error>(shared::http::lambda_adapter::to_lambda_response(resp))
    }))
    .await
}
