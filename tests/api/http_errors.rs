//! Request-level errors: malformed JSON, content type, size, unknown routes — never a 500.

use crate::support::*;
use serde_json::json;

#[tokio::test]
async fn malformed_json_is_400_naming_the_problem() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let h = [("authorization", f.org.api.as_str()), ("content-type", "application/json")];
    let r = request(&app.base, "POST", "/v2/partnerProgram/linkCustomer", &h, b"{\"linkCustomers\": [".to_vec()).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.body["errors"][0]["message"].as_str().unwrap().contains("line 1, column"), "{}", r.text);
    let r = request(
        &app.base,
        "POST",
        "/v2/partnerProgram/linkCustomer",
        &h,
        br#"{"linkCustomers": [{"customer": {}, "linkToPartnerPrograms": [{"partnerProgramName": 7}]}]}"#.to_vec(),
    )
    .await;
    assert_eq!(r.status, 400);
    let msg = r.body["errors"][0]["message"].as_str().unwrap();
    assert!(msg.contains("linkCustomers[0].linkToPartnerPrograms[0].partnerProgramName"), "{msg}");
    let r =
        request(&app.base, "POST", "/v2/partnerProgram/linkCustomer", &h, br#"{"linkCustomers": []}"#.to_vec()).await;
    assert_eq!(r.status, 400);
    let r = f
        .org
        .put(
            &f.org.admin,
            "/v2/organization/partnerPrograms/Bad",
            json!({"programId": f.rewards, "partnerProgramType": "NOPE"}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("partnerProgramType"), "{}", r.text);
}

#[tokio::test]
async fn wrong_content_type_is_415_and_oversized_body_is_413() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let r = request(
        &app.base,
        "POST",
        "/v2/partnerProgram/linkCustomer",
        &[("authorization", &f.org.api), ("content-type", "text/plain")],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(r.status, 415);
    let r =
        request(&app.base, "POST", "/v2/partnerProgram/linkCustomer", &[("authorization", &f.org.api)], b"{}".to_vec())
            .await;
    assert_eq!(r.status, 415);
    let big = format!("{{\"linkCustomers\": [], \"pad\": \"{}\"}}", "x".repeat(300 * 1024));
    let r = request(
        &app.base,
        "POST",
        "/v2/partnerProgram/linkCustomer",
        &[("authorization", &f.org.api), ("content-type", "application/json")],
        big.into_bytes(),
    )
    .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.body["errors"][0]["code"], 413);
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    assert_eq!(f.org.get(&f.org.api, "/v2/partnerProgram/nothing").await.status, 404);
    assert_eq!(f.org.get(&f.org.api, "/v2/partnerProgram/linkCustomer").await.status, 405);
}

