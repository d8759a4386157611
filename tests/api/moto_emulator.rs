//! What the partner-file code needs of S3 and SQS, checked on moto (docs/tooling.md#moto): a test
//! of the import or the worker that passes on moto passes because moto behaves as AWS does here.
//! S3: a ranged GET (`Range: bytes=a-b`) answers those bytes with the object's ETag, and a
//! multipart upload assembles its parts. SQS FIFO: a message group is delivered in order and one
//! at a time, a repeated MessageDeduplicationId is dropped, an unacknowledged message comes back
//! after its visibility timeout, and after the redrive policy's receives it moves to the DLQ.

use crate::common::moto::{file_stage, put_object, queue_depth, s3_client, sqs_client, FileStage};
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use devtools::file_import::MAX_RECEIVES;
use std::time::Duration;

#[tokio::test]
async fn moto_serves_ranged_reads_with_the_objects_etag() {
    let stage = file_stage(Duration::from_secs(30)).await;
    let body: Vec<u8> = (0..100_000u32).flat_map(|i| format!("row{i}\n").into_bytes()).collect();
    let etag = put_object(&stage, "incoming/1/P/file.csv", body.clone()).await;
    assert!(etag.starts_with('"') && etag.len() > 2, "{etag}");

    let s3 = s3_client().await;
    let head = s3.head_object().bucket(&stage.bucket).key("incoming/1/P/file.csv").send().await.unwrap();
    assert_eq!(head.e_tag.as_deref(), Some(etag.as_str()));
    assert_eq!(head.content_length, Some(body.len() as i64));

    let (a, b) = (123_456usize, 200_000usize);
    let part = s3
        .get_object()
        .bucket(&stage.bucket)
        .key("incoming/1/P/file.csv")
        .range(format!("bytes={a}-{b}"))
        .send()
        .await
        .unwrap();
    assert_eq!(part.e_tag.as_deref(), Some(etag.as_str()), "a ranged read names the object's version");
    assert_eq!(part.content_range.as_deref(), Some(format!("bytes {a}-{b}/{}", body.len()).as_str()));
    let bytes = part.body.collect().await.unwrap().into_bytes();
    assert_eq!(&bytes[..], &body[a..=b]);

    // A range past the end is cut at the end, as S3 does.
    let end = s3
        .get_object()
        .bucket(&stage.bucket)
        .key("incoming/1/P/file.csv")
        .range(format!("bytes={}-{}", body.len() - 10, body.len() + 1000))
        .send()
        .await
        .unwrap();
    assert_eq!(&end.body.collect().await.unwrap().into_bytes()[..], &body[body.len() - 10..]);

    // Overwriting the key gives a new ETag: a claim by ETag tells the two uploads apart.
    let mut changed = body.clone();
    changed[0] = b'R';
    assert_ne!(put_object(&stage, "incoming/1/P/file.csv", changed).await, etag);
}

#[tokio::test]
async fn moto_serves_multipart_uploads_and_their_abort() {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    let stage = file_stage(Duration::from_secs(30)).await;
    let s3 = s3_client().await;
    let key = "results/1/P/file.csv.csv";
    let upload = s3.create_multipart_upload().bucket(&stage.bucket).key(key).send().await.unwrap();
    let id = upload.upload_id.unwrap();
    // Every part but the last is at least 5 MiB, as S3 requires.
    let parts: Vec<Vec<u8>> = vec![vec![b'a'; 5 * 1024 * 1024], vec![b'b'; 1000]];
    let mut done = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let n = i32::try_from(i + 1).unwrap();
        let out = s3
            .upload_part()
            .bucket(&stage.bucket)
            .key(key)
            .upload_id(&id)
            .part_number(n)
            .body(part.clone().into())
            .send()
            .await
            .unwrap();
        done.push(CompletedPart::builder().part_number(n).e_tag(out.e_tag.unwrap()).build());
    }
    let completed = CompletedMultipartUpload::builder().set_parts(Some(done)).build();
    s3.complete_multipart_upload()
        .bucket(&stage.bucket)
        .key(key)
        .upload_id(&id)
        .multipart_upload(completed)
        .send()
        .await
        .unwrap();
    let got = crate::common::moto::get_object(&stage, key).await.unwrap();
    assert_eq!(got.len(), parts.iter().map(Vec::len).sum::<usize>());
    assert!(got[..5 * 1024 * 1024].iter().all(|b| *b == b'a') && got[5 * 1024 * 1024..].iter().all(|b| *b == b'b'));

    // An aborted upload leaves no object.
    let other = "results/1/P/aborted.csv.csv";
    let upload = s3.create_multipart_upload().bucket(&stage.bucket).key(other).send().await.unwrap();
    let id = upload.upload_id.unwrap();
    s3.upload_part()
        .bucket(&stage.bucket)
        .key(other)
        .upload_id(&id)
        .part_number(1)
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();
    s3.abort_multipart_upload().bucket(&stage.bucket).key(other).upload_id(&id).send().await.unwrap();
    assert!(crate::common::moto::get_object(&stage, other).await.is_none());
    let listed = s3.list_multipart_uploads().bucket(&stage.bucket).send().await.unwrap();
    assert!(listed.uploads.unwrap_or_default().is_empty());
}

