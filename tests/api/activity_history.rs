//! customerActivityHistories (docs/contract.md#reads): 2011–2015 with exact messages, grouping per program
//! with details and benefits summary, filters, and cursor paging that returns every record once.
//!
//! Linking updates come from real linkCustomer/deLinkCustomer calls. Benefit records
//! (BENEFITSAVAILED) and the bulk of the 250-record history are written directly as
//! `ActivityRecord`s through the store: that is cheaper than hundreds of HTTP calls and keeps these
//! tests independent of the customerBenefits operation, which has its own tests.

use crate::support::*;
use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::query::QueryInput;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use shared::domain::model::{Activity, ActivityType};
use shared::state::{AppState, Clock};
use shared::storage::records::{to_item, ActivityRecord};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

const PATH: &str = "/v2/partnerProgram/customerActivityHistories";

/// A "now" the test moves, seen by every handler of the app.
#[derive(Clone)]
struct FakeClock(Arc<AtomicI64>);

impl FakeClock {
    fn at(t: DateTime<Utc>) -> Self {
        FakeClock(Arc::new(AtomicI64::new(t.timestamp_millis())))
    }
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0.load(Ordering::SeqCst)).unwrap()
    }
    fn set(&self, t: DateTime<Utc>) {
        self.0.store(t.timestamp_millis(), Ordering::SeqCst);
    }
    fn advance(&self, d: Duration) {
        self.0.fetch_add(d.num_milliseconds(), Ordering::SeqCst);
    }
    fn clock(&self) -> Clock {
        let c = self.clone();
        Arc::new(move || c.now())
    }
}

async fn history(org: &TestOrg, query: &str) -> Resp {
    org.get(&org.api, &format!("{PATH}?{query}")).await
}

fn assert_error(r: &Resp, http: u16, code: u64, message: &str) {
    assert_eq!(r.status, http, "{}", r.text);
    assert_eq!(r.body["errors"][0]["status"], false, "{}", r.text);
    assert_eq!(r.body["errors"][0]["code"], code, "{}", r.text);
    assert_eq!(r.body["errors"][0]["message"], message, "{}", r.text);
    assert_eq!(r.body["data"], json!([]), "{}", r.text);
    assert_eq!(r.body["warnings"], json!([]), "{}", r.text);
}

async fn program_id(state: &AppState, org: u64, name: &str) -> u64 {
    let programs = state.store.partner_programs(org).await.unwrap();
    programs.iter().find(|p| p.partner_program_name == name).unwrap().partner_program_id
}

/// Versions for linking records written directly (they are keyed by version): above anything the
/// API writes in these tests, below `DIRECT_VERSION_CEILING`.
static NEXT_DIRECT_VERSION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1000);
const DIRECT_VERSION_CEILING: u64 = 1_000_000;

/// Moves every linkage of a customer to `DIRECT_VERSION_CEILING`, as if the directly written
/// linking records had been committed through it (reads bound linking records by the version).
async fn adopt_direct_versions(state: &AppState, org: u64, customer: u64) {
    for item in stored(state, org, customer, "LINK#").await {
        state
            .store
            .client()
            .update_item()
            .table_name(state.store.table())
            .key("PK", item["PK"].clone())
            .key("SK", item["SK"].clone())
            .update_expression("SET version = :v")
            .expression_attribute_values(
                ":v",
                aws_sdk_dynamodb::types::AttributeValue::N(DIRECT_VERSION_CEILING.to_string()),
            )
            .send()
            .await
            .unwrap();
    }
}