#[tokio::test]
async fn invalid_partner_program_configurations_are_400_with_reasons() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let cases = [
        (json!({"programId": 999999, "partnerProgramType": "EXTERNAL"}), "not a loyalty program"),
        (
            json!({
                "programId": f.rewards, "partnerProgramType": "EXTERNAL", "tierBased": true,
                "partnerProgramTiers": [{"tierNumber": 1, "tierName": "A"}, {"tierNumber": 1, "tierName": "B"}]
            }),
            "tierNumber 1 appears twice",
        ),
        (
            json!({
                "programId": f.rewards, "partnerProgramType": "EXTERNAL", "tierBased": true,
                "partnerProgramTiers": [{"tierNumber": 1, "tierName": "A"}, {"tierNumber": 2, "tierName": "a"}]
            }),
            "appears twice",
        ),
        (
            json!({"programId": f.rewards, "partnerProgramType": "EXTERNAL", "tierBased": true}),
            "needs partnerProgramTiers",
        ),
        (json!({"programId": f.rewards, "partnerProgramType": "SUPPLEMENTARY"}), "membershipPeriodType"),
        (
            json!({
                "programId": f.rewards, "partnerProgramType": "EXTERNAL",
                "benefits": [{"name": "X", "type": "T"}, {"name": "x", "type": "T"}]
            }),
            "benefit",
        ),
        (
            json!({"programId": f.rewards, "partnerProgramType": "EXTERNAL", "backupPartnerProgramName": "NoSuch"}),
            "backupPartnerProgramName",
        ),
        (
            json!({"programId": f.rewards, "partnerProgramType": "EXTERNAL", "backupPartnerProgramName": "SkyMiles"}),
            "must be SUPPLEMENTARY",
        ),
        (
            json!({"programId": f.rewards, "partnerProgramType": "EXTERNAL", "tierGracePeriodDays": 400}),
            "tierGracePeriodDays",
        ),
        (json!({"programId": f.rewards, "partnerProgramType": "EXTERNAL", "expiryDate": "soon"}), "expiryDate"),
    ];
    for (body, reason) in cases {
        let r = f.org.put(&f.org.admin, "/v2/organization/partnerPrograms/Bad", body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert!(r.body["errors"][0]["message"].as_str().unwrap().contains(reason), "{body}: {}", r.text);
    }
    // A backup must expire later than the program it backs.
    let mut backup = json!({
        "programId": f.rewards, "partnerProgramType": "SUPPLEMENTARY", "membershipPeriodType": "MONTHS",
        "membershipPeriodValue": 1, "expiryDate": "2030-01-01"
    });
    f.org.partner_program("Backup", backup.clone()).await;
    let main = json!({
        "programId": f.rewards, "partnerProgramType": "EXTERNAL", "expiryDate": "2031-01-01",
        "backupPartnerProgramName": "Backup"
    });
    let put_main = || f.org.put(&f.org.admin, "/v2/organization/partnerPrograms/Main", main.clone());
    let r = put_main().await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("must expire after"), "{}", r.text);
    backup["expiryDate"] = json!("2032-01-01");
    f.org.partner_program("Backup", backup).await;
    let r = put_main().await;
    assert_eq!(r.status, 201, "{}", r.text);
    let listing = f.org.get(&f.org.api, "/v2/organization/programs").await;
    let rewards =
        listing.body["data"].as_array().unwrap().iter().find(|p| p["programId"] == f.rewards).unwrap().clone();
    let names: Vec<&str> = rewards["partnerPrograms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["partnerProgramName"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["SkyMiles", "FlexiPass", "Backup", "Main"]);
    let sky = &rewards["partnerPrograms"][0];
    assert_eq!(sky["partnerProgramTiers"][2], json!({"tierNumber": 3, "tierName": "Platinum"}));
    assert_eq!(sky["tierBased"], true);
    assert_eq!(sky["partnerProgramType"], "EXTERNAL");
    assert_eq!(sky["pointsExchangeRate"], 2);
}

/// Found by schema fuzzing: a ratio DynamoDB cannot store (5e-324 is below its 1e-130) was a 500.
#[tokio::test]
async fn loyalty_program_ratio_out_of_range_is_400_not_500() {
    let app = TestApp::start().await;
    let org = app.org("UTC").await;
    for ratio in [json!(5e-324), json!(0), json!(-1), json!(1e308)] {
        let r = org
            .post(&org.admin, "/v2/organization/programs", json!({"programName": "R", "pointsToCurrencyRatio": ratio}))
            .await;
        assert_eq!(r.status, 400, "{ratio}: {}", r.text);
        assert!(r.text.contains("pointsToCurrencyRatio"), "{}", r.text);
    }
    let r = org
        .post(
            &org.admin,
            "/v2/organization/programs",
            json!({"programName": "R", "pointsToCurrencyRatio": 0.111, "programDescription": "Ours"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        (r.body["pointsToCurrencyRatio"].as_f64(), r.body["programDescription"].as_str(), r.body["default"].as_bool()),
        (Some(0.111), Some("Ours"), Some(true))
    );
    let r = org.post(&org.admin, "/v2/organization/programs", json!({"programName": "S"})).await;
    assert_eq!(
        (r.body["default"].as_bool(), r.body["pointsToCurrencyRatio"].as_f64()),
        (Some(false), Some(1.0)),
        "{}",
        r.text
    );
    let listing = org.get(&org.api, "/v2/organization/programs").await;
    let defaults: Vec<bool> =
        listing.body["data"].as_array().unwrap().iter().map(|p| p["default"].as_bool().unwrap()).collect();
    assert_eq!(defaults, [true, false], "the org's first program is its default: {}", listing.text);
}
