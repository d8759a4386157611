//! Exactly once under storage faults (issue 10): a write whose answer is lost must recognise itself
//! when it is retried — by the SDK, by the service's own conflict loop, or by the client under the
//! same `Idempotency-Key` — and report the original success instead of applying again or failing.
//! The faults come from the fault proxy on the wire (DynamoDB Local never loses an answer).

use crate::fault_proxy::{Fault, FaultProxy, Schedule, When};
use crate::support::*;
use serde_json::{json, Value};
use std::sync::Arc;

async fn app_behind_proxy() -> (TestApp, Arc<FaultProxy>, Fixture) {
    let proxy = FaultProxy::start(&TestApp::dynamodb_url(), Schedule { rate: 0.0, kinds: vec![], seed: 1, targets: vec![] }).await;
    let app = TestApp::start_through(&proxy).await;
    let f = fixture(&app).await;
    (app, proxy, f)
}

async fn post_keyed(org: &TestOrg, path: &str, key: &str, body: &Value) -> Resp {
    request(
        &org.base,
        "POST",
        path,
        &[("authorization", &org.api), ("content-type", "application/json"), ("idempotency-key", key)],
        body.to_string().into_bytes(),
    )
    .await
}

/// Applied by DynamoDB, answer lost (a 500 after forwarding), and the SDK's retry of the same
/// transaction answered with a transaction conflict.
fn lost_then_conflict() -> Vec<Option<(Fault, When)>> {
    vec![Some((Fault::InternalServerError, When::After)), Some((Fault::TransactionConflict, When::Before))]
}

fn kinds(items: &[std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>]) -> Vec<String> {
    items.iter().map(|i| i["activityType"].as_s().unwrap().clone()).collect()
}

fn counter(linkage: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>, name: &str) -> u64 {
    linkage
        .get("benefitCounters")
        .and_then(|c| c.as_m().ok())
        .and_then(|m| m.get(name))
        .and_then(|c| c.as_m().ok())
        .and_then(|c| c.get("countInCycle"))
        .and_then(|n| n.as_n().ok())
        .map_or(0, |n| n.parse().unwrap())
}

