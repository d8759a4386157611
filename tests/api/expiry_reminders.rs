//! Expiry reminders against DynamoDB Local: `expiryReminderDays` set through
//! the API, memberships and tiers linked, renewed and delinked through the API, the clock moved
//! forward and the sweep run as the Lambda runs it (and as its own process, killed). Each test has
//! a table of its own: the sweep reads the whole due index.

use crate::support::*;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use shared::domain::reminders::remind_at;
use shared::state::AppState;
use shared::sweep::{self, SweepOptions, SweepSettings, SweepSummary};
use std::collections::{BTreeMap, HashMap};

type Item = HashMap<String, AttributeValue>;

const SUPPLEMENTARY_REMINDER: &str = "supplementaryMembershipExpiryReminder";
const TIER_REMINDER: &str = "partnerTierExpiryReminder";

/// A test app on a table of its own, with a clock the test moves (`support::ClockedApp`).
struct ReminderApp(ClockedApp);

impl std::ops::Deref for ReminderApp {
    type Target = ClockedApp;
    fn deref(&self) -> &ClockedApp {
        &self.0
    }
}

impl ReminderApp {
    async fn start() -> ReminderApp {
        ReminderApp(ClockedApp::start("pp-remind").await)
    }

    async fn sweep(&self) -> SweepSummary {
        sweep::run(&self.app.state, &SweepSettings::default(), SweepOptions::default()).await
    }

    /// Reminder event payloads of the table, oldest first.
    async fn reminder_events(&self) -> Vec<Value> {
        let mut events: Vec<Value> = scan_entities(&self.app.state, "EVENT", None)
            .await
            .iter()
            .map(|e| serde_json::from_str::<Value>(e["payload"].as_s().unwrap()).unwrap())
            .filter(|e| [SUPPLEMENTARY_REMINDER, TIER_REMINDER].contains(&e["eventName"].as_str().unwrap()))
            .collect();
        events.sort_by_key(|e| e["eventId"].as_str().unwrap().to_string());
        events
    }

    /// Reminder events per customer id.
    async fn reminders_per_customer(&self) -> BTreeMap<u64, usize> {
        let mut per = BTreeMap::new();
        for e in self.reminder_events().await {
            *per.entry(e["data"]["customerIdentifiers"]["customerId"].as_u64().unwrap()).or_default() += 1;
        }
        per
    }
}

fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

fn kolkata() -> shared::domain::zone::Zone {
    shared::domain::zone::Zone::named("Asia/Kolkata").unwrap()
}

fn day_in_kolkata(t: DateTime<Utc>) -> String {
    t.with_timezone(&kolkata()).format("%Y-%m-%d").to_string()
}

/// The stored reminder items of a customer (sort key, `DUE_SK`).
async fn reminder_items(state: &AppState, org: u64, customer: u64) -> Vec<Item> {
    stored(state, org, customer, "REMIND#").await
}

fn stored_instant(item: &Item, name: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(item[name].as_s().unwrap()).unwrap().with_timezone(&Utc)
}

fn membership_end(item: &Item) -> DateTime<Utc> {
    stored_instant(item, "membershipEndDate")
}

async fn linkage_in(state: &AppState, org: u64, customer: u64, program: &str) -> Item {
    stored(state, org, customer, "LINK#")
        .await
        .into_iter()
        .find(|l| l["partnerProgramName"].as_s().unwrap() == program)
        .unwrap()
}

/// The fixture's programs with reminders: FlexiPass 7 and 1 days before its end, SkyMiles 30 and 7
/// days before a tier expires.
async fn with_reminders(f: &Fixture) {
    let flexi = json!({"programId": f.rewards, "partnerProgramType": "SUPPLEMENTARY", "tierBased": false,
        "membershipPeriodType": "DAYS", "membershipPeriodValue": 30, "expiryReminderDays": [1, 7]});
    let body = f.org.partner_program("FlexiPass", flexi).await;
    assert_eq!(body["expiryReminderDays"], json!([7, 1]), "furthest first: {body}");
    let mut sky = skymiles(f.rewards);
    sky["expiryReminderDays"] = json!([30, 7]);
    f.org.partner_program("SkyMiles", sky).await;
}

