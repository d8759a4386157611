//! Lambda for `CustomerActivityHistoriesFunction` in template.yaml (both history paths); the
//! operation itself lives in `shared`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::lambda_adapter::run_http(shared::operations::customer_activity_histories::handle).await
}
