//! Per-operation figures through the local server (the handlers every Lambda runs) against
//! DynamoDB Local: latency, the split between waiting on DynamoDB and everything else, DynamoDB
//! round trips per request, requests per second, at each concurrency.

use crate::ddb_timing::{sequential_round_trips, wire_time, Call, RequestRecord};
use crate::fixtures::{link_body, Customer, World, EXPIRY, LINK};
use crate::http_client::{Conn, Req, Resp};
use crate::stats::{ms, summarize, Summary};
use crate::Error;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Measured requests per operation at concurrency 1 and at 16.
    pub requests_c1: usize,
    pub requests_c16: usize,
    /// Measured requests of the 50-customer batch (concurrency 1); the 1-customer batch gets at least 50.
    pub batch_requests: usize,
}

#[derive(Debug, Serialize)]
pub struct RoundTrips {
    /// Sequential DynamoDB round trips per request (calls that overlap in time count once),
    /// without the local server's client lookup: the authorizer's job in AWS.
    pub sequential_p50: f64,
    pub sequential_max: usize,
    /// Sequential round trips of the history page Queries (`Query HIST`) alone: the history goal
    /// allows 2 plus one per page Query the request waited for in turn.
    pub history_page_rounds_p50: f64,
    pub calls_mean: f64,
    pub calls_max: usize,
    /// Calls per request by what they addressed (mean), e.g. `GetItem IDENT`: 1.0.
    pub by_kind: BTreeMap<String, f64>,
    /// The calls of the request at the median latency, in order (the first 40).
    pub example: Vec<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Serialize)]
pub struct OpResult {
    pub op: String,
    pub description: String,
    pub concurrency: usize,
    pub requests: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    pub requests_per_second: f64,
    /// Client side: request sent → whole response read (loopback HTTP included).
    pub latency_ms: Summary,
    /// Inside the server, without the authentication lookup (what the Lambda handler does).
    pub handler_ms: Summary,
    /// Part of `handler_ms` with at least one DynamoDB call on the wire.
    pub dynamodb_ms: Summary,
    /// `handler_ms` − `dynamodb_ms`: our code, SDK (de)serialisation and signing, logging.
    pub other_ms: Summary,
    pub round_trips: RoundTrips,
    /// DynamoDB calls during the measurement that no request span claimed (0: every call is counted).
    pub unattributed_calls: usize,
}

struct Measured {
    resp: Resp,
    record: RequestRecord,
}

fn non_auth(calls: &[Call]) -> Vec<&Call> {
    calls.iter().filter(|c| !c.auth).collect()
}

/// Runs `plan` (one request list per connection) and joins each response to what the server
/// recorded for it.
async fn drive(world: &World, auth: &str, plan: Vec<Vec<Req>>) -> Result<(Vec<Measured>, Duration, usize), Error> {
    let mut conns = Vec::with_capacity(plan.len());
    for _ in &plan {
        conns.push(Conn::open(world.addr, auth).await?);
    }
    world.book.drain();
    let started = Instant::now();
    let workers: Vec<_> = plan
        .into_iter()
        .zip(conns)
        .map(|(reqs, mut conn)| {
            tokio::spawn(async move {
                let mut out = Vec::with_capacity(reqs.len());
                for r in &reqs {
                    out.push(conn.send(r).await.map_err(|e| e.to_string())?);
                }
                Ok::<_, String>(out)
            })
        })
        .collect();
    let mut responses = Vec::new();
    for w in workers {
        responses.extend(w.await??);
    }
    let elapsed = started.elapsed();
    // Request spans close when the server drops the request's future, just after the response
    // has gone out: give the last ones a moment.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let unattributed = world.book.unattributed();
    let mut records = world.book.drain();
    let measured = responses
        .into_iter()
        .map(|resp| {
            let record = resp.request_id.as_deref().and_then(|id| records.remove(id)).unwrap_or_default();
            Measured { resp, record }
        })
        .collect();
    Ok((measured, elapsed, unattributed))
}

/// Splits `n` requests built by `make(worker, j)` over `workers` connections.
fn plan(workers: usize, n: usize, make: &dyn Fn(usize, usize) -> Req) -> Vec<Vec<Req>> {
    (0..workers).map(|w| (0..n / workers + usize::from(w < n % workers)).map(|j| make(w, j)).collect()).collect()
}

