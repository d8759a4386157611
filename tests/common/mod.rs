//! What both test suites (`tests/api`, `tests/runtime`) stand on, included by each as `mod common`:
//! DynamoDB Local (reached through `AWS_ENDPOINT_URL_DYNAMODB`, which `make test` sets), one table
//! per test process created from template.yaml, and the service's state over it. The loopback HTTP
//! plumbing of the test doubles is `devtools::loopback`. The partner-file tests' S3 and SQS are
//! moto's (`moto`).

#![allow(dead_code)]

pub mod moto;

use shared::config::Config;
use shared::state::AppState;
use shared::storage::store::Store;
use std::sync::{Arc, OnceLock};

/// DynamoDB Local's URL; the tests cannot run without it.
pub fn dynamodb_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_else(|_| {
        panic!(
            "AWS_ENDPOINT_URL_DYNAMODB is not set: these tests need DynamoDB Local. Run `make test` \
             (it installs and starts it), or start it yourself and export the variable."
        )
    })
}

/// A client of DynamoDB Local with the SDK's default settings (no 1 s attempt timeout: a test
/// machine busy with parallel tests would turn it into faults of its own).
pub async fn sdk_client() -> aws_sdk_dynamodb::Client {
    let _ = dynamodb_endpoint();
    let conf = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    aws_sdk_dynamodb::Client::new(&conf)
}

/// The process's table, created once from template.yaml (on its own runtime, so that no test's
/// runtime owns the connection that made it).
pub fn table_name() -> String {
    static TABLE: OnceLock<String> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            let name = format!("pp-test-{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
            let n = name.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    let def = devtools::table_definition::parse(devtools::table_definition::TEMPLATE).unwrap();
                    devtools::table_definition::create_table(&sdk_client().await, &n, &def).await.unwrap();
                });
            })
            .join()
            .unwrap();
            name
        })
        .clone()
}

/// The service's configuration for `table`, everything else at its defaults.
pub fn test_config(table: &str) -> Config {
    Config::from_lookup(|k| (k == "TABLE_NAME").then(|| table.to_string())).unwrap()
}

/// The service's state over the process's table, with the real clock.
pub async fn state() -> Arc<AppState> {
    let table = table_name();
    Arc::new(AppState::new(
        Store::new(sdk_client().await, table.clone()),
        test_config(&table),
        Arc::new(chrono::Utc::now),
    ))
}
