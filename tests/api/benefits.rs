//! customerBenefits: every rule of docs/contract.md#error-catalog for benefits through the API, the cycle quota under
//! concurrent requests, and the benefits event.

use crate::support::*;
use crate::update_partner_program::{
    activity_types, assert_code, clock_ahead, detail, events_of, linked_gold, n, payloads, same_org_on, update_body,
    M2001, M2004, M2010,
};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};

const M2016: &str = "Incorrect benefit name.";
const M2017: &str = "Benefits count should be more than 0.";
const M2018: &str = "Cannot add benefits to supplementary membership.";

fn benefits_body(customer: Value, program: &str, benefits: Value) -> Value {
    json!({
        "customerBenefits": [{
            "customer": customer, "partnerProgramBenefits": [{"partnerProgramName": program, "benefits": benefits}]
        }]
    })
}

fn lounge(mobile: &str, count: i64) -> Value {
    benefits_body(json!({"mobile": mobile}), "SkyMiles", json!([{"name": "LoungeAccess", "count": count}]))
}

async fn avail(org: &TestOrg, body: Value) -> Resp {
    org.post(&org.api, "/v2/partnerProgram/customerBenefits", body).await
}

fn status(r: &Resp) -> Value {
    first_status(r, "customerBenefits", "partnerProgramBenefits", "benefitStatus")
}

/// `benefitCounters.{name}.count_in_cycle` of the stored linkage.
fn counter(linkage: &crate::update_partner_program::Item, name: &str) -> u64 {
    linkage
        .get("benefitCounters")
        .and_then(|c| c.as_m().ok())
        .and_then(|m| m.get(name))
        .map_or(0, |c| c.as_m().unwrap()["countInCycle"].as_n().unwrap().parse().unwrap())
}

/// A stored attribute as JSON (numbers as integers), to compare nested records.
fn to_json(av: &AttributeValue) -> Value {
    match av {
        AttributeValue::S(s) => json!(s),
        AttributeValue::N(n) => json!(n.parse::<i64>().unwrap()),
        AttributeValue::Bool(b) => json!(b),
        AttributeValue::L(l) => Value::Array(l.iter().map(to_json).collect()),
        AttributeValue::M(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
        _ => Value::Null,
    }
}

#[tokio::test]
async fn availed_benefits_update_counters_and_write_one_benefitsavailed_record() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let id = linked_gold(&f, "919720000001", 30).await;
    let body = json!({
        "customerBenefits": [{
            "customer": {"mobile": "919720000001"},
            "partnerProgramBenefits": [{
                "partnerProgramName": "SkyMiles",
                "benefits": [
                    {"name": "LoungeAccess", "count": 2}, {"name": "priorityboarding", "count": "1"},
                    {"name": "LoungeAccess", "count": 1}
                ],
                "billNumber": 4711, "storeName": "T3 Lounge", "availedDate": "2026-01-15T10:00:00+05:30"
            }]
        }]
    });
    let r = avail(&f.org, body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(status(&r), json!({"status": true, "code": 200, "message": "Success"}));
    assert_eq!(r.body["customerBenefits"][0]["customer"]["status"]["code"], 1000);
    // Only what Capillary's examples echo comes back: the program's name and the item's status.
    assert_eq!(
        r.body["customerBenefits"][0]["partnerProgramBenefits"][0],
        json!({"partnerProgramName": "SkyMiles", "benefitStatus": {"status": true, "code": 200, "message": "Success"}})
    );
    assert_eq!(r.body["warnings"], json!([]));

    let linkage = &stored(&app.state, f.org.org_id, id, "LINK#").await[0];
    assert_eq!(counter(linkage, "LoungeAccess"), 3);
    assert_eq!(counter(linkage, "PriorityBoarding"), 1);
    assert_eq!(n(linkage, "version"), 2);
    assert_eq!(linkage["lastActivity"].as_s().unwrap(), "ENROLLMENT", "availing is not a linking update");

    let program_id = n(linkage, "partnerProgramId");
    let benefit_records = stored(&app.state, f.org.org_id, id, &format!("HIST#{program_id:010}#B#")).await;
    assert_eq!(activity_types(&benefit_records), vec!["BENEFITSAVAILED"]);
    assert!(
        benefit_records[0]["SK"].as_s().unwrap().contains("#B#2026-01-15T04:30:00.000Z#"),
        "{:?}",
        benefit_records[0]["SK"]
    );
    let details = to_json(&benefit_records[0]["benefitDetails"]);
    assert_eq!(
        details,
        json!({
            "benefits": [
                {"name": "LoungeAccess", "type": "LOUNGE", "count": 3},
                {"name": "PriorityBoarding", "type": "BOARDING", "count": 1}
            ],
            "billNumber": "4711", "storeName": "T3 Lounge", "availedDate": "2026-01-15T04:30:00Z"
        })
    );
    // Linking updates are untouched.
    assert_eq!(
        activity_types(&stored(&app.state, f.org.org_id, id, &format!("HIST#{program_id:010}#L#")).await),
        vec!["ENROLLMENT"]
    );
}

#[tokio::test]
async fn unknown_benefit_name_reports_2016() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let id = linked_gold(&f, "919720000002", 30).await;
    for benefits in [
        json!([{"name": "Spa", "count": 1}]),
        json!([{"name": "LoungeAccess", "count": 1}, {"name": "", "count": 1}]),
        json!([{"count": 1}]),
    ] {
        let r = avail(&f.org, benefits_body(json!({"mobile": "919720000002"}), "SkyMiles", benefits)).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let s = status(&r);
        assert_code(&s, 2016, M2016);
        assert!(detail(&s).contains("has no benefit named"), "{s}");
    }
    assert_eq!(counter(&stored(&app.state, f.org.org_id, id, "LINK#").await[0], "LoungeAccess"), 0);
}

