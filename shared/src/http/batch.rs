//! The batch shape shared by every write API: customers processed concurrently (bounded) and
//! independently, each customer's program entries in order, results reported in request order
//! under the request's own array names, HTTP 200/201/400/503 by docs/contract.md#batch-writes.

use crate::domain::catalog::OrgCatalog;
use crate::domain::error_catalog::{ErrorCode, ItemStatus};
use crate::domain::model::{Actor, Customer, OrgId};
use crate::http::api::{
    batch_status, check_batch_size, check_entries_per_customer, empty_batch, parse_json_body_with, ApiRequest,
    ApiResponse,
};
use crate::http::error::ApiError;
use crate::http::router::Answer;
use crate::http::wire::CustomerBlock;
use crate::state::linkage_write::{ItemWrite, KnownLinkages, StorageFailure};
use crate::state::AppState;
use crate::storage::customer_identity::{resolve_with_linkages, Identifiers, Resolution};
use futures::StreamExt;
use rand::seq::SliceRandom;
use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

/// The array and status names of one write API (docs/contract.md#batch-writes), and the fields of a program
/// entry its response echoes (what Capillary's examples echo: the name, and for updates the type).
pub struct BatchNames {
    pub batch: &'static str,
    pub programs: &'static str,
    pub status: &'static str,
    pub echo: &'static [&'static str],
}

pub const LINK: BatchNames = BatchNames {
    batch: "linkCustomers",
    programs: "linkToPartnerPrograms",
    status: "partnerLinkStatus",
    echo: &["partnerProgramName"],
};
pub const UPDATE: BatchNames = BatchNames {
    batch: "customersPartnerUpdates",
    programs: "partnerProgramUpdates",
    status: "updateStatus",
    echo: &["partnerProgramName", "updateType"],
};
pub const DELINK: BatchNames = BatchNames {
    batch: "deLinkCustomers",
    programs: "deLinkFromPartnerPrograms",
    status: "partnerDeLinkStatus",
    echo: &["partnerProgramName"],
};
pub const BENEFITS: BatchNames = BatchNames {
    batch: "customerBenefits",
    programs: "partnerProgramBenefits",
    status: "benefitStatus",
    echo: &["partnerProgramName"],
};

/// The echoed part of one program entry: its documented fields as sent (text only), in order.
fn echo_entry(names: &BatchNames, entry: &impl Serialize) -> Map<String, Value> {
    let sent = serde_json::to_value(entry).unwrap_or(Value::Null);
    let mut echo = Map::new();
    for field in names.echo {
        if let Some(v) = sent.get(*field).filter(|v| v.is_string()) {
            echo.insert((*field).to_string(), v.clone());
        }
    }
    echo
}

/// One customer of a batch: its identifiers as sent, and its program entries.
#[derive(Debug)]
pub struct BatchCustomer<E> {
    pub customer: Map<String, Value>,
    pub entries: Vec<E>,
}

/// Reads a batch body by its API's `names`, the one place they are spelled: the batch array of
/// customers (absent or `null`: none), each with `customer` and its entries under
/// `names.programs`; other fields are ignored. Errors keep their path (`parse_json_body_with`).
struct BatchBody<'n, E> {
    names: &'n BatchNames,
    entry: PhantomData<E>,
}

impl<'de, E: Deserialize<'de>> DeserializeSeed<'de> for BatchBody<'_, E> {
    type Value = Option<Vec<BatchCustomer<E>>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, E: Deserialize<'de>> Visitor<'de> for BatchBody<'_, E> {
    type Value = Option<Vec<BatchCustomer<E>>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an object with `{}`", self.names.batch)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut customers = None;
        while let Some(key) = map.next_key::<String>()? {
            if key != self.names.batch {
                map.next_value::<IgnoredAny>()?;
            } else if customers.is_some() {
                return Err(de::Error::duplicate_field(self.names.batch));
            } else {
                customers = Some(map.next_value_seed(Customers { names: self.names, entry: PhantomData })?);
            }
        }
        Ok(customers.flatten())
    }
}

/// The batch array: `null`, or the customers in order.
struct Customers<'n, E> {
    names: &'n BatchNames,
    entry: PhantomData<E>,
}

impl<'de, E: Deserialize<'de>> DeserializeSeed<'de> for Customers<'_, E> {
    type Value = Option<Vec<BatchCustomer<E>>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, E: Deserialize<'de>> Visitor<'de> for Customers<'_, E> {
    type Value = Option<Vec<BatchCustomer<E>>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an array of customers")
    }

    fn visit_none<Er: de::Error>(self) -> Result<Self::Value, Er> {
        Ok(None)
    }

    fn visit_unit<Er: de::Error>(self) -> Result<Self::Value, Er> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut customers = Vec::new();
        while let Some(c) = seq.next_element_seed(CustomerEntries { names: self.names, entry: PhantomData })? {
            customers.push(c);
        }
        Ok(Some(customers))
    }
}

