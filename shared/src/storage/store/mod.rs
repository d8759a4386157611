//! The DynamoDB store: one table, reads by GetItem/Query only (never Scan), writes conditional,
//! multi-item changes as one `TransactWriteItems`. Here the client, its admission and the generic
//! calls; beside it the errors, the reads by key, the due index and the transaction items.

mod catalog_writes;
mod customer_writes;
mod due_index;
mod errors;
mod membership_ids;
mod partner_files;
mod reads;
pub mod tx;

pub use customer_writes::Registration;
pub use due_index::{BatchRead, DueQuery, IndexPage};
pub use errors::{StoreError, TransactError};
pub use partner_files::FileClaim;

use crate::storage::admission::{Admission, Patience};
use crate::storage::keys::{self, Key};
use crate::storage::records::*;
use crate::storage::write_context::WriteContext;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, Select, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

/// A sort-key range `[lo, hi]` within one partition.
#[derive(Debug, Clone, Copy)]
pub struct KeyRange<'a> {
    pub pk: &'a str,
    pub lo: &'a str,
    pub hi: &'a str,
}

/// One page of a range query; `last_sk` is where the next page starts, `None` when there is none.
#[derive(Debug, Default)]
pub struct RangePage {
    pub items: Vec<Item>,
    pub last_sk: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
    /// Shared by every clone: one bound on the calls in flight for the whole process.
    admission: Arc<Admission>,
    /// The request this store serves (`scoped`): its deadline and its write gate.
    request: Option<Arc<WriteContext>>,
}

