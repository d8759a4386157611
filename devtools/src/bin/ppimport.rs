//! Local tool for partner files (not a Lambda): runs a file through the import's and the
//! worker's own code against DynamoDB Local (`AWS_ENDPOINT_URL_DYNAMODB`, `TABLE_NAME`) and moto
//! (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_SQS`); `make import` starts them (docs/file-sync.md#locally).
//!
//!   ppimport run --file F --program P [--org N] [--register-customers] [--chunk-rows N] [--out PATH]
//!   ppimport work [--idle-seconds N]     the worker alone, on FILES_BUCKET / FILES_QUEUE_URL, until idle
//!   ppimport bench [--sizes 10000,100000] [--json FILE]   rows/s against DynamoDB Local's floor, worker RSS

use devtools::cli::{arg, number, progress_bar, Error};
use devtools::file_import;
use futures::stream::{self, StreamExt};
use shared::config::file_sync::FileSyncSettings;
use shared::domain::model::OrgId;
use shared::file_sync::import::ImportOutcome;
use shared::file_sync::json_lines::{Format, JsonLinesReader};
use shared::file_sync::{FileReader, FileRow, FileSync, RowResult};
use shared::operations::register_customer::{register, RegisterCustomer, RegisterError};
use shared::state::AppState;
use shared::storage::partner_files::FileStatus;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("run") => run(&args).await,
        Some("work") => work(&args).await,
        Some("bench") => bench(&args).await,
        _ => {
            eprintln!(
                "usage: ppimport run --file F --program P [--org N] [--register-customers] [--chunk-rows N] \
                 [--out PATH] | work [--idle-seconds N] | bench [--sizes 10000,100000] [--json FILE]"
            );
            std::process::exit(2);
        }
    }
}

async fn run(args: &[String]) -> Result<(), Error> {
    shared::logging::init();
    let path = arg(args, "--file").ok_or("--file is required")?;
    let program = arg(args, "--program").ok_or("--program is required")?;
    let body = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let state = AppState::from_env().await?;
    devtools::table_definition::ensure_table(state.store.client(), state.store.table()).await?;
    let org = match arg(args, "--org") {
        Some(org) => org.parse::<OrgId>().map_err(|_| "--org must be a number")?,
        None => devtools::demo::seed_demo(&state).await?.org.org_id,
    };
    let mut settings =
        file_import::provision("partner-files-local", "partner-file-chunks", Duration::from_secs(30)).await?;
    settings.chunk_rows = number(args, "--chunk-rows", settings.chunk_rows)?;
    let fs = FileSync::new(Arc::new(state), settings).await;
    let name = std::path::Path::new(path).file_name().and_then(|n| n.to_str()).unwrap_or("file.csv");
    if args.iter().any(|a| a == "--register-customers") {
        let n = register_customers(&fs, org, program, name, &body).await?;
        eprintln!("registered {n} customers the file names that were missing");
    }
    let key = format!("incoming/{org}/{program}/{name}");
    let started = Instant::now();
    let (etag, size) = file_import::upload(&fs, &key, body).await?;
    let outcome = file_import::import(&fs, &key, &etag, size).await?;
    eprintln!("s3://{}/{key}: {}", fs.objects.bucket(), serde_json::to_string(&outcome)?);
    if let ImportOutcome::Started { file_id, rows, .. } = &outcome {
        drain_with_progress(&fs, org, file_id, *rows).await?;
    }
    let results_key = shared::file_sync::results::results_key(org, program, name);
    let results = fs.objects.get(&results_key).await?.ok_or("no results file")?;
    let out = arg(args, "--out").map_or_else(|| format!(".local/results/{name}.csv"), str::to_string);
    if let Some(dir) = std::path::Path::new(&out).parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, &results)?;
    summarize(&results, started.elapsed(), &results_key, &out)
}

