//! linkCustomer and deLinkCustomer: every rule of docs/contract.md#error-catalog for links and delinks through the API.

use crate::support::*;
use serde_json::{json, Value};

fn status(r: &Resp) -> Value {
    first_status(r, "linkCustomers", "linkToPartnerPrograms", "partnerLinkStatus")
}

fn delink_status(r: &Resp) -> Value {
    first_status(r, "deLinkCustomers", "deLinkFromPartnerPrograms", "partnerDeLinkStatus")
}

fn assert_code(s: &Value, code: u64, message: &str) {
    assert_eq!(s["status"], false, "{s}");
    assert_eq!(s["code"], code, "{s}");
    assert_eq!(s["message"], message, "{s}");
}

fn gold(days: i64) -> Value {
    json!({
        "partnerMembershipId": format!("SM-{}", uuid::Uuid::new_v4().simple()), "partnerTierName": "Gold",
        "partnerTierExpiryDate": future_date(days)
    })
}

#[tokio::test]
async fn link_succeeds_with_200_and_reads_back() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919700000001").await;
    let r = f
        .org
        .link(link_body(
            json!({"mobile": "919700000001"}),
            "SkyMiles",
            json!({
                "partnerMembershipId": "SM-1", "partnerTierName": "gold",
                "partnerTierExpiryDate": "2031-12-29T23:59:59+05:30"
            }),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(status(&r), json!({"status": true, "code": 200, "message": "Success"}));
    assert_eq!(
        r.body["linkCustomers"][0]["customer"]["status"],
        json!({"status": true, "code": 1000, "message": "Customer successfully retrieved"})
    );
    assert_eq!(r.body["warnings"], json!([]));
    let read = f.org.linked_programs("mobile", "919700000001").await;
    let p = &read.body["linkedPartnerPrograms"][0];
    assert_eq!(p["partnerProgramName"], "SkyMiles");
    assert_eq!(p["partnerTierName"], "Gold");
    assert_eq!(p["partnerTierNumber"], 2);
    assert_eq!(p["partnerTierExpiryDate"], "2031-12-29T18:29:59Z");
    assert_eq!(p["partnerMembershipId"], "SM-1");
    assert_eq!(p["status"], "ACTIVE");
    assert_eq!(p["linked"], true);
}

#[tokio::test]
async fn empty_program_name_reports_2002() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919700000002").await;
    for name in ["", "  "] {
        let r = f.org.link(link_body(json!({"mobile": "919700000002"}), name, gold(30))).await;
        assert_eq!(r.status, 201);
        assert_code(
            &status(&r),
            2002,
            "Cannot proceed if updateDetails, updatedTierName, or partnerProgramName is empty or null.",
        );
    }
    let r = f
        .org
        .link(json!({"linkCustomers": [{"customer": {"mobile": "919700000002"}, "linkToPartnerPrograms": [{}]}]}))
        .await;
    assert_code(
        &status(&r),
        2002,
        "Cannot proceed if updateDetails, updatedTierName, or partnerProgramName is empty or null.",
    );
    let r = f
        .org
        .delink(json!({
            "deLinkCustomers": [{
                "customer": {"mobile": "919700000002"}, "deLinkFromPartnerPrograms": [{"partnerProgramName": ""}]
            }]
        }))
        .await;
    assert_code(
        &delink_status(&r),
        2002,
        "Cannot proceed if updateDetails, updatedTierName, or partnerProgramName is empty or null.",
    );
}

