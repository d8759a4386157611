//! Init time of every function binary: process start to its first `/invocation/next` poll (config,
//! SDK client, DynamoDB warm-up read included), `INIT_BENCH_STARTS` starts each (default 20).
//! A benchmark, not a test: `make bench-init` runs it on release binaries and prints the figures.

use crate::fixtures::{table_name, Sandbox};
use crate::template::functions;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run through `make bench-init`"]
async fn init_time() {
    let starts: usize = std::env::var("INIT_BENCH_STARTS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    println!(
        "\n{:<34} {:>8} {:>8} {:>8}   (ms, {starts} starts, bins from {})",
        "binary",
        "p50",
        "min",
        "max",
        crate::lambda_process::bin_dir().display()
    );
    for f in functions(&table_name()) {
        let mut times = Vec::with_capacity(starts);
        for _ in 0..starts {
            let sandbox = Sandbox::start(&f).await;
            let polled = sandbox
                .api
                .first_poll(Duration::from_secs(10))
                .await
                .unwrap_or_else(|| panic!("{} did not poll /next\n{}", f.binary, sandbox.process.logs()));
            times.push(polled.duration_since(sandbox.process.started).as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        println!("{:<34} {:>8.1} {:>8.1} {:>8.1}", f.binary, times[times.len() / 2], times[0], times[times.len() - 1]);
    }
}
