//! Lambda for `WhoAmIFunction` in template.yaml: runs
//! `shared::operations::whoami::handle`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::lambda_adapter::run_http(shared::operations::whoami::handle).await
}
