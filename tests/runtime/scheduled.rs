//! Functions on an EventBridge schedule answer the scheduled event (`tests/events/<bin>.schedule.json`)
//! with a JSON summary, do the work that is due (a tier that expired a moment ago), do none of it
//! twice, report an unreadable event to `/error`, and call only what their policy grants.

use crate::fixtures::{demo_org, event, link_demo_customer, link_in_process, state, table_name, Sandbox};
use crate::policies::check_recorded;
use crate::template::{functions, Kind};
use serde_json::json;
use shared::domain::model::Linkage;
use shared::state::AppState;
use shared::storage::keys::IdentifierKind;
use std::time::Duration;

/// Links demo customer `mobile` to SkyMiles with a tier that expires `secs` from now.
async fn link_expiring(state: &AppState, org: u64, mobile: &str, secs: i64) {
    let expiry = (chrono::Utc::now() + chrono::Duration::seconds(secs)).format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
    let body = json!({
        "linkCustomers": [{
            "customer": {"mobile": mobile},
            "linkToPartnerPrograms": [{
                "partnerProgramName": "SkyMiles",
                "customerPartnerReference": {"partnerTierName": "Gold", "partnerTierExpiryDate": expiry}
            }]
        }]
    });
    link_in_process(state, org, body.to_string().into_bytes()).await;
}

/// Demo customer `mobile`'s SkyMiles linkage as stored.
async fn skymiles_linkage(state: &AppState, org: u64, mobile: &str) -> Linkage {
    let customer = state.store.customer_id_by(org, IdentifierKind::Mobile, mobile).await.unwrap().unwrap();
    state.invalidate(org);
    let catalog = state.catalog(org).await.unwrap();
    let program = catalog.partner_program("SkyMiles").unwrap().partner_program_id;
    state.store.linkage(org, customer, program).await.unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_functions_answer_the_schedule_event() {
    let scheduled: Vec<_> = functions(&table_name()).into_iter().filter(|f| f.kind == Kind::Scheduled).collect();
    // Without one, the loop below checks nothing and the test would pass on any template.
    assert!(!scheduled.is_empty(), "template.yaml declares no scheduled function: there is nothing to test");
    let state = state().await;
    for f in &scheduled {
        let schedule = event(&format!("{}.schedule.json", f.binary)).unwrap();
        let org = demo_org(&state).await;
        link_demo_customer(&state, org.org_id).await;
        link_expiring(&state, org.org_id, "919740000002", 2).await;
        let linked = skymiles_linkage(&state, org.org_id, "919740000002").await;
        let sandbox = Sandbox::start(f).await;
        sandbox.expect_error(b"not json").await.unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await;

        let summary = sandbox.respond(&schedule).await.unwrap();
        assert!(summary["changed"].as_u64() >= Some(1), "{}: the expired tier was not processed: {summary}", f.binary);
        // Not only "something changed": this very linkage, whose tier expired a moment ago, did.
        let swept = skymiles_linkage(&state, org.org_id, "919740000002").await;
        assert!(
            swept.version > linked.version,
            "{}: the expired tier was not processed: before {linked:?}, after {swept:?}",
            f.binary
        );
        let again = sandbox.respond(&schedule).await.unwrap();
        assert_eq!(again["changed"], 0, "{}: a second run must find nothing left to do: {again}", f.binary);
        let after = skymiles_linkage(&state, org.org_id, "919740000002").await;
        assert_eq!(after.version, swept.version, "{}: a second run changed the linkage again: {after:?}", f.binary);
        let calls = sandbox.recorder.calls();
        assert!(calls.iter().any(|c| !c.warm_up), "{}: no DynamoDB call was recorded", f.binary);
        let docs = crate::metrics::documents(&sandbox.process.log).unwrap();
        assert!(docs.iter().any(|d| d["SweepLinkagesChanged"].as_f64() >= Some(1.0)), "{}: {docs:?}", f.binary);
        check_recorded(f, &sandbox.recorder).unwrap();
    }
}
