//! Partner files run locally (`make import`, the tests, the bench): the bucket and FIFO queue made
//! on an S3/SQS emulator (moto), an upload, the import function's own code on the S3 event it
//! would get, and the worker's own code on each batch the queue gives, as Lambda's event source
//! would deliver it (a batch item failure left for redelivery, the rest deleted). A dev tool.

use aws_lambda_events::s3::{S3Bucket, S3Entity, S3Event, S3EventRecord, S3Object};
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::QueueAttributeName;
use shared::config::file_sync::FileSyncSettings;
use shared::file_sync::import::ImportOutcome;
use shared::file_sync::lambda::{handle_s3_event, handle_sqs_event};
use shared::file_sync::FileSync;
use std::time::Duration;

pub use crate::cli::Error;

/// Receives before a chunk goes to the dead-letter queue, as template.yaml's redrive policy.
pub const MAX_RECEIVES: u32 = 5;

/// A bucket and a FIFO chunk queue with its FIFO dead-letter queue, on the emulator.
#[derive(Debug, Clone)]
pub struct Stage {
    pub bucket: String,
    pub queue_url: String,
    pub queue_arn: String,
    pub dlq_url: String,
    pub dlq_arn: String,
}

impl Stage {
    /// The environment a partner-file binary gets for this stage (besides TABLE_NAME):
    /// FILES_BUCKET and FILES_QUEUE_URL as template.yaml sets them, and the emulator's endpoints.
    pub fn environment(&self) -> Vec<(String, String)> {
        let endpoint = |name: &str| (name.to_string(), std::env::var(name).unwrap_or_default());
        vec![
            ("FILES_BUCKET".to_string(), self.bucket.clone()),
            ("FILES_QUEUE_URL".to_string(), self.queue_url.clone()),
            endpoint("AWS_ENDPOINT_URL_S3"),
            endpoint("AWS_ENDPOINT_URL_SQS"),
        ]
    }

    /// The file sync settings naming this stage (the rest from the environment).
    pub fn settings(&self) -> Result<FileSyncSettings, Error> {
        let env = self.environment();
        let lookup = |name: &str| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).or_else(|| std::env::var(name).ok())
        };
        Ok(FileSyncSettings::from_lookup(lookup)?)
    }
}

/// Bucket `bucket` and FIFO queue `queue` (content-based deduplication off, `visibility` before
/// an unacknowledged chunk is delivered again) redriving to `<queue>-dlq` after
/// [`MAX_RECEIVES`], made on the emulator if missing.
pub async fn stage(bucket: &str, queue: &str, visibility: Duration) -> Result<Stage, Error> {
    let conf = shared::state::sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
    match s3.create_bucket().bucket(bucket).send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|s| s.is_bucket_already_owned_by_you()) => {}
        Err(e) => return Err(aws_sdk_s3::error::DisplayErrorContext(e).to_string().into()),
    }
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let (dlq_url, dlq_arn) = fifo_queue(&sqs, &format!("{queue}-dlq"), None, visibility).await?;
    let redrive = serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES.to_string()});
    let (queue_url, queue_arn) = fifo_queue(&sqs, queue, Some(redrive.to_string()), visibility).await?;
    Ok(Stage { bucket: bucket.to_string(), queue_url, queue_arn, dlq_url, dlq_arn })
}

/// A FIFO queue `<name>.fifo` and its URL and ARN.
async fn fifo_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    redrive: Option<String>,
    visibility: Duration,
) -> Result<(String, String), Error> {
    use QueueAttributeName as A;
    let create = sqs
        .create_queue()
        .queue_name(format!("{name}.fifo"))
        .attributes(A::FifoQueue, "true")
        .attributes(A::ContentBasedDeduplication, "false")
        .attributes(A::VisibilityTimeout, visibility.as_secs().max(1).to_string());
    let create = match redrive {
        Some(policy) => create.attributes(A::RedrivePolicy, policy),
        None => create,
    };
    let url = create.send().await?.queue_url.ok_or("CreateQueue answered no URL")?;
    let attrs = sqs.get_queue_attributes().queue_url(&url).attribute_names(A::QueueArn).send().await?;
    let arn = attrs.attributes.and_then(|mut a| a.remove(&A::QueueArn)).ok_or("no QueueArn")?;
    Ok((url, arn))
}

