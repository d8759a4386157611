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
    // The expiry preview is a read for agents too (what happens next to a member).
    let r = f
        .org
        .get(&asha, &format!("/v2/partnerProgram/expiryPreview?until={}", future_date(30).replace('+', "%2B")))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
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

/// The history entries of one customer, all programs, as the API shows them.
async fn history(org: &TestOrg, auth: &str, id: u64) -> Vec<Value> {
    let path = format!("/v2/partnerProgram/customerActivityHistories?identifierName=id&identifierValue={id}");
    let r = org.get(auth, &path).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["customerActivityHistory"].as_array().unwrap().clone())
        .collect()
}

/// The outbox event payloads about one customer.
async fn events(app: &TestApp, org: u64, id: u64) -> Vec<Value> {
    let id = id.to_string();
    scan_entities(&app.state, "EVENT", Some(org))
        .await
        .iter()
        .map(|e| serde_json::from_str::<Value>(e["payload"].as_s().unwrap()).unwrap())
        .filter(|e| e["refId"].as_str() == Some(id.as_str()))
        .collect()
}

fn reason(code: &str, note: &str) -> Value {
    json!({"code": code, "note": note})
}

#[tokio::test]
async fn history_entries_and_events_say_who_acted_and_why() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let id = f.enrolled("919781000011").await;
    let asha = agent(&f.org, "Asha Rao").await;
    let customer = json!({"id": id});
    let link = json!({"linkCustomers": [{"customer": customer, "linkToPartnerPrograms": [{
        "partnerProgramName": "SkyMiles", "reason": reason("CUSTOMER_REQUEST", "  asked at the counter  "),
        "customerPartnerReference": {"partnerTierName": "Silver", "partnerTierExpiryDate": future_date(60)}}]}]});
    assert_eq!(f.org.post(&asha, "/v2/partnerProgram/linkCustomer", link).await.status, 200);
    let renew = json!({"customersPartnerUpdates": [{"customer": customer, "partnerProgramUpdates": [{
        "partnerProgramName": "SkyMiles", "updateType": "RENEW", "reason": {"code": "GOODWILL"},
        "updateDetails": {"updatedTierExpiryDate": future_date(400)}}]}]});
    let r = f.org.post(&asha, "/v2/partnerProgram/customerPartnerProgramUpdate", renew).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let benefit = json!({"customerBenefits": [{"customer": customer, "partnerProgramBenefits": [{
        "partnerProgramName": "SkyMiles", "benefits": [{"name": "LoungeAccess", "count": 1}],
        "reason": reason("PARTNER_CORRECTION", "lounge visit\nnot recorded by the partner")}]}]});
    assert_eq!(f.org.post(&asha, "/v2/partnerProgram/customerBenefits", benefit).await.status, 200);
    // The api client, without a reason: named as itself, no reason.
    let delink = json!({"deLinkCustomers": [{"customer": customer,
        "deLinkFromPartnerPrograms": [{"partnerProgramName": "SkyMiles"}]}]});
    assert_eq!(f.org.delink(delink).await.status, 200);

    let me = f.org.get(&asha, "/v2/organization/me").await.body;
    let asha_actor = json!({"clientKey": me["clientKey"], "displayName": "Asha Rao", "role": "agent"});
    let api_key = f.org.get(&f.org.api, "/v2/organization/me").await.body["clientKey"].clone();
    let api_actor = json!({"clientKey": api_key, "role": "api"});
    let expected = [
        ("ENROLLMENT", &asha_actor, Some(json!({"code": "CUSTOMER_REQUEST", "note": "asked at the counter"}))),
        ("RENEW", &asha_actor, Some(json!({"code": "GOODWILL"}))),
        (
            "BENEFITSAVAILED",
            &asha_actor,
            Some(json!({"code": "PARTNER_CORRECTION", "note": "lounge visit\nnot recorded by the partner"})),
        ),
        ("DELINK", &api_actor, None),
    ];
    let entries = history(&f.org, &asha, id).await;
    for (kind, actor, why) in &expected {
        let e = entries.iter().find(|e| e["activityType"] == *kind).unwrap_or_else(|| panic!("no {kind}: {entries:?}"));
        assert_eq!(&e["actor"], *actor, "{kind}: {e}");
        assert_eq!(e.get("reason"), why.as_ref(), "{kind}: {e}");
    }
    let events = events(&app, f.org.org_id, id).await;
    assert_eq!(events.len(), 4, "{events:?}");
    for (kind, actor, why) in &expected {
        // A link's event says LINK where its history record says ENROLLMENT.
        let update_type = if *kind == "ENROLLMENT" { "LINK" } else { kind };
        let e = events.iter().find(|e| e["data"]["updateType"] == update_type).unwrap_or_else(|| panic!("no {kind}"));
        assert_eq!(&e["data"]["actor"], *actor, "{kind}: {e}");
        assert_eq!(e["data"].get("reason"), why.as_ref(), "{kind}: {e}");
    }
    // Never the secret, on any record.
    let secret_free = entries.iter().chain(&events).all(|v| !v.to_string().contains("secret"));
    assert!(secret_free);
}