async fn send(stage: &FileStage, group: &str, dedup: &str, body: &str) -> String {
    let out = sqs_client()
        .await
        .send_message()
        .queue_url(&stage.queue_url)
        .message_group_id(group)
        .message_deduplication_id(dedup)
        .message_body(body)
        .send()
        .await
        .unwrap();
    out.message_id.unwrap()
}

async fn receive_one(url: &str) -> Option<Message> {
    let out = sqs_client()
        .await
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(1)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap();
    out.messages.unwrap_or_default().into_iter().next()
}

async fn delete(url: &str, m: &Message) {
    let handle = m.receipt_handle.clone().unwrap();
    sqs_client().await.delete_message().queue_url(url).receipt_handle(handle).send().await.unwrap();
}

fn receive_count(m: &Message) -> u32 {
    let attrs = m.attributes.as_ref().unwrap();
    attrs[&MessageSystemAttributeName::ApproximateReceiveCount].parse().unwrap()
}

#[tokio::test]
async fn moto_fifo_queues_keep_group_order_drop_repeated_dedup_ids_and_redeliver_after_the_visibility_timeout() {
    let stage = file_stage(Duration::from_secs(2)).await;
    send(&stage, "file-a", "a-1", "a chunk 1").await;
    // The same deduplication id again (an import retried after a timeout) is accepted and dropped.
    send(&stage, "file-a", "a-1", "a chunk 1").await;
    send(&stage, "file-a", "a-2", "a chunk 2").await;
    send(&stage, "file-b", "b-1", "b chunk 1").await;
    assert_eq!(queue_depth(&stage.queue_url).await, (3, 0));

    // While a group's first message is in flight, its next one waits; another group's goes on.
    let a1 = receive_one(&stage.queue_url).await.unwrap();
    assert_eq!(a1.body.as_deref(), Some("a chunk 1"));
    let attrs = a1.attributes.as_ref().unwrap();
    assert_eq!(attrs[&MessageSystemAttributeName::MessageGroupId], "file-a");
    assert_eq!(attrs[&MessageSystemAttributeName::MessageDeduplicationId], "a-1");
    let b1 = receive_one(&stage.queue_url).await.unwrap();
    assert_eq!(b1.body.as_deref(), Some("b chunk 1"));
    assert!(receive_one(&stage.queue_url).await.is_none(), "file-a's second chunk ran beside its first");

    // Not acknowledged: after the visibility timeout the same message comes back, counted.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let again = receive_one(&stage.queue_url).await.unwrap();
    assert_eq!(again.message_id, a1.message_id);
    assert_eq!(receive_count(&again), 2);
    delete(&stage.queue_url, &again).await;
    let a2 = receive_one(&stage.queue_url).await.unwrap();
    assert_eq!(a2.body.as_deref(), Some("a chunk 2"));
    delete(&stage.queue_url, &a2).await;
}

#[tokio::test]
async fn moto_moves_a_chunk_to_the_fifo_dlq_after_the_redrive_policys_receives() {
    let stage = file_stage(Duration::from_secs(30)).await;
    send(&stage, "file-p", "p-1", "poison").await;
    let sqs = sqs_client().await;
    for n in 1..=MAX_RECEIVES {
        let m = receive_one(&stage.queue_url).await.unwrap_or_else(|| panic!("receive {n}"));
        assert_eq!(receive_count(&m), n);
        // A worker that reports the item failed: visible again at once.
        let handle = m.receipt_handle.unwrap();
        sqs.change_message_visibility()
            .queue_url(&stage.queue_url)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
    }
    assert!(receive_one(&stage.queue_url).await.is_none(), "delivered past maxReceiveCount");
    let dead = receive_one(&stage.dlq_url).await.expect("the chunk is in the DLQ");
    assert_eq!(dead.body.as_deref(), Some("poison"));
    assert_eq!(dead.attributes.as_ref().unwrap()[&MessageSystemAttributeName::MessageGroupId], "file-p");
}