#[tokio::test]
async fn non_positive_or_missing_count_reports_2017() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let id = linked_gold(&f, "919720000003", 30).await;
    for benefits in [
        json!([{"name": "LoungeAccess", "count": 0}]),
        json!([{"name": "LoungeAccess", "count": -2}]),
        json!([{"name": "LoungeAccess"}]),
        json!([{"name": "PriorityBoarding", "count": 1}, {"name": "LoungeAccess", "count": 1.5}]),
        json!([]),
    ] {
        let r = avail(&f.org, benefits_body(json!({"mobile": "919720000003"}), "SkyMiles", benefits.clone())).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_code(&status(&r), 2017, M2017);
    }
    let history = stored(&app.state, f.org.org_id, id, "HIST#").await;
    assert_eq!(activity_types(&history), vec!["ENROLLMENT"]);
}

#[tokio::test]
async fn benefits_on_a_supplementary_program_report_2018() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919720000004").await;
    assert_eq!(f.org.link(link_body(json!({"mobile": "919720000004"}), "FlexiPass", json!({}))).await.status, 200);
    let r = avail(
        &f.org,
        benefits_body(json!({"mobile": "919720000004"}), "FlexiPass", json!([{"name": "LoungeAccess", "count": 1}])),
    )
    .await;
    assert_eq!(r.status, 201);
    let s = status(&r);
    assert_code(&s, 2018, M2018);
    assert!(detail(&s).contains("SUPPLEMENTARY"), "{s}");
}

#[tokio::test]
async fn benefits_for_an_unlinked_customer_report_2004() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919720000005").await;
    let r = avail(&f.org, lounge("919720000005", 1)).await;
    assert_eq!(r.status, 201);
    assert_code(&status(&r), 2004, M2004);
    // Program-level checks come first: empty name 2002, unknown program 2006.
    let r = avail(
        &f.org,
        benefits_body(json!({"mobile": "919720000005"}), " ", json!([{"name": "LoungeAccess", "count": 1}])),
    )
    .await;
    assert_eq!(status(&r)["code"], 2002);
    let r = avail(
        &f.org,
        benefits_body(json!({"mobile": "919720000005"}), "NoSuch", json!([{"name": "LoungeAccess", "count": 1}])),
    )
    .await;
    assert_eq!(status(&r)["code"], 2006);
}

