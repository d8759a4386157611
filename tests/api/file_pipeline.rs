//! Partner files end to end (docs/file-sync.md): an object under `incoming/<org>/<program>/` in
//! moto's S3, the import function's code on its S3 event, the worker's code on each batch moto's
//! FIFO queue delivers (as Lambda's event source would), DynamoDB Local underneath; then the
//! results file, the file item and the `partnerFileProcessed` event.

use crate::common::moto::{self, FileStage};
use crate::file_sync::{parity_api_codes, parity_file, sample_org, PARITY_CODES, SAMPLE, SAMPLE_CODES};
use crate::support::*;
use crate::update_partner_program::payloads;
use devtools::file_import;
use serde_json::Value;
use shared::file_sync::import::ImportOutcome;
use shared::file_sync::worker::{process_chunk, ChunkOutcome};
use shared::file_sync::FileSync;
use shared::storage::partner_files::{FileStatus, PartnerFileRecord};
use std::time::Duration;

/// A file sync on a stage of its own, cutting chunks of `chunk_rows` rows.
async fn files(app: &TestApp, chunk_rows: u64) -> (FileSync, FileStage) {
    files_with(app, chunk_rows, Duration::from_secs(30)).await
}

/// `files`, with a chunk delivered again `visibility` after a receive that was not deleted.
pub(crate) async fn files_with(app: &TestApp, chunk_rows: u64, visibility: Duration) -> (FileSync, FileStage) {
    let stage = moto::file_stage(visibility).await;
    let mut settings = stage.settings().unwrap();
    settings.chunk_rows = chunk_rows;
    (FileSync::new(app.state.clone(), settings).await, stage)
}

/// Uploads `body` as `incoming/<org>/<program>/<name>` and runs the import on its event.
async fn drop_file(fs: &FileSync, org: u64, program: &str, name: &str, body: &[u8]) -> ImportOutcome {
    let key = format!("incoming/{org}/{program}/{name}");
    let (etag, size) = file_import::upload(fs, &key, body.to_vec()).await.unwrap();
    file_import::import(fs, &key, &etag, size).await.unwrap()
}

/// Runs the worker on what the queue delivers until it is empty.
async fn drain(fs: &FileSync) {
    for _ in 0..10_000 {
        if file_import::work_once(fs, Duration::from_secs(0)).await.unwrap() == 0 {
            return;
        }
    }
    panic!("the queue never emptied");
}

/// The results file's lines as (row, status, code, detail).
async fn results(stage: &FileStage, org: u64, program: &str, name: &str) -> Vec<(String, String, u16, String)> {
    let key = format!("results/{org}/{program}/{name}.csv");
    let body = moto::get_object(stage, &key).await.unwrap_or_else(|| panic!("no results file {key}"));
    let mut reader = csv::Reader::from_reader(&body[..]);
    assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), ["row", "status", "code", "message", "detail"]);
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].to_string(), r[2].parse().unwrap(), r[4].to_string())
        })
        .collect()
}

/// The next chunk on the queue, taken off it (deleted) for the test to deliver itself.
async fn take_chunk(fs: &FileSync) -> shared::file_sync::chunk::ChunkMessage {
    let queue = fs.queue.as_ref().unwrap();
    let out = queue.client().receive_message().queue_url(queue.url()).send().await.unwrap();
    let message = out.messages.unwrap().remove(0);
    let handle = message.receipt_handle.unwrap();
    queue.client().delete_message().queue_url(queue.url()).receipt_handle(handle).send().await.unwrap();
    serde_json::from_str(message.body.as_deref().unwrap()).unwrap()
}

fn codes(lines: &[(String, String, u16, String)]) -> Vec<u16> {
    lines.iter().map(|l| l.2).collect()
}

async fn file_item(fs: &FileSync, org: u64, file_id: &str) -> PartnerFileRecord {
    fs.state.store.partner_file(org, file_id).await.unwrap().unwrap()
}