/// Writes one activity record directly, as the owning operation's transaction would.
async fn put_activity(
    state: &AppState,
    org: u64,
    customer: u64,
    program: (u64, &str),
    kind: ActivityType,
    at: DateTime<Utc>,
    details: Option<Value>,
) -> String {
    let activity = Activity {
        activity_id: uuid::Uuid::now_v7().to_string(),
        org_id: org,
        customer_id: customer,
        partner_program_id: program.0,
        partner_program_name: program.1.to_string(),
        activity_type: kind,
        activity_date: at,
        tier_name: None,
        tier_expiry_date: None,
        benefit_details: details,
        version: if kind.is_benefit() {
            0
        } else {
            NEXT_DIRECT_VERSION.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        },
        step: 0,
        from: None,
        to: None,
        actor: None,
        reason: None,
    };
    let id = activity.activity_id.clone();
    assert!(state.store.put_new(to_item(&ActivityRecord::new(activity)).unwrap()).await.unwrap());
    id
}

fn benefit(name: &str, count: u64) -> Option<Value> {
    Some(json!({"benefits": [{"name": name, "type": benefit_type(name), "count": count}], "billNumber": "B-1"}))
}

fn benefit_type(name: &str) -> &'static str {
    if name == "LoungeAccess" {
        "LOUNGE"
    } else {
        "BOARDING"
    }
}

/// How the history shows what `benefit(name, count)` stored: Capillary's `benefitDetails`, one
/// benefit per entry.
fn shown(name: &str, count: u64) -> Value {
    json!({"name": name, "type": benefit_type(name), "count": count, "billNumber": "B-1"})
}

async fn link(org: &TestOrg, mobile: &str, program: &str, reference: Value) {
    let r = org.link(link_body(json!({"mobile": mobile}), program, reference)).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn delink(org: &TestOrg, mobile: &str, program: &str) {
    let r = org
        .delink(json!({
            "deLinkCustomers": [{
                "customer": {"mobile": mobile}, "deLinkFromPartnerPrograms": [{"partnerProgramName": program}]
            }]
        }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn customer_without_activity_gets_200_with_2011_and_empty_data() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919800000001").await;
    let r = history(&f.org, "identifierName=mobile&identifierValue=919800000001").await;
    assert_error(&r, 200, 2011, "Cannot find partner program activity for the customer.");
    // Linked, but nothing of the asked kind.
    link(
        &f.org,
        "919800000001",
        "SkyMiles",
        json!({"partnerTierName": "Gold", "partnerTierExpiryDate": future_date(300)}),
    )
    .await;
    let r = history(&f.org, "identifierName=mobile&identifierValue=919800000001&activityType=BENEFITSAVAILED").await;
    assert_error(&r, 200, 2011, "Cannot find partner program activity for the customer.");
    let r =
        history(&f.org, "identifierName=mobile&identifierValue=919800000001&partnerProgramType=SUPPLEMENTARY").await;
    assert_error(&r, 200, 2011, "Cannot find partner program activity for the customer.");
    // An unknown customer is 8015, as in every other API.
    let r = history(&f.org, "identifierName=mobile&identifierValue=919800000999").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["errors"][0]["code"], 8015, "{}", r.text);
}

#[tokio::test]
async fn window_of_exactly_one_year_reports_2013() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919800000002").await;
    let base = "identifierName=mobile&identifierValue=919800000002&activityType=BENEFITSAVAILED";
    let msg = "Input time interval should be less than a year for activity history.";
    let r = history(&f.org, &format!("{base}&startDate=2025-01-01%2000:00:00&endDate=2026-01-01%2000:00:00")).await;
    assert_error(&r, 400, 2013, msg);
    let r =
        history(&f.org, &format!("{base}&startDate=2024-03-01T00:00:00%2B05:30&endDate=2025-06-01T00:00:00%2B05:30"))
            .await;
    assert_error(&r, 400, 2013, msg);
    // A start more than a year ago with no end: the window runs to now, so it is too long.
    let r = history(&f.org, &format!("{base}&startDate=2020-01-01%2000:00:00")).await;
    assert_error(&r, 400, 2013, msg);
    // One second under a year is accepted (and finds nothing here).
    let r = history(&f.org, &format!("{base}&startDate=2025-01-01%2000:00:00&endDate=2025-12-31%2023:59:59")).await;
    assert_error(&r, 200, 2011, "Cannot find partner program activity for the customer.");
}

#[tokio::test]
async fn unknown_activity_type_reports_2014() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919800000003").await;
    for bad in ["benefits", "LINKING", "all"] {
        let r =
            history(&f.org, &format!("identifierName=mobile&identifierValue=919800000003&activityType={bad}")).await;
        assert_error(&r, 400, 2014, "Invalid input. Activity type passed should be LINKINGUPDATES or BENEFITSAVAILED.");
    }
    for good in ["linkingUpdates", "LINKING_UPDATES", "benefits_availed", "BenefitsAvailed"] {
        let r =
            history(&f.org, &format!("identifierName=mobile&identifierValue=919800000003&activityType={good}")).await;
        assert_eq!(r.body["errors"][0]["code"], 2011, "{good}: {}", r.text);
    }
}

