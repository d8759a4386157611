//! DynamoDB round trips per request: a single-item write costs at most three sequential
//! calls when the customer is named by mobile, email or externalId (identifier → one Query for the
//! profile and every linkage → the transaction) and two when named by `id`; the customer's
//! linkages read is at most two; an `Idempotency-Key` adds one (its claim runs beside the first
//! read, its completion follows the commit). Counted with an SDK interceptor after the org's
//! catalog is cached: the calls in order, and the sequential round trips (the longest chain of
//! calls each started after the previous one ended).

use crate::support::*;
use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::{
    get_item::GetItemInput, put_item::PutItemInput, query::QueryInput, transact_write_items::TransactWriteItemsInput,
    update_item::UpdateItemInput,
};
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One call: its operation, when it started and when it ended.
#[derive(Debug, Clone)]
struct Call {
    name: &'static str,
    start: Instant,
    end: Option<Instant>,
}

/// Which call of `Calls` an SDK operation is (kept in its config bag from start to end).
#[derive(Debug, Clone, Copy)]
struct CallIndex(usize);

impl Storable for CallIndex {
    type Storer = StoreReplace<Self>;
}

#[derive(Debug, Clone, Default)]
struct Calls(Arc<Mutex<Vec<Call>>>);

impl Calls {
    /// The calls since the last take, less the first: the local server's authentication (a GetItem
    /// of the client; in AWS the authorizer Lambda does it, cached for 300 s, outside the handler).
    fn take_calls(&self) -> Vec<Call> {
        let mut calls = std::mem::take(&mut *self.0.lock().unwrap());
        assert_eq!(calls.first().map(|c| c.name), Some("GetItem"), "authentication first: {calls:?}");
        calls.remove(0);
        calls
    }

    fn take(&self) -> Vec<&'static str> {
        self.take_calls().iter().map(|c| c.name).collect()
    }
}

/// Sequential round trips (`devtools::round_trips`, the benchmark's count too).
fn sequential(calls: &[Call]) -> usize {
    devtools::round_trips::sequential_round_trips(calls.iter().map(|c| (c.start, c.end)))
}

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "Calls"
    }

    fn read_before_execution(
        &self,
        ctx: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = ctx.input();
        let name = if input.downcast_ref::<GetItemInput>().is_some() {
            "GetItem"
        } else if input.downcast_ref::<QueryInput>().is_some() {
            "Query"
        } else if input.downcast_ref::<TransactWriteItemsInput>().is_some() {
            "TransactWriteItems"
        } else if input.downcast_ref::<PutItemInput>().is_some() {
            "PutItem"
        } else if input.downcast_ref::<UpdateItemInput>().is_some() {
            "UpdateItem"
        } else {
            "other"
        };
        let mut calls = self.0.lock().unwrap();
        calls.push(Call { name, start: Instant::now(), end: None });
        _cfg.interceptor_state().store_put(CallIndex(calls.len() - 1));
        Ok(())
    }

    fn read_after_execution(
        &self,
        _ctx: &FinalizerInterceptorContextRef<'_>,
        _rc: &aws_sdk_dynamodb::config::RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(CallIndex(i)) = cfg.load::<CallIndex>().copied() {
            if let Some(call) = self.0.lock().unwrap().get_mut(i) {
                call.end = Some(Instant::now());
            }
        }
        Ok(())
    }
}

