//! customerPartnerProgramUpdate: every rule of docs/contract.md#error-catalog for updates through the API, concurrent
//! writers on one linkage (§5), and the partnerProgramUpdated event (§8).

use crate::support::*;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

pub const M2001: &str = "Cannot process the partner program event.";
const M2002: &str = "Cannot proceed if updateDetails, updatedTierName, or partnerProgramName is empty or null.";
const M2003: &str = "Partner tier expiry date should not be a past date.";
pub const M2004: &str = "Link the customer with the partner program.";
const M2006: &str = "Cannot find the partner program.";
const M2007: &str = "Cannot find the partner program tier.";
const M2009: &str = "updateType supports only UPDATE, RENEW, DOWNGRADE.";
pub const M2010: &str = "Partner program events are presented in a queue for the user.";

pub type Item = HashMap<String, AttributeValue>;

pub fn update_body(customer: Value, program: &str, update_type: &str, details: Option<Value>) -> Value {
    let mut entry = json!({"partnerProgramName": program, "updateType": update_type});
    if let Some(d) = details {
        entry["updateDetails"] = d;
    }
    json!({"customersPartnerUpdates": [{"customer": customer, "partnerProgramUpdates": [entry]}]})
}

async fn update(org: &TestOrg, body: Value) -> Resp {
    org.post(&org.api, "/v2/partnerProgram/customerPartnerProgramUpdate", body).await
}

fn status(r: &Resp) -> Value {
    first_status(r, "customersPartnerUpdates", "partnerProgramUpdates", "updateStatus")
}

pub fn assert_code(s: &Value, code: u64, message: &str) {
    assert_eq!(s["status"], false, "{s}");
    assert_eq!(s["code"], code, "{s}");
    assert_eq!(s["message"], message, "{s}");
}

pub fn detail(s: &Value) -> String {
    s["detail"].as_str().unwrap_or_else(|| panic!("no detail in {s}")).to_string()
}

