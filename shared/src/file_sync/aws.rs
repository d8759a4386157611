//! The partner files' S3 objects and chunk queue: the only place that calls S3 or SQS. Clients
//! share the SDK configuration of every binary (`state::sdk_config`), with timeouts long enough
//! for a whole object read and an 8 MiB part.

use super::chunk::ChunkMessage;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("S3 {operation} failed: {message}")]
    S3 { operation: &'static str, message: String },
    #[error("SQS {operation} failed: {message}")]
    Sqs { operation: &'static str, message: String },
}

fn s3_error(operation: &'static str) -> impl FnOnce(String) -> AwsError {
    move |message| AwsError::S3 { operation, message }
}

/// An SDK error as S3 `operation`'s failure, with the service's own words.
fn sdk_error<E: std::error::Error + 'static, R: std::fmt::Debug>(
    operation: &'static str,
) -> impl FnOnce(aws_sdk_s3::error::SdkError<E, R>) -> AwsError {
    move |e| s3_error(operation)(aws_sdk_s3::error::DisplayErrorContext(e).to_string())
}

/// The SDK configuration with timeouts for object transfers (the DynamoDB ones are seconds).
async fn transfer_config() -> aws_config::SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(60))
        .operation_timeout(Duration::from_secs(180))
        .build();
    crate::state::sdk_config().await.into_builder().timeout_config(timeouts).build()
}

/// Whether an S3 endpoint of one's own is set (moto locally): it takes path-style addresses.
fn custom_s3_endpoint() -> bool {
    std::env::var("AWS_ENDPOINT_URL_S3").is_ok() || std::env::var("AWS_ENDPOINT_URL").is_ok()
}

/// The files bucket.
#[derive(Clone, Debug)]
pub struct Objects {
    s3: aws_sdk_s3::Client,
    bucket: String,
}

impl Objects {
    pub async fn from_env(bucket: &str) -> Objects {
        let conf =
            aws_sdk_s3::config::Builder::from(&transfer_config().await).force_path_style(custom_s3_endpoint()).build();
        Objects { s3: aws_sdk_s3::Client::from_conf(conf), bucket: bucket.to_string() }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// A read of `key` that fails unless the object still has ETag `etag` (a file replaced since
    /// its import is not read as it).
    fn get_at(&self, key: &str, etag: &str) -> aws_sdk_s3::operation::get_object::builders::GetObjectFluentBuilder {
        self.s3.get_object().bucket(&self.bucket).key(key).if_match(etag)
    }

    /// Bytes `[start, end)` of `key` as it was when its ETag was `etag`.
    pub async fn range(&self, key: &str, etag: &str, start: u64, end: u64) -> Result<Bytes, AwsError> {
        if end <= start {
            return Ok(Bytes::new());
        }
        let out = self
            .get_at(key, etag)
            .range(format!("bytes={start}-{}", end - 1))
            .send()
            .await
            .map_err(sdk_error("GetObject"))?;
        let body = out.body.collect().await.map_err(|e| s3_error("GetObject")(e.to_string()))?;
        Ok(body.into_bytes())
    }

    /// The whole of `key` (at ETag `etag`) as a blocking reader, for a blocking thread: it reads
    /// as it is read, never the whole object into memory.
    pub async fn reader(&self, key: &str, etag: &str) -> Result<impl std::io::Read + Send, AwsError> {
        let out = self.get_at(key, etag).send().await.map_err(sdk_error("GetObject"))?;
        Ok(tokio_util::io::SyncIoBridge::new(out.body.into_async_read()))
    }

    pub async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), AwsError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("text/csv; charset=utf-8")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(sdk_error("PutObject"))?;
        Ok(())
    }

    /// Writes `key` from `parts` as they come, in one `PutObject` of `length` bytes: memory holds
    /// the parts in flight, never the object. A part that is an error, or a length that does not
    /// add up, fails the put.
    pub async fn put_stream(
        &self,
        key: &str,
        length: u64,
        parts: tokio::sync::mpsc::Receiver<Result<Bytes, String>>,
    ) -> Result<(), AwsError> {
        let body = ByteStream::from_body_1_x(ChannelBody { parts });
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("text/csv; charset=utf-8")
            .content_length(i64::try_from(length).unwrap_or(i64::MAX))
            .body(body)
            .send()
            .await
            .map_err(sdk_error("PutObject"))?;
        Ok(())
    }

    /// `key`'s whole body, or `None` when there is no such object.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, AwsError> {
        let out = self.s3.get_object().bucket(&self.bucket).key(key).send().await;
        match out {
            Ok(out) => {
                let body = out.body.collect().await.map_err(|e| s3_error("GetObject")(e.to_string()))?;
                Ok(Some(body.into_bytes()))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(sdk_error("GetObject")(e)),
        }
    }

    /// An object written in parts (`Upload`), for a results file of any size in bounded memory.
    pub fn upload<'a>(&'a self, key: &'a str) -> Upload<'a> {
        Upload { objects: self, key, buffer: Vec::new(), upload_id: None, parts: Vec::new() }
    }
}

