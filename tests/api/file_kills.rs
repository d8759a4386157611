//! A partner file's worker killed mid-chunk, again and again: the worker runs as its own process
//! (`ppimport work`, the worker's own code on what the queue delivers), is killed with SIGKILL
//! at random moments, and moto's FIFO queue delivers its chunk again after the visibility timeout.
//! Then it runs until the file is done. Every valid row must be applied exactly once (one history
//! record and one event each), and the results file must have every row.

use crate::common::moto;
use crate::file_pipeline::files_with;
use crate::support::*;
use crate::update_partner_program::payloads;
use devtools::file_import;
use rand::{Rng, SeedableRng};
use shared::file_sync::import::ImportOutcome;
use shared::storage::partner_files::FileStatus;
use std::collections::HashMap;
use std::time::Duration;

const CUSTOMERS: u64 = 300;

/// Four rows per customer: LINK, UPGRADE, RENEW (valid) and an UPGRADE to a tier that does not
/// exist (2007), the customers interleaved.
fn kill_file() -> String {
    let mut file = String::from("identifierName,identifierValue,action,partnerTierName,partnerTierExpiryDate\n");
    for (action, tier, expiry) in [
        ("LINK", "Silver", "2030-12-31"),
        ("UPGRADE", "Gold", "2031-06-30"),
        ("RENEW", "Gold", "2032-06-30"),
        ("UPGRADE", "Diamond", "2032-06-30"),
    ] {
        for c in 1..=CUSTOMERS {
            file.push_str(&format!("mobile,9198100{c:05},{action},{tier},{expiry}\n"));
        }
    }
    file
}

#[tokio::test]
async fn a_worker_killed_mid_chunk_again_and_again_applies_every_valid_row_exactly_once() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    for c in 1..=CUSTOMERS {
        f.enrolled(&format!("9198100{c:05}")).await;
    }
    let org = f.org.org_id;
    let (fs, stage) = files_with(&app, 5, Duration::from_secs(1)).await;
    let file = kill_file();
    let key = format!("incoming/{org}/SkyMiles/kills.csv");
    let (etag, size) = file_import::upload(&fs, &key, file.into_bytes()).await.unwrap();
    let outcome = file_import::import(&fs, &key, &etag, size).await.unwrap();
    let ImportOutcome::Started { file_id, rows, chunks } = outcome else { panic!("{outcome:?}") };
    assert_eq!((rows, chunks), (CUSTOMERS * 4, CUSTOMERS * 4 / 5));

    let worker = |idle: &str| {
        let mut cmd = tokio::process::Command::new(debug_bin("ppimport"));
        cmd.args(["work", "--idle-seconds", idle])
            .envs(stage.environment())
            .env("TABLE_NAME", fs.state.store.table())
            .env("AWS_ENDPOINT_URL_DYNAMODB", TestApp::dynamodb_url())
            .env("LOG_LEVEL", "error")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        cmd
    };
    let seed = 11;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (mut kills, mut mid_file) = (0, 0);
    for _ in 0..8 {
        let mut child = worker("600").spawn().unwrap();
        tokio::time::sleep(Duration::from_millis(rng.random_range(800..2200))).await;
        child.kill().await.unwrap(); // SIGKILL
        kills += 1;
        let file = fs.state.store.partner_file(org, &file_id).await.unwrap().unwrap();
        mid_file += u32::from(file.status != FileStatus::Done);
        println!("kill {kills}: {} of {} chunks counted, {} rows", file.chunks_done, file.chunks_total, file.rows_done);
    }
    let mut runs = 0;
    let mut received = 0u64;
    loop {
        runs += 1;
        assert!(runs <= 5, "the file does not finish");
        let out = worker("3").stderr(std::process::Stdio::piped()).output().await.unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        println!("run {runs}: {} {}", String::from_utf8_lossy(&out.stdout).trim(), err.lines().last().unwrap_or(""));
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        received += summary["received"].as_u64().unwrap_or(0);
        let file = fs.state.store.partner_file(org, &file_id).await.unwrap().unwrap();
        if file.status == FileStatus::Done {
            break;
        }
    }

    let file = fs.state.store.partner_file(org, &file_id).await.unwrap().unwrap();
    let valid = CUSTOMERS * 3;
    let mut per_customer: HashMap<String, u32> = HashMap::new();
    for a in scan_entities(&app.state, "ACTIVITY", Some(org)).await {
        *per_customer.entry(a["customerId"].as_n().unwrap().clone()).or_default() += 1;
    }
    let applied_records: u32 = per_customer.values().sum();
    let duplicates = per_customer.values().filter(|n| **n > 3).count();
    let changes = payloads(&app, org, "partnerProgramLinked").await.len()
        + payloads(&app, org, "partnerProgramUpdated").await.len();
    let results = moto::get_object(&stage, &format!("results/{org}/SkyMiles/kills.csv.csv")).await.unwrap();
    let lines = String::from_utf8(results).unwrap().lines().count() as u64 - 1;
    println!(
        "file kills: {kills} kills ({mid_file} mid-file), {runs} runs to finish, {rows} rows ({valid} valid), \
         applied {} refused {}, history records {applied_records}, events {changes}, duplicates {duplicates}, \
         result lines {lines}, chunks received after the kills {received}",
        file.applied, file.refused
    );
    assert!(mid_file >= 4, "only {mid_file} kills landed before the file was done: the test proves too little");
    assert_eq!(file.status, FileStatus::Done);
    assert_eq!((file.applied, file.refused, file.rows_done), (valid, CUSTOMERS, rows), "every row counted once");
    assert_eq!(u64::from(applied_records), valid, "one history record per valid row");
    assert_eq!(duplicates, 0, "{per_customer:?}");
    assert_eq!(changes as u64, valid, "one event per valid row");
    assert_eq!(lines, rows, "the results file has every row");
    assert_eq!(payloads(&app, org, "partnerFileProcessed").await.len(), 1);
    assert_eq!(moto::queue_depth(&stage.dlq_url).await, (0, 0), "no chunk went to the dead-letter queue");
}