fn summarise_op(
    op: &str,
    description: &str,
    concurrency: usize,
    expect: u16,
    measured: &[Measured],
    elapsed: Duration,
) -> OpResult {
    let ok: Vec<&Measured> = measured.iter().filter(|m| m.resp.status == expect).collect();
    let first_error = measured.iter().find(|m| m.resp.status != expect).map(|m| {
        format!("{}: {}", m.resp.status, String::from_utf8_lossy(&m.resp.body).chars().take(300).collect::<String>())
    });
    let mut handler = Vec::new();
    let mut ddb = Vec::new();
    let mut other = Vec::new();
    let mut seq = Vec::new();
    let mut page_rounds = Vec::new();
    let mut calls_n = Vec::new();
    let mut by_kind: BTreeMap<String, f64> = BTreeMap::new();
    for m in &ok {
        let calls = non_auth(&m.record.calls);
        let auth_exec: Duration = m.record.calls.iter().filter(|c| c.auth).map(|c| c.exec.1 - c.exec.0).sum();
        if let (Some(o), Some(c)) = (m.record.opened, m.record.closed) {
            let h = (c - o).saturating_sub(auth_exec);
            let d = wire_time(&calls);
            handler.push(ms(h));
            ddb.push(ms(d));
            other.push(ms(h.saturating_sub(d)));
        }
        seq.push(sequential_round_trips(&calls) as f64);
        let pages: Vec<&Call> = calls.iter().copied().filter(|c| c.label == "Query HIST").collect();
        page_rounds.push(sequential_round_trips(&pages) as f64);
        calls_n.push(calls.len());
        for c in &calls {
            *by_kind.entry(c.label.clone()).or_default() += 1.0;
        }
    }
    let n = ok.len().max(1) as f64;
    for v in by_kind.values_mut() {
        *v /= n;
    }
    let latency = summarize(ok.iter().map(|m| ms(m.resp.latency)));
    let example = ok
        .iter()
        .min_by(|a, b| (ms(a.resp.latency) - latency.p50).abs().total_cmp(&(ms(b.resp.latency) - latency.p50).abs()))
        .map(|m| {
            let mut calls = non_auth(&m.record.calls);
            calls.sort_by_key(|c| c.exec.0);
            calls.iter().take(40).map(|c| c.label.clone()).collect()
        })
        .unwrap_or_default();
    OpResult {
        op: op.to_string(),
        description: description.to_string(),
        concurrency,
        requests: measured.len(),
        errors: measured.len() - ok.len(),
        first_error,
        requests_per_second: measured.len() as f64 / elapsed.as_secs_f64(),
        latency_ms: latency,
        handler_ms: summarize(handler),
        dynamodb_ms: summarize(ddb),
        other_ms: summarize(other),
        round_trips: RoundTrips {
            sequential_p50: summarize(seq.iter().copied()).p50,
            sequential_max: seq.iter().copied().fold(0.0, f64::max) as usize,
            history_page_rounds_p50: summarize(page_rounds).p50,
            calls_mean: calls_n.iter().sum::<usize>() as f64 / n,
            calls_max: calls_n.iter().copied().max().unwrap_or(0),
            by_kind,
            example,
        },
        unattributed_calls: 0,
    }
}

