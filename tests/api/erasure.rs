//! `DELETE /v2/customers/{id}`: erasure that keeps the ledger.

use crate::support::*;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};
use shared::storage::keys::{self, IdentifierKind};
use std::collections::{BTreeMap, HashMap};

type Item = HashMap<String, AttributeValue>;

const MOBILE: &str = "919711100001";
const EMAIL: &str = "erase.me@example.com";
const EXTERNAL: &str = "X-ERASE-1";
/// Every value erasure must leave nowhere: identifiers, name, partner membership ids.
const ERASED: [&str; 8] = [MOBILE, EMAIL, EXTERNAL, "Zanele", "SM-ERASE-1", "FP-ERASE-1", "FP-ERASE-2", "DP-ERASE-1"];

async fn erase(org: &TestOrg, auth: &str, id: &str) -> Resp {
    request(&org.base, "DELETE", &format!("/v2/customers/{id}"), &[("authorization", auth)], vec![]).await
}

/// Every item of the customer's partition (a Query on its partition key alone, every page), sorted by key.
async fn partition(app: &TestApp, org: u64, customer: u64) -> Vec<Item> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = app
            .state
            .store
            .client()
            .query()
            .table_name(app.state.store.table())
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(keys::customer_pk(org, customer)))
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        items.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => break,
        }
    }
    items.sort_by_key(|i| i["SK"].as_s().unwrap().clone());
    items
}

fn history_counts(items: &[Item]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for i in items.iter().filter(|i| i["SK"].as_s().unwrap().starts_with("HIST#")) {
        *counts.entry(i["activityType"].as_s().unwrap().clone()).or_default() += 1;
    }
    counts
}

fn assert_holds_none(what: &str, text: &str) {
    for value in ERASED {
        assert!(!text.contains(value), "{what} still holds {value:?}: {text}");
    }
}

async fn events_about(app: &TestApp, org: u64, customer: u64) -> Vec<Value> {
    let id = customer.to_string();
    let mut events: Vec<Value> = scan_entities(&app.state, "EVENT", Some(org))
        .await
        .iter()
        .map(|e| serde_json::from_str::<Value>(e["payload"].as_s().unwrap()).unwrap())
        .filter(|e| e["refId"].as_str() == Some(id.as_str()))
        .collect();
    events.sort_by_key(|e| e["eventId"].as_str().unwrap().to_string());
    events
}