async fn link(f: &Fixture, mobile: &str, program: &str, reference: Value) {
    let r = f.org.link(link_body(json!({"mobile": mobile}), program, reference)).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn update(org: &TestOrg, mobile: &str, program: &str, update_type: &str, details: Value) -> Resp {
    let entry = json!({"partnerProgramName": program, "updateType": update_type, "updateDetails": details});
    org.post(
        &org.api,
        "/v2/partnerProgram/customerPartnerProgramUpdate",
        json!({"customersPartnerUpdates": [{"customer": {"mobile": mobile}, "partnerProgramUpdates": [entry]}]}),
    )
    .await
}

fn reminder_count(s: &SweepSummary, action: &str) -> u64 {
    s.actions.get(action).copied().unwrap_or(0)
}

fn reminders_sent(s: &SweepSummary) -> u64 {
    reminder_count(s, "SUPPLEMENTARY_MEMBERSHIP_EXPIRY_REMINDER") + reminder_count(s, "PARTNER_TIER_EXPIRY_REMINDER")
}

/// An instant as a request date carries it (whole seconds).
fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap()
}

#[tokio::test]
async fn reminders_fire_once_per_day_and_expiry_across_reruns() {
    let t = ReminderApp::start().await;
    let f = fixture(&t.app).await;
    with_reminders(&f).await;
    let member = f.enrolled("919810000001").await;
    let flier = f.enrolled("919810000002").await;
    let start = t.now();
    link(&f, "919810000001", "FlexiPass", json!({})).await;
    let tier_expiry = start + Duration::days(60);
    link(&f, "919810000002", "SkyMiles", json!({"partnerTierName": "Gold", "partnerTierExpiryDate": iso(tier_expiry)}))
        .await;
    let end = membership_end(&linkage_in(&t.app.state, f.org.org_id, member, "FlexiPass").await);
    assert_eq!(reminder_items(&t.app.state, f.org.org_id, member).await.len(), 2);
    assert_eq!(reminder_items(&t.app.state, f.org.org_id, flier).await.len(), 2);

    // Each reminder day, the sweep sends that day's reminder once; reruns send nothing more.
    let tz = kolkata();
    let moments = [
        (remind_at(end, 7, &tz).unwrap(), member, 7),
        (remind_at(end, 1, &tz).unwrap(), member, 1),
        (remind_at(tier_expiry, 30, &tz).unwrap(), flier, 30),
        (remind_at(tier_expiry, 7, &tz).unwrap(), flier, 7),
    ];
    let mut sent = 0;
    for (at, customer, days) in moments {
        t.set(at - Duration::minutes(1));
        assert_eq!(reminders_sent(&t.sweep().await), 0, "nothing before the day of the {days}-day reminder");
        t.set(at + Duration::hours(5));
        let first = t.sweep().await;
        assert_eq!(reminders_sent(&first), 1, "{first:?}");
        for _ in 0..3 {
            assert_eq!(reminders_sent(&t.sweep().await), 0, "a rerun sends nothing");
        }
        sent += 1;
        let events = t.reminder_events().await;
        assert_eq!(events.len(), sent);
        let e = events.last().unwrap();
        assert_eq!(e["data"]["customerIdentifiers"], json!({"customerId": customer}));
        assert_eq!(e["data"]["reminderDaysBefore"], days);
        assert_eq!(e["data"]["loyaltyProgramId"], f.rewards);
    }
    let events = t.reminder_events().await;
    let supplementary: Vec<&Value> = events.iter().filter(|e| e["eventName"] == SUPPLEMENTARY_REMINDER).collect();
    assert_eq!(supplementary.len(), 2);
    let data = &supplementary[0]["data"];
    assert_eq!(data["partnerProgramName"], "FlexiPass");
    assert_eq!(data["partnerProgramType"], "SUPPLEMENTARY");
    assert!(data["partnerProgramId"].as_u64().is_some());
    assert_eq!(data["scheduledExpiryDate"], day_in_kolkata(end));
    assert_eq!(data["scheduledExpiryDateInMillis"], end.timestamp_millis());
    assert_eq!(supplementary[0]["refId"], member.to_string());
    let tier: Vec<&Value> = events.iter().filter(|e| e["eventName"] == TIER_REMINDER).collect();
    assert_eq!(tier.len(), 2);
    assert_eq!(tier[0]["data"]["scheduledExpiryDate"], day_in_kolkata(tier_expiry));
    assert_eq!(
        (&tier[0]["data"]["partnerTierName"], &tier[0]["data"]["partnerTierNumber"]),
        (&json!("Gold"), &json!(2))
    );
    assert_eq!(tier[0]["data"]["partnerProgramName"], "SkyMiles");

    // Every reminder was taken out when sent; the expiries themselves still happen, and after
    // them nothing more is sent.
    assert!(reminder_items(&t.app.state, f.org.org_id, member).await.is_empty());
    assert!(reminder_items(&t.app.state, f.org.org_id, flier).await.is_empty());
    t.set(tier_expiry + Duration::days(1));
    let last = t.sweep().await;
    assert_eq!((reminder_count(&last, "EXPIRE_TIER"), reminders_sent(&last)), (1, 0), "{last:?}");
    assert_eq!(t.sweep().await.changed, 0);
    assert_eq!(t.reminder_events().await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_sweeps_send_each_reminder_once() {
    let t = ReminderApp::start().await;
    let f = fixture(&t.app).await;
    with_reminders(&f).await;
    let n = 150u64;
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(f.enrolled(&format!("9198200{i:05}")).await);
    }
    for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
        let customers: Vec<Value> = chunk
            .iter()
            .map(|i| {
                json!({
                    "customer": {"mobile": format!("9198200{i:05}")},
                    "linkToPartnerPrograms": [{"partnerProgramName": "FlexiPass", "customerPartnerReference": {}}]
                })
            })
            .collect();
        let r = f.org.link(json!({"linkCustomers": customers})).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let end = membership_end(&linkage_in(&t.app.state, f.org.org_id, ids[0], "FlexiPass").await);
    t.set(remind_at(end, 7, &kolkata()).unwrap() + Duration::hours(1));
    let other = t.second_state();
    let settings = SweepSettings::default();
    let (a, b) = tokio::join!(
        sweep::run(&t.app.state, &settings, SweepOptions::default()),
        sweep::run(&other, &settings, SweepOptions::default())
    );
    let sent = |s: &SweepSummary| reminder_count(s, "SUPPLEMENTARY_MEMBERSHIP_EXPIRY_REMINDER");
    assert_eq!(sent(&a) + sent(&b), n, "{a:?} {b:?}");
    let per = t.reminders_per_customer().await;
    assert_eq!(per.len() as u64, n);
    assert!(per.values().all(|c| *c == 1), "{per:?}");
    assert_eq!(t.sweep().await.changed, 0);
}

fn sweep_process(table: &str, endpoint: &str, at: DateTime<Utc>) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(debug_bin("ppsweep"));
    cmd.args(["run", "--at", &at.to_rfc3339()])
        .env("TABLE_NAME", table)
        .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        .env("LOG_LEVEL", "error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    cmd
}

#[tokio::test]
async fn a_sweep_killed_again_and_again_then_rerun_sends_each_reminder_once() {
    use rand::{Rng, SeedableRng};
    let t = ReminderApp::start().await;
    let f = fixture(&t.app).await;
    with_reminders(&f).await;
    let n = 200u64;
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(f.enrolled(&format!("9198300{i:05}")).await);
    }
    for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
        let customers: Vec<Value> = chunk
            .iter()
            .map(|i| {
                json!({
                    "customer": {"mobile": format!("9198300{i:05}")},
                    "linkToPartnerPrograms": [{"partnerProgramName": "FlexiPass", "customerPartnerReference": {}}]
                })
            })
            .collect();
        let r = f.org.link(json!({"linkCustomers": customers})).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let end = membership_end(&linkage_in(&t.app.state, f.org.org_id, ids[0], "FlexiPass").await);
    let at = remind_at(end, 7, &kolkata()).unwrap() + Duration::hours(1);

    // The sweep as its own process, DynamoDB traffic through the fault proxy, SIGKILLed at random
    // moments; then run until its backlog is gone.
    let proxy = crate::fault_proxy::FaultProxy::start(
        &TestApp::dynamodb_url(),
        crate::fault_proxy::Schedule::every_kind(0.2, 11),
    )
    .await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    for _ in 0..6 {
        let mut child = sweep_process(&t.table, &proxy.url, at).spawn().unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(rng.random_range(200..1500))).await;
        child.kill().await.unwrap();
    }
    let mut runs = 0;
    loop {
        runs += 1;
        assert!(runs <= 20, "the sweep does not converge");
        let out = sweep_process(&t.table, &proxy.url, at).output().await.unwrap();
        // The summary is pretty JSON after any log lines (as in sweep_kills).
        let text = String::from_utf8_lossy(&out.stdout);
        let Some(start) = text.rfind("\n{\n").map(|i| i + 1).or_else(|| text.starts_with("{\n").then_some(0)) else {
            continue;
        };
        let Ok(s) = serde_json::from_str::<Value>(&text[start..]) else { continue };
        if s["backlogRemaining"] == false && s["failed"] == 0 {
            break;
        }
    }
    let per = t.reminders_per_customer().await;
    println!(
        "reminder kills: 6 kills, {runs} runs to finish, {} customers reminded, faults {:?}",
        per.len(),
        proxy.injected()
    );
    assert_eq!(per.len() as u64, n, "every due reminder sent");
    assert!(per.values().all(|c| *c == 1), "no reminder sent twice: {per:?}");
    t.set(at);
    assert_eq!(t.sweep().await.changed, 0);
}