/// Registers a customer and links it to SkyMiles at Gold, expiring in `days`.
pub async fn linked_gold(f: &Fixture, mobile: &str, days: i64) -> u64 {
    let id = f.enrolled(mobile).await;
    let r = f
        .org
        .link(link_body(
            json!({"mobile": mobile}),
            "SkyMiles",
            json!({"partnerTierName": "Gold", "partnerTierExpiryDate": future_date(days)}),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    id
}

/// The same org through another server (for a server whose clock runs ahead).
pub fn same_org_on(org: &TestOrg, app: &TestApp) -> TestOrg {
    TestOrg { org_id: org.org_id, admin: org.admin.clone(), api: org.api.clone(), base: app.base.clone() }
}

pub fn clock_ahead(days: i64) -> shared::state::Clock {
    Arc::new(move || chrono::Utc::now() + chrono::Duration::days(days))
}

/// Every outbox event item of an org (test-only Scan with a filter, following every page).
pub async fn events_of(app: &TestApp, org: u64) -> Vec<Item> {
    scan_entities(&app.state, "EVENT", Some(org)).await
}

/// The payloads of an org's events with this name, oldest first.
pub async fn payloads(app: &TestApp, org: u64, name: &str) -> Vec<Value> {
    let mut v: Vec<Value> = events_of(app, org)
        .await
        .into_iter()
        .filter(|i| i["eventName"].as_s().unwrap() == name)
        .map(|i| serde_json::from_str(i["payload"].as_s().unwrap()).unwrap())
        .collect();
    v.sort_by_key(|p| p["data"]["customerPartnerProgramDetails"]["version"].as_u64());
    v
}

pub fn activity_types(items: &[Item]) -> Vec<String> {
    items.iter().map(|i| i["activityType"].as_s().unwrap().clone()).collect()
}

pub fn n(item: &Item, attr: &str) -> u64 {
    item[attr].as_n().unwrap().parse().unwrap()
}

fn utc(raw: &str) -> String {
    shared::domain::dates::format_utc(chrono::DateTime::parse_from_rfc3339(raw).unwrap().with_timezone(&chrono::Utc))
}

#[tokio::test]
async fn upgrade_downgrade_renew_leave_right_tier_expiry_and_one_activity_each() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let id = linked_gold(&f, "919710000001", 30).await;
    let who = json!({"mobile": "919710000001"});

    let e1 = future_date(200);
    let r = update(
        &f.org,
        update_body(
            who.clone(),
            "SkyMiles",
            "UPGRADE",
            Some(json!({"updatedTierName": "Platinum", "updatedTierExpiryDate": e1})),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(status(&r), json!({"status": true, "code": 200, "message": "Success"}));
    assert_eq!(r.body["customersPartnerUpdates"][0]["customer"]["status"]["code"], 1000);
    assert_eq!(r.body["warnings"], json!([]));
    let read = f.org.linked_programs("mobile", "919710000001").await;
    let p = &read.body["linkedPartnerPrograms"][0];
    assert_eq!((p["partnerTierName"].as_str(), p["partnerTierNumber"].as_u64()), (Some("Platinum"), Some(3)));
    assert_eq!(p["partnerTierExpiryDate"], utc(&e1));
    assert_eq!(p["partnerProgramMembershipLastUpdatedActivity"], "UPGRADE");

    // DOWNGRADE without a new expiry keeps the current one.
    let r =
        update(&f.org, update_body(who.clone(), "SkyMiles", "DOWNGRADE", Some(json!({"updatedTierName": "silver"}))))
            .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let read = f.org.linked_programs("mobile", "919710000001").await;
    let p = &read.body["linkedPartnerPrograms"][0];
    assert_eq!((p["partnerTierName"].as_str(), p["partnerTierNumber"].as_u64()), (Some("Silver"), Some(1)));
    assert_eq!(p["partnerTierExpiryDate"], utc(&e1));

    // RENEW: same tier, new expiry; updatedTierName may be omitted; a bare date is the end of that day in the org zone.
    let r = update(
        &f.org,
        update_body(who.clone(), "SkyMiles", "RENEW", Some(json!({"updatedTierExpiryDate": "2031-03-31"}))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let read = f.org.linked_programs("mobile", "919710000001").await;
    let p = &read.body["linkedPartnerPrograms"][0];
    assert_eq!(p["partnerTierName"], "Silver");
    assert_eq!(p["partnerTierExpiryDate"], "2031-03-31T18:29:59Z");
    assert_eq!(p["status"], "ACTIVE");
    assert_eq!(p["partnerProgramMembershipLastUpdatedActivity"], "RENEW");

    let history = stored(&app.state, f.org.org_id, id, "HIST#").await;
    assert_eq!(activity_types(&history), vec!["ENROLLMENT", "UPGRADE", "DOWNGRADE", "RENEW"]);
    let tiers: Vec<&str> = history.iter().map(|i| i["tierName"].as_s().unwrap().as_str()).collect();
    assert_eq!(tiers, vec!["Gold", "Platinum", "Silver", "Silver"]);
    let linkage = &stored(&app.state, f.org.org_id, id, "LINK#").await[0];
    assert_eq!(n(linkage, "version"), 4);
    let updated = payloads(&app, f.org.org_id, "partnerProgramUpdated").await;
    let kinds: Vec<&str> = updated.iter().map(|p| p["data"]["updateType"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["UPGRADE", "DOWNGRADE", "RENEW"]);
}

#[tokio::test]
async fn wrong_direction_reports_2001_with_detail_and_changes_nothing() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let id = linked_gold(&f, "919710000002", 30).await;
    let who = json!({"mobile": "919710000002"});
    let cases = [
        (
            "UPGRADE",
            json!({"updatedTierName": "Silver", "updatedTierExpiryDate": future_date(60)}),
            "UPGRADE needs a tier above the current Gold",
        ),
        ("UPGRADE", json!({"updatedTierName": "Gold"}), "UPGRADE needs a tier above the current Gold"),
        ("DOWNGRADE", json!({"updatedTierName": "Platinum"}), "DOWNGRADE needs a tier below the current Gold"),
        (
            "RENEW",
            json!({"updatedTierName": "Platinum", "updatedTierExpiryDate": future_date(60)}),
            "RENEW keeps the current tier Gold",
        ),
    ];
    for (kind, details, expected) in cases {
        let r = update(&f.org, update_body(who.clone(), "SkyMiles", kind, Some(details))).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let s = status(&r);
        assert_code(&s, 2001, M2001);
        assert!(detail(&s).starts_with(expected), "{kind}: {s}");
    }
    // UPDATE moves to any tier, the same one included.
    let r =
        update(&f.org, update_body(who.clone(), "SkyMiles", "UPDATE", Some(json!({"updatedTierName": "Gold"})))).await;
    assert_eq!(status(&r)["code"], 200, "{}", r.text);
    assert_eq!(activity_types(&stored(&app.state, f.org.org_id, id, "HIST#").await), vec!["ENROLLMENT", "UPDATE"]);
    assert_eq!(n(&stored(&app.state, f.org.org_id, id, "LINK#").await[0], "version"), 2);
}

#[tokio::test]
async fn empty_program_name_or_missing_details_report_2002() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    linked_gold(&f, "919710000003", 30).await;
    let who = json!({"mobile": "919710000003"});
    let cases = [
        (update_body(who.clone(), "", "UPGRADE", Some(json!({"updatedTierName": "Platinum"}))), "partnerProgramName"),
        (update_body(who.clone(), "  ", "NONSENSE", None), "partnerProgramName"),
        (update_body(who.clone(), "SkyMiles", "UPGRADE", None), "updateDetails is required"),
        (update_body(who.clone(), "SkyMiles", "DOWNGRADE", Some(json!({"updatedTierName": ""}))), "updatedTierName"),
        (
            update_body(who.clone(), "SkyMiles", "UPDATE", Some(json!({"updatedTierExpiryDate": future_date(10)}))),
            "updatedTierName",
        ),
        (
            update_body(who.clone(), "SkyMiles", "RENEW", Some(json!({"updatedTierName": "Gold"}))),
            "updatedTierExpiryDate",
        ),
        (update_body(who.clone(), "SkyMiles", "RENEW", None), "updateDetails is required"),
    ];
    for (body, expected) in cases {
        let r = update(&f.org, body.clone()).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let s = status(&r);
        assert_code(&s, 2002, M2002);
        assert!(detail(&s).contains(expected), "{body}: {s}");
    }
    let r =
        update(&f.org, json!({"customersPartnerUpdates": [{"customer": who, "partnerProgramUpdates": [{}]}]})).await;
    assert_code(&status(&r), 2002, M2002);
}

#[tokio::test]
async fn past_expiry_reports_2003() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    linked_gold(&f, "919710000004", 30).await;
    let who = json!({"mobile": "919710000004"});
    for past in ["2020-01-01T00:00:00+05:30", "2020-01-01"] {
        for (kind, tier) in [("UPGRADE", Some("Platinum")), ("RENEW", None), ("UPDATE", Some("Silver"))] {
            let mut details = json!({"updatedTierExpiryDate": past});
            if let Some(t) = tier {
                details["updatedTierName"] = json!(t);
            }
            let r = update(&f.org, update_body(who.clone(), "SkyMiles", kind, Some(details))).await;
            let s = status(&r);
            assert_code(&s, 2003, M2003);
            assert!(detail(&s).contains(past), "{s}");
        }
    }
    // A date in no accepted format is refused with a detail naming the field.
    let r = update(&f.org, update_body(who, "SkyMiles", "RENEW", Some(json!({"updatedTierExpiryDate": "31/12/2031"}))))
        .await;
    let s = status(&r);
    assert_code(&s, 2001, M2001);
    assert!(detail(&s).contains("updatedTierExpiryDate"), "{s}");
}

#[tokio::test]
async fn update_of_unlinked_or_delinked_customer_reports_2004() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919710000005").await;
    let who = json!({"mobile": "919710000005"});
    let upgrade = update_body(who.clone(), "SkyMiles", "UPGRADE", Some(json!({"updatedTierName": "Platinum"})));
    let r = update(&f.org, upgrade.clone()).await;
    assert_eq!(r.status, 201);
    assert_code(&status(&r), 2004, M2004);
    let r = update(&f.org, update_body(who.clone(), "FlexiPass", "MEMBERSHIP_RELINKING_CANCELLED", None)).await;
    assert_code(&status(&r), 2004, M2004);

    linked_gold(&f, "919710000006", 30).await;
    let r = f.org.delink(json!({
        "deLinkCustomers": [{
            "customer": {"mobile": "919710000006"}, "deLinkFromPartnerPrograms": [{"partnerProgramName": "SkyMiles"}]
        }]
    })).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = update(
        &f.org,
        update_body(
            json!({"mobile": "919710000006"}),
            "SkyMiles",
            "UPGRADE",
            Some(json!({"updatedTierName": "Platinum"})),
        ),
    )
    .await;
    assert_code(&status(&r), 2004, M2004);
}

#[tokio::test]
async fn unknown_program_reports_2006() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919710000007").await;
    let r = update(
        &f.org,
        update_body(
            json!({"mobile": "919710000007"}),
            "NoSuchProgram",
            "UPGRADE",
            Some(json!({"updatedTierName": "Gold"})),
        ),
    )
    .await;
    assert_eq!(r.status, 201);
    let s = status(&r);
    assert_code(&s, 2006, M2006);
    assert!(detail(&s).contains("NoSuchProgram"), "{s}");
}

#[tokio::test]
async fn unknown_tier_reports_2007() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    linked_gold(&f, "919710000008", 30).await;
    for kind in ["UPGRADE", "DOWNGRADE", "UPDATE", "RENEW"] {
        let details = json!({"updatedTierName": "Diamond", "updatedTierExpiryDate": future_date(60)});
        let r = update(&f.org, update_body(json!({"mobile": "919710000008"}), "SkyMiles", kind, Some(details))).await;
        let s = status(&r);
        assert_code(&s, 2007, M2007);
        assert!(detail(&s).contains("Diamond"), "{s}");
    }
}

