//! The tier-expiry sweep (docs/contract.md#scheduled-expiry) and the expiry preview against DynamoDB Local. Data is set
//! up through the API (or, for the 2,000-linkage cases, with BatchWriteItem), the clock is moved
//! forward, and the sweep runs exactly as the Lambda runs it. Each test has a table of its own:
//! the sweep reads the whole due index, so tests sharing a table would sweep each other's work.

use crate::support::*;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use shared::state::AppState;
use shared::storage::store::Store;
use shared::sweep::{self, BeforeWrite, StopReason, SweepOptions, SweepSettings, SweepSummary};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Item = HashMap<String, AttributeValue>;

/// A test app on a table of its own, with a clock the test moves (`support::ClockedApp`).
struct SweepApp(ClockedApp);

impl std::ops::Deref for SweepApp {
    type Target = ClockedApp;
    fn deref(&self) -> &ClockedApp {
        &self.0
    }
}

impl SweepApp {
    async fn start() -> SweepApp {
        SweepApp(ClockedApp::start("pp-sweep").await)
    }

    async fn sweep(&self) -> SweepSummary {
        self.sweep_with(SweepOptions::default()).await
    }

    async fn sweep_with(&self, options: SweepOptions) -> SweepSummary {
        sweep::run(&self.app.state, &SweepSettings::default(), options).await
    }

    /// Every item of one entity in the test's own table (a test-only Scan of a small table).
    async fn entities(&self, entity: &str) -> Vec<Item> {
        scan_entities(&self.app.state, entity, None).await
    }

    /// Outbox event payloads about one customer, oldest first.
    async fn events_of(&self, customer: u64) -> Vec<Value> {
        let mut events: Vec<Value> = self
            .entities("EVENT")
            .await
            .iter()
            .map(|e| serde_json::from_str::<Value>(e["payload"].as_s().unwrap()).unwrap())
            .collect();
        let customer = customer.to_string();
        events.retain(|e| e["refId"].as_str() == Some(customer.as_str()));
        events.sort_by_key(|e| e["eventId"].as_str().unwrap().to_string());
        events
    }
}

fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

async fn linkage(state: &AppState, org: u64, customer: u64) -> Item {
    let items = stored(state, org, customer, "LINK#").await;
    assert_eq!(items.len(), 1, "{items:?}");
    items.into_iter().next().unwrap()
}

async fn linkage_in(state: &AppState, org: u64, customer: u64, program: &str) -> Item {
    stored(state, org, customer, "LINK#")
        .await
        .into_iter()
        .find(|l| l["partnerProgramName"].as_s().unwrap() == program)
        .unwrap()
}

async fn activity_types(state: &AppState, org: u64, customer: u64) -> Vec<String> {
    stored(state, org, customer, "HIST#").await.iter().map(|i| i["activityType"].as_s().unwrap().clone()).collect()
}

fn s(item: &Item, name: &str) -> String {
    match &item[name] {
        AttributeValue::S(v) => v.clone(),
        AttributeValue::N(v) => v.clone(),
        AttributeValue::Bool(b) => b.to_string(),
        other => format!("{other:?}"),
    }
}

fn actions(summary: &SweepSummary) -> Vec<(String, u64)> {
    summary.actions.iter().map(|(k, v)| (k.clone(), *v)).collect()
}

/// A tiered EXTERNAL program in the fixture's loyalty program.
fn external(program_id: u64, on_tier_expiry: &str, grace_days: u32) -> Value {
    let mut p = skymiles(program_id);
    p["onTierExpiry"] = json!(on_tier_expiry);
    p["tierGracePeriodDays"] = json!(grace_days);
    p
}

