//! Lambda for `TierExpirySweepFunction` in template.yaml: invoked by an EventBridge schedule, runs
//! the sweep once until its deadline and returns the JSON summary. The sweep lives in `shared`.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::http::lambda_adapter::{init_failed, init_state};
use shared::sweep::{handle_scheduled, SweepSettings};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let settings = match SweepSettings::from_env() {
        Ok(s) => Arc::new(s),
        Err(e) => return Err(init_failed("Runtime.InvalidConfiguration", e.to_string()).await),
    };
    let state = init_state().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (state, settings) = (state.clone(), settings.clone());
        async move { handle_scheduled(&state, &settings, event).await }
    }))
    .await
}
