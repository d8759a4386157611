//! What DynamoDB Local and the SDK themselves allow, in the same run, with no service code around
//! them: the floor the report sets a 50-customer batch and a link's calls against (`run`).

use crate::ddb_timing::{wire_time, Book};
use crate::stats::{ms, summarize, Summary};
use crate::Error;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde::Serialize;
use shared::storage::keys::{PK, SK};
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

/// Fifty transactions of a link's shape (five Puts) in flight at once, on keys of their own, are the
/// floor under a 50-customer batch on this emulator: no implementation that commits each customer
/// in a transaction of its own is faster. The same Puts in five transactions show whether sharing
/// transactions would lower it (DynamoDB Local writes item by item).
#[derive(Debug, Serialize)]
pub struct Floor {
    /// Puts in each transaction.
    pub puts_per_transaction: usize,
    /// Wall time of one transaction alone.
    pub one_ms: Summary,
    /// Wall time until all of `many` transactions, started together, have returned.
    pub many_ms: Summary,
    pub many: usize,
    /// `many_ms.p50 / one_ms.p50`.
    pub ratio_p50: f64,
    /// The same `many × puts_per_transaction` Puts as `grouped` transactions, started together.
    pub grouped_ms: Summary,
    pub grouped: usize,
    /// A link's three calls with no service code: time outside DynamoDB (`other` of the operations).
    pub sdk_link_calls: SdkCalls,
}

#[derive(Debug, Serialize)]
pub struct SdkCalls {
    pub calls: Vec<&'static str>,
    pub total_ms: Summary,
    pub dynamodb_ms: Summary,
    pub other_ms: Summary,
}

const PUTS: usize = 5;

fn put(table: &str, pk: String, n: usize) -> Result<TransactWriteItem, Error> {
    let put = Put::builder()
        .table_name(table)
        .item(PK, AttributeValue::S(pk))
        .item(SK, AttributeValue::S("A".into()))
        .item("v", AttributeValue::N(n.to_string()))
        .condition_expression("attribute_not_exists(#pk)")
        .expression_attribute_names("#pk", PK);
    Ok(TransactWriteItem::builder().put(put.build()?).build())
}

/// `puts` Puts on keys of their own, each transaction `n` of the `run`.
fn transaction(table: &str, run: &str, n: usize, puts: usize) -> Result<Vec<TransactWriteItem>, Error> {
    (0..puts).map(|i| put(table, format!("BENCHFLOOR#{run}#{n}#{i}"), n)).collect()
}

async fn commit(client: &aws_sdk_dynamodb::Client, items: Vec<TransactWriteItem>) -> Result<(), Error> {
    client.transact_write_items().set_transact_items(Some(items)).send().await?;
    Ok(())
}

/// Wall time of `rounds` rounds (after one warm-up) of `transactions` transactions of `puts` Puts
/// each, started together.
async fn together(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    run: &str,
    transactions: usize,
    puts: usize,
    rounds: usize,
    next: &mut impl FnMut() -> usize,
) -> Result<Summary, Error> {
    let mut all = Vec::with_capacity(rounds);
    for round in 0..=rounds {
        let batch = (0..transactions).map(|_| transaction(table, run, next(), puts)).collect::<Result<Vec<_>, _>>()?;
        let started = Instant::now();
        let results = futures::future::join_all(batch.into_iter().map(|items| commit(client, items))).await;
        let elapsed = ms(started.elapsed());
        results.into_iter().collect::<Result<Vec<_>, _>>()?;
        if round > 0 {
            all.push(elapsed);
        }
    }
    Ok(summarize(all))
}

/// `singles` transactions alone, one after another, then `rounds` of `many` at once and of the
/// same Puts in `many * PUTS / 50` transactions (after one warm-up each), then `singles` link-shaped
/// call sequences on `instrumented` (the bench's client, timed by `book`).
pub async fn run(
    table: &str,
    instrumented: &aws_sdk_dynamodb::Client,
    book: &Arc<Book>,
    singles: usize,
    many: usize,
    rounds: usize,
) -> Result<Floor, Error> {
    let client = aws_sdk_dynamodb::Client::new(&shared::state::sdk_config().await);
    let mut n = 0usize;
    let mut next = || {
        n += 1;
        n
    };
    let mut one = Vec::with_capacity(singles);
    for round in 0..=singles {
        let items = transaction(table, "one", next(), PUTS)?;
        let started = Instant::now();
        commit(&client, items).await?;
        if round > 0 {
            one.push(ms(started.elapsed()));
        }
    }
    let many_ms = together(&client, table, "many", many, PUTS, rounds, &mut next).await?;
    let grouped = (many * PUTS).div_ceil(50).max(1);
    let grouped_ms = together(&client, table, "grouped", grouped, many * PUTS / grouped, rounds, &mut next).await?;
    let sdk_link_calls = link_calls(table, instrumented, book, singles, &mut next).await?;
    let one_ms = summarize(one);
    Ok(Floor {
        puts_per_transaction: PUTS,
        one_ms,
        many_ms,
        many,
        ratio_p50: many_ms.p50 / one_ms.p50,
        grouped_ms,
        grouped,
        sdk_link_calls,
    })
}

/// GetItem of a key, Query of its partition, a transaction of five Puts, one after another inside
/// a `request` span, `n` times (after one warm-up): each split into time on the wire and the rest.
async fn link_calls(
    table: &str,
    client: &aws_sdk_dynamodb::Client,
    book: &Arc<Book>,
    n: usize,
    next: &mut impl FnMut() -> usize,
) -> Result<SdkCalls, Error> {
    let (mut total, mut ddb, mut other) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..=n {
        let i = next();
        let key = format!("BENCHFLOOR#one#{i}#0");
        let items = transaction(table, "link", i, PUTS)?;
        let request_id = format!("floor-link-{i}");
        let span = tracing::info_span!("request", requestId = %request_id);
        let started = Instant::now();
        async {
            client
                .get_item()
                .table_name(table)
                .key(PK, AttributeValue::S(key.clone()))
                .key(SK, AttributeValue::S("A".into()))
                .send()
                .await?;
            client
                .query()
                .table_name(table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", AttributeValue::S(key))
                .send()
                .await?;
            commit(client, items).await
        }
        .instrument(span)
        .await?;
        let elapsed = started.elapsed();
        let record = book.drain().remove(request_id.as_str()).unwrap_or_default();
        let calls: Vec<_> = record.calls.iter().collect();
        if round > 0 && calls.len() == 3 {
            let wire = wire_time(&calls);
            total.push(ms(elapsed));
            ddb.push(ms(wire));
            other.push(ms(elapsed.saturating_sub(wire)));
        }
    }
    if other.is_empty() {
        return Err("the link-shaped calls were not recorded by the timing interceptor".into());
    }
    Ok(SdkCalls {
        calls: vec!["GetItem", "Query", "TransactWriteItems×5"],
        total_ms: summarize(total),
        dynamodb_ms: summarize(ddb),
        other_ms: summarize(other),
    })
}