#[tokio::test]
async fn over_the_cycle_quota_reports_2001_with_detail_and_changes_nothing() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let id = linked_gold(&f, "919720000006", 30).await;
    assert_eq!(avail(&f.org, lounge("919720000006", 9)).await.status, 200);
    let r = avail(&f.org, lounge("919720000006", 2)).await;
    assert_eq!(r.status, 201);
    let s = status(&r);
    assert_code(&s, 2001, M2001);
    assert_eq!(detail(&s), "LoungeAccess allows 10 per cycle; 9 used, 2 more requested");
    // A benefit without a maximum is not limited; the quota's last unit is still available.
    let r = avail(
        &f.org,
        benefits_body(
            json!({"mobile": "919720000006"}),
            "SkyMiles",
            json!([{"name": "PriorityBoarding", "count": 500}, {"name": "LoungeAccess", "count": 1}]),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let linkage = &stored(&app.state, f.org.org_id, id, "LINK#").await[0];
    assert_eq!(counter(linkage, "LoungeAccess"), 10);
    assert_eq!(counter(linkage, "PriorityBoarding"), 500);
    assert_eq!(
        activity_types(&stored(&app.state, f.org.org_id, id, "HIST#").await)
            .iter()
            .filter(|k| *k == "BENEFITSAVAILED")
            .count(),
        2
    );
    // The quota is used up.
    let r = avail(&f.org, lounge("919720000006", 1)).await;
    assert_eq!(status(&r)["code"], 2001);
}

#[tokio::test]
async fn expired_tier_reports_2001_with_detail_but_grace_still_allows_benefits() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let mut graced = skymiles(f.rewards);
    graced["tierGracePeriodDays"] = json!(5);
    f.org.partner_program("GraceMiles", graced).await;
    linked_gold(&f, "919720000007", 2).await;
    let r = f
        .org
        .link(link_body(
            json!({"mobile": "919720000007"}),
            "GraceMiles",
            json!({"partnerTierName": "Gold", "partnerTierExpiryDate": future_date(2)}),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let later = TestApp::start_with_clock(clock_ahead(3)).await;
    let org = same_org_on(&f.org, &later);
    let r = avail(&org, lounge("919720000007", 1)).await;
    assert_eq!(r.status, 201);
    let s = status(&r);
    assert_code(&s, 2001, M2001);
    assert!(detail(&s).contains("expired"), "{s}");
    // GraceMiles' tier expired a day ago too, but it is within its 5-day grace.
    let r = avail(
        &org,
        benefits_body(json!({"mobile": "919720000007"}), "GraceMiles", json!([{"name": "LoungeAccess", "count": 1}])),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Renewing the expired tier makes benefits available again.
    let r = org
        .post(
            &org.api,
            "/v2/partnerProgram/customerPartnerProgramUpdate",
            update_body(
                json!({"mobile": "919720000007"}),
                "SkyMiles",
                "RENEW",
                Some(json!({"updatedTierExpiryDate": future_date(90)})),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(avail(&org, lounge("919720000007", 1)).await.status, 200);
}

#[tokio::test]
async fn renewal_starts_a_new_benefit_cycle() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let id = linked_gold(&f, "919720000008", 30).await;
    assert_eq!(avail(&f.org, lounge("919720000008", 10)).await.status, 200);
    assert_eq!(status(&avail(&f.org, lounge("919720000008", 1)).await)["code"], 2001);
    // An upgrade is not a new cycle.
    let r = f
        .org
        .post(
            &f.org.api,
            "/v2/partnerProgram/customerPartnerProgramUpdate",
            update_body(
                json!({"mobile": "919720000008"}),
                "SkyMiles",
                "UPGRADE",
                Some(json!({"updatedTierName": "Platinum"})),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(status(&avail(&f.org, lounge("919720000008", 1)).await)["code"], 2001);
    let r = f
        .org
        .post(
            &f.org.api,
            "/v2/partnerProgram/customerPartnerProgramUpdate",
            update_body(
                json!({"mobile": "919720000008"}),
                "SkyMiles",
                "RENEW",
                Some(json!({"updatedTierExpiryDate": future_date(400)})),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(counter(&stored(&app.state, f.org.org_id, id, "LINK#").await[0], "LoungeAccess"), 0);
    assert_eq!(avail(&f.org, lounge("919720000008", 10)).await.status, 200);
    assert_eq!(counter(&stored(&app.state, f.org.org_id, id, "LINK#").await[0], "LoungeAccess"), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_benefit_requests_against_a_quota_of_10_give_exactly_10_successes() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let id = linked_gold(&f, "919720000009", 30).await;
    // Each client retries a 2010 (docs/contract.md#concurrency: the client may retry it) until it gets an answer.
    let one = |i: usize| {
        let org = &f.org;
        async move {
            for _ in 0..50 {
                let r = avail(org, lounge("919720000009", 1)).await;
                let s = status(&r);
                if s["code"] != 2010 {
                    return s;
                }
                assert_code(&s, 2010, M2010);
            }
            panic!("request {i} got 2010 fifty times");
        }
    };
    let results = futures::future::join_all((0..20).map(one)).await;
    let ok = results.iter().filter(|s| s["code"] == 200).count();
    let over: Vec<&Value> = results.iter().filter(|s| s["code"] != 200).collect();
    assert_eq!(ok, 10, "{results:?}");
    for s in over {
        assert_code(s, 2001, M2001);
        assert!(detail(s).starts_with("LoungeAccess allows 10 per cycle; 10 used"), "{s}");
    }
    let linkage = &stored(&app.state, f.org.org_id, id, "LINK#").await[0];
    assert_eq!(counter(linkage, "LoungeAccess"), 10);
    assert_eq!(n(linkage, "version"), 11);
    let kinds = activity_types(&stored(&app.state, f.org.org_id, id, "HIST#").await);
    assert_eq!(kinds.iter().filter(|k| *k == "BENEFITSAVAILED").count(), 10);
    assert_eq!(payloads(&app, f.org.org_id, "partnerProgramBenefitsAvailed").await.len(), 10);
}

#[tokio::test]
async fn benefit_event_carries_the_documented_capillary_fields() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let id = linked_gold(&f, "919720000010", 30).await;
    let body = json!({
        "customerBenefits": [{
            "customer": {"email": "919720000010@example.com"},
            "partnerProgramBenefits": [{
                "partnerProgramName": "SkyMiles", "benefits": [{"name": "LoungeAccess", "count": 2}],
                "billNumber": "B-1", "storeName": "T1"
            }]
        }]
    });
    let r = avail(&f.org, body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let items: Vec<_> = events_of(&app, f.org.org_id)
        .await
        .into_iter()
        .filter(|i| i["eventName"].as_s().unwrap() == "partnerProgramBenefitsAvailed")
        .collect();
    assert_eq!(items.len(), 1);
    let item = &items[0];
    let linkage = &stored(&app.state, f.org.org_id, id, "LINK#").await[0];
    let p: Value = serde_json::from_str(item["payload"].as_s().unwrap()).unwrap();
    let event_id = p["eventId"].as_str().unwrap();
    assert_eq!(item["PK"].as_s().unwrap(), &format!("ORG#{}#EVT#{event_id}", f.org.org_id));
    assert_eq!(item["entity"].as_s().unwrap(), "EVENT");
    assert_eq!(item["eventId"].as_s().unwrap(), event_id);
    assert!(n(item, "ttl") > chrono::Utc::now().timestamp() as u64);
    assert_eq!(p["eventName"], "partnerProgramBenefitsAvailed");
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
            "instore": {"mobile": "919720000010", "email": "919720000010@example.com", "externalId": "X-919720000010"}
        })
    );
    assert_eq!(d["entityInformation"], json!({"entityType": "USER", "entityId": id}));
    assert_eq!(d["partnerProgramId"], n(linkage, "partnerProgramId"));
    assert_eq!(d["partnerProgramName"], "SkyMiles");
    assert_eq!(d["partnerProgramType"], "EXTERNAL");
    assert_eq!(d["updateType"], "BENEFITSAVAILED");
    let c = &d["customerPartnerProgramDetails"];
    assert_eq!(c["partnerTierName"], "Gold");
    assert_eq!(c["partnerTierNumber"], 2);
    assert_eq!(c["linked"], true);
    assert_eq!(c["status"], "ACTIVE");
    assert_eq!(c["version"], 2);
    let b = &d["benefitDetails"];
    assert_eq!(b["benefits"], json!([{"name": "LoungeAccess", "type": "LOUNGE", "count": 2}]));
    assert_eq!(b["billNumber"], "B-1");
    assert_eq!(b["storeName"], "T1");
    assert!(b["availedDate"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn bill_fields_are_kept_and_shown_in_the_history_one_entry_per_benefit_with_notes() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    linked_gold(&f, "919720000020", 30).await;
    let body = json!({"customerBenefits": [{"customer": {"mobile": "919720000020"}, "partnerProgramBenefits": [{
        "partnerProgramName": "SkyMiles",
        "benefits": [{"name": "LoungeAccess", "count": 2}, {"name": "PriorityBoarding", "count": 1}],
        "billNumber": "B-77", "billId": 9001, "tillId": "12", "tillName": "Till 12", "storeName": "T3",
        "billDate": "2026-01-15T09:30:00+05:30", "availedDate": "2026-01-15T10:00:00+05:30"}]}]});
    let r = avail(&f.org, body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = f
        .org
        .get(
            &f.org.api,
            "/v2/partnerProgram/customerActivityHistories?identifierName=mobile&identifierValue=919720000020&\
             activityType=BENEFITSAVAILED&startDate=2026-01-01&endDate=2026-06-30",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let entry = &r.body["data"][0];
    let history = entry["customerActivityHistory"].as_array().unwrap();
    assert_eq!(history.len(), 2, "one entry per benefit: {}", r.text);
    let bill = |name: &str, type_: &str, count: u64| {
        json!({"name": name, "type": type_, "count": count, "billDate": "2026-01-15T04:00:00Z", "billNumber": "B-77",
               "billId": 9001, "tillId": 12, "tillName": "Till 12", "storeName": "T3"})
    };
    assert_eq!(history[0]["benefitDetails"], bill("LoungeAccess", "LOUNGE", 2));
    assert_eq!(history[1]["benefitDetails"], bill("PriorityBoarding", "BOARDING", 1));
    assert_eq!(history[0]["activityDate"], "2026-01-15T04:30:00Z");
    assert_eq!(history[0]["activityId"], history[1]["activityId"], "both entries are one record");
    assert!(entry["notes"].as_str().unwrap().contains("2026-06-30"), "notes name the window: {}", r.text);

    // A bill id that is not a non-negative integer is the item's error, with a detail.
    let body = json!({"customerBenefits": [{"customer": {"mobile": "919720000020"}, "partnerProgramBenefits": [{
        "partnerProgramName": "SkyMiles", "benefits": [{"name": "LoungeAccess", "count": 1}], "billId": "B-1"}]}]});
    let r = avail(&f.org, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(status(&r)["code"], 2001);
    assert!(status(&r)["detail"].as_str().unwrap().contains("billId"), "{}", r.text);
}