/// One operation: warm-up requests (not counted), then the measured ones.
// Eight plain arguments read better at the call sites (one line per operation) than a struct.
#[allow(clippy::too_many_arguments)]
async fn measure(
    world: &World,
    op: &str,
    description: &str,
    concurrency: usize,
    warm: usize,
    n: usize,
    expect: u16,
    make: &dyn Fn(usize, usize) -> Req,
) -> Result<OpResult, Error> {
    let all = plan(concurrency, warm + n, make);
    let (warmup, measured): (Vec<Vec<Req>>, Vec<Vec<Req>>) = all
        .into_iter()
        .map(|mut reqs| {
            let k = warm.div_ceil(concurrency).min(reqs.len());
            let rest = reqs.split_off(k);
            (reqs, rest)
        })
        .unzip();
    drive(world, &world.api, warmup).await?;
    let (results, elapsed, unattributed) = drive(world, &world.api, measured).await?;
    let mut r = summarise_op(op, description, concurrency, expect, &results, elapsed);
    r.unattributed_calls = unattributed;
    eprintln!(
        "  {:<26} c{:<3} {:>5} req  p50 {:>6.2} ms  p99 {:>6.2} ms  (dynamodb p50 {:>5.2}, other p50 {:>5.3})  {:>4.1} \
         round trips  {:>6.0} req/s{}",
        op,
        concurrency,
        r.requests,
        r.latency_ms.p50,
        r.latency_ms.p99,
        r.dynamodb_ms.p50,
        r.other_ms.p50,
        r.round_trips.sequential_p50,
        r.requests_per_second,
        if r.errors > 0 {
            format!("  {} ERRORS: {}", r.errors, r.first_error.clone().unwrap_or_default())
        } else {
            String::new()
        }
    );
    Ok(r)
}

/// Customers handed out once each, in the order of `plan`'s requests.
#[derive(Clone)]
struct Fresh {
    customers: Vec<Customer>,
}

impl Fresh {
    /// The customer for request `j` of worker `w` among `workers` (warm-up included).
    fn get(&self, workers: usize, w: usize, j: usize) -> &Customer {
        &self.customers[(j * workers + w) % self.customers.len()]
    }
}

/// Warm-up requests before each measurement (not counted).
fn warm(concurrency: usize) -> usize {
    concurrency.max(4)
}

/// Customers one measurement consumes when each request takes a new one.
fn consumed(concurrency: usize, n: usize) -> usize {
    // `plan` gives each connection ⌈total/concurrency⌉ requests at most, so indexes stay below
    // total + concurrency.
    n + warm(concurrency) + concurrency
}

fn q(s: &str) -> String {
    s.replace('@', "%40").replace('+', "%2B")
}

/// Fresh customers of one single-item write operation: one slice per count (per concurrency).
async fn register_slices(world: &World, counts: Vec<usize>) -> Result<Vec<Fresh>, Error> {
    let all = world.register(counts.iter().sum()).await?;
    let mut slices = Vec::new();
    let mut at = 0;
    for n in counts {
        slices.push(Fresh { customers: all[at..at + n].to_vec() });
        at += n;
    }
    Ok(slices)
}

/// Some benefit history for the readers: one availment each.
async fn give_readers_history(world: &World, readers: &[Customer]) -> Result<(), Error> {
    for chunk in readers.chunks(50) {
        let body = json!({
            "customerBenefits": chunk.iter().map(|c| json!({
                "customer": {"mobile": c.mobile},
                "partnerProgramBenefits": [{
                    "partnerProgramName": "SkyMiles", "benefits": [{"name": "PriorityBoarding", "count": 1}],
                    "billNumber": "B-1", "storeName": "T1", "availedDate": "2026-11-20"
                }]
            })).collect::<Vec<_>>()
        });
        crate::http_client::call(world.addr, &world.api, &Req::post("/v2/partnerProgram/customerBenefits", body), 200)
            .await?;
    }
    Ok(())
}

/// A single-customer link to SkyMiles, the customer named by id or by mobile.
fn link_one(c: &Customer, by_id: bool) -> Req {
    let who = if by_id { json!({"id": c.id}) } else { json!({"mobile": c.mobile}) };
    Req::post(LINK, link_body(std::iter::once(who), &["SkyMiles"]))
}

/// The customers the measurements use, registered before any of them runs.
struct Customers {
    /// Linked to two programs, with some history: the reads' and the repeated writes' customers.
    readers: Vec<Customer>,
    link_fresh: Vec<Fresh>,
    idem_fresh: Vec<Fresh>,
    id_fresh: Vec<Fresh>,
    /// Measured requests of the batch of one.
    ones_n: usize,
    batch_ones: Fresh,
    batch_fifties: Vec<Customer>,
}

