//! `make load`: a fixed, seeded mix of operations at a fixed concurrency for a fixed time against
//! the local server (in process) and DynamoDB Local, then one table of figures (`run`).

use crate::fixtures::{Customer, World, EXPIRY};
use crate::http_client::{Conn, Req, Resp};
use crate::stats::summarize;
use crate::Error;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Settings {
    pub seconds: u64,
    pub concurrency: usize,
    pub customers: usize,
    pub seed: u64,
}

#[derive(Default)]
struct Tally {
    latencies: BTreeMap<&'static str, Vec<f64>>,
    errors: BTreeMap<&'static str, u64>,
    queued: u64,
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

impl Tally {
    /// Files one response under its operation: latency, whether it failed, items it answered 2010.
    fn record(&mut self, op: &'static str, resp: &Resp) {
        let body = String::from_utf8_lossy(&resp.body);
        self.latencies.entry(op).or_default().push(resp.latency.as_secs_f64() * 1000.0);
        // 201 is a batch with a failed item (quota reached, say): an answer, not an error.
        if !(resp.status == 200 || resp.status == 201) {
            *self.errors.entry(op).or_default() += 1;
        }
        self.queued += body.matches("\"code\":2010").count() as u64;
    }
}

/// What every worker shares: the customer pool, the fresh customers links take, the tally.
struct Shared<'a> {
    pool: &'a [Customer],
    fresh: &'a Mutex<Vec<Customer>>,
    tally: &'a Mutex<Tally>,
}

/// The next request of the mix for worker `w` (its `n`th); `None` when no fresh customer is left
/// for a link, and the turn is skipped.
fn next_request(rng: &mut StdRng, shared: &Shared<'_>, w: usize, n: u64) -> Result<Option<(&'static str, Req)>, Error> {
    let pool = shared.pool;
    let c: &Customer = &pool[rng.random_range(0..pool.len())];
    let roll = rng.random_range(0..100);
    Ok(Some(match roll {
        0..35 => ("benefits", benefits(&[c], rng)),
        35..55 => (
            "customerPartnerPrograms",
            Req::get(format!("/v2/partnerProgram/customerPartnerPrograms?identifierName=id&identifierValue={}", c.id)),
        ),
        55..70 => {
            let tier = ["Silver", "Gold", "Platinum"][rng.random_range(0..3)];
            let body = json!({
                "customersPartnerUpdates": [{
                    "customer": {"id": c.id},
                    "partnerProgramUpdates": [{
                        "partnerProgramName": "SkyMiles", "updateType": "UPDATE",
                        "updateDetails": {"updatedTierName": tier, "updatedTierExpiryDate": EXPIRY}
                    }]
                }]
            });
            ("update", Req::post("/v2/partnerProgram/customerPartnerProgramUpdate", body))
        }
        70..85 => (
            "history",
            Req::get(format!(
                "/v2/partnerProgram/customerActivityHistories?identifierName=mobile&identifierValue={}&limit=10",
                c.mobile
            )),
        ),
        85..95 => {
            let Some(new) = shared.fresh.lock().map_err(|_| "poisoned")?.pop() else { return Ok(None) };
            let body = json!({
                "linkCustomers": [{
                    "customer": {"mobile": new.mobile},
                    "linkToPartnerPrograms": [{
                        "partnerProgramName": "SkyMiles",
                        "customerPartnerReference": {
                            "partnerTierName": "Gold", "partnerTierExpiryDate": EXPIRY,
                            "partnerMembershipId": format!("LOAD-{}-{n}-{w}", new.id)
                        }
                    }]
                }]
            });
            ("link", Req::post("/v2/partnerProgram/linkCustomer", body))
        }
        _ => {
            let other = &pool[rng.random_range(0..pool.len())];
            ("benefits batch of 2", benefits(&[c, other], rng))
        }
    }))
}

