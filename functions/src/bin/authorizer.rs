//! Lambda for `AuthorizerFunction`: the HTTP API's Lambda authorizer (simple responses).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::state::AppState;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let state = Arc::new(AppState::from_env().await?);
    state.warm_up().await;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let state = state.clone();
        async move { Ok::<Value, Error>(shared::authorizer::authorize(&state.store, &event.payload).await?) }
    }))
    .await
}