#[tokio::test]
async fn a_malformed_reason_refuses_only_its_own_entry() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let id = f.enrolled("919781000021").await;
    let asha = agent(&f.org, "Asha Rao").await;
    for (bad, says) in [
        (json!({"code": "BECAUSE"}), "reason.code must be one of CUSTOMER_REQUEST, PARTNER_CORRECTION"),
        (json!({"note": "no code"}), "reason.code must be one of"),
        (json!("CUSTOMER_REQUEST"), "reason must be an object"),
        (json!({"code": "OTHER", "note": 5}), "reason.note must be text"),
        (json!({"code": "OTHER", "note": "x".repeat(501)}), "reason.note is longer than 500 characters (501)"),
        (json!({"code": "OTHER", "note": "tab\there"}), "reason.note contains control characters"),
        (json!({"code": "OTHER", "by": "me"}), "reason has no field \"by\""),
    ] {
        let body = json!({"linkCustomers": [{"customer": {"id": id}, "linkToPartnerPrograms": [
            {"partnerProgramName": "SkyMiles", "reason": bad,
             "customerPartnerReference": {"partnerTierName": "Silver"}},
            {"partnerProgramName": "FlexiPass", "reason": {"code": "OTHER", "note": "fine"}}]}]});
        let r = f.org.post(&asha, "/v2/partnerProgram/linkCustomer", body).await;
        assert_eq!(r.status, 201, "{bad}: {}", r.text);
        let statuses = &r.body["linkCustomers"][0]["linkToPartnerPrograms"];
        assert_eq!(statuses[0]["partnerLinkStatus"]["code"], 2001, "{bad}: {}", r.text);
        let detail = statuses[0]["partnerLinkStatus"]["detail"].as_str().unwrap();
        assert!(detail.contains(says), "{bad}: {detail}");
        assert_eq!(statuses[1]["partnerLinkStatus"]["status"], true, "{bad}: {}", r.text);
        // The other entry went through; take it back for the next round.
        let delink = json!({"deLinkCustomers": [{"customer": {"id": id},
            "deLinkFromPartnerPrograms": [{"partnerProgramName": "FlexiPass"}]}]});
        assert_eq!(f.org.post(&asha, "/v2/partnerProgram/deLinkCustomer", delink).await.status, 200);
    }
    // Nothing of the refused entries was written.
    let linked = f
        .org
        .get(&asha, &format!("/v2/partnerProgram/customerPartnerPrograms?identifierName=id&identifierValue={id}"))
        .await;
    assert!(!linked.text.contains("SkyMiles"), "{}", linked.text);
    assert!(history(&f.org, &asha, id)
        .await
        .iter()
        .all(|e| e["activityType"] != "ENROLLMENT" || e["actor"]["role"] == "agent"));
    // The same refusal on the other three APIs, naming the field.
    let bad = json!({"code": "NOPE"});
    for (path, body, status) in [
        (
            "/v2/partnerProgram/customerPartnerProgramUpdate",
            json!({"customersPartnerUpdates": [{"customer": {"id": id},
            "partnerProgramUpdates": [{"partnerProgramName": "SkyMiles", "updateType": "RENEW", "reason": bad}]}]}),
            "/customersPartnerUpdates/0/partnerProgramUpdates/0/updateStatus",
        ),
        (
            "/v2/partnerProgram/deLinkCustomer",
            json!({"deLinkCustomers": [{"customer": {"id": id},
            "deLinkFromPartnerPrograms": [{"partnerProgramName": "SkyMiles", "reason": bad}]}]}),
            "/deLinkCustomers/0/deLinkFromPartnerPrograms/0/partnerDeLinkStatus",
        ),
        (
            "/v2/partnerProgram/customerBenefits",
            json!({"customerBenefits": [{"customer": {"id": id},
            "partnerProgramBenefits": [{"partnerProgramName": "SkyMiles", "reason": bad,
            "benefits": [{"name": "LoungeAccess", "count": 1}]}]}]}),
            "/customerBenefits/0/partnerProgramBenefits/0/benefitStatus",
        ),
    ] {
        let r = f.org.post(&asha, path, body).await;
        assert_eq!(r.status, 201, "{path}: {}", r.text);
        let st = r.body.pointer(status).unwrap();
        assert_eq!(st["code"], 2001, "{path}: {}", r.text);
        assert!(st["detail"].as_str().unwrap().starts_with("reason.code must be one of"), "{path}: {st}");
    }
}

#[tokio::test]
async fn a_replay_with_another_reason_under_the_same_key_is_422() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let id = f.enrolled("919781000031").await;
    let body = |code: &str| {
        json!({"linkCustomers": [{"customer": {"id": id}, "linkToPartnerPrograms": [{
        "partnerProgramName": "FlexiPass", "reason": {"code": code, "note": "walk-in"}}]}]})
    };
    let first = f.org.post_keyed("/v2/partnerProgram/linkCustomer", "reason-key-1", &body("CUSTOMER_REQUEST")).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let same = f.org.post_keyed("/v2/partnerProgram/linkCustomer", "reason-key-1", &body("CUSTOMER_REQUEST")).await;
    assert_eq!(same.status, 200, "{}", same.text);
    assert_eq!(same.headers.get("idempotent-replayed").map(String::as_str), Some("true"));
    let other = f.org.post_keyed("/v2/partnerProgram/linkCustomer", "reason-key-1", &body("GOODWILL")).await;
    assert_eq!(other.status, 422, "{}", other.text);
    // Applied once, with the first reason.
    let entries = history(&f.org, &f.org.api, id).await;
    let linked: Vec<&Value> =
        entries.iter().filter(|e| e["activityType"] == "SUPPLEMENTARY_MEMBERSHIP_STARTED").collect();
    assert_eq!(linked.len(), 1, "{entries:?}");
    assert_eq!(linked[0]["reason"]["code"], "CUSTOMER_REQUEST");
}