impl Store {
    /// A store whose calls share an admission of `admission::DEFAULT_BOUND` turns.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Store::with_admission(client, table, Admission::default())
    }

    pub fn with_admission(client: Client, table: impl Into<String>, admission: Admission) -> Self {
        Store { client, table: table.into(), admission: Arc::new(admission), request: None }
    }

    /// This store as one request's: its calls wait for a turn no later than the request's
    /// deadline, and its writes wait at the request's gate.
    pub fn scoped(&self, request: Arc<WriteContext>) -> Store {
        Store { request: Some(request), ..self.clone() }
    }

    /// Waits until the request may write (its `Idempotency-Key` claimed); at once outside one.
    async fn may_write(&self) -> Result<(), StoreError> {
        match &self.request {
            Some(request) => request.may_write().await,
            None => Ok(()),
        }
    }

    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// Makes one SDK call (`send` builds it) once this process has a turn for it, waiting no later
    /// than the request's deadline (none outside a request).
    pub(crate) async fn call<F, Fut, T>(&self, operation: &'static str, send: F) -> Result<T, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        self.call_within(operation, self.patience(), send).await
    }

    /// `call`, waiting for a turn as long as `patience` allows. The call's future is built only
    /// once the turn is had, and boxed: SDK futures are large, and every caller's would hold one.
    pub(crate) async fn call_within<F, Fut, T>(
        &self,
        operation: &'static str,
        patience: Patience,
        send: F,
    ) -> Result<T, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let _turn = self.admission.enter(operation, patience).await?;
        Ok(Box::pin(send()).await)
    }

    /// Until when a call may wait for its turn: the request's deadline, if it runs in a request.
    fn patience(&self) -> Patience {
        match self.request.as_ref().and_then(|r| r.deadline()) {
            Some(deadline) => Patience::Until(deadline),
            None => Patience::Unbounded,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub async fn get<T: DeserializeOwned>(&self, key: &Key) -> Result<Option<T>, StoreError> {
        self.get_within(key, self.patience()).await
    }

    async fn get_within<T: DeserializeOwned>(&self, key: &Key, patience: Patience) -> Result<Option<T>, StoreError> {
        let get = self.client.get_item().table_name(&self.table).set_key(Some(key.to_item()));
        let out = self
            .call_within("GetItem", patience, || get.send())
            .await?
            .map_err(|e| StoreError::from_sdk("GetItem", e))?;
        match out.item {
            Some(item) => Ok(Some(from_item(item)?)),
            None => Ok(None),
        }
    }

    /// Puts an item that must not exist yet; `Ok(false)` when it already does.
    pub async fn put_new(&self, item: Item) -> Result<bool, StoreError> {
        self.may_write().await?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)");
        let res = self.call("PutItem", || put.send()).await?;
        match res {
            Ok(_) => Ok(true),
            Err(e) => {
                if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) {
                    Ok(false)
                } else {
                    Err(StoreError::from_sdk("PutItem", e))
                }
            }
        }
    }

    /// Unconditional put, for configuration items an admin replaces.
    pub async fn put(&self, item: Item) -> Result<(), StoreError> {
        self.may_write().await?;
        let put = self.client.put_item().table_name(&self.table).set_item(Some(item));
        self.call("PutItem", || put.send()).await?.map_err(|e| StoreError::from_sdk("PutItem", e))?;
        Ok(())
    }

    /// All items of a partition whose sort key starts with `prefix`, following every page.
    pub async fn query_prefix(&self, pk: &str, prefix: &str) -> Result<Vec<Item>, StoreError> {
        self.query_all("PK = :pk AND begins_with(SK, :sk)", pk, prefix).await
    }

    /// Every item of partition `pk` whose sort key meets `condition` (on `:pk` and `:sk`),
    /// following every page.
    async fn query_all(&self, condition: &str, pk: &str, sk: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .call("Query", || {
                    self.client
                        .query()
                        .table_name(&self.table)
                        .key_condition_expression(condition)
                        .expression_attribute_values(":pk", AttributeValue::S(pk.to_string()))
                        .expression_attribute_values(":sk", AttributeValue::S(sk.to_string()))
                        .set_exclusive_start_key(start)
                        .send()
                })
                .await?
                .map_err(|e| StoreError::from_sdk("Query", e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    /// One page of a partition's items with sort keys in `[lo, hi]` (a key range, never a filter),
    /// highest sort key first when `descending`, continuing after sort key `start_after`.
    /// A Query over one key range, ready for paging options.
    fn range_query(&self, range: &KeyRange<'_>) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", AttributeValue::S(range.pk.to_string()))
            .expression_attribute_values(":lo", AttributeValue::S(range.lo.to_string()))
            .expression_attribute_values(":hi", AttributeValue::S(range.hi.to_string()))
    }

    pub async fn query_range_page(
        &self,
        range: &KeyRange<'_>,
        descending: bool,
        limit: i32,
        start_after: Option<&str>,
    ) -> Result<RangePage, StoreError> {
        let start = start_after.map(|sk| {
            HashMap::from([
                (keys::PK.to_string(), AttributeValue::S(range.pk.to_string())),
                (keys::SK.to_string(), AttributeValue::S(sk.to_string())),
            ])
        });
        let query =
            self.range_query(range).scan_index_forward(!descending).limit(limit.max(1)).set_exclusive_start_key(start);
        let out = self.call("Query", || query.send()).await?.map_err(|e| StoreError::from_sdk("Query", e))?;
        let last_sk = out.last_evaluated_key.and_then(|k| k.get(keys::SK).and_then(|v| v.as_s().ok()).cloned());
        Ok(RangePage { items: out.items.unwrap_or_default(), last_sk })
    }

    /// How many items a key range holds (`Select=COUNT`, following every page).
    pub async fn count_range(&self, range: KeyRange<'_>) -> Result<u64, StoreError> {
        let mut total = 0u64;
        let mut start = None;
        loop {
            let query = self.range_query(&range).select(Select::Count).set_exclusive_start_key(start);
            let out = self.call("Query", || query.send()).await?.map_err(|e| StoreError::from_sdk("Query", e))?;
            total = total.saturating_add(u64::try_from(out.count).unwrap_or(0));
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(total),
            }
        }
    }

    /// Next value of a counter (`ADD`), for numeric ids.
    pub async fn next_id(&self, key: &Key) -> Result<u64, StoreError> {
        self.may_write().await?;
        let out = self
            .call("UpdateItem", || {
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(key.to_item()))
                    .update_expression("ADD #v :one SET entity = :e")
                    .expression_attribute_names("#v", "value")
                    .expression_attribute_values(":one", AttributeValue::N("1".into()))
                    .expression_attribute_values(":e", AttributeValue::S("SEQUENCE".into()))
                    .return_values(ReturnValue::UpdatedNew)
                    .send()
            })
            .await?
            .map_err(|e| StoreError::from_sdk("UpdateItem", e))?;
        let value =
            out.attributes.and_then(|a| a.get("value").and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<u64>().ok()));
        value.ok_or_else(|| StoreError::Service {
            operation: "UpdateItem",
            message: "sequence returned no value".into(),
            throttled: false,
        })
    }

    pub async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), TransactError> {
        self.may_write().await?;
        let items_sent = outbox_count(&items);
        let res = self
            .call("TransactWriteItems", || self.client.transact_write_items().set_transact_items(Some(items)).send())
            .await?;
        match res {
            Ok(_) => {
                crate::metrics::count("OutboxItemsWritten", items_sent);
                Ok(())
            }
            Err(err) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(e)) = err.as_service_error() {
                    let reasons = e
                        .cancellation_reasons()
                        .iter()
                        .map(|r| r.code().filter(|c| *c != "None").map(str::to_string))
                        .collect();
                    return Err(TransactError::Cancelled { reasons });
                }
                Err(TransactError::Store(StoreError::from_sdk("TransactWriteItems", err)))
            }
        }
    }

    /// Sends a conditional update: `Ok(false)` when its condition failed.
    async fn update_if(&self, update: UpdateItemFluentBuilder) -> Result<bool, StoreError> {
        match self.call("UpdateItem", || update.send()).await? {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(StoreError::from_sdk("UpdateItem", e)),
        }
    }
}

/// The outbox (change event) items a transaction puts: keys `ORG#<org>#EVT#<id>` / `EVT`.
fn outbox_count(items: &[TransactWriteItem]) -> u64 {
    let is_event = |item: &HashMap<String, AttributeValue>| {
        item.get("SK").and_then(|v| v.as_s().ok()).is_some_and(|sk| sk == "EVT")
    };
    items.iter().filter(|i| i.put().is_some_and(|p| is_event(p.item()))).count() as u64
}
