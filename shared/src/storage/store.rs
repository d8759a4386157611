//! The DynamoDB store: one table, reads by GetItem/Query only (never Scan), writes conditional,
//! multi-item changes as one `TransactWriteItems` whose cancellation reasons are reported per item.

use crate::domain::model::*;
use crate::storage::admission::{Admission, Patience};
use crate::storage::keys::{self, IdentifierKind, Key};
use crate::storage::records::*;
use crate::storage::write_context::WriteContext;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, ReturnConsumedCapacity, ReturnValue, Select, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// DynamoDB refused or failed the call (after the SDK's own retries).
    #[error("dynamodb {operation} failed: {message}")]
    Service { operation: &'static str, message: String, throttled: bool },
    /// DynamoDB refused a value the request carried (ValidationException: a key or item too
    /// large, a number it cannot keep). A client error, never worth retrying. `limits` keeps
    /// requests from getting here; this is the backstop that keeps it from looking like an outage.
    #[error("dynamodb {operation} refused a value: {message}")]
    Refused { operation: &'static str, message: String },
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The call was never made: this process's storage calls in flight stayed at their bound
    /// (`admission`) until the request's deadline. Nothing was sent, so nothing was applied.
    #[error("dynamodb {operation} not started: no turn among this process's storage calls within {waited:?}")]
    Busy { operation: &'static str, waited: std::time::Duration },
    /// A write held back because the request's `Idempotency-Key` was not claimed (`WriteContext::may_write`).
    #[error("write not sent: the request's Idempotency-Key was not claimed")]
    NotClaimed,
}

impl StoreError {
    pub(crate) fn from_sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> Self
    where
        E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        if err.code() == Some("ValidationException") {
            return StoreError::Refused { operation, message: err.message().unwrap_or("invalid value").to_string() };
        }
        let throttled = matches!(
            err.code(),
            Some("ThrottlingException" | "ProvisionedThroughputExceededException" | "RequestLimitExceeded")
        );
        StoreError::Service { operation, message: DisplayErrorContext(&err).to_string(), throttled }
    }

    /// True when the call was refused by our own admission, never sent.
    pub fn is_busy(&self) -> bool {
        matches!(self, StoreError::Busy { .. })
    }

    /// True when the call was never sent (no turn, or the request may not write).
    pub fn is_unsent(&self) -> bool {
        matches!(self, StoreError::Busy { .. } | StoreError::NotClaimed)
    }

    pub fn is_throttled(&self) -> bool {
        matches!(self, StoreError::Service { throttled: true, .. })
    }

    /// True when the request carried something DynamoDB will never accept (a client error).
    pub fn is_refused_value(&self) -> bool {
        matches!(self, StoreError::Refused { .. })
    }
}

/// Why a transaction did not commit.
#[derive(Debug, thiserror::Error)]
pub enum TransactError {
    /// One or more conditions failed; `reasons[i]` is the cancellation code of item `i`
    /// (`None` where that item was fine), e.g. `ConditionalCheckFailed`, `TransactionConflict`.
    #[error("transaction cancelled: {reasons:?}")]
    Cancelled { reasons: Vec<Option<String>> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TransactError {
    /// True when item `index` failed its condition.
    pub fn condition_failed_at(&self, index: usize) -> bool {
        matches!(self, TransactError::Cancelled { reasons } if reasons.get(index).and_then(|r| r.as_deref()) == Some("ConditionalCheckFailed"))
    }

    /// True when the cancellation came from a concurrent writer rather than a business condition.
    pub fn is_conflict(&self) -> bool {
        matches!(self, TransactError::Cancelled { reasons } if reasons.iter().any(|r| r.as_deref() == Some("TransactionConflict")))
    }
}

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
        let res = self
            .call("TransactWriteItems", || self.client.transact_write_items().set_transact_items(Some(items)).send())
            .await?;
        match res {
            Ok(_) => Ok(()),
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

    // ---- typed reads -------------------------------------------------------------------------

    pub async fn org(&self, org: OrgId) -> Result<Option<Org>, StoreError> {
        Ok(self.get::<OrgRecord>(&keys::org(org)).await?.map(|r| r.org))
    }

    pub async fn client_record(&self, client_key: &str) -> Result<Option<ClientRecord>, StoreError> {
        self.get(&keys::client(client_key)).await
    }

    pub async fn loyalty_programs(&self, org: OrgId) -> Result<Vec<LoyaltyProgram>, StoreError> {
        let items = self.query_prefix(&keys::org_pk(org), keys::LOYALTY_PROGRAM_PREFIX).await?;
        items.into_iter().map(|i| Ok(from_item::<LoyaltyProgramRecord>(i)?.program)).collect()
    }

    pub async fn partner_programs(&self, org: OrgId) -> Result<Vec<PartnerProgram>, StoreError> {
        let items = self.query_prefix(&keys::org_pk(org), keys::PARTNER_PROGRAM_PREFIX).await?;
        items.into_iter().map(|i| Ok(from_item::<PartnerProgramRecord>(i)?.program)).collect()
    }

    pub async fn customer(&self, org: OrgId, id: CustomerId) -> Result<Option<Customer>, StoreError> {
        Ok(self.get::<CustomerRecord>(&keys::customer_profile(org, id)).await?.map(|r| r.customer))
    }

    pub async fn customer_id_by(
        &self,
        org: OrgId,
        kind: IdentifierKind,
        value: &str,
    ) -> Result<Option<CustomerId>, StoreError> {
        Ok(self.get::<IdentifierRecord>(&keys::identifier(org, kind, value)).await?.map(|r| r.customer_id))
    }

    /// A customer's profile and all its linkages in one Query: they share the customer's partition,
    /// where `LINK#…` and `PROFILE` sort after the history (`HIST#…`), so one key range (sort key
    /// from `LINK#` on) holds both and nothing else of size.
    pub async fn customer_with_linkages(
        &self,
        org: OrgId,
        id: CustomerId,
    ) -> Result<Option<(Customer, Vec<Linkage>)>, StoreError> {
        let items = self.query_all("PK = :pk AND SK >= :sk", &keys::customer_pk(org, id), keys::LINKAGE_PREFIX).await?;
        let mut customer = None;
        let mut linkages = Vec::new();
        for item in items {
            match item.get("entity").and_then(|e| e.as_s().ok()).map(String::as_str) {
                Some("CUSTOMER") => customer = Some(from_item::<CustomerRecord>(item)?.customer),
                Some("LINKAGE") => linkages.push(from_item::<LinkageRecord>(item)?.linkage),
                _ => {}
            }
        }
        Ok(customer.map(|c| (c, linkages)))
    }

    pub async fn linkages(&self, org: OrgId, customer: CustomerId) -> Result<Vec<Linkage>, StoreError> {
        let items = self.query_prefix(&keys::customer_pk(org, customer), keys::LINKAGE_PREFIX).await?;
        items.into_iter().map(|i| Ok(from_item::<LinkageRecord>(i)?.linkage)).collect()
    }

    /// The program holding the customer's one-subscription guard, if any.
    pub async fn subscription(
        &self,
        org: OrgId,
        customer: CustomerId,
    ) -> Result<Option<SubscriptionRecord>, StoreError> {
        self.get(&keys::subscription_guard(org, customer)).await
    }

    /// Turns the org's one-subscription rule on or off; `Ok(false)` when the org does not exist.
    pub async fn set_one_supplementary_per_customer(&self, org: OrgId, on: bool) -> Result<bool, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::org(org).to_item()))
            .update_expression("SET oneSupplementaryPerCustomer = :on")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":on", AttributeValue::Bool(on));
        self.update_if(update).await
    }

    pub async fn linkage(
        &self,
        org: OrgId,
        customer: CustomerId,
        program: ProgramId,
    ) -> Result<Option<Linkage>, StoreError> {
        self.linkage_within(org, customer, program, self.patience()).await
    }

    /// `linkage`, waiting for a turn as long as `patience` allows.
    pub async fn linkage_within(
        &self,
        org: OrgId,
        customer: CustomerId,
        program: ProgramId,
        patience: Patience,
    ) -> Result<Option<Linkage>, StoreError> {
        let record: Option<LinkageRecord> = self.get_within(&keys::linkage(org, customer, program), patience).await?;
        Ok(record.map(|r| r.linkage))
    }
}

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

    /// Sends a conditional update: `Ok(false)` when its condition failed.
    async fn update_if(&self, update: UpdateItemFluentBuilder) -> Result<bool, StoreError> {
        match self.call("UpdateItem", || update.send()).await? {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(StoreError::from_sdk("UpdateItem", e)),
        }
    }
}

