//! The program catalog: `GET /v2/organization/programs?includeConfiguration=true` (Extension) gives
//! each partner program's whole configuration as its PUT answered it; without the parameter the
//! listing is Capillary's shape, byte for byte; a bad value is a 400; another org's programs never show.

use crate::support::*;
use serde_json::{json, Value};
use shared::domain::model::Role;

const WITH_CONFIGURATION: &str = "/v2/organization/programs?includeConfiguration=true";

/// The partner programs of a listing, by name, across its loyalty programs.
fn partner_programs(listing: &Value) -> Vec<&Value> {
    let loyalty = listing["data"].as_array().unwrap();
    loyalty.iter().flat_map(|lp| lp["partnerPrograms"].as_array().unwrap()).collect()
}

fn listed<'a>(listing: &'a Value, name: &str) -> &'a Value {
    partner_programs(listing)
        .into_iter()
        .find(|p| p["partnerProgramName"] == name)
        .unwrap_or_else(|| panic!("{name} not listed in {listing}"))
}

/// Every configuration field a PUT can set, on a tier-based SUPPLEMENTARY program with a backup.
fn elite_config(program_id: u64) -> Value {
    json!({
        "programId": program_id,
        "partnerProgramType": "SUPPLEMENTARY",
        "partnerProgramDescription": "Elite club",
        "tierBased": true,
        "partnerProgramTiers": [{"tierNumber": 2, "tierName": "Gold"}, {"tierNumber": 1, "tierName": "Silver"}],
        "benefits": [
            {"name": "LoungeAccess", "type": "LOUNGE", "maximumAvailableInCycle": 4},
            {"name": "FreeCoffee", "type": "VOUCHER"}
        ],
        "pointsExchangeRate": 0.25,
        "membershipPeriodType": "MONTHS",
        "membershipPeriodValue": 12,
        "expiryDate": future_date(400),
        "backupPartnerProgramName": "Fallback",
        "onTierExpiry": "DOWNGRADE_ONE_TIER",
        "tierGracePeriodDays": 7,
        "expiryReminderDays": [7, 30]
    })
}

#[tokio::test]
async fn each_partner_program_carries_the_configuration_its_put_answered() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let fallback = f
        .org
        .partner_program(
            "Fallback",
            json!({"programId": f.rewards, "partnerProgramType": "SUPPLEMENTARY", "tierBased": false,
                   "membershipPeriodType": "DAYS", "membershipPeriodValue": 90}),
        )
        .await;
    let elite = f.org.partner_program("Elite", elite_config(f.rewards)).await;
    // What the PUT answered shows every field that was set (the listing must show the same).
    assert_eq!(elite["benefits"][0]["maximumAvailableInCycle"], 4, "{elite}");
    assert!(elite["benefits"][1].get("maximumAvailableInCycle").is_none(), "{elite}");
    assert_eq!(elite["expiryReminderDays"], json!([30, 7]), "{elite}");
    assert_eq!(elite["membershipPeriodType"], "MONTHS", "{elite}");
    assert_eq!(elite["backupPartnerProgramName"], "Fallback", "{elite}");
    let plain = f.org.get(&f.org.api, "/v2/organization/programs").await;
    let skymiles_id = listed(&plain.body, "SkyMiles")["partnerProgramId"].clone();
    // Every role may read it.
    let agent = shared::http::auth::create_named_client(&app.state.store, f.org.org_id, Role::Agent, None).await;
    let agent = agent.unwrap().basic_header();
    for auth in [&f.org.api, &f.org.admin, &agent] {
        let r = f.org.get(auth, WITH_CONFIGURATION).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(listed(&r.body, "Elite")["configuration"], elite);
        assert_eq!(listed(&r.body, "Fallback")["configuration"], fallback);
        let sky = &listed(&r.body, "SkyMiles")["configuration"];
        assert_eq!(sky["partnerProgramId"], skymiles_id);
        assert_eq!(sky["benefits"], skymiles(f.rewards)["benefits"]);
        assert_eq!(sky["onTierExpiry"], "EXPIRE_TIER");
        assert_eq!(sky["tierGracePeriodDays"], 0);
        assert!(sky.get("expiryReminderDays").is_none(), "{sky}");
        // Every partner program carries one, and the summary around it is unchanged.
        for p in partner_programs(&r.body) {
            assert_eq!(p["configuration"]["partnerProgramName"], p["partnerProgramName"], "{p}");
            let mut summary = p.clone();
            summary.as_object_mut().unwrap().remove("configuration");
            assert_eq!(&summary, listed(&plain.body, p["partnerProgramName"].as_str().unwrap()));
        }
    }
    // A reconfiguration shows at once.
    let mut changed = elite_config(f.rewards);
    changed["tierGracePeriodDays"] = json!(3);
    changed["expiryReminderDays"] = Value::Null;
    let now = f.org.partner_program("Elite", changed).await;
    let r = f.org.get(&f.org.api, WITH_CONFIGURATION).await;
    let config = &listed(&r.body, "Elite")["configuration"];
    assert_eq!(config, &now);
    assert_eq!(config["tierGracePeriodDays"], 3, "{config}");
    assert!(config.get("expiryReminderDays").is_none(), "{config}");
}