#[tokio::test]
async fn a_renewal_or_upgrade_rearms_reminders_and_the_old_date_stays_silent() {
    let t = ReminderApp::start().await;
    let f = fixture(&t.app).await;
    with_reminders(&f).await;
    let flier = f.enrolled("919840000001").await;
    let start = t.now();
    let first_expiry = start + Duration::days(40);
    link(
        &f,
        "919840000001",
        "SkyMiles",
        json!({"partnerTierName": "Gold", "partnerTierExpiryDate": iso(first_expiry)}),
    )
    .await;
    let armed = reminder_items(&t.app.state, f.org.org_id, flier).await;
    assert_eq!(armed.len(), 2);

    // Renewed to a later expiry: the old reminders are gone, the new ones armed.
    let renewed_expiry = start + Duration::days(80);
    let r = update(
        &f.org,
        "919840000001",
        "SkyMiles",
        "RENEW",
        json!({"updatedTierName": "Gold", "updatedTierExpiryDate": iso(renewed_expiry)}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rearmed = reminder_items(&t.app.state, f.org.org_id, flier).await;
    assert_eq!(rearmed.len(), 2);
    assert!(rearmed.iter().all(|i| stored_instant(i, "expiresAt") == whole_seconds(renewed_expiry)));

    // The old dates pass in silence.
    let tz = kolkata();
    for days in [30, 7] {
        t.set(remind_at(first_expiry, days, &tz).unwrap() + Duration::hours(1));
        assert_eq!(t.sweep().await.changed, 0);
    }
    assert!(t.reminder_events().await.is_empty());

    // An upgrade with a new expiry re-arms them again, with the new tier.
    let upgraded_expiry = start + Duration::days(85);
    let r = update(
        &f.org,
        "919840000001",
        "SkyMiles",
        "UPGRADE",
        json!({"updatedTierName": "Platinum", "updatedTierExpiryDate": iso(upgraded_expiry)}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    t.set(remind_at(renewed_expiry, 30, &tz).unwrap() + Duration::hours(1));
    let silent = t.sweep().await;
    assert_eq!(reminder_count(&silent, "PARTNER_TIER_EXPIRY_REMINDER"), 0, "{silent:?}");
    t.set(remind_at(upgraded_expiry, 30, &tz).unwrap() + Duration::hours(1));
    assert_eq!(t.sweep().await.changed, 1);
    let events = t.reminder_events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["data"]["scheduledExpiryDate"], day_in_kolkata(upgraded_expiry));
    assert_eq!(events[0]["data"]["partnerTierName"], "Platinum");
    assert_eq!(events[0]["data"]["partnerTierNumber"], 3);
}

#[tokio::test]
async fn a_reminder_whose_linkage_moved_on_is_dropped_without_an_event() {
    // The sweep checks, in the sending transaction, that the linkage still has the expiry the
    // reminder announces: a reminder left for an expiry the linkage no longer has (here written
    // directly, as a write racing the index would leave it) is deleted, not sent.
    let t = ReminderApp::start().await;
    let f = fixture(&t.app).await;
    with_reminders(&f).await;
    let member = f.enrolled("919850000001").await;
    link(&f, "919850000001", "FlexiPass", json!({})).await;
    let linkage_item = linkage_in(&t.app.state, f.org.org_id, member, "FlexiPass").await;
    let mut linkage: shared::domain::model::Linkage =
        shared::storage::records::from_item::<shared::storage::records::LinkageRecord>(linkage_item).unwrap().linkage;
    let real_end = linkage.membership_end_date.unwrap();
    linkage.membership_end_date = Some(real_end + Duration::days(3));
    let stale_target = shared::domain::reminders::target(&linkage).unwrap();
    let due_at = t.now() + Duration::days(1);
    let stale = shared::storage::reminder_items::ReminderRecord::new(
        &linkage,
        &stale_target,
        &shared::domain::reminders::Reminder { days_before: 7, due_at },
        t.app.state.config.due_shards,
    );
    t.app.state.store.put(shared::storage::records::to_item(&stale).unwrap()).await.unwrap();
    assert_eq!(reminder_items(&t.app.state, f.org.org_id, member).await.len(), 3);

    t.set(due_at + Duration::hours(1));
    let s = t.sweep().await;
    assert_eq!((s.changed, reminder_count(&s, "EXPIRY_REMINDER_CANCELLED")), (0, 1), "{s:?}");
    assert!(t.reminder_events().await.is_empty());
    let left = reminder_items(&t.app.state, f.org.org_id, member).await;
    assert_eq!(left.len(), 2, "the real reminders stay armed");
    assert!(left.iter().all(|i| stored_instant(i, "expiresAt") == real_end));
}

#[tokio::test]
async fn no_reminder_after_a_delink_or_a_pause() {
    let t = ReminderApp::start().await;
    let f = fixture(&t.app).await;
    with_reminders(&f).await;
    let delinked = f.enrolled("919860000001").await;
    let paused = f.enrolled("919860000002").await;
    link(&f, "919860000001", "FlexiPass", json!({})).await;
    link(&f, "919860000002", "FlexiPass", json!({})).await;
    let end = membership_end(&linkage_in(&t.app.state, f.org.org_id, delinked, "FlexiPass").await);
    let r = f
        .org
        .delink(json!({
            "deLinkCustomers": [{
                "customer": {"mobile": "919860000001"},
                "deLinkFromPartnerPrograms": [{"partnerProgramName": "FlexiPass"}]
            }]
        }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(reminder_items(&t.app.state, f.org.org_id, delinked).await.is_empty(), "the delink took them out");
    let pause_end = (t.now() + Duration::days(40)).format("%Y-%m-%d").to_string();
    let r = update(&f.org, "919860000002", "FlexiPass", "PAUSE", json!({"pauseEndDate": pause_end})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(reminder_items(&t.app.state, f.org.org_id, paused).await.is_empty(), "a paused membership has none");

    for days in [7, 1] {
        t.set(remind_at(end, days, &kolkata()).unwrap() + Duration::hours(1));
        t.sweep().await;
    }
    assert!(t.reminder_events().await.is_empty());
}

#[tokio::test]
async fn expiry_preview_lists_upcoming_reminders() {
    let t = ReminderApp::start().await;
    let f = fixture(&t.app).await;
    with_reminders(&f).await;
    let member = f.enrolled("919870000001").await;
    link(&f, "919870000001", "FlexiPass", json!({})).await;
    let end = membership_end(&linkage_in(&t.app.state, f.org.org_id, member, "FlexiPass").await);
    let seven = remind_at(end, 7, &kolkata()).unwrap();
    let one = remind_at(end, 1, &kolkata()).unwrap();
    // Every page up to `until` (a page spends a bounded number of index queries, so one may end
    // with a cursor before it found anything): the entries, and the summaries added up.
    let preview = |until: DateTime<Utc>| {
        let org = &f.org;
        async move {
            let mut data = Vec::new();
            let mut summary = json!({"linkages": 0, "reminders": 0, "actions": {}});
            let mut cursor: Option<String> = None;
            loop {
                let mut path = format!("/v2/partnerProgram/expiryPreview?until={}", iso(until).replace('+', "%2B"));
                if let Some(c) = &cursor {
                    path.push_str(&format!("&cursor={c}"));
                }
                let r = org.get(&org.admin, &path).await;
                assert_eq!(r.status, 200, "{}", r.text);
                data.extend(r.body["data"].as_array().unwrap().iter().cloned());
                for n in ["linkages", "reminders"] {
                    summary[n] = json!(summary[n].as_u64().unwrap() + r.body["summary"][n].as_u64().unwrap());
                }
                for (action, count) in r.body["summary"]["actions"].as_object().unwrap() {
                    let had = summary["actions"][action].as_u64().unwrap_or(0);
                    summary["actions"][action] = json!(had + count.as_u64().unwrap());
                }
                match r.body["pagination"]["nextCursor"].as_str() {
                    Some(c) => cursor = Some(c.to_string()),
                    None => return json!({"data": data, "summary": summary}),
                }
            }
        }
    };
    let body = preview(seven + Duration::hours(1)).await;
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{body}");
    assert_eq!(body["summary"]["reminders"], 1);
    assert_eq!(body["summary"]["linkages"], 0);
    assert_eq!(body["summary"]["actions"]["SUPPLEMENTARY_MEMBERSHIP_EXPIRY_REMINDER"], 1);
    let entry = &data[0];
    assert_eq!(entry["customerId"], member);
    assert_eq!(entry["partnerProgramName"], "FlexiPass");
    assert_eq!(entry["dueAt"], seven.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    let step = &entry["actions"][0];
    assert_eq!(step["action"], "SUPPLEMENTARY_MEMBERSHIP_EXPIRY_REMINDER");
    assert_eq!(step["eventName"], SUPPLEMENTARY_REMINDER);
    assert_eq!(step["daysBefore"], 7);
    assert_eq!(step["scheduledExpiryDate"], day_in_kolkata(end));
    // Up to the membership's end: both reminders, then the expiry itself.
    let body = preview(end + Duration::hours(1)).await;
    assert_eq!(body["summary"]["reminders"], 2, "{body}");
    assert_eq!(body["summary"]["linkages"], 1);
    let dues: Vec<&str> = body["data"].as_array().unwrap().iter().map(|e| e["dueAt"].as_str().unwrap()).collect();
    assert!(dues.contains(&one.format("%Y-%m-%dT%H:%M:%SZ").to_string().as_str()), "{dues:?}");
    // The preview did nothing: the sweep then sends the first reminder.
    t.set(seven + Duration::hours(1));
    assert_eq!(t.sweep().await.changed, 1);
    let body = preview(seven + Duration::hours(2)).await;
    assert_eq!(body["summary"]["reminders"], 0, "a sent reminder is no longer listed: {body}");
}

#[tokio::test]
async fn expiry_reminder_days_are_validated() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let path = "/v2/organization/partnerPrograms/FlexiPass";
    let base = json!({"programId": f.rewards, "partnerProgramType": "SUPPLEMENTARY", "tierBased": false,
        "membershipPeriodType": "DAYS", "membershipPeriodValue": 30});
    let cases = [
        (json!([0]), "(got 0)"),
        (json!([366]), "(got 366)"),
        (json!([-7]), "(got -7)"),
        (json!([7.5]), "(got 7.5)"),
        (json!(["7"]), "(got \"7\")"),
        (json!(7), "(got 7)"),
        (json!([7, 7]), "(7 appears twice)"),
        (json!([1, 2, 3, 4, 5, 6]), "(got 6 values)"),
    ];
    for (days, tail) in cases {
        let mut body = base.clone();
        body["expiryReminderDays"] = days.clone();
        let r = f.org.put(&f.org.admin, path, body).await;
        assert_eq!(r.status, 400, "{days}: {}", r.text);
        let message = r.body["errors"][0]["message"].as_str().unwrap_or_default().to_string();
        let text = if message.is_empty() { r.text.clone() } else { message };
        assert!(
            text.contains(
                "expiryReminderDays must be an array of at most 5 distinct whole numbers of days from 1 to 365"
            ),
            "{days}: {text}"
        );
        assert!(text.contains(tail), "{days}: {text}");
    }
    // Nothing was stored by the refused requests; a valid list is kept furthest first and shown.
    let mut body = base.clone();
    body["expiryReminderDays"] = json!([1, 365, 30]);
    let r = f.org.put(&f.org.admin, path, body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["expiryReminderDays"], json!([365, 30, 1]));
    // Without it (or null) the program reminds no one, and the field is not shown.
    let mut body = base.clone();
    body["expiryReminderDays"] = Value::Null;
    let r = f.org.put(&f.org.admin, path, body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("expiryReminderDays").is_none(), "{}", r.body);
}