/// Parts of S3's multipart upload are 5 MiB at least (but the last); these are 8.
const PART_BYTES: usize = 8 << 20;

/// An object written as it is produced: one `PutObject` if it stays under a part, else a
/// multipart upload of 8 MiB parts. Memory holds one part.
pub struct Upload<'a> {
    objects: &'a Objects,
    key: &'a str,
    buffer: Vec<u8>,
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
}

impl Upload<'_> {
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), AwsError> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= PART_BYTES {
            self.send_part().await?;
        }
        Ok(())
    }

    async fn send_part(&mut self) -> Result<(), AwsError> {
        let (s3, bucket) = (&self.objects.s3, &self.objects.bucket);
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let out = s3
                    .create_multipart_upload()
                    .bucket(bucket)
                    .key(self.key)
                    .content_type("text/csv; charset=utf-8")
                    .send()
                    .await
                    .map_err(sdk_error("CreateMultipartUpload"))?;
                let id = out.upload_id.unwrap_or_default();
                self.upload_id = Some(id.clone());
                id
            }
        };
        let number = i32::try_from(self.parts.len() + 1).unwrap_or(i32::MAX);
        let body = std::mem::take(&mut self.buffer);
        let sent = s3
            .upload_part()
            .bucket(bucket)
            .key(self.key)
            .upload_id(&upload_id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await;
        match sent {
            Ok(out) => {
                self.parts.push(CompletedPart::builder().part_number(number).set_e_tag(out.e_tag).build());
                Ok(())
            }
            Err(e) => {
                let message = aws_sdk_s3::error::DisplayErrorContext(e).to_string();
                self.abort().await;
                Err(s3_error("UploadPart")(message))
            }
        }
    }

    async fn abort(&mut self) {
        if let Some(id) = self.upload_id.take() {
            let (s3, bucket) = (&self.objects.s3, &self.objects.bucket);
            // Best effort: the bucket's lifecycle removes an upload left incomplete.
            let _ = s3.abort_multipart_upload().bucket(bucket).key(self.key).upload_id(id).send().await;
        }
    }

    /// Writes what is left and makes the object whole.
    pub async fn finish(mut self) -> Result<(), AwsError> {
        if self.upload_id.is_none() {
            let body = std::mem::take(&mut self.buffer);
            return self.objects.put(self.key, body).await;
        }
        if !self.buffer.is_empty() {
            self.send_part().await?;
        }
        let (s3, bucket) = (&self.objects.s3, &self.objects.bucket);
        let upload = CompletedMultipartUpload::builder().set_parts(Some(std::mem::take(&mut self.parts))).build();
        let done = s3
            .complete_multipart_upload()
            .bucket(bucket)
            .key(self.key)
            .upload_id(self.upload_id.clone().unwrap_or_default())
            .multipart_upload(upload)
            .send()
            .await;
        if let Err(e) = done {
            let message = aws_sdk_s3::error::DisplayErrorContext(e).to_string();
            self.abort().await;
            return Err(s3_error("CompleteMultipartUpload")(message));
        }
        Ok(())
    }
}

/// The FIFO queue of chunks: one message group per file, so a file's chunks run in file order.
#[derive(Clone, Debug)]
pub struct ChunkQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl ChunkQueue {
    pub async fn from_env(url: &str) -> ChunkQueue {
        let conf = aws_sdk_sqs::config::Builder::from(&transfer_config().await).build();
        ChunkQueue { sqs: aws_sdk_sqs::Client::from_conf(conf), url: url.to_string() }
    }

    /// Sends up to ten chunks in one call; each is deduplicated by its file and number, so a
    /// chunk sent twice within SQS's five minutes is delivered once (and applied once anyway).
    pub async fn send(&self, chunks: &[ChunkMessage]) -> Result<(), AwsError> {
        let sqs_error = |message: String| AwsError::Sqs { operation: "SendMessageBatch", message };
        let mut entries = Vec::with_capacity(chunks.len());
        for (i, chunk) in chunks.iter().enumerate() {
            let body = serde_json::to_string(chunk).map_err(|e| sqs_error(e.to_string()))?;
            let entry = aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(body)
                .message_group_id(&chunk.file_id)
                .message_deduplication_id(format!("{}-{}", chunk.file_id, chunk.chunk))
                .build()
                .map_err(|e| sqs_error(e.to_string()))?;
            entries.push(entry);
        }
        let out = self
            .sqs
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| sqs_error(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        match out.failed.first() {
            Some(failed) => Err(sqs_error(format!("{}: {}", failed.code, failed.message.clone().unwrap_or_default()))),
            None => Ok(()),
        }
    }

    pub fn client(&self) -> &aws_sdk_sqs::Client {
        &self.sqs
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

/// A request body fed by a channel: each message one frame, an error message an error.
struct ChannelBody {
    parts: tokio::sync::mpsc::Receiver<Result<Bytes, String>>,
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.parts.poll_recv(cx).map(|part| part.map(|p| p.map(http_body::Frame::data).map_err(Into::into)))
    }
}
