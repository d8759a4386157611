//! Lambda for `PartnerFileImportFunction` in template.yaml: the bucket's ObjectCreated events on
//! `incoming/`; runs `shared::file_sync::lambda::handle_s3_event`.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use shared::file_sync::lambda::{handle_s3_event, init};
use shared::metrics::Scope;
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    shared::metrics::init(Scope { function: "partner-file-import", operation: "partnerFileImport" });
    let fs = Arc::new(init().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<aws_lambda_events::s3::S3Event>| {
        let fs = fs.clone();
        async move {
            let trace_id = event.context.xray_trace_id.clone();
            let result = handle_s3_event(&fs, event.payload).await;
            shared::metrics::flush(trace_id.as_deref());
            result.map(|files| serde_json::json!({ "files": files }))
        }
    }))
    .await
}
