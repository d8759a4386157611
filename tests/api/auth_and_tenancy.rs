//! Authentication (401), authorisation (403) and tenant isolation through the API.

use crate::support::*;
use serde_json::json;

#[tokio::test]
async fn missing_or_wrong_credentials_are_401() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let r = request(&app.base, "GET", "/v2/organization/programs", &[], vec![]).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["errors"][0]["code"], 401);
    let key = f.org.api.clone();
    let decoded = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, key.trim_start_matches("Basic ")).unwrap(),
    )
    .unwrap();
    let (client_key, _) = decoded.split_once(':').unwrap();
    for header in [
        basic_raw(client_key, "wrong-secret"),
        basic_raw("ck_nobody", "x"),
        "Bearer abc".to_string(),
        "Basic %%%".to_string(),
    ] {
        let r = request(&app.base, "GET", "/v2/organization/programs", &[("authorization", &header)], vec![]).await;
        assert_eq!(r.status, 401, "{header}");
    }
    let r = request(
        &app.base,
        "POST",
        "/v2/partnerProgram/linkCustomer",
        &[("content-type", "application/json")],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn api_client_on_admin_routes_is_403() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let r = f.org.post(&f.org.api, "/v2/organization/programs", json!({"programName": "X"})).await;
    assert_eq!(r.status, 403);
    let r = f.org.put(&f.org.api, "/v2/organization/partnerPrograms/SkyMiles", skymiles(f.rewards)).await;
    assert_eq!(r.status, 403);
    let r = f.org.post(&f.org.api, "/v2/customers", json!({"mobile": "919766666666"})).await;
    assert_eq!(r.status, 403);
    // The api client may use the partner program APIs and the program listing.
    let r = f.org.get(&f.org.api, "/v2/organization/programs").await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn one_org_cannot_see_or_change_another_orgs_data() {
    let app = TestApp::start().await;
    let a = fixture(&app).await;
    let b = fixture(&app).await;
    a.enrolled("919777777777").await;
    assert_eq!(
        a.org
            .link(link_body(json!({"mobile": "919777777777"}), "SkyMiles", json!({"partnerTierName": "Gold"})))
            .await
            .status,
        200
    );
    let a_customer = a.org.linked_programs("mobile", "919777777777").await;
    let a_id = a_customer.body["customer"]["id"].as_u64().unwrap();

    // Reads by org B come back empty or not found.
    let r = b.org.linked_programs("mobile", "919777777777").await;
    assert_eq!(r.body["errors"][0]["code"], 8015);
    let r = b.org.linked_programs("id", &a_id.to_string()).await;
    assert_eq!(r.body["errors"][0]["code"], 8015);
    let programs = b.org.get(&b.org.api, "/v2/organization/programs").await;
    let ids: Vec<u64> =
        programs.body["data"].as_array().unwrap().iter().map(|p| p["programId"].as_u64().unwrap()).collect();
    assert_eq!(ids, vec![b.rewards, b.other]);

    // Writes by org B fail and change nothing of org A.
    let r = b.org.delink(json!({
        "deLinkCustomers": [{
            "customer": {"mobile": "919777777777"}, "deLinkFromPartnerPrograms": [{"partnerProgramName": "SkyMiles"}]
        }]
    })).await;
    assert_eq!(r.body["deLinkCustomers"][0]["customer"]["status"]["code"], 8015);
    let r = b
        .org
        .delink(json!({
            "deLinkCustomers": [{
                "customer": {"id": a_id}, "deLinkFromPartnerPrograms": [{"partnerProgramName": "SkyMiles"}]
            }]
        }))
        .await;
    assert_eq!(r.body["deLinkCustomers"][0]["customer"]["status"]["code"], 8015);
    // Org B registering the same mobile gets its own customer: identifiers are unique per org only.
    b.enrolled("919777777777").await;
    let r = b.org.linked_programs("mobile", "919777777777").await;
    assert_eq!(r.body["linkedPartnerPrograms"], json!([]));
    let still = a.org.linked_programs("mobile", "919777777777").await;
    assert_eq!(still.body["linkedPartnerPrograms"][0]["linked"], true);
    assert_eq!(still.body["linkedPartnerPrograms"][0]["partnerTierName"], "Gold");
}

#[tokio::test]
async fn org_id_in_body_or_header_is_ignored() {
    let app = TestApp::start().await;
    let a = fixture(&app).await;
    let b = fixture(&app).await;
    let r = request(
        &app.base,
        "POST",
        "/v2/organization/programs",
        &[
            ("authorization", &b.org.admin),
            ("content-type", "application/json"),
            ("x-org-id", &a.org.org_id.to_string()),
        ],
        json!({"programName": "Sneaky"}).to_string().into_bytes(),
    )
    .await;
    assert_eq!(r.status, 201);
    let a_programs = a.org.get(&a.org.api, "/v2/organization/programs").await;
    assert!(!a_programs.text.contains("Sneaky"));
    let b_programs = b.org.get(&b.org.api, "/v2/organization/programs").await;
    assert!(b_programs.text.contains("Sneaky"));
}
