//! Agents: per-person clients with a display name. An agent reads members and acts on them like an
//! `api` client, and is refused (403) whatever configures programs, registers or erases customers.

use crate::support::*;
use serde_json::{json, Value};

/// A new client created by the org's admin through `POST /v2/organization/clients`: its answer.
async fn create_client(org: &TestOrg, body: Value) -> Resp {
    org.post(&org.admin, "/v2/organization/clients", body).await
}

/// A new agent client of `org` with a display name, created through the API, as its Basic header.
pub async fn agent(org: &TestOrg, name: &str) -> String {
    let r = create_client(org, json!({"role": "agent", "displayName": name})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    basic_raw(r.body["clientKey"].as_str().unwrap(), r.body["secret"].as_str().unwrap())
}

#[tokio::test]
async fn an_agent_acts_on_members_but_configures_nothing_and_registers_or_erases_no_one() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let id = f.enrolled("919781000001").await;
    let asha = agent(&f.org, "Asha Rao").await;
    let customer = json!({"mobile": "919781000001"});

    let link = link_body(
        customer.clone(),
        "SkyMiles",
        json!({"partnerTierName": "Silver", "partnerTierExpiryDate": future_date(90)}),
    );
    let r = f.org.post(&asha, "/v2/partnerProgram/linkCustomer", link).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let update = json!({"customersPartnerUpdates": [{"customer": customer, "partnerProgramUpdates": [{
        "partnerProgramName": "SkyMiles", "updateType": "UPGRADE",
        "updateDetails": {"updatedTierName": "Gold", "updatedTierExpiryDate": future_date(120)}}]}]});
    let r = f.org.post(&asha, "/v2/partnerProgram/customerPartnerProgramUpdate", update).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let benefit = json!({"customerBenefits": [{"customer": customer, "partnerProgramBenefits": [{
        "partnerProgramName": "SkyMiles", "benefits": [{"name": "LoungeAccess", "count": 1}]}]}]});
    let r = f.org.post(&asha, "/v2/partnerProgram/customerBenefits", benefit).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let delink = json!({"deLinkCustomers": [{"customer": customer,
        "deLinkFromPartnerPrograms": [{"partnerProgramName": "SkyMiles"}]}]});
    let r = f.org.post(&asha, "/v2/partnerProgram/deLinkCustomer", delink).await;
    assert_eq!(r.status, 200, "{}", r.text);
    for path in [
        "/v2/organization/programs".to_string(),
        "/v2/partnerProgram/customerPartnerPrograms?identifierName=mobile&identifierValue=919781000001".to_string(),
        "/v2/partnerProgram/customerActivityHistories?identifierName=mobile&identifierValue=919781000001".to_string(),
    ] {
        let r = f.org.get(&asha, &path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
    }

    // Whatever only an admin may do stays refused.
    let r = f.org.post(&asha, "/v2/organization/programs", json!({"programName": "Mine"})).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = f.org.put(&asha, "/v2/organization/partnerPrograms/SkyMiles", skymiles(f.rewards)).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = f.org.post(&asha, "/v2/customers", json!({"mobile": "919781000002"})).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = request(&app.base, "DELETE", &format!("/v2/customers/{id}"), &[("authorization", &asha)], vec![]).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = f.org.get(&asha, "/v2/partnerProgram/expiryPreview?until=2030-01-01").await;
    assert_eq!(r.status, 403, "{}", r.text);
}

#[tokio::test]
async fn an_admin_creates_clients_whose_secret_is_shown_once_and_stored_as_a_digest() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let r = create_client(&f.org, json!({"role": "agent", "displayName": "  Asha Rao  "})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.headers.get("cache-control").map(String::as_str), Some("no-store"));
    assert_eq!(r.body["orgId"], f.org.org_id);
    assert_eq!(r.body["role"], "agent");
    assert_eq!(r.body["displayName"], "Asha Rao", "trimmed");
    let (key, secret) = (r.body["clientKey"].as_str().unwrap(), r.body["secret"].as_str().unwrap());
    assert!(key.starts_with("ck_") && secret.len() >= 43, "{}", r.text);
    let stored = app.state.store.client_record(key).await.unwrap().unwrap();
    assert_eq!(stored.secret_sha256, shared::http::auth::secret_digest(secret));
    assert_eq!((stored.org_id, stored.display_name.as_deref()), (f.org.org_id, Some("Asha Rao")));
    assert!(!format!("{stored:?}").contains(secret), "only the digest is stored");

    // A display name is optional for the other roles; the new credentials work at once.
    let r = create_client(&f.org, json!({"role": "api"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.body.get("displayName").is_none(), "{}", r.text);
    let api = basic_raw(r.body["clientKey"].as_str().unwrap(), r.body["secret"].as_str().unwrap());
    assert_eq!(f.org.get(&api, "/v2/organization/me").await.body["role"], "api");
    let r = create_client(&f.org, json!({"role": "admin", "displayName": "Ops lead"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let admin = basic_raw(r.body["clientKey"].as_str().unwrap(), r.body["secret"].as_str().unwrap());
    let r = f.org.post(&admin, "/v2/organization/clients", json!({"role": "agent", "displayName": "Ravi"})).await;
    assert_eq!(r.status, 201, "a created admin creates clients too: {}", r.text);
}

#[tokio::test]
async fn client_creation_refuses_bad_input_other_roles_and_an_idempotency_key() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    for (body, says) in [
        (json!({"role": "root", "displayName": "X"}), "role must be one of agent, api, admin"),
        (json!({"role": "agent"}), "displayName is required for an agent"),
        (json!({"role": "agent", "displayName": "   "}), "displayName is empty"),
        (json!({"role": "agent", "displayName": "x".repeat(81)}), "displayName is longer than 80 characters (81)"),
        (json!({"role": "agent", "displayName": "Asha\u{7}Rao"}), "displayName contains control characters"),
        (json!({"role": "agent", "displayName": 7}), "displayName"),
        (json!({"role": "agent", "displayName": "Asha", "secret": "mine"}), "secret"),
        (json!({"displayName": "Asha"}), "role"),
    ] {
        let r = create_client(&f.org, body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        let message = r.body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }
    let asha = agent(&f.org, "Asha Rao").await;
    for who in [&f.org.api, &asha] {
        let r = f.org.post(who, "/v2/organization/clients", json!({"role": "admin", "displayName": "Me"})).await;
        assert_eq!(r.status, 403, "{}", r.text);
    }
    let headers = [
        ("authorization", f.org.admin.as_str()),
        ("content-type", "application/json"),
        ("idempotency-key", "client-1"),
    ];
    let body = json!({"role": "agent", "displayName": "Asha Rao"}).to_string().into_bytes();
    let r = request(&f.org.base, "POST", "/v2/organization/clients", &headers, body).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("not idempotent"), "{}", r.text);
    assert!(r.body.get("secret").is_none());
}

#[tokio::test]
async fn me_says_who_the_credentials_are_and_the_orgs_time_zone_for_every_role() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let asha = agent(&f.org, "Asha Rao").await;
    for (auth, role) in [(&f.org.admin, "admin"), (&f.org.api, "api"), (&asha, "agent")] {
        let r = f.org.get(auth, "/v2/organization/me").await;
        assert_eq!(r.status, 200, "{}", r.text);
        let key = String::from_utf8(
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, auth.trim_start_matches("Basic "))
                .unwrap(),
        )
        .unwrap();
        let key = key.split_once(':').unwrap().0.to_string();
        let mut expected = json!({"orgId": f.org.org_id, "orgName": "Test Org", "timeZone": "Asia/Kolkata",
            "role": role, "clientKey": key, "warnings": [], "errors": []});
        if role == "agent" {
            expected["displayName"] = json!("Asha Rao");
        }
        assert_eq!(r.body, expected);
        assert!(!r.text.contains("secret"), "{}", r.text);
    }
    let r = request(&app.base, "GET", "/v2/organization/me", &[], vec![]).await;
    assert_eq!(r.status, 401);
}