fn started(outcome: &ImportOutcome) -> String {
    match outcome {
        ImportOutcome::Started { file_id, .. } => file_id.clone(),
        other => panic!("not started: {other:?}"),
    }
}

#[tokio::test]
async fn the_sample_file_dropped_in_s3_gets_each_rows_code_in_its_results_file_and_one_event_with_the_counts() {
    let app = TestApp::start().await;
    let f = sample_org(&app).await;
    let org = f.org.org_id;
    let (fs, stage) = files(&app, 4).await;
    let outcome = drop_file(&fs, org, "SkyMiles", "sample.csv", SAMPLE.as_bytes()).await;
    let ImportOutcome::Started { file_id, rows, chunks } = outcome.clone() else { panic!("{outcome:?}") };
    assert_eq!((rows, chunks), (13, 4), "13 rows in chunks of 4");
    drain(&fs).await;
    let lines = results(&stage, org, "SkyMiles", "sample.csv").await;
    let rows: Vec<String> = lines.iter().map(|l| l.0.clone()).collect();
    assert_eq!(rows, (1..=13).map(|n| n.to_string()).collect::<Vec<_>>(), "one line per row, in file order");
    assert_eq!(codes(&lines), SAMPLE_CODES, "{lines:#?}");
    let whole = moto::get_object(&stage, &format!("results/{org}/SkyMiles/sample.csv.csv")).await.unwrap();
    let expected = include_str!("../fixtures/partner-file-sample.results.csv");
    assert_eq!(String::from_utf8(whole).unwrap(), expected, "the results file, byte for byte (docs/file-sync.md)");
    assert!(lines.iter().all(|l| (l.1 == "true") == (l.2 == 200)), "status is true exactly where applied");
    let file = file_item(&fs, org, &file_id).await;
    assert_eq!(file.status, FileStatus::Done);
    assert_eq!((file.rows_total, file.rows_done, file.applied, file.refused), (13, 13, 7, 6));
    assert_eq!((file.chunks_total, file.chunks_done), (4, 4));
    let events = payloads(&app, org, "partnerFileProcessed").await;
    assert_eq!(events.len(), 1, "{events:#?}");
    let data = &events[0]["data"];
    assert_eq!(
        (data["rows"].as_u64(), data["applied"].as_u64(), data["refused"].as_u64()),
        (Some(13), Some(7), Some(6))
    );
    assert_eq!(data["fileId"], Value::from(file_id.as_str()));
    assert_eq!(data["resultsKey"], Value::from(format!("results/{org}/SkyMiles/sample.csv.csv")));
    // What the rows did is what the API would have done: row 12 linked at Platinum.
    let r = f.org.linked_programs("mobile", "919800000004").await;
    assert_eq!(r.body["linkedPartnerPrograms"][0]["partnerTierName"], "Platinum", "{}", r.text);
    assert!(moto::queue_depth(&stage.dlq_url).await == (0, 0), "no chunk went to the dead-letter queue");
}

#[tokio::test]
async fn a_file_uploaded_twice_is_applied_once() {
    let app = TestApp::start().await;
    let f = sample_org(&app).await;
    let org = f.org.org_id;
    let (fs, stage) = files(&app, 5).await;
    let first = started(&drop_file(&fs, org, "SkyMiles", "tiers.csv", SAMPLE.as_bytes()).await);
    drain(&fs).await;
    let activities = scan_entities(&app.state, "ACTIVITY", Some(org)).await.len();
    // The same object's event again, then the same content under another name.
    let again = drop_file(&fs, org, "SkyMiles", "tiers.csv", SAMPLE.as_bytes()).await;
    assert_eq!(again, ImportOutcome::Duplicate { file_id: first.clone() });
    let renamed = drop_file(&fs, org, "SkyMiles", "tiers-copy.csv", SAMPLE.as_bytes()).await;
    assert_eq!(renamed, ImportOutcome::Duplicate { file_id: first.clone() });
    drain(&fs).await;
    assert_eq!(scan_entities(&app.state, "ACTIVITY", Some(org)).await.len(), activities, "nothing applied again");
    assert_eq!(codes(&results(&stage, org, "SkyMiles", "tiers.csv").await), SAMPLE_CODES, "the first results stay");
    let copy = results(&stage, org, "SkyMiles", "tiers-copy.csv").await;
    assert_eq!(copy.len(), 1, "{copy:?}");
    assert_eq!((copy[0].0.as_str(), copy[0].2), ("file", 2001));
    assert!(copy[0].3.contains(&first), "the copy's results name the file that applied it: {copy:?}");
    assert_eq!(payloads(&app, org, "partnerFileProcessed").await.len(), 1);
}

