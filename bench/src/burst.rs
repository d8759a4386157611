//! `make burst`: parallel batches against the local server (in process, on the Lambdas' SDK
//! settings) and DynamoDB Local, for each bound of the storage admission (`STORAGE_CONCURRENCY`,
//! docs/architecture.md#backpressure). Not a test: it prints figures.

use crate::fixtures::{link_body, Customer, World, LINK};
use crate::http_client::{Conn, Req};
use crate::stats::{ms, summarize};
use crate::Error;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

pub struct Settings {
    /// Admission bounds to compare (`STORAGE_CONCURRENCY`).
    pub bounds: Vec<usize>,
    pub batches: usize,
    pub big_batches: usize,
}

/// Items by result code ("2001 unknown" apart), and the HTTP statuses of the requests.
#[derive(Default)]
struct Tally {
    items: BTreeMap<String, usize>,
    http: BTreeMap<u16, usize>,
}

impl Tally {
    fn unknown(&self) -> usize {
        self.items.get("2001 unknown").copied().unwrap_or(0)
    }

    fn items(&self) -> String {
        self.items.iter().map(|(k, v)| format!("{v} × {k}")).collect::<Vec<_>>().join(", ")
    }

    fn http(&self) -> String {
        self.http.iter().map(|(k, v)| format!("{v} × {k}")).collect::<Vec<_>>().join(", ")
    }
}

fn is_unknown(status: &Value) -> bool {
    status["code"] == 2001 && status["detail"].as_str().is_some_and(|d| d.contains("unknown"))
}

/// Sends every body at once, each on a connection of its own; returns each response's status and
/// its items' statuses (one program entry per customer), in request order.
async fn burst(
    world: &World,
    path: &str,
    bodies: Vec<Value>,
    names: [&str; 3],
) -> Result<Vec<(u16, Vec<Value>)>, Error> {
    let [batch, programs, status] = names;
    let sends = bodies.into_iter().map(|body| async move {
        let mut conn = Conn::open(world.addr, &world.api).await?;
        let resp = conn.send(&Req::post(path, body)).await?;
        let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        let items = v[batch]
            .as_array()
            .map(|customers| customers.iter().map(|c| c[programs][0][status].clone()).collect())
            .unwrap_or_default();
        Ok::<_, Error>((resp.status, items))
    });
    futures::future::try_join_all(sends).await
}

fn tally(responses: &[(u16, Vec<Value>)]) -> Tally {
    let mut t = Tally::default();
    for (status, items) in responses {
        *t.http.entry(*status).or_default() += 1;
        for s in items {
            let key = if is_unknown(s) { "2001 unknown".to_string() } else { s["code"].to_string() };
            *t.items.entry(key).or_default() += 1;
        }
    }
    t
}

fn link_bodies(customers: &[Customer]) -> Vec<Value> {
    customers
        .chunks(50)
        .map(|chunk| link_body(chunk.iter().map(|c| json!({"mobile": c.mobile})), &["SkyMiles"]))
        .collect()
}

const LINK_NAMES: [&str; 3] = ["linkCustomers", "linkToPartnerPrograms", "partnerLinkStatus"];
const BENEFIT_NAMES: [&str; 3] = ["customerBenefits", "partnerProgramBenefits", "benefitStatus"];