impl Customers {
    async fn register(world: &World, s: Settings) -> Result<Customers, Error> {
        let counts: Vec<usize> = conc(s).iter().map(|&(c, n)| consumed(c, n)).collect();
        eprintln!("registering customers ...");
        let started = Instant::now();
        let readers = world.register(64).await?;
        world.link(&readers, &["SkyMiles", "FlexiPass"]).await?;
        give_readers_history(world, &readers).await?;
        let link_fresh = register_slices(world, counts.clone()).await?;
        let idem_fresh = register_slices(world, counts.clone()).await?;
        let id_fresh = register_slices(world, counts.clone()).await?;
        // A batch of one is cheap: sample it more, so its p50 (the divisor of the batch goal) is steady.
        let ones_n = s.batch_requests.max(50);
        let batch_ones = Fresh { customers: world.register(ones_n + 1).await? };
        let batch_fifties = world.register((s.batch_requests + 1) * 50).await?;
        eprintln!("  registered in {:.1} s", started.elapsed().as_secs_f64());
        Ok(Customers { readers, link_fresh, idem_fresh, id_fresh, ones_n, batch_ones, batch_fifties })
    }

    /// The reader for request `j` of worker `w` among `c`.
    fn reader(&self, c: usize, w: usize, j: usize) -> Customer {
        // Each connection keeps to its own customers, so concurrent writers never contend.
        let per = (self.readers.len() / c).max(1);
        self.readers[(w * per + j % per) % self.readers.len()].clone()
    }
}

/// (concurrency, measured requests) of each operation.
fn conc(s: Settings) -> [(usize, usize); 2] {
    [(1usize, s.requests_c1), (16usize, s.requests_c16)]
}

/// The groups of measurements, in the order they run, on the world and the customers they share.
struct Operations<'a> {
    world: &'a World,
    s: Settings,
    customers: Customers,
}

