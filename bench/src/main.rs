//! `partner-bench`: the measuring half of `make bench` (scripts/bench.sh runs it against a fresh
//! in-memory DynamoDB Local; bench/report.py writes REPORT.md and the chart from its output).
//!
//!   partner-bench --out FILE [--requests N] [--requests-c1 N] [--batch-requests N]
//!                 [--starts N] [--warm N] [--bin-dir DIR] [--python PATH] [--skip-lambda]
//!   partner-bench profile --binary PATH --out FILE --callgrind-out PREFIX [--invocations N]
//!   partner-bench load [--seconds 30] [--concurrency 16] [--customers 200] [--seed 1]   (make load)
//!   partner-bench burst [--bounds 8,16,32,64,1024] [--batches 10] [--big-batches 40]   (make burst)

// A measuring tool, like the tests whose emulator it includes: a failed unwrap ends the run with
// its message, which is what a broken benchmark should do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The Runtime API emulator and the template reader of the Runtime API tests, compiled in as they
// are: one emulator serves the tests, our binaries and the peer.
#[path = "../../tests/runtime/runtime_api.rs"]
#[allow(dead_code)]
mod runtime_api;
#[path = "../../tests/runtime/template.rs"]
#[allow(dead_code)]
mod template;

mod burst;
mod ddb_timing;
mod fixtures;
mod floor;
mod http_client;
mod lambda;
mod load;
mod profile;
mod server;
mod stats;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tracing_subscriber::prelude::*;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn number(args: &[String], name: &str, default: usize) -> Result<usize, Error> {
    match arg(args, name) {
        Some(v) => Ok(v.parse().map_err(|_| format!("{name} must be a number, got {v:?}"))?),
        None => Ok(default),
    }
}

/// The subscriber: request spans tagged for the interceptor, plus the JSON log lines a Lambda
/// writes at INFO (formatted as in production, written to a sink) so their cost is counted.
fn tracing_setup(book: Arc<ddb_timing::Book>) {
    use tracing_subscriber::filter::{filter_fn, LevelFilter};
    let spans = ddb_timing::RequestSpans::new(book).with_filter(filter_fn(|m| m.is_span() && m.name() == "request"));
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .with_writer(std::io::sink)
        .with_filter(LevelFilter::INFO);
    let _ = tracing_subscriber::registry().with(spans).with(logs).try_init();
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        eprintln!(
            "usage: partner-bench --out FILE [--requests N] [--requests-c1 N] [--batch-requests N] [--starts N] \
             [--warm N] [--bin-dir DIR] [--python PATH] [--skip-lambda]"
        );
        return Ok(());
    }
    match args.first().map(String::as_str) {
        Some("burst") => return burst_command(&args).await,
        Some("load") => return load_command(&args).await,
        _ => {}
    }
    let out = PathBuf::from(arg(&args, "--out").ok_or("--out FILE is required")?);
    if args.first().map(String::as_str) == Some("profile") {
        return profile_command(&args, out).await;
    }
    let settings = BenchSettings::parse(&args, &out)?;
    bench_command(&settings, &out).await
}

async fn burst_command(args: &[String]) -> Result<(), Error> {
    let bounds = arg(args, "--bounds").unwrap_or_else(|| "8,16,32,64,1024".into());
    let settings = burst::Settings {
        bounds: bounds
            .split(',')
            .map(|b| b.trim().parse())
            .collect::<Result<_, _>>()
            .map_err(|_| "--bounds: numbers")?,
        batches: number(args, "--batches", 10)?.max(1),
        big_batches: number(args, "--big-batches", 40)?.max(1),
    };
    let book = Arc::new(ddb_timing::Book::default());
    tracing_setup(book);
    burst::run(&settings).await
}

async fn load_command(args: &[String]) -> Result<(), Error> {
    let settings = load::Settings {
        seconds: number(args, "--seconds", 30)? as u64,
        concurrency: number(args, "--concurrency", 16)?.max(1),
        customers: number(args, "--customers", 200)?.max(2),
        seed: number(args, "--seed", 1)? as u64,
    };
    let book = Arc::new(ddb_timing::Book::default());
    tracing_setup(book.clone());
    let world = fixtures::World::start(book).await?;
    load::run(&world, &settings).await
}

/// The settings of the measuring run (`make bench`), from its arguments.
struct BenchSettings {
    server: server::Settings,
    lambda: lambda::Settings,
    skip_lambda: bool,
}

impl BenchSettings {
    fn parse(args: &[String], out: &Path) -> Result<BenchSettings, Error> {
        let requests_c16 = number(args, "--requests", 800)?;
        let server = server::Settings {
            requests_c16,
            requests_c1: number(args, "--requests-c1", (requests_c16 / 4).max(20))?,
            batch_requests: number(args, "--batch-requests", 10)?,
        };
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let lambda = lambda::Settings {
            bin_dir: arg(args, "--bin-dir").map(PathBuf::from).unwrap_or_else(|| root.join("target/release")),
            // Absolute but not resolved: the venv's `python` is a symlink that must stay the one started.
            python: std::path::absolute(
                arg(args, "--python").map(PathBuf::from).unwrap_or_else(|| root.join(".venv/peer/bin/python")),
            )?,
            starts: number(args, "--starts", 20)?.max(1),
            warm: number(args, "--warm", 300)?.max(1),
            logs: out.with_extension("logs"),
        };
        Ok(BenchSettings { server, lambda, skip_lambda: args.iter().any(|a| a == "--skip-lambda") })
    }
}