async fn link(f: &Fixture, mobile: &str, program: &str, reference: Value) {
    let r = f.org.link(link_body(json!({"mobile": mobile}), program, reference)).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn each_on_tier_expiry_action_is_applied_when_the_tier_expires() {
    let t = SweepApp::start().await;
    let f = fixture(&t.app).await;
    let cases = [
        ("ExpireMiles", "EXPIRE_TIER", "TIER_EXPIRED", "Platinum", true, "TIER_EXPIRED", "partnerProgramTierExpired"),
        ("OneDownMiles", "DOWNGRADE_ONE_TIER", "ACTIVE", "Gold", true, "DOWNGRADE", "partnerProgramTierExpired"),
        ("LowestMiles", "DOWNGRADE_TO_LOWEST_TIER", "ACTIVE", "Silver", true, "DOWNGRADE", "partnerProgramTierExpired"),
        ("DelinkMiles", "DELINK", "DELINKED", "Platinum", false, "DELINK", "partnerProgramDelinked"),
    ];
    let mut customers = Vec::new();
    for (i, (program, on, ..)) in cases.iter().enumerate() {
        f.org.partner_program(program, external(f.rewards, on, 0)).await;
        let mobile = format!("91980000010{i}");
        let id = f.enrolled(&mobile).await;
        link(
            &f,
            &mobile,
            program,
            json!({
                "partnerMembershipId": format!("M-{i}"), "partnerTierName": "Platinum",
                "partnerTierExpiryDate": iso(t.now() + Duration::days(1))
            }),
        )
        .await;
        customers.push((id, mobile));
    }
    assert_eq!(t.sweep().await.changed, 0, "nothing is due yet");
    t.advance(Duration::days(2));
    // Reads treat the passed expiry as expired before the sweep has run.
    let read = f.org.linked_programs("mobile", &customers[0].1).await;
    assert_eq!(read.body["linkedPartnerPrograms"][0]["status"], "TIER_EXPIRED", "{}", read.text);

    let summary = t.sweep().await;
    assert_eq!((summary.changed, summary.skipped, summary.failed), (4, 0, 0), "{summary:?}");
    assert_eq!(
        actions(&summary),
        vec![
            ("DELINK".into(), 1),
            ("DOWNGRADE_ONE_TIER".into(), 1),
            ("DOWNGRADE_TO_LOWEST_TIER".into(), 1),
            ("EXPIRE_TIER".into(), 1)
        ]
    );
    assert_eq!(summary.stopped_by, StopReason::Completed);
    assert!(!summary.backlog_remaining);
    for ((program, _, status, tier, linked, activity, event), (id, mobile)) in cases.iter().zip(&customers) {
        let l = linkage(&t.app.state, f.org.org_id, *id).await;
        assert_eq!(
            (s(&l, "status"), s(&l, "tierName"), s(&l, "linked"), s(&l, "version")),
            (status.to_string(), tier.to_string(), linked.to_string(), "2".into()),
            "{program}"
        );
        assert!(!l.contains_key("DUE_PK"), "{program}: still in the due index");
        assert_eq!(s(&l, "lastActivity"), *activity);
        assert_eq!(activity_types(&t.app.state, f.org.org_id, *id).await, vec!["ENROLLMENT", activity], "{program}");
        let events = t.events_of(*id).await;
        let names: Vec<&str> = events.iter().map(|e| e["eventName"].as_str().unwrap()).collect();
        assert_eq!(names, vec!["partnerProgramLinked", event], "{program}");
        let details = &events[1]["data"]["customerPartnerProgramDetails"];
        assert_eq!(
            (details["status"].as_str().unwrap(), details["partnerTierName"].as_str().unwrap()),
            (*status, *tier),
            "{program}"
        );
        assert_eq!(events[1]["data"]["updateType"], cases.iter().find(|c| c.0 == *program).unwrap().1);
        if !linked {
            let read = f.org.linked_programs("mobile", mobile).await;
            assert_eq!(read.body["linkedPartnerPrograms"], json!([]), "{program}");
            // The delinked membership id is free again, as after a delink through the API.
            let claim = t
                .app
                .state
                .store
                .get::<Value>(&shared::storage::keys::membership_id(
                    f.org.org_id,
                    s(&l, "partnerProgramId").parse().unwrap(),
                    "M-3",
                ))
                .await
                .unwrap();
            assert!(claim.is_none(), "membership id still claimed");
        }
    }
    let again = t.sweep().await;
    assert_eq!((again.changed, again.skipped), (0, 0), "a re-run changes nothing: {again:?}");
}

#[tokio::test]
async fn grace_period_comes_first_and_the_action_applies_when_grace_ends() {
    let t = SweepApp::start().await;
    let f = fixture(&t.app).await;
    f.org.partner_program("GraceMiles", external(f.rewards, "DOWNGRADE_ONE_TIER", 3)).await;
    let id = f.enrolled("919800000201").await;
    link(
        &f,
        "919800000201",
        "GraceMiles",
        json!({"partnerTierName": "Gold", "partnerTierExpiryDate": iso(t.now() + Duration::days(1))}),
    )
    .await;

    t.advance(Duration::days(2));
    let summary = t.sweep().await;
    assert_eq!(actions(&summary), vec![("TIER_GRACE_STARTED".into(), 1)]);
    let l = linkage(&t.app.state, f.org.org_id, id).await;
    assert_eq!((s(&l, "status"), s(&l, "tierName")), ("IN_GRACE".into(), "Gold".into()));
    assert!(l.contains_key("DUE_PK"), "grace end keeps it in the due index");
    let read = f.org.linked_programs("mobile", "919800000201").await;
    assert_eq!(read.body["linkedPartnerPrograms"][0]["status"], "IN_GRACE");
    assert_eq!(activity_types(&t.app.state, f.org.org_id, id).await, vec!["ENROLLMENT", "TIER_GRACE_STARTED"]);

    // Grace lasts three days from the expiry date; a sweep before then does nothing.
    t.advance(Duration::days(1));
    assert_eq!(t.sweep().await.changed, 0);
    t.advance(Duration::days(2));
    let summary = t.sweep().await;
    assert_eq!(actions(&summary), vec![("DOWNGRADE_ONE_TIER".into(), 1)]);
    let l = linkage(&t.app.state, f.org.org_id, id).await;
    assert_eq!((s(&l, "status"), s(&l, "tierName"), s(&l, "version")), ("ACTIVE".into(), "Silver".into(), "3".into()));
    assert!(!l.contains_key("DUE_PK"));
    assert!(!l.contains_key("graceEndsAt"));
    assert_eq!(
        activity_types(&t.app.state, f.org.org_id, id).await,
        vec!["ENROLLMENT", "TIER_GRACE_STARTED", "DOWNGRADE"]
    );
    let names: Vec<String> =
        t.events_of(id).await.iter().map(|e| e["eventName"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, vec!["partnerProgramLinked", "partnerProgramUpdated", "partnerProgramTierExpired"]);
}

#[tokio::test]
async fn supplementary_membership_end_unlinks_with_its_activity_and_event() {
    let t = SweepApp::start().await;
    let f = fixture(&t.app).await;
    let id = f.enrolled("919800000301").await;
    link(&f, "919800000301", "FlexiPass", json!({"partnerMembershipId": "FP-1"})).await;
    t.advance(Duration::days(29));
    assert_eq!(t.sweep().await.changed, 0);
    t.advance(Duration::days(2));
    let summary = t.sweep().await;
    assert_eq!(actions(&summary), vec![("SUPPLEMENTARY_MEMBERSHIP_EXPIRED".into(), 1)]);
    let l = linkage(&t.app.state, f.org.org_id, id).await;
    assert_eq!((s(&l, "status"), s(&l, "linked")), ("EXPIRED".into(), "false".into()));
    assert!(!l.contains_key("DUE_PK"));
    assert_eq!(
        activity_types(&t.app.state, f.org.org_id, id).await,
        vec!["SUPPLEMENTARY_MEMBERSHIP_STARTED", "SUPPLEMENTARY_MEMBERSHIP_EXPIRED"]
    );
    let events = t.events_of(id).await;
    assert_eq!(events[1]["eventName"], "supplementaryMembershipExpired");
    assert_eq!(events[1]["data"]["customerPartnerProgramDetails"]["linked"], false);
    assert_eq!(events[1]["data"]["customerIdentifiers"], json!({"customerId": id}));
    // The link names the client that sent it; the sweep's records name no one (the system acted).
    assert_eq!(events[0]["data"]["actor"]["role"], "api", "{}", events[0]);
    assert!(events[1]["data"].get("actor").is_none(), "{}", events[1]);
    let path = format!("/v2/partnerProgram/customerActivityHistories?identifierName=id&identifierValue={id}");
    let history = f.org.get(&f.org.api, &path).await;
    let entries = history.body["data"][0]["customerActivityHistory"].as_array().unwrap().clone();
    let by_type = |t: &str| entries.iter().find(|e| e["activityType"] == t).unwrap().clone();
    assert_eq!(by_type("SUPPLEMENTARY_MEMBERSHIP_STARTED")["actor"]["role"], "api", "{}", history.text);
    assert!(by_type("SUPPLEMENTARY_MEMBERSHIP_EXPIRED").get("actor").is_none(), "{}", history.text);
    let pp = s(&l, "partnerProgramId").parse().unwrap();
    assert!(t
        .app
        .state
        .store
        .get::<Value>(&shared::storage::keys::membership_id(f.org.org_id, pp, "FP-1"))
        .await
        .unwrap()
        .is_none());
    // Linking again works, as after a delink.
    link(&f, "919800000301", "FlexiPass", json!({})).await;
}

#[tokio::test]
async fn program_expiry_expires_every_member_and_starts_the_backup_membership() {
    let t = SweepApp::start().await;
    let f = fixture(&t.app).await;
    f.org
        .partner_program(
            "BackupPass",
            json!({
                "programId": f.rewards, "partnerProgramType": "SUPPLEMENTARY", "tierBased": false,
                "membershipPeriodType": "DAYS", "membershipPeriodValue": 60
            }),
        )
        .await;
    f.org
        .partner_program(
            "ShortMiles",
            json!({"programId": f.rewards, "partnerProgramType": "EXTERNAL", "tierBased": false,
                   "expiryDate": iso(t.now() + Duration::days(2)), "backupPartnerProgramName": "BackupPass"}),
        )
        .await;
    let mut members = Vec::new();
    for i in 0..3 {
        let mobile = format!("91980000040{i}");
        members.push(f.enrolled(&mobile).await);
        link(&f, &mobile, "ShortMiles", json!({"partnerMembershipId": format!("SH-{i}")})).await;
    }
    // A member that left before the expiry is not touched.
    f.org.delink(json!({
        "deLinkCustomers": [{
            "customer": {"mobile": "919800000402"}, "deLinkFromPartnerPrograms": [{"partnerProgramName": "ShortMiles"}]
        }]
    })).await;
    // One member is already in the backup program: it keeps that membership.
    link(&f, "919800000401", "BackupPass", json!({})).await;

    let expiry: DateTime<Utc> =
        iso(t.now() + Duration::days(2)).parse::<DateTime<chrono::FixedOffset>>().unwrap().with_timezone(&Utc);
    t.advance(Duration::days(3));
    let summary = t.sweep().await;
    assert_eq!(summary.programs_expired, 1, "{summary:?}");
    assert_eq!(summary.changed, 2, "{summary:?}");
    assert_eq!(
        actions(&summary),
        vec![("BACKUP_SUPPLEMENTARY_MEMBERSHIP_STARTED".into(), 1), ("PARTNER_PROGRAM_EARLY_EXPIRY".into(), 2)]
    );
    for (i, id) in members.iter().enumerate() {
        let old = linkage_in(&t.app.state, f.org.org_id, *id, "ShortMiles").await;
        let history = activity_types(&t.app.state, f.org.org_id, *id).await;
        match i {
            0 => {
                assert_eq!((s(&old, "status"), s(&old, "linked")), ("EXPIRED".into(), "false".into()));
                let backup = linkage_in(&t.app.state, f.org.org_id, *id, "BackupPass").await;
                assert_eq!(
                    (s(&backup, "status"), s(&backup, "linked"), s(&backup, "version")),
                    ("ACTIVE".into(), "true".into(), "1".into())
                );
                let end: DateTime<Utc> = s(&backup, "membershipEndDate").parse().unwrap();
                assert_eq!(
                    end,
                    expiry + Duration::days(60),
                    "a fresh period from the program's expiry, not from the sweep's run"
                );
                assert!(backup.contains_key("DUE_PK"), "the backup membership's end is due in its turn");
                assert_eq!(history.iter().filter(|h| *h == "PARTNER_PROGRAM_EARLY_EXPIRY").count(), 1);
                assert_eq!(history.iter().filter(|h| *h == "BACKUP_SUPPLEMENTARY_MEMBERSHIP_STARTED").count(), 1);
                let names: Vec<String> =
                    t.events_of(*id).await.iter().map(|e| e["eventName"].as_str().unwrap().to_string()).collect();
                assert_eq!(names, vec!["partnerProgramLinked", "partnerProgramDelinked", "partnerProgramLinked"]);
            }
            1 => {
                assert_eq!((s(&old, "status"), s(&old, "linked")), ("EXPIRED".into(), "false".into()));
                let backup = linkage_in(&t.app.state, f.org.org_id, *id, "BackupPass").await;
                assert_eq!(s(&backup, "version"), "1", "an existing backup membership is left as it is");
                assert!(!history.contains(&"BACKUP_SUPPLEMENTARY_MEMBERSHIP_STARTED".to_string()));
                assert!(history.contains(&"PARTNER_PROGRAM_EARLY_EXPIRY".to_string()));
            }
            _ => {
                assert_eq!(s(&old, "status"), "DELINKED");
                assert_eq!(history, vec!["ENROLLMENT", "DELINK"]);
            }
        }
    }
    let program = t
        .app
        .state
        .store
        .get::<Value>(&shared::storage::keys::partner_program(f.org.org_id, "ShortMiles"))
        .await
        .unwrap()
        .unwrap();
    assert!(program.get("DUE_PK").is_none(), "the expired program left the due index");
    let again = t.sweep().await;
    assert_eq!((again.changed, again.programs_expired), (0, 0), "{again:?}");
}

#[tokio::test]
async fn pending_memberships_and_relinks_start_on_their_date() {
    let t = SweepApp::start().await;
    let f = fixture(&t.app).await;
    let relinked = f.enrolled("919800000501").await;
    let pending = f.enrolled("919800000502").await;
    link(&f, "919800000501", "FlexiPass", json!({"partnerMembershipId": "FP-A"})).await;
    let start = t.now() + Duration::days(10);
    link(&f, "919800000501", "FlexiPass", json!({"partnerMembershipId": "FP-B", "membershipStartDate": iso(start)}))
        .await;
    link(&f, "919800000502", "FlexiPass", json!({"membershipStartDate": iso(t.now() + Duration::days(5))})).await;
    assert_eq!(s(&linkage(&t.app.state, f.org.org_id, pending).await, "status"), "PENDING");

    t.advance(Duration::days(6));
    assert_eq!(actions(&t.sweep().await), vec![("PENDING_ACTIVATED".into(), 1)]);
    assert_eq!(s(&linkage(&t.app.state, f.org.org_id, pending).await, "status"), "ACTIVE");
    assert_eq!(
        activity_types(&t.app.state, f.org.org_id, pending).await,
        vec!["MEMBERSHIP_START_SCHEDULED", "SUPPLEMENTARY_MEMBERSHIP_STARTED"]
    );

    t.advance(Duration::days(5));
    let summary = t.sweep().await;
    assert_eq!(actions(&summary), vec![("RELINK_ACTIVATED".into(), 1)]);
    let l = linkage(&t.app.state, f.org.org_id, relinked).await;
    assert_eq!(
        (s(&l, "status"), s(&l, "linked"), s(&l, "partnerMembershipId")),
        ("ACTIVE".into(), "true".into(), "FP-B".into())
    );
    assert!(!l.contains_key("pendingRelink"));
    let start_read: DateTime<Utc> = s(&l, "membershipStartDate").parse().unwrap();
    let end_read: DateTime<Utc> = s(&l, "membershipEndDate").parse().unwrap();
    assert_eq!(
        (start_read.timestamp(), end_read.timestamp()),
        (start.timestamp(), (start + Duration::days(30)).timestamp())
    );
    assert_eq!(
        activity_types(&t.app.state, f.org.org_id, relinked).await,
        vec!["SUPPLEMENTARY_MEMBERSHIP_STARTED", "MEMBERSHIP_RELINKING_SCHEDULED", "SUPPLEMENTARY_MEMBERSHIP_STARTED"]
    );
    let events = t.events_of(relinked).await;
    assert_eq!(events.last().unwrap()["eventName"], "partnerProgramLinked");
    assert_eq!(events.last().unwrap()["data"]["updateType"], "RELINK_ACTIVATED");
    let pp = s(&l, "partnerProgramId").parse().unwrap();
    assert!(
        t.app
            .state
            .store
            .get::<Value>(&shared::storage::keys::membership_id(f.org.org_id, pp, "FP-A"))
            .await
            .unwrap()
            .is_none(),
        "the old id is freed"
    );
    assert!(t
        .app
        .state
        .store
        .get::<Value>(&shared::storage::keys::membership_id(f.org.org_id, pp, "FP-B"))
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn a_renewal_between_found_due_and_changed_wins() {
    let t = SweepApp::start().await;
    let f = fixture(&t.app).await;
    let id = f.enrolled("919800000601").await;
    link(
        &f,
        "919800000601",
        "SkyMiles",
        json!({"partnerTierName": "Gold", "partnerTierExpiryDate": iso(t.now() + Duration::days(1))}),
    )
    .await;
    t.advance(Duration::days(2));
    let renewed_to = t.now() + Duration::days(365);
    let (base, api) = (f.org.base.clone(), f.org.api.clone());
    let calls = Arc::new(Mutex::new(0));
    let seen = calls.clone();
    // The sweep has read the due linkage; the customer renews through the API before it writes.
    let hook: BeforeWrite =
        Arc::new(move |l: shared::domain::model::Linkage| -> futures::future::BoxFuture<'static, ()> {
            let (base, api, seen) = (base.clone(), api.clone(), seen.clone());
            Box::pin(async move {
                assert_eq!(l.version, 1);
                *seen.lock().unwrap() += 1;
                let body = json!({
                    "customersPartnerUpdates": [{
                        "customer": {"mobile": "919800000601"},
                        "partnerProgramUpdates": [{
                            "partnerProgramName": "SkyMiles", "updateType": "RENEW",
                            "updateDetails": {"updatedTierExpiryDate": iso(renewed_to)}
                        }]
                    }]
                });
                let r = request(
                    &base,
                    "POST",
                    "/v2/partnerProgram/customerPartnerProgramUpdate",
                    &[("authorization", api.as_str()), ("content-type", "application/json")],
                    body.to_string().into_bytes(),
                )
                .await;
                assert_eq!(r.status, 200, "{}", r.text);
            })
        });
    let summary = t.sweep_with(SweepOptions { before_write: Some(hook), ..Default::default() }).await;
    assert_eq!(*calls.lock().unwrap(), 1);
    assert_eq!((summary.changed, summary.skipped), (0, 1), "{summary:?}");
    let l = linkage(&t.app.state, f.org.org_id, id).await;
    assert_eq!((s(&l, "status"), s(&l, "version")), ("ACTIVE".into(), "2".into()));
    let expiry: DateTime<Utc> = s(&l, "tierExpiryDate").parse().unwrap();
    assert_eq!(expiry.timestamp(), renewed_to.timestamp());
    assert!(
        s(&l, "DUE_PK").starts_with(&format!("DUE#{}#", renewed_to.format("%Y-%m-%d"))),
        "moved to its new due date"
    );
    assert_eq!(activity_types(&t.app.state, f.org.org_id, id).await, vec!["ENROLLMENT", "RENEW"]);
    // The next run finds nothing due: the renewal stands.
    assert_eq!(t.sweep().await.changed, 0);
}

/// `n` Gold linkages of SkyMiles, all due within the last hour, written with BatchWriteItem.
async fn seed_due(t: &SweepApp, f: &Fixture, first_customer: u64, n: u64) {
    let program = t.app.state.catalog(f.org.org_id).await.unwrap().partner_program("SkyMiles").unwrap().clone();
    let now = t.now();
    let linkages = (first_customer..first_customer + n)
        .map(|c| {
            devtools::sweep_seed::external_linkage(
                f.org.org_id,
                c,
                &program,
                now - Duration::seconds(1 + (c % 3600) as i64),
                now,
            )
            .unwrap()
        })
        .collect();
    assert_eq!(devtools::sweep_seed::write_linkages(&t.app.state, linkages, 16).await.unwrap(), n);
}

/// Every linkage expired exactly once: one TIER_EXPIRED activity and one event per linkage.
async fn assert_expired_once(t: &SweepApp, n: usize) {
    let activities = t.entities("ACTIVITY").await;
    assert_eq!(activities.len(), n, "one activity per change");
    let mut per_customer: HashMap<String, usize> = HashMap::new();
    for a in &activities {
        assert_eq!(s(a, "activityType"), "TIER_EXPIRED");
        *per_customer.entry(s(a, "customerId")).or_default() += 1;
    }
    assert_eq!(per_customer.len(), n);
    assert!(per_customer.values().all(|c| *c == 1));
    assert_eq!(t.entities("EVENT").await.len(), n, "one event per change");
    let linkages = t.entities("LINKAGE").await;
    assert!(linkages
        .iter()
        .all(|l| s(l, "status") == "TIER_EXPIRED" && s(l, "version") == "2" && !l.contains_key("DUE_PK")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_sweeps_change_each_of_2000_due_linkages_once() {
    let t = SweepApp::start().await;
    let f = fixture(&t.app).await;
    seed_due(&t, &f, 1_000_000, 2_000).await;
    let other = t.second_state();
    let settings = SweepSettings::default();
    let (a, b) = tokio::join!(
        sweep::run(&t.app.state, &settings, SweepOptions::default()),
        sweep::run(&other, &settings, SweepOptions::default())
    );
    assert_eq!(a.changed + b.changed, 2_000, "{a:?} {b:?}");
    assert_eq!(a.failed + b.failed, 0);
    let expired = |s: &SweepSummary| s.actions.get("EXPIRE_TIER").copied().unwrap_or(0);
    assert_eq!(expired(&a) + expired(&b), 2_000);
    assert_expired_once(&t, 2_000).await;
    // Reads per change: the due index item itself (plus the watermark and a catalog, once).
    let per_change = (a.items_read + b.items_read - a.skipped - b.skipped) as f64 / 2_000.0;
    assert!(per_change < 1.1, "{per_change} items read per change");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_stopped_part_way_finishes_on_the_next_run_without_duplicates() {
    let t = SweepApp::start().await;
    let f = fixture(&t.app).await;
    seed_due(&t, &f, 2_000_000, 300).await;

    // A deadline already inside the margin: nothing starts, everything is left for later.
    let late = t.sweep_with(SweepOptions { deadline: Some(std::time::Instant::now()), ..Default::default() }).await;
    assert_eq!((late.changed, late.stopped_by, late.backlog_remaining), (0, StopReason::Deadline, true));

    // Stopped after 150 items (a run out of time), then killed outright mid-run.
    let first = t.sweep_with(SweepOptions { max_items: Some(150), ..Default::default() }).await;
    assert_eq!((first.changed, first.stopped_by, first.backlog_remaining), (150, StopReason::MaxItems, true));
    let state = t.app.state.clone();
    let killed =
        tokio::spawn(async move { sweep::run(&state, &SweepSettings::default(), SweepOptions::default()).await });
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    killed.abort();
    let _ = killed.await;

    let rest = t.sweep().await;
    assert_eq!((rest.stopped_by, rest.backlog_remaining, rest.failed), (StopReason::Completed, false, 0), "{rest:?}");
    assert_expired_once(&t, 300).await;
    assert_eq!(t.sweep().await.changed, 0);
}

#[tokio::test]
async fn finished_days_are_not_queried_again() {
    let t = SweepApp::start().await;
    let f = fixture(&t.app).await;
    seed_due(&t, &f, 3_000_000, 20).await;
    t.advance(Duration::days(3));
    let first = t.sweep().await;
    assert_eq!(first.changed, 20);
    let today = t.now().format("%Y-%m-%d").to_string();
    assert_eq!(first.watermark, today, "{first:?}");
    let second = t.sweep().await;
    assert_eq!((second.first_day.as_str(), second.last_day.as_str()), (today.as_str(), today.as_str()));
    // One query per shard of today, nothing more: the cost follows the days with work, not the table.
    assert_eq!(second.queries, u64::from(t.app.state.config.due_shards));
    assert_eq!(second.items_read, 1, "the watermark only");
}

#[tokio::test]
async fn expiry_preview_lists_what_the_sweep_will_do_without_doing_it() {
    let t = SweepApp::start().await;
    let f = fixture(&t.app).await;
    f.org.partner_program("GraceMiles", external(f.rewards, "DOWNGRADE_TO_LOWEST_TIER", 2)).await;
    let graced = f.enrolled("919800000801").await;
    let expiring = f.enrolled("919800000802").await;
    let supplementary = f.enrolled("919800000803").await;
    link(
        &f,
        "919800000801",
        "GraceMiles",
        json!({"partnerTierName": "Platinum", "partnerTierExpiryDate": iso(t.now() + Duration::days(1))}),
    )
    .await;
    link(
        &f,
        "919800000802",
        "SkyMiles",
        json!({"partnerTierName": "Gold", "partnerTierExpiryDate": iso(t.now() + Duration::days(2))}),
    )
    .await;
    link(&f, "919800000803", "FlexiPass", json!({})).await;
    // Another org's due work never shows.
    let other = fixture(&t.app).await;
    other.enrolled("919800000899").await;
    link(
        &other,
        "919800000899",
        "SkyMiles",
        json!({"partnerTierName": "Gold", "partnerTierExpiryDate": iso(t.now() + Duration::days(1))}),
    )
    .await;

    let until = iso(t.now() + Duration::days(5));
    let path = format!("/v2/partnerProgram/expiryPreview?until={}", until.replace('+', "%2B"));
    assert_eq!(f.org.get(&f.org.api, &path).await.status, 403);
    let r = f.org.get(&f.org.admin, &path).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let data = r.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "{}", r.text);
    let by_customer = |id: u64| data.iter().find(|d| d["customerId"] == id).cloned().unwrap_or(Value::Null);
    let g = by_customer(graced);
    let acts: Vec<&str> = g["actions"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert_eq!(acts, vec!["TIER_GRACE_STARTED", "DOWNGRADE_TO_LOWEST_TIER"]);
    assert_eq!((g["resultingStatus"].as_str(), g["resultingTierName"].as_str()), (Some("ACTIVE"), Some("Silver")));
    assert_eq!(by_customer(expiring)["actions"][0]["action"], "EXPIRE_TIER");
    assert_eq!(by_customer(supplementary), Value::Null, "its membership ends after until");
    assert_eq!(
        r.body["summary"]["actions"],
        json!({"DOWNGRADE_TO_LOWEST_TIER": 1, "EXPIRE_TIER": 1, "TIER_GRACE_STARTED": 1})
    );
    // Nothing was done.
    assert_eq!(s(&linkage(&t.app.state, f.org.org_id, graced).await, "version"), "1");

    // Paging with a cursor returns the same entries in the same order (pages read beside each
    // other are kept only while they fit the limit).
    let all: Vec<u64> = data.iter().map(|d| d["customerId"].as_u64().unwrap()).collect();
    for limit in [1, 2] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page_path = match &cursor {
                Some(c) => format!("{path}&limit={limit}&cursor={c}"),
                None => format!("{path}&limit={limit}"),
            };
            let r = f.org.get(&f.org.admin, &page_path).await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert!(r.body["data"].as_array().unwrap().len() <= limit, "{}", r.text);
            seen.extend(r.body["data"].as_array().unwrap().iter().map(|d| d["customerId"].as_u64().unwrap()));
            match r.body["pagination"]["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        assert_eq!(seen, all, "limit {limit}");
    }
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(sorted, vec![graced, expiring]);
    assert_eq!(f.org.get(&f.org.admin, &format!("{path}&cursor=bogus")).await.status, 400);
    let far = iso(t.now() + Duration::days(200)).replace('+', "%2B");
    assert_eq!(f.org.get(&f.org.admin, &format!("/v2/partnerProgram/expiryPreview?until={far}")).await.status, 400);

    // The sweep then does what the preview said.
    t.advance(Duration::days(5));
    let summary = t.sweep().await;
    assert_eq!(summary.actions.get("TIER_GRACE_STARTED"), Some(&1));
    assert_eq!(summary.actions.get("DOWNGRADE_TO_LOWEST_TIER"), Some(&1));
    assert_eq!(summary.actions.get("EXPIRE_TIER"), Some(&2), "this org's and the other org's");
}

/// The one-subscription guard as the sweep sees it: a membership that ends releases it,
/// one that moves to its backup program hands it over in the same transaction.
#[tokio::test]
async fn the_sweep_releases_the_one_subscription_guard_or_hands_it_to_the_backup() {
    let t = SweepApp::start().await;
    let f = fixture(&t.app).await;
    assert!(t.app.state.store.set_one_supplementary_per_customer(f.org.org_id, true).await.unwrap());
    t.app.state.invalidate(f.org.org_id);
    let supplementary = |days: u32| {
        json!({
            "programId": f.rewards, "partnerProgramType": "SUPPLEMENTARY", "tierBased": false,
            "membershipPeriodType": "DAYS", "membershipPeriodValue": days
        })
    };
    f.org.partner_program("DayPass", supplementary(1)).await;
    f.org.partner_program("BackupPass", supplementary(60)).await;
    let mut short = supplementary(30);
    short["expiryDate"] = json!(iso(t.now() + Duration::days(2)));
    short["backupPartnerProgramName"] = json!("BackupPass");
    f.org.partner_program("ShortPass", short).await;
    let ends = f.enrolled("919800000901").await;
    let moves = f.enrolled("919800000902").await;
    link(&f, "919800000901", "FlexiPass", json!({})).await;
    link(&f, "919800000902", "ShortPass", json!({})).await;
    let guard = |id: u64| {
        let state = t.app.state.clone();
        let org = f.org.org_id;
        async move { state.store.subscription(org, id).await.unwrap().map(|g| g.partner_program_name) }
    };
    assert_eq!(guard(ends).await.as_deref(), Some("FlexiPass"));
    assert_eq!(guard(moves).await.as_deref(), Some("ShortPass"));

    t.advance(Duration::days(3));
    let summary = t.sweep().await;
    assert_eq!(summary.programs_expired, 1, "{summary:?}");
    assert_eq!(guard(moves).await.as_deref(), Some("BackupPass"), "handed over to the backup membership");
    let backup = linkage_in(&t.app.state, f.org.org_id, moves, "BackupPass").await;
    assert_eq!(s(&backup, "holdsSubscription"), "true");
    assert!(!linkage_in(&t.app.state, f.org.org_id, moves, "ShortPass").await.contains_key("holdsSubscription"));
    let r = f.org.link(link_body(json!({"mobile": "919800000902"}), "DayPass", json!({}))).await;
    let status = first_status(&r, "linkCustomers", "linkToPartnerPrograms", "partnerLinkStatus");
    assert_eq!(status["code"], 2001, "{}", r.text);
    assert!(status["detail"].as_str().unwrap().contains("membership in BackupPass;"), "{}", r.text);

    t.advance(Duration::days(28));
    let summary = t.sweep().await;
    assert_eq!(actions(&summary), vec![("SUPPLEMENTARY_MEMBERSHIP_EXPIRED".into(), 1)], "{summary:?}");
    assert_eq!(guard(ends).await, None, "the ended membership released it");
    link(&f, "919800000901", "DayPass", json!({})).await;
    assert_eq!(guard(ends).await.as_deref(), Some("DayPass"));
}

fn at(raw: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(raw).unwrap().with_timezone(&Utc)
}

/// `(customer id, or program name for a program's own expiry; action) → at` of every action the
/// preview lists up to now.
async fn preview_dates(t: &SweepApp, f: &Fixture) -> HashMap<(String, String), DateTime<Utc>> {
    let until = t.now().format("%Y-%m-%dT%H:%M:%S%%2B00:00").to_string();
    let r = f.org.get(&f.org.admin, &format!("/v2/partnerProgram/expiryPreview?until={until}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut dates = HashMap::new();
    for entry in r.body["data"].as_array().unwrap() {
        let whom = match entry["customerId"].as_u64() {
            Some(customer) => customer.to_string(),
            None => entry["partnerProgramName"].as_str().unwrap().to_string(),
        };
        for a in entry["actions"].as_array().unwrap() {
            dates.insert((whom.clone(), a["action"].as_str().unwrap().to_string()), at(a["at"].as_str().unwrap()));
        }
    }
    dates
}

/// The stored date of a customer's only activity of one type.
async fn activity_date(t: &SweepApp, f: &Fixture, customer: u64, kind: &str) -> DateTime<Utc> {
    let items = stored(&t.app.state, f.org.org_id, customer, "HIST#").await;
    let of_kind: Vec<_> = items.iter().filter(|i| i["activityType"].as_s().unwrap() == kind).collect();
    assert_eq!(of_kind.len(), 1, "exactly one {kind}: {items:?}");
    s(of_kind[0], "activityDate").parse().unwrap()
}

/// The linkage as the read API shows it, in one program.
async fn shown(f: &Fixture, mobile: &str, program: &str) -> Value {
    let r = f.org.linked_programs("mobile", mobile).await;
    r.body["linkedPartnerPrograms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["partnerProgramName"] == program)
        .cloned()
        .unwrap_or(Value::Null)
}

/// A membership starting later is scheduled at link time and started once by
/// the sweep; every transition (start, tier expiry, program expiry and the backup membership it
/// starts) is dated when it took effect, however late the sweep runs, and the preview said so.
#[tokio::test]
async fn lifecycle_dates_are_the_moments_transitions_take_effect_as_the_preview_says() {
    let t = SweepApp::start().await;
    let f = fixture(&t.app).await;
    f.org
        .partner_program(
            "BackupPass",
            json!({
                "programId": f.rewards, "partnerProgramType": "SUPPLEMENTARY", "tierBased": false,
                "membershipPeriodType": "DAYS", "membershipPeriodValue": 60
            }),
        )
        .await;
    let expiry = at(&iso(t.now() + Duration::days(2)));
    f.org
        .partner_program(
            "ShortMiles",
            json!({"programId": f.rewards, "partnerProgramType": "EXTERNAL", "tierBased": false,
                   "expiryDate": iso(expiry), "backupPartnerProgramName": "BackupPass"}),
        )
        .await;
    let pending = f.enrolled("919800000951").await;
    let tiered = f.enrolled("919800000952").await;
    let migrated = f.enrolled("919800000953").await;
    let start = at(&iso(t.now() + Duration::days(1)));
    let tier_expiry = at(&iso(t.now() + Duration::days(1) + Duration::hours(3)));
    link(&f, "919800000951", "FlexiPass", json!({"membershipStartDate": iso(start)})).await;
    link(&f, "919800000952", "SkyMiles", json!({"partnerTierName": "Gold", "partnerTierExpiryDate": iso(tier_expiry)}))
        .await;
    link(&f, "919800000953", "ShortMiles", json!({})).await;
    assert_eq!(
        activity_types(&t.app.state, f.org.org_id, pending).await,
        vec!["MEMBERSHIP_START_SCHEDULED"],
        "scheduled, not started"
    );
    assert_eq!(s(&linkage(&t.app.state, f.org.org_id, pending).await, "status"), "PENDING");

    // The sweep runs days late.
    t.advance(Duration::days(5));
    let preview = preview_dates(&t, &f).await;
    assert_eq!(preview[&(pending.to_string(), "PENDING_ACTIVATED".to_string())], start);
    assert_eq!(preview[&(tiered.to_string(), "EXPIRE_TIER".to_string())], tier_expiry);
    assert_eq!(preview[&("ShortMiles".to_string(), "PARTNER_PROGRAM_EARLY_EXPIRY".to_string())], expiry);
    assert_eq!(preview[&("ShortMiles".to_string(), "BACKUP_SUPPLEMENTARY_MEMBERSHIP_STARTED".to_string())], expiry);
    let summary = t.sweep().await;
    assert_eq!(summary.failed, 0, "{summary:?}");
    assert_eq!(t.sweep().await.changed, 0, "a rerun changes nothing");

    assert_eq!(
        activity_types(&t.app.state, f.org.org_id, pending).await,
        vec!["MEMBERSHIP_START_SCHEDULED", "SUPPLEMENTARY_MEMBERSHIP_STARTED"]
    );
    assert_eq!(
        activity_date(&t, &f, pending, "SUPPLEMENTARY_MEMBERSHIP_STARTED").await,
        preview[&(pending.to_string(), "PENDING_ACTIVATED".to_string())]
    );
    let p = shown(&f, "919800000951", "FlexiPass").await;
    assert_eq!(p["partnerProgramMembershipLastUpdatedDate"], format_z(start), "{p}");
    assert_eq!(p["partnerProgramMembershipLastUpdatedActivity"], "SUPPLEMENTARY_MEMBERSHIP_STARTED");

    assert_eq!(
        activity_date(&t, &f, tiered, "TIER_EXPIRED").await,
        preview[&(tiered.to_string(), "EXPIRE_TIER".to_string())]
    );
    let p = shown(&f, "919800000952", "SkyMiles").await;
    assert_eq!(p["partnerProgramMembershipLastUpdatedDate"], format_z(tier_expiry), "{p}");

    assert_eq!(activity_date(&t, &f, migrated, "PARTNER_PROGRAM_EARLY_EXPIRY").await, expiry);
    assert_eq!(
        activity_date(&t, &f, migrated, "BACKUP_SUPPLEMENTARY_MEMBERSHIP_STARTED").await,
        preview[&("ShortMiles".to_string(), "BACKUP_SUPPLEMENTARY_MEMBERSHIP_STARTED".to_string())]
    );
    let old = linkage_in(&t.app.state, f.org.org_id, migrated, "ShortMiles").await;
    assert_eq!(at(&s(&old, "lastUpdated")), expiry);
    let p = shown(&f, "919800000953", "BackupPass").await;
    assert_eq!(
        p["partnerProgramMembershipStartDate"],
        format_z(expiry),
        "the backup starts at the program's expiry: {p}"
    );
    assert_eq!(p["partnerProgramMembershipEndDate"], format_z(expiry + Duration::days(60)), "{p}");
    assert_eq!(p["partnerProgramMembershipLastUpdatedDate"], format_z(expiry), "{p}");
}

fn format_z(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

async fn update(org: &TestOrg, mobile: &str, program: &str, update_type: &str, details: Option<Value>) -> Resp {
    let mut entry = json!({"partnerProgramName": program, "updateType": update_type});
    if let Some(d) = details {
        entry["updateDetails"] = d;
    }
    org.post(
        &org.api,
        "/v2/partnerProgram/customerPartnerProgramUpdate",
        json!({"customersPartnerUpdates": [{"customer": {"mobile": mobile}, "partnerProgramUpdates": [entry]}]}),
    )
    .await
}

fn update_status(r: &Resp) -> Value {
    first_status(r, "customersPartnerUpdates", "partnerProgramUpdates", "updateStatus")
}

/// Pause → the membership does not expire → resume (explicit, or by the sweep
/// when the window ends) → the end moves later by exactly the days paused in the org's calendar,
/// here across the start of US daylight saving time (2027-03-14 in America/New_York).
#[tokio::test]
async fn a_paused_membership_does_not_expire_and_resumes_with_its_end_moved_by_the_days_paused() {
    let t = SweepApp::start().await;
    *t.now.lock().unwrap() = at("2027-03-10T15:00:00Z"); // 10:00 EST
    let org = t.app.org("America/New_York").await;
    let rewards = org.loyalty_program("Rewards").await;
    let supplementary = |days: u32| {
        json!({
            "programId": rewards, "partnerProgramType": "SUPPLEMENTARY", "tierBased": false,
            "membershipPeriodType": "DAYS", "membershipPeriodValue": days
        })
    };
    org.partner_program("FlexiPass", supplementary(30)).await;
    org.partner_program("DayPass", supplementary(1)).await;
    org.partner_program("SkyMiles", skymiles(rewards)).await;
    let mut ids = Vec::new();
    for mobile in ["919722200001", "919722200002"] {
        ids.push(org.customer(json!({"mobile": mobile, "programIds": [rewards]})).await);
    }
    let (explicit, swept) = (ids[0], ids[1]);
    let ok = |r: &Resp| assert_eq!(r.status, 200, "{}", r.text);
    ok(&org.link(link_body(json!({"mobile": "919722200001"}), "FlexiPass", json!({}))).await);
    ok(&org
        .link(link_body(
            json!({"mobile": "919722200001"}),
            "SkyMiles",
            json!({"partnerTierName": "Gold", "partnerTierExpiryDate": "2027-12-31"}),
        ))
        .await);
    ok(&org.link(link_body(json!({"mobile": "919722200002"}), "DayPass", json!({}))).await);
    let end_of = |item: &Item| at(&s(item, "membershipEndDate"));
    assert_eq!(
        end_of(&linkage_in(&t.app.state, org.org_id, explicit, "FlexiPass").await),
        at("2027-04-09T14:00:00Z"),
        "30 local days: 10:00 EDT"
    );

    // Refusals, each with its code and a detail.
    let r = update(&org, "919722200001", "SkyMiles", "PAUSE", Some(json!({"pauseEndDate": "2027-03-20"}))).await;
    assert_eq!(update_status(&r)["code"], 2001, "{}", r.text);
    assert!(update_status(&r)["detail"].as_str().unwrap().contains("EXTERNAL"), "{}", r.text);
    let r = update(&org, "919722200001", "FlexiPass", "PAUSE", Some(json!({"pauseEndDate": "2027-03-01"}))).await;
    assert_eq!(update_status(&r)["code"], 2003, "a window in the past: {}", r.text);
    let r = update(&org, "919722200001", "FlexiPass", "PAUSE", Some(json!({}))).await;
    assert_eq!(update_status(&r)["code"], 2002, "{}", r.text);
    let r = update(&org, "919722200001", "FlexiPass", "RESUME", None).await;
    assert_eq!(update_status(&r)["code"], 2001, "nothing to resume: {}", r.text);
    assert!(update_status(&r)["detail"].as_str().unwrap().contains("not paused"), "{}", r.text);

    ok(&update(&org, "919722200001", "FlexiPass", "PAUSE", Some(json!({"pauseEndDate": "2027-03-31T00:00:00-04:00"})))
        .await);
    ok(&update(&org, "919722200002", "DayPass", "PAUSE", Some(json!({"pauseEndDate": "2027-03-16T10:00:00-04:00"})))
        .await);
    let r = update(&org, "919722200001", "FlexiPass", "PAUSE", Some(json!({"pauseEndDate": "2027-03-25"}))).await;
    assert_eq!(update_status(&r)["code"], 2001, "pausing twice: {}", r.text);
    assert!(update_status(&r)["detail"].as_str().unwrap().contains("already paused"), "{}", r.text);
    let shown = org.linked_programs("mobile", "919722200001").await;
    let flexi = shown.body["linkedPartnerPrograms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["partnerProgramName"] == "FlexiPass")
        .unwrap()
        .clone();
    assert_eq!(flexi["status"], "PAUSED", "{flexi}");
    assert_eq!(
        flexi["membershipPause"],
        json!({"pausedFrom": "2027-03-10T15:00:00Z", "pausedUntil": "2027-03-31T04:00:00Z"})
    );

    // Past DayPass's own end: paused, it does not expire.
    t.advance(Duration::days(2));
    assert_eq!(t.sweep().await.changed, 0);
    assert_eq!(s(&linkage_in(&t.app.state, org.org_id, swept, "DayPass").await, "status"), "PAUSED");

    // Seven local days after the pause (10:00 EDT, 167 hours later), an explicit resume.
    *t.now.lock().unwrap() = at("2027-03-17T14:00:00Z");
    ok(&update(&org, "919722200001", "FlexiPass", "RESUME", None).await);
    let l = linkage_in(&t.app.state, org.org_id, explicit, "FlexiPass").await;
    assert_eq!(
        (s(&l, "status"), end_of(&l)),
        ("ACTIVE".into(), at("2027-04-16T14:00:00Z")),
        "moved by exactly 7 local days"
    );
    assert_eq!(
        activity_types(&t.app.state, org.org_id, explicit)
            .await
            .into_iter()
            .filter(|a| a != "ENROLLMENT")
            .collect::<Vec<_>>(),
        vec!["SUPPLEMENTARY_MEMBERSHIP_STARTED", "MEMBERSHIP_PAUSED", "MEMBERSHIP_RESUMED"]
    );
    let r = update(&org, "919722200001", "FlexiPass", "RESUME", None).await;
    assert_eq!(update_status(&r)["code"], 2001, "resuming twice: {}", r.text);

    // DayPass's window ended at 10:00 EDT on the 16th: the sweep resumed it then (6 local days
    // paused), and its moved end (10:00 EDT on the 17th) is due at once.
    let summary = t.sweep().await;
    assert_eq!(
        actions(&summary),
        vec![("MEMBERSHIP_RESUMED".into(), 1), ("SUPPLEMENTARY_MEMBERSHIP_EXPIRED".into(), 1)],
        "{summary:?}"
    );
    assert_eq!(
        activity_types(&t.app.state, org.org_id, swept).await,
        vec![
            "SUPPLEMENTARY_MEMBERSHIP_STARTED",
            "MEMBERSHIP_PAUSED",
            "MEMBERSHIP_RESUMED",
            "SUPPLEMENTARY_MEMBERSHIP_EXPIRED"
        ]
    );
    let l = linkage_in(&t.app.state, org.org_id, swept, "DayPass").await;
    assert_eq!(end_of(&l), at("2027-03-17T14:00:00Z"));
    let hist = stored(&t.app.state, org.org_id, swept, "HIST#").await;
    let dated = |kind: &str| at(&s(hist.iter().find(|h| s(h, "activityType") == kind).unwrap(), "activityDate"));
    assert_eq!(dated("MEMBERSHIP_RESUMED"), at("2027-03-16T14:00:00Z"), "resumed when the window ended");
    assert_eq!(dated("SUPPLEMENTARY_MEMBERSHIP_EXPIRED"), at("2027-03-17T14:00:00Z"));
    let names: Vec<String> = t
        .events_of(swept)
        .await
        .iter()
        .map(|e| format!("{}/{}", e["eventName"].as_str().unwrap(), e["data"]["updateType"].as_str().unwrap_or("")))
        .collect();
    assert!(names.contains(&"partnerProgramUpdated/MEMBERSHIP_PAUSED".to_string()), "{names:?}");
    assert!(names.contains(&"partnerProgramUpdated/MEMBERSHIP_RESUMED".to_string()), "{names:?}");
}

/// The linking history of one program as the history API shows it, newest first: (type, date).
async fn linking_history(org: &TestOrg, mobile: &str, program: &str) -> Vec<(String, String)> {
    let path = format!(
        "/v2/partnerProgram/customerActivityHistories?identifierName=mobile&identifierValue={mobile}&\
         activityType=LINKINGUPDATES"
    );
    let r = org.get(&org.api, &path).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let entry =
        r.body["data"].as_array().unwrap().iter().find(|e| e["partnerProgramDetails"]["partnerProgramName"] == program);
    let records =
        entry.unwrap_or_else(|| panic!("no {program}: {}", r.text))["customerActivityHistory"].as_array().unwrap();
    for pair in records.windows(2) {
        assert_eq!(pair[0]["from"], pair[1]["to"], "each record's from is the previous record's to: {}", r.text);
    }
    records.iter().map(|h| (s_of(&h["activityType"]), s_of(&h["activityDate"]))).collect()
}

fn s_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn dated(records: &[(&str, &str)]) -> Vec<(String, String)> {
    records.iter().map(|(a, d)| (a.to_string(), d.to_string())).collect()
}

/// A pause whose window has ended reads as resumed at `pauseEndDate` before the sweep has run,
/// exactly as the sweep then records it; in that gap a new `PAUSE` is decided on the resumed
/// membership (the lapsed window recorded as resumed at its end, then the new pause), and a late
/// `RESUME` is dated at `pauseEndDate`, as the sweep would have dated it.
#[tokio::test]
async fn a_lapsed_pause_reads_and_is_decided_as_resumed_at_its_end_as_the_sweep_records_it() {
    let t = SweepApp::start().await;
    t.set(at("2031-05-03T04:30:00Z"));
    let f = fixture(&t.app).await;
    let (swept, paused_again, late) = ("919830000001", "919830000002", "919830000003");
    let mut ids = Vec::new();
    for mobile in [swept, paused_again, late] {
        ids.push(f.enrolled(mobile).await);
        link(&f, mobile, "FlexiPass", json!({})).await; // 30 days: ends 2031-06-02T04:30:00Z
    }
    let update_ok = async |mobile: &str, kind: &str, details: Option<Value>| {
        let r = update(&f.org, mobile, "FlexiPass", kind, details).await;
        assert_eq!(r.status, 200, "{kind} for {mobile}: {}", r.text);
    };
    t.set(at("2031-05-04T04:30:00Z"));
    for mobile in [swept, paused_again, late] {
        // Six days, to 10:00 in Kolkata on the 10th.
        update_ok(mobile, "PAUSE", Some(json!({"pauseEndDate": "2031-05-10T10:00:00+05:30"}))).await;
    }

    // Two days after the window ended, before any sweep: read as the sweep will record it.
    t.set(at("2031-05-12T04:30:00Z"));
    let before_sweep = shown(&f, swept, "FlexiPass").await;
    assert_eq!(before_sweep["status"], "ACTIVE", "{before_sweep}");
    assert_eq!(before_sweep["partnerProgramMembershipEndDate"], "2031-06-08T04:30:00Z", "moved by the six days");
    assert_eq!(
        before_sweep["membershipPause"],
        json!({
            "pausedFrom": "2031-05-04T04:30:00Z", "pausedUntil": "2031-05-10T04:30:00Z",
            "resumedAt": "2031-05-10T04:30:00Z"
        })
    );

    // A new PAUSE in that gap: the lapsed window is recorded as resumed at its end, then the
    // new pause moves the end it left.
    update_ok(paused_again, "PAUSE", Some(json!({"pauseEndDate": "2031-05-20T10:00:00+05:30"}))).await;
    assert_eq!(
        linking_history(&f.org, paused_again, "FlexiPass").await,
        dated(&[
            ("MEMBERSHIP_PAUSED", "2031-05-12T04:30:00Z"),
            ("MEMBERSHIP_RESUMED", "2031-05-10T04:30:00Z"),
            ("MEMBERSHIP_PAUSED", "2031-05-04T04:30:00Z"),
            ("SUPPLEMENTARY_MEMBERSHIP_STARTED", "2031-05-03T04:30:00Z"),
        ])
    );
    let again = shown(&f, paused_again, "FlexiPass").await;
    assert_eq!(again["status"], "PAUSED", "{again}");
    assert_eq!(again["partnerProgramMembershipEndDate"], "2031-06-08T04:30:00Z", "{again}");
    assert_eq!(
        again["membershipPause"],
        json!({"pausedFrom": "2031-05-12T04:30:00Z", "pausedUntil": "2031-05-20T04:30:00Z"})
    );
    let updates: Vec<String> = t
        .events_of(ids[1])
        .await
        .iter()
        .map(|e| e["data"]["updateType"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(updates[updates.len() - 2..], ["MEMBERSHIP_RESUMED".to_string(), "MEMBERSHIP_PAUSED".to_string()]);

    // A late RESUME is dated when the window ended.
    update_ok(late, "RESUME", None).await;
    assert_eq!(
        linking_history(&f.org, late, "FlexiPass").await,
        dated(&[
            ("MEMBERSHIP_RESUMED", "2031-05-10T04:30:00Z"),
            ("MEMBERSHIP_PAUSED", "2031-05-04T04:30:00Z"),
            ("SUPPLEMENTARY_MEMBERSHIP_STARTED", "2031-05-03T04:30:00Z"),
        ])
    );

    // The sweep resumes the one left alone, as the read said and as the late RESUME recorded.
    let summary = t.sweep().await;
    assert_eq!(actions(&summary), vec![("MEMBERSHIP_RESUMED".into(), 1)], "{summary:?}");
    let after_sweep = shown(&f, swept, "FlexiPass").await;
    assert_eq!(after_sweep, before_sweep, "the read before the sweep is what the sweep wrote");
    assert_eq!(shown(&f, late, "FlexiPass").await, after_sweep, "a late RESUME writes what the sweep writes");
    assert_eq!(linking_history(&f.org, swept, "FlexiPass").await, linking_history(&f.org, late, "FlexiPass").await);
}

/// The one-subscription guard stays with an ended membership while its pending relink is agreed,
/// and goes when that relink is cancelled.
#[tokio::test]
async fn an_ended_membership_keeps_the_guard_for_its_pending_relink_until_it_is_cancelled() {
    let t = SweepApp::start().await;
    let f = fixture(&t.app).await;
    assert!(t.app.state.store.set_one_supplementary_per_customer(f.org.org_id, true).await.unwrap());
    t.app.state.invalidate(f.org.org_id);
    f.org
        .partner_program(
            "DayPass",
            json!({
                "programId": f.rewards, "partnerProgramType": "SUPPLEMENTARY", "tierBased": false,
                "membershipPeriodType": "DAYS", "membershipPeriodValue": 1
            }),
        )
        .await;
    let id = f.enrolled("919800000961").await;
    link(&f, "919800000961", "FlexiPass", json!({})).await;
    link(&f, "919800000961", "FlexiPass", json!({"membershipStartDate": iso(t.now() + Duration::days(40))})).await;
    t.advance(Duration::days(31));
    assert_eq!(actions(&t.sweep().await), vec![("SUPPLEMENTARY_MEMBERSHIP_EXPIRED".into(), 1)]);
    let guard = t.app.state.store.subscription(f.org.org_id, id).await.unwrap();
    assert_eq!(guard.map(|g| g.partner_program_name).as_deref(), Some("FlexiPass"), "kept for the pending relink");
    let r = f.org.link(link_body(json!({"mobile": "919800000961"}), "DayPass", json!({}))).await;
    assert_eq!(
        first_status(&r, "linkCustomers", "linkToPartnerPrograms", "partnerLinkStatus")["code"],
        2001,
        "{}",
        r.text
    );

    let r = f
        .org
        .post(
            &f.org.api,
            "/v2/partnerProgram/customerPartnerProgramUpdate",
            json!({
                "customersPartnerUpdates": [{
                    "customer": {"mobile": "919800000961"},
                    "partnerProgramUpdates": [{
                        "partnerProgramName": "FlexiPass", "updateType": "MEMBERSHIP_RELINKING_CANCELLED"
                    }]
                }]
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(t.app.state.store.subscription(f.org.org_id, id).await.unwrap().is_none(), "released with the relink");
    link(&f, "919800000961", "DayPass", json!({})).await;
}

/// Every DynamoDB call of the sweep goes through a `Store` method whose error says when DynamoDB
/// throttled (the sweep's own error used to say `throttled: false` whatever happened). The
/// throttling comes from the fault proxy on the wire: DynamoDB Local never throttles.
#[tokio::test]
async fn the_sweeps_storage_errors_say_when_dynamodb_throttled() {
    use crate::fault_proxy::{Fault, FaultProxy, Schedule};
    use shared::storage::keys;
    use shared::storage::store::DueQuery;
    let targets = vec!["Query", "BatchGetItem", "UpdateItem", "GetItem"];
    let schedule = Schedule { rate: 1.0, kinds: vec![Fault::Throttling], seed: 3, targets };
    let proxy = FaultProxy::start(&TestApp::dynamodb_url(), schedule).await;
    // A table that does not exist: a throttled call DynamoDB applied after all changes nothing.
    let table = format!("pp-throttled-{}", uuid::Uuid::new_v4().simple());
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let retries = aws_config::retry::RetryConfig::standard().with_initial_backoff(std::time::Duration::from_millis(10));
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk).endpoint_url(&proxy.url).retry_config(retries).build();
    let client = aws_sdk_dynamodb::Client::from_conf(conf);
    let state = AppState::new(Store::new(client, table.clone()), test_config(&table), Arc::new(Utc::now));
    let store = &state.store;
    let due_pk = keys::due_pk("2031-03-10", 0);
    let query = DueQuery { due_pk: &due_pk, upper: "2031-03-11", limit: 10, org: None, forward: true };
    let key = keys::sweep_watermark();
    let errors = [
        ("Query DueIndex", store.query_due_page(&query, None).await.err()),
        ("Query ProgramMembers", store.query_program_member_keys("ORG#1#PP#2", None).await.err()),
        ("BatchGetItem", store.batch_get_consistent(vec![key.to_item()]).await.err()),
        ("GetItem watermark", store.sweep_watermark().await.err()),
        ("UpdateItem watermark", store.advance_sweep_watermark("2031-03-10").await.err()),
        ("UpdateItem due keys", store.remove_due_keys(&key, "x").await.err()),
    ];
    for (call, error) in errors {
        let error = error.unwrap_or_else(|| panic!("{call}: every attempt was throttled, yet it succeeded"));
        assert!(error.is_throttled(), "{call}: {error}");
    }
    // The run itself stops at its first throttled read and says so.
    let summary = sweep::run(&state, &SweepSettings::default(), SweepOptions::default()).await;
    assert_eq!(summary.stopped_by, StopReason::StorageError, "{summary:?}");
}