impl Operations<'_> {
    /// Single-item writes, each request on a customer of its own.
    async fn single_item_links(&self) -> Result<Vec<OpResult>, Error> {
        let world = self.world;
        let mut results = Vec::new();
        for (i, (c, n)) in conc(self.s).into_iter().enumerate() {
            let fresh = &self.customers.link_fresh[i];
            let desc = "linkCustomer, 1 customer by mobile, SkyMiles tier + membership id";
            results.push(
                measure(world, "link", desc, c, warm(c), n, 200, &|w, j| link_one(fresh.get(c, w, j), false)).await?,
            );
        }
        for (i, (c, n)) in conc(self.s).into_iter().enumerate() {
            let fresh = &self.customers.id_fresh[i];
            let desc = "linkCustomer, 1 customer by id";
            results.push(
                measure(world, "link_by_id", desc, c, warm(c), n, 200, &|w, j| link_one(fresh.get(c, w, j), true))
                    .await?,
            );
        }
        for (i, (c, n)) in conc(self.s).into_iter().enumerate() {
            let fresh = &self.customers.idem_fresh[i];
            let make = |w: usize, j: usize| {
                let cust = fresh.get(c, w, j);
                link_one(cust, false)
                    .header("idempotency-key", format!("bench-{}-{}", cust.id, uuid::Uuid::new_v4().simple()))
            };
            let desc = "linkCustomer by mobile with an Idempotency-Key (first call)";
            results.push(measure(world, "link_idempotent", desc, c, warm(c), n, 200, &make).await?);
        }
        Ok(results)
    }

    async fn reads(&self) -> Result<Vec<OpResult>, Error> {
        let mut results = Vec::new();
        for (c, n) in conc(self.s) {
            let make = |w: usize, j: usize| {
                Req::get(format!(
                    "/v2/partnerProgram/customerPartnerPrograms?identifierName=mobile&identifierValue={}",
                    q(&self.customers.reader(c, w, j).mobile)
                ))
            };
            let desc = "customerPartnerPrograms by mobile (2 linkages)";
            results.push(measure(self.world, "customer_partner_programs", desc, c, warm(c), n, 200, &make).await?);
        }
        for (c, n) in conc(self.s) {
            let make = |w: usize, j: usize| {
                Req::get(format!(
                    "/v2/partnerProgram/customerActivityHistories?identifierName=mobile&identifierValue={}",
                    q(&self.customers.reader(c, w, j).mobile)
                ))
            };
            let desc = "customerActivityHistories by mobile, first page (2 programs)";
            results.push(measure(self.world, "activity_history", desc, c, warm(c), n, 200, &make).await?);
        }
        Ok(results)
    }

    /// Writes that repeat on linked customers.
    async fn repeated_writes(&self) -> Result<Vec<OpResult>, Error> {
        let mut results = Vec::new();
        for (c, n) in conc(self.s) {
            let make = |w: usize, j: usize| {
                let cust = self.customers.reader(c, w, j);
                Req::post(
                    "/v2/partnerProgram/customerPartnerProgramUpdate",
                    json!({
                        "customersPartnerUpdates": [{
                            "customer": {"mobile": cust.mobile},
                            "partnerProgramUpdates": [{
                                "partnerProgramName": "SkyMiles", "updateType": "RENEW",
                                "updateDetails": {"updatedTierExpiryDate": EXPIRY}
                            }]
                        }]
                    }),
                )
            };
            let desc = "customerPartnerProgramUpdate RENEW, 1 customer by mobile";
            results.push(measure(self.world, "update", desc, c, warm(c), n, 200, &make).await?);
        }
        for (c, n) in conc(self.s) {
            let make = |w: usize, j: usize| {
                let cust = self.customers.reader(c, w, j);
                Req::post(
                    "/v2/partnerProgram/customerBenefits",
                    json!({"customerBenefits": [{"customer": {"mobile": cust.mobile}, "partnerProgramBenefits": [{
                        "partnerProgramName": "SkyMiles", "benefits": [{"name": "PriorityBoarding", "count": 1}],
                        "billNumber": format!("B-{w}-{j}"), "storeName": "T3", "availedDate": "2026-11-20"}]}]}),
                )
            };
            let desc = "customerBenefits, 1 customer by mobile, 1 benefit";
            results.push(measure(self.world, "benefits", desc, c, warm(c), n, 200, &make).await?);
        }
        Ok(results)
    }

    /// Delinks the customers `link` linked, request for request.
    async fn delinks(&self) -> Result<Vec<OpResult>, Error> {
        let mut results = Vec::new();
        for (i, (c, n)) in conc(self.s).into_iter().enumerate() {
            let fresh = &self.customers.link_fresh[i];
            let make = |w: usize, j: usize| {
                Req::post(
                    "/v2/partnerProgram/deLinkCustomer",
                    json!({
                        "deLinkCustomers": [{
                            "customer": {"mobile": fresh.get(c, w, j).mobile},
                            "deLinkFromPartnerPrograms": [{"partnerProgramName": "SkyMiles"}]
                        }]
                    }),
                )
            };
            let desc = "deLinkCustomer, 1 customer by mobile";
            results.push(measure(self.world, "delink", desc, c, warm(c), n, 200, &make).await?);
        }
        Ok(results)
    }

    /// A batch of 50 customers against a batch of one, back to back (one warm-up request each).
    async fn batches(&self) -> Result<Vec<OpResult>, Error> {
        let (world, batch_ones) = (self.world, &self.customers.batch_ones);
        let mut results = Vec::new();
        let make_one = |w: usize, j: usize| link_one(batch_ones.get(1, w, j), false);
        let ones_n = self.customers.ones_n;
        results
            .push(measure(world, "batch_1", "linkCustomer, batch of 1 customer", 1, 1, ones_n, 200, &make_one).await?);
        let chunks: Vec<&[Customer]> = self.customers.batch_fifties.chunks(50).collect();
        let make_fifty = |_w: usize, j: usize| {
            Req::post(
                LINK,
                link_body(chunks[j % chunks.len()].iter().map(|c| json!({"mobile": c.mobile})), &["SkyMiles"]),
            )
        };
        let n = self.s.batch_requests;
        results
            .push(measure(world, "batch_50", "linkCustomer, batch of 50 customers", 1, 1, n, 200, &make_fifty).await?);
        Ok(results)
    }
}

pub async fn run(world: &World, s: Settings) -> Result<Vec<OpResult>, Error> {
    let customers = Customers::register(world, s).await?;
    let ops = Operations { world, s, customers };
    let mut results = ops.single_item_links().await?;
    results.extend(ops.reads().await?);
    results.extend(ops.repeated_writes().await?);
    results.extend(ops.delinks().await?);
    results.extend(ops.batches().await?);
    Ok(results)
}
