//! `Idempotency-Key` on POSTs (docs/contract.md#idempotency): replays write nothing and return the first response
//! byte for byte; another body under the key is 422; a key in flight is 409; a crashed run's lease
//! expires; keys are forgotten after 24 hours.

use crate::support::*;
use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::query::QueryInput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use shared::http::idempotency::{request_hash_of, ClaimState, IdempotencyRecord};
use shared::storage::records::to_item;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const LINK: &str = "/v2/partnerProgram/linkCustomer";

fn replayed(r: &Resp) -> bool {
    r.headers.get("idempotent-replayed").map(String::as_str) == Some("true")
}

fn gold() -> Value {
    json!({"partnerTierName": "Gold", "partnerTierExpiryDate": future_date(300)})
}

/// History and linkage items of the customer: what a request wrote.
async fn writes(app: &TestApp, org: u64, customer: u64) -> (usize, Vec<u64>) {
    let activities = stored(&app.state, org, customer, "HIST#").await.len();
    let versions = stored(&app.state, org, customer, "LINK#")
        .await
        .iter()
        .map(|i| i["version"].as_n().unwrap().parse().unwrap())
        .collect();
    (activities, versions)
}

#[tokio::test]
async fn same_link_sent_three_times_with_one_key_writes_once_and_replays_identical_bodies() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let customer = f.enrolled("919810000001").await;
    let body = link_body(json!({"mobile": "919810000001"}), "SkyMiles", gold());
    let first = f.org.post_keyed(LINK, "link-1", &body).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert!(!replayed(&first));
    for _ in 0..2 {
        let again = f.org.post_keyed(LINK, "link-1", &body).await;
        assert_eq!(again.status, first.status);
        assert_eq!(again.text, first.text, "the replay is not byte-identical");
        assert!(replayed(&again), "{:?}", again.headers);
        assert_eq!(again.headers.get("content-type").map(String::as_str), Some("application/json"));
    }
    assert_eq!(writes(&app, f.org.org_id, customer).await, (1, vec![1]));
    // Without the key the same body runs again (and finds the customer already linked).
    let plain = f.org.link(body.clone()).await;
    assert_eq!(first_status(&plain, "linkCustomers", "linkToPartnerPrograms", "partnerLinkStatus")["code"], 2005);
    // Keys belong to one org: another org's identical key is a different record.
    let other = fixture(&app).await;
    other.enrolled("919810000001").await;
    let r = other.org.post_keyed(LINK, "link-1", &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!replayed(&r));
}

#[tokio::test]
async fn different_body_under_the_same_key_gets_422_and_writes_nothing() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let customer = f.enrolled("919810000002").await;
    let body = link_body(json!({"mobile": "919810000002"}), "SkyMiles", gold());
    assert_eq!(f.org.post_keyed(LINK, "k-422", &body).await.status, 200);
    let other = link_body(json!({"mobile": "919810000002"}), "FlexiPass", json!({}));
    let r = f.org.post_keyed(LINK, "k-422", &other).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["errors"][0]["code"], 422);
    // The same body on another path is another request too.
    let delink = json!({
        "deLinkCustomers": [{
            "customer": {"mobile": "919810000002"}, "deLinkFromPartnerPrograms": [{"partnerProgramName": "SkyMiles"}]
        }]
    });
    let r = f.org.post_keyed("/v2/partnerProgram/deLinkCustomer", "k-422", &delink).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(writes(&app, f.org.org_id, customer).await, (1, vec![1]));
    // Malformed keys are refused before anything runs.
    let r = f.org.post_keyed(LINK, "has space", &other).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(writes(&app, f.org.org_id, customer).await, (1, vec![1]));
}