#[tokio::test]
async fn past_tier_expiry_reports_2003_and_bare_dates_use_org_zone() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919700000003").await;
    let r = f
        .org
        .link(link_body(
            json!({"mobile": "919700000003"}),
            "SkyMiles",
            json!({"partnerTierName": "Gold", "partnerTierExpiryDate": "2020-01-01T00:00:00+05:30"}),
        ))
        .await;
    assert_code(&status(&r), 2003, "Partner tier expiry date should not be a past date.");
    let r = f
        .org
        .link(link_body(
            json!({"mobile": "919700000003"}),
            "SkyMiles",
            json!({"partnerTierName": "Gold", "partnerTierExpiryDate": "2020-01-01"}),
        ))
        .await;
    assert_code(&status(&r), 2003, "Partner tier expiry date should not be a past date.");
    let r = f
        .org
        .link(link_body(
            json!({"mobile": "919700000003"}),
            "SkyMiles",
            json!({"partnerTierName": "Gold", "partnerTierExpiryDate": "31/12/2031"}),
        ))
        .await;
    let s = status(&r);
    assert_eq!(s["code"], 2001);
    assert!(s["detail"].as_str().unwrap().contains("partnerTierExpiryDate"), "{s}");
    let r = f
        .org
        .link(link_body(
            json!({"mobile": "919700000003"}),
            "SkyMiles",
            json!({"partnerTierName": "Gold", "partnerTierExpiryDate": "2031-06-30"}),
        ))
        .await;
    assert_eq!(status(&r)["code"], 200);
    let read = f.org.linked_programs("mobile", "919700000003").await;
    // End of 30 June in Asia/Kolkata is 18:29:59 UTC.
    assert_eq!(read.body["linkedPartnerPrograms"][0]["partnerTierExpiryDate"], "2031-06-30T18:29:59Z");
}

#[tokio::test]
async fn delink_of_unlinked_customer_reports_2004() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919700000004").await;
    let r = f.org.delink(json!({
        "deLinkCustomers": [{
            "customer": {"mobile": "919700000004"}, "deLinkFromPartnerPrograms": [{"partnerProgramName": "SkyMiles"}]
        }]
    })).await;
    assert_eq!(r.status, 201);
    assert_code(&delink_status(&r), 2004, "Link the customer with the partner program.");
    let r = f
        .org
        .delink(json!({
            "deLinkCustomers": [{
                "customer": {"mobile": "919700000004"}, "deLinkFromPartnerPrograms": [{"partnerProgramName": "NoSuch"}]
            }]
        }))
        .await;
    assert_code(&delink_status(&r), 2006, "Cannot find the partner program.");
}

#[tokio::test]
async fn link_twice_reports_2005_already_linked() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919700000005").await;
    let body = link_body(
        json!({"mobile": "919700000005"}),
        "SkyMiles",
        json!({"partnerTierName": "Gold", "partnerTierExpiryDate": future_date(90)}),
    );
    assert_eq!(f.org.link(body.clone()).await.status, 200);
    let r = f.org.link(body).await;
    assert_eq!(r.status, 201);
    let s = status(&r);
    assert_code(&s, 2005, "Customer is already linked with the partner program.");
    assert!(s["detail"].as_str().unwrap().contains("already linked"), "{s}");
}

#[tokio::test]
async fn link_without_enrolment_reports_2005_enroll() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919700000006").await;
    let r = f.org.link(link_body(json!({"mobile": "919700000006"}), "OtherMiles", json!({}))).await;
    let s = status(&r);
    assert_code(&s, 2005, "Enroll the customer in the Loyalty Program.");
    assert!(s["detail"].as_str().unwrap().contains("not enrolled"), "{s}");
}

#[tokio::test]
async fn unknown_program_reports_2006() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919700000007").await;
    let r = f.org.link(link_body(json!({"mobile": "919700000007"}), "NoSuchProgram", json!({}))).await;
    assert_code(&status(&r), 2006, "Cannot find the partner program.");
}

#[tokio::test]
async fn missing_or_unknown_tier_reports_2007() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919700000008").await;
    for reference in [json!({}), json!({"partnerTierName": "Diamond"}), json!({"partnerTierName": ""})] {
        let r = f.org.link(link_body(json!({"mobile": "919700000008"}), "SkyMiles", reference)).await;
        assert_code(&status(&r), 2007, "Cannot find the partner program tier.");
    }
}