#[tokio::test]
async fn dates_with_linking_updates_report_2015() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919800000004").await;
    let msg = "Cannot allow the date parameter if activityType = linkingUpdates.";
    for q in [
        "activityType=linkingUpdates&startDate=2026-01-01%2000:00:00",
        "activityType=LINKINGUPDATES&endDate=2026-01-01%2000:00:00",
        // Without a type both kinds are read, linking updates included: dates are refused too.
        "startDate=2026-01-01%2000:00:00&endDate=2026-02-01%2000:00:00",
    ] {
        let r = history(&f.org, &format!("identifierName=mobile&identifierValue=919800000004&{q}")).await;
        assert_error(&r, 400, 2015, msg);
    }
}

/// Fails every Query on history keys, as a DynamoDB outage that outlived the SDK's retries would;
/// other calls (authentication, customer and linkage reads) go through. DynamoDB Local cannot fail
/// on demand, hence the injection at the SDK boundary.
#[derive(Debug)]
struct FailHistoryQueries;

impl Intercept for FailHistoryQueries {
    fn name(&self) -> &'static str {
        "FailHistoryQueries"
    }

    fn read_before_execution(
        &self,
        ctx: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(q) = ctx.input().downcast_ref::<QueryInput>() else { return Ok(()) };
        let on_history = q
            .expression_attribute_values()
            .is_some_and(|v| v.values().any(|a| a.as_s().is_ok_and(|s| s.starts_with("HIST#"))));
        if on_history {
            return Err("injected: history partition unavailable".into());
        }
        Ok(())
    }
}

#[tokio::test]
async fn storage_failure_reports_2012() {
    let app = TestApp::start_with_interceptor(FailHistoryQueries).await;

    let f = fixture(&app).await;
    f.enrolled("919800000005").await;
    link(
        &f.org,
        "919800000005",
        "SkyMiles",
        json!({"partnerTierName": "Gold", "partnerTierExpiryDate": future_date(300)}),
    )
    .await;
    let r = history(&f.org, "identifierName=mobile&identifierValue=919800000005").await;
    assert_error(&r, 503, 2012, "Cannot fetch partner program activity.");
    assert!(r.headers.contains_key("retry-after"), "{:?}", r.headers);
    assert!(!r.text.contains("injected"), "internal details leaked: {}", r.text);
}

