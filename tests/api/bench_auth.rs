//! Authentication timing: a wrong secret for an existing client key and an
//! unknown client key must cost the same, so response time does not tell which keys exist.
//! A benchmark, not a test: `make bench-auth` prints the medians of interleaved requests.

use crate::support::*;
use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run through `make bench-auth`"]
async fn auth_timing() {
    let rounds: usize = std::env::var("AUTH_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(400);
    let app = TestApp::start().await;
    let org = app.org("UTC").await;
    let decoded = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, org.api.trim_start_matches("Basic "))
            .unwrap(),
    )
    .unwrap();
    let (known_key, _) = decoded.split_once(':').unwrap();
    let wrong_secret = basic_raw(known_key, "wrong-secret-of-the-same-length-as-a-real-one-x");
    let unknown_key = basic_raw(
        &format!("ck_{}", &known_key[3..].chars().rev().collect::<String>()),
        "wrong-secret-of-the-same-length-as-a-real-one-x",
    );
    let mut times = [Vec::with_capacity(rounds), Vec::with_capacity(rounds)];
    for i in 0..rounds * 2 {
        // Interleaved, so drift (JIT, caches) affects both kinds alike.
        let which = i % 2;
        let header = if which == 0 { &wrong_secret } else { &unknown_key };
        let started = Instant::now();
        let r = request(&app.base, "GET", "/v2/organization/programs", &[("authorization", header)], vec![]).await;
        let us = started.elapsed().as_secs_f64() * 1e6;
        assert_eq!(r.status, 401);
        if i >= 20 {
            times[which].push(us);
        }
    }
    for t in &mut times {
        t.sort_by(f64::total_cmp);
    }
    let median = |t: &Vec<f64>| t[t.len() / 2];
    let mean = |t: &Vec<f64>| t.iter().sum::<f64>() / t.len() as f64;
    println!("\n401 response time over {rounds} interleaved requests each (µs):");
    println!("  wrong secret, existing key: median {:8.1}  mean {:8.1}", median(&times[0]), mean(&times[0]));
    println!("  unknown key:                median {:8.1}  mean {:8.1}", median(&times[1]), mean(&times[1]));
    println!("  difference of medians:      {:8.1}", median(&times[0]) - median(&times[1]));
}
