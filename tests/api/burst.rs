//! Bursts of parallel batches (docs/architecture.md#backpressure): the process queues its storage
//! calls before their attempts start, so under a burst every item ends applied or refused with a
//! known code, never "unknown" because we overloaded storage ourselves. The server runs on the
//! Lambdas' own SDK settings (1 s per attempt), where the burst used to time attempts out while
//! they waited in storage's queue. Figures: `cargo test --test api burst -- --nocapture`.

use crate::support::*;
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Instant;

const BATCHES: usize = 10;
const HISTORY: &str = "/v2/partnerProgram/customerActivityHistories";
const PER_BATCH: usize = 50;

/// An item whose outcome the service could not tell (2001 saying "unknown").
fn is_unknown(status: &Value) -> bool {
    status["code"] == 2001 && status["detail"].as_str().is_some_and(|d| d.contains("unknown"))
}

/// Sends `bodies` to `path` all at once; returns each response's (HTTP status, per-customer item
/// statuses in request order).
async fn burst(f: &Fixture, path: &str, bodies: Vec<Value>, names: (&str, &str, &str)) -> Vec<(u16, Vec<Value>)> {
    let (batch, programs, status) = names;
    let responses = futures::future::join_all(bodies.into_iter().map(|b| f.org.post(&f.org.api, path, b))).await;
    responses
        .into_iter()
        .map(|r| {
            let items = r.body[batch]
                .as_array()
                .map(|customers| customers.iter().map(|c| c[programs][0][status].clone()).collect())
                .unwrap_or_default();
            (r.status, items)
        })
        .collect()
}

/// Items by code, and the 503s, as the figures to print.
fn tally(responses: &[(u16, Vec<Value>)]) -> (BTreeMap<String, usize>, usize) {
    let mut codes = BTreeMap::new();
    for (_, items) in responses {
        for s in items {
            let key = if is_unknown(s) { "2001 unknown".to_string() } else { s["code"].to_string() };
            *codes.entry(key).or_default() += 1;
        }
    }
    (codes, responses.iter().filter(|(status, _)| *status == 503).count())
}

/// Every item applied, refused with 2010 or with one of `refusals`; none unknown, no 503 (no
/// request of the burst failed as a whole).
fn assert_known(responses: &[(u16, Vec<Value>)], refusals: &[u64]) {
    for (status, items) in responses {
        assert!(*status == 200 || *status == 201, "a batch answered {status}");
        assert_eq!(items.len(), PER_BATCH);
        for s in items {
            assert!(!is_unknown(s), "an item's outcome is unknown: {s}");
            let code = s["code"].as_u64().unwrap();
            assert!(code == 200 || code == 2010 || refusals.contains(&code), "unexpected item status {s}");
        }
    }
}