#[tokio::test]
async fn history_groups_per_program_with_details_and_benefits_summary() {
    let now = Utc::now();
    let clock = FakeClock::at(now - Duration::days(10));
    let app = TestApp::start_with_clock(clock.clock()).await;
    let f = fixture(&app).await;
    let org = f.org.org_id;
    let mobile = "919800000006";
    let customer = f.enrolled(mobile).await;
    link(
        &f.org,
        mobile,
        "SkyMiles",
        json!({"partnerMembershipId": "SM-6", "partnerTierName": "Gold", "partnerTierExpiryDate": future_date(300)}),
    )
    .await;
    clock.advance(Duration::days(1));
    link(&f.org, mobile, "FlexiPass", json!({})).await;
    clock.advance(Duration::days(1));
    delink(&f.org, mobile, "FlexiPass").await;
    clock.set(now);
    let sky = (program_id(&app.state, org, "SkyMiles").await, "SkyMiles");
    let flexi = program_id(&app.state, org, "FlexiPass").await;
    // Benefits: two inside the default window, one 400 days ago (outside it and outside the 365-day count).
    put_activity(
        &app.state,
        org,
        customer,
        sky,
        ActivityType::Benefitsavailed,
        now - Duration::days(2),
        benefit("LoungeAccess", 2),
    )
    .await;
    put_activity(
        &app.state,
        org,
        customer,
        sky,
        ActivityType::Benefitsavailed,
        now - Duration::hours(1),
        benefit("PriorityBoarding", 3),
    )
    .await;
    put_activity(
        &app.state,
        org,
        customer,
        sky,
        ActivityType::Benefitsavailed,
        now - Duration::days(400),
        benefit("LoungeAccess", 5),
    )
    .await;

    let q = "identifierName=mobile&identifierValue=919800000006&source=INSTORE";
    let r = history(&f.org, q).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["errors"], json!([]));
    assert_eq!(r.body["pagination"], json!({"limit": 10, "offset": 0, "total": 5}), "{}", r.text);
    let data = r.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "{}", r.text);
    // SkyMiles has the newest activity (the benefit an hour ago), so it comes first.
    let d = &data[0]["partnerProgramDetails"];
    assert_eq!(d["partnerProgramName"], "SkyMiles");
    assert_eq!(d["linked"], true);
    assert_eq!(d["tierBased"], true);
    assert_eq!(d["partnerTierName"], "Gold");
    assert_eq!(d["partnerMembershipId"], "SM-6");
    assert!(d["partnerTierExpiryDate"].as_str().unwrap().ends_with('Z'));
    assert!(d["partnerProgramMembershipStartDate"].as_str().is_some());
    assert_eq!(d["partnerProgramMembershipLastUpdatedActivity"], "ENROLLMENT");
    // No benefit was counted in the linkage (the records were put directly): the cycle is the membership's.
    let cycle = d["partnerProgramMembershipStartDate"].clone();
    assert_eq!(
        d["benefitsSummary"],
        json!([
            {
                "name": "LoungeAccess", "type": "LOUNGE", "maximumAvailableInCycle": 10,
                "countAvailedInCurrentCycle": 0, "countAvailedInLast365Days": 2, "currentCycleStartDate": cycle
            },
            {
                "name": "PriorityBoarding", "type": "BOARDING", "countAvailedInCurrentCycle": 0,
                "countAvailedInLast365Days": 3, "currentCycleStartDate": cycle
            }
        ])
    );
    let h: Vec<&str> = data[0]["customerActivityHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["activityType"].as_str().unwrap())
        .collect();
    assert_eq!(h, ["BENEFITSAVAILED", "BENEFITSAVAILED", "ENROLLMENT"]);
    assert_eq!(data[0]["customerActivityHistory"][0]["benefitDetails"], shown("PriorityBoarding", 3));
    assert!(data[0]["customerActivityHistory"][2].get("benefitDetails").is_none());
    assert_eq!(data[0]["customerActivityHistory"][2]["activityDate"], json!(format_z(now - Duration::days(10))));
    // A delinked program still has its history, reading as linked: false.
    let d = &data[1]["partnerProgramDetails"];
    assert_eq!(
        (d["partnerProgramName"].as_str(), d["linked"].as_bool(), d["partnerProgramId"].as_u64()),
        (Some("FlexiPass"), Some(false), Some(flexi))
    );
    assert!(d.get("benefitsSummary").is_none(), "a program without benefits has no summary: {d}");
    let h: Vec<&str> = data[1]["customerActivityHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["activityType"].as_str().unwrap())
        .collect();
    assert_eq!(h, ["DELINK", "SUPPLEMENTARY_MEMBERSHIP_STARTED"]);

    // The singular alias is the same operation.
    let alias = f.org.get(&f.org.api, &format!("/v2/partnerProgram/customerActivityHistory?{q}")).await;
    assert_eq!(alias.body, r.body);

    // Filters: kind, program id, program type, offset, and a benefits window.
    let r = history(&f.org, &format!("{q}&activityType=linking_updates")).await;
    assert_eq!(r.body["pagination"]["total"], 3, "{}", r.text);
    let r = history(&f.org, &format!("{q}&activityType=BENEFITSAVAILED")).await;
    assert_eq!(r.body["pagination"]["total"], 2, "{}", r.text);
    let r = history(&f.org, &format!("{q}&partnerProgramId={flexi}")).await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["data"][0]["partnerProgramDetails"]["partnerProgramName"], "FlexiPass");
    let r = history(&f.org, &format!("{q}&partnerProgramType=external&offset=1&limit=1")).await;
    assert_eq!(r.body["pagination"]["offset"], 1, "{}", r.text);
    assert_eq!(r.body["data"][0]["customerActivityHistory"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["data"][0]["customerActivityHistory"][0]["benefitDetails"], shown("LoungeAccess", 2));
    let start = (now - Duration::days(450)).format("%Y-%m-%dT%H:%M:%SZ");
    let end = (now - Duration::days(100)).format("%Y-%m-%dT%H:%M:%SZ");
    let r = history(&f.org, &format!("{q}&activityType=BENEFITSAVAILED&startDate={start}&endDate={end}")).await;
    assert_eq!(r.body["pagination"]["total"], 1, "{}", r.text);
    assert_eq!(r.body["data"][0]["customerActivityHistory"][0]["benefitDetails"], shown("LoungeAccess", 5));

    // Bad paging parameters are refused; a limit above 100 is capped with a warning.
    assert_eq!(history(&f.org, &format!("{q}&limit=0")).await.status, 400);
    assert_eq!(history(&f.org, &format!("{q}&offset=-1")).await.status, 400);
    let r = history(&f.org, &format!("{q}&limit=500")).await;
    assert_eq!(r.body["pagination"]["limit"], 100);
    assert_eq!(r.body["warnings"].as_array().unwrap().len(), 1);
}

fn format_z(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Follows `nextCursor` from the first page to the last; returns every page's body.
async fn all_pages(org: &TestOrg, query: &str, between_pages: impl AsyncFn(usize)) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("{query}&cursor={c}"),
            None => query.to_string(),
        };
        let r = history(org, &q).await;
        assert_eq!(r.status, 200, "{}", r.text);
        cursor = r.body["pagination"]["nextCursor"].as_str().map(str::to_string);
        pages.push(r.body);
        between_pages(pages.len()).await;
        if cursor.is_none() {
            return pages;
        }
        assert!(pages.len() < 1000, "paging does not end");
    }
}

