//! Exactly once under storage faults: a write whose answer is lost must recognise itself
//! when it is retried — by the SDK, by the service's own conflict loop, or by the client under the
//! same `Idempotency-Key` — and report the original success instead of applying again or failing.
//! The faults come from the fault proxy on the wire (DynamoDB Local never loses an answer).

use crate::fault_proxy::{Fault, FaultProxy, Schedule, When};
use crate::support::*;
use serde_json::json;
use std::sync::Arc;

async fn app_behind_proxy() -> (TestApp, Arc<FaultProxy>, Fixture) {
    let proxy =
        FaultProxy::start(&TestApp::dynamodb_url(), Schedule { rate: 0.0, kinds: vec![], seed: 1, targets: vec![] })
            .await;
    let app = TestApp::start_through(&proxy).await;
    let f = fixture(&app).await;
    (app, proxy, f)
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
    let r = f
        .org
        .link(link_body(
            json!({"mobile": mobile}),
            "SkyMiles",
            json!({"partnerTierName": "Gold", "partnerTierExpiryDate": future_date(100)}),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    id
}

/// A benefits transaction applied, its answer lost, its SDK retry cancelled by a conflict: the
/// service must find its own write on the re-read, not commit again (two records, counter twice).
#[tokio::test]
async fn benefits_applied_with_a_lost_answer_are_applied_once_and_reported_once() {
    let (app, proxy, f) = app_behind_proxy().await;
    let id = linked_gold(&f, "919730000001").await;
    proxy.script("TransactWriteItems", lost_then_conflict());
    let body = json!({
        "customerBenefits": [{
            "customer": {"mobile": "919730000001"},
            "partnerProgramBenefits": [{
                "partnerProgramName": "SkyMiles", "benefits": [{"name": "LoungeAccess", "count": 3}]
            }]
        }]
    });
    let r = f.org.post_keyed("/v2/partnerProgram/customerBenefits", "benefit-lost-1", &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let linkage = &stored(&app.state, f.org.org_id, id, "LINK#").await[0];
    assert_eq!(counter(linkage, "LoungeAccess"), 3, "counter raised once");
    let records = stored(&app.state, f.org.org_id, id, "HIST#").await;
    assert_eq!(kinds(&records).iter().filter(|k| *k == "BENEFITSAVAILED").count(), 1, "{:?}", kinds(&records));
    assert!(proxy.injected().len() >= 2, "{:?}", proxy.injected());
}

/// Benefits that fill the quota, their answer lost, must not be told "quota used up" by their own write.
#[tokio::test]
async fn benefits_filling_the_quota_with_a_lost_answer_report_success_not_2001() {
    let (app, proxy, f) = app_behind_proxy().await;
    let id = linked_gold(&f, "919730000002").await;
    let use_7 = json!({
        "customerBenefits": [{
            "customer": {"mobile": "919730000002"},
            "partnerProgramBenefits": [{
                "partnerProgramName": "SkyMiles", "benefits": [{"name": "LoungeAccess", "count": 7}]
            }]
        }]
    });
    assert_eq!(f.org.post(&f.org.api, "/v2/partnerProgram/customerBenefits", use_7).await.status, 200);
    proxy.script("TransactWriteItems", lost_then_conflict());
    let use_3 = json!({
        "customerBenefits": [{
            "customer": {"mobile": "919730000002"},
            "partnerProgramBenefits": [{
                "partnerProgramName": "SkyMiles", "benefits": [{"name": "LoungeAccess", "count": 3}]
            }]
        }]
    });
    let r = f.org.post(&f.org.api, "/v2/partnerProgram/customerBenefits", use_3).await;
    assert_eq!(r.status, 200, "its own write is not someone else's quota: {}", r.text);
    assert_eq!(counter(&stored(&app.state, f.org.org_id, id, "LINK#").await[0], "LoungeAccess"), 10);
}

/// An UPGRADE whose answer was lost must not be told "needs a tier above the current Platinum" —
/// the Platinum it wrote.
#[tokio::test]
async fn an_upgrade_with_a_lost_answer_reports_success_and_writes_one_activity() {
    let (app, proxy, f) = app_behind_proxy().await;
    let id = linked_gold(&f, "919730000003").await;
    proxy.script("TransactWriteItems", lost_then_conflict());
    let body = json!({
        "customersPartnerUpdates": [{
            "customer": {"mobile": "919730000003"},
            "partnerProgramUpdates": [{
                "partnerProgramName": "SkyMiles", "updateType": "UPGRADE",
                "updateDetails": {"updatedTierName": "Platinum"}
            }]
        }]
    });
    let r = f.org.post(&f.org.api, "/v2/partnerProgram/customerPartnerProgramUpdate", body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(kinds(&stored(&app.state, f.org.org_id, id, "HIST#").await), vec!["ENROLLMENT", "UPGRADE"]);
}

/// A link whose answer was lost must not be told "already linked" by itself.
#[tokio::test]
async fn a_link_with_a_lost_answer_reports_success_not_2005() {
    let (app, proxy, f) = app_behind_proxy().await;
    let id = f.enrolled("919730000004").await;
    proxy.script("TransactWriteItems", lost_then_conflict());
    let r =
        f.org.link(link_body(json!({"mobile": "919730000004"}), "SkyMiles", json!({"partnerTierName": "Gold"}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(first_status(&r, "linkCustomers", "linkToPartnerPrograms", "partnerLinkStatus")["code"], 200);
    assert_eq!(kinds(&stored(&app.state, f.org.org_id, id, "HIST#").await), vec!["ENROLLMENT"]);
}

/// Every SDK attempt of an UPDATE applied and answered with errors: whatever the service answers,
/// the client's retry under the same key must not commit a second UPDATE.
#[tokio::test]
async fn an_update_applied_by_every_attempt_then_retried_under_its_key_is_applied_once() {
    let (app, proxy, f) = app_behind_proxy().await;
    let id = linked_gold(&f, "919730000005").await;
    proxy.script("TransactWriteItems", vec![Some((Fault::Http500, When::After)); 3]);
    let body = json!({
        "customersPartnerUpdates": [{
            "customer": {"mobile": "919730000005"},
            "partnerProgramUpdates": [{
                "partnerProgramName": "SkyMiles", "updateType": "UPDATE",
                "updateDetails": {"updatedTierName": "Platinum"}
            }]
        }]
    });
    let first = f.org.post_keyed("/v2/partnerProgram/customerPartnerProgramUpdate", "update-lost-1", &body).await;
    // Whatever the first answer (the outcome was unknown to the service), the retry under the
    // same key must report the change as made and not make it again.
    let retry = f.org.post_keyed("/v2/partnerProgram/customerPartnerProgramUpdate", "update-lost-1", &body).await;
    assert_eq!(retry.status, 200, "first: {} {}\nretry: {}", first.status, first.text, retry.text);
    assert_eq!(kinds(&stored(&app.state, f.org.org_id, id, "HIST#").await), vec!["ENROLLMENT", "UPDATE"]);
}

/// The claim's conditional Put applied, its answer lost, the SDK's retry failed the condition:
/// the service must not answer its own request 409 "still in progress".
#[tokio::test]
async fn a_claim_whose_answer_was_lost_does_not_lock_its_own_key() {
    let (app, proxy, f) = app_behind_proxy().await;
    let id = f.enrolled("919730000006").await;
    proxy.script("PutItem", vec![Some((Fault::Http500, When::After))]);
    let body = link_body(json!({"mobile": "919730000006"}), "SkyMiles", json!({"partnerTierName": "Gold"}));
    let r = f.org.post_keyed("/v2/partnerProgram/linkCustomer", "claim-lost-1", &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(kinds(&stored(&app.state, f.org.org_id, id, "HIST#").await), vec!["ENROLLMENT"]);
    let again = f.org.post_keyed("/v2/partnerProgram/linkCustomer", "claim-lost-1", &body).await;
    assert_eq!(
        (again.status, again.headers.get("idempotent-replayed").map(String::as_str)),
        (200, Some("true")),
        "{}",
        again.text
    );
}

/// Registration: the transaction applied, every SDK attempt answered with an error. The service
/// must find its own customer rather than answer 500, and the client's retry under its key must
/// not be told 409 "duplicate" by the customer it registered itself.
#[tokio::test]
async fn a_registration_with_a_lost_answer_reports_its_customer_not_409_duplicate() {
    let (app, proxy, f) = app_behind_proxy().await;
    proxy.script(
        "TransactWriteItems",
        vec![
            Some((Fault::Http500, When::After)),
            Some((Fault::Http500, When::Before)),
            Some((Fault::Http500, When::Before)),
        ],
    );
    let body = json!({
        "mobile": "919730000007", "email": "lost@example.com", "externalId": "X-LOST-7", "programIds": [f.rewards]
    });
    let first = request(
        &f.org.base,
        "POST",
        "/v2/customers",
        &[
            ("authorization", &f.org.admin),
            ("content-type", "application/json"),
            ("idempotency-key", "register-lost-1"),
        ],
        body.to_string().into_bytes(),
    )
    .await;
    let retry = request(
        &f.org.base,
        "POST",
        "/v2/customers",
        &[
            ("authorization", &f.org.admin),
            ("content-type", "application/json"),
            ("idempotency-key", "register-lost-1"),
        ],
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!((first.status, retry.status), (201, 201), "first: {}\nretry: {}", first.text, retry.text);
    let id = first.body["customer"]["id"].as_u64().unwrap();
    assert_eq!(retry.body["customer"]["id"].as_u64(), Some(id), "{}", retry.text);
    let prefix = format!("ORG#{}#", f.org.org_id);
    let profiles = scan_entities(&app.state, "CUSTOMER", None).await;
    let ours = profiles.iter().filter(|p| p["PK"].as_s().unwrap().starts_with(&prefix)).count();
    assert_eq!(ours, 1, "one customer registered");
    // A different request for the same identifiers is still a duplicate.
    let other =
        f.org.post(&f.org.admin, "/v2/customers", json!({"mobile": "919730000007", "programIds": [f.rewards]})).await;
    assert_eq!(other.status, 409, "{}", other.text);
}

/// Configuration PUT: the create applied, its answer lost, the SDK's retry answered with a
/// transaction conflict. The same configuration was written by this very request: not a 409
/// "changed concurrently".
#[tokio::test]
async fn a_partner_program_put_with_a_lost_answer_reports_success_not_409() {
    let (_app, proxy, f) = app_behind_proxy().await;
    proxy.script("TransactWriteItems", lost_then_conflict());
    let r = f.org.put(&f.org.admin, "/v2/organization/partnerPrograms/LostMiles", skymiles(f.rewards)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["partnerProgramName"], "LostMiles", "{}", r.text);
    // Replaced with its answer lost the same way: still its own write.
    proxy.script("TransactWriteItems", lost_then_conflict());
    let mut changed = skymiles(f.rewards);
    changed["partnerProgramDescription"] = json!("Airline, renamed");
    let r = f.org.put(&f.org.admin, "/v2/organization/partnerPrograms/LostMiles", changed).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let listed = f.org.get(&f.org.api, "/v2/organization/programs").await;
    assert!(listed.text.contains("Airline, renamed"), "{}", listed.text);
}

/// A commit whose every SDK attempt got no answer is not reported "unknown" at once: the item
/// re-reads and commits again on the version it reads (only one of the two can ever apply), so
/// storage that answers again within the item's budget gives a known outcome.
#[tokio::test]
async fn an_item_whose_commit_got_no_answer_commits_again_and_reports_success_not_unknown() {
    let (app, proxy, f) = app_behind_proxy().await;
    let id = f.enrolled("919730000018").await;
    proxy.script("TransactWriteItems", vec![Some((Fault::Http500, When::Before)); 3]);
    let body = link_body(json!({"mobile": "919730000018"}), "SkyMiles", json!({"partnerTierName": "Gold"}));
    let r = f.org.link(body).await;
    assert_eq!(
        first_status(&r, "linkCustomers", "linkToPartnerPrograms", "partnerLinkStatus")["code"],
        200,
        "{}",
        r.text
    );
    assert_eq!(kinds(&stored(&app.state, f.org.org_id, id, "HIST#").await), vec!["ENROLLMENT"]);
}

/// A keyed batch in which one item's outcome is unknown (every attempt of every commit it may
/// make failed): the answer says "retry with the same Idempotency-Key", so that retry must run
/// again — not replay the unknown — and must apply the item once while recognising the item
/// that already committed.
#[tokio::test]
async fn a_keyed_retry_resolves_an_item_whose_outcome_was_unknown_instead_of_replaying_it() {
    let (app, proxy, f) = app_behind_proxy().await;
    let id = f.enrolled("919730000008").await;
    // First entry commits; every attempt of the second fails before reaching DynamoDB: three
    // commits of three SDK attempts each.
    let mut script = vec![None];
    script.extend(vec![Some((Fault::Http500, When::Before)); 9]);
    proxy.script("TransactWriteItems", script);
    let body = json!({"linkCustomers": [{"customer": {"mobile": "919730000008"}, "linkToPartnerPrograms": [
        {"partnerProgramName": "SkyMiles", "customerPartnerReference": {"partnerTierName": "Gold"}},
        {"partnerProgramName": "FlexiPass"}
    ]}]});
    let first = f.org.post_keyed("/v2/partnerProgram/linkCustomer", "unknown-item-1", &body).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let entries = &first.body["linkCustomers"][0]["linkToPartnerPrograms"];
    assert_eq!(entries[0]["partnerLinkStatus"]["code"], 200, "{}", first.text);
    assert_eq!(entries[1]["partnerLinkStatus"]["code"], 2001, "{}", first.text);
    assert!(entries[1]["partnerLinkStatus"]["detail"].as_str().unwrap().contains("unknown"), "{}", first.text);
    let retry = f.org.post_keyed("/v2/partnerProgram/linkCustomer", "unknown-item-1", &body).await;
    assert_eq!(retry.status, 200, "the retry runs and resolves the unknown item: {}", retry.text);
    assert!(!retry.headers.contains_key("idempotent-replayed"), "{:?}", retry.headers);
    let kinds = kinds(&stored(&app.state, f.org.org_id, id, "HIST#").await);
    assert_eq!(kinds.iter().filter(|k| *k == "ENROLLMENT").count(), 1, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| *k == "SUPPLEMENTARY_MEMBERSHIP_STARTED").count(), 1, "{kinds:?}");
    // Now completed: a further repeat is a replay of the resolved answer.
    let again = f.org.post_keyed("/v2/partnerProgram/linkCustomer", "unknown-item-1", &body).await;
    assert_eq!(
        (again.status, again.headers.get("idempotent-replayed").map(String::as_str)),
        (200, Some("true")),
        "{}",
        again.text
    );
}

/// The last attempt inside the contention budget was applied, but its answer was a transaction
/// conflict: 2010 says "nothing changed, retry", so the service must look before saying it.
#[tokio::test]
async fn an_applied_change_answered_as_a_conflict_when_the_budget_ends_reports_success_not_2010() {
    let proxy =
        FaultProxy::start(&TestApp::dynamodb_url(), Schedule { rate: 0.0, kinds: vec![], seed: 1, targets: vec![] })
            .await;
    let app =
        TestApp::start_through_with(&proxy, |c| c.write_contention_budget = std::time::Duration::from_millis(1)).await;
    let f = fixture(&app).await;
    let id = linked_gold(&f, "919730000009").await;
    proxy.script("TransactWriteItems", vec![Some((Fault::TransactionConflict, When::After))]);
    let body = json!({
        "customersPartnerUpdates": [{
            "customer": {"mobile": "919730000009"},
            "partnerProgramUpdates": [{
                "partnerProgramName": "SkyMiles", "updateType": "UPGRADE",
                "updateDetails": {"updatedTierName": "Platinum"}
            }]
        }]
    });
    let r = f.org.post(&f.org.api, "/v2/partnerProgram/customerPartnerProgramUpdate", body).await;
    assert_eq!(
        first_status(&r, "customersPartnerUpdates", "partnerProgramUpdates", "updateStatus")["code"],
        200,
        "{}",
        r.text
    );
    assert_eq!(kinds(&stored(&app.state, f.org.org_id, id, "HIST#").await), vec!["ENROLLMENT", "UPGRADE"]);
}

/// The claim's Put applied with its answer lost, and every SDK retry failing too: the service
/// cannot know it holds the key and answers 503; the client's retry under the key must run, not
/// find the key held by that claim for the whole 30 s lease.
#[tokio::test]
async fn a_claim_applied_but_failed_on_every_attempt_does_not_hold_the_key_for_the_lease() {
    let (app, proxy, f) = app_behind_proxy().await;
    let id = f.enrolled("919730000010").await;
    proxy.script(
        "PutItem",
        vec![
            Some((Fault::Http500, When::After)),
            Some((Fault::Http500, When::Before)),
            Some((Fault::Http500, When::Before)),
        ],
    );
    let body = link_body(json!({"mobile": "919730000010"}), "SkyMiles", json!({"partnerTierName": "Gold"}));
    let first = f.org.post_keyed("/v2/partnerProgram/linkCustomer", "claim-failed-1", &body).await;
    let retry = f.org.post_keyed("/v2/partnerProgram/linkCustomer", "claim-failed-1", &body).await;
    assert_eq!(retry.status, 200, "first: {} {}\nretry: {}", first.status, first.text, retry.text);
    assert_eq!(kinds(&stored(&app.state, f.org.org_id, id, "HIST#").await), vec!["ENROLLMENT"]);
}
