//! Sweep crash safety under faults: the sweep runs as its own process (`ppsweep run`,
//! the same code the scheduled Lambda runs) with its DynamoDB traffic through the fault proxy, and
//! is killed with SIGKILL at random moments, again and again; then runs until its backlog is gone.
//! Every due linkage must end with exactly one change: one activity and one event, no more.

use crate::fault_proxy::{FaultProxy, Schedule};
use crate::support::*;
use devtools::sweep_seed::{self, SeedSpec};
use rand::{Rng, SeedableRng};
use serde_json::Value;
use shared::state::AppState;
use shared::storage::store::Store;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

fn sweep_process(table: &str, endpoint: &str) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(debug_bin("ppsweep"));
    cmd.arg("run")
        .env("TABLE_NAME", table)
        .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        .env("LOG_LEVEL", "error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// The summary a finished run prints (pretty JSON after any log lines).
fn summary(stdout: &[u8]) -> Option<Value> {
    let text = String::from_utf8_lossy(stdout);
    let start = text.rfind("\n{\n").map(|i| i + 1).or_else(|| text.starts_with("{\n").then_some(0))?;
    serde_json::from_str(&text[start..]).ok()
}

#[tokio::test]
async fn a_sweep_killed_again_and_again_under_faults_changes_each_due_linkage_exactly_once() {
    // A table of its own: the sweep reads the whole due index.
    let client = sdk_client().await;
    let table = format!("pp-kill-{}", uuid::Uuid::new_v4().simple());
    let def = devtools::table_definition::parse(devtools::table_definition::TEMPLATE).unwrap();
    devtools::table_definition::create_table(&client, &table, &def).await.unwrap();
    let state = AppState::new(Store::new(client, table.clone()), test_config(&table), Arc::new(chrono::Utc::now));
    let spec = SeedSpec { linkages: 400, due: 150, with_profiles: true, concurrency: 4 };
    let report = sweep_seed::seed(&state, &spec, chrono::Utc::now(), &|_| {}).await.unwrap();

    let seed = 7;
    let proxy = FaultProxy::start(&TestApp::dynamodb_url(), Schedule::every_kind(0.2, seed)).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let kills = 8;
    for _ in 0..kills {
        let mut child = sweep_process(&table, &proxy.url).spawn().unwrap();
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..2500))).await;
        child.kill().await.unwrap(); // SIGKILL
    }
    // Then it runs (still under faults) until nothing is left.
    let mut runs = 0;
    loop {
        runs += 1;
        assert!(runs <= 20, "the sweep does not converge");
        let out = sweep_process(&table, &proxy.url).output().await.unwrap();
        let Some(s) = summary(&out.stdout) else {
            println!("run {runs}: no summary: {}", String::from_utf8_lossy(&out.stdout));
            continue;
        };
        println!(
            "run {runs}: changed {} skipped {} failed {} backlog {}",
            s["changed"], s["skipped"], s["failed"], s["backlogRemaining"]
        );
        if s["backlogRemaining"] == false && s["failed"] == 0 {
            break;
        }
    }

    let org = report.org_id;
    let activities = scan_entities(&state, "ACTIVITY", Some(org)).await;
    let events = scan_entities(&state, "EVENT", Some(org)).await;
    let mut changes: HashMap<String, (u32, u32)> = HashMap::new();
    for a in &activities {
        changes.entry(a["customerId"].as_n().unwrap().clone()).or_default().0 += 1;
    }
    for e in &events {
        changes.entry(e["refId"].as_s().unwrap().clone()).or_default().1 += 1;
    }
    let duplicates = changes.values().filter(|(a, e)| *a > 1 || *e > 1).count();
    let changed = changes.values().filter(|(a, e)| *a == 1 && *e == 1).count();
    println!(
        "sweep kills: {kills} kills, {runs} runs to finish, {} due linkages, {changed} changed once, {duplicates} \
         duplicates, faults injected {:?}",
        report.due,
        proxy.injected()
    );
    // Any due linkage left behind, as stored.
    let linkages = scan_entities(&state, "LINKAGE", Some(org)).await;
    let left: Vec<String> = linkages
        .iter()
        .filter(|l| !changes.contains_key(l["customerId"].as_n().unwrap()))
        .filter(|l| {
            l.get("DUE_PK")
                .and_then(|d| d.as_s().ok())
                .is_some_and(|d| d.contains(&chrono::Utc::now().format("%Y-%m-%d").to_string()))
        })
        .filter(|l| {
            l.get("DUE_SK")
                .and_then(|d| d.as_s().ok())
                .is_some_and(|d| d.as_str() < chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string().as_str())
        })
        .map(|l| {
            format!(
                "{:?} {:?} {:?} v{:?} {:?}",
                l.get("customerId"),
                l.get("DUE_PK"),
                l.get("DUE_SK"),
                l.get("version"),
                l.get("status")
            )
        })
        .collect();
    assert!(left.is_empty(), "due linkages left unchanged: {left:#?}");
    assert_eq!(duplicates, 0, "{changes:?}");
    assert_eq!(changed as u64, report.due, "every due linkage changed once: {changes:?}");
    assert_eq!(changes.len() as u64, report.due, "nothing but the due linkages changed");
    assert!(proxy.injected().values().sum::<u64>() > 0, "no fault was injected");
}