#[tokio::test]
async fn a_chunk_delivered_twice_is_applied_once() {
    let app = TestApp::start().await;
    let f = sample_org(&app).await;
    let org = f.org.org_id;
    let (fs, stage) = files(&app, 100).await;
    let file_id = started(&drop_file(&fs, org, "SkyMiles", "once.csv", SAMPLE.as_bytes()).await);
    // Take the one chunk off the queue and apply it twice, as a redelivery after a lost delete would.
    let chunk = take_chunk(&fs).await;
    let first = process_chunk(&fs, &chunk).await.unwrap();
    let snapshot = |entity| scan_entities(&app.state, entity, Some(org));
    let (activities, events) = (snapshot("ACTIVITY").await.len(), snapshot("EVENT").await.len());
    let second = process_chunk(&fs, &chunk).await.unwrap();
    assert!(matches!(first, ChunkOutcome::Applied { counted: true, .. }), "{first:?}");
    assert_eq!(second, ChunkOutcome::Skipped, "the file is done: the chunk is not read again");
    assert_eq!((snapshot("ACTIVITY").await.len(), snapshot("EVENT").await.len()), (activities, events));
    let file = file_item(&fs, org, &file_id).await;
    assert_eq!((file.rows_done, file.applied, file.chunks_done), (13, 7, 1), "counted once");
    assert_eq!(codes(&results(&stage, org, "SkyMiles", "once.csv").await), SAMPLE_CODES);
}

#[tokio::test]
async fn a_chunk_applied_again_before_its_file_is_done_changes_nothing_and_is_counted_once() {
    let app = TestApp::start().await;
    let f = sample_org(&app).await;
    let org = f.org.org_id;
    let (fs, _stage) = files(&app, 5).await;
    let file_id = started(&drop_file(&fs, org, "SkyMiles", "twice.csv", SAMPLE.as_bytes()).await);
    let chunk = take_chunk(&fs).await;
    let first = process_chunk(&fs, &chunk).await.unwrap();
    let activities = scan_entities(&app.state, "ACTIVITY", Some(org)).await.len();
    let second = process_chunk(&fs, &chunk).await.unwrap();
    assert!(matches!(first, ChunkOutcome::Applied { counted: true, .. }), "{first:?}");
    assert_eq!(second, ChunkOutcome::Counted, "counted before: not read or applied again");
    assert_eq!(scan_entities(&app.state, "ACTIVITY", Some(org)).await.len(), activities, "nothing applied twice");
    let file = file_item(&fs, org, &file_id).await;
    assert_eq!((file.chunks_done, file.rows_done), (1, 5));
}