/// Registers, enrolled in the program's loyalty program, each customer the file names by mobile,
/// email or externalId that does not exist yet (a demo's members). Returns how many it made.
async fn register_customers(fs: &FileSync, org: OrgId, program: &str, name: &str, body: &[u8]) -> Result<u64, Error> {
    let catalog = fs.state.catalog(org).await?;
    let loyalty = catalog.partner_program(program).ok_or(format!("no partner program {program}"))?.loyalty_program_id;
    let rows: Box<dyn Iterator<Item = (u64, Result<FileRow, RowResult>)>> = match Format::of_name(name) {
        Format::Csv => Box::new(FileReader::new(body)?),
        Format::JsonLines => Box::new(JsonLinesReader::new(body, 1)),
    };
    let mut named = BTreeSet::new();
    for row in rows.filter_map(|(_, row)| row.ok()) {
        if let (Some(name), Some(value)) = (row.identifier_name, row.identifier_value) {
            named.insert((name.to_ascii_lowercase(), value));
        }
    }
    let state = &fs.state;
    let made = stream::iter(named)
        .map(|(name, value)| async move {
            let mut body = RegisterCustomer { program_ids: vec![loyalty], ..Default::default() };
            match name.as_str() {
                "mobile" => body.mobile = Some(serde_json::Value::String(value)),
                "email" => body.email = Some(value),
                "externalid" => body.external_id = Some(value),
                _ => return Ok(0),
            }
            match register(state, org, body).await {
                Ok(_) => Ok(1),
                Err(RegisterError::Duplicate(_)) => Ok(0),
                Err(e) => Err(e.to_string()),
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<Result<u64, String>>>()
        .await;
    Ok(made.into_iter().collect::<Result<Vec<_>, _>>()?.into_iter().sum())
}

/// Runs the worker on the queue until the file is done, with a bar of its rows.
async fn drain_with_progress(fs: &FileSync, org: OrgId, file_id: &str, rows: u64) -> Result<(), Error> {
    let bar = progress_bar(rows, "rows");
    loop {
        file_import::work_once(fs, Duration::from_secs(1)).await?;
        let file = fs.state.store.partner_file(org, file_id).await?.ok_or("the file item is gone")?;
        bar.set_position(file.rows_done);
        if file.status == FileStatus::Done {
            bar.finish();
            return Ok(());
        }
    }
}

/// Prints the results' codes and the first lines.
fn summarize(results: &[u8], elapsed: Duration, key: &str, out: &str) -> Result<(), Error> {
    let mut reader = csv::Reader::from_reader(results);
    let mut codes: BTreeMap<String, u64> = BTreeMap::new();
    let mut rows = 0u64;
    for record in reader.records() {
        let record = record?;
        rows += 1;
        *codes.entry(record.get(2).unwrap_or("").to_string()).or_default() += 1;
    }
    println!("{rows} result lines in {:.1} s; codes: {codes:?}", elapsed.as_secs_f64());
    println!("results: {key} (copied to {out})");
    for line in String::from_utf8_lossy(results).lines().take(21) {
        println!("  {line}");
    }
    Ok(())
}

/// The worker alone, as its Lambda would run: batches from the queue until none came for
/// `--idle-seconds`. Prints what it did and its peak resident memory.
async fn work(args: &[String]) -> Result<(), Error> {
    shared::logging::init();
    let idle = Duration::from_secs(number(args, "--idle-seconds", 3)?);
    let state = AppState::from_env().await?;
    let fs = FileSync::new(Arc::new(state), FileSyncSettings::from_env()?).await;
    let (mut received, mut quiet_since) = (0u64, Instant::now());
    while quiet_since.elapsed() < idle {
        let n = file_import::work_once(&fs, Duration::from_secs(1)).await?;
        if n > 0 {
            received += n as u64;
            quiet_since = Instant::now();
        }
    }
    let summary = serde_json::json!({ "received": received, "peakRssKb": peak_rss_kb() });
    println!("{summary}");
    Ok(())
}

/// This process's peak resident set (VmHWM), in KiB; 0 where /proc does not say.
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// `make bench-import`: each size through the import and a worker process (this binary's `work`).
async fn bench(args: &[String]) -> Result<(), Error> {
    let sizes: Vec<u64> = arg(args, "--sizes")
        .unwrap_or("10000,100000")
        .split(',')
        .map(|s| s.trim().replace('_', "").parse::<u64>().map_err(|_| format!("--sizes: bad number {s:?}")))
        .collect::<Result<_, _>>()?;
    let state = Arc::new(AppState::from_env().await?);
    devtools::table_definition::ensure_table(state.store.client(), state.store.table()).await?;
    let me = std::env::current_exe()?;
    let table = state.store.table().to_string();
    let worker = |fs: &FileSync| {
        let mut cmd = tokio::process::Command::new(&me);
        cmd.args(["work", "--idle-seconds", "3"])
            .env("TABLE_NAME", &table)
            .env("FILES_BUCKET", fs.objects.bucket())
            .env("FILES_QUEUE_URL", fs.queue.as_ref().map(|q| q.url().to_string()).unwrap_or_default())
            .kill_on_drop(true);
        cmd
    };
    let mut runs = Vec::new();
    for rows in sizes {
        eprintln!("{rows} rows: seeding, importing, working ...");
        let run = devtools::import_bench::run_size(state.clone(), rows, &worker).await?;
        eprintln!("{}", serde_json::to_string(&run)?);
        runs.push(run);
    }
    println!("{}", devtools::import_bench::table(&runs));
    if let Some(path) = arg(args, "--json") {
        std::fs::write(path, serde_json::to_string_pretty(&runs)?)?;
    }
    Ok(())
}
