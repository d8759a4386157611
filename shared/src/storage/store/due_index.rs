//! The reads and writes of the expiry sweep (and the preview, which walks the same index): the
//! sparse due index, a program's members, and the watermark (docs/architecture.md#the-sweep).

use super::{Store, StoreError};
use crate::domain::model::OrgId;
use crate::storage::keys::{self, Key};
use crate::storage::records::Item;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnConsumedCapacity};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One page of a due-index partition, up to a sort-key bound (`Store::query_due_page`).
#[derive(Debug, Clone, Copy)]
pub struct DueQuery<'a> {
    /// The partition: a day and a write shard (`keys::due_pk`).
    pub due_pk: &'a str,
    /// Exclusive upper bound of the due sort keys wanted.
    pub upper: &'a str,
    pub limit: i32,
    /// Only this org's items (linkages carry `orgId`, program items only their `ORG#` key).
    pub org: Option<OrgId>,
    /// Oldest due first.
    pub forward: bool,
}

/// One page of an index query: its items, where the next page starts (`None` when there is
/// none) and the read capacity DynamoDB reported.
#[derive(Debug, Default)]
pub struct IndexPage {
    pub items: Vec<Item>,
    pub last_key: Option<Item>,
    pub capacity: f64,
}

/// Items read by key, with the read capacity DynamoDB reported for them.
#[derive(Debug, Default)]
pub struct BatchRead {
    pub items: Vec<Item>,
    pub capacity: f64,
}

/// The sweep's watermark item: the oldest due-index day that may still hold unfinished work.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WatermarkRecord {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity: String,
    day: String,
}

/// Attempts of `batch_get_consistent` while DynamoDB leaves keys unprocessed (throttling).
const BATCH_GET_ATTEMPTS: u32 = 8;