#[tokio::test]
async fn concurrent_requests_with_one_key_run_once() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let customer = f.enrolled("919810000003").await;
    let body = link_body(json!({"mobile": "919810000003"}), "SkyMiles", gold());
    let results = futures::future::join_all((0..10).map(|_| f.org.post_keyed(LINK, "k-race", &body))).await;
    let originals: Vec<&Resp> = results.iter().filter(|r| r.status == 200 && !replayed(r)).collect();
    assert_eq!(originals.len(), 1, "{:?}", results.iter().map(|r| (r.status, replayed(r))).collect::<Vec<_>>());
    for r in &results {
        match r.status {
            200 => assert_eq!(r.text, originals[0].text),
            409 => {
                assert!(r.headers.contains_key("retry-after"));
                assert_eq!(r.body["errors"][0]["code"], 409);
            }
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert_eq!(writes(&app, f.org.org_id, customer).await, (1, vec![1]));
    // Once it has completed, a late duplicate is a replay.
    let late = f.org.post_keyed(LINK, "k-race", &body).await;
    assert!(replayed(&late));
    assert_eq!(late.text, originals[0].text);
}

fn settable_clock(start: DateTime<Utc>) -> (Arc<Mutex<DateTime<Utc>>>, shared::state::Clock) {
    let now = Arc::new(Mutex::new(start));
    let c = now.clone();
    (now, Arc::new(move || *c.lock().unwrap()))
}

#[tokio::test]
async fn key_in_flight_gets_409_until_its_lease_expires_then_the_request_runs() {
    let start = Utc::now();
    let (now, clock) = settable_clock(start);
    let app = TestApp::start_with_clock(clock).await;
    let f = fixture(&app).await;
    let customer = f.enrolled("919810000004").await;
    let body = link_body(json!({"mobile": "919810000004"}), "SkyMiles", gold());
    // A run that claimed the key and then crashed (its Lambda died) left this record behind.
    let k = shared::storage::keys::idempotency(f.org.org_id, "k-crash");
    let crashed = IdempotencyRecord {
        pk: k.pk,
        sk: k.sk,
        entity: "IDEMPOTENCY".into(),
        state: ClaimState::InFlight,
        request_hash: request_hash_of("POST", LINK, body.to_string().as_bytes()),
        owner: "crashed-run".into(),
        lease_until: (start + Duration::seconds(30)).timestamp_millis(),
        expires_at: (start + Duration::hours(24)).timestamp_millis(),
        ttl: (start + Duration::hours(24)).timestamp(),
        created_at: start,
        response_status: None,
        response_headers: None,
        response_body: None,
    };
    assert!(app.state.store.put_new(to_item(&crashed).unwrap()).await.unwrap());
    let r = f.org.post_keyed(LINK, "k-crash", &body).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.headers.get("retry-after").map(String::as_str), Some("30"));
    assert_eq!(writes(&app, f.org.org_id, customer).await, (0, vec![]));
    // The lease runs out: the same request takes the key over and runs, once.
    *now.lock().unwrap() = start + Duration::seconds(31);
    let r = f.org.post_keyed(LINK, "k-crash", &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!replayed(&r));
    let again = f.org.post_keyed(LINK, "k-crash", &body).await;
    assert!(replayed(&again));
    assert_eq!(writes(&app, f.org.org_id, customer).await, (1, vec![1]));
}

#[tokio::test]
async fn keys_are_forgotten_after_24_hours() {
    let start = Utc::now();
    let (now, clock) = settable_clock(start);
    let app = TestApp::start_with_clock(clock).await;
    let f = fixture(&app).await;
    let customer = f.enrolled("919810000005").await;
    let body = link_body(json!({"mobile": "919810000005"}), "SkyMiles", gold());
    let first = f.org.post_keyed(LINK, "k-day", &body).await;
    assert_eq!(first.status, 200);
    *now.lock().unwrap() = start + Duration::hours(23);
    assert!(replayed(&f.org.post_keyed(LINK, "k-day", &body).await));
    // 24 hours on, DynamoDB's TTL may not have deleted the record yet; the key is free all the same.
    *now.lock().unwrap() = start + Duration::hours(24) + Duration::seconds(1);
    let r = f.org.post_keyed(LINK, "k-day", &body).await;
    assert!(!replayed(&r));
    assert_eq!(
        first_status(&r, "linkCustomers", "linkToPartnerPrograms", "partnerLinkStatus")["code"],
        2005,
        "{}",
        r.text
    );
    assert_eq!(writes(&app, f.org.org_id, customer).await, (1, vec![1]));
}

