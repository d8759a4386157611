//! What a member-care view reads (docs/contract.md#member-care-reads): ended memberships beside
//! the current ones, the benefit cycle's start, a member found by partner membership id (ended
//! ones too), and the expiry preview of one member. Each test has a table of its own and moves
//! its clock, so the sweep it runs sees only its own work.

use crate::support::*;
use chrono::{DateTime, Duration, Timelike, Utc};
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
async fn the_benefit_cycle_starts_with_the_membership_and_again_at_each_renewal_and_the_member_read_shows_it() {
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
    // The member read shows the same summary on each current membership when asked, and only then.
    let read = members(&f, mobile, "&includeBenefits=true").await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.body["linkedPartnerPrograms"][0]["benefitsSummary"], json!(summary));
    assert!(members(&f, mobile, "").await.body["linkedPartnerPrograms"][0].get("benefitsSummary").is_none());
    let refused = members(&f, mobile, "&includeBenefits=yes").await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(refused.text.contains("includeBenefits"), "{}", refused.text);

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

async fn lookup(org: &TestOrg, query: &str) -> Resp {
    org.get(&org.api, &format!("/v2/partnerProgram/membershipLookup?{query}")).await
}

/// `(customerId, partnerProgramName, current)` of each membership the id names.
async fn holders(org: &TestOrg, mid: &str) -> Vec<(u64, String, bool)> {
    let r = lookup(org, &format!("partnerMembershipId={mid}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((&r.body["warnings"], &r.body["errors"]), (&json!([]), &json!([])));
    r.body["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["partnerMembershipId"], mid);
            (
                m["customerId"].as_u64().unwrap(),
                m["partnerProgramName"].as_str().unwrap().to_string(),
                m["current"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_membership_id_finds_its_member_while_current_after_delink_relink_and_expiry() {
    let (t, f) = start("pp-care").await;
    let (a, b) = (f.enrolled("919810000011").await, f.enrolled("919810000012").await);
    let sky = |mid: &str| {
        json!({"partnerMembershipId": mid, "partnerTierName": "Gold",
               "partnerTierExpiryDate": iso(t.now() + Duration::days(300))})
    };
    link(&f, "919810000011", "SkyMiles", sky("SM-1")).await;
    assert_eq!(holders(&f.org, "SM-1").await, vec![(a, "SkyMiles".into(), true)]);
    let r = lookup(&f.org, "partnerMembershipId=SM-1&partnerProgramName=SkyMiles").await;
    assert_eq!(r.body["memberships"][0]["customerId"], a, "{}", r.text);
    let r = lookup(&f.org, "partnerMembershipId=SM-1&partnerProgramName=FlexiPass").await;
    assert_eq!(r.body["memberships"], json!([]), "{}", r.text);

    // Delinked: still found, no longer current.
    delink(&f, "919810000011", "SkyMiles").await;
    assert_eq!(holders(&f.org, "SM-1").await, vec![(a, "SkyMiles".into(), false)]);
    // Linked again with a new id: both ids find the customer; the freed one finds its new holder too.
    link(&f, "919810000011", "SkyMiles", sky("SM-2")).await;
    link(&f, "919810000012", "SkyMiles", sky("SM-1")).await;
    assert_eq!(holders(&f.org, "SM-2").await, vec![(a, "SkyMiles".into(), true)]);
    assert_eq!(holders(&f.org, "SM-1").await, vec![(a, "SkyMiles".into(), false), (b, "SkyMiles".into(), true)]);

    // A SUPPLEMENTARY membership relinked with a new id: the pending id is found (not current),
    // then current once the relink starts, and the old id stays found.
    link(&f, "919810000011", "FlexiPass", json!({"partnerMembershipId": "FP-A"})).await;
    let relink = json!({"partnerMembershipId": "FP-B", "membershipStartDate": iso(t.now() + Duration::days(10))});
    link(&f, "919810000011", "FlexiPass", relink).await;
    assert_eq!(holders(&f.org, "FP-B").await, vec![(a, "FlexiPass".into(), false)]);
    t.advance(Duration::days(11));
    run_sweep(&t).await;
    assert_eq!(holders(&f.org, "FP-A").await, vec![(a, "FlexiPass".into(), false)]);
    assert_eq!(holders(&f.org, "FP-B").await, vec![(a, "FlexiPass".into(), true)]);
    // ... and after the SUPPLEMENTARY membership expires.
    t.advance(Duration::days(31));
    run_sweep(&t).await;
    let with = members(&f, "919810000011", "&includeEnded=true").await;
    assert_eq!(with.body["endedPartnerPrograms"][0]["status"], "EXPIRED", "{}", with.text);
    assert_eq!(holders(&f.org, "FP-B").await, vec![(a, "FlexiPass".into(), false)]);
    assert_eq!(holders(&f.org, "FP-NONE").await, vec![]);
}

#[tokio::test]
async fn a_membership_id_is_looked_up_within_the_callers_org_only_and_not_after_erasure() {
    let (t, f) = start("pp-care").await;
    let other = fixture(&t.app).await;
    let a = f.enrolled("919810000021").await;
    other.enrolled("919810000021").await;
    link(&f, "919810000021", "SkyMiles", json!({"partnerMembershipId": "SM-21", "partnerTierName": "Gold"})).await;
    link(&other, "919810000021", "SkyMiles", json!({"partnerMembershipId": "SM-99", "partnerTierName": "Gold"})).await;
    assert_eq!(holders(&f.org, "SM-99").await, vec![]);
    assert_eq!(holders(&other.org, "SM-21").await, vec![]);
    assert_eq!(holders(&f.org, "SM-21").await, vec![(a, "SkyMiles".into(), true)]);

    delink(&f, "919810000021", "SkyMiles").await;
    assert_eq!(holders(&f.org, "SM-21").await, vec![(a, "SkyMiles".into(), false)]);
    let r =
        request(&f.org.base, "DELETE", &format!("/v2/customers/{a}"), &[("authorization", &f.org.admin)], vec![]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(holders(&f.org, "SM-21").await, vec![]);
    let trail = stored(&t.app.state, f.org.org_id, a, shared::storage::keys::MEMBERSHIP_ID_TRAIL_PREFIX).await;
    assert!(trail.is_empty(), "{trail:?}");
}

#[tokio::test]
async fn a_current_membership_linked_before_the_trail_is_found_through_its_claim() {
    let (t, f) = start("pp-care").await;
    let a = f.enrolled("919810000031").await;
    link(&f, "919810000031", "SkyMiles", json!({"partnerMembershipId": "SM-31", "partnerTierName": "Gold"})).await;
    // As if linked before trails existed: only the claim remains.
    let trail = stored(&t.app.state, f.org.org_id, a, shared::storage::keys::MEMBERSHIP_ID_TRAIL_PREFIX).await;
    assert_eq!(trail.len(), 1, "{trail:?}");
    for item in trail {
        let key = [("PK", item["PK"].clone()), ("SK", item["SK"].clone())].into_iter().map(|(k, v)| (k.into(), v));
        let del = t.app.state.store.client().delete_item().table_name(&t.table).set_key(Some(key.collect()));
        del.send().await.unwrap();
    }
    assert_eq!(holders(&f.org, "SM-31").await, vec![(a, "SkyMiles".into(), true)]);
    // Ended before the trail: not found (documented).
    delink(&f, "919810000031", "SkyMiles").await;
    assert_eq!(holders(&f.org, "SM-31").await, vec![]);
}

#[tokio::test]
async fn a_lookup_without_a_usable_id_or_with_an_unknown_program_is_a_400_naming_it() {
    let (_t, f) = start("pp-care").await;
    let long = "x".repeat(129);
    for (query, names) in [
        ("", "partnerMembershipId"),
        ("partnerMembershipId=%20%20", "partnerMembershipId"),
        (&format!("partnerMembershipId={long}") as &str, "partnerMembershipId"),
        ("partnerMembershipId=SM-1&partnerProgramName=NoSuchMiles", "NoSuchMiles"),
    ] {
        let r = lookup(&f.org, query).await;
        assert_eq!(r.status, 400, "{query}: {}", r.text);
        assert!(r.text.contains(names), "{query}: {}", r.text);
    }
    // Any role may look up: the admin client too.
    let r = f.org.get(&f.org.admin, "/v2/partnerProgram/membershipLookup?partnerMembershipId=SM-1").await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn preview(org: &TestOrg, auth: &str, query: &str) -> Resp {
    org.get(auth, &format!("/v2/partnerProgram/expiryPreview?{}", query.replace('+', "%2B"))).await
}

/// Every entry of the due-index walk up to `until` (all pages).
async fn walk(org: &TestOrg, until: &str) -> Vec<Value> {
    let mut data = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = preview(org, &org.admin, &format!("until={until}{cursor}")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        data.extend(r.body["data"].as_array().unwrap().iter().cloned());
        match r.body["pagination"]["nextCursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return data,
        }
    }
}

fn reminder_states(entry: &Value) -> Vec<(i64, String)> {
    let list = entry["reminders"].as_array().unwrap();
    list.iter().map(|r| (r["daysBefore"].as_i64().unwrap(), r["state"].as_str().unwrap().to_string())).collect()
}

#[tokio::test]
async fn one_members_preview_plans_its_linkages_by_the_sweeps_rules_years_ahead_with_its_reminders() {
    let (t, f) = start("pp-care").await;
    let flexi = json!({"programId": f.rewards, "partnerProgramType": "SUPPLEMENTARY", "tierBased": false,
        "membershipPeriodType": "DAYS", "membershipPeriodValue": 30, "expiryReminderDays": [1, 7]});
    f.org.partner_program("FlexiPass", flexi).await;
    let mut sky = skymiles(f.rewards);
    sky["expiryReminderDays"] = json!([30, 7]);
    f.org.partner_program("SkyMiles", sky).await;
    let (a, b) = (f.enrolled("919810000041").await, f.enrolled("919810000042").await);
    let tier_expiry = t.now() + Duration::days(200);
    let gold = json!({"partnerTierName": "Gold", "partnerTierExpiryDate": iso(tier_expiry)});
    link(&f, "919810000041", "SkyMiles", gold).await;
    link(&f, "919810000041", "FlexiPass", json!({})).await;
    link(&f, "919810000042", "FlexiPass", json!({})).await;
    let asha = crate::agents::agent(&f.org, "Asha Rao").await;
    let member = "identifierName=mobile&identifierValue=919810000041";

    // Within the walk's 92 days: the member's entries are exactly the walk's for that member.
    let until = iso(t.now() + Duration::days(60));
    let walked: Vec<Value> = walk(&f.org, &until)
        .await
        .into_iter()
        .filter(|e| e["customerId"] == a && e.get("currentStatus").is_some())
        .collect();
    let r = preview(&f.org, &asha, &format!("{member}&until={until}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut mine: Vec<Value> = r.body["data"].as_array().unwrap().clone();
    assert!(mine.iter().all(|e| e["customerId"] == a), "{}", r.text);
    for e in &mut mine {
        e.as_object_mut().unwrap().remove("reminders");
    }
    assert_eq!(mine, walked);
    assert_eq!(mine.len(), 1, "only FlexiPass ends within 60 days: {}", r.text);

    // By default ten years ahead: the tier's expiry 200 days out too, with its reminders queued.
    let r = preview(&f.org, &asha, member).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let data = r.body["data"].as_array().unwrap();
    let names: Vec<&str> = data.iter().map(|e| e["partnerProgramName"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["SkyMiles", "FlexiPass"], "{}", r.text);
    assert_eq!(data[0]["dueAt"], format_utc(tier_expiry));
    assert_eq!(data[0]["actions"][0]["action"], "EXPIRE_TIER");
    assert_eq!(data[0]["resultingStatus"], "TIER_EXPIRED");
    assert_eq!(reminder_states(&data[0]), vec![(30, "QUEUED".into()), (7, "QUEUED".into())]);
    assert_eq!(data[0]["reminders"][0]["kind"], "PARTNER_TIER_EXPIRY_REMINDER");
    assert_eq!(data[0]["reminders"][0]["expiresAt"], format_utc(tier_expiry));
    assert_eq!(reminder_states(&data[1]), vec![(7, "QUEUED".into()), (1, "QUEUED".into())]);
    assert_eq!(r.body["summary"]["linkages"], 2);

    // The sweep sends the 7-day reminder: the card says it was sent, the 1-day one is still queued.
    let end: DateTime<Utc> = data[1]["dueAt"].as_str().unwrap().parse().unwrap();
    t.set(end - Duration::days(6) - Duration::hours(12));
    run_sweep(&t).await;
    let r = preview(&f.org, &asha, member).await;
    let flexi = &r.body["data"][1];
    assert_eq!(reminder_states(flexi), vec![(7, "SENT".into()), (1, "QUEUED".into())], "{}", r.text);
    let sent_at: DateTime<Utc> = flexi["reminders"][0]["at"].as_str().unwrap().parse().unwrap();
    assert_eq!(sent_at, t.now().with_nanosecond(0).unwrap());

    // Another member's preview shows only its own linkage.
    let r = preview(&f.org, &f.org.admin, "identifierName=mobile&identifierValue=919810000042").await;
    let data = r.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{}", r.text);
    assert_eq!(data[0]["customerId"], b);
}

#[tokio::test]
async fn one_members_preview_refuses_what_does_not_apply_and_answers_an_unknown_member_like_its_read() {
    let (t, f) = start("pp-care").await;
    f.enrolled("919810000051").await;
    let member = "identifierName=mobile&identifierValue=919810000051";
    let r = preview(&f.org, &f.org.api, member).await;
    assert_eq!(r.status, 403, "the api role does not read the preview: {}", r.text);
    for query in [
        format!("{member}&until={}", iso(t.now() + Duration::days(3660))),
        format!("{member}&cursor=abc"),
        "identifierName=mobile".to_string(),
        "identifierName=phone&identifierValue=1".to_string(),
    ] {
        let r = preview(&f.org, &f.org.admin, &query).await;
        assert_eq!(r.status, 400, "{query}: {}", r.text);
    }
    // Without a member, 92 days stays the limit.
    let r = preview(&f.org, &f.org.admin, &format!("until={}", iso(t.now() + Duration::days(93)))).await;
    assert_eq!(r.status, 400, "{}", r.text);

    let unknown = "identifierName=mobile&identifierValue=919810009999";
    let r = preview(&f.org, &f.org.admin, unknown).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["data"], json!([]));
    let read = members(&f, "919810009999", "").await;
    assert_eq!(r.body["errors"], read.body["errors"]);
    assert_eq!(r.body["errors"][0]["code"], 8015);
}