/// (activityId, activityDate, programId) of every record, in page order.
fn records(pages: &[Value]) -> Vec<(String, String, u64)> {
    let mut out = Vec::new();
    for page in pages {
        let mut on_page: Vec<(String, String, u64)> = Vec::new();
        for entry in page["data"].as_array().unwrap() {
            let program = entry["partnerProgramDetails"]["partnerProgramId"].as_u64().unwrap();
            for a in entry["customerActivityHistory"].as_array().unwrap() {
                on_page.push((
                    a["activityId"].as_str().unwrap().to_string(),
                    a["activityDate"].as_str().unwrap().to_string(),
                    program,
                ));
            }
        }
        // Within a page, records are grouped per program; across the page they are newest first.
        on_page.sort_by(|a, b| b.1.cmp(&a.1));
        out.extend(on_page);
    }
    out
}

#[tokio::test]
async fn three_programs_and_250_activities_page_through_every_record_once_via_cursor() {
    let now = Utc::now();
    let clock = FakeClock::at(now - Duration::days(300));
    let app = TestApp::start_with_clock(clock.clock()).await;
    let f = fixture(&app).await;
    let org = f.org.org_id;
    f.org
        .partner_program(
            "HotelStay",
            json!({"programId": f.rewards, "partnerProgramType": "EXTERNAL", "tierBased": false,
               "benefits": [{"name": "FreeNight", "type": "HOTEL", "maximumAvailableInCycle": 5}]}),
        )
        .await;
    let mobile = "919800000007";
    let customer = f.enrolled(mobile).await;
    let gold = || json!({"partnerTierName": "Gold", "partnerTierExpiryDate": future_date(400)});

    // 33 linking updates through the API: five link/delink cycles per program, then a final link.
    let programs = ["SkyMiles", "FlexiPass", "HotelStay"];
    for _ in 0..5 {
        for p in programs {
            link(&f.org, mobile, p, if p == "SkyMiles" { gold() } else { json!({}) }).await;
            clock.advance(Duration::hours(1));
            delink(&f.org, mobile, p).await;
            clock.advance(Duration::hours(1));
        }
    }
    for p in programs {
        link(&f.org, mobile, p, if p == "SkyMiles" { gold() } else { json!({}) }).await;
        clock.advance(Duration::hours(1));
    }
    // 217 more written directly, spread over the following months: benefits on the two EXTERNAL
    // programs, tier updates on all three.
    let ids = [
        (program_id(&app.state, org, "SkyMiles").await, "SkyMiles"),
        (program_id(&app.state, org, "FlexiPass").await, "FlexiPass"),
        (program_id(&app.state, org, "HotelStay").await, "HotelStay"),
    ];
    let mut benefits_written = 0;
    let mut lounge_units = 0;
    for i in 0..217i64 {
        let program = ids[(i % 3) as usize];
        let at = now - Duration::days(290) + Duration::minutes(i * 1789);
        let (kind, details) = match (program.1, i % 2) {
            ("SkyMiles", 0) => (ActivityType::Benefitsavailed, benefit("LoungeAccess", 1 + (i % 4) as u64)),
            ("HotelStay", 0) => (ActivityType::Benefitsavailed, benefit("FreeNight", 1)),
            _ => (ActivityType::Update, None),
        };
        if kind == ActivityType::Benefitsavailed {
            benefits_written += 1;
            if program.1 == "SkyMiles" {
                lounge_units += 1 + (i % 4) as u64;
            }
        }
        put_activity(&app.state, org, customer, program, kind, at, details).await;
    }
    adopt_direct_versions(&app.state, org, customer).await;
    clock.set(now);

    // Pages of 7 (not a divisor of 250). After the first page another change happens: the cursor
    // keeps reading the first page's snapshot, so it neither appears nor disturbs the paging.
    let query = "identifierName=externalId&identifierValue=X-919800000007&limit=7";
    let pages = all_pages(&f.org, query, async |n: usize| {
        if n == 1 {
            clock.set(now + Duration::minutes(1));
            delink(&f.org, mobile, "HotelStay").await;
        }
    })
    .await;
    assert_eq!(pages.len(), 36);
    let recs = records(&pages);
    assert_eq!(recs.len(), 250);
    let unique: HashSet<&str> = recs.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(unique.len(), 250, "a record came twice");
    assert!(recs.windows(2).all(|w| w[0].1 >= w[1].1), "records are not newest first across pages");
    for (i, page) in pages.iter().enumerate() {
        assert_eq!(page["pagination"]["total"], 250);
        assert_eq!(page["pagination"]["offset"], (i * 7) as u64);
        assert_eq!(page["pagination"]["limit"], 7);
    }
    let per_program: BTreeMap<u64, usize> = recs.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r.2).or_default() += 1;
        m
    });
    assert_eq!(per_program.len(), 3);
    assert_eq!(per_program.values().sum::<usize>(), 250);
    let sky_summary = pages
        .iter()
        .flat_map(|p| p["data"].as_array().unwrap().iter())
        .find(|e| e["partnerProgramDetails"]["partnerProgramName"] == "SkyMiles")
        .map(|e| e["partnerProgramDetails"]["benefitsSummary"][0].clone())
        .unwrap();
    assert_eq!(sky_summary["name"], "LoungeAccess");
    assert_eq!(sky_summary["countAvailedInLast365Days"], lounge_units);

    // A fresh first page sees the later change; big pages and the benefits filter page too.
    let pages = all_pages(&f.org, "identifierName=mobile&identifierValue=919800000007&limit=100", async |_| {}).await;
    let recs = records(&pages);
    assert_eq!((pages.len(), recs.len()), (3, 251));
    assert_eq!(recs.iter().map(|r| &r.0).collect::<HashSet<_>>().len(), 251);
    let pages = all_pages(
        &f.org,
        "identifierName=id&identifierValue=CUSTOMER&activityType=BENEFITSAVAILED&limit=20"
            .replace("CUSTOMER", &customer.to_string())
            .as_str(),
        async |_| {},
    )
    .await;
    let recs = records(&pages);
    assert_eq!(recs.len(), benefits_written);
    assert_eq!(pages[0]["pagination"]["total"], benefits_written as u64);

    // A cursor only continues its own query.
    let first = history(&f.org, "identifierName=mobile&identifierValue=919800000007&limit=5").await;
    let cursor = first.body["pagination"]["nextCursor"].as_str().unwrap();
    let r = history(
        &f.org,
        &format!(
            "identifierName=mobile&identifierValue=919800000007&limit=5&activityType=BENEFITSAVAILED&cursor={cursor}"
        ),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = history(&f.org, "identifierName=mobile&identifierValue=919800000007&cursor=bm90LWEtY3Vyc29y").await;
    assert_eq!(r.status, 400, "{}", r.text);
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
}

