//! Lambda for `PartnerFileWorkerFunction` in template.yaml: the chunk queue's messages; runs
//! `shared::file_sync::lambda::handle_sqs_event` and reports failed chunks for redelivery.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use shared::file_sync::lambda::{handle_sqs_event, init};
use shared::metrics::Scope;
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    shared::metrics::init(Scope { function: "partner-file-worker", operation: "partnerFileWorker" });
    let fs = Arc::new(init().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<aws_lambda_events::sqs::SqsEvent>| {
        let fs = fs.clone();
        async move {
            let trace_id = event.context.xray_trace_id.clone();
            let response = handle_sqs_event(&fs, event.payload).await;
            shared::metrics::flush(trace_id.as_deref());
            Ok::<_, Error>(response)
        }
    }))
    .await
}