/// `stage`'s settings: what `make import` and the bench run on.
pub async fn provision(bucket: &str, queue: &str, visibility: Duration) -> Result<FileSyncSettings, Error> {
    stage(bucket, queue, visibility).await?.settings()
}

/// Uploads `body` as `key` and returns its ETag and size, as S3's event gives them.
pub async fn upload(fs: &FileSync, key: &str, body: Vec<u8>) -> Result<(String, u64), Error> {
    let size = body.len() as u64;
    let conf = shared::state::sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
    let out = s3
        .put_object()
        .bucket(fs.objects.bucket())
        .key(key)
        .body(body.into())
        .send()
        .await
        .map_err(|e| aws_sdk_s3::error::DisplayErrorContext(e).to_string())?;
    Ok((out.e_tag.unwrap_or_default(), size))
}

/// The ObjectCreated event S3 sends for `key` (URL-encoded, as S3 writes it).
pub fn s3_event(bucket: &str, key: &str, etag: &str, size: u64) -> S3Event {
    let encoded: String = form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>().replace("%2F", "/");
    let mut object = S3Object::default();
    object.key = Some(encoded);
    object.e_tag = Some(etag.to_string());
    object.size = i64::try_from(size).ok();
    let mut s3_bucket = S3Bucket::default();
    s3_bucket.name = Some(bucket.to_string());
    let mut entity = S3Entity::default();
    entity.bucket = s3_bucket;
    entity.object = object;
    let mut record = S3EventRecord::default();
    record.event_name = Some("ObjectCreated:Put".into());
    record.s3 = entity;
    let mut event = S3Event::default();
    event.records = vec![record];
    event
}

/// Runs the import function's code on the event of `key`.
pub async fn import(fs: &FileSync, key: &str, etag: &str, size: u64) -> Result<ImportOutcome, Error> {
    let event = s3_event(fs.objects.bucket(), key, etag, size);
    let mut outcomes = handle_s3_event(fs, event).await.map_err(|e| e.to_string())?;
    outcomes.pop().ok_or_else(|| "the import answered nothing".into())
}

/// One receive run through the worker's code as Lambda would: the batch as an `SqsEvent`, then
/// each message not reported failed deleted. Returns how many it received. One chunk per batch, as
/// template.yaml's event source (BatchSize 1): a chunk received beside others but not reached
/// before a crash would count a receive towards the dead-letter queue without being tried.
pub async fn work_once(fs: &FileSync, wait: Duration) -> Result<usize, Error> {
    let queue = fs.queue.as_ref().ok_or("no queue")?;
    let out = queue
        .client()
        .receive_message()
        .queue_url(queue.url())
        .max_number_of_messages(1)
        .wait_time_seconds(i32::try_from(wait.as_secs()).unwrap_or(1))
        .send()
        .await?;
    let messages = out.messages.unwrap_or_default();
    if messages.is_empty() {
        return Ok(0);
    }
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|m| {
            let mut record = SqsMessage::default();
            record.message_id = m.message_id.clone();
            record.body = m.body.clone();
            record
        })
        .collect();
    let response = handle_sqs_event(fs, event).await;
    let failed: Vec<String> = response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect();
    for m in &messages {
        if failed.iter().any(|id| Some(id) == m.message_id.as_ref()) {
            continue;
        }
        if let Some(handle) = &m.receipt_handle {
            queue.client().delete_message().queue_url(queue.url()).receipt_handle(handle).send().await?;
        }
    }
    Ok(messages.len())
}