#[tokio::test]
async fn batch_of_51_customers_reports_2008_and_writes_nothing() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let id = f.enrolled("919700000009").await;
    let items: Vec<Value> = (0..51)
        .map(|_| {
            json!({
                "customer": {"mobile": "919700000009"}, "linkToPartnerPrograms": [{"partnerProgramName": "FlexiPass"}]
            })
        })
        .collect();
    let r = f.org.link(json!({"linkCustomers": items})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["errors"][0]["code"], 2008);
    assert_eq!(r.body["errors"][0]["message"], "Cannot process if partner program limit is more than 50.");
    assert_eq!(r.body["errors"][0]["status"], false);
    assert!(stored(&app.state, f.org.org_id, id, "LINK#").await.is_empty());
    assert!(stored(&app.state, f.org.org_id, id, "HIST#").await.is_empty());
}

#[tokio::test]
async fn expired_program_and_taken_membership_id_report_2001_with_detail() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919700000010").await;
    f.enrolled("919700000011").await;
    let mut cfg = skymiles(f.rewards);
    cfg["expiryDate"] = json!("2020-01-01");
    f.org.partner_program("OldMiles", cfg).await;
    let r =
        f.org.link(link_body(json!({"mobile": "919700000010"}), "OldMiles", json!({"partnerTierName": "Gold"}))).await;
    let s = status(&r);
    assert_code(&s, 2001, "Cannot process the partner program event.");
    assert!(s["detail"].as_str().unwrap().contains("expired"), "{s}");

    let reference = json!({"partnerMembershipId": "SM-SHARED", "partnerTierName": "Gold"});
    assert_eq!(
        f.org.link(link_body(json!({"mobile": "919700000010"}), "SkyMiles", reference.clone())).await.status,
        200
    );
    let r = f.org.link(link_body(json!({"mobile": "919700000011"}), "SkyMiles", reference.clone())).await;
    let s = status(&r);
    assert_code(&s, 2001, "Cannot process the partner program event.");
    assert!(s["detail"].as_str().unwrap().contains("partnerMembershipId"), "{s}");
    // Delinking frees the membership id for another customer.
    f.org.delink(json!({
        "deLinkCustomers": [{
            "customer": {"mobile": "919700000010"}, "deLinkFromPartnerPrograms": [{"partnerProgramName": "SkyMiles"}]
        }]
    })).await;
    let r = f.org.link(link_body(json!({"mobile": "919700000011"}), "SkyMiles", reference)).await;
    assert_eq!(status(&r)["code"], 200, "{}", r.text);
}

#[tokio::test]
async fn link_delink_link_again_leaves_three_activity_records() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let id = f.enrolled("919700000012").await;
    let link = link_body(json!({"mobile": "919700000012"}), "SkyMiles", gold(60));
    let delink = json!({
        "deLinkCustomers": [{
            "customer": {"mobile": "919700000012"}, "deLinkFromPartnerPrograms": [{"partnerProgramName": "SkyMiles"}]
        }]
    });
    assert_eq!(f.org.link(link.clone()).await.status, 200);
    let r = f.org.delink(delink).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(delink_status(&r)["code"], 200);
    let read = f.org.linked_programs("mobile", "919700000012").await;
    assert_eq!(read.body["linkedPartnerPrograms"], json!([]));
    let r = f.org.link(link).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let history = stored(&app.state, f.org.org_id, id, "HIST#").await;
    let kinds: Vec<String> = history.iter().map(|i| i["activityType"].as_s().unwrap().clone()).collect();
    assert_eq!(kinds, vec!["ENROLLMENT", "DELINK", "ENROLLMENT"]);
    let linkage = &stored(&app.state, f.org.org_id, id, "LINK#").await[0];
    assert_eq!(linkage["version"].as_n().unwrap(), "3");
    assert_eq!(linkage["linked"].as_bool().unwrap(), &true);
    // One outbox event per change, in the same transactions.
    let events = crate::update_partner_program::events_of(&app, f.org.org_id).await;
    let mut names: Vec<String> = events.iter().map(|i| i["eventName"].as_s().unwrap().clone()).collect();
    names.sort();
    assert_eq!(names, vec!["partnerProgramDelinked", "partnerProgramLinked", "partnerProgramLinked"]);
}

