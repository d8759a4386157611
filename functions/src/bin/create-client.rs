//! Lambda for `CreateClientFunction` in template.yaml: runs
//! `shared::operations::create_client::handle`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::lambda_adapter::run_http(shared::operations::create_client::handle).await
}
