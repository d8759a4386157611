//! Local tool for the tier-expiry sweep (not a Lambda): runs it once, seeds data for it, and
//! benchmarks it, against the DynamoDB that `AWS_ENDPOINT_URL_DYNAMODB` names and `TABLE_NAME`.
//!
//!   ppsweep run   [--max-items N] [--at 2031-01-01T00:00:00Z]   sweep once, print the JSON summary
//!   ppsweep seed  --linkages N --due M [--no-profiles] [--concurrency C]
//!   ppsweep bench [--sizes 10000,100000] [--due 1000] [--reps 3] [--concurrency C] [--json FILE]

use chrono::{DateTime, Duration, Utc};
use devtools::sweep_seed::{self, SeedSpec};
use devtools::table_definition::TableDefinition;
use shared::state::AppState;
use shared::storage::store::Store;
use shared::sweep::{self, SweepOptions, SweepSettings, SweepSummary};
use std::sync::Arc;
use std::time::Instant;

use devtools::cli::{arg, number, progress_bar, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("run") => run(&args).await,
        Some("seed") => seed(&args).await,
        Some("bench") => bench(&args).await,
        _ => {
            eprintln!(
                "usage: ppsweep run [--max-items N] [--at RFC3339] | seed --linkages N --due M [--no-profiles] | bench \
                 [--sizes 10000,100000] [--due 1000] [--reps 3] [--json FILE]"
            );
            std::process::exit(2);
        }
    }
}