#[tokio::test]
async fn supplementary_link_ends_after_its_period() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919700000013").await;
    let r = f
        .org
        .link(link_body(
            json!({"mobile": "919700000013"}),
            "FlexiPass",
            json!({"membershipStartDate": "2026-12-01T00:00:00+05:30"}),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let read = f.org.linked_programs("mobile", "919700000013").await;
    let p = &read.body["linkedPartnerPrograms"][0];
    assert_eq!(p["partnerProgramMembershipStartDate"], "2026-11-30T18:30:00Z");
    assert_eq!(p["partnerProgramMembershipEndDate"], "2026-12-30T18:30:00Z");
    assert_eq!(p["partnerProgramType"], "SUPPLEMENTARY");
}

#[tokio::test]
async fn future_start_on_linked_supplementary_schedules_a_pending_relink() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let id = f.enrolled("919700000014").await;
    assert_eq!(f.org.link(link_body(json!({"mobile": "919700000014"}), "FlexiPass", json!({}))).await.status, 200);
    // Same request without a future start: already linked.
    let r = f.org.link(link_body(json!({"mobile": "919700000014"}), "FlexiPass", json!({}))).await;
    assert_eq!(status(&r)["code"], 2005);
    let start = future_date(20);
    let r = f
        .org
        .link(link_body(json!({"mobile": "919700000014"}), "FlexiPass", json!({"membershipStartDate": start})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // A newer one replaces it.
    let later = future_date(25);
    let r = f
        .org
        .link(link_body(json!({"mobile": "919700000014"}), "FlexiPass", json!({"membershipStartDate": later})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let read = f.org.linked_programs("mobile", "919700000014").await;
    let pending = &read.body["linkedPartnerPrograms"][0]["pendingRelink"];
    let expected_start = chrono::DateTime::parse_from_rfc3339(&later).unwrap().with_timezone(&chrono::Utc);
    assert_eq!(pending["partnerProgramMembershipStartDate"], shared::domain::dates::format_utc(expected_start));
    assert_eq!(
        pending["partnerProgramMembershipEndDate"],
        shared::domain::dates::format_utc(expected_start + chrono::Duration::days(30))
    );
    let kinds: Vec<String> = stored(&app.state, f.org.org_id, id, "HIST#")
        .await
        .iter()
        .map(|i| i["activityType"].as_s().unwrap().clone())
        .collect();
    assert_eq!(
        kinds,
        vec!["SUPPLEMENTARY_MEMBERSHIP_STARTED", "MEMBERSHIP_RELINKING_SCHEDULED", "MEMBERSHIP_RELINKING_SCHEDULED"]
    );
    // The linkage is in the due index at the pending start (before the current membership ends).
    let linkage = &stored(&app.state, f.org.org_id, id, "LINK#").await[0];
    assert!(
        linkage["DUE_SK"].as_s().unwrap().starts_with(&shared::domain::dates::key_time(expected_start)),
        "{linkage:?}"
    );
}

#[tokio::test]
async fn batch_of_50_with_mixed_outcomes_reports_each_item_in_order() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(f.enrolled(&format!("91980000{i:04}")).await);
    }
    // Customers 0..40 exist; every 5th asks for an unknown tier; every 7th is linked already.
    for i in (0..40).step_by(7) {
        let r = f.org.link(link_body(json!({"mobile": format!("91980000{i:04}")}), "SkyMiles", gold(30))).await;
        assert_eq!(r.status, 200);
    }
    let items: Vec<Value> = (0..50)
        .map(|i| {
            let tier = if i % 5 == 0 { "Diamond" } else { "Gold" };
            json!({
                "customer": {"mobile": format!("91980000{i:04}")},
                "linkToPartnerPrograms": [{
                    "partnerProgramName": "SkyMiles",
                    "customerPartnerReference": {"partnerTierName": tier, "partnerTierExpiryDate": future_date(30)}
                }]
            })
        })
        .collect();
    let r = f.org.link(json!({"linkCustomers": items})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let results = r.body["linkCustomers"].as_array().unwrap();
    assert_eq!(results.len(), 50);
    for (i, item) in results.iter().enumerate() {
        assert_eq!(item["customer"]["mobile"], format!("91980000{i:04}"), "order kept");
        let expected = if i >= 40 {
            None
        } else if i % 5 == 0 {
            Some(2007)
        } else if i % 7 == 0 {
            Some(2005)
        } else {
            Some(200)
        };
        match expected {
            None => {
                assert_eq!(item["customer"]["status"]["code"], 8015);
                assert_eq!(item["linkToPartnerPrograms"][0]["partnerLinkStatus"]["code"], 8015);
            }
            Some(code) => {
                assert_eq!(item["linkToPartnerPrograms"][0]["partnerLinkStatus"]["code"], code, "item {i}: {item}");
                let linkages = stored(&app.state, f.org.org_id, ids[i], "LINK#").await;
                let history = stored(&app.state, f.org.org_id, ids[i], "HIST#").await;
                let linked_before = i % 7 == 0;
                let linked_now = code == 200 || linked_before;
                assert_eq!(linkages.len(), usize::from(linked_now), "item {i}");
                assert_eq!(history.len(), usize::from(linked_before) + usize::from(code == 200), "item {i}");
            }
        }
    }
}

#[tokio::test]
async fn a_replaced_pending_relink_frees_its_membership_id() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919700000015").await;
    f.enrolled("919700000016").await;
    assert_eq!(f.org.link(link_body(json!({"mobile": "919700000015"}), "FlexiPass", json!({}))).await.status, 200);
    let relink = |mid: &str, days| {
        link_body(
            json!({"mobile": "919700000015"}),
            "FlexiPass",
            json!({"partnerMembershipId": mid, "membershipStartDate": future_date(days)}),
        )
    };
    assert_eq!(f.org.link(relink("FP-A", 10)).await.status, 200);
    // While FP-A is claimed by the pending relink, nobody else may use it.
    let r = f
        .org
        .link(link_body(json!({"mobile": "919700000016"}), "FlexiPass", json!({"partnerMembershipId": "FP-A"})))
        .await;
    assert_eq!(status(&r)["code"], 2001, "{}", r.text);
    assert_eq!(f.org.link(relink("FP-B", 12)).await.status, 200);
    let r = f
        .org
        .link(link_body(json!({"mobile": "919700000016"}), "FlexiPass", json!({"partnerMembershipId": "FP-A"})))
        .await;
    assert_eq!(status(&r)["code"], 200, "{}", r.text);
}

#[tokio::test]
async fn members_of_an_expired_program_read_as_expired_before_the_sweep_and_get_no_benefits() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919700000017").await;
    let mut cfg = skymiles(f.rewards);
    cfg["expiryDate"] = json!(future_date(2));
    f.org.partner_program("ShortMiles", cfg).await;
    let r = f
        .org
        .link(link_body(
            json!({"mobile": "919700000017"}),
            "ShortMiles",
            json!({"partnerTierName": "Gold", "partnerTierExpiryDate": future_date(30)}),
        ))
        .await;
    assert_eq!(status(&r)["code"], 200, "{}", r.text);
    let read = f.org.linked_programs("mobile", "919700000017").await;
    assert_eq!(read.body["linkedPartnerPrograms"][0]["status"], "ACTIVE");
    // Three days on (a server whose clock runs ahead), no sweep has run.
    let later = TestApp::start_with_clock(std::sync::Arc::new(|| chrono::Utc::now() + chrono::Duration::days(3))).await;
    let org =
        TestOrg { org_id: f.org.org_id, admin: f.org.admin.clone(), api: f.org.api.clone(), base: later.base.clone() };
    let read = org.linked_programs("mobile", "919700000017").await;
    assert_eq!(read.body["linkedPartnerPrograms"][0]["status"], "EXPIRED", "{}", read.text);
    let r = org
        .post(
            &org.api,
            "/v2/partnerProgram/customerBenefits",
            json!({
                "customerBenefits": [{
                    "customer": {"mobile": "919700000017"},
                    "partnerProgramBenefits": [{
                        "partnerProgramName": "ShortMiles", "benefits": [{"name": "LoungeAccess", "count": 1}]
                    }]
                }]
            }),
        )
        .await;
    let s = &r.body["customerBenefits"][0]["partnerProgramBenefits"][0]["benefitStatus"];
    assert_eq!(s["code"], 2001, "{}", r.text);
    assert!(s["detail"].as_str().unwrap().contains("expired"), "{s}");
}