async fn linked_gold(f: &Fixture, mobile: &str) -> u64 {
    let id = f.enrolled(mobile).await;
    let r = f.org.link(link_body(json!({"mobile": mobile}), "SkyMiles", json!({"partnerTierName": "Gold", "partnerTierExpiryDate": future_date(100)}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    id
}

/// Defect 1a: a benefits transaction applied, its answer lost, its SDK retry cancelled by a
/// conflict: the service re-read its own write and committed again (two records, counter twice).
#[tokio::test]
async fn benefits_applied_with_a_lost_answer_are_applied_once_and_reported_once() {
    let (app, proxy, f) = app_behind_proxy().await;
    let id = linked_gold(&f, "919730000001").await;
    proxy.script("TransactWriteItems", lost_then_conflict());
    let body = json!({"customerBenefits": [{"customer": {"mobile": "919730000001"}, "partnerProgramBenefits": [{"partnerProgramName": "SkyMiles", "benefits": [{"name": "LoungeAccess", "count": 3}]}]}]});
    let r = post_keyed(&f.org, "/v2/partnerProgram/customerBenefits", "benefit-lost-1", &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let linkage = &stored(&app.state, f.org.org_id, id, "LINK#").await[0];
    assert_eq!(counter(linkage, "LoungeAccess"), 3, "counter raised once");
    let records = stored(&app.state, f.org.org_id, id, "HIST#").await;
    assert_eq!(kinds(&records).iter().filter(|k| *k == "BENEFITSAVAILED").count(), 1, "{:?}", kinds(&records));
    assert!(proxy.injected().len() >= 2, "{:?}", proxy.injected());
}

/// Defect 2 (benefits): the same lost answer must not turn into "quota used up" by its own write.
#[tokio::test]
async fn benefits_filling_the_quota_with_a_lost_answer_report_success_not_2001() {
    let (app, proxy, f) = app_behind_proxy().await;
    let id = linked_gold(&f, "919730000002").await;
    let use_7 = json!({"customerBenefits": [{"customer": {"mobile": "919730000002"}, "partnerProgramBenefits": [{"partnerProgramName": "SkyMiles", "benefits": [{"name": "LoungeAccess", "count": 7}]}]}]});
    assert_eq!(f.org.post(&f.org.api, "/v2/partnerProgram/customerBenefits", use_7).await.status, 200);
    proxy.script("TransactWriteItems", lost_then_conflict());
    let use_3 = json!({"customerBenefits": [{"customer": {"mobile": "919730000002"}, "partnerProgramBenefits": [{"partnerProgramName": "SkyMiles", "benefits": [{"name": "LoungeAccess", "count": 3}]}]}]});
    let r = f.org.post(&f.org.api, "/v2/partnerProgram/customerBenefits", use_3).await;
    assert_eq!(r.status, 200, "its own write is not someone else's quota: {}", r.text);
    assert_eq!(counter(&stored(&app.state, f.org.org_id, id, "LINK#").await[0], "LoungeAccess"), 10);
}

/// Defect 2 (update): an UPGRADE whose answer was lost must not be told "needs a tier above the
/// current Platinum" — the Platinum it wrote.
#[tokio::test]
async fn an_upgrade_with_a_lost_answer_reports_success_and_writes_one_activity() {
    let (app, proxy, f) = app_behind_proxy().await;
    let id = linked_gold(&f, "919730000003").await;
    proxy.script("TransactWriteItems", lost_then_conflict());
    let body = json!({"customersPartnerUpdates": [{"customer": {"mobile": "919730000003"}, "partnerProgramUpdates": [{"partnerProgramName": "SkyMiles", "updateType": "UPGRADE", "updateDetails": {"updatedTierName": "Platinum"}}]}]});
    let r = f.org.post(&f.org.api, "/v2/partnerProgram/customerPartnerProgramUpdate", body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(kinds(&stored(&app.state, f.org.org_id, id, "HIST#").await), vec!["ENROLLMENT", "UPGRADE"]);
}

/// Defect 2 (link): a link whose answer was lost must not be told "already linked" by itself.
#[tokio::test]
async fn a_link_with_a_lost_answer_reports_success_not_2005() {
    let (app, proxy, f) = app_behind_proxy().await;
    let id = f.enrolled("919730000004").await;
    proxy.script("TransactWriteItems", lost_then_conflict());
    let r = f.org.link(link_body(json!({"mobile": "919730000004"}), "SkyMiles", json!({"partnerTierName": "Gold"}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(first_status(&r, "linkCustomers", "linkToPartnerPrograms", "partnerLinkStatus")["code"], 200);
    assert_eq!(kinds(&stored(&app.state, f.org.org_id, id, "HIST#").await), vec!["ENROLLMENT"]);
}

/// Defect 1b: every SDK attempt of an UPDATE applied and answered with errors: the service answered
/// 503 and released the key, and the client's retry under the same key committed a second UPDATE.
#[tokio::test]
async fn an_update_applied_by_every_attempt_then_retried_under_its_key_is_applied_once() {
    let (app, proxy, f) = app_behind_proxy().await;
    let id = linked_gold(&f, "919730000005").await;
    proxy.script("TransactWriteItems", vec![Some((Fault::Http500, When::After)); 3]);
    let body = json!({"customersPartnerUpdates": [{"customer": {"mobile": "919730000005"}, "partnerProgramUpdates": [{"partnerProgramName": "SkyMiles", "updateType": "UPDATE", "updateDetails": {"updatedTierName": "Platinum"}}]}]});
    let first = post_keyed(&f.org, "/v2/partnerProgram/customerPartnerProgramUpdate", "update-lost-1", &body).await;
    // Whatever the first answer (the outcome was unknown to the service), the retry under the
    // same key must report the change as made and not make it again.
    let retry = post_keyed(&f.org, "/v2/partnerProgram/customerPartnerProgramUpdate", "update-lost-1", &body).await;
    assert_eq!(retry.status, 200, "first: {} {}\nretry: {}", first.status, first.text, retry.text);
    assert_eq!(kinds(&stored(&app.state, f.org.org_id, id, "HIST#").await), vec!["ENROLLMENT", "UPDATE"]);
}

/// Defect 3: the claim's conditional Put applied, its answer lost, the SDK's retry failed the
/// condition, and the service answered its own request 409 "still in progress".
#[tokio::test]
async fn a_claim_whose_answer_was_lost_does_not_lock_its_own_key() {
    let (app, proxy, f) = app_behind_proxy().await;
    let id = f.enrolled("919730000006").await;
    proxy.script("PutItem", vec![Some((Fault::Http500, When::After))]);
    let body = link_body(json!({"mobile": "919730000006"}), "SkyMiles", json!({"partnerTierName": "Gold"}));
    let r = post_keyed(&f.org, "/v2/partnerProgram/linkCustomer", "claim-lost-1", &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(kinds(&stored(&app.state, f.org.org_id, id, "HIST#").await), vec!["ENROLLMENT"]);
    let again = post_keyed(&f.org, "/v2/partnerProgram/linkCustomer", "claim-lost-1", &body).await;
    assert_eq!((again.status, again.headers.get("idempotent-replayed").map(String::as_str)), (200, Some("true")), "{}", again.text);
}