/// The measuring run: operations through the local server, DynamoDB Local alone, the functions
/// as Lambda runs them; writes `out`.
async fn bench_command(settings: &BenchSettings, out: &Path) -> Result<(), Error> {
    let (server_settings, lambda_settings) = (settings.server, &settings.lambda);
    let book = Arc::new(ddb_timing::Book::default());
    tracing_setup(book.clone());
    let started = Instant::now();
    let world = fixtures::World::start(book.clone()).await?;
    eprintln!("table {} on {}", world.table, std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_default());

    eprintln!("operations through the local server:");
    let ops = server::run(&world, server_settings).await?;
    // The server figures first, so a failure in the Lambda part does not lose them.
    std::fs::write(out, serde_json::to_string_pretty(&serde_json::json!({"operations": &ops}))?)?;
    eprintln!(
        "DynamoDB Local alone: 1 against 50 concurrent TransactWriteItems, the same Puts grouped, a link's calls"
    );
    let instrumented = fixtures::instrumented_client(book.clone()).await;
    let floor = floor::run(&world.table, &instrumented, &book, 50, 50, server_settings.batch_requests).await?;
    let lambda = if settings.skip_lambda { None } else { Some(lambda::run(&world, lambda_settings).await?) };
    let result = serde_json::json!({
        "settings": {
            "requests_c1": server_settings.requests_c1,
            "requests_c16": server_settings.requests_c16,
            "batch_requests": server_settings.batch_requests,
            "starts": lambda_settings.starts,
            "warm": lambda_settings.warm,
            "bin_dir": lambda_settings.bin_dir,
        },
        "operations": ops,
        "dynamodb_floor": floor,
        "lambda": lambda,
        // DynamoDB calls made outside any request span (seeding and set-up): not in the figures.
        "unattributed_calls": book.unattributed(),
        "seconds": started.elapsed().as_secs_f64(),
    });
    std::fs::write(out, serde_json::to_string_pretty(&result)?)?;
    eprintln!("wrote {} in {:.0} s", out.display(), started.elapsed().as_secs_f64());
    Ok(())
}

async fn profile_command(args: &[String], out: PathBuf) -> Result<(), Error> {
    let options = profile::Options {
        binary: PathBuf::from(arg(args, "--binary").ok_or("--binary PATH is required")?),
        callgrind_prefix: PathBuf::from(arg(args, "--callgrind-out").ok_or("--callgrind-out PREFIX is required")?),
        invocations: number(args, "--invocations", 200)?,
        out: out.clone(),
    };
    let settings = lambda::Settings {
        bin_dir: PathBuf::from("/"),
        python: PathBuf::from("python3"),
        starts: 1,
        warm: 1,
        logs: out.with_extension("logs"),
    };
    std::fs::create_dir_all(&settings.logs)?;
    let book = Arc::new(ddb_timing::Book::default());
    tracing_setup(book.clone());
    let world = fixtures::World::start(book).await?;
    profile::run(&world, &settings, &options).await
}

#[cfg(test)]
mod tests {
    use crate::http_client::{call, Conn, Req};
    use serde_json::json;
    use std::sync::Arc;

    /// The interceptor files every DynamoDB call of a request under that request (the id the
    /// local server returns as `x-request-id`), marks the server's client lookup as `auth`, and
    /// leaves nothing unattributed. Needs DynamoDB Local (`make test` starts it).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_are_filed_under_the_request_that_made_them() {
        let book = Arc::new(crate::ddb_timing::Book::default());
        crate::tracing_setup(book.clone());
        let world = crate::fixtures::World::start(book.clone()).await.unwrap_or_else(|e| panic!("{e}"));
        call(world.addr, &world.api, &Req::get("/v2/organization/programs".into()), 200).await.unwrap();
        book.drain();
        let mut conn = Conn::open(world.addr, &world.admin).await.unwrap();
        let body = json!({"mobile": "919700000042", "externalId": "ATTR-1", "programIds": [world.loyalty_program]});
        let resp = conn.send(&Req::post(crate::fixtures::REGISTER, body)).await.unwrap();
        assert_eq!(resp.status, 201, "{:?}", resp.body);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let unattributed = book.unattributed();
        let records = book.drain();
        let id = resp.request_id.expect("x-request-id");
        let record = records
            .get(id.as_str())
            .unwrap_or_else(|| panic!("no record for {id}: {:?}", records.keys().collect::<Vec<_>>()));
        assert_eq!(unattributed, 0);
        assert_eq!(records.len(), 1, "only the one request ran");
        let auth: Vec<_> = record.calls.iter().filter(|c| c.auth).map(|c| c.label.as_str()).collect();
        assert_eq!(auth, ["GetItem CLIENT"], "{:?}", record.calls);
        assert!(
            record.calls.iter().any(|c| !c.auth && c.label.starts_with("TransactWriteItems")),
            "{:?}",
            record.calls
        );
        assert!(
            record.calls.iter().all(|c| c.wire.is_some_and(|(s, e)| c.exec.0 <= s && s <= e && e <= c.exec.1)),
            "{:?}",
            record.calls
        );
        let (opened, closed) = (record.opened.expect("span opened"), record.closed.expect("span closed"));
        assert!(
            record.calls.iter().all(|c| opened <= c.exec.0 && c.exec.1 <= closed),
            "calls lie inside the request span"
        );
    }
}
