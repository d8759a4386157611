//! The partner file functions under the Runtime API harness, on moto and DynamoDB Local: the
//! import takes the S3 event of a file (and of a file for an unknown program), the worker takes
//! each chunk the import queued as an SQS event, and every DynamoDB, S3 and SQS call they made is
//! one their template policy grants, with nothing granted that the code path does not use.

use crate::aws_recorder::AwsRecorder;
use crate::common::moto::{file_stage, get_object, put_object, s3_endpoint, sqs_client, FileStage};
use crate::fixtures::{demo_org, event, state, table_name, Sandbox};
use crate::policies::check_grants_used;
use crate::template::{functions, Function, Kind};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

const FILE: &str = "identifierName,identifierValue,partnerMembershipId,action,partnerTierName,\
partnerTierExpiryDate,membershipStartDate
mobile,919740000001,SM-R1,LINK,Silver,2030-12-31,
,,SM-R1,UPGRADE,Gold,2031-06-30,
mobile,919740000002,SM-R2,LINK,Gold,2030-12-31,
mobile,919740000002,,DELINK,,,
,,SM-NONE,UPDATE,Gold,2030-12-31,
";

fn s3_event(key: &str, etag: &str, size: usize) -> Value {
    let mut ev = event("partner-file-import.s3.json").unwrap();
    let object = &mut ev["Records"][0]["s3"]["object"];
    object["key"] = key.into();
    object["eTag"] = etag.trim_matches('"').into();
    object["size"] = size.into();
    ev
}

async fn sandbox(f: &Function, stage: &FileStage, aws: &AwsRecorder) -> Sandbox {
    let vars: BTreeMap<String, String> = [
        ("FILES_BUCKET", stage.bucket.clone()),
        ("FILES_QUEUE_URL", stage.queue_url.clone()),
        ("AWS_ENDPOINT_URL_S3", aws.endpoint.clone()),
        ("AWS_ENDPOINT_URL_SQS", aws.endpoint.clone()),
        // Two rows a chunk: the file is three chunks, so the worker counts and finishes.
        ("FILE_CHUNK_ROWS", "2".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Sandbox::start_with(f, move |env| env.extend(vars)).await
}

/// Feeds the worker every chunk on the queue, as the SQS event source would, until none is left.
async fn drain_chunks(worker: &Sandbox, stage: &FileStage) -> usize {
    let sqs = sqs_client().await;
    let mut chunks = 0;
    loop {
        let out = sqs.receive_message().queue_url(&stage.queue_url).max_number_of_messages(1).send().await.unwrap();
        let Some(m) = out.messages.unwrap_or_default().into_iter().next() else { break };
        let mut ev = event("partner-file-worker.sqs.json").unwrap();
        ev["Records"][0]["messageId"] = m.message_id.clone().unwrap().into();
        ev["Records"][0]["body"] = m.body.clone().unwrap().into();
        let answer = worker.respond(&ev).await.unwrap();
        assert_eq!(answer["batchItemFailures"], serde_json::json!([]), "chunk failed: {}", worker.process.logs());
        sqs.delete_message()
            .queue_url(&stage.queue_url)
            .receipt_handle(m.receipt_handle.unwrap())
            .send()
            .await
            .unwrap();
        chunks += 1;
    }
    chunks
}

/// The import and the worker, each in its sandbox behind its own recorder, after a file of three
/// chunks (its event twice) and a file for an unknown program went through them.
pub(crate) struct FileRun {
    pub import: Function,
    pub worker: Function,
    pub importer: Sandbox,
    pub applier: Sandbox,
    pub import_aws: AwsRecorder,
    pub worker_aws: AwsRecorder,
}

pub(crate) async fn file_run() -> FileRun {
    let _ = s3_endpoint();
    let state = state().await;
    let org = demo_org(&state).await.org_id;
    let stage = file_stage(Duration::from_secs(60)).await;
    let all = functions(&table_name());
    let import = all.iter().find(|f| f.kind == Kind::ObjectCreated).expect("an import function").clone();
    let worker = all.iter().find(|f| f.kind == Kind::QueueConsumer).expect("a worker function").clone();

    let import_aws = AwsRecorder::start(&s3_endpoint(), &stage).await;
    let importer = sandbox(&import, &stage, &import_aws).await;
    let key = format!("incoming/{org}/SkyMiles/runtime.csv");
    let etag = put_object(&stage, &key, FILE.as_bytes().to_vec()).await;
    let started = importer.respond(&s3_event(&key, &etag, FILE.len())).await.unwrap();
    assert_eq!(started["files"][0]["outcome"], "STARTED", "{started}");
    assert_eq!(started["files"][0]["chunks"], 3, "{started}");
    // The same event again (S3 delivers at least once): nothing new.
    let again = importer.respond(&s3_event(&key, &etag, FILE.len())).await.unwrap();
    assert_eq!(again["files"][0]["outcome"], "DUPLICATE", "{again}");
    // A file for a program the org does not have: refused, with a results file.
    let unknown = format!("incoming/{org}/NoSuchProgram/runtime.csv");
    let etag2 = put_object(&stage, &unknown, FILE.replace("SM-", "XX-").into_bytes()).await;
    let refused = importer.respond(&s3_event(&unknown, &etag2, FILE.len())).await.unwrap();
    assert_eq!(refused["files"][0]["outcome"], "REJECTED", "{refused}");

    let worker_aws = AwsRecorder::start(&s3_endpoint(), &stage).await;
    let applier = sandbox(&worker, &stage, &worker_aws).await;
    assert_eq!(drain_chunks(&applier, &stage).await, 3);
    let results = get_object(&stage, &format!("results/{org}/SkyMiles/runtime.csv.csv")).await.expect("results file");
    assert_eq!(String::from_utf8(results).unwrap().lines().count(), 6, "a header and a line per row");
    FileRun { import, worker, importer, applier, import_aws, worker_aws }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_partner_file_functions_call_only_what_their_policies_grant() {
    let run = file_run().await;
    let (import, worker) = (&run.import, &run.worker);
    let (importer, applier, import_aws, worker_aws) = (&run.importer, &run.applier, &run.import_aws, &run.worker_aws);
    let mut problems = Vec::new();
    for (f, sandbox, aws) in [(import, importer, import_aws), (worker, applier, worker_aws)] {
        let mut used = sandbox.recorder.grants_used();
        used.extend(aws.grants_used());
        if let Err(e) = check_grants_used(f, &used) {
            problems.push(e);
        }
        let beyond: Vec<String> = used.difference(&f.policy).map(ToString::to_string).collect();
        if !beyond.is_empty() {
            problems.push(format!("{}: the policy does not grant {beyond:?}", f.logical_id));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
