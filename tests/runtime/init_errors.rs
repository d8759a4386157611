//! A function that cannot initialise (no `TABLE_NAME`, an unparsable setting) tells Lambda why
//! through `/runtime/init/error` and exits, instead of polling for events it could not serve.

use crate::fixtures::{table_name, Sandbox};
use crate::template::{functions, Kind};
use std::time::Duration;

async fn expect_init_error(edit: fn(&mut std::collections::BTreeMap<String, String>), expected: &str) {
    // The console reads no settings (it serves files), so it has none to fail on.
    let all: Vec<_> = functions(&table_name()).into_iter().filter(|f| f.kind != Kind::Static).collect();
    let results = futures::future::join_all(all.iter().map(|f| async move {
        let mut sandbox = Sandbox::start_with(f, edit).await;
        let Some(report) = sandbox.api.init_error(Duration::from_secs(20)).await else {
            return Err(format!("{}: no /init/error report\n{}", f.binary, sandbox.process.logs()));
        };
        let message = report.body["errorMessage"].as_str().unwrap_or_default();
        if !message.contains(expected) || report.body["errorType"].as_str().is_none() || report.error_type.is_none() {
            return Err(format!(
                "{}: /init/error said {:?} {} (expected a message with {expected:?})",
                f.binary, report.error_type, report.body
            ));
        }
        if sandbox.process.exited(Duration::from_secs(10)).await.is_none_or(|s| s.success()) {
            return Err(format!("{}: should exit with a failure after reporting the init error", f.binary));
        }
        if sandbox.api.polled() {
            return Err(format!("{}: asked for an event although init failed", f.binary));
        }
        Ok(())
    }))
    .await;
    let failed: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_table_name_is_reported_as_an_init_error() {
    expect_init_error(|env| drop(env.remove("TABLE_NAME")), "TABLE_NAME is not set").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unparsable_setting_is_reported_as_an_init_error() {
    expect_init_error(|env| drop(env.insert("DUE_SHARDS".into(), "eight".into())), "DUE_SHARDS must be an integer")
        .await;
}
