//! What a member-care view reads (docs/contract.md#member-care-reads): ended memberships beside
//! the current ones, the benefit cycle's start, a member found by partner membership id (ended
//! ones too), and the expiry preview of one member. Each test has a table of its own and moves
//! its clock, so the sweep it runs sees only its own work.

use crate::support::*;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use shared::domain::dates::format_utc;
use shared::sweep::{self, SweepOptions, SweepSettings};

async fn start(prefix: &str) -> (ClockedApp, Fixture) {
    let t = ClockedApp::start(prefix).await;
    let f = fixture(&t.app).await;
    (t, f)
}

fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

async fn link(f: &Fixture, mobile: &str, program: &str, reference: Value) {
    let r = f.org.link(link_body(json!({"mobile": mobile}), program, reference)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        first_status(&r, "linkCustomers", "linkToPartnerPrograms", "partnerLinkStatus")["code"],
        200,
        "{}",
        r.text
    );
}

async fn delink(f: &Fixture, mobile: &str, program: &str) {
    let body = json!({"deLinkCustomers": [{"customer": {"mobile": mobile},
        "deLinkFromPartnerPrograms": [{"partnerProgramName": program}]}]});
    let r = f.org.delink(body).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn run_sweep(t: &ClockedApp) {
    let summary = sweep::run(&t.app.state, &SweepSettings::default(), SweepOptions::default()).await;
    assert_eq!(summary.failed, 0, "{summary:?}");
}

async fn members(f: &Fixture, mobile: &str, extra: &str) -> Resp {
    let path =
        format!("/v2/partnerProgram/customerPartnerPrograms?identifierName=mobile&identifierValue={mobile}{extra}");
    f.org.get(&f.org.api, &path).await
}

fn names(list: &Value) -> Vec<(String, String, bool)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["partnerProgramName"].as_str().unwrap().to_string(),
                p["status"].as_str().unwrap().to_string(),
                p["linked"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn include_ended_lists_delinked_and_expired_memberships_beside_the_current_ones() {
    let (t, f) = start("pp-care").await;
    let mobile = "919810000001";
    f.enrolled(mobile).await;
    let expiry = iso(t.now() + Duration::days(300));
    let sky = json!({"partnerMembershipId": "SM-1", "partnerTierName": "Gold", "partnerTierExpiryDate": expiry});
    link(&f, mobile, "SkyMiles", sky).await;
    link(&f, mobile, "FlexiPass", json!({"partnerMembershipId": "FP-1"})).await;
    let before = members(&f, mobile, "").await;
    assert_eq!(before.status, 200, "{}", before.text);
    let keys = |r: &Resp| r.body.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&before), vec!["customer", "linkedPartnerPrograms", "warnings", "errors"]);

    delink(&f, mobile, "SkyMiles").await;
    t.advance(Duration::days(31));
    run_sweep(&t).await;

    // Without the parameter: the documented shape, nothing ended in it.
    let plain = members(&f, mobile, "").await;
    assert_eq!(keys(&plain), vec!["customer", "linkedPartnerPrograms", "warnings", "errors"]);
    assert_eq!(plain.body["linkedPartnerPrograms"], json!([]));
    let with = members(&f, mobile, "&includeEnded=true").await;
    assert_eq!(with.status, 200, "{}", with.text);
    assert_eq!(with.body["linkedPartnerPrograms"], plain.body["linkedPartnerPrograms"]);
    assert_eq!(with.body["customer"], plain.body["customer"]);
    assert_eq!(
        names(&with.body["endedPartnerPrograms"]),
        vec![("SkyMiles".into(), "DELINKED".into(), false), ("FlexiPass".into(), "EXPIRED".into(), false)]
    );
    assert_eq!(with.body["endedPartnerPrograms"][0]["partnerMembershipId"], "SM-1");
    assert_eq!(with.body["endedPartnerPrograms"][1]["partnerMembershipId"], "FP-1");

    // A current membership stays in linkedPartnerPrograms, not in the ended list.
    link(&f, mobile, "FlexiPass", json!({"partnerMembershipId": "FP-2"})).await;
    let with = members(&f, mobile, "&includeEnded=true").await;
    assert_eq!(names(&with.body["linkedPartnerPrograms"]), vec![("FlexiPass".into(), "ACTIVE".into(), true)]);
    assert_eq!(names(&with.body["endedPartnerPrograms"]), vec![("SkyMiles".into(), "DELINKED".into(), false)]);

    for bad in ["false", "TRUE", "1"] {
        let r = members(&f, mobile, &format!("&includeEnded={bad}")).await;
        assert_eq!(r.status, 400, "includeEnded={bad}: {}", r.text);
        assert!(r.text.contains("includeEnded"), "{}", r.text);
    }
    let unknown = members(&f, "919810009999", "&includeEnded=true").await;
    assert_eq!(unknown.status, 200, "{}", unknown.text);
    assert_eq!(unknown.body["endedPartnerPrograms"], json!([]));
    assert_eq!(unknown.body["errors"][0]["code"], 8015);
}

async fn benefits_summary(f: &Fixture, mobile: &str) -> Vec<Value> {
    let path = format!(
        "/v2/partnerProgram/customerActivityHistories?identifierName=mobile&identifierValue={mobile}\
         &partnerProgramType=EXTERNAL"
    );
    let r = f.org.get(&f.org.api, &path).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["data"][0]["partnerProgramDetails"]["benefitsSummary"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_benefit_cycle_starts_with_the_membership_and_again_at_each_renewal() {
    let (t, f) = start("pp-care").await;
    let mobile = "919810000002";
    f.enrolled(mobile).await;
    let linked_at = t.now();
    let sky = json!({"partnerTierName": "Gold", "partnerTierExpiryDate": iso(t.now() + Duration::days(300))});
    link(&f, mobile, "SkyMiles", sky).await;
    let body = json!({"customerBenefits": [{"customer": {"mobile": mobile}, "partnerProgramBenefits": [{
        "partnerProgramName": "SkyMiles", "benefits": [{"name": "LoungeAccess", "count": 2}]}]}]});
    t.advance(Duration::days(3));
    let r = f.org.post(&f.org.api, "/v2/partnerProgram/customerBenefits", body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let summary = benefits_summary(&f, mobile).await;
    for b in &summary {
        assert_eq!(b["currentCycleStartDate"], format_utc(linked_at), "{b}");
    }
    assert_eq!(summary[0]["countAvailedInCurrentCycle"], 2);

    // An upgrade keeps the cycle; a renewal starts a new one.
    t.advance(Duration::days(2));
    let update = |kind: &str, details: Value| {
        json!({"customersPartnerUpdates": [{"customer": {"mobile": mobile}, "partnerProgramUpdates": [{
            "partnerProgramName": "SkyMiles", "updateType": kind, "updateDetails": details}]}]})
    };
    let path = "/v2/partnerProgram/customerPartnerProgramUpdate";
    let r = f.org.post(&f.org.api, path, update("UPGRADE", json!({"updatedTierName": "Platinum"}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(benefits_summary(&f, mobile).await[0]["currentCycleStartDate"], format_utc(linked_at));
    t.advance(Duration::days(2));
    let renewed_at = t.now();
    let expiry = iso(t.now() + Duration::days(400));
    let r = f.org.post(&f.org.api, path, update("RENEW", json!({"updatedTierExpiryDate": expiry}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let summary = benefits_summary(&f, mobile).await;
    for b in &summary {
        assert_eq!(b["currentCycleStartDate"], format_utc(renewed_at), "{b}");
        assert_eq!(b["countAvailedInCurrentCycle"], 0, "{b}");
    }
}
