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
    print_header(settings);
    for &bound in &settings.bounds {
        let world = World::start_with(Arc::new(crate::ddb_timing::Book::default()), Some(bound)).await?;
        let links = distinct_links(&world, settings.batches).await?;
        let (benefits, wrong) = same_customers_benefits(&world, &links, settings.batches).await?;
        let big = distinct_links(&world, settings.big_batches).await?;
        let chunks: Vec<&[Customer]> = big.customers.chunks(50).collect();
        let under_503 = applied_under_503(&world, &chunks, &big.responses).await?;
        let single = single_links(&world).await?;
        println!(
            "| {bound} | {} | {} | {:.0} | {:.0} | ×{:.2} | {} | {wrong} | {} | {} | {under_503} | {:.2} / {:.2} |",
            links.tally.items(),
            links.tally.http(),
            links.wall_ms,
            links.floor_ms,
            links.wall_ms / links.floor_ms,
            benefits.items(),
            big.tally.items(),
            big.tally.http(),
            single.p50,
            single.p99
        );
        let unknown = links.tally.unknown() + benefits.unknown() + big.tally.unknown();
        if unknown > 0 {
            eprintln!("bound {bound}: {unknown} items unknown");
        }
    }
    println!(
        "\n*floor*: DynamoDB Local's own time for the same number of TransactWriteItems of five Puts (a \
         link's commit), eight in flight, no service code and no reads. *single link*: one customer by \
         mobile, one after another, no burst around it."
    );
    Ok(())
}

fn print_header(settings: &Settings) {
    println!(
        "\nmake burst: parallel batches of 50 customers against the local server (release build, the \
         Lambdas' SDK settings: 1 s per attempt, 2 s per operation, 3 attempts) and DynamoDB Local in \
         memory, for each STORAGE_CONCURRENCY\n"
    );
    let (b, big) = (settings.batches, settings.big_batches);
    println!(
        "| bound | {b}×50 links: items | HTTP | wall ms | floor ms | wall / floor | {b}×50 benefits, same 50: \
         items | counter or history ≠ 200s | {big}×50 links: items | HTTP | items applied under a 503 | \
         single link p50 / p99 ms |"
    );
    println!("|---:|---|---|---:|---:|---:|---|---:|---|---|---:|---|");
}

/// One burst of link batches of distinct customers, registered first, and what it came to.
struct LinkBurst {
    customers: Vec<Customer>,
    responses: Vec<(u16, Vec<Value>)>,
    tally: Tally,
    wall_ms: f64,
    /// DynamoDB Local's own time for as many commits (`floor`), measured before the burst.
    floor_ms: f64,
}

/// `batches` parallel linkCustomer batches of 50 customers registered for them.
async fn distinct_links(world: &World, batches: usize) -> Result<LinkBurst, Error> {
    let customers = world.register(batches * 50).await?;
    let floor_ms = floor(&world.table, customers.len()).await?;
    let started = Instant::now();
    let responses = burst(world, LINK, link_bodies(&customers), LINK_NAMES).await?;
    let wall_ms = ms(started.elapsed());
    let tally = tally(&responses);
    Ok(LinkBurst { customers, responses, tally, wall_ms, floor_ms })
}

/// `batches` parallel customerBenefits batches over the same 50 customers linked by `links`: the
/// items by code, and how many customers' counter or history differs from their 200s.
async fn same_customers_benefits(world: &World, links: &LinkBurst, batches: usize) -> Result<(Tally, usize), Error> {
    let linked: Vec<Customer> = links
        .customers
        .iter()
        .zip(links.responses.iter().flat_map(|(_, items)| items))
        .filter(|(_, s)| s["code"] == 200)
        .map(|(c, _)| c.clone())
        .take(50)
        .collect();
    let entry = json!([{"partnerProgramName": "SkyMiles", "benefits": [{"name": "PriorityBoarding", "count": 1}]}]);
    let customers: Vec<Value> =
        linked.iter().map(|c| json!({"customer": {"id": c.id}, "partnerProgramBenefits": entry})).collect();
    let body = json!({ "customerBenefits": customers });
    let responses = burst(world, "/v2/partnerProgram/customerBenefits", vec![body; batches], BENEFIT_NAMES).await?;
    let wrong = mismatches(world, &linked, &responses).await?;
    Ok((tally(&responses), wrong))
}

/// A single link with no burst around it, 100 times in a row (after one warm-up).
async fn single_links(world: &World) -> Result<crate::stats::Summary, Error> {
    let single = world.register(101).await?;
    let mut conn = Conn::open(world.addr, &world.api).await?;
    let mut latencies = Vec::new();
    for (i, c) in single.iter().enumerate() {
        let body = link_body(std::iter::once(json!({"mobile": c.mobile})), &["SkyMiles"]);
        let resp = conn.send(&Req::post(LINK, body)).await?;
        if resp.status != 200 {
            return Err(format!("single link answered {}", resp.status).into());
        }
        if i > 0 {
            latencies.push(ms(resp.latency));
        }
    }
    Ok(summarize(latencies))
}