#[tokio::test]
async fn a_file_that_cannot_be_read_at_all_gets_a_results_file_that_says_why() {
    let app = TestApp::start().await;
    let f = sample_org(&app).await;
    let org = f.org.org_id;
    let (mut fs, stage) = files(&app, 100).await;
    let utf16: Vec<u8> = [0xFF, 0xFE].into_iter().chain(SAMPLE.encode_utf16().flat_map(u16::to_le_bytes)).collect();
    let cases: [(&str, &str, Vec<u8>, &str); 4] = [
        ("empty.csv", "SkyMiles", Vec::new(), "the header lacks"),
        ("utf16.csv", "SkyMiles", utf16, "not UTF-8"),
        ("unknown.csv", "NoSuchProgram", SAMPLE.as_bytes().to_vec(), "no partner program named \"NoSuchProgram\""),
        (
            "nocustomer.csv",
            "SkyMiles",
            b"action,partnerTierName,partnerTierExpiryDate\nLINK,Gold,2030-12-31\n".to_vec(),
            "partnerMembershipId",
        ),
    ];
    for (name, program, body, why) in cases {
        let outcome = drop_file(&fs, org, program, name, &body).await;
        let ImportOutcome::Rejected { why: said } = &outcome else { panic!("{name}: {outcome:?}") };
        assert!(said.contains(why), "{name}: {said}");
        let lines = results(&stage, org, program, name).await;
        assert_eq!(lines.len(), 1, "{name}: {lines:?}");
        assert_eq!(lines[0].0, "file");
        assert!(lines[0].3.contains(why), "{name}: {lines:?}");
    }
    fs.settings.max_file_bytes = 100;
    let outcome = drop_file(&fs, org, "SkyMiles", "big.csv", SAMPLE.as_bytes()).await;
    assert!(
        matches!(&outcome, ImportOutcome::Rejected { why } if why.contains("over the limit of 100 bytes")),
        "{outcome:?}"
    );
    let (listed, _) = fs.state.store.recent_partner_files(org, 10, None).await.unwrap();
    assert_eq!(listed.len(), 5, "each refused file is listed with its reason");
    assert!(listed.iter().all(|f| f.status == FileStatus::Rejected && f.error.is_some()), "{listed:#?}");
    assert!(scan_entities(&app.state, "ACTIVITY", Some(org)).await.is_empty(), "nothing applied");
    assert_eq!(moto::queue_depth(&stage.queue_url).await, (0, 0), "no chunk queued");
}

#[tokio::test]
async fn another_orgs_prefix_cannot_reach_this_orgs_members() {
    let app = TestApp::start().await;
    let ours = sample_org(&app).await;
    let theirs = fixture(&app).await;
    let (fs, stage) = files(&app, 100).await;
    let before = scan_entities(&app.state, "LINKAGE", Some(ours.org.org_id)).await.len();
    // Their prefix, our members' mobiles and membership ids: their org has no such customers.
    let theirs_id = theirs.org.org_id;
    started(&drop_file(&fs, theirs_id, "SkyMiles", "reach.csv", SAMPLE.as_bytes()).await);
    drain(&fs).await;
    let lines = results(&stage, theirs_id, "SkyMiles", "reach.csv").await;
    assert!(lines.iter().all(|l| l.2 != 200), "no row applied in another org: {lines:#?}");
    assert_eq!(scan_entities(&app.state, "LINKAGE", Some(ours.org.org_id)).await.len(), before);
    assert!(scan_entities(&app.state, "ACTIVITY", Some(ours.org.org_id)).await.is_empty());
    // A prefix naming an org that does not exist is no file at all.
    let nobody = drop_file(&fs, 999_999_999, "SkyMiles", "x.csv", SAMPLE.as_bytes()).await;
    assert!(matches!(nobody, ImportOutcome::Ignored { .. }), "{nobody:?}");
}

#[tokio::test]
async fn the_same_rows_give_the_same_results_through_the_api_and_through_a_file_in_s3() {
    let app = TestApp::start().await;
    let (by_file, by_api) = (sample_org(&app).await, sample_org(&app).await);
    let api_codes = parity_api_codes(&by_api).await;
    let (fs, stage) = files(&app, 3).await;
    let org = by_file.org.org_id;
    started(&drop_file(&fs, org, "SkyMiles", "parity.csv", parity_file().as_bytes()).await);
    drain(&fs).await;
    let file_codes = codes(&results(&stage, org, "SkyMiles", "parity.csv").await);
    assert_eq!(file_codes, api_codes);
    assert_eq!(file_codes, PARITY_CODES);
}

