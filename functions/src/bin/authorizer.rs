//! Lambda for `AuthorizerFunction`: the HTTP API's Lambda authorizer (simple responses).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    shared::metrics::init(shared::metrics::Scope { function: "authorizer", operation: "authorize" });
    let state = shared::http::lambda_adapter::init_state().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let state = state.clone();
        async move {
            let decision = shared::http::authorizer::authorize(&state.store, &event.payload).await;
            shared::metrics::flush(event.context.xray_trace_id.as_deref());
            Ok::<Value, Error>(decision?)
        }
    }))
    .await
}