#[tokio::test]
async fn unsupported_update_type_reports_2009() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let id = linked_gold(&f, "919710000009", 30).await;
    for kind in ["PROMOTE", "", "LINK", "DELINK"] {
        let r = update(
            &f.org,
            update_body(
                json!({"mobile": "919710000009"}),
                "SkyMiles",
                kind,
                Some(json!({"updatedTierName": "Platinum"})),
            ),
        )
        .await;
        assert_eq!(r.status, 201);
        let s = status(&r);
        assert_code(&s, 2009, M2009);
        assert!(detail(&s).contains("MEMBERSHIP_RELINKING_CANCELLED"), "{s}");
    }
    let r = update(
        &f.org,
        json!({
            "customersPartnerUpdates": [{
                "customer": {"mobile": "919710000009"}, "partnerProgramUpdates": [{"partnerProgramName": "SkyMiles"}]
            }]
        }),
    )
    .await;
    assert_code(&status(&r), 2009, M2009);
    // updateType is checked before the program exists: nothing about the program is looked at.
    let r = update(&f.org, update_body(json!({"mobile": "919710000009"}), "NoSuchProgram", "PROMOTE", None)).await;
    assert_code(&status(&r), 2009, M2009);
    assert_eq!(activity_types(&stored(&app.state, f.org.org_id, id, "HIST#").await), vec!["ENROLLMENT"]);
}