/// One customer of the batch array: `customer` and its entries under `names.programs`.
struct CustomerEntries<'n, E> {
    names: &'n BatchNames,
    entry: PhantomData<E>,
}

impl<'de, E: Deserialize<'de>> DeserializeSeed<'de> for CustomerEntries<'_, E> {
    type Value = BatchCustomer<E>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, E: Deserialize<'de>> Visitor<'de> for CustomerEntries<'_, E> {
    type Value = BatchCustomer<E>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an object with `customer` and `{}`", self.names.programs)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut customer, mut entries) = (None, None);
        while let Some(key) = map.next_key::<String>()? {
            if key == "customer" {
                if customer.is_some() {
                    return Err(de::Error::duplicate_field("customer"));
                }
                customer = Some(map.next_value::<Map<String, Value>>()?);
            } else if key == self.names.programs {
                if entries.is_some() {
                    return Err(de::Error::duplicate_field(self.names.programs));
                }
                entries = Some(map.next_value::<Vec<E>>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(BatchCustomer { customer: customer.unwrap_or_default(), entries: entries.unwrap_or_default() })
    }
}

struct CustomerResult {
    json: Value,
    all_ok: bool,
    attempted: usize,
    /// Items that storage did not serve before any write of theirs was sent.
    unserved: usize,
    /// Each item's result code (the `BatchItems` metric).
    codes: Vec<u16>,
}

/// The status of an item that storage did not serve (docs/exactly-once.md).
fn storage_status(failure: &StorageFailure) -> ItemStatus {
    match failure {
        StorageFailure::Busy { .. } => ErrorCode::QueuedForCustomer.with_detail(
            "not applied: the service had more storage work queued than it could start before this request's \
             deadline; retry the item",
        ),
        StorageFailure::Unavailable(_) => ErrorCode::CannotProcess.with_detail(
            "not applied: storage is unavailable or throttling; retry the request (the same Idempotency-Key is fine)",
        ),
        StorageFailure::Unknown(_) => ErrorCode::CannotProcess.with_detail(
            "storage is unavailable or throttling, and whether the change was applied is unknown; retry the request \
             unchanged with the same Idempotency-Key (a retry under the key never applies it twice)",
        ),
    }
}

/// Records an item that storage did not serve, and keeps a response that asks for a retry under
/// the same key from being replayed (`idempotency`). A 2010 for a busy queue is final, as every 2010.
fn unserved(state: &AppState, failure: &StorageFailure) -> ItemStatus {
    match failure {
        StorageFailure::Busy { .. } => tracing::warn!("batch item refused: no storage turn before the deadline"),
        StorageFailure::Unavailable(e) | StorageFailure::Unknown(e) => {
            tracing::error!(error = %e, write_sent = failure.write_sent(), "storage failed for a batch item");
            if let Some(request) = state.request() {
                request.note_not_final();
            }
        }
    }
    storage_status(failure)
}

/// The whole of a batch write handler: parse the body by `names` (415/413/400; no customers →
/// 400, over 50 → 2008), read the org's catalog once, then run `process` for every entry of every
/// customer.
pub async fn handle<E, F, Fut>(state: &AppState, req: ApiRequest, names: &BatchNames, process: F) -> Answer
where
    E: DeserializeOwned + Serialize,
    F: Fn(Arc<OrgCatalog>, Customer, E, ItemWrite) -> Fut,
    Fut: Future<Output = Result<ItemStatus, StorageFailure>>,
{
    let body = parse_json_body_with(&req, BatchBody::<E> { names, entry: PhantomData })?;
    let items = body.filter(|c| !c.is_empty()).ok_or_else(|| empty_batch(names.batch))?;
    check_batch_size(items.len())?;
    check_entries_per_customer(items.iter().map(|c| c.entries.len()))?;
    let catalog = state.catalog(req.auth.org_id).await?;
    let process = &process;
    run(state, &req, names, items, |customer, entry, item| process(catalog.clone(), customer, entry, item)).await
}

/// Runs `process` for every entry of every customer and builds the batch response.
pub async fn run<E, F, Fut>(
    state: &AppState,
    req: &ApiRequest,
    names: &BatchNames,
    customers: Vec<BatchCustomer<E>>,
    process: F,
) -> Answer
where
    E: Serialize,
    F: Fn(Customer, E, ItemWrite) -> Fut,
    Fut: Future<Output = Result<ItemStatus, StorageFailure>>,
{
    let process = &process;
    let org = req.auth.org_id;
    // Every item's records name the client that sent the request.
    let actor = &req.auth.actor();
    // Customers run in a shuffled order (results stay in request order): concurrent batches over
    // the same customers (parallel workers fed one list, a client's retries) would otherwise reach
    // every customer at the same moment and contend on each one in lockstep.
    let mut jobs: Vec<(usize, BatchCustomer<E>)> = customers.into_iter().enumerate().collect();
    jobs.shuffle(&mut rand::rng());
    let mut results: Vec<(usize, CustomerResult)> = futures::stream::iter(jobs)
        .map(|(i, bc)| async move { (i, one_customer(state, (org, actor), names, i, bc, process).await) })
        .buffer_unordered(state.config.batch_concurrency)
        .collect()
        .await;
    results.sort_by_key(|(i, _)| *i);
    let results: Vec<CustomerResult> = results.into_iter().map(|(_, r)| r).collect();
    // A 503 only when storage served no item and no write was sent: once one may have been
    // applied, each item says what became of it.
    let attempted: usize = results.iter().map(|r| r.attempted).sum();
    let unserved: usize = results.iter().map(|r| r.unserved).sum();
    if attempted > 0 && unserved == attempted {
        return Err(ApiError::unavailable(&req.request_id));
    }
    let codes = results.iter().flat_map(|r| r.codes.iter().copied());
    match state.request() {
        Some(request) => request.items_answered(codes),
        None => codes.for_each(|c| crate::metrics::batch_item(u32::from(c))),
    }
    let status = batch_status(results.iter().map(|r| r.all_ok));
    let body = json!({ names.batch: results.into_iter().map(|r| r.json).collect::<Vec<_>>(), "warnings": [] });
    Ok(ApiResponse::json(status, &body))
}

async fn one_customer<E, F, Fut>(
    state: &AppState,
    (org, actor): (OrgId, &Actor),
    names: &BatchNames,
    customer_index: usize,
    bc: BatchCustomer<E>,
    process: &F,
) -> CustomerResult
where
    E: Serialize,
    F: Fn(Customer, E, ItemWrite) -> Fut,
    Fut: Future<Output = Result<ItemStatus, StorageFailure>>,
{
    let ids = Identifiers::from_json(&bc.customer);
    let echoes: Vec<Map<String, Value>> = bc.entries.iter().map(|e| echo_entry(names, e)).collect();
    let echo_entries = |statuses: Vec<ItemStatus>| -> Vec<Value> {
        echoes
            .iter()
            .zip(statuses)
            .map(|(echo, st)| {
                let mut v = echo.clone();
                v.insert(names.status.into(), json!(st));
                Value::Object(v)
            })
            .collect()
    };
    // The customer and all its linkages in (at most) two round trips; each item's first attempt
    // decides on the linkage read here rather than reading it again.
    let (resolution, linkages) = match resolve_with_linkages(&state.store, org, &ids).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "customer lookup failed");
            let n = bc.entries.len();
            let status = unserved(state, &StorageFailure::before_write(e));
            return CustomerResult {
                codes: vec![status.code; n],
                json: json!({"customer": CustomerBlock::as_sent(&bc.customer, status.clone()),
                    names.programs: echo_entries(vec![status; n])}),
                all_ok: false,
                attempted: n.max(1),
                unserved: n.max(1),
            };
        }
    };
    let status = resolution.status();
    let Resolution::Found(customer) = resolution else {
        tracing::info!(customer = %ids.masked(), "customer not found");
        // Every program entry carries the failure too: a client reading item statuses sees it.
        return CustomerResult {
            codes: vec![status.code; bc.entries.len()],
            json: json!({"customer": CustomerBlock::as_sent(&bc.customer, status.clone()),
                names.programs: echo_entries(vec![status; bc.entries.len()])}),
            all_ok: false,
            attempted: 0,
            unserved: 0,
        };
    };
    let customer_block = CustomerBlock::resolved(&customer, status);
    // Each item's first attempt decides on the linkages read with the customer.
    let known = Arc::new(KnownLinkages::new(customer.customer_id, linkages));
    let mut statuses = Vec::with_capacity(bc.entries.len());
    let mut unserved_items = 0;
    for (entry_index, entry) in bc.entries.into_iter().enumerate() {
        // Each item is one logical change with an identity of its own (see `change_id`).
        let item =
            ItemWrite::new(state.item_change(customer_index, entry_index), Some(known.clone())).by(actor.clone());
        let status = match process(customer.clone(), entry, item).await {
            Ok(s) => s,
            Err(failure) => {
                if !failure.write_sent() {
                    unserved_items += 1;
                }
                unserved(state, &failure)
            }
        };
        statuses.push(status);
    }
    let all_ok = statuses.iter().all(ItemStatus::is_success);
    CustomerResult {
        codes: statuses.iter().map(|s| s.code).collect(),
        attempted: statuses.len(),
        json: json!({"customer": customer_block, names.programs: echo_entries(statuses)}),
        all_ok,
        unserved: unserved_items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_echoes_only_its_documented_text_fields_in_order() {
        let sent = json!({"updateType": "UPGRADE", "partnerProgramName": "SkyMiles",
            "updateDetails": {"updatedTierName": "Gold"}, "customer": {"mobile": "1"}});
        let echo = echo_entry(&UPDATE, &sent);
        assert_eq!(Value::Object(echo.clone()), json!({"partnerProgramName": "SkyMiles", "updateType": "UPGRADE"}));
        assert_eq!(echo.keys().collect::<Vec<_>>(), ["partnerProgramName", "updateType"], "the order of `echo`");
        // Link, delink and benefits echo the name only.
        for names in [&LINK, &DELINK, &BENEFITS] {
            assert_eq!(Value::Object(echo_entry(names, &sent)), json!({"partnerProgramName": "SkyMiles"}));
        }
        // A field that is not text (or absent) is not echoed: what was sent is never made up.
        assert!(echo_entry(&UPDATE, &json!({"partnerProgramName": 5, "updateType": null})).is_empty());
        assert!(echo_entry(&LINK, &json!({})).is_empty());
    }

    #[test]
    fn a_batch_body_is_read_by_its_own_api_names_only() {
        let read = |names: &BatchNames, body: &str| {
            let mut de = serde_json::Deserializer::from_str(body);
            BatchBody::<Value> { names, entry: PhantomData }.deserialize(&mut de).map_err(|e| e.to_string())
        };
        let body = r#"{"linkCustomers": [{"customer": {"mobile": "1"}, "x": 1,
            "linkToPartnerPrograms": [{"partnerProgramName": "A"}]}], "other": []}"#;
        let customers = read(&LINK, body).unwrap().unwrap();
        assert_eq!((customers.len(), customers[0].entries.len()), (1, 1));
        assert_eq!(customers[0].customer["mobile"], "1");
        assert!(read(&DELINK, body).unwrap().is_none(), "another API's array is not this one's");
        assert!(read(&LINK, r#"{"linkCustomers": null}"#).unwrap().is_none());
        let bare = read(&LINK, r#"{"linkCustomers": [{}]}"#).unwrap().unwrap();
        assert!(bare[0].customer.is_empty() && bare[0].entries.is_empty());
        let twice = read(&LINK, r#"{"linkCustomers": [], "linkCustomers": []}"#).unwrap_err();
        assert!(twice.contains("duplicate field `linkCustomers`"), "{twice}");
    }

    #[test]
    fn each_api_reports_under_its_own_array_and_status_names() {
        let names = |n: &BatchNames| (n.batch, n.programs, n.status);
        assert_eq!(names(&LINK), ("linkCustomers", "linkToPartnerPrograms", "partnerLinkStatus"));
        assert_eq!(names(&DELINK), ("deLinkCustomers", "deLinkFromPartnerPrograms", "partnerDeLinkStatus"));
        assert_eq!(names(&UPDATE), ("customersPartnerUpdates", "partnerProgramUpdates", "updateStatus"));
        assert_eq!(names(&BENEFITS), ("customerBenefits", "partnerProgramBenefits", "benefitStatus"));
    }

    #[test]
    fn a_storage_failure_says_whether_the_item_was_applied_and_how_to_retry() {
        let error =
            || crate::storage::store::StoreError::Service { operation: "Query", message: "x".into(), throttled: true };
        let s = storage_status(&StorageFailure::Unknown(error()));
        assert_eq!((s.status, s.code, s.message.as_str()), (false, 2001, "Cannot process the partner program event."));
        let detail = s.detail.unwrap_or_default();
        assert!(detail.contains("unknown") && detail.contains("same Idempotency-Key"), "{detail}");
        let s = storage_status(&StorageFailure::Unavailable(error()));
        let detail = s.detail.unwrap_or_default();
        assert_eq!(s.code, 2001);
        assert!(detail.starts_with("not applied") && !detail.contains("unknown"), "{detail}");
        // Our own queue, not storage: a known refusal, as under contention.
        let s = storage_status(&StorageFailure::Busy { write_sent: false });
        assert_eq!(
            (s.code, s.message.as_str()),
            (2010, "Partner program events are presented in a queue for the user.")
        );
        assert!(s.detail.unwrap_or_default().starts_with("not applied"));
    }
}
