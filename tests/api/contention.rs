//! Bursts of writers (docs/contract.md#concurrency): the loser of a conditional write re-reads and retries within
//! a time budget, so a burst on one linkage is served in turn. These assert invariants (no lost
//! update, history in commit order, counters equal to the successes) and print the figures:
//! `make test ARGS="contention -- --nocapture"` or
//! `cargo test --test api contention -- --nocapture` with DynamoDB Local running.

use crate::hardening::assert_commit_order;
use crate::support::*;
use crate::update_partner_program::{activity_types, assert_code, linked_gold, n, update_body, M2010};
use serde_json::{json, Value};
use std::time::Instant;

const HISTORY: &str = "/v2/partnerProgram/customerActivityHistories";

/// Must-show 1: 40 concurrent RENEW requests on one linkage.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_concurrent_renewals_are_served_in_turn_with_history_in_commit_order() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let mobile = "919791000001";
    let id = linked_gold(&f, mobile, 30).await;
    let started = Instant::now();
    let responses = futures::future::join_all((0..40).map(|i| {
        let body = update_body(
            json!({"mobile": mobile}),
            "SkyMiles",
            "RENEW",
            Some(json!({"updatedTierExpiryDate": future_date(100 + i)})),
        );
        f.org.post(&f.org.api, "/v2/partnerProgram/customerPartnerProgramUpdate", body)
    }))
    .await;
    let elapsed = started.elapsed();
    let mut successes = 0u64;
    for r in &responses {
        let s = first_status(r, "customersPartnerUpdates", "partnerProgramUpdates", "updateStatus");
        if s["code"] == 200 {
            successes += 1;
        } else {
            assert_code(&s, 2010, M2010);
        }
    }
    println!(
        "40 concurrent RENEW on one linkage: {successes} succeeded, {} got 2010, {:.2} s",
        40 - successes,
        elapsed.as_secs_f64()
    );
    assert!(successes >= 38, "{successes} of 40 renewals succeeded");

    // No lost update: every success is one version and one RENEW record, nothing else.
    let linkage = &stored(&app.state, f.org.org_id, id, "LINK#").await[0];
    assert_eq!(n(linkage, "version"), 1 + successes);
    let kinds = activity_types(&stored(&app.state, f.org.org_id, id, "HIST#").await);
    assert_eq!(kinds.iter().filter(|k| *k == "RENEW").count() as u64, successes, "{kinds:?}");

    // History in commit order, the newest record equal to the stored state.
    let read = f
        .org
        .get(
            &f.org.api,
            &format!("{HISTORY}?identifierName=mobile&identifierValue={mobile}&activityType=LINKINGUPDATES&limit=100"),
        )
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    let records: Vec<Value> = read.body["data"][0]["customerActivityHistory"].as_array().unwrap().clone();
    assert_eq!(records.len() as u64, 1 + successes);
    assert_commit_order(&records);
    let state = &read.body["data"][0]["partnerProgramDetails"];
    let newest = &records[0]["to"];
    assert_eq!(newest["partnerTierName"], state["partnerTierName"]);
    assert_eq!(newest["partnerTierExpiryDate"], state["partnerTierExpiryDate"]);
    let stored_expiry = shared::domain::dates::format_utc(linkage["tierExpiryDate"].as_s().unwrap().parse().unwrap());
    assert_eq!(newest["partnerTierExpiryDate"], json!(stored_expiry));
    println!(
        "history: {} linking records, each from = previous to, newest = stored state (expiry {stored_expiry})",
        records.len()
    );
}

/// Must-show 2: ten parallel batches, each availing a benefit for the same 50 customers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_parallel_benefit_batches_over_fifty_customers_keep_every_counter_exact() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let mobiles: Vec<String> = (0..50).map(|i| format!("9197920{i:05}")).collect();
    let mut ids = Vec::new();
    for m in &mobiles {
        ids.push(linked_gold(&f, m, 30).await);
    }
    let batch = json!({
        "customerBenefits": mobiles.iter().map(|m| json!({
            "customer": {"mobile": m},
            "partnerProgramBenefits": [{
                "partnerProgramName": "SkyMiles", "benefits": [{"name": "PriorityBoarding", "count": 1}]
            }]
        })).collect::<Vec<_>>()
    });
    let started = Instant::now();
    let responses = futures::future::join_all(
        (0..10).map(|_| f.org.post(&f.org.api, "/v2/partnerProgram/customerBenefits", batch.clone())),
    )
    .await;
    let elapsed = started.elapsed();
    let mut per_customer = vec![0u64; 50];
    let mut queued = 0u64;
    for r in &responses {
        assert!(r.status == 200 || r.status == 201, "{}", r.text);
        for (i, c) in r.body["customerBenefits"].as_array().unwrap().iter().enumerate() {
            let s = &c["partnerProgramBenefits"][0]["benefitStatus"];
            if s["code"] == 200 {
                per_customer[i] += 1;
            } else {
                assert_code(s, 2010, M2010);
                queued += 1;
            }
        }
    }
    let total: u64 = per_customer.iter().sum();
    println!(
        "10 parallel 50-customer benefit batches: {total} of 500 items succeeded, {queued} got 2010, {:.2} s",
        elapsed.as_secs_f64()
    );
    for (i, id) in ids.iter().enumerate() {
        let linkage = &stored(&app.state, f.org.org_id, *id, "LINK#").await[0];
        let counter: u64 = linkage["benefitCounters"].as_m().unwrap()["PriorityBoarding"].as_m().unwrap()
            ["countInCycle"]
            .as_n()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(counter, per_customer[i], "customer {i}: counter vs successes");
        let records = activity_types(&stored(&app.state, f.org.org_id, *id, "HIST#").await)
            .iter()
            .filter(|k| *k == "BENEFITSAVAILED")
            .count() as u64;
        assert_eq!(records, per_customer[i], "customer {i}: records vs successes");
    }
    println!("every counter equals the sum of its successes (50 customers)");
}