/// The reads and writes of the expiry sweep (and the preview, which walks the same index):
/// the sparse due index, a program's members, and the watermark. See docs/architecture.md#the-sweep.
impl Store {
    /// One page of a due-index partition: items due before `query.upper`.
    pub async fn query_due_page(&self, query: &DueQuery<'_>, start: Option<Item>) -> Result<IndexPage, StoreError> {
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::DUE_INDEX)
            .key_condition_expression("DUE_PK = :pk AND DUE_SK < :upper")
            .expression_attribute_values(":pk", AttributeValue::S(query.due_pk.to_string()))
            .expression_attribute_values(":upper", AttributeValue::S(query.upper.to_string()))
            .limit(query.limit)
            .scan_index_forward(query.forward)
            .set_exclusive_start_key(start)
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        if let Some(org) = query.org {
            q = q
                .filter_expression("orgId = :org OR PK = :orgpk")
                .expression_attribute_values(":org", AttributeValue::N(org.to_string()))
                .expression_attribute_values(":orgpk", AttributeValue::S(keys::org_pk(org)));
        }
        let out = self.call("Query", || q.send()).await?.map_err(|e| StoreError::from_sdk("Query", e))?;
        Ok(IndexPage {
            capacity: out.consumed_capacity.as_ref().and_then(|c| c.capacity_units).unwrap_or(0.0),
            last_key: out.last_evaluated_key.filter(|k| !k.is_empty()),
            items: out.items.unwrap_or_default(),
        })
    }

    /// One page (up to 100) of the primary keys of a program's members, from the KEYS_ONLY
    /// ProgramMembers index; `members_pk` is `keys::program_member_keys(..).0`.
    pub async fn query_program_member_keys(
        &self,
        members_pk: &str,
        start: Option<Item>,
    ) -> Result<IndexPage, StoreError> {
        let out = self
            .call("Query", || {
                self.client
                    .query()
                    .table_name(&self.table)
                    .index_name(keys::PROGRAM_MEMBERS_INDEX)
                    .key_condition_expression("PROG_PK = :pk")
                    .expression_attribute_values(":pk", AttributeValue::S(members_pk.to_string()))
                    .limit(100)
                    .set_exclusive_start_key(start)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
            })
            .await?
            .map_err(|e| StoreError::from_sdk("Query", e))?;
        let primary_key = |i: &Item| {
            Some(HashMap::from([
                (keys::PK.to_string(), i.get(keys::PK)?.clone()),
                (keys::SK.to_string(), i.get(keys::SK)?.clone()),
            ]))
        };
        Ok(IndexPage {
            items: out.items.unwrap_or_default().iter().filter_map(primary_key).collect(),
            capacity: out.consumed_capacity.and_then(|c| c.capacity_units).unwrap_or(0.0),
            last_key: out.last_evaluated_key.filter(|k| !k.is_empty()),
        })
    }

    /// The items with these primary keys (strongly consistent, 100 keys per BatchGetItem), in no
    /// particular order; keys DynamoDB leaves unprocessed are asked again with a growing pause,
    /// and still unprocessed after `BATCH_GET_ATTEMPTS` tries they make a throttling error.
    pub async fn batch_get_consistent(&self, mut keys: Vec<Item>) -> Result<BatchRead, StoreError> {
        let mut read = BatchRead::default();
        let mut attempts = 0u32;
        while !keys.is_empty() {
            let chunk: Vec<Item> = keys.drain(..keys.len().min(100)).collect();
            let request =
                KeysAndAttributes::builder().set_keys(Some(chunk)).consistent_read(true).build().map_err(|e| {
                    StoreError::Service { operation: "BatchGetItem", message: e.to_string(), throttled: false }
                })?;
            let out = self
                .call("BatchGetItem", || {
                    self.client
                        .batch_get_item()
                        .request_items(&self.table, request)
                        .return_consumed_capacity(ReturnConsumedCapacity::Total)
                        .send()
                })
                .await?
                .map_err(|e| StoreError::from_sdk("BatchGetItem", e))?;
            read.items.extend(out.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default());
            read.capacity +=
                out.consumed_capacity.unwrap_or_default().iter().filter_map(|c| c.capacity_units).sum::<f64>();
            let unprocessed = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).map(|k| k.keys);
            if let Some(unprocessed) = unprocessed.filter(|k| !k.is_empty()) {
                attempts += 1;
                if attempts > BATCH_GET_ATTEMPTS {
                    return Err(StoreError::Service {
                        operation: "BatchGetItem",
                        message: "unprocessed keys after retries".into(),
                        throttled: true,
                    });
                }
                tokio::time::sleep(std::time::Duration::from_millis(20 << attempts.min(6))).await;
                keys.extend(unprocessed);
            }
        }
        Ok(read)
    }

    /// The sweep's watermark day, `None` when the table has none yet (or an unreadable one).
    pub async fn sweep_watermark(&self) -> Result<Option<NaiveDate>, StoreError> {
        let stored: Option<WatermarkRecord> = self.get(&keys::sweep_watermark()).await?;
        Ok(stored.and_then(|w| NaiveDate::parse_from_str(&w.day, "%Y-%m-%d").ok()))
    }

    /// Moves the sweep's watermark forward to `day` (`YYYY-MM-DD`); `Ok(false)` when it is there
    /// or further already (a concurrent run moved it).
    pub async fn advance_sweep_watermark(&self, day: &str) -> Result<bool, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::sweep_watermark().to_item()))
            .update_expression("SET #day = :day, entity = :entity")
            .condition_expression("attribute_not_exists(#day) OR #day < :day")
            .expression_attribute_names("#day", "day")
            .expression_attribute_values(":day", AttributeValue::S(day.to_string()))
            .expression_attribute_values(":entity", AttributeValue::S("SWEEP_WATERMARK".into()));
        self.update_if(update).await
    }

    /// Takes an item out of the due index while its due sort key is still `due_sk`; `Ok(false)`
    /// when it changed (the item was rewritten since it was read).
    pub async fn remove_due_keys(&self, key: &Key, due_sk: &str) -> Result<bool, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key.to_item()))
            .update_expression("REMOVE DUE_PK, DUE_SK")
            .condition_expression("DUE_SK = :sk")
            .expression_attribute_values(":sk", AttributeValue::S(due_sk.to_string()));
        self.update_if(update).await
    }
}
