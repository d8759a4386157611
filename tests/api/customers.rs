//! Customer identification in write bodies and reads (docs/contract.md#customers-in-requests), and registration.

use crate::support::*;
use serde_json::{json, Value};

fn link_flexi(customer: Value) -> Value {
    link_body(customer, "FlexiPass", json!({}))
}

#[tokio::test]
async fn customers_are_found_by_every_identifier_kind() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let id = f
        .org
        .customer(json!({
            "mobile": "919711111111", "email": "Jane@Example.com", "externalId": "EXT-9", "programIds": [f.rewards]
        }))
        .await;
    let forms = [
        json!({"mobile": 919711111111u64}),
        json!({"mobile": "+91 97111 11111"}),
        json!({"email": "jane@example.com"}),
        json!({"externalId": "EXT-9"}),
        json!({"id": id}),
        json!({"id": id.to_string(), "mobile": "", "email": ""}),
        json!({"mobile": "919711111111", "email": "JANE@example.com", "externalId": "EXT-9", "id": id}),
    ];
    for (i, customer) in forms.into_iter().enumerate() {
        let r = f.org.link(link_flexi(customer.clone())).await;
        let c = &r.body["linkCustomers"][0]["customer"];
        assert_eq!(c["status"]["code"], 1000, "form {i}: {}", r.text);
        // The customer as stored comes back, whatever identifiers named it (Capillary's shape):
        // mobile as a string even when sent as a number, the email as stored.
        assert_eq!(
            c,
            &json!({"id": id, "mobile": "919711111111", "email": "jane@example.com", "externalId": "EXT-9",
                    "status": {"status": true, "code": 1000, "message": "Customer successfully retrieved"}}),
            "form {i}"
        );
        let code = r.body["linkCustomers"][0]["linkToPartnerPrograms"][0]["partnerLinkStatus"]["code"].clone();
        assert_eq!(code, if i == 0 { 200 } else { 2005 }, "form {i}: {}", r.text);
    }
    for (name, value) in
        [("mobile", "919711111111"), ("email", "jane%40example.com"), ("externalId", "EXT-9"), ("id", &id.to_string())]
    {
        let r = f.org.linked_programs(name, value).await;
        assert_eq!(r.body["linkedPartnerPrograms"][0]["partnerProgramName"], "FlexiPass", "{name}: {}", r.text);
    }
}

#[tokio::test]
async fn unknown_customer_reports_8015_and_its_programs_are_untouched() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let known = f.enrolled("919722222222").await;
    let r = f
        .org
        .link(json!({"linkCustomers": [
            {"customer": {"mobile": "919799999999"}, "linkToPartnerPrograms": [{"partnerProgramName": "FlexiPass"}]},
            {"customer": {"mobile": "919722222222"}, "linkToPartnerPrograms": [{"partnerProgramName": "FlexiPass"}]}
        ]}))
        .await;
    assert_eq!(r.status, 201);
    let unknown = &r.body["linkCustomers"][0];
    assert_eq!(unknown["customer"]["status"]["status"], false);
    assert_eq!(unknown["customer"]["status"]["code"], 8015);
    assert_eq!(unknown["customer"]["status"]["message"], "No customer found with the given identifier");
    // Each program entry carries the failure too.
    assert_eq!(unknown["linkToPartnerPrograms"][0]["partnerProgramName"], "FlexiPass");
    assert_eq!(unknown["linkToPartnerPrograms"][0]["partnerLinkStatus"]["status"], false);
    assert_eq!(unknown["linkToPartnerPrograms"][0]["partnerLinkStatus"]["code"], 8015);
    assert_eq!(r.body["linkCustomers"][1]["linkToPartnerPrograms"][0]["partnerLinkStatus"]["code"], 200);
    assert_eq!(stored(&app.state, f.org.org_id, known, "LINK#").await.len(), 1);
    let r = f.org.linked_programs("mobile", "919799999999").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["errors"][0]["code"], 8015);
}

#[tokio::test]
async fn identifiers_of_two_different_customers_are_refused() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let a = f.enrolled("919733333333").await;
    let b = f.enrolled("919744444444").await;
    let r = f.org.link(link_flexi(json!({"mobile": "919733333333", "email": "919744444444@example.com"}))).await;
    let st = &r.body["linkCustomers"][0]["customer"]["status"];
    assert_eq!(st["code"], 8015);
    assert!(st["detail"].as_str().unwrap().contains("different customers"), "{st}");
    let r = f.org.link(link_flexi(json!({"id": b, "mobile": "919733333333"}))).await;
    assert!(r.body["linkCustomers"][0]["customer"]["status"]["detail"]
        .as_str()
        .unwrap()
        .contains("different customers"));
    assert!(stored(&app.state, f.org.org_id, a, "LINK#").await.is_empty());
    assert!(stored(&app.state, f.org.org_id, b, "LINK#").await.is_empty());
    let r = f.org.link(link_flexi(json!({"mobile": "", "email": ""}))).await;
    assert!(r.body["linkCustomers"][0]["customer"]["status"]["detail"]
        .as_str()
        .unwrap()
        .contains("no customer identifier"));
}

#[tokio::test]
async fn duplicate_identifier_on_registration_is_409() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919755555555").await;
    let r =
        f.org.post(&f.org.admin, "/v2/customers", json!({"mobile": "919755555555", "programIds": [f.rewards]})).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["errors"][0]["message"], "a customer with this mobile already exists");
    let r = f
        .org
        .post(&f.org.admin, "/v2/customers", json!({"mobile": "919755555556", "externalId": "X-919755555555"}))
        .await;
    assert_eq!(r.status, 409);
    assert!(r.body["errors"][0]["message"].as_str().unwrap().contains("externalId"));
    // Nothing of the refused registration stays behind: its mobile is still free.
    let r = f.org.post(&f.org.admin, "/v2/customers", json!({"mobile": "919755555556"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = f.org.post(&f.org.admin, "/v2/customers", json!({"firstName": "No identifiers"})).await;
    assert_eq!(r.status, 400);
}

/// Storage failing a registration is an outage, not a bug: 503 with `Retry-After` (it answered
/// 500 when each admin handler mapped storage failures itself).
#[tokio::test]
async fn a_registration_that_storage_fails_is_a_503_with_retry_after_not_a_500() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let down = std::sync::Arc::new(AtomicBool::new(false));
    let app = TestApp::start_with_interceptor(crate::idempotency::Down { on: down.clone(), queries: false }).await;
    let f = fixture(&app).await;
    down.store(true, Ordering::SeqCst);
    let r =
        f.org.post(&f.org.admin, "/v2/customers", json!({"mobile": "919760000001", "programIds": [f.rewards]})).await;
    down.store(false, Ordering::SeqCst);
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(r.headers.contains_key("retry-after"), "{:?}", r.headers);
    let program = json!({"programId": f.rewards, "partnerProgramType": "EXTERNAL", "tierBased": false});
    down.store(true, Ordering::SeqCst);
    let r = f.org.put(&f.org.admin, "/v2/organization/partnerPrograms/DownMiles", program).await;
    down.store(false, Ordering::SeqCst);
    assert_eq!(r.status, 503, "a partner program PUT likewise: {}", r.text);
}
