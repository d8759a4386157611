//! The import's and the worker's Lambda events: an S3 notification (each record an object) and
//! an SQS batch (each record a chunk), answered as Lambda expects. The binaries only wire these.

use super::chunk::ChunkMessage;
use super::import::{import_object, ImportOutcome};
use super::worker::process_chunk;
use super::FileSync;
use crate::config::file_sync::FileSyncSettings;
use aws_lambda_events::s3::S3Event;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

/// The state, bucket and queue of a partner file function; a bad setting fails init with its
/// message, as every function's does.
pub async fn init() -> Result<FileSync, lambda_runtime::Error> {
    let state = crate::http::lambda_adapter::init_state().await?;
    match FileSyncSettings::from_env() {
        Ok(settings) => Ok(FileSync::new(state, settings).await),
        Err(e) => Err(crate::http::lambda_adapter::init_failed("Runtime.InvalidConfiguration", e.to_string()).await),
    }
}

/// S3 writes object keys URL-encoded in its events (`+` for a space).
pub fn decode_key(raw: &str) -> String {
    form_urlencoded::parse(raw.as_bytes()).next().map(|(k, _)| k.into_owned()).unwrap_or_default()
}

/// Imports each object of `event`. An error fails the invocation, and Lambda's retries of the
/// asynchronous S3 event take the import up where it stopped.
pub async fn handle_s3_event(fs: &FileSync, event: S3Event) -> Result<Vec<ImportOutcome>, lambda_runtime::Error> {
    let mut outcomes = Vec::with_capacity(event.records.len());
    for record in event.records {
        let key = decode_key(record.s3.object.key.as_deref().unwrap_or_default());
        let etag = record.s3.object.e_tag.unwrap_or_default();
        let size = record.s3.object.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0);
        match import_object(fs, &key, &etag, size).await {
            Ok(outcome) => outcomes.push(outcome),
            Err(e) => {
                tracing::error!(error = %e, "partner file import failed; the event will be retried");
                return Err(e.to_string().into());
            }
        }
    }
    Ok(outcomes)
}

/// Applies each chunk of `event`, in order. A chunk that fails, and every one after it (a FIFO
/// queue keeps a file's order), is reported for redelivery; after five receives the queue moves
/// it to its dead-letter queue.
pub async fn handle_sqs_event(fs: &FileSync, event: SqsEvent) -> SqsBatchResponse {
    let mut failures = Vec::new();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        if !failures.is_empty() {
            failures.push(failure(id));
            continue;
        }
        let body = record.body.unwrap_or_default();
        let outcome = match serde_json::from_str::<ChunkMessage>(&body) {
            Ok(chunk) => process_chunk(fs, &chunk).await.map(|_| ()).map_err(|e| e.to_string()),
            Err(e) => Err(format!("not a chunk message: {e}")),
        };
        if let Err(e) = outcome {
            tracing::error!(error = %e, message_id = %id, "partner file chunk failed; it will be delivered again");
            failures.push(failure(id));
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
}

fn failure(id: String) -> BatchItemFailure {
    let mut failure = BatchItemFailure::default();
    failure.item_identifier = id;
    failure
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_s3_event_key_is_decoded_as_s3_encodes_it() {
        assert_eq!(decode_key("incoming/7/Sky+Miles/a%2Bb%26c%3D.csv"), "incoming/7/Sky Miles/a+b&c=.csv");
        assert_eq!(decode_key("incoming/7/SkyMiles/t%C3%A9.csv"), "incoming/7/SkyMiles/té.csv");
    }
}
