//! What DynamoDB Local itself allows, in the same run: one TransactWriteItems of five Puts (the
//! shape of a link's commit) against fifty of them in flight at once, each on keys of its own, with
//! no service code around them. The fifty's time is the floor under a 50-customer batch on this
//! emulator: no implementation that commits each customer in a transaction of its own is faster, so
//! the report sets it against the batch of one.

use crate::stats::{ms, summarize, Summary};
use crate::Error;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde::Serialize;
use shared::storage::keys::{PK, SK};
use std::time::Instant;

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
}

const PUTS: usize = 5;

fn transaction(table: &str, run: &str, n: usize) -> Result<Vec<TransactWriteItem>, Error> {
    (0..PUTS)
        .map(|i| {
            let put = Put::builder()
                .table_name(table)
                .item(PK, AttributeValue::S(format!("BENCHFLOOR#{run}#{n}#{i}")))
                .item(SK, AttributeValue::S("A".into()))
                .item("v", AttributeValue::N(n.to_string()))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK);
            Ok(TransactWriteItem::builder().put(put.build()?).build())
        })
        .collect()
}

async fn commit(client: &aws_sdk_dynamodb::Client, items: Vec<TransactWriteItem>) -> Result<(), Error> {
    client.transact_write_items().set_transact_items(Some(items)).send().await?;
    Ok(())
}

/// `singles` transactions alone, one after another, then `rounds` of `many` at once (after one
/// warm-up each).
pub async fn run(table: &str, singles: usize, many: usize, rounds: usize) -> Result<Floor, Error> {
    let client = aws_sdk_dynamodb::Client::new(&shared::state::sdk_config().await);
    let mut n = 0usize;
    let mut next = || {
        n += 1;
        n
    };
    let mut one = Vec::with_capacity(singles);
    for round in 0..=singles {
        let items = transaction(table, "one", next())?;
        let started = Instant::now();
        commit(&client, items).await?;
        if round > 0 {
            one.push(ms(started.elapsed()));
        }
    }
    let mut all = Vec::with_capacity(rounds);
    for round in 0..=rounds {
        let batch = (0..many).map(|_| transaction(table, "many", next())).collect::<Result<Vec<_>, _>>()?;
        let started = Instant::now();
        let results = futures::future::join_all(batch.into_iter().map(|items| commit(&client, items))).await;
        let elapsed = ms(started.elapsed());
        results.into_iter().collect::<Result<Vec<_>, _>>()?;
        if round > 0 {
            all.push(elapsed);
        }
    }
    let (one_ms, many_ms) = (summarize(one), summarize(all));
    Ok(Floor { puts_per_transaction: PUTS, one_ms, many_ms, many, ratio_p50: many_ms.p50 / one_ms.p50 })
}