#[tokio::test]
async fn cancelling_a_pending_relink_removes_it_and_records_membership_relinking_cancelled() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let id = f.enrolled("919710000010").await;
    let who = json!({"mobile": "919710000010"});
    assert_eq!(
        f.org.link(link_body(who.clone(), "FlexiPass", json!({"partnerMembershipId": "FP-1"}))).await.status,
        200
    );
    // Nothing pending yet.
    let cancel = update_body(who.clone(), "FlexiPass", "MEMBERSHIP_RELINKING_CANCELLED", None);
    let r = update(&f.org, cancel.clone()).await;
    let s = status(&r);
    assert_code(&s, 2001, M2001);
    assert!(detail(&s).contains("no pending relink"), "{s}");

    let r = f
        .org
        .link(link_body(
            who.clone(),
            "FlexiPass",
            json!({"partnerMembershipId": "FP-2", "membershipStartDate": future_date(20)}),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let read = f.org.linked_programs("mobile", "919710000010").await;
    assert!(read.body["linkedPartnerPrograms"][0]["pendingRelink"].is_object(), "{}", read.text);

    let r = update(&f.org, cancel.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let read = f.org.linked_programs("mobile", "919710000010").await;
    let p = &read.body["linkedPartnerPrograms"][0];
    assert!(p["pendingRelink"].is_null(), "{p}");
    assert_eq!(p["linked"], true);
    assert_eq!(p["partnerMembershipId"], "FP-1");
    assert_eq!(p["partnerProgramMembershipLastUpdatedActivity"], "MEMBERSHIP_RELINKING_CANCELLED");
    let history = stored(&app.state, f.org.org_id, id, "HIST#").await;
    assert_eq!(
        activity_types(&history),
        vec!["SUPPLEMENTARY_MEMBERSHIP_STARTED", "MEMBERSHIP_RELINKING_SCHEDULED", "MEMBERSHIP_RELINKING_CANCELLED"]
    );
    // The linkage leaves the due index at the relink's start: only the membership end is due now.
    let linkage = &stored(&app.state, f.org.org_id, id, "LINK#").await[0];
    let end = chrono::DateTime::parse_from_rfc3339(p["partnerProgramMembershipEndDate"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert!(linkage["DUE_SK"].as_s().unwrap().starts_with(&shared::domain::dates::key_time(end)[..19]), "{linkage:?}");
    // The membership id the relink had claimed is free for another customer.
    f.enrolled("919710000011").await;
    let r = f
        .org
        .link(link_body(json!({"mobile": "919710000011"}), "FlexiPass", json!({"partnerMembershipId": "FP-2"})))
        .await;
    assert_eq!(status_of_link(&r)["code"], 200, "{}", r.text);
    // Cancelling twice: nothing pending any more.
    let s = status(&update(&f.org, cancel).await);
    assert_code(&s, 2001, M2001);
}

fn status_of_link(r: &Resp) -> Value {
    first_status(r, "linkCustomers", "linkToPartnerPrograms", "partnerLinkStatus")
}

#[tokio::test]
async fn upgrade_or_renew_of_an_expired_tier_makes_the_linkage_active_again() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    linked_gold(&f, "919710000012", 2).await;
    linked_gold(&f, "919710000013", 2).await;
    // Three days later (no sweep has run): the tiers read as expired.
    let later = TestApp::start_with_clock(clock_ahead(3)).await;
    let org = same_org_on(&f.org, &later);
    let read = org.linked_programs("mobile", "919710000012").await;
    assert_eq!(read.body["linkedPartnerPrograms"][0]["status"], "TIER_EXPIRED", "{}", read.text);
    // Without a new expiry the tier would still be expired.
    let r = update(
        &org,
        update_body(
            json!({"mobile": "919710000012"}),
            "SkyMiles",
            "UPGRADE",
            Some(json!({"updatedTierName": "Platinum"})),
        ),
    )
    .await;
    let s = status(&r);
    assert_code(&s, 2003, M2003);
    assert!(detail(&s).contains("updatedTierExpiryDate"), "{s}");

    let r = update(
        &org,
        update_body(
            json!({"mobile": "919710000012"}),
            "SkyMiles",
            "UPGRADE",
            Some(json!({"updatedTierName": "Platinum", "updatedTierExpiryDate": future_date(60)})),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = update(
        &org,
        update_body(
            json!({"mobile": "919710000013"}),
            "SkyMiles",
            "RENEW",
            Some(json!({"updatedTierExpiryDate": future_date(60)})),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for mobile in ["919710000012", "919710000013"] {
        let read = org.linked_programs("mobile", mobile).await;
        assert_eq!(read.body["linkedPartnerPrograms"][0]["status"], "ACTIVE", "{}", read.text);
    }
}

#[tokio::test]
async fn update_of_a_non_tier_based_program_reports_2001_with_detail() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919710000014").await;
    assert_eq!(f.org.link(link_body(json!({"mobile": "919710000014"}), "FlexiPass", json!({}))).await.status, 200);
    let r = update(
        &f.org,
        update_body(json!({"mobile": "919710000014"}), "FlexiPass", "UPDATE", Some(json!({"updatedTierName": "Gold"}))),
    )
    .await;
    let s = status(&r);
    assert_code(&s, 2001, M2001);
    assert!(detail(&s).contains("not tier based"), "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_concurrent_updates_each_success_has_one_activity_and_one_event() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let id = linked_gold(&f, "919710000015", 30).await;
    let tiers = ["Silver", "Gold", "Platinum"];
    let bodies: Vec<Value> = (0..40)
        .map(|i| {
            let who = json!({"mobile": "919710000015"});
            if i % 4 == 3 {
                update_body(who, "SkyMiles", "RENEW", Some(json!({"updatedTierExpiryDate": future_date(100 + i)})))
            } else {
                update_body(
                    who,
                    "SkyMiles",
                    "UPDATE",
                    Some(json!({
                        "updatedTierName": tiers[(i % 3) as usize], "updatedTierExpiryDate": future_date(40 + i)
                    })),
                )
            }
        })
        .collect();
    let responses = futures::future::join_all(bodies.into_iter().map(|b| update(&f.org, b))).await;
    let mut successes = 0u64;
    for r in &responses {
        let s = status(r);
        if s["code"] == 200 {
            assert_eq!(r.status, 200);
            successes += 1;
        } else {
            assert_eq!(r.status, 201, "{}", r.text);
            assert_code(&s, 2010, M2010);
        }
    }
    assert!(successes >= 1);
    eprintln!("40 concurrent updates: {successes} succeeded, {} got 2010", 40 - successes);

    let linkage = &stored(&app.state, f.org.org_id, id, "LINK#").await[0];
    assert_eq!(n(linkage, "version"), 1 + successes, "final version = 1 + successes");
    let history = stored(&app.state, f.org.org_id, id, "HIST#").await;
    let kinds = activity_types(&history);
    assert_eq!(kinds.iter().filter(|k| *k == "ENROLLMENT").count(), 1);
    assert_eq!(kinds.len() as u64, 1 + successes, "one activity per success, none for a 2010: {kinds:?}");
    let events = payloads(&app, f.org.org_id, "partnerProgramUpdated").await;
    assert_eq!(events.len() as u64, successes, "one event per success");
    let versions: BTreeSet<u64> =
        events.iter().map(|p| p["data"]["customerPartnerProgramDetails"]["version"].as_u64().unwrap()).collect();
    assert_eq!(versions, (2..=1 + successes).collect::<BTreeSet<_>>(), "each success is its own version");
    // The last event describes the stored state, and each event matches an activity.
    let last = &events[events.len() - 1]["data"]["customerPartnerProgramDetails"];
    assert_eq!(last["partnerTierName"].as_str(), linkage["tierName"].as_s().ok().map(String::as_str));
    let activity_states: BTreeSet<(String, String)> = history
        .iter()
        .filter(|i| i["activityType"].as_s().unwrap() != "ENROLLMENT")
        .map(|i| (i["tierName"].as_s().unwrap().clone(), i["tierExpiryDate"].as_s().unwrap().clone()))
        .collect();
    // Matched on the instant: the event's `partnerTierExpiryDate` is the org's day (Asia/Kolkata),
    // which is the next UTC day for an evening (UTC) expiry, so comparing dates fails at such hours.
    for e in &events {
        let d = &e["data"]["customerPartnerProgramDetails"];
        let tier = d["partnerTierName"].as_str().unwrap().to_string();
        let expiry_ms = d["partnerTierExpiryDateInMillis"].as_i64().unwrap();
        assert!(
            activity_states.iter().any(|(t, x)| {
                *t == tier && chrono::DateTime::parse_from_rfc3339(x).unwrap().timestamp_millis() == expiry_ms
            }),
            "event {d} has no matching activity in {activity_states:?}"
        );
    }
}

#[tokio::test]
async fn update_event_carries_the_documented_capillary_fields() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let id = linked_gold(&f, "919710000016", 30).await;
    let expiry = future_date(90);
    let r = update(
        &f.org,
        update_body(
            json!({"externalId": "X-919710000016"}),
            "SkyMiles",
            "UPGRADE",
            Some(json!({"updatedTierName": "Platinum", "updatedTierExpiryDate": expiry})),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let items: Vec<Item> = events_of(&app, f.org.org_id)
        .await
        .into_iter()
        .filter(|i| i["eventName"].as_s().unwrap() == "partnerProgramUpdated")
        .collect();
    assert_eq!(items.len(), 1);
    let item = &items[0];
    let linkage = &stored(&app.state, f.org.org_id, id, "LINK#").await[0];
    let program_id = n(linkage, "partnerProgramId");
    let p: Value = serde_json::from_str(item["payload"].as_s().unwrap()).unwrap();
    let event_id = p["eventId"].as_str().unwrap();
    assert_eq!(item["PK"].as_s().unwrap(), &format!("ORG#{}#EVT#{event_id}", f.org.org_id));
    assert_eq!(item["entity"].as_s().unwrap(), "EVENT");
    assert!(n(item, "ttl") > chrono::Utc::now().timestamp() as u64);
    assert_eq!(p["eventName"], "partnerProgramUpdated");
    assert!(uuid::Uuid::parse_str(event_id).is_ok(), "{event_id}");
    assert_eq!(p["orgId"], f.org.org_id);
    assert_eq!(p["refId"], id.to_string());
    // Capillary's event shape: createdAt in epoch milliseconds, the search key, the entity.
    let created = p["createdAt"].as_i64().unwrap();
    assert!((created - chrono::Utc::now().timestamp_millis()).abs() < 60_000, "{created}");
    assert_eq!(p["eventSearchKey"], "data.customerIdentifiers.customerId");
    let d = &p["data"];
    assert_eq!(
        d["customerIdentifiers"],
        json!({
            "customerId": id,
            "instore": {"mobile": "919710000016", "email": "919710000016@example.com", "externalId": "X-919710000016"}
        })
    );
    assert_eq!(d["entityInformation"], json!({"entityType": "USER", "entityId": id}));
    assert_eq!(d["partnerProgramId"], program_id);
    assert_eq!(d["partnerProgramName"], "SkyMiles");
    assert_eq!(d["partnerProgramType"], "EXTERNAL");
    assert_eq!(d["updateType"], "UPGRADE");
    let c = &d["customerPartnerProgramDetails"];
    assert_eq!(c["partnerTierName"], "Platinum");
    assert_eq!(c["partnerTierNumber"], 3);
    // The documented date (the day in the org's zone) with the exact instant in milliseconds.
    let exact = chrono::DateTime::parse_from_rfc3339(&utc(&expiry)).unwrap();
    assert_eq!(c["partnerTierExpiryDateInMillis"], exact.timestamp_millis());
    assert_eq!(
        c["partnerTierExpiryDate"],
        exact.with_timezone(&shared::domain::zone::Zone::named("Asia/Kolkata").unwrap()).format("%Y-%m-%d").to_string()
    );
    assert_eq!(c["linked"], true);
    assert_eq!(c["status"], "ACTIVE");
    assert_eq!(c["version"], 2);
    assert!(c["membershipStartDate"].is_string(), "{c}");
}