#[tokio::test]
async fn rows_of_one_customer_apply_in_file_order_across_chunks_and_beside_other_customers() {
    let app = TestApp::start().await;
    let f = sample_org(&app).await;
    let org = f.org.org_id;
    let (fs, stage) = files(&app, 3).await;
    let tiers = ["Silver", "Platinum", "Gold", "Platinum", "Silver", "Gold", "Platinum"];
    let mut file = String::from(
        "identifierName,identifierValue,partnerMembershipId,action,partnerTierName,partnerTierExpiryDate\n",
    );
    for (i, tier) in tiers.iter().enumerate() {
        let action = match i {
            0 => "LINK",
            _ if tiers[i - 1] == "Platinum" => "DOWNGRADE",
            _ if *tier == "Platinum" || tiers[i - 1] == "Silver" => "UPGRADE",
            _ => "DOWNGRADE",
        };
        // The first customer by mobile, then by membership id; two others between.
        let customer = if i % 2 == 0 { "mobile,919800000001,SM-1" } else { ",,SM-1" };
        file.push_str(&format!("{customer},{action},{tier},2030-12-31\n"));
        file.push_str(&format!("mobile,919800000002,,{},Gold,2030-12-31\n", if i == 0 { "LINK" } else { "RENEW" }));
        file.push_str(&format!("mobile,919800000003,,{},Silver,2030-12-31\n", if i == 0 { "LINK" } else { "RENEW" }));
    }
    started(&drop_file(&fs, org, "SkyMiles", "order.csv", file.as_bytes()).await);
    drain(&fs).await;
    let lines = results(&stage, org, "SkyMiles", "order.csv").await;
    assert!(lines.iter().all(|l| l.2 == 200), "{lines:#?}");
    let r = f.org.linked_programs("mobile", "919800000001").await;
    assert_eq!(r.body["linkedPartnerPrograms"][0]["partnerTierName"], "Platinum", "the last row wins: {}", r.text);
    let as_json = |item: &shared::storage::records::Item| serde_dynamo::from_item::<_, Value>(item.clone()).unwrap();
    let linkages: Vec<Value> = scan_entities(&app.state, "LINKAGE", Some(org)).await.iter().map(as_json).collect();
    let holder =
        linkages.iter().find(|l| l["partnerMembershipId"] == "SM-1").expect("SM-1 linked")["customerId"].clone();
    let mut history: Vec<Value> = scan_entities(&app.state, "ACTIVITY", Some(org))
        .await
        .iter()
        .map(as_json)
        .filter(|h| h["customerId"] == holder)
        .collect();
    history.sort_by_key(|h| h["version"].as_u64());
    let applied: Vec<&str> = history.iter().filter_map(|h| h["tierName"].as_str()).collect();
    assert_eq!(applied, tiers, "{history:#?}");
}

#[tokio::test]
async fn results_whose_parts_no_longer_add_up_are_joined_part_by_part() {
    let app = TestApp::start().await;
    let f = sample_org(&app).await;
    let org = f.org.org_id;
    let (fs, stage) = files(&app, 7).await;
    let file_id = started(&drop_file(&fs, org, "SkyMiles", "joined.csv", SAMPLE.as_bytes()).await);
    let first = take_chunk(&fs).await;
    process_chunk(&fs, &first).await.unwrap();
    // The first part rewritten longer than it was counted (as a duplicate delivery racing the
    // first could): one PutObject of the counted length cannot carry it.
    let part = shared::file_sync::results::part_key(org, &file_id, 0);
    let mut body = moto::get_object(&stage, &part).await.unwrap();
    body.extend_from_slice(b"0,false,2001,rewritten,\n");
    moto::put_object(&stage, &part, body.clone()).await;
    let second = take_chunk(&fs).await;
    process_chunk(&fs, &second).await.unwrap();
    let joined = moto::get_object(&stage, &format!("results/{org}/SkyMiles/joined.csv.csv")).await.unwrap();
    let text = String::from_utf8(joined).unwrap();
    assert!(text.starts_with("row,status,code,message,detail\n1,true,200"), "{text}");
    assert!(text.contains("0,false,2001,rewritten,\n8,"), "the rewritten part, then the next: {text}");
    assert_eq!(text.lines().count(), 1 + 13 + 1, "{text}");
    assert_eq!(file_item(&fs, org, &file_id).await.status, FileStatus::Done);
}

