//! DynamoDB round trips per request (issue 12): a single-item write costs at most three sequential
//! calls when the customer is named by mobile, email or externalId (identifier → one Query for the
//! profile and every linkage → the transaction) and two when named by `id`; the customer's
//! linkages read is at most two. Counted with an SDK interceptor after the org's catalog is cached.

use crate::support::*;
use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::{
    get_item::GetItemInput, put_item::PutItemInput, query::QueryInput, transact_write_items::TransactWriteItemsInput,
    update_item::UpdateItemInput,
};
use serde_json::json;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default)]
struct Calls(Arc<Mutex<Vec<&'static str>>>);

impl Calls {
    /// The calls since the last take, less the first: the local server's authentication (a GetItem
    /// of the client; in AWS the authorizer Lambda does it, cached for 300 s, outside the handler).
    fn take(&self) -> Vec<&'static str> {
        let mut calls = std::mem::take(&mut *self.0.lock().unwrap());
        assert_eq!(calls.first(), Some(&"GetItem"), "authentication first: {calls:?}");
        calls.remove(0);
        calls
    }
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
        self.0.lock().unwrap().push(name);
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

    let body = json!({"customersPartnerUpdates": [{"customer": {"id": id}, "partnerProgramUpdates": [{"partnerProgramName": "SkyMiles", "updateType": "UPGRADE", "updateDetails": {"updatedTierName": "Platinum"}}]}]});
    let r = f.org.post(&f.org.api, "/v2/partnerProgram/customerPartnerProgramUpdate", body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(calls.take(), ["Query", "TransactWriteItems"], "update by id: customer with linkages, commit");

    let body = json!({"customerBenefits": [{"customer": {"externalId": "X-919740000100"}, "partnerProgramBenefits": [{"partnerProgramName": "SkyMiles", "benefits": [{"name": "LoungeAccess", "count": 1}]}]}]});
    assert_eq!(f.org.post(&f.org.api, "/v2/partnerProgram/customerBenefits", body).await.status, 200);
    assert_eq!(calls.take(), ["GetItem", "Query", "TransactWriteItems"], "benefits by externalId");

    // Two entries for the same program in one request: the second decides on what the first wrote.
    let body = json!({"customersPartnerUpdates": [{"customer": {"id": id}, "partnerProgramUpdates": [
        {"partnerProgramName": "SkyMiles", "updateType": "DOWNGRADE", "updateDetails": {"updatedTierName": "Gold"}},
        {"partnerProgramName": "SkyMiles", "updateType": "DOWNGRADE", "updateDetails": {"updatedTierName": "Silver"}}]}]});
    let r = f.org.post(&f.org.api, "/v2/partnerProgram/customerPartnerProgramUpdate", body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(calls.take(), ["Query", "TransactWriteItems", "TransactWriteItems"]);

    assert_eq!(f.org.linked_programs("mobile", "919740000100").await.status, 200);
    assert_eq!(calls.take(), ["GetItem", "Query"], "customerPartnerPrograms by mobile");
    assert_eq!(f.org.delink(json!({"deLinkCustomers": [{"customer": {"id": id}, "deLinkFromPartnerPrograms": [{"partnerProgramName": "SkyMiles"}]}]})).await.status, 200);
    assert_eq!(calls.take(), ["Query", "TransactWriteItems"], "delink by id");
}