async fn update(org: &TestOrg, mobile: &str, program: &str, update_type: &str, details: Option<Value>) {
    let mut entry = json!({"partnerProgramName": program, "updateType": update_type});
    if let Some(d) = details {
        entry["updateDetails"] = d;
    }
    let body = json!({"customersPartnerUpdates": [{"customer": {"mobile": mobile}, "partnerProgramUpdates": [entry]}]});
    let r = org.post(&org.api, "/v2/partnerProgram/customerPartnerProgramUpdate", body).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// One program's entry of the customer's linking history, and its entry in customerPartnerPrograms,
/// both read through the validating client.
async fn linking_history_and_listing(org: &TestOrg, mobile: &str, program: &str) -> (Value, Value) {
    let r = history(org, &format!("identifierName=mobile&identifierValue={mobile}&activityType=LINKINGUPDATES")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let entry = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["partnerProgramDetails"]["partnerProgramName"] == program)
        .cloned()
        .unwrap_or_else(|| panic!("no {program} in {}", r.text));
    let r = org.linked_programs("mobile", mobile).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let listed = r.body["linkedPartnerPrograms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["partnerProgramName"] == program)
        .cloned()
        .unwrap_or_else(|| panic!("no {program} in {}", r.text));
    (entry, listed)
}

/// The activity types and dates of a history entry, newest first; and checks the commit order of
/// its linking records: each record's `from` is the `to` of the record before it.
fn records_in_commit_order(entry: &Value) -> Vec<(String, String)> {
    let records = entry["customerActivityHistory"].as_array().unwrap();
    for pair in records.windows(2) {
        assert_eq!(pair[0]["from"], pair[1]["to"], "from is the previous record's to: {entry}");
    }
    records
        .iter()
        .map(|r| (r["activityType"].as_str().unwrap().to_string(), r["activityDate"].as_str().unwrap().to_string()))
        .collect()
}

/// A SUPPLEMENTARY membership paused, then resumed (`PAUSE`/`RESUME`, extensions), read back
/// through the client that validates every response against openapi.yaml: the history's linking
/// records (their `from`/`to` states `PAUSED`) and customerPartnerPrograms, both while paused and
/// once resumed, with the end moved by the days actually paused.
#[tokio::test]
async fn a_paused_then_resumed_membership_reads_back_as_documented() {
    let clock = FakeClock::at(at("2031-03-02T06:30:00Z"));
    let app = TestApp::start_with_clock(clock.clock()).await;
    let f = fixture(&app).await;
    let mobile = "919811000001";
    f.enrolled(mobile).await;
    link(&f.org, mobile, "FlexiPass", json!({})).await;

    clock.set(at("2031-03-04T06:30:00Z"));
    update(&f.org, mobile, "FlexiPass", "PAUSE", Some(json!({"pauseEndDate": "2031-03-14T12:00:00+05:30"}))).await;
    let (entry, listed) = linking_history_and_listing(&f.org, mobile, "FlexiPass").await;
    assert_eq!(
        records_in_commit_order(&entry),
        [("MEMBERSHIP_PAUSED", "2031-03-04T06:30:00Z"), ("SUPPLEMENTARY_MEMBERSHIP_STARTED", "2031-03-02T06:30:00Z")]
            .map(|(a, d)| (a.to_string(), d.to_string()))
    );
    let paused = &entry["customerActivityHistory"][0];
    assert_eq!((&paused["from"]["status"], &paused["to"]["status"]), (&json!("ACTIVE"), &json!("PAUSED")), "{paused}");
    for details in [&entry["partnerProgramDetails"], &listed] {
        assert_eq!(details["status"], "PAUSED", "{details}");
        assert_eq!(
            details["membershipPause"],
            json!({"pausedFrom": "2031-03-04T06:30:00Z", "pausedUntil": "2031-03-14T06:30:00Z"}),
            "{details}"
        );
        assert_eq!(details["partnerProgramMembershipEndDate"], "2031-04-01T06:30:00Z", "not moved while paused");
        assert_eq!(details["partnerProgramMembershipLastUpdatedActivity"], "MEMBERSHIP_PAUSED");
    }

    // Resumed after five of the ten days: the end moves by the five days paused.
    clock.set(at("2031-03-09T06:30:00Z"));
    update(&f.org, mobile, "FlexiPass", "RESUME", None).await;
    let (entry, listed) = linking_history_and_listing(&f.org, mobile, "FlexiPass").await;
    assert_eq!(
        records_in_commit_order(&entry),
        [
            ("MEMBERSHIP_RESUMED", "2031-03-09T06:30:00Z"),
            ("MEMBERSHIP_PAUSED", "2031-03-04T06:30:00Z"),
            ("SUPPLEMENTARY_MEMBERSHIP_STARTED", "2031-03-02T06:30:00Z")
        ]
        .map(|(a, d)| (a.to_string(), d.to_string()))
    );
    let resumed = &entry["customerActivityHistory"][0];
    assert_eq!((&resumed["from"]["status"], &resumed["to"]["status"]), (&json!("PAUSED"), &json!("ACTIVE")));
    assert_eq!(resumed["to"]["partnerProgramMembershipEndDate"], "2031-04-06T06:30:00Z", "{resumed}");
    for details in [&entry["partnerProgramDetails"], &listed] {
        assert_eq!(details["status"], "ACTIVE", "{details}");
        assert_eq!(
            details["membershipPause"],
            json!({
                "pausedFrom": "2031-03-04T06:30:00Z", "pausedUntil": "2031-03-14T06:30:00Z",
                "resumedAt": "2031-03-09T06:30:00Z"
            }),
            "{details}"
        );
        assert_eq!(details["partnerProgramMembershipEndDate"], "2031-04-06T06:30:00Z", "{details}");
        assert_eq!(details["partnerProgramMembershipLastUpdatedActivity"], "MEMBERSHIP_RESUMED");
        assert_eq!(details["partnerProgramMembershipLastUpdatedDate"], "2031-03-09T06:30:00Z");
    }
}
