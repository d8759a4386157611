//! `make bench-import` (`ppimport bench`): a partner file of N rows through the import and a
//! worker process, against DynamoDB Local and moto, beside DynamoDB Local's own time for the same
//! transactions (the floor: the same linkage, history and event items, with no read). Prints rows per second against the floor and the worker's peak RSS.

use crate::cli::Error;
use crate::file_import;
use crate::sweep_seed::{self, SeedSpec, SEED_PROGRAM};
use futures::stream::{self, StreamExt};
use shared::domain::model::{activity_for, ActivityType, Customer, EventName};
use shared::domain::zone::Zone;
use shared::file_sync::import::ImportOutcome;
use shared::file_sync::FileSync;
use shared::state::AppState;
use shared::storage::outbox;
use shared::storage::partner_files::FileStatus;
use shared::storage::records::{to_item, ActivityRecord, LinkageRecord};
use shared::storage::store::tx;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One size's figures.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportRun {
    pub rows: u64,
    pub chunks: u64,
    pub import_seconds: f64,
    pub worker_seconds: f64,
    pub rows_per_second: f64,
    pub floor_per_second: f64,
    pub of_floor: f64,
    pub applied: u64,
    pub worker_peak_rss_kb: u64,
}

/// DynamoDB Local's own rate for the transactions the rows commit, with no read and no service
/// code: for `n` seeded Gold linkages (an org of their own), each linkage as Platinum replacing
/// version 1, its UPGRADE history record and its event, `in_flight` at once. The items are built
/// by the same record and event code, so they carry the same attributes and index keys.
pub async fn floor(state: &AppState, n: u64, in_flight: usize) -> Result<f64, Error> {
    let spec = SeedSpec { linkages: n, due: 0, with_profiles: false, concurrency: 16 };
    let now = chrono::Utc::now();
    let seeded = sweep_seed::seed(state, &spec, now, &|_| {}).await?;
    let (org, program) = (seeded.org_id, &seeded.program);
    let table = state.store.table();
    let mut transactions = Vec::with_capacity(n as usize);
    for customer_id in 1..=n {
        let before = sweep_seed::external_linkage(org, customer_id, program, now + chrono::Duration::days(30), now)?;
        let mut after = before.clone();
        let top = program.tier_by_name("Platinum").ok_or("no Platinum tier")?;
        (after.tier_name, after.tier_number, after.version) = (Some(top.tier_name.clone()), Some(top.tier_number), 2);
        let activity = activity_for(Some(&before), &after, ActivityType::Upgrade, now);
        let customer: Customer =
            serde_json::from_value(serde_json::json!({"customerId": customer_id, "createdAt": now}))?;
        let ev = outbox::event(EventName::Updated, "UPGRADE", org, &customer, program, &after, now, &Zone::utc());
        transactions.push(vec![
            tx::put_versioned(table, to_item(&LinkageRecord::new(after, state.config.due_shards))?, Some(1))?,
            tx::put_new(table, to_item(&ActivityRecord::new(activity))?)?,
            tx::put_new(table, to_item(&ev)?)?,
        ]);
    }
    let client = state.store.client().clone();
    let started = Instant::now();
    let results: Vec<Result<(), Error>> = stream::iter(transactions)
        .map(|items| {
            let client = client.clone();
            async move {
                client.transact_write_items().set_transact_items(Some(items)).send().await?;
                Ok(())
            }
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    results.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(n as f64 / elapsed)
}

/// A file of `rows` UPGRADE rows, one per seeded customer (`id` 1..=rows), Gold to Platinum.
fn upgrade_file(rows: u64) -> Vec<u8> {
    let mut file = String::with_capacity(rows as usize * 40 + 80);
    file.push_str("identifierName,identifierValue,action,partnerTierName,partnerTierExpiryDate\n");
    for i in 1..=rows {
        file.push_str(&format!("id,{i},UPGRADE,Platinum,2031-06-30\n"));
    }
    file.into_bytes()
}

/// Seeds `rows` Gold linkages, drops a file upgrading each, imports it in this process and runs
/// `worker` (a `ppimport work` process) until the file is done.
pub async fn run_size(
    state: Arc<AppState>,
    rows: u64,
    worker: &dyn Fn(&FileSync) -> tokio::process::Command,
) -> Result<ImportRun, Error> {
    let spec = SeedSpec { linkages: rows, due: 0, with_profiles: true, concurrency: 16 };
    let seeded = sweep_seed::seed(&state, &spec, chrono::Utc::now(), &|_| {}).await?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let settings = file_import::provision(
        &format!("bench-{}", &id[..12]),
        &format!("bench-{}", &id[..12]),
        Duration::from_secs(120),
    )
    .await?;
    let fs = FileSync::new(state.clone(), settings).await;
    let key = format!("incoming/{}/{SEED_PROGRAM}/bench-{rows}.csv", seeded.org_id);
    let (etag, size) = file_import::upload(&fs, &key, upgrade_file(rows)).await?;
    let started = Instant::now();
    let outcome = file_import::import(&fs, &key, &etag, size).await?;
    let import_seconds = started.elapsed().as_secs_f64();
    let ImportOutcome::Started { file_id, chunks, .. } = outcome else { return Err(format!("{outcome:?}").into()) };
    let started = Instant::now();
    let child = worker(&fs).stdout(std::process::Stdio::piped()).spawn()?;
    let file = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let file = fs.state.store.partner_file(seeded.org_id, &file_id).await?.ok_or("file item gone")?;
        if file.status == FileStatus::Done {
            break file;
        }
    };
    let worker_seconds = started.elapsed().as_secs_f64();
    let out = child.wait_with_output().await?;
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let floor_per_second = floor(&state, rows.min(20_000), 16).await?;
    let rows_per_second = rows as f64 / worker_seconds;
    Ok(ImportRun {
        rows,
        chunks,
        import_seconds,
        worker_seconds,
        rows_per_second,
        floor_per_second,
        of_floor: rows_per_second / floor_per_second,
        applied: file.applied,
        worker_peak_rss_kb: summary["peakRssKb"].as_u64().unwrap_or(0),
    })
}

/// The table of runs, as the bench prints it.
pub fn table(runs: &[ImportRun]) -> String {
    let mut out = String::from(
        "| rows | chunks | import s | worker s | rows/s | floor tx/s | of floor | applied | worker peak RSS |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in runs {
        out.push_str(&format!(
            "| {} | {} | {:.1} | {:.1} | {:.0} | {:.0} | {:.0} % | {} | {:.1} MiB |\n",
            r.rows,
            r.chunks,
            r.import_seconds,
            r.worker_seconds,
            r.rows_per_second,
            r.floor_per_second,
            r.of_floor * 100.0,
            r.applied,
            r.worker_peak_rss_kb as f64 / 1024.0
        ));
    }
    out
}