/// While switched on, every call of one operation fails as a DynamoDB outage outliving the SDK's
/// retries would (DynamoDB Local cannot be made to fail on demand).
#[derive(Debug, Clone)]
pub struct Down {
    pub on: Arc<AtomicBool>,
    /// Queries (the customer's linkages, read before any write) rather than transactions.
    pub queries: bool,
}

impl Intercept for Down {
    fn name(&self) -> &'static str {
        "Down"
    }

    fn read_before_execution(
        &self,
        ctx: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = ctx.input();
        let hit = if self.queries {
            input.downcast_ref::<QueryInput>().is_some()
        } else {
            input.downcast_ref::<TransactWriteItemsInput>().is_some()
        };
        if self.on.load(Ordering::SeqCst) && hit {
            return Err("injected: storage unavailable".into());
        }
        Ok(())
    }
}

/// Storage fails before any write is sent: 503, not kept, so the retry under the key runs.
#[tokio::test]
async fn a_5xx_response_is_not_kept_so_the_retry_runs() {
    let down = Arc::new(AtomicBool::new(false));
    let app = TestApp::start_with_interceptor(Down { on: down.clone(), queries: true }).await;

    let f = fixture(&app).await;
    let customer = f.enrolled("919810000006").await;
    let body = link_body(json!({"mobile": "919810000006"}), "SkyMiles", gold());
    down.store(true, Ordering::SeqCst);
    let r = f.org.post_keyed(LINK, "k-5xx", &body).await;
    assert_eq!(r.status, 503, "{}", r.text);
    down.store(false, Ordering::SeqCst);
    assert_eq!(writes(&app, f.org.org_id, customer).await, (0, vec![]));
    let r = f.org.post_keyed(LINK, "k-5xx", &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!replayed(&r));
    assert!(replayed(&f.org.post_keyed(LINK, "k-5xx", &body).await));
    assert_eq!(writes(&app, f.org.org_id, customer).await, (1, vec![1]));
}

/// Every commit of the item fails: once a write may have been sent the answer is no 503 but a 201
/// whose item says its outcome is unknown; that response is not kept either, so the retry runs.
#[tokio::test]
async fn a_response_with_an_unknown_item_is_a_201_not_kept_so_the_retry_resolves_it() {
    let down = Arc::new(AtomicBool::new(false));
    let app = TestApp::start_with_interceptor(Down { on: down.clone(), queries: false }).await;

    let f = fixture(&app).await;
    let customer = f.enrolled("919810000016").await;
    let body = link_body(json!({"mobile": "919810000016"}), "SkyMiles", gold());
    down.store(true, Ordering::SeqCst);
    let r = f.org.post_keyed(LINK, "k-unknown", &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let status = first_status(&r, "linkCustomers", "linkToPartnerPrograms", "partnerLinkStatus");
    assert_eq!(status["code"], 2001, "{status}");
    assert!(status["detail"].as_str().unwrap().contains("unknown"), "{status}");
    assert_eq!(writes(&app, f.org.org_id, customer).await, (0, vec![]));
    down.store(false, Ordering::SeqCst);
    let r = f.org.post_keyed(LINK, "k-unknown", &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!replayed(&r));
    assert!(replayed(&f.org.post_keyed(LINK, "k-unknown", &body).await));
    assert_eq!(writes(&app, f.org.org_id, customer).await, (1, vec![1]));
}