#[tokio::test]
async fn every_row_code_of_the_docs_table_is_reached_through_a_file() {
    let app = TestApp::start().await;
    let f = sample_org(&app).await;
    let org = f.org.org_id;
    let (fs, stage) = files(&app, 4).await;
    let file = "identifierName,identifierValue,partnerMembershipId,action,partnerTierName,partnerTierExpiryDate\n\
                mobile,919800000001,SM-1,LINK,Silver,2030-12-31\n\
                mobile,919800000001,SM-1,LINK,Silver,2030-12-31\n\
                mobile,919800000001,,DELINK,,\n\
                mobile,919800000001,,DELINK,,\n\
                mobile,919800000002,,LINK,Diamond,2030-12-31\n\
                mobile,919800000002,,LINK,Gold,2020-12-31\n\
                mobile,919800000002,,PROMOTE,Gold,2030-12-31\n\
                mobile,919899999999,,LINK,Gold,2030-12-31\n\
                ,,SM-NOBODY,UPDATE,Gold,2030-12-31\n\
                mobile,919800000003,,,Gold,2030-12-31\n\
                ,,,UPDATE,Gold,2030-12-31\n\
                phone,919800000003,,LINK,Gold,2030-12-31\n\
                mobile,919800000003,,LINK,Gold\n";
    started(&drop_file(&fs, org, "SkyMiles", "codes.csv", file.as_bytes()).await);
    drain(&fs).await;
    let lines = results(&stage, org, "SkyMiles", "codes.csv").await;
    let got: Vec<(u16, &str)> = lines.iter().map(|l| (l.2, l.3.as_str())).collect();
    assert_eq!(codes(&lines), [200, 2005, 200, 2004, 2007, 2003, 2009, 8015, 8015, 2002, 2002, 2001, 2001], "{got:#?}");
    assert!(lines[11].3.contains("identifierName \"phone\""), "{got:#?}");
    assert!(lines[12].3.starts_with("malformed row: 5 fields"), "{got:#?}");
}

#[tokio::test]
async fn a_json_lines_file_gets_the_same_codes_as_the_csv_sample() {
    let app = TestApp::start().await;
    let f = sample_org(&app).await;
    let org = f.org.org_id;
    let (fs, stage) = files(&app, 4).await;
    let file = include_str!("../fixtures/partner-file-sample.jsonl");
    let outcome = drop_file(&fs, org, "SkyMiles", "sample.jsonl", file.as_bytes()).await;
    assert!(matches!(outcome, ImportOutcome::Started { rows: 13, chunks: 4, .. }), "{outcome:?}");
    drain(&fs).await;
    let lines = results(&stage, org, "SkyMiles", "sample.jsonl").await;
    assert_eq!(codes(&lines), SAMPLE_CODES, "{lines:#?}");
    assert!(lines[10].3.starts_with("malformed row: EOF"), "{lines:#?}");
    // A file named .jsonl whose first line is not an object cannot be read at all.
    let outcome = drop_file(&fs, org, "SkyMiles", "not.jsonl", SAMPLE.as_bytes()).await;
    assert!(matches!(&outcome, ImportOutcome::Rejected { why } if why.contains("not a JSON object")), "{outcome:?}");
}
