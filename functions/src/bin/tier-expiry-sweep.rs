//! Lambda for `TierExpirySweepFunction` in template.yaml: invoked by an EventBridge schedule, runs
//! the sweep once until its deadline and returns the JSON summary. The sweep lives in `shared`.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use shared::http::lambda_adapter::init_state;
use shared::metrics::Scope;
use shared::sweep::handle_scheduled;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    shared::metrics::init(Scope { function: "tier-expiry-sweep", operation: "tierExpirySweep" });
    // The sweep's settings are part of the state's configuration: a bad one fails init here.
    let state = init_state().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let state = state.clone();
        async move {
            let trace_id = event.context.xray_trace_id.clone();
            let result = handle_scheduled(&state, event).await;
            shared::metrics::flush(trace_id.as_deref());
            result
        }
    }))
    .await
}