#[tokio::test]
async fn erasure_removes_every_identifier_keeps_the_history_and_frees_the_identifiers() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let org = f.org.org_id;
    assert!(app.state.store.set_one_supplementary_per_customer(org, true).await.unwrap());
    app.state.invalidate(org);
    f.org
        .partner_program(
            "DayPass",
            json!({
                "programId": f.rewards, "partnerProgramType": "SUPPLEMENTARY", "tierBased": false,
                "membershipPeriodType": "DAYS", "membershipPeriodValue": 1
            }),
        )
        .await;
    let id = f
        .org
        .customer(json!({
            "mobile": MOBILE, "email": EMAIL, "externalId": EXTERNAL, "firstName": "Zanele", "programIds": [f.rewards]
        }))
        .await;
    let who = json!({"mobile": MOBILE});
    let ok = |r: Resp| assert_eq!(r.status, 200, "{}", r.text);
    ok(f.org.link(link_body(who.clone(), "DayPass", json!({"partnerMembershipId": "DP-ERASE-1"}))).await);
    ok(f.org
        .delink(json!({
            "deLinkCustomers": [{"customer": who, "deLinkFromPartnerPrograms": [{"partnerProgramName": "DayPass"}]}]
        }))
        .await);
    ok(f.org
        .link(link_body(
            who.clone(),
            "SkyMiles",
            json!({
                "partnerMembershipId": "SM-ERASE-1", "partnerTierName": "Gold", "partnerTierExpiryDate": future_date(60)
            }),
        ))
        .await);
    ok(f.org.link(link_body(who.clone(), "FlexiPass", json!({"partnerMembershipId": "FP-ERASE-1"}))).await);
    ok(f.org
        .link(link_body(
            who.clone(),
            "FlexiPass",
            json!({"partnerMembershipId": "FP-ERASE-2", "membershipStartDate": future_date(10)}),
        ))
        .await);
    ok(f.org
        .post(
            &f.org.api,
            "/v2/partnerProgram/customerBenefits",
            json!({
                "customerBenefits": [{
                    "customer": who,
                    "partnerProgramBenefits": [{
                        "partnerProgramName": "SkyMiles", "benefits": [{"name": "LoungeAccess", "count": 2}],
                        "billNumber": "B-1"
                    }]
                }]
            }),
        )
        .await);
    let before = partition(&app, org, id).await;
    assert!(app.state.store.subscription(org, id).await.unwrap().is_some());

    assert_eq!(erase(&f.org, &f.org.api, &id.to_string()).await.status, 403, "admin only");
    let r = erase(&f.org, &f.org.admin, &id.to_string()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["customer"], json!({"id": id}));
    let mut delinked: Vec<&str> =
        r.body["delinkedPartnerPrograms"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    delinked.sort();
    assert_eq!(delinked, vec!["FlexiPass", "SkyMiles"]);
    let erased_at = r.body["erasedAt"].clone();

    // Nothing in the customer's partition, nor any lookup, membership-id or guard item, holds an erased value.
    let after = partition(&app, org, id).await;
    assert_holds_none("the customer's partition", &format!("{after:?}"));
    for (kind, value) in
        [(IdentifierKind::Mobile, MOBILE), (IdentifierKind::Email, EMAIL), (IdentifierKind::ExternalId, EXTERNAL)]
    {
        assert!(
            app.state.store.get::<Value>(&keys::identifier(org, kind, value)).await.unwrap().is_none(),
            "{kind:?} lookup item left"
        );
    }
    let catalog = app.state.catalog(org).await.unwrap();
    for (program, mid) in [
        ("SkyMiles", "SM-ERASE-1"),
        ("FlexiPass", "FP-ERASE-1"),
        ("FlexiPass", "FP-ERASE-2"),
        ("DayPass", "DP-ERASE-1"),
    ] {
        let pp = catalog.partner_program(program).unwrap().partner_program_id;
        assert!(
            app.state.store.get::<Value>(&keys::membership_id(org, pp, mid)).await.unwrap().is_none(),
            "{mid} claim left"
        );
    }
    assert!(app.state.store.subscription(org, id).await.unwrap().is_none(), "the subscription guard is released");

    // The ledger stays: every earlier record, plus one DELINK per membership that was active.
    let mut expected = history_counts(&before);
    *expected.entry("DELINK".into()).or_default() += 2;
    assert_eq!(history_counts(&after), expected);
    let linkages: Vec<&Item> = after.iter().filter(|i| i["SK"].as_s().unwrap().starts_with("LINK#")).collect();
    assert_eq!(linkages.len(), 3);
    assert!(
        linkages.iter().all(|l| l["linked"] == AttributeValue::Bool(false) && !l.contains_key("pendingRelink")),
        "{linkages:?}"
    );

    // Events: the delinks and customerErased name the customer by id only.
    let events = events_about(&app, org, id).await;
    let erased_events: Vec<&Value> = events.iter().filter(|e| e["eventName"] == "customerErased").collect();
    assert_eq!(erased_events.len(), 1);
    assert_eq!(erased_events[0]["data"]["customerIdentifiers"], json!({"customerId": id}));
    let erasure_delinks: Vec<&Value> = events.iter().filter(|e| e["data"]["updateType"] == "CUSTOMER_ERASED").collect();
    assert_eq!(erasure_delinks.len(), 2);
    for e in erased_events.iter().chain(&erasure_delinks) {
        assert_holds_none("an erasure event", &e.to_string());
    }

    // No route returns the erased values; the numeric id still reads the history.
    let r = f.org.linked_programs("mobile", MOBILE).await;
    assert_eq!(r.body["errors"][0]["code"], 8015, "{}", r.text);
    let r = f
        .org
        .get(
            &f.org.api,
            &format!("/v2/partnerProgram/customerActivityHistories?identifierName=id&identifierValue={id}&limit=100"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_holds_none("the history by id", &r.text);
    assert!(!r.body["data"].as_array().unwrap().is_empty());

    // A repeat is a success that changes nothing.
    let events_before = scan_entities(&app.state, "EVENT", Some(org)).await.len();
    let r = erase(&f.org, &f.org.admin, &id.to_string()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["erasedAt"].clone(), r.body["delinkedPartnerPrograms"].clone()), (erased_at, json!([])));
    assert_eq!(partition(&app, org, id).await, after);
    assert_eq!(scan_entities(&app.state, "EVENT", Some(org)).await.len(), events_before);

    // The identifiers are free for a new customer.
    let newcomer = f
        .org
        .customer(json!({"mobile": MOBILE, "email": EMAIL, "externalId": EXTERNAL, "programIds": [f.rewards]}))
        .await;
    assert_ne!(newcomer, id);
    ok(f.org
        .link(link_body(
            json!({"mobile": MOBILE}),
            "SkyMiles",
            json!({
                "partnerMembershipId": "SM-ERASE-1", "partnerTierName": "Gold", "partnerTierExpiryDate": future_date(60)
            }),
        ))
        .await);
}

#[tokio::test]
async fn erasing_an_unknown_or_malformed_id_changes_nothing() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let other = app.org("UTC").await;
    let id = f.enrolled("919711100002").await;
    let r = erase(&other, &other.admin, &id.to_string()).await;
    assert_eq!(
        (r.status, r.body["errors"][0]["code"].as_u64()),
        (404, Some(8015)),
        "another org's customer is unknown: {}",
        r.text
    );
    for bad in ["0", "abc", "-1", "99999999999999999999999"] {
        let r = erase(&f.org, &f.org.admin, bad).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    assert_eq!(erase(&f.org, &f.org.admin, "424242").await.status, 404);
    let r = f.org.linked_programs("mobile", "919711100002").await;
    assert_eq!(r.body["customer"]["id"], id, "{}", r.text);
}
