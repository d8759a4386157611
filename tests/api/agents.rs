//! Agents: per-person clients with a display name. An agent reads members and acts on them like an
//! `api` client, and is refused (403) whatever configures programs, registers or erases customers.

use crate::support::*;
use serde_json::json;
use shared::domain::model::Role;

/// A new agent client of `org` with a display name, as its Basic header.
async fn agent(app: &TestApp, org: &TestOrg, name: &str) -> String {
    let creds = shared::http::auth::create_named_client(&app.state.store, org.org_id, Role::Agent, Some(name.into()))
        .await
        .unwrap();
    creds.basic_header()
}

#[tokio::test]
async fn an_agent_acts_on_members_but_configures_nothing_and_registers_or_erases_no_one() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let id = f.enrolled("919781000001").await;
    let asha = agent(&app, &f.org, "Asha Rao").await;
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
