//! moto's server mode, the S3 and SQS emulator of the partner-file tests (scripts/moto.sh, started
//! by `make test` beside DynamoDB Local; docs/tooling.md#moto). One server answers both
//! `AWS_ENDPOINT_URL_S3` and `AWS_ENDPOINT_URL_SQS`. Each test gets its own bucket and its own
//! FIFO chunk queue with a FIFO dead-letter queue, named uniquely, as template.yaml deploys them.

use std::time::Duration;

/// moto's URL (S3); the partner-file tests cannot run without it.
pub fn s3_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL_S3").unwrap_or_else(|_| {
        panic!(
            "AWS_ENDPOINT_URL_S3 is not set: these tests need moto (the S3 and SQS emulator). Run \
             `make test` (it installs and starts it), or `source scripts/moto.sh` yourself."
        )
    })
}

/// moto's URL (SQS); the same server as S3 when scripts/moto.sh started it.
pub fn sqs_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL_SQS").unwrap_or_else(|_| {
        panic!("AWS_ENDPOINT_URL_SQS is not set: these tests need moto. Run `make test` or `source scripts/moto.sh`.")
    })
}

/// An S3 client of moto: path-style addressing (a loopback IP has no bucket subdomains).
pub async fn s3_client() -> aws_sdk_s3::Client {
    let _ = s3_endpoint();
    let conf = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let s3 = aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build();
    aws_sdk_s3::Client::from_conf(s3)
}

/// An SQS client of moto.
pub async fn sqs_client() -> aws_sdk_sqs::Client {
    let _ = sqs_endpoint();
    let conf = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    aws_sdk_sqs::Client::new(&conf)
}

/// A test's bucket and FIFO chunk queue with its FIFO dead-letter queue, as template.yaml deploys
/// them (`make import` and the bench make theirs the same way).
pub use devtools::file_import::Stage as FileStage;

/// A fresh stage on moto, uniquely named, a chunk delivered again `visibility` after a receive
/// that was not deleted.
pub async fn file_stage(visibility: Duration) -> FileStage {
    let (_, _) = (s3_endpoint(), sqs_endpoint());
    let id = uuid::Uuid::new_v4().simple().to_string();
    devtools::file_import::stage(&format!("pp-files-{}", &id[..20]), &format!("pp-chunks-{}", &id[..12]), visibility)
        .await
        .unwrap()
}

/// Puts `body` at `key` and returns its ETag (quoted, as S3 sends it).
pub async fn put_object(stage: &FileStage, key: &str, body: Vec<u8>) -> String {
    let out = s3_client().await.put_object().bucket(&stage.bucket).key(key).body(body.into()).send().await.unwrap();
    out.e_tag.unwrap()
}

/// The object at `key`, whole, or None when there is none.
pub async fn get_object(stage: &FileStage, key: &str) -> Option<Vec<u8>> {
    let out = s3_client().await.get_object().bucket(&stage.bucket).key(key).send().await.ok()?;
    Some(out.body.collect().await.unwrap().into_bytes().to_vec())
}

/// The keys under `prefix`, in key order.
pub async fn keys(stage: &FileStage, prefix: &str) -> Vec<String> {
    let s3 = s3_client().await;
    let pages = s3.list_objects_v2().bucket(&stage.bucket).prefix(prefix).into_paginator().send();
    let pages: Vec<_> = pages.collect().await;
    pages.into_iter().flat_map(|p| p.unwrap().contents.unwrap_or_default()).filter_map(|o| o.key).collect()
}

/// How many messages the queue at `url` holds, visible and in flight (moto counts them exactly).
pub async fn queue_depth(url: &str) -> (u64, u64) {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = sqs_client()
        .await
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let attrs = out.attributes.unwrap_or_default();
    let n = |a: A| attrs.get(&a).and_then(|v| v.parse().ok()).unwrap_or(0);
    (n(A::ApproximateNumberOfMessages), n(A::ApproximateNumberOfMessagesNotVisible))
}