/// Builders for the items of a transaction.
pub mod tx {
    use super::*;
    use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put};

    fn built<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, StoreError> {
        r.map_err(|e| StoreError::Service { operation: "build", message: e.to_string(), throttled: false })
    }

    /// Put that must create the item.
    pub fn put_new(table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = built(
            Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(PK)")
                .build(),
        )?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Put of a linkage that either creates it or replaces exactly the version read.
    pub fn put_versioned(
        table: &str,
        item: Item,
        expected_version: Option<u64>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut b = Put::builder().table_name(table).set_item(Some(item));
        b = match expected_version {
            None => b.condition_expression("attribute_not_exists(PK)"),
            Some(v) => b
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", AttributeValue::N(v.to_string())),
        };
        Ok(TransactWriteItem::builder().put(built(b.build())?).build())
    }

    /// Puts a unique item that must be free or already held by `holder` (its numeric attribute
    /// `holder_attribute`).
    fn claim(table: &str, item: Item, holder_attribute: &str, holder: u64) -> Result<TransactWriteItem, StoreError> {
        let put = built(
            Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(PK) OR #holder = :holder")
                .expression_attribute_names("#holder", holder_attribute)
                .expression_attribute_values(":holder", AttributeValue::N(holder.to_string()))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Claims a unique item for `customer`, or accepts it when that customer already holds it.
    pub fn claim_for_customer(table: &str, item: Item, customer: CustomerId) -> Result<TransactWriteItem, StoreError> {
        claim(table, item, "customerId", customer)
    }

    /// Claims the customer's one-subscription guard for `program`: free, or already held by it.
    pub fn claim_subscription(table: &str, item: Item, program: ProgramId) -> Result<TransactWriteItem, StoreError> {
        claim(table, item, "partnerProgramId", program)
    }

    /// Unconditional put (an item this transaction's linkage owns, e.g. a guard it hands over).
    pub fn put(table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = built(Put::builder().table_name(table).set_item(Some(item)).build())?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Put that must find `condition` true (a condition with no expression values).
    pub fn put_where(table: &str, item: Item, condition: &str) -> Result<TransactWriteItem, StoreError> {
        let put = built(Put::builder().table_name(table).set_item(Some(item)).condition_expression(condition).build())?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Deletes an item that `customer` holds (its `customerId`), or nothing if it is gone.
    pub fn delete_held_by(table: &str, key: &Key, customer: CustomerId) -> Result<TransactWriteItem, StoreError> {
        let d = built(
            Delete::builder()
                .table_name(table)
                .set_key(Some(key.to_item()))
                .condition_expression("attribute_not_exists(PK) OR customerId = :cid")
                .expression_attribute_values(":cid", AttributeValue::N(customer.to_string()))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().delete(d).build())
    }

    pub fn delete(table: &str, key: &Key) -> Result<TransactWriteItem, StoreError> {
        let d = built(Delete::builder().table_name(table).set_key(Some(key.to_item())).build())?;
        Ok(TransactWriteItem::builder().delete(d).build())
    }

    /// Replaces a configuration item that must still be the same program (same id).
    pub fn put_versioned_config(
        table: &str,
        item: Item,
        program_id: Option<ProgramId>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut b = Put::builder().table_name(table).set_item(Some(item));
        if let Some(id) = program_id {
            b = b
                .condition_expression("partnerProgramId = :id")
                .expression_attribute_values(":id", AttributeValue::N(id.to_string()));
        }
        Ok(TransactWriteItem::builder().put(built(b.build())?).build())
    }

    /// The customer is (still) enrolled in `program` when the transaction commits.
    pub fn check_enrolled(
        table: &str,
        org: OrgId,
        customer: CustomerId,
        program: ProgramId,
    ) -> Result<TransactWriteItem, StoreError> {
        let c = built(
            ConditionCheck::builder()
                .table_name(table)
                .set_key(Some(keys::customer_profile(org, customer).to_item()))
                .condition_expression("attribute_exists(enrollments.#lp)")
                .expression_attribute_names("#lp", program.to_string())
                .build(),
        )?;
        Ok(TransactWriteItem::builder().condition_check(c).build())
    }
}