#[tokio::test]
async fn single_item_writes_and_reads_make_the_fewest_round_trips() {
    let calls = Calls::default();
    let app = TestApp::start_with_interceptor(calls.clone()).await;
    let f = fixture(&app).await;
    let id = f.enrolled("919740000100").await;
    f.enrolled("919740000101").await;
    // Warm the container's catalog cache, as any earlier request would.
    assert_eq!(f.org.linked_programs("mobile", "919740000101").await.status, 200);
    calls.0.lock().unwrap().clear();

    let r =
        f.org.link(link_body(json!({"mobile": "919740000100"}), "SkyMiles", json!({"partnerTierName": "Gold"}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        calls.take(),
        ["GetItem", "Query", "TransactWriteItems"],
        "link by mobile: identifier, customer with linkages, commit"
    );

    let body = json!({
        "customersPartnerUpdates": [{
            "customer": {"id": id},
            "partnerProgramUpdates": [{
                "partnerProgramName": "SkyMiles", "updateType": "UPGRADE",
                "updateDetails": {"updatedTierName": "Platinum"}
            }]
        }]
    });
    let r = f.org.post(&f.org.api, "/v2/partnerProgram/customerPartnerProgramUpdate", body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(calls.take(), ["Query", "TransactWriteItems"], "update by id: customer with linkages, commit");

    let body = json!({
        "customerBenefits": [{
            "customer": {"externalId": "X-919740000100"},
            "partnerProgramBenefits": [{
                "partnerProgramName": "SkyMiles", "benefits": [{"name": "LoungeAccess", "count": 1}]
            }]
        }]
    });
    assert_eq!(f.org.post(&f.org.api, "/v2/partnerProgram/customerBenefits", body).await.status, 200);
    assert_eq!(calls.take(), ["GetItem", "Query", "TransactWriteItems"], "benefits by externalId");

    // Two entries for the same program in one request: the second decides on what the first wrote.
    let body = json!({
        "customersPartnerUpdates": [{
            "customer": {"id": id},
            "partnerProgramUpdates": [
                {
                    "partnerProgramName": "SkyMiles", "updateType": "DOWNGRADE",
                    "updateDetails": {"updatedTierName": "Gold"}
                },
                {
                    "partnerProgramName": "SkyMiles", "updateType": "DOWNGRADE",
                    "updateDetails": {"updatedTierName": "Silver"}
                }
            ]
        }]
    });
    let r = f.org.post(&f.org.api, "/v2/partnerProgram/customerPartnerProgramUpdate", body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(calls.take(), ["Query", "TransactWriteItems", "TransactWriteItems"]);

    assert_eq!(f.org.linked_programs("mobile", "919740000100").await.status, 200);
    assert_eq!(calls.take(), ["GetItem", "Query"], "customerPartnerPrograms by mobile");
    assert_eq!(f.org.delink(json!({
        "deLinkCustomers": [{"customer": {"id": id}, "deLinkFromPartnerPrograms": [{"partnerProgramName": "SkyMiles"}]}]
    })).await.status, 200);
    assert_eq!(calls.take(), ["Query", "TransactWriteItems"], "delink by id");
}

#[tokio::test]
async fn an_idempotency_key_adds_one_sequential_round_trip_its_claim_runs_beside_the_first_read() {
    let calls = Calls::default();
    let app = TestApp::start_with_interceptor(calls.clone()).await;
    let f = fixture(&app).await;
    f.enrolled("919740000110").await;
    assert_eq!(f.org.linked_programs("mobile", "919740000110").await.status, 200);
    calls.0.lock().unwrap().clear();

    let body = link_body(json!({"mobile": "919740000110"}), "SkyMiles", json!({"partnerTierName": "Gold"}));
    let r = f.org.post_keyed("/v2/partnerProgram/linkCustomer", "rt-key-1", &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let first = calls.take_calls();
    let mut names: Vec<_> = first.iter().map(|c| c.name).collect();
    names.sort_unstable();
    assert_eq!(names, ["GetItem", "PutItem", "PutItem", "Query", "TransactWriteItems"], "{first:?}");
    assert_eq!(sequential(&first), 4, "claim beside the identifier read, then Query, commit, completion: {first:?}");
    let commit = first.iter().find(|c| c.name == "TransactWriteItems").unwrap();
    let claim = first.iter().find(|c| c.name == "PutItem").unwrap();
    assert!(claim.end.unwrap() <= commit.start, "nothing is written before the key is claimed: {first:?}");

    // The replay answers from the record the claim was refused by: no commit, no completion.
    let again = f.org.post_keyed("/v2/partnerProgram/linkCustomer", "rt-key-1", &body).await;
    assert_eq!((again.status, again.text.as_str()), (r.status, r.text.as_str()));
    let replay = calls.take_calls();
    assert!(replay.iter().all(|c| c.name != "TransactWriteItems"), "{replay:?}");
    assert_eq!(replay.iter().filter(|c| c.name == "PutItem").count(), 1, "the refused claim only: {replay:?}");
}

#[tokio::test]
async fn a_first_history_page_reads_its_streams_counts_and_summaries_beside_each_other() {
    let calls = Calls::default();
    let app = TestApp::start_with_interceptor(calls.clone()).await;
    let f = fixture(&app).await;
    f.enrolled("919740000120").await;
    let r =
        f.org.link(link_body(json!({"mobile": "919740000120"}), "SkyMiles", json!({"partnerTierName": "Gold"}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = json!({
        "customerBenefits": [{
            "customer": {"mobile": "919740000120"},
            "partnerProgramBenefits": [{
                "partnerProgramName": "SkyMiles", "benefits": [{"name": "LoungeAccess", "count": 1}]
            }]
        }]
    });
    assert_eq!(f.org.post(&f.org.api, "/v2/partnerProgram/customerBenefits", body).await.status, 200);
    calls.0.lock().unwrap().clear();

    let r = f
        .org
        .get(
            &f.org.api,
            "/v2/partnerProgram/customerActivityHistories?identifierName=mobile&identifierValue=919740000120",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let history = calls.take_calls();
    let queries = history.iter().filter(|c| c.name == "Query").count();
    // Query LINK; per stream (linking updates, benefits) a page and a count; the benefits summary.
    assert_eq!(queries, 6, "{history:?}");
    assert_eq!(
        sequential(&history),
        3,
        "identifier, customer with linkages, then pages, counts and summary together: {history:?}"
    );
}

/// The expiry preview walks the due index partition by partition (a day has `DUE_SHARDS` of them,
/// mostly empty); from a partition's start it reads the partitions after it beside it, 8 at once,
/// so a page over a month of partitions is a few dozen round trips, not one per partition.
#[tokio::test]
async fn the_expiry_preview_reads_the_due_partitions_after_each_other_eight_at_once() {
    let calls = Calls::default();
    let app = TestApp::start_with_interceptor(calls.clone()).await;
    let f = fixture(&app).await;
    assert_eq!(f.org.get(&f.org.admin, "/v2/partnerProgram/expiryPreview").await.status, 200);
    calls.0.lock().unwrap().clear();

    let r = f.org.get(&f.org.admin, "/v2/partnerProgram/expiryPreview").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let preview = calls.take_calls();
    let queries = preview.iter().filter(|c| c.name == "Query").count();
    // From the sweep's watermark (or 30 days back without one) to today: at least a day of shards.
    assert!(queries >= app.state.config.due_shards as usize, "{queries} partitions read: {preview:?}");
    let reads_before_the_walk = preview.len() - queries;
    assert!(
        sequential(&preview) <= reads_before_the_walk + queries.div_ceil(8),
        "{queries} partitions in {} sequential round trips: {preview:?}",
        sequential(&preview)
    );
}