async fn run(args: &[String]) -> Result<(), Error> {
    shared::logging::init();
    let mut state = AppState::from_env().await?;
    devtools::table_definition::ensure_table(state.store.client(), state.store.table()).await?;
    if let Some(at) = arg(args, "--at") {
        let at: DateTime<Utc> = DateTime::parse_from_rfc3339(at).map_err(|e| format!("--at: {e}"))?.with_timezone(&Utc);
        state = AppState::new(state.store.clone(), (*state.config).clone(), Arc::new(move || at));
    }
    let options =
        SweepOptions { max_items: arg(args, "--max-items").map(str::parse).transpose()?, ..Default::default() };
    let summary = sweep::run(&state, &state.config.sweep, options).await;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

async fn seed(args: &[String]) -> Result<(), Error> {
    let state = AppState::from_env().await?;
    devtools::table_definition::ensure_table(state.store.client(), state.store.table()).await?;
    let spec = SeedSpec {
        linkages: number(args, "--linkages", 10_000)?,
        due: number(args, "--due", 1_000)?,
        with_profiles: !args.iter().any(|a| a == "--no-profiles"),
        concurrency: number(args, "--concurrency", 16)? as usize,
    };
    let bar = progress_bar(spec.linkages, "linkages");
    let started = Instant::now();
    let report = sweep_seed::seed(&state, &spec, Utc::now(), &|n| bar.inc(n)).await?;
    bar.finish();
    println!(
        "seeded {} linkages ({} due now) in org {} program {} into {} in {:.1} s ({} items written)",
        report.linkages,
        report.due,
        report.org_id,
        report.program.partner_program_name,
        state.store.table(),
        started.elapsed().as_secs_f64(),
        report.items_written
    );
    Ok(())
}

struct BenchRow {
    linkages: u64,
    seed_seconds: f64,
    runs: Vec<SweepSummary>,
    /// A run with nothing due: what the schedule costs between expiries.
    idle: SweepSummary,
}

impl BenchRow {
    fn median_seconds(&self) -> f64 {
        let mut t: Vec<f64> = self.runs.iter().map(|r| r.elapsed_ms as f64 / 1000.0).collect();
        t.sort_by(f64::total_cmp);
        t.get(t.len() / 2).copied().unwrap_or(0.0)
    }

    fn totals(&self) -> (u64, u64, f64, u64, u64) {
        let changed = self.runs.iter().map(|r| r.changed).sum();
        let read = self.runs.iter().map(|r| r.items_read).sum();
        let rcu = self.runs.iter().map(|r| r.read_capacity_units).sum();
        let skipped = self.runs.iter().map(|r| r.skipped + r.failed).sum();
        let queries = self.runs.iter().map(|r| r.queries).sum();
        (changed, read, rcu, skipped, queries)
    }
}

/// The arguments of `bench`.
struct BenchArgs {
    sizes: Vec<u64>,
    due: u64,
    reps: u64,
    concurrency: usize,
}

impl BenchArgs {
    fn parse(args: &[String]) -> Result<BenchArgs, Error> {
        let sizes: Vec<u64> = arg(args, "--sizes")
            .unwrap_or("10000,100000")
            .split(',')
            .map(|s| s.trim().replace('_', "").parse::<u64>().map_err(|_| format!("--sizes: bad number {s:?}")))
            .collect::<Result<_, _>>()?;
        let due = number(args, "--due", 1_000)?;
        let reps = number(args, "--reps", 3)?.max(1);
        let concurrency = number(args, "--concurrency", 16)? as usize;
        Ok(BenchArgs { sizes, due, reps, concurrency })
    }
}

/// One size's table, seeded, with what its runs measured so far.
struct SeededTable {
    table: String,
    state: AppState,
    report: sweep_seed::SeedReport,
    row: BenchRow,
}

/// Creates a fresh table for `size` linkages and seeds it, `due` of them due now.
async fn seed_table(base: &AppState, def: &TableDefinition, size: u64, b: &BenchArgs) -> Result<SeededTable, Error> {
    let due = b.due;
    let table = format!("{}-bench-{size}-{}", base.config.table_name, Utc::now().timestamp());
    devtools::table_definition::create_table(base.store.client(), &table, def).await?;
    let config = shared::config::Config { table_name: table.clone(), ..(*base.config).clone() };
    let state = AppState::new(Store::new(base.store.client().clone(), table.clone()), config, Arc::new(Utc::now));
    println!("table {table}: seeding {size} linkages, {due} due ...");
    let bar = progress_bar(size, "linkages");
    let started = Instant::now();
    let spec = SeedSpec { linkages: size, due, with_profiles: false, concurrency: b.concurrency };
    let report = sweep_seed::seed(&state, &spec, Utc::now(), &|n| bar.inc(n)).await?;
    bar.finish_and_clear();
    let seed_seconds = started.elapsed().as_secs_f64();
    println!("  seeded in {seed_seconds:.1} s ({:.0} linkages/s)", size as f64 / seed_seconds);
    let row = BenchRow { linkages: size, seed_seconds, runs: Vec::new(), idle: SweepSummary::default() };
    Ok(SeededTable { table, state, report, row })
}

/// Fresh due work for run `rep` (from the second on), on customers the table has not seen yet.
async fn reseed_due(t: &SeededTable, rep: u64, b: &BenchArgs) -> Result<(), Error> {
    let due = b.due;
    let now = Utc::now();
    let first = t.row.linkages + (rep - 1) * due + 1;
    let fresh = (first..first + due)
        .map(|c| {
            sweep_seed::external_linkage(
                t.report.org_id,
                c,
                &t.report.program,
                now - Duration::seconds(1 + (c as i64 % 3600)),
                now,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    sweep_seed::write_linkages(&t.state, fresh, b.concurrency).await?;
    Ok(())
}

/// One measured sweep of `t`, printed and kept in its row.
async fn measured_sweep(t: &mut SeededTable, rep: u64, settings: &SweepSettings) {
    // A fresh state per run: a cold container, no cached catalog.
    let run_state = AppState::new(t.state.store.clone(), (*t.state.config).clone(), Arc::new(Utc::now));
    let summary = sweep::run(&run_state, settings, SweepOptions::default()).await;
    println!(
        "  {} linkages, run {}: changed {}, skipped {}, items read {}, {} queries, {:.3} s",
        t.row.linkages,
        rep + 1,
        summary.changed,
        summary.skipped,
        summary.items_read,
        summary.queries,
        summary.elapsed_ms as f64 / 1000.0
    );
    t.row.runs.push(summary);
}

/// The idle run of each table (nothing due any more), then the table goes.
async fn idle_runs(base: &AppState, tables: Vec<SeededTable>, settings: &SweepSettings) -> Vec<BenchRow> {
    let mut rows = Vec::new();
    for mut t in tables {
        let idle_state = AppState::new(t.state.store.clone(), (*t.state.config).clone(), Arc::new(Utc::now));
        t.row.idle = sweep::run(&idle_state, settings, SweepOptions::default()).await;
        if let Err(e) = base.store.client().delete_table().table_name(&t.table).send().await {
            eprintln!("  could not delete {}: {e}", t.table);
        }
        rows.push(t.row);
    }
    rows
}

fn print_table(base: &AppState, settings: &SweepSettings, b: &BenchArgs, rows: &[BenchRow]) {
    let (reps, due) = (b.reps, b.due);
    println!();
    println!(
        "Tier-expiry sweep against DynamoDB Local: {} due shards, page {}, concurrency {}, {reps} run(s) per size \
         of {due} due linkages each",
        base.config.due_shards, settings.page_size, settings.concurrency
    );
    println!();
    println!(
        "| linkages in table | seed time | changed | items read | items read / change | read units / change | index \
         queries / run | sweep time (median) | changes / s | idle run (nothing due) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let (changed, read, rcu, skipped, queries) = row.totals();
        let per_change = if changed > 0 { read as f64 / changed as f64 } else { f64::NAN };
        let rcu_per_change = if changed > 0 { rcu / changed as f64 } else { f64::NAN };
        let median = row.median_seconds();
        let rate = if median > 0.0 { (changed as f64 / row.runs.len() as f64) / median } else { f64::NAN };
        println!(
            "| {} | {:.1} s | {changed}{} | {read} | {per_change:.3} | {rcu_per_change:.3} | {:.0} | {median:.3} s | \
             {rate:.0} | {} queries, {} items, {:.3} s |",
            row.linkages,
            row.seed_seconds,
            if skipped > 0 { format!(" ({skipped} skipped/failed)") } else { String::new() },
            queries as f64 / row.runs.len() as f64,
            row.idle.queries,
            row.idle.items_read,
            row.idle.elapsed_ms as f64 / 1000.0,
        );
    }
}

/// How the sweep time grew from the smallest table to the largest.
fn print_scaling(rows: &[BenchRow]) {
    if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
        if rows.len() > 1 && first.median_seconds() > 0.0 {
            let ratio = last.median_seconds() / first.median_seconds();
            println!();
            println!(
                "sweep time {} vs {} linkages: ×{ratio:.2} ({:+.0}%; goal within 20%); items \
                 read per change goal ≤ 1.1",
                last.linkages,
                first.linkages,
                (ratio - 1.0) * 100.0
            );
        }
    }
}

fn row_json(row: &BenchRow) -> serde_json::Value {
    let (changed, read, rcu, skipped, queries) = row.totals();
    let runs = row.runs.len().max(1) as f64;
    let median = row.median_seconds();
    serde_json::json!({
        "linkages": row.linkages,
        "seed_seconds": row.seed_seconds,
        "changed": changed,
        "skipped_or_failed": skipped,
        "items_read": read,
        "items_read_per_change": if changed > 0 { read as f64 / changed as f64 } else { 0.0 },
        "read_units_per_change": if changed > 0 { rcu / changed as f64 } else { 0.0 },
        "index_queries_per_run": queries as f64 / runs,
        "median_seconds": median,
        "changes_per_second": if median > 0.0 { changed as f64 / runs / median } else { 0.0 },
        "idle_queries": row.idle.queries,
        "idle_items_read": row.idle.items_read,
        "idle_seconds": row.idle.elapsed_ms as f64 / 1000.0,
        "runs": row.runs,
    })
}

/// The figures as JSON (`--json FILE`, for `make bench`).
fn write_json(
    path: &str,
    base: &AppState,
    settings: &SweepSettings,
    b: &BenchArgs,
    rows: &[BenchRow],
) -> Result<(), Error> {
    let json_rows: Vec<serde_json::Value> = rows.iter().map(row_json).collect();
    let doc = serde_json::json!({
        "due": b.due,
        "reps": b.reps,
        "due_shards": base.config.due_shards,
        "page_size": settings.page_size,
        "concurrency": settings.concurrency,
        "rows": json_rows,
    });
    std::fs::write(path, serde_json::to_string_pretty(&doc)?)?;
    Ok(())
}

/// A fresh table per size (named after TABLE_NAME), seeded with BatchWriteItem, then `--due` due
/// linkages swept `--reps` times per size, re-seeding the due ones between runs and interleaving
/// the sizes so load drift hits all alike: items read per item changed, sweep time and changes per
/// second (`--json FILE` writes them for `make bench`).
async fn bench(args: &[String]) -> Result<(), Error> {
    let base = AppState::from_env().await?;
    let b = BenchArgs::parse(args)?;
    // Seeds fall due within the last six hours, so one day back covers them; every run then does
    // the same index work (8 shards × at most 2 days).
    let settings = SweepSettings { lookback_days: 1, ..base.config.sweep.clone() };
    let def = devtools::table_definition::parse(devtools::table_definition::TEMPLATE)?;
    // Seed every table first, then interleave the runs across sizes, so a change in machine load
    // during the benchmark weighs on every size alike.
    let mut tables = Vec::new();
    for &size in &b.sizes {
        tables.push(seed_table(&base, &def, size, &b).await?);
    }
    for rep in 0..b.reps {
        for t in &mut tables {
            if rep > 0 {
                reseed_due(t, rep, &b).await?;
            }
            measured_sweep(t, rep, &settings).await;
        }
    }
    let rows = idle_runs(&base, tables, &settings).await;
    print_table(&base, &settings, &b, &rows);
    print_scaling(&rows);
    if let Some(path) = arg(args, "--json") {
        write_json(path, &base, &settings, &b, &rows)?;
    }
    Ok(())
}