/// Worker `w`: its own seeded sequence of requests on one connection until the deadline.
async fn worker(world: &World, s: &Settings, w: usize, deadline: Instant, shared: Shared<'_>) -> Result<(), Error> {
    let mut rng = StdRng::seed_from_u64(s.seed + w as u64);
    let mut conn = Conn::open(world.addr, &world.api).await?;
    let mut n = 0u64;
    while Instant::now() < deadline {
        n += 1;
        let Some((op, req)) = next_request(&mut rng, &shared, w, n)? else { continue };
        let resp = conn.send(&req).await?;
        shared.tally.lock().map_err(|_| "poisoned")?.record(op, &resp);
    }
    Ok(())
}

/// The table: per operation and in all, with the 2010 count and the process's peak RSS.
fn print_table(s: &Settings, elapsed: f64, t: &Tally) {
    let total: usize = t.latencies.values().map(Vec::len).sum();
    println!(
        "\nmake load: {} workers, {:.0} s, seed {}, pool of {} customers (release build, local server in process, \
         DynamoDB Local in memory)\n",
        s.concurrency, elapsed, s.seed, s.customers
    );
    println!("| operation | requests | req/s | p50 ms | p99 ms | errors (not 200/201) |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (op, lat) in &t.latencies {
        let sum = summarize(lat.iter().copied());
        println!(
            "| {op} | {} | {:.1} | {:.2} | {:.2} | {} |",
            sum.n,
            sum.n as f64 / elapsed,
            sum.p50,
            sum.p99,
            t.errors.get(op).copied().unwrap_or(0)
        );
    }
    let all = summarize(t.latencies.values().flatten().copied());
    let errors: u64 = t.errors.values().sum();
    println!("| **all** | {total} | {:.1} | {:.2} | {:.2} | {errors} |", total as f64 / elapsed, all.p50, all.p99);
    println!("\nitems answered 2010 (contention budget spent): {}", t.queued);
    println!("peak RSS of the process (driver and local server together): {:.1} MB", peak_rss_mb());
}

/// Throughput, p50/p99 per operation, errors, items that got 2010 (contention) and peak RSS of a
/// seeded mix (the same sequence per worker on a rerun): 35% benefits, 20%
/// customerPartnerPrograms, 15% tier updates, 15% activity history, 10% single-customer links of a
/// fresh customer, 5% 2-customer benefit batches. The customer pool is small enough that workers
/// meet on the same customers now and then, as bursts do, so 2010 can happen.
pub async fn run(world: &World, s: &Settings) -> Result<(), Error> {
    eprintln!("registering and linking {} customers", s.customers);
    let pool = world.register(s.customers).await?;
    world.link(&pool, &["SkyMiles"]).await?;
    let fresh = world.register(s.concurrency * 400).await?;
    let fresh = Mutex::new(fresh);
    let tally = Mutex::new(Tally::default());
    let deadline = Instant::now() + Duration::from_secs(s.seconds);
    let started = Instant::now();
    eprintln!("running {} workers for {} s", s.concurrency, s.seconds);
    let workers =
        (0..s.concurrency).map(|w| worker(world, s, w, deadline, Shared { pool: &pool, fresh: &fresh, tally: &tally }));
    futures::future::try_join_all(workers).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let t = tally.into_inner().map_err(|_| "poisoned")?;
    print_table(s, elapsed, &t);
    Ok(())
}

fn benefits(customers: &[&Customer], rng: &mut StdRng) -> Req {
    let items: Vec<serde_json::Value> = customers
        .iter()
        .map(|c| {
            let name = if rng.random_bool(0.3) { "LoungeAccess" } else { "PriorityBoarding" };
            json!({
                "customer": {"id": c.id},
                "partnerProgramBenefits": [{"partnerProgramName": "SkyMiles", "benefits": [{"name": name, "count": 1}]}]
            })
        })
        .collect();
    Req::post("/v2/partnerProgram/customerBenefits", json!({"customerBenefits": items}))
}