/// DynamoDB Local's own time for `n` TransactWriteItems of five Puts (a link's commit), kept
/// eight in flight so it is never idle and no call waits long: no service code, no reads.
async fn floor(table: &str, n: usize) -> Result<f64, Error> {
    let client = aws_sdk_dynamodb::Client::new(&shared::state::sdk_config().await);
    let run = uuid::Uuid::new_v4().simple().to_string();
    let transactions = (0..n)
        .map(|t| {
            (0..5)
                .map(|i| {
                    let put = Put::builder()
                        .table_name(table)
                        .item("PK", AttributeValue::S(format!("BURSTFLOOR#{run}#{t}#{i}")))
                        .item("SK", AttributeValue::S("A".into()))
                        .condition_expression("attribute_not_exists(PK)")
                        .build()?;
                    Ok(TransactWriteItem::builder().put(put).build())
                })
                .collect::<Result<Vec<_>, Error>>()
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let started = Instant::now();
    let results: Vec<Result<(), Error>> = futures::stream::iter(transactions)
        .map(|items| {
            let client = client.clone();
            async move {
                client.transact_write_items().set_transact_items(Some(items)).send().await?;
                Ok(())
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let elapsed = ms(started.elapsed());
    results.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(elapsed)
}

/// Customers of `customers` whose PriorityBoarding counter, or number of benefit records, differs
/// from the 200s they got in `responses` (every batch lists the same customers in order).
async fn mismatches(world: &World, customers: &[Customer], responses: &[(u16, Vec<Value>)]) -> Result<usize, Error> {
    let mut conn = Conn::open(world.addr, &world.api).await?;
    let mut wrong = 0;
    for (k, c) in customers.iter().enumerate() {
        let successes = responses.iter().filter(|(_, items)| items.get(k).is_some_and(|s| s["code"] == 200)).count();
        let path = format!(
            "/v2/partnerProgram/customerActivityHistories?identifierName=id&identifierValue={}&\
             activityType=BENEFITSAVAILED&limit=100",
            c.id
        );
        let resp = conn.send(&Req::get(path)).await?;
        let v: Value = serde_json::from_slice(&resp.body)?;
        let summary = v["data"][0]["partnerProgramDetails"]["benefitsSummary"].as_array().cloned().unwrap_or_default();
        let counter = summary
            .iter()
            .find(|b| b["name"] == "PriorityBoarding")
            .and_then(|b| b["countAvailedInCurrentCycle"].as_u64())
            .unwrap_or(0);
        let listed = v["pagination"]["total"].as_u64().unwrap_or(0);
        if counter != successes as u64 || listed != successes as u64 {
            wrong += 1;
        }
    }
    Ok(wrong)
}

/// Items of the 503 requests in `responses` (of `bodies`' customers) that were applied all the same.
async fn applied_under_503(
    world: &World,
    chunks: &[&[Customer]],
    responses: &[(u16, Vec<Value>)],
) -> Result<usize, Error> {
    let mut conn = Conn::open(world.addr, &world.api).await?;
    let mut applied = 0;
    for (chunk, (status, _)) in chunks.iter().zip(responses) {
        if *status != 503 {
            continue;
        }
        for c in chunk.iter() {
            let path = format!("/v2/partnerProgram/customerPartnerPrograms?identifierName=id&identifierValue={}", c.id);
            let v: Value = serde_json::from_slice(&conn.send(&Req::get(path)).await?.body)?;
            applied += v["linkedPartnerPrograms"].as_array().map_or(0, Vec::len);
        }
    }
    Ok(applied)
}

/// Per bound, on a fresh table: (1) `batches` parallel linkCustomer batches of 50 distinct
/// customers: items by code, 503s, wall time against DynamoDB Local's own time for the same
/// transactions (`floor`); (2) as many customerBenefits batches over the same 50 customers: items by
/// code, customers whose counter or history differs from their 200s; (3) `big_batches` link batches
/// of 50 distinct customers: items by code, 503s, and whether any item of a 503 was applied; (4) a
/// single link with no burst around it, 100 times in a row: p50 and p99.
pub async fn run(settings: &Settings) -> Result<(), Error> {
    println!("\nmake burst: parallel batches of 50 customers against the local server (release build, the Lambdas' SDK settings: 1 s per attempt, 2 s per operation, 3 attempts) and DynamoDB Local in memory, for each STORAGE_CONCURRENCY\n");
    println!("| bound | {b}×50 links: items | HTTP | wall ms | floor ms | wall / floor | {b}×50 benefits, same 50: items | counter or history ≠ 200s | {B}×50 links: items | HTTP | items applied under a 503 | single link p50 / p99 ms |", b = settings.batches, B = settings.big_batches);
    println!("|---:|---|---|---:|---:|---:|---|---:|---|---|---:|---|");
    for &bound in &settings.bounds {
        let world = World::start_with(Arc::new(crate::ddb_timing::Book::default()), Some(bound)).await?;
        let n = settings.batches * 50;
        let customers = world.register(n).await?;
        let floor_ms = floor(&world.table, n).await?;

        let started = Instant::now();
        let links = burst(&world, LINK, link_bodies(&customers), LINK_NAMES).await?;
        let wall = ms(started.elapsed());
        let links_tally = tally(&links);

        let linked: Vec<Customer> = customers
            .iter()
            .zip(links.iter().flat_map(|(_, items)| items))
            .filter(|(_, s)| s["code"] == 200)
            .map(|(c, _)| c.clone())
            .take(50)
            .collect();
        let body = json!({"customerBenefits": linked.iter().map(|c| json!({"customer": {"id": c.id},
            "partnerProgramBenefits": [{"partnerProgramName": "SkyMiles", "benefits": [{"name": "PriorityBoarding", "count": 1}]}]})).collect::<Vec<_>>()});
        let benefits =
            burst(&world, "/v2/partnerProgram/customerBenefits", vec![body; settings.batches], BENEFIT_NAMES).await?;
        let benefits_tally = tally(&benefits);
        let wrong = mismatches(&world, &linked, &benefits).await?;

        let big = world.register(settings.big_batches * 50).await?;
        let big_links = burst(&world, LINK, link_bodies(&big), LINK_NAMES).await?;
        let big_tally = tally(&big_links);
        let chunks: Vec<&[Customer]> = big.chunks(50).collect();
        let under_503 = applied_under_503(&world, &chunks, &big_links).await?;

        let single = world.register(101).await?;
        let mut conn = Conn::open(world.addr, &world.api).await?;
        let mut latencies = Vec::new();
        for (i, c) in single.iter().enumerate() {
            let resp = conn
                .send(&Req::post(LINK, link_body(std::iter::once(json!({"mobile": c.mobile})), &["SkyMiles"])))
                .await?;
            if resp.status != 200 {
                return Err(format!("single link answered {}", resp.status).into());
            }
            if i > 0 {
                latencies.push(ms(resp.latency));
            }
        }
        let single = summarize(latencies);
        println!(
            "| {bound} | {} | {} | {wall:.0} | {floor_ms:.0} | ×{:.2} | {} | {wrong} | {} | {} | {under_503} | {:.2} / {:.2} |",
            links_tally.items(),
            links_tally.http(),
            wall / floor_ms,
            benefits_tally.items(),
            big_tally.items(),
            big_tally.http(),
            single.p50,
            single.p99
        );
        let unknown = links_tally.unknown() + benefits_tally.unknown() + big_tally.unknown();
        if unknown > 0 {
            eprintln!("bound {bound}: {unknown} items unknown");
        }
    }
    println!("\n*floor*: DynamoDB Local's own time for the same number of TransactWriteItems of five Puts (a link's commit), eight in flight, no service code and no reads. *single link*: one customer by mobile, one after another, no burst around it.");
    Ok(())
}
