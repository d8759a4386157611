//! The org's one-subscription rule: with `oneSupplementaryPerCustomer` on,
//! a customer holds at most one active SUPPLEMENTARY membership, enforced inside the linking
//! transaction by the customer's `SUBSCRIPTION` guard item.

use crate::support::*;
use serde_json::{json, Value};
use shared::storage::keys;
use shared::storage::records::SubscriptionRecord;

fn supplementary(program_id: u64) -> Value {
    json!({"programId": program_id, "partnerProgramType": "SUPPLEMENTARY", "tierBased": false,
           "membershipPeriodType": "DAYS", "membershipPeriodValue": 30})
}

async fn set_rule(app: &TestApp, org: u64, on: bool) {
    assert!(app.state.store.set_one_supplementary_per_customer(org, on).await.unwrap());
    app.state.invalidate(org);
}

async fn guard(app: &TestApp, org: u64, customer: u64) -> Option<SubscriptionRecord> {
    app.state.store.get(&keys::subscription_guard(org, customer)).await.unwrap()
}

fn link_status(r: &Resp) -> Value {
    first_status(r, "linkCustomers", "linkToPartnerPrograms", "partnerLinkStatus")
}

#[tokio::test]
async fn one_subscription_rule_lets_exactly_one_of_ten_concurrent_links_win() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    set_rule(&app, f.org.org_id, true).await;
    let names: Vec<String> = (0..10).map(|i| format!("Sub{i}")).collect();
    for name in &names {
        f.org.partner_program(name, supplementary(f.rewards)).await;
    }
    let customer = f.enrolled("919700000001").await;
    let links = names.iter().map(|name| f.org.link(link_body(json!({"mobile": "919700000001"}), name, json!({}))));
    let responses = futures::future::join_all(links).await;

    let winners: Vec<&String> = names.iter().zip(&responses).filter(|(_, r)| r.status == 200).map(|(n, _)| n).collect();
    assert_eq!(winners.len(), 1, "{:?}", responses.iter().map(|r| &r.text).collect::<Vec<_>>());
    let winner = winners[0];
    for (name, r) in names.iter().zip(&responses).filter(|(n, _)| *n != winner) {
        assert_eq!(r.status, 201, "{name}: {}", r.text);
        let status = link_status(r);
        assert_eq!(
            (status["status"].as_bool(), status["code"].as_u64()),
            (Some(false), Some(2001)),
            "{name}: {}",
            r.text
        );
        assert_eq!(status["message"], "Cannot process the partner program event.");
        let detail = status["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("membership in {winner};")), "{name}: {detail}");
    }
    let held = guard(&app, f.org.org_id, customer).await.expect("the winner holds the guard");
    assert_eq!(&held.partner_program_name, winner);
    let linked: Vec<_> = stored(&app.state, f.org.org_id, customer, "LINK#").await;
    assert_eq!(linked.len(), 1, "only the winner's linkage was written");

    // Delinking the winner frees the subscription for another program.
    let loser = names.iter().find(|n| *n != winner).unwrap();
    let again = f.org.link(link_body(json!({"mobile": "919700000001"}), loser, json!({}))).await;
    assert_eq!(link_status(&again)["code"], 2001, "{}", again.text);
    let r = f
        .org
        .delink(json!({
            "deLinkCustomers": [{
                "customer": {"mobile": "919700000001"}, "deLinkFromPartnerPrograms": [{"partnerProgramName": winner}]
            }]
        }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(guard(&app, f.org.org_id, customer).await.is_none(), "delink releases the guard");
    let r = f.org.link(link_body(json!({"mobile": "919700000001"}), loser, json!({}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(guard(&app, f.org.org_id, customer).await.unwrap().partner_program_name, *loser);
}

#[tokio::test]
async fn without_the_rule_a_customer_holds_several_supplementary_memberships() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.org.partner_program("DayPass", supplementary(f.rewards)).await;
    let customer = f.enrolled("919700000002").await;
    for name in ["FlexiPass", "DayPass"] {
        let r = f.org.link(link_body(json!({"mobile": "919700000002"}), name, json!({}))).await;
        assert_eq!(r.status, 200, "{name}: {}", r.text);
    }
    assert!(guard(&app, f.org.org_id, customer).await.is_none(), "no guard while the rule is off");
}

#[tokio::test]
async fn the_rule_names_a_membership_linked_before_it_was_on_and_leaves_external_programs_alone() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.org.partner_program("DayPass", supplementary(f.rewards)).await;
    f.enrolled("919700000003").await;
    let r = f.org.link(link_body(json!({"mobile": "919700000003"}), "FlexiPass", json!({}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    set_rule(&app, f.org.org_id, true).await;

    let r = f.org.link(link_body(json!({"mobile": "919700000003"}), "DayPass", json!({}))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let status = link_status(&r);
    assert_eq!(status["code"], 2001);
    assert!(status["detail"].as_str().unwrap().contains("membership in FlexiPass;"), "{}", r.text);

    let r = f
        .org
        .link(link_body(
            json!({"mobile": "919700000003"}),
            "SkyMiles",
            json!({"partnerTierName": "Gold", "partnerTierExpiryDate": future_date(30)}),
        ))
        .await;
    assert_eq!(r.status, 200, "EXTERNAL programs are not subscriptions: {}", r.text);
}
