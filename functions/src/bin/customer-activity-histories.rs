//! Lambda for `CustomerActivityHistoriesFunction` in template.yaml (both history paths); the
//! operation itself lives in `shared`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda_adapter::run_http("CustomerActivityHistoriesFunction").await
}