#[tokio::test]
async fn without_the_parameter_the_listing_is_capillarys_shape_byte_for_byte() {
    let app = TestApp::start().await;
    let org = app.org("Asia/Kolkata").await;
    let rewards = org.loyalty_program("Rewards").await;
    let plain = org
        .partner_program(
            "Plain",
            json!({"programId": rewards, "partnerProgramType": "EXTERNAL", "tierBased": true,
                   "partnerProgramTiers": [{"tierNumber": 1, "tierName": "Silver"}],
                   "benefits": [{"name": "LoungeAccess", "type": "LOUNGE", "maximumAvailableInCycle": 2}],
                   "onTierExpiry": "DELINK", "tierGracePeriodDays": 5, "expiryReminderDays": [10]}),
        )
        .await;
    let club = org
        .partner_program(
            "Club",
            json!({"programId": rewards, "partnerProgramType": "SUPPLEMENTARY", "tierBased": false,
                   "membershipPeriodType": "DAYS", "membershipPeriodValue": 30}),
        )
        .await;
    let (plain, club) = (&plain["partnerProgramId"], &club["partnerProgramId"]);
    let expected = format!(
        concat!(
            r#"{{"data":[{{"programId":{rewards},"programName":"Rewards","pointsToCurrencyRatio":1.0,"#,
            r#""programDescription":"","partnerPrograms":["#,
            r#"{{"partnerProgramId":{plain},"partnerProgramName":"Plain","partnerProgramDescription":"","#,
            r#""partnerProgramTiers":[{{"tierNumber":1,"tierName":"Silver"}}],"pointsExchangeRate":1.0,"#,
            r#""partnerProgramType":"EXTERNAL","membershipPeriodValue":0,"tierBased":true}},"#,
            r#"{{"partnerProgramId":{club},"partnerProgramName":"Club","partnerProgramDescription":"","#,
            r#""pointsExchangeRate":1.0,"partnerProgramType":"SUPPLEMENTARY","membershipPeriodType":"DAYS","#,
            r#""membershipPeriodValue":30,"tierBased":false}}],"default":true}}],"warnings":[],"errors":[]}}"#
        ),
        rewards = rewards,
        plain = plain,
        club = club
    );
    // An empty value counts as absent, as for every query parameter.
    for query in ["", "?includeConfiguration="] {
        let path = format!("/v2/organization/programs{query}");
        let r = org.get(&org.api, &path).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.text, expected, "{path}");
    }
}

#[tokio::test]
async fn a_value_other_than_true_is_refused_naming_the_parameter() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    for value in ["false", "yes", "TRUE", "True", "1", "%20true", "true%20"] {
        let r = f.org.get(&f.org.api, &format!("/v2/organization/programs?includeConfiguration={value}")).await;
        assert_eq!(r.status, 400, "{value:?}: {}", r.text);
        assert_eq!(r.body["errors"][0]["code"], 400, "{}", r.text);
        let message = r.body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("includeConfiguration"), "{value:?}: {message}");
    }
}

#[tokio::test]
async fn another_orgs_programs_never_appear() {
    let app = TestApp::start().await;
    let a = fixture(&app).await;
    let b = fixture(&app).await;
    let b_only = json!({"programId": b.rewards, "partnerProgramType": "EXTERNAL", "tierBased": false,
                        "benefits": [{"name": "BravoPerk", "type": "VOUCHER"}]});
    b.org.partner_program("BravoOnly", b_only).await;
    let r = a.org.get(&a.org.api, WITH_CONFIGURATION).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!r.text.contains("BravoOnly") && !r.text.contains("BravoPerk"), "{}", r.text);
    let loyalty: Vec<&Value> = r.body["data"].as_array().unwrap().iter().map(|lp| &lp["programId"]).collect();
    assert_eq!(loyalty, [&json!(a.rewards), &json!(a.other)]);
    for p in partner_programs(&r.body) {
        let program_id = &p["configuration"]["programId"];
        assert!(*program_id == json!(a.rewards) || *program_id == json!(a.other), "{p}");
    }
    let names: Vec<&Value> = partner_programs(&r.body).iter().map(|p| &p["partnerProgramName"]).collect();
    assert_eq!(names, [&json!("SkyMiles"), &json!("FlexiPass"), &json!("OtherMiles")]);
    let r = b.org.get(&b.org.api, WITH_CONFIGURATION).await;
    assert_eq!(listed(&r.body, "BravoOnly")["configuration"]["benefits"][0]["name"], "BravoPerk");
}