fn count_of(items: &[crate::update_partner_program::Item], kind: &str) -> usize {
    items.iter().filter(|i| i["activityType"].as_s().is_ok_and(|k| k == kind)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_batches_end_applied_or_refused_never_unknown_and_counters_match_their_successes() {
    let app = TestApp::start_like_lambda().await;
    let f = fixture(&app).await;
    let mobiles: Vec<String> = (0..BATCHES * PER_BATCH).map(|i| format!("9197{:08}", 40_000 + i)).collect();
    let ids: Vec<u64> = futures::stream::iter(mobiles.iter().map(|m| f.enrolled(m))).buffered(16).collect().await;

    // 10 parallel link batches of 50 distinct customers: no two items touch the same linkage.
    let link_bodies = mobiles
        .chunks(PER_BATCH)
        .map(|chunk| {
            let customers: Vec<Value> = chunk
                .iter()
                .map(|m| {
                    json!({
                        "customer": {"mobile": m},
                        "linkToPartnerPrograms": [{
                            "partnerProgramName": "SkyMiles",
                            "customerPartnerReference": {
                                "partnerTierName": "Gold", "partnerTierExpiryDate": future_date(400),
                                "partnerMembershipId": format!("SM-{m}")
                            }
                        }]
                    })
                })
                .collect();
            json!({"linkCustomers": customers})
        })
        .collect();
    let started = Instant::now();
    let links = burst(
        &f,
        "/v2/partnerProgram/linkCustomer",
        link_bodies,
        ("linkCustomers", "linkToPartnerPrograms", "partnerLinkStatus"),
    )
    .await;
    let (codes, failed) = tally(&links);
    println!(
        "{BATCHES} x {PER_BATCH} links of distinct customers: items {codes:?}, 503s {failed}, {:.2} s",
        started.elapsed().as_secs_f64()
    );
    assert_known(&links, &[]);
    let link_statuses: Vec<&Value> = links.iter().flat_map(|(_, items)| items).collect();
    for (id, status) in ids.iter().zip(&link_statuses) {
        let enrollments = count_of(&stored(&app.state, f.org.org_id, *id, "HIST#").await, "ENROLLMENT");
        assert_eq!(enrollments, usize::from(status["code"] == 200), "customer {id}: {status}");
    }

    // 10 parallel benefit batches over the same 50 linked customers: 10 writers on each linkage.
    let linked: Vec<(u64, &String)> = ids
        .iter()
        .zip(&mobiles)
        .zip(&link_statuses)
        .filter(|(_, s)| s["code"] == 200)
        .map(|((id, m), _)| (*id, m))
        .take(PER_BATCH)
        .collect();
    assert_eq!(linked.len(), PER_BATCH, "not enough customers linked for the benefit burst");
    let benefit_body = json!({
        "customerBenefits": linked.iter().map(|(_, m)| json!({
            "customer": {"mobile": m},
            "partnerProgramBenefits": [{
                "partnerProgramName": "SkyMiles", "benefits": [{"name": "PriorityBoarding", "count": 1}]
            }]
        })).collect::<Vec<_>>()
    });
    let started = Instant::now();
    let benefits = burst(
        &f,
        "/v2/partnerProgram/customerBenefits",
        vec![benefit_body; BATCHES],
        ("customerBenefits", "partnerProgramBenefits", "benefitStatus"),
    )
    .await;
    let (codes, failed) = tally(&benefits);
    println!(
        "{BATCHES} x {PER_BATCH} benefits over the same customers: items {codes:?}, 503s {failed}, {:.2} s",
        started.elapsed().as_secs_f64()
    );
    assert_known(&benefits, &[]);

    // Each counter equals its customer's 200s; so does its number of benefit records.
    let mut mismatches = Vec::new();
    for (k, (id, mobile)) in linked.iter().enumerate() {
        let successes = benefits.iter().filter(|(_, items)| items[k]["code"] == 200).count() as u64;
        let path =
            format!("{HISTORY}?identifierName=mobile&identifierValue={mobile}&activityType=BENEFITSAVAILED&limit=100");
        let read = f.org.get(&f.org.api, &path).await;
        let details = &read.body["data"][0]["partnerProgramDetails"];
        let summary = details["benefitsSummary"].as_array().cloned().unwrap_or_default();
        let counter =
            summary.iter().find(|b| b["name"] == "PriorityBoarding").map(|b| b["countAvailedInCurrentCycle"].clone());
        let listed = read.body["pagination"]["total"].as_u64().unwrap_or(0);
        let records = count_of(&stored(&app.state, f.org.org_id, *id, "HIST#").await, "BENEFITSAVAILED") as u64;
        if counter != Some(json!(successes)) || records != successes || listed != successes {
            mismatches.push(format!(
                "customer {id}: {successes} successes, counter {counter:?}, {records} records, {listed} listed"
            ));
        }
    }
    println!("counter mismatches: {}", mismatches.len());
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

/// The process's storage calls all busy (the test holds the only turn) until the request's
/// deadline: no call of the batch is made, so nothing is applied, and with no write sent the
/// answer is a clean 503 with `Retry-After`, not "unknown". The request goes through the router
/// in process with the caller already established, as behind the Lambda authorizer (the local
/// server's own client lookup would wait for the held turn too).
#[tokio::test]
async fn a_batch_whose_calls_get_no_turn_before_its_deadline_is_refused_with_503_and_applies_nothing() {
    use shared::domain::model::{AuthContext, Role};
    use shared::http::api::ApiRequest;
    let app = TestApp::start_with_config(|c| {
        c.storage_concurrency = 1;
        c.write_request_budget = std::time::Duration::from_millis(300);
    })
    .await;
    let f = fixture(&app).await;
    let id = f.enrolled("919750000001").await;
    f.enrolled("919750000002").await;
    // Another customer's link first: the org's catalog is then cached, as in a warm container.
    let warm =
        f.org.link(link_body(json!({"mobile": "919750000002"}), "SkyMiles", json!({"partnerTierName": "Gold"}))).await;
    assert_eq!(warm.status, 200, "{}", warm.text);
    let body = link_body(json!({"mobile": "919750000001"}), "SkyMiles", json!({"partnerTierName": "Gold"}));
    let request = || ApiRequest {
        method: "POST".into(),
        path: "/v2/partnerProgram/linkCustomer".into(),
        path_params: Default::default(),
        query: Default::default(),
        headers: [("content-type".to_string(), "application/json".to_string())].into(),
        body: body.to_string().into_bytes(),
        auth: AuthContext { org_id: f.org.org_id, role: Role::Api, client_key: "ck_busy".into(), display_name: None },
        request_id: "busy".into(),
    };
    let link = shared::operations::link_customer::handle;
    let turn =
        app.state.store.admission().enter("test", shared::storage::admission::Patience::Unbounded).await.unwrap();
    let r = Box::pin(shared::http::router::dispatch(&app.state, link, request(), None)).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("retry-after")), "{:?}", r.headers);
    drop(turn);
    assert!(stored(&app.state, f.org.org_id, id, "LINK#").await.is_empty(), "nothing applied");
    // With turns free again, the same batch is served.
    let r = Box::pin(shared::http::router::dispatch(&app.state, link, request(), None)).await;
    assert_eq!(r.status, 200, "{}", r.body);
}
